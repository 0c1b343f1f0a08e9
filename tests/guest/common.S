/* Run-time support linked into every guest test: the reset entry at 0x80000000, the M-mode and
 * S-mode trap handlers with their expected-trap records and hooks, console output on the
 * ns16550a UART, and pass/fail reporting through the test finisher. See common.h for the
 * conventions. */
#include "common.h"

	.section .text.init, "ax"
	.globl _start
_start:
	/* Only hart 0 runs the test; any other hart parks. */
	csrr t0, mhartid
	bnez t0, park

	la sp, stack_top
	la t0, m_trap_stack_top
	csrw mscratch, t0
	la t0, m_trap_vector
	csrw mtvec, t0

	/* Clear .bss (the loader may or may not have). */
	la t0, __bss_start
	la t1, __bss_end
1:	bgeu t0, t1, 2f
	sd zero, 0(t0)
	addi t0, t0, 8
	j 1b
2:
	/* A known machine state: no interrupts, no delegation, no paging, FP off. */
	csrw mie, zero
	csrw mideleg, zero
	csrw medeleg, zero
	csrw satp, zero
	li t0, MSTATUS_MIE | MSTATUS_SIE | MSTATUS_MPRV | MSTATUS_FS | MSTATUS_TW | MSTATUS_TSR |  \
		MSTATUS_TVM | MSTATUS_SUM | MSTATUS_MXR
	csrc mstatus, t0

	/* The S-mode vector, usable as soon as a test delegates something. */
	la t0, s_trap_stack_top
	csrw sscratch, t0
	la t0, s_trap_vector
	csrw stvec, t0

	/* Open the whole address space to S and U through PMP entry 0 (NAPOT, RWX), as M-mode
	 * firmware does; a machine without PMP traps here and that is fine. */
	EXPECT_TRAP(3f)
	li t0, -1
	csrw pmpaddr0, t0
	li t0, PMP_NAPOT | PMP_R | PMP_W | PMP_X
	csrw pmpcfg0, t0
3:	EXPECT_NO_TRAP()

	call test_main
	j pass

park:
	wfi
	j park

	.text
/* ---- reporting ---- */

/* Report pass: print "<name>: PASS" and stop the machine. */
	.globl pass
pass:
	SAY("PASS")
	li a0, FINISHER_PASS
	j finish

/* A check failed: a0 = line, a1 = got, a2 = expected. Usable from any privilege: reaches the
 * M-mode handler through ecall, which prints the report. */
	.globl check_fail
check_fail:
	li a7, SVC_FAIL
	ecall
	j check_fail

/* M-mode: print the failing check (a0 = line, a1 = got, a2 = expected) and stop. */
report_fail:
	mv s0, a0
	mv s1, a1
	mv s2, a2
	PUTS("FAIL ")
	la a0, test_name
	call uart_puts
	PUTS(": check at line ")
	mv a0, s0
	call uart_putdec
	PUTS(": got ")
	PUTHEX(s1)
	PUTS(", expected ")
	PUTHEX(s2)
	PUTS("\n")
	li a0, (FAIL_CHECK << 16) | FINISHER_FAIL
	j finish

/* M-mode: print an unexpected trap (a0 = cause, a1 = epc, a2 = tval, a3 = previous privilege,
 * a4 = "M" or "S" string of the handler) and stop. */
	.globl report_trap
report_trap:
	mv s0, a0
	mv s1, a1
	mv s2, a2
	mv s3, a3
	mv s4, a4
	PUTS("FAIL ")
	la a0, test_name
	call uart_puts
	PUTS(": unexpected trap to ")
	mv a0, s4
	call uart_puts
	PUTS(": cause ")
	PUTHEX(s0)
	PUTS(" epc ")
	PUTHEX(s1)
	PUTS(" tval ")
	PUTHEX(s2)
	PUTS(" from privilege ")
	mv a0, s3
	call uart_putdec
	PUTS("\n")
	li a0, (FAIL_TRAP << 16) | FINISHER_FAIL
	j finish

/* Write a0 to the test finisher; never returns. */
	.globl finish
finish:
	li t0, FINISHER_BASE
	sw a0, 0(t0)
1:	wfi
	j 1b

/* ---- console: ns16550a, polled. These clobber only a0-a3. ---- */

