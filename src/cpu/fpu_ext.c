/* Zfhmin (half-precision loads, stores, moves and conversions to and from binary32 and
 * binary64; unprivileged spec, "Zfh and Zfhmin") and Zfa (additional floating-point
 * instructions for S and D: fli, fminm/fmaxm, fround/froundnx, fcvtmod.w.d, fleq/fltq;
 * "Zfa"), in software: halves are NaN-boxed in the f registers as singles are (a half whose
 * upper 48 bits are not all ones reads as the canonical NaN 0x7e00), NaN results are
 * canonical, and the flags are IEEE 754's as the spec lists them. */
#include <float.h>

#include "cpu/fpu.h"
#include "cpu/mmu.h"

#define HANDLER(name) void exec_##name(struct hart *h, const struct insn *in)

#define F16_SIGN  0x8000ull
#define F16_EXP   0x7c00ull
#define F16_QUIET 0x0200ull
#define F16_CANON 0x7e00ull
#define H_BOX     0xffffffffffff0000ull

/* A half operand: not properly NaN-boxed reads as the canonical NaN. */
static uint64_t fp_rs_h(const struct hart *h, unsigned rs)
{
	uint64_t v = h->f[rs];
	return (v & H_BOX) == H_BOX ? (v & 0xffff) : F16_CANON;
}
static void fp_wr_h(struct hart *h, unsigned rd, uint64_t v)
{
	h->f[rd] = H_BOX | (v & 0xffff);
	h->mstatus |= MSTATUS_FS;
}

/* ---- Zfhmin ---- */

HANDLER(FLH)
{
	uint64_t v;
	if (fp_enabled(h) && mmu_load(h, h->x[in->rs1] + (uint64_t)(int64_t)in->imm, 2, &v))
		fp_wr_h(h, in->rd, v);
}
HANDLER(FSH)
{
	if (fp_enabled(h))
		mmu_store(h, h->x[in->rs1] + (uint64_t)(int64_t)in->imm, 2, h->f[in->rs2]);
}
/* Moves: bits only, no NaN-box check (as FMV.X.W). */
HANDLER(FMV_X_H)
{
	if (fp_enabled(h))
		h->x[in->rd] = (uint64_t)(int64_t)(int16_t)h->f[in->rs1];
}
HANDLER(FMV_H_X)
{
	if (fp_enabled(h))
		fp_wr_h(h, in->rd, h->x[in->rs1]);
}

/* Half v widened exactly to format d (binary32 or binary64): sNaN signals invalid, NaNs
 * become canonical. */
static uint64_t widen_h(struct hart *h, bool d, uint64_t v)
{
	bool neg = v & F16_SIGN;
	unsigned e = (unsigned)(v >> 10) & 0x1f;
	uint64_t frac = v & 0x3ff, sign = neg ? SIGN(d) : 0;
	if (e == 0x1f) {
		if (frac && !(v & F16_QUIET))
			fp_flags(h, FFLAG_NV);
		return frac ? CANON(d) : sign | EXPM(d);
	}
	if (e == 0 && frac == 0)
		return sign;
	int exp = (int)e - 15;
	if (e == 0) {                                /* subnormal: normalise */
		int lz = __builtin_clzll(frac) - 54; /* leading zeros within the 10 bits */
		frac = (frac << (lz + 1)) & 0x3ff;
		exp = -14 - (lz + 1);
	}
	if (d)
		return sign | (uint64_t)(exp + 1023) << 52 | frac << 42;
	return sign | (uint64_t)(exp + 127) << 23 | frac << 13;
}

/* binary32/64 v narrowed to half in mode rm. */
static uint64_t narrow_h(struct hart *h, bool d, uint64_t v, unsigned rm)
{
	const int p = d ? 53 : 24, bias = d ? 1023 : 127;
	bool neg = v & SIGN(d);
	int e = (int)((v & MAG(d)) >> (p - 1));
	uint64_t frac = v & ((1ull << (p - 1)) - 1);
	uint32_t fl = 0;
	uint64_t r;
	if (f_isnan(d, v)) {
		if (f_issnan(d, v))
			fl = FFLAG_NV;
		r = F16_CANON;
	} else if (f_isinf(d, v)) {
		r = (neg ? F16_SIGN : 0) | F16_EXP;
	} else if (f_iszero(d, v)) {
		r = neg ? F16_SIGN : 0;
	} else if (e == 0) {
		int lz = __builtin_clzll(frac);
		r = fpu_round_pack(FP_FMT_H, neg, 65 - bias - p - lz, frac << lz, rm, &fl);
	} else {
		r = fpu_round_pack(FP_FMT_H, neg, e - bias, (frac | 1ull << (p - 1)) << (64 - p),
				   rm, &fl);
	}
	fp_flags(h, fl);
	return r;
}

