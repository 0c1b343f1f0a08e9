/* The dynamic binary translator: guest RISC-V code runs as host code translated one block at a
 * time, beside the interpreter and fed by the same decoder. Each hart owns its translator
 * state: a code cache (one memfd mapped twice, writable and executable, never both at one
 * address), the blocks keyed by guest-physical and guest-virtual pc, a jump cache for indirect
 * jumps and a fetch TLB. Instruction semantics that are rare or intricate (CSRs, FP, atomics,
 * system instructions) call the interpreter's handlers, so one table of semantics stays the
 * truth. Translations follow the guest's fence.i (unprivileged spec chapter 3, "Zifencei"):
 * a block whose guest bytes changed is dropped when the hart next enters its page after a
 * fence.i, local or remote. */
#ifndef RVISOR_JIT_JIT_H
#define RVISOR_JIT_JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hart;

#define JIT_CACHE_DEFAULT (64u << 20) /* bytes of host code per hart */
#define JIT_CACHE_MIN     (1u << 20)
#define JIT_CACHE_MAX     (1u << 30)

/* Counters a translator keeps (printed with RVISOR_JIT_STATS=1 at exit). */
struct jit_stats {
	uint64_t blocks;       /* blocks translated */
	uint64_t guest_insns;  /* guest instructions translated */
	uint64_t code_bytes;   /* host code bytes emitted since the last flush */
	uint64_t flushes;      /* whole-cache flushes (cache full) */
	uint64_t page_drops;   /* guest pages whose blocks were dropped after fence.i */
	uint64_t dispatches;   /* block lookups from the dispatcher */
	uint64_t chains;       /* direct jumps patched to their target block */
	uint64_t translate_ns; /* host time spent translating */
	uint64_t interp_insns; /* instructions run by the interpreter (page-straddling) */
};

/* True when this build has a back end for the host ISA (x86-64). */
bool jit_available(void);

/* Give hart h a translator with a code cache of cache_bytes (JIT_CACHE_MIN..JIT_CACHE_MAX,
 * rounded up to 64 KiB). Call after hart_init. Returns 0, -ENOSYS without a back end, -EINVAL
 * for a size out of range, or -errno from memfd_create/mmap. */
int jit_init(struct hart *h, size_t cache_bytes);
/* Free the translator of h (safe when there is none). */
void jit_destroy(struct hart *h);

/* Run translated code from h->pc until h->budget is spent (whole blocks: a block that starts
 * with budget left runs to its end or its first trap), a trap or a change of privilege,
 * translation or interrupt enables. Sets h->batch_len = h->budget = n first and adds the
 * retired instructions to h->instret, as the interpreter's batches do. Returns the count
 * retired. With n = 1 exactly one block runs (the lockstep tester's step). */
uint64_t jit_run_budget(struct hart *h, int32_t n);

/* Forget cached translations of guest-virtual addresses (the jump cache and the fetch TLB):
 * the hart's TLB was flushed (sfence.vma, satp). Called by hart.c. */
void jit_flush_virtual(struct hart *h);
/* The same for one guest-virtual page (sfence.vma with an address): a no-op unless code was
 * fetched from that page, or from a superpage holding it, since the last flush. */
void jit_flush_virtual_page(struct hart *h, uint64_t gva);
/* Empty the TLB copies that translated loads and stores keep at their sites (those in
 * h->jit_site_log): the data TLB they came from was flushed, lost write entries, or is no
 * longer the one in use. Called by hart.c; cheap when none is filled. */
void jit_sites_clear(struct hart *h);
/* The same for the sites whose copy maps the 4 KiB guest-virtual page holding gva only
 * (sfence.vma of one address when no superpage entry can cover it). */
void jit_sites_clear_page(struct hart *h, uint64_t gva);
/* A fence.i: blocks are checked against guest memory before they run again. local: the hart
 * executed FENCE.I itself; then, when no other hart and no device can have written guest
 * code since the last check, only the pages of blocks this hart stored to are checked, at
 * once, and the rest of the caches stay. Otherwise (a remote fence.i, SBI, devices, other
 * harts) every page is checked when next entered. Called by hart.c. */
void jit_fence_i(struct hart *h, bool local);
/* The hart stored to guest-physical page gpa_page through the MMU's slow path (which must
 * happen before a data-TLB write entry lets later stores to it go inline). Called by mmu.c. */
void jit_note_write(struct hart *h, uint64_t gpa_page);
/* Other harts run on the same guest RAM: their stores are not seen by this hart, so every
 * fence.i checks all pages. */
void jit_set_shared(struct hart *h);

/* Translator counters of h (all zero when h has none). */
struct jit_stats jit_get_stats(const struct hart *h);

/* For tests of the lockstep tester only: translate op (enum insn_op) wrongly from now on
 * (its result is off by one), so that a tester which cannot see a wrong translation fails its
 * own test. 0 turns it off. Drops every translation. */
void jit_inject_fault(struct hart *h, unsigned op);

#endif
