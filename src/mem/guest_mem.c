/* Guest RAM regions: each is a memfd mapped shared into the host, so a snapshot or a migration
 * can reach the same pages through the file descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem/guest_mem.h"

#define GUEST_MEM_PAGE 4096ull

int guest_mem_init(struct guest_mem *m, uint64_t base, uint64_t size)
{
	m->base = base;
	m->size = 0;
	m->hva = NULL;
	m->fd = -1;
	m->private_map = false;
	atomic_store(&m->dma_writes, 0);
	m->dirty = NULL;
	/* base + size must not wrap, and size must fit the host's off_t and size_t. */
	if (size == 0 || size % GUEST_MEM_PAGE || base % GUEST_MEM_PAGE ||
	    size > (uint64_t)INT64_MAX || size > SIZE_MAX || base > UINT64_MAX - size)
		return -EINVAL;

	int fd = memfd_create("rvisor-ram", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int rc = errno == EFBIG ? -ENOMEM : -errno;
		close(fd);
		return rc;
	}
	void *hva =
	    mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (hva == MAP_FAILED) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	/* Huge pages cut the host's TLB misses on guest RAM; refusal is harmless. */
	madvise(hva, (size_t)size, MADV_HUGEPAGE);
	m->size = size;
	m->hva = hva;
	m->fd = fd;
	return 0;
}

int guest_mem_init_file(struct guest_mem *m, uint64_t base, uint64_t size, const char *path)
{
	m->base = base;
	m->size = 0;
	m->hva = NULL;
	m->fd = -1;
	m->private_map = false;
	atomic_store(&m->dma_writes, 0);
	m->dirty = NULL;
	if (size == 0 || size % GUEST_MEM_PAGE || base % GUEST_MEM_PAGE ||
	    size > (uint64_t)INT64_MAX || size > SIZE_MAX || base > UINT64_MAX - size)
		return -EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(fd, &st) < 0             ? -errno
		 : !S_ISREG(st.st_mode)         ? -EINVAL
		 : (uint64_t)st.st_size != size ? -ERANGE
						: 0;
	if (rc) {
		close(fd);
		return rc;
	}
	/* Private: the guest's writes go to anonymous copies of the pages it touches, never to
	 * the file, which many VMs may map at once. */
	void *hva =
	    mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	if (hva == MAP_FAILED) {
		rc = -errno;
		close(fd);
		return rc;
	}
	m->size = size;
	m->hva = hva;
	m->fd = fd;
	m->private_map = true;
	return 0;
}

int guest_mem_adopt_fd(struct guest_mem *m, uint64_t base, uint64_t size, int fd)
{
	m->base = base;
	m->size = 0;
	m->hva = NULL;
	m->fd = -1;
	m->private_map = false;
	m->dirty = NULL;
	atomic_store(&m->dma_writes, 0);
	struct stat st;
	int rc = size == 0 || size % GUEST_MEM_PAGE || base % GUEST_MEM_PAGE ||
			 size > (uint64_t)INT64_MAX || size > SIZE_MAX || base > UINT64_MAX - size
		     ? -EINVAL
		 : fstat(fd, &st) < 0           ? -errno
		 : (uint64_t)st.st_size != size ? -ERANGE
						: 0;
	void *hva = MAP_FAILED;
	if (!rc) {
		hva = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			   fd, 0);
		if (hva == MAP_FAILED)
			rc = -errno;
	}
	if (rc) {
		close(fd);
		return rc;
	}
	madvise(hva, (size_t)size, MADV_HUGEPAGE);
	m->size = size;
	m->hva = hva;
	m->fd = fd;
	return 0;
}

int guest_mem_discard(struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (!guest_mem_ptr(m, gpa, len) || gpa % GUEST_MEM_PAGE || len % GUEST_MEM_PAGE)
		return -EINVAL;
	uint64_t off = gpa - m->base;
	guest_mem_mark_dirty(m, gpa, len); /* it reads as zeroes (or the file) from now on */
	if (m->private_map)
		return madvise(m->hva + off, (size_t)len, MADV_DONTNEED) ? -errno : 0;
	return fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len)
		   ? -errno
		   : 0;
}

int guest_mem_dirty_enable(struct guest_mem *m)
{
	if (m->dirty)
		return 0;
	uint64_t words = guest_mem_dirty_words(m);
	_Atomic uint64_t *log = malloc(words * sizeof(*log));
	if (!log)
		return -ENOMEM;
	for (uint64_t i = 0; i < words; i++)
		atomic_init(&log[i], ~0ull);
	uint64_t pages = m->size / GUEST_MEM_PAGE;
	if (pages % 64)
		atomic_init(&log[words - 1], (1ull << (pages % 64)) - 1);
	__atomic_store_n(&m->dirty, log, __ATOMIC_RELEASE);
	return 0;
}

uint64_t guest_mem_dirty_take(struct guest_mem *m, uint64_t *out)
{
	uint64_t n = 0, words = guest_mem_dirty_words(m), pages = m->size / GUEST_MEM_PAGE;
	for (uint64_t i = 0; i < words; i++) {
		/* Without a log every page counts as dirty. */
		uint64_t all = i == words - 1 && pages % 64 ? (1ull << (pages % 64)) - 1 : ~0ull;
		out[i] = m->dirty ? atomic_exchange_explicit(&m->dirty[i], 0, memory_order_acq_rel)
				  : all;
		n += (uint64_t)__builtin_popcountll(out[i]);
	}
	return n;
}

void guest_mem_destroy(struct guest_mem *m)
{
	free((void *)m->dirty);
	m->dirty = NULL;
	/* A zeroed struct has fd 0 but no mapping: the mapping says whether init succeeded. */
	if (m->hva) {
		munmap(m->hva, (size_t)m->size);
		close(m->fd);
	}
	m->hva = NULL;
	m->size = 0;
	m->fd = -1;
}
