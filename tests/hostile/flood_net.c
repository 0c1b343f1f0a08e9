/* A network flood: 20000 UDP datagrams of 1024 bytes sent through virtio-net as fast as the
 * device takes them, to a closed port of the user-mode network's host (10.0.2.2:9), with the
 * receive queue stocked so that replies (ICMP, ARP) have somewhere to go. Every frame is
 * returned on the transmit queue, the device never asks for a reset, and received frames
 * fit their buffers. */
#include "hostile.h"

#define TOTAL 20000
#define BATCH 64
#define FRAME 1024
#define HDR   12 /* struct virtio_net_hdr with num_buffers (VIRTIO_F_VERSION_1) */

static uint16_t ip_csum(const uint8_t *p, unsigned n)
{
	uint32_t s = 0;
	for (unsigned i = 0; i < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_NET);
	CHECK(base);
	static struct vq rx, tx;
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup(base, &rx, 0, 64), 1);
	CHECK_EQ(vq_setup(base, &tx, 1, 128), 1);
	vdriver_ok(base);
	uint8_t *rxbuf = alloc(64 * 2048, 4096);
	for (unsigned i = 0; i < 64; i++) {
		rx.desc[i] = (struct vdesc){(uint64_t)(rxbuf + i * 2048), 2048, D_WRITE, 0};
		rx.avail[2 + i] = (uint16_t)i;
	}
	mb();
	rx.avail_idx = 64;
	rx.avail[1] = 64;
	vw(base, VM_QUEUE_NOTIFY, 0);

	uint8_t *frames = alloc((uint64_t)BATCH * (HDR + FRAME), 64);
	for (unsigned b = 0; b < BATCH; b++) {
		uint8_t *f = frames + b * (HDR + FRAME), *e = f + HDR;
		static const uint8_t head[] = {
		    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, /* dst: the gateway's MAC */
		    0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* src: the guest's */
		    0x08, 0x00,                         /* IPv4 */
		    0x45, 0x00, 0,    0,    0,    0,    0x40, 0x00,
		    64,   17,   0,    0,                         /* ver/ihl ... UDP */
		    10,   0,    2,    15,   10,   0,    2,    2, /* src, dst */
		};
		memcpy_(e, head, sizeof(head));
		uint16_t iplen = FRAME - 14;
		e[16] = (uint8_t)(iplen >> 8), e[17] = (uint8_t)iplen;
		e[18] = (uint8_t)(b >> 8), e[19] = (uint8_t)b;
		uint16_t c = ip_csum(e + 14, 20);
		e[24] = (uint8_t)(c >> 8), e[25] = (uint8_t)c;
		uint8_t *udp = e + 34;
		udp[0] = 0x30, udp[1] = 0x39; /* from 12345 */
		udp[2] = 0x00, udp[3] = 0x09; /* to 9 */
		uint16_t ulen = iplen - 20;
		udp[4] = (uint8_t)(ulen >> 8), udp[5] = (uint8_t)ulen;
		udp[6] = udp[7] = 0; /* no checksum */
		for (unsigned i = 42; i < FRAME; i++)
			e[i] = (uint8_t)i;
	}
	unsigned sent = 0;
	while (sent < TOTAL) {
		for (unsigned b = 0; b < BATCH; b++) {
			uint16_t d = (uint16_t)b;
			tx.desc[d] = (struct vdesc){(uint64_t)(frames + b * (HDR + FRAME)),
						    HDR + FRAME, 0, 0};
			tx.avail[2 + tx.avail_idx % tx.num] = d;
			tx.avail_idx++;
		}
		mb();
		tx.avail[1] = tx.avail_idx;
		mb();
		vw(base, VM_QUEUE_NOTIFY, 1);
		CHECK_EQ(vq_wait(&tx, BATCH, 20000), BATCH);
		tx.used_seen = (uint16_t)(tx.used_seen + BATCH);
		/* Give the receive buffers back as they fill. */
		while (rx.used_seen != vq_used_idx(&rx)) {
			uint16_t id = (uint16_t)vq_used_id(&rx, rx.used_seen);
			CHECK(id < 64);
			CHECK(vq_used_len(&rx, rx.used_seen) <= 2048);
			rx.used_seen++;
			rx.avail[2 + rx.avail_idx % rx.num] = id;
			rx.avail_idx++;
			mb();
			rx.avail[1] = rx.avail_idx;
			vw(base, VM_QUEUE_NOTIFY, 0);
		}
		sent += BATCH;
		CHECK_EQ(vr(base, VM_STATUS) & ST_NEEDS_RESET, 0);
	}
	say("# frames sent: ");
	putdec(sent);
	puts_(", received: ");
	putdec((uint16_t)(rx.used_seen));
	puts_("\n");
}
