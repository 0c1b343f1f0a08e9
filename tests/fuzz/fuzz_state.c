/* libFuzzer target for the snapshot state loaders: the state stream (src/state/stream.c), a
 * hart's section (src/cpu/hart_state.c), the platform devices' (aclint, plic, uart16550 and
 * goldfish_rtc_state_load, src/dev/) and the virtio transports', PCI bridge's and devices'
 * (src/virtio/state.c). A snapshot file is hostile input: the stream is loaded into a small
 * machine's parts, set up as vm_create sets them up (src/vmm/machine.c), which are then put
 * to use a little, so that bad state a loader let in shows.
 *
 * The machine: 1 MiB of guest RAM at 0x80000000 (a heap block, so AddressSanitizer sees any
 * access past it), two harts run by the interpreter (no translator, no SBI: an ecall traps),
 * an ACLINT, a PLIC of 96 sources and 4 contexts driving the harts' MEIP and SEIP, a UART on a
 * fake character backend, a Goldfish RTC with its clock frozen (as vm_config.deterministic
 * has it: whether an alarm is due depends on the input alone), and six virtio devices, each
 * on a virtio-mmio slot or a virtio-pci function behind a PCIe host bridge as the input says:
 * virtio-blk (a 16 KiB memfd disk, emptied for each input), virtio-net (a fake backend),
 * virtio-console (another fake character backend), virtio-input, virtio-balloon and
 * virtio-rng; interrupt lines go to the PLIC sources machine.c gives them, and every device
 * window is on the bus the harts use. The harts and the RTC live as long as the process (the
 * RTC's alarm thread is created once) and are reset before each input; everything else is
 * created and destroyed for each input, so that inputs are independent, the disk's worker
 * thread is joined and LeakSanitizer sees what one input leaks. No file is created.
 *
 * Input layout (little-endian):
 *   0  u8  what to load (modulo 14):
 *          0     the whole chain in vm_snapshot_load's order: hart 0, hart 1, aclint, plic,
 *                uart, rtc, pci-host (when a device is on PCI), then for each device in the
 *                order blk, net, console, input, balloon, rng its transport's section(s)
 *                ("virtio", or "virtio-pci" and "virtio") and its own; it stops at the first
 *                failure, as vm_devices_state_load does
 *          1, 2  hart 0, hart 1          3 aclint      4 plic      5 uart      6 rtc
 *          7     pci-host (with all six devices, placed as byte 1 says)
 *          8-13  one device (blk, net, console, input, balloon, rng): its transport's
 *                section(s), then its own
 *   1  u8  bit k: device k (in the order above) is on virtio-pci, else on a virtio-mmio slot
 *          (functions and slots numbered in device order)
 *   2  u8  options: bit 0 the rng is deterministic (its prng state non-zero), bit 1 the disk
 *          is read-only, bit 2 the balloon offers deflate-on-oom
 *   3  u8  unused
 *   4  u16 bytes of state stream
 *   6  the state stream, then the RAM image (the rest of RAM is zero)
 *
 * Checks (abort() with "invariant broken" when one fails):
 *   - every load returns 0 or -EINVAL, -EINVAL exactly when the stream failed, with an error
 *     message that is non-empty, printable ASCII (it reaches terminals and logs) and ends
 *     within STATE_ERR_MAX bytes; the stream's position never passes its end (nor the
 *     entered section's), and a load that succeeds leaves no section entered;
 *   - a load that fails leaves the part as it was (saved again, it saves the same bytes): a
 *     hart, the ACLINT, the PLIC, the UART, the RTC, a transport (virtio-pci: its transport);
 *   - a load that succeeds round-trips: the part saved again gives exactly the bytes it read
 *     (for the RTC, with an alarm already due fired);
 *   - after a load: a hart's priv is U, S or M, its pc even, x0 zero, fflags and frm in range,
 *     satp in a mode the MMU walks, mip only interrupt bits, the reservation a word of RAM;
 *     each hart's MSIP and mtimecmp are the ACLINT's and its MEIP and SEIP the PLIC contexts'
 *     levels, which follow the loaded pending, enable, priority and threshold bits; the UART's
 *     FIFO count and head within its FIFO; a transport's status bits those of virtio 1.2 2.1,
 *     DRIVER_OK only with FEATURES_OK, interrupt status only VRING and CONFIG, every queue's
 *     size at most VIRTQ_MAX_SIZE, and a ready queue a power-of-2 size and rings that
 *     virtq_validate accepts; receive buffers virtio-net and virtio-console hold and the
 *     balloon's statistics request have heads below their queue's size, the held buffers of
 *     distinct heads, as many as the queue has in flight, and segments inside guest RAM;
 *   - when everything selected loaded, the state is used, as a restored VM resumes:
 *     each ready queue is notified once (the disk's requests are then completed), virtio-net
 *     receives a frame, virtio-console input, the balloon is asked for statistics (which
 *     returns a held request), the keyboard sends Ctrl-Alt-Del, and the transport's
 *     registers are read (a virtio-pci function's also through the bus at its loaded BAR, and
 *     its configuration space through ECAM), after which the transport checks hold again;
 *     the ACLINT, PLIC (each context claims what the registers say it must, and completes
 *     it), UART (host input arrives, every register is read) and RTC registers are accessed,
 *     and each of those devices is saved and loaded back into itself, which must succeed;
 *   - then the machine is snapshotted again, as vm_snapshot_save does (the disk and the card
 *     quiesced): every part saves, and the stream loads into freshly created parts with the
 *     checks above (only a held receive buffer may be refused, its chain in RAM having
 *     changed since it was popped);
 *   - then each hart runs up to 512 instructions on the devices' bus (timers and interrupts
 *     checked between batches of 64, as hart_run does; a stopped hart or one in WFI with
 *     nothing pending does not run), after which the hart checks hold and the hart saved
 *     loads back into itself (whatever the interpreter reaches, a snapshot must restore);
 *     at last each driver resets its device: status and interrupt status 0, no queue ready,
 *     and virtio-net, given a frame, holds no receive buffer;
 *   - the RTC's alarm thread sleeps while an armed alarm is not due: on the first input that
 *     leaves an alarm armed and every 16th after, its CPU time over 4 ms must stay under 1 ms.
 * FUZZ_VERBOSE=1 in the environment prints each load's result and error. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "dev/aclint.h"
#include "dev/goldfish_rtc.h"
#include "dev/pci.h"
#include "dev/plic.h"
#include "dev/uart16550.h"
#include "host/blk_file.h"
#include "host/chr.h"
#include "host/net.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"
#include "state/stream.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/input.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/pci.h"
#include "virtio/rng.h"
#include "virtio/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The layout of machine.c. */
#define RAM_BASE        0x80000000ull
#define RAM_SIZE        0x100000ull
#define RTC_BASE        0x00101000ull
#define ACLINT_BASE     0x02000000ull
#define PLIC_BASE       0x0c000000ull
#define UART_BASE       0x10000000ull
#define VIRTIO_BASE     0x10001000ull
#define PCI_ECAM_BASE   0x30000000ull
#define PCI_MMIO_BASE   0x40000000ull
#define PCI_MMIO_SIZE   0x40000000ull
#define PCI_MMIO64_BASE 0x20000000000ull
#define PCI_MMIO64_SIZE 0x1000000000ull
#define UART_IRQ        10
#define RTC_IRQ         11
#define VIRTIO_IRQ      1
#define PCI_IRQ         32
#define PLIC_SOURCES    96
#define NHARTS          2
#define RTC_FROZEN_NS   (1767225600ull * 1000000000ull) /* as machine.c freezes it */

/* PLIC registers (plic.c). */
#define PLIC_CONTEXT_BASE   0x200000u
#define PLIC_CONTEXT_STRIDE 0x1000u
#define PLIC_CLAIM_COMPLETE 0x4u

