/* Live migration by pre-copy over a stream socket (migrate.h). */
#include "vmm/migrate.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "vmm/snapshot.h"

#define MAGIC         "RVISORMG"
#define PAGE          4096u
#define IO_TIMEOUT_S  30   /* a peer silent this long has gone */
#define CHUNK_PAGES   256  /* pages per record: 1 MiB */
#define MAX_ROUNDS    30   /* passes while the guest runs */
#define STOP_PAGES    2048 /* dirty pages left to stop and copy: 8 MiB */
#define THROTTLE_STEP 20   /* auto-converge: percent more sleep each time */
#define THROTTLE_MAX  80
#define MAX_RAM_BYTES (1ull << 40) /* as a snapshot's configuration allows */
#define STR_(x)       #x
#define STR(x)        STR_(x)

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

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- the socket ---- */

/* "unix:PATH" or "tcp:HOST:PORT" into an address. Returns 0 or -EINVAL. */
static int resolve(const char *url, struct sockaddr_storage *sa, socklen_t *len, bool passive)
{
	memset(sa, 0, sizeof(*sa));
	if (!strncmp(url, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)sa;
		const char *path = url + 5;
		if (!*path || strlen(path) >= sizeof(un->sun_path))
			return -EINVAL;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		*len = sizeof(*un);
		return 0;
	}
	if (strncmp(url, "tcp:", 4))
		return -EINVAL;
	char host[256];
	const char *colon = strrchr(url + 4, ':');
	if (!colon || (size_t)(colon - (url + 4)) >= sizeof(host) || !colon[1])
		return -EINVAL;
	memcpy(host, url + 4, (size_t)(colon - (url + 4)));
	host[colon - (url + 4)] = 0;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || (!passive && port == 0))
		return -EINVAL;
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
	struct addrinfo *res;
	if (getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res) || !res)
		return -EINVAL;
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void set_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on Unix: fine */
}

static int send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Exactly len bytes; -ECONNRESET when the peer closed first, -EAGAIN on a timeout. */
static int recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A record's header; crc is the CRC-32 (zlib's) of the bytes that follow it, 0 for none. */
static int send_record_crc(int fd, enum migrate_record type, uint32_t crc, uint64_t a, uint64_t b)
{
	uint8_t r[24];
	put32(r, type);
	put32(r + 4, crc);
	put64(r + 8, a);
	put64(r + 16, b);
	return send_all(fd, r, sizeof(r));
}

static int send_record(int fd, enum migrate_record type, uint64_t a, uint64_t b)
{
	return send_record_crc(fd, type, 0, a, b);
}

/* One migration's sending side: the connection, the bandwidth cap (bytes sent since t0 never
 * run ahead of limit bytes per second; 0: none), the buffer page data is copied into before
 * it goes, and the progress that other threads read. */
struct sender {
	int fd;
	uint64_t limit, t0, bytes;
	uint8_t *bounce; /* CHUNK_PAGES pages */
	struct migrate_progress *prog;
	uint64_t pages; /* 4 KiB pages sent, all rounds */
};

static void pace_after(struct sender *s, size_t len)
{
	s->bytes += len;
	if (!s->limit)
		return;
	uint64_t due = s->t0 + (uint64_t)((double)s->bytes * 1e9 / (double)s->limit);
	uint64_t now = monotonic_ns();
	if (due > now) {
		struct timespec d = {(time_t)((due - now) / 1000000000ull),
				     (long)((due - now) % 1000000000ull)};
		nanosleep(&d, NULL);
	}
}

/* A record with its bytes. Guest RAM may change under a running guest while it goes: the
 * bytes are copied first (up to CHUNK_PAGES pages), so that the CRC covers exactly what is
 * sent. -ECANCELED once the migration was cancelled. */
static int send_data(struct sender *s, enum migrate_record type, uint64_t a, uint64_t b,
		     const void *p, size_t len)
{
	if (atomic_load_explicit(&s->prog->cancel, memory_order_relaxed))
		return -ECANCELED;
	if (len <= (size_t)CHUNK_PAGES * PAGE) {
		memcpy(s->bounce, p, len);
		p = s->bounce;
	}
	int rc = send_record_crc(s->fd, type, (uint32_t)crc32(0L, p, (uInt)len), a, b);
	if (!rc)
		rc = send_all(s->fd, p, len);
	if (!rc) {
		pace_after(s, len);
		atomic_store_explicit(&s->prog->bytes_sent, s->bytes, memory_order_relaxed);
	}
	return rc;
}

