/* libFuzzer target for the guest image loaders (src/vmm/boot.c): the Linux RISC-V Image
 * format (gzip-compressed too), ELF64, raw binaries and the initrd, each read from a file the
 * input becomes, into 8 MiB of guest RAM at 0x8000_0000.
 *
 * Input: byte 0 picks the loader (0: kernel, 1: firmware, 2: initrd), the rest is the file.
 * Checks besides ASan/UBSan: a load that succeeds says where it landed inside RAM (start <
 * end, both in RAM; an initrd between its floor and limit, 4 KiB-aligned, exactly the file's
 * length) and wrote nothing outside that range (RAM starts zeroed: every other byte is still
 * zero); a load that fails says why in err (a non-empty sentence). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem/guest_mem.h"
#include "vmm/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (8ull << 20)

#define CHECK(cond, ...)                                                                \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_loader: invariant broken: " __VA_ARGS__); \
			fputc('\n', stderr);                                            \
			abort();                                                        \
		}                                                                       \
	} while (0)

static bool in_ram(uint64_t a)
{
	return a >= RAM_BASE && a - RAM_BASE <= RAM_SIZE;
}

/* Guest-physical [from, to) of m holds only zeroes. */
static bool zero_between(const struct guest_mem *m, uint64_t from, uint64_t to)
{
	for (; from < to && from % 8; from++)
		if (m->hva[from - RAM_BASE])
			return false;
	uint64_t acc = 0;
	for (; from + 8 <= to; from += 8)
		acc |= *(const uint64_t *)(m->hva + (from - RAM_BASE));
	for (; from < to; from++)
		acc |= m->hva[from - RAM_BASE];
	return !acc;
}

/* Every byte outside [start, end) is still zero. Only the pages of the memfd that were
 * written exist (SEEK_DATA); the rest reads as zeroes without being looked at. */
static void only_inside(const struct guest_mem *m, uint64_t start, uint64_t end)
{
	off_t off = 0;
	for (;;) {
		off_t d = lseek(m->fd, off, SEEK_DATA);
		if (d < 0)
			return;
		off_t h = lseek(m->fd, d, SEEK_HOLE);
		uint64_t a = RAM_BASE + (uint64_t)d,
			 b = RAM_BASE + (uint64_t)(h < 0 ? RAM_SIZE : h);
		CHECK(zero_between(m, a, b < start ? b : start) &&
			  zero_between(m, a > end ? a : end, b),
		      "bytes written outside [%#llx, %#llx)", (unsigned long long)start,
		      (unsigned long long)end);
		if (h < 0 || (uint64_t)h >= RAM_SIZE)
			return;
		off = h;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned which = data[0] % 3;
	int fd = memfd_create("fuzz-image", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	size_t left = size - 1;
	const uint8_t *p = data + 1;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n <= 0)
			abort();
		p += n;
		left -= (size_t)n;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	/* One RAM for every input, given back (zeroed) after each. */
	static struct guest_mem m;
	if (!m.hva && guest_mem_init(&m, RAM_BASE, RAM_SIZE))
		abort();
	char err[512] = "";
	int rc;
	if (which < 2) {
		struct boot_image img;
		memset(&img, 0, sizeof(img));
		rc = (which ? boot_load_firmware : boot_load_kernel)(&m, path, RAM_BASE, &img, err,
								     sizeof(err));
		if (!rc) {
			CHECK(img.start < img.end && in_ram(img.start) && in_ram(img.end),
			      "loaded at [%#llx, %#llx)", (unsigned long long)img.start,
			      (unsigned long long)img.end);
			only_inside(&m, img.start, img.end);
		}
	} else {
		uint64_t floor = RAM_BASE + (4u << 20), limit = RAM_BASE + RAM_SIZE - 4096, s = 0,
			 e = 0;
		rc = boot_load_initrd(&m, path, floor, limit, &s, &e, err, sizeof(err));
		if (!rc) {
			CHECK(s >= floor && e <= limit && s <= e && s % 4096 == 0,
			      "initrd at [%#llx, %#llx)", (unsigned long long)s,
			      (unsigned long long)e);
			CHECK(e - s == size - 1, "an initrd of %zu bytes took %llu", size - 1,
			      (unsigned long long)(e - s));
			only_inside(&m, s, e);
		}
	}
	if (rc)
		CHECK(rc < 0 && err[0], "failed with %d and no sentence", rc);
	if (guest_mem_discard(&m, RAM_BASE, RAM_SIZE))
		abort();
	close(fd);
	return 0;
}
