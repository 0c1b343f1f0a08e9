/* The test hook of seccomp.h in every normal build: nothing, so no input can make rvisor
 * call what its filters forbid. */
#include "host/seccomp.h"

void seccomp_test_hook(enum seccomp_kind kind)
{
	(void)kind;
}
