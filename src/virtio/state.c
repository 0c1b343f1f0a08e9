/* Snapshot sections (state/stream.h) of the virtio transports, the PCI bridge they may sit on,
 * and the virtio devices; declared in each one's header, the order of calls in transport.h.
 * Saving reads each part under the locks its own code takes; loading reads a section's fields
 * first, checks each one as a value from a hostile file (naming it with state_check), and only
 * then changes the part. The devices' mechanisms (quiescing, holding buffers) live with each
 * device; here are only what a snapshot carries and its checks, which also keeps the stream
 * out of the device files the fuzzers link on their own.
 *
 * Requests in flight (popped from a ring and not completed) cross a snapshot so: disks and the
 * cards' transmit side complete theirs before saving (virtio_blk_quiesce, virtio_net_quiesce);
 * receive buffers kept for input to come (virtio-net, virtio-console) and the balloon's
 * statistics request are saved as chain heads and taken again on load; the other devices
 * complete every request within its notification. Saving and loading both check that the
 * device holds exactly the requests its queue has in flight (last_avail - used_idx of the
 * queue's current set-up), so that none is lost or completed twice. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "mem/guest_mem.h"
#include "state/stream.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/fs.h"
#include "virtio/input.h"
#include "virtio/net.h"
#include "virtio/pci.h"
#include "virtio/rng.h"
#include "virtio/transport.h"
#include "virtio/vsock.h"

#define LAYOUT 1 /* the layout version of every section here */

/* The device status bits of 2.1: the driver's, and DEVICE_NEEDS_RESET. */
#define STATUS_BITS                                                                   \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK | \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)

/* evdev event types the keyboard sends (include/uapi/linux/input-event-codes.h). */
#define EV_SYN 0x00
#define EV_KEY 0x01

/* Enter section name and check its layout version. */
static bool enter(struct state_in *in, const char *name)
{
	uint32_t v = state_enter(in, name);
	return !in->failed &&
	       state_check(in, v == LAYOUT, "layout version %u, where this rvisor reads %u", v,
			   LAYOUT);
}

static int leave(struct state_in *in)
{
	return state_leave(in) ? 0 : -EINVAL;
}

/* ---- queues as the devices see them ---- */

/* What a device's section is checked against: one queue of its transport. */
struct queue_view {
	bool ready;
	uint16_t num;
	uint32_t epoch;
	/* Requests popped in the queue's current set-up and not completed (last_avail -
	 * used_idx): what the device must hold; 0 when the queue is not ready. A device
	 * holds at most a few, so the 16-bit difference is exact. */
	unsigned in_flight;
};

/* Queue q of t; none (not ready) when t is NULL: a device that was never notified nor loaded
 * has popped nothing. */
static struct queue_view queue_view(struct virtio_transport *t, unsigned q)
{
	struct queue_view v = {0};
	if (!t)
		return v;
	pthread_mutex_lock(&t->lock);
	if (q < t->dev.num_queues && t->vq[q].ready) {
		const struct virtq *vq = &t->vq[q];
		v = (struct queue_view){true, vq->num, vq->epoch,
					(uint16_t)(vq->last_avail - vq->used_idx)};
	}
	pthread_mutex_unlock(&t->lock);
	return v;
}

/* Load: queue q has exactly held requests in flight, those the section gives the device. */
static bool held_ok(struct state_in *in, struct virtio_transport *t, unsigned q, unsigned held,
		    const char *what)
{
	unsigned n = queue_view(t, q).in_flight;
	return state_check(in, n == held,
			   "queue %u has %u requests in flight, but the device holds %u %s", q, n,
			   held, what);
}

/* Load: take the chain at head of queue q again, as popped in the queue's current set-up. */
static bool retake(struct state_in *in, struct virtio_transport *t, unsigned q, uint16_t head,
		   struct virtq_req *req, const char *what)
{
	struct queue_view v = queue_view(t, q);
	return state_check(in, v.ready, "%s: queue %u is not ready", what, q) &&
	       state_check(in, head < v.num, "%s: head %u is not below the queue size %u", what,
			   head, v.num) &&
	       state_check(in, virtio_chain(t, q, v.epoch, head, req) == 0,
			   "%s: the descriptor chain at head %u is malformed", what, head);
}

