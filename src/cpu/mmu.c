/* Address translation and the memory slow paths: Sv39/Sv48/Sv57 page-table walks with the
 * permission and A/D rules of priv spec 4.3.2, 4.4-4.6 (A/D updated by the walker, atomically),
 * PMP checks (priv spec 3.7: of each access and of the walk's own accesses, made when a
 * translation is cached, so that TLB hits cost nothing), TLB refills, RAM vs MMIO dispatch,
 * page-crossing and misaligned accesses, and the decoded-instruction page lookup for
 * fetches. */
#include <string.h>

#include "cpu/isa.h"
#include "cpu/mmu.h"
#include "cpu/pmp.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"
#include "jit/jit.h"

#define PTE_V         (1ull << 0)
#define PTE_R         (1ull << 1)
#define PTE_W         (1ull << 2)
#define PTE_X         (1ull << 3)
#define PTE_U         (1ull << 4)
#define PTE_A         (1ull << 6)
#define PTE_D         (1ull << 7)
#define PTE_PPN_SHIFT 10
#define PTE_PPN_MASK  ((1ull << 44) - 1)
#define PTE_RESERVED  (0x7full << 54) /* bits 60-54 */
#define PTE_PBMT      (3ull << 61)    /* Svpbmt: 0 PMA, 1 NC, 2 IO, 3 reserved */
#define PTE_N         (1ull << 63)    /* Svnapot */

static int fault_cause(enum mmu_access acc, bool page_fault)
{
	static const int pf[] = {CAUSE_LOAD_PAGE_FAULT, CAUSE_STORE_PAGE_FAULT,
				 CAUSE_FETCH_PAGE_FAULT};
	static const int af[] = {CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS, CAUSE_FETCH_ACCESS};
	return page_fault ? pf[acc] : af[acc];
}

