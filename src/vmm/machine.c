/* The board: rvisor's virt-style machine, read top to bottom. The memory map, the wiring of
 * interrupt lines from devices to the PLIC and from the PLIC and ACLINT to the harts, image
 * loading, the device tree, and the state each hart starts in. The only file that knows the
 * whole board. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cpu/isa.h"
#include "cpu/pmp.h"
#include "host/blk_file.h"
#include "state/stream.h"
#include "host/chr.h"
#include "host/landlock.h"
#include "host/net.h"
#include "host/net_slirp.h"
#include "host/net_tap.h"
#include "sbi/sbi.h"
#include "vmm/boot.h"
#include "vmm/fdt.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/balloon.h"
#include "virtio/fs.h"
#include "virtio/input.h"
#include "virtio/pci.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"
#include "jit/jit.h"
#include "vmm/vm.h"

/* ---- memory map (DESIGN.md) ---- */
#define SYSCON_BASE 0x00100000ull
#define RTC_BASE    0x00101000ull
#define ACLINT_BASE 0x02000000ull
/* ACLINT SSWI: where QEMU's virt board puts it (aclint=on), free in this layout too. */
#define SSWI_BASE     0x02f00000ull
#define PLIC_BASE     0x0c000000ull
#define UART_BASE     0x10000000ull
#define VIRTIO_BASE   0x10001000ull /* slot n at VIRTIO_BASE + n * VIRTIO_MMIO_SIZE */
#define PCI_ECAM_BASE 0x30000000ull /* bus 0's configuration space, PCI_ECAM_SIZE bytes */
#define PCI_MMIO_BASE 0x40000000ull /* the 32-bit window the guest places BARs in */
#define PCI_MMIO_SIZE 0x40000000ull
/* The 64-bit window: above the most RAM there can be (1 TiB from RAM_BASE). */
#define PCI_MMIO64_BASE 0x20000000000ull
#define PCI_MMIO64_SIZE 0x1000000000ull
#define RAM_BASE        0x80000000ull

/* ---- PLIC sources ---- */
#define UART_IRQ   10
#define RTC_IRQ    11
#define VIRTIO_IRQ 1  /* slot n raises source virtio_irq(n) */
#define PCI_IRQ    32 /* PCI device n's INTA raises source PCI_IRQ + n */
#define PLIC_NDEV  95 /* highest source id advertised */
_Static_assert(PCI_IRQ + PCI_MAX_DEVICES - 1 <= PLIC_NDEV, "every PCI device has a source");
_Static_assert(PCI_MAX_DEVICES == FDT_MAX_PCI, "the device tree maps every PCI device");

/* The PLIC source of virtio slot n: VIRTIO_IRQ + n below the UART's source, then past the
 * UART's and the RTC's (slots 0-8 on 1-9, slots 9 and up on 12 and up). */
static unsigned virtio_irq(unsigned n)
{
	unsigned irq = VIRTIO_IRQ + n;
	return irq < UART_IRQ ? irq : irq + 2;
}
_Static_assert(RTC_IRQ == UART_IRQ + 1, "virtio_irq skips exactly these two sources");
_Static_assert(VIRTIO_IRQ + FDT_MAX_VIRTIO + 2 <= PLIC_NDEV, "every virtio slot has a source");

#define TIMEBASE_HZ      10000000u
#define KERNEL_OFFSET    0x200000ull /* where a kernel goes above firmware: 2 MiB */
#define FDT_MAX          0x10000ull
#define FW_DYNAMIC_MAGIC 0x4942534full /* OpenSBI fw_dynamic_info, version 2 */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Deterministic runs: guest instructions per timebase tick (64 at 10 MHz: a 640 MIPS hart). */
#define DET_INSNS_PER_TICK 64

uint64_t vm_time_now(void *opaque)
{
	struct vm *vm = opaque;
	if (vm->cfg.deterministic)
		return (vm->harts ? hart_instret(&vm->harts[0]) / DET_INSNS_PER_TICK : 0) +
		       vm->idle_ticks;
	uint64_t paused = __atomic_load_n(&vm->paused_at_ns, __ATOMIC_ACQUIRE);
	uint64_t ns = paused ? paused : monotonic_ns();
	return (ns - __atomic_load_n(&vm->time_base_ns, __ATOMIC_ACQUIRE)) /
	       (1000000000ull / TIMEBASE_HZ);
}

/* ---- interrupt wiring ---- */
static void aclint_set_msip(void *opaque, unsigned hart, bool level)
{
	struct vm *vm = opaque;
	if (hart < vm->nharts)
		hart_set_mip(&vm->harts[hart], MIP_MSIP, level);
}

static void aclint_set_ssip(void *opaque, unsigned hart)
{
	struct vm *vm = opaque;
	if (hart < vm->nharts)
		hart_set_mip(&vm->harts[hart], MIP_SSIP, true);
}

static void aclint_set_mtimecmp(void *opaque, unsigned hart, uint64_t value)
{
	struct vm *vm = opaque;
	if (hart >= vm->nharts)
		return;
	atomic_store(&vm->harts[hart].mtimecmp, value);
	hart_update_timers(&vm->harts[hart], vm_time_now(vm));
	hart_kick(&vm->harts[hart]);
}

/* PLIC context 2n drives hart n's MEIP, context 2n+1 its SEIP. */
static void plic_context_out(void *opaque, unsigned ctx, bool level)
{
	struct vm *vm = opaque;
	if (ctx / 2 < vm->nharts)
		hart_set_mip(&vm->harts[ctx / 2], (ctx & 1) ? MIP_SEIP : MIP_MEIP, level);
}

static void syscon_event(void *opaque, enum syscon_event ev, uint32_t code)
{
	struct vm *vm = opaque;
	if (ev == SYSCON_EV_FAIL)
		vm->fail_code = code;
	vm_request_exit(vm, ev == SYSCON_EV_POWEROFF ? VM_STATUS_POWEROFF
			    : ev == SYSCON_EV_REBOOT ? VM_STATUS_REBOOT
						     : VM_STATUS_FAIL);
}

/* ---- hart callbacks ---- */
static void htif_tohost(void *opaque, struct hart *h, uint64_t v)
{
	struct vm *vm = opaque;
	uint64_t dev = v >> 56, cmd = (v >> 48) & 0xff;
	if (dev == 0 && (v & 1)) { /* exit: code << 1 | 1 */
		uint64_t code = (v << 16) >> 17;
		vm->fail_code = (uint32_t)code;
		vm_request_exit(vm, code ? VM_STATUS_FAIL : VM_STATUS_POWEROFF);
	} else if (dev == 1 && cmd == 1) { /* console putchar */
		uint8_t c = (uint8_t)v;
		if (vm->console)
			vm->console->write(vm->console, &c, 1);
	}
	/* Acknowledge so the guest may send the next command. */
	uint64_t *p = guest_mem_ptr(&vm->mem, h->tohost_gpa, 8);
	if (p)
		*p = 0;
}

static void hart_fatal(void *opaque, struct hart *h, uint64_t cause, uint64_t tval)
{
	struct vm *vm = opaque;
	fprintf(stderr,
		"\r\nrvisor: hart %llu cannot continue: trap to M-mode with no handler "
		"(mcause 0x%llx, mtval 0x%llx, pc 0x%llx)\r\n",
		(unsigned long long)h->mhartid, (unsigned long long)cause, (unsigned long long)tval,
		(unsigned long long)h->pc);
	vm_request_exit(vm, VM_STATUS_CRASH);
}

