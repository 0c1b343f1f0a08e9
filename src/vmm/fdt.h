/* Device tree generation with libfdt: the board a VM's configuration describes, in the form
 * Linux, OpenSBI and U-Boot expect of a virt-style RISC-V machine (Devicetree spec 0.4,
 * RISC-V CPU and PLIC/CLINT bindings). */
#ifndef RVISOR_VMM_FDT_H
#define RVISOR_VMM_FDT_H

#include <stddef.h>
#include <stdint.h>

#define FDT_MAX_VIRTIO 16
#define FDT_MAX_PCI    32 /* device numbers on bus 0 */

/* What the device tree describes. Addresses are guest-physical, sizes in bytes. */
struct fdt_board {
	unsigned nharts;
	uint64_t ram_base, ram_size;
	const char *isa;                   /* riscv,isa string, e.g. "rv64imafdc_zicsr_..." */
	const char *const *isa_extensions; /* riscv,isa-extensions list (lower case) */
	unsigned n_isa_extensions;
	const char *mmu_type; /* "riscv,sv57" */
	uint32_t timebase_hz;
	uint64_t clint_base, clint_size;
	uint64_t sswi_base, sswi_size; /* ACLINT SSWI (riscv,aclint-sswi); none when size is 0 */
	uint64_t plic_base, plic_size;
	unsigned plic_ndev; /* riscv,ndev: highest source id */
	uint64_t uart_base, uart_size;
	unsigned uart_irq;
	uint32_t uart_clock_hz;
	uint64_t syscon_base, syscon_size;
	uint64_t rtc_base, rtc_size; /* Goldfish RTC; no node when rtc_size is 0 */
	unsigned rtc_irq;
	struct {
		uint64_t base, size;
		unsigned irq;
	} virtio[FDT_MAX_VIRTIO];
	unsigned nvirtio;
	/* The PCIe host bridge (pci-host-ecam-generic, bus 0); no node when pci_ecam_size is
	 * 0. Device n's INTA goes to PLIC source pci_irq[n] (interrupt-map), for n < npci. */
	uint64_t pci_ecam_base, pci_ecam_size;
	uint64_t pci_mmio_base, pci_mmio_size;     /* the 32-bit memory window BARs go in */
	uint64_t pci_mmio64_base, pci_mmio64_size; /* the 64-bit prefetchable one; 0: none */
	unsigned pci_irq[FDT_MAX_PCI];
	unsigned npci;
	const char *bootargs;              /* kernel command line, or NULL */
	uint64_t initrd_start, initrd_end; /* 0, 0 when there is no initrd */
	const void *rng_seed;              /* bytes for /chosen/rng-seed, or NULL */
	size_t rng_seed_len;
};

/* Write the device tree for board b into buf (bufsize bytes). Returns the size of the blob
 * in bytes, or -ENOSPC if buf is too small, or -EINVAL (e.g. a PLIC source outside
 * 1..plic_ndev, or two devices on one source). */
int fdt_build(const struct fdt_board *b, void *buf, size_t bufsize);

#endif
