/* Self-modifying code (unprivileged spec, "Zifencei"; privileged spec 4.2.1 and 4.3): after a
 * store to instruction memory and a fence.i, the hart fetches the new instruction. Checked with
 * an addi whose immediate is rewritten in the middle of the running loop's own code, an add
 * swapped for a sub in place, a code buffer rewritten among compressed and 32-bit forms (so
 * instruction boundaries move, and a 32-bit instruction sits at a 2-byte-aligned address), code
 * written by each kind of store (byte, halfword, doubleword, AMO, store-conditional, FP), code
 * written into memory never executed before, and under Sv39: one physical page mapped at two
 * virtual addresses, written through one and run through both, a virtual page remapped to
 * another physical page (PTE change and sfence.vma) whose different code must run, and satp
 * switched between two page tables that map one virtual page to different code, and M-mode
 * code rewritten by stores that MPRV translates through a virtual alias. Every result
 * is checked against a value computed apart from the rewritten code; the sums are printed. */
#include "common.h"

DEFINE_TEST("smc")

/* Instruction encodings (unprivileged spec, "RV32/64G Instruction Set Listings" and "RVC
 * Instruction Set Listings"). Register numbers: ra 1, s1 9, a0 10, a1 11, s2 18. */
#define ADDI(rd, rs1, imm) ((((imm) & 0xfff) << 20) | ((rs1) << 15) | ((rd) << 7) | 0x13)
#define ADD(rd, rs1, rs2) (((rs2) << 20) | ((rs1) << 15) | ((rd) << 7) | 0x33)
#define SUB_BIT 0x40000000 /* funct7 bit 5: add -> sub */
#define RET 0x00008067	   /* jalr zero, 0(ra) */
#define C_ADDI(rd, imm) (0x0001 | ((((imm) >> 5) & 1) << 12) | ((rd) << 7) | (((imm) & 0x1f) << 2))
#define C_NOP 0x0001
#define C_RET 0x8082	     /* c.jr ra */
#define C_ADD_A0_A1 0x952e   /* c.add a0, a1 */
#define C_SUB_A0_A1 0x8d0d   /* c.sub a0, a1 */

#define INLINE_ROUNDS 4096
#define BUF_ROUNDS 4000
#define FRESH_INSNS 300
#define ALIAS_ROUNDS 256
#define REMAP_ROUNDS 256

/* Sv39 layout: root[0] a gigapage over MMIO (RW), root[2] the RAM at its own address (RWX),
 * root[1] -> l1 -> l0 for these 4 KiB pages: */
#define VA_ALIAS_RW 0x40000000 /* alias_page, RWX */
#define VA_ALIAS_RX 0x40001000 /* alias_page again, RX */
#define VA_REMAP 0x40002000    /* remap_a or remap_b, RX */
#define REMAP_A_VALUE 0x5a1
#define REMAP_B_VALUE 0x6b2

#define LEAF (PTE_V | PTE_A | PTE_D)

/* t0 = PTE for the physical address in register pa with flags (clobbers t0). */
#define MAKE_PTE(pa, flags)                                                                        \
	srli t0, pa, 12;                                                                           \
	slli t0, t0, PTE_PPN_SHIFT;                                                                \
	ori t0, t0, flags

/* Print "smc: text" then register r in hex and a newline (r must not be a0-a3 or ra). */
#define SAY_HEX(text, r)                                                                           \
	la a0, test_name;                                                                          \
	call uart_puts;                                                                            \
	PUTS(": " text);                                                                           \
	PUTHEX(r);                                                                                 \
	PUTS("\n")

