/* Unit tests of the GDB remote stub (src/vmm/gdbstub.c): the packet layer (checksums, acks,
 * run-length encoding, escapes, and malformed input: bad checksums, overlong and truncated
 * packets, noise between packets) and the protocol's commands against real harts: registers
 * (g/G, p/P), memory through bare and Sv39 translation with faults answering E14, single
 * steps of exactly one instruction (with the translator present too), breakpoints and
 * watchpoints on a hart running on its own thread, threads, detach and kill, and malformed
 * commands, each answered with an error while the stub goes on. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "jit/jit.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"
#include "vmm/gdbstub.h"

#define RAM      0x80000000ull
#define RAM_SIZE (4ull << 20)
#define NHARTS   2

/* Instructions (RV64I and C). */
#define ADDI_A0_1  0x00150513u /* addi a0, a0, 1 */
#define C_ADDI_A0  0x0505u     /* c.addi a0, 1 */
#define SD_A0_A1   0x00a5b023u /* sd a0, 0(a1) */
#define LD_A2_A1   0x0005b603u /* ld a2, 0(a1) */
#define J_MINUS_16 0xff1ff06fu /* j .-16 */

struct fixture {
	struct guest_mem mem;
	struct bus bus;
	struct hart h[NHARTS];
	struct gdbstub *stub;
	char out[1 << 16]; /* what the stub sent, not yet consumed */
	size_t out_len;
	int stops, resumes, kills;
	/* Hart 0 on a thread of its own (the breakpoint tests), parked while stopped. */
	pthread_t thread;
	bool threaded;
};

static uint64_t fake_time(void *opaque)
{
	(void)opaque;
	return 1000;
}

static void t_send(void *opaque, const void *buf, size_t n)
{
	struct fixture *f = opaque;
	assert_true(f->out_len + n <= sizeof(f->out));
	memcpy(f->out + f->out_len, buf, n);
	f->out_len += n;
}

static void t_stop(void *opaque)
{
	struct fixture *f = opaque;
	f->stops++;
	for (unsigned i = 0; i < NHARTS; i++)
		hart_set_paused(&f->h[i], true, f->threaded && i == 0);
}

static void t_resume(void *opaque)
{
	struct fixture *f = opaque;
	f->resumes++;
	for (unsigned i = 0; i < NHARTS; i++)
		hart_set_paused(&f->h[i], false, false);
}

static void t_kill(void *opaque)
{
	((struct fixture *)opaque)->kills++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM, RAM_SIZE), 0);
	struct hart_env env = {.opaque = f, .time_now = fake_time};
	for (unsigned i = 0; i < NHARTS; i++) {
		assert_int_equal(hart_init(&f->h[i], i, &f->mem, &f->bus, &env), 0);
		hart_reset(&f->h[i], RAM);
	}
	struct gdb_target t = {
	    .harts = f->h,
	    .nharts = NHARTS,
	    .opaque = f,
	    .stop = t_stop,
	    .resume = t_resume,
	    .kill = t_kill,
	    .send = t_send,
	};
	f->stub = gdbstub_new(&t);
	assert_non_null(f->stub);
	gdbstub_attach(f->stub);
	*state = f;
	return 0;
}

static void stop_thread(struct fixture *f)
{
	if (!f->threaded)
		return;
	hart_request_exit(&f->h[0], HART_EXIT_STOP);
	pthread_join(f->thread, NULL);
	f->threaded = false;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	stop_thread(f);
	gdbstub_free(f->stub);
	for (unsigned i = 0; i < NHARTS; i++) {
		assert_null(f->h[i].debug);
		hart_destroy(&f->h[i]);
	}
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static void *hart_thread(void *arg)
{
	hart_run(arg);
	return NULL;
}

/* Start hart 0 on its own thread, parked (the stub holds the target stopped). */
static void start_thread(struct fixture *f)
{
	hart_set_paused(&f->h[0], true, false);
	assert_int_equal(pthread_create(&f->thread, NULL, hart_thread, &f->h[0]), 0);
	f->threaded = true;
	hart_set_paused(&f->h[0], true, true);
}

static void *ram(struct fixture *f, uint64_t gpa)
{
	return guest_mem_ptr(&f->mem, gpa, 1);
}

static void put32(struct fixture *f, uint64_t gpa, uint32_t v)
{
	memcpy(ram(f, gpa), &v, 4);
}

static uint64_t get64(struct fixture *f, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, ram(f, gpa), 8);
	return v;
}

/* ---- talking to the stub ---- */

static void feed(struct fixture *f, const char *bytes, size_t n)
{
	gdbstub_input(f->stub, bytes, n);
}

static void feed_str(struct fixture *f, const char *s)
{
	feed(f, s, strlen(s));
}

/* Send data as a well-formed packet. */
static void send_packet_n(struct fixture *f, const char *data, size_t len)
{
	static char buf[2 * GDB_PACKET_MAX];
	size_t n = gdb_frame(buf, sizeof(buf), data, len);
	assert_true(n > 0);
	feed(f, buf, n);
}

static void send_packet(struct fixture *f, const char *data)
{
	send_packet_n(f, data, strlen(data));
}

/* Consume everything sent so far as text (acks and packets as they are). */
static const char *take_raw(struct fixture *f)
{
	static char buf[sizeof(((struct fixture *)0)->out) + 1];
	memcpy(buf, f->out, f->out_len);
	buf[f->out_len] = 0;
	f->out_len = 0;
	return buf;
}

