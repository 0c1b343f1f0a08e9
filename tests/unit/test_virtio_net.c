/* Unit tests of virtio-net (virtio 1.2 section 5.1) driven through the real virtio-mmio
 * transport, with rings built in guest RAM as a driver builds them, on a fake backend:
 * configuration, transmit (header stripped in any layout, checksum completion, malformed
 * requests), receive with and without VIRTIO_NET_F_MRG_RXBUF (num_buffers, frames larger
 * than the buffers, no buffers, DATA_VALID), reset, and a backend thread racing the driver.
 * Then the backends: hostfwd rules, libslirp answering ARP and DHCP and forwarding a host
 * port on loopback, the device on slirp end to end, and TAP where the host allows it. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/net.h"
#include "host/net_slirp.h"
#include "host/net_tap.h"
#include "mem/guest_mem.h"
#include "virtio/mmio.h"
#include "virtio/net.h"

#include "virtio_driver.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x400000ull /* 4 MiB */
#define NUM      64
#define HDR      VIRTIO_NET_HDR_SIZE
#define RXQ      VIRTIO_NET_RECEIVEQ
#define TXQ      VIRTIO_NET_TRANSMITQ

#define F(bit) (1ull << (bit))

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

/* ---- a fake backend that keeps what it is sent ---- */

#define FAKE_FRAMES    8
#define FAKE_FRAME_MAX 9100 /* bytes the fake backend keeps of one frame */
#define FAKE_MTU       9000 /* the fake backend's MTU */

struct fake_be {
	struct net_backend nb;
	net_receive_fn receive;
	void *opaque;
	unsigned nsent;
	size_t len[FAKE_FRAMES];
	uint8_t frame[FAKE_FRAMES][FAKE_FRAME_MAX];
	int send_rc;
};

static int fake_send(struct net_backend *nb, const void *frame, size_t len)
{
	struct fake_be *b = (struct fake_be *)nb;
	if (b->send_rc)
		return b->send_rc;
	assert_true(b->nsent < FAKE_FRAMES && len <= sizeof(b->frame[0]));
	memcpy(b->frame[b->nsent], frame, len);
	b->len[b->nsent++] = len;
	return 0;
}

static void fake_attach(struct net_backend *nb, net_receive_fn receive, void *opaque)
{
	struct fake_be *b = (struct fake_be *)nb;
	b->receive = receive;
	b->opaque = opaque;
}

static void fake_close(struct net_backend *nb)
{
	(void)nb;
}

/* ---- the device, driven by the fake driver of virtio_driver.h ---- */

struct fixture {
	struct guest_mem mem;
	struct fake_be be;
	struct net_backend *nb; /* the backend the device is on (&be.nb, or slirp) */
	struct virtio_net net;
	struct virtio_transport t;
	struct vdrv drv;
};

/* Hand a frame to the device as its backend would. */
static void deliver(struct fixture *f, const void *frame, size_t len)
{
	assert_non_null(f->be.receive);
	f->be.receive(f->be.opaque, frame, len);
}

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 8));
}

static int setup_mtu(void **state, uint64_t mask, unsigned mtu)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&f->drv, &f->t, &f->mem, 2, NUM);
	f->be.nb = (struct net_backend){fake_send, fake_attach, fake_close, mtu};
	f->nb = &f->be.nb;
	struct virtio_dev dev;
	assert_int_equal(virtio_net_init(&f->net, f->nb, guest_mac, &dev), 0);
	assert_int_equal(virtio_mmio_init(&f->t, &dev, &f->mem, vdrv_irq_line(&f->drv, 3)), 0);
	vdrv_start(&f->drv, mask);
	*state = f;
	return 0;
}

static int setup_with(void **state, uint64_t mask)
{
	return setup_mtu(state, mask, FAKE_MTU);
}

static int setup(void **state)
{
	return setup_with(state, VDRV_ALL_FEATURES);
}

/* A driver that takes neither MRG_RXBUF nor GUEST_CSUM. */
static int setup_plain(void **state)
{
	return setup_with(state, ~(F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM)));
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	virtio_net_destroy(&f->net);
	assert_null(f->be.receive); /* detached */
	virtio_mmio_destroy(&f->t);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

/* ---- frames ---- */

static uint16_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An Ethernet + IPv4 + UDP frame with plen payload bytes; the UDP checksum is complete when
 * full, else it holds the pseudo-header sum as a driver leaves it for NEEDS_CSUM. */
static size_t make_udp4(uint8_t *f, size_t plen, bool full)
{
	size_t ulen = 8 + plen, len = 14 + 20 + ulen;
	memset(f, 0, len);
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14, *u = ip + 20;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + ulen));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (uint8_t[]){10, 0, 2, 15}, 4);
	memcpy(ip + 16, (uint8_t[]){10, 0, 2, 2}, 4);
	put16(ip + 10, (uint16_t)~sum16(ip, 20, 0));
	put16(u, 40000);
	put16(u + 2, 7);
	put16(u + 4, (uint16_t)ulen);
	fill_pattern(u + 8, plen, 3);
	uint32_t pseudo = sum16(ip + 12, 8, 17 + (uint32_t)ulen);
	if (full)
		put16(u + 6, (uint16_t)~sum16(u, ulen, pseudo));
	else
		put16(u + 6, (uint16_t)pseudo);
	return len;
}

/* An Ethernet + IPv6 + TCP frame with a complete checksum. */
static size_t make_tcp6(uint8_t *f, size_t plen)
{
	size_t tlen = 20 + plen, len = 14 + 40 + tlen;
	memset(f, 0, len);
	memcpy(f, guest_mac, 6);
	put16(f + 12, 0x86dd);
	uint8_t *ip = f + 14, *t = ip + 40;
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)tlen);
	ip[6] = 6;
	ip[7] = 64;
	ip[8] = 0xfe, ip[9] = 0xc0, ip[23] = 2;
	ip[24] = 0xfe, ip[25] = 0xc0, ip[39] = 0x15;
	put16(t, 443);
	put16(t + 2, 50000);
	t[12] = 5 << 4;
	t[13] = 0x18;
	fill_pattern(t + 20, plen, 5);
	uint32_t pseudo = sum16(ip + 8, 32, 6 + (uint32_t)tlen);
	put16(t + 16, (uint16_t)~sum16(t, tlen, pseudo));
	return len;
}

/* ---- configuration ---- */

static void test_config(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(vdrv_read(&f->drv, REG_DEVICE_ID), VIRTIO_ID_NET);
	assert_int_equal(vdrv_offered(&f->drv) & 0xffffff,
			 F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_MAC) |
			     F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_STATUS) |
			     F(VIRTIO_NET_F_MTU));
	assert_true(vdrv_offered(&f->drv) & F(VIRTIO_F_VERSION_1));
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + i, 1), guest_mac[i]);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG, 4), 0x12005452);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 6, 2), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 8, 2), 1);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 10, 2), FAKE_MTU);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 12, 2), 0); /* past the end */
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 10, 4), 0);
	/* The MAC is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR. */
	virtio_mmio_ops.write(&f->t, REG_CONFIG, 4, 0xffffffff);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG, 1), 0x52);
}

