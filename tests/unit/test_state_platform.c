/* Unit tests of the platform devices' snapshot sections (ACLINT, PLIC, UART, Goldfish RTC):
 * a device put in a busy state through its registers, saved and loaded into a fresh one,
 * reads back the same registers, behaves the same afterwards and drives its interrupt lines
 * (PLIC contexts, UART and RTC lines, ACLINT msip and mtimecmp callbacks) to the same levels;
 * an armed RTC alarm fires after the load. Hostile sections (a count of harts, sources or
 * contexts not the device's, out-of-range values, payloads cut short or with trailing bytes)
 * fail naming the value and leave the device untouched. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dev/aclint.h"
#include "dev/goldfish_rtc.h"
#include "dev/plic.h"
#include "dev/uart16550.h"
#include "host/chr.h"
#include "state/stream.h"

/* ---- streams ---- */

/* A saved stream, copied so that tests may patch it. */
struct saved {
	uint8_t *buf;
	size_t len;
	size_t header; /* bytes before the payload */
};

static void saved_take(struct saved *s, struct state_out *o, size_t name_len)
{
	assert_false(o->failed);
	s->len = o->len;
	s->buf = malloc(o->len + 1);
	assert_non_null(s->buf);
	memcpy(s->buf, o->buf, o->len);
	s->header = 1 + name_len + 4 + 8;
	state_out_free(o);
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

typedef int (*load_fn)(void *dev, struct state_in *in);

/* Load len bytes at buf into dev: it must fail with -EINVAL and an error naming what. */
static void assert_load_fails(load_fn load, void *dev, const void *buf, size_t len,
			      const char *what)
{
	struct state_in in;
	state_in_init(&in, buf, len);
	assert_int_equal(load(dev, &in), -EINVAL);
	assert_true(in.failed);
	if (!strstr(in.err, what))
		fail_msg("error \"%s\" does not name \"%s\"", in.err, what);
}

/* Load s with the bytes patched at off (bytes wide, little-endian) to v: it must fail naming
 * what. */
static void assert_patch_fails(load_fn load, void *dev, const struct saved *s, size_t off,
			       uint64_t v, unsigned bytes, const char *what)
{
	uint8_t *b = malloc(s->len);
	assert_non_null(b);
	memcpy(b, s->buf, s->len);
	put_le(b + s->header + off, v, bytes);
	assert_load_fails(load, dev, b, s->len, what);
	free(b);
}

/* A payload cut short, a stream cut short, a byte past the fields, another version. */
static void assert_malformed_fail(load_fn load, void *dev, const struct saved *s)
{
	size_t len_at = s->header - 8, payload = s->len - s->header;
	uint8_t *b = malloc(s->len + 1);
	assert_non_null(b);
	memcpy(b, s->buf, s->len);
	put_le(b + len_at, payload - 1, 8);
	assert_load_fails(load, dev, b, s->len - 1, "shorter than its fields");
	assert_load_fails(load, dev, s->buf, s->len - 1, "cut short");
	put_le(b + len_at, payload + 1, 8);
	b[s->len] = 0;
	assert_load_fails(load, dev, b, s->len + 1, "past its fields");
	memcpy(b, s->buf, s->len);
	put_le(b + len_at - 4, 7, 4);
	assert_load_fails(load, dev, b, s->len, "layout version 7");
	free(b);
}

static int load_ok(load_fn load, void *dev, const struct saved *s)
{
	struct state_in in;
	state_in_init(&in, s->buf, s->len);
	int rc = load(dev, &in);
	if (rc)
		fail_msg("load failed: %s", in.err);
	assert_int_equal(in.pos, in.len);
	return rc;
}

/* ---- ACLINT ---- */

#define MSIP(h)     (4ull * (h))
#define MTIMECMP(h) (0x4000ull + 8ull * (h))
#define MTIME       0xbff8ull

struct clint {
	struct aclint a;
	uint64_t now;
	bool msip[ACLINT_MAX_HARTS];
	uint64_t mtimecmp[ACLINT_MAX_HARTS];
	unsigned calls;
};

static uint64_t clint_now(void *opaque)
{
	return ((struct clint *)opaque)->now;
}

static void clint_msip(void *opaque, unsigned hart, bool level)
{
	struct clint *c = opaque;
	c->msip[hart] = level;
	c->calls++;
}

static void clint_mtimecmp(void *opaque, unsigned hart, uint64_t value)
{
	struct clint *c = opaque;
	c->mtimecmp[hart] = value;
	c->calls++;
}

static struct clint *clint_new(unsigned nharts)
{
	struct clint *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	struct aclint_cb cb = {c, clint_now, clint_msip, clint_mtimecmp, NULL};
	assert_int_equal(aclint_init(&c->a, nharts, &cb), 0);
	c->now = 424242;
	return c;
}

static void clint_free(struct clint *c)
{
	aclint_destroy(&c->a);
	free(c);
}

static uint64_t clint_rd(struct clint *c, uint64_t off, unsigned size)
{
	return aclint_ops.read(&c->a, off, size);
}

static void clint_wr(struct clint *c, uint64_t off, unsigned size, uint64_t v)
{
	aclint_ops.write(&c->a, off, size, v);
}

static int clint_load(void *dev, struct state_in *in)
{
	return aclint_state_load(&((struct clint *)dev)->a, in);
}

static void clint_save(struct clint *c, struct saved *s)
{
	struct state_out o;
	state_out_init(&o);
	aclint_state_save(&c->a, &o);
	saved_take(s, &o, 6);
}

/* Four harts: msip set on 1 and 3, mtimecmp written whole, by halves, and left at reset. */
static struct clint *clint_busy(void)
{
	struct clint *c = clint_new(4);
	clint_wr(c, MSIP(1), 4, 1);
	clint_wr(c, MSIP(3), 4, 0xffffffff); /* only bit 0 is kept */
	clint_wr(c, MTIMECMP(0), 8, 0x123456789ull);
	clint_wr(c, MTIMECMP(2), 4, 0x1000);
	clint_wr(c, MTIMECMP(2) + 4, 4, 0x2);
	clint_wr(c, MTIMECMP(3), 8, 0);
	return c;
}

static void assert_clint_regs_equal(struct clint *x, struct clint *y, unsigned nharts)
{
	for (unsigned h = 0; h < nharts; h++) {
		assert_int_equal(clint_rd(x, MSIP(h), 4), clint_rd(y, MSIP(h), 4));
		assert_int_equal(clint_rd(x, MTIMECMP(h), 8), clint_rd(y, MTIMECMP(h), 8));
		assert_int_equal(clint_rd(x, MTIMECMP(h) + 4, 4), clint_rd(y, MTIMECMP(h) + 4, 4));
	}
}

static void test_aclint_round_trip(void **state)
{
	(void)state;
	struct clint *c1 = clint_busy(), *c2 = clint_new(4);
	struct saved s;
	clint_save(c1, &s);
	assert_int_equal(s.len, s.header + 4 + 4 * 12);
	assert_int_equal(load_ok(clint_load, c2, &s), 0);
	assert_clint_regs_equal(c1, c2, 4);
	assert_int_equal(clint_rd(c2, MTIMECMP(2), 8), 0x200001000ull);
	assert_int_equal(clint_rd(c2, MTIMECMP(1), 8), UINT64_MAX);
	/* The harts were told: msip lines and comparators as the saved device drove them. */
	for (unsigned h = 0; h < 4; h++) {
		assert_int_equal(c2->msip[h], c1->msip[h]);
		assert_int_equal(c2->mtimecmp[h], clint_rd(c1, MTIMECMP(h), 8));
	}
	assert_true(c2->msip[1] && c2->msip[3] && !c2->msip[0]);
	/* mtime is the host clock, not state. */
	assert_int_equal(clint_rd(c2, MTIME, 8), 424242);
	/* And it goes on the same: clearing msip 3 drives the line low. */
	clint_wr(c2, MSIP(3), 4, 0);
	assert_false(c2->msip[3]);
	free(s.buf);
	clint_free(c1);
	clint_free(c2);
}

static void test_aclint_bad_input(void **state)
{
	(void)state;
	struct clint *c1 = clint_busy(), *c2 = clint_new(4), *two = clint_new(2);
	struct saved s;
	clint_save(c1, &s);
	assert_load_fails(clint_load, two, s.buf, s.len, "the snapshot has 4 harts, this VM 2");
	assert_patch_fails(clint_load, c2, &s, 4 + 12 * 1, 2, 4, "msip of hart 1 is 2, not 0 or 1");
	assert_malformed_fail(clint_load, c2, &s);
	/* Nothing reached the devices. */
	assert_int_equal(c2->calls + two->calls, 0);
	struct clint *fresh = clint_new(4);
	assert_clint_regs_equal(c2, fresh, 4);
	free(s.buf);
	clint_free(c1);
	clint_free(c2);
	clint_free(two);
	clint_free(fresh);
}

/* ---- PLIC ---- */

#define PRIORITY(s)  (4ull * (s))
#define PENDING(w)   (0x1000ull + 4ull * (w))
#define ENABLE(c, w) (0x2000ull + 0x80ull * (c) + 4ull * (w))
#define THRESHOLD(c) (0x200000ull + 0x1000ull * (c))
#define CLAIM(c)     (0x200004ull + 0x1000ull * (c))
#define NSOURCES     40 /* ids 1..39: two words of bits */
#define NCONTEXTS    4

struct pic {
	struct plic p;
	bool level[NCONTEXTS];
	unsigned calls;
};

static void pic_out(void *opaque, unsigned ctx, bool level)
{
	struct pic *p = opaque;
	assert_true(ctx < NCONTEXTS);
	p->level[ctx] = level;
	p->calls++;
}

static struct pic *pic_new(unsigned nsources, unsigned ncontexts)
{
	struct pic *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	struct irq_line out[NCONTEXTS];
	for (unsigned c = 0; c < NCONTEXTS; c++)
		out[c] = (struct irq_line){pic_out, p, c};
	assert_int_equal(plic_init(&p->p, nsources, ncontexts, out), 0);
	return p;
}

static void pic_free(struct pic *p)
{
	plic_destroy(&p->p);
	free(p);
}

static uint32_t pic_rd(struct pic *p, uint64_t off)
{
	return (uint32_t)plic_ops.read(&p->p, off, 4);
}

static void pic_wr(struct pic *p, uint64_t off, uint32_t v)
{
	plic_ops.write(&p->p, off, 4, v);
}

static int pic_load(void *dev, struct state_in *in)
{
	return plic_state_load(&((struct pic *)dev)->p, in);
}

static void pic_save(struct pic *p, struct saved *s)
{
	struct state_out o;
	state_out_init(&o);
	plic_state_save(&p->p, &o);
	saved_take(s, &o, 4);
}

/* Priorities, enables and thresholds set; sources 3, 5, 7, 33, 39 raised; 7 claimed by
 * context 1; 5's line lowered while it stays pending. */
static struct pic *pic_busy(void)
{
	struct pic *p = pic_new(NSOURCES, NCONTEXTS);
	for (unsigned s = 1; s < NSOURCES; s++)
		pic_wr(p, PRIORITY(s), s % 8);
	pic_wr(p, ENABLE(0, 0), 1u << 3 | 1u << 5);
	pic_wr(p, ENABLE(0, 1), 1u << 1); /* source 33 */
	pic_wr(p, ENABLE(1, 0), 1u << 5 | 1u << 7);
	pic_wr(p, ENABLE(2, 1), 1u << 7); /* source 39 */
	pic_wr(p, THRESHOLD(0), 1);
	pic_wr(p, THRESHOLD(2), 6);
	pic_wr(p, THRESHOLD(3), 7);
	unsigned raised[] = {3, 5, 7, 33, 39};
	for (unsigned i = 0; i < 5; i++)
		plic_set_irq(&p->p, raised[i], true);
	assert_int_equal(pic_rd(p, CLAIM(1)), 7);
	plic_set_irq(&p->p, 5, false);
	assert_true(p->level[0] && p->level[1] && p->level[2] && !p->level[3]);
	return p;
}

static void assert_pic_regs_equal(struct pic *x, struct pic *y)
{
	for (unsigned s = 0; s <= NSOURCES; s++)
		assert_int_equal(pic_rd(x, PRIORITY(s)), pic_rd(y, PRIORITY(s)));
	for (unsigned w = 0; w < PLIC_MAX_SOURCES / 32; w++)
		assert_int_equal(pic_rd(x, PENDING(w)), pic_rd(y, PENDING(w)));
	for (unsigned c = 0; c < NCONTEXTS; c++) {
		for (unsigned w = 0; w < PLIC_MAX_SOURCES / 32; w++)
			assert_int_equal(pic_rd(x, ENABLE(c, w)), pic_rd(y, ENABLE(c, w)));
		assert_int_equal(pic_rd(x, THRESHOLD(c)), pic_rd(y, THRESHOLD(c)));
	}
}

static void assert_pic_lines_equal(struct pic *x, struct pic *y)
{
	for (unsigned c = 0; c < NCONTEXTS; c++)
		assert_int_equal(x->level[c], y->level[c]);
}

static void test_plic_round_trip(void **state)
{
	(void)state;
	struct pic *p1 = pic_busy(), *p2 = pic_new(NSOURCES, NCONTEXTS);
	struct saved s;
	pic_save(p1, &s);
	assert_int_equal(s.len, s.header + 8 + 4 * NSOURCES + 3 * 8 + NCONTEXTS * 12);
	assert_int_equal(load_ok(pic_load, p2, &s), 0);
	assert_pic_regs_equal(p1, p2);
	assert_int_equal(pic_rd(p2, PENDING(0)), 1u << 3 | 1u << 5);
	assert_int_equal(pic_rd(p2, PENDING(1)), 1u << 1 | 1u << 7);
	/* The output lines were driven from the loaded state. */
	assert_pic_lines_equal(p1, p2);
	assert_true(p2->level[0] && p2->level[1] && p2->level[2] && !p2->level[3]);
	/* Claims and completions go on the same on both: 7 is still claimed (its completion
	 * re-pends it, its line being high), 5 pending with its line low. */
	for (unsigned c = 0; c < NCONTEXTS; c++)
		assert_int_equal(pic_rd(p1, CLAIM(c)), pic_rd(p2, CLAIM(c)));
	assert_pic_lines_equal(p1, p2);
	pic_wr(p1, CLAIM(1), 7);
	pic_wr(p2, CLAIM(1), 7);
	assert_pic_regs_equal(p1, p2);
	assert_pic_lines_equal(p1, p2);
	assert_int_equal(pic_rd(p2, PENDING(0)) & (1u << 7), 1u << 7);
	for (unsigned c = 0; c < NCONTEXTS; c++)
		assert_int_equal(pic_rd(p1, CLAIM(c)), pic_rd(p2, CLAIM(c)));
	/* The line levels were restored too: 5 does not come back after completion. */
	pic_wr(p1, CLAIM(0), 5);
	pic_wr(p2, CLAIM(0), 5);
	assert_pic_regs_equal(p1, p2);
	assert_int_equal(pic_rd(p2, PENDING(0)) & (1u << 5), 0);
	free(s.buf);
	pic_free(p1);
	pic_free(p2);
}

/* Payload offsets: nsources, ncontexts, priority[40], pending[2], claimed[2], level[2],
 * then per context enable[2] and threshold. */
#define P_PRIO(s)      (8 + 4 * (s))
#define P_PENDING(w)   (8 + 4 * NSOURCES + 4 * (w))
#define P_CLAIMED(w)   (P_PENDING(2) + 4 * (w))
#define P_ENABLE(c, w) (P_PENDING(6) + 12 * (c) + 4 * (w))
#define P_THRESH(c)    (P_PENDING(6) + 12 * (c) + 8)

static void test_plic_bad_input(void **state)
{
	(void)state;
	struct pic *p1 = pic_busy(), *p2 = pic_new(NSOURCES, NCONTEXTS);
	struct pic *fewer = pic_new(32, NCONTEXTS), *less = pic_new(NSOURCES, 2);
	struct saved s;
	pic_save(p1, &s);
	assert_load_fails(pic_load, fewer, s.buf, s.len,
			  "the snapshot has 40 interrupt sources, this PLIC 32");
	assert_load_fails(pic_load, less, s.buf, s.len, "the snapshot has 4 contexts, this PLIC 2");
	assert_patch_fails(pic_load, p2, &s, P_PRIO(5), 8, 4,
			   "priority of source 5 is 8, above the maximum 7");
	assert_patch_fails(pic_load, p2, &s, P_PRIO(0), 1, 4,
			   "priority of source 0 is 1, above the maximum 0");
	assert_patch_fails(pic_load, p2, &s, P_PENDING(0), 1, 4,
			   "pending word 0 has bits of sources that do not exist (0x00000001");
	assert_patch_fails(pic_load, p2, &s, P_PENDING(1), 1u << 8, 4,
			   "pending word 1 has bits of sources that do not exist (0x00000100");
	assert_patch_fails(pic_load, p2, &s, P_CLAIMED(0), 1u << 3 | 1u << 7, 4,
			   "pending word 0 has sources that are also claimed (0x00000008)");
	assert_patch_fails(pic_load, p2, &s, P_ENABLE(2, 1), 1u << 9, 4,
			   "enable word 1 of context 2 has bits of sources that do not exist");
	assert_patch_fails(pic_load, p2, &s, P_THRESH(3), 8, 4,
			   "threshold of context 3 is 8, above the maximum 7");
	assert_malformed_fail(pic_load, p2, &s);
	/* Nothing reached the devices or their lines. */
	assert_int_equal(p2->calls + fewer->calls + less->calls, 0);
	struct pic *fresh = pic_new(NSOURCES, NCONTEXTS);
	assert_pic_regs_equal(p2, fresh);
	free(s.buf);
	pic_free(p1);
	pic_free(p2);
	pic_free(fewer);
	pic_free(less);
	pic_free(fresh);
}

/* ---- UART ---- */

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2 };
enum { LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct serial {
	struct chr chr; /* first */
	uint8_t in[64];
	size_t in_head, in_len;
	size_t out_len;
	struct uart16550 u;
	bool level;
	unsigned irq_calls;
};

static void serial_write(struct chr *c, const void *buf, size_t len)
{
	(void)buf;
	((struct serial *)c)->out_len += len;
}

static size_t serial_read(struct chr *c, void *buf, size_t len)
{
	struct serial *s = (struct serial *)c;
	size_t n = 0;
	while (n < len && s->in_head < s->in_len)
		((uint8_t *)buf)[n++] = s->in[s->in_head++];
	return n;
}

static void serial_irq(void *opaque, unsigned num, bool level)
{
	struct serial *s = opaque;
	assert_int_equal(num, 10);
	s->level = level;
	s->irq_calls++;
}

static struct serial *serial_new(void)
{
	struct serial *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->chr.write = serial_write;
	s->chr.read = serial_read;
	assert_int_equal(uart16550_init(&s->u, &s->chr, (struct irq_line){serial_irq, s, 10}), 0);
	return s;
}

static void serial_free(struct serial *s)
{
	uart16550_destroy(&s->u);
	free(s);
}

/* Host input arrives, as from the backend's thread. */
static void serial_type(struct serial *s, const char *text)
{
	size_t len = strlen(text);
	assert_true(s->in_len + len <= sizeof(s->in));
	memcpy(s->in + s->in_len, text, len);
	s->in_len += len;
	s->chr.notify(s->chr.notify_opaque);
}

static uint8_t ser_rd(struct serial *s, uint64_t off)
{
	return (uint8_t)uart16550_ops.read(&s->u, off, 1);
}

static void ser_wr(struct serial *s, uint64_t off, uint8_t v)
{
	uart16550_ops.write(&s->u, off, 1, v);
}

static int serial_load(void *dev, struct state_in *in)
{
	return uart16550_state_load(&((struct serial *)dev)->u, in);
}

static void serial_save(struct serial *s, struct saved *out)
{
	struct state_out o;
	state_out_init(&o);
	uart16550_state_save(&s->u, &o);
	saved_take(out, &o, 4);
}

/* Divisor, line and modem control, FIFOs on, interrupts enabled, and six bytes of input
 * pending in the FIFO across its wrap-around. */
static struct serial *serial_busy(void)
{
	struct serial *s = serial_new();
	ser_wr(s, LCR, 0x80);
	ser_wr(s, DLL, 0x0c);
	ser_wr(s, DLM, 0x01);
	ser_wr(s, LCR, 0x1b);
	ser_wr(s, FCR, 0xc7); /* enable, clear both, trigger 14 */
	ser_wr(s, IER, 0x07); /* received data, THRE, line status */
	ser_wr(s, MCR, 0x0b); /* DTR, RTS, OUT2 */
	ser_wr(s, SCR, 0x5a);
	ser_wr(s, THR, 'x');
	serial_type(s, "0123456789abcdef");
	for (unsigned i = 0; i < 14; i++)
		assert_int_equal(ser_rd(s, RBR), "0123456789abcdef"[i]);
	serial_type(s, "WXYZ"); /* head 14, six bytes: e f W X Y Z */
	assert_true(s->level);
	return s;
}

/* Read every register of x and y in the same order (reads have side effects on both alike). */
static void assert_serial_regs_equal(struct serial *x, struct serial *y)
{
	static const uint8_t order[] = {IIR, LCR, MCR, LSR, MSR, SCR, IER};
	for (unsigned i = 0; i < sizeof(order); i++)
		assert_int_equal(ser_rd(x, order[i]), ser_rd(y, order[i]));
	uint8_t lcr = ser_rd(x, LCR);
	ser_wr(x, LCR, lcr | 0x80);
	ser_wr(y, LCR, lcr | 0x80);
	assert_int_equal(ser_rd(x, DLL), ser_rd(y, DLL));
	assert_int_equal(ser_rd(x, DLM), ser_rd(y, DLM));
	ser_wr(x, LCR, lcr);
	ser_wr(y, LCR, lcr);
	assert_int_equal(x->level, y->level);
}

static void test_uart_round_trip(void **state)
{
	(void)state;
	struct serial *s1 = serial_busy(), *s2 = serial_new();
	struct saved sv;
	serial_save(s1, &sv);
	assert_int_equal(sv.len, sv.header + 13 + 16);
	assert_int_equal(s2->irq_calls, 0);
	assert_int_equal(load_ok(serial_load, s2, &sv), 0);
	/* The line follows the loaded state at once: data is waiting. */
	assert_true(s2->level);
	assert_serial_regs_equal(s1, s2);
	/* The pending input comes out of the restored FIFO, in order, across its wrap. */
	const char *rest = "efWXYZ";
	for (unsigned i = 0; i < 6; i++) {
		assert_int_equal(ser_rd(s1, RBR), rest[i]);
		assert_int_equal(ser_rd(s2, RBR), rest[i]);
		assert_int_equal(s1->level, s2->level);
	}
	/* THRE is what is left: IIR reports it on both, then both lines drop. */
	assert_int_equal(ser_rd(s1, IIR), 0xc2);
	assert_int_equal(ser_rd(s2, IIR), 0xc2);
	assert_false(s1->level);
	assert_false(s2->level);
	assert_serial_regs_equal(s1, s2);
	/* The restored UART takes new input from its own backend. */
	serial_type(s2, "!");
	assert_true(s2->level);
	assert_int_equal(ser_rd(s2, RBR), '!');
	free(sv.buf);
	serial_free(s1);
	serial_free(s2);
}

/* Loopback: the modem inputs follow the modem control outputs, and an overrun is flagged. */
static void test_uart_loopback_round_trip(void **state)
{
	(void)state;
	struct serial *s1 = serial_new(), *s2 = serial_new();
	ser_wr(s1, MCR, 0x16); /* LOOP, RTS, OUT1 */
	ser_wr(s1, IER, 0x0d); /* data, line status, modem status */
	ser_wr(s1, THR, 'a');
	ser_wr(s1, THR, 'b'); /* FIFOs off: one byte held, this one overruns */
	struct saved sv;
	serial_save(s1, &sv);
	assert_int_equal(load_ok(serial_load, s2, &sv), 0);
	assert_true(s2->level);
	assert_serial_regs_equal(s1, s2); /* LSR (OE) and MSR (deltas) read, and cleared */
	assert_int_equal(ser_rd(s1, RBR), 'a');
	assert_int_equal(ser_rd(s2, RBR), 'a');
	assert_serial_regs_equal(s1, s2);
	free(sv.buf);
	serial_free(s1);
	serial_free(s2);
}

/* Payload offsets of the one-byte fields. */
enum {
	U_IER,
	U_IIR,
	U_LCR,
	U_MCR,
	U_LSR,
	U_MSR,
	U_SCR,
	U_FCR,
	U_DLL,
	U_DLM,
	U_HEAD,
	U_COUNT,
	U_THRE
};

static void test_uart_bad_input(void **state)
{
	(void)state;
	struct serial *s1 = serial_busy(), *s2 = serial_new(), *fresh = serial_new();
	struct saved sv;
	serial_save(s1, &sv);
	assert_patch_fails(serial_load, s2, &sv, U_COUNT, 17, 1,
			   "rx_count 17 is more than the receiver holds: 16 with FIFOs enabled");
	assert_patch_fails(serial_load, s2, &sv, U_FCR, 0xc0, 1,
			   "rx_count 6 is more than the receiver holds: 1 with FIFOs disabled");
	assert_patch_fails(serial_load, s2, &sv, U_HEAD, 16, 1, "rx_head 16 is past");
	assert_patch_fails(serial_load, s2, &sv, U_IER, 0x17, 1, "ier 0x17 has reserved bits");
	assert_patch_fails(serial_load, s2, &sv, U_MCR, 0x2b, 1, "mcr 0x2b has reserved bits");
	assert_patch_fails(serial_load, s2, &sv, U_FCR, 0xc3, 1, "fcr 0xc3");
	assert_patch_fails(serial_load, s2, &sv, U_THRE, 2, 1, "thr_empty_pending is 2");
	assert_patch_fails(serial_load, s2, &sv, U_LSR, 0x60, 1,
			   "lsr 0x60 where the state gives 0x61");
	assert_patch_fails(serial_load, s2, &sv, U_IIR, 0xc1, 1,
			   "iir 0xc1 where the state gives 0xc4");
	assert_patch_fails(serial_load, s2, &sv, U_MSR, 0x10, 1, "msr 0x10");
	assert_malformed_fail(serial_load, s2, &sv);
	/* Nothing reached the device or its line. */
	assert_int_equal(s2->irq_calls, 0);
	struct uart16550_regs a, b;
	uart16550_save(&s2->u, &a);
	uart16550_save(&fresh->u, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	free(sv.buf);
	serial_free(s1);
	serial_free(s2);
	serial_free(fresh);
}

/* ---- Goldfish RTC ---- */

#define NS_PER_SEC 1000000000ull
#define NS_PER_MS  1000000ull
#define RTC_IRQ    11

/* The line, driven from the test's thread and the alarm thread. */
struct clock {
	struct goldfish_rtc r;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool level;
	unsigned calls;
};

static uint64_t host_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void clock_line(void *opaque, unsigned num, bool level)
{
	struct clock *c = opaque;
	assert_int_equal(num, RTC_IRQ);
	pthread_mutex_lock(&c->lock);
	c->level = level;
	c->calls++;
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
}

static bool clock_level(struct clock *c)
{
	pthread_mutex_lock(&c->lock);
	bool v = c->level;
	pthread_mutex_unlock(&c->lock);
	return v;
}

/* Wait up to ms for the line to go high; returns its level then. */
static bool clock_wait_raised(struct clock *c, unsigned ms)
{
	uint64_t deadline = host_ns() + ms * NS_PER_MS;
	struct timespec ts = {(time_t)(deadline / NS_PER_SEC), (long)(deadline % NS_PER_SEC)};
	pthread_mutex_lock(&c->lock);
	while (!c->level)
		if (pthread_cond_timedwait(&c->changed, &c->lock, &ts) == ETIMEDOUT)
			break;
	bool v = c->level;
	pthread_mutex_unlock(&c->lock);
	return v;
}

static struct clock *clock_new(void)
{
	struct clock *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->changed, NULL);
	assert_int_equal(goldfish_rtc_init(&c->r, (struct irq_line){clock_line, c, RTC_IRQ}), 0);
	return c;
}

static void clock_free(struct clock *c)
{
	goldfish_rtc_destroy(&c->r);
	pthread_cond_destroy(&c->changed);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static uint32_t clk_rd(struct clock *c, uint64_t reg)
{
	return (uint32_t)goldfish_rtc_ops.read(&c->r, reg, 4);
}

static void clk_wr(struct clock *c, uint64_t reg, uint32_t v)
{
	goldfish_rtc_ops.write(&c->r, reg, 4, v);
}

static uint64_t clk_time(struct clock *c)
{
	uint64_t low = clk_rd(c, GOLDFISH_RTC_TIME_LOW);
	return (uint64_t)clk_rd(c, GOLDFISH_RTC_TIME_HIGH) << 32 | low;
}

static void clk_set_time(struct clock *c, uint64_t ns)
{
	clk_wr(c, GOLDFISH_RTC_TIME_HIGH, (uint32_t)(ns >> 32));
	clk_wr(c, GOLDFISH_RTC_TIME_LOW, (uint32_t)ns);
}

static void clk_set_alarm(struct clock *c, uint64_t ns)
{
	clk_wr(c, GOLDFISH_RTC_ALARM_HIGH, (uint32_t)(ns >> 32));
	clk_wr(c, GOLDFISH_RTC_ALARM_LOW, (uint32_t)ns);
}

static int clock_load(void *dev, struct state_in *in)
{
	return goldfish_rtc_state_load(&((struct clock *)dev)->r, in);
}

static void clock_save(struct clock *c, struct saved *s)
{
	struct state_out o;
	state_out_init(&o);
	goldfish_rtc_state_save(&c->r, &o);
	saved_take(s, &o, 3);
}

#define RTC_EPOCH (1000000000ull * NS_PER_SEC) /* 2001-09-09: far from the host's time */

static uint64_t diff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* The clock set away from the host's, an alarm armed 300 ms ahead: after the load the clock
 * reads the same, the alarm is armed, and it fires on time. */
static void test_rtc_round_trip_rearms_alarm(void **state)
{
	(void)state;
	struct clock *c1 = clock_new(), *c2 = clock_new();
	clk_set_time(c1, RTC_EPOCH);
	clk_wr(c1, GOLDFISH_RTC_IRQ_ENABLED, 1);
	uint64_t alarm = clk_time(c1) + 300 * NS_PER_MS;
	clk_set_alarm(c1, alarm);
	clk_wr(c1, GOLDFISH_RTC_TIME_HIGH, 0x1234); /* staged for the next TIME_LOW write */
	struct saved s;
	clock_save(c1, &s);
	assert_int_equal(s.len, s.header + 28);
	assert_int_equal(load_ok(clock_load, c2, &s), 0);
	assert_int_equal(clk_rd(c2, GOLDFISH_RTC_ALARM_STATUS), 1);
	assert_int_equal(clk_rd(c2, GOLDFISH_RTC_ALARM_LOW), (uint32_t)alarm);
	assert_int_equal(clk_rd(c2, GOLDFISH_RTC_ALARM_HIGH), alarm >> 32);
	assert_int_equal(clk_rd(c2, GOLDFISH_RTC_IRQ_ENABLED), 1);
	assert_int_equal(clk_rd(c2, GOLDFISH_RTC_TIME_HIGH), clk_rd(c1, GOLDFISH_RTC_TIME_HIGH));
	assert_false(clock_level(c2));
	/* Same clock: the host's time plus the same offset. */
	uint64_t t1 = clk_time(c1), t2 = clk_time(c2);
	assert_true(diff(t1, t2) < 50 * NS_PER_MS);
	assert_true(diff(t2, RTC_EPOCH) < 5 * NS_PER_SEC);
	/* The re-armed alarm fires, not before its time. */
	assert_true(clock_wait_raised(c2, 3000));
	assert_true(clk_time(c2) >= alarm);
	assert_int_equal(clk_rd(c2, GOLDFISH_RTC_ALARM_STATUS), 0);
	clk_wr(c2, GOLDFISH_RTC_CLEAR_INTERRUPT, 1);
	assert_false(clock_level(c2));
	/* The staged high half came along: the next TIME_LOW write uses it. */
	clk_wr(c2, GOLDFISH_RTC_TIME_LOW, 0);
	assert_int_equal(clk_time(c2) >> 32, 0x1234);
	free(s.buf);
	clock_free(c1);
	clock_free(c2);
}

/* A fired alarm not yet cleared: the line is high after the load, at once. An alarm that fell
 * due while the state was stored fires at the load. */
static void test_rtc_pending_and_due_alarms(void **state)
{
	(void)state;
	struct clock *c1 = clock_new(), *c2 = clock_new(), *c3 = clock_new();
	clk_wr(c1, GOLDFISH_RTC_IRQ_ENABLED, 1);
	clk_set_alarm(c1, clk_time(c1) - NS_PER_SEC); /* in the past: fires at once */
	assert_true(clock_level(c1));
	struct saved s;
	clock_save(c1, &s);
	assert_int_equal(load_ok(clock_load, c2, &s), 0);
	assert_true(clock_level(c2));
	assert_int_equal(clk_rd(c2, GOLDFISH_RTC_ALARM_STATUS), 0);
	free(s.buf);

	clk_wr(c1, GOLDFISH_RTC_CLEAR_INTERRUPT, 1);
	clk_set_alarm(c1, clk_time(c1) + 20 * NS_PER_MS);
	clock_save(c1, &s);
	sleep_ms(60);
	assert_int_equal(load_ok(clock_load, c3, &s), 0);
	assert_true(clock_level(c3));
	assert_int_equal(clk_rd(c3, GOLDFISH_RTC_ALARM_STATUS), 0);
	free(s.buf);
	clock_free(c1);
	clock_free(c2);
	clock_free(c3);
}

static void test_rtc_bad_input(void **state)
{
	(void)state;
	struct clock *c1 = clock_new(), *c2 = clock_new();
	clk_set_time(c1, RTC_EPOCH);
	clk_wr(c1, GOLDFISH_RTC_IRQ_ENABLED, 1);
	clk_set_alarm(c1, RTC_EPOCH + 3600 * NS_PER_SEC);
	struct saved s;
	clock_save(c1, &s);
	static const char *flags[] = {"set_high_valid is 2", "alarm_armed is 2", "irq_pending is 2",
				      "irq_enabled is 2"};
	for (unsigned i = 0; i < 4; i++)
		assert_patch_fails(clock_load, c2, &s, 24 + i, 2, 1, flags[i]);
	assert_malformed_fail(clock_load, c2, &s);
	/* Nothing reached the device or its line: the clock is still the host's. */
	assert_int_equal(c2->calls, 0);
	assert_int_equal(clk_rd(c2, GOLDFISH_RTC_ALARM_STATUS), 0);
	assert_int_equal(clk_rd(c2, GOLDFISH_RTC_IRQ_ENABLED), 0);
	assert_true(diff(clk_time(c2), host_ns()) < 5 * NS_PER_SEC);
	free(s.buf);
	clock_free(c1);
	clock_free(c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aclint_round_trip),
	    cmocka_unit_test(test_aclint_bad_input),
	    cmocka_unit_test(test_plic_round_trip),
	    cmocka_unit_test(test_plic_bad_input),
	    cmocka_unit_test(test_uart_round_trip),
	    cmocka_unit_test(test_uart_loopback_round_trip),
	    cmocka_unit_test(test_uart_bad_input),
	    cmocka_unit_test(test_rtc_round_trip_rearms_alarm),
	    cmocka_unit_test(test_rtc_pending_and_due_alarms),
	    cmocka_unit_test(test_rtc_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
