/* One RISC-V hart (vCPU): architectural state ordered hot/warm/cold, its TLBs and decoded-
 * instruction cache, and the small interface through which it reaches memory, the SBI and the
 * clock. The hart knows nothing of devices: it sees RAM, a bus and interrupt bits in mip. */
#ifndef RVISOR_CPU_HART_H
#define RVISOR_CPU_HART_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/csr.h"
#include "cpu/insn.h"

struct bus;
struct guest_mem;
struct jit;
struct state_in;
struct state_out;

/* TLB entries per kind (read, write, fetch), direct-mapped, a power of two: 8192 reach 32 MiB,
 * for compressors' dictionaries and hash tables (xz -3 and 7z b in a guest: 4096 entries cost
 * 6-8% more time, 16384 no less), at about 2 MiB per hart. */
#define TLB_ENTRIES   8192
#define HART_SITE_LOG 1024 /* translated memory-access sites filled between two emptyings */
#define DCACHE_PAGES  256  /* decoded pages cached per hart (36 KiB each), 2-way */

/* One TLB entry: a guest-virtual page mapped to host memory. A hit is one compare and an add:
 * hva = gva + addend. tag is gva >> 12, or TLB_INVALID. */
struct tlb_entry {
	uint64_t tag;
	uintptr_t addend;
};
#define TLB_INVALID (~0ull)

/* Decoded-instruction cache page: the decoded instructions of one 4 KiB guest-physical page,
 * one slot per halfword. A slot whose fn is NULL has not been decoded yet. */
struct dpage {
	uint64_t gpa;      /* page-aligned guest-physical address, or ~0 when free */
	uint64_t gen;      /* hart's code generation when last validated (see fence.i) */
	uint64_t last_use; /* hart's dcache_clock at the last lookup (LRU within a set) */
	struct insn slot[2048];
	uint8_t raw[4096]; /* the bytes the slots were decoded from: after a fence.i, only slots
			    * whose bytes changed are dropped */
};

/* A fetch-TLB entry also carries the decoded page of the physical page it maps. */
struct itlb_entry {
	uint64_t tag;
	uintptr_t addend;
	struct dpage *dp;
};

/* One TLB set: the entries used when data accesses or fetches run at one privilege view. */
struct tlb_set {
	struct tlb_entry r[TLB_ENTRIES];
	struct tlb_entry w[TLB_ENTRIES];
	/* Page-table level of each entry's leaf (0: 4 KiB, 1: 2 MiB, ...), for sfence.vma of one
	 * address, which must also drop entries cached from a superpage holding it. */
	uint8_t r_level[TLB_ENTRIES], w_level[TLB_ENTRIES], i_level[TLB_ENTRIES];
	uint64_t super[TLB_ENTRIES / 64]; /* indices whose r, w or fetch entry came from one */
	uint64_t used[TLB_ENTRIES / 64];  /* indices filled since the last full flush: a flush
					   * visits only those */
	uint64_t super_lo, super_hi;      /* the virtual page numbers those superpages cover
					   * (lo > hi: none since the last full flush) */
};

/* One enabled PMP entry (priv spec 3.7) decoded into the byte range it matches,
 * [lo, hi) guest-physical, and its pmpcfg byte (R, W, X, A, L). */
struct pmp_rule {
	uint64_t lo, hi;
	uint8_t cfg;
};

/* Callbacks from the hart to its VM (the VMM wires these). All are called on the hart's
 * own thread. */
struct hart_env {
	void *opaque;
	/* Serve an SBI call (ecall from S-mode) in place of M-mode firmware. Returns false if the
	 * hypervisor does not serve SBI, in which case the ecall traps to M-mode as usual. */
	bool (*sbi_call)(void *opaque, struct hart *h);
	/* Current time in ticks of the 10 MHz timebase (the mtime / time CSR value). */
	uint64_t (*time_now)(void *opaque);
	/* HTIF: a store hit the guest-physical tohost address (value written). */
	void (*htif_tohost)(void *opaque, struct hart *h, uint64_t value);
	/* The guest can make no further progress (a trap to M-mode with no firmware, or a trap
	 * loop at the M-mode vector). The hart keeps running until asked to exit. */
	void (*fatal)(void *opaque, struct hart *h, uint64_t cause, uint64_t tval);
};

