/* Token-bucket rate limiters, as Firecracker's API describes them (its TokenBucket): a bucket
 * of `size` tokens refilled from empty to full in `refill_time` milliseconds, plus a
 * `one_time_burst` of tokens spent first and never refilled. A device's limiter has two
 * buckets, bytes (bandwidth) and operations; an I/O goes when both have its tokens, and the
 * caller otherwise sleeps for the time this returns, so nothing busy-waits. */
#ifndef RVISOR_HOST_RATE_LIMITER_H
#define RVISOR_HOST_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

/* One bucket's settings; size 0 means no limit. */
struct token_bucket_config {
	uint64_t size;           /* tokens (bytes or operations) of a full bucket */
	uint64_t one_time_burst; /* extra tokens, spent first, never refilled */
	uint64_t refill_ms;      /* milliseconds from empty to full; at least 1 with a size */
};

/* A limiter's settings: bytes and operations. */
struct rate_limiter_config {
	struct token_bucket_config bandwidth, ops;
};

/* One bucket's state: its settings, the tokens in it and the burst left, and when it was
 * last refilled (CLOCK_MONOTONIC nanoseconds). */
struct token_bucket {
	struct token_bucket_config cfg;
	double tokens; /* may go below 0 after an I/O larger than the bucket */
	double burst;
	uint64_t last_ns;
};

/* A limiter: its two buckets. */
struct rate_limiter {
	struct token_bucket bandwidth, ops;
};

/* Whether cfg limits anything. */
bool rate_limiter_active(const struct rate_limiter_config *cfg);
/* Set rl up from cfg with full buckets at time now_ns (CLOCK_MONOTONIC nanoseconds). */
void rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
		       uint64_t now_ns);
/* Take the tokens of one operation of bytes bytes at time now_ns. Returns 0 when taken, else
 * the nanoseconds to wait before asking again (nothing is taken then). An operation larger
 * than a full bucket goes when the bucket is full, leaving it in debt. */
uint64_t rate_limiter_take(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns);

#endif
