/* Snapshots of a whole VM: the state file and the sparse memory file (snapshot.h). */
#include "vmm/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "host/landlock.h"
#include "state/stream.h"

#define MAGIC         "RVISORVM"
#define HEADER_BYTES  16 /* magic, format, reserved */
#define PAGE          4096u
#define TICK_NS       100u /* the 10 MHz timebase */
#define RVISOR_VER    "0.1"
#define CONFIG_LAYOUT 2 /* 2: each drive's format=raw, the vsock; 1 is still read */
#define VM_LAYOUT     1
#define INFO_LAYOUT   1
#define MEMORY_LAYOUT 1

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put_str(struct state_out *o, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	state_put_u32(o, (uint32_t)n);
	state_put_bytes(o, s, n);
}

/* ---- writing ---- */

static void save_config(const struct vm *vm, struct state_out *o)
{
	const struct vm_config *c = &vm->cfg;
	if (c->deterministic)
		state_out_fail(o, "a deterministic run cannot be saved");
	if (c->nfs)
		state_out_fail(o,
			       "virtio-fs '%s' cannot be saved: its daemon holds the guest's "
			       "requests and memory; take snapshots without --fs",
			       c->fs[0].tag);
	state_begin(o, "config", CONFIG_LAYOUT);
	state_put_u64(o, c->mem_size);
	state_put_u32(o, c->ncpus);
	state_put_bool(o, vm->builtin_sbi);
	state_put_bool(o, c->virtio_console);
	state_put_bool(o, c->keyboard);
	state_put_bool(o, c->balloon);
	state_put_u32(o, c->balloon_mib);
	state_put_bool(o, c->balloon_deflate_on_oom);
	state_put_u32(o, c->balloon_stats_s);
	state_put_u8(o, (uint8_t)c->transport);
	state_put_u32(o, c->ndrives);
	for (unsigned i = 0; i < c->ndrives; i++) {
		const struct vm_drive *d = &c->drives[i];
		put_str(o, d->path);
		state_put_bool(o, d->readonly);
		state_put_bool(o, d->lock);
		state_put_bytes(o, d->id, sizeof(d->id));
		state_put_u8(o, (uint8_t)d->transport);
		state_put_bool(o, d->format_raw);
	}
	state_put_u32(o, c->nnets);
	for (unsigned i = 0; i < c->nnets; i++) {
		const struct vm_net *n = &c->nets[i];
		state_put_u8(o, (uint8_t)n->type);
		state_put_bytes(o, n->tap, sizeof(n->tap));
		state_put_bool(o, n->has_mac);
		state_put_bytes(o, n->mac, sizeof(n->mac));
		state_put_bool(o, n->slirp.restricted);
		state_put_u32(o, n->slirp.nhostfwd);
		for (unsigned k = 0; k < n->slirp.nhostfwd; k++) {
			const struct net_slirp_hostfwd *f = &n->slirp.hostfwd[k];
			state_put_bool(o, f->udp);
			state_put_bytes(o, &f->host_addr, 4); /* network byte order, as held */
			state_put_bytes(o, &f->guest_addr, 4);
			state_put_u16(o, f->host_port);
			state_put_u16(o, f->guest_port);
		}
		state_put_u8(o, (uint8_t)n->transport);
	}
	state_put_u64(o, c->vsock_cid);
	put_str(o, c->vsock_cid ? c->vsock_uds : NULL);
	state_end(o);
}

/* Write len bytes at off of fd, all of them. */
static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static bool page_zero(const uint8_t *p)
{
	static const uint8_t zero[PAGE];
	return !memcmp(p, zero, PAGE);
}

/* Guest RAM into fd, sparse: runs of non-zero pages are written, the rest stays holes. A
 * memfd's holes are skipped without reading them (SEEK_DATA). */
