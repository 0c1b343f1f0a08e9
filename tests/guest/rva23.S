/* RVA23's scalar extensions beyond RV64GC, with --cpu max (rva23.rvisor-args): known answers
 * worked out from the specifications for Zba, Zbb, Zbs (the "B" chapter), Zicond, Zcb, Zimop,
 * Zcmop, Zfhmin and Zfa; the hints (Zihintpause, Zihintntl, Zicbop) doing nothing; Zawrs with
 * mstatus.TW; Zicboz and Zicbom (the CMO specification): cbo.zero zeroing exactly its
 * naturally aligned 64-byte block, the menvcfg/senvcfg enables (CBIE, CBCFE, CBZE) per mode,
 * and under Sv39 the store page faults they raise, precise (stval = rs1, nothing written).
 * Encodings binutils 2.40 does not know are written as .insn/.2byte from their listings. */
#include "common.h"

DEFINE_TEST("rva23")

#define MIN64 0x8000000000000000
#define MENVCFG_CBIE (3 << 4)
#define MENVCFG_CBCFE (1 << 6)
#define MENVCFG_CBZE (1 << 7)
#define CBO_ALL (MENVCFG_CBIE | MENVCFG_CBCFE | MENVCFG_CBZE)

/* On a machine without the extension whose instruction `insn` is (QEMU 7.2 lacks several),
 * print "rva23: deviation: no NAME" and return from the calling function (which must not
 * have touched its stack frame yet); rva23.expected has no such line, so rvisor is held to
 * every check. */
#define REQUIRE(insn, name)                                                                        \
	EXPECT_TRAP(19980f);                                                                       \
	insn;                                                                                      \
	EXPECT_NO_TRAP();                                                                          \
	j 19981f;                                                                                  \
	19980 : addi sp, sp, -16;                                                                  \
	sd ra, 8(sp);                                                                              \
	SAY("deviation: no " name);                                                                \
	ld ra, 8(sp);                                                                              \
	addi sp, sp, 16;                                                                           \
	ret;                                                                                       \
	19981:

/* rd = rs1 OP rs2 for the Zicond and Zimop R-type forms. */
#define CZERO_EQZ(rd, rs1, rs2) .insn r 0x33, 5, 7, rd, rs1, rs2
#define CZERO_NEZ(rd, rs1, rs2) .insn r 0x33, 7, 7, rd, rs1, rs2

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call zba
	SAY("Zba")
	call zbb
	SAY("Zbb")
	call zbs
	SAY("Zbs")
	call zicond
	SAY("Zicond")
	call zcb
	SAY("Zcb")
	call mops
	SAY("Zimop and Zcmop")
	call hints
	SAY("Zihintpause, Zihintntl and Zicbop hints")
	call zawrs
	SAY("Zawrs and mstatus.TW")
	call cbo_m
	SAY("cbo.zero zeroes its 64-byte block; clean, flush, inval")
	call envcfg
	SAY("menvcfg and senvcfg enables")
	call cbo_paging
	SAY("cache-block operations under Sv39")
	li t0, MSTATUS_FS_DIRTY
	csrs mstatus, t0
	call zfhmin
	SAY("Zfhmin")
	call zfa
	SAY("Zfa")
	li t0, MSTATUS_FS
	csrc mstatus, t0
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

zba:
	li s0, 0xfedcba9880000003 /* the upper half must be ignored by the .uw forms */
	li s1, 0x1000
	add.uw s2, s0, s1
	CHECK(s2, 0x80001003)
	sh1add s2, s0, s1
	CHECK(s2, 0xfdb9753100001006)
	sh2add s2, s0, s1
	CHECK(s2, 0xfb72ea620000100c)
	sh3add s2, s0, s1
	CHECK(s2, 0xf6e5d4c400001018)
	sh1add.uw s2, s0, s1
	CHECK(s2, 0x100001006)
	sh2add.uw s2, s0, s1
	CHECK(s2, 0x20000100c)
	sh3add.uw s2, s0, s1
	CHECK(s2, 0x400001018)
	slli.uw s2, s0, 0
	CHECK(s2, 0x80000003)
	slli.uw s2, s0, 63 /* bit 0 of the word to bit 63 */
	CHECK(s2, MIN64)
	slli.uw s2, s0, 33
	CHECK(s2, 0x0000000600000000)
	add.uw s2, s0, zero /* zext.w */
	CHECK(s2, 0x80000003)
	ret

