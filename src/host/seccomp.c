/* Per-thread seccomp filters (seccomp(2), built with libseccomp: seccomp_init(3),
 * seccomp_rule_add(3)). seccomp_setup compiles one BPF program per thread kind on the main
 * thread, before any other thread exists; each thread installs its kind's program at its start
 * with seccomp(SECCOMP_SET_MODE_FILTER), which needs nothing from libseccomp at that point.
 * A thread created by a filtered thread inherits its creator's filter and adds its own, so the
 * calls it may make are those both allow.
 *
 * A forbidden call raises SIGSYS (SCMP_ACT_TRAP); the handler writes one line naming the
 * thread kind and the call, with write(2) only, and ends the process with _exit(6). The names
 * of the calls are looked up before any filter is installed, as the lookup allocates. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/sched.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "host/seccomp.h"

#define SECCOMP_MAX_NR  512 /* the x86-64 system call numbers are below this */
#define SECCOMP_SI_CODE 1   /* si_code of a SIGSYS from a filter (the kernel's SYS_SECCOMP) */

struct seccomp_prog {
	struct sock_filter *insns;
	unsigned short len;
};

static int seccomp_cur_level;
static struct seccomp_prog seccomp_progs[SECCOMP_KINDS];
static const char *seccomp_names[SECCOMP_MAX_NR];
static __thread int seccomp_thread_kind = SECCOMP_MAIN;

static const char *const kind_names[SECCOMP_KINDS] = {
    [SECCOMP_MAIN] = "main",       [SECCOMP_VCPU] = "vcpu", [SECCOMP_DEVICE] = "device",
    [SECCOMP_CONSOLE] = "console", [SECCOMP_API] = "api",   [SECCOMP_GDB] = "gdb",
};

const char *seccomp_kind_name(enum seccomp_kind kind)
{
	return kind < SECCOMP_KINDS ? kind_names[kind] : "unknown";
}

int seccomp_level(void)
{
	return seccomp_cur_level;
}

/* Every thread: memory (glibc's malloc, which may read /proc/sys/vm/overcommit_memory on
 * any thread), locks, signals, time, reads and writes on descriptors it holds (eventfds,
 * stderr), its own end and the start of threads it creates, and installing its filter
 * (which can only narrow what it may do). */
static const int calls_base[] = {
    SCMP_SYS(brk),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(futex),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(close),
    SCMP_SYS(openat),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(gettid),
    SCMP_SYS(getpid),
    SCMP_SYS(sched_yield),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(prctl),
    SCMP_SYS(seccomp),
    SCMP_SYS(tgkill),
    SCMP_SYS(getrandom),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(rseq),
};

/* A vCPU: guest code and device registers. Kicks are eventfd writes, a frame goes to a TAP
 * with write or to user-mode networking's queue; the balloon punches holes in RAM's memfd;
 * virtio-fs talks to its vhost-user daemon when the guest sets a queue up. */
static const int calls_vcpu[] = {
    SCMP_SYS(fallocate),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvmsg),
    SCMP_SYS(recvfrom),
};

/* Device workers: disk I/O, network backends' sockets (libslirp's NAT, its DNS reading
 * /etc/resolv.conf) and TAP, vsock's Unix sockets, eventfds and their polling. */