#define HEADER     6
#define DISK_BYTES (16 * 1024)
#define RUN_ROUNDS 8
#define RUN_BATCH  64

enum { DEV_BLK, DEV_NET, DEV_CONSOLE, DEV_INPUT, DEV_BALLOON, DEV_RNG, NDEV };
enum {
	SEL_CHAIN,
	SEL_HART0,
	SEL_HART1,
	SEL_ACLINT,
	SEL_PLIC,
	SEL_UART,
	SEL_RTC,
	SEL_PCI_HOST,
	SEL_DEV0,
	NSEL = SEL_DEV0 + NDEV,
};
enum { OPT_RNG_PRNG = 1, OPT_BLK_RO = 2, OPT_BALLOON_OOM = 4 };

static const char *const dev_names[NDEV] = {"blk", "net", "console", "input", "balloon", "rng"};

#define CHECK(cond, ...)                                                               \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "fuzz_state: invariant broken: " __VA_ARGS__); \
			fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);             \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* A character backend whose input is a buffer the harness fills. */
struct fake_chr {
	struct chr chr;
	const uint8_t *in;
	size_t len, pos;
};

static size_t fchr_read(struct chr *c, void *buf, size_t len)
{
	struct fake_chr *f = (struct fake_chr *)c;
	size_t n = f->len - f->pos < len ? f->len - f->pos : len;
	if (!n)
		return 0;
	memcpy(buf, f->in + f->pos, n);
	f->pos += n;
	return n;
}

static void fchr_write(struct chr *c, const void *buf, size_t len)
{
	(void)c;
	(void)buf;
	(void)len;
}

/* A network backend that drops what it is sent and hands frames in when told. */
struct fake_net {
	struct net_backend nb;
	net_receive_fn receive;
	void *opaque;
};

static int fnet_send(struct net_backend *nb, const void *frame, size_t len)
{
	(void)nb;
	(void)frame;
	return len >= NET_ETH_HLEN && len <= NET_FRAME_MAX ? 0 : -EMSGSIZE;
}

static void fnet_attach(struct net_backend *nb, net_receive_fn receive, void *opaque)
{
	struct fake_net *f = (struct fake_net *)nb;
	f->receive = receive;
	f->opaque = opaque;
}

static void fnet_close(struct net_backend *nb)
{
	(void)nb;
}

/* Where a virtio device is reached (machine.c's struct vm_port). */
struct port {
	bool up, on_pci;
	unsigned num; /* virtio-mmio slot or PCI device number */
	struct virtio_transport mmio;
	struct virtio_pci pci;
};

static struct {
	bool set_up, verbose;
	struct guest_mem mem;
	struct bus bus;
	struct hart *hart[NHARTS];
	bool hart_dirty[NHARTS];
	uint64_t now; /* the timebase, ticks: moved by the harness only */
	struct aclint aclint;
	struct plic plic;
	struct uart16550 uart;
	bool platform_up;
	struct goldfish_rtc rtc;
	struct goldfish_rtc_regs rtc_pristine;
	unsigned rtc_armed_inputs;
	struct fake_chr uart_chr, con_chr;
	struct fake_net net_be;
	int disk_fd;
	char disk_path[64];
	struct blk_file disk;
	struct pci_host pci;
	bool pci_up;
	struct port port[NDEV];
	bool dev_up[NDEV];
	struct virtio_blk blk;
	struct virtio_net net;
	struct virtio_console con;
	struct virtio_input kbd;
	struct virtio_balloon balloon;
	struct virtio_rng rng;
	/* The input. */
	unsigned sel;
	uint8_t pci_mask, options;
} m;

/* ---- wiring (machine.c) ---- */

static uint64_t fake_now(void *opaque)
{
	(void)opaque;
	return m.now;
}

static void fake_htif(void *opaque, struct hart *h, uint64_t v)
{
	(void)opaque;
	(void)v;
	uint64_t *p = guest_mem_ptr(h->mem, h->tohost_gpa, 8);
	CHECK(p != NULL, "hart %llu: tohost 0x%llx is not in RAM", (unsigned long long)h->mhartid,
	      (unsigned long long)h->tohost_gpa);
	*p = 0;
}

static void fake_fatal(void *opaque, struct hart *h, uint64_t cause, uint64_t tval)
{
	(void)opaque;
	(void)h;
	(void)cause;
	(void)tval;
}

static void aclint_msip(void *opaque, unsigned hart, bool level)
{
	(void)opaque;
	if (hart < NHARTS)
		hart_set_mip(m.hart[hart], MIP_MSIP, level);
}

static void aclint_mtimecmp(void *opaque, unsigned hart, uint64_t value)
{
	(void)opaque;
	if (hart >= NHARTS)
		return;
	atomic_store(&m.hart[hart]->mtimecmp, value);
	hart_update_timers(m.hart[hart], m.now);
	hart_kick(m.hart[hart]);
}

static void plic_context_out(void *opaque, unsigned ctx, bool level)
{
	(void)opaque;
	if (ctx / 2 < NHARTS)
		hart_set_mip(m.hart[ctx / 2], (ctx & 1) ? MIP_SEIP : MIP_MEIP, level);
}

static unsigned virtio_irq(unsigned n)
{
	unsigned irq = VIRTIO_IRQ + n;
	return irq < UART_IRQ ? irq : irq + 2;
}

static struct virtio_transport *transport(unsigned k)
{
	return m.port[k].on_pci ? &m.port[k].pci.t : &m.port[k].mmio;
}

/* ---- set-up ---- */

static void set_up_once(void)
{
	m.verbose = getenv("FUZZ_VERBOSE") != NULL;
	m.mem.hva = aligned_alloc(4096, RAM_SIZE);
	CHECK(m.mem.hva, "RAM");
	m.mem.base = RAM_BASE;
	m.mem.size = RAM_SIZE;
	m.mem.fd = -1;
	struct hart_env env = {.time_now = fake_now, .htif_tohost = fake_htif, .fatal = fake_fatal};
	for (unsigned i = 0; i < NHARTS; i++) {
		m.hart[i] = calloc(1, sizeof(struct hart));
		CHECK(m.hart[i] && hart_init(m.hart[i], i, &m.mem, &m.bus, &env) == 0, "hart");
		m.hart_dirty[i] = true;
	}
	CHECK(goldfish_rtc_init(&m.rtc, (struct irq_line){plic_set_irq, &m.plic, RTC_IRQ}) == 0,
	      "rtc");
	m.rtc.frozen_ns = RTC_FROZEN_NS;
	goldfish_rtc_save(&m.rtc, &m.rtc_pristine);
	m.uart_chr.chr = (struct chr){.write = fchr_write, .read = fchr_read};
	m.con_chr.chr = (struct chr){.write = fchr_write, .read = fchr_read};
	m.net_be.nb = (struct net_backend){fnet_send, fnet_attach, fnet_close, NET_MTU_DEFAULT};
	m.disk_fd = memfd_create("fuzz-state-disk", 0);
	CHECK(m.disk_fd >= 0, "disk");
	snprintf(m.disk_path, sizeof(m.disk_path), "/proc/self/fd/%d", m.disk_fd);
	m.set_up = true;
}

static void reset_harts(void)
{
	for (unsigned i = 0; i < NHARTS; i++) {
		struct hart *h = m.hart[i];
		if (m.hart_dirty[i]) {
			hart_reset(h, RAM_BASE);
			atomic_store(&h->stopped, 0);
			h->m_trap_fatal = false;
			h->tohost_gpa = 0;
			atomic_store(&h->exit_req, 0);
			atomic_store(&h->fence_req, 0);
			m.hart_dirty[i] = false;
		}
		/* What the devices of the last input may have driven. */
		atomic_store(&h->mip, 0);
		atomic_store(&h->mtimecmp, ~0ull);
		h->wfi = false;
		h->kicked = false;
	}
}

