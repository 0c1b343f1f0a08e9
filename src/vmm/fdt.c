/* Device tree of the virt-style board, written with libfdt's sequential-write API (Devicetree
 * Specification 0.4; Linux bindings riscv/cpus.yaml, riscv/extensions.yaml, sifive,plic-1.0.0,
 * sifive,clint0, riscv,aclint-sswi, syscon-poweroff/-reboot, virtio/mmio,
 * google,goldfish-rtc). Phandles are fixed up front so every reference can be written before or
 * after the node it names. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "vmm/fdt.h"

#define FDT_MAX_HARTS  1024 /* bounds the per-hart property arrays */
#define CBO_BLOCK_SIZE 64   /* Zicbom/Zicboz/Zicbop cache-block size in bytes */

/* RISC-V interrupt causes that interrupts-extended cells name (priv spec 3.1.9). */
#define IRQ_S_SOFT  1
#define IRQ_M_SOFT  3
#define IRQ_M_TIMER 7
#define IRQ_S_EXT   9
#define IRQ_M_EXT   11

/* Propagate a libfdt error out of the enclosing function. */
#define TRY(expr)                       \
	do {                            \
		int try_rc_ = (expr);   \
		if (try_rc_ < 0)        \
			return try_rc_; \
	} while (0)

/* Phandles: cpu N and its interrupt controller, then the PLIC and the syscon. */
static uint32_t ph_cpu(unsigned hart)
{
	return 1 + 2 * hart;
}

static uint32_t ph_intc(unsigned hart)
{
	return 2 + 2 * hart;
}

static uint32_t ph_plic(const struct fdt_board *b)
{
	return 1 + 2 * b->nharts;
}

static uint32_t ph_syscon(const struct fdt_board *b)
{
	return 2 + 2 * b->nharts;
}

/* reg = <base size> with #address-cells = #size-cells = 2. */
static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt64_t reg[2] = {cpu_to_fdt64(base), cpu_to_fdt64(size)};
	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

/* interrupts-extended = <intc_N irq_a intc_N irq_b> for every hart. */
static int prop_irqs_per_hart(void *fdt, const struct fdt_board *b, uint32_t irq_a, uint32_t irq_b)
{
	fdt32_t *cells;
	TRY(fdt_property_placeholder(fdt, "interrupts-extended", (int)(b->nharts * 4 * 4),
				     (void **)&cells));
	for (unsigned i = 0; i < b->nharts; i++) {
		cells[4 * i + 0] = cpu_to_fdt32(ph_intc(i));
		cells[4 * i + 1] = cpu_to_fdt32(irq_a);
		cells[4 * i + 2] = cpu_to_fdt32(ph_intc(i));
		cells[4 * i + 3] = cpu_to_fdt32(irq_b);
	}
	return 0;
}

static int begin_node_at(void *fdt, const char *name, uint64_t addr)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s@%" PRIx64, name, addr);
	return fdt_begin_node(fdt, buf);
}

static bool has_extension(const struct fdt_board *b, const char *ext)
{
	for (unsigned i = 0; i < b->n_isa_extensions; i++)
		if (!strcmp(b->isa_extensions[i], ext))
			return true;
	return false;
}

static int add_chosen(void *fdt, const struct fdt_board *b)
{
	char path[64];
	snprintf(path, sizeof(path), "/soc/serial@%" PRIx64, b->uart_base);
	TRY(fdt_begin_node(fdt, "chosen"));
	if (b->bootargs)
		TRY(fdt_property_string(fdt, "bootargs", b->bootargs));
	TRY(fdt_property_string(fdt, "stdout-path", path));
	if (b->initrd_start || b->initrd_end) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", b->initrd_start));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", b->initrd_end));
	}
	if (b->rng_seed)
		TRY(fdt_property(fdt, "rng-seed", b->rng_seed, (int)b->rng_seed_len));
	TRY(fdt_end_node(fdt));
	TRY(fdt_begin_node(fdt, "aliases"));
	TRY(fdt_property_string(fdt, "serial0", path));
	return fdt_end_node(fdt);
}

