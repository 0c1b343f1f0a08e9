/* Landlock rules and their application: landlock_create_ruleset(2), landlock_add_rule(2)
 * with LANDLOCK_RULE_PATH_BENEATH, landlock_restrict_self(2). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host/landlock.h"

/* Rights of later ABIs than the installed header may know. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif

#define fail(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* Rights that apply to a file itself (the rest are about a directory's entries). */
#define FILE_RIGHTS                                                   \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV)
/* IOCTL_DEV too: a read-only block device drive is sized with BLKGETSIZE64 (seccomp limits
 * which ioctls any thread may make). */
#define RO_RIGHTS \
	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define RW_RIGHTS                                                                  \
	(RO_RIGHTS | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV | LANDLOCK_ACCESS_FS_REMOVE_DIR |            \
	 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |            \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_REFER)

static bool landlock_on;

int landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return v > 0 ? (int)v : 0;
}

/* Every right the kernel's ABI abi knows: all of them are handled (denied unless a rule
 * allows them), so that nothing new slips through unnamed. */
static uint64_t handled_rights(int abi)
{
	uint64_t all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1 */
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		all |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return all;
}

int landlock_add(struct landlock_rules *r, const char *path, enum landlock_mode mode, char *err,
		 size_t errlen)
{
	if (r->n == LANDLOCK_MAX_RULES)
		return fail("too many Landlock rules: at most %d", LANDLOCK_MAX_RULES);
	struct landlock_rule *rule = &r->rule[r->n];
	if (!*path ||
	    snprintf(rule->path, sizeof(rule->path), "%s", path) >= (int)sizeof(rule->path))
		return fail("Landlock rule: path '%.64s...' is empty or too long", path);
	rule->mode = mode;
	r->n++;
	return 0;
}

int landlock_add_dir_of(struct landlock_rules *r, const char *path, enum landlock_mode mode,
			char *err, size_t errlen)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	if (access(dir, F_OK))
		return 0; /* what rvisor makes there fails, with its own message */
	return landlock_add(r, dir, mode, err, errlen);
}

int landlock_add_system(struct landlock_rules *r, char *err, size_t errlen)
{
	static const char *const etc[] = {
	    "/etc/hosts",    "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/host.conf",
	    "/etc/gai.conf", "/etc/services",    "/etc/protocols"};
	Dl_info info;
	if (dladdr((void *)fopen, &info) && info.dli_fname && info.dli_fname[0] == '/' &&
	    landlock_add_dir_of(r, info.dli_fname, LANDLOCK_RO, err, errlen))
		return -1;
	for (size_t i = 0; i < sizeof(etc) / sizeof(etc[0]); i++)
		if (!access(etc[i], F_OK) && landlock_add(r, etc[i], LANDLOCK_RO, err, errlen))
			return -1;
	if (LANDLOCK_SANITIZER_PROC && landlock_add(r, "/proc", LANDLOCK_RO, err, errlen))
		return -1;
	const char *dump = getenv("RVISOR_JIT_DUMP");
	if (dump && *dump && landlock_add_dir_of(r, dump, LANDLOCK_RW, err, errlen))
		return -1;
	const char *perf = getenv("RVISOR_JIT_PERFMAP");
	if (perf && *perf && strcmp(perf, "0") && landlock_add(r, "/tmp", LANDLOCK_RW, err, errlen))
		return -1;
	return 0;
}

int landlock_add_option(struct landlock_rules *r, const char *arg, char *err, size_t errlen)
{
	char path[4096];
	enum landlock_mode mode = LANDLOCK_RW;
	size_t n = strlen(arg);
	if (n >= sizeof(path))
		return fail("--landlock-rule: path too long");
	memcpy(path, arg, n + 1);
	if (n >= 3 && (!strcmp(path + n - 3, ":ro") || !strcmp(path + n - 3, ":rw"))) {
		mode = path[n - 1] == 'o' ? LANDLOCK_RO : LANDLOCK_RW;
		path[n - 3] = 0;
	}
	if (!*path)
		return fail("--landlock-rule '%s' is not PATH, PATH:ro or PATH:rw", arg);
	return landlock_add(r, path, mode, err, errlen);
}

int landlock_apply(const struct landlock_rules *r, char *err, size_t errlen)
{
	int abi = landlock_abi();
	if (!abi)
		return 1;
	uint64_t handled = handled_rights(abi);
	struct landlock_ruleset_attr attr = {.handled_access_fs = handled};
	int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rfd < 0)
		return fail("Landlock: cannot create a ruleset: %s (--no-landlock runs without)",
			    strerror(errno));
	for (int i = 0; i < r->n; i++) {
		const struct landlock_rule *rule = &r->rule[i];
		int fd = open(rule->path, O_PATH | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st)) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			close(rfd);
			return fail("Landlock rule %s: %s", rule->path, strerror(e));
		}
		uint64_t allowed = rule->mode == LANDLOCK_RO      ? RO_RIGHTS
				   : rule->mode == LANDLOCK_RMDIR ? LANDLOCK_ACCESS_FS_REMOVE_DIR
								  : RW_RIGHTS;
		allowed &= handled;
		if (!S_ISDIR(st.st_mode))
			allowed &= FILE_RIGHTS;
		struct landlock_path_beneath_attr pb = {.allowed_access = allowed, .parent_fd = fd};
		int rc = allowed ? (int)syscall(SYS_landlock_add_rule, rfd,
						LANDLOCK_RULE_PATH_BENEATH, &pb, 0)
				 : 0;
		int e = errno;
		close(fd);
		if (rc) {
			close(rfd);
			return fail("Landlock rule %s: %s", rule->path, strerror(e));
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_landlock_restrict_self, rfd, 0)) {
		int e = errno;
		close(rfd);
		return fail("Landlock: cannot restrict rvisor: %s (--no-landlock runs without)",
			    strerror(e));
	}
	close(rfd);
	landlock_on = true;
	return 0;
}

bool landlock_active(void)
{
	return landlock_on;
}

const char *landlock_hint(int err_no)
{
	return landlock_on && err_no == EACCES
		   ? " (outside the paths Landlock allows rvisor: see --landlock-rule)"
		   : "";
}
