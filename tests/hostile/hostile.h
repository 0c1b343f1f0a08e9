/* The run-time of the hostile-guest cases (tests/hostile/): small bare-metal programs that
 * attack rvisor from inside a VM. A case is one NAME.c defining case_main(); it runs in M-mode
 * from 0x80000000 (rvisor --firmware), or, built with HOSTILE_SMODE, in S-mode from
 * 0x80200000 on rvisor's own SBI (rvisor --kernel). The library gives it console output, checks
 * that report their line, traps that can be expected and recovered from, a virtio-mmio driver
 * and SBI calls.
 *
 * The end of a case, as tests/integration/test_hostile.py drives it: the case prints
 * "NAME: attack done" (again every 100 ms) until one byte arrives on the console (the test
 * checks the VM beside it meanwhile), prints "NAME: PASS" and ends the machine with status 0
 * (the test finisher in M-mode, SBI system reset in S-mode). A failed check prints "NAME:
 * FAIL ..." (or "NAME: unexpected trap ...") and ends with the failure status (2). Other
 * harts wait until hart 0 has cleared .bss, then run secondary_main(hartid) if the case
 * defines it. */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the board (src/vmm/machine.c) ---- */
#define RAM_BASE         0x80000000ull
#define FINISHER_BASE    0x100000ull
#define RTC_BASE         0x101000ull
#define CLINT_BASE       0x2000000ull
#define CLINT_MTIMECMP   (CLINT_BASE + 0x4000)
#define CLINT_MTIME      (CLINT_BASE + 0xbff8)
#define PLIC_BASE        0xc000000ull
#define UART_BASE        0x10000000ull
#define VIRTIO_BASE      0x10001000ull
#define VIRTIO_SLOTS     16
#define VIRTIO_SLOT_SIZE 0x1000ull
#define TIMEBASE_HZ      10000000ull

/* mcause/scause values (privileged spec 3.1.15). */
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL      2
#define CAUSE_LOAD_ACCESS  5
#define CAUSE_STORE_ACCESS 7
#define CAUSE_ECALL_S      9
#define CAUSE_FETCH_PAGE   12
#define CAUSE_LOAD_PAGE    13
#define CAUSE_STORE_PAGE   15
#define CAUSE_IRQ          (1ull << 63)

/* ---- CSR access ---- */
#define csr_read(name)                                          \
	({                                                      \
		uint64_t v_;                                    \
		__asm__ volatile("csrr %0, " #name : "=r"(v_)); \
		v_;                                             \
	})
#define csr_write(name, v) __asm__ volatile("csrw " #name ", %0" ::"r"((uint64_t)(v)))
#define csr_set(name, v)   __asm__ volatile("csrs " #name ", %0" ::"r"((uint64_t)(v)))
#define csr_clear(name, v) __asm__ volatile("csrc " #name ", %0" ::"r"((uint64_t)(v)))

static inline void mb(void)
{
	__asm__ volatile("fence rw, rw" ::: "memory");
}

/* ---- MMIO ---- */
static inline uint8_t rd8(uint64_t a)
{
	return *(volatile uint8_t *)a;
}
static inline uint16_t rd16(uint64_t a)
{
	return *(volatile uint16_t *)a;
}
static inline uint32_t rd32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}
static inline uint64_t rd64(uint64_t a)
{
	return *(volatile uint64_t *)a;
}
static inline void wr8(uint64_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}
static inline void wr16(uint64_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}
static inline void wr32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}
static inline void wr64(uint64_t a, uint64_t v)
{
	*(volatile uint64_t *)a = v;
}
/* A load or store of size 1, 2, 4 or 8 bytes. */
uint64_t rd_size(uint64_t a, unsigned size);
void wr_size(uint64_t a, unsigned size, uint64_t v);

/* ---- console and reporting ---- */
extern const char case_name[];
void putc_(char c);
void puts_(const char *s);
void puthex(uint64_t v);
void putdec(uint64_t v);
/* "NAME: s" (no newline). */
void say(const char *s);
/* A byte from the console, or -1 if none is waiting. */
int getc_(void);
_Noreturn void fail_at(int line, const char *what, uint64_t got, uint64_t want);
_Noreturn void finish(bool ok);
/* Print "NAME: attack done" (again every 100 ms) until the go-ahead byte arrives on the
 * console, then "NAME: # attack done said N times". */
