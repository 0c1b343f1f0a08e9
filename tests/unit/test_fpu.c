/* Unit tests of the F and D extensions (unprivileged spec 20191213, chapters 11 and 12): NaN
 * boxing, canonical NaNs, the five rounding modes, the accrued exception flags, minimumNumber/
 * maximumNumber, saturating conversions, classification, fused multiply-add and the rules on
 * rm and mstatus.FS. The handlers are called directly on a bare hart; expected values are
 * worked out from the spec and IEEE 754, except in one randomized test that checks the software
 * conversions against the host's IEEE conversions, and the unpacking of binary128 values (how
 * hosts other than x86-64 do RMM arithmetic) with known encodings and against the host's
 * binary64 multiplication. */
#include <fenv.h>
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/csr.h"
#include "cpu/exec.h"
#include "cpu/fpu.h"
#include "cpu/hart.h"

enum { RNE = RM_RNE, RTZ = RM_RTZ, RDN = RM_RDN, RUP = RM_RUP, RMM = RM_RMM, DYN = RM_DYN };
#define NX FFLAG_NX
#define UF FFLAG_UF
#define OF FFLAG_OF
#define DZ FFLAG_DZ
#define NV FFLAG_NV

#define BOX     0xffffffff00000000ull
#define S_CANON 0x7fc00000u
#define D_CANON 0x7ff8000000000000ull
#define S_ONE   0x3f800000u
#define D_ONE   0x3ff0000000000000ull

static int setup(void **state)
{
	struct hart *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	h->priv = PRV_S;
	h->mstatus = FS_DIRTY << MSTATUS_FS_SHIFT;
	hart_update_mode(h);
	assert_int_equal(h->fs_off, 0);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Execute handler fn with the given register numbers and rm (and rs3 for fused ops). */
static void run(struct hart *h, insn_fn fn, unsigned rd, unsigned rs1, unsigned rs2, unsigned rs3,
		unsigned rm)
{
	struct insn in = {.fn = fn,
			  .imm = (int32_t)(rm | rs3 << 3),
			  .rd = (uint8_t)rd,
			  .rs1 = (uint8_t)rs1,
			  .rs2 = (uint8_t)rs2,
			  .len = 4};
	h->mcause = 0;
	fn(h, &in);
}

/* f[rd] as a single: it must be NaN-boxed. */
static uint32_t get_s(const struct hart *h, unsigned r)
{
	assert_true((h->f[r] & BOX) == BOX);
	return (uint32_t)h->f[r];
}

/* Single-precision op on f1, f2, f3 into f4, with fflags set to pre first. */
static uint32_t op_s_pre(struct hart *h, insn_fn fn, uint32_t a, uint32_t b, uint32_t c,
			 unsigned rm, uint32_t pre)
{
	h->f[1] = BOX | a;
	h->f[2] = BOX | b;
	h->f[3] = BOX | c;
	h->f[4] = 0;
	h->fflags = pre;
	run(h, fn, 4, 1, 2, 3, rm);
	assert_int_equal(h->mcause, 0);
	return get_s(h, 4);
}

static uint32_t op_s(struct hart *h, insn_fn fn, uint32_t a, uint32_t b, uint32_t c, unsigned rm)
{
	return op_s_pre(h, fn, a, b, c, rm, 0);
}

static uint64_t op_d_pre(struct hart *h, insn_fn fn, uint64_t a, uint64_t b, uint64_t c,
			 unsigned rm, uint32_t pre)
{
	h->f[1] = a;
	h->f[2] = b;
	h->f[3] = c;
	h->f[4] = 0;
	h->fflags = pre;
	run(h, fn, 4, 1, 2, 3, rm);
	assert_int_equal(h->mcause, 0);
	return h->f[4];
}

static uint64_t op_d(struct hart *h, insn_fn fn, uint64_t a, uint64_t b, uint64_t c, unsigned rm)
{
	return op_d_pre(h, fn, a, b, c, rm, 0);
}

/* FP op whose result goes to x5 (compare, classify, convert to integer); source in f1, f2. */
static uint64_t op_x(struct hart *h, insn_fn fn, uint64_t a, uint64_t b, unsigned rm)
{
	h->f[1] = a;
	h->f[2] = b;
	h->x[5] = 0x5555;
	h->fflags = 0;
	run(h, fn, 5, 1, 2, 0, rm);
	assert_int_equal(h->mcause, 0);
	return h->x[5];
}

/* Integer-to-FP op: x6 into f4. */
static uint64_t op_from_x(struct hart *h, insn_fn fn, uint64_t x, unsigned rm)
{
	h->x[6] = x;
	h->f[4] = 0;
	h->fflags = 0;
	run(h, fn, 4, 6, 0, 0, rm);
	assert_int_equal(h->mcause, 0);
	return h->f[4];
}

/* ---- NaN boxing (spec 12.2) ---- */

static void test_nan_boxing(void **state)
{
	struct hart *h = *state;
	/* An operand whose upper half is not all ones is the canonical NaN (quiet: no NV). */
	h->f[1] = S_ONE; /* upper bits zero */
	h->f[2] = BOX | S_ONE;
	h->fflags = 0;
	run(h, exec_FADD_S, 3, 1, 2, 0, RNE);
	assert_int_equal(h->f[3], BOX | S_CANON);
	assert_int_equal(h->fflags, 0);
	h->f[1] = 0xfffffffe3f800000ull; /* one upper bit clear is enough */
	run(h, exec_FMUL_S, 3, 1, 2, 0, RNE);
	assert_int_equal(h->f[3], BOX | S_CANON);

	/* Sign injection, classification, comparison and FCVT.D.S see the canonical NaN too. */
	h->f[1] = 0x123456783f800000ull;
	h->f[2] = BOX | 0xbf800000u;
	run(h, exec_FSGNJ_S, 3, 1, 2, 0, 0);
	assert_int_equal(h->f[3], BOX | 0xffc00000u);
	run(h, exec_FCLASS_S, 5, 1, 0, 0, 0);
	assert_int_equal(h->x[5], 1u << 9);
	h->fflags = 0;
	run(h, exec_FEQ_S, 5, 1, 1, 0, 0);
	assert_int_equal(h->x[5], 0);
	assert_int_equal(h->fflags, 0);
	run(h, exec_FLE_S, 5, 2, 1, 0, 0);
	assert_int_equal(h->x[5], 0);
	assert_int_equal(h->fflags, NV);
	run(h, exec_FCVT_D_S, 3, 1, 0, 0, RNE);
	assert_int_equal(h->f[3], D_CANON);
	h->fflags = 0;
	run(h, exec_FCVT_W_S, 5, 1, 0, 0, RTZ);
	assert_int_equal(h->x[5], 0x7fffffff);
	assert_int_equal(h->fflags, NV);

	/* Transfers move bits: FMV.X.W takes the low 32 bits, sign-extended; FMV.W.X boxes. */
	h->f[1] = 0x123456788badf00dull;
	run(h, exec_FMV_X_W, 5, 1, 0, 0, 0);
	assert_int_equal(h->x[5], 0xffffffff8badf00dull);
	h->f[1] = BOX | 0x7fedcba9u;
	run(h, exec_FMV_X_W, 5, 1, 0, 0, 0);
	assert_int_equal(h->x[5], 0x7fedcba9u);
	h->x[6] = 0x1234567880000001ull;
	run(h, exec_FMV_W_X, 3, 6, 0, 0, 0);
	assert_int_equal(h->f[3], BOX | 0x80000001u);
	h->x[6] = 0x0123456789abcdefull;
	run(h, exec_FMV_D_X, 3, 6, 0, 0, 0);
	assert_int_equal(h->f[3], 0x0123456789abcdefull);
	h->f[1] = 0xfedcba9876543210ull;
	run(h, exec_FMV_X_D, 5, 1, 0, 0, 0);
	assert_int_equal(h->x[5], 0xfedcba9876543210ull);

	/* Every single-precision result is boxed, including conversions and min/max. */
	assert_int_equal(op_from_x(h, exec_FCVT_S_W, 1, RNE), BOX | S_ONE);
	assert_int_equal(op_s(h, exec_FMIN_S, S_ONE, 0x40000000u, 0, 0), S_ONE);
	h->f[1] = D_ONE;
	run(h, exec_FCVT_S_D, 3, 1, 0, 0, RNE);
	assert_int_equal(h->f[3], BOX | S_ONE);
	/* f0 is a real register for FP destinations. */
	h->f[1] = BOX | S_ONE;
	run(h, exec_FADD_S, 0, 1, 1, 0, RNE);
	assert_int_equal(h->f[0], BOX | 0x40000000u);
}

/* ---- canonical NaN (spec 11.3) ---- */

static void test_canonical_nan(void **state)
{
	struct hart *h = *state;
	/* A quiet NaN with a payload propagates as the canonical NaN, without flags. */
	assert_int_equal(op_s(h, exec_FADD_S, 0x7fc12345u, S_ONE, 0, RNE), S_CANON);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_s(h, exec_FMUL_S, S_ONE, 0xffc00001u, 0, RNE), S_CANON);
	assert_int_equal(h->fflags, 0);
	/* A signaling NaN also gives the canonical NaN, and signals invalid. */
	assert_int_equal(op_s(h, exec_FSUB_S, 0x7f800001u, S_ONE, 0, RNE), S_CANON);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_s(h, exec_FMADD_S, S_ONE, S_ONE, 0xff812345u, RNE), S_CANON);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_d(h, exec_FDIV_D, 0xfff8000000000001ull, D_ONE, 0, RNE), D_CANON);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_d(h, exec_FADD_D, 0x7ff0000000000001ull, D_ONE, 0, RNE), D_CANON);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_d(h, exec_FSQRT_D, 0x7ff4000000000000ull, 0, 0, RMM), D_CANON);
	assert_int_equal(h->fflags, NV);
	/* Invalid operations make the canonical NaN (x86 would make a negative one). */
	assert_int_equal(op_s(h, exec_FADD_S, 0x7f800000u, 0xff800000u, 0, RNE), S_CANON);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_d(h, exec_FMUL_D, 0, 0xfff0000000000000ull, 0, RTZ), D_CANON);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_d(h, exec_FDIV_D, 0, 0x8000000000000000ull, 0, RMM), D_CANON);
	assert_int_equal(h->fflags, NV);

	/* Conversions between formats make canonical NaNs; only sNaN signals. */
	h->f[1] = 0xfff8000000abcdefull;
	h->fflags = 0;
	run(h, exec_FCVT_S_D, 3, 1, 0, 0, RNE);
	assert_int_equal(h->f[3], BOX | S_CANON);
	assert_int_equal(h->fflags, 0);
	h->f[1] = 0x7ff0000000000001ull;
	run(h, exec_FCVT_S_D, 3, 1, 0, 0, RNE);
	assert_int_equal(h->f[3], BOX | S_CANON);
	assert_int_equal(h->fflags, NV);
	h->f[1] = BOX | 0xffc00001u;
	h->fflags = 0;
	run(h, exec_FCVT_D_S, 3, 1, 0, 0, RNE);
	assert_int_equal(h->f[3], D_CANON);
	assert_int_equal(h->fflags, 0);
	h->f[1] = BOX | 0x7f800001u;
	run(h, exec_FCVT_D_S, 3, 1, 0, 0, RNE);
	assert_int_equal(h->f[3], D_CANON);
	assert_int_equal(h->fflags, NV);

	/* Sign injection moves bits: payloads survive, sNaNs stay signaling and quiet. */
	assert_int_equal(op_d(h, exec_FSGNJN_D, 0x7ff0000000000001ull, D_ONE, 0, 0),
			 0xfff0000000000001ull);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_s(h, exec_FSGNJX_S, 0xffc12345u, 0xbf800000u, 0, 0), 0x7fc12345u);
	assert_int_equal(h->fflags, 0);
}

