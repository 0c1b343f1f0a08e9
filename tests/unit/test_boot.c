/* Unit tests of the image loaders: RISC-V Linux Image (boot-image-header.rst), ELF64 (gABI),
 * raw binaries and the initrd, each from a temporary file; and the errors for every kind of
 * bad input, which must name the file and leave the host unharmed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "mem/guest_mem.h"
#include "vmm/boot.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (16ull << 20)
#define MiB      (1ull << 20)

struct fixture {
	struct guest_mem mem;
	char dir[256];
	char path[300];
	char err[512];
	struct boot_image img;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/rvisor-boot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[300];
	snprintf(path, sizeof(path), "%s/sub", f->dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/file", f->dir);
	unlink(path);
	rmdir(f->dir);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

/* Write len bytes to a fresh temporary file (mkstemp) and return its path in f->path. */
static const char *write_file(struct fixture *f, const void *data, size_t len)
{
	snprintf(f->path, sizeof(f->path), "%s/file", f->dir);
	unlink(f->path);
	snprintf(f->path, sizeof(f->path), "%s/imgXXXXXX", f->dir);
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	/* Keep one name per test so teardown can remove it. */
	char final[300];
	snprintf(final, sizeof(final), "%s/file", f->dir);
	assert_int_equal(rename(f->path, final), 0);
	snprintf(f->path, sizeof(f->path), "%s", final);
	return f->path;
}

static uint8_t *ram(struct fixture *f, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&f->mem, gpa, len);
	assert_non_null(p);
	return p;
}

