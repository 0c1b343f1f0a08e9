/* Every width (1, 2, 4, 8) at every byte offset of the ACLINT's MSWI (msip of harts 0-15),
 * MTIMER (mtimecmp of harts 0-15, mtime) and the first bytes after each, loads then stores
 * of all-ones and zero (mtime itself included). Faulting accesses are skipped; nothing may
 * stop the machine. Afterwards mtime still counts and mtimecmp reads back. */
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
	sweep(CLINT_BASE, CLINT_BASE + 0x48);
	sweep(CLINT_BASE + 0x4000, CLINT_BASE + 0x4088);
	sweep(CLINT_BASE + 0xbff0, CLINT_BASE + 0xc010);
	sweep(CLINT_BASE + 0xc000, CLINT_BASE + 0xc048); /* SSWI, where there is one */
	skip_faults = false;
	say("# faults skipped: ");
	putdec(faults_skipped);
	puts_("\n");
	wr32(CLINT_BASE, 0); /* msip of hart 0 */
	csr_clear(mip, 2);   /* SSIP, if a store reached SSWI */
	uint64_t t0 = rd64(CLINT_MTIME);
	delay_us(1000);
	CHECK(rd64(CLINT_MTIME) != t0);
	wr64(CLINT_MTIMECMP, 0x123456789abcull);
	CHECK_EQ(rd64(CLINT_MTIMECMP), 0x123456789abcull);
	wr64(CLINT_MTIMECMP, ~0ull);
}
