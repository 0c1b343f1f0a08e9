/* The x86-64 back end: translates a block of decoded RV64GC instructions into host code, and
 * the shared routines blocks enter and leave through. Inside translated code rbx holds the
 * struct hart and r15d the instructions left in the batch (h->budget, stored back around the
 * calls into C that read or change it and on leaving); the block's most used guest x registers
 * live in host registers (the rest in h->x[]; x0 reads as 0, writes to it are dropped); rax,
 * rcx, rdx and rdi are scratch.
 * The stack is 16-byte aligned with 16 bytes of scratch at [rsp], so helpers are plain C calls.
 *
 * This file: block structure (entry check, register allocation, exits, chaining stubs, loops
 * on the block itself), integer computation, branches and jumps inline, and calls to the
 * interpreter's handler for CSRs, atomics and system instructions, after writing back pc,
 * pc_next and the retired count so that traps are precise. Loads, stores and F/D are in
 * emit_mem.c. */
#include <stddef.h>

#include "cpu/exec.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "jit/x86_64/emit.h"

_Static_assert(sizeof(struct tlb_entry) == 16, "the inline TLB probe scales the index by 16");
_Static_assert(offsetof(struct tlb_set, r) == 0, "the inline TLB probe reads r at offset 0");
_Static_assert(TLB_ENTRIES >= 256 && TLB_ENTRIES <= (1 << 20),
	       "the inline TLB probe takes the index from gva bits 12 and up, scaled by 16");
_Static_assert(sizeof(struct jit_jc) == 32, "the jump-cache probe scales the index by 32");

/* The interpreter's handler of each op, for the ops translated as helper calls. */
const insn_fn x86_exec_handlers[OP_COUNT] = {
#define HANDLER_ENTRY(name) [OP_##name] = exec_##name,
    INSN_OPS(HANDLER_ENTRY)
#undef HANDLER_ENTRY
};

/* ---- pure helpers (no hart state; cannot trap) ---- */
static uint64_t h_div(uint64_t a, uint64_t b)
{
	int64_t x = (int64_t)a, y = (int64_t)b;
	return y == 0 ? ~0ull : (x == INT64_MIN && y == -1) ? a : (uint64_t)(x / y);
}
static uint64_t h_divu(uint64_t a, uint64_t b)
{
	return b == 0 ? ~0ull : a / b;
}
static uint64_t h_rem(uint64_t a, uint64_t b)
{
	int64_t x = (int64_t)a, y = (int64_t)b;
	return y == 0 ? a : (x == INT64_MIN && y == -1) ? 0 : (uint64_t)(x % y);
}
static uint64_t h_remu(uint64_t a, uint64_t b)
{
	return b == 0 ? a : a % b;
}
#define SEXT32(v) ((uint64_t)(int64_t)(int32_t)(v))
static uint64_t h_divw(uint64_t a64, uint64_t b64)
{
	int32_t a = (int32_t)a64, b = (int32_t)b64;
	return b == 0 ? ~0ull : (a == INT32_MIN && b == -1) ? SEXT32(a) : SEXT32(a / b);
}
static uint64_t h_divuw(uint64_t a64, uint64_t b64)
{
	uint32_t a = (uint32_t)a64, b = (uint32_t)b64;
	return b == 0 ? ~0ull : SEXT32(a / b);
}
static uint64_t h_remw(uint64_t a64, uint64_t b64)
{
	int32_t a = (int32_t)a64, b = (int32_t)b64;
	return b == 0 ? SEXT32(a) : (a == INT32_MIN && b == -1) ? 0 : SEXT32(a % b);
}
static uint64_t h_remuw(uint64_t a64, uint64_t b64)
{
	uint32_t a = (uint32_t)a64, b = (uint32_t)b64;
	return b == 0 ? SEXT32(a) : SEXT32(a % b);
}
static uint64_t h_mulhsu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)(int64_t)a * (__int128)(unsigned __int128)b) >> 64);
}

/* ---- trampolines ---- */
static const uint8_t saved[] = {RBX, RBP, R12, R13, R14, R15};

bool jit_be_trampolines(struct jit_buf *b, struct jit_tramp *t)
{
	t->enter = x_here(b);
	for (unsigned i = 0; i < sizeof(saved); i++)
		x_push(b, saved[i]);
	x_alu_imm(b, true, ALU_SUB, RSP, FRAME);
	x_mov(b, true, RBX, RDI);
	x_load(b, false, BUDGET, RBX, H_BUDGET);
	x_u8(b, 0xff); /* jmp rsi */
	x_modrm_reg(b, 4, RSI);

	t->exit_nolink = x_here(b);
	x_store_imm32(b, RBX, H_LINK, 0);
	t->exit_link = x_here(b);
	x_store(b, false, BUDGET, RBX, H_BUDGET);
	x_alu_imm(b, true, ALU_ADD, RSP, FRAME);
	for (unsigned i = sizeof(saved); i-- > 0;)
		x_pop(b, saved[i]);
	x_ret(b);

	/* exit_chain: rax = the exit's record. */
	t->exit_chain = x_here(b);
	x_store(b, true, RAX, RBX, H_LINK);
	x_load(b, true, RCX, RAX, (int32_t)offsetof(struct jit_exit, target));
	x_store(b, true, RCX, RBX, H_PC);
	x_jmp(b, t->exit_link);

	/* probe: rax = guest pc. h->pc = rax; look it up in the jump cache of the current
	 * privilege view; jump to the block on a hit, else leave to the dispatcher. */
	t->probe = x_here(b);
	x_store(b, true, RAX, RBX, H_PC);
	x_mov(b, false, RCX, RAX);
	x_shift_imm(b, false, SH_SHL, RCX, 4); /* ((pc >> 1) & mask) * 32 */
	x_alu_imm(b, false, ALU_AND, RCX, (JIT_JC_ENTRIES - 1) << 5);
	x_alu_mem(b, true, ALU_ADD, RCX, RBX, H_JCACHE);
	x_alu_mem(b, true, ALU_CMP, RAX, RCX, 0);
	x_jcc(b, CC_NE, t->exit_nolink);
	x_load(b, true, RDX, RBX, H_VGEN);
	x_alu_mem(b, true, ALU_CMP, RDX, RCX, 16);
	x_jcc(b, CC_NE, t->exit_nolink);
	x_jmp_mem(b, RCX, 8);
	x86_emit_site_miss_routines(b, t);
	return !b->overflow;
}