static int add_cpu(void *fdt, const struct fdt_board *b, unsigned hart)
{
	char *list;
	int len = 0;

	TRY(begin_node_at(fdt, "cpu", hart));
	TRY(fdt_property_u32(fdt, "phandle", ph_cpu(hart)));
	TRY(fdt_property_string(fdt, "device_type", "cpu"));
	TRY(fdt_property_u32(fdt, "reg", hart));
	TRY(fdt_property_string(fdt, "status", "okay"));
	TRY(fdt_property_string(fdt, "compatible", "riscv"));
	TRY(fdt_property_string(fdt, "riscv,isa", b->isa));
	TRY(fdt_property_string(fdt, "riscv,isa-base",
				strncmp(b->isa, "rv32", 4) ? "rv64i" : "rv32i"));
	for (unsigned i = 0; i < b->n_isa_extensions; i++)
		len += (int)strlen(b->isa_extensions[i]) + 1;
	TRY(fdt_property_placeholder(fdt, "riscv,isa-extensions", len, (void **)&list));
	for (unsigned i = 0; i < b->n_isa_extensions; i++) {
		size_t n = strlen(b->isa_extensions[i]) + 1;
		memcpy(list, b->isa_extensions[i], n);
		list += n;
	}
	if (b->mmu_type)
		TRY(fdt_property_string(fdt, "mmu-type", b->mmu_type));
	if (has_extension(b, "zicbom"))
		TRY(fdt_property_u32(fdt, "riscv,cbom-block-size", CBO_BLOCK_SIZE));
	if (has_extension(b, "zicboz"))
		TRY(fdt_property_u32(fdt, "riscv,cboz-block-size", CBO_BLOCK_SIZE));
	if (has_extension(b, "zicbop"))
		TRY(fdt_property_u32(fdt, "riscv,cbop-block-size", CBO_BLOCK_SIZE));

	TRY(fdt_begin_node(fdt, "interrupt-controller"));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(fdt_property_string(fdt, "compatible", "riscv,cpu-intc"));
	TRY(fdt_property_u32(fdt, "phandle", ph_intc(hart)));
	TRY(fdt_end_node(fdt));
	return fdt_end_node(fdt);
}

static int add_cpus(void *fdt, const struct fdt_board *b)
{
	char name[32];

	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_u32(fdt, "#address-cells", 1));
	TRY(fdt_property_u32(fdt, "#size-cells", 0));
	TRY(fdt_property_u32(fdt, "timebase-frequency", b->timebase_hz));
	for (unsigned i = 0; i < b->nharts; i++)
		TRY(add_cpu(fdt, b, i));
	TRY(fdt_begin_node(fdt, "cpu-map"));
	TRY(fdt_begin_node(fdt, "cluster0"));
	for (unsigned i = 0; i < b->nharts; i++) {
		snprintf(name, sizeof(name), "core%u", i);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_u32(fdt, "cpu", ph_cpu(i)));
		TRY(fdt_end_node(fdt));
	}
	TRY(fdt_end_node(fdt)); /* cluster0 */
	TRY(fdt_end_node(fdt)); /* cpu-map */
	return fdt_end_node(fdt);
}

static int add_device(void *fdt, const struct fdt_board *b, const char *name, uint64_t base,
		      uint64_t size, const char *compatible, unsigned irq)
{
	TRY(begin_node_at(fdt, name, base));
	TRY(fdt_property_string(fdt, "compatible", compatible));
	TRY(prop_reg(fdt, base, size));
	TRY(fdt_property_u32(fdt, "interrupts", irq));
	TRY(fdt_property_u32(fdt, "interrupt-parent", ph_plic(b)));
	return 0; /* the caller adds its own properties, then ends the node */
}

/* The PCIe host bridge (Linux's pci-host-ecam-generic binding, PCI bus binding of IEEE
 * 1275): configuration space by ECAM, a 32-bit and a 64-bit prefetchable memory window, INTA
 * of each device on its own PLIC source through interrupt-map. */
