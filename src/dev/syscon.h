/* Test finisher / syscon (SiFive test device, as the syscon-poweroff and syscon-reboot DT
 * bindings drive it): a 32-bit write of 0x5555 powers off, 0x3333 | code << 16 powers off
 * with a failure code, 0x7777 reboots. */
#ifndef RVISOR_DEV_SYSCON_H
#define RVISOR_DEV_SYSCON_H

#include <stdint.h>

#include "mem/bus.h"

#define SYSCON_SIZE     0x1000 /* bytes of MMIO window */
#define SYSCON_POWEROFF 0x5555
#define SYSCON_FAIL     0x3333
#define SYSCON_REBOOT   0x7777

enum syscon_event { SYSCON_EV_POWEROFF, SYSCON_EV_FAIL, SYSCON_EV_REBOOT };

struct syscon {
	/* Called on the vCPU thread that wrote the register; code is the failure code. */
	void (*event)(void *opaque, enum syscon_event ev, uint32_t code);
	void *opaque;
};

/* MMIO callbacks; opaque is the struct syscon. 4-byte accesses; reads return 0; other values
 * are ignored. The device holds no guest-visible state: snapshots have no section for it. */
extern const struct mmio_ops syscon_ops;

#endif
