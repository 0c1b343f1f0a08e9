/* Unit tests of a hart's snapshot section (src/cpu/hart_state.c): every architectural field
 * round-trips; a hart loaded from the section over stale caches (TLB entries, decoded pages,
 * translations of other code and other mappings) runs the next instructions exactly as the
 * saved one does, through Sv39 paging, LR/SC, the FPU and the counters, under the interpreter
 * and under the translator; and hostile sections (cut short, trailing bytes, another layout
 * version, misa or mhartid of another machine, priv 2, an unsupported satp mode, WARL values
 * no CSR write leaves, odd pc, bad flags) fail naming the field and leave the hart as it was. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/pmp.h"
#include "cpu/isa.h"
#include "jit/jit.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"
#include "state/stream.h"

#define RAM      0x80000000ull
#define RAM_SIZE (4ull << 20)
#define CODE     (RAM + 0x1000)  /* VA 0x40001000 through the 1 GiB page */
#define DATA     (RAM + 0x20000) /* VA 0x1000 in machine A */
#define STALE    (RAM + 0x30000) /* VA 0x1000 in machine B before the load */
#define ENTRY    0x40001000ull
#define HEADER   (1 + 4 + 4 + 8) /* a "hart" section's name length, name, version, length */

/* The program the saved hart runs (riscv64-linux-gnu-as -march=rv64gc, .option norvc). */
static const uint32_t prog[] = {
    0x000012b7, /* lui t0,0x1 */
    0x0002b503, /* ld a0,0(t0): through the Sv39 4 KiB page */
    0x00750513, /* addi a0,a0,7 */
    0x00a2b423, /* sd a0,8(t0) */
    0x1002b5af, /* lr.d a1,(t0) */
    0x0102b007, /* fld ft0,16(t0) */
    /* ---- saved here (6 instructions retired) ---- */
    0x020070d3, /* fadd.d ft1,ft0,ft0: frm = dyn */
    0x14002673, /* csrr a2,sscratch */
    0x00160613, /* addi a2,a2,1 */
    0x14061073, /* csrw sscratch,a2 */
    0x18a2b6af, /* sc.d a3,a0,(t0): succeeds only with the reservation */
    0x0002b703, /* ld a4,0(t0) */
    0x001027f3, /* frflags a5 */
    0x1a307153, /* fdiv.d ft2,ft0,ft3: inexact */
    0x00102873, /* frflags a6 */
    0xc02028f3, /* rdinstret a7 */
    0x02b50933, /* mul s2,a0,a1 */
    0x00000413, /* li s0,0 */
    0x00500493, /* li s1,5 */
    0x00140413, /* 1: addi s0,s0,1 */
    0x0082bc23, /* sd s0,24(t0) */
    0xfe944ce3, /* blt s0,s1,1b */
    0x140029f3, /* csrr s3,sscratch */
    0xe2010a53, /* fmv.x.d s4,ft2 */
    0x0092baaf, /* amoadd.d s5,s1,(t0) */
    0x0002bb03, /* ld s6,0(t0) */
    0x0000006f, /* 2: j 2b */
};
#define SAVE_AT 6
#define END_PC  (ENTRY + 4 * (sizeof(prog) / 4 - 1))

/* What machine B's hart runs before the load: other code at the same addresses, through
 * another mapping of VA 0x1000, so that its caches are all stale afterwards. */
static const uint32_t old_prog[] = {
    0x000012b7, /* lui t0,0x1 */
    0x0002b503, /* ld a0,0(t0) */
    0x00828313, /* addi t1,t0,8 */
    0x100335af, /* lr.d a1,(t1) */
    0x06450513, /* addi a0,a0,100 */
    0x0002b187, /* fld ft3,0(t0) */
    0x00340413, /* 1: addi s0,s0,3 */
    0x0082b823, /* sd s0,16(t0) */
    0xff9ff06f, /* j 1b */
};

struct machine {
	struct guest_mem mem;
	struct bus bus;
	struct hart *h;
	uint64_t now;
};