void wait_go_ahead(void);
/* The case's end: wait_go_ahead(), "PASS", status 0. */
_Noreturn void pass(void);

#define CHECK_EQ(got, want)                                           \
	do {                                                          \
		uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want); \
		if (g_ != w_)                                         \
			fail_at(__LINE__, #got " == " #want, g_, w_); \
	} while (0)
#define CHECK(cond)                                     \
	do {                                            \
		if (!(cond))                            \
			fail_at(__LINE__, #cond, 0, 1); \
	} while (0)

/* ---- time (the time CSR, 10 MHz) ---- */
static inline uint64_t now_ticks(void)
{
	return csr_read(time);
}
void delay_us(uint64_t us);

/* A small deterministic generator (xorshift64*). */
uint64_t rnd(void);

/* ---- traps ---- */
/* The last trap recovered from. */
struct trap {
	uint64_t cause, epc, tval;
};
extern volatile struct trap last_trap;
/* Run fn(arg); returns 0 if it returned, 1 if it trapped (last_trap tells how). With
 * smode (M-mode cases only), fn runs in S-mode with the current satp; its return or any
 * trap brings the caller back in M-mode. */
int try_call(void (*fn)(uint64_t), uint64_t arg, bool smode);
/* While set, a synchronous trap skips the faulting instruction (counted in faults_skipped). */
extern volatile bool skip_faults;
extern volatile uint64_t faults_skipped;
/* Called for every interrupt (cause with CAUSE_IRQ); an interrupt without a hook fails. */
extern void (*volatile irq_hook)(uint64_t cause);

/* ---- memory ---- */
/* Zeroed memory from a bump arena in .bss (1 MiB), aligned to align bytes. */
void *alloc(uint64_t size, uint64_t align);
void memset_(void *p, int c, uint64_t n);
void memcpy_(void *d, const void *s, uint64_t n);
/* The end of RAM: the VM has RAM_MIB MiB (test_hostile.py gives --mem 64M). */
#define RAM_MIB 64
#define RAM_END (RAM_BASE + (RAM_MIB << 20))

/* ---- virtio-mmio (virtio 1.2 section 4.2) ---- */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLK     2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4

#define VM_MAGIC         0x000
#define VM_VERSION       0x004
#define VM_DEVICE_ID     0x008
#define VM_DEV_FEATURES  0x010
#define VM_DEV_FEAT_SEL  0x014
#define VM_DRV_FEATURES  0x020
#define VM_DRV_FEAT_SEL  0x024
#define VM_QUEUE_SEL     0x030
#define VM_QUEUE_NUM_MAX 0x034
#define VM_QUEUE_NUM     0x038
#define VM_QUEUE_READY   0x044
#define VM_QUEUE_NOTIFY  0x050
#define VM_INT_STATUS    0x060
#define VM_INT_ACK       0x064
#define VM_STATUS        0x070
#define VM_QUEUE_DESC    0x080
#define VM_QUEUE_DRIVER  0x090
#define VM_QUEUE_DEVICE  0x0a0
#define VM_CONFIG        0x100

#define ST_ACK         1
#define ST_DRIVER      2
#define ST_DRIVER_OK   4
#define ST_FEATURES_OK 8
#define ST_NEEDS_RESET 64
#define ST_FAILED      128

#define F_INDIRECT  (1ull << 28)
#define F_EVENT_IDX (1ull << 29)
#define F_VERSION_1 (1ull << 32)

#define INT_VRING  1
#define INT_CONFIG 2

#define D_NEXT     1
#define D_WRITE    2
#define D_INDIRECT 4

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
struct vq {
	unsigned index;
	uint16_t num;
	volatile struct vdesc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[num], used_event */
	volatile uint32_t *used;  /* flags|idx, then (id, len) pairs */
	uint16_t avail_idx, used_seen;
};

/* A 32-bit load that may fault: true with *v, or false if it faulted. */
bool probe32(uint64_t a, uint32_t *v);
/* The DeviceID in virtio-mmio slot n, 0 for an empty or missing slot. */
uint32_t vslot_id(unsigned n);
/* The virtio-mmio device with this DeviceID (the first), or 0 if none. */
uint64_t vfind(uint32_t device_id);
static inline uint32_t vr(uint64_t base, unsigned off)
{
	return rd32(base + off);
}
static inline void vw(uint64_t base, unsigned off, uint32_t v)
{
	wr32(base + off, v);
}
/* Reset, ACKNOWLEDGE | DRIVER, accept offered & want, FEATURES_OK. Returns the status read
 * back (FEATURES_OK is in it if the device took the features). */
uint32_t vinit(uint64_t base, uint64_t want);
/* Write queue index's layout (num entries, rings allocated here or at the given addresses
 * when q->desc etc. are preset) and QueueReady = 1; returns QueueReady read back. */
uint32_t vq_setup(uint64_t base, struct vq *q, unsigned index, uint16_t num);
/* Program raw layout registers (any values) for queue index, then QueueReady = 1. */
uint32_t vq_setup_raw(uint64_t base, unsigned index, uint32_t num, uint64_t desc, uint64_t avail,
		      uint64_t used);
void vdriver_ok(uint64_t base);
/* Publish head in the avail ring (idx += 1) and notify. */
void vq_kick(uint64_t base, struct vq *q, uint16_t head);
/* The used ring's idx. */
uint16_t vq_used_idx(const struct vq *q);
/* Wait up to ms milliseconds for the used idx to pass used_seen by n; returns how many came. */
unsigned vq_wait(struct vq *q, unsigned n, unsigned ms);
/* The len of used ring entry k (idx modulo num). */
uint32_t vq_used_len(const struct vq *q, uint16_t k);
uint32_t vq_used_id(const struct vq *q, uint16_t k);
/* Wait up to ms milliseconds until (Status & bits) == bits; returns the last status. */
uint32_t vwait_status(uint64_t base, uint32_t bits, unsigned ms);
/* One good virtio-rng request of len bytes on a fresh set-up of the device: checks the
 * device works (after an attack and a reset). Fails the case if it does not. */
void rng_sanity(uint64_t base);
/* The set-up most virtqueue cases attack: virtio-rng found (else the case fails), features
 * negotiated (VERSION_1), queue 0 set up in q with num entries, DRIVER_OK. Returns the
 * device's MMIO base. */
uint64_t rng_queue_ready(struct vq *q, uint32_t num);
/* The attack of the vq_size_* cases: virtio-rng's queue 0 set up with size num (not one a
 * split queue may have) and QueueReady = 1. Checks that the device refuses the queue
 * (QueueReady reads 0) and sets DEVICE_NEEDS_RESET, never uses the rings when notified after
 * DRIVER_OK, and works again after a reset (rng_sanity). */
void vq_bad_size(uint32_t num);

/* ---- SBI (S-mode cases) ---- */
struct sbiret {
	long error;
	long value;
};
struct sbiret sbi_call(long eid, long fid, long a0, long a1, long a2, long a3, long a4, long a5);
#define SBI_SUCCESS               0
#define SBI_ERR_FAILED            -1
#define SBI_ERR_NOT_SUPPORTED     -2
#define SBI_ERR_INVALID_PARAM     -3
#define SBI_ERR_DENIED            -4
#define SBI_ERR_INVALID_ADDRESS   -5
#define SBI_ERR_ALREADY_AVAILABLE -6

/* The case: run by hart 0 after the run-time's start. */
void case_main(void);
/* Optional (a weak symbol): what harts other than 0 run, with their hart id. */
void secondary_main(uint64_t hartid);

#endif

/* ---- virtio-blk requests (virtio 1.2 5.2.6) ---- */
#define BLK_T_IN    0
#define BLK_T_OUT   1
#define BLK_T_FLUSH 4
#define BLK_S_OK    0
#define BLK_S_IOERR 1
struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};
/* Build request slot (descriptors 3*slot .. 3*slot+2: header, data of len bytes unless
 * len is 0, status byte) in q and publish it without notifying. *status is set to 0xff. */
void blk_put(struct vq *q, unsigned slot, struct blk_hdr *hdr, uint32_t type, uint64_t sector,
	     void *data, uint32_t len, volatile uint8_t *status);
