/* A self-modifying code storm on two harts (--cpus 2): each hart rewrites a function of its
 * own 20000 times (a new immediate each time, fence.i, call: it must return the new value),
 * and hart 1 also rewrites a function hart 0 keeps calling (fence.i on both sides), whose
 * result must always be one of the values hart 1 wrote. */
#include "hostile.h"

#define ROUNDS 20000

static uint32_t code[3][64] __attribute__((aligned(4096)));
static volatile uint32_t shared_gen, hart1_done, hart1_fail;

/* addi a0, zero, imm; ret */
static void emit(uint32_t *at, int32_t imm)
{
	at[0] = ((uint32_t)(imm & 0xfff) << 20) | (10u << 7) | 0x13;
	at[1] = 0x00008067;
}

static int64_t call(uint32_t *at)
{
	return ((int64_t(*)(void))at)();
}

void secondary_main(uint64_t hartid)
{
	if (hartid != 1)
		return;
	for (int32_t i = 0; i < ROUNDS; i++) {
		int32_t v = (i * 37) % 2000 - 1000;
		emit(code[1], v);
		__asm__ volatile("fence.i" ::: "memory");
		if (call(code[1]) != v)
			hart1_fail = (uint32_t)i + 1;
		/* The shared function: values 1..1000 only. */
		emit(code[2], 1 + i % 1000);
		__asm__ volatile("fence.i" ::: "memory");
		shared_gen = (uint32_t)i;
	}
	hart1_done = 1;
}

void case_main(void)
{
	emit(code[2], 1);
	__asm__ volatile("fence.i" ::: "memory");
	for (int32_t i = 0; i < ROUNDS || !hart1_done; i++) {
		int32_t v = (i * 53) % 2000 - 1000;
		emit(code[0], v);
		__asm__ volatile("fence.i" ::: "memory");
		CHECK_EQ(call(code[0]), (uint64_t)(int64_t)v);
		__asm__ volatile("fence.i" ::: "memory");
		int64_t s = call(code[2]);
		CHECK(s >= 1 && s <= 1000);
		if (i > 100 * ROUNDS)
			fail_at(__LINE__, "hart 1 never finished", shared_gen, ROUNDS);
	}
	CHECK_EQ(hart1_fail, 0);
}
