/* rvisor-jailer: the pieces of the jail that main.c puts together in order (files in the
 * chroot, the cgroup, the process's privileges). Every function that can fail prints nothing
 * and writes one line naming the failed step into err (the caller prints it, exit status 1). */
#ifndef RVISOR_JAILER_H
#define RVISOR_JAILER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define JAIL_MAX_CREATED 128

/* What the jailer made on the host so far, in order: undone in reverse on a failed start so
 * that nothing is left half-made. Paths are absolute host paths. */
struct jail_undo {
	struct {
		char *path;
		bool dir;
	} item[JAIL_MAX_CREATED];
	int n;
};

/* Record path (a file, or a directory when dir) as made by the jailer. Returns -1 when the
 * list is full (err names the path). */
int jail_undo_add(struct jail_undo *u, const char *path, bool dir, char *err, size_t errlen);

/* Remove what was recorded, newest first (directories only when empty), and forget it. */
void jail_undo_run(struct jail_undo *u);

/* Forget what was recorded without removing it: the jail is in use. */
void jail_undo_forget(struct jail_undo *u);

/* mkdir -p for path (absolute) with mode for the directories it makes, each recorded in u.
 * Returns 0, or -1 with err set. */
int jail_mkdirs(struct jail_undo *u, const char *path, mode_t mode, char *err, size_t errlen);

/* Make the jail's files under root (an existing directory): a copy of exec_file at
 * /<exec_name>, the shared libraries its dynamic loader resolves at the same paths (hard
 * links, or copies across file systems), /dev/null, /dev/net/tun (owned by uid:gid) and /run
 * (owned by uid:gid, where the API socket goes). Returns 0, or -1 with err set. */
int jail_populate(struct jail_undo *u, const char *root, const char *exec_file,
		  const char *exec_name, uid_t uid, gid_t gid, char *err, size_t errlen);

/* Enter root: a new mount namespace in which root is bind-mounted, made the root with
 * pivot_root(2), and the old root detached. Returns 0, or -1 with err set. */
int jail_pivot(const char *root, char *err, size_t errlen);

/* Give up every privilege: supplementary groups, gid, uid (real, effective, saved), the
 * capability bounding and ambient sets, and set no_new_privs; then check with capget(2) that
 * no capability is left. Returns 0, or -1 with err set. */
int jail_drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen);

/* One --cgroup KEY=VALUE. */
struct jail_cgroup_kv {
	const char *key; /* an interface file of the cgroup, e.g. "cpu.weight" */
	const char *value;
};

/* Make the cgroup v2 <mount>/<parent>/<id> (parent: a relative path), enable in each
 * ancestor's cgroup.subtree_control the controllers the keys name, write each value, and open
 * its cgroup.procs for writing into *procs_fd (the caller writes its pid there before exec,
 * after the mounts are gone). The directories made are recorded in u. Returns 0, or -1 with
 * err set (no cgroup v2 hierarchy mounted read-write, a controller the host does not offer,
 * an interface file missing or refusing the value). */
int jail_cgroup_setup(struct jail_undo *u, const char *parent, const char *id,
		      const struct jail_cgroup_kv *kv, int nkv, int *procs_fd, char *err,
		      size_t errlen);

#endif