struct fixture {
	struct machine a, b; /* a: the saved hart; b: the hart loading it */
	struct state_out o;
};

static uint64_t fake_time(void *opaque)
{
	return ((struct machine *)opaque)->now;
}

static void machine_init(struct machine *m, uint64_t hartid)
{
	assert_int_equal(guest_mem_init(&m->mem, RAM, RAM_SIZE), 0);
	m->h = calloc(1, sizeof(*m->h));
	assert_non_null(m->h);
	struct hart_env env = {.opaque = m, .time_now = fake_time};
	assert_int_equal(hart_init(m->h, hartid, &m->mem, &m->bus, &env), 0);
	/* PMP entry 0 gives S and U all memory, as M-mode firmware would (with every entry OFF
	 * they could reach nothing). */
	assert_true(csr_write(m->h, CSR_PMPADDR0, ~0ull));
	assert_true(csr_write(m->h, CSR_PMPCFG0, 0x1f));
	m->now = 777;
}

static void machine_destroy(struct machine *m)
{
	hart_destroy(m->h);
	free(m->h);
	guest_mem_destroy(&m->mem);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	machine_init(&f->a, 0);
	machine_init(&f->b, 0);
	state_out_init(&f->o);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	machine_destroy(&f->a);
	machine_destroy(&f->b);
	state_out_free(&f->o);
	free(f);
	return 0;
}

static uint64_t *ram64(struct machine *m, uint64_t gpa)
{
	uint64_t *p = guest_mem_ptr(&m->mem, gpa, 8);
	assert_non_null(p);
	return p;
}

static uint64_t pte(uint64_t pa, uint64_t flags)
{
	return ((pa >> 12) << 10) | flags | 1; /* V */
}

/* Sv39: VA 0x40000000 -> RAM (1 GiB, RWX), VA 0x1000 -> data (4 KiB, RW). Returns satp. */
static uint64_t build_tables(struct machine *m, uint64_t data)
{
	uint64_t root = RAM + 0x10000, l1 = RAM + 0x11000, l0 = RAM + 0x12000;
	const uint64_t R = 2, W = 4, X = 8, A = 64, D = 128;
	memset(guest_mem_ptr(&m->mem, root, 0x3000), 0, 0x3000);
	*ram64(m, root) = pte(l1, 0);
	*ram64(m, root + 8) = pte(RAM, R | W | X | A | D);
	*ram64(m, l1) = pte(l0, 0);
	*ram64(m, l0 + 8) = pte(data, R | W | A | D);
	return (8ull << 60) | (root >> 12);
}

static void load_code(struct machine *m, const uint32_t *code, size_t bytes)
{
	memcpy(guest_mem_ptr(&m->mem, CODE, bytes), code, bytes);
}

static uint64_t dbl(double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	return v;
}

/* Give hart h a state unlike the reset one in every field, through the CSR writes (as M-mode
 * software would), then enter S-mode at ENTRY with Sv39 paging. */
