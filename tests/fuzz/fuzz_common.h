/* Shared harness of the virtio device fuzzers (fuzz_blk, fuzz_net, fuzz_console, fuzz_rng):
 * a fuzzer input is what a guest controls, that is queue layouts, feature bits, a short
 * script of driver actions and the contents of guest RAM. The harness drives a device
 * through the real virtio-mmio transport (virtio_mmio_ops register accesses, as a driver's
 * loads and stores: status, feature negotiation, queue set-up, QueueNotify) and checks what
 * the device did against a model of the split virtqueues (virtio 1.2 section 2.7) built from
 * the same RAM.
 *
 * Input layout (little-endian):
 *   0  u32 driver feature mask, bits 0-31   the driver accepts offered & mask
 *   4  u32 driver feature mask, bits 32-63
 *   8  u8  number of script operations (4 bytes each, at most FZ_MAX_OPS are used)
 *   9  u8  target flags                     10 u16 bytes of target data
 *   12 u32 target parameter
 *   16 queue 0, 32 queue 1: u8 log2 of the queue size (modulo 11; with bit 7 set the size is
 *      the raw u16 at +2 instead, valid or not), u8 unused, u16 raw size, u32 descriptor
 *      table, u32 driver area, u32 device area (offsets in RAM: gpa = FZ_RAM_BASE + offset)
 *   48 operations: u8 code, u8 a, u16 b
 *      then the target data, then the RAM image (the rest of RAM is zero).
 *
 * Operations shared by every target (the code is taken modulo the target's count):
 *   0 NOTIFY    QueueNotify of queue a % queues
 *   1 PUBLISH   the driver adds b entries to queue a's avail ring (avail idx += b)
 *   2 RESET     status 0, then the driver starts again on the same rings
 *   3 CONFIG    read (a bit 7 clear) or write (set) of size 1 << (a & 3) bytes at
 *               configuration offset b % 64; the value written is the target parameter
 *   4...        the target's own (FZ_OP_TARGET and up)
 *
 * Model checks (abort() when broken), made when the input is "stable": no device-writable
 * buffer of a well-formed chain, and no used ring, overlaps anything else the device reads
 * or writes, and no avail idx the driver writes lies in anything else the device reads, so
 * that what the device sees is what the model sees. Then: every used element names a head
 * the driver made available and not yet returned, of a well-formed chain; its length is at
 * most the chain's writable bytes; the driver is interrupted when it asked to be (2.7.7.2);
 * a queue the device consumes eagerly is consumed, within 10 s, up to the first malformed
 * chain, which sets DEVICE_NEEDS_RESET (and nothing else sets it), after which avail_event
 * is not ahead of the device (2.7.10); the register file reads back what the driver set
 * (features, FEATURES_OK, QueueReady only for a layout inside RAM, status 0 after a reset);
 * and at the end no byte of RAM changed outside writable buffers, used rings and the
 * driver's avail indexes. Whatever the input, RAM is a heap block, so AddressSanitizer
 * reports any access beyond it. FUZZ_VERBOSE=1 in the environment traces the script. */
#ifndef RVISOR_FUZZ_COMMON_H
#define RVISOR_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/mmio.h"

#define FZ_RAM_BASE   0x80000000ull
#define FZ_RAM_SIZE   0x10000ull /* 64 KiB */
#define FZ_HEADER     48u
#define FZ_MAX_OPS    64u
#define FZ_MAX_QUEUES 2u

/* Operation codes shared by every target. */
enum {
	FZ_OP_NOTIFY,
	FZ_OP_PUBLISH,
	FZ_OP_RESET,
	FZ_OP_CONFIG,
	FZ_OP_TARGET,
};