void jit_be_enter(const struct jit_tramp *t, struct hart *h, const void *code)
{
	((void (*)(struct hart *, const void *))t->enter)(h, code);
}

void jit_be_patch(uint8_t *field_rw, uint64_t field_x, uintptr_t target_x)
{
	uint32_t rel = (uint32_t)(target_x - (field_x + 4));
	memcpy(field_rw, &rel, 4);
}

bool jit_ends_block(unsigned op)
{
	switch (op) {
	case OP_JAL:
	case OP_JALR:
	case OP_ECALL:
	case OP_EBREAK:
	case OP_MRET:
	case OP_SRET:
	case OP_WFI:
	case OP_FENCE_I:
	case OP_SFENCE_VMA:
	case OP_SINVAL_VMA:
	case OP_ILLEGAL: return true;
	default: return false;
	}
}

/* ---- block emission ---- */

const uint8_t x86_cache_regs[] = {RBP, R12, R13, R14, R8, R9, R10, R11, RSI};

/* Load guest register xi into host register r (x0 reads as 0). */
void x86_get_x(struct ctx *c, struct jit_buf *b, unsigned r, unsigned xi)
{
	if (xi == 0)
		x_mov_imm(b, r, 0);
	else if (c->host[xi] >= 0)
		x_mov(b, true, r, x86_cache_regs[c->host[xi]]);
	else
		x_load(b, true, r, RBX, HX(xi));
}
/* Write host register r to guest register xi (writes to x0 are dropped). */
void x86_put_x(struct ctx *c, struct jit_buf *b, unsigned r, unsigned xi)
{
	if (xi == 0)
		return;
	if (c->host[xi] >= 0) {
		x_mov(b, true, x86_cache_regs[c->host[xi]], r);
		c->dirty |= 1u << xi;
	} else {
		x_store(b, true, r, RBX, HX(xi));
	}
}
/* alu r, xi (x0 reads as 0: the caller handles it) */
static void alu_x(struct ctx *c, struct jit_buf *b, bool w, enum x_alu_op op, unsigned r,
		  unsigned xi)
{
	if (c->host[xi] >= 0)
		x_alu(b, w, op, r, x86_cache_regs[c->host[xi]]);
	else
		x_alu_mem(b, w, op, r, RBX, HX(xi));
}
/* Store the dirty cached registers back to h->x (into b; the ctx's dirty set is kept: other
 * paths still hold them only in host registers). */
/* Store the dirty f registers (cached in xmm registers) back to h->f. */
static void writeback_f(struct ctx *c, struct jit_buf *b)
{
	for (unsigned fi = 0; fi < 32; fi++)
		if (c->fdirty & (1u << fi))
			x_movq_store_xmm(b, (unsigned)c->fhost[fi], RBX, HF(fi));
}
void x86_writeback(struct ctx *c, struct jit_buf *b)
{
	for (unsigned xi = 1; xi < 32; xi++)
		if (c->dirty & (1u << xi))
			x_store(b, true, x86_cache_regs[c->host[xi]], RBX, HX(xi));
	writeback_f(c, b);
}
/* Before a call into C: store the dirty registers x86_cached in caller-saved host registers. */
void x86_spill_volatile(struct ctx *c, struct jit_buf *b)
{
	for (unsigned xi = 1; xi < 32; xi++)
		if ((c->dirty & (1u << xi)) && c->host[xi] >= (int)NSAVED)
			x_store(b, true, x86_cache_regs[c->host[xi]], RBX, HX(xi));
	writeback_f(c, b); /* every xmm register is caller-saved */
}
/* After a call into C: reload the registers x86_cached in caller-saved host registers. */
void x86_reload_volatile(struct ctx *c, struct jit_buf *b)
{
	for (unsigned xi = 1; xi < 32; xi++)
		if (c->host[xi] >= (int)NSAVED)
			x_load(b, true, x86_cache_regs[c->host[xi]], RBX, HX(xi));
	for (unsigned fi = 0; fi < 32; fi++)
		if (c->fhost[fi] >= 0)
			x_sse_mem(b, 0xf3, 0x7e, (unsigned)c->fhost[fi], RBX, HF(fi));
}
/* The host register that receives rd's value: its cache register, else rax. */
unsigned x86_dst_reg(const struct ctx *c, unsigned rd)
{
	return rd && c->host[rd] >= 0 ? x86_cache_regs[c->host[rd]] : RAX;
}
/* rd's value is in host register r (from x86_dst_reg): note it, or store it. */
void x86_finish(struct ctx *c, unsigned r, unsigned rd)
{
	if (!rd)
		return;
	if (c->host[rd] >= 0 && x86_cache_regs[c->host[rd]] == r)
		c->dirty |= 1u << rd;
	else
		x86_put_x(c, c->hot, r, rd);
}
/* The host register caching xi, or -1. */
int x86_cached(const struct ctx *c, unsigned xi)
{
	return xi && c->host[xi] >= 0 ? x86_cache_regs[c->host[xi]] : -1;
}
int x86_fcached(const struct ctx *c, unsigned fi)
{
	return c->fhost[fi];
}

/* Subtract from the budget the instructions before index upto not yet counted. */
static void sync_budget(struct ctx *c, struct jit_buf *b, unsigned upto)
{
	if (upto > c->done)
		x_alu_imm(b, false, ALU_SUB, BUDGET, (int32_t)(upto - c->done));
}

/* Jump to the block of guest pc rax through the jump cache, inline, so that every site has
 * its own indirect jump for the branch predictor; a miss leaves through the shared probe,
 * which stores pc. known: rax is the constant target (the entry's address is fixed). */
