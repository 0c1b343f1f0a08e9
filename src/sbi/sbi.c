/* SBI implementation (SBI spec 2.0, chapters 3-12 and 4 legacy): the hypervisor answers the
 * kernel's ecalls directly. Every argument is guest-controlled: hart masks, ids and buffer
 * addresses are range-checked; a bad one is an SBI error, never a host fault. */
#include <string.h>

#include "cpu/hart.h"
#include "host/chr.h"
#include "mem/guest_mem.h"
#include "sbi/sbi.h"
#include "vmm/vm.h"

enum {
	SBI_SUCCESS = 0,
	SBI_ERR_FAILED = -1,
	SBI_ERR_NOT_SUPPORTED = -2,
	SBI_ERR_INVALID_PARAM = -3,
	SBI_ERR_DENIED = -4,
	SBI_ERR_INVALID_ADDRESS = -5,
	SBI_ERR_ALREADY_AVAILABLE = -6,
};

enum {
	SBI_EXT_LEGACY_SET_TIMER = 0x00,
	SBI_EXT_LEGACY_PUTCHAR = 0x01,
	SBI_EXT_LEGACY_GETCHAR = 0x02,
	SBI_EXT_LEGACY_SHUTDOWN = 0x08,
	SBI_EXT_BASE = 0x10,
	SBI_EXT_TIME = 0x54494d45,
	SBI_EXT_IPI = 0x735049,
	SBI_EXT_RFENCE = 0x52464e43,
	SBI_EXT_HSM = 0x48534d,
	SBI_EXT_SRST = 0x53525354,
	SBI_EXT_DBCN = 0x4442434e,
};

enum { HSM_STARTED = 0, HSM_STOPPED = 1 };

#define SBI_SPEC_VERSION ((2u << 24) | 0u)
#define SBI_IMPL_ID      0x7276 /* "rv": not in the SBI registry; an implementation of our own */

struct sbiret {
	long error;
	unsigned long value;
};

static struct sbiret ok(unsigned long v)
{
	return (struct sbiret){SBI_SUCCESS, v};
}
static struct sbiret err(long e)
{
	return (struct sbiret){e, 0};
}

static bool ext_supported(unsigned long eid)
{
	switch (eid) {
	case SBI_EXT_LEGACY_SET_TIMER:
	case SBI_EXT_LEGACY_PUTCHAR:
	case SBI_EXT_LEGACY_GETCHAR:
	case SBI_EXT_LEGACY_SHUTDOWN:
	case SBI_EXT_BASE:
	case SBI_EXT_TIME:
	case SBI_EXT_IPI:
	case SBI_EXT_RFENCE:
	case SBI_EXT_HSM:
	case SBI_EXT_SRST:
	case SBI_EXT_DBCN: return true;
	default: return false;
	}
}

static void set_timer(struct hart *h, uint64_t when)
{
	/* rvisor's harts implement Sstc: the SBI timer is stimecmp. */
	h->stimecmp = when;
	hart_update_timers(h, h->env.time_now(h->env.opaque));
	hart_end_batch(h);
}

/* Apply fn(self, t, arg) to every hart t selected by (mask, base) as SBI spec 3.2 defines
 * (base = -1: all harts). A mask naming a hart that does not exist changes nothing and gives
 * SBI_ERR_INVALID_PARAM. */
static long harts_apply(struct vm *vm, unsigned long mask, unsigned long base,
			void (*fn)(struct hart *self, struct hart *t, unsigned arg),
			struct hart *self, unsigned arg)
{
	if (base == ~0ul) {
		for (unsigned i = 0; i < vm->nharts; i++)
			fn(self, &vm->harts[i], arg);
		return SBI_SUCCESS;
	}
	if (mask &&
	    (base >= vm->nharts || (unsigned long)(64 - __builtin_clzl(mask)) > vm->nharts - base))
		return SBI_ERR_INVALID_PARAM;
	for (unsigned bit = 0; bit < 64; bit++)
		if ((mask >> bit) & 1)
			fn(self, &vm->harts[base + bit], arg);
	return SBI_SUCCESS;
}

static void send_ipi(struct hart *self, struct hart *t, unsigned arg)
{
	(void)self;
	(void)arg;
	hart_set_mip(t, MIP_SSIP, true);
}

static void fence_local(struct hart *h, unsigned what)
{
	if (what & HART_FENCE_TLB)
		hart_flush_tlb(h);
	if (what & HART_FENCE_ICACHE)
		hart_flush_icache(h);
	if (what & HART_FENCE_DIRTY) /* asked by the dirty log while this hart was waiting */
		hart_flush_write_tlb(h);
}