/* Privilege the access is checked against (MPRV applies to loads and stores only). */
static unsigned access_priv(const struct hart *h, enum mmu_access acc)
{
	if (acc != MMU_FETCH && h->priv == PRV_M && (h->mstatus & MSTATUS_MPRV))
		return (h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT;
	return h->priv;
}

static const unsigned pmp_perm[] = {[MMU_READ] = PMP_R, [MMU_WRITE] = PMP_W, [MMU_FETCH] = PMP_X};

/* PMP for an access of kind acc of size bytes at gpa (not crossing a page), at the hart's
 * effective privilege for acc. */
static inline enum pmp_result pmp_access(const struct hart *h, uint64_t gpa, unsigned size,
					 enum mmu_access acc)
{
	return pmp_check(h, gpa, size, pmp_perm[acc], access_priv(h, acc));
}

/* Whether PMP lets the page walker make an access needing perm to the PTE at pte_gpa: the
 * walk's implicit accesses are checked as S-mode accesses (priv spec 3.7.1, 4.3.2). */
static inline bool pmp_pte_ok(const struct hart *h, uint64_t pte_gpa, unsigned perm)
{
	return pmp_check(h, pte_gpa, 8, perm, PRV_S) != PMP_DENY;
}

/* Whether the bits of pte above its PPN make it reserved (a page fault): bits 60-54 always;
 * PBMT on a pointer (non-leaf) PTE, set to 3, or set while the hart lacks Svpbmt or
 * menvcfg.PBMTE is clear; N on a pointer PTE or without Svnapot (Svnapot and Svpbmt
 * chapters of the privileged spec). */
static inline bool pte_attrs_reserved(const struct hart *h, uint64_t pte, bool leaf)
{
	if (!(pte >> 54))
		return false;
	if (pte & PTE_RESERVED)
		return true;
	uint64_t pbmt = pte & PTE_PBMT;
	if (pbmt && (!leaf || pbmt == PTE_PBMT || !(h->isa_ext & ISA_EXT(svpbmt)) ||
		     !(h->menvcfg & MENVCFG_PBMTE)))
		return true;
	return (pte & PTE_N) && (!leaf || !(h->isa_ext & ISA_EXT(svnapot)));
}

/* The page walk of mmu_translate at privilege priv. A debugger's walk (debug) checks no
 * permission, sets no A/D bit and leaves h alone: it asks only where gva is mapped. */
static inline __attribute__((always_inline)) int
walk(struct hart *h, uint64_t gva, enum mmu_access acc, unsigned priv, bool debug, uint64_t *gpa)
{
	unsigned mode = h->satp >> SATP_MODE_SHIFT;
	if (!debug)
		h->walk_level = 0;
	if (priv == PRV_M || mode == SATP_MODE_BARE) {
		*gpa = gva;
		return 0;
	}
	unsigned levels = mode - SATP_MODE_SV39 + 3; /* 3, 4 or 5 */
	unsigned va_bits = 12 + 9 * levels;
	/* The upper bits must all equal bit va_bits-1 (priv spec 4.4.1). */
	if ((uint64_t)(((int64_t)(gva << (64 - va_bits))) >> (64 - va_bits)) != gva)
		return fault_cause(acc, true);

retry:;
	uint64_t a = (h->satp & SATP_PPN_MASK) << 12;
	for (int i = (int)levels - 1; i >= 0; i--) {
		uint64_t pte_gpa = a + (((gva >> (12 + 9 * i)) & 0x1ff) << 3);
		uint64_t *ptep = guest_mem_ptr(h->mem, pte_gpa, 8);
		/* A PTE outside RAM, or one PMP denies: an access fault of the access's type. */
		if (!ptep || (!debug && !pmp_pte_ok(h, pte_gpa, PMP_R)))
			return fault_cause(acc, false);
		uint64_t pte = __atomic_load_n(ptep, __ATOMIC_ACQUIRE);
		if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) ||
		    pte_attrs_reserved(h, pte, pte & (PTE_R | PTE_X)))
			return fault_cause(acc, true);
		uint64_t ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK;
		if (!(pte & (PTE_R | PTE_X))) {
			if (i == 0)
				return fault_cause(acc, true);
			a = ppn << 12;
			continue;
		}
		if (pte & PTE_N) {
			/* Svnapot: a 4 KiB leaf of a 64 KiB range (PPN[3:0] = 1000, the only size
			 * defined), the low PPN bits taken from the address. */
			if (i != 0 || (ppn & 0xf) != 0x8)
				return fault_cause(acc, true);
			ppn = (ppn & ~0xfull) | ((gva >> 12) & 0xf);
		}
		if (debug) {
			if (i > 0 && (ppn & ((1ull << (9 * i)) - 1)))
				return fault_cause(acc, true);
			uint64_t off_mask = (1ull << (12 + 9 * i)) - 1;
			*gpa = ((ppn << 12) & ~off_mask) | (gva & off_mask);
			return 0;
		}
		/* Leaf: permissions. */
		bool ok;
		if (acc == MMU_FETCH)
			ok = pte & PTE_X;
		else if (acc == MMU_READ)
			ok = (pte & PTE_R) || ((h->mstatus & MSTATUS_MXR) && (pte & PTE_X));
		else
			ok = pte & PTE_W;
		if (!ok)
			return fault_cause(acc, true);
		if (pte & PTE_U) {
			if (priv == PRV_S && (acc == MMU_FETCH || !(h->mstatus & MSTATUS_SUM)))
				return fault_cause(acc, true);
		} else if (priv == PRV_U) {
			return fault_cause(acc, true);
		}
		/* A misaligned superpage is a page fault. */
		if (i > 0 && (ppn & ((1ull << (9 * i)) - 1)))
			return fault_cause(acc, true);
		uint64_t want = PTE_A | (acc == MMU_WRITE ? PTE_D : 0);
		if ((pte & want) != want) {
			if (!pmp_pte_ok(h, pte_gpa, PMP_W))
				return fault_cause(acc, false);
			if (!__atomic_compare_exchange_n(ptep, &pte, pte | want, false,
							 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				goto retry;
			guest_mem_mark_dirty(h->mem, pte_gpa, 8);
		}
		uint64_t off_mask = (1ull << (12 + 9 * i)) - 1;
		*gpa = ((ppn << 12) & ~off_mask) | (gva & off_mask);
		h->walk_level = (uint8_t)i;
		return 0;
	}
	return fault_cause(acc, true);
}

int mmu_translate(struct hart *h, uint64_t gva, enum mmu_access acc, uint64_t *gpa)
{
	return walk(h, gva, acc, access_priv(h, acc), false, gpa);
}

int mmu_translate_debug(struct hart *h, uint64_t gva, uint64_t *gpa)
{
	return walk(h, gva, MMU_READ, h->priv, true, gpa);
}

/* ---- a debugger's watchpoints (struct hart_debug) ---- */

/* Whether the 4 KiB page of gva holds a byte of a watched range: such a page never enters the
 * data TLB, so that every access to it comes through the slow paths below. */
static bool watched_page(const struct hart *h, uint64_t gva)
{
	const struct hart_debug *d = h->debug;
	uint64_t page = gva & ~0xfffull;
	for (unsigned i = 0; i < d->nwp; i++) {
		uint64_t first = d->wp[i].addr & ~0xfffull;
		uint64_t last = (d->wp[i].addr + d->wp[i].len - 1) & ~0xfffull;
		if (first <= last ? page >= first && page <= last : page >= first || page <= last)
			return true;
	}
	return false;
}

/* An access of size bytes at gva of kind (HART_WATCH_READ and/or _WRITE) is about to be made,
 * before its translation (an address trigger comes before page faults: priv spec 3.1.15). If
 * it touches a watched range: record the watchpoint (h->watch_hit, h->watch_addr: an address
 * in both) and abandon the instruction before any of its effects, so that the hart stops at
 * it, as RISC-V's debug triggers fire before the access; GDB then steps over it with its
 * watchpoints removed. Returns true when abandoned. */
static bool watch_stop(struct hart *h, uint64_t gva, unsigned size, unsigned kind)
{
	const struct hart_debug *d = h->debug;
	if (__builtin_expect(!d || !d->nwp, 1))
		return false;
	for (unsigned i = 0; i < d->nwp; i++) {
		const struct hart_watchpoint *w = &d->wp[i];
		if ((w->kind & kind) && gva < w->addr + w->len && w->addr < gva + size) {
			h->watch_hit = (uint8_t)w->kind;
			h->watch_addr = gva > w->addr ? gva : w->addr;
			h->pc_next = h->pc; /* it runs again once resumed */
			hart_end_batch(h);
			h->batch_len--; /* and does not retire now */
			return true;
		}
	}
	return false;
}

/* Entry idx of set t came from a superpage at level (vpn: the page it was filled for). */
static void note_superpage(struct tlb_set *t, unsigned idx, unsigned level, uint64_t vpn)
{
	uint64_t span = (1ull << (9 * level)) - 1;
	t->super[idx / 64] |= 1ull << (idx % 64);
	if ((vpn & ~span) < t->super_lo)
		t->super_lo = vpn & ~span;
	if ((vpn | span) > t->super_hi)
		t->super_hi = vpn | span;
}

/* Record the leaf level of the walk that filled entry idx of a TLB set. */
static void note_level(struct hart *h, uint8_t *levels, unsigned idx, uint64_t vpn)
{
	levels[idx] = h->walk_level;
	if (h->walk_level)
		note_superpage(h->dtlb, idx, h->walk_level, vpn);
}

/* Fill a data TLB entry for the page of gva, which translated to gpa in RAM (write: the
 * write array, else the read array of the current data set). */
static void tlb_fill(struct hart *h, bool write, uint64_t gva, uint64_t gpa)
{
	uint8_t *hva = guest_mem_ptr(h->mem, gpa & ~0xfffull, 4096);
	if (!hva || (h->debug && h->debug->nwp && watched_page(h, gva)))
		return;
	unsigned idx = (gva >> 12) & (TLB_ENTRIES - 1);
	struct tlb_entry *e = write ? &h->dtlb->w[idx] : &h->dtlb->r[idx];
	h->dtlb->used[idx / 64] |= 1ull << (idx % 64);
	e->tag = gva >> 12;
	e->addend = (uintptr_t)hva - (gva & ~0xfffull);
	note_level(h, write ? h->dtlb->w_level : h->dtlb->r_level, idx, gva >> 12);
}

/* One access that does not cross a page. Returns false after raising the exception. */
static bool load_one(struct hart *h, uint64_t gva, unsigned size, uint64_t *val)
{
	uint64_t gpa;
	int cause = mmu_translate(h, gva, MMU_READ, &gpa);
	enum pmp_result pmp = cause ? PMP_DENY : pmp_access(h, gpa, size, MMU_READ);
	if (!cause && pmp == PMP_DENY)
		cause = CAUSE_LOAD_ACCESS;
	if (cause) {
		hart_trap(h, (uint64_t)cause, gva);
		return false;
	}
	const uint8_t *p = guest_mem_ptr(h->mem, gpa, size);
	if (p) {
		*val = mmu_read_le(p, size);
		if (pmp == PMP_ALLOW_PAGE) /* else every access to the page comes here */
			tlb_fill(h, false, gva, gpa);
		return true;
	}
	hart_count(&h->exits.mmio);
	if (!bus_read(h->bus, gpa, size, val)) {
		hart_trap(h, CAUSE_LOAD_ACCESS, gva);
		return false;
	}
	return true;
}

bool mmu_load_slow(struct hart *h, uint64_t gva, unsigned size, uint64_t *val)
{
	if (watch_stop(h, gva, size, HART_WATCH_READ))
		return false;
	if (((gva & 0xfff) + size) <= 0x1000)
		return load_one(h, gva, size, val);
	/* Crosses a page: assemble byte by byte (each byte may fault). */
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++) {
		uint64_t b;
		if (!load_one(h, gva + i, 1, &b))
			return false;
		v |= b << (8 * i);
	}
	*val = v;
	return true;
}