/* ---- sign injection (spec 11.7) ---- */

static void test_sign_injection(void **state)
{
	struct hart *h = *state;
	assert_int_equal(op_s(h, exec_FSGNJ_S, 0x40490fdbu, 0x80000000u, 0, 0), 0xc0490fdbu);
	assert_int_equal(op_s(h, exec_FSGNJ_S, 0xc0490fdbu, 0x00000000u, 0, 0), 0x40490fdbu);
	assert_int_equal(op_s(h, exec_FSGNJN_S, 0x40490fdbu, 0x00000000u, 0, 0), 0xc0490fdbu);
	assert_int_equal(op_s(h, exec_FSGNJN_S, 0x40490fdbu, 0x80000000u, 0, 0), 0x40490fdbu);
	assert_int_equal(op_s(h, exec_FSGNJX_S, 0xc0490fdbu, 0x80000000u, 0, 0), 0x40490fdbu);
	assert_int_equal(op_s(h, exec_FSGNJX_S, 0xc0490fdbu, 0x00000000u, 0, 0), 0xc0490fdbu);
	assert_int_equal(op_d(h, exec_FSGNJ_D, D_ONE, 0x8000000000000000ull, 0, 0),
			 0xbff0000000000000ull);
	assert_int_equal(op_d(h, exec_FSGNJN_D, 0xbff0000000000000ull, 0xbff0000000000000ull, 0, 0),
			 D_ONE);
	assert_int_equal(op_d(h, exec_FSGNJX_D, 0xbff0000000000000ull, 0xbff0000000000000ull, 0, 0),
			 D_ONE);
	/* fmv.s / fneg.s / fabs.s are FSGNJ* with rs1 == rs2. */
	h->f[1] = BOX | 0xc0000000u;
	run(h, exec_FSGNJX_S, 1, 1, 1, 0, 0);
	assert_int_equal(h->f[1], BOX | 0x40000000u);
}

/* ---- rounding modes (spec 11.2) ---- */

struct rcase {
	insn_fn fn;
	uint64_t a, b, c;
	uint64_t r[5]; /* result for RNE, RTZ, RDN, RUP, RMM */
	uint32_t flags;
};

/* Each case runs in every mode, with no flag accrued before and with NX accrued before (the
 * arithmetic takes different paths when the guest already has NX). */
static void check_rounding(struct hart *h, const struct rcase *t, size_t n, bool dbl)
{
	for (size_t i = 0; i < n; i++) {
		for (unsigned k = 0; k < 10; k++) {
			unsigned rm = k % 5;
			uint32_t pre = k < 5 ? 0 : NX;
			uint64_t r = dbl ? op_d_pre(h, t[i].fn, t[i].a, t[i].b, t[i].c, rm, pre)
					 : op_s_pre(h, t[i].fn, (uint32_t)t[i].a, (uint32_t)t[i].b,
						    (uint32_t)t[i].c, rm, pre);
			if (r != t[i].r[rm] || h->fflags != (t[i].flags | pre))
				fail_msg("case %zu rm %u pre %#x: got %#llx flags %#x, want %#llx "
					 "flags %#x",
					 i, rm, pre, (unsigned long long)r, h->fflags,
					 (unsigned long long)t[i].r[rm], t[i].flags | pre);
		}
	}
}

static void test_rounding_single(void **state)
{
	static const struct rcase t[] = {
	    /* 1 + 2^-24: a tie; RNE keeps the even 1.0, RMM goes away from zero. */
	    {exec_FADD_S,
	     S_ONE,
	     0x33800000,
	     0,
	     {0x3f800000, 0x3f800000, 0x3f800000, 0x3f800001, 0x3f800001},
	     NX},
	    {exec_FADD_S,
	     0xbf800000,
	     0xb3800000,
	     0,
	     {0xbf800000, 0xbf800000, 0xbf800001, 0xbf800000, 0xbf800001},
	     NX},
	    /* (1 + 2^-23) + 2^-24: a tie with an odd lower neighbour. */
	    {exec_FADD_S,
	     0x3f800001,
	     0x33800000,
	     0,
	     {0x3f800002, 0x3f800001, 0x3f800001, 0x3f800002, 0x3f800002},
	     NX},
	    /* 1 + 0.75 ulp. */
	    {exec_FSUB_S,
	     S_ONE,
	     0xb3c00000,
	     0,
	     {0x3f800001, 0x3f800000, 0x3f800000, 0x3f800001, 0x3f800001},
	     NX},
	    /* (1 + 3 * 2^-23) * 1.5 = 1.5 + 4.5 ulp: a tie. */
	    {exec_FMUL_S,
	     0x3f800003,
	     0x3fc00000,
	     0,
	     {0x3fc00004, 0x3fc00004, 0x3fc00004, 0x3fc00005, 0x3fc00005},
	     NX},
	    {exec_FMUL_S,
	     0xbf800003,
	     0x3fc00000,
	     0,
	     {0xbfc00004, 0xbfc00004, 0xbfc00005, 0xbfc00004, 0xbfc00005},
	     NX},
	    /* 1 / 3 = 0x1.555555...p-2. */
	    {exec_FDIV_S,
	     S_ONE,
	     0x40400000,
	     0,
	     {0x3eaaaaab, 0x3eaaaaaa, 0x3eaaaaaa, 0x3eaaaaab, 0x3eaaaaab},
	     NX},
	    /* 5 * 2^-149 / 2: a tie between subnormals (tiny and inexact). */
	    {exec_FDIV_S,
	     0x00000005,
	     0x40000000,
	     0,
	     {0x00000002, 0x00000002, 0x00000002, 0x00000003, 0x00000003},
	     UF | NX},
	    /* sqrt(2) = 0x1.6a09e667...; never a tie. */
	    {exec_FSQRT_S,
	     0x40000000,
	     0,
	     0,
	     {0x3fb504f3, 0x3fb504f3, 0x3fb504f3, 0x3fb504f4, 0x3fb504f3},
	     NX},
	    /* (1 + 3 * 2^-23) * 1.5 + 2^-40: just above the tie, rounded once. */
	    {exec_FMADD_S,
	     0x3f800003,
	     0x3fc00000,
	     0x2b800000,
	     {0x3fc00005, 0x3fc00004, 0x3fc00004, 0x3fc00005, 0x3fc00005},
	     NX},
	    /* The same product minus 2^-40: just below the tie. */
	    {exec_FMSUB_S,
	     0x3f800003,
	     0x3fc00000,
	     0x2b800000,
	     {0x3fc00004, 0x3fc00004, 0x3fc00004, 0x3fc00005, 0x3fc00004},
	     NX},
	    /* x - x is +0 in every mode except RDN, where it is -0. */
	    {exec_FSUB_S, 0x3fc00000, 0x3fc00000, 0, {0, 0, 0x80000000, 0, 0}, 0},
	    /* -(1 * -0) - (+0) = (+0) + (-0). */
	    {exec_FNMADD_S, S_ONE, 0x80000000, 0, {0, 0, 0x80000000, 0, 0}, 0},
	    /* Overflow: to infinity or to the largest finite number, by mode and sign. */
	    {exec_FMUL_S,
	     0x7f7fffff,
	     0x40000000,
	     0,
	     {0x7f800000, 0x7f7fffff, 0x7f7fffff, 0x7f800000, 0x7f800000},
	     OF | NX},
	    {exec_FMUL_S,
	     0xff7fffff,
	     0x40000000,
	     0,
	     {0xff800000, 0xff7fffff, 0xff800000, 0xff7fffff, 0xff800000},
	     OF | NX},
	};
	check_rounding(*state, t, sizeof(t) / sizeof(t[0]), false);
}