/* Fences another hart can ask for (SBI RFENCE); done at the next batch boundary. */
#define HART_FENCE_TLB    1u
#define HART_FENCE_ICACHE 2u
/* Drop every write TLB entry (all privilege views) and the translator's site copies: the
 * VM's dirty log was taken, so the next store to each page must reach the MMU and mark it. */
#define HART_FENCE_DIRTY 4u

/* ---- a debugger's breakpoints and watchpoints (src/vmm/gdbstub.c) ---- */
#define HART_DEBUG_BREAKPOINTS 64 /* at most this many breakpoints at once */
#define HART_DEBUG_WATCHPOINTS 16 /* at most this many watchpoints at once */

/* What a watchpoint watches, and what an access did: bits, so that an access watchpoint
 * (both) matches either kind of access. */
enum hart_watch_kind {
	HART_WATCH_WRITE = 1,  /* stores, AMOs, SC (GDB's Z2) */
	HART_WATCH_READ = 2,   /* loads, AMOs, LR (Z3) */
	HART_WATCH_ACCESS = 3, /* either (Z4) */
};

/* A watched range of guest-virtual addresses [addr, addr + len) (len >= 1). */
struct hart_watchpoint {
	uint64_t addr, len;
	enum hart_watch_kind kind;
};

/* Why a hart stopped for the debugger. */
enum hart_debug_event {
	HART_DEBUG_BREAKPOINT = 1, /* before executing the instruction at a breakpoint */
	HART_DEBUG_WATCHPOINT,     /* before an access to a watched range (the instruction making
				    * it has had no effect: RISC-V triggers fire before) */
};

/* The breakpoints and watchpoints a debugger set: every hart of a VM points at the same one
 * (struct hart's debug). Changed only while every hart is parked (hart_set_paused), so the
 * harts read it without locks. While active, hart_run interprets one instruction at a time
 * (the translator stays unused) and compares the pc with each breakpoint before each
 * instruction; loads and stores to a page holding a watched range take the MMU's slow path,
 * which checks them (mmu.c) and abandons an instruction about to touch one. */
struct hart_debug {
	bool active; /* nbp + nwp > 0 */
	unsigned nbp, nwp;
	uint64_t bp[HART_DEBUG_BREAKPOINTS]; /* guest-virtual pcs */
	struct hart_watchpoint wp[HART_DEBUG_WATCHPOINTS];
	/* Called on the hart's thread when it stops for the debugger, at h->pc (addr: the
	 * breakpoint's pc, or an address within both the access and the watched range; kind: the
	 * watchpoint's). The hart has already asked itself to park; the callback tells the
	 * debugger. */
	void (*stop)(void *opaque, struct hart *h, enum hart_debug_event ev, uint64_t addr,
		     enum hart_watch_kind kind);
	void *opaque;
};

/* Why a hart's run loop returned. */
enum hart_exit {
	HART_RUNNING = 0,
	HART_EXIT_STOP,   /* asked to stop (VM shutdown, pause) */
	HART_EXIT_HALTED, /* the guest ended: poweroff, reboot, test finisher, HTIF */
};

struct hart {
	/* ---- hot: touched by every instruction ---- */
	uint64_t x[33];          /* x[32] is the sink for writes to x0 */
	uint64_t pc;             /* address of the instruction being executed */
	uint64_t pc_next;        /* address of the next one; branches and traps set it */
	struct tlb_set *dtlb;    /* data TLB for the current effective data privilege */
	struct itlb_entry *itlb; /* fetch TLB for the current privilege */
	int32_t budget;    /* instructions left in this batch; set to 0 to end the batch early */
	int32_t batch_len; /* instructions the current batch started with */
	uint8_t priv;      /* PRV_U, PRV_S or PRV_M */
	uint8_t fs_off;    /* 1 when mstatus.FS == Off: FP instructions are illegal */
	uint64_t f[32];
	uint32_t fflags, frm;

