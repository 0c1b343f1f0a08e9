/* A hart's section of the VM state stream (src/state/stream.h): its architectural state,
 * written by hart_state_save and checked and applied by hart_state_load.
 *
 * Section "hart", layout version 3, every integer little-endian:
 *   u64 mhartid, u64 misa            (identity: must match the hart loading it)
 *   u64 pc
 *   u64 x[0..31], u64 f[0..31]
 *   u8 fflags, u8 frm, u8 priv
 *   u64 mip
 *   u64 each of csr_fields below, in order (mstatus ... tselect)
 *   u64 mtimecmp
 *   u64 pmpcfg[0..15], u64 pmpaddr[0..63] (all 64 entries' places; only 0-15 exist: a
 *                                    load drops the rest, which older builds kept)
 *   u64 instret                      (hart_instret: a running batch counted)
 *   u64 reservation, u64 reservation_val
 *   u8 stopped, u8 wfi               (SBI HSM stopped; asleep in WFI)
 *   u8 m_trap_fatal, u64 tohost_gpa  (set up by booting: restoring does not boot)
 *   u64 isa_ext                      (versions 2 and 3: the extensions beyond RV64GC,
 *                                     ISA_EXT_* bits; a version-1 section is a plain RV64GC
 *                                     hart)
 * Version 3 has version 2's fields; it says PMP was enforced when it was saved: its entries
 * 16-63 must be zero, and it loads as it is. Builds before it kept PMP without enforcing it:
 * their entries 16-63 are dropped, and a hart whose SBI rvisor serves gets the allow-all
 * entry its machine now starts with if every entry is OFF (apply_image).
 *
 * Deliberately not saved, because none of it is architectural and all of it is rebuilt:
 *   - pc_next: between instructions it is pc (the load sets it so);
 *   - the caches: TLB sets, fetch TLBs, decoded pages (dcache, dcache_clock, code_gen),
 *     walk_level, and the translator's state (jit, jit_jcache, jit_link, jit_vgen, the
 *     memory-access site log): emptied on load, so the hart refills them from the loaded
 *     state and RAM;
 *   - budget, batch_len: a batch is not running while the VM is paused (instret holds the
 *     retired count);
 *   - dtlb, itlb, fs_off: derived from priv, mstatus and satp (hart_update_mode);
 *   - exits: the hypervisor's counters of this process, not the guest's;
 *   - mem, bus, env: host-side wiring, the same for the same VM configuration;
 *   - run control (exit_req, fence_req, paused, parked, kicked, wait_lock, wait_cond): the
 *     host's threads. A fence another hart asked for and this one has not done yet is
 *     covered by the load emptying every cache. SBI HSM starts take effect at once
 *     (sbi.c's hsm_start sets pc, priv, a0, a1 before clearing stopped): no start is
 *     pending anywhere but in the fields above. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/isa.h"
#include "cpu/pmp.h"
#include "mem/guest_mem.h"
#include "state/stream.h"

#define HART_STATE_VERSION 3

#define CSR_ANY 0 /* a field that holds any value (0 is not a CSR number used here) */
/* The interrupt-pending bits a hart has (priv spec 3.1.9). */
#define MIP_BITS (MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)

/* A 64-bit CSR field of struct hart and the CSR whose write legalises it (CSR_ANY: none). */
struct csr_field {
	const char *name;
	size_t off;
	unsigned csr;
};

