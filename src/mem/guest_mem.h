/* Guest RAM: one host mapping (a memfd, so snapshots and migration can share it) per region,
 * at a guest-physical base. Every guest-physical access is range-checked here, once, on the
 * slow path; the TLBs cache the resulting host pointers. */
#ifndef RVISOR_MEM_GUEST_MEM_H
#define RVISOR_MEM_GUEST_MEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem {
	uint64_t base; /* guest-physical address of the first byte */
	uint64_t size; /* bytes, a multiple of 4 KiB */
	uint8_t *hva;  /* host mapping of the region */
	int fd;        /* the memfd behind it (or the memory file, read-only, with private_map) */
	bool private_map; /* a snapshot's memory file mapped copy-on-write (guest_mem_init_file) */
	/* Buffers of guest RAM handed to devices for writing (DMA), counted so that the
	 * translator knows when guest code may have changed other than by a hart's stores. */
	_Atomic uint64_t dma_writes;
};

/* Map size bytes of zeroed RAM at guest-physical base. size must be a non-zero multiple of
 * 4 KiB. Returns 0, -EINVAL or -ENOMEM (or the errno of memfd_create/mmap). */
int guest_mem_init(struct guest_mem *m, uint64_t base, uint64_t size);
/* Map the memory file at path (a snapshot's: exactly size bytes) as guest RAM at base,
 * copy-on-write: pages load lazily as the guest touches them, its writes never reach the file,
 * and VMs restored from one file share the pages none of them wrote. Returns 0, -EINVAL for
 * a bad size or base or a path that is not a regular file, -ERANGE when the file is not size
 * bytes long, or the errno of open/mmap. */
int guest_mem_init_file(struct guest_mem *m, uint64_t base, uint64_t size, const char *path);
/* Give len bytes of RAM at gpa (both 4 KiB-aligned) back to the host (virtio-balloon): a hole
 * in the memfd, or, on a private mapping, the private copies dropped. What the guest reads
 * there afterwards is zeroes or the memory file's contents. Returns 0, -EINVAL for a range
 * outside RAM or unaligned, or -errno. */
int guest_mem_discard(struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Unmap and close. Safe on a zeroed struct. */
void guest_mem_destroy(struct guest_mem *m);

/* Host pointer for len bytes at guest-physical gpa, or NULL if any byte lies outside RAM. */
static inline void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t off = gpa - m->base;
	if (gpa < m->base || off >= m->size || len > m->size - off)
		return NULL;
	return m->hva + off;
}

/* True if gpa lies in RAM. */
static inline bool guest_mem_contains(const struct guest_mem *m, uint64_t gpa)
{
	return gpa >= m->base && gpa - m->base < m->size;
}

#endif
