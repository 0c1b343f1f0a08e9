/* The translator's x86-64 encoder (src/jit/x86_64/asm.h) against a disassembler: every form
 * the back end emits, with registers that need REX bits, SIB bytes (rsp, r12) and
 * displacements (rbp, r13; 8- and 32-bit), is decoded by Capstone and must read back as the
 * instruction meant, in Intel syntax. */
#include <capstone/capstone.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jit/x86_64/asm.h"

static uint8_t code[256];
static csh cs;

static void start(struct jit_buf *b)
{
	memset(code, 0xcc, sizeof(code));
	*b = (struct jit_buf){.start = code, .p = code, .end = code + sizeof(code), .x_delta = 0};
}

/* The buffer holds exactly one instruction, which disassembles to want ("mnemonic ops"). */
static void expect_one(const struct jit_buf *b, const char *want)
{
	assert_false(b->overflow);
	cs_insn *insn;
	size_t len = (size_t)(b->p - b->start);
	size_t n = cs_disasm(cs, code, len, (uint64_t)(uintptr_t)code, 0, &insn);
	char got[512] = "(undecodable)";
	if (n >= 1)
		snprintf(got, sizeof(got), "%s%s%s", insn[0].mnemonic, insn[0].op_str[0] ? " " : "",
			 insn[0].op_str);
	if (n != 1 || insn[0].size != len || strcmp(got, want)) {
		print_error("encoded %zu bytes:", len);
		for (size_t i = 0; i < len; i++)
			print_error(" %02x", code[i]);
		print_error("\n  decoded %zu instruction(s): %s\n  meant: %s\n", n, got, want);
		if (n)
			cs_free(insn, n);
		fail();
	}
	cs_free(insn, n);
}

#define CHECK(want, ...)              \
	do {                          \
		struct jit_buf b;     \
		start(&b);            \
		__VA_ARGS__;          \
		expect_one(&b, want); \
	} while (0)

static void test_moves(void **state)
{
	(void)state;
	CHECK("mov rax, qword ptr [rbx + 0x128]", x_load(&b, true, RAX, RBX, 0x128));
	CHECK("mov r12, qword ptr [rbx + 0x70]", x_load(&b, true, R12, RBX, 0x70));
	CHECK("mov eax, dword ptr [rsi]", x_load(&b, false, RAX, RSI, 0));
	CHECK("mov rax, qword ptr [rsp]", x_load(&b, true, RAX, RSP, 0));
	CHECK("mov rdx, qword ptr [r12 + 8]", x_load(&b, true, RDX, R12, 8));
	CHECK("mov rcx, qword ptr [rbp]", x_load(&b, true, RCX, RBP, 0));
	CHECK("mov rcx, qword ptr [r13 - 0x80]", x_load(&b, true, RCX, R13, -128));
	CHECK("mov qword ptr [rbx + 0x108], rax", x_store(&b, true, RAX, RBX, 0x108));
	CHECK("mov qword ptr [rbx + 0x78], r15", x_store(&b, true, R15, RBX, 0x78));
	CHECK("mov dword ptr [rsi], ecx", x_store(&b, false, RCX, RSI, 0));
	CHECK("mov word ptr [rsi], cx", x_store16(&b, RCX, RSI, 0));
	CHECK("mov byte ptr [rsi], cl", x_store8(&b, RCX, RSI, 0));
	CHECK("mov byte ptr [rsi], sil", x_store8(&b, RSI, RSI, 0));
	CHECK("mov byte ptr [r8], r9b", x_store8(&b, R9, R8, 0));
	CHECK("movzx eax, byte ptr [rsi]", x_load_zx8(&b, RAX, RSI, 0));
	CHECK("movzx r10d, word ptr [rsi]", x_load_zx16(&b, R10, RSI, 0));
	CHECK("movsx rbp, byte ptr [rsi]", x_load_sx8(&b, RBP, RSI, 0));
	CHECK("movsx rax, word ptr [rsi]", x_load_sx16(&b, RAX, RSI, 0));
	CHECK("movsxd r11, dword ptr [rsi]", x_load_sx32(&b, R11, RSI, 0));
	CHECK("movsxd rax, eax", x_movsxd(&b, RAX, RAX));
	CHECK("movsxd r14, r14d", x_movsxd(&b, R14, R14));
	CHECK("movzx eax, al", x_movzx8_reg(&b, RAX, RAX));
	CHECK("mov rdi, rbx", x_mov(&b, true, RDI, RBX));
	CHECK("mov eax, esi", x_mov(&b, false, RAX, RSI));
	CHECK("mov r8, rax", x_mov(&b, true, R8, RAX));
	CHECK("lea rsi, [r12 + 0x7ff]", x_lea(&b, RSI, R12, 0x7ff));
	CHECK("lea rdi, [rsi + 3]", x_lea(&b, RDI, RSI, 3));
	CHECK("mov qword ptr [rbx + 0x1000], 0", x_store_imm32(&b, RBX, 0x1000, 0));
}

