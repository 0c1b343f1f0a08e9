/* The x86-64 back end's memory and floating-point instructions: loads and stores check the
 * copy of a data-TLB entry kept at their site inline; a miss calls a shared routine that
 * probes the hart's data TLB and refills the site, and small C helpers on a TLB miss (the
 * MMU's slow path, precise traps); F/D loads and stores the same way; F/D add, subtract,
 * multiply and divide inline in SSE where the interpreter's own fast path would give the same
 * result, and every other F/D instruction through the interpreter's handler (unprivileged spec
 * chapters 11, 12). */
#include "cpu/exec.h"
#include "cpu/mmu.h"
#include "jit/jit.h"
#include "jit/x86_64/emit.h"

/* Ops whose handler writes an x register (rd names one). */
static bool fp_writes_x(unsigned op)
{
	switch (op) {
	case OP_FCVT_W_S:
	case OP_FCVT_WU_S:
	case OP_FCVT_L_S:
	case OP_FCVT_LU_S:
	case OP_FMV_X_W:
	case OP_FEQ_S:
	case OP_FLT_S:
	case OP_FLE_S:
	case OP_FCLASS_S:
	case OP_FCVT_W_D:
	case OP_FCVT_WU_D:
	case OP_FCVT_L_D:
	case OP_FCVT_LU_D:
	case OP_FMV_X_D:
	case OP_FEQ_D:
	case OP_FLT_D:
	case OP_FLE_D:
	case OP_FCLASS_D: return true;
	default: return false;
	}
}

static void fp_check_on(struct ctx *c, uintptr_t slow);

/* An F/D computational instruction: its handler runs without the write-back of pc and budget
 * when FP is on and the rounding mode is legal (it cannot trap then), checked inline; else
 * the full handler call on a cold path. */
void x86_emit_fp(struct ctx *c, const struct jit_insn *i, unsigned idx)
{
	struct jit_buf *b = c->hot;
	unsigned op = i->f.op, rm = i->f.rm;
	bool uses_rm =
	    op != OP_FMV_X_W && op != OP_FMV_X_D && op != OP_FMV_W_X && op != OP_FMV_D_X &&
	    !(op >= OP_FSGNJ_S && op <= OP_FMAX_S) && !(op >= OP_FSGNJ_D && op <= OP_FMAX_D) &&
	    !(op >= OP_FEQ_S && op <= OP_FCLASS_S) && !(op >= OP_FEQ_D && op <= OP_FCLASS_D);
	if (uses_rm && (rm == 5 || rm == 6)) {
		x86_emit_helper(c, i, idx, false);
		return;
	}
	x86_writeback(c, b);
	c->dirty = 0;
	c->fdirty = 0;
	x86_exit_pcnext(c); /* cold stubs and data first: the slow path must be one run of code */
	uintptr_t rec = x86_insn_record(c, i);
	uintptr_t slow = x_here(c->cold);
	fp_check_on(c, slow);
	if (uses_rm && rm == 7) {
		x_alu_mem_imm(b, false, ALU_CMP, RBX, H_FRM, 4);
		x_jcc(b, CC_A, slow);
	}
	x86_emit_helper_in(c, c->cold, i, idx, false, true, rec);
	uint8_t *back = x_jmp(c->cold, 0);
	x_mov(b, true, RDI, RBX);
	x_lea_rip(b, RSI, rec);
	x_call(b, (const void *)x86_exec_handlers[op]);
	x86_reload_volatile(c, b);
	if (!b->overflow && !c->cold->overflow)
		x_patch_rel32(c->cold, back, x_here(b));
	unsigned rd = i->f.rd;
	if (fp_writes_x(op) && rd && c->host[rd] >= 0 && c->host[rd] < (int)NSAVED)
		x_load(b, true, x86_cache_regs[c->host[rd]], RBX, HX(rd));
}

