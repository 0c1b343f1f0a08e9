/* Unit tests of virtio-rng (virtio 1.2 section 5.4) through the real virtio-mmio transport,
 * with rings built in guest RAM as a driver builds them: identity, buffers filled with
 * non-constant data across segments, the per-request cap, chains without writable buffers,
 * and a broken ring. */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mem/guest_mem.h"
#include "virtio/mmio.h"
#include "virtio/rng.h"

#define RAM_BASE  0x80000000ull
#define RAM_SIZE  0x100000ull /* 1 MiB */
#define DESC_GPA  (RAM_BASE + 0x0000)
#define AVAIL_GPA (RAM_BASE + 0x1000)
#define USED_GPA  (RAM_BASE + 0x2000)
#define HEAP_GPA  (RAM_BASE + 0x10000)
#define NUM       16

enum {
	REG_DEVICE_ID = 0x008,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_CONFIG = 0x100,
};

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct fixture {
	struct guest_mem mem;
	struct virtio_rng rng;
	struct virtio_mmio t;
	uint64_t features;
	uint16_t avail_idx, used_seen, next_desc;
	uint64_t heap;
};

static void reg_write(struct fixture *f, uint64_t off, uint32_t val)
{
	virtio_mmio_ops.write(&f->t, off, 4, val);
}

static uint32_t reg_read(struct fixture *f, uint64_t off)
{
	return (uint32_t)virtio_mmio_ops.read(&f->t, off, 4);
}

static uint8_t *host(struct fixture *f, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&f->mem, gpa, len);
	assert_non_null(p);
	return p;
}

/* A buffer of len bytes preset to 0xa5, so untouched bytes are recognisable. */
static uint64_t alloc(struct fixture *f, uint64_t len)
{
	uint64_t gpa = f->heap;
	f->heap = (f->heap + len + 15) & ~15ull;
	assert_true(f->heap <= RAM_BASE + RAM_SIZE);
	memset(host(f, gpa, len), 0xa5, len);
	return gpa;
}

static void driver_start(struct fixture *f)
{
	memset(host(f, DESC_GPA, HEAP_GPA - DESC_GPA), 0, HEAP_GPA - DESC_GPA);
	reg_write(f, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	reg_write(f, REG_DEVICE_FEATURES_SEL, 0);
	f->features = reg_read(f, REG_DEVICE_FEATURES);
	reg_write(f, REG_DEVICE_FEATURES_SEL, 1);
	f->features |= (uint64_t)reg_read(f, REG_DEVICE_FEATURES) << 32;
	reg_write(f, REG_DRIVER_FEATURES_SEL, 1);
	reg_write(f, REG_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	reg_write(f, REG_STATUS,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	reg_write(f, REG_QUEUE_SEL, 0);
	reg_write(f, REG_QUEUE_NUM, NUM);
	reg_write(f, REG_QUEUE_DESC_LOW, (uint32_t)DESC_GPA);
	reg_write(f, REG_QUEUE_DRIVER_LOW, (uint32_t)AVAIL_GPA);
	reg_write(f, REG_QUEUE_DEVICE_LOW, (uint32_t)USED_GPA);
	reg_write(f, REG_QUEUE_READY, 1);
	reg_write(f, REG_STATUS,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		      VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(reg_read(f, REG_STATUS) & VIRTIO_STATUS_DRIVER_OK,
			 VIRTIO_STATUS_DRIVER_OK);
	f->avail_idx = f->used_seen = f->next_desc = 0;
	f->heap = HEAP_GPA;
}

static uint16_t add_chain(struct fixture *f, const struct seg *s, unsigned n)
{
	uint16_t head = f->next_desc;
	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % NUM);
		uint8_t *d = host(f, DESC_GPA + 16ull * idx, 16);
		uint64_t addr = htole64(s[i].gpa);
		uint32_t len = htole32(s[i].len);
		uint16_t flags = htole16((uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
						    (s[i].write ? VIRTQ_DESC_F_WRITE : 0)));
		uint16_t next = htole16((uint16_t)((idx + 1) % NUM));
		memcpy(d, &addr, 8);
		memcpy(d + 8, &len, 4);
		memcpy(d + 12, &flags, 2);
		memcpy(d + 14, &next, 2);
	}
	f->next_desc = (uint16_t)((head + n) % NUM);
	uint16_t h = htole16(head);
	memcpy(host(f, AVAIL_GPA + 4 + 2ull * (f->avail_idx % NUM), 2), &h, 2);
	f->avail_idx++;
	__atomic_store_n((uint16_t *)host(f, AVAIL_GPA + 2, 2), htole16(f->avail_idx),
			 __ATOMIC_RELEASE);
	return head;
}

/* The device serves requests within the notification: the used element is there when the
 * register write returns. Returns its len after checking its id. */
static uint32_t take_used(struct fixture *f, uint16_t head)
{
	uint16_t idx = le16toh(*(uint16_t *)host(f, USED_GPA + 2, 2));
	assert_int_not_equal(idx, f->used_seen);
	uint8_t *e = host(f, USED_GPA + 4 + 8ull * (f->used_seen % NUM), 8);
	uint32_t id, len;
	memcpy(&id, e, 4);
	memcpy(&len, e + 4, 4);
	f->used_seen++;
	assert_int_equal(le32toh(id), head);
	return le32toh(len);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	struct virtio_dev dev;
	assert_int_equal(virtio_rng_init(&f->rng, &dev), 0);
	assert_int_equal(virtio_mmio_init(&f->t, &dev, &f->mem, (struct irq_line){0}), 0);
	driver_start(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	virtio_rng_destroy(&f->rng);
	virtio_mmio_destroy(&f->t);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

/* Whether p holds more than one byte value. */
static bool varied(const uint8_t *p, size_t len)
{
	for (size_t i = 1; i < len; i++)
		if (p[i] != p[0])
			return true;
	return false;
}

static void test_identity(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(reg_read(f, REG_DEVICE_ID), VIRTIO_ID_ENTROPY);
	/* No device-specific feature bits (5.4.3), and no configuration space (5.4.4). */
	assert_int_equal(f->features & 0xffffff, 0);
	assert_true(f->features & (1ull << VIRTIO_F_VERSION_1));
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG, 4), 0);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 8, 1), 0);
	virtio_mmio_ops.write(&f->t, REG_CONFIG, 4, 1);
}

