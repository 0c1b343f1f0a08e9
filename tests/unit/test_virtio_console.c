/* Unit tests of virtio-console (virtio 1.2 section 5.3) driven through the real virtio-mmio
 * transport, with rings built in guest RAM as a driver builds them, on a fake character
 * backend: identity, output from the transmitq, input into receive buffers when it arrives
 * and when buffers are posted, input kept while no buffer is posted, emergency writes,
 * reset, and an input thread racing the driver. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "host/chr.h"
#include "mem/guest_mem.h"
#include "virtio/console.h"
#include "virtio/mmio.h"

#include "virtio_driver.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x200000ull /* 2 MiB */
#define NUM      32
#define RXQ      VIRTIO_CONSOLE_RECEIVEQ
#define TXQ      VIRTIO_CONSOLE_TRANSMITQ

/* ---- a fake character backend ---- */

#define FAKE_IN (1 << 20)

struct fake_chr {
	struct chr chr;
	pthread_mutex_t lock;
	uint8_t out[4096];
	size_t nout;
	uint8_t *in; /* FAKE_IN bytes */
	size_t in_head, in_tail;
	unsigned cols, rows; /* the "terminal" size */
};

static void fake_write(struct chr *c, const void *buf, size_t len)
{
	struct fake_chr *f = (struct fake_chr *)c;
	pthread_mutex_lock(&f->lock);
	assert_true(f->nout + len <= sizeof(f->out));
	memcpy(f->out + f->nout, buf, len);
	f->nout += len;
	pthread_mutex_unlock(&f->lock);
}

static size_t fake_read(struct chr *c, void *buf, size_t len)
{
	struct fake_chr *f = (struct fake_chr *)c;
	pthread_mutex_lock(&f->lock);
	size_t n = f->in_tail - f->in_head < len ? f->in_tail - f->in_head : len;
	memcpy(buf, f->in + f->in_head, n);
	f->in_head += n;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static int fake_size(struct chr *c, unsigned *cols, unsigned *rows)
{
	struct fake_chr *f = (struct fake_chr *)c;
	*cols = f->cols;
	*rows = f->rows;
	return 0;
}

/* Queue host input and tell the frontend, as a backend's reader thread does. */
static void type_input(struct fake_chr *f, const void *buf, size_t len)
{
	pthread_mutex_lock(&f->lock);
	assert_true(f->in_tail + len <= FAKE_IN);
	memcpy(f->in + f->in_tail, buf, len);
	f->in_tail += len;
	pthread_mutex_unlock(&f->lock);
	void (*notify)(void *) = __atomic_load_n(&f->chr.notify, __ATOMIC_ACQUIRE);
	if (notify)
		notify(f->chr.notify_opaque);
}

static size_t pending_input(struct fake_chr *f)
{
	pthread_mutex_lock(&f->lock);
	size_t n = f->in_tail - f->in_head;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* ---- the device, driven by the fake driver of virtio_driver.h ---- */

struct fixture {
	struct guest_mem mem;
	struct fake_chr chr;
	struct virtio_console con;
	struct virtio_transport t;
	struct vdrv drv;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->chr.in = malloc(FAKE_IN);
	assert_non_null(f->chr.in);
	f->chr.chr.write = fake_write;
	f->chr.chr.read = fake_read;
	pthread_mutex_init(&f->chr.lock, NULL);
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&f->drv, &f->t, &f->mem, 2, NUM);
	struct virtio_dev dev;
	assert_int_equal(virtio_console_init(&f->con, &f->chr.chr, &dev), 0);
	assert_int_equal(virtio_mmio_init(&f->t, &dev, &f->mem, vdrv_irq_line(&f->drv, 4)), 0);
	vdrv_start(&f->drv, VDRV_ALL_FEATURES);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	__atomic_store_n(&f->chr.chr.notify, NULL, __ATOMIC_RELEASE);
	virtio_console_destroy(&f->con);
	virtio_mmio_destroy(&f->t);
	guest_mem_destroy(&f->mem);
	pthread_mutex_destroy(&f->chr.lock);
	free(f->chr.in);
	free(f);
	return 0;
}

/* ---- tests ---- */

static void test_identity(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(vdrv_read(&f->drv, REG_DEVICE_ID), VIRTIO_ID_CONSOLE);
	assert_int_equal(vdrv_offered(&f->drv) & 0xffffff,
			 1u << VIRTIO_CONSOLE_F_EMERG_WRITE | 1u << VIRTIO_CONSOLE_F_SIZE);
	assert_true(vdrv_offered(&f->drv) & (1ull << VIRTIO_F_VERSION_1));
	/* cols and rows (a backend that is no terminal: 0 x 0), max_nr_ports (no F_MULTIPORT)
	 * and emerg_wr read as 0. */
	for (unsigned off = 0; off < VIRTIO_CONSOLE_CONFIG_SIZE; off += 4)
		assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + off, 4), 0);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 12, 4), 0);
	assert_ptr_equal(f->chr.chr.notify_opaque, &f->con);
	assert_non_null(f->chr.chr.notify);
}

