/* virtio-input keyboard (virtio 1.2 section 5.8; see input.h). The configuration space is
 * a query interface: the driver writes select and subsel, then reads size and the answer
 * (5.8.5). Events go into the event queue's device-writable buffers, one per buffer. Lock
 * order: in->lock, then the transport's; the callbacks run under the transport's take none. */
#include "virtio/input.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "virtio/transport.h"

/* Selectors (5.8.4). */
#define CFG_UNSET     0x00
#define CFG_ID_NAME   0x01
#define CFG_ID_SERIAL 0x02
#define CFG_ID_DEVIDS 0x03
#define CFG_PROP_BITS 0x10
#define CFG_EV_BITS   0x11
#define CFG_SIZE      136 /* select, subsel, size, reserved[5], union of 128 bytes */

/* evdev (include/uapi/linux/input-event-codes.h). */
#define EV_SYN       0x00
#define EV_KEY       0x01
#define SYN_REPORT   0
#define KEY_LEFTCTRL 29
#define KEY_LEFTALT  56
#define KEY_DELETE   111
#define BUS_VIRTUAL  0x06

#define Q_EVENT  0
#define Q_STATUS 1

static const char name[] = "rvisor keyboard";

/* The answer to the current selector: its bytes into u (128), its size returned. */
static uint8_t answer(const struct virtio_input *in, uint8_t *u)
{
	memset(u, 0, 128);
	switch (in->select) {
	case CFG_ID_NAME: memcpy(u, name, sizeof(name) - 1); return sizeof(name) - 1;
	case CFG_ID_SERIAL: memcpy(u, "0", 1); return 1;
	case CFG_ID_DEVIDS: {
		uint16_t ids[4] = {htole16(BUS_VIRTUAL), htole16(0x1af4), htole16(1), htole16(1)};
		memcpy(u, ids, sizeof(ids));
		return sizeof(ids);
	}
	case CFG_EV_BITS:
		if (in->subsel != EV_KEY)
			return 0;
		/* The keys of the chord. */
		u[KEY_LEFTCTRL / 8] |= 1 << (KEY_LEFTCTRL % 8);
		u[KEY_LEFTALT / 8] |= 1 << (KEY_LEFTALT % 8);
		u[KEY_DELETE / 8] |= 1 << (KEY_DELETE % 8);
		return KEY_DELETE / 8 + 1;
	default: return 0; /* no properties, no absolute axes, unknown selectors */
	}
}

static uint32_t input_config_read(void *opaque, uint32_t off, unsigned size)
{
	struct virtio_input *in = opaque;
	uint8_t cfg[CFG_SIZE] = {in->select, in->subsel};
	cfg[2] = answer(in, cfg + 8);
	uint32_t v = 0;
	memcpy(&v, cfg + off, size); /* within CFG_SIZE: the transport checked */
	return v;
}

static void input_config_write(void *opaque, uint32_t off, unsigned size, uint32_t val)
{
	struct virtio_input *in = opaque;
	for (unsigned i = 0; i < size; i++) {
		if (off + i == 0)
			in->select = (uint8_t)(val >> (8 * i));
		else if (off + i == 1)
			in->subsel = (uint8_t)(val >> (8 * i));
		/* the rest is the device's */
	}
}

/* Deliver pending events into the guest's buffers while there are some. in->lock held. */
static void flush(struct virtio_input *in)
{
	unsigned sent = 0;
	while (sent < in->npending && in->t && virtio_pop(in->t, Q_EVENT, &in->req) > 0) {
		const struct virtio_input_event *e = &in->pending[sent];
		uint8_t ev[8];
		uint16_t type = htole16(e->type), code = htole16(e->code);
		uint32_t value = htole32(e->value);
		memcpy(ev, &type, 2);
		memcpy(ev + 2, &code, 2);
		memcpy(ev + 4, &value, 4);
		uint32_t len = (uint32_t)virtq_write(&in->req, 0, ev, sizeof(ev));
		virtio_complete(in->t, Q_EVENT, in->req.epoch, in->req.head, len);
		sent++;
	}
	memmove(in->pending, in->pending + sent, (in->npending - sent) * sizeof(in->pending[0]));
	in->npending -= sent;
}

static void input_queue_notify(void *opaque, struct virtio_transport *t, unsigned q)
{
	struct virtio_input *in = opaque;
	pthread_mutex_lock(&in->lock);
	in->t = t;
	if (q == Q_STATUS) { /* LED states and the like: taken and ignored */
		while (virtio_pop(t, Q_STATUS, &in->req) > 0)
			virtio_complete(t, Q_STATUS, in->req.epoch, in->req.head, 0);
	} else {
		flush(in);
	}
	pthread_mutex_unlock(&in->lock);
}

static void input_reset(void *opaque)
{
	struct virtio_input *in = opaque;
	in->select = in->subsel = 0; /* under the transport lock, as every access to them */
}

/* Loaded from a snapshot: t is the keyboard's transport. */
static void input_restored(void *opaque, struct virtio_transport *t)
{
	struct virtio_input *in = opaque;
	pthread_mutex_lock(&in->lock);
	in->t = t;
	pthread_mutex_unlock(&in->lock);
}

int virtio_input_init(struct virtio_input *in, struct virtio_dev *dev)
{
	memset(in, 0, sizeof(*in));
	int rc = -pthread_mutex_init(&in->lock, NULL);
	if (rc)
		return rc;
	*dev = (struct virtio_dev){.device_id = VIRTIO_ID_INPUT,
				   .num_queues = 2,
				   .config_size = CFG_SIZE,
				   .opaque = in,
				   .config_read = input_config_read,
				   .config_write = input_config_write,
				   .queue_notify = input_queue_notify,
				   .reset = input_reset,
				   .restored = input_restored};
	return 0;
}

void virtio_input_destroy(struct virtio_input *in)
{
	pthread_mutex_destroy(&in->lock);
}

int virtio_input_ctrl_alt_del(struct virtio_input *in)
{
	static const struct virtio_input_event chord[] = {
	    {EV_KEY, KEY_LEFTCTRL, 1}, {EV_KEY, KEY_LEFTALT, 1}, {EV_KEY, KEY_DELETE, 1},
	    {EV_SYN, SYN_REPORT, 0},   {EV_KEY, KEY_DELETE, 0},  {EV_KEY, KEY_LEFTALT, 0},
	    {EV_KEY, KEY_LEFTCTRL, 0}, {EV_SYN, SYN_REPORT, 0}};
	pthread_mutex_lock(&in->lock);
	int rc = -EAGAIN;
	if (in->t && virtio_driver_features(in->t) &&
	    in->npending + sizeof(chord) / sizeof(chord[0]) <= VIRTIO_INPUT_PENDING) {
		memcpy(in->pending + in->npending, chord, sizeof(chord));
		in->npending += sizeof(chord) / sizeof(chord[0]);
		flush(in);
		rc = 0;
	}
	pthread_mutex_unlock(&in->lock);
	return rc;
}