static unsigned access_size(unsigned op)
{
	switch (op) {
	case OP_LB:
	case OP_LBU:
	case OP_SB: return 1;
	case OP_LH:
	case OP_LHU:
	case OP_SH: return 2;
	case OP_LW:
	case OP_LWU:
	case OP_SW: return 4;
	default: return 8;
	}
}

/* A load or store site, read by the slow-path helpers below: its pc, the instructions before
 * it not yet subtracted from h->budget, its size and op. */
struct mem_site {
	uint64_t pc;
	int32_t pending;
	uint8_t size;
	uint8_t op;
	uint8_t pad[2];
};

/* The value a load op leaves in its destination, from the size bytes loaded. */
static uint64_t load_extend(unsigned op, uint64_t v)
{
	switch (op) {
	case OP_LB: return (uint64_t)(int64_t)(int8_t)v;
	case OP_LH: return (uint64_t)(int64_t)(int16_t)v;
	case OP_LW: return (uint64_t)(int64_t)(int32_t)v;
	default: return v;
	}
}

/* The slow paths of a translated load or store (TLB miss, MMIO, page crossing, faults):
 * pc and the retired count written back, the MMU called. On a trap they count the trapping
 * instruction as the interpreter does, set pc to the trap vector and return false. */
static bool slow_load(struct hart *h, uint64_t gva, const struct mem_site *s, uint64_t *val)
{
	if (h->jit_site_n == HART_SITE_LOG) /* a site miss found the log full */
		jit_sites_clear(h);
	h->budget -= s->pending;
	h->pc = s->pc;
	uint64_t v;
	if (!mmu_load_slow(h, gva, s->size, &v)) {
		h->budget--;
		h->pc = h->pc_next;
		return false;
	}
	h->budget += s->pending;
	*val = load_extend(s->op, v);
	return true;
}

static bool slow_store(struct hart *h, uint64_t gva, const struct mem_site *s, uint64_t val)
{
	if (h->jit_site_n == HART_SITE_LOG)
		jit_sites_clear(h);
	h->budget -= s->pending;
	h->pc = s->pc;
	if (!mmu_store_slow(h, gva, s->size, val)) {
		h->budget--;
		h->pc = h->pc_next;
		return false;
	}
	h->budget += s->pending;
	return true;
}

/* The block's shared stub for a load or store that trapped: h->pc is the trap vector already;
 * store every cached register the call did not clobber (all were loaded at the block's
 * entry, so each holds its current value) and leave. */
static uintptr_t trap_exit(struct ctx *c)
{
	if (!c->trap_exit) {
		struct jit_buf *b = c->cold;
		c->trap_exit = x_here(b);
		for (unsigned xi = 1; xi < 32; xi++)
			if (c->host[xi] >= 0 && c->host[xi] < (int)NSAVED)
				x_store(b, true, x86_cache_regs[c->host[xi]], RBX, HX(xi));
		x_jmp(b, c->t->exit_nolink);
	}
	return c->trap_exit;
}

/* The cold slow path of a load or store (gva in rdx, a store's value in host register dst):
 * call the helper, leave through the trap stub on a trap; on success rejoin the main path with
 * a loaded value in host register dst. Sets *slow to its entry; returns the rel32 field of its jump
 * back, to be patched. */
static uint8_t *emit_mem_slow(struct ctx *c, const struct jit_insn *i, unsigned idx, unsigned size,
			      bool store, unsigned dst, int xmm, uintptr_t *slow)
{
	struct jit_buf *b = c->cold;
	uintptr_t trap = trap_exit(c);
	struct mem_site site = {.pc = i->pc,
				.pending = (int32_t)(idx - c->done),
				.size = (uint8_t)size,
				.op = (uint8_t)i->f.op};
	x_align(b, 8);
	uintptr_t rec = x_here(b);
	x_bytes(b, &site, sizeof(site));
	*slow = x_here(b);
	if (store && dst != RCX)
		x_mov(b, true, RCX, dst);
	x86_spill_volatile(c, b);
	x_store(b, false, BUDGET, RBX, H_BUDGET);
	x_mov(b, true, RSI, RDX);
	x_mov(b, true, RDI, RBX);
	x_lea_rip(b, RDX, rec);
	if (!store)
		x_mov(b, true, RCX, RSP);
	x_call(b, store ? (const void *)slow_store : (const void *)slow_load);
	x_load(b, false, BUDGET, RBX, H_BUDGET);
	x_test8(b, RAX, RAX);
	x_jcc(b, CC_E, trap);
	x86_reload_volatile(c, b);
	if (!store)
		x_load(b, true, dst, RSP, 0);
	if (!store && xmm >= 0)
		x_movq_to_xmm(b, (unsigned)xmm, dst);
	return x_jmp(b, 0);
}