/* A terminal backend: its size in cols (offset 0) and rows (2); a resize is a configuration
 * change (a new generation, the config interrupt); the same size again changes nothing. */
static void test_size(void **state)
{
	struct fixture *f = *state;
	f->chr.chr.size = fake_size;
	f->chr.cols = 100;
	f->chr.rows = 30;
	/* The transport becomes known to the device with the first notification. */
	uint64_t a = vdrv_alloc(&f->drv, 1);
	struct vdrv_seg s = {a, 1, false};
	uint16_t head = vdrv_add_chain(&f->drv, TXQ, &s, 1);
	vdrv_notify(&f->drv, TXQ);
	assert_int_equal(vdrv_take_used(&f->drv, TXQ, head), 0);
	vdrv_write(&f->drv, REG_INTERRUPT_ACK, vdrv_read(&f->drv, REG_INTERRUPT_STATUS));
	uint32_t gen = vdrv_read(&f->drv, REG_CONFIG_GENERATION);
	virtio_console_resize(&f->con);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 0, 2), 100);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 2, 2), 30);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 0, 4), 30u << 16 | 100);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 4, 4), 0);
	assert_int_not_equal(vdrv_read(&f->drv, REG_CONFIG_GENERATION), gen);
	assert_true(vdrv_read(&f->drv, REG_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG);
	vdrv_write(&f->drv, REG_INTERRUPT_ACK, VIRTIO_INT_CONFIG);
	gen = vdrv_read(&f->drv, REG_CONFIG_GENERATION);
	virtio_console_resize(&f->con);
	assert_int_equal(vdrv_read(&f->drv, REG_CONFIG_GENERATION), gen);
	assert_false(vdrv_read(&f->drv, REG_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG);
	f->chr.cols = 70000; /* beyond a u16: the largest */
	virtio_console_resize(&f->con);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 0, 2), 0xffff);
}

static void test_tx(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vdrv_alloc(&f->drv, 6), b = vdrv_alloc(&f->drv, 1), c = vdrv_alloc(&f->drv, 5),
		 w = vdrv_alloc(&f->drv, 8);
	memcpy(vdrv_host(&f->drv, a, 6), "hello,", 6);
	memcpy(vdrv_host(&f->drv, b, 1), " ", 1);
	memcpy(vdrv_host(&f->drv, c, 5), "world", 5);
	/* A writable buffer at the end is not the device's to fill on the transmitq. */
	struct vdrv_seg s[4] = {{a, 6, false}, {b, 1, false}, {c, 5, false}, {w, 8, true}};
	uint16_t head = vdrv_add_chain(&f->drv, TXQ, s, 4);
	int irqs = f->drv.irqs;
	vdrv_notify(&f->drv, TXQ);
	assert_int_equal(vdrv_take_used(&f->drv, TXQ, head), 0);
	assert_int_equal(f->chr.nout, 12);
	assert_memory_equal(f->chr.out, "hello, world", 12);
	assert_int_equal(vdrv_host(&f->drv, w, 1)[0], 0xa5);
	assert_true(f->drv.irqs > irqs);
	assert_true(vdrv_read(&f->drv, REG_INTERRUPT_STATUS) & VIRTIO_INT_VRING);

	/* Several requests in one notification, in order. */
	uint16_t h[3];
	for (unsigned i = 0; i < 3; i++) {
		uint64_t g = vdrv_alloc(&f->drv, 1);
		vdrv_host(&f->drv, g, 1)[0] = (uint8_t)('a' + i);
		struct vdrv_seg one = {g, 1, false};
		h[i] = vdrv_add_chain(&f->drv, TXQ, &one, 1);
	}
	vdrv_notify(&f->drv, TXQ);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(vdrv_take_used(&f->drv, TXQ, h[i]), 0);
	assert_memory_equal(f->chr.out + 12, "abc", 3);
}

