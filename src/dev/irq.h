/* An interrupt line: a function, an opaque pointer and a line number. A device raises or lowers
 * its line without knowing what is behind it (a PLIC source, or a hart's mip bit). */
#ifndef RVISOR_DEV_IRQ_H
#define RVISOR_DEV_IRQ_H

#include <stdbool.h>

struct irq_line {
	void (*set)(void *opaque, unsigned num, bool level);
	void *opaque;
	unsigned num;
};

/* Drive the line to level (true = asserted). A line with no function does nothing. */
static inline void irq_set(const struct irq_line *l, bool level)
{
	if (l->set)
		l->set(l->opaque, l->num, level);
}

#endif
