/* CPU benchmark workloads: small self-checking kernels typical of real programs, built from the
 * same freestanding sources for the RISC-V guest (bare metal, guest/) and for the host
 * (host.c), so the same work can be timed on rvisor, on QEMU and natively. */
#ifndef BENCH_CPU_BENCH_H
#define BENCH_CPU_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Failure codes a workload returns; the guest reports them to the test finisher. */
#define BENCH_OK             0
#define BENCH_FAIL_SELFCHECK 1 /* a workload's own consistency check failed */
#define BENCH_FAIL_CHECKSUM  2 /* the final checksum differs from the expected one */
#define BENCH_FAIL_USAGE     3 /* unknown workload name or arena too small */

/* One workload. run() does the whole, fixed amount of work in mem (mem_size bytes, 64-byte
 * aligned, contents undefined on entry); it returns BENCH_OK and sets *checksum, or
 * BENCH_FAIL_SELFCHECK when an internal consistency check fails. The checksum of a correct
 * run is expected: the same on every machine, as the sources avoid host-dependent behaviour
 * (integer types of fixed width, floating point without contraction into fused operations). */
struct workload {
	const char *name;
	size_t mem_size;
	int (*run)(void *mem, uint64_t *checksum);
	uint64_t expected;
};

/* The workloads, each defined in the file of its name. */
extern const struct workload crc32_workload;
extern const struct workload matmul_workload;
extern const struct workload sort_workload;
extern const struct workload strhash_workload;
extern const struct workload interp_workload;
extern const struct workload nbody_workload;

/* Runs the workload called name (or nothing, for "empty": the start-up cost alone) in mem,
 * checks its result and prints one line, "NAME: ok checksum 0x..." or "NAME: FAIL ...".
 * Returns BENCH_OK or a BENCH_FAIL_* code. */
int bench_main(const char *name, void *mem, size_t mem_size);

/* Provided by the platform (guest.c or host.c): prints one byte. */
void platform_putc(int c);

/* Prints the NUL-terminated string s. */
void bench_puts(const char *s);

/* Prints v as 0x and 16 hexadecimal digits. */
void bench_puthex(uint64_t v);

/* Prints v in decimal. */
void bench_putdec(uint64_t v);

/* splitmix64: the next pseudo-random number of the sequence whose state is *state. */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Mixes v into the running checksum h (order-sensitive). */
static inline uint64_t bench_mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ull + (h >> 29);
}

#endif
