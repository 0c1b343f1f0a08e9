/* The translator interface on hosts without a back end: no translation,
 * every hart runs on the interpreter. */
#include <errno.h>
#include <string.h>

#include "cpu/hart.h"
#include "jit/jit.h"

bool jit_available(void)
{
	return false;
}

int jit_init(struct hart *h, size_t cache_bytes)
{
	(void)h;
	(void)cache_bytes;
	return -ENOSYS;
}

void jit_destroy(struct hart *h)
{
	(void)h;
}

uint64_t jit_run_budget(struct hart *h, int32_t n)
{
	return hart_run_budget(h, n);
}

void jit_flush_virtual(struct hart *h)
{
	(void)h;
}

void jit_sites_clear(struct hart *h)
{
	h->jit_site_n = 0; /* no translated code, no sites */
}

void jit_sites_clear_page(struct hart *h, uint64_t gva)
{
	(void)gva;
	h->jit_site_n = 0;
}

void jit_flush_virtual_page(struct hart *h, uint64_t gva)
{
	(void)h;
	(void)gva;
}

void jit_fence_i(struct hart *h, bool local)
{
	(void)h;
	(void)local;
}

void jit_note_write(struct hart *h, uint64_t gpa_page)
{
	(void)h;
	(void)gpa_page;
}

void jit_set_shared(struct hart *h)
{
	(void)h;
}

struct jit_stats jit_get_stats(const struct hart *h)
{
	(void)h;
	struct jit_stats s;
	memset(&s, 0, sizeof(s));
	return s;
}

void jit_inject_fault(struct hart *h, unsigned op)
{
	(void)h;
	(void)op;
}
