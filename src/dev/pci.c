/* The PCI Express host bridge: ECAM configuration access on bus 0 (PCIe Base 7.2.2), the
 * Type 0 header's standard registers (PCI Local Bus 3.0, 6.2: command, status, BARs with
 * their sizing protocol, interrupt line and pin), BAR decoding in the MMIO window, and INTx
 * with Interrupt Disable. */
#include "dev/pci.h"

#include <errno.h>
#include <string.h>

int pci_host_init(struct pci_host *h, uint64_t mmio32_base, uint64_t mmio32_size,
		  uint64_t mmio64_base, uint64_t mmio64_size)
{
	memset(h, 0, sizeof(*h));
	h->mmio32 = (struct pci_window){h, mmio32_base, mmio32_size};
	h->mmio64 = (struct pci_window){h, mmio64_base, mmio64_size};
	return -pthread_mutex_init(&h->lock, NULL);
}

void pci_host_destroy(struct pci_host *h)
{
	for (unsigned i = 0; i < h->ndev; i++)
		pthread_mutex_destroy(&h->dev[i]->intx_lock);
	h->ndev = 0;
	pthread_mutex_destroy(&h->lock);
}

int pci_host_add(struct pci_host *h, struct pci_device *d, struct irq_line line)
{
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		uint32_t s = d->bar_size[i];
		uint8_t f = d->bar_flags[i];
		if (s && (s < 16 || (s & (s - 1)) || !d->bar_ops[i]))
			return -EINVAL;
		if (f && (f != (PCI_BAR_MEM64 | PCI_BAR_PREFETCH) || !s || i + 1 == PCI_NUM_BARS ||
			  d->bar_size[i + 1]))
			return -EINVAL;
	}
	if (h->ndev == PCI_MAX_DEVICES)
		return -ENOSPC;
	int rc = pthread_mutex_init(&d->intx_lock, NULL);
	if (rc)
		return -rc;
	d->host = h;
	d->line = line;
	d->intx_level = false;
	d->intx_disabled = false;
	/* Command: I/O and memory space, bus master, parity and SERR# response, interrupt
	 * disable; status: the capability list (read-only). */
	d->wmask[PCI_COMMAND] = 0x47;
	d->wmask[PCI_COMMAND + 1] = 0x05;
	d->wmask[PCI_CACHE_LINE] = 0xff;
	d->wmask[PCI_LATENCY_TIMER] = 0xff;
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	d->config[PCI_HEADER_TYPE] = 0;   /* Type 0, single function */
	d->config[PCI_INTERRUPT_PIN] = 1; /* INTA# */
	if (d->config[PCI_CAPABILITY])
		d->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) { /* address bits above the size; the type */
		if (!d->bar_size[i])
			continue;
		pci_put32(d->wmask + PCI_BAR0 + 4 * i, ~(d->bar_size[i] - 1));
		d->config[PCI_BAR0 + 4 * i] = d->bar_flags[i];
		if (d->bar_flags[i] & PCI_BAR_MEM64)
			pci_put32(d->wmask + PCI_BAR0 + 4 * (i + 1), 0xffffffff);
	}
	pthread_mutex_lock(&h->lock);
	d->devfn = h->ndev << 3;
	h->dev[h->ndev] = d;
	int dev = (int)h->ndev++;
	pthread_mutex_unlock(&h->lock);
	return dev;
}

void pci_set_intx(struct pci_device *d, bool level)
{
	pthread_mutex_lock(&d->intx_lock);
	if (level != d->intx_level) {
		d->intx_level = level;
		if (!d->intx_disabled)
			irq_set(&d->line, level);
	}
	pthread_mutex_unlock(&d->intx_lock);
}

/* The guest changed Interrupt Disable: the line follows the level only while it is clear. */
static void intx_disable(struct pci_device *d, bool off)
{
	pthread_mutex_lock(&d->intx_lock);
	if (off != d->intx_disabled) {
		d->intx_disabled = off;
		if (d->intx_level)
			irq_set(&d->line, !off);
	}
	pthread_mutex_unlock(&d->intx_lock);
}

