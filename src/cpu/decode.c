/* The pure instruction decoder: raw instruction bits to struct insn_fields. It follows the
 * RISC-V unprivileged spec's opcode map and instruction listings ("RV32/64G Instruction Set
 * Listings" for RV64I, M, A, F, D, Zicsr, Zifencei; "RVC Instruction Set Listings" for C on
 * RV64), the chapters of Zba/Zbb/Zbs ("B" Extension for Bit Manipulation), Zicond, Zimop,
 * Zcmop, Zcb, Zawrs, and Zicbom/Zicboz (the CMO specification), and the privileged spec's
 * instruction listing (SRET, MRET, WFI, SFENCE.VMA).
 *
 * One function per major opcode (one per quadrant for C), the mnemonic on each case. Fields an
 * instruction does not use are left 0, so two encodings of the same instruction (for example a
 * compressed form and its expansion) decode to identical structs. Every encoding not listed
 * here, reserved or not implemented, is OP_ILLEGAL with imm = the raw bits (the future mtval). */
#include <stdbool.h>

#include "cpu/insn.h"
#include "cpu/isa.h"

/* Major opcodes, inst[6:0] (unprivileged spec, "RISC-V base opcode map"). */
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

/* Two selector fields folded into one switch key, e.g. (funct7, funct3) of an R-type. */
#define KEY(hi, f3) ((hi) << 3 | (f3))

/* ---- bit fields ---- */

/* x[hi:lo], hi >= lo. */
static inline uint32_t bits(uint32_t x, unsigned hi, unsigned lo)
{
	return (x >> lo) & ((2u << (hi - lo)) - 1);
}

/* Sign-extend the low width bits of v. */
static inline int64_t sext(uint64_t v, unsigned width)
{
	return (int64_t)(v << (64 - width)) >> (64 - width);
}

static inline unsigned rd(uint32_t raw)
{
	return bits(raw, 11, 7);
}
static inline unsigned rs1(uint32_t raw)
{
	return bits(raw, 19, 15);
}
static inline unsigned rs2(uint32_t raw)
{
	return bits(raw, 24, 20);
}
static inline unsigned rs3(uint32_t raw)
{
	return bits(raw, 31, 27);
}
static inline unsigned funct3(uint32_t raw)
{
	return bits(raw, 14, 12);
}
static inline unsigned funct7(uint32_t raw)
{
	return bits(raw, 31, 25);
}

/* Immediates of the base formats (unprivileged spec, "Immediate Encoding Variants"). */
static inline int64_t imm_i(uint32_t raw)
{
	return sext(raw >> 20, 12);
}
static inline int64_t imm_s(uint32_t raw)
{
	return sext(bits(raw, 31, 25) << 5 | bits(raw, 11, 7), 12);
}
static inline int64_t imm_b(uint32_t raw)
{
	return sext(bits(raw, 31, 31) << 12 | bits(raw, 7, 7) << 11 | bits(raw, 30, 25) << 5 |
			bits(raw, 11, 8) << 1,
		    13);
}
static inline int64_t imm_u(uint32_t raw)
{
	return sext(raw & 0xfffff000u, 32);
}
static inline int64_t imm_j(uint32_t raw)
{
	return sext(bits(raw, 31, 31) << 20 | bits(raw, 19, 12) << 12 | bits(raw, 20, 20) << 11 |
			bits(raw, 30, 21) << 1,
		    21);
}

/* ---- filling the output ---- */

/* An illegal instruction: imm carries the raw bits (zero-extended) for mtval. */
static void illegal(struct insn_fields *out, uint32_t raw)
{
	*out =
	    (struct insn_fields){.op = OP_ILLEGAL, .len = out->len, .imm = (int64_t)(uint64_t)raw};
}

/* Set op and the integer fields; op OP_ILLEGAL turns the whole instruction illegal. */
static void emit(struct insn_fields *out, uint32_t raw, enum insn_op op, unsigned rd_,
		 unsigned rs1_, unsigned rs2_, int64_t imm)
{
	if (op == OP_ILLEGAL) {
		illegal(out, raw);
		return;
	}
	out->op = (uint16_t)op;
	out->rd = (uint8_t)rd_;
	out->rs1 = (uint8_t)rs1_;
	out->rs2 = (uint8_t)rs2_;
	out->imm = imm;
}

static void r_type(struct insn_fields *out, enum insn_op op, uint32_t raw)
{
	emit(out, raw, op, rd(raw), rs1(raw), rs2(raw), 0);
}
static void i_type(struct insn_fields *out, enum insn_op op, uint32_t raw)
{
	emit(out, raw, op, rd(raw), rs1(raw), 0, imm_i(raw));
}
static void s_type(struct insn_fields *out, enum insn_op op, uint32_t raw)
{
	emit(out, raw, op, 0, rs1(raw), rs2(raw), imm_s(raw));
}
static void b_type(struct insn_fields *out, enum insn_op op, uint32_t raw)
{
	emit(out, raw, op, 0, rs1(raw), rs2(raw), imm_b(raw));
}

/* Immediate shift: imm = shamt, the low width bits of imm[11:0] (6 for RV64, 5 for *W). */
static void shift(struct insn_fields *out, enum insn_op op, uint32_t raw, unsigned width)
{
	emit(out, raw, op, rd(raw), rs1(raw), 0, bits(raw, 20 + width - 1, 20));
}

/* FP op with a rounding mode: rm = funct3 (checked at execution, where frm is known). */
static void fp_rm(struct insn_fields *out, enum insn_op op, uint32_t raw, bool uses_rs2)
{
	emit(out, raw, op, rd(raw), rs1(raw), uses_rs2 ? rs2(raw) : 0, 0);
	if (op != OP_ILLEGAL)
		out->rm = (uint8_t)funct3(raw);
}

/* ---- 32-bit instructions, one function per major opcode ---- */

static void decode_load(uint32_t raw, struct insn_fields *out)
{
	enum insn_op op;
	switch (funct3(raw)) {
	case 0: op = OP_LB; break;
	case 1: op = OP_LH; break;
	case 2: op = OP_LW; break;
	case 3: op = OP_LD; break;
	case 4: op = OP_LBU; break;
	case 5: op = OP_LHU; break;
	case 6: op = OP_LWU; break;
	default: op = OP_ILLEGAL; break;
	}
	i_type(out, op, raw);
}

static void decode_store(uint32_t raw, struct insn_fields *out)
{
	enum insn_op op;
	switch (funct3(raw)) {
	case 0: op = OP_SB; break;
	case 1: op = OP_SH; break;
	case 2: op = OP_SW; break;
	case 3: op = OP_SD; break;
	default: op = OP_ILLEGAL; break;
	}
	s_type(out, op, raw);
}

/* LOAD-FP and STORE-FP: the width field is funct3 (2 = W, 3 = D; others are other
 * extensions). */
