/* Jumps into MMIO in M-mode: the UART, the PLIC, the ACLINT, a virtio-mmio slot, the RTC
 * and the test finisher. Nothing there is executable: each raises a fetch access fault
 * with mtval and mepc the target (privileged spec 3.1.15-3.1.16), and the devices are left
 * as they were (the finisher has not ended the machine). */
#include "hostile.h"

void case_main(void)
{
	static const uint64_t targets[] = {
	    UART_BASE,  UART_BASE + 4, PLIC_BASE,   PLIC_BASE + 0x200004,
	    CLINT_BASE, CLINT_MTIME,   VIRTIO_BASE, VIRTIO_BASE + 0x50,
	    RTC_BASE,   FINISHER_BASE,
	};
	uint8_t lcr = rd8(UART_BASE + 3);
	for (unsigned i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		CHECK_EQ(try_call((void (*)(uint64_t))targets[i], 0, false), 1);
		CHECK_EQ(last_trap.cause, CAUSE_FETCH_ACCESS);
		CHECK_EQ(last_trap.tval, targets[i]);
		CHECK_EQ(last_trap.epc, targets[i]);
	}
	CHECK_EQ(rd8(UART_BASE + 3), lcr);
}
