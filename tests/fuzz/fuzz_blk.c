/* libFuzzer target for virtio-blk (virtio 1.2 section 5.2) behind the virtio-mmio transport,
 * on a real backing file (a memfd through host/blk_file.c) and the device's worker thread.
 * The input is described in fuzz_common.h; for this target:
 *   flags bit 0   the disk is read-only
 *   flags bit 1   the serial (GET_ID) is 20 bytes long, without a NUL
 *   parameter     disk size in bytes, modulo DISK_MAX (any size: partial sectors too)
 *   NOTIFY        with a bit 7 set, the driver does not wait for the requests it submitted
 *   operation 4   WAIT: the driver waits for every request it submitted
 * Besides the queue invariants of fuzz_common.h, the disk is modelled: each returned request
 * is checked against a shadow copy of the disk, in the order the device completed them
 * (its single worker serves them in order). A request with status OK must be well-formed
 * (5.2.6: header, data a whole number of sectors inside the capacity, a writable disk for
 * writes, known flags), a read must return the shadow's data, a write or write-zeroes
 * changes the shadow; a request that failed changes nothing. At the end the file must equal
 * the shadow, and the bytes past the last whole sector are never touched. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "host/blk_file.h"
#include "virtio/blk.h"

#define DISK_MAX (0x10000 + 1024) /* bytes */
#define SECTOR   VIRTIO_BLK_SECTOR_SIZE
#define HDR_SIZE 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	int memfd;
	char path[64];
	struct blk_file file;
	struct virtio_blk blk;
	bool readonly;
	uint64_t size, capacity; /* bytes, sectors */
	uint8_t *init;           /* the file's content at the start */
	uint8_t *shadow;         /* what the disk must hold */
	uint8_t *known;          /* per sector: the shadow is exact (not discarded) */
	uint8_t *buf, *file_now;
	char id[VIRTIO_BLK_ID_BYTES];
} bz;

static void setup_once(void)
{
	if (bz.init)
		return;
	bz.memfd = memfd_create("fuzz-blk", MFD_CLOEXEC);
	bz.init = malloc(DISK_MAX);
	bz.shadow = malloc(DISK_MAX);
	bz.known = malloc(DISK_MAX / SECTOR + 1);
	bz.buf = malloc(DISK_MAX + FZ_RAM_SIZE);
	bz.file_now = malloc(DISK_MAX);
	if (bz.memfd < 0 || !bz.init || !bz.shadow || !bz.known || !bz.buf || !bz.file_now)
		abort();
	snprintf(bz.path, sizeof(bz.path), "/proc/self/fd/%d", bz.memfd);
}

static bool range_ok(uint64_t sector, uint64_t n)
{
	return sector <= bz.capacity && n <= bz.capacity - sector;
}

/* The bytes of sectors [sector, sector + n) changed to data (NULL: zeroes), or became
 * unknown (discard: old data or zeroes, 5.2.6.2). */
static void shadow_set(uint64_t sector, uint64_t n, const uint8_t *data, bool known)
{
	for (uint64_t s = 0; s < n; s++) {
		uint8_t *dst = bz.shadow + (sector + s) * SECTOR;
		if (data)
			memcpy(dst, data + s * SECTOR, SECTOR);
		else
			memset(dst, 0, SECTOR);
		bz.known[sector + s] = known;
	}
}

static void forget_disk(void)
{
	memset(bz.known, 0, bz.capacity);
}

/* A request that may change the disk. */
static bool modifies(uint32_t type)
{
	return type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_DISCARD ||
	       type == VIRTIO_BLK_T_WRITE_ZEROES;
}

static void check_read(const struct fz_chain *c, uint64_t sector)
{
	uint64_t len = c->in_len - 1;
	FZ_CHECK(len % SECTOR == 0 && range_ok(sector, len / SECTOR),
		 "read of %llu bytes at sector %llu succeeded (capacity %llu)",
		 (unsigned long long)len, (unsigned long long)sector,
		 (unsigned long long)bz.capacity);
	fz_chain_read(c, true, 0, bz.buf, len);
	for (uint64_t s = 0; s < len / SECTOR; s++)
		FZ_CHECK(
		    !bz.known[sector + s] ||
			!memcmp(bz.buf + s * SECTOR, bz.shadow + (sector + s) * SECTOR, SECTOR),
		    "read of sector %llu returned other data than the disk holds",
		    (unsigned long long)(sector + s));
}

static void check_write(const struct fz_chain *c, uint64_t sector)
{
	uint64_t len = c->out_len - HDR_SIZE;
	FZ_CHECK(!bz.readonly, "write to a read-only disk succeeded");
	FZ_CHECK(len % SECTOR == 0 && range_ok(sector, len / SECTOR),
		 "write of %llu bytes at sector %llu succeeded (capacity %llu)",
		 (unsigned long long)len, (unsigned long long)sector,
		 (unsigned long long)bz.capacity);
	fz_chain_read(c, false, HDR_SIZE, bz.buf, len);
	shadow_set(sector, len / SECTOR, bz.buf, true);
}

