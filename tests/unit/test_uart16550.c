/* Unit tests of the ns16550a UART through its MMIO ops, with an in-memory host backend and a
 * recorded interrupt line: reset values, the divisor latch, FIFO order and refill, receive
 * and THRE interrupts, IIR priorities, loopback, and hostile accesses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/uart16550.h"
#include "host/chr.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2 };
enum { LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct fake_chr {
	struct chr chr; /* first */
	uint8_t in[256];
	size_t in_head, in_len;
	uint8_t out[256];
	size_t out_len; /* total bytes written; out keeps the first 256 */
};

struct fixture {
	struct fake_chr c;
	struct uart16550 u;
	bool level;
	unsigned irq_calls;
};

static void fake_write(struct chr *c, const void *buf, size_t len)
{
	struct fake_chr *f = (struct fake_chr *)c;
	for (size_t i = 0; i < len; i++, f->out_len++)
		if (f->out_len < sizeof(f->out))
			f->out[f->out_len] = ((const uint8_t *)buf)[i];
}

static size_t fake_read(struct chr *c, void *buf, size_t len)
{
	struct fake_chr *f = (struct fake_chr *)c;
	size_t n = 0;
	while (n < len && f->in_head < f->in_len)
		((uint8_t *)buf)[n++] = f->in[f->in_head++];
	return n;
}

/* Host input arrives: queue it and tell the device, as a backend thread would. */
static void type(struct fixture *f, const char *s, size_t len)
{
	assert_true(f->c.in_len + len <= sizeof(f->c.in));
	memcpy(f->c.in + f->c.in_len, s, len);
	f->c.in_len += len;
	assert_non_null(f->c.chr.notify);
	f->c.chr.notify(f->c.chr.notify_opaque);
}

static void irq_record(void *opaque, unsigned num, bool level)
{
	struct fixture *f = opaque;
	assert_int_equal(num, 10);
	f->level = level;
	f->irq_calls++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->c.chr.write = fake_write;
	f->c.chr.read = fake_read;
	assert_int_equal(uart16550_init(&f->u, &f->c.chr, (struct irq_line){irq_record, f, 10}), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	uart16550_destroy(&f->u);
	free(f);
	return 0;
}

static uint8_t rd(struct fixture *f, uint64_t off)
{
	return (uint8_t)uart16550_ops.read(&f->u, off, 1);
}

static void wr(struct fixture *f, uint64_t off, uint8_t v)
{
	uart16550_ops.write(&f->u, off, 1, v);
}

static void test_reset_values(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, IER), 0);
	assert_int_equal(rd(f, IIR), 0x01);
	assert_int_equal(rd(f, LCR), 0);
	assert_int_equal(rd(f, MCR), 0);
	assert_int_equal(rd(f, LSR), 0x60); /* THRE | TEMT */
	assert_int_equal(rd(f, MSR), 0xb0); /* DCD | DSR | CTS */
	assert_int_equal(rd(f, SCR), 0);
	assert_int_equal(rd(f, RBR), 0);
	assert_false(f->level);
	assert_ptr_equal(f->c.chr.notify_opaque, &f->u);
	assert_int_equal(uart16550_ops.min_size, 1);
	assert_int_equal(uart16550_ops.max_size, 4);
}

static void test_scratch_and_lcr(void **state)
{
	struct fixture *f = *state;
	wr(f, SCR, 0x5a);
	assert_int_equal(rd(f, SCR), 0x5a);
	wr(f, LCR, 0x03); /* 8N1 */
	assert_int_equal(rd(f, LCR), 0x03);
	wr(f, MCR, 0xff);
	assert_int_equal(rd(f, MCR), 0x1f);
	wr(f, MCR, 0x0b);
	assert_int_equal(rd(f, MCR), 0x0b);
	/* The loopback round trip raised RI and dropped it: TERI, cleared by the read. */
	assert_int_equal(rd(f, MSR), 0xb4);
	/* LSR and MSR are read-only. */
	wr(f, LSR, 0x00);
	assert_int_equal(rd(f, LSR), 0x60);
	wr(f, MSR, 0x00);
	assert_int_equal(rd(f, MSR), 0xb0);
}

