/* TLB shootdowns across harts, a static riscv64 Linux program run inside the test guest. When
 * Linux changes or removes a mapping of a process it has every other hart running the process
 * flush its TLB (SBI RFENCE remote_sfence_vma(_asid), or an IPI and sfence.vma: RISC-V
 * privileged ISA, "Supervisor Memory-Management Fence Instruction") and waits until they have.
 * A hart that missed such a flush keeps using the old translation. Three phases, each thread
 * pinned to a cpu of its own:
 *   churn    the harts ask each other for remote fences at the same time, round after round:
 *            right after a barrier every thread moves its slot (a page at a fixed address) to
 *            another page of a shared memfd (munmap, then mmap at the same address), writes a
 *            private page and zaps it (madvise MADV_DONTNEED; these flushes run under the read
 *            side of the mmap lock, where munmap's are serialised, so they overlap). Then every
 *            thread reads every slot: the word there names the page (thread, version)
 *   remap    thread 0 moves a page of its own to another memfd page at the same address each
 *            round, while the others, which read it just before, wait; then they read it again
 *            and must find the new page's name, not the old one's ("stale")
 *   protect  thread 0 turns a shared page read-only each round after the others wrote to it
 *            (so their TLBs hold it writable); their next write must fault, and writes must
 *            work again once the page is writable again
 * Threads wait for each other by spinning, without system calls: a kernel entry that touches
 * user memory may flush the hart's whole TLB on the way (rvisor's software TLB is flushed when
 * sstatus.SUM changes) and so hide a missed remote flush.
 *
 *   tlb THREADS CHURN REMAP PROTECT   THREADS threads (2..64, no more than the cpus online)
 *                                     pinned to cpus 0..THREADS-1 run CHURN, REMAP and PROTECT
 *                                     rounds of each phase; prints one line per phase, then
 *                                     PASS or FAIL
 * Exit status 0 on PASS, 1 on FAIL, 2 on bad usage. A watchdog thread ends with FAIL a run in
 * which no thread got further for STALL_S seconds: a hang, such as two harts each waiting for
 * the other to carry out its fence.
 */
/* cpu_set_t, pthread_attr_setaffinity_np, memfd_create, MAP_FIXED_NOREPLACE */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define STALL_S     20 /* seconds without progress that the watchdog calls a hang */
#define PAGE        4096
#define MAX_ROUNDS  10000000ul
/* Churn round r remaps the slots of set r % SETS, each to version r % VERSIONS of its thread's
 * memfd pages: the page a slot held before (two rounds earlier) is version (r + 2) % VERSIONS.
 * The remap phase uses the pages of pseudo-thread nthreads. */
#define SETS     2
#define VERSIONS 4                     /* a power of two: the version is the low bits of a tag() */
#define TAG_BASE 0x746c620000000000ull /* "tlb" */

enum phase { PHASE_START, PHASE_CHURN, PHASE_REMAP, PHASE_PROTECT, PHASE_DONE, NPHASES };
static const char *const phase_name[NPHASES] = {"start", "churn", "remap", "protect", "done"};

/* A barrier that waits by spinning (see the top comment). */
struct spin_barrier {
	_Atomic unsigned arrived;
	_Atomic unsigned generation;
	unsigned n;
};

struct shared {
	unsigned nthreads, ncpus;
	unsigned long rounds[NPHASES];
	double seconds[NPHASES]; /* each phase's duration, measured by thread 0 */
	struct spin_barrier barrier;
	int memfd;      /* VERSIONS pages per thread and pseudo-thread, each with its tag() */
	uint8_t *slots; /* churn: SETS x nthreads slots of one page */
	uint8_t *remap; /* remap: thread 0's page */
	volatile uint64_t *page;        /* protect: one word per thread */
	_Atomic unsigned long progress; /* rounds done by all threads, for the watchdog */
};