static int add_pci(void *fdt, const struct fdt_board *b)
{
	/* phys.hi of a 32-bit non-prefetchable (ss = 10) and of a 64-bit prefetchable (p = 1,
	 * ss = 11) memory space address; both windows map one to one. */
	const uint32_t space[2] = {0x02000000, 0x43000000};
	const uint64_t base[2] = {b->pci_mmio_base, b->pci_mmio64_base};
	const uint64_t size[2] = {b->pci_mmio_size, b->pci_mmio64_size};
	uint32_t ranges[14];
	unsigned nranges = 0;
	for (unsigned w = 0; w < 2; w++) {
		if (!size[w])
			continue;
		uint32_t *r = ranges + 7 * nranges++;
		r[0] = cpu_to_fdt32(space[w]);
		r[1] = r[3] = cpu_to_fdt32((uint32_t)(base[w] >> 32));
		r[2] = r[4] = cpu_to_fdt32((uint32_t)base[w]);
		r[5] = cpu_to_fdt32((uint32_t)(size[w] >> 32));
		r[6] = cpu_to_fdt32((uint32_t)size[w]);
	}
	/* Match on the device number and the pin only (bus 0, function 0). */
	uint32_t mask[4] = {cpu_to_fdt32(0xf800), 0, 0, cpu_to_fdt32(7)};
	uint32_t map[FDT_MAX_PCI * 6];
	uint32_t bus_range[2] = {0, 0};
	for (unsigned n = 0; n < b->npci; n++) {
		uint32_t *e = map + 6 * n;
		e[0] = cpu_to_fdt32(n << 11); /* phys.hi: device number */
		e[1] = e[2] = 0;
		e[3] = cpu_to_fdt32(1); /* INTA */
		e[4] = cpu_to_fdt32(ph_plic(b));
		e[5] = cpu_to_fdt32(b->pci_irq[n]);
	}
	TRY(begin_node_at(fdt, "pci", b->pci_ecam_base));
	TRY(fdt_property_string(fdt, "compatible", "pci-host-ecam-generic"));
	TRY(fdt_property_string(fdt, "device_type", "pci"));
	TRY(fdt_property_u32(fdt, "#address-cells", 3));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
	TRY(prop_reg(fdt, b->pci_ecam_base, b->pci_ecam_size));
	TRY(fdt_property(fdt, "bus-range", bus_range, sizeof(bus_range)));
	TRY(fdt_property_u32(fdt, "linux,pci-domain", 0));
	TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
	TRY(fdt_property(fdt, "ranges", ranges, 7 * sizeof(uint32_t) * nranges));
	TRY(fdt_property(fdt, "interrupt-map-mask", mask, sizeof(mask)));
	if (b->npci)
		TRY(fdt_property(fdt, "interrupt-map", map, 6 * sizeof(uint32_t) * b->npci));
	return fdt_end_node(fdt);
}

static int add_soc(void *fdt, const struct fdt_board *b)
{
	static const char clint_compat[] = "sifive,clint0\0riscv,clint0";
	static const char plic_compat[] = "sifive,plic-1.0.0\0riscv,plic0";
	static const char test_compat[] = "sifive,test1\0sifive,test0\0syscon";

	TRY(fdt_begin_node(fdt, "soc"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_string(fdt, "compatible", "simple-bus"));
	TRY(fdt_property(fdt, "ranges", NULL, 0));

	TRY(begin_node_at(fdt, "clint", b->clint_base));
	TRY(fdt_property(fdt, "compatible", clint_compat, sizeof(clint_compat)));
	TRY(prop_reg(fdt, b->clint_base, b->clint_size));
	TRY(prop_irqs_per_hart(fdt, b, IRQ_M_SOFT, IRQ_M_TIMER));
	TRY(fdt_end_node(fdt));

	/* ACLINT SSWI (ACLINT spec 4; the binding QEMU's virt board uses): each hart's
	 * S-software interrupt. */
	if (b->sswi_size) {
		fdt32_t *cells;
		TRY(begin_node_at(fdt, "sswi", b->sswi_base));
		TRY(fdt_property_string(fdt, "compatible", "riscv,aclint-sswi"));
		TRY(prop_reg(fdt, b->sswi_base, b->sswi_size));
		TRY(fdt_property_placeholder(fdt, "interrupts-extended", (int)(b->nharts * 2 * 4),
					     (void **)&cells));
		for (unsigned i = 0; i < b->nharts; i++) {
			cells[2 * i + 0] = cpu_to_fdt32(ph_intc(i));
			cells[2 * i + 1] = cpu_to_fdt32(IRQ_S_SOFT);
		}
		TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
		TRY(fdt_property_u32(fdt, "#interrupt-cells", 0));
		TRY(fdt_end_node(fdt));
	}

	/* Context 2n is hart n's M-mode, 2n+1 its S-mode (dev/plic.h). */
	TRY(begin_node_at(fdt, "plic", b->plic_base));
	TRY(fdt_property(fdt, "compatible", plic_compat, sizeof(plic_compat)));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
	TRY(fdt_property_u32(fdt, "#address-cells", 0));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(prop_reg(fdt, b->plic_base, b->plic_size));
	TRY(fdt_property_u32(fdt, "riscv,ndev", b->plic_ndev));
	TRY(prop_irqs_per_hart(fdt, b, IRQ_M_EXT, IRQ_S_EXT));
	TRY(fdt_property_u32(fdt, "phandle", ph_plic(b)));
	TRY(fdt_end_node(fdt));

	TRY(add_device(fdt, b, "serial", b->uart_base, b->uart_size, "ns16550a", b->uart_irq));
	TRY(fdt_property_u32(fdt, "clock-frequency", b->uart_clock_hz));
	TRY(fdt_end_node(fdt));

	if (b->rtc_size) {
		TRY(add_device(fdt, b, "rtc", b->rtc_base, b->rtc_size, "google,goldfish-rtc",
			       b->rtc_irq));
		TRY(fdt_end_node(fdt));
	}

	TRY(begin_node_at(fdt, "test", b->syscon_base));
	TRY(fdt_property(fdt, "compatible", test_compat, sizeof(test_compat)));
	TRY(prop_reg(fdt, b->syscon_base, b->syscon_size));
	TRY(fdt_property_u32(fdt, "phandle", ph_syscon(b)));
	TRY(fdt_end_node(fdt));

	for (unsigned i = 0; i < b->nvirtio; i++) {
		TRY(add_device(fdt, b, "virtio_mmio", b->virtio[i].base, b->virtio[i].size,
			       "virtio,mmio", b->virtio[i].irq));
		TRY(fdt_end_node(fdt));
	}
	if (b->pci_ecam_size)
		TRY(add_pci(fdt, b));
	return fdt_end_node(fdt);
}

/* The test device's registers as syscon-poweroff and syscon-reboot drive them. */
static int add_syscon_actions(void *fdt, const struct fdt_board *b)
{
	static const struct {
		const char *name, *compatible;
		uint32_t value;
	} actions[] = {{"poweroff", "syscon-poweroff", 0x5555},
		       {"reboot", "syscon-reboot", 0x7777}};

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		TRY(fdt_begin_node(fdt, actions[i].name));
		TRY(fdt_property_string(fdt, "compatible", actions[i].compatible));
		TRY(fdt_property_u32(fdt, "regmap", ph_syscon(b)));
		TRY(fdt_property_u32(fdt, "offset", 0));
		TRY(fdt_property_u32(fdt, "value", actions[i].value));
		TRY(fdt_end_node(fdt));
	}
	return 0;
}