/* reg = sign-extended low 12 bits of reg (clobbers nothing else). */
#define SEXT12(reg)                                                                                \
	slli reg, reg, 52;                                                                         \
	srai reg, reg, 52

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call inline_addi
	SAY_HEX("addi immediate patched in the running loop 4096 times, sum ", s1)
	call inline_addsub
	SAY_HEX("add and sub swapped in place 4096 times, sum ", s1)
	call buffer_forms
	SAY_HEX("compressed and 32-bit code rewritten 4000 times, sum ", s1)
	call store_kinds
	SAY_HEX("code written by each kind of store 600 times, sum ", s1)
	call fresh_code
	SAY_HEX("300 instructions written into fresh memory, result ", s1)
	call sv39
	SAY("sv39: one page at two addresses, 256 rewrites through one, each seen through both")
	SAY("sv39: a page remapped 256 times between two physical pages, each time the new code")
	SAY("sv39: satp switched 256 times between two page tables, each time the other code")
	SAY("sv39: M-mode code rewritten by stores translated with MPRV, 64 times")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* The immediate of the addi at site_addi, which this loop runs after patching it, becomes
 * imm(i) = sext12(i * 1103) each round; s1 accumulates through the patched instruction, s3
 * through the same arithmetic done here. */
inline_addi:
	li s0, 0
	li s1, 0
	li s3, 0
	la s4, site_addi
	li s5, ADDI(9, 9, 0) /* addi s1, s1, 0 */
1:	li t0, 1103
	mul t1, s0, t0
	slli t2, t1, 52
	srli t2, t2, 32 /* imm[11:0] << 20 */
	or t2, t2, s5
	sw t2, 0(s4)
	fence.i
	.balign 4
site_addi:
	addi s1, s1, 0
	SEXT12(t1)
	add s3, s3, t1
	CHECK_REG(s1, s3)
	addi s0, s0, 1
	li t0, INLINE_ROUNDS
	bltu s0, t0, 1b
	ret

/* The instruction at site_addsub is add s1, s1, s2 in even rounds and sub in odd ones, with
 * s2 = i * 40503 + 1. */
inline_addsub:
	li s0, 0
	li s1, 0x1234
	li s3, 0x1234
	la s4, site_addsub
	li s5, ADD(9, 9, 18) /* add s1, s1, s2 */
1:	li t0, 40503
	mul s2, s0, t0
	addi s2, s2, 1
	andi t1, s0, 1
	slli t1, t1, 30 /* SUB_BIT in odd rounds */
	or t1, t1, s5
	sw t1, 0(s4)
	fence.i
	.balign 4
site_addsub:
	add s1, s1, s2
	andi t1, s0, 1
	bnez t1, 2f
	add s3, s3, s2
	j 3f
2:	sub s3, s3, s2
3:	CHECK_REG(s1, s3)
	addi s0, s0, 1
	li t0, INLINE_ROUNDS
	bltu s0, t0, 1b
	ret

/* code_buf holds one of four functions of a0 (the sum) and a1 (the round), rewritten each
 * round with halfword and word stores, so the same addresses hold a compressed instruction in
 * one round and half of a 32-bit one in the next:
 *   round % 4 = 0: c.addi a0, k (k = nonzero sext6 of the round)   c.jr ra
 *   round % 4 = 1: c.add a0, a1 / c.sub a0, a1 (alternately)        c.jr ra
 *   round % 4 = 2: addi a0, a0, imm12                               c.jr ra
 *   round % 4 = 3: c.nop, then addi a0, a0, imm12 at code_buf + 2   c.jr ra */
buffer_forms:
	addi sp, sp, -16
	sd ra, 8(sp)
	li s0, 0
	li s1, 0
	li s3, 0
	la s4, code_buf
1:	andi t0, s0, 3
	li t1, 1
	beq t0, t1, 11f
	li t1, 2
	beq t0, t1, 12f
	li t1, 3
	beq t0, t1, 13f
	/* c.addi a0, k: k = sext6(round | 1), never 0 */
	ori t1, s0, 1
	andi t1, t1, 0x3f
	andi t2, t1, 0x20
	slli t2, t2, 7 /* imm[5] -> bit 12 */
	andi t3, t1, 0x1f
	slli t3, t3, 2 /* imm[4:0] -> bits 6:2 */
	or t2, t2, t3
	li t3, C_ADDI(10, 0)
	or t2, t2, t3
	sh t2, 0(s4)
	li t3, C_RET
	sh t3, 2(s4)
	slli t1, t1, 58
	srai t1, t1, 58
	add s3, s3, t1
	j 20f
11:	/* c.add or c.sub a0, a1 with a1 = round */
	andi t1, s0, 4
	li t2, C_ADD_A0_A1
	beqz t1, 2f
	li t2, C_SUB_A0_A1
