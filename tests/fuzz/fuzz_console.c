/* libFuzzer target for virtio-console (virtio 1.2 section 5.3) behind the virtio-mmio
 * transport, on a fake character backend that records output and serves input taken from
 * the fuzzer input. The input is described in fuzz_common.h; for this target:
 *   target data   the host's input stream (repeated as needed)
 *   parameter     the value of configuration writes (emerg_wr)
 *   operation 4   INPUT: b % 4096 more bytes of the stream arrive, and the backend says so
 * Checks besides those of fuzz_common.h: the backend's output is exactly the readable bytes
 * of the transmit requests returned, in order, with the byte of each configuration write
 * that covers emerg_wr (5.3.6, VIRTIO_CONSOLE_F_EMERG_WRITE) where it happened; the bytes
 * written into returned receive buffers are the input stream, in order, nothing lost or
 * repeated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "host/chr.h"
#include "virtio/console.h"

#define OUT_MAX (4u << 20) /* bytes of output kept per step */
#define EMERG   8          /* offset of emerg_wr (5.3.4) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct chr chr;
	struct virtio_console con;
	uint8_t *out, *expect, *buf;
	size_t out_len, expect_len;
	bool out_unchecked;
	uint64_t in_end, in_read, rx_pos; /* stream bytes arrived, read, in returned buffers */
	bool rx_unchecked;
} cz;

static void fake_write(struct chr *c, const void *buf, size_t len)
{
	(void)c;
	if (cz.out_len + len > OUT_MAX) {
		cz.out_unchecked = true;
		return;
	}
	memcpy(cz.out + cz.out_len, buf, len);
	cz.out_len += len;
}

static size_t fake_read(struct chr *c, void *buf, size_t len)
{
	(void)c;
	uint64_t n = cz.in_end - cz.in_read;
	if (n > len)
		n = len;
	for (uint64_t i = 0; i < n; i++)
		((uint8_t *)buf)[i] = fz_data_byte(cz.in_read + i);
	cz.in_read += n;
	return n;
}

static void expect(const void *p, size_t len)
{
	if (cz.expect_len + len > OUT_MAX) {
		cz.out_unchecked = true;
		return;
	}
	memcpy(cz.expect + cz.expect_len, p, len);
	cz.expect_len += len;
}

static void console_used(void *opaque, unsigned q, uint16_t head, uint32_t len,
			 const struct fz_chain *c)
{
	(void)opaque;
	if (q == VIRTIO_CONSOLE_TRANSMITQ) {
		/* The readable part of a chain never changes in a stable input. */
		if (!cz.out_unchecked && c->out_len <= OUT_MAX - cz.expect_len) {
			fz_chain_read(c, false, 0, cz.expect + cz.expect_len, c->out_len);
			cz.expect_len += c->out_len;
		} else {
			cz.out_unchecked = true;
		}
		return;
	}
	if (cz.rx_unchecked)
		return;
	if (fz_head_reused(VIRTIO_CONSOLE_RECEIVEQ, head)) {
		cz.rx_unchecked = true; /* the buffer may hold a later request's bytes */
		return;
	}
	FZ_CHECK(cz.rx_pos + len <= cz.in_read, "%u bytes returned, %llu of %llu read", len,
		 (unsigned long long)(cz.in_read - cz.rx_pos), (unsigned long long)cz.in_read);
	fz_chain_read(c, true, 0, cz.buf, len);
	for (uint32_t i = 0; i < len; i++)
		FZ_CHECK(cz.buf[i] == fz_data_byte(cz.rx_pos + i), "input byte %llu corrupted",
			 (unsigned long long)(cz.rx_pos + i));
	cz.rx_pos += len;
}

static void console_settled(void *opaque)
{
	(void)opaque;
	if (fz.q[VIRTIO_CONSOLE_TRANSMITQ].lost)
		cz.out_unchecked = true;
	if (fz.q[VIRTIO_CONSOLE_RECEIVEQ].lost)
		cz.rx_unchecked = true;
	if (!cz.out_unchecked) {
		FZ_CHECK(cz.out_len == cz.expect_len, "%zu bytes of output, %zu expected",
			 cz.out_len, cz.expect_len);
		FZ_CHECK(!memcmp(cz.out, cz.expect, cz.out_len), "output differs");
	}
	cz.out_len = cz.expect_len = 0;
	/* Input read from the backend is in a returned buffer: none is lost. */
	FZ_CHECK(cz.rx_unchecked || cz.rx_pos == cz.in_read,
		 "%llu input bytes read, %llu given to the driver", (unsigned long long)cz.in_read,
		 (unsigned long long)cz.rx_pos);
}

static void console_op(void *opaque, uint8_t code, uint8_t a, uint16_t b)
{
	(void)opaque;
	if (code == FZ_OP_CONFIG) {
		/* As fz_run wrote it: size 1 << (a & 3) at (b % 64) rounded down to the size. */
		unsigned size = 1u << (a & 3);
		uint32_t off = (b % 64) & ~(size - 1);
		if ((a & 0x80) && size <= 4 && off + size <= VIRTIO_CONSOLE_CONFIG_SIZE &&
		    off <= EMERG && off + size > EMERG) {
			uint8_t ch = (uint8_t)(fz.param >> (8 * (EMERG - off)));
			expect(&ch, 1);
		}
		return;
	}
	if (code == FZ_OP_TARGET) {
		cz.in_end += b % 4096;
		void (*notify)(void *) = __atomic_load_n(&cz.chr.notify, __ATOMIC_ACQUIRE);
		if (notify)
			notify(cz.chr.notify_opaque);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fz_begin(data, size))
		return 0;
	if (!cz.out) {
		cz.out = malloc(OUT_MAX);
		cz.expect = malloc(OUT_MAX);
		cz.buf = malloc(FZ_RAM_SIZE);
		if (!cz.out || !cz.expect || !cz.buf)
			abort();
	}
	cz.chr = (struct chr){.write = fake_write, .read = fake_read};
	cz.out_len = cz.expect_len = 0;
	cz.out_unchecked = cz.rx_unchecked = false;
	cz.in_end = cz.in_read = cz.rx_pos = 0;

	struct virtio_dev dev;
	if (virtio_console_init(&cz.con, &cz.chr, &dev))
		abort();
	const struct fz_target tg = {
	    .nops = FZ_OP_TARGET + 1,
	    .used = console_used,
	    .op = console_op,
	    .settled = console_settled,
	};
	fz_attach(&dev, 1u << VIRTIO_CONSOLE_TRANSMITQ);
	fz_run(&tg);
	cz.chr.notify = NULL;
	virtio_console_destroy(&cz.con);
	fz_finish(&tg);
	fz_detach();
	return 0;
}
