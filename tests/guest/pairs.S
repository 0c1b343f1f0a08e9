/* Loads and stores through one base register in straight-line code, which the translator lets
 * share one page check (each later access compares its own page and alignment with the first
 * one's): groups that straddle a page boundary at every 8-byte offset, with loads of other
 * widths among them; a misaligned access in a group; an access fault in the middle of a group
 * (precise, privileged spec 3.1.15: the accesses before it are done, those after it are not);
 * a store after loads through the same base to a page those loads may read but stores may not
 * write (PMP under MPRV with MPP = S, privileged spec 3.7: a store access fault); F and D
 * loads and stores among integer ones in a group across a page boundary. Each case
 * runs REPEAT times, so its code runs translated with its sites filled. */
#include "common.h"

DEFINE_TEST("pairs")

#define RAM_END (RAM_BASE + 64 * 1024 * 1024) /* run with --mem 64M */
#define REPEAT 64
#define PMP_R 0x01
#define PMP_RWX 0x07
#define PMP_NAPOT 0x18

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call straddle
	SAY("groups across a page boundary at every offset: every access lands")
	call misaligned_member
	SAY("a misaligned store and load in a group: done, and the group's others too")
	call fault_in_group
	SAY("an access fault in the middle of a group: the stores before it done, those after not")
	call store_after_loads
	SAY("a store after loads through one base, to a page it may only read: an access fault")
	call fp_members
	SAY("F and D loads and stores in a group across a page boundary: every access lands")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* For o = 0, 8, ..., 72 the base a0 = the second page - 72 + o: eight stores of v, v + 1, ...,
 * v + 7 at 0(a0) .. 56(a0), then loads of them (and of a word and a byte inside) through a0,
 * their sum checked; then each dword read back through another register. */
straddle:
	mv s11, ra
	li s0, REPEAT
1:	li s1, 0
2:	la a0, two_pages + 4096 - 72
	add a0, a0, s1
	slli t0, s0, 8
	add t0, t0, s1 /* v */
	sd t0, 0(a0)
	addi t1, t0, 1
	sd t1, 8(a0)
	addi t2, t0, 2
	sd t2, 16(a0)
	addi t3, t0, 3
	sd t3, 24(a0)
	addi t4, t0, 4
	sd t4, 32(a0)
	addi t1, t0, 5
	sd t1, 40(a0)
	addi t2, t0, 6
	sd t2, 48(a0)
	addi t3, t0, 7
	sd t3, 56(a0)
	ld a1, 0(a0)
	ld a2, 8(a0)
	add a1, a1, a2
	ld a2, 16(a0)
	add a1, a1, a2
	ld a2, 24(a0)
	add a1, a1, a2
	ld a2, 32(a0)
	add a1, a1, a2
	ld a2, 40(a0)
	add a1, a1, a2
	ld a2, 48(a0)
	add a1, a1, a2
	ld a2, 56(a0)
	add a1, a1, a2
	lw a3, 36(a0) /* the high half of v + 4: 0 */
	lbu a4, 48(a0) /* the low byte of v + 6 */
	slli t1, t0, 3
	addi t1, t1, 28
	CHECK_REG(a1, t1)
	CHECK(a3, 0)
	addi t1, t0, 6
	andi t1, t1, 0xff
	CHECK_REG(a4, t1)
	mv a5, a0
	li a6, 0
3:	ld t1, 0(a5)
	add t2, t0, a6
	CHECK_REG(t1, t2)
	addi a5, a5, 8
	addi a6, a6, 1
	li t2, 8
	blt a6, t2, 3b
	addi s1, s1, 8
	li t1, 80
	blt s1, t1, 2b
	addi s0, s0, -1
	bnez s0, 1b
	mv ra, s11
	ret

/* Through a0 (8-byte aligned): an aligned store, a store 3 bytes further (misaligned, across
 * the next dword), an aligned store after it; then loads of all three places through a0. */
misaligned_member:
	mv s11, ra
	li s0, REPEAT
	la a0, two_pages + 64
	li s2, 0x1122334455667788
1:	sd zero, 0(a0)
	sd zero, 8(a0)
	sd zero, 16(a0)
	add t0, s2, s0
	sd t0, 0(a0)
	sd t0, 11(a0)
	sd t0, 24(a0)
	ld a1, 0(a0)
	ld a2, 11(a0)
	ld a3, 24(a0)
	ld a4, 8(a0) /* bytes 8-10 untouched (0), 11-15 the low five bytes of t0 */
	CHECK_REG(a1, t0)
	CHECK_REG(a2, t0)
	CHECK_REG(a3, t0)
	slli t1, t0, 24
	CHECK_REG(a4, t1)
	addi s0, s0, -1
	bnez s0, 1b
	mv ra, s11
	ret