2:	sh t2, 0(s4)
	li t3, C_RET
	sh t3, 2(s4)
	beqz t1, 3f
	sub s3, s3, s0
	j 20f
3:	add s3, s3, s0
	j 20f
12:	/* addi a0, a0, imm: imm = sext12(round * 2654435761 >> 7) */
	li t1, 2654435761
	mul t1, t1, s0
	srli t1, t1, 7
	slli t2, t1, 52
	srli t2, t2, 32
	li t3, ADDI(10, 10, 0)
	or t2, t2, t3
	sw t2, 0(s4)
	li t3, C_RET
	sh t3, 4(s4)
	SEXT12(t1)
	add s3, s3, t1
	j 20f
13:	/* c.nop, then the 32-bit addi at a 2-byte-aligned address, written in halves */
	li t1, 40503
	mul t1, t1, s0
	srli t1, t1, 3
	slli t2, t1, 52
	srli t2, t2, 32
	li t3, ADDI(10, 10, 0)
	or t2, t2, t3
	li t3, C_NOP
	sh t3, 0(s4)
	sh t2, 2(s4)
	srli t2, t2, 16
	sh t2, 4(s4)
	li t3, C_RET
	sh t3, 6(s4)
	SEXT12(t1)
	add s3, s3, t1
20:	fence.i
	mv a0, s1
	mv a1, s0
	jalr ra, 0(s4)
	mv s1, a0
	CHECK_REG(s1, s3)
	addi s0, s0, 1
	li t0, BUF_ROUNDS
	bltu s0, t0, 1b
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Round i writes "addi a0, zero, v; ret" (v = sext12(i * 2897 + 11)) into code_buf2 (8-byte
 * aligned) with one kind of store, in turn: four sb, two sh, one sd of both instructions,
 * amoswap.w, lr.w/sc.w (retried until it succeeds), fsd of both instructions. Then fence.i and
 * a call. A machine may track which stores wrote code; none may be missed. */
#define STORE_KINDS 6
store_kinds:
	addi sp, sp, -16
	sd ra, 8(sp)
	li t0, MSTATUS_FS_INITIAL
	csrs mstatus, t0
	li s0, 0
	li s1, 0
	li s3, 0
	la s4, code_buf2
	li t0, RET
	sw t0, 4(s4)
1:	li t0, 2897
	mul t1, s0, t0
	addi t1, t1, 11
	slli t2, t1, 52
	srli t2, t2, 32
	li t0, ADDI(10, 0, 0)
	or t2, t2, t0 /* the addi */
	SEXT12(t1)
	add s3, s3, t1
	li t0, STORE_KINDS
	remu t0, s0, t0
	slli t0, t0, 2
	la t3, 2f
	add t0, t0, t3
	jr t0
2:	j 10f
	j 11f
	j 12f
	j 13f
	j 14f
	j 15f
10:	sb t2, 0(s4)
	srli t3, t2, 8
	sb t3, 1(s4)
	srli t3, t2, 16
	sb t3, 2(s4)
	srli t3, t2, 24
	sb t3, 3(s4)
	j 20f
11:	sh t2, 0(s4)
	srli t3, t2, 16
	sh t3, 2(s4)
	j 20f
12:	li t3, RET
	slli t3, t3, 32
	or t3, t3, t2
	sd t3, 0(s4)
	j 20f
13:	amoswap.w t3, t2, (s4)
	j 20f
14:	lr.w t3, (s4)
	sc.w t3, t2, (s4)
	bnez t3, 14b
	j 20f
15:	li t3, RET
	slli t3, t3, 32
	or t3, t3, t2
	fmv.d.x ft0, t3
	fsd ft0, 0(s4)
20:	fence.i
	li a0, 0
	jalr ra, 0(s4)
	add s1, s1, a0
	CHECK_REG(s1, s3)
	addi s0, s0, 1
	li t0, 100 * STORE_KINDS
	bltu s0, t0, 1b
	li t0, MSTATUS_FS
	csrc mstatus, t0
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* FRESH_INSNS instructions addi a0, a0, n (n = 1, 2, ...) and a ret, written into memory
 * never run before, then called once: a0 = n(n+1)/2. */
