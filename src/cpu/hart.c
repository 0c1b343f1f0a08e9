/* The hart's run loop, trap entry and interrupt selection (priv spec 3.1.9, 3.1.15, 3.3.1),
 * WFI sleep, and the decoded-instruction cache that keeps the interpreter from re-decoding hot
 * code. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/exec.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/pmp.h"
#include "jit/jit.h"

#define BATCH     1024 /* instructions between interrupt and timer checks */
#define JIT_BATCH 4096 /* the same under the translator, whose blocks chain */

int hart_init(struct hart *h, uint64_t hartid, struct guest_mem *mem, struct bus *bus,
	      const struct hart_env *env)
{
	memset(h, 0, sizeof(*h));
	h->dcache = calloc(DCACHE_PAGES, sizeof(struct dpage));
	if (!h->dcache)
		return -ENOMEM;
	h->mhartid = hartid;
	h->mem = mem;
	h->bus = bus;
	h->env = *env;
	pthread_mutex_init(&h->wait_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wait_cond, &ca);
	pthread_condattr_destroy(&ca);
	hart_reset(h, 0);
	return 0;
}

void hart_destroy(struct hart *h)
{
	jit_destroy(h);
	free(h->dcache);
	h->dcache = NULL;
	pthread_mutex_destroy(&h->wait_lock);
	pthread_cond_destroy(&h->wait_cond);
}

void hart_reset(struct hart *h, uint64_t reset_pc)
{
	memset(h->x, 0, sizeof(h->x));
	memset(h->f, 0, sizeof(h->f));
	h->fflags = h->frm = 0;
	h->pc = h->pc_next = reset_pc;
	h->priv = PRV_M;
	h->misa = (2ull << 62) | (1u << ('A' - 'A')) | (1u << ('C' - 'A')) | (1u << ('D' - 'A')) |
		  (1u << ('F' - 'A')) | (1u << ('I' - 'A')) | (1u << ('M' - 'A')) |
		  (1u << ('S' - 'A')) | (1u << ('U' - 'A'));
	h->mstatus = (2ull << 32) | (2ull << 34); /* UXL = SXL = 64 */
	atomic_store(&h->mip, 0);
	h->mie = h->mideleg = h->medeleg = 0;
	h->mtvec = h->mscratch = h->mepc = h->mcause = h->mtval = 0;
	h->stvec = h->sscratch = h->sepc = h->scause = h->stval = h->satp = 0;
	h->mcounteren = h->scounteren = h->mcountinhibit = h->menvcfg = h->senvcfg = 0;
	h->stimecmp = ~0ull;
	atomic_store(&h->mtimecmp, ~0ull);
	h->instret = 0;
	h->reservation = ~0ull;
	memset(h->pmpcfg, 0, sizeof(h->pmpcfg));
	memset(h->pmpaddr, 0, sizeof(h->pmpaddr));
	pmp_update(h);
	h->wfi = false;
	for (unsigned i = 0; i < DCACHE_PAGES; i++)
		h->dcache[i].gpa = ~0ull;
	h->code_gen = 1;
	/* Every entry of every set (hart_flush_tlb visits only the used ones of sets 0-2). */
	for (unsigned t = 0; t < 4; t++) {
		for (unsigned i = 0; i < TLB_ENTRIES; i++) {
			h->tlb[t].r[i].tag = h->tlb[t].w[i].tag = TLB_INVALID;
			h->itlb_set[t][i].tag = TLB_INVALID;
		}
		memset(h->tlb[t].used, 0, sizeof(h->tlb[t].used));
	}
	hart_flush_tlb(h);
	hart_update_mode(h);
}

uint64_t hart_mstatus_read(const struct hart *h)
{
	uint64_t s = h->mstatus;
	if ((s & MSTATUS_FS) == MSTATUS_FS)
		s |= MSTATUS_SD;
	return s;
}

uint64_t hart_instret(const struct hart *h)
{
	return h->instret + (uint64_t)(h->batch_len - h->budget);
}

