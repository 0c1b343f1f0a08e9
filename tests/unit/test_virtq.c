/* Unit tests of the split virtqueue (virtio 1.2 section 2.7) with rings built in real guest
 * RAM: layout validation, well-formed chains (direct, indirect, mixed), every kind of malformed
 * chain a hostile driver can build, index wrap-around, used ring updates and event
 * suppression (2.7.7, 2.7.10). */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mem/guest_mem.h"
#include "virtio/virtq.h"

#define RAM_BASE  0x80000000ull
#define RAM_SIZE  0x100000ull /* 1 MiB */
#define RAM_END   (RAM_BASE + RAM_SIZE)
#define DESC_GPA  (RAM_BASE + 0x0000)
#define AVAIL_GPA (RAM_BASE + 0x4000)
#define USED_GPA  (RAM_BASE + 0x5000)
#define TABLE_GPA (RAM_BASE + 0x8000) /* indirect tables */
#define DATA_GPA  (RAM_BASE + 0x10000)
#define NUM       16

struct fixture {
	struct guest_mem mem;
	struct virtq q;
	uint16_t avail_idx; /* the driver's next avail idx */
	struct virtq_req req;
};

static uint8_t *host(struct fixture *f, uint64_t gpa)
{
	uint8_t *p = guest_mem_ptr(&f->mem, gpa, 1);
	assert_non_null(p);
	return p;
}

static void put16(struct fixture *f, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(host(f, gpa), &v, 2);
}

static uint16_t get16(struct fixture *f, uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, host(f, gpa), 2);
	return le16toh(v);
}

static uint32_t get32(struct fixture *f, uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, host(f, gpa), 4);
	return le32toh(v);
}

/* Write descriptor i of the table at table_gpa, little-endian as 2.7.5 lays it out. */
static void set_desc(struct fixture *f, uint64_t table_gpa, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *d = host(f, table_gpa + 16ull * i);
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t fl = htole16(flags), n = htole16(next);
	memcpy(d, &a, 8);
	memcpy(d + 8, &l, 4);
	memcpy(d + 12, &fl, 2);
	memcpy(d + 14, &n, 2);
}

/* Make head available, as a driver does: ring entry, then idx. */
static void make_avail(struct fixture *f, uint16_t head)
{
	put16(f, AVAIL_GPA + 4 + 2ull * (f->avail_idx % f->q.num), head);
	f->avail_idx++;
	put16(f, AVAIL_GPA + 2, f->avail_idx);
}

static uint16_t used_idx(struct fixture *f)
{
	return get16(f, USED_GPA + 2);
}

static void used_elem(struct fixture *f, unsigned slot, uint32_t *id, uint32_t *len)
{
	*id = get32(f, USED_GPA + 4 + 8ull * slot);
	*len = get32(f, USED_GPA + 8 + 8ull * slot);
}

static void set_used_event(struct fixture *f, uint16_t v)
{
	put16(f, AVAIL_GPA + 4 + 2ull * f->q.num, v);
}

