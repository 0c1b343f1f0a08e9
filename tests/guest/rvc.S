/* C extension (unprivileged spec chapter 16): each RV64C instruction written explicitly as c.*,
 * 32-bit instructions at addresses that are only 2-byte aligned, the link value of c.jalr
 * (pc + 2), c.ebreak, and the all-zero halfword, which is defined to be illegal. Assembled with
 * -march=rv64gc. */
#include "common.h"

DEFINE_TEST("rvc")

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	li t0, MSTATUS_FS_INITIAL
	csrs mstatus, t0
	call integer_ops
	SAY("integer register and immediate forms")
	call memory_ops
	SAY("loads and stores")
	call control_flow
	SAY("jumps and branches")
	call traps
	SAY("c.ebreak and the illegal zero halfword")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

integer_ops:
	c.li a0, 31
	CHECK(a0, 31)
	c.li a0, -32
	CHECK(a0, -32)
	c.addi a0, 5
	CHECK(a0, -27)
	c.addi a0, -1
	CHECK(a0, -28)
	c.lui a1, 1
	CHECK(a1, 0x1000)
	c.lui a1, 0x1f
	CHECK(a1, 0x1f000)
	c.lui a1, 0xfffff /* nzimm -1: sign-extended */
	CHECK(a1, 0xfffffffffffff000)
	c.lui a1, 0xfffe0 /* nzimm -32 */
	CHECK(a1, 0xfffffffffffe0000)
	li a2, 0x7fffffff
	c.addiw a2, 1
	CHECK(a2, 0xffffffff80000000)
	li a2, 0x1234567800000005
	c.addiw a2, 0 /* sext.w */
	CHECK(a2, 5)
	c.mv a3, a1
	CHECK(a3, 0xfffffffffffe0000)
	li a4, 0x100
	c.add a3, a4
	CHECK(a3, 0xfffffffffffe0100)
	c.slli a3, 32
	CHECK(a3, 0xfffe010000000000)
	c.slli a3, 1
	CHECK(a3, 0xfffc020000000000)
	li s0, 0x8000000000000010
	c.srli s0, 4
	CHECK(s0, 0x0800000000000001)
	li s0, 0x8000000000000010
	c.srai s0, 4
	CHECK(s0, 0xf800000000000001)
	c.srai s0, 63
	CHECK(s0, -1)
	li s1, 0xff
	c.andi s1, -16
	CHECK(s1, 0xf0)
	c.andi s1, 0x1f
	CHECK(s1, 0x10)
	li s0, 0x0ff0
	li s1, 0x00ff
	mv a5, s0
	c.and a5, s1
	CHECK(a5, 0x00f0)
	mv a5, s0
	c.or a5, s1
	CHECK(a5, 0x0fff)
	mv a5, s0
	c.xor a5, s1
	CHECK(a5, 0x0f0f)
	mv a5, s1
	c.sub a5, s0
	CHECK(a5, -0xef1)
	li a4, 0x7fffffff
	li a5, 1
	c.addw a4, a5
	CHECK(a4, 0xffffffff80000000)
	li a4, 0x100000000
	c.subw a4, a5
	CHECK(a4, -1)
	/* stack pointer forms */
	mv s0, sp
	c.addi16sp sp, -64
	sub t0, s0, sp
	CHECK(t0, 64)
	c.addi4spn a0, sp, 16
	sub t0, a0, sp
	CHECK(t0, 16)
	c.addi4spn a0, sp, 1020
	sub t0, a0, sp
	CHECK(t0, 1020)
	c.addi16sp sp, 64
	CHECK_REG(sp, s0)
	c.nop
	ret

memory_ops:
	la s0, cdata
	c.ld a0, 0(s0)
	CHECK(a0, 0x8877665544332211)
	c.lw a1, 8(s0)
	CHECK(a1, 0xffffffffccbbaa99)
	c.ld a1, 248(s0)
	CHECK(a1, 0x0123456789abcdef)
	li a2, 0x5a5a5a5a5a5a5a5a
	c.sd a2, 16(s0)
	c.sw a0, 20(s0)
	ld a3, 16(s0)
	CHECK(a3, 0x443322115a5a5a5a)
	c.fld fa0, 0(s0)
	fmv.x.d a3, fa0
	CHECK(a3, 0x8877665544332211)
	c.fsd fa0, 24(s0)
	ld a3, 24(s0)
	CHECK(a3, 0x8877665544332211)
	/* sp-relative forms */
	addi sp, sp, -64
	c.sdsp a0, 8(sp)
	c.swsp a1, 16(sp)
	c.fsdsp fa0, 24(sp)
	c.ldsp a3, 8(sp)
	CHECK(a3, 0x8877665544332211)
	c.lwsp a3, 16(sp)
	CHECK(a3, 0xffffffff89abcdef)
	c.fldsp fa1, 24(sp)
	fmv.x.d a3, fa1
	CHECK(a3, 0x8877665544332211)
	addi sp, sp, 64
	ret

control_flow:
	mv s1, ra
	li a0, 0
	c.j 1f
	c.li a0, 1
1:	CHECK(a0, 0)
	/* c.jalr links pc + 2; c.jr does not link */
	la a1, ctarget
	c.jalr a1
2:	la t0, 2b
	CHECK_REG(a2, t0)
	la a1, 3f
	c.jr a1
	c.li a0, 2
3:	CHECK(a0, 0)
	/* c.beqz / c.bnez, taken and not taken */
	li s0, 0
	c.beqz s0, 4f
	FAIL_HERE()
4:	c.bnez s0, 5f
	li s0, 7
	c.bnez s0, 6f
5:	FAIL_HERE()
6:	c.beqz s0, 5b
	/* a loop of compressed instructions */
	li a0, 0
	li a1, 10
7:	c.addi a0, 3
	c.addi a1, -1
	c.bnez a1, 7b
	CHECK(a0, 30)
	/* 32-bit instructions at 2-byte-aligned addresses; jalr to such an address */
	.balign 4
	c.nop
	addi a0, zero, 100 /* at 4n + 2 */
	la a1, odd_target
	andi t0, a1, 3
	CHECK(t0, 2)
	jalr ra, 0(a1)
	CHECK(a0, 101)
	c.mv ra, s1
	c.jr ra

/* Returns its return address in a2. */
ctarget:
	c.mv a2, ra
	c.jr ra

	.balign 4
	c.nop
odd_target:
	addi a0, a0, 1
	ret

traps:
	mv s1, ra
	EXPECT_TRAP(1f)
ebreak_at:
	c.ebreak
	FAIL_HERE()
1:	TRAP_FIELD(TI_CAUSE)
	CHECK(t5, CAUSE_BREAKPOINT)
	TRAP_FIELD(TI_EPC)
	la t0, ebreak_at
	CHECK_REG(t5, t0)
	TRAP_FIELD(TI_TVAL) /* 0 or the pc (priv spec 3.1.16) */
	beqz t5, 2f
	CHECK_REG(t5, t0)
2:	EXPECT_TRAP(3f)
zero_at:
	.half 0
	FAIL_HERE()
3:	TRAP_FIELD(TI_CAUSE)
	CHECK(t5, CAUSE_ILLEGAL_INSTRUCTION)
	TRAP_FIELD(TI_EPC)
	la t0, zero_at
	CHECK_REG(t5, t0)
	TRAP_FIELD(TI_TVAL) /* the instruction bits (0) or 0 */
	CHECK(t5, 0)
	mv ra, s1
	ret

	.data
	.balign 8
cdata:
	.dword 0x8877665544332211
	.dword 0xddccbbaaccbbaa99
	.zero 232
	.dword 0x0123456789abcdef
