/* One load or store instruction, run again after the translation it used changed, must see
 * the change (privileged spec 4.2.1: after sfence.vma, and after a write to satp or to
 * mstatus.SUM/MXR/MPRV/MPP, accesses use the new translation and permissions). Every case
 * runs the same small functions (load64, store64, store32) many times before and after the
 * change, so that a machine which keeps a copy of an address translation per instruction (as
 * rvisor's translator does) is made to drop it:
 * - a page remapped to another physical page, with sfence.vma of its address and of all;
 * - a store's page remapped; a page made read-only (the store faults);
 * - SUM cleared after S-mode read a U page; MXR cleared after a read of an execute-only page;
 * - M-mode with MPRV and MPP = U after the same load ran bare (it faults), MPP = S (it works);
 * - more than a thousand distinct loads of one page, remapped;
 * - a store that filled code, then its page translated, then the same store rewriting it
 *   before fence.i (the new code must run). */
#include "common.h"

DEFINE_TEST("remap")

#define VA0 0xc0000000 /* root[3] -> l1 -> l0: the pages under test */
#define VA1 0xc0001000
#define VA2 0xc0002000
#define MEGA_VA 0x100000000 /* root[4] -> l1b[0]: a 2 MiB page, RAM's first or second */
#define MANY 1100 /* distinct load instructions in many_loads */

#define LEAF_RW (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define LEAF_RWX (LEAF_RW | PTE_X)

/* table[index] = a PTE for the physical address in t1 (clobbers t0, t2). */
#define SET_PTE_T1(table, index, flags)                                                            \
	srli t0, t1, 12;                                                                           \
	slli t0, t0, PTE_PPN_SHIFT;                                                                \
	ori t0, t0, flags;                                                                         \
	la t2, table + (index) * 8;                                                                \
	sd t0, 0(t2)
/* The same for the physical address of symbol sym, or a constant physical address pa. */
#define SET_PTE(table, index, sym, flags)                                                          \
	la t1, sym;                                                                                \
	SET_PTE_T1(table, index, flags)
#define SET_PTE_PA(table, index, pa, flags)                                                        \
	li t1, pa;                                                                                 \
	SET_PTE_T1(table, index, flags)

/* a0 = load64(va_reg), run n times, each result checked against v. */
#define LOAD_N(n, va_reg, v)                                                                       \
	li s5, n;                                                                                  \
	19980:;                                                                                    \
	mv a0, va_reg;                                                                             \
	call load64;                                                                               \
	CHECK(a0, v);                                                                              \
	addi s5, s5, -1;                                                                           \
	bnez s5, 19980b
/* store64(va_reg, v), run n times. */
#define STORE_N(n, va_reg, v)                                                                      \
	li s5, n;                                                                                  \
	19981:;                                                                                    \
	mv a0, va_reg;                                                                             \
	li a1, v;                                                                                  \
	call store64;                                                                              \
	addi s5, s5, -1;                                                                           \
	bnez s5, 19981b
/* Call fn with a0 = va_reg; it must raise cause with mtval = va_reg. */
#define CALL_FAULTS(fn, cause, va_reg)                                                             \
	EXPECT_TRAP(19982f);                                                                       \
	mv a0, va_reg;                                                                             \
	call fn;                                                                                   \
	FAIL_HERE();                                                                               \
	19982:;                                                                                    \
	CHECK_TRAP_CAUSE(cause);                                                                   \
	TRAP_FIELD(TI_TVAL);                                                                       \
	CHECK_REG(t5, va_reg)

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* root: MMIO and RAM identity gigapages (RWX, not U), root[3] -> l1 -> l0 */
	SET_PTE_PA(root, 0, 0, LEAF_RW)
	SET_PTE_PA(root, 2, 0x80000000, LEAF_RWX)
	SET_PTE(root, 3, l1, PTE_V)
	SET_PTE(l1, 0, l0, PTE_V)
	SET_PTE(l0, 0, page_a, LEAF_RW)
	SET_PTE(l0, 1, page_b, LEAF_RW | PTE_U)
	SET_PTE(l0, 2, page_a, PTE_V | PTE_X | PTE_A)
	SET_PTE(root, 4, l1b, PTE_V)
	SET_PTE_PA(l1b, 0, 0x80000000, LEAF_RW)
	la t0, page_a
	li t1, 0x1111
	sd t1, 0(t0)
	la t0, page_b
	li t1, 0x2222
	sd t1, 0(t0)
	la t1, root
	srli t1, t1, 12
	li t0, SATP_MODE_SV39 << SATP_MODE_SHIFT
	or t0, t0, t1
	csrw satp, t0
	sfence.vma
	EXPECT_TRAP_M(s_done)
	MRET_TO(PRV_S, s_checks)
