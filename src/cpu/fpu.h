/* What the F/D code (fpu.c) and the Zfa/Zfhmin code (fpu_ext.c) share: the binary32 and
 * binary64 encodings, the FP register file's NaN boxing (unprivileged spec 12.2), fcsr's flags,
 * the checks of mstatus.FS and the rounding mode (spec 11.2), and software rounding. Private
 * to src/cpu/. */
#ifndef RVISOR_CPU_FPU_H
#define RVISOR_CPU_FPU_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/exec.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* ---- formats: binary32 (d = false) and binary64 (d = true) ---- */

#define F32_SIGN   0x80000000ull
#define F32_EXP    0x7f800000ull
#define F32_QUIET  0x00400000ull
#define F32_CANON  0x7fc00000ull /* canonical NaN (spec 11.3) */
#define F32_MAXFIN 0x7f7fffffull
#define F64_SIGN   0x8000000000000000ull
#define F64_EXP    0x7ff0000000000000ull
#define F64_QUIET  0x0008000000000000ull
#define F64_CANON  0x7ff8000000000000ull
#define F64_MAXFIN 0x7fefffffffffffffull
#define NAN_BOX    0xffffffff00000000ull /* upper bits of a NaN-boxed single (spec 12.2) */

#define SIGN(d)  ((d) ? F64_SIGN : F32_SIGN)
#define EXPM(d)  ((d) ? F64_EXP : F32_EXP)
#define MAG(d)   ((d) ? ~F64_SIGN : F32_SIGN - 1)
#define QUIET(d) ((d) ? F64_QUIET : F32_QUIET)
#define CANON(d) ((d) ? F64_CANON : F32_CANON)

static ALWAYS_INLINE bool f_isnan(bool d, uint64_t v)
{
	return (v & MAG(d)) > EXPM(d);
}
static ALWAYS_INLINE bool f_issnan(bool d, uint64_t v)
{
	return f_isnan(d, v) && !(v & QUIET(d));
}
static ALWAYS_INLINE bool f_isinf(bool d, uint64_t v)
{
	return (v & MAG(d)) == EXPM(d);
}
static ALWAYS_INLINE bool f_iszero(bool d, uint64_t v)
{
	return (v & MAG(d)) == 0;
}

/* A key whose unsigned order is the numeric order of non-NaN values, with -0 below +0. */
static ALWAYS_INLINE uint64_t f_key(bool d, uint64_t v)
{
	return (v & SIGN(d)) ? (~v & (SIGN(d) | MAG(d))) : (v | SIGN(d));
}

static ALWAYS_INLINE float f32_val(uint64_t v)
{
	uint32_t b = (uint32_t)v;
	float f;
	memcpy(&f, &b, 4);
	return f;
}
static ALWAYS_INLINE uint64_t f32_bits(float f)
{
	uint32_t b;
	memcpy(&b, &f, 4);
	return b;
}
static ALWAYS_INLINE double f64_val(uint64_t v)
{
	double f;
	memcpy(&f, &v, 8);
	return f;
}
static ALWAYS_INLINE uint64_t f64_bits(double f)
{
	uint64_t b;
	memcpy(&b, &f, 8);
	return b;
}

/* ---- register file access ---- */

/* Operand rs of format d: a single that is not properly NaN-boxed reads as the canonical NaN
 * (spec 12.2). */
static ALWAYS_INLINE uint64_t fp_rs(const struct hart *h, bool d, unsigned rs)
{
	uint64_t v = h->f[rs];
	if (d)
		return v;
	return (v & NAN_BOX) == NAN_BOX ? (uint32_t)v : F32_CANON;
}

/* Write f[rd] (NaN-boxing singles) and mark the FP state dirty (priv spec 3.1.6.6). */
static ALWAYS_INLINE void fp_wr(struct hart *h, bool d, unsigned rd, uint64_t v)
{
	h->f[rd] = d ? v : (NAN_BOX | v);
	h->mstatus |= MSTATUS_FS;
}