void hart_update_mode(struct hart *h)
{
	unsigned dpriv = h->priv;
	if (dpriv == PRV_M && (h->mstatus & MSTATUS_MPRV))
		dpriv = (h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT;
	/* S and U have their own sets even without paging: PMP may allow them less than M. */
	unsigned set = dpriv == PRV_M ? 3 : dpriv;
	if (set == PRV_S && (h->mstatus & MSTATUS_SUM))
		set = 2;
	/* Translated code's TLB copies (jit_sites_clear) may not hold in another set; from S to
	 * S with SUM they do, as SUM only widens what may be reached. */
	if (h->jit_site_n && h->dtlb != &h->tlb[set] && !(h->dtlb == &h->tlb[1] && set == 2))
		jit_sites_clear(h);
	h->dtlb = &h->tlb[set];
	h->itlb = h->itlb_set[h->priv == PRV_M ? 3 : h->priv];
	h->fs_off = (h->mstatus & MSTATUS_FS) == 0;
}

void hart_flush_tlb(struct hart *h)
{
	/* Set 3 maps M-mode accesses one to one: no satp, sfence.vma or status bit changes it,
	 * so only the U and S sets (0 to 2) are flushed (a PMP change flushes it:
	 * hart_flush_pmp). */
	for (unsigned s = 0; s < 3; s++) {
		struct tlb_set *t = &h->tlb[s];
		memset(t->super, 0, sizeof(t->super));
		t->super_lo = ~0ull;
		t->super_hi = 0;
		for (unsigned wd = 0; wd < TLB_ENTRIES / 64; wd++) {
			for (uint64_t m = t->used[wd]; m; m &= m - 1) {
				unsigned i = wd * 64 + (unsigned)__builtin_ctzll(m);
				t->r[i].tag = TLB_INVALID;
				t->w[i].tag = TLB_INVALID;
				h->itlb_set[s][i].tag = TLB_INVALID;
			}
			t->used[wd] = 0;
		}
	}
	if (h->jit) {
		jit_flush_virtual(h);
		jit_sites_clear(h);
	}
	hart_end_batch(h);
}

void hart_flush_pmp(struct hart *h)
{
	struct tlb_set *m = &h->tlb[3];
	for (unsigned wd = 0; wd < TLB_ENTRIES / 64; wd++) {
		for (uint64_t b = m->used[wd]; b; b &= b - 1) {
			unsigned i = wd * 64 + (unsigned)__builtin_ctzll(b);
			m->r[i].tag = m->w[i].tag = TLB_INVALID;
			h->itlb_set[3][i].tag = TLB_INVALID;
		}
		m->used[wd] = 0;
	}
	hart_flush_tlb(h); /* sets 0-2, the translator's caches, the end of the batch */
}

void hart_flush_write_tlb(struct hart *h)
{
	for (unsigned s = 0; s < 4; s++) {
		struct tlb_set *t = &h->tlb[s];
		for (unsigned wd = 0; wd < TLB_ENTRIES / 64; wd++)
			for (uint64_t m = t->used[wd]; m; m &= m - 1)
				t->w[wd * 64 + (unsigned)__builtin_ctzll(m)].tag = TLB_INVALID;
	}
	if (h->jit)
		jit_sites_clear(h);
	hart_end_batch(h);
}

/* Drop entry i of e if it came from a superpage (level > 0) holding vpn. */
static void flush_if_covers(struct tlb_entry *e, const uint8_t *level, unsigned i, uint64_t vpn)
{
	if (level[i] && (e[i].tag >> (9 * level[i])) == (vpn >> (9 * level[i])))
		e[i].tag = TLB_INVALID;
}

void hart_flush_tlb_page(struct hart *h, uint64_t gva)
{
	uint64_t vpn = gva >> 12;
	unsigned idx = vpn & (TLB_ENTRIES - 1);
	for (unsigned s = 0; s < 3; s++) { /* the paged sets, as in hart_flush_tlb */
		struct tlb_set *t = &h->tlb[s];
		if (t->r[idx].tag == vpn)
			t->r[idx].tag = TLB_INVALID;
		if (t->w[idx].tag == vpn)
			t->w[idx].tag = TLB_INVALID;
		if (h->itlb_set[s][idx].tag == vpn)
			h->itlb_set[s][idx].tag = TLB_INVALID;
		if (vpn < t->super_lo || vpn > t->super_hi) /* also when it holds none */
			continue;
		/* Only the indices that ever held a superpage entry can hold one now. */
		for (unsigned wd = 0; wd < TLB_ENTRIES / 64; wd++) {
			for (uint64_t m = t->super[wd]; m; m &= m - 1) {
				unsigned i = wd * 64 + (unsigned)__builtin_ctzll(m);
				flush_if_covers(t->r, t->r_level, i, vpn);
				flush_if_covers(t->w, t->w_level, i, vpn);
				unsigned l = t->i_level[i];
				if (l && (h->itlb_set[s][i].tag >> (9 * l)) == (vpn >> (9 * l)))
					h->itlb_set[s][i].tag = TLB_INVALID;
			}
		}
	}
	if (h->jit) {
		jit_flush_virtual_page(h, gva);
		/* Sites copy 4 KiB pages; one filled from a superpage holding vpn may have
		 * another page's tag. */
		bool super = false;
		for (unsigned s = 0; s < 3; s++)
			super |= vpn >= h->tlb[s].super_lo && vpn <= h->tlb[s].super_hi;
		if (super)
			jit_sites_clear(h);
		else
			jit_sites_clear_page(h, gva);
	}
	hart_end_batch(h);
}

static void flush_icache(struct hart *h, bool local)
{
	/* Decoded pages of the old generation are reset when next looked up (mmu.c). */
	h->code_gen++;
	if (h->jit)
		jit_fence_i(h, local);
	hart_end_batch(h);
}

void hart_flush_icache(struct hart *h)
{
	flush_icache(h, false);
}

void hart_fence_i(struct hart *h)
{
	flush_icache(h, true);
}

void hart_trap(struct hart *h, uint64_t cause, uint64_t tval)
{
	bool irq = cause & CAUSE_INTERRUPT;
	uint64_t code = cause & ~CAUSE_INTERRUPT;
	uint64_t deleg = irq ? h->mideleg : h->medeleg;
	uint64_t s = h->mstatus;

	if (h->priv <= PRV_S && code < 64 && ((deleg >> code) & 1)) {
		h->scause = cause;
		h->sepc = h->pc;
		h->stval = tval;
		s = (s & ~(MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SIE)) |
		    ((s & MSTATUS_SIE) ? MSTATUS_SPIE : 0) | (h->priv == PRV_S ? MSTATUS_SPP : 0);
		h->priv = PRV_S;
		h->pc_next = h->stvec & ~3ull;
		if (irq && (h->stvec & 3) == 1)
			h->pc_next += 4 * code;
	} else {
		if (h->env.fatal &&
		    (h->m_trap_fatal ||
		     ((code == CAUSE_FETCH_ACCESS || code == CAUSE_FETCH_PAGE_FAULT) && !irq &&
		      h->priv == PRV_M && tval == (h->mtvec & ~3ull))))
			h->env.fatal(h->env.opaque, h, cause, tval);
		h->mcause = cause;
		h->mepc = h->pc;
		h->mtval = tval;
		s = (s & ~(MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MIE)) |
		    ((s & MSTATUS_MIE) ? MSTATUS_MPIE : 0) |
		    ((uint64_t)h->priv << MSTATUS_MPP_SHIFT);
		h->priv = PRV_M;
		h->pc_next = h->mtvec & ~3ull;
		if (irq && (h->mtvec & 3) == 1)
			h->pc_next += 4 * code;
	}
	h->mstatus = s;
	hart_end_batch(h);
	hart_update_mode(h);
}

/* Interrupt priority order of priv spec 3.1.9: MEI, MSI, MTI, SEI, SSI, STI. */
static const uint8_t irq_order[] = {IRQ_M_EXT, IRQ_M_SOFT, IRQ_M_TIMER,
				    IRQ_S_EXT, IRQ_S_SOFT, IRQ_S_TIMER};

static uint64_t enabled_interrupts(const struct hart *h)
{
	uint64_t pending = atomic_load_explicit(&h->mip, memory_order_relaxed) & h->mie;
	if (!pending)
		return 0;
	uint64_t m = pending & ~h->mideleg;
	bool m_on = h->priv < PRV_M || (h->mstatus & MSTATUS_MIE);
	if (m && m_on)
		return m;
	uint64_t s = pending & h->mideleg;
	bool s_on = h->priv < PRV_S || (h->priv == PRV_S && (h->mstatus & MSTATUS_SIE));
	return s_on ? s : 0;
}

bool hart_check_interrupts(struct hart *h)
{
	uint64_t en = enabled_interrupts(h);
	if (!en)
		return false;
	for (unsigned i = 0; i < sizeof(irq_order); i++) {
		if (en & (1ull << irq_order[i])) {
			hart_trap(h, CAUSE_INTERRUPT | irq_order[i], 0);
			h->pc = h->pc_next;
			return true;
		}
	}
	return false;
}

void hart_set_mip(struct hart *h, uint64_t bits, bool level)
{
	if (level)
		atomic_fetch_or(&h->mip, bits);
	else
		atomic_fetch_and(&h->mip, ~bits);
	hart_kick(h);
}

void hart_kick(struct hart *h)
{
	pthread_mutex_lock(&h->wait_lock);
	h->kicked = true;
	pthread_cond_broadcast(&h->wait_cond); /* the hart, and anyone waiting for it to park */
	pthread_mutex_unlock(&h->wait_lock);
}

void hart_request_exit(struct hart *h, enum hart_exit why)
{
	int expected = 0;
	atomic_compare_exchange_strong(&h->exit_req, &expected, (int)why);
	hart_kick(h);
}

void hart_update_timers(struct hart *h, uint64_t now)
{
	bool mt = now >= atomic_load_explicit(&h->mtimecmp, memory_order_relaxed);
	uint64_t mip = atomic_load_explicit(&h->mip, memory_order_relaxed);
	if (mt != !!(mip & MIP_MTIP))
		hart_set_mip(h, MIP_MTIP, mt);
	if (h->menvcfg & MENVCFG_STCE) {
		bool st = now >= h->stimecmp;
		if (st != !!(mip & MIP_STIP))
			hart_set_mip(h, MIP_STIP, st);
	}
}

/* The earliest comparator that can still fire, in ticks. */
static uint64_t next_deadline(const struct hart *h)
{
	uint64_t d = atomic_load_explicit(&h->mtimecmp, memory_order_relaxed);
	if ((h->menvcfg & MENVCFG_STCE) && h->stimecmp < d)
		d = h->stimecmp;
	return d;
}

/* Sleep until an interrupt is pending (mip & mie, whatever the global enables: priv spec
 * 3.3.3), a timer deadline passes, or another thread kicks us. */
static void wfi_wait(struct hart *h)
{
	uint64_t now = h->env.time_now(h->env.opaque);
	hart_update_timers(h, now);
	pthread_mutex_lock(&h->wait_lock);
	while (!h->kicked && !atomic_load(&h->exit_req) && !atomic_load(&h->fence_req) &&
	       !(atomic_load(&h->mip) & h->mie)) {
		uint64_t dl = next_deadline(h);
		now = h->env.time_now(h->env.opaque);
		if (dl <= now)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t wait_ns = (dl - now) > 10000000ull ? 1000000000ull : (dl - now) * 100;
		ts.tv_sec += (time_t)(wait_ns / 1000000000ull);
		ts.tv_nsec += (long)(wait_ns % 1000000000ull);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->wait_cond, &h->wait_lock, &ts);
	}
	h->kicked = false;
	pthread_mutex_unlock(&h->wait_lock);
	hart_update_timers(h, h->env.time_now(h->env.opaque));
	if (atomic_load(&h->mip) & h->mie)
		h->wfi = false;
}