static void decode_load_fp(uint32_t raw, struct insn_fields *out)
{
	enum insn_op op;
	switch (funct3(raw)) {
	case 1: op = OP_FLH; break; /* Zfhmin */
	case 2: op = OP_FLW; break;
	case 3: op = OP_FLD; break;
	default: op = OP_ILLEGAL; break;
	}
	i_type(out, op, raw);
}

static void decode_store_fp(uint32_t raw, struct insn_fields *out)
{
	enum insn_op op;
	switch (funct3(raw)) {
	case 1: op = OP_FSH; break; /* Zfhmin */
	case 2: op = OP_FSW; break;
	case 3: op = OP_FSD; break;
	default: op = OP_ILLEGAL; break;
	}
	s_type(out, op, raw);
}

/* CBO (MISC-MEM, funct3 2; CMO spec 2.1): inst[31:20] selects cbo.inval (0), cbo.clean (1),
 * cbo.flush (2) or cbo.zero (4); rd must be 0. The others are reserved. */
static void decode_cbo(uint32_t raw, struct insn_fields *out)
{
	enum insn_op op = OP_ILLEGAL;
	switch (raw >> 20) {
	case 0: op = OP_CBO_INVAL; break;
	case 1: op = OP_CBO_CLEAN; break;
	case 2: op = OP_CBO_FLUSH; break;
	case 4: op = OP_CBO_ZERO; break;
	}
	emit(out, raw, rd(raw) ? OP_ILLEGAL : op, 0, rs1(raw), 0, 0);
}

/* MISC-MEM. FENCE keeps fm/pred/succ (inst[31:20]) in imm; its rd and rs1 and the fields of
 * FENCE.I are reserved for finer-grain fences and, as the spec requires, ignored. Reserved fm
 * values act as a normal fence, so every FENCE encoding is valid. */
static void decode_misc_mem(uint32_t raw, struct insn_fields *out)
{
	switch (funct3(raw)) {
	case 0: emit(out, raw, OP_FENCE, 0, 0, 0, raw >> 20); break;
	case 1: emit(out, raw, OP_FENCE_I, 0, 0, 0, 0); break;
	case 2: decode_cbo(raw, out); break;
	default: illegal(out, raw); break;
	}
}

/* Zbb's unary ops (OP-IMM and OP-IMM-32, funct3 1, inst[31:20] = 0x600 + selector): clz,
 * ctz, cpop, and for OP-IMM only sext.b, sext.h. */
static enum insn_op zbb_unary(uint32_t raw, bool w)
{
	switch (raw >> 20) {
	case 0x600: return w ? OP_CLZW : OP_CLZ;
	case 0x601: return w ? OP_CTZW : OP_CTZ;
	case 0x602: return w ? OP_CPOPW : OP_CPOP;
	case 0x604: return w ? OP_ILLEGAL : OP_SEXT_B;
	case 0x605: return w ? OP_ILLEGAL : OP_SEXT_H;
	default: return OP_ILLEGAL;
	}
}

/* OP-IMM. Prefetch.i/r/w (Zicbop) are ORI with rd = 0, hints decoded as ORI. The shifts by an
 * immediate take funct6 (inst[31:26]) and a 6-bit shamt; Zbb and Zbs add their own funct6
 * values, and orc.b and rev8 a whole inst[31:20]. */
static void decode_op_imm(uint32_t raw, struct insn_fields *out)
{
	unsigned funct6 = bits(raw, 31, 26);
	switch (funct3(raw)) {
	case 0: i_type(out, OP_ADDI, raw); break;
	case 2: i_type(out, OP_SLTI, raw); break;
	case 3: i_type(out, OP_SLTIU, raw); break;
	case 4: i_type(out, OP_XORI, raw); break;
	case 6: i_type(out, OP_ORI, raw); break;
	case 7: i_type(out, OP_ANDI, raw); break;
	case 1:
		switch (funct6) {
		case 0x00: shift(out, OP_SLLI, raw, 6); break;
		case 0x0a: shift(out, OP_BSETI, raw, 6); break;
		case 0x12: shift(out, OP_BCLRI, raw, 6); break;
		case 0x1a: shift(out, OP_BINVI, raw, 6); break;
		case 0x18: emit(out, raw, zbb_unary(raw, false), rd(raw), rs1(raw), 0, 0); break;
		default: illegal(out, raw); break;
		}
		break;
	case 5:
		switch (funct6) {
		case 0x00: shift(out, OP_SRLI, raw, 6); break;
		case 0x10: shift(out, OP_SRAI, raw, 6); break;
		case 0x18: shift(out, OP_RORI, raw, 6); break;
		case 0x12: shift(out, OP_BEXTI, raw, 6); break;
		case 0x0a: /* orc.b: inst[31:20] = 0x287 */
			emit(out, raw, (raw >> 20) == 0x287 ? OP_ORC_B : OP_ILLEGAL, rd(raw),
			     rs1(raw), 0, 0);
			break;
		case 0x1a: /* rev8 (RV64): inst[31:20] = 0x6b8 */
			emit(out, raw, (raw >> 20) == 0x6b8 ? OP_REV8 : OP_ILLEGAL, rd(raw),
			     rs1(raw), 0, 0);
			break;
		default: illegal(out, raw); break;
		}
		break;
	}
}

/* OP-IMM-32: shamt[5] (inst[25]) set is reserved, which the funct7 checks cover; slli.uw
 * (funct6 000010) alone takes a 6-bit shamt. */
static void decode_op_imm_32(uint32_t raw, struct insn_fields *out)
{
	if (funct3(raw) == 1 && bits(raw, 31, 26) == 0x02) {
		shift(out, OP_SLLI_UW, raw, 6);
		return;
	}
	switch (KEY(funct7(raw), funct3(raw))) {
	case KEY(0x00, 1): shift(out, OP_SLLIW, raw, 5); break;
	case KEY(0x00, 5): shift(out, OP_SRLIW, raw, 5); break;
	case KEY(0x20, 5): shift(out, OP_SRAIW, raw, 5); break;
	case KEY(0x30, 5): shift(out, OP_RORIW, raw, 5); break;
	case KEY(0x30, 1): emit(out, raw, zbb_unary(raw, true), rd(raw), rs1(raw), 0, 0); break;
	default: i_type(out, funct3(raw) == 0 ? OP_ADDIW : OP_ILLEGAL, raw); break;
	}
}

