/* Software interrupts to self in a loop: 200000 times msip = 1 with machine software
 * interrupts enabled, the handler clearing msip each time. Every one is taken exactly once
 * (the handler count equals the number sent) and none is left pending. */
#include "hostile.h"

#define ROUNDS 200000

static volatile uint64_t taken;

static void on_irq(uint64_t cause)
{
	if (cause != (CAUSE_IRQ | 3))
		fail_at(__LINE__, "cause", cause, CAUSE_IRQ | 3);
	wr32(CLINT_BASE, 0);
	taken++;
}

void case_main(void)
{
	irq_hook = on_irq;
	csr_write(mie, 1u << 3);
	csr_set(mstatus, 1u << 3);
	for (uint64_t i = 0; i < ROUNDS; i++) {
		wr32(CLINT_BASE, 1);
		uint64_t spins = 0;
		while (taken != i + 1)
			if (++spins > 100000000)
				fail_at(__LINE__, "interrupt not taken", taken, i + 1);
	}
	csr_clear(mstatus, 1u << 3);
	csr_write(mie, 0);
	CHECK_EQ(taken, ROUNDS);
	CHECK_EQ(csr_read(mip) & (1u << 3), 0);
}
