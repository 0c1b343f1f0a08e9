/* A GDB remote stub (`rvisor run --gdb tcp:HOST:PORT`): the GDB Remote Serial Protocol (GDB
 * manual, appendix "GDB Remote Serial Protocol") over TCP, one client at a time, on a thread of
 * its own. One GDB thread per hart (thread id = hart index + 1). While a client is attached
 * and the target is stopped, every hart is parked (vm_pause: the guest's clock stands still);
 * registers and memory are read and written through the selected hart, memory through its
 * current address translation. Breakpoints (Z0, Z1) compare the pc before each instruction
 * and watchpoints (Z2-Z4) are checked on the MMU's slow path (struct hart_debug); while any is
 * set, every hart runs interpreted. A single step (s, vCont;s) executes exactly one
 * instruction of the selected hart in the interpreter, on the stub's thread, while the other
 * harts stay parked.
 *
 * The packet layer (gdb_rx_*) and the protocol core (gdbstub_*) are separate from the socket
 * (gdb_server_*) so that the unit tests drive them directly. Everything from the client is
 * untrusted: malformed packets are refused ('-', or an error reply) and never crash or stall
 * the stub. */
#ifndef RVISOR_VMM_GDBSTUB_H
#define RVISOR_VMM_GDBSTUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hart;
struct vm;

/* The longest packet (data between '$' and '#') the stub accepts: qSupported's PacketSize. */
#define GDB_PACKET_MAX 16384

/* ---- packet layer: bytes from the client to packets ---- */

/* What one byte from the client completed. */
enum gdb_rx_event {
	GDB_RX_NONE = 0,     /* nothing yet (inside a packet, or a byte outside one ignored) */
	GDB_RX_PACKET,       /* a packet with a good checksum: rx->buf[0..rx->len) */
	GDB_RX_BAD_CHECKSUM, /* a packet whose checksum is wrong or not hex: answer '-' */
	GDB_RX_OVERLONG,     /* a packet longer than GDB_PACKET_MAX, checksum good: dropped */
	GDB_RX_ACK,          /* '+' outside a packet */
	GDB_RX_NAK,          /* '-' outside a packet: resend the last reply */
	GDB_RX_INTERRUPT,    /* 0x03 outside a packet: stop the target */
};

/* The framing state: '$' data '#' two hex digits. A '$' inside a packet starts a new one (the
 * old one was truncated); anything else outside a packet is ignored. Run-length encoding
 * ("X*N": X repeated N - 29 more times) is expanded; '}' escapes (binary data) are left for
 * the packet's handler, and a '*' right after '}' is data. */
struct gdb_rx {
	enum { GDB_RX_IDLE, GDB_RX_DATA, GDB_RX_RUN, GDB_RX_SUM1, GDB_RX_SUM2 } state;
	uint8_t sum;  /* running checksum of the bytes between '$' and '#' */
	uint8_t want; /* the checksum sent, as far as read */
	bool bad_hex; /* a checksum digit was not hex */
	bool esc;     /* the last data byte was '}' */
	bool overlong;
	size_t len;
	char buf[GDB_PACKET_MAX + 1]; /* the packet's data, NUL-terminated (it may hold NULs) */
};

/* Start with no packet. */
void gdb_rx_init(struct gdb_rx *rx);
/* Take one byte from the client; returns what it completed. */
enum gdb_rx_event gdb_rx_feed(struct gdb_rx *rx, uint8_t c);
/* Frame len bytes of data as "$data#cs" into out (cap bytes; data must already be escaped
 * where binary). Returns the framed length, or 0 if it does not fit. */
size_t gdb_frame(char *out, size_t cap, const char *data, size_t len);

/* ---- the protocol core ---- */

/* What the core needs from the machine it debugs. The callbacks are made on the thread that
 * calls gdbstub_input / gdbstub_poll / gdbstub_attach / gdbstub_detach. */
struct gdb_target {
	struct hart *harts;
	unsigned nharts;
	void *opaque;
	/* Park every hart at an instruction boundary and stop the guest's clock; return once
	 * all are parked (or exiting). Safe when already stopped. */
	void (*stop)(void *opaque);
	/* Let every hart run again, the clock going on from where it stood. */
	void (*resume)(void *opaque);
	/* End the VM (the client's k). */
	void (*kill)(void *opaque);
	/* Send bytes to the client. */
	void (*send)(void *opaque, const void *buf, size_t n);
};

struct gdbstub;

/* A stub for target t (copied), with no client. Points every hart's debug at the stub's
 * breakpoints (none set); call with the harts not running. Returns NULL when out of memory
 * or file descriptors. */
struct gdbstub *gdbstub_new(const struct gdb_target *t);
/* Unhook the harts (call with them not running, or parked) and free the stub. */
void gdbstub_free(struct gdbstub *s);
/* A client connected: stop the target (a debugger starts with it stopped); acks on. */
void gdbstub_attach(struct gdbstub *s);
/* The client detached or went away: remove its breakpoints and watchpoints and let the
 * target run. */
void gdbstub_detach(struct gdbstub *s);
/* Bytes received from the client: acks, replies and target control follow. */
void gdbstub_input(struct gdbstub *s, const void *buf, size_t n);
/* A descriptor that becomes readable when a hart stopped for a breakpoint or watchpoint;
 * then call gdbstub_poll. */
int gdbstub_event_fd(const struct gdbstub *s);
/* Report a pending stop (the stop reply of the client's continue). Returns true if one was
 * sent. */
bool gdbstub_poll(struct gdbstub *s);
/* Whether the target runs on the client's continue (false while stopped, or detached). */
bool gdbstub_running(const struct gdbstub *s);
/* The VM ended with exit status status: tell the client ("W" packet). */
void gdbstub_exited(struct gdbstub *s, int status);

/* ---- the TCP server ---- */

/* Parse spec ("tcp:HOST:PORT"; an empty HOST is 127.0.0.1; PORT 0 picks a free one) and
 * listen on it. Stores the socket in *fd and the address it listens on, as "HOST:PORT", in
 * where (wherelen bytes). Returns 0, or -errno with one sentence in err naming the problem
 * and the fix. */
int gdb_listen(const char *spec, int *fd, char *where, size_t wherelen, char *err, size_t errlen);

struct gdb_server;
/* Serve GDB clients on listen_fd (from gdb_listen; owned from here on) for vm, one at a time
 * (others are closed at once), on a thread of its own. Call after vm_create and before
 * vm_run; with wait (--gdb-wait), call vm_start_paused first: the harts stay parked until a
 * client continues. Returns NULL with one sentence in err when the thread cannot start. */
struct gdb_server *gdb_server_start(struct vm *vm, int listen_fd, char *err, size_t errlen);
/* After vm_run returned status: tell the client, close everything, join the thread. */
void gdb_server_stop(struct gdb_server *srv, int status);

#endif