static void do_fence_requests(struct hart *h);

/* Parked for a pause until resumed (or the VM exits). */
static void paused_wait(struct hart *h)
{
	pthread_mutex_lock(&h->wait_lock);
	h->parked = true;
	pthread_cond_broadcast(&h->wait_cond);
	while (atomic_load(&h->paused) && !atomic_load(&h->exit_req)) {
		/* A hart that asked this one for a fence (SBI RFENCE) waits until it is done: serve
		 * it parked, or that hart could never reach its own park. */
		if (atomic_load(&h->fence_req)) {
			do_fence_requests(h);
			continue;
		}
		pthread_cond_wait(&h->wait_cond, &h->wait_lock);
	}
	h->parked = false;
	h->kicked = false;
	pthread_mutex_unlock(&h->wait_lock);
}

void hart_set_paused(struct hart *h, bool paused, bool wait)
{
	pthread_mutex_lock(&h->wait_lock);
	atomic_store(&h->paused, paused);
	h->kicked = true;
	pthread_cond_broadcast(&h->wait_cond);
	/* A hart stopped by HSM runs nothing: it parks when started. */
	while (paused && wait && !h->parked && !atomic_load(&h->exit_req) &&
	       !atomic_load(&h->stopped))
		pthread_cond_wait(&h->wait_cond, &h->wait_lock);
	pthread_mutex_unlock(&h->wait_lock);
}