/* Consume one ack (when expected) and one packet; check its framing and checksum; return its
 * data. */
static const char *take_reply_ack(struct fixture *f, bool ack)
{
	static char data[sizeof(((struct fixture *)0)->out)];
	size_t i = 0;
	if (ack) {
		assert_true(f->out_len > 0);
		assert_int_equal(f->out[0], '+');
		i = 1;
	}
	assert_true(f->out_len >= i + 4);
	assert_int_equal(f->out[i], '$');
	size_t j = i + 1;
	uint8_t sum = 0;
	while (j < f->out_len && f->out[j] != '#')
		sum += (uint8_t)f->out[j++];
	assert_true(j + 3 <= f->out_len);
	char cs[3] = {f->out[j + 1], f->out[j + 2], 0};
	assert_int_equal(strtoul(cs, NULL, 16), sum);
	size_t len = j - i - 1;
	memcpy(data, f->out + i + 1, len);
	data[len] = 0;
	memmove(f->out, f->out + j + 3, f->out_len - (j + 3));
	f->out_len -= j + 3;
	return data;
}

/* Send a packet and return the reply's data (the ack checked); nothing else may follow. */
static const char *req(struct fixture *f, const char *data)
{
	send_packet(f, data);
	const char *r = take_reply_ack(f, true);
	assert_int_equal(f->out_len, 0);
	return r;
}

static void req_expect(struct fixture *f, const char *data, const char *want)
{
	const char *r = req(f, data);
	if (strcmp(r, want))
		fail_msg("'%s' answered '%s', not '%s'", data, r, want);
}

/* 64-bit little-endian hex. */
static void le_hex(char *out, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", (unsigned)(uint8_t)(v >> (8 * i)));
}

static uint64_t from_le_hex(const char *s, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++) {
		char b[3] = {s[2 * i], s[2 * i + 1], 0};
		v |= (uint64_t)strtoul(b, NULL, 16) << (8 * i);
	}
	return v;
}

/* ---- packet layer ---- */

static enum gdb_rx_event feed_rx(struct gdb_rx *rx, const char *s, size_t n)
{
	enum gdb_rx_event last = GDB_RX_NONE;
	for (size_t i = 0; i < n; i++) {
		enum gdb_rx_event e = gdb_rx_feed(rx, (uint8_t)s[i]);
		if (e != GDB_RX_NONE)
			last = e;
	}
	return last;
}

static void test_rx_checksum_and_frame(void **state)
{
	(void)state;
	static struct gdb_rx rx;
	gdb_rx_init(&rx);
	assert_int_equal(feed_rx(&rx, "$g#67", 5), GDB_RX_PACKET);
	assert_int_equal(rx.len, 1);
	assert_string_equal(rx.buf, "g");
	uint8_t sum = 0;
	for (const char *p = "m80000000,4"; *p; p++)
		sum += (uint8_t)*p;
	char pkt[32];
	snprintf(pkt, sizeof(pkt), "$m80000000,4#%02x", sum);
	assert_int_equal(feed_rx(&rx, pkt, strlen(pkt)), GDB_RX_PACKET);
	assert_string_equal(rx.buf, "m80000000,4");
	/* Checksum digits in either case. */
	snprintf(pkt, sizeof(pkt), "$m80000000,4#%02X", sum);
	assert_int_equal(feed_rx(&rx, pkt, strlen(pkt)), GDB_RX_PACKET);
	char out[16];
	assert_int_equal(gdb_frame(out, sizeof(out), "OK", 2), 6);
	assert_memory_equal(out, "$OK#9a", 6);
	assert_int_equal(gdb_frame(out, 5, "OK", 2), 0); /* too small */
	assert_int_equal(gdb_frame(out, sizeof(out), "", 0), 4);
	assert_memory_equal(out, "$#00", 4);
}

static void test_rx_bad_checksum(void **state)
{
	(void)state;
	static struct gdb_rx rx;
	gdb_rx_init(&rx);
	assert_int_equal(feed_rx(&rx, "$g#68", 5), GDB_RX_BAD_CHECKSUM);
	assert_int_equal(feed_rx(&rx, "$g#zz", 5), GDB_RX_BAD_CHECKSUM);
	assert_int_equal(feed_rx(&rx, "$g#6", 4), GDB_RX_NONE); /* not complete yet */
	assert_int_equal(feed_rx(&rx, "x", 1), GDB_RX_BAD_CHECKSUM);
	/* The next good packet is received. */
	assert_int_equal(feed_rx(&rx, "$g#67", 5), GDB_RX_PACKET);
}

static void test_rx_acks_interrupt_and_noise(void **state)
{
	(void)state;
	static struct gdb_rx rx;
	gdb_rx_init(&rx);
	assert_int_equal(gdb_rx_feed(&rx, '+'), GDB_RX_ACK);
	assert_int_equal(gdb_rx_feed(&rx, '-'), GDB_RX_NAK);
	assert_int_equal(gdb_rx_feed(&rx, 0x03), GDB_RX_INTERRUPT);
	/* Noise between packets, even '#' and digits, is ignored. */
	assert_int_equal(feed_rx(&rx, "hello\r\n#12 \xff\x00", 13), GDB_RX_NONE);
	assert_int_equal(feed_rx(&rx, "garbage$g#67", 12), GDB_RX_PACKET);
	assert_string_equal(rx.buf, "g");
	/* Inside a packet, +, - and 0x03 are data. */
	assert_int_equal(feed_rx(&rx, "$+-\x03#", 5), GDB_RX_NONE);
	char cs[3];
	snprintf(cs, sizeof(cs), "%02x", ('+' + '-' + 3) & 0xff);
	assert_int_equal(feed_rx(&rx, cs, 2), GDB_RX_PACKET);
	assert_memory_equal(rx.buf, "+-\x03", 3);
}

