/* Network backend: the host side of a virtio-net device (user-mode networking with libslirp,
 * or a TAP interface). The device reaches the network only through this small table and
 * never touches a host fd. Frames are whole Ethernet frames, from the destination MAC
 * address on, without any virtio header and without the frame check sequence. */
#ifndef RVISOR_HOST_NET_H
#define RVISOR_HOST_NET_H

#include <stddef.h>

/* Bytes in a frame at most: an Ethernet header with one VLAN tag (18) and the largest IP
 * packet (65535). Longer frames are dropped in both directions. */
#define NET_FRAME_MAX (18 + 65535)
/* Bytes of an Ethernet header: destination, source, EtherType. Shorter frames are dropped. */
#define NET_ETH_HLEN 14
/* Bytes an 802.1Q VLAN tag adds to the Ethernet header (EtherType 0x8100 and the tag). */
#define NET_VLAN_HLEN 4

/* A link's MTU: bytes of IP packet one frame carries, the Ethernet header not counted.
 * 68 is the least IPv4 allows (RFC 791), 65535 the largest IP packet; 1500 is Ethernet's. */
#define NET_MTU_MIN     68
#define NET_MTU_MAX     65535
#define NET_MTU_DEFAULT 1500

/* Called by a backend with one frame of len bytes (NET_ETH_HLEN..NET_FRAME_MAX) for the
 * guest. Runs on the backend's thread, or on the thread inside send when a backend answers
 * at once (neither slirp nor TAP does); calls are never concurrent. Must not block:
 * a frame the guest has no room for is dropped. Must not call send or attach. */
typedef void (*net_receive_fn)(void *opaque, const void *frame, size_t len);

/* A backend runs its own I/O thread (a poll loop on its fds), started when it is opened and
 * stopped by close. */
struct net_backend {
	/* Send one frame of len bytes to the network. Never blocks for long: a frame the host
	 * cannot take now is dropped. Thread-safe. Returns 0, or -errno when the frame was
	 * dropped (-EMSGSIZE for a length outside NET_ETH_HLEN..NET_FRAME_MAX). */
	int (*send)(struct net_backend *nb, const void *frame, size_t len);
	/* Deliver frames for the guest to receive(opaque, ...) from now on; receive NULL
	 * detaches. When it returns, no call to the previous receive runs or will start.
	 * Frames that arrive while detached are dropped. */
	void (*attach)(struct net_backend *nb, net_receive_fn receive, void *opaque);
	/* Stop the I/O thread, close the host fds and free the backend. */
	void (*close)(struct net_backend *nb);
	/* The link's MTU (NET_MTU_MIN..NET_MTU_MAX), set at open and constant after: the
	 * largest IP packet the backend carries in one frame either way. A device tells the
	 * driver (virtio-net: VIRTIO_NET_F_MTU); a value outside the range is taken as
	 * NET_MTU_DEFAULT. */
	unsigned mtu;
};

#endif