/* Translate a store of size bytes at gva (not crossing a page) and check it against PMP;
 * *pmp says whether its page may be cached. Returns false after raising the exception. */
static bool store_translate(struct hart *h, uint64_t gva, unsigned size, uint64_t *gpa,
			    enum pmp_result *pmp)
{
	int cause = mmu_translate(h, gva, MMU_WRITE, gpa);
	if (!cause && (*pmp = pmp_access(h, *gpa, size, MMU_WRITE)) == PMP_DENY)
		cause = CAUSE_STORE_ACCESS;
	if (cause) {
		hart_trap(h, (uint64_t)cause, gva);
		return false;
	}
	return true;
}

/* The store of size bytes at gva, translated to gpa; cache: PMP allows the whole page. */
static bool store_phys(struct hart *h, uint64_t gva, uint64_t gpa, unsigned size, uint64_t val,
		       bool cache)
{
	uint8_t *p = guest_mem_ptr(h->mem, gpa, size);
	if (p) {
		/* Marked before a write entry lets later stores bypass this path. */
		guest_mem_mark_dirty(h->mem, gpa, size);
		mmu_write_le(p, size, val);
		if (h->jit) /* before a write entry lets later stores bypass this path */
			jit_note_write(h, gpa & ~0xfffull);
		if (h->tohost_gpa && (gpa & ~0xfffull) == (h->tohost_gpa & ~0xfffull)) {
			/* HTIF: keep this page on the slow path so every tohost store is seen. */
			if ((gpa & ~7ull) == h->tohost_gpa && h->env.htif_tohost) {
				uint64_t v;
				memcpy(&v, guest_mem_ptr(h->mem, h->tohost_gpa, 8), 8);
				if (v)
					h->env.htif_tohost(h->env.opaque, h, v);
			}
		} else if (cache) {
			tlb_fill(h, true, gva, gpa);
		}
		return true;
	}
	hart_count(&h->exits.mmio);
	if (!bus_write(h->bus, gpa, size, val)) {
		hart_trap(h, CAUSE_STORE_ACCESS, gva);
		return false;
	}
	return true;
}

