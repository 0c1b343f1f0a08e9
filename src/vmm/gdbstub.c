/* The GDB remote stub: packet framing, the protocol's commands against the harts, and a TCP
 * server thread. See gdbstub.h for the design; the protocol is the GDB manual's appendix
 * "GDB Remote Serial Protocol" (packets, stop replies, general queries, target descriptions,
 * packet acknowledgment). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "host/seccomp.h"
#include "mem/guest_mem.h"
#include "vmm/gdbstub.h"
#include "vmm/vm.h"

/* ---- packet layer ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void gdb_rx_init(struct gdb_rx *rx)
{
	rx->state = GDB_RX_IDLE;
	rx->len = 0;
	rx->buf[0] = 0;
}

/* Append one data byte (dropped past the limit, which makes the packet overlong). */
static void rx_put(struct gdb_rx *rx, char c)
{
	if (rx->len < GDB_PACKET_MAX)
		rx->buf[rx->len++] = c;
	else
		rx->overlong = true;
}

static void rx_start(struct gdb_rx *rx)
{
	rx->state = GDB_RX_DATA;
	rx->sum = 0;
	rx->len = 0;
	rx->esc = false;
	rx->overlong = false;
	rx->bad_hex = false;
}

enum gdb_rx_event gdb_rx_feed(struct gdb_rx *rx, uint8_t c)
{
	switch (rx->state) {
	case GDB_RX_IDLE:
		if (c == '$')
			rx_start(rx);
		else if (c == '+')
			return GDB_RX_ACK;
		else if (c == '-')
			return GDB_RX_NAK;
		else if (c == 0x03)
			return GDB_RX_INTERRUPT;
		return GDB_RX_NONE; /* anything else between packets is noise */
	case GDB_RX_DATA:
		if (c == '$') { /* a new packet: the one before was truncated */
			rx_start(rx);
			return GDB_RX_NONE;
		}
		if (c == '#') {
			rx->state = GDB_RX_SUM1;
			return GDB_RX_NONE;
		}
		rx->sum += c;
		if (c == '*' && !rx->esc && rx->len > 0) {
			rx->state = GDB_RX_RUN;
			return GDB_RX_NONE;
		}
		rx->esc = c == '}' && !rx->esc;
		rx_put(rx, (char)c);
		return GDB_RX_NONE;
	case GDB_RX_RUN: {
		if (c == '$') {
			rx_start(rx);
			return GDB_RX_NONE;
		}
		if (c == '#') { /* a '*' with no count: keep it as data */
			rx_put(rx, '*');
			rx->state = GDB_RX_SUM1;
			return GDB_RX_NONE;
		}
		rx->sum += c;
		/* The count is c - 29 more copies of the byte before the '*'. */
		char prev = rx->len ? rx->buf[rx->len - 1] : 0;
		int n = (int)c - 29;
		for (int i = 0; i < n; i++)
			rx_put(rx, prev);
		rx->esc = false;
		rx->state = GDB_RX_DATA;
		return GDB_RX_NONE;
	}
	case GDB_RX_SUM1:
	case GDB_RX_SUM2: {
		int v = hexval(c);
		if (v < 0)
			rx->bad_hex = true;
		if (rx->state == GDB_RX_SUM1) {
			rx->want = (uint8_t)(v < 0 ? 0 : v << 4);
			rx->state = GDB_RX_SUM2;
			return GDB_RX_NONE;
		}
		rx->want |= (uint8_t)(v < 0 ? 0 : v);
		rx->state = GDB_RX_IDLE;
		rx->buf[rx->len] = 0;
		if (rx->bad_hex || rx->want != rx->sum)
			return GDB_RX_BAD_CHECKSUM;
		return rx->overlong ? GDB_RX_OVERLONG : GDB_RX_PACKET;
	}
	}
	return GDB_RX_NONE;
}

size_t gdb_frame(char *out, size_t cap, const char *data, size_t len)
{
	if (len + 4 > cap)
		return 0;
	uint8_t sum = 0;
	out[0] = '$';
	for (size_t i = 0; i < len; i++) {
		out[1 + i] = data[i];
		sum += (uint8_t)data[i];
	}
	static const char hex[] = "0123456789abcdef";
	out[len + 1] = '#';
	out[len + 2] = hex[sum >> 4];
	out[len + 3] = hex[sum & 15];
	return len + 4;
}

/* ---- the target description (GDB manual, "Target Descriptions"; RISC-V features) ---- */

/* GDB's own register numbering for RISC-V: x0-x31 0-31, pc 32, f0-f31 33-64, CSR n at 65 + n
 * (fflags 66, frm 67, fcsr 68), the virtual 'priv' at 65 + 4096. 'p' and 'P' use these. */
#define REG_PC   32
#define REG_F0   33
#define REG_CSR0 65
#define REG_PRIV (REG_CSR0 + 4096)
#define G_REGS   33   /* the 'g' packet: x0-x31 and pc; GDB asks for the rest with 'p' */
#define MAX_XFER 8192 /* bytes of memory one 'm' reply carries at most */

/* The CSRs listed in the description's org.gnu.gdb.riscv.csr: those csr.c implements that a
 * kernel developer looks at. */
static const struct {
	uint16_t num;
	const char *name;
} csr_list[] = {
    {CSR_SSTATUS, "sstatus"},
    {CSR_SIE, "sie"},
    {CSR_STVEC, "stvec"},
    {CSR_SCOUNTEREN, "scounteren"},
    {CSR_SENVCFG, "senvcfg"},
    {CSR_SSCRATCH, "sscratch"},
    {CSR_SEPC, "sepc"},
    {CSR_SCAUSE, "scause"},
    {CSR_STVAL, "stval"},
    {CSR_SIP, "sip"},
    {CSR_STIMECMP, "stimecmp"},
    {CSR_SATP, "satp"},
    {CSR_MSTATUS, "mstatus"},
    {CSR_MISA, "misa"},
    {CSR_MEDELEG, "medeleg"},
    {CSR_MIDELEG, "mideleg"},
    {CSR_MIE, "mie"},
    {CSR_MTVEC, "mtvec"},
    {CSR_MCOUNTEREN, "mcounteren"},
    {CSR_MENVCFG, "menvcfg"},
    {CSR_MCOUNTINHIBIT, "mcountinhibit"},
    {CSR_MSCRATCH, "mscratch"},
    {CSR_MEPC, "mepc"},
    {CSR_MCAUSE, "mcause"},
    {CSR_MTVAL, "mtval"},
    {CSR_MIP, "mip"},
    {CSR_PMPCFG0, "pmpcfg0"},
    {CSR_PMPADDR0, "pmpaddr0"},
    {CSR_MCYCLE, "mcycle"},
    {CSR_MINSTRET, "minstret"},
    {CSR_CYCLE, "cycle"},
    {CSR_TIME, "time"},
    {CSR_INSTRET, "instret"},
    {CSR_MVENDORID, "mvendorid"},
    {CSR_MARCHID, "marchid"},
    {CSR_MIMPID, "mimpid"},
    {CSR_MHARTID, "mhartid"},
};
#define NCSRS (sizeof(csr_list) / sizeof(csr_list[0]))