/* Registers of the virtio-mmio transport (4.2.2). */
enum {
	FZ_REG_MAGIC = 0x000,
	FZ_REG_VERSION = 0x004,
	FZ_REG_DEVICE_ID = 0x008,
	FZ_REG_VENDOR_ID = 0x00c,
	FZ_REG_DEVICE_FEATURES = 0x010,
	FZ_REG_DEVICE_FEATURES_SEL = 0x014,
	FZ_REG_DRIVER_FEATURES = 0x020,
	FZ_REG_DRIVER_FEATURES_SEL = 0x024,
	FZ_REG_QUEUE_SEL = 0x030,
	FZ_REG_QUEUE_NUM_MAX = 0x034,
	FZ_REG_QUEUE_NUM = 0x038,
	FZ_REG_QUEUE_READY = 0x044,
	FZ_REG_QUEUE_NOTIFY = 0x050,
	FZ_REG_INTERRUPT_STATUS = 0x060,
	FZ_REG_INTERRUPT_ACK = 0x064,
	FZ_REG_STATUS = 0x070,
	FZ_REG_QUEUE_DESC_LOW = 0x080,
	FZ_REG_QUEUE_DESC_HIGH = 0x084,
	FZ_REG_QUEUE_DRIVER_LOW = 0x090,
	FZ_REG_QUEUE_DRIVER_HIGH = 0x094,
	FZ_REG_QUEUE_DEVICE_LOW = 0x0a0,
	FZ_REG_QUEUE_DEVICE_HIGH = 0x0a4,
	FZ_REG_SHM_SEL = 0x0ac,
	FZ_REG_SHM_LEN_LOW = 0x0b0,
	FZ_REG_SHM_LEN_HIGH = 0x0b4,
	FZ_REG_SHM_BASE_LOW = 0x0b8,
	FZ_REG_SHM_BASE_HIGH = 0x0bc,
	FZ_REG_QUEUE_RESET = 0x0c0,
	FZ_REG_CONFIG_GENERATION = 0x0fc,
	FZ_REG_CONFIG = 0x100,
};