/* err must name the file and mention want. */
static void assert_err(const struct fixture *f, const char *want)
{
	if (!strstr(f->err, f->path))
		fail_msg("error does not name the file: %s", f->err);
	if (!strstr(f->err, want))
		fail_msg("error lacks '%s': %s", want, f->err);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static int load(struct fixture *f, uint64_t raw_gpa)
{
	memset(&f->img, 0xa5, sizeof(f->img));
	f->err[0] = 0;
	return boot_load_kernel(&f->mem, f->path, raw_gpa, &f->img, f->err, sizeof(f->err));
}

/* ---- Image ---- */

/* An Image of len bytes with the 64-byte header (version 0.2, both magics). */
static uint8_t *make_image(size_t len, uint64_t text_offset, uint64_t image_size)
{
	uint8_t *p = malloc(len);
	assert_non_null(p);
	fill(p, len, 3);
	put32(p + 0, 0x0000006f); /* code0: j . (any code) */
	put32(p + 4, 0);
	put64(p + 8, text_offset);
	put64(p + 16, image_size);
	put64(p + 24, 0); /* flags: little-endian */
	put32(p + 32, 2); /* version 0.2 */
	put32(p + 36, 0);
	put64(p + 40, 0);
	memcpy(p + 48, "RISCV\0\0\0", 8);
	memcpy(p + 56, "RSC\x05", 4);
	put32(p + 60, 0);
	return p;
}

static void test_image_loads_at_text_offset(void **state)
{
	struct fixture *f = *state;
	size_t len = 0x1800;
	uint8_t *img = make_image(len, 0x200000, 0x3000);
	write_file(f, img, len);
	/* Dirty the bss range: it must come back zeroed. */
	memset(ram(f, RAM_BASE + 0x200000 + len, 0x3000 - len), 0xee, 0x3000 - len);

	assert_int_equal(load(f, RAM_BASE), 0);
	assert_int_equal(f->img.format, BOOT_FORMAT_IMAGE);
	assert_int_equal(f->img.entry, RAM_BASE + 0x200000);
	assert_int_equal(f->img.start, RAM_BASE + 0x200000);
	assert_int_equal(f->img.end, RAM_BASE + 0x200000 + 0x3000);
	assert_int_equal(f->img.tohost, 0);
	assert_memory_equal(ram(f, RAM_BASE + 0x200000, len), img, len);
	uint8_t zero[0x3000 - 0x1800] = {0};
	assert_memory_equal(ram(f, RAM_BASE + 0x200000 + len, sizeof(zero)), zero, sizeof(zero));
	free(img);
}

static void test_image_text_offset_zero_means_2mib(void **state)
{
	struct fixture *f = *state;
	uint8_t *img = make_image(256, 0, 256);
	write_file(f, img, 256);
	assert_int_equal(load(f, RAM_BASE), 0);
	assert_int_equal(f->img.entry, RAM_BASE + 2 * MiB);
	assert_memory_equal(ram(f, RAM_BASE + 2 * MiB, 256), img, 256);
	free(img);
}

/* image_size smaller than the file: the file's length wins. */
static void test_image_end_covers_file(void **state)
{
	struct fixture *f = *state;
	uint8_t *img = make_image(0x2000, 0x400000, 0x1000);
	write_file(f, img, 0x2000);
	assert_int_equal(load(f, RAM_BASE), 0);
	assert_int_equal(f->img.start, RAM_BASE + 0x400000);
	assert_int_equal(f->img.end, RAM_BASE + 0x400000 + 0x2000);
	free(img);
}

/* Header version 0.1 kernels carry only the deprecated magic. */
static void test_image_old_magic_only(void **state)
{
	struct fixture *f = *state;
	uint8_t *img = make_image(128, 0x200000, 128);
	memset(img + 56, 0, 4);
	write_file(f, img, 128);
	assert_int_equal(load(f, RAM_BASE + 0x1000), 0);
	assert_int_equal(f->img.format, BOOT_FORMAT_IMAGE);
	assert_int_equal(f->img.entry, RAM_BASE + 0x200000);
	free(img);
}

static void test_image_too_big_for_ram(void **state)
{
	struct fixture *f = *state;
	uint8_t *img = make_image(256, 0x200000, 40 * MiB);
	write_file(f, img, 256);
	memset(ram(f, RAM_BASE + 0x200000, 256), 0, 256);
	assert_int_equal(load(f, RAM_BASE), -EFBIG);
	assert_err(f, "--mem");
	/* Nothing was written. */
	uint8_t zero[256] = {0};
	assert_memory_equal(ram(f, RAM_BASE + 0x200000, 256), zero, 256);
	free(img);
}

static void test_image_text_offset_beyond_ram(void **state)
{
	struct fixture *f = *state;
	uint8_t *img = make_image(256, RAM_SIZE, 256);
	write_file(f, img, 256);
	assert_int_equal(load(f, RAM_BASE), -EFBIG);
	assert_err(f, "--mem");
	free(img);
	img = make_image(256, UINT64_MAX - 16, 256);
	write_file(f, img, 256);
	assert_true(load(f, RAM_BASE) < 0);
	assert_err(f, "");
	free(img);
}

/* An EFI-stub Image: "MZ" in code0, the PE header at res3, two sections whose raw data ends
 * at raw_end. */
static uint8_t *make_pe_image(size_t len, uint32_t raw_end)
{
	uint8_t *p = make_image(len, 0x200000, len + 0x1000);
	p[0] = 'M';
	p[1] = 'Z';
	put32(p + 60, 0x40); /* res3: PE header offset */
	uint8_t *pe = p + 0x40;
	memcpy(pe, "PE\0\0", 4);
	put16(pe + 4, 0x5064); /* Machine: RISCV64 */
	put16(pe + 6, 2);      /* NumberOfSections */
	put16(pe + 20, 0x70);  /* SizeOfOptionalHeader */
	uint8_t *sec = pe + 24 + 0x70;
	memset(sec, 0, 80);
	memcpy(sec, ".text", 5);
	put32(sec + 16, 0x1000 - 0x200); /* SizeOfRawData */
	put32(sec + 20, 0x200);          /* PointerToRawData */
	memcpy(sec + 40, ".data", 5);
	put32(sec + 40 + 16, raw_end - 0x1000);
	put32(sec + 40 + 20, 0x1000);
	return p;
}

static void test_image_pe_complete(void **state)
{
	struct fixture *f = *state;
	uint8_t *img = make_pe_image(0x3000, 0x3000);
	write_file(f, img, 0x3000);
	assert_int_equal(load(f, RAM_BASE), 0);
	assert_int_equal(f->img.format, BOOT_FORMAT_IMAGE);
	assert_memory_equal(ram(f, RAM_BASE + 0x200000, 0x3000), img, 0x3000);
	free(img);
}

static void test_image_pe_truncated(void **state)
{
	struct fixture *f = *state;
	uint8_t *img = make_pe_image(0x3000, 0x300000);
	write_file(f, img, 0x3000);
	assert_int_equal(load(f, RAM_BASE), -ENOEXEC);
	assert_err(f, "truncated");
	assert_err(f, "3 MiB");
	free(img);
}

/* ---- ELF ---- */

struct elf_seg {
	uint64_t vaddr, paddr, filesz, memsz;
	uint8_t seed;
};

/* A little ELF64 EM_RISCV executable: the segments, then .symtab with tohost at tohost_va and
 * fromhost at tohost_va + 8 (no symbols when tohost_va is 0), then the section headers. */
static uint8_t *make_elf(const struct elf_seg *segs, unsigned nseg, uint64_t entry,
			 uint64_t tohost_va, size_t *len_out)
{
	static const char strtab[] = "\0tohost\0fromhost\0other";
	size_t off = 64 + 56 * (size_t)nseg, data_off[8];
	for (unsigned i = 0; i < nseg; i++) {
		data_off[i] = off;
		off += segs[i].filesz;
	}
	size_t sym_off = off, str_off = sym_off + 4 * 24, sh_off = str_off + sizeof(strtab);
	size_t len = sh_off + 3 * 64;
	uint8_t *p = calloc(1, len);
	assert_non_null(p);

	memcpy(p, (const uint8_t[4]){0x7f, 'E', 'L', 'F'}, 4);
	p[4] = 2;           /* ELFCLASS64 */
	p[5] = 1;           /* ELFDATA2LSB */
	p[6] = 1;           /* EV_CURRENT */
	put16(p + 16, 2);   /* ET_EXEC */
	put16(p + 18, 243); /* EM_RISCV */
	put32(p + 20, 1);
	put64(p + 24, entry);
	put64(p + 32, 64); /* e_phoff */
	put64(p + 40, tohost_va ? sh_off : 0);
	put16(p + 52, 64);
	put16(p + 54, 56);
	put16(p + 56, (uint16_t)nseg);
	put16(p + 58, 64);
	put16(p + 60, tohost_va ? 3 : 0);
	for (unsigned i = 0; i < nseg; i++) {
		uint8_t *ph = p + 64 + 56 * (size_t)i;
		put32(ph, 1); /* PT_LOAD */
		put32(ph + 4, 5);
		put64(ph + 8, data_off[i]);
		put64(ph + 16, segs[i].vaddr);
		put64(ph + 24, segs[i].paddr);
		put64(ph + 32, segs[i].filesz);
		put64(ph + 40, segs[i].memsz);
		put64(ph + 48, 0x1000);
		fill(p + data_off[i], segs[i].filesz, segs[i].seed);
	}
	if (tohost_va) {
		uint8_t *sym = p + sym_off; /* [0] is the null symbol */
		put32(sym + 24, 1);         /* tohost */
		put64(sym + 24 + 8, tohost_va);
		put32(sym + 48, 8); /* fromhost */
		put64(sym + 48 + 8, tohost_va + 8);
		put32(sym + 72, 17); /* other */
		put64(sym + 72 + 8, tohost_va + 16);
		memcpy(p + str_off, strtab, sizeof(strtab));
		uint8_t *sh = p + sh_off; /* [0] null, [1] .symtab, [2] .strtab */
		put32(sh + 64 + 4, 2);    /* SHT_SYMTAB */
		put64(sh + 64 + 24, sym_off);
		put64(sh + 64 + 32, 4 * 24);
		put32(sh + 64 + 40, 2); /* sh_link: .strtab */
		put64(sh + 64 + 56, 24);
		put32(sh + 128 + 4, 3); /* SHT_STRTAB */
		put64(sh + 128 + 24, str_off);
		put64(sh + 128 + 32, sizeof(strtab));
	}
	*len_out = len;
	return p;
}

static void test_elf_loads_segments(void **state)
{
	struct fixture *f = *state;
	const struct elf_seg segs[] = {
	    {RAM_BASE, RAM_BASE, 0x300, 0x1000, 1},
	    {RAM_BASE + 0x2000, RAM_BASE + 0x2000, 0x40, 0x40, 2},
	};
	size_t len;
	uint8_t *elf = make_elf(segs, 2, RAM_BASE + 0x10, RAM_BASE + 0x2000, &len);
	write_file(f, elf, len);
	memset(ram(f, RAM_BASE + 0x300, 0xd00), 0xee, 0xd00);

	assert_int_equal(load(f, RAM_BASE + 0x200000), 0);
	assert_int_equal(f->img.format, BOOT_FORMAT_ELF);
	assert_int_equal(f->img.entry, RAM_BASE + 0x10);
	assert_int_equal(f->img.start, RAM_BASE);
	assert_int_equal(f->img.end, RAM_BASE + 0x2040);
	assert_int_equal(f->img.tohost, RAM_BASE + 0x2000);
	assert_int_equal(f->img.fromhost, RAM_BASE + 0x2008);
	assert_memory_equal(ram(f, RAM_BASE, 0x300), elf + 64 + 2 * 56, 0x300);
	assert_memory_equal(ram(f, RAM_BASE + 0x2000, 0x40), elf + 64 + 2 * 56 + 0x300, 0x40);
	uint8_t zero[0xd00] = {0};
	assert_memory_equal(ram(f, RAM_BASE + 0x300, 0xd00), zero, 0xd00); /* bss */
	free(elf);
}

/* Segments load at p_paddr, and symbols (virtual) translate through their segment. */
static void test_elf_loads_at_paddr(void **state)
{
	struct fixture *f = *state;
	const struct elf_seg segs[] = {
	    {0xffffffff80000000ull, RAM_BASE + 0x100000, 0x100, 0x100, 9}};
	size_t len;
	uint8_t *elf = make_elf(segs, 1, RAM_BASE + 0x100000, 0xffffffff80000040ull, &len);
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), 0);
	assert_int_equal(f->img.start, RAM_BASE + 0x100000);
	assert_int_equal(f->img.tohost, RAM_BASE + 0x100040);
	assert_int_equal(f->img.fromhost, RAM_BASE + 0x100048);
	assert_memory_equal(ram(f, RAM_BASE + 0x100000, 0x100), elf + 64 + 56, 0x100);
	free(elf);
}

