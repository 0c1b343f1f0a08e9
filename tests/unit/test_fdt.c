/* Unit tests of the device-tree generator: the blob is read back with libfdt and checked
 * against the Devicetree spec (header, paths, reg encodings) and the RISC-V bindings the kernel
 * and OpenSBI rely on (cpus, riscv,cpu-intc, CLINT and PLIC interrupts-extended, chosen). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libfdt.h>

#include "vmm/fdt.h"

#define BUF_SIZE 65536

static const char *const extensions[] = {"i", "m",      "a",     "f",        "d",
					 "c", "zicntr", "zicsr", "zifencei", "sstc"};
static const uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static struct fdt_board board(unsigned nharts)
{
	struct fdt_board b = {
	    .nharts = nharts,
	    .ram_base = 0x80000000,
	    .ram_size = 0x10000000,
	    .isa = "rv64imafdc_zicntr_zicsr_zifencei_sstc",
	    .isa_extensions = extensions,
	    .n_isa_extensions = sizeof(extensions) / sizeof(extensions[0]),
	    .mmu_type = "riscv,sv57",
	    .timebase_hz = 10000000,
	    .clint_base = 0x2000000,
	    .clint_size = 0x10000,
	    .sswi_base = 0x2f00000,
	    .sswi_size = 0x4000,
	    .plic_base = 0xc000000,
	    .plic_size = 0x4000000,
	    .plic_ndev = 95,
	    .uart_base = 0x10000000,
	    .uart_size = 0x100,
	    .uart_irq = 10,
	    .uart_clock_hz = 3686400,
	    .syscon_base = 0x100000,
	    .syscon_size = 0x1000,
	    .rtc_base = 0x101000,
	    .rtc_size = 0x1000,
	    .rtc_irq = 11,
	    .bootargs = "console=ttyS0 earlycon=sbi",
	    .initrd_start = 0x88000000,
	    .initrd_end = 0x88123456,
	    .rng_seed = seed,
	    .rng_seed_len = sizeof(seed),
	    .nvirtio = 2,
	};
	b.virtio[0].base = 0x10001000;
	b.virtio[0].size = 0x1000;
	b.virtio[0].irq = 1;
	b.virtio[1].base = 0x10002000;
	b.virtio[1].size = 0x1000;
	b.virtio[1].irq = 2;
	return b;
}

/* Build b into a fresh buffer and check the header; the caller frees it. */
static void *build(const struct fdt_board *b)
{
	void *buf = malloc(BUF_SIZE);
	assert_non_null(buf);
	int n = fdt_build(b, buf, BUF_SIZE);
	assert_true(n > 0);
	assert_int_equal(fdt_check_header(buf), 0);
	assert_int_equal(fdt_totalsize(buf), (uint32_t)n);
	return buf;
}

static int node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);
	if (off < 0)
		fail_msg("no node %s (%s)", path, fdt_strerror(off));
	return off;
}

static const void *prop(const void *fdt, const char *path, const char *name, int *len)
{
	const void *p = fdt_getprop(fdt, node(fdt, path), name, len);
	if (!p)
		fail_msg("no property %s in %s", name, path);
	return p;
}

static uint32_t prop_u32(const void *fdt, const char *path, const char *name)
{
	int len;
	const fdt32_t *p = prop(fdt, path, name, &len);
	assert_int_equal(len, 4);
	return fdt32_to_cpu(*p);
}

static uint64_t prop_u64(const void *fdt, const char *path, const char *name)
{
	int len;
	const fdt64_t *p = prop(fdt, path, name, &len);
	assert_int_equal(len, 8);
	return fdt64_ld(p);
}

static void assert_prop_str(const void *fdt, const char *path, const char *name, const char *want)
{
	int len;
	const char *p = prop(fdt, path, name, &len);
	assert_int_equal(len, (int)strlen(want) + 1);
	assert_string_equal(p, want);
}

/* A property holding a list of NUL-terminated strings, compared with want (len bytes). */
static void assert_prop_bytes(const void *fdt, const char *path, const char *name, const void *want,
			      int want_len)
{
	int len;
	const void *p = prop(fdt, path, name, &len);
	assert_int_equal(len, want_len);
	assert_memory_equal(p, want, (size_t)want_len);
}

