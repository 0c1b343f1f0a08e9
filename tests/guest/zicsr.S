/* Zicsr (unprivileged spec chapter 9) and the machine-level CSRs (privileged spec 2 and 3):
 * csrrw/csrrs/csrrc and their immediate forms, which of them write (rs1 = x0 / uimm = 0 do
 * not), writes to read-only CSRs and accesses to missing CSRs raising illegal instruction,
 * mhartid, misa, the counters cycle/instret/time, WARL behaviour of mepc, and the sstatus,
 * sie and sip views of their machine-mode CSRs. */
#include "common.h"

DEFINE_TEST("zicsr")

/* Execute the instruction given, which must raise illegal instruction; mepc must be its address. */
#define EXPECT_ILLEGAL(...)                                                                        \
	EXPECT_TRAP(19980f);                                                                       \
	19981:;                                                                                    \
	__VA_ARGS__;                                                                               \
	FAIL_HERE();                                                                               \
	19980:;                                                                                    \
	CHECK_ILLEGAL_AT(19981b)

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call csr_instructions
	SAY("csrrw/csrrs/csrrc and immediate forms")
	call read_only
	SAY("read-only and missing CSRs")
	call machine_info
	SAY("mhartid and misa")
	call counters
	SAY("cycle, instret, time")
	call warl_and_views
	SAY("mepc, mtvec, sstatus, sie, sip")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* On sscratch: mscratch belongs to the M-mode trap handler, and the S-mode one is unused here. */
csr_instructions:
	csrr s5, sscratch
	li s0, 0x0123456789abcdef
	csrw sscratch, s0
	li s1, 0xfedcba9876543210
	csrrw t0, sscratch, s1
	CHECK_REG(t0, s0)
	CHECK_CSR(sscratch, 0xfedcba9876543210)
	li s1, 0x0f
	csrrs t0, sscratch, s1
	CHECK(t0, 0xfedcba9876543210)
	CHECK_CSR(sscratch, 0xfedcba987654321f)
	li s1, 0xf000000000000003
	csrrc t0, sscratch, s1
	CHECK(t0, 0xfedcba987654321f)
	CHECK_CSR(sscratch, 0x0edcba987654321c)
	csrrwi t0, sscratch, 31
	CHECK(t0, 0x0edcba987654321c)
	CHECK_CSR(sscratch, 31)
	csrrci t0, sscratch, 0x11
	CHECK(t0, 31)
	CHECK_CSR(sscratch, 0x0e)
	csrrsi t0, sscratch, 0x10
	CHECK(t0, 0x0e)
	CHECK_CSR(sscratch, 0x1e)
	/* rd = x0: write only */
	csrrw zero, sscratch, s0
	CHECK_CSR(sscratch, 0x0123456789abcdef)
	/* rd == rs1: rd gets the old value, the CSR the old rs1 */
	li t1, 5
	csrrw t1, sscratch, t1
	CHECK_REG(t1, s0)
	CHECK_CSR(sscratch, 5)
	/* set/clear with x0 / uimm 0 leave the CSR alone */
	csrrs t0, sscratch, zero
	csrrc t0, sscratch, zero
	csrrsi t0, sscratch, 0
	csrrci t0, sscratch, 0
	CHECK_CSR(sscratch, 5)
	csrw sscratch, s5
	ret

read_only:
	mv s3, ra
	/* reads of read-only CSRs, and set/clear forms that do not write, are fine */
	csrr t0, mvendorid
	csrrs t0, mhartid, zero
	csrrc t0, marchid, zero
	csrrsi t0, mimpid, 0
	csrrci t0, cycle, 0
	/* any write to a read-only CSR (csr[11:10] = 3) is illegal, even of zero or via x0 */
	EXPECT_ILLEGAL(csrw mhartid, zero)
	EXPECT_ILLEGAL(csrrwi t0, mvendorid, 0)
	/* rs1 != x0 writes even when it holds 0 (Zicsr 9.1). QEMU 7.2 does not trap here: that
	 * deviation prints its own line, which only QEMU's expected output contains. */
	li t1, 0
	EXPECT_TRAP(1f)
csrrs_zero:
	csrrs t0, cycle, t1
	EXPECT_NO_TRAP()
	SAY("deviation: csrrs of a read-only CSR with rs1 != x0 holding 0 did not trap")
	j 2f
1:	CHECK_ILLEGAL_AT(csrrs_zero)
2:	EXPECT_TRAP(3f)
csrrc_zero:
	csrrc t0, instret, t1
	EXPECT_NO_TRAP()
	SAY("deviation: csrrc of a read-only CSR with rs1 != x0 holding 0 did not trap")
	j 4f
3:	CHECK_ILLEGAL_AT(csrrc_zero)
4:
	EXPECT_ILLEGAL(csrrsi t0, time, 1)
	EXPECT_ILLEGAL(csrw mimpid, s0)
	/* a CSR that does not exist (custom unprivileged read/write range) */
	EXPECT_ILLEGAL(csrr t0, 0x8c0)
	EXPECT_ILLEGAL(csrw 0x8c0, zero)
	mv ra, s3
	ret

machine_info:
	CHECK_CSR(mhartid, 0)
	csrr s0, misa
	srli t0, s0, 62
	CHECK(t0, 2) /* MXL = 64 */
	/* extensions I M A F D C S U (bits 8 12 0 5 3 2 18 20) */
	li t1, (1 << 8) | (1 << 12) | (1 << 0) | (1 << 5) | (1 << 3) | (1 << 2) | (1 << 18) | (1 << 20)
	and t0, s0, t1
	CHECK_REG(t0, t1)
	/* mstatus.SXL and UXL are 64-bit too */
	csrr t0, mstatus
	srli t0, t0, 32
	andi t0, t0, 0xf
	CHECK(t0, 0xa)
	ret

