/* The hostile-guest run-time (hostile.h): console, reporting, traps, an arena, the virtio-mmio
 * driver and SBI calls. */
#include "hostile.h"

#ifdef HOSTILE_SMODE
#define XSTATUS_PP_MASK 0
#else
#define XSTATUS_PP_MASK (3ull << 11)
#endif

#define UART_THR 0
#define UART_LSR 5

const char case_name[] = CASE_NAME;
volatile struct trap last_trap;
volatile bool skip_faults;
volatile uint64_t faults_skipped;
void (*volatile irq_hook)(uint64_t cause);

struct try_buf {
	uint64_t regs[16];
	uint64_t armed;
};
extern struct try_buf try_buf;
extern char try_resume[];

/* ---- console ---- */
#ifdef HOSTILE_SMODE
struct sbiret sbi_call(long eid, long fid, long a0, long a1, long a2, long a3, long a4, long a5)
{
	register long r0 __asm__("a0") = a0;
	register long r1 __asm__("a1") = a1;
	register long r2 __asm__("a2") = a2;
	register long r3 __asm__("a3") = a3;
	register long r4 __asm__("a4") = a4;
	register long r5 __asm__("a5") = a5;
	register long r6 __asm__("a6") = fid;
	register long r7 __asm__("a7") = eid;
	__asm__ volatile("ecall"
			 : "+r"(r0), "+r"(r1)
			 : "r"(r2), "r"(r3), "r"(r4), "r"(r5), "r"(r6), "r"(r7)
			 : "memory");
	return (struct sbiret){r0, r1};
}

void putc_(char c)
{
	sbi_call(1, 0, (unsigned char)c, 0, 0, 0, 0, 0); /* legacy console_putchar */
}

int getc_(void)
{
	return (int)sbi_call(2, 0, 0, 0, 0, 0, 0, 0).error; /* legacy getchar: -1 if none */
}

_Noreturn void finish(bool ok)
{
	/* System reset: shutdown, reason none (pass) or system failure. */
	sbi_call(0x53525354, 0, 0, ok ? 0 : 1, 0, 0, 0, 0);
	for (;;)
		__asm__ volatile("wfi");
}
#else
void putc_(char c)
{
	while (!(rd8(UART_BASE + UART_LSR) & 0x20))
		;
	wr8(UART_BASE + UART_THR, (uint8_t)c);
}

int getc_(void)
{
	if (rd8(UART_BASE + UART_LSR) & 1)
		return rd8(UART_BASE);
	return -1;
}

_Noreturn void finish(bool ok)
{
	wr32(FINISHER_BASE, ok ? 0x5555 : (1u << 16) | 0x3333);
	for (;;)
		__asm__ volatile("wfi");
}
#endif

void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

void puthex(uint64_t v)
{
	puts_("0x");
	for (int i = 60; i >= 0; i -= 4)
		putc_("0123456789abcdef"[(v >> i) & 15]);
}

void putdec(uint64_t v)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		putc_(buf[--n]);
}

void say(const char *s)
{
	puts_(case_name);
	puts_(": ");
	puts_(s);
}

_Noreturn void fail_at(int line, const char *what, uint64_t got, uint64_t want)
{
	say("FAIL line ");
	putdec((uint64_t)line);
	puts_(": ");
	puts_(what);
	puts_(" got ");
	puthex(got);
	puts_(" want ");
	puthex(want);
	puts_("\n");
	finish(false);
}

void wait_go_ahead(void)
{
	/* Said again every 100 ms: a console that drops output (a flood just ended) may have
	 * lost a line. */
	uint64_t said = 0;
	bool go = false;
	while (!go) {
		say("attack done\n");
		said++;
		for (unsigned i = 0; i < 500 && !go; i++) {
			go = getc_() >= 0;
			if (!go)
				delay_us(200);
		}
	}
	say("# attack done said ");
	putdec(said);
	puts_(" times\n");
}

_Noreturn void pass(void)
{
	irq_hook = 0;
	wait_go_ahead();
	say("PASS\n");
	finish(true);
}