/* A remote fence in two passes over the targets, so that they all flush at the same time:
 * post asks each (the caller flushes itself at once), wait then waits for each. */
static void fence_post(struct hart *self, struct hart *t, unsigned what)
{
	if (t == self) {
		fence_local(self, what);
		return;
	}
	atomic_fetch_or(&t->fence_req, what);
	hart_kick(t);
}

/* The fence is complete when the call returns (SBI spec 8): wait for running harts; stopped
 * ones flush when started. */
static void fence_wait(struct hart *self, struct hart *t, unsigned what)
{
	if (t == self)
		return;
	while ((atomic_load(&t->fence_req) & what) && !atomic_load(&t->stopped) &&
	       !atomic_load(&t->exit_req)) {
		/* Serve fences asked of us meanwhile: two harts fencing each other at once would
		 * otherwise wait for each other forever. */
		fence_local(self, atomic_exchange(&self->fence_req, 0));
		sched_yield();
	}
}

static long fence_harts(struct vm *vm, unsigned long mask, unsigned long base, struct hart *self,
			unsigned what)
{
	long rc = harts_apply(vm, mask, base, fence_post, self, what);
	if (rc == SBI_SUCCESS)
		harts_apply(vm, mask, base, fence_wait, self, what);
	return rc;
}

static struct sbiret hsm_start(struct vm *vm, unsigned long hartid, unsigned long addr,
			       unsigned long opaque)
{
	if (hartid >= vm->nharts)
		return err(SBI_ERR_INVALID_PARAM);
	/* The hart would fetch its first instruction there: it must be RAM (9.1). */
	if ((addr & 1) || !guest_mem_ptr(&vm->mem, addr, 2))
		return err(SBI_ERR_INVALID_ADDRESS);
	struct hart *t = &vm->harts[hartid];
	if (!atomic_load(&t->stopped))
		return err(SBI_ERR_ALREADY_AVAILABLE);
	/* The target is asleep in its run loop: set its state, then release it. */
	pthread_mutex_lock(&t->wait_lock);
	t->pc = t->pc_next = addr;
	t->priv = PRV_S;
	t->satp = 0;
	t->mstatus &= ~(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP);
	t->x[10] = hartid;
	t->x[11] = opaque;
	hart_flush_tlb(t);
	hart_update_mode(t);
	atomic_store(&t->stopped, 0);
	pthread_cond_signal(&t->wait_cond);
	pthread_mutex_unlock(&t->wait_lock);
	return ok(0);
}

/* hart_suspend's suspend_type (9.4, table 40): 0 is the default retentive suspend, the one
 * rvisor implements; the default non-retentive one and the platform-specific ranges are valid
 * but not implemented; the rest, and anything past 32 bits, is reserved. */
static long suspend_type_check(unsigned long type)
{
	if (type == 0)
		return SBI_SUCCESS;
	if (type > 0xffffffffu || (type >= 0x00000001 && type <= 0x0fffffff) ||
	    (type >= 0x80000001 && type <= 0x8fffffff))
		return SBI_ERR_INVALID_PARAM;
	return SBI_ERR_NOT_SUPPORTED;
}

/* system_reset's reset_type and reset_reason (10.1, tables 43-44): types 0-2 and reasons 0
 * (none) and 1 (system failure) are served; vendor and implementation-specific values are
 * valid but rvisor has none; the rest, and anything past 32 bits, is reserved. */
static long srst_check(unsigned long type, unsigned long reason)
{
	if (type > 0xffffffffu || (type > 2 && type < 0xf0000000) || reason > 0xffffffffu ||
	    (reason > 1 && reason < 0xe0000000))
		return SBI_ERR_INVALID_PARAM;
	if (type > 2 || reason > 1)
		return SBI_ERR_NOT_SUPPORTED;
	return SBI_SUCCESS;
}

/* Console input for the SBI: where the UART holds the console, host input lands in its
 * receive FIFO (firmware reads the same receiver); otherwise straight from the backend. */
static size_t console_read(struct vm *vm, uint8_t *buf, size_t len)
{
	if (vm->uart.chr == vm->console)
		return uart16550_read_input(&vm->uart, buf, len);
	return vm->console->read(vm->console, buf, len);
}

static struct sbiret dbcn_rw(struct vm *vm, bool write, unsigned long n, unsigned long lo,
			     unsigned long hi)
{
	if (hi != 0)
		return err(SBI_ERR_INVALID_PARAM);
	uint8_t *p = guest_mem_ptr(&vm->mem, lo, n);
	if (!p && n)
		return err(SBI_ERR_INVALID_PARAM);
	if (!vm->console)
		return ok(write ? n : 0);
	if (write) {
		vm->console->write(vm->console, p, n);
		return ok(n);
	}
	atomic_fetch_add_explicit(&vm->mem.dma_writes, 1, memory_order_relaxed);
	guest_mem_mark_dirty(&vm->mem, lo, n);
	return ok(console_read(vm, p, n));
}