static void decode_op(uint32_t raw, struct insn_fields *out)
{
	enum insn_op op;
	switch (KEY(funct7(raw), funct3(raw))) {
	case KEY(0x00, 0): op = OP_ADD; break;
	case KEY(0x20, 0): op = OP_SUB; break;
	case KEY(0x00, 1): op = OP_SLL; break;
	case KEY(0x00, 2): op = OP_SLT; break;
	case KEY(0x00, 3): op = OP_SLTU; break;
	case KEY(0x00, 4): op = OP_XOR; break;
	case KEY(0x00, 5): op = OP_SRL; break;
	case KEY(0x20, 5): op = OP_SRA; break;
	case KEY(0x00, 6): op = OP_OR; break;
	case KEY(0x00, 7): op = OP_AND; break;
	case KEY(0x01, 0): op = OP_MUL; break;
	case KEY(0x01, 1): op = OP_MULH; break;
	case KEY(0x01, 2): op = OP_MULHSU; break;
	case KEY(0x01, 3): op = OP_MULHU; break;
	case KEY(0x01, 4): op = OP_DIV; break;
	case KEY(0x01, 5): op = OP_DIVU; break;
	case KEY(0x01, 6): op = OP_REM; break;
	case KEY(0x01, 7): op = OP_REMU; break;
	case KEY(0x10, 2): op = OP_SH1ADD; break;
	case KEY(0x10, 4): op = OP_SH2ADD; break;
	case KEY(0x10, 6): op = OP_SH3ADD; break;
	case KEY(0x20, 7): op = OP_ANDN; break;
	case KEY(0x20, 6): op = OP_ORN; break;
	case KEY(0x20, 4): op = OP_XNOR; break;
	case KEY(0x05, 6): op = OP_MAX; break;
	case KEY(0x05, 7): op = OP_MAXU; break;
	case KEY(0x05, 4): op = OP_MIN; break;
	case KEY(0x05, 5): op = OP_MINU; break;
	case KEY(0x30, 1): op = OP_ROL; break;
	case KEY(0x30, 5): op = OP_ROR; break;
	case KEY(0x24, 1): op = OP_BCLR; break;
	case KEY(0x24, 5): op = OP_BEXT; break;
	case KEY(0x34, 1): op = OP_BINV; break;
	case KEY(0x14, 1): op = OP_BSET; break;
	case KEY(0x07, 5): op = OP_CZERO_EQZ; break;
	case KEY(0x07, 7): op = OP_CZERO_NEZ; break;
	default: op = OP_ILLEGAL; break;
	}
	r_type(out, op, raw);
}

static void decode_op_32(uint32_t raw, struct insn_fields *out)
{
	enum insn_op op;
	switch (KEY(funct7(raw), funct3(raw))) {
	case KEY(0x00, 0): op = OP_ADDW; break;
	case KEY(0x20, 0): op = OP_SUBW; break;
	case KEY(0x00, 1): op = OP_SLLW; break;
	case KEY(0x00, 5): op = OP_SRLW; break;
	case KEY(0x20, 5): op = OP_SRAW; break;
	case KEY(0x01, 0): op = OP_MULW; break;
	case KEY(0x01, 4): op = OP_DIVW; break;
	case KEY(0x01, 5): op = OP_DIVUW; break;
	case KEY(0x01, 6): op = OP_REMW; break;
	case KEY(0x01, 7): op = OP_REMUW; break;
	case KEY(0x04, 0): op = OP_ADD_UW; break;
	case KEY(0x10, 2): op = OP_SH1ADD_UW; break;
	case KEY(0x10, 4): op = OP_SH2ADD_UW; break;
	case KEY(0x10, 6): op = OP_SH3ADD_UW; break;
	case KEY(0x30, 1): op = OP_ROLW; break;
	case KEY(0x30, 5): op = OP_RORW; break;
	case KEY(0x04, 4): /* zext.h (RV64): rs2 = 0 */
		emit(out, raw, rs2(raw) ? OP_ILLEGAL : OP_ZEXT_H, rd(raw), rs1(raw), 0, 0);
		return;
	default: op = OP_ILLEGAL; break;
	}
	r_type(out, op, raw);
}

/* AMO: selected by funct5 (inst[31:27]) and the width (funct3 2 = W, 3 = D); aq and rl
 * (inst[26:25]) are ignored because every access is sequentially consistent. */
static void decode_amo(uint32_t raw, struct insn_fields *out)
{
	enum insn_op op;
	switch (KEY(bits(raw, 31, 27), funct3(raw))) {
	case KEY(0x02, 2): op = rs2(raw) == 0 ? OP_LR_W : OP_ILLEGAL; break;
	case KEY(0x03, 2): op = OP_SC_W; break;
	case KEY(0x01, 2): op = OP_AMOSWAP_W; break;
	case KEY(0x00, 2): op = OP_AMOADD_W; break;
	case KEY(0x04, 2): op = OP_AMOXOR_W; break;
	case KEY(0x0c, 2): op = OP_AMOAND_W; break;
	case KEY(0x08, 2): op = OP_AMOOR_W; break;
	case KEY(0x10, 2): op = OP_AMOMIN_W; break;
	case KEY(0x14, 2): op = OP_AMOMAX_W; break;
	case KEY(0x18, 2): op = OP_AMOMINU_W; break;
	case KEY(0x1c, 2): op = OP_AMOMAXU_W; break;
	case KEY(0x02, 3): op = rs2(raw) == 0 ? OP_LR_D : OP_ILLEGAL; break;
	case KEY(0x03, 3): op = OP_SC_D; break;
	case KEY(0x01, 3): op = OP_AMOSWAP_D; break;
	case KEY(0x00, 3): op = OP_AMOADD_D; break;
	case KEY(0x04, 3): op = OP_AMOXOR_D; break;
	case KEY(0x0c, 3): op = OP_AMOAND_D; break;
	case KEY(0x08, 3): op = OP_AMOOR_D; break;
	case KEY(0x10, 3): op = OP_AMOMIN_D; break;
	case KEY(0x14, 3): op = OP_AMOMAX_D; break;
	case KEY(0x18, 3): op = OP_AMOMINU_D; break;
	case KEY(0x1c, 3): op = OP_AMOMAXU_D; break;
	default: op = OP_ILLEGAL; break;
	}
	r_type(out, op, raw);
}

static void decode_branch(uint32_t raw, struct insn_fields *out)
{
	enum insn_op op;
	switch (funct3(raw)) {
	case 0: op = OP_BEQ; break;
	case 1: op = OP_BNE; break;
	case 4: op = OP_BLT; break;
	case 5: op = OP_BGE; break;
	case 6: op = OP_BLTU; break;
	case 7: op = OP_BGEU; break;
	default: op = OP_ILLEGAL; break;
	}
	b_type(out, op, raw);
}

/* SYSTEM with funct3 0: the exact encodings of the privileged spec's listing. */
static void decode_priv(uint32_t raw, struct insn_fields *out)
{
	switch (raw) {
	case 0x00000073: emit(out, raw, OP_ECALL, 0, 0, 0, 0); return;
	case 0x00100073: emit(out, raw, OP_EBREAK, 0, 0, 0, 0); return;
	case 0x10200073: emit(out, raw, OP_SRET, 0, 0, 0, 0); return;
	case 0x30200073: emit(out, raw, OP_MRET, 0, 0, 0, 0); return;
	case 0x10500073: emit(out, raw, OP_WFI, 0, 0, 0, 0); return;
	case 0x00d00073: emit(out, raw, OP_WRS_NTO, 0, 0, 0, 0); return; /* Zawrs */
	case 0x01d00073: emit(out, raw, OP_WRS_STO, 0, 0, 0, 0); return;
	case 0x18000073: emit(out, raw, OP_SFENCE_W_INVAL, 0, 0, 0, 0); return; /* Svinval */
	case 0x18100073: emit(out, raw, OP_SFENCE_INVAL_IR, 0, 0, 0, 0); return;
	}
	if (funct7(raw) == 0x09 && rd(raw) == 0) /* SFENCE.VMA rs1, rs2 */
		emit(out, raw, OP_SFENCE_VMA, 0, rs1(raw), rs2(raw), 0);
	else if (funct7(raw) == 0x0b && rd(raw) == 0) /* SINVAL.VMA rs1, rs2 (Svinval) */
		emit(out, raw, OP_SINVAL_VMA, 0, rs1(raw), rs2(raw), 0);
	else
		illegal(out, raw);
}