/* ---- sending ---- */

static bool page_zero(const uint8_t *p)
{
	static const uint8_t zero[PAGE];
	return !memcmp(p, zero, PAGE);
}

/* Pages run .. run + n - 1 of RAM, in one record. */
static int send_run(struct sender *s, const struct guest_mem *m, uint64_t run, uint64_t n)
{
	int rc = send_data(s, MIGRATE_PAGES, run, n, m->hva + run * PAGE, (size_t)(n * PAGE));
	if (!rc) {
		s->pages += n;
		atomic_store_explicit(&s->prog->pages_sent, s->pages, memory_order_relaxed);
	}
	return rc;
}

/* Pages first .. end - 1, those holding anything but zeroes. */
static int send_range(struct sender *s, const struct guest_mem *m, uint64_t first, uint64_t end)
{
	for (uint64_t pg = first; pg < end;) {
		if (page_zero(m->hva + pg * PAGE)) {
			pg++;
			continue;
		}
		uint64_t last = pg + 1;
		while (last < end && last - pg < CHUNK_PAGES && !page_zero(m->hva + last * PAGE))
			last++;
		int rc = send_run(s, m, pg, last - pg);
		if (rc)
			return rc;
		pg = last;
	}
	return 0;
}

/* Send the pages set in bits (all of RAM when bits is NULL; then pages of zeroes are skipped,
 * as the destination's RAM starts zeroed, and a memfd's holes are not even read: reading
 * them would allocate them). */
static int send_pages(struct sender *s, const struct guest_mem *m, const uint64_t *bits)
{
	uint64_t pages = m->size / PAGE;
	if (!bits && !m->private_map) {
		uint64_t off = 0;
		while (off < m->size) {
			off_t d = lseek(m->fd, (off_t)off, SEEK_DATA);
			if (d < 0)
				break; /* ENXIO: only holes from here on */
			off_t h = lseek(m->fd, d, SEEK_HOLE);
			uint64_t first = (uint64_t)d / PAGE;
			uint64_t end = h < 0 ? pages : ((uint64_t)h + PAGE - 1) / PAGE;
			int rc = send_range(s, m, first, end < pages ? end : pages);
			if (rc)
				return rc;
			off = end * PAGE;
		}
		return 0;
	}
	for (uint64_t pg = 0; pg < pages;) {
		bool want = bits ? bits[pg / 64] >> (pg % 64) & 1 : !page_zero(m->hva + pg * PAGE);
		if (!want) {
			pg++;
			continue;
		}
		uint64_t end = pg + 1;
		while (end < pages && end - pg < CHUNK_PAGES &&
		       (bits ? bits[end / 64] >> (end % 64) & 1 : !page_zero(m->hva + end * PAGE)))
			end++;
		int rc = send_run(s, m, pg, end - pg);
		if (rc)
			return rc;
		pg = end;
	}
	return 0;
}

static int connect_url(const char *url, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t len;
	if (resolve(url, &sa, &len, false))
		return fail(err, errlen, -EINVAL,
			    "destination_url '%s' is not unix:PATH or tcp:HOST:PORT", url);
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return fail(err, errlen, -e,
			    "cannot reach the destination %s (%s): start 'rvisor receive --listen "
			    "%s' there first",
			    url, strerror(e), url);
	}
	set_timeouts(fd);
	return fd;
}

/* A destination that refused the stream before its end answered why and closed: that answer,
 * if it is waiting in the socket, into why (printable). */
static bool peer_reason(int fd, char *why, size_t len)
{
	uint8_t ans[8];
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (recv_all(fd, ans, sizeof(ans)) || !get32(ans))
		return false;
	uint32_t n = get32(ans + 4);
	size_t take = n < len - 1 ? n : len - 1;
	if (recv_all(fd, why, take))
		take = 0;
	why[take] = 0;
	for (size_t i = 0; i < take; i++)
		if ((unsigned char)why[i] < 0x20)
			why[i] = ' ';
	return take > 0;
}

/* Auto-converge: every hart sleeps pct percent of its time (0: none). */
static void set_throttle(struct vm *vm, unsigned pct)
{
	for (unsigned i = 0; i < vm->nharts; i++)
		atomic_store(&vm->harts[i].throttle_pct, pct);
}

