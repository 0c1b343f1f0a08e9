/* Privilege modes and traps (privileged spec 3.1.6, 3.1.8, 3.3, 4.1): M -> S -> U with mret and
 * sret and what they restore (MIE/MPIE/MPP/MPRV, SIE/SPIE/SPP), ecall from each mode with its
 * cause, illegal instructions from U and S (M-mode CSRs, xret from too low a mode, mstatus.TSR,
 * TVM and TW), counter enables (mcounteren/scounteren), ebreak, and delegation of exceptions
 * to S with medeleg: scause/sepc/stval set, the M-mode handler not involved, and traps taken
 * in M-mode never delegated. */
#include "common.h"

DEFINE_TEST("priv")

/* Read mstatus field (shift, mask) into t0. */
#define MSTATUS_FIELD(shift, mask)                                                                 \
	csrr t0, mstatus;                                                                          \
	srli t0, t0, shift;                                                                        \
	andi t0, t0, mask

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call ecalls
	SAY("ecall from M, S and U")
	call xret_state
	SAY("mret and sret restore the interrupt-enable stack")
	call illegal_from_lower
	SAY("illegal instructions in S and U")
	call counter_enable
	SAY("mcounteren and scounteren")
	call delegation
	SAY("exceptions delegated to S")
	call wfi_tw
	SAY("wfi and mstatus.TW")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

ecalls:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* M-mode */
	EXPECT_TRAP(1f)
m_ecall:
	ecall
	FAIL_HERE()
1:	CHECK_TRAP_CAUSE(CAUSE_MACHINE_ECALL)
	CHECK_TRAP_EPC(m_ecall)
	CHECK_TRAP_TVAL(0)
	CHECK_TRAP_PRIV(PRV_M)
	/* S-mode, entered with mret */
	EXPECT_TRAP_M(2f)
	MRET_TO(PRV_S, s_ecall)
s_ecall:
	ecall
	FAIL_HERE()
2:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	CHECK_TRAP_EPC(s_ecall)
	CHECK_TRAP_TVAL(0)
	CHECK_TRAP_PRIV(PRV_S)
	/* U-mode */
	EXPECT_TRAP_M(3f)
	MRET_TO(PRV_U, u_ecall)
u_ecall:
	ecall
	FAIL_HERE()
3:	CHECK_TRAP_CAUSE(CAUSE_USER_ECALL)
	CHECK_TRAP_EPC(u_ecall)
	CHECK_TRAP_TVAL(0)
	CHECK_TRAP_PRIV(PRV_U)
	/* ebreak: cause 3, mtval 0 or the pc */
	EXPECT_TRAP(4f)
m_ebreak:
	ebreak
	FAIL_HERE()
4:	CHECK_TRAP_CAUSE(CAUSE_BREAKPOINT)
	CHECK_TRAP_EPC(m_ebreak)
	TRAP_FIELD(TI_TVAL)
	beqz t5, 5f
	la t6, m_ebreak
	CHECK_REG(t5, t6)
5:	ld ra, 8(sp)
	addi sp, sp, 16
	ret

xret_state:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* mret: MIE = MPIE, MPIE = 1, MPP = U (the least-privileged mode); here into M-mode */
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	li t0, MSTATUS_MPIE | MSTATUS_MPP
	csrs mstatus, t0
	la t0, 1f
	csrw mepc, t0
	mret
1:	MSTATUS_FIELD(3, 1) /* MIE */
	CHECK(t0, 1)
	MSTATUS_FIELD(7, 1) /* MPIE */
	CHECK(t0, 1)
	MSTATUS_FIELD(11, 3) /* MPP */
	CHECK(t0, PRV_U)
	li t0, MSTATUS_MPIE | MSTATUS_MIE
	csrc mstatus, t0
	li t0, MSTATUS_MPP
	csrs mstatus, t0
	la t0, 2f
	csrw mepc, t0
	mret
2:	MSTATUS_FIELD(3, 1)
	CHECK(t0, 0)
	MSTATUS_FIELD(7, 1)
	CHECK(t0, 1)

	/* a trap from S to M: MPIE = MIE in S (set by mret from MPIE), MIE = 0, MPP = S; as the
	 * handler saw them on entry */
	li t0, MSTATUS_MPIE
	csrs mstatus, t0
	EXPECT_TRAP_M(3f)
	MRET_TO(PRV_S, s_ecall2)
s_ecall2:
	ecall
3:	CHECK_TRAP_STATUS(3, 1, 0)
	CHECK_TRAP_STATUS(7, 1, 1)
	CHECK_TRAP_STATUS(11, 3, PRV_S)
	MSTATUS_FIELD(3, 1) /* the handler resumed here with MIE = 0 */
	CHECK(t0, 0)
	li t0, MSTATUS_MPIE
	csrc mstatus, t0
	EXPECT_TRAP_M(4f)
	MRET_TO(PRV_S, s_ecall3)
s_ecall3:
	ecall
4:	CHECK_TRAP_STATUS(7, 1, 0)

	/* mret to a mode below M clears MPRV */
	li t0, MSTATUS_MPRV
	csrs mstatus, t0
	EXPECT_TRAP_M(5f)
	MRET_TO(PRV_S, s_ecall4)
