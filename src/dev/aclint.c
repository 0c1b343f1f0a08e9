/* ACLINT MSWI and MTIMER devices (RISC-V ACLINT spec 1.0, chapters 2 and 3) in the SiFive
 * CLINT-compatible layout: msip words, then mtimecmp registers, then mtime. The 64-bit timer
 * registers accept 8-byte accesses and 4-byte accesses to either half (RV32 software). And
 * the SSWI device (chapter 4): SETSSIP words in a window of their own. */
#include <errno.h>
#include <string.h>

#include "dev/aclint.h"
#include "state/stream.h"

#define ACLINT_MSIP_BASE     0x0000u
#define ACLINT_MTIMECMP_BASE 0x4000u
#define ACLINT_MTIME_BASE    0xbff8u
#define ACLINT_END           0xc000u
#define ACLINT_STATE_VERSION 1

int aclint_init(struct aclint *a, unsigned nharts, const struct aclint_cb *cb)
{
	if (nharts < 1 || nharts > ACLINT_MAX_HARTS || !cb)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	int rc = pthread_mutex_init(&a->lock, NULL);
	if (rc)
		return -rc;
	a->nharts = nharts;
	a->cb = *cb;
	/* mtimecmp resets to all ones so that no timer interrupt is pending before software
	 * programs one. */
	for (unsigned i = 0; i < ACLINT_MAX_HARTS; i++)
		a->regs.mtimecmp[i] = UINT64_MAX;
	return 0;
}

void aclint_destroy(struct aclint *a)
{
	pthread_mutex_destroy(&a->lock);
}

static uint64_t aclint_mtime(struct aclint *a)
{
	return a->cb.time_now ? a->cb.time_now(a->cb.opaque) : 0;
}

/* The msip word at offset (4-byte aligned, below ACLINT_MTIMECMP_BASE). */
static uint32_t msip_read(struct aclint *a, uint64_t offset)
{
	uint64_t hart = (offset - ACLINT_MSIP_BASE) / 4;
	return hart < a->nharts ? a->regs.msip[hart] : 0;
}

static void msip_write(struct aclint *a, uint64_t offset, uint32_t value)
{
	uint64_t hart = (offset - ACLINT_MSIP_BASE) / 4;
	if (hart >= a->nharts)
		return;
	/* Only bit 0 is implemented; the upper bits are hardwired to zero. */
	uint32_t msip = value & 1;
	if (msip == a->regs.msip[hart])
		return;
	a->regs.msip[hart] = msip;
	if (a->cb.set_msip)
		a->cb.set_msip(a->cb.opaque, (unsigned)hart, msip);
}

/* Select the half of a 64-bit register that a 4-byte access at offset addresses. */
static uint64_t half_read(uint64_t reg, uint64_t offset, unsigned size)
{
	if (size == 8)
		return reg;
	return (offset & 4) ? reg >> 32 : reg & 0xffffffffu;
}

static uint64_t half_merge(uint64_t reg, uint64_t offset, unsigned size, uint64_t value)
{
	if (size == 8)
		return value;
	if (offset & 4)
		return (reg & 0xffffffffu) | (value << 32);
	return (reg & ~0xffffffffull) | (value & 0xffffffffu);
}

static uint64_t aclint_read(void *opaque, uint64_t offset, unsigned size)
{
	struct aclint *a = opaque;
	uint64_t v = 0;
	if ((size != 4 && size != 8) || offset % size)
		return 0;
	pthread_mutex_lock(&a->lock);
	if (offset < ACLINT_MTIMECMP_BASE) {
		v = msip_read(a, offset);
		if (size == 8)
			v |= (uint64_t)msip_read(a, offset + 4) << 32;
	} else if (offset < ACLINT_MTIME_BASE) {
		uint64_t hart = (offset - ACLINT_MTIMECMP_BASE) / 8;
		if (hart < a->nharts)
			v = half_read(a->regs.mtimecmp[hart], offset, size);
	} else if (offset < ACLINT_END) {
		v = half_read(aclint_mtime(a), offset, size);
	}
	pthread_mutex_unlock(&a->lock);
	return v;
}