static void test_rx_truncated(void **state)
{
	(void)state;
	static struct gdb_rx rx;
	gdb_rx_init(&rx);
	/* A packet cut short by a new '$' is dropped; the new one counts. */
	assert_int_equal(feed_rx(&rx, "$m8000$g#67", 11), GDB_RX_PACKET);
	assert_string_equal(rx.buf, "g");
	/* A packet that never ends yields nothing. */
	assert_int_equal(feed_rx(&rx, "$mffff,ffff", 11), GDB_RX_NONE);
	gdb_rx_init(&rx);
	assert_int_equal(feed_rx(&rx, "$?#3f", 5), GDB_RX_PACKET);
}

static void test_rx_overlong(void **state)
{
	(void)state;
	static struct gdb_rx rx;
	static char big[GDB_PACKET_MAX + 100];
	gdb_rx_init(&rx);
	uint8_t sum = 0;
	size_t n = 0;
	big[n++] = '$';
	for (size_t i = 0; i < GDB_PACKET_MAX + 10; i++) {
		big[n++] = 'a';
		sum += 'a';
	}
	n += (size_t)sprintf(big + n, "#%02x", sum);
	assert_int_equal(feed_rx(&rx, big, n), GDB_RX_OVERLONG);
	assert_true(rx.len <= GDB_PACKET_MAX);
	/* Exactly the limit is fine. */
	n = 0;
	sum = 0;
	big[n++] = '$';
	for (size_t i = 0; i < GDB_PACKET_MAX; i++) {
		big[n++] = 'b';
		sum += 'b';
	}
	char *cs = big + n;
	n += (size_t)snprintf(cs, 4, "#%02x", sum);
	assert_int_equal(feed_rx(&rx, big, n), GDB_RX_PACKET);
	assert_int_equal(rx.len, GDB_PACKET_MAX);
	/* A packet with a bad checksum is just that. */
	cs[2] = cs[2] == '0' ? '1' : '0';
	assert_int_equal(feed_rx(&rx, big, n), GDB_RX_BAD_CHECKSUM);
}

static void test_rx_run_length_and_escapes(void **state)
{
	(void)state;
	static struct gdb_rx rx;
	gdb_rx_init(&rx);
	/* "0* " is '0' and 32 - 29 = 3 more: "0000"; the checksum covers the encoded bytes. */
	const char *enc = "$0* #";
	uint8_t sum = '0' + '*' + ' ';
	char pkt[16];
	snprintf(pkt, sizeof(pkt), "%s%02x", enc, sum);
	assert_int_equal(feed_rx(&rx, pkt, strlen(pkt)), GDB_RX_PACKET);
	assert_string_equal(rx.buf, "0000");
	/* A '*' after the escape character is data (an escaped byte), not a run. */
	const char esc[] = "X1,2:}*";
	sum = 0;
	for (size_t i = 0; i < sizeof(esc) - 1; i++)
		sum += (uint8_t)esc[i];
	snprintf(pkt, sizeof(pkt), "$%s#%02x", esc, sum);
	assert_int_equal(feed_rx(&rx, pkt, strlen(pkt)), GDB_RX_PACKET);
	assert_string_equal(rx.buf, esc);
	/* A run at the start of a packet has nothing to repeat: the '*' is kept. */
	snprintf(pkt, sizeof(pkt), "$*#%02x", '*');
	assert_int_equal(feed_rx(&rx, pkt, strlen(pkt)), GDB_RX_PACKET);
	assert_string_equal(rx.buf, "*");
}

/* ---- the stub ---- */

static void test_acks_nak_and_noack(void **state)
{
	struct fixture *f = *state;
	req_expect(f, "?", "T05thread:1;");
	/* '-' asks for the last reply again. */
	feed_str(f, "-");
	assert_string_equal(take_reply_ack(f, false), "T05thread:1;");
	/* A bad checksum is answered '-' and nothing else. */
	feed_str(f, "$?#00");
	assert_string_equal(take_raw(f), "-");
	/* Overlong: acked, refused with an error. */
	static char big[GDB_PACKET_MAX + 64];
	memset(big, 'q', GDB_PACKET_MAX + 20);
	send_packet_n(f, big, GDB_PACKET_MAX + 20);
	assert_string_equal(take_reply_ack(f, true), "E01");
	/* Garbage between packets changes nothing. */
	feed_str(f, "\r\nnoise#00");
	assert_int_equal(f->out_len, 0);
	/* No-ack mode: the OK is still acked, nothing after it. */
	req_expect(f, "QStartNoAckMode", "OK");
	send_packet(f, "?");
	assert_string_equal(take_reply_ack(f, false), "T05thread:1;");
	assert_int_equal(f->out_len, 0);
	feed_str(f, "$?#00-"); /* neither answered in no-ack mode */
	assert_int_equal(f->out_len, 0);
}