static const char *const xnames[32] = {
    "zero", "ra", "sp", "gp", "tp",  "t0",  "t1", "t2", "fp", "s1", "a0",
    "a1",   "a2", "a3", "a4", "a5",  "a6",  "a7", "s2", "s3", "s4", "s5",
    "s6",   "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};
static const char *const fnames[32] = {
    "ft0", "ft1", "ft2", "ft3", "ft4",  "ft5",  "ft6", "ft7", "fs0",  "fs1",  "fa0",
    "fa1", "fa2", "fa3", "fa4", "fa5",  "fa6",  "fa7", "fs2", "fs3",  "fs4",  "fs5",
    "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
};

static bool csr_listed(unsigned num)
{
	for (size_t i = 0; i < NCSRS; i++)
		if (csr_list[i].num == num)
			return true;
	return false;
}

struct strbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = b->failed ? 0 : vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (b->failed || n < 0)
			return;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* target.xml: architecture riscv:rv64 and the features cpu, fpu, csr and virtual. */
static char *make_target_xml(size_t *len)
{
	struct strbuf b = {malloc(4096), 0, 4096, false};
	if (!b.p)
		return NULL;
	sb_printf(&b, "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
		      "<target version=\"1.0\">\n<architecture>riscv:rv64</architecture>\n"
		      "<feature name=\"org.gnu.gdb.riscv.cpu\">\n");
	for (unsigned i = 0; i < 32; i++)
		sb_printf(&b, "<reg name=\"%s\" bitsize=\"64\" type=\"%s\" regnum=\"%u\"/>\n",
			  xnames[i],
			  i == 1             ? "code_ptr"
			  : i == 2 || i == 8 ? "data_ptr"
					     : "int",
			  i);
	sb_printf(&b,
		  "<reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\" regnum=\"%d\"/>\n"
		  "</feature>\n<feature name=\"org.gnu.gdb.riscv.fpu\">\n"
		  "<union id=\"riscv_double\"><field name=\"float\" type=\"ieee_single\"/>"
		  "<field name=\"double\" type=\"ieee_double\"/></union>\n",
		  REG_PC);
	for (unsigned i = 0; i < 32; i++)
		sb_printf(&b,
			  "<reg name=\"%s\" bitsize=\"64\" type=\"riscv_double\" regnum=\"%u\"/>\n",
			  fnames[i], REG_F0 + i);
	sb_printf(&b,
		  "<reg name=\"fflags\" bitsize=\"32\" type=\"int\" regnum=\"%d\"/>\n"
		  "<reg name=\"frm\" bitsize=\"32\" type=\"int\" regnum=\"%d\"/>\n"
		  "<reg name=\"fcsr\" bitsize=\"32\" type=\"int\" regnum=\"%d\"/>\n"
		  "</feature>\n<feature name=\"org.gnu.gdb.riscv.csr\">\n",
		  REG_CSR0 + CSR_FFLAGS, REG_CSR0 + CSR_FRM, REG_CSR0 + CSR_FCSR);
	/* In register-number order, as GDB numbers registers without a regnum from the last. */
	unsigned last = 0;
	for (;;) {
		unsigned next = ~0u;
		const char *name = NULL;
		for (size_t i = 0; i < NCSRS; i++) {
			if (csr_list[i].num > last && csr_list[i].num < next) {
				next = csr_list[i].num;
				name = csr_list[i].name;
			}
		}
		if (!name)
			break;
		sb_printf(&b, "<reg name=\"%s\" bitsize=\"64\" type=\"int\" regnum=\"%u\"/>\n",
			  name, REG_CSR0 + next);
		last = next;
	}
	sb_printf(&b,
		  "</feature>\n<feature name=\"org.gnu.gdb.riscv.virtual\">\n"
		  "<reg name=\"priv\" bitsize=\"64\" type=\"int\" regnum=\"%d\"/>\n"
		  "</feature>\n</target>\n",
		  REG_PRIV);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* ---- the protocol core ---- */

#define OUT_MAX (2 * MAX_XFER + 64) /* reply data before framing */

struct gdbstub {
	struct gdb_target t;
	struct hart_debug dbg;
	uint8_t bp_type[HART_DEBUG_BREAKPOINTS]; /* 0 (Z0) or 1 (Z1) for dbg.bp[i] */
	struct gdb_rx rx;
	bool attached;
	bool held;    /* the stub holds every hart parked */
	bool running; /* the client continued and waits for a stop reply */
	bool noack;   /* QStartNoAckMode: no '+'/'-' either way */
	int cur;      /* the hart of the last stop: GDB's current thread */
	int gthread;  /* Hg: hart for registers and memory, or -1 for cur */
	int cthread;  /* Hc: hart to step, or -1 for cur */
	char stop_reply[128];
	char out[OUT_MAX];
	char last[OUT_MAX + 8]; /* the last framed reply, for '-' */
	size_t last_len;
	char *xml;
	size_t xml_len;
	int evfd;
	pthread_mutex_t ev_lock;
	struct {
		bool valid;
		unsigned hart;
		enum hart_debug_event ev;
		uint64_t addr;
		enum hart_watch_kind kind;
	} pending; /* a stop a hart reported (under ev_lock) */
};

static void send_raw(struct gdbstub *s, const char *buf, size_t n)
{
	s->t.send(s->t.opaque, buf, n);
}

/* Send data as one packet (kept for a retransmission). */
static void reply_n(struct gdbstub *s, const char *data, size_t len)
{
	size_t n = gdb_frame(s->last, sizeof(s->last), data, len);
	if (!n) /* cannot happen: replies are bounded by OUT_MAX */
		n = gdb_frame(s->last, sizeof(s->last), "E01", 3);
	s->last_len = n;
	send_raw(s, s->last, n);
}

static void reply(struct gdbstub *s, const char *text)
{
	reply_n(s, text, strlen(text));
}

static void replyf(struct gdbstub *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void replyf(struct gdbstub *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s->out, sizeof(s->out), fmt, ap);
	va_end(ap);
	reply_n(s, s->out, n < 0 ? 0 : (size_t)n < sizeof(s->out) ? (size_t)n : sizeof(s->out) - 1);
}

/* Called on a hart's thread (struct hart_debug's stop): note the first stop, stop the other
 * harts at once (the stub thread then waits for all of them) and wake the stub thread. */
static void on_hart_stop(void *opaque, struct hart *h, enum hart_debug_event ev, uint64_t addr,
			 enum hart_watch_kind kind)
{
	struct gdbstub *s = opaque;
	unsigned idx = (unsigned)(h - s->t.harts);
	pthread_mutex_lock(&s->ev_lock);
	if (!s->pending.valid) {
		s->pending.valid = true;
		s->pending.hart = idx;
		s->pending.ev = ev;
		s->pending.addr = addr;
		s->pending.kind = kind;
	}
	pthread_mutex_unlock(&s->ev_lock);
	for (unsigned i = 0; i < s->t.nharts; i++)
		if (i != idx)
			hart_set_paused(&s->t.harts[i], true, false);
	uint64_t one = 1;
	ssize_t w = write(s->evfd, &one, sizeof(one));
	(void)w; /* the counter only saturates: a wake-up is never lost */
}

struct gdbstub *gdbstub_new(const struct gdb_target *t)
{
	struct gdbstub *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->t = *t;
	s->xml = make_target_xml(&s->xml_len);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!s->xml || s->evfd < 0) {
		if (s->evfd >= 0)
			close(s->evfd);
		free(s->xml);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->ev_lock, NULL);
	s->dbg.stop = on_hart_stop;
	s->dbg.opaque = s;
	s->gthread = s->cthread = -1;
	gdb_rx_init(&s->rx);
	for (unsigned i = 0; i < t->nharts; i++)
		t->harts[i].debug = &s->dbg;
	return s;
}

void gdbstub_free(struct gdbstub *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->t.nharts; i++)
		s->t.harts[i].debug = NULL;
	close(s->evfd);
	pthread_mutex_destroy(&s->ev_lock);
	free(s->xml);
	free(s);
}

