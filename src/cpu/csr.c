/* Control and status registers: access rules (priv spec 2.1: the privilege and read-only bits
 * of the CSR number), the WARL legalisation of each field, and the side effects of writes
 * (TLB and mode updates). Covers the machine and supervisor CSRs of priv spec 3 and 4, the
 * counters (Zicntr), fcsr, and Sstc's stimecmp; the PMP CSRs are pmp.c's. */
#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/isa.h"
#include "cpu/pmp.h"

#define SSTATUS_MASK                                                                        \
	(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | MSTATUS_VS | MSTATUS_FS | \
	 MSTATUS_XS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL)
#define SSTATUS_WRITABLE \
	(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)
#define MSTATUS_WRITABLE                                                              \
	(SSTATUS_WRITABLE | MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MPRV | \
	 MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR)
#define MIP_ALL      (MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)
#define S_INTERRUPTS (MIP_SSIP | MIP_STIP | MIP_SEIP)
/* Exceptions that may be delegated: all but ecall from M (priv spec 3.1.8). */
#define MEDELEG_WRITABLE                                                                          \
	((1u << CAUSE_MISALIGNED_FETCH) | (1u << CAUSE_FETCH_ACCESS) |                            \
	 (1u << CAUSE_ILLEGAL_INSTRUCTION) | (1u << CAUSE_BREAKPOINT) |                           \
	 (1u << CAUSE_MISALIGNED_LOAD) | (1u << CAUSE_LOAD_ACCESS) |                              \
	 (1u << CAUSE_MISALIGNED_STORE) | (1u << CAUSE_STORE_ACCESS) | (1u << CAUSE_USER_ECALL) | \
	 (1u << CAUSE_SUPERVISOR_ECALL) | (1u << CAUSE_FETCH_PAGE_FAULT) |                        \
	 (1u << CAUSE_LOAD_PAGE_FAULT) | (1u << CAUSE_STORE_PAGE_FAULT))

/* Counter access from S or U mode (priv spec 3.1.11, 4.1.3). bit: 0 cycle, 1 time, 2 instret,
 * 3..31 hpmcounters. */
static bool counter_allowed(const struct hart *h, unsigned bit)
{
	if (h->priv < PRV_M && !((h->mcounteren >> bit) & 1))
		return false;
	if (h->priv < PRV_S && !((h->scounteren >> bit) & 1))
		return false;
	return true;
}

static uint64_t mip_read(const struct hart *h)
{
	return atomic_load_explicit(&h->mip, memory_order_relaxed);
}

bool csr_read(struct hart *h, unsigned csr, uint64_t *val)
{
	if (((csr >> 8) & 3) > h->priv)
		return false;
	switch (csr) {
	case CSR_FFLAGS:
	case CSR_FRM:
	case CSR_FCSR:
		if (h->fs_off)
			return false;
		*val = csr == CSR_FFLAGS ? h->fflags
		       : csr == CSR_FRM  ? h->frm
					 : (h->frm << 5 | h->fflags);
		return true;
	case CSR_CYCLE:
	case CSR_INSTRET:
		if (!counter_allowed(h, csr - CSR_CYCLE))
			return false;
		*val = hart_instret(h);
		return true;
	case CSR_TIME:
		if (!counter_allowed(h, 1))
			return false;
		*val = h->env.time_now(h->env.opaque);
		return true;
	case CSR_SSTATUS: *val = hart_mstatus_read(h) & (SSTATUS_MASK | MSTATUS_SD); return true;
	case CSR_SIE: *val = h->mie & h->mideleg; return true;
	case CSR_SIP: *val = mip_read(h) & h->mideleg; return true;
	case CSR_STVEC: *val = h->stvec; return true;
	case CSR_SCOUNTEREN: *val = h->scounteren; return true;
	case CSR_SENVCFG: *val = h->senvcfg; return true;
	case CSR_SSCRATCH: *val = h->sscratch; return true;
	case CSR_SEPC: *val = h->sepc; return true;
	case CSR_SCAUSE: *val = h->scause; return true;
	case CSR_STVAL: *val = h->stval; return true;
	case CSR_STIMECMP:
		if (h->priv < PRV_M && !(h->menvcfg & MENVCFG_STCE))
			return false;
		*val = h->stimecmp;
		return true;
	case CSR_SATP:
		if (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM))
			return false;
		*val = h->satp;
		return true;
	case CSR_MVENDORID:
	case CSR_MARCHID:
	case CSR_MIMPID:
	case CSR_MCONFIGPTR:
	case CSR_MTINST:
	case CSR_MTVAL2:
	case CSR_TSELECT:
	case CSR_TDATA1:
	case CSR_TDATA2:
	case CSR_TDATA3: *val = 0; return true;
	case CSR_MHARTID: *val = h->mhartid; return true;
	case CSR_MSTATUS: *val = hart_mstatus_read(h); return true;
	case CSR_MISA: *val = h->misa; return true;
	case CSR_MEDELEG: *val = h->medeleg; return true;
	case CSR_MIDELEG: *val = h->mideleg; return true;
	case CSR_MIE: *val = h->mie; return true;
	case CSR_MIP: *val = mip_read(h); return true;
	case CSR_MTVEC: *val = h->mtvec; return true;
	case CSR_MCOUNTEREN: *val = h->mcounteren; return true;
	case CSR_MENVCFG: *val = h->menvcfg; return true;
	case CSR_MCOUNTINHIBIT: *val = h->mcountinhibit; return true;
	case CSR_MSCRATCH: *val = h->mscratch; return true;
	case CSR_MEPC: *val = h->mepc; return true;
	case CSR_MCAUSE: *val = h->mcause; return true;
	case CSR_MTVAL: *val = h->mtval; return true;
	case CSR_MCYCLE:
	case CSR_MINSTRET: *val = hart_instret(h); return true;
	default: break;
	}
	if (csr >= CSR_HPMCOUNTER3 && csr <= CSR_HPMCOUNTER31) {
		if (!counter_allowed(h, csr - CSR_CYCLE))
			return false;
		*val = 0;
		return true;
	}
	if ((csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) ||
	    (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31)) {
		*val = 0;
		return true;
	}
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPADDR63)
		return pmp_csr_read(h, csr, val);
	return false;
}