zbb:
	addi sp, sp, -16
	sd ra, 8(sp)
	li s0, 0xff00ff00f0f0f0f0
	li s1, 0x0ff00ff00ff00ff0
	andn s2, s0, s1
	CHECK(s2, 0xf000f000f000f000)
	orn s2, s0, s1
	CHECK(s2, 0xff0fff0ff0fff0ff)
	xnor s2, s0, s1
	CHECK(s2, 0x0f0f0f0f00ff00ff)
	/* counts */
	clz s2, zero
	CHECK(s2, 64)
	li s0, 1
	clz s2, s0
	CHECK(s2, 63)
	li s0, MIN64
	clz s2, s0
	CHECK(s2, 0)
	clzw s2, zero
	CHECK(s2, 32)
	li s0, 0xffffffff00000001
	clzw s2, s0
	CHECK(s2, 31)
	li s0, 0x80000000
	clzw s2, s0
	CHECK(s2, 0)
	ctz s2, zero
	CHECK(s2, 64)
	li s0, MIN64
	ctz s2, s0
	CHECK(s2, 63)
	ctzw s2, s0 /* the low word is zero */
	li t0, 63
	bne s2, t0, 1f
	SAY("deviation: ctzw of a zero word is 63, not 32")
	li s2, 32
1:	CHECK(s2, 32)
	li s0, 0x100000000
	ctzw s2, s0
	CHECK(s2, 32)
	li s0, 0x80000000
	ctzw s2, s0
	CHECK(s2, 31)
	li s0, -1
	cpop s2, s0
	CHECK(s2, 64)
	cpopw s2, s0
	CHECK(s2, 32)
	li s0, 0xffffffff00000000
	cpopw s2, s0
	CHECK(s2, 0)
	li s0, 0x0123456789abcdef
	cpop s2, s0
	CHECK(s2, 32)
	/* min and max, signed and unsigned */
	li s0, -1
	li s1, 1
	max s2, s0, s1
	CHECK(s2, 1)
	maxu s2, s0, s1
	CHECK(s2, -1)
	min s2, s0, s1
	CHECK(s2, -1)
	minu s2, s0, s1
	CHECK(s2, 1)
	li s0, MIN64
	li s1, 0x7fffffffffffffff
	max s2, s0, s1
	CHECK(s2, 0x7fffffffffffffff)
	minu s2, s0, s1
	CHECK(s2, 0x7fffffffffffffff)
	/* extensions */
	li s0, 0x1234567890abcd80
	sext.b s2, s0
	CHECK(s2, -128)
	li s0, 0x123456789abc8001
	sext.h s2, s0
	CHECK(s2, 0xffffffffffff8001)
	zext.h s2, s0
	CHECK(s2, 0x8001)
	li s0, 0x7f
	sext.b s2, s0
	CHECK(s2, 0x7f)
	/* rotations: the amount is taken modulo the width */
	li s0, 0x8000000000000001
	li s1, 1
	rol s2, s0, s1
	CHECK(s2, 3)
	ror s2, s0, s1
	CHECK(s2, 0xc000000000000000)
	li s1, 65
	rol s2, s0, s1
	CHECK(s2, 3)
	li s1, 64
	ror s2, s0, s1
	CHECK(s2, 0x8000000000000001)
	rori s2, s0, 4
	CHECK(s2, 0x1800000000000000)
	rori s2, s0, 0
	CHECK(s2, 0x8000000000000001)
	li s0, 0xffffffff40000000 /* the upper half is ignored, the result sign-extended */
	li s1, 1
	rolw s2, s0, s1
	CHECK(s2, 0xffffffff80000000)
	li s1, 33
	rolw s2, s0, s1
	CHECK(s2, 0xffffffff80000000)
	li s0, 1
	li s1, 1
	rorw s2, s0, s1
	CHECK(s2, 0xffffffff80000000)
	roriw s2, s0, 1
	CHECK(s2, 0xffffffff80000000)
	li s0, 0x10
	roriw s2, s0, 4
	CHECK(s2, 1)
	/* bytes */
	li s0, 0x0001008000ff0010
	orc.b s2, s0
	CHECK(s2, 0x00ff00ff00ff00ff)
	orc.b s2, zero
	CHECK(s2, 0)
	li s0, 0x0102040810204080
	orc.b s2, s0
	CHECK(s2, -1)
	li s0, 0x0123456789abcdef
	rev8 s2, s0
	CHECK(s2, 0xefcdab8967452301)
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