static void test_default_mac(void **state)
{
	(void)state;
	struct fake_be be = {.nb = {fake_send, fake_attach, fake_close, FAKE_MTU}};
	struct virtio_net *n = calloc(2, sizeof(*n));
	struct virtio_dev dev;
	assert_non_null(n);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(virtio_net_init(&n[i], &be.nb, NULL, &dev), 0);
		const uint8_t *mac = n[i].config;
		assert_int_equal(mac[0], 0x52);
		assert_int_equal(mac[1], 0x54);
		assert_int_equal(mac[2], 0x00);
		assert_true(mac[0] & 2);  /* locally administered */
		assert_false(mac[0] & 1); /* unicast */
		assert_ptr_equal(be.opaque, &n[i]);
	}
	/* Two VMs get different addresses (24 random bits). */
	assert_memory_not_equal(n[0].config, n[1].config, 6);
	virtio_net_destroy(&n[1]);
	virtio_net_destroy(&n[0]);
	free(n);
}

/* ---- transmit ---- */

/* Send a frame after a header (flags, csum_start, csum_offset) laid out over descriptors cut
 * at the given offsets of header + frame. Returns the used length. */
static uint32_t transmit(struct fixture *f, const uint8_t *frame, size_t len, uint8_t flags,
			 uint16_t csum_start, uint16_t csum_offset, const size_t *cuts,
			 unsigned ncuts)
{
	size_t total = HDR + len;
	uint64_t gpa = vdrv_alloc(&f->drv, total);
	uint8_t *p = vdrv_host(&f->drv, gpa, total);
	memset(p, 0, HDR);
	p[0] = flags;
	p[6] = (uint8_t)csum_start, p[7] = (uint8_t)(csum_start >> 8);
	p[8] = (uint8_t)csum_offset, p[9] = (uint8_t)(csum_offset >> 8);
	memcpy(p + HDR, frame, len);
	struct vdrv_seg s[8];
	unsigned n = 0;
	size_t at = 0;
	for (unsigned i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : total;
		s[n++] = (struct vdrv_seg){gpa + at, (uint32_t)(to - at), false};
		at = to;
	}
	uint16_t head = vdrv_add_chain(&f->drv, TXQ, s, n);
	vdrv_notify(&f->drv, TXQ);
	return vdrv_take_used(&f->drv, TXQ, head);
}

static void test_tx(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[1514];
	fill_pattern(frame, sizeof(frame), 1);
	int irqs = f->drv.irqs;
	/* Header alone, then the frame over two descriptors: what Linux does without
	 * any_layout habits. */
	size_t cuts[] = {HDR, HDR + 700};
	assert_int_equal(transmit(f, frame, sizeof(frame), 0, 0, 0, cuts, 2), 0);
	assert_int_equal(f->be.nsent, 1);
	assert_int_equal(f->be.len[0], sizeof(frame));
	assert_memory_equal(f->be.frame[0], frame, sizeof(frame));
	assert_true(f->drv.irqs > irqs);
	assert_true(vdrv_read(&f->drv, REG_INTERRUPT_STATUS) & VIRTIO_INT_VRING);

	/* Header and frame in one descriptor; a header split over two. */
	assert_int_equal(transmit(f, frame, 60, 0, 0, 0, NULL, 0), 0);
	size_t split[] = {5, HDR + 3};
	assert_int_equal(transmit(f, frame + 100, 64, 0, 0, 0, split, 2), 0);
	assert_int_equal(f->be.nsent, 3);
	assert_int_equal(f->be.len[1], 60);
	assert_memory_equal(f->be.frame[1], frame, 60);
	assert_int_equal(f->be.len[2], 64);
	assert_memory_equal(f->be.frame[2], frame + 100, 64);
	assert_int_equal(f->net.stats.tx_packets, 3);
	assert_int_equal(f->net.stats.tx_bytes, sizeof(frame) + 60 + 64);
	assert_int_equal(f->net.stats.tx_errors, 0);
}

static void test_tx_csum(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[200], want[200];
	size_t len = make_udp4(frame, 99, false); /* odd length: a padded last byte */
	make_udp4(want, 99, true);
	size_t cuts[] = {HDR, HDR + 40};
	assert_int_equal(transmit(f, frame, len, VIRTIO_NET_HDR_F_NEEDS_CSUM, 34, 6, cuts, 2), 0);
	assert_int_equal(f->be.nsent, 1);
	assert_int_equal(f->be.len[0], len);
	assert_memory_equal(f->be.frame[0], want, len);
	/* The sum over the pseudo-header and datagram now checks. */
	const uint8_t *ip = f->be.frame[0] + 14;
	assert_int_equal(sum16(ip + 20, len - 34, sum16(ip + 12, 8, 17 + (uint32_t)(len - 34))),
			 0xffff);
	/* The driver's buffer is not written. */
	assert_memory_equal(vdrv_host(&f->drv, f->drv.heap_base + HDR, len), frame, len);

	/* Without NEEDS_CSUM, csum_start and csum_offset are ignored (5.1.6.2.2). */
	assert_int_equal(transmit(f, frame, len, 0, 34, 6, NULL, 0), 0);
	assert_memory_equal(f->be.frame[1], frame, len);
}

