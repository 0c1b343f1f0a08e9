/* libFuzzer target for virtio-net (virtio 1.2 section 5.1) behind the virtio-mmio transport,
 * on a fake network backend that records every frame sent and delivers frames taken from
 * the input. The input is described in fuzz_common.h; for this target:
 *   target data   bytes the received frames are cut from, in turn (repeated as needed)
 *   flags bit 0   the backend refuses every frame sent (as a full host queue would)
 *   operation 4   DELIVER: a frame of b + (a & 0x3f) bytes arrives from the network; with
 *                 a bit 6 set, the TCP or UDP checksum of an IPv4 or IPv6 frame is made right
 *                 first, so that the device's checksum validation is reached
 * Checks besides those of fuzz_common.h:
 *   transmit (5.1.6.2): the frames sent are exactly those of the well-formed requests, in
 *   order: the readable bytes after the 12-byte virtio_net_hdr, with the partial checksum
 *   completed when VIRTIO_NET_HDR_F_NEEDS_CSUM asks (csum_start and csum_offset inside the
 *   frame); GSO requests (never offered), frames outside 14..NET_FRAME_MAX bytes and,
 *   with VIRTIO_NET_F_MTU, frames longer than MTU plus the Ethernet header (and VLAN tag)
 *   are not sent;
 *   receive (5.1.6.3, 5.1.6.4): a frame is dropped or lands whole: num_buffers used
 *   elements (one without VIRTIO_NET_F_MRG_RXBUF) whose bytes are the header and the frame;
 *   the header has no GSO and no NEEDS_CSUM, and VIRTIO_NET_HDR_F_DATA_VALID only with
 *   VIRTIO_NET_F_GUEST_CSUM and for a TCP or UDP packet whose checksum is right; buffers too
 *   small for a header are returned with nothing written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "host/net.h"
#include "virtio/net.h"

#define HDR         VIRTIO_NET_HDR_SIZE
#define MTU         9000       /* the fake backend's: config.mtu with VIRTIO_NET_F_MTU */
#define SENT_MAX    (4u << 20) /* bytes of sent frames kept per step */
#define SENT_FRAMES 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct net_backend nb;
	net_receive_fn receive;
	void *opaque;
	struct virtio_net net;
	/* Frames sent during the current step. */
	uint8_t *sent;
	size_t sent_len, sent_off[SENT_FRAMES + 1];
	unsigned nsent, tx_next;
	bool tx_unchecked; /* the log overflowed, or used elements were lost */
	uint8_t *expect;   /* a transmit request's frame as it must be sent */
	/* The frame being delivered and the used elements that hold it. */
	uint8_t *frame;
	size_t frame_len, cursor;
	bool frame_pending;
	uint8_t *rx;
	size_t rx_got;
	unsigned rx_entries, rx_want;
	bool rx_active, rx_unchecked;
} nz;

/* ---- the Internet checksum (RFC 1071), written independently of the device's ---- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t sum16(uint64_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += be16(p + i);
	if (len & 1)
		sum += (uint64_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint64_t sum)
{
	while (sum > 0xffff)
		sum = (sum >> 16) + (sum & 0xffff);
	return (uint16_t)sum;
}

/* Where a frame's TCP or UDP segment is, and its pseudo-header sum; false if the frame is
 * not an unfragmented IPv4 or IPv6 (no extension headers) TCP or UDP packet. */
static bool find_l4(const uint8_t *f, size_t len, size_t *l4, size_t *l4len, uint8_t *proto,
		    uint64_t *pseudo)
{
	size_t ip = 14;
	if (len < 14)
		return false;
	uint16_t type = be16(f + 12);
	if (type == 0x8100) {
		if (len < 18)
			return false;
		type = be16(f + 16);
		ip = 18;
	}
	if (type == 0x0800) {
		if (len < ip + 20 || f[ip] >> 4 != 4)
			return false;
		size_t ihl = 4u * (f[ip] & 15), total = be16(f + ip + 2);
		if (ihl < 20 || total < ihl || ip + total > len || (be16(f + ip + 6) & 0x3fff))
			return false;
		*proto = f[ip + 9];
		*l4 = ip + ihl;
		*l4len = total - ihl;
		*pseudo = sum16(0, f + ip + 12, 8);
	} else if (type == 0x86dd) {
		if (len < ip + 40 || f[ip] >> 4 != 6)
			return false;
		*l4len = be16(f + ip + 4);
		if (ip + 40 + *l4len > len)
			return false;
		*proto = f[ip + 6];
		*l4 = ip + 40;
		*pseudo = sum16(0, f + ip + 8, 32);
	} else {
		return false;
	}
	if (*proto == 6)
		return *l4len >= 20;
	if (*proto == 17)
		return *l4len >= 8 && be16(f + *l4 + 4) == *l4len;
	return false;
}

/* The frame's transport checksum is right (and, for UDP, present). */
static bool l4_checksum_right(const uint8_t *f, size_t len)
{
	size_t l4, l4len;
	uint8_t proto;
	uint64_t sum;
	if (!find_l4(f, len, &l4, &l4len, &proto, &sum))
		return false;
	if (proto == 17 && be16(f + l4 + 6) == 0)
		return false;
	return fold(sum + proto + l4len + sum16(0, f + l4, l4len)) == 0xffff;
}

