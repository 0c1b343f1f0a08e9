/* Unit tests of the MMIO bus (window table, lookup at the edges, access-size and alignment
 * rules that make a bad access an access fault) and of guest RAM (memfd mapping, bounds of
 * guest_mem_ptr). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mem/bus.h"
#include "mem/guest_mem.h"

/* A device that records its last access and answers reads with all ones (so that the bus's
 * zero-extension is visible). */
struct fake_dev {
	unsigned reads, writes;
	uint64_t offset, value;
	unsigned size;
};

static uint64_t fake_read(void *opaque, uint64_t offset, unsigned size)
{
	struct fake_dev *d = opaque;
	d->reads++;
	d->offset = offset;
	d->size = size;
	return UINT64_MAX;
}

static void fake_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct fake_dev *d = opaque;
	d->writes++;
	d->offset = offset;
	d->size = size;
	d->value = value;
}

static const struct mmio_ops ops_1_4 = {fake_read, fake_write, 1, 4};
static const struct mmio_ops ops_4_8 = {fake_read, fake_write, 4, 8};
static const struct mmio_ops ops_8_8 = {fake_read, fake_write, 8, 8};

static void test_add_rejects_overlap(void **state)
{
	(void)state;
	struct bus b = {0};
	struct fake_dev d = {0};
	assert_int_equal(bus_add(&b, 0x1000, 0x1000, &ops_1_4, &d, "a"), 0);
	/* Every way of touching [0x1000, 0x1fff]. */
	assert_int_equal(bus_add(&b, 0x1000, 0x1000, &ops_1_4, &d, "same"), -EEXIST);
	assert_int_equal(bus_add(&b, 0x1800, 0x1000, &ops_1_4, &d, "tail"), -EEXIST);
	assert_int_equal(bus_add(&b, 0x0800, 0x0801, &ops_1_4, &d, "head"), -EEXIST);
	assert_int_equal(bus_add(&b, 0x1400, 0x10, &ops_1_4, &d, "inside"), -EEXIST);
	assert_int_equal(bus_add(&b, 0x0, 0x10000, &ops_1_4, &d, "around"), -EEXIST);
	assert_int_equal(bus_add(&b, 0x1fff, 1, &ops_1_4, &d, "last byte"), -EEXIST);
	/* Adjacent windows on both sides are fine. */
	assert_int_equal(bus_add(&b, 0x0800, 0x0800, &ops_1_4, &d, "below"), 0);
	assert_int_equal(bus_add(&b, 0x2000, 0x1000, &ops_1_4, &d, "above"), 0);
	assert_int_equal(b.count, 3);
	for (unsigned i = 1; i < b.count; i++)
		assert_true(b.region[i - 1].gpa + b.region[i - 1].size <= b.region[i].gpa);
}

static void test_add_rejects_bad_windows(void **state)
{
	(void)state;
	struct bus b = {0};
	struct fake_dev d = {0};
	const struct mmio_ops no_sizes = {fake_read, fake_write, 0, 0};
	const struct mmio_ops inverted = {fake_read, fake_write, 8, 4};
	const struct mmio_ops odd = {fake_read, fake_write, 3, 4};
	assert_int_equal(bus_add(&b, 0x1000, 0, &ops_1_4, &d, "empty"), -EINVAL);
	assert_int_equal(bus_add(&b, UINT64_MAX - 0xff, 0x200, &ops_1_4, &d, "wraps"), -EINVAL);
	assert_int_equal(bus_add(&b, 0x1000, 0x10, NULL, &d, "no ops"), -EINVAL);
	assert_int_equal(bus_add(&b, 0x1000, 0x10, &no_sizes, &d, "sizes"), -EINVAL);
	assert_int_equal(bus_add(&b, 0x1000, 0x10, &inverted, &d, "sizes"), -EINVAL);
	assert_int_equal(bus_add(&b, 0x1000, 0x10, &odd, &d, "sizes"), -EINVAL);
	assert_int_equal(b.count, 0);
	/* The very top of the address space is a valid window. */
	assert_int_equal(bus_add(&b, UINT64_MAX - 0xfff, 0x1000, &ops_1_4, &d, "top"), 0);
	assert_non_null(bus_find(&b, UINT64_MAX));
}

