/* Unit tests of the Goldfish RTC through the MMIO bus, with a recorded interrupt line: the time
 * follows the host's CLOCK_REALTIME, TIME_LOW latches TIME_HIGH, setting the time moves only
 * that device's clock, the alarm raises the line when due and not before (and at once when in
 * the past), CLEAR_ALARM, CLEAR_INTERRUPT and IRQ_ENABLED, destroy with an alarm armed, and
 * hostile accesses. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dev/goldfish_rtc.h"
#include "mem/bus.h"

#define RTC_BASE   0x101000ull
#define RTC_IRQ    11
#define NS_PER_SEC 1000000000ull
#define NS_PER_MS  1000000ull

enum {
	TIME_LOW = GOLDFISH_RTC_TIME_LOW,
	TIME_HIGH = GOLDFISH_RTC_TIME_HIGH,
	ALARM_LOW = GOLDFISH_RTC_ALARM_LOW,
	ALARM_HIGH = GOLDFISH_RTC_ALARM_HIGH,
	IRQ_ENABLED = GOLDFISH_RTC_IRQ_ENABLED,
	CLEAR_ALARM = GOLDFISH_RTC_CLEAR_ALARM,
	ALARM_STATUS = GOLDFISH_RTC_ALARM_STATUS,
	CLEAR_INTERRUPT = GOLDFISH_RTC_CLEAR_INTERRUPT,
};

/* The interrupt line as the device drives it. The device calls in from the vCPU thread (the
 * test) or from its alarm thread, so the record has its own lock. */
struct line {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool level;
	unsigned raises;    /* low-to-high transitions */
	uint64_t raised_at; /* host CLOCK_REALTIME at the last raise, ns */
	unsigned wrong_num; /* calls naming another line */
};

struct fixture {
	struct line line;
	struct goldfish_rtc rtc;
	struct bus bus;
	bool rtc_up;
};

static uint64_t host_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void line_set(void *opaque, unsigned num, bool level)
{
	struct line *l = opaque;
	uint64_t now = host_ns();
	pthread_mutex_lock(&l->lock);
	if (num != RTC_IRQ)
		l->wrong_num++;
	if (level && !l->level) {
		l->raises++;
		l->raised_at = now;
	}
	l->level = level;
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->lock);
}

static bool line_level(struct fixture *f)
{
	pthread_mutex_lock(&f->line.lock);
	bool v = f->line.level;
	pthread_mutex_unlock(&f->line.lock);
	return v;
}

static unsigned line_raises(struct fixture *f)
{
	pthread_mutex_lock(&f->line.lock);
	unsigned v = f->line.raises;
	pthread_mutex_unlock(&f->line.lock);
	return v;
}

/* Wait up to ms for the line to go high; returns its level then. */
static bool wait_raised(struct fixture *f, unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t deadline =
	    (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec + ms * NS_PER_MS;
	ts = (struct timespec){(time_t)(deadline / NS_PER_SEC), (long)(deadline % NS_PER_SEC)};
	pthread_mutex_lock(&f->line.lock);
	while (!f->line.level)
		if (pthread_cond_timedwait(&f->line.changed, &f->line.lock, &ts) == ETIMEDOUT)
			break;
	bool v = f->line.level;
	pthread_mutex_unlock(&f->line.lock);
	return v;
}

static uint32_t rd_at(struct fixture *f, uint64_t base, uint64_t reg)
{
	uint64_t v = 0xdeadbeef;
	assert_true(bus_read(&f->bus, base + reg, 4, &v));
	return (uint32_t)v;
}

static uint32_t rd(struct fixture *f, uint64_t reg)
{
	return rd_at(f, RTC_BASE, reg);
}

static void wr(struct fixture *f, uint64_t reg, uint32_t v)
{
	assert_true(bus_write(&f->bus, RTC_BASE + reg, 4, v));
}

/* The time as Linux reads it: TIME_LOW, then TIME_HIGH. */
static uint64_t read_time_at(struct fixture *f, uint64_t base)
{
	uint64_t low = rd_at(f, base, TIME_LOW);
	return (uint64_t)rd_at(f, base, TIME_HIGH) << 32 | low;
}

static uint64_t read_time(struct fixture *f)
{
	return read_time_at(f, RTC_BASE);
}

/* Set the time as Linux does: TIME_HIGH, then TIME_LOW. */
static void set_time(struct fixture *f, uint64_t ns)
{
	wr(f, TIME_HIGH, (uint32_t)(ns >> 32));
	wr(f, TIME_LOW, (uint32_t)ns);
}

/* Arm the alarm as Linux does: ALARM_HIGH, then ALARM_LOW. */
static void set_alarm(struct fixture *f, uint64_t ns)
{
	wr(f, ALARM_HIGH, (uint32_t)(ns >> 32));
	wr(f, ALARM_LOW, (uint32_t)ns);
}

static void line_init(struct line *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->changed, NULL);
}