bool mmu_store_slow(struct hart *h, uint64_t gva, unsigned size, uint64_t val)
{
	if (watch_stop(h, gva, size, HART_WATCH_WRITE))
		return false;
	uint64_t gpa;
	enum pmp_result pmp;
	if (((gva & 0xfff) + size) <= 0x1000) {
		if (!store_translate(h, gva, size, &gpa, &pmp))
			return false;
		return store_phys(h, gva, gpa, size, val, pmp == PMP_ALLOW_PAGE);
	}
	/* Crosses a page: check that every byte may be written before writing anything. */
	for (unsigned i = 0; i < size; i++)
		if (!store_translate(h, gva + i, 1, &gpa, &pmp))
			return false;
	for (unsigned i = 0; i < size; i++) {
		uint64_t a = gva + i;
		if (!store_translate(h, a, 1, &gpa, &pmp) ||
		    !store_phys(h, a, gpa, 1, (val >> (8 * i)) & 0xff, pmp == PMP_ALLOW_PAGE))
			return false;
	}
	return true;
}

bool mmu_cbo(struct hart *h, uint64_t gva, bool zero)
{
	uint64_t base = gva & ~(uint64_t)(ISA_CBO_BLOCK - 1), gpa;
	if (zero && watch_stop(h, base, ISA_CBO_BLOCK, HART_WATCH_WRITE))
		return false;
	int cause = mmu_translate(h, base, zero ? MMU_WRITE : MMU_READ, &gpa);
	if (!cause && pmp_access(h, gpa, ISA_CBO_BLOCK, zero ? MMU_WRITE : MMU_READ) == PMP_DENY)
		cause = CAUSE_LOAD_ACCESS;
	if (cause && !zero) {
		cause = mmu_translate(h, base, MMU_WRITE, &gpa);
		if (!cause && pmp_access(h, gpa, ISA_CBO_BLOCK, MMU_WRITE) == PMP_DENY)
			cause = CAUSE_STORE_ACCESS;
	}
	if (cause) { /* reported as a store fault, whatever was tried */
		hart_trap(h,
			  cause == CAUSE_LOAD_PAGE_FAULT ? CAUSE_STORE_PAGE_FAULT
			  : cause == CAUSE_LOAD_ACCESS   ? CAUSE_STORE_ACCESS
							 : (uint64_t)cause,
			  gva);
		return false;
	}
	if (!zero)
		return true;
	uint8_t *p = guest_mem_ptr(h->mem, gpa, ISA_CBO_BLOCK);
	if (!p) {
		hart_trap(h, CAUSE_STORE_ACCESS, gva);
		return false;
	}
	guest_mem_mark_dirty(h->mem, gpa, ISA_CBO_BLOCK);
	memset(p, 0, ISA_CBO_BLOCK);
	if (h->jit)
		jit_note_write(h, gpa & ~0xfffull);
	return true;
}

