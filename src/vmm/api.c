/* Firecracker's API on a Unix socket and its configuration file (see api.h). Requests are
 * served on the HTTP thread (libmicrohttpd, driven by a thread of ours so that it runs under
 * the control plane's seccomp filter); the main thread waits for InstanceStart, creates the
 * VM and runs it. Every body is parsed with jansson and checked field by field: a wrong type,
 * a missing required field or an unknown one is a 400 with a fault_message naming it, as is
 * a request in the wrong state ("not supported before/after starting the microVM"). */
#include "vmm/api.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <jansson.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cpu/isa.h"
#include "host/chr.h"
#include "host/landlock.h"
#include "host/seccomp.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

#define BODY_MAX        (64 * 1024) /* bytes of a request body */
#define DEFAULT_ARGS    "console=ttyS0 reboot=k panic=1"
#define STR_MAX         4096
#define API_IDLE_S      30  /* seconds a client may stay silent before it is closed */
#define API_MAX_CLIENTS 256 /* connections open at once */
#define API_VERSION     "0.1"
#define NOT_STARTED     "The requested operation is not supported before starting the microVM."
#define AFTER_STARTED   "The requested operation is not supported after starting the microVM."

enum api_state { API_CONFIGURING, API_STARTING, API_RUNNING, API_EXITED };

struct api_drive {
	char id[64];
	char path[STR_MAX];
	bool root, readonly;
	struct rate_limiter_config limiter;
	unsigned vm_index; /* its place in the VM's drives (the root first) */
};

struct api_net {
	struct rate_limiter_config rx, tx;
	char id[64];
	char tap[16];      /* host_dev_name, or "" for user-mode networking (the extension) */
	char mac[18];      /* guest_mac, or "" */
	char hostfwd[256]; /* the extension's forwarding rule, or "" */
};

struct api {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum api_state state;
	bool paused;
	/* The configuration, as the API set it. */
	char kernel[STR_MAX], initrd[STR_MAX], boot_args[STR_MAX];
	bool have_boot_source;
	unsigned vcpus;
	unsigned mem_mib;
	bool track_dirty_pages;
	char cpu[16]; /* rvisor_cpu: a --cpu model, or "" for the default */
	struct api_drive drives[VM_MAX_DRIVES];
	unsigned ndrives;
	struct api_net nets[VM_MAX_NETS];
	unsigned nnets;
	/* The vsock (PUT /vsock). */
	bool have_vsock;
	unsigned vsock_cid;
	char vsock_uds[STR_MAX], vsock_id[64];
	/* The balloon (PUT /balloon). */
	bool have_balloon, deflate_on_oom;
	unsigned balloon_mib, stats_interval_s;
	/* Metrics and logger (PUT /metrics, /logger); the counters since the last flush. */
	int metrics_fd, log_fd;
	unsigned log_level; /* 0 off, 1 error, 2 warning, 3 info, 4 debug, 5 trace */
	bool log_show_level, log_show_origin;
	uint64_t requests, bad_requests; /* API requests since the last flush */
	struct virtio_blk_stats blk_seen[VM_MAX_DRIVES];
	struct virtio_net_stats net_seen[VM_MAX_NETS];
	uint64_t instret_seen[VM_MAX_HARTS];
	struct hart_exits exits_seen[VM_MAX_HARTS];
	pthread_t metrics_thread;
	bool metrics_thread_up, stopping;
	/* InstanceStart's outcome, from the main thread (api_main's, the only one that can
	 * start a guest). */
	bool can_start;
	/* PUT /snapshot/load: the main thread restores instead of booting. */
	char load_state[STR_MAX], load_mem[STR_MAX];
	bool load_resume;
	bool load_track; /* the restored VM keeps a dirty log (track_dirty_pages) */
	/* PUT /migration/send runs on a thread of its own, so that GET /migration reports on
	 * it; its HTTP request waits, suspended, for the answer. */
	struct migrate_progress mig;
	pthread_t mig_thread;
	bool mig_thread_up;    /* started and not yet joined */
	bool mig_active;       /* running: other changes to the VM are refused */
	bool mig_done;         /* ended: the answer below waits for its request */
	bool mig_ok;           /* it ended with the destination running the guest */
	char mig_url[STR_MAX]; /* destination_url */
	uint64_t mig_bw;       /* max_bandwidth_mib, in bytes per second (0: no cap) */
	uint64_t mig_end_ns;   /* CLOCK_MONOTONIC when it ended */
	struct migrate_stats mig_stats;
	char mig_err[512];
	unsigned mig_status; /* the answer to PUT /migration/send */
	char *mig_body;
	struct MHD_Connection *mig_conn;  /* that request, once suspended to wait */
	struct MHD_Connection *exit_conn; /* the VM migrated: the process ends once the answer
					   * on this connection went out */
	int wake_fd; /* the HTTP thread's wake-up (an eventfd), once it runs; else -1 */
	/* PUT /migration/receive: the socket the main thread waits at for the source. */
	int recv_lfd;
	char recv_url[STR_MAX];
	struct migrate_in recv_in;
	struct vm_snapshot snap;
	bool snap_open;
	pthread_t main_thread; /* waits for InstanceStart in sigtimedwait: SIGUSR1 wakes it */
	bool start_done;
	char start_err[512];
	struct vm *vm;
};

/* ---- responses ---- */

struct reply {
	unsigned status;
	char *body; /* JSON, malloc'd; NULL for none (204) */
};

/* Replace each byte of s that is not part of a well-formed UTF-8 sequence (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF) with '?': a path or field may carry
 * any bytes, and JSON strings are UTF-8. */
static void utf8_clean(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p;) {
		unsigned n = *p < 0x80                  ? 1
			     : *p >= 0xC2 && *p <= 0xDF ? 2
			     : *p >= 0xE0 && *p <= 0xEF ? 3
			     : *p >= 0xF0 && *p <= 0xF4 ? 4
							: 0;
		uint32_t cp = n == 2 ? *p & 0x1F : n == 3 ? *p & 0x0F : *p & 0x07;
		for (unsigned i = 1; i < n; i++) {
			if ((p[i] & 0xC0) != 0x80) {
				n = 0;
				break;
			}
			cp = cp << 6 | (p[i] & 0x3F);
		}
		if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
			n = 0;
		if (!n) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

static struct reply fault(unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_clean(msg);
	json_t *o = json_pack("{s:s}", "fault_message", msg);
	struct reply r = {status, json_dumps(o, JSON_COMPACT)};
	json_decref(o);
	return r;
}

static struct reply json_reply(json_t *o)
{
	struct reply r = {200, json_dumps(o, JSON_COMPACT)};
	json_decref(o);
	return r;
}

static const struct reply NO_CONTENT = {204, NULL};

/* ---- field checks: unknown fields are refused, as Firecracker's deny_unknown_fields ---- */

static bool only_fields(json_t *o, const char *const *known, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		bool ok = false;
		for (const char *const *k = known; *k && !ok; k++)
			ok = !strcmp(key, *k);
		if (!ok) {
			snprintf(err, errlen, "unknown field `%s`", key);
			return false;
		}
	}
	return true;
}

/* A string field into out (outlen bytes): 1 if there, 0 if absent and optional, -1 on an
 * error (message in err). */
static int get_str(json_t *o, const char *key, bool required, char *out, size_t outlen, char *err,
		   size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (required)
			snprintf(err, errlen, "missing field `%s`", key);
		return required ? -1 : 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= outlen ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "field `%s` must be a string shorter than %zu bytes", key,
			 outlen);
		return -1;
	}
	strcpy(out, json_string_value(v));
	return 1;
}

static int get_bool(json_t *o, const char *key, bool required, bool *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (required)
			snprintf(err, errlen, "missing field `%s`", key);
		return required ? -1 : 0;
	}
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "field `%s` must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 1;
}

static int get_uint(json_t *o, const char *key, bool required, unsigned lo, unsigned hi,
		    unsigned *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (required)
			snprintf(err, errlen, "missing field `%s`", key);
		return required ? -1 : 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(err, errlen, "field `%s` must be an integer from %u to %u", key, lo, hi);
		return -1;
	}
	*out = (unsigned)json_integer_value(v);
	return 1;
}

/* A Firecracker RateLimiter object: {"bandwidth": TokenBucket, "ops": TokenBucket}, each
 * {"size", "one_time_burst", "refill_time" (ms)}. Returns 0, or -1 with err. */
static int get_rate_limiter(json_t *o, struct rate_limiter_config *out, char *err, size_t errlen)
{
	static const char *const known[] = {"bandwidth", "ops", NULL};
	static const char *const bknown[] = {"size", "one_time_burst", "refill_time", NULL};
	memset(out, 0, sizeof(*out));
	if (!json_is_object(o)) {
		snprintf(err, errlen, "rate_limiter must be an object");
		return -1;
	}
	if (!only_fields(o, known, err, errlen))
		return -1;
	for (unsigned k = 0; k < 2; k++) {
		json_t *b = json_object_get(o, k ? "ops" : "bandwidth");
		struct token_bucket_config *c = k ? &out->ops : &out->bandwidth;
		if (!b || json_is_null(b))
			continue;
		unsigned size, burst = 0, refill;
		if (!json_is_object(b) || !only_fields(b, bknown, err, errlen) ||
		    get_uint(b, "size", true, 1, UINT32_MAX, &size, err, errlen) < 0 ||
		    get_uint(b, "one_time_burst", false, 0, UINT32_MAX, &burst, err, errlen) < 0 ||
		    get_uint(b, "refill_time", true, 1, UINT32_MAX, &refill, err, errlen) < 0) {
			if (!json_is_object(b))
				snprintf(err, errlen, "%s must be an object",
					 k ? "ops" : "bandwidth");
			return -1;
		}
		*c = (struct token_bucket_config){size, burst, refill};
	}
	return 0;
}

/* ---- the configuration (pre-boot; also the configuration file's sections) ---- */

/* Open path with flags and close it again: 0, or -1 with errno (unlike access(2), this sees
 * what rvisor itself may open, Landlock's rules included). */
