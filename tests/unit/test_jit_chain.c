/* The translator's block chaining when the pc moves between batches. A block that ends its
 * batch at an exit not chained yet leaves the exit for the dispatcher to chain at the start
 * of the next batch; if the pc moved meanwhile (an interrupt taken between batches sends it
 * to the trap vector), that exit must not be chained to the block found at the new pc, or
 * every later run of the exit would jump there. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/hart.h"
#include "jit/jit.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1ull << 20)
#define BLOCK_A  (RAM_BASE + 0x000) /* 80 x addi x1,x1,1 then a loop */
#define VECTOR_C (RAM_BASE + 0x800) /* the same page: addi x3,x3,1; j . - 4 */

static uint64_t fixed_time(void *opaque)
{
	(void)opaque;
	return 0;
}

static void put32(uint8_t *ram, uint64_t gpa, uint32_t insn)
{
	memcpy(ram + (gpa - RAM_BASE), &insn, 4);
}

static uint32_t addi(unsigned rd, unsigned rs, int imm)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs << 15 | rd << 7 | 0x13;
}

/* jal x0, off (off a multiple of 2 within +-1 MiB). */
static uint32_t jal0(int32_t off)
{
	uint32_t o = (uint32_t)off;
	return ((o >> 20) & 1) << 31 | ((o >> 1) & 0x3ff) << 21 | ((o >> 11) & 1) << 20 |
	       ((o >> 12) & 0xff) << 12 | 0x6f;
}

static void test_exit_not_chained_to_a_moved_pc(void **state)
{
	(void)state;
	struct guest_mem mem;
	struct bus bus;
	struct hart h;
	memset(&bus, 0, sizeof(bus));
	assert_int_equal(guest_mem_init(&mem, RAM_BASE, RAM_SIZE), 0);
	struct hart_env env = {.time_now = fixed_time};
	assert_int_equal(hart_init(&h, 0, &mem, &bus, &env), 0);
	int rc = jit_init(&h, JIT_CACHE_MIN);
	if (rc == -ENOSYS) {
		hart_destroy(&h);
		guest_mem_destroy(&mem);
		skip();
	}
	assert_int_equal(rc, 0);

	/* A: more straight-line instructions than a block holds, so its first block ends with
	 * a fall-through exit into the same page; then a loop on x1. */
	for (unsigned i = 0; i < 80; i++)
		put32(mem.hva, BLOCK_A + 4 * i, addi(1, 1, 1));
	put32(mem.hva, BLOCK_A + 4 * 80, jal0(-4 * 80));
	put32(mem.hva, VECTOR_C, addi(3, 3, 1));
	put32(mem.hva, VECTOR_C + 4, jal0(-4));
	h.priv = PRV_M;
	h.pc = h.pc_next = BLOCK_A;
	hart_update_mode(&h);

	/* One batch that ends where A's first block leaves (at most 64 instructions). */
	uint64_t done = jit_run_budget(&h, 1);
	assert_true(done >= 1 && done <= 64);
	uint64_t first_block = done;
	assert_int_equal(h.x[1], first_block);
	assert_int_equal(h.pc, BLOCK_A + 4 * first_block);

	/* As if an interrupt was taken between batches: the pc moves to C, in the same page. */
	h.pc = h.pc_next = VECTOR_C;
	jit_run_budget(&h, 8);
	assert_true(h.x[3] > 0);

	/* A again: its first block must go on into the rest of A, never into C. */
	h.x[1] = 0;
	h.x[3] = 0;
	h.pc = h.pc_next = BLOCK_A;
	jit_run_budget(&h, 200);
	assert_int_equal(h.x[3], 0);
	assert_true(h.x[1] >= 80);

	jit_destroy(&h);
	hart_destroy(&h);
	guest_mem_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_not_chained_to_a_moved_pc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
