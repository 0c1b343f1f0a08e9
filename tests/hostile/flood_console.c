/* A console flood: 2 MiB through the UART as fast as the transmitter takes it, in lines of
 * 64 bytes that test_hostile.py counts (32768 lines "flood ...", each exactly once: nothing
 * lost, nothing doubled), and the interrupt-driven path's registers hammered meanwhile. The
 * console may slow the guest, never stop it or the VM beside it. */
#include "hostile.h"

#define LINES 32768

void case_main(void)
{
	static char line[65];
	for (unsigned i = 0; i < 64; i++)
		line[i] = (char)('a' + i % 26);
	line[0] = 'f', line[1] = 'l', line[2] = 'o', line[3] = 'o', line[4] = 'd', line[5] = ' ';
	line[63] = '\n';
	for (unsigned n = 0; n < LINES; n++) {
		for (unsigned i = 0; i < 64; i++) {
			while (!(rd8(UART_BASE + 5) & 0x20))
				;
			wr8(UART_BASE, (uint8_t)line[i]);
		}
	}
}