static int save_ram(const struct guest_mem *m, int fd)
{
	if (ftruncate(fd, (off_t)m->size) < 0)
		return -errno;
	uint64_t off = 0;
	while (off < m->size) {
		uint64_t end = m->size;
		if (!m->private_map) {
			off_t d = lseek(m->fd, (off_t)off, SEEK_DATA);
			if (d < 0)
				break; /* ENXIO: only holes from here on */
			off_t h = lseek(m->fd, d, SEEK_HOLE);
			off = (uint64_t)d & ~(uint64_t)(PAGE - 1);
			end = h < 0 ? m->size : (uint64_t)h;
		}
		while (off < end) {
			if (page_zero(m->hva + off)) {
				off += PAGE;
				continue;
			}
			uint64_t run = off + PAGE;
			while (run < end && run - off < (64u << 20) && !page_zero(m->hva + run))
				run += PAGE;
			int rc = pwrite_all(fd, m->hva + off, (size_t)(run - off), off);
			if (rc)
				return rc;
			off = run;
		}
	}
	return 0;
}

/* The pages set in dirty (a dirty log, bit n for the page at n * 4 KiB) into fd, sparse: each
 * run of dirty pages is written whole, zero pages included, everything else stays a hole. */
static int save_ram_diff(const struct guest_mem *m, const uint64_t *dirty, int fd)
{
	if (ftruncate(fd, (off_t)m->size) < 0)
		return -errno;
	uint64_t pages = m->size / PAGE;
	for (uint64_t pg = 0; pg < pages;) {
		if (!(dirty[pg / 64] >> (pg % 64) & 1)) {
			pg++;
			continue;
		}
		uint64_t end = pg + 1;
		while (end < pages && (dirty[end / 64] >> (end % 64) & 1) && end - pg < 16384)
			end++;
		int rc = pwrite_all(fd, m->hva + pg * PAGE, (size_t)((end - pg) * PAGE), pg * PAGE);
		if (rc)
			return rc;
		pg = end;
	}
	return 0;
}

/* The "memory" section: what the memory file holds (SNAPSHOT_FULL: all of RAM; SNAPSHOT_DIFF:
 * only the pages listed, as runs of first page and count, the rest left to the memory file
 * of the snapshot before). */
static void save_memory(struct state_out *o, enum snapshot_type type, const uint64_t *dirty,
			uint64_t pages)
{
	state_begin(o, "memory", MEMORY_LAYOUT);
	state_put_u8(o, (uint8_t)type);
	if (type == SNAPSHOT_DIFF) {
		uint64_t runs = 0;
		for (int pass = 0; pass < 2; pass++) {
			if (pass)
				state_put_u64(o, runs);
			for (uint64_t pg = 0; pg < pages;) {
				if (!(dirty[pg / 64] >> (pg % 64) & 1)) {
					pg++;
					continue;
				}
				uint64_t end = pg + 1;
				while (end < pages && (dirty[end / 64] >> (end % 64) & 1))
					end++;
				if (pass) {
					state_put_u64(o, pg);
					state_put_u64(o, end - pg);
				} else {
					runs++;
				}
				pg = end;
			}
		}
	}
	state_end(o);
}

