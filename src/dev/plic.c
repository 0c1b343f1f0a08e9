/* Platform-Level Interrupt Controller (RISC-V PLIC spec 1.0.0): level-triggered gateways,
 * 3-bit priorities, per-context enables and thresholds, claim/complete. Every offset and id
 * the guest writes is checked against the configured numbers of sources and contexts. */
#include <errno.h>
#include <string.h>

#include "dev/plic.h"
#include "state/stream.h"

#define PLIC_PRIORITY_BASE  0x000000u
#define PLIC_PENDING_BASE   0x001000u
#define PLIC_ENABLE_BASE    0x002000u
#define PLIC_ENABLE_STRIDE  0x80u
#define PLIC_CONTEXT_BASE   0x200000u
#define PLIC_CONTEXT_STRIDE 0x1000u
#define PLIC_THRESHOLD      0x0u
#define PLIC_CLAIM_COMPLETE 0x4u
#define PLIC_PRIORITY_MASK  7u /* 3 bits of priority and threshold (WARL) */
#define PLIC_WORDS          (PLIC_MAX_SOURCES / 32)
#define PLIC_STATE_VERSION  1

static bool bit_test(const uint32_t *words, unsigned n)
{
	return (words[n / 32] >> (n % 32)) & 1;
}

static void bit_assign(uint32_t *words, unsigned n, bool v)
{
	if (v)
		words[n / 32] |= 1u << (n % 32);
	else
		words[n / 32] &= ~(1u << (n % 32));
}

/* Mask of the existing sources in 32-bit word w (source 0 never exists). */
static uint32_t plic_valid_mask(const struct plic *p, unsigned w)
{
	uint32_t mask = 0;
	for (unsigned b = 0; b < 32; b++) {
		unsigned src = w * 32 + b;
		if (src != 0 && src < p->nsources)
			mask |= 1u << b;
	}
	return mask;
}

/* The best interrupt for context ctx: the highest priority above the threshold among the
 * pending enabled sources, ties going to the lowest id. 0 if there is none. */
static unsigned plic_best(const struct plic *p, unsigned ctx)
{
	unsigned best = 0, best_prio = p->regs.threshold[ctx];
	for (unsigned w = 0; w < PLIC_WORDS; w++) {
		uint32_t bits = p->regs.pending[w] & p->regs.enable[ctx][w];
		while (bits) {
			unsigned src = w * 32 + (unsigned)__builtin_ctz(bits);
			bits &= bits - 1;
			if (p->regs.priority[src] > best_prio) {
				best = src;
				best_prio = p->regs.priority[src];
			}
		}
	}
	return best;
}

/* Drive every context's output line to its new level; a line is touched only on a change. */
static void plic_update(struct plic *p)
{
	for (unsigned ctx = 0; ctx < p->ncontexts; ctx++) {
		bool level = plic_best(p, ctx) != 0;
		if (level != p->out_level[ctx]) {
			p->out_level[ctx] = level;
			irq_set(&p->out[ctx], level);
		}
	}
}

int plic_init(struct plic *p, unsigned nsources, unsigned ncontexts, const struct irq_line *out)
{
	if (nsources < 1 || nsources > PLIC_MAX_SOURCES || ncontexts < 1 ||
	    ncontexts > PLIC_MAX_CONTEXTS || !out)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	int rc = pthread_mutex_init(&p->lock, NULL);
	if (rc)
		return -rc;
	p->nsources = nsources;
	p->ncontexts = ncontexts;
	memcpy(p->out, out, ncontexts * sizeof(*out));
	return 0;
}

void plic_destroy(struct plic *p)
{
	pthread_mutex_destroy(&p->lock);
}

void plic_set_irq(void *opaque, unsigned src, bool level)
{
	struct plic *p = opaque;
	if (src == 0 || src >= p->nsources)
		return;
	pthread_mutex_lock(&p->lock);
	bit_assign(p->regs.level, src, level);
	/* The gateway forwards a request on a high level unless one is already in flight
	 * (claimed, awaiting completion). A forwarded request stays pending until claimed. */
	if (level && !bit_test(p->regs.claimed, src) && !bit_test(p->regs.pending, src)) {
		bit_assign(p->regs.pending, src, true);
		plic_update(p);
	}
	pthread_mutex_unlock(&p->lock);
}

static uint32_t plic_claim(struct plic *p, unsigned ctx)
{
	unsigned src = plic_best(p, ctx);
	if (src) {
		bit_assign(p->regs.pending, src, false);
		bit_assign(p->regs.claimed, src, true);
		plic_update(p);
	}
	return src;
}

static void plic_complete(struct plic *p, unsigned ctx, uint32_t src)
{
	/* Completion of an id that is not a claimed source enabled for this context is ignored
	 * (spec: "silently ignored"). */
	if (src == 0 || src >= p->nsources || !bit_test(p->regs.enable[ctx], src) ||
	    !bit_test(p->regs.claimed, src))
		return;
	bit_assign(p->regs.claimed, src, false);
	if (bit_test(p->regs.level, src)) {
		bit_assign(p->regs.pending, src, true);
		plic_update(p);
	}
}