/* Save: queue q of t has exactly held requests in flight (those the device saves). */
static bool save_held_ok(struct state_out *o, struct virtio_transport *t, unsigned q, unsigned held,
			 const char *name)
{
	unsigned n = queue_view(t, q).in_flight;
	if (n == held)
		return true;
	state_out_fail(o, "%s: queue %u has %u requests in flight, of which the device can save %u",
		       name, q, n, held);
	return false;
}

/* ---- the transport ---- */

void virtio_transport_state_save(struct virtio_transport *t, struct state_out *o)
{
	pthread_mutex_lock(&t->lock);
	state_begin(o, "virtio", LAYOUT);
	state_put_u32(o, t->dev.device_id);
	state_put_u32(o, t->dev.num_queues);
	state_put_u32(o, t->status);
	state_put_u32(o, t->interrupt_status);
	state_put_u32(o, t->config_generation);
	state_put_u32(o, t->device_features_sel);
	state_put_u32(o, t->driver_features_sel);
	state_put_u32(o, t->queue_sel);
	state_put_u64(o, t->driver_features);
	for (unsigned i = 0; i < t->dev.num_queues; i++) {
		const struct virtq *q = &t->vq[i];
		state_put_u16(o, q->num);
		state_put_bool(o, q->ready);
		state_put_bool(o, q->event_idx);
		state_put_bool(o, q->indirect);
		state_put_u64(o, q->desc_gpa);
		state_put_u64(o, q->avail_gpa);
		state_put_u64(o, q->used_gpa);
		state_put_u16(o, q->last_avail);
		state_put_u16(o, q->used_idx);
		state_put_u16(o, q->signalled_used);
		state_put_bool(o, q->signalled_valid);
	}
	state_end(o);
	pthread_mutex_unlock(&t->lock);
}

/* Queue i as loaded: what the transport accepts from a driver (write_queue_layout and
 * virtio_transport_write_queue_ready), for a device whose status is status and driver features
 * features. */
static bool queue_ok(struct state_in *in, const struct virtio_transport *t, unsigned i,
		     struct virtq *q, uint32_t status, uint64_t features)
{
	if (!state_check(in, q->num <= VIRTQ_MAX_SIZE, "queue %u: size %u is larger than %u", i,
			 q->num, VIRTQ_MAX_SIZE))
		return false;
	if (!q->ready)
		return true;
	bool event_idx = features & (1ull << VIRTIO_F_RING_EVENT_IDX);
	bool indirect = features & (1ull << VIRTIO_F_INDIRECT_DESC);
	q->mem = t->mem;
	return state_check(in, status & VIRTIO_STATUS_FEATURES_OK,
			   "queue %u is ready without FEATURES_OK", i) &&
	       state_check(in, q->event_idx == event_idx && q->indirect == indirect,
			   "queue %u: event_idx %d and indirect %d are not the driver features'", i,
			   q->event_idx, q->indirect) &&
	       state_check(in, q->num && !(q->num & (q->num - 1)),
			   "queue %u: size %u is not a power of 2", i, q->num) &&
	       state_check(in, virtq_validate(q) == 0,
			   "queue %u: its rings (descriptors at 0x%" PRIx64
			   ", driver area 0x%" PRIx64 ", device area 0x%" PRIx64
			   ") are misaligned or not inside guest RAM",
			   i, q->desc_gpa, q->avail_gpa, q->used_gpa);
}

