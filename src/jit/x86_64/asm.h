/* A small x86-64 encoder for the translator's back end: the instruction forms it emits, with
 * register and [base + disp32] memory operands (Intel SDM vol. 2, chapter 2: REX, ModRM, SIB).
 * Writes go to a bounded buffer; an overflow is remembered, never written past. */
#ifndef RVISOR_JIT_X86_64_ASM_H
#define RVISOR_JIT_X86_64_ASM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "jit/backend.h"

/* Host registers by their encoding number. */
enum x_reg {
	RAX,
	RCX,
	RDX,
	RBX,
	RSP,
	RBP,
	RSI,
	RDI,
	R8,
	R9,
	R10,
	R11,
	R12,
	R13,
	R14,
	R15,
};

/* Condition codes (the low nibble of Jcc/SETcc). */
enum x_cc {
	CC_O,
	CC_NO,
	CC_B,
	CC_AE,
	CC_E,
	CC_NE,
	CC_BE,
	CC_A,
	CC_S,
	CC_NS,
	CC_P,
	CC_NP,
	CC_L,
	CC_GE,
	CC_LE,
	CC_G,
};

/* ALU operations by their /digit in the 0x81 group (and opcode = digit * 8 + 1 for r/m, r). */
enum x_alu_op { ALU_ADD = 0, ALU_OR = 1, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7 };

/* Shift operations by their /digit in the 0xc1 / 0xd3 groups. */
enum x_shift_op { SH_SHL = 4, SH_SHR = 5, SH_SAR = 7 };

static inline void x_bytes(struct jit_buf *b, const void *src, unsigned n)
{
	if (b->overflow || (size_t)(b->end - b->p) < n) {
		b->overflow = true;
		return;
	}
	memcpy(b->p, src, n);
	b->p += n;
}
static inline void x_u8(struct jit_buf *b, uint8_t v)
{
	x_bytes(b, &v, 1);
}
static inline void x_u32(struct jit_buf *b, uint32_t v)
{
	x_bytes(b, &v, 4);
}
static inline void x_u64(struct jit_buf *b, uint64_t v)
{
	x_bytes(b, &v, 8);
}
/* Pad with int3 to a multiple of n bytes (for data placed between code). */
static inline void x_align(struct jit_buf *b, unsigned n)
{
	while (!b->overflow && ((uintptr_t)b->p & (n - 1)))
		x_u8(b, 0xcc);
}
/* Executable address of the current write position. */
static inline uintptr_t x_here(const struct jit_buf *b)
{
	return (uintptr_t)b->p + (uintptr_t)b->x_delta;
}

/* REX prefix when needed: w = 64-bit operand, r = ModRM.reg, x = SIB.index, bb = base/rm.
 * force: emit even when empty (byte registers SPL..DIL). */
static inline void x_rex(struct jit_buf *b, bool w, unsigned r, unsigned x, unsigned bb, bool force)
{
	uint8_t rex =
	    0x40 | (w ? 8 : 0) | ((r & 8) ? 4 : 0) | ((x & 8) ? 2 : 0) | ((bb & 8) ? 1 : 0);
	if (rex != 0x40 || force)
		x_u8(b, rex);
}

