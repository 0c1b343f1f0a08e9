/* The front-end side of the vhost-user protocol (QEMU's docs/interop/vhost-user.rst): a
 * virtio device whose virtqueues a separate back-end process serves, reading and writing
 * guest RAM itself through the memory table rvisor hands it (the RAM's memfd), woken by a
 * "kick" eventfd per queue and waking rvisor through a "call" eventfd. Generic: virtio-fs uses
 * it, vhost-user-blk and -net could. Messages are synchronous, one at a time under a lock,
 * with a timeout, so that a stuck back end makes requests fail instead of hanging a vCPU. */
#ifndef RVISOR_VIRTIO_VHOST_USER_H
#define RVISOR_VIRTIO_VHOST_USER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Feature bit the back end offers when it speaks the protocol feature negotiation. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* One connection to a back end. */
struct vhost_user {
	int sock;             /* connected Unix stream socket, or -1 */
	pthread_mutex_t lock; /* one request and its reply at a time */
	uint64_t features;    /* the back end's virtio feature bits (GET_FEATURES) */
	bool protocol;        /* VHOST_USER_F_PROTOCOL_FEATURES offered, so negotiated */
	bool broken;          /* a request failed or timed out: the back end is gone */
};

/* A ring for vhost_user_start_vring: its size and where its three parts are in this
 * process (host virtual addresses inside the memory table's region). */
struct vhost_user_vring {
	unsigned index;
	unsigned num;
	uint64_t desc, avail, used;
	int kick_fd, call_fd; /* eventfds: rvisor -> back end, back end -> rvisor */
};

/* One region of the memory table: size bytes at guest-physical gpa, mapped here at hva, shared
 * through the file descriptor fd (from offset 0). */
struct vhost_user_region {
	uint64_t gpa, size;
	void *hva;
	int fd;
};

#define VHOST_USER_MAX_REGIONS 8

/* Connect to the back end listening on the Unix socket path and do the set-up every device
 * needs: SET_OWNER, GET_FEATURES, the protocol feature negotiation (none are asked for), and
 * SET_MEM_TABLE with the n (1 to VHOST_USER_MAX_REGIONS) regions, guest RAM first, so that
 * the back end maps the same pages. Returns 0, or -errno with one sentence in err naming the
 * socket and the fix. */
int vhost_user_connect(struct vhost_user *vu, const char *path,
		       const struct vhost_user_region *regions, unsigned n, char *err,
		       size_t errlen);
/* The feature bits the driver accepted (SET_FEATURES; the protocol bit is added when
 * negotiated). Returns 0 or -errno (then vu->broken is set). */
int vhost_user_set_features(struct vhost_user *vu, uint64_t features);
/* Hand ring r to the back end, starting at index 0 (SET_VRING_NUM, _BASE, _ADDR, _KICK,
 * _CALL, then _ENABLE with protocol features). Returns 0 or -errno. */
int vhost_user_start_vring(struct vhost_user *vu, const struct vhost_user_vring *r);
/* Stop ring index (GET_VRING_BASE, which the back end answers once it stopped using it).
 * Returns 0 or -errno. */
int vhost_user_stop_vring(struct vhost_user *vu, unsigned index);
/* Close the connection. Safe on a zeroed or closed struct with sock set to -1. */
void vhost_user_close(struct vhost_user *vu);

#endif