static void test_supported_and_target_xml(void **state)
{
	struct fixture *f = *state;
	const char *r = req(f, "qSupported:multiprocess+;swbreak+;xmlRegisters=i386");
	assert_non_null(strstr(r, "PacketSize=4000"));
	assert_non_null(strstr(r, "qXfer:features:read+"));
	assert_non_null(strstr(r, "vContSupported+"));
	assert_non_null(strstr(r, "QStartNoAckMode+"));
	/* The whole description, 200 bytes at a time, unescaped. */
	static char xml[65536];
	size_t len = 0;
	for (;;) {
		char q[64];
		snprintf(q, sizeof(q), "qXfer:features:read:target.xml:%zx,c8", len);
		r = req(f, q);
		assert_true(r[0] == 'm' || r[0] == 'l');
		for (const char *p = r + 1; *p; p++) {
			char c = *p;
			if (c == '}')
				c = *++p ^ 0x20;
			assert_true(len < sizeof(xml) - 1);
			xml[len++] = c;
		}
		if (r[0] == 'l')
			break;
	}
	xml[len] = 0;
	assert_non_null(strstr(xml, "<architecture>riscv:rv64</architecture>"));
	assert_non_null(strstr(xml, "org.gnu.gdb.riscv.cpu"));
	assert_non_null(
	    strstr(xml, "<reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\" regnum=\"32\""));
	assert_non_null(strstr(xml, "org.gnu.gdb.riscv.fpu"));
	assert_non_null(
	    strstr(xml, "<reg name=\"fcsr\" bitsize=\"32\" type=\"int\" regnum=\"68\""));
	assert_non_null(strstr(xml, "org.gnu.gdb.riscv.csr"));
	assert_non_null(
	    strstr(xml, "<reg name=\"satp\" bitsize=\"64\" type=\"int\" regnum=\"449\""));
	assert_non_null(strstr(xml, "<reg name=\"mstatus\""));
	assert_non_null(strstr(xml, "<reg name=\"priv\""));
	assert_true(len > 20 && !strcmp(xml + len - 10, "</target>\n"));
	/* Past the end; another annex; another object. */
	req_expect(f, "qXfer:features:read:target.xml:100000,10", "l");
	req_expect(f, "qXfer:features:read:other.xml:0,10", "E00");
	req_expect(f, "qXfer:memory-map:read::0,10", "");
	req_expect(f, "vMustReplyEmpty", "");
	req_expect(f, "vCont?", "vCont;c;C;s;S");
	req_expect(f, "qAttached", "1");
}

static void test_registers(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h[0];
	for (unsigned i = 1; i < 32; i++)
		h->x[i] = 0x0101010101010101ull * i + 0xf000000000000000ull;
	h->pc = 0x80001234;
	const char *r = req(f, "g");
	assert_int_equal(strlen(r), 33 * 16);
	assert_int_equal(from_le_hex(r, 8), 0);
	for (unsigned i = 1; i < 32; i++)
		assert_int_equal(from_le_hex(r + 16 * i, 8), h->x[i]);
	assert_int_equal(from_le_hex(r + 16 * 32, 8), 0x80001234);

	/* p: x5, pc, an f register, fcsr (32 bits), CSRs, priv. */
	char want[32];
	le_hex(want, h->x[5], 8);
	req_expect(f, "p5", want);
	le_hex(want, 0x80001234, 8);
	req_expect(f, "p20", want);
	h->f[3] = 0x400921fb54442d18ull;
	le_hex(want, h->f[3], 8);
	req_expect(f, "p24", want); /* 33 + 3 */
	h->fflags = 0x13;
	h->frm = 2;
	h->fs_off = 1; /* FS off: the debugger reads fcsr anyway */
	le_hex(want, 2 << 5 | 0x13, 4);
	req_expect(f, "p44", want); /* 65 + 3 */
	h->mepc = 0x80000abc;
	le_hex(want, 0x80000abc, 8);
	req_expect(f, "p382", want); /* 65 + 0x341 */
	h->priv = PRV_U;             /* an M-mode CSR from U-mode */
	le_hex(want, h->misa, 8);
	req_expect(f, "p342", want); /* 65 + 0x301 */
	le_hex(want, PRV_U, 8);
	req_expect(f, "p1041", want); /* priv */
	h->priv = PRV_M;
	req_expect(f, "p1042", "E01"); /* no such register */
	req_expect(f, "p41", "E01");   /* 65: no CSR 0 */
	req_expect(f, "p1", (le_hex(want, h->x[1], 8), want));

	/* P: x5, x0 (stays zero), pc, an f register, fcsr without touching FS, a CSR, priv. */
	char pkt[64];
	le_hex(want, 0x1122334455667788ull, 8);
	snprintf(pkt, sizeof(pkt), "P5=%s", want);
	req_expect(f, pkt, "OK");
	assert_int_equal(h->x[5], 0x1122334455667788ull);
	snprintf(pkt, sizeof(pkt), "P0=%s", want);
	req_expect(f, pkt, "OK");
	assert_int_equal(from_le_hex(req(f, "p0"), 8), 0);
	le_hex(want, 0x80002000, 8);
	snprintf(pkt, sizeof(pkt), "P20=%s", want);
	req_expect(f, pkt, "OK");
	assert_int_equal(h->pc, 0x80002000);
	le_hex(want, 0x45, 4);
	snprintf(pkt, sizeof(pkt), "P44=%s", want);
	req_expect(f, pkt, "OK");
	assert_int_equal(h->fflags, 5);
	assert_int_equal(h->frm, 2);
	assert_int_equal(h->mstatus & MSTATUS_FS, 0);
	le_hex(want, 0x80000100, 8);
	snprintf(pkt, sizeof(pkt), "P346=%s", want); /* mtvec */
	req_expect(f, pkt, "OK");
	assert_int_equal(h->mtvec, 0x80000100);
	le_hex(want, PRV_S, 8);
	snprintf(pkt, sizeof(pkt), "P1041=%s", want);
	req_expect(f, pkt, "OK");
	assert_int_equal(h->priv, PRV_S);
	le_hex(want, 2, 8);
	snprintf(pkt, sizeof(pkt), "P1041=%s", want); /* no such privilege */
	req_expect(f, pkt, "E01");
	le_hex(want, 1, 8);
	snprintf(pkt, sizeof(pkt), "Pf55=%s", want); /* mhartid: read-only */
	req_expect(f, pkt, "E01");

	/* G: every register of g at once. */
	r = req(f, "g");
	static char g[33 * 16 + 2];
	g[0] = 'G';
	memcpy(g + 1, r, 33 * 16 + 1);
	le_hex(want, 0x7777, 8);
	memcpy(g + 1 + 16 * 7, want, 16);
	le_hex(want, 0x80003000, 8);
	memcpy(g + 1 + 16 * 32, want, 16);
	req_expect(f, g, "OK");
	assert_int_equal(h->x[7], 0x7777);
	assert_int_equal(h->pc, 0x80003000);
	assert_int_equal(h->x[5], 0x1122334455667788ull);
	g[33 * 16] = 0; /* one digit short */
	req_expect(f, g, "E01");
}

