/* The x86-64 back end's code for Zba, Zbb, Zbs, Zicond and Zimop (unprivileged spec, "B"
 * Extension for Bit Manipulation; Zicond; Zimop): each computes its result inline from
 * scratch copies of its operands (rax = x[rs1], rcx = x[rs2]), with the x86 instruction that
 * does the same (lea for the shifted adds, bt* for single bits, rol/ror, bswap, cmov for
 * min/max and czero, movsx/movzx), and lzcnt, tzcnt and popcnt where the host has them
 * (checked once with cpuid). orc.b, and the counts on a host without those instructions, go
 * through the interpreter's handlers like any other op. None of them can trap. */
#include <cpuid.h>
#include <pthread.h>

#include "jit/x86_64/emit.h"

/* The host's LZCNT (ABM), BMI1 (TZCNT) and POPCNT, from cpuid: process-wide facts, read once. */
static struct {
	bool lzcnt, tzcnt, popcnt;
} host;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_probe(void)
{
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d))
		host.popcnt = (c >> 23) & 1;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
		host.tzcnt = (b >> 3) & 1;
	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		host.lzcnt = (c >> 5) & 1;
}

/* Whether op is emitted inline here (on this host). */
bool x86_bitmanip_inline(unsigned op)
{
	pthread_once(&host_once, host_probe);
	switch (op) {
	case OP_CLZ:
	case OP_CLZW: return host.lzcnt;
	case OP_CTZ:
	case OP_CTZW: return host.tzcnt;
	case OP_CPOP:
	case OP_CPOPW: return host.popcnt;
	case OP_ORC_B: return false;
	default: return op >= OP_ADD_UW && op <= OP_MOP_RR_N;
	}
}

bool x86_bitmanip_reads_rs2(unsigned op)
{
	switch (op) {
	case OP_ADD_UW:
	case OP_SH1ADD:
	case OP_SH2ADD:
	case OP_SH3ADD:
	case OP_SH1ADD_UW:
	case OP_SH2ADD_UW:
	case OP_SH3ADD_UW:
	case OP_ANDN:
	case OP_ORN:
	case OP_XNOR:
	case OP_MAX:
	case OP_MAXU:
	case OP_MIN:
	case OP_MINU:
	case OP_ROL:
	case OP_ROLW:
	case OP_ROR:
	case OP_RORW:
	case OP_BCLR:
	case OP_BEXT:
	case OP_BINV:
	case OP_BSET:
	case OP_CZERO_EQZ:
	case OP_CZERO_NEZ: return true;
	default: return false;
	}
}

/* F3 [REX] 0F op r, r/m: lzcnt (bd), tzcnt (bc), popcnt (b8). */
static void f3_op(struct jit_buf *b, bool w, uint8_t op, unsigned dst, unsigned src)
{
	x_u8(b, 0xf3);
	x_op_reg(b, w, (const uint8_t[]){0x0f, op}, 2, dst, src);
}

/* The 0xd3 / 0xc1 group's rotations: rol /0, ror /1. */
static void rotate_cl(struct jit_buf *b, bool w, unsigned digit)
{
	x_op_reg(b, w, (const uint8_t[]){0xd3}, 1, digit, RAX);
}
static void rotate_imm(struct jit_buf *b, bool w, unsigned digit, unsigned n)
{
	x_op_reg(b, w, (const uint8_t[]){0xc1}, 1, digit, RAX);
	x_u8(b, (uint8_t)n);
}

/* bts/btr/btc rax, rcx (0f ab / b3 / bb): the bit index is taken modulo 64. */
static void bit_reg(struct jit_buf *b, uint8_t op)
{
	x_op_reg(b, true, (const uint8_t[]){0x0f, op}, 2, RCX, RAX);
}
/* bts/btr/btc rax, imm8 (0f ba /5, /6, /7). */
static void bit_imm(struct jit_buf *b, unsigned digit, unsigned n)
{
	x_op_reg(b, true, (const uint8_t[]){0x0f, 0xba}, 2, digit, RAX);
	x_u8(b, (uint8_t)(n & 63));
}

/* The shifted adds (and add.uw): one lea rd, [x[rs2] + x[rs1] << scale] on the registers
 * that cache them, the .uw forms zero-extending x[rs1] into eax first. */
static unsigned emit_shadd(struct ctx *c, const struct jit_insn *i, unsigned scale, bool uw)
{
	struct jit_buf *b = c->hot;
	const struct insn_fields *f = &i->f;
	int base = x86_cached(c, f->rs2), index = x86_cached(c, f->rs1);
	if (base < 0) {
		x86_get_x(c, b, RCX, f->rs2);
		base = RCX;
	}
	if (uw || index < 0) {
		if (index < 0)
			x86_get_x(c, b, RAX, f->rs1);
		else
			x_mov(b, false, RAX, (unsigned)index); /* zero-extends */
		if (uw && index < 0)
			x_mov(b, false, RAX, RAX);
		index = RAX;
	}
	unsigned d = x86_dst_reg(c, f->rd);
	x_op_memx(b, 0, true, (const uint8_t[]){0x8d}, 1, d, (unsigned)base, (unsigned)index, scale,
		  0, false);
	return d;
}