/* HSM: a stopped hart sleeps until another hart starts it (or the VM exits). */
static void stopped_wait(struct hart *h)
{
	pthread_mutex_lock(&h->wait_lock);
	while (atomic_load(&h->stopped) && !atomic_load(&h->exit_req))
		pthread_cond_wait(&h->wait_cond, &h->wait_lock);
	h->kicked = false;
	pthread_mutex_unlock(&h->wait_lock);
}

static void do_fence_requests(struct hart *h)
{
	/* The bits are cleared once the fences are done: the hart waiting for them (sbi.c) goes
	 * on only then. This hart runs no guest code meanwhile, so a request arriving during the
	 * flush is served by it too. */
	unsigned req = atomic_load(&h->fence_req);
	if (req & HART_FENCE_TLB)
		hart_flush_tlb(h);
	if (req & HART_FENCE_ICACHE)
		hart_flush_icache(h);
	if (req & HART_FENCE_DIRTY)
		hart_flush_write_tlb(h);
	atomic_fetch_and(&h->fence_req, ~req);
}

/* Execute the instruction at h->pc when it straddles a page boundary (a 32-bit instruction
 * in the last halfword of a page): decoded each time, never cached. */
static void exec_straddling(struct hart *h, uint16_t lo)
{
	struct itlb_entry *e = mmu_fetch_lookup(h, h->pc + 2);
	if (!e) { /* fetch fault at pc + 2, reported with xepc = pc */
		h->pc = h->pc_next;
		return;
	}
	uint16_t hi;
	memcpy(&hi, (const void *)(e->addend + h->pc + 2), 2);
	struct insn_fields f;
	struct insn in;
	decode_isa((uint32_t)lo | (uint32_t)hi << 16, h->isa_ext, &f);
	exec_compact(&f, &in);
	h->pc_next = h->pc + 4;
	exec_single(h, &in, f.op);
}

