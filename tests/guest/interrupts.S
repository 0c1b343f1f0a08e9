/* Interrupts (privileged spec 3.1.9, 3.3.3; ACLINT; PLIC 1.0): the machine timer (MTIP pending
 * once mtime reaches mtimecmp, cleared by moving mtimecmp), machine software interrupts
 * through msip, the priority of simultaneous interrupts, supervisor software and timer
 * interrupts delegated with mideleg (and the same SSIP taken in M-mode when not delegated),
 * Sstc's stimecmp when the machine has it, wfi waking on a pending interrupt in M and in S,
 * and an external interrupt from the UART through the PLIC. Every wait is bounded by mtime. */
#include "common.h"

DEFINE_TEST("interrupts")

#define TICKS_1MS (TIMEBASE_HZ / 1000)
#define TICKS_1S TIMEBASE_HZ

/* PLIC registers (context 0 = hart 0 M-mode, context 1 = hart 0 S-mode) */
#define UART_IRQ 10
#define PLIC_PRIORITY(src) (PLIC_BASE + 4 * (src))
#define PLIC_PENDING (PLIC_BASE + 0x1000)
#define PLIC_ENABLE(ctx) (PLIC_BASE + 0x2000 + 0x80 * (ctx))
#define PLIC_THRESHOLD(ctx) (PLIC_BASE + 0x200000 + 0x1000 * (ctx))
#define PLIC_CLAIM(ctx) (PLIC_BASE + 0x200004 + 0x1000 * (ctx))
#define UART_IER_ETBEI 0x02

/* s3 = mtime + ticks (a deadline) */
#define DEADLINE(ticks)                                                                            \
	li t0, CLINT_MTIME;                                                                        \
	ld s3, 0(t0);                                                                              \
	li t0, ticks;                                                                              \
	add s3, s3, t0
/* Fail if mtime has passed the deadline in s3. */
#define CHECK_DEADLINE()                                                                           \
	li t0, CLINT_MTIME;                                                                        \
	ld t0, 0(t0);                                                                              \
	sltu t0, t0, s3;                                                                           \
	CHECK(t0, 1)
#define SET_MTIMECMP(reg)                                                                          \
	li t0, CLINT_MTIMECMP;                                                                     \
	sd reg, 0(t0)
#define IRQ_COUNT(reg)                                                                             \
	la reg, irq_count;                                                                         \
	ld reg, 0(reg)
#define S_IRQ_COUNT(reg)                                                                           \
	la reg, s_irq_count;                                                                       \
	ld reg, 0(reg)
/* The n-th interrupt logged by the M-mode (S-mode) hook. */
#define IRQ_LOG(reg, n)                                                                            \
	la reg, irq_log;                                                                           \
	ld reg, (n) * 8(reg)
#define S_IRQ_LOG(reg, n)                                                                          \
	la reg, s_irq_log;                                                                         \
	ld reg, (n) * 8(reg)

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	li t0, -1
	SET_MTIMECMP(t0)
	li t0, CLINT_MSIP
	sw zero, 0(t0)
	SET_HOOK(m_irq_hook)
	SET_SHOOK(s_irq_hook)
	call timer
	SAY("machine timer")
	call software
	SAY("machine software interrupt")
	call priority
	SAY("priority: software before timer")
	call supervisor_soft
	SAY("supervisor software interrupt, delegated or not")
	call supervisor_timer
	SAY("supervisor timer interrupt through mip.STIP")
	call sstc
	call wfi_wake
	SAY("wfi wakes in M and S")
	call external
	SAY("UART interrupt through the PLIC")
	CLEAR_HOOK()
	CLEAR_SHOOK()
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Clear the interrupt log and counters. */
reset_log:
	la t0, irq_count
	sd zero, 0(t0)
	la t0, s_irq_count
	sd zero, 0(t0)
	ret