struct worker {
	struct shared *s;
	unsigned id;
	pthread_t thread;
	volatile uint64_t *zap; /* a private page, zapped every churn round */
	_Atomic unsigned phase; /* enum phase */
	_Atomic unsigned long round;
	unsigned long stale[NPHASES];  /* a page read the name of a page mapped there before */
	unsigned long wrong[NPHASES];  /* a page read no page's name */
	unsigned long zap_errors;      /* the zapped private page did not read as zeros */
	unsigned long missed_faults;   /* a write to the read-only page went through */
	unsigned long spurious_faults; /* a write to the writable page faulted */
	unsigned long lost_writes;     /* the page did not hold the thread's last write */
};

static struct worker workers[MAX_THREADS];

/* Where on_fault returns to while a try_write runs; volatile, so each store happens where
 * written and is not merged away around the faulting store. */
static __thread sigjmp_buf *volatile fault_jump;

static void fatal_signal(int sig)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "tlb: FAIL: signal %d\n", sig);
	ssize_t r = write(STDOUT_FILENO, msg, (size_t)n);
	(void)r;
	_exit(1);
}

static void on_fault(int sig)
{
	if (fault_jump)
		siglongjmp(*fault_jump, 1);
	fatal_signal(sig);
}

/* Prints "tlb: FAIL: " and the message, ends the process with status 1. */
static void __attribute__((format(printf, 1, 2), noreturn)) fail(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(STDOUT_FILENO, "tlb: FAIL: %s\n", n < 0 ? fmt : msg);
	_exit(1);
}

/* Store value at p; returns 1 if the store faulted (SIGSEGV), 0 if it went through. Makes no
 * system call when the store goes through: sigsetjmp does not save the signal mask, which
 * SA_NODEFER leaves alone when on_fault runs. */
static int try_write(volatile uint64_t *p, uint64_t value)
{
	sigjmp_buf jump;
	if (sigsetjmp(jump, 0)) {
		fault_jump = NULL;
		return 1;
	}
	fault_jump = &jump;
	*p = value;
	fault_jump = NULL;
	return 0;
}

static void spin_wait(struct spin_barrier *b)
{
	unsigned gen = atomic_load_explicit(&b->generation, memory_order_acquire);
	if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) + 1 == b->n) {
		atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
		atomic_fetch_add_explicit(&b->generation, 1, memory_order_release);
		return;
	}
	while (atomic_load_explicit(&b->generation, memory_order_acquire) == gen)
		;
}

/* The word at the start of memfd page (thread, version): names that page. */
static uint64_t tag(unsigned thread, unsigned version)
{
	return TAG_BASE | (uint64_t)thread << 8 | version;
}

static off_t file_offset(unsigned thread, unsigned version)
{
	return (off_t)(thread * VERSIONS + version) * PAGE;
}

static uint8_t *slot(const struct shared *s, unsigned set, unsigned thread)
{
	return s->slots + ((size_t)set * s->nthreads + thread) * PAGE;
}

/* Map version of thread's memfd pages read-only at want; flags MAP_FIXED while setting up,
 * MAP_FIXED_NOREPLACE after an munmap (nothing else may have taken the hole). */
static void map_page(struct shared *s, uint8_t *want, unsigned thread, unsigned version, int flags)
{
	void *p =
	    mmap(want, PAGE, PROT_READ, MAP_SHARED | flags, s->memfd, file_offset(thread, version));
	if (p == MAP_FAILED)
		fail("mmap at %p: %s", (void *)want, strerror(errno));
	if (p != want)
		fail("mmap at %p returned %p", (void *)want, p);
}

/* munmap the page at p, then map version of thread's memfd pages there. */
static void move_page(struct shared *s, uint8_t *p, unsigned thread, unsigned version)
{
	if (munmap(p, PAGE))
		fail("munmap: %s", strerror(errno));
	map_page(s, p, thread, version, MAP_FIXED_NOREPLACE);
}

