/* F and D extensions (unprivileged spec chapters 11-12, IEEE 754-2008): exact arithmetic and the
 * accrued exception flags, fused multiply-add, NaN boxing of single-precision values in the
 * 64-bit registers, fcvt edge cases (NaN, infinities, out of range, every rounding mode),
 * fmin/fmax with NaNs and signed zeros, compares, fclass, the fcsr/frm/fflags CSRs, an invalid
 * dynamic rounding mode, and mstatus.FS (Dirty after a write; Off makes FP illegal, priv spec
 * 3.1.6.6). */
#include "common.h"

DEFINE_TEST("fpu")

#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01

/* Load a double / a single (NaN-boxed) constant into an FP register. */
#define FLI_D(f, bits)                                                                             \
	li t0, bits;                                                                               \
	fmv.d.x f, t0
#define FLI_S(f, bits)                                                                             \
	li t0, bits;                                                                               \
	fmv.w.x f, t0
/* Check an FP register's 64 bits / a single's NaN-boxed 64 bits. */
#define FCHECK_D(f, bits)                                                                          \
	fmv.x.d t1, f;                                                                             \
	CHECK(t1, bits)
#define FCHECK_S(f, bits)                                                                          \
	fmv.x.d t1, f;                                                                             \
	CHECK(t1, (0xffffffff00000000 | (bits)))
/* Check the accrued flags and clear them. */
#define CHECK_FLAGS(v)                                                                             \
	csrrw t1, fflags, zero;                                                                    \
	CHECK(t1, v)

#define ONE_D 0x3ff0000000000000
#define TWO_D 0x4000000000000000
#define THREE_D 0x4008000000000000
#define INF_D 0x7ff0000000000000
#define QNAN_D 0x7ff8000000000000 /* also the canonical NaN */
#define SNAN_D 0x7ff0000000000001
#define ONE_S 0x3f800000
#define QNAN_S 0x7fc00000 /* also the canonical NaN */
#define SNAN_S 0x7f800001
#define INF_S 0x7f800000

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call fs_states
	SAY("mstatus.FS")
	li t0, MSTATUS_FS_INITIAL
	csrs mstatus, t0
	call fcsr_access
	SAY("fcsr, frm, fflags")
	call arithmetic
	SAY("arithmetic and flags")
	call nan_boxing
	SAY("NaN boxing")
	call conversions
	SAY("conversions")
	call min_max_compare
	SAY("min, max, compare, classify")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* FS = Off: FP instructions and FP CSRs are illegal; an FP write makes FS Dirty and SD set. */
fs_states:
	addi sp, sp, -16
	sd ra, 8(sp)
	li t0, MSTATUS_FS
	csrc mstatus, t0
	EXPECT_TRAP(1f)
fadd_off:
	fadd.d f1, f2, f3
	FAIL_HERE()
1:	CHECK_ILLEGAL_AT(fadd_off)
	EXPECT_TRAP(2f)
frflags_off:
	csrr t0, fflags
	FAIL_HERE()
2:	CHECK_ILLEGAL_AT(frflags_off)
	EXPECT_TRAP(3f)
flw_off:
	flw f1, 0(sp)
	FAIL_HERE()
3:	CHECK_ILLEGAL_AT(flw_off)
	EXPECT_TRAP(4f)
fmv_off:
	fmv.x.d t0, f1
	FAIL_HERE()
4:	CHECK_ILLEGAL_AT(fmv_off)
	/* Initial -> Dirty on an FP register write */
	li t0, MSTATUS_FS_INITIAL
	csrs mstatus, t0
	csrr t0, mstatus
	srli t1, t0, 13
	andi t1, t1, 3
	CHECK(t1, 1)
	fmv.d.x f1, zero
	csrr t0, mstatus
	srli t1, t0, 13
	andi t1, t1, 3
	CHECK(t1, 3)
	srli t1, t0, 63
	CHECK(t1, 1)
	/* Clean (2) -> Dirty on an fcsr write */
	li t0, MSTATUS_FS
	csrc mstatus, t0
	li t0, 2 << 13
	csrs mstatus, t0
	csrwi fflags, 0
	csrr t0, mstatus
	srli t1, t0, 13
	andi t1, t1, 3
	CHECK(t1, 3)
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