/* ---- devices ---- */
static int add_devices(struct vm *vm, char *err, size_t errlen)
{
	struct aclint_cb acb = {vm, vm_time_now, aclint_set_msip, aclint_set_mtimecmp,
				aclint_set_ssip};
	struct irq_line plic_out[PLIC_MAX_CONTEXTS];
	int rc;

	vm->syscon = (struct syscon){syscon_event, vm};
	rc = aclint_init(&vm->aclint, vm->nharts, &acb);
	if (rc)
		return fail(err, errlen, rc, "cannot create the ACLINT (%s)", strerror(-rc));
	for (unsigned c = 0; c < 2 * vm->nharts; c++)
		plic_out[c] = (struct irq_line){plic_context_out, vm, c};
	rc = plic_init(&vm->plic, PLIC_NDEV + 1, 2 * vm->nharts, plic_out);
	if (rc)
		return fail(err, errlen, rc, "cannot create the PLIC (%s)", strerror(-rc));
	rc = (vm->cfg.restore_mem ? uart16550_init_for_restore : uart16550_init)(
	    &vm->uart, vm->cfg.virtio_console ? NULL : vm->console,
	    (struct irq_line){plic_set_irq, &vm->plic, UART_IRQ});
	if (rc)
		return fail(err, errlen, rc, "cannot create the UART (%s)", strerror(-rc));
	if ((rc =
		 bus_add(&vm->bus, SYSCON_BASE, SYSCON_SIZE, &syscon_ops, &vm->syscon, "syscon")) ||
	    (rc =
		 bus_add(&vm->bus, ACLINT_BASE, ACLINT_SIZE, &aclint_ops, &vm->aclint, "aclint")) ||
	    (rc = bus_add(&vm->bus, SSWI_BASE, ACLINT_SSWI_SIZE, &aclint_sswi_ops, &vm->aclint,
			  "aclint-sswi")) ||
	    (rc = bus_add(&vm->bus, PLIC_BASE, PLIC_SIZE, &plic_ops, &vm->plic, "plic")) ||
	    (rc = bus_add(&vm->bus, UART_BASE, UART16550_SIZE, &uart16550_ops, &vm->uart, "uart")))
		return fail(err, errlen, rc, "cannot map devices (%s)", strerror(-rc));
	rc = goldfish_rtc_init(&vm->rtc, (struct irq_line){plic_set_irq, &vm->plic, RTC_IRQ});
	if (rc)
		return fail(err, errlen, rc, "cannot create the RTC (%s)", strerror(-rc));
	if (vm->cfg.deterministic)
		vm->rtc.frozen_ns = 1767225600ull * 1000000000ull; /* 2026-01-01 00:00 UTC */
	rc = bus_add(&vm->bus, RTC_BASE, GOLDFISH_RTC_SIZE, &goldfish_rtc_ops, &vm->rtc, "rtc");
	if (rc) {
		goldfish_rtc_destroy(&vm->rtc);
		return fail(err, errlen, rc, "cannot map devices (%s)", strerror(-rc));
	}
	return 0;
}

/* ---- virtio devices: the disks in --drive order (vda first), the network cards, the
 * console, then the entropy source; each on a virtio-mmio slot or the PCI bus ---- */

/* Where a virtio device is reached: its transport's state, on a virtio-mmio slot or inside
 * a PCI function. */
struct vm_port {
	union {
		struct virtio_transport mmio;
		struct virtio_pci pci;
	};
	bool up, on_pci;
};

struct vm_disk {
	struct blk_file file[2]; /* file[cur] is the disk's; the other takes a new medium */
	unsigned cur;
	bool readonly, lock, format_raw; /* as given: a new medium is opened the same way */
	struct virtio_blk blk;
	struct vm_port port;
	bool file_open, blk_up;
	pthread_mutex_t medium_lock; /* one vm_drive_set_path at a time */
};

struct vm_nic {
	struct net_backend *backend;
	struct virtio_net net;
	struct vm_port port;
	bool net_up;
};

struct vm_share {
	struct virtio_fs fs;
	struct vm_port port;
	bool fs_up;
};

struct vm_virtio {
	struct vm_disk disk[VM_MAX_DRIVES];
	unsigned ndisks;
	struct vm_nic nic[VM_MAX_NETS];
	unsigned nnics;
	struct vm_share share[VM_MAX_FS];
	unsigned nshares;
	struct virtio_console con;
	struct vm_port con_port;
	bool con_up;
	struct virtio_rng rng;
	struct vm_port rng_port;
	bool rng_up;
	struct virtio_balloon balloon;
	struct vm_port balloon_port;
	bool balloon_up;
	struct virtio_vsock vsock;
	struct vm_port vsock_port;
	bool vsock_up;
	struct virtio_input kbd;
	struct vm_port kbd_port;
	bool kbd_up;
	unsigned nslots; /* virtio-mmio slots in use */
	struct pci_host pci;
	bool pci_up;
};

static int add_virtio_slot(struct vm *vm, struct virtio_transport *t, const struct virtio_dev *dev,
			   char *err, size_t errlen)
{
	struct vm_virtio *v = vm->virtio;
	unsigned n = v->nslots;
	if (n >= FDT_MAX_VIRTIO)
		return fail(err, errlen, -ENOSPC,
			    "too many virtio-mmio devices (at most %d): put some on PCI with "
			    "transport=pci",
			    FDT_MAX_VIRTIO);
	int rc = virtio_mmio_init(t, dev, &vm->mem,
				  (struct irq_line){plic_set_irq, &vm->plic, virtio_irq(n)});
	if (rc)
		return fail(err, errlen, rc, "cannot create a virtio device (%s)", strerror(-rc));
	rc = bus_add(&vm->bus, VIRTIO_BASE + n * VIRTIO_MMIO_SIZE, VIRTIO_MMIO_SIZE,
		     &virtio_mmio_ops, t, "virtio-mmio");
	if (rc) {
		virtio_mmio_destroy(t);
		return fail(err, errlen, rc, "cannot map a virtio device (%s)", strerror(-rc));
	}
	v->nslots++;
	return 0;
}

static int add_virtio_pci(struct vm *vm, struct virtio_pci *vp, const struct virtio_dev *dev,
			  char *err, size_t errlen)
{
	struct pci_host *h = &vm->virtio->pci;
	if (h->ndev == PCI_MAX_DEVICES)
		return fail(err, errlen, -ENOSPC, "too many PCI devices (at most %d)",
			    PCI_MAX_DEVICES);
	int rc = virtio_pci_init(vp, dev, &vm->mem);
	if (rc)
		return fail(err, errlen, rc, "cannot create a virtio device (%s)", strerror(-rc));
	rc = pci_host_add(h, &vp->pci,
			  (struct irq_line){plic_set_irq, &vm->plic, PCI_IRQ + h->ndev});
	if (rc < 0) {
		virtio_pci_destroy(vp);
		return fail(err, errlen, rc, "cannot put a virtio device on PCI (%s)",
			    strerror(-rc));
	}
	return 0;
}

