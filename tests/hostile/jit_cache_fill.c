/* The translator's code cache filled over and over (run with --jit-cache 1M): 6000 new
 * functions of 128 random arithmetic instructions each, written into a 512 KiB arena (so
 * code is also overwritten), fence.i, called, and each result checked against the same
 * arithmetic done here; every 16th function, an older one is called again. Under the
 * interpreter the same program runs without a cache. */
#include "hostile.h"

#define FUNCS 6000
#define INSNS 128
#define SLOTS (512 * 1024 / ((INSNS + 1) * 4))

static uint32_t arena_code[SLOTS][INSNS + 1] __attribute__((aligned(4096)));
static uint64_t expect[SLOTS];

/* One function: a0 = f(a0), returned with ret; returns f(seed) computed here. */
static uint64_t gen(uint32_t *at, uint64_t seed)
{
	uint64_t v = seed;
	for (unsigned i = 0; i < INSNS; i++) {
		uint64_t r = rnd();
		int32_t imm = (int32_t)(r >> 20 & 0xfff) - 2048;
		switch (r & 3) {
		case 0: /* addi a0, a0, imm */
			at[i] = ((uint32_t)(imm & 0xfff) << 20) | (10u << 15) | (10u << 7) | 0x13;
			v += (uint64_t)(int64_t)imm;
			break;
		case 1: /* xori a0, a0, imm */
			at[i] = ((uint32_t)(imm & 0xfff) << 20) | (10u << 15) | (4u << 12) |
				(10u << 7) | 0x13;
			v ^= (uint64_t)(int64_t)imm;
			break;
		case 2: { /* slli a0, a0, sh */
			unsigned sh = (unsigned)(r >> 40) % 7;
			at[i] = (sh << 20) | (10u << 15) | (1u << 12) | (10u << 7) | 0x13;
			v <<= sh;
			break;
		}
		default: { /* srli a0, a0, sh */
			unsigned sh = (unsigned)(r >> 40) % 7;
			at[i] = (sh << 20) | (10u << 15) | (5u << 12) | (10u << 7) | 0x13;
			v >>= sh;
			break;
		}
		}
	}
	at[INSNS] = 0x00008067;
	return v;
}

static uint64_t call(uint32_t *at, uint64_t arg)
{
	return ((uint64_t(*)(uint64_t))at)(arg);
}

void case_main(void)
{
	for (unsigned n = 0; n < FUNCS; n++) {
		unsigned slot = n % SLOTS;
		expect[slot] = gen(arena_code[slot], 0x1234567 + n);
		__asm__ volatile("fence.i" ::: "memory");
		CHECK_EQ(call(arena_code[slot], 0x1234567 + n), expect[slot]);
		if (n % 16 == 15 && n >= SLOTS) {
			unsigned old = (slot + 7) % SLOTS; /* written SLOTS - 7 functions ago */
			CHECK_EQ(call(arena_code[old], 0x1234567 + n - SLOTS + 7), expect[old]);
		}
	}
}
