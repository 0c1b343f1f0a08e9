/* The VM state stream: sections of little-endian fields (stream.h). */
#include "state/stream.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void state_out_init(struct state_out *o)
{
	memset(o, 0, sizeof(*o));
	o->section = SIZE_MAX;
}

void state_out_free(struct state_out *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = o->cap = 0;
}

static void out_failv(struct state_out *o, const char *fmt, va_list ap)
{
	if (o->failed)
		return;
	o->failed = true;
	vsnprintf(o->err, sizeof(o->err), fmt, ap);
}

void state_out_fail(struct state_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	out_failv(o, fmt, ap);
	va_end(ap);
}

static void put(struct state_out *o, const void *p, size_t len)
{
	if (o->failed || !len)
		return; /* an empty field may come with no buffer at all (memcpy's NULL is UB) */
	if (len > o->cap - o->len) {
		size_t cap = o->cap ? o->cap : 4096;
		while (len > cap - o->len) {
			if (cap > SIZE_MAX / 2) {
				state_out_fail(o, "the VM state is too large");
				return;
			}
			cap *= 2;
		}
		uint8_t *b = realloc(o->buf, cap);
		if (!b) {
			state_out_fail(o, "out of memory for the VM state");
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, len);
	o->len += len;
}

static void put_le(struct state_out *o, uint64_t v, unsigned bytes)
{
	uint8_t b[8];
	for (unsigned i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(o, b, bytes);
}

void state_begin(struct state_out *o, const char *name, uint32_t version)
{
	size_t n = strlen(name);
	if (o->section != SIZE_MAX)
		state_out_fail(o, "section %s opened inside another", name);
	if (n == 0 || n > STATE_NAME_MAX)
		state_out_fail(o, "bad section name '%s'", name);
	put_le(o, n, 1);
	put(o, name, n);
	put_le(o, version, 4);
	if (o->failed)
		return;
	o->section = o->len;
	put_le(o, 0, 8); /* the length, filled in by state_end */
}

void state_end(struct state_out *o)
{
	if (o->failed)
		return;
	if (o->section == SIZE_MAX) {
		state_out_fail(o, "a section closed without being opened");
		return;
	}
	uint64_t len = o->len - o->section - 8;
	for (unsigned i = 0; i < 8; i++)
		o->buf[o->section + i] = (uint8_t)(len >> (8 * i));
	o->section = SIZE_MAX;
}

void state_put_u8(struct state_out *o, uint8_t v)
{
	put_le(o, v, 1);
}

void state_put_u16(struct state_out *o, uint16_t v)
{
	put_le(o, v, 2);
}

void state_put_u32(struct state_out *o, uint32_t v)
{
	put_le(o, v, 4);
}

void state_put_u64(struct state_out *o, uint64_t v)
{
	put_le(o, v, 8);
}

void state_put_bool(struct state_out *o, bool v)
{
	put_le(o, v ? 1 : 0, 1);
}

void state_put_bytes(struct state_out *o, const void *p, size_t len)
{
	put(o, p, len);
}

/* ---- reading ---- */

void state_in_init(struct state_in *in, const void *buf, size_t len)
{
	memset(in, 0, sizeof(*in));
	in->buf = buf;
	in->len = len;
	in->end = SIZE_MAX;
}

static void in_fail(struct state_in *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void in_fail(struct state_in *in, const char *fmt, ...)
{
	if (in->failed)
		return;
	in->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(in->err, sizeof(in->err), fmt, ap);
	va_end(ap);
}

/* The bytes readable now: to the section's end inside one, else to the stream's. */
static size_t limit(const struct state_in *in)
{
	return in->end == SIZE_MAX ? in->len : in->end;
}

static bool get(struct state_in *in, void *p, size_t len)
{
	if (!in->failed && len > limit(in) - in->pos) {
		if (in->end == SIZE_MAX)
			in_fail(in, "the VM state is cut short");
		else
			in_fail(in, "section %s: its payload is shorter than its fields", in->name);
	}
	if (in->failed) {
		memset(p, 0, len);
		return false;
	}
	memcpy(p, in->buf + in->pos, len);
	in->pos += len;
	return true;
}

static uint64_t get_le(struct state_in *in, unsigned bytes)
{
	uint8_t b[8];
	if (!get(in, b, bytes))
		return 0;
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* Parse the section header at pos: name, version and payload length. */
static bool header(const struct state_in *in, size_t pos, char *name, uint32_t *version,
		   uint64_t *len, size_t *payload)
{
	if (pos >= in->len)
		return false;
	size_t n = in->buf[pos];
	if (n == 0 || n > STATE_NAME_MAX || in->len - pos - 1 < n + 12)
		return false;
	memcpy(name, in->buf + pos + 1, n);
	name[n] = 0;
	if (memchr(name, 0, n))
		return false;
	const uint8_t *p = in->buf + pos + 1 + n;
	*version = 0;
	*len = 0;
	for (unsigned i = 0; i < 4; i++)
		*version |= (uint32_t)p[i] << (8 * i);
	for (unsigned i = 0; i < 8; i++)
		*len |= (uint64_t)p[4 + i] << (8 * i);
	*payload = pos + 1 + n + 12;
	return true;
}

bool state_peek(struct state_in *in, char *out)
{
	uint32_t version;
	uint64_t len;
	size_t payload;
	if (in->failed || in->end != SIZE_MAX)
		return false;
	return header(in, in->pos, out, &version, &len, &payload);
}

/* name as an error message may show it: bytes other than printable ASCII (a hostile file's
 * control characters or terminal escapes) as \xNN. out holds 4 * STATE_NAME_MAX + 1 bytes. */
static void printable_name(const char *name, char *out)
{
	for (; *name; name++) {
		unsigned char c = (unsigned char)*name;
		if (c >= 0x20 && c < 0x7f && c != '\\')
			*out++ = (char)c;
		else
			out += sprintf(out, "\\x%02x", c);
	}
	*out = 0;
}

uint32_t state_enter(struct state_in *in, const char *name)
{
	char found[STATE_NAME_MAX + 1];
	uint32_t version;
	uint64_t len;
	size_t payload;
	if (in->failed)
		return 0;
	if (in->end != SIZE_MAX) {
		in_fail(in, "section %s entered inside section %s", name, in->name);
		return 0;
	}
	if (in->pos >= in->len) {
		in_fail(in, "the VM state ends where section %s should be", name);
		return 0;
	}
	if (!header(in, in->pos, found, &version, &len, &payload)) {
		in_fail(in, "a malformed section header where section %s should be", name);
		return 0;
	}
	if (strcmp(found, name)) {
		char shown[4 * STATE_NAME_MAX + 1];
		printable_name(found, shown);
		in_fail(in, "section %s where section %s should be", shown, name);
		return 0;
	}
	if (len > in->len - payload) {
		in_fail(in, "section %s is cut short", name);
		return 0;
	}
	snprintf(in->name, sizeof(in->name), "%s", name);
	in->pos = payload;
	in->end = payload + (size_t)len;
	return version;
}

bool state_leave(struct state_in *in)
{
	if (!in->failed && in->end == SIZE_MAX)
		in_fail(in, "a section left without being entered");
	if (!in->failed && in->pos != in->end)
		in_fail(in, "section %s: %zu bytes past its fields", in->name, in->end - in->pos);
	in->end = SIZE_MAX;
	return !in->failed;
}

uint8_t state_get_u8(struct state_in *in)
{
	return (uint8_t)get_le(in, 1);
}

uint16_t state_get_u16(struct state_in *in)
{
	return (uint16_t)get_le(in, 2);
}

uint32_t state_get_u32(struct state_in *in)
{
	return (uint32_t)get_le(in, 4);
}

uint64_t state_get_u64(struct state_in *in)
{
	return get_le(in, 8);
}

bool state_get_bool(struct state_in *in)
{
	uint8_t v = (uint8_t)get_le(in, 1);
	state_check(in, v <= 1, "a boolean field holds %u", v);
	return v == 1;
}

void state_get_bytes(struct state_in *in, void *p, size_t len)
{
	get(in, p, len);
}

bool state_check(struct state_in *in, bool ok, const char *fmt, ...)
{
	if (ok || in->failed)
		return ok;
	char what[STATE_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	in_fail(in, "section %s: %s", in->end == SIZE_MAX ? "(none)" : in->name, what);
	return false;
}