/* reg = <base size> in two 2-cell numbers. */
static void assert_reg(const void *fdt, const char *path, uint64_t base, uint64_t size)
{
	int len;
	const fdt64_t *p = prop(fdt, path, "reg", &len);
	assert_int_equal(len, 16);
	assert_int_equal(fdt64_ld(&p[0]), base);
	assert_int_equal(fdt64_ld(&p[1]), size);
}

static uint32_t intc_phandle(const void *fdt, unsigned hart)
{
	char path[64];
	snprintf(path, sizeof(path), "/cpus/cpu@%x/interrupt-controller", hart);
	uint32_t ph = fdt_get_phandle(fdt, node(fdt, path));
	assert_int_not_equal(ph, 0);
	return ph;
}

static void test_root_and_memory(void **state)
{
	(void)state;
	struct fdt_board b = board(1);
	void *fdt = build(&b);
	assert_int_equal(prop_u32(fdt, "/", "#address-cells"), 2);
	assert_int_equal(prop_u32(fdt, "/", "#size-cells"), 2);
	assert_prop_str(fdt, "/", "compatible", "riscv-virtio");
	assert_prop_str(fdt, "/", "model", "rvisor,virt");
	assert_prop_str(fdt, "/memory@80000000", "device_type", "memory");
	assert_reg(fdt, "/memory@80000000", 0x80000000, 0x10000000);
	free(fdt);
}

static void test_chosen(void **state)
{
	(void)state;
	struct fdt_board b = board(1);
	void *fdt = build(&b);
	assert_prop_str(fdt, "/chosen", "bootargs", "console=ttyS0 earlycon=sbi");
	assert_int_equal(prop_u64(fdt, "/chosen", "linux,initrd-start"), 0x88000000);
	assert_int_equal(prop_u64(fdt, "/chosen", "linux,initrd-end"), 0x88123456);
	assert_prop_bytes(fdt, "/chosen", "rng-seed", seed, sizeof(seed));
	/* stdout-path must name the UART's real node. */
	int len;
	const char *out = prop(fdt, "/chosen", "stdout-path", &len);
	assert_string_equal(out, "/soc/serial@10000000");
	assert_true(fdt_path_offset(fdt, out) >= 0);
	free(fdt);
}

static void test_chosen_without_initrd_or_bootargs(void **state)
{
	(void)state;
	struct fdt_board b = board(1);
	b.initrd_start = b.initrd_end = 0;
	b.bootargs = NULL;
	b.rng_seed = NULL;
	b.rng_seed_len = 0;
	void *fdt = build(&b);
	int chosen = node(fdt, "/chosen");
	assert_null(fdt_getprop(fdt, chosen, "linux,initrd-start", NULL));
	assert_null(fdt_getprop(fdt, chosen, "linux,initrd-end", NULL));
	assert_null(fdt_getprop(fdt, chosen, "bootargs", NULL));
	assert_null(fdt_getprop(fdt, chosen, "rng-seed", NULL));
	assert_non_null(fdt_getprop(fdt, chosen, "stdout-path", NULL));
	free(fdt);
}

static void check_cpus(unsigned nharts)
{
	struct fdt_board b = board(nharts);
	void *fdt = build(&b);
	char path[64], want_ext[128];
	size_t ext_len = 0;

	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++) {
		memcpy(want_ext + ext_len, extensions[i], strlen(extensions[i]) + 1);
		ext_len += strlen(extensions[i]) + 1;
	}
	assert_int_equal(prop_u32(fdt, "/cpus", "#address-cells"), 1);
	assert_int_equal(prop_u32(fdt, "/cpus", "#size-cells"), 0);
	assert_int_equal(prop_u32(fdt, "/cpus", "timebase-frequency"), 10000000);
	for (unsigned i = 0; i < nharts; i++) {
		snprintf(path, sizeof(path), "/cpus/cpu@%x", i);
		assert_int_equal(prop_u32(fdt, path, "reg"), i);
		assert_prop_str(fdt, path, "device_type", "cpu");
		assert_prop_str(fdt, path, "status", "okay");
		assert_prop_str(fdt, path, "compatible", "riscv");
		assert_prop_str(fdt, path, "riscv,isa", b.isa);
		assert_prop_str(fdt, path, "riscv,isa-base", "rv64i");
		assert_prop_bytes(fdt, path, "riscv,isa-extensions", want_ext, (int)ext_len);
		assert_prop_str(fdt, path, "mmu-type", "riscv,sv57");
		/* No Zicbom in the list: no block size either. */
		assert_null(fdt_getprop(fdt, node(fdt, path), "riscv,cbom-block-size", NULL));
		uint32_t cpu_ph = fdt_get_phandle(fdt, node(fdt, path));
		assert_int_not_equal(cpu_ph, 0);

		snprintf(path, sizeof(path), "/cpus/cpu@%x/interrupt-controller", i);
		assert_prop_str(fdt, path, "compatible", "riscv,cpu-intc");
		assert_int_equal(prop_u32(fdt, path, "#interrupt-cells"), 1);
		assert_non_null(prop(fdt, path, "interrupt-controller", NULL));

		snprintf(path, sizeof(path), "/cpus/cpu-map/cluster0/core%u", i);
		assert_int_equal(prop_u32(fdt, path, "cpu"), cpu_ph);
	}
	snprintf(path, sizeof(path), "/cpus/cpu@%x", nharts);
	assert_true(fdt_path_offset(fdt, path) < 0);
	free(fdt);
}

