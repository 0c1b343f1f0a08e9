/* Unit tests of virtio-blk (virtio 1.2 section 5.2) driven through the real virtio-mmio
 * transport, with rings built in guest RAM as a driver builds them, on a temporary image
 * file: configuration space, read/write round trips in any descriptor layout, flush, discard
 * and write-zeroes on the file, GET_ID, every malformed request a hostile driver can send,
 * read-only disks, host I/O errors, queues deeper than the device's slots, reset and
 * shutdown with requests in flight. Also the blk_file backend on its own. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/blk_file.h"
#include "mem/guest_mem.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"

#include "virtio_driver.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x400000ull /* 4 MiB */
#define NUM      64          /* queue size */

#define IMG_SIZE    (1024 * 1024 + 100) /* bytes: 2048 sectors and a partial one */
#define IMG_SECTORS 2048
#define SECTOR      512

struct fixture {
	char path[64];
	struct blk_file file;
	struct guest_mem mem;
	struct virtio_blk blk;
	struct virtio_transport t;
	struct vdrv drv;
	uint8_t *img; /* the image's initial content */
};

static uint64_t put_header(struct fixture *f, uint32_t type, uint64_t sector)
{
	uint64_t gpa = vdrv_alloc(&f->drv, 16);
	uint8_t *h = vdrv_host(&f->drv, gpa, 16);
	uint32_t t = htole32(type), r = 0;
	uint64_t s = htole64(sector);
	memcpy(h, &t, 4);
	memcpy(h + 4, &r, 4);
	memcpy(h + 8, &s, 8);
	return gpa;
}

static uint64_t put_status(struct fixture *f)
{
	uint64_t gpa = vdrv_alloc(&f->drv, 1);
	*vdrv_host(&f->drv, gpa, 1) = 0xff;
	return gpa;
}

/* A request laid out as Linux lays it out: header, data (if len), status. For OUT-like
 * requests data is copied into guest RAM first; for IN-like ones the guest buffer is
 * returned through *data_gpa. Returns the status byte, and the used length in *used. */
static uint8_t request(struct fixture *f, uint32_t type, uint64_t sector, const void *out,
		       uint32_t len, bool data_write, uint64_t *data_gpa, uint32_t *used)
{
	struct vdrv_seg s[3];
	unsigned n = 0;
	s[n++] = (struct vdrv_seg){put_header(f, type, sector), 16, false};
	uint64_t data = 0;
	if (len) {
		data = vdrv_alloc(&f->drv, len);
		if (out)
			memcpy(vdrv_host(&f->drv, data, len), out, len);
		else
			memset(vdrv_host(&f->drv, data, len), 0xee, len);
		s[n++] = (struct vdrv_seg){data, len, data_write};
	}
	uint64_t st = put_status(f);
	s[n++] = (struct vdrv_seg){st, 1, true};
	uint16_t head = vdrv_add_chain(&f->drv, 0, s, n);
	vdrv_notify(&f->drv, 0);
	uint32_t l = vdrv_wait_used(&f->drv, 0, head);
	if (used)
		*used = l;
	if (data_gpa)
		*data_gpa = data;
	return *vdrv_host(&f->drv, st, 1);
}

static uint8_t blk_write(struct fixture *f, uint64_t sector, const void *buf, uint32_t len)
{
	return request(f, VIRTIO_BLK_T_OUT, sector, buf, len, false, NULL, NULL);
}

static uint8_t blk_read(struct fixture *f, uint64_t sector, void *buf, uint32_t len)
{
	uint64_t gpa;
	uint8_t st = request(f, VIRTIO_BLK_T_IN, sector, NULL, len, true, &gpa, NULL);
	if (len)
		memcpy(buf, vdrv_host(&f->drv, gpa, len), len);
	return st;
}

/* A discard or write-zeroes request with one segment. */
static uint8_t blk_dwz(struct fixture *f, uint32_t type, uint64_t sector, uint32_t num,
		       uint32_t flags)
{
	uint8_t seg[16];
	uint64_t s = htole64(sector);
	uint32_t n = htole32(num), fl = htole32(flags);
	memcpy(seg, &s, 8);
	memcpy(seg + 8, &n, 4);
	memcpy(seg + 12, &fl, 4);
	return request(f, type, 0, seg, sizeof(seg), false, NULL, NULL);
}

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 9));
}

/* Read the image file directly (not through the device). */
static void file_read(struct fixture *f, uint64_t off, void *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* readonly opens the image read-only; marked_ro keeps the descriptor writable but marks the
 * backend read-only, so the device's own refusal is what is tested. */
static int setup_disk(void **state, bool readonly, bool marked_ro, const char *id)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(f->path, sizeof(f->path), "%s/rvisor-blk-XXXXXX", dir);
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	/* A known pattern everywhere, so that reads and zeroing are visible. */
	f->img = malloc(IMG_SIZE);
	assert_non_null(f->img);
	fill_pattern(f->img, IMG_SIZE, 1);
	assert_int_equal(pwrite(fd, f->img, IMG_SIZE, 0), IMG_SIZE);
	close(fd);

	assert_int_equal(blk_file_open(&f->file, f->path, readonly), 0);
	if (marked_ro)
		f->file.readonly = true;
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&f->drv, &f->t, &f->mem, 1, NUM);
	struct virtio_dev dev;
	assert_int_equal(virtio_blk_init(&f->blk, &f->file, id, &dev), 0);
	assert_int_equal(virtio_mmio_init(&f->t, &dev, &f->mem, vdrv_irq_line(&f->drv, 5)), 0);
	vdrv_start(&f->drv, VDRV_ALL_FEATURES);
	*state = f;
	return 0;
}