/* Through s2 = RAM_END - 16: stores at 0(s2) and 8(s2), then one at 16(s2) (past the end of
 * RAM: an access fault there), then one at 24(s2) that must not happen (it would fault too;
 * the handler resumes after the group) and a register update after it that must not either. */
fault_in_group:
	mv s11, ra
	li s0, REPEAT
	li s2, RAM_END - 16
1:	sd zero, 0(s2)
	sd zero, 8(s2)
	li a0, 0
	EXPECT_TRAP(2f)
	addi a0, s0, 0x100
	sd a0, 0(s2)
	addi a0, a0, 0x100
	sd a0, 8(s2)
fault_in_group_at:
	sd a0, 16(s2)
	addi a0, a0, 0x100
	sd a0, 24(s2)
	FAIL_HERE()
2:	addi t0, s0, 0x200
	CHECK_REG(a0, t0)
	ld t1, 0(s2)
	addi t0, s0, 0x100
	CHECK_REG(t1, t0)
	ld t1, 8(s2)
	addi t0, s0, 0x200
	CHECK_REG(t1, t0)
	CHECK_TRAP_CAUSE(CAUSE_STORE_ACCESS)
	CHECK_TRAP_EPC(fault_in_group_at)
	CHECK_TRAP_TVAL(RAM_END)
	addi s0, s0, -1
	bnez s0, 1b
	mv ra, s11
	ret

/* PMP entry 0: the page read_only_page, read only; entry 1: everything, RWX. With MPRV set and
 * MPP = S, M-mode's loads and stores are checked as S-mode's: loads through a0 from the page,
 * then a store through a0 to it, which must fault (cause 7, mtval its address) and leave the
 * page unchanged. */
store_after_loads:
	mv s11, ra
	la a0, read_only_page
	li t0, 0x5a5a5a5a
	sd t0, 8(a0)
	srli t0, a0, 2
	ori t0, t0, 0x1ff /* NAPOT, 4 KiB */
	csrw pmpaddr0, t0
	li t0, -1
	csrw pmpaddr1, t0
	li t0, ((PMP_NAPOT | PMP_RWX) << 8) | (PMP_NAPOT | PMP_R)
	csrw pmpcfg0, t0
	li s0, REPEAT
1:	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, MSTATUS_MPP_S | MSTATUS_MPRV
	csrs mstatus, t0
	EXPECT_TRAP(2f)
	ld a1, 0(a0)
	ld a2, 8(a0)
	addi a2, a2, 1
store_after_loads_at:
	sd a2, 8(a0)
	li a1, 1
	FAIL_HERE()
2:	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	CHECK(a1, 0)
	li t0, 0x5a5a5a5b
	CHECK_REG(a2, t0)
	ld t1, 8(a0)
	li t0, 0x5a5a5a5a
	CHECK_REG(t1, t0)
	CHECK_TRAP_CAUSE(CAUSE_STORE_ACCESS)
	CHECK_TRAP_EPC(store_after_loads_at)
	TRAP_FIELD(TI_TVAL)
	addi t6, a0, 8
	CHECK_REG(t5, t6)
	addi s0, s0, -1
	bnez s0, 1b
	csrw pmpcfg0, zero
	mv ra, s11
	ret

/* With FP on, through a0 = the second page - 16: integer and FSD/FSW stores, then FLD/FLW
 * and integer loads of the same places (the group crosses the page boundary at +16), each
 * value checked through an x register. */
fp_members:
	mv s11, ra
	li t0, MSTATUS_FS_INITIAL
	csrs mstatus, t0
	li s0, REPEAT
	la a0, two_pages + 4096 - 16
1:	slli t0, s0, 16
	addi t1, t0, 1
	fmv.d.x fa0, t0
	fmv.d.x fa1, t1
	sd t0, -8(a0)
	fsd fa0, 0(a0)
	fsd fa1, 8(a0)
	fsw fa0, 16(a0)
	sd t1, 24(a0)
	fld ft0, 0(a0)
	fld ft1, 8(a0)
	flw ft2, 16(a0)
	ld a1, -8(a0)
	ld a2, 24(a0)
	lw a3, 16(a0)
	fmv.x.d a4, ft0
	CHECK_REG(a4, t0)
	fmv.x.d a4, ft1
	CHECK_REG(a4, t1)
	fmv.x.d a4, ft2 /* NaN-boxed: the upper 32 bits all ones */
	li t2, 0xffffffff00000000
	or t2, t2, t0
	CHECK_REG(a4, t2)
	CHECK_REG(a1, t0)
	CHECK_REG(a2, t1)
	CHECK_REG(a3, t0)
	addi s0, s0, -1
	bnez s0, 1b
	li t0, MSTATUS_FS
	csrc mstatus, t0
	mv ra, s11
	ret

	.bss
	.balign 4096
two_pages:
	.space 8192
read_only_page:
	.space 4096