zbs:
	li s0, 0
	li s1, 63
	bset s2, s0, s1
	CHECK(s2, MIN64)
	li s0, -1
	li s1, 64 /* the index is taken modulo 64 */
	bclr s2, s0, s1
	CHECK(s2, -2)
	li s0, 0
	li s1, 0x7fffffffffffff45 /* index 5 */
	binv s2, s0, s1
	CHECK(s2, 32)
	li s0, MIN64
	li s1, 63
	bext s2, s0, s1
	CHECK(s2, 1)
	bexti s2, s0, 62
	CHECK(s2, 0)
	bexti s2, s0, 63
	CHECK(s2, 1)
	bseti s2, zero, 32
	CHECK(s2, 0x100000000)
	li s0, -1
	bclri s2, s0, 63
	CHECK(s2, 0x7fffffffffffffff)
	binvi s2, s0, 0
	CHECK(s2, -2)
	ret

zicond:
	REQUIRE(CZERO_EQZ(s2, s0, s1), "Zicond")
	li s0, 5
	li s1, 7
	CZERO_EQZ(s2, s0, zero)
	CHECK(s2, 0)
	CZERO_EQZ(s2, s0, s1)
	CHECK(s2, 5)
	CZERO_NEZ(s2, s0, zero)
	CHECK(s2, 5)
	CZERO_NEZ(s2, s0, s1)
	CHECK(s2, 0)
	li s1, MIN64 /* any bit set counts as non-zero */
	CZERO_EQZ(s2, s0, s1)
	CHECK(s2, 5)
	ret

/* Zcb on a0 (x10) and a1 (x11), with their encodings (Zcb spec, "Instructions"). */
zcb:
	REQUIRE(.2byte 0x9d75; .2byte 0x9d75, "Zcb") /* c.not a0, twice */
	la a1, zcb_data
	.2byte 0x81c8 /* c.lbu a0, 1(a1) */
	CHECK(a0, 0x81)
	.2byte 0x85a8 /* c.lhu a0, 2(a1) */
	CHECK(a0, 0x8382)
	.2byte 0x85e8 /* c.lh a0, 2(a1) */
	CHECK(a0, 0xffffffffffff8382)
	li a0, 0x1234567890abcdef
	.2byte 0x89e8 /* c.sb a0, 3(a1) */
	.2byte 0x8d88 /* c.sh a0, 0(a1) */
	ld t0, 0(a1)
	CHECK(t0, 0x87868584ef82cdef)
	.2byte 0x9d61 /* c.zext.b a0 */
	CHECK(a0, 0xef)
	li a0, 0x1234567890abcdef
	.2byte 0x9d65 /* c.sext.b a0 */
	CHECK(a0, 0xffffffffffffffef)
	li a0, 0x1234567890abcdef
	.2byte 0x9d69 /* c.zext.h a0 */
	CHECK(a0, 0xcdef)
	li a0, 0x1234567890abcdef
	.2byte 0x9d6d /* c.sext.h a0 */
	CHECK(a0, 0xffffffffffffcdef)
	li a0, 0x1234567890abcdef
	.2byte 0x9d71 /* c.zext.w a0 */
	CHECK(a0, 0x90abcdef)
	li a0, 0x1234567890abcdef
	.2byte 0x9d75 /* c.not a0 */
	CHECK(a0, 0xedcba9876f543210)
	li a0, -3
	li a1, 7
	.2byte 0x9d4d /* c.mul a0, a1 */
	CHECK(a0, -21)
	ret

