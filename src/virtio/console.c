/* virtio-console (virtio 1.2 section 5.3), a single port. Guest output on the transmitq is
 * written to the chr on the notifying vCPU thread; host input is read from the chr into the
 * receiveq's buffers whenever both exist: when the chr says input arrived (its notify
 * callback, on the backend's thread) and when the driver posts buffers. Input that finds no
 * buffer stays in the backend, which is never made to wait by the device. */
#include "virtio/console.h"

#include <errno.h>
#include <string.h>

#include "host/chr.h"
#include "virtio/transport.h"

/* Offsets in struct virtio_console_config (5.3.4). */
#define CFG_EMERG_WR 8

/* Read pending input into the writable segments of req, in order, as long as each comes
 * back full. Returns the bytes read (a chain holds at most 2^32 bytes: the count is capped
 * so that it fits the used length). */
static uint32_t read_input(struct chr *chr, const struct virtq_req *req)
{
	uint32_t total = 0;
	for (unsigned i = 0; i < req->nin; i++) {
		size_t want = req->in[i].len;
		if (want > UINT32_MAX - total)
			want = UINT32_MAX - total;
		size_t got = chr->read(chr, req->in[i].hva, want);
		if (got > want)
			got = want; /* a backend overstating: believe no more than was asked */
		total += (uint32_t)got;
		if (got < req->in[i].len)
			break;
	}
	return total;
}

/* Move input into receive buffers until one of the two runs out. A buffer popped when no
 * input was pending is kept for the next input, as a popped buffer cannot be put back. */
static void receive(struct virtio_console *c)
{
	pthread_mutex_lock(&c->rx_lock);
	struct virtio_transport *t = __atomic_load_n(&c->t, __ATOMIC_ACQUIRE);
	uint64_t epoch = __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
	if (epoch != c->rx_epoch) {
		c->rx_held = false;
		c->rx_epoch = epoch;
	}
	while (t && !c->rx_paused) {
		if (!c->rx_held) {
			/* -EINVAL: the transport has flagged the device for reset. */
			if (virtio_pop(t, VIRTIO_CONSOLE_RECEIVEQ, &c->rx_req) <= 0)
				break;
			if (c->rx_req.in_len == 0) {
				/* No room at all: give it back rather than hold it forever. */
				virtio_complete(t, VIRTIO_CONSOLE_RECEIVEQ, c->rx_req.epoch,
						c->rx_req.head, 0);
				continue;
			}
			c->rx_held = true;
		}
		uint32_t n = read_input(c->chr, &c->rx_req);
		if (n == 0)
			break;
		c->rx_held = false;
		if (__atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE) != c->rx_epoch)
			break; /* reset meanwhile: the input is lost with the old ring */
		virtio_complete(t, VIRTIO_CONSOLE_RECEIVEQ, c->rx_req.epoch, c->rx_req.head, n);
	}
	pthread_mutex_unlock(&c->rx_lock);
}

void virtio_console_set_paused(struct virtio_console *c, bool paused)
{
	pthread_mutex_lock(&c->rx_lock);
	c->rx_paused = paused;
	pthread_mutex_unlock(&c->rx_lock);
	if (!paused)
		receive(c); /* what came meanwhile */
}

/* The chr's notify callback: input is available. */
static void console_input(void *opaque)
{
	receive(opaque);
}

static void transmit(struct virtio_console *c, struct virtio_transport *t)
{
	pthread_mutex_lock(&c->tx_lock);
	while (virtio_pop(t, VIRTIO_CONSOLE_TRANSMITQ, &c->tx_req) > 0) {
		const struct virtq_req *req = &c->tx_req;
		for (unsigned i = 0; i < req->nout; i++)
			c->chr->write(c->chr, req->out[i].hva, req->out[i].len);
		virtio_complete(t, VIRTIO_CONSOLE_TRANSMITQ, req->epoch, req->head, 0);
	}
	pthread_mutex_unlock(&c->tx_lock);
}

static void console_queue_notify(void *opaque, struct virtio_transport *t, unsigned q)
{
	struct virtio_console *c = opaque;
	__atomic_store_n(&c->t, t, __ATOMIC_RELEASE);
	if (q == VIRTIO_CONSOLE_RECEIVEQ)
		receive(c);
	else if (q == VIRTIO_CONSOLE_TRANSMITQ)
		transmit(c, t);
}

