/* The virtio-pci transport, modern interface only (virtio 1.2 section 4.1): a PCI function
 * with vendor 0x1af4 and device 0x1040 + device id, whose vendor-specific capabilities point
 * into one memory BAR (BAR 0, 64-bit prefetchable) holding the common configuration, notification,
 * ISR status and device configuration structures, decoded onto a struct virtio_transport.
 * Interrupts are INTx (no MSI-X: there is no MSI controller on the board); the
 * VIRTIO_PCI_CAP_PCI_CFG window is provided. */
#ifndef RVISOR_VIRTIO_PCI_H
#define RVISOR_VIRTIO_PCI_H

#include "dev/pci.h"
#include "virtio/transport.h"

/* BAR 0's layout (bytes from its base): each structure in its own 4 KiB page. */
#define VIRTIO_PCI_BAR_SIZE    0x4000
#define VIRTIO_PCI_COMMON_OFF  0x0000
#define VIRTIO_PCI_ISR_OFF     0x1000
#define VIRTIO_PCI_DEVICE_OFF  0x2000
#define VIRTIO_PCI_NOTIFY_OFF  0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4 /* notify_off_multiplier: queue q at NOTIFY_OFF + 4 q */

/* Common configuration structure offsets (4.1.4.3). */
#define VIRTIO_PCI_COMMON_DFSELECT  0x00
#define VIRTIO_PCI_COMMON_DF        0x04
#define VIRTIO_PCI_COMMON_GFSELECT  0x08
#define VIRTIO_PCI_COMMON_GF        0x0c
#define VIRTIO_PCI_COMMON_MSIX      0x10
#define VIRTIO_PCI_COMMON_NUMQ      0x12
#define VIRTIO_PCI_COMMON_STATUS    0x14
#define VIRTIO_PCI_COMMON_CFGGEN    0x15
#define VIRTIO_PCI_COMMON_Q_SELECT  0x16
#define VIRTIO_PCI_COMMON_Q_SIZE    0x18
#define VIRTIO_PCI_COMMON_Q_MSIX    0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE  0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF    0x1e
#define VIRTIO_PCI_COMMON_Q_DESCLO  0x20
#define VIRTIO_PCI_COMMON_Q_DESCHI  0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO 0x28
#define VIRTIO_PCI_COMMON_Q_AVAILHI 0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO  0x30
#define VIRTIO_PCI_COMMON_Q_USEDHI  0x34
#define VIRTIO_PCI_COMMON_Q_NDATA   0x38
#define VIRTIO_PCI_COMMON_Q_RESET   0x3a
#define VIRTIO_PCI_COMMON_SIZE      0x3c

/* Capability cfg_type values (4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5

#define VIRTIO_PCI_NO_VECTOR 0xffff /* config_msix_vector / queue_msix_vector: none */

/* One virtio device on PCI: the shared transport state and the PCI function that decodes
 * onto it. */
struct virtio_pci {
	struct virtio_transport t; /* what the device sees */
	struct pci_device pci;     /* configuration space and BAR 0 */
	unsigned cfg_cap;          /* offset of the VIRTIO_PCI_CAP_PCI_CFG capability */
};

/* Set up vp for dev: the transport (virtio_transport_init) and the PCI function's
 * configuration space; add vp->pci to a bus with pci_host_add afterwards (its INTx is the
 * transport's interrupt). Returns 0 or -EINVAL (also for configuration space larger than
 * 4 KiB). */
int virtio_pci_init(struct virtio_pci *vp, const struct virtio_dev *dev, struct guest_mem *mem);
/* Release the transport; take the function off its bus (pci_host_destroy) first. */
void virtio_pci_destroy(struct virtio_pci *vp);

/* Snapshots (see transport.h; implemented in virtio/state.c). */
struct state_in;
struct state_out;
/* Section "virtio-pci", version 1: the PCI function's configuration space image, 256 bytes
 * (pci_device_save_config), of which the guest's are command, BAR 0, cache line, latency
 * timer, interrupt line and the VIRTIO_PCI_CAP_PCI_CFG window's fields; then the transport's
 * section ("virtio"). */
void virtio_pci_state_save(struct virtio_pci *vp, struct state_out *o);
/* Load both sections into vp (on its bus): the image as the guest's configuration writes
 * would apply it (pci_device_load_config): only the writable bits are taken, and every
 * read-only bit must match vp's own, so that another device or layout is refused; BAR 0
 * decodes at once where the guest had placed it, and Interrupt Disable is in place before the
 * transport (virtio_transport_state_load) drives INTx. Returns 0 or -EINVAL. */
int virtio_pci_state_load(struct virtio_pci *vp, struct state_in *in);
/* Section "pci-host", version 1, of the bridge the virtio-pci functions sit on. The bridge
 * keeps no state the guest wrote beyond its functions' configuration spaces (saved with each
 * function), so this only identifies the bus: u32 number of functions, then each one's u32
 * vendor and device ID. The load checks them equal to h's, device number by device number. */
void pci_host_state_save(struct pci_host *h, struct state_out *o);
int pci_host_state_load(struct pci_host *h, struct state_in *in);

#endif
