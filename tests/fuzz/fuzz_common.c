/* Shared harness of the virtio device fuzzers: input parsing, the driver's side of the
 * virtio-mmio transport, and the model of split virtqueues that the checks use (see
 * fuzz_common.h for the input layout and the invariants). */
#include "fuzz_common.h"

#include <endian.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fz fz;

/* Reads of guest memory that other threads may be writing. */
static uint16_t load16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: invariant broken: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

uint16_t fz_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t fz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t fz_le64(const uint8_t *p)
{
	return fz_le32(p) | (uint64_t)fz_le32(p + 4) << 32;
}

void fz_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

uint8_t *fz_ram(uint64_t off)
{
	return fz.mem.hva + off;
}

uint8_t fz_data_byte(size_t k)
{
	return fz.data_len ? fz.data[k % fz.data_len] : 0;
}

uint32_t fz_reg_read(uint64_t off)
{
	return (uint32_t)virtio_mmio_ops.read(&fz.t, off, 4);
}

void fz_reg_write(uint64_t off, uint32_t val)
{
	virtio_mmio_ops.write(&fz.t, off, 4, val);
}

static void irq_set_level(void *opaque, unsigned num, bool level)
{
	(void)opaque;
	(void)num;
	__atomic_store_n(&fz.irq_level, level, __ATOMIC_RELAXED);
}

/* ---- input ---- */

bool fz_begin(const uint8_t *data, size_t size)
{
	if (size < FZ_HEADER)
		return false;
	if (!fz.mem.hva) {
		/* A heap block rather than guest_mem_init's mapping: AddressSanitizer's redzones
		 * catch any access running past its end. */
		fz.mem.hva = aligned_alloc(4096, FZ_RAM_SIZE);
		fz.image = malloc(FZ_RAM_SIZE);
		fz.wmap = malloc(FZ_RAM_SIZE);
		for (unsigned i = 0; i < FZ_MAX_QUEUES; i++) {
			fz.q[i].completions = malloc(VIRTQ_MAX_SIZE * sizeof(uint32_t));
			fz.q[i].chain = malloc(VIRTQ_MAX_SIZE * sizeof(struct fz_chain));
			fz.q[i].occ = malloc(VIRTQ_MAX_SIZE * sizeof(uint64_t));
			if (!fz.q[i].occ)
				abort();
		}
		if (!fz.mem.hva || !fz.image || !fz.wmap || !fz.q[0].chain || !fz.q[1].chain ||
		    !fz.q[0].completions || !fz.q[1].completions)
			abort();
		fz.mem.base = FZ_RAM_BASE;
		fz.mem.size = FZ_RAM_SIZE;
		fz.mem.fd = -1;
	}
	fz.feature_mask = fz_le64(data);
	fz.nops = data[8];
	fz.flags = data[9];
	fz.param = fz_le32(data + 12);
	size_t rest = size - FZ_HEADER;
	const uint8_t *p = data + FZ_HEADER;
	if ((size_t)fz.nops * 4 > rest)
		fz.nops = (unsigned)(rest / 4);
	fz.ops = p;
	p += fz.nops * 4;
	rest -= fz.nops * 4;
	fz.data_len = fz_le16(data + 10);
	if (fz.data_len > rest)
		fz.data_len = rest;
	fz.data = p;
	p += fz.data_len;
	rest -= fz.data_len;
	if (rest > FZ_RAM_SIZE)
		rest = FZ_RAM_SIZE;
	memset(fz.mem.hva, 0, FZ_RAM_SIZE);
	memcpy(fz.mem.hva, p, rest);

	for (unsigned i = 0; i < FZ_MAX_QUEUES; i++) {
		const uint8_t *h = data + 16 + 16 * i;
		struct fz_queue *q = &fz.q[i];
		q->num = h[0] & 0x80 ? fz_le16(h + 2) : (uint16_t)(1u << (h[0] % 11));
		q->desc = FZ_RAM_BASE + fz_le32(h + 4);
		q->avail = FZ_RAM_BASE + fz_le32(h + 8);
		q->used = FZ_RAM_BASE + fz_le32(h + 12);
	}
	fz.nsegs = 0;
	fz.stable = false;
	fz.epoch = 0;
	return true;
}

/* ---- the model of a queue ---- */

static bool in_ram(uint64_t gpa, uint64_t len)
{
	return guest_mem_ptr(&fz.mem, gpa, len) != NULL;
}

