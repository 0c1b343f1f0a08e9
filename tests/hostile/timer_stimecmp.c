/* The supervisor timer (Sstc) at its extremes, from M-mode with menvcfg.STCE: stimecmp = 0
 * sets mip.STIP at once and the interrupt is taken; 2^64 - 1 clears it and none comes in
 * 20 ms; 10000 rounds of both from the handler; STIP cannot be written while STCE is on. */
#include "hostile.h"

static volatile uint64_t taken;

static void on_irq(uint64_t cause)
{
	if (cause != (CAUSE_IRQ | 5))
		fail_at(__LINE__, "cause", cause, CAUSE_IRQ | 5);
	csr_write(stimecmp, ~0ull);
	taken++;
}

void case_main(void)
{
	csr_set(menvcfg, 1ull << 63); /* STCE */
	csr_write(stimecmp, ~0ull);
	CHECK_EQ(csr_read(mip) & (1u << 5), 0);
	csr_set(mip, 1u << 5); /* read-only with STCE */
	CHECK_EQ(csr_read(mip) & (1u << 5), 0);
	csr_write(stimecmp, 0);
	CHECK_EQ(csr_read(mip) & (1u << 5), 1u << 5);
	csr_write(stimecmp, ~0ull);
	CHECK_EQ(csr_read(mip) & (1u << 5), 0);
	irq_hook = on_irq;
	csr_write(mie, 1u << 5);
	csr_set(mstatus, 1u << 3);
	delay_us(20000);
	CHECK_EQ(taken, 0);
	for (uint64_t i = 0; i < 10000; i++) {
		csr_write(stimecmp, 0);
		uint64_t end = now_ticks() + 5 * TIMEBASE_HZ;
		while (taken != i + 1)
			if ((int64_t)(now_ticks() - end) > 0)
				fail_at(__LINE__, "timer interrupt not taken", taken, i + 1);
	}
	csr_clear(mstatus, 1u << 3);
	CHECK_EQ(csr_read(mip) & (1u << 5), 0);
}