static const struct csr_field csr_fields[] = {
    {"mstatus", offsetof(struct hart, mstatus), CSR_MSTATUS},
    {"mie", offsetof(struct hart, mie), CSR_MIE},
    {"mideleg", offsetof(struct hart, mideleg), CSR_MIDELEG},
    {"medeleg", offsetof(struct hart, medeleg), CSR_MEDELEG},
    {"mtvec", offsetof(struct hart, mtvec), CSR_MTVEC},
    {"mscratch", offsetof(struct hart, mscratch), CSR_ANY},
    {"mepc", offsetof(struct hart, mepc), CSR_MEPC},
    {"mcause", offsetof(struct hart, mcause), CSR_ANY},
    {"mtval", offsetof(struct hart, mtval), CSR_ANY},
    {"stvec", offsetof(struct hart, stvec), CSR_STVEC},
    {"sscratch", offsetof(struct hart, sscratch), CSR_ANY},
    {"sepc", offsetof(struct hart, sepc), CSR_SEPC},
    {"scause", offsetof(struct hart, scause), CSR_ANY},
    {"stval", offsetof(struct hart, stval), CSR_ANY},
    {"satp", offsetof(struct hart, satp), CSR_SATP},
    {"mcounteren", offsetof(struct hart, mcounteren), CSR_MCOUNTEREN},
    {"scounteren", offsetof(struct hart, scounteren), CSR_SCOUNTEREN},
    {"mcountinhibit", offsetof(struct hart, mcountinhibit), CSR_MCOUNTINHIBIT},
    {"menvcfg", offsetof(struct hart, menvcfg), CSR_MENVCFG},
    {"senvcfg", offsetof(struct hart, senvcfg), CSR_SENVCFG},
    {"stimecmp", offsetof(struct hart, stimecmp), CSR_ANY},
    {"mtval2", offsetof(struct hart, mtval2), CSR_ANY},
    {"mtinst", offsetof(struct hart, mtinst), CSR_ANY},
    {"tselect", offsetof(struct hart, tselect), CSR_ANY},
};
#define NCSR_FIELDS (sizeof(csr_fields) / sizeof(csr_fields[0]))
#define NPMPCFG     (sizeof(((struct hart *)0)->pmpcfg) / sizeof(uint64_t))
#define NPMPADDR    (sizeof(((struct hart *)0)->pmpaddr) / sizeof(uint64_t))

static uint64_t *field_at(struct hart *h, size_t off)
{
	return (uint64_t *)(void *)((char *)h + off);
}

static uint64_t field_get(const struct hart *h, size_t off)
{
	uint64_t v;
	memcpy(&v, (const char *)h + off, sizeof(v));
	return v;
}

/* The section's values, read and checked before any reaches the hart. */
struct hart_image {
	uint64_t mhartid, misa, pc;
	uint64_t x[32], f[32];
	uint8_t fflags, frm, priv;
	uint64_t mip;
	uint64_t csr[NCSR_FIELDS];
	uint64_t mtimecmp;
	uint64_t pmpcfg[NPMPCFG], pmpaddr[NPMPADDR];
	uint64_t instret, reservation, reservation_val;
	uint8_t stopped, wfi, m_trap_fatal;
	uint64_t tohost_gpa;
	uint64_t isa_ext;
	uint32_t version; /* the section's layout version */
};

void hart_state_save(const struct hart *h, struct state_out *o)
{
	state_begin(o, "hart", HART_STATE_VERSION);
	state_put_u64(o, h->mhartid);
	state_put_u64(o, h->misa);
	state_put_u64(o, h->pc);
	for (unsigned i = 0; i < 32; i++)
		state_put_u64(o, h->x[i]);
	for (unsigned i = 0; i < 32; i++)
		state_put_u64(o, h->f[i]);
	state_put_u8(o, (uint8_t)h->fflags);
	state_put_u8(o, (uint8_t)h->frm);
	state_put_u8(o, h->priv);
	state_put_u64(o, atomic_load(&h->mip));
	for (unsigned i = 0; i < NCSR_FIELDS; i++)
		state_put_u64(o, field_get(h, csr_fields[i].off));
	state_put_u64(o, atomic_load(&h->mtimecmp));
	for (unsigned i = 0; i < NPMPCFG; i++)
		state_put_u64(o, h->pmpcfg[i]);
	for (unsigned i = 0; i < NPMPADDR; i++)
		state_put_u64(o, h->pmpaddr[i]);
	state_put_u64(o, hart_instret(h));
	state_put_u64(o, h->reservation);
	state_put_u64(o, h->reservation_val);
	state_put_u8(o, atomic_load(&h->stopped) ? 1 : 0);
	state_put_u8(o, h->wfi);
	state_put_u8(o, h->m_trap_fatal);
	state_put_u64(o, h->tohost_gpa);
	state_put_u64(o, h->isa_ext);
	state_end(o);
}

