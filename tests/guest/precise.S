/* Precise traps and interrupts in straight-line code and hot loops (privileged spec 3.1.15,
 * 3.3: a trap is taken at an instruction; every earlier instruction has completed, no later
 * one has). A load and a store fault in the middle of a run of dependent register updates and
 * stores, each repeated so the code is hot: the registers and memory written before the fault
 * hold their new values, those after it their old ones, mepc and mtval name the access. A loop
 * walking a pointer off the end of RAM faults in the iteration that crosses, with the count and
 * sum of the iterations before. A register-heavy loop interrupted every few microseconds by the
 * timer ends with the same results as without interrupts. Tight loops (a jump to itself, an
 * addi and a jump) are left through a timer interrupt whose mepc is in the loop. */
#include "common.h"

DEFINE_TEST("precise")

#define RAM_END (RAM_BASE + 64 * 1024 * 1024) /* run with --mem 64M */
#define HOLE 0x08000000			      /* nothing here on either board */
#define REPEAT 64
#define WALK 64		  /* dwords before the end of RAM */
#define MIX_ROUNDS 2000000 /* iterations of the register-heavy loop */
#define TICK_PERIOD 50	  /* mtime ticks (10 MHz) between interrupts: 5 us */

/* Arm the timer period ticks from now (clobbers t0, t1). */
#define TIMER_IN(period)                                                                           \
	li t0, CLINT_MTIME;                                                                        \
	ld t1, 0(t0);                                                                              \
	addi t1, t1, period;                                                                       \
	li t0, CLINT_MTIMECMP;                                                                     \
	sd t1, 0(t0)
#define TIMER_OFF()                                                                                \
	li t0, CLINT_MTIMECMP;                                                                     \
	li t1, -1;                                                                                 \
	sd t1, 0(t0)

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call load_fault
	call store_fault
	SAY("load and store faults in the middle of a block: state before and after exact")
	call walk_off_ram
	SAY("a hot loop running off the end of RAM faults in the crossing iteration")
	call interrupted_mix
	SAY("a register-heavy loop gives the same results with timer interrupts every 5 us")
	call tight_loops
	SAY("tight loops are left through timer interrupts")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* REPEAT times: a0-a3 computed from each other, then a load from a hole; a4, s3-s5 after it
 * keep their values. */
load_fault:
	mv s11, ra
	li s0, REPEAT
	li s2, HOLE
1:	li a0, 1
	li a1, 2
	li a2, 3
	li a3, 4
	li a4, 5
	li s3, 6
	li s4, 7
	li s5, 8
	EXPECT_TRAP(2f)
	addi a0, a0, 0x10
	addi a1, a0, 0x20
	add a2, a1, a0
	slli a3, a2, 3
load_fault_at:
	ld a4, 0(s2)
	addi s3, s3, 0x10
	addi s4, s3, 0x10
	addi s5, s4, 0x10
	FAIL_HERE()
2:	CHECK(a0, 0x11)
	CHECK(a1, 0x31)
	CHECK(a2, 0x42)
	CHECK(a3, 0x210)
	CHECK(a4, 5)
	CHECK(s3, 6)
	CHECK(s4, 7)
	CHECK(s5, 8)
	CHECK_TRAP_CAUSE(CAUSE_LOAD_ACCESS)
	CHECK_TRAP_EPC(load_fault_at)
	CHECK_TRAP_TVAL(HOLE)
	addi s0, s0, -1
	bnez s0, 1b
	mv ra, s11
	ret

/* REPEAT times: two stores and register updates, a store to a hole, a store and an update
 * that must not happen. */
store_fault:
	mv s11, ra
	li s0, REPEAT
	li s2, HOLE
	la s6, scratch
1:	sd zero, 0(s6)
	sd zero, 8(s6)
	sd zero, 16(s6)
	li a0, 0
	EXPECT_TRAP(2f)
	addi a0, s0, 0x100
	sd a0, 0(s6)
	addi a0, a0, 0x100
	sd a0, 8(s6)
store_fault_at:
	sd a0, 0(s2)
	addi a0, a0, 0x100
	sd a0, 16(s6)
	FAIL_HERE()
2:	addi t0, s0, 0x200
	CHECK_REG(a0, t0)
	ld t1, 0(s6)
	addi t0, s0, 0x100
	CHECK_REG(t1, t0)
	ld t1, 8(s6)
	addi t0, s0, 0x200
	CHECK_REG(t1, t0)
	ld t1, 16(s6)
	CHECK(t1, 0)
	CHECK_TRAP_CAUSE(CAUSE_STORE_ACCESS)
	CHECK_TRAP_EPC(store_fault_at)
	CHECK_TRAP_TVAL(HOLE)
	addi s0, s0, -1
	bnez s0, 1b
	mv ra, s11
	ret

