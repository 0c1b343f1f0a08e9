/* M extension (unprivileged spec chapter 7): mul/mulh/mulhsu/mulhu, div/divu/rem/remu with
 * the division-by-zero and signed-overflow results of table 7.1, and the W forms. */
#include "common.h"

DEFINE_TEST("rv64m")

#define MIN64 0x8000000000000000

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call multiply
	SAY("multiplication")
	call divide
	SAY("division")
	call word_forms
	SAY("W forms")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

multiply:
	li s0, 0x7fffffffffffffff
	li s2, 2
	mul s1, s0, s2
	CHECK(s1, 0xfffffffffffffffe)
	mulh s1, s0, s2
	CHECK(s1, 0)
	li s0, 0x123456789abcdef
	li s2, 0xfedcba987654321
	mul s1, s0, s2
	CHECK(s1, 0x22236d88fe5618cf)
	mulhu s1, s0, s2
	CHECK(s1, 0x121fa00ad77d74)
	li s0, -1
	mul s1, s0, s0
	CHECK(s1, 1)
	mulh s1, s0, s0 /* (-1) * (-1) = 1: high half 0 */
	CHECK(s1, 0)
	mulhu s1, s0, s0 /* (2^64-1)^2 = 2^128 - 2^65 + 1 */
	CHECK(s1, 0xfffffffffffffffe)
	mulhsu s1, s0, s0 /* (-1) * (2^64-1) = -(2^64-1): high half all ones */
	CHECK(s1, -1)
	li s2, 5
	mulhsu s1, s2, s0 /* 5 * (2^64-1): high half 4 */
	CHECK(s1, 4)
	mulhsu s1, s0, s2 /* -5: high half all ones */
	CHECK(s1, -1)
	li s0, MIN64
	mulh s1, s0, s0 /* 2^126 */
	CHECK(s1, 0x4000000000000000)
	mulhu s1, s0, s0
	CHECK(s1, 0x4000000000000000)
	mulhsu s1, s0, s0 /* -2^63 * 2^63 = -2^126 */
	CHECK(s1, 0xc000000000000000)
	li s2, 2
	mulhsu s1, s0, s2 /* -2^64 */
	CHECK(s1, -1)
	mul s1, s0, s2
	CHECK(s1, 0)
	li s2, -3
	li s3, 7
	mulh s1, s2, s3 /* -21 */
	CHECK(s1, -1)
	mul s1, s2, s3
	CHECK(s1, -21)
	mul s1, s2, zero
	CHECK(s1, 0)
	/* rd the same as a source */
	li s1, 6
	mul s1, s1, s1
	CHECK(s1, 36)
	ret

divide:
	/* signed division rounds toward zero; the remainder takes the dividend's sign */
	li s0, 20
	li s2, -3
	div s1, s0, s2
	CHECK(s1, -6)
	rem s1, s0, s2
	CHECK(s1, 2)
	li s0, -20
	li s2, 3
	div s1, s0, s2
	CHECK(s1, -6)
	rem s1, s0, s2
	CHECK(s1, -2)
	li s2, -3
	div s1, s0, s2
	CHECK(s1, 6)
	rem s1, s0, s2
	CHECK(s1, -2)
	/* unsigned */
	li s0, -20 /* 2^64 - 20 */
	li s2, 3
	divu s1, s0, s2
	CHECK(s1, 0x555555555555554e)
	remu s1, s0, s2
	CHECK(s1, 2)
	li s0, 0xfedcba9876543210
	li s2, 0x100000000
	divu s1, s0, s2
	CHECK(s1, 0xfedcba98)
	remu s1, s0, s2
	CHECK(s1, 0x76543210)
	/* division by zero: quotient all ones, remainder the dividend */
	li s0, 1234
	div s1, s0, zero
	CHECK(s1, -1)
	divu s1, s0, zero
	CHECK(s1, 0xffffffffffffffff)
	rem s1, s0, zero
	CHECK(s1, 1234)
	remu s1, s0, zero
	CHECK(s1, 1234)
	li s0, -7
	div s1, s0, zero
	CHECK(s1, -1)
	rem s1, s0, zero
	CHECK(s1, -7)
	remu s1, s0, zero
	CHECK(s1, -7)
	/* signed overflow: -2^63 / -1 = -2^63, remainder 0 */
	li s0, MIN64
	li s2, -1
	div s1, s0, s2
	CHECK(s1, MIN64)
	rem s1, s0, s2
	CHECK(s1, 0)
	divu s1, s0, s2
	CHECK(s1, 0)
	remu s1, s0, s2
	CHECK(s1, MIN64)
	ret

word_forms:
	/* mulw: low 32 bits of the product, sign-extended; upper source bits ignored */
	li s0, 0x7fffffff
	li s2, 2
	mulw s1, s0, s2
	CHECK(s1, 0xfffffffffffffffe)
	li s0, 0x100000003
	li s2, 0xffffffff00000004
	mulw s1, s0, s2
	CHECK(s1, 12)
	li s0, 0x10000
	mulw s1, s0, s0 /* 2^32: low word 0 */
	CHECK(s1, 0)
	li s0, 0x8000
	li s2, 0x10000
	mulw s1, s0, s2 /* 2^31 */
	CHECK(s1, 0xffffffff80000000)

	/* divw/remw on the sign-extended low words */
	li s0, 0xaaaaaaaa00000014 /* low word 20 */
	li s2, 0x00000000fffffffd /* low word -3 */
	divw s1, s0, s2
	CHECK(s1, -6)
	remw s1, s0, s2
	CHECK(s1, 2)
	li s0, -20
	li s2, 3
	remw s1, s0, s2
	CHECK(s1, -2)
	/* divuw/remuw on the zero-extended low words, result sign-extended */
	li s0, 0x12345678fffffffe
	li s2, 1
	divuw s1, s0, s2
	CHECK(s1, 0xfffffffffffffffe)
	li s2, 0x100000002
	divuw s1, s0, s2
	CHECK(s1, 0x7fffffff)
	li s0, 0x00000007
	li s2, 2
	divuw s1, s0, s2
	CHECK(s1, 3)
	remuw s1, s0, s2
	CHECK(s1, 1)
	li s0, 0xfffffff9 /* 2^32 - 7 */
	li s2, 0x80000000
	remuw s1, s0, s2
	CHECK(s1, 0x7ffffff9)
	li s2, 0x10
	remuw s1, s0, s2
	CHECK(s1, 9)
	/* by zero */
	li s0, 0x500000009
	divw s1, s0, zero
	CHECK(s1, -1)
	divuw s1, s0, zero
	CHECK(s1, -1)
	remw s1, s0, zero
	CHECK(s1, 9)
	remuw s1, s0, zero
	CHECK(s1, 9)
	li s0, 0x80000000
	remuw s1, s0, zero
	CHECK(s1, 0xffffffff80000000)
	remw s1, s0, zero
	CHECK(s1, 0xffffffff80000000)
	/* overflow: -2^31 / -1 */
	li s2, -1
	divw s1, s0, s2
	CHECK(s1, 0xffffffff80000000)
	remw s1, s0, s2
	CHECK(s1, 0)
	ret
