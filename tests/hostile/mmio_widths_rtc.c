/* Every width (1, 2, 4, 8) at every byte offset of the goldfish RTC's window (the first
 * 0x40 bytes: time, alarm, interrupt registers), loads then stores of all-ones and zero.
 * Faulting accesses are skipped; nothing may stop the machine. Afterwards the RTC still
 * reads a time that advances. */
#include "hostile.h"

static uint64_t rtc_now(void)
{
	uint64_t lo = rd32(RTC_BASE + 0x00); /* TIME_LOW latches TIME_HIGH */
	return lo | (uint64_t)rd32(RTC_BASE + 0x04) << 32;
}

void case_main(void)
{
	skip_faults = true;
	for (unsigned size = 1; size <= 8; size *= 2)
		for (uint64_t a = RTC_BASE; a < RTC_BASE + 0x40; a++)
			(void)rd_size(a, size);
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned size = 1; size <= 8; size *= 2)
			for (uint64_t a = RTC_BASE; a < RTC_BASE + 0x40; a++)
				wr_size(a, size, pass ? 0 : ~0ull);
	skip_faults = false;
	say("# faults skipped: ");
	putdec(faults_skipped);
	puts_("\n");
	wr32(RTC_BASE + 0x10, 0); /* IRQ_ENABLED off */
	wr32(RTC_BASE + 0x1c, 1); /* CLEAR_INTERRUPT */
	uint64_t t0 = rtc_now();
	delay_us(2000);
	CHECK(rtc_now() > t0);
}