HANDLER(FCVT_S_H)
{
	if (fp_rm(h, in) >= 0)
		fp_wr(h, false, in->rd, widen_h(h, false, fp_rs_h(h, in->rs1)));
}
HANDLER(FCVT_D_H)
{
	if (fp_rm(h, in) >= 0)
		fp_wr(h, true, in->rd, widen_h(h, true, fp_rs_h(h, in->rs1)));
}
HANDLER(FCVT_H_S)
{
	int rm = fp_rm(h, in);
	if (rm >= 0)
		fp_wr_h(h, in->rd, narrow_h(h, false, fp_rs(h, false, in->rs1), (unsigned)rm));
}
HANDLER(FCVT_H_D)
{
	int rm = fp_rm(h, in);
	if (rm >= 0)
		fp_wr_h(h, in->rd, narrow_h(h, true, h->f[in->rs1], (unsigned)rm));
}

/* ---- Zfa ---- */

/* fli's 32 constants (Zfa, table "Immediates for FLI"): index 1 is the smallest positive
 * normal, 30 infinity, 31 the canonical NaN. */
static const double fli_table[32] = {-1.0,          0.0 /* min normal */,
				     0x1p-16,       0x1p-15,
				     0x1p-8,        0x1p-7,
				     0.0625,        0.125,
				     0.25,          0.3125,
				     0.375,         0.4375,
				     0.5,           0.625,
				     0.75,          0.875,
				     1.0,           1.25,
				     1.5,           1.75,
				     2.0,           2.5,
				     3.0,           4.0,
				     8.0,           16.0,
				     128.0,         256.0,
				     0x1p15,        0x1p16,
				     0.0 /* inf */, 0.0 /* NaN */};

static uint64_t fli_value(bool d, unsigned i)
{
	if (i == 1)
		return d ? 1ull << 52 : 1ull << 23;
	if (i == 30)
		return EXPM(d);
	if (i == 31)
		return CANON(d);
	if (d) {
		uint64_t b;
		memcpy(&b, &fli_table[i], 8);
		return b;
	}
	float f = (float)fli_table[i]; /* exact: every entry is a short binary fraction */
	uint32_t b;
	memcpy(&b, &f, 4);
	return b;
}
HANDLER(FLI_S)
{
	if (fp_enabled(h))
		fp_wr(h, false, in->rd, fli_value(false, in->rs1));
}
HANDLER(FLI_D)
{
	if (fp_enabled(h))
		fp_wr(h, true, in->rd, fli_value(true, in->rs1));
}

/* minimum / maximum of IEEE 754-2019: any NaN operand gives the canonical NaN (sNaN signals
 * invalid); -0 < +0. */
static uint64_t fp_minmax_m(struct hart *h, bool d, uint64_t a, uint64_t b, bool max)
{
	if (f_isnan(d, a) || f_isnan(d, b)) {
		if (f_issnan(d, a) || f_issnan(d, b))
			fp_flags(h, FFLAG_NV);
		return CANON(d);
	}
	return (f_key(d, a) < f_key(d, b)) != max ? a : b;
}
#define MINMAXM(name, d, max)                                                                      \
	HANDLER(name)                                                                              \
	{                                                                                          \
		if (fp_enabled(h))                                                                 \
			fp_wr(h, d, in->rd,                                                        \
			      fp_minmax_m(h, d, fp_rs(h, d, in->rs1), fp_rs(h, d, in->rs2), max)); \
	}
MINMAXM(FMINM_S, false, false)
MINMAXM(FMAXM_S, false, true)
MINMAXM(FMINM_D, true, false)
MINMAXM(FMAXM_D, true, true)

/* v rounded to an integral value of its own format in mode rm (roundToIntegral): NaNs give
 * the canonical NaN (sNaN signals invalid); infinities, zeros and values already integral are
 * kept; the sign is kept (-0.25 rounds to -0). nx: signal inexact (froundnx). */