s_done:
	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	call m_checks
	csrw satp, zero
	sfence.vma
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* ---- S-mode, Sv39 ---- */
s_checks:
	li s2, VA0
	li s3, VA1
	li s4, VA2

	/* A load's page remapped: sfence.vma of the address, then of everything. */
	LOAD_N(50, s2, 0x1111)
	SET_PTE(l0, 0, page_b, LEAF_RW)
	sfence.vma s2
	LOAD_N(50, s2, 0x2222)
	SET_PTE(l0, 0, page_a, LEAF_RW)
	sfence.vma
	LOAD_N(50, s2, 0x1111)
	SAY("load after remap")

	/* A store's page remapped. */
	STORE_N(50, s2, 0x77)
	SET_PTE(l0, 0, page_b, LEAF_RW)
	sfence.vma s2
	STORE_N(50, s2, 0x88)
	la t0, page_a
	ld t1, 0(t0)
	CHECK(t1, 0x77)
	la t0, page_b
	ld t1, 0(t0)
	CHECK(t1, 0x88)

	/* The page made read-only: the same store faults and writes nothing. */
	SET_PTE(l0, 0, page_a, LEAF_RW)
	sfence.vma s2
	STORE_N(50, s2, 0x99)
	SET_PTE(l0, 0, page_a, PTE_V | PTE_R | PTE_A | PTE_D)
	sfence.vma s2
	li a1, 0xaa
	CALL_FAULTS(store64, CAUSE_STORE_PAGE_FAULT, s2)
	la t0, page_a
	ld t1, 0(t0)
	CHECK(t1, 0x99)
	SET_PTE(l0, 0, page_a, LEAF_RW)
	sfence.vma s2
	SAY("store after remap and write protection")

	/* SUM cleared: the load of a U page that worked faults. */
	li t0, MSTATUS_SUM
	csrs sstatus, t0
	LOAD_N(50, s3, 0x88)
	li t0, MSTATUS_SUM
	csrc sstatus, t0
	CALL_FAULTS(load64, CAUSE_LOAD_PAGE_FAULT, s3)

	/* MXR cleared: the load of an execute-only page that worked faults. */
	li t0, MSTATUS_MXR
	csrs sstatus, t0
	LOAD_N(50, s4, 0x99)
	li t0, MSTATUS_MXR
	csrc sstatus, t0
	CALL_FAULTS(load64, CAUSE_LOAD_PAGE_FAULT, s4)
	SAY("SUM and MXR cleared")

	/* A 2 MiB page remapped, with sfence.vma of another 4 KiB page inside it: the load of
	 * page_a through it must see the new megapage (0x80200000 up: the same offset holds
	 * 0x5a5a there, written through the identity gigapage). */
	la t0, page_a
	li t1, 0x200000
	add t1, t0, t1
	li t2, 0x5a5a
	sd t2, 0(t1)
	li t1, 0x80000000
	sub t0, t0, t1
	li s6, MEGA_VA
	add s6, s6, t0
	LOAD_N(50, s6, 0x99)
	SET_PTE_PA(l1b, 0, 0x80200000, LEAF_RW)
	li t0, MEGA_VA + 0x10000
	sfence.vma t0
	LOAD_N(50, s6, 0x5a5a)
	SAY("megapage remapped")

	/* More distinct loads than a machine may keep copies for, then the page remapped. */
	li s5, 3
1:	mv a0, s2
	call many_loads
	CHECK(a0, MANY * 0x99)
	addi s5, s5, -1
	bnez s5, 1b
	SET_PTE(l0, 0, page_b, LEAF_RW)
	sfence.vma s2
	mv a0, s2
	call many_loads
	CHECK(a0, MANY * 0x88)
	SAY("many loads remapped")

	EXPECT_TRAP_M(s_done)
	li a7, 0
	ecall

/* ---- M-mode ---- */
m_checks:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* MPRV: the load that ran bare, then with MPP = U (a supervisor page: it faults), then
	 * with MPP = S (the identity gigapage: it works). */
	la s2, page_a
	LOAD_N(50, s2, 0x99)
	EXPECT_TRAP(1f) /* before MPRV: the macro's own stores must not fault */
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, MSTATUS_MPRV
	csrs mstatus, t0
	mv a0, s2
	call load64
	FAIL_HERE()
1:	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	CHECK_TRAP_CAUSE(CAUSE_LOAD_PAGE_FAULT)
	li t0, MSTATUS_MPP_S | MSTATUS_MPRV
	csrs mstatus, t0
	mv a0, s2
	call load64
	mv s3, a0
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	CHECK(s3, 0x99)
	SAY("MPRV after bare accesses")

	/* Code written by one store instruction, run, rewritten by the same store, run. */
	la s2, code_buf
	li s3, 1
2:	mv a0, s2
	li a1, 0x00000513 /* addi a0, zero, 0, immediate below */
	slli t0, s3, 20
	or a1, a1, t0
	call store32
	addi a0, s2, 4
	li a1, 0x00008067 /* ret */
	call store32
	fence.i
	jalr s2
	CHECK_REG(a0, s3)
	jalr s2
	CHECK_REG(a0, s3)
	addi s3, s3, 1
	li t0, 20
	bne s3, t0, 2b
	SAY("code rewritten by one store")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

load64:
	ld a0, 0(a0)
	ret
store64:
	sd a1, 0(a0)
	ret
store32:
	sw a1, 0(a0)
	ret
/* a0 = the sum of MANY loads of 0(a0), each a different instruction */
many_loads:
	mv t0, a0
	li a0, 0
	.rept MANY
	ld t1, 0(t0)
	add a0, a0, t1
	.endr
	ret

	.data
	.balign 4096
code_buf:
	.zero 4096

	.bss
	.balign 4096
root:
	.zero 4096
l1:
	.zero 4096
l0:
	.zero 4096
l1b:
	.zero 4096
page_a:
	.zero 4096
page_b:
	.zero 4096