static uint64_t plic_read(void *opaque, uint64_t offset, unsigned size)
{
	struct plic *p = opaque;
	uint64_t v = 0;
	if (size != 4 || offset % 4)
		return 0;
	pthread_mutex_lock(&p->lock);
	if (offset < PLIC_PENDING_BASE) {
		uint64_t src = (offset - PLIC_PRIORITY_BASE) / 4;
		if (src < p->nsources)
			v = p->regs.priority[src];
	} else if (offset < PLIC_ENABLE_BASE) {
		uint64_t w = (offset - PLIC_PENDING_BASE) / 4;
		if (w < PLIC_WORDS)
			v = p->regs.pending[w];
	} else if (offset < PLIC_CONTEXT_BASE) {
		uint64_t ctx = (offset - PLIC_ENABLE_BASE) / PLIC_ENABLE_STRIDE;
		uint64_t w = (offset - PLIC_ENABLE_BASE) % PLIC_ENABLE_STRIDE / 4;
		if (ctx < p->ncontexts && w < PLIC_WORDS)
			v = p->regs.enable[ctx][w];
	} else {
		uint64_t ctx = (offset - PLIC_CONTEXT_BASE) / PLIC_CONTEXT_STRIDE;
		uint64_t reg = (offset - PLIC_CONTEXT_BASE) % PLIC_CONTEXT_STRIDE;
		if (ctx < p->ncontexts && reg == PLIC_THRESHOLD)
			v = p->regs.threshold[ctx];
		else if (ctx < p->ncontexts && reg == PLIC_CLAIM_COMPLETE)
			v = plic_claim(p, (unsigned)ctx);
	}
	pthread_mutex_unlock(&p->lock);
	return v;
}