fcsr_access:
	csrwi fcsr, 0
	li t0, 0xfff /* bits 31:8 are reserved: ignored, read as zero */
	csrw fcsr, t0
	CHECK_CSR(fcsr, 0xff)
	CHECK_CSR(frm, 7)
	CHECK_CSR(fflags, 0x1f)
	csrwi fflags, 0x3 /* only fflags changes */
	CHECK_CSR(fcsr, 0xe3)
	csrwi frm, 2
	CHECK_CSR(fcsr, 0x43)
	csrrwi t0, frm, 1 /* fsrmi: old value returned */
	CHECK(t0, 2)
	csrrci t0, fflags, 1
	CHECK(t0, 3)
	CHECK_CSR(fcsr, 0x22)
	csrrs t0, fflags, zero
	CHECK(t0, 2)
	csrwi fcsr, 0
	/* an invalid frm (5..7) makes an instruction using the dynamic mode illegal */
	FLI_D(f1, ONE_D)
	csrwi frm, 5
	EXPECT_TRAP(1f)
fadd_badrm:
	fadd.d f2, f1, f1 /* rm = dyn */
	FAIL_HERE()
1:	mv s3, ra
	CHECK_ILLEGAL_AT(fadd_badrm)
	mv ra, s3
	fadd.d f2, f1, f1, rne /* a static mode still works */
	FCHECK_D(f2, TWO_D)
	csrwi frm, 0
	CHECK_FLAGS(0)
	ret