static void test_cpus_1(void **state)
{
	(void)state;
	check_cpus(1);
}

static void test_cpus_4(void **state)
{
	(void)state;
	check_cpus(4);
}

static void test_cbom_block_size_with_zicbom(void **state)
{
	(void)state;
	static const char *const ext[] = {"i", "m", "a", "zicbom", "zicboz"};
	struct fdt_board b = board(1);
	b.isa_extensions = ext;
	b.n_isa_extensions = 5;
	void *fdt = build(&b);
	assert_int_equal(prop_u32(fdt, "/cpus/cpu@0", "riscv,cbom-block-size"), 64);
	assert_int_equal(prop_u32(fdt, "/cpus/cpu@0", "riscv,cboz-block-size"), 64);
	free(fdt);
}

/* interrupts-extended holds <intc_N a intc_N b> for every hart N, in hart order. */
static void assert_irqs_per_hart(const void *fdt, const char *path, unsigned nharts, uint32_t a,
				 uint32_t b)
{
	int len;
	const fdt32_t *p = prop(fdt, path, "interrupts-extended", &len);
	assert_int_equal(len, (int)(nharts * 16));
	for (unsigned i = 0; i < nharts; i++) {
		uint32_t ph = intc_phandle(fdt, i);
		assert_int_equal(fdt32_to_cpu(p[4 * i + 0]), ph);
		assert_int_equal(fdt32_to_cpu(p[4 * i + 1]), a);
		assert_int_equal(fdt32_to_cpu(p[4 * i + 2]), ph);
		assert_int_equal(fdt32_to_cpu(p[4 * i + 3]), b);
	}
}

static void check_interrupt_controllers(unsigned nharts)
{
	static const char clint[] = "sifive,clint0\0riscv,clint0";
	static const char plic[] = "sifive,plic-1.0.0\0riscv,plic0";
	struct fdt_board b = board(nharts);
	void *fdt = build(&b);

	assert_prop_bytes(fdt, "/soc", "compatible", "simple-bus", 11);
	assert_non_null(prop(fdt, "/soc", "ranges", NULL));
	assert_prop_bytes(fdt, "/soc/clint@2000000", "compatible", clint, sizeof(clint));
	assert_reg(fdt, "/soc/clint@2000000", 0x2000000, 0x10000);
	/* CLINT: machine software (3) and machine timer (7) interrupts. */
	assert_irqs_per_hart(fdt, "/soc/clint@2000000", nharts, 3, 7);

	/* ACLINT SSWI: each hart's supervisor software interrupt (1). */
	assert_prop_bytes(fdt, "/soc/sswi@2f00000", "compatible", "riscv,aclint-sswi", 18);
	assert_reg(fdt, "/soc/sswi@2f00000", 0x2f00000, 0x4000);
	assert_non_null(prop(fdt, "/soc/sswi@2f00000", "interrupt-controller", NULL));
	assert_int_equal(prop_u32(fdt, "/soc/sswi@2f00000", "#interrupt-cells"), 0);
	int len;
	const fdt32_t *p = prop(fdt, "/soc/sswi@2f00000", "interrupts-extended", &len);
	assert_int_equal(len, (int)(nharts * 8));
	for (unsigned i = 0; i < nharts; i++) {
		assert_int_equal(fdt32_to_cpu(p[2 * i]), intc_phandle(fdt, i));
		assert_int_equal(fdt32_to_cpu(p[2 * i + 1]), 1);
	}

	assert_prop_bytes(fdt, "/soc/plic@c000000", "compatible", plic, sizeof(plic));
	assert_reg(fdt, "/soc/plic@c000000", 0xc000000, 0x4000000);
	assert_int_equal(prop_u32(fdt, "/soc/plic@c000000", "riscv,ndev"), 95);
	assert_int_equal(prop_u32(fdt, "/soc/plic@c000000", "#interrupt-cells"), 1);
	assert_int_equal(prop_u32(fdt, "/soc/plic@c000000", "#address-cells"), 0);
	assert_non_null(prop(fdt, "/soc/plic@c000000", "interrupt-controller", NULL));
	/* PLIC contexts: M-mode external (11) then S-mode external (9) for each hart. */
	assert_irqs_per_hart(fdt, "/soc/plic@c000000", nharts, 11, 9);
	free(fdt);
}

