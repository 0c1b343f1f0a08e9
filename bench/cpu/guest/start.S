/* Entry of a benchmark guest program, in M-mode at 0x80000000: hart 0 sets up the stack, gp,
 * a trap vector and the FPU (mstatus.FS, privileged spec 3.1.6.6), clears .bss and calls
 * guest_main; its status goes to the test finisher (0x5555 pass, status << 16 | 0x3333 fail). */
#define FINISHER_BASE 0x100000
#define FINISHER_PASS 0x5555
#define FINISHER_FAIL 0x3333
#define MSTATUS_FS_INITIAL (1 << 13)

	.section .text.init, "ax"
	.globl _start
_start:
	csrr t0, mhartid
	bnez t0, park
	.option push
	.option norelax
	la gp, __global_pointer$
	.option pop
	la sp, __stack_top
	la t0, trap_vector
	csrw mtvec, t0
	li t0, MSTATUS_FS_INITIAL
	csrs mstatus, t0
	csrw fcsr, zero
	csrw mscratch, zero

	la t0, __bss_start
	la t1, __bss_end
1:	bgeu t0, t1, 2f
	sd zero, 0(t0)
	addi t0, t0, 8
	j 1b
2:
	call guest_main
finish:
	li t0, FINISHER_BASE
	li t1, FINISHER_PASS
	beqz a0, 3f
	slli t1, a0, 16
	li t2, FINISHER_FAIL
	or t1, t1, t2
3:	sw t1, 0(t0)
park:
	wfi
	j park

/* Any trap is a failure: guest_trap reports it and returns the status. mscratch is 0 until
 * the first trap, so a trap while reporting one ends the program at once (status 5). */
	.balign 4
trap_vector:
	csrrwi t0, mscratch, 1
	li a0, 5
	bnez t0, finish
	la sp, __stack_top
	csrr a0, mcause
	csrr a1, mepc
	csrr a2, mtval
	call guest_trap
	j finish
