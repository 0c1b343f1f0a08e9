/* A shutdown for a system failure (SBI system reset, type shutdown, reason 1): rvisor ends
 * with the failure status, 2, and says so. The case's checks before it pass as usual; the
 * test expects status 2 and the PASS line. */
#include "hostile.h"

void case_main(void)
{
	wait_go_ahead();
	say("PASS\n");
	sbi_call(0x53525354, 0, 0, 1, 0, 0, 0, 0);
	for (;;) /* the machine stops (the call may return first) */
		__asm__ volatile("wfi");
}