static void test_rx(void **state)
{
	struct fixture *f = *state;
	uint16_t h0, h1, h2, h3;
	uint64_t b0 = vdrv_post_writable(&f->drv, RXQ, 8, &h0),
		 b1 = vdrv_post_writable(&f->drv, RXQ, 8, &h1);
	vdrv_notify(&f->drv, RXQ); /* no input yet: nothing is returned */
	vdrv_no_more_used(&f->drv, RXQ);

	int irqs = f->drv.irqs;
	type_input(&f->chr, "ls\r", 3);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h0), 3);
	assert_memory_equal(vdrv_host(&f->drv, b0, 3), "ls\r", 3);
	assert_int_equal(vdrv_host(&f->drv, b0 + 3, 1)[0], 0xa5);
	assert_true(f->drv.irqs > irqs);

	/* More input than room: the rest waits in the backend. */
	type_input(&f->chr, "0123456789abcdefghij", 20);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h1), 8);
	assert_memory_equal(vdrv_host(&f->drv, b1, 8), "01234567", 8);
	vdrv_no_more_used(&f->drv, RXQ);
	assert_int_equal(pending_input(&f->chr), 12);

	/* Posting buffers brings it in. */
	uint64_t b2 = vdrv_post_writable(&f->drv, RXQ, 8, &h2),
		 b3 = vdrv_post_writable(&f->drv, RXQ, 8, &h3);
	vdrv_notify(&f->drv, RXQ);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h2), 8);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h3), 4);
	assert_memory_equal(vdrv_host(&f->drv, b2, 8), "89abcdef", 8);
	assert_memory_equal(vdrv_host(&f->drv, b3, 4), "ghij", 4);
	assert_int_equal(pending_input(&f->chr), 0);
}

/* A receive buffer of several descriptors is filled in order. */
static void test_rx_chain(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vdrv_alloc(&f->drv, 4), b = vdrv_alloc(&f->drv, 4), c = vdrv_alloc(&f->drv, 4);
	struct vdrv_seg s[3] = {{a, 4, true}, {b, 4, true}, {c, 4, true}};
	uint16_t head = vdrv_add_chain(&f->drv, RXQ, s, 3);
	vdrv_notify(&f->drv, RXQ);
	type_input(&f->chr, "abcdefghij", 10);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, head), 10);
	assert_memory_equal(vdrv_host(&f->drv, a, 4), "abcd", 4);
	assert_memory_equal(vdrv_host(&f->drv, b, 4), "efgh", 4);
	assert_memory_equal(vdrv_host(&f->drv, c, 2), "ij", 2);
	assert_int_equal(vdrv_host(&f->drv, c + 2, 1)[0], 0xa5);

	/* A receive chain with nothing writable is handed back empty, and the next one used. */
	struct vdrv_seg ro = {vdrv_alloc(&f->drv, 4), 4, false};
	uint16_t h0 = vdrv_add_chain(&f->drv, RXQ, &ro, 1), h1;
	uint64_t b1 = vdrv_post_writable(&f->drv, RXQ, 4, &h1);
	vdrv_notify(&f->drv, RXQ);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h0), 0);
	type_input(&f->chr, "z", 1);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, h1), 1);
	assert_int_equal(vdrv_host(&f->drv, b1, 1)[0], 'z');
}