static int setup_rw(void **state)
{
	return setup_disk(state, false, false, "rvisor-disk-0");
}

static int setup_ro(void **state)
{
	return setup_disk(state, true, false, "0123456789abcdefghijKLMNOP");
}

static int setup_marked_ro(void **state)
{
	return setup_disk(state, false, true, NULL);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	virtio_blk_destroy(&f->blk);
	virtio_mmio_destroy(&f->t);
	blk_file_close(&f->file);
	guest_mem_destroy(&f->mem);
	unlink(f->path);
	free(f->img);
	free(f);
	return 0;
}

static void test_config(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(vdrv_read(&f->drv, REG_DEVICE_ID), VIRTIO_ID_BLOCK);
	uint64_t want = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
			1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_DISCARD |
			1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	assert_int_equal(f->drv.features & 0xffffff, want);
	assert_true(f->drv.features & (1ull << VIRTIO_F_VERSION_1));
	/* capacity in 512-byte sectors: the 100-byte tail is not part of the disk. */
	uint64_t cap = vdrv_config_read(&f->drv, 0, 4) | (uint64_t)vdrv_config_read(&f->drv, 4, 4)
							     << 32;
	assert_int_equal(cap, IMG_SECTORS);
	assert_int_equal(vdrv_config_read(&f->drv, 0, 2), IMG_SECTORS & 0xffff);
	assert_int_equal(vdrv_config_read(&f->drv, 1, 1), IMG_SECTORS >> 8);
	assert_int_equal(vdrv_config_read(&f->drv, 8, 4), 0); /* size_max: not offered */
	uint32_t seg_max = vdrv_config_read(&f->drv, 12, 4);
	assert_true(seg_max >= 1 && seg_max + 2 <= VIRTQ_MAX_SEGS);
	assert_int_equal(vdrv_config_read(&f->drv, 20, 4), 512);  /* blk_size */
	assert_int_equal(vdrv_config_read(&f->drv, 32, 1), 0);    /* writeback */
	assert_int_equal(vdrv_config_read(&f->drv, 33, 1), 0);    /* unused0 */
	assert_true(vdrv_config_read(&f->drv, 36, 4) >= 8);       /* max_discard_sectors */
	assert_int_equal(vdrv_config_read(&f->drv, 40, 4), 1);    /* max_discard_seg */
	assert_true(vdrv_config_read(&f->drv, 44, 4) >= 1);       /* discard_sector_alignment */
	assert_true(vdrv_config_read(&f->drv, 48, 4) >= 8);       /* max_write_zeroes_sectors */
	assert_int_equal(vdrv_config_read(&f->drv, 52, 4), 1);    /* max_write_zeroes_seg */
	assert_int_equal(vdrv_config_read(&f->drv, 56, 1), 1);    /* write_zeroes_may_unmap */
	assert_int_equal(vdrv_config_read(&f->drv, 58, 2), 0);    /* unused1 */
	assert_int_equal(vdrv_config_read(&f->drv, 68, 4), 0);    /* secure erase: not offered */
	assert_int_equal(vdrv_config_read(&f->drv, 72, 4), 0);    /* past the end */
	assert_int_equal(vdrv_config_read(&f->drv, 0x700, 4), 0); /* far past the end */
	/* Writes to the configuration space change nothing. */
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 0, 4, 0xdeadbeef);
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 32, 1, 1);
	assert_int_equal(vdrv_config_read(&f->drv, 0, 4), IMG_SECTORS);
	assert_int_equal(vdrv_config_read(&f->drv, 32, 1), 0);
}

static void test_write_read(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[3 * SECTOR], back[3 * SECTOR], file[3 * SECTOR];
	fill_pattern(buf, sizeof(buf), 42);
	int irq_before = __atomic_load_n(&f->drv.irqs, __ATOMIC_RELAXED);
	assert_int_equal(blk_write(f, 5, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	/* The transport raises the line under its lock with the used ring update: once the
	 * register read has taken that lock, the line has been raised. */
	assert_true(vdrv_read(&f->drv, REG_INTERRUPT_STATUS) & VIRTIO_INT_VRING);
	assert_true(__atomic_load_n(&f->drv.irqs, __ATOMIC_RELAXED) > irq_before);
	vdrv_write(&f->drv, REG_INTERRUPT_ACK, VIRTIO_INT_VRING);
	file_read(f, 5 * SECTOR, file, sizeof(file));
	assert_memory_equal(file, buf, sizeof(buf));
	/* Neighbours keep the initial pattern. */
	file_read(f, 4 * SECTOR, file, SECTOR);
	assert_memory_equal(file, f->img + 4 * SECTOR, SECTOR);
	file_read(f, 8 * SECTOR, file, SECTOR);
	assert_memory_equal(file, f->img + 8 * SECTOR, SECTOR);

	uint32_t used;
	uint64_t gpa;
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 5, NULL, sizeof(back), true, &gpa, &used),
			 VIRTIO_BLK_S_OK);
	memcpy(back, vdrv_host(&f->drv, gpa, sizeof(back)), sizeof(back));
	assert_memory_equal(back, buf, sizeof(back));
	assert_int_equal(used, sizeof(back) + 1); /* data and status */
	/* The last sector of the disk, and a read of untouched data. */
	assert_int_equal(blk_read(f, IMG_SECTORS - 1, back, SECTOR), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, f->img + (IMG_SECTORS - 1) * SECTOR, SECTOR);
	assert_int_equal(blk_write(f, IMG_SECTORS - 1, buf, SECTOR), VIRTIO_BLK_S_OK);
	file_read(f, (IMG_SECTORS - 1) * SECTOR, file, SECTOR);
	assert_memory_equal(file, buf, SECTOR);
}