/* Print the byte in a0. */
	.globl uart_putc
uart_putc:
	li a1, UART_BASE
1:	lbu a2, UART_LSR(a1)
	andi a2, a2, UART_LSR_THRE
	beqz a2, 1b
	sb a0, UART_THR(a1)
	ret

/* Print the NUL-terminated string at a0. */
	.globl uart_puts
uart_puts:
	li a1, UART_BASE
1:	lbu a3, 0(a0)
	beqz a3, 3f
2:	lbu a2, UART_LSR(a1)
	andi a2, a2, UART_LSR_THRE
	beqz a2, 2b
	sb a3, UART_THR(a1)
	addi a0, a0, 1
	j 1b
3:	ret

/* Print a0 as 0x followed by 16 hex digits. */
	.globl uart_puthex
uart_puthex:
	mv a3, a0
	li a1, UART_BASE
	li a0, '0'
1:	lbu a2, UART_LSR(a1)
	andi a2, a2, UART_LSR_THRE
	beqz a2, 1b
	sb a0, UART_THR(a1)
	li a0, 'x'
2:	lbu a2, UART_LSR(a1)
	andi a2, a2, UART_LSR_THRE
	beqz a2, 2b
	sb a0, UART_THR(a1)
	li a0, 60 /* shift of the next nibble */
3:	srl a2, a3, a0
	andi a2, a2, 15
	addi a2, a2, '0'
	li t6, '9'
	ble a2, t6, 4f
	addi a2, a2, 'a' - '0' - 10
4:	lbu t6, UART_LSR(a1)
	andi t6, t6, UART_LSR_THRE
	beqz t6, 4b
	sb a2, UART_THR(a1)
	addi a0, a0, -4
	bgez a0, 3b
	ret

/* Print a0 (unsigned) in decimal. Uses 24 bytes of stack. */
	.globl uart_putdec
uart_putdec:
	addi sp, sp, -32
	sd ra, 24(sp)
	mv a3, a0
	addi a1, sp, 20 /* digits are built backwards from here */
	sb zero, 0(a1)
	li a2, 10
1:	remu t6, a3, a2
	divu a3, a3, a2
	addi t6, t6, '0'
	addi a1, a1, -1
	sb t6, 0(a1)
	bnez a3, 1b
	mv a0, a1
	call uart_puts
	ld ra, 24(sp)
	addi sp, sp, 32
	ret

/* ---- helpers ---- */

/* a0 = length in bytes (2 or 4) of the instruction at address a0 (readable by the caller). */
	.globl insn_len
insn_len:
	lhu a0, 0(a0)
	andi a0, a0, 3
	addi a0, a0, -3
	seqz a0, a0
	slli a0, a0, 1
	addi a0, a0, 2
	ret

/* Check that the trap recorded at a0 (trap_info or strap_info) is an illegal instruction at
 * address a1 whose tval is 0 or the instruction's bits. Clobbers a0, a1, t0, t5, t6. */
	.globl check_illegal_trap
check_illegal_trap:
	ld t5, TI_CAUSE(a0)
	CHECK(t5, CAUSE_ILLEGAL_INSTRUCTION)
	ld t5, TI_EPC(a0)
	CHECK_REG(t5, a1)
	ld t5, TI_TVAL(a0)
	beqz t5, 2f
	lwu t0, 0(a1)
	andi t6, t0, 3
	addi t6, t6, -3
	beqz t6, 1f
	slli t0, t0, 48 /* a compressed instruction: 16 bits */
	srli t0, t0, 48
1:	CHECK_REG(t5, t0)
2:	ret

/* a0 = mtime (CLINT). */
	.globl read_mtime
read_mtime:
	li a0, CLINT_MTIME
	ld a0, 0(a0)
	ret

/* ---- trap handlers ----
 * One body for M and S, instantiated by a macro: save every register on the handler's own stack
 * (xscratch holds its top; xscratch is 0 while the handler runs, so a trap inside the handler is
 * recognised), record cause/epc/tval/previous privilege, then in order:
 *  1. an ecall carrying a service number in a7 (SVC_*) is served;
 *  2. a hook, if installed, is called: a0 = cause, a1 = epc, a2 = tval, a3 = frame (saved
 *     registers, FRAME_X(n)); it may change xepc and the frame, and returns a0 = 0 when it
 *     handled the trap, nonzero to continue with step 3;
 *  3. an armed resume address (EXPECT_TRAP*) is used once: xepc = it, optionally in the
 *     handler's own mode (then with xIE = 0);
 *  4. anything else is an unexpected trap: report and fail. */

