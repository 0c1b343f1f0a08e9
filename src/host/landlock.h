/* Landlock (Linux's unprivileged sandboxing LSM, Documentation/userspace-api/landlock.rst):
 * once rvisor has set up, it keeps access only to the files the VM was given. A ruleset
 * handles every file-system access right the kernel's ABI knows; each rule allows some of
 * them beneath a path (or on a file). The restriction holds for the calling thread and every
 * thread it creates afterwards, so it is applied on the main thread before any other exists;
 * files already open stay usable. */
#ifndef RVISOR_HOST_LANDLOCK_H
#define RVISOR_HOST_LANDLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LANDLOCK_MAX_RULES 64

/* Sanitizer builds (make SAN=1) may also read /proc: LeakSanitizer reads /proc/PID/task and
 * /proc/PID/maps at exit, AddressSanitizer the maps when it reports. */
#if defined(__SANITIZE_ADDRESS__)
#define LANDLOCK_SANITIZER_PROC 1
#else
#define LANDLOCK_SANITIZER_PROC 0
#endif

/* What a rule allows, as rvisor's options name it. */
enum landlock_mode {
	LANDLOCK_RO,    /* read files, list directories */
	LANDLOCK_RW,    /* that, write, truncate, create and remove files, sockets and dirs */
	LANDLOCK_RMDIR, /* remove directories beneath (a cgroup rvisor made) */
};

/* One path and what may be done beneath it (or to it, for a file). */
struct landlock_rule {
	char path[4096];
	enum landlock_mode mode;
};

/* The rules of one process, gathered from its options before landlock_apply. */
struct landlock_rules {
	struct landlock_rule rule[LANDLOCK_MAX_RULES];
	int n;
};

/* The kernel's Landlock ABI version (1, 2, ...), or 0 when it has none (not built in, not
 * enabled at boot, or too old). */
int landlock_abi(void);

/* Add path (relative paths are taken from the current directory now) with mode. Returns 0,
 * or -1 with err set when the list is full or the path too long. */
int landlock_add(struct landlock_rules *r, const char *path, enum landlock_mode mode, char *err,
		 size_t errlen);

/* Add the directory that holds path (e.g. a socket rvisor will create), with mode; nothing
 * when that directory does not exist (creating path will fail with its own message). */
int landlock_add_dir_of(struct landlock_rules *r, const char *path, enum landlock_mode mode,
			char *err, size_t errlen);

/* Add, read-only, what the C library may open lazily while rvisor runs (its own directory,
 * for the name-service modules; /etc/hosts, /etc/resolv.conf and the other files name
 * resolution reads), and the files rvisor's debugging environment variables name
 * (RVISOR_JIT_DUMP's file, RVISOR_JIT_PERFMAP's /tmp/perf-PID.map), read-write; /proc in
 * sanitizer builds (LANDLOCK_SANITIZER_PROC). Paths that do not exist are left out. Returns 0, or
 * -1 with err set. */
int landlock_add_system(struct landlock_rules *r, char *err, size_t errlen);

/* Parse --landlock-rule PATH[:ro|:rw] (default rw) and add it. Returns 0, or -1 with err set
 * (an empty path, an unknown mode). */
int landlock_add_option(struct landlock_rules *r, const char *arg, char *err, size_t errlen);

/* Restrict the calling thread (and every thread it creates later) to the rules. Returns 1
 * when the kernel has no Landlock (nothing done: the caller says so once), 0 once
 * restricted, or -1 with err set (a rule's path that does not exist, a kernel refusal). */
int landlock_apply(const struct landlock_rules *r, char *err, size_t errlen);

/* Whether landlock_apply restricted this process. */
bool landlock_active(void);

/* For an error message about a file rvisor could not open: " (outside the paths Landlock
 * allows rvisor: see --landlock-rule)" when err_no is EACCES and Landlock is active, else
 * "". */
const char *landlock_hint(int err_no);

#endif
