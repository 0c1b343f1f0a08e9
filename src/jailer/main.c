/* rvisor-jailer: start rvisor alone in a jail, as Firecracker's jailer starts firecracker.
 * It builds <chroot-base-dir>/<exec-name>/<id>/root (a copy of the binary, its shared
 * libraries, /dev/null, /dev/net/tun, /run), puts the process in a cgroup and under
 * rlimits, joins or makes namespaces, pivots into the chroot, closes every fd above 2,
 * drops to --uid/--gid with no capability left and execs rvisor with the arguments after --.
 * Every failed step prints one line naming it and exits 1; what was made before it is
 * removed again. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jailer/jailer.h"

#define DEFAULT_BASE   "/srv/jailer"
#define MAX_ID         64
#define MAX_CGROUPS    16
#define DEFAULT_NOFILE 2048

static void usage(FILE *f)
{
	fputs("usage: rvisor-jailer --id ID --exec-file FILE --uid UID --gid GID [OPTIONS] "
	      "[-- RVISOR-ARGS]\n"
	      "\n"
	      "Start rvisor (--exec-file) in a jail: its own root directory\n"
	      "<chroot-base-dir>/<exec-name>/<id>/root, a mount namespace (and optionally PID\n"
	      "and network ones), a cgroup, resource limits, and an unprivileged uid/gid with no\n"
	      "capabilities. The arguments after -- go to rvisor; paths in them are inside the\n"
	      "jail (e.g. --api-sock /run/rvisor.socket is <root>/run/rvisor.socket outside).\n"
	      "\n"
	      "  --id ID                the VM's name: letters, digits and -, at most 64\n"
	      "  --exec-file FILE       the rvisor binary, copied into the jail\n"
	      "  --uid UID, --gid GID   the user and group rvisor runs as (not 0)\n"
	      "  --chroot-base-dir DIR  where jails are made (default " DEFAULT_BASE ")\n"
	      "  --netns PATH           join this network namespace (e.g. /var/run/netns/NAME)\n"
	      "  --new-pid-ns           run rvisor as PID 1 of a new PID namespace\n"
	      "  --daemonize            detach: new session, stdin/stdout/stderr on /dev/null\n"
	      "  --cgroup-version 2     the cgroup hierarchy to use (only 2)\n"
	      "  --cgroup FILE=VALUE    write VALUE into the cgroup's FILE, e.g. cpu.weight=50,\n"
	      "                         memory.max=1G (repeatable); the cgroup is\n"
	      "                         <cgroup2 mount>/<parent-cgroup>/<id>\n"
	      "  --parent-cgroup PATH   the cgroup's parent, relative to the mount (default: the\n"
	      "                         exec file's name)\n"
	      "  --resource-limit fsize=N|no-file=N\n"
	      "                         the largest file rvisor may write (bytes) or the number\n"
	      "                         of files it may hold open (default no-file=2048)\n"
	      "  -h, --help             show this text\n"
	      "\n"
	      "The pid of the process that runs rvisor is written to <root>/<exec-name>.pid.\n"
	      "Exit status: 1 when the jail cannot be made; otherwise rvisor's own.\n",
	      f);
}

static int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("rvisor-jailer: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

/* A uid or gid: decimal, 1 to 2^32 - 2 (0 would keep root's powers, -1 means "unchanged"). */
static bool parse_id(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v == 0 || v >= 0xffffffffull)
		return false;
	*out = (unsigned)v;
	return true;
}

static bool valid_vm_id(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > MAX_ID)
		return false;
	for (const char *p = s; *p; p++)
		if (!(*p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

/* A relative path of plain names: no "..", ".", empty parts or leading '/'. */
static bool valid_rel_path(const char *s)
{
	if (!*s || *s == '/')
		return false;
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, "/");
		if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/' && !*++p)
			return false;
	}
	return true;
}

/* --cgroup FILE=VALUE: FILE is CONTROLLER.NAME, plain characters only. */
static bool parse_cgroup(char *arg, struct jail_cgroup_kv *kv)
{
	char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1] || strchr(eq, '\n'))
		return false;
	const char *dot = memchr(arg, '.', (size_t)(eq - arg));
	if (!dot || dot == arg || dot + 1 == eq)
		return false;
	for (const char *p = arg; p < eq; p++)
		if (!(*p == '.' || *p == '_' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	*eq = 0;
	kv->key = arg;
	kv->value = eq + 1;
	return true;
}

/* --resource-limit fsize=N|no-file=N. */
static bool parse_rlimit(const char *arg, int *resource, rlim_t *value)
{
	const char *v;
	if (!strncmp(arg, "fsize=", 6)) {
		*resource = RLIMIT_FSIZE;
		v = arg + 6;
	} else if (!strncmp(arg, "no-file=", 8)) {
		*resource = RLIMIT_NOFILE;
		v = arg + 8;
	} else {
		return false;
	}
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || *v == '-')
		return false;
	*value = (rlim_t)n;
	return true;
}