/* The layout rules virtq_validate applies (2.7: sizes and alignments; all inside RAM). */
static bool layout_ok(const struct fz_queue *q)
{
	uint16_t n = q->num;
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return false;
	if (q->desc % 16 || q->avail % 2 || q->used % 4)
		return false;
	return in_ram(q->desc, 16ull * n) && in_ram(q->avail, 6 + 2ull * n) &&
	       in_ram(q->used, 6 + 8ull * n);
}

static void add_seg(uint64_t off, uint32_t len, bool write)
{
	if (fz.nsegs == fz.segs_cap) {
		fz.segs_cap = fz.segs_cap ? 2 * fz.segs_cap : 4096;
		fz.segs = realloc(fz.segs, fz.segs_cap * sizeof(*fz.segs));
		if (!fz.segs)
			abort();
	}
	fz.segs[fz.nsegs++] = (struct fz_seg){(uint32_t)off, len, write};
}

struct walk {
	struct fz_chain *c;
	bool indirect; /* VIRTIO_F_INDIRECT_DESC negotiated */
	unsigned ndesc;
	bool seen_write;
	uint64_t itable_off, itable_len; /* the indirect table followed, if any */
};

/* The chain rules of virtq_pop (virtq.h): every buffer in RAM, writable after readable,
 * no more descriptors than the table holds, at most VIRTQ_MAX_SEGS buffers and 2^32 bytes,
 * indirect tables only from the main table, when negotiated, without NEXT. */
static bool walk_table(struct walk *w, uint64_t table, uint32_t entries, uint32_t first,
		       bool in_indirect)
{
	uint32_t i = first;
	for (uint32_t visited = 0;; visited++) {
		if (i >= entries || visited >= entries)
			return false;
		const uint8_t *d = fz_ram(table + 16ull * i);
		uint64_t addr = fz_le64(d);
		uint32_t len = fz_le32(d + 8);
		uint16_t flags = fz_le16(d + 12), next = fz_le16(d + 14);
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			if (in_indirect || !w->indirect || (flags & VIRTQ_DESC_F_NEXT))
				return false;
			if (len == 0 || len % 16 || !in_ram(addr, len))
				return false;
			w->itable_off = addr - FZ_RAM_BASE;
			w->itable_len = len;
			return walk_table(w, addr - FZ_RAM_BASE, len / 16, 0, true);
		}
		if (w->ndesc++ >= VIRTQ_MAX_SEGS)
			return false;
		bool write = flags & VIRTQ_DESC_F_WRITE;
		if (!write && w->seen_write)
			return false;
		w->seen_write |= write;
		if (w->c->out_len + w->c->in_len + len > (1ull << 32))
			return false;
		if (len) {
			if (!in_ram(addr, len))
				return false;
			add_seg(addr - FZ_RAM_BASE, len, write);
			w->c->nseg++;
			if (write)
				w->c->in_len += len;
			else
				w->c->out_len += len;
		}
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return true;
		i = next;
	}
}

static void walk_chain(unsigned qi, uint16_t head, uint64_t *itable_off, uint64_t *itable_len)
{
	struct fz_queue *q = &fz.q[qi];
	struct fz_chain *c = &q->chain[head];
	*c = (struct fz_chain){.walked = true, .first = fz.nsegs};
	struct walk w = {.c = c, .indirect = fz.accepted & (1ull << VIRTIO_F_INDIRECT_DESC)};
	c->valid = walk_table(&w, q->desc - FZ_RAM_BASE, q->num, head, false);
	*itable_off = w.itable_off;
	*itable_len = w.itable_len;
}

const struct fz_chain *fz_chain_of(unsigned qi, uint16_t head)
{
	struct fz_chain *c = &fz.q[qi].chain[head];
	if (!c->walked) {
		uint64_t o, l;
		walk_chain(qi, head, &o, &l);
	}
	return c;
}

uint64_t fz_chain_read(const struct fz_chain *c, bool write, uint64_t pos, void *dst, uint64_t len)
{
	uint64_t done = 0;
	for (uint32_t i = 0; i < c->nseg && done < len; i++) {
		const struct fz_seg *s = &fz.segs[c->first + i];
		if (s->write != write)
			continue;
		if (pos >= s->len) {
			pos -= s->len;
			continue;
		}
		uint64_t n = s->len - pos;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)dst + done, fz_ram(s->off + pos), n);
		done += n;
		pos = 0;
	}
	return done;
}