static void test_constants(void **state)
{
	(void)state;
	CHECK("xor eax, eax", x_mov_imm(&b, RAX, 0));
	CHECK("mov ecx, 0x80000000", x_mov_imm(&b, RCX, 0x80000000ull));
	CHECK("mov rdx, -1", x_mov_imm(&b, RDX, ~0ull));
	CHECK("mov r9, -0x80000000", x_mov_imm(&b, R9, 0xffffffff80000000ull));
	CHECK("movabs rax, 0x123456789a", x_mov_imm(&b, RAX, 0x123456789aull));
	CHECK("movabs r15, 0x7fefffffffffffff", x_mov_imm(&b, R15, 0x7fefffffffffffffull));
}

static void test_alu(void **state)
{
	(void)state;
	CHECK("add rax, rcx", x_alu(&b, true, ALU_ADD, RAX, RCX));
	CHECK("sub r12, r13", x_alu(&b, true, ALU_SUB, R12, R13));
	CHECK("xor eax, r8d", x_alu(&b, false, ALU_XOR, RAX, R8));
	CHECK("cmp rax, qword ptr [rbx + 0x58]", x_alu_mem(&b, true, ALU_CMP, RAX, RBX, 0x58));
	CHECK("and rbp, qword ptr [rbx + 0xe0]", x_alu_mem(&b, true, ALU_AND, RBP, RBX, 0xe0));
	CHECK("or rax, 1", x_alu_imm(&b, true, ALU_OR, RAX, 1));
	CHECK("and eax, 0xfff0", x_alu_imm(&b, false, ALU_AND, RAX, 0xfff0));
	CHECK("and rax, 0xfffffffffffffffe", x_alu_imm(&b, true, ALU_AND, RAX, -2));
	CHECK("add r11d, 0x7ff", x_alu_imm(&b, false, ALU_ADD, R11, 0x7ff));
	CHECK("sub dword ptr [rbx + 0x128], 3", x_alu_mem_imm(&b, false, ALU_SUB, RBX, 0x128, 3));
	CHECK("or qword ptr [rbx + 0x2a0], 0x6000",
	      x_alu_mem_imm(&b, true, ALU_OR, RBX, 0x2a0, 0x6000));
	CHECK("cmp byte ptr [rbx + 0x12d], 0", x_cmp_mem8_imm(&b, RBX, 0x12d, 0));
	CHECK("test byte ptr [rbx + 0x130], 1", x_test_mem8_imm(&b, RBX, 0x130, 1));
	CHECK("test rax, rax", x_test(&b, true, RAX, RAX));
	CHECK("test al, al", x_test8(&b, RAX, RAX));
	CHECK("shl rax, 3", x_shift_imm(&b, true, SH_SHL, RAX, 3));
	CHECK("shr edi, 0xc", x_shift_imm(&b, false, SH_SHR, RDI, 12));
	CHECK("sar r10, 0x3f", x_shift_imm(&b, true, SH_SAR, R10, 63));
	CHECK("shl r14d, cl", x_shift_cl(&b, false, SH_SHL, R14));
	CHECK("imul rax, rcx", x_imul(&b, true, RAX, RCX));
	CHECK("imul eax, r9d", x_imul(&b, false, RAX, R9));
	CHECK("mul rcx", x_f7(&b, true, 4, RCX));
	CHECK("imul r8", x_f7(&b, true, 5, R8));
	CHECK("setl cl", x_setcc(&b, CC_L, RCX));
	CHECK("setb sil", x_setcc(&b, CC_B, RSI));
	CHECK("cmovne rax, rdx", x_cmov(&b, CC_NE, RAX, RDX));
	CHECK("mfence", x_mfence(&b));
}

