/* The jail's cgroup (v2): <mount>/<parent>/<id>, with the controllers its --cgroup keys name
 * enabled from the hierarchy's root down, and the values written into its interface files. */
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "jailer/jailer.h"

#define fail(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* The mount point of the first cgroup2 file system (a pure v2 host: /sys/fs/cgroup; a hybrid
 * one: /sys/fs/cgroup/unified). */
static int cgroup2_mount(char *out, size_t len, char *err, size_t errlen)
{
	FILE *f = setmntent("/proc/self/mounts", "re");
	if (!f)
		return fail("cannot read /proc/self/mounts: %s", strerror(errno));
	struct mntent *m;
	int rc = fail("--cgroup: this host has no cgroup v2 hierarchy mounted");
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2"))
			continue;
		struct statvfs sv;
		if (statvfs(m->mnt_dir, &sv) || (sv.f_flag & ST_RDONLY)) {
			rc = fail("--cgroup: the cgroup v2 hierarchy at %s is read-only here",
				  m->mnt_dir);
			continue;
		}
		snprintf(out, len, "%s", m->mnt_dir);
		rc = 0;
		break;
	}
	endmntent(f);
	return rc;
}

/* Whether the space-separated list in file dir/name holds word. */
static bool file_has_word(const char *dir, const char *name, const char *word)
{
	char path[2 * PATH_MAX], buf[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool found = false;
	while (!found && fscanf(f, "%1023s", buf) == 1)
		found = !strcmp(buf, word);
	fclose(f);
	return found;
}

/* Write value into dir/name (one write, as the cgroup interface wants). */
static int write_file(const char *dir, const char *name, const char *value, char *err,
		      size_t errlen)
{
	char path[2 * PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("--cgroup %s=%s: cannot open %s: %s", name, value, path,
			    strerror(errno));
	ssize_t n = write(fd, value, strlen(value));
	int e = errno;
	close(fd);
	if (n != (ssize_t)strlen(value))
		return fail("--cgroup %s=%s: %s refused the value: %s", name, value, path,
			    n < 0 ? strerror(e) : "short write");
	return 0;
}

/* Enable controller in the subtree_control of every directory from mnt down to (and
 * including) the one at depth rel (a path relative to mnt). */
static int enable_controller(const char *mnt, const char *rel, const char *controller, char *err,
			     size_t errlen)
{
	char dir[PATH_MAX], word[72];
	snprintf(dir, sizeof(dir), "%s", mnt);
	snprintf(word, sizeof(word), "+%s", controller);
	if (!file_has_word(dir, "cgroup.controllers", controller))
		return fail(
		    "--cgroup: the cgroup v2 controller '%s' is not available at %s (see its "
		    "cgroup.controllers: a hybrid host may have it in cgroup v1)",
		    controller, mnt);
	const char *p = rel;
	for (;;) {
		if (!file_has_word(dir, "cgroup.subtree_control", controller)) {
			char e2[PATH_MAX + 128];
			if (write_file(dir, "cgroup.subtree_control", word, e2, sizeof(e2)))
				return fail("--cgroup: cannot enable the '%s' controller in %s",
					    controller, dir);
		}
		if (!*p)
			return 0;
		size_t n = strcspn(p, "/");
		size_t used = strlen(dir);
		snprintf(dir + used, sizeof(dir) - used, "/%.*s", (int)n, p);
		p += n;
		p += *p == '/';
	}
}

int jail_cgroup_setup(struct jail_undo *u, const char *parent, const char *id,
		      const struct jail_cgroup_kv *kv, int nkv, int *procs_fd, char *err,
		      size_t errlen)
{
	char mnt[PATH_MAX], dir[PATH_MAX];
	*procs_fd = -1;
	if (cgroup2_mount(mnt, sizeof(mnt), err, errlen))
		return -1;
	if (snprintf(dir, sizeof(dir), "%s/%s/%s", mnt, parent, id) >= (int)sizeof(dir))
		return fail("--parent-cgroup %s: path too long", parent);
	if (!access(dir, F_OK))
		return fail("the cgroup %s exists already: is another VM using this --id?", dir);
	/* The parent first: its controllers are enabled below (it may not exist yet). */
	char parent_dir[PATH_MAX];
	if (snprintf(parent_dir, sizeof(parent_dir), "%s/%s", mnt, parent) >=
	    (int)sizeof(parent_dir))
		return fail("--parent-cgroup %s: path too long", parent);
	if (jail_mkdirs(u, parent_dir, 0755, err, errlen))
		return -1;
	for (int i = 0; i < nkv; i++) {
		char controller[64];
		size_t n = strcspn(kv[i].key, ".");
		snprintf(controller, sizeof(controller), "%.*s", (int)n, kv[i].key);
		/* cgroup.* files belong to every cgroup; the others need their controller
		 * enabled in each ancestor (the new cgroup's parent included). */
		if (strcmp(controller, "cgroup") &&
		    enable_controller(mnt, parent, controller, err, errlen))
			return -1;
	}
	if (jail_mkdirs(u, dir, 0755, err, errlen))
		return -1;
	for (int i = 0; i < nkv; i++) {
		char path[2 * PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, kv[i].key);
		if (access(path, F_OK))
			return fail("--cgroup %s=%s: the cgroup %s has no file %s", kv[i].key,
				    kv[i].value, dir, kv[i].key);
		if (write_file(dir, kv[i].key, kv[i].value, err, errlen))
			return -1;
	}
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	*procs_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (*procs_fd < 0)
		return fail("cannot open %s: %s", path, strerror(errno));
	return 0;
}