static void emit_probe(struct ctx *c, struct jit_buf *b, bool known, uint64_t target)
{
	int32_t off = 0;
	if (known) {
		off = (int32_t)(((target >> 1) & (JIT_JC_ENTRIES - 1)) * sizeof(struct jit_jc));
		x_load(b, true, RCX, RBX, H_JCACHE);
	} else {
		x_mov(b, false, RCX, RAX);
		x_shift_imm(b, false, SH_SHL, RCX, 4); /* ((pc >> 1) & mask) * 32 */
		x_alu_imm(b, false, ALU_AND, RCX, (JIT_JC_ENTRIES - 1) << 5);
		x_alu_mem(b, true, ALU_ADD, RCX, RBX, H_JCACHE);
	}
	x_alu_mem(b, true, ALU_CMP, RAX, RCX, off);
	x_jcc(b, CC_NE, c->t->probe);
	x_load(b, true, RDX, RBX, H_VGEN);
	x_alu_mem(b, true, ALU_CMP, RDX, RCX, off + 16);
	x_jcc(b, CC_NE, c->t->probe);
	x_jmp_mem(b, RCX, off + 8);
}

/* The index of the block's instruction at guest pc, or -1. */
static int find_insn(const struct ctx *c, uint64_t pc)
{
	for (unsigned k = 0; k < c->n; k++)
		if (c->ins[k].pc == pc)
			return (int)k;
	return -1;
}

/* Whether control after instruction k does not go on to ins[k + 1]: the end of a run. */
static bool run_ends(const struct ctx *c, unsigned k)
{
	const struct jit_insn *i = &c->ins[k];
	if (k + 1 >= c->n)
		return true;
	uint64_t next = i->follow ? i->pc + (uint64_t)i->f.imm : i->pc + i->f.len;
	return c->ins[k + 1].pc != next;
}

/* Jump to instruction to of the block, with `retire` instructions not yet counted (nothing is
 * left to count at a label). A jump back may close a loop: it goes round only while the batch
 * lasts, else leaves for guest pc target from the cold buffer (at a label every register
 * the block writes counts as dirty, so going round needs no write-back). */
static void emit_jump_inside(struct ctx *c, struct jit_buf *b, unsigned to, uint64_t target,
			     unsigned retire)
{
	if (c->label[to]) {
		x_alu_imm(b, false, ALU_SUB, BUDGET, (int32_t)retire);
		x_jcc(b, CC_G, c->label[to]);
		x_jmp(b, x_here(c->cold));
		x86_writeback(c, c->cold);
		x_mov_imm(c->cold, RAX, target);
		x_store(c->cold, true, RAX, RBX, H_PC);
		x_jmp(c->cold, c->t->exit_nolink);
		return;
	}
	if (retire)
		x_alu_imm(b, false, ALU_SUB, BUDGET, (int32_t)retire);
	uint8_t *field = x_jmp(b, 0);
	if (c->nfixup < sizeof(c->fixup) / sizeof(c->fixup[0]))
		c->fixup[c->nfixup++] = (__typeof__(c->fixup[0])){field, to};
	else
		b->overflow = true;
}

/* Leave for guest pc target with `retire` instructions not yet counted: inside the block when
 * target is one of its instructions; else a jump patched later to the target's block when
 * target lies on the same page (chaining), else the jump-cache probe. Writes back the dirty
 * registers first. */
static void emit_exit(struct ctx *c, struct jit_buf *b, uint64_t target, unsigned retire)
{
	int to = find_insn(c, target);
	if (to >= 0 && c->target[to]) {
		emit_jump_inside(c, b, (unsigned)to, target, retire);
		return;
	}
	x86_writeback(c, b);
	if (retire)
		x_alu_imm(b, false, ALU_SUB, BUDGET, (int32_t)retire);
	if ((target >> 12) != c->vpage) {
		x_mov_imm(b, RAX, target);
		emit_probe(c, b, true, target);
		return;
	}
	uint8_t *field = x_jmp(b, x_here(b) + 5); /* falls through until chained */
	uint8_t *rec_field = x_lea_rip(b, RAX, 0);
	x_jmp(b, c->t->exit_chain);
	if (b->overflow)
		return;
	struct jit_exit rec = {.field_x = (uint64_t)((uintptr_t)field + (uintptr_t)b->x_delta),
			       .gpa_page = c->gpa_page,
			       .target = target};
	x_align(b, 8);
	x_patch_rel32(b, rec_field, x_here(b));
	x_bytes(b, &rec, sizeof(rec));
}

/* The cold stub that leaves with h->pc = h->pc_next after a handler trapped, ended the batch
 * or jumped. Only used where no cached register is dirty. */
uintptr_t x86_exit_pcnext(struct ctx *c)
{
	if (!c->pcnext_stub) {
		c->pcnext_stub = x_here(c->cold);
		x_load(c->cold, true, RAX, RBX, H_PC_NEXT);
		x_store(c->cold, true, RAX, RBX, H_PC);
		x_jmp(c->cold, c->t->exit_nolink);
	}
	return c->pcnext_stub;
}

/* Call the interpreter's handler for instruction i (at index idx) in b: registers, pc,
 * pc_next and the budget written back first; afterwards leave if the handler trapped, ended the
 * batch or changed pc_next. ends: leave after it in any case. cold: b is a slow path that
 * rejoins the main path, whose budget accounting it restores. */
void x86_emit_helper_in(struct ctx *c, struct jit_buf *b, const struct jit_insn *i, unsigned idx,
			bool ends, bool cold, uintptr_t rec)
{
	unsigned op = i->f.op < OP_COUNT ? i->f.op : OP_ILLEGAL;
	x86_writeback(c, b);
	unsigned done = c->done;
	sync_budget(c, b, idx);
	uint64_t next = i->pc + i->f.len;
	x_mov_imm(b, RAX, i->pc);
	x_store(b, true, RAX, RBX, H_PC);
	x_alu_imm(b, true, ALU_ADD, RAX, i->f.len);
	x_store(b, true, RAX, RBX, H_PC_NEXT);
	x_store(b, false, BUDGET, RBX, H_BUDGET);
	x_mov(b, true, RDI, RBX);
	x_lea_rip(b, RSI, rec);
	x_call(b, (const void *)x86_exec_handlers[op]);
	x_load(b, false, BUDGET, RBX, H_BUDGET);
	x_alu_imm(b, false, ALU_SUB, BUDGET, 1);
	x_jcc(b, CC_LE, x86_exit_pcnext(c));
	x_load(b, true, RAX, RBX, H_PC_NEXT);
	x_mov_imm(b, RCX, next);
	x_alu(b, true, ALU_CMP, RAX, RCX);
	x_jcc(b, CC_NE, x86_exit_pcnext(c));
	if (ends) { /* a system instruction: back to the dispatcher */
		x_store(b, true, RAX, RBX, H_PC);
		x_jmp(b, c->t->exit_nolink);
		return;
	}
	if (cold) {
		x_alu_imm(b, false, ALU_ADD, BUDGET, (int32_t)(idx + 1 - done));
	} else {
		c->dirty = 0;
		c->fdirty = 0;
		c->done = idx + 1;
		c->fp_on = c->fs_dirty = false; /* a CSR write may have changed them */
	}
	/* The handler may have written an x register (the op's rd); the call clobbered the
	 * caller-saved ones. */
	x86_reload_volatile(c, b);
	unsigned rd = i->f.rd;
	if (rd && c->host[rd] >= 0 && c->host[rd] < (int)NSAVED)
		x_load(b, true, x86_cache_regs[c->host[rd]], RBX, HX(rd));
}