/* Put dev on the transport t asks for (the VM's default for VM_TRANSPORT_DEFAULT). */
static int add_port(struct vm *vm, struct vm_port *p, const struct virtio_dev *dev,
		    enum vm_transport t, char *err, size_t errlen)
{
	if (t == VM_TRANSPORT_DEFAULT)
		t = vm->cfg.transport;
	p->on_pci = t == VM_TRANSPORT_PCI;
	int rc = p->on_pci ? add_virtio_pci(vm, &p->pci, dev, err, errlen)
			   : add_virtio_slot(vm, &p->mmio, dev, err, errlen);
	p->up = !rc;
	return rc;
}

static void destroy_port(struct vm_port *p)
{
	if (p->up && p->on_pci)
		virtio_pci_destroy(&p->pci);
	else if (p->up)
		virtio_mmio_destroy(&p->mmio);
	p->up = false;
}

/* The format whose header the first bytes of an image hold, or NULL for none rvisor knows:
 * images rvisor cannot read as raw (their magic numbers as their specifications define). */
static const char *image_format(const uint8_t *b, size_t n)
{
	static const struct {
		size_t off;
		const char *magic;
		size_t len;
		const char *name;
	} known[] = {
	    {0, "QFI\xfb", 4, "qcow2"},
	    {0, "QED\0", 4, "qed"},
	    {0, "KDMV", 4, "vmdk"},
	    {0, "# Disk DescriptorFile", 21, "vmdk"},
	    {0x40, "\x7f\x10\xda\xbe", 4, "vdi"},
	    {0, "vhdxfile", 8, "vhdx"},
	    {0, "conectix", 8, "vpc"},
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].off + known[i].len <= n &&
		    !memcmp(b + known[i].off, known[i].magic, known[i].len))
			return known[i].name;
	return NULL;
}

static uint64_t le_bytes(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | b[n];
	return v;
}

/* When the first sector of an image of size bytes is an MBR (0x55AA at 510, every entry's
 * status 0x00 or 0x80) whose partitions reach past the end, or a protective MBR (type 0xEE)
 * before a GPT header ("EFI PART" at LBA 1) whose backup header lies past the end: the byte
 * offset the table says the disk reaches, else 0. head holds n bytes from offset 0, n >= 1024
 * for the GPT check. MBR as the UEFI specification 2.10 section 5.2.1 describes it, GPT
 * header section 5.3.2. */
static uint64_t partition_table_end(const uint8_t *head, size_t n, uint64_t size)
{
	if (n < 512 || head[510] != 0x55 || head[511] != 0xaa)
		return 0;
	uint64_t end = 0;
	for (unsigned i = 0; i < 4; i++) {
		const uint8_t *e = head + 446 + 16 * i;
		if (e[0] != 0x00 && e[0] != 0x80)
			return 0; /* not a partition table (say, a volume boot record) */
		uint64_t start = le_bytes(e + 8, 4), sectors = le_bytes(e + 12, 4);
		if (!e[4] || !sectors)
			continue;
		if (e[4] == 0xee) {
			/* The GPT's backup header: its LBA at offset 32 of the primary header. */
			if (n >= 1024 && !memcmp(head + 512, "EFI PART", 8)) {
				uint64_t backup = le_bytes(head + 512 + 32, 8);
				if (backup < UINT64_MAX / 512 && (backup + 1) * 512 > end)
					end = (backup + 1) * 512;
			}
			continue;
		}
		if ((start + sectors) * 512 > end)
			end = (start + sectors) * 512;
	}
	return end > size ? end : 0;
}

/* Open path for a disk (read-only or not) and, with lock, take its image locks. Unless raw
 * (format=raw), an image whose first sector is another format's header is refused, naming
 * it and the conversion. Returns 0, or -errno with one sentence in err; f is closed again on
 * failure. */
static int open_medium(struct blk_file *f, const char *path, bool readonly, bool lock, bool raw,
		       char *err, size_t errlen)
{
	int rc = blk_file_open(f, path, readonly);
	if (rc == -EACCES || rc == -EROFS || rc == -EPERM)
		return fail(err, errlen, rc,
			    "drive '%s' cannot be opened %s (%s)%s: check its permissions%s", path,
			    readonly ? "for reading" : "for writing", strerror(-rc),
			    landlock_hint(-rc), readonly ? "" : " or add readonly=on");
	if (rc == -ENOENT)
		return fail(err, errlen, rc, "drive '%s': no such file (check --drive path=)",
			    path);
	if (rc)
		return fail(err, errlen, rc,
			    "drive '%s' cannot be used as a disk (%s): give a raw image file or a "
			    "block device",
			    path, strerror(-rc));
	uint8_t head[1024];
	ssize_t got = pread(f->fd, head, sizeof(head), 0);
	const char *format = !raw && got > 0 ? image_format(head, (size_t)got) : NULL;
	if (format) {
		blk_file_close(f);
		return fail(err, errlen, -EINVAL,
			    "drive '%s' is a %s image and rvisor reads raw images: convert it with "
			    "'qemu-img convert -O raw %s %s.raw' and give the .raw file (or add "
			    "format=raw if it is a raw image that only starts like one)",
			    path, format, path, path);
	}
	/* An image file cut short (an interrupted copy or download) whose partition table
	 * says how long it should be; a block device is as long as it is. */
	uint64_t want = !f->blkdev && got > 0 ? partition_table_end(head, (size_t)got, f->size) : 0;
	if (want) {
		blk_file_close(f);
		return fail(err, errlen, -EINVAL,
			    "drive '%s' is truncated: its partition table reaches byte %" PRIu64
			    " but the file has %" PRIu64 " bytes (copy or download it again)",
			    path, want, f->size);
	}
	bool writer = false;
	rc = lock ? blk_file_lock(f, &writer) : 0;
	if (rc)
		blk_file_close(f);
	if (rc == -EBUSY)
		return fail(err, errlen, rc,
			    "drive '%s' is in use by another VM or --drive, which %s", path,
			    writer ? "writes it: stop that VM first (only read-only users share a "
				     "disk, each with readonly=on)"
				   : "lets no other user write it: stop that VM first, or add "
				     "readonly=on here");
	if (rc)
		return fail(err, errlen, rc,
			    "drive '%s' cannot be locked against other VMs (%s): the file system "
			    "lacks file locks; add lock=off only if no other VM can open the image",
			    path, strerror(-rc));
	return 0;
}

static int add_disk(struct vm *vm, const struct vm_drive *d, char *err, size_t errlen)
{
	struct vm_disk *k = &vm->virtio->disk[vm->virtio->ndisks++];
	struct virtio_dev dev;
	k->readonly = d->readonly;
	k->lock = d->lock;
	k->format_raw = d->format_raw;
	int rc =
	    open_medium(&k->file[0], d->path, d->readonly, d->lock, d->format_raw, err, errlen);
	if (rc)
		return rc;
	k->file_open = true;
	pthread_mutex_init(&k->medium_lock, NULL);
	rc = virtio_blk_init(&k->blk, &k->file[0], d->id, &dev);
	if (rc)
		return fail(err, errlen, rc, "cannot create the disk for '%s' (%s)", d->path,
			    strerror(-rc));
	k->blk_up = true;
	if (rate_limiter_active(&d->limiter))
		virtio_blk_set_rate_limiter(&k->blk, &d->limiter);
	return add_port(vm, &k->port, &dev, d->transport, err, errlen);
}

