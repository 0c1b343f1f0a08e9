/* The jail's files and the process's way into it: the chroot tree (the binary, its shared
 * libraries, the device nodes rvisor opens), pivot_root(2) in a new mount namespace, and the
 * drop to an unprivileged uid/gid with no capability left. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/capability.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jailer/jailer.h"

#define fail(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int jail_undo_add(struct jail_undo *u, const char *path, bool dir, char *err, size_t errlen)
{
	if (u->n == JAIL_MAX_CREATED)
		return fail("too many files to place in the jail (at most %d)", JAIL_MAX_CREATED);
	char *copy = strdup(path);
	if (!copy)
		return fail("out of memory");
	u->item[u->n].path = copy;
	u->item[u->n].dir = dir;
	u->n++;
	return 0;
}

void jail_undo_run(struct jail_undo *u)
{
	while (u->n > 0) {
		u->n--;
		if (u->item[u->n].dir)
			rmdir(u->item[u->n].path);
		else
			unlink(u->item[u->n].path);
		free(u->item[u->n].path);
	}
}

void jail_undo_forget(struct jail_undo *u)
{
	while (u->n > 0)
		free(u->item[--u->n].path);
}

int jail_mkdirs(struct jail_undo *u, const char *path, mode_t mode, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return fail("path too long: %s", path);
	for (char *p = buf + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = 0;
		if (!mkdir(buf, mode)) {
			if (jail_undo_add(u, buf, true, err, errlen))
				return -1;
		} else if (errno != EEXIST) {
			return fail("cannot create directory %s: %s", buf, strerror(errno));
		} else {
			struct stat st;
			if (stat(buf, &st) || !S_ISDIR(st.st_mode))
				return fail("%s exists and is not a directory", buf);
		}
		*p = c;
		if (!c)
			return 0;
	}
}

/* Copy src to the new file dst (mode), recorded in u. */
static int copy_file(struct jail_undo *u, const char *src, const char *dst, mode_t mode, char *err,
		     size_t errlen)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return fail("cannot read %s: %s", src, strerror(errno));
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (out < 0) {
		close(in);
		return fail("cannot create %s: %s", dst, strerror(errno));
	}
	int rc = jail_undo_add(u, dst, false, err, errlen);
	char buf[1 << 16];
	ssize_t n;
	while (!rc && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			rc = fail("cannot read %s: %s", src, strerror(errno));
			break;
		}
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0) {
				rc = fail("cannot write %s: %s", dst, strerror(errno));
				break;
			}
			done += w;
		}
	}
	if (!rc && fchmod(out, mode))
		rc = fail("cannot chmod %s: %s", dst, strerror(errno));
	close(in);
	if (close(out) && !rc)
		rc = fail("cannot write %s: %s", dst, strerror(errno));
	return rc;
}

/* Place the host file src at the same absolute path under root: a hard link, or a copy
 * when root is on another file system. Already there: nothing to do. */
static int place_library(struct jail_undo *u, const char *root, const char *src, char *err,
			 size_t errlen)
{
	char dst[PATH_MAX], dir[PATH_MAX];
	if (snprintf(dst, sizeof(dst), "%s%s", root, src) >= (int)sizeof(dst))
		return fail("path too long: %s%s", root, src);
	if (!access(dst, F_OK))
		return 0;
	snprintf(dir, sizeof(dir), "%s", dst);
	*strrchr(dir, '/') = 0;
	if (jail_mkdirs(u, dir, 0755, err, errlen))
		return -1;
	char real[PATH_MAX];
	if (!realpath(src, real))
		return fail("shared library %s: %s", src, strerror(errno));
	if (!link(real, dst))
		return jail_undo_add(u, dst, false, err, errlen);
	if (errno != EXDEV && errno != EPERM)
		return fail("cannot link %s to %s: %s", real, dst, strerror(errno));
	return copy_file(u, real, dst, 0755, err, errlen);
}

/* The ELF interpreter (PT_INTERP) of the executable file path into interp; "" when it is
 * statically linked. */
static int elf_interp(const char *path, char *interp, size_t len, char *err, size_t errlen)
{
	interp[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("--exec-file %s: %s", path, strerror(errno));
	Elf64_Ehdr eh;
	int rc = 0;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
		close(fd);
		return fail("--exec-file %s is not a 64-bit ELF executable", path);
	}
	for (unsigned i = 0; i < eh.e_phnum && !rc; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != sizeof(ph))
			rc = fail("--exec-file %s: truncated program headers", path);
		else if (ph.p_type == PT_INTERP) {
			if (ph.p_filesz < 2 || ph.p_filesz > len ||
			    pread(fd, interp, ph.p_filesz, (off_t)ph.p_offset) !=
				(ssize_t)ph.p_filesz ||
			    interp[ph.p_filesz - 1] || interp[0] != '/')
				rc = fail("--exec-file %s: malformed PT_INTERP", path);
			break;
		}
	}
	close(fd);
	return rc;
}

/* The shared libraries of exec_file as its dynamic loader resolves them (`INTERP --list`,
 * which maps them without running the program), each placed under root. */