struct jailer {
	const char *id, *exec_file, *base, *netns, *parent_cgroup;
	char exec_name[256];
	unsigned uid, gid;
	bool have_uid, have_gid, daemonize, new_pid_ns;
	struct jail_cgroup_kv cgroups[MAX_CGROUPS];
	int ncgroups;
	rlim_t fsize, nofile;
	bool have_fsize;
	char **rvisor_argv; /* after --, NULL-terminated */
};

static int parse_args(struct jailer *j, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"id", required_argument, NULL, 'i'},
	    {"exec-file", required_argument, NULL, 'e'},
	    {"uid", required_argument, NULL, 'u'},
	    {"gid", required_argument, NULL, 'g'},
	    {"chroot-base-dir", required_argument, NULL, 'b'},
	    {"netns", required_argument, NULL, 'n'},
	    {"daemonize", no_argument, NULL, 'd'},
	    {"new-pid-ns", no_argument, NULL, 'p'},
	    {"cgroup-version", required_argument, NULL, 'v'},
	    {"cgroup", required_argument, NULL, 'c'},
	    {"parent-cgroup", required_argument, NULL, 'P'},
	    {"resource-limit", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {0, 0, 0, 0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (!valid_vm_id(optarg))
				return error("--id '%s' is not 1 to %d letters, digits or -",
					     optarg, MAX_ID);
			j->id = optarg;
			break;
		case 'e': j->exec_file = optarg; break;
		case 'u':
			if (!parse_id(optarg, &j->uid))
				return error("--uid '%s' is not a user id from 1 to 4294967294",
					     optarg);
			j->have_uid = true;
			break;
		case 'g':
			if (!parse_id(optarg, &j->gid))
				return error("--gid '%s' is not a group id from 1 to 4294967294",
					     optarg);
			j->have_gid = true;
			break;
		case 'b':
			if (optarg[0] != '/' || strstr(optarg, "/../") ||
			    strlen(optarg) > PATH_MAX / 2)
				return error("--chroot-base-dir '%s' is not an absolute path",
					     optarg);
			j->base = optarg;
			break;
		case 'n': j->netns = optarg; break;
		case 'd': j->daemonize = true; break;
		case 'p': j->new_pid_ns = true; break;
		case 'v':
			if (strcmp(optarg, "2"))
				return error("--cgroup-version '%s': only cgroup v2 is supported "
					     "(--cgroup-version 2)",
					     optarg);
			break;
		case 'c':
			if (j->ncgroups == MAX_CGROUPS)
				return error("too many --cgroup options: at most %d", MAX_CGROUPS);
			if (!parse_cgroup(optarg, &j->cgroups[j->ncgroups]))
				return error("--cgroup '%s' is not FILE=VALUE with FILE a cgroup "
					     "interface file such as cpu.weight",
					     optarg);
			j->ncgroups++;
			break;
		case 'P':
			if (!valid_rel_path(optarg))
				return error("--parent-cgroup '%s' is not a relative path of plain "
					     "names",
					     optarg);
			j->parent_cgroup = optarg;
			break;
		case 'r': {
			int res;
			rlim_t v;
			if (!parse_rlimit(optarg, &res, &v))
				return error("--resource-limit '%s' is not fsize=N or no-file=N",
					     optarg);
			if (res == RLIMIT_FSIZE) {
				j->fsize = v;
				j->have_fsize = true;
			} else {
				j->nofile = v;
			}
			break;
		}
		case 'h': usage(stdout); exit(0);
		case ':':
			return error("option '%s' needs a value (see 'rvisor-jailer --help')",
				     argv[optind - 1]);
		default:
			return error("unknown option '%s' (see 'rvisor-jailer --help')",
				     argv[optind - 1]);
		}
	}
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		return error("unexpected argument '%s': rvisor's arguments go after --",
			     argv[optind]);
	j->rvisor_argv = argv + optind - 1; /* [0] becomes the exec name */
	if (!j->id || !j->exec_file || !j->have_uid || !j->have_gid)
		return error("--id, --exec-file, --uid and --gid are required (see "
			     "'rvisor-jailer --help')");
	struct stat st;
	if (stat(j->exec_file, &st) || !S_ISREG(st.st_mode) || access(j->exec_file, X_OK))
		return error("--exec-file %s is not an executable file", j->exec_file);
	const char *slash = strrchr(j->exec_file, '/');
	snprintf(j->exec_name, sizeof(j->exec_name), "%s", slash ? slash + 1 : j->exec_file);
	if (!j->parent_cgroup)
		j->parent_cgroup = j->exec_name;
	return 0;
}

static pid_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* The parent left outside a new PID namespace: unprivileged, it waits for rvisor (PID 1
 * inside), passes termination signals on and ends with its status. */