arithmetic:
	FLI_S(f1, 0x3fc00000) /* 1.5 */
	FLI_S(f2, 0x40100000) /* 2.25 */
	fadd.s f3, f1, f2
	FCHECK_S(f3, 0x40700000) /* 3.75 */
	CHECK_FLAGS(0)
	fsub.s f3, f1, f2
	FCHECK_S(f3, 0xbf400000) /* -0.75 */
	fmul.s f3, f1, f2
	FCHECK_S(f3, 0x40580000) /* 3.375 */
	CHECK_FLAGS(0)
	FLI_S(f1, ONE_S)
	FLI_S(f2, 0x40400000) /* 3.0 */
	fdiv.s f3, f1, f2
	FCHECK_S(f3, 0x3eaaaaab) /* 1/3 rounded to nearest */
	CHECK_FLAGS(NX)
	fdiv.s f3, f1, f2, rtz
	FCHECK_S(f3, 0x3eaaaaaa)
	CHECK_FLAGS(NX)

	FLI_D(f1, THREE_D)
	FLI_D(f2, 0x3fe0000000000000) /* 0.5 */
	fmul.d f3, f1, f2
	FCHECK_D(f3, 0x3ff8000000000000) /* 1.5 */
	CHECK_FLAGS(0)
	FLI_D(f4, 0x3fb999999999999a) /* 0.1 */
	FLI_D(f5, 0x3fc999999999999a) /* 0.2 */
	fadd.d f3, f4, f5
	FCHECK_D(f3, 0x3fd3333333333334) /* 0.30000000000000004 */
	CHECK_FLAGS(NX)
	/* flags accumulate until cleared */
	fdiv.d f3, f1, f1
	fadd.d f3, f4, f5
	fdiv.d f3, f1, f1
	CHECK_FLAGS(NX)
	/* division by zero, invalid operations */
	FLI_D(f1, ONE_D)
	fmv.d.x f2, zero
	fdiv.d f3, f1, f2
	FCHECK_D(f3, INF_D)
	CHECK_FLAGS(DZ)
	fdiv.d f3, f2, f2
	FCHECK_D(f3, QNAN_D)
	CHECK_FLAGS(NV)
	FLI_D(f1, 0xbff0000000000000) /* -1.0 */
	fsqrt.d f3, f1
	FCHECK_D(f3, QNAN_D)
	CHECK_FLAGS(NV)
	FLI_D(f1, 0x4010000000000000) /* 4.0 */
	fsqrt.d f3, f1
	FCHECK_D(f3, TWO_D)
	CHECK_FLAGS(0)
	FLI_D(f1, INF_D)
	fsub.d f3, f1, f1
	FCHECK_D(f3, QNAN_D)
	CHECK_FLAGS(NV)
	/* overflow */
	FLI_D(f1, 0x7fefffffffffffff) /* largest finite */
	fadd.d f3, f1, f1
	FCHECK_D(f3, INF_D)
	CHECK_FLAGS(OF | NX)
	fadd.d f3, f1, f1, rtz /* rounds to the largest finite */
	FCHECK_D(f3, 0x7fefffffffffffff)
	CHECK_FLAGS(OF | NX)
	/* underflow: smallest normal / 2 is an exact subnormal (no UF flag since exact) */
	FLI_D(f1, 0x0010000000000000)
	FLI_D(f2, TWO_D)
	fdiv.d f3, f1, f2
	FCHECK_D(f3, 0x0008000000000000)
	CHECK_FLAGS(0)
	FLI_D(f1, 0x0000000000000001) /* smallest subnormal / 2: tiny and inexact */
	fdiv.d f3, f1, f2
	FCHECK_D(f3, 0)
	CHECK_FLAGS(UF | NX)

	/* fused multiply-add: one rounding */
	FLI_D(f1, TWO_D)
	FLI_D(f2, THREE_D)
	FLI_D(f4, ONE_D)
	fmadd.d f3, f1, f2, f4
	FCHECK_D(f3, 0x401c000000000000) /* 7 */
	fmsub.d f3, f1, f2, f4
	FCHECK_D(f3, 0x4014000000000000) /* 5 */
	fnmadd.d f3, f1, f2, f4
	FCHECK_D(f3, 0xc01c000000000000) /* -7 */
	fnmsub.d f3, f1, f2, f4
	FCHECK_D(f3, 0xc014000000000000) /* -5 */
	CHECK_FLAGS(0)
	FLI_S(f1, 0x3f800001) /* 1 + 2^-23 */
	FLI_S(f2, 0xbf800002) /* -(1 + 2^-22) */
	FLI_S(f4, 0x3f800003) /* 1 + 3 * 2^-23 */
	fmadd.s f3, f1, f1, f2 /* (1+e)^2 - (1+2e) = e^2 exactly: 2^-46 */
	FCHECK_S(f3, 0x28800000)
	CHECK_FLAGS(0)
	/* inf * 0 + qNaN is invalid even though the addend is a quiet NaN */
	FLI_D(f1, INF_D)
	fmv.d.x f2, zero
	FLI_D(f4, QNAN_D)
	fmadd.d f3, f1, f2, f4
	FCHECK_D(f3, QNAN_D)
	CHECK_FLAGS(NV)

	/* sign injection */
	FLI_D(f1, THREE_D)
	FLI_D(f2, 0x8000000000000000) /* -0 */
	fsgnj.d f3, f1, f2
	FCHECK_D(f3, 0xc008000000000000)
	fsgnjn.d f3, f1, f2
	FCHECK_D(f3, THREE_D)
	fsgnjx.d f3, f3, f2
	FCHECK_D(f3, 0xc008000000000000)
	fneg.d f3, f3
	FCHECK_D(f3, THREE_D)
	fabs.d f3, f2
	FCHECK_D(f3, 0)
	FLI_S(f1, 0x40400000)
	fneg.s f3, f1
	FCHECK_S(f3, 0xc0400000)
	CHECK_FLAGS(0)
	ret