void *mmu_amo_ptr(struct hart *h, uint64_t gva, unsigned size, bool is_lr, uint64_t *gpa)
{
	enum mmu_access acc = is_lr ? MMU_READ : MMU_WRITE;
	/* An SC or AMO counts as both a read and a write. */
	if (watch_stop(h, gva, size, is_lr ? HART_WATCH_READ : HART_WATCH_ACCESS))
		return NULL;
	if (gva & (size - 1)) {
		hart_trap(h, is_lr ? CAUSE_MISALIGNED_LOAD : CAUSE_MISALIGNED_STORE, gva);
		return NULL;
	}
	int cause = mmu_translate(h, gva, acc, gpa);
	if (!cause && pmp_access(h, *gpa, size, acc) == PMP_DENY)
		cause = is_lr ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS;
	if (cause) {
		hart_trap(h, (uint64_t)cause, gva);
		return NULL;
	}
	void *p = guest_mem_ptr(h->mem, *gpa, size);
	if (!p) {
		hart_trap(h, is_lr ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS, gva);
		return NULL;
	}
	if (!is_lr) {
		guest_mem_mark_dirty(h->mem, *gpa, size);
		if (h->jit)
			jit_note_write(h, *gpa & ~0xfffull);
	}
	return p;
}

/* After a fence.i: drop the decoded slots whose instruction bytes changed since they were
 * decoded, keep the rest. Code patched a few words at a time (ftrace, alternatives, module
 * loading) then costs a few re-decodes instead of the whole cache. */
static void dcache_revalidate(struct dpage *dp, const uint8_t *hva)
{
	if (!memcmp(dp->raw, hva, sizeof(dp->raw)))
		return;
	for (unsigned off = 0; off < sizeof(dp->raw); off += 8) {
		if (!memcmp(dp->raw + off, hva + off, 8))
			continue;
		/* Slots starting at off-2 .. off+6 may include these bytes. */
		unsigned first = off ? off / 2 - 1 : 0;
		for (unsigned i = first; i <= off / 2 + 3; i++)
			dp->slot[i].fn = NULL;
		memcpy(dp->raw + off, hva + off, 8);
	}
}

