/* CPU affinity and weight of a VM process (see sched.h). The weight uses cgroup v2's
 * cpu.weight (Documentation/admin-guide/cgroup-v2.rst) when the host has a pure v2
 * hierarchy that lets us create a child group; otherwise the nice value, which the
 * scheduler turns into the same kind of share. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/sched.h"

int sched_parse_cpulist(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		char *end;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		unsigned long lo = strtoul(s, &end, 10), hi = lo;
		if (*end == '-') {
			s = end + 1;
			if (*s < '0' || *s > '9')
				return -EINVAL;
			hi = strtoul(s, &end, 10);
		}
		if (lo > hi || hi >= CPU_SETSIZE)
			return -EINVAL;
		for (unsigned long c = lo; c <= hi; c++)
			CPU_SET(c, set);
		s = end;
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			return -EINVAL;
	}
	return CPU_COUNT(set) ? 0 : -EINVAL;
}

int sched_weight_to_nice(unsigned w)
{
	if (w < SCHED_WEIGHT_MIN)
		w = SCHED_WEIGHT_MIN;
	if (w > SCHED_WEIGHT_MAX)
		w = SCHED_WEIGHT_MAX;
	/* The kernel's weight table steps by ~1.25 per nice level (sched_prio_to_weight). */
	long n = lround(-log((double)w / SCHED_WEIGHT_DEFAULT) / log(1.25));
	return n < -20 ? -20 : n > 19 ? 19 : (int)n;
}

int sched_set_affinity(const cpu_set_t *set)
{
	return sched_setaffinity(0, sizeof(*set), set) ? -errno : 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int rc = n == (ssize_t)strlen(text) ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}

/* Our own cgroup v2 directory, when the host runs a pure v2 hierarchy with the cpu
 * controller available. */
static bool own_cgroup_v2(char *dir, size_t len)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/sys/fs/cgroup/cgroup.controllers", "re");
	if (!f)
		return false;
	if (fgets(line, sizeof(line), f) && strstr(line, "cpu"))
		found = true;
	fclose(f);
	if (!found || !(f = fopen("/proc/self/cgroup", "re")))
		return false;
	found = false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		found = snprintf(dir, len, "/sys/fs/cgroup%s", line + 3) < (int)len;
	}
	fclose(f);
	return found;
}

static int try_cgroup(unsigned w, struct sched_group *g)
{
	char dir[256], file[600], text[32];
	int rc;
	if (!own_cgroup_v2(dir, sizeof(dir)))
		return -ENOTSUP;
	snprintf(g->path, sizeof(g->path), "%s/rvisor-%d", dir, (int)getpid());
	snprintf(g->parent_procs, sizeof(g->parent_procs), "%s/cgroup.procs", dir);
	if (mkdir(g->path, 0755)) {
		rc = -errno;
		g->path[0] = 0;
		return rc;
	}
	snprintf(file, sizeof(file), "%s/cpu.weight", g->path);
	snprintf(text, sizeof(text), "%u", w);
	if (!(rc = write_file(file, text))) {
		snprintf(file, sizeof(file), "%s/cgroup.procs", g->path);
		snprintf(text, sizeof(text), "%d", (int)getpid());
		rc = write_file(file, text);
	}
	if (rc) {
		rmdir(g->path);
		g->path[0] = 0;
	}
	return rc;
}

int sched_set_weight(unsigned w, struct sched_group *g, char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	if (w < SCHED_WEIGHT_MIN || w > SCHED_WEIGHT_MAX) {
		snprintf(err, errlen, "--cpu-weight %u is out of range: use %d to %d", w,
			 SCHED_WEIGHT_MIN, SCHED_WEIGHT_MAX);
		return -EINVAL;
	}
	if (!try_cgroup(w, g))
		return 0;
	int nice = sched_weight_to_nice(w);
	if (setpriority(PRIO_PROCESS, 0, nice)) {
		int rc = -errno;
		snprintf(err, errlen,
			 "--cpu-weight %u needs nice %d, which this user may not set (%s): use a "
			 "weight of at most %d, or run with CAP_SYS_NICE",
			 w, nice, strerror(-rc), SCHED_WEIGHT_DEFAULT);
		return rc;
	}
	return 0;
}

void sched_release(struct sched_group *g)
{
	if (!g->path[0])
		return;
	char text[32];
	snprintf(text, sizeof(text), "%d", (int)getpid());
	if (!write_file(g->parent_procs, text))
		rmdir(g->path);
	g->path[0] = 0;
}