/* Any layout (VIRTIO_F_VERSION_1 implies it): the header split over two descriptors, data
 * split over several, the status sharing a descriptor with data. */
static void test_any_layout(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[2 * SECTOR], file[2 * SECTOR];
	fill_pattern(buf, sizeof(buf), 9);

	uint64_t hdr = put_header(f, VIRTIO_BLK_T_OUT, 100);
	uint64_t data = vdrv_alloc(&f->drv, sizeof(buf));
	memcpy(vdrv_host(&f->drv, data, sizeof(buf)), buf, sizeof(buf));
	uint64_t st = put_status(f);
	struct vdrv_seg w[] = {{hdr, 5, false},        {hdr + 5, 11, false},     {data, 100, false},
			       {data + 100, 1, false}, {data + 101, 923, false}, {st, 1, true}};
	uint16_t head = vdrv_add_chain(&f->drv, 0, w, 6);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_wait_used(&f->drv, 0, head), 1);
	assert_int_equal(*vdrv_host(&f->drv, st, 1), VIRTIO_BLK_S_OK);
	file_read(f, 100 * SECTOR, file, sizeof(file));
	assert_memory_equal(file, buf, sizeof(file));

	/* Header and the start of the data in one readable descriptor is an OUT too. */
	uint64_t both = vdrv_alloc(&f->drv, 16 + SECTOR);
	memcpy(vdrv_host(&f->drv, both, 16),
	       vdrv_host(&f->drv, put_header(f, VIRTIO_BLK_T_OUT, 200), 16), 16);
	fill_pattern(vdrv_host(&f->drv, both + 16, SECTOR), SECTOR, 77);
	st = put_status(f);
	struct vdrv_seg w2[] = {{both, 16 + SECTOR, false}, {st, 1, true}};
	head = vdrv_add_chain(&f->drv, 0, w2, 2);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_wait_used(&f->drv, 0, head), 1);
	assert_int_equal(*vdrv_host(&f->drv, st, 1), VIRTIO_BLK_S_OK);
	file_read(f, 200 * SECTOR, file, SECTOR);
	assert_memory_equal(file, vdrv_host(&f->drv, both + 16, SECTOR), SECTOR);

	/* Read: data in two descriptors, the second also holding the status byte. */
	hdr = put_header(f, VIRTIO_BLK_T_IN, 100);
	uint64_t in = vdrv_alloc(&f->drv, 2 * SECTOR + 1);
	memset(vdrv_host(&f->drv, in, 2 * SECTOR + 1), 0xee, 2 * SECTOR + 1);
	struct vdrv_seg r[] = {
	    {hdr, 16, false}, {in, 700, true}, {in + 700, 2 * SECTOR + 1 - 700, true}};
	head = vdrv_add_chain(&f->drv, 0, r, 3);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_wait_used(&f->drv, 0, head), 2 * SECTOR + 1);
	assert_int_equal(*vdrv_host(&f->drv, in + 2 * SECTOR, 1), VIRTIO_BLK_S_OK);
	assert_memory_equal(vdrv_host(&f->drv, in, 2 * SECTOR), buf, 2 * SECTOR);
}

static void test_flush(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[SECTOR];
	fill_pattern(buf, sizeof(buf), 3);
	assert_int_equal(blk_write(f, 0, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	uint32_t used;
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false, NULL, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	/* The sector field is unused for flushes: any value is fine. */
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, UINT64_MAX, NULL, 0, false, NULL, NULL),
			 VIRTIO_BLK_S_OK);
}

/* True if the file system under path deallocates punched ranges. */
static bool can_punch(const char *path)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	bool ok = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, IMG_SIZE - 100, 1) == 0;
	close(fd);
	return ok;
}

static void test_discard(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[8 * SECTOR];
	/* Sectors 8..15: the second 4 KiB block, so a host file system can free it whole. */
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_DISCARD, 8, 8, 0), VIRTIO_BLK_S_OK);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, IMG_SIZE);
	/* Neighbours are untouched. */
	file_read(f, 0, buf, sizeof(buf));
	assert_memory_equal(buf, f->img, sizeof(buf));
	file_read(f, 16 * SECTOR, buf, sizeof(buf));
	assert_memory_equal(buf, f->img + 16 * SECTOR, sizeof(buf));
	if (!can_punch(f->path))
		skip();
	/* The range is now a hole in the file and reads back as zeroes. */
	int fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 8 * SECTOR, SEEK_HOLE), 8 * SECTOR);
	assert_int_equal(lseek(fd, 8 * SECTOR, SEEK_DATA), 16 * SECTOR);
	close(fd);
	assert_int_equal(blk_read(f, 8, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	assert_true(all_bytes(buf, sizeof(buf), 0));
}

static void test_write_zeroes(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4 * SECTOR];

	/* Without unmap: two sectors in the middle of a block. */
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 33, 2, 0), VIRTIO_BLK_S_OK);
	file_read(f, 32 * SECTOR, buf, sizeof(buf));
	assert_memory_equal(buf, f->img + 32 * SECTOR, SECTOR);
	assert_true(all_bytes(buf + SECTOR, 2 * SECTOR, 0));
	assert_memory_equal(buf + 3 * SECTOR, f->img + 35 * SECTOR, SECTOR);
	/* With unmap, up to the last sector of the disk. */
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, IMG_SECTORS - 3, 3,
				 VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
			 VIRTIO_BLK_S_OK);
	file_read(f, (IMG_SECTORS - 4) * SECTOR, buf, sizeof(buf));
	assert_memory_equal(buf, f->img + (IMG_SECTORS - 4) * SECTOR, SECTOR);
	assert_true(all_bytes(buf + SECTOR, 3 * SECTOR, 0));
	/* The partial sector past the disk's end is not the disk's: untouched. */
	file_read(f, IMG_SECTORS * SECTOR, buf, 100);
	assert_memory_equal(buf, f->img + IMG_SECTORS * SECTOR, 100);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, IMG_SIZE);
	/* Zero sectors is a no-op that succeeds. */
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 0, 0), VIRTIO_BLK_S_OK);
}

