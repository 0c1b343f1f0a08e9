/* Parsing of device options given on the command line, e.g. --drive, into the plain structs
 * a VM configuration holds. Errors name the option and the fix. */
#ifndef RVISOR_VMM_CONFIG_H
#define RVISOR_VMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/net_slirp.h"
#include "host/rate_limiter.h"

#define VM_MAX_DRIVES 8
#define DRIVE_ID_MAX  20 /* bytes of a virtio-blk serial (GET_ID) */

/* How the guest reaches a virtio device: the VM's default (--transport), a virtio-mmio
 * slot, or a function on the PCI bus (virtio-pci). */
enum vm_transport { VM_TRANSPORT_DEFAULT, VM_TRANSPORT_MMIO, VM_TRANSPORT_PCI };

/* Parse "mmio" or "pci" into *t. Returns 0 or -EINVAL. */
int config_parse_transport(const char *text, enum vm_transport *t);

/* A virtio-blk disk: --drive path=FILE[,readonly=on|off][,id=NAME][,lock=off]
 * [,transport=mmio|pci][,format=raw]. */
struct vm_drive {
	const char *path; /* image file or host block device (points into the option text) */
	bool readonly;
	/* Take QEMU-compatible image locks (blk_file_lock), so that no two VMs write one disk;
	 * lock=off clears it, for cluster file systems whose users coordinate themselves. */
	bool lock;
	char id[DRIVE_ID_MAX + 1]; /* serial reported to the guest; "" when not given */
	enum vm_transport transport;
	struct rate_limiter_config limiter; /* none unless the API set one */
	/* format=raw: the image is raw even if its first sector looks like another format's
	 * header (rvisor otherwise refuses such an image, naming its format). */
	bool format_raw;
};

/* Parse the text of one --drive option into *d. spec is modified in place (split at commas)
 * and must outlive *d. Returns 0, or -EINVAL with one sentence in err (errlen bytes). */
int config_parse_drive(char *spec, struct vm_drive *d, char *err, size_t errlen);

enum vm_net_type { VM_NET_USER, VM_NET_TAP };

/* A virtio-net card: --net user[,hostfwd=RULE]...[,restrict=on][,mac=MAC] or
 * --net tap=IFNAME[,mac=MAC]; either with [,transport=mmio|pci]. */
struct vm_net {
	enum vm_net_type type;
	char tap[16]; /* TAP interface name (IFNAMSIZ) */
	bool has_mac;
	uint8_t mac[6];
	struct net_slirp_config slirp; /* user networking: forwarding rules, restriction */
	enum vm_transport transport;
	struct rate_limiter_config rx_limiter, tx_limiter; /* none unless the API set them */
};

/* Parse the text of one --net option into *n. Returns 0, or -EINVAL with one sentence in
 * err (errlen bytes). spec is modified in place. */
int config_parse_net(char *spec, struct vm_net *n, char *err, size_t errlen);

/* A host directory shared through virtio-fs: --fs tag=NAME,socket=PATH[,transport=mmio|pci],
 * served by the vhost-user daemon listening on socket (virtiofsd). */
struct vm_fs {
	const char *tag;             /* what the guest mounts (points into the option text) */
	const char *socket;          /* the daemon's Unix socket */
	enum vm_transport transport; /* default: PCI, where the stock kernel needs no module */
};

/* Parse the text of one --fs option into *f. Returns 0, or -EINVAL with one sentence in err
 * (errlen bytes). spec is modified in place and must outlive *f. */
int config_parse_fs(char *spec, struct vm_fs *f, char *err, size_t errlen);

#endif