static void line_fini(struct line *l)
{
	assert_int_equal(l->wrong_num, 0);
	pthread_cond_destroy(&l->changed);
	pthread_mutex_destroy(&l->lock);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	line_init(&f->line);
	assert_int_equal(goldfish_rtc_init(&f->rtc, (struct irq_line){line_set, &f->line, RTC_IRQ}),
			 0);
	f->rtc_up = true;
	assert_int_equal(
	    bus_add(&f->bus, RTC_BASE, GOLDFISH_RTC_SIZE, &goldfish_rtc_ops, &f->rtc, "rtc"), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->rtc_up)
		goldfish_rtc_destroy(&f->rtc);
	line_fini(&f->line);
	free(f);
	return 0;
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, ALARM_STATUS), 0);
	assert_int_equal(rd(f, IRQ_ENABLED), 0);
	assert_int_equal(rd(f, ALARM_LOW), 0);
	assert_int_equal(rd(f, ALARM_HIGH), 0);
	assert_int_equal(rd(f, TIME_HIGH), 0); /* nothing latched yet */
	assert_false(line_level(f));
}

static void test_time_is_host_realtime(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 3; i++) {
		uint64_t before = host_ns();
		uint64_t t = read_time(f);
		uint64_t after = host_ns();
		assert_true(t >= before);
		assert_true(t <= after);
		sleep_ms(5);
	}
}

static void test_time_high_is_latched(void **state)
{
	struct fixture *f = *state;
	uint64_t t = read_time(f);
	uint32_t high = (uint32_t)(t >> 32);
	/* Move the clock 5 << 32 ns (about 21 s) ahead: TIME_HIGH still holds what the last
	 * TIME_LOW read latched, until TIME_LOW is read again. */
	set_time(f, t + (5ull << 32));
	assert_int_equal(rd(f, TIME_HIGH), high);
	assert_int_equal(rd(f, TIME_HIGH), high);
	rd(f, TIME_LOW);
	uint32_t h2 = rd(f, TIME_HIGH);
	assert_true(h2 == high + 5 || h2 == high + 6); /* the low half may carry meanwhile */
}

static void test_set_time_moves_only_this_clock(void **state)
{
	struct fixture *f = *state;
	const uint64_t other_base = RTC_BASE + GOLDFISH_RTC_SIZE;
	struct goldfish_rtc other;
	struct line other_line;
	line_init(&other_line);
	assert_int_equal(
	    goldfish_rtc_init(&other, (struct irq_line){line_set, &other_line, RTC_IRQ}), 0);
	assert_int_equal(
	    bus_add(&f->bus, other_base, GOLDFISH_RTC_SIZE, &goldfish_rtc_ops, &other, "rtc1"), 0);

	const uint64_t y2000 = 946684800ull * NS_PER_SEC; /* 2000-01-01T00:00:00Z */
	uint64_t before = host_ns();
	set_time(f, y2000);
	uint64_t t = read_time(f);
	uint64_t elapsed = host_ns() - before;
	assert_true(t >= y2000);
	assert_true(t <= y2000 + elapsed);

	/* The clock keeps running from the new time. */
	sleep_ms(20);
	uint64_t t2 = read_time(f);
	assert_true(t2 >= t + 20 * NS_PER_MS);
	assert_true(t2 < y2000 + 10 * NS_PER_SEC);

	/* The other RTC and the host's own clock still read the host's time (which is long
	 * past 2000). */
	before = host_ns();
	uint64_t o = read_time_at(f, other_base);
	uint64_t after = host_ns();
	assert_true(before > y2000 + 365 * 86400 * NS_PER_SEC);
	assert_true(o >= before && o <= after);

	/* A TIME_LOW write with no TIME_HIGH write before it keeps the current high half. */
	t = read_time(f);
	wr(f, TIME_LOW, 0);
	t2 = read_time(f);
	assert_int_equal(t2 >> 32, t >> 32);
	assert_true((uint32_t)t2 < 100 * NS_PER_MS);

	/* A TIME_HIGH write alone changes nothing until TIME_LOW is written. */
	wr(f, TIME_HIGH, 0x12345678);
	t = read_time(f);
	assert_int_equal(t >> 32, t2 >> 32);
	wr(f, TIME_LOW, 0);
	assert_int_equal(read_time(f) >> 32, 0x12345678);

	goldfish_rtc_destroy(&other);
	line_fini(&other_line);
}

