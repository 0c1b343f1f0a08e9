/* Svinval (privileged spec, "Svinval" extension; --cpu max, svinval.rvisor-args):
 * sinval.vma, sfence.w.inval and sfence.inval.ir. In M-mode and S-mode they run; a translation
 * changed in S-mode and invalidated with the three (sfence.w.inval; sinval.vma of the page;
 * sfence.inval.ir) is seen changed, as is one invalidated by sinval.vma of everything; with
 * mstatus.TVM set S-mode may not run sinval.vma (as sfence.vma) but may run the two fences;
 * U-mode may run none of them. */
#include "common.h"

DEFINE_TEST("svinval")

/* binutils may not know the mnemonics for rv64g: the encodings. */
#define SINVAL_VMA(rs1, rs2) .insn r 0x73, 0, 0x0b, x0, rs1, rs2
#define SFENCE_W_INVAL .4byte 0x18000073
#define SFENCE_INVAL_IR .4byte 0x18100073

#define VA 0x40000000 /* mapped to page_a, then page_b */

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	SFENCE_W_INVAL
	SINVAL_VMA(x0, x0)
	SFENCE_INVAL_IR
	SAY("M-mode runs them")
	call tables
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, s_remap)
s_remap:
	li s1, VA
	ld t0, 0(s1)
	CHECK(t0, 0xaaaa)
	/* Point the leaf at page_b: the old translation may stay cached until invalidated. */
	la t1, leaf
	ld t1, 0(t1)
	la t2, pte_b
	ld t2, 0(t2)
	sd t2, 0(t1)
	SFENCE_W_INVAL
	SINVAL_VMA(s1, x0)
	SFENCE_INVAL_IR
	ld t0, 0(s1)
	CHECK(t0, 0xbbbb)
	/* And back, with sinval.vma of every address. */
	la t2, pte_a
	ld t2, 0(t2)
	sd t2, 0(t1)
	SFENCE_W_INVAL
	SINVAL_VMA(x0, x0)
	SFENCE_INVAL_IR
	ld t0, 0(s1)
	CHECK(t0, 0xaaaa)
	li a7, 0
	ecall
1:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	SAY("S-mode: a changed translation invalidated by them is seen")

	/* mstatus.TVM: sinval.vma illegal in S-mode, the fences not. */
	li t0, MSTATUS_TVM
	csrs mstatus, t0
	EXPECT_TRAP_M(2f)
	MRET_TO(PRV_S, s_tvm)
s_tvm:
	SFENCE_W_INVAL
	SFENCE_INVAL_IR
s_tvm_sinval:
	SINVAL_VMA(x0, x0)
	FAIL_HERE()
2:	CHECK_ILLEGAL_AT(s_tvm_sinval)
	li t0, MSTATUS_TVM
	csrc mstatus, t0
	SAY("mstatus.TVM: sinval.vma illegal in S-mode, the fences not")

	/* U-mode (no paging: the gigapage is not U's): all three illegal. */
	csrw satp, zero
	sfence.vma
	EXPECT_TRAP_M(3f)
	MRET_TO(PRV_U, u_sinval)
u_sinval:
	SINVAL_VMA(x0, x0)
	FAIL_HERE()
3:	CHECK_ILLEGAL_AT(u_sinval)
	/* The fences: an ecall after each tells a machine that ran it. */
	EXPECT_TRAP_M(4f)
	MRET_TO(PRV_U, u_winval)
u_winval:
	SFENCE_W_INVAL
	li a7, 0
	ecall
4:	TRAP_FIELD(TI_CAUSE)
	li t0, CAUSE_USER_ECALL
	bne t5, t0, 5f
	SAY("deviation: sfence.w.inval runs in U-mode")
	j 6f
5:	CHECK_ILLEGAL_AT(u_winval)
6:	EXPECT_TRAP_M(7f)
	MRET_TO(PRV_U, u_invalir)
u_invalir:
	SFENCE_INVAL_IR
	li a7, 0
	ecall
7:	TRAP_FIELD(TI_CAUSE)
	li t0, CAUSE_USER_ECALL
	bne t5, t0, 8f
	SAY("deviation: sfence.inval.ir runs in U-mode")
	j 9f
8:	CHECK_ILLEGAL_AT(u_invalir)
9:	SAY("U-mode: all three illegal")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Sv39: root[2] maps the gigapage at 0x80000000 to itself (RWX, for S); root[1] (VA 0x40000000)
 * points to l1, l1[0] to l0, l0[0] (the leaf) maps VA to page_a. Records the leaf's address and
 * the two leaf values, then turns paging on. */
tables:
	la a0, root
	la a1, l1
	la a2, l0
	srli t0, a1, 12
	slli t0, t0, PTE_PPN_SHIFT
	ori t0, t0, PTE_V
	sd t0, 8(a0)
	li t0, (0x80000000 >> 12) << PTE_PPN_SHIFT | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
	sd t0, 16(a0)
	srli t0, a2, 12
	slli t0, t0, PTE_PPN_SHIFT
	ori t0, t0, PTE_V
	sd t0, 0(a1)
	la t0, leaf
	sd a2, 0(t0)
	la t1, page_a
	srli t1, t1, 12
	slli t1, t1, PTE_PPN_SHIFT
	ori t1, t1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	la t0, pte_a
	sd t1, 0(t0)
	sd t1, 0(a2)
	la t1, page_b
	srli t1, t1, 12
	slli t1, t1, PTE_PPN_SHIFT
	ori t1, t1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	la t0, pte_b
	sd t1, 0(t0)
	li t0, 0xaaaa
	la t1, page_a
	sd t0, 0(t1)
	li t0, 0xbbbb
	la t1, page_b
	sd t0, 0(t1)
	srli t0, a0, 12
	li t1, SATP_MODE_SV39 << SATP_MODE_SHIFT
	or t0, t0, t1
	csrw satp, t0
	sfence.vma
	ret

	.data
	.balign 8
leaf:
	.dword 0
pte_a:
	.dword 0
pte_b:
	.dword 0

	.bss
	.balign 4096
root:
	.space 4096
l1:
	.space 4096
l0:
	.space 4096
page_a:
	.space 4096
page_b:
	.space 4096
