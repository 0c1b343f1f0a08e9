/* Unit tests of virtio-console (virtio 1.2 section 5.3) driven through the real virtio-mmio
 * transport, with rings built in guest RAM as a driver builds them, on a fake character
 * backend: identity, output from the transmitq, input into receive buffers when it arrives
 * and when buffers are posted, input kept while no buffer is posted, emergency writes,
 * reset, and an input thread racing the driver. */
#include <endian.h>
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

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x200000ull                  /* 2 MiB */
#define Q_GPA(q) (RAM_BASE + 0x4000ull * (q)) /* desc, then avail +0x1000, used +0x2000 */
#define HEAP_GPA (RAM_BASE + 0x10000)
#define NUM      32
#define RXQ      VIRTIO_CONSOLE_RECEIVEQ
#define TXQ      VIRTIO_CONSOLE_TRANSMITQ

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
	REG_INTERRUPT_STATUS = 0x060,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_CONFIG = 0x100,
};

/* ---- a fake character backend ---- */

#define FAKE_IN (1 << 20)

struct fake_chr {
	struct chr chr;
	pthread_mutex_t lock;
	uint8_t out[4096];
	size_t nout;
	uint8_t *in; /* FAKE_IN bytes */
	size_t in_head, in_tail;
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

/* ---- a driver ---- */

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct drvq {
	uint16_t avail_idx, used_seen, next_desc;
};

struct fixture {
	struct guest_mem mem;
	struct fake_chr chr;
	struct virtio_console con;
	struct virtio_mmio t;
	struct drvq q[2];
	uint64_t heap;
	int irqs;
};

static void irq_record(void *opaque, unsigned num, bool level)
{
	struct fixture *f = opaque;
	(void)num;
	if (level)
		__atomic_add_fetch(&f->irqs, 1, __ATOMIC_RELAXED);
}

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
	if (!p)
		abort(); /* tells the compiler what assert_non_null means */
	return p;
}

/* A guest buffer of len bytes preset to 0xa5, so untouched bytes show. */
static uint64_t alloc(struct fixture *f, uint64_t len)
{
	uint64_t gpa = f->heap;
	f->heap = (f->heap + len + 15) & ~15ull;
	assert_true(f->heap <= RAM_BASE + RAM_SIZE);
	memset(host(f, gpa, len), 0xa5, len);
	return gpa;
}

static uint64_t offered(struct fixture *f)
{
	reg_write(f, REG_DEVICE_FEATURES_SEL, 0);
	uint64_t v = reg_read(f, REG_DEVICE_FEATURES);
	reg_write(f, REG_DEVICE_FEATURES_SEL, 1);
	return v | (uint64_t)reg_read(f, REG_DEVICE_FEATURES) << 32;
}

/* Driver initialisation (3.1.1) accepting every offered feature, with both queues of port 0
 * on freshly zeroed rings. */
