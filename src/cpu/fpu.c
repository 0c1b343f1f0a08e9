/* The F and D extensions (unprivileged spec 20191213, chapters 11 and 12): interpreter handlers
 * for FP loads/stores, arithmetic, fused multiply-add, conversions, moves, sign injection,
 * min/max, comparisons and classification, with NaN boxing, canonical NaNs and the accrued
 * exception flags of fcsr. Arithmetic runs on the host's FP unit under the guest's rounding
 * mode (flags from the host, or ruled out from the result); RMM arithmetic rounds to odd in
 * long double and then rounds in software; conversions, sign injection, min/max, comparisons
 * and classification are done in software. Two host paths, chosen at compile time:
 *  - x86-64: SSE arithmetic under MXCSR (stmxcsr/ldmxcsr), RMM through the x87 80-bit format;
 *  - any other host (aarch64 is the one tested): arithmetic under the C floating-point
 *    environment (fesetround, fetestexcept), results the host found tiny before rounding
 *    recomputed exactly, RMM through long double as IEEE binary128 (software on aarch64).
 * Other long double formats are refused at build time. */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "cpu/exec.h"
#include "cpu/fpu.h"
#include "cpu/mmu.h"

#define HANDLER(name) void exec_##name(struct hart *h, const struct insn *in)

uint64_t fpu_round_pack(struct fp_fmt f, bool neg, int exp, uint64_t sig, unsigned rm, uint32_t *fl)
{
	const int p = (int)f.p, emin = 1 - f.emax, emax = f.emax;
	const uint64_t sign = 1ull << (f.width - 1), expm = (sign - 1) & ~((1ull << (p - 1)) - 1);
	const uint64_t sbit = neg ? sign : 0;
	bool sub = exp < emin;
	uint64_t t = shift_right_jam(sig, 64 - p - 2 + (sub ? emin - exp : 0));
	uint64_t kept = t >> 2;
	unsigned rb = t & 3;
	kept += round_up(rm, neg, rb, kept & 1);
	if (rb)
		*fl |= FFLAG_NX;
	if (sub) {
		/* Tiny unless rounding to p bits with an unbounded exponent reaches 2^emin. */
		bool tiny = true;
		if (exp == emin - 1) {
			uint64_t t2 = shift_right_jam(sig, 64 - p - 2);
			uint64_t k2 = (t2 >> 2) + round_up(rm, neg, t2 & 3, (t2 >> 2) & 1);
			tiny = !(k2 >> p);
		}
		if (tiny && rb)
			*fl |= FFLAG_UF;
		return sbit | kept; /* kept == 2^(p-1) encodes 2^emin */
	}
	if (kept >> p) {
		kept >>= 1;
		exp++;
	}
	if (exp > emax) {
		bool inf =
		    rm == RM_RNE || rm == RM_RMM || (rm == RM_RDN && neg) || (rm == RM_RUP && !neg);
		*fl |= FFLAG_OF | FFLAG_NX;
		return sbit | (inf ? expm : expm - 1);
	}
	return sbit | ((uint64_t)(exp - emin + 1) << (p - 1)) | (kept & ((1ull << (p - 1)) - 1));
}

/* The same for binary32 (d = false) or binary64. */
static uint64_t round_pack(bool d, bool neg, int exp, uint64_t sig, unsigned rm, uint32_t *fl)
{
	return fpu_round_pack(d ? FP_FMT_D : FP_FMT_S, neg, exp, sig, rm, fl);
}

/* ---- host arithmetic ----
 * Between FP handlers the host's FP unit holds round-to-nearest, all exceptions masked (no
 * traps), flush-to-zero and default-NaN modes off; nothing else in rvisor changes that. The
 * fast path does not read the host's flags: when the guest has already accrued NX, the only
 * flags an operation could add are OF, UF, NV and DZ, and a result that is finite, below the
 * largest finite value and above the smallest normal one (or any finite sum, as sums that are
 * tiny are exact) rules them all out. Anything else is recomputed on the slow path, which
 * collects the host's flags. */

enum fop { FOP_ADD, FOP_SUB, FOP_MUL, FOP_DIV, FOP_SQRT, FOP_FMA };

#if defined(__x86_64__)
/* x86-64: the SSE unit under MXCSR (Intel SDM vol. 1, 10.2.3). Reading MXCSR (stmxcsr) is slow
 * on some hosts, which is why the fast path above does not. */

/* MXCSR: flags IE DE ZE OE UE PE in bits 0-5, masks in bits 7-12, rounding in bits 13-14. */
#define MXCSR_FLAGS   0x3fu
#define MXCSR_DEFAULT 0x1f80u
static const uint16_t mxcsr_rc[4] = {
    [RM_RNE] = 0x0000, [RM_RTZ] = 0x6000, [RM_RDN] = 0x2000, [RM_RUP] = 0x4000};

static ALWAYS_INLINE uint32_t mxcsr_read(void)
{
	uint32_t c;
	__asm__ volatile("stmxcsr %0" : "=m"(c));
	return c;
}
static ALWAYS_INLINE void mxcsr_write(uint32_t c)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(c));
}