/* The access itself: op's size at [base + index + disp] (index < 0: none) into register r
 * (loads extend as op says; LWU and LD also serve FLW and FLD) or from r (stores). */
static void emit_access(struct jit_buf *b, unsigned op, unsigned r, unsigned base, int index,
			int32_t disp)
{
	static const struct {
		uint8_t op[2], len, w, prefix;
	} form[] = {
	    [OP_LB] = {{0x0f, 0xbe}, 2, 1, 0},  [OP_LH] = {{0x0f, 0xbf}, 2, 1, 0},
	    [OP_LW] = {{0x63}, 1, 1, 0},        [OP_LBU] = {{0x0f, 0xb6}, 2, 0, 0},
	    [OP_LHU] = {{0x0f, 0xb7}, 2, 0, 0}, [OP_LWU] = {{0x8b}, 1, 0, 0},
	    [OP_LD] = {{0x8b}, 1, 1, 0},        [OP_SB] = {{0x88}, 1, 0, 0},
	    [OP_SH] = {{0x89}, 1, 0, 0x66},     [OP_SW] = {{0x89}, 1, 0, 0},
	    [OP_SD] = {{0x89}, 1, 1, 0},
	};
	bool byte_reg = op == OP_SB && r >= RSP && r <= RDI;
	if (index >= 0) {
		x_op_memx(b, form[op].prefix, form[op].w, form[op].op, form[op].len, r, base,
			  (unsigned)index, 0, disp, byte_reg);
	} else {
		if (form[op].prefix)
			x_u8(b, form[op].prefix);
		x_rex(b, form[op].w, r, 0, base, byte_reg);
		x_bytes(b, form[op].op, form[op].len);
		x_modrm_mem(b, r, base, disp);
	}
}

/* A load or store on its way through emission: the host register holding x[rs1], the
 * offset, its site, and the rel32 field of the hot path's jump to the site miss. */
struct access {
	unsigned base;
	int32_t disp;
	struct jit_site *site;
	uint8_t *miss;
	int xmm;   /* FLD into / FSD from this xmm register (its cache), or -1 */
	bool pair; /* its site's copy is the pair after the miss path (struct ctx) */
};

/* A new site for access a (none left: the block is dropped, false). */
static bool take_site(struct ctx *c, struct access *a)
{
	if (c->sites->next == c->sites->end) {
		c->hot->overflow = true;
		return false;
	}
	a->site = c->sites->next++;
	a->xmm = -1;
	a->pair = false;
	a->site->tag = JIT_SITE_EMPTY;
	a->site->addend = 0;
	return true;
}

/* The hot path's site check: a naturally aligned access to the page the site's copy maps goes
 * inline, with rdi = the addend; anything else jumps to the site miss. x[rs1] comes from its
 * cache register, else into rax. pair: also leave the tag in rdx (struct ctx's access pair).
 * Returns false when no site is left (the block is dropped). */
