/* The SBI timer at its extremes (SBI spec 2.0 6, and the legacy call): set_timer(0) makes
 * the supervisor timer interrupt pending at once and it is taken; set_timer(2^64 - 1) clears
 * it and none comes in 20 ms; 5000 rounds from the handler; the same with the legacy call
 * and with stimecmp written directly (Sstc). */
#include "hostile.h"

static volatile uint64_t taken;
static volatile int how;

static void set_timer(uint64_t t)
{
	switch (how) {
	case 0: sbi_call(0x54494d45, 0, (long)t, 0, 0, 0, 0, 0); break;
	case 1: sbi_call(0, 0, (long)t, 0, 0, 0, 0, 0); break;
	default: csr_write(stimecmp, t); break;
	}
}

static void on_irq(uint64_t cause)
{
	if (cause != (CAUSE_IRQ | 5))
		fail_at(__LINE__, "cause", cause, CAUSE_IRQ | 5);
	set_timer(~0ull);
	taken++;
}

void case_main(void)
{
	irq_hook = on_irq;
	csr_write(sie, 1u << 5);
	uint64_t n = 0;
	for (how = 0; how < 3; how++) {
		set_timer(~0ull);
		csr_set(sstatus, 2);
		delay_us(20000);
		CHECK_EQ(taken, n);
		CHECK_EQ(csr_read(sip) & (1u << 5), 0);
		for (unsigned i = 0; i < 5000; i++) {
			set_timer(0);
			n++;
			uint64_t end = now_ticks() + 5 * TIMEBASE_HZ;
			while (taken != n)
				if ((int64_t)(now_ticks() - end) > 0)
					fail_at(__LINE__, "timer interrupt not taken", taken, n);
		}
		csr_clear(sstatus, 2);
		CHECK_EQ(csr_read(sip) & (1u << 5), 0);
	}
}