/* Count a read of p, which must name version of thread's pages: the name of another of them
 * is stale (a translation that outlived its flush), anything else wrong. */
static void check(struct worker *w, const uint8_t *p, unsigned thread, unsigned version)
{
	uint64_t v = *(const volatile uint64_t *)p;
	unsigned phase = atomic_load_explicit(&w->phase, memory_order_relaxed);
	if (v == tag(thread, version))
		return;
	if ((v & ~(uint64_t)(VERSIONS - 1)) == tag(thread, 0))
		w->stale[phase]++;
	else
		w->wrong[phase]++;
}

static void advance(struct worker *w, unsigned long round)
{
	atomic_store_explicit(&w->round, round, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->s->progress, 1, memory_order_relaxed);
}

/* Check that the private page reads as zeros, as MADV_DONTNEED leaves private anonymous memory
 * (the read maps the zero page), write it (a copy on write: a flush), and zap it (a flush). */
static void zap(struct worker *w, unsigned long r)
{
	if (*w->zap != 0)
		w->zap_errors++;
	*w->zap = TAG_BASE | r;
	if (madvise((void *)w->zap, PAGE, MADV_DONTNEED))
		fail("madvise: %s", strerror(errno));
}

static void churn(struct worker *w)
{
	struct shared *s = w->s;
	for (unsigned long r = 0; r < s->rounds[PHASE_CHURN]; r++) {
		unsigned set = r % SETS, version = r % VERSIONS;
		/* Every hart read this slot two rounds ago: munmap must flush it from all of them.
		 * The other set's slots, read last round, stay mapped meanwhile. */
		move_page(s, slot(s, set, w->id), w->id, version);
		zap(w, r);
		advance(w, r + 1);
		spin_wait(&s->barrier);
		for (unsigned t = 0; t < s->nthreads; t++)
			check(w, slot(s, set, t), t, version);
	}
}

static void remap(struct worker *w)
{
	struct shared *s = w->s;
	unsigned owner = s->nthreads; /* the pseudo-thread whose memfd pages are used */
	for (unsigned long r = 0;; r++) {
		/* The others read the page, now version r % VERSIONS: their TLBs hold it. */
		if (w->id)
			check(w, s->remap, owner, r % VERSIONS);
		if (r == s->rounds[PHASE_REMAP])
			break;
		spin_wait(&s->barrier);
		if (w->id == 0)
			move_page(s, s->remap, owner, (r + 1) % VERSIONS);
		advance(w, r + 1);
		spin_wait(&s->barrier);
	}
}

static void set_prot(struct shared *s, int prot)
{
	if (mprotect((void *)s->page, PAGE, prot))
		fail("mprotect: %s", strerror(errno));
}

static void protect(struct worker *w)
{
	struct shared *s = w->s;
	volatile uint64_t *mine = &s->page[w->id];
	for (unsigned long r = 1; r <= s->rounds[PHASE_PROTECT]; r++) {
		/* Writable: every thread writes its word, which puts the page in its TLB. */
		if (w->id && try_write(mine, r))
			w->spurious_faults++;
		spin_wait(&s->barrier);
		if (w->id == 0)
			set_prot(s, PROT_READ);
		spin_wait(&s->barrier);
		/* Read-only now, on every hart: reads see the last write, writes fault. */
		if (w->id) {
			if (*mine != r)
				w->lost_writes++;
			if (!try_write(mine, ~r))
				w->missed_faults++;
		}
		spin_wait(&s->barrier);
		if (w->id == 0)
			set_prot(s, PROT_READ | PROT_WRITE);
		advance(w, r);
		spin_wait(&s->barrier);
	}
}

