/* The dirty log of guest RAM (guest_mem.h), as diff snapshots and migration use it: a hart's
 * stores mark their page under the interpreter and the translator, in M-mode (the TLB set
 * that a satp write never empties) and through Sv39 page tables (whose A/D updates mark the
 * page-table page); after a take, the hart must drop its write TLB entries
 * (hart_flush_write_tlb, what HART_FENCE_DIRTY asks for), or a store through an entry filled
 * before the take would not mark its page again - shown here, so a missing flush cannot go
 * unnoticed; AMOs, cbo.zero, discards and ranges across pages mark too. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/isa.h"
#include "jit/jit.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1ull << 20)
#define PAGES    (RAM_SIZE / 4096)
#define CODE     (RAM_BASE + 0x0000)
#define DATA     (RAM_BASE + 0x10000) /* the page the loop stores to */
#define AMO_PAGE (RAM_BASE + 0x20000)
#define ROOT_PT  (RAM_BASE + 0x40000) /* Sv39: root, then one level-1 and one level-0 table */
#define VA_CODE  0x10000000ull
#define VA_DATA  0x10010000ull

static uint64_t fixed_time(void *opaque)
{
	(void)opaque;
	return 0;
}

static void put32(struct guest_mem *m, uint64_t gpa, uint32_t insn)
{
	memcpy(m->hva + (gpa - RAM_BASE), &insn, 4);
}

static void put64(struct guest_mem *m, uint64_t gpa, uint64_t v)
{
	memcpy(m->hva + (gpa - RAM_BASE), &v, 8);
}

static uint32_t addi(unsigned rd, unsigned rs, int imm)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs << 15 | rd << 7 | 0x13;
}

static uint32_t sd(unsigned rs2, unsigned rs1, int imm)
{
	uint32_t i = (uint32_t)imm & 0xfff;
	return (i >> 5) << 25 | rs2 << 20 | rs1 << 15 | 3u << 12 | (i & 0x1f) << 7 | 0x23;
}

/* amoadd.d rd, rs2, (rs1) */
static uint32_t amoadd_d(unsigned rd, unsigned rs2, unsigned rs1)
{
	return rs2 << 20 | rs1 << 15 | 3u << 12 | rd << 7 | 0x2f;
}

static uint32_t jal0(int32_t off)
{
	uint32_t o = (uint32_t)off;
	return ((o >> 20) & 1) << 31 | ((o >> 1) & 0x3ff) << 21 | ((o >> 11) & 1) << 20 |
	       ((o >> 12) & 0xff) << 12 | 0x6f;
}

struct rig {
	struct guest_mem mem;
	struct bus bus;
	struct hart h;
	bool jit;
	uint64_t taken[(PAGES + 63) / 64];
};

static bool page_in(const struct rig *r, uint64_t gpa)
{
	uint64_t pg = (gpa - RAM_BASE) / 4096;
	return r->taken[pg / 64] >> (pg % 64) & 1;
}

/* The loop at CODE (physical) or VA_CODE: sd x2, 0(x1); addi x2, x2, 1; j back. */
static void write_loop(struct rig *r)
{
	put32(&r->mem, CODE, sd(2, 1, 0));
	put32(&r->mem, CODE + 4, addi(2, 2, 1));
	put32(&r->mem, CODE + 8, jal0(-8));
}

static int rig_init(struct rig *r, bool jit)
{
	memset(r, 0, sizeof(*r));
	r->jit = jit;
	assert_int_equal(guest_mem_init(&r->mem, RAM_BASE, RAM_SIZE), 0);
	struct hart_env env = {.time_now = fixed_time};
	assert_int_equal(hart_init(&r->h, 0, &r->mem, &r->bus, &env), 0);
	/* PMP entry 0 gives S and U all memory, as M-mode firmware would (with every entry OFF
	 * they could reach nothing). */
	assert_true(csr_write(&r->h, CSR_PMPADDR0, ~0ull));
	assert_true(csr_write(&r->h, CSR_PMPCFG0, 0x1f));
	if (jit) {
		int rc = jit_init(&r->h, JIT_CACHE_MIN);
		if (rc == -ENOSYS) {
			hart_destroy(&r->h);
			guest_mem_destroy(&r->mem);
			return -1;
		}
		assert_int_equal(rc, 0);
	}
	write_loop(r);
	assert_int_equal(guest_mem_dirty_enable(&r->mem), 0);
	/* The first take has every page: nothing was known before. */
	assert_int_equal(guest_mem_dirty_take(&r->mem, r->taken), PAGES);
	return 0;
}