static void test_control(void **state)
{
	(void)state;
	uintptr_t here = (uintptr_t)code;
	char want[64];
	snprintf(want, sizeof(want), "jmp 0x%lx", (unsigned long)(here + 0x1000));
	CHECK(want, x_jmp(&b, here + 0x1000));
	snprintf(want, sizeof(want), "jle 0x%lx", (unsigned long)(here - 0x40));
	CHECK(want, x_jcc(&b, CC_LE, here - 0x40));
	snprintf(want, sizeof(want), "lea rsi, [rip + 0x%x]", 0x200 - 7);
	CHECK(want, x_lea_rip(&b, RSI, here + 0x200));
	CHECK("jmp qword ptr [rcx + 8]", x_jmp_mem(&b, RCX, 8));
	CHECK("call rax", x_u8(&b, 0xff); x_modrm_reg(&b, 2, RAX));
	CHECK("push r12", x_push(&b, R12));
	CHECK("pop rbx", x_pop(&b, RBX));
	CHECK("ret", x_ret(&b));
}

/* [base + index * scale + disp] operands (the translator's loads and stores, the site log) and
 * RIP-relative ones (site tags and addends). */
static void test_indexed(void **state)
{
	(void)state;
	static const uint8_t mov_load[] = {0x8b}, mov_store[] = {0x89}, movsx8[] = {0x0f, 0xbe};
	CHECK("mov rax, qword ptr [rbp + rsi - 8]",
	      x_op_memx(&b, 0, true, mov_load, 1, RAX, RBP, RSI, 0, -8, false));
	CHECK("mov r9d, dword ptr [r13 + rsi]",
	      x_op_memx(&b, 0, false, mov_load, 1, R9, R13, RSI, 0, 0, false));
	CHECK("mov qword ptr [r12 + r10 + 0x7ff], rdx",
	      x_op_memx(&b, 0, true, mov_store, 1, RDX, R12, R10, 0, 0x7ff, false));
	CHECK("mov qword ptr [rbx + rax*8 + 0x12340], rdi",
	      x_op_memx(&b, 0, true, mov_store, 1, RDI, RBX, RAX, 3, 0x12340, false));
	CHECK("mov word ptr [r15 + rsi + 2], cx",
	      x_op_memx(&b, 0x66, false, mov_store, 1, RCX, R15, RSI, 0, 2, false));
	CHECK("mov byte ptr [rdx + rsi], sil",
	      x_op_memx(&b, 0, false, (const uint8_t[]){0x88}, 1, RSI, RDX, RSI, 0, 0, true));
	CHECK("movsx r14, byte ptr [r8 + rsi - 0x800]",
	      x_op_memx(&b, 0, true, movsx8, 2, R14, R8, RSI, 0, -0x800, false));
	uintptr_t here = (uintptr_t)code;
	char want[64];
	snprintf(want, sizeof(want), "cmp rdi, qword ptr [rip + 0x%x]", 0x1000 - 7);
	CHECK(want, x_op_rip(&b, true, 0x3b, RDI, here + 0x1000));
	snprintf(want, sizeof(want), "mov r11, qword ptr [rip - 0x%x]", 0x40 + 7);
	CHECK(want, x_op_rip(&b, true, 0x8b, R11, here - 0x40));
	/* A target beyond 2 GiB cannot be encoded: an overflow, so the block is dropped. */
	struct jit_buf b;
	start(&b);
	x_op_rip(&b, true, 0x8b, RSI, here + (3ull << 30));
	assert_true(b.overflow);
}

static void test_patch(void **state)
{
	(void)state;
	struct jit_buf b;
	start(&b);
	uint8_t *field = x_jcc(&b, CC_NE, 0);
	x_patch_rel32(&b, field, (uintptr_t)code + 0x300);
	char want[64];
	snprintf(want, sizeof(want), "jne 0x%lx", (unsigned long)((uintptr_t)code + 0x300));
	expect_one(&b, want);
}