/* Head at avail ring entry k of queue q. */
static uint16_t ring_head(const struct fz_queue *q, uint64_t k)
{
	return fz_le16(fz_ram(q->avail - FZ_RAM_BASE + 4 + 2 * (k % q->num)));
}

/* Avail entries among the first published that name head (a table per head, rebuilt when
 * the driver publishes more). */
static uint64_t occurrences(struct fz_queue *q, uint16_t head)
{
	if (!q->occ_valid || q->occ_for != q->published) {
		uint64_t full = q->published / q->num, part = q->published % q->num;
		memset(q->occ, 0, q->num * sizeof(*q->occ));
		for (uint64_t s = 0; s < q->num; s++) {
			uint16_t h = ring_head(q, s);
			if (h < q->num)
				q->occ[h] += full + (s < part);
		}
		q->occ_for = q->published;
		q->occ_valid = true;
	}
	return head < q->num ? q->occ[head] : 0;
}

/* Mark [off, off + len) as device-writable; false if some byte was already. */
static bool mark_write(uint64_t off, uint64_t len)
{
	if (memchr(fz.wmap + off, 1, len))
		return false;
	memset(fz.wmap + off, 1, len);
	return true;
}

/* Whether no byte of [off, off + len) is device-writable. */
static bool read_only(uint64_t off, uint64_t len)
{
	return !memchr(fz.wmap + off, 1, len);
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Walk every chain the avail rings can name and decide whether the input is stable (see
 * fuzz_common.h); fill wmap with the bytes the device may write. */
static void build_model(void)
{
	fz.nsegs = 0;
	memset(fz.wmap, 0, FZ_RAM_SIZE);
	struct region {
		uint64_t off, len;
	} *reads = malloc(sizeof(*reads) * (2 + VIRTQ_MAX_SIZE) * FZ_MAX_QUEUES);
	if (!reads)
		abort();
	unsigned nreads = 0, avail_region[FZ_MAX_QUEUES] = {0};
	bool stable = true;

	for (unsigned qi = 0; qi < fz.nq; qi++) {
		struct fz_queue *q = &fz.q[qi];
		if (!q->ready)
			continue;
		for (unsigned h = 0; h < q->num; h++)
			q->chain[h].walked = false;
		reads[nreads++] = (struct region){q->desc - FZ_RAM_BASE, 16ull * q->num};
		avail_region[qi] = nreads;
		reads[nreads++] = (struct region){q->avail - FZ_RAM_BASE, 6 + 2ull * q->num};
		stable &= mark_write(q->used - FZ_RAM_BASE, 6 + 8ull * q->num);
		for (unsigned s = 0; s < q->num; s++) {
			uint16_t head = ring_head(q, s);
			if (head >= q->num || q->chain[head].walked)
				continue;
			uint64_t ioff, ilen;
			walk_chain(qi, head, &ioff, &ilen);
			if (ilen)
				reads[nreads++] = (struct region){ioff, ilen};
		}
	}
	/* Writable buffers of well-formed chains: the device may write them. */
	for (unsigned qi = 0; qi < fz.nq && stable; qi++) {
		struct fz_queue *q = &fz.q[qi];
		if (!q->ready)
			continue;
		for (unsigned h = 0; h < q->num && stable; h++) {
			const struct fz_chain *c = &q->chain[h];
			if (!c->walked || !c->valid)
				continue;
			for (uint32_t i = 0; i < c->nseg && stable; i++) {
				const struct fz_seg *sg = &fz.segs[c->first + i];
				if (sg->write)
					stable = mark_write(sg->off, sg->len);
			}
		}
	}
	for (unsigned i = 0; i < nreads && stable; i++)
		stable = read_only(reads[i].off, reads[i].len);
	for (unsigned i = 0; i < fz.nsegs && stable; i++)
		if (!fz.segs[i].write)
			stable = read_only(fz.segs[i].off, fz.segs[i].len);
	/* The driver writes avail idx (PUBLISH): nothing else the device reads may hold it. */
	for (unsigned qi = 0; qi < fz.nq && stable; qi++) {
		if (!fz.q[qi].ready)
			continue;
		uint64_t idx = fz.q[qi].avail - FZ_RAM_BASE + 2;
		for (unsigned i = 0; i < nreads && stable; i++)
			stable =
			    i == avail_region[qi] || !overlap(idx, 2, reads[i].off, reads[i].len);
		for (unsigned i = 0; i < fz.nsegs && stable; i++)
			stable =
			    fz.segs[i].write || !overlap(idx, 2, fz.segs[i].off, fz.segs[i].len);
	}
	free(reads);
	fz.stable = stable;
}

/* ---- the driver ---- */

static void write_gpa(uint64_t low_reg, uint64_t gpa)
{
	fz_reg_write(low_reg, (uint32_t)gpa);
	fz_reg_write(low_reg + 4, (uint32_t)(gpa >> 32));
}

static uint32_t status(void)
{
	return fz_reg_read(FZ_REG_STATUS);
}

/* Device initialisation as in 3.1.1, accepting the offered features the input allows, then
 * every queue set up as the input describes; returns with DRIVER_OK written. */
static void driver_start(void)
{
	fz_reg_write(FZ_REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	fz_reg_write(FZ_REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	fz_reg_write(FZ_REG_DEVICE_FEATURES_SEL, 0);
	uint64_t offered = fz_reg_read(FZ_REG_DEVICE_FEATURES);
	fz_reg_write(FZ_REG_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)fz_reg_read(FZ_REG_DEVICE_FEATURES) << 32;
	FZ_CHECK(offered & (1ull << VIRTIO_F_VERSION_1), "offered %#llx",
		 (unsigned long long)offered);
	fz.offered = offered;
	fz.accepted = offered & fz.feature_mask;
	fz_reg_write(FZ_REG_DRIVER_FEATURES_SEL, 0);
	fz_reg_write(FZ_REG_DRIVER_FEATURES, (uint32_t)fz.accepted);
	fz_reg_write(FZ_REG_DRIVER_FEATURES_SEL, 1);
	fz_reg_write(FZ_REG_DRIVER_FEATURES, (uint32_t)(fz.accepted >> 32));
	fz_reg_write(FZ_REG_STATUS,
		     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	fz.features_ok = status() & VIRTIO_STATUS_FEATURES_OK;
	/* 2.2.2, 6.1: a subset of the offer is accepted iff it has VIRTIO_F_VERSION_1. */
	FZ_CHECK(fz.features_ok == !!(fz.accepted & (1ull << VIRTIO_F_VERSION_1)), "accepted %#llx",
		 (unsigned long long)fz.accepted);
	fz.needs_reset = false;

	for (unsigned qi = 0; qi < fz.nq; qi++) {
		struct fz_queue *q = &fz.q[qi];
		q->layout_ok = layout_ok(q);
		/* A driver gives the device a zeroed used ring. */
		if (q->layout_ok)
			memset(fz_ram(q->used - FZ_RAM_BASE), 0, 6 + 8ull * q->num);
		fz_reg_write(FZ_REG_QUEUE_SEL, qi);
		FZ_CHECK(fz_reg_read(FZ_REG_QUEUE_NUM_MAX) >= 1, "queue %u", qi);
		fz_reg_write(FZ_REG_QUEUE_NUM, q->num);
		write_gpa(FZ_REG_QUEUE_DESC_LOW, q->desc);
		write_gpa(FZ_REG_QUEUE_DRIVER_LOW, q->avail);
		write_gpa(FZ_REG_QUEUE_DEVICE_LOW, q->used);
		fz_reg_write(FZ_REG_QUEUE_READY, 1);
		q->ready = fz_reg_read(FZ_REG_QUEUE_READY) == 1;
		/* Queues come after FEATURES_OK (3.1.1), and only inside RAM. */
		FZ_CHECK(q->ready == (fz.features_ok && q->layout_ok),
			 "queue %u ready %d, layout %d, features ok %d", qi, q->ready, q->layout_ok,
			 fz.features_ok);
		if (fz.features_ok && !q->layout_ok)
			fz.needs_reset = true;
		q->start_idx = q->layout_ok ? fz_le16(fz_ram(q->avail - FZ_RAM_BASE + 2)) : 0;
		q->published = q->start_idx;
		q->consumed = 0;
		q->used_seen = 0;
		q->lost = false;
		q->overrun = false;
		q->irq_exempt = false;
		q->occ_valid = false;
		memset(q->completions, 0, VIRTQ_MAX_SIZE * sizeof(uint32_t));
	}
}

/* The device's position in queue q's avail ring (read under the transport lock). */
static uint16_t device_last_avail(unsigned qi)
{
	pthread_mutex_lock(&fz.t.lock);
	uint16_t v = fz.t.vq[qi].last_avail;
	pthread_mutex_unlock(&fz.t.lock);
	return v;
}

/* Some queue could have made the device flag itself for reset: a malformed chain among its
 * published entries, or more entries published than the ring holds. */
static bool could_break(void)
{
	for (unsigned qi = 0; qi < fz.nq; qi++) {
		const struct fz_queue *q = &fz.q[qi];
		if (!q->ready)
			continue;
		if (q->overrun || (uint16_t)(q->published - device_last_avail(qi)) > q->num)
			return true;
		uint64_t n = q->published < q->num ? q->published : q->num;
		for (uint64_t k = 0; k < n; k++) {
			uint16_t h = ring_head(q, k);
			if (h >= q->num || !fz_chain_of(qi, h)->valid)
				return true;
		}
	}
	return false;
}

/* Learn of a DEVICE_NEEDS_RESET the model did not predict (a receive path may meet a
 * malformed chain at any time); it must have had a cause. */
static void sync_needs_reset(void)
{
	if (!fz.stable || fz.needs_reset || !(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		return;
	FZ_CHECK(could_break(), "DEVICE_NEEDS_RESET with well-formed rings");
	fz.needs_reset = true;
}

/* The device was notified of queue q (or of all ready queues, by DRIVER_OK): an eager queue
 * is consumed up to the first malformed chain. */
static void model_notify(unsigned qi)
{
	struct fz_queue *q = &fz.q[qi];
	if (!fz.stable || !q->ready || !q->eager || !fz.features_ok || fz.needs_reset)
		return;
	/* The device may have run ahead without a notification (2.7.13: notifications are
	 * hints); what it took must be well-formed. */
	int16_t d = (int16_t)(device_last_avail(qi) - (uint16_t)q->consumed);
	uint64_t ahead = d > 0 ? (uint64_t)d : 0;
	FZ_CHECK(q->consumed + ahead <= q->published, "queue %u consumed past avail idx", qi);
	for (; ahead; ahead--, q->consumed++) {
		uint16_t h = ring_head(q, q->consumed);
		FZ_CHECK(h < q->num && fz_chain_of(qi, h)->valid,
			 "queue %u took malformed entry %llu", qi, (unsigned long long)q->consumed);
	}
	/* The device sees avail idx modulo 2^16 (2.7.6). */
	uint16_t window = (uint16_t)(q->published - q->consumed);
	if (window > q->num) {
		fz.needs_reset = true; /* avail idx moved by more than the queue size */
		return;
	}
	for (; window; window--) {
		uint16_t h = ring_head(q, q->consumed);
		if (h >= q->num || !fz_chain_of(qi, h)->valid) {
			fz.needs_reset = true;
			return;
		}
		q->consumed++;
	}
}

/* With VIRTIO_F_RING_EVENT_IDX the device asks to be notified when avail idx passes
 * avail_event (2.7.10): once it has taken all it was given, avail_event must not lie ahead
 * of its position, or the driver would skip notifications for buffers it adds next. */
static void check_avail_event(unsigned qi)
{
	const struct fz_queue *q = &fz.q[qi];
	if (!(fz.accepted & (1ull << VIRTIO_F_RING_EVENT_IDX)) || fz.needs_reset)
		return;
	uint16_t event = load16(fz_ram(q->used - FZ_RAM_BASE + 4 + 8ull * q->num));
	uint16_t pos = device_last_avail(qi);
	FZ_CHECK((int16_t)(pos - event) >= 0, "queue %u: avail_event %u ahead of the device at %u",
		 qi, event, pos);
}

/* The driver moved avail idx while the device may still be taking what a notification gave
 * it (a worker thread, or a notification not waited for). The device sees avail idx
 * modulo 2^16 against its own position: if it is now more than the ring ahead, the ring is
 * broken there and the device stops where it is; if it moved back, the device takes only
 * what is still available. Either way it owes no more than that. */
static void publish_moved(unsigned qi)
{
	struct fz_queue *q = &fz.q[qi];
	if (!fz.stable || !q->ready || !q->eager)
		return;
	uint16_t pos = device_last_avail(qi);
	int16_t d = (int16_t)(pos - (uint16_t)q->consumed);
	if (d >= 0)
		return; /* the device has taken all it owes (any more is checked later) */
	uint64_t at = q->consumed - (uint64_t)-d; /* the device's position, in the model's count */
	uint16_t window = (uint16_t)(q->published - pos);
	if (window > q->num)
		q->consumed = at;
	else if (window < q->consumed - at)
		q->consumed = at + window;
}

uint64_t fz_expected_used(unsigned qi)
{
	return fz.q[qi].consumed;
}

/* Used entries the device has returned this epoch, from the used index in RAM. */
static uint64_t used_total(const struct fz_queue *q, uint64_t checked)
{
	uint16_t idx = load16(fz_ram(q->used - FZ_RAM_BASE + 2));
	return checked + (uint16_t)(idx - q->used_seen);
}

/* Used entries checked this epoch, per queue. */
static uint64_t used_checked[FZ_MAX_QUEUES];

void fz_wait_used(unsigned qi, unsigned timeout_ms)
{
	struct fz_queue *q = &fz.q[qi];
	if (!fz.stable || !q->ready || !q->eager)
		return;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned spins = 0;;) {
		bool nr = !fz.needs_reset || (status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
		if (nr && used_total(q, used_checked[qi]) >= q->consumed) {
			check_avail_event(qi);
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		FZ_CHECK(ms < (long)timeout_ms,
			 "queue %u: %llu of %llu requests returned after %u ms (needs reset: %d)",
			 qi, (unsigned long long)used_total(q, used_checked[qi]),
			 (unsigned long long)q->consumed, timeout_ms, fz.needs_reset);
		/* Yield first (the worker may be waiting for this CPU), then sleep. */
		if (++spins < 200) {
			sched_yield();
		} else {
			struct timespec nap = {0, 50000};
			nanosleep(&nap, NULL);
		}
	}
}

/* Used entries [from, to) were added: whether the driver asked to be interrupted for them
 * (2.7.7.2: avail flags without VIRTQ_AVAIL_F_NO_INTERRUPT; with VIRTIO_F_RING_EVENT_IDX an
 * entry placed at index used_event). Entries the last acknowledgement may have raced with
 * are left out. */
static bool must_interrupt(unsigned qi, uint16_t from, uint16_t to)
{
	struct fz_queue *q = &fz.q[qi];
	uint16_t n = (uint16_t)(to - from), ex = 0;
	if (q->irq_exempt) {
		ex = (uint16_t)(q->irq_exempt_to - from);
		if (ex > n)
			ex = n;
		q->irq_exempt = false;
	}
	uint16_t start = (uint16_t)(from + ex);
	if (start == to)
		return false;
	const uint8_t *avail = fz_ram(q->avail - FZ_RAM_BASE);
	if (fz.accepted & (1ull << VIRTIO_F_RING_EVENT_IDX)) {
		uint16_t used_event = fz_le16(avail + 4 + 2ull * q->num);
		return (uint16_t)(used_event - start) < (uint16_t)(to - start);
	}
	return !(fz_le16(avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

void fz_check_used(const struct fz_target *tg)
{
	if (!fz.stable)
		return;
	bool must = false;
	uint16_t seen[FZ_MAX_QUEUES] = {0};
	for (unsigned qi = 0; qi < fz.nq; qi++) {
		struct fz_queue *q = &fz.q[qi];
		if (!q->ready)
			continue;
		const uint8_t *used = fz_ram(q->used - FZ_RAM_BASE);
		uint16_t idx = load16(used + 2);
		seen[qi] = idx;
		uint16_t n = (uint16_t)(idx - q->used_seen);
		if (!n)
			continue;
		uint16_t from = q->used_seen;
		if (n > q->num) {
			/* Overwritten before they could be read: a driver that never took its
			 * used entries. Counting per head is no longer possible. */
			q->lost = true;
			from = (uint16_t)(idx - q->num);
		}
		used_checked[qi] += n;
		must |= must_interrupt(qi, q->used_seen, idx);
		if (q->eager)
			FZ_CHECK(used_checked[qi] <= q->published,
				 "queue %u: %llu used entries for %llu available", qi,
				 (unsigned long long)used_checked[qi],
				 (unsigned long long)q->published);
		for (uint16_t k = from; k != idx; k++) {
			const uint8_t *e = used + 4 + 8ull * (k % q->num);
			uint32_t id = fz_le32(e), len = fz_le32(e + 4);
			FZ_CHECK(id < q->num, "queue %u used id %u", qi, id);
			const struct fz_chain *c = fz_chain_of(qi, (uint16_t)id);
			FZ_CHECK(c->valid, "queue %u returned malformed chain %u", qi, id);
			FZ_CHECK(len <= c->in_len, "queue %u head %u: used len %u > %llu writable",
				 qi, id, len, (unsigned long long)c->in_len);
			if (!q->lost) {
				q->completions[id]++;
				FZ_CHECK(q->completions[id] <= occurrences(q, (uint16_t)id),
					 "queue %u head %u returned %u times, available %llu", qi,
					 id, q->completions[id],
					 (unsigned long long)occurrences(q, (uint16_t)id));
			}
			if (tg->used)
				tg->used(tg->opaque, qi, (uint16_t)id, len, c);
		}
		q->used_seen = idx;
	}
	FZ_CHECK(!must || (fz_reg_read(FZ_REG_INTERRUPT_STATUS) & VIRTIO_INT_VRING),
		 "used entries added without the interrupt the driver asked for");
	/* Acknowledge, as a driver does, so that every interrupt asked for is seen. Entries a
	 * worker thread adds meanwhile may have had theirs taken by the acknowledgement. */
	fz_reg_write(FZ_REG_INTERRUPT_ACK, VIRTIO_INT_VRING);
	for (unsigned qi = 0; qi < fz.nq; qi++) {
		struct fz_queue *q = &fz.q[qi];
		if (!q->ready)
			continue;
		uint16_t now = load16(fz_ram(q->used - FZ_RAM_BASE + 2));
		if (now != seen[qi]) {
			q->irq_exempt = true;
			q->irq_exempt_to = now;
		}
	}
	if (tg->settled)
		tg->settled(tg->opaque);
}

void fz_attach(const struct virtio_dev *dev, unsigned eager)
{
	fz.dev = *dev;
	fz.nq = dev->num_queues < FZ_MAX_QUEUES ? dev->num_queues : FZ_MAX_QUEUES;
	struct irq_line irq = {.set = irq_set_level};
	fz.irq_level = false;
	if (virtio_mmio_init(&fz.t, dev, &fz.mem, irq))
		abort();
	for (unsigned qi = 0; qi < FZ_MAX_QUEUES; qi++) {
		fz.q[qi].eager = eager & (1u << qi);
		fz.q[qi].ready = false;
		used_checked[qi] = 0;
	}
	driver_start();
	build_model();
	memcpy(fz.image, fz.mem.hva, FZ_RAM_SIZE);
	/* DRIVER_OK was a notification of every ready queue. */
	fz_reg_write(FZ_REG_STATUS, status() | VIRTIO_STATUS_DRIVER_OK);
	FZ_CHECK(!fz.features_ok || (status() & VIRTIO_STATUS_DRIVER_OK), "DRIVER_OK refused");
	FZ_CHECK(!!(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET) >= fz.needs_reset,
		 "a queue outside RAM was accepted");
	/* A receive queue served first may have broken the device already. */
	sync_needs_reset();
	for (unsigned qi = 0; qi < fz.nq; qi++)
		model_notify(qi);
}

bool fz_head_reused(unsigned qi, uint16_t head)
{
	return occurrences(&fz.q[qi], head) > 1;
}

bool fz_quiescent(unsigned qi)
{
	const struct fz_queue *q = &fz.q[qi];
	if (!q->ready)
		return true;
	return load16(fz_ram(q->used - FZ_RAM_BASE + 2)) == device_last_avail(qi);
}

static void do_reset(const struct fz_target *tg)
{
	fz_check_used(tg);
	if (tg->reset)
		tg->reset(tg->opaque);
	fz_reg_write(FZ_REG_STATUS, 0);
	FZ_CHECK(status() == 0, "status after reset");
	FZ_CHECK(fz_reg_read(FZ_REG_INTERRUPT_STATUS) == 0, "interrupt status after reset");
	for (unsigned qi = 0; qi < fz.nq; qi++) {
		fz_reg_write(FZ_REG_QUEUE_SEL, qi);
		FZ_CHECK(fz_reg_read(FZ_REG_QUEUE_READY) == 0, "queue %u ready after reset", qi);
		used_checked[qi] = 0;
	}
	fz.epoch++;
	driver_start();
	fz_reg_write(FZ_REG_STATUS, status() | VIRTIO_STATUS_DRIVER_OK);
	/* A receive queue served first may have broken the device already. */
	sync_needs_reset();
	for (unsigned qi = 0; qi < fz.nq; qi++)
		model_notify(qi);
}

void fz_run(const struct fz_target *tg)
{
	bool trace = getenv("FUZZ_VERBOSE") != NULL;
	for (unsigned i = 0; i < fz.nops && i < FZ_MAX_OPS; i++) {
		const uint8_t *op = fz.ops + 4 * i;
		uint8_t code = (uint8_t)(op[0] % tg->nops), a = op[1];
		uint16_t b = fz_le16(op + 2);
		if (trace)
			fprintf(stderr, "op %u: code %u a %#x b %u; status %#x", i, code, a, b,
				status());
		for (unsigned qi = 0; trace && qi < fz.nq; qi++)
			fprintf(stderr, "; q%u published %llu consumed %llu used %llu", qi,
				(unsigned long long)fz.q[qi].published,
				(unsigned long long)fz.q[qi].consumed,
				(unsigned long long)used_checked[qi]);
		if (trace)
			fputc('\n', stderr);
		switch (code) {
		case FZ_OP_NOTIFY: {
			unsigned qi = (a & 0x7f) % fz.nq;
			sync_needs_reset();
			model_notify(qi);
			fz_reg_write(FZ_REG_QUEUE_NOTIFY, qi);
			if (!(a & 0x80))
				fz_wait_used(qi, 10000);
			break;
		}
		case FZ_OP_PUBLISH: {
			struct fz_queue *q = &fz.q[a % fz.nq];
			if (!q->layout_ok)
				break;
			uint8_t *idx = fz_ram(q->avail - FZ_RAM_BASE + 2);
			__atomic_store_n((uint16_t *)idx, htole16((uint16_t)(load16(idx) + b)),
					 __ATOMIC_RELEASE);
			q->published += b;
			/* The device may take a look at any time (and stop), even if a later
			 * publish brings avail idx back within reach. */
			if (q->ready &&
			    (uint16_t)(q->published - device_last_avail(a % fz.nq)) > q->num)
				q->overrun = true;
			publish_moved(a % fz.nq);
			break;
		}
		case FZ_OP_RESET: do_reset(tg); break;
		case FZ_OP_CONFIG: {
			unsigned size = 1u << (a & 3);
			uint32_t off = (b % 64) & ~(size - 1);
			if (a & 0x80)
				virtio_mmio_ops.write(&fz.t, FZ_REG_CONFIG + off, size, fz.param);
			else if (off + size > fz.dev.config_size)
				FZ_CHECK(virtio_mmio_ops.read(&fz.t, FZ_REG_CONFIG + off, size) ==
					     0,
					 "config read past its end at %u", off);
			else
				virtio_mmio_ops.read(&fz.t, FZ_REG_CONFIG + off, size);
			if (tg->op)
				tg->op(tg->opaque, code, a, b);
			break;
		}
		default:
			if (tg->op)
				tg->op(tg->opaque, code, a, b);
			break;
		}
		fz_check_used(tg);
	}
	/* The end: a driver waits for what it submitted. */
	sync_needs_reset();
	for (unsigned qi = 0; qi < fz.nq; qi++)
		fz_wait_used(qi, 10000);
	fz_check_used(tg);
}

void fz_finish(const struct fz_target *tg)
{
	fz_check_used(tg);
	if (getenv("FUZZ_VERBOSE")) {
		fprintf(stderr, "stable %d, features %#llx, status %#x, epochs %u", fz.stable,
			(unsigned long long)fz.accepted, status(), fz.epoch + 1);
		for (unsigned qi = 0; qi < fz.nq; qi++)
			fprintf(stderr, "; queue %u: ready %d, published %llu, used %llu%s", qi,
				fz.q[qi].ready, (unsigned long long)fz.q[qi].published,
				(unsigned long long)used_checked[qi],
				fz.q[qi].lost ? " (lost)" : "");
		fputc('\n', stderr);
	}
	if (!fz.stable)
		return;
	/* Nothing but writable buffers, used rings and the driver's avail indexes changed. */
	for (unsigned qi = 0; qi < fz.nq; qi++) {
		const struct fz_queue *q = &fz.q[qi];
		if (q->layout_ok)
			memcpy(fz.image + (q->avail - FZ_RAM_BASE) + 2,
			       fz_ram(q->avail - FZ_RAM_BASE + 2), 2);
	}
	for (uint64_t c = 0; c < FZ_RAM_SIZE; c += 4096) {
		if (!memcmp(fz.mem.hva + c, fz.image + c, 4096))
			continue;
		for (uint64_t i = c; i < c + 4096; i++)
			FZ_CHECK(fz.wmap[i] || fz.mem.hva[i] == fz.image[i],
				 "RAM offset %#llx changed (%#x -> %#x) outside writable buffers",
				 (unsigned long long)i, fz.image[i], fz.mem.hva[i]);
	}
}

void fz_detach(void)
{
	virtio_mmio_destroy(&fz.t);
}
