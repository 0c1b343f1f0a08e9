/* Split virtqueues (virtio 1.2 section 2.7): the device side of the descriptor table, the
 * available ring and the used ring, with event suppression (2.7.7, 2.7.10). All ring memory is
 * guest RAM the driver may rewrite at any moment, so each field is fetched once into a local
 * and checked before use; nothing here trusts a value the guest wrote. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "mem/guest_mem.h"
#include "virtio/virtq.h"

/* Wire layout of one descriptor (2.7.5); fields are little-endian. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

#define VIRTQ_DESC_SIZE 16u
/* Offsets inside the driver area (struct virtq_avail, 2.7.6) and device area (struct
 * virtq_used, 2.7.8). */
#define VIRTQ_AVAIL_FLAGS 0u
#define VIRTQ_AVAIL_IDX   2u
#define VIRTQ_AVAIL_RING  4u
#define VIRTQ_USED_IDX    2u
#define VIRTQ_USED_RING   4u
#define VIRTQ_USED_ELEM   8u
/* Drivers MUST NOT add a chain longer than 2^32 bytes in total (2.7.5). */
#define VIRTQ_MAX_CHAIN_LEN (1ull << 32)

/* Where a chain walk stands: the request being filled and what was seen so far. */
struct virtq_walk {
	const struct virtq *q;
	struct virtq_req *req;
	unsigned ndesc;  /* buffer descriptors in this request, from any table */
	bool seen_write; /* a device-writable descriptor came already */
};

static uint64_t desc_bytes(uint16_t num)
{
	return (uint64_t)VIRTQ_DESC_SIZE * num;
}

static uint64_t avail_bytes(uint16_t num)
{
	return 6 + 2 * (uint64_t)num;
}

static uint64_t used_bytes(uint16_t num)
{
	return 6 + (uint64_t)VIRTQ_USED_ELEM * num;
}

int virtq_validate(const struct virtq *q)
{
	uint16_t num = q->num;
	/* Split queue sizes are powers of 2 (2.7); alignments are from the table in 2.7. */
	if (!q->mem || num == 0 || num > VIRTQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
		return -EINVAL;
	if (!guest_mem_ptr(q->mem, q->desc_gpa, desc_bytes(num)) ||
	    !guest_mem_ptr(q->mem, q->avail_gpa, avail_bytes(num)) ||
	    !guest_mem_ptr(q->mem, q->used_gpa, used_bytes(num)))
		return -EINVAL;
	return 0;
}

/* 16-bit ring fields are 2-byte aligned (the areas' alignments guarantee it); they are read
 * and written atomically because the driver's vCPU changes them concurrently. */
static uint16_t load16(const uint8_t *p, int order)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, order));
}

static void store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)p, htole16(v), order);
}

static void store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

/* Fetch descriptor i of a table once into host order. */
static struct virtq_desc load_desc(const uint8_t *table, uint32_t i)
{
	struct virtq_desc d;
	memcpy(&d, table + (uint64_t)i * VIRTQ_DESC_SIZE, sizeof(d));
	d.addr = le64toh(d.addr);
	d.len = le32toh(d.len);
	d.flags = le16toh(d.flags);
	d.next = le16toh(d.next);
	return d;
}

/* Append one buffer to the request. Device-writable buffers must come after all
 * device-readable ones (2.7.4). Empty buffers are checked for order but carry no segment. */
static int add_buffer(struct virtq_walk *w, const struct virtq_desc *d)
{
	struct virtq_req *req = w->req;
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	if (!write && w->seen_write)
		return -EINVAL;
	w->seen_write |= write;
	if (req->out_len + req->in_len + d->len > VIRTQ_MAX_CHAIN_LEN)
		return -EINVAL;
	if (d->len == 0)
		return 0;
	void *hva = guest_mem_ptr(w->q->mem, d->addr, d->len);
	if (!hva)
		return -EINVAL;
	/* ndesc <= VIRTQ_MAX_SEGS bounds nout + nin, so the arrays cannot overflow. */
	if (write) {
		atomic_fetch_add_explicit(&w->q->mem->dma_writes, 1, memory_order_relaxed);
		guest_mem_mark_dirty(w->q->mem, d->addr, d->len);
		req->in[req->nin++] = (struct virtq_seg){hva, d->len};
		req->in_len += d->len;
	} else {
		req->out[req->nout++] = (struct virtq_seg){hva, d->len};
		req->out_len += d->len;
	}
	return 0;
}

static int walk_chain(struct virtq_walk *w, const uint8_t *table, uint32_t entries, uint16_t first,
		      bool in_indirect);

