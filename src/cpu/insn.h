/* Instruction representation shared by the decoder, the interpreter and the translator.
 * The op list follows the RISC-V unprivileged spec (RV64I, M, A, F, D, Zicsr, Zifencei; then
 * Zba, Zbb, Zbs, Zicond, Zimop, Zcmop, Zawrs, Zicbom, Zicboz, Zfhmin, Zfa) and the privileged
 * spec (SRET,
 * MRET, WFI, SFENCE.VMA); compressed (C, Zcb) forms decode to these ops. Hints that are base
 * instructions (Zihintpause's pause is a FENCE, Zihintntl's ntl.* are ADDs to x0, Zicbop's
 * prefetch.* are ORIs to x0) decode as those. */
#ifndef RVISOR_CPU_INSN_H
#define RVISOR_CPU_INSN_H

#include <stdint.h>

/* X(name): every operation the vCPU implements, named after its mnemonic ('.' becomes '_'). */
// clang-format off
#define INSN_OPS(X)                                                                            \
	X(ILLEGAL)                                                                             \
	X(LUI) X(AUIPC) X(JAL) X(JALR)                                                        \
	X(BEQ) X(BNE) X(BLT) X(BGE) X(BLTU) X(BGEU)                                           \
	X(LB) X(LH) X(LW) X(LD) X(LBU) X(LHU) X(LWU)                                          \
	X(SB) X(SH) X(SW) X(SD)                                                               \
	X(ADDI) X(SLTI) X(SLTIU) X(XORI) X(ORI) X(ANDI) X(SLLI) X(SRLI) X(SRAI)               \
	X(ADD) X(SUB) X(SLL) X(SLT) X(SLTU) X(XOR) X(SRL) X(SRA) X(OR) X(AND)                 \
	X(ADDIW) X(SLLIW) X(SRLIW) X(SRAIW)                                                   \
	X(ADDW) X(SUBW) X(SLLW) X(SRLW) X(SRAW)                                               \
	X(FENCE) X(FENCE_I) X(ECALL) X(EBREAK)                                                \
	X(CSRRW) X(CSRRS) X(CSRRC) X(CSRRWI) X(CSRRSI) X(CSRRCI)                              \
	X(MUL) X(MULH) X(MULHSU) X(MULHU) X(DIV) X(DIVU) X(REM) X(REMU)                       \
	X(MULW) X(DIVW) X(DIVUW) X(REMW) X(REMUW)                                             \
	X(LR_W) X(SC_W) X(AMOSWAP_W) X(AMOADD_W) X(AMOXOR_W) X(AMOAND_W) X(AMOOR_W)           \
	X(AMOMIN_W) X(AMOMAX_W) X(AMOMINU_W) X(AMOMAXU_W)                                     \
	X(LR_D) X(SC_D) X(AMOSWAP_D) X(AMOADD_D) X(AMOXOR_D) X(AMOAND_D) X(AMOOR_D)           \
	X(AMOMIN_D) X(AMOMAX_D) X(AMOMINU_D) X(AMOMAXU_D)                                     \
	X(SRET) X(MRET) X(WFI) X(SFENCE_VMA)                                                  \
	X(FLW) X(FSW) X(FMADD_S) X(FMSUB_S) X(FNMSUB_S) X(FNMADD_S)                           \
	X(FADD_S) X(FSUB_S) X(FMUL_S) X(FDIV_S) X(FSQRT_S)                                    \
	X(FSGNJ_S) X(FSGNJN_S) X(FSGNJX_S) X(FMIN_S) X(FMAX_S)                                \
	X(FCVT_W_S) X(FCVT_WU_S) X(FCVT_L_S) X(FCVT_LU_S)                                     \
	X(FCVT_S_W) X(FCVT_S_WU) X(FCVT_S_L) X(FCVT_S_LU)                                     \
	X(FMV_X_W) X(FMV_W_X) X(FEQ_S) X(FLT_S) X(FLE_S) X(FCLASS_S)                          \
	X(FLD) X(FSD) X(FMADD_D) X(FMSUB_D) X(FNMSUB_D) X(FNMADD_D)                           \
	X(FADD_D) X(FSUB_D) X(FMUL_D) X(FDIV_D) X(FSQRT_D)                                    \
	X(FSGNJ_D) X(FSGNJN_D) X(FSGNJX_D) X(FMIN_D) X(FMAX_D)                                \
	X(FCVT_W_D) X(FCVT_WU_D) X(FCVT_L_D) X(FCVT_LU_D)                                     \
	X(FCVT_D_W) X(FCVT_D_WU) X(FCVT_D_L) X(FCVT_D_LU)                                     \
	X(FCVT_S_D) X(FCVT_D_S)                                                               \
	X(FMV_X_D) X(FMV_D_X) X(FEQ_D) X(FLT_D) X(FLE_D) X(FCLASS_D)                          \
	X(ADD_UW) X(SH1ADD) X(SH2ADD) X(SH3ADD) X(SH1ADD_UW) X(SH2ADD_UW) X(SH3ADD_UW)        \
	X(SLLI_UW)                                                                            \
	X(ANDN) X(ORN) X(XNOR) X(CLZ) X(CLZW) X(CTZ) X(CTZW) X(CPOP) X(CPOPW)                 \
	X(MAX) X(MAXU) X(MIN) X(MINU) X(SEXT_B) X(SEXT_H) X(ZEXT_H)                           \
	X(ROL) X(ROLW) X(ROR) X(RORI) X(RORIW) X(RORW) X(ORC_B) X(REV8)                       \
	X(BCLR) X(BCLRI) X(BEXT) X(BEXTI) X(BINV) X(BINVI) X(BSET) X(BSETI)                   \
	X(CZERO_EQZ) X(CZERO_NEZ)                                                             \
	X(MOP_R_N) X(MOP_RR_N) X(C_MOP_N)                                                     \
	X(WRS_NTO) X(WRS_STO)                                                                 \
	X(CBO_INVAL) X(CBO_CLEAN) X(CBO_FLUSH) X(CBO_ZERO)                                     \
	X(FLH) X(FSH) X(FMV_X_H) X(FMV_H_X) X(FCVT_S_H) X(FCVT_H_S) X(FCVT_D_H) X(FCVT_H_D)    \
	X(FLI_S) X(FLI_D) X(FMINM_S) X(FMAXM_S) X(FMINM_D) X(FMAXM_D)                         \
	X(FROUND_S) X(FROUNDNX_S) X(FROUND_D) X(FROUNDNX_D) X(FCVTMOD_W_D)                    \
	X(FLEQ_S) X(FLTQ_S) X(FLEQ_D) X(FLTQ_D)                                               \
	X(SINVAL_VMA) X(SFENCE_W_INVAL) X(SFENCE_INVAL_IR)