/* Store the handler's compact form of instruction i in the cold buffer (data the handler
 * reads); returns its executable address. Call only between two cold stubs. */
uintptr_t x86_insn_record(struct ctx *c, const struct jit_insn *i)
{
	struct insn compact;
	exec_compact(&i->f, &compact);
	compact.fn = NULL;
	x_align(c->cold, 8);
	uintptr_t rec = x_here(c->cold);
	x_bytes(c->cold, &compact, sizeof(compact));
	return rec;
}

void x86_emit_helper(struct ctx *c, const struct jit_insn *i, unsigned idx, bool ends)
{
	uintptr_t rec = x86_insn_record(c, i);
	x86_emit_helper_in(c, c->hot, i, idx, ends, false, rec);
}

/* Call a pure helper rax = fn(x[rs1], x[rs2]). */
static void emit_pure(struct ctx *c, const struct jit_insn *i, uint64_t (*fn)(uint64_t, uint64_t))
{
	x86_spill_volatile(c, c->hot); /* first: rsi caches a register too */
	x86_get_x(c, c->hot, RDI, i->f.rs1);
	x86_get_x(c, c->hot, RSI, i->f.rs2);
	x_call(c->hot, (const void *)fn);
	x86_reload_volatile(c, c->hot);
}

/* Choose the host register for a result computed from rs1 (and rs2 unless imm): rd's cache
 * register unless it holds rs2 (which the first move would destroy), else rax. Moves rs1
 * into it. */
static unsigned start_op(struct ctx *c, const struct jit_insn *i, bool uses_rs2)
{
	unsigned d = x86_dst_reg(c, i->f.rd);
	if (uses_rs2 && i->f.rd == i->f.rs2 && i->f.rs1 != i->f.rs2)
		d = RAX;
	if (x86_cached(c, i->f.rs1) != (int)d || !i->f.rs1)
		x86_get_x(c, c->hot, d, i->f.rs1);
	return d;
}

/* W instructions emitted inline: they read only the low 32 bits of their sources and write a
 * sign-extended 32-bit result (unprivileged spec 4.2). */
static bool is_inline_w(unsigned op)
{
	switch (op) {
	case OP_ADDW:
	case OP_SUBW:
	case OP_SLLW:
	case OP_SRLW:
	case OP_SRAW:
	case OP_ADDIW:
	case OP_SLLIW:
	case OP_SRLIW:
	case OP_SRAIW:
	case OP_MULW: return true;
	default: return false;
	}
}

/* Integer instructions emitted inline that cannot trap, branch or call out. */
static bool is_plain_alu(unsigned op)
{
	switch (op) {
	case OP_LUI:
	case OP_AUIPC:
	case OP_ADDI:
	case OP_SLTI:
	case OP_SLTIU:
	case OP_XORI:
	case OP_ORI:
	case OP_ANDI:
	case OP_SLLI:
	case OP_SRLI:
	case OP_SRAI:
	case OP_ADD:
	case OP_SUB:
	case OP_SLL:
	case OP_SLT:
	case OP_SLTU:
	case OP_XOR:
	case OP_SRL:
	case OP_SRA:
	case OP_OR:
	case OP_AND:
	case OP_MUL: return true;
	default: return is_inline_w(op);
	}
}

/* Whether W instruction idx may leave its result in rd without the sign extension: a later W
 * instruction overwrites rd after reading only its low 32 bits, and nothing in between (plain
 * ALU instructions not touching rd) can observe the upper half, leave the block or trap. */
static bool sext_dead(const struct ctx *c, unsigned idx, unsigned rd)
{
	for (unsigned k = idx + 1; !run_ends(c, k - 1); k++) {
		const struct insn_fields *f = &c->ins[k].f;
		if (!is_plain_alu(f->op))
			return false;
		bool reads1 = f->op != OP_LUI && f->op != OP_AUIPC;
		bool reads2 = f->op >= OP_ADD && f->op <= OP_AND;
		reads2 |= f->op == OP_ADDW || f->op == OP_SUBW || f->op == OP_SLLW ||
			  f->op == OP_SRLW || f->op == OP_SRAW || f->op == OP_MUL ||
			  f->op == OP_MULW;
		bool reads = (reads1 && f->rs1 == rd) || (reads2 && f->rs2 == rd);
		if (reads)
			return is_inline_w(f->op) && f->rd == rd;
		if (f->rd == rd)
			return true; /* overwritten unread */
	}
	return false;
}

/* After instruction i: whether its rd now holds a sign-extended 32-bit value (bits 63..31
 * equal) in the block's copy, from what each op leaves (c->sext: the W op sign-extended). */
