/* The workload table and the common driver: run one workload, check its result, print one
 * line. Shared by the guest and the host builds. */
#include "bench.h"

static const struct workload *const workloads[] = {
    &crc32_workload,   &matmul_workload, &sort_workload,
    &strhash_workload, &interp_workload, &nbody_workload,
};

void bench_puts(const char *s)
{
	while (*s)
		platform_putc(*s++);
}

void bench_puthex(uint64_t v)
{
	bench_puts("0x");
	for (int shift = 60; shift >= 0; shift -= 4)
		platform_putc("0123456789abcdef"[(v >> shift) & 15]);
}

void bench_putdec(uint64_t v)
{
	char digits[21];
	int i = 20;

	digits[i] = 0;
	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	bench_puts(&digits[i]);
}

static int names_equal(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

int bench_main(const char *name, void *mem, size_t mem_size)
{
	const struct workload *w = NULL;
	uint64_t checksum = 0;
	int status;

	if (names_equal(name, "empty")) {
		bench_puts("empty: ok\n");
		return BENCH_OK;
	}
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (names_equal(name, workloads[i]->name))
			w = workloads[i];
	if (!w || w->mem_size > mem_size) {
		bench_puts(name);
		bench_puts(w ? ": FAIL arena too small\n" : ": FAIL no such workload\n");
		return BENCH_FAIL_USAGE;
	}

	status = w->run(mem, &checksum);
	if (status == BENCH_OK && checksum != w->expected)
		status = BENCH_FAIL_CHECKSUM;

	bench_puts(w->name);
	if (status == BENCH_OK) {
		bench_puts(": ok checksum ");
		bench_puthex(checksum);
	} else if (status == BENCH_FAIL_CHECKSUM) {
		bench_puts(": FAIL checksum ");
		bench_puthex(checksum);
		bench_puts(", expected ");
		bench_puthex(w->expected);
	} else {
		bench_puts(": FAIL self-check");
	}
	bench_puts("\n");
	return status;
}