static void test_add_full_table(void **state)
{
	(void)state;
	struct bus b = {0};
	struct fake_dev d = {0};
	/* Added in descending order: each goes to the front of the table. */
	for (unsigned i = 0; i < BUS_MAX_REGIONS; i++)
		assert_int_equal(bus_add(&b, 0x100000 - 0x1000 * i, 0x1000, &ops_1_4, &d, "w"), 0);
	assert_int_equal(bus_add(&b, 0x200000, 0x1000, &ops_1_4, &d, "one too many"), -ENOSPC);
	for (unsigned i = 1; i < b.count; i++)
		assert_true(b.region[i - 1].gpa < b.region[i].gpa);
	for (unsigned i = 0; i < BUS_MAX_REGIONS; i++) {
		uint64_t gpa = 0x100000 - 0x1000 * i;
		const struct bus_region *r = bus_find(&b, gpa + 0x800);
		assert_non_null(r);
		assert_int_equal(r->gpa, gpa);
	}
}

static void test_find_edges(void **state)
{
	(void)state;
	struct bus b = {0};
	struct fake_dev d1 = {0}, d2 = {0};
	assert_int_equal(bus_add(&b, 0x10000000, 0x100, &ops_1_4, &d2, "uart"), 0);
	assert_int_equal(bus_add(&b, 0x02000000, 0x10000, &ops_4_8, &d1, "aclint"), 0);

	assert_null(bus_find(&b, 0));
	assert_null(bus_find(&b, 0x01ffffff));
	const struct bus_region *r = bus_find(&b, 0x02000000);
	assert_non_null(r);
	assert_string_equal(r->name, "aclint");
	assert_ptr_equal(r->opaque, &d1);
	r = bus_find(&b, 0x0200ffff);
	assert_non_null(r);
	assert_string_equal(r->name, "aclint");
	assert_null(bus_find(&b, 0x02010000));
	assert_null(bus_find(&b, 0x0fffffff));
	r = bus_find(&b, 0x10000000);
	assert_non_null(r);
	assert_string_equal(r->name, "uart");
	assert_non_null(bus_find(&b, 0x100000ff));
	assert_null(bus_find(&b, 0x10000100));
	assert_null(bus_find(&b, UINT64_MAX));

	struct bus empty = {0};
	assert_null(bus_find(&empty, 0));
	assert_null(bus_find(&empty, UINT64_MAX));
}

static void test_access_sizes(void **state)
{
	(void)state;
	struct bus b = {0};
	struct fake_dev d = {0};
	uint64_t v;
	assert_int_equal(bus_add(&b, 0x1000, 0x100, &ops_4_8, &d, "dev"), 0);

	assert_false(bus_read(&b, 0x1000, 1, &v));
	assert_false(bus_read(&b, 0x1000, 2, &v));
	assert_false(bus_read(&b, 0x1000, 3, &v));
	assert_false(bus_read(&b, 0x1000, 16, &v));
	assert_false(bus_write(&b, 0x1000, 2, 0));
	assert_int_equal(d.reads + d.writes, 0);

	assert_true(bus_read(&b, 0x1004, 4, &v));
	assert_int_equal(d.offset, 4);
	assert_int_equal(d.size, 4);
	assert_true(bus_read(&b, 0x1008, 8, &v));
	assert_int_equal(d.offset, 8);
	assert_int_equal(d.size, 8);

	struct bus b8 = {0};
	assert_int_equal(bus_add(&b8, 0x1000, 0x100, &ops_8_8, &d, "dev8"), 0);
	assert_false(bus_read(&b8, 0x1000, 4, &v));
	assert_true(bus_read(&b8, 0x1000, 8, &v));
}