static void test_rounding_double(void **state)
{
	static const struct rcase t[] = {
	    {exec_FADD_D,
	     D_ONE,
	     0x3ca0000000000000,
	     0,
	     {D_ONE, D_ONE, D_ONE, 0x3ff0000000000001, 0x3ff0000000000001},
	     NX},
	    {exec_FADD_D,
	     0xbff0000000000000,
	     0xbca0000000000000,
	     0,
	     {0xbff0000000000000, 0xbff0000000000000, 0xbff0000000000001, 0xbff0000000000000,
	      0xbff0000000000001},
	     NX},
	    {exec_FMUL_D,
	     0x3ff0000000000003,
	     0x3ff8000000000000,
	     0,
	     {0x3ff8000000000004, 0x3ff8000000000004, 0x3ff8000000000004, 0x3ff8000000000005,
	      0x3ff8000000000005},
	     NX},
	    {exec_FDIV_D,
	     D_ONE,
	     0x4008000000000000,
	     0,
	     {0x3fd5555555555555, 0x3fd5555555555555, 0x3fd5555555555555, 0x3fd5555555555556,
	      0x3fd5555555555555},
	     NX},
	    {exec_FDIV_D, 0x0000000000000005, 0x4000000000000000, 0, {2, 2, 2, 3, 3}, UF | NX},
	    /* sqrt(2) = 0x1.6a09e667f3bcc908...p0 */
	    {exec_FSQRT_D,
	     0x4000000000000000,
	     0,
	     0,
	     {0x3ff6a09e667f3bcd, 0x3ff6a09e667f3bcc, 0x3ff6a09e667f3bcc, 0x3ff6a09e667f3bcd,
	      0x3ff6a09e667f3bcd},
	     NX},
	    /* Product tie plus 2^-60, rounded once: (1 + 3u) * 1.5 + 2^-60. */
	    {exec_FMADD_D,
	     0x3ff0000000000003,
	     0x3ff8000000000000,
	     0x3c30000000000000,
	     {0x3ff8000000000005, 0x3ff8000000000004, 0x3ff8000000000004, 0x3ff8000000000005,
	      0x3ff8000000000005},
	     NX},
	    {exec_FNMSUB_D,
	     0x3ff0000000000003,
	     0x3ff8000000000000,
	     0x3c30000000000000,
	     {0xbff8000000000004, 0xbff8000000000004, 0xbff8000000000005, 0xbff8000000000004,
	      0xbff8000000000004},
	     NX},
	    /* 1 + 2^-100, and (1 + 2^-52)^2 + 2^-106: inexact far below the last place. */
	    {exec_FADD_D,
	     D_ONE,
	     0x39b0000000000000,
	     0,
	     {D_ONE, D_ONE, D_ONE, 0x3ff0000000000001, D_ONE},
	     NX},
	    {exec_FMADD_D,
	     0x3ff0000000000001,
	     0x3ff0000000000001,
	     0x3950000000000000,
	     {0x3ff0000000000002, 0x3ff0000000000002, 0x3ff0000000000002, 0x3ff0000000000003,
	      0x3ff0000000000002},
	     NX},
	    {exec_FMADD_D, D_ONE, 0x8000000000000000, 0, {0, 0, 0x8000000000000000, 0, 0}, 0},
	    {exec_FMUL_D,
	     0x7fefffffffffffff,
	     0x7fefffffffffffff,
	     0,
	     {0x7ff0000000000000, 0x7fefffffffffffff, 0x7fefffffffffffff, 0x7ff0000000000000,
	      0x7ff0000000000000},
	     OF | NX},
	};
	check_rounding(*state, t, sizeof(t) / sizeof(t[0]), true);
}

/* rm = DYN takes frm; rm 5 and 6, and DYN with frm 5, 6 or 7, are illegal. */
static void test_rounding_mode_field(void **state)
{
	struct hart *h = *state;
	static const unsigned frm_want[5][2] = {
	    {0x3f800000, 0x3f800001}, /* RNE: tie of 1 + 2^-24 to even, 1 + 0.75 ulp up */
	    {0x3f800000, 0x3f800000},
	    {0x3f800000, 0x3f800000},
	    {0x3f800001, 0x3f800001},
	    {0x3f800001, 0x3f800001}};
	for (unsigned frm = 0; frm <= RMM; frm++) {
		h->frm = frm;
		assert_int_equal(op_s(h, exec_FADD_S, S_ONE, 0x33800000, 0, DYN), frm_want[frm][0]);
		assert_int_equal(op_s(h, exec_FADD_S, S_ONE, 0x33c00000, 0, DYN), frm_want[frm][1]);
	}
	/* An explicit rm overrides frm. */
	h->frm = RUP;
	assert_int_equal(op_s(h, exec_FADD_S, S_ONE, 0x33c00000, 0, RTZ), S_ONE);
	h->frm = RTZ;
	assert_int_equal(op_x(h, exec_FCVT_W_D, 0x4004000000000000, 0, DYN), 2);
	h->frm = RUP;
	assert_int_equal(op_x(h, exec_FCVT_W_D, 0x4004000000000000, 0, DYN), 3);

	static const insn_fn with_rm[] = {exec_FADD_S,    exec_FMUL_D,   exec_FSQRT_S,
					  exec_FMADD_D,   exec_FNMADD_S, exec_FCVT_W_S,
					  exec_FCVT_LU_D, exec_FCVT_S_L, exec_FCVT_D_WU,
					  exec_FCVT_S_D,  exec_FCVT_D_S};
	static const unsigned bad[][2] = {{5, RNE}, {6, RUP}, {DYN, 5}, {DYN, 6}, {DYN, 7}};
	for (size_t i = 0; i < sizeof(with_rm) / sizeof(with_rm[0]); i++) {
		for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			h->priv = PRV_S;
			h->frm = bad[j][1];
			h->f[4] = 0x1111;
			h->x[4] = 0x2222;
			h->fflags = 0;
			h->f[1] = h->f[2] = h->f[3] = BOX | S_ONE;
			run(h, with_rm[i], 4, 1, 2, 3, bad[j][0]);
			assert_int_equal(h->mcause, CAUSE_ILLEGAL_INSTRUCTION);
			assert_int_equal(h->f[4], 0x1111);
			assert_int_equal(h->x[4], 0x2222);
			assert_int_equal(h->fflags, 0);
		}
	}
	/* Ops without a rounding mode ignore frm. */
	h->frm = 7;
	assert_int_equal(op_s(h, exec_FMIN_S, S_ONE, 0x40000000, 0, 0), S_ONE);
	assert_int_equal(op_x(h, exec_FLT_D, 0, D_ONE, 0), 1);
	h->frm = 0;
}

/* ---- exception flags (spec 11.6; tininess after rounding) ---- */

struct fcase {
	insn_fn fn;
	bool dbl;
	uint64_t a, b, c;
	unsigned rm;
	uint64_t want;
	uint32_t flags;
};

static void test_flags(void **state)
{
	struct hart *h = *state;
	static const struct fcase t[] = {
	    /* NX alone; exact results raise nothing. */
	    {exec_FDIV_S, false, S_ONE, 0x40400000, 0, RNE, 0x3eaaaaab, NX},
	    {exec_FADD_D, true, D_ONE, D_ONE, 0, RNE, 0x4000000000000000, 0},
	    /* DZ alone, with a correctly signed infinity; 0/0 is NV; inf arithmetic is exact. */
	    {exec_FDIV_S, false, 0xbf800000, 0, 0, RNE, 0xff800000, DZ},
	    {exec_FDIV_D, true, D_ONE, 0x8000000000000000, 0, RMM, 0xfff0000000000000, DZ},
	    {exec_FDIV_S, false, 0, 0, 0, RNE, S_CANON, NV},
	    {exec_FADD_S, false, 0x7f800000, S_ONE, 0, RNE, 0x7f800000, 0},
	    /* OF comes with NX, whether the result is infinite or the largest finite number. */
	    {exec_FADD_D, true, 0x7fefffffffffffff, 0x7fefffffffffffff, 0, RNE, 0x7ff0000000000000,
	     OF | NX},
	    {exec_FADD_D, true, 0x7fefffffffffffff, 0x7fefffffffffffff, 0, RTZ, 0x7fefffffffffffff,
	     OF | NX},
	    {exec_FMUL_S, false, 0x7f000000, 0x7f000000, 0, RMM, 0x7f800000, OF | NX},
	    {exec_FMUL_S, false, 0x7f000000, 0xff000000, 0, RUP, 0xff7fffff, OF | NX},
	    {exec_FMADD_D, true, 0x7fe0000000000000, 0x4000000000000000, 0, RDN, 0x7fefffffffffffff,
	     OF | NX},
	    /* The largest finite number without overflow. */
	    {exec_FMUL_D, true, 0x7fefffffffffffff, D_ONE, 0, RNE, 0x7fefffffffffffff, 0},
	    /* UF: tiny and inexact. 2^-100 * 2^-40 (1 + 2^-23) is below the subnormal grid. */
	    {exec_FMUL_S, false, 0x0d800000, 0x2b800001, 0, RNE, 0x00000200, UF | NX},
	    {exec_FMADD_S, false, 0x0d800000, 0x2b800001, 0, RNE, 0x00000200, UF | NX},
	    {exec_FDIV_D, true, 0x0000000000000003, 0x4010000000000000, 0, RNE, 1, UF | NX},
	    {exec_FMUL_D, true, 0x0000000000000001, 0x3fe0000000000000, 0, RUP, 1, UF | NX},
	    {exec_FMUL_D, true, 0x0000000000000001, 0x3fe0000000000000, 0, RNE, 0, UF | NX},
	    /* 2^-126 - 2^-150 is exact with 24 bits, so tiny, yet rounds to 2^-126 as a subnormal
	     * (a tie, to even): UF with the smallest normal number as the result. */
	    {exec_FMUL_S, false, 0x3f7fffff, 0x00800000, 0, RNE, 0x00800000, UF | NX},
	    {exec_FMUL_S, false, 0x3f7fffff, 0x00800000, 0, RMM, 0x00800000, UF | NX},
	    {exec_FMUL_S, false, 0x3f7fffff, 0x00800000, 0, RTZ, 0x007fffff, UF | NX},
	    {exec_FMUL_D, true, 0x3fefffffffffffff, 0x0010000000000000, 0, RUP, 0x0010000000000000,
	     UF | NX},
	    /* Tiny but exact: no flag, whatever the operation. */
	    {exec_FMUL_S, false, 0x00000002, 0x3f000000, 0, RNE, 0x00000001, 0},
	    {exec_FSUB_D, true, 0x0010000000000001, 0x0010000000000000, 0, RNE, 1, 0},
	    {exec_FADD_S, false, 0x00000001, 0x80000003, 0, RNE, 0x80000002, 0},
	    {exec_FMADD_S, false, 0x00800000, 0x3f000000, 0, RNE, 0x00400000, 0},
	    {exec_FMUL_D, true, 0x2000000000000000, 0x2000000000000000, 0, RNE, 0x0010000000000000,
	     0}, /* exactly the smallest normal number */
	    {exec_FSQRT_D, true, 1, 0, 0, RNE, 0x1e60000000000000, 0}, /* sqrt(2^-1074) */
	    /* NV: inf - inf, 0 * inf, sqrt of a negative number, an sNaN operand. */
	    {exec_FSUB_D, true, 0x7ff0000000000000, 0x7ff0000000000000, 0, RNE, D_CANON, NV},
	    {exec_FMUL_S, false, 0x80000000, 0xff800000, 0, RTZ, S_CANON, NV},
	    {exec_FSQRT_S, false, 0x80000001, 0, 0, RNE, S_CANON, NV},
	    {exec_FADD_S, false, S_ONE, 0x7fa00000, 0, RNE, S_CANON, NV},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (uint32_t pre = 0; pre <= NX; pre += NX) {
			uint64_t r =
			    t[i].dbl ? op_d_pre(h, t[i].fn, t[i].a, t[i].b, t[i].c, t[i].rm, pre)
				     : op_s_pre(h, t[i].fn, (uint32_t)t[i].a, (uint32_t)t[i].b,
						(uint32_t)t[i].c, t[i].rm, pre);
			if (r != t[i].want || h->fflags != (t[i].flags | pre))
				fail_msg(
				    "case %zu pre %#x: got %#llx flags %#x, want %#llx flags %#x",
				    i, pre, (unsigned long long)r, h->fflags,
				    (unsigned long long)t[i].want, t[i].flags | pre);
		}
	}
	/* 2^-126 (1 - 2^-46): rounds to 2^-126 with an unbounded exponent, so it is not tiny
	 * after rounding (RISC-V) although it is before; toward zero it stays tiny. */
	for (unsigned k = 0; k < 10; k++) {
		unsigned rm = k % 5;
		uint32_t pre = k < 5 ? 0 : NX;
		bool down = rm == RTZ || rm == RDN;
		uint32_t r = op_s_pre(h, exec_FMUL_S, 0x3f7ffffe, 0x00800001, 0, rm, pre);
		assert_int_equal(r, down ? 0x007fffff : 0x00800000);
		assert_int_equal(h->fflags, (down ? (UF | NX) : NX) | pre);
		uint64_t rd =
		    op_d_pre(h, exec_FMUL_D, 0x3feffffffffffffe, 0x0010000000000001, 0, rm, pre);
		assert_int_equal(rd, down ? 0x000fffffffffffff : 0x0010000000000000);
		assert_int_equal(h->fflags, (down ? (UF | NX) : NX) | pre);
	}
	/* Flags accrue: set flags stay set. */
	h->fflags = DZ;
	h->f[1] = BOX | S_ONE;
	h->f[2] = BOX | 0x40400000;
	run(h, exec_FDIV_S, 3, 1, 2, 0, RNE);
	assert_int_equal(h->fflags, DZ | NX);
	run(h, exec_FADD_S, 3, 1, 1, 0, RUP);
	assert_int_equal(h->fflags, DZ | NX);
	/* Flags of one op never leak into the next (fflags cleared by the guest in between). */
	op_s(h, exec_FADD_S, S_ONE, S_ONE, 0, RNE);
	assert_int_equal(h->fflags, 0);
	op_d(h, exec_FMUL_D, D_ONE, D_ONE, 0, RUP);
	assert_int_equal(h->fflags, 0);
}

