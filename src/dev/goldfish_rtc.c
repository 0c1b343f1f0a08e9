/* Goldfish real-time clock (as Linux's rtc-goldfish driver drives it: the time is read
 * TIME_LOW then TIME_HIGH, set TIME_HIGH then TIME_LOW, the alarm set ALARM_HIGH then
 * ALARM_LOW, and ALARM_STATUS tells whether an alarm is still armed). The alarm thread sleeps
 * on a condition variable with a CLOCK_REALTIME deadline, so the alarm follows the host clock
 * as the RTC time does, including when the host's time is stepped. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "dev/goldfish_rtc.h"
#include "host/seccomp.h"
#include "state/stream.h"

#define NS_PER_SEC        1000000000ull
#define RTC_STATE_VERSION 1

static uint64_t host_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* The host time the device runs from: CLOCK_REALTIME, or frozen for a reproducible run. */
static uint64_t now_ns(const struct goldfish_rtc *r)
{
	return r->frozen_ns ? r->frozen_ns : host_now_ns();
}

/* Drive the line from the state. Called with the lock held. */
static void update_irq(struct goldfish_rtc *r)
{
	irq_set(&r->irq, r->regs.irq_pending && r->regs.irq_enabled);
}

static void fire(struct goldfish_rtc *r)
{
	r->regs.alarm_armed = false;
	r->regs.irq_pending = true;
	update_irq(r);
}

/* After the alarm or the time changed: fire an alarm that is due now, or let the alarm thread
 * compute its new deadline. Called with the lock held. */
static void alarm_changed(struct goldfish_rtc *r)
{
	if (!r->regs.alarm_armed)
		return;
	if (r->regs.alarm_ns <= now_ns(r) + r->regs.offset_ns)
		fire(r);
	else
		pthread_cond_signal(&r->wake);
}

static void *alarm_thread(void *arg)
{
	struct goldfish_rtc *r = arg;
	seccomp_enter(SECCOMP_DEVICE);
	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		if (!r->regs.alarm_armed) {
			pthread_cond_wait(&r->wake, &r->lock);
			continue;
		}
		uint64_t host = now_ns(r);
		uint64_t now = host + r->regs.offset_ns;
		if (r->regs.alarm_ns <= now) {
			fire(r);
			continue;
		}
		/* A frozen clock never reaches the alarm by itself: only a register write or a
		 * restore moves it, and those fire a due alarm themselves (alarm_changed). A
		 * deadline computed from the frozen time would lie in the real past, and the
		 * timed wait would return at once, over and over. */
		if (r->frozen_ns) {
			pthread_cond_wait(&r->wake, &r->lock);
			continue;
		}
		/* The host time at which the RTC reaches the alarm; a deadline past what a
		 * timespec holds is as good as never (the loop re-checks on every wake-up). */
		uint64_t delta = r->regs.alarm_ns - now;
		uint64_t deadline = host > UINT64_MAX - delta ? UINT64_MAX : host + delta;
		struct timespec ts = {.tv_sec = (time_t)(deadline / NS_PER_SEC),
				      .tv_nsec = (long)(deadline % NS_PER_SEC)};
		pthread_cond_timedwait(&r->wake, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int goldfish_rtc_init(struct goldfish_rtc *r, struct irq_line irq)
{
	sigset_t all, old;
	int rc;

	memset(r, 0, sizeof(*r));
	r->irq = irq;
	rc = pthread_mutex_init(&r->lock, NULL);
	if (rc)
		return -rc;
	rc = pthread_cond_init(&r->wake, NULL); /* CLOCK_REALTIME, the default */
	if (rc)
		goto fail_lock;
	/* The alarm thread takes no signals: the VMM waits for them on its own thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&r->thread, NULL, alarm_thread, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		goto fail_cond;
	return 0;

fail_cond:
	pthread_cond_destroy(&r->wake);
fail_lock:
	pthread_mutex_destroy(&r->lock);
	return -rc;
}

void goldfish_rtc_destroy(struct goldfish_rtc *r)
{
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
}

static uint64_t rtc_read(void *opaque, uint64_t offset, unsigned size)
{
	struct goldfish_rtc *r = opaque;
	struct goldfish_rtc_regs *s = &r->regs;
	uint64_t v = 0;

	if (size != 4)
		return 0;
	pthread_mutex_lock(&r->lock);
	switch (offset) {
	case GOLDFISH_RTC_TIME_LOW: {
		uint64_t now = now_ns(r) + s->offset_ns;
		s->time_high = (uint32_t)(now >> 32);
		v = (uint32_t)now;
		break;
	}
	case GOLDFISH_RTC_TIME_HIGH: v = s->time_high; break;
	case GOLDFISH_RTC_ALARM_LOW: v = (uint32_t)s->alarm_ns; break;
	case GOLDFISH_RTC_ALARM_HIGH: v = s->alarm_ns >> 32; break;
	case GOLDFISH_RTC_IRQ_ENABLED: v = s->irq_enabled; break;
	case GOLDFISH_RTC_ALARM_STATUS: v = s->alarm_armed; break;
	default: break; /* write-only and unknown registers read 0 */
	}
	pthread_mutex_unlock(&r->lock);
	return v;
}

static void rtc_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct goldfish_rtc *r = opaque;
	struct goldfish_rtc_regs *s = &r->regs;
	uint32_t v = (uint32_t)value;

	if (size != 4)
		return;
	pthread_mutex_lock(&r->lock);
	switch (offset) {
	case GOLDFISH_RTC_TIME_LOW: {
		uint64_t host = now_ns(r);
		uint64_t high = s->set_high_valid ? s->set_high : (host + s->offset_ns) >> 32;
		s->offset_ns = (high << 32 | v) - host;
		s->set_high_valid = false;
		alarm_changed(r);
		break;
	}
	case GOLDFISH_RTC_TIME_HIGH:
		s->set_high = v;
		s->set_high_valid = true;
		break;
	case GOLDFISH_RTC_ALARM_LOW:
		s->alarm_ns = (s->alarm_ns & ~0xffffffffull) | v;
		s->alarm_armed = true;
		alarm_changed(r);
		break;
	case GOLDFISH_RTC_ALARM_HIGH:
		s->alarm_ns = (s->alarm_ns & 0xffffffffull) | (uint64_t)v << 32;
		break;
	case GOLDFISH_RTC_IRQ_ENABLED:
		s->irq_enabled = v & 1;
		update_irq(r);
		break;
	case GOLDFISH_RTC_CLEAR_ALARM:
		s->alarm_armed = false; /* the thread notices when it next wakes */
		break;
	case GOLDFISH_RTC_CLEAR_INTERRUPT:
		s->irq_pending = false;
		update_irq(r);
		break;
	default: break; /* read-only and unknown registers */
	}
	pthread_mutex_unlock(&r->lock);
}