fresh_code:
	addi sp, sp, -16
	sd ra, 8(sp)
	la s4, fresh_buf
	mv t1, s4
	li t2, 1
1:	slli t3, t2, 20
	li t0, ADDI(10, 10, 0)
	or t3, t3, t0
	sw t3, 0(t1)
	addi t1, t1, 4
	addi t2, t2, 1
	li t0, FRESH_INSNS
	ble t2, t0, 1b
	li t0, RET
	sw t0, 0(t1)
	fence.i
	li a0, 0
	jalr ra, 0(s4)
	CHECK(a0, FRESH_INSNS * (FRESH_INSNS + 1) / 2)
	mv s1, a0
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* ---- Sv39 ---- */
sv39:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* root[0]: MMIO; root[1] -> l1 -> l0; root[2]: the RAM at its own address */
	li t1, 0
	MAKE_PTE(t1, LEAF | PTE_R | PTE_W)
	la t2, root
	sd t0, 0(t2)
	la t1, l1
	MAKE_PTE(t1, PTE_V)
	sd t0, 8(t2)
	li t1, RAM_BASE
	MAKE_PTE(t1, LEAF | PTE_R | PTE_W | PTE_X)
	sd t0, 16(t2)
	la t1, l0
	MAKE_PTE(t1, PTE_V)
	la t2, l1
	sd t0, 0(t2)
	la t2, l0
	la t1, alias_page
	MAKE_PTE(t1, LEAF | PTE_R | PTE_W | PTE_X)
	sd t0, 0(t2)
	MAKE_PTE(t1, LEAF | PTE_R | PTE_X)
	sd t0, 8(t2)
	la t1, remap_a
	MAKE_PTE(t1, LEAF | PTE_R | PTE_X)
	sd t0, 16(t2)
	/* root2: the same, but VA_REMAP maps remap_b (through l1b and l0b) */
	la t2, root
	la t3, root2
	ld t0, 0(t2)
	sd t0, 0(t3)
	ld t0, 16(t2)
	sd t0, 16(t3)
	la t1, l1b
	MAKE_PTE(t1, PTE_V)
	sd t0, 8(t3)
	la t1, l0b
	MAKE_PTE(t1, PTE_V)
	la t2, l1b
	sd t0, 0(t2)
	la t1, remap_b
	MAKE_PTE(t1, LEAF | PTE_R | PTE_X)
	la t2, l0b
	sd t0, 16(t2)
	/* remap_a returns REMAP_A_VALUE, remap_b REMAP_B_VALUE */
	la t1, remap_a
	li t0, ADDI(10, 0, REMAP_A_VALUE)
	sw t0, 0(t1)
	li t0, RET
	sw t0, 4(t1)
	la t1, remap_b
	li t0, ADDI(10, 0, REMAP_B_VALUE)
	sw t0, 0(t1)
	li t0, RET
	sw t0, 4(t1)
	fence.i
	la t0, root
	srli t0, t0, 12
	li t1, SATP_MODE_SV39 << SATP_MODE_SHIFT
	or t0, t0, t1
	csrw satp, t0
	sfence.vma
	EXPECT_TRAP_M(2f)
	MRET_TO(PRV_S, s_sv39)
2:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	/* M-mode runs alias_page + 0x100 (physical), then rewrites it with a store translated
	 * through VA_ALIAS_RW (mstatus.MPRV with MPP = S), fence.i, and runs it again */
	li s0, 0
	la s5, alias_page + 0x100
	li s6, VA_ALIAS_RW + 0x100
	li t0, RET
	sw t0, 4(s5)
3:	li t0, 1237
	mul t1, s0, t0
	slli t2, t1, 52
	srli t2, t2, 32
	li t0, ADDI(10, 0, 0)
	or t2, t2, t0
	SEXT12(t1)
	mv s3, t1
	andi t0, s0, 1
	bnez t0, 4f
	sw t2, 0(s5) /* even rounds: a plain M-mode store */
	j 5f