/* Zimop (SYSTEM, funct3 4, inst[31] = 1, inst[29:28] = 0): mop.r.N (inst[25:22] = 0111; N =
 * inst[30|27:26|21:20], 0..31) and mop.rr.N (inst[25] = 1; N = inst[30|27:26], 0..7), N in
 * imm. Everything else under funct3 4 is illegal. */
static void decode_mop(uint32_t raw, struct insn_fields *out)
{
	if (bits(raw, 31, 31) != 1 || bits(raw, 29, 28) != 0) {
		illegal(out, raw);
		return;
	}
	unsigned n = bits(raw, 30, 30) << 2 | bits(raw, 27, 26);
	if (bits(raw, 25, 25))
		emit(out, raw, OP_MOP_RR_N, rd(raw), rs1(raw), rs2(raw), n);
	else if (bits(raw, 25, 22) == 0x7)
		emit(out, raw, OP_MOP_R_N, rd(raw), rs1(raw), 0, n << 2 | bits(raw, 21, 20));
	else
		illegal(out, raw);
}

/* SYSTEM: Zicsr keeps the CSR number (inst[31:20], unsigned) in imm; the *I forms keep their
 * 5-bit uimm in rs1. */
static void decode_system(uint32_t raw, struct insn_fields *out)
{
	enum insn_op op;
	switch (funct3(raw)) {
	case 0: decode_priv(raw, out); return;
	case 4: decode_mop(raw, out); return;
	case 1: op = OP_CSRRW; break;
	case 2: op = OP_CSRRS; break;
	case 3: op = OP_CSRRC; break;
	case 5: op = OP_CSRRWI; break;
	case 6: op = OP_CSRRSI; break;
	case 7: op = OP_CSRRCI; break;
	default: op = OP_ILLEGAL; break;
	}
	emit(out, raw, op, rd(raw), rs1(raw), 0, raw >> 20);
}

/* MADD, MSUB, NMSUB, NMADD (R4-type): fmt inst[26:25] is 0 for S, 1 for D. */
static void decode_fma(uint32_t raw, struct insn_fields *out, enum insn_op op_s, enum insn_op op_d)
{
	unsigned fmt = bits(raw, 26, 25);
	fp_rm(out, fmt == 0 ? op_s : fmt == 1 ? op_d : OP_ILLEGAL, raw, true);
	if (fmt <= 1)
		out->rs3 = (uint8_t)rs3(raw);
}

/* FCVT between integer and FP: rs2 selects W, WU, L, LU. */
static enum insn_op fcvt_int(unsigned sel, bool d, bool to_int)
{
	static const uint16_t ops[2][2][4] = {
	    {{OP_FCVT_S_W, OP_FCVT_S_WU, OP_FCVT_S_L, OP_FCVT_S_LU},
	     {OP_FCVT_W_S, OP_FCVT_WU_S, OP_FCVT_L_S, OP_FCVT_LU_S}},
	    {{OP_FCVT_D_W, OP_FCVT_D_WU, OP_FCVT_D_L, OP_FCVT_D_LU},
	     {OP_FCVT_W_D, OP_FCVT_WU_D, OP_FCVT_L_D, OP_FCVT_LU_D}},
	};
	return sel < 4 ? (enum insn_op)ops[d][to_int][sel] : OP_ILLEGAL;
}

/* OP-FP with fmt H (inst[26:25] = 10): Zfhmin's moves and conversions only. */
static void decode_op_fp_h(uint32_t raw, struct insn_fields *out)
{
	unsigned f3 = funct3(raw), sel = rs2(raw);
	switch (bits(raw, 31, 27)) {
	case 0x08: /* FCVT.H.S (rs2 0), FCVT.H.D (rs2 1) */
		fp_rm(out,
		      sel == 0   ? OP_FCVT_H_S
		      : sel == 1 ? OP_FCVT_H_D
				 : OP_ILLEGAL,
		      raw, false);
		return;
	case 0x1c: /* FMV.X.H */
		emit(out, raw, sel == 0 && f3 == 0 ? OP_FMV_X_H : OP_ILLEGAL, rd(raw), rs1(raw), 0,
		     0);
		return;
	case 0x1e: /* FMV.H.X */
		emit(out, raw, sel == 0 && f3 == 0 ? OP_FMV_H_X : OP_ILLEGAL, rd(raw), rs1(raw), 0,
		     0);
		return;
	default: illegal(out, raw); return;
	}
}

/* OP-FP: funct5 inst[31:27] selects the operation, fmt inst[26:25] the format (S or D; H for
 * Zfhmin). Where funct3 is not a rounding mode it selects a sub-operation; where rs2 is not a
 * source it is a selector that must hold a defined value. Zfa adds rs2 and funct3 values to
 * several of them; its RV32-only fmvh.x.d and fmvp.d.x stay illegal. */