static const int calls_device[] = {
    SCMP_SYS(readv),      SCMP_SYS(writev),      SCMP_SYS(pread64),     SCMP_SYS(pwrite64),
    SCMP_SYS(preadv),     SCMP_SYS(pwritev),     SCMP_SYS(preadv2),     SCMP_SYS(pwritev2),
    SCMP_SYS(fsync),      SCMP_SYS(fdatasync),   SCMP_SYS(fallocate),   SCMP_SYS(lseek),
    SCMP_SYS(fstat),      SCMP_SYS(newfstatat),  SCMP_SYS(poll),        SCMP_SYS(ppoll),
    SCMP_SYS(sendto),     SCMP_SYS(recvfrom),    SCMP_SYS(sendmsg),     SCMP_SYS(recvmsg),
    SCMP_SYS(socket),     SCMP_SYS(connect),     SCMP_SYS(accept),      SCMP_SYS(accept4),
    SCMP_SYS(bind),       SCMP_SYS(listen),      SCMP_SYS(shutdown),    SCMP_SYS(setsockopt),
    SCMP_SYS(getsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(fcntl),
    SCMP_SYS(ioctl),
};

/* The console: stdin and stdout and their polling. */
static const int calls_console[] = {
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
};

/* The control plane: its socket and epoll, the files a request names (a kernel checked to be
 * readable, a disk put in place of another, snapshots, metrics and logs), and the threads it
 * starts (metrics, a network card's retries). */
static const int calls_api[] = {
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(pread64),
    SCMP_SYS(pwrite64),
    SCMP_SYS(lseek),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(statx),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(ftruncate),
    SCMP_SYS(fsync),
    SCMP_SYS(fdatasync),
    SCMP_SYS(rename),
    SCMP_SYS(renameat),
    SCMP_SYS(renameat2),
    SCMP_SYS(unlink),
    SCMP_SYS(unlinkat),
    SCMP_SYS(flock),
    SCMP_SYS(fcntl),
    SCMP_SYS(ioctl),
    SCMP_SYS(fallocate),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(accept),
    SCMP_SYS(accept4),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvmsg),
    SCMP_SYS(shutdown),
    SCMP_SYS(setsockopt),
    SCMP_SYS(getsockopt),
    SCMP_SYS(getsockname),
    SCMP_SYS(clone),
    SCMP_SYS(eventfd2),
    /* Live migration (migrate.c) runs on this thread: the connection to the destination
     * (a host name is resolved: getaddrinfo's files and a DNS socket), and a destination's
     * listening socket made under a temporary name, chmod'ed and renamed into place. */
    SCMP_SYS(socket),
    SCMP_SYS(connect),
    SCMP_SYS(bind),
    SCMP_SYS(listen),
    SCMP_SYS(getpeername),
    SCMP_SYS(sendmmsg),
    SCMP_SYS(chmod),
    SCMP_SYS(fchmodat),
    SCMP_SYS(fchmod),
};

/* The GDB stub: its listening socket and one client, its wake-up pipe. */
static const int calls_gdb[] = {
    SCMP_SYS(poll),     SCMP_SYS(ppoll),       SCMP_SYS(accept),      SCMP_SYS(accept4),
    SCMP_SYS(recvfrom), SCMP_SYS(sendto),      SCMP_SYS(shutdown),    SCMP_SYS(setsockopt),
    SCMP_SYS(fcntl),    SCMP_SYS(getsockname), SCMP_SYS(getpeername),
};

/* The main thread once the VM runs: waiting for signals and the end, then tearing everything
 * down (joins, flushing and closing disks, unlinking the API socket, the terminal, the last
 * metrics and log lines). */
static const int calls_main[] = {
    SCMP_SYS(rt_sigtimedwait), SCMP_SYS(ioctl),      SCMP_SYS(fsync),     SCMP_SYS(fdatasync),
    SCMP_SYS(unlink),          SCMP_SYS(unlinkat),   SCMP_SYS(flock),     SCMP_SYS(fcntl),
    SCMP_SYS(fstat),           SCMP_SYS(newfstatat), SCMP_SYS(epoll_ctl), SCMP_SYS(poll),
    SCMP_SYS(ppoll),           SCMP_SYS(shutdown),   SCMP_SYS(rmdir),     SCMP_SYS(lseek),
    SCMP_SYS(writev),          SCMP_SYS(sendto),     SCMP_SYS(munlock),
};

struct seccomp_list {
	const int *calls;
	size_t n;
};

#define LIST(a)                             \
	{                                   \
		a, sizeof(a) / sizeof(a[0]) \
	}
