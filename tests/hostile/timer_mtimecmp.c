/* The machine timer at its extremes: mtimecmp = 0 (always due: the interrupt is taken at
 * once), 2^64 - 1 (never due: MTIP reads clear and no interrupt comes in 20 ms), both
 * written as one 64-bit store and as two 32-bit halves, and 10000 rounds of 0 / 2^64-1
 * from the handler itself; each interrupt is taken exactly once. */
#include "hostile.h"

static volatile uint64_t taken;

static void on_irq(uint64_t cause)
{
	if (cause != (CAUSE_IRQ | 7))
		fail_at(__LINE__, "cause", cause, CAUSE_IRQ | 7);
	wr64(CLINT_MTIMECMP, ~0ull);
	taken++;
}

static void wait_taken(uint64_t n)
{
	uint64_t end = now_ticks() + 5 * TIMEBASE_HZ;
	while (taken != n)
		if ((int64_t)(now_ticks() - end) > 0)
			fail_at(__LINE__, "timer interrupt not taken", taken, n);
}

void case_main(void)
{
	irq_hook = on_irq;
	wr64(CLINT_MTIMECMP, ~0ull);
	csr_write(mie, 1u << 7);
	csr_set(mstatus, 1u << 3);
	delay_us(20000);
	CHECK_EQ(taken, 0);
	CHECK_EQ(csr_read(mip) & (1u << 7), 0);
	wr64(CLINT_MTIMECMP, 0);
	wait_taken(1);
	/* Two halves: high first (never), then low 0 (still never), then high 0 (due). */
	wr32(CLINT_MTIMECMP + 4, 0xffffffff);
	wr32(CLINT_MTIMECMP, 0);
	delay_us(20000);
	CHECK_EQ(taken, 1);
	wr32(CLINT_MTIMECMP + 4, 0);
	wait_taken(2);
	for (uint64_t i = 0; i < 10000; i++) {
		wr64(CLINT_MTIMECMP, 0);
		wait_taken(3 + i);
	}
	csr_clear(mstatus, 1u << 3);
	CHECK_EQ(csr_read(mip) & (1u << 7), 0);
}
