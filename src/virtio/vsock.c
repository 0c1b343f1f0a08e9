/* virtio-vsock (virtio 1.2 section 5.10) with Firecracker's hybrid host side (see vsock.h).
 * Everything runs on one thread: the guest's packets from the transmit queue, the host's
 * Unix sockets (poll), and the packets to the guest, written into its receive buffers as
 * they come. Flow control follows 5.10.6.3: data goes to the guest only within the credit it
 * advertises (buf_alloc - (what was sent - fwd_cnt)); rvisor advertises VSOCK_BUF_ALLOC per
 * connection and resets a connection whose guest sends beyond it. */
#include "virtio/vsock.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/seccomp.h"
#include "virtio/transport.h"

/* struct virtio_vsock_hdr (5.10.6), packed little-endian, and its fields' offsets. */
#define HDR_SIZE       44
#define H_SRC_CID      0
#define H_DST_CID      8
#define H_SRC_PORT     16
#define H_DST_PORT     20
#define H_LEN          24
#define H_TYPE         28
#define H_OP           30
#define H_FLAGS        32
#define H_BUF_ALLOC    36
#define H_FWD_CNT      40
#define TYPE_STREAM    1
#define OP_REQUEST     1
#define OP_RESPONSE    2
#define OP_RST         3
#define OP_SHUTDOWN    4
#define OP_RW          5
#define OP_CREDIT_UPD  6
#define OP_CREDIT_REQ  7
#define SHUT_RCV_FLAG  1
#define SHUT_SEND_FLAG 2

#define Q_RX                  VSOCK_Q_RX
#define Q_TX                  VSOCK_Q_TX
#define Q_EVT                 VSOCK_Q_EVENT
#define EVENT_TRANSPORT_RESET 0 /* struct virtio_vsock_event's id (5.10.6.7) */

enum conn_state {
	C_FREE,
	C_HOST_LINE, /* a host program connected; waiting for its "CONNECT PORT\n" */
	C_REQUESTED, /* REQUEST sent to the guest; waiting for its RESPONSE */
	C_OPEN,
};

struct vsock_conn {
	enum conn_state state;
	int fd;
	uint32_t local_port; /* the host's end (the guest's dst_port) */
	uint32_t peer_port;  /* the guest's end */
	char line[32];
	unsigned line_len;
	uint8_t *buf; /* guest data not yet written to fd: VSOCK_BUF_ALLOC bytes */
	uint32_t buf_len;
	uint32_t peer_buf_alloc, peer_fwd_cnt; /* the guest's credit */
	uint32_t sent;                         /* bytes sent to the guest */
	uint32_t fwd_cnt, fwd_cnt_told;        /* guest bytes written to fd; last advertised */
	bool host_eof, guest_done;             /* no more from the host; from the guest */
	bool guest_no_rcv;                     /* the guest takes no more */
};

struct vsock_pkt {
	uint32_t src_port, dst_port; /* host end, guest end */
	uint16_t op;
	uint32_t flags;
};

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}
static uint16_t get16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return le16toh(v);
}
static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}
static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

/* ---- connections ---- */

static struct vsock_conn *find(struct virtio_vsock *v, uint32_t local, uint32_t peer)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state != C_FREE && c->state != C_HOST_LINE && c->local_port == local &&
		    c->peer_port == peer)
			return c;
	}
	return NULL;
}

static struct vsock_conn *new_conn(struct virtio_vsock *v, int fd)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state != C_FREE)
			continue;
		uint8_t *buf = malloc(VSOCK_BUF_ALLOC);
		if (!buf)
			return NULL;
		*c = (struct vsock_conn){.state = C_HOST_LINE, .fd = fd, .buf = buf};
		return c;
	}
	return NULL;
}

static void close_conn(struct vsock_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	*c = (struct vsock_conn){.state = C_FREE, .fd = -1};
}

static void queue_pkt(struct virtio_vsock *v, uint32_t src_port, uint32_t dst_port, uint16_t op,
		      uint32_t flags)
{
	if (v->pend_count == VSOCK_MAX_PENDING)
		return; /* the guest is not taking packets: it will time out the connection */
	v->pending[(v->pend_head + v->pend_count++) % VSOCK_MAX_PENDING] =
	    (struct vsock_pkt){src_port, dst_port, op, flags};
}