/* Create path's temporary sibling (owner-only); *tmp receives its name. */
static int create_tmp(const char *path, char *tmp, size_t tmplen)
{
	if ((size_t)snprintf(tmp, tmplen, "%s.tmp", path) >= tmplen)
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

/* The whole state file into o (its memory section of type, with the dirty log's pages for a
 * diff), ending with the CRC; o->failed says why not. */
static void build_state(struct vm *vm, enum snapshot_type type, const uint64_t *dirty,
			struct state_out *o)
{
	state_out_init(o);
	state_put_bytes(o, MAGIC, 8);
	state_put_u32(o, SNAPSHOT_FORMAT);
	state_put_u32(o, 0);
	state_begin(o, "info", INFO_LAYOUT);
	put_str(o, "rvisor " RVISOR_VER);
#if defined(__x86_64__)
	put_str(o, "x86_64");
#elif defined(__aarch64__)
	put_str(o, "aarch64");
#else
	put_str(o, "other");
#endif
	state_end(o);
	save_config(vm, o);
	state_begin(o, "vm", VM_LAYOUT);
	state_put_u64(o, vm_time_now(vm));
	state_end(o);
	for (unsigned i = 0; i < vm->nharts; i++)
		hart_state_save(&vm->harts[i], o);
	vm_devices_state_save(vm, o);
	save_memory(o, type, dirty, vm->mem.size / PAGE);
	if (!o->failed) {
		uint32_t crc = (uint32_t)crc32(0L, o->buf, (uInt)o->len);
		state_put_u32(o, crc);
	}
}

int vm_snapshot_state(struct vm *vm, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	struct state_out o;
	build_state(vm, SNAPSHOT_FULL, NULL, &o);
	if (o.failed) {
		int rc = fail(err, errlen, -EINVAL, "cannot save the VM: %s", o.err);
		state_out_free(&o);
		return rc;
	}
	*buf = o.buf;
	*len = o.len;
	return 0;
}

int vm_snapshot_supported(struct vm *vm, char *err, size_t errlen)
{
	struct state_out o;
	state_out_init(&o);
	save_config(vm, &o);
	int rc = o.failed ? fail(err, errlen, -EINVAL, "%s", o.err) : 0;
	state_out_free(&o);
	return rc;
}

/* Give the pages of a take back to the log (a snapshot that failed). */
static void dirty_give_back(struct vm *vm, const uint64_t *dirty)
{
	uint64_t pages = vm->mem.size / PAGE;
	for (uint64_t pg = 0; pg < pages; pg++)
		if (dirty[pg / 64] >> (pg % 64) & 1)
			guest_mem_mark_dirty(&vm->mem, vm->mem.base + pg * PAGE, PAGE);
}

int vm_snapshot_save(struct vm *vm, const char *state_path, const char *mem_path,
		     enum snapshot_type type, char *err, size_t errlen)
{
	if (!__atomic_load_n(&vm->paused_at_ns, __ATOMIC_ACQUIRE))
		return fail(err, errlen, -EBUSY, "the VM must be paused for a snapshot");
	if (type == SNAPSHOT_DIFF && !vm->mem.dirty)
		return fail(err, errlen, -EINVAL,
			    "a diff snapshot needs dirty page tracking: start the VM with "
			    "track_dirty_pages (or restore it with track_dirty_pages), or take a "
			    "full snapshot");
	vm_devices_quiesce(vm);
	/* The pages written since the last snapshot; the log starts again from here (also for
	 * a full snapshot, which the next diff builds on). */
	uint64_t *dirty = NULL;
	if (vm->mem.dirty) {
		dirty = malloc(guest_mem_dirty_words(&vm->mem) * sizeof(*dirty));
		if (!dirty)
			return fail(err, errlen, -ENOMEM, "out of memory for the dirty log");
		vm_dirty_take(vm, dirty);
	}

	struct state_out o;
	build_state(vm, type, dirty, &o);
	if (o.failed) {
		int rc = fail(err, errlen, -EINVAL, "cannot take a snapshot: %s", o.err);
		state_out_free(&o);
		if (dirty)
			dirty_give_back(vm, dirty);
		free(dirty);
		return rc;
	}

	char tmp_state[4096], tmp_mem[4096];
	int sfd = create_tmp(state_path, tmp_state, sizeof(tmp_state));
	if (sfd < 0) {
		state_out_free(&o);
		if (dirty)
			dirty_give_back(vm, dirty);
		free(dirty);
		return fail(err, errlen, sfd,
			    "cannot write the snapshot '%s' (%s)%s: choose a path "
			    "in a writable directory",
			    state_path, strerror(-sfd), landlock_hint(-sfd));
	}
	int mfd = create_tmp(mem_path, tmp_mem, sizeof(tmp_mem));
	if (mfd < 0) {
		close(sfd);
		unlink(tmp_state);
		state_out_free(&o);
		if (dirty)
			dirty_give_back(vm, dirty);
		free(dirty);
		return fail(err, errlen, mfd,
			    "cannot write the memory file '%s' (%s)%s: choose a "
			    "path in a writable directory",
			    mem_path, strerror(-mfd), landlock_hint(-mfd));
	}
	int rc = pwrite_all(sfd, o.buf, o.len, 0);
	const char *what = state_path;
	if (!rc && fsync(sfd))
		rc = -errno;
	if (!rc) {
		what = mem_path;
		rc = type == SNAPSHOT_DIFF ? save_ram_diff(&vm->mem, dirty, mfd)
					   : save_ram(&vm->mem, mfd);
		if (!rc && fsync(mfd))
			rc = -errno;
	}
	close(sfd);
	close(mfd);
	state_out_free(&o);
	if (!rc && (rename(tmp_mem, mem_path) || rename(tmp_state, state_path)))
		rc = -errno;
	if (rc && dirty)
		dirty_give_back(vm, dirty);
	free(dirty);
	if (rc) {
		unlink(tmp_state);
		unlink(tmp_mem);
		return fail(err, errlen, rc,
			    "cannot write '%s' (%s): free space there or choose "
			    "another path",
			    what, strerror(-rc));
	}
	return 0;
}

/* ---- reading ---- */

static char *get_str(struct state_in *in, char **pool, size_t *left)
{
	uint32_t n = state_get_u32(in);
	if (!state_check(in, n < *left, "a string of %u bytes", n))
		return NULL;
	char *s = *pool;
	state_get_bytes(in, s, n);
	if (!state_check(in, !memchr(s, 0, n), "a string holds a NUL byte"))
		return NULL;
	s[n] = 0;
	*pool += n + 1;
	*left -= n + 1;
	return s;
}

static bool get_transport(struct state_in *in, enum vm_transport *t)
{
	uint8_t v = state_get_u8(in);
	*t = (enum vm_transport)v;
	return state_check(in, v <= VM_TRANSPORT_PCI, "transport %u", v);
}

static int load_config(struct vm_snapshot *s, struct state_in *in)
{
	struct vm_config *c = &s->cfg;
	memset(c, 0, sizeof(*c));
	uint32_t version = state_enter(in, "config");
	if (!state_check(in, version == 1 || version == CONFIG_LAYOUT,
			 "layout version %u (this rvisor reads 1 to %u)", version, CONFIG_LAYOUT))
		return -EINVAL;
	size_t left = in->end - in->pos + 1; /* the strings fit in the section's bytes */
	s->strings = calloc(1, left);
	char *pool = s->strings;
	if (!pool)
		return -ENOMEM;
	c->mem_size = state_get_u64(in);
	state_check(in, c->mem_size && c->mem_size % (2u << 20) == 0 && c->mem_size <= (1ull << 40),
		    "guest RAM of %llu bytes", (unsigned long long)c->mem_size);
	c->ncpus = state_get_u32(in);
	state_check(in, c->ncpus >= 1 && c->ncpus <= VM_MAX_HARTS, "%u harts", c->ncpus);
	bool builtin_sbi = state_get_bool(in);
	/* vm_create reads "no firmware" as "rvisor serves the SBI"; nothing is loaded. */
	c->firmware = builtin_sbi ? NULL : "(the snapshot's firmware, in its memory)";
	c->virtio_console = state_get_bool(in);
	c->keyboard = state_get_bool(in);
	c->balloon = state_get_bool(in);
	c->balloon_mib = state_get_u32(in);
	c->balloon_deflate_on_oom = state_get_bool(in);
	c->balloon_stats_s = state_get_u32(in);
	state_check(in, c->balloon_stats_s <= 86400, "a statistics interval of %u s",
		    c->balloon_stats_s);
	get_transport(in, &c->transport);
	c->ndrives = state_get_u32(in);
	state_check(in, c->ndrives <= VM_MAX_DRIVES, "%u drives", c->ndrives);
	for (unsigned i = 0; i < c->ndrives && !in->failed; i++) {
		struct vm_drive *d = &c->drives[i];
		d->path = get_str(in, &pool, &left);
		d->readonly = state_get_bool(in);
		d->lock = state_get_bool(in);
		state_get_bytes(in, d->id, sizeof(d->id));
		d->id[sizeof(d->id) - 1] = 0;
		get_transport(in, &d->transport);
		if (version >= 2)
			d->format_raw = state_get_bool(in);
		state_check(in, d->path && *d->path, "drive %u has no path", i);
	}
	c->nnets = state_get_u32(in);
	state_check(in, c->nnets <= VM_MAX_NETS, "%u network cards", c->nnets);
	for (unsigned i = 0; i < c->nnets && !in->failed; i++) {
		struct vm_net *n = &c->nets[i];
		uint8_t type = state_get_u8(in);
		state_check(in, type <= VM_NET_TAP, "network card %u of type %u", i, type);
		n->type = (enum vm_net_type)type;
		state_get_bytes(in, n->tap, sizeof(n->tap));
		n->tap[sizeof(n->tap) - 1] = 0;
		n->has_mac = state_get_bool(in);
		state_get_bytes(in, n->mac, sizeof(n->mac));
		n->slirp.restricted = state_get_bool(in);
		n->slirp.nhostfwd = state_get_u32(in);
		state_check(in, n->slirp.nhostfwd <= NET_SLIRP_MAX_HOSTFWD, "%u forwarded ports",
			    n->slirp.nhostfwd);
		for (unsigned k = 0; k < n->slirp.nhostfwd && !in->failed; k++) {
			struct net_slirp_hostfwd *f = &n->slirp.hostfwd[k];
			f->udp = state_get_bool(in);
			state_get_bytes(in, &f->host_addr, 4);
			state_get_bytes(in, &f->guest_addr, 4);
			f->host_port = state_get_u16(in);
			f->guest_port = state_get_u16(in);
			state_check(in, f->host_port && f->guest_port, "a forwarded port 0");
		}
		get_transport(in, &n->transport);
	}
	if (version >= 2) {
		c->vsock_cid = state_get_u64(in);
		const char *uds = get_str(in, &pool, &left);
		state_check(in, !c->vsock_cid || (c->vsock_cid >= 3 && c->vsock_cid <= UINT32_MAX),
			    "vsock guest CID %llu", (unsigned long long)c->vsock_cid);
		state_check(in, !c->vsock_cid || (uds && *uds), "a vsock without a socket path");
		c->vsock_uds = c->vsock_cid ? uds : NULL;
	}
	return state_leave(in) ? 0 : -EINVAL;
}

/* The "memory" section (save_memory), in: the stream positioned at it. Fills s->type and, for
 * a diff, s->runs (checked: in order, not overlapping, inside RAM). */
static void load_memory(struct vm_snapshot *s, struct state_in *in)
{
	uint32_t version = state_enter(in, "memory");
	if (!state_check(in, version == MEMORY_LAYOUT, "layout version %u (this rvisor reads %u)",
			 version, MEMORY_LAYOUT))
		return;
	uint8_t type = state_get_u8(in);
	state_check(in, type == SNAPSHOT_FULL || type == SNAPSHOT_DIFF, "memory file type %u",
		    type);
	s->type = (enum snapshot_type)type;
	if (type == SNAPSHOT_DIFF && !in->failed) {
		uint64_t n = state_get_u64(in), pages = s->cfg.mem_size / PAGE, next = 0;
		/* Each run takes 16 bytes of the section. */
		if (!state_check(in, n <= (in->end - in->pos) / 16, "%llu runs of pages",
				 (unsigned long long)n))
			return;
		s->runs = calloc(n ? n : 1, sizeof(*s->runs));
		if (!state_check(in, s->runs != NULL, "out of memory for %llu runs",
				 (unsigned long long)n))
			return;
		s->nruns = n;
		for (uint64_t i = 0; i < n && !in->failed; i++) {
			s->runs[i].first = state_get_u64(in);
			s->runs[i].count = state_get_u64(in);
			state_check(in,
				    s->runs[i].first >= next && s->runs[i].count &&
					s->runs[i].first < pages &&
					s->runs[i].count <= pages - s->runs[i].first,
				    "a run of %llu pages at page %llu",
				    (unsigned long long)s->runs[i].count,
				    (unsigned long long)s->runs[i].first);
			next = s->runs[i].first + s->runs[i].count;
		}
	}
	state_leave(in);
}

/* Skip to the "memory" section, after the devices' sections, and load it; a snapshot without
 * one (written before it existed) holds a full memory file. */
static void find_memory(struct vm_snapshot *s, struct state_in *in)
{
	char name[STATE_NAME_MAX + 1];
	s->type = SNAPSHOT_FULL;
	while (!in->failed && in->pos < in->len && state_peek(in, name)) {
		if (!strcmp(name, "memory")) {
			load_memory(s, in);
			return;
		}
		state_enter(in, name);
		in->pos = in->end;
		state_leave(in);
	}
}

int vm_snapshot_open(struct vm_snapshot *s, const char *state_path, const char *mem_path, char *err,
		     size_t errlen)
{
	memset(s, 0, sizeof(*s));
	int fd = open(state_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno,
			    "cannot open the snapshot '%s' (%s)%s: check the path", state_path,
			    strerror(errno), landlock_hint(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < HEADER_BYTES + 4 ||
	    (uint64_t)st.st_size > SNAPSHOT_STATE_MAX) {
		close(fd);
		return fail(err, errlen, -EINVAL, "'%s' is not an rvisor snapshot (its size)",
			    state_path);
	}
	s->len = (size_t)st.st_size;
	s->buf = malloc(s->len);
	if (!s->buf) {
		close(fd);
		return fail(err, errlen, -ENOMEM, "out of memory reading '%s'", state_path);
	}
	size_t got = 0;
	while (got < s->len) {
		ssize_t n = pread(fd, s->buf + got, s->len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return fail(err, errlen, -EIO, "cannot read '%s'", state_path);
		}
		got += (size_t)n;
	}
	close(fd);
	return vm_snapshot_parse(s, s->buf, s->len, state_path, mem_path, err, errlen);
}

int vm_snapshot_parse(struct vm_snapshot *s, uint8_t *buf, size_t len, const char *state_path,
		      const char *mem_path, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->buf = buf;
	s->len = len;
	if (len < HEADER_BYTES + 4 || len > SNAPSHOT_STATE_MAX)
		return fail(err, errlen, -EINVAL, "'%s' is not an rvisor snapshot (its size)",
			    state_path);
	if (memcmp(s->buf, MAGIC, 8))
		return fail(err, errlen, -EINVAL,
			    "'%s' is not an rvisor snapshot (no magic number)", state_path);
	uint32_t format =
	    s->buf[8] | s->buf[9] << 8 | s->buf[10] << 16 | (uint32_t)s->buf[11] << 24;
	if (format != SNAPSHOT_FORMAT)
		return fail(err, errlen, -EINVAL,
			    "snapshot '%s' has format version %u; this rvisor reads version %u",
			    state_path, format, SNAPSHOT_FORMAT);
	const uint8_t *t = s->buf + s->len - 4;
	uint32_t crc = t[0] | t[1] << 8 | t[2] << 16 | (uint32_t)t[3] << 24;
	if ((uint32_t)crc32(0L, s->buf, (uInt)(s->len - 4)) != crc)
		return fail(err, errlen, -EINVAL,
			    "snapshot '%s' is damaged (its checksum does not match): take it again",
			    state_path);

	struct state_in in;
	state_in_init(&in, s->buf + HEADER_BYTES, s->len - HEADER_BYTES - 4);
	uint32_t version = state_enter(&in, "info");
	state_check(&in, version == INFO_LAYOUT, "layout version %u", version);
	in.pos = in.end; /* informational only */
	state_leave(&in);
	int rc = in.failed ? -EINVAL : load_config(s, &in);
	if (rc)
		return fail(err, errlen, rc, "snapshot '%s' is not usable: %s", state_path,
			    in.failed ? in.err : strerror(-rc));
	s->body = HEADER_BYTES + in.pos;
	find_memory(s, &in);
	if (in.failed)
		return fail(err, errlen, -EINVAL, "snapshot '%s' is not usable: %s", state_path,
			    in.err);
	s->cfg.restore_mem = mem_path;
	return 0;
}

int vm_snapshot_load(struct vm *vm, struct vm_snapshot *s, char *err, size_t errlen)
{
	struct state_in in;
	state_in_init(&in, s->buf + s->body, s->len - s->body - 4);
	uint32_t version = state_enter(&in, "vm");
	state_check(&in, version == VM_LAYOUT, "layout version %u", version);
	uint64_t ticks = state_get_u64(&in);
	state_leave(&in);
	/* The guest's clock goes on from where it stood. */
	if (state_check(&in, ticks < UINT64_MAX / TICK_NS, "a guest clock of %llu ticks",
			(unsigned long long)ticks)) {
		/* Modulo 2^64, as vm_time_now subtracts: the guest's clock may be ahead of this
		 * host's monotonic clock. */
		__atomic_store_n(&vm->time_base_ns, monotonic_ns() - ticks * TICK_NS,
				 __ATOMIC_RELEASE);
	}
	for (unsigned i = 0; i < vm->nharts && !in.failed; i++)
		hart_state_load(&vm->harts[i], &in);
	if (!in.failed)
		vm_devices_state_load(vm, &in);
	char next[STATE_NAME_MAX + 1];
	if (!in.failed && in.pos < in.len && state_peek(&in, next) && !strcmp(next, "memory")) {
		state_enter(&in, "memory"); /* read by vm_snapshot_open */
		in.pos = in.end;
		state_leave(&in);
	}
	if (!in.failed)
		state_check(&in, in.pos == in.len, "%zu bytes after the last device's section",
			    in.len - in.pos);
	if (in.failed)
		return fail(err, errlen, -EINVAL, "the snapshot does not fit this VM: %s", in.err);
	s->guest_ticks = ticks;
	return 0;
}

static int file_of_size(const char *path, int flags, uint64_t size, char *err, size_t errlen)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "cannot open '%s' (%s): check the path", path,
			    strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		close(fd);
		return fail(err, errlen, -EINVAL,
			    "'%s' is not a memory file of this snapshot's %llu MiB of RAM", path,
			    (unsigned long long)(size >> 20));
	}
	return fd;
}