static void test_elf_without_symbols(void **state)
{
	struct fixture *f = *state;
	const struct elf_seg segs[] = {{RAM_BASE, RAM_BASE, 0x10, 0x10, 1}};
	size_t len;
	uint8_t *elf = make_elf(segs, 1, RAM_BASE, 0, &len);
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), 0);
	assert_int_equal(f->img.tohost, 0);
	assert_int_equal(f->img.fromhost, 0);
	free(elf);
}

static void test_elf_wrong_machine(void **state)
{
	struct fixture *f = *state;
	const struct elf_seg segs[] = {{RAM_BASE, RAM_BASE, 0x10, 0x10, 1}};
	size_t len;
	uint8_t *elf = make_elf(segs, 1, RAM_BASE, 0, &len);
	put16(elf + 18, 62);
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), -ENOEXEC);
	assert_err(f, "machine 62 (x86-64), not RISC-V");
	free(elf);
}

static void test_elf_32bit(void **state)
{
	struct fixture *f = *state;
	const struct elf_seg segs[] = {{RAM_BASE, RAM_BASE, 0x10, 0x10, 1}};
	size_t len;
	uint8_t *elf = make_elf(segs, 1, RAM_BASE, 0, &len);
	elf[4] = 1; /* ELFCLASS32 */
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), -ENOEXEC);
	assert_err(f, "32-bit");
	free(elf);
}