/* Input that comes before any buffer, even before the driver, waits for one. */
static void test_rx_early(void **state)
{
	struct fixture *f = *state;
	vdrv_write(&f->drv, REG_STATUS, 0);
	type_input(&f->chr, "early", 5);
	vdrv_start(&f->drv, VDRV_ALL_FEATURES);
	assert_int_equal(pending_input(&f->chr), 5);
	uint16_t head;
	uint64_t b = vdrv_post_writable(&f->drv, RXQ, 16, &head);
	vdrv_notify(&f->drv, RXQ);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, head), 5);
	assert_memory_equal(vdrv_host(&f->drv, b, 5), "early", 5);
}

static void test_emerg_write(void **state)
{
	struct fixture *f = *state;
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 8, 4, 'A');
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 8, 1, 'B');
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 8, 2, 0x4400 | 'C');
	/* Writes elsewhere (cols, rows, max_nr_ports) or past emerg_wr's byte do nothing. */
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 0, 4, 'x');
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 4, 4, 'y');
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 9, 1, 'z');
	/* No queues needed: works on a device the driver has just reset. */
	vdrv_write(&f->drv, REG_STATUS, 0);
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 8, 4, 'D');
	assert_int_equal(f->chr.nout, 4);
	assert_memory_equal(f->chr.out, "ABCD", 4);
}

/* A reset forgets the receive buffer held for the old ring. */
static void test_reset(void **state)
{
	struct fixture *f = *state;
	uint16_t head;
	uint64_t old = vdrv_post_writable(&f->drv, RXQ, 8, &head);
	vdrv_notify(&f->drv, RXQ); /* taken and held: no input */
	vdrv_start(&f->drv, VDRV_ALL_FEATURES);
	f->drv.heap = f->drv.heap_base + 0x1000;
	uint64_t fresh = vdrv_post_writable(&f->drv, RXQ, 8, &head);
	vdrv_notify(&f->drv, RXQ);
	type_input(&f->chr, "new", 3);
	assert_int_equal(vdrv_take_used(&f->drv, RXQ, head), 3);
	assert_memory_equal(vdrv_host(&f->drv, fresh, 3), "new", 3);
	assert_int_equal(vdrv_host(&f->drv, old, 1)[0], 0xa5);
	vdrv_no_more_used(&f->drv, RXQ);
}

#define RACE_BYTES 200000

static void *race_typist(void *opaque)
{
	struct fixture *f = opaque;
	uint8_t chunk[37];
	for (size_t sent = 0; sent < RACE_BYTES;) {
		size_t n = RACE_BYTES - sent < sizeof(chunk) ? RACE_BYTES - sent : sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = (uint8_t)((sent + i) % 251);
		type_input(&f->chr, chunk, n);
		sent += n;
	}
	return NULL;
}

/* Input typed on another thread arrives whole and in order while the driver takes buffers
 * and posts new ones. */
static void test_rx_race(void **state)
{
	struct fixture *f = *state;
	uint64_t buf[NUM];
	for (unsigned i = 0; i < NUM; i++) {
		buf[i] = vdrv_alloc(&f->drv, 64);
		struct vdrv_seg s = {buf[i], 64, true};
		vdrv_add_chain(&f->drv, RXQ, &s, 1);
	}
	vdrv_notify(&f->drv, RXQ);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, race_typist, f), 0);
	size_t got = 0;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (got < RACE_BYTES) {
		uint32_t id, len;
		if (!vdrv_pop_used(&f->drv, RXQ, &id, &len)) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec > 20)
				fail_msg("stuck after %zu bytes", got);
			vdrv_notify(&f->drv, RXQ); /* as a driver would after its last refill */
			sched_yield();
			continue;
		}
		assert_true(id < NUM && len >= 1 && len <= 64);
		const uint8_t *p = vdrv_host(&f->drv, buf[id], len);
		for (uint32_t i = 0; i < len; i++)
			if (p[i] != (uint8_t)((got + i) % 251))
				fail_msg("byte %zu is %u", got + i, p[i]);
		got += len;
		struct vdrv_seg s = {buf[id], 64, true};
		vdrv_add_chain(&f->drv, RXQ, &s, 1);
		vdrv_notify(&f->drv, RXQ);
	}
	pthread_join(th, NULL);
	assert_int_equal(got, RACE_BYTES);
	assert_int_equal(pending_input(&f->chr), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_early, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_emerg_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_race, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
