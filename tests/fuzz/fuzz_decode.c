/* libFuzzer target for the instruction decoder (src/cpu/decode.c), the interpreter
 * (src/cpu/exec*.c) and, on a host with a translator back end, the translator (src/jit/):
 * the input is a hart's starting state and the code and data it runs on.
 *
 * Input layout (little-endian):
 *   0  u8  flags: bit 0 start in S-mode (else M), bit 1 Sv39 paging (satp's root at RAM +
 *          0x4000, tables from the input), bit 2 an RV64GC hart (else every extension),
 *          bit 3 mstatus.FS on, bit 4 mstatus.MPRV with MPP = S
 *   1  u8  steps (at most MAX_STEPS)      2-7 unused
 *   8  x1-x31, u64 each (x0 stays 0)
 *   256 the RAM image (RAM is 64 KiB at 0x80000000; the code starts at its base, the trap
 *      vector mtvec = stvec = RAM + 0x100, the rest of RAM zero)
 *
 * Checks (abort() when broken): every 32-bit word of the image decodes (decode, decode_isa
 * for RV64GC and for every extension) to a known op with register numbers below 32 and the
 * length its low bits give; decode_isa agrees with decode except where the op needs an
 * extension the hart lacks, where it gives OP_ILLEGAL with the raw bits. Then the hart runs
 * up to `steps` translated blocks (each followed by the interpreter running the same number
 * of instructions on a copy of the hart and RAM), and after every step both copies agree on
 * the registers, pc, privilege and trap CSRs, and at the end on RAM; without a translator the
 * interpreter runs alone, one batch per step. AddressSanitizer sees every access to RAM (a heap
 * block). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/insn.h"
#include "cpu/isa.h"
#include "jit/jit.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_BASE  0x80000000ull
#define RAM_SIZE  0x10000ull
#define HEADER    256u
#define MAX_STEPS 64u
#define VECTOR    (RAM_BASE + 0x100)
#define PT_ROOT   (RAM_BASE + 0x4000)

struct side {
	struct guest_mem mem;
	struct bus bus;
	struct hart h;
};

static struct {
	struct side s[2]; /* 0 translated (when there is a translator), 1 interpreted */
	bool translated;
	bool ready;
} dz;

static void fail(const char *what, unsigned long long a, unsigned long long b)
{
	fprintf(stderr, "invariant broken: %s (0x%llx, 0x%llx)\n", what, a, b);
	abort();
}

static uint64_t fixed_time(void *opaque)
{
	(void)opaque;
	return 0x123456789ull;
}

static void setup(void)
{
	for (unsigned i = 0; i < 2; i++) {
		struct side *s = &dz.s[i];
		s->mem.hva = aligned_alloc(4096, RAM_SIZE);
		if (!s->mem.hva)
			abort();
		s->mem.base = RAM_BASE;
		s->mem.size = RAM_SIZE;
		s->mem.fd = -1;
		struct hart_env env = {.opaque = s, .time_now = fixed_time};
		if (hart_init(&s->h, 0, &s->mem, &s->bus, &env))
			abort();
	}
	dz.translated = jit_init(&dz.s[0].h, JIT_CACHE_MIN) == 0;
	dz.ready = true;
}

static void check_decode(uint32_t raw)
{
	struct insn_fields all, gc, max;
	decode(raw, &all);
	decode_isa(raw, 0, &gc);
	decode_isa(raw, ISA_EXT_ALL, &max);
	const struct insn_fields *f[3] = {&all, &gc, &max};
	for (unsigned i = 0; i < 3; i++) {
		if (f[i]->op >= OP_COUNT)
			fail("op in range", raw, f[i]->op);
		if (f[i]->len != insn_length((uint16_t)raw))
			fail("length from the low bits", raw, f[i]->len);
		if (f[i]->rd > 31 || f[i]->rs1 > 31 || f[i]->rs2 > 31 || f[i]->rs3 > 31)
			fail("register numbers below 32", raw, f[i]->op);
	}
	if (memcmp(&all, &max, sizeof(all)) && max.op != OP_ILLEGAL)
		fail("decode_isa with every extension agrees with decode", raw, max.op);
	if (gc.op != OP_ILLEGAL) {
		if (gc.op != all.op || gc.rd != all.rd || gc.rs1 != all.rs1 || gc.rs2 != all.rs2 ||
		    gc.imm != all.imm)
			fail("decode_isa for RV64GC agrees with decode where legal", raw, gc.op);
		if (insn_op_ext(gc.op))
			fail("an RV64GC hart decodes no extension op", raw, gc.op);
	} else if (all.op != OP_ILLEGAL && !insn_op_ext(all.op) && (raw & 3) == 3) {
		fail("an RV64GC op of 32 bits is legal on an RV64GC hart", raw, all.op);
	}
}