const struct mmio_ops goldfish_rtc_ops = {
    .read = rtc_read,
    .write = rtc_write,
    .min_size = 4,
    .max_size = 4,
};

void goldfish_rtc_save(struct goldfish_rtc *r, struct goldfish_rtc_regs *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->regs;
	pthread_mutex_unlock(&r->lock);
}

int goldfish_rtc_restore(struct goldfish_rtc *r, const struct goldfish_rtc_regs *in)
{
	pthread_mutex_lock(&r->lock);
	r->regs = *in;
	update_irq(r);
	/* Fires a due alarm now, or wakes the alarm thread to wait for the new deadline. */
	alarm_changed(r);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void goldfish_rtc_state_save(struct goldfish_rtc *r, struct state_out *o)
{
	struct goldfish_rtc_regs s;
	goldfish_rtc_save(r, &s);
	state_begin(o, "rtc", RTC_STATE_VERSION);
	state_put_u64(o, s.offset_ns);
	state_put_u64(o, s.alarm_ns);
	state_put_u32(o, s.time_high);
	state_put_u32(o, s.set_high);
	state_put_bool(o, s.set_high_valid);
	state_put_bool(o, s.alarm_armed);
	state_put_bool(o, s.irq_pending);
	state_put_bool(o, s.irq_enabled);
	state_end(o);
}

static bool rtc_get_flag(struct state_in *in, const char *name)
{
	uint8_t v = state_get_u8(in);
	state_check(in, v <= 1, "%s is %u, not 0 or 1", name, v);
	return v == 1;
}

int goldfish_rtc_state_load(struct goldfish_rtc *r, struct state_in *in)
{
	uint32_t version = state_enter(in, "rtc");
	if (!state_check(in, version == RTC_STATE_VERSION, "layout version %u, this build reads %u",
			 version, RTC_STATE_VERSION))
		return -EINVAL;
	struct goldfish_rtc_regs s;
	memset(&s, 0, sizeof(s));
	s.offset_ns = state_get_u64(in);
	s.alarm_ns = state_get_u64(in);
	s.time_high = state_get_u32(in);
	s.set_high = state_get_u32(in);
	s.set_high_valid = rtc_get_flag(in, "set_high_valid");
	s.alarm_armed = rtc_get_flag(in, "alarm_armed");
	s.irq_pending = rtc_get_flag(in, "irq_pending");
	s.irq_enabled = rtc_get_flag(in, "irq_enabled");
	if (in->failed || !state_leave(in))
		return -EINVAL;
	return goldfish_rtc_restore(r, &s);
}
