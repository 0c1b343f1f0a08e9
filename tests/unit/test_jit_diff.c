/* Lockstep differential test of the translator (src/jit/) against the interpreter (src/cpu/).
 * Two harts start from the same state, each with its own copy of guest RAM and its own fake
 * MMIO device, and run the same generated RV64GC program: one translated block on the first,
 * the same number of instructions on the second, then every architectural register, the CSRs,
 * the LR/SC reservation, the device and the written memory are compared. The programs are
 * random but reproducible (RVISOR_DIFF_SEED) and cover every op of INSN_OPS, the compressed
 * encodings, traps and their handler, FP rounding modes and NaN boxing, and Sv39 paging in
 * S-mode with faulting pages.
 *
 * Environment: RVISOR_DIFF_SEED=N repeats a run, RVISOR_DIFF_ROUNDS=N sets the number of
 * programs, RVISOR_DIFF_INTERP=1 runs both sides on the interpreter (a check of the tester
 * itself), RVISOR_DIFF_TRACE=1 prints every block. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/insn.h"
#include "cpu/isa.h"
#include "jit/jit.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"

/* ---- the guest-physical layout of a test program ----
 * S-mode runs with Sv39 tables that map the code identity (VA = PA), so the M-mode handler can
 * read the faulting instruction at mepc, and the data pages with a role each. */
#define RAM_BASE      0x80000000ull
#define RAM_SIZE      (8ull << 20)
#define HANDLER_PC    (RAM_BASE + 0x0000) /* M-mode trap handler */
#define SAVE_AREA     (RAM_BASE + 0x1000) /* the handler's spill slots (mscratch) */
#define NX_PAGE       (RAM_BASE + 0x2000) /* S: read-only, not executable */
#define STRADDLE_X    (RAM_BASE + 0x3ffe) /* a 32-bit instruction over into executable page 4 */
#define STRADDLE_NX   (RAM_BASE + 0x5ffe) /* the same into page 6, not executable in S */
#define UNMAPPED_CODE (RAM_BASE + 0x7000) /* S: not mapped */
#define CODE_BASE     (RAM_BASE + 0x10000)
#define CODE_END      (RAM_BASE + 0x50000)
#define DATA_BASE     (RAM_BASE + 0x100000)
#define DATA_PAGES    8
#define DATA_SIZE     (DATA_PAGES * 4096ull)
#define PT_ROOT       (RAM_BASE + 0x200000)
#define PT_L1         (RAM_BASE + 0x201000)
#define PT_L0         (RAM_BASE + 0x202000) /* VA 0x80000000..0x801fffff */
#define MMIO_BASE     0x10000000ull
#define MMIO_SIZE     0x1000ull
#define SATP_VALUE    ((uint64_t)SATP_MODE_SV39 << SATP_MODE_SHIFT | PT_ROOT >> 12)
#define FIXED_TIME    0x123456789ull
/* a7 holds this at an ecall from S-mode that asks the handler to return to M-mode. */
#define EXIT_MAGIC 0x5a17c0de0ddba11dull

/* Data pages with a role under Sv39 (the others are plain read-write pages). */
#define DP_AD_CLEAR 3 /* read-write, A and D clear: the walker sets them */
#define DP_RO       4 /* read-only */
#define DP_DEMAND   5 /* invalid until the handler maps it on a fault */
#define DP_XONLY    6 /* execute-only: loads need mstatus.MXR */
#define DP_USER     7 /* a U page: S-mode needs mstatus.SUM */

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)

#define L0_INDEX(va)   (((va) >> 12) & 0x1ff)
#define PTE_ADDR(va)   (PT_L0 + 8 * L0_INDEX(va))
#define DATA_PAGE(p)   (DATA_BASE + 4096ull * (p))
#define DEMAND_VALID   ((DATA_PAGE(DP_DEMAND) >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define DEMAND_INVALID (DEMAND_VALID & ~PTE_V)
#define AD_CLEAR_PTE   ((DATA_PAGE(DP_AD_CLEAR) >> 12) << 10 | PTE_V | PTE_R | PTE_W)
#define MSTATUS_SAFE                                                                          \
	(MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_FS | \
	 MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR)
#define SSTATUS_SAFE \
	(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)

enum { X_RA = 1, X_SP = 2, X_T0 = 5, X_T1 = 6, X_T2 = 7, X_A0 = 10, X_A1 = 11, X_A7 = 17 };

/* ---- encoders (unprivileged spec, "RV32/64G Instruction Set Listings" and "RVC Instruction
 * Set Listings"); every instruction emitted is decoded again and checked field by field ---- */

enum {
	OPC_LOAD = 0x03,
	OPC_LOAD_FP = 0x07,
	OPC_MISC_MEM = 0x0f,
	OPC_OP_IMM = 0x13,
	OPC_AUIPC = 0x17,
	OPC_OP_IMM_32 = 0x1b,
	OPC_STORE = 0x23,
	OPC_STORE_FP = 0x27,
	OPC_AMO = 0x2f,
	OPC_OP = 0x33,
	OPC_LUI = 0x37,
	OPC_OP_32 = 0x3b,
	OPC_MADD = 0x43,
	OPC_MSUB = 0x47,
	OPC_NMSUB = 0x4b,
	OPC_NMADD = 0x4f,
	OPC_OP_FP = 0x53,
	OPC_BRANCH = 0x63,
	OPC_JALR = 0x67,
	OPC_JAL = 0x6f,
	OPC_SYSTEM = 0x73,
};

static uint32_t enc_r(unsigned opc, unsigned f3, unsigned f7, unsigned rd, unsigned rs1,
		      unsigned rs2)
{
	return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc;
}

static uint32_t enc_i(unsigned opc, unsigned f3, unsigned rd, unsigned rs1, int64_t imm)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc;
}