4:	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, MSTATUS_MPP_S | MSTATUS_MPRV
	csrs mstatus, t0
	sw t2, 0(s6) /* odd rounds: translated as S would */
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
5:	fence.i
	li a0, 0
	jalr ra, 0(s5)
	CHECK_REG(a0, s3)
	addi s0, s0, 1
	li t0, 64
	bltu s0, t0, 3b
	csrw satp, zero
	sfence.vma
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* S-mode. Round i writes "addi a0, zero, v; ret" (v = sext12(i * 77 + 5)) through
 * VA_ALIAS_RW at offset (i % 8) * 8, fence.i, then calls it through VA_ALIAS_RX and
 * VA_ALIAS_RW; each call returns v. */
s_sv39:
	li s0, 0
	li s4, VA_ALIAS_RW
	li s5, VA_ALIAS_RX
1:	li t0, 77
	mul t1, s0, t0
	addi t1, t1, 5
	slli t2, t1, 52
	srli t2, t2, 32
	li t0, ADDI(10, 0, 0)
	or t2, t2, t0
	andi t3, s0, 7
	slli t3, t3, 3
	add t4, s4, t3
	sw t2, 0(t4)
	li t0, RET
	sw t0, 4(t4)
	fence.i
	SEXT12(t1)
	mv s3, t1
	add t4, s5, t3
	li a0, 0
	jalr ra, 0(t4)
	CHECK_REG(a0, s3)
	add t4, s4, t3
	li a0, 0
	jalr ra, 0(t4)
	CHECK_REG(a0, s3)
	addi s0, s0, 1
	li t0, ALIAS_ROUNDS
	bltu s0, t0, 1b

	/* Round i maps VA_REMAP to remap_b in odd rounds and remap_a in even ones (PTE store,
	 * then sfence.vma: of that address in some rounds, of everything in others; no fence.i,
	 * neither page is written) and calls it. */
	li s0, 0
	li s4, VA_REMAP
	la s5, l0
1:	andi t1, s0, 1
	la t2, remap_a
	li s3, REMAP_A_VALUE
	beqz t1, 2f
	la t2, remap_b
	li s3, REMAP_B_VALUE
2:	MAKE_PTE(t2, LEAF | PTE_R | PTE_X)
	sd t0, 16(s5)
	andi t1, s0, 2
	beqz t1, 3f
	sfence.vma s4, zero
	j 4f
3:	sfence.vma zero, zero
4:	li a0, 0
	jalr ra, 0(s4)
	CHECK_REG(a0, s3)
	addi s0, s0, 1
	li t0, REMAP_ROUNDS
	bltu s0, t0, 1b

	/* Two page tables that differ only in VA_REMAP (remap_a in root, remap_b in root2):
	 * round i switches satp to one or the other (sfence.vma after) and calls VA_REMAP. */
	la t1, remap_a
	MAKE_PTE(t1, LEAF | PTE_R | PTE_X)
	sd t0, 16(s5)
	li s0, 0
	la s6, root
	srli s6, s6, 12
	li t0, SATP_MODE_SV39 << SATP_MODE_SHIFT
	or s6, s6, t0
	la s7, root2
	srli s7, s7, 12
	or s7, s7, t0
1:	andi t1, s0, 1
	mv t2, s6
	li s3, REMAP_A_VALUE
	beqz t1, 2f
	mv t2, s7
	li s3, REMAP_B_VALUE
2:	csrw satp, t2
	sfence.vma
	li a0, 0
	jalr ra, 0(s4)
	CHECK_REG(a0, s3)
	addi s0, s0, 1
	li t0, REMAP_ROUNDS
	bltu s0, t0, 1b
	csrw satp, s6
	sfence.vma
	li a7, 0 /* a plain ecall back to M-mode */
	ecall

	.data
	.balign 4
code_buf:
	.zero 16
	.balign 8
code_buf2:
	.zero 16

	.bss
	.balign 4096
fresh_buf:
	.zero 4096
root:
	.zero 4096
l1:
	.zero 4096
l0:
	.zero 4096
alias_page:
	.zero 4096
remap_a:
	.zero 4096
remap_b:
	.zero 4096
root2:
	.zero 4096
l1b:
	.zero 4096
l0b:
	.zero 4096