static void test_sse(void **state)
{
	(void)state;
	CHECK("movq xmm0, qword ptr [rbx + 0x110]", x_sse_mem(&b, 0xf3, 0x7e, 0, RBX, 0x110));
	CHECK("addsd xmm0, qword ptr [rbx + 0x118]", x_sse_mem(&b, 0xf2, 0x58, 0, RBX, 0x118));
	CHECK("divsd xmm0, qword ptr [rbx + 0x118]", x_sse_mem(&b, 0xf2, 0x5e, 0, RBX, 0x118));
	CHECK("mulss xmm0, dword ptr [rbx + 0x118]", x_sse_mem(&b, 0xf3, 0x59, 0, RBX, 0x118));
	CHECK("movd xmm0, dword ptr [rbx + 0x110]", x_sse_mem(&b, 0x66, 0x6e, 0, RBX, 0x110));
	CHECK("movq rax, xmm0", x_movq_from_xmm(&b, RAX, 0));
	/* The cached f registers: xmm1-xmm15, register forms and stores. */
	CHECK("movq xmm9, qword ptr [rbx + 0x110]", x_sse_mem(&b, 0xf3, 0x7e, 9, RBX, 0x110));
	CHECK("movq qword ptr [rbx + 0x110], xmm12", x_movq_store_xmm(&b, 12, RBX, 0x110));
	CHECK("movq qword ptr [rbx + 0x118], xmm3", x_movq_store_xmm(&b, 3, RBX, 0x118));
	CHECK("movapd xmm0, xmm13", x_sse_rr(&b, 0x66, 0x28, 0, 13));
	CHECK("movapd xmm11, xmm0", x_sse_rr(&b, 0x66, 0x28, 11, 0));
	CHECK("subsd xmm0, xmm15", x_sse_rr(&b, 0xf2, 0x5c, 0, 15));
	CHECK("mulss xmm0, xmm2", x_sse_rr(&b, 0xf3, 0x59, 0, 2));
	CHECK("movq xmm14, rax", x_movq_to_xmm(&b, 14, RAX));
	CHECK("movq xmm1, rax", x_movq_to_xmm(&b, 1, RAX));
	CHECK("movq rcx, xmm9", x_movq_from_xmm(&b, RCX, 9));
	/* FLD and FSD of a cached register: [base + rdi + disp] straight to and from xmm. */
	CHECK(
	    "movq xmm9, qword ptr [r12 + rdi + 8]",
	    x_op_memx(&b, 0xf3, false, (const uint8_t[]){0x0f, 0x7e}, 2, 9, R12, RDI, 0, 8, false));
	CHECK("movq qword ptr [rbp + rdi - 8], xmm3",
	      x_op_memx(&b, 0x66, false, (const uint8_t[]){0x0f, 0xd6}, 2, 3, RBP, RDI, 0, -8,
			false));
	CHECK(
	    "movq xmm1, qword ptr [r13 + rdi]",
	    x_op_memx(&b, 0xf3, false, (const uint8_t[]){0x0f, 0x7e}, 2, 1, R13, RDI, 0, 0, false));
}

/* A full buffer is never written past, and says so (the translator then drops the block). */
static void test_overflow(void **state)
{
	(void)state;
	uint8_t mem[16];
	memset(mem, 0xcc, sizeof(mem));
	struct jit_buf b = {.start = mem, .p = mem, .end = mem + 6};
	x_load(&b, true, RAX, RBX, 0x128); /* 7 bytes */
	assert_true(b.overflow);
	assert_true(b.p <= b.end);
	x_mov_imm(&b, RAX, 1);
	assert_true(b.p <= b.end);
	for (unsigned i = 6; i < sizeof(mem); i++)
		assert_int_equal(mem[i], 0xcc);
}

int main(void)
{
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_moves),   cmocka_unit_test(test_constants),
	    cmocka_unit_test(test_alu),     cmocka_unit_test(test_control),
	    cmocka_unit_test(test_indexed), cmocka_unit_test(test_patch),
	    cmocka_unit_test(test_sse),     cmocka_unit_test(test_overflow),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	cs_close(&cs);
	return rc;
}