/* Follow a descriptor that refers to an indirect table (2.7.5.3): only from the main table,
 * only when negotiated, never with NEXT, and the table a whole number of descriptors in RAM.
 * The chain inside starts at entry 0. The descriptor's own WRITE flag is ignored, as the
 * device must. */
static int follow_indirect(struct virtq_walk *w, const struct virtq_desc *d, bool in_indirect)
{
	if (in_indirect || !w->q->indirect || (d->flags & VIRTQ_DESC_F_NEXT))
		return -EINVAL;
	if (d->len == 0 || d->len % VIRTQ_DESC_SIZE)
		return -EINVAL;
	const uint8_t *table = guest_mem_ptr(w->q->mem, d->addr, d->len);
	if (!table)
		return -EINVAL;
	return walk_chain(w, table, d->len / VIRTQ_DESC_SIZE, 0, true);
}

/* Walk the chain that starts at entry first of a table of entries descriptors (the main table,
 * or an indirect one). A chain holds each entry at most once, so visiting more than entries
 * descriptors means a loop, or a chain longer than the queue. The request as a whole holds
 * at most VIRTQ_MAX_SEGS buffers (the descriptor pointing at a table is not one). */
static int walk_chain(struct virtq_walk *w, const uint8_t *table, uint32_t entries, uint16_t first,
		      bool in_indirect)
{
	uint32_t i = first;
	for (uint32_t visited = 0;; visited++) {
		if (i >= entries || visited >= entries)
			return -EINVAL;
		struct virtq_desc d = load_desc(table, i);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return follow_indirect(w, &d, in_indirect);
		if (w->ndesc++ >= VIRTQ_MAX_SEGS)
			return -EINVAL;
		int rc = add_buffer(w, &d);
		if (rc)
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

/* With VIRTIO_F_RING_EVENT_IDX, tell the driver to notify once it makes avail idx pass
 * last_avail (2.7.10: avail_event). */
static void set_avail_event(const struct virtq *q, uint8_t *used)
{
	if (q->event_idx) {
		guest_mem_mark_dirty(
		    q->mem, q->used_gpa + VIRTQ_USED_RING + (uint64_t)VIRTQ_USED_ELEM * q->num, 2);
		store16(used + VIRTQ_USED_RING + (uint64_t)VIRTQ_USED_ELEM * q->num, q->last_avail,
			__ATOMIC_RELAXED);
	}
}

/* The head of the next available chain, without walking it: 1 and *head (below num), 0 if
 * the ring is empty, -EINVAL for an avail index that jumped by more than num or a head out of
 * range. Does not consume it. */
static int next_head(struct virtq *q, uint16_t *head)
{
	if (virtq_validate(q))
		return -EINVAL;
	const uint8_t *avail = guest_mem_ptr(q->mem, q->avail_gpa, avail_bytes(q->num));
	uint8_t *used = guest_mem_ptr(q->mem, q->used_gpa, used_bytes(q->num));

	/* Acquire pairs with the driver's barrier before its idx update (2.7.13): ring entries
	 * and descriptors read below are at least as new as idx. */
	uint16_t avail_idx = load16(avail + VIRTQ_AVAIL_IDX, __ATOMIC_ACQUIRE);
	if (avail_idx == q->last_avail) {
		if (!q->event_idx)
			return 0;
		/* Publish avail_event, then look again: a driver that added a buffer before seeing
		 * the new avail_event may have skipped its notification (2.7.13.4). */
		set_avail_event(q, used);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = load16(avail + VIRTQ_AVAIL_IDX, __ATOMIC_ACQUIRE);
		if (avail_idx == q->last_avail)
			return 0;
	}
	/* idx only grows, by at most num buffers beyond what the device consumed (2.7.6). */
	if ((uint16_t)(avail_idx - q->last_avail) > q->num)
		return -EINVAL;
	uint16_t slot = q->last_avail & (q->num - 1);
	*head = load16(avail + VIRTQ_AVAIL_RING + 2u * slot, __ATOMIC_RELAXED);
	return *head < q->num ? 1 : -EINVAL;
}

/* The next available chain has been taken: move past it. */
static void consume(struct virtq *q)
{
	q->last_avail++;
	set_avail_event(q, guest_mem_ptr(q->mem, q->used_gpa, used_bytes(q->num)));
}

int virtq_chain(const struct virtq *q, uint16_t head, struct virtq_req *req)
{
	if (virtq_validate(q))
		return -EINVAL;
	const uint8_t *desc = guest_mem_ptr(q->mem, q->desc_gpa, desc_bytes(q->num));
	req->head = head;
	req->epoch = q->epoch;
	req->nout = req->nin = 0;
	req->out_len = req->in_len = 0;
	struct virtq_walk w = {.q = q, .req = req};
	return walk_chain(&w, desc, q->num, head, false);
}

int virtq_pop(struct virtq *q, struct virtq_req *req)
{
	uint16_t head;
	int rc = next_head(q, &head);
	if (rc <= 0)
		return rc;
	rc = virtq_chain(q, head, req);
	if (rc)
		return rc;
	consume(q);
	return 1;
}

int virtq_take_head(struct virtq *q, uint16_t *head)
{
	int rc = next_head(q, head);
	if (rc == 1)
		consume(q);
	return rc;
}

/* With the dirty log on: the pages the device may have written for these completions (their
 * chains' device-writable buffers, walked again, and the used ring) are marked, since the
 * device may have written them after a take of the log that followed their pop. A driver
 * that rewrote a chain it had made available only loses its own pages' marks. */
static void mark_completed(const struct virtq *q, const struct virtq_used_elem *elems, unsigned n)
{
	static _Thread_local struct virtq_req scratch;
	guest_mem_mark_dirty(q->mem, q->used_gpa, used_bytes(q->num));
	for (unsigned i = 0; i < n; i++) {
		if (elems[i].id >= q->num)
			continue;
		/* Walking marks every device-writable buffer (add_buffer). */
		(void)virtq_chain(q, (uint16_t)elems[i].id, &scratch);
	}
}

void virtq_push_batch(struct virtq *q, const struct virtq_used_elem *elems, unsigned n)
{
	if (virtq_validate(q))
		return;
	uint8_t *used = guest_mem_ptr(q->mem, q->used_gpa, used_bytes(q->num));
	uint16_t idx = q->used_idx;
	if (q->mem->dirty)
		mark_completed(q, elems, n);
	for (unsigned i = 0; i < n; i++) {
		if (elems[i].id >= q->num)
			continue;
		uint8_t *elem =
		    used + VIRTQ_USED_RING + (uint64_t)VIRTQ_USED_ELEM * (idx & (q->num - 1));
		store32(elem, elems[i].id);
		store32(elem + 4, elems[i].len);
		idx++;
	}
	if (idx == q->used_idx)
		return;
	q->used_idx = idx;
	/* Release: the elements are visible before the idx that hands them over (2.7.8). */
	store16(used + VIRTQ_USED_IDX, q->used_idx, __ATOMIC_RELEASE);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	const struct virtq_used_elem e = {.id = head, .len = len};
	virtq_push_batch(q, &e, 1);
}

bool virtq_need_interrupt(struct virtq *q)
{
	if (virtq_validate(q))
		return false;
	const uint8_t *avail = guest_mem_ptr(q->mem, q->avail_gpa, avail_bytes(q->num));
	/* Our used idx store must be ordered before reading the driver's flags or used_event,
	 * or a driver re-enabling interrupts could be missed (2.7.7). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	uint16_t old = q->signalled_used, new = q->used_idx;
	bool valid = q->signalled_valid;
	q->signalled_used = new;
	q->signalled_valid = true;
	if (valid && old == new)
		return false;
	if (!q->event_idx)
		return !(load16(avail + VIRTQ_AVAIL_FLAGS, __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	uint16_t used_event =
	    load16(avail + VIRTQ_AVAIL_RING + 2u * (uint64_t)q->num, __ATOMIC_RELAXED);
	/* 2.7.7.2 (vring_need_event): notify if entry used_event lies in [old, new). */
	return (uint16_t)(new - used_event - 1) < (uint16_t)(new - old);
}

uint64_t virtq_read(const struct virtq_req *req, uint64_t off, void *dst, uint64_t len)
{
	uint64_t done = 0;
	for (unsigned i = 0; i < req->nout && i < VIRTQ_MAX_SEGS && done < len; i++) {
		const struct virtq_seg *s = &req->out[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint64_t n = s->len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)dst + done, (const uint8_t *)s->hva + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t virtq_write(const struct virtq_req *req, uint64_t off, const void *src, uint64_t len)
{
	uint64_t done = 0;
	for (unsigned i = 0; i < req->nin && i < VIRTQ_MAX_SEGS && done < len; i++) {
		const struct virtq_seg *s = &req->in[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint64_t n = s->len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)s->hva + off, (const uint8_t *)src + done, n);
		done += n;
		off = 0;
	}
	return done;
}