static int place_libraries(struct jail_undo *u, const char *root, const char *exec_file, char *err,
			   size_t errlen)
{
	char interp[PATH_MAX];
	if (elf_interp(exec_file, interp, sizeof(interp), err, errlen))
		return -1;
	if (!interp[0])
		return 0; /* static: nothing to place */
	if (place_library(u, root, interp, err, errlen))
		return -1;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return fail("fork: %s", strerror(errno));
	}
	if (!pid) {
		dup2(pfd[1], 1);
		execl(interp, interp, "--list", exec_file, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	FILE *f = fdopen(pfd[0], "r");
	char line[PATH_MAX + 64];
	int rc = 0;
	while (f && fgets(line, sizeof(line), f)) {
		/* "\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or "\t/lib64/ld...
		 * (0x...)" */
		char *p = strstr(line, "=> ");
		p = p ? p + 3 : line + strspn(line, " \t");
		if (*p != '/')
			continue; /* the vDSO, which has no file */
		p[strcspn(p, " \n")] = 0;
		if (!rc)
			rc = place_library(u, root, p, err, errlen);
	}
	if (f)
		fclose(f);
	else
		close(pfd[0]);
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return rc ? rc
			  : fail("%s --list %s failed: cannot find its shared libraries", interp,
				 exec_file);
	return rc;
}

/* The device node path (char major:minor) under root, owned by uid:gid with mode. */
static int make_node(struct jail_undo *u, const char *root, const char *path, unsigned major,
		     unsigned minor, mode_t mode, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char dst[PATH_MAX];
	snprintf(dst, sizeof(dst), "%s%s", root, path);
	if (mknod(dst, S_IFCHR | mode, makedev(major, minor)))
		return fail("cannot create device node %s: %s", dst, strerror(errno));
	if (jail_undo_add(u, dst, false, err, errlen))
		return -1;
	if (chown(dst, uid, gid) || chmod(dst, mode))
		return fail("cannot give %s to %u:%u: %s", dst, (unsigned)uid, (unsigned)gid,
			    strerror(errno));
	return 0;
}

int jail_populate(struct jail_undo *u, const char *root, const char *exec_file,
		  const char *exec_name, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, exec_name);
	if (!access(path, F_OK))
		return fail("%s exists already: is another VM using this --id?", path);
	if (copy_file(u, exec_file, path, 0755, err, errlen) ||
	    place_libraries(u, root, exec_file, err, errlen))
		return -1;
	snprintf(path, sizeof(path), "%s/dev/net", root);
	if (jail_mkdirs(u, path, 0755, err, errlen) ||
	    make_node(u, root, "/dev/null", 1, 3, 0666, uid, gid, err, errlen) ||
	    make_node(u, root, "/dev/net/tun", 10, 200, 0600, uid, gid, err, errlen))
		return -1;
	snprintf(path, sizeof(path), "%s/run", root);
	if (jail_mkdirs(u, path, 0700, err, errlen))
		return -1;
	if (chown(path, uid, gid) || chown(root, uid, gid))
		return fail("cannot give %s to %u:%u: %s", root, (unsigned)uid, (unsigned)gid,
			    strerror(errno));
	return 0;
}

int jail_pivot(const char *root, char *err, size_t errlen)
{
	if (unshare(CLONE_NEWNS))
		return fail("cannot make a mount namespace: %s", strerror(errno));
	/* Nothing done in here reaches the host's mounts, and nothing of theirs comes in. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return fail("cannot make the mounts private: %s", strerror(errno));
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL))
		return fail("cannot bind-mount %s: %s", root, strerror(errno));
	if (chdir(root) || syscall(SYS_pivot_root, ".", ".")) {
		int e = errno;
		umount2(root, MNT_DETACH); /* so that the jail's directories can be removed */
		return fail("pivot_root into %s: %s", root, strerror(e));
	}
	/* pivot_root(".", "."): the old root ends up stacked on the new one; detaching it
	 * leaves the jail alone, with no directory for it inside. */
	if (umount2(".", MNT_DETACH))
		return fail("cannot unmount the old root: %s", strerror(errno));
	if (chdir("/"))
		return fail("cannot enter the jail's /: %s", strerror(errno));
	return 0;
}

int jail_drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	/* The bounding set first: dropping from it needs CAP_SETPCAP, gone with the uid. */
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			return fail("cannot drop capability %d from the bounding set: %s", cap,
				    strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return fail("cannot clear the ambient capabilities: %s", strerror(errno));
	if (setgroups(0, NULL))
		return fail("setgroups: %s", strerror(errno));
	if (setresgid(gid, gid, gid))
		return fail("cannot change to gid %u: %s", (unsigned)gid, strerror(errno));
	if (setresuid(uid, uid, uid))
		return fail("cannot change to uid %u: %s", (unsigned)uid, strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return fail("cannot set no_new_privs: %s", strerror(errno));
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {0};
	if (syscall(SYS_capget, &hdr, data))
		return fail("capget: %s", strerror(errno));
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return fail("capabilities left after the drop to %u:%u", (unsigned)uid,
				    (unsigned)gid);
	return 0;
}