static void test_elf_segment_outside_ram(void **state)
{
	struct fixture *f = *state;
	/* The first segment fits; the second ends past RAM: nothing may be written. */
	const struct elf_seg segs[] = {
	    {RAM_BASE, RAM_BASE, 0x10, 0x10, 1},
	    {RAM_BASE + RAM_SIZE - 0x10, RAM_BASE + RAM_SIZE - 0x10, 0x20, 0x20, 2},
	};
	size_t len;
	uint8_t *elf = make_elf(segs, 2, RAM_BASE, 0, &len);
	write_file(f, elf, len);
	memset(ram(f, RAM_BASE, 0x10), 0, 0x10);
	assert_int_equal(load(f, 0), -EFBIG);
	assert_err(f, "--mem");
	uint8_t zero[0x10] = {0};
	assert_memory_equal(ram(f, RAM_BASE, 0x10), zero, 0x10);
	free(elf);

	/* Below RAM (a vmlinux linked at its virtual address). */
	const struct elf_seg low[] = {{0x1000, 0x1000, 0x10, 0x10, 1}};
	elf = make_elf(low, 1, RAM_BASE, 0, &len);
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), -EFBIG);
	assert_err(f, "outside guest RAM");
	free(elf);

	/* p_paddr + p_memsz wraps around. */
	const struct elf_seg wrap[] = {{0, UINT64_MAX - 0xf, 0x10, 0x20, 1}};
	elf = make_elf(wrap, 1, RAM_BASE, 0, &len);
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), -EFBIG);
	free(elf);
}

