/* ns16550a UART (16550 datasheet; as Linux's 8250 driver and earlycon drive it). Transmission
 * is instant: a THR write goes straight to the host backend, so THRE and TEMT always read 1.
 * Reception goes through a 16-byte FIFO (1 byte with FIFOs disabled) refilled from the backend
 * when the guest reads, and when the backend announces input. */
#include <errno.h>
#include <string.h>

#include "dev/uart16550.h"
#include "host/chr.h"
#include "state/stream.h"

/* Register offsets (reg-shift 0). */
enum {
	UART_RBR = 0, /* read, DLAB=0 */
	UART_THR = 0, /* write, DLAB=0 */
	UART_DLL = 0, /* DLAB=1 */
	UART_IER = 1, /* DLAB=0 */
	UART_DLM = 1, /* DLAB=1 */
	UART_IIR = 2, /* read */
	UART_FCR = 2, /* write */
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define UART_IER_ERBFI 0x01 /* received data available */
#define UART_IER_ETBEI 0x02 /* transmitter holding register empty */
#define UART_IER_ELSI  0x04 /* receiver line status */
#define UART_IER_EDSSI 0x08 /* modem status */
#define UART_IER_MASK  0x0f

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI    0x00
#define UART_IIR_THRI   0x02
#define UART_IIR_RDI    0x04
#define UART_IIR_RLSI   0x06
#define UART_IIR_FIFO   0xc0 /* FIFOs enabled */

#define UART_FCR_ENABLE   0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04
#define UART_FCR_KEEP     0xc9 /* FIFO enable, DMA mode, trigger level; the rest self-clear */

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_MCR_MASK 0x1f

#define UART_LSR_DR   0x01
#define UART_LSR_OE   0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_LSR_ERRS 0x1e /* OE, PE, FE, BI: cleared by reading LSR */

#define UART_MSR_DCTS  0x01
#define UART_MSR_DDSR  0x02
#define UART_MSR_TERI  0x04
#define UART_MSR_DDCD  0x08
#define UART_MSR_DELTA 0x0f
#define UART_MSR_CTS   0x10
#define UART_MSR_DSR   0x20
#define UART_MSR_RI    0x40
#define UART_MSR_DCD   0x80
/* Modem inputs with nothing in loopback: a modem that is present and ready. */
#define UART_MSR_IDLE (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)

#define UART_FIFO_SIZE     16
#define UART_STATE_VERSION 1

static unsigned rx_capacity(const struct uart16550_regs *r)
{
	return (r->fcr & UART_FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

static void rx_push(struct uart16550_regs *r, uint8_t c)
{
	if (r->rx_count >= rx_capacity(r)) {
		r->lsr |= UART_LSR_OE;
		return;
	}
	r->rx_fifo[(r->rx_head + r->rx_count) % UART_FIFO_SIZE] = c;
	r->rx_count++;
}

static uint8_t rx_pop(struct uart16550_regs *r)
{
	if (!r->rx_count)
		return 0;
	uint8_t c = r->rx_fifo[r->rx_head];
	r->rx_head = (uint8_t)((r->rx_head + 1) % UART_FIFO_SIZE);
	r->rx_count--;
	return c;
}

static void rx_clear(struct uart16550_regs *r)
{
	r->rx_head = 0;
	r->rx_count = 0;
}

/* Pull host input into the receive FIFO while there is room. In loopback the receiver is
 * connected to the transmitter, not to the host. */
static void rx_refill(struct uart16550 *u)
{
	struct uart16550_regs *r = &u->regs;
	unsigned cap = rx_capacity(r);
	if (!u->chr || u->hold_input || (r->mcr & UART_MCR_LOOP) || r->rx_count >= cap)
		return;
	uint8_t buf[UART_FIFO_SIZE];
	size_t n = u->chr->read(u->chr, buf, cap - r->rx_count);
	if (n > cap - r->rx_count)
		n = cap - r->rx_count;
	for (size_t i = 0; i < n; i++)
		rx_push(r, buf[i]);
}

/* The IIR value for the highest-priority pending enabled cause (datasheet table 4). */
static uint8_t uart_iir(const struct uart16550_regs *r)
{
	uint8_t id = UART_IIR_NO_INT;
	if ((r->ier & UART_IER_ELSI) && (r->lsr & UART_LSR_ERRS))
		id = UART_IIR_RLSI;
	else if ((r->ier & UART_IER_ERBFI) && r->rx_count)
		id = UART_IIR_RDI;
	else if ((r->ier & UART_IER_ETBEI) && r->thr_empty_pending)
		id = UART_IIR_THRI;
	else if ((r->ier & UART_IER_EDSSI) && (r->msr & UART_MSR_DELTA))
		id = UART_IIR_MSI;
	return (uint8_t)(id | ((r->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0));
}

/* Recompute the derived registers and drive the interrupt line. Called with the lock held. */
static void uart_update(struct uart16550 *u)
{
	struct uart16550_regs *r = &u->regs;
	r->lsr = (uint8_t)((r->lsr & UART_LSR_ERRS) | UART_LSR_THRE | UART_LSR_TEMT |
			   (r->rx_count ? UART_LSR_DR : 0));
	r->iir = uart_iir(r);
	irq_set(&u->irq, !(r->iir & UART_IIR_NO_INT));
}

/* The modem status inputs (MSR bits 7:4) for modem control mcr: fixed, or the modem control
 * outputs in loopback. */
static uint8_t modem_inputs(uint8_t mcr)
{
	if (!(mcr & UART_MCR_LOOP))
		return UART_MSR_IDLE;
	return (uint8_t)(((mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
			 ((mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
			 ((mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
			 ((mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0));
}

/* Latch the modem status inputs, setting the delta bits of those that changed. */
static void msr_update(struct uart16550_regs *r)
{
	uint8_t status = modem_inputs(r->mcr);
	uint8_t old = r->msr, changed = (uint8_t)(old ^ status);
	uint8_t delta =
	    (uint8_t)(((changed & UART_MSR_CTS) ? UART_MSR_DCTS : 0) |
		      ((changed & UART_MSR_DSR) ? UART_MSR_DDSR : 0) |
		      ((changed & UART_MSR_DCD) ? UART_MSR_DDCD : 0) |
		      /* TERI: the trailing edge of RI only */
		      ((old & UART_MSR_RI) && !(status & UART_MSR_RI) ? UART_MSR_TERI : 0));
	r->msr = (uint8_t)(status | (old & UART_MSR_DELTA) | delta);
}

static void uart_reset(struct uart16550_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->msr = UART_MSR_IDLE;
	r->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	r->iir = UART_IIR_NO_INT;
}

static void uart_notify(void *opaque)
{
	struct uart16550 *u = opaque;
	pthread_mutex_lock(&u->lock);
	rx_refill(u);
	uart_update(u);
	pthread_mutex_unlock(&u->lock);
}

size_t uart16550_read_input(struct uart16550 *u, uint8_t *buf, size_t len)
{
	size_t n = 0;
	pthread_mutex_lock(&u->lock);
	if (u->chr && !(u->regs.mcr & UART_MCR_LOOP)) {
		while (n < len) {
			rx_refill(u);
			if (!u->regs.rx_count)
				break;
			buf[n++] = rx_pop(&u->regs);
		}
		rx_refill(u);
		uart_update(u);
	}
	pthread_mutex_unlock(&u->lock);
	return n;
}

static int init(struct uart16550 *u, struct chr *chr, struct irq_line irq, bool hold_input)
{
	memset(u, 0, sizeof(*u));
	int rc = pthread_mutex_init(&u->lock, NULL);
	if (rc)
		return -rc;
	uart_reset(&u->regs);
	u->chr = chr;
	u->irq = irq;
	u->hold_input = hold_input; /* before the backend can call uart_notify */
	if (chr) {
		/* The backend's thread may be running already: publish the opaque pointer
		 * before the function that uses it. */
		__atomic_store_n(&chr->notify_opaque, u, __ATOMIC_RELAXED);
		__atomic_store_n(&chr->notify, uart_notify, __ATOMIC_RELEASE);
	}
	return 0;
}

int uart16550_init(struct uart16550 *u, struct chr *chr, struct irq_line irq)
{
	return init(u, chr, irq, false);
}

int uart16550_init_for_restore(struct uart16550 *u, struct chr *chr, struct irq_line irq)
{
	return init(u, chr, irq, true);
}

/* The backend may already be closed and freed (the VMM closes it first), so it is not
 * touched here. */
void uart16550_destroy(struct uart16550 *u)
{
	pthread_mutex_destroy(&u->lock);
}

static uint8_t uart_read_reg(struct uart16550 *u, uint64_t offset)
{
	struct uart16550_regs *r = &u->regs;
	bool dlab = r->lcr & UART_LCR_DLAB;
	uint8_t v;
	switch (offset) {
	case UART_RBR:
		if (dlab)
			return r->dll;
		v = rx_pop(r);
		rx_refill(u);
		return v;
	case UART_IER: return dlab ? r->dlm : r->ier;
	case UART_IIR:
		v = uart_iir(r);
		/* Reading IIR acknowledges a THRE interrupt when it is the one reported. */
		if ((v & 0x0f) == UART_IIR_THRI)
			r->thr_empty_pending = 0;
		return v;
	case UART_LCR: return r->lcr;
	case UART_MCR: return r->mcr;
	case UART_LSR:
		rx_refill(u);
		v = (uint8_t)((r->lsr & UART_LSR_ERRS) | UART_LSR_THRE | UART_LSR_TEMT |
			      (r->rx_count ? UART_LSR_DR : 0));
		r->lsr &= (uint8_t)~UART_LSR_ERRS;
		return v;
	case UART_MSR:
		v = r->msr;
		r->msr &= (uint8_t)~UART_MSR_DELTA;
		return v;
	case UART_SCR: return r->scr;
	default: return 0;
	}
}

static void uart_transmit(struct uart16550 *u, uint8_t c)
{
	struct uart16550_regs *r = &u->regs;
	if (r->mcr & UART_MCR_LOOP)
		rx_push(r, c);
	else if (u->chr)
		u->chr->write(u->chr, &c, 1);
	/* The byte left THR at once: THR is empty again, and says so. */
	r->thr_empty_pending = 1;
}

static void uart_write_reg(struct uart16550 *u, uint64_t offset, uint8_t v)
{
	struct uart16550_regs *r = &u->regs;
	bool dlab = r->lcr & UART_LCR_DLAB;
	switch (offset) {
	case UART_THR:
		if (dlab)
			r->dll = v;
		else
			uart_transmit(u, v);
		break;
	case UART_IER:
		if (dlab) {
			r->dlm = v;
			break;
		}
		/* Enabling ETBEI while THR is empty (always, here) raises the THRE interrupt. */
		if ((v & UART_IER_ETBEI) && !(r->ier & UART_IER_ETBEI))
			r->thr_empty_pending = 1;
		r->ier = v & UART_IER_MASK;
		break;
	case UART_FCR:
		/* Changing the FIFO enable clears both FIFOs (datasheet, FCR bit 0). */
		if (((v ^ r->fcr) & UART_FCR_ENABLE) || (v & UART_FCR_CLEAR_RX))
			rx_clear(r);
		r->fcr = v & UART_FCR_KEEP;
		rx_refill(u);
		break;
	case UART_LCR: r->lcr = v; break;
	case UART_MCR:
		r->mcr = v & UART_MCR_MASK;
		msr_update(r);
		rx_refill(u);
		break;
	case UART_SCR: r->scr = v; break;
	default: break; /* LSR and MSR are read-only; unknown offsets ignore writes */
	}
}

static uint64_t uart_read(void *opaque, uint64_t offset, unsigned size)
{
	struct uart16550 *u = opaque;
	(void)size;
	pthread_mutex_lock(&u->lock);
	uint8_t v = uart_read_reg(u, offset);
	uart_update(u);
	pthread_mutex_unlock(&u->lock);
	return v;
}

static void uart_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct uart16550 *u = opaque;
	(void)size;
	pthread_mutex_lock(&u->lock);
	uart_write_reg(u, offset, (uint8_t)value);
	uart_update(u);
	pthread_mutex_unlock(&u->lock);
}

const struct mmio_ops uart16550_ops = {
    .read = uart_read,
    .write = uart_write,
    .min_size = 1,
    .max_size = 4,
};

void uart16550_save(struct uart16550 *u, struct uart16550_regs *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->regs;
	pthread_mutex_unlock(&u->lock);
}

int uart16550_restore(struct uart16550 *u, const struct uart16550_regs *in)
{
	unsigned cap = (in->fcr & UART_FCR_ENABLE) ? UART_FIFO_SIZE : 1;
	if (in->rx_head >= UART_FIFO_SIZE || in->rx_count > cap || in->thr_empty_pending > 1 ||
	    (in->ier & ~UART_IER_MASK) || (in->mcr & ~UART_MCR_MASK) || (in->fcr & ~UART_FCR_KEEP))
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	u->regs = *in;
	u->hold_input = false; /* what came meanwhile waited in the backend */
	rx_refill(u);
	uart_update(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

void uart16550_state_save(struct uart16550 *u, struct state_out *o)
{
	struct uart16550_regs r;
	uart16550_save(u, &r);
	state_begin(o, "uart", UART_STATE_VERSION);
	state_put_u8(o, r.ier);
	state_put_u8(o, r.iir);
	state_put_u8(o, r.lcr);
	state_put_u8(o, r.mcr);
	state_put_u8(o, r.lsr);
	state_put_u8(o, r.msr);
	state_put_u8(o, r.scr);
	state_put_u8(o, r.fcr);
	state_put_u8(o, r.dll);
	state_put_u8(o, r.dlm);
	state_put_u8(o, r.rx_head);
	state_put_u8(o, r.rx_count);
	state_put_u8(o, r.thr_empty_pending);
	state_put_bytes(o, r.rx_fifo, sizeof(r.rx_fifo));
	state_end(o);
}

/* Check r against what the device can hold: the fields the guest writes within their masks,
 * the receive FIFO within its capacity, and the registers the device derives (LSR, IIR, the
 * modem inputs of MSR) equal to what it would derive. */
static bool uart_check(struct state_in *in, const struct uart16550_regs *r)
{
	unsigned cap = rx_capacity(r);
	uint8_t lsr = (uint8_t)((r->lsr & UART_LSR_OE) | UART_LSR_THRE | UART_LSR_TEMT |
				(r->rx_count ? UART_LSR_DR : 0));
	return state_check(in, !(r->ier & ~UART_IER_MASK), "ier 0x%02x has reserved bits",
			   r->ier) &&
	       state_check(in, !(r->mcr & ~UART_MCR_MASK), "mcr 0x%02x has reserved bits",
			   r->mcr) &&
	       state_check(in, !(r->fcr & ~UART_FCR_KEEP), "fcr 0x%02x has self-clearing bits set",
			   r->fcr) &&
	       state_check(in, r->rx_head < UART_FIFO_SIZE, "rx_head %u is past the %u-byte FIFO",
			   r->rx_head, UART_FIFO_SIZE) &&
	       state_check(in, r->rx_count <= cap,
			   "rx_count %u is more than the receiver holds: %u with FIFOs %s",
			   r->rx_count, cap, cap > 1 ? "enabled" : "disabled") &&
	       state_check(in, r->thr_empty_pending <= 1, "thr_empty_pending is %u, not 0 or 1",
			   r->thr_empty_pending) &&
	       state_check(in, r->lsr == lsr, "lsr 0x%02x where the state gives 0x%02x", r->lsr,
			   lsr) &&
	       state_check(in, r->iir == uart_iir(r), "iir 0x%02x where the state gives 0x%02x",
			   r->iir, uart_iir(r)) &&
	       state_check(in, (r->msr & ~UART_MSR_DELTA) == modem_inputs(r->mcr),
			   "msr 0x%02x: its modem inputs are not 0x%02x as mcr 0x%02x gives",
			   r->msr, modem_inputs(r->mcr), r->mcr);
}

int uart16550_state_load(struct uart16550 *u, struct state_in *in)
{
	uint32_t version = state_enter(in, "uart");
	if (!state_check(in, version == UART_STATE_VERSION,
			 "layout version %u, this build reads %u", version, UART_STATE_VERSION))
		return -EINVAL;
	struct uart16550_regs r;
	memset(&r, 0, sizeof(r));
	r.ier = state_get_u8(in);
	r.iir = state_get_u8(in);
	r.lcr = state_get_u8(in);
	r.mcr = state_get_u8(in);
	r.lsr = state_get_u8(in);
	r.msr = state_get_u8(in);
	r.scr = state_get_u8(in);
	r.fcr = state_get_u8(in);
	r.dll = state_get_u8(in);
	r.dlm = state_get_u8(in);
	r.rx_head = state_get_u8(in);
	r.rx_count = state_get_u8(in);
	r.thr_empty_pending = state_get_u8(in);
	state_get_bytes(in, r.rx_fifo, sizeof(r.rx_fifo));
	if (in->failed || !uart_check(in, &r) || !state_leave(in) ||
	    !state_check(in, uart16550_restore(u, &r) == 0, "the registers are inconsistent"))
		return -EINVAL;
	return 0;
}