static bool emit_site_check(struct ctx *c, const struct jit_insn *i, unsigned size,
			    struct access *a, bool pair)
{
	struct jit_buf *b = c->hot;
	if (!take_site(c, a))
		return false;
	a->pair = pair;
	int base = x86_cached(c, i->f.rs1);
	if (base < 0) {
		x86_get_x(c, b, RAX, i->f.rs1);
		base = RAX;
	}
	a->base = (unsigned)base;
	a->disp = (int32_t)i->f.imm;
	if (a->disp)
		x_lea(b, RDI, a->base, a->disp);
	else
		x_mov(b, true, RDI, a->base);
	/* The page, plus the low bits an aligned access has clear: equal to the tag only for a
	 * naturally aligned access (which cannot cross the page) to the site's page. */
	x_alu_imm(b, true, ALU_AND, RDI, -4096 | (int32_t)(size - 1));
	x_op_rip(b, true, 0x3b, RDI, (uintptr_t)&a->site->tag); /* cmp rdi, tag */
	a->miss = x_jcc(b, CC_NE, 0);
	if (pair)
		x_mov(b, true, RDX, RDI);
	x_op_rip(b, true, 0x8b, RDI, (uintptr_t)&a->site->addend); /* mov rdi, addend */
	return true;
}

/* A later access through the pair's base register (struct ctx): naturally aligned and on the
 * page in rdx, it goes inline with the addend in rdi; else to its own site's miss, which
 * leaves that site's copy as the pair. Needs x[rs1] cached (false: not emitted). */
static bool emit_pair_check(struct ctx *c, const struct jit_insn *i, unsigned size,
			    struct access *a)
{
	struct jit_buf *b = c->hot;
	int base = x86_cached(c, i->f.rs1);
	if (base < 0 || !take_site(c, a))
		return false;
	a->pair = true;
	a->base = (unsigned)base;
	a->disp = (int32_t)i->f.imm;
	if (a->disp)
		x_lea(b, RAX, a->base, a->disp);
	else
		x_mov(b, true, RAX, a->base);
	x_alu_imm(b, true, ALU_AND, RAX, -4096 | (int32_t)(size - 1));
	x_alu(b, true, ALU_CMP, RAX, RDX);
	a->miss = x_jcc(b, CC_NE, 0);
	return true;
}

/* Whether a load or store through x[rs1] follows on this run before rs1 is written or the
 * pair could end (then the access at idx leaves the pair for it); a store only after a store. */
static bool pair_wanted(const struct ctx *c, unsigned idx, bool store)
{
	unsigned rs1 = c->ins[idx].f.rs1, op = c->ins[idx].f.op;
	if (x86_cached(c, rs1) < 0 || (x86_writes_rd(op) && c->ins[idx].f.rd == rs1))
		return false;
	for (unsigned k = idx + 1; k < c->n && !c->target[k]; k++) {
		const struct insn_fields *f = &c->ins[k].f;
		if (!x86_keeps_pair(f->op))
			return false;
		bool ld = (f->op >= OP_LB && f->op <= OP_LWU) || f->op == OP_FLW || f->op == OP_FLD;
		bool st = (f->op >= OP_SB && f->op <= OP_SD) || f->op == OP_FSW || f->op == OP_FSD;
		if ((ld || (st && store)) && f->rs1 == rs1)
			return true;
		if (x86_writes_rd(f->op) && f->rd == rs1)
			return false;
	}
	return false;
}

/* Start access i at idx: through the pair when it may (a load after any access through the
 * same base register, a store after a store), else through its site's check (leaving the pair
 * when a later access can use it). */
static bool emit_check(struct ctx *c, const struct jit_insn *i, unsigned idx, unsigned size,
		       bool store, struct access *a)
{
	if (c->pair_rs1 == (int)i->f.rs1 && (c->pair_w || !store) && !c->inject_op &&
	    emit_pair_check(c, i, size, a)) {
		c->pair_w = c->pair_w && store; /* a miss leaves a load's copy */
		return true;
	}
	if (c->hot->overflow)
		return false;
	bool pair = !c->inject_op && pair_wanted(c, idx, store);
	if (!emit_site_check(c, i, size, a, pair))
		return false;
	c->pair_rs1 = pair ? (int)i->f.rs1 : -1;
	c->pair_w = store;
	return true;
}

