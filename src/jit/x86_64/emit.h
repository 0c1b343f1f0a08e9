/* What the x86-64 back end's parts share: emit.c (block structure, registers, exits, handler
 * calls, integer instructions), emit_mem.c (loads and stores with their sites' copies of TLB
 * entries, F and D) and emit_bitmanip.c (Zba, Zbb, Zbs, Zicond, Zimop). Private to
 * src/jit/x86_64/. */
#ifndef RVISOR_JIT_X86_64_EMIT_H
#define RVISOR_JIT_X86_64_EMIT_H

#include <stddef.h>

#include "cpu/hart.h"
#include "jit/x86_64/asm.h"

/* Offsets into struct hart of what translated code reads and writes through rbx. */
#define HX(i)     ((int32_t)(offsetof(struct hart, x) + 8 * (unsigned)(i)))
#define H_PC      ((int32_t)offsetof(struct hart, pc))
#define H_PC_NEXT ((int32_t)offsetof(struct hart, pc_next))
#define H_BUDGET  ((int32_t)offsetof(struct hart, budget))
#define H_DTLB    ((int32_t)offsetof(struct hart, dtlb))
#define H_JCACHE  ((int32_t)offsetof(struct hart, jit_jcache))
#define H_LINK    ((int32_t)offsetof(struct hart, jit_link))
#define H_FS_OFF  ((int32_t)offsetof(struct hart, fs_off))
#define H_FRM     ((int32_t)offsetof(struct hart, frm))
#define H_FFLAGS  ((int32_t)offsetof(struct hart, fflags))
#define H_MSTATUS ((int32_t)offsetof(struct hart, mstatus))
#define HF(i)     ((int32_t)(offsetof(struct hart, f) + 8 * (unsigned)(i)))
#define TLB_W_OFF ((int32_t)offsetof(struct tlb_set, w))
#define FRAME     24 /* bytes below the saved registers: 16 of scratch, 8 to align */

#define H_VGEN     ((int32_t)offsetof(struct hart, jit_vgen))
#define H_SITE_LOG ((int32_t)offsetof(struct hart, jit_site_log))
#define H_SITE_N   ((int32_t)offsetof(struct hart, jit_site_n))

/* Host registers that hold guest x registers within a block; written back to h->x before
 * handlers that read or write h->x and at every exit. The first NSAVED are callee-saved and
 * survive calls into C; the others (r8-r11, rsi) are stored before such calls (when dirty)
 * and reloaded after them, and rsi is saved around the site-miss routines, which use it. */
extern const uint8_t x86_cache_regs[9];
#define NCACHE 9
#define NSAVED 4
/* The host register holding h->budget (32 bits) inside translated code. */
#define BUDGET R15

struct ctx {
	struct jit_buf *hot, *cold;
	struct jit_site_pool *sites; /* where each load and store takes its site */
	const struct jit_tramp *t;
	uint64_t vpage;        /* guest-virtual page of the block */
	uint64_t gpa_page;     /* its guest-physical page */
	unsigned done;         /* instructions before index done are subtracted from the budget */
	uintptr_t pcnext_stub; /* cold stub: leave with pc = pc_next (0 until emitted) */
	uintptr_t trap_exit;   /* cold stub: a load or store trapped (0 until emitted) */
	unsigned inject_op;
	int8_t host[32]; /* guest x register -> index in x86_cache_regs, or -1 */
	uint32_t dirty;  /* guest registers whose cached value is newer than h->x */
	uint32_t wset;   /* the cached guest registers the block writes */
	/* The same for f registers, cached in xmm1-xmm15 (fhost: the xmm number, or -1): those
	 * the inline F/D loads, stores and arithmetic use. All xmm registers are caller-saved:
	 * the dirty ones are stored before any call into C and all are reloaded after it. */
	int8_t fhost[32];
	uint32_t fdirty, fwset;
	const struct jit_insn *ins; /* the block's instructions, n of them */
	unsigned n;
	bool sext;      /* the W instruction being emitted must sign-extend its result */
	unsigned fused; /* an instruction emitted with the one before it (~0u: none) */
	uint32_t sx;    /* guest registers known to hold a sign-extended 32-bit value here */
	/* Loads and stores through one base register (emit_mem.c): while pair_rs1 >= 0, rdx holds
	 * a site's tag (a guest-virtual page) and rdi its addend, valid for reads (and writes when
	 * pair_w), left by the last load or store through x[pair_rs1]; no instruction since wrote
	 * that register. A label and every instruction that may use rdx or rdi end it
	 * (x86_keeps_pair). */
	int pair_rs1;
	bool pair_w;
	/* On this path since the last label or handler call: mstatus.FS was checked on, or set
	 * to Dirty (both stay so until a CSR write or a trap). */
	bool fp_on, fs_dirty;
	/* Jumps inside the block: target[k] when a branch, jump or fall-through of the block goes
	 * to ins[k]; its executable address once emitted (label, else 0), where nothing is left
	 * to subtract from the budget; the rel32 fields of forward jumps to patch. */
	bool target[JIT_MAX_INSNS];
	uintptr_t label[JIT_MAX_INSNS];
	struct {
		uint8_t *field;
		unsigned to;
	} fixup[2 * JIT_MAX_INSNS];
	unsigned nfixup;
};