static struct sbiret dispatch(struct vm *vm, struct hart *h)
{
	unsigned long eid = h->x[17], fid = h->x[16];
	unsigned long a0 = h->x[10], a1 = h->x[11], a2 = h->x[12];
	switch (eid) {
	case SBI_EXT_LEGACY_SET_TIMER: set_timer(h, a0); return ok(0);
	case SBI_EXT_LEGACY_PUTCHAR: {
		uint8_t c = (uint8_t)a0;
		if (vm->console)
			vm->console->write(vm->console, &c, 1);
		return ok(0);
	}
	case SBI_EXT_LEGACY_GETCHAR: {
		uint8_t c;
		/* Legacy calls return the value in a0. */
		if (vm->console && console_read(vm, &c, 1) == 1)
			return err(c);
		return err(-1);
	}
	case SBI_EXT_LEGACY_SHUTDOWN: vm_request_exit(vm, VM_STATUS_POWEROFF); return ok(0);
	case SBI_EXT_BASE:
		switch (fid) {
		case 0: return ok(SBI_SPEC_VERSION);
		case 1: return ok(SBI_IMPL_ID);
		case 2: return ok(1);
		case 3: return ok(ext_supported(a0));
		case 4:
		case 5:
		case 6: return ok(0); /* mvendorid, marchid, mimpid */
		default: return err(SBI_ERR_NOT_SUPPORTED);
		}
	case SBI_EXT_TIME:
		if (fid != 0)
			return err(SBI_ERR_NOT_SUPPORTED);
		set_timer(h, a0);
		return ok(0);
	case SBI_EXT_IPI:
		if (fid != 0)
			return err(SBI_ERR_NOT_SUPPORTED);
		return err(harts_apply(vm, a0, a1, send_ipi, h, 0));
	case SBI_EXT_RFENCE:
		switch (fid) {
		case 0: return err(fence_harts(vm, a0, a1, h, HART_FENCE_ICACHE));
		case 1:
		case 2: return err(fence_harts(vm, a0, a1, h, HART_FENCE_TLB));
		default: return err(SBI_ERR_NOT_SUPPORTED);
		}
	case SBI_EXT_HSM:
		switch (fid) {
		case 0: return hsm_start(vm, a0, a1, a2);
		case 1: /* hart_stop: sleeps in the run loop until started again */
			atomic_store(&h->stopped, 1);
			hart_end_batch(h);
			return ok(0);
		case 2:
			if (a0 >= vm->nharts)
				return err(SBI_ERR_INVALID_PARAM);
			return ok(atomic_load(&vm->harts[a0].stopped) ? HSM_STOPPED : HSM_STARTED);
		case 3: { /* hart_suspend: retentive suspend behaves as WFI */
			long rc = suspend_type_check(a0);
			if (rc != SBI_SUCCESS)
				return err(rc);
			h->wfi = true;
			hart_end_batch(h);
			return ok(0);
		}
		default: return err(SBI_ERR_NOT_SUPPORTED);
		}
	case SBI_EXT_SRST: {
		if (fid != 0)
			return err(SBI_ERR_NOT_SUPPORTED);
		long rc = srst_check(a0, a1);
		if (rc != SBI_SUCCESS)
			return err(rc);
		vm_request_exit(vm, a0 == 0 ? (a1 == 0 ? VM_STATUS_POWEROFF : VM_STATUS_FAIL)
					    : VM_STATUS_REBOOT);
		return ok(0);
	}
	case SBI_EXT_DBCN:
		switch (fid) {
		case 0: return dbcn_rw(vm, true, a0, a1, a2);
		case 1: return dbcn_rw(vm, false, a0, a1, a2);
		case 2: {
			uint8_t c = (uint8_t)a0;
			if (vm->console)
				vm->console->write(vm->console, &c, 1);
			return ok(0);
		}
		default: return err(SBI_ERR_NOT_SUPPORTED);
		}
	default: return err(SBI_ERR_NOT_SUPPORTED);
	}
}

bool sbi_call(void *opaque, struct hart *h)
{
	struct sbiret r = dispatch(opaque, h);
	h->x[10] = (uint64_t)r.error;
	if (h->x[17] > SBI_EXT_LEGACY_SHUTDOWN) /* legacy calls leave a1 alone */
		h->x[11] = r.value;
	return true;
}