/* ModRM (+SIB, disp) for reg and the memory operand [base + disp]. */
static inline void x_modrm_mem(struct jit_buf *b, unsigned reg, unsigned base, int32_t disp)
{
	unsigned mod = (disp == 0 && (base & 7) != RBP) ? 0 : (disp >= -128 && disp <= 127) ? 1 : 2;
	x_u8(b, (uint8_t)(mod << 6 | (reg & 7) << 3 | (base & 7)));
	if ((base & 7) == RSP)
		x_u8(b, 0x24); /* SIB: no index, base = rsp/r12 */
	if (mod == 1)
		x_u8(b, (uint8_t)(int8_t)disp);
	else if (mod == 2)
		x_u32(b, (uint32_t)disp);
}
static inline void x_modrm_reg(struct jit_buf *b, unsigned reg, unsigned rm)
{
	x_u8(b, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

/* ModRM + SIB (+disp) for reg and [base + index * (1 << scale) + disp]; index is not rsp. */
static inline void x_modrm_sib(struct jit_buf *b, unsigned reg, unsigned base, unsigned index,
			       unsigned scale, int32_t disp)
{
	unsigned mod = (disp == 0 && (base & 7) != RBP) ? 0 : (disp >= -128 && disp <= 127) ? 1 : 2;
	x_u8(b, (uint8_t)(mod << 6 | (reg & 7) << 3 | 4));
	x_u8(b, (uint8_t)(scale << 6 | (index & 7) << 3 | (base & 7)));
	if (mod == 1)
		x_u8(b, (uint8_t)(int8_t)disp);
	else if (mod == 2)
		x_u32(b, (uint32_t)disp);
}

/* op reg, [base + index * (1 << scale) + disp]; prefix (0x66, or 0: none) goes before REX;
 * force_rex for the byte registers spl..dil. */
static inline void x_op_memx(struct jit_buf *b, uint8_t prefix, bool w, const uint8_t *op,
			     unsigned oplen, unsigned reg, unsigned base, unsigned index,
			     unsigned scale, int32_t disp, bool force_rex)
{
	if (prefix)
		x_u8(b, prefix);
	x_rex(b, w, reg, index, base, force_rex);
	x_bytes(b, op, oplen);
	x_modrm_sib(b, reg, base, index, scale, disp);
}

/* op reg, [rip + (target_x - next)] for a one-byte opcode, w = 64-bit. A target beyond
 * 2 GiB of the instruction is an overflow (the block is dropped). */
static inline void x_op_rip(struct jit_buf *b, bool w, uint8_t op, unsigned reg, uintptr_t target_x)
{
	x_rex(b, w, reg, 0, 0, false);
	x_u8(b, op);
	x_u8(b, (uint8_t)(((reg & 7) << 3) | 5));
	int64_t rel = (int64_t)(target_x - (x_here(b) + 4));
	if (rel != (int32_t)rel)
		b->overflow = true;
	x_u32(b, (uint32_t)rel);
}

/* op reg, [base + disp] (or op [base + disp], reg, by the opcode), w = 64-bit. */
static inline void x_op_mem(struct jit_buf *b, bool w, const uint8_t *op, unsigned oplen,
			    unsigned reg, unsigned base, int32_t disp)
{
	x_rex(b, w, reg, 0, base, false);
	x_bytes(b, op, oplen);
	x_modrm_mem(b, reg, base, disp);
}
static inline void x_op_reg(struct jit_buf *b, bool w, const uint8_t *op, unsigned oplen,
			    unsigned reg, unsigned rm)
{
	x_rex(b, w, reg, 0, rm, false);
	x_bytes(b, op, oplen);
	x_modrm_reg(b, reg, rm);
}

/* mov r64, [base + disp] / mov [base + disp], r64 (w: 64 or 32 bits). */
static inline void x_load(struct jit_buf *b, bool w, unsigned r, unsigned base, int32_t disp)
{
	x_op_mem(b, w, (const uint8_t[]){0x8b}, 1, r, base, disp);
}
static inline void x_store(struct jit_buf *b, bool w, unsigned r, unsigned base, int32_t disp)
{
	x_op_mem(b, w, (const uint8_t[]){0x89}, 1, r, base, disp);
}
/* Store the low 1 or 2 bytes of r. */
static inline void x_store8(struct jit_buf *b, unsigned r, unsigned base, int32_t disp)
{
	x_rex(b, false, r, 0, base, r >= RSP && r <= RDI);
	x_u8(b, 0x88);
	x_modrm_mem(b, r, base, disp);
}
static inline void x_store16(struct jit_buf *b, unsigned r, unsigned base, int32_t disp)
{
	x_u8(b, 0x66);
	x_op_mem(b, false, (const uint8_t[]){0x89}, 1, r, base, disp);
}
/* Loads that extend: movzx r32, byte/word [m]; movsx r64, byte/word [m]; movsxd r64, [m]. */
static inline void x_load_zx8(struct jit_buf *b, unsigned r, unsigned base, int32_t disp)
{
	x_op_mem(b, false, (const uint8_t[]){0x0f, 0xb6}, 2, r, base, disp);
}
static inline void x_load_zx16(struct jit_buf *b, unsigned r, unsigned base, int32_t disp)
{
	x_op_mem(b, false, (const uint8_t[]){0x0f, 0xb7}, 2, r, base, disp);
}
static inline void x_load_sx8(struct jit_buf *b, unsigned r, unsigned base, int32_t disp)
{
	x_op_mem(b, true, (const uint8_t[]){0x0f, 0xbe}, 2, r, base, disp);
}
static inline void x_load_sx16(struct jit_buf *b, unsigned r, unsigned base, int32_t disp)
{
	x_op_mem(b, true, (const uint8_t[]){0x0f, 0xbf}, 2, r, base, disp);
}
static inline void x_load_sx32(struct jit_buf *b, unsigned r, unsigned base, int32_t disp)
{
	x_op_mem(b, true, (const uint8_t[]){0x63}, 1, r, base, disp);
}
/* movsxd r64, r32 */
static inline void x_movsxd(struct jit_buf *b, unsigned dst, unsigned src)
{
	x_op_reg(b, true, (const uint8_t[]){0x63}, 1, dst, src);
}
/* movzx r32, r8 (src low byte; AL..BL need no REX) */
static inline void x_movzx8_reg(struct jit_buf *b, unsigned dst, unsigned src)
{
	x_rex(b, false, dst, 0, src, src >= RSP && src <= RDI);
	x_u8(b, 0x0f);
	x_u8(b, 0xb6);
	x_modrm_reg(b, dst, src);
}

/* mov dst, src (w: 64 or 32 bits; 32 zero-extends). */
static inline void x_mov(struct jit_buf *b, bool w, unsigned dst, unsigned src)
{
	x_op_reg(b, w, (const uint8_t[]){0x89}, 1, src, dst);
}
/* Load a 64-bit constant into r with the shortest form. */
static inline void x_mov_imm(struct jit_buf *b, unsigned r, uint64_t v)
{
	if (v == 0) { /* xor r32, r32 */
		x_op_reg(b, false, (const uint8_t[]){0x31}, 1, r, r);
	} else if (v <= 0xffffffffull) { /* mov r32, imm32 */
		x_rex(b, false, 0, 0, r, false);
		x_u8(b, (uint8_t)(0xb8 + (r & 7)));
		x_u32(b, (uint32_t)v);
	} else if ((int64_t)v == (int32_t)v) { /* mov r64, simm32 */
		x_rex(b, true, 0, 0, r, false);
		x_u8(b, 0xc7);
		x_modrm_reg(b, 0, r);
		x_u32(b, (uint32_t)v);
	} else {
		x_rex(b, true, 0, 0, r, false);
		x_u8(b, (uint8_t)(0xb8 + (r & 7)));
		x_u64(b, v);
	}
}
/* mov qword [base + disp], simm32 */
static inline void x_store_imm32(struct jit_buf *b, unsigned base, int32_t disp, int32_t v)
{
	x_op_mem(b, true, (const uint8_t[]){0xc7}, 1, 0, base, disp);
	x_u32(b, (uint32_t)v);
}

/* alu dst, src (register forms) */
static inline void x_alu(struct jit_buf *b, bool w, enum x_alu_op op, unsigned dst, unsigned src)
{
	x_op_reg(b, w, (const uint8_t[]){(uint8_t)(op * 8 + 1)}, 1, src, dst);
}
/* alu r, [base + disp] */
static inline void x_alu_mem(struct jit_buf *b, bool w, enum x_alu_op op, unsigned r, unsigned base,
			     int32_t disp)
{
	x_op_mem(b, w, (const uint8_t[]){(uint8_t)(op * 8 + 3)}, 1, r, base, disp);
}
/* alu r, simm32 */
static inline void x_alu_imm(struct jit_buf *b, bool w, enum x_alu_op op, unsigned r, int32_t imm)
{
	if (imm >= -128 && imm <= 127) {
		x_op_reg(b, w, (const uint8_t[]){0x83}, 1, op, r);
		x_u8(b, (uint8_t)(int8_t)imm);
	} else {
		x_op_reg(b, w, (const uint8_t[]){0x81}, 1, op, r);
		x_u32(b, (uint32_t)imm);
	}
}
/* alu dword/qword [base + disp], simm32 */
static inline void x_alu_mem_imm(struct jit_buf *b, bool w, enum x_alu_op op, unsigned base,
				 int32_t disp, int32_t imm)
{
	if (imm >= -128 && imm <= 127) {
		x_op_mem(b, w, (const uint8_t[]){0x83}, 1, op, base, disp);
		x_u8(b, (uint8_t)(int8_t)imm);
	} else {
		x_op_mem(b, w, (const uint8_t[]){0x81}, 1, op, base, disp);
		x_u32(b, (uint32_t)imm);
	}
}
/* cmp byte [base + disp], imm8 */
static inline void x_cmp_mem8_imm(struct jit_buf *b, unsigned base, int32_t disp, uint8_t imm)
{
	x_op_mem(b, false, (const uint8_t[]){0x80}, 1, ALU_CMP, base, disp);
	x_u8(b, imm);
}
/* test byte [base + disp], imm8 */
static inline void x_test_mem8_imm(struct jit_buf *b, unsigned base, int32_t disp, uint8_t imm)
{
	x_op_mem(b, false, (const uint8_t[]){0xf6}, 1, 0, base, disp);
	x_u8(b, imm);
}
/* test a8, b8 (low bytes; AL..BL need no REX) */
static inline void x_test8(struct jit_buf *b, unsigned a, unsigned bb)
{
	x_rex(b, false, bb, 0, a, a >= RSP || bb >= RSP);
	x_u8(b, 0x84);
	x_modrm_reg(b, bb, a);
}
/* test a, b */
static inline void x_test(struct jit_buf *b, bool w, unsigned a, unsigned bb)
{
	x_op_reg(b, w, (const uint8_t[]){0x85}, 1, bb, a);
}
/* shift r by imm (masked by the caller) / by cl */
static inline void x_shift_imm(struct jit_buf *b, bool w, enum x_shift_op op, unsigned r,
			       unsigned n)
{
	x_op_reg(b, w, (const uint8_t[]){0xc1}, 1, op, r);
	x_u8(b, (uint8_t)n);
}
static inline void x_shift_cl(struct jit_buf *b, bool w, enum x_shift_op op, unsigned r)
{
	x_op_reg(b, w, (const uint8_t[]){0xd3}, 1, op, r);
}
/* imul dst, src (two-operand, low half) */
static inline void x_imul(struct jit_buf *b, bool w, unsigned dst, unsigned src)
{
	x_op_reg(b, w, (const uint8_t[]){0x0f, 0xaf}, 2, dst, src);
}
/* One-operand forms of the 0xf7 group on a register: rdx:rax = rax * r (mul /4, imul /5),
 * not /2, neg /3. */
static inline void x_f7(struct jit_buf *b, bool w, unsigned digit, unsigned r)
{
	x_op_reg(b, w, (const uint8_t[]){0xf7}, 1, digit, r);
}
/* lea r, [base + disp] */
static inline void x_lea(struct jit_buf *b, unsigned r, unsigned base, int32_t disp)
{
	x_op_mem(b, true, (const uint8_t[]){0x8d}, 1, r, base, disp);
}
/* setcc r8 (low byte of r) */
static inline void x_setcc(struct jit_buf *b, enum x_cc cc, unsigned r)
{
	x_rex(b, false, 0, 0, r, r >= RSP && r <= RDI);
	x_u8(b, 0x0f);
	x_u8(b, (uint8_t)(0x90 + cc));
	x_modrm_reg(b, 0, r);
}
/* cmovcc dst, src (64-bit) */
static inline void x_cmov(struct jit_buf *b, enum x_cc cc, unsigned dst, unsigned src)
{
	x_op_reg(b, true, (const uint8_t[]){0x0f, (uint8_t)(0x40 + cc)}, 2, dst, src);
}

/* Jumps with 32-bit displacements. Each returns the writable address of its rel32 field, for
 * x_patch_rel32. */
static inline uint8_t *x_jmp(struct jit_buf *b, uintptr_t target_x)
{
	x_u8(b, 0xe9);
	uint8_t *field = b->p;
	x_u32(b, (uint32_t)(target_x - (x_here(b) + 4)));
	return field;
}
static inline uint8_t *x_jcc(struct jit_buf *b, enum x_cc cc, uintptr_t target_x)
{
	x_u8(b, 0x0f);
	x_u8(b, (uint8_t)(0x80 + cc));
	uint8_t *field = b->p;
	x_u32(b, (uint32_t)(target_x - (x_here(b) + 4)));
	return field;
}
/* Point the rel32 field (writable address field, in buffer b) at target_x. */
static inline void x_patch_rel32(const struct jit_buf *b, uint8_t *field, uintptr_t target_x)
{
	uintptr_t next_x = (uintptr_t)field + (uintptr_t)b->x_delta + 4;
	uint32_t rel = (uint32_t)(target_x - next_x);
	memcpy(field, &rel, 4);
}
/* Call an absolute host function (through rax). */
static inline void x_call(struct jit_buf *b, const void *fn)
{
	x_mov_imm(b, RAX, (uint64_t)(uintptr_t)fn);
	x_u8(b, 0xff);
	x_modrm_reg(b, 2, RAX);
}
/* jmp qword [base + disp] */
static inline void x_jmp_mem(struct jit_buf *b, unsigned base, int32_t disp)
{
	x_op_mem(b, false, (const uint8_t[]){0xff}, 1, 4, base, disp);
}
/* lea r, [rip + (target_x - next)]; returns the writable address of the disp32 field. */
static inline uint8_t *x_lea_rip(struct jit_buf *b, unsigned r, uintptr_t target_x)
{
	x_rex(b, true, r, 0, 0, false);
	x_u8(b, 0x8d);
	x_u8(b, (uint8_t)(((r & 7) << 3) | 5));
	uint8_t *field = b->p;
	x_u32(b, (uint32_t)(target_x - (x_here(b) + 4)));
	return field;
}
static inline void x_push(struct jit_buf *b, unsigned r)
{
	x_rex(b, false, 0, 0, r, false);
	x_u8(b, (uint8_t)(0x50 + (r & 7)));
}
static inline void x_pop(struct jit_buf *b, unsigned r)
{
	x_rex(b, false, 0, 0, r, false);
	x_u8(b, (uint8_t)(0x58 + (r & 7)));
}
static inline void x_ret(struct jit_buf *b)
{
	x_u8(b, 0xc3);
}
/* SSE scalar forms on xmm registers 0-15: prefix (0x66, 0xf2, 0xf3), 0x0f, op, ModRM with
 * [base + disp]: movq xmm, m64 (f3 7e), movq m64, xmm (66 d6), movd xmm, m32 (66 6e),
 * addsd/addss (f2/f3 58), mulsd (59), subsd (5c), divsd (5e), sqrtsd (51). */
static inline void x_sse_mem(struct jit_buf *b, uint8_t prefix, uint8_t op, unsigned xmm,
			     unsigned base, int32_t disp)
{
	x_u8(b, prefix);
	x_rex(b, false, xmm, 0, base, false);
	x_u8(b, 0x0f);
	x_u8(b, op);
	x_modrm_mem(b, xmm, base, disp);
}
/* SSE op xmm dst, xmm src (register form; prefix 0x66/0xf2/0xf3, or 0: none): movapd (66 28),
 * addsd/addss (f2/f3 58), mulsd (59), subsd (5c), divsd (5e). */
static inline void x_sse_rr(struct jit_buf *b, uint8_t prefix, uint8_t op, unsigned dst,
			    unsigned src)
{
	if (prefix)
		x_u8(b, prefix);
	x_rex(b, false, dst, 0, src, false);
	x_u8(b, 0x0f);
	x_u8(b, op);
	x_modrm_reg(b, dst, src);
}
/* movq between xmm and r64: 66 REX.W 0f op /r with ModRM.reg = xmm (op 6e: xmm = r, 7e:
 * r = xmm). */
static inline void x_movq_xmm_r64(struct jit_buf *b, uint8_t op, unsigned xmm, unsigned r)
{
	x_u8(b, 0x66);
	x_rex(b, true, xmm, 0, r, false);
	x_u8(b, 0x0f);
	x_u8(b, op);
	x_modrm_reg(b, xmm, r);
}
/* movq xmm, r64 */
static inline void x_movq_to_xmm(struct jit_buf *b, unsigned xmm, unsigned r)
{
	x_movq_xmm_r64(b, 0x6e, xmm, r);
}
/* movq [base + disp], xmm (66 0f d6) */
static inline void x_movq_store_xmm(struct jit_buf *b, unsigned xmm, unsigned base, int32_t disp)
{
	x_sse_mem(b, 0x66, 0xd6, xmm, base, disp);
}
/* movq r64, xmm */
static inline void x_movq_from_xmm(struct jit_buf *b, unsigned r, unsigned xmm)
{
	x_movq_xmm_r64(b, 0x7e, xmm, r);
}
static inline void x_mfence(struct jit_buf *b)
{
	x_bytes(b, (const uint8_t[]){0x0f, 0xae, 0xf0}, 3);
}

#endif