nan_boxing:
	/* flw and fmv.w.x set the upper 32 bits to ones */
	la s0, fpdata
	li t0, 0x40400000 /* 3.0f */
	sw t0, 0(s0)
	li t0, 0x12345678
	sw t0, 4(s0)
	flw f1, 0(s0)
	fmv.x.d t1, f1
	CHECK(t1, 0xffffffff40400000)
	/* fsw stores only the low 32 bits */
	fsw f1, 4(s0)
	ld t1, 0(s0)
	CHECK(t1, 0x4040000040400000)
	/* fmv.x.w sign-extends bit 31 */
	FLI_S(f1, 0xbf800000)
	fmv.x.w t1, f1
	CHECK(t1, 0xffffffffbf800000)
	/* an improperly boxed single is treated as the canonical NaN */
	li t0, 0x000000003f800000
	fmv.d.x f1, t0
	fadd.s f2, f1, f1
	FCHECK_S(f2, QNAN_S)
	CHECK_FLAGS(0)
	li t0, 0xfffffffe3f800000
	fmv.d.x f1, t0
	FLI_S(f3, ONE_S)
	fadd.s f2, f1, f3
	FCHECK_S(f2, QNAN_S)
	fclass.s t1, f1
	CHECK(t1, 0x200) /* quiet NaN */
	fcvt.d.s f2, f1
	FCHECK_D(f2, QNAN_D)
	/* fmv.x.w does not check the boxing: it moves the low 32 bits */
	fmv.x.w t1, f1
	CHECK(t1, 0x3f800000)
	/* double -> single results are boxed */
	FLI_D(f1, THREE_D)
	fcvt.s.d f2, f1
	FCHECK_S(f2, 0x40400000)
	fcvt.d.s f3, f2
	FCHECK_D(f3, THREE_D)
	CHECK_FLAGS(0)
	ret

/* fcvt.w.d f1 with each static rounding mode; expected results in order rne rtz rdn rup rmm */
#define CVT_MODES(bits, v_rne, v_rtz, v_rdn, v_rup, v_rmm)                                         \
	FLI_D(f1, bits);                                                                           \
	fcvt.w.d t2, f1, rne;                                                                      \
	CHECK(t2, v_rne);                                                                          \
	fcvt.w.d t2, f1, rtz;                                                                      \
	CHECK(t2, v_rtz);                                                                          \
	fcvt.w.d t2, f1, rdn;                                                                      \
	CHECK(t2, v_rdn);                                                                          \
	fcvt.w.d t2, f1, rup;                                                                      \
	CHECK(t2, v_rup);                                                                          \
	fcvt.w.d t2, f1, rmm;                                                                      \
	CHECK(t2, v_rmm);                                                                          \
	CHECK_FLAGS(NX)

