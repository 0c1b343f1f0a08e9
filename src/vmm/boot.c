/* Guest image loading: the RISC-V Linux Image (Documentation/arch/riscv/boot-image-header.rst),
 * gzip-compressed Image (RFC 1952, inflated with zlib), ELF64 for EM_RISCV (System V gABI,
 * ELF-64 object file format), raw binaries and the initrd.
 * Files are read with pread() loops straight into guest RAM after every destination range has
 * been checked to lie inside it. Errors: -ENOENT/-EACCES/-EISDIR/... from the file system,
 * -EINVAL for an empty or non-regular file, -ENOEXEC for a file in a format we cannot run
 * (wrong machine, 32-bit, compressed, truncated), -EFBIG when an image does not fit in RAM,
 * -ENOSPC when an initrd does not fit; each with one sentence naming the file and the fix. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "mem/guest_mem.h"
#include "vmm/boot.h"

#define KiB       ((uint64_t)1024)
#define MiB       (KiB * 1024)
#define PAGE_SIZE ((uint64_t)4096)

/* The 64-byte RISC-V Image header. */
#define IMAGE_HDR_SIZE            64
#define IMAGE_OFF_TEXT_OFFSET     8
#define IMAGE_OFF_IMAGE_SIZE      16
#define IMAGE_OFF_MAGIC           0x30 /* "RISCV\0\0\0", deprecated since header version 0.2 */
#define IMAGE_OFF_MAGIC2          0x38 /* "RSC\x05" */
#define IMAGE_OFF_RES3            0x3c /* PE/COFF header offset when the kernel has an EFI stub */
#define IMAGE_DEFAULT_TEXT_OFFSET (2 * MiB)

/* ELF-64 (gABI) constants and layouts we use. */
#define EI_CLASS        4
#define EI_DATA         5
#define ELFCLASS32      1
#define ELFCLASS64      2
#define ELFDATA2LSB     1
#define ET_REL          1
#define ET_EXEC         2
#define ET_DYN          3
#define EM_RISCV        243
#define PT_LOAD         1
#define SHT_SYMTAB      2
#define ELF64_EHDR_SIZE 64
#define ELF64_PHDR_SIZE 56
#define ELF64_SHDR_SIZE 64
#define ELF64_SYM_SIZE  24
#define ELF_PN_XNUM     0xffff
#define SYMTAB_MAX      (64 * MiB) /* larger symbol tables are not searched for tohost */
static const uint8_t elf_magic[4] = {0x7f, 'E', 'L', 'F'};

/* PE/COFF (Microsoft PE format spec): just enough to find where the section data ends. */
#define PE_HDR_WINDOW    4096
#define PE_COFF_HDR_SIZE 20
#define PE_SECTION_SIZE  40
#define PE_MAX_SECTIONS  96

#define GZIP_INBUF (256 * 1024) /* bytes of compressed input read at a time */

