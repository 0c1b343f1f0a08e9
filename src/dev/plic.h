/* Platform-Level Interrupt Controller (RISC-V PLIC spec 1.0.0): level-triggered sources with
 * gateways, priorities, per-context enables, thresholds, claim/complete. Context 2n is hart
 * n's M-mode, 2n+1 its S-mode (the layout of the virt board). Each context drives one output
 * line (the VMM wires it to the hart's MEIP or SEIP). */
#ifndef RVISOR_DEV_PLIC_H
#define RVISOR_DEV_PLIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/irq.h"
#include "mem/bus.h"

struct state_in;
struct state_out;

#define PLIC_SIZE         0x4000000 /* bytes of MMIO window */
#define PLIC_MAX_SOURCES  128       /* source ids 1..127; 0 means "none" */
#define PLIC_MAX_CONTEXTS 128

/* Guest-visible register state. */
struct plic_regs {
	uint32_t priority[PLIC_MAX_SOURCES];
	uint32_t pending[PLIC_MAX_SOURCES / 32];
	uint32_t claimed[PLIC_MAX_SOURCES / 32]; /* claimed, awaiting complete */
	uint32_t level[PLIC_MAX_SOURCES / 32];   /* current input level of each source */
	uint32_t enable[PLIC_MAX_CONTEXTS][PLIC_MAX_SOURCES / 32];
	uint32_t threshold[PLIC_MAX_CONTEXTS];
};

struct plic {
	pthread_mutex_t lock;
	unsigned nsources; /* ids 1..nsources-1 are valid */
	unsigned ncontexts;
	struct plic_regs regs;
	struct irq_line out[PLIC_MAX_CONTEXTS];
	bool out_level[PLIC_MAX_CONTEXTS];
};

/* nsources <= PLIC_MAX_SOURCES (ids 1..nsources-1), ncontexts <= PLIC_MAX_CONTEXTS; out is an
 * array of ncontexts output lines. Returns 0 or -EINVAL. */
int plic_init(struct plic *p, unsigned nsources, unsigned ncontexts, const struct irq_line *out);
void plic_destroy(struct plic *p);
/* Input line of source src (1..nsources-1): an irq_line function with opaque = the plic. */
void plic_set_irq(void *opaque, unsigned src, bool level);
/* MMIO callbacks; opaque is the struct plic. 4-byte accesses only. */
extern const struct mmio_ops plic_ops;
void plic_save(struct plic *p, struct plic_regs *out);
int plic_restore(struct plic *p, const struct plic_regs *in);
/* Snapshots (src/state/stream.h): append section "plic" (layout version 1): u32 nsources,
 * u32 ncontexts, u32 priority[nsources] (source 0 included, always 0), then W =
 * ceil(nsources / 32) words each of pending[W], claimed[W], level[W] (bit n of word w is
 * source 32w + n), then for each context enable[W] and u32 threshold. */
void plic_state_save(struct plic *p, struct state_out *o);
/* Read section "plic" and apply it through plic_restore, which drives every context's output
 * line from the loaded state. The source and context counts must be this PLIC's; priorities
 * and thresholds at most 7; pending, claimed, level and enable bits only for existing sources
 * (1..nsources-1); no source both pending and claimed. Otherwise the stream fails naming the
 * value, the PLIC is unchanged and -EINVAL is returned. */
int plic_state_load(struct plic *p, struct state_in *in);

#endif