static int try_open(const char *path, int flags)
{
	int fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static struct reply put_boot_source(struct api *a, json_t *b)
{
	static const char *const known[] = {"kernel_image_path", "boot_args", "initrd_path", NULL};
	char err[256], kernel[STR_MAX], initrd[STR_MAX] = "", args[STR_MAX] = "";
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "kernel_image_path", true, kernel, sizeof(kernel), err, sizeof(err)) < 0 ||
	    get_str(b, "initrd_path", false, initrd, sizeof(initrd), err, sizeof(err)) < 0 ||
	    get_str(b, "boot_args", false, args, sizeof(args), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	if (try_open(kernel, O_RDONLY))
		return fault(400, "The kernel file cannot be opened: %s: %s%s", kernel,
			     strerror(errno), landlock_hint(errno));
	if (*initrd && try_open(initrd, O_RDONLY))
		return fault(400, "The initrd file cannot be opened: %s: %s%s", initrd,
			     strerror(errno), landlock_hint(errno));
	strcpy(a->kernel, kernel);
	strcpy(a->initrd, initrd);
	strcpy(a->boot_args, *args ? args : DEFAULT_ARGS);
	a->have_boot_source = true;
	return NO_CONTENT;
}

static struct reply put_machine_config(struct api *a, json_t *b, bool patch)
{
	static const char *const known[] = {
	    "vcpu_count",   "mem_size_mib", "smt", "track_dirty_pages",
	    "cpu_template", "rvisor_cpu",   NULL};
	char err[256], cpu[sizeof(a->cpu)];
	snprintf(cpu, sizeof(cpu), "%s", a->cpu);
	unsigned vcpus = a->vcpus, mem = a->mem_mib;
	bool smt = false, dirty = a->track_dirty_pages;
	json_t *tmpl = json_object_get(b, "cpu_template");
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_uint(b, "vcpu_count", !patch, 1, VM_MAX_HARTS, &vcpus, err, sizeof(err)) < 0 ||
	    get_uint(b, "mem_size_mib", !patch, 16, 1u << 20, &mem, err, sizeof(err)) < 0 ||
	    get_bool(b, "smt", false, &smt, err, sizeof(err)) < 0 ||
	    get_bool(b, "track_dirty_pages", false, &dirty, err, sizeof(err)) < 0 ||
	    get_str(b, "rvisor_cpu", false, cpu, sizeof(cpu), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	if (*cpu && !isa_cpu_find(cpu))
		return fault(400, "rvisor_cpu '%s' is not one of: %s", cpu, ISA_CPU_CHOICES);
	if (smt)
		return fault(400, "smt is not supported: RISC-V harts have no SMT siblings");
	if (tmpl && !json_is_null(tmpl) &&
	    !(json_is_string(tmpl) && !strcmp(json_string_value(tmpl), "None")))
		return fault(400, "cpu_template: only \"None\" is supported");
	if (mem % 2)
		return fault(400, "mem_size_mib must be a multiple of 2 (guest RAM comes in 2 MiB "
				  "pages)");
	a->vcpus = vcpus;
	a->mem_mib = mem;
	a->track_dirty_pages = dirty;
	snprintf(a->cpu, sizeof(a->cpu), "%s", cpu);
	return NO_CONTENT;
}

static struct reply put_drive(struct api *a, const char *id, json_t *b)
{
	static const char *const known[] = {"drive_id",     "path_on_host", "is_root_device",
					    "is_read_only", "cache_type",   "io_engine",
					    "partuuid",     "rate_limiter", NULL};
	char err[256], drive_id[64], path[STR_MAX], cache[32] = "Unsafe", engine[32] = "Sync";
	bool root = false, ro = false;
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "drive_id", true, drive_id, sizeof(drive_id), err, sizeof(err)) < 0 ||
	    get_str(b, "path_on_host", true, path, sizeof(path), err, sizeof(err)) < 0 ||
	    get_bool(b, "is_root_device", true, &root, err, sizeof(err)) < 0 ||
	    get_bool(b, "is_read_only", false, &ro, err, sizeof(err)) < 0 ||
	    get_str(b, "cache_type", false, cache, sizeof(cache), err, sizeof(err)) < 0 ||
	    get_str(b, "io_engine", false, engine, sizeof(engine), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	if (strcmp(drive_id, id))
		return fault(400,
			     "The id from the path [%s] does not match the id from the body [%s]",
			     id, drive_id);
	if (strcmp(cache, "Unsafe") && strcmp(cache, "Writeback"))
		return fault(400, "cache_type must be Unsafe or Writeback");
	if (strcmp(engine, "Sync"))
		return fault(400, "io_engine: only Sync is supported");
	struct rate_limiter_config limiter = {0};
	json_t *rl = json_object_get(b, "rate_limiter");
	if (rl && !json_is_null(rl) && get_rate_limiter(rl, &limiter, err, sizeof(err)))
		return fault(400, "%s", err);
	if (json_object_get(b, "partuuid"))
		return fault(400, "partuuid is not supported: the root device is /dev/vda");
	if (try_open(path, ro ? O_RDONLY : O_RDWR))
		return fault(400, "Unable to open the drive's backing file %s: %s%s", path,
			     strerror(errno), landlock_hint(errno));
	unsigned k = 0;
	while (k < a->ndrives && strcmp(a->drives[k].id, id))
		k++;
	for (unsigned i = 0; i < a->ndrives; i++)
		if (root && i != k && a->drives[i].root)
			return fault(400, "A root block device already exists!");
	if (k == a->ndrives && a->ndrives == VM_MAX_DRIVES)
		return fault(400, "at most %d drives", VM_MAX_DRIVES);
	struct api_drive *d = &a->drives[k];
	strcpy(d->id, id);
	strcpy(d->path, path);
	d->root = root;
	d->readonly = ro;
	d->limiter = limiter;
	if (k == a->ndrives)
		a->ndrives++;
	return NO_CONTENT;
}

static struct reply put_net(struct api *a, const char *id, json_t *b)
{
	static const char *const known[] = {
	    "iface_id",        "host_dev_name",          "guest_mac", "rx_rate_limiter",
	    "tx_rate_limiter", "rvisor_user_networking", NULL};
	char err[256], iface[64];
	struct api_net n = {0};
	json_t *user = json_object_get(b, "rvisor_user_networking");
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "iface_id", true, iface, sizeof(iface), err, sizeof(err)) < 0 ||
	    get_str(b, "host_dev_name", !user, n.tap, sizeof(n.tap), err, sizeof(err)) < 0 ||
	    get_str(b, "guest_mac", false, n.mac, sizeof(n.mac), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	if (strcmp(iface, id))
		return fault(400,
			     "The id from the path [%s] does not match the id from the body [%s]",
			     id, iface);
	if (user && *n.tap)
		return fault(400, "give host_dev_name (a TAP device) or rvisor_user_networking, "
				  "not both");
	if (user) {
		static const char *const uknown[] = {"hostfwd", NULL};
		if (!json_is_object(user) || !only_fields(user, uknown, err, sizeof(err)) ||
		    get_str(user, "hostfwd", false, n.hostfwd, sizeof(n.hostfwd), err,
			    sizeof(err)) < 0)
			return fault(400, "rvisor_user_networking: %s",
				     json_is_object(user) ? err : "must be an object");
	}
	json_t *rx = json_object_get(b, "rx_rate_limiter"),
	       *tx = json_object_get(b, "tx_rate_limiter");
	if ((rx && !json_is_null(rx) && get_rate_limiter(rx, &n.rx, err, sizeof(err))) ||
	    (tx && !json_is_null(tx) && get_rate_limiter(tx, &n.tx, err, sizeof(err))))
		return fault(400, "%s", err);
	strcpy(n.id, id);
	unsigned k = 0;
	while (k < a->nnets && strcmp(a->nets[k].id, id))
		k++;
	if (k == a->nnets && a->nnets == VM_MAX_NETS)
		return fault(400, "at most %d network interfaces", VM_MAX_NETS);
	a->nets[k] = n;
	if (k == a->nnets)
		a->nnets++;
	return NO_CONTENT;
}

/* PATCH /drives/{id} after the start: a new medium (path_on_host), a new rate limiter. */
static struct reply patch_drive(struct api *a, const char *id, json_t *b)
{
	static const char *const known[] = {"drive_id", "path_on_host", "rate_limiter", NULL};
	char err[256], drive_id[64];
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "drive_id", true, drive_id, sizeof(drive_id), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	if (strcmp(drive_id, id))
		return fault(400,
			     "The id from the path [%s] does not match the id from the body [%s]",
			     id, drive_id);
	unsigned k = 0;
	while (k < a->ndrives && strcmp(a->drives[k].id, id))
		k++;
	if (k == a->ndrives)
		return fault(400, "no drive `%s`", id);
	char path[STR_MAX];
	int has_path = get_str(b, "path_on_host", false, path, sizeof(path), err, sizeof(err));
	if (has_path < 0)
		return fault(400, "%s", err);
	json_t *rl = json_object_get(b, "rate_limiter");
	struct rate_limiter_config cfg;
	bool new_limit = rl && !json_is_null(rl);
	if (new_limit && get_rate_limiter(rl, &cfg, err, sizeof(err)))
		return fault(400, "%s", err);
	if (has_path > 0 && strcmp(path, a->drives[k].path)) {
		/* A new medium: the guest's driver is told its size (a config change). */
		if (a->drives[k].root)
			return fault(400, "the root device's path_on_host cannot change while the "
					  "guest runs on it");
		if (vm_drive_set_path(a->vm, a->drives[k].vm_index, path, err, sizeof(err)))
			return fault(400, "%s", err);
		strcpy(a->drives[k].path, path);
	}
	if (new_limit) {
		vm_drive_set_rate_limiter(a->vm, a->drives[k].vm_index, &cfg);
		a->drives[k].limiter = cfg;
	}
	return NO_CONTENT;
}

static void log_line(struct api *a, unsigned level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- vsock ---- */

static struct reply put_vsock(struct api *a, json_t *b)
{
	static const char *const known[] = {"guest_cid", "uds_path", "vsock_id", NULL};
	char err[256], uds[STR_MAX], id[64] = "vsock";
	unsigned cid;
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_uint(b, "guest_cid", true, 3, UINT32_MAX, &cid, err, sizeof(err)) < 0 ||
	    get_str(b, "uds_path", true, uds, sizeof(uds), err, sizeof(err)) < 0 ||
	    get_str(b, "vsock_id", false, id, sizeof(id), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	a->have_vsock = true;
	a->vsock_cid = cid;
	strcpy(a->vsock_uds, uds);
	strcpy(a->vsock_id, id);
	return NO_CONTENT;
}

/* ---- the balloon ---- */

static struct reply put_balloon(struct api *a, json_t *b, bool patch)
{
	static const char *const known[] = {"amount_mib", "deflate_on_oom",
					    "stats_polling_interval_s", NULL};
	char err[256];
	unsigned mib = a->balloon_mib, interval = a->stats_interval_s;
	bool oom = a->deflate_on_oom;
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_uint(b, "amount_mib", !patch, 0, 1u << 20, &mib, err, sizeof(err)) < 0 ||
	    get_bool(b, "deflate_on_oom", !patch, &oom, err, sizeof(err)) < 0 ||
	    get_uint(b, "stats_polling_interval_s", false, 0, 86400, &interval, err, sizeof(err)) <
		0)
		return fault(400, "%s", err);
	if (patch) { /* after the start: only the target */
		if (json_object_size(b) != 1 || !json_object_get(b, "amount_mib"))
			return fault(400, "only amount_mib can change after the start");
		struct virtio_balloon *vb = a->vm ? vm_balloon(a->vm) : NULL;
		if (!vb)
			return fault(400, "Invalid request method and/or path: no balloon device.");
		if (mib > a->mem_mib)
			return fault(400, "amount_mib %u is more than the guest's %u MiB", mib,
				     a->mem_mib);
		virtio_balloon_set_target(vb, mib);
		a->balloon_mib = mib;
		log_line(a, 3, "The balloon's target is %u MiB.", mib);
		return NO_CONTENT;
	}
	if (mib > a->mem_mib)
		return fault(400, "amount_mib %u is more than the guest's %u MiB", mib, a->mem_mib);
	a->have_balloon = true;
	a->balloon_mib = mib;
	a->deflate_on_oom = oom;
	a->stats_interval_s = interval;
	return NO_CONTENT;
}

static json_t *balloon_json(const struct api *a)
{
	return json_pack("{s:i,s:b,s:i}", "amount_mib", a->balloon_mib, "deflate_on_oom",
			 a->deflate_on_oom, "stats_polling_interval_s", a->stats_interval_s);
}

/* GET /balloon/statistics: fresh figures from the guest (waiting up to 1 s for them). Lock
 * held; dropped while waiting. */
static struct reply balloon_statistics(struct api *a)
{
	struct virtio_balloon *vb = a->vm ? vm_balloon(a->vm) : NULL;
	if (!vb)
		return fault(400, "Invalid request method and/or path: no balloon device.");
	if (!a->stats_interval_s)
		return fault(400, "Statistics are not enabled: set stats_polling_interval_s with "
				  "PUT /balloon before the start");
	struct virtio_balloon_stats st;
	uint64_t before = virtio_balloon_stats(vb, true, &st), now = before;
	for (int i = 0; i < 100 && now == before; i++) {
		pthread_mutex_unlock(&a->lock);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&a->lock);
		now = virtio_balloon_stats(vb, false, &st);
	}
	uint32_t target, actual;
	uint64_t returned;
	virtio_balloon_size(vb, &target, &actual, &returned);
	json_t *o = json_pack("{s:i,s:i,s:i,s:i}", "target_pages", target * 256, "actual_pages",
			      actual * 256, "target_mib", target, "actual_mib", actual);
	static const char *const names[] = {
	    "swap_in",          "swap_out",    "major_faults",
	    "minor_faults",     "free_memory", "total_memory",
	    "available_memory", "disk_caches", "hugetlb_allocations",
	    "hugetlb_failures"};
	for (unsigned tag = 0; tag < sizeof(names) / sizeof(names[0]); tag++)
		if (st.have[tag])
			json_object_set_new(o, names[tag], json_integer((json_int_t)st.value[tag]));
	return json_reply(o);
}

/* PATCH /network-interfaces/{id} after the start: new rate limiters (an absent one stays). */
static struct reply patch_net(struct api *a, const char *id, json_t *b)
{
	static const char *const known[] = {"iface_id", "rx_rate_limiter", "tx_rate_limiter", NULL};
	char err[256], iface[64];
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "iface_id", true, iface, sizeof(iface), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	if (strcmp(iface, id))
		return fault(400,
			     "The id from the path [%s] does not match the id from the body [%s]",
			     id, iface);
	unsigned k = 0;
	while (k < a->nnets && strcmp(a->nets[k].id, id))
		k++;
	if (k == a->nnets)
		return fault(400, "no network interface `%s`", id);
	struct rate_limiter_config rx = a->nets[k].rx, tx = a->nets[k].tx;
	json_t *r = json_object_get(b, "rx_rate_limiter"),
	       *t = json_object_get(b, "tx_rate_limiter");
	if ((r && !json_is_null(r) && get_rate_limiter(r, &rx, err, sizeof(err))) ||
	    (t && !json_is_null(t) && get_rate_limiter(t, &tx, err, sizeof(err))))
		return fault(400, "%s", err);
	if (vm_net_set_rate_limiters(a->vm, k, &rx, &tx))
		return fault(400, "cannot set the rate limiters of `%s`", id);
	a->nets[k].rx = rx;
	a->nets[k].tx = tx;
	return NO_CONTENT;
}

/* ---- metrics and logger ---- */

static void log_line(struct api *a, unsigned level, const char *fmt, ...)
{
	static const char *const names[] = {"", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
	if (a->log_fd < 0 || level > a->log_level)
		return;
	char msg[1200], line[1400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
			 "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ [anonymous-instance%s%s%s] %s\n",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec, a->log_show_level ? ":" : "",
			 a->log_show_level ? names[level] : "", a->log_show_origin ? ":api.c" : "",
			 msg);
	if (n > 0 &&
	    write(a->log_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0) {
		/* A full FIFO or a gone reader: the line is dropped, the VM goes on. */
	}
}

static json_t *blk_json(const struct virtio_blk_stats *s)
{
	return json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "read_count", (json_int_t)s->reads, "write_count",
	    (json_int_t)s->writes, "read_bytes", (json_int_t)s->read_bytes, "write_bytes",
	    (json_int_t)s->write_bytes, "flush_count", (json_int_t)s->flushes, "execute_fails",
	    (json_int_t)s->errors, "rate_limiter_throttled_events", (json_int_t)s->throttled);
}

static json_t *net_json(const struct virtio_net_stats *s)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "rx_packets_count",
			 (json_int_t)s->rx_packets, "rx_bytes_count", (json_int_t)s->rx_bytes,
			 "rx_fails", (json_int_t)(s->rx_errors + s->rx_dropped), "tx_packets_count",
			 (json_int_t)s->tx_packets, "tx_bytes_count", (json_int_t)s->tx_bytes,
			 "tx_fails", (json_int_t)(s->tx_errors + s->tx_dropped),
			 "rx_rate_limiter_throttled", (json_int_t)s->rx_throttled,
			 "tx_rate_limiter_throttled", (json_int_t)s->tx_throttled);
}

/* Write one metrics line: the counters since the last one (Firecracker's are deltas too),
 * all devices summed under "block" and "net" and each under "block_ID" / "net_ID". Lock
 * held. Returns 0, or -1 when there is nowhere to write. */
static int flush_metrics(struct api *a)
{
	if (a->metrics_fd < 0)
		return -1;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_t *m =
	    json_pack("{s:I,s:{s:I,s:I}}", "utc_timestamp_ms",
		      (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "api_server", "requests",
		      (json_int_t)a->requests, "bad_requests", (json_int_t)a->bad_requests);
	a->requests = a->bad_requests = 0;
	struct virtio_blk_stats bsum = {0};
	struct virtio_net_stats nsum = {0};
	for (unsigned i = 0; a->vm && i < a->ndrives; i++) {
		struct virtio_blk_stats now, d;
		if (!vm_drive_stats(a->vm, a->drives[i].vm_index, &now))
			continue;
		uint64_t *n = (uint64_t *)(void *)&now, *o = (uint64_t *)(void *)&a->blk_seen[i];
		uint64_t *dd = (uint64_t *)(void *)&d, *sum = (uint64_t *)(void *)&bsum;
		for (size_t f = 0; f < sizeof(d) / 8; f++)
			dd[f] = n[f] - o[f], sum[f] += dd[f];
		a->blk_seen[i] = now;
		char key[80];
		snprintf(key, sizeof(key), "block_%s", a->drives[i].id);
		json_object_set_new(m, key, blk_json(&d));
	}
	for (unsigned i = 0; a->vm && i < a->nnets; i++) {
		struct virtio_net_stats now, d;
		if (!vm_net_stats(a->vm, i, &now))
			continue;
		uint64_t *n = (uint64_t *)(void *)&now, *o = (uint64_t *)(void *)&a->net_seen[i];
		uint64_t *dd = (uint64_t *)(void *)&d, *sum = (uint64_t *)(void *)&nsum;
		for (size_t f = 0; f < sizeof(d) / 8; f++)
			dd[f] = n[f] - o[f], sum[f] += dd[f];
		a->net_seen[i] = now;
		char key[80];
		snprintf(key, sizeof(key), "net_%s", a->nets[i].id);
		json_object_set_new(m, key, net_json(&d));
	}
	json_object_set_new(m, "block", blk_json(&bsum));
	json_object_set_new(m, "net", net_json(&nsum));
	json_t *vcpu = json_array();
	for (unsigned i = 0; a->vm && i < a->vm->nharts; i++) {
		const struct hart *h = &a->vm->harts[i];
		uint64_t now = hart_instret(h);
		struct hart_exits e = {__atomic_load_n(&h->exits.sbi, __ATOMIC_RELAXED),
				       __atomic_load_n(&h->exits.mmio, __ATOMIC_RELAXED),
				       __atomic_load_n(&h->exits.wfi, __ATOMIC_RELAXED)};
		struct hart_exits *o = &a->exits_seen[i];
		json_array_append_new(vcpu, json_pack("{s:I,s:I,s:I,s:I}", "instructions",
						      (json_int_t)(now - a->instret_seen[i]),
						      "exits_sbi", (json_int_t)(e.sbi - o->sbi),
						      "exits_mmio", (json_int_t)(e.mmio - o->mmio),
						      "exits_wfi", (json_int_t)(e.wfi - o->wfi)));
		a->instret_seen[i] = now;
		*o = e;
	}
	json_object_set_new(m, "vcpu", vcpu);
	char *line = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	int rc = 0;
	if (line) {
		size_t len = strlen(line);
		line[len] = '\n'; /* json_dumps leaves room for its NUL: reuse it */
		if (write(a->metrics_fd, line, len + 1) < 0)
			rc = 0; /* a full FIFO drops the line; the counters went on */
		free(line);
	}
	return rc;
}

/* Flushes the metrics every 60 s until the API stops. */
static void *metrics_main(void *arg)
{
	struct api *a = arg;
	seccomp_enter(SECCOMP_API);
	pthread_mutex_lock(&a->lock);
	while (!a->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 60;
		if (pthread_cond_timedwait(&a->cond, &a->lock, &ts) == ETIMEDOUT && !a->stopping)
			flush_metrics(a);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static int open_sink(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
}

static struct reply put_metrics(struct api *a, json_t *b)
{
	static const char *const known[] = {"metrics_path", NULL};
	char err[256], path[STR_MAX];
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "metrics_path", true, path, sizeof(path), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	if (a->metrics_fd >= 0)
		return fault(400, "Reinitialization of metrics not allowed.");
	int fd = open_sink(path);
	if (fd < 0)
		return fault(400, "Cannot open the metrics file %s: %s%s", path, strerror(errno),
			     landlock_hint(errno));
	a->metrics_fd = fd;
	if (!pthread_create(&a->metrics_thread, NULL, metrics_main, a))
		a->metrics_thread_up = true;
	return NO_CONTENT;
}

static struct reply put_logger(struct api *a, json_t *b)
{
	static const char *const known[] = {"log_path",        "level",  "show_level",
					    "show_log_origin", "module", NULL};
	static const char *const levels[] = {"Off", "Error", "Warning", "Info", "Debug", "Trace"};
	char err[256], path[STR_MAX], level[16] = "Info";
	bool show_level = false, show_origin = false;
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "log_path", true, path, sizeof(path), err, sizeof(err)) < 0 ||
	    get_str(b, "level", false, level, sizeof(level), err, sizeof(err)) < 0 ||
	    get_bool(b, "show_level", false, &show_level, err, sizeof(err)) < 0 ||
	    get_bool(b, "show_log_origin", false, &show_origin, err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	if (json_object_get(b, "module"))
		return fault(400, "module filters are not supported");
	unsigned l = 0;
	while (l < 6 && strcasecmp(level, levels[l]))
		l++;
	if (l == 6)
		return fault(400, "level must be one of Off, Error, Warning, Info, Debug, Trace");
	int fd = open_sink(path);
	if (fd < 0)
		return fault(400, "Cannot open the log file %s: %s%s", path, strerror(errno),
			     landlock_hint(errno));
	if (a->log_fd >= 0)
		close(a->log_fd);
	a->log_fd = fd;
	a->log_level = l;
	a->log_show_level = show_level;
	a->log_show_origin = show_origin;
	log_line(a, 3, "Logger configured: level %s", levels[l]);
	return NO_CONTENT;
}

/* ---- reports ---- */

static const char *state_name(const struct api *a)
{
	if (a->state == API_RUNNING)
		return a->paused ? "Paused" : "Running";
	return "Not started";
}

static json_t *machine_config_json(const struct api *a)
{
	json_t *j = json_pack("{s:i,s:i,s:b,s:b}", "vcpu_count", a->vcpus, "mem_size_mib",
			      a->mem_mib, "smt", 0, "track_dirty_pages", a->track_dirty_pages);
	if (j && *a->cpu)
		json_object_set_new(j, "rvisor_cpu", json_string(a->cpu));
	return j;
}

static json_t *vm_config_json(const struct api *a)
{
	json_t *drives = json_array(), *nets = json_array(), *boot = json_null();
	for (unsigned i = 0; i < a->ndrives; i++)
		json_array_append_new(
		    drives, json_pack("{s:s,s:s,s:b,s:b,s:s,s:s}", "drive_id", a->drives[i].id,
				      "path_on_host", a->drives[i].path, "is_root_device",
				      a->drives[i].root, "is_read_only", a->drives[i].readonly,
				      "cache_type", "Unsafe", "io_engine", "Sync"));
	for (unsigned i = 0; i < a->nnets; i++) {
		const struct api_net *n = &a->nets[i];
		json_t *o = json_pack("{s:s}", "iface_id", n->id);
		if (*n->tap)
			json_object_set_new(o, "host_dev_name", json_string(n->tap));
		else
			json_object_set_new(o, "rvisor_user_networking",
					    *n->hostfwd ? json_pack("{s:s}", "hostfwd", n->hostfwd)
							: json_object());
		if (*n->mac)
			json_object_set_new(o, "guest_mac", json_string(n->mac));
		json_array_append_new(nets, o);
	}
	if (a->have_boot_source) {
		boot = json_pack("{s:s,s:s}", "kernel_image_path", a->kernel, "boot_args",
				 a->boot_args);
		if (*a->initrd)
			json_object_set_new(boot, "initrd_path", json_string(a->initrd));
	}
	json_t *vsock = a->have_vsock
			    ? json_pack("{s:s,s:i,s:s}", "vsock_id", a->vsock_id, "guest_cid",
					a->vsock_cid, "uds_path", a->vsock_uds)
			    : json_null();
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:n,s:n,s:n,s:o}", "boot-source", boot,
			 "machine-config", machine_config_json(a), "drives", drives,
			 "network-interfaces", nets, "balloon",
			 a->have_balloon ? balloon_json(a) : json_null(), "logger", "metrics",
			 "mmds-config", "vsock", vsock);
}

/* ---- the state machine ---- */

/* InstanceStart: hand over to the main thread and wait for the VM to exist. Lock held. */
static struct reply instance_start(struct api *a)
{
	if (!a->have_boot_source)
		return fault(400, "Cannot start microvm without kernel configuration.");
	if (!a->can_start)
		return fault(400,
			     "this control plane serves requests only: it cannot start a guest");
	a->state = API_STARTING;
	a->start_done = false;
	pthread_cond_broadcast(&a->cond);
	pthread_kill(a->main_thread, SIGUSR1); /* at once, not at its next poll */
	while (!a->start_done)
		pthread_cond_wait(&a->cond, &a->lock);
	if (a->state != API_RUNNING)
		return fault(400, "Cannot start the microVM: %s", a->start_err);
	log_line(a, 3, "The microVM started: %u vCPUs, %u MiB.", a->vcpus, a->mem_mib);
	return NO_CONTENT;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* PUT /snapshot/create: a paused VM's state and memory to two files. Lock held. */
static struct reply snapshot_create(struct api *a, json_t *b)
{
	static const char *const known[] = {"snapshot_type", "snapshot_path", "mem_file_path",
					    "version", NULL};
	char err[512], type[16] = "Full", state[STR_MAX], mem[STR_MAX];
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "snapshot_type", false, type, sizeof(type), err, sizeof(err)) < 0 ||
	    get_str(b, "snapshot_path", true, state, sizeof(state), err, sizeof(err)) < 0 ||
	    get_str(b, "mem_file_path", true, mem, sizeof(mem), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	bool diff = !strcmp(type, "Diff");
	if (!diff && strcmp(type, "Full"))
		return fault(400, "snapshot_type must be Full or Diff");
	if (a->state != API_RUNNING || !a->paused)
		return fault(400, "Create snapshot: the microVM must be paused first (PATCH /vm "
				  "{\"state\": \"Paused\"}).");
	uint64_t t0 = monotonic_ns();
	if (vm_snapshot_save(a->vm, state, mem, diff ? SNAPSHOT_DIFF : SNAPSHOT_FULL, err,
			     sizeof(err)))
		return fault(400, "%s", err);
	log_line(a, 3, "%s snapshot taken in %.1f ms: %s, memory %s.", diff ? "Diff" : "Full",
		 (monotonic_ns() - t0) / 1e6, state, mem);
	return NO_CONTENT;
}

/* The migration's thread: runs it, then leaves the answer for the request that started it
 * and wakes that request if it is waiting. */
static void *migration_main(void *arg)
{
	struct api *a = arg;
	seccomp_enter(SECCOMP_API);
	char err[512] = "";
	struct migrate_stats st;
	/* vm, mig_url and mig_bw stay as they are while the migration runs. */
	int rc = vm_migrate_send(a->vm, a->mig_url, a->mig_bw, &a->mig, &st, err, sizeof(err));
	pthread_mutex_lock(&a->lock);
	a->mig_end_ns = monotonic_ns();
	a->mig_stats = st;
	struct reply r = NO_CONTENT;
	if (rc) {
		log_line(a, 1, "Migration to %s failed: %s", a->mig_url, err);
		snprintf(a->mig_err, sizeof(a->mig_err), "%s", err);
		r = fault(400, "%s", err);
	} else {
		log_line(a, 3,
			 "Migrated to %s in %.1f ms: %u rounds, %llu pages, the last %llu with the "
			 "guest stopped for %.1f ms, state %llu bytes, harts slowed by %u%%.",
			 a->mig_url, st.total_ns / 1e6, st.rounds,
			 (unsigned long long)st.pages_sent, (unsigned long long)st.last_pages,
			 st.downtime_ns / 1e6, (unsigned long long)st.state_bytes, st.throttle_pct);
		fprintf(stderr,
			"\r\nrvisor: the VM migrated to %s (%.1f ms, %u rounds, guest stopped %.1f "
			"ms, harts slowed by %u%% to converge, sleeping %.0f ms); this process "
			"ends\r\n",
			a->mig_url, st.total_ns / 1e6, st.rounds, st.downtime_ns / 1e6,
			st.throttle_pct, st.throttled_ns / 1e6);
	}
	a->mig_ok = !rc;
	a->mig_status = r.status;
	a->mig_body = r.body;
	a->mig_active = false;
	a->mig_done = true;
	struct MHD_Connection *c = a->mig_conn;
	a->mig_conn = NULL;
	pthread_mutex_unlock(&a->lock);
	if (c) {
		MHD_resume_connection(c);
		/* The HTTP thread may be asleep with nothing else to do: wake it to answer. */
		uint64_t one = 1;
		if (a->wake_fd >= 0 && write(a->wake_fd, &one, sizeof(one)) != sizeof(one))
			abort(); /* an eventfd write of 1 cannot fail */
	}
	return NULL;
}

/* PUT /migration/send: the running (or paused) VM moves to the rvisor listening at
 * destination_url, on a thread of its own; answered (status 0 here: later, by the HTTP layer)
 * once the destination runs it or the migration failed. On success this process then ends
 * (status 0). Lock held. */
static struct reply migration_send(struct api *a, json_t *b)
{
	/* "local" is Cloud Hypervisor's (same-host memory sharing): accepted when false. */
	static const char *const known[] = {"destination_url", "local", "max_bandwidth_mib", NULL};
	char err[512], url[STR_MAX];
	bool local = false;
	json_t *bw = json_object_get(b, "max_bandwidth_mib");
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "destination_url", true, url, sizeof(url), err, sizeof(err)) < 0 ||
	    get_bool(b, "local", false, &local, err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	if (bw && (!json_is_integer(bw) || json_integer_value(bw) < 1 ||
		   json_integer_value(bw) > 1000000))
		return fault(400, "max_bandwidth_mib must be an integer from 1 to 1000000 (MiB/s)");
	if (local)
		return fault(400, "local: a migration sharing memory on one host is not supported: "
				  "leave local out (the memory is sent)");
	if (a->mig_active || (a->mig_done && a->mig_ok))
		return fault(400, "A migration to %s is %s.", a->mig_url,
			     a->mig_active ? "in progress already" : "done");
	if (a->mig_thread_up) { /* the last one, ended: its thread is finishing */
		pthread_join(a->mig_thread, NULL);
		a->mig_thread_up = false;
	}
	free(a->mig_body);
	a->mig_body = NULL;
	memset(&a->mig, 0, sizeof(a->mig));
	memset(&a->mig_stats, 0, sizeof(a->mig_stats));
	snprintf(a->mig_url, sizeof(a->mig_url), "%s", url);
	a->mig_bw = bw ? (uint64_t)json_integer_value(bw) << 20 : 0;
	a->mig_err[0] = 0;
	a->mig_done = a->mig_ok = false;
	a->mig_active = true;
	atomic_store(&a->mig.stage, MIGRATE_CONNECTING);
	if (pthread_create(&a->mig_thread, NULL, migration_main, a)) {
		a->mig_active = false;
		return fault(400, "cannot start the migration's thread: out of resources");
	}
	a->mig_thread_up = true;
	return (struct reply){0, NULL};
}

/* GET /migration: where the migration stands (the last one, once it ended). */
static struct reply migration_status(struct api *a)
{
	static const char *const stages[] = {
	    [MIGRATE_IDLE] = "none",         [MIGRATE_CONNECTING] = "connecting",
	    [MIGRATE_PRECOPY] = "precopy",   [MIGRATE_STOP_COPY] = "stop-and-copy",
	    [MIGRATE_HANDOVER] = "handover", [MIGRATE_COMPLETED] = "completed",
	    [MIGRATE_FAILED] = "failed",     [MIGRATE_CANCELLED] = "cancelled"};
	if (!a->mig_active && !a->mig_done)
		return json_reply(json_pack("{s:s}", "state", "None"));
	unsigned stage = atomic_load(&a->mig.stage);
	if (stage > MIGRATE_CANCELLED)
		stage = MIGRATE_IDLE;
	const char *state = a->mig_active                ? "Active"
			    : a->mig_ok                  ? "Completed"
			    : stage == MIGRATE_CANCELLED ? "Cancelled"
							 : "Failed";
	uint64_t start = atomic_load(&a->mig.start_ns);
	uint64_t end = a->mig_active ? monotonic_ns() : a->mig_end_ns;
	json_t *o = json_pack(
	    "{s:s,s:s,s:s,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:I}", "state", state, "stage",
	    stages[stage], "destination_url", a->mig_url, "elapsed_ms",
	    start && end > start ? (double)(end - start) / 1e6 : 0.0, "ram_bytes",
	    (json_int_t)a->vm->mem.size, "rounds", (json_int_t)atomic_load(&a->mig.rounds),
	    "bytes_sent", (json_int_t)atomic_load(&a->mig.bytes_sent), "pages_sent",
	    (json_int_t)atomic_load(&a->mig.pages_sent), "dirty_pages",
	    (json_int_t)atomic_load(&a->mig.dirty_pages), "dirty_pages_rate",
	    (json_int_t)atomic_load(&a->mig.dirty_rate), "bandwidth_bytes_per_s",
	    (json_int_t)atomic_load(&a->mig.bandwidth), "expected_downtime_ms",
	    (double)atomic_load(&a->mig.expected_downtime_ns) / 1e6, "throttle_percent",
	    (json_int_t)atomic_load(&a->mig.throttle_pct));
	if (o && a->mig_ok)
		json_object_set_new(o, "downtime_ms",
				    json_real((double)a->mig_stats.downtime_ns / 1e6));
	if (o && a->mig_done && !a->mig_ok)
		json_object_set_new(o, "error", json_string(a->mig_err));
	return json_reply(o);
}

/* PUT /migration/cancel: the running migration gives up at its next record (before the state
 * is sent; later it is too late) and the guest keeps running here. */
static struct reply migration_cancel(struct api *a, json_t *b)
{
	static const char *const known[] = {NULL};
	char err[256];
	if (b && !only_fields(b, known, err, sizeof(err)))
		return fault(400, "%s", err);
	if (!a->mig_active)
		return fault(400, "No migration is in progress.");
	atomic_store(&a->mig.cancel, true);
	log_line(a, 3, "Cancelling the migration to %s.", a->mig_url);
	return NO_CONTENT;
}

/* PUT /migration/receive: only into a control plane with nothing configured: listen at
 * listen_url and answer at once; the main thread takes the migration when the source comes
 * and runs the VM (GET / says "Running" from then on; a failed migration is logged and the
 * control plane waits to be configured again). Lock held. */
static struct reply migration_receive(struct api *a, json_t *b)
{
	/* receiver_url is Cloud Hypervisor's name for it (PUT /vm.receive-migration). */
	static const char *const known[] = {"listen_url", "receiver_url", NULL};
	char err[512], url[STR_MAX] = "", alt[STR_MAX] = "";
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "listen_url", false, url, sizeof(url), err, sizeof(err)) < 0 ||
	    get_str(b, "receiver_url", false, alt, sizeof(alt), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	if (!*url)
		snprintf(url, sizeof(url), "%s", alt);
	if (!*url)
		return fault(400, "missing field `listen_url` (or `receiver_url`)");
	if (a->state != API_CONFIGURING)
		return fault(400, AFTER_STARTED);
	if (a->have_boot_source || a->ndrives || a->nnets || a->have_vsock || a->have_balloon)
		return fault(400, "Receiving a migration is not allowed after configuring "
				  "boot-specific resources.");
	if (!a->can_start)
		return fault(400,
			     "this control plane serves requests only: it cannot start a guest");
	int lfd = vm_migrate_listen(url, err, sizeof(err));
	if (lfd < 0)
		return fault(400, "%s", err);
	a->recv_lfd = lfd;
	snprintf(a->recv_url, sizeof(a->recv_url), "%s", url);
	snprintf(a->load_state, sizeof(a->load_state), "%s", "(the migrated state)");
	a->load_resume = true; /* the guest goes on running, as it did at the source */
	a->load_track = false;
	a->state = API_STARTING;
	a->start_done = false;
	pthread_cond_broadcast(&a->cond);
	pthread_kill(a->main_thread, SIGUSR1);
	log_line(a, 3, "Waiting for a migration at %s.", url);
	return NO_CONTENT;
}

/* PUT /snapshot/load: only into a control plane with nothing configured. Lock held. */
static struct reply snapshot_load(struct api *a, json_t *b)
{
	static const char *const known[] = {
	    "snapshot_path", "mem_file_path",     "mem_backend", "enable_diff_snapshots",
	    "resume_vm",     "track_dirty_pages", NULL};
	char err[512], state[STR_MAX], mem[STR_MAX] = "";
	bool diff = false, track = false, resume = false;
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "snapshot_path", true, state, sizeof(state), err, sizeof(err)) < 0 ||
	    get_str(b, "mem_file_path", false, mem, sizeof(mem), err, sizeof(err)) < 0 ||
	    get_bool(b, "enable_diff_snapshots", false, &diff, err, sizeof(err)) < 0 ||
	    get_bool(b, "track_dirty_pages", false, &track, err, sizeof(err)) < 0 ||
	    get_bool(b, "resume_vm", false, &resume, err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	json_t *backend = json_object_get(b, "mem_backend");
	if (backend && !json_is_null(backend)) {
		static const char *const bknown[] = {"backend_type", "backend_path", NULL};
		char type[16];
		if (!json_is_object(backend) || !only_fields(backend, bknown, err, sizeof(err)) ||
		    get_str(backend, "backend_type", true, type, sizeof(type), err, sizeof(err)) <
			0 ||
		    get_str(backend, "backend_path", true, mem, sizeof(mem), err, sizeof(err)) < 0)
			return fault(400, "mem_backend: %s",
				     json_is_object(backend) ? err : "must be an object");
		if (strcmp(type, "File"))
			return fault(400, "mem_backend: backend_type %s is not supported: use File",
				     type);
	}
	if (!*mem)
		return fault(400, "missing field `mem_backend` (or `mem_file_path`)");
	if (a->state != API_CONFIGURING)
		return fault(400, AFTER_STARTED);
	if (a->have_boot_source || a->ndrives || a->nnets || a->have_vsock || a->have_balloon)
		return fault(400, "Loading a microVM snapshot not allowed after configuring "
				  "boot-specific resources.");
	if (!a->can_start)
		return fault(400,
			     "this control plane serves requests only: it cannot start a guest");
	snprintf(a->load_state, sizeof(a->load_state), "%s", state);
	snprintf(a->load_mem, sizeof(a->load_mem), "%s", mem);
	a->load_resume = resume;
	a->load_track = diff || track; /* the first is Firecracker's older name */
	a->state = API_STARTING;
	a->start_done = false;
	pthread_cond_broadcast(&a->cond);
	pthread_kill(a->main_thread, SIGUSR1);
	while (!a->start_done)
		pthread_cond_wait(&a->cond, &a->lock);
	if (a->state != API_RUNNING)
		return fault(400, "Cannot load the snapshot: %s", a->start_err);
	log_line(a, 3, "The microVM was restored from %s (%s).", state,
		 a->paused ? "paused" : "running");
	return NO_CONTENT;
}

static struct reply patch_vm(struct api *a, json_t *b)
{
	static const char *const known[] = {"state", NULL};
	char err[256], state[16];
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "state", true, state, sizeof(state), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	bool pause = !strcmp(state, "Paused");
	if (!pause && strcmp(state, "Resumed"))
		return fault(400, "state must be Paused or Resumed");
	if (pause)
		vm_pause(a->vm);
	else
		vm_resume(a->vm);
	a->paused = pause;
	log_line(a, 3, "The microVM is %s.", pause ? "paused" : "running again");
	return NO_CONTENT;
}

static struct reply put_action(struct api *a, json_t *b)
{
	static const char *const known[] = {"action_type", NULL};
	char err[256], type[32];
	if (!only_fields(b, known, err, sizeof(err)) ||
	    get_str(b, "action_type", true, type, sizeof(type), err, sizeof(err)) < 0)
		return fault(400, "%s", err);
	if (!strcmp(type, "InstanceStart")) {
		if (a->state != API_CONFIGURING)
			return fault(400, AFTER_STARTED);
		return instance_start(a);
	}
	if (!strcmp(type, "FlushMetrics"))
		return flush_metrics(a)
			   ? fault(400, "metrics are not configured: PUT /metrics first")
			   : NO_CONTENT;
	if (!strcmp(type, "SendCtrlAltDel")) {
		if (a->state != API_RUNNING)
			return fault(400, NOT_STARTED);
		if (vm_send_ctrl_alt_del(a->vm))
			return fault(400, "the guest's keyboard driver is not running: the guest "
					  "cannot be asked to shut down");
		log_line(a, 3, "Sent Ctrl-Alt-Del to the guest.");
		return NO_CONTENT;
	}
	return fault(400, "unknown action_type `%s`", type);
}

/* Route one request. Lock held. body is NULL for none. */
static struct reply route(struct api *a, const char *method, const char *url, json_t *body)
{
	bool get = !strcmp(method, "GET"), put = !strcmp(method, "PUT");
	bool patch = !strcmp(method, "PATCH");
	bool pre = a->state == API_CONFIGURING, running = a->state == API_RUNNING;
	if ((put || patch) && !json_is_object(body))
		return fault(400, "the request body must be a JSON object");
	/* While a migration runs, the VM is not changed (its cancellation and /actions aside). */
	if (a->mig_active && (put || patch) && strcmp(url, "/migration/cancel") &&
	    strcmp(url, "/actions"))
		return fault(400,
			     "A migration to %s is in progress: wait for its end, or PUT "
			     "/migration/cancel.",
			     a->mig_url);
	if (get && !strcmp(url, "/")) {
		return json_reply(json_pack("{s:s,s:s,s:s,s:s}", "id", "anonymous-instance",
					    "state", state_name(a), "vmm_version", API_VERSION,
					    "app_name", "rvisor"));
	}
	if (get && !strcmp(url, "/machine-config"))
		return json_reply(machine_config_json(a));
	if (get && !strcmp(url, "/vm/config"))
		return json_reply(vm_config_json(a));
	if (put && !strcmp(url, "/actions"))
		return put_action(a, body);
	if (patch && !strcmp(url, "/vm"))
		return running ? patch_vm(a, body) : fault(400, NOT_STARTED);
	if ((put || patch) && !strcmp(url, "/machine-config"))
		return pre ? put_machine_config(a, body, patch) : fault(400, AFTER_STARTED);
	if (put && !strcmp(url, "/boot-source"))
		return pre ? put_boot_source(a, body) : fault(400, AFTER_STARTED);
	const char *id;
	if ((put || patch) && !strncmp(url, "/drives/", 8) && *(id = url + 8) && !strchr(id, '/')) {
		if (patch)
			return running ? patch_drive(a, id, body) : fault(400, NOT_STARTED);
		return pre ? put_drive(a, id, body) : fault(400, AFTER_STARTED);
	}
	if ((put || patch) && !strncmp(url, "/network-interfaces/", 20) && *(id = url + 20) &&
	    !strchr(id, '/')) {
		if (patch)
			return running ? patch_net(a, id, body) : fault(400, NOT_STARTED);
		return pre ? put_net(a, id, body) : fault(400, AFTER_STARTED);
	}
	if (put && !strcmp(url, "/snapshot/create"))
		return running ? snapshot_create(a, body) : fault(400, NOT_STARTED);
	if (put && !strcmp(url, "/snapshot/load"))
		return snapshot_load(a, body);
	/* Cloud Hypervisor's names for the same requests are accepted too. */
	if (put && (!strcmp(url, "/migration/receive") || !strcmp(url, "/vm.receive-migration") ||
		    !strcmp(url, "/api/v1/vm.receive-migration")))
		return migration_receive(a, body);
	if (put &&
	    (!strcmp(url, "/vm.send-migration") || !strcmp(url, "/api/v1/vm.send-migration")))
		return running ? migration_send(a, body) : fault(400, NOT_STARTED);
	if (put && !strcmp(url, "/migration/send"))
		return running ? migration_send(a, body) : fault(400, NOT_STARTED);
	if (get && !strcmp(url, "/migration"))
		return running ? migration_status(a) : fault(400, NOT_STARTED);
	if (put && !strcmp(url, "/migration/cancel"))
		return running ? migration_cancel(a, body) : fault(400, NOT_STARTED);
	if (put && !strcmp(url, "/metrics"))
		return pre ? put_metrics(a, body) : fault(400, AFTER_STARTED);
	if (put && !strcmp(url, "/logger"))
		return pre ? put_logger(a, body) : fault(400, AFTER_STARTED);
	if (!strcmp(url, "/balloon") && (put || patch || get)) {
		if (put)
			return pre ? put_balloon(a, body, false) : fault(400, AFTER_STARTED);
		if (patch)
			return running ? put_balloon(a, body, true) : fault(400, NOT_STARTED);
		return a->have_balloon ? json_reply(balloon_json(a))
				       : fault(400, "No balloon device is configured.");
	}
	if (!strcmp(url, "/balloon/statistics") && (get || patch)) {
		if (!running)
			return fault(400, NOT_STARTED);
		if (get)
			return balloon_statistics(a);
		static const char *const known[] = {"stats_polling_interval_s", NULL};
		char err[256];
		unsigned interval;
		if (!only_fields(body, known, err, sizeof(err)) ||
		    get_uint(body, "stats_polling_interval_s", true, 0, 86400, &interval, err,
			     sizeof(err)) < 0)
			return fault(400, "%s", err);
		if (!a->stats_interval_s != !interval)
			return fault(400, "Cannot enable or disable statistics after the start.");
		a->stats_interval_s = interval;
		return NO_CONTENT;
	}
	if (put && !strcmp(url, "/vsock"))
		return pre ? put_vsock(a, body) : fault(400, AFTER_STARTED);
	static const char *const later[] = {"/mmds", "/mmds/config", "/entropy", "/cpu-config",
					    NULL};
	for (const char *const *p = later; *p; p++)
		if ((put || patch || get) && !strcmp(url, *p))
			return fault(400, "%s is not supported yet", *p + 1);
	return fault(400, "Invalid request method and/or path: %s %s.", method, url);
}

unsigned api_request(struct api *a, const char *method, const char *url, const char *body,
		     size_t len, char **reply)
{
	json_t *json = NULL;
	struct reply r;
	if (len) {
		json_error_t je;
		json = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
		if (!json) {
			r = fault(400, "the request body is not JSON: %s (line %d)", je.text,
				  je.line);
			*reply = r.body;
			return r.status;
		}
	}
	pthread_mutex_lock(&a->lock);
	log_line(a, 3, "The API server received a %s request on \"%s\".", method, url);
	r = route(a, method, url, json);
	a->requests++;
	if (r.status >= 400) {
		a->bad_requests++;
		log_line(a, 1, "%s %s: %s", method, url, r.body ? r.body : "");
	}
	pthread_mutex_unlock(&a->lock);
	json_decref(json);
	*reply = r.body;
	return r.status;
}

/* ---- HTTP (libmicrohttpd) ---- */

struct request {
	char *body;
	size_t len;
	bool too_big;
	bool waiting; /* PUT /migration/send, suspended until the migration ends */
};

static enum MHD_Result send_reply(struct MHD_Connection *c, struct reply r)
{
	const char *body = r.body ? r.body : "";
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (r.body)
		MHD_add_response_header(resp, "Content-Type", "application/json");
	enum MHD_Result ok = MHD_queue_response(c, r.status, resp);
	MHD_destroy_response(resp);
	free(r.body);
	return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	(void)version;
	struct api *a = cls;
	struct request *req = *con_cls;
	if (!req) { /* the headers: set up the body's buffer */
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_size) {
		if (req->len + *upload_size > BODY_MAX) {
			req->too_big = true;
		} else {
			char *p = realloc(req->body, req->len + *upload_size + 1);
			if (!p)
				return MHD_NO;
			memcpy(p + req->len, upload, *upload_size);
			req->body = p;
			req->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->too_big)
		return send_reply(c,
				  fault(400, "the request body is larger than %d bytes", BODY_MAX));
	struct reply r = {0, NULL};
	if (!req->waiting)
		r.status = api_request(a, method, url, req->body, req->len, &r.body);
	if (r.status)
		return send_reply(c, r);
	/* A migration began (or, resumed here, ended): its answer, once there is one. */
	pthread_mutex_lock(&a->lock);
	if (!a->mig_done) {
		req->waiting = true;
		a->mig_conn = c;
		MHD_suspend_connection(c);
		pthread_mutex_unlock(&a->lock);
		return MHD_YES;
	}
	r.status = a->mig_status;
	r.body = a->mig_body;
	a->mig_body = NULL;
	if (a->mig_ok)
		a->exit_conn = c;
	pthread_mutex_unlock(&a->lock);
	return send_reply(c, r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct api *a = cls;
	(void)toe;
	/* The VM migrated and the answer saying so went out: the process ends. */
	pthread_mutex_lock(&a->lock);
	if (a->exit_conn == c && a->vm) {
		a->exit_conn = NULL;
		vm_request_exit(a->vm, VM_STATUS_POWEROFF);
	}
	pthread_mutex_unlock(&a->lock);
	struct request *req = *con_cls;
	if (req) {
		free(req->body);
		free(req);
	}
	*con_cls = NULL;
}

/* The HTTP thread: libmicrohttpd driven from a thread of ours (its epoll descriptor, its
 * timeout), so the thread installs the control plane's seccomp filter before any request. */
struct api_http {
	struct MHD_Daemon *daemon;
	int stop_fd; /* an eventfd: readable when the thread must end */
	int wake_fd; /* an eventfd: readable when a suspended request was resumed (api.wake_fd) */
	pthread_t thread;
};

static void *http_main(void *arg)
{
	struct api_http *h = arg;
	seccomp_enter(SECCOMP_API);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		return NULL;
	for (;;) {
		struct pollfd p[3] = {
		    {info->epoll_fd, POLLIN, 0}, {h->stop_fd, POLLIN, 0}, {h->wake_fd, POLLIN, 0}};
		MHD_UNSIGNED_LONG_LONG timeout;
		int ms = -1;
		if (MHD_get_timeout(h->daemon, &timeout) == MHD_YES)
			ms = timeout > INT_MAX ? INT_MAX : (int)timeout;
		if (poll(p, 3, ms) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		uint64_t n;
		if (p[2].revents && read(h->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			break;
		MHD_run(h->daemon);
	}
	return NULL;
}

/* Start the daemon on the listening socket fd and its thread. Returns 0 or -1. */
static int http_start(struct api_http *h, struct api *a, int fd)
{
	/* One thread polls every connection (epoll: no FD_SETSIZE ceiling), so a client that
	 * sends nothing, or half a request, holds up no other; idle ones are closed after
	 * API_IDLE_S, and at most API_MAX_CLIENTS are open at once. */
	h->daemon = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, handle, a,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, completed, a,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_S, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)API_MAX_CLIENTS, MHD_OPTION_END);
	if (!h->daemon)
		return -1;
	h->stop_fd = eventfd(0, EFD_CLOEXEC);
	h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	a->wake_fd = h->wake_fd;
	if (h->stop_fd >= 0 && h->wake_fd >= 0 && !pthread_create(&h->thread, NULL, http_main, h))
		return 0;
	a->wake_fd = -1;
	if (h->stop_fd >= 0)
		close(h->stop_fd);
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	MHD_stop_daemon(h->daemon);
	h->daemon = NULL;
	return -1;
}

static void http_stop(struct api_http *h)
{
	if (!h->daemon)
		return;
	uint64_t one = 1;
	if (write(h->stop_fd, &one, sizeof(one)) != sizeof(one))
		abort(); /* an eventfd write of 1 cannot fail */
	pthread_join(h->thread, NULL);
	close(h->stop_fd);
	close(h->wake_fd);
	MHD_stop_daemon(h->daemon);
	h->daemon = NULL;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Owner-only, before anyone can connect (that takes the listen). */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || chmod(path, 0600) ||
	    listen(fd, API_MAX_CLIENTS)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ---- the configuration file ---- */

/* Apply the configuration file's sections through the API's own handlers. */
static int apply_config_file(struct api *a, const char *path)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		fprintf(stderr, "rvisor: error: --config-file %s: not JSON: %s (line %d)\n", path,
			je.text, je.line);
		return -1;
	}
	static const char *const known[] = {
	    "boot-source", "machine-config", "drives", "network-interfaces", "logger",
	    "metrics",     "balloon",        "vsock",  "mmds-config",        NULL};
	char err[256];
	struct reply r = NO_CONTENT;
	const char *where = "";
	if (!json_is_object(root) || !only_fields(root, known, err, sizeof(err))) {
		fprintf(stderr, "rvisor: error: --config-file %s: %s\n", path,
			json_is_object(root) ? err : "must hold a JSON object");
		json_decref(root);
		return -1;
	}
	json_t *v;
	if (r.status == 204 && (v = json_object_get(root, "machine-config")) && json_is_object(v))
		where = "machine-config", r = put_machine_config(a, v, false);
	if (r.status == 204 && (v = json_object_get(root, "boot-source")))
		where = "boot-source",
		r = json_is_object(v) ? put_boot_source(a, v) : fault(400, "must be an object");
	else if (r.status == 204 && !v)
		where = "boot-source", r = fault(400, "missing: the guest needs a kernel");
	json_t *list[2] = {json_object_get(root, "drives"),
			   json_object_get(root, "network-interfaces")};
	for (unsigned k = 0; k < 2 && r.status == 204; k++) {
		where = k ? "network-interfaces" : "drives";
		if (list[k] && !json_is_array(list[k])) {
			r = fault(400, "must be an array");
			break;
		}
		size_t i;
		json_array_foreach(list[k], i, v)
		{
			json_t *id = json_object_get(v, k ? "iface_id" : "drive_id");
			if (!json_is_object(v) || !json_is_string(id))
				r = fault(400, "entry %zu needs %s", i,
					  k ? "iface_id" : "drive_id");
			else
				r = k ? put_net(a, json_string_value(id), v)
				      : put_drive(a, json_string_value(id), v);
			if (r.status != 204)
				break;
		}
	}
	if (r.status == 204 && (v = json_object_get(root, "logger")) && !json_is_null(v))
		where = "logger",
		r = json_is_object(v) ? put_logger(a, v) : fault(400, "must be an object");
	if (r.status == 204 && (v = json_object_get(root, "metrics")) && !json_is_null(v))
		where = "metrics",
		r = json_is_object(v) ? put_metrics(a, v) : fault(400, "must be an object");
	if (r.status == 204 && (v = json_object_get(root, "balloon")) && !json_is_null(v))
		where = "balloon",
		r = json_is_object(v) ? put_balloon(a, v, false) : fault(400, "must be an object");
	if (r.status == 204 && (v = json_object_get(root, "vsock")) && !json_is_null(v))
		where = "vsock",
		r = json_is_object(v) ? put_vsock(a, v) : fault(400, "must be an object");
	static const char *const later[] = {"mmds-config", NULL};
	for (const char *const *p = later; *p && r.status == 204; p++)
		if ((v = json_object_get(root, *p)) && !json_is_null(v))
			where = *p, r = fault(400, "not supported yet");
	json_decref(root);
	if (r.status == 204)
		return 0;
	json_t *f = json_loads(r.body, 0, NULL);
	fprintf(stderr, "rvisor: error: --config-file %s: %s: %s\n", path, where,
		json_string_value(json_object_get(f, "fault_message")));
	json_decref(f);
	free(r.body);
	return -1;
}

/* ---- the VM ---- */

/* The VM's configuration from the API's: the root drive first (/dev/vda, with root= on the
 * command line unless boot_args name one). Strings point into a. */
static int build_config(struct api *a, struct vm_config *cfg, char *cmdline, size_t len, char *err,
			size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kernel = a->kernel;
	cfg->initrd = *a->initrd ? a->initrd : NULL;
	cfg->mem_size = (uint64_t)a->mem_mib << 20;
	cfg->ncpus = a->vcpus;
	cfg->cpu = *a->cpu ? a->cpu : NULL;
	snprintf(cmdline, len, "%s", a->boot_args);
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < a->ndrives; i++) {
			struct api_drive *d = &a->drives[i];
			if (d->root != !pass)
				continue;
			d->vm_index = cfg->ndrives;
			struct vm_drive *v = &cfg->drives[cfg->ndrives++];
			v->limiter = d->limiter;
			v->path = d->path;
			v->readonly = d->readonly;
			v->lock = true;
			snprintf(v->id, sizeof(v->id), "%.*s", DRIVE_ID_MAX, d->id);
			if (d->root && !strstr(a->boot_args, "root="))
				snprintf(cmdline + strlen(cmdline), len - strlen(cmdline),
					 " root=/dev/vda %s", d->readonly ? "ro" : "rw");
		}
	}
	for (unsigned i = 0; i < a->nnets; i++) {
		struct api_net *n = &a->nets[i];
		struct vm_net *v = &cfg->nets[cfg->nnets++];
		char spec[400];
		snprintf(spec, sizeof(spec), "%s%s%s%s", *n->tap ? "tap=" : "user", n->tap,
			 *n->mac ? ",mac=" : "", n->mac);
		if (*n->hostfwd)
			snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), ",hostfwd=%s",
				 n->hostfwd);
		if (config_parse_net(spec, v, err, errlen))
			return -1;
		v->rx_limiter = n->rx;
		v->tx_limiter = n->tx;
	}
	cfg->cmdline = cmdline;
	cfg->balloon = a->have_balloon;
	cfg->balloon_mib = a->balloon_mib;
	cfg->balloon_deflate_on_oom = a->deflate_on_oom;
	cfg->balloon_stats_s = a->stats_interval_s;
	cfg->vsock_cid = a->have_vsock ? a->vsock_cid : 0;
	cfg->keyboard = true; /* for SendCtrlAltDel */
	cfg->vsock_uds = a->vsock_uds;
	cfg->track_dirty_pages = a->track_dirty_pages;
	return 0;
}

/* A restored VM's configuration, as the API shows it (GET /vm/config, the metrics). */
static void adopt_config(struct api *a, const struct vm_config *cfg)
{
	a->vcpus = cfg->ncpus;
	a->mem_mib = (unsigned)(cfg->mem_size >> 20);
	a->track_dirty_pages = cfg->track_dirty_pages;
	a->ndrives = cfg->ndrives;
	for (unsigned i = 0; i < cfg->ndrives; i++) {
		struct api_drive *d = &a->drives[i];
		memset(d, 0, sizeof(*d));
		if (*cfg->drives[i].id)
			snprintf(d->id, sizeof(d->id), "%s", cfg->drives[i].id);
		else
			snprintf(d->id, sizeof(d->id), "drive%u", i);
		snprintf(d->path, sizeof(d->path), "%s", cfg->drives[i].path);
		d->readonly = cfg->drives[i].readonly;
		d->vm_index = i;
	}
	a->nnets = cfg->nnets;
	for (unsigned i = 0; i < cfg->nnets; i++) {
		struct api_net *n = &a->nets[i];
		memset(n, 0, sizeof(*n));
		snprintf(n->id, sizeof(n->id), "eth%u", i);
		snprintf(n->tap, sizeof(n->tap), "%s", cfg->nets[i].tap);
	}
	a->have_balloon = cfg->balloon;
	a->balloon_mib = cfg->balloon_mib;
	a->deflate_on_oom = cfg->balloon_deflate_on_oom;
	a->stats_interval_s = cfg->balloon_stats_s;
	a->have_vsock = cfg->vsock_cid != 0;
	a->vsock_cid = (unsigned)cfg->vsock_cid;
	if (cfg->vsock_cid)
		snprintf(a->vsock_uds, sizeof(a->vsock_uds), "%s", cfg->vsock_uds);
}

static void on_quit(void *opaque)
{
	vm_request_exit(opaque, VM_STATUS_QUIT);
}

static void api_setup(struct api *a, bool can_start)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	a->vcpus = 1;
	a->mem_mib = 128;
	a->metrics_fd = a->log_fd = a->wake_fd = -1;
	a->can_start = can_start;
}

