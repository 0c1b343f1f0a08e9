/* The VM state stream: what snapshots and migration carry for every stateful part of a VM
 * (harts, interrupt controllers, UART, RTC, virtio transports and devices), as a sequence of
 * sections. Each section is
 *   u8 name length, the name (1 to STATE_NAME_MAX bytes, no NUL),
 *   u32 version of the section's layout, u64 length of its payload in bytes, the payload;
 * every integer little-endian, whatever the host (a snapshot taken on one host ISA loads on
 * another). A part writes its section with state_begin, state_put_* and state_end, and reads
 * it back with state_enter, state_get_* and state_leave. Errors are sticky: after the first,
 * writes do nothing and reads return zeros, and the stream's err names the section and the
 * problem, so a part checks once at the end. */
#ifndef RVISOR_STATE_STREAM_H
#define RVISOR_STATE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_NAME_MAX 31
#define STATE_ERR_MAX  256

/* A stream being written, in memory. */
struct state_out {
	uint8_t *buf;
	size_t len, cap;
	size_t section; /* offset of the open section's length field, or SIZE_MAX */
	bool failed;    /* out of memory, or a part cannot be saved (state_out_fail) */
	char err[STATE_ERR_MAX];
};

/* Start an empty stream. */
void state_out_init(struct state_out *o);
/* Free the stream's buffer. */
void state_out_free(struct state_out *o);
/* Open a section name (1..STATE_NAME_MAX bytes) with layout version version. Sections do not
 * nest: opening one while another is open fails the stream. */
void state_begin(struct state_out *o, const char *name, uint32_t version);
/* Close the open section (its length is filled in). */
void state_end(struct state_out *o);
void state_put_u8(struct state_out *o, uint8_t v);
void state_put_u16(struct state_out *o, uint16_t v);
void state_put_u32(struct state_out *o, uint32_t v);
void state_put_u64(struct state_out *o, uint64_t v);
void state_put_bool(struct state_out *o, bool v);
/* len raw bytes (a byte array: no byte-order conversion). */
void state_put_bytes(struct state_out *o, const void *p, size_t len);
/* A part that cannot be saved in its present state fails the stream with one sentence
 * (printf format) naming it and the reason, e.g. "virtio-fs 'share': its daemon holds guest
 * memory". Only the first failure is kept. */
void state_out_fail(struct state_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A stream being read from len bytes at buf (not copied: keep it alive). */
struct state_in {
	const uint8_t *buf;
	size_t len, pos;
	size_t end; /* end of the entered section's payload, or SIZE_MAX outside one */
	char name[STATE_NAME_MAX + 1]; /* the entered section */
	bool failed;
	char err[STATE_ERR_MAX];
};

void state_in_init(struct state_in *in, const void *buf, size_t len);
/* Enter the next section, which must be called name; returns its version, for the part to
 * check (0, with the stream failed, when the next section has another name or is cut
 * short; the error shows the other name's bytes that are not printable ASCII as \xNN). */
uint32_t state_enter(struct state_in *in, const char *name);
/* The name of the next section (into out, STATE_NAME_MAX + 1 bytes) without entering it;
 * false at the end of the stream or on a malformed header. */
bool state_peek(struct state_in *in, char *out);
/* Leave the entered section: every byte of its payload must have been read. Returns false
 * (the stream failed) otherwise, or when the stream had failed already. */
bool state_leave(struct state_in *in);
uint8_t state_get_u8(struct state_in *in);
uint16_t state_get_u16(struct state_in *in);
uint32_t state_get_u32(struct state_in *in);
uint64_t state_get_u64(struct state_in *in);
/* A bool: a byte that must be 0 or 1. */
bool state_get_bool(struct state_in *in);
void state_get_bytes(struct state_in *in, void *p, size_t len);
/* Check a value read: when ok is false the stream fails with "section NAME: " and the
 * sentence (printf format) saying which value is out of range. Returns ok. */
bool state_check(struct state_in *in, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