int virtio_transport_state_load(struct virtio_transport *t, struct state_in *in)
{
	if (!enter(in, "virtio"))
		return -EINVAL;
	uint32_t id = state_get_u32(in), nq = state_get_u32(in);
	if (in->failed ||
	    !state_check(in, id == t->dev.device_id, "device id %u, but this device is %u", id,
			 t->dev.device_id) ||
	    !state_check(in, nq == t->dev.num_queues, "%u queues, but this device has %u", nq,
			 t->dev.num_queues))
		return -EINVAL;
	uint32_t status = state_get_u32(in);
	uint32_t isr = state_get_u32(in);
	uint32_t generation = state_get_u32(in);
	uint32_t dfsel = state_get_u32(in);
	uint32_t gfsel = state_get_u32(in);
	uint32_t qsel = state_get_u32(in);
	uint64_t features = state_get_u64(in);
	struct virtq vq[VIRTIO_MAX_QUEUES];
	for (unsigned i = 0; i < nq; i++) {
		struct virtq *q = &vq[i];
		*q = (struct virtq){0};
		q->num = state_get_u16(in);
		q->ready = state_get_bool(in);
		q->event_idx = state_get_bool(in);
		q->indirect = state_get_bool(in);
		q->desc_gpa = state_get_u64(in);
		q->avail_gpa = state_get_u64(in);
		q->used_gpa = state_get_u64(in);
		q->last_avail = state_get_u16(in);
		q->used_idx = state_get_u16(in);
		q->signalled_used = state_get_u16(in);
		q->signalled_valid = state_get_bool(in);
	}
	if (in->failed)
		return -EINVAL;
	bool features_ok = status & VIRTIO_STATUS_FEATURES_OK;
	if (!state_check(in, !(status & ~STATUS_BITS),
			 "status 0x%x has bits outside those of virtio 1.2 section 2.1", status) ||
	    !state_check(in, features_ok || !(status & VIRTIO_STATUS_DRIVER_OK),
			 "status 0x%x has DRIVER_OK without FEATURES_OK", status) ||
	    !state_check(in, !features_ok || virtio_transport_features_ok(t, features),
			 "driver features 0x%" PRIx64
			 " are not a subset of the device's offer 0x%" PRIx64
			 " with VIRTIO_F_VERSION_1",
			 features, t->dev.features) ||
	    !state_check(in, !(isr & ~(uint32_t)(VIRTIO_INT_VRING | VIRTIO_INT_CONFIG)),
			 "interrupt status 0x%x has bits other than VIRTIO_INT_VRING and "
			 "VIRTIO_INT_CONFIG",
			 isr))
		return -EINVAL;
	for (unsigned i = 0; i < nq; i++)
		if (!queue_ok(in, t, i, &vq[i], status, features))
			return -EINVAL;
	if (!state_leave(in))
		return -EINVAL;

	pthread_mutex_lock(&t->lock);
	t->status = status;
	t->config_generation = generation;
	t->device_features_sel = dfsel;
	t->driver_features_sel = gfsel;
	t->queue_sel = qsel;
	t->driver_features = features;
	for (unsigned i = 0; i < nq; i++) {
		uint32_t epoch = t->vq[i].epoch; /* host-side: as virtio_transport_init set it */
		t->vq[i] = vq[i];
		t->vq[i].epoch = epoch;
		t->vq[i].mem = t->mem;
	}
	virtio_transport_interrupt(t, isr, ~isr); /* the line follows */
	pthread_mutex_unlock(&t->lock);
	if (t->dev.restored)
		t->dev.restored(t->dev.opaque, t);
	return 0;
}

/* The function's configuration first: Interrupt Disable is in place before the transport's
 * load drives INTx, which then never pulses a line the guest had masked. */
void virtio_pci_state_save(struct virtio_pci *vp, struct state_out *o)
{
	uint8_t config[PCI_CONFIG_SIZE];
	pci_device_save_config(&vp->pci, config);
	state_begin(o, "virtio-pci", LAYOUT);
	state_put_bytes(o, config, sizeof(config));
	state_end(o);
	virtio_transport_state_save(&vp->t, o);
}

int virtio_pci_state_load(struct virtio_pci *vp, struct state_in *in)
{
	uint8_t config[PCI_CONFIG_SIZE];
	if (!enter(in, "virtio-pci"))
		return -EINVAL;
	state_get_bytes(in, config, sizeof(config));
	unsigned bad = 0;
	if (in->failed)
		return -EINVAL;
	int rc = pci_device_load_config(&vp->pci, config, &bad);
	if (!state_check(in, rc == 0,
			 "configuration space byte 0x%02x differs from this device's in bits the "
			 "guest cannot write",
			 bad) ||
	    !state_leave(in))
		return -EINVAL;
	return virtio_transport_state_load(&vp->t, in);
}

void pci_host_state_save(struct pci_host *h, struct state_out *o)
{
	pthread_mutex_lock(&h->lock);
	state_begin(o, "pci-host", LAYOUT);
	state_put_u32(o, h->ndev);
	for (unsigned i = 0; i < h->ndev; i++)
		state_put_u32(o, pci_get32(h->dev[i]->config + PCI_VENDOR_ID));
	state_end(o);
	pthread_mutex_unlock(&h->lock);
}