static const struct seccomp_list kind_lists[SECCOMP_KINDS] = {
    [SECCOMP_MAIN] = LIST(calls_main),     [SECCOMP_VCPU] = LIST(calls_vcpu),
    [SECCOMP_DEVICE] = LIST(calls_device), [SECCOMP_CONSOLE] = LIST(calls_console),
    [SECCOMP_API] = LIST(calls_api),       [SECCOMP_GDB] = LIST(calls_gdb),
};

/* The ioctls rvisor makes after start-up: isatty and tcgetattr (TCGETS), tcsetattr
 * (TCSETS, TCSETSW, TCSETSF), FIONREAD and FIONBIO on sockets, a block device's size
 * (BLKGETSIZE64) when the API puts a disk on one, and the terminal's size (TIOCGWINSZ) when
 * it is resized. */
static const unsigned long allowed_ioctls[] = {TCGETS,   TCSETS,  TCSETSW,      TCSETSF,
					       FIONREAD, FIONBIO, BLKGETSIZE64, TIOCGWINSZ};

/* Argument checks, every field named (libseccomp's SCMP_An macros leave one out). */
static struct scmp_arg_cmp arg_eq(unsigned arg, uint64_t value)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_EQ, .datum_a = value, .datum_b = 0};
}

static struct scmp_arg_cmp arg_masked(unsigned arg, uint64_t mask, uint64_t value)
{
	return (struct scmp_arg_cmp){
	    .arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = value};
}

/* Add one call, at level 2 with the conditions on its arguments where there are any. */
static int add_call(scmp_filter_ctx ctx, int nr, bool args, bool writes)
{
	const uint32_t allow = SCMP_ACT_ALLOW;
	if (!args)
		return seccomp_rule_add(ctx, allow, nr, 0);
	if (nr == SCMP_SYS(mmap) || nr == SCMP_SYS(mprotect))
		/* No thread maps code after start-up: the translator's cache is mapped
		 * executable once, when the VM is built. */
		return seccomp_rule_add(ctx, allow, nr, 1, arg_masked(2, PROT_EXEC, 0));
	if (nr == SCMP_SYS(clone))
		/* Threads only: a new process or namespace is never made. */
		return seccomp_rule_add(ctx, allow, nr, 1,
					arg_masked(0, CLONE_THREAD, CLONE_THREAD));
	if (nr == SCMP_SYS(socket)) {
		int domains[] = {AF_UNIX, AF_INET, AF_INET6};
		for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
			int rc = seccomp_rule_add(ctx, allow, nr, 1, arg_eq(0, domains[i]));
			if (rc)
				return rc;
		}
		return 0;
	}
	if (nr == SCMP_SYS(ioctl)) {
		for (size_t i = 0; i < sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]); i++) {
			int rc = seccomp_rule_add(ctx, allow, nr, 1, arg_eq(1, allowed_ioctls[i]));
			if (rc)
				return rc;
		}
		return 0;
	}
	if (nr == SCMP_SYS(prctl)) {
		int opts[] = {PR_SET_NAME, PR_SET_NO_NEW_PRIVS, PR_GET_NAME};
		for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
			int rc = seccomp_rule_add(ctx, allow, nr, 1, arg_eq(0, opts[i]));
			if (rc)
				return rc;
		}
		return 0;
	}
	if (nr == SCMP_SYS(openat) && !writes)
		/* Read-only opens only: glibc's malloc reads a /proc file, libslirp
		 * /etc/resolv.conf. */
		return seccomp_rule_add(ctx, allow, nr, 1,
					arg_masked(2, O_ACCMODE | O_CREAT | O_TRUNC, 0));
	if (nr == SCMP_SYS(seccomp))
		return seccomp_rule_add(ctx, allow, nr, 1, arg_eq(0, SECCOMP_SET_MODE_FILTER));
	return seccomp_rule_add(ctx, allow, nr, 0);
}