static bool needs_dev(unsigned k)
{
	return m.sel == SEL_CHAIN || m.sel == SEL_PCI_HOST || m.sel == SEL_DEV0 + k;
}

static void add_port(unsigned k, const struct virtio_dev *dev)
{
	struct port *p = &m.port[k];
	p->on_pci = m.pci_mask & (1u << k);
	if (p->on_pci) {
		CHECK(virtio_pci_init(&p->pci, dev, &m.mem) == 0, "virtio-pci");
		int n =
		    pci_host_add(&m.pci, &p->pci.pci,
				 (struct irq_line){plic_set_irq, &m.plic, PCI_IRQ + m.pci.ndev});
		CHECK(n >= 0, "pci_host_add");
		p->num = (unsigned)n;
	} else {
		unsigned slot = 0;
		for (unsigned j = 0; j < k; j++)
			slot += m.port[j].up && !m.port[j].on_pci;
		CHECK(virtio_mmio_init(
			  &p->mmio, dev, &m.mem,
			  (struct irq_line){plic_set_irq, &m.plic, virtio_irq(slot)}) == 0,
		      "virtio-mmio");
		CHECK(bus_add(&m.bus, VIRTIO_BASE + slot * VIRTIO_MMIO_SIZE, VIRTIO_MMIO_SIZE,
			      &virtio_mmio_ops, &p->mmio, "virtio-mmio") == 0,
		      "bus");
		p->num = slot;
	}
	p->up = true;
}

static void machine_up(void)
{
	m.bus.count = 0;
	struct aclint_cb acb = {NULL, fake_now, aclint_msip, aclint_mtimecmp, NULL};
	struct irq_line outs[2 * NHARTS];
	for (unsigned c = 0; c < 2 * NHARTS; c++)
		outs[c] = (struct irq_line){plic_context_out, NULL, c};
	CHECK(aclint_init(&m.aclint, NHARTS, &acb) == 0, "aclint");
	CHECK(plic_init(&m.plic, PLIC_SOURCES, 2 * NHARTS, outs) == 0, "plic");
	m.uart_chr.len = m.uart_chr.pos = 0;
	CHECK(uart16550_init(&m.uart, &m.uart_chr.chr,
			     (struct irq_line){plic_set_irq, &m.plic, UART_IRQ}) == 0,
	      "uart");
	m.platform_up = true;
	goldfish_rtc_restore(&m.rtc, &m.rtc_pristine);
	CHECK(
	    bus_add(&m.bus, ACLINT_BASE, ACLINT_SIZE, &aclint_ops, &m.aclint, "aclint") == 0 &&
		bus_add(&m.bus, PLIC_BASE, PLIC_SIZE, &plic_ops, &m.plic, "plic") == 0 &&
		bus_add(&m.bus, UART_BASE, UART16550_SIZE, &uart16550_ops, &m.uart, "uart") == 0 &&
		bus_add(&m.bus, RTC_BASE, GOLDFISH_RTC_SIZE, &goldfish_rtc_ops, &m.rtc, "rtc") == 0,
	    "bus");

	bool any_pci = false;
	for (unsigned k = 0; k < NDEV; k++)
		any_pci |= needs_dev(k) && (m.pci_mask & (1u << k));
	if (any_pci || m.sel == SEL_PCI_HOST) {
		CHECK(pci_host_init(&m.pci, PCI_MMIO_BASE, PCI_MMIO_SIZE, PCI_MMIO64_BASE,
				    PCI_MMIO64_SIZE) == 0,
		      "pci host");
		CHECK(bus_add(&m.bus, PCI_ECAM_BASE, PCI_ECAM_SIZE, &pci_ecam_ops, &m.pci,
			      "ecam") == 0 &&
			  bus_add(&m.bus, PCI_MMIO_BASE, PCI_MMIO_SIZE, &pci_mmio_ops,
				  &m.pci.mmio32, "window") == 0 &&
			  bus_add(&m.bus, PCI_MMIO64_BASE, PCI_MMIO64_SIZE, &pci_mmio_ops,
				  &m.pci.mmio64, "window64") == 0,
		      "bus");
		m.pci_up = true;
	}

	for (unsigned k = 0; k < NDEV; k++) {
		if (!needs_dev(k))
			continue;
		struct virtio_dev dev;
		switch (k) {
		case DEV_BLK: {
			bool ro = m.options & OPT_BLK_RO;
			/* An empty disk for every input. */
			CHECK(ftruncate(m.disk_fd, 0) == 0 &&
				  ftruncate(m.disk_fd, DISK_BYTES) == 0 &&
				  blk_file_open(&m.disk, m.disk_path, ro) == 0,
			      "disk");
			CHECK(virtio_blk_init(&m.blk, &m.disk, "fuzz-disk", &dev) == 0, "blk");
			break;
		}
		case DEV_NET: {
			static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
			m.net_be.receive = NULL;
			CHECK(virtio_net_init(&m.net, &m.net_be.nb, mac, &dev) == 0, "net");
			break;
		}
		case DEV_CONSOLE:
			m.con_chr.len = m.con_chr.pos = 0;
			CHECK(virtio_console_init(&m.con, &m.con_chr.chr, &dev) == 0, "console");
			break;
		case DEV_INPUT: CHECK(virtio_input_init(&m.kbd, &dev) == 0, "input"); break;
		case DEV_BALLOON:
			CHECK(virtio_balloon_init(&m.balloon, &m.mem, 0,
						  m.options & OPT_BALLOON_OOM, &dev) == 0,
			      "balloon");
			break;
		default:
			CHECK(virtio_rng_init(&m.rng, &dev) == 0, "rng");
			if (m.options & OPT_RNG_PRNG)
				m.rng.prng = 0x9e3779b97f4a7c15ull;
			break;
		}
		m.dev_up[k] = true;
		add_port(k, &dev);
	}
}

static void machine_down(void)
{
	/* The RTC back to its first state while its line's PLIC is still there. */
	goldfish_rtc_restore(&m.rtc, &m.rtc_pristine);
	if (m.dev_up[DEV_BLK]) { /* before its transport: completions use it */
		virtio_blk_destroy(&m.blk);
		blk_file_close(&m.disk);
	}
	if (m.dev_up[DEV_NET])
		virtio_net_destroy(&m.net);
	if (m.dev_up[DEV_CONSOLE]) {
		m.con_chr.chr.notify = NULL;
		virtio_console_destroy(&m.con);
	}
	if (m.dev_up[DEV_INPUT])
		virtio_input_destroy(&m.kbd);
	if (m.dev_up[DEV_BALLOON])
		virtio_balloon_destroy(&m.balloon);
	if (m.dev_up[DEV_RNG])
		virtio_rng_destroy(&m.rng);
	if (m.pci_up)
		pci_host_destroy(&m.pci);
	for (unsigned k = 0; k < NDEV; k++) {
		struct port *p = &m.port[k];
		if (p->up && p->on_pci)
			virtio_pci_destroy(&p->pci);
		else if (p->up)
			virtio_mmio_destroy(&p->mmio);
		p->up = false;
		m.dev_up[k] = false;
	}
	m.pci_up = false;
	if (m.platform_up) {
		m.uart_chr.chr.notify = NULL;
		uart16550_destroy(&m.uart);
		plic_destroy(&m.plic);
		aclint_destroy(&m.aclint);
		m.platform_up = false;
	}
}

/* ---- the parts' save and load ---- */