/* Seconds on CLOCK_MONOTONIC, through the system call (not the vDSO, see atomics.c). */
static double now_s(void)
{
	struct timespec ts;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
	static void (*const phases[NPHASES])(struct worker *) = {
	    [PHASE_CHURN] = churn, [PHASE_REMAP] = remap, [PHASE_PROTECT] = protect};
	struct worker *w = arg;
	struct shared *s = w->s;
	for (unsigned p = PHASE_CHURN; p < PHASE_DONE; p++) {
		spin_wait(&s->barrier);
		double t0 = now_s();
		atomic_store(&w->phase, p);
		advance(w, 0);
		phases[p](w);
		if (w->id == 0)
			s->seconds[p] = now_s() - t0;
	}
	atomic_store(&w->phase, PHASE_DONE);
	return NULL;
}

/* Fails the run when no worker got a round further for STALL_S seconds, naming where each
 * one is. Runs until the process ends. */
static void *watchdog(void *arg)
{
	struct shared *s = arg;
	unsigned long last = 0;
	unsigned still = 0;
	for (;;) {
		struct timespec second = {.tv_sec = 1};
		while (nanosleep(&second, &second) && errno == EINTR)
			;
		unsigned long now = atomic_load(&s->progress);
		if (now != last) {
			last = now;
			still = 0;
			continue;
		}
		if (++still < STALL_S)
			continue;
		char msg[MAX_THREADS * 32 + 128];
		size_t n = (size_t)snprintf(msg, sizeof(msg),
					    "tlb: FAIL: watchdog: no progress for %d s; threads at",
					    STALL_S);
		for (unsigned i = 0; i < s->nthreads && n < sizeof(msg); i++)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, " %s %lu",
					      phase_name[atomic_load(&workers[i].phase)],
					      atomic_load(&workers[i].round));
		if (n < sizeof(msg))
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "\n");
		if (n > sizeof(msg))
			n = sizeof(msg);
		ssize_t r = write(STDOUT_FILENO, msg, n);
		(void)r;
		_exit(1);
	}
	return NULL;
}