static int build(void *fdt, int size, const struct fdt_board *b)
{
	TRY(fdt_create(fdt, size));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_string(fdt, "compatible", "riscv-virtio"));
	TRY(fdt_property_string(fdt, "model", "rvisor,virt"));
	TRY(add_chosen(fdt, b));

	TRY(begin_node_at(fdt, "memory", b->ram_base));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(prop_reg(fdt, b->ram_base, b->ram_size));
	TRY(fdt_end_node(fdt));

	TRY(add_cpus(fdt, b));
	TRY(add_soc(fdt, b));
	TRY(add_syscon_actions(fdt, b));
	TRY(fdt_end_node(fdt)); /* / */
	TRY(fdt_finish(fdt));
	return fdt_pack(fdt);
}

static bool irq_ok(const struct fdt_board *b, unsigned irq)
{
	return irq >= 1 && irq <= b->plic_ndev;
}

/* Every device's PLIC source is valid and no two devices share one (a level-triggered source
 * has one driver). */
static bool irqs_ok(const struct fdt_board *b)
{
	unsigned irq[FDT_MAX_VIRTIO + FDT_MAX_PCI + 2], n = 0;
	if (b->nvirtio > FDT_MAX_VIRTIO || b->npci > FDT_MAX_PCI)
		return false;
	irq[n++] = b->uart_irq;
	if (b->rtc_size)
		irq[n++] = b->rtc_irq;
	for (unsigned i = 0; i < b->nvirtio; i++)
		irq[n++] = b->virtio[i].irq;
	for (unsigned i = 0; i < b->npci; i++)
		irq[n++] = b->pci_irq[i];
	for (unsigned i = 0; i < n; i++) {
		if (!irq_ok(b, irq[i]))
			return false;
		for (unsigned j = 0; j < i; j++)
			if (irq[j] == irq[i])
				return false;
	}
	return true;
}

static bool board_ok(const struct fdt_board *b)
{
	if (!b->nharts || b->nharts > FDT_MAX_HARTS || !b->isa || !b->plic_ndev ||
	    b->nvirtio > FDT_MAX_VIRTIO || (b->n_isa_extensions && !b->isa_extensions) ||
	    (b->rng_seed && (!b->rng_seed_len || b->rng_seed_len > 4096)) ||
	    b->initrd_end < b->initrd_start || !irqs_ok(b))
		return false;
	for (unsigned i = 0; i < b->n_isa_extensions; i++)
		if (!b->isa_extensions[i] || strlen(b->isa_extensions[i]) > 64)
			return false;
	return true;
}

int fdt_build(const struct fdt_board *b, void *buf, size_t bufsize)
{
	if (!b || !buf || !board_ok(b))
		return -EINVAL;
	int size = bufsize > INT_MAX ? INT_MAX : (int)bufsize;
	int rc = build(buf, size, b);
	if (rc == -FDT_ERR_NOSPACE)
		return -ENOSPC;
	if (rc < 0)
		return -EINVAL;
	return (int)fdt_totalsize(buf);
}
