/* The slirp network backend: libslirp (4.x, SlirpConfig version 4) on a thread of its own
 * running a poll loop over slirp's sockets (slirp_pollfds_fill / slirp_pollfds_poll) and
 * its timers. libslirp is not thread-safe, so one lock covers every call into it: the poll
 * thread holds it except while in poll(2). Frames from the guest do not take that lock:
 * send copies them into a queue that the poll thread feeds to slirp (slirp_input) at the
 * start of each round, and wakes the loop only when it sleeps. So the sending (vCPU) thread
 * neither waits for slirp nor runs its socket writes, and needs no SIGPIPE guard: the poll
 * thread blocks all signals. Frames slirp emits go to the attached device under the main
 * lock, which also makes attach synchronous. */
#include "host/net_slirp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "host/net.h"
#include "host/seccomp.h"

#define SLIRP_GUEST_ERRORS_SHOWN 8 /* messages about guest misbehaviour printed at most */
#define SLIRP_TIMERS_PER_ROUND   64
#define SLIRP_TXQ_BYTES          (1u << 20) /* queued frames from the guest, with lengths */
#define SLIRP_TXQ_PER_ROUND      256        /* frames fed to slirp per poll round at most */

/* A timer slirp asked for: a callback (timer_new) or an id (timer_new_opaque). */
struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerCb cb; /* NULL: fire with slirp_handle_timer(id) */
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms; /* on the clock_get_ns clock; -1: not armed */
};

struct net_slirp {
	struct net_backend nb; /* first: the struct net_backend * handed out points here */

	pthread_mutex_t lock; /* guards everything below, and every call into slirp */
	Slirp *slirp;
	net_receive_fn receive;
	void *receive_opaque;
	struct slirp_timer *timers;
	struct pollfd *pfd; /* this round's descriptors; pfd[0] is wake_fd */
	unsigned npfd, pfd_cap;
	bool stop;
	unsigned guest_errors;

	int wake_fd; /* an eventfd: rouses the poll loop */
	pthread_t thread;
	bool thread_started;
	uint8_t *frame; /* poll thread only: the frame being fed to slirp, NET_FRAME_MAX bytes */

	/* Frames from the guest for the poll thread: a ring of SLIRP_TXQ_BYTES holding each
	 * frame as its length (uint32_t, host order) and its bytes. Taken after lock when both
	 * are held. */
	pthread_mutex_t txq_lock;
	uint8_t *txq;
	size_t txq_head, txq_used; /* offset of the oldest frame; bytes in use */
	bool poll_sleeping;        /* the loop sleeps (or will) with the queue empty: wake it */
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wake(struct net_slirp *s)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: the loop will wake anyway. */
	if (write(s->wake_fd, &one, sizeof(one)) < 0)
		return;
}