static void test_alignment(void **state)
{
	(void)state;
	struct bus b = {0};
	struct fake_dev d = {0};
	uint64_t v;
	assert_int_equal(bus_add(&b, 0x1000, 0x100, &ops_1_4, &d, "dev"), 0);
	assert_true(bus_read(&b, 0x1003, 1, &v));
	assert_false(bus_read(&b, 0x1001, 2, &v));
	assert_false(bus_read(&b, 0x1002, 4, &v));
	assert_false(bus_write(&b, 0x1006, 4, 0));
	assert_true(bus_read(&b, 0x1002, 2, &v));
	assert_true(bus_write(&b, 0x1004, 4, 0));
	assert_int_equal(d.reads, 2);
	assert_int_equal(d.writes, 1);
}

static void test_access_inside_window(void **state)
{
	(void)state;
	struct bus b = {0};
	struct fake_dev d = {0};
	uint64_t v = 0x1234;
	/* A window whose size is not a multiple of the access size. */
	assert_int_equal(bus_add(&b, 0x2000, 6, &ops_1_4, &d, "short"), 0);
	assert_true(bus_read(&b, 0x2000, 4, &v));
	assert_false(bus_read(&b, 0x2004, 4, &v));
	assert_true(bus_read(&b, 0x2004, 2, &v));
	assert_false(bus_read(&b, 0x2006, 1, &v));
	assert_false(bus_write(&b, 0x2004, 4, 1));
	assert_false(bus_read(&b, 0x0, 1, &v));
	assert_int_equal(d.reads, 2);
	assert_int_equal(d.writes, 0);
}

static void test_values_fit_size(void **state)
{
	(void)state;
	struct bus b = {0};
	struct fake_dev d = {0};
	uint64_t v = 0;
	assert_int_equal(bus_add(&b, 0x1000, 0x100, &ops_1_4, &d, "dev"), 0);
	assert_int_equal(bus_add(&b, 0x2000, 0x100, &ops_4_8, &d, "dev8"), 0);
	assert_true(bus_read(&b, 0x1000, 1, &v));
	assert_int_equal(v, 0xff);
	assert_true(bus_read(&b, 0x1000, 2, &v));
	assert_int_equal(v, 0xffff);
	assert_true(bus_read(&b, 0x1000, 4, &v));
	assert_int_equal(v, 0xffffffffu);
	assert_true(bus_read(&b, 0x2000, 8, &v));
	assert_true(v == UINT64_MAX);
	assert_true(bus_write(&b, 0x1000, 1, 0x1122334455667788ull));
	assert_int_equal(d.value, 0x88);
	assert_true(bus_write(&b, 0x1000, 4, 0x1122334455667788ull));
	assert_int_equal(d.value, 0x55667788);
	assert_true(bus_write(&b, 0x2000, 8, 0x1122334455667788ull));
	assert_true(d.value == 0x1122334455667788ull);
}

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (2ull << 20)

static void test_guest_mem_rejects_bad_sizes(void **state)
{
	(void)state;
	struct guest_mem m;
	assert_int_equal(guest_mem_init(&m, RAM_BASE, 0), -EINVAL);
	assert_null(m.hva);
	assert_int_equal(guest_mem_init(&m, RAM_BASE, 4095), -EINVAL);
	assert_int_equal(guest_mem_init(&m, RAM_BASE, 4096 + 1), -EINVAL);
	assert_int_equal(guest_mem_init(&m, RAM_BASE + 1, 4096), -EINVAL);
	assert_int_equal(guest_mem_init(&m, UINT64_MAX - 0xfff, 0x2000), -EINVAL);
	assert_int_equal(guest_mem_init(&m, 0, 1ull << 63), -EINVAL);
	guest_mem_destroy(&m);
}