static void busy_state(struct machine *m, uint64_t satp)
{
	struct hart *h = m->h;
	for (unsigned i = 1; i < 32; i++)
		h->x[i] = 0x1000ull * i + i;
	for (unsigned i = 0; i < 32; i++)
		h->f[i] = 0xffffffff00000000ull | i; /* NaN-boxed singles */
	h->f[3] = dbl(7.0);
	assert_true(csr_write(h, CSR_MSTATUS,
			      MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SUM |
				  (1ull << MSTATUS_MPP_SHIFT) | (FS_INITIAL << MSTATUS_FS_SHIFT)));
	assert_true(csr_write(h, CSR_FCSR, (RM_RDN << 5) | FFLAG_DZ));
	assert_true(csr_write(h, CSR_MEDELEG, 0xb1ff));
	assert_true(csr_write(h, CSR_MIDELEG, MIP_SSIP | MIP_STIP | MIP_SEIP));
	assert_true(csr_write(h, CSR_MIE, MIP_SSIP | MIP_STIP | MIP_SEIP | MIP_MTIP));
	assert_true(csr_write(h, CSR_MTVEC, 0x80000101));
	assert_true(csr_write(h, CSR_STVEC, 0x40000800));
	assert_true(csr_write(h, CSR_MSCRATCH, 0x1234));
	assert_true(csr_write(h, CSR_SSCRATCH, 0x5678));
	assert_true(csr_write(h, CSR_MEPC, 0x40000200));
	assert_true(csr_write(h, CSR_MCAUSE, 9));
	assert_true(csr_write(h, CSR_MTVAL, 0xabc));
	assert_true(csr_write(h, CSR_SEPC, 0x3000));
	assert_true(csr_write(h, CSR_SCAUSE, CAUSE_INTERRUPT | 5));
	assert_true(csr_write(h, CSR_STVAL, 0xdef));
	assert_true(csr_write(h, CSR_MCOUNTEREN, 7));
	assert_true(csr_write(h, CSR_SCOUNTEREN, 5));
	assert_true(csr_write(h, CSR_MCOUNTINHIBIT, 4));
	assert_true(csr_write(h, CSR_MENVCFG, MENVCFG_STCE | MENVCFG_FIOM));
	assert_true(csr_write(h, CSR_SENVCFG, MENVCFG_FIOM));
	assert_true(csr_write(h, CSR_STIMECMP, 1000000000));
	/* PMP entry 8 gives S all memory (NAPOT over everything); entry 5 is OFF. */
	assert_true(csr_write(h, CSR_PMPCFG0 + 2, 0x1f));
	assert_true(csr_write(h, CSR_PMPADDR0 + 8, ~0ull));
	assert_true(csr_write(h, CSR_PMPADDR0 + 5, 0x12345));
	assert_true(csr_write(h, CSR_SATP, satp));
	atomic_store(&h->mtimecmp, 5000);
	hart_set_mip(h, MIP_SSIP | MIP_SEIP, true);
	h->m_trap_fatal = true;
	h->tohost_gpa = RAM + 0x3f000;
	h->priv = PRV_S;
	h->pc = h->pc_next = ENTRY;
	hart_update_mode(h);
}

/* Machine A: the program and its data, the hart in busy_state, run up to the save point. */
static void prepare_a(struct fixture *f)
{
	struct machine *a = &f->a;
	load_code(a, prog, sizeof(prog));
	*ram64(a, DATA) = 0x1111;
	*ram64(a, DATA + 16) = dbl(3.0);
	*ram64(a, STALE) = 0xbad;
	busy_state(a, build_tables(a, DATA));
	assert_int_equal(hart_run_budget(a->h, SAVE_AT), SAVE_AT);
	assert_int_equal(a->h->pc, ENTRY + 4 * SAVE_AT);
	assert_int_equal(a->h->reservation, DATA);
}

/* Machine B: other code and another mapping, run long enough to fill every cache. */
static void dirty_b(struct fixture *f, bool jit)
{
	struct machine *b = &f->b;
	load_code(b, old_prog, sizeof(old_prog));
	*ram64(b, STALE) = 0x2222;
	struct hart *h = b->h;
	assert_true(csr_write(h, CSR_MSTATUS, FS_INITIAL << MSTATUS_FS_SHIFT | MSTATUS_SUM));
	assert_true(csr_write(h, CSR_SATP, build_tables(b, STALE)));
	h->priv = PRV_S;
	h->pc = h->pc_next = ENTRY;
	hart_update_mode(h);
	if (jit) {
		for (unsigned i = 0; i < 20; i++)
			jit_run_budget(h, 64);
	} else {
		hart_run_budget(h, 300);
	}
	assert_int_equal(h->x[10], 0x2222 + 100); /* it did run through the stale mapping */
	assert_int_equal(h->reservation, STALE + 8);
}

static void save(struct fixture *f, const struct hart *h)
{
	state_out_free(&f->o);
	state_out_init(&f->o);
	hart_state_save(h, &f->o);
	assert_false(f->o.failed);
}

static int load(struct hart *h, const void *buf, size_t len, struct state_in *in)
{
	state_in_init(in, buf, len);
	return hart_state_load(h, in);
}