static void test_host_state_restored(void **state)
{
	struct hart *h = *state;
	static const unsigned order[] = {RUP, RMM, RTZ, RDN, RUP};
	volatile double one = 1.0, three = 3.0, ten = 10.0;
	for (size_t i = 0; i < 2 * sizeof(order) / sizeof(order[0]); i++) {
		op_d_pre(h, exec_FDIV_D, D_ONE, 0x4008000000000000, 0, order[i / 2], (i & 1) * NX);
		/* The host computes in round-to-nearest between instructions: 1/3 rounds down,
		 * 1/10 rounds up. */
		assert_true(one / three == 0x1.5555555555555p-2);
		assert_true(one / ten == 0x1.999999999999ap-4);
		assert_int_equal(fegetround(), FE_TONEAREST);
	}
}

/* ---- fused multiply-add: one rounding (spec 11.6) ---- */

static void test_fma(void **state)
{
	struct hart *h = *state;
	/* (1 + 2^-23)(1 - 2^-23) - 1 = -2^-46 exactly; rounding the product first would give 0. */
	assert_int_equal(op_s(h, exec_FMADD_S, 0x3f800001, 0x3f7ffffe, 0xbf800000, RNE),
			 0xa8800000);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_s(h, exec_FMSUB_S, 0x3f800001, 0x3f7ffffe, S_ONE, RNE), 0xa8800000);
	assert_int_equal(op_s(h, exec_FNMADD_S, 0x3f800001, 0x3f7ffffe, 0xbf800000, RNE),
			 0x28800000);
	assert_int_equal(op_s(h, exec_FNMSUB_S, 0x3f800001, 0x3f7ffffe, S_ONE, RMM), 0x28800000);
	/* (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104. */
	assert_int_equal(
	    op_d(h, exec_FMADD_D, 0x3ff0000000000001, 0x3feffffffffffffe, 0xbff0000000000000, RNE),
	    0xb970000000000000);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_d(h, exec_FMSUB_D, 0x3ff0000000000001, 0x3feffffffffffffe, D_ONE, RDN),
			 0xb970000000000000);
	assert_int_equal(
	    op_d(h, exec_FNMADD_D, 0x3ff0000000000001, 0x3feffffffffffffe, 0xbff0000000000000, RUP),
	    0x3970000000000000);
	assert_int_equal(op_d(h, exec_FNMSUB_D, 0x3ff0000000000001, 0x3feffffffffffffe, D_ONE, RMM),
			 0x3970000000000000);
	/* 2 * 3 + 1 = 7 for each sign combination. */
	assert_int_equal(op_d(h, exec_FMADD_D, 0x4000000000000000, 0x4008000000000000, D_ONE, RNE),
			 0x401c000000000000);
	assert_int_equal(op_d(h, exec_FMSUB_D, 0x4000000000000000, 0x4008000000000000, D_ONE, RNE),
			 0x4014000000000000);
	assert_int_equal(op_d(h, exec_FNMSUB_D, 0x4000000000000000, 0x4008000000000000, D_ONE, RNE),
			 0xc014000000000000);
	assert_int_equal(op_d(h, exec_FNMADD_D, 0x4000000000000000, 0x4008000000000000, D_ONE, RNE),
			 0xc01c000000000000);
	/* 0 * inf + qNaN is invalid in RISC-V, in every rounding mode. */
	for (unsigned rm = RNE; rm <= RMM; rm++) {
		assert_int_equal(op_s(h, exec_FMADD_S, 0, 0x7f800000, S_CANON, rm), S_CANON);
		assert_int_equal(h->fflags, NV);
		assert_int_equal(op_d(h, exec_FNMADD_D, 0xfff0000000000000, 0x8000000000000000,
				      0x7ff8000000000123, rm),
				 D_CANON);
		assert_int_equal(h->fflags, NV);
		assert_int_equal(op_d(h, exec_FMADD_D, 0, 0x7ff0000000000000, D_ONE, rm), D_CANON);
		assert_int_equal(h->fflags, NV);
	}
	/* qNaN addend with an ordinary product: quiet. */
	assert_int_equal(op_d(h, exec_FMADD_D, D_ONE, D_ONE, D_CANON, RNE), D_CANON);
	assert_int_equal(h->fflags, 0);
}

/* ---- square root ---- */

static void test_fsqrt(void **state)
{
	struct hart *h = *state;
	for (unsigned rm = RNE; rm <= RMM; rm++) {
		assert_int_equal(op_s(h, exec_FSQRT_S, 0xbf800000, 0, 0, rm), S_CANON);
		assert_int_equal(h->fflags, NV);
		assert_int_equal(op_d(h, exec_FSQRT_D, 0x8000000000000001, 0, 0, rm), D_CANON);
		assert_int_equal(h->fflags, NV);
		assert_int_equal(op_d(h, exec_FSQRT_D, 0xfff0000000000000, 0, 0, rm), D_CANON);
		assert_int_equal(h->fflags, NV);
		/* sqrt(-0) = -0 and sqrt(+inf) = +inf, exactly. */
		assert_int_equal(op_s(h, exec_FSQRT_S, 0x80000000, 0, 0, rm), 0x80000000);
		assert_int_equal(h->fflags, 0);
		assert_int_equal(op_d(h, exec_FSQRT_D, 0x7ff0000000000000, 0, 0, rm),
				 0x7ff0000000000000);
		assert_int_equal(h->fflags, 0);
		assert_int_equal(op_d(h, exec_FSQRT_D, 0x4022000000000000, 0, 0, rm),
				 0x4008000000000000);
		assert_int_equal(h->fflags, 0);
	}
}

/* ---- FMIN / FMAX (spec 11.6, IEEE 754-2019 minimumNumber / maximumNumber) ---- */

static void test_fmin_fmax(void **state)
{
	struct hart *h = *state;
	/* -0 is less than +0, in either operand order. */
	assert_int_equal(op_s(h, exec_FMIN_S, 0x80000000, 0, 0, 0), 0x80000000);
	assert_int_equal(op_s(h, exec_FMIN_S, 0, 0x80000000, 0, 0), 0x80000000);
	assert_int_equal(op_s(h, exec_FMAX_S, 0x80000000, 0, 0, 0), 0);
	assert_int_equal(op_s(h, exec_FMAX_S, 0, 0x80000000, 0, 0), 0);
	assert_int_equal(op_d(h, exec_FMIN_D, 0, 0x8000000000000000, 0, 0), 0x8000000000000000);
	assert_int_equal(op_d(h, exec_FMAX_D, 0x8000000000000000, 0, 0, 0), 0);
	assert_int_equal(h->fflags, 0);
	/* Ordinary values, negative ones, infinities. */
	assert_int_equal(op_s(h, exec_FMIN_S, 0x40000000, S_ONE, 0, 0), S_ONE);
	assert_int_equal(op_s(h, exec_FMAX_S, 0xc0000000, 0xbf800000, 0, 0), 0xbf800000);
	assert_int_equal(op_s(h, exec_FMIN_S, 0xc0000000, 0xbf800000, 0, 0), 0xc0000000);
	assert_int_equal(op_d(h, exec_FMAX_D, 0xfff0000000000000, 0xc000000000000000, 0, 0),
			 0xc000000000000000);
	assert_int_equal(op_d(h, exec_FMIN_D, 0x7ff0000000000000, 0xffefffffffffffff, 0, 0),
			 0xffefffffffffffff);
	assert_int_equal(op_d(h, exec_FMIN_D, 1, 0x8000000000000001, 0, 0), 0x8000000000000001);
	/* One quiet NaN: the other operand, quietly. */
	assert_int_equal(op_s(h, exec_FMIN_S, 0x7fc00000, 0xc0000000, 0, 0), 0xc0000000);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_s(h, exec_FMAX_S, 0xc0000000, 0xffc00001, 0, 0), 0xc0000000);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_d(h, exec_FMAX_D, D_CANON, 0x8000000000000000, 0, 0),
			 0x8000000000000000);
	assert_int_equal(h->fflags, 0);
	/* One signaling NaN: the other operand, and NV. */
	assert_int_equal(op_s(h, exec_FMAX_S, 0x7f800001, S_ONE, 0, 0), S_ONE);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_d(h, exec_FMIN_D, D_ONE, 0x7ff0000000000001, 0, 0), D_ONE);
	assert_int_equal(h->fflags, NV);
	/* Two NaNs: the canonical NaN; NV if either signals. */
	assert_int_equal(op_s(h, exec_FMIN_S, 0x7fc00001, 0xffc00002, 0, 0), S_CANON);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_s(h, exec_FMAX_S, 0x7fc00001, 0x7f800002, 0, 0), S_CANON);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_d(h, exec_FMAX_D, 0x7ff0000000000001, 0xfff8000000000000, 0, 0),
			 D_CANON);
	assert_int_equal(h->fflags, NV);
}

