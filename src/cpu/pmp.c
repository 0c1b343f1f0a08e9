/* Physical Memory Protection (priv spec 3.7): CSR legalisation and locking, the decoded rules
 * and the access check. See pmp.h for the choices (16 entries, G = 0; with every entry OFF,
 * S and U reach nothing, as the spec says). */
#include "cpu/pmp.h"

#define PMPADDR_MASK ((1ull << 54) - 1) /* pmpaddr holds bits 55:2 of an address (RV64) */
#define PMPCFG_BITS  (PMP_R | PMP_W | PMP_X | PMP_A | PMP_L) /* bits 5-6 read zero */

/* The pmpcfg byte of entry i (0..15). */
static unsigned cfg_of(const struct hart *h, unsigned i)
{
	return (unsigned)(h->pmpcfg[(i / 8) * 2] >> (8 * (i % 8))) & 0xff;
}

static unsigned mode_of(unsigned cfg)
{
	return (cfg & PMP_A) >> PMP_A_SHIFT;
}

bool pmp_csr_read(const struct hart *h, unsigned csr, uint64_t *val)
{
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
		unsigned n = csr - CSR_PMPCFG0;
		if (n & 1) /* RV64 has only the even pmpcfg registers */
			return false;
		*val = n < PMP_ENTRIES / 4 ? h->pmpcfg[n] : 0;
		return true;
	}
	unsigned n = csr - CSR_PMPADDR0;
	*val = n < PMP_ENTRIES ? h->pmpaddr[n] : 0;
	return true;
}

bool pmp_csr_write(struct hart *h, unsigned csr, uint64_t v)
{
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
		unsigned n = csr - CSR_PMPCFG0;
		if (n & 1)
			return false;
		if (n >= PMP_ENTRIES / 4)
			return true; /* entries 16-63 are not implemented */
		uint64_t old = h->pmpcfg[n], nv = 0;
		for (unsigned i = 0; i < 8; i++) {
			unsigned b = (unsigned)(v >> (8 * i)) & PMPCFG_BITS;
			unsigned ob = (unsigned)(old >> (8 * i)) & 0xff;
			if (ob & PMP_L) /* a locked entry ignores writes until reset */
				b = ob;
			else if ((b & (PMP_R | PMP_W)) == PMP_W) /* reserved: no access */
				b &= ~(PMP_R | PMP_W);
			nv |= (uint64_t)b << (8 * i);
		}
		if (nv != old) {
			h->pmpcfg[n] = nv;
			pmp_update(h);
			hart_flush_pmp(h);
		}
		return true;
	}
	unsigned n = csr - CSR_PMPADDR0;
	if (n >= PMP_ENTRIES)
		return true;
	if (cfg_of(h, n) & PMP_L)
		return true;
	/* The top of a locked TOR entry is locked with it (priv spec 3.7.1.3). */
	if (n + 1 < PMP_ENTRIES && (cfg_of(h, n + 1) & PMP_L) &&
	    mode_of(cfg_of(h, n + 1)) == PMP_TOR)
		return true;
	v &= PMPADDR_MASK;
	if (v != h->pmpaddr[n]) {
		h->pmpaddr[n] = v;
		pmp_update(h);
		hart_flush_pmp(h);
	}
	return true;
}

void pmp_update(struct hart *h)
{
	unsigned n = 0;
	for (unsigned i = 0; i < PMP_ENTRIES; i++) {
		unsigned cfg = cfg_of(h, i), mode = mode_of(cfg);
		uint64_t a = h->pmpaddr[i] & PMPADDR_MASK, lo, hi;
		if (mode == PMP_OFF)
			continue;
		if (mode == PMP_TOR) {
			lo = i ? (h->pmpaddr[i - 1] & PMPADDR_MASK) << 2 : 0;
			hi = a << 2;
		} else if (mode == PMP_NA4) {
			lo = a << 2;
			hi = lo + 4;
		} else {
			/* NAPOT: k trailing ones give a 2^(k+3)-byte range (k <= 54). */
			unsigned k = (unsigned)__builtin_ctzll(~a);
			uint64_t size = 1ull << (k + 3);
			lo = (a << 2) & ~(size - 1);
			hi = lo + size;
		}
		if (lo >= hi) /* a TOR entry whose bounds are reversed matches nothing */
			continue;
		h->pmp_rule[n++] = (struct pmp_rule){.lo = lo, .hi = hi, .cfg = (uint8_t)cfg};
	}
	h->pmp_nrules = (uint8_t)n;
}

void pmp_allow_all(struct hart *h, unsigned e)
{
	uint64_t *cfg = &h->pmpcfg[(e / 8) * 2];
	unsigned shift = 8 * (e % 8);
	h->pmpaddr[e] = PMPADDR_MASK;
	*cfg = (*cfg & ~(0xffull << shift)) |
	       (uint64_t)(PMP_NAPOT << PMP_A_SHIFT | PMP_R | PMP_W | PMP_X) << shift;
	pmp_update(h);
}

enum pmp_result pmp_check(const struct hart *h, uint64_t gpa, unsigned size, unsigned perm,
			  unsigned priv)
{
	uint64_t end = gpa + size, page = gpa & ~0xfffull, page_end = page + 4096;
	bool uniform = true; /* no entry before the deciding one touches the page */
	for (unsigned i = 0; i < h->pmp_nrules; i++) {
		const struct pmp_rule *r = &h->pmp_rule[i];
		if (r->hi <= page || r->lo >= page_end)
			continue;
		if (r->hi <= gpa || r->lo >= end) { /* in the page, not under this access */
			uniform = false;
			continue;
		}
		/* The lowest-numbered entry matching any byte decides; it must match them all. */
		if (r->lo > gpa || r->hi < end)
			return PMP_DENY;
		bool ok = (priv == PRV_M && !(r->cfg & PMP_L)) || (r->cfg & perm);
		if (!ok)
			return PMP_DENY;
		return uniform && r->lo <= page && r->hi >= page_end ? PMP_ALLOW_PAGE : PMP_ALLOW;
	}
	/* No entry matches: M-mode succeeds, S and U fail. */
	if (priv != PRV_M)
		return PMP_DENY;
	return uniform ? PMP_ALLOW_PAGE : PMP_ALLOW;
}