/* cols (offset 0) and rows (2), VIRTIO_CONSOLE_F_SIZE, are the host terminal's; max_nr_ports
 * needs F_MULTIPORT, not offered, and reads as zero, as does emerg_wr (write-only). */
static uint32_t console_config_read(void *opaque, uint32_t off, unsigned size)
{
	struct virtio_console *c = opaque;
	uint32_t size_word = __atomic_load_n(&c->size, __ATOMIC_ACQUIRE);
	uint8_t cfg[VIRTIO_CONSOLE_CONFIG_SIZE] = {0};
	for (unsigned i = 0; i < 4; i++)
		cfg[i] = (uint8_t)(size_word >> (8 * i));
	uint32_t v = 0;
	for (unsigned i = 0; i < size && off + i < sizeof(cfg); i++)
		v |= (uint32_t)cfg[off + i] << (8 * i);
	return v;
}

void virtio_console_resize(struct virtio_console *c)
{
	unsigned cols, rows;
	if (!c->chr->size || c->chr->size(c->chr, &cols, &rows))
		return;
	uint32_t word = (cols > 0xffff ? 0xffff : cols) | (rows > 0xffff ? 0xffff : rows) << 16;
	if (__atomic_exchange_n(&c->size, word, __ATOMIC_ACQ_REL) == word)
		return;
	struct virtio_transport *t = __atomic_load_n(&c->t, __ATOMIC_ACQUIRE);
	if (t)
		virtio_config_changed(t);
}

/* VIRTIO_CONSOLE_F_EMERG_WRITE (5.3.6): a write to emerg_wr outputs its low byte, with or
 * without queues. Only a write covering emerg_wr's first byte counts. */
static void console_config_write(void *opaque, uint32_t off, unsigned size, uint32_t val)
{
	struct virtio_console *c = opaque;
	if (off > CFG_EMERG_WR || off + size <= CFG_EMERG_WR)
		return;
	uint8_t ch = (uint8_t)(val >> (8 * (CFG_EMERG_WR - off)));
	c->chr->write(c->chr, &ch, 1);
}

/* Runs under the transport lock, so it takes none of ours: the receive path sees the new
 * epoch and forgets its held buffer. */
static void console_reset(void *opaque)
{
	struct virtio_console *c = opaque;
	__atomic_add_fetch(&c->epoch, 1, __ATOMIC_ACQ_REL);
}

/* The transport was loaded from a snapshot: t becomes the port's once its own section is
 * (virtio_console_state_load). */
static void console_restored(void *opaque, struct virtio_transport *t)
{
	struct virtio_console *c = opaque;
	c->restore_t = t;
}

int virtio_console_init(struct virtio_console *c, struct chr *chr, struct virtio_dev *dev)
{
	memset(c, 0, sizeof(*c));
	if (!chr)
		return -EINVAL;
	c->chr = chr;
	int err = -pthread_mutex_init(&c->rx_lock, NULL);
	if (err)
		return err;
	err = -pthread_mutex_init(&c->tx_lock, NULL);
	if (err) {
		pthread_mutex_destroy(&c->rx_lock);
		return err;
	}
	*dev = (struct virtio_dev){
	    .device_id = VIRTIO_ID_CONSOLE,
	    .features = 1ull << VIRTIO_CONSOLE_F_EMERG_WRITE | 1ull << VIRTIO_CONSOLE_F_SIZE,
	    .num_queues = 2,
	    .config_size = VIRTIO_CONSOLE_CONFIG_SIZE,
	    .opaque = c,
	    .config_read = console_config_read,
	    .config_write = console_config_write,
	    .queue_notify = console_queue_notify,
	    .reset = console_reset,
	    .restored = console_restored,
	};
	virtio_console_resize(c); /* the terminal's size, if the backend is one */
	/* The backend's thread reads notify with an atomic load (chr_stdio). */
	__atomic_store_n(&chr->notify_opaque, c, __ATOMIC_RELAXED);
	__atomic_store_n(&chr->notify, console_input, __ATOMIC_RELEASE);
	return 0;
}

/* The backend may already be closed and freed (the VMM closes it first), so it is not
 * touched here. */
void virtio_console_destroy(struct virtio_console *c)
{
	if (!c->chr)
		return;
	pthread_mutex_destroy(&c->tx_lock);
	pthread_mutex_destroy(&c->rx_lock);
	c->chr = NULL;
}
