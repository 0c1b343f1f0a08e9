/* The virtio-pci transport, modern interface (virtio 1.2 section 4.1): the PCI function's
 * identity and vendor-specific capabilities (4.1.2, 4.1.4), and BAR 0's common configuration
 * (4.1.4.3), notification (4.1.4.4), ISR status (4.1.4.5) and device configuration (4.1.4.6)
 * structures decoded onto the shared state of transport.c; the PCI configuration access
 * capability (4.1.4.9). Drivers must use each field's natural width (4.1.3.1): other widths
 * read as zero and write nothing, as do unknown offsets. */
#include "virtio/pci.h"

#include <errno.h>
#include <string.h>

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* modern devices: 0x1040 + device id (4.1.2.1) */

/* The PCI class code of each device type (base class, subclass, interface). */
static uint32_t class_code(uint32_t device_id)
{
	switch (device_id) {
	case 1: return 0x020000;  /* network controller, Ethernet */
	case 2: return 0x018000;  /* mass storage controller, other */
	case 3: return 0x078000;  /* simple communication controller, other */
	default: return 0xff0000; /* no class defined */
	}
}

static void intx(void *opaque, unsigned num, bool level)
{
	(void)num;
	pci_set_intx(opaque, level);
}

/* ---- BAR 0 ---- */

static void set_low(uint64_t *reg, uint32_t val)
{
	*reg = (*reg & ~0xffffffffull) | val;
}

static void set_high(uint64_t *reg, uint32_t val)
{
	*reg = (*reg & 0xffffffffull) | (uint64_t)val << 32;
}

/* The queue address field at off (desc, driver or device; 8 bytes from its low half). */
static uint64_t *queue_addr(struct virtq *q, uint64_t off)
{
	if (off >= VIRTIO_PCI_COMMON_Q_USEDLO)
		return &q->used_gpa;
	return off >= VIRTIO_PCI_COMMON_Q_AVAILLO ? &q->avail_gpa : &q->desc_gpa;
}

/* Size of the common configuration field at off (the halves of a 64-bit field count as 32-bit
 * fields), or 0 if no field starts there. */
static unsigned field_size(uint64_t off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_STATUS:
	case VIRTIO_PCI_COMMON_CFGGEN: return 1;
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_Q_SELECT:
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_NOFF:
	case VIRTIO_PCI_COMMON_Q_NDATA:
	case VIRTIO_PCI_COMMON_Q_RESET: return 2;
	default: return off < VIRTIO_PCI_COMMON_SIZE && !(off & 3) ? 4 : 0;
	}
}

/* Lock held. */
static uint64_t common_read(struct virtio_transport *t, uint64_t off, unsigned size)
{
	struct virtq *q = virtio_transport_selected_queue(t);
	if (size == 8 && off >= VIRTIO_PCI_COMMON_Q_DESCLO && off < VIRTIO_PCI_COMMON_Q_NDATA &&
	    !(off & 7))
		return q ? *queue_addr(q, off) : 0;
	if (size != field_size(off))
		return 0;
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: return t->device_features_sel;
	case VIRTIO_PCI_COMMON_DF: return virtio_transport_device_features(t);
	case VIRTIO_PCI_COMMON_GFSELECT: return t->driver_features_sel;
	case VIRTIO_PCI_COMMON_GF:
		return t->driver_features_sel > 1
			   ? 0
			   : (uint32_t)(t->driver_features >> (32 * t->driver_features_sel));
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_Q_MSIX: return VIRTIO_PCI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_NUMQ: return t->dev.num_queues;
	case VIRTIO_PCI_COMMON_STATUS: return t->status;
	case VIRTIO_PCI_COMMON_CFGGEN: return t->config_generation & 0xff;
	case VIRTIO_PCI_COMMON_Q_SELECT: return t->queue_sel & 0xffff;
	case VIRTIO_PCI_COMMON_Q_SIZE: return q ? q->num : 0;
	case VIRTIO_PCI_COMMON_Q_ENABLE: return q && q->ready;
	case VIRTIO_PCI_COMMON_Q_NOFF: return q ? t->queue_sel : 0;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_USEDLO: return q ? (uint32_t)*queue_addr(q, off) : 0;
	case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDHI: return q ? (uint32_t)(*queue_addr(q, off) >> 32) : 0;
	default: return 0; /* queue_notify_data, queue_reset: features not offered */
	}
}

