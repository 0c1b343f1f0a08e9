/* Goldfish real-time clock (Android Goldfish virtual hardware; the "google,goldfish-rtc" device
 * tree binding that Linux's rtc-goldfish driver and QEMU's virt board use): a 64-bit count of
 * nanoseconds since the Unix epoch, and one alarm that raises a level interrupt. The clock is
 * the host's CLOCK_REALTIME plus an offset that the guest moves by writing the time, so
 * setting the time changes this VM's clock only. An alarm thread sleeps until the alarm is
 * due (no busy wait).
 *
 * Registers, 32 bits each:
 *   0x00 TIME_LOW         read: the low half of the time, latching its high half into
 *                         TIME_HIGH; write: set the time to the high half last written to
 *                         TIME_HIGH (the current one if none was written since) and this low half
 *   0x04 TIME_HIGH        read: the high half latched by the last TIME_LOW read;
 *                         write: stage the high half for the next TIME_LOW write
 *   0x08 ALARM_LOW        read: the alarm's low half; write: set it and arm the alarm (an
 *                         alarm not in the future fires at once)
 *   0x0c ALARM_HIGH       read/write: the alarm's high half
 *   0x10 IRQ_ENABLED      read/write: bit 0 lets a fired alarm raise the interrupt line
 *   0x14 CLEAR_ALARM      write: disarm the alarm
 *   0x18 ALARM_STATUS     read: 1 while the alarm is armed and has not fired yet
 *   0x1c CLEAR_INTERRUPT  write: clear the fired-alarm interrupt (lowers the line)
 * The interrupt line is high while a fired alarm is not cleared and IRQ_ENABLED is 1. */
#ifndef RVISOR_DEV_GOLDFISH_RTC_H
#define RVISOR_DEV_GOLDFISH_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/irq.h"
#include "mem/bus.h"

struct state_in;
struct state_out;

#define GOLDFISH_RTC_SIZE 0x1000 /* bytes of MMIO window */

/* Register offsets in bytes. */
enum {
	GOLDFISH_RTC_TIME_LOW = 0x00,
	GOLDFISH_RTC_TIME_HIGH = 0x04,
	GOLDFISH_RTC_ALARM_LOW = 0x08,
	GOLDFISH_RTC_ALARM_HIGH = 0x0c,
	GOLDFISH_RTC_IRQ_ENABLED = 0x10,
	GOLDFISH_RTC_CLEAR_ALARM = 0x14,
	GOLDFISH_RTC_ALARM_STATUS = 0x18,
	GOLDFISH_RTC_CLEAR_INTERRUPT = 0x1c,
};

/* Guest-visible state (plain data). Times are nanoseconds since the Unix epoch, modulo 2^64. */
struct goldfish_rtc_regs {
	uint64_t offset_ns;  /* RTC time minus the host's CLOCK_REALTIME, modulo 2^64 */
	uint64_t alarm_ns;   /* ALARM_HIGH:ALARM_LOW */
	uint32_t time_high;  /* latched by the last TIME_LOW read */
	uint32_t set_high;   /* staged by a TIME_HIGH write */
	bool set_high_valid; /* set_high was written since the last TIME_LOW write */
	bool alarm_armed;    /* ALARM_STATUS */
	bool irq_pending;    /* the alarm fired; cleared by CLEAR_INTERRUPT */
	bool irq_enabled;    /* IRQ_ENABLED */
};

struct goldfish_rtc {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* wakes the alarm thread (waits use CLOCK_REALTIME deadlines) */
	pthread_t thread;
	bool stop; /* asks the alarm thread to exit */
	struct goldfish_rtc_regs regs;
	struct irq_line irq;
	/* Non-zero: the host time (ns since the epoch) the clock runs from, frozen, instead of
	 * CLOCK_REALTIME: a reproducible run (vm_config.deterministic). */
	uint64_t frozen_ns;
};

/* Initialise r with its clock at the host's time, the alarm disarmed and the interrupt disabled,
 * and start its alarm thread (which takes no signals); irq is the line it drives. Returns 0 or
 * -errno (pthread errors). */
int goldfish_rtc_init(struct goldfish_rtc *r, struct irq_line irq);
/* Stop and join the alarm thread (an armed alarm is dropped) and release r. The line is left
 * as it was. */
void goldfish_rtc_destroy(struct goldfish_rtc *r);
/* MMIO callbacks; opaque is the struct goldfish_rtc. 4-byte accesses at the registers above;
 * other offsets read 0 and ignore writes, other sizes are ignored (reads 0). */
extern const struct mmio_ops goldfish_rtc_ops;
/* Copy out the guest-visible state (under the device's lock). */
void goldfish_rtc_save(struct goldfish_rtc *r, struct goldfish_rtc_regs *out);
/* Load guest-visible state: the clock runs on from the host's time plus in->offset_ns, the
 * interrupt line is driven from irq_pending and irq_enabled, and an armed alarm is re-armed
 * (the alarm thread takes the new deadline; an alarm already due fires at once). Returns 0. */
int goldfish_rtc_restore(struct goldfish_rtc *r, const struct goldfish_rtc_regs *in);
/* Snapshots (src/state/stream.h): append section "rtc" (layout version 1): u64 offset_ns,
 * u64 alarm_ns, u32 time_high, u32 set_high, then u8 each of set_high_valid, alarm_armed,
 * irq_pending, irq_enabled. The offset is kept as is: a restored guest reads the host's
 * time plus the same offset, wall-clock time as before. frozen_ns (a host setting) is not
 * saved. */
void goldfish_rtc_state_save(struct goldfish_rtc *r, struct state_out *o);
/* Read section "rtc" and apply it through goldfish_rtc_restore. A flag other than 0 or 1
 * fails the stream naming it, leaves the RTC unchanged and returns -EINVAL. */
int goldfish_rtc_state_load(struct goldfish_rtc *r, struct state_in *in);

#endif