static void test_interrupt_controllers_1(void **state)
{
	(void)state;
	check_interrupt_controllers(1);
}

static void test_interrupt_controllers_4(void **state)
{
	(void)state;
	check_interrupt_controllers(4);
}

static void test_devices_point_at_plic(void **state)
{
	(void)state;
	struct fdt_board b = board(2);
	void *fdt = build(&b);
	uint32_t plic = fdt_get_phandle(fdt, node(fdt, "/soc/plic@c000000"));
	assert_int_not_equal(plic, 0);

	assert_prop_str(fdt, "/soc/serial@10000000", "compatible", "ns16550a");
	assert_reg(fdt, "/soc/serial@10000000", 0x10000000, 0x100);
	assert_int_equal(prop_u32(fdt, "/soc/serial@10000000", "interrupts"), 10);
	assert_int_equal(prop_u32(fdt, "/soc/serial@10000000", "interrupt-parent"), plic);
	assert_int_equal(prop_u32(fdt, "/soc/serial@10000000", "clock-frequency"), 3686400);

	assert_prop_str(fdt, "/soc/rtc@101000", "compatible", "google,goldfish-rtc");
	assert_reg(fdt, "/soc/rtc@101000", 0x101000, 0x1000);
	assert_int_equal(prop_u32(fdt, "/soc/rtc@101000", "interrupts"), 11);
	assert_int_equal(prop_u32(fdt, "/soc/rtc@101000", "interrupt-parent"), plic);

	assert_prop_str(fdt, "/soc/virtio_mmio@10001000", "compatible", "virtio,mmio");
	assert_reg(fdt, "/soc/virtio_mmio@10001000", 0x10001000, 0x1000);
	assert_int_equal(prop_u32(fdt, "/soc/virtio_mmio@10001000", "interrupts"), 1);
	assert_int_equal(prop_u32(fdt, "/soc/virtio_mmio@10001000", "interrupt-parent"), plic);
	assert_reg(fdt, "/soc/virtio_mmio@10002000", 0x10002000, 0x1000);
	assert_int_equal(prop_u32(fdt, "/soc/virtio_mmio@10002000", "interrupts"), 2);
	assert_true(fdt_path_offset(fdt, "/soc/virtio_mmio@10003000") < 0);
	free(fdt);
}

/* The PCIe host bridge: ECAM, bus 0, one 32-bit memory window identity-mapped, and each
 * device's INTA on its own PLIC source through interrupt-map. */