s_ecall4:
	ecall
5:	MSTATUS_FIELD(17, 1)
	beqz t0, 55f
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	SAY("deviation: mret to S left mstatus.MPRV set (priv spec 1.12: cleared)")
55:

	/* sret from S to S: SIE = SPIE, SPIE = 1, SPP = U; then sret from S to U */
	EXPECT_TRAP_M(7f)
	MRET_TO(PRV_S, s_sret)
s_sret:
	li t0, MSTATUS_SPP | MSTATUS_SIE
	csrs sstatus, t0
	li t0, MSTATUS_SPIE
	csrc sstatus, t0
	la t0, 6f
	csrw sepc, t0
	sret
6:	csrr t1, sstatus
	andi t0, t1, MSTATUS_SIE
	CHECK(t0, 0)
	andi t0, t1, MSTATUS_SPIE
	CHECK(t0, MSTATUS_SPIE)
	andi t0, t1, MSTATUS_SPP
	CHECK(t0, 0)
	la t0, u_after_sret
	csrw sepc, t0
	sret
u_after_sret:
	ecall
7:	CHECK_TRAP_CAUSE(CAUSE_USER_ECALL)
	CHECK_TRAP_EPC(u_after_sret)
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

illegal_from_lower:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* U: an M-mode CSR, an S-mode CSR, sret, mret */
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_U, u_csr_m)
u_csr_m:
	csrr t0, mstatus
1:	CHECK_ILLEGAL_AT(u_csr_m)
	CHECK_TRAP_PRIV(PRV_U)
	EXPECT_TRAP_M(2f)
	MRET_TO(PRV_U, u_csr_s)
u_csr_s:
	csrw sscratch, zero
2:	CHECK_ILLEGAL_AT(u_csr_s)
	EXPECT_TRAP_M(3f)
	MRET_TO(PRV_U, u_sret)
u_sret:
	sret
3:	CHECK_ILLEGAL_AT(u_sret)
	EXPECT_TRAP_M(4f)
	MRET_TO(PRV_U, u_mret)
u_mret:
	mret
4:	CHECK_ILLEGAL_AT(u_mret)
	/* S: an M-mode CSR, mret */
	EXPECT_TRAP_M(5f)
	MRET_TO(PRV_S, s_csr_m)
s_csr_m:
	csrr t0, mscratch
5:	CHECK_ILLEGAL_AT(s_csr_m)
	CHECK_TRAP_PRIV(PRV_S)
	EXPECT_TRAP_M(6f)
	MRET_TO(PRV_S, s_mret)
s_mret:
	mret
6:	CHECK_ILLEGAL_AT(s_mret)
	/* S with TSR: sret is illegal */
	li t0, MSTATUS_TSR
	csrs mstatus, t0
	EXPECT_TRAP_M(7f)
	MRET_TO(PRV_S, s_sret_tsr)
s_sret_tsr:
	sret
7:	CHECK_ILLEGAL_AT(s_sret_tsr)
	li t0, MSTATUS_TSR
	csrc mstatus, t0
	/* S with TVM: satp and sfence.vma are illegal */
	li t0, MSTATUS_TVM
	csrs mstatus, t0
	EXPECT_TRAP_M(8f)
	MRET_TO(PRV_S, s_satp_tvm)
s_satp_tvm:
	csrr t0, satp
8:	CHECK_ILLEGAL_AT(s_satp_tvm)
	EXPECT_TRAP_M(9f)
	MRET_TO(PRV_S, s_sfence_tvm)
s_sfence_tvm:
	sfence.vma
9:	CHECK_ILLEGAL_AT(s_sfence_tvm)
	li t0, MSTATUS_TVM
	csrc mstatus, t0
	/* without TVM, S may use both */
	EXPECT_TRAP_M(10f)
	MRET_TO(PRV_S, s_satp_ok)
s_satp_ok:
	csrr t0, satp
	sfence.vma
	ecall
10:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* cycle (bit 0), time (bit 1), instret (bit 2): S needs the mcounteren bit, U both. */
counter_enable:
	addi sp, sp, -16
	sd ra, 8(sp)
	csrw mcounteren, zero
	csrw scounteren, zero
	EXPECT_TRAP_M(1f)
	MRET_TO(PRV_S, s_cycle0)
s_cycle0:
	rdcycle t0
1:	CHECK_ILLEGAL_AT(s_cycle0)
	li t0, 7
	csrw mcounteren, t0
	EXPECT_TRAP_M(2f)
	MRET_TO(PRV_S, s_counters)
s_counters:
	rdcycle t0
	rdtime t0
	rdinstret t0
	ecall
2:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	EXPECT_TRAP_M(3f)
	MRET_TO(PRV_U, u_time0)
u_time0:
	rdtime t0
3:	CHECK_ILLEGAL_AT(u_time0)
	li t0, 2
	csrw scounteren, t0
	EXPECT_TRAP_M(4f)
	MRET_TO(PRV_U, u_time1)