static void test_tx_malformed(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[200];
	fill_pattern(frame, sizeof(frame), 2);

	/* Shorter than header + Ethernet header. */
	assert_int_equal(transmit(f, frame, NET_ETH_HLEN - 1, 0, 0, 0, NULL, 0), 0);
	/* Checksum position outside the frame, or its 2 bytes past the end. */
	assert_int_equal(transmit(f, frame, 100, VIRTIO_NET_HDR_F_NEEDS_CSUM, 100, 0, NULL, 0), 0);
	assert_int_equal(transmit(f, frame, 100, VIRTIO_NET_HDR_F_NEEDS_CSUM, 90, 9, NULL, 0), 0);
	assert_int_equal(
	    transmit(f, frame, 100, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0xffff, 0xffff, NULL, 0), 0);
	/* A segmentation request, never offered. */
	uint64_t gpa = vdrv_alloc(&f->drv, HDR + 100);
	memset(vdrv_host(&f->drv, gpa, HDR), 0, HDR);
	vdrv_host(&f->drv, gpa, HDR)[1] = 1; /* VIRTIO_NET_HDR_GSO_TCPV4 */
	struct vdrv_seg s = {gpa, HDR + 100, false};
	uint16_t head = vdrv_add_chain(&f->drv, TXQ, &s, 1);
	vdrv_notify(&f->drv, TXQ);
	assert_int_equal(vdrv_take_used(&f->drv, TXQ, head), 0);
	/* Device-writable buffers only: no header to read. */
	s = (struct vdrv_seg){vdrv_alloc(&f->drv, 100), 100, true};
	head = vdrv_add_chain(&f->drv, TXQ, &s, 1);
	vdrv_notify(&f->drv, TXQ);
	assert_int_equal(vdrv_take_used(&f->drv, TXQ, head), 0);
	/* Longer than any frame. */
	s = (struct vdrv_seg){vdrv_alloc(&f->drv, HDR + NET_FRAME_MAX + 1), HDR + NET_FRAME_MAX + 1,
			      false};
	memset(vdrv_host(&f->drv, s.gpa, HDR), 0, HDR);
	head = vdrv_add_chain(&f->drv, TXQ, &s, 1);
	vdrv_notify(&f->drv, TXQ);
	assert_int_equal(vdrv_take_used(&f->drv, TXQ, head), 0);

	assert_int_equal(f->be.nsent, 0);
	assert_int_equal(f->net.stats.tx_errors, 7);
	/* A backend refusing a frame: dropped, counted, returned. */
	f->be.send_rc = -EAGAIN;
	assert_int_equal(transmit(f, frame, 60, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(f->net.stats.tx_dropped, 1);
	f->be.send_rc = 0;
	/* The device still works. */
	assert_int_equal(transmit(f, frame, 60, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(f->be.nsent, 1);
	assert_false(vdrv_read(&f->drv, REG_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* ---- receive ---- */

static uint16_t hdr_num_buffers(const uint8_t *h)
{
	return (uint16_t)(h[10] | h[11] << 8);
}

static void test_rx_plain(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[1514];
	fill_pattern(frame, sizeof(frame), 4);
	uint16_t h0, h1;
	uint64_t b0 = vdrv_post_writable(&f->drv, RXQ, HDR + 1514, &h0),
		 b1 = vdrv_post_writable(&f->drv, RXQ, HDR + 1514, &h1);
	vdrv_notify(&f->drv, RXQ);
	int irqs = f->drv.irqs;

	deliver(f, frame, 100);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h0), HDR + 100);
	const uint8_t *p = vdrv_host(&f->drv, b0, HDR + 1514);
	uint8_t zero[10] = {0};
	assert_memory_equal(p, zero, 10); /* flags, gso_type, hdr_len, gso_size, csum */
	assert_int_equal(hdr_num_buffers(p), 1);
	assert_memory_equal(p + HDR, frame, 100);
	assert_int_equal(p[HDR + 100], 0xa5); /* nothing past the frame */
	assert_true(f->drv.irqs > irqs);

	deliver(f, frame, sizeof(frame)); /* exactly fills the second buffer */
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h1), HDR + sizeof(frame));
	assert_memory_equal(vdrv_host(&f->drv, b1 + HDR, sizeof(frame)), frame, sizeof(frame));
	assert_int_equal(f->net.stats.rx_packets, 2);
	assert_int_equal(f->net.stats.rx_bytes, 100 + sizeof(frame));
}

/* Without MRG_RXBUF a frame larger than the buffer is dropped, and the buffer waits for a
 * frame that fits. */
static void test_rx_plain_too_big(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[400];
	fill_pattern(frame, sizeof(frame), 5);
	uint16_t h0, h1;
	uint64_t b0 = vdrv_post_writable(&f->drv, RXQ, 200, &h0);
	vdrv_post_writable(&f->drv, RXQ, 1000, &h1);
	vdrv_notify(&f->drv, RXQ);

	deliver(f, frame, 300);
	vdrv_no_more_used(&f->drv, RXQ);
	assert_int_equal(f->net.stats.rx_dropped, 1);
	assert_int_equal(vdrv_host(&f->drv, b0 + HDR, 1)[0], 0xa5);
	/* One that fits takes the first buffer, not the larger second. */
	deliver(f, frame, 200 - HDR);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h0), 200);
	assert_memory_equal(vdrv_host(&f->drv, b0 + HDR, 200 - HDR), frame, 200 - HDR);
	deliver(f, frame, 300);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h1), HDR + 300);
	assert_int_equal(f->net.stats.rx_packets, 2);
}

static void test_rx_mrg(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[600];
	fill_pattern(frame, sizeof(frame), 6);
	uint16_t h[4];
	uint64_t b[4];
	for (unsigned i = 0; i < 4; i++)
		b[i] = vdrv_post_writable(&f->drv, RXQ, 100, &h[i]);
	vdrv_notify(&f->drv, RXQ);

	deliver(f, frame, 250); /* 262 bytes with the header: 100 + 100 + 62 */
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h[0]), 100);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h[1]), 100);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h[2]), 62);
	vdrv_no_more_used(&f->drv, RXQ);
	const uint8_t *p = vdrv_host(&f->drv, b[0], 100);
	assert_int_equal(hdr_num_buffers(p), 3);
	assert_memory_equal(p + HDR, frame, 100 - HDR);
	assert_memory_equal(vdrv_host(&f->drv, b[1], 100), frame + 100 - HDR, 100);
	assert_memory_equal(vdrv_host(&f->drv, b[2], 62), frame + 200 - HDR, 62);
	assert_int_equal(vdrv_host(&f->drv, b[2] + 62, 1)[0], 0xa5);

	deliver(f, frame + 1, 50);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h[3]), HDR + 50);
	assert_int_equal(hdr_num_buffers(vdrv_host(&f->drv, b[3], HDR)), 1);
	assert_memory_equal(vdrv_host(&f->drv, b[3] + HDR, 50), frame + 1, 50);

	/* Not enough room posted: dropped; the buffers taken serve the next frames. */
	uint16_t g[4];
	for (unsigned i = 0; i < 2; i++)
		vdrv_post_writable(&f->drv, RXQ, 100, &g[i]);
	vdrv_notify(&f->drv, RXQ);
	deliver(f, frame, 300);
	vdrv_no_more_used(&f->drv, RXQ);
	assert_int_equal(f->net.stats.rx_dropped, 1);
	for (unsigned i = 2; i < 4; i++)
		vdrv_post_writable(&f->drv, RXQ, 100, &g[i]);
	vdrv_notify(&f->drv, RXQ);
	deliver(f, frame, 300); /* 312: 100 + 100 + 100 + 12 */
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, g[0]), 100);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, g[1]), 100);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, g[2]), 100);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, g[3]), 12);
	assert_int_equal(f->net.stats.rx_packets, 3);
}

/* A chain of several writable descriptors is one buffer, and the header may be cut. */
static void test_rx_chain(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[100];
	fill_pattern(frame, sizeof(frame), 7);
	uint64_t a = vdrv_alloc(&f->drv, 5), b = vdrv_alloc(&f->drv, 50),
		 c = vdrv_alloc(&f->drv, 200);
	struct vdrv_seg s[3] = {{a, 5, true}, {b, 50, true}, {c, 200, true}};
	uint16_t head = vdrv_add_chain(&f->drv, RXQ, s, 3);
	vdrv_notify(&f->drv, RXQ);
	deliver(f, frame, sizeof(frame));
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, head), HDR + sizeof(frame));
	uint8_t got[HDR + sizeof(frame)];
	memcpy(got, vdrv_host(&f->drv, a, 5), 5);
	memcpy(got + 5, vdrv_host(&f->drv, b, 50), 50);
	memcpy(got + 55, vdrv_host(&f->drv, c, sizeof(got) - 55), sizeof(got) - 55);
	assert_int_equal(hdr_num_buffers(got), 1);
	assert_memory_equal(got + HDR, frame, sizeof(frame));
}

