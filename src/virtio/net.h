/* virtio-net (virtio 1.2 section 5.1): an Ethernet card on a host network backend
 * (host/net.h). One receiveq/transmitq pair; every packet carries the 12-byte struct
 * virtio_net_hdr of VIRTIO_F_VERSION_1. Transmission runs on the notifying vCPU thread;
 * reception runs on the backend's thread, into buffers the driver posted. */
#ifndef RVISOR_VIRTIO_NET_H
#define RVISOR_VIRTIO_NET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/rate_limiter.h"
#include "virtio/virtq.h"

struct net_backend;
struct state_in;
struct state_out;
struct virtio_dev;
struct virtio_transport;

#define VIRTIO_ID_NET 1 /* 5.1.1 */

/* Queues (5.1.2). */
#define VIRTIO_NET_RECEIVEQ  0
#define VIRTIO_NET_TRANSMITQ 1

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM       0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU        3
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16

/* virtio_net_config.status (5.1.4). */
#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_hdr (5.1.6): flags and gso_type values. */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE     0
#define VIRTIO_NET_HDR_GSO_ECN      0x80
/* Bytes of struct virtio_net_hdr with VIRTIO_F_VERSION_1: num_buffers is always present. */
#define VIRTIO_NET_HDR_SIZE 12

/* Bytes of configuration space: mac, status, max_virtqueue_pairs and mtu (5.1.4). */
#define VIRTIO_NET_CONFIG_SIZE 12

/* Receive buffers taken from the receiveq and held for the next frame: a frame spans at
 * most this many (num_buffers), and buffers the last frame did not fill wait here. */
#define VIRTIO_NET_RX_HELD 64
/* Writable segments of one receive buffer that are used; a longer chain's tail is left
 * unwritten, which the used length tells the driver. Linux, without MRG_RXBUF and with a
 * large MTU, posts a header, a page tail and up to MAX_SKB_FRAGS (17) pages per buffer. */
#define VIRTIO_NET_RX_SEGS 20

/* A receive buffer taken from the ring but not yet returned. */
struct virtio_net_rxbuf {
	uint16_t head;
	uint32_t epoch; /* the receiveq's epoch when taken (struct virtq_req) */
	unsigned nseg;
	uint64_t cap; /* bytes in seg[] */
	struct virtq_seg seg[VIRTIO_NET_RX_SEGS];
};

/* Packet counters, updated atomically: read them with __atomic_load_n from any thread. */
struct virtio_net_stats {
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_errors;  /* malformed requests, frames over the MTU: dropped, returned */
	uint64_t tx_dropped; /* well-formed frames the backend refused */
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_dropped; /* frames with too little room posted, or over the MTU */
	uint64_t rx_errors;  /* receive buffers smaller than a header, returned unused */
	uint64_t rx_throttled, tx_throttled; /* times a rate limiter made a frame wait */
};

struct virtio_net {
	struct net_backend *backend;            /* not owned */
	uint8_t config[VIRTIO_NET_CONFIG_SIZE]; /* little-endian, constant after init */
	unsigned mtu; /* config mtu: the backend's, NET_MTU_MIN..NET_MTU_MAX */

	/* The transport, known from the first notification (a driver notifies the receiveq
	 * after posting buffers, 5.1.6.3); frames that come before are dropped. */
	struct virtio_transport *t;
	/* The transport as its snapshot section was loaded (virtio_transport_state_load), for the
	 * card's own section: t is set only once that is loaded too, so that no frame pops a
	 * receive buffer in between. Used by the loading thread alone. */
	struct virtio_transport *restore_t;
	/* Bumped by reset (which runs under the transport lock and so takes no lock of ours):
	 * buffers held from an older epoch belong to no ring any more. */
	uint64_t epoch;

	pthread_mutex_t rx_lock; /* guards the fields below up to tx_lock */
	uint64_t rx_epoch;       /* epoch the held buffers were taken in */
	unsigned nheld;
	struct virtio_net_rxbuf held[VIRTIO_NET_RX_HELD];
	struct virtq_req rx_req; /* scratch for popping */
	bool rx_paused;          /* the VM is paused: frames wait */
	pthread_cond_t rx_resumed;

	pthread_mutex_t tx_lock; /* guards the fields below: several vCPUs may notify */
	struct virtq_req tx_req;
	bool tx_held;           /* tx_req was taken but waits for the rate limiter */
	bool tx_paused;         /* the VM is paused: nothing is taken from the ring */
	uint64_t tx_held_epoch; /* epoch it was taken in */
	uint8_t *tx_frame;      /* NET_FRAME_MAX bytes */