static int add_nic(struct vm *vm, const struct vm_net *n, char *err, size_t errlen)
{
	struct vm_nic *c = &vm->virtio->nic[vm->virtio->nnics++];
	struct virtio_dev dev;
	int rc = n->type == VM_NET_TAP ? net_tap_open(&c->backend, n->tap, err, errlen)
				       : net_slirp_open(&c->backend, &n->slirp, err, errlen);
	if (rc)
		return rc;
	rc = virtio_net_init(&c->net, c->backend, n->has_mac ? n->mac : NULL, &dev);
	if (rc)
		return fail(err, errlen, rc, "cannot create the network card (%s)", strerror(-rc));
	c->net_up = true;
	if (rate_limiter_active(&n->rx_limiter) || rate_limiter_active(&n->tx_limiter)) {
		rc = virtio_net_set_rate_limiters(&c->net, &n->rx_limiter, &n->tx_limiter);
		if (rc)
			return fail(err, errlen, rc, "cannot start the card's rate limiter (%s)",
				    strerror(-rc));
	}
	return add_port(vm, &c->port, &dev, n->transport, err, errlen);
}

static int add_fs(struct vm *vm, const struct vm_fs *f, char *err, size_t errlen)
{
	struct vm_share *sh = &vm->virtio->share[vm->virtio->nshares++];
	struct virtio_dev dev;
	int rc = virtio_fs_init(&sh->fs, f->tag, f->socket, &vm->mem, &dev, err, errlen);
	if (rc)
		return rc;
	sh->fs_up = true;
	return add_port(vm, &sh->port, &dev, f->transport, err, errlen);
}

static int add_console(struct vm *vm, char *err, size_t errlen)
{
	struct virtio_dev dev;
	int rc = virtio_console_init(&vm->virtio->con, vm->console, &dev);
	if (rc)
		return fail(err, errlen, rc, "cannot create the virtio console (%s)",
			    strerror(-rc));
	vm->virtio->con_up = true;
	return add_port(vm, &vm->virtio->con_port, &dev, VM_TRANSPORT_DEFAULT, err, errlen);
}

void vm_console_resized(struct vm *vm)
{
	if (vm->virtio && vm->virtio->con_up)
		virtio_console_resize(&vm->virtio->con);
}

static int add_virtio(struct vm *vm, char *err, size_t errlen)
{
	struct virtio_dev dev;
	int rc;
	vm->virtio = calloc(1, sizeof(*vm->virtio));
	if (!vm->virtio)
		return fail(err, errlen, -ENOMEM, "out of memory creating virtio devices");
	/* The PCIe host bridge is part of the board, with devices on it or not. */
	if ((rc = pci_host_init(&vm->virtio->pci, PCI_MMIO_BASE, PCI_MMIO_SIZE, PCI_MMIO64_BASE,
				PCI_MMIO64_SIZE)))
		return fail(err, errlen, rc, "cannot create the PCI bus (%s)", strerror(-rc));
	vm->virtio->pci_up = true;
	if ((rc = bus_add(&vm->bus, PCI_ECAM_BASE, PCI_ECAM_SIZE, &pci_ecam_ops, &vm->virtio->pci,
			  "pci-ecam")) ||
	    (rc = bus_add(&vm->bus, PCI_MMIO_BASE, PCI_MMIO_SIZE, &pci_mmio_ops,
			  &vm->virtio->pci.mmio32, "pci-mmio32")) ||
	    (rc = bus_add(&vm->bus, PCI_MMIO64_BASE, PCI_MMIO64_SIZE, &pci_mmio_ops,
			  &vm->virtio->pci.mmio64, "pci-mmio64")))
		return fail(err, errlen, rc, "cannot map the PCI bus (%s)", strerror(-rc));
	for (unsigned i = 0; i < vm->cfg.ndrives; i++)
		if ((rc = add_disk(vm, &vm->cfg.drives[i], err, errlen)))
			return rc;
	for (unsigned i = 0; i < vm->cfg.nnets; i++)
		if ((rc = add_nic(vm, &vm->cfg.nets[i], err, errlen)))
			return rc;
	for (unsigned i = 0; i < vm->cfg.nfs; i++)
		if ((rc = add_fs(vm, &vm->cfg.fs[i], err, errlen)))
			return rc;
	if (vm->cfg.virtio_console && vm->console && (rc = add_console(vm, err, errlen)))
		return rc;
	if (vm->cfg.keyboard) {
		if ((rc = virtio_input_init(&vm->virtio->kbd, &dev)))
			return fail(err, errlen, rc, "cannot create the keyboard (%s)",
				    strerror(-rc));
		vm->virtio->kbd_up = true;
		if ((rc = add_port(vm, &vm->virtio->kbd_port, &dev, VM_TRANSPORT_DEFAULT, err,
				   errlen)))
			return rc;
	}
	if (vm->cfg.vsock_cid) {
		if ((rc = virtio_vsock_init(&vm->virtio->vsock, vm->cfg.vsock_cid,
					    vm->cfg.vsock_uds, &dev, err, errlen)))
			return rc;
		vm->virtio->vsock_up = true;
		if ((rc = add_port(vm, &vm->virtio->vsock_port, &dev, VM_TRANSPORT_DEFAULT, err,
				   errlen)))
			return rc;
	}
	if (vm->cfg.balloon) {
		if ((rc = virtio_balloon_init(&vm->virtio->balloon, &vm->mem, vm->cfg.balloon_mib,
					      vm->cfg.balloon_deflate_on_oom, &dev)))
			return fail(err, errlen, rc, "cannot create the balloon (%s)",
				    strerror(-rc));
		vm->virtio->balloon_up = true;
		if ((rc = add_port(vm, &vm->virtio->balloon_port, &dev, VM_TRANSPORT_DEFAULT, err,
				   errlen)))
			return rc;
	}
	if ((rc = virtio_rng_init(&vm->virtio->rng, &dev)))
		return fail(err, errlen, rc, "cannot create the entropy device (%s)",
			    strerror(-rc));
	vm->virtio->rng_up = true;
	if (vm->cfg.deterministic)
		vm->virtio->rng.prng = 0x9e3779b97f4a7c15ull;
	return add_port(vm, &vm->virtio->rng_port, &dev, VM_TRANSPORT_DEFAULT, err, errlen);
}

static void destroy_virtio(struct vm *vm)
{
	struct vm_virtio *v = vm->virtio;
	if (!v)
		return;
	for (unsigned i = 0; i < v->ndisks; i++) {
		struct vm_disk *k = &v->disk[i];
		if (k->blk_up)
			virtio_blk_destroy(&k->blk); /* before the transport: completions use it */
		destroy_port(&k->port);
		if (k->file_open) {
			blk_file_close(&k->file[k->cur]);
			pthread_mutex_destroy(&k->medium_lock);
		}
	}
	for (unsigned i = 0; i < v->nnics; i++) {
		struct vm_nic *c = &v->nic[i];
		if (c->net_up)
			virtio_net_destroy(&c->net);
		destroy_port(&c->port);
		if (c->backend)
			c->backend->close(c->backend);
	}
	for (unsigned i = 0; i < v->nshares; i++) {
		if (v->share[i].fs_up)
			virtio_fs_destroy(&v->share[i].fs); /* first: its thread interrupts */
		destroy_port(&v->share[i].port);
	}
	if (v->con_up)
		virtio_console_destroy(&v->con);
	destroy_port(&v->con_port);
	if (v->rng_up)
		virtio_rng_destroy(&v->rng);
	destroy_port(&v->rng_port);
	destroy_port(&v->kbd_port);
	if (v->kbd_up)
		virtio_input_destroy(&v->kbd);
	if (v->vsock_up)
		virtio_vsock_destroy(&v->vsock); /* first: its thread completes requests */
	destroy_port(&v->vsock_port);
	destroy_port(&v->balloon_port);
	if (v->balloon_up)
		virtio_balloon_destroy(&v->balloon);
	if (v->pci_up)
		pci_host_destroy(&v->pci);
	free(v);
	vm->virtio = NULL;
}