static void test_rx_no_buffers(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[60] = {0};
	deliver(f, frame, sizeof(frame)); /* nothing posted, nothing notified */
	vdrv_notify(&f->drv, RXQ);
	deliver(f, frame, sizeof(frame));
	deliver(f, frame, NET_ETH_HLEN - 1); /* a runt */
	vdrv_no_more_used(&f->drv, RXQ);
	assert_int_equal(f->net.stats.rx_dropped, 3);
	assert_int_equal(f->net.stats.rx_packets, 0);
	/* A buffer too small for the header comes back empty; the next one is used. */
	uint16_t h0, h1;
	vdrv_post_writable(&f->drv, RXQ, HDR - 1, &h0);
	vdrv_post_writable(&f->drv, RXQ, 100, &h1);
	vdrv_notify(&f->drv, RXQ);
	deliver(f, frame, sizeof(frame));
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h0), 0);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h1), HDR + sizeof(frame));
	assert_int_equal(f->net.stats.rx_errors, 1);
}

static uint8_t rx_flags(struct fixture *f, const uint8_t *frame, size_t len)
{
	uint16_t head;
	uint64_t b = vdrv_post_writable(&f->drv, RXQ, 2048, &head);
	vdrv_notify(&f->drv, RXQ);
	deliver(f, frame, len);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, head), HDR + len);
	assert_memory_equal(vdrv_host(&f->drv, b + HDR, len), frame, len);
	return vdrv_host(&f->drv, b, 1)[0];
}

static void test_rx_data_valid(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[1514];
	size_t len = make_udp4(frame, 301, true);
	assert_true(f->drv.features & F(VIRTIO_NET_F_GUEST_CSUM));
	assert_int_equal(rx_flags(f, frame, len), VIRTIO_NET_HDR_F_DATA_VALID);
	frame[len - 1] ^= 1;
	assert_int_equal(rx_flags(f, frame, len), 0);
	frame[len - 1] ^= 1;
	frame[14 + 6] = 0x20; /* more fragments: the datagram is not all here */
	assert_int_equal(rx_flags(f, frame, len), 0);
	len = make_tcp6(frame, 1000);
	assert_int_equal(rx_flags(f, frame, len), VIRTIO_NET_HDR_F_DATA_VALID);
	frame[14 + 40 + 30] ^= 0x80;
	assert_int_equal(rx_flags(f, frame, len), 0);
	/* An IPv6 length beyond the frame. */
	len = make_tcp6(frame, 100);
	put16(frame + 14 + 4, 2000);
	assert_int_equal(rx_flags(f, frame, len), 0);
	/* ARP: no transport checksum to vouch for. */
	memset(frame, 0, 60);
	put16(frame + 12, 0x0806);
	assert_int_equal(rx_flags(f, frame, 60), 0);

	/* A driver without GUEST_CSUM never sees the flag (5.1.6.4.1). */
	vdrv_start(&f->drv, ~F(VIRTIO_NET_F_GUEST_CSUM));
	len = make_udp4(frame, 301, true);
	assert_int_equal(rx_flags(f, frame, len), 0);
}

/* A reset forgets the buffers held for the old rings. */
static void test_rx_reset(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[300];
	fill_pattern(frame, sizeof(frame), 8);
	uint16_t head;
	uint64_t old = vdrv_post_writable(&f->drv, RXQ, 100, &head);
	vdrv_notify(&f->drv, RXQ);
	deliver(f, frame, 200); /* the buffer is taken and held */
	assert_int_equal(f->net.stats.rx_dropped, 1);

	vdrv_start(&f->drv, VDRV_ALL_FEATURES);
	f->drv.heap = f->drv.heap_base + 0x1000; /* new buffers elsewhere than the old one */
	uint64_t fresh = vdrv_post_writable(&f->drv, RXQ, 100, &head);
	vdrv_notify(&f->drv, RXQ);
	deliver(f, frame, 50);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, head), HDR + 50);
	assert_memory_equal(vdrv_host(&f->drv, fresh + HDR, 50), frame, 50);
	assert_int_equal(vdrv_host(&f->drv, old, 1)[0], 0xa5);
	vdrv_no_more_used(&f->drv, RXQ);
}

/* ---- a backend thread racing the driver ---- */

#define RACE_FRAMES 20000

struct race {
	struct fixture *f;
	unsigned sent;
};

static void *race_backend(void *opaque)
{
	struct race *r = opaque;
	uint8_t frame[200];
	for (unsigned i = 0; i < RACE_FRAMES; i++) {
		size_t len = 60 + i % 120;
		memset(frame, 0, len);
		memcpy(frame + 14, &i, sizeof(i));
		frame[len - 1] = (uint8_t)i;
		deliver(r->f, frame, len);
		if (i % 64 == 0)
			sched_yield();
	}
	return NULL;
}

/* Frames arrive whole and in order while the driver takes them and reposts buffers on
 * another thread; every frame is either received or counted as dropped. */
static void test_rx_race(void **state)
{
	struct fixture *f = *state;
	struct race r = {f, 0};
	uint64_t buf[NUM];
	for (unsigned i = 0; i < NUM; i++) {
		buf[i] = vdrv_alloc(&f->drv, 256);
		struct vdrv_seg s = {buf[i], 256, true};
		vdrv_add_chain(&f->drv, RXQ, &s, 1);
	}
	vdrv_notify(&f->drv, RXQ);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, race_backend, &r), 0);
	unsigned got = 0, last = 0;
	bool first = true;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		uint32_t id, len;
		if (!vdrv_pop_used(&f->drv, RXQ, &id, &len)) {
			uint64_t seen =
			    __atomic_load_n(&f->net.stats.rx_packets, __ATOMIC_RELAXED) +
			    __atomic_load_n(&f->net.stats.rx_dropped, __ATOMIC_RELAXED);
			if (seen == RACE_FRAMES &&
			    got == __atomic_load_n(&f->net.stats.rx_packets, __ATOMIC_RELAXED))
				break;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec > 20)
				fail_msg("stuck after %u frames", got);
			sched_yield();
			continue;
		}
		assert_true(id < NUM);
		const uint8_t *p = vdrv_host(&f->drv, buf[id], 256);
		unsigned seq;
		memcpy(&seq, p + HDR + 14, sizeof(seq));
		assert_int_equal(len, HDR + 60 + seq % 120);
		assert_int_equal(p[len - 1], (uint8_t)seq);
		assert_int_equal(hdr_num_buffers(p), 1);
		assert_true(first || seq > last);
		first = false;
		last = seq;
		got++;
		/* Repost the same buffer, as a driver refills. */
		struct vdrv_seg s = {buf[id], 256, true};
		vdrv_add_chain(&f->drv, RXQ, &s, 1);
		if (got % 8 == 0)
			vdrv_notify(&f->drv, RXQ);
	}
	pthread_join(th, NULL);
	assert_int_equal(f->net.stats.rx_packets + f->net.stats.rx_dropped, RACE_FRAMES);
	assert_true(got > 0);
	print_message("race: %u frames received, %llu dropped\n", got,
		      (unsigned long long)f->net.stats.rx_dropped);
}

