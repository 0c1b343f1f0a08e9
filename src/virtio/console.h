/* virtio-console (virtio 1.2 section 5.3): one console port on a host character backend
 * (host/chr.h), without VIRTIO_CONSOLE_F_MULTIPORT. receiveq 0 carries host input to the
 * guest, transmitq 1 guest output to the host; in Linux the port is /dev/hvc0. */
#ifndef RVISOR_VIRTIO_CONSOLE_H
#define RVISOR_VIRTIO_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"

struct chr;
struct state_in;
struct state_out;
struct virtio_dev;
struct virtio_transport;

#define VIRTIO_ID_CONSOLE 3 /* 5.3.1 */

/* Queues of port 0 (5.3.2). */
#define VIRTIO_CONSOLE_RECEIVEQ  0
#define VIRTIO_CONSOLE_TRANSMITQ 1

/* Feature bits (5.3.3). */
#define VIRTIO_CONSOLE_F_SIZE        0
#define VIRTIO_CONSOLE_F_MULTIPORT   1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

/* Bytes of struct virtio_console_config (5.3.4): cols, rows, max_nr_ports, emerg_wr. */
#define VIRTIO_CONSOLE_CONFIG_SIZE 12

struct virtio_console {
	struct chr *chr; /* not owned */

	/* The transport, known from the first notification; input that comes before waits in
	 * the backend. */
	struct virtio_transport *t;
	/* The transport as its snapshot section was loaded (virtio_transport_state_load), for the
	 * port's own section: t is set only once that is loaded too, so that no input pops a
	 * receive buffer in between. Used by the loading thread alone. */
	struct virtio_transport *restore_t;
	/* Bumped by reset (which runs under the transport lock and so takes no lock of ours):
	 * a buffer held from an older epoch belongs to no ring any more. */
	uint64_t epoch;

	pthread_mutex_t rx_lock; /* guards the fields below up to tx_lock */
	uint64_t rx_epoch;       /* epoch the held buffer was taken in */
	bool rx_held;            /* rx_req is a receive buffer waiting for input */
	bool rx_paused;          /* the VM is paused: input waits in the backend */
	struct virtq_req rx_req;

	pthread_mutex_t tx_lock; /* guards tx_req: several vCPUs may notify */
	struct virtq_req tx_req;

	/* The host terminal's size for the config space: cols in bits 0-15, rows in 16-31 (0:
	 * unknown, as when the backend is no terminal). */
	uint32_t size;
};

/* Set up the port on chr and fill dev for a transport's init (virtio_mmio_init, virtio_pci_init).
 * Offers VIRTIO_CONSOLE_F_EMERG_WRITE and VIRTIO_CONSOLE_F_SIZE (the backend's terminal size,
 * 0 x 0 when it is none). Takes chr->notify (one frontend per chr: do not give the
 * same chr to the UART as well if it is to read input). Returns 0 or the -errno of
 * pthread_mutex_init. */
int virtio_console_init(struct virtio_console *c, struct chr *chr, struct virtio_dev *dev);
/* Read the backend's terminal size (chr->size) into cols and rows; when it changed, tell
 * the driver (a configuration change, virtio 1.2 section 5.3.6: Linux resizes hvc0 and its
 * programs get SIGWINCH). Nothing when the backend is no terminal. */
void virtio_console_resize(struct virtio_console *c);
/* Release what virtio_console_init set up. The chr is not touched (it may be closed
 * already): before this, the chr must have stopped calling notify, by being closed (as
 * chr_stdio_close does) or by the caller clearing chr->notify. Call with the vCPUs stopped,
 * before the transport is destroyed. */
void virtio_console_destroy(struct virtio_console *c);
/* Pause (true) or resume taking host input into the guest's buffers: paused, input waits in
 * the backend (guest RAM and the receive queue stay as they are, as a snapshot needs);
 * returns once input being delivered is done. Resuming delivers what waits. Output is the
 * vCPUs' and stops with them. */
void virtio_console_set_paused(struct virtio_console *c, bool paused);
/* Snapshots (see transport.h). Section "virtio-console", version 1: bool a receive buffer is
 * held (popped while no input was pending), u16 its chain head (0 when none). Transmission
 * completes within the notification. The load takes the buffer again from the receive queue
 * (a chain with writable room). */
void virtio_console_state_save(struct virtio_console *c, struct state_out *o);
int virtio_console_state_load(struct virtio_console *c, struct state_in *in);

#endif
