/* Integer matrix multiply: 128 x 128 matrices of 32-bit integers (arithmetic modulo 2^32), in
 * the cache-friendly i-k-j loop order. Each product is checked with Freivalds' method: for a
 * random vector x, A (B x) must equal C x. */
#include "bench.h"

#define MATMUL_N      128
#define MATMUL_ROUNDS 36

struct matmul_mem {
	uint32_t a[MATMUL_N][MATMUL_N];
	uint32_t b[MATMUL_N][MATMUL_N];
	uint32_t c[MATMUL_N][MATMUL_N];
	uint32_t x[MATMUL_N], bx[MATMUL_N], abx[MATMUL_N], cx[MATMUL_N];
};

static void matmul_multiply(uint32_t c[MATMUL_N][MATMUL_N], const uint32_t a[MATMUL_N][MATMUL_N],
			    const uint32_t b[MATMUL_N][MATMUL_N])
{
	for (int i = 0; i < MATMUL_N; i++) {
		for (int j = 0; j < MATMUL_N; j++)
			c[i][j] = 0;
		for (int k = 0; k < MATMUL_N; k++) {
			uint32_t aik = a[i][k];

			for (int j = 0; j < MATMUL_N; j++)
				c[i][j] += aik * b[k][j];
		}
	}
}

static void matmul_vector(uint32_t *y, const uint32_t m[MATMUL_N][MATMUL_N], const uint32_t *x)
{
	for (int i = 0; i < MATMUL_N; i++) {
		uint32_t sum = 0;

		for (int j = 0; j < MATMUL_N; j++)
			sum += m[i][j] * x[j];
		y[i] = sum;
	}
}

static int matmul_run(void *mem, uint64_t *checksum)
{
	struct matmul_mem *m = mem;
	uint64_t seed = 2, h = 0;

	for (int i = 0; i < MATMUL_N; i++)
		for (int j = 0; j < MATMUL_N; j++) {
			m->a[i][j] = (uint32_t)bench_rand(&seed) & 0xffff;
			m->b[i][j] = (uint32_t)bench_rand(&seed) & 0xffff;
		}

	for (int round = 0; round < MATMUL_ROUNDS; round++) {
		matmul_multiply(m->c, m->a, m->b);

		for (int i = 0; i < MATMUL_N; i++)
			m->x[i] = (uint32_t)bench_rand(&seed);
		matmul_vector(m->bx, m->b, m->x);
		matmul_vector(m->abx, m->a, m->bx);
		matmul_vector(m->cx, m->c, m->x);
		for (int i = 0; i < MATMUL_N; i++)
			if (m->abx[i] != m->cx[i])
				return BENCH_FAIL_SELFCHECK;

		for (int i = 0; i < MATMUL_N; i++) {
			h = bench_mix(h, m->c[i][i]);
			/* The next round multiplies the product (scaled down) by the same B. */
			for (int j = 0; j < MATMUL_N; j++)
				m->a[i][j] = (m->c[i][j] >> 11) ^ (uint32_t)(i + j);
		}
	}
	*checksum = h;
	return BENCH_OK;
}

const struct workload matmul_workload = {
    .name = "matmul",
    .mem_size = sizeof(struct matmul_mem),
    .run = matmul_run,
    .expected = 0x2b79c8195a7f0c23ull,
};
