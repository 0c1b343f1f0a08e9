/* Guest image loading: the Linux RISC-V Image format (Documentation/arch/riscv/boot-image-header
 * in the kernel tree), ELF64 for EM_RISCV, raw binaries, and the initrd. Every load is checked
 * against guest RAM; errors come back as -errno plus one human-readable sentence in err that
 * names the file and what to do about it. */
#ifndef RVISOR_VMM_BOOT_H
#define RVISOR_VMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct guest_mem;

enum boot_format { BOOT_FORMAT_IMAGE, BOOT_FORMAT_ELF, BOOT_FORMAT_RAW };

/* Where a loaded image landed (all guest-physical). */
struct boot_image {
	enum boot_format format;
	uint64_t entry;      /* first instruction */
	uint64_t start, end; /* [start, end) covers every byte loaded (for Image: image_size) */
	uint64_t tohost;     /* ELF only: address of the HTIF 'tohost' symbol, or 0 */
	uint64_t fromhost;   /* ELF only: address of 'fromhost', or 0 */
};

/* Load the file at path into RAM. The format is detected from its contents: an Image header
 * ("RISCV\0\0\0" magic at 0x30, "RSC\x05" at 0x38) loads at ram base + text_offset (2 MiB when
 * the header's text_offset is 0) and requires image_size to
 * fit; ELF (EM_RISCV, ELFCLASS64) loads each PT_LOAD at its p_paddr; anything else is raw and
 * loads at raw_gpa. Returns 0, or -errno with err filled (err holds errlen bytes). */
int boot_load_kernel(struct guest_mem *m, const char *path, uint64_t raw_gpa,
		     struct boot_image *out, char *err, size_t errlen);

/* The same as boot_load_kernel for an M-mode firmware or bare-metal program: errors name it
 * as the firmware given with --firmware. */
int boot_load_firmware(struct guest_mem *m, const char *path, uint64_t raw_gpa,
		       struct boot_image *out, char *err, size_t errlen);

/* Load an initrd at the highest 4 KiB-aligned guest-physical address such that it ends at or
 * below limit and starts at or above floor. Sets [*start, *end). Returns 0, or -errno with err
 * filled (-ENOSPC when it does not fit: err says how much RAM it needs). */
int boot_load_initrd(struct guest_mem *m, const char *path, uint64_t floor, uint64_t limit,
		     uint64_t *start, uint64_t *end, char *err, size_t errlen);

#endif