static void read_image(struct state_in *in, uint32_t version, struct hart_image *im)
{
	im->mhartid = state_get_u64(in);
	im->misa = state_get_u64(in);
	im->pc = state_get_u64(in);
	for (unsigned i = 0; i < 32; i++)
		im->x[i] = state_get_u64(in);
	for (unsigned i = 0; i < 32; i++)
		im->f[i] = state_get_u64(in);
	im->fflags = state_get_u8(in);
	im->frm = state_get_u8(in);
	im->priv = state_get_u8(in);
	im->mip = state_get_u64(in);
	for (unsigned i = 0; i < NCSR_FIELDS; i++)
		im->csr[i] = state_get_u64(in);
	im->mtimecmp = state_get_u64(in);
	for (unsigned i = 0; i < NPMPCFG; i++)
		im->pmpcfg[i] = state_get_u64(in);
	for (unsigned i = 0; i < NPMPADDR; i++)
		im->pmpaddr[i] = state_get_u64(in);
	im->instret = state_get_u64(in);
	im->reservation = state_get_u64(in);
	im->reservation_val = state_get_u64(in);
	im->stopped = state_get_u8(in);
	im->wfi = state_get_u8(in);
	im->m_trap_fatal = state_get_u8(in);
	im->tohost_gpa = state_get_u64(in);
	im->isa_ext = version >= 2 ? state_get_u64(in) : ISA_EXT_RV64GC;
	im->version = version;
}

/* Whether v is a value the field at off can hold: what writing CSR csr from M-mode leaves
 * there (csr.c's WARL legalisation) is v itself. The probe writes h and puts back what it
 * found; its only lasting effects are on caches (a satp or mstatus write may flush the TLB). */
static bool csr_legal(struct hart *h, unsigned csr, size_t off, uint64_t v)
{
	uint64_t *field = field_at(h, off);
	uint64_t old = *field;
	uint8_t priv = h->priv;
	h->priv = PRV_M;
	bool ok = csr_write(h, csr, v) && *field == v;
	*field = old;
	h->priv = priv;
	hart_update_mode(h);
	return ok;
}

/* Whether v is a pmpcfg value the CSR can hold: in each entry's byte, bits 5-6 clear and
 * not the reserved W without R (priv spec 3.7.1). */
static bool pmpcfg_legal(uint64_t v)
{
	for (unsigned i = 0; i < 8; i++) {
		unsigned b = (unsigned)(v >> (8 * i)) & 0xff;
		if ((b & 0x60) || (b & 3) == 2)
			return false;
	}
	return true;
}

/* The identity, pc, registers, fcsr, privilege and mip. */
static bool check_core(const struct hart *h, struct state_in *in, const struct hart_image *im)
{
	uint64_t id = h->mhartid;
	return state_check(in, im->mhartid == id, "mhartid %" PRIu64 " where this hart is %" PRIu64,
			   im->mhartid, id) &&
	       state_check(in, im->misa == h->misa,
			   "hart %" PRIu64 ": misa 0x%" PRIx64
			   ", this machine's harts have 0x%" PRIx64,
			   id, im->misa, h->misa) &&
	       state_check(in, !(im->isa_ext & ~ISA_EXT_ALL),
			   "hart %" PRIu64 ": isa_ext 0x%" PRIx64
			   " has extensions this build does not implement (it has 0x%" PRIx64 ")",
			   id, im->isa_ext, (uint64_t)ISA_EXT_ALL) &&
	       state_check(in, !(im->pc & 1), "hart %" PRIu64 ": pc 0x%" PRIx64 " is odd", id,
			   im->pc) &&
	       state_check(in, im->x[0] == 0, "hart %" PRIu64 ": x0 is 0x%" PRIx64 ", not 0", id,
			   im->x[0]) &&
	       state_check(in, im->fflags <= 0x1f,
			   "hart %" PRIu64 ": fflags 0x%x has bits above the five flags", id,
			   im->fflags) &&
	       state_check(in, im->frm <= 7,
			   "hart %" PRIu64 ": frm %u is not a 3-bit rounding mode", id, im->frm) &&
	       state_check(in, im->priv == PRV_U || im->priv == PRV_S || im->priv == PRV_M,
			   "hart %" PRIu64 ": priv %u is not U (0), S (1) or M (3)", id,
			   im->priv) &&
	       state_check(in, !(im->mip & ~MIP_BITS),
			   "hart %" PRIu64 ": mip 0x%" PRIx64 " has bits of no interrupt", id,
			   im->mip);
}

/* The CSRs: each a value its CSR write leaves (satp's mode one the MMU walks), for a hart
 * with the image's extensions (which decide, e.g., menvcfg's cache-block enables). */