/* Flag translation: MXCSR bits IE, ZE, OE, UE, PE are NV, DZ, OF, UF, NX; DE has no RISC-V
 * counterpart and is never reported. */
#define M2F(c)                                                                         \
	((((c) >> 5) & FFLAG_NX) | (((c) >> 3) & FFLAG_UF) | (((c) >> 1) & FFLAG_OF) | \
	 (((c) << 1) & FFLAG_DZ) | (((c) << 4) & FFLAG_NV))
#define M2F4(c)  M2F(c), M2F((c) + 1), M2F((c) + 2), M2F((c) + 3)
#define M2F16(c) M2F4(c), M2F4((c) + 4), M2F4((c) + 8), M2F4((c) + 12)
static const uint8_t mxcsr_fflags[64] = {M2F16(0), M2F16(16), M2F16(32), M2F16(48)};
/* MXCSR flags the guest's fflags already account for (DE always: it is never reported). */
#define F2M(f)                                                                   \
	((((f)&FFLAG_NX) << 5) | (((f)&FFLAG_UF) << 3) | (((f)&FFLAG_OF) << 1) | \
	 (((f)&FFLAG_DZ) >> 1) | (((f)&FFLAG_NV) >> 4) | 2)
#define F2M4(f)  F2M(f), F2M((f) + 1), F2M((f) + 2), F2M((f) + 3)
#define F2M16(f) F2M4(f), F2M4((f) + 4), F2M4((f) + 8), F2M4((f) + 12)
static const uint8_t fflags_mxcsr[32] = {F2M16(0), F2M16(16)};

/* The fast path's switch to rounding mode rm (not RNE) and back. */
static ALWAYS_INLINE void host_round_set(unsigned rm)
{
	mxcsr_write(MXCSR_DEFAULT | mxcsr_rc[rm]);
}
static ALWAYS_INLINE void host_round_default(void)
{
	mxcsr_write(MXCSR_DEFAULT);
}

/* Keeps the compiler from moving FP operations across the MXCSR accesses (gcc does not honour
 * FENV_ACCESS): the value must be in an SSE register at this point, and may have changed. */
#define FP_BARRIER(v) __asm__ volatile("" : "+x"(v))

static ALWAYS_INLINE float host_sqrtf(float x)
{
	return _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x)));
}
static ALWAYS_INLINE double host_sqrt(double x)
{
	__m128d t = _mm_set_sd(x);
	return _mm_cvtsd_f64(_mm_sqrt_sd(t, t));
}

#else
/* Other hosts: the C floating-point environment (C17 7.6: fesetround, feclearexcept,
 * fetestexcept). An aarch64 host's FPCR/FPSR (Arm ARM, "Floating-point exception traps" and
 * "Floating-point Control Register") detects tininess before rounding where RISC-V detects it
 * after rounding (spec 11.6), which matters only when a result rounds to the smallest normal
 * magnitude: the slow path recomputes exactly then. */

static const int host_rounding[4] = {[RM_RNE] = FE_TONEAREST,
				     [RM_RTZ] = FE_TOWARDZERO,
				     [RM_RDN] = FE_DOWNWARD,
				     [RM_RUP] = FE_UPWARD};

static ALWAYS_INLINE void host_round_set(unsigned rm)
{
	fesetround(host_rounding[rm]);
}
static ALWAYS_INLINE void host_round_default(void)
{
	fesetround(FE_TONEAREST);
}

/* The accrued flags of the host's FP environment as fflags. */
static ALWAYS_INLINE uint32_t host_fflags(void)
{
	int ex = fetestexcept(FE_ALL_EXCEPT);
	return ((ex & FE_INEXACT) ? FFLAG_NX : 0) | ((ex & FE_UNDERFLOW) ? FFLAG_UF : 0) |
	       ((ex & FE_OVERFLOW) ? FFLAG_OF : 0) | ((ex & FE_DIVBYZERO) ? FFLAG_DZ : 0) |
	       ((ex & FE_INVALID) ? FFLAG_NV : 0);
}

/* Keeps the compiler from moving FP operations across the environment's calls (gcc does not
 * honour FENV_ACCESS): the value must be in an FP register (aarch64) or memory at this point,
 * ordered with every memory access and call, and may have changed. */
#if defined(__aarch64__)
#define FP_BARRIER(v) __asm__ volatile("" : "+w"(v) : : "memory")
#else
#define FP_BARRIER(v) __asm__ volatile("" : "+m"(v) : : "memory")
#endif

/* Square roots in the host's FP unit. On aarch64, FSQRT itself: the C library's sqrt would
 * first compare the operand with zero, to set errno for a negative one. */
static ALWAYS_INLINE float host_sqrtf(float x)
{
#if defined(__aarch64__)
	float r;
	__asm__("fsqrt %s0, %s1" : "=w"(r) : "w"(x));
	return r;
#else
	return __builtin_sqrtf(x);
#endif
}
static ALWAYS_INLINE double host_sqrt(double x)
{
#if defined(__aarch64__)
	double r;
	__asm__("fsqrt %d0, %d1" : "=w"(r) : "w"(x));
	return r;
#else
	return __builtin_sqrt(x);
#endif
}
#endif

