/* virtio-net (virtio 1.2 section 5.1) on a host network backend. Transmit (5.1.6.2): each
 * request is a virtio_net_hdr and a frame, gathered, its partial checksum completed when the
 * driver asks (VIRTIO_NET_HDR_F_NEEDS_CSUM), and handed to the backend. Receive (5.1.6.3,
 * 5.1.6.4): each frame from the backend goes, behind a header, into one posted buffer or,
 * with VIRTIO_NET_F_MRG_RXBUF, across several; a frame with no room is dropped and counted,
 * never waited for. With VIRTIO_NET_F_MTU negotiated, frames longer than the MTU are dropped
 * both ways. Every header field and length the driver controls is checked. */
#include "virtio/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "host/net.h"
#include "host/seccomp.h"
#include "virtio/transport.h"

/* Offsets in struct virtio_net_hdr (5.1.6). */
enum {
	HDR_FLAGS = 0,
	HDR_GSO_TYPE = 1,
	HDR_CSUM_START = 6,
	HDR_CSUM_OFFSET = 8,
	HDR_NUM_BUFFERS = 10,
};

/* Offsets in struct virtio_net_config (5.1.4). */
enum {
	CFG_MAC = 0,
	CFG_STATUS = 6,
	CFG_MAX_VIRTQUEUE_PAIRS = 8,
	CFG_MTU = 10,
};

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Counters may be read from other threads (with atomic loads) while they change. */
static void count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* ---- the Internet checksum (RFC 1071) ---- */