static void note_sext(struct ctx *c, const struct jit_insn *i)
{
	const struct insn_fields *f = &i->f;
	unsigned op = f->op;
	if (!f->rd || (op >= OP_BEQ && op <= OP_BGEU) || (op >= OP_SB && op <= OP_SD))
		return;
	bool s1 = (c->sx >> f->rs1) & 1, s2 = (c->sx >> f->rs2) & 1, known;
	switch (op) {
	case OP_LUI:
	case OP_LB:
	case OP_LH:
	case OP_LW:
	case OP_LBU:
	case OP_LHU:
	case OP_SLT:
	case OP_SLTU:
	case OP_SLTI:
	case OP_SLTIU: known = true; break;
	case OP_AND:
	case OP_OR:
	case OP_XOR: known = s1 && s2; break;
	case OP_ANDI: known = s1 || f->imm >= 0; break;
	case OP_ORI:
	case OP_XORI: known = s1; break; /* the immediate is sign-extended from 12 bits */
	case OP_SRLI: known = (f->imm & 63) >= 33; break;
	case OP_SRLIW: known = (f->imm & 31) || c->sext; break; /* bit 31 clear, zero-extended */
	case OP_SRAI: known = (f->imm & 63) >= 32; break;
	case OP_DIVW:
	case OP_DIVUW:
	case OP_REMW:
	case OP_REMUW: known = true; break;
	default: known = is_inline_w(op) && c->sext; break;
	}
	c->sx = known ? c->sx | 1u << f->rd : c->sx & ~(1u << f->rd);
}

/* d = x[rs1] OP (x[rs2] or imm); w: 32-bit operation, result sign-extended. Returns d. */
static unsigned emit_alu(struct ctx *c, const struct jit_insn *i, enum x_alu_op op, bool imm,
			 bool w)
{
	struct jit_buf *b = c->hot;
	if (imm && w && i->f.imm == 0 && ((c->sx >> i->f.rs1) & 1)) { /* sext.w of one already */
		unsigned d = x86_dst_reg(c, i->f.rd);
		if (x86_cached(c, i->f.rs1) != (int)d || !i->f.rs1)
			x86_get_x(c, b, d, i->f.rs1);
		return d;
	}
	if (imm && w && i->f.imm == 0) { /* sext.w */
		unsigned d = x86_dst_reg(c, i->f.rd);
		int s1 = x86_cached(c, i->f.rs1);
		if (s1 < 0) {
			x86_get_x(c, b, d, i->f.rs1);
			s1 = (int)d;
		}
		x_movsxd(b, d, (unsigned)s1);
		return d;
	}
	if (!w && (op == ALU_ADD || op == ALU_OR || op == ALU_XOR)) {
		unsigned d = x86_dst_reg(c, i->f.rd);
		if (!imm && !i->f.rs1) { /* mv (c.mv is add rd, x0, rs2) */
			x86_get_x(c, b, d, i->f.rs2);
			return d;
		}
		int s1 = x86_cached(c, i->f.rs1);
		if (imm && op == ALU_ADD && s1 >= 0 && s1 != (int)d) { /* three-operand addi */
			x_lea(b, d, (unsigned)s1, (int32_t)i->f.imm);
			return d;
		}
	}
	unsigned d = start_op(c, i, !imm);
	if (imm) {
		if (i->f.imm || w || op == ALU_AND) /* and with 0 clears; the others keep */
			x_alu_imm(b, !w, op, d, (int32_t)i->f.imm);
	} else if (i->f.rs2) {
		alu_x(c, b, !w, op, d, i->f.rs2);
	} else if (op == ALU_AND) {
		x_mov_imm(b, d, 0);
	} else if (w) {
		x_mov(b, false, d, d); /* op with 0 keeps the value: truncate */
	}
	if (w && c->sext)
		x_movsxd(b, d, d);
	return d;
}

/* d = x[rs1] shifted by imm or by x[rs2]. Returns d. */
static unsigned emit_shift(struct ctx *c, const struct jit_insn *i, enum x_shift_op op, bool imm,
			   bool w)
{
	struct jit_buf *b = c->hot;
	if (!imm)
		x86_get_x(c, b, RCX, i->f.rs2);
	unsigned d = start_op(c, i, false);
	if (imm)
		x_shift_imm(b, !w, op, d, (unsigned)i->f.imm & (w ? 31 : 63));
	else
		x_shift_cl(b, !w, op, d);
	if (w && c->sext)
		x_movsxd(b, d, d);
	return d;
}

/* rax = (x[rs1] cc x[rs2] or imm) ? 1 : 0 */
static unsigned emit_set(struct ctx *c, const struct jit_insn *i, enum x_cc cc, bool imm)
{
	struct jit_buf *b = c->hot;
	x_mov_imm(b, RCX, 0);
	x86_get_x(c, b, RAX, i->f.rs1);
	if (imm)
		x_alu_imm(b, true, ALU_CMP, RAX, (int32_t)i->f.imm);
	else if (i->f.rs2)
		alu_x(c, b, true, ALU_CMP, RAX, i->f.rs2);
	else
		x_test(b, true, RAX, RAX);
	x_setcc(b, cc, RCX);
	x_mov(b, true, RAX, RCX);
	return RAX;
}

static enum x_cc branch_cc(unsigned op)
{
	switch (op) {
	case OP_BEQ: return CC_E;
	case OP_BNE: return CC_NE;
	case OP_BLT: return CC_L;
	case OP_BGE: return CC_GE;
	case OP_BLTU: return CC_B;
	default: return CC_AE;
	}
}

/* A conditional branch: the taken exit in the cold buffer; except that a branch to an
 * instruction of the block jumps there on the main path (jumped over when not taken). */
static void emit_branch(struct ctx *c, const struct jit_insn *i, unsigned idx)
{
	struct jit_buf *b = c->hot;
	uint64_t target = i->pc + (uint64_t)i->f.imm;
	enum x_cc cc = branch_cc(i->f.op);
	int a = x86_cached(c, i->f.rs1), r2 = x86_cached(c, i->f.rs2);
	if (a < 0 && i->f.rs1 && r2 >= 0) { /* cmp x[rs2], [x[rs1]]: the condition swapped */
		static const enum x_cc swapped[] = {
		    [CC_E] = CC_E,   [CC_NE] = CC_NE, [CC_L] = CC_G,
		    [CC_GE] = CC_LE, [CC_B] = CC_A,   [CC_AE] = CC_BE};
		x_alu_mem(b, true, ALU_CMP, (unsigned)r2, RBX, HX(i->f.rs1));
		cc = swapped[cc];
	} else {
		if (a < 0) {
			x86_get_x(c, b, RAX, i->f.rs1);
			a = RAX;
		}
		if (i->f.rs2)
			alu_x(c, b, true, ALU_CMP, (unsigned)a, i->f.rs2);
		else
			x_test(b, true, (unsigned)a, (unsigned)a);
	}
	int to = find_insn(c, target);
	if (to >= 0 && c->target[to]) {
		uint8_t *over = x_jcc(b, cc ^ 1, 0);
		emit_jump_inside(c, b, (unsigned)to, target, idx + 1 - c->done);
		if (!b->overflow)
			x_patch_rel32(b, over, x_here(b));
		return;
	}
	x_jcc(b, cc, x_here(c->cold));
	emit_exit(c, c->cold, target, idx + 1 - c->done);
}

