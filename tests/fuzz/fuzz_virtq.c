/* libFuzzer target for the split virtqueue parser (virtio 1.2 section 2.7): the input is a
 * small header of queue parameters followed by the contents of guest RAM, where the driver's
 * rings and buffers live. The device pops, reads, writes and pushes until the ring runs dry or
 * turns out malformed, and every request it is handed is checked to lie inside RAM.
 *
 * Input layout (little-endian):
 *   0  u8  log2 of the queue size (taken modulo 11, so 1..1024); with bit 7 set, the size is
 *          the raw u16 at 20 instead, valid or not
 *   1  u8  bit 0 VIRTIO_F_RING_EVENT_IDX, bit 1 VIRTIO_F_INDIRECT_DESC
 *   2  u16 last_avail at start      4  u16 used_idx at start
 *   6  u8  most requests to pop     7  u8  unused
 *   8  u32 descriptor table offset in RAM   12 u32 driver area   16 u32 device area
 *   20 u16 raw queue size, u16 unused   24 u32 virtq_read offset  28 u32 virtq_write offset
 *   32 ... RAM image (the rest of RAM is zero) */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem/guest_mem.h"
#include "virtio/virtq.h"

#define RAM_BASE    0x80000000ull
#define RAM_SIZE    0x10000ull /* 64 KiB */
#define HEADER_SIZE 32u
#define SCRATCH     4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* State kept across runs: RAM is a heap block rather than guest_mem_init's mapping, so that
 * AddressSanitizer's redzones catch any access running past its end. */
static struct {
	struct guest_mem mem;
	struct virtq_req req;
	uint8_t scratch[SCRATCH];
} fz;

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return le16toh(v);
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

/* A segment the parser hands out must lie wholly in RAM. */
static void check_seg(const struct virtq_seg *s)
{
	const uint8_t *p = s->hva, *ram = fz.mem.hva;
	if (s->len == 0 || p < ram || (uint64_t)(p - ram) > RAM_SIZE - s->len)
		abort();
}

static void check_req(const struct virtq_req *req, uint16_t num)
{
	if (req->head >= num || req->nout > VIRTQ_MAX_SEGS || req->nin > VIRTQ_MAX_SEGS ||
	    req->nout + req->nin > VIRTQ_MAX_SEGS)
		abort();
	uint64_t out = 0, in = 0;
	for (unsigned i = 0; i < req->nout; i++) {
		check_seg(&req->out[i]);
		out += req->out[i].len;
	}
	for (unsigned i = 0; i < req->nin; i++) {
		check_seg(&req->in[i]);
		in += req->in[i].len;
	}
	if (out != req->out_len || in != req->in_len || out + in > (1ull << 32))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER_SIZE)
		return 0;
	if (!fz.mem.hva) {
		fz.mem.hva = aligned_alloc(4096, RAM_SIZE);
		if (!fz.mem.hva)
			abort();
		fz.mem.base = RAM_BASE;
		fz.mem.size = RAM_SIZE;
		fz.mem.fd = -1;
	}
	size_t image = size - HEADER_SIZE;
	if (image > RAM_SIZE)
		image = RAM_SIZE;
	memset(fz.mem.hva, 0, RAM_SIZE);
	memcpy(fz.mem.hva, data + HEADER_SIZE, image);

	struct virtq q = {
	    .num = data[0] & 0x80 ? rd16(data + 20) : (uint16_t)(1u << (data[0] % 11)),
	    .ready = true,
	    .event_idx = data[1] & 1,
	    .indirect = data[1] & 2,
	    .desc_gpa = RAM_BASE + rd32(data + 8),
	    .avail_gpa = RAM_BASE + rd32(data + 12),
	    .used_gpa = RAM_BASE + rd32(data + 16),
	    .last_avail = rd16(data + 2),
	    .used_idx = rd16(data + 4),
	    .mem = &fz.mem,
	};
	unsigned max_pops = data[6];
	uint32_t read_off = rd32(data + 24), write_off = rd32(data + 28);

	bool valid = virtq_validate(&q) == 0;
	if (!valid) {
		/* Nothing may touch a queue with a bad layout; these must return quietly. */
		virtq_push(&q, 0, 1);
		if (virtq_need_interrupt(&q))
			abort();
	}
	for (unsigned n = 0; n < max_pops; n++) {
		int rc = virtq_pop(&q, &fz.req);
		/* A queue with an invalid layout never yields a request. */
		if (!valid && rc != -EINVAL)
			abort();
		if (rc < 0)
			break;
		if (rc == 0) {
			virtq_need_interrupt(&q);
			break;
		}
		check_req(&fz.req, q.num);
		uint64_t got = virtq_read(&fz.req, read_off, fz.scratch, SCRATCH);
		if (got > SCRATCH || got > fz.req.out_len)
			abort();
		uint64_t want = fz.req.in_len < SCRATCH ? fz.req.in_len : SCRATCH;
		uint64_t put = virtq_write(&fz.req, write_off, fz.scratch, want);
		if (put > want)
			abort();
		virtq_push(&q, fz.req.head, (uint32_t)put);
		virtq_need_interrupt(&q);
	}
	return 0;
}