struct api *api_new(void)
{
	struct api *a = malloc(sizeof(*a));
	if (a)
		api_setup(a, false);
	return a;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	if (a->metrics_thread_up)
		pthread_join(a->metrics_thread, NULL);
	free(a->mig_body);
	if (a->metrics_fd >= 0)
		close(a->metrics_fd);
	if (a->log_fd >= 0)
		close(a->log_fd);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int api_main(const char *sock_path, const char *config_file, const struct api_restore *restore)
{
	static struct api a; /* large: not on the stack */
	api_setup(&a, true);
	a.recv_lfd = -1;
	a.recv_in.fd = a.recv_in.mem_fd = -1;
	if (restore) {
		if (restore->snapshot)
			snprintf(a.load_state, sizeof(a.load_state), "%s", restore->snapshot);
		if (restore->mem_file)
			snprintf(a.load_mem, sizeof(a.load_mem), "%s", restore->mem_file);
		a.load_resume = !restore->paused;
		a.load_track = restore->track_dirty_pages;
		if (restore->migration)
			snprintf(a.load_state, sizeof(a.load_state), "%s", "(the migrated state)");
	}
	if (config_file && apply_config_file(&a, config_file))
		return VM_STATUS_ERROR;

	/* SIGINT, SIGTERM and SIGHUP end the process cleanly: blocked in every thread (the HTTP
	 * thread inherits the mask), taken here before the start and by vm_run after it. */
	sigset_t sigs, old;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);  /* InstanceStart's wake-up */
	sigaddset(&sigs, SIGWINCH); /* blocked in every thread: vm_run takes it */
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	a.main_thread = pthread_self();