/* ---- images ---- */
struct layout {
	uint64_t entry;        /* where hart 0 starts */
	bool entry_m;          /* in M-mode (firmware) or S-mode (kernel) */
	uint64_t kernel_entry; /* for fw_dynamic_info */
	uint64_t initrd_start, initrd_end;
	uint64_t tohost;
	uint64_t low_free; /* first byte above the loaded images */
};

static int load_images(struct vm *vm, struct layout *l, char *err, size_t errlen)
{
	const struct vm_config *c = &vm->cfg;
	struct boot_image fw = {0}, k = {0};
	int rc;

	memset(l, 0, sizeof(*l));
	l->low_free = RAM_BASE;
	if (c->firmware) {
		rc = boot_load_firmware(&vm->mem, c->firmware, RAM_BASE, &fw, err, errlen);
		if (rc)
			return rc;
		l->entry = fw.entry;
		l->entry_m = true;
		l->tohost = fw.tohost;
		l->low_free = fw.end;
	}
	if (c->kernel) {
		rc = boot_load_kernel(&vm->mem, c->kernel, RAM_BASE + KERNEL_OFFSET, &k, err,
				      errlen);
		if (rc)
			return rc;
		if (c->firmware && k.start < fw.end && fw.start < k.end)
			return fail(err, errlen, -EINVAL,
				    "firmware '%s' (0x%llx-0x%llx) overlaps kernel '%s' "
				    "(0x%llx-0x%llx): use a firmware that fits below 0x%llx",
				    c->firmware, (unsigned long long)fw.start,
				    (unsigned long long)fw.end, c->kernel,
				    (unsigned long long)k.start, (unsigned long long)k.end,
				    (unsigned long long)k.start);
		if (c->firmware && fw.start >= k.end)
			return fail(err, errlen, -EINVAL,
				    "firmware '%s' loads above the kernel: fw_dynamic firmware "
				    "must load at 0x%llx",
				    c->firmware, (unsigned long long)RAM_BASE);
		if (k.end > vm->fdt_gpa - 0x1000)
			return fail(err, errlen, -EFBIG,
				    "kernel '%s' (%llu MiB) leaves no room for the device tree in "
				    "%llu MiB of RAM: raise --mem",
				    c->kernel, (unsigned long long)((k.end - k.start) >> 20),
				    (unsigned long long)(c->mem_size >> 20));
		l->kernel_entry = k.entry;
		if (!c->firmware) {
			l->entry = k.entry;
			l->tohost = k.tohost;
		}
		if (k.end > l->low_free)
			l->low_free = k.end;
	}
	if (c->initrd) {
		rc = boot_load_initrd(&vm->mem, c->initrd, (l->low_free + 0xfff) & ~0xfffull,
				      vm->fdt_gpa - 0x1000, &l->initrd_start, &l->initrd_end, err,
				      errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int build_fdt(struct vm *vm, const struct layout *l, char *err, size_t errlen)
{
	uint8_t seed[32];
	/* What hart 0 has, every hart has (vm_create gives them one model). */
	char isa[256];
	const char *isa_extensions[ISA_MAX_NAMES];
	uint64_t ext = vm->harts[0].isa_ext;
	isa_string(ext, isa, sizeof(isa));
	struct fdt_board b = {
	    .nharts = vm->nharts,
	    .ram_base = RAM_BASE,
	    .ram_size = vm->cfg.mem_size,
	    .isa = isa,
	    .isa_extensions = isa_extensions,
	    .n_isa_extensions = isa_names(ext, isa_extensions, ISA_MAX_NAMES),
	    .mmu_type = "riscv,sv57",
	    .timebase_hz = TIMEBASE_HZ,
	    .clint_base = ACLINT_BASE,
	    .clint_size = ACLINT_SIZE,
	    .sswi_base = SSWI_BASE,
	    .sswi_size = ACLINT_SSWI_SIZE,
	    .plic_base = PLIC_BASE,
	    .plic_size = PLIC_SIZE,
	    .plic_ndev = PLIC_NDEV,
	    .uart_base = UART_BASE,
	    .uart_size = UART16550_SIZE,
	    .uart_irq = UART_IRQ,
	    .uart_clock_hz = 3686400,
	    .syscon_base = SYSCON_BASE,
	    .syscon_size = SYSCON_SIZE,
	    .rtc_base = RTC_BASE,
	    .rtc_size = GOLDFISH_RTC_SIZE,
	    .rtc_irq = RTC_IRQ,
	    .nvirtio = vm->virtio ? vm->virtio->nslots : 0,
	    .bootargs = vm->cfg.cmdline,
	    .initrd_start = l->initrd_start,
	    .initrd_end = l->initrd_end,
	};
	if (vm->virtio) {
		b.pci_ecam_base = PCI_ECAM_BASE;
		b.pci_ecam_size = PCI_ECAM_SIZE;
		b.pci_mmio_base = PCI_MMIO_BASE;
		b.pci_mmio_size = PCI_MMIO_SIZE;
		b.pci_mmio64_base = PCI_MMIO64_BASE;
		b.pci_mmio64_size = PCI_MMIO64_SIZE;
		b.npci = vm->virtio->pci.ndev;
		for (unsigned i = 0; i < b.npci; i++)
			b.pci_irq[i] = PCI_IRQ + i;
	}
	for (unsigned i = 0; i < b.nvirtio; i++) {
		b.virtio[i].base = VIRTIO_BASE + i * VIRTIO_MMIO_SIZE;
		b.virtio[i].size = VIRTIO_MMIO_SIZE;
		b.virtio[i].irq = virtio_irq(i);
	}
	if (vm->cfg.deterministic) {
		for (unsigned i = 0; i < sizeof(seed); i++)
			seed[i] = (uint8_t)(i * 37 + 11);
		b.rng_seed = seed;
		b.rng_seed_len = sizeof(seed);
	} else if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed)) {
		b.rng_seed = seed;
		b.rng_seed_len = sizeof(seed);
	}
	void *dst = guest_mem_ptr(&vm->mem, vm->fdt_gpa, FDT_MAX);
	int n = dst ? fdt_build(&b, dst, FDT_MAX) : -ENOSPC;
	if (n < 0)
		return fail(err, errlen, n, "cannot build the device tree (%s)", strerror(-n));
	return 0;
}

/* ---- the state each hart starts in ---- */
static void start_harts(struct vm *vm, const struct layout *l)
{
	for (unsigned i = 0; i < vm->nharts; i++) {
		struct hart *h = &vm->harts[i];
		hart_reset(h, l->entry);
		h->tohost_gpa = l->tohost;
		h->x[10] = i;
		h->x[11] = vm->fdt_gpa;
		if (l->entry_m) {
			/* Firmware: every hart enters it in M-mode; a2 = fw_dynamic_info. */
			h->x[12] = vm->fdt_gpa - 0x1000;
			continue;
		}
		/* Built-in SBI: M-mode exists only inside rvisor. Delegate everything the
		 * kernel handles to S-mode and enter it directly (SBI spec: boot hart in
		 * S-mode with a0 = hartid, a1 = DTB). */
		h->m_trap_fatal = true;
		h->medeleg = ~(1ull << CAUSE_SUPERVISOR_ECALL) & 0xb3ff;
		h->mideleg = MIP_SSIP | MIP_STIP | MIP_SEIP;
		h->mie = MIP_SSIP | MIP_STIP | MIP_SEIP;
		h->mcounteren = 7;
		/* scounteren's reset value is unspecified; firmware leaves user access to
		 * cycle, time and instret on. Linux changes it only from its SBI PMU driver,
		 * which does not probe without the PMU extension, so without this user-mode
		 * rdtime (the vDSO clock) would trap. */
		h->scounteren = 7;
		/* As firmware does: Sstc for S-mode, the cache-block operations the hart has
		 * (CBIE = 11: cbo.inval invalidates) and Svpbmt's page types. */
		h->menvcfg = MENVCFG_STCE;
		if (h->isa_ext & ISA_EXT(zicbom))
			h->menvcfg |= MENVCFG_CBIE | MENVCFG_CBCFE;
		if (h->isa_ext & ISA_EXT(zicboz))
			h->menvcfg |= MENVCFG_CBZE;
		if (h->isa_ext & ISA_EXT(svpbmt))
			h->menvcfg |= MENVCFG_PBMTE;
		/* As firmware does before entering S-mode: PMP entry 0 gives S and U all of
		 * memory (with no entry enabled they could reach nothing). */
		pmp_allow_all(h, 0);
		h->priv = PRV_S;
		hart_update_mode(h);
		if (i != 0)
			atomic_store(&h->stopped, 1);
	}
	if (l->entry_m && vm->cfg.kernel) {
		uint64_t *info = guest_mem_ptr(&vm->mem, vm->fdt_gpa - 0x1000, 48);
		if (info) {
			info[0] = FW_DYNAMIC_MAGIC;
			info[1] = 2;               /* version */
			info[2] = l->kernel_entry; /* next_addr */
			info[3] = 1;               /* next_mode: S */
			info[4] = 0;               /* options */
			info[5] = ~0ull;           /* boot_hart: any */
		}
	}
}

int vm_create(struct vm *vm, const struct vm_config *cfg, struct chr *console, char *err,
	      size_t errlen)
{
	struct layout l;
	struct timespec ts;
	int rc;

	/* The threads made here (devices' workers) inherit the caller's mask: SIGWINCH, which
	 * vm_run waits for, must not be delivered to one of them (where it is ignored). */
	sigset_t winch;
	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &winch, NULL);

	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->console = console;
	vm->nharts = cfg->ncpus;
	vm->status = VM_STATUS_RUNNING;
	vm->builtin_sbi = cfg->firmware == NULL;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	vm->time_base_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;

	if (!cfg->kernel && !cfg->firmware && !cfg->restore_mem)
		return fail(err, errlen, -EINVAL,
			    "nothing to run: give --kernel FILE (or --firmware FILE)");
	if (cfg->ncpus < 1 || cfg->ncpus > VM_MAX_HARTS)
		return fail(err, errlen, -EINVAL, "--cpus %u is out of range: use 1 to %d",
			    cfg->ncpus, VM_MAX_HARTS);
	const struct isa_cpu *cpu = isa_cpu_find(cfg->cpu ? cfg->cpu : ISA_CPU_DEFAULT);
	if (!cpu)
		return fail(err, errlen, -EINVAL, "--cpu '%s' is not one of: %s", cfg->cpu,
			    ISA_CPU_CHOICES);
	if (cfg->deterministic && cfg->ncpus != 1)
		return fail(err, errlen, -EINVAL, "a deterministic run has one hart, not %u",
			    cfg->ncpus);
	if (cfg->track_dirty_pages && cfg->nfs)
		return fail(err, errlen, -EINVAL,
			    "dirty page tracking cannot see what the daemon of virtio-fs '%s' "
			    "writes into guest RAM: turn off track_dirty_pages or drop the share",
			    cfg->fs[0].tag);
	if (cfg->restore_mem && cfg->restore_mem_fd > 2) {
		rc = guest_mem_adopt_fd(&vm->mem, RAM_BASE, cfg->mem_size, cfg->restore_mem_fd);
		if (rc)
			return fail(err, errlen, rc, "cannot map %s (%s)", cfg->restore_mem,
				    strerror(-rc));
	} else if (cfg->restore_mem) {
		rc = guest_mem_init_file(&vm->mem, RAM_BASE, cfg->mem_size, cfg->restore_mem);
		if (rc == -ERANGE)
			return fail(
			    err, errlen, rc,
			    "memory file '%s' is not the snapshot's %llu MiB: give the memory "
			    "file taken with this snapshot",
			    cfg->restore_mem, (unsigned long long)(cfg->mem_size >> 20));
		if (rc)
			return fail(err, errlen, rc,
				    "cannot map memory file '%s' (%s): give the memory file taken "
				    "with this snapshot",
				    cfg->restore_mem, strerror(-rc));
	} else {
		rc = guest_mem_init(&vm->mem, RAM_BASE, cfg->mem_size);
	}
	if (rc)
		return fail(err, errlen, rc,
			    "cannot allocate %llu MiB of guest RAM (%s): lower --mem",
			    (unsigned long long)(cfg->mem_size >> 20), strerror(-rc));
	if (cfg->track_dirty_pages && guest_mem_dirty_enable(&vm->mem))
		return fail(err, errlen, -ENOMEM, "out of memory for the dirty log of %llu MiB",
			    (unsigned long long)(cfg->mem_size >> 20));
	/* The device tree sits in the top 2 MiB of RAM, fw_dynamic_info just below it. */
	vm->fdt_gpa = RAM_BASE + cfg->mem_size - 0x200000;

	vm->harts = calloc(vm->nharts, sizeof(*vm->harts));
	if (!vm->harts)
		return fail(err, errlen, -ENOMEM, "out of memory creating %u harts", vm->nharts);
	struct hart_env env = {
	    .opaque = vm,
	    .sbi_call = vm->builtin_sbi ? sbi_call : NULL,
	    .time_now = vm_time_now,
	    .htif_tohost = htif_tohost,
	    .fatal = hart_fatal,
	};
	for (unsigned i = 0; i < vm->nharts; i++) {
		rc = hart_init(&vm->harts[i], i, &vm->mem, &vm->bus, &env);
		if (rc)
			return fail(err, errlen, rc, "out of memory creating hart %u", i);
		vm->harts[i].isa_ext = cpu->ext;
		if (cfg->accel == VM_ACCEL_JIT ||
		    (cfg->accel == VM_ACCEL_DEFAULT && jit_available())) {
			size_t cache = cfg->jit_cache ? cfg->jit_cache : JIT_CACHE_DEFAULT;
			rc = jit_init(&vm->harts[i], cache);
			if (rc)
				return fail(err, errlen, rc,
					    "cannot set up the translator's %zu MiB code cache for "
					    "hart %u (%s): lower --jit-cache or use --accel interp",
					    cache >> 20, i, strerror(-rc));
			if (vm->nharts > 1)
				jit_set_shared(&vm->harts[i]);
		}
	}
	rc = add_devices(vm, err, errlen);
	if (rc)
		return rc;
	vm->devices_up = true;
	rc = add_virtio(vm, err, errlen);
	if (rc)
		return rc;
	if (cfg->restore_mem)
		return 0; /* RAM holds the images; vm_snapshot_load sets the harts and devices */
	rc = load_images(vm, &l, err, errlen);
	if (rc)
		return rc;
	rc = build_fdt(vm, &l, err, errlen);
	if (rc)
		return rc;
	start_harts(vm, &l);
	return 0;
}