/* Run one batch of at most BATCH instructions. Handlers chain to the next instruction on the
 * same page themselves (exec.c, threaded dispatch); this loop handles page changes, decoding
 * and the first instruction of each chain. */
static uint64_t run_batch_of(struct hart *h, int32_t n)
{
	const struct itlb_entry *page = NULL;
	uint64_t page_vpn = ~0ull;

	h->batch_len = h->budget = n;
	while (h->budget > 0) {
		uint64_t pc = h->pc;
		if (__builtin_expect((pc >> 12) != page_vpn, 0)) {
			const struct itlb_entry *e = &h->itlb[(pc >> 12) & (TLB_ENTRIES - 1)];
			if (e->tag != pc >> 12 || e->dp->gen != h->code_gen) {
				e = mmu_fetch_lookup(h, pc);
				if (!e) { /* fetch fault raised: the batch has ended */
					h->pc = h->pc_next;
					break;
				}
			}
			page = e;
			page_vpn = pc >> 12;
		}
		struct insn *in = &page->dp->slot[(pc & 0xfff) >> 1];
		if (__builtin_expect(!in->fn, 0)) {
			const uint8_t *hva = (const uint8_t *)(page->addend + pc);
			uint16_t lo;
			memcpy(&lo, hva, 2);
			if (insn_length(lo) == 4 && (pc & 0xfff) == 0xffe) {
				exec_straddling(h, lo);
				page_vpn = ~0ull;
				continue;
			}
			uint32_t raw = lo;
			if (insn_length(lo) == 4) {
				uint16_t hi;
				memcpy(&hi, hva + 2, 2);
				raw |= (uint32_t)hi << 16;
			}
			/* Remember the bytes decoded, for revalidation after fence.i. */
			memcpy(page->dp->raw + (pc & 0xfff), &raw, insn_length(lo));
			struct insn_fields f;
			decode_isa(raw, h->isa_ext, &f);
			exec_compact(&f, in);
		}
		h->pc_next = pc + in->len;
		in->fn(h, in);
	}
	uint64_t done = (uint64_t)(h->batch_len - h->budget);
	h->instret += done;
	h->batch_len = h->budget = 0;
	return done;
}

