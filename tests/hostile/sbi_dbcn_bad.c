/* Debug console calls with bad buffers (SBI spec 2.0 12): write and read of buffers outside
 * RAM, in MMIO, straddling RAM's end, with a non-zero high address word, and of lengths up to
 * 2^64 - 1 -> SBI_ERR_INVALID_PARAM, nothing written to RAM; a good write returns its length
 * and a read of nothing waiting returns 0 bytes. */
#include "hostile.h"

#define DBCN 0x4442434e

void case_main(void)
{
	static char msg[] = "sbi_dbcn_bad: # dbcn write ok\n";
	uint8_t *buf = alloc(4096, 4096);
	memset_(buf, 0x77, 4096);
	static const long bad[][3] = {
	    {16, 0x1000, 0},                  /* a hole */
	    {16, (long)UART_BASE, 0},         /* MMIO */
	    {64, (long)RAM_END - 16, 0},      /* straddling the end */
	    {16, (long)RAM_BASE, 1},          /* high word */
	    {-1, (long)RAM_BASE, 0},          /* length 2^64 - 1 */
	    {1l << 40, (long)RAM_BASE, 0},    /* a terabyte */
	    {0x80000000l, (long)RAM_BASE, 0}, /* 2 GiB, past 64 MiB of RAM */
	    {16, -16, 0},                     /* wrapping */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (long fid = 0; fid < 2; fid++) {
			struct sbiret r =
			    sbi_call(DBCN, fid, bad[i][0], bad[i][1], bad[i][2], 0, 0, 0);
			if (r.error != SBI_ERR_INVALID_PARAM)
				fail_at(__LINE__, "dbcn", (uint64_t)(i * 2 + fid),
					(uint64_t)r.error);
		}
	}
	for (unsigned i = 0; i < 4096; i++)
		CHECK_EQ(buf[i], 0x77);
	struct sbiret r = sbi_call(DBCN, 0, sizeof(msg) - 1, (long)msg, 0, 0, 0, 0);
	CHECK_EQ(r.error, SBI_SUCCESS);
	CHECK_EQ(r.value, sizeof(msg) - 1);
	r = sbi_call(DBCN, 1, 16, (long)buf, 0, 0, 0, 0);
	CHECK_EQ(r.error, SBI_SUCCESS);
	CHECK_EQ(r.value, 0);
}