	/* ---- warm: CSRs (priv spec 3 and 4) ---- */
	uint64_t mstatus;
	_Atomic uint64_t mip; /* set by devices on other threads: use atomics */
	uint64_t mie, mideleg, medeleg;
	uint64_t mtvec, mscratch, mepc, mcause, mtval;
	uint64_t stvec, sscratch, sepc, scause, stval, satp;
	uint64_t mcounteren, scounteren, mcountinhibit, menvcfg, senvcfg;
	uint64_t stimecmp;         /* Sstc, in timebase ticks */
	_Atomic uint64_t mtimecmp; /* mirrors the ACLINT MTIMER comparator for this hart */
	uint64_t instret;
	uint64_t reservation;     /* LR/SC reserved gpa, or ~0 */
	uint64_t reservation_val; /* value LR read: SC succeeds only if memory still holds it */
	uint64_t mhartid;
	uint64_t misa;
	uint64_t isa_ext; /* extensions beyond RV64GC (ISA_EXT_* of cpu/isa.h): what decodes */

	/* ---- cold ---- */
	/* What the hart handed to the hypervisor (a hardware VMM's exits), counted by the
	 * hart's thread with hart_count, read by others with __atomic_load_n. */
	struct hart_exits {
		uint64_t sbi;  /* SBI calls served by the built-in SBI (ecall from S-mode) */
		uint64_t mmio; /* loads and stores to device registers (not RAM) */
		uint64_t wfi;  /* WFI instructions (the hart may sleep) */
	} exits;
	uint64_t pmpcfg[16];  /* only pmpcfg0 and pmpcfg2 are implemented (src/cpu/pmp.h) */
	uint64_t pmpaddr[64]; /* only pmpaddr0-15 */
	/* Derived from them by pmp_update: the enabled entries that match some address, in
	 * priority order. */
	struct pmp_rule pmp_rule[16];
	uint8_t pmp_nrules;
	uint64_t mtval2, mtinst, tselect;
	uint8_t walk_level; /* leaf level of the last successful page walk (0 when bare) */
	uint64_t code_gen;  /* bumped by fence.i: decoded pages of older generations are stale */
	/* Indexed by privilege view: 0 U, 1 S, 2 S with mstatus.SUM set (it may reach U pages),
	 * 3 M (no paging; S and U without paging use their own sets, as PMP may treat them
	 * differently). Toggling SUM (Linux does around every access to user memory)
	 * switches between sets 1 and 2 instead of flushing. */
	struct tlb_set tlb[4];
	struct itlb_entry itlb_set[4][TLB_ENTRIES];
	struct dpage *dcache;  /* DCACHE_PAGES entries */
	uint64_t dcache_clock; /* counts decoded-page lookups */

	/* The translator (src/jit/), or NULL when the interpreter runs this hart. jit_jcache is
	 * the jump cache of the current privilege view and jit_link the patchable jump of the
	 * last block exit; translated code reads and writes both. */
	struct jit *jit;
	void *jit_jcache;
	uint8_t *jit_link;
	uint64_t jit_vgen; /* generation of the jump cache and fetch TLB: bumped to empty both */
	/* Each translated load or store keeps a copy of the data-TLB entry it last used (its
	 * site); the tags of the sites filled since they were last emptied, so that a TLB flush
	 * or a change of TLB set empties only those (jit_sites_clear). */
	uint64_t *jit_site_log[HART_SITE_LOG];
	uint32_t jit_site_n;

	/* A debugger's breakpoints and watchpoints, or NULL (no debugger: nothing is checked).
	 * watch_hit is the kind of the watchpoint the instruction at pc was about to touch (0:
	 * none), watch_addr the address to report; set by the MMU's slow path, cleared by
	 * whoever reports it (hart_run, or the debugger after hart_debug_step). */
	struct hart_debug *debug;
	uint64_t watch_addr;
	uint8_t watch_hit;

	struct guest_mem *mem;
	struct bus *bus;
	struct hart_env env;
	uint64_t tohost_gpa; /* HTIF tohost, or 0 when unused */
	bool m_trap_fatal;   /* no M-mode software: any trap to M-mode is fatal */