static void plic_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct plic *p = opaque;
	uint32_t v = (uint32_t)value;
	if (size != 4 || offset % 4)
		return;
	pthread_mutex_lock(&p->lock);
	if (offset < PLIC_PENDING_BASE) {
		uint64_t src = (offset - PLIC_PRIORITY_BASE) / 4;
		if (src != 0 && src < p->nsources) {
			p->regs.priority[src] = v & PLIC_PRIORITY_MASK;
			plic_update(p);
		}
	} else if (offset < PLIC_ENABLE_BASE) {
		/* Pending bits are read-only. */
	} else if (offset < PLIC_CONTEXT_BASE) {
		uint64_t ctx = (offset - PLIC_ENABLE_BASE) / PLIC_ENABLE_STRIDE;
		uint64_t w = (offset - PLIC_ENABLE_BASE) % PLIC_ENABLE_STRIDE / 4;
		if (ctx < p->ncontexts && w < PLIC_WORDS) {
			p->regs.enable[ctx][w] = v & plic_valid_mask(p, (unsigned)w);
			plic_update(p);
		}
	} else {
		uint64_t ctx = (offset - PLIC_CONTEXT_BASE) / PLIC_CONTEXT_STRIDE;
		uint64_t reg = (offset - PLIC_CONTEXT_BASE) % PLIC_CONTEXT_STRIDE;
		if (ctx < p->ncontexts && reg == PLIC_THRESHOLD) {
			p->regs.threshold[ctx] = v & PLIC_PRIORITY_MASK;
			plic_update(p);
		} else if (ctx < p->ncontexts && reg == PLIC_CLAIM_COMPLETE) {
			plic_complete(p, (unsigned)ctx, v);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

const struct mmio_ops plic_ops = {
    .read = plic_read,
    .write = plic_write,
    .min_size = 4,
    .max_size = 4,
};

void plic_save(struct plic *p, struct plic_regs *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->regs;
	pthread_mutex_unlock(&p->lock);
}

int plic_restore(struct plic *p, const struct plic_regs *in)
{
	for (unsigned src = 0; src < PLIC_MAX_SOURCES; src++)
		if (in->priority[src] > PLIC_PRIORITY_MASK || (src == 0 && in->priority[0]) ||
		    (src >= p->nsources && in->priority[src]))
			return -EINVAL;
	for (unsigned w = 0; w < PLIC_WORDS; w++) {
		uint32_t invalid = ~plic_valid_mask(p, w);
		if ((in->pending[w] | in->claimed[w] | in->level[w]) & invalid)
			return -EINVAL;
		if (in->pending[w] & in->claimed[w])
			return -EINVAL;
		for (unsigned ctx = 0; ctx < PLIC_MAX_CONTEXTS; ctx++)
			if (in->enable[ctx][w] & (ctx < p->ncontexts ? invalid : UINT32_MAX))
				return -EINVAL;
	}
	for (unsigned ctx = 0; ctx < PLIC_MAX_CONTEXTS; ctx++)
		if (in->threshold[ctx] > PLIC_PRIORITY_MASK ||
		    (ctx >= p->ncontexts && in->threshold[ctx]))
			return -EINVAL;
	pthread_mutex_lock(&p->lock);
	p->regs = *in;
	/* Drive every line afresh: the receivers may not hold the levels of the saved state. */
	for (unsigned ctx = 0; ctx < p->ncontexts; ctx++) {
		p->out_level[ctx] = plic_best(p, ctx) != 0;
		irq_set(&p->out[ctx], p->out_level[ctx]);
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* Words of source bits that the state holds for this PLIC's sources. */
static unsigned plic_words(const struct plic *p)
{
	return (p->nsources + 31) / 32;
}

void plic_state_save(struct plic *p, struct state_out *o)
{
	struct plic_regs r;
	plic_save(p, &r);
	unsigned nw = plic_words(p);
	state_begin(o, "plic", PLIC_STATE_VERSION);
	state_put_u32(o, p->nsources);
	state_put_u32(o, p->ncontexts);
	for (unsigned src = 0; src < p->nsources; src++)
		state_put_u32(o, r.priority[src]);
	for (unsigned w = 0; w < nw; w++)
		state_put_u32(o, r.pending[w]);
	for (unsigned w = 0; w < nw; w++)
		state_put_u32(o, r.claimed[w]);
	for (unsigned w = 0; w < nw; w++)
		state_put_u32(o, r.level[w]);
	for (unsigned ctx = 0; ctx < p->ncontexts; ctx++) {
		for (unsigned w = 0; w < nw; w++)
			state_put_u32(o, r.enable[ctx][w]);
		state_put_u32(o, r.threshold[ctx]);
	}
	state_end(o);
}

/* Read nw words of source bits named what (context ctx, or -1 for none) into words, checking
 * that only existing sources have bits. */
static bool plic_get_bits(struct plic *p, struct state_in *in, uint32_t *words, unsigned nw,
			  const char *what, int ctx)
{
	for (unsigned w = 0; w < nw; w++) {
		words[w] = state_get_u32(in);
		uint32_t bad = words[w] & ~plic_valid_mask(p, w);
		if (ctx < 0 && !state_check(in, !bad,
					    "%s word %u has bits of sources that do not exist "
					    "(0x%08x; sources are 1..%u)",
					    what, w, bad, p->nsources - 1))
			return false;
		if (ctx >= 0 && !state_check(in, !bad,
					     "%s word %u of context %d has bits of sources that do "
					     "not exist (0x%08x; sources are 1..%u)",
					     what, w, ctx, bad, p->nsources - 1))
			return false;
	}
	return true;
}

int plic_state_load(struct plic *p, struct state_in *in)
{
	uint32_t version = state_enter(in, "plic");
	if (!state_check(in, version == PLIC_STATE_VERSION,
			 "layout version %u, this build reads %u", version, PLIC_STATE_VERSION))
		return -EINVAL;
	uint32_t nsources = state_get_u32(in), ncontexts = state_get_u32(in);
	if (!state_check(in, nsources == p->nsources,
			 "the snapshot has %u interrupt sources, this PLIC %u", nsources,
			 p->nsources) ||
	    !state_check(in, ncontexts == p->ncontexts,
			 "the snapshot has %u contexts, this PLIC %u", ncontexts, p->ncontexts))
		return -EINVAL;
	struct plic_regs r;
	memset(&r, 0, sizeof(r));
	unsigned nw = plic_words(p);
	for (unsigned src = 0; src < p->nsources; src++) {
		r.priority[src] = state_get_u32(in);
		if (!state_check(in, r.priority[src] <= (src ? PLIC_PRIORITY_MASK : 0),
				 "priority of source %u is %u, above the maximum %u", src,
				 r.priority[src], src ? PLIC_PRIORITY_MASK : 0))
			return -EINVAL;
	}
	if (!plic_get_bits(p, in, r.pending, nw, "pending", -1) ||
	    !plic_get_bits(p, in, r.claimed, nw, "claimed", -1) ||
	    !plic_get_bits(p, in, r.level, nw, "level", -1))
		return -EINVAL;
	for (unsigned w = 0; w < nw; w++)
		if (!state_check(in, !(r.pending[w] & r.claimed[w]),
				 "pending word %u has sources that are also claimed (0x%08x)", w,
				 r.pending[w] & r.claimed[w]))
			return -EINVAL;
	for (unsigned ctx = 0; ctx < p->ncontexts; ctx++) {
		if (!plic_get_bits(p, in, r.enable[ctx], nw, "enable", (int)ctx))
			return -EINVAL;
		r.threshold[ctx] = state_get_u32(in);
		if (!state_check(in, r.threshold[ctx] <= PLIC_PRIORITY_MASK,
				 "threshold of context %u is %u, above the maximum %u", ctx,
				 r.threshold[ctx], PLIC_PRIORITY_MASK))
			return -EINVAL;
	}
	if (!state_leave(in) ||
	    !state_check(in, plic_restore(p, &r) == 0, "the registers are inconsistent"))
		return -EINVAL;
	return 0;
}