/* The last WALK dwords of RAM hold 1..WALK; a loop sums them and runs on past the end. */
walk_off_ram:
	mv s11, ra
	li s2, RAM_END - WALK * 8
	li t0, 1
	mv t1, s2
1:	sd t0, 0(t1)
	addi t0, t0, 1
	addi t1, t1, 8
	li t2, RAM_END
	bltu t1, t2, 1b
	li s3, 0 /* sum */
	li s4, 0 /* count */
	EXPECT_TRAP(3f)
walk_load:
	ld t0, 0(s2)
	add s3, s3, t0
	addi s2, s2, 8
	addi s4, s4, 1
	j walk_load
3:	CHECK(s4, WALK)
	CHECK(s3, WALK * (WALK + 1) / 2)
	CHECK(s2, RAM_END)
	CHECK_TRAP_CAUSE(CAUSE_LOAD_ACCESS)
	CHECK_TRAP_EPC(walk_load)
	CHECK_TRAP_TVAL(RAM_END)
	mv ra, s11
	ret

/* mix: MIX_ROUNDS iterations over a0-a5; results in a1, a2, a3. */
mix:
	li a0, 0
	li a1, 0x9e3779b97f4a7c15
	li a2, 0
	li a3, 1
	li a6, MIX_ROUNDS
1:	addi a0, a0, 1
	add a2, a2, a1
	xor a3, a3, a2
	slli a4, a3, 7
	srli a5, a3, 9
	xor a3, a4, a5
	add a1, a1, a0
	sub a2, a2, a3
	bne a0, a6, 1b
	ret

interrupted_mix:
	addi sp, sp, -16
	sd ra, 8(sp)
	call mix
	mv s3, a1
	mv s4, a2
	mv s5, a3
	la t0, ticks
	sd zero, 0(t0)
	SET_HOOK(tick_hook)
	li t0, MIP_MTIP
	csrw mie, t0
	TIMER_IN(TICK_PERIOD)
	csrsi mstatus, MSTATUS_MIE
	call mix
	csrci mstatus, MSTATUS_MIE
	TIMER_OFF()
	csrw mie, zero
	CLEAR_HOOK()
	CHECK_REG(a1, s3)
	CHECK_REG(a2, s4)
	CHECK_REG(a3, s5)
	la t0, ticks
	ld s6, 0(t0)
	CHECK_NZ(s6)
	/* how many interrupts came depends on the machine's speed: a note */
	PUTS("# timer interrupts during the loop: ")
	mv a0, s6
	call uart_putdec
	PUTS("\n")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Hook: the M timer interrupt re-arms the timer and counts; anything else is not handled. */
tick_hook:
	li t0, INTERRUPT_BIT | IRQ_M_TIMER
	bne a0, t0, 1f
	TIMER_IN(TICK_PERIOD)
	la t0, ticks
	ld t1, 0(t0)
	addi t1, t1, 1
	sd t1, 0(t0)
	li a0, 0
	ret
1:	li a0, 1
	ret

/* Hook: the M timer interrupt stops the timer and resumes at loop_exit. */
exit_hook:
	li t0, INTERRUPT_BIT | IRQ_M_TIMER
	bne a0, t0, 1f
	TIMER_OFF()
	la t0, loop_exit
	ld t0, 0(t0)
	csrw mepc, t0
	li a0, 0
	ret
1:	li a0, 1
	ret

tight_loops:
	mv s11, ra
	SET_HOOK(exit_hook)
	li t0, MIP_MTIP
	csrw mie, t0
	/* a jump to itself */
	la t0, 1f
	la t1, loop_exit
	sd t0, 0(t1)
	TIMER_IN(1000)
	csrsi mstatus, MSTATUS_MIE
self_jump:
	j self_jump
1:	csrci mstatus, MSTATUS_MIE
	CHECK_TRAP_CAUSE(INTERRUPT_BIT | IRQ_M_TIMER)
	CHECK_TRAP_EPC(self_jump)
	/* a counting loop */
	la t0, 2f
	la t1, loop_exit
	sd t0, 0(t1)
	li s1, 0
	TIMER_IN(1000)
	csrsi mstatus, MSTATUS_MIE
count_loop:
	addi s1, s1, 1
count_jump:
	j count_loop
2:	csrci mstatus, MSTATUS_MIE
	CHECK_NZ(s1)
	CHECK_TRAP_CAUSE(INTERRUPT_BIT | IRQ_M_TIMER)
	/* mepc is one of the loop's two instructions */
	TRAP_FIELD(TI_EPC)
	la t0, count_loop
	beq t5, t0, 3f
	la t0, count_jump
	CHECK_REG(t5, t0)
3:	csrw mie, zero
	CLEAR_HOOK()
	mv ra, s11
	ret

	.data
	.balign 8
ticks:
	.dword 0
loop_exit:
	.dword 0
scratch:
	.zero 32