static void test_elf_truncated_segment(void **state)
{
	struct fixture *f = *state;
	const struct elf_seg segs[] = {{RAM_BASE, RAM_BASE, 0x1000, 0x1000, 1}};
	size_t len;
	uint8_t *elf = make_elf(segs, 1, RAM_BASE, 0, &len);
	write_file(f, elf, 64 + 56 + 0x800); /* cut inside the segment's data */
	assert_int_equal(load(f, 0), -ENOEXEC);
	assert_err(f, "truncated");
	free(elf);
}

static void test_elf_bad_fields(void **state)
{
	struct fixture *f = *state;
	const struct elf_seg segs[] = {{RAM_BASE, RAM_BASE, 0x20, 0x10, 1}}; /* filesz > memsz */
	size_t len;
	uint8_t *elf = make_elf(segs, 1, RAM_BASE, 0, &len);
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), -ENOEXEC);
	assert_err(f, "p_filesz");
	free(elf);

	const struct elf_seg ok[] = {{RAM_BASE, RAM_BASE, 0x10, 0x10, 1}};
	elf = make_elf(ok, 1, 0x1000, 0, &len); /* entry outside RAM */
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), -ENOEXEC);
	assert_err(f, "entry point");
	free(elf);

	elf = make_elf(ok, 1, RAM_BASE, 0, &len);
	put64(elf + 32, (uint64_t)len - 8); /* program headers past the end */
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), -ENOEXEC);
	assert_err(f, "truncated");
	free(elf);

	elf = make_elf(ok, 1, RAM_BASE, 0, &len);
	put16(elf + 16, 1); /* ET_REL */
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), -ENOEXEC);
	assert_err(f, "relocatable");
	free(elf);

	elf = make_elf(ok, 1, RAM_BASE, 0, &len);
	write_file(f, elf, 40); /* cut inside the ELF header */
	assert_int_equal(load(f, 0), -ENOEXEC);
	assert_err(f, "truncated");
	free(elf);
}

/* A symbol table pointing outside the file is ignored, not trusted. */
static void test_elf_corrupt_symtab_ignored(void **state)
{
	struct fixture *f = *state;
	const struct elf_seg segs[] = {{RAM_BASE, RAM_BASE, 0x10, 0x10, 1}};
	size_t len;
	uint8_t *elf = make_elf(segs, 1, RAM_BASE, RAM_BASE + 8, &len);
	size_t sh_off = len - 3 * 64;
	put64(elf + sh_off + 64 + 32, 1ull << 40); /* .symtab size */
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), 0);
	assert_int_equal(f->img.tohost, 0);
	put64(elf + sh_off + 64 + 32, 4 * 24);
	put32(elf + sh_off + 64 + 40, 7); /* sh_link past the table */
	write_file(f, elf, len);
	assert_int_equal(load(f, 0), 0);
	assert_int_equal(f->img.tohost, 0);
	free(elf);
}