static void decode_op_fp(uint32_t raw, struct insn_fields *out)
{
	unsigned fmt = bits(raw, 26, 25), f3 = funct3(raw), sel = rs2(raw);
	bool d = fmt == 1;
	enum insn_op op = OP_ILLEGAL;

	if (fmt == 2) {
		decode_op_fp_h(raw, out);
		return;
	}
	if (fmt > 1) {
		illegal(out, raw);
		return;
	}
	switch (bits(raw, 31, 27)) {
	case 0x00: fp_rm(out, d ? OP_FADD_D : OP_FADD_S, raw, true); return;
	case 0x01: fp_rm(out, d ? OP_FSUB_D : OP_FSUB_S, raw, true); return;
	case 0x02: fp_rm(out, d ? OP_FMUL_D : OP_FMUL_S, raw, true); return;
	case 0x03: fp_rm(out, d ? OP_FDIV_D : OP_FDIV_S, raw, true); return;
	case 0x0b: /* FSQRT */
		if (sel == 0)
			op = d ? OP_FSQRT_D : OP_FSQRT_S;
		fp_rm(out, op, raw, false);
		return;
	case 0x08: /* FCVT.S.D (fmt S, rs2 selects D) and FCVT.D.S (fmt D, rs2 selects S); from H
		    * (rs2 2, Zfhmin); FROUND (rs2 4), FROUNDNX (rs2 5) (Zfa) */
		if (!d && sel == 1)
			op = OP_FCVT_S_D;
		else if (d && sel == 0)
			op = OP_FCVT_D_S;
		else if (sel == 2)
			op = d ? OP_FCVT_D_H : OP_FCVT_S_H;
		else if (sel == 4)
			op = d ? OP_FROUND_D : OP_FROUND_S;
		else if (sel == 5)
			op = d ? OP_FROUNDNX_D : OP_FROUNDNX_S;
		fp_rm(out, op, raw, false);
		return;
	case 0x18:
		if (d && sel == 8) { /* FCVTMOD.W.D (Zfa): rm must be RTZ */
			fp_rm(out, f3 == 1 ? OP_FCVTMOD_W_D : OP_ILLEGAL, raw, false);
			return;
		}
		fp_rm(out, fcvt_int(sel, d, true), raw, false);
		return;
	case 0x1a: fp_rm(out, fcvt_int(sel, d, false), raw, false); return;
	case 0x04: /* sign injection */
		if (f3 == 0)
			op = d ? OP_FSGNJ_D : OP_FSGNJ_S;
		else if (f3 == 1)
			op = d ? OP_FSGNJN_D : OP_FSGNJN_S;
		else if (f3 == 2)
			op = d ? OP_FSGNJX_D : OP_FSGNJX_S;
		r_type(out, op, raw);
		return;
	case 0x05:
		if (f3 == 0)
			op = d ? OP_FMIN_D : OP_FMIN_S;
		else if (f3 == 1)
			op = d ? OP_FMAX_D : OP_FMAX_S;
		else if (f3 == 2) /* Zfa */
			op = d ? OP_FMINM_D : OP_FMINM_S;
		else if (f3 == 3)
			op = d ? OP_FMAXM_D : OP_FMAXM_S;
		r_type(out, op, raw);
		return;
	case 0x14: /* comparisons */
		if (f3 == 0)
			op = d ? OP_FLE_D : OP_FLE_S;
		else if (f3 == 1)
			op = d ? OP_FLT_D : OP_FLT_S;
		else if (f3 == 2)
			op = d ? OP_FEQ_D : OP_FEQ_S;
		else if (f3 == 4) /* Zfa */
			op = d ? OP_FLEQ_D : OP_FLEQ_S;
		else if (f3 == 5)
			op = d ? OP_FLTQ_D : OP_FLTQ_S;
		r_type(out, op, raw);
		return;
	case 0x1c: /* FMV.X.W / FMV.X.D and FCLASS */
		if (sel == 0 && f3 == 0)
			op = d ? OP_FMV_X_D : OP_FMV_X_W;
		else if (sel == 0 && f3 == 1)
			op = d ? OP_FCLASS_D : OP_FCLASS_S;
		emit(out, raw, op, rd(raw), rs1(raw), 0, 0);
		return;
	case 0x1e: /* FMV.W.X / FMV.D.X; FLI (Zfa: rs2 1, the constant's index in rs1) */
		if (sel == 0 && f3 == 0)
			op = d ? OP_FMV_D_X : OP_FMV_W_X;
		else if (sel == 1 && f3 == 0)
			op = d ? OP_FLI_D : OP_FLI_S;
		emit(out, raw, op, rd(raw), rs1(raw), 0, 0);
		return;
	default: illegal(out, raw); return;
	}
}

/* ---- compressed instructions (RVC on RV64 with F and D), one function per quadrant ---- */

/* Full register fields (CR, CI, CSS) and the 3-bit x8..x15 fields (CIW, CL, CS, CA, CB). */
static inline unsigned c_rd(uint32_t c)
{
	return bits(c, 11, 7);
}
static inline unsigned c_rs2(uint32_t c)
{
	return bits(c, 6, 2);
}
static inline unsigned c_rdp(uint32_t c)
{
	return 8 + bits(c, 4, 2);
}
static inline unsigned c_rs1p(uint32_t c)
{
	return 8 + bits(c, 9, 7);
}

/* imm[5] = c[12], imm[4:0] = c[6:2]: C.ADDI, C.ADDIW, C.LI, C.ANDI (signed), shamt (not). */
static inline uint32_t c_imm6(uint32_t c)
{
	return bits(c, 12, 12) << 5 | bits(c, 6, 2);
}
/* C.LW/C.SW offset: uimm[5:3] = c[12:10], uimm[2] = c[6], uimm[6] = c[5]. */
static inline uint32_t c_uimm_w(uint32_t c)
{
	return bits(c, 12, 10) << 3 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 6;
}
/* C.LD/C.SD/C.FLD/C.FSD offset: uimm[5:3] = c[12:10], uimm[7:6] = c[6:5]. */
static inline uint32_t c_uimm_d(uint32_t c)
{
	return bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6;
}
/* C.ADDI4SPN: nzuimm[5:4|9:6|2|3] = c[12:5]. */
static inline uint32_t c_nzuimm_addi4spn(uint32_t c)
{
	return bits(c, 12, 11) << 4 | bits(c, 10, 7) << 6 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 3;
}
/* C.ADDI16SP: nzimm[9] = c[12], nzimm[4|6|8:7|5] = c[6:2]. */
static inline int64_t c_nzimm_addi16sp(uint32_t c)
{
	return sext(bits(c, 12, 12) << 9 | bits(c, 6, 6) << 4 | bits(c, 5, 5) << 6 |
			bits(c, 4, 3) << 7 | bits(c, 2, 2) << 5,
		    10);
}
/* C.J: offset[11|4|9:8|10|6|7|3:1|5] = c[12:2]. */
static inline int64_t c_imm_j(uint32_t c)
{
	return sext(bits(c, 12, 12) << 11 | bits(c, 11, 11) << 4 | bits(c, 10, 9) << 8 |
			bits(c, 8, 8) << 10 | bits(c, 7, 7) << 6 | bits(c, 6, 6) << 7 |
			bits(c, 5, 3) << 1 | bits(c, 2, 2) << 5,
		    12);
}
/* C.BEQZ/C.BNEZ: offset[8|4:3] = c[12:10], offset[7:6|2:1|5] = c[6:2]. */
static inline int64_t c_imm_b(uint32_t c)
{
	return sext(bits(c, 12, 12) << 8 | bits(c, 11, 10) << 3 | bits(c, 6, 5) << 6 |
			bits(c, 4, 3) << 1 | bits(c, 2, 2) << 5,
		    9);
}
/* C.LWSP: uimm[5] = c[12], uimm[4:2|7:6] = c[6:2]. */
static inline uint32_t c_uimm_lwsp(uint32_t c)
{
	return bits(c, 12, 12) << 5 | bits(c, 6, 4) << 2 | bits(c, 3, 2) << 6;
}
/* C.LDSP/C.FLDSP: uimm[5] = c[12], uimm[4:3|8:6] = c[6:2]. */
static inline uint32_t c_uimm_ldsp(uint32_t c)
{
	return bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6;
}
/* C.SWSP: uimm[5:2|7:6] = c[12:7]. */
static inline uint32_t c_uimm_swsp(uint32_t c)
{
	return bits(c, 12, 9) << 2 | bits(c, 8, 7) << 6;
}
/* C.SDSP/C.FSDSP: uimm[5:3|8:6] = c[12:7]. */
static inline uint32_t c_uimm_sdsp(uint32_t c)
{
	return bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6;
}