conversions:
	CVT_MODES(0x4004000000000000, 2, 2, 2, 3, 3)	    /* 2.5 */
	CVT_MODES(0xc004000000000000, -2, -2, -3, -2, -3)   /* -2.5 */
	CVT_MODES(0x4000cccccccccccd, 2, 2, 2, 3, 2)	    /* 2.1 */
	CVT_MODES(0x400c000000000000, 4, 3, 3, 4, 4)	    /* 3.5 */
	/* the dynamic mode comes from frm */
	FLI_D(f1, 0x4000cccccccccccd)
	csrwi frm, 3 /* rup */
	fcvt.w.d t2, f1
	CHECK(t2, 3)
	csrwi frm, 2 /* rdn */
	fcvt.w.d t2, f1
	CHECK(t2, 2)
	csrwi frm, 0
	CHECK_FLAGS(NX)
	/* exact conversions raise nothing */
	FLI_D(f1, 0xc014000000000000) /* -5.0 */
	fcvt.w.d t2, f1
	CHECK(t2, -5)
	fcvt.l.d t2, f1
	CHECK(t2, -5)
	CHECK_FLAGS(0)
	/* out of range and NaN: saturate, invalid */
	FLI_D(f1, 0x41e0000000000000) /* 2^31 */
	fcvt.w.d t2, f1
	CHECK(t2, 0x7fffffff)
	CHECK_FLAGS(NV)
	fcvt.wu.d t2, f1 /* in range for wu: 0x80000000, sign-extended */
	CHECK(t2, 0xffffffff80000000)
	CHECK_FLAGS(0)
	FLI_D(f1, 0x43e0000000000000) /* 2^63 */
	fcvt.l.d t2, f1
	CHECK(t2, 0x7fffffffffffffff)
	CHECK_FLAGS(NV)
	fcvt.lu.d t2, f1
	CHECK(t2, 0x8000000000000000)
	CHECK_FLAGS(0)
	FLI_D(f1, 0xbff0000000000000) /* -1.0 */
	fcvt.lu.d t2, f1
	CHECK(t2, 0)
	CHECK_FLAGS(NV)
	fcvt.wu.d t2, f1
	CHECK(t2, 0)
	CHECK_FLAGS(NV)
	FLI_S(f1, QNAN_S)
	fcvt.w.s t2, f1
	CHECK(t2, 0x7fffffff)
	CHECK_FLAGS(NV)
	fcvt.l.s t2, f1
	CHECK(t2, 0x7fffffffffffffff)
	CHECK_FLAGS(NV)
	fcvt.wu.s t2, f1
	CHECK(t2, 0xffffffffffffffff)
	CHECK_FLAGS(NV)
	FLI_S(f1, 0xff800000) /* -inf */
	fcvt.w.s t2, f1
	CHECK(t2, 0xffffffff80000000)
	CHECK_FLAGS(NV)
	fcvt.l.s t2, f1
	CHECK(t2, 0x8000000000000000)
	CHECK_FLAGS(NV)
	FLI_S(f1, INF_S)
	fcvt.wu.s t2, f1
	CHECK(t2, 0xffffffffffffffff)
	CHECK_FLAGS(NV)
	/* -0.5 toward zero is 0: in range, only inexact */
	FLI_S(f1, 0xbf000000)
	fcvt.wu.s t2, f1, rtz
	CHECK(t2, 0)
	CHECK_FLAGS(NX)
	/* 3e9 fits in 32 unsigned bits; the result is sign-extended */
	FLI_S(f1, 0x4f32d05e)
	fcvt.wu.s t2, f1
	CHECK(t2, 0xffffffffb2d05e00)
	CHECK_FLAGS(0)
	/* integer -> FP */
	li t0, -1
	fcvt.d.w f1, t0
	FCHECK_D(f1, 0xbff0000000000000)
	fcvt.d.wu f1, t0 /* 2^32 - 1 */
	FCHECK_D(f1, 0x41efffffffe00000)
	fcvt.d.lu f1, t0 /* 2^64 - 1 rounds to 2^64 */
	FCHECK_D(f1, 0x43f0000000000000)
	CHECK_FLAGS(NX)
	li t0, 0xffffffff00000005 /* .w sources use the low 32 bits */
	fcvt.d.w f1, t0
	FCHECK_D(f1, 0x4014000000000000)
	CHECK_FLAGS(0)
	li t0, 16777217 /* 2^24 + 1 is not representable in single */
	fcvt.s.w f1, t0
	FCHECK_S(f1, 0x4b800000)
	CHECK_FLAGS(NX)
	fcvt.s.w f1, t0, rup
	FCHECK_S(f1, 0x4b800001)
	CHECK_FLAGS(NX)
	/* double -> single: overflow, and NaN becomes the canonical NaN */
	FLI_D(f1, 0x7e37e43c8800759c) /* 1e300 */
	fcvt.s.d f2, f1
	FCHECK_S(f2, INF_S)
	CHECK_FLAGS(OF | NX)
	FLI_D(f1, SNAN_D)
	fcvt.s.d f2, f1
	FCHECK_S(f2, QNAN_S)
	CHECK_FLAGS(NV)
	FLI_D(f1, 0xfff8000000001234) /* a payload is not propagated */
	fcvt.s.d f2, f1
	FCHECK_S(f2, QNAN_S)
	CHECK_FLAGS(0)
	ret

