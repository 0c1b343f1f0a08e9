/* ACLINT MSWI + MTIMER in the SiFive CLINT-compatible layout (ACLINT spec 1.0): msip words at
 * 0x0000 + 4*hart, mtimecmp at 0x4000 + 8*hart, mtime at 0xbff8. The device holds the
 * registers; the VMM delivers MSIP and the comparator values to the harts through callbacks.
 * Also the ACLINT SSWI device (spec chapter 4), a window of its own: one SETSSIP word per
 * hart, which sets that hart's mip.SSIP when written with bit 0 set. */
#ifndef RVISOR_DEV_ACLINT_H
#define RVISOR_DEV_ACLINT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mem/bus.h"

struct state_in;
struct state_out;

#define ACLINT_SIZE      0x10000 /* bytes of MMIO window */
#define ACLINT_SSWI_SIZE 0x4000  /* bytes of the SSWI device's window: 4096 SETSSIP words */
#define ACLINT_MAX_HARTS 64

struct aclint_cb {
	void *opaque;
	/* mtime: ticks of the 10 MHz timebase. */
	uint64_t (*time_now)(void *opaque);
	/* A hart's msip bit changed: drive its mip.MSIP. */
	void (*set_msip)(void *opaque, unsigned hart, bool level);
	/* A hart's mtimecmp changed (ticks): the hart raises MTIP while mtime >= value. */
	void (*set_mtimecmp)(void *opaque, unsigned hart, uint64_t value);
	/* SSWI: software wrote 1 to a hart's SETSSIP: set its mip.SSIP (software clears it,
	 * through sip). May be NULL when the SSWI window is not mapped. */
	void (*set_ssip)(void *opaque, unsigned hart);
};

/* Guest-visible register state. */
struct aclint_regs {
	uint32_t msip[ACLINT_MAX_HARTS];
	uint64_t mtimecmp[ACLINT_MAX_HARTS];
};

struct aclint {
	pthread_mutex_t lock;
	unsigned nharts;
	struct aclint_regs regs;
	struct aclint_cb cb;
};

/* nharts in 1..ACLINT_MAX_HARTS. mtimecmp resets to all ones. Returns 0 or -EINVAL. */
int aclint_init(struct aclint *a, unsigned nharts, const struct aclint_cb *cb);
void aclint_destroy(struct aclint *a);
/* MMIO callbacks; opaque is the struct aclint. 4- and 8-byte accesses. Writes to mtime are
 * ignored (the timebase is the host clock). */
extern const struct mmio_ops aclint_ops;
/* MMIO callbacks of the SSWI device (ACLINT spec 4, "SSWI device"); opaque is the same
 * struct aclint, mapped at a window of ACLINT_SSWI_SIZE bytes of its own. Naturally aligned
 * 4-byte accesses: a write to the word at 4 * hart with bit 0 set calls set_ssip for that
 * hart (other bits, and harts past nharts, are ignored); reads return 0. The device has no
 * state of its own (SSIP lives in the hart's mip), so no snapshot section. */
extern const struct mmio_ops aclint_sswi_ops;
void aclint_save(struct aclint *a, struct aclint_regs *out);
/* Restores registers and re-delivers msip/mtimecmp through the callbacks. */
int aclint_restore(struct aclint *a, const struct aclint_regs *in);
/* Snapshots (src/state/stream.h): append section "aclint" (layout version 1): u32 nharts,
 * then for each hart u32 msip, u64 mtimecmp (ticks). */
void aclint_state_save(struct aclint *a, struct state_out *o);
/* Read section "aclint" and apply it as aclint_restore does (msip and mtimecmp re-delivered
 * to the harts). The hart count must be this device's and every msip 0 or 1; otherwise the
 * stream fails naming the value, the device is unchanged and -EINVAL is returned. */
int aclint_state_load(struct aclint *a, struct state_in *in);

#endif