void delay_us(uint64_t us)
{
	uint64_t end = now_ticks() + us * (TIMEBASE_HZ / 1000000);
	while ((int64_t)(now_ticks() - end) < 0)
		;
}

static uint64_t rnd_state = 0x2545f4914f6cdd1dull;
uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dull;
}

uint64_t rd_size(uint64_t a, unsigned size)
{
	switch (size) {
	case 1: return rd8(a);
	case 2: return rd16(a);
	case 4: return rd32(a);
	default: return rd64(a);
	}
}

void wr_size(uint64_t a, unsigned size, uint64_t v)
{
	switch (size) {
	case 1: wr8(a, (uint8_t)v); break;
	case 2: wr16(a, (uint16_t)v); break;
	case 4: wr32(a, (uint32_t)v); break;
	default: wr64(a, v); break;
	}
}

/* ---- traps ---- */
struct frame {
	uint64_t x[32];
	uint64_t pc;
	uint64_t pad;
};

void trap_c(struct frame *f);
void trap_c(struct frame *f)
{
#ifdef HOSTILE_SMODE
	uint64_t cause = csr_read(scause), tval = csr_read(stval);
#else
	uint64_t cause = csr_read(mcause), tval = csr_read(mtval);
#endif
	if (cause & CAUSE_IRQ) {
		if (!irq_hook)
			fail_at(__LINE__, "unexpected interrupt", cause, 0);
		irq_hook(cause);
		return;
	}
	if (try_buf.armed) {
		last_trap.cause = cause;
		last_trap.epc = f->pc;
		last_trap.tval = tval;
		/* S-mode code handing back (s_return) counts as a return. */
		f->x[10] = (cause == CAUSE_ECALL_S && f->x[17] == 0x48535452) ? 0 : 1;
		f->pc = (uint64_t)try_resume;
#ifndef HOSTILE_SMODE
		/* Resume in M-mode, without MPRV (mret would leave it on with MPP = U). */
		csr_set(mstatus, XSTATUS_PP_MASK);
		csr_clear(mstatus, 1ull << 17);
#else
		csr_set(sstatus, 1ull << 8); /* resume in S-mode */
#endif
		return;
	}
	if (skip_faults) {
		faults_skipped++;
		uint16_t low = *(volatile uint16_t *)f->pc;
		f->pc += (low & 3) == 3 ? 4 : 2;
		return;
	}
	puts_(case_name);
	puts_(": unexpected trap cause ");
	puthex(cause);
	puts_(" epc ");
	puthex(f->pc);
	puts_(" tval ");
	puthex(tval);
	puts_("\n");
	finish(false);
}

/* ---- memory ---- */
static uint8_t arena[1 << 20] __attribute__((aligned(4096)));
static uint64_t arena_used;

void *alloc(uint64_t size, uint64_t align)
{
	uint64_t off = (arena_used + align - 1) & ~(align - 1);
	if (off + size > sizeof(arena))
		fail_at(__LINE__, "arena exhausted", off + size, sizeof(arena));
	arena_used = off + size;
	memset_(arena + off, 0, size);
	return arena + off;
}

void memset_(void *p, int c, uint64_t n)
{
	volatile uint8_t *b = p;
	while (n--)
		*b++ = (uint8_t)c;
}

void memcpy_(void *d, const void *s, uint64_t n)
{
	volatile uint8_t *dd = d;
	const volatile uint8_t *ss = s;
	while (n--)
		*dd++ = *ss++;
}

/* ---- virtio-mmio ---- */
static volatile uint32_t probed;
static void probe_fn(uint64_t a)
{
	probed = rd32(a);
}

bool probe32(uint64_t a, uint32_t *v)
{
	if (try_call(probe_fn, a, false))
		return false;
	*v = probed;
	return true;
}

uint32_t vslot_id(unsigned n)
{
	uint64_t base = VIRTIO_BASE + n * VIRTIO_SLOT_SIZE;
	uint32_t magic, id;
	if (!probe32(base + VM_MAGIC, &magic) || magic != 0x74726976 ||
	    !probe32(base + VM_DEVICE_ID, &id))
		return 0;
	return id;
}

