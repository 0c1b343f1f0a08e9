/* A PCI Express host bridge with ECAM configuration access (PCIe Base spec 7.2.2, "Enhanced
 * Configuration Access Mechanism"; the device tree's pci-host-ecam-generic): bus 0 only, one
 * function per device, memory BARs (32-bit, or 64-bit prefetchable) placed by the guest in a
 * 32-bit and a 64-bit MMIO window, INTx wired to one interrupt line per device. Configuration space
 * is the Type 0 header of the PCI Local Bus spec 3.0 chapter 6 (256 bytes; the PCIe extended space
 * reads as zeros: no extended capabilities). Every value the guest writes is masked by what the
 * register allows and never trusted: absent devices read as all ones, BARs decode only with Memory
 * Space enabled, and window accesses no BAR claims read all ones and drop writes (a master abort).
 */
#ifndef RVISOR_DEV_PCI_H
#define RVISOR_DEV_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/irq.h"
#include "mem/bus.h"

#define PCI_MAX_DEVICES 32         /* device numbers 0-31 on bus 0 */
#define PCI_ECAM_SIZE   (1u << 20) /* bytes of ECAM for one bus: 32 devices x 8 functions x 4 KiB */
#define PCI_CONFIG_SIZE 256        /* bytes of conventional configuration space */
#define PCI_NUM_BARS    6

/* Type 0 header registers (PCI Local Bus 3.0, 6.1). */
#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define PCI_STATUS         0x06
#define PCI_REVISION_ID    0x08
#define PCI_CLASS_PROG     0x09
#define PCI_CLASS_DEVICE   0x0a
#define PCI_CACHE_LINE     0x0c
#define PCI_LATENCY_TIMER  0x0d
#define PCI_HEADER_TYPE    0x0e
#define PCI_BAR0           0x10
#define PCI_SUBSYS_VENDOR  0x2c
#define PCI_SUBSYS_ID      0x2e
#define PCI_CAPABILITY     0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d

#define PCI_BAR_MEM64    0x4 /* a 64-bit memory BAR: the next BAR holds bits 63..32 */
#define PCI_BAR_PREFETCH 0x8

#define PCI_COMMAND_MEMORY   0x002
#define PCI_COMMAND_MASTER   0x004
#define PCI_COMMAND_INTX_OFF 0x400
#define PCI_STATUS_INTERRUPT 0x008
#define PCI_STATUS_CAP_LIST  0x010
#define PCI_CAP_ID_VENDOR    0x09

/* One PCI function: its configuration space image, which bits of it the guest may write, its
 * BARs and its INTx pin. The owner fills config (IDs, class, capabilities) and wmask (the
 * writable bits of its capabilities) before pci_host_add, and sets bar_size / bar_ops. */
struct pci_device {
	uint8_t config[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];
	/* Memory BAR i of bar_size[i] bytes (a power of two, at least 16; 0: none), with
	 * bar_flags[i] its type: 0 (32-bit, non-prefetchable) or PCI_BAR_MEM64 |
	 * PCI_BAR_PREFETCH (then BAR i + 1 is its upper half and has no size of its own);
	 * accesses at offset from its base go to bar_ops[i] with opaque. */
	uint32_t bar_size[PCI_NUM_BARS];
	uint8_t bar_flags[PCI_NUM_BARS];
	const struct mmio_ops *bar_ops[PCI_NUM_BARS];
	void *opaque;
	/* Called after a configuration write of size bytes at off (already applied to config
	 * through wmask), for registers with side effects; may be NULL. Runs with the host
	 * bridge's lock held: it must not call back into the bridge. */
	void (*config_written)(void *opaque, unsigned off, unsigned size);
	/* Called to read size bytes at off of a register whose value the owner computes (it
	 * returns true and the value), else false for the image; may be NULL. Same lock. */
	bool (*config_read)(void *opaque, unsigned off, unsigned size, uint32_t *val);

	/* Set by pci_host_add. */
	struct pci_host *host;     /* the bridge it is on */
	unsigned devfn;            /* device number << 3 */
	struct irq_line line;      /* where INTx goes */
	pthread_mutex_t intx_lock; /* orders INTx level changes against Interrupt Disable */
	bool intx_level;           /* the device's interrupt condition */
	bool intx_disabled;        /* the command register's Interrupt Disable */
};

struct pci_host;

/* One memory window: guest-physical [base, base + size); its bus region's opaque. */
struct pci_window {
	struct pci_host *host;
	uint64_t base, size;
};

/* The bridge and bus 0: its devices in device-number order. */
struct pci_host {
	pthread_mutex_t lock;             /* configuration space and BAR routing */
	struct pci_window mmio32, mmio64; /* where the guest places BARs */
	struct pci_device *dev[PCI_MAX_DEVICES];
	unsigned ndev;
};

/* Set up an empty bus whose BARs the guest places in the windows [mmio32_base, +mmio32_size)
 * (below 4 GiB) and [mmio64_base, +mmio64_size). Returns 0 or -errno. */
int pci_host_init(struct pci_host *h, uint64_t mmio32_base, uint64_t mmio32_size,
		  uint64_t mmio64_base, uint64_t mmio64_size);
/* Forget the devices (their owners free them) and release the bridge's lock. */
void pci_host_destroy(struct pci_host *h);
/* Put d at the next free device number, its INTx (pin A) on line. The standard header's
 * writable bits (command, cache line, latency timer, interrupt line, BARs) are set up here;
 * status reports the capability list when config[PCI_CAPABILITY] is set. Returns the device
 * number, or -ENOSPC when the bus is full, or -errno. */
int pci_host_add(struct pci_host *h, struct pci_device *d, struct irq_line line);
/* Drive d's INTx to level (the device's interrupt condition); the line follows unless the
 * guest set Interrupt Disable, and status bit 3 reports it (PCI 3.0, 6.2.2, 6.2.3). Callable
 * from any thread. */
void pci_set_intx(struct pci_device *d, bool level);

/* Copy the configuration space image of d (on a bus: pci_host_add) into out, PCI_CONFIG_SIZE
 * bytes, under the bridge's lock: what a snapshot keeps of the function. The bits the guest
 * wrote (command, BARs, cache line, latency timer, interrupt line, and the owner's writable
 * capability fields) are those of wmask; the rest is the owner's constant image. */
void pci_device_save_config(struct pci_device *d, uint8_t *out);
/* Put back an image saved by pci_device_save_config from a function of the same configuration
 * (d on a bus, its guest not running), as the guest's configuration writes would: of each byte
 * only the bits wmask lets the guest write are taken, and Interrupt Disable takes effect on the
 * INTx line; BARs decode at their restored addresses at once. Every other bit must equal d's
 * own: otherwise returns -EINVAL with *bad the offset of the first byte that differs, and d is
 * unchanged. The owner's config_written is not called: registers with side effects (such as
 * virtio-pci's configuration access window) are the owner's to restore. Returns 0 or -EINVAL. */
int pci_device_load_config(struct pci_device *d, const uint8_t *in, unsigned *bad);

/* MMIO callbacks for the ECAM window (opaque: the struct pci_host), PCI_ECAM_SIZE bytes, and
 * for each BAR window (opaque: &host->mmio32 or &host->mmio64, at its base and size). */
extern const struct mmio_ops pci_ecam_ops;
extern const struct mmio_ops pci_mmio_ops;

/* Little-endian helpers for configuration images. */
static inline void pci_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void pci_put32(uint8_t *p, uint32_t v)
{
	pci_put16(p, (uint16_t)v);
	pci_put16(p + 2, (uint16_t)(v >> 16));
}
static inline uint32_t pci_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