/* Reset connection c: tell the guest (unless it is the one resetting) and close it. */
static void reset_conn(struct virtio_vsock *v, struct vsock_conn *c, bool tell)
{
	if (tell)
		queue_pkt(v, c->local_port, c->peer_port, OP_RST, 0);
	close_conn(c);
}

/* Bytes the guest can take now on c. */
static uint32_t credit(const struct vsock_conn *c)
{
	uint32_t used = c->sent - c->peer_fwd_cnt;
	return c->peer_buf_alloc > used ? c->peer_buf_alloc - used : 0;
}

/* Both ways are over once the guest's data is all written out: close, and reset the guest's
 * end, which completes a close (5.10.6.6). Returns true if c was closed. */
static bool done_both_ways(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (!(c->guest_done && !c->buf_len && (c->host_eof || c->guest_no_rcv)))
		return false;
	reset_conn(v, c, true);
	return true;
}

/* Write buffered guest data to the host socket; tell the guest of the room made. */
static void flush_to_host(struct virtio_vsock *v, struct vsock_conn *c)
{
	while (c->buf_len) {
		ssize_t n = send(c->fd, c->buf, c->buf_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			reset_conn(v, c, true);
			return;
		}
		memmove(c->buf, c->buf + n, c->buf_len - (uint32_t)n);
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	if (c->guest_done) {
		shutdown(c->fd, SHUT_WR);
		if (done_both_ways(v, c))
			return;
	}
	/* Room made: tell the guest once a quarter of the buffer is free again, or all of it
	 * (a sender out of credit waits for this). */
	if (c->fwd_cnt != c->fwd_cnt_told &&
	    (!c->buf_len || c->fwd_cnt - c->fwd_cnt_told >= VSOCK_BUF_ALLOC / 4))
		queue_pkt(v, c->local_port, c->peer_port, OP_CREDIT_UPD, 0);
}

/* ---- packets from the guest ---- */

static void guest_connects(struct virtio_vsock *v, uint32_t local, uint32_t peer, const uint8_t *h)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int len = snprintf(path, sizeof(path), "%s_%u", v->uds_path, local);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = -1;
	if (len > 0 && (size_t)len < sizeof(path)) {
		memcpy(addr.sun_path, path, (size_t)len + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			close(fd);
			fd = -1;
		}
	}
	struct vsock_conn *c = fd >= 0 ? new_conn(v, fd) : NULL;
	if (!c) { /* nobody listens there, or no room: refuse */
		if (fd >= 0)
			close(fd);
		queue_pkt(v, local, peer, OP_RST, 0);
		return;
	}
	c->state = C_OPEN;
	c->local_port = local;
	c->peer_port = peer;
	c->peer_buf_alloc = get32(h + H_BUF_ALLOC);
	c->peer_fwd_cnt = get32(h + H_FWD_CNT);
	v->connections++;
	queue_pkt(v, local, peer, OP_RESPONSE, 0);
}