/* ---- comparisons (spec 11.9) ---- */

static void test_compare(void **state)
{
	struct hart *h = *state;
	assert_int_equal(op_x(h, exec_FEQ_S, BOX | 0x80000000, BOX, 0), 1);
	assert_int_equal(op_x(h, exec_FLT_S, BOX | 0x80000000, BOX, 0), 0);
	assert_int_equal(op_x(h, exec_FLE_S, BOX, BOX | 0x80000000, 0), 1);
	assert_int_equal(op_x(h, exec_FLT_S, BOX | 0xc0000000, BOX | 0xbf800000, 0), 1);
	assert_int_equal(op_x(h, exec_FLT_S, BOX | 0xbf800000, BOX | 0xc0000000, 0), 0);
	assert_int_equal(op_x(h, exec_FLE_S, BOX | 0xbf800000, BOX | 0xbf800000, 0), 1);
	assert_int_equal(op_x(h, exec_FLT_D, 0xfff0000000000000, 0xffefffffffffffff, 0), 1);
	assert_int_equal(op_x(h, exec_FLT_D, 0x8000000000000001, 1, 0), 1);
	assert_int_equal(op_x(h, exec_FEQ_D, D_ONE, D_ONE, 0), 1);
	assert_int_equal(op_x(h, exec_FEQ_D, D_ONE, 0x3ff0000000000001, 0), 0);
	assert_int_equal(op_x(h, exec_FLE_D, 0x3ff0000000000001, D_ONE, 0), 0);
	assert_int_equal(h->fflags, 0);
	/* FEQ is quiet: NV only for sNaN. FLT and FLE signal on any NaN. Results are 0. */
	assert_int_equal(op_x(h, exec_FEQ_S, BOX | S_CANON, BOX | S_CANON, 0), 0);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_x(h, exec_FEQ_D, D_ONE, 0x7ff0000000000001, 0), 0);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_x(h, exec_FLT_S, BOX | S_CANON, BOX | S_ONE, 0), 0);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_x(h, exec_FLE_D, D_ONE, D_CANON, 0), 0);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_x(h, exec_FLE_D, D_CANON, D_CANON, 0), 0);
	assert_int_equal(h->fflags, NV);
}

/* ---- FCLASS (spec 11.9, table 11.5) ---- */

static void test_fclass(void **state)
{
	struct hart *h = *state;
	static const uint32_t s[10] = {0xff800000, 0xbf800000, 0x807fffff, 0x80000000, 0x00000000,
				       0x00000001, 0x7f7fffff, 0x7f800000, 0x7fbfffff, 0x7fc00000};
	static const uint64_t d[10] = {0xfff0000000000000, 0x8010000000000000, 0x8000000000000001,
				       0x8000000000000000, 0x0000000000000000, 0x000fffffffffffff,
				       0x3ff0000000000000, 0x7ff0000000000000, 0x7ff0000000000001,
				       0xfff8000000000000};
	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(op_x(h, exec_FCLASS_S, BOX | s[i], 0, 0), 1u << i);
		assert_int_equal(op_x(h, exec_FCLASS_D, d[i], 0, 0), 1u << i);
		assert_int_equal(h->fflags, 0);
	}
	/* A signaling NaN is classified, never signaled. */
	assert_int_equal(op_x(h, exec_FCLASS_S, BOX | 0xff800001, 0, 0), 1u << 8);
	assert_int_equal(op_x(h, exec_FCLASS_D, 0xfff4000000000000, 0, 0), 1u << 8);
	assert_int_equal(h->fflags, 0);
}

/* ---- FCVT to integer: rounding, saturation, NV and NX (spec 11.7, table 11.4) ---- */

struct icase {
	insn_fn fn;
	uint64_t src; /* f register bits (singles unboxed here) */
	unsigned rm;
	uint64_t want;
	uint32_t flags;
};

static void test_fcvt_to_int(void **state)
{
	struct hart *h = *state;
	static const uint64_t sx = 0xffffffff00000000ull; /* sign extension of a W result */
	static const struct icase t[] = {
	    /* 2.5 and -2.5 in every mode. */
	    {exec_FCVT_W_S, 0x40200000, RNE, 2, NX},
	    {exec_FCVT_W_S, 0x40200000, RTZ, 2, NX},
	    {exec_FCVT_W_S, 0x40200000, RDN, 2, NX},
	    {exec_FCVT_W_S, 0x40200000, RUP, 3, NX},
	    {exec_FCVT_W_S, 0x40200000, RMM, 3, NX},
	    {exec_FCVT_L_D, 0xc004000000000000, RNE, (uint64_t)-2, NX},
	    {exec_FCVT_L_D, 0xc004000000000000, RTZ, (uint64_t)-2, NX},
	    {exec_FCVT_L_D, 0xc004000000000000, RDN, (uint64_t)-3, NX},
	    {exec_FCVT_L_D, 0xc004000000000000, RUP, (uint64_t)-2, NX},
	    {exec_FCVT_L_D, 0xc004000000000000, RMM, (uint64_t)-3, NX},
	    {exec_FCVT_L_S, 0x3fc00000, RNE, 2, NX},         /* 1.5: tie to even 2 */
	    {exec_FCVT_W_D, 0x3fe0000000000000, RNE, 0, NX}, /* 0.5: tie to even 0 */
	    {exec_FCVT_W_D, 0x3fe0000000000000, RMM, 1, NX},
	    /* Exact values raise nothing. */
	    {exec_FCVT_W_D, 0xc1e0000000000000, RNE, sx | 0x80000000, 0}, /* -2^31 */
	    {exec_FCVT_W_D, 0x41dfffffffc00000, RNE, 0x7fffffff, 0},      /* 2^31 - 1 */
	    {exec_FCVT_WU_D, 0x41efffffffe00000, RNE, ~0ull, 0},     /* 2^32 - 1, sign-extended */
	    {exec_FCVT_WU_S, 0x4f000000, RNE, sx | 0x80000000, 0},   /* 2^31 */
	    {exec_FCVT_L_S, 0xdf000000, RNE, 0x8000000000000000, 0}, /* -2^63 */
	    {exec_FCVT_LU_S, 0x5f7fffff, RNE, 0xffffff0000000000, 0},
	    {exec_FCVT_LU_D, 0x43efffffffffffff, RNE, 0xfffffffffffff800, 0},
	    {exec_FCVT_W_S, 0x80000000, RNE, 0, 0},
	    /* W: out of range after rounding saturates with NV and without NX. */
	    {exec_FCVT_W_S, 0x4f000000, RNE, 0x7fffffff, NV},              /* 2^31 */
	    {exec_FCVT_W_D, 0xc1e0000000080000, RTZ, sx | 0x80000000, NX}, /* -2^31 - 0.25 */
	    {exec_FCVT_W_D, 0xc1e0000000080000, RDN, sx | 0x80000000, NV},
	    {exec_FCVT_W_D, 0x41dfffffffe00000, RNE, 0x7fffffff, NV}, /* 2^31 - 0.5 -> 2^31 */
	    {exec_FCVT_W_D, 0x41dfffffffe00000, RTZ, 0x7fffffff, NX},
	    {exec_FCVT_W_S, 0xff800000, RNE, sx | 0x80000000, NV}, /* -inf */
	    {exec_FCVT_W_S, 0x7f800000, RNE, 0x7fffffff, NV},      /* +inf */
	    {exec_FCVT_W_S, 0xffc00000, RNE, 0x7fffffff, NV},      /* NaN: largest */
	    {exec_FCVT_W_D, 0x7ff0000000000001, RNE, 0x7fffffff, NV},
	    /* WU: negative values saturate at 0, large ones at 2^32 - 1 (sign-extended). */
	    {exec_FCVT_WU_S, 0xbf800000, RNE, 0, NV}, /* -1 */
	    {exec_FCVT_WU_S, 0xbf000000, RNE, 0, NX}, /* -0.5 rounds to -0: in range */
	    {exec_FCVT_WU_S, 0xbf400000, RNE, 0, NV}, /* -0.75 rounds to -1 */
	    {exec_FCVT_WU_S, 0xbf400000, RTZ, 0, NX},
	    {exec_FCVT_WU_D, 0x41f0000000000000, RNE, ~0ull, NV}, /* 2^32 */
	    {exec_FCVT_WU_D, 0x41efffffffe00000 | 1, RUP, ~0ull, NV},
	    {exec_FCVT_WU_D, 0x41efffffffe00000 | 1, RDN, ~0ull, NX},
	    {exec_FCVT_WU_S, 0xff800000, RNE, 0, NV},
	    {exec_FCVT_WU_S, 0x7f800000, RNE, ~0ull, NV},
	    {exec_FCVT_WU_D, 0xfff8000000000000, RNE, ~0ull, NV},
	    /* L */
	    {exec_FCVT_L_D, 0x43e0000000000000, RNE, 0x7fffffffffffffff, NV}, /* 2^63 */
	    {exec_FCVT_L_D, 0xc3e0000000000001, RNE, 0x8000000000000000, NV},
	    {exec_FCVT_L_S, 0xff800000, RNE, 0x8000000000000000, NV},
	    {exec_FCVT_L_S, 0x7fc00000, RNE, 0x7fffffffffffffff, NV},
	    {exec_FCVT_L_D, 0x3fd0000000000000, RUP, 1, NX},
	    /* LU */
	    {exec_FCVT_LU_D, 0x43f0000000000000, RNE, ~0ull, NV}, /* 2^64 */
	    {exec_FCVT_LU_S, 0xbf800000, RNE, 0, NV},
	    {exec_FCVT_LU_D, 0xbfd0000000000000, RNE, 0, NX}, /* -0.25 */
	    {exec_FCVT_LU_D, 0xbfd0000000000000, RDN, 0, NV},
	    {exec_FCVT_LU_D, 0x7ff0000000000000, RNE, ~0ull, NV},
	    {exec_FCVT_LU_S, 0x7f800001, RNE, ~0ull, NV},
	    {exec_FCVT_LU_D, 0xfff0000000000000, RNE, 0, NV},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bool single = t[i].fn == exec_FCVT_W_S || t[i].fn == exec_FCVT_WU_S ||
			      t[i].fn == exec_FCVT_L_S || t[i].fn == exec_FCVT_LU_S;
		uint64_t r = op_x(h, t[i].fn, single ? BOX | t[i].src : t[i].src, 0, t[i].rm);
		if (r != t[i].want || h->fflags != t[i].flags)
			fail_msg("case %zu: got %#llx flags %#x, want %#llx flags %#x", i,
				 (unsigned long long)r, h->fflags, (unsigned long long)t[i].want,
				 t[i].flags);
	}
}