/* The decoded page for guest-physical page gpa_page (host copy at hva): two-way set
 * associative (kernel text is contiguous, so pages 1 MiB apart would otherwise keep evicting
 * each other); a miss evicts the less recently used page of the set, a page of an older
 * code generation is revalidated. */
static struct dpage *dcache_get(struct hart *h, uint64_t gpa_page, const uint8_t *hva)
{
	struct dpage *way = &h->dcache[2 * ((gpa_page >> 12) & (DCACHE_PAGES / 2 - 1))];
	struct dpage *dp = way[0].gpa == gpa_page               ? &way[0]
			   : way[1].gpa == gpa_page             ? &way[1]
			   : way[0].last_use <= way[1].last_use ? &way[0]
								: &way[1];
	dp->last_use = ++h->dcache_clock;
	if (dp->gpa != gpa_page) {
		if (dp->gpa != ~0ull) {
			/* Evicting: no fetch-TLB entry may keep pointing at the old page. */
			for (unsigned s = 0; s < 4; s++) {
				for (unsigned wd = 0; wd < TLB_ENTRIES / 64; wd++) {
					for (uint64_t m = h->tlb[s].used[wd]; m; m &= m - 1) {
						unsigned i = wd * 64 + (unsigned)__builtin_ctzll(m);
						if (h->itlb_set[s][i].dp == dp)
							h->itlb_set[s][i].tag = TLB_INVALID;
					}
				}
			}
		}
		memset(dp->slot, 0, sizeof(dp->slot));
		memcpy(dp->raw, hva, sizeof(dp->raw));
		dp->gpa = gpa_page;
	} else if (dp->gen != h->code_gen) {
		dcache_revalidate(dp, hva);
	}
	dp->gen = h->code_gen;
	return dp;
}

struct itlb_entry *mmu_fetch_lookup(struct hart *h, uint64_t gva)
{
	uint64_t gpa;
	int cause = mmu_translate(h, gva, MMU_FETCH, &gpa);
	if (cause) {
		hart_trap(h, (uint64_t)cause, gva);
		return NULL;
	}
	uint8_t *hva = guest_mem_ptr(h->mem, gpa & ~0xfffull, 4096);
	enum pmp_result pmp = PMP_DENY;
	if (hva) {
		/* The instruction at pc (its bytes in this page), or the upper half of one that
		 * straddles into it. */
		unsigned off = gva & 0xfff, size = 2;
		if (gva == h->pc && off <= 0xffc)
			size = insn_length(hva[off] | hva[off + 1] << 8);
		pmp = pmp_access(h, gpa, size, MMU_FETCH);
	}
	if (pmp == PMP_DENY) {
		hart_trap(h, CAUSE_FETCH_ACCESS, gva);
		return NULL;
	}
	unsigned idx = (gva >> 12) & (TLB_ENTRIES - 1);
	struct itlb_entry *e = &h->itlb[idx];
	unsigned view = (unsigned)(h->itlb - h->itlb_set[0]) / TLB_ENTRIES;
	h->tlb[view].used[idx / 64] |= 1ull << (idx % 64);
	/* A page PMP does not allow whole is never cached: the entry serves this one
	 * instruction, and the batch ends after it, so that the next one is checked. */
	e->tag = pmp == PMP_ALLOW_PAGE ? gva >> 12 : TLB_INVALID;
	if (pmp != PMP_ALLOW_PAGE)
		hart_end_batch(h);
	e->addend = (uintptr_t)hva - (gva & ~0xfffull);
	e->dp = dcache_get(h, gpa & ~0xfffull, hva);
	/* The fetch set has the index of the data set of the same privilege view. */
	unsigned set = (unsigned)(h->itlb - h->itlb_set[0]) / TLB_ENTRIES;
	h->tlb[set].i_level[idx] = h->walk_level;
	if (h->walk_level)
		note_superpage(&h->tlb[set], idx, h->walk_level, gva >> 12);
	return e;
}