static void guest_packet(struct virtio_vsock *v, const struct virtq_req *req)
{
	uint8_t h[HDR_SIZE];
	if (virtq_read(req, 0, h, HDR_SIZE) != HDR_SIZE)
		return; /* too short to answer */
	uint32_t local = get32(h + H_DST_PORT), peer = get32(h + H_SRC_PORT);
	uint32_t len = get32(h + H_LEN);
	uint16_t op = get16(h + H_OP);
	if (get64(h + H_SRC_CID) != v->guest_cid || get64(h + H_DST_CID) != VSOCK_HOST_CID ||
	    get16(h + H_TYPE) != TYPE_STREAM) {
		if (op != OP_RST && get16(h + H_TYPE) == TYPE_STREAM)
			queue_pkt(v, local, peer, OP_RST, 0);
		return;
	}
	struct vsock_conn *c = find(v, local, peer);
	if (op == OP_REQUEST) {
		if (c)
			reset_conn(v, c, true);
		else
			guest_connects(v, local, peer, h);
		return;
	}
	if (!c) {
		if (op != OP_RST)
			queue_pkt(v, local, peer, OP_RST, 0);
		return;
	}
	c->peer_buf_alloc = get32(h + H_BUF_ALLOC);
	c->peer_fwd_cnt = get32(h + H_FWD_CNT);
	switch (op) {
	case OP_RESPONSE:
		if (c->state == C_REQUESTED) {
			char ok[32];
			int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);
			c->state = C_OPEN;
			v->connections++;
			if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
				reset_conn(v, c, true);
		} else {
			reset_conn(v, c, true);
		}
		break;
	case OP_RW:
		/* Beyond the credit rvisor gave, or in the wrong state: a broken peer. */
		if (c->state != C_OPEN || c->guest_done || len > req->out_len - HDR_SIZE ||
		    len > VSOCK_BUF_ALLOC - c->buf_len) {
			reset_conn(v, c, true);
			break;
		}
		virtq_read(req, HDR_SIZE, c->buf + c->buf_len, len);
		c->buf_len += len;
		flush_to_host(v, c);
		break;
	case OP_SHUTDOWN:
		/* What the guest will no longer do; the data it sent still goes out first. */
		c->guest_no_rcv |= get32(h + H_FLAGS) & SHUT_RCV_FLAG;
		if (get32(h + H_FLAGS) & SHUT_SEND_FLAG)
			c->guest_done = true;
		if (c->guest_done)
			flush_to_host(v, c);
		break;
	case OP_RST: close_conn(c); break;
	case OP_CREDIT_REQ: queue_pkt(v, local, peer, OP_CREDIT_UPD, 0); break;
	case OP_CREDIT_UPD: break; /* the credit was taken above */
	default: reset_conn(v, c, true); break;
	}
}

/* ---- packets to the guest ---- */

/* A receive buffer: the spare one, or the next the guest made available. */
static bool rx_buffer(struct virtio_vsock *v, struct virtio_transport *t)
{
	while (!v->have_spare) {
		if (virtio_pop(t, Q_RX, &v->spare) <= 0)
			return false;
		if (v->spare.in_len >= HDR_SIZE)
			v->have_spare = true;
		else /* too small for a header: returned unused */
			virtio_complete(t, Q_RX, v->spare.epoch, v->spare.head, 0);
	}
	return true;
}

static void send_rx(struct virtio_vsock *v, struct virtio_transport *t, uint32_t src_port,
		    uint32_t dst_port, uint16_t op, uint32_t flags, const void *data, uint32_t len,
		    const struct vsock_conn *c)
{
	uint8_t h[HDR_SIZE] = {0};
	put64(h + H_SRC_CID, VSOCK_HOST_CID);
	put64(h + H_DST_CID, v->guest_cid);
	put32(h + H_SRC_PORT, src_port);
	put32(h + H_DST_PORT, dst_port);
	put32(h + H_LEN, len);
	put16(h + H_TYPE, TYPE_STREAM);
	put16(h + H_OP, op);
	put32(h + H_FLAGS, flags);
	put32(h + H_BUF_ALLOC, VSOCK_BUF_ALLOC);
	put32(h + H_FWD_CNT, c ? c->fwd_cnt : 0);
	virtq_write(&v->spare, 0, h, HDR_SIZE);
	if (len)
		virtq_write(&v->spare, HDR_SIZE, data, len);
	v->have_spare = false;
	virtio_complete(t, Q_RX, v->spare.epoch, v->spare.head, HDR_SIZE + len);
}

/* Send the queued control packets, then host data within the guest's credit. Returns false
 * when the guest has no receive buffer left. */