/* Parts: 0..NHARTS-1 the harts, then these, then the devices' ports and the devices. */
enum {
	PART_ACLINT = NHARTS,
	PART_PLIC,
	PART_UART,
	PART_RTC,
	PART_PCI_HOST,
	PART_PORT0,
	PART_DEV0 = PART_PORT0 + NDEV,
	NPARTS = PART_DEV0 + NDEV,
};

static const char *part_name(unsigned p)
{
	static char buf[32];
	static const char *const names[] = {"aclint", "plic", "uart", "rtc", "pci-host"};
	if (p < NHARTS)
		snprintf(buf, sizeof(buf), "hart %u", p);
	else if (p < PART_PORT0)
		return names[p - NHARTS];
	else if (p < PART_DEV0)
		snprintf(buf, sizeof(buf), "%s's transport", dev_names[p - PART_PORT0]);
	else
		snprintf(buf, sizeof(buf), "virtio-%s", dev_names[p - PART_DEV0]);
	return buf;
}

static void save_part(unsigned p, struct state_out *o)
{
	if (p < NHARTS) {
		hart_state_save(m.hart[p], o);
		return;
	}
	switch (p) {
	case PART_ACLINT: aclint_state_save(&m.aclint, o); return;
	case PART_PLIC: plic_state_save(&m.plic, o); return;
	case PART_UART: uart16550_state_save(&m.uart, o); return;
	case PART_RTC: goldfish_rtc_state_save(&m.rtc, o); return;
	case PART_PCI_HOST: pci_host_state_save(&m.pci, o); return;
	default: break;
	}
	if (p < PART_DEV0) {
		struct port *port = &m.port[p - PART_PORT0];
		if (port->on_pci)
			virtio_pci_state_save(&port->pci, o);
		else
			virtio_transport_state_save(&port->mmio, o);
		return;
	}
	switch (p - PART_DEV0) {
	case DEV_BLK: virtio_blk_state_save(&m.blk, o); return;
	case DEV_NET: virtio_net_state_save(&m.net, o); return;
	case DEV_CONSOLE: virtio_console_state_save(&m.con, o); return;
	case DEV_INPUT: virtio_input_state_save(&m.kbd, o); return;
	case DEV_BALLOON: virtio_balloon_state_save(&m.balloon, o); return;
	default: virtio_rng_state_save(&m.rng, o); return;
	}
}

static int load_part(unsigned p, struct state_in *in)
{
	if (p < NHARTS)
		return hart_state_load(m.hart[p], in);
	switch (p) {
	case PART_ACLINT: return aclint_state_load(&m.aclint, in);
	case PART_PLIC: return plic_state_load(&m.plic, in);
	case PART_UART: return uart16550_state_load(&m.uart, in);
	case PART_RTC: return goldfish_rtc_state_load(&m.rtc, in);
	case PART_PCI_HOST: return pci_host_state_load(&m.pci, in);
	default: break;
	}
	if (p < PART_DEV0) {
		struct port *port = &m.port[p - PART_PORT0];
		return port->on_pci ? virtio_pci_state_load(&port->pci, in)
				    : virtio_transport_state_load(&port->mmio, in);
	}
	switch (p - PART_DEV0) {
	case DEV_BLK: return virtio_blk_state_load(&m.blk, in);
	case DEV_NET: return virtio_net_state_load(&m.net, in);
	case DEV_CONSOLE: return virtio_console_state_load(&m.con, in);
	case DEV_INPUT: return virtio_input_state_load(&m.kbd, in);
	case DEV_BALLOON: return virtio_balloon_state_load(&m.balloon, in);
	default: return virtio_rng_state_load(&m.rng, in);
	}
}

/* The state a failed load must leave as it was: the part's own, or for a port its transport
 * (a virtio-pci function's configuration may have been taken before its transport's section
 * failed). */
static bool keeps_on_failure(unsigned p)
{
	return p < PART_DEV0;
}

static void save_kept(unsigned p, struct state_out *o)
{
	if (p >= PART_PORT0 && p < PART_DEV0)
		virtio_transport_state_save(transport(p - PART_PORT0), o);
	else
		save_part(p, o);
}

/* ---- checks ---- */

static void check_stream(const struct state_in *in)
{
	CHECK(in->pos <= in->len, "stream position %zu past its end %zu", in->pos, in->len);
	CHECK(in->end == SIZE_MAX || (in->end <= in->len && in->pos <= in->end),
	      "stream position %zu, section end %zu, length %zu", in->pos, in->end, in->len);
	size_t n = strnlen(in->err, sizeof(in->err));
	CHECK(n < sizeof(in->err), "the error message is not terminated");
	CHECK(in->failed == (n > 0), "failed %d with error message '%s'", in->failed, in->err);
	for (size_t i = 0; i < n; i++)
		CHECK(in->err[i] >= 0x20 && in->err[i] < 0x7f,
		      "the error message has byte 0x%02x at %zu: '%s'", (uint8_t)in->err[i], i,
		      in->err);
}

