/* Unit tests of the vCPU's privileged architecture: CSR access rules (priv spec 2.1, 3.1),
 * trap delegation and interrupt selection (3.1.8, 3.1.9), and page-table walks with their
 * faults (4.3-4.6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"

#define RAM      0x80000000ull
#define RAM_SIZE (4ull << 20)

struct fixture {
	struct guest_mem mem;
	struct bus bus;
	struct hart h;
	uint64_t now;
};

static uint64_t fake_time(void *opaque)
{
	return ((struct fixture *)opaque)->now;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM, RAM_SIZE), 0);
	struct hart_env env = {.opaque = f, .time_now = fake_time};
	assert_int_equal(hart_init(&f->h, 0, &f->mem, &f->bus, &env), 0);
	/* PMP entry 0 gives S and U all memory, as M-mode firmware would (with every entry OFF
	 * they could reach nothing). */
	assert_true(csr_write(&f->h, CSR_PMPADDR0, ~0ull));
	assert_true(csr_write(&f->h, CSR_PMPCFG0, 0x1f));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	hart_destroy(&f->h);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static void set_priv(struct hart *h, unsigned priv)
{
	h->priv = (uint8_t)priv;
	hart_update_mode(h);
}

/* ---- CSR access rules ---- */

static void test_csr_privilege(void **state)
{
	struct hart *h = &((struct fixture *)*state)->h;
	uint64_t v;
	set_priv(h, PRV_U);
	assert_false(csr_read(h, CSR_MSTATUS, &v));
	assert_false(csr_read(h, CSR_SSTATUS, &v));
	set_priv(h, PRV_S);
	assert_true(csr_read(h, CSR_SSTATUS, &v));
	assert_false(csr_read(h, CSR_MSTATUS, &v));
	assert_false(csr_write(h, CSR_MEPC, 0));
	set_priv(h, PRV_M);
	assert_true(csr_read(h, CSR_MSTATUS, &v));
	/* Read-only CSRs (bits 11:10 = 3) reject writes even from M-mode. */
	assert_false(csr_write(h, CSR_MVENDORID, 1));
	assert_false(csr_write(h, CSR_MHARTID, 1));
	assert_false(csr_write(h, CSR_CYCLE, 1));
	/* Unknown CSRs do not exist. */
	assert_false(csr_read(h, 0x7ff, &v));
	/* RV64 has only the even pmpcfg registers. */
	assert_true(csr_read(h, CSR_PMPCFG0, &v));
	assert_false(csr_read(h, CSR_PMPCFG0 + 1, &v));
}

static void test_csr_sstatus_is_a_view(void **state)
{
	struct hart *h = &((struct fixture *)*state)->h;
	uint64_t v;
	set_priv(h, PRV_S);
	assert_true(csr_write(h, CSR_SSTATUS, MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SUM));
	assert_true(h->mstatus & MSTATUS_SIE);
	assert_true(h->mstatus & MSTATUS_SUM);
	assert_false(h->mstatus & MSTATUS_MIE);
	assert_true(csr_read(h, CSR_SSTATUS, &v));
	assert_int_equal(v & MSTATUS_MPP, 0);
	/* UXL reads as 64-bit. */
	assert_int_equal((v & MSTATUS_UXL) >> 32, 2);
}