/* Time the harts slept for auto-converge, in all (ns). */
static uint64_t throttled_ns(const struct vm *vm)
{
	uint64_t ns = 0;
	for (unsigned i = 0; i < vm->nharts; i++)
		ns += atomic_load(&vm->harts[i].throttled_ns);
	return ns;
}

int vm_migrate_send(struct vm *vm, const char *url, uint64_t max_bandwidth,
		    struct migrate_progress *prog, struct migrate_stats *st, char *err,
		    size_t errlen)
{
	struct migrate_progress own = {0};
	if (!prog)
		prog = &own;
	memset(st, 0, sizeof(*st));
	uint64_t t0 = monotonic_ns();
	atomic_store(&prog->start_ns, t0);
	atomic_store(&prog->stage, MIGRATE_CONNECTING);
	uint64_t slept0 = throttled_ns(vm);
	int rc = vm_snapshot_supported(vm, err, errlen);
	struct sender s = {.fd = -1, .limit = max_bandwidth, .t0 = t0, .prog = prog};
	if (!rc)
		rc = s.fd = connect_url(url, err, errlen);
	if (rc < 0) {
		atomic_store(&prog->stage, MIGRATE_FAILED);
		return rc;
	}
	rc = 0;
	struct guest_mem *m = &vm->mem;
	uint64_t *bits = malloc(guest_mem_dirty_words(m) * sizeof(*bits));
	s.bounce = malloc((size_t)CHUNK_PAGES * PAGE);
	if (!bits || !s.bounce || guest_mem_dirty_enable(m)) {
		free(bits);
		free(s.bounce);
		close(s.fd);
		atomic_store(&prog->stage, MIGRATE_FAILED);
		return fail(err, errlen, -ENOMEM, "out of memory for the dirty log");
	}
	atomic_store(&prog->stage, MIGRATE_PRECOPY);
	bool was_paused = __atomic_load_n(&vm->paused_at_ns, __ATOMIC_ACQUIRE) != 0;
	bool paused = was_paused, released = false;
	uint8_t *state = NULL;
	size_t state_len = 0;
	const char *stage = "sending guest RAM";

	uint8_t hdr[24];
	memcpy(hdr, MAGIC, 8);
	put32(hdr + 8, MIGRATE_VERSION);
	put32(hdr + 12, 0);
	put64(hdr + 16, m->size);
	rc = send_all(s.fd, hdr, sizeof(hdr));
	/* Round 1: all of RAM (what the log held before is beside the point: the destination
	 * has nothing); the take starts the log and makes every hart mark its next stores. */
	uint64_t t_round = monotonic_ns(), bytes_round = 0;
	if (!rc) {
		vm_dirty_take(vm, bits);
		atomic_store(&prog->rounds, 1);
		rc = send_pages(&s, m, NULL);
		st->rounds = 1;
	}
	/* Then what the guest wrote meanwhile, until little is left or it writes faster than
	 * the link carries (the round cap). */
	uint64_t prev = UINT64_MAX;
	unsigned slow = 0;
	while (!rc && !paused && st->rounds < MAX_ROUNDS) {
		uint64_t n = vm_dirty_take(vm, bits);
		/* What the last round shows: the guest's write rate, the link's speed, and so
		 * how long the guest would stand still if it stopped now. */
		uint64_t now = monotonic_ns(), dt = now - t_round ? now - t_round : 1;
		uint64_t bw = (uint64_t)((double)(s.bytes - bytes_round) * 1e9 / (double)dt);
		atomic_store(&prog->dirty_pages, n);
		atomic_store(&prog->dirty_rate, (uint64_t)((double)n * 1e9 / (double)dt));
		atomic_store(&prog->bandwidth, bw);
		atomic_store(&prog->expected_downtime_ns,
			     bw ? (uint64_t)((double)n * PAGE * 1e9 / (double)bw) : 0);
		t_round = now;
		bytes_round = s.bytes;
		/* Two rounds in a row that did not shrink by a tenth: the guest writes about as
		 * fast as the link carries. Slow its harts down, more each time (QEMU calls it
		 * auto-converge). */
		slow = n * 10 > prev * 9 ? slow + 1 : 0;
		prev = n;
		if (slow >= 2 && st->throttle_pct < THROTTLE_MAX) {
			st->throttle_pct += THROTTLE_STEP;
			set_throttle(vm, st->throttle_pct);
			atomic_store(&prog->throttle_pct, st->throttle_pct);
			slow = 0;
		}
		if (n <= STOP_PAGES) {
			/* Few enough: those go with the last pass (the log keeps them). */
			for (uint64_t w = 0; w < guest_mem_dirty_words(m); w++)
				for (uint64_t b = bits[w]; b; b &= b - 1)
					guest_mem_mark_dirty(
					    m,
					    m->base +
						(w * 64 + (unsigned)__builtin_ctzll(b)) * PAGE,
					    PAGE);
			break;
		}
		st->rounds++;
		atomic_store(&prog->rounds, st->rounds);
		rc = send_pages(&s, m, bits);
	}
	if (!rc && atomic_load(&prog->cancel))
		rc = -ECANCELED;
	/* Stop and copy: the guest stands still while the last pages and the state go, at the
	 * link's full speed. */
	uint64_t t_pause = monotonic_ns();
	s.limit = 0;
	if (!rc) {
		atomic_store(&prog->stage, MIGRATE_STOP_COPY);
		if (!paused)
			vm_pause(vm);
		paused = true;
		vm_devices_quiesce(vm);
		uint64_t n = vm_dirty_take(vm, bits);
		atomic_store(&prog->dirty_pages, n);
		uint64_t before = s.pages;
		rc = send_pages(&s, m, bits);
		st->last_pages = s.pages - before;
	}
	if (!rc) {
		stage = "saving the VM";
		rc = vm_snapshot_state(vm, &state, &state_len, err, errlen);
		if (rc) {
			send_record(s.fd, MIGRATE_ABORT, 0, 0);
			goto out;
		}
		st->state_bytes = state_len;
		stage = "handing over the disks, TAPs and vsock";
		rc = vm_hand_over(vm, true, err, errlen);
		released = true;
		if (rc) {
			send_record(s.fd, MIGRATE_ABORT, 0, 0);
			goto out;
		}
		stage = "sending the VM's state";
		rc = send_data(&s, MIGRATE_STATE, state_len, 0, state, state_len);
	}
	if (!rc) {
		stage = "waiting for the destination";
		atomic_store(&prog->stage, MIGRATE_HANDOVER);
		uint8_t ans[8];
		rc = recv_all(s.fd, ans, sizeof(ans));
		if (!rc && get32(ans)) {
			char msg[400];
			uint32_t n = get32(ans + 4);
			size_t take = n < sizeof(msg) - 1 ? n : sizeof(msg) - 1;
			if (recv_all(s.fd, msg, take))
				take = 0;
			msg[take] = 0;
			for (size_t i = 0; i < take; i++)
				if ((unsigned char)msg[i] < 0x20)
					msg[i] = ' ';
			rc = fail(err, errlen, -EREMOTEIO, "the destination %s refused the VM: %s",
				  url, take ? msg : "(no reason given)");
			goto out;
		}
		if (!rc) {
			/* From here on the guest is the destination's. */
			stage = "telling the destination to go";
			rc = send_record(s.fd, MIGRATE_GO, 0, 0);
			if (!rc) {
				set_throttle(vm, 0);
				st->pages_sent = s.pages;
				st->throttled_ns = throttled_ns(vm) - slept0;
				st->downtime_ns = monotonic_ns() - t_pause;
				st->total_ns = monotonic_ns() - t0;
				atomic_store(&prog->stage, MIGRATE_COMPLETED);
				free(state);
				free(bits);
				free(s.bounce);
				close(s.fd);
				return 0;
			}
		}
	}
	char why[300];
	if (rc == -ECANCELED) {
		send_record(s.fd, MIGRATE_ABORT, 0, 0);
		fail(err, errlen, rc,
		     "the migration to %s was cancelled while %s; the guest runs here still", url,
		     stage);
	} else if (rc && (rc == -EPIPE || rc == -ECONNRESET) && peer_reason(s.fd, why, sizeof(why)))
		fail(err, errlen, rc, "the destination %s refused the VM: %s", url, why);
	else if (rc) /* a send or receive that failed */
		fail(err, errlen, rc, "the migration to %s failed while %s: %s", url, stage,
		     rc == -EPIPE || rc == -ECONNRESET ? "the destination went away"
		     : rc == -EAGAIN || rc == -EWOULDBLOCK
			 ? "the destination did not answer for " STR(IO_TIMEOUT_S) " s"
			 : strerror(-rc));
out:
	/* The source keeps the guest: its disks back, running again (at full speed) if it
	 * was. */
	set_throttle(vm, 0);
	atomic_store(&prog->throttle_pct, 0);
	if (released) {
		char e2[256];
		if (vm_hand_over(vm, false, e2, sizeof(e2))) {
			/* Someone holds the disks now: running would corrupt them. Stay paused. */
			size_t l = strlen(err);
			snprintf(err + l, errlen - l, "; %s: the VM stays paused", e2);
			was_paused = true;
		}
	}
	if (paused && !was_paused)
		vm_resume(vm);
	st->pages_sent = s.pages;
	atomic_store(&prog->stage, rc == -ECANCELED ? MIGRATE_CANCELLED : MIGRATE_FAILED);
	free(state);
	free(bits);
	free(s.bounce);
	close(s.fd);
	return rc ? rc : -EIO;
}