counters:
	/* cycle and instret count up; M-mode may always read them */
	csrr s0, cycle
	csrr s1, instret
	csrr s2, mcycle
	csrr s4, minstret
	li t0, 1000
1:	addi t0, t0, -1
	bnez t0, 1b
	csrr t1, cycle
	csrr t2, instret
	sub t1, t1, s0
	sub t2, t2, s1
	li t0, 1000 /* the loop alone retired 2000 instructions */
	sltu t0, t0, t2
	CHECK(t0, 1)
	CHECK_NZ(t1)
	csrr t1, mcycle
	sub t1, t1, s2
	CHECK_NZ(t1)
	csrr t2, minstret
	sub t2, t2, s4
	li t0, 1000
	sltu t0, t0, t2
	CHECK(t0, 1)
	/* time follows the CLINT's mtime */
	li s0, CLINT_MTIME
	ld s1, 0(s0)
	csrr s2, time
	ld s3, 0(s0)
	sltu t0, s2, s1
	CHECK(t0, 0)
	sltu t0, s3, s2
	CHECK(t0, 0)
	/* and it advances: wait for it to move by 1000 ticks (0.1 ms), within a bounded loop */
	csrr s1, time
	li s4, 100000000
2:	csrr s2, time
	sub t0, s2, s1
	li t1, 1000
	bgeu t0, t1, 3f
	addi s4, s4, -1
	bnez s4, 2b
	FAIL_HERE()
3:	ret

warl_and_views:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* mepc: bit 0 is always zero; with C, bit 1 is writable */
	li t0, 0x80000003
	csrw mepc, t0
	csrr t1, mepc
	bne t1, t0, 1f
	SAY("deviation: mepc bit 0 reads back as written")
	j 2f
1:	CHECK(t1, 0x80000002)
2:	li t0, 0x80001001
	csrw sepc, t0
	csrr t1, sepc
	bne t1, t0, 3f
	SAY("deviation: sepc bit 0 reads back as written")
	j 4f
3:	CHECK(t1, 0x80001000)
4:
	/* mtvec direct mode keeps a 4-byte-aligned base */
	csrr s0, mtvec
	la t0, warl_and_views
	csrw mtvec, t0
	csrr t1, mtvec
	csrw mtvec, s0
	CHECK_REG(t1, t0)
	/* sstatus shows only the supervisor fields of mstatus */
	li t0, MSTATUS_SUM
	csrs sstatus, t0
	csrr t1, mstatus
	and t1, t1, t0
	CHECK_REG(t1, t0)
	csrc mstatus, t0
	csrr t1, sstatus
	and t1, t1, t0
	CHECK(t1, 0)
	li t0, MSTATUS_MPIE | MSTATUS_MPP
	csrs mstatus, t0
	csrr t1, sstatus
	and t1, t1, t0
	CHECK(t1, 0)
	li t0, MSTATUS_MPIE | MSTATUS_MPP
	csrc mstatus, t0
	li t0, MSTATUS_MPIE
	csrs sstatus, t0 /* not writable through sstatus */
	csrr t1, mstatus
	and t1, t1, t0
	CHECK(t1, 0)
	csrr t2, sstatus
	srli t2, t2, 32 /* UXL is visible: 64-bit */
	andi t2, t2, 3
	CHECK(t2, 2)
	/* sie/sip show the delegated bits only. Only the standard S and M interrupt bits are
	 * compared: with the hypervisor extension, more mideleg bits are read-only one. */
#define STD_IRQS (MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)
	csrw mie, zero
	li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
	csrw mideleg, t0
	csrr t1, mideleg
	li t2, STD_IRQS
	and t1, t1, t2
	CHECK(t1, MIP_SSIP | MIP_STIP | MIP_SEIP)
	li t0, -1
	csrw sie, t0
	csrr t1, sie
	li t2, STD_IRQS
	and t1, t1, t2
	CHECK(t1, MIP_SSIP | MIP_STIP | MIP_SEIP)
	csrr t1, mie
	li t2, STD_IRQS
	and t1, t1, t2
	CHECK(t1, MIP_SSIP | MIP_STIP | MIP_SEIP)
	li t0, MIP_SSIP
	csrw mideleg, t0
	csrr t1, sie
	li t2, STD_IRQS
	and t1, t1, t2
	CHECK(t1, MIP_SSIP)
	csrw mie, zero
	/* mip.SSIP is writable by M-mode and seen through sip when delegated */
	li t0, MIP_SSIP
	csrs mip, t0
	csrr t1, sip
	and t1, t1, t0
	CHECK(t1, MIP_SSIP)
	csrc sip, t0
	csrr t1, mip
	and t1, t1, t0
	CHECK(t1, 0)
	/* mip.MTIP and MSIP are read-only in mip */
	li t0, MIP_MSIP | MIP_MTIP
	csrr t1, mip
	csrs mip, t0
	csrr t2, mip
	xor t1, t1, t2
	and t1, t1, t0
	CHECK(t1, 0)
	csrc mip, t0
	csrr t1, mip
	xor t1, t1, t2
	and t1, t1, t0
	CHECK(t1, 0)
	csrw mideleg, zero
	ld ra, 8(sp)
	addi sp, sp, 16
	ret
