/* The MMIO bus: device windows kept sorted by guest-physical address and found by binary
 * search. Accesses that hit no window, cross a window's end, are misaligned or use a size the
 * device does not accept are refused, which the hart turns into an access fault (priv spec
 * 3.5). */
#include <errno.h>

#include "mem/bus.h"

static bool valid_size(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

int bus_add(struct bus *b, uint64_t gpa, uint64_t size, const struct mmio_ops *ops, void *opaque,
	    const char *name)
{
	if (size == 0 || gpa > UINT64_MAX - (size - 1) || !ops || !valid_size(ops->min_size) ||
	    !valid_size(ops->max_size) || ops->min_size > ops->max_size)
		return -EINVAL;
	uint64_t last = gpa + (size - 1);

	/* i: the first window that starts above gpa. */
	unsigned i = 0;
	while (i < b->count && b->region[i].gpa <= gpa)
		i++;
	if (i > 0) {
		const struct bus_region *prev = &b->region[i - 1];
		if (prev->gpa + (prev->size - 1) >= gpa)
			return -EEXIST;
	}
	if (i < b->count && b->region[i].gpa <= last)
		return -EEXIST;
	if (b->count == BUS_MAX_REGIONS)
		return -ENOSPC;

	for (unsigned j = b->count; j > i; j--)
		b->region[j] = b->region[j - 1];
	b->region[i] = (struct bus_region){gpa, size, ops, opaque, name};
	b->count++;
	return 0;
}

const struct bus_region *bus_find(const struct bus *b, uint64_t gpa)
{
	/* Find the last window starting at or below gpa, then check gpa is inside it. */
	unsigned lo = 0, hi = b->count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (b->region[mid].gpa <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct bus_region *r = &b->region[lo - 1];
	return gpa - r->gpa < r->size ? r : NULL;
}

/* The window for an access of size bytes at gpa if the access is well-formed for it. */
static const struct bus_region *bus_check(const struct bus *b, uint64_t gpa, unsigned size)
{
	if (!valid_size(size) || gpa % size)
		return NULL;
	const struct bus_region *r = bus_find(b, gpa);
	if (!r || size < r->ops->min_size || size > r->ops->max_size ||
	    r->size - (gpa - r->gpa) < size)
		return NULL;
	return r;
}

static uint64_t size_mask(unsigned size)
{
	return size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
}

bool bus_read(const struct bus *b, uint64_t gpa, unsigned size, uint64_t *val)
{
	const struct bus_region *r = bus_check(b, gpa, size);
	if (!r || !r->ops->read)
		return false;
	*val = r->ops->read(r->opaque, gpa - r->gpa, size) & size_mask(size);
	return true;
}

bool bus_write(const struct bus *b, uint64_t gpa, unsigned size, uint64_t val)
{
	const struct bus_region *r = bus_check(b, gpa, size);
	if (!r || !r->ops->write)
		return false;
	r->ops->write(r->opaque, gpa - r->gpa, size, val & size_mask(size));
	return true;
}