/* M-mode hook: log the interrupt (cause, mtime) and silence its source. */
m_irq_hook:
	bgez a0, 9f
	la t0, irq_count
	ld t1, 0(t0)
	addi t2, t1, 1
	sd t2, 0(t0)
	andi t1, t1, 7
	slli t1, t1, 3
	la t0, irq_log
	add t0, t0, t1
	sd a0, 0(t0)
	li t0, CLINT_MTIME
	ld t1, 0(t0)
	la t0, irq_mtime
	sd t1, 0(t0)
	slli t0, a0, 1
	srli t0, t0, 1
	li t1, IRQ_M_TIMER
	beq t0, t1, 1f
	li t1, IRQ_M_SOFT
	beq t0, t1, 2f
	li t1, IRQ_S_SOFT
	beq t0, t1, 3f
	li t1, IRQ_S_TIMER
	beq t0, t1, 4f
	li t1, IRQ_M_EXT
	beq t0, t1, 5f
9:	li a0, 1 /* not an interrupt this test expects */
	ret
1:	li t0, CLINT_MTIMECMP
	li t1, -1
	la t2, m_timer_rearm
	ld t2, 0(t2)
	beqz t2, 7f
	li t1, CLINT_MTIME /* a tick: the next one comes rearm ticks from now */
	ld t1, 0(t1)
	add t1, t1, t2
7:	sd t1, 0(t0)
	j 8f
2:	li t0, CLINT_MSIP
	sw zero, 0(t0)
	j 8f
3:	li t0, MIP_SSIP
	csrc mip, t0
	j 8f
4:	li t0, MIP_STIP
	csrc mip, t0
	j 8f
5:	li t0, PLIC_CLAIM(0)
	lw t1, 0(t0)
	la t2, irq_claimed
	sd t1, 0(t2)
	li t2, UART_BASE
	sb zero, UART_IER(t2) /* the source goes quiet before completion */
	sw t1, 0(t0)
8:	li a0, 0
	ret

/* S-mode hook: log delegated interrupts; SSIP is cleared in sip, STI disabled in sie (only
 * M-mode can clear mip.STIP) and stimecmp moved away. */
s_irq_hook:
	bgez a0, 9f
	la t0, s_irq_count
	ld t1, 0(t0)
	addi t2, t1, 1
	sd t2, 0(t0)
	andi t1, t1, 7
	slli t1, t1, 3
	la t0, s_irq_log
	add t0, t0, t1
	sd a0, 0(t0)
	csrr t1, sepc
	la t0, s_irq_epc
	sd t1, 0(t0)
	slli t0, a0, 1
	srli t0, t0, 1
	li t1, IRQ_S_SOFT
	beq t0, t1, 1f
	li t1, IRQ_S_TIMER
	beq t0, t1, 2f
9:	li a0, 1
	ret
1:	li t0, MIP_SSIP
	csrc sip, t0
	j 8f
2:	li t0, MIP_STIP
	csrc sie, t0
	la t0, sstc_on
	ld t0, 0(t0)
	beqz t0, 8f
	li t0, -1
	csrw stimecmp, t0
8:	li a0, 0
	ret

timer:
	mv s4, ra
	call reset_log
	/* mtimecmp far away: MTIP clear */
	csrr t0, mip
	andi t0, t0, MIP_MTIP
	CHECK(t0, 0)
	/* with interrupts disabled, MTIP becomes pending once mtime reaches mtimecmp */
	li t0, MIP_MTIP
	csrw mie, t0
	li t0, CLINT_MTIME
	ld s1, 0(t0)
	li t0, TICKS_1MS
	add s1, s1, t0
	SET_MTIMECMP(s1)
	DEADLINE(TICKS_1S)
1:	csrr t0, mip
	andi t0, t0, MIP_MTIP
	bnez t0, 2f
	CHECK_DEADLINE()
	j 1b