static void set_fs_dirty(struct hart *h)
{
	h->mstatus |= MSTATUS_FS;
}

static void write_mstatus(struct hart *h, uint64_t v, uint64_t writable)
{
	uint64_t old = h->mstatus;
	uint64_t nv = (old & ~writable) | (v & writable);
	if (((nv & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) == 2) /* reserved MPP: keep the old one */
		nv = (nv & ~MSTATUS_MPP) | (old & MSTATUS_MPP);
	h->mstatus = nv;
	/* SUM, MPRV and MPP only choose the TLB set of data accesses (hart_update_mode); MXR
	 * changes what the U and S sets' read entries allow. */
	if ((old ^ nv) & MSTATUS_MXR)
		hart_flush_tlb(h);
	hart_update_mode(h);
}

static bool write_satp(struct hart *h, uint64_t v)
{
	if (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM))
		return false;
	unsigned mode = v >> SATP_MODE_SHIFT;
	if (mode != SATP_MODE_BARE && mode != SATP_MODE_SV39 && mode != SATP_MODE_SV48 &&
	    mode != SATP_MODE_SV57)
		return true; /* WARL: an unsupported mode leaves satp unchanged (priv spec 4.1.11)
			      */
	if (mode == SATP_MODE_BARE)
		v = 0;
	h->satp = v;
	hart_flush_tlb(h);
	hart_update_mode(h);
	return true;
}

/* menvcfg or senvcfg (old value old) written with v: the fields in base, and the cache-block
 * enables of the extensions the hart has (CBIE, CBCFE with Zicbom; CBZE with Zicboz; read-only
 * zero without). CBIE is WARL: the reserved value 10 leaves the field as it was. */
static uint64_t envcfg_legal(const struct hart *h, uint64_t old, uint64_t v, uint64_t base)
{
	uint64_t writable = base;
	if (h->isa_ext & ISA_EXT(zicbom))
		writable |= MENVCFG_CBIE | MENVCFG_CBCFE;
	if (h->isa_ext & ISA_EXT(zicboz))
		writable |= MENVCFG_CBZE;
	if (((v & MENVCFG_CBIE) >> MENVCFG_CBIE_SHIFT) == 2)
		v = (v & ~MENVCFG_CBIE) | (old & MENVCFG_CBIE);
	return v & writable;
}

