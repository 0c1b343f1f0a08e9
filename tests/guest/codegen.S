/* A guest that keeps generating code, as a JIT or a module loader does: 20000 rounds, each
 * writing a new function (32 pseudo-random addi, xori or c.addi pairs on a0, then ret) into the
 * next of 512 slots of a 128 KiB arena, so every slot is rewritten about 40 times with
 * different code and its page's other slots keep their own. After a fence.i (unprivileged
 * spec, "Zifencei") each new function is called on the running checksum and must return what
 * the generator computed while writing it; the previous round's function, in the same page or
 * the one before, is called again on its own input and must still return its own result. The
 * final checksum is printed. */
#include "common.h"

DEFINE_TEST("codegen")

#define ROUNDS 20000
#define SLOTS 512
#define SLOT_SIZE 256
#define OPS 32 /* 4-byte units per function, before the ret */

/* Encodings (unprivileged spec listings); a0 = x10. The 12-bit immediate goes in bits 31:20. */
#define ADDI_A0_A0 0x00050513
#define XORI_A0_A0 0x00054513
#define C_ADDI_A0 0x0501 /* c.addi a0, imm: imm[5] in bit 12, imm[4:0] in bits 6:2 */
#define RET 0x00008067

/* xorshift64 step on register r (clobbers t6) */
#define XORSHIFT(r)                                                                                \
	slli t6, r, 13;                                                                            \
	xor r, r, t6;                                                                              \
	srli t6, r, 7;                                                                             \
	xor r, r, t6;                                                                              \
	slli t6, r, 17;                                                                            \
	xor r, r, t6

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	li s0, 0		   /* round */
	li s1, 0x243f6a8885a308d3 /* checksum: each function's input and output */
	li s11, 0x13198a2e03707344 /* PRNG state */
	li s8, 0		   /* previous function, 0 in round 0 */
1:	/* s2 = this round's slot; s5 = what the function will return on input s1 */
	li t0, SLOTS - 1
	and t0, t0, s0
	slli t0, t0, 8 /* * SLOT_SIZE */
	la s2, arena
	add s2, s2, t0
	mv s5, s1
	mv s3, s2
	li s4, OPS
2:	XORSHIFT(s11)
	srli t1, s11, 20 /* the immediate(s) */
	andi t0, s11, 3
	li t2, 2
	beq t0, t2, 4f
	li t2, 3
	beq t0, t2, 5f
	/* 0, 1: addi a0, a0, imm */
	slli t2, t1, 52
	srli t2, t2, 32
	li t3, ADDI_A0_A0
	or t2, t2, t3
	sw t2, 0(s3)
	slli t1, t1, 52
	srai t1, t1, 52
	add s5, s5, t1
	j 6f
4:	/* 2: xori a0, a0, imm */
	slli t2, t1, 52
	srli t2, t2, 32
	li t3, XORI_A0_A0
	or t2, t2, t3
	sw t2, 0(s3)
	slli t1, t1, 52
	srai t1, t1, 52
	xor s5, s5, t1
	j 6f
5:	/* 3: two c.addi a0, k with k = sext6 of 6 random bits, forced nonzero */
	li s6, 2
	mv s7, s3
51:	ori t2, t1, 1
	andi t2, t2, 0x3f
	andi t3, t2, 0x20
	slli t3, t3, 7
	andi t4, t2, 0x1f
	slli t4, t4, 2
	or t3, t3, t4
	ori t3, t3, C_ADDI_A0
	sh t3, 0(s7)
	slli t2, t2, 58
	srai t2, t2, 58
	add s5, s5, t2
	srli t1, t1, 6
	addi s7, s7, 2
	addi s6, s6, -1
	bnez s6, 51b
6:	addi s3, s3, 4
	addi s4, s4, -1
	bnez s4, 2b
	li t0, RET
	sw t0, 0(s3)
	fence.i
	/* the new function */
	mv a0, s1
	jalr ra, 0(s2)
	CHECK_REG(a0, s5)
	/* the previous one again, on its own input */
	beqz s8, 7f
	mv a0, s9
	jalr ra, 0(s8)
	CHECK_REG(a0, s10)
7:	mv s8, s2
	mv s9, s1
	mv s10, s5
	mv s1, s5
	addi s0, s0, 1
	li t0, ROUNDS
	bltu s0, t0, 1b

	la a0, test_name
	call uart_puts
	PUTS(": 20000 generated functions of 32 instructions or pairs in 512 slots, checksum ")
	PUTHEX(s1)
	PUTS("\n")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

	.bss
	.balign 4096
arena:
	.zero SLOTS * SLOT_SIZE