/* ---- callbacks from slirp, all made with s->lock held ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *s = opaque;
	if (s->receive && len >= NET_ETH_HLEN && len <= NET_FRAME_MAX)
		s->receive(s->receive_opaque, buf, len);
	return (ssize_t)len;
}

/* The guest's mistakes are its own: shown a few times, then only counted. */
static void cb_guest_error(const char *msg, void *opaque)
{
	struct net_slirp *s = opaque;
	if (s->guest_errors++ < SLIRP_GUEST_ERRORS_SHOWN)
		fprintf(stderr, "rvisor: net: guest error: %s\n", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return now_ns();
}

static struct slirp_timer *timer_add(struct net_slirp *s, SlirpTimerCb cb, SlirpTimerId id,
				     void *cb_opaque)
{
	struct slirp_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	*t = (struct slirp_timer){s->timers, cb, id, cb_opaque, -1};
	s->timers = t;
	return t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	return timer_add(opaque, cb, SLIRP_TIMER_RA, cb_opaque);
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	return timer_add(opaque, NULL, id, cb_opaque);
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;
	for (struct slirp_timer **p = &s->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = (*p)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;
	if (!t)
		return;
	t->expire_ms = expire_ms < 0 ? 0 : expire_ms;
	wake(opaque); /* the loop may be sleeping past the new expiry */
}

/* The poll set is rebuilt every round from slirp_pollfds_fill: nothing to keep. */
static void cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void cb_notify(void *opaque)
{
	wake(opaque);
}

static void cb_init_completed(Slirp *slirp, void *opaque)
{
	(void)slirp;
	(void)opaque;
}

static const SlirpCb slirp_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .init_completed = cb_init_completed,
    .timer_new_opaque = cb_timer_new_opaque,
};

/* ---- the poll loop ---- */

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;
	if (s->npfd == s->pfd_cap) {
		unsigned cap = s->pfd_cap * 2;
		struct pollfd *p = cap > s->pfd_cap ? realloc(s->pfd, cap * sizeof(*p)) : NULL;
		if (!p)
			return -1; /* slirp skips a socket it has no index for */
		s->pfd = p;
		s->pfd_cap = cap;
	}
	short ev = 0;
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	s->pfd[s->npfd] = (struct pollfd){.fd = fd, .events = ev};
	return (int)s->npfd++;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct net_slirp *s = opaque;
	if (idx <= 0 || (unsigned)idx >= s->npfd)
		return 0;
	short rev = s->pfd[idx].revents;
	int r = 0;
	if (rev & POLLIN)
		r |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		r |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		r |= SLIRP_POLL_PRI;
	if (rev & (POLLERR | POLLNVAL))
		r |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

/* Milliseconds until the earliest armed timer, at most limit. */
static uint32_t timers_timeout(const struct net_slirp *s, uint32_t limit)
{
	int64_t now = now_ns() / 1000000;
	for (const struct slirp_timer *t = s->timers; t; t = t->next) {
		if (t->expire_ms < 0)
			continue;
		if (t->expire_ms <= now)
			return 0;
		if (t->expire_ms - now < (int64_t)limit)
			limit = (uint32_t)(t->expire_ms - now);
	}
	return limit;
}

/* Fire the timers that are due. A handler may re-arm or free timers, so the list is scanned
 * again after each. */
static void timers_run(struct net_slirp *s)
{
	int64_t now = now_ns() / 1000000;
	for (unsigned n = 0; n < SLIRP_TIMERS_PER_ROUND; n++) {
		struct slirp_timer *t = s->timers;
		while (t && (t->expire_ms < 0 || t->expire_ms > now))
			t = t->next;
		if (!t)
			return;
		t->expire_ms = -1;
		if (t->cb)
			t->cb(t->cb_opaque);
		else
			slirp_handle_timer(s->slirp, t->id, t->cb_opaque);
	}
}

/* ---- the transmit queue ---- */

static void txq_put(struct net_slirp *s, size_t pos, const void *src, size_t len)
{
	pos %= SLIRP_TXQ_BYTES;
	size_t first = SLIRP_TXQ_BYTES - pos < len ? SLIRP_TXQ_BYTES - pos : len;
	memcpy(s->txq + pos, src, first);
	memcpy(s->txq, (const uint8_t *)src + first, len - first);
}

static void txq_get(const struct net_slirp *s, size_t pos, void *dst, size_t len)
{
	pos %= SLIRP_TXQ_BYTES;
	size_t first = SLIRP_TXQ_BYTES - pos < len ? SLIRP_TXQ_BYTES - pos : len;
	memcpy(dst, s->txq + pos, first);
	memcpy((uint8_t *)dst + first, s->txq, len - first);
}

/* Feed queued frames to slirp, oldest first, at most SLIRP_TXQ_PER_ROUND so that sockets
 * are served meanwhile. Called by the poll thread with s->lock held; returns whether frames
 * are left. */
static bool txq_drain(struct net_slirp *s)
{
	for (unsigned i = 0; i < SLIRP_TXQ_PER_ROUND; i++) {
		uint32_t len;
		pthread_mutex_lock(&s->txq_lock);
		if (s->txq_used == 0) {
			pthread_mutex_unlock(&s->txq_lock);
			return false;
		}
		/* Lengths were checked by slirp_send, which alone writes the ring. */
		txq_get(s, s->txq_head, &len, sizeof(len));
		txq_get(s, s->txq_head + sizeof(len), s->frame, len);
		s->txq_head = (s->txq_head + sizeof(len) + len) % SLIRP_TXQ_BYTES;
		s->txq_used -= sizeof(len) + len;
		pthread_mutex_unlock(&s->txq_lock);
		slirp_input(s->slirp, s->frame, (int)len);
	}
	pthread_mutex_lock(&s->txq_lock);
	bool left = s->txq_used != 0;
	pthread_mutex_unlock(&s->txq_lock);
	return left;
}

static void *poll_thread(void *opaque)
{
	struct net_slirp *s = opaque;
	seccomp_enter(SECCOMP_DEVICE);
	uint64_t drain;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		/* The guest's frames first: they may open sockets or change what slirp waits for,
		 * which the fill below then sees. */
		bool more = txq_drain(s);
		uint32_t timeout = UINT32_MAX;
		s->pfd[0] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
		s->npfd = 1;
		slirp_pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
		timeout = timers_timeout(s, timeout);
		/* Sleep only with the queue empty; from now on a sender wakes the loop. */
		pthread_mutex_lock(&s->txq_lock);
		if (more || s->txq_used)
			timeout = 0;
		else
			s->poll_sleeping = true;
		pthread_mutex_unlock(&s->txq_lock);
		pthread_mutex_unlock(&s->lock);

		/* Descriptors slirp closes meanwhile report POLLNVAL or are left unread: slirp
		 * only asks about sockets it still has, by the index given in this round. */
		int n = poll(s->pfd, s->npfd, timeout > INT_MAX ? -1 : (int)timeout);
		int poll_errno = errno;

		pthread_mutex_lock(&s->lock);
		pthread_mutex_lock(&s->txq_lock);
		s->poll_sleeping = false;
		pthread_mutex_unlock(&s->txq_lock);
		if (n > 0 && s->pfd[0].revents && read(s->wake_fd, &drain, sizeof(drain)) < 0)
			drain = 0;
		if (s->stop)
			break;
		slirp_pollfds_poll(s->slirp, n < 0 && poll_errno != EINTR, cb_get_revents, s);
		timers_run(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- the backend table ---- */

/* Queue the frame for the poll thread (see the top of the file); -ENOBUFS drops it when
 * the queue is full, as a NIC's full transmit ring would. */
static int slirp_send(struct net_backend *nb, const void *frame, size_t len)
{
	struct net_slirp *s = (struct net_slirp *)nb;
	uint32_t n = (uint32_t)len;
	bool kick;

	if (len < NET_ETH_HLEN || len > NET_FRAME_MAX)
		return -EMSGSIZE;
	pthread_mutex_lock(&s->txq_lock);
	if (SLIRP_TXQ_BYTES - s->txq_used < sizeof(n) + len) {
		pthread_mutex_unlock(&s->txq_lock);
		return -ENOBUFS;
	}
	size_t tail = s->txq_head + s->txq_used;
	txq_put(s, tail, &n, sizeof(n));
	txq_put(s, tail + sizeof(n), frame, len);
	s->txq_used += sizeof(n) + len;
	/* One wake per sleep: later frames find the loop awake, or about to drain. */
	kick = s->poll_sleeping;
	s->poll_sleeping = false;
	pthread_mutex_unlock(&s->txq_lock);
	if (kick)
		wake(s);
	return 0;
}

static void slirp_attach(struct net_backend *nb, net_receive_fn receive, void *opaque)
{
	struct net_slirp *s = (struct net_slirp *)nb;
	pthread_mutex_lock(&s->lock);
	s->receive = receive;
	s->receive_opaque = receive ? opaque : NULL;
	pthread_mutex_unlock(&s->lock);
}

static void slirp_close(struct net_backend *nb)
{
	struct net_slirp *s = (struct net_slirp *)nb;
	if (!s)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_mutex_unlock(&s->lock);
		wake(s);
		pthread_join(s->thread, NULL);
	}
	if (s->slirp)
		slirp_cleanup(s->slirp);
	while (s->timers) {
		struct slirp_timer *t = s->timers;
		s->timers = t->next;
		free(t);
	}
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->pfd);
	free(s->txq);
	free(s->frame);
	pthread_mutex_destroy(&s->txq_lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- set-up ---- */

static int add_hostfwd(struct net_slirp *s, const struct net_slirp_hostfwd *f, char *err,
		       size_t errlen)
{
	char host[INET_ADDRSTRLEN], guest[INET_ADDRSTRLEN];
	const char *proto = f->udp ? "udp" : "tcp";
	inet_ntop(AF_INET, &f->host_addr, host, sizeof(host));
	inet_ntop(AF_INET, &f->guest_addr, guest, sizeof(guest));

	if (f->host_port == 0 || f->guest_port == 0)
		return fail(err, errlen, -EINVAL,
			    "hostfwd %s:%s:%u-%s:%u: ports must be in 1..65535", proto, host,
			    f->host_port, guest, f->guest_port);
	errno = 0;
	if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr,
			      f->guest_port) == 0)
		return 0;
	int e = errno ? errno : EINVAL;
	switch (e) {
	case EADDRINUSE:
		return fail(err, errlen, -e,
			    "hostfwd %s:%s:%u: the host port is already in use; pick another "
			    "host port",
			    proto, host, f->host_port);
	case EACCES:
	case EPERM:
		return fail(err, errlen, -EACCES,
			    "hostfwd %s:%s:%u: host ports below 1024 need privileges; use a "
			    "port of 1024 or more",
			    proto, host, f->host_port);
	case EADDRNOTAVAIL:
		return fail(err, errlen, -e,
			    "hostfwd %s:%s:%u: %s is not an address of this host; use 127.0.0.1, "
			    "0.0.0.0 or one of its own addresses",
			    proto, host, f->host_port, host);
	default:
		return fail(err, errlen, -e, "hostfwd %s:%s:%u-%s:%u cannot be set up (%s)", proto,
			    host, f->host_port, guest, f->guest_port, strerror(e));
	}
}

int net_slirp_open(struct net_backend **out, const struct net_slirp_config *cfg, char *err,
		   size_t errlen)
{
	static const struct net_slirp_config none;
	struct net_slirp *s;
	sigset_t all, old;
	int rc;

	*out = NULL;
	if (!cfg)
		cfg = &none;
	if (cfg->nhostfwd > NET_SLIRP_MAX_HOSTFWD)
		return fail(err, errlen, -EINVAL, "too many hostfwd rules (at most %d)",
			    NET_SLIRP_MAX_HOSTFWD);
	s = calloc(1, sizeof(*s));
	if (!s)
		return fail(err, errlen, -ENOMEM, "out of memory starting user networking");
	s->nb = (struct net_backend){slirp_send, slirp_attach, slirp_close, NET_SLIRP_MTU};
	s->wake_fd = -1;
	rc = -pthread_mutex_init(&s->lock, NULL);
	if (rc) {
		free(s);
		return fail(err, errlen, rc, "cannot start user networking (%s)", strerror(-rc));
	}
	rc = -pthread_mutex_init(&s->txq_lock, NULL);
	if (rc) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return fail(err, errlen, rc, "cannot start user networking (%s)", strerror(-rc));
	}
	s->pfd_cap = 16;
	s->pfd = calloc(s->pfd_cap, sizeof(*s->pfd));
	s->txq = malloc(SLIRP_TXQ_BYTES);
	s->frame = malloc(NET_FRAME_MAX);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!s->pfd || !s->txq || !s->frame || s->wake_fd < 0) {
		rc = s->wake_fd < 0 ? -errno : -ENOMEM;
		slirp_close(&s->nb);
		return fail(err, errlen, rc, "cannot start user networking (%s)", strerror(-rc));
	}

	SlirpConfig sc = {
	    .version = 4,
	    .restricted = cfg->restricted,
	    .in_enabled = true,
	    .in6_enabled = true,
	    .vprefix_len = 64,
	    .if_mtu = NET_SLIRP_MTU,
	    .if_mru = NET_SLIRP_MTU,
	};
	inet_pton(AF_INET, "10.0.2.0", &sc.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &sc.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &sc.vhost);
	inet_pton(AF_INET, "10.0.2.15", &sc.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &sc.vnameserver);
	inet_pton(AF_INET6, "fec0::", &sc.vprefix_addr6);
	inet_pton(AF_INET6, "fec0::2", &sc.vhost6);
	inet_pton(AF_INET6, "fec0::3", &sc.vnameserver6);
	s->slirp = slirp_new(&sc, &slirp_callbacks, s);
	if (!s->slirp) {
		slirp_close(&s->nb);
		return fail(err, errlen, -ENOMEM, "cannot start user networking (libslirp failed)");
	}
	for (unsigned i = 0; i < cfg->nhostfwd; i++) {
		rc = add_hostfwd(s, &cfg->hostfwd[i], err, errlen);
		if (rc) {
			slirp_close(&s->nb);
			return rc;
		}
	}

	/* The poll thread takes no signals: the VMM waits for them on its own thread, and a
	 * SIGPIPE from a socket write stays pending here, harmless. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&s->thread, NULL, poll_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		slirp_close(&s->nb);
		return fail(err, errlen, rc, "cannot start the user networking thread (%s)",
			    strerror(-rc));
	}
	s->thread_started = true;
	*out = &s->nb;
	return 0;
}

/* ---- hostfwd rules ---- */

