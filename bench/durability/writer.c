/* The guest side of bench/durability.py: a bare-metal M-mode program that finds the first
 * virtio-blk device on the virtio-mmio slots, then writes numbered 512-byte records to
 * sectors 0, 1, 2, ... in batches of 1 to 4, each batch followed by a FLUSH, and prints
 * "ack N" on the UART for every record of a batch once its FLUSH has completed. It stops when
 * the disk is full. Records (see durability.py's check): "RVDUR001", the record number
 * (little-endian u64), then 496 bytes of an xorshift sequence seeded by the number.
 * Virtio 1.2 section 4.2 (virtio-mmio, version 2) and 5.2 (block device), polling the used
 * ring, no interrupts. */
#include <stdint.h>

#define UART_BASE    0x10000000ul
#define VIRTIO_BASE  0x10001000ul
#define VIRTIO_SLOT  0x1000ul
#define VIRTIO_SLOTS 8
#define FINISHER     0x100000ul

#define QSIZE 8

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
struct avail {
	uint16_t flags, idx, ring[QSIZE], used_event;
};
struct used {
	uint16_t flags, idx;
	struct {
		uint32_t id, len;
	} ring[QSIZE];
	uint16_t avail_event;
};
struct blk_req {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct desc descs[QSIZE] __attribute__((aligned(16)));
static struct avail avail __attribute__((aligned(2)));
static struct used used __attribute__((aligned(4)));
static struct blk_req req;
static uint8_t record[512] __attribute__((aligned(512)));
static volatile uint8_t req_status;
static uint64_t stack[1024] __attribute__((used));

static inline uint32_t rd32(uintptr_t a)
{
	return *(volatile uint32_t *)a;
}
static inline void wr32(uintptr_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

static void putc_uart(char c)
{
	while (!(*(volatile uint8_t *)(UART_BASE + 5) & 0x20))
		;
	*(volatile uint8_t *)UART_BASE = (uint8_t)c;
}

static void puts_uart(const char *s)
{
	while (*s)
		putc_uart(*s++);
}

static void put_dec(uint64_t v)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		putc_uart(buf[--n]);
}

static void __attribute__((noreturn)) finish(uint32_t code)
{
	wr32(FINISHER, code);
	for (;;)
		;
}

/* Submit the chain starting at descriptor 0 and wait until the device has used it. */
static void submit(uintptr_t dev)
{
	uint16_t seen = used.idx;
	avail.ring[avail.idx % QSIZE] = 0;
	__asm__ volatile("fence rw, rw" ::: "memory");
	avail.idx++;
	__asm__ volatile("fence rw, rw" ::: "memory");
	wr32(dev + 0x050, 0); /* QueueNotify */
	while (*(volatile uint16_t *)&used.idx == seen)
		;
	__asm__ volatile("fence rw, rw" ::: "memory");
}

static uint8_t request(uintptr_t dev, uint32_t type, uint64_t sector)
{
	req.type = type;
	req.reserved = 0;
	req.sector = sector;
	req_status = 0xff;
	descs[0] = (struct desc){(uintptr_t)&req, sizeof(req), 1, 1}; /* NEXT */
	if (type == 1) {                                              /* OUT */
		descs[1] = (struct desc){(uintptr_t)record, sizeof(record), 1, 2};
		descs[2] = (struct desc){(uintptr_t)&req_status, 1, 2, 0}; /* WRITE */
	} else {
		descs[1] = (struct desc){(uintptr_t)&req_status, 1, 2, 0};
	}
	submit(dev);
	return req_status;
}

static void fill_record(uint64_t n)
{
	const char magic[8] = {'R', 'V', 'D', 'U', 'R', '0', '0', '1'};
	for (int i = 0; i < 8; i++) {
		record[i] = (uint8_t)magic[i];
		record[8 + i] = (uint8_t)(n >> (8 * i));
	}
	uint64_t x = n * 0x9e3779b97f4a7c15ull + 1;
	for (int i = 16; i < 512; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		for (int k = 0; k < 8; k++)
			record[i + k] = (uint8_t)(x >> (8 * k));
	}
}

static uintptr_t find_blk(void)
{
	for (unsigned i = 0; i < VIRTIO_SLOTS; i++) {
		uintptr_t dev = VIRTIO_BASE + i * VIRTIO_SLOT;
		if (rd32(dev) == 0x74726976 && rd32(dev + 4) == 2 && rd32(dev + 8) == 2)
			return dev;
	}
	return 0;
}

void writer_main(void);
void writer_main(void)
{
	uintptr_t dev = find_blk();
	if (!dev) {
		puts_uart("no virtio-blk device\n");
		finish(0x3333 | (1 << 16));
	}
	wr32(dev + 0x070, 0);     /* reset */
	wr32(dev + 0x070, 1 | 2); /* ACKNOWLEDGE | DRIVER */
	wr32(dev + 0x014, 0);
	uint32_t f0 = rd32(dev + 0x010);
	wr32(dev + 0x014, 1);
	uint32_t f1 = rd32(dev + 0x010);
	if (!(f0 & (1u << 9)) || !(f1 & 1)) {
		puts_uart("no FLUSH or VERSION_1\n");
		finish(0x3333 | (2 << 16));
	}
	wr32(dev + 0x024, 0);
	wr32(dev + 0x020, 1u << 9); /* VIRTIO_BLK_F_FLUSH */
	wr32(dev + 0x024, 1);
	wr32(dev + 0x020, 1); /* VIRTIO_F_VERSION_1 */
	wr32(dev + 0x070, 1 | 2 | 8);
	if (!(rd32(dev + 0x070) & 8)) {
		puts_uart("FEATURES_OK refused\n");
		finish(0x3333 | (3 << 16));
	}
	wr32(dev + 0x030, 0);
	if (rd32(dev + 0x034) < QSIZE)
		finish(0x3333 | (4 << 16));
	wr32(dev + 0x038, QSIZE);
	wr32(dev + 0x080, (uint32_t)(uintptr_t)descs);
	wr32(dev + 0x084, 0);
	wr32(dev + 0x090, (uint32_t)(uintptr_t)&avail);
	wr32(dev + 0x094, 0);
	wr32(dev + 0x0a0, (uint32_t)(uintptr_t)&used);
	wr32(dev + 0x0a4, 0);
	wr32(dev + 0x044, 1);
	wr32(dev + 0x070, 1 | 2 | 8 | 4); /* DRIVER_OK */
	uint64_t capacity = rd32(dev + 0x100) | (uint64_t)rd32(dev + 0x104) << 32;
	puts_uart("writer: ready\n");

	uint64_t n = 0;
	while (n + 4 <= capacity) {
		unsigned batch = (unsigned)(n % 4) + 1;
		for (unsigned b = 0; b < batch; b++) {
			fill_record(n + b);
			if (request(dev, 1, n + b)) {
				puts_uart("write failed\n");
				finish(0x3333 | (5 << 16));
			}
		}
		if (request(dev, 4, 0)) {
			puts_uart("flush failed\n");
			finish(0x3333 | (6 << 16));
		}
		for (unsigned b = 0; b < batch; b++) {
			puts_uart("ack ");
			put_dec(n + b);
			putc_uart('\n');
		}
		n += batch;
	}
	puts_uart("writer: disk full\n");
	finish(0x5555);
}

__asm__(".section .text.start\n"
	".globl _start\n"
	"_start:\n"
	"  la sp, stack + 8192\n"
	"  call writer_main\n"
	"1: j 1b\n"
	".text\n");