int gdbstub_event_fd(const struct gdbstub *s)
{
	return s->evfd;
}

bool gdbstub_running(const struct gdbstub *s)
{
	return s->running;
}

/* Every hart's caches after a change of breakpoints, watchpoints, registers or memory. */
static void sync_harts(struct gdbstub *s)
{
	for (unsigned i = 0; i < s->t.nharts; i++)
		hart_debug_sync(&s->t.harts[i]);
}

static void stop_target(struct gdbstub *s)
{
	if (!s->held)
		s->t.stop(s->t.opaque);
	s->held = true;
	s->running = false;
}

static void resume_target(struct gdbstub *s)
{
	pthread_mutex_lock(&s->ev_lock);
	s->pending.valid = false;
	pthread_mutex_unlock(&s->ev_lock);
	s->held = false;
	s->t.resume(s->t.opaque);
}

static unsigned tid_of(int hart)
{
	return (unsigned)hart + 1;
}

/* The stop reply for a stop of hart (signal sig; a watchpoint's kind and address, or 0),
 * which becomes the current thread; kept for '?'. */
static void report_stop(struct gdbstub *s, unsigned hart, unsigned sig, enum hart_watch_kind wk,
			uint64_t waddr)
{
	s->cur = (int)hart;
	s->gthread = s->cthread = -1;
	if (wk)
		snprintf(s->stop_reply, sizeof(s->stop_reply), "T%02xthread:%x;%s:%llx;", sig,
			 tid_of((int)hart),
			 wk == HART_WATCH_WRITE  ? "watch"
			 : wk == HART_WATCH_READ ? "rwatch"
						 : "awatch",
			 (unsigned long long)waddr);
	else
		snprintf(s->stop_reply, sizeof(s->stop_reply), "T%02xthread:%x;", sig,
			 tid_of((int)hart));
	reply(s, s->stop_reply);
}

/* After stopping the target: the stop a hart reported, if any, else sig on the current
 * thread. */
static void report_pending(struct gdbstub *s, unsigned sig)
{
	pthread_mutex_lock(&s->ev_lock);
	bool valid = s->pending.valid;
	unsigned hart = s->pending.hart;
	enum hart_watch_kind wk = s->pending.ev == HART_DEBUG_WATCHPOINT ? s->pending.kind : 0;
	uint64_t addr = s->pending.addr;
	s->pending.valid = false;
	pthread_mutex_unlock(&s->ev_lock);
	if (valid)
		report_stop(s, hart, 5, wk, addr);
	else
		report_stop(s, (unsigned)s->cur, sig, 0, 0);
}

bool gdbstub_poll(struct gdbstub *s)
{
	uint64_t v;
	ssize_t r = read(s->evfd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&s->ev_lock);
	bool valid = s->pending.valid;
	pthread_mutex_unlock(&s->ev_lock);
	if (!s->running || !valid)
		return false;
	stop_target(s);
	report_pending(s, 5);
	return true;
}

static void clear_points(struct gdbstub *s)
{
	bool had_watch = s->dbg.nwp > 0;
	s->dbg.nbp = s->dbg.nwp = 0;
	s->dbg.active = false;
	if (had_watch)
		sync_harts(s);
}

void gdbstub_attach(struct gdbstub *s)
{
	s->attached = true;
	s->noack = false;
	s->last_len = 0;
	gdb_rx_init(&s->rx);
	s->held = false; /* whatever held it before (--gdb-wait), wait until every hart parks */
	stop_target(s);
	pthread_mutex_lock(&s->ev_lock);
	s->pending.valid = false;
	pthread_mutex_unlock(&s->ev_lock);
	s->cur = 0;
	s->gthread = s->cthread = -1;
	snprintf(s->stop_reply, sizeof(s->stop_reply), "T05thread:%x;", tid_of(0));
}

void gdbstub_detach(struct gdbstub *s)
{
	if (s->held || s->dbg.active) {
		stop_target(s); /* the breakpoints change only with every hart parked */
		clear_points(s);
		resume_target(s);
	}
	s->running = false;
	s->attached = false;
}

