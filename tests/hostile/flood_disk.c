/* A disk flood: 3000 requests, 4 KiB writes each followed by a flush, 32 in flight at a time,
 * as fast as the device takes them. Every one completes with VIRTIO_BLK_S_OK, and the last
 * blocks written read back. */
#include "hostile.h"

#define INFLIGHT 32
#define TOTAL    3000

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_BLK);
	CHECK(base);
	static struct vq q;
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	uint64_t cap = vr(base, VM_CONFIG) | (uint64_t)vr(base, VM_CONFIG + 4) << 32;
	CHECK(cap >= 1024);
	CHECK_EQ(vq_setup(base, &q, 0, 128), 1);
	vdriver_ok(base);
	struct blk_hdr *hdr = alloc(sizeof(struct blk_hdr) * INFLIGHT, 16);
	volatile uint8_t *st = alloc(INFLIGHT, 8);
	uint8_t *data = alloc((uint64_t)INFLIGHT * 4096, 4096);
	unsigned done = 0;
	while (done < TOTAL) {
		for (unsigned i = 0; i < INFLIGHT; i++) {
			uint64_t n = done + i;
			memset_(data + i * 4096, (int)(n & 0xff), 4096);
			blk_put(&q, i, &hdr[i], (i & 1) ? BLK_T_FLUSH : BLK_T_OUT, (n % 128) * 8,
				(i & 1) ? 0 : data + i * 4096, (i & 1) ? 0 : 4096, &st[i]);
		}
		vw(base, VM_QUEUE_NOTIFY, 0);
		CHECK_EQ(vq_wait(&q, INFLIGHT, 20000), INFLIGHT);
		q.used_seen = (uint16_t)(q.used_seen + INFLIGHT);
		for (unsigned i = 0; i < INFLIGHT; i++)
			CHECK_EQ(st[i], BLK_S_OK);
		done += INFLIGHT;
	}
	/* The last round wrote block (n % 128) * 8 with byte n & 0xff for even i. */
	uint64_t n = done - INFLIGHT;
	blk_put(&q, 0, &hdr[0], BLK_T_IN, (n % 128) * 8, data, 4096, &st[0]);
	vw(base, VM_QUEUE_NOTIFY, 0);
	CHECK_EQ(vq_wait(&q, 1, 5000), 1);
	CHECK_EQ(st[0], BLK_S_OK);
	CHECK_EQ(data[0], n & 0xff);
	CHECK_EQ(data[4095], n & 0xff);
}
