/* The same machine as plain RV64GC (--cpu rv64gc, rva23gc.rvisor-args): every encoding of the
 * extensions --cpu max adds (Zba, Zbb, Zbs, Zicond, Zcb, Zimop, Zcmop, Zawrs, Zicbom, Zicboz,
 * Zfhmin, Zfa, Svinval) raises illegal-instruction, with mtval 0 or the instruction's bits; the hints
 * that are base instructions (pause, ntl.*, prefetch.*) still run as such; menvcfg's and
 * senvcfg's cache-block enables read as zero. */
#include "common.h"

DEFINE_TEST("rva23gc")

/* The instruction(s) given, at a label of their own, must raise illegal-instruction in M-mode. */
#define ILLEGAL(...)                                                                               \
	EXPECT_TRAP(19982f);                                                                       \
	19983 : __VA_ARGS__;                                                                              \
	FAIL_HERE();                                                                               \
	19982 : CHECK_ILLEGAL_AT(19983b)

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	la s0, buf
	ILLEGAL(add.uw a0, a1, a2)
	ILLEGAL(sh1add a0, a1, a2)
	ILLEGAL(sh3add.uw a0, a1, a2)
	ILLEGAL(slli.uw a0, a1, 3)
	ILLEGAL(andn a0, a1, a2)
	ILLEGAL(clz a0, a1)
	ILLEGAL(cpopw a0, a1)
	ILLEGAL(max a0, a1, a2)
	ILLEGAL(sext.b a0, a1)
	ILLEGAL(zext.h a0, a1)
	ILLEGAL(rol a0, a1, a2)
	ILLEGAL(rori a0, a1, 3)
	ILLEGAL(roriw a0, a1, 3)
	ILLEGAL(orc.b a0, a1)
	ILLEGAL(rev8 a0, a1)
	ILLEGAL(bset a0, a1, a2)
	ILLEGAL(bexti a0, a1, 63)
	SAY("Zba, Zbb and Zbs are illegal")
	ILLEGAL(.insn r 0x33, 5, 7, a0, a1, a2) /* czero.eqz */
	ILLEGAL(.insn r 0x33, 7, 7, a0, a1, a2) /* czero.nez */
	ILLEGAL(.4byte 0x81c5c573)              /* mop.r.0 a0, a1 */
	ILLEGAL(.4byte 0xcec5c573)              /* mop.rr.7 a0, a1, a2 */
	ILLEGAL(wrs.nto)
	ILLEGAL(wrs.sto)
	ILLEGAL(cbo.zero (s0))
	ILLEGAL(cbo.clean (s0))
	ILLEGAL(cbo.flush (s0))
	ILLEGAL(cbo.inval (s0))
	SAY("Zicond, Zimop, Zawrs, Zicbom and Zicboz are illegal")
	ILLEGAL(.4byte 0x16000073) /* sinval.vma x0, x0 */
	ILLEGAL(.4byte 0x18000073) /* sfence.w.inval */
	ILLEGAL(.4byte 0x18100073) /* sfence.inval.ir */
	SAY("Svinval is illegal")
	mv a1, s0
	ILLEGAL(.2byte 0x81c8; .2byte 0x0001) /* c.lbu a0, 1(a1) */
	ILLEGAL(.2byte 0x8da8; .2byte 0x0001) /* c.sh a0, 2(a1) */
	ILLEGAL(.2byte 0x9d61; .2byte 0x0001) /* c.zext.b a0 */
	ILLEGAL(.2byte 0x9d75; .2byte 0x0001) /* c.not a0 */
	ILLEGAL(.2byte 0x9d4d; .2byte 0x0001) /* c.mul a0, a1 */
	ILLEGAL(.2byte 0x6081; .2byte 0x0001) /* c.mop.1 */
	SAY("Zcb and Zcmop are illegal")
	li t0, MSTATUS_FS_DIRTY /* FP on: only the extensions are missing */
	csrs mstatus, t0
	mv a0, s0
	ILLEGAL(.4byte 0x00051087) /* flh f1, 0(a0) */
	ILLEGAL(.4byte 0x40208153) /* fcvt.s.h f2, f1 */
	ILLEGAL(.4byte 0xe40082d3) /* fmv.x.h t0, f1 */
	ILLEGAL(.4byte 0xf01803d3) /* fli.s f7, 1.0 */
	ILLEGAL(.4byte 0x424505d3) /* fround.d f11, f10, rne */
	ILLEGAL(.4byte 0xa07752d3) /* fltq.s t0, f14, f7 */
	li t0, MSTATUS_FS
	csrc mstatus, t0
	SAY("Zfhmin and Zfa are illegal")
	li a0, 5
	pause
	.4byte 0x00500033 /* ntl.all */
	prefetch.w 0(s0)
	CHECK(a0, 5)
	li t0, -1
	csrw menvcfg, t0
	csrr t0, menvcfg
	andi t0, t0, 0xf0
	beqz t0, 1f
	SAY("deviation: menvcfg's and senvcfg's CBIE, CBCFE and CBZE are writable without Zicbom and Zicboz")
	j 2f
1:
	li t0, -1
	csrw senvcfg, t0
	CHECK_CSR(senvcfg, 1) /* FIOM only */
2:
	csrw menvcfg, zero
	csrw senvcfg, zero
	SAY("hints run; the envcfg enables read as zero")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

	.data
	.balign 64
buf:
	.skip 64
