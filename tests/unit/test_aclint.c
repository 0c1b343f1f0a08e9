/* Unit tests of the ACLINT MSWI and MTIMER (CLINT layout): msip bits and their callbacks,
 * mtimecmp as one 64-bit register and as two 32-bit halves, mtime from a fake clock, and
 * harts beyond the configured count; and of the SSWI device's SETSSIP words. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dev/aclint.h"
#include "mem/bus.h"

#define ACLINT_BASE 0x2000000ull
#define MSIP(h)     (ACLINT_BASE + 4ull * (h))
#define MTIMECMP(h) (ACLINT_BASE + 0x4000ull + 8ull * (h))
#define MTIME       (ACLINT_BASE + 0xbff8ull)
#define SSWI_BASE   0x2f00000ull
#define SETSSIP(h)  (SSWI_BASE + 4ull * (h))
#define NHARTS      4

struct fixture {
	struct aclint a;
	struct bus bus;
	uint64_t now;
	unsigned msip_calls, mtimecmp_calls, ssip_calls;
	unsigned last_hart;
	bool last_msip;
	uint64_t last_mtimecmp;
};

static uint64_t fake_now(void *opaque)
{
	struct fixture *f = opaque;
	return f->now;
}

static void fake_set_msip(void *opaque, unsigned hart, bool level)
{
	struct fixture *f = opaque;
	f->msip_calls++;
	f->last_hart = hart;
	f->last_msip = level;
}

static void fake_set_mtimecmp(void *opaque, unsigned hart, uint64_t value)
{
	struct fixture *f = opaque;
	f->mtimecmp_calls++;
	f->last_hart = hart;
	f->last_mtimecmp = value;
}

static void fake_set_ssip(void *opaque, unsigned hart)
{
	struct fixture *f = opaque;
	f->ssip_calls++;
	f->last_hart = hart;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct aclint_cb cb = {f, fake_now, fake_set_msip, fake_set_mtimecmp, fake_set_ssip};
	assert_int_equal(aclint_init(&f->a, NHARTS, &cb), 0);
	assert_int_equal(bus_add(&f->bus, ACLINT_BASE, ACLINT_SIZE, &aclint_ops, &f->a, "aclint"),
			 0);
	assert_int_equal(
	    bus_add(&f->bus, SSWI_BASE, ACLINT_SSWI_SIZE, &aclint_sswi_ops, &f->a, "aclint-sswi"),
	    0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	aclint_destroy(&f->a);
	free(f);
	return 0;
}

static uint64_t rd(struct fixture *f, uint64_t gpa, unsigned size)
{
	uint64_t v = 0xdeadbeef;
	assert_true(bus_read(&f->bus, gpa, size, &v));
	return v;
}

static void wr(struct fixture *f, uint64_t gpa, unsigned size, uint64_t v)
{
	assert_true(bus_write(&f->bus, gpa, size, v));
}

static void test_init_checks_harts(void **state)
{
	(void)state;
	struct aclint a;
	struct aclint_cb cb = {NULL, NULL, NULL, NULL, NULL};
	assert_int_equal(aclint_init(&a, 0, &cb), -EINVAL);
	assert_int_equal(aclint_init(&a, ACLINT_MAX_HARTS + 1, &cb), -EINVAL);
	assert_int_equal(aclint_init(&a, ACLINT_MAX_HARTS, &cb), 0);
	/* With no callbacks at all, accesses still work. */
	aclint_ops.write(&a, 0, 4, 1);
	assert_int_equal(aclint_ops.read(&a, 0, 4), 1);
	assert_int_equal(aclint_ops.read(&a, 0xbff8, 8), 0);
	aclint_destroy(&a);
}

static void test_reset_values(void **state)
{
	struct fixture *f = *state;
	for (unsigned h = 0; h < NHARTS; h++) {
		assert_int_equal(rd(f, MSIP(h), 4), 0);
		assert_true(rd(f, MTIMECMP(h), 8) == UINT64_MAX);
	}
	assert_int_equal(f->msip_calls + f->mtimecmp_calls, 0);
}

