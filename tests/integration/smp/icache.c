/* Cross-hart code modification, a static riscv64 Linux program run inside the test guest. A
 * writer thread (on hart 0) rewrites a small function in memory each round; a runner thread
 * pinned to another hart then calls it and must get the new function's result every round.
 * Three ways of making the new code visible to the runner, each a sequence the specs allow:
 *   flush-icache  the writer calls riscv_flush_icache(start, end, 0) (Linux's RISC-V syscall,
 *                 glibc's __riscv_flush_icache): every hart running the process fences its
 *                 instruction fetch before the call returns; the runner executes no fence.i
 *   fence.i       the writer publishes with a release store; the runner reads it with an
 *                 acquire load and executes fence.i itself (RISC-V unprivileged ISA, Zifencei)
 *   mprotect      the page is writable (RW) while written, then executable (RX) again, then
 *                 riscv_flush_icache: permission changes shoot down the other harts' TLBs
 *   alias         a memfd mapped twice: the writer writes through a RW mapping, the runner
 *                 calls through an RX mapping at another address (one physical page), after
 *                 riscv_flush_icache
 * The function alternates between three shapes at the same address (lui+addiw+ret,
 * addi+ret, c.li+c.ret), so instruction boundaries move too.
 *
 * Then the race: runners on every other cpu call the function (in the RX mapping of a memfd)
 * without pause and without fence.i of their own, while the writer rewrites it through the RW
 * mapping: version v is "addi a0, zero, v; ret", written with one aligned 32-bit store (only
 * the immediate changes), followed by riscv_flush_icache and a release store of v. A call can
 * return an old or a new version while a rewrite is under way, but nothing else; and a call
 * made after a runner has read v (acquire) must return v or later: the system call returned
 * only after every hart running the process had fenced its instruction fetch. Each round
 * ends when every runner has made such a call.
 *
 *   icache ROUNDS [RACE]   runs ROUNDS rounds (1..2000) of each way and RACE rounds (1..2000,
 *                          default ROUNDS) of the race; prints one line per way and one for
 *                          the race, then PASS or FAIL
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
#include <sys/cachectl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_S 120
#define CODE_SIZE  4096
#define REG_A0     10
#define REG_RA     1
/* Major opcodes (RISC-V unprivileged ISA, "RV32/64G Instruction Set Listings"). */
#define OPC_OP_IMM    0x13
#define OPC_OP_IMM_32 0x1b
#define OPC_LUI       0x37
#define OPC_JALR      0x67
#define C_RET         0x8082 /* c.jr ra */

#define MAX_ROUNDS  2000 /* race versions are 12-bit immediates */
#define MAX_RUNNERS 63
#define ROUND_S     20 /* a race round that takes longer is a hang */

enum way { WAY_FLUSH_ICACHE, WAY_FENCE_I, WAY_MPROTECT, WAY_ALIAS, NWAYS };
static const char *const way_name[NWAYS] = {"flush-icache", "fence.i", "mprotect", "alias"};

struct shared {
	uint8_t *code;  /* where the runner calls the function */
	uint8_t *wcode; /* where the writer writes it: code, or the memfd's other mapping */
	enum way way;
	uint32_t rounds;
	/* Round the writer published, and the last round the runner finished. */
	_Alignas(64) uint32_t published;
	_Alignas(64) uint32_t finished;
	long result; /* what the runner's call returned in round finished */
};

typedef long (*code_fn)(void);

static void fatal_signal(int sig)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "icache: FAIL: signal %d\n", sig);
	ssize_t r = write(STDOUT_FILENO, msg, (size_t)n);
	(void)r;
	_exit(1);
}

/* The value round r's function returns. The three shapes' ranges do not overlap, so the
 * previous round's value is never the current one's. */
static long expected(uint32_t r)
{
	switch (r % 3) {
	case 0: return 0x10000 + (long)((r * 7919u) % 0x3fff0000u); /* lui + addiw */
	case 1: return 32 + (long)(r % 2000);                       /* addi, 12-bit */
	default: return -1 - (long)(r % 32);                        /* c.li, 6-bit */
	}
}

/* Seconds on CLOCK_MONOTONIC, through the system call (not the vDSO, see atomics.c). */
static double now_s(void)
{
	struct timespec ts;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put32(uint8_t *p, uint32_t insn)
{
	memcpy(p, &insn, 4);
}

static void put16(uint8_t *p, uint16_t insn)
{
	memcpy(p, &insn, 2);
}

/* Base-ISA encodings with funct3 = 0 (RISC-V unprivileged ISA, "Base Instruction Formats"). */
static uint32_t i_type(long imm, uint32_t rs1, uint32_t rd, uint32_t opcode)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | rd << 7 | opcode;
}

