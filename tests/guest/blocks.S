/* Code whose translation jumps inside itself: the translator takes the code a page's branches
 * lead to into one block and turns the branches into jumps within it. Checked here: nested
 * loops with an if-else chain inside (their result, and minstret counting exactly the
 * instructions retired on every path: unprivileged spec 10.1, privileged spec 3.1.11); a
 * loop entered in its middle; a value's sign extension not assumed where paths meet
 * (sext.w at a loop head reached with a value that is no longer sign-extended); sext.w,
 * srliw and the shift-and-add of array indexing on values with upper bits set; and
 * mstatus.FS on a path written by a CSR instruction between two F/D instructions (FS = Off
 * makes the next one illegal; FS = Clean becomes Dirty again at the next write: privileged
 * spec 3.1.6.6). */
#include "common.h"

DEFINE_TEST("blocks")

#define MSTATUS_FS_CLEAN (2 << 13)

	.text
	.globl test_main
test_main:
	addi sp, sp, -32
	sd ra, 0(sp)
	sd s0, 8(sp)
	sd s1, 16(sp)
	sd s2, 24(sp)

	SAY("nested loops with an if-else chain, minstret exact")
	csrr a4, minstret
	li s0, 0
	li s1, 20
1:	li s2, 30
2:	andi t0, s2, 3
	beqz t0, 3f
	addi t1, t0, -2
	bnez t1, 4f
	slli t2, s2, 3
	add t2, t2, s1
	add s0, s0, t2
	j 5f
4:	xor s0, s0, s2
	j 5f
3:	sub s0, s0, s1
5:	addi s2, s2, -1
	bnez s2, 2b
	addi s1, s1, -1
	bnez s1, 1b
	csrr a5, minstret
	CHECK(s0, 0x51b6)
	sub a5, a5, a4
	li t0, 4763 /* the first csrr, the two li, 4760 in the loops */
	beq a5, t0, 6f
	SAY("deviation: minstret does not count the loops' instructions exactly")
6:
	SAY("a loop entered in its middle")
	li a0, 0
	li a1, 10
	j 8f
7:	addi a0, a0, 3
8:	addi a1, a1, -1
	bgez a1, 7b
	CHECK(a0, 30)
	CHECK(a1, -1)

	SAY("sign extension where paths meet, sext.w, srliw, shift-and-add")
	addiw t0, zero, -5 /* a W result: sign-extended */
	li t4, 2
	li t3, 1
	slli t3, t3, 32
9:	sext.w t1, t0 /* the second time t0 is -5 + 2^32: not sign-extended */
	add t0, t0, t3
	addi t4, t4, -1
	bnez t4, 9b
	CHECK(t1, -5)
	lui t0, 0x80000 /* 0xffffffff80000000 */
	li t1, 0x7fffffff
	xor t2, t0, t1
	sext.w t2, t2
	CHECK(t2, -1)
	add t2, t1, t3 /* 0x17fffffff: a 64-bit sum */
	addi t2, t2, 1
	sext.w t2, t2
	CHECK(t2, 0xffffffff80000000)
	li t0, -1
	srliw t1, t0, 0
	srliw t2, t0, 1
	and t1, t1, t2
	sext.w t1, t1
	CHECK(t1, 0x7fffffff)
	li t0, -1
	li t1, 0x1000
	slli t0, t0, 3
	add t0, t0, t1
	CHECK(t0, 0xff8)
	li t0, 0x80000001
	slli t2, t0, 2
	add t2, t1, t2
	CHECK(t2, 0x200001004)

	SAY("mstatus.FS written between two F/D instructions on one path")
	li t0, MSTATUS_FS
	csrs mstatus, t0
	la a0, fdata
	EXPECT_TRAP(11f)
	fld fa0, 0(a0)
	fadd.d fa1, fa0, fa0
	csrc mstatus, t0
10:	fadd.d fa2, fa0, fa0
	FAIL_HERE()
11:	CHECK_ILLEGAL_AT(10b)
	EXPECT_NO_TRAP()
	li t0, MSTATUS_FS
	csrs mstatus, t0
	la a0, fdata
	li t1, MSTATUS_FS_CLEAN
	fld fa0, 0(a0)
	csrc mstatus, t0
	csrs mstatus, t1
	fld fa1, 8(a0)
	csrr t2, mstatus
	and t2, t2, t0
	CHECK(t2, MSTATUS_FS_DIRTY)
	csrc mstatus, t0
	csrs mstatus, t1
	fadd.d fa2, fa0, fa1
	csrr t2, mstatus
	and t2, t2, t0
	CHECK(t2, MSTATUS_FS_DIRTY)
	fmv.x.d t2, fa2
	CHECK(t2, 0x4008000000000000) /* 1.0 + 2.0 */

	ld ra, 0(sp)
	ld s0, 8(sp)
	ld s1, 16(sp)
	ld s2, 24(sp)
	addi sp, sp, 32
	ret

	.data
	.balign 8
fdata:
	.dword 0x3ff0000000000000 /* 1.0 */
	.dword 0x4000000000000000 /* 2.0 */