	struct api_http http = {0};
	if (sock_path) {
		int fd = listen_unix(sock_path);
		if (fd < 0) {
			fprintf(stderr, "rvisor: error: --api-sock %s: %s: %s\n", sock_path,
				strerror(errno),
				errno == EADDRINUSE ? "remove the old socket or choose another path"
						    : "choose a path in a writable directory");
			return VM_STATUS_ERROR;
		}
		if (http_start(&http, &a, fd)) {
			close(fd);
			unlink(sock_path);
			fprintf(stderr, "rvisor: error: cannot serve the API on %s\n", sock_path);
			return VM_STATUS_ERROR;
		}
	}

	/* Wait for InstanceStart (at once with a configuration file), or a signal. */
	int status = VM_STATUS_ERROR;
	struct vm vm;
	bool vm_made = false;
	struct chr *console = NULL;
	pthread_mutex_lock(&a.lock);
	if (config_file || restore)
		a.state = API_STARTING;
	for (;;) {
		int sig = 0;
		while (a.state != API_STARTING && sig <= 0) {
			pthread_mutex_unlock(&a.lock);
			struct timespec ts = {0, 100 * 1000 * 1000};
			sig = sigtimedwait(&sigs, NULL, &ts);
			if (sig == SIGUSR1 || sig == SIGWINCH)
				sig = 0; /* look at the state again */
			pthread_mutex_lock(&a.lock);
		}
		if (a.state != API_STARTING) {
			status = 128 + sig;
			break;
		}
		static struct vm_config cfg;
		static char cmdline[STR_MAX + 64];
		char err[512] = "";
		bool load = *a.load_state;
		int rc;
		struct migrate_in *mig = restore ? restore->migration : NULL;
		if (a.recv_lfd >= 0) {
			/* PUT /migration/receive: wait for the source without the lock (the API
			 * answers meanwhile), and for a signal that ends the process. */
			int lfd = a.recv_lfd;
			a.recv_lfd = -1;
			pthread_mutex_unlock(&a.lock);
			struct pollfd pfd = {.fd = lfd, .events = POLLIN};
			while (sig <= 0 && poll(&pfd, 1, 100) <= 0) {
				struct timespec zero = {0, 0};
				sig = sigtimedwait(&sigs, NULL, &zero);
				if (sig == SIGUSR1 || sig == SIGWINCH)
					sig = 0;
			}
			rc = sig > 0
				 ? -EINTR
				 : vm_migrate_accept(lfd, a.recv_url, &a.recv_in, err, sizeof(err));
			if (sig > 0) {
				close(lfd);
				if (!strncmp(a.recv_url, "unix:", 5))
					unlink(a.recv_url + 5);
			}
			pthread_mutex_lock(&a.lock);
			if (sig > 0) {
				status = 128 + sig;
				break;
			}
			if (rc) {
				log_line(&a, 1, "Receiving the migration failed: %s", err);
				fprintf(stderr, "rvisor: %s\n", err);
				vm_migrate_in_free(&a.recv_in);
				a.load_state[0] = 0;
				a.state = API_CONFIGURING;
				continue;
			}
			mig = &a.recv_in;
		}
		if (load && mig) {
			rc = vm_snapshot_parse(&a.snap, mig->state, mig->state_len, a.load_state,
					       "the migrated memory", err, sizeof(err));
			mig->state = NULL; /* a.snap's now */
			a.snap_open = true;
			cfg = a.snap.cfg;
			cfg.track_dirty_pages = a.load_track;
			cfg.restore_mem_fd = dup(mig->mem_fd);
			if (!rc && cfg.mem_size != mig->mem_size) {
				snprintf(
				    err, sizeof(err),
				    "the migrated state has %llu MiB of RAM, the memory %llu MiB",
				    (unsigned long long)(cfg.mem_size >> 20),
				    (unsigned long long)(mig->mem_size >> 20));
				rc = -1;
			}
		} else if (load) {
			rc = vm_snapshot_open(&a.snap, a.load_state, a.load_mem, err, sizeof(err));
			a.snap_open = true;
			cfg = a.snap.cfg;
			cfg.track_dirty_pages = a.load_track;
		} else {
			rc = build_config(&a, &cfg, cmdline, sizeof(cmdline), err, sizeof(err));
		}
		if (!rc && !(console = chr_stdio_open())) {
			snprintf(err, sizeof(err), "cannot open the console: %s", strerror(errno));
			rc = -1;
		}
		if (!rc) {
			rc = vm_create(&vm, &cfg, console, err, sizeof(err));
			if (!rc && load) {
				rc = vm_snapshot_load(&vm, &a.snap, err, sizeof(err));
				if (!rc)
					adopt_config(&a, &cfg);
				/* The CPU model is the harts' (a snapshot's configuration does not
				 * name one): GET /machine-config shows it. */
				for (const struct isa_cpu *m = isa_cpus; !rc && m->name; m++)
					if (m->ext == vm.harts[0].isa_ext)
						snprintf(a.cpu, sizeof(a.cpu), "%s", m->name);
				if (!rc && !a.load_resume) {
					vm_start_paused(&vm);
					a.paused = true;
				}
				/* The source hands over only now: until its go, the guest is
				 * its. */
				if (!rc && mig && vm_migrate_answer(mig, true, NULL)) {
					snprintf(
					    err, sizeof(err),
					    "the source did not hand the VM over: the guest runs "
					    "there still");
					rc = -1;
					mig = NULL; /* answered */
				}
			}
			if (rc) {
				chr_stdio_close(console);
				console = NULL;
				vm_destroy(&vm);
			}
		}
		if (rc && mig)
			vm_migrate_answer(mig, false, err);
		if (rc && a.snap_open) {
			vm_snapshot_close(&a.snap);
			a.snap_open = false;
		}
		a.load_state[0] = 0;
		a.start_done = true;
		if (!rc) {
			a.state = API_RUNNING;
			a.vm = &vm;
			vm_made = true;
			pthread_cond_broadcast(&a.cond);
			break;
		}
		snprintf(a.start_err, sizeof(a.start_err), "%s", err);
		a.state = API_CONFIGURING;
		pthread_cond_broadcast(&a.cond);
		if (config_file || restore) {
			fprintf(stderr, "rvisor: error: %s\n", err);
			break;
		}
	}
	pthread_mutex_unlock(&a.lock);

