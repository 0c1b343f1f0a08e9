/* Unit tests of the token-bucket rate limiter (Firecracker's TokenBucket semantics): a full
 * bucket at the start, refill at size per refill_time, the one-time burst spent first, both
 * buckets needed at once, operations larger than a bucket, and no limit at size 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host/rate_limiter.h"

#define MS 1000000ull /* nanoseconds */

static void test_bandwidth(void **state)
{
	(void)state;
	struct rate_limiter_config cfg = {.bandwidth = {1000, 0, 100}}; /* 10 bytes/ms */
	struct rate_limiter rl;
	assert_true(rate_limiter_active(&cfg));
	rate_limiter_init(&rl, &cfg, 0);
	assert_int_equal(rate_limiter_take(&rl, 600, 0), 0); /* full at the start */
	assert_int_equal(rate_limiter_take(&rl, 400, 0), 0);
	uint64_t wait = rate_limiter_take(&rl, 100, 0); /* empty: 100 bytes take 10 ms */
	assert_true(wait >= 10 * MS - 1000 && wait <= 10 * MS + 1000);
	assert_true(rate_limiter_take(&rl, 100, 5 * MS) > 0); /* half way */
	assert_int_equal(rate_limiter_take(&rl, 100, 10 * MS + 1), 0);
	/* Refill stops at the bucket's size: a long idle time banks no more than 1000. */
	assert_int_equal(rate_limiter_take(&rl, 1000, 10 * 1000 * MS), 0);
	assert_true(rate_limiter_take(&rl, 1, 10 * 1000 * MS) > 0);
}

static void test_burst_and_ops(void **state)
{
	(void)state;
	struct rate_limiter_config cfg = {.bandwidth = {100, 500, 100}, .ops = {2, 0, 1000}};
	struct rate_limiter rl;
	rate_limiter_init(&rl, &cfg, 0);
	/* 600 bytes at once: the burst (500) and the bucket (100). */
	assert_int_equal(rate_limiter_take(&rl, 600, 0), 0);
	/* One op left of 2; bytes are out. */
	assert_true(rate_limiter_take(&rl, 1, 0) > 0);
	/* After 10 ms: 10 bytes back, but the op bucket refills 2 per second. */
	assert_int_equal(rate_limiter_take(&rl, 10, 10 * MS), 0);
	uint64_t wait = rate_limiter_take(&rl, 0, 10 * MS); /* no op left: 500 ms for one */
	assert_true(wait >= 490 * MS && wait <= 510 * MS);
	/* Nothing is taken from one bucket when the other refuses. */
	assert_int_equal(rate_limiter_take(&rl, 0, 510 * MS), 0);
}

static void test_larger_than_bucket(void **state)
{
	(void)state;
	struct rate_limiter_config cfg = {.bandwidth = {100, 0, 100}};
	struct rate_limiter rl;
	rate_limiter_init(&rl, &cfg, 0);
	/* 1000 bytes never fit: they go once the bucket is full, leaving it 900 in debt. */
	assert_int_equal(rate_limiter_take(&rl, 1000, 0), 0);
	uint64_t wait = rate_limiter_take(&rl, 1, 0);
	assert_true(wait >= 90 * MS); /* 901 bytes of refill at 1 byte/ms */
	assert_int_equal(rate_limiter_take(&rl, 1, 902 * MS), 0);
}

static void test_unlimited(void **state)
{
	(void)state;
	struct rate_limiter_config cfg = {0};
	struct rate_limiter rl;
	assert_false(rate_limiter_active(&cfg));
	rate_limiter_init(&rl, &cfg, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(rate_limiter_take(&rl, 1u << 30, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bandwidth),
	    cmocka_unit_test(test_burst_and_ops),
	    cmocka_unit_test(test_larger_than_bucket),
	    cmocka_unit_test(test_unlimited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
