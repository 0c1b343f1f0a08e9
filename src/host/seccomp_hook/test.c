/* The test hook of seccomp.h, compiled only by `make TEST_HOOKS=1` (tests/integration/
 * test_seccomp.py): RVISOR_TEST_SECCOMP=KIND makes the first thread of that kind call execve
 * once its filter is in force; KIND:exec maps memory executable instead (forbidden at level 2).
 * Either should end the process with SECCOMP_EXIT_STATUS; if the call returns, a line says so
 * and the VM runs on, which the test sees as a failure. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host/seccomp.h"

void seccomp_test_hook(enum seccomp_kind kind)
{
	static atomic_bool done;
	const char *want = getenv("RVISOR_TEST_SECCOMP");
	const char *name = seccomp_kind_name(kind);
	size_t n = strlen(name);
	if (!want || strncmp(want, name, n) || (want[n] && want[n] != ':'))
		return;
	if (atomic_exchange(&done, true))
		return;
	if (!strcmp(want + n, ":exec")) {
		void *p =
		    mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		fprintf(stderr, "rvisor: test hook: mmap PROT_EXEC on the %s thread returned %s\n",
			name, p == MAP_FAILED ? "an error" : "a mapping");
		return;
	}
	char *const argv[] = {"/nonexistent-rvisor-test", NULL};
	execve(argv[0], argv, NULL);
	fprintf(stderr, "rvisor: test hook: execve on the %s thread returned\n", name);
}