static int wait_child(pid_t pid, unsigned uid, unsigned gid)
{
	char err[256];
	child_pid = pid;
	struct sigaction sa = {.sa_handler = forward_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	syscall(SYS_close_range, 3, ~0u, 0);
	if (jail_drop_privileges(uid, gid, err, sizeof(err))) {
		kill(pid, SIGKILL);
		return error("%s", err);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return error("waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Write pid into /<exec-name>.pid (inside the jail). */
static void write_pid(const struct jailer *j, pid_t pid)
{
	char path[300];
	snprintf(path, sizeof(path), "/%s.pid", j->exec_name);
	FILE *f = fopen(path, "we");
	if (f) {
		fprintf(f, "%d\n", (int)pid);
		fclose(f);
	}
}

/* Detach from the terminal: a new session, stdio on the jail's /dev/null. */
static int detach(void)
{
	setsid();
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return error("cannot open the jail's /dev/null: %s", strerror(errno));
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	return 0;
}

/* Past the mounts: cgroup, forks for --new-pid-ns/--daemonize, the privilege drop, exec. */
static int enter_and_exec(struct jailer *j, int procs_fd)
{
	char err[PATH_MAX + 256];
	if (procs_fd >= 0) {
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if (write(procs_fd, pid, (size_t)n) != n)
			return error("cannot join the cgroup: %s", strerror(errno));
		close(procs_fd);
	}
	if (j->new_pid_ns && unshare(CLONE_NEWPID))
		return error("cannot make a PID namespace: %s", strerror(errno));
	if (j->new_pid_ns || j->daemonize) {
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			return error("fork: %s", strerror(errno));
		if (pid > 0) {
			write_pid(j, pid);
			if (j->daemonize)
				_exit(0);
			return wait_child(pid, j->uid, j->gid);
		}
		if (j->daemonize && detach())
			return 1;
	} else {
		write_pid(j, getpid());
	}
	syscall(SYS_close_range, 3, ~0u, 0);
	if (jail_drop_privileges(j->uid, j->gid, err, sizeof(err)))
		return error("%s", err);
	char exe[300];
	snprintf(exe, sizeof(exe), "/%s", j->exec_name);
	j->rvisor_argv[0] = j->exec_name;
	char *envp[] = {NULL};
	execve(exe, j->rvisor_argv, envp);
	return error("cannot run %s in the jail: %s", exe, strerror(errno));
}

int main(int argc, char **argv)
{
	struct jailer j = {.base = DEFAULT_BASE, .nofile = DEFAULT_NOFILE};
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (parse_args(&j, argc, argv))
		return 1;
	if (geteuid())
		return error("rvisor-jailer must run as root (it makes namespaces, device nodes "
			     "and a cgroup, then drops to --uid/--gid)");

	int netns_fd = -1;
	if (j.netns && (netns_fd = open(j.netns, O_RDONLY | O_CLOEXEC)) < 0)
		return error("--netns %s: %s", j.netns, strerror(errno));

	char root[PATH_MAX], err[PATH_MAX + 256];
	struct jail_undo undo = {0};
	int procs_fd = -1;
	snprintf(root, sizeof(root), "%s/%s/%s/root", j.base, j.exec_name, j.id);
	umask(022);
	int rc = jail_mkdirs(&undo, root, 0755, err, sizeof(err));
	if (!rc)
		rc = jail_populate(&undo, root, j.exec_file, j.exec_name, j.uid, j.gid, err,
				   sizeof(err));
	if (!rc) {
		rc = jail_cgroup_setup(&undo, j.parent_cgroup, j.id, j.cgroups, j.ncgroups,
				       &procs_fd, err, sizeof(err));
		/* Without --cgroup a host with no usable cgroup v2 runs the VM in the jailer's. */
		if (rc && !j.ncgroups && !strncmp(err, "--cgroup: ", 10))
			rc = 0;
	}
	if (!rc && j.have_fsize) {
		struct rlimit rl = {j.fsize, j.fsize};
		if (setrlimit(RLIMIT_FSIZE, &rl))
			rc = snprintf(err, sizeof(err), "--resource-limit fsize=%llu: %s",
				      (unsigned long long)j.fsize, strerror(errno));
	}
	if (!rc) {
		struct rlimit rl = {j.nofile, j.nofile};
		if (setrlimit(RLIMIT_NOFILE, &rl))
			rc = snprintf(err, sizeof(err), "--resource-limit no-file=%llu: %s",
				      (unsigned long long)j.nofile, strerror(errno));
	}
	if (!rc && netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET))
		rc = snprintf(err, sizeof(err), "--netns %s: cannot join: %s", j.netns,
			      strerror(errno));
	if (!rc)
		rc = jail_pivot(root, err, sizeof(err));
	if (rc) {
		if (procs_fd >= 0)
			close(procs_fd);
		jail_undo_run(&undo);
		return error("%s", err);
	}
	/* The host's paths are out of reach from here on: the jail stays as it is. */
	jail_undo_forget(&undo);
	return enter_and_exec(&j, procs_fd);
}