/* 5.2.6.2: unknown flags, and unmap on a discard, are unsupported; driver errors (segment
 * count, size, range) are I/O errors; nothing is changed. */
static void test_discard_write_zeroes_bad(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[SECTOR];

	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_DISCARD, 0, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 2), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_DISCARD, 0, 1, 0x80000000u), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, IMG_SECTORS - 1, 2, 0),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX, 1, 0),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_DISCARD, (UINT64_MAX >> 9) + 1, 8, 0),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, UINT32_MAX, 0),
			 VIRTIO_BLK_S_IOERR);
	/* Two segments where max_*_seg is 1; a truncated segment; no segment at all. */
	uint8_t two[32] = {0};
	two[8] = 1;
	two[24] = 1;
	two[16] = 2;
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, two, 32, false, NULL, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, two, 12, false, NULL, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, NULL, 0, false, NULL, NULL),
			 VIRTIO_BLK_S_IOERR);
	file_read(f, 0, buf, sizeof(buf));
	assert_memory_equal(buf, f->img, sizeof(buf));
	file_read(f, 2 * SECTOR, buf, sizeof(buf));
	assert_memory_equal(buf, f->img + 2 * SECTOR, sizeof(buf));
	file_read(f, (IMG_SECTORS - 1) * SECTOR, buf, sizeof(buf));
	assert_memory_equal(buf, f->img + (IMG_SECTORS - 1) * SECTOR, sizeof(buf));
}

static void test_get_id(void **state)
{
	struct fixture *f = *state;
	uint64_t gpa;
	uint32_t used;
	assert_int_equal(
	    request(f, VIRTIO_BLK_T_GET_ID, 0, NULL, VIRTIO_BLK_ID_BYTES, true, &gpa, &used),
	    VIRTIO_BLK_S_OK);
	assert_int_equal(used, VIRTIO_BLK_ID_BYTES + 1);
	uint8_t want[VIRTIO_BLK_ID_BYTES] = "rvisor-disk-0"; /* NUL-padded */
	assert_memory_equal(vdrv_host(&f->drv, gpa, VIRTIO_BLK_ID_BYTES), want,
			    VIRTIO_BLK_ID_BYTES);
	/* The driver must give 20 bytes; fewer is a driver error. */
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, NULL, 19, true, &gpa, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_true(all_bytes(vdrv_host(&f->drv, gpa, 19), 19, 0xee));
}

/* An id of 20 bytes or more is given as its first 20 bytes, without a NUL. */
static void test_get_id_long(void **state)
{
	struct fixture *f = *state;
	uint64_t gpa;
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, NULL, 24, true, &gpa, NULL),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(vdrv_host(&f->drv, gpa, 20), "0123456789abcdefghij", 20);
	assert_true(all_bytes(vdrv_host(&f->drv, gpa + 20, 4), 4, 0xee));
}