/* Make the frame's transport checksum right, if it has one. */
static void l4_checksum_fix(uint8_t *f, size_t len)
{
	size_t l4, l4len;
	uint8_t proto;
	uint64_t sum;
	if (!find_l4(f, len, &l4, &l4len, &proto, &sum))
		return;
	uint8_t *field = f + l4 + (proto == 6 ? 16 : 6);
	field[0] = field[1] = 0;
	uint16_t c = (uint16_t)~fold(sum + proto + l4len + sum16(0, f + l4, l4len));
	if (c == 0 && proto == 17)
		c = 0xffff;
	field[0] = (uint8_t)(c >> 8);
	field[1] = (uint8_t)c;
}

/* ---- the fake backend ---- */

static int fake_send(struct net_backend *nb, const void *frame, size_t len)
{
	(void)nb;
	FZ_CHECK(len >= NET_ETH_HLEN && len <= NET_FRAME_MAX, "sent a frame of %zu bytes", len);
	if (nz.nsent == SENT_FRAMES || nz.sent_len + len > SENT_MAX) {
		nz.tx_unchecked = true;
	} else {
		memcpy(nz.sent + nz.sent_len, frame, len);
		nz.sent_len += len;
		nz.sent_off[++nz.nsent] = nz.sent_len;
	}
	return fz.flags & 1 ? -ENOBUFS : 0;
}

static void fake_attach(struct net_backend *nb, net_receive_fn receive, void *opaque)
{
	(void)nb;
	nz.receive = receive;
	nz.opaque = opaque;
}

static void fake_close(struct net_backend *nb)
{
	(void)nb;
}

/* ---- checks ---- */

/* A transmit request came back: the frame it asks for must be the next one sent, if it is
 * well-formed, and nothing must have been sent for it otherwise. */
static void tx_used(const struct fz_chain *c)
{
	if (nz.tx_unchecked)
		return;
	if (c->out_len < HDR + NET_ETH_HLEN || c->out_len - HDR > NET_FRAME_MAX)
		return;
	uint8_t hdr[HDR];
	size_t len = c->out_len - HDR;
	fz_chain_read(c, false, 0, hdr, HDR);
	fz_chain_read(c, false, HDR, nz.expect, len);
	if (hdr[1] & ~VIRTIO_NET_HDR_GSO_ECN)
		return; /* GSO: not offered, not sent */
	if ((fz.accepted & (1ull << VIRTIO_NET_F_MTU)) &&
	    len > MTU + NET_ETH_HLEN + (be16(nz.expect + 12) == 0x8100 ? 4u : 0u))
		return; /* over the MTU: not sent */
	size_t at = SIZE_MAX;
	uint16_t csum = 0;
	if (hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		size_t start = fz_le16(hdr + 6), off = fz_le16(hdr + 8);
		if (start >= len || off + 2 > len - start)
			return;
		at = start + off;
		csum = (uint16_t)~fold(sum16(0, nz.expect + start, len - start));
	}
	FZ_CHECK(nz.tx_next < nz.nsent, "a well-formed frame of %zu bytes was not sent", len);
	const uint8_t *got = nz.sent + nz.sent_off[nz.tx_next];
	size_t got_len = nz.sent_off[nz.tx_next + 1] - nz.sent_off[nz.tx_next];
	nz.tx_next++;
	FZ_CHECK(got_len == len, "sent %zu bytes for a frame of %zu", got_len, len);
	if (at != SIZE_MAX) {
		uint16_t v = be16(got + at);
		/* 0 and 0xffff are the same ones' complement number (UDP reserves 0). */
		FZ_CHECK(v == csum || (csum == 0 && v == 0xffff),
			 "checksum %#x at %zu, expected %#x", v, at, csum);
		nz.expect[at] = got[at];
		nz.expect[at + 1] = got[at + 1];
	}
	FZ_CHECK(!memcmp(got, nz.expect, len), "the frame sent differs from the request's");
}