static void run_batch(struct hart *h)
{
	run_batch_of(h, BATCH);
}

uint64_t hart_run_budget(struct hart *h, int32_t n)
{
	/* Counted from the batch, not as a difference of instret, which a write to minstret or
	 * mcycle moves. */
	return run_batch_of(h, n);
}

void hart_exec_one(struct hart *h)
{
	struct itlb_entry *e = &h->itlb[(h->pc >> 12) & (TLB_ENTRIES - 1)];
	if (e->tag != h->pc >> 12 || e->dp->gen != h->code_gen) {
		e = mmu_fetch_lookup(h, h->pc);
		if (!e) { /* fetch fault raised: it retires nothing, as in a batch */
			h->pc = h->pc_next;
			return;
		}
	}
	uint16_t lo;
	memcpy(&lo, (const void *)(e->addend + h->pc), 2);
	if (insn_length(lo) == 4 && (h->pc & 0xfff) == 0xffe) {
		exec_straddling(h, lo);
		return;
	}
	uint32_t raw = lo;
	if (insn_length(lo) == 4) {
		uint16_t hi;
		memcpy(&hi, (const void *)(e->addend + h->pc + 2), 2);
		raw |= (uint32_t)hi << 16;
	}
	struct insn_fields f;
	struct insn in;
	decode_isa(raw, h->isa_ext, &f);
	exec_compact(&f, &in);
	h->pc_next = h->pc + in.len;
	exec_single(h, &in, f.op);
}

/* ---- the debugger's hooks (src/vmm/gdbstub.c) ---- */

/* Stop for the debugger: park at the next instruction boundary, then tell it. */
static void debug_stop(struct hart *h, enum hart_debug_event ev, uint64_t addr,
		       enum hart_watch_kind kind)
{
	hart_set_paused(h, true, false);
	h->debug->stop(h->debug->opaque, h, ev, addr, kind);
}

/* While a debugger has breakpoints or watchpoints set: interpret up to BATCH instructions one
 * at a time, stopping before one at a breakpoint or about to touch a watched range (mmu.c).
 * Returns early whenever hart_run has something to do (an interrupt now taken, WFI, a stop or
 * pause request, a fence). Costs several times the interpreter's speed (each instruction is
 * a batch of its own), and the translator stays unused meanwhile. */
static void run_batch_debug(struct hart *h)
{
	const struct hart_debug *d = h->debug;
	h->jit_link = NULL; /* the translator's last exit is not where the interpreter goes on */
	for (unsigned n = 0; n < BATCH; n++) {
		for (unsigned i = 0; i < d->nbp; i++) {
			if (d->bp[i] == h->pc) {
				debug_stop(h, HART_DEBUG_BREAKPOINT, h->pc, 0);
				return;
			}
		}
		run_batch_of(h, 1);
		if (h->watch_hit) {
			enum hart_watch_kind kind = h->watch_hit;
			h->watch_hit = 0;
			debug_stop(h, HART_DEBUG_WATCHPOINT, h->watch_addr, kind);
			return;
		}
		if (h->wfi || enabled_interrupts(h) ||
		    atomic_load_explicit(&h->exit_req, memory_order_relaxed) ||
		    atomic_load_explicit(&h->paused, memory_order_relaxed) ||
		    atomic_load_explicit(&h->fence_req, memory_order_relaxed) ||
		    atomic_load_explicit(&h->stopped, memory_order_relaxed))
			return;
	}
}