static uint16_t avail_event(struct fixture *f)
{
	return get16(f, USED_GPA + 4 + 8ull * f->q.num);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	f->q = (struct virtq){
	    .num = NUM,
	    .ready = true,
	    .indirect = true,
	    .desc_gpa = DESC_GPA,
	    .avail_gpa = AVAIL_GPA,
	    .used_gpa = USED_GPA,
	    .mem = &f->mem,
	};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static int pop(struct fixture *f)
{
	return virtq_pop(&f->q, &f->req);
}

/* Make a one-descriptor chain head and expect virtq_pop to refuse it. */
static void expect_bad_single(struct fixture *f, uint64_t addr, uint32_t len, uint16_t flags)
{
	set_desc(f, DESC_GPA, 0, addr, len, flags, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);
}

static void test_validate_layout(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(virtq_validate(&f->q), 0);

	static const uint16_t bad_num[] = {0, 3, 12, 2 * VIRTQ_MAX_SIZE, 0xffff};
	for (unsigned i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++) {
		struct virtq q = f->q;
		q.num = bad_num[i];
		assert_int_equal(virtq_validate(&q), -EINVAL);
	}
	struct virtq q = f->q;
	q.num = VIRTQ_MAX_SIZE;
	assert_int_equal(virtq_validate(&q), 0);
	q.num = 1;
	assert_int_equal(virtq_validate(&q), 0);

	/* Alignments: descriptors 16, driver area 2, device area 4 (2.7). */
	q = f->q;
	q.desc_gpa += 8;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q = f->q;
	q.avail_gpa += 1;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q = f->q;
	q.used_gpa += 2;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q = f->q;
	q.avail_gpa += 2;
	q.used_gpa += 4;
	assert_int_equal(virtq_validate(&q), 0);

	/* Each area wholly inside RAM, its last byte included. */
	q = f->q;
	q.desc_gpa = RAM_END - 16 * NUM;
	assert_int_equal(virtq_validate(&q), 0);
	q.desc_gpa = RAM_END - 16 * NUM + 16;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q = f->q;
	q.avail_gpa = RAM_END - (6 + 2 * NUM);
	assert_int_equal(virtq_validate(&q), 0);
	q.avail_gpa += 2;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q = f->q;
	q.used_gpa = RAM_END - (6 + 8 * NUM) - 2; /* 4-aligned */
	assert_int_equal(virtq_validate(&q), 0);
	q.used_gpa += 4;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q = f->q;
	q.used_gpa = RAM_BASE - 0x1000;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q = f->q;
	q.desc_gpa = UINT64_MAX - 15;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q = f->q;
	q.mem = NULL;
	assert_int_equal(virtq_validate(&q), -EINVAL);

	/* A queue with a bad layout is never parsed. */
	q = f->q;
	q.num = 3;
	assert_int_equal(virtq_pop(&q, &f->req), -EINVAL);
}

static void test_empty(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pop(f), 0);
	assert_int_equal(f->q.last_avail, 0);
}

static void test_direct_chain(void **state)
{
	struct fixture *f = *state;
	/* 0 (readable, 16) -> 5 (readable, 100) -> 2 (writable, 1) */
	set_desc(f, DESC_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 5);
	set_desc(f, DESC_GPA, 5, DATA_GPA + 0x100, 100, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, DESC_GPA, 2, DATA_GPA + 0x200, 1, VIRTQ_DESC_F_WRITE, 7);
	make_avail(f, 0);

	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.head, 0);
	assert_int_equal(f->req.nout, 2);
	assert_int_equal(f->req.nin, 1);
	assert_int_equal(f->req.out_len, 116);
	assert_int_equal(f->req.in_len, 1);
	assert_ptr_equal(f->req.out[0].hva, host(f, DATA_GPA));
	assert_int_equal(f->req.out[0].len, 16);
	assert_ptr_equal(f->req.out[1].hva, host(f, DATA_GPA + 0x100));
	assert_int_equal(f->req.out[1].len, 100);
	assert_ptr_equal(f->req.in[0].hva, host(f, DATA_GPA + 0x200));
	assert_int_equal(f->req.in[0].len, 1);
	assert_int_equal(f->q.last_avail, 1);
	assert_int_equal(pop(f), 0);

	/* Two chains available at once are taken in ring order. */
	set_desc(f, DESC_GPA, 9, DATA_GPA, 8, 0, 0);
	make_avail(f, 9);
	make_avail(f, 5);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.head, 9);
	assert_int_equal(f->req.nout, 1);
	assert_int_equal(f->req.nin, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.head, 5);
	assert_int_equal(f->req.nout, 1);
	assert_int_equal(f->req.nin, 1);
	assert_int_equal(pop(f), 0);
}

