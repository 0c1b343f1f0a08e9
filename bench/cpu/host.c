/* The native harness: runs one workload of the CPU benchmark on the host, built by the host's
 * gcc from the same workload sources as the guest programs.
 * Usage: native NAME (a workload name, or "empty"); exits with bench_main's status. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#define HOST_ARENA_SIZE (16u << 20) /* bytes, as much as a guest program has */

void platform_putc(int c)
{
	putchar(c);
}

int main(int argc, char **argv)
{
	void *mem;
	int status;

	if (argc != 2) {
		fprintf(stderr, "usage: %s WORKLOAD\n", argv[0]);
		return BENCH_FAIL_USAGE;
	}
	mem = aligned_alloc(64, HOST_ARENA_SIZE);
	if (!mem) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return BENCH_FAIL_USAGE;
	}
	status = bench_main(argv[1], mem, HOST_ARENA_SIZE);
	free(mem);
	return status;
}