static void test_msip(void **state)
{
	struct fixture *f = *state;
	wr(f, MSIP(2), 4, 1);
	assert_int_equal(f->msip_calls, 1);
	assert_int_equal(f->last_hart, 2);
	assert_true(f->last_msip);
	assert_int_equal(rd(f, MSIP(2), 4), 1);
	assert_int_equal(rd(f, MSIP(1), 4), 0);
	/* Only bit 0 exists; writing the same level again changes nothing. */
	wr(f, MSIP(2), 4, 0xffffffff);
	assert_int_equal(rd(f, MSIP(2), 4), 1);
	assert_int_equal(f->msip_calls, 1);
	wr(f, MSIP(2), 4, 0xfffffffe);
	assert_int_equal(rd(f, MSIP(2), 4), 0);
	assert_int_equal(f->msip_calls, 2);
	assert_false(f->last_msip);
}

static void test_msip_8_byte(void **state)
{
	struct fixture *f = *state;
	/* One doubleword covers the msip words of harts 0 and 1. */
	wr(f, MSIP(0), 8, 0x0000000100000000ull);
	assert_int_equal(rd(f, MSIP(0), 4), 0);
	assert_int_equal(rd(f, MSIP(1), 4), 1);
	assert_int_equal(f->msip_calls, 1);
	assert_int_equal(f->last_hart, 1);
	assert_true(rd(f, MSIP(0), 8) == 0x0000000100000000ull);
}

static void test_mtimecmp_64(void **state)
{
	struct fixture *f = *state;
	wr(f, MTIMECMP(1), 8, 0x123456789abcdef0ull);
	assert_int_equal(f->mtimecmp_calls, 1);
	assert_int_equal(f->last_hart, 1);
	assert_true(f->last_mtimecmp == 0x123456789abcdef0ull);
	assert_true(rd(f, MTIMECMP(1), 8) == 0x123456789abcdef0ull);
	assert_int_equal(rd(f, MTIMECMP(1), 4), 0x9abcdef0);
	assert_int_equal(rd(f, MTIMECMP(1) + 4, 4), 0x12345678);
	assert_true(rd(f, MTIMECMP(0), 8) == UINT64_MAX);
	/* The same value again is no change. */
	wr(f, MTIMECMP(1), 8, 0x123456789abcdef0ull);
	assert_int_equal(f->mtimecmp_calls, 1);
}

static void test_mtimecmp_32_halves(void **state)
{
	struct fixture *f = *state;
	/* The RV32 sequence: high half to all ones first, then low, then high. */
	wr(f, MTIMECMP(3) + 4, 4, 0xffffffff);
	assert_int_equal(f->mtimecmp_calls, 0);
	wr(f, MTIMECMP(3), 4, 0x00001000);
	assert_int_equal(f->mtimecmp_calls, 1);
	assert_true(f->last_mtimecmp == 0xffffffff00001000ull);
	wr(f, MTIMECMP(3) + 4, 4, 0x2);
	assert_int_equal(f->mtimecmp_calls, 2);
	assert_int_equal(f->last_hart, 3);
	assert_true(f->last_mtimecmp == 0x0000000200001000ull);
	assert_true(rd(f, MTIMECMP(3), 8) == 0x0000000200001000ull);
}

static void test_mtime(void **state)
{
	struct fixture *f = *state;
	f->now = 0x0000000a12345678ull;
	assert_true(rd(f, MTIME, 8) == 0x0000000a12345678ull);
	assert_int_equal(rd(f, MTIME, 4), 0x12345678);
	assert_int_equal(rd(f, MTIME + 4, 4), 0xa);
	f->now += 10;
	assert_true(rd(f, MTIME, 8) == 0x0000000a12345682ull);
	/* mtime is the host clock: a write neither changes it nor reaches a hart. */
	wr(f, MTIME, 8, 0);
	wr(f, MTIME + 4, 4, 0);
	assert_true(rd(f, MTIME, 8) == 0x0000000a12345682ull);
	assert_int_equal(f->msip_calls + f->mtimecmp_calls, 0);
}

static void test_harts_beyond_count(void **state)
{
	struct fixture *f = *state;
	wr(f, MSIP(NHARTS), 4, 1);
	wr(f, MSIP(4095), 4, 1);
	wr(f, MTIMECMP(NHARTS), 8, 5);
	wr(f, MTIMECMP(4094), 4, 5);
	assert_int_equal(f->msip_calls + f->mtimecmp_calls, 0);
	assert_int_equal(rd(f, MSIP(NHARTS), 4), 0);
	assert_int_equal(rd(f, MSIP(4095), 4), 0);
	assert_int_equal(rd(f, MTIMECMP(NHARTS), 8), 0);
	assert_int_equal(rd(f, MTIMECMP(4094) + 4, 4), 0);
	/* Past mtime: nothing. */
	wr(f, ACLINT_BASE + 0xc000, 8, 1);
	assert_int_equal(rd(f, ACLINT_BASE + 0xc000, 8), 0);
	assert_int_equal(rd(f, ACLINT_BASE + ACLINT_SIZE - 4, 4), 0);
}