	if (vm_made) {
		console->quit_opaque = &vm;
		__atomic_store_n(&console->quit, on_quit, __ATOMIC_RELEASE);
		status = vm_run(&vm);
		pthread_mutex_lock(&a.lock);
		a.state = API_EXITED;
		/* A migration still running gives up (at its next record); its request gets its
		 * answer before the HTTP server stops. */
		atomic_store(&a.mig.cancel, true);
		bool mig_up = a.mig_thread_up;
		a.mig_thread_up = false;
		pthread_mutex_unlock(&a.lock);
		if (mig_up)
			pthread_join(a.mig_thread, NULL);
	}
	http_stop(&http);
	pthread_mutex_lock(&a.lock);
	a.stopping = true;
	flush_metrics(&a); /* the last counters, with the devices still there */
	log_line(&a, 3, "The microVM ended with status %d.", status);
	pthread_cond_broadcast(&a.cond);
	pthread_mutex_unlock(&a.lock);
	if (a.metrics_thread_up)
		pthread_join(a.metrics_thread, NULL);
	if (sock_path)
		unlink(sock_path);
	if (vm_made) {
		chr_stdio_close(console);
		vm_destroy(&vm);
	}
	if (a.snap_open)
		vm_snapshot_close(&a.snap); /* after the VM: its configuration points into it */
	vm_migrate_in_free(&a.recv_in);
	free(a.mig_body);
	if (a.recv_lfd >= 0)
		close(a.recv_lfd);
	if (a.metrics_fd >= 0)
		close(a.metrics_fd);
	if (a.log_fd >= 0)
		close(a.log_fd);
	/* Drop a wake-up that came after the last wait. */
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&usr1, NULL, &zero) > 0)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return status;
}
