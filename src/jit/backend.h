/* The interface between the translator's host-independent front end (jit.c: block discovery,
 * the code cache, lookup, chaining, invalidation) and a back end that emits host code for one
 * host ISA (x86_64/). A back end knows struct hart's layout and the interpreter's handlers; it
 * knows nothing of the cache's bookkeeping. */
#ifndef RVISOR_JIT_BACKEND_H
#define RVISOR_JIT_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/insn.h"

struct hart;

/* An output buffer in the code cache. p runs from start to end in the writable view; the
 * executable view of a byte is its writable address + x_delta. overflow is set when an
 * instruction does not fit; nothing is written past end, and the block being emitted is
 * dropped. */
struct jit_buf {
	uint8_t *start, *p, *end;
	intptr_t x_delta;
	bool overflow;
};

/* The most guest instructions one block holds. */
#define JIT_MAX_INSNS 64

/* One guest instruction of a block: decoded fields, its guest-virtual pc. follow: a JAL
 * whose target the block goes on at (the next instruction is the target's), so it only
 * writes rd. A block is one or more runs of instructions, each run in the order they follow
 * each other; a branch, jump or fall-through to a pc of the block goes there inside it. */
struct jit_insn {
	struct insn_fields f;
	uint64_t pc;
	bool follow;
};

/* Executable addresses of the shared routines every block jumps to. */
struct jit_tramp {
	uintptr_t enter;       /* void enter(struct hart *h, const void *code) */
	uintptr_t exit_nolink; /* leave: h->pc is set, no chainable exit */
	uintptr_t exit_link;   /* leave: h->pc and h->jit_link are set */
	uintptr_t exit_chain;  /* rax = struct jit_exit: set h->jit_link and h->pc, leave */
	uintptr_t probe;       /* rax = guest pc: jump-cache probe, else leave */
	/* A memory-access site missed: [store][log2 size] (rsi = gva, rdi = the site) probes
	 * the data TLB, fills the site, and returns eax = 0 with rsi = the host address, or
	 * eax = 1 (rsi kept) for the MMU's slow path. Clobbers rax, rdx, rdi. */
	uintptr_t site_miss[2][4];
};

/* A chainable exit, stored in the code cache beside its stub: the executable address of the
 * rel32 field of the stub's jump, and the guest-physical page the exiting block lies in (a
 * chain is made only to a block of the same page). h->jit_link points at one. */
struct jit_exit {
	uint64_t field_x;
	uint64_t gpa_page;
	uint64_t target; /* the guest-virtual pc the exit goes to */
	uint64_t pad;
};

/* Jump cache: indirect jumps and cross-page exits look up the guest-virtual target here,
 * inline. JIT_JC_ENTRIES per privilege view, indexed by (pc >> 1) & (JIT_JC_ENTRIES - 1). An
 * entry counts only while its gen equals h->jit_vgen, so emptying the cache (on every TLB
 * flush and fence.i) is one increment. */
#define JIT_JC_ENTRIES 4096
struct jit_jc {
	uint64_t vpc;     /* guest-virtual pc */
	const void *code; /* executable entry of its block */
	uint64_t gen;     /* h->jit_vgen when filled */
	uint64_t pad;
};

/* A memory-access site: every translated load and store has one, holding a copy of the
 * data-TLB entry its last access used, so that its next access checks one tag it can load
 * before its address is known (priv spec 4.3.2 leaves caching translations to the hart; the
 * copies are emptied whenever the TLB entry could change, see jit_sites_clear). tag is the
 * guest-virtual page address (4 KiB aligned), or JIT_SITE_EMPTY; host = gva + addend. Sites
 * live in a writable, non-executable region within 2 GiB of the code that reads them. */
struct jit_site {
	uint64_t tag;
	uintptr_t addend;
};
#define JIT_SITE_EMPTY (~0ull)

/* The sites not yet handed out: [next, end). A block takes one per load or store. */
struct jit_site_pool {
	struct jit_site *next, *end;
};

/* Emit the shared routines into b. Returns false on overflow. */
bool jit_be_trampolines(struct jit_buf *b, struct jit_tramp *t);

/* Emit one block of n instructions (1 <= n <= JIT_MAX_INSNS, all on the guest-virtual page of
 * ins[0].pc, which maps to guest-physical page gpa_page, no pc twice; entered at ins[0]): the
 * main path into hot, slow paths and exit stubs into
 * cold, taking its memory-access sites (emptied) from sites. inject_op: an op to translate
 * wrongly on purpose (tests), or 0. Returns the executable entry address, or 0 when a buffer
 * overflowed or the sites ran out. */
uintptr_t jit_be_block(struct jit_buf *hot, struct jit_buf *cold, struct jit_site_pool *sites,
		       const struct jit_tramp *t, const struct jit_insn *ins, unsigned n,
		       uint64_t gpa_page, unsigned inject_op);

/* Point a chainable exit's jump (rel32 field at writable address field_rw, executable address
 * field_x) at the executable address target_x. */
void jit_be_patch(uint8_t *field_rw, uint64_t field_x, uintptr_t target_x);

/* Run translated code: enter the block at code with h, return when a block leaves. */
void jit_be_enter(const struct jit_tramp *t, struct hart *h, const void *code);

/* Whether instruction op ends a block (control transfer or system instruction). */
bool jit_ends_block(unsigned op);

#endif