static void aclint_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct aclint *a = opaque;
	if ((size != 4 && size != 8) || offset % size)
		return;
	pthread_mutex_lock(&a->lock);
	if (offset < ACLINT_MTIMECMP_BASE) {
		msip_write(a, offset, (uint32_t)value);
		if (size == 8)
			msip_write(a, offset + 4, (uint32_t)(value >> 32));
	} else if (offset < ACLINT_MTIME_BASE) {
		uint64_t hart = (offset - ACLINT_MTIMECMP_BASE) / 8;
		if (hart < a->nharts) {
			uint64_t old = a->regs.mtimecmp[hart];
			uint64_t cmp = half_merge(old, offset, size, value);
			a->regs.mtimecmp[hart] = cmp;
			if (cmp != old && a->cb.set_mtimecmp)
				a->cb.set_mtimecmp(a->cb.opaque, (unsigned)hart, cmp);
		}
	}
	/* mtime is the host clock: writes to it, and to offsets past it, are ignored. */
	pthread_mutex_unlock(&a->lock);
}

const struct mmio_ops aclint_ops = {
    .read = aclint_read,
    .write = aclint_write,
    .min_size = 4,
    .max_size = 8,
};

static uint64_t sswi_read(void *opaque, uint64_t offset, unsigned size)
{
	(void)opaque;
	(void)offset;
	(void)size;
	return 0; /* SETSSIP always reads as zero */
}

static void sswi_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct aclint *a = opaque;
	uint64_t hart = offset / 4;
	/* Writing 0 has no effect: software clears SSIP through sip. */
	if (size != 4 || offset % 4 || hart >= a->nharts || !(value & 1) || !a->cb.set_ssip)
		return;
	a->cb.set_ssip(a->cb.opaque, (unsigned)hart);
}

const struct mmio_ops aclint_sswi_ops = {
    .read = sswi_read,
    .write = sswi_write,
    .min_size = 4,
    .max_size = 4,
};

void aclint_save(struct aclint *a, struct aclint_regs *out)
{
	pthread_mutex_lock(&a->lock);
	*out = a->regs;
	pthread_mutex_unlock(&a->lock);
}

int aclint_restore(struct aclint *a, const struct aclint_regs *in)
{
	for (unsigned i = 0; i < ACLINT_MAX_HARTS; i++)
		if (in->msip[i] > 1 || (i >= a->nharts && in->msip[i]))
			return -EINVAL;
	pthread_mutex_lock(&a->lock);
	a->regs = *in;
	for (unsigned i = 0; i < a->nharts; i++) {
		if (a->cb.set_msip)
			a->cb.set_msip(a->cb.opaque, i, a->regs.msip[i]);
		if (a->cb.set_mtimecmp)
			a->cb.set_mtimecmp(a->cb.opaque, i, a->regs.mtimecmp[i]);
	}
	pthread_mutex_unlock(&a->lock);
	return 0;
}

void aclint_state_save(struct aclint *a, struct state_out *o)
{
	struct aclint_regs r;
	aclint_save(a, &r);
	state_begin(o, "aclint", ACLINT_STATE_VERSION);
	state_put_u32(o, a->nharts);
	for (unsigned i = 0; i < a->nharts; i++) {
		state_put_u32(o, r.msip[i]);
		state_put_u64(o, r.mtimecmp[i]);
	}
	state_end(o);
}

int aclint_state_load(struct aclint *a, struct state_in *in)
{
	uint32_t version = state_enter(in, "aclint");
	if (!state_check(in, version == ACLINT_STATE_VERSION,
			 "layout version %u, this build reads %u", version, ACLINT_STATE_VERSION))
		return -EINVAL;
	uint32_t n = state_get_u32(in);
	if (!state_check(in, n == a->nharts, "the snapshot has %u harts, this VM %u", n, a->nharts))
		return -EINVAL;
	/* Harts past nharts keep their reset values, as the guest cannot reach them. */
	struct aclint_regs r;
	memset(&r, 0, sizeof(r));
	for (unsigned i = 0; i < ACLINT_MAX_HARTS; i++)
		r.mtimecmp[i] = UINT64_MAX;
	for (unsigned i = 0; i < n && !in->failed; i++) {
		r.msip[i] = state_get_u32(in);
		r.mtimecmp[i] = state_get_u64(in);
		if (!state_check(in, r.msip[i] <= 1, "msip of hart %u is %u, not 0 or 1", i,
				 r.msip[i]))
			return -EINVAL;
	}
	if (!state_leave(in) ||
	    !state_check(in, aclint_restore(a, &r) == 0, "the registers are inconsistent"))
		return -EINVAL;
	return 0;
}
