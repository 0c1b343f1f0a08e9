/* ns16550a UART (the 16550 datasheet): the guest's serial console, ttyS0. Registers are one
 * byte apart (reg-shift 0, reg-io-width 1); 16-byte receive FIFO fed from a host chr backend. */
#ifndef RVISOR_DEV_UART16550_H
#define RVISOR_DEV_UART16550_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/irq.h"
#include "mem/bus.h"

struct chr;
struct state_in;
struct state_out;

#define UART16550_SIZE 0x100 /* bytes of MMIO window */

/* Guest-visible register state (plain data: what a snapshot saves). */
struct uart16550_regs {
	uint8_t ier, iir, lcr, mcr, lsr, msr, scr, fcr;
	uint8_t dll, dlm;
	uint8_t rx_fifo[16];
	uint8_t rx_head, rx_count;
	uint8_t thr_empty_pending; /* THRE interrupt pending (cleared by IIR read or THR write) */
};

struct uart16550 {
	pthread_mutex_t lock;
	struct uart16550_regs regs;
	struct chr *chr;
	struct irq_line irq;
	/* A restore is coming (uart16550_init_for_restore): host input stays in the backend,
	 * not in a FIFO the restore would overwrite. uart16550_restore clears it. */
	bool hold_input;
};

/* Initialise with host backend chr (may be NULL: output dropped, no input) and interrupt line
 * irq. Registers the chr's notify callback. Returns 0 or -errno. */
int uart16550_init(struct uart16550 *u, struct chr *chr, struct irq_line irq);
/* The same for a UART whose state a restore (uart16550_restore, uart16550_state_load) will
 * set: until then host input stays in chr, so none is lost to the restore. */
int uart16550_init_for_restore(struct uart16550 *u, struct chr *chr, struct irq_line irq);
/* Release the lock; does not close chr. */
void uart16550_destroy(struct uart16550 *u);
/* MMIO callbacks; opaque is the struct uart16550. 1-byte accesses (4 allowed, low byte used). */
extern const struct mmio_ops uart16550_ops;
/* Take up to len bytes of host input for a reader other than the guest's driver of the UART
 * (rvisor's SBI console, standing in for firmware that reads the receiver as the kernel's
 * driver would): from the receive FIFO first, where the backend's input lands, then from
 * the backend, leaving LSR and the interrupt line as the FIFO now stands. Returns the bytes
 * taken (0 with no backend, or in loopback, where the receiver hears the transmitter). */
size_t uart16550_read_input(struct uart16550 *u, uint8_t *buf, size_t len);
/* Copy out / load guest-visible state. restore returns -EINVAL on inconsistent state. */
void uart16550_save(struct uart16550 *u, struct uart16550_regs *out);
int uart16550_restore(struct uart16550 *u, const struct uart16550_regs *in);
/* Snapshots (src/state/stream.h): append section "uart" (layout version 1): u8 each of ier,
 * iir, lcr, mcr, lsr, msr, scr, fcr, dll, dlm, rx_head, rx_count, thr_empty_pending, then
 * the 16 bytes of the receive FIFO (pending input: rx_count bytes from rx_head, wrapping). */
void uart16550_state_save(struct uart16550 *u, struct state_out *o);
/* Read section "uart" and apply it through uart16550_restore (which drives the interrupt
 * line from the loaded state). Register bits the guest cannot set, a FIFO count beyond the
 * receiver's capacity or a head past the FIFO, and LSR, IIR or the MSR modem inputs other
 * than the rest of the state gives fail the stream naming the value, leave the UART unchanged
 * and return -EINVAL. */
int uart16550_state_load(struct uart16550 *u, struct state_in *in);

#endif