/* ---- FCVT from integer and between formats ---- */

static void test_fcvt_from_int(void **state)
{
	struct hart *h = *state;
	/* 2^24 + 1 is a tie between 2^24 and 2^24 + 2. */
	static const uint32_t tie[5] = {0x4b800000, 0x4b800000, 0x4b800000, 0x4b800001, 0x4b800001};
	static const uint32_t ntie[5] = {0xcb800000, 0xcb800000, 0xcb800001, 0xcb800000,
					 0xcb800001};
	for (unsigned rm = RNE; rm <= RMM; rm++) {
		assert_int_equal(op_from_x(h, exec_FCVT_S_W, 16777217, rm), BOX | tie[rm]);
		assert_int_equal(h->fflags, NX);
		assert_int_equal(op_from_x(h, exec_FCVT_S_L, (uint64_t)-16777217, rm),
				 BOX | ntie[rm]);
		assert_int_equal(h->fflags, NX);
	}
	/* W forms read the low 32 bits of rs1, signed or unsigned. */
	assert_int_equal(op_from_x(h, exec_FCVT_S_W, 0x00000000ffffffff, RNE), BOX | 0xbf800000);
	assert_int_equal(op_from_x(h, exec_FCVT_D_WU, 0xffffffff80000000, RNE), 0x41e0000000000000);
	assert_int_equal(op_from_x(h, exec_FCVT_D_W, 0x12345678ffffffff, RNE), 0xbff0000000000000);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_from_x(h, exec_FCVT_S_WU, 0xffffffff, RNE), BOX | 0x4f800000);
	assert_int_equal(h->fflags, NX);
	assert_int_equal(op_from_x(h, exec_FCVT_S_WU, 0xffffffff, RTZ), BOX | 0x4f7fffff);
	assert_int_equal(op_from_x(h, exec_FCVT_D_L, 0x8000000000000000, RNE), 0xc3e0000000000000);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_from_x(h, exec_FCVT_D_LU, ~0ull, RNE), 0x43f0000000000000);
	assert_int_equal(h->fflags, NX);
	assert_int_equal(op_from_x(h, exec_FCVT_D_LU, ~0ull, RDN), 0x43efffffffffffff);
	assert_int_equal(op_from_x(h, exec_FCVT_S_LU, 0, RDN), BOX); /* +0, even in RDN */
	assert_int_equal(op_from_x(h, exec_FCVT_D_L, 0, RDN), 0);
	assert_int_equal(op_from_x(h, exec_FCVT_D_L, (uint64_t)-3, RNE), 0xc008000000000000);
	assert_int_equal(h->fflags, 0);
}

static void test_fcvt_s_d_d_s(void **state)
{
	struct hart *h = *state;
	struct {
		uint64_t d;
		unsigned rm;
		uint32_t s, flags;
	} t[] = {
	    {0x3ff8000000000000, RNE, 0x3fc00000, 0},
	    {0x8000000000000000, RNE, 0x80000000, 0},
	    {0xfff0000000000000, RNE, 0xff800000, 0},
	    /* 1 + 2^-24 (a tie) and 1 + 2^-24 + 2^-52. */
	    {0x3ff0000010000000, RNE, 0x3f800000, NX},
	    {0x3ff0000010000000, RMM, 0x3f800001, NX},
	    {0x3ff0000010000001, RNE, 0x3f800001, NX},
	    {0xbff0000010000000, RDN, 0xbf800001, NX},
	    {0xbff0000010000000, RUP, 0xbf800000, NX},
	    /* Overflow. */
	    {0x47f0000000000000, RNE, 0x7f800000, OF | NX},
	    {0x47f0000000000000, RTZ, 0x7f7fffff, OF | NX},
	    {0xc7f0000000000000, RUP, 0xff7fffff, OF | NX},
	    {0xc7f0000000000000, RMM, 0xff800000, OF | NX},
	    /* Largest single plus half an ulp (a tie) rounds up to overflow; below, it does not. */
	    {0x47effffff0000000, RNE, 0x7f800000, OF | NX},
	    {0x47efffffefffffff, RNE, 0x7f7fffff, NX},
	    {0x47efffffe0000000, RUP, 0x7f7fffff, 0},
	    /* 2^-126 - 2^-151 rounds to 2^-126 with 24 bits and an unbounded exponent (a tie,
	     * to even): not tiny after rounding, so no UF. Toward zero it is tiny. */
	    {0x380ffffff0000000, RNE, 0x00800000, NX},
	    {0x380ffffff0000000, RTZ, 0x007fffff, UF | NX},
	    {0x380fffffff000000, RMM, 0x00800000, NX},
	    /* 2^-126 - 2^-150 is exact with 24 bits, so tiny, yet rounds to 2^-126 as a
	     * subnormal (a tie, to even): UF with a normal result. */
	    {0x380fffffe0000000, RNE, 0x00800000, UF | NX},
	    {0x36a0000000000000, RNE, 0x00000001, 0},       /* 2^-149: exact */
	    {0x3690000000000000, RNE, 0x00000000, UF | NX}, /* 2^-150: tie to 0 */
	    {0x3690000000000000, RMM, 0x00000001, UF | NX},
	    {0x0000000000000001, RUP, 0x00000001, UF | NX}, /* subnormal double */
	    {0x8000000000000001, RUP, 0x80000000, UF | NX},
	    {0x8000000000000001, RDN, 0x80000001, UF | NX},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		h->f[1] = t[i].d;
		h->fflags = 0;
		run(h, exec_FCVT_S_D, 3, 1, 0, 0, t[i].rm);
		if (h->f[3] != (BOX | t[i].s) || h->fflags != t[i].flags)
			fail_msg("case %zu: got %#llx flags %#x", i, (unsigned long long)h->f[3],
				 h->fflags);
	}
	/* FCVT.D.S is exact, subnormals included. */
	static const uint32_t s[] = {0x3f800000, 0x00000001, 0x807fffff, 0xff800000, 0x80000000};
	static const uint64_t d[] = {D_ONE, 0x36a0000000000000, 0xb80fffffc0000000,
				     0xfff0000000000000, 0x8000000000000000};
	for (size_t i = 0; i < 5; i++) {
		h->f[1] = BOX | s[i];
		h->fflags = 0;
		run(h, exec_FCVT_D_S, 3, 1, 0, 0, RUP);
		assert_int_equal(h->f[3], d[i]);
		assert_int_equal(h->fflags, 0);
	}
}

/* The software conversions agree with the host's IEEE conversions in the four modes C has,
 * results and flags, over random operands of every magnitude. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint32_t host_flags(int ex)
{
	return ((ex & FE_INEXACT) ? NX : 0) | ((ex & FE_UNDERFLOW) ? UF : 0) |
	       ((ex & FE_OVERFLOW) ? OF : 0) | ((ex & FE_DIVBYZERO) ? DZ : 0) |
	       ((ex & FE_INVALID) ? NV : 0);
}

static void test_fcvt_random(void **state)
{
	struct hart *h = *state;
	static const int host_rm[4] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 20000; i++) {
		unsigned rm = (unsigned)i & 3;
		uint64_t x = rnd(&seed) >> (rnd(&seed) & 63);
		if (i & 4)
			x = 0 - x;
		uint64_t dv = rnd(&seed);
		/* exponents around the binary32 range, so rounding, overflow and underflow occur */
		dv = (dv & 0x800fffffffffffffull) | ((uint64_t)(0x340 + (dv >> 52) % 0x180) << 52);
		double d;
		memcpy(&d, &dv, 8);
		volatile double vd = d;
		volatile int64_t vx = (int64_t)x;
		/* unsigned, as a signed conversion rounded to odd and doubled: compilers' own
		 * unsigned sequences may ignore the rounding mode */
		volatile int64_t vhx = (int64_t)(x >> 63 ? (x >> 1) | (x & 1) : x);

		fesetround(host_rm[rm]);
		feclearexcept(FE_ALL_EXCEPT);
		volatile float fs = (float)vd;
		uint32_t fl_sd = host_flags(fetestexcept(FE_ALL_EXCEPT));
		feclearexcept(FE_ALL_EXCEPT);
		volatile float fl = (float)vx;
		uint32_t fl_sl = host_flags(fetestexcept(FE_ALL_EXCEPT));
		feclearexcept(FE_ALL_EXCEPT);
		volatile double dlu = (double)vhx * (x >> 63 ? 2.0 : 1.0);
		uint32_t fl_dlu = host_flags(fetestexcept(FE_ALL_EXCEPT));
		fesetround(FE_TONEAREST);
		float f_sd = fs, f_sl = fl;
		double d_lu = dlu;
		uint32_t b_sd, b_sl;
		uint64_t b_lu;
		memcpy(&b_sd, &f_sd, 4);
		memcpy(&b_sl, &f_sl, 4);
		memcpy(&b_lu, &d_lu, 8);

		h->f[1] = dv;
		h->fflags = 0;
		run(h, exec_FCVT_S_D, 3, 1, 0, 0, rm);
		if (h->f[3] != (BOX | b_sd) || h->fflags != fl_sd)
			fail_msg("fcvt.s.d %#llx rm %u: got %#llx/%#x want %#x/%#x",
				 (unsigned long long)dv, rm, (unsigned long long)h->f[3], h->fflags,
				 b_sd, fl_sd);
		assert_int_equal(op_from_x(h, exec_FCVT_S_L, x, rm), BOX | b_sl);
		assert_int_equal(h->fflags, fl_sl);
		assert_int_equal(op_from_x(h, exec_FCVT_D_LU, x, rm), b_lu);
		assert_int_equal(h->fflags, fl_dlu);
	}
}

/* ---- binary128 unpacking (the exact path on hosts whose long double is binary128) ---- */

struct q128 {
	uint64_t hi, lo;
	enum fpu_class cls;
	bool neg;
	int exp;
	uint64_t sig;
};

/* A binary128 value with its upper and lower halves, little-endian in memory. */
#if LDBL_MANT_DIG == 113
typedef long double quad;
#define HAVE_QUAD 1
#elif defined(__SIZEOF_FLOAT128__)
typedef __float128 quad;
#define HAVE_QUAD 1
#endif

