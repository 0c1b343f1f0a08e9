/* Unit tests of virtio-rng (virtio 1.2 section 5.4) through the real virtio-mmio transport,
 * with rings built in guest RAM as a driver builds them: identity, buffers filled with
 * non-constant data across segments, the per-request cap, chains without writable buffers,
 * and a broken ring. */
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

#include "virtio_driver.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x100000ull /* 1 MiB */
#define NUM      16
/* The driver accepts VIRTIO_F_VERSION_1 only. */
#define DRIVER_FEATURES (1ull << VIRTIO_F_VERSION_1)

struct fixture {
	struct guest_mem mem;
	struct virtio_rng rng;
	struct virtio_transport t;
	struct vdrv drv;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&f->drv, &f->t, &f->mem, 1, NUM);
	struct virtio_dev dev;
	assert_int_equal(virtio_rng_init(&f->rng, &dev), 0);
	assert_int_equal(virtio_mmio_init(&f->t, &dev, &f->mem, (struct irq_line){0}), 0);
	vdrv_start(&f->drv, DRIVER_FEATURES);
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
	assert_int_equal(vdrv_read(&f->drv, REG_DEVICE_ID), VIRTIO_ID_ENTROPY);
	/* No device-specific feature bits (5.4.3), and no configuration space (5.4.4). */
	assert_int_equal(f->drv.offered & 0xffffff, 0);
	assert_true(f->drv.offered & (1ull << VIRTIO_F_VERSION_1));
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG, 4), 0);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 8, 1), 0);
	virtio_mmio_ops.write(&f->t, REG_CONFIG, 4, 1);
}

static void test_fill(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vdrv_alloc(&f->drv, 64), b = vdrv_alloc(&f->drv, 64);
	struct vdrv_seg s1[] = {{a, 64, true}};
	struct vdrv_seg s2[] = {{b, 64, true}};
	uint16_t h1 = vdrv_add_chain(&f->drv, 0, s1, 1);
	uint16_t h2 = vdrv_add_chain(&f->drv, 0, s2, 1);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_take_used(&f->drv, 0, h1), 64);
	assert_int_equal(vdrv_take_used(&f->drv, 0, h2), 64);
	/* Random data: not the fill, not one repeated byte, not the same twice. The chance
	 * of a false failure is below 2^-400. */
	assert_true(varied(vdrv_host(&f->drv, a, 64), 64));
	assert_true(varied(vdrv_host(&f->drv, b, 64), 64));
	assert_memory_not_equal(vdrv_host(&f->drv, a, 64), vdrv_host(&f->drv, b, 64), 64);
	uint8_t fill[64];
	memset(fill, 0xa5, sizeof(fill));
	assert_memory_not_equal(vdrv_host(&f->drv, a, 64), fill, 64);
}

/* Several writable segments are filled in order, all of them. */
static void test_segments(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vdrv_alloc(&f->drv, 16), b = vdrv_alloc(&f->drv, 100),
		 c = vdrv_alloc(&f->drv, 300);
	struct vdrv_seg s[] = {{a, 16, true}, {b, 100, true}, {c, 300, true}};
	uint16_t h = vdrv_add_chain(&f->drv, 0, s, 3);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_take_used(&f->drv, 0, h), 416);
	assert_true(varied(vdrv_host(&f->drv, a, 16), 16));
	assert_true(varied(vdrv_host(&f->drv, b, 100), 100));
	assert_true(varied(vdrv_host(&f->drv, c, 300), 300));
	/* The very last byte was reached: random bytes do not repeat the 0xa5 fill 8 times. */
	const uint8_t *p = vdrv_host(&f->drv, c + 292, 8);
	assert_true(varied(p, 8) || p[0] != 0xa5);
}

/* At most VIRTIO_RNG_MAX_BYTES per request: the used length says how much, and the bytes
 * beyond are untouched (5.4.6.1 lets the device use less than the buffer). */
static void test_cap(void **state)
{
	struct fixture *f = *state;
	uint64_t len = VIRTIO_RNG_MAX_BYTES + 4096;
	uint64_t a = vdrv_alloc(&f->drv, len);
	struct vdrv_seg s[] = {{a, 4096, true}, {a + 4096, (uint32_t)(len - 4096), true}};
	uint16_t h = vdrv_add_chain(&f->drv, 0, s, 2);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_take_used(&f->drv, 0, h), VIRTIO_RNG_MAX_BYTES);
	assert_true(varied(vdrv_host(&f->drv, a + VIRTIO_RNG_MAX_BYTES - 64, 64), 64));
	const uint8_t *rest = vdrv_host(&f->drv, a + VIRTIO_RNG_MAX_BYTES, 4096);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(rest[i], 0xa5);
}

/* A chain with only device-readable buffers gets nothing written; the device goes on. */
static void test_readable_only(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vdrv_alloc(&f->drv, 32), b = vdrv_alloc(&f->drv, 32);
	struct vdrv_seg s1[] = {{a, 32, false}};
	struct vdrv_seg s2[] = {{b, 32, true}};
	uint16_t h1 = vdrv_add_chain(&f->drv, 0, s1, 1);
	uint16_t h2 = vdrv_add_chain(&f->drv, 0, s2, 1);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_take_used(&f->drv, 0, h1), 0);
	const uint8_t *p = vdrv_host(&f->drv, a, 32);
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(p[i], 0xa5);
	assert_int_equal(vdrv_take_used(&f->drv, 0, h2), 32);
}

/* A malformed chain: the device is flagged for reset and serves again after one. */
static void test_broken_ring(void **state)
{
	struct fixture *f = *state;
	struct vdrv_seg s[] = {{RAM_BASE + RAM_SIZE - 16, 32, true}}; /* runs off the end of RAM */
	vdrv_add_chain(&f->drv, 0, s, 1);
	vdrv_notify(&f->drv, 0);
	assert_true(vdrv_read(&f->drv, REG_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	vdrv_write(&f->drv, REG_STATUS, 0);
	vdrv_start(&f->drv, DRIVER_FEATURES);
	uint64_t a = vdrv_alloc(&f->drv, 32);
	struct vdrv_seg ok[] = {{a, 32, true}};
	uint16_t h = vdrv_add_chain(&f->drv, 0, ok, 1);
	vdrv_notify(&f->drv, 0);
	assert_int_equal(vdrv_take_used(&f->drv, 0, h), 32);
	assert_true(varied(vdrv_host(&f->drv, a, 32), 32));
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