static void test_chain_whole_ram(void **state)
{
	struct fixture *f = *state;
	/* Buffers touching the first and the last byte of RAM are fine. */
	set_desc(f, DESC_GPA, 0, RAM_BASE, 1, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, RAM_END - 4096, 4096, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_ptr_equal(f->req.in[0].hva, host(f, RAM_END - 4096));
	assert_int_equal(f->req.in_len, 4096);
}

static void test_zero_length(void **state)
{
	struct fixture *f = *state;
	/* An empty buffer carries no segment, wherever its address points. */
	set_desc(f, DESC_GPA, 0, 0, 0, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, DATA_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.nout, 0);
	assert_int_equal(f->req.nin, 1);
	assert_int_equal(f->req.in_len, 4);
}

static void test_indirect_chain(void **state)
{
	struct fixture *f = *state;
	/* Main descriptor 3 -> table of 4: 0 (r) -> 2 (r) -> 1 (w) -> 3 (w). The WRITE flag on
	 * the descriptor pointing at the table is ignored (2.7.5.3.2). */
	set_desc(f, DESC_GPA, 3, TABLE_GPA, 4 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	set_desc(f, TABLE_GPA, 0, DATA_GPA, 10, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, TABLE_GPA, 2, DATA_GPA + 0x100, 20, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, TABLE_GPA, 1, DATA_GPA + 0x200, 30, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
	set_desc(f, TABLE_GPA, 3, DATA_GPA + 0x300, 40, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 3);

	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.head, 3);
	assert_int_equal(f->req.nout, 2);
	assert_int_equal(f->req.nin, 2);
	assert_int_equal(f->req.out_len, 30);
	assert_int_equal(f->req.in_len, 70);
	assert_ptr_equal(f->req.out[1].hva, host(f, DATA_GPA + 0x100));
	assert_ptr_equal(f->req.in[0].hva, host(f, DATA_GPA + 0x200));
	assert_ptr_equal(f->req.in[1].hva, host(f, DATA_GPA + 0x300));
	assert_int_equal(f->q.last_avail, 1);
}

static void test_direct_then_indirect(void **state)
{
	struct fixture *f = *state;
	/* Normal descriptors followed by one indirect descriptor: valid (2.7.5.3.2). */
	set_desc(f, DESC_GPA, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(f, TABLE_GPA, 0, DATA_GPA + 0x100, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, TABLE_GPA, 1, DATA_GPA + 0x200, 8, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.nout, 2);
	assert_int_equal(f->req.nin, 1);
	assert_ptr_equal(f->req.out[1].hva, host(f, DATA_GPA + 0x100));

	/* A writable direct buffer before a table with readable ones breaks the order. */
	set_desc(f, DESC_GPA, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fixture *f = *state;
	f->q.indirect = false;
	set_desc(f, TABLE_GPA, 0, DATA_GPA, 8, 0, 0);
	expect_bad_single(f, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT);
	/* The queue did not move past the bad chain. */
	assert_int_equal(f->q.last_avail, 0);
}

static void test_outside_ram(void **state)
{
	struct fixture *f = *state;
	expect_bad_single(f, RAM_BASE - 16, 16, 0);                /* below RAM */
	expect_bad_single(f, RAM_BASE - 8, 16, 0);                 /* straddles the start */
	expect_bad_single(f, RAM_END - 8, 16, VIRTQ_DESC_F_WRITE); /* runs past the end */
	expect_bad_single(f, RAM_END, 1, 0);                       /* just past */
	expect_bad_single(f, 0, 1, VIRTQ_DESC_F_WRITE);
	expect_bad_single(f, UINT64_MAX - 3, 16, 0); /* addr + len wraps */
	expect_bad_single(f, RAM_BASE, UINT32_MAX, 0);
	expect_bad_single(f, UINT64_MAX - 3, 16, VIRTQ_DESC_F_INDIRECT); /* the table itself */
	expect_bad_single(f, RAM_END - 16, 32, VIRTQ_DESC_F_INDIRECT);
}

static void test_loops(void **state)
{
	struct fixture *f = *state;
	/* Self loop. */
	set_desc(f, DESC_GPA, 4, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 4);
	make_avail(f, 4);
	assert_int_equal(pop(f), -EINVAL);

	/* 0 -> 1 -> 2 -> 0 */
	f->q.last_avail = f->avail_idx;
	set_desc(f, DESC_GPA, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, DESC_GPA, 2, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);

	/* A loop made only of writable empty buffers is caught too. */
	f->q.last_avail = f->avail_idx;
	set_desc(f, DESC_GPA, 0, 0, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(f, DESC_GPA, 1, 0, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);

	/* Loop inside an indirect table. */
	f->q.last_avail = f->avail_idx;
	set_desc(f, DESC_GPA, 0, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(f, TABLE_GPA, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, TABLE_GPA, 1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, TABLE_GPA, 2, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);
}

static void test_chain_length(void **state)
{
	struct fixture *f = *state;
	/* A chain using every descriptor of the queue once is the longest allowed. */
	for (unsigned i = 0; i < NUM; i++)
		set_desc(f, DESC_GPA, i, DATA_GPA + i, 1, i + 1 < NUM ? VIRTQ_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	make_avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.nout, NUM);
	assert_int_equal(f->req.out_len, NUM);

	/* Whereas the same chain in a smaller queue runs off its table (next >= num). */
	f->q.num = NUM / 2;
	f->q.last_avail = 0;
	f->avail_idx = 0;
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);

	/* Out-of-range indices: the head, and next in the main table and in a table. */
	f->q.num = NUM;
	f->q.last_avail = f->avail_idx = 0;
	make_avail(f, NUM);
	assert_int_equal(pop(f), -EINVAL);
	f->q.last_avail = f->avail_idx = 0;
	make_avail(f, 0xffff);
	assert_int_equal(pop(f), -EINVAL);
	f->q.last_avail = f->avail_idx = 0;
	set_desc(f, DESC_GPA, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, NUM);
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);
	f->q.last_avail = f->avail_idx = 0;
	set_desc(f, DESC_GPA, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(f, TABLE_GPA, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);
}

static void test_indirect_misuse(void **state)
{
	struct fixture *f = *state;
	/* Indirect inside indirect. */
	set_desc(f, TABLE_GPA, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, TABLE_GPA, 1, TABLE_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(f, TABLE_GPA + 0x100, 0, DATA_GPA, 8, 0, 0);
	expect_bad_single(f, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT);

	/* INDIRECT together with NEXT (2.7.5.3.1). */
	set_desc(f, TABLE_GPA, 0, DATA_GPA, 8, 0, 0);
	set_desc(f, DESC_GPA, 1, DATA_GPA, 8, 0, 0);
	set_desc(f, DESC_GPA, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);

	/* Table length zero, or not a whole number of descriptors. */
	expect_bad_single(f, TABLE_GPA, 0, VIRTQ_DESC_F_INDIRECT);
	expect_bad_single(f, TABLE_GPA, 24, VIRTQ_DESC_F_INDIRECT);
	expect_bad_single(f, TABLE_GPA, 15, VIRTQ_DESC_F_INDIRECT);

	/* The same well-formed table is accepted, so the failures above were the misuse. */
	f->q.last_avail = f->avail_idx;
	set_desc(f, DESC_GPA, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.nout, 1);
}

static void test_indirect_max_segs(void **state)
{
	struct fixture *f = *state;
	/* A table of VIRTQ_MAX_SEGS buffers fills the request exactly... */
	for (unsigned i = 0; i < VIRTQ_MAX_SEGS; i++)
		set_desc(f, TABLE_GPA, i, DATA_GPA + i, 1,
			 (i + 1 < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0) |
			     (i >= VIRTQ_MAX_SEGS / 2 ? VIRTQ_DESC_F_WRITE : 0),
			 (uint16_t)(i + 1));
	set_desc(f, DESC_GPA, 0, TABLE_GPA, 16 * VIRTQ_MAX_SEGS, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.nout, VIRTQ_MAX_SEGS / 2);
	assert_int_equal(f->req.nin, VIRTQ_MAX_SEGS / 2);

	/* ...one more descriptor ahead of it in the main table is too many. */
	set_desc(f, DESC_GPA, 1, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 0);
	make_avail(f, 1);
	assert_int_equal(pop(f), -EINVAL);

	/* So is a longer table. */
	f->q.last_avail = f->avail_idx;
	set_desc(f, TABLE_GPA, VIRTQ_MAX_SEGS - 1, DATA_GPA, 1,
		 VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, VIRTQ_MAX_SEGS);
	set_desc(f, TABLE_GPA, VIRTQ_MAX_SEGS, DATA_GPA, 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(f, DESC_GPA, 0, TABLE_GPA, 16 * (VIRTQ_MAX_SEGS + 1), VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);
}

static void test_readable_after_writable(void **state)
{
	struct fixture *f = *state;
	set_desc(f, DESC_GPA, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(f, DESC_GPA, 1, DATA_GPA, 8, 0, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);

	/* Inside an indirect table too. */
	f->q.last_avail = f->avail_idx;
	set_desc(f, TABLE_GPA, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(f, TABLE_GPA, 1, DATA_GPA, 8, 0, 0);
	set_desc(f, DESC_GPA, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), -EINVAL);
}

static void test_chain_over_4g(void **state)
{
	(void)state;
	/* 2.7.5: a chain is at most 2^32 bytes. Needs RAM beyond 4 GiB: a sparse memfd. */
	struct guest_mem big;
	assert_int_equal(guest_mem_init(&big, RAM_BASE, 5ull << 30), 0);
	struct virtq_req *req = malloc(sizeof(*req));
	assert_non_null(req);
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->mem = big;
	f->q = (struct virtq){.num = 4,
			      .desc_gpa = DESC_GPA,
			      .avail_gpa = AVAIL_GPA,
			      .used_gpa = USED_GPA,
			      .mem = &f->mem};
	set_desc(f, DESC_GPA, 0, RAM_BASE + 0x100000, 0x80000000u, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, RAM_BASE + 0x100000, 0x80000000u, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(virtq_pop(&f->q, req), 1); /* exactly 2^32 */
	assert_int_equal(req->out_len + req->in_len, 1ull << 32);
	set_desc(f, DESC_GPA, 1, RAM_BASE + 0x100000, 0x80000001u, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(virtq_pop(&f->q, req), -EINVAL);
	free(f);
	free(req);
	guest_mem_destroy(&big);
}

static void test_avail_jump(void **state)
{
	struct fixture *f = *state;
	set_desc(f, DESC_GPA, 0, DATA_GPA, 8, 0, 0);
	for (unsigned i = 0; i < NUM; i++)
		put16(f, AVAIL_GPA + 4 + 2 * i, 0);
	/* num entries outstanding is the most a driver can have... */
	put16(f, AVAIL_GPA + 2, NUM);
	assert_int_equal(pop(f), 1);
	/* ...and idx moving further ahead than that is corrupt. */
	put16(f, AVAIL_GPA + 2, (uint16_t)(1 + NUM + 1));
	assert_int_equal(pop(f), -EINVAL);
	/* So is idx going backwards (a huge jump modulo 2^16). */
	put16(f, AVAIL_GPA + 2, 0);
	assert_int_equal(pop(f), -EINVAL);
	assert_int_equal(f->q.last_avail, 1);
}

/* A device whose chains another process parses takes heads only, and parses one later. */
static void test_take_head_and_chain(void **state)
{
	struct fixture *f = *state;
	uint16_t head = 0xffff;
	assert_int_equal(virtq_take_head(&f->q, &head), 0);
	/* A malformed chain is still taken: parsing it is not the taker's business. */
	set_desc(f, DESC_GPA, 3, RAM_END, 8, 0, 0);
	set_desc(f, DESC_GPA, 4, DATA_GPA, 40, VIRTQ_DESC_F_NEXT, 6);
	set_desc(f, DESC_GPA, 6, DATA_GPA + 0x100, 16, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 3);
	make_avail(f, 4);
	assert_int_equal(virtq_take_head(&f->q, &head), 1);
	assert_int_equal(head, 3);
	assert_int_equal(virtq_take_head(&f->q, &head), 1);
	assert_int_equal(head, 4);
	assert_int_equal(virtq_take_head(&f->q, &head), 0);
	assert_int_equal(f->q.last_avail, 2);
	assert_int_equal(virtq_chain(&f->q, 3, &f->req), -EINVAL);
	assert_int_equal(virtq_chain(&f->q, 4, &f->req), 0);
	assert_int_equal(f->req.head, 4);
	assert_int_equal(f->req.out_len, 40);
	assert_int_equal(f->req.in_len, 16);
	assert_int_equal(virtq_chain(&f->q, NUM, &f->req), -EINVAL);
	/* A head out of range, or an index jump, breaks the queue and is not consumed. */
	make_avail(f, NUM);
	assert_int_equal(virtq_take_head(&f->q, &head), -EINVAL);
	assert_int_equal(f->q.last_avail, 2);
	put16(f, AVAIL_GPA + 2, (uint16_t)(2 + NUM + 1));
	assert_int_equal(virtq_take_head(&f->q, &head), -EINVAL);
}

static void test_wrap_around(void **state)
{
	struct fixture *f = *state;
	/* Both indices free-run and wrap at 65535 -> 0 (2.7.6, 2.7.8). */
	f->q.last_avail = f->q.used_idx = 65534;
	f->avail_idx = 65534;
	put16(f, USED_GPA + 2, 65534);
	for (unsigned i = 0; i < 4; i++)
		set_desc(f, DESC_GPA, i, DATA_GPA + 0x100 * i, 4, VIRTQ_DESC_F_WRITE, 0);
	for (uint16_t i = 0; i < 4; i++)
		make_avail(f, i);
	assert_int_equal(get16(f, AVAIL_GPA + 2), 2);

	for (uint16_t i = 0; i < 4; i++) {
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->req.head, i);
		virtq_push(&f->q, f->req.head, 100u + i);
	}
	assert_int_equal(pop(f), 0);
	assert_int_equal(f->q.last_avail, 2);
	assert_int_equal(f->q.used_idx, 2);
	assert_int_equal(used_idx(f), 2);
	/* Slots 65534 % 16 = 14, 15, then 0, 1. */
	static const unsigned slot[] = {14, 15, 0, 1};
	for (unsigned i = 0; i < 4; i++) {
		uint32_t id, len;
		used_elem(f, slot[i], &id, &len);
		assert_int_equal(id, i);
		assert_int_equal(len, 100 + i);
	}
}

static void test_push(void **state)
{
	struct fixture *f = *state;
	virtq_push(&f->q, 7, 0x1234);
	assert_int_equal(used_idx(f), 1);
	uint32_t id, len;
	used_elem(f, 0, &id, &len);
	assert_int_equal(id, 7);
	assert_int_equal(len, 0x1234);
	/* A head outside the queue is never returned to the driver. */
	virtq_push(&f->q, NUM, 1);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(f->q.used_idx, 1);
}

/* A batch lands in order, skips heads outside the queue, and moves the used index once past
 * all of its elements (2.7.8), wrapping with the ring. */
static void test_push_batch(void **state)
{
	struct fixture *f = *state;
	f->q.used_idx = 14;
	put16(f, USED_GPA + 2, 14);
	const struct virtq_used_elem e[] = {
	    {.id = 3, .len = 30}, {.id = NUM, .len = 1}, {.id = 5, .len = 50}, {.id = 9, .len = 0}};
	virtq_push_batch(&f->q, e, 4);
	assert_int_equal(used_idx(f), 17);
	assert_int_equal(f->q.used_idx, 17);
	static const struct {
		unsigned slot;
		uint32_t id, len;
	} want[] = {{14, 3, 30}, {15, 5, 50}, {0, 9, 0}};
	for (unsigned i = 0; i < 3; i++) {
		uint32_t id, len;
		used_elem(f, want[i].slot, &id, &len);
		assert_int_equal(id, want[i].id);
		assert_int_equal(len, want[i].len);
	}
	/* Nothing valid, nothing published. */
	virtq_push_batch(&f->q, e + 1, 1);
	virtq_push_batch(&f->q, e, 0);
	assert_int_equal(used_idx(f), 17);
	/* A ring laid out outside RAM is never written. */
	f->q.used_gpa = RAM_END - 8;
	virtq_push_batch(&f->q, e, 1);
	assert_int_equal(f->q.used_idx, 17);
}

static void test_no_interrupt(void **state)
{
	struct fixture *f = *state;
	/* Without event idx, the driver's flag decides (2.7.7). */
	virtq_push(&f->q, 0, 0);
	assert_true(virtq_need_interrupt(&f->q));
	/* Nothing new pushed: nothing to signal. */
	assert_false(virtq_need_interrupt(&f->q));
	put16(f, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	virtq_push(&f->q, 0, 0);
	assert_false(virtq_need_interrupt(&f->q));
	put16(f, AVAIL_GPA, 0);
	virtq_push(&f->q, 0, 0);
	assert_true(virtq_need_interrupt(&f->q));
	/* used_event means nothing without the feature. */
	set_used_event(f, 100);
	virtq_push(&f->q, 0, 0);
	assert_true(virtq_need_interrupt(&f->q));
}

static void test_event_idx_interrupt(void **state)
{
	struct fixture *f = *state;
	f->q.event_idx = true;
	/* The flag is ignored with event idx (2.7.7.2). */
	put16(f, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	set_used_event(f, 2);
	/* The first call always signals: nothing is known about the driver yet. */
	virtq_push(&f->q, 0, 0); /* used idx 1 */
	assert_true(virtq_need_interrupt(&f->q));
	virtq_push(&f->q, 0, 0); /* 2: entry 1 written, used_event 2 not reached */
	assert_false(virtq_need_interrupt(&f->q));
	virtq_push(&f->q, 0, 0); /* 3: entry 2 written */
	assert_true(virtq_need_interrupt(&f->q));
	virtq_push(&f->q, 0, 0); /* 4 */
	assert_false(virtq_need_interrupt(&f->q));
	/* Several entries at once: signal if used_event is among them. */
	set_used_event(f, 5);
	virtq_push(&f->q, 0, 0);
	virtq_push(&f->q, 0, 0);
	virtq_push(&f->q, 0, 0); /* entries 4, 5, 6 */
	assert_true(virtq_need_interrupt(&f->q));
	/* used_event behind: suppressed until the index wraps back to it. */
	set_used_event(f, 3);
	virtq_push(&f->q, 0, 0);
	assert_false(virtq_need_interrupt(&f->q));
	/* Across the 16-bit wrap. */
	f->q.used_idx = 65534;
	f->q.signalled_used = 65534;
	set_used_event(f, 65535);
	virtq_push(&f->q, 0, 0); /* entry 65534 */
	assert_false(virtq_need_interrupt(&f->q));
	virtq_push(&f->q, 0, 0); /* entry 65535, used idx wraps to 0 */
	assert_int_equal(f->q.used_idx, 0);
	assert_true(virtq_need_interrupt(&f->q));
	set_used_event(f, 0);
	virtq_push(&f->q, 0, 0); /* entry 0 */
	assert_true(virtq_need_interrupt(&f->q));
}

static void test_event_idx_avail_event(void **state)
{
	struct fixture *f = *state;
	f->q.event_idx = true;
	put16(f, USED_GPA + 4 + 8 * NUM, 0xbeef);
	/* An empty ring publishes where the device stands, so the next buffer is notified. */
	assert_int_equal(pop(f), 0);
	assert_int_equal(avail_event(f), 0);
	set_desc(f, DESC_GPA, 0, DATA_GPA, 8, 0, 0);
	make_avail(f, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(avail_event(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(avail_event(f), 2);
	assert_int_equal(pop(f), 0);
	assert_int_equal(avail_event(f), 2);
	/* Without the feature the device area's last field is left alone. */
	f->q.event_idx = false;
	put16(f, USED_GPA + 4 + 8 * NUM, 0xbeef);
	make_avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 0);
	assert_int_equal(avail_event(f), 0xbeef);
}

static void test_read_write(void **state)
{
	struct fixture *f = *state;
	uint8_t *d = host(f, DATA_GPA);
	for (unsigned i = 0; i < 64; i++)
		d[i] = (uint8_t)i;
	/* Readable: [0, 5) and [32, 42); writable: 3 bytes and 4 bytes. */
	set_desc(f, DESC_GPA, 0, DATA_GPA, 5, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, DATA_GPA + 32, 10, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, DESC_GPA, 2, DATA_GPA + 0x100, 3, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
	set_desc(f, DESC_GPA, 3, DATA_GPA + 0x200, 4, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(pop(f), 1);

	uint8_t buf[32];
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(virtq_read(&f->req, 3, buf, 4), 4);
	static const uint8_t want[] = {3, 4, 32, 33, 0xee};
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(virtq_read(&f->req, 0, buf, sizeof(buf)), 15);
	assert_int_equal(buf[14], 41);
	assert_int_equal(virtq_read(&f->req, 14, buf, 8), 1);
	assert_int_equal(virtq_read(&f->req, 15, buf, 8), 0);
	assert_int_equal(virtq_read(&f->req, UINT64_MAX, buf, 8), 0);

	static const uint8_t src[] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
	assert_int_equal(virtq_write(&f->req, 2, src, 3), 3);
	assert_int_equal(host(f, DATA_GPA + 0x100)[2], 0xa0);
	assert_int_equal(host(f, DATA_GPA + 0x200)[0], 0xa1);
	assert_int_equal(host(f, DATA_GPA + 0x200)[1], 0xa2);
	assert_int_equal(host(f, DATA_GPA + 0x200)[2], 0);
	/* Longer than the writable space: copies what fits, and no byte past it. */
	assert_int_equal(virtq_write(&f->req, 0, src, sizeof(src)), 7);
	assert_int_equal(host(f, DATA_GPA + 0x200)[3], 0xa6);
	assert_int_equal(host(f, DATA_GPA + 0x204)[0], 0);
	assert_int_equal(host(f, DATA_GPA + 0x103)[0], 0);
	assert_int_equal(virtq_write(&f->req, 7, src, 1), 0);
	/* The readable buffers were not written. */
	assert_int_equal(d[4], 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_validate_layout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_direct_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_whole_ram, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_direct_then_indirect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_not_negotiated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outside_ram, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_misuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_max_segs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
	    cmocka_unit_test(test_chain_over_4g),
	    cmocka_unit_test_setup_teardown(test_avail_jump, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_take_head_and_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrap_around, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_interrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_idx_interrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_idx_avail_event, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