static void check_discard_write_zeroes(const struct fz_chain *c, uint32_t type)
{
	uint64_t len = c->out_len - HDR_SIZE;
	FZ_CHECK(!bz.readonly, "discard or write-zeroes on a read-only disk succeeded");
	FZ_CHECK(len && len % 16 == 0 && len <= FZ_RAM_SIZE, "%llu bytes of segments",
		 (unsigned long long)len);
	fz_chain_read(c, false, HDR_SIZE, bz.buf, len);
	for (uint64_t i = 0; i < len / 16; i++) {
		const uint8_t *seg = bz.buf + 16 * i;
		uint64_t sector = fz_le64(seg);
		uint32_t num = fz_le32(seg + 8), flags = fz_le32(seg + 12);
		/* 5.2.6.2: unknown flags, and unmap on a discard, are unsupported. */
		FZ_CHECK(!(flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
			 "flags %#x accepted", flags);
		FZ_CHECK(type != VIRTIO_BLK_T_DISCARD ||
			     !(flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
			 "discard with unmap accepted");
		FZ_CHECK(range_ok(sector, num), "%u sectors at %llu (capacity %llu)", num,
			 (unsigned long long)sector, (unsigned long long)bz.capacity);
		shadow_set(sector, num, NULL, type == VIRTIO_BLK_T_WRITE_ZEROES);
	}
}

static void blk_used(void *opaque, unsigned q, uint16_t head, uint32_t len,
		     const struct fz_chain *c)
{
	(void)opaque;
	(void)q;
	(void)len;
	uint8_t hdr[HDR_SIZE] = {0};
	bool has_hdr = fz_chain_read(c, false, 0, hdr, HDR_SIZE) == HDR_SIZE;
	uint32_t type = fz_le32(hdr);
	uint64_t sector = fz_le64(hdr + 8);
	if (c->in_len == 0)
		return; /* no status byte: the request cannot be answered, nothing done */
	if (fz_head_reused(0, head)) {
		/* Its buffers may hold a later request's answer: only the disk is affected. */
		if (!has_hdr || modifies(type))
			forget_disk();
		return;
	}
	uint8_t status;
	fz_chain_read(c, true, c->in_len - 1, &status, 1);
	FZ_CHECK(status == VIRTIO_BLK_S_OK || status == VIRTIO_BLK_S_IOERR ||
		     status == VIRTIO_BLK_S_UNSUPP,
		 "status %u", status);
	if (status != VIRTIO_BLK_S_OK)
		return;
	FZ_CHECK(has_hdr, "a request without a header succeeded");
	switch (type) {
	case VIRTIO_BLK_T_IN: check_read(c, sector); break;
	case VIRTIO_BLK_T_OUT: check_write(c, sector); break;
	case VIRTIO_BLK_T_FLUSH: break;
	case VIRTIO_BLK_T_GET_ID:
		FZ_CHECK(c->in_len - 1 >= VIRTIO_BLK_ID_BYTES, "GET_ID into %llu bytes",
			 (unsigned long long)c->in_len - 1);
		fz_chain_read(c, true, 0, bz.buf, VIRTIO_BLK_ID_BYTES);
		FZ_CHECK(!memcmp(bz.buf, bz.id, VIRTIO_BLK_ID_BYTES), "GET_ID returned another id");
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: check_discard_write_zeroes(c, type); break;
	default: FZ_CHECK(false, "request type %u succeeded", type);
	}
}

static void blk_op(void *opaque, uint8_t code, uint8_t a, uint16_t b)
{
	(void)opaque;
	(void)a;
	(void)b;
	if (code == FZ_OP_TARGET)
		fz_wait_used(0, 10000);
}

/* Requests taken but not returned may have reached the disk: it is unknown after a reset. */
static void blk_reset(void *opaque)
{
	(void)opaque;
	if (!fz_quiescent(0))
		forget_disk();
}

static void prepare_disk(void)
{
	bz.size = fz.param % DISK_MAX;
	bz.capacity = bz.size / SECTOR;
	bz.readonly = fz.flags & 1;
	for (uint64_t i = 0; i < bz.size; i++)
		bz.init[i] = (uint8_t)(i * 131 + (i >> 9) * 7 + 1);
	memcpy(bz.shadow, bz.init, bz.size);
	memset(bz.known, 1, bz.capacity);
	if (ftruncate(bz.memfd, 0) || ftruncate(bz.memfd, (off_t)bz.size) ||
	    pwrite(bz.memfd, bz.init, bz.size, 0) != (ssize_t)bz.size)
		abort();
	memset(bz.id, 0, sizeof(bz.id));
	if (fz.flags & 2)
		memcpy(bz.id, "0123456789abcdefghij", VIRTIO_BLK_ID_BYTES);
	else
		memcpy(bz.id, "fuzz-disk", 9);
}

static void check_disk(void)
{
	if (pread(bz.memfd, bz.file_now, bz.size, 0) != (ssize_t)bz.size)
		abort();
	for (uint64_t s = 0; s < bz.capacity; s++)
		FZ_CHECK(!bz.known[s] ||
			     !memcmp(bz.file_now + s * SECTOR, bz.shadow + s * SECTOR, SECTOR),
			 "sector %llu of the file differs from what the driver was told",
			 (unsigned long long)s);
	uint64_t tail = bz.capacity * SECTOR;
	FZ_CHECK(!memcmp(bz.file_now + tail, bz.init + tail, bz.size - tail),
		 "bytes past the last whole sector changed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fz_begin(data, size))
		return 0;
	setup_once();
	prepare_disk();
	int err = blk_file_open(&bz.file, bz.path, bz.readonly);
	if (err) {
		fprintf(stderr, "blk_file_open: %s\n", strerror(-err));
		abort();
	}
	struct virtio_dev dev;
	if (virtio_blk_init(&bz.blk, &bz.file, bz.id, &dev))
		abort();
	const struct fz_target tg = {
	    .nops = FZ_OP_TARGET + 1,
	    .used = blk_used,
	    .op = blk_op,
	    .reset = blk_reset,
	};
	fz_attach(&dev, 1);
	fz_run(&tg);
	/* Stops the worker once the requests it holds are done. */
	virtio_blk_destroy(&bz.blk);
	fz_finish(&tg);
	if (fz.stable)
		check_disk();
	fz_detach();
	blk_file_close(&bz.file);
	return 0;
}