/* ---- receiving ---- */

static int listen_url(const char *url, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t len;
	if (resolve(url, &sa, &len, true))
		return fail(err, errlen, -EINVAL, "--listen '%s' is not unix:PATH or tcp:HOST:PORT",
			    url);
	/* A Unix socket is made under a temporary name and renamed into place once it listens,
	 * so a source that sees the path can connect. An existing path is not replaced. */
	bool un = sa.ss_family == AF_UNIX;
	const char *path = url + 5;
	char tmp[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	if (un) {
		struct stat st;
		if (!lstat(path, &st)) {
			errno = EADDRINUSE;
			return fail(err, errlen, -EADDRINUSE,
				    "cannot listen at %s: the path exists; remove it or choose "
				    "another",
				    url);
		}
		struct sockaddr_un *a = (struct sockaddr_un *)&sa;
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid()) >=
		    sizeof(a->sun_path))
			return fail(err, errlen, -ENAMETOOLONG,
				    "--listen '%s': the path is too long", url);
		unlink(tmp);
		strcpy(a->sun_path, tmp);
	}
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0 && !un)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) || (un && chmod(tmp, 0600)) ||
	    listen(fd, 1) || (un && rename(tmp, path))) {
		int e = errno;
		if (un)
			unlink(tmp);
		if (fd >= 0)
			close(fd);
		return fail(err, errlen, -e, "cannot listen at %s (%s): %s", url, strerror(e),
			    e == EADDRINUSE ? "remove the old socket or choose another address"
					    : "choose another address");
	}
	return fd;
}