static void rig_destroy(struct rig *r)
{
	if (r->jit)
		jit_destroy(&r->h);
	hart_destroy(&r->h);
	guest_mem_destroy(&r->mem);
}

static void run(struct rig *r, int32_t n)
{
	if (r->jit)
		jit_run_budget(&r->h, n);
	else
		hart_run_budget(&r->h, n);
}

static void stores_mark(bool jit, bool paged)
{
	struct rig r;
	if (rig_init(&r, jit))
		skip();
	struct hart *h = &r.h;
	uint64_t data = DATA;
	h->priv = PRV_M;
	h->pc = h->pc_next = CODE;
	if (paged) {
		/* Sv39, S-mode: VA_CODE -> CODE (X), VA_DATA -> DATA (R/W), A and D clear so the
		 * walk sets them. Root entry 0 -> level-1 table; its entry 128 -> level-0 table. */
		uint64_t l1 = ROOT_PT + 0x1000, l0 = ROOT_PT + 0x2000;
		put64(&r.mem, ROOT_PT, (l1 >> 12) << 10 | 1);
		put64(&r.mem, l1 + 8 * ((VA_CODE >> 21) & 0x1ff), (l0 >> 12) << 10 | 1);
		put64(&r.mem, l0 + 8 * ((VA_CODE >> 12) & 0x1ff), (CODE >> 12) << 10 | 0x9 | 0x40);
		put64(&r.mem, l0 + 8 * ((VA_DATA >> 12) & 0x1ff), (DATA >> 12) << 10 | 0x7);
		h->satp = 8ull << 60 | ROOT_PT >> 12;
		h->priv = PRV_S;
		h->pc = h->pc_next = VA_CODE;
		data = VA_DATA;
	}
	hart_update_mode(h);
	h->x[1] = data;

	run(&r, 300);
	assert_true(h->x[2] > 50);
	assert_int_equal(guest_mem_dirty_take(&r.mem, r.taken), paged ? 2 : 1);
	assert_true(page_in(&r, DATA));
	if (paged) /* the walk set D in the level-0 table */
		assert_true(page_in(&r, ROOT_PT + 0x2000));

	/* Taken, and the hart dropped its write entries: the next stores mark again. */
	hart_flush_write_tlb(h);
	uint64_t before = h->x[2];
	run(&r, 300);
	assert_true(h->x[2] > before);
	assert_int_equal(guest_mem_dirty_take(&r.mem, r.taken), 1);
	assert_true(page_in(&r, DATA));

	/* Without the flush, stores go through the entry filled before the take and mark
	 * nothing: the reason vm_dirty_take makes every hart flush. */
	before = h->x[2];
	run(&r, 300);
	assert_true(h->x[2] > before);
	assert_int_equal(guest_mem_dirty_take(&r.mem, r.taken), 0);
	rig_destroy(&r);
}

static void test_interp_m_mode(void **state)
{
	(void)state;
	stores_mark(false, false);
}

static void test_jit_m_mode(void **state)
{
	(void)state;
	stores_mark(true, false);
}

static void test_interp_sv39(void **state)
{
	(void)state;
	stores_mark(false, true);
}

static void test_jit_sv39(void **state)
{
	(void)state;
	stores_mark(true, true);
}

static void amo_marks(bool jit)
{
	struct rig r;
	if (rig_init(&r, jit))
		skip();
	struct hart *h = &r.h;
	put32(&r.mem, CODE, amoadd_d(3, 2, 1));
	put32(&r.mem, CODE + 4, jal0(-4));
	h->priv = PRV_M;
	h->pc = h->pc_next = CODE;
	hart_update_mode(h);
	h->x[1] = AMO_PAGE;
	h->x[2] = 1;
	for (int i = 0; i < 2; i++) {
		run(&r, 100);
		assert_int_equal(guest_mem_dirty_take(&r.mem, r.taken), 1);
		assert_true(page_in(&r, AMO_PAGE));
		/* An AMO never goes through a write entry: it marks even without a flush. */
	}
	uint64_t v;
	memcpy(&v, r.mem.hva + (AMO_PAGE - RAM_BASE), 8);
	assert_true(v > 20);
	rig_destroy(&r);
}

static void test_amo_interp(void **state)
{
	(void)state;
	amo_marks(false);
}

static void test_amo_jit(void **state)
{
	(void)state;
	amo_marks(true);
}

/* cbo.zero x1 (Zicboz: MISC-MEM, funct3 2, imm 4). */
static uint32_t cbo_zero(unsigned rs1)
{
	return 4u << 20 | rs1 << 15 | 2u << 12 | 0x0f;
}