/* Every saved field of two harts equal, and the state derived from them. */
static void assert_same_hart(const struct hart *x, const struct hart *y)
{
	assert_int_equal(x->pc, y->pc);
	for (unsigned i = 0; i < 32; i++) {
		assert_int_equal(x->x[i], y->x[i]);
		assert_int_equal(x->f[i], y->f[i]);
	}
	assert_int_equal(x->fflags, y->fflags);
	assert_int_equal(x->frm, y->frm);
	assert_int_equal(x->priv, y->priv);
	assert_int_equal(x->mstatus, y->mstatus);
	assert_int_equal(atomic_load(&x->mip), atomic_load(&y->mip));
	assert_int_equal(x->mie, y->mie);
	assert_int_equal(x->mideleg, y->mideleg);
	assert_int_equal(x->medeleg, y->medeleg);
	assert_int_equal(x->mtvec, y->mtvec);
	assert_int_equal(x->mscratch, y->mscratch);
	assert_int_equal(x->mepc, y->mepc);
	assert_int_equal(x->mcause, y->mcause);
	assert_int_equal(x->mtval, y->mtval);
	assert_int_equal(x->stvec, y->stvec);
	assert_int_equal(x->sscratch, y->sscratch);
	assert_int_equal(x->sepc, y->sepc);
	assert_int_equal(x->scause, y->scause);
	assert_int_equal(x->stval, y->stval);
	assert_int_equal(x->satp, y->satp);
	assert_int_equal(x->mcounteren, y->mcounteren);
	assert_int_equal(x->scounteren, y->scounteren);
	assert_int_equal(x->mcountinhibit, y->mcountinhibit);
	assert_int_equal(x->menvcfg, y->menvcfg);
	assert_int_equal(x->senvcfg, y->senvcfg);
	assert_int_equal(x->stimecmp, y->stimecmp);
	assert_int_equal(atomic_load(&x->mtimecmp), atomic_load(&y->mtimecmp));
	assert_int_equal(hart_instret(x), hart_instret(y));
	assert_int_equal(x->reservation, y->reservation);
	assert_int_equal(x->reservation_val, y->reservation_val);
	assert_int_equal(x->mhartid, y->mhartid);
	assert_int_equal(x->misa, y->misa);
	assert_memory_equal(x->pmpcfg, y->pmpcfg, sizeof(x->pmpcfg));
	assert_memory_equal(x->pmpaddr, y->pmpaddr, sizeof(x->pmpaddr));
	assert_int_equal(x->mtval2, y->mtval2);
	assert_int_equal(x->mtinst, y->mtinst);
	assert_int_equal(x->tselect, y->tselect);
	assert_int_equal(atomic_load(&x->stopped), atomic_load(&y->stopped));
	assert_int_equal(x->wfi, y->wfi);
	assert_int_equal(x->m_trap_fatal, y->m_trap_fatal);
	assert_int_equal(x->tohost_gpa, y->tohost_gpa);
	assert_int_equal(x->isa_ext, y->isa_ext);
	/* derived */
	assert_int_equal(x->fs_off, y->fs_off);
	assert_int_equal(x->dtlb - x->tlb, y->dtlb - y->tlb);
	assert_int_equal(x->itlb - x->itlb_set[0], y->itlb - y->itlb_set[0]);
}

/* ---- round trips ---- */

