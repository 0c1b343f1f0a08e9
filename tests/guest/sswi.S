/* ACLINT SSWI device (RISC-V ACLINT spec 1.0, chapter 4): the SETSSIP word of hart 0 at
 * 0x2f00000 (where rvisor and QEMU's virt board with aclint=on put the device). A write with
 * bit 0 set sets the hart's mip.SSIP; writing 0, other bits or the word of a hart the machine
 * does not have changes nothing; reads return 0. S-mode, with the interrupt delegated and
 * enabled, takes the supervisor software interrupt its own write raised, and clears it in
 * sip. */
#include "common.h"

DEFINE_TEST("sswi")

#define SSWI_BASE 0x2f00000

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	li s1, SSWI_BASE
	lw t0, 0(s1)
	CHECK(t0, 0)
	SAY("SETSSIP reads as zero")

	/* Delegated and enabled in sie, but taken only in S-mode (M-mode ignores it). */
	li t0, MIP_SSIP
	csrw mideleg, t0
	csrw mie, t0
	li t0, 1
	sw t0, 0(s1)
	csrr t0, mip
	andi t0, t0, MIP_SSIP
	CHECK(t0, MIP_SSIP)
	lw t0, 0(s1)
	CHECK(t0, 0)
	li t0, MIP_SSIP
	csrc mip, t0
	sw zero, 0(s1)
	li t0, 2
	sw t0, 0(s1)
	li t0, 1
	sw t0, 4(s1) /* hart 1: this machine has one hart */
	csrr t0, mip
	andi t0, t0, MIP_SSIP
	CHECK(t0, 0)
	SAY("writing 1 sets mip.SSIP; 0, other bits, another hart's word do nothing")

	SET_SHOOK(s_hook)
	li t0, MSTATUS_SIE
	csrs mstatus, t0
	EXPECT_TRAP_M(2f)
	MRET_TO(PRV_S, s_code)
s_code:
	la s2, s_count
	ld t0, 0(s2)
	CHECK(t0, 0)
	li t0, 1
	sw t0, 0(s1)
	/* Taken at an instruction boundary after the write: wait for it (bounded). */
	li t1, 1000000
1:	ld t0, 0(s2)
	bnez t0, 3f
	addi t1, t1, -1
	bnez t1, 1b
3:	CHECK(t0, 1)
	la t0, s_cause
	ld t0, 0(t0)
	CHECK(t0, INTERRUPT_BIT | IRQ_S_SOFT)
	csrr t0, sip /* the handler cleared it */
	andi t0, t0, MIP_SSIP
	CHECK(t0, 0)
	li a7, 0
	ecall
2:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	SAY("S-mode takes the supervisor software interrupt its write raised")
	CLEAR_SHOOK()
	csrw mie, zero
	csrw mideleg, zero
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* S-mode hook: count supervisor software interrupts, record the cause, clear SSIP. */
s_hook:
	bgez a0, 9f
	la t0, s_count
	ld t1, 0(t0)
	addi t1, t1, 1
	sd t1, 0(t0)
	la t0, s_cause
	sd a0, 0(t0)
	li t0, MIP_SSIP
	csrc sip, t0
	li a0, 0
	ret
9:	li a0, 1
	ret

	.data
	.balign 8
s_count:
	.dword 0
s_cause:
	.dword 0