static void test_out_of_range(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[2 * SECTOR];
	fill_pattern(buf, sizeof(buf), 5);
	uint64_t gpa;
	/* Straddling the end, starting past it, and sectors whose byte offset overflows. */
	assert_int_equal(
	    request(f, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, NULL, 2 * SECTOR, true, &gpa, NULL),
	    VIRTIO_BLK_S_IOERR);
	assert_true(all_bytes(vdrv_host(&f->drv, gpa, 2 * SECTOR), 2 * SECTOR, 0xee));
	assert_int_equal(blk_read(f, IMG_SECTORS, buf, SECTOR), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_read(f, UINT64_MAX, buf, SECTOR), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_read(f, (UINT64_MAX >> 9) + 1, buf, SECTOR), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_read(f, UINT64_MAX - 1, buf, 2 * SECTOR), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_write(f, IMG_SECTORS - 1, buf, 2 * SECTOR), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_write(f, UINT64_MAX, buf, SECTOR), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_write(f, 1ull << 55, buf, SECTOR), VIRTIO_BLK_S_IOERR);
	uint8_t file[SECTOR];
	file_read(f, (IMG_SECTORS - 1) * SECTOR, file, SECTOR);
	assert_memory_equal(file, f->img + (IMG_SECTORS - 1) * SECTOR, SECTOR);
	/* Empty transfers at the very end are in range. */
	assert_int_equal(blk_read(f, IMG_SECTORS, buf, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_read(f, IMG_SECTORS + 1, buf, 0), VIRTIO_BLK_S_IOERR);
}

/* Data lengths not a multiple of 512, short headers, a missing status byte. */
static void test_malformed(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[SECTOR + 1], file[SECTOR];
	fill_pattern(buf, sizeof(buf), 8);
	uint64_t gpa;
	assert_int_equal(blk_write(f, 0, buf, SECTOR + 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_write(f, 0, buf, 100), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, NULL, SECTOR - 1, true, &gpa, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_true(all_bytes(vdrv_host(&f->drv, gpa, SECTOR - 1), SECTOR - 1, 0xee));
	file_read(f, 0, file, SECTOR);
	assert_memory_equal(file, f->img, SECTOR);

	/* A header of 8 bytes (type and reserved only). */
	uint64_t hdr = put_header(f, VIRTIO_BLK_T_IN, 0);
	uint64_t st = put_status(f);
	struct vdrv_seg s1[] = {{hdr, 8, false}, {st, 1, true}};
	uint16_t head = vdrv_add_chain(&f->drv, 0, s1, 2);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_wait_used(&f->drv, 0, head), 1);
	assert_int_equal(*vdrv_host(&f->drv, st, 1), VIRTIO_BLK_S_IOERR);

	/* No header at all: only a writable status. */
	st = put_status(f);
	struct vdrv_seg s2[] = {{st, 1, true}};
	head = vdrv_add_chain(&f->drv, 0, s2, 1);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_wait_used(&f->drv, 0, head), 1);
	assert_int_equal(*vdrv_host(&f->drv, st, 1), VIRTIO_BLK_S_IOERR);

	/* A write with no writable byte for the status: nothing can be reported, so nothing
	 * is done and the chain comes back with no bytes written. */
	hdr = put_header(f, VIRTIO_BLK_T_OUT, 0);
	uint64_t data = vdrv_alloc(&f->drv, SECTOR);
	memset(vdrv_host(&f->drv, data, SECTOR), 0x5a, SECTOR);
	struct vdrv_seg s3[] = {{hdr, 16, false}, {data, SECTOR, false}};
	head = vdrv_add_chain(&f->drv, 0, s3, 2);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_wait_used(&f->drv, 0, head), 0);
	file_read(f, 0, file, SECTOR);
	assert_memory_equal(file, f->img, SECTOR);

	/* A read whose status byte is missing: the last data byte is taken as the status, so
	 * the data length is 511 and the request fails rather than overrun. */
	hdr = put_header(f, VIRTIO_BLK_T_IN, 0);
	data = vdrv_alloc(&f->drv, SECTOR);
	memset(vdrv_host(&f->drv, data, SECTOR), 0xee, SECTOR);
	struct vdrv_seg s4[] = {{hdr, 16, false}, {data, SECTOR, true}};
	head = vdrv_add_chain(&f->drv, 0, s4, 2);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_wait_used(&f->drv, 0, head), SECTOR);
	assert_int_equal(*vdrv_host(&f->drv, data + SECTOR - 1, 1), VIRTIO_BLK_S_IOERR);
	assert_true(all_bytes(vdrv_host(&f->drv, data, SECTOR - 1), SECTOR - 1, 0xee));

	/* The device keeps working. */
	assert_int_equal(blk_read(f, 0, file, SECTOR), VIRTIO_BLK_S_OK);
	assert_memory_equal(file, f->img, SECTOR);
}

static void test_unsupported(void **state)
{
	struct fixture *f = *state;
	static const uint32_t types[] = {
	    2,  3,           5,         VIRTIO_BLK_T_GET_LIFETIME, VIRTIO_BLK_T_SECURE_ERASE,
	    16, 0x80000000u, UINT32_MAX};
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		assert_int_equal(request(f, types[i], 0, NULL, 0, false, NULL, NULL),
				 VIRTIO_BLK_S_UNSUPP);
	/* With data attached, readable or writable, nothing happens to it either. */
	uint64_t gpa;
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_LIFETIME, 0, NULL, 8, true, &gpa, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	assert_true(all_bytes(vdrv_host(&f->drv, gpa, 8), 8, 0xee));
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	assert_true(f->drv.features & (1ull << VIRTIO_BLK_F_RO));
	assert_false(f->drv.features & (1ull << VIRTIO_BLK_F_DISCARD));
	assert_false(f->drv.features & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	uint8_t buf[SECTOR], file[SECTOR];
	fill_pattern(buf, sizeof(buf), 11);
	/* 5.2.6.2: writes fail and write nothing. */
	assert_int_equal(blk_write(f, 3, buf, SECTOR), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 3, 1, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_DISCARD, 0, 8, 0), VIRTIO_BLK_S_IOERR);
	file_read(f, 3 * SECTOR, file, SECTOR);
	assert_memory_equal(file, f->img + 3 * SECTOR, SECTOR);
	file_read(f, 0, file, SECTOR);
	assert_memory_equal(file, f->img, SECTOR);
	/* Reads, flushes and GET_ID work. */
	assert_int_equal(blk_read(f, 3, buf, SECTOR), VIRTIO_BLK_S_OK);
	assert_memory_equal(buf, f->img + 3 * SECTOR, SECTOR);
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false, NULL, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(vdrv_config_read(&f->drv, 0, 4), IMG_SECTORS);
}

/* Host errors reach the guest as VIRTIO_BLK_S_IOERR: the backend's descriptor is swapped
 * under the device for one that cannot write, read or sync. */