static void test_every_field_round_trips(void **state)
{
	struct fixture *f = *state;
	prepare_a(f);
	struct hart *a = f->a.h, *b = f->b.h;
	/* Fields the program does not reach, set directly. */
	a->mtval2 = 0x55;
	a->mtinst = 0x66;
	a->tselect = 0x77;
	/* The extensions, and the menvcfg fields that exist only with them. */
	a->isa_ext = ISA_EXT_ALL;
	assert_true(csr_debug_write(a, CSR_MENVCFG, a->menvcfg | MENVCFG_CBIE | MENVCFG_CBZE));
	assert_int_equal(b->isa_ext, ISA_EXT_RV64GC);
	save(f, a);
	/* The section: one "hart" section of the documented length, nothing else. */
	assert_int_equal(f->o.len, HEADER + 1430);
	assert_memory_equal(f->o.buf, "\x04hart\x03\x00\x00\x00", 9);
	struct state_in in;
	assert_int_equal(load(b, f->o.buf, f->o.len, &in), 0);
	assert_false(in.failed);
	assert_int_equal(in.pos, in.len);
	assert_same_hart(a, b);
	assert_int_equal(b->pc_next, b->pc);
	assert_int_equal(b->priv, PRV_S);
	assert_int_equal(b->dtlb - b->tlb, 2); /* S with SUM */
	assert_int_equal(b->reservation, DATA);
	assert_int_equal(hart_instret(b), SAVE_AT);
	/* Saving the loaded hart gives the same bytes. */
	struct state_out o2;
	state_out_init(&o2);
	hart_state_save(b, &o2);
	assert_int_equal(o2.len, f->o.len);
	assert_memory_equal(o2.buf, f->o.buf, f->o.len);
	state_out_free(&o2);
}

/* A batch running when the state is saved (budget not spent) counts in instret; the run state
 * (HSM stopped, WFI) and M-mode round-trip too. */
static void test_instret_of_running_batch_and_run_state(void **state)
{
	struct fixture *f = *state;
	struct hart *a = f->a.h, *b = f->b.h;
	a->instret = 1000;
	a->batch_len = 100;
	a->budget = 40;
	atomic_store(&a->stopped, 1);
	a->wfi = true;
	a->pc = 0x80000ffe;
	save(f, a);
	struct state_in in;
	assert_int_equal(load(b, f->o.buf, f->o.len, &in), 0);
	assert_int_equal(hart_instret(b), 1060);
	assert_int_equal(b->instret, 1060);
	assert_int_equal(b->budget, 0);
	assert_int_equal(atomic_load(&b->stopped), 1);
	assert_true(b->wfi);
	assert_int_equal(b->priv, PRV_M);
	assert_int_equal(b->pc, 0x80000ffe);
	assert_int_equal(b->dtlb - b->tlb, 3);
}

/* After the load both harts execute the same instructions with the same results, one at a
 * time, over stale caches in b. step_b runs b by at least one instruction, returning the
 * count. */
static void run_lockstep(struct fixture *f, uint64_t (*step_b)(struct hart *))
{
	struct hart *a = f->a.h, *b = f->b.h;
	unsigned steps = 0;
	while (a->pc != END_PC || steps < 30) {
		uint64_t n = step_b(b);
		assert_true(n >= 1);
		for (uint64_t done = 0; done < n;)
			done += hart_run_budget(a, (int32_t)(n - done));
		assert_same_hart(a, b);
		assert_true(++steps < 200);
	}
	assert_memory_equal(f->a.mem.hva, f->b.mem.hva, RAM_SIZE);
	/* What the program computed, through the restored reservation, FPU and counters. */
	assert_int_equal(b->x[13], 0);                   /* sc.d succeeded */
	assert_int_equal(b->x[14], 0x1111 + 7);          /* through the new mapping */
	assert_int_equal(b->x[15], FFLAG_DZ);            /* fflags as saved */
	assert_int_equal(b->x[16], FFLAG_DZ | FFLAG_NX); /* and the fdiv's */
	assert_int_equal(b->x[17], 15);                  /* instret counted on */
	assert_int_equal(b->x[19], 0x5678 + 1);          /* sscratch */
	assert_int_equal(b->x[22], 0x1111 + 7 + 5);      /* amoadd */
	assert_int_equal(*ram64(&f->b, DATA + 24), 5);   /* the loop's stores */
	/* The same pending interrupt is taken the same way. */
	assert_true(hart_check_interrupts(a));
	assert_true(hart_check_interrupts(b));
	assert_same_hart(a, b);
	assert_int_equal(b->scause, CAUSE_INTERRUPT | IRQ_S_EXT);
	assert_int_equal(b->pc, 0x40000800);
}

static uint64_t interp_step(struct hart *h)
{
	return hart_run_budget(h, 1);
}