/* slli rd, rs, 1..3 followed by add rd, rd, rb (or rb, rd), rb != rd, on the same path and
 * not a jump target: one lea rd, [rb + rs << k] (the array indexing of code without Zba).
 * Returns whether it emitted both; c->fused notes the add. */
static bool emit_shift_add(struct ctx *c, const struct jit_insn *i, unsigned idx)
{
	if (i->f.op != OP_SLLI || !i->f.rd || i->f.imm < 1 || i->f.imm > 3 || run_ends(c, idx) ||
	    c->target[idx + 1] || c->inject_op == OP_ADD || c->inject_op == OP_SLLI)
		return false;
	const struct insn_fields *a = &c->ins[idx + 1].f;
	unsigned rd = i->f.rd;
	if (a->op != OP_ADD || a->rd != rd || (a->rs1 == rd) == (a->rs2 == rd))
		return false;
	unsigned rb = a->rs1 == rd ? a->rs2 : a->rs1;
	int base = x86_cached(c, rb), index = x86_cached(c, i->f.rs1);
	if (base < 0 || index < 0 || index == RSP)
		return false;
	unsigned d = x86_dst_reg(c, rd);
	x_op_memx(c->hot, 0, true, (const uint8_t[]){0x8d}, 1, d, (unsigned)base, (unsigned)index,
		  (unsigned)i->f.imm, 0, false);
	x86_finish(c, d, rd);
	c->fused = idx + 1;
	return true;
}

bool x86_keeps_pair(unsigned op)
{
	switch (op) {
	case OP_LB:
	case OP_LH:
	case OP_LW:
	case OP_LD:
	case OP_LBU:
	case OP_LHU:
	case OP_LWU:
	case OP_SB:
	case OP_SH:
	case OP_SW:
	case OP_SD:
	case OP_BEQ:
	case OP_BNE:
	case OP_BLT:
	case OP_BGE:
	case OP_BLTU:
	case OP_BGEU:
	case OP_JAL:
	case OP_FENCE:
	case OP_FLW:
	case OP_FSW:
	case OP_FLD:
	case OP_FSD: return true;
	default: return is_plain_alu(op) || is_inline_w(op);
	}
}

bool x86_writes_rd(unsigned op)
{
	return !(op >= OP_SB && op <= OP_SD) && !(op >= OP_BEQ && op <= OP_BGEU) &&
	       op != OP_FENCE && op != OP_FLW && op != OP_FSW && op != OP_FLD && op != OP_FSD;
}