/* ---- hostfwd rules ---- */

static void test_hostfwd_parse(void **state)
{
	(void)state;
	struct net_slirp_hostfwd h;
	char err[256], addr[INET_ADDRSTRLEN];

	assert_int_equal(net_slirp_parse_hostfwd("tcp:127.0.0.1:2222-:22", &h, err, sizeof(err)),
			 0);
	assert_false(h.udp);
	assert_string_equal(inet_ntop(AF_INET, &h.host_addr, addr, sizeof(addr)), "127.0.0.1");
	assert_int_equal(h.host_port, 2222);
	assert_string_equal(inet_ntop(AF_INET, &h.guest_addr, addr, sizeof(addr)), "10.0.2.15");
	assert_int_equal(h.guest_port, 22);

	assert_int_equal(net_slirp_parse_hostfwd("udp::5353-10.0.2.20:53", &h, err, sizeof(err)),
			 0);
	assert_true(h.udp);
	assert_string_equal(inet_ntop(AF_INET, &h.host_addr, addr, sizeof(addr)), "127.0.0.1");
	assert_int_equal(h.host_port, 5353);
	assert_string_equal(inet_ntop(AF_INET, &h.guest_addr, addr, sizeof(addr)), "10.0.2.20");
	assert_int_equal(h.guest_port, 53);

	assert_int_equal(net_slirp_parse_hostfwd(":0.0.0.0:65535-:1", &h, err, sizeof(err)), 0);
	assert_false(h.udp);
	assert_int_equal(h.host_addr.s_addr, 0);
	assert_int_equal(h.host_port, 65535);
	assert_int_equal(h.guest_port, 1);

	static const char *const bad[] = {
	    "",
	    "tcp",
	    "tcp:127.0.0.1:2222",
	    "sctp::2222-:22",
	    "127.0.0.1:2222-:22",
	    "tcp::0-:22",
	    "tcp::65536-:22",
	    "tcp::2222-:0",
	    "tcp::-:22",
	    "tcp::2222-:",
	    "tcp::22a-:22",
	    "tcp::+22-:22",
	    "tcp:300.0.0.1:2222-:22",
	    "tcp:localhost:2222-:22",
	    "tcp::2222-10.0.3.15:22",
	    "tcp::2222-10.0.2.2:22",
	    "tcp::2222-10.0.2.3:22",
	    "tcp::2222-10.0.2.255:22",
	    "tcp::2222-10.0.2.0:22",
	    "tcp::2222-:22-:23",
	    "tcp::2222-:22:23",
	    "tcp:1111111111111111111111111111:2222-:22",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (net_slirp_parse_hostfwd(bad[i], &h, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(strlen(err) > 10);
		assert_non_null(strstr(err, "hostfwd"));
	}
}

/* ---- slirp ---- */

/* Frames a real backend delivers on its own thread, kept for the test thread. */
struct capture {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned n;
	size_t len[16];
	uint8_t frame[16][1600];
};

static void capture_receive(void *opaque, const void *frame, size_t len)
{
	struct capture *c = opaque;
	pthread_mutex_lock(&c->lock);
	if (c->n < 16 && len <= sizeof(c->frame[0])) {
		memcpy(c->frame[c->n], frame, len);
		c->len[c->n++] = len;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
}

static void capture_init(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
}

/* Wait up to 5 s for a captured frame that match() accepts, from index *from on; returns
 * its index or -1. */
static int capture_wait(struct capture *c, unsigned *from,
			bool (*match)(const uint8_t *f, size_t len))
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		for (; *from < c->n; (*from)++) {
			if (match(c->frame[*from], c->len[*from])) {
				int i = (int)(*from)++;
				pthread_mutex_unlock(&c->lock);
				return i;
			}
		}
		if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&c->lock);
	return -1;
}

static size_t make_arp_request(uint8_t *f, const uint8_t target_ip[4])
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	put16(a, 1); /* Ethernet */
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1); /* request */
	memcpy(a + 8, guest_mac, 6);
	memcpy(a + 14, (uint8_t[]){10, 0, 2, 15}, 4);
	memcpy(a + 24, target_ip, 4);
	return 60;
}

/* An ARP reply from the gateway, 10.0.2.2, to the guest. */
static bool is_gateway_arp_reply(const uint8_t *f, size_t len)
{
	static const uint8_t gw[4] = {10, 0, 2, 2};
	return len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[14 + 7] == 2 &&
	       !memcmp(f + 14 + 14, gw, 4) && !memcmp(f, guest_mac, 6) &&
	       !memcmp(f + 14 + 18, guest_mac, 6);
}

#define BOOTP_LEN 548 /* the fixed part (236), the magic cookie and 308 bytes of options */

static size_t make_dhcp_discover(uint8_t *f)
{
	size_t ulen = 8 + BOOTP_LEN, len = 14 + 20 + ulen;
	memset(f, 0, len);
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14, *u = ip + 20, *b = u + 8;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + ulen));
	ip[8] = 64;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	put16(ip + 10, (uint16_t)~sum16(ip, 20, 0));
	put16(u, 68);
	put16(u + 2, 67);
	put16(u + 4, (uint16_t)ulen); /* checksum 0: none */
	b[0] = 1;                     /* BOOTREQUEST */
	b[1] = 1;
	b[2] = 6;
	memcpy(b + 4, "\x12\x34\x56\x78", 4); /* xid */
	memcpy(b + 28, guest_mac, 6);         /* chaddr */
	memcpy(b + 236, "\x63\x82\x53\x63", 4);
	memcpy(b + 240, "\x35\x01\x01\xff", 4); /* DHCPDISCOVER, end */
	return len;
}

/* A DHCPOFFER of 10.0.2.15 for our xid. */
static bool is_dhcp_offer(const uint8_t *f, size_t len)
{
	if (len < 14 + 20 + 8 + 244 || f[12] != 0x08 || f[13] != 0x00 || f[14 + 9] != 17)
		return false;
	const uint8_t *u = f + 14 + (f[14] & 15) * 4, *b = u + 8;
	if (u[0] != 0 || u[1] != 67 || u[2] != 0 || u[3] != 68 || b[0] != 2 ||
	    memcmp(b + 4, "\x12\x34\x56\x78", 4) || memcmp(b + 16, "\x0a\x00\x02\x0f", 4))
		return false;
	for (const uint8_t *o = b + 240; o + 2 < f + len && *o != 255; o += o[0] ? 2 + o[1] : 1)
		if (o[0] == 53)
			return o[1] == 1 && o[2] == 2; /* DHCPOFFER */
	return false;
}