static void test_guest_mem_maps_zeroed_shared_ram(void **state)
{
	(void)state;
	struct guest_mem m;
	assert_int_equal(guest_mem_init(&m, RAM_BASE, RAM_SIZE), 0);
	assert_int_equal(m.base, RAM_BASE);
	assert_int_equal(m.size, RAM_SIZE);
	assert_non_null(m.hva);
	assert_true(m.fd >= 0);
	for (uint64_t i = 0; i < RAM_SIZE; i += 4096)
		assert_int_equal(m.hva[i], 0);
	/* The memfd sees what the mapping holds. */
	memcpy(m.hva + 0x1234, "rvisor", 6);
	char buf[6];
	assert_int_equal(pread(m.fd, buf, sizeof(buf), 0x1234), 6);
	assert_memory_equal(buf, "rvisor", 6);
	guest_mem_destroy(&m);
	assert_null(m.hva);
	guest_mem_destroy(&m); /* twice is harmless */
}

static void test_guest_mem_destroy_zeroed(void **state)
{
	(void)state;
	struct guest_mem m;
	int p[2];
	/* Make sure fd 0 is open (a pipe), so that closing it would show. */
	assert_int_equal(pipe(p), 0);
	int saved = dup(0);
	assert_int_equal(dup2(p[0], 0), 0);
	memset(&m, 0, sizeof(m));
	guest_mem_destroy(&m);
	assert_int_not_equal(fcntl(0, F_GETFD), -1);
	if (saved >= 0) {
		dup2(saved, 0);
		close(saved);
	}
	close(p[0]);
	close(p[1]);
}

static void test_guest_mem_ptr_bounds(void **state)
{
	(void)state;
	struct guest_mem m;
	assert_int_equal(guest_mem_init(&m, RAM_BASE, RAM_SIZE), 0);
	uint64_t end = RAM_BASE + RAM_SIZE;

	assert_ptr_equal(guest_mem_ptr(&m, RAM_BASE, 1), m.hva);
	assert_ptr_equal(guest_mem_ptr(&m, RAM_BASE, RAM_SIZE), m.hva);
	assert_null(guest_mem_ptr(&m, RAM_BASE, RAM_SIZE + 1));
	assert_ptr_equal(guest_mem_ptr(&m, end - 8, 8), m.hva + RAM_SIZE - 8);
	assert_null(guest_mem_ptr(&m, end - 8, 9));
	assert_ptr_equal(guest_mem_ptr(&m, end - 1, 1), m.hva + RAM_SIZE - 1);
	assert_null(guest_mem_ptr(&m, end, 1));
	assert_null(guest_mem_ptr(&m, end, 0));
	assert_null(guest_mem_ptr(&m, RAM_BASE - 1, 1));
	assert_null(guest_mem_ptr(&m, RAM_BASE - 1, 2));
	assert_null(guest_mem_ptr(&m, 0, 1));
	/* gpa + len wraps around 2^64. */
	assert_null(guest_mem_ptr(&m, RAM_BASE + 8, UINT64_MAX - 4));
	assert_null(guest_mem_ptr(&m, RAM_BASE, UINT64_MAX));
	assert_null(guest_mem_ptr(&m, UINT64_MAX, 2));

	assert_true(guest_mem_contains(&m, RAM_BASE));
	assert_true(guest_mem_contains(&m, end - 1));
	assert_false(guest_mem_contains(&m, end));
	assert_false(guest_mem_contains(&m, RAM_BASE - 1));
	guest_mem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_rejects_overlap),
	    cmocka_unit_test(test_add_rejects_bad_windows),
	    cmocka_unit_test(test_add_full_table),
	    cmocka_unit_test(test_find_edges),
	    cmocka_unit_test(test_access_sizes),
	    cmocka_unit_test(test_alignment),
	    cmocka_unit_test(test_access_inside_window),
	    cmocka_unit_test(test_values_fit_size),
	    cmocka_unit_test(test_guest_mem_rejects_bad_sizes),
	    cmocka_unit_test(test_guest_mem_maps_zeroed_shared_ram),
	    cmocka_unit_test(test_guest_mem_destroy_zeroed),
	    cmocka_unit_test(test_guest_mem_ptr_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