static uint64_t jit_step(struct hart *h)
{
	return jit_run_budget(h, 1);
}

static void restore_into_b(struct fixture *f)
{
	save(f, f->a.h);
	/* The RAM of the snapshot replaces b's, behind the hart's back. */
	memcpy(f->b.mem.hva, f->a.mem.hva, RAM_SIZE);
	struct state_in in;
	assert_int_equal(load(f->b.h, f->o.buf, f->o.len, &in), 0);
	assert_same_hart(f->a.h, f->b.h);
}

static void test_runs_on_identically_interpreted(void **state)
{
	struct fixture *f = *state;
	prepare_a(f);
	dirty_b(f, false);
	restore_into_b(f);
	run_lockstep(f, interp_step);
}

static void test_runs_on_identically_translated(void **state)
{
	struct fixture *f = *state;
	if (!jit_available())
		skip();
	assert_int_equal(jit_init(f->b.h, JIT_CACHE_MIN), 0);
	prepare_a(f);
	dirty_b(f, true);
	restore_into_b(f);
	run_lockstep(f, jit_step);
}

/* ---- hostile sections ---- */

/* Load buf into b, which must fail with -EINVAL and an error naming what, leaving b's state
 * as it was. */
static void assert_rejected(struct fixture *f, const void *buf, size_t len, const char *what)
{
	struct hart *b = f->b.h;
	struct state_out before, after;
	state_out_init(&before);
	state_out_init(&after);
	hart_state_save(b, &before);
	struct state_in in;
	assert_int_equal(load(b, buf, len, &in), -EINVAL);
	assert_true(in.failed);
	if (!strstr(in.err, what))
		fail_msg("error \"%s\" does not name \"%s\"", in.err, what);
	hart_state_save(b, &after);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.buf, after.buf, before.len);
	state_out_free(&before);
	state_out_free(&after);
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A version-1 section (without isa_ext) loads as a plain RV64GC hart, into a hart that had
 * every extension; menvcfg's cache-block enables are refused for an RV64GC hart. */
static void test_version_1_is_rv64gc(void **state)
{
	struct fixture *f = *state;
	prepare_a(f);
	save(f, f->a.h);
	size_t len = f->o.len - 8;
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	memcpy(buf, f->o.buf, len);
	put_le(buf + 5, 1, 4);
	put_le(buf + 9, len - HEADER, 8);
	struct hart *b = f->b.h;
	b->isa_ext = ISA_EXT_ALL;
	struct state_in in;
	assert_int_equal(load(b, buf, len, &in), 0);
	assert_int_equal(b->isa_ext, ISA_EXT_RV64GC);
	free(buf);

	/* Version 2, RV64GC, with CBZE set in menvcfg: not a value its menvcfg can hold. */
	struct hart *a = f->a.h;
	a->isa_ext = ISA_EXT_ALL;
	assert_true(csr_debug_write(a, CSR_MENVCFG, MENVCFG_CBZE));
	a->isa_ext = ISA_EXT_RV64GC;
	save(f, a);
	assert_rejected(f, f->o.buf, f->o.len, "menvcfg");
}

/* PMP state a build that did not enforce PMP could save (layout versions 1 and 2): what
 * entries 16-63 held is dropped (they read as zero now); a hart without M-mode software
 * (built-in SBI) with every entry OFF gets entry 0 over all memory, as its machine now starts
 * it; with firmware, entries all OFF are what the firmware left, and stay. A version-3
 * section (saved with PMP enforced) loads as it is, and one with entries 16-63 set is
 * refused. */
