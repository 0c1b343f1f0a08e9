/* Unit tests of the PLIC (spec 1.0.0): priorities and thresholds, arbitration between
 * sources, claim/complete with level-triggered gateways, per-context enables, output line
 * transitions, and that out-of-range sources, contexts and offsets are ignored. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dev/plic.h"
#include "mem/bus.h"

#define PLIC_BASE    0x0c000000ull
#define PRIORITY(s)  (PLIC_BASE + 4ull * (s))
#define PENDING(w)   (PLIC_BASE + 0x1000ull + 4ull * (w))
#define ENABLE(c, w) (PLIC_BASE + 0x2000ull + 0x80ull * (c) + 4ull * (w))
#define THRESHOLD(c) (PLIC_BASE + 0x200000ull + 0x1000ull * (c))
#define CLAIM(c)     (PLIC_BASE + 0x200004ull + 0x1000ull * (c))
#define NSOURCES     40 /* ids 1..39: two enable/pending words */
#define NCONTEXTS    4

struct fixture {
	struct plic p;
	struct bus bus;
	bool level[NCONTEXTS];
	unsigned calls[NCONTEXTS];
};

static void out_set(void *opaque, unsigned ctx, bool level)
{
	struct fixture *f = opaque;
	assert_true(ctx < NCONTEXTS);
	f->level[ctx] = level;
	f->calls[ctx]++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct irq_line out[NCONTEXTS];
	for (unsigned c = 0; c < NCONTEXTS; c++)
		out[c] = (struct irq_line){out_set, f, c};
	assert_int_equal(plic_init(&f->p, NSOURCES, NCONTEXTS, out), 0);
	assert_int_equal(bus_add(&f->bus, PLIC_BASE, PLIC_SIZE, &plic_ops, &f->p, "plic"), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	plic_destroy(&f->p);
	free(f);
	return 0;
}

static uint32_t rd(struct fixture *f, uint64_t gpa)
{
	uint64_t v = 0xdeadbeef;
	assert_true(bus_read(&f->bus, gpa, 4, &v));
	return (uint32_t)v;
}

static void wr(struct fixture *f, uint64_t gpa, uint32_t v)
{
	assert_true(bus_write(&f->bus, gpa, 4, v));
}

static void enable(struct fixture *f, unsigned ctx, unsigned src)
{
	wr(f, ENABLE(ctx, src / 32), rd(f, ENABLE(ctx, src / 32)) | 1u << (src % 32));
}

static bool pending(struct fixture *f, unsigned src)
{
	return (rd(f, PENDING(src / 32)) >> (src % 32)) & 1;
}

static void test_init_checks(void **state)
{
	(void)state;
	struct plic p;
	struct irq_line out[1] = {{NULL, NULL, 0}};
	assert_int_equal(plic_init(&p, 0, 1, out), -EINVAL);
	assert_int_equal(plic_init(&p, PLIC_MAX_SOURCES + 1, 1, out), -EINVAL);
	assert_int_equal(plic_init(&p, 2, 0, out), -EINVAL);
	assert_int_equal(plic_init(&p, 2, PLIC_MAX_CONTEXTS + 1, out), -EINVAL);
	assert_int_equal(plic_init(&p, 2, 1, NULL), -EINVAL);
	assert_int_equal(plic_init(&p, PLIC_MAX_SOURCES, 1, out), 0);
	/* Output lines with no function are fine. */
	plic_ops.write(&p, 4 * 127, 4, 1);
	plic_ops.write(&p, 0x2000 + 12, 4, 0x80000000u);
	plic_set_irq(&p, 127, true);
	assert_int_equal(plic_ops.read(&p, 0x200004, 4), 127);
	plic_destroy(&p);
}

static void test_reset_values(void **state)
{
	struct fixture *f = *state;
	for (unsigned s = 0; s < NSOURCES; s++)
		assert_int_equal(rd(f, PRIORITY(s)), 0);
	for (unsigned c = 0; c < NCONTEXTS; c++) {
		assert_int_equal(rd(f, ENABLE(c, 0)), 0);
		assert_int_equal(rd(f, THRESHOLD(c)), 0);
		assert_int_equal(rd(f, CLAIM(c)), 0);
		assert_int_equal(f->calls[c], 0);
	}
	assert_int_equal(rd(f, PENDING(0)), 0);
}

static void test_priority_warl(void **state)
{
	struct fixture *f = *state;
	wr(f, PRIORITY(5), 0xffffffff);
	assert_int_equal(rd(f, PRIORITY(5)), 7);
	wr(f, PRIORITY(5), 9);
	assert_int_equal(rd(f, PRIORITY(5)), 1);
	wr(f, THRESHOLD(1), 0xffffffff);
	assert_int_equal(rd(f, THRESHOLD(1)), 7);
	/* Source 0 does not exist, nor do sources past NSOURCES - 1. */
	wr(f, PRIORITY(0), 3);
	assert_int_equal(rd(f, PRIORITY(0)), 0);
	wr(f, PRIORITY(NSOURCES), 3);
	assert_int_equal(rd(f, PRIORITY(NSOURCES)), 0);
	wr(f, PRIORITY(1023), 3);
	assert_int_equal(rd(f, PRIORITY(1023)), 0);
}

static void test_enable_bits_of_missing_sources(void **state)
{
	struct fixture *f = *state;
	wr(f, ENABLE(0, 0), 0xffffffff);
	assert_int_equal(rd(f, ENABLE(0, 0)), 0xfffffffe); /* no source 0 */
	wr(f, ENABLE(0, 1), 0xffffffff);
	assert_int_equal(rd(f, ENABLE(0, 1)), 0xff); /* 32..39 */
	wr(f, ENABLE(0, 2), 0xffffffff);
	assert_int_equal(rd(f, ENABLE(0, 2)), 0);
	wr(f, ENABLE(0, 31), 0xffffffff);
	assert_int_equal(rd(f, ENABLE(0, 31)), 0);
	assert_int_equal(rd(f, ENABLE(1, 0)), 0);
}

static void test_priority_zero_never_interrupts(void **state)
{
	struct fixture *f = *state;
	enable(f, 0, 3);
	plic_set_irq(&f->p, 3, true);
	assert_true(pending(f, 3));
	assert_false(f->level[0]);
	assert_int_equal(rd(f, CLAIM(0)), 0);
	wr(f, PRIORITY(3), 1);
	assert_true(f->level[0]);
}

static void test_arbitration(void **state)
{
	struct fixture *f = *state;
	wr(f, PRIORITY(3), 2);
	wr(f, PRIORITY(7), 5);
	wr(f, PRIORITY(5), 5);
	wr(f, PRIORITY(33), 6);
	for (unsigned s = 1; s < NSOURCES; s++)
		enable(f, 0, s);
	plic_set_irq(&f->p, 3, true);
	plic_set_irq(&f->p, 7, true);
	plic_set_irq(&f->p, 5, true);
	plic_set_irq(&f->p, 33, true);
	assert_true(f->level[0]);
	/* Highest priority first; equal priorities go to the lowest id. */
	assert_int_equal(rd(f, CLAIM(0)), 33);
	assert_int_equal(rd(f, CLAIM(0)), 5);
	assert_int_equal(rd(f, CLAIM(0)), 7);
	assert_true(f->level[0]);
	assert_int_equal(rd(f, CLAIM(0)), 3);
	assert_false(f->level[0]);
	assert_int_equal(rd(f, CLAIM(0)), 0);
	assert_int_equal(rd(f, PENDING(0)), 0);
	assert_int_equal(rd(f, PENDING(1)), 0);
}

static void test_threshold(void **state)
{
	struct fixture *f = *state;
	wr(f, PRIORITY(4), 3);
	wr(f, PRIORITY(6), 5);
	enable(f, 0, 4);
	enable(f, 0, 6);
	wr(f, THRESHOLD(0), 5);
	plic_set_irq(&f->p, 4, true);
	plic_set_irq(&f->p, 6, true);
	/* Priorities at or below the threshold are masked. */
	assert_false(f->level[0]);
	assert_int_equal(rd(f, CLAIM(0)), 0);
	wr(f, THRESHOLD(0), 4);
	assert_true(f->level[0]);
	assert_int_equal(rd(f, CLAIM(0)), 6);
	assert_false(f->level[0]);
	wr(f, THRESHOLD(0), 2);
	assert_true(f->level[0]);
	assert_int_equal(rd(f, CLAIM(0)), 4);
}

static void test_claim_complete_level(void **state)
{
	struct fixture *f = *state;
	wr(f, PRIORITY(9), 1);
	enable(f, 1, 9);
	plic_set_irq(&f->p, 9, true);
	assert_true(f->level[1]);
	assert_int_equal(rd(f, CLAIM(1)), 9);
	assert_false(pending(f, 9));
	assert_false(f->level[1]);
	/* While claimed, a high level does not make the source pending again. */
	plic_set_irq(&f->p, 9, false);
	plic_set_irq(&f->p, 9, true);
	assert_false(pending(f, 9));
	assert_false(f->level[1]);
	/* Completion with the level still high re-triggers. */
	wr(f, CLAIM(1), 9);
	assert_true(pending(f, 9));
	assert_true(f->level[1]);
	assert_int_equal(rd(f, CLAIM(1)), 9);
	/* Completion after the level dropped does not. */
	plic_set_irq(&f->p, 9, false);
	wr(f, CLAIM(1), 9);
	assert_false(pending(f, 9));
	assert_false(f->level[1]);
	/* A second completion of the same id is ignored. */
	wr(f, CLAIM(1), 9);
	assert_false(pending(f, 9));
}

static void test_request_stays_pending(void **state)
{
	struct fixture *f = *state;
	/* The gateway forwarded the request; it stays pending until claimed, even if the
	 * device lowers its line first. */
	wr(f, PRIORITY(2), 1);
	enable(f, 0, 2);
	plic_set_irq(&f->p, 2, true);
	plic_set_irq(&f->p, 2, false);
	assert_true(pending(f, 2));
	assert_true(f->level[0]);
	assert_int_equal(rd(f, CLAIM(0)), 2);
	wr(f, CLAIM(0), 2);
	assert_false(pending(f, 2));
	assert_false(f->level[0]);
}

static void test_enables_per_context(void **state)
{
	struct fixture *f = *state;
	wr(f, PRIORITY(12), 1);
	wr(f, PRIORITY(35), 1);
	enable(f, 0, 12);
	enable(f, 3, 35);
	plic_set_irq(&f->p, 12, true);
	assert_true(f->level[0]);
	assert_false(f->level[1] || f->level[2] || f->level[3]);
	assert_int_equal(rd(f, CLAIM(1)), 0);
	assert_int_equal(rd(f, CLAIM(3)), 0);
	assert_true(pending(f, 12));

	plic_set_irq(&f->p, 35, true);
	assert_true(f->level[3]);
	assert_int_equal(rd(f, CLAIM(3)), 35);
	assert_false(f->level[3]);
	assert_true(f->level[0]);

	/* Two contexts enabled for one source: the first claim wins, the other sees none. */
	enable(f, 2, 12);
	assert_true(f->level[2]);
	assert_int_equal(rd(f, CLAIM(2)), 12);
	assert_false(f->level[0]);
	assert_false(f->level[2]);
	assert_int_equal(rd(f, CLAIM(0)), 0);
	/* Disabling removes the interrupt from a context without touching pending. */
	plic_set_irq(&f->p, 35, false);
	wr(f, CLAIM(3), 35);
	plic_set_irq(&f->p, 35, true);
	assert_true(f->level[3]);
	wr(f, ENABLE(3, 1), 0);
	assert_false(f->level[3]);
	assert_true(pending(f, 35));
}

static void test_complete_needs_enable(void **state)
{
	struct fixture *f = *state;
	wr(f, PRIORITY(8), 1);
	enable(f, 0, 8);
	plic_set_irq(&f->p, 8, true);
	assert_int_equal(rd(f, CLAIM(0)), 8);
	/* Completion from a context where 8 is not enabled is ignored: still claimed. */
	wr(f, CLAIM(1), 8);
	assert_false(pending(f, 8));
	wr(f, CLAIM(0), 8);
	assert_true(pending(f, 8));
}

static void test_out_of_range_ignored(void **state)
{
	struct fixture *f = *state;
	/* Sources 0 and >= NSOURCES do not exist. */
	plic_set_irq(&f->p, 0, true);
	plic_set_irq(&f->p, NSOURCES, true);
	plic_set_irq(&f->p, 1000, true);
	plic_set_irq(&f->p, ~0u, true);
	assert_int_equal(rd(f, PENDING(0)), 0);
	assert_int_equal(rd(f, PENDING(1)), 0);
	/* Contexts >= NCONTEXTS. */
	wr(f, ENABLE(NCONTEXTS, 0), 0xffffffff);
	assert_int_equal(rd(f, ENABLE(NCONTEXTS, 0)), 0);
	wr(f, THRESHOLD(NCONTEXTS), 3);
	assert_int_equal(rd(f, THRESHOLD(NCONTEXTS)), 0);
	assert_int_equal(rd(f, CLAIM(NCONTEXTS)), 0);
	wr(f, CLAIM(NCONTEXTS), 1);
	assert_int_equal(rd(f, THRESHOLD(15871)), 0);
	/* Completion of ids that were never claimed, or do not exist. */
	wr(f, CLAIM(0), 0);
	wr(f, CLAIM(0), NSOURCES);
	wr(f, CLAIM(0), 0xffffffff);
	/* Pending is read-only. */
	wr(f, PENDING(0), 0xffffffff);
	assert_int_equal(rd(f, PENDING(0)), 0);
	/* Reserved offsets. */
	assert_int_equal(rd(f, PLIC_BASE + 0x1080), 0);
	assert_int_equal(rd(f, PLIC_BASE + 0x1f0000), 0);
	assert_int_equal(rd(f, THRESHOLD(0) + 8), 0);
	assert_int_equal(rd(f, PLIC_BASE + PLIC_SIZE - 4), 0);
	wr(f, THRESHOLD(0) + 0xffc, 1);
	wr(f, PLIC_BASE + PLIC_SIZE - 4, 1);
	for (unsigned c = 0; c < NCONTEXTS; c++)
		assert_int_equal(f->calls[c], 0);
}

static void test_bad_sizes(void **state)
{
	struct fixture *f = *state;
	uint64_t v;
	assert_false(bus_read(&f->bus, PRIORITY(1), 1, &v));
	assert_false(bus_write(&f->bus, PRIORITY(1), 2, 1));
	assert_false(bus_read(&f->bus, CLAIM(0), 8, &v));
	/* Called directly with a size the bus refuses: no effect. */
	plic_ops.write(&f->p, 4, 1, 7);
	plic_ops.write(&f->p, 6, 4, 7);
	assert_int_equal(rd(f, PRIORITY(1)), 0);
	assert_int_equal(plic_ops.read(&f->p, 0x200004, 2), 0);
}

static void test_line_driven_on_change_only(void **state)
{
	struct fixture *f = *state;
	wr(f, PRIORITY(1), 1);
	wr(f, PRIORITY(2), 1);
	enable(f, 0, 1);
	enable(f, 0, 2);
	plic_set_irq(&f->p, 1, true);
	plic_set_irq(&f->p, 2, true);
	plic_set_irq(&f->p, 1, true);
	wr(f, PRIORITY(2), 3);
	assert_int_equal(f->calls[0], 1);
	assert_int_equal(rd(f, CLAIM(0)), 2);
	assert_int_equal(rd(f, CLAIM(0)), 1);
	assert_int_equal(f->calls[0], 2);
	assert_false(f->level[0]);
	assert_int_equal(f->calls[1], 0);
}

static void test_save_restore(void **state)
{
	struct fixture *f = *state;
	struct plic_regs r;
	wr(f, PRIORITY(6), 4);
	enable(f, 1, 6);
	plic_set_irq(&f->p, 6, true);
	plic_save(&f->p, &r);
	assert_int_equal(r.priority[6], 4);

	assert_int_equal(rd(f, CLAIM(1)), 6);
	assert_false(f->level[1]);
	assert_int_equal(plic_restore(&f->p, &r), 0);
	assert_true(f->level[1]);
	assert_int_equal(rd(f, CLAIM(1)), 6);

	struct plic_regs bad = r;
	bad.priority[6] = 8;
	assert_int_equal(plic_restore(&f->p, &bad), -EINVAL);
	bad = r;
	bad.pending[0] |= 1; /* source 0 */
	assert_int_equal(plic_restore(&f->p, &bad), -EINVAL);
	bad = r;
	bad.enable[NCONTEXTS][0] = 2;
	assert_int_equal(plic_restore(&f->p, &bad), -EINVAL);
	bad = r;
	bad.threshold[0] = 9;
	assert_int_equal(plic_restore(&f->p, &bad), -EINVAL);
	bad = r;
	bad.level[1] = 1u << 8; /* source 40 */
	assert_int_equal(plic_restore(&f->p, &bad), -EINVAL);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_checks),
	    T(test_reset_values),
	    T(test_priority_warl),
	    T(test_enable_bits_of_missing_sources),
	    T(test_priority_zero_never_interrupts),
	    T(test_arbitration),
	    T(test_threshold),
	    T(test_claim_complete_level),
	    T(test_request_stays_pending),
	    T(test_enables_per_context),
	    T(test_complete_needs_enable),
	    T(test_out_of_range_ignored),
	    T(test_bad_sizes),
	    T(test_line_driven_on_change_only),
	    T(test_save_restore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
