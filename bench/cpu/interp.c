/* An interpreter: a small stack-machine bytecode (an opcode and an operand per instruction) run by
 * a switch-dispatch loop, as in scripting language virtual machines, with every stack and local
 * access bounds-checked. The program counts the primes below a limit by trial division; the count
 * is checked against a sieve of Eratosthenes computed directly in C. */
#include "bench.h"

#define INTERP_LIMIT     60000
#define INTERP_STACK_MAX 16
#define INTERP_LOCALS    4

enum interp_op {
	OP_HALT,  /* stop; the result is the top of the stack */
	OP_PUSH,  /* push the immediate operand */
	OP_LOAD,  /* push local[operand] */
	OP_STORE, /* pop into local[operand] */
	OP_INC,   /* local[operand] += 1 */
	OP_MUL,   /* a b -- a*b */
	OP_MOD,   /* a b -- a%b (b != 0) */
	OP_LT,    /* a b -- a<b */
	OP_LE,    /* a b -- a<=b */
	OP_JZ,    /* pop; jump to operand if it was 0 */
	OP_JMP,   /* jump to operand */
};

/* One instruction: an opcode and its operand (0 when it takes none). */
struct interp_insn {
	int32_t op;
	int32_t arg;
};

struct interp_vm {
	const struct interp_insn *code;
	uint32_t code_len;
	int64_t stack[INTERP_STACK_MAX];
	int64_t local[INTERP_LOCALS];
};

enum { L_I, L_COUNT, L_J, L_LIMIT };

/* for (i = 2; i < limit; i++) { for (j = 2; j * j <= i; j++) if (i % j == 0) goto composite;
 * count++; composite: } -- jump targets are instruction indices. */
static const struct interp_insn interp_primes[] = {
    {OP_PUSH, 2},        /* 0 */
    {OP_STORE, L_I},     /* 1 */
    {OP_PUSH, 0},        /* 2 */
    {OP_STORE, L_COUNT}, /* 3 */
    {OP_LOAD, L_I},      /* 4: loop_i */
    {OP_LOAD, L_LIMIT},  /* 5 */
    {OP_LT, 0},          /* 6 */
    {OP_JZ, 25},         /* 7: to end */
    {OP_PUSH, 2},        /* 8 */
    {OP_STORE, L_J},     /* 9 */
    {OP_LOAD, L_J},      /* 10: loop_j */
    {OP_LOAD, L_J},      /* 11 */
    {OP_MUL, 0},         /* 12 */
    {OP_LOAD, L_I},      /* 13 */
    {OP_LE, 0},          /* 14 */
    {OP_JZ, 22},         /* 15: to prime */
    {OP_LOAD, L_I},      /* 16 */
    {OP_LOAD, L_J},      /* 17 */
    {OP_MOD, 0},         /* 18 */
    {OP_JZ, 23},         /* 19: to composite */
    {OP_INC, L_J},       /* 20 */
    {OP_JMP, 10},        /* 21: to loop_j */
    {OP_INC, L_COUNT},   /* 22: prime */
    {OP_INC, L_I},       /* 23: composite */
    {OP_JMP, 4},         /* 24: to loop_i */
    {OP_LOAD, L_COUNT},  /* 25: end */
    {OP_HALT, 0},        /* 26 */
};

/* Runs vm->code from instruction 0. Returns 0 and the result in *result, or -1 if the program
 * misbehaves (bad opcode, local or jump; stack overflow or underflow; division by zero). */
static int interp_execute(struct interp_vm *vm, int64_t *result)
{
	uint32_t pc = 0, sp = 0; /* sp: number of values on the stack */
	int64_t a, b;

	for (;;) {
		const struct interp_insn *insn;

		if (pc >= vm->code_len)
			return -1;
		insn = &vm->code[pc++];
		switch (insn->op) {
		case OP_HALT:
			if (sp < 1)
				return -1;
			*result = vm->stack[sp - 1];
			return 0;
		case OP_PUSH:
			if (sp >= INTERP_STACK_MAX)
				return -1;
			vm->stack[sp++] = insn->arg;
			break;
		case OP_LOAD:
			if (sp >= INTERP_STACK_MAX || insn->arg < 0 || insn->arg >= INTERP_LOCALS)
				return -1;
			vm->stack[sp++] = vm->local[insn->arg];
			break;
		case OP_STORE:
			if (sp < 1 || insn->arg < 0 || insn->arg >= INTERP_LOCALS)
				return -1;
			vm->local[insn->arg] = vm->stack[--sp];
			break;
		case OP_INC:
			if (insn->arg < 0 || insn->arg >= INTERP_LOCALS)
				return -1;
			vm->local[insn->arg]++;
			break;
		case OP_MUL:
		case OP_MOD:
		case OP_LT:
		case OP_LE:
			if (sp < 2)
				return -1;
			b = vm->stack[--sp];
			a = vm->stack[sp - 1];
			switch (insn->op) {
			case OP_MUL: a = (int64_t)((uint64_t)a * (uint64_t)b); break;
			case OP_MOD:
				if (b == 0 || (b == -1 && a == INT64_MIN))
					return -1;
				a %= b;
				break;
			case OP_LT: a = a < b; break;
			default: a = a <= b; break;
			}
			vm->stack[sp - 1] = a;
			break;
		case OP_JZ:
			if (sp < 1)
				return -1;
			if (vm->stack[--sp] == 0)
				pc = (uint32_t)insn->arg;
			break;
		case OP_JMP: pc = (uint32_t)insn->arg; break;
		default: return -1;
		}
	}
}

/* The number of primes below limit, by a sieve in mem (limit bytes). */
static int64_t interp_sieve(uint8_t *composite, uint32_t limit)
{
	int64_t count = 0;

	for (uint32_t i = 0; i < limit; i++)
		composite[i] = 0;
	for (uint32_t i = 2; i < limit; i++) {
		if (composite[i])
			continue;
		count++;
		for (uint64_t k = (uint64_t)i * i; k < limit; k += i)
			composite[k] = 1;
	}
	return count;
}

static int interp_run(void *mem, uint64_t *checksum)
{
	struct interp_vm vm = {.code = interp_primes,
			       .code_len = sizeof(interp_primes) / sizeof(interp_primes[0])};
	int64_t count;

	vm.local[L_LIMIT] = INTERP_LIMIT;
	if (interp_execute(&vm, &count) || count != interp_sieve(mem, INTERP_LIMIT))
		return BENCH_FAIL_SELFCHECK;
	*checksum = (uint64_t)count;
	return BENCH_OK;
}

const struct workload interp_workload = {
    .name = "interp",
    .mem_size = INTERP_LIMIT,
    .run = interp_run,
    .expected = 0x00000000000017a9ull,
};