static uint32_t u_type(long imm20, uint32_t rd, uint32_t opcode)
{
	return ((uint32_t)imm20 & 0xfffff) << 12 | rd << 7 | opcode;
}

/* c.li rd, imm: quadrant 1, funct3 010, imm[5] in bit 12, imm[4:0] in bits 6:2 (RVC). */
static uint16_t c_li(long imm, uint32_t rd)
{
	uint32_t u = (uint32_t)imm & 0x3f;
	return (uint16_t)(2u << 13 | (u >> 5) << 12 | rd << 7 | (u & 0x1f) << 2 | 1);
}

/* Two mappings of one new memfd page: *w read-write, *x read-execute. 0, or -1 (printed). */
static int map_alias(uint8_t **w, uint8_t **x)
{
	int fd = memfd_create("icache", 0);
	if (fd < 0 || ftruncate(fd, CODE_SIZE)) {
		printf("icache: FAIL: memfd: %s\n", strerror(errno));
		return -1;
	}
	*w = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	*x = mmap(NULL, CODE_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (*w == MAP_FAILED || *x == MAP_FAILED) {
		printf("icache: FAIL: mmap of the memfd: %s\n", strerror(e));
		return -1;
	}
	return 0;
}

static void unmap_alias(struct shared *s)
{
	if (s->wcode != s->code)
		munmap(s->wcode, CODE_SIZE);
	munmap(s->code, CODE_SIZE);
}

/* Write round r's function at code. */
static void write_code(uint8_t *code, uint32_t r)
{
	long v = expected(r), hi = (v + 0x800) >> 12, lo = v - (hi << 12);
	switch (r % 3) {
	case 0:
		put32(code, u_type(hi, REG_A0, OPC_LUI));                   /* lui a0, hi */
		put32(code + 4, i_type(lo, REG_A0, REG_A0, OPC_OP_IMM_32)); /* addiw a0, a0, lo */
		put32(code + 8, i_type(0, REG_RA, 0, OPC_JALR));            /* ret */
		break;
	case 1:
		put32(code, i_type(v, 0, REG_A0, OPC_OP_IMM));   /* addi a0, zero, v */
		put32(code + 4, i_type(0, REG_RA, 0, OPC_JALR)); /* ret */
		break;
	default:
		put16(code, c_li(v, REG_A0)); /* c.li a0, v */
		put16(code + 2, C_RET);       /* c.jr ra */
		break;
	}
}

static uint32_t wait_for(uint32_t *p, uint32_t value)
{
	uint32_t v;
	while ((v = __atomic_load_n(p, __ATOMIC_ACQUIRE)) != value)
		;
	return v;
}

static void *runner(void *arg)
{
	struct shared *s = arg;
	for (uint32_t r = 1; r <= s->rounds; r++) {
		wait_for(&s->published, r);
		if (s->way == WAY_FENCE_I)
			__asm__ volatile("fence.i" ::: "memory");
		s->result = ((code_fn)(void *)s->code)();
		__atomic_store_n(&s->finished, r, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int set_prot(struct shared *s, int prot)
{
	if (s->way != WAY_MPROTECT)
		return 0;
	if (mprotect(s->code, CODE_SIZE, prot)) {
		printf("icache: FAIL: mprotect: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* One way, ROUNDS rounds, the runner pinned to cpu. Returns 1 when every round ran new code. */
static int run_way(struct shared *s, enum way way, unsigned cpu)
{
	uint32_t stale = 0, wrong = 0;
	pthread_attr_t attr;
	pthread_t thread;
	cpu_set_t set;
	int prot = PROT_READ | PROT_WRITE | (way == WAY_MPROTECT ? 0 : PROT_EXEC);

	if (way == WAY_ALIAS) {
		if (map_alias(&s->wcode, &s->code))
			return 0;
	} else {
		s->code = mmap(NULL, CODE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s->code == MAP_FAILED) {
			printf("icache: FAIL: mmap: %s\n", strerror(errno));
			return 0;
		}
		s->wcode = s->code;
	}
	s->way = way;
	s->published = s->finished = 0;
	write_code(s->wcode, 0);
	__riscv_flush_icache(s->code, s->code + CODE_SIZE, 0);
	if (set_prot(s, PROT_READ | PROT_EXEC))
		return 0;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int e = pthread_attr_init(&attr);
	if (!e)
		e = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (!e)
		e = pthread_create(&thread, &attr, runner, s);
	pthread_attr_destroy(&attr);
	if (e) {
		printf("icache: FAIL: runner thread on cpu %u: %s\n", cpu, strerror(e));
		return 0;
	}

	double t0 = now_s();
	for (uint32_t r = 1; r <= s->rounds; r++) {
		if (set_prot(s, PROT_READ | PROT_WRITE))
			exit(1);
		write_code(s->wcode, r);
		if (set_prot(s, PROT_READ | PROT_EXEC))
			exit(1);
		if (way != WAY_FENCE_I)
			__riscv_flush_icache(s->code, s->code + CODE_SIZE, 0);
		__atomic_store_n(&s->published, r, __ATOMIC_RELEASE);
		wait_for(&s->finished, r);
		if (s->result != expected(r)) {
			if (s->result == expected(r - 1))
				stale++;
			else
				wrong++;
			if (stale + wrong <= 3)
				printf("icache: %s round %u: got %ld, expected %ld\n",
				       way_name[way], r, s->result, expected(r));
		}
	}
	pthread_join(thread, NULL);
	unmap_alias(s);
	printf("icache: %s %u rounds on cpu %u, %.2f s: %u stale, %u wrong %s\n", way_name[way],
	       s->rounds, cpu, now_s() - t0, stale, wrong, stale + wrong ? "WRONG" : "ok");
	return stale + wrong == 0;
}

struct race {
	uint32_t *wcode; /* the addi, through the RW mapping */
	code_fn fn;      /* the function, through the RX mapping */
	uint32_t rounds;
	_Alignas(64) uint32_t writing;   /* the version being written, or written last */
	_Alignas(64) uint32_t published; /* the version every hart must now see */
	_Alignas(64) uint32_t stop;
};

struct runner_state {
	struct race *race;
	unsigned cpu;
	_Alignas(64) uint32_t seen; /* a call made after reading published = seen returned */
	uint64_t calls;
	uint32_t stale, wrong;
	long first_bad, first_bad_min, first_bad_max;
};

static uint32_t addi_a0(uint32_t v)
{
	return i_type((long)v, 0, REG_A0, OPC_OP_IMM); /* addi a0, zero, v */
}

static void *race_runner(void *arg)
{
	struct runner_state *st = arg;
	struct race *rc = st->race;
	while (!__atomic_load_n(&rc->stop, __ATOMIC_ACQUIRE)) {
		uint32_t p = __atomic_load_n(&rc->published, __ATOMIC_ACQUIRE);
		long got = rc->fn();
		uint32_t w = __atomic_load_n(&rc->writing, __ATOMIC_ACQUIRE);
		st->calls++;
		/* The writer starts version w + 2 only after this runner acknowledged w + 1, which
		 * it did after reading published = w + 1, after writing = w + 1: so at most w + 1.
		 */
		int bad = got < 0 || got > (long)w + 1 ? 2 : got < (long)p ? 1 : 0;
		if (bad) {
			if (st->stale + st->wrong == 0) {
				st->first_bad = got;
				st->first_bad_min = p;
				st->first_bad_max = (long)w + 1;
			}
			if (bad == 1)
				st->stale++;
			else
				st->wrong++;
		}
		__atomic_store_n(&st->seen, p, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* The race, runners on cpus 1..ncpus-1. Returns 1 when every call was right. */
static int run_race(uint32_t rounds, unsigned ncpus)
{
	static struct runner_state st[MAX_RUNNERS];
	static pthread_t threads[MAX_RUNNERS];
	static struct race rc;
	uint8_t *w, *x;
	unsigned n = ncpus - 1 > MAX_RUNNERS ? MAX_RUNNERS : ncpus - 1, started = 0;
	int ok = 1;

	if (map_alias(&w, &x))
		return 0;
	rc.wcode = (uint32_t *)(void *)w;
	rc.fn = (code_fn)(void *)x;
	rc.rounds = rounds;
	rc.writing = rc.published = rc.stop = 0;
	rc.wcode[0] = addi_a0(0);
	rc.wcode[1] = i_type(0, REG_RA, 0, OPC_JALR); /* ret */
	__riscv_flush_icache(x, x + CODE_SIZE, 0);

	for (unsigned i = 0; i < n; i++) {
		pthread_attr_t attr;
		cpu_set_t set;
		st[i] = (struct runner_state){.race = &rc, .cpu = i + 1};
		CPU_ZERO(&set);
		CPU_SET(i + 1, &set);
		int e = pthread_attr_init(&attr);
		if (!e)
			e = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		if (!e)
			e = pthread_create(&threads[i], &attr, race_runner, &st[i]);
		pthread_attr_destroy(&attr);
		if (e) {
			printf("icache: FAIL: race runner on cpu %u: %s\n", i + 1, strerror(e));
			ok = 0;
			break;
		}
		started++;
	}

	double t0 = now_s();
	for (uint32_t v = 1; ok && v <= rounds; v++) {
		__atomic_store_n(&rc.writing, v, __ATOMIC_RELEASE);
		__atomic_store_n(&rc.wcode[0], addi_a0(v), __ATOMIC_RELAXED);
		__riscv_flush_icache(x, x + CODE_SIZE, 0);
		__atomic_store_n(&rc.published, v, __ATOMIC_RELEASE);
		/* Every runner makes a call after reading v. */
		double deadline = now_s() + ROUND_S;
		for (unsigned i = 0; ok && i < started; i++) {
			for (unsigned spins = 1; __atomic_load_n(&st[i].seen, __ATOMIC_ACQUIRE) < v;
			     spins++) {
				if (spins % 65536 == 0 && now_s() > deadline) {
					printf("icache: race round %u: the runner on cpu %u made "
					       "no call "
					       "in %d s\n",
					       v, st[i].cpu, ROUND_S);
					ok = 0;
					break;
				}
			}
		}
	}
	__atomic_store_n(&rc.stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	double secs = now_s() - t0;

	uint64_t calls = 0;
	uint32_t stale = 0, wrong = 0;
	for (unsigned i = 0; i < started; i++) {
		calls += st[i].calls;
		stale += st[i].stale;
		wrong += st[i].wrong;
		if (st[i].stale + st[i].wrong)
			printf("icache: race: cpu %u first got %ld, expected %ld..%ld\n", st[i].cpu,
			       st[i].first_bad, st[i].first_bad_min, st[i].first_bad_max);
	}
	munmap(w, CODE_SIZE);
	munmap(x, CODE_SIZE);
	ok = ok && started == n && stale + wrong == 0;
	printf("icache: race %u rounds, %u runners on cpus 1-%u, %.2f s: %llu calls, %u stale, "
	       "%u wrong %s\n",
	       rounds, started, n, secs, (unsigned long long)calls, stale, wrong,
	       ok ? "ok" : "WRONG");
	return ok;
}

int main(int argc, char **argv)
{
	static struct shared s;
	char *end;
	cpu_set_t self;

	setvbuf(stdout, NULL, _IOLBF, 0);
	unsigned long rounds = argc == 2 || argc == 3 ? strtoul(argv[1], &end, 0) : 0;
	int bad = argc < 2 || argc > 3 || *end || rounds == 0 || rounds > MAX_ROUNDS;
	unsigned long race_rounds = rounds;
	if (!bad && argc == 3) {
		race_rounds = strtoul(argv[2], &end, 0);
		bad = *end || race_rounds == 0 || race_rounds > MAX_ROUNDS;
	}
	if (bad) {
		fprintf(stderr, "usage: icache ROUNDS [RACE_ROUNDS] (each 1..%d)\n", MAX_ROUNDS);
		return 2;
	}
	s.rounds = (uint32_t)rounds;
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus < 2) {
		printf("icache: FAIL: needs 2 cpus online, has %ld\n", ncpus);
		return 1;
	}
	signal(SIGILL, fatal_signal);
	signal(SIGSEGV, fatal_signal);
	signal(SIGBUS, fatal_signal);
	signal(SIGALRM, fatal_signal);
	alarm(WATCHDOG_S);

	/* The writer on cpu 0, the runner on the last cpu online. */
	CPU_ZERO(&self);
	CPU_SET(0, &self);
	if (sched_setaffinity(0, sizeof(self), &self)) {
		printf("icache: FAIL: pin to cpu 0: %s\n", strerror(errno));
		return 1;
	}
	int ok = 1;
	for (int way = 0; way < NWAYS; way++)
		ok &= run_way(&s, (enum way)way, (unsigned)ncpus - 1);
	ok &= run_race((uint32_t)race_rounds, (unsigned)ncpus);
	printf("icache: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