mops:
	REQUIRE(.4byte 0x81c5c573, "Zimop")
	REQUIRE(.2byte 0x6081; .2byte 0x6081, "Zcmop")
	li a0, 5
	li a1, 6
	li a2, 7
	.4byte 0x81c5c573 /* mop.r.0 a0, a1 */
	CHECK(a0, 0)
	li a0, 5
	.4byte 0xcdf5c573 /* mop.r.31 a0, a1 */
	CHECK(a0, 0)
	li a0, 5
	.4byte 0xcec5c573 /* mop.rr.7 a0, a1, a2 */
	CHECK(a0, 0)
	CHECK(a1, 6)
	CHECK(a2, 7)
	mv t0, ra
	.2byte 0x6081 /* c.mop.1: writes nothing (not even x1) */
	.2byte 0x6781 /* c.mop.15 */
	CHECK_REG(t0, ra)
	ret

hints:
	li a0, 5
	pause
	.4byte 0x00500033 /* ntl.all */
	.2byte 0x9016 /* c.ntl.all */
	.2byte 0x0001
	li t0, 0x40000000 /* nothing there: a prefetch must not fault */
	prefetch.i 0(t0)
	prefetch.r 32(zero)
	prefetch.w -32(t0)
	CHECK(a0, 5)
	ret

zawrs:
	REQUIRE(wrs.sto, "Zawrs")
	addi sp, sp, -16
	sd ra, 8(sp)
	wrs.nto
	wrs.sto
	/* S-mode, TW clear: both go on */
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, 2f)
2:	wrs.nto
	wrs.sto
	TO_M_MODE()
1:	/* TW set: wrs.nto is illegal below M, as wfi is; wrs.sto is not affected */
	li t0, MSTATUS_TW
	csrs mstatus, t0
	EXPECT_TRAP_M(3f)
	MRET_TO(PRV_S, 4f)
4:	wrs.sto
s_wrs_nto:
	wrs.nto
	FAIL_HERE()
3:	CHECK_ILLEGAL_AT(s_wrs_nto)
	CHECK_TRAP_PRIV(PRV_S)
	wrs.nto /* M-mode: TW does not apply */
	li t0, MSTATUS_TW
	csrc mstatus, t0
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Fill the 192 bytes of cbo_buf with the byte pattern 0xa5. */
fill_buf:
	la t0, cbo_buf
	li t1, 0xa5a5a5a5a5a5a5a5
	addi t2, t0, 192
1:	sd t1, 0(t0)
	addi t0, t0, 8
	bltu t0, t2, 1b
	ret

/* a0 = how many of cbo_buf's 24 doublewords are zero; a1 = a bit per zero doubleword. */
count_zero:
	la t0, cbo_buf
	li a0, 0
	li a1, 0
	li t2, 0
1:	ld t1, 0(t0)
	bnez t1, 2f
	addi a0, a0, 1
	li t1, 1
	sll t1, t1, t2
	or a1, a1, t1
2:	addi t0, t0, 8
	addi t2, t2, 1
	li t1, 24
	bltu t2, t1, 1b
	ret