static void test_fill(void **state)
{
	struct fixture *f = *state;
	uint64_t a = alloc(f, 64), b = alloc(f, 64);
	struct seg s1[] = {{a, 64, true}};
	struct seg s2[] = {{b, 64, true}};
	uint16_t h1 = add_chain(f, s1, 1);
	uint16_t h2 = add_chain(f, s2, 1);
	reg_write(f, REG_QUEUE_NOTIFY, 0);
	assert_int_equal(take_used(f, h1), 64);
	assert_int_equal(take_used(f, h2), 64);
	/* Random data: not the fill, not one repeated byte, not the same twice. The chance
	 * of a false failure is below 2^-400. */
	assert_true(varied(host(f, a, 64), 64));
	assert_true(varied(host(f, b, 64), 64));
	assert_memory_not_equal(host(f, a, 64), host(f, b, 64), 64);
	uint8_t fill[64];
	memset(fill, 0xa5, sizeof(fill));
	assert_memory_not_equal(host(f, a, 64), fill, 64);
}

/* Several writable segments are filled in order, all of them. */
static void test_segments(void **state)
{
	struct fixture *f = *state;
	uint64_t a = alloc(f, 16), b = alloc(f, 100), c = alloc(f, 300);
	struct seg s[] = {{a, 16, true}, {b, 100, true}, {c, 300, true}};
	uint16_t h = add_chain(f, s, 3);
	reg_write(f, REG_QUEUE_NOTIFY, 0);
	assert_int_equal(take_used(f, h), 416);
	assert_true(varied(host(f, a, 16), 16));
	assert_true(varied(host(f, b, 100), 100));
	assert_true(varied(host(f, c, 300), 300));
	/* The very last byte was reached: random bytes do not repeat the 0xa5 fill 8 times. */
	const uint8_t *p = host(f, c + 292, 8);
	assert_true(varied(p, 8) || p[0] != 0xa5);
}

/* At most VIRTIO_RNG_MAX_BYTES per request: the used length says how much, and the bytes
 * beyond are untouched (5.4.6.1 lets the device use less than the buffer). */
static void test_cap(void **state)
{
	struct fixture *f = *state;
	uint64_t len = VIRTIO_RNG_MAX_BYTES + 4096;
	uint64_t a = alloc(f, len);
	struct seg s[] = {{a, 4096, true}, {a + 4096, (uint32_t)(len - 4096), true}};
	uint16_t h = add_chain(f, s, 2);
	reg_write(f, REG_QUEUE_NOTIFY, 0);
	assert_int_equal(take_used(f, h), VIRTIO_RNG_MAX_BYTES);
	assert_true(varied(host(f, a + VIRTIO_RNG_MAX_BYTES - 64, 64), 64));
	const uint8_t *rest = host(f, a + VIRTIO_RNG_MAX_BYTES, 4096);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(rest[i], 0xa5);
}

/* A chain with only device-readable buffers gets nothing written; the device goes on. */
static void test_readable_only(void **state)
{
	struct fixture *f = *state;
	uint64_t a = alloc(f, 32), b = alloc(f, 32);
	struct seg s1[] = {{a, 32, false}};
	struct seg s2[] = {{b, 32, true}};
	uint16_t h1 = add_chain(f, s1, 1);
	uint16_t h2 = add_chain(f, s2, 1);
	reg_write(f, REG_QUEUE_NOTIFY, 0);
	assert_int_equal(take_used(f, h1), 0);
	const uint8_t *p = host(f, a, 32);
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(p[i], 0xa5);
	assert_int_equal(take_used(f, h2), 32);
}

/* A malformed chain: the device is flagged for reset and serves again after one. */
static void test_broken_ring(void **state)
{
	struct fixture *f = *state;
	struct seg s[] = {{RAM_BASE + RAM_SIZE - 16, 32, true}}; /* runs off the end of RAM */
	add_chain(f, s, 1);
	reg_write(f, REG_QUEUE_NOTIFY, 0);
	assert_true(reg_read(f, REG_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	reg_write(f, REG_STATUS, 0);
	driver_start(f);
	uint64_t a = alloc(f, 32);
	struct seg ok[] = {{a, 32, true}};
	uint16_t h = add_chain(f, ok, 1);
	reg_write(f, REG_QUEUE_NOTIFY, 0);
	assert_int_equal(take_used(f, h), 32);
	assert_true(varied(host(f, a, 32), 32));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_segments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readable_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_ring, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