static uint64_t fp_round(struct hart *h, bool d, uint64_t v, unsigned rm, bool nx)
{
	const int p = d ? 53 : 24, bias = d ? 1023 : 127;
	if (f_isnan(d, v)) {
		if (f_issnan(d, v))
			fp_flags(h, FFLAG_NV);
		return CANON(d);
	}
	int e = (int)((v & MAG(d)) >> (p - 1)) - bias;
	if (f_isinf(d, v) || f_iszero(d, v) || e >= p - 1)
		return v;
	bool neg = v & SIGN(d);
	uint64_t sig = (v & ((1ull << (p - 1)) - 1)) | (e > -bias ? 1ull << (p - 1) : 0);
	unsigned shift = (unsigned)(p - 1 - e); /* fraction bits: at least 1 */
	uint64_t n, rest;
	unsigned rb;
	if (shift > 63) { /* below 2^-(64-p): certainly under a half */
		n = 0;
		rb = 1;
	} else {
		n = sig >> shift;
		rest = sig & ((1ull << shift) - 1);
		uint64_t half = 1ull << (shift - 1);
		rb = rest == 0 ? 0 : rest < half ? 1 : rest == half ? 2 : 3;
	}
	n += round_up(rm, neg, rb, n & 1);
	if (rb && nx)
		fp_flags(h, FFLAG_NX);
	uint64_t r;
	if (d) {
		double x = (double)n; /* exact: n <= 2^52 */
		memcpy(&r, &x, 8);
	} else {
		float x = (float)n;
		uint32_t b;
		memcpy(&b, &x, 4);
		r = b;
	}
	return r | (neg ? SIGN(d) : 0);
}
#define ROUND(name, d, nx)                                                             \
	HANDLER(name)                                                                  \
	{                                                                              \
		int rm = fp_rm(h, in);                                                 \
		if (rm >= 0)                                                           \
			fp_wr(h, d, in->rd,                                            \
			      fp_round(h, d, fp_rs(h, d, in->rs1), (unsigned)rm, nx)); \
	}
ROUND(FROUND_S, false, false)
ROUND(FROUNDNX_S, false, true)
ROUND(FROUND_D, true, false)
ROUND(FROUNDNX_D, true, true)

/* fcvtmod.w.d: the double truncated toward zero to an integer, modulo 2^32, sign-extended.
 * NaN and infinity give 0; invalid is signalled when the integer does not fit in 32 bits
 * signed (or for NaN and infinity), else inexact when a fraction was dropped. */
HANDLER(FCVTMOD_W_D)
{
	if (fp_rm(h, in) < 0) /* the decoder admits only RTZ */
		return;
	uint64_t v = h->f[in->rs1];
	bool neg = v >> 63;
	int e = (int)((v >> 52) & 0x7ff) - 1023;
	uint64_t sig = (v & ((1ull << 52) - 1)) | 1ull << 52;
	uint32_t fl = 0, lo;
	if (e == 1024) { /* NaN, infinity */
		fl = FFLAG_NV;
		lo = 0;
	} else if (e < 0) {
		lo = 0;
		if (!f_iszero(true, v))
			fl = FFLAG_NX;
	} else {
		unsigned __int128 m = e <= 52
					  ? (unsigned __int128)(sig >> (52 - e))
					  : (unsigned __int128)sig << (e - 52 > 75 ? 75 : e - 52);
		bool frac = e < 52 && (sig & ((1ull << (52 - e)) - 1));
		bool fits = e < 31 || (e == 31 && neg && m == (unsigned __int128)1 << 31);
		lo = (uint32_t)(e - 52 > 75 ? 0 : (uint64_t)m);
		if (neg)
			lo = 0u - lo;
		fl = !fits ? FFLAG_NV : frac ? FFLAG_NX : 0;
	}
	fp_flags(h, fl);
	h->x[in->rd] = (uint64_t)(int64_t)(int32_t)lo;
}

/* fleq, fltq: quiet comparisons (invalid only for sNaN operands); a NaN gives 0. */
static uint64_t fp_cmp_q(struct hart *h, bool d, uint64_t a, uint64_t b, bool le)
{
	if (f_isnan(d, a) || f_isnan(d, b)) {
		if (f_issnan(d, a) || f_issnan(d, b))
			fp_flags(h, FFLAG_NV);
		return 0;
	}
	if (f_iszero(d, a | b)) /* both zero: equal */
		return le;
	return le ? f_key(d, a) <= f_key(d, b) : f_key(d, a) < f_key(d, b);
}
#define CMPQ(name, d, le)                                                                   \
	HANDLER(name)                                                                       \
	{                                                                                   \
		if (fp_enabled(h))                                                          \
			h->x[in->rd] =                                                      \
			    fp_cmp_q(h, d, fp_rs(h, d, in->rs1), fp_rs(h, d, in->rs2), le); \
	}
CMPQ(FLEQ_S, false, true)
CMPQ(FLTQ_S, false, false)
CMPQ(FLEQ_D, true, true)
CMPQ(FLTQ_D, true, false)
