/* HSM calls with bad arguments (run with --cpus 2), each answered per SBI spec 2.0 9:
 * hart_start of a hart that does not exist (2, 64, 2^64-1) -> SBI_ERR_INVALID_PARAM, of a
 * started hart (0, this one) -> SBI_ERR_ALREADY_AVAILABLE, at an address outside RAM or in
 * MMIO -> SBI_ERR_INVALID_ADDRESS (the hart stays stopped); hart_get_status of a missing hart
 * -> SBI_ERR_INVALID_PARAM; hart_suspend with a reserved type -> SBI_ERR_INVALID_PARAM and with
 * the default non-retentive type (not implemented) -> SBI_ERR_NOT_SUPPORTED. Then hart 1
 * starts at a good address with its opaque argument and runs. */
#include "hostile.h"

#define HSM 0x48534d

extern char _start[];
static volatile uint64_t hart1_seen;

void secondary_main(uint64_t hartid)
{
	hart1_seen = hartid + 0x100;
	sbi_call(HSM, 1, 0, 0, 0, 0, 0, 0); /* hart_stop */
}

void case_main(void)
{
	static const long missing[] = {2, 64, 0x7fffffff, -1};
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(sbi_call(HSM, 0, missing[i], (long)_start, 0, 0, 0, 0).error,
			 SBI_ERR_INVALID_PARAM);
		CHECK_EQ(sbi_call(HSM, 2, missing[i], 0, 0, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
	}
	CHECK_EQ(sbi_call(HSM, 0, 0, (long)_start, 0, 0, 0, 0).error, SBI_ERR_ALREADY_AVAILABLE);
	CHECK_EQ(sbi_call(HSM, 2, 1, 0, 0, 0, 0, 0).value, 1); /* STOPPED */
	static const long bad_addr[] = {
	    0, 0x1000, (long)UART_BASE, (long)RAM_END, (long)RAM_BASE - 4, -4, 0x7ffffffffffffffcl};
	for (unsigned i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
		struct sbiret r = sbi_call(HSM, 0, 1, bad_addr[i], 0, 0, 0, 0);
		if (r.error != SBI_ERR_INVALID_ADDRESS)
			fail_at(__LINE__, "hart_start at a bad address", (uint64_t)bad_addr[i],
				(uint64_t)r.error);
		CHECK_EQ(sbi_call(HSM, 2, 1, 0, 0, 0, 0, 0).value, 1);
	}
	static const long reserved_type[] = {1, 0x0fffffff, 0x80000001l, 0x8fffffffl};
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(sbi_call(HSM, 3, reserved_type[i], 0, 0, 0, 0, 0).error,
			 SBI_ERR_INVALID_PARAM);
	CHECK_EQ(sbi_call(HSM, 3, 0x80000000l, (long)_start, 0, 0, 0, 0).error,
		 SBI_ERR_NOT_SUPPORTED);
	/* A good start. */
	CHECK_EQ(sbi_call(HSM, 0, 1, (long)_start, 0x1234, 0, 0, 0).error, SBI_SUCCESS);
	uint64_t end = now_ticks() + 5 * TIMEBASE_HZ;
	while (hart1_seen != 0x101 && (int64_t)(now_ticks() - end) < 0)
		;
	CHECK_EQ(hart1_seen, 0x101);
}
