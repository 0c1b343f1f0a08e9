/* Guest-virtual memory access for a hart: the TLB fast path inline, page walks (Sv39, Sv48,
 * Sv57; priv spec 4.3-4.6) and RAM/MMIO dispatch on the slow path. A failed access has already
 * raised the right exception (page fault, access fault) when these return false. */
#ifndef RVISOR_CPU_MMU_H
#define RVISOR_CPU_MMU_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/hart.h"

enum mmu_access { MMU_READ, MMU_WRITE, MMU_FETCH };

/* Slow paths (mmu.c). Same contract as the inline versions below; also where a debugger's
 * watchpoints are checked (struct hart_debug): an access touching one returns false without
 * an exception, having set h->watch_hit and left the instruction to run again. */
bool mmu_load_slow(struct hart *h, uint64_t gva, unsigned size, uint64_t *val);
bool mmu_store_slow(struct hart *h, uint64_t gva, unsigned size, uint64_t val);

/* Translate gva for access kind acc at the hart's effective privilege. On success stores the
 * guest-physical address in *gpa and returns 0; otherwise returns the exception cause
 * (CAUSE_*_PAGE_FAULT or CAUSE_*_ACCESS) without raising it. Sets A/D bits as needed. */
int mmu_translate(struct hart *h, uint64_t gva, enum mmu_access acc, uint64_t *gpa);

/* For a debugger: where the hart's current translation maps gva, as its instructions see
 * memory (at h->priv; MPRV is not applied). Checks no permission (a debugger may read code
 * and write read-only data), sets no A/D bit, raises nothing, changes nothing in h. Returns 0
 * with *gpa set, or the load page-fault cause when gva is not mapped. */
int mmu_translate_debug(struct hart *h, uint64_t gva, uint64_t *gpa);

/* Host pointer of the guest-physical page holding the instruction at h->pc and its decoded
 * page, filling the fetch TLB. Returns NULL after raising a fetch exception. */
struct itlb_entry *mmu_fetch_lookup(struct hart *h, uint64_t gva);

/* size (1, 2, 4, 8) bytes at host address p, little-endian (the host's order), zero-extended;
 * fixed-size copies, never a call to memcpy. */
static inline uint64_t mmu_read_le(const void *p, unsigned size)
{
	switch (size) {
	case 1: return *(const uint8_t *)p;
	case 2: {
		uint16_t v;
		memcpy(&v, p, 2);
		return v;
	}
	case 4: {
		uint32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	default: {
		uint64_t v;
		memcpy(&v, p, 8);
		return v;
	}
	}
}

/* Store the low size (1, 2, 4, 8) bytes of val at host address p, little-endian. */
static inline void mmu_write_le(void *p, unsigned size, uint64_t val)
{
	switch (size) {
	case 1: *(uint8_t *)p = (uint8_t)val; break;
	case 2: {
		uint16_t v = (uint16_t)val;
		memcpy(p, &v, 2);
		break;
	}
	case 4: {
		uint32_t v = (uint32_t)val;
		memcpy(p, &v, 4);
		break;
	}
	default: memcpy(p, &val, 8); break;
	}
}

/* Load size (1, 2, 4, 8) bytes at gva, zero-extended into *val. Misaligned accesses are
 * performed (not trapped). Returns false after raising an exception. */
static inline bool mmu_load(struct hart *h, uint64_t gva, unsigned size, uint64_t *val)
{
	const struct tlb_entry *e = &h->dtlb->r[(gva >> 12) & (TLB_ENTRIES - 1)];
	if (__builtin_expect(e->tag == gva >> 12 && (gva & 0xfff) <= 0x1000 - size, 1)) {
		*val = mmu_read_le((const void *)(e->addend + gva), size);
		return true;
	}
	return mmu_load_slow(h, gva, size, val);
}

/* Store the low size bytes of val at gva. Returns false after raising an exception. */
static inline bool mmu_store(struct hart *h, uint64_t gva, unsigned size, uint64_t val)
{
	const struct tlb_entry *e = &h->dtlb->w[(gva >> 12) & (TLB_ENTRIES - 1)];
	if (__builtin_expect(e->tag == gva >> 12 && (gva & 0xfff) <= 0x1000 - size, 1)) {
		mmu_write_le((void *)(e->addend + gva), size, val);
		return true;
	}
	return mmu_store_slow(h, gva, size, val);
}

/* A cache-block operation (CMO spec: Zicbom, Zicboz) on the ISA_CBO_BLOCK-byte block holding
 * gva, translated at the hart's effective data privilege. zero (cbo.zero): checked as a store
 * (setting A and D), then the block is zeroed (translations of code in it dropped, as for any
 * store); a block outside RAM raises a store access fault. Otherwise (cbo.clean, flush, inval):
 * allowed when a load or a store would be, and nothing else happens on this coherent memory.
 * A refused access raises a store page fault or store access fault with tval = gva. Returns
 * false after raising an exception. */
bool mmu_cbo(struct hart *h, uint64_t gva, bool zero);

/* Host pointer for an atomic access (LR/SC, AMO) of size bytes at gva, which must be
 * naturally aligned and in RAM; raises the exception and returns NULL otherwise (load
 * faults for LR, store/AMO faults for SC and AMOs). Also returns the guest-physical address
 * in *gpa (the LR/SC reservation). */
void *mmu_amo_ptr(struct hart *h, uint64_t gva, unsigned size, bool is_lr, uint64_t *gpa);

#endif