static bool to_guest(struct virtio_vsock *v, struct virtio_transport *t, const struct pollfd *p,
		     const int *slot, unsigned np)
{
	while (v->pend_count) {
		if (!rx_buffer(v, t))
			return false;
		struct vsock_pkt *k = &v->pending[v->pend_head];
		struct vsock_conn *c = find(v, k->src_port, k->dst_port);
		if (c && k->op == OP_CREDIT_UPD)
			c->fwd_cnt_told = c->fwd_cnt;
		send_rx(v, t, k->src_port, k->dst_port, k->op, k->flags, NULL, 0, c);
		v->pend_head = (v->pend_head + 1) % VSOCK_MAX_PENDING;
		v->pend_count--;
	}
	uint8_t *data = v->bounce;
	for (unsigned i = 0; i < np; i++) {
		if (slot[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
			continue;
		struct vsock_conn *c = &v->conns[slot[i]];
		if (c->state != C_OPEN || c->host_eof || c->guest_no_rcv || !credit(c))
			continue;
		if (!rx_buffer(v, t))
			return false;
		uint64_t room = v->spare.in_len - HDR_SIZE;
		uint32_t want = credit(c) < room ? credit(c) : (uint32_t)room;
		if (want > VSOCK_BUF_ALLOC)
			want = VSOCK_BUF_ALLOC;
		ssize_t n = want ? recv(c->fd, data, want, MSG_DONTWAIT) : 0;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			continue; /* the buffer stays spare */
		if (n <= 0) {     /* the host's stream ended (or broke): no more data to send */
			c->host_eof = true;
			send_rx(v, t, c->local_port, c->peer_port, OP_SHUTDOWN, SHUT_SEND_FLAG,
				NULL, 0, c);
			done_both_ways(v, c);
			continue;
		}
		c->sent += (uint32_t)n;
		send_rx(v, t, c->local_port, c->peer_port, OP_RW, 0, data, (uint32_t)n, c);
	}
	return true;
}

/* ---- host programs ---- */

/* A host program's line: "CONNECT PORT\n" starts a connection to the guest's port. */
static void host_line(struct virtio_vsock *v, struct vsock_conn *c)
{
	ssize_t n =
	    recv(c->fd, c->line + c->line_len, sizeof(c->line) - 1 - c->line_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close_conn(c);
		return;
	}
	c->line_len += (unsigned)n;
	c->line[c->line_len] = 0;
	char *nl = strchr(c->line, '\n');
	if (!nl) {
		if (c->line_len == sizeof(c->line) - 1)
			close_conn(c); /* no line in 31 bytes: not our protocol */
		return;
	}
	unsigned port;
	char tail;
	*nl = 0;
	if (sscanf(c->line, "CONNECT %u%c", &port, &tail) != 1 || nl != c->line + c->line_len - 1) {
		close_conn(c); /* a bad line, or data after it before the answer */
		return;
	}
	c->state = C_REQUESTED;
	c->local_port = v->next_port++;
	if (v->next_port < (1u << 30))
		v->next_port = 1u << 30;
	c->peer_port = port;
	queue_pkt(v, c->local_port, c->peer_port, OP_REQUEST, 0);
}

static void accept_hosts(struct virtio_vsock *v)
{
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (!new_conn(v, fd))
			close(fd); /* full */
	}
}

/* ---- the thread ---- */

static void drop_all(struct virtio_vsock *v)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].state != C_FREE)
			close_conn(&v->conns[i]);
	v->pend_count = 0;
	v->have_spare = false; /* the old rings' buffer: gone with them */
}

/* Tell the guest's driver that every connection is gone (after a restore): one event buffer
 * gets the TRANSPORT_RESET event; without one the event waits for the driver's next. */
static void send_reset_event(struct virtio_vsock *v, struct virtio_transport *t)
{
	while (virtio_pop(t, Q_EVT, &v->req) > 0) {
		uint8_t ev[4];
		put32(ev, EVENT_TRANSPORT_RESET);
		if (v->req.in_len < sizeof(ev)) { /* too small: returned unused */
			virtio_complete(t, Q_EVT, v->req.epoch, v->req.head, 0);
			continue;
		}
		virtq_write(&v->req, 0, ev, sizeof(ev));
		virtio_complete(t, Q_EVT, v->req.epoch, v->req.head, sizeof(ev));
		atomic_store(&v->event_reset, false);
		return;
	}
}