static void test_pmp_of_older_builds(void **state)
{
	struct fixture *f = *state;
	prepare_a(f);
	struct hart *a = f->a.h, *b = f->b.h;
	struct state_in in;
	uint64_t v;
	a->pmpcfg[4] = 0x1f; /* entry 16, as older builds' CSR writes left it */
	a->pmpaddr[20] = 0x1234;
	save(f, a);
	assert_rejected(f, f->o.buf, f->o.len, "PMP entries 16-63");
	f->o.buf[5] = 2; /* as a build before PMP saved it */
	assert_int_equal(load(b, f->o.buf, f->o.len, &in), 0);
	assert_int_equal(b->pmpcfg[4], 0);
	assert_int_equal(b->pmpaddr[20], 0);
	assert_true(csr_debug_read(b, CSR_PMPADDR0 + 20, &v));
	assert_int_equal(v, 0);
	assert_int_equal(b->pmpcfg[2], a->pmpcfg[2]);
	assert_int_equal(b->pmpaddr[8], a->pmpaddr[8]);

	a->pmpcfg[0] = a->pmpcfg[2] = a->pmpcfg[4] = 0;
	a->pmpaddr[0] = a->pmpaddr[20] = 0;
	assert_true(a->m_trap_fatal);
	save(f, a);
	/* Version 3: every entry OFF is what was saved. */
	assert_int_equal(load(b, f->o.buf, f->o.len, &in), 0);
	assert_int_equal(b->pmpcfg[0], 0);
	assert_int_equal(pmp_check(b, RAM, 8, PMP_R, PRV_S), PMP_DENY);
	f->o.buf[5] = 2;
	assert_int_equal(load(b, f->o.buf, f->o.len, &in), 0);
	assert_int_equal(b->pmpcfg[0], 0x1f);
	assert_int_equal(b->pmpaddr[0], (1ull << 54) - 1);
	assert_int_equal(pmp_check(b, RAM, 8, PMP_W, PRV_S), PMP_ALLOW_PAGE);

	a->m_trap_fatal = false;
	save(f, a);
	f->o.buf[5] = 2;
	assert_int_equal(load(b, f->o.buf, f->o.len, &in), 0);
	assert_int_equal(b->pmpcfg[0], 0);
	assert_int_equal(pmp_check(b, RAM, 8, PMP_R, PRV_S), PMP_DENY);
	assert_int_equal(pmp_check(b, RAM, 8, PMP_W, PRV_M), PMP_ALLOW_PAGE);
}

static void test_rejects_malformed_sections(void **state)
{
	struct fixture *f = *state;
	prepare_a(f);
	save(f, f->a.h);
	size_t len = f->o.len;
	uint8_t *buf = malloc(len + 1);
	assert_non_null(buf);

	/* The payload one byte short of the fields. */
	memcpy(buf, f->o.buf, len);
	put_le(buf + 9, len - HEADER - 1, 8);
	assert_rejected(f, buf, len - 1, "shorter than its fields");
	/* The stream ends inside the section. */
	assert_rejected(f, f->o.buf, len - 1, "cut short");
	/* A byte past the fields. */
	memcpy(buf, f->o.buf, len);
	put_le(buf + 9, len - HEADER + 1, 8);
	buf[len] = 0;
	assert_rejected(f, buf, len + 1, "past its fields");
	/* Another layout version. */
	memcpy(buf, f->o.buf, len);
	put_le(buf + 5, 4, 4);
	assert_rejected(f, buf, len, "layout version 4");
	put_le(buf + 5, 0, 4);
	assert_rejected(f, buf, len, "layout version 0");
	/* Another section. */
	memcpy(buf, f->o.buf, len);
	memcpy(buf + 1, "hurt", 4);
	assert_rejected(f, buf, len, "section hurt where section hart should be");
	/* Flags that are not 0 or 1 (stopped, wfi, m_trap_fatal: the last bytes before tohost). */
	const char *flags[] = {"stopped", "wfi", "m_trap_fatal"};
	for (unsigned i = 0; i < 3; i++) {
		memcpy(buf, f->o.buf, len);
		buf[len - 19 + i] = 2;
		assert_rejected(f, buf, len, flags[i]);
	}
	/* Extensions this build does not implement. */
	memcpy(buf, f->o.buf, len);
	put_le(buf + len - 8, 1ull << 63, 8);
	assert_rejected(f, buf, len, "isa_ext");
	free(buf);

	/* b is still loadable, and loads. */
	struct state_in in;
	assert_int_equal(load(f->b.h, f->o.buf, f->o.len, &in), 0);
	assert_same_hart(f->a.h, f->b.h);
}

