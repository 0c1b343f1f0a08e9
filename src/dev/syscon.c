/* Test finisher / syscon (the SiFive test device that the syscon-poweroff and syscon-reboot
 * DT bindings drive): the low 16 bits of a 32-bit write at offset 0 select the event, the high
 * 16 bits carry a failure code. */
#include "dev/syscon.h"

static uint64_t syscon_read(void *opaque, uint64_t offset, unsigned size)
{
	(void)opaque;
	(void)offset;
	(void)size;
	return 0;
}

static void syscon_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct syscon *s = opaque;
	if (offset != 0 || size != 4 || !s->event)
		return;
	uint32_t code = (uint32_t)(value >> 16) & 0xffff;
	switch (value & 0xffff) {
	case SYSCON_POWEROFF: s->event(s->opaque, SYSCON_EV_POWEROFF, 0); break;
	case SYSCON_FAIL: s->event(s->opaque, SYSCON_EV_FAIL, code); break;
	case SYSCON_REBOOT: s->event(s->opaque, SYSCON_EV_REBOOT, 0); break;
	default: break;
	}
}

const struct mmio_ops syscon_ops = {
    .read = syscon_read,
    .write = syscon_write,
    .min_size = 4,
    .max_size = 4,
};