static int add_list(scmp_filter_ctx ctx, const int *calls, size_t n, bool args, bool writes)
{
	for (size_t i = 0; i < n; i++) {
		int rc = add_call(ctx, calls[i], args, writes);
		if (rc && rc != -EEXIST)
			return rc;
	}
	return 0;
}

/* Compile kind's filter into a BPF program: through a memfd, as this libseccomp exports BPF
 * only to a file descriptor. */
static int build_prog(enum seccomp_kind kind, bool args, struct seccomp_prog *out)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	/* A call through another ABI (int 0x80's i386 table, x32) is never rvisor's: the whole
	 * process goes at once, as the handler could not name the call right. */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc)
		goto out;
	/* Only the control plane and the main thread open files for writing (snapshots,
	 * metrics, a disk put in place of another; the main thread's last lines). */
	bool writes = kind == SECCOMP_API || kind == SECCOMP_MAIN;
	rc = add_list(ctx, calls_base, sizeof(calls_base) / sizeof(calls_base[0]), args, writes);
	if (!rc)
		rc = add_list(ctx, kind_lists[kind].calls, kind_lists[kind].n, args, writes);
	/* Any thread may put the terminal back as the process ends for a forbidden call (the
	 * SIGSYS handler runs in the thread that made it): tcsetattr on stdin, which is glibc's
	 * TCGETS and then TCSETS. */
	static const unsigned long tty_ioctls[] = {TCGETS, TCSETS};
	for (size_t i = 0; !rc && i < sizeof(tty_ioctls) / sizeof(tty_ioctls[0]); i++) {
		rc = args ? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
					     arg_eq(0, STDIN_FILENO), arg_eq(1, tty_ioctls[i]))
			  : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 0);
		if (rc == -EEXIST)
			rc = 0;
	}
	/* The control plane attaches to a TAP interface again when a live migration failed
	 * after the source let it go (net_tap_hand_over). */
	if (!rc && kind == SECCOMP_API) {
		rc = args ? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					     arg_eq(1, TUNSETIFF))
			  : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 0);
		if (rc == -EEXIST)
			rc = 0;
	}
	/* clone3 passes its flags in memory, where no filter can look: answering ENOSYS makes
	 * glibc fall back to clone, whose flags the filter checks. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc)
		goto out;
	int fd = memfd_create("rvisor-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = seccomp_export_bpf(ctx, fd);
	off_t size = rc ? -1 : lseek(fd, 0, SEEK_END);
	if (!rc && (size <= 0 || size % sizeof(struct sock_filter) ||
		    size / sizeof(struct sock_filter) > BPF_MAXINSNS))
		rc = -E2BIG;
	if (!rc) {
		out->insns = malloc((size_t)size);
		if (!out->insns)
			rc = -ENOMEM;
		else if (pread(fd, out->insns, (size_t)size, 0) != size)
			rc = -EIO;
		else
			out->len = (unsigned short)(size / sizeof(struct sock_filter));
	}
	close(fd);
out:
	seccomp_release(ctx);
	return rc;
}

/* Async-signal-safe: append s to buf at *pos. */
static void put_str(char *buf, size_t len, size_t *pos, const char *s)
{
	while (*s && *pos + 1 < len)
		buf[(*pos)++] = *s++;
}

static void put_num(char *buf, size_t len, size_t *pos, long v)
{
	char digits[24];
	int n = 0;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
	do
		digits[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < (int)sizeof(digits));
	if (v < 0)
		put_str(buf, len, pos, "-");
	while (n && *pos + 1 < len)
		buf[(*pos)++] = digits[--n];
}

/* The terminal to put back before the process ends (seccomp_set_terminal). */
static int tty_fd = -1;
static struct termios tty_saved;

void seccomp_set_terminal(int fd, const struct termios *saved)
{
	if (saved)
		tty_saved = *saved;
	tty_fd = saved ? fd : -1;
}