uint64_t hart_debug_step(struct hart *h)
{
	if (atomic_load(&h->fence_req))
		do_fence_requests(h);
	h->wfi = false;
	h->jit_link = NULL;
	uint64_t before = h->instret;
	run_batch_of(h, 1);
	return h->instret - before;
}

void hart_debug_sync(struct hart *h)
{
	/* Every set, M-mode's (3) too, which hart_flush_tlb leaves alone; only the entries: the
	 * used bits also tell dcache_get (mmu.c) which fetch entries to look at. */
	for (unsigned s = 0; s < 4; s++) {
		struct tlb_set *t = &h->tlb[s];
		for (unsigned wd = 0; wd < TLB_ENTRIES / 64; wd++) {
			for (uint64_t m = t->used[wd]; m; m &= m - 1) {
				unsigned i = wd * 64 + (unsigned)__builtin_ctzll(m);
				t->r[i].tag = TLB_INVALID;
				t->w[i].tag = TLB_INVALID;
			}
		}
	}
	if (h->jit)
		jit_sites_clear(h);
	h->jit_link = NULL;
}

uint64_t hart_step(struct hart *h, uint64_t n)
{
	uint64_t done = 0;
	while (done < n && !atomic_load(&h->exit_req)) {
		uint64_t before = h->instret;
		hart_update_timers(h, h->env.time_now(h->env.opaque));
		hart_check_interrupts(h);
		run_batch(h);
		done += h->instret - before;
		if (h->wfi) /* tests: WFI returns immediately when nothing can wake it */
			h->wfi = false;
	}
	return done;
}

/* Auto-converge: after each 10 ms of running, sleep so that the hart runs only
 * 100 - throttle_pct percent of the time (in stretches of at most 40 ms, so a pause or an
 * exit waits no longer than that). */
static void throttle(struct hart *h)
{
	unsigned pct = atomic_load_explicit(&h->throttle_pct, memory_order_relaxed);
	if (!pct) {
		h->throttle_mark = 0;
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (!h->throttle_mark) {
		h->throttle_mark = now;
		return;
	}
	uint64_t ran = now - h->throttle_mark;
	if (ran < 10000000ull)
		return;
	if (pct > 99)
		pct = 99;
	uint64_t nap = ran * pct / (100 - pct);
	if (nap > 40000000ull)
		nap = 40000000ull;
	struct timespec d = {(time_t)(nap / 1000000000ull), (long)(nap % 1000000000ull)};
	nanosleep(&d, NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	h->throttle_mark = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	atomic_fetch_add_explicit(&h->throttled_ns, h->throttle_mark - now, memory_order_relaxed);
}

enum hart_exit hart_run(struct hart *h)
{
	for (;;) {
		int why = atomic_load(&h->exit_req);
		if (why)
			return (enum hart_exit)why;
		if (atomic_load_explicit(&h->fence_req, memory_order_relaxed))
			do_fence_requests(h);
		if (atomic_load_explicit(&h->paused, memory_order_relaxed)) {
			paused_wait(h);
			continue;
		}
		if (atomic_load_explicit(&h->stopped, memory_order_relaxed)) {
			stopped_wait(h);
			continue;
		}
		hart_update_timers(h, h->env.time_now(h->env.opaque));
		if (hart_check_interrupts(h))
			h->wfi = false;
		if (h->wfi) {
			wfi_wait(h);
			continue;
		}
		if (h->debug && h->debug->active) /* a debugger's breakpoints or watchpoints */
			run_batch_debug(h);
		else if (h->jit)
			jit_run_budget(h, JIT_BATCH);
		else
			run_batch(h);
		if (atomic_load_explicit(&h->throttle_pct, memory_order_relaxed))
			throttle(h);
	}
}