int pci_host_state_load(struct pci_host *h, struct state_in *in)
{
	if (!enter(in, "pci-host"))
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	unsigned ndev = h->ndev;
	uint32_t ids[PCI_MAX_DEVICES];
	for (unsigned i = 0; i < ndev; i++)
		ids[i] = pci_get32(h->dev[i]->config + PCI_VENDOR_ID);
	pthread_mutex_unlock(&h->lock);
	uint32_t n = state_get_u32(in);
	if (in->failed ||
	    !state_check(in, n == ndev, "%u functions on the bus, but this VM has %u", n, ndev))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		uint32_t id = state_get_u32(in);
		if (in->failed ||
		    !state_check(
			in, id == ids[i],
			"device %u is %04x:%04x, but this VM's is %04x:%04x (vendor:device)", i,
			id & 0xffff, id >> 16, ids[i] & 0xffff, ids[i] >> 16))
			return -EINVAL;
	}
	return leave(in);
}

/* ---- virtio-blk ---- */

static void blk_name(const struct virtio_blk *b, char *buf, size_t len)
{
	int n = (int)strnlen(b->id, sizeof(b->id));
	if (n)
		snprintf(buf, len, "virtio-blk '%.*s'", n, b->id);
	else
		snprintf(buf, len, "virtio-blk (no serial)");
}

void virtio_blk_state_save(struct virtio_blk *b, struct state_out *o)
{
	char name[48];
	blk_name(b, name, sizeof(name));
	pthread_mutex_lock(&b->lock);
	unsigned held = b->count;
	bool working = b->busy || b->finishing || b->filling;
	struct virtio_transport *t = b->t;
	uint64_t capacity = b->capacity;
	pthread_mutex_unlock(&b->lock);
	if (held || working) {
		state_out_fail(o, "%s: %u requests are still in flight (the disk was not quiesced)",
			       name, held);
		return;
	}
	if (!save_held_ok(o, t, 0, 0, name))
		return;
	state_begin(o, "virtio-blk", LAYOUT);
	state_put_u64(o, capacity);
	state_put_bool(o, b->readonly);
	state_put_bytes(o, b->id, sizeof(b->id));
	state_end(o);
}

int virtio_blk_state_load(struct virtio_blk *b, struct state_in *in)
{
	if (!enter(in, "virtio-blk"))
		return -EINVAL;
	uint64_t capacity = state_get_u64(in);
	bool readonly = state_get_bool(in);
	char id[VIRTIO_BLK_ID_BYTES];
	state_get_bytes(in, id, sizeof(id));
	pthread_mutex_lock(&b->lock);
	uint64_t own_capacity = b->capacity;
	struct virtio_transport *t = b->t;
	pthread_mutex_unlock(&b->lock);
	if (in->failed ||
	    !state_check(in, capacity == own_capacity,
			 "capacity %" PRIu64 " sectors, but this disk's image has %" PRIu64,
			 capacity, own_capacity) ||
	    !state_check(in, readonly == b->readonly, "the disk was %s, this one is %s",
			 readonly ? "read-only" : "writable",
			 b->readonly ? "read-only" : "writable") ||
	    !state_check(in, !memcmp(id, b->id, sizeof(id)),
			 "the serial differs from this disk's '%.*s'",
			 (int)strnlen(b->id, sizeof(b->id)), b->id) ||
	    !held_ok(in, t, 0, 0, "requests"))
		return -EINVAL;
	return leave(in);
}

/* ---- virtio-net ---- */

