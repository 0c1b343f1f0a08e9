/* libFuzzer target for the SBI rvisor serves in place of M-mode firmware (src/sbi/sbi.c, SBI
 * spec 2.0): sequences of ecalls with any a0-a7 from one hart of a machine of 1 to 4 harts, in
 * any HSM states, over guest RAM taken from the input, with a console backend that offers
 * input from the input.
 *
 * Input layout (little-endian):
 *   0  u8  harts (1 + value % 4)       1  u8  calling hart (modulo harts)
 *   2  u8  stopped harts, one bit each  3  u8  number of calls (at most MAX_CALLS used)
 *   4  u8  console bytes on offer       5-7 unused
 *   8  calls, 64 bytes each: a7 (EID), a6 (FID), a0-a5 as u64; an a7 whose top byte is 0xee
 *      names the implemented extension (a7 % 11) of the table below, so mutations stay in
 *      the interesting ones
 *      then the console's input bytes, then the RAM image (the rest of RAM is zero).
 *
 * Checks after every call (abort() when broken): a0 is SBI_SUCCESS or one of the errors of
 * SBI spec 3.2 for every extension past the legacy ones (legacy getchar: a byte or -1); an
 * unknown extension is SBI_ERR_NOT_SUPPORTED; probe_extension answers 0 or 1; a started
 * hart_start names an existing, stopped hart and a start address in RAM, and that hart then
 * starts there in S-mode with a0 = its id and a1 = opaque; a failed one changes no hart; a
 * successful DBCN write or read names bytes inside RAM (or none) and returns at most their number,
 * and a failed one writes no RAM; hart_get_status matches the hart's state; a system reset either
 * stops the machine with the status it asks for or fails with SBI_ERR_INVALID_PARAM or
 * SBI_ERR_NOT_SUPPORTED, leaving it running. RAM is a heap block, so AddressSanitizer reports
 * any access beyond it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/hart.h"
#include "host/chr.h"
#include "mem/guest_mem.h"
#include "sbi/sbi.h"
#include "vmm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* vcpu.c is linked for vm_request_exit; its vm_run (never called here) passes the terminal's
 * resizes to the virtio console, in machine.c, which this target does not link. */
void vm_console_resized(struct vm *vm)
{
	(void)vm;
}

#define RAM_BASE  0x80000000ull
#define RAM_SIZE  0x10000ull
#define MAX_HARTS 4u
#define MAX_CALLS 64u
#define HEADER    8u
#define CALL      64u

static const uint64_t known[] = {0x00,     0x01,       0x02,     0x08,       0x10,      0x54494d45,
				 0x735049, 0x52464e43, 0x48534d, 0x53525354, 0x4442434e};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

static struct {
	struct vm vm;
	struct hart harts[MAX_HARTS];
	struct chr chr;
	uint8_t *image; /* RAM as the input left it */
	const uint8_t *in;
	size_t in_len, in_pos;
	uint64_t written; /* console bytes written */
	bool ready;
} sz;