static void rx_used(uint16_t head, uint32_t len, const struct fz_chain *c)
{
	if (nz.rx_unchecked)
		return;
	if (fz_head_reused(0, head)) {
		/* A buffer used twice holds only its last content: stop checking receives. */
		nz.rx_unchecked = true;
		return;
	}
	if (len == 0) {
		FZ_CHECK(c->in_len < HDR, "a buffer of %llu bytes returned unused",
			 (unsigned long long)c->in_len);
		return;
	}
	FZ_CHECK(nz.frame_pending, "a receive buffer used without a frame");
	if (!nz.rx_active) {
		FZ_CHECK(len >= HDR, "first buffer of a frame holds %u bytes", len);
		uint8_t hdr[HDR];
		fz_chain_read(c, true, 0, hdr, HDR);
		nz.rx_want = fz_le16(hdr + 10);
		FZ_CHECK(nz.rx_want >= 1 && nz.rx_want <= VIRTIO_NET_RX_HELD, "num_buffers %u",
			 nz.rx_want);
		FZ_CHECK(nz.rx_want == 1 || (fz.accepted & (1ull << VIRTIO_NET_F_MRG_RXBUF)),
			 "num_buffers %u without VIRTIO_NET_F_MRG_RXBUF", nz.rx_want);
		nz.rx_active = true;
		nz.rx_got = 0;
		nz.rx_entries = 0;
	}
	FZ_CHECK(nz.rx_got + len <= HDR + nz.frame_len, "%zu + %u bytes for a frame of %zu",
		 nz.rx_got, len, nz.frame_len);
	fz_chain_read(c, true, 0, nz.rx + nz.rx_got, len);
	nz.rx_got += len;
	if (++nz.rx_entries < nz.rx_want)
		return;
	FZ_CHECK(nz.rx_got == HDR + nz.frame_len, "frame of %zu bytes in %zu", nz.frame_len,
		 nz.rx_got - HDR);
	FZ_CHECK(!(fz.accepted & (1ull << VIRTIO_NET_F_MTU)) ||
		     nz.frame_len <= MTU + NET_ETH_HLEN + (be16(nz.frame + 12) == 0x8100 ? 4u : 0u),
		 "a frame of %zu bytes received over the MTU", nz.frame_len);
	const uint8_t *h = nz.rx;
	FZ_CHECK(h[0] == 0 || h[0] == VIRTIO_NET_HDR_F_DATA_VALID, "flags %#x", h[0]);
	for (unsigned i = 1; i < 10; i++)
		FZ_CHECK(h[i] == 0, "header byte %u is %#x", i, h[i]);
	if (h[0] & VIRTIO_NET_HDR_F_DATA_VALID) {
		FZ_CHECK(fz.accepted & (1ull << VIRTIO_NET_F_GUEST_CSUM),
			 "DATA_VALID without VIRTIO_NET_F_GUEST_CSUM");
		FZ_CHECK(l4_checksum_right(nz.frame, nz.frame_len),
			 "DATA_VALID on a frame whose checksum is wrong");
	}
	FZ_CHECK(!memcmp(nz.rx + HDR, nz.frame, nz.frame_len), "received frame corrupted");
	nz.rx_active = false;
	nz.frame_pending = false;
}

static void net_used(void *opaque, unsigned q, uint16_t head, uint32_t len,
		     const struct fz_chain *c)
{
	(void)opaque;
	if (q == VIRTIO_NET_TRANSMITQ)
		tx_used(c);
	else
		rx_used(head, len, c);
}

static void net_settled(void *opaque)
{
	(void)opaque;
	if (fz.q[VIRTIO_NET_TRANSMITQ].lost)
		nz.tx_unchecked = true;
	if (fz.q[VIRTIO_NET_RECEIVEQ].lost)
		nz.rx_unchecked = true;
	FZ_CHECK(nz.tx_unchecked || nz.tx_next == nz.nsent, "%u frames sent for %u requests",
		 nz.nsent, nz.tx_next);
	nz.nsent = nz.tx_next = 0;
	nz.sent_len = 0;
	FZ_CHECK(nz.rx_unchecked || !nz.rx_active, "a frame was returned in part");
	nz.frame_pending = false;
}

static void net_op(void *opaque, uint8_t code, uint8_t a, uint16_t b)
{
	(void)opaque;
	if (code != FZ_OP_TARGET)
		return;
	size_t len = (size_t)b + (a & 0x3f);
	for (size_t i = 0; i < len; i++)
		nz.frame[i] = fz_data_byte(nz.cursor + i);
	nz.cursor += len;
	if (a & 0x40)
		l4_checksum_fix(nz.frame, len);
	nz.frame_len = len;
	nz.frame_pending = true;
	nz.rx_active = false;
	if (nz.receive)
		nz.receive(nz.opaque, nz.frame, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fz_begin(data, size))
		return 0;
	if (!nz.sent) {
		nz.sent = malloc(SENT_MAX);
		nz.expect = malloc(NET_FRAME_MAX);
		nz.frame = malloc(65535 + 64);
		nz.rx = malloc(HDR + 65535 + 64);
		if (!nz.sent || !nz.expect || !nz.frame || !nz.rx)
			abort();
		nz.nb = (struct net_backend){fake_send, fake_attach, fake_close, MTU};
	}
	nz.nsent = nz.tx_next = 0;
	nz.sent_len = 0;
	nz.cursor = 0;
	nz.tx_unchecked = nz.rx_unchecked = false;
	nz.frame_pending = nz.rx_active = false;

	static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	struct virtio_dev dev;
	if (virtio_net_init(&nz.net, &nz.nb, mac, &dev))
		abort();
	const struct fz_target tg = {
	    .nops = FZ_OP_TARGET + 1,
	    .used = net_used,
	    .op = net_op,
	    .settled = net_settled,
	};
	fz_attach(&dev, 1u << VIRTIO_NET_TRANSMITQ);
	fz_run(&tg);
	virtio_net_destroy(&nz.net);
	FZ_CHECK(!nz.receive, "still attached to the backend after destroy");
	fz_finish(&tg);
	fz_detach();
	return 0;
}
