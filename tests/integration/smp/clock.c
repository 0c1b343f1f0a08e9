/* User-mode time on every hart, a static riscv64 Linux program run inside the test guest. The
 * program moves itself from hart to hart and reads CLOCK_MONOTONIC each time through glibc's
 * clock_gettime, which Linux serves from the vDSO by reading the time CSR in U-mode (allowed by
 * mcounteren.TM and scounteren.TM: RISC-V privileged ISA, "Counter-Enable Registers"), and
 * through the system call. The readings must never go backwards from one hart to the next, and
 * the two ways must agree.
 *
 *   clock PASSES   visits every online cpu PASSES times; prints PASS or FAIL
 * Exit status 0 on PASS, 1 on FAIL, 2 on bad usage. An illegal instruction (the time CSR not
 * readable from U-mode) ends the run with FAIL and the hart it happened on.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_S 60
/* The vDSO and the system call read the same clock one after the other: allow for the
 * system call's own cost on a slow, busy emulated machine. */
#define MAX_SKEW_NS 200000000ll

static volatile sig_atomic_t current_cpu = -1;

static void fatal_signal(int sig)
{
	char msg[96];
	int n = snprintf(msg, sizeof(msg), "clock: FAIL: signal %d on cpu %d%s\n", sig,
			 (int)current_cpu,
			 sig == SIGILL ? " (the time CSR is not readable from U-mode)" : "");
	ssize_t r = write(STDOUT_FILENO, msg, (size_t)n);
	(void)r;
	_exit(1);
}

static int64_t ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000ll + ts->tv_nsec;
}

int main(int argc, char **argv)
{
	char *end;
	setvbuf(stdout, NULL, _IOLBF, 0);
	unsigned long passes = argc == 2 ? strtoul(argv[1], &end, 0) : 0;
	if (argc != 2 || *end || passes == 0 || passes > 100000) {
		fprintf(stderr, "usage: clock PASSES (1..100000)\n");
		return 2;
	}
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus < 1 || ncpus > CPU_SETSIZE) {
		printf("clock: FAIL: %ld cpus online\n", ncpus);
		return 1;
	}
	signal(SIGILL, fatal_signal);
	signal(SIGSEGV, fatal_signal);
	signal(SIGALRM, fatal_signal);
	alarm(WATCHDOG_S);

	int64_t last = 0;
	unsigned long backwards = 0, skewed = 0, visits = 0;
	for (unsigned long p = 0; p < passes; p++) {
		for (long cpu = 0; cpu < ncpus; cpu++) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			if (sched_setaffinity(0, sizeof(set), &set)) {
				printf("clock: FAIL: move to cpu %ld: %s\n", cpu, strerror(errno));
				return 1;
			}
			current_cpu = (sig_atomic_t)sched_getcpu();
			struct timespec vdso, sys;
			clock_gettime(CLOCK_MONOTONIC, &vdso);
			syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &sys);
			int64_t v = ns(&vdso), s = ns(&sys);
			if (v < last) {
				if (backwards++ < 3)
					printf("clock: cpu %ld: %lld ns is before %lld ns read "
					       "earlier\n",
					       cpu, (long long)v, (long long)last);
			}
			if (s < v || s - v > MAX_SKEW_NS) {
				if (skewed++ < 3)
					printf(
					    "clock: cpu %ld: vDSO %lld ns, system call %lld ns\n",
					    cpu, (long long)v, (long long)s);
			}
			last = s > v ? s : v;
			visits++;
		}
	}
	int ok = backwards == 0 && skewed == 0;
	printf("clock: %lu readings on %ld cpus: %lu backwards, %lu skewed %s\n", visits, ncpus,
	       backwards, skewed, ok ? "ok" : "WRONG");
	printf("clock: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
