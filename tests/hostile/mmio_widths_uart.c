/* Every width (1, 2, 4, 8) at every byte offset of the UART's 256-byte window, loads then
 * stores of all-ones and zero (divisor latch, loopback and FIFO settings included). Faulting
 * accesses are skipped; nothing may stop the machine. Afterwards the line settings are put
 * back and the console still works: this case's PASS line is printed through it. */
#include "hostile.h"

void case_main(void)
{
	skip_faults = true;
	for (unsigned size = 1; size <= 8; size *= 2)
		for (uint64_t a = UART_BASE; a < UART_BASE + 0x100; a++)
			(void)rd_size(a, size);
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned size = 1; size <= 8; size *= 2)
			for (uint64_t a = UART_BASE; a < UART_BASE + 0x100; a++)
				wr_size(a, size, pass ? 0 : ~0ull);
	skip_faults = false;
	wr8(UART_BASE + 3, 0x03); /* LCR: 8N1, DLAB clear */
	wr8(UART_BASE + 4, 0x00); /* MCR: no loopback */
	wr8(UART_BASE + 1, 0x00); /* IER */
	wr8(UART_BASE + 2, 0x07); /* FCR: FIFOs on, cleared */
	puts_("\n");
	say("# faults skipped: ");
	putdec(faults_skipped);
	puts_("\n");
	CHECK_EQ(rd8(UART_BASE + 3), 0x03);
}