void vm_destroy(struct vm *vm)
{
	destroy_virtio(vm);
	if (vm->devices_up) {
		goldfish_rtc_destroy(&vm->rtc); /* its alarm thread drives a PLIC source */
		uart16550_destroy(&vm->uart);
		plic_destroy(&vm->plic);
		aclint_destroy(&vm->aclint);
		vm->devices_up = false;
	}
	if (vm->harts) {
		for (unsigned i = 0; i < vm->nharts; i++)
			if (vm->harts[i].dcache)
				hart_destroy(&vm->harts[i]);
		free(vm->harts);
		vm->harts = NULL;
	}
	free(vm->threads);
	vm->threads = NULL;
	guest_mem_destroy(&vm->mem);
	pthread_mutex_destroy(&vm->lock);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->cond);
}

int vm_drive_set_rate_limiter(struct vm *vm, unsigned drive, const struct rate_limiter_config *cfg)
{
	if (!vm->virtio || drive >= vm->virtio->ndisks || !vm->virtio->disk[drive].blk_up)
		return -ENODEV;
	virtio_blk_set_rate_limiter(&vm->virtio->disk[drive].blk, cfg);
	return 0;
}

/* The transport under a port. */
static struct virtio_transport *port_transport(struct vm_port *p)
{
	return p->on_pci ? &p->pci.t : &p->mmio;
}