/* Accrue exception flags; writing fflags also dirties the FP state. */
static ALWAYS_INLINE void fp_flags(struct hart *h, uint32_t fl)
{
	if (fl) {
		h->fflags |= fl;
		h->mstatus |= MSTATUS_FS;
	}
}

/* FP instructions are illegal while mstatus.FS is Off. Returns false after raising it. */
static ALWAYS_INLINE bool fp_enabled(struct hart *h)
{
	if (__builtin_expect(h->fs_off, 0)) {
		exec_illegal(h);
		return false;
	}
	return true;
}

/* The rounding mode of an instruction (spec 11.2: DYN takes frm; 5, 6 and DYN with an invalid
 * frm are reserved). Returns -1 after raising an illegal-instruction exception. */
static ALWAYS_INLINE int fp_rm(struct hart *h, const struct insn *in)
{
	if (!fp_enabled(h))
		return -1;
	unsigned rm = INSN_RM(in);
	if (rm == RM_DYN)
		rm = h->frm;
	if (__builtin_expect(rm > RM_RMM, 0)) {
		exec_illegal(h);
		return -1;
	}
	return (int)rm;
}

/* ---- software rounding ---- */

/* x >> n with the bits shifted out ORed into bit 0 (n >= 1). */
static inline uint64_t shift_right_jam(uint64_t x, int n)
{
	if (n >= 64)
		return x != 0;
	return (x >> n) | ((x << (64 - n)) != 0);
}

/* Whether to add one unit in the last place, given the two bits below it (rb: 0 exact,
 * 1 below half, 2 half, 3 above half) and the parity of the kept value. */
static inline bool round_up(unsigned rm, bool neg, unsigned rb, bool odd)
{
	switch (rm) {
	case RM_RNE: return rb == 3 || (rb == 2 && odd);
	case RM_RDN: return neg && rb;
	case RM_RUP: return !neg && rb;
	case RM_RMM: return rb >= 2;
	default: return false;
	}
}

/* An IEEE 754 binary format: p significand bits (the hidden one included), emax (emin is
 * 1 - emax), width in bits. */
struct fp_fmt {
	unsigned p;
	int emax;
	unsigned width;
};
#define FP_FMT_H ((struct fp_fmt){11, 15, 16})
#define FP_FMT_S ((struct fp_fmt){24, 127, 32})
#define FP_FMT_D ((struct fp_fmt){53, 1023, 64})

/* Round the nonzero value (-1)^neg * sig * 2^(exp - 63) to format f in mode rm, where sig has
 * bit 63 set and any inexactness below it is already folded into bit 0 (so sig carries at
 * least two bits more than the format). Returns the encoding and accrues NX, UF (tininess
 * after rounding, spec 11.6), OF into *fl (IEEE 754-2008 clauses 4.3, 7.4, 7.5, 7.6). */
uint64_t fpu_round_pack(struct fp_fmt f, bool neg, int exp, uint64_t sig, unsigned rm,
			uint32_t *fl);

/* The class of a value fpu_unpack_binary128 unpacked. */
enum fpu_class { FPU_ZERO, FPU_FINITE, FPU_INF, FPU_NAN };

/* Unpack an IEEE 754 binary128 value (IEEE 754-2008 3.4: sign, 15-bit exponent biased by
 * 16383, 112-bit trailing significand) given as its upper and lower 64-bit halves. A finite
 * nonzero value (normal or subnormal) is (-1)^neg * sig * 2^(exp - 63) with bit 63 of sig set
 * and the significand bits below sig's 64 ORed into bit 0, as fpu_round_pack takes it; *neg is
 * set for every class, *exp and *sig for FPU_FINITE only. */
enum fpu_class fpu_unpack_binary128(uint64_t hi, uint64_t lo, bool *neg, int *exp, uint64_t *sig);

#endif