	/* Run control, shared with other threads. */
	_Atomic int exit_req;       /* non-zero: leave the run loop (enum hart_exit) */
	_Atomic int stopped;        /* HSM: hart is stopped (not started or hart_stop) */
	_Atomic unsigned fence_req; /* HART_FENCE_* bits asked by other harts (SBI RFENCE) */
	_Atomic int paused;         /* the VMM paused the VM: stay parked (hart_set_paused) */
	/* Auto-converge (a live migration whose guest writes faster than the link carries):
	 * the share of time, in percent (0-99), the hart sleeps instead of running. */
	_Atomic unsigned throttle_pct;
	uint64_t throttle_mark;        /* CLOCK_MONOTONIC ns when the running stretch began, or 0 */
	_Atomic uint64_t throttled_ns; /* time slept for it, in all */
	bool parked;                   /* parked for a pause (under wait_lock) */
	bool wfi;                      /* sleeping in WFI until an interrupt is pending */
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;
	bool kicked;
};

/* Initialise a hart: zeroed state, misa = RV64IMAFDC + S + U, no extension beyond RV64GC
 * (set isa_ext before it runs), in M-mode at pc 0.
 * mem and bus are the VM's guest RAM and MMIO bus. Returns 0 or -ENOMEM. */
int hart_init(struct hart *h, uint64_t hartid, struct guest_mem *mem, struct bus *bus,
	      const struct hart_env *env);
/* Free what hart_init allocated. */
void hart_destroy(struct hart *h);
/* Reset to the power-on state (M-mode, pc = reset_pc) without freeing anything. */
void hart_reset(struct hart *h, uint64_t reset_pc);

/* Run until exit_req is set. Sleeps in WFI until an interrupt or kick. Returns the exit
 * reason. */
enum hart_exit hart_run(struct hart *h);
/* Run at most n instructions (for tests). Returns instructions executed. */
uint64_t hart_step(struct hart *h, uint64_t n);
/* Run one interpreter batch of at most n instructions from h->pc, without timer or interrupt
 * checks; a trap or a change of mode ends it early, as in hart_run. Adds the retired count to
 * h->instret and returns it (the lockstep tester's reference step). */
uint64_t hart_run_budget(struct hart *h, int32_t n);
/* Execute the one instruction at h->pc through the decoder and interpreter, without the
 * decoded-instruction cache (fetch faults, page-straddling instructions included), and retire
 * it into the running batch. For the translator's fallback. */
void hart_exec_one(struct hart *h);

/* Debugger (src/vmm/gdbstub.c), with the hart parked or not yet running. Execute exactly one
 * instruction at h->pc in the interpreter, whatever the accelerator, with no interrupt or timer
 * checks (as QEMU's single step masks them), after any fence other harts asked for; a hart
 * asleep in WFI wakes first (WFI may end at any time). A trap moves the pc to its vector.
 * Breakpoints are not checked; watchpoints are: an instruction about to touch one does
 * nothing and sets h->watch_hit. Returns the change of the retired-instruction count. */
uint64_t hart_debug_step(struct hart *h);
/* Debugger, with the hart parked: the breakpoints, watchpoints, registers or guest memory
 * changed. Empties the data TLB of every privilege view (so that accesses to newly watched
 * pages take the slow path) and the translator's memory-access sites, and forgets the
 * translator's last block exit (the pc may have moved). */
void hart_debug_sync(struct hart *h);

/* Raise or lower interrupt-pending bits (MIP_*) from any thread, and wake the hart. */
void hart_set_mip(struct hart *h, uint64_t bits, bool level);
/* Wake the hart if it sleeps in WFI (from any thread). */
void hart_kick(struct hart *h);
/* Pause (true) or resume the hart from another thread: a paused hart parks at its next
 * instruction boundary (the end of its current batch, or at once in WFI) until resumed or
 * asked to exit. With wait, pausing returns once the hart is parked (or exiting). */