static void test_unpack_binary128(void **state)
{
	(void)state;
	static const struct q128 known[] = {
	    {0x3fff000000000000ull, 0, FPU_FINITE, false, 0, 1ull << 63}, /* 1 */
	    {0xbfff800000000000ull, 0, FPU_FINITE, true, 0, 3ull << 62},  /* -1.5 */
	    /* 1 + 2^-63 is the last bit kept; 2^-64 and 2^-112 below it fold into bit 0 */
	    {0x3fff000000000000ull, 1ull << 49, FPU_FINITE, false, 0, (1ull << 63) | 1},
	    {0x3fff000000000000ull, 1ull << 48, FPU_FINITE, false, 0, (1ull << 63) | 1},
	    {0x3fff000000000000ull, 1, FPU_FINITE, false, 0, (1ull << 63) | 1},
	    {0x3fff000000000000ull, 2ull << 49, FPU_FINITE, false, 0, (1ull << 63) | 2},
	    {0x4000ffffffffffffull, 0xfffe000000000000ull, FPU_FINITE, false, 1, ~0ull},
	    {0x4000ffffffffffffull, 0xfffc000000000000ull, FPU_FINITE, false, 1, ~1ull},
	    {0x7ffeffffffffffffull, ~0ull, FPU_FINITE, false, 16383, ~0ull},   /* largest */
	    {0x0001000000000000ull, 0, FPU_FINITE, false, -16382, 1ull << 63}, /* smallest normal */
	    {0x0000800000000000ull, 0, FPU_FINITE, false, -16383, 1ull << 63}, /* subnormals */
	    {0x8000ffffffffffffull, ~0ull, FPU_FINITE, true, -16383, ~0ull},
	    {0, 1, FPU_FINITE, false, -16494, 1ull << 63},
	    {0, 3, FPU_FINITE, false, -16493, 3ull << 62},
	    {0, 0, FPU_ZERO, false, 0, 0},
	    {1ull << 63, 0, FPU_ZERO, true, 0, 0},
	    {0x7fff000000000000ull, 0, FPU_INF, false, 0, 0},
	    {0xffff000000000000ull, 0, FPU_INF, true, 0, 0},
	    {0x7fff800000000000ull, 0, FPU_NAN, false, 0, 0},
	    {0x7fff000000000000ull, 1, FPU_NAN, false, 0, 0}, /* signaling */
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const struct q128 *t = &known[i];
		bool neg = !t->neg;
		int exp = 12345;
		uint64_t sig = 12345;
		assert_int_equal(fpu_unpack_binary128(t->hi, t->lo, &neg, &exp, &sig), t->cls);
		assert_int_equal(neg, t->neg);
		if (t->cls == FPU_FINITE) {
			assert_int_equal(exp, t->exp);
			assert_int_equal(sig, t->sig);
		}
	}

#ifdef HAVE_QUAD
	/* A product of two binary64 values is exact in binary128: unpacked and rounded with
	 * fpu_round_pack it must give the host's binary64 product in every rounding mode, with
	 * its flags, subnormal and overflowing results included. (UF only where the host detects
	 * tininess after rounding, as RISC-V does: x86-64.) */
	static const int host_rm[4] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
	uint64_t seed = 0x2545f4914f6cdd1dull;
	for (int i = 0; i < 20000; i++) {
		unsigned rm = (unsigned)i & 3;
		uint64_t ab = rnd(&seed), bb = rnd(&seed);
		int ea = (int)(rnd(&seed) % 1081) - 540, target = (int)(rnd(&seed) % 2120) - 1090;
		int eb = target - ea < -1022 ? -1022 : target - ea > 1023 ? 1023 : target - ea;
		if (i & 8) /* all-ones significands: results next to powers of two */
			ab |= (1ull << 52) - 1;
		ab = (ab & 0x800fffffffffffffull) | (uint64_t)(ea + 1023) << 52;
		bb = (bb & 0x800fffffffffffffull) | (uint64_t)(eb + 1023) << 52;
		double a, b;
		memcpy(&a, &ab, 8);
		memcpy(&b, &bb, 8);
		volatile double va = a, vb = b;
		fesetround(host_rm[rm]);
		feclearexcept(FE_ALL_EXCEPT);
		volatile double vp = va * vb;
		uint32_t want_fl = host_flags(fetestexcept(FE_ALL_EXCEPT));
		fesetround(FE_TONEAREST);
		double p = vp;
		uint64_t want;
		memcpy(&want, &p, 8);

		quad q = (quad)a * (quad)b;
		uint64_t w[2];
		memcpy(w, &q, 16);
		bool neg;
		int exp;
		uint64_t sig;
		assert_int_equal(fpu_unpack_binary128(w[1], w[0], &neg, &exp, &sig), FPU_FINITE);
		uint32_t fl = 0;
		uint64_t got = fpu_round_pack(FP_FMT_D, neg, exp, sig, rm, &fl);
#if !defined(__x86_64__)
		fl &= ~(uint32_t)UF;
		want_fl &= ~(uint32_t)UF;
#endif
		if (got != want || fl != want_fl)
			fail_msg("%a * %a rm %u: got %#llx/%#x want %#llx/%#x", a, b, rm,
				 (unsigned long long)got, fl, (unsigned long long)want, want_fl);
	}
#endif
}

/* ---- mstatus.FS (priv spec 3.1.6.6) ---- */

static void test_fs_off_and_dirty(void **state)
{
	struct hart *h = *state;
	static const insn_fn any[] = {exec_FADD_S,   exec_FSGNJ_D, exec_FMV_X_W, exec_FMV_D_X,
				      exec_FCLASS_S, exec_FEQ_D,   exec_FMIN_S,  exec_FCVT_S_D,
				      exec_FCVT_W_S, exec_FMADD_D, exec_FLW,     exec_FSD};
	h->mstatus = 0;
	hart_update_mode(h);
	assert_int_equal(h->fs_off, 1);
	for (size_t i = 0; i < sizeof(any) / sizeof(any[0]); i++) {
		h->priv = PRV_S;
		h->mstatus = 0;
		hart_update_mode(h);
		h->f[4] = 0x77;
		h->x[4] = 0x88;
		run(h, any[i], 4, 1, 2, 3, RNE);
		assert_int_equal(h->mcause, CAUSE_ILLEGAL_INSTRUCTION);
		assert_int_equal(h->f[4], 0x77);
		assert_int_equal(h->x[4], 0x88);
	}

	/* FS Initial: reads and quiet compares keep it; f writes and new flags make it Dirty. */
	h->priv = PRV_S;
	h->mstatus = FS_INITIAL << MSTATUS_FS_SHIFT;
	hart_update_mode(h);
	h->f[1] = D_ONE;
	h->f[2] = D_ONE;
	h->fflags = 0;
	run(h, exec_FEQ_D, 5, 1, 2, 0, 0);
	run(h, exec_FMV_X_D, 5, 1, 0, 0, 0);
	run(h, exec_FCLASS_D, 5, 1, 0, 0, 0);
	run(h, exec_FCVT_L_D, 5, 1, 0, 0, RNE);
	assert_int_equal(h->mstatus & MSTATUS_FS, FS_INITIAL << MSTATUS_FS_SHIFT);
	h->f[2] = D_CANON;
	run(h, exec_FLT_D, 5, 1, 2, 0, 0); /* signals NV: fflags written */
	assert_int_equal(h->mstatus & MSTATUS_FS, MSTATUS_FS);
	h->mstatus = FS_CLEAN << MSTATUS_FS_SHIFT;
	run(h, exec_FSGNJ_D, 3, 1, 1, 0, 0);
	assert_int_equal(h->mstatus & MSTATUS_FS, MSTATUS_FS);
	h->mstatus = FS_CLEAN << MSTATUS_FS_SHIFT;
	h->x[6] = 7;
	run(h, exec_FMV_W_X, 3, 6, 0, 0, 0);
	assert_int_equal(h->mstatus & MSTATUS_FS, MSTATUS_FS);
	assert_int_equal(hart_mstatus_read(h) >> 63, 1);
}

/* ---- Zfhmin: halves NaN-boxed in the f registers, conversions to and from S and D ---- */

#define HBOX 0xffffffffffff0000ull

/* Convert f1 (raw bits) with fn into f4 in mode rm; returns f4, the flags in *fl. */
static uint64_t cvt(struct hart *h, insn_fn fn, uint64_t f1, unsigned rm, uint32_t *fl)
{
	h->f[1] = f1;
	h->f[4] = 0;
	h->fflags = 0;
	run(h, fn, 4, 1, 0, 0, rm);
	assert_int_equal(h->mcause, 0);
	*fl = h->fflags;
	return h->f[4];
}

