/* virtio-input (virtio 1.2 section 5.8) as a small keyboard, the board's way to send the
 * guest Ctrl-Alt-Del (Firecracker's SendCtrlAltDel, its i8042 keyboard's job on x86): Linux's
 * keyboard handler turns the chord into a reboot request to init (or a restart, if init did
 * not take Ctrl-Alt-Del over). Only the keys it needs are offered. */
#ifndef RVISOR_VIRTIO_INPUT_H
#define RVISOR_VIRTIO_INPUT_H

#include <pthread.h>
#include <stdint.h>

#include "virtio/virtq.h"

struct state_in;
struct state_out;
struct virtio_dev;
struct virtio_transport;

#define VIRTIO_ID_INPUT      18 /* 5.8.1 */
#define VIRTIO_INPUT_PENDING 32 /* events waiting for the guest's buffers */

/* One input event (struct virtio_input_event, 5.8.6): evdev type, code and value. */
struct virtio_input_event {
	uint16_t type, code;
	uint32_t value;
};

struct virtio_input {
	/* The configuration space's selector (5.8.4), written by the driver; only touched with
	 * the transport's lock held (the configuration callbacks run under it). */
	uint8_t select, subsel;
	pthread_mutex_t lock;       /* below */
	struct virtio_transport *t; /* known from the first notification */
	struct virtio_input_event pending[VIRTIO_INPUT_PENDING];
	unsigned npending;
	struct virtq_req req; /* scratch */
};

/* Set up the keyboard and fill dev for a transport's init. Returns 0 or -errno. */
int virtio_input_init(struct virtio_input *in, struct virtio_dev *dev);
void virtio_input_destroy(struct virtio_input *in);
/* Press and release Ctrl-Alt-Del. Returns 0, or -EAGAIN when the guest's driver is not
 * running (nothing to press it for). */
int virtio_input_ctrl_alt_del(struct virtio_input *in);
/* Snapshots (see transport.h). Section "virtio-input", version 1: u8 select, u8 subsel (the
 * configuration selector), u32 count of events waiting for buffers (at most
 * VIRTIO_INPUT_PENDING), and each one's u16 type, u16 code, u32 value (EV_SYN, or EV_KEY with
 * value 0 or 1). Both queues complete within their notification. */
void virtio_input_state_save(struct virtio_input *kbd, struct state_out *o);
int virtio_input_state_load(struct virtio_input *kbd, struct state_in *in);

#endif