2:	li t0, CLINT_MTIME
	ld t1, 0(t0)
	sltu t0, t1, s1
	CHECK(t0, 0)
	IRQ_COUNT(t0)
	CHECK(t0, 0)
	/* moving mtimecmp into the future clears it */
	li t0, CLINT_MTIME
	ld t1, 0(t0)
	li t0, TICKS_1S
	add t1, t1, t0
	SET_MTIMECMP(t1)
	csrr t0, mip
	andi t0, t0, MIP_MTIP
	CHECK(t0, 0)
	/* enabled: the interrupt is taken, not before mtimecmp */
	li t0, CLINT_MTIME
	ld s1, 0(t0)
	li t0, TICKS_1MS
	add s1, s1, t0
	SET_MTIMECMP(s1)
	DEADLINE(TICKS_1S)
	li t0, MSTATUS_MIE
	csrs mstatus, t0
3:	IRQ_COUNT(t0)
	bnez t0, 4f
	CHECK_DEADLINE()
	j 3b
4:	li t0, MSTATUS_MIE
	csrc mstatus, t0
	IRQ_COUNT(t0)
	CHECK(t0, 1)
	IRQ_LOG(t0, 0)
	CHECK(t0, INTERRUPT_BIT | IRQ_M_TIMER)
	la t0, irq_mtime
	ld t0, 0(t0)
	sltu t0, t0, s1
	CHECK(t0, 0)
	csrw mie, zero
	mv ra, s4
	ret

software:
	mv s4, ra
	call reset_log
	li s0, CLINT_MSIP
	li t0, 1
	sw t0, 0(s0)
	lw t0, 0(s0)
	CHECK(t0, 1)
	DEADLINE(TICKS_1S)
1:	csrr t0, mip
	andi t0, t0, MIP_MSIP
	bnez t0, 2f
	CHECK_DEADLINE()
	j 1b
2:	sw zero, 0(s0)
	DEADLINE(TICKS_1S)
3:	csrr t0, mip
	andi t0, t0, MIP_MSIP
	beqz t0, 4f
	CHECK_DEADLINE()
	j 3b
4:	/* enabled: taken at once */
	li t0, MIP_MSIP
	csrw mie, t0
	li t0, MSTATUS_MIE
	csrs mstatus, t0
	li t0, 1
	sw t0, 0(s0)
	DEADLINE(TICKS_1S)
5:	IRQ_COUNT(t0)
	bnez t0, 6f
	CHECK_DEADLINE()
	j 5b
6:	li t0, MSTATUS_MIE
	csrc mstatus, t0
	csrw mie, zero
	IRQ_LOG(t0, 0)
	CHECK(t0, INTERRUPT_BIT | IRQ_M_SOFT)
	lw t0, 0(s0)
	CHECK(t0, 0)
	mv ra, s4
	ret

/* Both MSIP and MTIP pending when MIE is set: MSI first (priv spec 3.1.9). */
priority:
	mv s4, ra
	call reset_log
	li t0, MIP_MSIP | MIP_MTIP
	csrw mie, t0
	SET_MTIMECMP(zero)
	li t0, CLINT_MSIP
	li t1, 1
	sw t1, 0(t0)
	DEADLINE(TICKS_1S)
1:	csrr t0, mip
	andi t0, t0, MIP_MSIP | MIP_MTIP
	li t1, MIP_MSIP | MIP_MTIP
	beq t0, t1, 2f
	CHECK_DEADLINE()
	j 1b
2:	li t0, MSTATUS_MIE
	csrs mstatus, t0
	DEADLINE(TICKS_1S)
3:	IRQ_COUNT(t0)
	li t1, 2
	beq t0, t1, 4f
	CHECK_DEADLINE()
	j 3b
4:	li t0, MSTATUS_MIE
	csrc mstatus, t0
	csrw mie, zero
	IRQ_LOG(t0, 0)
	CHECK(t0, INTERRUPT_BIT | IRQ_M_SOFT)
	IRQ_LOG(t0, 1)
	CHECK(t0, INTERRUPT_BIT | IRQ_M_TIMER)
	mv ra, s4
	ret

