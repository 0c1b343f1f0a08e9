/* RFENCE and IPI calls with bad hart masks (SBI spec 2.0 3.1, 7, 8): a mask of every hart
 * from base 0 on a 2-hart machine, a base past the last hart, a mask whose high bit runs past
 * it -> SBI_ERR_INVALID_PARAM, with nothing sent (no IPI pending here afterwards); base -1
 * (every hart) and exact masks -> SBI_SUCCESS; huge address ranges flush (SBI_SUCCESS); the
 * hypervisor fences (function ids 3-6, no H extension) -> SBI_ERR_NOT_SUPPORTED. */
#include "hostile.h"

#define RFENCE 0x52464e43
#define IPI    0x735049

void case_main(void)
{
	static const long bad[][2] = {{-1, 0}, {1, 2},        {1, 64}, {1, -2},
				      {4, 0},  {1l << 63, 0}, {3, 1},  {-1, 1}};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (long fid = 0; fid < 3; fid++) {
			struct sbiret r = sbi_call(RFENCE, fid, bad[i][0], bad[i][1], 0, -1, 1, 0);
			if (r.error != SBI_ERR_INVALID_PARAM)
				fail_at(__LINE__, "rfence mask", (uint64_t)i, (uint64_t)r.error);
		}
		CHECK_EQ(sbi_call(IPI, 0, bad[i][0], bad[i][1], 0, 0, 0, 0).error,
			 SBI_ERR_INVALID_PARAM);
		CHECK_EQ(csr_read(sip) & 2, 0);
	}
	for (long fid = 0; fid < 3; fid++) {
		CHECK_EQ(sbi_call(RFENCE, fid, 0, -1, 0, -1, 0, 0).error, SBI_SUCCESS);
		CHECK_EQ(sbi_call(RFENCE, fid, 3, 0, -4096, -1, 0, 0).error, SBI_SUCCESS);
		CHECK_EQ(sbi_call(RFENCE, fid, 2, 0, 0, 0, 0, 0).error, SBI_SUCCESS);
	}
	for (long fid = 3; fid < 7; fid++)
		CHECK_EQ(sbi_call(RFENCE, fid, 1, 0, 0, -1, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
	/* An IPI to this hart alone: SSIP comes on. */
	CHECK_EQ(sbi_call(IPI, 0, 1, 0, 0, 0, 0, 0).error, SBI_SUCCESS);
	CHECK_EQ(csr_read(sip) & 2, 2);
	csr_clear(sip, 2);
	CHECK_EQ(csr_read(sip) & 2, 0);
}
