/* The test hook of seccomp.h, compiled only by `make TEST_HOOKS=1` (tests/integration/
 * test_seccomp.py): RVISOR_TEST_SECCOMP=KIND makes the first thread of that kind call execve
 * once its filter is in force; KIND:exec maps memory executable instead (forbidden at level 2).
 * Either should end the process with SECCOMP_EXIT_STATUS; if the call returns, a line says so
 * and the VM runs on, which the test sees as a failure. RVISOR_TEST_OPEN=KIND:PATH makes the
 * first thread of that kind open PATH for reading and say on stderr whether it could
 * (tests/integration/test_landlock.py: Landlock holds on every thread). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host/seccomp.h"

/* RVISOR_TEST_OPEN=KIND:PATH on the first thread of kind. */
static void open_hook(enum seccomp_kind kind)
{
	static atomic_bool done[SECCOMP_KINDS];
	const char *want = getenv("RVISOR_TEST_OPEN");
	const char *name = seccomp_kind_name(kind);
	size_t n = strlen(name);
	if (!want || strncmp(want, name, n) || want[n] != ':' || atomic_exchange(&done[kind], true))
		return;
	int fd = open(want + n + 1, O_RDONLY | O_CLOEXEC);
	int e = errno;
	fprintf(stderr, "rvisor: test hook: open %s on the %s thread: %s\n", want + n + 1, name,
		fd >= 0 ? "OK" : strerror(e));
	if (fd >= 0)
		close(fd);
}

void seccomp_test_hook(enum seccomp_kind kind)
{
	static atomic_bool done;
	open_hook(kind);
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