static bool check_csrs_of(struct hart *h, struct state_in *in, const struct hart_image *im);
static bool check_csrs(struct hart *h, struct state_in *in, const struct hart_image *im)
{
	uint64_t ext = h->isa_ext;
	h->isa_ext = im->isa_ext;
	bool ok = check_csrs_of(h, in, im);
	h->isa_ext = ext;
	return ok;
}

static bool check_csrs_of(struct hart *h, struct state_in *in, const struct hart_image *im)
{
	uint64_t id = h->mhartid;
	for (unsigned i = 0; i < NCSR_FIELDS; i++) {
		const struct csr_field *c = &csr_fields[i];
		uint64_t v = im->csr[i];
		unsigned mode = (unsigned)(v >> SATP_MODE_SHIFT);
		if (c->csr == CSR_SATP &&
		    !state_check(in,
				 mode == SATP_MODE_BARE || mode == SATP_MODE_SV39 ||
				     mode == SATP_MODE_SV48 || mode == SATP_MODE_SV57,
				 "hart %" PRIu64 ": satp mode %u is not Bare, Sv39, Sv48 or Sv57",
				 id, mode))
			return false;
		if (c->csr != CSR_ANY && !state_check(in, csr_legal(h, c->csr, c->off, v),
						      "hart %" PRIu64 ": %s 0x%" PRIx64
						      " is not a value the CSR can hold",
						      id, c->name, v))
			return false;
	}
	/* PMP: checked here rather than by a probing write, which a locked entry of this hart
	 * would ignore. Entries 16-63 are checked as the CSRs held them before PMP was enforced
	 * (any legal value), and dropped by the load. */
	for (unsigned i = 0; i < NPMPCFG; i++) {
		/* RV64 has only the even pmpcfg registers: the odd ones stay zero. */
		bool ok = i % 2 ? im->pmpcfg[i] == 0 : pmpcfg_legal(im->pmpcfg[i]);
		if (!state_check(in, ok,
				 "hart %" PRIu64 ": pmpcfg%u 0x%" PRIx64
				 " is not a value the CSR can hold",
				 id, i, im->pmpcfg[i]))
			return false;
	}
	for (unsigned i = 0; i < NPMPADDR; i++) {
		if (!state_check(in, im->pmpaddr[i] < 1ull << 54,
				 "hart %" PRIu64 ": pmpaddr%u 0x%" PRIx64
				 " is not a value the CSR can hold",
				 id, i, im->pmpaddr[i]))
			return false;
	}
	return true;
}

static bool check_flag(struct state_in *in, uint64_t id, const char *name, uint8_t v)
{
	return state_check(in, v <= 1, "hart %" PRIu64 ": %s is %u, not 0 or 1", id, name, v);
}

/* The addresses in RAM and the flags. */
static bool check_rest(const struct hart *h, struct state_in *in, const struct hart_image *im)
{
	uint64_t id = h->mhartid;
	/* LR reserves a naturally aligned word or doubleword of RAM (mmu_amo_ptr); the HTIF
	 * tohost doubleword is read from RAM on every store to it (mmu.c). */
	bool resv_ok = im->reservation == ~0ull ||
		       (!(im->reservation & 3) && guest_mem_ptr(h->mem, im->reservation, 4));
	bool tohost_ok = !im->tohost_gpa || guest_mem_ptr(h->mem, im->tohost_gpa, 8);
	/* Since version 3 the entries PMP does not implement are saved as zero. */
	bool pmp_ok = true;
	for (unsigned i = PMP_ENTRIES / 4; im->version >= 3 && i < NPMPCFG; i++)
		pmp_ok = pmp_ok && !im->pmpcfg[i];
	for (unsigned i = PMP_ENTRIES; im->version >= 3 && i < NPMPADDR; i++)
		pmp_ok = pmp_ok && !im->pmpaddr[i];
	return state_check(in, pmp_ok,
			   "hart %" PRIu64 ": PMP entries 16-63 are set; this machine has 16",
			   id) &&
	       state_check(in, resv_ok,
			   "hart %" PRIu64 ": reservation 0x%" PRIx64 " is not a word of RAM", id,
			   im->reservation) &&
	       state_check(in, tohost_ok,
			   "hart %" PRIu64 ": tohost_gpa 0x%" PRIx64 " is not a doubleword of RAM",
			   id, im->tohost_gpa) &&
	       check_flag(in, id, "stopped", im->stopped) && check_flag(in, id, "wfi", im->wfi) &&
	       check_flag(in, id, "m_trap_fatal", im->m_trap_fatal);
}