/* Quadrant 0, funct3 100: Zcb's byte and halfword loads and stores (funct6 = c[15:10]):
 * c.lbu (100000; uimm[0|1] = c[6|5]), c.lhu and c.lh (100001, c[6] = 0 / 1; uimm[1] = c[5]),
 * c.sb (100010), c.sh (100011, c[6] = 0). The rest (c[12] = 1, c.sh with c[6] = 1) is
 * reserved. */
static void decode_c0_zcb(uint32_t c, struct insn_fields *out)
{
	unsigned rs1 = c_rs1p(c), r = c_rdp(c);
	uint32_t ub = bits(c, 6, 6) | bits(c, 5, 5) << 1, uh = bits(c, 5, 5) << 1;
	switch (bits(c, 12, 10)) {
	case 0: emit(out, c, OP_LBU, r, rs1, 0, ub); break;                         /* C.LBU */
	case 1: emit(out, c, bits(c, 6, 6) ? OP_LH : OP_LHU, r, rs1, 0, uh); break; /* C.LHU/LH */
	case 2: emit(out, c, OP_SB, 0, rs1, r, ub); break;                          /* C.SB */
	case 3: emit(out, c, bits(c, 6, 6) ? OP_ILLEGAL : OP_SH, 0, rs1, r, uh); break; /* C.SH */
	default: illegal(out, c); break;
	}
}

/* Quadrant 0: stack-pointer-based ADDI and register-based loads and stores. */
static void decode_c0(uint32_t c, struct insn_fields *out)
{
	switch (bits(c, 15, 13)) {
	case 0: /* C.ADDI4SPN; nzuimm = 0 (which includes the all-zero halfword) is reserved */
		emit(out, c, c_nzuimm_addi4spn(c) ? OP_ADDI : OP_ILLEGAL, c_rdp(c), 2, 0,
		     c_nzuimm_addi4spn(c));
		break;
	case 1: emit(out, c, OP_FLD, c_rdp(c), c_rs1p(c), 0, c_uimm_d(c)); break; /* C.FLD */
	case 2: emit(out, c, OP_LW, c_rdp(c), c_rs1p(c), 0, c_uimm_w(c)); break;  /* C.LW */
	case 3: emit(out, c, OP_LD, c_rdp(c), c_rs1p(c), 0, c_uimm_d(c)); break;  /* C.LD */
	case 5: emit(out, c, OP_FSD, 0, c_rs1p(c), c_rdp(c), c_uimm_d(c)); break; /* C.FSD */
	case 6: emit(out, c, OP_SW, 0, c_rs1p(c), c_rdp(c), c_uimm_w(c)); break;  /* C.SW */
	case 7: emit(out, c, OP_SD, 0, c_rs1p(c), c_rdp(c), c_uimm_d(c)); break;  /* C.SD */
	case 4: decode_c0_zcb(c, out); break;
	}
}

/* Quadrant 1, funct6 100111, funct2 11: Zcb's unary ops on rd' (c[4:2] selects). Each is
 * the 32-bit instruction it expands to (zext.b is andi 255, zext.w is add.uw with x0, not is
 * xori -1); c[4:2] = 110 and 111 are reserved. */
static void decode_c1_zcb_unary(uint32_t c, struct insn_fields *out)
{
	unsigned r = c_rs1p(c);
	switch (bits(c, 4, 2)) {
	case 0: emit(out, c, OP_ANDI, r, r, 0, 255); break; /* C.ZEXT.B */
	case 1: emit(out, c, OP_SEXT_B, r, r, 0, 0); break; /* C.SEXT.B */
	case 2: emit(out, c, OP_ZEXT_H, r, r, 0, 0); break; /* C.ZEXT.H */
	case 3: emit(out, c, OP_SEXT_H, r, r, 0, 0); break; /* C.SEXT.H */
	case 4: emit(out, c, OP_ADD_UW, r, r, 0, 0); break; /* C.ZEXT.W */
	case 5: emit(out, c, OP_XORI, r, r, 0, -1); break;  /* C.NOT */
	default: illegal(out, c); break;
	}
}

/* Quadrant 1, funct3 100: C.SRLI, C.SRAI, C.ANDI and the CA-format register ops. */
static void decode_c1_arith(uint32_t c, struct insn_fields *out)
{
	unsigned r = c_rs1p(c);
	enum insn_op op;
	switch (bits(c, 11, 10)) {
	case 0: emit(out, c, OP_SRLI, r, r, 0, c_imm6(c)); return;          /* C.SRLI */
	case 1: emit(out, c, OP_SRAI, r, r, 0, c_imm6(c)); return;          /* C.SRAI */
	case 2: emit(out, c, OP_ANDI, r, r, 0, sext(c_imm6(c), 6)); return; /* C.ANDI */
	}
	switch (KEY(bits(c, 12, 12), bits(c, 6, 5))) {
	case KEY(0, 0): op = OP_SUB; break;  /* C.SUB */
	case KEY(0, 1): op = OP_XOR; break;  /* C.XOR */
	case KEY(0, 2): op = OP_OR; break;   /* C.OR */
	case KEY(0, 3): op = OP_AND; break;  /* C.AND */
	case KEY(1, 0): op = OP_SUBW; break; /* C.SUBW */
	case KEY(1, 1): op = OP_ADDW; break; /* C.ADDW */
	case KEY(1, 2): op = OP_MUL; break;  /* C.MUL (Zcb) */
	case KEY(1, 3): decode_c1_zcb_unary(c, out); return;
	default: op = OP_ILLEGAL; break; /* reserved */
	}
	emit(out, c, op, r, r, c_rdp(c), 0);
}

/* Quadrant 1: immediates, arithmetic, jumps and branches. */
static void decode_c1(uint32_t c, struct insn_fields *out)
{
	unsigned r = c_rd(c);
	int64_t imm6 = sext(c_imm6(c), 6);
	switch (bits(c, 15, 13)) {
	case 0: emit(out, c, OP_ADDI, r, r, 0, imm6); break; /* C.ADDI, C.NOP and hints */
	case 1: emit(out, c, r ? OP_ADDIW : OP_ILLEGAL, r, r, 0, imm6); break; /* C.ADDIW */
	case 2: emit(out, c, OP_ADDI, r, 0, 0, imm6); break;                   /* C.LI */
	case 3:
		if (r == 2) /* C.ADDI16SP */
			emit(out, c, c_nzimm_addi16sp(c) ? OP_ADDI : OP_ILLEGAL, 2, 2, 0,
			     c_nzimm_addi16sp(c));
		else if (!imm6 && (r & 1) && r < 16) /* C.MOP.N (Zcmop): N = c[10:8], rd odd */
			emit(out, c, OP_C_MOP_N, 0, 0, 0, 2 * bits(c, 10, 8) + 1);
		else /* C.LUI */
			emit(out, c, imm6 ? OP_LUI : OP_ILLEGAL, r, 0, 0, imm6 * 4096);
		break;
	case 4: decode_c1_arith(c, out); break;
	case 5: emit(out, c, OP_JAL, 0, 0, 0, c_imm_j(c)); break;         /* C.J */
	case 6: emit(out, c, OP_BEQ, 0, c_rs1p(c), 0, c_imm_b(c)); break; /* C.BEQZ */
	case 7: emit(out, c, OP_BNE, 0, c_rs1p(c), 0, c_imm_b(c)); break; /* C.BNEZ */
	}
}