static void test_alarm_registers_read_back(void **state)
{
	struct fixture *f = *state;
	wr(f, ALARM_HIGH, 0x89abcdef); /* far future: does not fire */
	wr(f, ALARM_LOW, 0x01234567);
	assert_int_equal(rd(f, ALARM_HIGH), 0x89abcdef);
	assert_int_equal(rd(f, ALARM_LOW), 0x01234567);
	assert_int_equal(rd(f, ALARM_STATUS), 1);
	wr(f, IRQ_ENABLED, 0xffffffff);
	assert_int_equal(rd(f, IRQ_ENABLED), 1);
	wr(f, IRQ_ENABLED, 0xfffffffe);
	assert_int_equal(rd(f, IRQ_ENABLED), 0);
	assert_int_equal(line_raises(f), 0);
}

static void test_alarm_fires_when_due_not_before(void **state)
{
	struct fixture *f = *state;
	wr(f, IRQ_ENABLED, 1);
	uint64_t alarm = read_time(f) + 300 * NS_PER_MS;
	set_alarm(f, alarm);
	assert_int_equal(rd(f, ALARM_STATUS), 1);
	assert_false(line_level(f));

	assert_true(wait_raised(f, 10000));
	pthread_mutex_lock(&f->line.lock);
	uint64_t raised_at = f->line.raised_at;
	pthread_mutex_unlock(&f->line.lock);
	assert_true(raised_at >= alarm);                 /* not before */
	assert_true(raised_at < alarm + 5 * NS_PER_SEC); /* nor much after */
	assert_int_equal(line_raises(f), 1);
	assert_int_equal(rd(f, ALARM_STATUS), 0); /* fired: no longer armed */

	/* A level interrupt: it stays up until CLEAR_INTERRUPT. */
	sleep_ms(20);
	assert_true(line_level(f));
	wr(f, CLEAR_INTERRUPT, 1);
	assert_false(line_level(f));
	sleep_ms(20);
	assert_false(line_level(f));
	assert_int_equal(line_raises(f), 1);
}

static void test_alarm_in_past_fires_at_once(void **state)
{
	struct fixture *f = *state;
	wr(f, IRQ_ENABLED, 1);
	set_alarm(f, read_time(f) - NS_PER_SEC);
	assert_true(line_level(f)); /* during the ALARM_LOW write itself */
	assert_int_equal(rd(f, ALARM_STATUS), 0);
	wr(f, CLEAR_INTERRUPT, 1);
	assert_false(line_level(f));

	set_alarm(f, 0); /* the epoch */
	assert_true(line_level(f));
	assert_int_equal(line_raises(f), 2);
}

static void test_clear_alarm(void **state)
{
	struct fixture *f = *state;
	wr(f, IRQ_ENABLED, 1);
	set_alarm(f, read_time(f) + 100 * NS_PER_MS);
	assert_int_equal(rd(f, ALARM_STATUS), 1);
	wr(f, CLEAR_ALARM, 1);
	assert_int_equal(rd(f, ALARM_STATUS), 0);
	assert_false(wait_raised(f, 400));
	assert_int_equal(line_raises(f), 0);

	/* Armed again, it fires. */
	set_alarm(f, read_time(f) + 50 * NS_PER_MS);
	assert_true(wait_raised(f, 10000));
}

static void test_irq_enabled_gates_the_line(void **state)
{
	struct fixture *f = *state;
	set_alarm(f, read_time(f) - 1); /* fires, but the interrupt is disabled */
	assert_int_equal(rd(f, ALARM_STATUS), 0);
	assert_false(line_level(f));
	wr(f, IRQ_ENABLED, 1); /* the fired alarm is still pending */
	assert_true(line_level(f));
	wr(f, IRQ_ENABLED, 0);
	assert_false(line_level(f));
	wr(f, CLEAR_INTERRUPT, 1);
	wr(f, IRQ_ENABLED, 1); /* cleared meanwhile: nothing */
	assert_false(line_level(f));
	assert_int_equal(line_raises(f), 1);

	/* Disabled, an alarm that comes due raises nothing. */
	wr(f, IRQ_ENABLED, 0);
	set_alarm(f, read_time(f) + 50 * NS_PER_MS);
	assert_false(wait_raised(f, 300));
	assert_int_equal(rd(f, ALARM_STATUS), 0);
	assert_int_equal(line_raises(f), 1);
}

static void test_alarm_follows_the_set_time(void **state)
{
	struct fixture *f = *state;
	wr(f, IRQ_ENABLED, 1);
	/* An alarm an hour away fires as soon as the clock is set past it. */
	uint64_t now = read_time(f);
	set_alarm(f, now + 3600 * NS_PER_SEC);
	assert_false(line_level(f));
	set_time(f, now + 7200 * NS_PER_SEC);
	assert_true(line_level(f));
	wr(f, CLEAR_INTERRUPT, 1);

	/* An alarm 100 ms away waits another hour when the clock is set an hour back. */
	now = read_time(f);
	set_alarm(f, now + 100 * NS_PER_MS);
	set_time(f, now - 3600 * NS_PER_SEC);
	assert_false(wait_raised(f, 400));
	assert_int_equal(rd(f, ALARM_STATUS), 1);
	/* ...and fires when set forward again. */
	set_time(f, now + NS_PER_SEC);
	assert_true(line_level(f));
	assert_int_equal(line_raises(f), 2);
}

