/* A virtual machine: its configuration, guest RAM, MMIO bus, devices and harts, and the
 * lifecycle around them (create, run, stop). No global state: one process may hold several. */
#ifndef RVISOR_VMM_VM_H
#define RVISOR_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/hart.h"
#include "dev/aclint.h"
#include "dev/goldfish_rtc.h"
#include "dev/plic.h"
#include "dev/syscon.h"
#include "dev/uart16550.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"
#include "vmm/config.h"

#define VM_MAX_HARTS 64
#define VM_MAX_NETS  4
#define VM_MAX_FS    4

/* How the harts run guest code: the software translator (src/jit/) or the interpreter. */
enum vm_accel {
	VM_ACCEL_DEFAULT = 0, /* the translator where the host has a back end, else interp */
	VM_ACCEL_JIT,
	VM_ACCEL_INTERP,
};

/* What the user asked for. Paths may be NULL when not given. */
struct vm_config {
	const char *kernel; /* Image, ELF or raw; loaded for S-mode */
	const char *initrd;
	const char *cmdline;
	const char *firmware; /* M-mode firmware (OpenSBI fw_dynamic) or bare-metal program */
	uint64_t mem_size;    /* bytes of guest RAM */
	unsigned ncpus;       /* harts, 1..VM_MAX_HARTS */
	struct vm_drive drives[VM_MAX_DRIVES]; /* virtio-blk disks, vda first */
	unsigned ndrives;
	struct vm_net nets[VM_MAX_NETS]; /* virtio-net cards, eth0 first */
	unsigned nnets;
	struct vm_fs fs[VM_MAX_FS]; /* virtio-fs shares */
	unsigned nfs;
	bool virtio_console; /* the console is virtio-console (hvc0), not the UART */
	/* A virtio-input keyboard, for vm_send_ctrl_alt_del (the API's SendCtrlAltDel). */
	bool keyboard;
	/* A virtio-vsock with guest CID vsock_cid (0: none), its host side on the Unix socket
	 * vsock_uds (Firecracker's hybrid design). */
	uint64_t vsock_cid;
	const char *vsock_uds;
	/* A virtio-balloon, asking the guest for balloon_mib MiB at the start. */
	bool balloon;
	uint32_t balloon_mib;
	bool balloon_deflate_on_oom;
	unsigned balloon_stats_s; /* the API's statistics polling interval (0: none), kept by
				   * snapshots for the restored control plane */
	/* Where virtio devices go unless their option says: virtio-mmio (the default) or PCI;
	 * the virtio-console and the virtio-rng always follow it. */
	enum vm_transport transport;
	enum vm_accel accel; /* how harts run guest code */
	/* The CPU model (--cpu: a name of isa_cpus in cpu/isa.h), or NULL for ISA_CPU_DEFAULT:
	 * the extensions every hart has and the device tree advertises. A restored snapshot's
	 * harts take theirs from the snapshot. */
	const char *cpu;
	/* A reproducible run, for the translator's lockstep check against the interpreter:
	 * one hart; time counted from retired instructions (hart 0's, plus idle_ticks), the RTC
	 * frozen at a fixed date, fixed bytes from virtio-rng and in the device tree's seed. The
	 * harts are driven by the caller (hart_run_budget / jit_run_budget), not by vm_run. */
	bool deterministic;
	size_t jit_cache; /* bytes of translated-code cache per hart (VM_ACCEL_JIT) */
	/* Restoring a snapshot: guest RAM is this memory file, mapped copy-on-write; no image
	 * is loaded (kernel and initrd are unused; firmware only says whether the SBI is
	 * rvisor's) and the harts stay in reset until vm_snapshot_load. */
	const char *restore_mem;
	/* With restore_mem (then only a name for messages): guest RAM is this descriptor (above
	 * 2; e.g. the memfd a migration filled), mapped shared; the VM owns it. */
	int restore_mem_fd;
	/* Keep a dirty log of guest RAM (Firecracker's track_dirty_pages), for diff snapshots
	 * and migration: each page any writer touches is marked (guest_mem_mark_dirty). */
	bool track_dirty_pages;
};

struct vm_virtio; /* the virtio devices (machine.c) */

/* Exit statuses of `rvisor run` (also the process exit code). */
enum vm_status {
	VM_STATUS_RUNNING = -1,
	VM_STATUS_POWEROFF = 0, /* guest powered off, or a test passed */
	VM_STATUS_ERROR = 1,    /* bad usage or input */
	VM_STATUS_FAIL = 2,     /* guest reported failure (test finisher, HTIF) */
	VM_STATUS_REBOOT = 3,   /* guest asked for a reboot */
	VM_STATUS_CRASH = 4,    /* guest can make no progress */
	VM_STATUS_QUIT = 5,     /* user quit (Ctrl-A x) */
};

struct vm {
	struct vm_config cfg;
	struct guest_mem mem;
	struct bus bus;
	unsigned nharts;
	struct hart *harts;
	pthread_t *threads;
	struct uart16550 uart;
	struct aclint aclint;
	struct plic plic;
	struct syscon syscon;
	struct goldfish_rtc rtc;
	struct chr *console;
	uint64_t time_base_ns; /* CLOCK_MONOTONIC at creation, plus the time paused: mtime 0 */
	uint64_t paused_at_ns; /* CLOCK_MONOTONIC when paused (guest time stands still), or 0 */
	uint64_t idle_ticks;   /* deterministic runs: ticks added while the hart waited (WFI) */
	uint64_t fdt_gpa;
	bool builtin_sbi; /* rvisor serves the SBI (no firmware) */
	bool devices_up;  /* the UART, PLIC, ACLINT and RTC were initialised */
	struct vm_virtio *virtio;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_mutex_t pause_lock; /* one vm_pause or vm_resume at a time */
	int status;                 /* enum vm_status; first request wins */
	pthread_t waiter;           /* the thread in vm_run, woken by SIGUSR1 when status is set */
	bool waiter_set;
	uint32_t fail_code;
};