static void test_host_error(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[SECTOR];
	fill_pattern(buf, sizeof(buf), 4);
	int saved = dup(f->file.fd);
	assert_true(saved >= 0);

	int ro = open(f->path, O_RDONLY);
	assert_true(ro >= 0);
	assert_true(dup2(ro, f->file.fd) >= 0);
	close(ro);
	assert_int_equal(blk_write(f, 0, buf, SECTOR), VIRTIO_BLK_S_IOERR); /* EBADF */
	assert_int_equal(blk_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0), VIRTIO_BLK_S_IOERR);

	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_true(dup2(p[0], f->file.fd) >= 0);
	close(p[0]);
	close(p[1]);
	assert_int_equal(blk_read(f, 0, buf, SECTOR), VIRTIO_BLK_S_IOERR); /* ESPIPE */
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false, NULL, NULL),
			 VIRTIO_BLK_S_IOERR); /* EINVAL */

	/* Shrink the file under the disk: a read past the new end fails instead of returning
	 * stale or uninitialised bytes. */
	assert_true(dup2(saved, f->file.fd) >= 0);
	close(saved);
	assert_int_equal(ftruncate(f->file.fd, 4 * SECTOR), 0);
	assert_int_equal(blk_read(f, 10, buf, SECTOR), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_read(f, 3, buf, SECTOR), VIRTIO_BLK_S_OK);
}

/* More requests than the device's slots, made available at once with one notification:
 * every one completes (the worker pops the rest as slots free up). */
static void test_deep_queue(void **state)
{
	struct fixture *f = *state;
	enum { N = 40 }; /* > VIRTIO_BLK_QUEUE_DEPTH, 3 descriptors each fit in NUM = 64 twice */
	assert_true(N > VIRTIO_BLK_QUEUE_DEPTH);
	uint64_t st[N];
	uint16_t head[N];
	for (unsigned round = 0; round < 2; round++) {
		for (unsigned i = 0; i < N / 2; i++) {
			uint64_t hdr = put_header(f, VIRTIO_BLK_T_OUT, 300 + i);
			uint64_t data = vdrv_alloc(&f->drv, SECTOR);
			memset(vdrv_host(&f->drv, data, SECTOR), (int)(i + 1), SECTOR);
			st[i] = put_status(f);
			struct vdrv_seg s[] = {
			    {hdr, 16, false}, {data, SECTOR, false}, {st[i], 1, true}};
			head[i] = vdrv_add_chain(&f->drv, 0, s, 3);
		}
		vdrv_notify(&f->drv, 0);
		for (unsigned i = 0; i < N / 2; i++) {
			assert_int_equal(vdrv_wait_used(&f->drv, 0, head[i]), 1);
			assert_int_equal(*vdrv_host(&f->drv, st[i], 1), VIRTIO_BLK_S_OK);
		}
		f->drv.heap = f->drv.heap_base;
	}
	for (unsigned i = 0; i < N / 2; i++) {
		uint8_t file[SECTOR];
		file_read(f, (300 + i) * SECTOR, file, SECTOR);
		assert_true(all_bytes(file, SECTOR, (uint8_t)(i + 1)));
	}
}

/* Submit n writes of one sector each at sector base..base+n-1 without waiting. */
static void submit_writes(struct fixture *f, unsigned n, uint64_t base, uint8_t val)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t hdr = put_header(f, VIRTIO_BLK_T_OUT, base + i);
		uint64_t data = vdrv_alloc(&f->drv, SECTOR);
		memset(vdrv_host(&f->drv, data, SECTOR), val, SECTOR);
		struct vdrv_seg s[] = {
		    {hdr, 16, false}, {data, SECTOR, false}, {put_status(f), 1, true}};
		vdrv_add_chain(&f->drv, 0, s, 3);
	}
	vdrv_notify(&f->drv, 0);
}

/* A reset with requests queued and in progress: the device forgets them, and works again
 * once the driver sets it up anew. */
static void test_reset_in_flight(void **state)
{
	struct fixture *f = *state;
	for (unsigned round = 0; round < 20; round++) {
		submit_writes(f, 20, 400, (uint8_t)round);
		vdrv_write(&f->drv, REG_STATUS, 0);
		assert_int_equal(vdrv_read(&f->drv, REG_STATUS), 0);
		vdrv_start(&f->drv, VDRV_ALL_FEATURES);
	}
	/* A completion racing with the last reset reaches the transport while the queue is
	 * not ready (it is dropped there); let it land before the queue is set up again. */
	vdrv_write(&f->drv, REG_STATUS, 0);
	usleep(100 * 1000);
	vdrv_start(&f->drv, VDRV_ALL_FEATURES);
	uint8_t buf[SECTOR];
	fill_pattern(buf, sizeof(buf), 6);
	assert_int_equal(blk_write(f, 400, buf, SECTOR), VIRTIO_BLK_S_OK);
	uint8_t back[SECTOR];
	assert_int_equal(blk_read(f, 400, back, SECTOR), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, buf, SECTOR);
}

/* A malformed chain makes the transport flag the device; the device stops taking requests
 * from that queue and nothing crashes. */
