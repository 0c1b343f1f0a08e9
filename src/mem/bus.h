/* The MMIO bus: a sorted table of device windows. A device is a plain struct of callbacks with
 * the access sizes it accepts; the bus enforces those sizes and natural alignment, so devices
 * only see well-formed accesses. An access that hits no device, or breaks the rules, is an
 * access fault for the hart (priv spec 3.5: load/store access-fault exceptions). */
#ifndef RVISOR_MEM_BUS_H
#define RVISOR_MEM_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A device's MMIO callbacks. offset is in bytes from the window's start; size is 1, 2, 4 or 8
 * bytes and lies within [min_size, max_size]; the access is naturally aligned. Callbacks may
 * be called from any vCPU thread at once: a device locks its own state. */
struct mmio_ops {
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
	void (*write)(void *opaque, uint64_t offset, unsigned size, uint64_t value);
	unsigned min_size, max_size;
};

/* One device window in guest-physical space. */
struct bus_region {
	uint64_t gpa, size; /* bytes */
	const struct mmio_ops *ops;
	void *opaque;
	const char *name;
};

#define BUS_MAX_REGIONS 64

struct bus {
	struct bus_region region[BUS_MAX_REGIONS]; /* sorted by gpa, non-overlapping */
	unsigned count;
};

/* Add a window of size bytes at gpa. Returns 0, -EEXIST if it overlaps another window, or
 * -ENOSPC if the table is full. */
int bus_add(struct bus *b, uint64_t gpa, uint64_t size, const struct mmio_ops *ops, void *opaque,
	    const char *name);

/* The window holding gpa, or NULL. */
const struct bus_region *bus_find(const struct bus *b, uint64_t gpa);

/* Read size bytes at gpa into *val (zero-extended). Returns false on an access fault. */
bool bus_read(const struct bus *b, uint64_t gpa, unsigned size, uint64_t *val);
/* Write the low size bytes of val at gpa. Returns false on an access fault. */
bool bus_write(const struct bus *b, uint64_t gpa, unsigned size, uint64_t val);

#endif