int vm_migrate_listen(const char *url, char *err, size_t errlen)
{
	return listen_url(url, err, errlen);
}

int vm_migrate_receive(const char *url, struct migrate_in *in, char *err, size_t errlen)
{
	memset(in, 0, sizeof(*in));
	in->fd = in->mem_fd = -1;
	int lfd = listen_url(url, err, errlen);
	if (lfd < 0)
		return lfd;
	fprintf(stderr, "rvisor: waiting for a migration at %s\n", url);
	return vm_migrate_accept(lfd, url, in, err, errlen);
}

int vm_migrate_accept(int lfd, const char *url, struct migrate_in *in, char *err, size_t errlen)
{
	memset(in, 0, sizeof(*in));
	in->fd = in->mem_fd = -1;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	int e = errno;
	close(lfd);
	if (!strncmp(url, "unix:", 5))
		unlink(url + 5);
	if (fd < 0)
		return fail(err, errlen, -e, "accepting the migration at %s failed (%s)", url,
			    strerror(e));
	set_timeouts(fd);
	return vm_migrate_read(fd, url, in, err, errlen);
}

int vm_migrate_read(int fd, const char *url, struct migrate_in *in, char *err, size_t errlen)
{
	memset(in, 0, sizeof(*in));
	in->mem_fd = -1;
	in->fd = fd;

	const char *what = "the header";
	uint8_t hdr[24];
	int rc = recv_all(fd, hdr, sizeof(hdr));
	if (rc)
		goto cut;
	if (memcmp(hdr, MAGIC, 8))
		return fail(err, errlen, -EPROTO, "what came to %s is not an rvisor migration",
			    url);
	if (get32(hdr + 8) != MIGRATE_VERSION)
		return fail(err, errlen, -EPROTO,
			    "the source speaks migration version %u; this rvisor speaks %u",
			    get32(hdr + 8), MIGRATE_VERSION);
	in->mem_size = get64(hdr + 16);
	if (!in->mem_size || in->mem_size % (2u << 20) || in->mem_size > MAX_RAM_BYTES)
		return fail(err, errlen, -EPROTO,
			    "the source's guest RAM of %llu bytes is not valid",
			    (unsigned long long)in->mem_size);
	in->mem_fd = memfd_create("rvisor-ram", MFD_CLOEXEC);
	if (in->mem_fd < 0 || ftruncate(in->mem_fd, (off_t)in->mem_size))
		return fail(err, errlen, -ENOMEM, "cannot make %llu MiB of guest RAM (%s)",
			    (unsigned long long)(in->mem_size >> 20), strerror(errno));
	uint8_t *ram = mmap(NULL, (size_t)in->mem_size, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_NORESERVE, in->mem_fd, 0);
	if (ram == MAP_FAILED)
		return fail(err, errlen, -ENOMEM, "cannot map %llu MiB of guest RAM (%s)",
			    (unsigned long long)(in->mem_size >> 20), strerror(errno));
	uint64_t pages = in->mem_size / PAGE;
	for (;;) {
		uint8_t r[24];
		what = "a record";
		if ((rc = recv_all(fd, r, sizeof(r))))
			break;
		uint32_t type = get32(r);
		uint64_t a = get64(r + 8), b = get64(r + 16);
		if (type == MIGRATE_PAGES) {
			if (!b || a >= pages || b > pages - a || b > CHUNK_PAGES * 64ull) {
				rc =
				    fail(err, errlen, -EPROTO,
					 "the source sent %llu pages at page %llu, outside its RAM",
					 (unsigned long long)b, (unsigned long long)a);
				break;
			}
			what = "guest RAM";
			if ((rc = recv_all(fd, ram + a * PAGE, (size_t)(b * PAGE))))
				break;
			if ((uint32_t)crc32(0L, ram + a * PAGE, (uInt)(b * PAGE)) != get32(r + 4)) {
				rc = fail(err, errlen, -EBADMSG,
					  "%llu pages at page %llu were damaged on the way (their "
					  "CRC-32 does not match)",
					  (unsigned long long)b, (unsigned long long)a);
				break;
			}
		} else if (type == MIGRATE_STATE) {
			if (!a || a > SNAPSHOT_STATE_MAX) {
				rc = fail(err, errlen, -EPROTO, "the source's state of %llu bytes",
					  (unsigned long long)a);
				break;
			}
			what = "the VM's state";
			in->state = malloc((size_t)a);
			if (!in->state) {
				rc = fail(err, errlen, -ENOMEM, "out of memory for the state");
				break;
			}
			in->state_len = (size_t)a;
			rc = recv_all(fd, in->state, in->state_len);
			if (!rc &&
			    (uint32_t)crc32(0L, in->state, (uInt)in->state_len) != get32(r + 4))
				rc = fail(
				    err, errlen, -EBADMSG,
				    "the VM's state was damaged on the way (its CRC-32 does not "
				    "match)");
			break;
		} else if (type == MIGRATE_ABORT) {
			rc = fail(err, errlen, -ECANCELED,
				  "the source gave the migration up; the guest runs there still");
			break;
		} else {
			rc =
			    fail(err, errlen, -EPROTO, "the source sent a record of type %u", type);
			break;
		}
	}
	munmap(ram, (size_t)in->mem_size);
	if (!rc)
		return 0;
	if (rc == -EPROTO || rc == -EBADMSG || rc == -ENOMEM) {
		/* The source is still there: tell it why, so its answer names the reason. */
		vm_migrate_answer(in, false, err);
		return rc;
	}
	if (rc == -ECANCELED)
		return rc;
cut:
	return fail(err, errlen, rc, "the migration stream was cut short in %s (%s)", what,
		    rc == -ECONNRESET ? "the source went away" : strerror(-rc));
}

int vm_migrate_answer(struct migrate_in *in, bool ok, const char *msg)
{
	size_t n = ok || !msg ? 0 : strlen(msg);
	uint8_t ans[8];
	put32(ans, ok ? 0 : 1);
	put32(ans + 4, (uint32_t)n);
	if (send_all(in->fd, ans, sizeof(ans)) || (n && send_all(in->fd, msg, n)) || !ok)
		return -1;
	uint8_t r[24];
	/* The source only has to send one record; a slow one still gets IO_TIMEOUT_S. */
	if (recv_all(in->fd, r, sizeof(r)) || get32(r) != MIGRATE_GO)
		return -1;
	return 0;
}

void vm_migrate_in_free(struct migrate_in *in)
{
	if (in->fd >= 0)
		close(in->fd);
	if (in->mem_fd >= 0)
		close(in->mem_fd);
	free(in->state);
	in->fd = in->mem_fd = -1;
	in->state = NULL;
}