cbo_m:
	la t0, cbo_buf
	REQUIRE(cbo.zero (t0), "Zicboz")
	REQUIRE(cbo.clean (t0), "Zicbom")
	addi sp, sp, -16
	sd ra, 8(sp)
	call fill_buf
	la t0, cbo_buf
	addi t0, t0, 64 + 13 /* any address in the middle block */
	cbo.zero (t0)
	call count_zero
	CHECK(a0, 8)
	CHECK(a1, 0xff00) /* exactly doublewords 8..15 */
	call fill_buf
	la t0, cbo_buf
	addi t0, t0, 191
	cbo.clean (t0)
	cbo.flush (t0)
	cbo.inval (t0)
	call count_zero
	CHECK(a0, 0)
	/* cbo.zero over code that has run (and been translated): after fence.i the block is
	 * fetched afresh, all zeroes, an illegal instruction */
	la t0, code_buf
	li t1, 0x00700513 /* li a0, 7 */
	sw t1, 0(t0)
	li t1, 0x00008067 /* ret */
	sw t1, 4(t0)
	fence.i
	li a0, 0
	jalr t0
	CHECK(a0, 7)
	la t0, code_buf
	cbo.zero (t0)
	fence.i
	EXPECT_TRAP(1f)
	jalr t0
	FAIL_HERE()
1:	CHECK_TRAP_CAUSE(CAUSE_ILLEGAL_INSTRUCTION)
	CHECK_TRAP_EPC(code_buf)
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

envcfg:
	la t0, cbo_buf
	REQUIRE(cbo.zero (t0), "Zicboz")
	REQUIRE(cbo.clean (t0), "Zicbom")
	addi sp, sp, -16
	sd ra, 8(sp)
	li t0, CBO_ALL
	csrw menvcfg, t0
	CHECK_CSR(menvcfg, CBO_ALL)
	li t0, (2 << 4) | MENVCFG_CBZE /* CBIE = 10 is reserved: CBIE keeps its value */
	csrw menvcfg, t0
	CHECK_CSR(menvcfg, (3 << 4) | MENVCFG_CBZE)
	li t0, (1 << 4)
	csrw menvcfg, t0
	CHECK_CSR(menvcfg, 1 << 4)
	li t0, CBO_ALL | 1
	csrw senvcfg, t0
	CHECK_CSR(senvcfg, CBO_ALL | 1)
	/* S-mode with menvcfg clear: every CBO is illegal */
	csrw menvcfg, zero
	la s0, cbo_buf
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, s_zero_off)
s_zero_off:
	cbo.zero (s0)
	FAIL_HERE()
1:	CHECK_ILLEGAL_AT(s_zero_off)
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, s_clean_off)
s_clean_off:
	cbo.clean (s0)
	FAIL_HERE()
1:	CHECK_ILLEGAL_AT(s_clean_off)
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, s_inval_off)
s_inval_off:
	cbo.inval (s0)
	FAIL_HERE()
1:	CHECK_ILLEGAL_AT(s_inval_off)
	/* each enable alone */
	li t0, MENVCFG_CBZE
	csrw menvcfg, t0
	call fill_buf
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, 2f)
2:	cbo.zero (s0)
s_flush_off:
	cbo.flush (s0)
	FAIL_HERE()
1:	CHECK_ILLEGAL_AT(s_flush_off)
	call count_zero
	CHECK(a1, 0xff)
	li t0, MENVCFG_CBCFE | (1 << 4)
	csrw menvcfg, t0
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, 2f)
2:	cbo.clean (s0)
	cbo.flush (s0)
	cbo.inval (s0) /* CBIE = 01: performed as a flush */
s_zero_off2:
	cbo.zero (s0)
	FAIL_HERE()
1:	CHECK_ILLEGAL_AT(s_zero_off2)
	/* U-mode needs senvcfg's enable as well */
	li t0, CBO_ALL
	csrw menvcfg, t0
	csrw senvcfg, zero
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_U, u_zero_off)
u_zero_off:
	cbo.zero (s0)
	FAIL_HERE()