static ALWAYS_INLINE float f32_compute(enum fop op, float x, float y, float z)
{
	float r;
	FP_BARRIER(x);
	FP_BARRIER(y);
	FP_BARRIER(z);
	switch (op) {
	case FOP_ADD: r = x + y; break;
	case FOP_SUB: r = x - y; break;
	case FOP_MUL: r = x * y; break;
	case FOP_DIV: r = x / y; break;
	case FOP_SQRT: r = host_sqrtf(x); break;
	default: r = fmaf(x, y, z); break;
	}
	FP_BARRIER(r);
	return r;
}

static ALWAYS_INLINE double f64_compute(enum fop op, double x, double y, double z)
{
	double r;
	FP_BARRIER(x);
	FP_BARRIER(y);
	FP_BARRIER(z);
	switch (op) {
	case FOP_ADD: r = x + y; break;
	case FOP_SUB: r = x - y; break;
	case FOP_MUL: r = x * y; break;
	case FOP_DIV: r = x / y; break;
	case FOP_SQRT: r = host_sqrt(x); break;
	default: r = fma(x, y, z); break;
	}
	FP_BARRIER(r);
	return r;
}

/* fma(0, inf, qNaN) is invalid in RISC-V (spec 11.6) although IEEE leaves it optional. */
static inline uint32_t fma_inf_zero(bool d, uint64_t a, uint64_t b)
{
	return ((f_isinf(d, a) && f_iszero(d, b)) || (f_iszero(d, a) && f_isinf(d, b))) ? FFLAG_NV
											: 0;
}

/* The slow paths of one op (SLOW_PATHS below): a, b, c are the operands, rm the rounding
 * mode. */
typedef uint64_t (*fp_slow_fn)(struct hart *h, unsigned rm, uint64_t a, uint64_t b, uint64_t c);

#if defined(__x86_64__)
/* Slow path: set the host rounding mode with no flags the guest has not seen (leftover flags
 * it already has may stay), compute, collect the flags, and return to round-to-nearest.
 * Instantiated out of line for each op (SLOW_PATHS below): with d and op constant, no FP
 * operation but the intended one can run and raise flags. exact is unused: MXCSR detects
 * tininess after rounding, as RISC-V does. */
static ALWAYS_INLINE uint64_t host_flags_op(struct hart *h, bool d, unsigned rm, enum fop op,
					    uint64_t a, uint64_t b, uint64_t c, fp_slow_fn exact)
{
	(void)exact;
	uint32_t want = MXCSR_DEFAULT | mxcsr_rc[rm];
	if ((mxcsr_read() & ~(uint32_t)fflags_mxcsr[h->fflags & 31]) != want)
		mxcsr_write(want);
	uint64_t v = d ? f64_bits(f64_compute(op, f64_val(a), f64_val(b), f64_val(c)))
		       : f32_bits(f32_compute(op, f32_val(a), f32_val(b), f32_val(c)));
	uint32_t csr = mxcsr_read();
	if (rm != RM_RNE)
		mxcsr_write(MXCSR_DEFAULT | (csr & MXCSR_FLAGS));
	uint32_t fl = mxcsr_fflags[csr & MXCSR_FLAGS];
	if (f_isnan(d, v)) {
		v = CANON(d);
		if (op == FOP_FMA)
			fl |= fma_inf_zero(d, a, b);
	}
	h->fflags |= fl;
	return v;
}
#else
/* Slow path: clear the host's flags, compute in mode rm, collect the flags, and return to
 * round-to-nearest. Instantiated out of line for each op (SLOW_PATHS below): with d and op
 * constant, no FP operation but the intended one can run and raise flags. A result of the
 * smallest normal magnitude with UF raised may be one the host found tiny before rounding
 * only: exact (arith_odd for this op) computes it again, with RISC-V's tininess. */
static ALWAYS_INLINE uint64_t host_flags_op(struct hart *h, bool d, unsigned rm, enum fop op,
					    uint64_t a, uint64_t b, uint64_t c, fp_slow_fn exact)
{
	if (rm != RM_RNE)
		host_round_set(rm);
	feclearexcept(FE_ALL_EXCEPT);
	uint64_t v = d ? f64_bits(f64_compute(op, f64_val(a), f64_val(b), f64_val(c)))
		       : f32_bits(f32_compute(op, f32_val(a), f32_val(b), f32_val(c)));
	uint32_t fl = host_fflags();
	if (rm != RM_RNE)
		host_round_default();
	if (f_isnan(d, v)) {
		v = CANON(d);
		if (op == FOP_FMA)
			fl |= fma_inf_zero(d, a, b);
	} else if ((fl & FFLAG_UF) && (v & MAG(d)) == (d ? 1ull << 52 : 1ull << 23)) {
		return exact(h, rm, a, b, c);
	}
	h->fflags |= fl;
	return v;
}
#endif