/* ---- raw ---- */

static void test_raw_loads_at_raw_gpa(void **state)
{
	struct fixture *f = *state;
	uint8_t data[300];
	fill(data, sizeof(data), 5);
	write_file(f, data, sizeof(data));
	assert_int_equal(load(f, RAM_BASE + 0x200000), 0);
	assert_int_equal(f->img.format, BOOT_FORMAT_RAW);
	assert_int_equal(f->img.entry, RAM_BASE + 0x200000);
	assert_int_equal(f->img.start, RAM_BASE + 0x200000);
	assert_int_equal(f->img.end, RAM_BASE + 0x200000 + sizeof(data));
	assert_memory_equal(ram(f, RAM_BASE + 0x200000, sizeof(data)), data, sizeof(data));
}

static void test_raw_outside_ram(void **state)
{
	struct fixture *f = *state;
	uint8_t data[300];
	fill(data, sizeof(data), 5);
	write_file(f, data, sizeof(data));
	assert_int_equal(load(f, RAM_BASE + RAM_SIZE - 100), -EFBIG);
	assert_err(f, "--mem");
	assert_int_equal(load(f, 0x1000), -EFBIG);
	assert_err(f, "outside guest RAM");
	assert_int_equal(load(f, UINT64_MAX - 10), -EFBIG);
}

/* ---- bad files ---- */