unsigned x86_emit_bitmanip(struct ctx *c, const struct jit_insn *i)
{
	struct jit_buf *b = c->hot;
	const struct insn_fields *f = &i->f;
	unsigned op = f->op, n = (unsigned)f->imm;
	switch (op) {
	case OP_MOP_R_N:
	case OP_MOP_RR_N: x_mov_imm(b, RAX, 0); return RAX;
	case OP_ADD_UW: return emit_shadd(c, i, 0, true);
	case OP_SH1ADD: return emit_shadd(c, i, 1, false);
	case OP_SH2ADD: return emit_shadd(c, i, 2, false);
	case OP_SH3ADD: return emit_shadd(c, i, 3, false);
	case OP_SH1ADD_UW: return emit_shadd(c, i, 1, true);
	case OP_SH2ADD_UW: return emit_shadd(c, i, 2, true);
	case OP_SH3ADD_UW: return emit_shadd(c, i, 3, true);
	default: break;
	}
	x86_get_x(c, b, RAX, f->rs1);
	if (x86_bitmanip_reads_rs2(op))
		x86_get_x(c, b, RCX, f->rs2);
	switch (op) {
	case OP_SLLI_UW:
		x_mov(b, false, RAX, RAX);
		x_shift_imm(b, true, SH_SHL, RAX, n & 63);
		break;
	case OP_ANDN:
		x_f7(b, true, 2, RCX); /* not rcx */
		x_alu(b, true, ALU_AND, RAX, RCX);
		break;
	case OP_ORN:
		x_f7(b, true, 2, RCX);
		x_alu(b, true, ALU_OR, RAX, RCX);
		break;
	case OP_XNOR:
		x_alu(b, true, ALU_XOR, RAX, RCX);
		x_f7(b, true, 2, RAX);
		break;
	case OP_CLZ: f3_op(b, true, 0xbd, RAX, RAX); break;
	case OP_CLZW: f3_op(b, false, 0xbd, RAX, RAX); break; /* 32 for a zero word */
	case OP_CTZ: f3_op(b, true, 0xbc, RAX, RAX); break;
	case OP_CTZW: f3_op(b, false, 0xbc, RAX, RAX); break;
	case OP_CPOP: f3_op(b, true, 0xb8, RAX, RAX); break;
	case OP_CPOPW: f3_op(b, false, 0xb8, RAX, RAX); break;
	case OP_MAX:
	case OP_MAXU:
	case OP_MIN:
	case OP_MINU: {
		/* rax = rcx when rax is below (max) or above (min) it */
		enum x_cc cc = op == OP_MAX    ? CC_L
			       : op == OP_MAXU ? CC_B
			       : op == OP_MIN  ? CC_G
					       : CC_A;
		x_alu(b, true, ALU_CMP, RAX, RCX);
		x_cmov(b, cc, RAX, RCX);
		break;
	}
	case OP_SEXT_B: x_op_reg(b, true, (const uint8_t[]){0x0f, 0xbe}, 2, RAX, RAX); break;
	case OP_SEXT_H: x_op_reg(b, true, (const uint8_t[]){0x0f, 0xbf}, 2, RAX, RAX); break;
	case OP_ZEXT_H: x_op_reg(b, false, (const uint8_t[]){0x0f, 0xb7}, 2, RAX, RAX); break;
	case OP_ROL: rotate_cl(b, true, 0); break;
	case OP_ROR: rotate_cl(b, true, 1); break;
	case OP_RORI: rotate_imm(b, true, 1, n & 63); break;
	case OP_ROLW:
		rotate_cl(b, false, 0);
		x_movsxd(b, RAX, RAX);
		break;
	case OP_RORW:
		rotate_cl(b, false, 1);
		x_movsxd(b, RAX, RAX);
		break;
	case OP_RORIW:
		rotate_imm(b, false, 1, n & 31);
		x_movsxd(b, RAX, RAX);
		break;
	case OP_REV8:
		x_u8(b, 0x48); /* bswap rax */
		x_u8(b, 0x0f);
		x_u8(b, 0xc8);
		break;
	case OP_BSET: bit_reg(b, 0xab); break;
	case OP_BCLR: bit_reg(b, 0xb3); break;
	case OP_BINV: bit_reg(b, 0xbb); break;
	case OP_BSETI: bit_imm(b, 5, n); break;
	case OP_BCLRI: bit_imm(b, 6, n); break;
	case OP_BINVI: bit_imm(b, 7, n); break;
	case OP_BEXT:
		x_shift_cl(b, true, SH_SHR, RAX); /* by rcx mod 64 */
		x_alu_imm(b, false, ALU_AND, RAX, 1);
		break;
	case OP_BEXTI:
		x_shift_imm(b, true, SH_SHR, RAX, n & 63);
		x_alu_imm(b, false, ALU_AND, RAX, 1);
		break;
	case OP_CZERO_EQZ:
	case OP_CZERO_NEZ:
		x_mov_imm(b, RDX, 0);
		x_test(b, true, RCX, RCX);
		x_cmov(b, op == OP_CZERO_EQZ ? CC_E : CC_NE, RAX, RDX);
		break;
	}
	return RAX;
}