/* Fast path (see above); rm is not RMM. slow is host_flags_op for this op. */
static ALWAYS_INLINE uint64_t host_op(struct hart *h, bool d, unsigned rm, enum fop op, uint64_t a,
				      uint64_t b, uint64_t c, fp_slow_fn slow)
{
	if (__builtin_expect(h->fflags & FFLAG_NX, 1)) {
		if (rm != RM_RNE)
			host_round_set(rm);
		uint64_t v = d ? f64_bits(f64_compute(op, f64_val(a), f64_val(b), f64_val(c)))
			       : f32_bits(f32_compute(op, f32_val(a), f32_val(b), f32_val(c)));
		if (rm != RM_RNE)
			host_round_default();
		uint64_t m = v & MAG(d);
		uint64_t min_normal = d ? 1ull << 52 : 1ull << 23;
		if (__builtin_expect(m < (d ? F64_MAXFIN : F32_MAXFIN) &&
					 (m > min_normal || op == FOP_ADD || op == FOP_SUB),
				     1))
			return v;
	}
	return slow(h, rm, a, b, c);
}

/* ---- exact arithmetic: round to odd in long double, toward zero with the inexact flag ORed
 * into the last bit, then round to the format in software. long double is the x87 80-bit
 * format (64-bit significand) on x86-64 and IEEE binary128 (113 bits, in software) on aarch64;
 * the exponent range of either holds any result of binary32/binary64 operands without overflow
 * or underflow. Rounding to odd with two or more extra bits and then rounding again gives the
 * correctly rounded result (Boldo & Melquiond, 2008). This is how RMM arithmetic is done (no
 * host rounds that way), and on hosts other than x86-64 how a result is recomputed whose
 * tininess the host judged before rounding. ---- */

#if defined(__x86_64__)
_Static_assert(LDBL_MANT_DIG == 64, "RMM arithmetic rounds to odd in the x87 80-bit format");
#elif LDBL_MANT_DIG != 113
#error "fpu.c rounds to odd in long double: it needs the x87 80-bit format or IEEE binary128"
#endif

#define SLOW_BARRIER(v) __asm__ volatile("" : "+m"(v) : : "memory")

static long double ld_of(bool d, uint64_t v)
{
	return d ? (long double)f64_val(v) : (long double)f32_val(v);
}