static void test_broken_ring(void **state)
{
	struct fixture *f = *state;
	vdrv_publish(&f->drv, 0, NUM + 3); /* head index out of range */
	vdrv_notify(&f->drv, 0);
	assert_true(vdrv_read(&f->drv, REG_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	vdrv_write(&f->drv, REG_STATUS, 0);
	vdrv_start(&f->drv, VDRV_ALL_FEATURES);
	uint8_t buf[SECTOR];
	assert_int_equal(blk_read(f, 0, buf, SECTOR), VIRTIO_BLK_S_OK);
}

/* virtio_blk_destroy finishes the requests already taken before the worker stops. */
static void test_destroy_drains(void **state)
{
	struct fixture *f = *state;
	enum { N = 6 }; /* within the slots: all popped by the notification */
	assert_true(N <= VIRTIO_BLK_QUEUE_DEPTH);
	submit_writes(f, N, 500, 0x77);
	virtio_blk_destroy(&f->blk);
	uint16_t idx = vdrv_used_idx(&f->drv, 0);
	assert_int_equal(idx, N);
	for (unsigned i = 0; i < N; i++) {
		uint8_t file[SECTOR];
		file_read(f, (500 + i) * SECTOR, file, SECTOR);
		assert_true(all_bytes(file, SECTOR, 0x77));
	}
	/* teardown's destroy is then a no-op. */
}

/* The backend alone: what it opens and refuses, sizes, and write-zeroes on a file system
 * without ZERO_RANGE (tmpfs, through a memfd) falling back to punching. */
static void test_blk_file(void **state)
{
	(void)state;
	struct blk_file bf;
	assert_int_equal(blk_file_open(&bf, "/", false), -EISDIR);
	assert_int_equal(blk_file_open(&bf, "/", true), -EISDIR);
	assert_int_equal(blk_file_open(&bf, "/dev/null", true), -ENOTBLK);
	assert_int_equal(blk_file_open(&bf, "/nonexistent/disk.img", true), -ENOENT);

	int fd = memfd_create("rvisor-test", 0);
	assert_true(fd >= 0);
	uint8_t buf[16384];
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	assert_int_equal(blk_file_open(&bf, path, false), 0);
	assert_int_equal(bf.size, sizeof(buf));
	assert_false(bf.readonly);
	assert_false(bf.blkdev);
	int flags = fcntl(bf.fd, F_GETFD);
	assert_true(flags & FD_CLOEXEC);
	assert_false(fcntl(bf.fd, F_GETFL) & O_NONBLOCK);

	assert_int_equal(blk_file_write_zeroes(&bf, 4096, 4096, false), 0);
	assert_int_equal(blk_file_write_zeroes(&bf, 8192 + 512, 512, true), 0);
	assert_int_equal(blk_file_discard(&bf, 12288, 4096), 0);
	uint8_t back[16384];
	struct iovec iov[2] = {{back, 5000}, {back + 5000, sizeof(back) - 5000}};
	assert_int_equal(blk_file_preadv(&bf, iov, 2, 0), 0);
	assert_true(all_bytes(back, 4096, 0xab));
	assert_true(all_bytes(back + 4096, 4096, 0));
	assert_true(all_bytes(back + 8192, 512, 0xab));
	assert_true(all_bytes(back + 8192 + 512, 512, 0));
	assert_true(all_bytes(back + 9216, 3072, 0xab));
	/* Past the end of the file: the read cannot be filled. */
	struct iovec tail = {back, 4096};
	assert_int_equal(blk_file_preadv(&bf, &tail, 1, sizeof(buf) - 512), -EIO);
	assert_int_equal(blk_file_flush(&bf), 0);
	blk_file_close(&bf);
	blk_file_close(&bf);

	assert_int_equal(blk_file_open(&bf, path, true), 0);
	assert_true(bf.readonly);
	struct iovec w = {buf, 512};
	assert_int_equal(blk_file_pwritev(&bf, &w, 1, 0), -EBADF);
	blk_file_close(&bf);
	close(fd);
}

/* Image locks: each open of the path is its own open file description, as another VM's
 * would be. A writer excludes everyone; readers share; closing releases. */
static void test_blk_file_lock(void **state)
{
	(void)state;
	int fd = memfd_create("rvisor-lock", 0);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 65536), 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct blk_file rw, other, ro1, ro2;
	bool writer;

	assert_int_equal(blk_file_open(&rw, path, false), 0);
	assert_int_equal(blk_file_lock(&rw, &writer), 0);
	assert_true(rw.locked);
	assert_int_equal(blk_file_open(&other, path, false), 0);
	assert_int_equal(blk_file_lock(&other, &writer), -EBUSY);
	assert_true(writer);
	assert_false(other.locked);
	blk_file_close(&other);
	assert_int_equal(blk_file_open(&ro1, path, true), 0);
	assert_int_equal(blk_file_lock(&ro1, &writer), -EBUSY);
	assert_true(writer);
	blk_file_close(&ro1);
	blk_file_close(&rw); /* its locks go with it */

	assert_int_equal(blk_file_open(&ro1, path, true), 0);
	assert_int_equal(blk_file_lock(&ro1, &writer), 0);
	assert_int_equal(blk_file_open(&ro2, path, true), 0);
	assert_int_equal(blk_file_lock(&ro2, &writer), 0);
	assert_int_equal(blk_file_open(&rw, path, false), 0);
	assert_int_equal(blk_file_lock(&rw, &writer), -EBUSY);
	assert_false(writer); /* readers hold it, none writes */
	blk_file_close(&rw);
	/* The refused writer took nothing: with the readers gone, a writer gets it. */
	blk_file_close(&ro1);
	assert_int_equal(blk_file_open(&rw, path, false), 0);
	assert_int_equal(blk_file_lock(&rw, &writer), -EBUSY);
	blk_file_close(&ro2);
	assert_int_equal(blk_file_lock(&rw, &writer), 0);
	blk_file_close(&rw);
	close(fd);
}

/* ---- a reset while a request is being popped (found by tests/fuzz/fuzz_blk) ---- */

/* Everything the test below sets up itself: a disk, RAM, the transport, the driver. */
struct fill_race {
	char path[64];
	struct blk_file file;
	struct guest_mem mem;
	struct virtio_blk blk;
	struct virtio_transport t;
	struct vdrv drv;
	void (*blk_notify)(void *opaque, struct virtio_transport *t, unsigned q);
	pthread_mutex_t m;
	pthread_cond_t c;
	bool armed;
	int stage; /* 1: the notifying thread asks for the lock; 2: the driver thread holds it */
	uint16_t head;
	uint64_t status;
};

static struct fill_race *fill_race_cur;

/* The transport's queue_notify, wrapped: when armed, the driver thread takes the transport
 * lock before the device starts popping, so that the device's first pop waits for it. */
static void fill_race_notify(void *opaque, struct virtio_transport *t, unsigned q)
{
	struct fill_race *r = fill_race_cur;
	pthread_mutex_lock(&r->m);
	if (r->armed) {
		r->armed = false;
		r->stage = 1;
		pthread_cond_broadcast(&r->c);
		while (r->stage != 2)
			pthread_cond_wait(&r->c, &r->m);
	}
	pthread_mutex_unlock(&r->m);
	r->blk_notify(opaque, t, q);
}

/* The driver, on another thread: with the transport lock held (it is made recursive) while
 * the device waits to pop, it resets the device, starts again on fresh rings and makes one
 * read available. The device's pop then finds that request, popped after the reset. */
static void *fill_race_driver(void *opaque)
{
	struct fill_race *r = opaque;
	pthread_mutex_lock(&r->m);
	while (r->stage != 1)
		pthread_cond_wait(&r->c, &r->m);
	pthread_mutex_unlock(&r->m);
	pthread_mutex_lock(&r->t.lock);
	pthread_mutex_lock(&r->m);
	r->stage = 2;
	pthread_cond_broadcast(&r->c);
	pthread_mutex_unlock(&r->m);
	usleep(200 * 1000); /* time for the notifying thread to reach the pop */

	vdrv_start(&r->drv, VDRV_ALL_FEATURES);
	uint64_t hdr = vdrv_alloc(&r->drv, 16);
	uint8_t h[16] = {VIRTIO_BLK_T_IN};
	memcpy(vdrv_host(&r->drv, hdr, 16), h, 16);
	uint64_t data = vdrv_alloc(&r->drv, SECTOR);
	r->status = vdrv_alloc(&r->drv, 1);
	struct vdrv_seg s[] = {{hdr, 16, false}, {data, SECTOR, true}, {r->status, 1, true}};
	r->head = vdrv_add_chain(&r->drv, 0, s, 3);
	vdrv_notify(&r->drv, 0);
	pthread_mutex_unlock(&r->t.lock);
	return NULL;
}

/* A request popped after a reset belongs to the new rings and must be served, even when the
 * thread that popped it started filling before the reset (2.4: after a reset the device
 * serves the driver's new rings). The device used to drop it as "popped across a reset",
 * and the driver waited for it forever. */
static void test_reset_while_popping(void **state)
{
	(void)state;
	struct fill_race *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	fill_race_cur = r;
	strcpy(r->path, "/tmp/rvisor-blk-race-XXXXXX");
	int fd = mkstemp(r->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 64 * SECTOR), 0);
	close(fd);
	assert_int_equal(blk_file_open(&r->file, r->path, false), 0);
	assert_int_equal(guest_mem_init(&r->mem, RAM_BASE, RAM_SIZE), 0);
	struct virtio_dev dev;
	assert_int_equal(virtio_blk_init(&r->blk, &r->file, NULL, &dev), 0);
	r->blk_notify = dev.queue_notify;
	dev.queue_notify = fill_race_notify;
	vdrv_init(&r->drv, &r->t, &r->mem, 1, NUM);
	assert_int_equal(virtio_mmio_init(&r->t, &dev, &r->mem, vdrv_irq_line(&r->drv, 1)), 0);
	/* A recursive transport lock, so that the driver thread can hold it across its
	 * register accesses. */
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_destroy(&r->t.lock);
	assert_int_equal(pthread_mutex_init(&r->t.lock, &attr), 0);
	pthread_mutexattr_destroy(&attr);
	pthread_mutex_init(&r->m, NULL);
	pthread_cond_init(&r->c, NULL);

	vdrv_start(&r->drv, VDRV_ALL_FEATURES);
	vdrv_notify(&r->drv, 0); /* the device learns of the transport; nothing to pop */
	r->armed = true;
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, fill_race_driver, r), 0);
	vdrv_notify(&r->drv, 0); /* on an empty ring, but the pop waits for the driver */
	pthread_join(thread, NULL);

	assert_int_equal(vdrv_wait_used(&r->drv, 0, r->head), SECTOR + 1);
	assert_int_equal(*vdrv_host(&r->drv, r->status, 1), VIRTIO_BLK_S_OK);
	vdrv_no_more_used(&r->drv, 0);

	virtio_blk_destroy(&r->blk);
	virtio_mmio_destroy(&r->t);
	guest_mem_destroy(&r->mem);
	blk_file_close(&r->file);
	unlink(r->path);
	pthread_cond_destroy(&r->c);
	pthread_mutex_destroy(&r->m);
	fill_race_cur = NULL;
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_write_read, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_any_layout, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_flush, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_discard, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_write_zeroes, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_discard_write_zeroes_bad, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_get_id, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_get_id_long, setup_ro, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_range, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_unsupported, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly, setup_ro, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly, setup_marked_ro, teardown),
	    cmocka_unit_test_setup_teardown(test_host_error, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_deep_queue, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_in_flight, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_ring, setup_rw, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_drains, setup_rw, teardown),
	    cmocka_unit_test(test_blk_file),
	    cmocka_unit_test(test_blk_file_lock),
	    cmocka_unit_test(test_reset_while_popping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
