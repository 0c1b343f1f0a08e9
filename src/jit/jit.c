/* The translator's host-independent part: the per-hart code cache (a memfd mapped twice:
 * writable, and readable + executable; never both at one address), block discovery with the
 * shared decoder, the block table keyed by guest-virtual and guest-physical pc, the jump cache
 * and fetch TLB, direct-jump chaining, fence.i revalidation and the dispatcher loop. Host code
 * comes from the back end (backend.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/pmp.h"
#include "jit/backend.h"
#include "jit/jit.h"
#include "mem/guest_mem.h"

#define MAX_BLOCK_INSNS JIT_MAX_INSNS
#define MAX_FOLLOW_SPAN 512         /* bytes a block following jumps may span in its page */
#define BLOCK_ROOM      (64u << 10) /* free bytes each region needs before a translation */
#define TRAMP_BYTES     4096
#define BHASH_SIZE      (1u << 16)
#define PHASH_SIZE      (1u << 12)
#define FTLB_ENTRIES    256
#define NVIEWS          4    /* privilege views, as the hart's fetch TLB sets */
#define FETCHED_BITS    4096 /* hash bits of the virtual pages code was fetched from */
#define MAX_SUPER       8    /* superpages code was fetched from, remembered one by one */
#define MAX_WRITTEN     16   /* code pages stored to between two fence.i, remembered */

/* One translated block. Dead blocks (their page changed) stay in memory until the next flush
 * but are unlinked from the block table. */
struct jit_block {
	uint64_t vpc, gpa;       /* first instruction: guest-virtual and guest-physical */
	uintptr_t code;          /* executable entry */
	struct jit_block *hnext; /* block-table chain */
	struct jit_block *pnext; /* blocks of the same guest-physical page */
	uint32_t bytes_off;      /* guest bytes translated, in j->bytes */
	uint16_t goff, glen;     /* their offset in the page and length (the span from the
				  * lowest to the highest when the block follows jumps) */
};

/* A guest-physical page holding translated blocks. gen: the translator's gen when its blocks
 * were last checked against guest memory. */
struct jit_page {
	uint64_t gpa_page;
	uint64_t gen;
	struct jit_block *blocks;
	struct jit_page *hnext;
};

struct jit_ftlb {
	uint64_t tag; /* gva >> 12 */
	uint64_t gpa_page;
	uint64_t gen; /* h->jit_vgen when filled: the entry counts only while they are equal */
};

struct jit {
	int fd;
	uint8_t *rw, *rx; /* the two views of the cache */
	size_t size;
	struct jit_tramp tramp;
	struct jit_buf hot, cold; /* hot: [TRAMP_BYTES, 3/10), cold: [3/10, size) */
	/* The memory-access sites: an anonymous writable mapping right after rx (so code
	 * reaches them RIP-relative), max_sites of them. */
	struct jit_site *sites;
	size_t max_sites;
	struct jit_site_pool site_pool;

	struct jit_block *blocks;
	unsigned nblocks, max_blocks;
	struct jit_block *bhash[BHASH_SIZE];
	struct jit_page *pages;
	unsigned npages, max_pages;
	struct jit_page *phash[PHASH_SIZE];
	uint8_t *bytes; /* guest bytes of every block, for fence.i */
	size_t nbytes, max_bytes;

	/* Virtual pages (by hash) and superpages that instruction fetches went through since the
	 * last generation bump: an sfence.vma of any other page leaves the caches alone. */
	uint64_t fetched[FETCHED_BITS / 64];
	struct {
		uint64_t vpn; /* vpn >> (9 * level) */
		unsigned level;
	} super[MAX_SUPER];
	unsigned nsuper; /* MAX_SUPER + 1: overflowed, every page flush bumps */

	struct jit_jc jcache[NVIEWS][JIT_JC_ENTRIES];
	struct jit_ftlb ftlb[NVIEWS][FTLB_ENTRIES];

	/* fence.i: gen counts the fences after which every page must be checked; the pages with
	 * blocks this hart stored to since the last fence.i (MAX_WRITTEN + 1: too many), and the
	 * guest RAM's DMA count when pages were last all checked. */
	uint64_t gen;
	uint64_t written[MAX_WRITTEN];
	unsigned nwritten;
	uint64_t dma_seen;
	bool shared;      /* other harts store to this RAM too */
	uint64_t isa_ext; /* the hart's extensions the blocks were decoded with */