static void driver_start(struct fixture *f)
{
	memset(host(f, Q_GPA(0), HEAP_GPA - Q_GPA(0)), 0, HEAP_GPA - Q_GPA(0));
	reg_write(f, REG_STATUS, 0);
	reg_write(f, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	uint64_t features = offered(f);
	reg_write(f, REG_DRIVER_FEATURES_SEL, 0);
	reg_write(f, REG_DRIVER_FEATURES, (uint32_t)features);
	reg_write(f, REG_DRIVER_FEATURES_SEL, 1);
	reg_write(f, REG_DRIVER_FEATURES, (uint32_t)(features >> 32));
	reg_write(f, REG_STATUS,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	assert_true(reg_read(f, REG_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 2; q++) {
		reg_write(f, REG_QUEUE_SEL, q);
		reg_write(f, REG_QUEUE_NUM, NUM);
		reg_write(f, REG_QUEUE_DESC_LOW, (uint32_t)Q_GPA(q));
		reg_write(f, REG_QUEUE_DRIVER_LOW, (uint32_t)(Q_GPA(q) + 0x1000));
		reg_write(f, REG_QUEUE_DEVICE_LOW, (uint32_t)(Q_GPA(q) + 0x2000));
		reg_write(f, REG_QUEUE_READY, 1);
	}
	reg_write(f, REG_STATUS,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		      VIRTIO_STATUS_DRIVER_OK);
	memset(f->q, 0, sizeof(f->q));
	f->heap = HEAP_GPA;
}

static uint16_t add_chain(struct fixture *f, unsigned q, const struct seg *s, unsigned n)
{
	struct drvq *d = &f->q[q];
	uint16_t head = d->next_desc;
	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % NUM);
		uint8_t *p = host(f, Q_GPA(q) + 16ull * idx, 16);
		uint64_t addr = htole64(s[i].gpa);
		uint32_t len = htole32(s[i].len);
		uint16_t flags = htole16((uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
						    (s[i].write ? VIRTQ_DESC_F_WRITE : 0)));
		uint16_t next = htole16((uint16_t)((idx + 1) % NUM));
		memcpy(p, &addr, 8);
		memcpy(p + 8, &len, 4);
		memcpy(p + 12, &flags, 2);
		memcpy(p + 14, &next, 2);
	}
	d->next_desc = (uint16_t)((head + n) % NUM);
	uint16_t h = htole16(head);
	memcpy(host(f, Q_GPA(q) + 0x1000 + 4 + 2ull * (d->avail_idx % NUM), 2), &h, 2);
	d->avail_idx++;
	__atomic_store_n((uint16_t *)host(f, Q_GPA(q) + 0x1000 + 2, 2), htole16(d->avail_idx),
			 __ATOMIC_RELEASE);
	return head;
}

static void notify(struct fixture *f, unsigned q)
{
	reg_write(f, REG_QUEUE_NOTIFY, q);
}

static uint64_t post_rx(struct fixture *f, uint32_t len, uint16_t *head)
{
	uint64_t gpa = alloc(f, len);
	struct seg s = {gpa, len, true};
	*head = add_chain(f, RXQ, &s, 1);
	return gpa;
}

static uint16_t used_idx(struct fixture *f, unsigned q)
{
	return le16toh(
	    __atomic_load_n((uint16_t *)host(f, Q_GPA(q) + 0x2000 + 2, 2), __ATOMIC_ACQUIRE));
}

static uint32_t take_used(struct fixture *f, unsigned q, uint16_t head)
{
	struct drvq *d = &f->q[q];
	assert_int_not_equal(used_idx(f, q), d->used_seen);
	uint8_t *e = host(f, Q_GPA(q) + 0x2000 + 4 + 8ull * (d->used_seen % NUM), 8);
	uint32_t id, len;
	memcpy(&id, e, 4);
	memcpy(&len, e + 4, 4);
	d->used_seen++;
	assert_int_equal(le32toh(id), head);
	return le32toh(len);
}

static void no_more_used(struct fixture *f, unsigned q)
{
	assert_int_equal(used_idx(f, q), f->q[q].used_seen);
}

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
	struct virtio_dev dev;
	assert_int_equal(virtio_console_init(&f->con, &f->chr.chr, &dev), 0);
	assert_int_equal(
	    virtio_mmio_init(&f->t, &dev, &f->mem, (struct irq_line){irq_record, f, 4}), 0);
	driver_start(f);
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
	assert_int_equal(reg_read(f, REG_DEVICE_ID), VIRTIO_ID_CONSOLE);
	assert_int_equal(offered(f) & 0xffffff, 1u << VIRTIO_CONSOLE_F_EMERG_WRITE);
	assert_true(offered(f) & (1ull << VIRTIO_F_VERSION_1));
	/* cols, rows (no F_SIZE), max_nr_ports (no F_MULTIPORT) and emerg_wr read as 0. */
	for (unsigned off = 0; off < VIRTIO_CONSOLE_CONFIG_SIZE; off += 4)
		assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + off, 4), 0);
	assert_int_equal(virtio_mmio_ops.read(&f->t, REG_CONFIG + 12, 4), 0);
	assert_ptr_equal(f->chr.chr.notify_opaque, &f->con);
	assert_non_null(f->chr.chr.notify);
}