/* The long double r as in fpu_unpack_binary128. */
static ALWAYS_INLINE enum fpu_class ld_unpack(long double r, bool *neg, int *exp, uint64_t *sig)
{
#if LDBL_MANT_DIG == 64
	uint64_t m;
	uint16_t se;
	memcpy(&m, &r, 8);
	memcpy(&se, (const char *)&r + 8, 2);
	*neg = se >> 15;
	int e = se & 0x7fff;
	if (e == 0x7fff)
		return (m << 1) ? FPU_NAN : FPU_INF;
	if (m == 0)
		return FPU_ZERO;
	if (e == 0)
		e = 1;
	int lz = __builtin_clzll(m);
	*sig = m << lz;
	*exp = e - lz - 16383;
	return FPU_FINITE;
#else
	uint64_t w[2];
	memcpy(w, &r, 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return fpu_unpack_binary128(w[1], w[0], neg, exp, sig);
#else
	return fpu_unpack_binary128(w[0], w[1], neg, exp, sig);
#endif
#endif
}

enum fpu_class fpu_unpack_binary128(uint64_t hi, uint64_t lo, bool *neg, int *exp, uint64_t *sig)
{
	*neg = hi >> 63;
	int e = (int)((hi >> 48) & 0x7fff);
	unsigned __int128 m = (unsigned __int128)(hi & ((1ull << 48) - 1)) << 64 | lo;
	if (e == 0x7fff)
		return m ? FPU_NAN : FPU_INF;
	if (m == 0 && e == 0)
		return FPU_ZERO;
	if (e == 0)
		e = 1; /* subnormal: no hidden bit */
	else
		m |= (unsigned __int128)1 << 112;
	int lz = (uint64_t)(m >> 64) ? __builtin_clzll((uint64_t)(m >> 64))
				     : 64 + __builtin_clzll((uint64_t)m);
	m <<= lz;
	*sig = (uint64_t)(m >> 64) | ((uint64_t)m != 0);
	*exp = e - 16383 + 15 - lz;
	return FPU_FINITE;
}

/* op on a, b, c of format d, correctly rounded in mode rm with its flags. */
static ALWAYS_INLINE uint64_t arith_odd(struct hart *h, bool d, enum fop op, unsigned rm,
					uint64_t a, uint64_t b, uint64_t c)
{
	long double x, y, z, r;
	fesetenv(FE_DFL_ENV); /* round-to-nearest (x87: at 64-bit precision), no flags */
	fesetround(FE_TOWARDZERO);
	SLOW_BARRIER(a);
	SLOW_BARRIER(b);
	SLOW_BARRIER(c);
	x = ld_of(d, a); /* an sNaN operand raises invalid here */
	y = ld_of(d, b);
	z = ld_of(d, c);
	switch (op) {
	case FOP_ADD: r = x + y; break;
	case FOP_SUB: r = x - y; break;
	case FOP_MUL: r = x * y; break;
	case FOP_DIV: r = x / y; break;
	case FOP_SQRT: r = sqrtl(x); break;
	default: r = fmal(x, y, z); break;
	}
	SLOW_BARRIER(r);
	int ex = fetestexcept(FE_ALL_EXCEPT);
	fesetenv(FE_DFL_ENV);

	uint32_t fl = ((ex & FE_INVALID) ? FFLAG_NV : 0) | ((ex & FE_DIVBYZERO) ? FFLAG_DZ : 0);
	bool neg = false;
	int e = 0;
	uint64_t sig = 0, v;
	switch (ld_unpack(r, &neg, &e, &sig)) {
	case FPU_NAN:
		v = CANON(d);
		if (op == FOP_FMA)
			fl |= fma_inf_zero(d, a, b);
		break;
	case FPU_INF: v = (neg ? SIGN(d) : 0) | EXPM(d); break;
	case FPU_ZERO: /* exact: only RMM, whose sign RTZ gives (a recomputed result is not 0) */
		v = neg ? SIGN(d) : 0;
		break;
	default:
		if (ex & FE_INEXACT)
			sig |= 1;
		v = round_pack(d, neg, e, sig, rm, &fl);
		break;
	}
	h->fflags |= fl;
	return v;
}

/* The out-of-line slow paths of one op, with d and op fixed: arith_odd (exact_NAME) and
 * host_flags_op (slow_NAME). */
#define SLOW_PATHS(name, d, op)                                                                \
	static __attribute__((noinline, cold))                                                 \
	uint64_t exact_##name(struct hart *h, unsigned rm, uint64_t a, uint64_t b, uint64_t c) \
	{                                                                                      \
		return arith_odd(h, d, op, rm, a, b, c);                                       \
	}                                                                                      \
	static __attribute__((noinline))                                                       \
	uint64_t slow_##name(struct hart *h, unsigned rm, uint64_t a, uint64_t b, uint64_t c)  \
	{                                                                                      \
		return host_flags_op(h, d, rm, op, a, b, c, exact_##name);                     \
	}

/* Arithmetic in mode rm (already checked legal) with the slow paths of this op. */
static ALWAYS_INLINE uint64_t fp_arith(struct hart *h, bool d, unsigned rm, enum fop op, uint64_t a,
				       uint64_t b, uint64_t c, fp_slow_fn slow, fp_slow_fn exact)
{
	if (__builtin_expect(rm == RM_RMM, 0))
		return exact(h, rm, a, b, c);
	return host_op(h, d, rm, op, a, b, c, slow);
}

/* ---- loads and stores (spec 11.5, 12.3) ---- */

HANDLER(FLW)
{
	uint64_t v;
	if (fp_enabled(h) && mmu_load(h, h->x[in->rs1] + (uint64_t)(int64_t)in->imm, 4, &v))
		fp_wr(h, false, in->rd, (uint32_t)v);
}
HANDLER(FLD)
{
	uint64_t v;
	if (fp_enabled(h) && mmu_load(h, h->x[in->rs1] + (uint64_t)(int64_t)in->imm, 8, &v))
		fp_wr(h, true, in->rd, v);
}
HANDLER(FSW)
{
	if (fp_enabled(h))
		mmu_store(h, h->x[in->rs1] + (uint64_t)(int64_t)in->imm, 4, h->f[in->rs2]);
}
HANDLER(FSD)
{
	if (fp_enabled(h))
		mmu_store(h, h->x[in->rs1] + (uint64_t)(int64_t)in->imm, 8, h->f[in->rs2]);
}

/* ---- computational instructions (spec 11.6, 12.4) ---- */

#define ARITH2(name, d, op)                                                                \
	SLOW_PATHS(name, d, op)                                                            \
	HANDLER(name)                                                                      \
	{                                                                                  \
		int rm = fp_rm(h, in);                                                     \
		if (rm < 0)                                                                \
			return;                                                            \
		uint64_t r = fp_arith(h, d, (unsigned)rm, op, fp_rs(h, d, in->rs1),        \
				      fp_rs(h, d, in->rs2), 0, slow_##name, exact_##name); \
		fp_wr(h, d, in->rd, r);                                                    \
	}
ARITH2(FADD_S, false, FOP_ADD)
ARITH2(FSUB_S, false, FOP_SUB)
ARITH2(FMUL_S, false, FOP_MUL)
ARITH2(FDIV_S, false, FOP_DIV)
ARITH2(FADD_D, true, FOP_ADD)
ARITH2(FSUB_D, true, FOP_SUB)
ARITH2(FMUL_D, true, FOP_MUL)
ARITH2(FDIV_D, true, FOP_DIV)

#define SQRT(name, d)                                                                           \
	SLOW_PATHS(name, d, FOP_SQRT)                                                           \
	HANDLER(name)                                                                           \
	{                                                                                       \
		int rm = fp_rm(h, in);                                                          \
		if (rm < 0)                                                                     \
			return;                                                                 \
		uint64_t r = fp_arith(h, d, (unsigned)rm, FOP_SQRT, fp_rs(h, d, in->rs1), 0, 0, \
				      slow_##name, exact_##name);                               \
		fp_wr(h, d, in->rd, r);                                                         \
	}
SQRT(FSQRT_S, false)
SQRT(FSQRT_D, true)

/* FMADD: rs1*rs2+rs3; FMSUB: rs1*rs2-rs3; FNMSUB: -(rs1*rs2)+rs3; FNMADD: -(rs1*rs2)-rs3,
 * each with a single rounding. The negations flip sign bits before the fused operation. */
SLOW_PATHS(fma_s, false, FOP_FMA)
SLOW_PATHS(fma_d, true, FOP_FMA)
#define FMA(name, d, sfx, neg_prod, neg_add)                                                   \
	HANDLER(name)                                                                          \
	{                                                                                      \
		int rm = fp_rm(h, in);                                                         \
		if (rm < 0)                                                                    \
			return;                                                                \
		uint64_t a = fp_rs(h, d, in->rs1) ^ ((neg_prod) ? SIGN(d) : 0);                \
		uint64_t c = fp_rs(h, d, INSN_RS3(in)) ^ ((neg_add) ? SIGN(d) : 0);            \
		uint64_t r = fp_arith(h, d, (unsigned)rm, FOP_FMA, a, fp_rs(h, d, in->rs2), c, \
				      slow_fma_##sfx, exact_fma_##sfx);                        \
		fp_wr(h, d, in->rd, r);                                                        \
	}
FMA(FMADD_S, false, s, false, false)
FMA(FMSUB_S, false, s, false, true)
FMA(FNMSUB_S, false, s, true, false)
FMA(FNMADD_S, false, s, true, true)
FMA(FMADD_D, true, d, false, false)
FMA(FMSUB_D, true, d, false, true)
FMA(FNMSUB_D, true, d, true, false)
FMA(FNMADD_D, true, d, true, true)

/* Sign injection moves bits: NaN payloads are kept (spec 11.7). */
#define FSGNJ(name, d, expr)                                                 \
	HANDLER(name)                                                        \
	{                                                                    \
		if (!fp_enabled(h))                                          \
			return;                                              \
		uint64_t a = fp_rs(h, d, in->rs1), b = fp_rs(h, d, in->rs2); \
		fp_wr(h, d, in->rd, (a & MAG(d)) | ((expr)&SIGN(d)));        \
	}
FSGNJ(FSGNJ_S, false, b)
FSGNJ(FSGNJN_S, false, ~b)
FSGNJ(FSGNJX_S, false, a ^ b)
FSGNJ(FSGNJ_D, true, b)
FSGNJ(FSGNJN_D, true, ~b)
FSGNJ(FSGNJX_D, true, a ^ b)

/* minimumNumber / maximumNumber of IEEE 754-2019 (spec 11.6): -0 < +0, a single NaN operand
 * yields the other operand, two NaNs the canonical NaN; sNaN operands signal invalid. */
static ALWAYS_INLINE uint64_t fp_minmax(struct hart *h, bool d, uint64_t a, uint64_t b, bool max)
{
	if (__builtin_expect(f_isnan(d, a) || f_isnan(d, b), 0)) {
		if (f_issnan(d, a) || f_issnan(d, b))
			fp_flags(h, FFLAG_NV);
		if (f_isnan(d, a))
			return f_isnan(d, b) ? CANON(d) : b;
		return a;
	}
	return (f_key(d, a) < f_key(d, b)) != max ? a : b;
}
#define MINMAX(name, d, max)                                                             \
	HANDLER(name)                                                                    \
	{                                                                                \
		if (!fp_enabled(h))                                                      \
			return;                                                          \
		fp_wr(h, d, in->rd,                                                      \
		      fp_minmax(h, d, fp_rs(h, d, in->rs1), fp_rs(h, d, in->rs2), max)); \
	}
MINMAX(FMIN_S, false, false)
MINMAX(FMAX_S, false, true)
MINMAX(FMIN_D, true, false)
MINMAX(FMAX_D, true, true)

/* ---- conversions (spec 11.7, 12.5) ---- */

enum cvt_int { CVT_W, CVT_WU, CVT_L, CVT_LU };

/* x rounded to an integral value in mode rm, without the host's rounding mode or libm: below
 * 2^52 the truncation t is exact, and so are the fraction x - t and t +- 1. */
static ALWAYS_INLINE double round_integral(double x, unsigned rm)
{
	if (!(fabs(x) < 0x1p52))
		return x; /* already integral, or infinite */
	double t = (double)(int64_t)x, f = x - t, away = x < 0 ? -1.0 : 1.0;
	switch (rm) {
	case RM_RTZ: return t;
	case RM_RDN: return f < 0 ? t - 1 : t;
	case RM_RUP: return f > 0 ? t + 1 : t;
	case RM_RMM: return fabs(f) >= 0.5 ? t + away : t;
	default: return (fabs(f) > 0.5 || (fabs(f) == 0.5 && ((int64_t)t & 1))) ? t + away : t;
	}
}

/* FCVT.{W,WU,L,LU}.{S,D}: round v to an integer in mode rm. Out-of-range values (after
 * rounding), infinities and NaNs saturate and signal invalid, without inexact; in-range
 * inexact results signal inexact. The 32-bit forms are sign-extended (spec 11.7 table 11.4). */
static ALWAYS_INLINE uint64_t fcvt_to_int(struct hart *h, bool d, uint64_t v, unsigned rm,
					  enum cvt_int k)
{
	static const uint64_t lo_sat[4] = {(uint64_t)INT32_MIN, 0, (uint64_t)INT64_MIN, 0};
	static const uint64_t hi_sat[4] = {INT32_MAX, UINT32_MAX, INT64_MAX, UINT64_MAX};
	static const double lo[4] = {-0x1p31, 0.0, -0x1p63, 0.0};     /* inclusive; -0 is in */
	static const double hi[4] = {0x1p31, 0x1p32, 0x1p63, 0x1p64}; /* exclusive */
	uint64_t res;
	if (__builtin_expect(f_isnan(d, v), 0)) {
		fp_flags(h, FFLAG_NV);
		res = hi_sat[k];
	} else {
		double x = d ? f64_val(v) : (double)f32_val(v), r = round_integral(x, rm);
		if (r >= lo[k] && r < hi[k]) {
			if (r != x)
				fp_flags(h, FFLAG_NX);
			res = (k == CVT_W || k == CVT_L) ? (uint64_t)(int64_t)r : (uint64_t)r;
		} else {
			fp_flags(h, FFLAG_NV);
			res = (v & SIGN(d)) ? lo_sat[k] : hi_sat[k];
		}
	}
	return (k == CVT_W || k == CVT_WU) ? (uint64_t)(int64_t)(int32_t)res : res;
}

#define CVT_TO_INT(name, d, k)                                                           \
	HANDLER(name)                                                                    \
	{                                                                                \
		int rm = fp_rm(h, in);                                                   \
		if (rm < 0)                                                              \
			return;                                                          \
		h->x[in->rd] = fcvt_to_int(h, d, fp_rs(h, d, in->rs1), (unsigned)rm, k); \
	}
CVT_TO_INT(FCVT_W_S, false, CVT_W)
CVT_TO_INT(FCVT_WU_S, false, CVT_WU)
CVT_TO_INT(FCVT_L_S, false, CVT_L)
CVT_TO_INT(FCVT_LU_S, false, CVT_LU)
CVT_TO_INT(FCVT_W_D, true, CVT_W)
CVT_TO_INT(FCVT_WU_D, true, CVT_WU)
CVT_TO_INT(FCVT_L_D, true, CVT_L)
CVT_TO_INT(FCVT_LU_D, true, CVT_LU)

/* FCVT.{S,D}.{W,WU,L,LU}: the integer (-1)^neg * mag rounded to format d in mode rm. */
static uint64_t fcvt_from_int(struct hart *h, bool d, unsigned rm, bool neg, uint64_t mag)
{
	if (mag <= (d ? 1ull << 53 : 1ull << 24)) { /* exact (and 0 is +0) */
		double v = (double)(int64_t)mag;
		if (neg)
			v = -v;
		return d ? f64_bits(v) : f32_bits((float)v);
	}
	int lz = __builtin_clzll(mag);
	uint32_t fl = 0;
	uint64_t v = round_pack(d, neg, 63 - lz, mag << lz, rm, &fl);
	fp_flags(h, fl);
	return v;
}

#define CVT_FROM_INT(name, d, type, is_signed)                                    \
	HANDLER(name)                                                             \
	{                                                                         \
		int rm = fp_rm(h, in);                                            \
		if (rm < 0)                                                       \
			return;                                                   \
		uint64_t x = (uint64_t)(type)h->x[in->rs1];                       \
		bool neg = (is_signed) && (int64_t)x < 0;                         \
		uint64_t mag = neg ? 0 - x : x;                                   \
		fp_wr(h, d, in->rd, fcvt_from_int(h, d, (unsigned)rm, neg, mag)); \
	}
CVT_FROM_INT(FCVT_S_W, false, int32_t, true)
CVT_FROM_INT(FCVT_S_WU, false, uint32_t, false)
CVT_FROM_INT(FCVT_S_L, false, int64_t, true)
CVT_FROM_INT(FCVT_S_LU, false, uint64_t, false)
CVT_FROM_INT(FCVT_D_W, true, int32_t, true)
CVT_FROM_INT(FCVT_D_WU, true, uint32_t, false)
CVT_FROM_INT(FCVT_D_L, true, int64_t, true)
CVT_FROM_INT(FCVT_D_LU, true, uint64_t, false)

/* FCVT.S.D rounds in mode rm; FCVT.D.S is exact (spec 12.5). NaNs become canonical. */
HANDLER(FCVT_S_D)
{
	int rm = fp_rm(h, in);
	if (rm < 0)
		return;
	uint64_t v = h->f[in->rs1], r;
	bool neg = v >> 63;
	int e = (int)((v >> 52) & 0x7ff);
	uint64_t frac = v & ((1ull << 52) - 1);
	uint32_t fl = 0;
	if (e == 0x7ff) {
		if (frac && !(v & F64_QUIET))
			fl = FFLAG_NV;
		r = frac ? F32_CANON : ((neg ? F32_SIGN : 0) | F32_EXP);
	} else if (e == 0 && frac == 0) {
		r = neg ? F32_SIGN : 0;
	} else if (e == 0) {
		int lz = __builtin_clzll(frac);
		r = round_pack(false, neg, -1011 - lz, frac << lz, (unsigned)rm, &fl);
	} else {
		r = round_pack(false, neg, e - 1023, (frac | 1ull << 52) << 11, (unsigned)rm, &fl);
	}
	fp_flags(h, fl);
	fp_wr(h, false, in->rd, r);
}
HANDLER(FCVT_D_S)
{
	if (fp_rm(h, in) < 0)
		return;
	uint64_t v = fp_rs(h, false, in->rs1), r;
	if (f_isnan(false, v)) {
		if (f_issnan(false, v))
			fp_flags(h, FFLAG_NV);
		r = F64_CANON;
	} else {
		r = f64_bits((double)f32_val(v));
	}
	fp_wr(h, true, in->rd, r);
}

/* ---- moves between register files (spec 11.8, 12.5): bits only, no NaN-box check ---- */

HANDLER(FMV_X_W)
{
	if (fp_enabled(h))
		h->x[in->rd] = (uint64_t)(int64_t)(int32_t)h->f[in->rs1];
}
HANDLER(FMV_W_X)
{
	if (fp_enabled(h))
		fp_wr(h, false, in->rd, (uint32_t)h->x[in->rs1]);
}
HANDLER(FMV_X_D)
{
	if (fp_enabled(h))
		h->x[in->rd] = h->f[in->rs1];
}
HANDLER(FMV_D_X)
{
	if (fp_enabled(h))
		fp_wr(h, true, in->rd, h->x[in->rs1]);
}

/* ---- comparisons (spec 11.9): FEQ is quiet (invalid only for sNaN), FLT and FLE are
 * signaling (invalid for any NaN); a NaN operand gives 0 ---- */

enum cmp { CMP_EQ, CMP_LT, CMP_LE };

static ALWAYS_INLINE uint64_t fp_cmp(struct hart *h, bool d, uint64_t a, uint64_t b, enum cmp k)
{
	if (__builtin_expect(f_isnan(d, a) || f_isnan(d, b), 0)) {
		if (k != CMP_EQ || f_issnan(d, a) || f_issnan(d, b))
			fp_flags(h, FFLAG_NV);
		return 0;
	}
	if (f_iszero(d, a | b)) /* both zero: +0 == -0 */
		return k != CMP_LT;
	switch (k) {
	case CMP_EQ: return a == b;
	case CMP_LT: return f_key(d, a) < f_key(d, b);
	default: return f_key(d, a) <= f_key(d, b);
	}
}
#define CMP(name, d, k)                                                                  \
	HANDLER(name)                                                                    \
	{                                                                                \
		if (fp_enabled(h))                                                       \
			h->x[in->rd] =                                                   \
			    fp_cmp(h, d, fp_rs(h, d, in->rs1), fp_rs(h, d, in->rs2), k); \
	}
CMP(FEQ_S, false, CMP_EQ)
CMP(FLT_S, false, CMP_LT)
CMP(FLE_S, false, CMP_LE)
CMP(FEQ_D, true, CMP_EQ)
CMP(FLT_D, true, CMP_LT)
CMP(FLE_D, true, CMP_LE)

/* ---- classification (spec 11.9, table 11.5): exactly one of bits 0-9 is set ---- */

static ALWAYS_INLINE uint64_t fp_class(bool d, uint64_t v)
{
	bool neg = v & SIGN(d);
	uint64_t m = v & MAG(d);
	if (m >= EXPM(d)) {
		if (m == EXPM(d))
			return neg ? 1u << 0 : 1u << 7;    /* -inf, +inf */
		return (v & QUIET(d)) ? 1u << 9 : 1u << 8; /* qNaN, sNaN */
	}
	if (m == 0)
		return neg ? 1u << 3 : 1u << 4; /* -0, +0 */
	if (m < (d ? 1ull << 52 : 1ull << 23))
		return neg ? 1u << 2 : 1u << 5; /* subnormal */
	return neg ? 1u << 1 : 1u << 6;         /* normal */
}
HANDLER(FCLASS_S)
{
	if (fp_enabled(h))
		h->x[in->rd] = fp_class(false, fp_rs(h, false, in->rs1));
}
HANDLER(FCLASS_D)
{
	if (fp_enabled(h))
		h->x[in->rd] = fp_class(true, h->f[in->rs1]);
}