static uint32_t enc_s(unsigned opc, unsigned f3, unsigned rs1, unsigned rs2, int64_t imm)
{
	uint32_t v = (uint32_t)imm;
	return ((v >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (v & 0x1f) << 7 | opc;
}

static uint32_t enc_b(unsigned f3, unsigned rs1, unsigned rs2, int64_t off)
{
	uint32_t v = (uint32_t)off;
	return ((v >> 12) & 1) << 31 | ((v >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
	       ((v >> 1) & 0xf) << 8 | ((v >> 11) & 1) << 7 | OPC_BRANCH;
}

static uint32_t enc_u(unsigned opc, unsigned rd, int64_t imm)
{
	return ((uint32_t)imm & 0xfffff000u) | rd << 7 | opc;
}

static uint32_t enc_j(unsigned rd, int64_t off)
{
	uint32_t v = (uint32_t)off;
	return ((v >> 20) & 1) << 31 | ((v >> 1) & 0x3ff) << 21 | ((v >> 11) & 1) << 20 |
	       ((v >> 12) & 0xff) << 12 | rd << 7 | OPC_JAL;
}

static uint32_t enc_r4(unsigned opc, unsigned fmt, const struct insn_fields *f)
{
	return (uint32_t)f->rs3 << 27 | fmt << 25 | (uint32_t)f->rs2 << 20 |
	       (uint32_t)f->rs1 << 15 | (uint32_t)f->rm << 12 | (uint32_t)f->rd << 7 | opc;
}

/* OP-FP: funct5 and fmt (0 S, 1 D) form funct7. */
static uint32_t enc_fp(unsigned funct5, unsigned fmt, unsigned f3, unsigned rd, unsigned rs1,
		       unsigned rs2)
{
	return enc_r(OPC_OP_FP, f3, funct5 << 2 | fmt, rd, rs1, rs2);
}

/* AMO funct5 per op, W then D, in INSN_OPS order from LR. */
static const uint8_t amo_funct5[11] = {0x02, 0x03, 0x01, 0x00, 0x04, 0x0c,
				       0x08, 0x10, 0x14, 0x18, 0x1c};

/* The 32-bit encoding of an instruction of the extensions beyond RV64GC (Zba, Zbb, Zbs,
 * Zicond, Zimop, Zawrs, Zicbom, Zicboz; their chapters' encodings). */
static uint32_t assemble_ext(const struct insn_fields *f)
{
	unsigned rd = f->rd, rs1 = f->rs1, rs2 = f->rs2;
	int64_t imm = f->imm;
	switch (f->op) {
	case OP_ADD_UW: return enc_r(OPC_OP_32, 0, 0x04, rd, rs1, rs2);
	case OP_SH1ADD: return enc_r(OPC_OP, 2, 0x10, rd, rs1, rs2);
	case OP_SH2ADD: return enc_r(OPC_OP, 4, 0x10, rd, rs1, rs2);
	case OP_SH3ADD: return enc_r(OPC_OP, 6, 0x10, rd, rs1, rs2);
	case OP_SH1ADD_UW: return enc_r(OPC_OP_32, 2, 0x10, rd, rs1, rs2);
	case OP_SH2ADD_UW: return enc_r(OPC_OP_32, 4, 0x10, rd, rs1, rs2);
	case OP_SH3ADD_UW: return enc_r(OPC_OP_32, 6, 0x10, rd, rs1, rs2);
	case OP_SLLI_UW: return enc_i(OPC_OP_IMM_32, 1, rd, rs1, 0x080 | (imm & 63));
	case OP_ANDN: return enc_r(OPC_OP, 7, 0x20, rd, rs1, rs2);
	case OP_ORN: return enc_r(OPC_OP, 6, 0x20, rd, rs1, rs2);
	case OP_XNOR: return enc_r(OPC_OP, 4, 0x20, rd, rs1, rs2);
	case OP_CLZ: return enc_i(OPC_OP_IMM, 1, rd, rs1, 0x600);
	case OP_CTZ: return enc_i(OPC_OP_IMM, 1, rd, rs1, 0x601);
	case OP_CPOP: return enc_i(OPC_OP_IMM, 1, rd, rs1, 0x602);
	case OP_SEXT_B: return enc_i(OPC_OP_IMM, 1, rd, rs1, 0x604);
	case OP_SEXT_H: return enc_i(OPC_OP_IMM, 1, rd, rs1, 0x605);
	case OP_CLZW: return enc_i(OPC_OP_IMM_32, 1, rd, rs1, 0x600);
	case OP_CTZW: return enc_i(OPC_OP_IMM_32, 1, rd, rs1, 0x601);
	case OP_CPOPW: return enc_i(OPC_OP_IMM_32, 1, rd, rs1, 0x602);
	case OP_MAX: return enc_r(OPC_OP, 6, 0x05, rd, rs1, rs2);
	case OP_MAXU: return enc_r(OPC_OP, 7, 0x05, rd, rs1, rs2);
	case OP_MIN: return enc_r(OPC_OP, 4, 0x05, rd, rs1, rs2);
	case OP_MINU: return enc_r(OPC_OP, 5, 0x05, rd, rs1, rs2);
	case OP_ZEXT_H: return enc_r(OPC_OP_32, 4, 0x04, rd, rs1, 0);
	case OP_ROL: return enc_r(OPC_OP, 1, 0x30, rd, rs1, rs2);
	case OP_ROR: return enc_r(OPC_OP, 5, 0x30, rd, rs1, rs2);
	case OP_ROLW: return enc_r(OPC_OP_32, 1, 0x30, rd, rs1, rs2);
	case OP_RORW: return enc_r(OPC_OP_32, 5, 0x30, rd, rs1, rs2);
	case OP_RORI: return enc_i(OPC_OP_IMM, 5, rd, rs1, 0x600 | (imm & 63));
	case OP_RORIW: return enc_i(OPC_OP_IMM_32, 5, rd, rs1, 0x600 | (imm & 31));
	case OP_ORC_B: return enc_i(OPC_OP_IMM, 5, rd, rs1, 0x287);
	case OP_REV8: return enc_i(OPC_OP_IMM, 5, rd, rs1, 0x6b8);
	case OP_BCLR: return enc_r(OPC_OP, 1, 0x24, rd, rs1, rs2);
	case OP_BEXT: return enc_r(OPC_OP, 5, 0x24, rd, rs1, rs2);
	case OP_BINV: return enc_r(OPC_OP, 1, 0x34, rd, rs1, rs2);
	case OP_BSET: return enc_r(OPC_OP, 1, 0x14, rd, rs1, rs2);
	case OP_BCLRI: return enc_i(OPC_OP_IMM, 1, rd, rs1, 0x480 | (imm & 63));
	case OP_BEXTI: return enc_i(OPC_OP_IMM, 5, rd, rs1, 0x480 | (imm & 63));
	case OP_BINVI: return enc_i(OPC_OP_IMM, 1, rd, rs1, 0x680 | (imm & 63));
	case OP_BSETI: return enc_i(OPC_OP_IMM, 1, rd, rs1, 0x280 | (imm & 63));
	case OP_CZERO_EQZ: return enc_r(OPC_OP, 5, 0x07, rd, rs1, rs2);
	case OP_CZERO_NEZ: return enc_r(OPC_OP, 7, 0x07, rd, rs1, rs2);
	case OP_MOP_R_N:
		return 1u << 31 | ((uint32_t)imm >> 4 & 1) << 30 | ((uint32_t)imm >> 2 & 3) << 26 |
		       7u << 22 | ((uint32_t)imm & 3) << 20 | rs1 << 15 | 4u << 12 | rd << 7 |
		       OPC_SYSTEM;
	case OP_MOP_RR_N:
		return 1u << 31 | ((uint32_t)imm >> 2 & 1) << 30 | ((uint32_t)imm & 3) << 26 |
		       1u << 25 | rs2 << 20 | rs1 << 15 | 4u << 12 | rd << 7 | OPC_SYSTEM;
	case OP_WRS_NTO: return 0x00d00073;
	case OP_WRS_STO: return 0x01d00073;
	case OP_CBO_INVAL: return enc_i(OPC_MISC_MEM, 2, 0, rs1, 0);
	case OP_CBO_CLEAN: return enc_i(OPC_MISC_MEM, 2, 0, rs1, 1);
	case OP_CBO_FLUSH: return enc_i(OPC_MISC_MEM, 2, 0, rs1, 2);
	case OP_CBO_ZERO: return enc_i(OPC_MISC_MEM, 2, 0, rs1, 4);
	case OP_FLH: return enc_i(OPC_LOAD_FP, 1, rd, rs1, imm);
	case OP_FSH: return enc_s(OPC_STORE_FP, 1, rs1, rs2, imm);
	case OP_FMV_X_H: return enc_fp(0x1c, 2, 0, rd, rs1, 0);
	case OP_FMV_H_X: return enc_fp(0x1e, 2, 0, rd, rs1, 0);
	case OP_FCVT_S_H: return enc_fp(0x08, 0, f->rm, rd, rs1, 2);
	case OP_FCVT_D_H: return enc_fp(0x08, 1, f->rm, rd, rs1, 2);
	case OP_FCVT_H_S: return enc_fp(0x08, 2, f->rm, rd, rs1, 0);
	case OP_FCVT_H_D: return enc_fp(0x08, 2, f->rm, rd, rs1, 1);
	case OP_FLI_S: return enc_fp(0x1e, 0, 0, rd, rs1, 1);
	case OP_FLI_D: return enc_fp(0x1e, 1, 0, rd, rs1, 1);
	case OP_FMINM_S: return enc_fp(0x05, 0, 2, rd, rs1, rs2);
	case OP_FMAXM_S: return enc_fp(0x05, 0, 3, rd, rs1, rs2);
	case OP_FMINM_D: return enc_fp(0x05, 1, 2, rd, rs1, rs2);
	case OP_FMAXM_D: return enc_fp(0x05, 1, 3, rd, rs1, rs2);
	case OP_FROUND_S: return enc_fp(0x08, 0, f->rm, rd, rs1, 4);
	case OP_FROUNDNX_S: return enc_fp(0x08, 0, f->rm, rd, rs1, 5);
	case OP_FROUND_D: return enc_fp(0x08, 1, f->rm, rd, rs1, 4);
	case OP_FROUNDNX_D: return enc_fp(0x08, 1, f->rm, rd, rs1, 5);
	case OP_FCVTMOD_W_D: return enc_fp(0x18, 1, f->rm, rd, rs1, 8);
	case OP_FLEQ_S: return enc_fp(0x14, 0, 4, rd, rs1, rs2);
	case OP_FLTQ_S: return enc_fp(0x14, 0, 5, rd, rs1, rs2);
	case OP_FLEQ_D: return enc_fp(0x14, 1, 4, rd, rs1, rs2);
	case OP_FLTQ_D: return enc_fp(0x14, 1, 5, rd, rs1, rs2);
	case OP_SINVAL_VMA: return enc_r(OPC_SYSTEM, 0, 0x0b, 0, rs1, rs2);
	case OP_SFENCE_W_INVAL: return 0x18000073;
	case OP_SFENCE_INVAL_IR: return 0x18100073;
	default: break;
	}
	fail_msg("assemble: no encoding for op %u", f->op);
	return 0;
}

/* The 32-bit encoding of the instruction f describes (fields as the decoder gives them);
 * aqrl goes into the aq/rl bits of AMOs, which the decoder ignores. */
static uint32_t assemble(const struct insn_fields *f, unsigned aqrl)
{
	unsigned op = f->op, rd = f->rd, rs1 = f->rs1, rs2 = f->rs2, rm = f->rm;
	int64_t imm = f->imm;
	unsigned d;
	static const uint8_t branch_f3[] = {0, 1, 4, 5, 6, 7};
	static const uint8_t alu_imm_f3[] = {0, 2, 3, 4, 6, 7};
	static const uint8_t alu_f3[] = {0, 0, 1, 2, 3, 4, 5, 5, 6, 7};
	static const uint8_t alu_f7[] = {0, 0x20, 0, 0, 0, 0, 0, 0x20, 0, 0};
	static const uint8_t alu_w_f3[] = {0, 0, 1, 5, 5};
	static const uint8_t alu_w_f7[] = {0, 0x20, 0, 0, 0x20};
	static const uint8_t csr_f3[] = {1, 2, 3, 5, 6, 7};
	static const uint8_t mul_w_f3[] = {0, 4, 5, 6, 7};

	if (op >= OP_BEQ && op <= OP_BGEU)
		return enc_b(branch_f3[op - OP_BEQ], rs1, rs2, imm);
	if (op >= OP_LB && op <= OP_LWU)
		return enc_i(OPC_LOAD, op - OP_LB, rd, rs1, imm);
	if (op >= OP_SB && op <= OP_SD)
		return enc_s(OPC_STORE, op - OP_SB, rs1, rs2, imm);
	if (op >= OP_ADDI && op <= OP_ANDI)
		return enc_i(OPC_OP_IMM, alu_imm_f3[op - OP_ADDI], rd, rs1, imm);
	if (op >= OP_ADD && op <= OP_AND)
		return enc_r(OPC_OP, alu_f3[op - OP_ADD], alu_f7[op - OP_ADD], rd, rs1, rs2);
	if (op >= OP_ADDW && op <= OP_SRAW)
		return enc_r(OPC_OP_32, alu_w_f3[op - OP_ADDW], alu_w_f7[op - OP_ADDW], rd, rs1,
			     rs2);
	if (op >= OP_CSRRW && op <= OP_CSRRCI)
		return enc_i(OPC_SYSTEM, csr_f3[op - OP_CSRRW], rd, rs1, imm);
	if (op >= OP_MUL && op <= OP_REMU)
		return enc_r(OPC_OP, op - OP_MUL, 1, rd, rs1, rs2);
	if (op >= OP_MULW && op <= OP_REMUW)
		return enc_r(OPC_OP_32, mul_w_f3[op - OP_MULW], 1, rd, rs1, rs2);
	if (op >= OP_LR_W && op <= OP_AMOMAXU_W)
		return enc_r(OPC_AMO, 2, amo_funct5[op - OP_LR_W] << 2 | aqrl, rd, rs1, rs2);
	if (op >= OP_LR_D && op <= OP_AMOMAXU_D)
		return enc_r(OPC_AMO, 3, amo_funct5[op - OP_LR_D] << 2 | aqrl, rd, rs1, rs2);
	if (op >= OP_ADD_UW)
		return assemble_ext(f);
	d = op >= OP_FLD; /* FP ops of the D half */
	switch (op) {
	case OP_ILLEGAL: return (uint32_t)imm;
	case OP_LUI: return enc_u(OPC_LUI, rd, imm);
	case OP_AUIPC: return enc_u(OPC_AUIPC, rd, imm);
	case OP_JAL: return enc_j(rd, imm);
	case OP_JALR: return enc_i(OPC_JALR, 0, rd, rs1, imm);
	case OP_SLLI: return enc_i(OPC_OP_IMM, 1, rd, rs1, imm & 63);
	case OP_SRLI: return enc_i(OPC_OP_IMM, 5, rd, rs1, imm & 63);
	case OP_SRAI: return enc_i(OPC_OP_IMM, 5, rd, rs1, 0x400 | (imm & 63));
	case OP_ADDIW: return enc_i(OPC_OP_IMM_32, 0, rd, rs1, imm);
	case OP_SLLIW: return enc_i(OPC_OP_IMM_32, 1, rd, rs1, imm & 31);
	case OP_SRLIW: return enc_i(OPC_OP_IMM_32, 5, rd, rs1, imm & 31);
	case OP_SRAIW: return enc_i(OPC_OP_IMM_32, 5, rd, rs1, 0x400 | (imm & 31));
	case OP_FENCE: return enc_i(OPC_MISC_MEM, 0, 0, 0, imm);
	case OP_FENCE_I: return enc_i(OPC_MISC_MEM, 1, 0, 0, 0);
	case OP_ECALL: return 0x00000073;
	case OP_EBREAK: return 0x00100073;
	case OP_SRET: return 0x10200073;
	case OP_MRET: return 0x30200073;
	case OP_WFI: return 0x10500073;
	case OP_SFENCE_VMA: return enc_r(OPC_SYSTEM, 0, 0x09, 0, rs1, rs2);
	case OP_FLW:
	case OP_FLD: return enc_i(OPC_LOAD_FP, 2 + d, rd, rs1, imm);
	case OP_FSW:
	case OP_FSD: return enc_s(OPC_STORE_FP, 2 + d, rs1, rs2, imm);
	case OP_FMADD_S:
	case OP_FMADD_D: return enc_r4(OPC_MADD, d, f);
	case OP_FMSUB_S:
	case OP_FMSUB_D: return enc_r4(OPC_MSUB, d, f);
	case OP_FNMSUB_S:
	case OP_FNMSUB_D: return enc_r4(OPC_NMSUB, d, f);
	case OP_FNMADD_S:
	case OP_FNMADD_D: return enc_r4(OPC_NMADD, d, f);
	case OP_FADD_S:
	case OP_FADD_D: return enc_fp(0x00, d, rm, rd, rs1, rs2);
	case OP_FSUB_S:
	case OP_FSUB_D: return enc_fp(0x01, d, rm, rd, rs1, rs2);
	case OP_FMUL_S:
	case OP_FMUL_D: return enc_fp(0x02, d, rm, rd, rs1, rs2);
	case OP_FDIV_S:
	case OP_FDIV_D: return enc_fp(0x03, d, rm, rd, rs1, rs2);
	case OP_FSQRT_S:
	case OP_FSQRT_D: return enc_fp(0x0b, d, rm, rd, rs1, 0);
	case OP_FSGNJ_S:
	case OP_FSGNJ_D: return enc_fp(0x04, d, 0, rd, rs1, rs2);
	case OP_FSGNJN_S:
	case OP_FSGNJN_D: return enc_fp(0x04, d, 1, rd, rs1, rs2);
	case OP_FSGNJX_S:
	case OP_FSGNJX_D: return enc_fp(0x04, d, 2, rd, rs1, rs2);
	case OP_FMIN_S:
	case OP_FMIN_D: return enc_fp(0x05, d, 0, rd, rs1, rs2);
	case OP_FMAX_S:
	case OP_FMAX_D: return enc_fp(0x05, d, 1, rd, rs1, rs2);
	case OP_FCVT_W_S:
	case OP_FCVT_W_D: return enc_fp(0x18, d, rm, rd, rs1, 0);
	case OP_FCVT_WU_S:
	case OP_FCVT_WU_D: return enc_fp(0x18, d, rm, rd, rs1, 1);
	case OP_FCVT_L_S:
	case OP_FCVT_L_D: return enc_fp(0x18, d, rm, rd, rs1, 2);
	case OP_FCVT_LU_S:
	case OP_FCVT_LU_D: return enc_fp(0x18, d, rm, rd, rs1, 3);
	case OP_FCVT_S_W:
	case OP_FCVT_D_W: return enc_fp(0x1a, d, rm, rd, rs1, 0);
	case OP_FCVT_S_WU:
	case OP_FCVT_D_WU: return enc_fp(0x1a, d, rm, rd, rs1, 1);
	case OP_FCVT_S_L:
	case OP_FCVT_D_L: return enc_fp(0x1a, d, rm, rd, rs1, 2);
	case OP_FCVT_S_LU:
	case OP_FCVT_D_LU: return enc_fp(0x1a, d, rm, rd, rs1, 3);
	case OP_FMV_X_W:
	case OP_FMV_X_D: return enc_fp(0x1c, d, 0, rd, rs1, 0);
	case OP_FMV_W_X:
	case OP_FMV_D_X: return enc_fp(0x1e, d, 0, rd, rs1, 0);
	case OP_FEQ_S:
	case OP_FEQ_D: return enc_fp(0x14, d, 2, rd, rs1, rs2);
	case OP_FLT_S:
	case OP_FLT_D: return enc_fp(0x14, d, 1, rd, rs1, rs2);
	case OP_FLE_S:
	case OP_FLE_D: return enc_fp(0x14, d, 0, rd, rs1, rs2);
	case OP_FCLASS_S:
	case OP_FCLASS_D: return enc_fp(0x1c, d, 1, rd, rs1, 0);
	/* fmt names the result's format; rs2 the source's */
	case OP_FCVT_S_D: return enc_fp(0x08, 0, rm, rd, rs1, 1);
	case OP_FCVT_D_S: return enc_fp(0x08, 1, rm, rd, rs1, 0);
	default: break;
	}
	fail_msg("assemble: no encoding for op %u", f->op);
	return 0;
}

/* Compressed encoders. rdp/rs1p/rs2p are x8..x15 (or f8..f15); immediates are byte values. */
static uint16_t c_ci(unsigned f3, unsigned quadrant, unsigned rd, uint32_t imm6)
{
	return (uint16_t)(f3 << 13 | ((imm6 >> 5) & 1) << 12 | rd << 7 | (imm6 & 31) << 2 |
			  quadrant);
}
static uint16_t c_addi4spn(unsigned rdp, uint32_t u)
{
	return (uint16_t)(((u >> 4) & 3) << 11 | ((u >> 6) & 15) << 7 | ((u >> 2) & 1) << 6 |
			  ((u >> 3) & 1) << 5 | (rdp - 8) << 2);
}
/* C.LW / C.SW (f3 2 / 6). */
static uint16_t c_lsw(unsigned f3, unsigned rs1p, unsigned rp, uint32_t u)
{
	return (uint16_t)(f3 << 13 | ((u >> 3) & 7) << 10 | (rs1p - 8) << 7 | ((u >> 2) & 1) << 6 |
			  ((u >> 6) & 1) << 5 | (rp - 8) << 2);
}
/* C.FLD, C.LD, C.FSD, C.SD (f3 1, 3, 5, 7). */
static uint16_t c_lsd(unsigned f3, unsigned rs1p, unsigned rp, uint32_t u)
{
	return (uint16_t)(f3 << 13 | ((u >> 3) & 7) << 10 | (rs1p - 8) << 7 | ((u >> 6) & 3) << 5 |
			  (rp - 8) << 2);
}
/* C.SRLI, C.SRAI, C.ANDI (f2 0, 1, 2). */
static uint16_t c_cb_alu(unsigned f2, unsigned rdp, uint32_t imm6)
{
	return (uint16_t)(4u << 13 | ((imm6 >> 5) & 1) << 12 | f2 << 10 | (rdp - 8) << 7 |
			  (imm6 & 31) << 2 | 1);
}
/* C.SUB, C.XOR, C.OR, C.AND (b12 0, f2 0..3), C.SUBW, C.ADDW (b12 1, f2 0..1). */
static uint16_t c_ca(unsigned b12, unsigned f2, unsigned rdp, unsigned rs2p)
{
	return (uint16_t)(4u << 13 | b12 << 12 | 3u << 10 | (rdp - 8) << 7 | f2 << 5 |
			  (rs2p - 8) << 2 | 1);
}
static uint16_t c_j(int64_t off)
{
	uint32_t v = (uint32_t)off;
	return (uint16_t)(5u << 13 | ((v >> 11) & 1) << 12 | ((v >> 4) & 1) << 11 |
			  ((v >> 8) & 3) << 9 | ((v >> 10) & 1) << 8 | ((v >> 6) & 1) << 7 |
			  ((v >> 7) & 1) << 6 | ((v >> 1) & 7) << 3 | ((v >> 5) & 1) << 2 | 1);
}
/* C.BEQZ / C.BNEZ (f3 6 / 7). */
static uint16_t c_b(unsigned f3, unsigned rs1p, int64_t off)
{
	uint32_t v = (uint32_t)off;
	return (uint16_t)(f3 << 13 | ((v >> 8) & 1) << 12 | ((v >> 3) & 3) << 10 | (rs1p - 8) << 7 |
			  ((v >> 6) & 3) << 5 | ((v >> 1) & 3) << 3 | ((v >> 5) & 1) << 2 | 1);
}
static uint16_t c_addi16sp(int64_t imm)
{
	uint32_t v = (uint32_t)imm;
	return (uint16_t)(3u << 13 | ((v >> 9) & 1) << 12 | 2u << 7 | ((v >> 4) & 1) << 6 |
			  ((v >> 6) & 1) << 5 | ((v >> 7) & 3) << 3 | ((v >> 5) & 1) << 2 | 1);
}
static uint16_t c_lwsp(unsigned rd, uint32_t u)
{
	return (uint16_t)(2u << 13 | ((u >> 5) & 1) << 12 | rd << 7 | ((u >> 2) & 7) << 4 |
			  ((u >> 6) & 3) << 2 | 2);
}
/* C.FLDSP / C.LDSP (f3 1 / 3). */
static uint16_t c_ldsp(unsigned f3, unsigned rd, uint32_t u)
{
	return (uint16_t)(f3 << 13 | ((u >> 5) & 1) << 12 | rd << 7 | ((u >> 3) & 3) << 5 |
			  ((u >> 6) & 7) << 2 | 2);
}
static uint16_t c_swsp(unsigned rs2, uint32_t u)
{
	return (uint16_t)(6u << 13 | ((u >> 2) & 15) << 9 | ((u >> 6) & 3) << 7 | rs2 << 2 | 2);
}
/* C.FSDSP / C.SDSP (f3 5 / 7). */
static uint16_t c_sdsp(unsigned f3, unsigned rs2, uint32_t u)
{
	return (uint16_t)(f3 << 13 | ((u >> 3) & 7) << 10 | ((u >> 6) & 7) << 7 | rs2 << 2 | 2);
}
/* C.JR, C.MV, C.EBREAK, C.JALR, C.ADD. */
static uint16_t c_cr(unsigned b12, unsigned rd, unsigned rs2)
{
	return (uint16_t)(4u << 13 | b12 << 12 | rd << 7 | rs2 << 2 | 2);
}

/* ---- the program generator ---- */

struct gen {
	uint8_t *ram;    /* host view of guest RAM the program is written into */
	uint64_t pc;     /* where the next instruction goes */
	uint64_t limit;  /* top-level items stop before this */
	uint64_t rng;    /* PRNG state */
	uint32_t keep;   /* x registers generated instructions must not write (loop counters) */
	unsigned priv;   /* the mode the code being emitted runs in */
	bool paging;     /* S-mode code runs with Sv39 on (else bare) */
	unsigned depth;  /* nesting of loops and forward jumps */
	unsigned cursor; /* position in the shuffled list of all ops */
	uint16_t order[OP_COUNT];
	uint32_t ops[OP_COUNT];   /* 32-bit instructions emitted, per op */
	uint32_t ops16[OP_COUNT]; /* compressed ones */
	uint64_t smc_slot[64];    /* instructions that self-modifying code patches */
	unsigned smc_slots;
};

/* splitmix64 */
static uint64_t rnd(struct gen *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned below(struct gen *g, unsigned n)
{
	return (unsigned)(rnd(g) % n);
}

/* True with probability num/den. */
static bool chance(struct gen *g, unsigned num, unsigned den)
{
	return below(g, den) < num;
}

static int64_t sext(uint64_t v, unsigned width)
{
	return (int64_t)(v << (64 - width)) >> (64 - width);
}

static void put16(struct gen *g, uint16_t v)
{
	assert_true(g->pc >= RAM_BASE && g->pc + 2 <= RAM_BASE + RAM_SIZE);
	memcpy(g->ram + (g->pc - RAM_BASE), &v, 2);
	g->pc += 2;
}

static uint32_t read32(const struct gen *g, uint64_t pc)
{
	uint32_t v;
	memcpy(&v, g->ram + (pc - RAM_BASE), 4);
	return v;
}

static void write32(struct gen *g, uint64_t pc, uint32_t v)
{
	memcpy(g->ram + (pc - RAM_BASE), &v, 4);
}

/* The decoder must read back exactly the instruction meant: this keeps the encoders honest. */
static void check_decodes_to(uint32_t raw, const struct insn_fields *want)
{
	struct insn_fields got;
	decode(raw, &got);
	if (got.op != want->op || got.rd != want->rd || got.rs1 != want->rs1 ||
	    got.rs2 != want->rs2 || got.rs3 != want->rs3 || got.rm != want->rm ||
	    got.len != want->len || got.imm != want->imm)
		fail_msg(
		    "encoder: %08" PRIx32 " decodes to %s rd %u rs1 %u rs2 %u rs3 %u rm %u imm "
		    "%" PRId64 " len %u; meant %s rd %u rs1 %u rs2 %u rs3 %u rm %u imm %" PRId64
		    " len %u",
		    raw, insn_op_name(got.op), got.rd, got.rs1, got.rs2, got.rs3, got.rm, got.imm,
		    got.len, insn_op_name(want->op), want->rd, want->rs1, want->rs2, want->rs3,
		    want->rm, want->imm, want->len);
}

static void emit_fields(struct gen *g, struct insn_fields f, unsigned aqrl)
{
	f.len = 4;
	uint32_t raw = assemble(&f, aqrl);
	check_decodes_to(raw, &f);
	g->ops[f.op]++;
	put16(g, (uint16_t)raw);
	put16(g, (uint16_t)(raw >> 16));
}

static void emit(struct gen *g, unsigned op, unsigned rd, unsigned rs1, unsigned rs2, int64_t imm)
{
	emit_fields(g,
		    (struct insn_fields){.op = (uint16_t)op,
					 .rd = (uint8_t)rd,
					 .rs1 = (uint8_t)rs1,
					 .rs2 = (uint8_t)rs2,
					 .imm = imm},
		    0);
}

static void emit_fp(struct gen *g, unsigned op, unsigned rd, unsigned rs1, unsigned rs2,
		    unsigned rs3, unsigned rm)
{
	emit_fields(g,
		    (struct insn_fields){.op = (uint16_t)op,
					 .rd = (uint8_t)rd,
					 .rs1 = (uint8_t)rs1,
					 .rs2 = (uint8_t)rs2,
					 .rs3 = (uint8_t)rs3,
					 .rm = (uint8_t)rm},
		    0);
}

/* A compressed instruction, which must decode to op with these fields. */
static void emit_c(struct gen *g, uint16_t raw, unsigned op, unsigned rd, unsigned rs1,
		   unsigned rs2, int64_t imm)
{
	struct insn_fields f = {.op = (uint16_t)op,
				.rd = (uint8_t)rd,
				.rs1 = (uint8_t)rs1,
				.rs2 = (uint8_t)rs2,
				.imm = imm,
				.len = 2};
	if (op == OP_ILLEGAL)
		f = (struct insn_fields){.op = OP_ILLEGAL, .imm = raw, .len = 2};
	check_decodes_to(raw, &f);
	g->ops16[op]++;
	put16(g, raw);
}

/* ---- registers ---- */

static bool kept(const struct gen *g, unsigned r)
{
	return (g->keep >> r) & 1;
}

/* A destination for a random instruction: any x register not kept (x0 included). */
static unsigned pick_rd(struct gen *g)
{
	for (;;) {
		unsigned r = below(g, 32);
		if (!kept(g, r))
			return r;
	}
}

/* A scratch register: not x0, not kept, not in avoid (a mask). */
static unsigned pick_tmp(struct gen *g, uint32_t avoid)
{
	for (;;) {
		unsigned r = 1 + below(g, 31);
		if (!kept(g, r) && !((avoid >> r) & 1))
			return r;
	}
}

/* A scratch register of the compressed set x8..x15, or 0 if all are kept or avoided. */
static unsigned pick_creg(struct gen *g, uint32_t avoid)
{
	for (unsigned tries = 0; tries < 32; tries++) {
		unsigned r = 8 + below(g, 8);
		if (!kept(g, r) && !((avoid >> r) & 1))
			return r;
	}
	return 0;
}

/* ---- constants ---- */

/* rd = v, as an assembler's li would: ADDI/C.LI, LUI/C.LUI + ADDIW, or a shorter constant
 * shifted left and topped up. */
static void emit_li(struct gen *g, unsigned rd, uint64_t v)
{
	int64_t s = (int64_t)v;
	if (s >= -2048 && s < 2048) {
		if (s >= -32 && s < 32 && chance(g, 1, 2))
			emit_c(g, c_ci(2, 1, rd, (uint32_t)s & 63), OP_ADDI, rd, 0, 0, s);
		else
			emit(g, OP_ADDI, rd, 0, 0, s);
		return;
	}
	if (s == (int32_t)s) {
		int64_t lo = sext(v & 0xfff, 12);
		int64_t hi = (int64_t)(int32_t)(uint32_t)(v - (uint64_t)lo) & ~0xfffll;
		if (hi >= -(32 << 12) && hi < (32 << 12) && hi && rd != X_SP && chance(g, 1, 2))
			emit_c(g, c_ci(3, 1, rd, (uint32_t)(hi >> 12) & 63), OP_LUI, rd, 0, 0, hi);
		else
			emit(g, OP_LUI, rd, 0, 0, hi);
		if (lo) {
			if (lo >= -32 && lo < 32 && chance(g, 1, 2))
				emit_c(g, c_ci(1, 1, rd, (uint32_t)lo & 63), OP_ADDIW, rd, rd, 0,
				       lo);
			else
				emit(g, OP_ADDIW, rd, rd, 0, lo);
		}
		return;
	}
	int64_t lo = sext(v & 0xfff, 12);
	int64_t hi = (int64_t)(v - (uint64_t)lo) >> 12;
	unsigned shift = 12;
	while (!(hi & 1)) {
		hi >>= 1;
		shift++;
	}
	emit_li(g, rd, (uint64_t)hi);
	if (chance(g, 1, 2))
		emit_c(g, c_ci(0, 2, rd, shift), OP_SLLI, rd, rd, 0, shift);
	else
		emit(g, OP_SLLI, rd, rd, 0, shift);
	if (lo)
		emit(g, OP_ADDI, rd, rd, 0, lo);
}

static const uint64_t int_values[] = {
    0,
    1,
    2,
    ~0ull,
    ~1ull,
    0x8000000000000000ull,
    0x7fffffffffffffffull,
    0x8000000000000001ull,
    0xffffffff80000000ull,
    0x7fffffff,
    0xffffffff,
    0x80000000,
    0xffffffff00000000ull,
    0x100000000ull,
    0x7fff,
    0x8000,
    0xffff,
    0xff,
    0x80,
    0x7ff,
    0x800,
    0xfff,
    0x1000,
    31,
    32,
    63,
    64,
    0xffffffffffff8000ull,
    0x0123456789abcdefull,
    DATA_BASE + 0xffe,
    DATA_BASE + 0x1000,
};

/* An integer operand worth testing: a corner case, a small value, or random bits. */
static uint64_t int_value(struct gen *g)
{
	switch (below(g, 4)) {
	case 0:
	case 1: return int_values[below(g, sizeof(int_values) / sizeof(int_values[0]))];
	case 2: return (uint64_t)((int64_t)below(g, 33) - 16);
	default: return rnd(g);
	}
}

static const uint64_t f64_values[] = {
    0,
    0x8000000000000000ull, /* -0 */
    0x3ff0000000000000ull, /* 1 */
    0xbff0000000000000ull, /* -1 */
    0x3fe0000000000000ull, /* 0.5 */
    0x3ff8000000000000ull, /* 1.5 */
    0x4004000000000000ull, /* 2.5 */
    0xc004000000000000ull, /* -2.5 */
    0x3fb999999999999aull, /* 0.1 */
    0x3fd5555555555555ull, /* 1/3 */
    0x7ff0000000000000ull, /* inf */
    0xfff0000000000000ull, /* -inf */
    0x7ff8000000000000ull, /* canonical NaN */
    0xfff8000000000001ull, /* negative quiet NaN with payload */
    0x7ff0000000000001ull, /* signaling NaN */
    0x0000000000000001ull, /* smallest subnormal */
    0x000fffffffffffffull, /* largest subnormal */
    0x0010000000000000ull, /* smallest normal */
    0x7fefffffffffffffull, /* largest finite */
    0x43e0000000000000ull, /* 2^63 */
    0xc3e0000000000000ull, /* -2^63 */
    0x43f0000000000000ull, /* 2^64 */
    0x41e0000000000000ull, /* 2^31 */
    0xc1e0000000200000ull, /* -2^31 - 1 */
    0x41efffffffe00000ull, /* 2^32 - 1 */
    0x3ca0000000000000ull, /* 2^-53 */
};

static const uint32_t f32_values[] = {
    0,          0x80000000, 0x3f800000, 0xbf800000, 0x3f000000, 0x3fc00000, 0x40200000,
    0xc0200000, 0x3dcccccd, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001,
    0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0x5f000000, 0xdf000000, 0x5f800000,
    0x4f000000, 0xcf000001, 0x4f800000, 0x33800000,
};

/* FP register bits worth testing: doubles, NaN-boxed singles, and singles that are not
 * properly boxed (they read as the canonical NaN). */
static uint64_t fp_value(struct gen *g)
{
	switch (below(g, 6)) {
	case 0:
	case 1: return f64_values[below(g, sizeof(f64_values) / sizeof(f64_values[0]))];
	case 2:
	case 3:
		return 0xffffffff00000000ull |
		       f32_values[below(g, sizeof(f32_values) / sizeof(f32_values[0]))];
	case 4:
		return (chance(g, 1, 2) ? rnd(g) & 0x7fffffff00000000ull : 0) |
		       f32_values[below(g, sizeof(f32_values) / sizeof(f32_values[0]))];
	default: return chance(g, 1, 2) ? rnd(g) : (0xffffffff00000000ull | (uint32_t)rnd(g));
	}
}

/* A 12-bit immediate worth testing. */
static int64_t imm12(struct gen *g)
{
	static const int64_t v[] = {0, 1, -1, 2047, -2048, 4, -8, 0x7f0, 16};
	return chance(g, 1, 2) ? v[below(g, sizeof(v) / sizeof(v[0]))] : sext(rnd(g), 12);
}

/* With probability 1/3, load an interesting value into r first (when it may be written). */
static void maybe_set(struct gen *g, unsigned r)
{
	if (r && !kept(g, r) && chance(g, 1, 3))
		emit_li(g, r, int_value(g));
}

/* f[r] = a chosen bit pattern, through an integer scratch register. */
static void set_freg(struct gen *g, unsigned r)
{
	unsigned t = pick_tmp(g, 0);
	emit_li(g, t, fp_value(g));
	if (chance(g, 1, 4))
		emit(g, OP_FMV_W_X, r, t, 0, 0);
	else
		emit(g, OP_FMV_D_X, r, t, 0, 0);
}

/* ---- single instructions ---- */

static unsigned mem_size(unsigned op)
{
	switch (op) {
	case OP_LB:
	case OP_LBU:
	case OP_SB: return 1;
	case OP_LH:
	case OP_LHU:
	case OP_SH: return 2;
	case OP_LW:
	case OP_LWU:
	case OP_SW:
	case OP_FLW:
	case OP_FSW: return 4;
	default: return 8;
	}
}

/* An address for an access of size bytes: mostly in the data region, aligned, misaligned or
 * crossing into the next page; sometimes one that faults in the current mode. AMOs get
 * naturally aligned addresses but for a few. */
static uint64_t data_addr(struct gen *g, unsigned size, bool atomic)
{
	uint64_t page = DATA_PAGE(below(g, DATA_PAGES));
	unsigned r = below(g, 100);
	if (atomic) {
		uint64_t a = page + (below(g, 4096) & ~(size - 1));
		return r < 8 ? a + 1 + below(g, size - 1) : a;
	}
	if (r < 50)
		return page + (below(g, 4096) & ~(size - 1));
	if (r < 65)
		return page + below(g, 4096 - size + 1);
	if (r < 82)
		return size > 1 ? page + 4096 - 1 - below(g, size - 1) : page;
	if (g->priv == PRV_S && g->paging) {
		static const uint64_t bad[] = {
		    0x40000000,           /* no mapping */
		    0x4000000000ull,      /* not canonical for Sv39 */
		    0xffffffffc0000000,   /* canonical, no mapping */
		    CODE_BASE + 0x1000,   /* readable, not writable */
		    NX_PAGE,              /* read-only */
		    UNMAPPED_CODE,        /* not mapped */
		    PT_ROOT,              /* outside the mapped 2 MiB */
		    DATA_BASE + DATA_SIZE /* the page after the data region: not mapped */
		};
		return bad[below(g, sizeof(bad) / sizeof(bad[0]))] + (below(g, 256) & ~(size - 1));
	}
	switch (below(g, 8)) {
	case 0: return 0x1000 + below(g, 64);                 /* no RAM, no device */
	case 1: return RAM_BASE - 1 - below(g, 4);            /* starts below RAM */
	case 2: return RAM_BASE + RAM_SIZE - 1 - below(g, 4); /* runs past the end of RAM */
	case 3: return MMIO_BASE + below(g, 64);              /* device, any alignment */
	default: return MMIO_BASE + (below(g, 64) & ~7u);     /* device, aligned */
	}
}

static void gen_mem(struct gen *g, unsigned op)
{
	bool fp = op == OP_FLW || op == OP_FLD || op == OP_FSW || op == OP_FSD;
	bool store = (op >= OP_SB && op <= OP_SD) || op == OP_FSW || op == OP_FSD;
	unsigned size = mem_size(op);
	uint64_t addr = data_addr(g, size, false);
	bool c_ok = op == OP_LW || op == OP_LD || op == OP_FLD || op == OP_SW || op == OP_SD ||
		    op == OP_FSD;
	unsigned form = c_ok ? below(g, 6) : 5;
	unsigned base = form == 0 ? pick_creg(g, 0) : 0;

	if (form == 0 && base) { /* C.LW, C.LD, C.FLD, C.SW, C.SD, C.FSD */
		uint32_t u = below(g, 32) * size;
		unsigned r = fp ? 8 + below(g, 8) : store ? 8 + below(g, 8) : pick_creg(g, 0);
		if (!r)
			r = base;
		emit_li(g, base, addr - u);
		switch (op) {
		case OP_LW: emit_c(g, c_lsw(2, base, r, u), op, r, base, 0, u); break;
		case OP_SW: emit_c(g, c_lsw(6, base, r, u), op, 0, base, r, u); break;
		case OP_LD: emit_c(g, c_lsd(3, base, r, u), op, r, base, 0, u); break;
		case OP_FLD: emit_c(g, c_lsd(1, base, r, u), op, r, base, 0, u); break;
		case OP_SD: emit_c(g, c_lsd(7, base, r, u), op, 0, base, r, u); break;
		default: emit_c(g, c_lsd(5, base, r, u), op, 0, base, r, u); break;
		}
		return;
	}
	if (form == 1) { /* the sp-based forms */
		uint32_t u = size == 4 ? below(g, 64) * 4 : below(g, 64) * 8;
		unsigned r = fp ? below(g, 32) : store ? below(g, 32) : pick_tmp(g, 1u << X_SP);
		if (store && !fp)
			maybe_set(g, r);
		emit_li(g, X_SP, addr - u);
		switch (op) {
		case OP_LW: emit_c(g, c_lwsp(r, u), op, r, X_SP, 0, u); break;
		case OP_SW: emit_c(g, c_swsp(r, u), op, 0, X_SP, r, u); break;
		case OP_LD: emit_c(g, c_ldsp(3, r, u), op, r, X_SP, 0, u); break;
		case OP_FLD: emit_c(g, c_ldsp(1, r, u), op, r, X_SP, 0, u); break;
		case OP_SD: emit_c(g, c_sdsp(7, r, u), op, 0, X_SP, r, u); break;
		default: emit_c(g, c_sdsp(5, r, u), op, 0, X_SP, r, u); break;
		}
		return;
	}
	int64_t imm = imm12(g);
	if (store) {
		unsigned v = below(g, 32);
		if (!fp)
			maybe_set(g, v);
		base = pick_tmp(g, fp ? 0 : 1u << v);
		emit_li(g, base, addr - (uint64_t)imm);
		emit(g, op, 0, base, v, imm);
	} else {
		base = pick_tmp(g, 0);
		emit_li(g, base, addr - (uint64_t)imm);
		emit(g, op, fp ? below(g, 32) : pick_rd(g), base, 0, imm);
	}
}

static void emit_amo(struct gen *g, unsigned op, unsigned rd, unsigned rs1, unsigned rs2)
{
	emit_fields(
	    g,
	    (struct insn_fields){
		.op = (uint16_t)op, .rd = (uint8_t)rd, .rs1 = (uint8_t)rs1, .rs2 = (uint8_t)rs2},
	    below(g, 4));
}

/* LR, then something that may or may not break the reservation, then SC. */
static void gen_lr_sc(struct gen *g, bool w)
{
	unsigned size = w ? 4 : 8;
	unsigned base = pick_tmp(g, 0);
	emit_li(g, base, data_addr(g, size, true));
	if (!chance(g, 1, 8))
		emit_amo(g, w ? OP_LR_W : OP_LR_D, pick_rd(g), base, 0);
	switch (below(g, 5)) {
	case 0: /* a plain store to the reserved address */
		emit(g, w ? OP_SW : OP_SD, 0, base, below(g, 32), 0);
		break;
	case 1: /* SC elsewhere */ emit_li(g, base, data_addr(g, size, true)); break;
	case 2: emit(g, OP_ADDI, pick_rd(g), below(g, 32), 0, imm12(g)); break;
	default: break;
	}
	emit_amo(g, w ? OP_SC_W : OP_SC_D, pick_rd(g), base, below(g, 32));
}

static void gen_amo(struct gen *g, unsigned op)
{
	if (op == OP_LR_W || op == OP_SC_W || op == OP_LR_D || op == OP_SC_D) {
		gen_lr_sc(g, op == OP_LR_W || op == OP_SC_W);
		return;
	}
	unsigned size = op <= OP_AMOMAXU_W ? 4 : 8;
	unsigned rs2 = below(g, 32);
	maybe_set(g, rs2);
	unsigned base = pick_tmp(g, 1u << rs2);
	emit_li(g, base, data_addr(g, size, true));
	emit_amo(g, op, pick_rd(g), base, rs2);
}

static int64_t shamt(struct gen *g, bool word)
{
	static const int64_t v[] = {0, 1, 31, 32, 63, 12};
	int64_t s = chance(g, 1, 2) ? v[below(g, 6)] : below(g, 64);
	return word ? s & 31 : s;
}

/* Integer computation: register-register, register-immediate, upper immediates, with
 * compressed forms where they exist. */
static void gen_alu(struct gen *g, unsigned op)
{
	unsigned rs1 = below(g, 32), rs2 = below(g, 32), rd, c = 0;
	maybe_set(g, rs1);
	if (rs2 != rs1)
		maybe_set(g, rs2);
	bool compress = chance(g, 1, 3);

	switch (op) {
	case OP_LUI:
	case OP_AUIPC: {
		int64_t imm = (int64_t)(int32_t)((uint32_t)rnd(g) & 0xfffff000u);
		rd = pick_rd(g);
		if (op == OP_LUI && compress && rd != 0 && rd != X_SP) {
			int64_t i6 = sext(below(g, 64), 6);
			if (i6) {
				emit_c(g, c_ci(3, 1, rd, (uint32_t)i6 & 63), op, rd, 0, 0,
				       i6 * 4096);
				return;
			}
		}
		emit(g, op, rd, 0, 0, imm);
		return;
	}
	case OP_ADDI:
		if (compress) {
			int64_t i6 = sext(below(g, 64), 6);
			switch (below(g, 4)) {
			case 0: /* C.ADDI */
				rd = pick_tmp(g, 0);
				emit_c(g, c_ci(0, 1, rd, (uint32_t)i6 & 63), op, rd, rd, 0, i6);
				return;
			case 1: /* C.LI */
				rd = pick_tmp(g, 0);
				emit_c(g, c_ci(2, 1, rd, (uint32_t)i6 & 63), op, rd, 0, 0, i6);
				return;
			case 2: { /* C.ADDI16SP */
				int64_t nz = (sext(below(g, 64), 6) | 1) * 16;
				emit_c(g, c_addi16sp(nz), op, X_SP, X_SP, 0, nz);
				return;
			}
			default: /* C.ADDI4SPN */
				c = pick_creg(g, 0);
				if (c) {
					uint32_t u = (1 + below(g, 255)) * 4;
					emit_c(g, c_addi4spn(c, u), op, c, X_SP, 0, u);
					return;
				}
			}
		}
		/* fall through */
	case OP_SLTI:
	case OP_SLTIU:
	case OP_XORI:
	case OP_ORI: emit(g, op, pick_rd(g), rs1, 0, imm12(g)); return;
	case OP_ANDI:
		if (compress && (c = pick_creg(g, 0))) {
			int64_t i6 = sext(below(g, 64), 6);
			emit_c(g, c_cb_alu(2, c, (uint32_t)i6 & 63), op, c, c, 0, i6);
			return;
		}
		emit(g, op, pick_rd(g), rs1, 0, imm12(g));
		return;
	case OP_ADDIW:
		if (compress) {
			int64_t i6 = sext(below(g, 64), 6);
			rd = pick_tmp(g, 0);
			emit_c(g, c_ci(1, 1, rd, (uint32_t)i6 & 63), op, rd, rd, 0, i6);
			return;
		}
		emit(g, op, pick_rd(g), rs1, 0, imm12(g));
		return;
	case OP_SLLI:
		if (compress) {
			int64_t s = shamt(g, false);
			rd = pick_tmp(g, 0);
			emit_c(g, c_ci(0, 2, rd, (uint32_t)s), op, rd, rd, 0, s);
			return;
		}
		emit(g, op, pick_rd(g), rs1, 0, shamt(g, false));
		return;
	case OP_SRLI:
	case OP_SRAI:
		if (compress && (c = pick_creg(g, 0))) {
			int64_t s = shamt(g, false);
			emit_c(g, c_cb_alu(op == OP_SRAI, c, (uint32_t)s), op, c, c, 0, s);
			return;
		}
		emit(g, op, pick_rd(g), rs1, 0, shamt(g, false));
		return;
	case OP_SLLIW:
	case OP_SRLIW:
	case OP_SRAIW: emit(g, op, pick_rd(g), rs1, 0, shamt(g, true)); return;
	case OP_ADD:
		if (compress && rs2) {
			rd = pick_tmp(g, 0);
			if (chance(g, 1, 2))
				emit_c(g, c_cr(1, rd, rs2), op, rd, rd, rs2, 0); /* C.ADD */
			else
				emit_c(g, c_cr(0, rd, rs2), op, rd, 0, rs2, 0); /* C.MV */
			return;
		}
		break;
	case OP_SUB:
	case OP_XOR:
	case OP_OR:
	case OP_AND:
	case OP_SUBW:
	case OP_ADDW:
		if (compress && (c = pick_creg(g, 0))) {
			unsigned s = 8 + below(g, 8);
			unsigned b12 = op == OP_SUBW || op == OP_ADDW;
			unsigned f2 = op == OP_SUB || op == OP_SUBW   ? 0
				      : op == OP_XOR || op == OP_ADDW ? 1
				      : op == OP_OR                   ? 2
								      : 3;
			emit_c(g, c_ca(b12, f2, c, s), op, c, c, s, 0);
			return;
		}
		break;
	default: break;
	}
	emit(g, op, pick_rd(g), rs1, rs2, 0);
}

/* A rounding-mode field: mostly valid static modes and DYN, sometimes the reserved 5 and 6. */
static unsigned pick_rm(struct gen *g)
{
	unsigned r = below(g, 16);
	return r < 5 ? r : r < 14 ? RM_DYN : 5 + (r & 1);
}

static bool fp_uses_rm(unsigned op)
{
	switch (op) {
	case OP_FSGNJ_S:
	case OP_FSGNJN_S:
	case OP_FSGNJX_S:
	case OP_FMIN_S:
	case OP_FMAX_S:
	case OP_FMV_X_W:
	case OP_FMV_W_X:
	case OP_FEQ_S:
	case OP_FLT_S:
	case OP_FLE_S:
	case OP_FCLASS_S:
	case OP_FSGNJ_D:
	case OP_FSGNJN_D:
	case OP_FSGNJX_D:
	case OP_FMIN_D:
	case OP_FMAX_D:
	case OP_FMV_X_D:
	case OP_FMV_D_X:
	case OP_FEQ_D:
	case OP_FLT_D:
	case OP_FLE_D:
	case OP_FCLASS_D: return false;
	default: return true;
	}
}

/* FP computation, with chosen operand bit patterns and rounding modes. */
static void gen_fp(struct gen *g, unsigned op)
{
	bool from_x = (op >= OP_FCVT_S_W && op <= OP_FCVT_S_LU) || op == OP_FMV_W_X ||
		      (op >= OP_FCVT_D_W && op <= OP_FCVT_D_LU) || op == OP_FMV_D_X;
	bool to_x = (op >= OP_FCVT_W_S && op <= OP_FCVT_LU_S) || op == OP_FMV_X_W ||
		    (op >= OP_FEQ_S && op <= OP_FCLASS_S) ||
		    (op >= OP_FCVT_W_D && op <= OP_FCVT_LU_D) || op == OP_FMV_X_D ||
		    (op >= OP_FEQ_D && op <= OP_FCLASS_D);
	bool two = !from_x && op != OP_FSQRT_S && op != OP_FSQRT_D && op != OP_FCLASS_S &&
		   op != OP_FCLASS_D && op != OP_FMV_X_W && op != OP_FMV_X_D &&
		   !(op >= OP_FCVT_W_S && op <= OP_FCVT_LU_S) &&
		   !(op >= OP_FCVT_W_D && op <= OP_FCVT_LU_D) && op != OP_FCVT_S_D &&
		   op != OP_FCVT_D_S;
	bool fma =
	    (op >= OP_FMADD_S && op <= OP_FNMADD_S) || (op >= OP_FMADD_D && op <= OP_FNMADD_D);
	unsigned rs1 = below(g, 32), rs2 = two ? below(g, 32) : 0, rs3 = fma ? below(g, 32) : 0;

	if (from_x)
		maybe_set(g, rs1);
	else if (chance(g, 1, 2))
		set_freg(g, rs1);
	if (two && chance(g, 1, 2))
		set_freg(g, rs2);
	if (fma && chance(g, 1, 2))
		set_freg(g, rs3);
	if (chance(g, 1, 8)) /* a new dynamic rounding mode, valid or not */
		emit(g, OP_CSRRWI, pick_rd(g), below(g, 8), 0, CSR_FRM);
	unsigned rd = to_x ? pick_rd(g) : below(g, 32);
	emit_fp(g, op, rd, rs1, rs2, rs3, fp_uses_rm(op) ? pick_rm(g) : 0);
}

/* ---- CSRs ---- */

enum csr_use {
	CSR_ANY,     /* any instruction, any value */
	CSR_BITS,    /* only set and clear, within a mask */
	CSR_READ,    /* only read (writing would break the test's set-up) */
	CSR_SCRATCH, /* mscratch: the handler's pointer, swapped out and back */
};

static const struct {
	uint16_t csr;
	uint8_t use;
	uint64_t mask;
} csr_list[] = {
    {CSR_FFLAGS, CSR_ANY, 0},
    {CSR_FRM, CSR_ANY, 0},
    {CSR_FCSR, CSR_ANY, 0},
    {CSR_SSCRATCH, CSR_ANY, 0},
    {CSR_MSCRATCH, CSR_SCRATCH, 0},
    {CSR_MSTATUS, CSR_BITS, MSTATUS_SAFE},
    {CSR_SSTATUS, CSR_BITS, SSTATUS_SAFE},
    {CSR_MEPC, CSR_ANY, 0},
    {CSR_MCAUSE, CSR_ANY, 0},
    {CSR_MTVAL, CSR_ANY, 0},
    {CSR_SEPC, CSR_ANY, 0},
    {CSR_SCAUSE, CSR_ANY, 0},
    {CSR_STVAL, CSR_ANY, 0},
    {CSR_STVEC, CSR_ANY, 0},
    {CSR_MIE, CSR_ANY, 0},
    {CSR_SIE, CSR_ANY, 0},
    {CSR_MIP, CSR_READ, 0},
    {CSR_SIP, CSR_READ, 0},
    {CSR_SATP, CSR_READ, 0},
    /* written too: jit_run_budget and hart_run_budget count what retired from the batch,
     * not as a difference of instret (which a write moves) */
    {CSR_MINSTRET, CSR_ANY, 0},
    {CSR_MCYCLE, CSR_ANY, 0},
    {CSR_CYCLE, CSR_ANY, 0}, /* read-only numbers: writes are illegal */
    {CSR_INSTRET, CSR_ANY, 0},
    {CSR_TIME, CSR_ANY, 0},
    {CSR_HPMCOUNTER3, CSR_ANY, 0},
    {CSR_MHARTID, CSR_ANY, 0},
    {CSR_MVENDORID, CSR_ANY, 0},
    {CSR_MISA, CSR_ANY, 0},
    {CSR_MEDELEG, CSR_READ, 0},
    {CSR_MIDELEG, CSR_READ, 0},
    {CSR_MTVEC, CSR_READ, 0},
    {CSR_MCOUNTEREN, CSR_READ, 0},
    {CSR_SCOUNTEREN, CSR_READ, 0},
    {CSR_MENVCFG, CSR_BITS, MENVCFG_CBIE | MENVCFG_CBCFE | MENVCFG_CBZE},
    {CSR_SENVCFG, CSR_BITS, MENVCFG_CBIE | MENVCFG_CBCFE | MENVCFG_CBZE},
    {CSR_STIMECMP, CSR_ANY, 0},
    /* R, W, X of entries 0-7 only: their A field stays OFF, so a write changes no permission
     * (entry 15 gives all, apply_start) but flushes every TLB */
    {CSR_PMPCFG0, CSR_BITS, 0x0707070707070707ull},
    {CSR_PMPADDR0, CSR_ANY, 0},
    {CSR_PMPCFG0 + 1, CSR_ANY, 0}, /* does not exist on RV64 */
    {0x7ff, CSR_ANY, 0},           /* does not exist */
    {0x5c0, CSR_ANY, 0},           /* does not exist */
};

static void gen_csr(struct gen *g, unsigned op)
{
	bool imm_form = op >= OP_CSRRWI;
	bool is_write = op == OP_CSRRW || op == OP_CSRRWI;
	unsigned i;
	for (;;) {
		i = below(g, sizeof(csr_list) / sizeof(csr_list[0]));
		unsigned use = csr_list[i].use;
		if (is_write && (use == CSR_BITS || use == CSR_READ))
			continue;
		break;
	}
	unsigned csr = csr_list[i].csr, rd = pick_rd(g);
	if (csr_list[i].use == CSR_SCRATCH && g->priv == PRV_M) {
		/* swap a value in and the handler's pointer straight back */
		unsigned a = pick_tmp(g, 0), b = below(g, 32);
		emit(g, OP_CSRRW, a, b, 0, csr);
		emit(g, OP_CSRRW, rd, a, 0, csr);
		return;
	}
	if (csr_list[i].use == CSR_READ || (csr_list[i].use == CSR_SCRATCH && chance(g, 1, 2))) {
		emit(g, op, rd, 0, 0, csr); /* rs1 = x0 / uimm = 0: no write */
		return;
	}
	if (csr_list[i].use == CSR_BITS) {
		uint64_t bits = rnd(g) & csr_list[i].mask;
		if (imm_form) {
			emit(g, op, rd, (unsigned)(bits & 31), 0, csr);
		} else {
			unsigned t = pick_tmp(g, 0);
			emit_li(g, t, bits);
			emit(g, op, rd, t, 0, csr);
		}
		return;
	}
	if (imm_form) {
		emit(g, op, rd, below(g, 32), 0, csr);
	} else {
		unsigned s = below(g, 32);
		maybe_set(g, s);
		emit(g, op, rd, s, 0, csr);
	}
}

/* ---- control flow and structure ---- */

static void gen_item(struct gen *g);

/* Patch the offset of the branch or jump at `at` (emitted with offset 0) to reach target, and
 * check the result decodes to it. */
static void patch_to(struct gen *g, uint64_t at, uint64_t target)
{
	int64_t off = (int64_t)(target - at);
	uint32_t raw = read32(g, at);
	struct insn_fields f;
	decode(raw, &f);
	if ((raw & 3) != 3) {
		uint16_t c = (uint16_t)raw;
		assert_true((c >> 13) == 5 ? off >= -2048 && off < 2048 : off >= -256 && off < 256);
		c = (c >> 13) == 5 ? c_j(off) : c_b(c >> 13, f.rs1, off);
		memcpy(g->ram + (at - RAM_BASE), &c, 2);
	} else if ((raw & 0x7f) == OPC_JAL) {
		write32(g, at, enc_j(f.rd, off));
	} else {
		assert_true(off >= -4096 && off < 4096);
		write32(g, at, enc_b(raw >> 12 & 7, f.rs1, f.rs2, off));
	}
	struct insn_fields after;
	decode(read32(g, at), &after);
	f.imm = off;
	check_decodes_to(read32(g, at), &f);
	(void)after;
}

/* Patch the 12-bit immediate of the I-type instruction at `at`. */
static void patch_imm(struct gen *g, uint64_t at, int64_t imm)
{
	assert_true(imm >= -2048 && imm < 2048);
	uint32_t raw = read32(g, at);
	write32(g, at, (raw & 0xfffff) | ((uint32_t)imm & 0xfff) << 20);
}

/* Items until the body reaches about budget bytes or n items. */
static void gen_body(struct gen *g, unsigned n, uint64_t budget)
{
	uint64_t start = g->pc;
	g->depth++;
	for (unsigned i = 0; i < n && g->pc - start < budget; i++)
		gen_item(g);
	g->depth--;
}

/* Register-register ALU ops only: a body short enough for compressed branches. */
static void gen_short_body(struct gen *g)
{
	static const uint16_t ops[] = {OP_ADD, OP_SUB, OP_XOR, OP_SLT, OP_MUL, OP_ADDW, OP_SRA};
	for (unsigned i = below(g, 4); i; i--)
		emit(g, ops[below(g, sizeof(ops) / sizeof(ops[0]))], pick_rd(g), below(g, 32),
		     below(g, 32), 0);
}

/* A branch or jump (op) over a few items. */
static void gen_forward(struct gen *g, unsigned op)
{
	uint64_t at;
	if (op >= OP_BEQ && op <= OP_BGEU) {
		unsigned rs1 = below(g, 32), rs2 = below(g, 32);
		if (chance(g, 1, 3) && rs1 && !kept(g, rs1)) /* make equal values likely */
			emit(g, OP_ADDI, rs1, rs2, 0, (int64_t)below(g, 3) - 1);
		unsigned c = pick_creg(g, 0) ? 8 + below(g, 8) : 0;
		if ((op == OP_BEQ || op == OP_BNE) && c && chance(g, 1, 3)) {
			at = g->pc;
			emit_c(g, c_b(op == OP_BEQ ? 6 : 7, c, 0), op, 0, c, 0, 0);
			gen_short_body(g);
		} else {
			at = g->pc;
			emit(g, op, 0, rs1, rs2, 0);
			gen_body(g, 1 + below(g, 4), 600);
		}
		patch_to(g, at, g->pc);
		return;
	}
	if (op == OP_JAL) {
		at = g->pc;
		unsigned rd = chance(g, 1, 3) ? 0 : pick_rd(g);
		if (rd == 0 && chance(g, 1, 2))
			emit_c(g, c_j(0), op, 0, 0, 0, 0);
		else
			emit(g, op, rd, 0, 0, 0);
		gen_body(g, 1 + below(g, 4), 600);
		patch_to(g, at, g->pc);
		return;
	}
	/* JALR: the target from AUIPC, through the immediate or an ADDI. */
	unsigned t = pick_tmp(g, 0);
	uint64_t auipc = g->pc;
	emit(g, OP_AUIPC, t, 0, 0, 0);
	if (chance(g, 1, 3)) {
		at = g->pc;
		emit(g, OP_ADDI, t, t, 0, 0);
		if (chance(g, 1, 2))
			emit_c(g, c_cr(0, t, 0), OP_JALR, 0, t, 0, 0); /* C.JR */
		else
			emit_c(g, c_cr(1, t, 0), OP_JALR, X_RA, t, 0, 0); /* C.JALR */
		gen_body(g, 1 + below(g, 4), 600);
		patch_imm(g, at, (int64_t)(g->pc - auipc));
		return;
	}
	at = g->pc;
	unsigned rd = chance(g, 1, 3) ? 0 : pick_rd(g);
	emit(g, OP_JALR, rd, t, 0, 0);
	gen_body(g, 1 + below(g, 4), 600);
	/* bit 0 of the target is ignored: set it sometimes */
	patch_imm(g, at, (int64_t)(g->pc - auipc) + below(g, 2));
}

/* A counted loop (1 to 3 iterations) around a body, closed in one of three ways. */
static void gen_loop(struct gen *g, uint64_t budget)
{
	static const uint8_t counters[] = {8, 9, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27};
	unsigned cnt = 0;
	for (unsigned tries = 0; tries < 16 && !cnt; tries++) {
		unsigned r = counters[below(g, sizeof(counters))];
		if (!kept(g, r))
			cnt = r;
	}
	if (!cnt) {
		gen_item(g);
		return;
	}
	emit_li(g, cnt, 1 + below(g, 3));
	g->keep |= 1u << cnt;
	uint64_t top = g->pc, exit_at = 0;
	unsigned kind = below(g, 3);
	if (kind == 2) {
		exit_at = g->pc;
		emit(g, OP_BEQ, 0, cnt, 0, 0);
	}
	gen_body(g, 2 + below(g, 8), budget);
	if (chance(g, 1, 2))
		emit_c(g, c_ci(0, 1, cnt, 63), OP_ADDI, cnt, cnt, 0, -1);
	else
		emit(g, OP_ADDI, cnt, cnt, 0, -1);
	int64_t back = (int64_t)(top - g->pc);
	if (kind == 0) {
		if (cnt >= 8 && cnt <= 15 && back >= -256 && chance(g, 1, 2))
			emit_c(g, c_b(7, cnt, back), OP_BNE, 0, cnt, 0, back);
		else
			emit(g, OP_BNE, 0, cnt, 0, back);
	} else if (kind == 1) {
		emit(g, OP_BLT, 0, 0, cnt, back);
	} else {
		if (back >= -2048 && chance(g, 1, 2))
			emit_c(g, c_j(back), OP_JAL, 0, 0, 0, back);
		else
			emit(g, OP_JAL, 0, 0, 0, back);
		patch_to(g, exit_at, g->pc);
	}
	g->keep &= ~(1u << cnt);
}

/* A call into a page that faults on fetch in S-mode (the handler returns to ra) or that
 * returns at once, page-straddling instructions included. */
static void gen_far_call(struct gen *g)
{
	static const uint64_t targets[] = {NX_PAGE, STRADDLE_X, STRADDLE_NX, UNMAPPED_CODE, 0x1000};
	uint64_t target = targets[below(g, sizeof(targets) / sizeof(targets[0]))];
	if (g->priv == PRV_S && g->paging && chance(g, 1, 4)) {
		unsigned p = below(g, DATA_PAGES); /* data pages: none is executable but DP_XONLY */
		target = DATA_PAGE(p == DP_XONLY ? 0 : p) + (below(g, 2048) & ~1u);
	}
	unsigned t = pick_tmp(g, 1u << X_RA);
	emit_li(g, t, target);
	if (chance(g, 1, 2))
		emit_c(g, c_cr(1, t, 0), OP_JALR, X_RA, t, 0, 0);
	else
		emit(g, OP_JALR, X_RA, t, 0, 0);
}

/* MRET in M-mode (MPP = M) or SRET in S-mode (SPP = S) to the next instruction. */
static void gen_xret_next(struct gen *g)
{
	unsigned t = pick_tmp(g, 0);
	bool m = g->priv == PRV_M;
	emit_li(g, t, m ? MSTATUS_MPP : MSTATUS_SPP);
	emit(g, OP_CSRRS, 0, t, 0, m ? CSR_MSTATUS : CSR_SSTATUS);
	uint64_t auipc = g->pc;
	emit(g, OP_AUIPC, t, 0, 0, 0);
	emit(g, OP_ADDI, t, t, 0, 16);
	emit(g, OP_CSRRW, 0, t, 0, m ? CSR_MEPC : CSR_SEPC);
	emit(g, m ? OP_MRET : OP_SRET, 0, 0, 0, 0);
	assert_int_equal(g->pc, auipc + 16);
}

static void gen_illegal(struct gen *g)
{
	switch (below(g, 4)) {
	case 0: emit_c(g, 0x0000, OP_ILLEGAL, 0, 0, 0, 0); return;
	case 1: emit(g, OP_ILLEGAL, 0, 0, 0, 0xffffffff); return;
	default:
		for (;;) { /* a random word the decoder rejects */
			uint32_t raw = (uint32_t)rnd(g);
			struct insn_fields f;
			if (chance(g, 1, 3))
				raw &= 0xffff;
			else
				raw |= 3;
			decode(raw, &f);
			if (f.op != OP_ILLEGAL)
				continue;
			if (f.len == 2)
				emit_c(g, (uint16_t)raw, OP_ILLEGAL, 0, 0, 0, 0);
			else
				emit(g, OP_ILLEGAL, 0, 0, 0, raw);
			return;
		}
	}
}

/* Zcb's compressed forms of op, on c (x8..x15), when it has one; returns whether emitted. */
static bool gen_zcb(struct gen *g, unsigned op, unsigned c)
{
	static const struct {
		uint16_t op, sel;
	} unary[] = {{OP_SEXT_B, 1}, {OP_ZEXT_H, 2}, {OP_SEXT_H, 3}, {OP_ADD_UW, 4}};
	for (unsigned i = 0; i < sizeof(unary) / sizeof(unary[0]); i++) {
		if (unary[i].op != op)
			continue;
		uint16_t raw = (uint16_t)(0x9c61 | (c - 8) << 7 | unary[i].sel << 2);
		emit_c(g, raw, op, c, c, 0, 0);
		return true;
	}
	return false;
}

/* The Zicbom/Zicboz instructions: rs1 anywhere in a data page (or a faulting address); they
 * act on its naturally aligned 64-byte block. */
static void gen_cbo(struct gen *g, unsigned op)
{
	unsigned base = pick_tmp(g, 0);
	emit_li(g, base, data_addr(g, 1, false));
	emit(g, op, 0, base, 0, 0);
}

/* The instructions of the extensions beyond RV64GC, with Zcb's compressed forms and the
 * compressed ones that expand to base instructions (c.zext.b, c.not, c.mul). */
static void gen_ext(struct gen *g, unsigned op)
{
	unsigned rs1 = below(g, 32), rs2 = below(g, 32), c;
	maybe_set(g, rs1);
	if (rs2 != rs1)
		maybe_set(g, rs2);
	if (chance(g, 1, 3) && (c = pick_creg(g, 0)) && gen_zcb(g, op, c))
		return;
	switch (op) {
	case OP_SLLI_UW:
	case OP_RORI:
	case OP_BCLRI:
	case OP_BEXTI:
	case OP_BINVI:
	case OP_BSETI: emit(g, op, pick_rd(g), rs1, 0, shamt(g, false)); return;
	case OP_RORIW: emit(g, op, pick_rd(g), rs1, 0, shamt(g, true)); return;
	case OP_CLZ:
	case OP_CLZW:
	case OP_CTZ:
	case OP_CTZW:
	case OP_CPOP:
	case OP_CPOPW:
	case OP_SEXT_B:
	case OP_SEXT_H:
	case OP_ZEXT_H:
	case OP_ORC_B:
	case OP_REV8: emit(g, op, pick_rd(g), rs1, 0, 0); return;
	case OP_MOP_R_N: emit(g, op, pick_rd(g), rs1, 0, below(g, 32)); return;
	case OP_MOP_RR_N: emit(g, op, pick_rd(g), rs1, rs2, below(g, 8)); return;
	case OP_C_MOP_N: {
		unsigned n = below(g, 8);
		emit_c(g, (uint16_t)(0x6081 | n << 8), op, 0, 0, 0, 2 * n + 1);
		return;
	}
	case OP_WRS_NTO:
	case OP_WRS_STO: emit(g, op, 0, 0, 0, 0); return;
	case OP_CBO_INVAL:
	case OP_CBO_CLEAN:
	case OP_CBO_FLUSH:
	case OP_CBO_ZERO: gen_cbo(g, op); return;
	default: break;
	}
	/* Zcb's forms of base instructions: c.zext.b (andi 255), c.not (xori -1), c.mul. */
	if (chance(g, 1, 4) && (c = pick_creg(g, 0))) {
		switch (below(g, 3)) {
		case 0: emit_c(g, (uint16_t)(0x9c61 | (c - 8) << 7), OP_ANDI, c, c, 0, 255); break;
		case 1: emit_c(g, (uint16_t)(0x9c75 | (c - 8) << 7), OP_XORI, c, c, 0, -1); break;
		default: {
			unsigned s = 8 + below(g, 8);
			emit_c(g, (uint16_t)(0x9c41 | (c - 8) << 7 | (s - 8) << 2), OP_MUL, c, c, s,
			       0);
			break;
		}
		}
	}
	emit(g, op, pick_rd(g), rs1, rs2, 0);
}

/* Zfhmin and Zfa, with halves (NaN-boxed or not) among the operand patterns. */
static void gen_zf(struct gen *g, unsigned op)
{
	unsigned a = below(g, 32), b = below(g, 32);
	for (unsigned k = 0; k < 2; k++) {
		unsigned r = k ? b : a;
		if (chance(g, 1, 3)) {
			unsigned t = pick_tmp(g, 0);
			static const uint16_t halves[] = {0x3c00, 0x7bff, 0x7c00, 0x7c01, 0x7e00,
							  0x0001, 0x8400, 0x3555, 0xfc00};
			uint64_t hv = chance(g, 1, 2) ? halves[below(g, 9)] : below(g, 0x10000);
			emit_li(g, t, (chance(g, 7, 8) ? 0xffffffffffff0000ull : 0) | hv);
			emit(g, OP_FMV_D_X, r, t, 0, 0);
		} else if (chance(g, 1, 3)) {
			set_freg(g, r);
		}
	}
	switch (op) {
	case OP_FLH: {
		unsigned base = pick_tmp(g, 0);
		int64_t imm = imm12(g);
		emit_li(g, base, data_addr(g, 2, false) - (uint64_t)imm);
		emit(g, op, a, base, 0, imm);
		return;
	}
	case OP_FSH: {
		unsigned base = pick_tmp(g, 0);
		int64_t imm = imm12(g);
		emit_li(g, base, data_addr(g, 2, false) - (uint64_t)imm);
		emit(g, op, 0, base, b, imm);
		return;
	}
	case OP_FMV_H_X: {
		unsigned x = below(g, 32);
		maybe_set(g, x);
		emit(g, op, a, x, 0, 0);
		return;
	}
	case OP_FMV_X_H:
	case OP_FLEQ_S:
	case OP_FLTQ_S:
	case OP_FLEQ_D:
	case OP_FLTQ_D: emit_fp(g, op, pick_rd(g), a, op == OP_FMV_X_H ? 0 : b, 0, 0); return;
	case OP_FCVTMOD_W_D: emit_fp(g, op, pick_rd(g), a, 0, 0, RM_RTZ); return;
	case OP_FLI_S:
	case OP_FLI_D: emit(g, op, below(g, 32), below(g, 32), 0, 0); return;
	case OP_FMINM_S:
	case OP_FMAXM_S:
	case OP_FMINM_D:
	case OP_FMAXM_D: emit_fp(g, op, below(g, 32), a, b, 0, 0); return;
	default: emit_fp(g, op, below(g, 32), a, 0, 0, pick_rm(g)); return; /* rounding ops */
	}
}

/* One instruction of the given op with chosen operands (and what it needs before it). */
static void gen_op(struct gen *g, unsigned op)
{
	if (op == OP_SINVAL_VMA) { /* Svinval: as sfence.vma, all or one data page */
		unsigned rs1 = chance(g, 1, 2) ? 0 : pick_tmp(g, 0);
		if (rs1)
			emit_li(g, rs1, DATA_PAGE(below(g, DATA_PAGES)));
		emit(g, op, 0, rs1, chance(g, 1, 2) ? 0 : below(g, 32), 0);
	} else if (op == OP_SFENCE_W_INVAL || op == OP_SFENCE_INVAL_IR) {
		emit(g, op, 0, 0, 0, 0);
	} else if ((op >= OP_LB && op <= OP_SD) || op == OP_FLW || op == OP_FSW || op == OP_FLD ||
		   op == OP_FSD) {
		gen_mem(g, op);
	} else if (op >= OP_LR_W && op <= OP_AMOMAXU_D) {
		gen_amo(g, op);
	} else if (op >= OP_CSRRW && op <= OP_CSRRCI) {
		gen_csr(g, op);
	} else if (op >= OP_FLH && op <= OP_FLTQ_D) {
		gen_zf(g, op);
	} else if (op >= OP_ADD_UW) {
		gen_ext(g, op);
	} else if (op >= OP_FMADD_S) {
		gen_fp(g, op);
	} else if (op == OP_JAL || op == OP_JALR || (op >= OP_BEQ && op <= OP_BGEU)) {
		if (g->depth < 3)
			gen_forward(g, op);
		else
			emit(g, OP_ADD, pick_rd(g), below(g, 32), below(g, 32), 0);
	} else {
		switch (op) {
		case OP_ILLEGAL: gen_illegal(g); break;
		case OP_FENCE: emit(g, op, 0, 0, 0, below(g, 4096)); break;
		case OP_FENCE_I:
		case OP_ECALL:
		case OP_WFI: emit(g, op, 0, 0, 0, 0); break;
		case OP_EBREAK:
			if (chance(g, 1, 2))
				emit_c(g, c_cr(1, 0, 0), op, 0, 0, 0, 0);
			else
				emit(g, op, 0, 0, 0, 0);
			break;
		case OP_MRET:
			if (g->priv == PRV_S) /* illegal there */
				emit(g, op, 0, 0, 0, 0);
			else
				gen_xret_next(g);
			break;
		case OP_SRET: gen_xret_next(g); break;
		case OP_SFENCE_VMA: {
			unsigned rs1 = chance(g, 1, 2) ? 0 : pick_tmp(g, 0);
			if (rs1)
				emit_li(g, rs1, DATA_PAGE(below(g, DATA_PAGES)));
			emit(g, op, 0, rs1, chance(g, 1, 2) ? 0 : below(g, 32), 0);
			break;
		}
		default: gen_alu(g, op); break;
		}
	}
}

/* The next op to generate: every op in turn (shuffled), mixed with ops at random. */
static unsigned pick_op(struct gen *g)
{
	if (chance(g, 1, 2))
		return below(g, OP_COUNT);
	if (g->cursor == OP_COUNT) {
		for (unsigned i = OP_COUNT - 1; i > 0; i--) {
			unsigned j = below(g, i + 1);
			uint16_t t = g->order[i];
			g->order[i] = g->order[j];
			g->order[j] = t;
		}
		g->cursor = 0;
	}
	return g->order[g->cursor++];
}

/* Anything that may sit inside a loop or a forward jump. */
static void gen_item(struct gen *g)
{
	unsigned r = below(g, 100);
	if (r < 4 && g->depth < 2)
		gen_loop(g, 300);
	else if (r < 10)
		gen_far_call(g);
	else if (r < 12) {
		unsigned t = pick_tmp(g, 0); /* FS on again, after a random clear */
		emit_li(g, t, MSTATUS_FS);
		emit(g, OP_CSRRS, 0, t, 0, g->priv == PRV_M ? CSR_MSTATUS : CSR_SSTATUS);
	} else if (r < 14 && g->priv == PRV_S && g->paging) {
		unsigned t = pick_tmp(g, 0); /* write satp again: a TLB flush */
		emit(g, OP_CSRRS, t, 0, 0, CSR_SATP);
		emit(g, OP_CSRRW, 0, t, 0, CSR_SATP);
	} else {
		gen_op(g, pick_op(g));
	}
}

/* Code that patches an instruction it runs on each iteration, then fence.i (M-mode). */
static void gen_smc(struct gen *g)
{
	unsigned cnt = 18 + below(g, 10);
	if (kept(g, cnt))
		return;
	g->keep |= 1u << cnt;
	unsigned r = pick_tmp(g, 0), t = pick_tmp(g, 1u << r), t2 = pick_tmp(g, 1u << r | 1u << t);
	emit_li(g, cnt, 2 + below(g, 3));
	uint64_t top = g->pc, slot = g->pc;
	emit(g, OP_ADDI, r, r, 0, 1);
	struct insn_fields f = {.op = OP_ADDI, .rd = (uint8_t)r, .rs1 = (uint8_t)r};
	emit_li(g, t, assemble(&f, 0));
	emit(g, OP_SLLI, t2, cnt, 0, 20);
	emit(g, OP_ADD, t, t, t2, 0);
	uint64_t auipc = g->pc;
	emit(g, OP_AUIPC, t2, 0, 0, 0);
	emit(g, OP_SW, 0, t2, t, (int64_t)(slot - auipc));
	emit(g, OP_FENCE_I, 0, 0, 0, 0);
	emit(g, OP_ADDI, cnt, cnt, 0, -1);
	emit(g, OP_BNE, 0, cnt, 0, (int64_t)(top - g->pc));
	g->keep &= ~(1u << cnt);
	if (g->smc_slots < sizeof(g->smc_slot) / sizeof(g->smc_slot[0]))
		g->smc_slot[g->smc_slots++] = slot;
}

/* M-mode: make the demand page invalid again, or clear A and D of DP_AD_CLEAR, then
 * sfence.vma (all, or the page). */
static void gen_pte_reset(struct gen *g)
{
	bool demand = chance(g, 1, 2);
	uint64_t va = DATA_PAGE(demand ? DP_DEMAND : DP_AD_CLEAR);
	unsigned a = pick_tmp(g, 0), v = pick_tmp(g, 1u << a);
	emit_li(g, a, PTE_ADDR(va));
	emit_li(g, v, demand ? DEMAND_INVALID : AD_CLEAR_PTE);
	emit(g, OP_SD, 0, a, v, 0);
	if (chance(g, 1, 2)) {
		emit_li(g, a, va + below(g, 4096));
		emit(g, OP_SFENCE_VMA, 0, a, 0, 0);
	} else {
		emit(g, OP_SFENCE_VMA, 0, 0, 0, 0);
	}
}

/* M-mode: enter S-mode (by MRET or SRET, with Sv39 or bare), run items there, and come back by
 * the handler's exit ecall. */
static void gen_s_excursion(struct gen *g)
{
	unsigned t = pick_tmp(g, 0);
	g->paging = !chance(g, 1, 8);
	if (g->paging) {
		emit_li(g, t, SATP_VALUE);
		emit(g, OP_CSRRW, 0, t, 0, CSR_SATP);
	} else {
		emit(g, OP_CSRRW, 0, 0, 0, CSR_SATP);
	}
	emit_li(g, t, MSTATUS_FS);
	emit(g, OP_CSRRS, 0, t, 0, CSR_MSTATUS);
	if (chance(g, 1, 2)) {
		emit_li(g, t, MSTATUS_MPP);
		emit(g, OP_CSRRC, 0, t, 0, CSR_MSTATUS);
		emit_li(g, t, (uint64_t)PRV_S << MSTATUS_MPP_SHIFT);
		emit(g, OP_CSRRS, 0, t, 0, CSR_MSTATUS);
		emit(g, OP_AUIPC, t, 0, 0, 0);
		emit(g, OP_ADDI, t, t, 0, 16);
		emit(g, OP_CSRRW, 0, t, 0, CSR_MEPC);
		emit(g, OP_MRET, 0, 0, 0, 0);
	} else {
		emit_li(g, t, MSTATUS_SPP);
		emit(g, OP_CSRRS, 0, t, 0, CSR_MSTATUS);
		emit(g, OP_AUIPC, t, 0, 0, 0);
		emit(g, OP_ADDI, t, t, 0, 16);
		emit(g, OP_CSRRW, 0, t, 0, CSR_SEPC);
		emit(g, OP_SRET, 0, 0, 0, 0);
	}
	g->priv = PRV_S;
	for (unsigned i = 10 + below(g, 40); i; i--) {
		if (chance(g, 1, 10))
			gen_loop(g, 1200);
		else
			gen_item(g);
	}
	emit_li(g, X_A7, EXIT_MAGIC);
	emit(g, OP_ECALL, 0, 0, 0, 0);
	g->priv = PRV_M;
	emit(g, OP_ADDI, X_A7, 0, 0, 0);
}

static void gen_top_item(struct gen *g)
{
	unsigned r = below(g, 100);
	if (r < 14)
		gen_s_excursion(g);
	else if (r < 24)
		gen_loop(g, 1200);
	else if (r < 27)
		gen_smc(g);
	else if (r < 30)
		gen_pte_reset(g);
	else
		gen_item(g);
}

/* ---- the fixed part of every program: trap handler, call targets, page tables ---- */

/* The M-mode trap handler. It saves t0..t2 through mscratch, then: an ecall from S-mode with
 * a7 = EXIT_MAGIC returns to M-mode; a fetch fault returns to ra (the faulting call's return
 * address); a load or store page fault on the demand page maps it and retries; anything else
 * returns past the trapping instruction (2 or 4 bytes, read at mepc). */
static void gen_handler(struct gen *g)
{
	uint64_t not_exit, to_skip1, to_skip2, fetch1, fetch2, pf1, pf2, to_skip3, not_demand,
	    to_out1, to_out2, short_insn;
	g->pc = HANDLER_PC;
	emit(g, OP_CSRRW, X_SP, X_SP, 0, CSR_MSCRATCH);
	emit(g, OP_SD, 0, X_SP, X_T0, 0);
	emit(g, OP_SD, 0, X_SP, X_T1, 8);
	emit(g, OP_SD, 0, X_SP, X_T2, 16);
	emit(g, OP_CSRRS, X_T0, 0, 0, CSR_MCAUSE);
	emit(g, OP_ADDI, X_T1, 0, 0, CAUSE_SUPERVISOR_ECALL);
	not_exit = g->pc;
	emit(g, OP_BNE, 0, X_T0, X_T1, 0);
	emit_li(g, X_T1, EXIT_MAGIC);
	to_skip1 = g->pc;
	emit(g, OP_BNE, 0, X_A7, X_T1, 0);
	emit_li(g, X_T1, MSTATUS_MPP);
	emit(g, OP_CSRRS, 0, X_T1, 0, CSR_MSTATUS);
	to_skip2 = g->pc;
	emit(g, OP_JAL, 0, 0, 0, 0);
	patch_to(g, not_exit, g->pc);
	emit(g, OP_ADDI, X_T1, 0, 0, CAUSE_FETCH_PAGE_FAULT);
	fetch1 = g->pc;
	emit(g, OP_BEQ, 0, X_T0, X_T1, 0);
	emit(g, OP_ADDI, X_T1, 0, 0, CAUSE_FETCH_ACCESS);
	fetch2 = g->pc;
	emit(g, OP_BEQ, 0, X_T0, X_T1, 0);
	emit(g, OP_ADDI, X_T1, 0, 0, CAUSE_LOAD_PAGE_FAULT);
	pf1 = g->pc;
	emit(g, OP_BEQ, 0, X_T0, X_T1, 0);
	emit(g, OP_ADDI, X_T1, 0, 0, CAUSE_STORE_PAGE_FAULT);
	pf2 = g->pc;
	emit(g, OP_BEQ, 0, X_T0, X_T1, 0);
	to_skip3 = g->pc;
	emit(g, OP_JAL, 0, 0, 0, 0);
	/* page fault: the demand page? */
	patch_to(g, pf1, g->pc);
	patch_to(g, pf2, g->pc);
	emit(g, OP_CSRRS, X_T1, 0, 0, CSR_MTVAL);
	emit(g, OP_SRLI, X_T1, X_T1, 0, 12);
	emit_li(g, X_T2, DATA_PAGE(DP_DEMAND) >> 12);
	not_demand = g->pc;
	emit(g, OP_BNE, 0, X_T1, X_T2, 0);
	emit_li(g, X_T1, PTE_ADDR(DATA_PAGE(DP_DEMAND)));
	emit_li(g, X_T2, DEMAND_VALID);
	emit(g, OP_SD, 0, X_T1, X_T2, 0);
	emit(g, OP_SFENCE_VMA, 0, 0, 0, 0);
	to_out1 = g->pc;
	emit(g, OP_JAL, 0, 0, 0, 0);
	/* fetch fault: back to the caller */
	patch_to(g, fetch1, g->pc);
	patch_to(g, fetch2, g->pc);
	emit(g, OP_CSRRW, 0, X_RA, 0, CSR_MEPC);
	to_out2 = g->pc;
	emit(g, OP_JAL, 0, 0, 0, 0);
	/* skip the trapping instruction */
	patch_to(g, to_skip1, g->pc);
	patch_to(g, to_skip2, g->pc);
	patch_to(g, to_skip3, g->pc);
	patch_to(g, not_demand, g->pc);
	emit(g, OP_CSRRS, X_T0, 0, 0, CSR_MEPC);
	emit(g, OP_LHU, X_T1, X_T0, 0, 0);
	emit(g, OP_ANDI, X_T1, X_T1, 0, 3);
	emit(g, OP_ADDI, X_T0, X_T0, 0, 2);
	emit(g, OP_ADDI, X_T2, 0, 0, 3);
	short_insn = g->pc;
	emit(g, OP_BNE, 0, X_T1, X_T2, 0);
	emit(g, OP_ADDI, X_T0, X_T0, 0, 2);
	patch_to(g, short_insn, g->pc);
	emit(g, OP_CSRRW, 0, X_T0, 0, CSR_MEPC);
	patch_to(g, to_out1, g->pc);
	patch_to(g, to_out2, g->pc);
	emit(g, OP_LD, X_T0, X_SP, 0, 0);
	emit(g, OP_LD, X_T1, X_SP, 0, 8);
	emit(g, OP_LD, X_T2, X_SP, 0, 16);
	emit(g, OP_CSRRW, X_SP, X_SP, 0, CSR_MSCRATCH);
	emit(g, OP_MRET, 0, 0, 0, 0);
	assert_true(g->pc < SAVE_AREA);
}

static void pt_set(struct gen *g, uint64_t table, unsigned idx, uint64_t pte)
{
	memcpy(g->ram + (table - RAM_BASE) + 8 * idx, &pte, 8);
}

static uint64_t pte_for(uint64_t pa, uint64_t flags)
{
	return (pa >> 12) << 10 | flags | PTE_V;
}

/* Sv39: VA 0x80000000..0x801fffff through one level-0 table, identity-mapped. */
static void gen_page_tables(struct gen *g)
{
	const uint64_t rx = PTE_R | PTE_X | PTE_A, rw = PTE_R | PTE_W | PTE_A | PTE_D;
	pt_set(g, PT_ROOT, 2, pte_for(PT_L1, 0));
	pt_set(g, PT_L1, 0, pte_for(PT_L0, 0));
	pt_set(g, PT_L0, L0_INDEX(HANDLER_PC), pte_for(HANDLER_PC, rx));
	pt_set(g, PT_L0, L0_INDEX(NX_PAGE), pte_for(NX_PAGE, PTE_R | PTE_A));
	for (uint64_t p = 0x3000; p <= 0x5000; p += 0x1000)
		pt_set(g, PT_L0, L0_INDEX(RAM_BASE + p), pte_for(RAM_BASE + p, rx));
	pt_set(g, PT_L0, L0_INDEX(RAM_BASE + 0x6000), pte_for(RAM_BASE + 0x6000, PTE_R | PTE_A));
	for (uint64_t pa = CODE_BASE; pa < CODE_END; pa += 4096)
		pt_set(g, PT_L0, L0_INDEX(pa), pte_for(pa, rx));
	for (unsigned p = 0; p < DATA_PAGES; p++) {
		uint64_t pa = DATA_PAGE(p), pte = pte_for(pa, rw);
		switch (p) {
		case DP_AD_CLEAR: pte = AD_CLEAR_PTE; break;
		case DP_RO: pte = pte_for(pa, PTE_R | PTE_A); break;
		case DP_DEMAND: pte = DEMAND_INVALID; break;
		case DP_XONLY: pte = pte_for(pa, PTE_X | PTE_A); break;
		case DP_USER: pte = pte_for(pa, rw | PTE_U); break;
		default: break;
		}
		pt_set(g, PT_L0, L0_INDEX(pa), pte);
	}
}

/* Targets of gen_far_call: in M-mode each returns at once; in S-mode some fault on fetch. */
static void gen_targets(struct gen *g)
{
	static const uint64_t rets[] = {NX_PAGE, STRADDLE_X + 4, STRADDLE_NX + 4, UNMAPPED_CODE};
	for (unsigned i = 0; i < 4; i++) {
		g->pc = rets[i];
		emit(g, OP_JALR, 0, X_RA, 0, 0);
	}
	g->pc = STRADDLE_X;
	emit(g, OP_ADDI, X_A0, X_A0, 0, 1);
	g->pc = STRADDLE_NX;
	emit(g, OP_ADDI, X_A1, X_A1, 0, 1);
}

/* Fill every data page with random bytes. */
static void gen_data(struct gen *g)
{
	for (uint64_t off = 0; off < DATA_SIZE; off += 8) {
		uint64_t v = chance(g, 1, 4) ? int_value(g) : rnd(g);
		memcpy(g->ram + (DATA_BASE - RAM_BASE) + off, &v, 8);
	}
}

/* A whole program into ram; returns the pc of its final self-loop. */
static uint64_t gen_program(struct gen *g, unsigned items)
{
	for (unsigned i = 0; i < OP_COUNT; i++)
		g->order[i] = (uint16_t)i;
	g->cursor = OP_COUNT;
	g->priv = PRV_M;
	g->paging = true;
	gen_handler(g);
	gen_targets(g);
	gen_page_tables(g);
	gen_data(g);
	g->pc = CODE_BASE;
	g->limit = CODE_END - 0x10000;
	for (unsigned i = 0; i < items && g->pc < g->limit; i++)
		gen_top_item(g);
	uint64_t end = g->pc;
	emit(g, OP_JAL, 0, 0, 0, 0);
	assert_true(g->pc <= CODE_END);
	return end;
}

/* ---- the two sides ---- */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

/* A device with eight 64-bit registers that accepts 4- and 8-byte accesses (the bus faults
 * the others): MMIO loads and stores must reach it, or fault, alike on both sides. */
struct fake_dev {
	uint64_t reg[8];
	uint64_t reads, writes;
};

static uint64_t fake_read(void *opaque, uint64_t offset, unsigned size)
{
	struct fake_dev *d = opaque;
	d->reads++;
	uint64_t v = d->reg[(offset >> 3) & 7] >> (8 * (offset & 4));
	return size == 8 ? v ^ offset : (uint32_t)(v ^ offset);
}

static void fake_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct fake_dev *d = opaque;
	uint64_t *r = &d->reg[(offset >> 3) & 7];
	unsigned sh = 8 * (offset & 4);
	d->writes++;
	if (size == 8)
		*r = value;
	else
		*r = (*r & ~(0xffffffffull << sh)) | (value & 0xffffffff) << sh;
}

static const struct mmio_ops fake_ops = {
    .read = fake_read, .write = fake_write, .min_size = 4, .max_size = 8};

static uint64_t fixed_time(void *opaque)
{
	(void)opaque;
	return FIXED_TIME;
}

struct side {
	struct guest_mem mem;
	struct bus bus;
	struct fake_dev dev;
	struct hart h;
};

/* The initial register state of a round, applied to both sides. */
struct start_state {
	uint64_t x[32], f[32];
	uint32_t fflags, frm;
	uint64_t counteren;
	uint64_t envcfg[2]; /* menvcfg, senvcfg */
};

/* Side 0 runs under the translator (or, in self-test mode, the interpreter through
 * jit_run_budget's fallback), side 1 under the interpreter. */
struct pair {
	struct side *s[2];
	bool translated;
	uint64_t end_pc;
	uint64_t smc_slot[64];
	unsigned smc_slots;
	uint64_t seed;
	unsigned round;
	/* the last blocks run, for the report: first pc, privilege, instructions retired */
	struct {
		uint64_t pc, n;
		unsigned priv;
	} hist[8];
	uint64_t hist_pos;
	/* for the tests of the tester: spoil side 0 this way before this step */
	unsigned tamper_kind;
	uint64_t tamper_step;
};

static void side_free(struct side *s)
{
	if (!s)
		return;
	hart_destroy(&s->h);
	guest_mem_destroy(&s->mem);
	free(s);
}

static struct side *side_new(void)
{
	struct side *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(guest_mem_init(&s->mem, RAM_BASE, RAM_SIZE), 0);
	assert_int_equal(bus_add(&s->bus, MMIO_BASE, MMIO_SIZE, &fake_ops, &s->dev, "fake"), 0);
	struct hart_env env = {.opaque = s, .time_now = fixed_time};
	assert_int_equal(hart_init(&s->h, 0, &s->mem, &s->bus, &env), 0);
	s->h.isa_ext = ISA_EXT_ALL;
	return s;
}

static void apply_start(struct hart *h, const struct start_state *st)
{
	for (unsigned i = 1; i < 32; i++)
		h->x[i] = st->x[i];
	memcpy(h->f, st->f, sizeof(h->f));
	h->fflags = st->fflags;
	h->frm = st->frm;
	h->pc = h->pc_next = CODE_BASE;
	h->priv = PRV_M;
	h->mtvec = HANDLER_PC;
	h->mscratch = SAVE_AREA;
	h->satp = SATP_VALUE;
	h->mstatus |= FS_INITIAL << MSTATUS_FS_SHIFT;
	h->mcounteren = h->scounteren = st->counteren;
	h->menvcfg = st->envcfg[0];
	h->senvcfg = st->envcfg[1];
	/* PMP entry 15 opens everything to S and U, as firmware does: every S and U TLB fill
	 * then goes through the PMP check, on both sides. */
	assert_true(csr_write(h, CSR_PMPADDR0 + 15, ~0ull));
	assert_true(csr_write(h, CSR_PMPCFG0 + 2, 0x1full << 56));
	hart_flush_tlb(h);
	hart_update_mode(h);
}

static void pair_free(struct pair *p)
{
	if (!p)
		return;
	side_free(p->s[0]);
	side_free(p->s[1]);
	free(p);
}

/* Two sides with the program of round `round` of seed. Returns NULL (after freeing) when there
 * is no translator and self-test mode was not asked for; *gout gets the generator's counts. */
static struct pair *pair_new(uint64_t seed, unsigned round, unsigned items, bool need_jit,
			     struct gen *gout)
{
	struct pair *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->seed = seed;
	p->round = round;
	p->s[0] = side_new();
	p->s[1] = side_new();
	int rc = -ENOSYS;
	if (env_u64("RVISOR_DIFF_INTERP", 0) == 0)
		rc = jit_init(&p->s[0]->h, JIT_CACHE_MIN);
	if (rc == -ENOSYS && need_jit) {
		pair_free(p);
		return NULL;
	}
	assert_true(rc == 0 || rc == -ENOSYS);
	p->translated = rc == 0;

	struct gen *g = calloc(1, sizeof(*g));
	assert_non_null(g);
	g->ram = p->s[0]->mem.hva;
	g->rng = seed ^ (0x51ed270b27a3c6d9ull * (round + 1));
	struct start_state st;
	for (unsigned i = 0; i < 32; i++) {
		st.x[i] = int_value(g);
		st.f[i] = fp_value(g);
	}
	st.fflags = below(g, 32);
	st.frm = chance(g, 1, 4) ? 5 + below(g, 3) : below(g, 5);
	st.counteren = chance(g, 1, 2) ? 7 : 0;
	/* The cache-block enables: mostly on, so that S-mode runs the CBOs. */
	for (unsigned i = 0; i < 2; i++)
		st.envcfg[i] = chance(g, 3, 4) ? MENVCFG_CBIE | MENVCFG_CBCFE | MENVCFG_CBZE
					       : rnd(g) & (MENVCFG_CBCFE | MENVCFG_CBZE);
	p->end_pc = gen_program(g, items);
	memcpy(p->smc_slot, g->smc_slot, sizeof(p->smc_slot));
	p->smc_slots = g->smc_slots;
	memcpy(p->s[1]->mem.hva, p->s[0]->mem.hva, RAM_SIZE);
	for (unsigned i = 0; i < 2; i++)
		apply_start(&p->s[i]->h, &st);
	if (gout)
		*gout = *g;
	free(g);
	return p;
}

/* ---- comparison ---- */

struct diff {
	char text[8192];
	size_t len;
	unsigned fields;
};

static void diff_add(struct diff *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diff_add(struct diff *d, const char *fmt, ...)
{
	va_list ap;
	if (d->len >= sizeof(d->text) - 1)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(d->text + d->len, sizeof(d->text) - d->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		d->len += (size_t)n;
	if (d->len > sizeof(d->text) - 1)
		d->len = sizeof(d->text) - 1;
}

static void diff_reset(struct diff *d)
{
	d->len = 0;
	d->text[0] = 0;
	d->fields = 0;
}

static void cmp_field(struct diff *d, const char *name, uint64_t a, uint64_t b)
{
	if (a == b)
		return;
	d->fields++;
	diff_add(d, "  %-16s translator 0x%016" PRIx64 "  interpreter 0x%016" PRIx64 "\n", name, a,
		 b);
}

static const char *const abi_names[32] = {"zero", "ra", "sp",  "gp",  "tp", "t0", "t1", "t2",
					  "s0",   "s1", "a0",  "a1",  "a2", "a3", "a4", "a5",
					  "a6",   "a7", "s2",  "s3",  "s4", "s5", "s6", "s7",
					  "s8",   "s9", "s10", "s11", "t3", "t4", "t5", "t6"};

static void compare_harts(const struct hart *a, const struct hart *b, struct diff *d)
{
	char name[32];
	for (unsigned i = 0; i < 32; i++) {
		snprintf(name, sizeof(name), "x%u (%s)", i, abi_names[i]);
		cmp_field(d, name, a->x[i], b->x[i]);
	}
	for (unsigned i = 0; i < 32; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		cmp_field(d, name, a->f[i], b->f[i]);
	}
	cmp_field(d, "pc", a->pc, b->pc);
	cmp_field(d, "priv", a->priv, b->priv);
	cmp_field(d, "fflags", a->fflags, b->fflags);
	cmp_field(d, "frm", a->frm, b->frm);
	cmp_field(d, "mstatus", hart_mstatus_read(a), hart_mstatus_read(b));
	cmp_field(d, "mepc", a->mepc, b->mepc);
	cmp_field(d, "mcause", a->mcause, b->mcause);
	cmp_field(d, "mtval", a->mtval, b->mtval);
	cmp_field(d, "mscratch", a->mscratch, b->mscratch);
	cmp_field(d, "mtvec", a->mtvec, b->mtvec);
	cmp_field(d, "sepc", a->sepc, b->sepc);
	cmp_field(d, "scause", a->scause, b->scause);
	cmp_field(d, "stval", a->stval, b->stval);
	cmp_field(d, "sscratch", a->sscratch, b->sscratch);
	cmp_field(d, "stvec", a->stvec, b->stvec);
	cmp_field(d, "satp", a->satp, b->satp);
	cmp_field(d, "mip", atomic_load_explicit(&a->mip, memory_order_relaxed),
		  atomic_load_explicit(&b->mip, memory_order_relaxed));
	cmp_field(d, "mie", a->mie, b->mie);
	cmp_field(d, "medeleg", a->medeleg, b->medeleg);
	cmp_field(d, "mideleg", a->mideleg, b->mideleg);
	cmp_field(d, "stimecmp", a->stimecmp, b->stimecmp);
	cmp_field(d, "menvcfg", a->menvcfg, b->menvcfg);
	cmp_field(d, "senvcfg", a->senvcfg, b->senvcfg);
	cmp_field(d, "pmpcfg0", a->pmpcfg[0], b->pmpcfg[0]);
	cmp_field(d, "pmpaddr0", a->pmpaddr[0], b->pmpaddr[0]);
	cmp_field(d, "instret", a->instret, b->instret);
	cmp_field(d, "reservation", a->reservation, b->reservation);
	if (a->reservation != ~0ull && a->reservation == b->reservation)
		cmp_field(d, "reservation_val", a->reservation_val, b->reservation_val);
	cmp_field(d, "wfi", a->wfi, b->wfi);
}

/* Compare len bytes of guest RAM at gpa on both sides. */
static void compare_ram(const struct pair *p, uint64_t gpa, uint64_t len, struct diff *d)
{
	const uint8_t *a = guest_mem_ptr(&p->s[0]->mem, gpa, len);
	const uint8_t *b = guest_mem_ptr(&p->s[1]->mem, gpa, len);
	if (!memcmp(a, b, len))
		return;
	uint64_t first = ~0ull, count = 0;
	for (uint64_t i = 0; i < len; i++) {
		if (a[i] != b[i]) {
			if (first == ~0ull)
				first = i;
			count++;
		}
	}
	uint64_t w = first & ~7ull, va, vb;
	memcpy(&va, a + w, 8);
	memcpy(&vb, b + w, 8);
	d->fields++;
	diff_add(d,
		 "  memory at 0x%" PRIx64 ": translator 0x%016" PRIx64 "  interpreter 0x%016" PRIx64
		 " (doubleword at 0x%" PRIx64 "; %" PRIu64 " bytes differ in 0x%" PRIx64
		 "..0x%" PRIx64 ")\n",
		 gpa + first, va, vb, gpa + w, count, gpa, gpa + len);
}

static void compare_devices(const struct pair *p, struct diff *d)
{
	const struct fake_dev *a = &p->s[0]->dev, *b = &p->s[1]->dev;
	char name[32];
	for (unsigned i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "device reg %u", i);
		cmp_field(d, name, a->reg[i], b->reg[i]);
	}
	cmp_field(d, "device reads", a->reads, b->reads);
	cmp_field(d, "device writes", a->writes, b->writes);
}

/* The memory generated code may write: data, the level-0 page table (the handler, the
 * walker's A and D bits, generated PTE writes), the handler's save area, patched instructions;
 * all of RAM when full is set (stores past the end of RAM, anything stray). */
static void compare_memory(const struct pair *p, bool full, struct diff *d)
{
	if (full) {
		compare_ram(p, RAM_BASE, RAM_SIZE, d);
		return;
	}
	compare_ram(p, DATA_BASE, DATA_SIZE, d);
	compare_ram(p, PT_L0, 4096, d);
	compare_ram(p, SAVE_AREA, 24, d);
	for (unsigned i = 0; i < p->smc_slots; i++)
		compare_ram(p, p->smc_slot[i], 4, d);
}

/* The instructions from pc on, as the decoder sees them in the interpreter side's RAM (code is
 * identity-mapped, so a virtual pc is also physical). */
static void print_code(const struct pair *p, uint64_t pc, uint64_t n)
{
	for (uint64_t i = 0; i <= n && i < 48; i++) {
		const uint8_t *q = guest_mem_ptr(&p->s[1]->mem, pc, 4);
		if (!q) {
			fprintf(stderr, "      0x%016" PRIx64 ": (not in RAM)\n", pc);
			return;
		}
		uint16_t lo, hi;
		memcpy(&lo, q, 2);
		memcpy(&hi, q + 2, 2);
		uint32_t raw = insn_length(lo) == 4 ? (uint32_t)lo | (uint32_t)hi << 16 : lo;
		struct insn_fields f;
		decode(raw, &f);
		fprintf(stderr, "      0x%016" PRIx64 ": %0*" PRIx32 "%s %s%s\n", pc, f.len * 2,
			raw, f.len == 2 ? "    " : "", insn_op_name(f.op),
			i == n ? "  (next)" : "");
		pc += f.len;
	}
}

static const char *priv_name(unsigned priv)
{
	return priv == PRV_M ? "M" : priv == PRV_S ? "S" : "U";
}

static void report(const struct pair *p, uint64_t step, const struct diff *d, const char *what)
{
	const uint64_t n_hist = sizeof(p->hist) / sizeof(p->hist[0]);
	uint64_t last = (p->hist_pos - 1) % n_hist;
	fprintf(stderr,
		"lockstep mismatch (%s) at step %" PRIu64
		", round %u of RVISOR_DIFF_SEED=0x%" PRIx64 "\n  block at pc 0x%" PRIx64
		" (%s-mode), %" PRIu64 " instructions retired%s\n",
		what, step, p->round, p->seed, p->hist[last].pc, priv_name(p->hist[last].priv),
		p->hist[last].n, p->translated ? "" : " (self-test: both sides interpret)");
	fputs(d->text, stderr);
	fprintf(stderr, "  the block, straight-line from its first pc (taken branches not "
			"followed), and the instruction after it:\n");
	print_code(p, p->hist[last].pc, p->hist[last].n);
	fprintf(stderr, "  blocks before it (oldest first):\n");
	for (uint64_t i = n_hist - 1; i >= 1; i--) {
		if (p->hist_pos < i + 1)
			continue;
		uint64_t k = (p->hist_pos - 1 - i) % n_hist;
		fprintf(stderr,
			"    step %" PRIu64 ": pc 0x%" PRIx64 " (%s), %" PRIu64 " retired\n",
			step - i, p->hist[k].pc, priv_name(p->hist[k].priv), p->hist[k].n);
	}
}

/* ---- the lockstep loop ---- */

struct run_stats {
	uint64_t steps;     /* blocks compared */
	uint64_t insns;     /* instructions retired on each side */
	uint64_t rebatches; /* blocks the interpreter needed more than one batch for */
	bool finished;      /* both reached the final self-loop */
	bool mismatch;
};

/* Called after step `step` ran and before the comparison, to spoil one side (the tests of
 * the tester). */
typedef void (*tamper_fn)(struct pair *p, uint64_t step);

#define FULL_COMPARE_EVERY 2048

/* Run the pair in lockstep until the program ends, a mismatch, or max_steps. */
static void lockstep(struct pair *p, uint64_t max_steps, tamper_fn tamper, struct run_stats *st)
{
	struct hart *a = &p->s[0]->h, *b = &p->s[1]->h;
	const uint64_t n_hist = sizeof(p->hist) / sizeof(p->hist[0]);
	struct diff *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	bool trace = env_u64("RVISOR_DIFF_TRACE", 0) != 0;
	for (uint64_t step = 0; step < max_steps; step++) {
		if (a->pc == p->end_pc && b->pc == p->end_pc) {
			st->finished = true;
			break;
		}
		uint64_t pc = a->pc, k, kb = 0;
		unsigned priv = a->priv;
		if (p->translated)
			k = jit_run_budget(a, 1);
		else
			k = hart_run_budget(a, 1);
		/* The interpreter's batch ends where the block would (a trap, a change of mode);
		 * if it ends sooner (a CSR write ends it, perhaps not the block), it runs on up to
		 * the block's count. A fetch fault at the block's first pc retires nothing. */
		if (k == 0) {
			kb = hart_run_budget(b, 1);
		} else {
			while (kb < k) {
				uint64_t n = hart_run_budget(b, (int32_t)(k - kb));
				if (!n)
					break;
				if (kb)
					st->rebatches++;
				kb += n;
			}
		}
		p->hist[p->hist_pos % n_hist].pc = pc;
		p->hist[p->hist_pos % n_hist].n = k;
		p->hist[p->hist_pos % n_hist].priv = priv;
		p->hist_pos++;
		st->steps++;
		st->insns += k;
		if (trace)
			fprintf(stderr, "trace %u %" PRIu64 ": pc 0x%" PRIx64 " %s %" PRIu64 "\n",
				p->round, step, pc, priv_name(priv), k);

		if (tamper)
			tamper(p, step);
		diff_reset(d);
		cmp_field(d, "retired", k, kb);
		compare_harts(a, b, d);
		compare_devices(p, d);
		bool full = (step % FULL_COMPARE_EVERY) == FULL_COMPARE_EVERY - 1;
		compare_memory(p, full, d);
		if (d->fields) {
			report(p, step, d, full ? "state or memory, all of RAM compared" : "state");
			st->mismatch = true;
			break;
		}
		/* WFI only marks the hart; nothing here waits for an interrupt */
		a->wfi = b->wfi = false;
	}
	if (!st->mismatch && !st->finished) {
		diff_reset(d);
		report(p, st->steps, d, "the program did not reach its end");
	}
	if (!st->mismatch) {
		diff_reset(d);
		compare_memory(p, true, d);
		if (d->fields) {
			report(p, st->steps, d, "all of RAM at the end");
			st->mismatch = true;
		}
	}
	free(d);
}

/* ---- the tests ---- */

#define ITEMS          300     /* top-level items per program */
#define DEFAULT_ROUNDS 10      /* programs per run */
#define MAX_STEPS      2000000 /* a program that runs longer is a generator bug */

/* The run's seed: RVISOR_DIFF_SEED, else a new one each run (printed, to repeat it). */
static uint64_t run_seed(void)
{
	static uint64_t seed;
	if (!seed) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t fresh = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^
				 (uint64_t)ts.tv_sec << 20 ^ (uint64_t)getpid();
		seed = env_u64("RVISOR_DIFF_SEED", fresh | 1);
		fprintf(stderr, "lockstep: RVISOR_DIFF_SEED=0x%" PRIx64 "\n", seed);
	}
	return seed;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void no_translator(void)
{
	fprintf(stderr, "lockstep: no translator (jit_init gives -ENOSYS, or RVISOR_DIFF_INTERP "
			"is set): skipped\n");
}

/* The generator's li, encoders and handler, on the interpreter alone: constants land where
 * they should and a trapping instruction is skipped. */
static void test_generator_basics(void **state)
{
	(void)state;
	static const uint64_t values[] = {0,
					  1,
					  ~0ull,
					  0x7ff,
					  0x800,
					  0x7ffff800,
					  0x80000000,
					  0xffffffff,
					  0x8000000000000000ull,
					  0x0123456789abcdefull,
					  0xfedcba9876543210ull,
					  DATA_BASE + 0xffe};
	struct side *s = side_new();
	struct gen *g = calloc(1, sizeof(*g));
	assert_non_null(g);
	g->ram = s->mem.hva;
	g->rng = 1;
	gen_handler(g);
	g->pc = CODE_BASE;
	for (unsigned i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		emit_li(g, 10 + i, values[i]);
	emit(g, OP_ILLEGAL, 0, 0, 0, 0xffffffff);
	emit(g, OP_ADDI, 9, 0, 0, 42);
	uint64_t end = g->pc;
	emit(g, OP_JAL, 0, 0, 0, 0);
	struct hart *h = &s->h;
	h->pc = CODE_BASE;
	h->mtvec = HANDLER_PC;
	h->mscratch = SAVE_AREA;
	for (unsigned n = 0; n < 1000 && h->pc != end; n++)
		hart_run_budget(h, 1);
	assert_int_equal(h->pc, end);
	for (unsigned i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		assert_int_equal(h->x[10 + i], values[i]);
	assert_int_equal(h->x[9], 42);
	assert_int_equal(h->mcause, CAUSE_ILLEGAL_INSTRUCTION);
	assert_int_equal(h->mtval, 0xffffffff);
	free(g);
	side_free(s);
}

static void test_lockstep_random(void **state)
{
	(void)state;
	uint64_t seed = run_seed();
	unsigned rounds = (unsigned)env_u64("RVISOR_DIFF_ROUNDS", DEFAULT_ROUNDS);
	bool self = env_u64("RVISOR_DIFF_INTERP", 0) != 0;
	uint64_t ops[OP_COUNT] = {0}, ops16[OP_COUNT] = {0};
	struct run_stats total = {0};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool translated = false;

	for (unsigned r = 0; r < rounds; r++) {
		struct gen g;
		struct pair *p = pair_new(seed, r, ITEMS, !self, &g);
		if (!p) {
			no_translator();
			skip();
			return;
		}
		translated = p->translated;
		for (unsigned i = 0; i < OP_COUNT; i++) {
			ops[i] += g.ops[i];
			ops16[i] += g.ops16[i];
		}
		struct run_stats st = {0};
		lockstep(p, MAX_STEPS, NULL, &st);
		total.steps += st.steps;
		total.insns += st.insns;
		total.rebatches += st.rebatches;
		if (!st.mismatch && !st.finished)
			fprintf(stderr,
				"lockstep: round %u of RVISOR_DIFF_SEED=0x%" PRIx64
				" did not reach its end in %u steps (pc 0x%" PRIx64 ")\n",
				r, seed, MAX_STEPS, p->s[0]->h.pc);
		bool ok = !st.mismatch && st.finished;
		pair_free(p);
		assert_true(ok);
	}

	/* every op, and every compressed form, was generated */
	static const uint16_t c_ops[] = {
	    OP_ADDI, OP_ADDIW, OP_LUI, OP_SLLI, OP_SRLI, OP_SRAI, OP_ANDI,   OP_ADD,    OP_SUB,
	    OP_XOR,  OP_OR,    OP_AND, OP_SUBW, OP_ADDW, OP_JAL,  OP_JALR,   OP_BEQ,    OP_BNE,
	    OP_LW,   OP_LD,    OP_FLD, OP_SW,   OP_SD,   OP_FSD,  OP_EBREAK, OP_ILLEGAL};
	unsigned missing = 0;
	for (unsigned i = 0; i < OP_COUNT; i++)
		if (!ops[i] && !ops16[i]) {
			fprintf(stderr, "lockstep: no %s generated\n", insn_op_name(i));
			missing++;
		}
	for (unsigned i = 0; i < sizeof(c_ops) / sizeof(c_ops[0]); i++)
		if (!ops16[c_ops[i]]) {
			fprintf(stderr, "lockstep: no compressed %s generated\n",
				insn_op_name(c_ops[i]));
			missing++;
		}
	fprintf(stderr,
		"lockstep: %u programs, %" PRIu64 " blocks, %" PRIu64
		" instructions compared, %" PRIu64
		" blocks the interpreter ran in more than one batch, %.2f s%s\n",
		rounds, total.steps, total.insns, total.rebatches, seconds_since(&t0),
		translated ? "" : " (self-test: both sides interpret)");
	assert_int_equal(missing, 0);
}

static void tamper(struct pair *p, uint64_t step)
{
	if (step != p->tamper_step)
		return;
	struct side *s = p->s[0];
	switch (p->tamper_kind) {
	case 0: s->h.x[X_T0] ^= 1; break;
	case 1: s->h.f[3] ^= 1ull << 51; break;
	case 2: s->h.fflags ^= FFLAG_NX; break;
	case 3: s->h.mstatus ^= MSTATUS_SUM; break;
	case 4: s->mem.hva[DATA_BASE - RAM_BASE + 0x1235] ^= 0x10; break;
	case 5: s->mem.hva[0x300000 + 77] ^= 1; break; /* seen only by a full compare */
	default: s->dev.reg[3] ^= 1; break;
	}
}

/* The tester must fail when the sides differ: spoil one side's state in several ways and
 * expect each to be reported. */
static void test_lockstep_sees_tampering(void **state)
{
	(void)state;
	uint64_t seed = run_seed();
	for (unsigned kind = 0; kind < 7; kind++) {
		struct pair *p = pair_new(seed, 1000 + kind, 200, false, NULL);
		p->tamper_kind = kind;
		p->tamper_step = 20 + kind;
		struct run_stats st = {0};
		fprintf(stderr, "lockstep: expecting a mismatch (side 0 spoiled, kind %u):\n",
			kind);
		lockstep(p, MAX_STEPS, tamper, &st);
		pair_free(p);
		assert_true(st.mismatch);
	}
}

/* The tester must see a translator that gets one op wrong. */
static void test_lockstep_sees_injected_fault(void **state)
{
	(void)state;
	static const uint16_t ops[] = {OP_ADD,    OP_SLLI,      OP_LD, OP_SW,
				       OP_SH2ADD, OP_CZERO_NEZ, OP_ROR};
	uint64_t seed = run_seed();
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct pair *p = pair_new(seed, 2000 + i, ITEMS, true, NULL);
		if (!p) {
			no_translator();
			skip();
			return;
		}
		jit_inject_fault(&p->s[0]->h, ops[i]);
		struct run_stats st = {0};
		fprintf(stderr, "lockstep: expecting a mismatch (translator breaks %s):\n",
			insn_op_name(ops[i]));
		lockstep(p, MAX_STEPS, NULL, &st);
		pair_free(p);
		assert_true(st.mismatch);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generator_basics),
	    cmocka_unit_test(test_lockstep_sees_tampering),
	    cmocka_unit_test(test_lockstep_random),
	    cmocka_unit_test(test_lockstep_sees_injected_fault),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