static int parse(const char *arg, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 0);
	if (errno || end == arg || *end || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The memfd with its pages named; the churn slots, each mapped to the version its first move
 * replaces; the remap page at version 0; the private pages; the protect page. */
static void setup(struct shared *s)
{
	s->memfd = memfd_create("tlb", 0);
	if (s->memfd < 0)
		fail("memfd_create: %s", strerror(errno));
	if (ftruncate(s->memfd, file_offset(s->nthreads + 1, 0)))
		fail("ftruncate: %s", strerror(errno));
	for (unsigned t = 0; t <= s->nthreads; t++)
		for (unsigned v = 0; v < VERSIONS; v++) {
			uint64_t word = tag(t, v);
			if (pwrite(s->memfd, &word, sizeof(word), file_offset(t, v)) !=
			    sizeof(word))
				fail("pwrite: %s", strerror(errno));
		}

	/* The slots and the remap page: reserved together, then mapped over. */
	size_t pages = (size_t)SETS * s->nthreads + 1;
	s->slots = mmap(NULL, pages * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->slots == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	for (unsigned set = 0; set < SETS; set++)
		for (unsigned t = 0; t < s->nthreads; t++)
			map_page(s, slot(s, set, t), t, set + 2, MAP_FIXED);
	s->remap = s->slots + (pages - 1) * PAGE;
	map_page(s, s->remap, s->nthreads, 0, MAP_FIXED);

	for (unsigned t = 0; t < s->nthreads; t++) {
		workers[t].zap =
		    mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (workers[t].zap == MAP_FAILED)
			fail("mmap: %s", strerror(errno));
	}
	s->page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->page == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	static struct shared s;
	unsigned long threads;

	setvbuf(stdout, NULL, _IOLBF, 0);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	s.ncpus = n > 0 ? (unsigned)n : 1;
	if (argc != 5 || parse(argv[1], MAX_THREADS, &threads) || threads < 2 ||
	    threads > s.ncpus || parse(argv[2], MAX_ROUNDS, &s.rounds[PHASE_CHURN]) ||
	    parse(argv[3], MAX_ROUNDS, &s.rounds[PHASE_REMAP]) ||
	    parse(argv[4], MAX_ROUNDS, &s.rounds[PHASE_PROTECT])) {
		fprintf(stderr,
			"usage: tlb THREADS CHURN REMAP PROTECT (THREADS 2..%d and at most the %u "
			"cpus online, rounds 1..%lu)\n",
			MAX_THREADS, s.ncpus, MAX_ROUNDS);
		return 2;
	}
	s.nthreads = (unsigned)threads;
	s.barrier.n = s.nthreads;
	struct sigaction sa = {.sa_handler = on_fault, .sa_flags = SA_NODEFER};
	sigaction(SIGSEGV, &sa, NULL);
	signal(SIGBUS, fatal_signal);

	setup(&s);
	pthread_t dog;
	int e = pthread_create(&dog, NULL, watchdog, &s);
	if (e)
		fail("watchdog thread: %s", strerror(e));
	for (unsigned i = 0; i < s.nthreads; i++) {
		pthread_attr_t attr;
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(i, &set);
		workers[i].s = &s;
		workers[i].id = i;
		e = pthread_attr_init(&attr);
		if (!e)
			e = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		if (!e)
			e = pthread_create(&workers[i].thread, &attr, run, &workers[i]);
		pthread_attr_destroy(&attr);
		if (e)
			fail("thread %u on cpu %u: %s", i, i, strerror(e));
	}
	for (unsigned i = 0; i < s.nthreads; i++)
		pthread_join(workers[i].thread, NULL);

	unsigned long stale[NPHASES] = {0}, wrong[NPHASES] = {0};
	unsigned long zap_errors = 0, missed = 0, spurious = 0, lost = 0;
	for (unsigned i = 0; i < s.nthreads; i++) {
		const struct worker *w = &workers[i];
		for (unsigned p = 0; p < NPHASES; p++) {
			stale[p] += w->stale[p];
			wrong[p] += w->wrong[p];
		}
		zap_errors += w->zap_errors;
		missed += w->missed_faults;
		spurious += w->spurious_faults;
		lost += w->lost_writes;
	}
	int ok[NPHASES] = {
	    [PHASE_CHURN] = !stale[PHASE_CHURN] && !wrong[PHASE_CHURN] && !zap_errors,
	    [PHASE_REMAP] = !stale[PHASE_REMAP] && !wrong[PHASE_REMAP],
	    [PHASE_PROTECT] = !missed && !spurious && !lost,
	};
	printf("tlb: churn %lu rounds, %u threads on %u cpus, %.2f s: %lu stale, %lu wrong, "
	       "%lu zap errors %s\n",
	       s.rounds[PHASE_CHURN], s.nthreads, s.ncpus, s.seconds[PHASE_CHURN],
	       stale[PHASE_CHURN], wrong[PHASE_CHURN], zap_errors,
	       ok[PHASE_CHURN] ? "ok" : "WRONG");
	printf("tlb: remap %lu rounds, %u threads on %u cpus, %.2f s: %lu stale, %lu wrong %s\n",
	       s.rounds[PHASE_REMAP], s.nthreads, s.ncpus, s.seconds[PHASE_REMAP],
	       stale[PHASE_REMAP], wrong[PHASE_REMAP], ok[PHASE_REMAP] ? "ok" : "WRONG");
	printf("tlb: protect %lu rounds, %u threads on %u cpus, %.2f s: %lu missed faults, "
	       "%lu spurious faults, %lu lost writes %s\n",
	       s.rounds[PHASE_PROTECT], s.nthreads, s.ncpus, s.seconds[PHASE_PROTECT], missed,
	       spurious, lost, ok[PHASE_PROTECT] ? "ok" : "WRONG");
	int pass = ok[PHASE_CHURN] && ok[PHASE_REMAP] && ok[PHASE_PROTECT];
	printf("tlb: %s\n", pass ? "PASS" : "FAIL");
	return pass ? 0 : 1;
}
