/* SMP atomics stress, a static riscv64 Linux program run inside the test guest. Threads pinned
 * to different harts update shared counters with AMOs (amoadd.w/d, amoor.d), with LR/SC loops
 * (lr.w/sc.w, lr.d/sc.d) and under a pthread mutex; at the end every count must be exact (RISC-V
 * unprivileged ISA, "A" extension: LR/SC and AMOs are atomic with respect to all harts).
 *
 *   atomics stress THREADS ITERATIONS   each thread does ITERATIONS rounds of every update;
 *                                       prints one line per counter, then PASS or FAIL
 *   atomics compute THREADS ITERATIONS  ITERATIONS rounds of private integer work split over the
 *                                       threads, no sharing; prints the wall time (for bench/)
 * Exit status 0 on PASS, 1 on FAIL, 2 on bad usage. A watchdog ends a hung run with FAIL.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define WATCHDOG_S  120
/* Stress updates in all: the 32-bit counters stay exact and the 64-bit ones do not wrap. */
#define MAX_TOTAL (1ull << 28)
/* Added by the 64-bit updates, so a lost carry into the upper word shows. */
#define INC_D  ((1ull << 32) + 1)
#define INC_SC ((1ull << 33) + 3)

/* One shared counter per cache line (w for 32-bit counters, d for 64-bit ones), so the updates
 * of one kind do not slow the others. */
struct line {
	_Alignas(64) uint64_t d;
	uint32_t w;
};

struct shared {
	unsigned nthreads, ncpus;
	uint64_t iterations;
	pthread_barrier_t start;
	pthread_mutex_t mutex;
	struct line amo_w, amo_d, lrsc_w, lrsc_d;
	struct line mutex_count, mutex_inside, mutex_overlaps;
	/* seen[v / 64] bit v % 64: amoadd.w returned v; set with amoor.d. */
	uint64_t *seen;
	uint64_t seen_words;
};

struct worker {
	struct shared *s;
	unsigned id;
	pthread_t thread;
	uint64_t sc_retries; /* failed sc.w/sc.d, for information */
	uint64_t duplicates; /* amoadd.w values already returned to some thread */
	uint64_t out_of_range;
	uint64_t backwards; /* amoadd.d returned a value below an earlier one of this thread */
	uint64_t result;    /* compute mode: the thread's checksum */
};

static void watchdog(int sig)
{
	static const char msg[] = "atomics: FAIL: watchdog: no result within the time limit\n";
	(void)sig;
	ssize_t n = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(1);
}

/* Add inc to *p with an lr.w/sc.w loop; returns the value before. Counts failed sc.w. */
static uint32_t lrsc_add_w(uint32_t *p, uint32_t inc, uint64_t *retries)
{
	uint32_t old, tmp;
	__asm__ volatile("1:\n\t"
			 "lr.w.aqrl %0, (%3)\n\t"
			 "addw %1, %0, %4\n\t"
			 "sc.w.aqrl %1, %1, (%3)\n\t"
			 "beqz %1, 2f\n\t"
			 "addi %2, %2, 1\n\t"
			 "j 1b\n"
			 "2:"
			 : "=&r"(old), "=&r"(tmp), "+r"(*retries)
			 : "r"(p), "r"(inc)
			 : "memory");
	return old;
}

/* Add inc to *p with an lr.d/sc.d loop; returns the value before. Counts failed sc.d. */
static uint64_t lrsc_add_d(uint64_t *p, uint64_t inc, uint64_t *retries)
{
	uint64_t old, tmp;
	__asm__ volatile("1:\n\t"
			 "lr.d.aqrl %0, (%3)\n\t"
			 "add %1, %0, %4\n\t"
			 "sc.d.aqrl %1, %1, (%3)\n\t"
			 "beqz %1, 2f\n\t"
			 "addi %2, %2, 1\n\t"
			 "j 1b\n"
			 "2:"
			 : "=&r"(old), "=&r"(tmp), "+r"(*retries)
			 : "r"(p), "r"(inc)
			 : "memory");
	return old;
}

static int pin(pthread_attr_t *attr, unsigned cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_attr_setaffinity_np(attr, sizeof(set), &set);
}

static void *stress(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	uint64_t limit = s->iterations * s->nthreads, last_d = 0;

	pthread_barrier_wait(&s->start);
	for (uint64_t i = 0; i < s->iterations; i++) {
		uint32_t v = __atomic_fetch_add(&s->amo_w.w, 1, __ATOMIC_SEQ_CST);
		if (v >= limit) {
			w->out_of_range++;
		} else {
			uint64_t bit = 1ull << (v % 64);
			uint64_t was = __atomic_fetch_or(&s->seen[v / 64], bit, __ATOMIC_RELAXED);
			if (was & bit)
				w->duplicates++;
		}

		uint64_t d = __atomic_fetch_add(&s->amo_d.d, INC_D, __ATOMIC_SEQ_CST);
		if (d < last_d)
			w->backwards++;
		last_d = d;

		lrsc_add_w(&s->lrsc_w.w, 1, &w->sc_retries);
		lrsc_add_d(&s->lrsc_d.d, INC_SC, &w->sc_retries);

		pthread_mutex_lock(&s->mutex);
		if (s->mutex_inside.d++ != 0)
			s->mutex_overlaps.d++;
		s->mutex_count.d++;
		s->mutex_inside.d--;
		pthread_mutex_unlock(&s->mutex);
	}
	return NULL;
}

