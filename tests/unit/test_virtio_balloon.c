/* Unit tests of virtio-balloon (virtio 1.2 section 5.5) through the real virtio-mmio
 * transport, with rings built in guest RAM as a driver builds them: identity and the
 * configuration space, inflating (the listed pages of RAM are given back to the host and read
 * as zeroes; others and page frames outside RAM are left alone), a new target announced by a
 * configuration change, the statistics buffer held until fresh figures are asked for, and
 * free page reporting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mem/guest_mem.h"
#include "virtio/balloon.h"
#include "virtio/mmio.h"

#include "virtio_driver.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x400000ull /* 4 MiB */
#define NUM      16
#define PAGE     4096u
#define VICTIM   (RAM_BASE + 0x200000) /* pages the tests give away */

struct fixture {
	struct guest_mem mem;
	struct virtio_balloon b;
	struct virtio_transport t;
	struct vdrv drv;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&f->drv, &f->t, &f->mem, 4, NUM);
	struct virtio_dev dev;
	assert_int_equal(virtio_balloon_init(&f->b, &f->mem, 2, false, &dev), 0);
	assert_int_equal(virtio_mmio_init(&f->t, &dev, &f->mem, vdrv_irq_line(&f->drv, 1)), 0);
	vdrv_start(&f->drv, VDRV_ALL_FEATURES);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	virtio_mmio_destroy(&f->t);
	virtio_balloon_destroy(&f->b);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static void fill_pages(struct fixture *f, uint64_t gpa, unsigned n, uint8_t v)
{
	memset(vdrv_host(&f->drv, gpa, (uint64_t)n * PAGE), v, (size_t)n * PAGE);
}