.macro SAVE_REGS
	sd x1, 1*8(sp)
	sd x3, 3*8(sp)
	sd x4, 4*8(sp)
	sd x5, 5*8(sp)
	sd x6, 6*8(sp)
	sd x7, 7*8(sp)
	sd x8, 8*8(sp)
	sd x9, 9*8(sp)
	sd x10, 10*8(sp)
	sd x11, 11*8(sp)
	sd x12, 12*8(sp)
	sd x13, 13*8(sp)
	sd x14, 14*8(sp)
	sd x15, 15*8(sp)
	sd x16, 16*8(sp)
	sd x17, 17*8(sp)
	sd x18, 18*8(sp)
	sd x19, 19*8(sp)
	sd x20, 20*8(sp)
	sd x21, 21*8(sp)
	sd x22, 22*8(sp)
	sd x23, 23*8(sp)
	sd x24, 24*8(sp)
	sd x25, 25*8(sp)
	sd x26, 26*8(sp)
	sd x27, 27*8(sp)
	sd x28, 28*8(sp)
	sd x29, 29*8(sp)
	sd x30, 30*8(sp)
	sd x31, 31*8(sp)
.endm

.macro RESTORE_REGS
	ld x1, 1*8(sp)
	ld x3, 3*8(sp)
	ld x4, 4*8(sp)
	ld x5, 5*8(sp)
	ld x6, 6*8(sp)
	ld x7, 7*8(sp)
	ld x8, 8*8(sp)
	ld x9, 9*8(sp)
	ld x10, 10*8(sp)
	ld x11, 11*8(sp)
	ld x12, 12*8(sp)
	ld x13, 13*8(sp)
	ld x14, 14*8(sp)
	ld x15, 15*8(sp)
	ld x16, 16*8(sp)
	ld x17, 17*8(sp)
	ld x18, 18*8(sp)
	ld x19, 19*8(sp)
	ld x20, 20*8(sp)
	ld x21, 21*8(sp)
	ld x22, 22*8(sp)
	ld x23, 23*8(sp)
	ld x24, 24*8(sp)
	ld x25, 25*8(sp)
	ld x26, 26*8(sp)
	ld x27, 27*8(sp)
	ld x28, 28*8(sp)
	ld x29, 29*8(sp)
	ld x30, 30*8(sp)
	ld x31, 31*8(sp)
	ld x2, 2*8(sp)
.endm

/* x: m or s; info: the trap record; priv_shift/priv_mask: previous-privilege field of xstatus;
 * up_bits: xstatus bits that make xret stay in the handler's mode; pie_bit: xPIE, cleared when
 * resuming in the handler's mode so that xIE stays 0 there. */
.macro TRAP_VECTOR x, info, priv_shift, priv_mask, up_bits, pie_bit
	.balign 4
\x\()_trap_vector:
	csrrw sp, \x\()scratch, sp
	beqz sp, \x\()_trap_nested
	addi sp, sp, -FRAME_SIZE
	SAVE_REGS
	csrrw t0, \x\()scratch, zero
	sd t0, 2*8(sp)

	csrr a0, \x\()cause
	csrr a1, \x\()epc
	csrr a2, \x\()tval
	la t0, \info
	sd a0, TI_CAUSE(t0)
	sd a1, TI_EPC(t0)
	sd a2, TI_TVAL(t0)
	ld t1, TI_COUNT(t0)
	addi t1, t1, 1
	sd t1, TI_COUNT(t0)
	csrr t1, \x\()status
	sd t1, TI_STATUS(t0)
	srli t1, t1, \priv_shift
	andi t1, t1, \priv_mask
	sd t1, TI_PRIV(t0)

	/* 1. services: ecall (cause 8, 9 or 11) with a7 = SVC_* */
	bltz a0, 2f
	li t1, CAUSE_USER_ECALL
	bltu a0, t1, 2f
	li t1, CAUSE_MACHINE_ECALL
	bgtu a0, t1, 2f
	ld t1, 17*8(sp)
	li t2, SVC_TO_M
	beq t1, t2, \x\()_svc_to_m
	li t2, SVC_FAIL
	beq t1, t2, \x\()_svc_fail
	li t2, SVC_STRAP
	beq t1, t2, \x\()_svc_strap