/* Quadrant 2, funct3 100: C.JR, C.MV, C.EBREAK, C.JALR, C.ADD. */
static void decode_c2_cr(uint32_t c, struct insn_fields *out)
{
	unsigned r = c_rd(c), s = c_rs2(c);
	if (bits(c, 12, 12) == 0) {
		if (s == 0) /* C.JR; rs1 = 0 is reserved */
			emit(out, c, r ? OP_JALR : OP_ILLEGAL, 0, r, 0, 0);
		else /* C.MV */
			emit(out, c, OP_ADD, r, 0, s, 0);
	} else {
		if (s == 0 && r == 0) /* C.EBREAK */
			emit(out, c, OP_EBREAK, 0, 0, 0, 0);
		else if (s == 0) /* C.JALR */
			emit(out, c, OP_JALR, 1, r, 0, 0);
		else /* C.ADD */
			emit(out, c, OP_ADD, r, r, s, 0);
	}
}

/* Quadrant 2: stack-pointer-based loads and stores, shifts, register moves and jumps. */
static void decode_c2(uint32_t c, struct insn_fields *out)
{
	unsigned r = c_rd(c);
	switch (bits(c, 15, 13)) {
	case 0: emit(out, c, OP_SLLI, r, r, 0, c_imm6(c)); break;     /* C.SLLI */
	case 1: emit(out, c, OP_FLD, r, 2, 0, c_uimm_ldsp(c)); break; /* C.FLDSP */
	case 2: /* C.LWSP; rd = 0 is reserved */
		emit(out, c, r ? OP_LW : OP_ILLEGAL, r, 2, 0, c_uimm_lwsp(c));
		break;
	case 3: /* C.LDSP; rd = 0 is reserved */
		emit(out, c, r ? OP_LD : OP_ILLEGAL, r, 2, 0, c_uimm_ldsp(c));
		break;
	case 4: decode_c2_cr(c, out); break;
	case 5: emit(out, c, OP_FSD, 0, 2, c_rs2(c), c_uimm_sdsp(c)); break; /* C.FSDSP */
	case 6: emit(out, c, OP_SW, 0, 2, c_rs2(c), c_uimm_swsp(c)); break;  /* C.SWSP */
	case 7: emit(out, c, OP_SD, 0, 2, c_rs2(c), c_uimm_sdsp(c)); break;  /* C.SDSP */
	}
}

/* ---- entry points ---- */

void decode(uint32_t raw, struct insn_fields *out)
{
	if ((raw & 3) != 3) {
		uint32_t c = raw & 0xffff;
		*out = (struct insn_fields){.len = 2};
		switch (c & 3) {
		case 0: decode_c0(c, out); break;
		case 1: decode_c1(c, out); break;
		default: decode_c2(c, out); break;
		}
		return;
	}
	*out = (struct insn_fields){.len = 4};
	switch (raw & 0x7f) {
	case OPC_LOAD: decode_load(raw, out); break;
	case OPC_LOAD_FP: decode_load_fp(raw, out); break;
	case OPC_MISC_MEM: decode_misc_mem(raw, out); break;
	case OPC_OP_IMM: decode_op_imm(raw, out); break;
	case OPC_AUIPC: emit(out, raw, OP_AUIPC, rd(raw), 0, 0, imm_u(raw)); break;
	case OPC_OP_IMM_32: decode_op_imm_32(raw, out); break;
	case OPC_STORE: decode_store(raw, out); break;
	case OPC_STORE_FP: decode_store_fp(raw, out); break;
	case OPC_AMO: decode_amo(raw, out); break;
	case OPC_OP: decode_op(raw, out); break;
	case OPC_LUI: emit(out, raw, OP_LUI, rd(raw), 0, 0, imm_u(raw)); break;
	case OPC_OP_32: decode_op_32(raw, out); break;
	case OPC_MADD: decode_fma(raw, out, OP_FMADD_S, OP_FMADD_D); break;
	case OPC_MSUB: decode_fma(raw, out, OP_FMSUB_S, OP_FMSUB_D); break;
	case OPC_NMSUB: decode_fma(raw, out, OP_FNMSUB_S, OP_FNMSUB_D); break;
	case OPC_NMADD: decode_fma(raw, out, OP_FNMADD_S, OP_FNMADD_D); break;
	case OPC_OP_FP: decode_op_fp(raw, out); break;
	case OPC_BRANCH: decode_branch(raw, out); break;
	case OPC_JALR: i_type(out, funct3(raw) == 0 ? OP_JALR : OP_ILLEGAL, raw); break;
	case OPC_JAL: emit(out, raw, OP_JAL, rd(raw), 0, 0, imm_j(raw)); break;
	case OPC_SYSTEM: decode_system(raw, out); break;
	default: illegal(out, raw); break;
	}
}

uint64_t insn_op_ext(unsigned op)
{
	if (op >= OP_ADD_UW && op <= OP_SLLI_UW)
		return ISA_EXT(zba);
	if (op >= OP_ANDN && op <= OP_REV8)
		return ISA_EXT(zbb);
	if (op >= OP_BCLR && op <= OP_BSETI)
		return ISA_EXT(zbs);
	switch (op) {
	case OP_CZERO_EQZ:
	case OP_CZERO_NEZ: return ISA_EXT(zicond);
	case OP_MOP_R_N:
	case OP_MOP_RR_N: return ISA_EXT(zimop);
	case OP_C_MOP_N: return ISA_EXT(zcmop);
	case OP_WRS_NTO:
	case OP_WRS_STO: return ISA_EXT(zawrs);
	case OP_CBO_INVAL:
	case OP_CBO_CLEAN:
	case OP_CBO_FLUSH: return ISA_EXT(zicbom);
	case OP_CBO_ZERO: return ISA_EXT(zicboz);
	case OP_SINVAL_VMA:
	case OP_SFENCE_W_INVAL:
	case OP_SFENCE_INVAL_IR: return ISA_EXT(svinval);
	default: break;
	}
	if (op >= OP_FLH && op <= OP_FCVT_H_D)
		return ISA_EXT(zfhmin);
	if (op >= OP_FLI_S && op <= OP_FLTQ_D)
		return ISA_EXT(zfa);
	return 0;
}