static void cbo_zero_marks(bool jit)
{
	struct rig r;
	if (rig_init(&r, jit))
		skip();
	struct hart *h = &r.h;
	/* cbo.zero of a block in DATA, then a loop that writes nothing. */
	put32(&r.mem, CODE, cbo_zero(1));
	put32(&r.mem, CODE + 4, addi(2, 2, 1));
	put32(&r.mem, CODE + 8, jal0(-4));
	memset(r.mem.hva + (DATA - RAM_BASE), 0xab, 4096);
	h->isa_ext = ISA_EXT_ALL; /* Zicboz among them */
	h->priv = PRV_M;          /* M-mode may always use the CBOs */
	h->pc = h->pc_next = CODE;
	hart_update_mode(h);
	h->x[1] = DATA + 0x140;
	run(&r, 50);
	assert_int_equal(h->pc == CODE + 4 || h->pc == CODE + 8, true);
	assert_int_equal(r.mem.hva[DATA - RAM_BASE + 0x140], 0);
	assert_int_equal(r.mem.hva[DATA - RAM_BASE + 0x180], 0xab);
	assert_int_equal(guest_mem_dirty_take(&r.mem, r.taken), 1);
	assert_true(page_in(&r, DATA));
	rig_destroy(&r);
}

static void test_cbo_zero_interp(void **state)
{
	(void)state;
	cbo_zero_marks(false);
}

static void test_cbo_zero_jit(void **state)
{
	(void)state;
	cbo_zero_marks(true);
}

static void test_ranges_and_discard(void **state)
{
	(void)state;
	struct rig r;
	if (rig_init(&r, false))
		skip();
	/* Two bytes across a page boundary mark both pages; bytes outside RAM nothing. */
	guest_mem_mark_dirty(&r.mem, RAM_BASE + 0x3fff, 2);
	guest_mem_mark_dirty(&r.mem, RAM_BASE + RAM_SIZE, 4096);
	guest_mem_mark_dirty(&r.mem, RAM_BASE - 4096, 4096);
	guest_mem_mark_dirty(&r.mem, RAM_BASE + RAM_SIZE - 8, 1ull << 40); /* clipped at the end */
	assert_int_equal(guest_mem_dirty_take(&r.mem, r.taken), 3);
	assert_true(page_in(&r, RAM_BASE + 0x3000) && page_in(&r, RAM_BASE + 0x4000));
	assert_true(page_in(&r, RAM_BASE + RAM_SIZE - 4096));
	/* A discarded page reads as zeroes from now on: it changed. */
	assert_int_equal(guest_mem_discard(&r.mem, RAM_BASE + 0x8000, 0x2000), 0);
	assert_int_equal(guest_mem_dirty_take(&r.mem, r.taken), 2);
	assert_true(page_in(&r, RAM_BASE + 0x8000) && page_in(&r, RAM_BASE + 0x9000));
	assert_int_equal(guest_mem_dirty_take(&r.mem, r.taken), 0);
	rig_destroy(&r);
}

static void test_no_log_means_all_dirty(void **state)
{
	(void)state;
	struct guest_mem m;
	/* A size that is not a multiple of 64 pages: the last word has only its pages. */
	assert_int_equal(guest_mem_init(&m, RAM_BASE, 100 * 4096), 0);
	uint64_t out[2];
	assert_int_equal(guest_mem_dirty_take(&m, out), 100);
	assert_int_equal(out[1], (1ull << 36) - 1);
	guest_mem_mark_dirty(&m, RAM_BASE, 4096); /* no log: nothing to do, no crash */
	assert_int_equal(guest_mem_dirty_enable(&m), 0);
	assert_int_equal(guest_mem_dirty_take(&m, out), 100);
	assert_int_equal(out[1], (1ull << 36) - 1);
	assert_int_equal(guest_mem_dirty_take(&m, out), 0);
	guest_mem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_interp_m_mode),
	    cmocka_unit_test(test_jit_m_mode),
	    cmocka_unit_test(test_interp_sv39),
	    cmocka_unit_test(test_jit_sv39),
	    cmocka_unit_test(test_amo_interp),
	    cmocka_unit_test(test_amo_jit),
	    cmocka_unit_test(test_cbo_zero_interp),
	    cmocka_unit_test(test_cbo_zero_jit),
	    cmocka_unit_test(test_ranges_and_discard),
	    cmocka_unit_test(test_no_log_means_all_dirty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