/* Parse a decimal port of 1..65535 from [p, end). */
static bool parse_port(const char *p, const char *end, uint16_t *port)
{
	unsigned v = 0;
	if (p == end || end - p > 5)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* Parse "[addr]:port" from [p, end); an empty address gives dflt. */
static bool parse_addr_port(const char *p, const char *end, const char *dflt, struct in_addr *addr,
			    uint16_t *port, bool *bad_addr)
{
	char text[INET_ADDRSTRLEN];
	const char *colon = memrchr(p, ':', (size_t)(end - p));
	*bad_addr = false;
	if (!colon)
		return false;
	size_t alen = (size_t)(colon - p);
	if (alen >= sizeof(text)) {
		*bad_addr = true;
		return false;
	}
	memcpy(text, p, alen);
	text[alen] = 0;
	if (inet_pton(AF_INET, alen ? text : dflt, addr) != 1) {
		*bad_addr = true;
		return false;
	}
	return parse_port(colon + 1, end, port);
}

int net_slirp_parse_hostfwd(const char *spec, struct net_slirp_hostfwd *fwd, char *err,
			    size_t errlen)
{
	static const char form[] = "write it as [tcp|udp]:[hostaddr]:hostport-[guestaddr]:"
				   "guestport, e.g. tcp:127.0.0.1:2222-:22";
	const char *colon = strchr(spec, ':');
	const char *dash = strchr(spec, '-');
	const char *end = spec + strlen(spec);
	bool bad_addr;

	memset(fwd, 0, sizeof(*fwd));
	if (!colon || !dash || dash < colon || strchr(dash + 1, '-'))
		return fail(err, errlen, -EINVAL, "hostfwd '%s' is malformed: %s", spec, form);
	size_t plen = (size_t)(colon - spec);
	if (plen == 3 && !strncmp(spec, "udp", 3))
		fwd->udp = true;
	else if (plen != 0 && !(plen == 3 && !strncmp(spec, "tcp", 3)))
		return fail(err, errlen, -EINVAL, "hostfwd '%s': the protocol must be tcp or udp",
			    spec);
	if (!parse_addr_port(colon + 1, dash, "127.0.0.1", &fwd->host_addr, &fwd->host_port,
			     &bad_addr))
		return fail(err, errlen, -EINVAL,
			    bad_addr ? "hostfwd '%s': the host address is not an IPv4 address "
				       "like 127.0.0.1"
				     : "hostfwd '%s': the host port must be a number in 1..65535",
			    spec);
	if (!parse_addr_port(dash + 1, end, "10.0.2.15", &fwd->guest_addr, &fwd->guest_port,
			     &bad_addr))
		return fail(err, errlen, -EINVAL,
			    bad_addr ? "hostfwd '%s': the guest address is not an IPv4 address "
				       "like 10.0.2.15"
				     : "hostfwd '%s': the guest port must be a number in 1..65535",
			    spec);
	/* A guest's own address: on the network, not its base, broadcast, gateway or DNS. */
	uint32_t g = ntohl(fwd->guest_addr.s_addr), host = g & 0xff;
	if ((g & 0xffffff00u) != 0x0a000200u || host == 0 || host == 2 || host == 3 || host == 255)
		return fail(err, errlen, -EINVAL,
			    "hostfwd '%s': the guest address must be a guest's on 10.0.2.0/24 "
			    "(leave it empty for 10.0.2.15)",
			    spec);
	return 0;
}