static void test_divisor_latch(void **state)
{
	struct fixture *f = *state;
	wr(f, IER, 0x01);
	wr(f, LCR, 0x83); /* DLAB */
	wr(f, DLL, 0x0c);
	wr(f, DLM, 0x01);
	assert_int_equal(rd(f, DLL), 0x0c);
	assert_int_equal(rd(f, DLM), 0x01);
	assert_int_equal(f->c.out_len, 0); /* DLL is not THR */
	wr(f, LCR, 0x03);
	assert_int_equal(rd(f, IER), 0x01); /* DLM is not IER */
	type(f, "z", 1);
	assert_int_equal(rd(f, RBR), 'z');
	wr(f, LCR, 0x83);
	assert_int_equal(rd(f, DLL), 0x0c);
	assert_int_equal(rd(f, DLM), 0x01);
}

static void test_transmit(void **state)
{
	struct fixture *f = *state;
	wr(f, THR, 'o');
	wr(f, THR, 'k');
	uart16550_ops.write(&f->u, THR, 4, 0xffffff21); /* 4-byte access: low byte */
	assert_int_equal(f->c.out_len, 3);
	assert_memory_equal(f->c.out, "ok!", 3);
	assert_int_equal(rd(f, LSR) & 0x60, 0x60);
}

static void test_transmit_flood(void **state)
{
	struct fixture *f = *state;
	/* Every byte goes to the backend at once: nothing piles up in the device. */
	for (unsigned i = 0; i < 100000; i++) {
		wr(f, THR, (uint8_t)i);
		assert_int_equal(f->c.out_len, i + 1);
	}
	assert_int_equal(f->c.out[255], 255);
}

static void test_fifo_order_and_refill(void **state)
{
	struct fixture *f = *state;
	char msg[20];
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i);
	wr(f, FCR, 0x07); /* enable and clear FIFOs */
	assert_int_equal(rd(f, IIR), 0xc1);
	type(f, msg, sizeof(msg));
	/* The FIFO holds 16; the rest waits in the backend. */
	assert_int_equal(f->c.in_head, 16);
	for (unsigned i = 0; i < sizeof(msg); i++) {
		assert_int_equal(rd(f, LSR) & 0x01, 1);
		assert_int_equal(rd(f, RBR), 'a' + i);
	}
	assert_int_equal(rd(f, LSR) & 0x01, 0);
	assert_int_equal(f->c.in_head, 20);
	assert_int_equal(rd(f, RBR), 0);
}

static void test_no_fifo_holds_one_byte(void **state)
{
	struct fixture *f = *state;
	type(f, "xyz", 3);
	assert_int_equal(f->c.in_head, 1);
	assert_int_equal(rd(f, IIR) & 0xc0, 0);
	assert_int_equal(rd(f, RBR), 'x');
	assert_int_equal(rd(f, RBR), 'y');
	assert_int_equal(rd(f, RBR), 'z');
	assert_int_equal(rd(f, LSR), 0x60);
}

static void test_lsr_read_pulls_input(void **state)
{
	struct fixture *f = *state;
	wr(f, FCR, 0x01);
	/* Input that arrives without a notification (polled consoles) shows on LSR.DR. */
	memcpy(f->c.in, "hi", 2);
	f->c.in_len = 2;
	assert_int_equal(rd(f, LSR), 0x61);
	assert_int_equal(rd(f, RBR), 'h');
	assert_int_equal(rd(f, RBR), 'i');
	assert_int_equal(rd(f, LSR), 0x60);
}

static void test_fcr_clears_rx(void **state)
{
	struct fixture *f = *state;
	wr(f, FCR, 0x01);
	type(f, "abc", 3);
	wr(f, FCR, 0x03); /* clear RX FIFO */
	assert_int_equal(rd(f, LSR) & 0x01, 0);
	type(f, "d", 1);
	assert_int_equal(rd(f, RBR), 'd');
	/* The clear bits do not stick. */
	wr(f, FCR, 0xc7);
	type(f, "e", 1);
	assert_int_equal(rd(f, RBR), 'e');
}