static void test_slirp_arp_dhcp(void **state)
{
	(void)state;
	struct net_backend *nb;
	struct capture c;
	char err[256];
	uint8_t frame[1600];
	unsigned from = 0;

	capture_init(&c);
	assert_int_equal(net_slirp_open(&nb, NULL, err, sizeof(err)), 0);
	nb->attach(nb, capture_receive, &c);
	assert_int_equal(nb->send(nb, frame, NET_ETH_HLEN - 1), -EMSGSIZE);

	assert_int_equal(nb->send(nb, frame, make_arp_request(frame, (uint8_t[]){10, 0, 2, 2})), 0);
	assert_true(capture_wait(&c, &from, is_gateway_arp_reply) >= 0);
	assert_int_equal(nb->send(nb, frame, make_dhcp_discover(frame)), 0);
	assert_true(capture_wait(&c, &from, is_dhcp_offer) >= 0);

	/* Detached: frames are dropped, not delivered. */
	nb->attach(nb, NULL, NULL);
	unsigned before = c.n;
	assert_int_equal(nb->send(nb, frame, make_arp_request(frame, (uint8_t[]){10, 0, 2, 2})), 0);
	usleep(50000);
	assert_int_equal(c.n, before);
	nb->close(nb);
}

/* Frames from the guest are queued for slirp's poll thread: a burst far longer than one
 * poll round takes (256 frames), sent faster than slirp takes it, is fed to slirp whole and
 * in order, so the DHCP request behind 10000 frames slirp ignores (an unknown EtherType) is
 * answered. */
static void test_slirp_burst(void **state)
{
	(void)state;
	struct net_backend *nb;
	struct capture c;
	char err[256];
	uint8_t frame[1600];
	unsigned from = 0;

	capture_init(&c);
	assert_int_equal(net_slirp_open(&nb, NULL, err, sizeof(err)), 0);
	nb->attach(nb, capture_receive, &c);
	memset(frame, 0, 60);
	memset(frame, 0xff, 6);
	memcpy(frame + 6, guest_mac, 6);
	put16(frame + 12, 0x88b5); /* IEEE 802 local experimental */
	for (int i = 0; i < 10000; i++)
		assert_int_equal(nb->send(nb, frame, 60), 0);
	assert_int_equal(nb->send(nb, frame, make_dhcp_discover(frame)), 0);
	assert_true(capture_wait(&c, &from, is_dhcp_offer) >= 0);
	nb->close(nb);
}

/* A free TCP port on 127.0.0.1 (free when asked). */
static uint16_t free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	close(s);
	return ntohs(a.sin_port);
}

/* slirp's first move towards the guest for a forwarded connection: ARP for 10.0.2.15 (it
 * has not seen the guest yet), or the SYN to port 22. */
static bool is_forward_start(const uint8_t *f, size_t len)
{
	static const uint8_t guest[4] = {10, 0, 2, 15};
	if (len >= 42 && f[12] == 0x08 && f[13] == 0x06)
		return f[14 + 7] == 1 && !memcmp(f + 14 + 24, guest, 4);
	return len >= 54 && f[12] == 0x08 && f[13] == 0x00 && f[14 + 9] == 6 &&
	       !memcmp(f + 14 + 16, guest, 4) && f[14 + 20 + 2] == 0 && f[14 + 20 + 3] == 22;
}