uint64_t vfind(uint32_t device_id)
{
	for (unsigned n = 0; n < VIRTIO_SLOTS; n++)
		if (vslot_id(n) == device_id)
			return VIRTIO_BASE + n * VIRTIO_SLOT_SIZE;
	return 0;
}

uint32_t vinit(uint64_t base, uint64_t want)
{
	vw(base, VM_STATUS, 0);
	CHECK_EQ(vr(base, VM_STATUS), 0);
	vw(base, VM_STATUS, ST_ACK);
	vw(base, VM_STATUS, ST_ACK | ST_DRIVER);
	vw(base, VM_DEV_FEAT_SEL, 0);
	uint64_t offered = vr(base, VM_DEV_FEATURES);
	vw(base, VM_DEV_FEAT_SEL, 1);
	offered |= (uint64_t)vr(base, VM_DEV_FEATURES) << 32;
	uint64_t f = offered & want;
	vw(base, VM_DRV_FEAT_SEL, 0);
	vw(base, VM_DRV_FEATURES, (uint32_t)f);
	vw(base, VM_DRV_FEAT_SEL, 1);
	vw(base, VM_DRV_FEATURES, (uint32_t)(f >> 32));
	vw(base, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	return vr(base, VM_STATUS);
}

uint32_t vq_setup_raw(uint64_t base, unsigned index, uint32_t num, uint64_t desc, uint64_t avail,
		      uint64_t used)
{
	vw(base, VM_QUEUE_SEL, index);
	vw(base, VM_QUEUE_NUM, num);
	vw(base, VM_QUEUE_DESC, (uint32_t)desc);
	vw(base, VM_QUEUE_DESC + 4, (uint32_t)(desc >> 32));
	vw(base, VM_QUEUE_DRIVER, (uint32_t)avail);
	vw(base, VM_QUEUE_DRIVER + 4, (uint32_t)(avail >> 32));
	vw(base, VM_QUEUE_DEVICE, (uint32_t)used);
	vw(base, VM_QUEUE_DEVICE + 4, (uint32_t)(used >> 32));
	vw(base, VM_QUEUE_READY, 1);
	return vr(base, VM_QUEUE_READY);
}

uint32_t vq_setup(uint64_t base, struct vq *q, unsigned index, uint16_t num)
{
	q->index = index;
	q->num = num;
	if (!q->desc)
		q->desc = alloc(16ull * num, 4096);
	if (!q->avail)
		q->avail = alloc(6 + 2ull * num, 4096);
	if (!q->used)
		q->used = alloc(6 + 8ull * num, 4096);
	q->avail_idx = q->used_seen = 0;
	return vq_setup_raw(base, index, num, (uint64_t)q->desc, (uint64_t)q->avail,
			    (uint64_t)q->used);
}

void vdriver_ok(uint64_t base)
{
	vw(base, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
}

void vq_kick(uint64_t base, struct vq *q, uint16_t head)
{
	q->avail[2 + q->avail_idx % q->num] = head;
	mb();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	mb();
	vw(base, VM_QUEUE_NOTIFY, q->index);
}

uint16_t vq_used_idx(const struct vq *q)
{
	return (uint16_t)(q->used[0] >> 16);
}

unsigned vq_wait(struct vq *q, unsigned n, unsigned ms)
{
	uint64_t end = now_ticks() + (uint64_t)ms * (TIMEBASE_HZ / 1000);
	for (;;) {
		uint16_t got = (uint16_t)(vq_used_idx(q) - q->used_seen);
		if (got >= n || (int64_t)(now_ticks() - end) >= 0) {
			mb();
			return got;
		}
	}
}

uint32_t vq_used_id(const struct vq *q, uint16_t k)
{
	return q->used[1 + 2 * (k % q->num)];
}

uint32_t vq_used_len(const struct vq *q, uint16_t k)
{
	return q->used[2 + 2 * (k % q->num)];
}

uint32_t vwait_status(uint64_t base, uint32_t bits, unsigned ms)
{
	uint64_t end = now_ticks() + (uint64_t)ms * (TIMEBASE_HZ / 1000);
	uint32_t s;
	while (((s = vr(base, VM_STATUS)) & bits) != bits && (int64_t)(now_ticks() - end) < 0)
		;
	return s;
}

uint64_t rng_queue_ready(struct vq *q, uint32_t num)
{
	uint64_t base = vfind(VIRTIO_ID_RNG);
	CHECK(base);
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup(base, q, 0, num), 1);
	vdriver_ok(base);
	return base;
}

void rng_sanity(uint64_t base)
{
	static struct vq q;
	q = (struct vq){0};
	uint32_t st = vinit(base, F_VERSION_1);
	CHECK_EQ(st & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup(base, &q, 0, 8), 1);
	vdriver_ok(base);
	uint8_t *buf = alloc(64, 64);
	q.desc[0] = (struct vdesc){(uint64_t)buf, 64, D_WRITE, 0};
	vq_kick(base, &q, 0);
	CHECK_EQ(vq_wait(&q, 1, 5000), 1);
	CHECK_EQ(vq_used_id(&q, 0), 0);
	CHECK_EQ(vq_used_len(&q, 0), 64);
	CHECK_EQ(vr(base, VM_STATUS) & ST_NEEDS_RESET, 0);
	vw(base, VM_STATUS, 0);
}

/* ---- entry ---- */
/* In .data, not .bss: hart 0 clears .bss while the others already run. */
static volatile uint32_t harts_go __attribute__((section(".data")));

void lib_main(void);
void lib_main(void)
{
	harts_go = 1;
	say("start\n");
	case_main();
	pass();
}

/* Other harts park unless the case gives secondary_main. */
void secondary_main(uint64_t hartid) __attribute__((weak));
void secondary_entry(uint64_t hartid);
void secondary_entry(uint64_t hartid)
{
	while (!harts_go)
		;
	if (secondary_main)
		secondary_main(hartid);
	for (;;)
		__asm__ volatile("wfi");
}

void blk_put(struct vq *q, unsigned slot, struct blk_hdr *hdr, uint32_t type, uint64_t sector,
	     void *data, uint32_t len, volatile uint8_t *status)
{
	uint16_t d = (uint16_t)(3 * slot);
	hdr->type = type;
	hdr->reserved = 0;
	hdr->sector = sector;
	*status = 0xff;
	q->desc[d] = (struct vdesc){(uint64_t)hdr, sizeof(*hdr), D_NEXT, (uint16_t)(d + 1)};
	if (len) {
		q->desc[d + 1] = (struct vdesc){
		    (uint64_t)data, len, (uint16_t)(D_NEXT | (type == BLK_T_IN ? D_WRITE : 0)),
		    (uint16_t)(d + 2)};
		q->desc[d + 2] = (struct vdesc){(uint64_t)status, 1, D_WRITE, 0};
	} else {
		q->desc[d].next = (uint16_t)(d + 2);
		q->desc[d + 2] = (struct vdesc){(uint64_t)status, 1, D_WRITE, 0};
	}
	q->avail[2 + q->avail_idx % q->num] = d;
	mb();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	mb();
}

void vq_bad_size(uint32_t num)
{
	uint64_t base = vfind(VIRTIO_ID_RNG);
	CHECK(base);
	volatile uint16_t *avail = alloc(4096, 4096);
	volatile uint32_t *used = alloc(4096, 4096);
	volatile struct vdesc *desc = alloc(4096, 4096);
	uint8_t *buf = alloc(64, 64);
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup_raw(base, 0, num, (uint64_t)desc, (uint64_t)avail, (uint64_t)used), 0);
	CHECK_EQ(vr(base, VM_STATUS) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	vdriver_ok(base);
	desc[0] = (struct vdesc){(uint64_t)buf, 8, D_WRITE, 0};
	avail[2] = 0;
	mb();
	avail[1] = 1;
	mb();
	vw(base, VM_QUEUE_NOTIFY, 0);
	delay_us(5000);
	CHECK_EQ(used[0], 0);
	rng_sanity(base);
}