	/* Rate limiters (Firecracker's, per direction), under limit_lock; a transmit that has
	 * to wait is retried by tx_thread at tx_retry_ns (CLOCK_MONOTONIC), asleep until then. */
	pthread_mutex_t limit_lock;
	pthread_cond_t limit_cond;
	struct rate_limiter rx_limiter, tx_limiter;
	bool rx_limited, tx_limited;
	pthread_t tx_thread;
	bool tx_thread_up, tx_stop;
	uint64_t tx_retry_ns; /* 0: no retry due */

	struct virtio_net_stats stats;
};

/* Limit the card's receive and transmit traffic to rx and tx (Firecracker's rate limiters;
 * empty configurations remove a limit), from now on, with full buckets. A frame to the guest
 * that has to wait holds up the backend's thread, asleep; one from the guest stays in its
 * ring until a thread of the card's retries it. Returns 0 or -errno. */
int virtio_net_set_rate_limiters(struct virtio_net *n, const struct rate_limiter_config *rx,
				 const struct rate_limiter_config *tx);

/* Pause (true) or resume the card's own work: paused, frames from the backend wait (its
 * thread with them) and no thread takes the guest's transmissions; returns once the frame
 * being delivered or sent is done. Resuming sends what waits in the transmit ring. */
void virtio_net_set_paused(struct virtio_net *n, bool paused);

/* For a snapshot of the paused VM (after virtio_net_set_paused(n, true)): send the transmit
 * request held back by the rate limiter and every one still in the transmit ring, now and
 * without waiting for the limiter, and complete them, so that none is in flight (their frames
 * go to the backend before its state is saved). Receive buffers stay held: the snapshot
 * keeps them (virtio_net_state_save). */
void virtio_net_quiesce(struct virtio_net *n);
/* With rx_lock held: keep the receive buffer req (popped, or re-parsed from a snapshot) in
 * held[nheld] for the next frame. Returns false, holding nothing, when held is full or the
 * buffer has room for less than a header. */
bool virtio_net_hold_rx(struct virtio_net *n, const struct virtq_req *req);
/* Snapshots (see transport.h). Section "virtio-net", version 1: the MAC (6 bytes), u16 MTU,
 * u16 count of receive buffers held, and each one's u16 chain head, oldest first. Held buffers
 * are saved as heads rather than given back by moving last_avail back: a buffer too small for
 * a header is returned as soon as it is popped, so the held ones are not always the last ones
 * popped. The load takes the MAC (the guest has read it; one not given in the configuration
 * is random per process), checks the MTU against the backend's, and takes each head again
 * from the receive queue (its chain parsed as virtio_chain does, with room for a header; a
 * head given twice is refused, as it would be completed twice).
 * Saving fails the stream if a transmit request is in flight (virtio_net_quiesce was not
 * called). The backend's own state is not here. */
void virtio_net_state_save(struct virtio_net *n, struct state_out *o);
int virtio_net_state_load(struct virtio_net *n, struct state_in *in);

/* Set up a card on backend (opened by the caller, who closes it after virtio_net_destroy)
 * and fill dev for a transport's init (virtio_mmio_init, virtio_pci_init). mac is the card's
 * address; NULL gives a random locally administered unicast one, 52:54:00:xx:xx:xx, different for
 * every VM. Offers VIRTIO_NET_F_MAC, F_STATUS (link always up), F_MRG_RXBUF, F_CSUM (the device
 * completes partial checksums on transmit), F_GUEST_CSUM (the device checks TCP and UDP checksums
 * on receive and says so with VIRTIO_NET_HDR_F_DATA_VALID) and F_MTU with the backend's
 * MTU (net_backend.mtu) in config.mtu; no segmentation offloads.
 * Attaches to the backend. Returns 0, -ENOMEM or the -errno of pthread_mutex_init.
 *
 * Frame sizes (5.1.4.1, 5.1.4.2). A driver that negotiates F_MTU must not send frames
 * longer than mtu plus the Ethernet header (14 bytes, 18 with a VLAN tag): longer ones are
 * dropped and counted in tx_errors. Frames from the backend longer than that are dropped
 * (rx_dropped) and never reach such a driver. A driver that does not negotiate F_MTU
 * sends and receives frames up to NET_FRAME_MAX bytes, as before F_MTU existed; the
 * backend still works at its own MTU, which is no trouble for TCP (slirp sends segments
 * no larger than the MSS the guest's stack announced from its own MTU), while a larger
 * frame from the backend reaches the driver only if it posted room for it (with
 * F_MRG_RXBUF it always can), and is dropped and counted in rx_dropped otherwise. */
int virtio_net_init(struct virtio_net *n, struct net_backend *backend, const uint8_t mac[6],
		    struct virtio_dev *dev);
/* Detach from the backend (no frame is received after this) and free everything. Call with
 * the vCPUs stopped, before the transport is destroyed. */
void virtio_net_destroy(struct virtio_net *n);
#endif