void gdbstub_exited(struct gdbstub *s, int status)
{
	if (!s->attached)
		return;
	char buf[8];
	snprintf(buf, sizeof(buf), "W%02x", (unsigned)status & 0xff);
	reply(s, buf);
}

/* ---- parsing the client's fields: every one bounded, every failure an error reply ---- */

struct cursor {
	const char *p, *end;
};

/* A hex number of 1 to 16 digits. */
static bool get_hex(struct cursor *c, uint64_t *v)
{
	uint64_t x = 0;
	int n = 0;
	while (c->p < c->end && hexval((unsigned char)*c->p) >= 0) {
		if (++n > 16)
			return false;
		x = x << 4 | (uint64_t)hexval((unsigned char)*c->p++);
	}
	*v = x;
	return n > 0;
}

static bool get_char(struct cursor *c, char ch)
{
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static bool at_end(const struct cursor *c)
{
	return c->p == c->end;
}

/* A thread id: "-1" (all: -2 here), "0" (any: -1), a hex id (its hart), or the multiprocess
 * form "pPID.TID". Returns false for a malformed or unknown thread. */
static bool get_thread(struct gdbstub *s, struct cursor *c, int *hart)
{
	if (get_char(c, 'p')) { /* the process: there is one */
		uint64_t pid;
		if (get_char(c, '-') ? !get_char(c, '1') : !get_hex(c, &pid))
			return false;
		if (!get_char(c, '.')) { /* the whole process: every thread */
			*hart = -2;
			return true;
		}
	}
	if (get_char(c, '-')) {
		if (!get_char(c, '1'))
			return false;
		*hart = -2;
		return true;
	}
	uint64_t tid;
	if (!get_hex(c, &tid))
		return false;
	if (tid == 0) {
		*hart = -1;
		return true;
	}
	if (tid > s->t.nharts)
		return false;
	*hart = (int)tid - 1;
	return true;
}

/* The hart a register or memory command works on. */
static struct hart *ghart(struct gdbstub *s)
{
	return &s->t.harts[s->gthread >= 0 ? s->gthread : s->cur];
}

/* ---- registers ---- */

/* Register n of h: its value and size in bytes (8, or 4 for fflags, frm, fcsr). */
static bool reg_read(struct hart *h, uint64_t n, uint64_t *v, unsigned *size)
{
	*size = 8;
	if (n < 32) {
		*v = n ? h->x[n] : 0;
	} else if (n == REG_PC) {
		*v = h->pc;
	} else if (n >= REG_F0 && n < REG_F0 + 32) {
		*v = h->f[n - REG_F0];
	} else if (n == REG_CSR0 + CSR_FFLAGS || n == REG_CSR0 + CSR_FRM ||
		   n == REG_CSR0 + CSR_FCSR) {
		*size = 4;
		return csr_debug_read(h, (unsigned)(n - REG_CSR0), v);
	} else if (n == REG_PRIV) {
		*v = h->priv;
	} else if (n > REG_CSR0 && n < REG_PRIV && csr_listed((unsigned)(n - REG_CSR0))) {
		return csr_debug_read(h, (unsigned)(n - REG_CSR0), v);
	} else {
		return false;
	}
	return true;
}

static bool reg_write(struct hart *h, uint64_t n, uint64_t v)
{
	if (n < 32) {
		if (n)
			h->x[n] = v;
	} else if (n == REG_PC) {
		h->pc = h->pc_next = v & ~1ull;
	} else if (n >= REG_F0 && n < REG_F0 + 32) {
		h->f[n - REG_F0] = v;
	} else if (n == REG_PRIV) {
		if (v != PRV_U && v != PRV_S && v != PRV_M)
			return false;
		h->priv = (uint8_t)v;
		hart_update_mode(h);
	} else if (n >= REG_CSR0 && n < REG_PRIV &&
		   (csr_listed((unsigned)(n - REG_CSR0)) || n == REG_CSR0 + CSR_FFLAGS ||
		    n == REG_CSR0 + CSR_FRM || n == REG_CSR0 + CSR_FCSR)) {
		return csr_debug_write(h, (unsigned)(n - REG_CSR0), v);
	} else {
		return false;
	}
	return true;
}

/* size bytes of v, little-endian, as hex at out. */
static void put_le(char *out, uint64_t v, unsigned size)
{
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < size; i++) {
		uint8_t b = (uint8_t)(v >> (8 * i));
		out[2 * i] = hex[b >> 4];
		out[2 * i + 1] = hex[b & 15];
	}
}

