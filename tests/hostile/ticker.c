/* Not an attack: the VM test_hostile.py runs beside every case. It prints "tick N" every
 * 2 ms of guest time, sleeping in wfi on the machine timer in between, forever; the test
 * checks that N keeps growing while a case attacks and after it ends. */
#include "hostile.h"

void case_main(void)
{
	csr_write(mie, 1u << 7); /* MTIE, with mstatus.MIE clear: wfi wakes, no trap */
	for (uint64_t n = 0;; n++) {
		wr64(CLINT_MTIMECMP, rd64(CLINT_MTIME) + TIMEBASE_HZ / 500);
		while (!(csr_read(mip) & (1u << 7)))
			__asm__ volatile("wfi");
		puts_("tick ");
		putdec(n);
		puts_("\n");
	}
}