static void *vsock_main(void *arg)
{
	struct virtio_vsock *v = arg;
	seccomp_enter(SECCOMP_DEVICE);
	struct pollfd p[VSOCK_MAX_CONNS + 2];
	int slot[VSOCK_MAX_CONNS + 2];
	bool starved = false; /* no receive buffer: host data waits for the guest */
	for (;;) {
		struct virtio_transport *t = atomic_load(&v->t);
		bool paused = atomic_load(&v->paused); /* then only a wake-up is waited for */
		unsigned np = 0;
		p[np] = (struct pollfd){.fd = v->wake_fd, .events = POLLIN};
		slot[np++] = -1;
		p[np] = (struct pollfd){.fd = t && !paused ? v->listen_fd : -1, .events = POLLIN};
		slot[np++] = -1;
		for (unsigned i = 0; i < VSOCK_MAX_CONNS && !paused; i++) {
			struct vsock_conn *c = &v->conns[i];
			short ev = 0;
			if (c->state == C_HOST_LINE)
				ev = POLLIN;
			if (c->state == C_OPEN && !c->host_eof && !c->guest_no_rcv && credit(c) &&
			    !starved)
				ev |= POLLIN;
			if (c->state != C_FREE && c->buf_len)
				ev |= POLLOUT;
			if (!ev)
				continue;
			p[np] = (struct pollfd){.fd = c->fd, .events = ev};
			slot[np++] = (int)i;
		}
		/* A TRANSPORT_RESET still to deliver (after a restore) is retried every 100 ms:
		 * the wake-up that announced it may have been taken by a device reset, and the
		 * driver may not have an event buffer yet. */
		int wait_ms = atomic_load(&v->event_reset) ? 100 : -1;
		if (poll(p, np, wait_ms) < 0 && errno != EINTR)
			break;
		if (atomic_load(&v->stop))
			break;
		if (p[0].revents) {
			uint64_t n;
			if (read(v->wake_fd, &n, sizeof(n)) < 0) {
				/* nothing to drain */
			}
			starved = false; /* the guest may have posted receive buffers */
		}
		/* Work is done under run_lock, so that pausing waits for it. */
		pthread_mutex_lock(&v->run_lock);
		if (atomic_load(&v->paused) || paused) {
			pthread_mutex_unlock(&v->run_lock);
			continue;
		}
		if (atomic_exchange(&v->reset, false)) {
			drop_all(v);
			pthread_mutex_unlock(&v->run_lock);
			continue;
		}
		/* A restore may have given the device its transport while this thread waited
		 * (it polled without one): look again. */
		if (!t)
			t = atomic_load(&v->t);
		if (!t) {
			pthread_mutex_unlock(&v->run_lock);
			continue;
		}
		if (atomic_load(&v->event_reset))
			send_reset_event(v, t);
		while (virtio_pop(t, Q_TX, &v->req) > 0) {
			guest_packet(v, &v->req);
			virtio_complete(t, Q_TX, v->req.epoch, v->req.head, 0);
		}
		if (p[1].revents)
			accept_hosts(v);
		for (unsigned i = 2; i < np; i++) {
			struct vsock_conn *c = &v->conns[slot[i]];
			if (c->state == C_HOST_LINE && p[i].revents)
				host_line(v, c);
			else if (c->state != C_FREE && (p[i].revents & POLLOUT))
				flush_to_host(v, c);
		}
		starved = !to_guest(v, t, p, slot, np);
		pthread_mutex_unlock(&v->run_lock);
	}
	return NULL;
}