void hart_set_paused(struct hart *h, bool paused, bool wait);
/* Ask the hart's run loop to return with reason why (from any thread). */
void hart_request_exit(struct hart *h, enum hart_exit why);

/* Take exception cause with trap value tval at the current pc (priv spec 3.1.15, 3.3.1):
 * picks M or S by medeleg, updates the status stack and sets pc_next to the trap vector. */
void hart_trap(struct hart *h, uint64_t cause, uint64_t tval);
/* Take the highest-priority pending and enabled interrupt, if any. Returns true if taken. */
bool hart_check_interrupts(struct hart *h);
/* Recompute derived state (TLB set pointers, fs_off) after priv or mstatus changed. */
void hart_update_mode(struct hart *h);

/* End the running batch after the current instruction (a trap, or a change of translation,
 * privilege or interrupt enables). Keeps the retired-instruction count exact. */
static inline void hart_end_batch(struct hart *h)
{
	h->batch_len -= h->budget;
	h->budget = 0;
}

/* Invalidate every entry of every TLB set, the M-mode one included, the fetch TLBs, and the
 * translator's jump cache, fetch TLB and site copies: a pmpcfg or pmpaddr write changed what
 * may be cached (priv spec 3.7.2). Ends the batch. */
void hart_flush_pmp(struct hart *h);
/* Invalidate all TLB entries (sfence.vma, satp writes). */
void hart_flush_tlb(struct hart *h);
/* Invalidate the TLB entries that may translate guest-virtual address gva (sfence.vma with
 * rs1 != x0; priv spec 4.2.1): its own 4 KiB entry and any entry from a superpage holding it. */
void hart_flush_tlb_page(struct hart *h, uint64_t gva);
/* Invalidate every write entry of every TLB set, the M-mode one included, and the
 * translator's site copies (HART_FENCE_DIRTY). */
void hart_flush_write_tlb(struct hart *h);
/* Invalidate the decoded-instruction cache (fence.i asked by another hart, or through the
 * SBI: any code may have changed). */
void hart_flush_icache(struct hart *h);
/* The same for a FENCE.I the hart executed itself (the translator may then check only what
 * it saw change). */
void hart_fence_i(struct hart *h);

/* mstatus with SD computed (what a CSR read returns). */
uint64_t hart_mstatus_read(const struct hart *h);
/* Bump a counter of struct hart_exits: only the hart's thread writes, others read. */
static inline void hart_count(uint64_t *counter)
{
	__atomic_store_n(counter, *counter + 1, __ATOMIC_RELAXED);
}
/* Instructions retired so far, including the running batch (minstret / mcycle). */
uint64_t hart_instret(const struct hart *h);
/* Update MTIP (and STIP when menvcfg.STCE is set) from the comparators and time now
 * (ticks). */
void hart_update_timers(struct hart *h, uint64_t now);

/* Snapshots (src/cpu/hart_state.c; the stream is src/state/stream.h). Append the hart's
 * section "hart" (layout version 2): everything architectural (pc, x, f, fcsr, privilege,
 * every CSR, instret, the LR/SC reservation, the extensions isa_ext), the guest-visible run
 * state (HSM stopped, WFI) and what booting set up (m_trap_fatal, tohost_gpa). Call with the hart
 * not running (the VM paused); a failure (out of memory) is recorded in o. */
void hart_state_save(const struct hart *h, struct state_out *o);
/* Read the next section "hart" (layout version 1 or 2; a version-1 hart is plain RV64GC)
 * into h, a hart set up by hart_init for the same VM configuration (same mhartid and misa)
 * and not running; h takes the section's extensions. Every value is checked first (priv
 * U, S or M; CSRs as the CSR writes would have legalised them, satp in a mode the MMU walks;
 * fcsr fields; an even pc; x0 zero; the reservation and tohost in RAM): a bad one fails the
 * stream naming the field, leaves h as it was and returns -EINVAL (so does a malformed or
 * truncated section). On success every cache (TLBs, decoded pages, the translator's
 * translations, jump cache and memory-access sites) is emptied and the derived state
 * recomputed, and 0 is returned. */
int hart_state_load(struct hart *h, struct state_in *in);

#endif