/* Lock held. Returns the queues to notify once it is dropped. */
static uint32_t common_write(struct virtio_transport *t, uint64_t off, unsigned size, uint64_t val)
{
	struct virtq *q = virtio_transport_selected_queue(t);
	/* A queue's size and layout are the driver's only while it is not enabled (4.1.4.3.2). */
	bool layout = q && !q->ready;
	if (size == 8 && off >= VIRTIO_PCI_COMMON_Q_DESCLO && off < VIRTIO_PCI_COMMON_Q_NDATA &&
	    !(off & 7)) {
		if (layout)
			*queue_addr(q, off) = val;
		return 0;
	}
	if (size != field_size(off))
		return 0;
	uint32_t v = (uint32_t)val;
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: t->device_features_sel = v; break;
	case VIRTIO_PCI_COMMON_GFSELECT: t->driver_features_sel = v; break;
	case VIRTIO_PCI_COMMON_GF: virtio_transport_write_driver_features(t, v); break;
	case VIRTIO_PCI_COMMON_STATUS: return virtio_transport_write_status(t, v & 0xff);
	case VIRTIO_PCI_COMMON_Q_SELECT: t->queue_sel = v; break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (layout)
			q->num = v <= VIRTQ_MAX_SIZE ? (uint16_t)v : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (q)
			virtio_transport_write_queue_ready(t, q, v);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		if (layout)
			set_low(queue_addr(q, off), v);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		if (layout)
			set_high(queue_addr(q, off), v);
		break;
	default: break; /* read-only fields; MSI-X vectors (none are accepted) */
	}
	return 0;
}

static uint64_t bar_read(void *opaque, uint64_t offset, unsigned size)
{
	struct virtio_pci *vp = opaque;
	struct virtio_transport *t = &vp->t;
	uint64_t val = 0;
	pthread_mutex_lock(&t->lock);
	if (offset < VIRTIO_PCI_ISR_OFF) {
		val = common_read(t, offset - VIRTIO_PCI_COMMON_OFF, size);
	} else if (offset == VIRTIO_PCI_ISR_OFF && size == 1) {
		/* Reading ISR status acknowledges it and lowers INTx (4.1.4.5). */
		val = t->interrupt_status;
		virtio_transport_interrupt(t, 0, UINT32_MAX);
	} else if (offset >= VIRTIO_PCI_DEVICE_OFF && offset < VIRTIO_PCI_NOTIFY_OFF) {
		uint64_t off = offset - VIRTIO_PCI_DEVICE_OFF;
		if (virtio_transport_config_access_ok(t, off, size))
			val = t->dev.config_read(t->dev.opaque, (uint32_t)off, size);
	}
	pthread_mutex_unlock(&t->lock);
	return val;
}

static void bar_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct virtio_pci *vp = opaque;
	struct virtio_transport *t = &vp->t;
	uint32_t notify = 0;
	pthread_mutex_lock(&t->lock);
	if (offset < VIRTIO_PCI_ISR_OFF) {
		notify = common_write(t, offset - VIRTIO_PCI_COMMON_OFF, size, value);
	} else if (offset >= VIRTIO_PCI_DEVICE_OFF && offset < VIRTIO_PCI_NOTIFY_OFF) {
		uint64_t off = offset - VIRTIO_PCI_DEVICE_OFF;
		if (virtio_transport_config_access_ok(t, off, size) && t->dev.config_write)
			t->dev.config_write(t->dev.opaque, (uint32_t)off, size, (uint32_t)value);
	} else if (offset >= VIRTIO_PCI_NOTIFY_OFF && (size == 2 || size == 4) &&
		   !(offset % VIRTIO_PCI_NOTIFY_MULT)) {
		/* The queue is the one whose queue_notify_off addresses this spot (4.1.5.2). */
		uint64_t q = (offset - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULT;
		if (q < t->dev.num_queues)
			notify = virtio_transport_queue_to_notify(t, (uint32_t)q);
	}
	pthread_mutex_unlock(&t->lock);
	virtio_transport_notify(t, notify);
}

/* Any width reaches the callbacks, so that wrong ones are ignored rather than faulted. */
static const struct mmio_ops bar_ops = {
    .read = bar_read,
    .write = bar_write,
    .min_size = 1,
    .max_size = 8,
};

/* ---- configuration space ---- */

/* The PCI configuration access window (4.1.4.9): cap.bar, cap.offset and cap.length select
 * an access of 1, 2 or 4 bytes, naturally aligned, within BAR 0. */
static bool cfg_window(const struct virtio_pci *vp, uint64_t *off, unsigned *len)
{
	const uint8_t *cap = vp->pci.config + vp->cfg_cap;
	*off = pci_get32(cap + 8);
	*len = pci_get32(cap + 12);
	return cap[4] == 0 && (*len == 1 || *len == 2 || *len == 4) && !(*off % *len) &&
	       *off < VIRTIO_PCI_BAR_SIZE;
}