/* Emit instruction i (index idx); returns false when it left the block for good. */
static bool emit_insn(struct ctx *c, const struct jit_insn *i, unsigned idx)
{
	struct jit_buf *b = c->hot;
	const struct insn_fields *f = &i->f;
	unsigned op = f->op;
	bool value = true; /* r holds a value for rd */
	unsigned r = RAX;
	c->sext = !is_inline_w(op) || !f->rd || !sext_dead(c, idx, f->rd);
	if (op == OP_SRLIW && (f->imm & 31)) /* the result's bit 31 is clear */
		c->sext = false;
	if (emit_shift_add(c, i, idx))
		return true;

	switch (op) {
	case OP_LUI:
		r = x86_dst_reg(c, f->rd);
		x_mov_imm(b, r, (uint64_t)f->imm);
		break;
	case OP_AUIPC:
		r = x86_dst_reg(c, f->rd);
		x_mov_imm(b, r, i->pc + (uint64_t)f->imm);
		break;
	case OP_JAL:
		if (f->rd) {
			x_mov_imm(b, RAX, i->pc + f->len);
			x86_put_x(c, b, RAX, f->rd);
		}
		if (i->follow)
			return true;
		emit_exit(c, b, i->pc + (uint64_t)f->imm, idx + 1 - c->done);
		return false;
	case OP_JALR:
		x86_get_x(c, b, RAX, f->rs1);
		if (f->imm)
			x_lea(b, RAX, RAX, (int32_t)f->imm);
		x_alu_imm(b, true, ALU_AND, RAX, -2);
		if (f->rd) {
			x_mov_imm(b, RCX, i->pc + f->len);
			x86_put_x(c, b, RCX, f->rd);
		}
		x86_writeback(c, b);
		sync_budget(c, b, idx + 1);
		emit_probe(c, b, false, 0);
		return false;
	case OP_BEQ:
	case OP_BNE:
	case OP_BLT:
	case OP_BGE:
	case OP_BLTU:
	case OP_BGEU: emit_branch(c, i, idx); return true;
	case OP_LB:
	case OP_LH:
	case OP_LW:
	case OP_LD:
	case OP_LBU:
	case OP_LHU:
	case OP_LWU: x86_emit_load(c, i, idx); return true;
	case OP_SB:
	case OP_SH:
	case OP_SW:
	case OP_SD: x86_emit_store(c, i, idx); return true;
	case OP_ADDI: r = emit_alu(c, i, ALU_ADD, true, false); break;
	case OP_XORI: r = emit_alu(c, i, ALU_XOR, true, false); break;
	case OP_ORI: r = emit_alu(c, i, ALU_OR, true, false); break;
	case OP_ANDI: r = emit_alu(c, i, ALU_AND, true, false); break;
	case OP_ADDIW: r = emit_alu(c, i, ALU_ADD, true, true); break;
	case OP_ADD: r = emit_alu(c, i, ALU_ADD, false, false); break;
	case OP_SUB: r = emit_alu(c, i, ALU_SUB, false, false); break;
	case OP_XOR: r = emit_alu(c, i, ALU_XOR, false, false); break;
	case OP_OR: r = emit_alu(c, i, ALU_OR, false, false); break;
	case OP_AND: r = emit_alu(c, i, ALU_AND, false, false); break;
	case OP_ADDW: r = emit_alu(c, i, ALU_ADD, false, true); break;
	case OP_SUBW: r = emit_alu(c, i, ALU_SUB, false, true); break;
	case OP_SLTI: r = emit_set(c, i, CC_L, true); break;
	case OP_SLTIU: r = emit_set(c, i, CC_B, true); break;
	case OP_SLT: r = emit_set(c, i, CC_L, false); break;
	case OP_SLTU: r = emit_set(c, i, CC_B, false); break;
	case OP_SLLI: r = emit_shift(c, i, SH_SHL, true, false); break;
	case OP_SRLI: r = emit_shift(c, i, SH_SHR, true, false); break;
	case OP_SRAI: r = emit_shift(c, i, SH_SAR, true, false); break;
	case OP_SLLIW: r = emit_shift(c, i, SH_SHL, true, true); break;
	case OP_SRLIW: r = emit_shift(c, i, SH_SHR, true, true); break;
	case OP_SRAIW: r = emit_shift(c, i, SH_SAR, true, true); break;
	case OP_SLL: r = emit_shift(c, i, SH_SHL, false, false); break;
	case OP_SRL: r = emit_shift(c, i, SH_SHR, false, false); break;
	case OP_SRA: r = emit_shift(c, i, SH_SAR, false, false); break;
	case OP_SLLW: r = emit_shift(c, i, SH_SHL, false, true); break;
	case OP_SRLW: r = emit_shift(c, i, SH_SHR, false, true); break;
	case OP_SRAW: r = emit_shift(c, i, SH_SAR, false, true); break;
	case OP_MUL:
	case OP_MULW: {
		int s2 = x86_cached(c, f->rs2);
		if (s2 < 0) {
			x86_get_x(c, b, RCX, f->rs2);
			s2 = RCX;
		}
		r = start_op(c, i, true);
		x_imul(b, op == OP_MUL, r, (unsigned)s2);
		if (op == OP_MULW && c->sext)
			x_movsxd(b, r, r);
		break;
	}
	case OP_MULH:
	case OP_MULHU:
		x86_get_x(c, b, RAX, f->rs1);
		x86_get_x(c, b, RCX, f->rs2);
		x_f7(b, true, op == OP_MULH ? 5 : 4, RCX);
		x_mov(b, true, RAX, RDX);
		break;
	case OP_MULHSU: emit_pure(c, i, h_mulhsu); break;
	case OP_DIV: emit_pure(c, i, h_div); break;
	case OP_DIVU: emit_pure(c, i, h_divu); break;
	case OP_REM: emit_pure(c, i, h_rem); break;
	case OP_REMU: emit_pure(c, i, h_remu); break;
	case OP_DIVW: emit_pure(c, i, h_divw); break;
	case OP_DIVUW: emit_pure(c, i, h_divuw); break;
	case OP_REMW: emit_pure(c, i, h_remw); break;
	case OP_REMUW: emit_pure(c, i, h_remuw); break;
	case OP_FENCE:
		x_mfence(b);
		value = false;
		break;
	case OP_FLW:
	case OP_FSW:
	case OP_FLD:
	case OP_FSD: x86_emit_fp_mem(c, i, idx); return true;
	default:
		if (op >= OP_ADD_UW && x86_bitmanip_inline(op)) {
			r = x86_emit_bitmanip(c, i);
			break;
		}
		if (x86_fp_inline_arith(op) && (f->rm == 0 || f->rm == 7)) { /* RNE or DYN */
			x86_emit_fp_arith(c, i, idx);
			return true;
		}
		if (op >= OP_FMADD_S && op <= OP_FCLASS_D && op != OP_FLD && op != OP_FSD) {
			x86_emit_fp(c, i, idx);
			return true;
		}
		x86_emit_helper(c, i, idx, jit_ends_block(op));
		return !jit_ends_block(op);
	}
	if (value && f->rd) {
		if (op == c->inject_op)
			x_alu_imm(b, true, ALU_ADD, r, 1);
		x86_finish(c, r, f->rd);
	}
	return true;
}

/* Ops that read or write x registers through h->x (handlers), where caching gains little. */
static bool is_native(unsigned op)
{
	return op < OP_FENCE || (op >= OP_MUL && op <= OP_REMUW) ||
	       (op >= OP_ADD_UW && x86_bitmanip_inline(op));
}

/* Note instruction `to` as the target of a jump inside the block from instruction from; a
 * jump back (a loop) makes the instructions from `to` to `from` one loop deeper. */
static void note_target(struct ctx *c, unsigned from, int to, uint8_t *depth)
{
	if (to < 0)
		return;
	c->target[to] = true;
	for (unsigned k = (unsigned)to; k <= from; k++)
		depth[k]++;
}

/* Find the jumps inside the block: sets target[], and depth[k], how many loops inside the
 * block instruction k lies in (by the instructions' order in the block). */
static void find_targets(struct ctx *c, uint8_t *depth)
{
	for (unsigned k = 0; k < c->n; k++) {
		const struct jit_insn *i = &c->ins[k];
		unsigned op = i->f.op;
		if ((op >= OP_BEQ && op <= OP_BGEU) || (op == OP_JAL && !i->follow))
			note_target(c, k, find_insn(c, i->pc + (uint64_t)i->f.imm), depth);
		if (run_ends(c, k) && !jit_ends_block(op))
			note_target(c, k, find_insn(c, i->pc + i->f.len), depth);
	}
}

/* Choose the guest registers to keep in host registers: the most used ones of the block
 * (at least twice; a use counts four times for each loop around it), and load them all.
 * Notes those the block writes (wset): every one is taken as dirty at a label, where paths
 * meet that may have written it or not. */