/* The interpreter's handler of each op (enum insn_op), for ops translated as calls. */
extern const insn_fn x86_exec_handlers[OP_COUNT];

/* The translation state of one block (struct ctx) is threaded through all of these. */

/* Guest register xi into host register r (x0 reads as 0); r into xi (writes to x0 dropped). */
void x86_get_x(struct ctx *c, struct jit_buf *b, unsigned r, unsigned xi);
void x86_put_x(struct ctx *c, struct jit_buf *b, unsigned r, unsigned xi);
/* Store the dirty cached registers back to h->x and h->f (the dirty sets are kept). */
void x86_writeback(struct ctx *c, struct jit_buf *b);
/* Around calls into C: store the dirty registers cached in caller-saved host registers (the
 * f registers among them); reload all of those after the call. */
void x86_spill_volatile(struct ctx *c, struct jit_buf *b);
void x86_reload_volatile(struct ctx *c, struct jit_buf *b);
/* The host register that receives rd's value (its cache register, else rax), and noting that
 * rd's value is now in host register r. */
unsigned x86_dst_reg(const struct ctx *c, unsigned rd);
void x86_finish(struct ctx *c, unsigned r, unsigned rd);
/* The host register caching guest register xi, or -1; the xmm register caching f register
 * fi, or -1. */
int x86_cached(const struct ctx *c, unsigned xi);
int x86_fcached(const struct ctx *c, unsigned fi);
/* The block's cold stub that leaves with h->pc = h->pc_next (emitted on first use). */
uintptr_t x86_exit_pcnext(struct ctx *c);
/* The handler's compact form of instruction i, stored in the cold buffer; its address. */
uintptr_t x86_insn_record(struct ctx *c, const struct jit_insn *i);
/* A call to the interpreter's handler of instruction i (index idx in the block) with pc,
 * pc_next and the budget written back, leaving on a trap, a batch end or a jump; into b (the
 * main path, or with cold a slow path that rejoins it); rec from x86_insn_record. ends: leave
 * after it in any case. */
void x86_emit_helper_in(struct ctx *c, struct jit_buf *b, const struct jit_insn *i, unsigned idx,
			bool ends, bool cold, uintptr_t rec);
void x86_emit_helper(struct ctx *c, const struct jit_insn *i, unsigned idx, bool ends);

/* Whether op's translation leaves rdx and rdi alone (and so an access pair, struct ctx). */
bool x86_keeps_pair(unsigned op);
/* Whether op writes x[rd] (among the ops x86_keeps_pair accepts). */
bool x86_writes_rd(unsigned op);

/* emit_mem.c: integer loads and stores; F/D loads, stores and computational instructions
 * (x86_fp_inline_arith: those done inline when the rounding mode allows). */
void x86_emit_load(struct ctx *c, const struct jit_insn *i, unsigned idx);
void x86_emit_store(struct ctx *c, const struct jit_insn *i, unsigned idx);
void x86_emit_fp(struct ctx *c, const struct jit_insn *i, unsigned idx);
bool x86_fp_inline_arith(unsigned op);
void x86_emit_fp_arith(struct ctx *c, const struct jit_insn *i, unsigned idx);
void x86_emit_fp_mem(struct ctx *c, const struct jit_insn *i, unsigned idx);
/* emit_bitmanip.c: Zba, Zbb, Zbs, Zicond and Zimop. x86_bitmanip_inline: whether op is
 * emitted inline on this host (else it goes through its handler); x86_bitmanip_reads_rs2:
 * whether it reads x[rs2]; x86_emit_bitmanip: emit it, returning the host register holding
 * the value for rd. */
bool x86_bitmanip_inline(unsigned op);
bool x86_bitmanip_reads_rs2(unsigned op);
unsigned x86_emit_bitmanip(struct ctx *c, const struct jit_insn *i);
/* The shared site-miss routines of struct jit_tramp, into b. */
void x86_emit_site_miss_routines(struct jit_buf *b, struct jit_tramp *t);

#endif