static void test_zfhmin(void **state)
{
	struct hart *h = *state;
	uint32_t fl;
	/* widening is exact; NaNs become canonical, only sNaN signals */
	assert_int_equal(cvt(h, exec_FCVT_S_H, HBOX | 0x3c00, RNE, &fl), BOX | 0x3f800000);
	assert_int_equal(cvt(h, exec_FCVT_S_H, HBOX | 0xc000, RNE, &fl), BOX | 0xc0000000);
	assert_int_equal(cvt(h, exec_FCVT_S_H, HBOX | 0x0001, RNE, &fl), BOX | 0x33800000);
	assert_int_equal(cvt(h, exec_FCVT_S_H, HBOX | 0x03ff, RNE, &fl), BOX | 0x387fc000);
	assert_int_equal(fl, 0);
	assert_int_equal(cvt(h, exec_FCVT_S_H, HBOX | 0x7c00, RNE, &fl), BOX | 0x7f800000);
	assert_int_equal(cvt(h, exec_FCVT_S_H, HBOX | 0x7e01, RNE, &fl), BOX | S_CANON);
	assert_int_equal(fl, 0);
	assert_int_equal(cvt(h, exec_FCVT_S_H, HBOX | 0x7c01, RNE, &fl), BOX | S_CANON);
	assert_int_equal(fl, NV);
	/* a half that is not NaN-boxed reads as the canonical (quiet) NaN */
	assert_int_equal(cvt(h, exec_FCVT_S_H, 0x3c00, RNE, &fl), BOX | S_CANON);
	assert_int_equal(fl, 0);
	assert_int_equal(cvt(h, exec_FCVT_D_H, HBOX | 0x3c00, RNE, &fl), 0x3ff0000000000000ull);
	assert_int_equal(cvt(h, exec_FCVT_D_H, HBOX | 0x8001, RNE, &fl), 0xbe70000000000000ull);
	/* narrowing rounds in the instruction's mode */
	assert_int_equal(cvt(h, exec_FCVT_H_S, BOX | 0x3f800000, RNE, &fl), HBOX | 0x3c00);
	assert_int_equal(fl, 0);
	assert_int_equal(cvt(h, exec_FCVT_H_S, BOX | 0x477fe000, RNE, &fl), HBOX | 0x7bff);
	assert_int_equal(fl, 0);
	assert_int_equal(cvt(h, exec_FCVT_H_S, BOX | 0x477ff000, RNE, &fl), HBOX | 0x7c00);
	assert_int_equal(fl, OF | NX);
	/* toward zero, 65520 rounds to 65504 itself: inexact, not an overflow */
	assert_int_equal(cvt(h, exec_FCVT_H_S, BOX | 0x477ff000, RTZ, &fl), HBOX | 0x7bff);
	assert_int_equal(fl, NX);
	assert_int_equal(cvt(h, exec_FCVT_H_S, BOX | 0x47800000, RTZ, &fl), HBOX | 0x7bff);
	assert_int_equal(fl, OF | NX);
	assert_int_equal(cvt(h, exec_FCVT_H_S, BOX | 0x3eaaaaab, RNE, &fl), HBOX | 0x3555);
	assert_int_equal(fl, NX);
	assert_int_equal(cvt(h, exec_FCVT_H_S, BOX | 0x33000000, RNE, &fl), HBOX | 0x0000);
	assert_int_equal(fl, UF | NX);
	assert_int_equal(cvt(h, exec_FCVT_H_S, BOX | 0x33000000, RUP, &fl), HBOX | 0x0001);
	assert_int_equal(fl, UF | NX);
	assert_int_equal(cvt(h, exec_FCVT_H_S, BOX | 0x7f800001, RNE, &fl), HBOX | 0x7e00);
	assert_int_equal(fl, NV);
	assert_int_equal(cvt(h, exec_FCVT_H_D, 0x3ff8000000000000ull, RNE, &fl), HBOX | 0x3e00);
	assert_int_equal(cvt(h, exec_FCVT_H_D, 0x8000000000000000ull, RNE, &fl), HBOX | 0x8000);
	assert_int_equal(cvt(h, exec_FCVT_H_D, 0x0000000000000001ull, RDN, &fl), HBOX | 0x0000);
	assert_int_equal(fl, UF | NX);
	/* moves: bits only */
	assert_int_equal(op_x(h, exec_FMV_X_H, HBOX | 0x8001, 0, 0), 0xffffffffffff8001ull);
	assert_int_equal(op_x(h, exec_FMV_X_H, 0x7fff, 0, 0), 0x7fff);
	assert_int_equal(op_from_x(h, exec_FMV_H_X, 0x12345678, 0), HBOX | 0x5678);
	/* a reserved rounding mode is illegal even for an exact conversion */
	h->f[1] = HBOX | 0x3c00;
	run(h, exec_FCVT_S_H, 4, 1, 0, 0, 5);
	assert_int_equal(h->mcause, CAUSE_ILLEGAL_INSTRUCTION);
}

/* ---- Zfa ---- */

static uint64_t fli(struct hart *h, insn_fn fn, unsigned index)
{
	h->f[4] = 0;
	run(h, fn, 4, index, 0, 0, 0);
	return h->f[4];
}

static void test_zfa(void **state)
{
	struct hart *h = *state;
	assert_int_equal(fli(h, exec_FLI_S, 0), BOX | 0xbf800000);
	assert_int_equal(fli(h, exec_FLI_S, 1), BOX | 0x00800000);
	assert_int_equal(fli(h, exec_FLI_S, 2), BOX | 0x37800000);
	assert_int_equal(fli(h, exec_FLI_S, 9), BOX | 0x3ea00000);
	assert_int_equal(fli(h, exec_FLI_S, 28), BOX | 0x47000000);
	assert_int_equal(fli(h, exec_FLI_S, 29), BOX | 0x47800000);
	assert_int_equal(fli(h, exec_FLI_S, 30), BOX | 0x7f800000);
	assert_int_equal(fli(h, exec_FLI_S, 31), BOX | S_CANON);
	assert_int_equal(fli(h, exec_FLI_D, 0), 0xbff0000000000000ull);
	assert_int_equal(fli(h, exec_FLI_D, 1), 0x0010000000000000ull);
	assert_int_equal(fli(h, exec_FLI_D, 16), 0x3ff0000000000000ull);
	assert_int_equal(fli(h, exec_FLI_D, 26), 0x4060000000000000ull);
	assert_int_equal(fli(h, exec_FLI_D, 31), D_CANON);

	/* minimum/maximum: any NaN gives the canonical NaN */
	assert_int_equal(op_s(h, exec_FMINM_S, 0x3f800000, 0x7fc00001, 0, 0), S_CANON);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_s(h, exec_FMAXM_S, 0x3f800000, 0x7f800001, 0, 0), S_CANON);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_s(h, exec_FMINM_S, 0x80000000, 0x00000000, 0, 0), 0x80000000);
	assert_int_equal(op_s(h, exec_FMAXM_S, 0x80000000, 0x00000000, 0, 0), 0x00000000);
	assert_int_equal(op_d(h, exec_FMAXM_D, 0x3ff0000000000000ull, 0x4000000000000000ull, 0, 0),
			 0x4000000000000000ull);
	assert_int_equal(op_d(h, exec_FMINM_D, 0x3ff0000000000000ull, D_CANON, 0, 0), D_CANON);

	/* round to integral, in the format */
	assert_int_equal(op_s(h, exec_FROUND_S, 0x40200000, 0, 0, RNE), 0x40000000);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_s(h, exec_FROUNDNX_S, 0x40200000, 0, 0, RNE), 0x40000000);
	assert_int_equal(h->fflags, NX);
	assert_int_equal(op_s(h, exec_FROUND_S, 0x40200000, 0, 0, RMM), 0x40400000);
	assert_int_equal(op_s(h, exec_FROUND_S, 0xc0200000, 0, 0, RDN), 0xc0400000);
	assert_int_equal(op_s(h, exec_FROUND_S, 0xbe800000, 0, 0, RNE), 0x80000000);
	assert_int_equal(op_s(h, exec_FROUND_S, 0xbe800000, 0, 0, RUP), 0x80000000);
	assert_int_equal(op_s(h, exec_FROUND_S, 0x3f000000, 0, 0, RNE), 0x00000000);
	assert_int_equal(op_s(h, exec_FROUND_S, 0x3f400000, 0, 0, RNE), 0x3f800000);
	assert_int_equal(op_s(h, exec_FROUND_S, 0x00000001, 0, 0, RUP), 0x3f800000);
	assert_int_equal(op_s(h, exec_FROUND_S, 0x501502f9, 0, 0, RNE), 0x501502f9);
	assert_int_equal(op_s(h, exec_FROUNDNX_S, 0x7f800000, 0, 0, RNE), 0x7f800000);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_s(h, exec_FROUND_S, 0x7f800001, 0, 0, RNE), S_CANON);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_d(h, exec_FROUND_D, 0x3ff8000000000000ull, 0, 0, RNE),
			 0x4000000000000000ull);
	assert_int_equal(op_d(h, exec_FROUNDNX_D, 0xbff8000000000000ull, 0, 0, RTZ),
			 0xbff0000000000000ull);
	assert_int_equal(h->fflags, NX);
	assert_int_equal(op_d(h, exec_FROUND_D, 0x432ffffffffffffeull, 0, 0, RNE),
			 0x432ffffffffffffeull); /* 2^52 + ..., integral already */

	/* fcvtmod.w.d: modulo 2^32, sign-extended */
	assert_int_equal(op_x(h, exec_FCVTMOD_W_D, 0x3ff8000000000000ull, 0, RTZ), 1);
	assert_int_equal(h->fflags, NX);
	assert_int_equal(op_x(h, exec_FCVTMOD_W_D, 0xbff8000000000000ull, 0, RTZ), ~0ull);
	assert_int_equal(op_x(h, exec_FCVTMOD_W_D, 0x41f0000000500000ull, 0, RTZ), 5);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_x(h, exec_FCVTMOD_W_D, 0x41f00000002c0000ull, 0, RTZ), 2);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_x(h, exec_FCVTMOD_W_D, 0xc1e0000000000000ull, 0, RTZ),
			 0xffffffff80000000ull);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_x(h, exec_FCVTMOD_W_D, 0x41e0000000000000ull, 0, RTZ),
			 0xffffffff80000000ull);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_x(h, exec_FCVTMOD_W_D, 0x7ff0000000000000ull, 0, RTZ), 0);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_x(h, exec_FCVTMOD_W_D, D_CANON, 0, RTZ), 0);
	assert_int_equal(op_x(h, exec_FCVTMOD_W_D, 0x44f0000000000000ull, 0, RTZ), 0);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_x(h, exec_FCVTMOD_W_D, 0x4340000000000001ull, 0, RTZ), 2);
	assert_int_equal(op_x(h, exec_FCVTMOD_W_D, 0x8000000000000000ull, 0, RTZ), 0);
	assert_int_equal(h->fflags, 0);

	/* quiet comparisons */
	assert_int_equal(op_x(h, exec_FLEQ_S, BOX | 0x3f800000, BOX | 0x3f800000, 0), 1);
	assert_int_equal(op_x(h, exec_FLTQ_S, BOX | 0x3f800000, BOX | 0x3f800000, 0), 0);
	assert_int_equal(op_x(h, exec_FLTQ_S, BOX | 0x7fc00000, BOX | 0x3f800000, 0), 0);
	assert_int_equal(h->fflags, 0);
	assert_int_equal(op_x(h, exec_FLEQ_S, BOX | 0x7f800001, BOX | 0x3f800000, 0), 0);
	assert_int_equal(h->fflags, NV);
	assert_int_equal(op_x(h, exec_FLEQ_D, 0x8000000000000000ull, 0, 0), 1);
	assert_int_equal(op_x(h, exec_FLTQ_D, 0x8000000000000000ull, 0, 0), 0);
	assert_int_equal(op_x(h, exec_FLTQ_D, 0x3ff0000000000000ull, 0x4000000000000000ull, 0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_nan_boxing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zfhmin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zfa, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_canonical_nan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_injection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rounding_single, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rounding_double, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rounding_mode_field, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_state_restored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fma, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fsqrt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fmin_fmax, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compare, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fclass, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fcvt_to_int, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fcvt_from_int, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fcvt_s_d_d_s, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fcvt_random, setup, teardown),
	    cmocka_unit_test(test_unpack_binary128),
	    cmocka_unit_test_setup_teardown(test_fs_off_and_dirty, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