static void test_slirp_hostfwd(void **state)
{
	(void)state;
	struct net_slirp_config cfg = {.nhostfwd = 1};
	struct net_backend *nb, *nb2;
	struct capture c;
	char spec[64], err[256];
	unsigned from = 0;

	capture_init(&c);
	uint16_t port = free_port();
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%u-:22", port);
	assert_int_equal(net_slirp_parse_hostfwd(spec, &cfg.hostfwd[0], err, sizeof(err)), 0);
	assert_int_equal(net_slirp_open(&nb, &cfg, err, sizeof(err)), 0);
	nb->attach(nb, capture_receive, &c);

	/* The port is taken now: a second network cannot forward it. */
	err[0] = 0;
	assert_int_equal(net_slirp_open(&nb2, &cfg, err, sizeof(err)), -EADDRINUSE);
	assert_null(nb2);
	assert_non_null(strstr(err, "in use"));

	/* A host connection makes slirp reach for the guest, from its poll thread. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_true(s >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_true(capture_wait(&c, &from, is_forward_start) >= 0);
	close(s);
	nb->close(nb);

	cfg.hostfwd[0].host_port = 0;
	assert_int_equal(net_slirp_open(&nb, &cfg, err, sizeof(err)), -EINVAL);
}

/* The device on slirp: an ARP request from the transmitq is answered into the receiveq. */
static void test_slirp_device(void **state)
{
	struct fixture *f = *state;
	char err[256];
	struct net_backend *nb;
	struct virtio_dev dev;

	virtio_net_destroy(&f->net);
	virtio_mmio_destroy(&f->t);
	assert_int_equal(net_slirp_open(&nb, NULL, err, sizeof(err)), 0);
	assert_int_equal(virtio_net_init(&f->net, nb, guest_mac, &dev), 0);
	assert_int_equal(virtio_mmio_init(&f->t, &dev, &f->mem, vdrv_irq_line(&f->drv, 3)), 0);
	vdrv_start(&f->drv, VDRV_ALL_FEATURES);
	uint16_t head;
	uint64_t b = vdrv_post_writable(&f->drv, RXQ, 1526, &head);
	vdrv_notify(&f->drv, RXQ);

	uint8_t frame[60];
	size_t len = make_arp_request(frame, (uint8_t[]){10, 0, 2, 2});
	assert_int_equal(transmit(f, frame, len, 0, 0, 0, NULL, 0), 0);
	for (int i = 0; i < 5000 && !vdrv_used_pending(&f->drv, RXQ); i++)
		usleep(1000);
	uint32_t got = vdrv_take_used(&f->drv, RXQ, head);
	assert_true(got >= HDR + 42);
	assert_true(is_gateway_arp_reply(vdrv_host(&f->drv, b + HDR, got - HDR), got - HDR));
	assert_int_equal(f->net.stats.tx_packets, 1);

	virtio_net_destroy(&f->net);
	nb->close(nb);
	/* teardown destroys again: a no-op on a destroyed device. */
}

/* ---- TAP ---- */

static void test_tap(void **state)
{
	(void)state;
	struct net_backend *nb;
	char err[256];

	assert_int_equal(net_tap_open(&nb, "a-name-far-too-long-for-linux", err, sizeof(err)),
			 -EINVAL);
	int rc = net_tap_open(&nb, "rvtest%d", err, sizeof(err));
	if (rc == -ENOENT || rc == -EPERM || rc == -EACCES) {
		print_message("TAP skipped: %s\n", err);
		skip();
	}
	assert_int_equal(rc, 0);
	const char *name = net_tap_ifname(nb);
	assert_int_equal(strncmp(name, "rvtest", 6), 0);

	/* Bring the interface up and watch it with a packet socket, if the host lets us. */
	int ctl = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int ps = socket(AF_PACKET, SOCK_RAW, htons(0x88b5));
	bool can = ctl >= 0 && ioctl(ctl, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	can = can && ioctl(ctl, SIOCSIFFLAGS, &ifr) == 0 && ps >= 0;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(0x88b5),
				  .sll_ifindex = (int)if_nametoindex(name),
				  .sll_halen = 6};
	can = can && bind(ps, (struct sockaddr *)&sll, sizeof(sll)) == 0;
	if (!can) {
		print_message("TAP data path skipped: cannot bring %s up or watch it\n", name);
		if (ps >= 0)
			close(ps);
		if (ctl >= 0)
			close(ctl);
		nb->close(nb);
		skip();
	}
	struct timeval tv = {5, 0};
	setsockopt(ps, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	/* Guest to host: the frame appears on the interface as sent. */
	uint8_t frame[100], got[200];
	memset(frame, 0xff, 6);
	memcpy(frame + 6, guest_mac, 6);
	put16(frame + 12, 0x88b5);
	fill_pattern(frame + 14, sizeof(frame) - 14, 9);
	assert_int_equal(nb->send(nb, frame, sizeof(frame)), 0);
	ssize_t n = recv(ps, got, sizeof(got), 0);
	assert_int_equal(n, sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));

	/* Host to guest: a frame sent on the interface reaches the device's callback. */
	struct capture c;
	capture_init(&c);
	nb->attach(nb, capture_receive, &c);
	frame[20] ^= 0xff;
	memcpy(sll.sll_addr, frame, 6);
	assert_int_equal(sendto(ps, frame, sizeof(frame), 0, (struct sockaddr *)&sll, sizeof(sll)),
			 sizeof(frame));
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&c.lock);
	bool seen = false;
	while (!seen) {
		for (unsigned i = 0; i < c.n && !seen; i++)
			seen =
			    c.len[i] == sizeof(frame) && !memcmp(c.frame[i], frame, sizeof(frame));
		if (!seen && pthread_cond_timedwait(&c.cond, &c.lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&c.lock);
	assert_true(seen);
	nb->attach(nb, NULL, NULL);
	close(ps);
	close(ctl);
	nb->close(nb);
}

/* ---- VIRTIO_NET_F_MTU (5.1.3, 5.1.4) ---- */

/* A frame of len bytes to the guest's MAC, IPv4 EtherType, behind an 802.1Q tag if tagged,
 * the rest a pattern. */
static void make_frame(uint8_t *f, size_t len, bool tagged, unsigned seed)
{
	fill_pattern(f, len, seed);
	memcpy(f, guest_mac, 6);
	memcpy(f + 6, (uint8_t[]){0x52, 0x55, 0x0a, 0x00, 0x02, 0x02}, 6);
	if (tagged) {
		put16(f + 12, 0x8100);
		put16(f + 14, 42); /* VLAN 42 */
		put16(f + 16, 0x0800);
	} else {
		put16(f + 12, 0x0800);
	}
}

/* The card on a backend of the given MTU: the config.mtu it shows. */
static unsigned config_mtu_for(unsigned backend_mtu)
{
	struct fake_be *be = calloc(1, sizeof(*be));
	struct virtio_net n;
	struct virtio_dev dev;
	assert_non_null(be);
	be->nb = (struct net_backend){fake_send, fake_attach, fake_close, backend_mtu};
	assert_int_equal(virtio_net_init(&n, &be->nb, guest_mac, &dev), 0);
	assert_true(dev.features & F(VIRTIO_NET_F_MTU));
	assert_int_equal(dev.config_size, 12);
	unsigned mtu = (unsigned)(n.config[10] | n.config[11] << 8);
	virtio_net_destroy(&n);
	free(be);
	return mtu;
}

/* F_MTU is offered and config.mtu, the le16 at offset 10, is the backend's MTU; the driver
 * cannot change it. */
static void test_mtu_config(void **state)
{
	struct fixture *f = *state;
	assert_true(vdrv_offered(&f->drv) & F(VIRTIO_NET_F_MTU));
	assert_true(f->drv.features & F(VIRTIO_NET_F_MTU));
	assert_int_equal(vdrv_config_read(&f->drv, 10, 1), FAKE_MTU & 0xff);
	assert_int_equal(vdrv_config_read(&f->drv, 11, 1), FAKE_MTU >> 8);
	assert_int_equal(vdrv_config_read(&f->drv, 10, 2), FAKE_MTU);
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 10, 2, 1500);
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 8, 4, 0);
	assert_int_equal(vdrv_config_read(&f->drv, 10, 2), FAKE_MTU);
	assert_int_equal(vdrv_config_read(&f->drv, 8, 2), 1);

	/* A backend MTU outside 68..65535 is taken as Ethernet's 1500. */
	assert_int_equal(config_mtu_for(0), NET_MTU_DEFAULT);
	assert_int_equal(config_mtu_for(NET_MTU_MIN - 1), NET_MTU_DEFAULT);
	assert_int_equal(config_mtu_for(NET_MTU_MAX + 1), NET_MTU_DEFAULT);
	assert_int_equal(config_mtu_for(NET_MTU_MIN), NET_MTU_MIN);
	assert_int_equal(config_mtu_for(NET_MTU_MAX), NET_MTU_MAX);

	/* slirp runs at 65520, which libslirp accepts (slirp_new fails otherwise). */
	struct net_backend *nb;
	char err[256];
	assert_int_equal(net_slirp_open(&nb, NULL, err, sizeof(err)), 0);
	assert_int_equal(nb->mtu, 65520);
	assert_int_equal(NET_SLIRP_MTU, 65520);
	nb->close(nb);
}

/* Receive buffers of Linux's default mergeable size hold a frame of MTU bytes whole; longer
 * frames do not reach a driver that negotiated F_MTU (5.1.4.1), a VLAN tag aside. */