void x86_emit_site_miss_routines(struct jit_buf *b, struct jit_tramp *t)
{
	for (unsigned store = 0; store < 2; store++) {
		for (unsigned lg = 0; lg < 4; lg++) {
			unsigned size = 1u << lg;
			int32_t off = store ? TLB_W_OFF : 0;
			x_align(b, 16);
			t->site_miss[store][lg] = x_here(b);
			/* the main TLB: rax = the entry, rdx = page of the last byte */
			x_mov(b, false, RAX, RSI);
			x_shift_imm(b, false, SH_SHR, RAX, 8);
			x_alu_imm(b, false, ALU_AND, RAX, (TLB_ENTRIES - 1) << 4);
			x_alu_mem(b, true, ALU_ADD, RAX, RBX, H_DTLB);
			x_lea(b, RDX, RSI, (int32_t)size - 1);
			x_shift_imm(b, true, SH_SHR, RDX, 12);
			x_alu_mem(b, true, ALU_CMP, RDX, RAX, off);
			uint8_t *tlb_miss = x_jcc(b, CC_NE, 0);
			x_load(b, true, RDX, RAX, off + 8);
			uint8_t *unaligned = NULL;
			if (size > 1) { /* test esi, size - 1: only aligned accesses fill it */
				x_op_reg(b, false, (const uint8_t[]){0xf7}, 1, 0, RSI);
				x_u32(b, size - 1);
				unaligned = x_jcc(b, CC_NE, 0);
			}
			/* An empty site joins the hart's log (a full log: the slow path empties
			 * it); a filled one is in it already. */
			x_alu_mem_imm(b, true, ALU_CMP, RDI, 0, -1);
			uint8_t *logged = x_jcc(b, CC_NE, 0);
			x_load(b, false, RAX, RBX, H_SITE_N);
			x_alu_imm(b, false, ALU_CMP, RAX, HART_SITE_LOG);
			uint8_t *full = x_jcc(b, CC_AE, 0);
			x_op_memx(b, 0, true, (const uint8_t[]){0x89}, 1, RDI, RBX, RAX, 3,
				  H_SITE_LOG, false);
			x_alu_imm(b, false, ALU_ADD, RAX, 1);
			x_store(b, false, RAX, RBX, H_SITE_N);
			x_patch_rel32(b, logged, x_here(b));
			x_store(b, true, RDX, RDI, 8);
			x_mov(b, true, RAX, RSI);
			x_alu_imm(b, true, ALU_AND, RAX, -4096);
			x_store(b, true, RAX, RDI, 0);
			if (unaligned)
				x_patch_rel32(b, unaligned, x_here(b));
			x_alu(b, true, ALU_ADD, RSI, RDX);
			x_mov_imm(b, RAX, 0);
			x_ret(b);
			x_patch_rel32(b, tlb_miss, x_here(b));
			x_patch_rel32(b, full, x_here(b));
			x_mov_imm(b, RAX, 1);
			x_ret(b);
		}
	}
}

/* The cold site miss of access a (its inline access already emitted, the join point next in
 * the hot buffer): the shared routine probes the data TLB and fills the site, and the access
 * is done here; on a TLB miss (or a full log, which the helper empties), the C slow path. */