static void on_sigsys(int sig, siginfo_t *info, void *uctx)
{
	(void)sig;
	(void)uctx;
	char line[200];
	size_t pos = 0;
	int nr = info->si_syscall;
	const char *name =
	    nr >= 0 && nr < SECCOMP_MAX_NR && seccomp_names[nr] ? seccomp_names[nr] : "?";
	if (info->si_code != SECCOMP_SI_CODE) {
		/* Not from a filter (kill -SYS): the default action, a core dump. */
		signal(SIGSYS, SIG_DFL);
		raise(SIGSYS);
		return;
	}
	put_str(line, sizeof(line), &pos, "rvisor: seccomp: the ");
	put_str(line, sizeof(line), &pos,
		seccomp_kind_name((enum seccomp_kind)seccomp_thread_kind));
	put_str(line, sizeof(line), &pos, " thread made a forbidden system call: ");
	put_str(line, sizeof(line), &pos, name);
	put_str(line, sizeof(line), &pos, " (");
	put_num(line, sizeof(line), &pos, nr);
	put_str(line, sizeof(line), &pos, "); ending the process with status ");
	put_num(line, sizeof(line), &pos, SECCOMP_EXIT_STATUS);
	put_str(line, sizeof(line), &pos, "\n");
	if (tty_fd >= 0)
		tcsetattr(tty_fd, TCSANOW, &tty_saved); /* async-signal-safe */
	ssize_t w = write(STDERR_FILENO, line, pos);
	(void)w;
	_exit(SECCOMP_EXIT_STATUS);
}

int seccomp_setup(int level, char *err, size_t errlen)
{
	if (level < SECCOMP_LEVEL_NONE || level > SECCOMP_LEVEL_ARGS) {
		snprintf(err, errlen, "seccomp level %d is not 0, 1 or 2", level);
		return -EINVAL;
	}
	if (level == SECCOMP_LEVEL_NONE) {
		seccomp_cur_level = level;
		return 0;
	}
	for (int nr = 0; nr < SECCOMP_MAX_NR; nr++)
		seccomp_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	for (int k = 0; k < SECCOMP_KINDS; k++) {
		int rc = build_prog((enum seccomp_kind)k, level == SECCOMP_LEVEL_ARGS,
				    &seccomp_progs[k]);
		if (rc) {
			snprintf(err, errlen,
				 "cannot build the seccomp filter of the %s thread: %s",
				 kind_names[k], strerror(-rc));
			return rc;
		}
	}
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL)) {
		int rc = -errno;
		snprintf(err, errlen, "cannot handle SIGSYS: %s", strerror(errno));
		return rc;
	}
	seccomp_cur_level = level;
	return 0;
}

void seccomp_enter(enum seccomp_kind kind)
{
	seccomp_thread_kind = (int)kind;
	if (kind != SECCOMP_MAIN) {
		char name[16];
		snprintf(name, sizeof(name), "rvisor-%s", seccomp_kind_name(kind));
		pthread_setname_np(pthread_self(), name);
	}
	if (seccomp_cur_level == SECCOMP_LEVEL_NONE) {
		seccomp_test_hook(kind);
		return;
	}
	/* A thread that blocks every signal must still take SIGSYS, or the kernel kills the
	 * process without the handler's line. */
	sigset_t sys;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	struct sock_fprog prog = {.len = seccomp_progs[kind].len,
				  .filter = seccomp_progs[kind].insns};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		char line[160];
		int n =
		    snprintf(line, sizeof(line),
			     "rvisor: error: cannot install the seccomp filter of the %s thread: "
			     "%s (--no-seccomp runs without)\n",
			     seccomp_kind_name(kind), strerror(errno));
		ssize_t w = write(STDERR_FILENO, line, (size_t)n);
		(void)w;
		_exit(1);
	}
	seccomp_test_hook(kind);
}
