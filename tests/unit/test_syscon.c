/* Unit tests of the test finisher / syscon: the poweroff, failure-with-code and reboot
 * commands, and that anything else (other values, offsets, sizes) does nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dev/syscon.h"
#include "mem/bus.h"

#define SYSCON_BASE 0x100000ull

struct events {
	unsigned count;
	enum syscon_event ev;
	uint32_t code;
};

static void record(void *opaque, enum syscon_event ev, uint32_t code)
{
	struct events *e = opaque;
	e->count++;
	e->ev = ev;
	e->code = code;
}

struct fixture {
	struct events e;
	struct syscon s;
	struct bus bus;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->s = (struct syscon){record, &f->e};
	assert_int_equal(bus_add(&f->bus, SYSCON_BASE, SYSCON_SIZE, &syscon_ops, &f->s, "syscon"),
			 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void test_poweroff(void **state)
{
	struct fixture *f = *state;
	assert_true(bus_write(&f->bus, SYSCON_BASE, 4, SYSCON_POWEROFF));
	assert_int_equal(f->e.count, 1);
	assert_int_equal(f->e.ev, SYSCON_EV_POWEROFF);
	assert_int_equal(f->e.code, 0);
}

static void test_fail_with_code(void **state)
{
	struct fixture *f = *state;
	assert_true(bus_write(&f->bus, SYSCON_BASE, 4, SYSCON_FAIL | (42u << 16)));
	assert_int_equal(f->e.count, 1);
	assert_int_equal(f->e.ev, SYSCON_EV_FAIL);
	assert_int_equal(f->e.code, 42);
	assert_true(bus_write(&f->bus, SYSCON_BASE, 4, SYSCON_FAIL | (0xffffu << 16)));
	assert_int_equal(f->e.count, 2);
	assert_int_equal(f->e.code, 0xffff);
}

static void test_reboot(void **state)
{
	struct fixture *f = *state;
	assert_true(bus_write(&f->bus, SYSCON_BASE, 4, SYSCON_REBOOT));
	assert_int_equal(f->e.count, 1);
	assert_int_equal(f->e.ev, SYSCON_EV_REBOOT);
}

static void test_other_values_ignored(void **state)
{
	struct fixture *f = *state;
	static const uint32_t values[] = {0, 1, 0x5554, 0x3334, 0x7776, 0x1234, 0xffff};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		assert_true(bus_write(&f->bus, SYSCON_BASE, 4, values[i]));
	assert_int_equal(f->e.count, 0);
}

static void test_other_offsets_and_sizes(void **state)
{
	struct fixture *f = *state;
	uint64_t v = 1;
	/* The command register is the word at offset 0 only. */
	assert_true(bus_write(&f->bus, SYSCON_BASE + 4, 4, SYSCON_POWEROFF));
	assert_true(bus_write(&f->bus, SYSCON_BASE + SYSCON_SIZE - 4, 4, SYSCON_REBOOT));
	/* Sizes other than 4 are access faults and reach no device. */
	assert_false(bus_write(&f->bus, SYSCON_BASE, 2, SYSCON_POWEROFF));
	assert_false(bus_write(&f->bus, SYSCON_BASE, 1, 0x55));
	assert_false(bus_write(&f->bus, SYSCON_BASE, 8, SYSCON_POWEROFF));
	assert_int_equal(f->e.count, 0);
	assert_true(bus_read(&f->bus, SYSCON_BASE, 4, &v));
	assert_int_equal(v, 0);
	/* Called directly with a size the bus would refuse: still nothing. */
	syscon_ops.write(&f->s, 0, 2, SYSCON_POWEROFF);
	assert_int_equal(f->e.count, 0);
}

static void test_no_handler(void **state)
{
	(void)state;
	struct syscon s = {NULL, NULL};
	syscon_ops.write(&s, 0, 4, SYSCON_POWEROFF);
	assert_int_equal(syscon_ops.read(&s, 0, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_poweroff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fail_with_code, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reboot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_values_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_offsets_and_sizes, setup, teardown),
	    cmocka_unit_test(test_no_handler),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