static void test_csr_warl_fields(void **state)
{
	struct hart *h = &((struct fixture *)*state)->h;
	uint64_t v;
	assert_true(csr_write(h, CSR_MIDELEG, ~0ull));
	assert_int_equal(h->mideleg, MIP_SSIP | MIP_STIP | MIP_SEIP);
	assert_true(csr_write(h, CSR_MEDELEG, ~0ull));
	assert_false(h->medeleg & (1ull << CAUSE_MACHINE_ECALL));
	assert_true(h->medeleg & (1ull << CAUSE_LOAD_PAGE_FAULT));
	/* An unsupported satp mode leaves satp unchanged; Sv48 is accepted. */
	assert_true(csr_write(h, CSR_SATP, (5ull << 60) | 123));
	assert_int_equal(h->satp, 0);
	assert_true(csr_write(h, CSR_SATP, (9ull << 60) | 123));
	assert_true(csr_read(h, CSR_SATP, &v));
	assert_int_equal(v, (9ull << 60) | 123);
	/* mepc bit 0 is always zero (IALIGN 16). */
	assert_true(csr_write(h, CSR_MEPC, 0x80000003));
	assert_int_equal(h->mepc, 0x80000002);
	/* MPP = 2 is reserved: the old value stays. */
	assert_true(csr_write(h, CSR_MSTATUS, 1ull << MSTATUS_MPP_SHIFT));
	assert_true(csr_write(h, CSR_MSTATUS, 2ull << MSTATUS_MPP_SHIFT));
	assert_int_equal((h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, 1);
	/* misa cannot be changed. */
	uint64_t misa = h->misa;
	assert_true(csr_write(h, CSR_MISA, 0));
	assert_int_equal(h->misa, misa);
}

static void test_csr_counters_and_sstc(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h;
	uint64_t v;
	f->now = 12345;
	set_priv(h, PRV_U);
	assert_false(csr_read(h, CSR_TIME, &v));
	h->mcounteren = 2;
	assert_false(csr_read(h, CSR_TIME, &v)); /* U also needs scounteren */
	h->scounteren = 2;
	assert_true(csr_read(h, CSR_TIME, &v));
	assert_int_equal(v, 12345);
	set_priv(h, PRV_S);
	assert_false(csr_read(h, CSR_STIMECMP, &v));
	h->menvcfg = MENVCFG_STCE;
	assert_true(csr_write(h, CSR_STIMECMP, 20000));
	/* Sstc: STIP follows time >= stimecmp. */
	hart_update_timers(h, 19999);
	assert_false(atomic_load(&h->mip) & MIP_STIP);
	hart_update_timers(h, 20000);
	assert_true(atomic_load(&h->mip) & MIP_STIP);
}

static void test_csr_fs_off(void **state)
{
	struct hart *h = &((struct fixture *)*state)->h;
	uint64_t v;
	h->mstatus &= ~MSTATUS_FS;
	hart_update_mode(h);
	assert_false(csr_read(h, CSR_FCSR, &v));
	h->mstatus |= FS_INITIAL << MSTATUS_FS_SHIFT;
	hart_update_mode(h);
	assert_true(csr_write(h, CSR_FCSR, 0xff));
	assert_int_equal(h->frm, 7);
	assert_int_equal(h->fflags, 0x1f);
	/* Writing fcsr makes FS dirty, and SD reads as set. */
	assert_int_equal(h->mstatus & MSTATUS_FS, MSTATUS_FS);
	assert_true(csr_read(h, CSR_MSTATUS, &v));
	assert_true(v & MSTATUS_SD);
}

/* ---- traps ---- */

static void test_trap_delegated_to_s(void **state)
{
	struct hart *h = &((struct fixture *)*state)->h;
	h->medeleg = 1u << CAUSE_ILLEGAL_INSTRUCTION;
	h->stvec = 0x80001000;
	h->mtvec = 0x80002000;
	h->mstatus |= MSTATUS_SIE;
	set_priv(h, PRV_U);
	h->pc = 0x1234;
	hart_trap(h, CAUSE_ILLEGAL_INSTRUCTION, 0xdead);
	assert_int_equal(h->priv, PRV_S);
	assert_int_equal(h->scause, CAUSE_ILLEGAL_INSTRUCTION);
	assert_int_equal(h->sepc, 0x1234);
	assert_int_equal(h->stval, 0xdead);
	assert_int_equal(h->pc_next, 0x80001000);
	assert_false(h->mstatus & MSTATUS_SPP);
	assert_true(h->mstatus & MSTATUS_SPIE);
	assert_false(h->mstatus & MSTATUS_SIE);
	assert_int_equal(h->mcause, 0);
}

static void test_trap_not_delegated(void **state)
{
	struct hart *h = &((struct fixture *)*state)->h;
	h->medeleg = 0;
	h->mtvec = 0x80002000;
	set_priv(h, PRV_S);
	h->pc = 0x5678;
	hart_trap(h, CAUSE_LOAD_PAGE_FAULT, 0x42);
	assert_int_equal(h->priv, PRV_M);
	assert_int_equal(h->mcause, CAUSE_LOAD_PAGE_FAULT);
	assert_int_equal(h->mepc, 0x5678);
	assert_int_equal(h->mtval, 0x42);
	assert_int_equal((h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, PRV_S);
	/* A trap taken in M-mode stays in M-mode whatever medeleg says. */
	h->medeleg = ~0ull;
	hart_trap(h, CAUSE_BREAKPOINT, 0);
	assert_int_equal(h->priv, PRV_M);
	assert_int_equal(h->mcause, CAUSE_BREAKPOINT);
	assert_int_equal((h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, PRV_M);
}

static void test_interrupt_selection(void **state)
{
	struct hart *h = &((struct fixture *)*state)->h;
	h->mideleg = MIP_STIP | MIP_SSIP;
	h->mie = MIP_STIP | MIP_SSIP | MIP_MTIP;
	h->stvec = 0x80001001; /* vectored */
	h->mtvec = 0x80002000;
	/* In S-mode with SIE clear, a delegated interrupt waits. */
	set_priv(h, PRV_S);
	atomic_store(&h->mip, MIP_STIP);
	assert_false(hart_check_interrupts(h));
	/* In U-mode it is taken regardless of SIE, vectored. */
	set_priv(h, PRV_U);
	assert_true(hart_check_interrupts(h));
	assert_int_equal(h->priv, PRV_S);
	assert_int_equal(h->scause, CAUSE_INTERRUPT | IRQ_S_TIMER);
	assert_int_equal(h->pc, 0x80001000 + 4 * IRQ_S_TIMER);
	/* A machine interrupt preempts S-mode even with MIE clear, and outranks STIP. */
	atomic_store(&h->mip, MIP_STIP | MIP_MTIP);
	assert_true(hart_check_interrupts(h));
	assert_int_equal(h->priv, PRV_M);
	assert_int_equal(h->mcause, CAUSE_INTERRUPT | IRQ_M_TIMER);
	/* In M-mode with MIE clear nothing is taken. */
	assert_false(hart_check_interrupts(h));
	/* SSIP vs STIP: software interrupt has priority over timer (priv spec 3.1.9). */
	atomic_store(&h->mip, MIP_STIP | MIP_SSIP);
	set_priv(h, PRV_U);
	assert_true(hart_check_interrupts(h));
	assert_int_equal(h->scause, CAUSE_INTERRUPT | IRQ_S_SOFT);
}

/* ---- page tables ---- */

#define PTE_V 1ull
#define PTE_R 2ull
#define PTE_W 4ull
#define PTE_X 8ull
#define PTE_U 16ull
#define PTE_A 64ull
#define PTE_D 128ull

static uint64_t *pte_at(struct fixture *f, uint64_t gpa)
{
	return guest_mem_ptr(&f->mem, gpa, 8);
}

static uint64_t pte(uint64_t pa, uint64_t flags)
{
	return ((pa >> 12) << 10) | flags | PTE_V;
}

/* Sv39: root at RAM+0x10000, level-1 table at +0x11000, level-0 table at +0x12000.
 * VA 0x1000 -> RAM+0x20000 (4 KiB, flags), VA 0x40000000 -> RAM (1 GiB, RWX),
 * VA 0x200000 -> 2 MiB page (misaligned PA). */
static void build_sv39(struct fixture *f, uint64_t leaf_flags)
{
	uint64_t root = RAM + 0x10000, l1 = RAM + 0x11000, l0 = RAM + 0x12000;
	memset(guest_mem_ptr(&f->mem, root, 0x3000), 0, 0x3000);
	*pte_at(f, root + 0 * 8) = pte(l1, 0);
	*pte_at(f, root + 1 * 8) = pte(RAM, PTE_R | PTE_W | PTE_X);
	*pte_at(f, l1 + 0 * 8) = pte(l0, 0);
	*pte_at(f, l1 + 1 * 8) = pte(RAM + 0x1000, PTE_R | PTE_W);
	*pte_at(f, l0 + 1 * 8) = pte(RAM + 0x20000, leaf_flags);
	f->h.satp = (8ull << 60) | (root >> 12);
	hart_flush_tlb(&f->h);
	hart_update_mode(&f->h);
}

static void test_sv39_walk_and_ad_bits(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h;
	uint64_t gpa;
	build_sv39(f, PTE_R | PTE_W);
	set_priv(h, PRV_S);
	assert_int_equal(mmu_translate(h, 0x1abc, MMU_READ, &gpa), 0);
	assert_int_equal(gpa, RAM + 0x20abc);
	uint64_t *leaf = pte_at(f, RAM + 0x12000 + 8);
	assert_true(*leaf & PTE_A);
	assert_false(*leaf & PTE_D);
	assert_int_equal(mmu_translate(h, 0x1abc, MMU_WRITE, &gpa), 0);
	assert_true(*leaf & PTE_D);
	/* Fetch from a page without X. */
	assert_int_equal(mmu_translate(h, 0x1000, MMU_FETCH, &gpa), CAUSE_FETCH_PAGE_FAULT);
	/* 1 GiB page: offset bits come from the VA. */
	assert_int_equal(mmu_translate(h, 0x40123456, MMU_FETCH, &gpa), 0);
	assert_int_equal(gpa, RAM + 0x123456);
	/* Unmapped VA. */
	assert_int_equal(mmu_translate(h, 0x3000, MMU_READ, &gpa), CAUSE_LOAD_PAGE_FAULT);
	assert_int_equal(mmu_translate(h, 0x3000, MMU_WRITE, &gpa), CAUSE_STORE_PAGE_FAULT);
	/* Not sign-extended from bit 38. */
	assert_int_equal(mmu_translate(h, 1ull << 40, MMU_READ, &gpa), CAUSE_LOAD_PAGE_FAULT);
	/* A 2 MiB leaf whose PPN is not 2 MiB aligned is a misaligned superpage. */
	assert_int_equal(mmu_translate(h, 0x200000, MMU_READ, &gpa), CAUSE_LOAD_PAGE_FAULT);
}

static void test_sv39_user_pages(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h;
	uint64_t gpa;
	build_sv39(f, PTE_R | PTE_X | PTE_U);
	set_priv(h, PRV_U);
	assert_int_equal(mmu_translate(h, 0x1000, MMU_READ, &gpa), 0);
	assert_int_equal(mmu_translate(h, 0x1000, MMU_WRITE, &gpa), CAUSE_STORE_PAGE_FAULT);
	/* U-mode cannot touch supervisor pages. */
	assert_int_equal(mmu_translate(h, 0x40000000, MMU_READ, &gpa), CAUSE_LOAD_PAGE_FAULT);
	set_priv(h, PRV_S);
	/* S-mode reads U pages only with SUM, and never executes them. */
	assert_int_equal(mmu_translate(h, 0x1000, MMU_READ, &gpa), CAUSE_LOAD_PAGE_FAULT);
	h->mstatus |= MSTATUS_SUM;
	assert_int_equal(mmu_translate(h, 0x1000, MMU_READ, &gpa), 0);
	assert_int_equal(mmu_translate(h, 0x1000, MMU_FETCH, &gpa), CAUSE_FETCH_PAGE_FAULT);
}

static void test_mxr_and_mprv(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h;
	uint64_t gpa;
	build_sv39(f, PTE_X);
	set_priv(h, PRV_S);
	assert_int_equal(mmu_translate(h, 0x1000, MMU_READ, &gpa), CAUSE_LOAD_PAGE_FAULT);
	h->mstatus |= MSTATUS_MXR;
	assert_int_equal(mmu_translate(h, 0x1000, MMU_READ, &gpa), 0);
	/* M-mode: bare unless MPRV with MPP = S. */
	set_priv(h, PRV_M);
	assert_int_equal(mmu_translate(h, 0x1000, MMU_READ, &gpa), 0);
	assert_int_equal(gpa, 0x1000);
	h->mstatus |= MSTATUS_MPRV | (1ull << MSTATUS_MPP_SHIFT);
	assert_int_equal(mmu_translate(h, 0x1000, MMU_READ, &gpa), 0);
	assert_int_equal(gpa, RAM + 0x20000);
	/* MPRV does not apply to fetches. */
	assert_int_equal(mmu_translate(h, 0x1000, MMU_FETCH, &gpa), 0);
	assert_int_equal(gpa, 0x1000);
}

static void test_sv48_and_bad_tables(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h;
	uint64_t gpa;
	uint64_t l3 = RAM + 0x30000, l2 = RAM + 0x31000;
	memset(guest_mem_ptr(&f->mem, l3, 0x2000), 0, 0x2000);
	/* VA 0x8000000000 (VPN[3] = 1) -> 1 GiB page at RAM. */
	*pte_at(f, l3 + 8) = pte(l2, 0);
	*pte_at(f, l2 + 0) = pte(RAM, PTE_R | PTE_A);
	/* VPN[3] = 2: a table pointer outside RAM. */
	*pte_at(f, l3 + 16) = pte(0x1000000000ull, 0);
	/* VPN[3] = 3: W without R is reserved. */
	*pte_at(f, l3 + 24) = pte(RAM, PTE_W);
	h->satp = (9ull << 60) | (l3 >> 12);
	hart_flush_tlb(h);
	set_priv(h, PRV_S);
	assert_int_equal(mmu_translate(h, 0x8000000123ull, MMU_READ, &gpa), 0);
	assert_int_equal(gpa, RAM + 0x123);
	assert_int_equal(mmu_translate(h, 0x10000000000ull, MMU_READ, &gpa), CAUSE_LOAD_ACCESS);
	assert_int_equal(mmu_translate(h, 0x18000000000ull, MMU_READ, &gpa), CAUSE_LOAD_PAGE_FAULT);
}

static void test_load_store_through_tlb(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h;
	uint64_t v;
	build_sv39(f, PTE_R | PTE_W);
	set_priv(h, PRV_S);
	assert_true(mmu_store(h, 0x1ff8, 8, 0x1122334455667788ull));
	assert_true(mmu_load(h, 0x1ff8, 8, &v));
	assert_int_equal(v, 0x1122334455667788ull);
	/* Misaligned within the page works, and is the same memory. */
	assert_true(mmu_load(h, 0x1ffb, 4, &v));
	assert_int_equal(v, 0x22334455);
	/* Crossing into an unmapped page faults with the faulting address. */
	h->stvec = 0x80000000;
	assert_false(mmu_load(h, 0x1ffc, 8, &v));
	assert_int_equal(h->mcause, CAUSE_LOAD_PAGE_FAULT);
	assert_int_equal(h->mtval, 0x2000);
	/* The store faults before writing anything. */
	set_priv(h, PRV_S);
	assert_false(mmu_store(h, 0x1ffc, 8, 0));
	assert_int_equal(h->mcause, CAUSE_STORE_PAGE_FAULT);
	set_priv(h, PRV_S);
	assert_true(mmu_load(h, 0x1ff8, 8, &v));
	assert_int_equal(v, 0x1122334455667788ull);
}

static void test_sfence_vma_one_address(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h;
	uint64_t v;
	build_sv39(f, PTE_R | PTE_W);
	set_priv(h, PRV_S);
	h->mtvec = 0x80000000;
	/* Cache a 4 KiB page and a page of the 1 GiB superpage. */
	assert_true(mmu_load(h, 0x1000, 8, &v));
	assert_true(mmu_load(h, 0x40010000, 8, &v));
	/* Unmap both, then fence one address inside the superpage but on another 4 KiB page:
	 * the superpage's cached entries must go, the unrelated 4 KiB entry may stay. */
	*pte_at(f, RAM + 0x10000 + 1 * 8) = 0;
	*pte_at(f, RAM + 0x12000 + 1 * 8) = 0;
	hart_flush_tlb_page(h, 0x40200000);
	assert_false(mmu_load(h, 0x40010000, 8, &v));
	assert_int_equal(h->mcause, CAUSE_LOAD_PAGE_FAULT);
	/* Fencing the 4 KiB page's own address drops it too. */
	set_priv(h, PRV_S);
	hart_flush_tlb_page(h, 0x1ff8);
	assert_false(mmu_load(h, 0x1000, 8, &v));
	assert_int_equal(h->mcause, CAUSE_LOAD_PAGE_FAULT);
}

/* sstatus.SUM decides whether S-mode loads and stores reach U pages, through the TLBs too:
 * an entry cached while SUM was set must not serve an access after SUM is cleared, nor the
 * other way round, with no sfence.vma between (priv spec 4.1.1.2). Likewise an M-mode
 * access with MPRV and MPP = S follows SUM. */
static void test_sum_toggles_through_tlb(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h;
	uint64_t v;
	build_sv39(f, PTE_R | PTE_W | PTE_U | PTE_A | PTE_D);
	h->mtvec = 0x80000000;
	set_priv(h, PRV_S);
	for (unsigned round = 0; round < 3; round++) {
		assert_true(csr_write(h, CSR_SSTATUS, MSTATUS_SUM));
		assert_true(mmu_store(h, 0x1008, 8, 0x55aa0000u + round));
		assert_true(mmu_load(h, 0x1008, 8, &v));
		assert_int_equal(v, 0x55aa0000u + round);
		/* A supervisor page is cached alongside. */
		assert_true(mmu_load(h, 0x40010000, 8, &v));

		assert_true(csr_write(h, CSR_SSTATUS, 0));
		assert_false(mmu_load(h, 0x1008, 8, &v));
		assert_int_equal(h->mcause, CAUSE_LOAD_PAGE_FAULT);
		set_priv(h, PRV_S);
		assert_false(mmu_store(h, 0x1008, 8, 0));
		assert_int_equal(h->mcause, CAUSE_STORE_PAGE_FAULT);
		set_priv(h, PRV_S);
		assert_true(mmu_load(h, 0x40010000, 8, &v));
	}
	assert_int_equal(*(uint64_t *)guest_mem_ptr(&f->mem, RAM + 0x20008, 8), 0x55aa0002u);

	/* M-mode with MPRV and MPP = S: the same rule. */
	set_priv(h, PRV_M);
	h->mstatus |= MSTATUS_MPRV | (1ull << MSTATUS_MPP_SHIFT);
	assert_true(csr_write(h, CSR_MSTATUS, h->mstatus | MSTATUS_SUM));
	assert_true(mmu_load(h, 0x1008, 8, &v));
	assert_true(csr_write(h, CSR_MSTATUS, h->mstatus & ~MSTATUS_SUM));
	assert_false(mmu_load(h, 0x1008, 8, &v));
	assert_int_equal(h->mcause, CAUSE_LOAD_PAGE_FAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_csr_privilege, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csr_sstatus_is_a_view, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csr_warl_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csr_counters_and_sstc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csr_fs_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trap_delegated_to_s, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trap_not_delegated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interrupt_selection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sv39_walk_and_ad_bits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sv39_user_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mxr_and_mprv, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sum_toggles_through_tlb, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sv48_and_bad_tables, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_store_through_tlb, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sfence_vma_one_address, setup, teardown),
	};
	return cmocka_run_group_tests_name("cpu", tests, NULL, NULL);
}