static void test_rx_interrupt(void **state)
{
	struct fixture *f = *state;
	wr(f, FCR, 0x01);
	type(f, "q", 1);
	assert_false(f->level); /* not enabled */
	assert_int_equal(rd(f, IIR), 0xc1);
	wr(f, IER, 0x01);
	assert_true(f->level);
	assert_int_equal(rd(f, IIR), 0xc4);
	assert_int_equal(rd(f, RBR), 'q');
	assert_false(f->level);
	assert_int_equal(rd(f, IIR), 0xc1);
	type(f, "rs", 2);
	assert_true(f->level);
	assert_int_equal(rd(f, RBR), 'r');
	assert_true(f->level);
	assert_int_equal(rd(f, RBR), 's');
	assert_false(f->level);
	wr(f, IER, 0x00);
	type(f, "t", 1);
	assert_false(f->level);
}

static void test_thre_interrupt(void **state)
{
	struct fixture *f = *state;
	wr(f, FCR, 0x01);
	/* Enabling ETBEI with THR empty raises the interrupt. */
	wr(f, IER, 0x02);
	assert_true(f->level);
	/* Reading IIR when THRE is the reported cause clears it. */
	assert_int_equal(rd(f, IIR), 0xc2);
	assert_false(f->level);
	assert_int_equal(rd(f, IIR), 0xc1);
	/* A THR write empties at once: THRE interrupts again. */
	wr(f, THR, 'a');
	assert_true(f->level);
	/* Disabling ETBEI lowers the line; enabling it again raises it (Linux's THRE test). */
	wr(f, IER, 0x00);
	assert_false(f->level);
	wr(f, IER, 0x02);
	assert_true(f->level);
	assert_int_equal(rd(f, IIR), 0xc2);
	wr(f, IER, 0x00);
	wr(f, IER, 0x02);
	assert_int_equal(rd(f, IIR), 0xc2);
	/* LSR reads do not acknowledge it. */
	wr(f, THR, 'b');
	assert_int_equal(rd(f, LSR), 0x60);
	assert_true(f->level);
}

static void test_iir_priority(void **state)
{
	struct fixture *f = *state;
	wr(f, FCR, 0x01);
	wr(f, IER, 0x03);
	type(f, "k", 1);
	/* Received data outranks THRE, and reading IIR then does not clear THRE. */
	assert_int_equal(rd(f, IIR), 0xc4);
	assert_int_equal(rd(f, IIR), 0xc4);
	assert_int_equal(rd(f, RBR), 'k');
	assert_int_equal(rd(f, IIR), 0xc2);
	assert_int_equal(rd(f, IIR), 0xc1);
	assert_false(f->level);
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;
	wr(f, FCR, 0x01);
	/* The modem outputs show on the modem inputs (Linux's autoconfig check). */
	wr(f, MCR, 0x1a); /* LOOP | OUT2 | RTS */
	assert_int_equal(rd(f, MSR) & 0xf0, 0x90);
	wr(f, MCR, 0x15); /* LOOP | OUT1 | DTR */
	assert_int_equal(rd(f, MSR) & 0xf0, 0x60);
	/* Transmitted bytes come back, not out; host input stays in the backend. */
	memcpy(f->c.in, "H", 1);
	f->c.in_len = 1;
	wr(f, THR, 'L');
	assert_int_equal(f->c.out_len, 0);
	assert_int_equal(rd(f, RBR), 'L');
	assert_int_equal(f->c.in_head, 0);
	wr(f, MCR, 0x00);
	assert_int_equal(rd(f, MSR) & 0xf0, 0xb0);
	assert_int_equal(rd(f, RBR), 'H');
}

static void test_modem_status_interrupt(void **state)
{
	struct fixture *f = *state;
	wr(f, MCR, 0x10);
	wr(f, IER, 0x08);
	assert_true(f->level);
	assert_int_equal(rd(f, IIR), 0x00);
	uint8_t msr = rd(f, MSR);
	assert_int_equal(msr & 0x0f, 0x0b); /* DDCD | DDSR | DCTS: all dropped */
	assert_int_equal(rd(f, MSR) & 0x0f, 0);
	assert_false(f->level);
	wr(f, MCR, 0x14); /* RI rises: no TERI */
	assert_int_equal(rd(f, MSR) & 0x0f, 0);
	wr(f, MCR, 0x10); /* RI falls: TERI */
	assert_int_equal(rd(f, MSR) & 0x0f, 0x04);
}