static void test_pci_host_bridge(void **state)
{
	(void)state;
	struct fdt_board b = board(1);
	void *fdt = build(&b);
	assert_true(fdt_node_offset_by_compatible(fdt, -1, "pci-host-ecam-generic") < 0);
	free(fdt);

	b.pci_ecam_base = 0x30000000;
	b.pci_ecam_size = 0x100000;
	b.pci_mmio_base = 0x40000000;
	b.pci_mmio_size = 0x40000000;
	b.pci_mmio64_base = 0x20000000000;
	b.pci_mmio64_size = 0x1000000000;
	b.npci = 2;
	b.pci_irq[0] = 32;
	b.pci_irq[1] = 33;
	fdt = build(&b);
	const char *path = "/soc/pci@30000000";
	uint32_t plic = fdt_get_phandle(fdt, node(fdt, "/soc/plic@c000000"));
	assert_prop_str(fdt, path, "compatible", "pci-host-ecam-generic");
	assert_prop_str(fdt, path, "device_type", "pci");
	assert_reg(fdt, path, 0x30000000, 0x100000);
	assert_int_equal(prop_u32(fdt, path, "#address-cells"), 3);
	assert_int_equal(prop_u32(fdt, path, "#size-cells"), 2);
	assert_int_equal(prop_u32(fdt, path, "#interrupt-cells"), 1);
	assert_int_equal(prop_u32(fdt, "/soc/plic@c000000", "#address-cells"), 0);
	const uint32_t bus_range[] = {0, 0};
	assert_prop_bytes(fdt, path, "bus-range", bus_range, sizeof(bus_range));
	/* 32-bit non-prefetchable, then 64-bit prefetchable, both one to one. */
	const uint32_t ranges[] = {
	    cpu_to_fdt32(0x02000000), 0, cpu_to_fdt32(0x40000000), 0,
	    cpu_to_fdt32(0x40000000), 0, cpu_to_fdt32(0x40000000), cpu_to_fdt32(0x43000000),
	    cpu_to_fdt32(0x200),      0, cpu_to_fdt32(0x200),      0,
	    cpu_to_fdt32(0x10),       0};
	assert_prop_bytes(fdt, path, "ranges", ranges, sizeof(ranges));
	const uint32_t mask[] = {cpu_to_fdt32(0xf800), 0, 0, cpu_to_fdt32(7)};
	assert_prop_bytes(fdt, path, "interrupt-map-mask", mask, sizeof(mask));
	const uint32_t map[] = {0,
				0,
				0,
				cpu_to_fdt32(1),
				cpu_to_fdt32(plic),
				cpu_to_fdt32(32),
				cpu_to_fdt32(1 << 11),
				0,
				0,
				cpu_to_fdt32(1),
				cpu_to_fdt32(plic),
				cpu_to_fdt32(33)};
	assert_prop_bytes(fdt, path, "interrupt-map", map, sizeof(map));
	free(fdt);

	/* A PCI device on a source another device has is refused. */
	b.pci_irq[1] = 10;
	uint8_t buf[BUF_SIZE];
	assert_int_equal(fdt_build(&b, buf, sizeof(buf)), -EINVAL);
}

static void test_rtc_optional(void **state)
{
	(void)state;
	struct fdt_board b = board(1);
	b.rtc_size = 0;
	b.rtc_irq = 0; /* unused without the device */
	void *fdt = build(&b);
	assert_true(fdt_path_offset(fdt, "/soc/rtc@101000") < 0);
	assert_true(fdt_node_offset_by_compatible(fdt, -1, "google,goldfish-rtc") < 0);
	free(fdt);
}

static void test_syscon_poweroff_reboot(void **state)
{
	(void)state;
	static const char test_compat[] = "sifive,test1\0sifive,test0\0syscon";
	struct fdt_board b = board(1);
	void *fdt = build(&b);
	assert_prop_bytes(fdt, "/soc/test@100000", "compatible", test_compat, sizeof(test_compat));
	assert_reg(fdt, "/soc/test@100000", 0x100000, 0x1000);
	uint32_t syscon = fdt_get_phandle(fdt, node(fdt, "/soc/test@100000"));
	assert_int_not_equal(syscon, 0);

	int off = fdt_node_offset_by_compatible(fdt, -1, "syscon-poweroff");
	assert_true(off >= 0);
	const fdt32_t *p = fdt_getprop(fdt, off, "regmap", NULL);
	assert_non_null(p);
	assert_int_equal(fdt32_to_cpu(*p), syscon);
	p = fdt_getprop(fdt, off, "offset", NULL);
	assert_non_null(p);
	assert_int_equal(fdt32_to_cpu(*p), 0);
	p = fdt_getprop(fdt, off, "value", NULL);
	assert_non_null(p);
	assert_int_equal(fdt32_to_cpu(*p), 0x5555);

	off = fdt_node_offset_by_compatible(fdt, -1, "syscon-reboot");
	assert_true(off >= 0);
	p = fdt_getprop(fdt, off, "regmap", NULL);
	assert_non_null(p);
	assert_int_equal(fdt32_to_cpu(*p), syscon);
	p = fdt_getprop(fdt, off, "value", NULL);
	assert_non_null(p);
	assert_int_equal(fdt32_to_cpu(*p), 0x7777);
	free(fdt);
}