1:	CHECK_ILLEGAL_AT(u_zero_off)
	CHECK_TRAP_PRIV(PRV_U)
	li t0, MENVCFG_CBZE
	csrw senvcfg, t0
	call fill_buf
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_U, 2f)
2:	addi t0, s0, 128
	cbo.zero (t0)
u_clean_off:
	cbo.clean (s0)
	FAIL_HERE()
1:	CHECK_ILLEGAL_AT(u_clean_off)
	call count_zero
	CHECK(a1, 0xff0000)
	csrw senvcfg, zero
	csrw menvcfg, zero
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Sv39 with 1 GiB pages: VA 0 -> MMIO (RW), 0x80000000 -> itself (RWX), 0xc0000000 ->
 * 0x80000000 read-only, 0x40000000 unmapped. */
#define RO_ALIAS (0xc0000000 - 0x80000000)
cbo_paging:
	la t0, cbo_buf
	REQUIRE(cbo.zero (t0), "Zicboz")
	REQUIRE(cbo.clean (t0), "Zicbom")
	addi sp, sp, -16
	sd ra, 8(sp)
	la t0, cbo_root
	li t1, (0x00000000 >> 12) << PTE_PPN_SHIFT | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	sd t1, 0(t0)
	li t1, (0x80000000 >> 12) << PTE_PPN_SHIFT | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
	sd t1, 16(t0)
	li t1, (0x80000000 >> 12) << PTE_PPN_SHIFT | PTE_V | PTE_R | PTE_A
	sd t1, 24(t0)
	srli t0, t0, 12
	li t1, SATP_MODE_SV39 << SATP_MODE_SHIFT
	or t0, t0, t1
	csrw satp, t0
	sfence.vma
	li t0, CBO_ALL
	csrw menvcfg, t0
	call fill_buf
	la s0, cbo_buf
	li t0, RO_ALIAS
	add s1, s0, t0
	addi s1, s1, 64 + 5 /* the read-only alias of the middle block */
	/* cbo.zero on a read-only page: store page fault, stval = rs1, nothing zeroed */
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, s_zero_ro)
s_zero_ro:
	cbo.zero (s1)
	FAIL_HERE()
1:	CHECK_TRAP_CAUSE(CAUSE_STORE_PAGE_FAULT)
	CHECK_TRAP_EPC(s_zero_ro)
	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s1)
	call count_zero
	CHECK(a0, 0)
	/* the management CBOs need only read permission there */
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, 2f)
2:	cbo.clean (s1)
	cbo.flush (s1)
	cbo.inval (s1)
	addi t0, s0, 64 /* through the writable identity map: zeroed */
	cbo.zero (t0)
	TO_M_MODE()
1:	call count_zero
	CHECK(a1, 0xff00)
	/* unmapped: a store page fault for a management CBO too */
	li s1, 0x40000000 + 0x123
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, s_clean_unmapped)
s_clean_unmapped:
	cbo.clean (s1)
	FAIL_HERE()
1:	CHECK_TRAP_CAUSE(CAUSE_STORE_PAGE_FAULT)
	CHECK_TRAP_EPC(s_clean_unmapped)
	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s1)
	csrw satp, zero
	sfence.vma
	csrw menvcfg, zero
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

#define PROBE_FLH flh f1, 0(a0)
/* Zfhmin: halves NaN-boxed in the f registers, converted exactly to S and D and back with
 * rounding. */