bool csr_write(struct hart *h, unsigned csr, uint64_t v)
{
	if (((csr >> 8) & 3) > h->priv || (csr >> 10) == 3)
		return false;
	switch (csr) {
	case CSR_FFLAGS:
	case CSR_FRM:
	case CSR_FCSR:
		if (h->fs_off)
			return false;
		if (csr == CSR_FFLAGS)
			h->fflags = v & 0x1f;
		else if (csr == CSR_FRM)
			h->frm = v & 7;
		else {
			h->fflags = v & 0x1f;
			h->frm = (v >> 5) & 7;
		}
		set_fs_dirty(h);
		return true;
	case CSR_SSTATUS: write_mstatus(h, v, SSTATUS_WRITABLE); return true;
	case CSR_SIE:
		h->mie = (h->mie & ~h->mideleg) | (v & h->mideleg & S_INTERRUPTS);
		return true;
	case CSR_SIP:
		if (h->mideleg & MIP_SSIP)
			hart_set_mip(h, MIP_SSIP, v & MIP_SSIP);
		return true;
	case CSR_STVEC: h->stvec = (v & 3) >= 2 ? (v & ~3ull) : v; return true;
	case CSR_SCOUNTEREN: h->scounteren = v & 0xffffffff; return true;
	case CSR_SENVCFG: h->senvcfg = envcfg_legal(h, h->senvcfg, v, MENVCFG_FIOM); return true;
	case CSR_SSCRATCH: h->sscratch = v; return true;
	case CSR_SEPC: h->sepc = v & ~1ull; return true;
	case CSR_SCAUSE: h->scause = v; return true;
	case CSR_STVAL: h->stval = v; return true;
	case CSR_STIMECMP:
		if (h->priv < PRV_M && !(h->menvcfg & MENVCFG_STCE))
			return false;
		h->stimecmp = v;
		return true;
	case CSR_SATP: return write_satp(h, v);
	case CSR_MSTATUS: write_mstatus(h, v, MSTATUS_WRITABLE); return true;
	case CSR_MISA: return true; /* WARL, fixed: extensions cannot be turned off */
	case CSR_MEDELEG: h->medeleg = v & MEDELEG_WRITABLE; return true;
	case CSR_MIDELEG: h->mideleg = v & S_INTERRUPTS; return true;
	case CSR_MIE: h->mie = v & MIP_ALL; return true;
	case CSR_MIP: {
		uint64_t writable = MIP_SSIP | ((h->menvcfg & MENVCFG_STCE) ? 0 : MIP_STIP);
		uint64_t cur = mip_read(h);
		uint64_t set = v & writable & ~cur, clr = ~v & writable & cur;
		if (set)
			hart_set_mip(h, set, true);
		if (clr)
			hart_set_mip(h, clr, false);
		return true;
	}
	case CSR_MTVEC: h->mtvec = (v & 3) >= 2 ? (v & ~3ull) : v; return true;
	case CSR_MCOUNTEREN: h->mcounteren = v & 0xffffffff; return true;
	case CSR_MENVCFG:
		h->menvcfg = envcfg_legal(h, h->menvcfg, v,
					  MENVCFG_FIOM | MENVCFG_STCE |
					      ((h->isa_ext & ISA_EXT(svpbmt)) ? MENVCFG_PBMTE : 0));
		return true;
	case CSR_MCOUNTINHIBIT: h->mcountinhibit = v & 0xfffffffd; return true;
	case CSR_MSCRATCH: h->mscratch = v; return true;
	case CSR_MEPC: h->mepc = v & ~1ull; return true;
	case CSR_MCAUSE: h->mcause = v; return true;
	case CSR_MTVAL: h->mtval = v; return true;
	case CSR_MCYCLE:
	case CSR_MINSTRET:
		/* The writing instruction itself does not count (priv spec 3.1.10): it retires
		 * after this, so start one below. */
		h->instret = v - (uint64_t)(h->batch_len - h->budget) - 1;
		return true;
	case CSR_MTINST:
	case CSR_MTVAL2:
	case CSR_TSELECT:
	case CSR_TDATA1:
	case CSR_TDATA2:
	case CSR_TDATA3: return true;
	default: break;
	}
	if ((csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) ||
	    (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31))
		return true; /* not implemented: hardwired to zero */
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPADDR63)
		return pmp_csr_write(h, csr, v);
	return false;
}

bool csr_debug_read(struct hart *h, unsigned csr, uint64_t *val)
{
	uint8_t priv = h->priv, fs_off = h->fs_off;
	h->priv = PRV_M; /* only chooses the access rules: nothing is recomputed from it */
	h->fs_off = 0;
	bool ok = csr_read(h, csr, val);
	h->priv = priv;
	h->fs_off = fs_off;
	return ok;
}

bool csr_debug_write(struct hart *h, unsigned csr, uint64_t val)
{
	switch (csr) {
	case CSR_FFLAGS: h->fflags = val & 0x1f; return true;
	case CSR_FRM: h->frm = val & 7; return true;
	case CSR_FCSR:
		h->fflags = val & 0x1f;
		h->frm = (val >> 5) & 7;
		return true;
	case CSR_MCYCLE:
	case CSR_MINSTRET: h->instret = val - (uint64_t)(h->batch_len - h->budget); return true;
	default: break;
	}
	uint8_t priv = h->priv;
	h->priv = PRV_M;
	bool ok = csr_write(h, csr, val);
	h->priv = priv;
	hart_update_mode(h); /* the write's own update saw M-mode */
	return ok;
}