/* size bytes little-endian from 2 * size hex digits at c. */
static bool get_le(struct cursor *c, unsigned size, uint64_t *v)
{
	if ((size_t)(c->end - c->p) < 2 * (size_t)size)
		return false;
	uint64_t x = 0;
	for (unsigned i = 0; i < size; i++) {
		int hi = hexval((unsigned char)c->p[2 * i]),
		    lo = hexval((unsigned char)c->p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		x |= (uint64_t)(hi << 4 | lo) << (8 * i);
	}
	c->p += 2 * size;
	*v = x;
	return true;
}

static void cmd_read_regs(struct gdbstub *s)
{
	struct hart *h = ghart(s);
	for (unsigned i = 0; i < G_REGS; i++)
		put_le(s->out + 16 * i, i == 0 ? 0 : i == REG_PC ? h->pc : h->x[i], 8);
	reply_n(s, s->out, 16 * G_REGS);
}

static void cmd_write_regs(struct gdbstub *s, struct cursor *c)
{
	uint64_t v[G_REGS];
	for (unsigned i = 0; i < G_REGS; i++)
		if (!get_le(c, 8, &v[i])) {
			reply(s, "E01");
			return;
		}
	if (!at_end(c)) { /* more registers than 'g' gives: refuse rather than guess */
		reply(s, "E01");
		return;
	}
	struct hart *h = ghart(s);
	for (unsigned i = 1; i < G_REGS; i++)
		reg_write(h, i, v[i]);
	hart_debug_sync(h);
	reply(s, "OK");
}

static void cmd_read_reg(struct gdbstub *s, struct cursor *c)
{
	uint64_t n, v;
	unsigned size;
	if (!get_hex(c, &n) || !at_end(c) || !reg_read(ghart(s), n, &v, &size)) {
		reply(s, "E01");
		return;
	}
	put_le(s->out, v, size);
	reply_n(s, s->out, 2 * size);
}

static void cmd_write_reg(struct gdbstub *s, struct cursor *c)
{
	uint64_t n, v, dummy;
	unsigned size;
	struct hart *h = ghart(s);
	if (!get_hex(c, &n) || !get_char(c, '=') || !reg_read(h, n, &dummy, &size) ||
	    !get_le(c, size, &v) || !at_end(c) || !reg_write(h, n, v)) {
		reply(s, "E01");
		return;
	}
	hart_debug_sync(h);
	reply(s, "OK");
}

/* ---- memory, through the selected hart's current translation ---- */

enum mem_op { MEM_PROBE, MEM_READ, MEM_WRITE };

/* Bytes from the start of [addr, addr + len) that map to RAM (and are copied). Device
 * registers are not touched: reading one could change it. */
static size_t mem_access(struct hart *h, uint64_t addr, uint8_t *buf, size_t len, enum mem_op op)
{
	size_t done = 0;
	while (done < len) {
		uint64_t va = addr + done, gpa;
		size_t chunk = 4096 - (va & 0xfff);
		if (chunk > len - done)
			chunk = len - done;
		if (mmu_translate_debug(h, va, &gpa))
			break;
		uint8_t *p = guest_mem_ptr(h->mem, gpa, chunk);
		if (!p)
			break;
		if (op == MEM_READ)
			memcpy(buf + done, p, chunk);
		else if (op == MEM_WRITE) {
			guest_mem_mark_dirty(h->mem, gpa, chunk);
			memcpy(p, buf + done, chunk);
		}
		done += chunk;
	}
	return done;
}

static void cmd_read_mem(struct gdbstub *s, struct cursor *c)
{
	uint64_t addr, len;
	if (!get_hex(c, &addr) || !get_char(c, ',') || !get_hex(c, &len) || !at_end(c)) {
		reply(s, "E01");
		return;
	}
	if (len > MAX_XFER)
		len = MAX_XFER; /* fewer bytes than asked is a valid answer */
	uint8_t buf[MAX_XFER];
	size_t n = mem_access(ghart(s), addr, buf, (size_t)len, MEM_READ);
	if (n == 0 && len > 0) {
		reply(s, "E14"); /* EFAULT */
		return;
	}
	for (size_t i = 0; i < n; i++)
		put_le(s->out + 2 * i, buf[i], 1);
	reply_n(s, s->out, 2 * n);
}

/* Guest memory changed under the harts: code may have too (as after a remote fence.i). */
static void memory_written(struct gdbstub *s)
{
	for (unsigned i = 0; i < s->t.nharts; i++)
		hart_flush_icache(&s->t.harts[i]);
	sync_harts(s);
}

static void write_mem(struct gdbstub *s, uint64_t addr, uint8_t *buf, size_t len)
{
	struct hart *h = ghart(s);
	if (mem_access(h, addr, NULL, len, MEM_PROBE) < len) {
		reply(s, "E14");
		return;
	}
	if (len) {
		mem_access(h, addr, buf, len, MEM_WRITE);
		memory_written(s);
	}
	reply(s, "OK");
}

static void cmd_write_mem(struct gdbstub *s, struct cursor *c)
{
	uint64_t addr, len;
	uint8_t buf[GDB_PACKET_MAX / 2];
	if (!get_hex(c, &addr) || !get_char(c, ',') || !get_hex(c, &len) || !get_char(c, ':') ||
	    len > sizeof(buf) || (size_t)(c->end - c->p) != 2 * len) {
		reply(s, "E01");
		return;
	}
	for (size_t i = 0; i < len; i++) {
		uint64_t b;
		if (!get_le(c, 1, &b)) {
			reply(s, "E01");
			return;
		}
		buf[i] = (uint8_t)b;
	}
	write_mem(s, addr, buf, (size_t)len);
}

/* X: binary data, '}' escaping the next byte (xor 0x20). */
static void cmd_write_mem_binary(struct gdbstub *s, struct cursor *c)
{
	uint64_t addr, len;
	uint8_t buf[GDB_PACKET_MAX];
	if (!get_hex(c, &addr) || !get_char(c, ',') || !get_hex(c, &len) || !get_char(c, ':') ||
	    len > sizeof(buf)) {
		reply(s, "E01");
		return;
	}
	size_t n = 0;
	while (c->p < c->end && n < len) {
		uint8_t b = (uint8_t)*c->p++;
		if (b == '}') {
			if (c->p == c->end)
				break;
			b = (uint8_t)*c->p++ ^ 0x20;
		}
		buf[n++] = b;
	}
	if (n != len || !at_end(c)) {
		reply(s, "E01");
		return;
	}
	write_mem(s, addr, buf, n);
}

/* ---- breakpoints and watchpoints ---- */

static void cmd_point(struct gdbstub *s, struct cursor *c, bool insert)
{
	uint64_t type, addr, kind;
	if (!get_hex(c, &type) || !get_char(c, ',') || !get_hex(c, &addr) || !get_char(c, ',') ||
	    !get_hex(c, &kind) || (!at_end(c) && *c->p != ';')) {
		reply(s, "E01");
		return;
	}
	struct hart_debug *d = &s->dbg;
	if (type <= 1) { /* software and hardware breakpoints: both compare the pc */
		if (insert) {
			if (d->nbp == HART_DEBUG_BREAKPOINTS) {
				reply(s, "E28"); /* ENOSPC */
				return;
			}
			s->bp_type[d->nbp] = (uint8_t)type;
			d->bp[d->nbp++] = addr;
		} else {
			unsigned i = 0;
			while (i < d->nbp && (d->bp[i] != addr || s->bp_type[i] != type))
				i++;
			if (i == d->nbp) {
				reply(s, "E02");
				return;
			}
			d->nbp--;
			d->bp[i] = d->bp[d->nbp];
			s->bp_type[i] = s->bp_type[d->nbp];
		}
	} else if (type <= 4) {
		static const enum hart_watch_kind kinds[] = {HART_WATCH_WRITE, HART_WATCH_READ,
							     HART_WATCH_ACCESS};
		enum hart_watch_kind wk = kinds[type - 2];
		if (kind == 0 || kind > 4096) {
			reply(s, "E22"); /* EINVAL */
			return;
		}
		if (insert) {
			if (d->nwp == HART_DEBUG_WATCHPOINTS) {
				reply(s, "E28");
				return;
			}
			d->wp[d->nwp++] = (struct hart_watchpoint){addr, kind, wk};
		} else {
			unsigned i = 0;
			while (i < d->nwp && (d->wp[i].addr != addr || d->wp[i].len != kind ||
					      d->wp[i].kind != wk))
				i++;
			if (i == d->nwp) {
				reply(s, "E02");
				return;
			}
			d->wp[i] = d->wp[--d->nwp];
		}
		sync_harts(s); /* pages now watched leave the data TLBs */
	} else {
		reply(s, ""); /* not supported */
		return;
	}
	d->active = d->nbp + d->nwp > 0;
	reply(s, "OK");
}

/* ---- execution ---- */

/* Step hart exactly one instruction (the others stay parked) and report the stop. */
static void step_hart(struct gdbstub *s, int hart)
{
	struct hart *h = &s->t.harts[hart];
	h->watch_hit = 0;
	if (!atomic_load(&h->stopped)) /* a hart stopped by HSM runs nothing */
		hart_debug_step(h);
	enum hart_watch_kind wk = h->watch_hit;
	h->watch_hit = 0;
	report_stop(s, (unsigned)hart, 5, wk, h->watch_addr);
}

static void continue_all(struct gdbstub *s)
{
	s->running = true;
	resume_target(s);
}

/* c/s/C/S [sig;][addr]: resume at addr (when given) on the continue thread. */
static void cmd_resume(struct gdbstub *s, struct cursor *c, bool step, bool sig)
{
	int hart = s->cthread >= 0 ? s->cthread : s->cur;
	uint64_t v;
	if (sig) { /* the signal means nothing to a machine: ignored */
		if (!get_hex(c, &v) || (!at_end(c) && !get_char(c, ';'))) {
			reply(s, "E01");
			return;
		}
	}
	if (!at_end(c)) {
		if (!get_hex(c, &v) || !at_end(c)) {
			reply(s, "E01");
			return;
		}
		struct hart *h = &s->t.harts[hart];
		h->pc = h->pc_next = v & ~1ull;
		hart_debug_sync(h);
	}
	if (step)
		step_hart(s, hart);
	else
		continue_all(s);
}

/* vCont;ACTION[:THREAD]...: the leftmost action naming a thread applies to it. A step of one
 * hart runs that hart alone; otherwise a continue resumes every hart. */
static void cmd_vcont(struct gdbstub *s, struct cursor *c)
{
	char act[VM_MAX_HARTS];
	memset(act, 0, sizeof(act));
	unsigned n = s->t.nharts < VM_MAX_HARTS ? s->t.nharts : VM_MAX_HARTS;
	while (get_char(c, ';')) {
		if (at_end(c)) {
			reply(s, "E01");
			return;
		}
		char a = *c->p++;
		uint64_t sig;
		if ((a == 'C' || a == 'S') && !get_hex(c, &sig)) {
			reply(s, "E01");
			return;
		}
		if (a == 'C')
			a = 'c';
		if (a == 'S')
			a = 's';
		if (a != 'c' && a != 's') { /* t, r: not in all-stop mode */
			reply(s, "E01");
			return;
		}
		int hart = -2;
		if (get_char(c, ':') && !get_thread(s, c, &hart)) {
			reply(s, "E01");
			return;
		}
		if (hart < 0 && a == 's') /* step "every thread": the current one */
			hart = s->cthread >= 0 ? s->cthread : s->cur;
		for (unsigned i = 0; i < n; i++)
			if (!act[i] && (hart < 0 || (unsigned)hart == i))
				act[i] = a;
	}
	if (!at_end(c)) {
		reply(s, "E01");
		return;
	}
	int step = -1;
	bool cont = false;
	for (unsigned i = 0; i < n; i++) {
		if (act[i] == 's' && (step < 0 || (int)i == s->cur))
			step = (int)i;
		cont |= act[i] == 'c';
	}
	if (step >= 0)
		step_hart(s, step);
	else if (cont)
		continue_all(s);
	else
		reply(s, "E01");
}

/* ---- queries ---- */

static bool prefix(const char *p, size_t len, const char *what)
{
	size_t n = strlen(what);
	return len >= n && !memcmp(p, what, n);
}

static void hex_string(char *out, const char *str)
{
	size_t i = 0;
	for (; str[i]; i++)
		put_le(out + 2 * i, (uint8_t)str[i], 1);
	out[2 * i] = 0;
}

/* qXfer:features:read:ANNEX:OFFSET,LENGTH */
static void cmd_xfer_features(struct gdbstub *s, struct cursor *c)
{
	static const char annex[] = "target.xml:";
	uint64_t off, len;
	if ((size_t)(c->end - c->p) < sizeof(annex) - 1 || memcmp(c->p, annex, sizeof(annex) - 1)) {
		reply(s, "E00"); /* no such annex */
		return;
	}
	c->p += sizeof(annex) - 1;
	if (!get_hex(c, &off) || !get_char(c, ',') || !get_hex(c, &len) || !at_end(c)) {
		reply(s, "E01");
		return;
	}
	if (off >= s->xml_len) {
		reply(s, "l");
		return;
	}
	size_t n = 0, i = (size_t)off;
	s->out[n++] = 'm';
	/* Binary data: '#', '$', '}' and '*' escaped; the reply bounded by OUT_MAX. */
	while (i < s->xml_len && (uint64_t)(i - off) < len && n + 2 < sizeof(s->out)) {
		char ch = s->xml[i++];
		if (ch == '#' || ch == '$' || ch == '}' || ch == '*') {
			s->out[n++] = '}';
			ch ^= 0x20;
		}
		s->out[n++] = ch;
	}
	if (i >= s->xml_len)
		s->out[0] = 'l';
	reply_n(s, s->out, n);
}

static void cmd_query(struct gdbstub *s, const char *p, size_t len)
{
	struct cursor c = {p, p + len};
	if (prefix(p, len, "qSupported")) {
		replyf(s, "PacketSize=%x;qXfer:features:read+;vContSupported+;QStartNoAckMode+",
		       GDB_PACKET_MAX);
	} else if (prefix(p, len, "qXfer:features:read:")) {
		c.p += strlen("qXfer:features:read:");
		cmd_xfer_features(s, &c);
	} else if (len == 12 && !memcmp(p, "qfThreadInfo", 12)) {
		size_t n = 0;
		s->out[n++] = 'm';
		for (unsigned i = 0; i < s->t.nharts; i++)
			n += (size_t)snprintf(s->out + n, sizeof(s->out) - n, "%s%x", i ? "," : "",
					      tid_of((int)i));
		reply_n(s, s->out, n);
	} else if (len == 12 && !memcmp(p, "qsThreadInfo", 12)) {
		reply(s, "l");
	} else if (len == 2 && !memcmp(p, "qC", 2)) {
		replyf(s, "QC%x", tid_of(s->gthread >= 0 ? s->gthread : s->cur));
	} else if (prefix(p, len, "qAttached")) {
		reply(s, "1"); /* attached to a running machine: GDB's quit detaches */
	} else if (prefix(p, len, "qThreadExtraInfo,")) {
		c.p += strlen("qThreadExtraInfo,");
		int hart;
		if (!get_thread(s, &c, &hart) || hart < 0 || !at_end(&c)) {
			reply(s, "E01");
			return;
		}
		const struct hart *h = &s->t.harts[hart];
		static const char *const mode[] = {"U", "S", "?", "M"};
		char text[64];
		snprintf(text, sizeof(text), "hart %d, %s-mode%s", hart, mode[h->priv & 3],
			 atomic_load(&h->stopped) ? ", stopped (HSM)"
			 : h->wfi                 ? ", in WFI"
						  : "");
		hex_string(s->out, text);
		reply(s, s->out);
	} else if (prefix(p, len, "qSymbol")) {
		reply(s, "OK");
	} else {
		reply(s, ""); /* not supported */
	}
}

/* ---- dispatch ---- */

static void handle_packet(struct gdbstub *s, const char *p, size_t len)
{
	struct cursor c = {p + 1, p + len};
	if (len == 0) {
		reply(s, "");
		return;
	}
	switch (p[0]) {
	case '?': reply(s, s->stop_reply); break;
	case 'g': cmd_read_regs(s); break;
	case 'G': cmd_write_regs(s, &c); break;
	case 'p': cmd_read_reg(s, &c); break;
	case 'P': cmd_write_reg(s, &c); break;
	case 'm': cmd_read_mem(s, &c); break;
	case 'M': cmd_write_mem(s, &c); break;
	case 'X': cmd_write_mem_binary(s, &c); break;
	case 'c': cmd_resume(s, &c, false, false); break;
	case 's': cmd_resume(s, &c, true, false); break;
	case 'C': cmd_resume(s, &c, false, true); break;
	case 'S': cmd_resume(s, &c, true, true); break;
	case 'Z': cmd_point(s, &c, true); break;
	case 'z': cmd_point(s, &c, false); break;
	case 'H': {
		int hart;
		if (at_end(&c) || (*c.p != 'g' && *c.p != 'c')) {
			reply(s, "E01");
			break;
		}
		char which = *c.p++;
		if (!get_thread(s, &c, &hart) || !at_end(&c)) {
			reply(s, "E01");
			break;
		}
		*(which == 'g' ? &s->gthread : &s->cthread) = hart >= 0 ? hart : -1;
		reply(s, "OK");
		break;
	}
	case 'T': {
		int hart;
		reply(s, get_thread(s, &c, &hart) && hart >= 0 && at_end(&c) ? "OK" : "E01");
		break;
	}
	case 'D':
		reply(s, "OK");
		gdbstub_detach(s);
		s->attached = true; /* still connected: a further packet stops the target again */
		break;
	case 'k': s->t.kill(s->t.opaque); break; /* no reply */
	case 'q': cmd_query(s, p, len); break;
	case 'Q':
		if (len == 15 && !memcmp(p, "QStartNoAckMode", 15)) {
			reply(s, "OK");
			s->noack = true;
		} else {
			reply(s, "");
		}
		break;
	case 'v':
		if (len == 6 && !memcmp(p, "vCont?", 6)) {
			reply(s, "vCont;c;C;s;S");
		} else if (prefix(p, len, "vCont;")) {
			c.p = p + 5;
			cmd_vcont(s, &c);
		} else if (prefix(p, len, "vKill")) {
			reply(s, "OK");
			s->t.kill(s->t.opaque);
		} else {
			reply(s, ""); /* vMustReplyEmpty and everything else */
		}
		break;
	default: reply(s, ""); break;
	}
}

void gdbstub_input(struct gdbstub *s, const void *buf, size_t n)
{
	const uint8_t *b = buf;
	for (size_t i = 0; i < n; i++) {
		switch (gdb_rx_feed(&s->rx, b[i])) {
		case GDB_RX_PACKET:
			if (!s->noack)
				send_raw(s, "+", 1);
			/* Commands work on a stopped target: one sent while it runs stops it. */
			if (!s->held)
				stop_target(s);
			handle_packet(s, s->rx.buf, s->rx.len);
			break;
		case GDB_RX_BAD_CHECKSUM:
			if (!s->noack)
				send_raw(s, "-", 1);
			break;
		case GDB_RX_OVERLONG:
			if (!s->noack)
				send_raw(s, "+", 1);
			if (!s->running)
				reply(s, "E01");
			break;
		case GDB_RX_NAK:
			if (!s->noack && s->last_len)
				send_raw(s, s->last, s->last_len);
			break;
		case GDB_RX_INTERRUPT:
			if (s->running) {
				stop_target(s);
				report_pending(s, 2); /* SIGINT */
			}
			break;
		case GDB_RX_ACK:
		case GDB_RX_NONE: break;
		}
	}
}

/* ---- the TCP server ---- */

#define SEND_TIMEOUT_S 5 /* a client that reads nothing for this long is dropped */

int gdb_listen(const char *spec, int *fd, char *where, size_t wherelen, char *err, size_t errlen)
{
	char host[256], port[16];
	const char *rest = spec, *colon;
	if (strncmp(rest, "tcp:", 4))
		goto syntax;
	rest += 4;
	if (*rest == '[') { /* [IPv6]:PORT */
		const char *close_br = strchr(rest, ']');
		if (!close_br || close_br[1] != ':' ||
		    (size_t)(close_br - rest - 1) >= sizeof(host))
			goto syntax;
		memcpy(host, rest + 1, (size_t)(close_br - rest - 1));
		host[close_br - rest - 1] = 0;
		colon = close_br + 1;
	} else {
		colon = strrchr(rest, ':');
		if (!colon || (size_t)(colon - rest) >= sizeof(host) ||
		    memchr(rest, ':', (size_t)(colon - rest)))
			goto syntax;
		memcpy(host, rest, (size_t)(colon - rest));
		host[colon - rest] = 0;
	}
	if (!host[0])
		strcpy(host, "127.0.0.1");
	const char *pd = colon + 1;
	size_t plen = strlen(pd);
	if (plen == 0 || plen > 5 || strspn(pd, "0123456789") != plen || atoi(pd) > 65535)
		goto syntax;
	memcpy(port, pd, plen + 1);

	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen,
			 "--gdb %s: cannot resolve host '%s' (%s): give an address such "
			 "as 127.0.0.1",
			 spec, host, gai_strerror(rc));
		return -EINVAL;
	}
	int last = 0;
	*fd = -1;
	for (struct addrinfo *a = res; a && *fd < 0; a = a->ai_next) {
		int s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (s < 0) {
			last = errno;
			continue;
		}
		int one = 1;
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, a->ai_addr, a->ai_addrlen) || listen(s, 1)) {
			last = errno;
			close(s);
			continue;
		}
		*fd = s;
	}
	freeaddrinfo(res);
	if (*fd < 0) {
		if (last == EADDRINUSE)
			snprintf(err, errlen,
				 "--gdb %s: port %s is in use: pick another port (or 0 "
				 "for a free one)",
				 spec, port);
		else
			snprintf(err, errlen,
				 "--gdb %s: cannot listen on %s port %s (%s): give a "
				 "local address and a free port",
				 spec, host, port, strerror(last));
		return -(last ? last : EINVAL);
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char h[NI_MAXHOST], p[NI_MAXSERV];
	if (!getsockname(*fd, (struct sockaddr *)&ss, &sl) &&
	    !getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
			 NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(where, wherelen, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
	else
		snprintf(where, wherelen, "%s:%s", host, port);
	return 0;
syntax:
	snprintf(err, errlen,
		 "--gdb '%s' is not tcp:HOST:PORT: use e.g. tcp::1234 (HOST defaults "
		 "to 127.0.0.1)",
		 spec);
	return -EINVAL;
}

struct gdb_server {
	struct vm *vm;
	struct gdbstub *stub;
	int listen_fd, client, quit_fd;
	bool broken; /* sending to the client failed: drop it */
	int status;
	pthread_t thread;
};

static void server_send(void *opaque, const void *buf, size_t n)
{
	struct gdb_server *srv = opaque;
	const char *p = buf;
	while (n && srv->client >= 0 && !srv->broken) {
		ssize_t w = send(srv->client, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			srv->broken = true;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* The VM as the stub's target. */
static void vm_target_stop(void *opaque)
{
	struct vm *vm = ((struct gdb_server *)opaque)->vm;
	vm_pause(vm);
	/* Also when something else paused it (--gdb-wait): wait until every hart is parked. */
	for (unsigned i = 0; i < vm->nharts; i++)
		hart_set_paused(&vm->harts[i], true, true);
}

static void vm_target_resume(void *opaque)
{
	vm_resume(((struct gdb_server *)opaque)->vm);
}

static void vm_target_kill(void *opaque)
{
	fputs("\r\nrvisor: the debugger killed the VM\r\n", stderr);
	vm_request_exit(((struct gdb_server *)opaque)->vm, VM_STATUS_POWEROFF);
}

static void drop_client(struct gdb_server *srv)
{
	gdbstub_detach(srv->stub);
	close(srv->client);
	srv->client = -1;
	srv->broken = false;
}

static void *server_main(void *arg)
{
	struct gdb_server *srv = arg;
	seccomp_enter(SECCOMP_GDB);
	char buf[4096];
	for (;;) {
		struct pollfd p[4] = {
		    {srv->quit_fd, POLLIN, 0},
		    {srv->listen_fd, POLLIN, 0},
		    {gdbstub_event_fd(srv->stub), POLLIN, 0},
		    {srv->client, POLLIN, 0},
		};
		if (poll(p, srv->client >= 0 ? 4 : 3, -1) < 0)
			continue; /* EINTR */
		if (p[0].revents)
			break;
		if (p[2].revents)
			gdbstub_poll(srv->stub);
		if (srv->client >= 0 && p[3].revents) {
			ssize_t n = recv(srv->client, buf, sizeof(buf), 0);
			if (n > 0)
				gdbstub_input(srv->stub, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				srv->broken = true;
		}
		if (srv->client >= 0 && srv->broken)
			drop_client(srv);
		if (p[1].revents) {
			int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0 && errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
				usleep(100000); /* out of descriptors: do not spin on it */
			if (fd >= 0 && srv->client >= 0) {
				close(fd); /* one client at a time */
			} else if (fd >= 0) {
				struct timeval tv = {SEND_TIMEOUT_S, 0};
				int one = 1;
				setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				srv->client = fd;
				gdbstub_attach(srv->stub);
			}
		}
	}
	if (srv->client >= 0) {
		gdbstub_exited(srv->stub, srv->status);
		close(srv->client);
		srv->client = -1;
	}
	return NULL;
}

struct gdb_server *gdb_server_start(struct vm *vm, int listen_fd, char *err, size_t errlen)
{
	struct gdb_server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		close(listen_fd);
		snprintf(err, errlen, "out of memory starting the gdb stub");
		return NULL;
	}
	srv->vm = vm;
	srv->listen_fd = listen_fd;
	srv->client = -1;
	srv->quit_fd = eventfd(0, EFD_CLOEXEC);
	struct gdb_target t = {
	    .harts = vm->harts,
	    .nharts = vm->nharts,
	    .opaque = srv,
	    .stop = vm_target_stop,
	    .resume = vm_target_resume,
	    .kill = vm_target_kill,
	    .send = server_send,
	};
	srv->stub = srv->quit_fd >= 0 ? gdbstub_new(&t) : NULL;
	int rc = srv->stub ? pthread_create(&srv->thread, NULL, server_main, srv) : ENOMEM;
	if (rc) {
		gdbstub_free(srv->stub);
		if (srv->quit_fd >= 0)
			close(srv->quit_fd);
		close(listen_fd);
		free(srv);
		snprintf(err, errlen, "cannot start the gdb stub (%s)", strerror(rc));
		return NULL;
	}
	return srv;
}

void gdb_server_stop(struct gdb_server *srv, int status)
{
	if (!srv)
		return;
	srv->status = status;
	uint64_t one = 1;
	ssize_t w = write(srv->quit_fd, &one, sizeof(one));
	(void)w;
	pthread_join(srv->thread, NULL);
	gdbstub_free(srv->stub);
	close(srv->quit_fd);
	close(srv->listen_fd);
	free(srv);
}
