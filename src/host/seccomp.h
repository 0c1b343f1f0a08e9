/* Per-thread seccomp filters: each kind of thread rvisor runs installs, at its start, a filter
 * allowing only the system calls (and at level 2 the arguments) that kind needs. A forbidden
 * call ends the process with SECCOMP_EXIT_STATUS and one line on stderr naming the thread
 * kind and the call. The level is process-wide, as filters are a property of the process's
 * threads; until seccomp_setup is called it is 0 (no filters), as in the unit tests. */
#ifndef RVISOR_HOST_SECCOMP_H
#define RVISOR_HOST_SECCOMP_H

#include <stddef.h>

/* The exit status of a process killed for a forbidden system call. */
#define SECCOMP_EXIT_STATUS 6

/* The levels of --seccomp-level: none, system call numbers, numbers and arguments. */
enum seccomp_level {
	SECCOMP_LEVEL_NONE = 0,
	SECCOMP_LEVEL_NUMBERS = 1,
	SECCOMP_LEVEL_ARGS = 2,
};

/* The level when no option names one. Sanitizer builds (make SAN=1) default to none: their
 * runtimes make calls no filter allows (sigaltstack as a thread ends, LeakSanitizer's ptrace
 * helper at exit). */
#if defined(__SANITIZE_ADDRESS__)
#define SECCOMP_LEVEL_DEFAULT SECCOMP_LEVEL_NONE
#else
#define SECCOMP_LEVEL_DEFAULT SECCOMP_LEVEL_ARGS
#endif

/* The kinds of thread, each with its own filter. */
enum seccomp_kind {
	SECCOMP_MAIN,    /* the process's first thread: start-up, waiting for the end, teardown */
	SECCOMP_VCPU,    /* one per hart: runs guest code, device registers, the SBI */
	SECCOMP_DEVICE,  /* device workers: disks, network backends, vsock, virtio-fs, RTC alarm,
			    rate-limiter retries */
	SECCOMP_CONSOLE, /* the console's stdin reader and stdout writer */
	SECCOMP_API,     /* the control plane's HTTP thread and its metrics thread */
	SECCOMP_GDB,     /* the GDB stub's connection thread */
	SECCOMP_KINDS,
};

/* Set the process-wide level (enum seccomp_level) and install the SIGSYS handler that reports
 * forbidden calls. Call once, on the main thread, before any thread is created. Returns 0, or
 * -errno with a message in err. */
int seccomp_setup(int level, char *err, size_t errlen);

/* The level seccomp_setup set (0 before it). */
int seccomp_level(void);

/* Name the calling thread after its kind and, at a level above 0, install that kind's filter
 * on it (on top of any it inherited). Call at the thread's start, after any set-up that needs
 * more than the filter allows. A filter that cannot be installed ends the process with a
 * message and status 1: a VM never runs with less isolation than asked for. */
void seccomp_enter(enum seccomp_kind kind);

struct termios;
/* The terminal to put back when a filter ends the process: fd and the settings it had before
 * rvisor changed them (chr_stdio's raw mode; copied here), or fd -1 for none. Every thread's
 * filter allows that one tcsetattr (ioctl TCGETS and TCSETS on fd 0 at level 2), which the SIGSYS
 * handler makes in the thread that broke its filter, so that the shell is not left raw. */
void seccomp_set_terminal(int fd, const struct termios *saved);

/* The kind's name as messages print it ("vcpu", "device", ...). */
const char *seccomp_kind_name(enum seccomp_kind kind);

/* Test builds only (make TEST_HOOKS=1): make a forbidden call when the environment asks for
 * one on this kind of thread; a no-op in every other build. */
void seccomp_test_hook(enum seccomp_kind kind);

#endif