int vm_drive_set_path(struct vm *vm, unsigned drive, const char *path, char *err, size_t errlen)
{
	if (!vm->virtio || drive >= vm->virtio->ndisks || !vm->virtio->disk[drive].blk_up)
		return fail(err, errlen, -ENODEV, "no such disk");
	struct vm_disk *k = &vm->virtio->disk[drive];
	pthread_mutex_lock(&k->medium_lock);
	unsigned next = k->cur ^ 1;
	int rc =
	    open_medium(&k->file[next], path, k->readonly, k->lock, k->format_raw, err, errlen);
	if (!rc) {
		virtio_blk_set_file(&k->blk, &k->file[next]); /* opened as the first: succeeds */
		unsigned old = k->cur;
		k->cur = next;
		/* What the guest wrote to the old medium without a flush is kept too. */
		blk_file_flush(&k->file[old]);
		blk_file_close(&k->file[old]);
		virtio_config_changed(port_transport(&k->port));
	}
	pthread_mutex_unlock(&k->medium_lock);
	return rc;
}

bool vm_drive_stats(struct vm *vm, unsigned drive, struct virtio_blk_stats *out)
{
	if (!vm->virtio || drive >= vm->virtio->ndisks || !vm->virtio->disk[drive].blk_up)
		return false;
	const struct virtio_blk_stats *s = &vm->virtio->disk[drive].blk.stats;
	out->reads = __atomic_load_n(&s->reads, __ATOMIC_RELAXED);
	out->writes = __atomic_load_n(&s->writes, __ATOMIC_RELAXED);
	out->flushes = __atomic_load_n(&s->flushes, __ATOMIC_RELAXED);
	out->read_bytes = __atomic_load_n(&s->read_bytes, __ATOMIC_RELAXED);
	out->write_bytes = __atomic_load_n(&s->write_bytes, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
	out->throttled = __atomic_load_n(&s->throttled, __ATOMIC_RELAXED);
	return true;
}

bool vm_net_stats(struct vm *vm, unsigned nic, struct virtio_net_stats *out)
{
	if (!vm->virtio || nic >= vm->virtio->nnics || !vm->virtio->nic[nic].net_up)
		return false;
	const uint64_t *src = (const uint64_t *)(const void *)&vm->virtio->nic[nic].net.stats;
	uint64_t *dst = (uint64_t *)(void *)out;
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	return true;
}

/* The devices' own threads, which move data into guest memory without a vCPU: disks,
 * network cards, vsock, the virtio console's input. (virtio-fs requests already with the daemon
 * still complete.) */
static void set_devices_paused(struct vm *vm, bool paused)
{
	struct vm_virtio *v = vm->virtio;
	for (unsigned i = 0; v && i < v->ndisks; i++)
		if (v->disk[i].blk_up)
			virtio_blk_set_paused(&v->disk[i].blk, paused);
	for (unsigned i = 0; v && i < v->nnics; i++)
		if (v->nic[i].net_up)
			virtio_net_set_paused(&v->nic[i].net, paused);
	if (v && v->vsock_up)
		virtio_vsock_set_paused(&v->vsock, paused);
	if (v && v->con_up)
		virtio_console_set_paused(&v->con, paused);
}

void vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	if (!vm->paused_at_ns) {
		for (unsigned i = 0; i < vm->nharts; i++)
			hart_set_paused(&vm->harts[i], true, true);
		/* Then the devices' own threads: the disks take no more requests. */
		set_devices_paused(vm, true);
		__atomic_store_n(&vm->paused_at_ns, monotonic_ns(), __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&vm->pause_lock);
}

/* The disks' locks (flushed first when let go). */
static int hand_over_disks(struct vm *vm, bool release, char *err, size_t errlen)
{
	struct vm_virtio *v = vm->virtio;
	for (unsigned i = 0; v && i < v->ndisks; i++) {
		struct vm_disk *d = &v->disk[i];
		if (!d->file_open || !d->lock)
			continue;
		struct blk_file *f = &d->file[d->cur];
		if (release) {
			int rc = d->readonly ? 0 : blk_file_flush(f);
			if (rc)
				return fail(err, errlen, rc, "cannot flush drive '%s' (%s)",
					    vm->cfg.drives[i].path, strerror(-rc));
			blk_file_unlock(f);
			continue;
		}
		bool writer;
		int rc = f->locked ? 0 : blk_file_lock(f, &writer);
		if (rc)
			return fail(
			    err, errlen, rc,
			    "drive '%s' was taken by another process while handed over (%s)",
			    vm->cfg.drives[i].path, strerror(-rc));
	}
	return 0;
}

/* What connects the guest to the host and is bound to this process: the vsock's listening
 * socket and the TAP interfaces (one process at a time can attach to a TAP). */
static int hand_over_links(struct vm *vm, bool release, char *err, size_t errlen)
{
	struct vm_virtio *v = vm->virtio;
	if (v && v->vsock_up) {
		int rc = virtio_vsock_hand_over(&v->vsock, release, err, errlen);
		if (rc)
			return rc;
	}
	for (unsigned i = 0; v && i < v->nnics; i++) {
		if (!v->nic[i].backend || vm->cfg.nets[i].type != VM_NET_TAP)
			continue;
		int rc = net_tap_hand_over(v->nic[i].backend, release, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int vm_hand_over(struct vm *vm, bool release, char *err, size_t errlen)
{
	if (release) {
		int rc = hand_over_links(vm, true, err, errlen);
		return rc ? rc : hand_over_disks(vm, true, err, errlen);
	}
	/* Taking back: the disks decide (another process may hold one: running would corrupt
	 * it); a vsock path or TAP taken meanwhile only cuts the guest off, so it runs on. */
	int rc = hand_over_disks(vm, false, err, errlen);
	if (rc)
		return rc;
	char why[256];
	if (hand_over_links(vm, false, why, sizeof(why)))
		fprintf(stderr, "rvisor: %s; the guest runs on without it\n", why);
	return 0;
}

uint64_t vm_dirty_take(struct vm *vm, uint64_t *out)
{
	uint64_t n = guest_mem_dirty_take(&vm->mem, out);
	if (!vm->mem.dirty)
		return n;
	/* A store through a write entry filled before the take would not mark its page: every
	 * hart drops them (a parked hart serves this too; a stopped one does on its start). */
	for (unsigned i = 0; i < vm->nharts; i++) {
		atomic_fetch_or(&vm->harts[i].fence_req, HART_FENCE_DIRTY);
		hart_kick(&vm->harts[i]);
	}
	for (unsigned i = 0; i < vm->nharts; i++) {
		struct hart *h = &vm->harts[i];
		while ((atomic_load(&h->fence_req) & HART_FENCE_DIRTY) &&
		       !atomic_load(&h->stopped) && !atomic_load(&h->exit_req))
			sched_yield();
	}
	return n;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	uint64_t paused = vm->paused_at_ns;
	if (paused) {
		/* The clock goes on from where it stood: the pause is taken out of its base. */
		__atomic_store_n(&vm->time_base_ns, vm->time_base_ns + (monotonic_ns() - paused),
				 __ATOMIC_RELEASE);
		__atomic_store_n(&vm->paused_at_ns, 0, __ATOMIC_RELEASE);
		set_devices_paused(vm, false);
		for (unsigned i = 0; i < vm->nharts; i++)
			hart_set_paused(&vm->harts[i], false, false);
	}
	pthread_mutex_unlock(&vm->pause_lock);
}

/* ---- snapshots: the devices' sections, in creation order ---- */

static void port_save(struct vm_port *p, struct state_out *o)
{
	if (p->on_pci)
		virtio_pci_state_save(&p->pci, o);
	else
		virtio_transport_state_save(&p->mmio, o);
}

static int port_load(struct vm_port *p, struct state_in *in)
{
	return p->on_pci ? virtio_pci_state_load(&p->pci, in)
			 : virtio_transport_state_load(&p->mmio, in);
}

void vm_devices_quiesce(struct vm *vm)
{
	struct vm_virtio *v = vm->virtio;
	for (unsigned i = 0; v && i < v->ndisks; i++)
		if (v->disk[i].blk_up)
			virtio_blk_quiesce(&v->disk[i].blk);
	/* Cards send what the rate limiter held back and what waits in their transmit rings. */
	for (unsigned i = 0; v && i < v->nnics; i++)
		if (v->nic[i].net_up)
			virtio_net_quiesce(&v->nic[i].net);
}

void vm_devices_state_save(struct vm *vm, struct state_out *o)
{
	aclint_state_save(&vm->aclint, o);
	plic_state_save(&vm->plic, o);
	uart16550_state_save(&vm->uart, o);
	goldfish_rtc_state_save(&vm->rtc, o);
	struct vm_virtio *v = vm->virtio;
	if (!v)
		return;
	for (unsigned i = 0; i < v->nshares; i++)
		virtio_fs_state_save(&v->share[i].fs, o); /* fails: not saved yet */
	if (v->pci_up)
		pci_host_state_save(&v->pci, o);
	for (unsigned i = 0; i < v->ndisks; i++) {
		port_save(&v->disk[i].port, o);
		virtio_blk_state_save(&v->disk[i].blk, o);
	}
	for (unsigned i = 0; i < v->nnics; i++) {
		port_save(&v->nic[i].port, o);
		virtio_net_state_save(&v->nic[i].net, o);
	}
	if (v->con_up) {
		port_save(&v->con_port, o);
		virtio_console_state_save(&v->con, o);
	}
	if (v->kbd_up) {
		port_save(&v->kbd_port, o);
		virtio_input_state_save(&v->kbd, o);
	}
	if (v->balloon_up) {
		port_save(&v->balloon_port, o);
		virtio_balloon_state_save(&v->balloon, o);
	}
	if (v->vsock_up) {
		port_save(&v->vsock_port, o);
		virtio_vsock_state_save(&v->vsock, o);
	}
	port_save(&v->rng_port, o);
	virtio_rng_state_save(&v->rng, o);
}

int vm_devices_state_load(struct vm *vm, struct state_in *in)
{
	int rc = 0;
#define LOAD(call)                   \
	do {                         \
		if (!rc)             \
			rc = (call); \
	} while (0)
	LOAD(aclint_state_load(&vm->aclint, in));
	LOAD(plic_state_load(&vm->plic, in));
	LOAD(uart16550_state_load(&vm->uart, in));
	LOAD(goldfish_rtc_state_load(&vm->rtc, in));
	struct vm_virtio *v = vm->virtio;
	if (!v)
		return rc;
	if (v->pci_up)
		LOAD(pci_host_state_load(&v->pci, in));
	for (unsigned i = 0; i < v->ndisks; i++) {
		LOAD(port_load(&v->disk[i].port, in));
		LOAD(virtio_blk_state_load(&v->disk[i].blk, in));
	}
	for (unsigned i = 0; i < v->nnics; i++) {
		LOAD(port_load(&v->nic[i].port, in));
		LOAD(virtio_net_state_load(&v->nic[i].net, in));
	}
	if (v->con_up) {
		LOAD(port_load(&v->con_port, in));
		LOAD(virtio_console_state_load(&v->con, in));
	}
	if (v->kbd_up) {
		LOAD(port_load(&v->kbd_port, in));
		LOAD(virtio_input_state_load(&v->kbd, in));
	}
	if (v->balloon_up) {
		LOAD(port_load(&v->balloon_port, in));
		LOAD(virtio_balloon_state_load(&v->balloon, in));
	}
	if (v->vsock_up) {
		LOAD(port_load(&v->vsock_port, in));
		LOAD(virtio_vsock_state_load(&v->vsock, in));
	}
	LOAD(port_load(&v->rng_port, in));
	LOAD(virtio_rng_state_load(&v->rng, in));
#undef LOAD
	return rc ? rc : in->failed ? -EINVAL : 0;
}

void vm_start_paused(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nharts; i++)
		hart_set_paused(&vm->harts[i], true, false);
	set_devices_paused(vm, true);
	__atomic_store_n(&vm->paused_at_ns, monotonic_ns(), __ATOMIC_RELEASE);
}

struct virtio_balloon *vm_balloon(struct vm *vm)
{
	return vm->virtio && vm->virtio->balloon_up ? &vm->virtio->balloon : NULL;
}

int vm_send_ctrl_alt_del(struct vm *vm)
{
	if (!vm->virtio || !vm->virtio->kbd_up)
		return -ENODEV;
	return virtio_input_ctrl_alt_del(&vm->virtio->kbd);
}

int vm_net_set_rate_limiters(struct vm *vm, unsigned nic, const struct rate_limiter_config *rx,
			     const struct rate_limiter_config *tx)
{
	if (!vm->virtio || nic >= vm->virtio->nnics || !vm->virtio->nic[nic].net_up)
		return -ENODEV;
	return virtio_net_set_rate_limiters(&vm->virtio->nic[nic].net, rx, tx);
}