static void *compute(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	uint64_t x = 0x9e3779b97f4a7c15ull * (w->id + 1), acc = 0;
	uint64_t n = s->iterations / s->nthreads;

	pthread_barrier_wait(&s->start);
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		acc += x * (i | 1);
		acc = (acc << 5) | (acc >> 59);
	}
	w->result = acc;
	return NULL;
}

static int check(const char *name, uint64_t got, uint64_t expected)
{
	printf("atomics: %s %llu expected %llu %s\n", name, (unsigned long long)got,
	       (unsigned long long)expected, got == expected ? "ok" : "WRONG");
	return got == expected;
}

/* Seconds on CLOCK_MONOTONIC, through the system call rather than the vDSO: the vDSO reads the
 * time CSR in U-mode, which the clock test checks on its own; this program checks atomics. */
static double now_s(void)
{
	struct timespec ts;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start the workers, each pinned to hart id % ncpus, and join them. Returns 0 or an errno. */
static int run_workers(struct shared *s, struct worker *w, void *(*fn)(void *))
{
	for (unsigned i = 0; i < s->nthreads; i++) {
		pthread_attr_t attr;
		int e = pthread_attr_init(&attr);
		if (!e)
			e = pin(&attr, i % s->ncpus);
		w[i].s = s;
		w[i].id = i;
		if (!e)
			e = pthread_create(&w[i].thread, &attr, fn, &w[i]);
		pthread_attr_destroy(&attr);
		if (e) {
			fprintf(stderr, "atomics: thread %u on cpu %u: %s\n", i, i % s->ncpus,
				strerror(e));
			exit(1);
		}
	}
	for (unsigned i = 0; i < s->nthreads; i++)
		pthread_join(w[i].thread, NULL);
	return 0;
}

static int run_stress(struct shared *s, struct worker *w)
{
	uint64_t total = s->iterations * s->nthreads;
	if (total > MAX_TOTAL) {
		fprintf(stderr, "atomics: THREADS * ITERATIONS must be at most %llu\n",
			(unsigned long long)MAX_TOTAL);
		return 2;
	}
	s->seen_words = (total + 63) / 64;
	s->seen = calloc(s->seen_words, sizeof(*s->seen));
	if (!s->seen) {
		fprintf(stderr, "atomics: out of memory\n");
		return 1;
	}
	double t0 = now_s();
	run_workers(s, w, stress);
	double t1 = now_s();

	uint64_t retries = 0, dup = 0, range = 0, back = 0, missing = 0;
	for (unsigned i = 0; i < s->nthreads; i++) {
		retries += w[i].sc_retries;
		dup += w[i].duplicates;
		range += w[i].out_of_range;
		back += w[i].backwards;
	}
	for (uint64_t v = 0; v < total; v++)
		if (!(s->seen[v / 64] & (1ull << (v % 64))))
			missing++;

	printf("atomics: %u threads on %u cpus, %llu iterations each, %.2f s\n", s->nthreads,
	       s->ncpus, (unsigned long long)s->iterations, t1 - t0);
	int ok = 1;
	ok &= check("amoadd.w", s->amo_w.w, total);
	ok &= check("amoadd.d", s->amo_d.d, total * INC_D);
	ok &= check("lr/sc.w", s->lrsc_w.w, total);
	ok &= check("lr/sc.d", s->lrsc_d.d, total * INC_SC);
	ok &= check("mutex", s->mutex_count.d, total);
	ok &= check("mutex-overlaps", s->mutex_overlaps.d, 0);
	ok &= check("amoadd.w-duplicates", dup, 0);
	ok &= check("amoadd.w-out-of-range", range, 0);
	ok &= check("amoadd.w-missing", missing, 0);
	ok &= check("amoadd.d-backwards", back, 0);
	printf("atomics: sc failures (retried) %llu\n", (unsigned long long)retries);
	printf("atomics: %s\n", ok ? "PASS" : "FAIL");
	free(s->seen);
	return ok ? 0 : 1;
}

static int run_compute(struct shared *s, struct worker *w)
{
	double t0 = now_s();
	run_workers(s, w, compute);
	double t1 = now_s();
	uint64_t sum = 0;
	for (unsigned i = 0; i < s->nthreads; i++)
		sum ^= w[i].result;
	printf(
	    "atomics: compute %u threads on %u cpus, %llu iterations, %.3f s, checksum %016llx\n",
	    s->nthreads, s->ncpus, (unsigned long long)s->iterations, t1 - t0,
	    (unsigned long long)sum);
	printf("atomics: PASS\n");
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: atomics stress|compute THREADS ITERATIONS\n"
		"  THREADS 1..%d; stress: THREADS * ITERATIONS at most %llu\n",
		MAX_THREADS, (unsigned long long)MAX_TOTAL);
	return 2;
}

static int parse(const char *arg, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static struct shared s;
	static struct worker w[MAX_THREADS];
	uint64_t threads;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4 || parse(argv[2], MAX_THREADS, &threads) ||
	    parse(argv[3], UINT32_MAX, &s.iterations))
		return usage();
	s.nthreads = (unsigned)threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	s.ncpus = n > 0 ? (unsigned)n : 1;
	pthread_barrier_init(&s.start, NULL, s.nthreads);
	pthread_mutex_init(&s.mutex, NULL);
	signal(SIGALRM, watchdog);
	alarm(WATCHDOG_S);

	if (!strcmp(argv[1], "stress"))
		return run_stress(&s, w);
	if (!strcmp(argv[1], "compute"))
		return run_compute(&s, w);
	return usage();
}
