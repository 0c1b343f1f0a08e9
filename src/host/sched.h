/* Host CPU placement and share of a VM process: CPU affinity, and a CPU weight applied
 * through a cgroup v2 child group where the host delegates the cpu controller, otherwise
 * through the nice value. Called before the vCPU threads start, so they inherit it. */
#ifndef RVISOR_HOST_SCHED_H
#define RVISOR_HOST_SCHED_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

#define SCHED_WEIGHT_MIN     1
#define SCHED_WEIGHT_MAX     10000
#define SCHED_WEIGHT_DEFAULT 100 /* cgroup v2 cpu.weight default, nice 0 */

/* Parse a CPU list such as "0-3,6" into *set (cleared first). Returns 0, or -EINVAL for a
 * malformed list, a CPU number >= CPU_SETSIZE or an empty list. */
int sched_parse_cpulist(const char *s, cpu_set_t *set);

/* The nice value (-20..19) whose scheduler weight is closest to cgroup v2 cpu.weight w
 * (1..10000; 100 is nice 0, each nice step is a factor of about 1.25). */
int sched_weight_to_nice(unsigned w);

/* How a weight was applied, for cleanup. */
struct sched_group {
	char path[512]; /* the cgroup v2 directory created, or "" */
	char parent_procs[512];
};

/* Restrict the calling thread, and every thread it creates afterwards, to the CPUs in set.
 * Returns 0 or -errno (e.g. -EINVAL when no CPU of the set is available). */
int sched_set_affinity(const cpu_set_t *set);

/* Give the process CPU weight w: moves it into a new cgroup v2 group "rvisor-PID" under its
 * own group with cpu.weight = w when the host allows it; otherwise sets the nice value of
 * the calling thread (inherited by threads created later). Returns 0 or -errno with a
 * sentence in err. */
int sched_set_weight(unsigned w, struct sched_group *g, char *err, size_t errlen);

/* Leave and remove the cgroup made by sched_set_weight, if any. */
void sched_release(struct sched_group *g);

#endif
