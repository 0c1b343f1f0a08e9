/* virtio-rng, the entropy device (virtio 1.2 section 5.4): one request queue whose
 * device-writable buffers are filled from the host's getrandom(2). */
#ifndef RVISOR_VIRTIO_RNG_H
#define RVISOR_VIRTIO_RNG_H

#include <pthread.h>

#include "virtio/virtq.h"

struct state_in;
struct state_out;
struct virtio_dev;
struct virtio_transport;

#define VIRTIO_ID_ENTROPY 4 /* 5.4.1 */

/* Bytes of random data given per request at most (5.4.6.1 lets the device use less than the
 * whole buffer), so that one notification cannot keep a vCPU thread busy for long. */
#define VIRTIO_RNG_MAX_BYTES (64 * 1024)

/* The device has no state of its own beyond the request being served. */
struct virtio_rng {
	struct virtq_req req;       /* scratch for the request being served */
	pthread_mutex_t lock;       /* guards req and t: several vCPUs may notify at once */
	struct virtio_transport *t; /* known from the first notification (for snapshots) */
	/* Non-zero: the state of a xorshift64* generator that supplies the bytes instead of
	 * getrandom(2), for a reproducible run (vm_config.deterministic). Not entropy. */
	uint64_t prng;
};

/* Set up the device and fill dev for a transport's init (virtio_mmio_init, virtio_pci_init): no
 * feature bits, no configuration space, one queue served on the notifying vCPU thread. Returns 0 or
 * -errno. */
int virtio_rng_init(struct virtio_rng *r, struct virtio_dev *dev);
/* Release what virtio_rng_init set up. */
void virtio_rng_destroy(struct virtio_rng *r);

/* Snapshots (see transport.h). Section "virtio-rng", version 1: u64 the deterministic
 * generator's state (0 when the bytes come from getrandom); the load checks that both VMs
 * agree on which. Requests complete within their notification: none is ever in flight. */
void virtio_rng_state_save(struct virtio_rng *r, struct state_out *o);
int virtio_rng_state_load(struct virtio_rng *r, struct state_in *in);

#endif
