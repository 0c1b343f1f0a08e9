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
	/* The dirty log (guest_mem_dirty_enable): one bit per 4 KiB page of RAM, set when
	 * anything may write the page (a hart's store, AMO or A/D update, a device's DMA, the
	 * SBI, a debugger, a discard); NULL while pages are not tracked. */
	_Atomic uint64_t *dirty;
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
/* Take fd (a memfd or file of exactly size bytes, e.g. RAM received by a migration) as guest
 * RAM at base, mapped shared: m owns fd from here (closed by guest_mem_destroy, also on
 * failure). Returns 0, -EINVAL, -ERANGE for a file of another size, or the errno of mmap. */
int guest_mem_adopt_fd(struct guest_mem *m, uint64_t base, uint64_t size, int fd);
/* Give len bytes of RAM at gpa (both 4 KiB-aligned) back to the host (virtio-balloon): a hole
 * in the memfd, or, on a private mapping, the private copies dropped. What the guest reads
 * there afterwards is zeroes or the memory file's contents. Returns 0, -EINVAL for a range
 * outside RAM or unaligned, or -errno. */
int guest_mem_discard(struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Start tracking written pages: allocate the dirty log with every page marked dirty (nothing
 * is known of what came before). Returns 0 (also when already on) or -ENOMEM. */
int guest_mem_dirty_enable(struct guest_mem *m);
/* Move the dirty log into out (a bitmap of guest_mem_dirty_words(m) 64-bit words, bit n for
 * the page at base + n * 4 KiB) and leave it clear, word by word with atomic exchanges: a
 * page marked while this runs lands either in out or in the log. The caller then makes every
 * hart drop its write TLB entries (HART_FENCE_DIRTY) before reading the pages, since a store
 * through an entry filled before does not mark again. Returns the number of dirty pages. */
uint64_t guest_mem_dirty_take(struct guest_mem *m, uint64_t *out);
/* Words in the dirty log: one per 64 pages. */
static inline uint64_t guest_mem_dirty_words(const struct guest_mem *m)
{
	return (m->size / 4096 + 63) / 64;
}

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

/* Mark the pages holding len bytes at guest-physical gpa as written, when the dirty log is
 * on; bytes outside RAM are ignored. Cheap when the page is already marked (a load). */
static inline void guest_mem_mark_dirty(struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	_Atomic uint64_t *log = __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);
	if (__builtin_expect(!log, 1) || !len)
		return;
	uint64_t off = gpa - m->base;
	if (gpa < m->base || off >= m->size)
		return;
	uint64_t last = len > m->size - off ? m->size - 1 : off + len - 1;
	for (uint64_t pg = off / 4096; pg <= last / 4096; pg++) {
		uint64_t bit = 1ull << (pg % 64);
		if (!(atomic_load_explicit(&log[pg / 64], memory_order_relaxed) & bit))
			atomic_fetch_or_explicit(&log[pg / 64], bit, memory_order_relaxed);
	}
}

/* True if gpa lies in RAM. */
static inline bool guest_mem_contains(const struct guest_mem *m, uint64_t gpa)
{
	return gpa >= m->base && gpa - m->base < m->size;
}

#endif