static void check_hart(const struct hart *h)
{
	unsigned long long id = h->mhartid;
	unsigned mode = (unsigned)(h->satp >> SATP_MODE_SHIFT);
	CHECK(h->priv == PRV_U || h->priv == PRV_S || h->priv == PRV_M, "hart %llu: priv %u", id,
	      h->priv);
	CHECK(!(h->pc & 1), "hart %llu: pc 0x%llx", id, (unsigned long long)h->pc);
	CHECK(h->x[0] == 0, "hart %llu: x0 0x%llx", id, (unsigned long long)h->x[0]);
	CHECK(h->fflags <= 0x1f && h->frm <= 7, "hart %llu: fflags 0x%x frm %u", id, h->fflags,
	      h->frm);
	CHECK(mode == SATP_MODE_BARE || mode == SATP_MODE_SV39 || mode == SATP_MODE_SV48 ||
		  mode == SATP_MODE_SV57,
	      "hart %llu: satp 0x%llx", id, (unsigned long long)h->satp);
	CHECK(((h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) != 2, "hart %llu: mstatus 0x%llx",
	      id, (unsigned long long)h->mstatus);
	uint64_t bits = MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP;
	CHECK(!(atomic_load(&h->mip) & ~bits), "hart %llu: mip 0x%llx", id,
	      (unsigned long long)atomic_load(&h->mip));
	CHECK(h->reservation == ~0ull ||
		  (!(h->reservation & 3) && guest_mem_ptr(h->mem, h->reservation, 4)),
	      "hart %llu: reservation 0x%llx", id, (unsigned long long)h->reservation);
	CHECK(!h->tohost_gpa || guest_mem_ptr(h->mem, h->tohost_gpa, 8), "hart %llu: tohost 0x%llx",
	      id, (unsigned long long)h->tohost_gpa);
	CHECK(h->budget == 0 && h->batch_len == 0, "hart %llu: a batch is running", id);
}

/* The PLIC's choice for context ctx (plic.c's plic_best), from its registers. */
static unsigned plic_best_ref(const struct plic *p, unsigned ctx)
{
	unsigned best = 0, prio = p->regs.threshold[ctx];
	for (unsigned src = 1; src < p->nsources; src++) {
		bool on =
		    (p->regs.pending[src / 32] & p->regs.enable[ctx][src / 32]) >> (src % 32) & 1;
		if (on && p->regs.priority[src] > prio) {
			best = src;
			prio = p->regs.priority[src];
		}
	}
	return best;
}

static void check_plic(void)
{
	const struct plic *p = &m.plic;
	for (unsigned src = 0; src < PLIC_MAX_SOURCES; src++)
		CHECK(p->regs.priority[src] <= 7 &&
			  (src && src < p->nsources ? true : !p->regs.priority[src]),
		      "plic: priority of source %u is %u", src, p->regs.priority[src]);
	for (unsigned w = 0; w < PLIC_MAX_SOURCES / 32; w++) {
		uint32_t valid = 0;
		for (unsigned b = 0; b < 32; b++)
			if (w * 32 + b && w * 32 + b < p->nsources)
				valid |= 1u << b;
		CHECK(!((p->regs.pending[w] | p->regs.claimed[w] | p->regs.level[w]) & ~valid),
		      "plic: bits of sources that do not exist in word %u", w);
		CHECK(!(p->regs.pending[w] & p->regs.claimed[w]),
		      "plic: sources pending and claimed in word %u", w);
		for (unsigned c = 0; c < p->ncontexts; c++)
			CHECK(!(p->regs.enable[c][w] & ~valid), "plic: context %u enables 0x%x", c,
			      p->regs.enable[c][w]);
	}
	for (unsigned c = 0; c < p->ncontexts; c++) {
		bool level = plic_best_ref(p, c) != 0;
		CHECK(p->regs.threshold[c] <= 7, "plic: threshold %u", p->regs.threshold[c]);
		CHECK(p->out_level[c] == level, "plic: context %u drives %d, its registers say %d",
		      c, p->out_level[c], level);
		uint64_t bit = (c & 1) ? MIP_SEIP : MIP_MEIP;
		CHECK(!!(atomic_load(&m.hart[c / 2]->mip) & bit) == level,
		      "plic: hart %u's %s is not context %u's level %d", c / 2,
		      (c & 1) ? "SEIP" : "MEIP", c, level);
	}
}

static void check_aclint(void)
{
	for (unsigned i = 0; i < NHARTS; i++) {
		const struct hart *h = m.hart[i];
		CHECK(m.aclint.regs.msip[i] <= 1, "aclint: msip %u", m.aclint.regs.msip[i]);
		CHECK(!!(atomic_load(&h->mip) & MIP_MSIP) == m.aclint.regs.msip[i],
		      "aclint: hart %u's MSIP is not msip %u", i, m.aclint.regs.msip[i]);
		CHECK(atomic_load(&h->mtimecmp) == m.aclint.regs.mtimecmp[i],
		      "aclint: hart %u's mtimecmp is not the ACLINT's", i);
	}
}

static void check_uart(void)
{
	const struct uart16550_regs *r = &m.uart.regs;
	unsigned cap = (r->fcr & 1) ? 16 : 1;
	CHECK(r->rx_head < 16 && r->rx_count <= cap, "uart: rx_head %u rx_count %u fcr 0x%x",
	      r->rx_head, r->rx_count, r->fcr);
	CHECK(r->thr_empty_pending <= 1, "uart: thr_empty_pending %u", r->thr_empty_pending);
}

static bool seg_in_ram(const struct virtq_seg *s)
{
	const uint8_t *p = s->hva;
	return p >= m.mem.hva && s->len <= RAM_SIZE &&
	       (uint64_t)(p - m.mem.hva) <= RAM_SIZE - s->len;
}

static void check_req_in_ram(const struct virtq_req *r, const char *what)
{
	CHECK(r->nout <= VIRTQ_MAX_SEGS && r->nin <= VIRTQ_MAX_SEGS, "%s: %u + %u segments", what,
	      r->nout, r->nin);
	for (unsigned i = 0; i < r->nout; i++)
		CHECK(seg_in_ram(&r->out[i]), "%s: readable segment %u outside RAM", what, i);
	for (unsigned i = 0; i < r->nin; i++)
		CHECK(seg_in_ram(&r->in[i]), "%s: writable segment %u outside RAM", what, i);
}

/* The transport's state, whatever happened to it: what virtio_transport_state_load accepts
 * and what the registers let a driver reach. */
static void check_transport(unsigned k)
{
	struct virtio_transport *t = transport(k);
	const uint32_t status_bits = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				     VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK |
				     VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED;
	pthread_mutex_lock(&t->lock);
	CHECK(!(t->status & ~status_bits), "%s: status 0x%x", dev_names[k], t->status);
	bool fok = t->status & VIRTIO_STATUS_FEATURES_OK;
	CHECK(fok || !(t->status & VIRTIO_STATUS_DRIVER_OK), "%s: DRIVER_OK without FEATURES_OK",
	      dev_names[k]);
	CHECK(!fok || virtio_transport_features_ok(t, t->driver_features),
	      "%s: driver features 0x%llx with FEATURES_OK", dev_names[k],
	      (unsigned long long)t->driver_features);
	CHECK(!(t->interrupt_status & ~3u), "%s: interrupt status 0x%x", dev_names[k],
	      t->interrupt_status);
	for (unsigned q = 0; q < t->dev.num_queues; q++) {
		const struct virtq *vq = &t->vq[q];
		CHECK(vq->num <= VIRTQ_MAX_SIZE, "%s: queue %u size %u", dev_names[k], q, vq->num);
		CHECK(vq->mem == &m.mem, "%s: queue %u on other RAM", dev_names[k], q);
		if (!vq->ready)
			continue;
		CHECK(fok, "%s: queue %u ready without FEATURES_OK", dev_names[k], q);
		CHECK(vq->num && !(vq->num & (vq->num - 1)) && virtq_validate(vq) == 0,
		      "%s: ready queue %u of size %u at 0x%llx 0x%llx 0x%llx", dev_names[k], q,
		      vq->num, (unsigned long long)vq->desc_gpa, (unsigned long long)vq->avail_gpa,
		      (unsigned long long)vq->used_gpa);
	}
	pthread_mutex_unlock(&t->lock);
}

/* Requests queue q of device k's transport has in flight (0 when it is not ready). */
static unsigned in_flight(unsigned k, unsigned q, uint16_t *num)
{
	struct virtio_transport *t = transport(k);
	pthread_mutex_lock(&t->lock);
	const struct virtq *vq = &t->vq[q];
	unsigned n = vq->ready ? (uint16_t)(vq->last_avail - vq->used_idx) : 0;
	*num = vq->ready ? vq->num : 0;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* After a device's section loaded: what it holds is what its queues have in flight. */
static void check_device_loaded(unsigned k)
{
	uint16_t num;
	switch (k) {
	case DEV_NET: {
		struct virtio_net *n = &m.net;
		unsigned fl = in_flight(k, VIRTIO_NET_RECEIVEQ, &num);
		CHECK(n->t == n->restore_t && n->t == transport(k), "net: not on its transport");
		CHECK(n->nheld <= VIRTIO_NET_RX_HELD && n->nheld == fl,
		      "net: %u receive buffers held, %u in flight", n->nheld, fl);
		for (unsigned i = 0; i < n->nheld; i++) {
			const struct virtio_net_rxbuf *b = &n->held[i];
			CHECK(b->head < num, "net: held head %u, queue size %u", b->head, num);
			CHECK(b->cap >= VIRTIO_NET_HDR_SIZE && b->nseg <= VIRTIO_NET_RX_SEGS,
			      "net: held buffer %u: %llu bytes in %u segments", i,
			      (unsigned long long)b->cap, b->nseg);
			for (unsigned s = 0; s < b->nseg; s++)
				CHECK(seg_in_ram(&b->seg[s]), "net: held buffer %u segment %u", i,
				      s);
			for (unsigned j = 0; j < i; j++)
				CHECK(n->held[j].head != b->head,
				      "net: receive buffer %u held twice (a double completion)",
				      b->head);
		}
		break;
	}
	case DEV_CONSOLE: {
		struct virtio_console *c = &m.con;
		unsigned fl = in_flight(k, VIRTIO_CONSOLE_RECEIVEQ, &num);
		CHECK(c->t == c->restore_t && c->t == transport(k),
		      "console: not on its transport");
		CHECK(fl == c->rx_held, "console: %u in flight, held %d", fl, c->rx_held);
		if (c->rx_held) {
			CHECK(c->rx_req.head < num && c->rx_req.in_len > 0,
			      "console: held head %u (queue size %u), %llu writable bytes",
			      c->rx_req.head, num, (unsigned long long)c->rx_req.in_len);
			check_req_in_ram(&c->rx_req, "console: the held buffer");
		}
		break;
	}
	case DEV_BALLOON: {
		struct virtio_balloon *b = &m.balloon;
		unsigned fl = in_flight(k, BALLOON_Q_STATS, &num);
		CHECK(b->t == transport(k), "balloon: not on its transport");
		CHECK(fl == b->have_stats_req, "balloon: %u in flight, held %d", fl,
		      b->have_stats_req);
		CHECK(!b->have_stats_req || b->stats_req.head < num,
		      "balloon: held head %u, queue size %u", b->stats_req.head, num);
		break;
	}
	case DEV_INPUT:
		CHECK(m.kbd.npending <= VIRTIO_INPUT_PENDING && m.kbd.t == transport(k),
		      "input: %u events pending", m.kbd.npending);
		break;
	case DEV_BLK:
		CHECK(m.blk.t == transport(k) && in_flight(k, 0, &num) == 0,
		      "blk: requests in flight");
		break;
	default: CHECK(m.rng.t == transport(k), "rng: not on its transport"); break;
	}
}

/* The RTC's alarm thread must sleep while its alarm is armed and not due (the clock is
 * frozen: it never comes due by itself). Checked on the first input that leaves one armed
 * and every 16th after. */
static void check_rtc_idle(void)
{
	if (!m.rtc.regs.alarm_armed || m.rtc_armed_inputs++ % 16)
		return;
	clockid_t clock;
	struct timespec a, b, nap = {0, 4000000};
	CHECK(pthread_getcpuclockid(m.rtc.thread, &clock) == 0, "rtc thread clock");
	clock_gettime(clock, &a);
	nanosleep(&nap, NULL);
	clock_gettime(clock, &b);
	long ns = (b.tv_sec - a.tv_sec) * 1000000000l + (b.tv_nsec - a.tv_nsec);
	CHECK(ns < 1000000, "rtc: the alarm thread ran %ld us in 4 ms with an alarm not due",
	      ns / 1000);
}

/* What a part's state must be after it loaded the section at sec (len bytes): the section
 * itself, but for an RTC alarm already due, which fired. */
static void expected_bytes(unsigned p, uint8_t *sec, size_t len)
{
	if (p != PART_RTC)
		return;
	const size_t payload = 1 + 3 + 4 + 8; /* name length, "rtc", version, length */
	CHECK(len == payload + 28, "rtc: a section of %zu bytes loaded", len);
	uint8_t *f = sec + payload;
	uint64_t offset = 0, alarm = 0;
	for (unsigned i = 0; i < 8; i++) {
		offset |= (uint64_t)f[i] << (8 * i);
		alarm |= (uint64_t)f[8 + i] << (8 * i);
	}
	if (f[25] && alarm <= RTC_FROZEN_NS + offset) {
		f[25] = 0; /* alarm_armed */
		f[26] = 1; /* irq_pending */
	}
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A hart section of an older layout loads as version 3 saves it: version 1 (no isa_ext) as
 * an RV64GC hart; versions 1 and 2 (saved before PMP was enforced) without PMP entries
 * 16-63, and, for a hart whose SBI rvisor serves (m_trap_fatal) with every entry OFF, with
 * entry 0 allowing all (hart_state.c). The loaded section sec (len bytes, with room for 8
 * more) rewritten as it saves; returns the new length. */
static size_t hart_as_saved(uint8_t *sec, size_t len)
{
	const size_t head = 1 + 4; /* name length, "hart" */
	if (len < head + 12 || sec[head] >= 3)
		return len;
	if (sec[head] == 1) {
		put_le64(sec + head + 4, get_le64(sec + head + 4) + 8);
		memset(sec + len, 0, 8); /* isa_ext = 0: RV64GC */
		len += 8;
	}
	sec[head] = 3;
	/* From the end: isa_ext, tohost_gpa, m_trap_fatal, wfi, stopped, reservation_val,
	 * reservation, instret, pmpaddr[64], pmpcfg[16]. */
	if (len < 8 + 8 + 3 + 8 * 3 + 8 * 64 + 8 * 16)
		return len;
	size_t fatal = len - 17, pmpaddr = len - 8 - 8 - 3 - 24 - 8 * 64, pmpcfg = pmpaddr - 8 * 16;
	memset(sec + pmpcfg + 8 * 4, 0, 8 * 12); /* pmpcfg4-15 */
	memset(sec + pmpaddr + 8 * 16, 0, 8 * 48);
	if (sec[fatal] && !get_le64(sec + pmpcfg) && !get_le64(sec + pmpcfg + 16)) {
		sec[pmpcfg] = 0x1f; /* NAPOT, R, W, X */
		put_le64(sec + pmpaddr, (1ull << 54) - 1);
	}
	return len;
}

/* Load part p from in with every check; returns the loader's result. */
static int load_checked(unsigned p, struct state_in *in)
{
	struct state_out before, after;
	state_out_init(&before);
	state_out_init(&after);
	if (keeps_on_failure(p))
		save_kept(p, &before);
	CHECK(!before.failed, "%s: the state before the load does not save: %s", part_name(p),
	      before.err);
	size_t start = in->pos;
	int rc = load_part(p, in);
	if (m.verbose)
		fprintf(stderr, "fuzz_state: %s: %d%s%s\n", part_name(p), rc, rc ? ", " : "",
			in->err);
	check_stream(in);
	CHECK(rc == 0 || rc == -EINVAL, "%s: load returned %d", part_name(p), rc);
	CHECK((rc == 0) == !in->failed, "%s: load returned %d, the stream %s", part_name(p), rc,
	      in->failed ? "failed" : "did not fail");
	if (rc) {
		if (keeps_on_failure(p)) {
			save_kept(p, &after);
			CHECK(!after.failed && after.len == before.len &&
				  !memcmp(after.buf, before.buf, before.len),
			      "%s: a load that failed (%s) changed it", part_name(p), in->err);
		}
	} else {
		CHECK(in->end == SIZE_MAX, "%s: a section left entered", part_name(p));
		save_part(p, &after);
		size_t len = in->pos - start;
		uint8_t *want = malloc(len + 8);
		CHECK(want, "memory");
		memcpy(want, in->buf + start, len);
		expected_bytes(p, want, len);
		if (p < NHARTS)
			len = hart_as_saved(want, len);
		CHECK(!after.failed, "%s: loaded, it does not save: %s", part_name(p), after.err);
		size_t at = 0;
		while (at < len && at < after.len && after.buf[at] == want[at])
			at++;
		CHECK(after.len == len && at == len,
		      "%s: saved again after its load, it differs from what it loaded (%zu bytes, "
		      "%zu loaded; byte %zu of the section is 0x%02x, loaded 0x%02x)",
		      part_name(p), after.len, len, at, at < after.len ? after.buf[at] : 0,
		      at < len ? want[at] : 0);
		free(want);
	}
	state_out_free(&before);
	state_out_free(&after);

	if (p < NHARTS) {
		m.hart_dirty[p] = true;
		check_hart(m.hart[p]);
	} else if (p == PART_ACLINT && !rc) {
		check_aclint();
	} else if (p == PART_PLIC && !rc) {
		check_plic();
	} else if (p == PART_UART) {
		check_uart();
	} else if (p >= PART_PORT0 && p < PART_DEV0) {
		check_transport(p - PART_PORT0);
	} else if (p >= PART_DEV0 && !rc) {
		check_device_loaded(p - PART_DEV0);
	}
	return rc;
}

/* ---- the loaded state put to use ---- */

/* A part's state saved now loads back into it. */
static void reload(unsigned p)
{
	struct state_out o;
	state_out_init(&o);
	save_part(p, &o);
	CHECK(!o.failed, "%s: does not save: %s", part_name(p), o.err);
	struct state_in in;
	state_in_init(&in, o.buf, o.len);
	int rc = load_part(p, &in);
	CHECK(rc == 0 && in.pos == in.len, "%s: its own state does not load back: %s", part_name(p),
	      in.err);
	state_out_free(&o);
}

static void run_hart(unsigned i)
{
	struct hart *h = m.hart[i];
	for (unsigned r = 0; r < RUN_ROUNDS; r++) {
		m.now += 97;
		if (atomic_load(&h->stopped))
			break;
		hart_update_timers(h, m.now);
		if (hart_check_interrupts(h))
			h->wfi = false;
		if (h->wfi)
			break; /* asleep, nothing pending: hart_run would wait */
		hart_run_budget(h, RUN_BATCH);
		check_hart(h);
	}
	h->wfi = false;
	m.hart_dirty[i] = true;
	if (m.verbose)
		fprintf(stderr, "fuzz_state: hart %u ran to pc 0x%llx, priv %u, instret %llu\n", i,
			(unsigned long long)h->pc, h->priv, (unsigned long long)hart_instret(h));
	reload(i);
	check_hart(h);
}

static void use_platform(unsigned p)
{
	switch (p) {
	case PART_ACLINT:
		for (unsigned i = 0; i < NHARTS; i++) {
			CHECK(aclint_ops.read(&m.aclint, 4 * i, 4) == m.aclint.regs.msip[i],
			      "aclint: msip %u reads otherwise", i);
			CHECK(aclint_ops.read(&m.aclint, 0x4000 + 8 * i, 8) ==
				  m.aclint.regs.mtimecmp[i],
			      "aclint: mtimecmp %u reads otherwise", i);
		}
		aclint_ops.read(&m.aclint, 0xbff8, 8);
		check_aclint();
		break;
	case PART_PLIC:
		for (unsigned c = 0; c < m.plic.ncontexts; c++) {
			uint64_t at = PLIC_CONTEXT_BASE + c * PLIC_CONTEXT_STRIDE;
			unsigned want = plic_best_ref(&m.plic, c);
			uint64_t src = plic_ops.read(&m.plic, at + PLIC_CLAIM_COMPLETE, 4);
			CHECK(src == want, "plic: context %u claimed %llu, not %u", c,
			      (unsigned long long)src, want);
			plic_ops.write(&m.plic, at + PLIC_CLAIM_COMPLETE, 4, src);
			check_plic();
		}
		for (uint64_t off = 0x1000; off < 0x1000 + 4 * (PLIC_MAX_SOURCES / 32); off += 4)
			plic_ops.read(&m.plic, off, 4);
		break;
	case PART_UART: {
		static const uint8_t typed[] = "typed on the host";
		m.uart_chr.in = typed;
		m.uart_chr.len = sizeof(typed);
		m.uart_chr.pos = 0;
		if (m.uart_chr.chr.notify)
			m.uart_chr.chr.notify(m.uart_chr.chr.notify_opaque);
		check_uart();
		for (unsigned k = 0; k < 24; k++) {
			uart16550_ops.read(&m.uart, (k * 5) % 8, 1);
			check_uart();
		}
		uart16550_ops.write(&m.uart, 0, 1, 'x'); /* THR, or DLL with DLAB set */
		check_uart();
		break;
	}
	case PART_RTC:
		for (uint64_t off = 0; off < 0x20; off += 4)
			goldfish_rtc_ops.read(&m.rtc, off, 4);
		check_rtc_idle();
		break;
	default: break;
	}
	reload(p);
}

static void report_queues(unsigned k);

static void use_device(unsigned k)
{
	struct port *p = &m.port[k];
	struct virtio_transport *t = transport(k);
	check_transport(k);
	for (unsigned q = 0; q < t->dev.num_queues; q++) {
		pthread_mutex_lock(&t->lock);
		uint32_t mask = virtio_transport_queue_to_notify(t, q);
		pthread_mutex_unlock(&t->lock);
		virtio_transport_notify(t, mask);
		check_transport(k);
	}
	if (k == DEV_BLK) /* the worker completes what the notification gave it, now */
		virtio_blk_quiesce(&m.blk);
	switch (k) {
	case DEV_NET: {
		uint8_t frame[64] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x02, 0, 0, 0, 0, 1, 0x08};
		if (m.net_be.receive)
			m.net_be.receive(m.net_be.opaque, frame, sizeof(frame));
		break;
	}
	case DEV_CONSOLE: {
		static const uint8_t typed[] = "input for the console";
		m.con_chr.in = typed;
		m.con_chr.len = sizeof(typed);
		m.con_chr.pos = 0;
		if (m.con_chr.chr.notify)
			m.con_chr.chr.notify(m.con_chr.chr.notify_opaque);
		break;
	}
	case DEV_BALLOON: {
		struct virtio_balloon_stats st;
		virtio_balloon_stats(&m.balloon, true, &st);
		uint32_t target, actual;
		uint64_t returned;
		virtio_balloon_size(&m.balloon, &target, &actual, &returned);
		break;
	}
	case DEV_INPUT: virtio_input_ctrl_alt_del(&m.kbd); break;
	default: break;
	}
	/* The registers, as a driver reads them (none of these reads has a side effect but
	 * ISR status, read last). */
	if (p->on_pci) {
		const struct mmio_ops *ops = p->pci.pci.bar_ops[0];
		static const uint8_t common[][2] = {
		    {0x00, 4}, {0x04, 4}, {0x08, 4}, {0x0c, 4}, {0x10, 2}, {0x12, 2}, {0x14, 1},
		    {0x15, 1}, {0x16, 2}, {0x18, 2}, {0x1a, 2}, {0x1c, 2}, {0x1e, 2}, {0x20, 4},
		    {0x24, 4}, {0x28, 4}, {0x2c, 4}, {0x30, 4}, {0x34, 4}, {0x38, 2}, {0x3a, 2}};
		for (unsigned i = 0; i < sizeof(common) / sizeof(common[0]); i++)
			ops->read(&p->pci, VIRTIO_PCI_COMMON_OFF + common[i][0], common[i][1]);
		for (uint32_t off = 0; off < t->dev.config_size + 4; off += 4)
			ops->read(&p->pci, VIRTIO_PCI_DEVICE_OFF + off, 4);
		for (uint64_t reg = 0; reg < PCI_CONFIG_SIZE; reg += 4)
			pci_ecam_ops.read(&m.pci, ((uint64_t)p->num << 15) + reg, 4);
		/* Through the bus where the loaded BAR 0 decodes (if it does): the common
		 * configuration and the device configuration. */
		const uint8_t *c = p->pci.pci.config;
		uint64_t bar = (pci_get32(c + PCI_BAR0) & ~0xfull) |
			       (uint64_t)pci_get32(c + PCI_BAR0 + 4) << 32;
		uint64_t v;
		for (unsigned i = 0; i < sizeof(common) / sizeof(common[0]); i++)
			bus_read(&m.bus, bar + common[i][0], common[i][1], &v);
		bus_read(&m.bus, bar + VIRTIO_PCI_DEVICE_OFF, 4, &v);
		ops->read(&p->pci, VIRTIO_PCI_ISR_OFF, 1);
	} else {
		for (uint64_t off = 0; off < 0x100; off += 4)
			if (off != 0x60)
				virtio_mmio_ops.read(&p->mmio, off, 4);
		for (uint32_t off = 0; off < t->dev.config_size + 4; off += 4)
			virtio_mmio_ops.read(&p->mmio, 0x100 + off, 4);
		virtio_mmio_ops.read(&p->mmio, 0x60, 4);
	}
	check_transport(k);
	report_queues(k);
}

/* The driver resets device k: it forgets what it holds, its queues are off. */
static void reset_device(unsigned k)
{
	struct virtio_transport *t = transport(k);
	pthread_mutex_lock(&t->lock);
	virtio_transport_write_status(t, 0);
	CHECK(t->status == 0 && t->interrupt_status == 0,
	      "%s: status 0x%x, interrupt status 0x%x "
	      "after a reset",
	      dev_names[k], t->status, t->interrupt_status);
	for (unsigned q = 0; q < t->dev.num_queues; q++)
		CHECK(!t->vq[q].ready, "%s: queue %u ready after a reset", dev_names[k], q);
	pthread_mutex_unlock(&t->lock);
	if (k == DEV_NET && m.net_be.receive) { /* a frame for a reset card: dropped */
		uint8_t frame[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
				     0,    0,    0,    0,    2,    0x08, 6};
		m.net_be.receive(m.net_be.opaque, frame, sizeof(frame));
		CHECK(m.net.nheld == 0, "net: %u receive buffers held after a reset", m.net.nheld);
	}
	if (k == DEV_CONSOLE && m.con_chr.chr.notify) {
		m.con_chr.pos = 0;
		m.con_chr.chr.notify(m.con_chr.chr.notify_opaque);
	}
	if (k == DEV_BALLOON) {
		struct virtio_balloon_stats st;
		virtio_balloon_stats(&m.balloon, true, &st);
	}
	check_transport(k);
}

/* FUZZ_VERBOSE: where device k's queues stand. */
static void report_queues(unsigned k)
{
	struct virtio_transport *t = transport(k);
	for (unsigned q = 0; m.verbose && q < t->dev.num_queues; q++) {
		const struct virtq *vq = &t->vq[q];
		const uint8_t *used = vq->ready ? guest_mem_ptr(&m.mem, vq->used_gpa, 4) : NULL;
		fprintf(stderr, "fuzz_state: %s queue %u: ready %d, last_avail %u, used idx %u\n",
			dev_names[k], q, vq->ready, vq->last_avail,
			used ? used[2] | used[3] << 8 : 0);
	}
}

/* ---- one input ---- */

/* The parts the selector names, in the order they load; returns how many. */
static unsigned selected(unsigned *order)
{
	unsigned n = 0;
	switch (m.sel) {
	case SEL_CHAIN:
		for (unsigned p = 0; p < PART_PCI_HOST; p++)
			order[n++] = p;
		if (m.pci_up)
			order[n++] = PART_PCI_HOST;
		for (unsigned k = 0; k < NDEV; k++) {
			order[n++] = PART_PORT0 + k;
			order[n++] = PART_DEV0 + k;
		}
		break;
	case SEL_HART0:
	case SEL_HART1: order[n++] = m.sel - SEL_HART0; break;
	case SEL_ACLINT: order[n++] = PART_ACLINT; break;
	case SEL_PLIC: order[n++] = PART_PLIC; break;
	case SEL_UART: order[n++] = PART_UART; break;
	case SEL_RTC: order[n++] = PART_RTC; break;
	case SEL_PCI_HOST: order[n++] = PART_PCI_HOST; break;
	default:
		order[n++] = PART_PORT0 + (m.sel - SEL_DEV0);
		order[n++] = PART_DEV0 + (m.sel - SEL_DEV0);
		break;
	}
	return n;
}

/* Load the parts the selector names, in order, stopping at the first failure (as
 * vm_devices_state_load does). Returns whether all loaded. */
static bool load_selected(struct state_in *in)
{
	unsigned order[NPARTS], n = selected(order);
	for (unsigned i = 0; i < n; i++)
		if (load_checked(order[i], in))
			return false;
	return true;
}

/* A load that may fail in the second round: a held receive buffer is parsed again from guest
 * RAM, which may have changed since it was popped (a device writing into a buffer that
 * overlaps its descriptors), and a chain that no longer parses is refused rightly. */
static bool may_fail_again(unsigned p, const struct state_in *in)
{
	return (p == PART_DEV0 + DEV_NET || p == PART_DEV0 + DEV_CONSOLE) &&
	       (strstr(in->err, "is malformed") || strstr(in->err, "room"));
}

/* The machine as it runs now, after the loaded state was used, snapshotted as
 * vm_snapshot_save does it (the disk and the card quiesced first), loads into fresh parts:
 * a restored VM can be snapshotted and restored again. */
static void snapshot_again(void)
{
	if (m.dev_up[DEV_BLK])
		virtio_blk_quiesce(&m.blk);
	if (m.dev_up[DEV_NET]) {
		virtio_net_set_paused(&m.net, true);
		virtio_net_quiesce(&m.net);
	}
	unsigned order[NPARTS], n = selected(order);
	struct state_out o;
	state_out_init(&o);
	for (unsigned i = 0; i < n; i++)
		save_part(order[i], &o);
	CHECK(!o.failed, "the machine does not save after its restored state was used: %s", o.err);
	machine_down();
	machine_up();
	if (m.verbose)
		fprintf(stderr, "fuzz_state: the second restore, %zu bytes\n", o.len);
	struct state_in in;
	state_in_init(&in, o.buf, o.len);
	for (unsigned i = 0; i < n; i++) {
		if (load_checked(order[i], &in)) {
			CHECK(may_fail_again(order[i], &in),
			      "%s: the state it saved after its restored state was used does not "
			      "load: %s",
			      part_name(order[i]), in.err);
			break;
		}
		if (i + 1 == n)
			CHECK(in.pos == in.len, "%zu bytes left after the second restore",
			      in.len - in.pos);
	}
	state_out_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER)
		return 0;
	if (!m.set_up)
		set_up_once();
	m.sel = data[0] % NSEL;
	m.pci_mask = data[1] & ((1u << NDEV) - 1);
	m.options = data[2];
	size_t len = (size_t)data[4] | (size_t)data[5] << 8;
	if (len > size - HEADER)
		len = size - HEADER;
	size_t img = size - HEADER - len;
	if (img > RAM_SIZE)
		img = RAM_SIZE;
	memset(m.mem.hva, 0, RAM_SIZE);
	memcpy(m.mem.hva, data + HEADER + len, img);
	m.now = 1000000;
	reset_harts();
	machine_up();
	if (m.verbose)
		fprintf(stderr,
			"fuzz_state: selector %u, pci 0x%x, options 0x%x, %zu stream bytes\n",
			m.sel, m.pci_mask, m.options, len);

	/* The stream in a block of its own, so that AddressSanitizer sees reads past it. */
	uint8_t *stream = malloc(len ? len : 1);
	CHECK(stream, "memory");
	memcpy(stream, data + HEADER, len);
	struct state_in in;
	state_in_init(&in, stream, len);
	if (load_selected(&in)) {
		unsigned order[NPARTS], n = selected(order);
		bool loaded[NPARTS] = {false};
		for (unsigned i = 0; i < n; i++)
			loaded[order[i]] = true;
		/* A restored VM resumes: its devices and platform first, then its harts (after a
		 * second snapshot and restore), and at last its drivers reset the devices. */
		for (unsigned k = 0; k < NDEV; k++)
			if (loaded[PART_DEV0 + k])
				use_device(k);
		for (unsigned p = PART_ACLINT; p <= PART_RTC; p++)
			if (loaded[p])
				use_platform(p);
		snapshot_again();
		for (unsigned i = 0; i < NHARTS; i++)
			if (loaded[i])
				run_hart(i);
		for (unsigned k = 0; k < NDEV; k++)
			if (loaded[PART_DEV0 + k])
				reset_device(k);
	}
	free(stream);
	machine_down();
	return 0;
}