static void emit_site_miss(struct ctx *c, const struct jit_insn *i, unsigned idx, unsigned size,
			   bool store, unsigned op, unsigned r, const struct access *a)
{
	struct jit_buf *b = c->cold;
	uintptr_t entry = x_here(b);
	if (store && a->xmm >= 0) /* the value, for the access here and the slow path */
		x_movq_from_xmm(b, r, (unsigned)a->xmm);
	bool rsi_cached = false; /* then saved around the routine, which uses rsi */
	for (unsigned xi = 1; xi < 32; xi++)
		rsi_cached |= x86_cached(c, xi) == RSI;
	if (rsi_cached)
		x_push(b, RSI);
	if (a->disp)
		x_lea(b, RSI, a->base, a->disp);
	else
		x_mov(b, true, RSI, a->base);
	x_lea_rip(b, RDI, (uintptr_t)&a->site->tag);
	unsigned lg = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
	x_u8(b, 0xe8); /* call rel32 */
	x_u32(b, (uint32_t)(c->t->site_miss[store][lg] - (x_here(b) + 4)));
	x_mov(b, true, RDX, RSI); /* the host address, or the gva for the slow path */
	if (rsi_cached)
		x_pop(b, RSI);
	x_test(b, false, RAX, RAX);
	uint8_t *to_slow = x_jcc(b, CC_NE, 0);
	emit_access(b, op, r, RDX, -1, 0);
	if (!store && a->xmm >= 0)
		x_movq_to_xmm(b, (unsigned)a->xmm, r);
	uint8_t *back = x_jmp(b, 0);

	uintptr_t slow;
	uint8_t *slow_back = emit_mem_slow(c, i, idx, size, store, r, a->xmm, &slow);
	uintptr_t join = x_here(c->hot);
	if (a->pair) { /* the site's copy (filled, or as it was) becomes the pair */
		uintptr_t reload = x_here(b);
		x_op_rip(b, true, 0x8b, RDX, (uintptr_t)&a->site->tag);
		x_op_rip(b, true, 0x8b, RDI, (uintptr_t)&a->site->addend);
		x_jmp(b, join);
		join = reload;
	}
	if (c->hot->overflow || b->overflow)
		return;
	x_patch_rel32(b, to_slow, slow);
	x_patch_rel32(c->hot, a->miss, entry);
	x_patch_rel32(b, back, join);
	x_patch_rel32(b, slow_back, join);
}

void x86_emit_load(struct ctx *c, const struct jit_insn *i, unsigned idx)
{
	unsigned op = i->f.op, size = access_size(op), d = x86_dst_reg(c, i->f.rd);
	struct access a;
	if (!emit_check(c, i, idx, size, false, &a))
		return;
	emit_access(c->hot, op, d, a.base, RDI, a.disp);
	emit_site_miss(c, i, idx, size, false, op, d, &a);
	if (op == c->inject_op)
		x_alu_imm(c->hot, true, ALU_ADD, d, 1);
	x86_finish(c, d, i->f.rd);
}

void x86_emit_store(struct ctx *c, const struct jit_insn *i, unsigned idx)
{
	unsigned op = i->f.op, size = access_size(op);
	int v = x86_cached(c, i->f.rs2); /* the value: its cache register, else rcx */
	if (v < 0 || op == c->inject_op) {
		x86_get_x(c, c->hot, RCX, i->f.rs2);
		v = RCX;
	}
	if (op == c->inject_op)
		x_alu_imm(c->hot, true, ALU_ADD, RCX, 1);
	struct access a;
	if (!emit_check(c, i, idx, size, true, &a))
		return;
	emit_access(c->hot, op, (unsigned)v, a.base, RDI, a.disp);
	emit_site_miss(c, i, idx, size, true, op, (unsigned)v, &a);
}

/* ---- F and D inline: the cases the interpreter's own fast path covers (fpu.c host_op):
 * round to nearest even, fflags.NX already set (so the inexact flag needs no detection) and a
 * finite normal result (or any finite result of an add or subtract, which is exact when tiny):
 * then the host's SSE result is the RISC-V result and no flag changes. Everything else takes
 * the handler on a cold path. ---- */

/* Leave the fast path for the cold full handler call unless FP is on (fs_off clear). */
static void fp_check_on(struct ctx *c, uintptr_t slow)
{
	if (c->fp_on)
		return;
	x_cmp_mem8_imm(c->hot, RBX, H_FS_OFF, 0);
	x_jcc(c->hot, CC_NE, slow);
	c->fp_on = true;
}

/* An f register was written: mstatus.FS = Dirty (priv spec 3.1.6.6), once on each path. */
static void fp_set_dirty(struct ctx *c)
{
	if (c->fs_dirty)
		return;
	x_alu_mem_imm(c->hot, true, ALU_OR, RBX, H_MSTATUS, (int32_t)MSTATUS_FS);
	c->fs_dirty = true;
}

