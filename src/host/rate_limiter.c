/* Token buckets (see rate_limiter.h). */
#include "host/rate_limiter.h"

bool rate_limiter_active(const struct rate_limiter_config *cfg)
{
	return cfg->bandwidth.size || cfg->ops.size;
}

static void bucket_init(struct token_bucket *b, const struct token_bucket_config *cfg,
			uint64_t now_ns)
{
	b->cfg = *cfg;
	if (b->cfg.size && !b->cfg.refill_ms)
		b->cfg.refill_ms = 1;
	b->tokens = (double)cfg->size;
	b->burst = (double)cfg->one_time_burst;
	b->last_ns = now_ns;
}

void rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
		       uint64_t now_ns)
{
	bucket_init(&rl->bandwidth, &cfg->bandwidth, now_ns);
	bucket_init(&rl->ops, &cfg->ops, now_ns);
}

/* Tokens per nanosecond. */
static double rate(const struct token_bucket *b)
{
	return (double)b->cfg.size / ((double)b->cfg.refill_ms * 1e6);
}

static void refill(struct token_bucket *b, uint64_t now_ns)
{
	if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) * rate(b);
		if (b->tokens > (double)b->cfg.size)
			b->tokens = (double)b->cfg.size;
	}
	b->last_ns = now_ns;
}

/* Nanoseconds until n tokens can be taken from b (0: now). */
static uint64_t wait_for(struct token_bucket *b, uint64_t n, uint64_t now_ns)
{
	if (!b->cfg.size)
		return 0;
	refill(b, now_ns);
	double have = b->tokens + b->burst;
	/* Larger than the bucket: goes once the bucket is full. */
	double need = (double)n > (double)b->cfg.size ? (double)b->cfg.size + b->burst : (double)n;
	if (have >= need)
		return 0;
	uint64_t ns = (uint64_t)((need - have) / rate(b)) + 1;
	return ns < 1000 ? 1000 : ns;
}

static void take(struct token_bucket *b, uint64_t n)
{
	if (!b->cfg.size)
		return;
	double from_burst = b->burst < (double)n ? b->burst : (double)n;
	b->burst -= from_burst;
	b->tokens -= (double)n - from_burst;
}

uint64_t rate_limiter_take(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns)
{
	uint64_t a = wait_for(&rl->bandwidth, bytes, now_ns), o = wait_for(&rl->ops, 1, now_ns);
	if (a || o)
		return a > o ? a : o;
	take(&rl->bandwidth, bytes);
	take(&rl->ops, 1);
	return 0;
}
