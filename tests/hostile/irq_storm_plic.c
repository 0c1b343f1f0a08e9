/* An external interrupt storm through the PLIC: the UART's transmitter-empty interrupt
 * raised 50000 times (IER written on and off), and between rounds the source's priority,
 * the context's enable bits for every source and its threshold toggled. The handler claims,
 * masks the UART and completes; each interrupt is claimed exactly once with the UART's id
 * (10), never a spurious 0 while one is expected, and nothing is pending at the end. */
#include "hostile.h"

#define ROUNDS         50000
#define UART_IRQ       10
#define CTX0_ENABLE    (PLIC_BASE + 0x2000)
#define CTX0_THRESHOLD (PLIC_BASE + 0x200000)
#define CTX0_CLAIM     (PLIC_BASE + 0x200004)

static volatile uint64_t taken;

static void on_irq(uint64_t cause)
{
	if (cause != (CAUSE_IRQ | 11))
		fail_at(__LINE__, "cause", cause, CAUSE_IRQ | 11);
	uint32_t id = rd32(CTX0_CLAIM);
	if (id != UART_IRQ)
		fail_at(__LINE__, "claimed id", id, UART_IRQ);
	wr8(UART_BASE + 1, 0); /* IER off: the line drops */
	wr32(CTX0_CLAIM, id);
	taken++;
}

void case_main(void)
{
	irq_hook = on_irq;
	for (unsigned s = 1; s < 64; s++)
		wr32(PLIC_BASE + 4 * s, 0);
	wr32(PLIC_BASE + 4 * UART_IRQ, 1);
	wr32(CTX0_ENABLE, 1u << UART_IRQ);
	wr32(CTX0_THRESHOLD, 0);
	csr_write(mie, 1u << 11);
	csr_set(mstatus, 1u << 3);
	for (uint64_t i = 0; i < ROUNDS; i++) {
		if (i % 8 == 7) {
			/* Toggle with interrupts off, then restore the routing. */
			csr_clear(mstatus, 1u << 3);
			wr32(CTX0_ENABLE, 0xffffffff);
			wr32(CTX0_ENABLE + 4, 0xffffffff);
			wr32(PLIC_BASE + 4 * UART_IRQ, 7);
			wr32(CTX0_THRESHOLD, 7);
			wr32(CTX0_ENABLE, 0);
			wr32(CTX0_ENABLE + 4, 0);
			wr32(PLIC_BASE + 4 * UART_IRQ, 1);
			wr32(CTX0_THRESHOLD, 0);
			wr32(CTX0_ENABLE, 1u << UART_IRQ);
			csr_set(mstatus, 1u << 3);
		}
		wr8(UART_BASE + 1, 0x02); /* ETBEI: the transmitter is empty, so it fires */
		uint64_t spins = 0;
		while (taken != i + 1)
			if (++spins > 100000000)
				fail_at(__LINE__, "interrupt not taken", taken, i + 1);
	}
	csr_clear(mstatus, 1u << 3);
	csr_write(mie, 0);
	CHECK_EQ(taken, ROUNDS);
	CHECK_EQ(rd32(CTX0_CLAIM), 0);
	CHECK_EQ(csr_read(mip) & (1u << 11), 0);
}