static bool all(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void test_identity_and_config(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(vdrv_read(&f->drv, REG_DEVICE_ID), VIRTIO_ID_BALLOON);
	assert_true(f->drv.offered & (1ull << VIRTIO_BALLOON_F_STATS_VQ));
	assert_true(f->drv.offered & (1ull << VIRTIO_BALLOON_F_PAGE_REPORTING));
	assert_false(f->drv.offered & (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	assert_int_equal(vdrv_config_read(&f->drv, 0, 4), 2 * 256); /* 2 MiB in pages */
	assert_int_equal(vdrv_config_read(&f->drv, 4, 4), 0);
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 4, 4, 100); /* actual */
	virtio_mmio_ops.write(&f->t, REG_CONFIG, 4, 7);       /* num_pages: the device's */
	assert_int_equal(vdrv_config_read(&f->drv, 4, 4), 100);
	assert_int_equal(vdrv_config_read(&f->drv, 0, 4), 512);
	uint32_t target, actual;
	uint64_t returned;
	virtio_balloon_size(&f->b, &target, &actual, &returned);
	assert_int_equal(target, 2);
	assert_int_equal(actual, 0); /* 100 pages: less than a MiB */
	/* A new target: num_pages, the generation and a configuration interrupt. */
	uint32_t gen = vdrv_read(&f->drv, REG_CONFIG_GENERATION);
	int irqs = f->drv.irqs;
	virtio_balloon_set_target(&f->b, 3);
	assert_int_equal(vdrv_config_read(&f->drv, 0, 4), 768);
	assert_int_not_equal(vdrv_read(&f->drv, REG_CONFIG_GENERATION), gen);
	assert_true(vdrv_read(&f->drv, REG_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG);
	assert_true(f->drv.irqs > irqs);
}

static void test_inflate(void **state)
{
	struct fixture *f = *state;
	fill_pages(f, VICTIM, 6, 0x5a);
	/* Pages 0, 1, 2 and 4 of the victims, one outside RAM, one twice. */
	uint32_t pfns[] = {(uint32_t)(VICTIM / PAGE),
			   (uint32_t)(VICTIM / PAGE + 1),
			   (uint32_t)(VICTIM / PAGE + 2),
			   (uint32_t)(VICTIM / PAGE + 4),
			   (uint32_t)(0x1000),
			   (uint32_t)(VICTIM / PAGE + 4)};
	uint64_t buf = vdrv_alloc(&f->drv, sizeof(pfns));
	memcpy(vdrv_host(&f->drv, buf, sizeof(pfns)), pfns, sizeof(pfns));
	struct vdrv_seg s[] = {{buf, sizeof(pfns), false}};
	uint16_t h = vdrv_add_chain(&f->drv, BALLOON_Q_INFLATE, s, 1);
	vdrv_notify(&f->drv, BALLOON_Q_INFLATE);
	assert_int_equal(vdrv_take_used(&f->drv, BALLOON_Q_INFLATE, h), 0);
	for (unsigned p = 0; p < 6; p++) {
		bool given = p != 3 && p != 5;
		assert_true(
		    all(vdrv_host(&f->drv, VICTIM + p * PAGE, PAGE), PAGE, given ? 0 : 0x5a));
	}
	uint32_t target, actual;
	uint64_t returned;
	virtio_balloon_size(&f->b, &target, &actual, &returned);
	assert_int_equal(returned, 5); /* the RAM ones, the repeated one counted twice */
	/* Deflating gives nothing back to do: the buffer is just returned. */
	h = vdrv_add_chain(&f->drv, BALLOON_Q_DEFLATE, s, 1);
	vdrv_notify(&f->drv, BALLOON_Q_DEFLATE);
	assert_int_equal(vdrv_take_used(&f->drv, BALLOON_Q_DEFLATE, h), 0);
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t v)
{
	memcpy(p, &tag, 2);
	memcpy(p + 2, &v, 8);
}

static void test_stats(void **state)
{
	struct fixture *f = *state;
	uint8_t st[30];
	put_stat(st, 4, 123);      /* free memory */
	put_stat(st + 10, 5, 456); /* total memory */
	put_stat(st + 20, 99, 7);  /* unknown: skipped */
	uint64_t buf = vdrv_alloc(&f->drv, sizeof(st));
	memcpy(vdrv_host(&f->drv, buf, sizeof(st)), st, sizeof(st));
	struct vdrv_seg s[] = {{buf, sizeof(st), false}};
	uint16_t h = vdrv_add_chain(&f->drv, BALLOON_Q_STATS, s, 1);
	vdrv_notify(&f->drv, BALLOON_Q_STATS);
	/* Held by the device until it wants new figures. */
	vdrv_no_more_used(&f->drv, BALLOON_Q_STATS);
	struct virtio_balloon_stats out;
	assert_int_equal(virtio_balloon_stats(&f->b, false, &out), 1);
	assert_true(out.have[4] && out.have[5] && !out.have[0]);
	assert_int_equal(out.value[4], 123);
	assert_int_equal(out.value[5], 456);
	assert_int_equal(virtio_balloon_stats(&f->b, true, &out), 1);
	assert_int_equal(vdrv_take_used(&f->drv, BALLOON_Q_STATS, h), 0);
	assert_int_equal(virtio_balloon_stats(&f->b, true, &out), 1); /* nothing held now */
}

static void test_reporting(void **state)
{
	struct fixture *f = *state;
	fill_pages(f, VICTIM, 4, 0x77);
	/* Two whole pages, and a part of one that is not whole: only whole pages go. */
	struct vdrv_seg s[] = {{VICTIM, 2 * PAGE, true}, {VICTIM + 3 * PAGE, 100, true}};
	uint16_t h = vdrv_add_chain(&f->drv, BALLOON_Q_REPORTING, s, 2);
	vdrv_notify(&f->drv, BALLOON_Q_REPORTING);
	assert_int_equal(vdrv_take_used(&f->drv, BALLOON_Q_REPORTING, h), 0);
	assert_true(all(vdrv_host(&f->drv, VICTIM, 2 * PAGE), 2 * PAGE, 0));
	assert_true(all(vdrv_host(&f->drv, VICTIM + 2 * PAGE, 2 * PAGE), 2 * PAGE, 0x77));
	uint32_t target, actual;
	uint64_t returned;
	virtio_balloon_size(&f->b, &target, &actual, &returned);
	assert_int_equal(returned, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity_and_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inflate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reporting, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