static void start(struct side *s, const uint8_t *data, size_t size)
{
	struct hart *h = &s->h;
	uint8_t flags = data[0];
	hart_reset(h, RAM_BASE);
	h->isa_ext = (flags & 4) ? 0 : ISA_EXT_ALL;
	memset(s->mem.hva, 0, RAM_SIZE);
	size_t n = size - HEADER < RAM_SIZE ? size - HEADER : RAM_SIZE;
	memcpy(s->mem.hva, data + HEADER, n);
	for (unsigned i = 1; i < 32; i++) {
		uint64_t v = 0;
		for (int b = 7; b >= 0; b--)
			v = v << 8 | data[8 + 8 * (i - 1) + b];
		h->x[i] = v;
	}
	h->mtvec = h->stvec = VECTOR;
	if (flags & 8)
		h->mstatus |= MSTATUS_FS;
	if (flags & 16)
		h->mstatus |= MSTATUS_MPRV | (1ull << MSTATUS_MPP_SHIFT);
	if (flags & 2)
		h->satp = (uint64_t)SATP_MODE_SV39 << SATP_MODE_SHIFT | PT_ROOT >> 12;
	if (flags & 1) {
		h->priv = PRV_S;
		h->medeleg = 0xb1ff; /* S handles its own faults, as a kernel would */
	}
	hart_update_mode(h);
	hart_flush_tlb(h);
	hart_flush_icache(h);
	if (h->jit)
		jit_fence_i(h, false);
}

static void compare(const struct side *a, const struct side *b, unsigned step, bool ram)
{
	const struct hart *x = &a->h, *y = &b->h;
	for (unsigned i = 0; i < 32; i++)
		if (x->x[i] != y->x[i] || x->f[i] != y->f[i])
			fail("translated and interpreted registers agree", i, step);
	if (x->pc != y->pc || x->priv != y->priv)
		fail("pc and privilege agree", x->pc, y->pc);
	if (x->mcause != y->mcause || x->mepc != y->mepc || x->mtval != y->mtval ||
	    x->scause != y->scause || x->sepc != y->sepc || x->stval != y->stval)
		fail("trap CSRs agree", x->mcause, y->mcause);
	if (hart_mstatus_read(x) != hart_mstatus_read(y) || x->fflags != y->fflags)
		fail("mstatus and fflags agree", hart_mstatus_read(x), hart_mstatus_read(y));
	if (ram && memcmp(a->mem.hva, b->mem.hva, RAM_SIZE))
		fail("RAM agrees", step, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER)
		return 0;
	if (!dz.ready)
		setup();
	for (size_t off = HEADER; off + 4 <= size && off < HEADER + RAM_SIZE; off += 2) {
		uint32_t raw = (uint32_t)data[off] | (uint32_t)data[off + 1] << 8 |
			       (uint32_t)data[off + 2] << 16 | (uint32_t)data[off + 3] << 24;
		check_decode(raw);
	}
	unsigned steps = data[1] < MAX_STEPS ? data[1] : MAX_STEPS;
	struct side *a = &dz.s[0], *b = &dz.s[1];
	start(b, data, size);
	if (!dz.translated) {
		for (unsigned i = 0; i < steps && !b->h.wfi; i++)
			hart_run_budget(&b->h, 64);
		return 0;
	}
	start(a, data, size);
	for (unsigned i = 0; i < steps; i++) {
		if (a->h.wfi || b->h.wfi)
			break;
		uint64_t k = jit_run_budget(&a->h, 1), kb = 0;
		/* As the lockstep tester does: the interpreter's batch ends where the block would
		 * (a trap, a change of mode) or sooner (a CSR write), then runs on to k. */
		if (k == 0) {
			hart_run_budget(&b->h, 1);
		} else {
			while (kb < k) {
				uint64_t n = hart_run_budget(&b->h, (int32_t)(k - kb));
				if (!n)
					break;
				kb += n;
			}
		}
		compare(a, b, i, false);
	}
	compare(a, b, steps, true);
	return 0;
}