/* Sv39 tables: VA 0x1000 -> DATA (S page, no A/D yet), VA 0x2000 unmapped. */
#define PT_ROOT (RAM + 0x100000)
#define PT_L1   (RAM + 0x101000)
#define PT_L0   (RAM + 0x102000)
#define DATA    (RAM + 0x200000)

static void map_sv39(struct fixture *f, struct hart *h)
{
	uint64_t root = (PT_L1 >> 12) << 10 | 1, l1 = (PT_L0 >> 12) << 10 | 1;
	uint64_t leaf = (DATA >> 12) << 10 | 0xf; /* V R W X */
	memcpy(ram(f, PT_ROOT), &root, 8);
	memcpy(ram(f, PT_L1), &l1, 8);
	memcpy(ram(f, PT_L0 + 8), &leaf, 8);
	h->satp = (uint64_t)SATP_MODE_SV39 << SATP_MODE_SHIFT | PT_ROOT >> 12;
	h->priv = PRV_S;
	hart_update_mode(h);
}

static void test_memory_bare(void **state)
{
	struct fixture *f = *state;
	memcpy(ram(f, RAM + 0x1000), "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	req_expect(f, "m80001000,8", "1122334455667788");
	req_expect(f, "m80001000,0", "");
	req_expect(f, "M80001004,4:deadbeef", "OK");
	assert_memory_equal(ram(f, RAM + 0x1000), "\x11\x22\x33\x44\xde\xad\xbe\xef", 8);
	/* X: binary, with '}' escapes ('#' is sent as "}\x03"). */
	const char x[] = "X80001000,3:a}\x03}]";
	send_packet_n(f, x, sizeof(x) - 1);
	assert_string_equal(take_reply_ack(f, true), "OK");
	assert_memory_equal(ram(f, RAM + 0x1000), "a#}", 3);
	req_expect(f, "X80001000,0:", "OK");
	/* Outside RAM (a device, or nothing): E14; a read running off RAM's end is cut short. */
	req_expect(f, "m0,4", "E14");
	req_expect(f, "m10000000,1", "E14");
	req_expect(f, "M0,1:00", "E14");
	memset(ram(f, RAM + RAM_SIZE - 2), 0xab, 2);
	char q[32];
	snprintf(q, sizeof(q), "m%llx,8", (unsigned long long)(RAM + RAM_SIZE - 2));
	req_expect(f, q, "abab");
	/* A write running off RAM writes nothing. */
	snprintf(q, sizeof(q), "M%llx,4:01020304", (unsigned long long)(RAM + RAM_SIZE - 2));
	req_expect(f, q, "E14");
	assert_memory_equal(ram(f, RAM + RAM_SIZE - 2), "\xab\xab", 2);
	/* Large reads are capped, not refused. */
	const char *r = req(f, "m80000000,100000");
	assert_true(strlen(r) > 0 && strlen(r) <= 2 * 8192);
}

static void test_memory_sv39(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h[0];
	map_sv39(f, h);
	memcpy(ram(f, DATA + 0x10), "\xca\xfe\xba\xbe", 4);
	memcpy(ram(f, DATA + 0xffc), "\x01\x02\x03\x04", 4);
	req_expect(f, "m1010,4", "cafebabe");
	/* Unmapped: E14, and the guest saw nothing (no trap taken). */
	uint64_t pc = h->pc, scause = h->scause, mcause = h->mcause;
	req_expect(f, "m2000,4", "E14");
	req_expect(f, "m8000000000,4", "E14"); /* not canonical */
	assert_int_equal(h->pc, pc);
	assert_int_equal(h->scause, scause);
	assert_int_equal(h->mcause, mcause);
	/* Running into the unmapped page: cut short. */
	req_expect(f, "m1ffc,8", "01020304");
	/* Writing: through the mapping; across into the unmapped page: nothing written. */
	req_expect(f, "M1010,2:beef", "OK");
	assert_memory_equal(ram(f, DATA + 0x10), "\xbe\xef\xba\xbe", 4);
	req_expect(f, "M1ffe,4:aaaaaaaa", "E14");
	assert_memory_equal(ram(f, DATA + 0xffc), "\x01\x02\x03\x04", 4);
	/* No A or D bit was set by the debugger's accesses. */
	assert_int_equal(get64(f, PT_L0 + 8) & 0xc0, 0);
	/* The hart in U-mode: the supervisor page is still readable by the debugger. */
	h->priv = PRV_U;
	hart_update_mode(h);
	req_expect(f, "m1010,2", "beef");
	/* In M-mode the same address is physical: not RAM. */
	h->priv = PRV_M;
	hart_update_mode(h);
	req_expect(f, "m1010,2", "E14");
	/* The other hart (bare) reads physical memory: Hg selects it. */
	h->priv = PRV_S;
	hart_update_mode(h);
	req_expect(f, "Hg2", "OK");
	char q[32];
	snprintf(q, sizeof(q), "m%llx,2", (unsigned long long)(DATA + 0x10));
	req_expect(f, q, "beef");
	req_expect(f, "m1010,2", "E14");
}

static void test_single_step(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h[0];
	if (jit_available()) /* stepping stays exact with the translator present */
		assert_int_equal(jit_init(h, JIT_CACHE_MIN), 0);
	put32(f, RAM, ADDI_A0_1);
	put32(f, RAM + 4, ADDI_A0_1);
	put32(f, RAM + 8, C_ADDI_A0 | (uint32_t)C_ADDI_A0 << 16);
	put32(f, RAM + 12, ADDI_A0_1);
	uint64_t instret = h->instret;
	req_expect(f, "s", "T05thread:1;");
	assert_int_equal(h->pc, RAM + 4);
	assert_int_equal(h->x[10], 1);
	assert_int_equal(h->instret, instret + 1);
	req_expect(f, "vCont;s:1;c", "T05thread:1;");
	assert_int_equal(h->pc, RAM + 8);
	req_expect(f, "vCont;s:p1.1", "T05thread:1;"); /* multiprocess form */
	assert_int_equal(h->pc, RAM + 10);             /* a compressed instruction */
	assert_int_equal(h->x[10], 3);
	req_expect(f, "s", "T05thread:1;");
	assert_int_equal(h->pc, RAM + 12);
	assert_int_equal(h->x[10], 4);
	assert_int_equal(h->instret, instret + 4);
	/* s ADDR steps from there. */
	req_expect(f, "s80000000", "T05thread:1;");
	assert_int_equal(h->pc, RAM + 4);
	assert_int_equal(h->x[10], 5);
	/* Step the other hart: only it moves. */
	struct hart *h1 = &f->h[1];
	req_expect(f, "vCont;s:2;c", "T05thread:2;");
	assert_int_equal(h1->pc, RAM + 4);
	assert_int_equal(h1->x[10], 1);
	assert_int_equal(h->pc, RAM + 4);
	req_expect(f, "qC", "QC2");
	/* An instruction that traps: the pc goes to the vector. */
	put32(f, RAM + 0x100, 0); /* illegal */
	h->pc = RAM + 0x100;
	h->mtvec = RAM + 0x200;
	req_expect(f, "Hc1", "OK");
	req_expect(f, "s", "T05thread:1;");
	assert_int_equal(h->pc, RAM + 0x200);
	assert_int_equal(h->mcause, CAUSE_ILLEGAL_INSTRUCTION);
	assert_int_equal(h->mepc, RAM + 0x100);
	/* The target was never resumed for a step. */
	assert_int_equal(f->resumes, 0);
}

/* A loop on hart 0: three addi, a store of a0 to 0(a1), a jump back. */
static void load_loop(struct fixture *f)
{
	put32(f, RAM, ADDI_A0_1);
	put32(f, RAM + 4, ADDI_A0_1);
	put32(f, RAM + 8, ADDI_A0_1);
	put32(f, RAM + 12, SD_A0_A1);
	put32(f, RAM + 16, J_MINUS_16);
	f->h[0].x[11] = RAM + 0x3000;
	f->h[1].pc = RAM + 0x2000; /* hart 1 stays parked, never runs */
	atomic_store(&f->h[1].stopped, 1);
}

/* Wait for the stub's event (a hart stopped) and let it report. */
static const char *wait_stop(struct fixture *f)
{
	struct pollfd p = {gdbstub_event_fd(f->stub), POLLIN, 0};
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_true(gdbstub_poll(f->stub));
	return take_reply_ack(f, false);
}

static void test_breakpoint(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h[0];
	if (jit_available())
		assert_int_equal(jit_init(h, JIT_CACHE_MIN), 0);
	load_loop(f);
	start_thread(f);
	req_expect(f, "Z0,80000008,4", "OK");
	assert_true(h->debug->active);
	send_packet(f, "c");
	assert_string_equal(take_raw(f), "+"); /* no reply until it stops */
	assert_true(gdbstub_running(f->stub));
	assert_string_equal(wait_stop(f), "T05thread:1;");
	assert_false(gdbstub_running(f->stub));
	/* Stopped before the instruction at the breakpoint: two addi ran. */
	assert_int_equal(h->pc, RAM + 8);
	assert_int_equal(h->x[10], 2);
	char want[32];
	le_hex(want, RAM + 8, 8);
	req_expect(f, "p20", want);
	/* Step over it (as GDB does), continue: the next round stops there again. */
	req_expect(f, "z0,80000008,4", "OK");
	req_expect(f, "s", "T05thread:1;");
	assert_int_equal(h->pc, RAM + 12);
	req_expect(f, "Z1,80000008,4", "OK"); /* a hardware breakpoint: the same check */
	send_packet(f, "vCont;c");
	take_raw(f);
	assert_string_equal(wait_stop(f), "T05thread:1;");
	assert_int_equal(h->pc, RAM + 8);
	assert_int_equal(h->x[10], 5);
	req_expect(f, "z1,80000008,4", "OK");
	req_expect(f, "z1,80000008,4", "E02"); /* not there any more */
	assert_false(h->debug->active);
	/* Without breakpoints: ^C stops it with SIGINT, wherever it is. */
	send_packet(f, "c");
	take_raw(f);
	feed_str(f, "\x03");
	assert_string_equal(take_reply_ack(f, false), "T02thread:1;");
	assert_true(h->pc >= RAM && h->pc <= RAM + 16);
	assert_int_equal(f->stops, f->resumes + 1);
}

static void test_watchpoints(void **state)
{
	struct fixture *f = *state;
	struct hart *h = &f->h[0];
	load_loop(f);
	/* The page is in the data TLB already: the watchpoint must still be seen. */
	req_expect(f, "s80000000", "T05thread:1;");
	h->pc = RAM + 12;
	req_expect(f, "s", "T05thread:1;"); /* sd through the slow path, filling the TLB */
	assert_int_equal(get64(f, RAM + 0x3000), 1);
	assert_int_equal(h->pc, RAM + 16);
	start_thread(f);
	/* A write watchpoint on 4 bytes in the middle of the stored doubleword. */
	req_expect(f, "Z2,80003004,4", "OK");
	send_packet(f, "c");
	take_raw(f);
	assert_string_equal(wait_stop(f), "T05thread:1;watch:80003004;");
	/* Stopped before the store: it has had no effect yet. */
	assert_int_equal(h->pc, RAM + 12);
	assert_int_equal(h->x[10], 4);
	assert_int_equal(get64(f, RAM + 0x3000), 1);
	/* A step with the watchpoint still set stops again there, the store not made. */
	req_expect(f, "s", "T05thread:1;watch:80003004;");
	assert_int_equal(h->pc, RAM + 12);
	/* Removed: the step makes the store. */
	req_expect(f, "z2,80003004,4", "OK");
	req_expect(f, "s", "T05thread:1;");
	assert_int_equal(get64(f, RAM + 0x3000), 4);
	/* A read watchpoint is not hit by stores; an access one is. */
	req_expect(f, "Z3,80003000,8", "OK");
	req_expect(f, "Z4,80003008,8", "OK");
	req_expect(f, "z4,80003008,8", "OK");
	req_expect(f, "Z4,80003000,1", "OK");
	send_packet(f, "c");
	take_raw(f);
	assert_string_equal(wait_stop(f), "T05thread:1;awatch:80003000;");
	assert_int_equal(h->pc, RAM + 12);
	req_expect(f, "z4,80003000,1", "OK");
	req_expect(f, "z3,80003000,8", "OK");
	/* A load, stepped: a read watchpoint. */
	put32(f, RAM + 0x100, LD_A2_A1);
	h->pc = RAM + 0x100;
	req_expect(f, "Z3,80003000,8", "OK");
	req_expect(f, "s", "T05thread:1;rwatch:80003000;");
	assert_int_equal(h->pc, RAM + 0x100);
	req_expect(f, "z3,80003000,8", "OK");
	req_expect(f, "s", "T05thread:1;");
	assert_int_equal(h->x[12], 4); /* the store of 7 was abandoned at the watchpoint */
	/* Bad sizes and kinds. */
	req_expect(f, "Z2,80003000,0", "E22");
	req_expect(f, "Z5,80003000,4", "");
	req_expect(f, "z2,80003000,8", "E02");
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	f->h[0].x[10] = 100;
	f->h[1].x[10] = 200;
	req_expect(f, "qfThreadInfo", "m1,2");
	req_expect(f, "qsThreadInfo", "l");
	req_expect(f, "qC", "QC1");
	req_expect(f, "T1", "OK");
	req_expect(f, "T2", "OK");
	req_expect(f, "T3", "E01");
	req_expect(f, "T0", "E01");
	req_expect(f, "Hg2", "OK");
	char want[32];
	le_hex(want, 200, 8);
	req_expect(f, "pa", want);
	req_expect(f, "qC", "QC2");
	req_expect(f, "Hg0", "OK"); /* any: the current thread */
	le_hex(want, 100, 8);
	req_expect(f, "pa", want);
	req_expect(f, "Hgp1.2", "OK");
	le_hex(want, 200, 8);
	req_expect(f, "pa", want);
	req_expect(f, "Hg-1", "OK");
	req_expect(f, "Hg3", "E01");
	req_expect(f, "Hx1", "E01");
	const char *r = req(f, "qThreadExtraInfo,2");
	char text[64] = "";
	for (size_t i = 0; r[2 * i] && i < sizeof(text) - 1; i++)
		text[i] = (char)from_le_hex(r + 2 * i, 1);
	assert_string_equal(text, "hart 1, M-mode");
	req_expect(f, "qThreadExtraInfo,9", "E01");
}

static void test_malformed_commands(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
	    "m",
	    "mzz,4",
	    "m1,",
	    "m1,4x",
	    "m11111111111111111,4",
	    "M80000000,4:zz",
	    "M80000000,4:00",
	    "M80000000,1:0011",
	    "M80000000",
	    "X80000000,2:a",
	    "Xzz",
	    "p",
	    "pzz",
	    "P20=12",
	    "P20",
	    "Pzz=00",
	    "G00",
	    "Z0,",
	    "Z0,1",
	    "Z0,1,4x",
	    "z",
	    "H",
	    "Hg",
	    "Hgzz",
	    "vCont;x",
	    "vCont;",
	    "vCont;s:9",
	    "vCont;c:zz",
	    "c80000000x",
	    "Cxx",
	    "s;",
	    "qThreadExtraInfo,zz",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *r = req(f, bad[i]);
		if (r[0] != 'E')
			fail_msg("'%s' answered '%s', not an error", bad[i], r);
	}
	/* Unknown commands are unsupported (an empty reply), and so is an empty packet. */
	req_expect(f, "", "");
	req_expect(f, "!", "");
	req_expect(f, "qUnknown", "");
	req_expect(f, "vUnknown", "");
	req_expect(f, "QUnknown", "");
	/* Binary junk in a packet, NULs included. */
	send_packet_n(f, "m\0\xff\x80", 4);
	assert_string_equal(take_reply_ack(f, true), "E01");
	/* Nothing moved and the stub still works. */
	assert_int_equal(f->resumes, 0);
	req_expect(f, "?", "T05thread:1;");
}

