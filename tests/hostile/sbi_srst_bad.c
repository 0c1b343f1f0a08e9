/* System reset calls with bad arguments (SBI spec 2.0 10): reserved reset types (3,
 * 0xefffffff) and reserved reasons (2, 0xdfffffff) -> SBI_ERR_INVALID_PARAM, vendor-specific
 * types and reasons rvisor has none of -> SBI_ERR_NOT_SUPPORTED... each returning to the
 * caller with the machine still running; an unknown function id -> SBI_ERR_NOT_SUPPORTED.
 * Then the case ends with a good shutdown (status 0). */
#include "hostile.h"

#define SRST 0x53525354

void case_main(void)
{
	static const long reserved_type[] = {3, 4, 0xefffffffl};
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ(sbi_call(SRST, 0, reserved_type[i], 0, 0, 0, 0, 0).error,
			 SBI_ERR_INVALID_PARAM);
	static const long reserved_reason[] = {2, 0x1000, 0xdfffffffl};
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ(sbi_call(SRST, 0, 0, reserved_reason[i], 0, 0, 0, 0).error,
			 SBI_ERR_INVALID_PARAM);
	CHECK_EQ(sbi_call(SRST, 0, 0xf0000000l, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
	CHECK_EQ(sbi_call(SRST, 0, 0, 0xe0000000l, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
	CHECK_EQ(sbi_call(SRST, 1, 0, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
	CHECK_EQ(sbi_call(SRST, 0x7fffffff, 0, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
}