void virtio_net_state_save(struct virtio_net *n, struct state_out *o)
{
	char name[48];
	const uint8_t *mac = n->config;
	snprintf(name, sizeof(name), "virtio-net %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	uint16_t heads[VIRTIO_NET_RX_HELD];
	unsigned nheld = 0;
	/* Buffers held from an older set-up of the queue belong to no ring: forgotten. */
	pthread_mutex_lock(&n->rx_lock);
	struct virtio_transport *t = __atomic_load_n(&n->t, __ATOMIC_ACQUIRE);
	struct queue_view rx = queue_view(t, VIRTIO_NET_RECEIVEQ);
	bool current = __atomic_load_n(&n->epoch, __ATOMIC_ACQUIRE) == n->rx_epoch;
	for (unsigned i = 0; i < n->nheld; i++)
		if (current && rx.ready && n->held[i].epoch == rx.epoch)
			heads[nheld++] = n->held[i].head;
	pthread_mutex_unlock(&n->rx_lock);
	pthread_mutex_lock(&n->tx_lock);
	bool tx_held =
	    n->tx_held && n->tx_held_epoch == __atomic_load_n(&n->epoch, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&n->tx_lock);
	if (tx_held) {
		state_out_fail(o, "%s: a transmit request is in flight (the card was not quiesced)",
			       name);
		return;
	}
	if (!save_held_ok(o, t, VIRTIO_NET_TRANSMITQ, 0, name) ||
	    !save_held_ok(o, t, VIRTIO_NET_RECEIVEQ, nheld, name))
		return;
	state_begin(o, "virtio-net", LAYOUT);
	state_put_bytes(o, n->config, 6);
	state_put_u16(o, (uint16_t)n->mtu);
	state_put_u16(o, (uint16_t)nheld);
	for (unsigned i = 0; i < nheld; i++)
		state_put_u16(o, heads[i]);
	state_end(o);
}

int virtio_net_state_load(struct virtio_net *n, struct state_in *in)
{
	if (!enter(in, "virtio-net"))
		return -EINVAL;
	uint8_t mac[6];
	state_get_bytes(in, mac, sizeof(mac));
	uint16_t mtu = state_get_u16(in);
	uint16_t nheld = state_get_u16(in);
	struct virtio_transport *t = n->restore_t;
	if (in->failed ||
	    !state_check(in, !(mac[0] & 1),
			 "MAC %02x:%02x:%02x:%02x:%02x:%02x is a multicast address", mac[0], mac[1],
			 mac[2], mac[3], mac[4], mac[5]) ||
	    !state_check(in, mtu == n->mtu, "MTU %u, but this card's backend has %u", mtu,
			 n->mtu) ||
	    !state_check(in, nheld <= VIRTIO_NET_RX_HELD,
			 "%u receive buffers held, more than the %u a card holds", nheld,
			 VIRTIO_NET_RX_HELD) ||
	    !held_ok(in, t, VIRTIO_NET_RECEIVEQ, nheld, "receive buffers") ||
	    !held_ok(in, t, VIRTIO_NET_TRANSMITQ, 0, "transmit requests"))
		return -EINVAL;
	bool ok = true;
	pthread_mutex_lock(&n->rx_lock);
	n->nheld = 0;
	n->rx_epoch = __atomic_load_n(&n->epoch, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < nheld && ok; i++) {
		uint16_t head = state_get_u16(in);
		/* Each buffer in flight once: a head held twice would be completed twice (and
		 * the count of heads would hide a buffer in flight that is never completed). */
		bool again = false;
		for (unsigned j = 0; j < n->nheld; j++)
			again |= n->held[j].head == head;
		ok = !in->failed &&
		     state_check(in, !again, "the receive buffer at head %u is held twice", head) &&
		     retake(in, t, VIRTIO_NET_RECEIVEQ, head, &n->rx_req, "a receive buffer");
		ok = ok && state_check(in, virtio_net_hold_rx(n, &n->rx_req),
				       "the receive buffer at head %u has room for less than a "
				       "header",
				       head);
	}
	ok = ok && state_leave(in);
	if (ok) {
		if (t) /* the configuration space is read under the transport's lock */
			pthread_mutex_lock(&t->lock);
		memcpy(n->config, mac, sizeof(mac));
		if (t)
			pthread_mutex_unlock(&t->lock);
		/* Frames are taken in from now on, the held buffers first. */
		__atomic_store_n(&n->t, t, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&n->rx_lock);
	return ok ? 0 : -EINVAL;
}

/* ---- virtio-console ---- */

void virtio_console_state_save(struct virtio_console *c, struct state_out *o)
{
	const char *name = "virtio-console";
	pthread_mutex_lock(&c->rx_lock);
	struct virtio_transport *t = __atomic_load_n(&c->t, __ATOMIC_ACQUIRE);
	struct queue_view rx = queue_view(t, VIRTIO_CONSOLE_RECEIVEQ);
	bool held = c->rx_held && c->rx_epoch == __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE) &&
		    rx.ready && c->rx_req.epoch == rx.epoch;
	uint16_t head = held ? c->rx_req.head : 0;
	pthread_mutex_unlock(&c->rx_lock);
	if (!save_held_ok(o, t, VIRTIO_CONSOLE_TRANSMITQ, 0, name) ||
	    !save_held_ok(o, t, VIRTIO_CONSOLE_RECEIVEQ, held, name))
		return;
	state_begin(o, "virtio-console", LAYOUT);
	state_put_bool(o, held);
	state_put_u16(o, head);
	state_end(o);
}

int virtio_console_state_load(struct virtio_console *c, struct state_in *in)
{
	if (!enter(in, "virtio-console"))
		return -EINVAL;
	bool held = state_get_bool(in);
	uint16_t head = state_get_u16(in);
	struct virtio_transport *t = c->restore_t;
	if (in->failed ||
	    !state_check(in, held || !head,
			 "no receive buffer is held, but its head is %u (0 when none)", head) ||
	    !held_ok(in, t, VIRTIO_CONSOLE_RECEIVEQ, held, "receive buffers") ||
	    !held_ok(in, t, VIRTIO_CONSOLE_TRANSMITQ, 0, "transmit requests"))
		return -EINVAL;
	bool ok = true;
	pthread_mutex_lock(&c->rx_lock);
	c->rx_epoch = __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
	c->rx_held = false;
	if (held) {
		ok = retake(in, t, VIRTIO_CONSOLE_RECEIVEQ, head, &c->rx_req,
			    "the receive buffer") &&
		     state_check(in, c->rx_req.in_len > 0,
				 "the receive buffer at head %u has no writable room", head);
		c->rx_held = ok;
	}
	ok = ok && state_leave(in);
	if (ok) /* input is taken in from now on, into the held buffer first */
		__atomic_store_n(&c->t, t, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->rx_lock);
	return ok ? 0 : -EINVAL;
}

/* ---- virtio-rng ---- */

void virtio_rng_state_save(struct virtio_rng *r, struct state_out *o)
{
	pthread_mutex_lock(&r->lock);
	uint64_t prng = r->prng;
	struct virtio_transport *t = r->t;
	pthread_mutex_unlock(&r->lock);
	if (!save_held_ok(o, t, 0, 0, "virtio-rng"))
		return;
	state_begin(o, "virtio-rng", LAYOUT);
	state_put_u64(o, prng);
	state_end(o);
}

int virtio_rng_state_load(struct virtio_rng *r, struct state_in *in)
{
	if (!enter(in, "virtio-rng"))
		return -EINVAL;
	uint64_t prng = state_get_u64(in);
	pthread_mutex_lock(&r->lock);
	bool deterministic = r->prng != 0;
	struct virtio_transport *t = r->t;
	pthread_mutex_unlock(&r->lock);
	if (in->failed ||
	    !state_check(in, (prng != 0) == deterministic, "the generator was %s, this VM's is %s",
			 prng ? "deterministic" : "getrandom",
			 deterministic ? "deterministic" : "getrandom") ||
	    !held_ok(in, t, 0, 0, "requests") || !state_leave(in))
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	r->prng = prng;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* ---- virtio-balloon ---- */

#define BALLOON_QUEUES (BALLOON_Q_REPORTING + 1)

void virtio_balloon_state_save(struct virtio_balloon *b, struct state_out *o)
{
	const char *name = "virtio-balloon";
	pthread_mutex_lock(&b->lock);
	struct virtio_transport *t = b->t;
	struct queue_view sq = queue_view(t, BALLOON_Q_STATS);
	bool held = b->have_stats_req && sq.ready && b->stats_req.epoch == sq.epoch;
	uint16_t head = held ? b->stats_req.head : 0;
	uint64_t inflated = b->inflated, reported = b->reported, updates = b->stats_updates;
	struct virtio_balloon_stats stats = b->stats;
	pthread_mutex_unlock(&b->lock);
	for (unsigned q = 0; q < BALLOON_QUEUES; q++)
		if (!save_held_ok(o, t, q, q == BALLOON_Q_STATS ? held : 0, name))
			return;
	state_begin(o, "virtio-balloon", LAYOUT);
	state_put_u32(o, __atomic_load_n(&b->target_pages, __ATOMIC_RELAXED));
	state_put_u32(o, __atomic_load_n(&b->actual_pages, __ATOMIC_RELAXED));
	state_put_u64(o, inflated);
	state_put_u64(o, reported);
	state_put_u64(o, updates);
	for (unsigned i = 0; i < VIRTIO_BALLOON_S_NR; i++) {
		state_put_bool(o, stats.have[i]);
		state_put_u64(o, stats.value[i]);
	}
	state_put_bool(o, held);
	state_put_u16(o, head);
	state_end(o);
}

int virtio_balloon_state_load(struct virtio_balloon *b, struct state_in *in)
{
	if (!enter(in, "virtio-balloon"))
		return -EINVAL;
	uint32_t target = state_get_u32(in), actual = state_get_u32(in);
	uint64_t inflated = state_get_u64(in), reported = state_get_u64(in);
	uint64_t updates = state_get_u64(in);
	struct virtio_balloon_stats stats;
	for (unsigned i = 0; i < VIRTIO_BALLOON_S_NR; i++) {
		stats.have[i] = state_get_bool(in);
		stats.value[i] = state_get_u64(in);
	}
	bool held = state_get_bool(in);
	uint16_t head = state_get_u16(in);
	pthread_mutex_lock(&b->lock);
	struct virtio_transport *t = b->t;
	pthread_mutex_unlock(&b->lock);
	if (in->failed ||
	    !state_check(in, held || !head,
			 "no statistics request is held, but its head is %u (0 when none)", head))
		return -EINVAL;
	for (unsigned q = 0; q < BALLOON_QUEUES; q++)
		if (!held_ok(in, t, q, q == BALLOON_Q_STATS ? held : 0,
			     q == BALLOON_Q_STATS ? "statistics requests" : "requests"))
			return -EINVAL;
	/* Only its head and queue are used again: the figures in it were taken already. */
	struct queue_view sq = queue_view(t, BALLOON_Q_STATS);
	if (!state_check(in, !held || head < sq.num,
			 "the statistics request's head %u is not below the queue size %u", head,
			 sq.num) ||
	    !state_leave(in))
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	__atomic_store_n(&b->target_pages, target, __ATOMIC_RELAXED);
	__atomic_store_n(&b->actual_pages, actual, __ATOMIC_RELAXED);
	b->inflated = inflated;
	b->reported = reported;
	b->stats_updates = updates;
	b->stats = stats;
	b->have_stats_req = held;
	b->stats_req.head = head;
	b->stats_req.epoch = sq.epoch;
	b->stats_req.nout = b->stats_req.nin = 0;
	b->stats_req.out_len = b->stats_req.in_len = 0;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* ---- virtio-input ---- */

#define INPUT_Q_EVENT  0
#define INPUT_Q_STATUS 1

void virtio_input_state_save(struct virtio_input *kbd, struct state_out *o)
{
	const char *name = "virtio-input";
	pthread_mutex_lock(&kbd->lock);
	struct virtio_transport *t = kbd->t;
	if (!save_held_ok(o, t, INPUT_Q_EVENT, 0, name) ||
	    !save_held_ok(o, t, INPUT_Q_STATUS, 0, name)) {
		pthread_mutex_unlock(&kbd->lock);
		return;
	}
	/* The selector is written under the transport's lock, when there is one yet (the
	 * vCPUs are parked: without one nothing writes it now). */
	if (t)
		pthread_mutex_lock(&t->lock);
	uint8_t select = kbd->select, subsel = kbd->subsel;
	if (t)
		pthread_mutex_unlock(&t->lock);
	state_begin(o, "virtio-input", LAYOUT);
	state_put_u8(o, select);
	state_put_u8(o, subsel);
	state_put_u32(o, kbd->npending);
	for (unsigned i = 0; i < kbd->npending; i++) {
		state_put_u16(o, kbd->pending[i].type);
		state_put_u16(o, kbd->pending[i].code);
		state_put_u32(o, kbd->pending[i].value);
	}
	state_end(o);
	pthread_mutex_unlock(&kbd->lock);
}

int virtio_input_state_load(struct virtio_input *kbd, struct state_in *in)
{
	if (!enter(in, "virtio-input"))
		return -EINVAL;
	uint8_t select = state_get_u8(in), subsel = state_get_u8(in);
	uint32_t npending = state_get_u32(in);
	pthread_mutex_lock(&kbd->lock);
	struct virtio_transport *t = kbd->t;
	pthread_mutex_unlock(&kbd->lock);
	if (in->failed ||
	    !state_check(in, npending <= VIRTIO_INPUT_PENDING,
			 "%u events waiting, more than the %u the keyboard keeps", npending,
			 VIRTIO_INPUT_PENDING) ||
	    !held_ok(in, t, INPUT_Q_EVENT, 0, "event buffers") ||
	    !held_ok(in, t, INPUT_Q_STATUS, 0, "status requests"))
		return -EINVAL;
	struct virtio_input_event ev[VIRTIO_INPUT_PENDING];
	for (unsigned i = 0; i < npending; i++) {
		ev[i].type = state_get_u16(in);
		ev[i].code = state_get_u16(in);
		ev[i].value = state_get_u32(in);
		if (in->failed ||
		    !state_check(
			in,
			(ev[i].type == EV_KEY && ev[i].value <= 1) ||
			    (ev[i].type == EV_SYN && ev[i].code == 0 && ev[i].value == 0),
			"event %u (type %u, code %u, value %u) is not one the keyboard sends", i,
			ev[i].type, ev[i].code, ev[i].value))
			return -EINVAL;
	}
	if (!state_leave(in))
		return -EINVAL;
	pthread_mutex_lock(&kbd->lock);
	memcpy(kbd->pending, ev, npending * sizeof(ev[0]));
	kbd->npending = npending;
	if (t)
		pthread_mutex_lock(&t->lock);
	kbd->select = select;
	kbd->subsel = subsel;
	if (t)
		pthread_mutex_unlock(&t->lock);
	pthread_mutex_unlock(&kbd->lock);
	return 0;
}

/* ---- devices not saved in this version ---- */

void virtio_vsock_state_save(struct virtio_vsock *v, struct state_out *o)
{
	char name[48];
	snprintf(name, sizeof(name), "virtio-vsock (guest CID %" PRIu64 ")", v->guest_cid);
	/* The device is paused: its thread waits, holding nothing it is in the middle of. */
	pthread_mutex_lock(&v->run_lock);
	struct virtio_transport *t = atomic_load(&v->t);
	struct queue_view rx = queue_view(t, VSOCK_Q_RX);
	bool spare = v->have_spare && rx.ready && v->spare.epoch == rx.epoch;
	uint16_t head = spare ? v->spare.head : 0;
	bool reset = atomic_load(&v->event_reset);
	pthread_mutex_unlock(&v->run_lock);
	if (!save_held_ok(o, t, VSOCK_Q_RX, spare, name) ||
	    !save_held_ok(o, t, VSOCK_Q_TX, 0, name) || !save_held_ok(o, t, VSOCK_Q_EVENT, 0, name))
		return;
	state_begin(o, "virtio-vsock", LAYOUT);
	state_put_u64(o, v->guest_cid);
	state_put_bool(o, t != NULL); /* the driver notified it: it has rings */
	state_put_bool(o, spare);
	state_put_u16(o, head);
	state_put_bool(o, reset);
	state_end(o);
}

int virtio_vsock_state_load(struct virtio_vsock *v, struct state_in *in)
{
	if (!enter(in, "virtio-vsock"))
		return -EINVAL;
	uint64_t cid = state_get_u64(in);
	bool active = state_get_bool(in);
	bool spare = state_get_bool(in);
	uint16_t head = state_get_u16(in);
	state_get_bool(in); /* a reset not delivered yet: one is sent anyway */
	struct virtio_transport *t = v->restore_t;
	if (in->failed ||
	    !state_check(in, cid == v->guest_cid,
			 "guest CID %" PRIu64 ", but this VM's is %" PRIu64, cid, v->guest_cid) ||
	    !state_check(in, !spare || active, "a receive buffer held before any notification") ||
	    !held_ok(in, t, VSOCK_Q_RX, spare, "receive buffers") ||
	    !held_ok(in, t, VSOCK_Q_TX, 0, "transmit requests") ||
	    !held_ok(in, t, VSOCK_Q_EVENT, 0, "event buffers"))
		return -EINVAL;
	bool ok = true;
	pthread_mutex_lock(&v->run_lock);
	v->have_spare = false;
	if (spare) {
		ok =
		    retake(in, t, VSOCK_Q_RX, head, &v->spare, "the held receive buffer") &&
		    state_check(
			in, v->spare.in_len >= 44,
			"the held receive buffer at head %u has room for less than a header", head);
		v->have_spare = ok;
	}
	ok = ok && state_leave(in);
	if (ok && active) {
		atomic_store(&v->t, t);
		/* The connections to host programs stayed with the saved VM. */
		atomic_store(&v->event_reset, true);
	}
	pthread_mutex_unlock(&v->run_lock);
	uint64_t one = 1;
	if (ok && write(v->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the thread is awake already */
	}
	return ok ? 0 : -EINVAL;
}

void virtio_fs_state_save(struct virtio_fs *fs, struct state_out *o)
{
	state_out_fail(o,
		       "virtio-fs '%.*s': its vhost-user daemon holds requests and state that "
		       "cannot be saved; remove --fs to take snapshots",
		       (int)strnlen(fs->tag, sizeof(fs->tag)), fs->tag);
}
