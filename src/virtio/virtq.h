/* Split virtqueues (virtio 1.2 section 2.7): the one place where guest-supplied rings and
 * descriptors are parsed. Every descriptor address and length is checked to lie in guest RAM,
 * chains are bounded by the queue size, loops are detected, and indirect tables (2.7.5.3) are
 * followed one level deep only. Devices receive validated scatter-gather lists of host
 * pointers and never see a guest address. */
#ifndef RVISOR_VIRTIO_VIRTQ_H
#define RVISOR_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem;

#define VIRTQ_MAX_SIZE 1024 /* largest queue size rvisor offers (QueueNumMax) */
#define VIRTQ_MAX_SEGS 1024 /* segments in one request (a chain, indirect table included) */

/* Descriptor flags (2.7.5). */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
/* Ring flags and event suppression (2.7.7, 2.7.10). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

/* One queue's guest-programmed layout and the device's position in it. */
struct virtq {
	uint16_t num;            /* queue size, a power of 2 in 1..VIRTQ_MAX_SIZE (QueueNum) */
	bool ready;              /* QueueReady */
	bool event_idx;          /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;           /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint64_t desc_gpa;       /* descriptor table (16 * num bytes, 16-byte aligned) */
	uint64_t avail_gpa;      /* driver area (6 + 2 * num bytes, 2-byte aligned) */
	uint64_t used_gpa;       /* device area (6 + 8 * num bytes, 4-byte aligned) */
	uint16_t last_avail;     /* next avail ring index the device will consume */
	uint16_t used_idx;       /* next used ring index the device will fill */
	uint16_t signalled_used; /* used_idx when the driver was last interrupted (event idx) */
	bool signalled_valid;
	/* Counts the queue's resets and disablings (the transport bumps it): a request popped in
	 * an older epoch belongs to no ring any more and is never completed. */
	uint32_t epoch;
	struct guest_mem *mem;
};

/* One element of the used ring (struct virtq_used_elem, 2.7.8): the head of a returned
 * descriptor chain (id) and the bytes the device wrote into its writable segments (len). */
struct virtq_used_elem {
	uint16_t id;
	uint32_t len;
};

/* One segment of a request: host memory inside guest RAM. */
struct virtq_seg {
	void *hva;
	uint32_t len;
};

/* A popped request: the device-readable segments, then the device-writable ones. */
struct virtq_req {
	uint16_t head;  /* descriptor index to return in the used ring */
	uint32_t epoch; /* the queue's epoch when popped, to hand back when completing */
	unsigned nout, nin;
	uint64_t out_len, in_len; /* bytes in each direction */
	struct virtq_seg out[VIRTQ_MAX_SEGS];
	struct virtq_seg in[VIRTQ_MAX_SEGS];
};

/* Check the layout the driver programmed (sizes, alignment, every ring inside RAM) when it
 * sets QueueReady. Returns 0 or -EINVAL. */
int virtq_validate(const struct virtq *q);

/* Take the next available descriptor chain into req. Returns 1 if one was taken, 0 if the
 * ring is empty, or -EINVAL if the chain is malformed: an address or length outside RAM, a
 * loop or a chain longer than the queue, a readable segment after a writable one, nested or
 * misused indirect tables, an out-of-range index, or an avail index that jumped by more than
 * num. On -EINVAL the device must treat the queue as broken (set DEVICE_NEEDS_RESET). */
int virtq_pop(struct virtq *q, struct virtq_req *req);
/* virtq_pop sets req->epoch to q->epoch. */

/* Take the next available chain's head only, leaving the chain to a device that has it
 * parsed elsewhere (a vhost-user back end) or later (virtq_chain). Returns 1 with *head below
 * num, 0 if the ring is empty, or -EINVAL for an avail index that jumped by more than num or
 * a head out of range (the queue is then broken). */
int virtq_take_head(struct virtq *q, uint16_t *head);
/* Parse the chain starting at head into req, as virtq_pop does, without touching the avail
 * ring (head was taken before). Returns 0 or -EINVAL for a malformed chain. */
int virtq_chain(const struct virtq *q, uint16_t head, struct virtq_req *req);

/* Return chain head to the driver with len bytes written into its writable segments. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);
/* Return n chains at once: their used elements are written in order, then the used index
 * moves past all of them with one store, so the driver sees them together (as a received
 * packet spanning several buffers must appear, 5.1.6.4). Elements whose id is not below
 * the queue size are skipped. */
void virtq_push_batch(struct virtq *q, const struct virtq_used_elem *elems, unsigned n);

/* Whether the driver asked to be interrupted for what was pushed since the last call
 * (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with VIRTIO_F_RING_EVENT_IDX: 2.7.10). */
bool virtq_need_interrupt(struct virtq *q);

/* Copy up to len bytes from the readable segments of req, starting off bytes in, to dst.
 * Returns the bytes copied. */
uint64_t virtq_read(const struct virtq_req *req, uint64_t off, void *dst, uint64_t len);
/* Copy len bytes from src into the writable segments of req at offset off. Returns the
 * bytes copied (less than len if the segments are shorter). */
uint64_t virtq_write(const struct virtq_req *req, uint64_t off, const void *src, uint64_t len);

#endif