static uint64_t all_ones(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* The device an ECAM offset addresses (function 0 only), or NULL. Lock held. */
static struct pci_device *ecam_device(const struct pci_host *h, uint64_t offset)
{
	unsigned dev = (unsigned)(offset >> 15) & 31, fn = (unsigned)(offset >> 12) & 7;
	if ((offset >> 20) || fn || dev >= h->ndev)
		return NULL;
	return h->dev[dev];
}

static uint64_t ecam_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_host *h = opaque;
	unsigned reg = (unsigned)offset & 0xfff;
	uint64_t val = all_ones(size);
	pthread_mutex_lock(&h->lock);
	struct pci_device *d = ecam_device(h, offset);
	uint32_t v;
	if (!d) {
		/* no device: all ones, as a master abort reads */
	} else if (reg >= PCI_CONFIG_SIZE || size > 4) {
		val =
		    0; /* no extended capabilities; 8-byte accesses are not configuration cycles */
	} else if (d->config_read && d->config_read(d->opaque, reg, size, &v)) {
		val = v;
	} else {
		val = 0;
		for (unsigned i = 0; i < size; i++)
			val |= (uint64_t)d->config[reg + i] << (8 * i);
		if (reg <= PCI_STATUS && reg + size > PCI_STATUS) {
			pthread_mutex_lock(&d->intx_lock);
			if (d->intx_level)
				val |= (uint64_t)PCI_STATUS_INTERRUPT << (8 * (PCI_STATUS - reg));
			pthread_mutex_unlock(&d->intx_lock);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return val;
}

/* A configuration write of size bytes at reg (within the image): each bit through wmask, and
 * Interrupt Disable applied to the line. The bridge's lock held. */
static void config_store(struct pci_device *d, unsigned reg, unsigned size, uint64_t value)
{
	for (unsigned i = 0; i < size; i++) {
		uint8_t m = d->wmask[reg + i], b = (uint8_t)(value >> (8 * i));
		d->config[reg + i] = (uint8_t)((d->config[reg + i] & ~m) | (b & m));
	}
	if (reg <= PCI_COMMAND + 1 && reg + size > PCI_COMMAND + 1)
		intx_disable(d, d->config[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_OFF >> 8));
}

void pci_device_save_config(struct pci_device *d, uint8_t *out)
{
	pthread_mutex_lock(&d->host->lock);
	memcpy(out, d->config, PCI_CONFIG_SIZE);
	pthread_mutex_unlock(&d->host->lock);
}

int pci_device_load_config(struct pci_device *d, const uint8_t *in, unsigned *bad)
{
	int rc = 0;
	pthread_mutex_lock(&d->host->lock);
	for (unsigned i = 0; i < PCI_CONFIG_SIZE && !rc; i++) {
		if ((in[i] ^ d->config[i]) & ~d->wmask[i]) {
			*bad = i;
			rc = -EINVAL;
		}
	}
	/* Byte by byte, so that the command register's high byte applies Interrupt Disable. */
	for (unsigned i = 0; i < PCI_CONFIG_SIZE && !rc; i++)
		config_store(d, i, 1, in[i]);
	pthread_mutex_unlock(&d->host->lock);
	return rc;
}

static void ecam_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_host *h = opaque;
	unsigned reg = (unsigned)offset & 0xfff;
	pthread_mutex_lock(&h->lock);
	struct pci_device *d = ecam_device(h, offset);
	if (d && reg < PCI_CONFIG_SIZE && size <= 4) {
		config_store(d, reg, size, value);
		if (d->config_written)
			d->config_written(d->opaque, reg, size);
	}
	pthread_mutex_unlock(&h->lock);
}

/* ECAM takes 1, 2 and 4-byte accesses (8-byte ones read as zero, write nothing). */
const struct mmio_ops pci_ecam_ops = {
    .read = ecam_read,
    .write = ecam_write,
    .min_size = 1,
    .max_size = 8,
};

/* The BAR holding [gpa, gpa + size) of a device with memory decoding on: its ops and the
 * offset into it. Returns false when none claims the access. */
static bool find_bar(struct pci_host *h, uint64_t gpa, unsigned size, const struct mmio_ops **ops,
		     void **opaque, uint64_t *off)
{
	bool found = false;
	pthread_mutex_lock(&h->lock);
	for (unsigned n = 0; n < h->ndev && !found; n++) {
		struct pci_device *d = h->dev[n];
		if (!(d->config[PCI_COMMAND] & PCI_COMMAND_MEMORY))
			continue;
		for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
			uint64_t bsize = d->bar_size[i];
			uint64_t base = pci_get32(d->config + PCI_BAR0 + 4 * i) & ~0xfull;
			if (d->bar_flags[i] & PCI_BAR_MEM64)
				base |= (uint64_t)pci_get32(d->config + PCI_BAR0 + 4 * (i + 1))
					<< 32;
			if (!bsize || gpa < base || gpa - base >= bsize ||
			    size > bsize - (gpa - base))
				continue;
			*ops = d->bar_ops[i];
			*opaque = d->opaque;
			*off = gpa - base;
			found = size >= (*ops)->min_size && size <= (*ops)->max_size;
			break;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return found;
}

static uint64_t window_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_window *w = opaque;
	const struct mmio_ops *ops;
	void *dev;
	uint64_t off;
	if (!find_bar(w->host, w->base + offset, size, &ops, &dev, &off))
		return all_ones(size);
	return ops->read(dev, off, size);
}

static void window_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_window *w = opaque;
	const struct mmio_ops *ops;
	void *dev;
	uint64_t off;
	if (find_bar(w->host, w->base + offset, size, &ops, &dev, &off))
		ops->write(dev, off, size, value);
}

const struct mmio_ops pci_mmio_ops = {
    .read = window_read,
    .write = window_write,
    .min_size = 1,
    .max_size = 8,
};