// clang-format on

/* enum insn_op: OP_<name> for each entry of INSN_OPS, then OP_COUNT. */
enum insn_op {
#define INSN_ENUM(name) OP_##name,
	INSN_OPS(INSN_ENUM)
#undef INSN_ENUM
	    OP_COUNT
};

/* One decoded instruction, the output of the pure decoder (decode.c).
 * rd/rs1/rs2/rs3 are register numbers (x or f file as the op implies); imm is the
 * sign-extended immediate (for CSR ops: the CSR number; for CSRR*I: rs1 holds the uimm;
 * for ILLEGAL: the raw instruction bits, for mtval); rm is the FP rounding-mode field;
 * len is the encoded length in bytes (2 for compressed, 4 otherwise). */
struct insn_fields {
	uint16_t op;
	uint8_t rd, rs1, rs2, rs3, rm, len;
	int64_t imm;
};

/* Decode one instruction with every extension the decoder knows. raw holds 32 bits starting at
 * the pc (only the low 16 are used when they denote a compressed instruction). Never fails:
 * unknown encodings give OP_ILLEGAL. */
void decode(uint32_t raw, struct insn_fields *out);

/* Decode one instruction for a hart whose extensions beyond RV64GC are ext (ISA_EXT_* bits,
 * cpu/isa.h): as decode, except that an encoding of an extension not in ext is OP_ILLEGAL
 * (with imm = raw, as any illegal encoding). */
void decode_isa(uint32_t raw, uint64_t ext, struct insn_fields *out);

/* The ISA_EXT_* bits an op needs (0: RV64GC has it). Compressed encodings may need more
 * (Zcb): decode_isa checks those. */
uint64_t insn_op_ext(unsigned op);

/* Length in bytes (2 or 4) of the instruction whose first halfword is lo16. */
static inline unsigned insn_length(uint16_t lo16)
{
	return (lo16 & 3) == 3 ? 4 : 2;
}

/* Printable mnemonic of an op, for traces and tests. */
const char *insn_op_name(unsigned op);

struct hart;
struct insn;
/* Interpreter handler: executes one instruction on hart h. */
typedef void (*insn_fn)(struct hart *h, const struct insn *in);

/* Compact form cached by the interpreter's decoded-instruction cache (16 bytes).
 * When rd names an integer register, rd = 0 is rewritten to the sink register x[32] so
 * handlers need not test for x0 (an FP rd is left as it is: f0 is a real register).
 * For FP ops that take rm and rs3, imm holds rm | rs3 << 3 (see INSN_RM/INSN_RS3);
 * FP loads/stores keep their offset in imm. */
struct insn {
	insn_fn fn;
	int32_t imm;
	uint8_t rd, rs1, rs2, len;
};

#define INSN_RM(in)  ((unsigned)(in)->imm & 7)
#define INSN_RS3(in) (((unsigned)(in)->imm >> 3) & 31)

#endif