/* Whether compressed encoding c is one of Zcb's (quadrant 0 funct3 100; quadrant 1 funct6
 * 100111 with funct2 10 or 11). */
static bool is_zcb(uint32_t c)
{
	if ((c & 3) == 0)
		return bits(c, 15, 13) == 4;
	return (c & 3) == 1 && bits(c, 15, 10) == 0x27 && bits(c, 6, 6) == 1;
}

void decode_isa(uint32_t raw, uint64_t ext, struct insn_fields *out)
{
	decode(raw, out);
	if (out->op == OP_ILLEGAL)
		return;
	uint64_t need = insn_op_ext(out->op);
	if (out->len == 2 && is_zcb(raw & 0xffff))
		need |= ISA_EXT(zcb);
	if (need & ~ext)
		illegal(out, out->len == 2 ? raw & 0xffff : raw);
}

/* Assembler mnemonics in the order of INSN_OPS (the unit test checks each against its op's
 * name). */
static const char *const op_names[] = {"illegal",
				       "lui",
				       "auipc",
				       "jal",
				       "jalr",
				       "beq",
				       "bne",
				       "blt",
				       "bge",
				       "bltu",
				       "bgeu",
				       "lb",
				       "lh",
				       "lw",
				       "ld",
				       "lbu",
				       "lhu",
				       "lwu",
				       "sb",
				       "sh",
				       "sw",
				       "sd",
				       "addi",
				       "slti",
				       "sltiu",
				       "xori",
				       "ori",
				       "andi",
				       "slli",
				       "srli",
				       "srai",
				       "add",
				       "sub",
				       "sll",
				       "slt",
				       "sltu",
				       "xor",
				       "srl",
				       "sra",
				       "or",
				       "and",
				       "addiw",
				       "slliw",
				       "srliw",
				       "sraiw",
				       "addw",
				       "subw",
				       "sllw",
				       "srlw",
				       "sraw",
				       "fence",
				       "fence.i",
				       "ecall",
				       "ebreak",
				       "csrrw",
				       "csrrs",
				       "csrrc",
				       "csrrwi",
				       "csrrsi",
				       "csrrci",
				       "mul",
				       "mulh",
				       "mulhsu",
				       "mulhu",
				       "div",
				       "divu",
				       "rem",
				       "remu",
				       "mulw",
				       "divw",
				       "divuw",
				       "remw",
				       "remuw",
				       "lr.w",
				       "sc.w",
				       "amoswap.w",
				       "amoadd.w",
				       "amoxor.w",
				       "amoand.w",
				       "amoor.w",
				       "amomin.w",
				       "amomax.w",
				       "amominu.w",
				       "amomaxu.w",
				       "lr.d",
				       "sc.d",
				       "amoswap.d",
				       "amoadd.d",
				       "amoxor.d",
				       "amoand.d",
				       "amoor.d",
				       "amomin.d",
				       "amomax.d",
				       "amominu.d",
				       "amomaxu.d",
				       "sret",
				       "mret",
				       "wfi",
				       "sfence.vma",
				       "flw",
				       "fsw",
				       "fmadd.s",
				       "fmsub.s",
				       "fnmsub.s",
				       "fnmadd.s",
				       "fadd.s",
				       "fsub.s",
				       "fmul.s",
				       "fdiv.s",
				       "fsqrt.s",
				       "fsgnj.s",
				       "fsgnjn.s",
				       "fsgnjx.s",
				       "fmin.s",
				       "fmax.s",
				       "fcvt.w.s",
				       "fcvt.wu.s",
				       "fcvt.l.s",
				       "fcvt.lu.s",
				       "fcvt.s.w",
				       "fcvt.s.wu",
				       "fcvt.s.l",
				       "fcvt.s.lu",
				       "fmv.x.w",
				       "fmv.w.x",
				       "feq.s",
				       "flt.s",
				       "fle.s",
				       "fclass.s",
				       "fld",
				       "fsd",
				       "fmadd.d",
				       "fmsub.d",
				       "fnmsub.d",
				       "fnmadd.d",
				       "fadd.d",
				       "fsub.d",
				       "fmul.d",
				       "fdiv.d",
				       "fsqrt.d",
				       "fsgnj.d",
				       "fsgnjn.d",
				       "fsgnjx.d",
				       "fmin.d",
				       "fmax.d",
				       "fcvt.w.d",
				       "fcvt.wu.d",
				       "fcvt.l.d",
				       "fcvt.lu.d",
				       "fcvt.d.w",
				       "fcvt.d.wu",
				       "fcvt.d.l",
				       "fcvt.d.lu",
				       "fcvt.s.d",
				       "fcvt.d.s",
				       "fmv.x.d",
				       "fmv.d.x",
				       "feq.d",
				       "flt.d",
				       "fle.d",
				       "fclass.d",
				       "add.uw",
				       "sh1add",
				       "sh2add",
				       "sh3add",
				       "sh1add.uw",
				       "sh2add.uw",
				       "sh3add.uw",
				       "slli.uw",
				       "andn",
				       "orn",
				       "xnor",
				       "clz",
				       "clzw",
				       "ctz",
				       "ctzw",
				       "cpop",
				       "cpopw",
				       "max",
				       "maxu",
				       "min",
				       "minu",
				       "sext.b",
				       "sext.h",
				       "zext.h",
				       "rol",
				       "rolw",
				       "ror",
				       "rori",
				       "roriw",
				       "rorw",
				       "orc.b",
				       "rev8",
				       "bclr",
				       "bclri",
				       "bext",
				       "bexti",
				       "binv",
				       "binvi",
				       "bset",
				       "bseti",
				       "czero.eqz",
				       "czero.nez",
				       "mop.r.n",
				       "mop.rr.n",
				       "c.mop.n",
				       "wrs.nto",
				       "wrs.sto",
				       "cbo.inval",
				       "cbo.clean",
				       "cbo.flush",
				       "cbo.zero",
				       "flh",
				       "fsh",
				       "fmv.x.h",
				       "fmv.h.x",
				       "fcvt.s.h",
				       "fcvt.h.s",
				       "fcvt.d.h",
				       "fcvt.h.d",
				       "fli.s",
				       "fli.d",
				       "fminm.s",
				       "fmaxm.s",
				       "fminm.d",
				       "fmaxm.d",
				       "fround.s",
				       "froundnx.s",
				       "fround.d",
				       "froundnx.d",
				       "fcvtmod.w.d",
				       "fleq.s",
				       "fltq.s",
				       "fleq.d",
				       "fltq.d",
				       "sinval.vma",
				       "sfence.w.inval",
				       "sfence.inval.ir"};
_Static_assert(sizeof(op_names) / sizeof(op_names[0]) == OP_COUNT, "one name per op");

const char *insn_op_name(unsigned op)
{
	if (op >= OP_COUNT)
		return "unknown";
	return op_names[op];
}