static void allocate(struct ctx *c, const struct jit_insn *ins, unsigned n)
{
	uint8_t depth[JIT_MAX_INSNS] = {0};
	find_targets(c, depth);
	bool loops = false;
	for (unsigned k = 0; k < n; k++)
		loops |= depth[k] > 0;
	unsigned uses[32] = {0}, fuses[32] = {0};
	uint32_t written = 0, live_in = 0, fwritten = 0;
	for (unsigned k = 0; k < n; k++) {
		const struct insn_fields *f = &ins[k].f;
		unsigned weight = 1u << 2 * (depth[k] < 3 ? depth[k] : 3); /* runs more often */
		bool fload = f->op == OP_FLW || f->op == OP_FLD;
		bool fstore = f->op == OP_FSW || f->op == OP_FSD;
		bool farith = x86_fp_inline_arith(f->op) && (f->rm == 0 || f->rm == 7);
		if (fload || fstore) {
			uses[f->rs1] += f->rs1 ? weight : 0;
			fuses[fload ? f->rd : f->rs2] += weight;
			fwritten |= fload ? 1u << f->rd : 0;
		} else if (farith) {
			fuses[f->rs1] += weight;
			fuses[f->rs2] += weight;
			fuses[f->rd] += weight;
			fwritten |= 1u << f->rd;
		}
		if (!is_native(f->op))
			continue;
		unsigned rs1 = f->rs1, rs2 = f->rs2, rd = f->rd;
		bool reads2 = f->op >= OP_BEQ && f->op <= OP_BGEU;
		reads2 |=
		    (f->op >= OP_SB && f->op <= OP_SD) || (f->op >= OP_ADD && f->op <= OP_AND);
		reads2 |= (f->op >= OP_ADDW && f->op <= OP_SRAW) ||
			  (f->op >= OP_MUL && f->op <= OP_REMUW) || x86_bitmanip_reads_rs2(f->op);
		bool reads1 = f->op != OP_LUI && f->op != OP_AUIPC && f->op != OP_JAL;
		if (reads1 && rs1) {
			uses[rs1] += weight;
			if (!(written & (1u << rs1)))
				live_in |= 1u << rs1;
		}
		if (reads2 && rs2) {
			uses[rs2] += weight;
			if (!(written & (1u << rs2)))
				live_in |= 1u << rs2;
		}
		bool writes =
		    !(f->op >= OP_BEQ && f->op <= OP_BGEU) && !(f->op >= OP_SB && f->op <= OP_SD);
		if (writes && rd) {
			uses[rd] += weight;
			written |= 1u << rd;
		}
	}
	memset(c->host, -1, sizeof(c->host));
	for (unsigned slot = 0; slot < NCACHE; slot++) {
		unsigned best = 0;
		for (unsigned xi = 1; xi < 32; xi++)
			if (c->host[xi] < 0 && uses[xi] > uses[best])
				best = xi;
		/* In a loop every use repeats, so one is enough; else a register must be used
		 * twice to repay its load. */
		if (uses[best] < (loops ? 1u : 2u))
			break;
		c->host[best] = (int8_t)slot;
		/* Loaded even when written first: the trap stub stores every one back. */
		x_load(c->hot, true, x86_cache_regs[slot], RBX, HX(best));
		(void)live_in;
		if (written & (1u << best))
			c->wset |= 1u << best;
	}
	memset(c->fhost, -1, sizeof(c->fhost));
	for (unsigned xmm = 1; xmm < 16; xmm++) { /* xmm0 is scratch */
		int pick = -1;
		for (unsigned fi = 0; fi < 32; fi++)
			if (c->fhost[fi] < 0 && (pick < 0 || fuses[fi] > fuses[pick]))
				pick = (int)fi;
		unsigned best = (unsigned)pick;
		if (fuses[best] < (loops ? 1u : 2u))
			break;
		c->fhost[best] = (int8_t)xmm;
		x_sse_mem(c->hot, 0xf3, 0x7e, xmm, RBX, HF(best)); /* movq xmm, f[best] */
		if (fwritten & (1u << best))
			c->fwset |= 1u << best;
	}
}

uintptr_t jit_be_block(struct jit_buf *hot, struct jit_buf *cold, struct jit_site_pool *sites,
		       const struct jit_tramp *t, const struct jit_insn *ins, unsigned n,
		       uint64_t gpa_page, unsigned inject_op)
{
	struct ctx c = {.hot = hot,
			.cold = cold,
			.sites = sites,
			.t = t,
			.vpage = ins[0].pc >> 12,
			.gpa_page = gpa_page,
			.inject_op = inject_op,
			.fused = ~0u,
			.sx = 1,
			.pair_rs1 = -1};
	uintptr_t entry = x_here(hot);

	/* Entry: leave at once when the batch is spent (interrupts, other harts' requests). */
	x_test(hot, false, BUDGET, BUDGET);
	x_jcc(hot, CC_LE, x_here(cold));
	x_mov_imm(cold, RAX, ins[0].pc);
	x_store(cold, true, RAX, RBX, H_PC);
	x_jmp(cold, t->exit_nolink);

	c.ins = ins;
	c.n = n;
	allocate(&c, ins, n);
	bool open = true;
	for (unsigned k = 0; k < n; k++) {
		if (c.target[k]) { /* a label: count what came before; paths meet */
			if (open)
				sync_budget(&c, hot, k);
			c.done = k;
			c.label[k] = x_here(hot);
			c.sx = 1;
			c.dirty = c.wset;
			c.fdirty = c.fwset;
			c.fp_on = c.fs_dirty = false;
			c.pair_rs1 = -1;
		}
		unsigned op = ins[k].f.op;
		if (!x86_keeps_pair(op))
			c.pair_rs1 = -1;
		if (c.fused != k)
			open = emit_insn(&c, &ins[k], k);
		if (!x86_keeps_pair(op) || (x86_writes_rd(op) && (int)ins[k].f.rd == c.pair_rs1))
			c.pair_rs1 = -1;
		note_sext(&c, &ins[k]);
		if (!run_ends(&c, k))
			continue;
		if (open) /* falls out of the run: to its next instruction, in the block or not */
			emit_exit(&c, hot, ins[k].pc + ins[k].f.len, k + 1 - c.done);
		open = false;
		c.done = k + 1;
		c.pair_rs1 = -1;
	}
	for (unsigned k = 0; k < c.nfixup && !hot->overflow; k++)
		x_patch_rel32(hot, c.fixup[k].field, c.label[c.fixup[k].to]);
	return hot->overflow || cold->overflow ? 0 : entry;
}