supervisor_soft:
	addi sp, sp, -16
	sd ra, 8(sp)
	call reset_log
	/* delegated, pending before S is entered with SIE = 1: taken at the first S instruction */
	li t0, MIP_SSIP
	csrw mideleg, t0
	csrw mie, t0
	csrs mip, t0
	li t0, MSTATUS_SIE
	csrs mstatus, t0
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, s_soft)
s_soft:
	S_IRQ_COUNT(t0)
	CHECK(t0, 1)
	S_IRQ_LOG(t0, 0)
	CHECK(t0, INTERRUPT_BIT | IRQ_S_SOFT)
	la t0, s_irq_epc
	ld t0, 0(t0)
	la t1, s_soft
	CHECK_REG(t0, t1)
	/* S raises its own: taken right after the write */
	li t0, MIP_SSIP
	csrs sip, t0
	S_IRQ_COUNT(t0)
	CHECK(t0, 2)
	/* with SIE = 0 it waits, and is taken when SIE is set */
	li t0, MSTATUS_SIE
	csrc sstatus, t0
	li t0, MIP_SSIP
	csrs sip, t0
	nop
	S_IRQ_COUNT(t0)
	CHECK(t0, 2)
	csrr t0, sip
	andi t0, t0, MIP_SSIP
	CHECK(t0, MIP_SSIP)
	li t0, MSTATUS_SIE
	csrs sstatus, t0
	S_IRQ_COUNT(t0)
	CHECK(t0, 3)
	li a7, 0
	ecall
1:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	IRQ_COUNT(t0)
	CHECK(t0, 0)
	/* not delegated: an M-level interrupt, enabled in S whatever mstatus.MIE says */
	csrw mideleg, zero
	li t0, MSTATUS_MIE | MSTATUS_SIE
	csrc mstatus, t0
	li t0, MIP_SSIP
	csrs mip, t0
	EXPECT_TRAP_M(2f)
	MRET_TO(PRV_S, s_soft_m)
s_soft_m:
	nop
	li a7, 0
	ecall
2:	IRQ_COUNT(t0)
	CHECK(t0, 1)
	IRQ_LOG(t0, 0)
	CHECK(t0, INTERRUPT_BIT | IRQ_S_SOFT)
	S_IRQ_COUNT(t0)
	CHECK(t0, 3)
	csrw mie, zero
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* M-mode raises mip.STIP for S (what firmware does for the SBI timer). Sstc off: menvcfg.STCE
 * = 0 makes mip.STIP writable by M. */
supervisor_timer:
	addi sp, sp, -16
	sd ra, 8(sp)
	call reset_log
	li t0, 1
	slli t0, t0, 63
	csrc menvcfg, t0
	li t0, MIP_STIP
	csrw mideleg, t0
	csrw mie, t0
	csrs mip, t0
	li t0, MSTATUS_SIE
	csrs mstatus, t0
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, s_timer)
s_timer:
	S_IRQ_COUNT(t0)
	CHECK(t0, 1)
	S_IRQ_LOG(t0, 0)
	CHECK(t0, INTERRUPT_BIT | IRQ_S_TIMER)
	csrr t0, sie /* the hook disabled it */
	andi t0, t0, MIP_STIP
	CHECK(t0, 0)
	li a7, 0
	ecall
1:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	csrr t0, mip
	andi t0, t0, MIP_STIP
	CHECK(t0, MIP_STIP)
	li t0, MIP_STIP
	csrc mip, t0
	csrr t0, mip
	andi t0, t0, MIP_STIP
	CHECK(t0, 0)
	csrw mie, zero
	csrw mideleg, zero
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Sstc: with menvcfg.STCE = 1, STIP follows time >= stimecmp. Skipped (with a note) when
 * menvcfg.STCE does not stick. */
