/* virtio-vsock (virtio 1.2 section 5.10) with Firecracker's hybrid host side: the guest's
 * AF_VSOCK stream connections to the host (CID 2) port P become connections to the Unix
 * socket "UDS_PATH_P"; a host program that connects to the Unix socket UDS_PATH and writes
 * "CONNECT P\n" reaches the guest's port P, and reads "OK HOSTPORT\n" once the guest accepted.
 * One thread serves every connection (poll), the rings and the guest's credit; guest packets
 * are checked field by field and a misbehaving connection is reset, never trusted. */
#ifndef RVISOR_VIRTIO_VSOCK_H
#define RVISOR_VIRTIO_VSOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"

struct state_out;
struct virtio_dev;
struct virtio_transport;

#define VIRTIO_ID_VSOCK   19 /* 5.10.1 */
#define VSOCK_HOST_CID    2
#define VSOCK_MAX_CONNS   64
#define VSOCK_BUF_ALLOC   (64 * 1024) /* bytes of guest data rvisor buffers per connection */
#define VSOCK_MAX_PENDING 256         /* control packets waiting for a receive buffer */
#define VSOCK_Q_RX        0           /* the receive, transmit and event queues (5.10.2) */
#define VSOCK_Q_TX        1
#define VSOCK_Q_EVENT     2

struct vsock_conn;

struct virtio_vsock {
	uint64_t guest_cid;
	char uds_path[108];
	int listen_fd; /* the host programs' socket (UDS_PATH) */
	int wake_fd;   /* eventfd: the guest notified, or the device is stopping */
	pthread_t thread;
	bool thread_up;
	_Atomic bool stop, reset;
	_Atomic bool paused;      /* the VM is paused: the thread only waits for a wake-up */
	pthread_mutex_t run_lock; /* held by the thread while it works */
	_Atomic(struct virtio_transport *) t; /* known from the first notification */
	/* Thread-only state. */
	struct vsock_conn *conns;  /* VSOCK_MAX_CONNS */
	uint32_t next_port;        /* host-side ports given to host-initiated connections */
	struct vsock_pkt *pending; /* VSOCK_MAX_PENDING control packets, a ring */
	unsigned pend_head, pend_count;
	struct virtq_req req;   /* scratch for transmit requests */
	struct virtq_req spare; /* a receive buffer taken but not used yet */
	uint8_t *bounce;        /* host data on its way to a receive buffer */
	bool have_spare;
	uint64_t connections; /* connections made, both ways (for metrics and tests) */
	/* A VIRTIO_VSOCK_EVENT_TRANSPORT_RESET to deliver on the event queue (after a restore:
	 * the guest's connections to host programs are gone). */
	_Atomic bool event_reset;
	struct virtio_transport *restore_t; /* the transport a snapshot was loaded into */
};

/* Listen on uds_path (it must not exist) for host programs and fill dev for a transport's
 * init: device ID 19, guest_cid (3 or more) in the configuration space. Starts the thread.
 * Returns 0, or -errno with one sentence in err naming the path. */
int virtio_vsock_init(struct virtio_vsock *v, uint64_t guest_cid, const char *uds_path,
		      struct virtio_dev *dev, char *err, size_t errlen);
/* Pause (true) or resume the device's thread: paused, it moves no data either way and
 * accepts no connection (host programs' data waits in their sockets); returns once the
 * work in progress is done. */
void virtio_vsock_set_paused(struct virtio_vsock *v, bool paused);
/* A migration hands the host side to the VM's new process: with release, the listening
 * socket is closed and its path removed (so the destination, on this host too, can listen
 * there), the connections staying as they are; without, the listener is made again at the
 * same path. Only while the device is paused (virtio_vsock_set_paused). Returns 0, or -errno
 * with one sentence in err (the path was taken meanwhile). */
int virtio_vsock_hand_over(struct virtio_vsock *v, bool release, char *err, size_t errlen);
/* Stop the thread, close every connection and the listening socket (removing its path).
 * Call before the transport is destroyed. */
void virtio_vsock_destroy(struct virtio_vsock *v);
struct state_in;
/* Snapshots (see transport.h), as Firecracker does them: the device is saved (its guest CID
 * and the receive buffer it holds), its connections to host programs are not. The paused
 * device's section "virtio-vsock"; a restored device tells the guest's driver with a
 * TRANSPORT_RESET event (5.10.6.7) that every connection is gone, once the driver has an
 * event buffer. The host programs of the saved VM keep theirs until it ends. Load returns 0
 * or -EINVAL with the stream failed (a CID other than this device's, a held buffer that does
 * not fit the queue). */
void virtio_vsock_state_save(struct virtio_vsock *v, struct state_out *o);
int virtio_vsock_state_load(struct virtio_vsock *v, struct state_in *in);

#endif