static void test_detach_and_kill(void **state)
{
	struct fixture *f = *state;
	req_expect(f, "Z0,80000000,4", "OK");
	req_expect(f, "Z2,80003000,8", "OK");
	assert_true(f->h[1].debug->active);
	req_expect(f, "D", "OK");
	/* Detached: no breakpoint left, the target resumed. */
	assert_false(f->h[0].debug->active);
	assert_int_equal(f->h[0].debug->nbp + f->h[0].debug->nwp, 0);
	assert_int_equal(f->resumes, 1);
	assert_false(gdbstub_running(f->stub));
	/* A packet after detaching stops the target again. */
	req_expect(f, "?", "T05thread:1;");
	assert_int_equal(f->stops, 2);
	/* The client goes away: the target runs on. */
	gdbstub_detach(f->stub);
	assert_int_equal(f->resumes, 2);
	/* A new client; kill. */
	gdbstub_attach(f->stub);
	send_packet(f, "k");
	assert_string_equal(take_raw(f), "+");
	assert_int_equal(f->kills, 1);
	req_expect(f, "vKill;1", "OK");
	assert_int_equal(f->kills, 2);
	/* The VM ended: W with its status. */
	gdbstub_exited(f->stub, 3);
	assert_string_equal(take_reply_ack(f, false), "W03");
}