sstc:
	addi sp, sp, -16
	sd ra, 8(sp)
	call reset_log
	li s0, 1
	slli s0, s0, 63
	csrs menvcfg, s0
	csrr t0, menvcfg
	and t0, t0, s0
	bnez t0, 1f
	PUTS("# no Sstc: stimecmp not tested\n")
	j 9f
1:	la t0, sstc_on
	sd s0, 0(t0)
	li t0, -1
	csrw stimecmp, t0
	csrr t0, mip
	andi t0, t0, MIP_STIP
	CHECK(t0, 0)
	li t0, 2 /* scounteren.TM: S reads time itself */
	csrw mcounteren, t0
	li t0, MIP_STIP
	csrw mideleg, t0
	csrw mie, t0
	li t0, MSTATUS_SIE
	csrs mstatus, t0
	EXPECT_TRAP_M(2f)
	MRET_TO(PRV_S, s_sstc)
s_sstc:
	rdtime s1
	li t0, TICKS_1MS
	add s1, s1, t0
	csrw stimecmp, s1
	li t0, TICKS_1S
	add s3, s1, t0
3:	S_IRQ_COUNT(t0)
	bnez t0, 4f
	rdtime t0
	sltu t0, t0, s3
	CHECK(t0, 1)
	j 3b
4:	S_IRQ_LOG(t0, 0)
	CHECK(t0, INTERRUPT_BIT | IRQ_S_TIMER)
	rdtime t0
	sltu t0, t0, s1
	CHECK(t0, 0)
	li a7, 0
	ecall
2:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	csrr t0, mip /* stimecmp was moved away by the hook */
	andi t0, t0, MIP_STIP
	CHECK(t0, 0)
	csrw mie, zero
	csrw mideleg, zero
	csrw mcounteren, zero
	la t0, sstc_on
	sd zero, 0(t0)
	csrc menvcfg, s0
	SAY("Sstc supervisor timer")
9:	ld ra, 8(sp)
	addi sp, sp, 16
	ret

wfi_wake:
	addi sp, sp, -16
	sd ra, 8(sp)
	call reset_log
	/* M, MIE = 0: wfi returns once MTIP is pending (it may return earlier: loop) */
	li t0, MIP_MTIP
	csrw mie, t0
	li t0, CLINT_MTIME
	ld s1, 0(t0)
	li t0, 2 * TICKS_1MS
	add s1, s1, t0
	SET_MTIMECMP(s1)
	DEADLINE(TICKS_1S)
1:	wfi
	csrr t0, mip
	andi t0, t0, MIP_MTIP
	bnez t0, 2f
	CHECK_DEADLINE()
	j 1b
2:	IRQ_COUNT(t0)
	CHECK(t0, 0)
	/* M, MIE = 1: the interrupt is taken after wfi */
	li t0, CLINT_MTIME
	ld s1, 0(t0)
	li t0, 2 * TICKS_1MS
	add s1, s1, t0
	SET_MTIMECMP(s1)
	DEADLINE(TICKS_1S)
	la t0, m_timer_rearm
	li t1, TICKS_1MS
	sd t1, 0(t0)
	li t0, MSTATUS_MIE
	csrs mstatus, t0
3:	wfi
	IRQ_COUNT(t0)
	bnez t0, 4f
	CHECK_DEADLINE()
	j 3b
4:	li t0, MSTATUS_MIE
	csrc mstatus, t0
	/* S: an M timer interrupt wakes wfi and is taken in M (always enabled below M) */
	li t0, CLINT_MTIME
	ld s1, 0(t0)
	li t0, 2 * TICKS_1MS
	add s1, s1, t0
	SET_MTIMECMP(s1)
	DEADLINE(TICKS_1S)
	EXPECT_TRAP_M(6f)
	MRET_TO(PRV_S, s_wfi)
s_wfi:
	wfi
	IRQ_COUNT(t0)
	li t1, 2
	bgeu t0, t1, 5f
	CHECK_DEADLINE()
	j s_wfi
5:	li a7, 0
	ecall
6:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	IRQ_LOG(t0, 1)
	CHECK(t0, INTERRUPT_BIT | IRQ_M_TIMER)
	csrw mie, zero
	la t0, m_timer_rearm
	sd zero, 0(t0)
	li t0, CLINT_MTIMECMP
	li t1, -1
	sd t1, 0(t0)
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* The UART's transmitter-empty interrupt (source 10) through PLIC context 0 to MEIP. */
external:
	addi sp, sp, -16
	sd ra, 8(sp)
	call reset_log
	li t0, PLIC_PRIORITY(UART_IRQ)
	li t1, 1
	sw t1, 0(t0)
	li t0, PLIC_ENABLE(0)
	li t1, 1 << UART_IRQ
	sw t1, 0(t0)
	li t0, PLIC_THRESHOLD(0)
	sw zero, 0(t0)
	li s0, UART_BASE
	/* pending with MIE = 0: claim returns the source, complete after the UART is quiet */
	li t0, UART_IER_ETBEI
	sb t0, UART_IER(s0)
	DEADLINE(TICKS_1S)
1:	csrr t0, mip
	li t1, MIP_MEIP
	and t0, t0, t1
	bnez t0, 2f
	CHECK_DEADLINE()
	j 1b
2:	li t0, PLIC_PENDING
	lw t1, 0(t0)
	srli t1, t1, UART_IRQ
	andi t1, t1, 1
	CHECK(t1, 1)
	li s1, PLIC_CLAIM(0)
	lw t1, 0(s1)
	CHECK(t1, UART_IRQ)
	lw t2, 0(s1) /* nothing else pending */
	CHECK(t2, 0)
	sb zero, UART_IER(s0)
	sw t1, 0(s1)
	DEADLINE(TICKS_1S)
3:	csrr t0, mip
	li t1, MIP_MEIP
	and t0, t0, t1
	beqz t0, 4f
	CHECK_DEADLINE()
	j 3b
4:	/* a threshold at the source's priority masks it */
	li t0, PLIC_THRESHOLD(0)
	li t1, 1
	sw t1, 0(t0)
	li t0, UART_IER_ETBEI
	sb t0, UART_IER(s0)
	li t0, 1000
5:	addi t0, t0, -1
	bnez t0, 5b
	csrr t0, mip
	li t1, MIP_MEIP
	and t0, t0, t1
	CHECK(t0, 0)
	sb zero, UART_IER(s0)
	li t0, PLIC_THRESHOLD(0)
	sw zero, 0(t0)
	/* enabled: taken, claimed and completed by the hook */
	li t0, MIP_MEIP
	csrw mie, t0
	li t0, MSTATUS_MIE
	csrs mstatus, t0
	li t0, UART_IER_ETBEI
	sb t0, UART_IER(s0)
	DEADLINE(TICKS_1S)
6:	IRQ_COUNT(t0)
	bnez t0, 7f
	CHECK_DEADLINE()
	j 6b
7:	li t0, MSTATUS_MIE
	csrc mstatus, t0
	csrw mie, zero
	IRQ_LOG(t0, 0)
	CHECK(t0, INTERRUPT_BIT | IRQ_M_EXT)
	la t0, irq_claimed
	ld t0, 0(t0)
	CHECK(t0, UART_IRQ)
	li t0, PLIC_ENABLE(0)
	sw zero, 0(t0)
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

	.data
	.balign 8
irq_count:
	.dword 0
irq_log:
	.zero 64
irq_mtime:
	.dword 0
irq_claimed:
	.dword 0
s_irq_count:
	.dword 0
s_irq_log:
	.zero 64
s_irq_epc:
	.dword 0
sstc_on:
	.dword 0
/* When not 0, the M timer hook re-arms mtimecmp this many ticks ahead instead of silencing
 * it: a wfi loop whose interrupt came before its wfi (the host may pause the hart for longer
 * than the timer's delay) is still woken, as WFI needs some interrupt to return. */
m_timer_rearm:
	.dword 0