static void test_mtu_rx_mrg(void **state)
{
	struct fixture *f = *state;
	enum { BUF = 1526, NBUF = 16 };
	static uint8_t frame[FAKE_MTU + 18 + 1], got[HDR + FAKE_MTU + 18];
	uint16_t h[NBUF];
	uint64_t b[NBUF];
	for (unsigned i = 0; i < NBUF; i++)
		b[i] = vdrv_post_writable(&f->drv, RXQ, BUF, &h[i]);
	vdrv_notify(&f->drv, RXQ);

	size_t len = FAKE_MTU + NET_ETH_HLEN; /* 9014: 6 buffers, the last holding 1396 */
	make_frame(frame, len, false, 1);
	deliver(f, frame, len);
	size_t at = 0;
	for (unsigned i = 0; i < 6; i++) {
		uint32_t used = vdrv_take_used(&f->drv, RXQ, h[i]);
		assert_int_equal(used, i < 5 ? BUF : HDR + len - 5 * BUF);
		memcpy(got + at, vdrv_host(&f->drv, b[i], used), used);
		at += used;
	}
	vdrv_no_more_used(&f->drv, RXQ);
	assert_int_equal(hdr_num_buffers(got), 6);
	assert_memory_equal(got + HDR, frame, len);

	/* One byte more, untagged: dropped, counted, no buffer used. */
	make_frame(frame, len + 1, false, 2);
	deliver(f, frame, len + 1);
	vdrv_no_more_used(&f->drv, RXQ);
	assert_int_equal(f->net.stats.rx_dropped, 1);

	/* With a VLAN tag the header is 18 bytes: 9018 pass, 9019 do not. */
	make_frame(frame, len + 5, true, 3);
	deliver(f, frame, len + 5);
	vdrv_no_more_used(&f->drv, RXQ);
	assert_int_equal(f->net.stats.rx_dropped, 2);
	make_frame(frame, len + 4, true, 4);
	deliver(f, frame, len + 4);
	at = 0;
	for (unsigned i = 6; i < 12; i++) {
		uint32_t used = vdrv_take_used(&f->drv, RXQ, h[i]);
		memcpy(got + at, vdrv_host(&f->drv, b[i], used), used);
		at += used;
	}
	vdrv_no_more_used(&f->drv, RXQ);
	assert_int_equal(at, HDR + len + 4);
	assert_memory_equal(got + HDR, frame, len + 4);
	assert_int_equal(f->net.stats.rx_packets, 2);
	assert_int_equal(f->net.stats.rx_bytes, 2 * len + 4);
}

/* A guest frame of MTU bytes reaches the backend whole; a longer one is dropped, counted
 * as an error and returned (5.1.4.2: the driver must not send it). */
static void test_mtu_tx(void **state)
{
	struct fixture *f = *state;
	static uint8_t frame[FAKE_MTU + 18 + 1];
	size_t len = FAKE_MTU + NET_ETH_HLEN;
	size_t cuts[] = {HDR, HDR + 4000};

	make_frame(frame, len, false, 5);
	assert_int_equal(transmit(f, frame, len, 0, 0, 0, cuts, 2), 0);
	assert_int_equal(f->be.nsent, 1);
	assert_int_equal(f->be.len[0], len);
	assert_memory_equal(f->be.frame[0], frame, len);

	make_frame(frame, len + 1, false, 6);
	assert_int_equal(transmit(f, frame, len + 1, 0, 0, 0, cuts, 2), 0);
	assert_int_equal(f->be.nsent, 1);
	assert_int_equal(f->net.stats.tx_errors, 1);

	make_frame(frame, len + 4, true, 7);
	assert_int_equal(transmit(f, frame, len + 4, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(f->be.nsent, 2);
	assert_int_equal(f->be.len[1], len + 4);
	assert_memory_equal(f->be.frame[1], frame, len + 4);
	make_frame(frame, len + 5, true, 8);
	assert_int_equal(transmit(f, frame, len + 5, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(f->be.nsent, 2);
	assert_int_equal(f->net.stats.tx_errors, 2);
	assert_int_equal(f->net.stats.tx_packets, 2);
	assert_false(vdrv_read(&f->drv, REG_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static int setup_no_mtu(void **state)
{
	return setup_with(state, ~F(VIRTIO_NET_F_MTU));
}

/* A driver that did not negotiate F_MTU was promised no limit: frames past the backend's
 * MTU go both ways, as far as its buffers allow. */
static void test_mtu_not_negotiated(void **state)
{
	struct fixture *f = *state;
	static uint8_t frame[FAKE_MTU + 100];
	size_t len = FAKE_MTU + 60;
	assert_false(f->drv.features & F(VIRTIO_NET_F_MTU));

	make_frame(frame, len, false, 9);
	assert_int_equal(transmit(f, frame, len, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(f->be.nsent, 1);
	assert_int_equal(f->net.stats.tx_errors, 0);

	uint16_t head;
	uint64_t b = vdrv_post_writable(&f->drv, RXQ, HDR + len, &head);
	vdrv_notify(&f->drv, RXQ);
	deliver(f, frame, len);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, head), HDR + len);
	assert_memory_equal(vdrv_host(&f->drv, b + HDR, len), frame, len);
	assert_int_equal(f->net.stats.rx_dropped, 0);
}

/* Without MRG_RXBUF and with a 65520-byte MTU, Linux posts "big packet" buffers: the
 * header, then 17 pages (MAX_SKB_FRAGS). A frame of the full MTU fills one whole. */
static int setup_big(void **state)
{
	return setup_mtu(state, ~(F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM)),
			 NET_SLIRP_MTU);
}

static void test_mtu_rx_big_buffers(void **state)
{
	struct fixture *f = *state;
	enum { PAGES = 17, PAGE = 4096 };
	static uint8_t frame[NET_SLIRP_MTU + NET_ETH_HLEN], got[HDR + sizeof(frame)];
	struct vdrv_seg s[1 + PAGES];
	s[0] = (struct vdrv_seg){vdrv_alloc(&f->drv, HDR), HDR, true};
	for (unsigned i = 1; i <= PAGES; i++)
		s[i] = (struct vdrv_seg){vdrv_alloc(&f->drv, PAGE), PAGE, true};
	uint16_t head = vdrv_add_chain(&f->drv, RXQ, s, 1 + PAGES);
	vdrv_notify(&f->drv, RXQ);

	make_frame(frame, sizeof(frame), false, 10);
	deliver(f, frame, sizeof(frame));
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, head), sizeof(got));
	size_t at = 0;
	for (unsigned i = 0; i <= PAGES && at < sizeof(got); i++) {
		size_t n = s[i].len < sizeof(got) - at ? s[i].len : sizeof(got) - at;
		memcpy(got + at, vdrv_host(&f->drv, s[i].gpa, n), n);
		at += n;
	}
	assert_int_equal(hdr_num_buffers(got), 1);
	assert_memory_equal(got + HDR, frame, sizeof(frame));
	assert_int_equal(f->net.stats.rx_dropped, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	    cmocka_unit_test(test_default_mac),
	    cmocka_unit_test_setup_teardown(test_tx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tx_csum, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tx_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_plain, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_plain_too_big, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_mrg, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_chain, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_no_buffers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_data_valid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_reset, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_race, setup, teardown),
	    cmocka_unit_test(test_hostfwd_parse),
	    cmocka_unit_test(test_slirp_arp_dhcp),
	    cmocka_unit_test(test_slirp_burst),
	    cmocka_unit_test(test_slirp_hostfwd),
	    cmocka_unit_test_setup_teardown(test_slirp_device, setup, teardown),
	    cmocka_unit_test(test_tap),
	    cmocka_unit_test_setup_teardown(test_mtu_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mtu_rx_mrg, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mtu_tx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mtu_not_negotiated, setup_no_mtu, teardown),
	    cmocka_unit_test_setup_teardown(test_mtu_rx_big_buffers, setup_big, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