static void test_bad_sizes(void **state)
{
	struct fixture *f = *state;
	uint64_t v;
	assert_false(bus_read(&f->bus, MSIP(0), 1, &v));
	assert_false(bus_read(&f->bus, MSIP(0), 2, &v));
	assert_false(bus_write(&f->bus, MSIP(0), 1, 1));
	assert_false(bus_write(&f->bus, MTIMECMP(0) + 4, 8, 1));
	/* Called directly with sizes the bus refuses: ignored. */
	aclint_ops.write(&f->a, 0, 1, 1);
	aclint_ops.write(&f->a, 0x4000, 2, 1);
	aclint_ops.write(&f->a, 0x4004, 8, 1);
	assert_int_equal(aclint_ops.read(&f->a, 0xbff8, 2), 0);
	assert_int_equal(f->msip_calls + f->mtimecmp_calls, 0);
}

static void test_save_restore(void **state)
{
	struct fixture *f = *state;
	struct aclint_regs r;
	wr(f, MSIP(1), 4, 1);
	wr(f, MTIMECMP(2), 8, 1000);
	aclint_save(&f->a, &r);
	assert_int_equal(r.msip[1], 1);
	assert_int_equal(r.mtimecmp[2], 1000);

	wr(f, MSIP(1), 4, 0);
	wr(f, MTIMECMP(2), 8, 7);
	f->msip_calls = f->mtimecmp_calls = 0;
	assert_int_equal(aclint_restore(&f->a, &r), 0);
	/* Every hart's state is delivered again. */
	assert_int_equal(f->msip_calls, NHARTS);
	assert_int_equal(f->mtimecmp_calls, NHARTS);
	assert_int_equal(rd(f, MSIP(1), 4), 1);
	assert_int_equal(rd(f, MTIMECMP(2), 8), 1000);

	r.msip[0] = 2;
	assert_int_equal(aclint_restore(&f->a, &r), -EINVAL);
	r.msip[0] = 0;
	r.msip[NHARTS] = 1;
	assert_int_equal(aclint_restore(&f->a, &r), -EINVAL);
	assert_int_equal(rd(f, MSIP(0), 4), 0);
}

/* SETSSIP (ACLINT spec 4.2): a write with bit 0 set raises the hart's SSIP, anything else
 * does nothing; reads are 0; only naturally aligned 4-byte accesses exist. */
static void test_sswi(void **state)
{
	struct fixture *f = *state;
	uint64_t v;
	bus_write(&f->bus, SETSSIP(2), 4, 1);
	assert_int_equal(f->ssip_calls, 1);
	assert_int_equal(f->last_hart, 2);
	assert_int_equal(rd(f, SETSSIP(2), 4), 0);
	bus_write(&f->bus, SETSSIP(3), 4, 0xffffffff);
	assert_int_equal(f->ssip_calls, 2);
	assert_int_equal(f->last_hart, 3);
	/* 0, bits other than bit 0, harts past the count: no effect. */
	bus_write(&f->bus, SETSSIP(1), 4, 0);
	bus_write(&f->bus, SETSSIP(1), 4, 0xfffffffe);
	bus_write(&f->bus, SETSSIP(NHARTS), 4, 1);
	bus_write(&f->bus, SETSSIP(4095), 4, 1);
	assert_int_equal(f->ssip_calls, 2);
	/* Other widths are refused (an access fault for the hart). */
	assert_false(bus_write(&f->bus, SETSSIP(0), 8, 1));
	assert_false(bus_write(&f->bus, SETSSIP(0), 1, 1));
	assert_false(bus_read(&f->bus, SETSSIP(0), 2, &v));
	assert_int_equal(f->ssip_calls, 2);
	/* The MSWI is a different device: msip stays as it was. */
	assert_int_equal(f->msip_calls, 0);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_checks_harts),
	    T(test_reset_values),
	    T(test_msip),
	    T(test_msip_8_byte),
	    T(test_mtimecmp_64),
	    T(test_mtimecmp_32_halves),
	    T(test_mtime),
	    T(test_harts_beyond_count),
	    T(test_bad_sizes),
	    T(test_save_restore),
	    T(test_sswi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