u_time1:
	rdtime t0
	ecall
4:	CHECK_TRAP_CAUSE(CAUSE_USER_ECALL)
	EXPECT_TRAP_M(5f)
	MRET_TO(PRV_U, u_instret0)
u_instret0:
	rdinstret t0
5:	CHECK_ILLEGAL_AT(u_instret0)
	csrw mcounteren, zero
	csrw scounteren, zero
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* medeleg: U ecall, illegal instruction and breakpoint go to S. The M-mode handler must see
 * only the final ecall from S. */
delegation:
	addi sp, sp, -16
	sd ra, 8(sp)
	li t0, (1 << CAUSE_USER_ECALL) | (1 << CAUSE_ILLEGAL_INSTRUCTION) | (1 << CAUSE_BREAKPOINT)
	csrw medeleg, t0
	csrr t1, medeleg
	and t1, t1, t0
	CHECK_REG(t1, t0)
	TRAP_FIELD(TI_COUNT)
	mv s5, t5
	EXPECT_TRAP_M(9f)
	MRET_TO(PRV_S, s_deleg)

s_deleg:
	/* S -> U with sret; the U-mode ecall comes back to S */
	EXPECT_STRAP_S(1f)
	la t0, u_deleg_ecall
	csrw sepc, t0
	li t0, MSTATUS_SPP
	csrc sstatus, t0
	li t0, MSTATUS_SPIE /* SIE = 1 in U */
	csrs sstatus, t0
	sret
u_deleg_ecall:
	ecall
	FAIL_HERE()
1:	CHECK_STRAP_CAUSE(CAUSE_USER_ECALL)
	CHECK_STRAP_EPC(u_deleg_ecall)
	CHECK_STRAP_TVAL(0)
	CHECK_STRAP_PRIV(PRV_U)
	/* the trap into S saved SIE in SPIE, cleared SIE, and set SPP = U */
	CHECK_STRAP_STATUS(5, 1, 1)
	CHECK_STRAP_STATUS(1, 1, 0)
	CHECK_STRAP_STATUS(8, 1, PRV_U)
	csrr t0, scause
	CHECK(t0, CAUSE_USER_ECALL)

	/* U: illegal instruction, to S with stval */
	EXPECT_STRAP_S(2f)
	la t0, u_deleg_illegal
	csrw sepc, t0
	sret
u_deleg_illegal:
	csrr t0, mstatus
	FAIL_HERE()
2:	CHECK_SILLEGAL_AT(u_deleg_illegal)
	CHECK_STRAP_PRIV(PRV_U)

	/* U: ebreak */
	EXPECT_STRAP_S(3f)
	la t0, u_deleg_ebreak
	csrw sepc, t0
	sret
u_deleg_ebreak:
	ebreak
	FAIL_HERE()
3:	CHECK_STRAP_CAUSE(CAUSE_BREAKPOINT)
	CHECK_STRAP_EPC(u_deleg_ebreak)

	/* S itself: a delegated exception raised in S is taken in S, SPP = S */
	EXPECT_STRAP_S(4f)
s_deleg_illegal:
	csrr t0, mscratch
	FAIL_HERE()
4:	CHECK_SILLEGAL_AT(s_deleg_illegal)
	CHECK_STRAP_PRIV(PRV_S)
	/* ecall from S is not delegated: back to M */
	ecall
	FAIL_HERE()

9:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	TRAP_FIELD(TI_COUNT)
	sub t5, t5, s5
	CHECK(t5, 1)
	STRAP_FIELD(TI_COUNT)
	CHECK(t5, 4)
	/* a delegated cause raised in M-mode still traps to M */
	EXPECT_TRAP(10f)
m_illegal:
	.word 0 /* an all-zero word is illegal */
	FAIL_HERE()
10:	CHECK_ILLEGAL_AT(m_illegal)
	CHECK_TRAP_PRIV(PRV_M)
	csrw medeleg, zero
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* wfi: in M it completes once an enabled interrupt is pending, even with mstatus.MIE = 0 (here
 * a machine software interrupt, so the test cannot hang); with TW = 1 it is illegal in S (it
 * does not complete within any time limit: nothing will wake it). */
wfi_tw:
	addi sp, sp, -16
	sd ra, 8(sp)
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	li t0, MIP_MSIP
	csrw mie, t0
	li t1, CLINT_MSIP
	li t2, 1
	sw t2, 0(t1)
1:	csrr t0, mip
	andi t0, t0, MIP_MSIP
	beqz t0, 1b
	li t0, MSTATUS_TW /* TW does not apply to M-mode */
	csrs mstatus, t0
	wfi
	sw zero, 0(t1)
	csrw mie, zero
2:	csrr t0, mip
	andi t0, t0, MIP_MSIP
	bnez t0, 2b
	EXPECT_TRAP_M(3f)
	MRET_TO(PRV_S, s_wfi_tw)
s_wfi_tw:
	wfi
3:	CHECK_ILLEGAL_AT(s_wfi_tw)
	li t0, MSTATUS_TW
	csrc mstatus, t0
	ld ra, 8(sp)
	addi sp, sp, 16
	ret