/* Save a after set changed one field, and check that b rejects it naming what. */
static void reject_field(struct fixture *f, void (*set)(struct hart *), const char *what)
{
	machine_destroy(&f->a);
	machine_init(&f->a, 0);
	set(f->a.h);
	save(f, f->a.h);
	assert_rejected(f, f->o.buf, f->o.len, what);
}

static void set_misa(struct hart *h)
{
	h->misa &= ~(1ull << ('C' - 'A'));
}
static void set_priv2(struct hart *h)
{
	h->priv = 2;
}
static void set_satp_mode(struct hart *h)
{
	h->satp = (5ull << 60) | 0x1234;
}
static void set_satp_bare_ppn(struct hart *h)
{
	h->satp = 0x1234; /* Bare with a PPN: a satp write leaves 0 */
}
static void set_mpp2(struct hart *h)
{
	h->mstatus |= 2ull << MSTATUS_MPP_SHIFT;
}
static void set_mstatus_uxl(struct hart *h)
{
	h->mstatus &= ~MSTATUS_UXL; /* UXL is fixed at 64 */
}
static void set_mideleg(struct hart *h)
{
	h->mideleg = MIP_MEIP;
}
static void set_mepc_odd(struct hart *h)
{
	h->mepc = 0x80000001;
}
static void set_pmpcfg_odd(struct hart *h)
{
	h->pmpcfg[1] = 0x1f;
}
static void set_pmpaddr(struct hart *h)
{
	h->pmpaddr[63] = 1ull << 60;
}
static void set_pc_odd(struct hart *h)
{
	h->pc = 0x80000001;
}
static void set_x0(struct hart *h)
{
	h->x[0] = 5;
}
static void set_frm(struct hart *h)
{
	h->frm = 8;
}
static void set_fflags(struct hart *h)
{
	h->fflags = 0x20;
}
static void set_mip(struct hart *h)
{
	atomic_store(&h->mip, 1ull << 13);
}
static void set_reservation(struct hart *h)
{
	h->reservation = 0x1000;
}
static void set_tohost(struct hart *h)
{
	h->tohost_gpa = RAM + RAM_SIZE - 4;
}

static void test_rejects_bad_values(void **state)
{
	struct fixture *f = *state;
	reject_field(f, set_misa, "misa 0x8000000000141129, this machine's harts have");
	reject_field(f, set_priv2, "priv 2 is not U (0), S (1) or M (3)");
	reject_field(f, set_satp_mode, "satp mode 5 is not Bare, Sv39, Sv48 or Sv57");
	reject_field(f, set_satp_bare_ppn, "satp 0x1234");
	reject_field(f, set_mpp2, "mstatus 0x");
	reject_field(f, set_mstatus_uxl, "mstatus 0x");
	reject_field(f, set_mideleg, "mideleg 0x800");
	reject_field(f, set_mepc_odd, "mepc 0x80000001");
	reject_field(f, set_pmpcfg_odd, "pmpcfg1 0x1f");
	reject_field(f, set_pmpaddr, "pmpaddr63");
	reject_field(f, set_pc_odd, "pc 0x80000001 is odd");
	reject_field(f, set_x0, "x0 is 0x5");
	reject_field(f, set_frm, "frm 8");
	reject_field(f, set_fflags, "fflags 0x20");
	reject_field(f, set_mip, "mip 0x2000");
	reject_field(f, set_reservation, "reservation 0x1000");
	reject_field(f, set_tohost, "tohost_gpa");
}

static void test_rejects_another_hart(void **state)
{
	struct fixture *f = *state;
	machine_destroy(&f->a);
	machine_init(&f->a, 1);
	save(f, f->a.h);
	assert_rejected(f, f->o.buf, f->o.len, "mhartid 1 where this hart is 0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_every_field_round_trips, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_instret_of_running_batch_and_run_state, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_runs_on_identically_interpreted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_runs_on_identically_translated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rejects_malformed_sections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rejects_bad_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rejects_another_hart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_version_1_is_rv64gc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pmp_of_older_builds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