void virtio_vsock_set_paused(struct virtio_vsock *v, bool paused)
{
	pthread_mutex_lock(&v->run_lock);
	atomic_store(&v->paused, paused);
	pthread_mutex_unlock(&v->run_lock);
	uint64_t one = 1;
	if (write(v->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the thread is awake already */
	}
}

static uint32_t vsock_config_read(void *opaque, uint32_t off, unsigned size)
{
	struct virtio_vsock *v = opaque;
	uint8_t cfg[8];
	put64(cfg, v->guest_cid);
	uint32_t val = 0;
	memcpy(&val, cfg + off, size); /* within config_size: the transport checked */
	return val;
}

static void vsock_queue_notify(void *opaque, struct virtio_transport *t, unsigned q)
{
	struct virtio_vsock *v = opaque;
	(void)q;
	atomic_store(&v->t, t);
	uint64_t one = 1;
	if (write(v->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the thread is awake already */
	}
}

static void vsock_restored(void *opaque, struct virtio_transport *t)
{
	struct virtio_vsock *v = opaque;
	v->restore_t = t;
}

static void vsock_reset(void *opaque)
{
	struct virtio_vsock *v = opaque;
	atomic_store(&v->reset, true);
	uint64_t one = 1;
	if (write(v->wake_fd, &one, sizeof(one)) < 0) {
		/* as above */
	}
}

/* Listen on v->uds_path for host programs (the path must not exist). Returns 0, or -errno with
 * one sentence in err. */
static int listen_uds(struct virtio_vsock *v, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	strcpy(addr.sun_path, v->uds_path); /* its length was checked at init */
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (v->listen_fd < 0 || bind(v->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(v->listen_fd, 16)) {
		int rc = -errno;
		snprintf(err, errlen, "vsock: cannot listen on '%s' (%s): %s", v->uds_path,
			 strerror(-rc),
			 rc == -EADDRINUSE ? "remove the old socket or choose another path"
					   : "choose a path in a writable directory");
		if (v->listen_fd >= 0)
			close(v->listen_fd);
		v->listen_fd = -1;
		return rc;
	}
	return 0;
}

int virtio_vsock_hand_over(struct virtio_vsock *v, bool release, char *err, size_t errlen)
{
	if (release) {
		if (v->listen_fd >= 0) {
			close(v->listen_fd);
			unlink(v->uds_path);
			v->listen_fd = -1;
		}
		return 0;
	}
	return v->listen_fd >= 0 ? 0 : listen_uds(v, err, errlen);
}

int virtio_vsock_init(struct virtio_vsock *v, uint64_t guest_cid, const char *uds_path,
		      struct virtio_dev *dev, char *err, size_t errlen)
{
	memset(v, 0, sizeof(*v));
	v->run_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER; /* needs no destroy */
	v->listen_fd = v->wake_fd = -1;
	v->next_port = 1u << 30;
	if (guest_cid < 3 || guest_cid > UINT32_MAX) {
		snprintf(err, errlen, "vsock: guest_cid %llu must be from 3 to %u",
			 (unsigned long long)guest_cid, UINT32_MAX);
		return -EINVAL;
	}
	v->guest_cid = guest_cid;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	/* Room for "_PORT" after it, for the guest's connections. */
	if (strlen(uds_path) + 12 >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "vsock: uds_path '%s' is too long (at most %zu bytes)",
			 uds_path, sizeof(addr.sun_path) - 13);
		return -ENAMETOOLONG;
	}
	strcpy(v->uds_path, uds_path);
	v->conns = calloc(VSOCK_MAX_CONNS, sizeof(*v->conns));
	v->pending = calloc(VSOCK_MAX_PENDING, sizeof(*v->pending));
	v->bounce = malloc(VSOCK_BUF_ALLOC);
	if (!v->conns || !v->pending || !v->bounce) {
		virtio_vsock_destroy(v);
		snprintf(err, errlen, "vsock: out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		v->conns[i].fd = -1;
	int rc = listen_uds(v, err, errlen);
	if (rc) {
		v->uds_path[0] = 0; /* nothing of ours to remove there */
		virtio_vsock_destroy(v);
		return rc;
	}
	v->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rc = v->wake_fd < 0 ? -errno : -pthread_create(&v->thread, NULL, vsock_main, v);
	if (rc) {
		snprintf(err, errlen, "vsock: cannot start its thread (%s)", strerror(-rc));
		virtio_vsock_destroy(v);
		return rc;
	}
	v->thread_up = true;
	*dev = (struct virtio_dev){.device_id = VIRTIO_ID_VSOCK,
				   .num_queues = 3, /* rx, tx, event */
				   .config_size = 8,
				   .opaque = v,
				   .config_read = vsock_config_read,
				   .queue_notify = vsock_queue_notify,
				   .reset = vsock_reset,
				   .restored = vsock_restored};
	return 0;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	if (v->thread_up) {
		atomic_store(&v->stop, true);
		uint64_t one = 1;
		if (write(v->wake_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(v->thread, NULL);
		v->thread_up = false;
	}
	if (v->conns)
		drop_all(v);
	free(v->conns);
	free(v->pending);
	free(v->bounce);
	v->conns = NULL;
	v->pending = NULL;
	v->bounce = NULL;
	if (v->wake_fd >= 0)
		close(v->wake_fd);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		if (v->uds_path[0])
			unlink(v->uds_path);
	}
	v->wake_fd = v->listen_fd = -1;
}