zfhmin:
	la a0, half_data
	REQUIRE(PROBE_FLH, "Zfhmin")
	csrw fflags, zero
	flh f1, 0(a0) /* 1.0 */
	fmv.x.h t0, f1
	CHECK(t0, 0x3c00)
	fmv.x.d t0, f1 /* boxed: the upper 48 bits are ones */
	CHECK(t0, 0xffffffffffff3c00)
	fcvt.s.h f2, f1
	fmv.x.w t0, f2
	CHECK(t0, 0x3f800000)
	fcvt.d.h f3, f1
	fmv.x.d t0, f3
	CHECK(t0, 0x3ff0000000000000)
	fcvt.h.d f4, f3
	fmv.x.h t0, f4
	CHECK(t0, 0x3c00)
	li t0, 0xbf800000 /* -1.0, but not NaN-boxed as a half: reads as the canonical NaN */
	fmv.d.x f5, t0
	fcvt.s.h f2, f5
	fmv.x.w t0, f2
	CHECK(t0, 0x7fc00000)
	CHECK_CSR(fflags, 0)
	li t0, 0x3eaaaaab /* 1/3: rounds to 0x3555, inexact */
	fmv.w.x f5, t0
	fcvt.h.s f6, f5, rne
	fmv.x.h t0, f6
	CHECK(t0, 0x3555)
	CHECK_CSR(fflags, 1)
	fsh f6, 2(a0)
	lhu t0, 2(a0)
	CHECK(t0, 0x3555)
	li t0, 0x12348001
	fmv.h.x f6, t0
	fmv.x.d t0, f6
	CHECK(t0, 0xffffffffffff8001)
	fmv.x.h t0, f6
	CHECK(t0, 0xffffffffffff8001)
	ret

/* Zfa, encoded from its listings (binutils 2.40 does not know it). */
zfa:
	REQUIRE(.4byte 0xf01803d3, "Zfa") /* fli.s f7, 1.0 */
	csrw fflags, zero
	.4byte 0xf01803d3 /* fli.s f7, 1.0 (index 16) */
	fmv.x.d t0, f7
	CHECK(t0, 0xffffffff3f800000)
	.4byte 0xf21f8453 /* fli.d f8, nan (index 31) */
	fmv.x.d t0, f8
	CHECK(t0, 0x7ff8000000000000)
	.4byte 0xf21104d3 /* fli.d f9, 0x1p-16 (index 2) */
	fmv.x.d t0, f9
	CHECK(t0, 0x3ef0000000000000)
	li t0, 0x4004000000000000 /* 2.5 */
	fmv.d.x f10, t0
	.4byte 0x424505d3 /* fround.d f11, f10, rne */
	fmv.x.d t0, f11
	CHECK(t0, 0x4000000000000000)
	CHECK_CSR(fflags, 0)
	.4byte 0x424545d3 /* fround.d f11, f10, rmm */
	fmv.x.d t0, f11
	CHECK(t0, 0x4008000000000000)
	.4byte 0x425505d3 /* froundnx.d f11, f10, rne: inexact */
	CHECK_CSR(fflags, 1)
	csrw fflags, zero
	li t0, 0x41f0000000500000 /* 2^32 + 5 */
	fmv.d.x f12, t0
	.4byte 0xc28612d3 /* fcvtmod.w.d t0, f12, rtz: modulo 2^32, invalid */
	CHECK(t0, 5)
	CHECK_CSR(fflags, 0x10)
	csrw fflags, zero
	li t0, 0xffffffff7fc00001 /* a quiet NaN, boxed */
	fmv.d.x f14, t0
	.4byte 0x28e3a6d3 /* fminm.s f13, f7, f14: a NaN operand gives the canonical NaN */
	fmv.x.d t0, f13
	CHECK(t0, 0xffffffff7fc00000)
	.4byte 0xa07752d3 /* fltq.s t0, f14, f7: quiet, no invalid */
	CHECK(t0, 0)
	CHECK_CSR(fflags, 0)
	.4byte 0xa073c2d3 /* fleq.s t0, f7, f7 */
	CHECK(t0, 1)
	.4byte 0xa284c2d3 /* fleq.d t0, f9, f8: NaN */
	CHECK(t0, 0)
	CHECK_CSR(fflags, 0)
	ret

	.data
	.balign 8
half_data:
	.2byte 0x3c00, 0
	.balign 8
zcb_data:
	.8byte 0x8786858483828180
	.balign 64
cbo_buf:
	.skip 192
	.balign 64
code_buf:
	.skip 64
	.balign 4096
cbo_root:
	.skip 4096