/* Abort with a message naming the broken invariant. */
#define FZ_CHECK(cond, ...)                                              \
	do {                                                             \
		if (!(cond))                                             \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

_Noreturn void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One buffer of a chain as the model sees it: bytes at RAM offset off. */
struct fz_seg {
	uint32_t off, len;
	bool write;
};

/* The model's reading of the chain that starts at one head. */
struct fz_chain {
	bool walked; /* computed already */
	bool valid;  /* well-formed by the rules of virtq_pop (virtq.h) */
	uint64_t out_len, in_len;
	uint32_t first, nseg; /* segments in fz.segs (empty ones left out) */
};

/* One queue: its layout and the model's view of its progress in the current epoch. */
struct fz_queue {
	uint16_t num;
	uint64_t desc, avail, used; /* guest-physical */
	bool layout_ok;             /* what virtq_validate should accept */
	bool ready;                 /* QueueReady read back as 1 */
	bool eager;                 /* the device pops everything on notify (not a receiveq) */
	uint16_t start_idx;         /* avail idx in the RAM image */
	uint64_t published;         /* avail entries made available this epoch */
	uint64_t consumed;          /* entries the model expects popped (eager queues) */
	uint16_t used_seen;         /* used ring entries checked so far this epoch */
	bool lost;                  /* used entries were overwritten before being checked */
	bool overrun;               /* avail idx was once more than the ring ahead of the device */
	bool irq_exempt;            /* used entries up to irq_exempt_to may have lost their */
	uint16_t irq_exempt_to;     /* interrupt to the last acknowledgement */
	uint32_t *completions;      /* per head, this epoch */
	struct fz_chain *chain;     /* per head */
	uint64_t *occ;              /* per head: avail entries naming it among published */
	uint64_t occ_for;           /* the published count occ was built for */
	bool occ_valid;
};

/* Per-target hooks. */
struct fz_target {
	unsigned nops; /* operation codes, FZ_OP_TARGET + the target's own */
	/* A used element of queue q was checked (stable inputs only); chain is the model's. */
	void (*used)(void *opaque, unsigned q, uint16_t head, uint32_t len,
		     const struct fz_chain *chain);
	/* A target operation (code >= FZ_OP_TARGET). */
	void (*op)(void *opaque, uint8_t code, uint8_t a, uint16_t b);
	/* The driver is about to reset the device (the model's epoch ends). */
	void (*reset)(void *opaque);
	/* The new used elements were all checked (stable inputs only): end-of-step checks. */
	void (*settled)(void *opaque);
	void *opaque;
};

/* The harness: RAM, the transport, the model. One per process, reused across inputs. */
struct fz {
	struct guest_mem mem;
	uint8_t *image; /* RAM as the input left it, for the final comparison */
	uint8_t *wmap;  /* per RAM byte: 1 if the device may write it */
	struct fz_seg *segs;
	unsigned nsegs, segs_cap;
	struct virtio_transport t;
	struct virtio_dev dev;
	unsigned nq;
	struct fz_queue q[FZ_MAX_QUEUES];
	uint64_t offered, accepted;
	bool features_ok;
	bool needs_reset; /* the model expects DEVICE_NEEDS_RESET */
	bool stable;
	bool irq_level;
	unsigned epoch;
	/* The parsed input. */
	uint64_t feature_mask;
	uint8_t flags;
	uint32_t param;
	const uint8_t *ops;
	unsigned nops;
	const uint8_t *data;
	size_t data_len;
};

extern struct fz fz;

/* Little-endian loads and stores on byte arrays. */
uint16_t fz_le16(const uint8_t *p);
uint32_t fz_le32(const uint8_t *p);
uint64_t fz_le64(const uint8_t *p);
void fz_put_le16(uint8_t *p, uint16_t v);

/* Parse the input and load RAM. Returns false if the input is too short to use. */
bool fz_begin(const uint8_t *data, size_t size);
/* Plug in the device (dev filled by its init) behind a fresh transport; eager is a mask of
 * the queues the device consumes completely on each notification. Then start the driver
 * and build the model. */
void fz_attach(const struct virtio_dev *dev, unsigned eager);
/* Run the script, calling the target for its operations and for each used element. */
void fz_run(const struct fz_target *tg);
/* Check the used rings for new elements (after anything that may complete requests). */
void fz_check_used(const struct fz_target *tg);
/* The end of the input, after the device stopped: last used elements, then RAM. */
void fz_finish(const struct fz_target *tg);
/* Tear the transport down (after the device's destroy). */
void fz_detach(void);

/* Register access through virtio_mmio_ops, as a driver's 32-bit load or store. */
uint32_t fz_reg_read(uint64_t off);
void fz_reg_write(uint64_t off, uint32_t val);

/* The host pointer of RAM offset off. */
uint8_t *fz_ram(uint64_t off);
/* Copy up to len bytes of chain's readable (write false) or writable part, from byte pos
 * of it, into dst. Returns the bytes copied. */
uint64_t fz_chain_read(const struct fz_chain *c, bool write, uint64_t pos, void *dst, uint64_t len);
/* The chain that head names in queue q (walked on first use). */
const struct fz_chain *fz_chain_of(unsigned q, uint16_t head);

/* Wait until queue q's used index reaches the model's expectation, at most timeout_ms;
 * abort if it does not (a hang). Only for stable inputs. */
void fz_wait_used(unsigned q, unsigned timeout_ms);
/* Entries the model expects queue q to have returned in this epoch (eager queues). */
uint64_t fz_expected_used(unsigned q);

/* Whether head appears in more than one published entry of queue q: a later request may
 * have overwritten what an earlier one wrote into its buffers. */
bool fz_head_reused(unsigned q, uint16_t head);
/* Whether every request the device took from queue q has been returned (stable inputs). */
bool fz_quiescent(unsigned q);

/* Byte k (any k) of the target data, repeated cyclically; 0 if there is none. */
uint8_t fz_data_byte(size_t k);

#endif