/* gzip-compress len bytes (RFC 1952) into a new buffer; *out_len gets its size. */
static uint8_t *gzip(const uint8_t *data, size_t len, size_t *out_len)
{
	z_stream zs = {0};
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	size_t cap = deflateBound(&zs, len) + 64;
	uint8_t *out = malloc(cap);
	assert_non_null(out);
	zs.next_in = (uint8_t *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

static void test_gzip_image(void **state)
{
	struct fixture *f = *state;
	size_t len = 0x12345, zlen;
	uint8_t *img = make_image(len, 0x200000, 0x20000);
	uint8_t *gz = gzip(img, len, &zlen);
	write_file(f, gz, zlen);
	memset(ram(f, RAM_BASE + 0x200000 + len, 0x20000 - len), 0xee, 0x20000 - len);
	assert_int_equal(load(f, RAM_BASE), 0);
	assert_int_equal(f->img.format, BOOT_FORMAT_IMAGE);
	assert_int_equal(f->img.entry, RAM_BASE + 0x200000);
	assert_int_equal(f->img.end, RAM_BASE + 0x200000 + 0x20000);
	assert_memory_equal(ram(f, RAM_BASE + 0x200000, len), img, len);
	uint8_t *zero = calloc(1, 0x20000 - len);
	assert_memory_equal(ram(f, RAM_BASE + 0x200000 + len, 0x20000 - len), zero, 0x20000 - len);
	free(zero);

	/* Cut short: an error, not a partial kernel. */
	write_file(f, gz, zlen / 2);
	assert_int_equal(load(f, RAM_BASE), -ENOEXEC);
	assert_err(f, "truncated");
	free(gz);

	/* Decompressing past the end of RAM stops at the end of RAM. */
	free(img);
	len = RAM_SIZE;
	img = make_image(len, 0x200000, 0);
	gz = gzip(img, len, &zlen);
	write_file(f, gz, zlen);
	assert_int_equal(load(f, RAM_BASE), -EFBIG);
	assert_err(f, "--mem");
	free(gz);
	free(img);
}

static void test_compressed_kernels(void **state)
{
	struct fixture *f = *state;
	uint8_t data[256], *gz;
	size_t zlen;
	fill(data, sizeof(data), 1);
	gz = gzip(data, sizeof(data), &zlen);
	write_file(f, gz, zlen);
	assert_int_equal(load(f, RAM_BASE), -ENOEXEC);
	assert_err(f, "holds no RISC-V Image");
	assert_err(f, "zcat");
	free(gz);
	uint8_t bad[64] = {0x1f, 0x8b, 8, 0};
	write_file(f, bad, sizeof(bad));
	assert_int_equal(load(f, RAM_BASE), -ENOEXEC);
	assert_err(f, "gzip");
	uint8_t zst[64] = {0x28, 0xb5, 0x2f, 0xfd};
	write_file(f, zst, sizeof(zst));
	assert_int_equal(load(f, RAM_BASE), -ENOEXEC);
	assert_err(f, "compressed (zstd)");
	assert_err(f, "zstdcat");
}

static void test_foreign_kernels(void **state)
{
	struct fixture *f = *state;
	uint8_t *img = make_image(0x400, 0x80000, 0x400);
	memcpy(img + 56, "ARM\x64", 4);
	memset(img + 48, 0, 8);
	write_file(f, img, 0x400);
	assert_int_equal(load(f, RAM_BASE), -ENOEXEC);
	assert_err(f, "arm64");
	free(img);

	uint8_t zboot[64] = {'M', 'Z', 0, 0, 'z', 'i', 'm', 'g'};
	put32(zboot + 8, 0x1000);
	put32(zboot + 12, 0x5000);
	memcpy(zboot + 24, "zstd", 4);
	write_file(f, zboot, sizeof(zboot));
	assert_int_equal(load(f, RAM_BASE), -ENOEXEC);
	assert_err(f, "zboot");
	assert_err(f, "zstd");
}

static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	snprintf(f->path, sizeof(f->path), "%s/does-not-exist", f->dir);
	assert_int_equal(load(f, RAM_BASE), -ENOENT);
	assert_err(f, "no such file");
	assert_err(f, "--kernel");
}

static void test_empty_file(void **state)
{
	struct fixture *f = *state;
	write_file(f, "", 0);
	assert_int_equal(load(f, RAM_BASE), -EINVAL);
	assert_err(f, "empty");
}

static void test_directory(void **state)
{
	struct fixture *f = *state;
	snprintf(f->path, sizeof(f->path), "%s/sub", f->dir);
	assert_int_equal(mkdir(f->path, 0755), 0);
	assert_int_equal(load(f, RAM_BASE), -EISDIR);
	assert_err(f, "directory");
}

static void test_unreadable_file(void **state)
{
	struct fixture *f = *state;
	uint8_t data[16] = {1};
	write_file(f, data, sizeof(data));
	assert_int_equal(chmod(f->path, 0), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	/* root reads anything: drop to an unprivileged file-system uid for the check. */
	int was = setfsuid(geteuid() == 0 ? 65534 : geteuid());
	int rc = load(f, RAM_BASE);
	setfsuid((uid_t)was);
	assert_int_equal(rc, -EACCES);
	assert_err(f, "permission denied");
}

static void test_small_err_buffer(void **state)
{
	struct fixture *f = *state;
	char small[12];
	memset(small, 'x', sizeof(small));
	snprintf(f->path, sizeof(f->path), "%s/does-not-exist", f->dir);
	assert_int_equal(boot_load_kernel(&f->mem, f->path, RAM_BASE, &f->img, small, 8), -ENOENT);
	assert_int_equal(small[7], 0);
	assert_int_equal(small[8], 'x');
	assert_int_equal(boot_load_kernel(&f->mem, f->path, RAM_BASE, &f->img, NULL, 0), -ENOENT);
}

/* ---- initrd ---- */

static int load_initrd(struct fixture *f, uint64_t floor, uint64_t limit, uint64_t *start,
		       uint64_t *end)
{
	f->err[0] = 0;
	return boot_load_initrd(&f->mem, f->path, floor, limit, start, end, f->err, sizeof(f->err));
}

static void test_initrd_highest_aligned(void **state)
{
	struct fixture *f = *state;
	size_t len = 0x2345;
	uint8_t *data = malloc(len);
	assert_non_null(data);
	fill(data, len, 11);
	write_file(f, data, len);
	uint64_t start = 0, end = 0, limit = RAM_BASE + 0x800123;
	assert_int_equal(load_initrd(f, RAM_BASE + 0x400000, limit, &start, &end), 0);
	/* highest 4 KiB-aligned start with end <= limit */
	assert_int_equal(start, (limit - len) & ~0xfffull);
	assert_int_equal(end, start + len);
	assert_memory_equal(ram(f, start, len), data, len);
	free(data);
}

static void test_initrd_exact_fit(void **state)
{
	struct fixture *f = *state;
	uint8_t data[0x2000];
	fill(data, sizeof(data), 1);
	write_file(f, data, sizeof(data));
	uint64_t start, end;
	assert_int_equal(load_initrd(f, RAM_BASE + 0x10000, RAM_BASE + 0x12000, &start, &end), 0);
	assert_int_equal(start, RAM_BASE + 0x10000);
	assert_int_equal(end, RAM_BASE + 0x12000);
	/* A limit beyond RAM is clamped to its end. */
	assert_int_equal(load_initrd(f, RAM_BASE, UINT64_MAX, &start, &end), 0);
	assert_int_equal(end, RAM_BASE + RAM_SIZE);
	assert_memory_equal(ram(f, start, sizeof(data)), data, sizeof(data));
}

static void test_initrd_does_not_fit(void **state)
{
	struct fixture *f = *state;
	uint8_t data[0x2000];
	fill(data, sizeof(data), 1);
	write_file(f, data, sizeof(data));
	uint64_t start = 0, end = 0;
	assert_int_equal(load_initrd(f, RAM_BASE + 0x10001, RAM_BASE + 0x12000, &start, &end),
			 -ENOSPC);
	assert_err(f, "--mem");
	assert_int_equal(start, 0);
	assert_int_equal(load_initrd(f, RAM_BASE + 0x20000, RAM_BASE + 0x10000, &start, &end),
			 -ENOSPC);
	assert_err(f, "does not fit");
	assert_int_equal(load_initrd(f, RAM_BASE + RAM_SIZE, UINT64_MAX, &start, &end), -ENOSPC);
}

static void test_initrd_bad_files(void **state)
{
	struct fixture *f = *state;
	uint64_t start, end;
	snprintf(f->path, sizeof(f->path), "%s/nope", f->dir);
	assert_int_equal(load_initrd(f, RAM_BASE, RAM_BASE + RAM_SIZE, &start, &end), -ENOENT);
	assert_err(f, "--initrd");
	write_file(f, "", 0);
	assert_int_equal(load_initrd(f, RAM_BASE, RAM_BASE + RAM_SIZE, &start, &end), -EINVAL);
	assert_err(f, "empty");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_image_loads_at_text_offset),
	    T(test_image_text_offset_zero_means_2mib),
	    T(test_image_end_covers_file),
	    T(test_image_old_magic_only),
	    T(test_image_too_big_for_ram),
	    T(test_image_text_offset_beyond_ram),
	    T(test_image_pe_complete),
	    T(test_image_pe_truncated),
	    T(test_elf_loads_segments),
	    T(test_elf_loads_at_paddr),
	    T(test_elf_without_symbols),
	    T(test_elf_wrong_machine),
	    T(test_elf_32bit),
	    T(test_elf_segment_outside_ram),
	    T(test_elf_truncated_segment),
	    T(test_elf_bad_fields),
	    T(test_elf_corrupt_symtab_ignored),
	    T(test_raw_loads_at_raw_gpa),
	    T(test_raw_outside_ram),
	    T(test_gzip_image),
	    T(test_compressed_kernels),
	    T(test_foreign_kernels),
	    T(test_missing_file),
	    T(test_empty_file),
	    T(test_directory),
	    T(test_unreadable_file),
	    T(test_small_err_buffer),
	    T(test_initrd_highest_aligned),
	    T(test_initrd_exact_fit),
	    T(test_initrd_does_not_fit),
	    T(test_initrd_bad_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