/* Empty every cache the hart keeps of guest memory and translations, as hart_reset does,
 * and the translator's (jump cache, fetch TLB, memory-access sites; its translations are
 * checked against RAM before they run again, as after a fence.i from another hart). */
static void empty_caches(struct hart *h)
{
	for (unsigned t = 0; t < 4; t++) {
		struct tlb_set *s = &h->tlb[t];
		for (unsigned i = 0; i < TLB_ENTRIES; i++) {
			s->r[i].tag = s->w[i].tag = TLB_INVALID;
			h->itlb_set[t][i].tag = TLB_INVALID;
		}
		memset(s->used, 0, sizeof(s->used));
		memset(s->super, 0, sizeof(s->super));
		s->super_lo = ~0ull;
		s->super_hi = 0;
	}
	for (unsigned i = 0; i < DCACHE_PAGES; i++)
		h->dcache[i].gpa = ~0ull;
	h->walk_level = 0;
	hart_flush_tlb(h);
	hart_flush_icache(h);
}

static void apply_image(struct hart *h, const struct hart_image *im)
{
	h->pc = h->pc_next = im->pc;
	memcpy(h->x, im->x, sizeof(im->x));
	h->x[32] = 0;
	memcpy(h->f, im->f, sizeof(im->f));
	h->fflags = im->fflags;
	h->frm = im->frm;
	h->priv = im->priv;
	atomic_store(&h->mip, im->mip);
	for (unsigned i = 0; i < NCSR_FIELDS; i++)
		*field_at(h, csr_fields[i].off) = im->csr[i];
	atomic_store(&h->mtimecmp, im->mtimecmp);
	/* Only entries 0-15 are implemented (pmp.h); an older snapshot may hold the others. */
	memset(h->pmpcfg, 0, sizeof(h->pmpcfg));
	memset(h->pmpaddr, 0, sizeof(h->pmpaddr));
	memcpy(h->pmpcfg, im->pmpcfg, PMP_ENTRIES / 4 * sizeof(uint64_t));
	memcpy(h->pmpaddr, im->pmpaddr, PMP_ENTRIES * sizeof(uint64_t));
	pmp_update(h);
	/* A hart whose SBI rvisor serves (no M-mode software) starts with PMP entry 0 over all
	 * memory (machine.c). Builds that did not enforce PMP left every entry OFF, which now
	 * denies S and U everything: such a hart gets the entry its machine would have given. */
	if (im->version < 3 && im->m_trap_fatal && !h->pmpcfg[0] && !h->pmpcfg[2])
		pmp_allow_all(h, 0);
	h->batch_len = h->budget = 0; /* so that hart_instret is instret */
	h->instret = im->instret;
	h->reservation = im->reservation;
	h->reservation_val = im->reservation_val;
	atomic_store(&h->stopped, im->stopped);
	h->wfi = im->wfi;
	h->m_trap_fatal = im->m_trap_fatal;
	h->tohost_gpa = im->tohost_gpa;
	/* What decodes changes with the extensions: the caches emptied next hold no decoding
	 * of the old set (a hart being restored has run nothing yet in any case). */
	h->isa_ext = im->isa_ext;
	empty_caches(h);
	hart_update_mode(h);
}

int hart_state_load(struct hart *h, struct state_in *in)
{
	uint32_t version = state_enter(in, "hart");
	if (!state_check(in, version >= 1 && version <= HART_STATE_VERSION,
			 "layout version %u, this build reads 1 to %u", version,
			 HART_STATE_VERSION))
		return -EINVAL;
	struct hart_image im;
	read_image(in, version, &im);
	/* The first bad value fails the stream naming it; h is probed (csr_legal) but left as
	 * it was. */
	if (in->failed || !check_core(h, in, &im) || !check_csrs(h, in, &im) ||
	    !check_rest(h, in, &im) || !state_leave(in))
		return -EINVAL;
	apply_image(h, &im);
	/* A run loop waiting on the hart (stopped, WFI) looks at the new state. */
	hart_kick(h);
	return 0;
}