/* The cold full handler call for instruction i, rejoining the main path; returns the rel32
 * field of its jump back, to be patched to the join point. */
static uint8_t *fp_cold_handler(struct ctx *c, const struct jit_insn *i, unsigned idx,
				uintptr_t rec)
{
	x86_emit_helper_in(c, c->cold, i, idx, false, true, rec);
	/* The handler leaves rdx and rdi as it likes: an access pair (struct ctx) going on
	 * after an F/D load or store is emptied (a tag no access matches). */
	x_mov_imm(c->cold, RDX, JIT_SITE_EMPTY);
	return x_jmp(c->cold, 0);
}

bool x86_fp_inline_arith(unsigned op)
{
	return (op >= OP_FADD_S && op <= OP_FDIV_S) || (op >= OP_FADD_D && op <= OP_FDIV_D);
}

void x86_emit_fp_arith(struct ctx *c, const struct jit_insn *i, unsigned idx)
{
	struct jit_buf *b = c->hot;
	unsigned op = i->f.op;
	bool d = op >= OP_FADD_D;
	unsigned kind = op - (d ? OP_FADD_D : OP_FADD_S); /* add, sub, mul, div */
	static const uint8_t sse_op[] = {0x58, 0x5c, 0x59, 0x5e};

	x86_exit_pcnext(c);
	uintptr_t rec = x86_insn_record(c, i);
	uintptr_t slow = x_here(c->cold);
	uint8_t *back = fp_cold_handler(c, i, idx, rec);

	fp_check_on(c, slow);
	if (i->f.rm == 7) {
		x_alu_mem_imm(b, false, ALU_CMP, RBX, H_FRM, 0);
		x_jcc(b, CC_NE, slow);
	}
	x_test_mem8_imm(b, RBX, H_FFLAGS, FFLAG_NX);
	x_jcc(b, CC_E, slow);
	int x1 = x86_fcached(c, i->f.rs1), x2 = x86_fcached(c, i->f.rs2);
	if (!d) { /* both operands NaN-boxed (upper 32 bits all ones), else slow */
		for (unsigned k = 0; k < 2; k++) {
			int xr = k ? x2 : x1;
			if (xr >= 0)
				x_movq_from_xmm(b, RCX, (unsigned)xr);
			else
				x_load(b, true, RCX, RBX, HF(k ? i->f.rs2 : i->f.rs1));
			x_shift_imm(b, true, SH_SHR, RCX, 32);
			x_alu_imm(b, false, ALU_CMP, RCX, -1);
			x_jcc(b, CC_NE, slow);
		}
	}
	/* xmm0 = rs1 op rs2 (the low 32 bits for single precision) */
	if (x1 >= 0)
		x_sse_rr(b, 0x66, 0x28, 0, (unsigned)x1); /* movapd */
	else if (d)
		x_sse_mem(b, 0xf3, 0x7e, 0, RBX, HF(i->f.rs1));
	else
		x_sse_mem(b, 0x66, 0x6e, 0, RBX, HF(i->f.rs1));
	if (x2 >= 0)
		x_sse_rr(b, d ? 0xf2 : 0xf3, sse_op[kind], 0, (unsigned)x2);
	else
		x_sse_mem(b, d ? 0xf2 : 0xf3, sse_op[kind], 0, RBX, HF(i->f.rs2));
	x_movq_from_xmm(b, RAX, 0);
	if (d) {
		x_mov_imm(b, RDX, 0x7fffffffffffffffull);
	} else {
		x_mov(b, false, RAX, RAX);
		x_mov_imm(b, RDX, 0x7fffffffull);
	}
	x_mov(b, true, RCX, RAX);
	x_alu(b, true, ALU_AND, RCX, RDX);
	x_mov_imm(b, RDX, d ? 0x7fefffffffffffffull : 0x7f7fffffull);
	x_alu(b, true, ALU_CMP, RCX, RDX);
	x_jcc(b, CC_AE, slow);
	if (kind >= 2) { /* mul, div: a tiny result may have underflowed */
		x_mov_imm(b, RDX, d ? 1ull << 52 : 1ull << 23);
		x_alu(b, true, ALU_CMP, RCX, RDX);
		x_jcc(b, CC_BE, slow);
	}
	if (!d) {
		x_mov_imm(b, RDX, 0xffffffff00000000ull);
		x_alu(b, true, ALU_OR, RAX, RDX);
	}
	int xd = x86_fcached(c, i->f.rd);
	if (xd >= 0 && d) {
		x_sse_rr(b, 0x66, 0x28, (unsigned)xd, 0); /* movapd: off rax's path */
		c->fdirty |= 1u << i->f.rd;
	} else if (xd >= 0) {
		x_movq_to_xmm(b, (unsigned)xd, RAX);
		c->fdirty |= 1u << i->f.rd;
	} else {
		x_store(b, true, RAX, RBX, HF(i->f.rd));
	}
	fp_set_dirty(c);
	if (!b->overflow && !c->cold->overflow)
		x_patch_rel32(c->cold, back, x_here(b));
}

