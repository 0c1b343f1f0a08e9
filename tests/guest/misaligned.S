/* Misaligned loads and stores (unprivileged spec 2.6; privileged spec 3.6.3.3): every integer
 * and FP width at misaligned offsets, across an 8-byte boundary and across a page boundary.
 * rvisor performs them (Linux times them at boot and expects them fast). A machine may instead
 * raise address-misaligned exceptions to M-mode; then the test prints a SKIP line and passes. */
#include "common.h"

DEFINE_TEST("misaligned")

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	li t0, MSTATUS_FS_INITIAL
	csrs mstatus, t0
	SET_HOOK(misaligned_hook)

	/* probe: does a misaligned load trap? */
	la s0, buf
	ld s1, 1(s0)
	la t0, trapped
	ld t0, 0(t0)
	beqz t0, 1f
	SAY("SKIP: misaligned accesses trap on this machine")
	j 2f
1:	call loads
	SAY("misaligned loads")
	call stores
	SAY("misaligned stores")
	call page_crossing
	SAY("across a page boundary")
	call fp_access
	SAY("misaligned FP loads and stores")
	la t0, trapped
	ld t0, 0(t0)
	CHECK(t0, 0)
2:	CLEAR_HOOK()
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Counts address-misaligned exceptions in `trapped` and skips the instruction. */
misaligned_hook:
	addi a0, a0, -CAUSE_MISALIGNED_LOAD
	beqz a0, 1f
	addi a0, a0, CAUSE_MISALIGNED_LOAD - CAUSE_MISALIGNED_STORE
	beqz a0, 1f
	li a0, 1 /* not ours */
	ret
1:	la a0, trapped
	ld a2, 0(a0)
	addi a2, a2, 1
	sd a2, 0(a0)
	addi a1, a1, 4
	csrw mepc, a1
	li a0, 0
	ret

loads:
	la s0, buf
	lh s1, 1(s0)
	CHECK(s1, 0xffffffffffffbb9e)
	lhu s1, 1(s0)
	CHECK(s1, 0xbb9e)
	lh s1, 3(s0)
	CHECK(s1, 0xfffffffffffff5d8)
	lh s1, 7(s0) /* across an 8-byte boundary */
	CHECK(s1, 0x694c)
	lhu s1, 7(s0)
	CHECK(s1, 0x694c)
	lw s1, 1(s0)
	CHECK(s1, 0xfffffffff5d8bb9e)
	lwu s1, 1(s0)
	CHECK(s1, 0xf5d8bb9e)
	lw s1, 5(s0)
	CHECK(s1, 0x694c2f12)
	lwu s1, 6(s0)
	CHECK(s1, 0x86694c2f)
	lw s1, 7(s0)
	CHECK(s1, 0xffffffffa386694c)
	ld s1, 1(s0)
	CHECK(s1, 0x694c2f12f5d8bb9e)
	ld s1, 3(s0)
	CHECK(s1, 0xa386694c2f12f5d8)
	ld s1, 7(s0)
	CHECK(s1, 0x17faddc0a386694c)
	ld s1, 9(s0)
	CHECK(s1, 0x513417faddc0a386)
	ret

stores:
	la s0, sbuf
	sd zero, 0(s0)
	sd zero, 8(s0)
	sd zero, 16(s0)
	li t0, 0x1122334455667788
	sd t0, 3(s0)
	ld s1, 0(s0)
	CHECK(s1, 0x4455667788000000)
	ld s1, 8(s0)
	CHECK(s1, 0x0000000000112233)
	li t0, 0xaabbccdd
	sw t0, 6(s0)
	ld s1, 0(s0)
	CHECK(s1, 0xccdd667788000000)
	ld s1, 8(s0)
	CHECK(s1, 0x000000000011aabb)
	li t0, 0xeeff
	sh t0, 15(s0)
	ld s1, 8(s0)
	CHECK(s1, 0xff0000000011aabb)
	ld s1, 16(s0)
	CHECK(s1, 0x00000000000000ee)
	sh t0, 1(s0)
	ld s1, 0(s0)
	CHECK(s1, 0xccdd667788eeff00)
	ret

/* A doubleword straddling two pages: written byte by byte, read misaligned, then written
 * misaligned and read back byte by byte. */
page_crossing:
	la s0, page1
	li t0, 0x0807060504030201
	li t1, 8
	addi t2, s0, -4
1:	sb t0, 0(t2)
	srli t0, t0, 8
	addi t2, t2, 1
	addi t1, t1, -1
	bnez t1, 1b
	ld s1, -4(s0)
	CHECK(s1, 0x0807060504030201)
	lw s1, -2(s0)
	CHECK(s1, 0x06050403)
	lhu s1, -1(s0)
	CHECK(s1, 0x0504)
	li t0, 0xf1f2f3f4f5f6f7f8
	sd t0, -3(s0)
	lbu s1, -4(s0)
	CHECK(s1, 0x01)
	lbu s1, -3(s0)
	CHECK(s1, 0xf8)
	lbu s1, -1(s0)
	CHECK(s1, 0xf6)
	lbu s1, 0(s0)
	CHECK(s1, 0xf5)
	lbu s1, 4(s0)
	CHECK(s1, 0xf1)
	ret

fp_access:
	la s0, buf
	fld f1, 3(s0)
	fmv.x.d s1, f1
	CHECK(s1, 0xa386694c2f12f5d8)
	flw f2, 1(s0)
	fmv.x.w s1, f2
	CHECK(s1, 0xfffffffff5d8bb9e)
	la s2, sbuf
	fsd f1, 17(s2)
	ld s1, 16(s2)
	CHECK(s1, 0x86694c2f12f5d8ee)
	fsw f2, 13(s2)
	ld s1, 8(s2)
	CHECK(s1, 0xd8bb9e000011aabb)
	ld s1, 16(s2)
	CHECK(s1, 0x86694c2f12f5d8f5)
	ret

	.data
	.balign 16
buf:
	.byte 0x81, 0x9e, 0xbb, 0xd8, 0xf5, 0x12, 0x2f, 0x4c, 0x69, 0x86, 0xa3, 0xc0, 0xdd, 0xfa
	.byte 0x17, 0x34, 0x51, 0x6e, 0x8b, 0xa8, 0xc5, 0xe2, 0xff, 0x1c, 0x39, 0x56, 0x73, 0x90
	.byte 0xad, 0xca, 0xe7, 0x04
sbuf:
	.zero 32
trapped:
	.dword 0

	.bss
	.balign 4096
page0:
	.zero 4096
page1:
	.zero 4096