2:
	/* 2. the hook */
	ld t1, TI_HOOK(t0)
	beqz t1, 3f
	mv a3, sp
	jalr t1
	beqz a0, \x\()_trap_return
	csrr a0, \x\()cause
	csrr a1, \x\()epc
	csrr a2, \x\()tval
	la t0, \info
3:
	/* 3. an expected trap */
	ld t1, TI_RESUME(t0)
	beqz t1, \x\()_trap_unexpected
	sd zero, TI_RESUME(t0)
	csrw \x\()epc, t1
	ld t1, TI_RESUME_UP(t0)
	beqz t1, \x\()_trap_return
	sd zero, TI_RESUME_UP(t0)
	li t1, \up_bits
	csrs \x\()status, t1
	li t1, \pie_bit
	csrc \x\()status, t1

\x\()_trap_return:
	addi t0, sp, FRAME_SIZE
	csrw \x\()scratch, t0
	RESTORE_REGS
	\x\()ret
.endm

	TRAP_VECTOR m, trap_info, 11, 3, MSTATUS_MPP, MSTATUS_MPIE
	TRAP_VECTOR s, strap_info, 8, 1, MSTATUS_SPP, MSTATUS_SPIE

/* M-mode services. */
m_svc_to_m:
	addi a1, a1, 4
	csrw mepc, a1
	li t1, MSTATUS_MPP
	csrs mstatus, t1
	j m_trap_return
m_svc_fail:
	ld a0, 10*8(sp)
	ld a1, 11*8(sp)
	ld a2, 12*8(sp)
	j report_fail
m_svc_strap:
	ld a0, 10*8(sp)
	ld a1, 11*8(sp)
	ld a2, 12*8(sp)
	ld a3, 13*8(sp)
	la a4, str_s_mode
	j report_trap
m_trap_unexpected:
	ld a3, TI_PRIV(t0)
	la a4, str_m_mode
	j report_trap
m_trap_nested:
	/* Trap inside the M handler (or in a hook). A failing check there still reports itself. */
	la sp, fatal_stack_top
	csrr t0, mcause
	addi t0, t0, -CAUSE_MACHINE_ECALL
	bnez t0, 1f
	li t0, SVC_FAIL
	beq a7, t0, report_fail
1:	PUTS("FAIL: trap inside the M-mode trap handler: mcause ")
	csrr a0, mcause
	call uart_puthex
	PUTS(" mepc ")
	csrr a0, mepc
	call uart_puthex
	PUTS(" mtval ")
	csrr a0, mtval
	call uart_puthex
	PUTS("\n")
	li a0, (FAIL_NESTED << 16) | FINISHER_FAIL
	j finish

/* S-mode services: a failure goes on to the M-mode handler, which can print. Returning to
 * M-mode from U-mode is not served while U-mode ecalls are delegated to S. */
s_svc_fail:
	RESTORE_REGS
	ecall
	j check_fail
s_svc_to_m:
s_svc_strap:
s_trap_unexpected:
s_trap_nested:
	csrr a0, scause
	csrr a1, sepc
	csrr a2, stval
	csrr a3, sstatus
	srli a3, a3, 8 /* SPP */
	andi a3, a3, 1
	li a7, SVC_STRAP
	ecall
1:	j 1b

	.section .rodata
str_m_mode:
	.asciz "M-mode"
str_s_mode:
	.asciz "S-mode"

	.data
	.balign 8
/* struct trap_info for M-mode and S-mode handlers; TI_* offsets. */
	.globl trap_info
trap_info:
	.zero TI_SIZE
	.globl strap_info
strap_info:
	.zero TI_SIZE

	.bss
	.balign 16
	.zero 4096
m_trap_stack_top:
	.zero 4096
s_trap_stack_top:
	.zero 1024
fatal_stack_top:
	.zero 16384
	.globl stack_top
stack_top:
