/* RV64I (unprivileged spec, chapters 2 and 5): integer arithmetic, logic and shifts including
 * the W forms and their sign extension, branches, jal/jalr (jalr clears bit 0 of the target),
 * loads and stores of every width, fence, and fence.i over freshly written code (Zifencei). */
#include "common.h"

DEFINE_TEST("rv64i")

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call arithmetic
	SAY("arithmetic, logic and shifts")
	call word_ops
	SAY("W forms")
	call branches
	call jumps
	SAY("branches and jumps")
	call loads_stores
	SAY("loads and stores")
	call self_modifying
	SAY("fence.i")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

arithmetic:
	/* add/sub wrap modulo 2^64 */
	li s0, 0x7fffffffffffffff
	addi s1, s0, 1
	CHECK(s1, 0x8000000000000000)
	li s2, 0x8000000000000000
	sub s1, s2, s0
	CHECK(s1, 1)
	sub s1, zero, s2
	CHECK(s1, 0x8000000000000000)
	li s0, 0x123456789abcdef0
	li s2, 0x0fedcba987654321
	add s1, s0, s2
	CHECK(s1, 0x2222222222222211)
	sub s1, s0, s2
	CHECK(s1, 0x02468acf13579bcf)
	addi s1, s0, -2048
	CHECK(s1, 0x123456789abcd6f0)
	addi s1, zero, 2047
	CHECK(s1, 2047)

	/* writes to x0 are discarded */
	addi zero, zero, 5
	CHECK(zero, 0)
	li t0, 99
	add zero, t0, t0
	mv s1, zero
	CHECK(s1, 0)

	/* lui and auipc sign-extend their 32-bit result */
	lui s1, 0x80000
	CHECK(s1, 0xffffffff80000000)
	lui s1, 0x7ffff
	CHECK(s1, 0x7ffff000)
	lui s1, 0xfffff
	CHECK(s1, 0xfffffffffffff000)
1:	auipc s1, 0
	la s2, 1b
	CHECK_REG(s1, s2)
2:	auipc s1, 1
	la s2, 2b
	sub s1, s1, s2
	CHECK(s1, 0x1000)
3:	auipc s1, 0xfffff /* -4096 */
	la s2, 3b
	sub s1, s2, s1
	CHECK(s1, 0x1000)

	/* set-less-than, signed and unsigned */
	li s0, -1
	li s2, 1
	slt s1, s0, s2
	CHECK(s1, 1)
	sltu s1, s0, s2
	CHECK(s1, 0)
	slt s1, s2, s0
	CHECK(s1, 0)
	sltu s1, s2, s0
	CHECK(s1, 1)
	slt s1, s2, s2
	CHECK(s1, 0)
	slti s1, s0, 0
	CHECK(s1, 1)
	slti s1, s2, -1
	CHECK(s1, 0)
	sltiu s1, s2, -1 /* the immediate is sign-extended, then compared unsigned */
	CHECK(s1, 1)
	sltiu s1, s0, -1
	CHECK(s1, 0)
	sltiu s1, zero, 1 /* seqz */
	CHECK(s1, 1)
	sltu s1, zero, s0 /* snez */
	CHECK(s1, 1)

	/* logic */
	li s0, 0xff00ff00ff00ff00
	li s2, 0x0ff00ff00ff00ff0
	and s1, s0, s2
	CHECK(s1, 0x0f000f000f000f00)
	or s1, s0, s2
	CHECK(s1, 0xfff0fff0fff0fff0)
	xor s1, s0, s2
	CHECK(s1, 0xf0f0f0f0f0f0f0f0)
	andi s1, s0, -256 /* 0x...f00 */
	CHECK(s1, 0xff00ff00ff00ff00)
	andi s1, s0, 0x7ff
	CHECK(s1, 0x700)
	ori s1, s2, -2048
	CHECK(s1, 0xfffffffffffffff0)
	xori s1, s0, -1 /* not */
	CHECK(s1, 0x00ff00ff00ff00ff)
	xori s1, s2, 0x0ff
	CHECK(s1, 0x0ff00ff00ff00f0f)

	/* shifts: amounts come from the low 6 bits of rs2 */
	li s0, 0x8000000000000001
	slli s1, s0, 1
	CHECK(s1, 2)
	slli s1, s0, 63
	CHECK(s1, 0x8000000000000000)
	srli s1, s0, 63
	CHECK(s1, 1)
	srai s1, s0, 63
	CHECK(s1, -1)
	srai s1, s0, 4
	CHECK(s1, 0xf800000000000000)
	srli s1, s0, 4
	CHECK(s1, 0x0800000000000000)
	li s2, 65 /* shifts by 1 */
	sll s1, s0, s2
	CHECK(s1, 2)
	srl s1, s0, s2
	CHECK(s1, 0x4000000000000000)
	sra s1, s0, s2
	CHECK(s1, 0xc000000000000000)
	li s2, -1 /* shifts by 63 */
	sra s1, s0, s2
	CHECK(s1, -1)
	srl s1, s0, s2
	CHECK(s1, 1)
	li s2, 64 /* shifts by 0 */
	sll s1, s0, s2
	CHECK(s1, 0x8000000000000001)
	ret

word_ops:
	/* W forms operate on the low 32 bits and sign-extend the 32-bit result */
	li s0, 0x7fffffff
	addiw s1, s0, 1
	CHECK(s1, 0xffffffff80000000)
	li s0, 0x123456789
	addiw s1, s0, 0 /* sext.w */
	CHECK(s1, 0x23456789)
	li s0, 0xfedcba9880000000
	addiw s1, s0, -1
	CHECK(s1, 0x7fffffff)
	li s0, 0xffffffff
	addiw s1, s0, 1
	CHECK(s1, 0)
	li s0, 0x100000005
	li s2, 0x200000003
	addw s1, s0, s2
	CHECK(s1, 8)
	subw s1, s0, s2
	CHECK(s1, 2)
	subw s1, s2, s0
	CHECK(s1, -2)
	li s0, 0x80000000
	li s2, 1
	subw s1, s0, s2
	CHECK(s1, 0x7fffffff)
	addw s1, s0, zero
	CHECK(s1, 0xffffffff80000000)

	li s0, 0xaaaaaaaa00000001
	slliw s1, s0, 31
	CHECK(s1, 0xffffffff80000000)
	slliw s1, s0, 30
	CHECK(s1, 0x40000000)
	li s0, 0x1234567880000000
	srliw s1, s0, 0
	CHECK(s1, 0xffffffff80000000)
	srliw s1, s0, 1
	CHECK(s1, 0x40000000)
	srliw s1, s0, 31
	CHECK(s1, 1)
	sraiw s1, s0, 1
	CHECK(s1, 0xffffffffc0000000)
	sraiw s1, s0, 31
	CHECK(s1, -1)
	li s0, 0x0000000170000000
	sraiw s1, s0, 4
	CHECK(s1, 0x07000000)
	/* register W shifts use the low 5 bits of rs2 */
	li s0, 0x1234567880000000
	li s2, 33 /* shifts by 1 */
	sllw s1, s0, s2
	CHECK(s1, 0)
	srlw s1, s0, s2
	CHECK(s1, 0x40000000)
	sraw s1, s0, s2
	CHECK(s1, 0xffffffffc0000000)
	li s2, 0x20 /* shifts by 0 */
	sraw s1, s0, s2
	CHECK(s1, 0xffffffff80000000)
	li s0, 3
	li s2, 31
	sllw s1, s0, s2
	CHECK(s1, 0xffffffff80000000)
	ret

/* Each branch is tried taken and not taken; s1 counts the correct outcomes. */
branches:
	li s0, -1
	li s2, 1
	li s1, 0
	beq s2, s2, 1f
	FAIL_HERE()
1:	beq s0, s2, 2f
	addi s1, s1, 1
2:	bne s0, s2, 3f
	FAIL_HERE()
3:	bne s2, s2, 4f
	addi s1, s1, 1
4:	blt s0, s2, 5f /* -1 < 1 signed */
	FAIL_HERE()
5:	blt s2, s0, 6f
	addi s1, s1, 1
6:	blt s2, s2, 7f
	addi s1, s1, 1
7:	bge s2, s0, 8f
	FAIL_HERE()
8:	bge s2, s2, 9f
	FAIL_HERE()
9:	bge s0, s2, 10f
	addi s1, s1, 1
10:	bltu s2, s0, 11f /* 1 < 2^64-1 unsigned */
	FAIL_HERE()
11:	bltu s0, s2, 12f
	addi s1, s1, 1
12:	bgeu s0, s2, 13f
	FAIL_HERE()
13:	bgeu s2, s0, 14f
	addi s1, s1, 1
14:	bgeu zero, zero, 15f
	FAIL_HERE()
15:	CHECK(s1, 7)
	/* a backward branch loop */
	li s1, 0
	li s2, 10
16:	addi s1, s1, 3
	addi s2, s2, -1
	bnez s2, 16b
	CHECK(s1, 30)
	ret

jumps:
	mv s3, ra
	/* jal links the address of the next instruction */
	jal s1, 1f
2:	FAIL_HERE()
1:	la s2, 2b
	CHECK_REG(s1, s2)
	/* jalr adds the offset and clears bit 0 of the target */
	la s0, jalr_target
	addi s0, s0, 1
	li s4, 0
	jalr ra, 0(s0)