/* Random input, framed and unframed, much of it starting like a real command: no crash (under
 * the sanitizers too), no hang, and the stub still answers afterwards. */
static void test_random_input(void **state)
{
	struct fixture *f = *state;
	static const char *const prefixes[] = {"",
					       "m",
					       "M",
					       "X",
					       "p",
					       "P",
					       "G",
					       "g",
					       "Z0,",
					       "z0,",
					       "Z2,",
					       "Z4,",
					       "z3,",
					       "H",
					       "Hg",
					       "Hc",
					       "T",
					       "c",
					       "s",
					       "C",
					       "S",
					       "vCont;",
					       "vCont;s:",
					       "vCont;c:",
					       "qXfer:features:read:target.xml:",
					       "qThreadExtraInfo,",
					       "?",
					       "q",
					       "Q"};
	static const char tail[] = "0123456789abcdef,:;=-.p}*#$+ \x03";
	static char pkt[600];
	uint64_t r = 0x9e3779b97f4a7c15ull;
	for (int iter = 0; iter < 50000; iter++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		const char *pre = prefixes[(r >> 33) % (sizeof(prefixes) / sizeof(prefixes[0]))];
		size_t len = strlen(pre), n = (r >> 20) % 64;
		memcpy(pkt, pre, len);
		for (size_t i = 0; i < n; i++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			pkt[len++] =
			    (r >> 61) ? tail[(r >> 33) % (sizeof(tail) - 1)] : (char)(r >> 40);
		}
		if (r & (1ull << 10))
			send_packet_n(f, pkt, len);
		else
			feed(f, pkt, len);
		f->out_len = 0;
		f->h[0].pc = f->h[1].pc = RAM; /* keep the harts on RAM */
	}
	assert_int_equal(f->kills, 0);
	send_packet(f, "qC");
	const char *out = take_raw(f);
	assert_non_null(strstr(out, "$QC"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rx_checksum_and_frame),
	    cmocka_unit_test(test_rx_bad_checksum),
	    cmocka_unit_test(test_rx_acks_interrupt_and_noise),
	    cmocka_unit_test(test_rx_truncated),
	    cmocka_unit_test(test_rx_overlong),
	    cmocka_unit_test(test_rx_run_length_and_escapes),
	    cmocka_unit_test_setup_teardown(test_acks_nak_and_noack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_supported_and_target_xml, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_bare, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_sv39, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_single_step, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_breakpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watchpoints, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_commands, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_detach_and_kill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_input, setup, teardown),
	};
	return cmocka_run_group_tests_name("gdbstub", tests, NULL, NULL);
}