/* Add len bytes at p, as big-endian 16-bit words (an odd last byte padded with zero), to a
 * ones' complement sum kept unfolded in 64 bits. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	/* 32-bit words fold to the same 16-bit sum, since 2^16 = 1 modulo 0xffff. */
	while (len >= 4) {
		sum += (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		sum += get_be16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* VIRTIO_NET_HDR_F_NEEDS_CSUM (5.1.6.2): checksum the frame from csum_start to its end and
 * store the result at csum_start + csum_offset. The driver has put the pseudo-header sum
 * there, so it is part of the sum. A zero result is sent as 0xffff, its ones' complement
 * equal, since zero means "no checksum" to UDP. Returns false if the offsets lie outside
 * the frame. */
static bool complete_csum(uint8_t *frame, size_t len, uint16_t csum_start, uint16_t csum_offset)
{
	if (csum_start >= len || (size_t)csum_offset + 2 > len - csum_start)
		return false;
	uint16_t c = (uint16_t)~csum_fold(csum_add(0, frame + csum_start, len - csum_start));
	if (c == 0)
		c = 0xffff;
	uint8_t *at = frame + csum_start + csum_offset;
	at[0] = (uint8_t)(c >> 8);
	at[1] = (uint8_t)c;
	return true;
}

/* Whether the frame is an unfragmented IPv4 or IPv6 (no extension headers) TCP or UDP
 * packet whose transport checksum is right, which is what VIRTIO_NET_HDR_F_DATA_VALID tells
 * the driver (5.1.6.4). Anything else is left for the driver to check. */
static bool l4_csum_valid(const uint8_t *f, size_t len)
{
	size_t off = NET_ETH_HLEN;
	uint16_t type = get_be16(f + 12);
	uint64_t sum;
	const uint8_t *l4;
	size_t l4len;
	uint8_t proto;

	if (type == ETHERTYPE_VLAN) {
		if (len < off + 4)
			return false;
		type = get_be16(f + 16);
		off += 4;
	}
	const uint8_t *ip = f + off;
	if (type == ETHERTYPE_IPV4) {
		if (len < off + 20 || ip[0] >> 4 != 4)
			return false;
		size_t ihl = (size_t)(ip[0] & 15) * 4, total = get_be16(ip + 2);
		if (ihl < 20 || total < ihl || total > len - off)
			return false;
		if (get_be16(ip + 6) & 0x3fff) /* more fragments, or a fragment offset */
			return false;
		proto = ip[9];
		l4 = ip + ihl;
		l4len = total - ihl;
		sum = csum_add(0, ip + 12, 8); /* source and destination addresses */
	} else if (type == ETHERTYPE_IPV6) {
		if (len < off + 40 || ip[0] >> 4 != 6)
			return false;
		l4len = get_be16(ip + 4);
		if (l4len > len - off - 40)
			return false;
		proto = ip[6];
		l4 = ip + 40;
		sum = csum_add(0, ip + 8, 32);
	} else {
		return false;
	}
	if (proto == IPPROTO_TCP) {
		if (l4len < 20)
			return false;
	} else if (proto == IPPROTO_UDP) {
		/* A zero UDP checksum is "none" (IPv4) or invalid (IPv6): nothing to vouch for. */
		if (l4len < 8 || get_be16(l4 + 4) != l4len || get_be16(l4 + 6) == 0)
			return false;
	} else {
		return false;
	}
	sum += proto + (uint64_t)l4len;
	return csum_fold(csum_add(sum, l4, l4len)) == 0xffff;
}

/* Whether a frame of len (>= NET_ETH_HLEN) bytes is within the MTU the driver was given:
 * with VIRTIO_NET_F_MTU negotiated, no longer than mtu plus its Ethernet header, the VLAN
 * tag included when it has one (5.1.4.1, 5.1.4.2); without, any frame is. */
static bool within_mtu(const struct virtio_net *n, uint64_t features, const uint8_t *f, size_t len)
{
	if (!(features & (1ull << VIRTIO_NET_F_MTU)))
		return true;
	size_t hlen = NET_ETH_HLEN + (get_be16(f + 12) == ETHERTYPE_VLAN ? NET_VLAN_HLEN : 0);
	return len <= (size_t)n->mtu + hlen;
}

/* ---- transmit ---- */

/* Send one request's frame. Returns nothing: the request is returned to the driver with
 * nothing written whatever happens (5.1.6.2.1), and counted. */
static void tx_one(struct virtio_net *n, const struct virtq_req *req, uint64_t features)
{
	uint8_t hdr[VIRTIO_NET_HDR_SIZE];

	if (req->out_len < VIRTIO_NET_HDR_SIZE + NET_ETH_HLEN ||
	    req->out_len - VIRTIO_NET_HDR_SIZE > NET_FRAME_MAX) {
		count(&n->stats.tx_errors, 1);
		return;
	}
	size_t len = req->out_len - VIRTIO_NET_HDR_SIZE;
	virtq_read(req, 0, hdr, sizeof(hdr));
	virtq_read(req, VIRTIO_NET_HDR_SIZE, n->tx_frame, len);
	/* No segmentation offload was offered: a GSO request cannot be carried out. */
	if ((hdr[HDR_GSO_TYPE] & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE ||
	    !within_mtu(n, features, n->tx_frame, len)) {
		count(&n->stats.tx_errors, 1);
		return;
	}
	if ((hdr[HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    !complete_csum(n->tx_frame, len, get_le16(hdr + HDR_CSUM_START),
			   get_le16(hdr + HDR_CSUM_OFFSET))) {
		count(&n->stats.tx_errors, 1);
		return;
	}
	if (n->backend->send(n->backend, n->tx_frame, len)) {
		count(&n->stats.tx_dropped, 1);
		return;
	}
	count(&n->stats.tx_packets, 1);
	count(&n->stats.tx_bytes, len);
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Nanoseconds a frame of len bytes must wait for limiter (0: it goes, its tokens taken). */
static uint64_t limit_wait(struct virtio_net *n, bool tx, uint64_t len)
{
	pthread_mutex_lock(&n->limit_lock);
	uint64_t wait = 0;
	if (tx ? n->tx_limited : n->rx_limited)
		wait = rate_limiter_take(tx ? &n->tx_limiter : &n->rx_limiter, len, monotonic_ns());
	pthread_mutex_unlock(&n->limit_lock);
	return wait;
}

/* Send what the transmit ring holds. drain (virtio_net_quiesce): even while paused, and
 * without waiting for the rate limiter. */
static void transmit(struct virtio_net *n, struct virtio_transport *t, bool drain)
{
	pthread_mutex_lock(&n->tx_lock);
	uint64_t epoch = __atomic_load_n(&n->epoch, __ATOMIC_ACQUIRE);
	if (n->tx_held && n->tx_held_epoch != epoch)
		n->tx_held = false;      /* reset since: that request belongs to no ring now */
	while (drain || !n->tx_paused) { /* paused: resuming transmits */
		/* A malformed chain (-EINVAL) has made the transport flag the device for reset. */
		if (!n->tx_held && virtio_pop(t, VIRTIO_NET_TRANSMITQ, &n->tx_req) <= 0)
			break;
		if (!n->tx_held) {
			n->tx_held = true;
			n->tx_held_epoch = epoch;
		}
		uint64_t len = n->tx_req.out_len > VIRTIO_NET_HDR_SIZE
				   ? n->tx_req.out_len - VIRTIO_NET_HDR_SIZE
				   : 0;
		uint64_t wait = drain ? 0 : limit_wait(n, true, len);
		if (wait) { /* the thread retries once the tokens are there */
			count(&n->stats.tx_throttled, 1);
			pthread_mutex_lock(&n->limit_lock);
			uint64_t at = monotonic_ns() + wait;
			if (!n->tx_retry_ns || at < n->tx_retry_ns)
				n->tx_retry_ns = at;
			pthread_cond_broadcast(&n->limit_cond);
			pthread_mutex_unlock(&n->limit_lock);
			break;
		}
		tx_one(n, &n->tx_req, virtio_driver_features(t));
		virtio_complete(t, VIRTIO_NET_TRANSMITQ, n->tx_req.epoch, n->tx_req.head, 0);
		n->tx_held = false;
	}
	pthread_mutex_unlock(&n->tx_lock);
}

/* Retries throttled transmissions when their tokens are due. */
static void *tx_retry_main(void *arg)
{
	struct virtio_net *n = arg;
	seccomp_enter(SECCOMP_DEVICE);
	pthread_mutex_lock(&n->limit_lock);
	while (!n->tx_stop) {
		uint64_t now = monotonic_ns();
		if (n->tx_retry_ns && n->tx_retry_ns <= now) {
			n->tx_retry_ns = 0;
			struct virtio_transport *t = __atomic_load_n(&n->t, __ATOMIC_ACQUIRE);
			pthread_mutex_unlock(&n->limit_lock);
			if (t)
				transmit(n, t, false);
			pthread_mutex_lock(&n->limit_lock);
			continue;
		}
		if (!n->tx_retry_ns) {
			pthread_cond_wait(&n->limit_cond, &n->limit_lock);
			continue;
		}
		struct timespec ts; /* limit_cond waits on CLOCK_REALTIME */
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t at = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
			      (n->tx_retry_ns - now);
		ts.tv_sec = (time_t)(at / 1000000000ull);
		ts.tv_nsec = (long)(at % 1000000000ull);
		pthread_cond_timedwait(&n->limit_cond, &n->limit_lock, &ts);
	}
	pthread_mutex_unlock(&n->limit_lock);
	return NULL;
}

void virtio_net_set_paused(struct virtio_net *n, bool paused)
{
	/* Taking each lock waits for the frame being delivered or sent under it. */
	pthread_mutex_lock(&n->rx_lock);
	n->rx_paused = paused;
	pthread_cond_broadcast(&n->rx_resumed);
	pthread_mutex_unlock(&n->rx_lock);
	pthread_mutex_lock(&n->tx_lock);
	bool resumed = n->tx_paused && !paused;
	n->tx_paused = paused;
	pthread_mutex_unlock(&n->tx_lock);
	struct virtio_transport *t = __atomic_load_n(&n->t, __ATOMIC_ACQUIRE);
	if (resumed && t)
		transmit(n, t, false); /* what the guest queued before the pause, or held back */
}

void virtio_net_quiesce(struct virtio_net *n)
{
	struct virtio_transport *t = __atomic_load_n(&n->t, __ATOMIC_ACQUIRE);
	if (t)
		transmit(n, t, true);
	/* Nothing waits for a retry now. */
	pthread_mutex_lock(&n->limit_lock);
	n->tx_retry_ns = 0;
	pthread_mutex_unlock(&n->limit_lock);
}

int virtio_net_set_rate_limiters(struct virtio_net *n, const struct rate_limiter_config *rx,
				 const struct rate_limiter_config *tx)
{
	pthread_mutex_lock(&n->limit_lock);
	uint64_t now = monotonic_ns();
	n->rx_limited = rate_limiter_active(rx);
	rate_limiter_init(&n->rx_limiter, rx, now);
	n->tx_limited = rate_limiter_active(tx);
	rate_limiter_init(&n->tx_limiter, tx, now);
	int rc = 0;
	if (n->tx_limited && !n->tx_thread_up) {
		rc = -pthread_create(&n->tx_thread, NULL, tx_retry_main, n);
		n->tx_thread_up = !rc;
	}
	n->tx_retry_ns = n->tx_retry_ns ? now : 0; /* a waiting frame: look again now */
	pthread_cond_broadcast(&n->limit_cond);
	pthread_mutex_unlock(&n->limit_lock);
	return rc;
}

/* ---- receive ---- */

bool virtio_net_hold_rx(struct virtio_net *n, const struct virtq_req *req)
{
	if (n->nheld == VIRTIO_NET_RX_HELD)
		return false;
	struct virtio_net_rxbuf *b = &n->held[n->nheld];
	b->head = req->head;
	b->epoch = req->epoch;
	b->nseg = req->nin < VIRTIO_NET_RX_SEGS ? req->nin : VIRTIO_NET_RX_SEGS;
	b->cap = 0;
	for (unsigned i = 0; i < b->nseg; i++) {
		b->seg[i] = req->in[i];
		b->cap += req->in[i].len;
	}
	if (b->cap < VIRTIO_NET_HDR_SIZE)
		return false;
	n->nheld++;
	return true;
}

/* Pop one receive buffer into held[nheld]. Buffers too small for a header cannot take any
 * frame: they are returned with nothing written (the driver sees a zero length) and
 * counted. Returns false when the ring has no more buffers (or is broken). */
static bool take_buffer(struct virtio_net *n, struct virtio_transport *t)
{
	struct virtq_req *req = &n->rx_req;
	/* Bounded: a driver refilling tiny buffers as fast as they come back cannot keep this
	 * thread here. */
	for (unsigned tries = 0; tries < VIRTQ_MAX_SIZE; tries++) {
		if (virtio_pop(t, VIRTIO_NET_RECEIVEQ, req) <= 0)
			return false;
		if (virtio_net_hold_rx(n, req))
			return true;
		count(&n->stats.rx_errors, 1);
		virtio_complete(t, VIRTIO_NET_RECEIVEQ, req->epoch, req->head, 0);
	}
	return false;
}

/* Copy len bytes at src into the held buffers from byte pos of their concatenation. */
static void rx_copy(struct virtio_net *n, uint64_t pos, const uint8_t *src, size_t len)
{
	for (unsigned b = 0; b < n->nheld && len; b++) {
		const struct virtio_net_rxbuf *buf = &n->held[b];
		for (unsigned i = 0; i < buf->nseg && len; i++) {
			const struct virtq_seg *s = &buf->seg[i];
			if (pos >= s->len) {
				pos -= s->len;
				continue;
			}
			size_t chunk = s->len - pos < len ? s->len - pos : len;
			memcpy((uint8_t *)s->hva + pos, src, chunk);
			src += chunk;
			len -= chunk;
			pos = 0;
		}
	}
}

/* Give one frame to the driver, or drop it. Called with rx_lock held. */
static void rx_one(struct virtio_net *n, struct virtio_transport *t, const uint8_t *frame,
		   size_t len)
{
	/* They change only across a reset, whose epoch drops a frame that straddles one. */
	uint64_t features = virtio_driver_features(t);
	bool mrg = features & (1ull << VIRTIO_NET_F_MRG_RXBUF);
	uint64_t need = VIRTIO_NET_HDR_SIZE + len, room = 0;
	unsigned k = 0;

	if (!within_mtu(n, features, frame, len)) {
		count(&n->stats.rx_dropped, 1);
		return;
	}
	/* Without MRG_RXBUF a frame must fit one buffer (5.1.6.3.1); with it, the buffers in
	 * ring order until there is room. Buffers taken stay held for the next frame when this
	 * one does not fit. */
	while (room < need && (k == 0 || mrg)) {
		if (k == n->nheld && (n->nheld == VIRTIO_NET_RX_HELD || !take_buffer(n, t)))
			break;
		room += n->held[k++].cap;
	}
	if (room < need) {
		count(&n->stats.rx_dropped, 1);
		return;
	}

	uint8_t hdr[VIRTIO_NET_HDR_SIZE] = {0};
	if ((features & (1ull << VIRTIO_NET_F_GUEST_CSUM)) && l4_csum_valid(frame, len))
		hdr[HDR_FLAGS] = VIRTIO_NET_HDR_F_DATA_VALID;
	/* 1 without MRG_RXBUF (5.1.6.4.1). */
	put_le16(hdr + HDR_NUM_BUFFERS, (uint16_t)k);
	rx_copy(n, 0, hdr, sizeof(hdr));
	rx_copy(n, sizeof(hdr), frame, len);

	if (__atomic_load_n(&n->epoch, __ATOMIC_ACQUIRE) != n->rx_epoch) {
		n->nheld = 0; /* reset while writing: these buffers are no longer the driver's */
		count(&n->stats.rx_dropped, 1);
		return;
	}
	/* All buffers but the last are used whole (5.1.6.4.1), and the driver sees them all at
	 * once: one used index update per epoch (buffers of an older one are dropped). */
	struct virtq_used_elem used[VIRTIO_NET_RX_HELD];
	for (unsigned i = 0, first = 0; i < k; i++) {
		uint64_t bytes = i + 1 < k ? n->held[i].cap : need;
		need -= bytes;
		used[i] = (struct virtq_used_elem){.id = n->held[i].head, .len = (uint32_t)bytes};
		if (i + 1 == k || n->held[i + 1].epoch != n->held[first].epoch) {
			virtio_complete_batch(t, VIRTIO_NET_RECEIVEQ, n->held[first].epoch,
					      used + first, i + 1 - first);
			first = i + 1;
		}
	}
	n->nheld -= k;
	memmove(n->held, n->held + k, n->nheld * sizeof(n->held[0]));
	count(&n->stats.rx_packets, 1);
	count(&n->stats.rx_bytes, len);
}

/* The backend's receive callback. */
static void net_receive(void *opaque, const void *frame, size_t len)
{
	struct virtio_net *n = opaque;

	/* Shaped, not dropped: the backend's thread waits for the tokens, as a slower link
	 * would make it. */
	for (uint64_t wait; (wait = limit_wait(n, false, len));) {
		count(&n->stats.rx_throttled, 1);
		struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&n->rx_lock);
	/* Paused, the frame waits with the backend's thread: a paused VM's memory stays as it
	 * is, and the frame is not lost. */
	while (n->rx_paused)
		pthread_cond_wait(&n->rx_resumed, &n->rx_lock);
	struct virtio_transport *t = __atomic_load_n(&n->t, __ATOMIC_ACQUIRE);
	uint64_t epoch = __atomic_load_n(&n->epoch, __ATOMIC_ACQUIRE);
	if (epoch != n->rx_epoch) {
		n->nheld = 0;
		n->rx_epoch = epoch;
	}
	if (!t || len < NET_ETH_HLEN || len > NET_FRAME_MAX)
		count(&n->stats.rx_dropped, 1);
	else
		rx_one(n, t, frame, len);
	pthread_mutex_unlock(&n->rx_lock);
}

/* ---- transport callbacks ---- */

static void net_queue_notify(void *opaque, struct virtio_transport *t, unsigned q)
{
	struct virtio_net *n = opaque;
	__atomic_store_n(&n->t, t, __ATOMIC_RELEASE);
	/* New receive buffers are taken when a frame comes: frames that found no room were
	 * dropped already, none wait. */
	if (q == VIRTIO_NET_TRANSMITQ)
		transmit(n, t, false);
}

static uint32_t net_config_read(void *opaque, uint32_t off, unsigned size)
{
	struct virtio_net *n = opaque;
	uint32_t v = 0;
	if (size > 4 || off > sizeof(n->config) || size > sizeof(n->config) - off)
		return 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)n->config[off + i] << (8 * i);
	return v;
}

/* mac is writable only with VIRTIO_NET_F_CTRL_MAC_ADDR (5.1.4.2), which is not offered;
 * the other fields are read-only. */
static void net_config_write(void *opaque, uint32_t off, unsigned size, uint32_t val)
{
	(void)opaque;
	(void)off;
	(void)size;
	(void)val;
}

/* Runs under the transport lock, so it takes none of ours: the receive path sees the new
 * epoch and forgets its held buffers. Transmission holds nothing across notifications. */
static void net_reset(void *opaque)
{
	struct virtio_net *n = opaque;
	__atomic_add_fetch(&n->epoch, 1, __ATOMIC_ACQ_REL);
}

/* The transport was loaded from a snapshot: t becomes the card's once its own section is
 * (virtio_net_state_load). */
static void net_restored(void *opaque, struct virtio_transport *t)
{
	struct virtio_net *n = opaque;
	n->restore_t = t;
}

/* 52:54:00 and three random bytes: locally administered (bit 1 of the first byte), unicast
 * (bit 0 clear), and different for each VM. */
static void random_mac(uint8_t mac[6])
{
	uint8_t r[3];
	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20 ^ (uintptr_t)mac;
		r[0] = (uint8_t)x;
		r[1] = (uint8_t)(x >> 8);
		r[2] = (uint8_t)(x >> 16);
	}
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	memcpy(mac + 3, r, sizeof(r));
}

int virtio_net_init(struct virtio_net *n, struct net_backend *backend, const uint8_t mac[6],
		    struct virtio_dev *dev)
{
	int err;

	memset(n, 0, sizeof(*n));
	if (!backend)
		return -EINVAL;
	n->backend = backend;
	n->tx_frame = malloc(NET_FRAME_MAX);
	if (!n->tx_frame)
		return -ENOMEM;
	err = -pthread_mutex_init(&n->rx_lock, NULL);
	if (err)
		goto fail_mem;
	err = -pthread_mutex_init(&n->tx_lock, NULL);
	if (err)
		goto fail_rx;
	pthread_mutex_init(&n->limit_lock, NULL);
	pthread_cond_init(&n->limit_cond, NULL);
	pthread_cond_init(&n->rx_resumed, NULL);

	if (mac)
		memcpy(n->config + CFG_MAC, mac, 6);
	else
		random_mac(n->config + CFG_MAC);
	put_le16(n->config + CFG_STATUS, VIRTIO_NET_S_LINK_UP);
	put_le16(n->config + CFG_MAX_VIRTQUEUE_PAIRS, 1);
	n->mtu = backend->mtu;
	if (n->mtu < NET_MTU_MIN || n->mtu > NET_MTU_MAX)
		n->mtu = NET_MTU_DEFAULT;
	put_le16(n->config + CFG_MTU, (uint16_t)n->mtu);

	*dev = (struct virtio_dev){
	    .device_id = VIRTIO_ID_NET,
	    .features = 1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM |
			1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_MRG_RXBUF |
			1ull << VIRTIO_NET_F_STATUS | 1ull << VIRTIO_NET_F_MTU,
	    .num_queues = 2,
	    .config_size = sizeof(n->config),
	    .opaque = n,
	    .config_read = net_config_read,
	    .config_write = net_config_write,
	    .queue_notify = net_queue_notify,
	    .reset = net_reset,
	    .restored = net_restored,
	};
	backend->attach(backend, net_receive, n);
	return 0;

fail_rx:
	pthread_mutex_destroy(&n->rx_lock);
fail_mem:
	free(n->tx_frame);
	n->tx_frame = NULL;
	return err;
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n->tx_frame)
		return;
	virtio_net_set_paused(n, false); /* detaching waits for a frame being delivered */
	n->backend->attach(n->backend, NULL, NULL);
	if (n->tx_thread_up) {
		pthread_mutex_lock(&n->limit_lock);
		n->tx_stop = true;
		pthread_cond_broadcast(&n->limit_cond);
		pthread_mutex_unlock(&n->limit_lock);
		pthread_join(n->tx_thread, NULL);
		n->tx_thread_up = false;
	}
	pthread_mutex_destroy(&n->limit_lock);
	pthread_cond_destroy(&n->limit_cond);
	pthread_cond_destroy(&n->rx_resumed);
	pthread_mutex_destroy(&n->tx_lock);
	pthread_mutex_destroy(&n->rx_lock);
	free(n->tx_frame);
	n->tx_frame = NULL;
}