static void check(bool ok, const char *what, uint64_t a, uint64_t b)
{
	if (!ok) {
		fprintf(stderr, "invariant broken: %s (0x%llx, 0x%llx)\n", what,
			(unsigned long long)a, (unsigned long long)b);
		abort();
	}
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void chr_write(struct chr *c, const void *buf, size_t len)
{
	(void)c;
	/* Touch every byte: a buffer past RAM's end is an AddressSanitizer report. */
	const volatile uint8_t *p = buf;
	uint8_t x = 0;
	for (size_t i = 0; i < len; i++)
		x ^= p[i];
	(void)x;
	sz.written += len;
}

static size_t chr_read(struct chr *c, void *buf, size_t len)
{
	(void)c;
	size_t n = sz.in_len - sz.in_pos < len ? sz.in_len - sz.in_pos : len;
	if (n)
		memcpy(buf, sz.in + sz.in_pos, n);
	sz.in_pos += n;
	return n;
}

static uint64_t fake_time(void *opaque)
{
	(void)opaque;
	return 1000000;
}

static void setup(void)
{
	struct vm *vm = &sz.vm;
	vm->mem.hva = aligned_alloc(4096, RAM_SIZE);
	sz.image = malloc(RAM_SIZE);
	if (!vm->mem.hva || !sz.image)
		abort();
	vm->mem.base = RAM_BASE;
	vm->mem.size = RAM_SIZE;
	vm->mem.fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	sz.chr.write = chr_write;
	sz.chr.read = chr_read;
	vm->console = &sz.chr;
	vm->harts = sz.harts;
	struct hart_env env = {.opaque = vm, .sbi_call = sbi_call, .time_now = fake_time};
	for (unsigned i = 0; i < MAX_HARTS; i++)
		if (hart_init(&sz.harts[i], i, &vm->mem, &vm->bus, &env))
			abort();
	sz.ready = true;
}

static bool sbi_error(int64_t e)
{
	return e <= 0 && e >= -6;
}

static bool in_ram(uint64_t gpa, uint64_t len)
{
	return gpa >= RAM_BASE && gpa - RAM_BASE <= RAM_SIZE && len <= RAM_SIZE - (gpa - RAM_BASE);
}

static void one_call(unsigned self, const uint8_t *c)
{
	struct vm *vm = &sz.vm;
	struct hart *h = &sz.harts[self];
	uint64_t a7 = le64(c), a6 = le64(c + 8), a[6];
	for (unsigned i = 0; i < 6; i++)
		a[i] = le64(c + 16 + 8 * i);
	if (a7 >> 56 == 0xee)
		a7 = known[a7 % NKNOWN];
	h->x[17] = a7;
	h->x[16] = a6;
	for (unsigned i = 0; i < 6; i++)
		h->x[10 + i] = a[i];
	h->priv = PRV_S;
	int stopped[MAX_HARTS];
	uint64_t pcs[MAX_HARTS];
	for (unsigned i = 0; i < vm->nharts; i++) {
		stopped[i] = atomic_load(&sz.harts[i].stopped);
		pcs[i] = sz.harts[i].pc;
	}
	int status_before = vm->status;
	memcpy(sz.image, vm->mem.hva, RAM_SIZE);
	uint64_t written = sz.written;

	check(sbi_call(vm, h), "sbi_call returns true", a7, a6);
	int64_t err = (int64_t)h->x[10];
	uint64_t val = h->x[11];

	bool is_known = false;
	for (unsigned i = 0; i < NKNOWN; i++)
		is_known |= known[i] == a7;
	if (!is_known) {
		check(err == -2, "an unknown extension is SBI_ERR_NOT_SUPPORTED", a7,
		      (uint64_t)err);
		return;
	}
	if (a7 == 0x02) { /* legacy getchar: the byte or -1 */
		check(err == -1 || (err >= 0 && err <= 255), "legacy getchar", (uint64_t)err, 0);
		return;
	}
	if (a7 >= 0x10)
		check(sbi_error(err), "a0 is an SBI error code", a7, (uint64_t)err);
	bool ram_same = !memcmp(sz.image, vm->mem.hva, RAM_SIZE);
	switch (a7) {
	case 0x10:
		if (a6 == 3 && err == 0)
			check(val <= 1, "probe_extension answers 0 or 1", a[0], val);
		check(ram_same, "BASE writes no RAM", a6, 0);
		break;
	case 0x48534d: /* HSM */
		if (a6 == 0) {
			for (unsigned i = 0; i < vm->nharts; i++)
				if (i != a[0] || err)
					check(atomic_load(&sz.harts[i].stopped) == stopped[i] &&
						  sz.harts[i].pc == pcs[i],
					      "hart_start changes only the hart it starts", i,
					      a[0]);
			if (err == 0) {
				check(a[0] < vm->nharts && stopped[a[0]],
				      "hart_start of a stopped hart", a[0], vm->nharts);
				check(in_ram(a[1], 2), "hart_start at an address in RAM", a[1], 0);
				struct hart *t = &sz.harts[a[0]];
				check(!atomic_load(&t->stopped) && t->pc == a[1] &&
					  t->priv == PRV_S && t->x[10] == a[0] && t->x[11] == a[2],
				      "a started hart starts where asked", t->pc, a[1]);
			} else if (a[0] < vm->nharts && stopped[a[0]]) {
				check(err == -5 && ((a[1] & 1) || !in_ram(a[1], 2)),
				      "hart_start of a stopped hart fails only for its address",
				      a[1], (uint64_t)err);
			}
		}
		if (a6 == 2) {
			if (a[0] < vm->nharts)
				check(err == 0 && val == (stopped[a[0]] ? 1u : 0u),
				      "hart_get_status matches the hart", a[0], val);
			else
				check(err == -3, "hart_get_status of a missing hart", a[0],
				      (uint64_t)err);
		}
		check(ram_same, "HSM writes no RAM", a6, 0);
		break;
	case 0x4442434e: /* DBCN */
		if (a6 == 0 || a6 == 1) {
			if (err == 0) {
				check(a[2] == 0 && (a[0] == 0 || in_ram(a[1], a[0])),
				      "DBCN names bytes in RAM", a[1], a[0]);
				check(val <= a[0], "DBCN returns at most the bytes asked", val,
				      a[0]);
				if (a6 == 0)
					check(sz.written - written == a[0],
					      "a DBCN write writes them all", a[0],
					      sz.written - written);
			} else {
				check(ram_same, "a failed DBCN call writes no RAM", a[1], a[0]);
			}
		}
		if (a6 == 0)
			check(ram_same, "a DBCN write writes no RAM", a[1], a[0]);
		break;
	case 0x53525354: /* SRST */
		if (err == 0 && status_before == VM_STATUS_RUNNING) {
			int want = a[0] == 0 ? (a[1] == 0 ? VM_STATUS_POWEROFF : VM_STATUS_FAIL)
					     : VM_STATUS_REBOOT;
			check(a6 == 0 && a[0] <= 2 && a[1] <= 1 && vm->status == want,
			      "a system reset stops the machine as asked", a[0], a[1]);
		} else if (err) {
			check(err == -3 || err == -2, "a refused reset", a[0], (uint64_t)err);
			check(vm->status == status_before, "a refused reset leaves it running",
			      a[0], a[1]);
		}
		break;
	default: check(ram_same, "no RAM written", a7, a6); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER)
		return 0;
	if (!sz.ready)
		setup();
	struct vm *vm = &sz.vm;
	vm->nharts = 1 + data[0] % MAX_HARTS;
	unsigned self = data[1] % vm->nharts;
	unsigned ncalls = data[3] < MAX_CALLS ? data[3] : MAX_CALLS;
	size_t calls_end = HEADER + (size_t)ncalls * CALL;
	if (calls_end > size)
		ncalls = (unsigned)((size - HEADER) / CALL), calls_end = HEADER + ncalls * CALL;
	size_t in_len = data[4];
	if (in_len > size - calls_end)
		in_len = size - calls_end;
	sz.in = data + calls_end;
	sz.in_len = in_len;
	sz.in_pos = 0;
	size_t ram = size - calls_end - in_len;
	if (ram > RAM_SIZE)
		ram = RAM_SIZE;
	memset(vm->mem.hva, 0, RAM_SIZE);
	memcpy(vm->mem.hva, data + calls_end + in_len, ram);
	vm->status = VM_STATUS_RUNNING;
	for (unsigned i = 0; i < vm->nharts; i++) {
		struct hart *t = &sz.harts[i];
		atomic_store(&t->stopped, i != self && ((data[2] >> i) & 1));
		/* Other harts do not run here: a remote fence must not wait for them. */
		atomic_store(&t->exit_req, i != self);
		atomic_store(&t->fence_req, 0);
		t->pc = RAM_BASE;
		t->mip = 0;
	}
	for (unsigned n = 0; n < ncalls; n++) {
		atomic_store(&sz.harts[self].exit_req, 0);
		if (atomic_load(&sz.harts[self].stopped))
			break; /* hart_stop: this hart makes no more calls */
		one_call(self, data + HEADER + (size_t)n * CALL);
	}
	return 0;
}