/* Every phandle in the tree is distinct (Devicetree spec 2.3.3). */
static void test_phandles_unique(void **state)
{
	(void)state;
	struct fdt_board b = board(4);
	void *fdt = build(&b);
	uint32_t seen[64];
	unsigned n = 0;
	for (int off = fdt_next_node(fdt, -1, NULL); off >= 0;
	     off = fdt_next_node(fdt, off, NULL)) {
		uint32_t ph = fdt_get_phandle(fdt, off);
		if (!ph)
			continue;
		for (unsigned i = 0; i < n; i++)
			assert_int_not_equal(seen[i], ph);
		assert_true(n < 64);
		seen[n++] = ph;
	}
	assert_int_equal(n, 4 + 4 + 2); /* cpus, their intcs, PLIC, syscon */
	free(fdt);
}

static void test_too_small_buffer(void **state)
{
	(void)state;
	struct fdt_board b = board(4);
	uint8_t *buf = malloc(BUF_SIZE);
	assert_non_null(buf);
	int n = fdt_build(&b, buf, BUF_SIZE);
	assert_true(n > 0);
	assert_int_equal(fdt_build(&b, buf, 64), -ENOSPC);
	assert_int_equal(fdt_build(&b, buf, (size_t)n - 1), -ENOSPC);
	assert_int_equal(fdt_build(&b, buf, 0), -ENOSPC);
	/* fdt_pack leaves no slack: a somewhat larger buffer gives the same blob size. */
	assert_int_equal(fdt_build(&b, buf, (size_t)n + 64), n);
	assert_int_equal(fdt_check_header(buf), 0);
	assert_int_equal(fdt_totalsize(buf), (uint32_t)n);
	free(buf);
}

static void test_invalid_board(void **state)
{
	(void)state;
	uint8_t *buf = malloc(BUF_SIZE);
	assert_non_null(buf);
	struct fdt_board b = board(1);
	b.nharts = 0;
	assert_int_equal(fdt_build(&b, buf, BUF_SIZE), -EINVAL);
	b = board(1);
	b.isa = NULL;
	assert_int_equal(fdt_build(&b, buf, BUF_SIZE), -EINVAL);
	b = board(1);
	b.nvirtio = FDT_MAX_VIRTIO + 1;
	assert_int_equal(fdt_build(&b, buf, BUF_SIZE), -EINVAL);
	b = board(1);
	b.uart_irq = 96; /* above riscv,ndev */
	assert_int_equal(fdt_build(&b, buf, BUF_SIZE), -EINVAL);
	b = board(1);
	b.virtio[1].irq = 0; /* source 0 means "no interrupt" */
	assert_int_equal(fdt_build(&b, buf, BUF_SIZE), -EINVAL);
	b = board(1);
	b.rtc_irq = 0;
	assert_int_equal(fdt_build(&b, buf, BUF_SIZE), -EINVAL);
	/* Two devices on one PLIC source. */
	b = board(1);
	b.rtc_irq = b.uart_irq;
	assert_int_equal(fdt_build(&b, buf, BUF_SIZE), -EINVAL);
	b = board(1);
	b.virtio[1].irq = b.rtc_irq;
	assert_int_equal(fdt_build(&b, buf, BUF_SIZE), -EINVAL);
	b = board(1);
	b.virtio[1].irq = b.virtio[0].irq;
	assert_int_equal(fdt_build(&b, buf, BUF_SIZE), -EINVAL);
	b = board(1);
	b.initrd_end = b.initrd_start - 1;
	assert_int_equal(fdt_build(&b, buf, BUF_SIZE), -EINVAL);
	assert_int_equal(fdt_build(NULL, buf, BUF_SIZE), -EINVAL);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_root_and_memory),
	    cmocka_unit_test(test_chosen),
	    cmocka_unit_test(test_chosen_without_initrd_or_bootargs),
	    cmocka_unit_test(test_cpus_1),
	    cmocka_unit_test(test_cpus_4),
	    cmocka_unit_test(test_cbom_block_size_with_zicbom),
	    cmocka_unit_test(test_interrupt_controllers_1),
	    cmocka_unit_test(test_interrupt_controllers_4),
	    cmocka_unit_test(test_devices_point_at_plic),
	    cmocka_unit_test(test_pci_host_bridge),
	    cmocka_unit_test(test_rtc_optional),
	    cmocka_unit_test(test_syscon_poweroff_reboot),
	    cmocka_unit_test(test_phandles_unique),
	    cmocka_unit_test(test_too_small_buffer),
	    cmocka_unit_test(test_invalid_board),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
