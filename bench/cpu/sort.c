/* Sorting: quicksort (median-of-three pivot, insertion sort for short ranges, recursion on the
 * smaller side) of 256 Ki pseudo-random 32-bit keys. Each result is checked to be ordered and
 * to hold the same keys (their sum and exclusive-or are unchanged). */
#include "bench.h"

#define SORT_N             (256 * 1024)
#define SORT_ROUNDS        12
#define SORT_INSERTION_MAX 16

static void sort_swap(uint32_t *a, uint32_t *b)
{
	uint32_t t = *a;

	*a = *b;
	*b = t;
}

static void sort_insertion(uint32_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t key = v[i];
		size_t j = i;

		while (j > 0 && v[j - 1] > key) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = key;
	}
}

static void sort_quick(uint32_t *v, size_t n)
{
	while (n > SORT_INSERTION_MAX) {
		size_t mid = n / 2, i = 0, j = n - 1;
		uint32_t pivot;

		if (v[mid] < v[0])
			sort_swap(&v[mid], &v[0]);
		if (v[n - 1] < v[0])
			sort_swap(&v[n - 1], &v[0]);
		if (v[n - 1] < v[mid])
			sort_swap(&v[n - 1], &v[mid]);
		pivot = v[mid];

		/* Hoare partition: afterwards v[0..j] <= pivot <= v[j+1..n-1]. */
		for (;;) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i >= j)
				break;
			sort_swap(&v[i], &v[j]);
			i++;
			j--;
		}
		if (j + 1 < n - j - 1) {
			sort_quick(v, j + 1);
			v += j + 1;
			n -= j + 1;
		} else {
			sort_quick(v + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	sort_insertion(v, n);
}

static int sort_run(void *mem, uint64_t *checksum)
{
	uint32_t *v = mem;
	uint64_t seed = 3, h = 0;

	for (int round = 0; round < SORT_ROUNDS; round++) {
		uint64_t sum = 0, sum_after = 0;
		uint32_t xor = 0, xor_after = 0;

		for (size_t i = 0; i < SORT_N; i++) {
			/* A few duplicate keys too: the top bits vary less in odd rounds. */
			v[i] = (uint32_t)bench_rand(&seed) >> (round & 1) * 12;
			sum += v[i];
			xor ^= v[i];
		}
		sort_quick(v, SORT_N);
		for (size_t i = 0; i < SORT_N; i++) {
			if (i > 0 && v[i - 1] > v[i])
				return BENCH_FAIL_SELFCHECK;
			sum_after += v[i];
			xor_after ^= v[i];
		}
		if (sum_after != sum || xor_after != xor)
			return BENCH_FAIL_SELFCHECK;
		for (size_t i = 0; i < SORT_N; i += SORT_N / 64)
			h = bench_mix(h, v[i]);
	}
	*checksum = h;
	return BENCH_OK;
}

const struct workload sort_workload = {
    .name = "sort",
    .mem_size = SORT_N * sizeof(uint32_t),
    .run = sort_run,
    .expected = 0x6ab970c5425fea4bull,
};