static void test_destroy_with_alarm_armed(void **state)
{
	struct fixture *f = *state;
	wr(f, IRQ_ENABLED, 1);
	set_alarm(f, read_time(f) + 3600 * NS_PER_SEC);
	uint64_t before = host_ns();
	goldfish_rtc_destroy(&f->rtc);
	f->rtc_up = false;
	assert_true(host_ns() - before < NS_PER_SEC); /* the alarm thread did not wait it out */
	assert_int_equal(line_raises(f), 0);

	/* Alarms about to fire while the device goes away. */
	for (int i = 0; i < 20; i++) {
		struct goldfish_rtc r;
		struct bus b = {0};
		assert_int_equal(
		    goldfish_rtc_init(&r, (struct irq_line){line_set, &f->line, RTC_IRQ}), 0);
		assert_int_equal(bus_add(&b, 0, GOLDFISH_RTC_SIZE, &goldfish_rtc_ops, &r, "rtc"),
				 0);
		uint64_t t = host_ns() + (uint64_t)(i % 4) * 250000;
		assert_true(bus_write(&b, IRQ_ENABLED, 4, 1));
		assert_true(bus_write(&b, ALARM_HIGH, 4, t >> 32));
		assert_true(bus_write(&b, ALARM_LOW, 4, (uint32_t)t));
		if (i & 1)
			sleep_ms(1);
		goldfish_rtc_destroy(&r);
	}
}

static void test_garbage_accesses(void **state)
{
	struct fixture *f = *state;
	uint64_t v;
	/* Sizes other than 4 are access faults on the bus and reach no register. */
	for (unsigned size = 1; size <= 8; size *= 2) {
		if (size == 4)
			continue;
		assert_false(bus_write(&f->bus, RTC_BASE + ALARM_LOW, size, 0));
		assert_false(bus_write(&f->bus, RTC_BASE + IRQ_ENABLED, size, 1));
		assert_false(bus_read(&f->bus, RTC_BASE + TIME_LOW, size, &v));
	}
	/* Called directly with sizes or offsets the bus would refuse: nothing happens. */
	goldfish_rtc_ops.write(&f->rtc, IRQ_ENABLED, 1, 1);
	goldfish_rtc_ops.write(&f->rtc, IRQ_ENABLED, 8, 1);
	goldfish_rtc_ops.write(&f->rtc, ALARM_LOW, 2, 0);
	goldfish_rtc_ops.write(&f->rtc, ALARM_LOW + 1, 4, 0);
	goldfish_rtc_ops.write(&f->rtc, TIME_LOW, 8, 0);
	assert_int_equal(goldfish_rtc_ops.read(&f->rtc, TIME_LOW, 8), 0);
	assert_int_equal(goldfish_rtc_ops.read(&f->rtc, TIME_LOW, 1), 0);
	assert_int_equal(goldfish_rtc_ops.read(&f->rtc, TIME_LOW + 2, 4), 0);
	assert_int_equal(goldfish_rtc_ops.read(&f->rtc, UINT64_MAX - 3, 4), 0);
	goldfish_rtc_ops.write(&f->rtc, UINT64_MAX - 3, 4, 1);
	/* Unknown registers read 0 and ignore writes; so do the write-only ones. ALARM_STATUS
	 * is read-only. */
	for (uint64_t off = 0x20; off < GOLDFISH_RTC_SIZE; off += 4) {
		wr(f, off, 0xffffffff);
		assert_int_equal(rd(f, off), 0);
	}
	assert_int_equal(rd(f, CLEAR_ALARM), 0);
	assert_int_equal(rd(f, CLEAR_INTERRUPT), 0);
	wr(f, ALARM_STATUS, 1);
	assert_int_equal(rd(f, ALARM_STATUS), 0);
	assert_int_equal(rd(f, IRQ_ENABLED), 0);
	assert_int_equal(rd(f, ALARM_LOW), 0);
	assert_false(line_level(f));
	assert_int_equal(line_raises(f), 0);
	/* And the clock is still the host's. */
	uint64_t before = host_ns();
	uint64_t t = read_time(f);
	assert_true(t >= before && t <= host_ns());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_time_is_host_realtime, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_time_high_is_latched, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_time_moves_only_this_clock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alarm_registers_read_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alarm_fires_when_due_not_before, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alarm_in_past_fires_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clear_alarm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_irq_enabled_gates_the_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alarm_follows_the_set_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_with_alarm_armed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_accesses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