/* One file being loaded, and how to talk about it in errors. */
struct boot_file {
	const char *what;   /* "kernel", "initrd" */
	const char *option; /* the command-line option that names it */
	const char *path;
	int fd;
	uint64_t size;
	char *err;
	size_t errlen;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Write "<what> '<path>'" followed by fmt into err; returns rc. */
static int file_fail(const struct boot_file *f, int rc, const char *fmt, ...)
{
	if (!f->err || !f->errlen)
		return rc;
	int n = snprintf(f->err, f->errlen, "%s '%s'", f->what, f->path);
	if (n >= 0 && (size_t)n < f->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(f->err + n, f->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Human-readable size: "17 bytes", "3 KiB", "2.1 KiB", "40 MiB", "38.4 MiB". */
static const char *fmt_size(char *buf, size_t len, uint64_t bytes)
{
	uint64_t unit = bytes < MiB ? KiB : MiB;
	if (bytes < KiB)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	else if (bytes % unit == 0)
		snprintf(buf, len, "%" PRIu64 " %s", bytes / unit, unit == KiB ? "KiB" : "MiB");
	else
		snprintf(buf, len, "%.1f %s", (double)bytes / (double)unit,
			 unit == KiB ? "KiB" : "MiB");
	return buf;
}

/* MiB of RAM a guest needs so that extra more bytes fit, rounded up. */
static uint64_t mem_needed_mib(const struct guest_mem *m, uint64_t extra)
{
	uint64_t need = m->size + extra;
	if (need < m->size)
		return UINT64_MAX / MiB;
	return need / MiB + (need % MiB != 0);
}

static int file_open(struct boot_file *f)
{
	struct stat st;

	f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (f->fd < 0) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR)
			return file_fail(f, -e, ": no such file (check the %s path)", f->option);
		if (e == EACCES || e == EPERM)
			return file_fail(f, -e,
					 " is not readable (permission denied): make it readable "
					 "by this user, e.g. chmod a+r");
		return file_fail(f, -e, " cannot be opened (%s): check the %s path", strerror(e),
				 f->option);
	}
	if (fstat(f->fd, &st) < 0) {
		int e = errno;
		return file_fail(f, -e, " cannot be examined (%s)", strerror(e));
	}
	if (S_ISDIR(st.st_mode))
		return file_fail(f, -EISDIR, " is a directory, not a file (check the %s path)",
				 f->option);
	if (!S_ISREG(st.st_mode))
		return file_fail(f, -EINVAL,
				 " is not a regular file (a device, pipe or socket): give a "
				 "file with %s",
				 f->option);
	if (st.st_size <= 0)
		return file_fail(f, -EINVAL, " is empty (0 bytes): give the real file with %s",
				 f->option);
	f->size = (uint64_t)st.st_size;
	return 0;
}

static void file_close(struct boot_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* Read len bytes at file offset off into dst, looping over short reads. */
static int file_read(const struct boot_file *f, void *dst, uint64_t len, uint64_t off)
{
	uint8_t *p = dst;

	while (len) {
		size_t chunk = len > (1ull << 30) ? (size_t)(1ull << 30) : (size_t)len;
		ssize_t n = pread(f->fd, p, chunk, (off_t)off);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			int e = errno;
			return file_fail(f, -e, " could not be read (%s)", strerror(e));
		}
		if (n == 0)
			return file_fail(f, -EIO,
					 " became shorter while it was read: do not change it "
					 "while rvisor starts");
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* ---- formats we recognise but cannot run ---- */

struct compression {
	const char *name, *cat;
	uint8_t len;
	uint8_t magic[6];
};

static const struct compression compressions[] = {
    {"gzip", "zcat", 2, {0x1f, 0x8b}},
    {"zstd", "zstdcat", 4, {0x28, 0xb5, 0x2f, 0xfd}},
    {"xz", "xzcat", 6, {0xfd, '7', 'z', 'X', 'Z', 0x00}},
    {"bzip2", "bzcat", 3, {'B', 'Z', 'h'}},
    {"lz4", "lz4cat", 4, {0x04, 0x22, 0x4d, 0x18}},
    {"lzma", "lzcat", 3, {0x5d, 0x00, 0x00}},
};

static const struct compression *find_compression(const uint8_t *hdr, size_t n)
{
	for (size_t i = 0; i < sizeof(compressions) / sizeof(compressions[0]); i++)
		if (n >= compressions[i].len &&
		    !memcmp(hdr, compressions[i].magic, compressions[i].len))
			return &compressions[i];
	return NULL;
}

/* Reject what would otherwise be loaded as a raw binary that can never run: compressed
 * kernels, EFI zboot images, and kernels for other architectures. */
static int check_foreign(const struct boot_file *f, const uint8_t *hdr, size_t n)
{
	const struct compression *c = find_compression(hdr, n);
	if (c)
		return file_fail(f, -ENOEXEC,
				 " is compressed (%s); decompress it first: %s %s > Image", c->name,
				 c->cat, f->path);
	/* EFI zboot (Linux drivers/firmware/efi/libstub/zboot-header.S): "MZ", "zimg", payload
	 * offset and size, then the compression name at 24. */
	if (n >= 32 && hdr[0] == 'M' && hdr[1] == 'Z' && !memcmp(hdr + 4, "zimg", 4)) {
		char comp[9];
		memcpy(comp, hdr + 24, 8);
		comp[8] = 0;
		for (size_t i = 0; i < 8; i++)
			if (comp[i] && (comp[i] < 'a' || comp[i] > 'z') &&
			    (comp[i] < '0' || comp[i] > '9'))
				comp[i] = '?';
		return file_fail(f, -ENOEXEC,
				 " is an EFI zboot image (a %s-compressed Image inside an EFI "
				 "application); extract it first: tail -c +%" PRIu32
				 " %s | head -c %" PRIu32 " | %scat > Image",
				 comp, le32(hdr + 8) + 1, f->path, le32(hdr + 12),
				 !strcmp(comp, "gzip") ? "z" : comp);
	}
	if (n >= IMAGE_HDR_SIZE && !memcmp(hdr + IMAGE_OFF_MAGIC2, "ARM\x64", 4))
		return file_fail(f, -ENOEXEC,
				 " is an arm64 kernel Image, not RISC-V: use a riscv64 "
				 "kernel");
	if (n >= 0x206 && !memcmp(hdr + 0x202, "HdrS", 4))
		return file_fail(f, -ENOEXEC,
				 " is an x86 bzImage, not RISC-V: use a riscv64 kernel");
	return 0;
}

/* ---- RISC-V Linux Image ---- */

static bool is_image(const uint8_t *hdr, size_t n)
{
	return n >= IMAGE_HDR_SIZE && (!memcmp(hdr + IMAGE_OFF_MAGIC2, "RSC\x05", 4) ||
				       !memcmp(hdr + IMAGE_OFF_MAGIC, "RISCV\0\0\0", 8));
}

/* For a kernel with an EFI stub the Image header doubles as a PE/COFF DOS header whose res3
 * field points at the PE header. The end of the last section's raw data is where the file must
 * at least reach; 0 when there is no usable PE header. */
static uint64_t pe_raw_end(const uint8_t *win, size_t n)
{
	if (n < IMAGE_HDR_SIZE || win[0] != 'M' || win[1] != 'Z')
		return 0;
	uint64_t pe = le32(win + IMAGE_OFF_RES3);
	if (pe + 4 + PE_COFF_HDR_SIZE > n || memcmp(win + pe, "PE\0\0", 4))
		return 0;
	const uint8_t *coff = win + pe + 4;
	unsigned nsec = le16(coff + 2);
	uint64_t sec = pe + 4 + PE_COFF_HDR_SIZE + le16(coff + 16);
	if (nsec > PE_MAX_SECTIONS || sec + (uint64_t)nsec * PE_SECTION_SIZE > n)
		return 0;
	uint64_t end = 0;
	for (unsigned i = 0; i < nsec; i++) {
		const uint8_t *s = win + sec + (uint64_t)i * PE_SECTION_SIZE;
		uint64_t raw_size = le32(s + 16), raw_ptr = le32(s + 20);
		if (raw_size && raw_ptr + raw_size > end)
			end = raw_ptr + raw_size;
	}
	return end;
}

/* Check where an Image with header window win (n bytes) and content_size bytes of content
 * goes: at RAM base + text_offset, spanning max(image_size, content_size). */
static int image_place(const struct guest_mem *m, const struct boot_file *f, const uint8_t *win,
		       size_t n, uint64_t content_size, uint64_t *load, uint64_t *span)
{
	char a[32], b[32], c[32];
	uint64_t text_offset = le64(win + IMAGE_OFF_TEXT_OFFSET);
	uint64_t image_size = le64(win + IMAGE_OFF_IMAGE_SIZE);

	/* The header documents text_offset as the load offset from the start of RAM. Kernels
	 * with header version 0.1 may leave it 0; they expect the RV64 default of 2 MiB. */
	if (text_offset == 0)
		text_offset = IMAGE_DEFAULT_TEXT_OFFSET;
	uint64_t raw_end = pe_raw_end(win, n);
	if (raw_end > content_size)
		return file_fail(f, -ENOEXEC,
				 " is truncated: its PE/COFF header says the file holds %s "
				 "(Image header image_size %s) but the file has %s: copy it again",
				 fmt_size(a, sizeof(a), raw_end),
				 fmt_size(b, sizeof(b), image_size),
				 fmt_size(c, sizeof(c), content_size));
	*span = image_size > content_size ? image_size : content_size;
	if (text_offset >= m->size || *span > m->size - text_offset) {
		uint64_t need = text_offset + *span;
		if (need < text_offset)
			return file_fail(f, -ENOEXEC,
					 " has a corrupt Image header (text_offset 0x%" PRIx64
					 ", image_size 0x%" PRIx64 "): use an intact kernel",
					 text_offset, image_size);
		/* + 2 MiB: the board keeps the device tree in the top 2 MiB of RAM. */
		return file_fail(
		    f, -EFBIG,
		    " needs %s of RAM from offset 0x%" PRIx64
		    " (Image header image_size %s) but the guest has %s: raise --mem "
		    "to at least %" PRIu64 " MiB",
		    fmt_size(a, sizeof(a), *span), text_offset, fmt_size(b, sizeof(b), image_size),
		    fmt_size(c, sizeof(c), m->size), mem_needed_mib(m, need - m->size) + 2);
	}
	*load = m->base + text_offset;
	return 0;
}

static int load_image(struct guest_mem *m, const struct boot_file *f, const uint8_t *win, size_t n,
		      struct boot_image *out)
{
	uint64_t load, span;
	int rc = image_place(m, f, win, n, f->size, &load, &span);
	if (rc)
		return rc;
	uint8_t *dst = guest_mem_ptr(m, load, span);
	rc = file_read(f, dst, f->size, 0);
	if (rc)
		return rc;
	memset(dst + f->size, 0, span - f->size); /* the kernel's bss */
	*out = (struct boot_image){
	    .format = BOOT_FORMAT_IMAGE, .entry = load, .start = load, .end = load + span};
	return 0;
}

/* Inflate from the file (read from *in_off on) into dst until dst is full or the gzip stream
 * ends. Returns 0, 1 at the end of the stream, or -errno with err filled. */
static int gzip_inflate(const struct boot_file *f, z_stream *zs, uint64_t *in_off, uint8_t *inbuf,
			size_t inlen, uint8_t *dst, uint64_t len)
{
	zs->next_out = dst;
	while (len) {
		if (!zs->avail_in) {
			uint64_t left = f->size - *in_off;
			size_t chunk = left < inlen ? (size_t)left : inlen;
			if (!chunk)
				return file_fail(f, -ENOEXEC,
						 " is a truncated gzip file: copy it "
						 "again");
			int rc = file_read(f, inbuf, chunk, *in_off);
			if (rc)
				return rc;
			*in_off += chunk;
			zs->next_in = inbuf;
			zs->avail_in = (uInt)chunk;
		}
		uInt room = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
		zs->avail_out = room;
		int zr = inflate(zs, Z_NO_FLUSH);
		len -= room - zs->avail_out;
		if (zr == Z_STREAM_END)
			return 1;
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return file_fail(f, -ENOEXEC, " is a corrupt gzip file (%s): copy it again",
					 zs->msg ? zs->msg : "inflate failed");
	}
	return 0;
}

/* A gzip-compressed Image (Image.gz, as some distributions ship vmlinuz): inflate the header
 * window, then the rest straight into RAM at the load address, bounded by the end of RAM. */
static int load_gzip_image(struct guest_mem *m, const struct boot_file *f, struct boot_image *out)
{
	char a[32];
	uint8_t win[PE_HDR_WINDOW], *inbuf = malloc(GZIP_INBUF);
	z_stream zs = {0};
	uint64_t in_off = 0, load, span;
	int rc;

	if (!inbuf)
		return file_fail(f, -ENOMEM, " cannot be loaded: out of memory");
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(inbuf);
		return file_fail(f, -ENOMEM, " cannot be decompressed: out of memory");
	}
	rc = gzip_inflate(f, &zs, &in_off, inbuf, GZIP_INBUF, win, sizeof(win));
	if (rc < 0)
		goto out;
	bool ended = rc == 1;
	size_t n = sizeof(win) - zs.avail_out;
	if (!is_image(win, n)) {
		rc = file_fail(f, -ENOEXEC,
			       " is gzip-compressed but holds no RISC-V Image; decompress it "
			       "first: zcat %s > kernel",
			       f->path);
		goto out;
	}
	/* Place by the header alone (n = 0: no PE check yet), then again with the real size. */
	rc = image_place(m, f, win, 0, n, &load, &span);
	if (rc)
		goto out;
	uint64_t room = m->base + m->size - load;
	uint8_t *dst = guest_mem_ptr(m, load, room);
	memcpy(dst, win, n);
	if (!ended) {
		rc = gzip_inflate(f, &zs, &in_off, inbuf, GZIP_INBUF, dst + n, room - n);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			rc = file_fail(f, -EFBIG,
				       " decompresses to more than the %s of RAM above 0x%" PRIx64
				       ": raise --mem",
				       fmt_size(a, sizeof(a), room), load);
			goto out;
		}
	}
	uint64_t size = zs.total_out;
	rc = image_place(m, f, win, n, size, &load, &span);
	if (rc)
		goto out;
	memset(dst + size, 0, span - size); /* the kernel's bss */
	*out = (struct boot_image){
	    .format = BOOT_FORMAT_IMAGE, .entry = load, .start = load, .end = load + span};
out:
	inflateEnd(&zs);
	free(inbuf);
	return rc;
}

/* ---- ELF64 ---- */

static const char *elf_machine_name(unsigned em)
{
	switch (em) {
	case 3: return "i386";
	case 8: return "MIPS";
	case 20: return "PowerPC";
	case 21: return "PowerPC64";
	case 22: return "s390";
	case 40: return "ARM";
	case 62: return "x86-64";
	case 183: return "AArch64";
	case 258: return "LoongArch";
	default: return "not RISC-V";
	}
}

struct elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

static void elf_parse_phdr(const uint8_t *p, struct elf_phdr *ph)
{
	ph->type = le32(p);
	ph->offset = le64(p + 8);
	ph->vaddr = le64(p + 16);
	ph->paddr = le64(p + 24);
	ph->filesz = le64(p + 32);
	ph->memsz = le64(p + 40);
}

static int elf_check_header(const struct boot_file *f, const uint8_t *eh, size_t n)
{
	if (n < ELF64_EHDR_SIZE && !(n > EI_CLASS && eh[EI_CLASS] == ELFCLASS32))
		return file_fail(f, -ENOEXEC,
				 " is truncated: an ELF header needs 64 bytes but the "
				 "file has %zu",
				 n);
	if (eh[EI_CLASS] == ELFCLASS32)
		return file_fail(f, -ENOEXEC,
				 " is a 32-bit ELF (ELFCLASS32): rvisor runs RV64 "
				 "only, build it for riscv64");
	if (eh[EI_CLASS] != ELFCLASS64)
		return file_fail(f, -ENOEXEC, " is an ELF of unknown class %u: use a riscv64 ELF",
				 eh[EI_CLASS]);
	if (eh[EI_DATA] != ELFDATA2LSB)
		return file_fail(f, -ENOEXEC,
				 " is a big-endian ELF: RISC-V is little-endian, use "
				 "a riscv64 build");
	unsigned em = le16(eh + 18), type = le16(eh + 16);
	if (em != EM_RISCV)
		return file_fail(f, -ENOEXEC,
				 " is an ELF for machine %u (%s), not RISC-V: use a "
				 "riscv64 %s",
				 em, elf_machine_name(em), f->what);
	if (type == ET_REL)
		return file_fail(f, -ENOEXEC,
				 " is a relocatable object (ET_REL), not a linked "
				 "program: link it first");
	if (type != ET_EXEC && type != ET_DYN)
		return file_fail(f, -ENOEXEC,
				 " is an ELF of type %u, not an executable: use a "
				 "linked riscv64 program",
				 type);
	if (le16(eh + 54) != ELF64_PHDR_SIZE || le16(eh + 56) == 0 || le16(eh + 56) == ELF_PN_XNUM)
		return file_fail(f, -ENOEXEC,
				 " has no usable program headers: use a linked, "
				 "intact ELF");
	return 0;
}

/* Read the program header table (phnum entries at phoff) into a new array. */
static int elf_read_phdrs(const struct boot_file *f, uint64_t phoff, unsigned phnum,
			  struct elf_phdr **out)
{
	uint64_t bytes = (uint64_t)phnum * ELF64_PHDR_SIZE;
	if (phoff > f->size || bytes > f->size - phoff)
		return file_fail(f, -ENOEXEC,
				 " is truncated: its program headers lie beyond the "
				 "end of the file");
	uint8_t *raw = malloc(bytes);
	struct elf_phdr *ph = calloc(phnum, sizeof(*ph));
	int rc = (!raw || !ph) ? file_fail(f, -ENOMEM, " cannot be loaded: out of memory")
			       : file_read(f, raw, bytes, phoff);
	if (!rc)
		for (unsigned i = 0; i < phnum; i++)
			elf_parse_phdr(raw + (uint64_t)i * ELF64_PHDR_SIZE, &ph[i]);
	free(raw);
	if (rc) {
		free(ph);
		return rc;
	}
	*out = ph;
	return 0;
}

static int elf_check_segment(const struct guest_mem *m, const struct boot_file *f,
			     const struct elf_phdr *ph, unsigned i)
{
	char a[32], b[32];
	if (ph->filesz > ph->memsz)
		return file_fail(f, -ENOEXEC, " is corrupt: segment %u has p_filesz > p_memsz", i);
	if (ph->offset > f->size || ph->filesz > f->size - ph->offset)
		return file_fail(f, -ENOEXEC,
				 " is truncated: segment %u needs file bytes up to "
				 "%s but the file has %s",
				 i, fmt_size(a, sizeof(a), ph->offset + ph->filesz),
				 fmt_size(b, sizeof(b), f->size));
	if (guest_mem_ptr(m, ph->paddr, ph->memsz))
		return 0;
	uint64_t end = ph->paddr + ph->memsz;
	if (ph->paddr >= m->base && end >= ph->paddr)
		return file_fail(f, -EFBIG,
				 ": ELF segment %u (0x%" PRIx64 "-0x%" PRIx64
				 ") lies beyond guest RAM (0x%" PRIx64 "-0x%" PRIx64
				 "): raise --mem to at least %" PRIu64 " MiB",
				 i, ph->paddr, end, m->base, m->base + m->size,
				 mem_needed_mib(m, end - (m->base + m->size)));
	return file_fail(f, -EFBIG,
			 ": ELF segment %u (p_paddr 0x%" PRIx64 ", %" PRIu64
			 " bytes) lies outside guest RAM (0x%" PRIx64 "-0x%" PRIx64
			 "): link it for RAM at 0x%" PRIx64
			 " (for Linux, use arch/riscv/boot/Image, not vmlinux)",
			 i, ph->paddr, ph->memsz, m->base, m->base + m->size, m->base);
}

/* Guest-physical address of virtual address va, through the PT_LOAD segment holding it. */
static uint64_t elf_va_to_pa(const struct elf_phdr *ph, unsigned phnum, uint64_t va)
{
	for (unsigned i = 0; i < phnum; i++)
		if (ph[i].type == PT_LOAD && va >= ph[i].vaddr && va - ph[i].vaddr < ph[i].memsz)
			return ph[i].paddr + (va - ph[i].vaddr);
	return 0;
}

/* Look up 'tohost' and 'fromhost' (the HTIF convention of riscv-tests) in .symtab. Symbols are
 * optional: a missing or malformed table leaves them 0. */
static void elf_find_htif(const struct guest_mem *m, const struct boot_file *f, const uint8_t *eh,
			  const struct elf_phdr *ph, unsigned phnum, struct boot_image *out)
{
	uint64_t shoff = le64(eh + 40);
	unsigned shentsize = le16(eh + 58), shnum = le16(eh + 60);
	uint8_t *shdrs = NULL, *syms = NULL;
	char *strs = NULL;

	if (!shoff || shentsize != ELF64_SHDR_SIZE || !shnum || shoff > f->size ||
	    (uint64_t)shnum * ELF64_SHDR_SIZE > f->size - shoff)
		return;
	shdrs = malloc((size_t)shnum * ELF64_SHDR_SIZE);
	if (!shdrs || file_read(f, shdrs, (uint64_t)shnum * ELF64_SHDR_SIZE, shoff))
		goto out;
	for (unsigned i = 0; i < shnum; i++) {
		const uint8_t *sh = shdrs + (size_t)i * ELF64_SHDR_SIZE;
		if (le32(sh + 4) != SHT_SYMTAB)
			continue;
		uint64_t off = le64(sh + 24), size = le64(sh + 32);
		unsigned link = le32(sh + 40);
		if (link >= shnum || off > f->size || size > f->size - off || size > SYMTAB_MAX)
			break;
		const uint8_t *st = shdrs + (size_t)link * ELF64_SHDR_SIZE;
		uint64_t stroff = le64(st + 24), strsize = le64(st + 32);
		if (stroff > f->size || strsize > f->size - stroff || strsize > SYMTAB_MAX ||
		    !strsize)
			break;
		syms = malloc(size ? size : 1);
		strs = malloc(strsize + 1);
		if (!syms || !strs || file_read(f, syms, size, off) ||
		    file_read(f, strs, strsize, stroff))
			break;
		strs[strsize] = 0;
		for (uint64_t s = 0; s + ELF64_SYM_SIZE <= size; s += ELF64_SYM_SIZE) {
			uint32_t name = le32(syms + s);
			uint64_t pa;
			if (name >= strsize)
				continue;
			bool to = !strcmp(strs + name, "tohost"),
			     from = !strcmp(strs + name, "fromhost");
			if (!to && !from)
				continue;
			pa = elf_va_to_pa(ph, phnum, le64(syms + s + 8));
			if (!guest_mem_ptr(m, pa, 8))
				continue;
			if (to)
				out->tohost = pa;
			else
				out->fromhost = pa;
		}
		break;
	}
out:
	if (f->err && f->errlen)
		f->err[0] = 0; /* symbols are optional: no error to report */
	free(strs);
	free(syms);
	free(shdrs);
}

static int load_elf(struct guest_mem *m, const struct boot_file *f, const uint8_t *eh, size_t n,
		    struct boot_image *out)
{
	struct elf_phdr *ph = NULL;
	uint64_t start = UINT64_MAX, end = 0;
	int rc = elf_check_header(f, eh, n);
	if (rc)
		return rc;
	unsigned phnum = le16(eh + 56);
	rc = elf_read_phdrs(f, le64(eh + 32), phnum, &ph);
	if (rc)
		return rc;
	/* Check every segment before writing any, so a bad file leaves RAM untouched. */
	for (unsigned i = 0; i < phnum; i++) {
		if (ph[i].type != PT_LOAD || !ph[i].memsz)
			continue;
		rc = elf_check_segment(m, f, &ph[i], i);
		if (rc)
			goto out;
		if (ph[i].paddr < start)
			start = ph[i].paddr;
		if (ph[i].paddr + ph[i].memsz > end)
			end = ph[i].paddr + ph[i].memsz;
	}
	if (!end) {
		rc = file_fail(f, -ENOEXEC,
			       " has no loadable segment (PT_LOAD): use a linked "
			       "riscv64 program");
		goto out;
	}
	uint64_t entry = le64(eh + 24);
	if (!guest_mem_contains(m, entry)) {
		rc = file_fail(f, -ENOEXEC,
			       ": its entry point 0x%" PRIx64 " lies outside guest RAM (0x%" PRIx64
			       "-0x%" PRIx64 "): link it for RAM at 0x%" PRIx64,
			       entry, m->base, m->base + m->size, m->base);
		goto out;
	}
	for (unsigned i = 0; i < phnum; i++) {
		if (ph[i].type != PT_LOAD || !ph[i].memsz)
			continue;
		uint8_t *dst = guest_mem_ptr(m, ph[i].paddr, ph[i].memsz);
		rc = file_read(f, dst, ph[i].filesz, ph[i].offset);
		if (rc)
			goto out;
		memset(dst + ph[i].filesz, 0, ph[i].memsz - ph[i].filesz);
	}
	*out = (struct boot_image){
	    .format = BOOT_FORMAT_ELF, .entry = entry, .start = start, .end = end};
	elf_find_htif(m, f, eh, ph, phnum, out);
out:
	free(ph);
	return rc;
}

/* ---- raw binary ---- */

static int load_raw(struct guest_mem *m, const struct boot_file *f, uint64_t gpa,
		    struct boot_image *out)
{
	char a[32], b[32];
	uint8_t *dst = guest_mem_ptr(m, gpa, f->size);
	if (!dst) {
		if (gpa >= m->base && gpa + f->size > gpa)
			return file_fail(
			    f, -EFBIG,
			    " (%s, a raw binary) does not fit in guest RAM at 0x%" PRIx64
			    " (RAM is %s): raise --mem to at least %" PRIu64 " MiB",
			    fmt_size(a, sizeof(a), f->size), gpa, fmt_size(b, sizeof(b), m->size),
			    mem_needed_mib(m, gpa + f->size - (m->base + m->size)));
		return file_fail(f, -EFBIG,
				 " (a raw binary) would load at 0x%" PRIx64
				 ", outside guest RAM: use an Image or ELF",
				 gpa);
	}
	int rc = file_read(f, dst, f->size, 0);
	if (rc)
		return rc;
	*out = (struct boot_image){
	    .format = BOOT_FORMAT_RAW, .entry = gpa, .start = gpa, .end = gpa + f->size};
	return 0;
}

/* Load a kernel or firmware; what and option name it in errors. */
static int load_program(struct guest_mem *m, const char *what, const char *option, const char *path,
			uint64_t raw_gpa, struct boot_image *out, char *err, size_t errlen)
{
	struct boot_file f = {what, option, path, -1, 0, err, errlen};
	uint8_t win[PE_HDR_WINDOW];
	int rc;

	if (!path)
		return file_fail(&f, -EINVAL, ": no path given (use %s FILE)", option);
	rc = file_open(&f);
	if (rc)
		goto out;
	size_t n = f.size < sizeof(win) ? (size_t)f.size : sizeof(win);
	rc = file_read(&f, win, n, 0);
	if (rc)
		goto out;
	memset(out, 0, sizeof(*out));
	if (n >= sizeof(elf_magic) && !memcmp(win, elf_magic, sizeof(elf_magic)))
		rc = load_elf(m, &f, win, n, out);
	else if (is_image(win, n))
		rc = load_image(m, &f, win, n, out);
	else if (n >= 2 && win[0] == 0x1f && win[1] == 0x8b)
		rc = load_gzip_image(m, &f, out);
	else if (!(rc = check_foreign(&f, win, n)))
		rc = load_raw(m, &f, raw_gpa, out);
out:
	file_close(&f);
	return rc;
}

int boot_load_kernel(struct guest_mem *m, const char *path, uint64_t raw_gpa,
		     struct boot_image *out, char *err, size_t errlen)
{
	return load_program(m, "kernel", "--kernel", path, raw_gpa, out, err, errlen);
}

int boot_load_firmware(struct guest_mem *m, const char *path, uint64_t raw_gpa,
		       struct boot_image *out, char *err, size_t errlen)
{
	return load_program(m, "firmware", "--firmware", path, raw_gpa, out, err, errlen);
}

int boot_load_initrd(struct guest_mem *m, const char *path, uint64_t floor, uint64_t limit,
		     uint64_t *start, uint64_t *end, char *err, size_t errlen)
{
	struct boot_file f = {"initrd", "--initrd", path, -1, 0, err, errlen};
	char a[32];
	int rc;

	if (!path)
		return file_fail(&f, -EINVAL, ": no path given (use --initrd FILE)");
	rc = file_open(&f);
	if (rc)
		goto out;
	/* Only RAM counts: clamp the window to it. */
	uint64_t ram_end = m->base + m->size;
	if (floor < m->base)
		floor = m->base;
	if (limit > ram_end)
		limit = ram_end;
	uint64_t at = 0;
	bool fits = limit > floor && f.size <= limit - floor;
	if (fits) {
		at = (limit - f.size) & ~(PAGE_SIZE - 1);
		fits = at >= floor;
	}
	if (!fits) {
		/* Room the window lacks, assuming it grows with RAM (the DTB sits at the top). */
		uint64_t avail = limit > floor ? limit - floor : 0;
		uint64_t want = ((f.size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)) + PAGE_SIZE;
		rc = file_fail(&f, -ENOSPC,
			       " (%s) does not fit in guest RAM between the kernel and the device "
			       "tree: raise --mem to at least %" PRIu64 " MiB",
			       fmt_size(a, sizeof(a), f.size),
			       mem_needed_mib(m, want > avail ? want - avail : PAGE_SIZE));
		goto out;
	}
	rc = file_read(&f, guest_mem_ptr(m, at, f.size), f.size, 0);
	if (rc)
		goto out;
	*start = at;
	*end = at + f.size;
out:
	file_close(&f);
	return rc;
}
