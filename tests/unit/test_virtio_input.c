/* Unit tests of the virtio-input keyboard (virtio 1.2 section 5.8) through the real
 * virtio-mmio transport: the configuration space's query interface (name, device IDs, the
 * keys offered, nothing for other selectors), and Ctrl-Alt-Del delivered as eight events into
 * the event queue's buffers, waiting for buffers when there are none, refused after a reset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mem/guest_mem.h"
#include "virtio/input.h"
#include "virtio/mmio.h"

#include "virtio_driver.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x100000ull
#define NUM      16

struct fixture {
	struct guest_mem mem;
	struct virtio_input in;
	struct virtio_transport t;
	struct vdrv drv;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&f->drv, &f->t, &f->mem, 2, NUM);
	struct virtio_dev dev;
	assert_int_equal(virtio_input_init(&f->in, &dev), 0);
	assert_int_equal(virtio_mmio_init(&f->t, &dev, &f->mem, (struct irq_line){0}), 0);
	vdrv_start(&f->drv, VDRV_ALL_FEATURES);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	virtio_mmio_destroy(&f->t);
	virtio_input_destroy(&f->in);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static void sel(struct fixture *f, uint8_t select, uint8_t subsel)
{
	virtio_mmio_ops.write(&f->t, REG_CONFIG, 1, select);
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 1, 1, subsel);
}

static void test_config(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(vdrv_read(&f->drv, REG_DEVICE_ID), VIRTIO_ID_INPUT);
	sel(f, 0x01, 0); /* ID_NAME */
	unsigned size = vdrv_config_read(&f->drv, 2, 1);
	char name[32] = {0};
	for (unsigned i = 0; i < size && i < sizeof(name) - 1; i++)
		name[i] = (char)vdrv_config_read(&f->drv, 8 + i, 1);
	assert_string_equal(name, "rvisor keyboard");
	sel(f, 0x03, 0); /* ID_DEVIDS: bustype virtual */
	assert_int_equal(vdrv_config_read(&f->drv, 2, 1), 8);
	assert_int_equal(vdrv_config_read(&f->drv, 8, 2), 0x06);
	sel(f, 0x11, 0x01); /* EV_BITS, EV_KEY: Ctrl (29), Alt (56), Delete (111) */
	assert_int_equal(vdrv_config_read(&f->drv, 2, 1), 111 / 8 + 1);
	assert_true(vdrv_config_read(&f->drv, 8 + 29 / 8, 1) & (1 << (29 % 8)));
	assert_true(vdrv_config_read(&f->drv, 8 + 56 / 8, 1) & (1 << (56 % 8)));
	assert_true(vdrv_config_read(&f->drv, 8 + 111 / 8, 1) & (1 << (111 % 8)));
	assert_false(vdrv_config_read(&f->drv, 8 + 30 / 8, 1) & (1 << (30 % 8)));
	sel(f, 0x11, 0x02); /* EV_REL: none */
	assert_int_equal(vdrv_config_read(&f->drv, 2, 1), 0);
	sel(f, 0x12, 0); /* ABS_INFO: none */
	assert_int_equal(vdrv_config_read(&f->drv, 2, 1), 0);
	sel(f, 0x77, 0); /* unknown */
	assert_int_equal(vdrv_config_read(&f->drv, 2, 1), 0);
	assert_int_equal(vdrv_config_read(&f->drv, 0, 1), 0x77);
	/* size and the answer are the device's: writes there change nothing. */
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 2, 1, 99);
	assert_int_equal(vdrv_config_read(&f->drv, 2, 1), 0);
}

static void expect_event(struct fixture *f, uint16_t head, uint64_t gpa, uint16_t type,
			 uint16_t code, uint32_t value)
{
	assert_int_equal(vdrv_take_used(&f->drv, 0, head), 8);
	uint8_t *e = vdrv_host(&f->drv, gpa, 8);
	uint16_t t, c;
	uint32_t v;
	memcpy(&t, e, 2);
	memcpy(&c, e + 2, 2);
	memcpy(&v, e + 4, 4);
	assert_int_equal(t, type);
	assert_int_equal(c, code);
	assert_int_equal(v, value);
}

static void test_ctrl_alt_del(void **state)
{
	struct fixture *f = *state;
	/* No buffers yet: the eight events wait for them. */
	assert_int_equal(virtio_input_ctrl_alt_del(&f->in), 0);
	vdrv_no_more_used(&f->drv, 0);
	uint16_t head[8];
	uint64_t gpa[8];
	for (unsigned i = 0; i < 4; i++)
		gpa[i] = vdrv_post_writable(&f->drv, 0, 8, &head[i]);
	vdrv_notify(&f->drv, 0);
	static const uint16_t type[8] = {1, 1, 1, 0, 1, 1, 1, 0};
	static const uint16_t code[8] = {29, 56, 111, 0, 111, 56, 29, 0};
	static const uint32_t value[8] = {1, 1, 1, 0, 0, 0, 0, 0};
	for (unsigned i = 0; i < 4; i++)
		expect_event(f, head[i], gpa[i], type[i], code[i], value[i]);
	vdrv_no_more_used(&f->drv, 0);
	/* The other four wait for buffers. */
	for (unsigned i = 4; i < 8; i++)
		gpa[i] = vdrv_post_writable(&f->drv, 0, 8, &head[i]);
	vdrv_notify(&f->drv, 0);
	for (unsigned i = 4; i < 8; i++)
		expect_event(f, head[i], gpa[i], type[i], code[i], value[i]);
	/* Status buffers (LEDs) are taken and returned. */
	uint64_t led = vdrv_alloc(&f->drv, 8);
	struct vdrv_seg s[] = {{led, 8, false}};
	uint16_t h = vdrv_add_chain(&f->drv, 1, s, 1);
	vdrv_notify(&f->drv, 1);
	assert_int_equal(vdrv_take_used(&f->drv, 1, h), 0);
	/* Reset: no driver to press the keys for. */
	vdrv_write(&f->drv, REG_STATUS, 0);
	assert_int_equal(virtio_input_ctrl_alt_del(&f->in), -EAGAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctrl_alt_del, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