min_max_compare:
	FLI_S(f1, QNAN_S)
	FLI_S(f2, ONE_S)
	fmin.s f3, f1, f2 /* one NaN: the other operand */
	FCHECK_S(f3, ONE_S)
	fmax.s f3, f2, f1
	FCHECK_S(f3, ONE_S)
	CHECK_FLAGS(0)
	fmin.s f3, f1, f1 /* both NaN: canonical NaN */
	FCHECK_S(f3, QNAN_S)
	CHECK_FLAGS(0)
	FLI_D(f1, SNAN_D) /* a signaling NaN raises invalid */
	FLI_D(f2, TWO_D)
	fmin.d f3, f1, f2
	FCHECK_D(f3, TWO_D)
	CHECK_FLAGS(NV)
	fmax.d f3, f1, f1
	FCHECK_D(f3, QNAN_D)
	CHECK_FLAGS(NV)
	FLI_D(f1, 0x8000000000000000) /* -0 < +0 for min/max */
	fmv.d.x f2, zero
	fmin.d f3, f2, f1
	FCHECK_D(f3, 0x8000000000000000)
	fmax.d f3, f1, f2
	FCHECK_D(f3, 0)
	FLI_S(f1, 0x80000000)
	FLI_S(f2, 0)
	fmin.s f3, f2, f1
	FCHECK_S(f3, 0x80000000)
	CHECK_FLAGS(0)

	/* compares: feq is quiet, flt/fle signal on any NaN; -0 == +0 */
	FLI_D(f1, 0x8000000000000000)
	fmv.d.x f2, zero
	feq.d t2, f1, f2
	CHECK(t2, 1)
	fle.d t2, f2, f1
	CHECK(t2, 1)
	flt.d t2, f1, f2
	CHECK(t2, 0)
	CHECK_FLAGS(0)
	FLI_D(f3, QNAN_D)
	feq.d t2, f3, f3
	CHECK(t2, 0)
	CHECK_FLAGS(0)
	flt.d t2, f3, f2
	CHECK(t2, 0)
	CHECK_FLAGS(NV)
	fle.d t2, f2, f3
	CHECK(t2, 0)
	CHECK_FLAGS(NV)
	FLI_D(f3, SNAN_D)
	feq.d t2, f3, f2
	CHECK(t2, 0)
	CHECK_FLAGS(NV)
	FLI_S(f1, ONE_S)
	FLI_S(f2, 0x40400000)
	flt.s t2, f1, f2
	CHECK(t2, 1)
	fle.s t2, f2, f1
	CHECK(t2, 0)
	CHECK_FLAGS(0)

	/* fclass: one bit per class */
	FLI_D(f1, 0xfff0000000000000) /* -inf */
	fclass.d t2, f1
	CHECK(t2, 0x001)
	FLI_D(f1, 0xbff0000000000000) /* -normal */
	fclass.d t2, f1
	CHECK(t2, 0x002)
	FLI_D(f1, 0x800fffffffffffff) /* -subnormal */
	fclass.d t2, f1
	CHECK(t2, 0x004)
	FLI_D(f1, 0x8000000000000000) /* -0 */
	fclass.d t2, f1
	CHECK(t2, 0x008)
	fmv.d.x f1, zero /* +0 */
	fclass.d t2, f1
	CHECK(t2, 0x010)
	FLI_D(f1, 0x0000000000000001) /* +subnormal */
	fclass.d t2, f1
	CHECK(t2, 0x020)
	FLI_D(f1, ONE_D)
	fclass.d t2, f1
	CHECK(t2, 0x040)
	FLI_D(f1, INF_D)
	fclass.d t2, f1
	CHECK(t2, 0x080)
	FLI_D(f1, SNAN_D)
	fclass.d t2, f1
	CHECK(t2, 0x100)
	FLI_D(f1, QNAN_D)
	fclass.d t2, f1
	CHECK(t2, 0x200)
	FLI_S(f1, SNAN_S)
	fclass.s t2, f1
	CHECK(t2, 0x100)
	FLI_S(f1, 0x80000001)
	fclass.s t2, f1
	CHECK(t2, 0x004)
	CHECK_FLAGS(0)
	ret

	.data
	.balign 8
fpdata:
	.dword 0