/* Pause every hart at an instruction boundary (returning once all are parked) and stop the
 * guest's clock; resume them with the clock going on from where it stood, so the guest sees
 * no jump. From any thread while vm_run runs. */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);

/* Take the dirty log: out (guest_mem_dirty_words(&vm->mem) words) receives the pages written
 * since the last take (every page when the VM does not track them, or at the first take) and
 * the log starts again, empty; before it returns every hart has dropped the write entries
 * that would let a store skip marking. Any thread; the harts may be running (migration) or
 * paused. Returns the number of dirty pages. */
uint64_t vm_dirty_take(struct vm *vm, uint64_t *out);

/* The host terminal was resized (SIGWINCH): a virtio console passes its new size to the
 * guest (VIRTIO_CONSOLE_F_SIZE, a configuration change); the UART has no such thing. */
void vm_console_resized(struct vm *vm);

/* A migration hands the host resources the VM holds to its new process: with release, the
 * vsock's listening socket is closed and its path removed, each TAP interface let go, and
 * each disk's buffered writes flushed and its image locks dropped (the VM is paused and must
 * not run again unless they are taken back); without, the locks are taken, then the TAPs
 * attached and the vsock listening again. Returns 0, or -errno with one sentence in err (a
 * flush that failed, or a disk another process locked meanwhile: the VM must stay paused). A
 * TAP or vsock path another process took meanwhile is reported on stderr and does not fail
 * the taking back. */
int vm_hand_over(struct vm *vm, bool release, char *err, size_t errlen);

struct virtio_blk_stats;
struct virtio_net_stats;
/* Press Ctrl-Alt-Del on the VM's keyboard: the guest's kernel asks init to reboot (or
 * restarts). Returns 0, -ENODEV without a keyboard, -EAGAIN when the guest's driver is not
 * running yet. */
int vm_send_ctrl_alt_del(struct vm *vm);

struct virtio_balloon;
/* The VM's balloon, or NULL without one. */
struct virtio_balloon *vm_balloon(struct vm *vm);
/* Replace disk drive's (index in cfg.drives) rate limiter. Returns 0 or -ENODEV. */
int vm_drive_set_rate_limiter(struct vm *vm, unsigned drive, const struct rate_limiter_config *cfg);
/* Put disk drive (index in cfg.drives) on the image at path, opened and locked as the drive
 * was, and tell the guest's driver its new size. The old image is flushed and closed (its
 * locks go with it). Returns 0, or -errno with one sentence in err naming path and the fix;
 * on failure the disk stays on its image. */
int vm_drive_set_path(struct vm *vm, unsigned drive, const char *path, char *err, size_t errlen);
/* Replace card nic's (index in cfg.nets) receive and transmit rate limiters. Returns 0,
 * -ENODEV or -errno. */
int vm_net_set_rate_limiters(struct vm *vm, unsigned nic, const struct rate_limiter_config *rx,
			     const struct rate_limiter_config *tx);
/* A snapshot of disk drive's or card nic's counters; false if there is no such device. */
bool vm_drive_stats(struct vm *vm, unsigned drive, struct virtio_blk_stats *out);
bool vm_net_stats(struct vm *vm, unsigned nic, struct virtio_net_stats *out);

struct state_out;
struct state_in;
/* Snapshots (src/vmm/snapshot.c drives these). With the VM paused: let the devices finish the
 * requests they took from their rings (disks complete what they popped). */
void vm_devices_quiesce(struct vm *vm);
/* With the VM paused and quiesced: append the sections of the platform devices (ACLINT,
 * PLIC, UART, RTC) and of every virtio device (its transport's, then its own), in creation
 * order. A device that cannot be saved fails o with a sentence naming it. */
void vm_devices_state_save(struct vm *vm, struct state_out *o);
/* Read the same sections into a VM just created from the snapshot's configuration (no hart
 * has run). Returns 0, or -EINVAL with in->err naming the section and the problem. */
int vm_devices_state_load(struct vm *vm, struct state_in *in);
/* Before vm_run: the harts start parked and the devices paused, the guest's clock stopped, as
 * after vm_pause (vm_resume starts them). */
void vm_start_paused(struct vm *vm);

/* Build the machine described by cfg: RAM, devices, harts, loaded images and device tree.
 * console is the host backend for the UART and SBI console (not owned). Returns 0, or -errno
 * with one sentence in err (errlen bytes) naming the problem and the fix. */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct chr *console, char *err,
	      size_t errlen);
/* Run the harts on their own threads until the guest or the user ends the VM; returns the
 * enum vm_status. Blocks SIGINT/SIGTERM/SIGHUP in the calling thread and treats them as a
 * request to stop (status 128 + signal number). */
int vm_run(struct vm *vm);
/* Ask the VM to stop with status (from any thread). The first request wins. */
void vm_request_exit(struct vm *vm, int status);
/* Free everything vm_create made. */
void vm_destroy(struct vm *vm);
/* Guest time in ticks of the 10 MHz timebase. */
uint64_t vm_time_now(void *vm);

#endif