static bool config_read(void *opaque, unsigned off, unsigned size, uint32_t *val)
{
	struct virtio_pci *vp = opaque;
	unsigned data = vp->cfg_cap + 16;
	uint64_t boff;
	unsigned len;
	if (off != data || !cfg_window(vp, &boff, &len))
		return false;
	*val = (uint32_t)bar_read(vp, boff, len) & (uint32_t)((1ull << (8 * size)) - 1);
	return true;
}

static void config_written(void *opaque, unsigned off, unsigned size)
{
	struct virtio_pci *vp = opaque;
	unsigned data = vp->cfg_cap + 16;
	uint64_t boff;
	unsigned len;
	(void)size;
	if (off == data && cfg_window(vp, &boff, &len))
		bar_write(vp, boff, len, pci_get32(vp->pci.config + data));
}

/* Append a virtio capability of len bytes at *at (cfg_type, BAR 0, offset, length); returns
 * its offset. The next pointer is filled by the following one. */
static unsigned add_cap(struct virtio_pci *vp, unsigned *at, unsigned len, uint8_t type,
			uint32_t offset, uint32_t length)
{
	uint8_t *c = vp->pci.config, *cap = c + *at;
	unsigned here = *at;
	/* Link it: from the capability pointer, or from the previous capability. */
	unsigned prev = c[PCI_CAPABILITY] ? c[PCI_CAPABILITY] : 0;
	if (!prev) {
		c[PCI_CAPABILITY] = (uint8_t)here;
	} else {
		while (c[prev + 1])
			prev = c[prev + 1];
		c[prev + 1] = (uint8_t)here;
	}
	cap[0] = PCI_CAP_ID_VENDOR;
	cap[1] = 0;
	cap[2] = (uint8_t)len;
	cap[3] = type;
	cap[4] = 0; /* BAR 0 */
	pci_put32(cap + 8, offset);
	pci_put32(cap + 12, length);
	*at += (len + 3) & ~3u;
	return here;
}

int virtio_pci_init(struct virtio_pci *vp, const struct virtio_dev *dev, struct guest_mem *mem)
{
	if (dev && dev->config_size > VIRTIO_PCI_NOTIFY_OFF - VIRTIO_PCI_DEVICE_OFF)
		return -EINVAL;
	memset(vp, 0, sizeof(*vp));
	int rc = virtio_transport_init(&vp->t, dev, mem, (struct irq_line){intx, &vp->pci, 0});
	if (rc)
		return rc;
	struct pci_device *p = &vp->pci;
	uint8_t *c = p->config;
	pci_put16(c + PCI_VENDOR_ID, VIRTIO_PCI_VENDOR);
	pci_put16(c + PCI_DEVICE_ID, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + dev->device_id));
	c[PCI_REVISION_ID] = 1; /* 1 or higher for a non-transitional device (4.1.2.1) */
	uint32_t cls = class_code(dev->device_id);
	c[PCI_CLASS_PROG] = (uint8_t)cls;
	pci_put16(c + PCI_CLASS_DEVICE, (uint16_t)(cls >> 8));
	pci_put16(c + PCI_SUBSYS_VENDOR, VIRTIO_PCI_VENDOR);
	pci_put16(c + PCI_SUBSYS_ID, (uint16_t)(0x40 + dev->device_id)); /* 0x40 or higher */

	unsigned at = 0x40;
	add_cap(vp, &at, 16, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF,
		VIRTIO_PCI_COMMON_SIZE);
	unsigned n = add_cap(vp, &at, 20, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
			     VIRTIO_PCI_NOTIFY_MULT * dev->num_queues);
	pci_put32(c + n + 16, VIRTIO_PCI_NOTIFY_MULT);
	add_cap(vp, &at, 16, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1);
	if (dev->config_size)
		add_cap(vp, &at, 16, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF,
			dev->config_size);
	vp->cfg_cap = add_cap(vp, &at, 20, VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
	/* The driver picks the window: bar, offset, length, and the data itself. */
	p->wmask[vp->cfg_cap + 4] = 0xff;
	memset(p->wmask + vp->cfg_cap + 8, 0xff, 12);

	p->bar_size[0] = VIRTIO_PCI_BAR_SIZE; /* 64-bit prefetchable, as on other VMMs */
	p->bar_flags[0] = PCI_BAR_MEM64 | PCI_BAR_PREFETCH;
	p->bar_ops[0] = &bar_ops;
	p->opaque = vp;
	p->config_read = config_read;
	p->config_written = config_written;
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	virtio_transport_destroy(&vp->t);
}
