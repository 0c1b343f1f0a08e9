/* Unit tests of host CPU placement helpers: CPU list parsing and the cgroup v2 weight to nice
 * mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host/sched.h"

static void test_cpulist(void **state)
{
	(void)state;
	cpu_set_t s;
	assert_int_equal(sched_parse_cpulist("0-3,6", &s), 0);
	assert_int_equal(CPU_COUNT(&s), 5);
	assert_true(CPU_ISSET(0, &s) && CPU_ISSET(3, &s) && CPU_ISSET(6, &s));
	assert_false(CPU_ISSET(4, &s));
	assert_int_equal(sched_parse_cpulist("1", &s), 0);
	assert_int_equal(CPU_COUNT(&s), 1);
	assert_int_equal(sched_parse_cpulist("2,2,1-2", &s), 0);
	assert_int_equal(CPU_COUNT(&s), 2);
	const char *bad[] = {"", "-1", "3-1", "a", "1,", "1-", "1,,2", "0-99999", "1 2"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sched_parse_cpulist(bad[i], &s), -EINVAL);
}

static void test_weight_to_nice(void **state)
{
	(void)state;
	assert_int_equal(sched_weight_to_nice(100), 0);
	/* A factor of ~1.25 per nice level: half the weight is about 3 levels. */
	assert_int_equal(sched_weight_to_nice(50), 3);
	assert_int_equal(sched_weight_to_nice(200), -3);
	assert_int_equal(sched_weight_to_nice(1), 19);
	assert_int_equal(sched_weight_to_nice(10000), -20);
	/* Monotonic: more weight never means a higher nice value. */
	for (unsigned w = 1; w < 10000; w++)
		assert_true(sched_weight_to_nice(w + 1) <= sched_weight_to_nice(w));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpulist),
	    cmocka_unit_test(test_weight_to_nice),
	};
	return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