	unsigned inject_op;
	bool print_stats;
	FILE *dump;    /* RVISOR_JIT_DUMP: every block's guest pc, hot and cold code in hex */
	FILE *perfmap; /* RVISOR_JIT_PERFMAP=1: /tmp/perf-PID.map, so perf names blocks */
	/* Their stdio buffers, given at fopen: a buffer stdio allocates itself on the first
	 * write costs an fstat, which the vcpu thread's seccomp filter refuses. */
	char dump_buf[4096], perfmap_buf[4096];
	struct jit_stats stats;
};

bool jit_available(void)
{
	return true;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Empty the jump cache and the fetch TLB: their entries carry the generation they were filled
 * in. */
static void flush_virtual(struct hart *h)
{
	h->jit_vgen++;
	memset(h->jit->fetched, 0, sizeof(h->jit->fetched));
	h->jit->nsuper = 0;
}

static unsigned fetched_bit(uint64_t vpn)
{
	return (unsigned)((vpn * 0x9e3779b97f4a7c15ull) >> 52) & (FETCHED_BITS - 1);
}

void jit_flush_virtual_page(struct hart *h, uint64_t gva)
{
	struct jit *j = h->jit;
	uint64_t vpn = gva >> 12;
	unsigned bit = fetched_bit(vpn);
	bool hit = (j->fetched[bit / 64] >> (bit % 64)) & 1;
	hit |= j->nsuper > MAX_SUPER;
	for (unsigned i = 0; i < j->nsuper && i < MAX_SUPER && !hit; i++)
		hit = (vpn >> (9 * j->super[i].level)) == j->super[i].vpn;
	if (hit) {
		flush_virtual(h);
		h->jit_link = NULL;
	}
}

/* Drop every translation (the cache is full, or a test asked). Only between blocks. */
static void flush_all(struct hart *h)
{
	struct jit *j = h->jit;
	j->hot.p = j->rw + TRAMP_BYTES;
	j->hot.overflow = false;
	j->cold.p = j->cold.start;
	j->cold.overflow = false;
	j->nblocks = j->npages = 0;
	j->nbytes = 0;
	j->nwritten = 0;
	j->site_pool = (struct jit_site_pool){j->sites, j->sites + j->max_sites};
	h->jit_site_n = 0; /* the sites are handed out afresh, emptied */
	memset(j->bhash, 0, sizeof(j->bhash));
	memset(j->phash, 0, sizeof(j->phash));
	flush_virtual(h);
	h->jit_link = NULL;
	j->stats.code_bytes = 0;
}

int jit_init(struct hart *h, size_t cache_bytes)
{
	if (cache_bytes < JIT_CACHE_MIN || cache_bytes > JIT_CACHE_MAX)
		return -EINVAL;
	cache_bytes = (cache_bytes + 0xffff) & ~(size_t)0xffff;
	struct jit *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	int rc = -ENOMEM;
	j->fd = memfd_create("rvisor-jit", MFD_CLOEXEC);
	if (j->fd < 0) {
		rc = -errno;
		goto fail_free;
	}
	if (ftruncate(j->fd, (off_t)cache_bytes)) {
		rc = -errno;
		goto fail_fd;
	}
	j->rw = mmap(NULL, cache_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
	if (j->rw == MAP_FAILED) {
		rc = -errno;
		goto fail_fd;
	}
	/* The executable view, and the sites right after it: one reservation, so both lie
	 * within 2 GiB of each other (cache_bytes + site bytes <= 1.25 GiB). */
	j->max_sites = cache_bytes / 4 / sizeof(struct jit_site);
	size_t site_bytes = j->max_sites * sizeof(struct jit_site);
	void *area = mmap(NULL, cache_bytes + site_bytes, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED) {
		rc = -errno;
		goto fail_rw;
	}
	j->rx = mmap(area, cache_bytes, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, j->fd, 0);
	j->sites = mmap((uint8_t *)area + cache_bytes, site_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	if (j->rx == MAP_FAILED || j->sites == MAP_FAILED) {
		rc = -errno;
		munmap(area, cache_bytes + site_bytes);
		goto fail_rw;
	}
	j->size = cache_bytes;
	/* Blocks: a bound generous for the cache size (a block is rarely under 128 bytes). */
	j->max_blocks = (unsigned)(cache_bytes / 128);
	j->max_pages = j->max_blocks / 4 + 64;
	j->max_bytes = (size_t)j->max_blocks * 32;
	j->blocks = malloc(sizeof(*j->blocks) * j->max_blocks);
	j->pages = malloc(sizeof(*j->pages) * j->max_pages);
	j->bytes = malloc(j->max_bytes);
	if (!j->blocks || !j->pages || !j->bytes)
		goto fail_all;

	intptr_t delta = (intptr_t)(j->rx - j->rw);
	struct jit_buf t = {
	    .start = j->rw, .p = j->rw, .end = j->rw + TRAMP_BYTES, .x_delta = delta};
	if (!jit_be_trampolines(&t, &j->tramp)) {
		rc = -ENOSPC;
		goto fail_all;
	}
	/* Cold code (site misses, slow paths, exits) is about 2.5 times the hot code (Debian's
	 * boot: 27% hot): the cache fills, and is flushed, when either part does. */
	size_t split = (cache_bytes / 10 * 3) & ~(size_t)0xfff;
	j->hot =
	    (struct jit_buf){.start = j->rw + TRAMP_BYTES, .end = j->rw + split, .x_delta = delta};
	j->cold =
	    (struct jit_buf){.start = j->rw + split, .end = j->rw + cache_bytes, .x_delta = delta};
	const char *env = getenv("RVISOR_JIT_STATS");
	j->print_stats = env && *env && strcmp(env, "0");
	env = getenv("RVISOR_JIT_DUMP");
	if (env && *env)
		j->dump = fopen(env, "a");
	if (j->dump)
		setvbuf(j->dump, j->dump_buf, _IOFBF, sizeof(j->dump_buf));
	env = getenv("RVISOR_JIT_PERFMAP");
	if (env && *env && strcmp(env, "0")) {
		char path[64];
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
		j->perfmap = fopen(path, "a");
		if (j->perfmap)
			setvbuf(j->perfmap, j->perfmap_buf, _IOFBF, sizeof(j->perfmap_buf));
	}
	h->jit = j;
	j->isa_ext = h->isa_ext;
	memset(j->jcache, 0, sizeof(j->jcache));
	memset(j->ftlb, 0, sizeof(j->ftlb));
	h->jit_vgen = 1;
	flush_all(h);
	h->jit_jcache = j->jcache[0];
	return 0;

fail_all:
	free(j->blocks);
	free(j->pages);
	free(j->bytes);
	munmap(j->rx, cache_bytes + j->max_sites * sizeof(struct jit_site));
fail_rw:
	munmap(j->rw, cache_bytes);
fail_fd:
	close(j->fd);
fail_free:
	free(j);
	return rc;
}

static void print_stats(const struct hart *h)
{
	const struct jit_stats *s = &h->jit->stats;
	fprintf(stderr,
		"jit: hart %llu\njit: blocks %llu\njit: guest_insns %llu\njit: code_bytes %llu\n"
		"jit: flushes %llu\njit: page_drops %llu\njit: dispatches %llu\njit: chains %llu\n"
		"jit: translate_ns %llu\njit: interp_insns %llu\n",
		(unsigned long long)h->mhartid, (unsigned long long)s->blocks,
		(unsigned long long)s->guest_insns, (unsigned long long)s->code_bytes,
		(unsigned long long)s->flushes, (unsigned long long)s->page_drops,
		(unsigned long long)s->dispatches, (unsigned long long)s->chains,
		(unsigned long long)s->translate_ns, (unsigned long long)s->interp_insns);
}

void jit_destroy(struct hart *h)
{
	struct jit *j = h->jit;
	if (!j)
		return;
	if (j->print_stats)
		print_stats(h);
	if (j->dump)
		fclose(j->dump);
	if (j->perfmap)
		fclose(j->perfmap);
	munmap(j->rx, j->size + j->max_sites * sizeof(struct jit_site));
	munmap(j->rw, j->size);
	close(j->fd);
	free(j->blocks);
	free(j->pages);
	free(j->bytes);
	free(j);
	h->jit = NULL;
	h->jit_jcache = NULL;
	h->jit_link = NULL;
}

void jit_sites_clear(struct hart *h)
{
	for (uint32_t i = 0; i < h->jit_site_n; i++)
		*h->jit_site_log[i] = JIT_SITE_EMPTY;
	h->jit_site_n = 0;
}

/* Empty the logged sites whose copy maps guest-virtual page gva_page, or (by_host) host page
 * hva_page, and take them out of the log. */
static void sites_clear_matching(struct hart *h, uint64_t gva_page, uintptr_t hva_page,
				 bool by_host)
{
	for (uint32_t i = 0; i < h->jit_site_n; i++) {
		struct jit_site *site = (struct jit_site *)(void *)h->jit_site_log[i];
		if (by_host ? site->tag + site->addend == hva_page : site->tag == gva_page) {
			site->tag = JIT_SITE_EMPTY;
			h->jit_site_log[i--] = h->jit_site_log[--h->jit_site_n];
		}
	}
}

void jit_sites_clear_page(struct hart *h, uint64_t gva)
{
	sites_clear_matching(h, gva & ~0xfffull, 0, false);
}

void jit_flush_virtual(struct hart *h)
{
	flush_virtual(h);
	h->jit_link = NULL;
}

void jit_set_shared(struct hart *h)
{
	h->jit->shared = true;
}

static struct jit_page *page_find(struct jit *j, uint64_t gpa_page);
static bool page_changed(struct jit *j, const struct jit_page *p, const uint8_t *hva);
static void page_drop(struct jit *j, struct jit_page *p);
static void unmap_writes(struct hart *h, const uint8_t *hva_page);
static void drop_writes(struct hart *h, const uint8_t *hva_page);

void jit_note_write(struct hart *h, uint64_t gpa_page)
{
	struct jit *j = h->jit;
	if (j->nwritten > MAX_WRITTEN || !page_find(j, gpa_page))
		return;
	for (unsigned i = 0; i < j->nwritten; i++)
		if (j->written[i] == gpa_page)
			return;
	if (j->nwritten < MAX_WRITTEN)
		j->written[j->nwritten] = gpa_page;
	j->nwritten++;
}

void jit_fence_i(struct hart *h, bool local)
{
	struct jit *j = h->jit;
	uint64_t dma = atomic_load_explicit(&h->mem->dma_writes, memory_order_acquire);
	if (local && !j->shared && j->nwritten <= MAX_WRITTEN && dma == j->dma_seen) {
		/* Only this hart's own stores can have changed code: check those pages now. */
		bool dropped = false;
		for (unsigned i = 0; i < j->nwritten; i++) {
			struct jit_page *p = page_find(j, j->written[i]);
			const uint8_t *hva = guest_mem_ptr(h->mem, j->written[i], 4096);
			if (p && hva && page_changed(j, p, hva)) {
				page_drop(j, p);
				dropped = true;
			}
			/* The next store to it must be seen again. */
			if (hva)
				unmap_writes(h, hva);
		}
		j->nwritten = 0;
		if (dropped) {
			flush_virtual(h);
			h->jit_link = NULL;
		}
		return;
	}
	/* Pages are checked against guest memory when next entered through the dispatcher; the
	 * jump cache would bypass it, and a pending chain could join a stale block. */
	j->gen++;
	j->nwritten = 0;
	j->dma_seen = dma;
	flush_virtual(h);
	h->jit_link = NULL;
	/* From here on, every store to a page with blocks must reach jit_note_write again
	 * (which only matters while this hart alone writes its RAM). */
	if (!j->shared)
		drop_writes(h, NULL);
}

struct jit_stats jit_get_stats(const struct hart *h)
{
	struct jit_stats s;
	if (h->jit)
		s = h->jit->stats;
	else
		memset(&s, 0, sizeof(s));
	return s;
}

void jit_inject_fault(struct hart *h, unsigned op)
{
	if (!h->jit)
		return;
	h->jit->inject_op = op;
	flush_all(h);
}

/* The privilege view of instruction fetches (the index of the hart's fetch-TLB set). */
static unsigned fetch_view(const struct hart *h)
{
	return (unsigned)((h->itlb - h->itlb_set[0]) / TLB_ENTRIES);
}

static unsigned bhash(uint64_t vpc, uint64_t gpa)
{
	uint64_t k = (vpc ^ (gpa * 0x9e3779b97f4a7c15ull)) >> 1;
	return (unsigned)((k ^ (k >> 17)) & (BHASH_SIZE - 1));
}

static struct jit_page *page_find(struct jit *j, uint64_t gpa_page)
{
	struct jit_page *p = j->phash[(gpa_page >> 12) & (PHASH_SIZE - 1)];
	while (p && p->gpa_page != gpa_page)
		p = p->hnext;
	return p;
}

/* Unlink every block of page p from the block table: after a fence.i its guest bytes
 * changed. Chains only join blocks of one page, so no live block jumps into them. */
static void page_drop(struct jit *j, struct jit_page *p)
{
	for (struct jit_block *b = p->blocks; b; b = b->pnext) {
		struct jit_block **pp = &j->bhash[bhash(b->vpc, b->gpa)];
		while (*pp && *pp != b)
			pp = &(*pp)->hnext;
		if (*pp)
			*pp = b->hnext;
	}
	p->blocks = NULL;
	j->stats.page_drops++;
}

/* Whether some block of page p no longer matches guest memory (the page's host copy hva). */
static bool page_changed(struct jit *j, const struct jit_page *p, const uint8_t *hva)
{
	for (const struct jit_block *b = p->blocks; b; b = b->pnext)
		if (memcmp(j->bytes + b->bytes_off, hva + b->goff, b->glen))
			return true;
	return false;
}

/* Check the blocks of page p (host copy hva) against guest memory after a fence.i. */
static void page_validate(struct hart *h, struct jit_page *p, const uint8_t *hva)
{
	struct jit *j = h->jit;
	if (page_changed(j, p, hva))
		page_drop(j, p);
	p->gen = j->gen;
}

/* A page gets its first block: drop the hart's data-TLB write entries that map it, so that
 * the next store to it takes the MMU's slow path, where jit_note_write sees it. */
static void unmap_writes(struct hart *h, const uint8_t *hva_page)
{
	drop_writes(h, hva_page);
}

/* Drop the data-TLB write entries that map the host page hva_page (NULL: all of them),
 * visiting only the indices filled since the last full flush. */
static void drop_writes(struct hart *h, const uint8_t *hva_page)
{
	/* Sites may hold copies of those entries: empty the ones that map that page. */
	if (!hva_page)
		jit_sites_clear(h);
	else
		sites_clear_matching(h, 0, (uintptr_t)hva_page, true);
	for (unsigned s = 0; s < 4; s++) {
		struct tlb_set *t = &h->tlb[s];
		for (unsigned wd = 0; wd < TLB_ENTRIES / 64; wd++) {
			for (uint64_t m = t->used[wd]; m; m &= m - 1) {
				struct tlb_entry *e = &t->w[wd * 64 + (unsigned)__builtin_ctzll(m)];
				if (e->tag != TLB_INVALID &&
				    (!hva_page ||
				     e->addend + (e->tag << 12) == (uintptr_t)hva_page))
					e->tag = TLB_INVALID;
			}
		}
	}
}

/* Describe a new block to the dump file and the perf map (debugging and profiling aids). */
static void note_block(struct hart *h, const struct jit_block *b, unsigned n, const uint8_t *hot0,
		       const uint8_t *cold0)
{
	struct jit *j = h->jit;
	size_t hot_len = (size_t)(j->hot.p - hot0), cold_len = (size_t)(j->cold.p - cold0);
	if (j->perfmap)
		fprintf(j->perfmap, "%lx %zx guest_%llx\n", (unsigned long)b->code, hot_len,
			(unsigned long long)b->vpc);
	if (!j->dump)
		return;
	fprintf(j->dump, "block hart=%llu vpc=%llx gpa=%llx insns=%u code=%lx hot=%zu cold=%zu\n",
		(unsigned long long)h->mhartid, (unsigned long long)b->vpc,
		(unsigned long long)b->gpa, n, (unsigned long)b->code, hot_len, cold_len);
	for (size_t k = 0; k < hot_len; k++)
		fprintf(j->dump, "%02x", hot0[k]);
	fprintf(j->dump, "\ncold %lx\n", (unsigned long)(cold0 + j->cold.x_delta));
	for (size_t k = 0; k < cold_len; k++)
		fprintf(j->dump, "%02x", cold0[k]);
	fputc('\n', j->dump);
}

/* Whether guest pc is one of the block's instructions ins[0..n). */
static bool in_block(const struct jit_insn *ins, unsigned n, uint64_t pc)
{
	for (unsigned k = 0; k < n; k++)
		if (ins[k].pc == pc)
			return true;
	return false;
}

/* Whether the block (starting at vpc, bytes lo..hi of its page decoded so far) may take in
 * the code at guest pc target: on the same page and keeping the span of bytes the block
 * depends on short (they are kept, and compared after a fence.i). */
static bool within_span(uint64_t vpc, unsigned lo, unsigned hi, uint64_t target)
{
	unsigned t = (unsigned)(target & 0xfff);
	if ((target >> 12) != (vpc >> 12))
		return false;
	return (t < lo ? hi - t : t + 4 > hi ? t + 4 - lo : hi - lo) <= MAX_FOLLOW_SPAN;
}

/* Whether the block (ins[0..n], starting at vpc, bytes lo..hi decoded so far) goes on at the
 * target of ins[n], a JAL: within the span, and not an instruction already in the block (the
 * back end jumps there inside the block). Sets follow. */
static bool follow_jump(struct jit_insn *ins, unsigned n, uint64_t vpc, unsigned lo, unsigned hi)
{
	if (ins[n].f.op != OP_JAL || n + 1 >= MAX_BLOCK_INSNS)
		return false;
	uint64_t target = ins[n].pc + (uint64_t)ins[n].f.imm;
	if (!within_span(vpc, lo, hi, target) || in_block(ins, n + 1, target))
		return false;
	ins[n].follow = true;
	return true;
}

/* Decode one run of the block from page offset off on (appending to ins[0..*n)), following
 * jumps, until an instruction that ends the block, the page's end, the block's size limit,
 * or an instruction already in the block (the run falls into it). Widens *lo..*hi, the span
 * of bytes decoded. */
static void decode_run(struct jit_insn *ins, unsigned *n, uint64_t vpc, const uint8_t *hva_page,
		       unsigned off, unsigned *lo, unsigned *hi, uint64_t ext)
{
	unsigned n0 = *n;
	uint64_t page = vpc & ~0xfffull;
	while (*n < MAX_BLOCK_INSNS && off < 4096) {
		if (*n > n0 && in_block(ins, *n, page + off))
			break; /* falls into code already in the block */
		uint16_t lo16;
		memcpy(&lo16, hva_page + off, 2);
		unsigned len = insn_length(lo16);
		if (off + len > 4096)
			break; /* straddles the page: the dispatcher interprets it */
		uint32_t raw = lo16;
		if (len == 4) {
			uint16_t hi16;
			memcpy(&hi16, hva_page + off + 2, 2);
			raw |= (uint32_t)hi16 << 16;
		}
		struct jit_insn *i = &ins[*n];
		decode_isa(raw, ext, &i->f);
		i->pc = page + off;
		i->follow = false;
		off += len;
		*lo = i->pc - page < *lo ? (unsigned)(i->pc - page) : *lo;
		*hi = off > *hi ? off : *hi;
		if (follow_jump(ins, *n, vpc, *lo, *hi)) {
			off = (unsigned)((i->pc + (uint64_t)i->f.imm) & 0xfff);
			*lo = off < *lo ? off : *lo;
			(*n)++;
			continue;
		}
		(*n)++;
		if (jit_ends_block(i->f.op))
			break;
	}
	/* A followed jump whose target could not be decoded (it straddles the page end) is a
	 * jump out of the block after all. */
	if (*n > n0)
		ins[*n - 1].follow = false;
}

/* Decode the block at vpc: the run from vpc, then runs from the targets of its conditional
 * branches back on the same page that are not in it yet (the rest of a loop the first run
 * entered in its middle), in the order found, while the size and span limits allow. The back
 * end turns every branch, jump or fall-through to an instruction of the block into a jump
 * inside the block: loops and if-then shapes run without leaving it. Returns the
 * instruction count; *lo..*hi is the span of page offsets decoded. ext: the hart's isa_ext. */
static unsigned decode_block(struct jit_insn *ins, uint64_t vpc, const uint8_t *hva_page,
			     unsigned *lo, unsigned *hi, uint64_t ext)
{
	unsigned n = 0;
	*lo = *hi = (unsigned)(vpc & 0xfff);
	decode_run(ins, &n, vpc, hva_page, *lo, lo, hi, ext);
	for (unsigned k = 0; k < n && n + 4 <= MAX_BLOCK_INSNS; k++) {
		const struct insn_fields *f = &ins[k].f;
		if (f->op < OP_BEQ || f->op > OP_BGEU)
			continue;
		uint64_t target = ins[k].pc + (uint64_t)f->imm;
		/* Forward targets (an else part, a way out) are left out; the first run may
		 * reach them. */
		if (target > ins[k].pc || !within_span(vpc, *lo, *hi, target) ||
		    in_block(ins, n, target))
			continue;
		decode_run(ins, &n, vpc, hva_page, (unsigned)(target & 0xfff), lo, hi, ext);
	}
	return n;
}

/* Decode the block at vpc (guest-physical gpa, host copy of its page hva_page) and emit it.
 * Returns NULL when the cache must be flushed first. */
static struct jit_block *translate(struct hart *h, uint64_t vpc, uint64_t gpa,
				   const uint8_t *hva_page)
{
	struct jit *j = h->jit;
	if (j->nblocks == j->max_blocks || j->nbytes + 4096 > j->max_bytes ||
	    (size_t)(j->site_pool.end - j->site_pool.next) < MAX_BLOCK_INSNS ||
	    (size_t)(j->hot.end - j->hot.p) < BLOCK_ROOM ||
	    (size_t)(j->cold.end - j->cold.p) < BLOCK_ROOM)
		return NULL;
	uint64_t gpa_page = gpa & ~0xfffull;
	struct jit_page *p = page_find(j, gpa_page);
	if (!p) {
		if (j->npages == j->max_pages)
			return NULL;
		p = &j->pages[j->npages++];
		p->gpa_page = gpa_page;
		p->gen = j->gen;
		p->blocks = NULL;
		unmap_writes(h, hva_page);
		unsigned hi = (gpa_page >> 12) & (PHASH_SIZE - 1);
		p->hnext = j->phash[hi];
		j->phash[hi] = p;
	}

	uint64_t t0 = now_ns();
	struct jit_insn ins[MAX_BLOCK_INSNS];
	unsigned span_lo, span_hi; /* the span of bytes decoded */
	unsigned n = decode_block(ins, vpc, hva_page, &span_lo, &span_hi, h->isa_ext);

	uint8_t *hot0 = j->hot.p, *cold0 = j->cold.p;
	struct jit_site *site0 = j->site_pool.next;
	uintptr_t code = jit_be_block(&j->hot, &j->cold, &j->site_pool, &j->tramp, ins, n, gpa_page,
				      j->inject_op);
	if (!code) {
		j->hot.p = hot0;
		j->cold.p = cold0;
		j->site_pool.next = site0;
		j->hot.overflow = j->cold.overflow = false;
		return NULL;
	}
	struct jit_block *b = &j->blocks[j->nblocks++];
	b->vpc = vpc;
	b->gpa = gpa;
	b->code = code;
	b->goff = (uint16_t)span_lo;
	b->glen = (uint16_t)(span_hi - span_lo);
	b->bytes_off = (uint32_t)j->nbytes;
	memcpy(j->bytes + j->nbytes, hva_page + span_lo, b->glen);
	j->nbytes += b->glen;
	b->pnext = p->blocks;
	p->blocks = b;
	unsigned hi = bhash(vpc, gpa);
	b->hnext = j->bhash[hi];
	j->bhash[hi] = b;

	if (j->dump || j->perfmap)
		note_block(h, b, n, hot0, cold0);
	j->stats.blocks++;
	j->stats.guest_insns += n;
	j->stats.code_bytes += (uint64_t)((j->hot.p - hot0) + (j->cold.p - cold0));
	j->stats.translate_ns += now_ns() - t0;
	return b;
}

/* Translate h->pc to a guest-physical address for fetching, through the translator's own
 * fetch TLB, which holds only pages PMP lets the hart execute whole. Returns 1, or 0 after
 * raising the fetch exception, or -1 when PMP allows only part of the page: then the
 * instruction at pc was run by the interpreter (which checks it), never translated. */
static int fetch_gpa(struct hart *h, unsigned view, uint64_t *gpa)
{
	struct jit *j = h->jit;
	uint64_t pc = h->pc;
	struct jit_ftlb *e = &j->ftlb[view][(pc >> 12) & (FTLB_ENTRIES - 1)];
	if (e->tag == pc >> 12 && e->gen == h->jit_vgen) {
		*gpa = e->gpa_page | (pc & 0xfff);
		return 1;
	}
	int cause = mmu_translate(h, pc, MMU_FETCH, gpa);
	if (!cause && !guest_mem_ptr(h->mem, *gpa & ~0xfffull, 4096))
		cause = CAUSE_FETCH_ACCESS;
	if (!cause) {
		enum pmp_result pmp = pmp_check(h, *gpa, 2, PMP_X, h->priv);
		if (pmp == PMP_DENY) {
			cause = CAUSE_FETCH_ACCESS;
		} else if (pmp == PMP_ALLOW) {
			hart_exec_one(h);
			j->stats.interp_insns++;
			return -1;
		}
	}
	if (cause) {
		hart_trap(h, (uint64_t)cause, pc);
		return 0;
	}
	e->tag = pc >> 12;
	e->gpa_page = *gpa & ~0xfffull;
	e->gen = h->jit_vgen;
	unsigned bit = fetched_bit(pc >> 12);
	j->fetched[bit / 64] |= 1ull << (bit % 64);
	unsigned level = h->walk_level;
	if (level) {
		uint64_t svpn = (pc >> 12) >> (9 * level);
		bool known = false;
		for (unsigned i = 0; i < j->nsuper && i < MAX_SUPER; i++)
			known |= j->super[i].vpn == svpn && j->super[i].level == level;
		if (!known && j->nsuper < MAX_SUPER) {
			j->super[j->nsuper].vpn = svpn;
			j->super[j->nsuper++].level = level;
		} else if (!known) {
			j->nsuper = MAX_SUPER + 1;
		}
	}
	return 1;
}

/* The block to run at h->pc, translated if needed; NULL when a fetch trapped or the
 * instruction there was interpreted instead (then h->pc has moved on). */
static struct jit_block *find_block(struct hart *h)
{
	struct jit *j = h->jit;
	uint64_t pc = h->pc, gpa;
	int fetched = fetch_gpa(h, fetch_view(h), &gpa);
	if (fetched <= 0) {
		if (!fetched)
			h->pc = h->pc_next;
		return NULL;
	}
	const uint8_t *hva_page = guest_mem_ptr(h->mem, gpa & ~0xfffull, 4096);
	if ((pc & 0xfff) == 0xffe && insn_length(hva_page[0xffe] | hva_page[0xfff] << 8) == 4) {
		/* A 32-bit instruction across two pages: interpreted, never translated. */
		hart_exec_one(h);
		j->stats.interp_insns++;
		return NULL;
	}
	struct jit_page *p = page_find(j, gpa & ~0xfffull);
	if (p && p->gen != j->gen)
		page_validate(h, p, hva_page);
	for (struct jit_block *b = j->bhash[bhash(pc, gpa)]; b; b = b->hnext)
		if (b->vpc == pc && b->gpa == gpa)
			return b;
	struct jit_block *b = translate(h, pc, gpa, hva_page);
	if (!b) {
		j->stats.flushes++;
		flush_all(h);
		b = translate(h, pc, gpa, hva_page);
	}
	return b;
}

uint64_t jit_run_budget(struct hart *h, int32_t n)
{
	struct jit *j = h->jit;
	if (h->isa_ext != j->isa_ext) { /* what decodes changed (a restore, a test harness) */
		j->isa_ext = h->isa_ext;
		flush_all(h);
	}
	h->batch_len = h->budget = n;
	while (h->budget > 0) {
		unsigned view = fetch_view(h);
		struct jit_jc *jc = &j->jcache[view][(h->pc >> 1) & (JIT_JC_ENTRIES - 1)];
		const void *code;
		if (jc->vpc == h->pc && jc->gen == h->jit_vgen && !h->jit_link) {
			code = jc->code;
		} else {
			j->stats.dispatches++;
			const struct jit_exit *link = (const struct jit_exit *)h->jit_link;
			/* Where the chainable exit went: the pc may have moved since, e.g. to a
			 * trap vector for an interrupt taken between batches, and then the exit
			 * must not be chained to the block found here. */
			uint64_t target = link ? link->target : h->pc;
			struct jit_block *b = find_block(h);
			if (!b) { /* a fetch trapped, or one instruction was interpreted */
				h->jit_link = NULL;
				continue;
			}
			code = (const void *)b->code;
			/* find_block may have flushed everything, which clears jit_link. */
			if (link && h->jit_link && b->vpc == target && h->pc == target &&
			    link->gpa_page == (b->gpa & ~0xfffull)) {
				jit_be_patch((uint8_t *)(uintptr_t)link->field_x - (j->rx - j->rw),
					     link->field_x, b->code);
				j->stats.chains++;
			}
			jc->vpc = b->vpc;
			jc->code = code;
			jc->gen = h->jit_vgen;
		}
		h->jit_jcache = j->jcache[view];
		h->jit_link = NULL;
		jit_be_enter(&j->tramp, h, code);
	}
	uint64_t done = (uint64_t)(h->batch_len - h->budget);
	h->instret += done;
	h->batch_len = h->budget = 0;
	return done;
}