int vm_snapshot_rebase(const struct vm_snapshot *s, const char *diff_path, const char *base_path,
		       char *err, size_t errlen)
{
	if (s->type != SNAPSHOT_DIFF)
		return fail(err, errlen, -EINVAL,
			    "the snapshot is a full one: its memory file is whole already");
	int dfd = file_of_size(diff_path, O_RDONLY, s->cfg.mem_size, err, errlen);
	if (dfd < 0)
		return dfd;
	int bfd = file_of_size(base_path, O_RDWR, s->cfg.mem_size, err, errlen);
	if (bfd < 0) {
		close(dfd);
		return bfd;
	}
	size_t bufsz = 1u << 20;
	uint8_t *buf = malloc(bufsz);
	int rc = buf ? 0 : -ENOMEM;
	const char *what = diff_path;
	for (uint64_t i = 0; i < s->nruns && !rc; i++) {
		uint64_t off = s->runs[i].first * PAGE, left = s->runs[i].count * PAGE;
		while (left && !rc) {
			size_t n = left < bufsz ? (size_t)left : bufsz;
			ssize_t got = pread(dfd, buf, n, (off_t)off);
			if (got < 0 && errno == EINTR)
				continue;
			if (got != (ssize_t)n) {
				rc = got < 0 ? -errno : -EIO;
				what = diff_path;
				break;
			}
			rc = pwrite_all(bfd, buf, n, off);
			what = base_path;
			off += n;
			left -= n;
		}
	}
	if (!rc && fsync(bfd)) {
		rc = -errno;
		what = base_path;
	}
	free(buf);
	close(dfd);
	close(bfd);
	if (rc)
		return fail(err, errlen, rc, "cannot copy the diff's pages (%s on '%s')",
			    strerror(-rc), what);
	return 0;
}

void vm_snapshot_close(struct vm_snapshot *s)
{
	free(s->buf);
	free(s->strings);
	free(s->runs);
	s->buf = NULL;
	s->strings = NULL;
	s->runs = NULL;
}
