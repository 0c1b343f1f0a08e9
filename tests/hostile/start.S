/* Entry and trap vector of the hostile-guest cases (hostile.h). Built twice: for M-mode
 * (the reset entry at 0x80000000, mtvec) and with HOSTILE_SMODE for S-mode (the kernel entry
 * at 0x80200000 on rvisor's SBI, stvec). Only hart 0 runs a case; other harts go to
 * hart_park (a case may replace it with secondary_main). */
#ifdef HOSTILE_SMODE
#define XTVEC stvec
#define XEPC sepc
#define XCAUSE scause
#define XTVAL stval
#define XRET sret
#else
#define XTVEC mtvec
#define XEPC mepc
#define XCAUSE mcause
#define XTVAL mtval
#define XRET mret
#endif

#define FRAME 272

	.section .text.init, "ax"
	.globl _start
_start:
	.option push
	.option norelax
	la gp, __global_pointer$
	.option pop
#ifdef HOSTILE_SMODE
	mv t0, a0 /* a0 = hartid under the SBI */
#else
	csrr t0, mhartid
#endif
	bnez t0, secondary
	la sp, stack_top
	la t0, trap_entry
	csrw XTVEC, t0
	la t0, __bss_start
	la t1, __bss_end
1:	bgeu t0, t1, 2f
	sd zero, 0(t0)
	addi t0, t0, 8
	j 1b
2:
#ifndef HOSTILE_SMODE
	/* No interrupts, no delegation; open the address space to S/U through PMP entry 0
	 * where there is PMP (a trap here is skipped: mtvec is set). */
	csrw mie, zero
	csrw mideleg, zero
	csrw medeleg, zero
	li t0, -1
	csrw pmpaddr0, t0
	li t0, 0x1f
	csrw pmpcfg0, t0
#endif
	call lib_main
3:	j 3b

/* Other harts: a stack of their own (4 KiB each, up to 4 harts), then secondary_entry. */
secondary:
	la sp, hart_stacks
	addi t1, t0, 1
	slli t1, t1, 12
	add sp, sp, t1
	la t1, trap_entry
	csrw XTVEC, t1
	mv a0, t0
	call secondary_entry
4:	wfi
	j 4b

/* Save every register, call trap_c(frame), restore (trap_c may change the saved pc). */
	.text
	.align 4
	.globl trap_entry
trap_entry:
	addi sp, sp, -FRAME
	sd x1, 8(sp)
	sd x3, 24(sp)
	sd x4, 32(sp)
	sd x5, 40(sp)
	sd x6, 48(sp)
	sd x7, 56(sp)
	sd x8, 64(sp)
	sd x9, 72(sp)
	sd x10, 80(sp)
	sd x11, 88(sp)
	sd x12, 96(sp)
	sd x13, 104(sp)
	sd x14, 112(sp)
	sd x15, 120(sp)
	sd x16, 128(sp)
	sd x17, 136(sp)
	sd x18, 144(sp)
	sd x19, 152(sp)
	sd x20, 160(sp)
	sd x21, 168(sp)
	sd x22, 176(sp)
	sd x23, 184(sp)
	sd x24, 192(sp)
	sd x25, 200(sp)
	sd x26, 208(sp)
	sd x27, 216(sp)
	sd x28, 224(sp)
	sd x29, 232(sp)
	sd x30, 240(sp)
	sd x31, 248(sp)
	addi t0, sp, FRAME
	sd t0, 16(sp)
	csrr t0, XEPC
	sd t0, 256(sp)
	mv a0, sp
	call trap_c
	ld t0, 256(sp)
	csrw XEPC, t0
	ld x1, 8(sp)
	ld x3, 24(sp)
	ld x4, 32(sp)
	ld x5, 40(sp)
	ld x6, 48(sp)
	ld x7, 56(sp)
	ld x8, 64(sp)
	ld x9, 72(sp)
	ld x10, 80(sp)
	ld x11, 88(sp)
	ld x12, 96(sp)
	ld x13, 104(sp)
	ld x14, 112(sp)
	ld x15, 120(sp)
	ld x16, 128(sp)
	ld x17, 136(sp)
	ld x18, 144(sp)
	ld x19, 152(sp)
	ld x20, 160(sp)
	ld x21, 168(sp)
	ld x22, 176(sp)
	ld x23, 184(sp)
	ld x24, 192(sp)
	ld x25, 200(sp)
	ld x26, 208(sp)
	ld x27, 216(sp)
	ld x28, 224(sp)
	ld x29, 232(sp)
	ld x30, 240(sp)
	ld x31, 248(sp)
	ld sp, 16(sp)
	XRET

/* int try_call(fn, arg, smode): callee-saved registers, ra and sp go to try_buf; a trap
 * resumes at try_resume (trap_c sets the pc and the mode), which returns 1. */
	.globl try_call
try_call:
	la t0, try_buf
	sd ra, 0(t0)
	sd sp, 8(t0)
	sd s0, 16(t0)
	sd s1, 24(t0)
	sd s2, 32(t0)
	sd s3, 40(t0)
	sd s4, 48(t0)
	sd s5, 56(t0)
	sd s6, 64(t0)
	sd s7, 72(t0)
	sd s8, 80(t0)
	sd s9, 88(t0)
	sd s10, 96(t0)
	sd s11, 104(t0)
	sd gp, 112(t0)
	sd tp, 120(t0)
	li t1, 1
	sd t1, 128(t0) /* armed */
	mv t1, a0
	mv a0, a1
#ifndef HOSTILE_SMODE
	beqz a2, 1f
	/* Enter fn in S-mode: mret with MPP = S, returning to s_return. */
	li t2, 3 << 11
	csrc mstatus, t2
	li t2, 1 << 11
	csrs mstatus, t2
	csrw mepc, t1
	la ra, s_return
	mret
1:
#endif
	jalr t1
	la t0, try_buf
	sd zero, 128(t0)
	li a0, 0
	ld ra, 0(t0)
	ret

/* fn in S-mode returned: an ecall with a7 = 0x48535452 tells trap_c to resume as returned. */
s_return:
	li a7, 0x48535452
	ecall
1:	j 1b

	.globl try_resume
try_resume:
	/* a0 = the value try_call returns (set by trap_c). */
	la t0, try_buf
	sd zero, 128(t0)
	ld ra, 0(t0)
	ld sp, 8(t0)
	ld s0, 16(t0)
	ld s1, 24(t0)
	ld s2, 32(t0)
	ld s3, 40(t0)
	ld s4, 48(t0)
	ld s5, 56(t0)
	ld s6, 64(t0)
	ld s7, 72(t0)
	ld s8, 80(t0)
	ld s9, 88(t0)
	ld s10, 96(t0)
	ld s11, 104(t0)
	ld gp, 112(t0)
	ld tp, 120(t0)
	ret

	.bss
	.align 4
	.globl try_buf
try_buf:
	.space 136
	.align 12
	.space 16384
stack_top:
	.globl hart_stacks
hart_stacks:
	.space 4096 * 5