3:	CHECK(s4, 1)
	la s2, 3b
	CHECK_REG(s5, s2)
	la s0, jalr_target - 7
	li s4, 0
	jalr ra, 8(s0) /* target + 1: bit 0 cleared */
	CHECK(s4, 1)
	la s0, jalr_target + 16
	jalr ra, -16(s0)
	CHECK(s4, 2)
	/* rd == rs1: the target uses the old value */
	la t0, jalr_target_t0
	jalr t0, 0(t0)
4:	CHECK(s4, 3)
	la s2, 4b
	CHECK_REG(t0, s2)
	/* jal x0 / jalr x0 do not link */
	li s1, 0
	j 5f
	li s1, 1
5:	CHECK(s1, 0)
	la t0, 6f
	jr t0
	li s1, 2
6:	CHECK(s1, 0)
	mv ra, s3
	ret

/* Counts its calls in s4 and saves its return address in s5. */
jalr_target:
	addi s4, s4, 1
	mv s5, ra
	ret

/* The same, returning through t0. */
jalr_target_t0:
	addi s4, s4, 1
	jr t0

loads_stores:
	la s0, data
	/* data holds 0x8091a2b3c4d5e6f7 followed by 0x0102030405060708 (little-endian) */
	lb s1, 0(s0)
	CHECK(s1, 0xfffffffffffffff7)
	lbu s1, 0(s0)
	CHECK(s1, 0xf7)
	lb s1, 8(s0)
	CHECK(s1, 0x08)
	lh s1, 0(s0)
	CHECK(s1, 0xffffffffffffe6f7)
	lhu s1, 0(s0)
	CHECK(s1, 0xe6f7)
	lh s1, 6(s0)
	CHECK(s1, 0xffffffffffff8091)
	lhu s1, 6(s0)
	CHECK(s1, 0x8091)
	lh s1, 8(s0)
	CHECK(s1, 0x0708)
	lw s1, 0(s0)
	CHECK(s1, 0xffffffffc4d5e6f7)
	lwu s1, 0(s0)
	CHECK(s1, 0xc4d5e6f7)
	lw s1, 4(s0)
	CHECK(s1, 0xffffffff8091a2b3)
	lwu s1, 4(s0)
	CHECK(s1, 0x8091a2b3)
	lw s1, 12(s0)
	CHECK(s1, 0x01020304)
	ld s1, 0(s0)
	CHECK(s1, 0x8091a2b3c4d5e6f7)
	ld s1, 8(s0)
	CHECK(s1, 0x0102030405060708)
	addi s2, s0, 16
	ld s1, -8(s2) /* negative offset */
	CHECK(s1, 0x0102030405060708)
	lbu s1, -1(s2)
	CHECK(s1, 0x01)

	/* stores write exactly their width */
	la s0, scratch
	li s1, -1
	sd s1, 0(s0)
	sd s1, 8(s0)
	sb zero, 1(s0)
	ld s2, 0(s0)
	CHECK(s2, 0xffffffffffff00ff)
	li s1, 0x1234
	sh s1, 2(s0)
	ld s2, 0(s0)
	CHECK(s2, 0xffffffff123400ff)
	li s1, 0xaabbccdd11223344 /* only the low bits are stored */
	sw s1, 4(s0)
	ld s2, 0(s0)
	CHECK(s2, 0x11223344123400ff)
	sb s1, 15(s0)
	ld s2, 8(s0)
	CHECK(s2, 0x44ffffffffffffff)
	sh s1, 8(s0)
	ld s2, 8(s0)
	CHECK(s2, 0x44ffffffffff3344)
	sd s1, 8(s0)
	ld s2, 8(s0)
	CHECK(s2, 0xaabbccdd11223344)
	addi s3, s0, 16
	sw zero, -4(s3)
	ld s2, 8(s0)
	CHECK(s2, 0x0000000011223344)
	/* a load into x0 still happens but writes nothing */
	lw zero, 0(s0)
	mv s2, zero
	CHECK(s2, 0)
	fence
	fence rw, rw
	fence.tso
	ret

/* Write "addi a0, zero, 42; ret" into a code buffer, fence.i, run it; then rewrite it to
 * return 43 and run it again: the new instruction must be seen. */
self_modifying:
	mv s3, ra
	la s0, code_buf
	li s1, 0x02a00513 /* addi a0, zero, 42 */
	sw s1, 0(s0)
	li s1, 0x00008067 /* jalr zero, 0(ra) */
	sw s1, 4(s0)
	fence.i
	li a0, 0
	jalr ra, 0(s0)
	CHECK(a0, 42)
	li s1, 0x02b00513 /* addi a0, zero, 43 */
	sw s1, 0(s0)
	fence.i
	li a0, 0
	jalr ra, 0(s0)
	CHECK(a0, 43)
	mv ra, s3
	ret

	.data
	.balign 16
data:
	.dword 0x8091a2b3c4d5e6f7
	.dword 0x0102030405060708
scratch:
	.dword 0, 0
	.balign 4
code_buf:
	.word 0, 0