static void test_tx(void **state)
{
	struct fixture *f = *state;
	uint64_t a = alloc(f, 6), b = alloc(f, 1), c = alloc(f, 5), w = alloc(f, 8);
	memcpy(host(f, a, 6), "hello,", 6);
	memcpy(host(f, b, 1), " ", 1);
	memcpy(host(f, c, 5), "world", 5);
	/* A writable buffer at the end is not the device's to fill on the transmitq. */
	struct seg s[4] = {{a, 6, false}, {b, 1, false}, {c, 5, false}, {w, 8, true}};
	uint16_t head = add_chain(f, TXQ, s, 4);
	int irqs = f->irqs;
	notify(f, TXQ);
	assert_int_equal(take_used(f, TXQ, head), 0);
	assert_int_equal(f->chr.nout, 12);
	assert_memory_equal(f->chr.out, "hello, world", 12);
	assert_int_equal(host(f, w, 1)[0], 0xa5);
	assert_true(f->irqs > irqs);
	assert_true(reg_read(f, REG_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);

	/* Several requests in one notification, in order. */
	uint16_t h[3];
	for (unsigned i = 0; i < 3; i++) {
		uint64_t g = alloc(f, 1);
		host(f, g, 1)[0] = (uint8_t)('a' + i);
		struct seg one = {g, 1, false};
		h[i] = add_chain(f, TXQ, &one, 1);
	}
	notify(f, TXQ);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(take_used(f, TXQ, h[i]), 0);
	assert_memory_equal(f->chr.out + 12, "abc", 3);
}

static void test_rx(void **state)
{
	struct fixture *f = *state;
	uint16_t h0, h1, h2, h3;
	uint64_t b0 = post_rx(f, 8, &h0), b1 = post_rx(f, 8, &h1);
	notify(f, RXQ); /* no input yet: nothing is returned */
	no_more_used(f, RXQ);

	int irqs = f->irqs;
	type_input(&f->chr, "ls\r", 3);
	assert_int_equal(take_used(f, RXQ, h0), 3);
	assert_memory_equal(host(f, b0, 3), "ls\r", 3);
	assert_int_equal(host(f, b0 + 3, 1)[0], 0xa5);
	assert_true(f->irqs > irqs);

	/* More input than room: the rest waits in the backend. */
	type_input(&f->chr, "0123456789abcdefghij", 20);
	assert_int_equal(take_used(f, RXQ, h1), 8);
	assert_memory_equal(host(f, b1, 8), "01234567", 8);
	no_more_used(f, RXQ);
	assert_int_equal(pending_input(&f->chr), 12);

	/* Posting buffers brings it in. */
	uint64_t b2 = post_rx(f, 8, &h2), b3 = post_rx(f, 8, &h3);
	notify(f, RXQ);
	assert_int_equal(take_used(f, RXQ, h2), 8);
	assert_int_equal(take_used(f, RXQ, h3), 4);
	assert_memory_equal(host(f, b2, 8), "89abcdef", 8);
	assert_memory_equal(host(f, b3, 4), "ghij", 4);
	assert_int_equal(pending_input(&f->chr), 0);
}

/* A receive buffer of several descriptors is filled in order. */
static void test_rx_chain(void **state)
{
	struct fixture *f = *state;
	uint64_t a = alloc(f, 4), b = alloc(f, 4), c = alloc(f, 4);
	struct seg s[3] = {{a, 4, true}, {b, 4, true}, {c, 4, true}};
	uint16_t head = add_chain(f, RXQ, s, 3);
	notify(f, RXQ);
	type_input(&f->chr, "abcdefghij", 10);
	assert_int_equal(take_used(f, RXQ, head), 10);
	assert_memory_equal(host(f, a, 4), "abcd", 4);
	assert_memory_equal(host(f, b, 4), "efgh", 4);
	assert_memory_equal(host(f, c, 2), "ij", 2);
	assert_int_equal(host(f, c + 2, 1)[0], 0xa5);

	/* A receive chain with nothing writable is handed back empty, and the next one used. */
	struct seg ro = {alloc(f, 4), 4, false};
	uint16_t h0 = add_chain(f, RXQ, &ro, 1), h1;
	uint64_t b1 = post_rx(f, 4, &h1);
	notify(f, RXQ);
	assert_int_equal(take_used(f, RXQ, h0), 0);
	type_input(&f->chr, "z", 1);
	assert_int_equal(take_used(f, RXQ, h1), 1);
	assert_int_equal(host(f, b1, 1)[0], 'z');
}

/* Input that comes before any buffer, even before the driver, waits for one. */
static void test_rx_early(void **state)
{
	struct fixture *f = *state;
	reg_write(f, REG_STATUS, 0);
	type_input(&f->chr, "early", 5);
	driver_start(f);
	assert_int_equal(pending_input(&f->chr), 5);
	uint16_t head;
	uint64_t b = post_rx(f, 16, &head);
	notify(f, RXQ);
	assert_int_equal(take_used(f, RXQ, head), 5);
	assert_memory_equal(host(f, b, 5), "early", 5);
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
	reg_write(f, REG_STATUS, 0);
	virtio_mmio_ops.write(&f->t, REG_CONFIG + 8, 4, 'D');
	assert_int_equal(f->chr.nout, 4);
	assert_memory_equal(f->chr.out, "ABCD", 4);
}

/* A reset forgets the receive buffer held for the old ring. */
static void test_reset(void **state)
{
	struct fixture *f = *state;
	uint16_t head;
	uint64_t old = post_rx(f, 8, &head);
	notify(f, RXQ); /* taken and held: no input */
	driver_start(f);
	f->heap = HEAP_GPA + 0x1000;
	uint64_t fresh = post_rx(f, 8, &head);
	notify(f, RXQ);
	type_input(&f->chr, "new", 3);
	assert_int_equal(take_used(f, RXQ, head), 3);
	assert_memory_equal(host(f, fresh, 3), "new", 3);
	assert_int_equal(host(f, old, 1)[0], 0xa5);
	no_more_used(f, RXQ);
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
		buf[i] = alloc(f, 64);
		struct seg s = {buf[i], 64, true};
		add_chain(f, RXQ, &s, 1);
	}
	notify(f, RXQ);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, race_typist, f), 0);
	size_t got = 0;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (got < RACE_BYTES) {
		if (used_idx(f, RXQ) == f->q[RXQ].used_seen) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec > 20)
				fail_msg("stuck after %zu bytes", got);
			notify(f, RXQ); /* as a driver would after its last refill */
			sched_yield();
			continue;
		}
		uint8_t *e =
		    host(f, Q_GPA(RXQ) + 0x2000 + 4 + 8ull * (f->q[RXQ].used_seen % NUM), 8);
		uint32_t id = le32toh(*(uint32_t *)e), len = le32toh(*(uint32_t *)(e + 4));
		f->q[RXQ].used_seen++;
		assert_true(id < NUM && len >= 1 && len <= 64);
		const uint8_t *p = host(f, buf[id], len);
		for (uint32_t i = 0; i < len; i++)
			if (p[i] != (uint8_t)((got + i) % 251))
				fail_msg("byte %zu is %u", got + i, p[i]);
		got += len;
		struct seg s = {buf[id], 64, true};
		add_chain(f, RXQ, &s, 1);
		notify(f, RXQ);
	}
	pthread_join(th, NULL);
	assert_int_equal(got, RACE_BYTES);
	assert_int_equal(pending_input(&f->chr), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
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
