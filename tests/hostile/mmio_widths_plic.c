/* Every width (1, 2, 4, 8) at every byte offset of the PLIC's registers for the first 16
 * contexts: the source priorities, the pending bits, each context's enables, and each
 * context's threshold and claim/complete (claims and completions of any id), loads then
 * stores of all-ones, then zero. Faulting accesses are skipped; nothing may stop the
 * machine. Afterwards a priority still reads back what was written, and a claim with
 * nothing pending reads 0. */
#include "hostile.h"

static void sweep(uint64_t from, uint64_t to)
{
	for (unsigned size = 1; size <= 8; size *= 2)
		for (uint64_t a = from; a < to; a++)
			(void)rd_size(a, size);
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned size = 1; size <= 8; size *= 2)
			for (uint64_t a = from; a < to; a++)
				wr_size(a, size, pass ? 0 : ~0ull);
}

void case_main(void)
{
	skip_faults = true;
	sweep(PLIC_BASE, PLIC_BASE + 0x1000);          /* priorities */
	sweep(PLIC_BASE + 0x1000, PLIC_BASE + 0x1080); /* pending */
	sweep(PLIC_BASE + 0x2000, PLIC_BASE + 0x2800); /* enables, contexts 0-15 */
	for (unsigned c = 0; c < 16; c++)              /* threshold, claim, reserved */
		sweep(PLIC_BASE + 0x200000 + c * 0x1000, PLIC_BASE + 0x200000 + c * 0x1000 + 16);
	sweep(PLIC_BASE + 0x3fffff0, PLIC_BASE + 0x4000000); /* the window's end */
	skip_faults = false;
	say("# faults skipped: ");
	putdec(faults_skipped);
	puts_("\n");
	wr32(PLIC_BASE + 4 * 10, 5);
	CHECK_EQ(rd32(PLIC_BASE + 4 * 10), 5);
	wr32(PLIC_BASE + 4 * 10, 0);
	CHECK_EQ(rd32(PLIC_BASE + 0x200004), 0);
}