/* FLD/FLW/FSD/FSW: the integer load/store path with the FP register file; FS off takes the
 * handler (which raises the illegal-instruction exception). */
void x86_emit_fp_mem(struct ctx *c, const struct jit_insn *i, unsigned idx)
{
	struct jit_buf *hot = c->hot;
	unsigned op = i->f.op;
	bool store = op == OP_FSW || op == OP_FSD;
	unsigned size = op == OP_FLW || op == OP_FSW ? 4 : 8;

	x86_exit_pcnext(c);
	uintptr_t rec = x86_insn_record(c, i);
	uintptr_t off_path = x_here(c->cold);
	uint8_t *off_back = fp_cold_handler(c, i, idx, rec);
	fp_check_on(c, off_path);
	/* FLD and FSD of a cached register go straight between memory and its xmm register. */
	int xmm = x86_fcached(c, store ? i->f.rs2 : i->f.rd);
	bool direct = size == 8 && xmm >= 0;
	if (store && xmm >= 0 && !direct)
		x_movq_from_xmm(hot, RCX, (unsigned)xmm);
	else if (store && !direct)
		x_load(hot, true, RCX, RBX, HF(i->f.rs2));
	unsigned iop = store ? (size == 8 ? OP_SD : OP_SW) : (size == 8 ? OP_LD : OP_LWU);
	unsigned r = store ? RCX : RAX;
	struct access a;
	if (!emit_check(c, i, idx, size, store, &a))
		return;
	if (direct) {
		a.xmm = xmm;
		x_op_memx(hot, store ? 0x66 : 0xf3, false,
			  store ? (const uint8_t[]){0x0f, 0xd6} : (const uint8_t[]){0x0f, 0x7e}, 2,
			  (unsigned)xmm, a.base, RDI, 0, a.disp, false);
	} else {
		emit_access(hot, iop, r, a.base, RDI, a.disp);
	}
	emit_site_miss(c, i, idx, size, store, iop, r, &a);
	if (!store && direct) {
		c->fdirty |= 1u << i->f.rd;
		fp_set_dirty(c);
	} else if (!store) {
		if (size == 4) { /* NaN-boxed (rcx: rdx may hold an access pair's tag) */
			x_mov_imm(hot, RCX, 0xffffffff00000000ull);
			x_alu(hot, true, ALU_OR, RAX, RCX);
		}
		if (x86_fcached(c, i->f.rd) >= 0) {
			x_movq_to_xmm(hot, (unsigned)x86_fcached(c, i->f.rd), RAX);
			c->fdirty |= 1u << i->f.rd;
		} else {
			x_store(hot, true, RAX, RBX, HF(i->f.rd));
		}
		fp_set_dirty(c);
	}
	if (!hot->overflow && !c->cold->overflow)
		x_patch_rel32(c->cold, off_back, x_here(hot));
}