static void test_overrun_line_status(void **state)
{
	struct fixture *f = *state;
	wr(f, FCR, 0x01);
	wr(f, MCR, 0x10);
	for (unsigned i = 0; i < 17; i++)
		wr(f, THR, (uint8_t)('A' + i));
	wr(f, IER, 0x05); /* RLS and RX */
	/* Line status outranks received data; reading LSR clears the error. */
	assert_int_equal(rd(f, IIR), 0xc6);
	assert_int_equal(rd(f, LSR), 0x63);
	assert_int_equal(rd(f, LSR), 0x61);
	assert_int_equal(rd(f, IIR), 0xc4);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(rd(f, RBR), 'A' + i);
	assert_false(f->level);
}

static void test_hostile_accesses(void **state)
{
	struct fixture *f = *state;
	wr(f, SCR, 0x77);
	/* Offsets past the registers read 0 and ignore writes. */
	for (uint64_t off = 8; off < UART16550_SIZE; off++) {
		uart16550_ops.write(&f->u, off, 1, 0xff);
		assert_int_equal(uart16550_ops.read(&f->u, off, 1), 0);
	}
	uart16550_ops.write(&f->u, 1ull << 40, 4, 0xff);
	assert_int_equal(uart16550_ops.read(&f->u, UINT64_MAX, 8), 0);
	assert_int_equal(rd(f, SCR), 0x77);
	assert_int_equal(rd(f, IER), 0);
	assert_int_equal(rd(f, LCR), 0);
	/* Every register, every size, every value: nothing breaks. */
	for (unsigned v = 0; v < 256; v++)
		for (uint64_t off = 0; off < 8; off++)
			for (unsigned size = 1; size <= 4; size *= 2) {
				uart16550_ops.write(&f->u, off, size, v * 0x01010101u);
				(void)uart16550_ops.read(&f->u, off, size);
			}
	struct uart16550_regs r;
	uart16550_save(&f->u, &r);
	assert_true(r.rx_head < 16);
	assert_true(r.rx_count <= 16);
}

static void test_no_backend(void **state)
{
	(void)state;
	struct uart16550 u;
	assert_int_equal(uart16550_init(&u, NULL, (struct irq_line){NULL, NULL, 0}), 0);
	uart16550_ops.write(&u, THR, 1, 'x');
	assert_int_equal(uart16550_ops.read(&u, LSR, 1), 0x60);
	assert_int_equal(uart16550_ops.read(&u, RBR, 1), 0);
	uart16550_destroy(&u);
}

static void test_save_restore(void **state)
{
	struct fixture *f = *state;
	struct uart16550_regs r;
	wr(f, FCR, 0x01);
	wr(f, IER, 0x01);
	wr(f, SCR, 0x42);
	type(f, "ab", 2);
	uart16550_save(&f->u, &r);
	assert_int_equal(r.rx_count, 2);
	assert_int_equal(rd(f, RBR), 'a');
	assert_int_equal(rd(f, RBR), 'b');
	assert_false(f->level);
	assert_int_equal(uart16550_restore(&f->u, &r), 0);
	assert_true(f->level);
	assert_int_equal(rd(f, SCR), 0x42);
	assert_int_equal(rd(f, RBR), 'a');

	struct uart16550_regs bad = r;
	bad.rx_count = 17;
	assert_int_equal(uart16550_restore(&f->u, &bad), -EINVAL);
	bad = r;
	bad.rx_head = 16;
	assert_int_equal(uart16550_restore(&f->u, &bad), -EINVAL);
	bad = r;
	bad.fcr = 0;
	bad.rx_count = 2; /* FIFO off: one byte at most */
	assert_int_equal(uart16550_restore(&f->u, &bad), -EINVAL);
	assert_int_equal(rd(f, RBR), 'b');
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_reset_values),
	    T(test_scratch_and_lcr),
	    T(test_divisor_latch),
	    T(test_transmit),
	    T(test_transmit_flood),
	    T(test_fifo_order_and_refill),
	    T(test_no_fifo_holds_one_byte),
	    T(test_lsr_read_pulls_input),
	    T(test_fcr_clears_rx),
	    T(test_rx_interrupt),
	    T(test_thre_interrupt),
	    T(test_iir_priority),
	    T(test_loopback),
	    T(test_modem_status_interrupt),
	    T(test_overrun_line_status),
	    T(test_hostile_accesses),
	    cmocka_unit_test(test_no_backend),
	    T(test_save_restore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
