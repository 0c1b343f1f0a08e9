/* Lockstep check of the translator against the interpreter on a real guest: two identical
 * single-hart VMs built in deterministic mode (vm_config.deterministic: time from retired
 * instructions, fixed RTC date and random bytes), one running translated code and one the
 * interpreter, advanced one translated block at a time from this thread. After every block
 * both harts' architectural state must be equal; every --ram-every instructions, and at the
 * end, their whole RAM and their console output too.
 *
 *   lockstep --kernel IMAGE [--initrd FILE] [--cmdline STR] [--mem SIZE_MIB] [--cpu NAME]
 *            [--insns N] [--ram-every N] [--until TEXT] [--inject-fault OP]
 *
 * --inject-fault OP (a mnemonic as insn_op_name spells it, e.g. add) makes the translator
 * translate OP wrongly (jit_inject_fault), to show that the check catches it.
 *
 * Stops after N instructions (default 200 million), when the console has printed TEXT, or
 * when the guest powers off. Prints one summary line; exit status 0 when both agreed
 * throughout, 1 at the first difference (described on stderr), 2 on bad usage. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpu/insn.h"
#include "host/chr.h"
#include "jit/jit.h"
#include "vmm/vm.h"

/* A console that keeps what the guest writes and never has input. */
struct sink {
	struct chr chr;
	char *buf;
	size_t len, cap;
};

static void sink_write(struct chr *c, const void *data, size_t len)
{
	struct sink *s = (struct sink *)c;
	if (s->len + len + 1 > s->cap) {
		size_t cap = (s->len + len + 1) * 2;
		char *nb = realloc(s->buf, cap);
		if (!nb)
			return;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = 0;
}

static size_t sink_read(struct chr *c, void *buf, size_t len)
{
	(void)c;
	(void)buf;
	(void)len;
	return 0;
}

/* What hart_run does between batches, made deterministic: a hart in WFI moves the VM's clock
 * on to its next timer deadline instead of sleeping. Returns false if it can never wake. */
static bool between_blocks(struct vm *vm, struct hart *h)
{
	if (h->wfi && !(atomic_load(&h->mip) & h->mie)) {
		uint64_t dl = atomic_load(&h->mtimecmp);
		if ((h->menvcfg & MENVCFG_STCE) && h->stimecmp < dl)
			dl = h->stimecmp;
		uint64_t now = vm_time_now(vm);
		if (dl == ~0ull)
			return false;
		if (dl > now)
			vm->idle_ticks += dl - now;
	}
	hart_update_timers(h, vm_time_now(vm));
	if (hart_check_interrupts(h) || (atomic_load(&h->mip) & h->mie))
		h->wfi = false;
	return true;
}

#define FIELD(name, expr)                                                                      \
	do {                                                                                   \
		uint64_t va = (expr)(a), vb = (expr)(b);                                       \
		if (va != vb && print) {                                                       \
			fprintf(stderr,                                                        \
				"  %-10s translator %#018" PRIx64 "  interpreter %#018" PRIx64 \
				"\n",                                                          \
				name, va, vb);                                                 \
		}                                                                              \
		same &= va == vb;                                                              \
	} while (0)

static uint64_t g_pc(const struct hart *h)
{
	return h->pc;
}
static uint64_t g_priv(const struct hart *h)
{
	return h->priv;
}
static uint64_t g_fflags(const struct hart *h)
{
	return h->fflags;
}
static uint64_t g_frm(const struct hart *h)
{
	return h->frm;
}
static uint64_t g_mstatus(const struct hart *h)
{
	return hart_mstatus_read(h);
}
static uint64_t g_mepc(const struct hart *h)
{
	return h->mepc;
}
static uint64_t g_mcause(const struct hart *h)
{
	return h->mcause;
}
static uint64_t g_mtval(const struct hart *h)
{
	return h->mtval;
}
static uint64_t g_sepc(const struct hart *h)
{
	return h->sepc;
}
static uint64_t g_scause(const struct hart *h)
{
	return h->scause;
}
static uint64_t g_stval(const struct hart *h)
{
	return h->stval;
}
static uint64_t g_satp(const struct hart *h)
{
	return h->satp;
}
static uint64_t g_mip(const struct hart *h)
{
	return atomic_load(&h->mip);
}
static uint64_t g_mie(const struct hart *h)
{
	return h->mie;
}
static uint64_t g_instret(const struct hart *h)
{
	return h->instret;
}
static uint64_t g_stimecmp(const struct hart *h)
{
	return h->stimecmp;
}
static uint64_t g_resv(const struct hart *h)
{
	return h->reservation;
}
static uint64_t g_wfi(const struct hart *h)
{
	return h->wfi;
}

/* Compare the architectural state of the two harts; with print, print what differs. */
static bool same_state(const struct hart *a, const struct hart *b, bool print)
{
	bool same = true;
	static const char *const xn[32] = {"zero", "ra", "sp",  "gp",  "tp", "t0", "t1", "t2",
					   "s0",   "s1", "a0",  "a1",  "a2", "a3", "a4", "a5",
					   "a6",   "a7", "s2",  "s3",  "s4", "s5", "s6", "s7",
					   "s8",   "s9", "s10", "s11", "t3", "t4", "t5", "t6"};
	for (unsigned i = 0; i < 32; i++) {
		if (a->x[i] != b->x[i] && print)
			fprintf(stderr,
				"  x%-2u (%s)  translator %#018" PRIx64 "  interpreter %#018" PRIx64
				"\n",
				i, xn[i], a->x[i], b->x[i]);
		if (a->f[i] != b->f[i] && print)
			fprintf(stderr,
				"  f%-2u        translator %#018" PRIx64
				"  interpreter %#018" PRIx64 "\n",
				i, a->f[i], b->f[i]);
		same &= a->x[i] == b->x[i] && a->f[i] == b->f[i];
	}
	FIELD("pc", g_pc);
	FIELD("priv", g_priv);
	FIELD("fflags", g_fflags);
	FIELD("frm", g_frm);
	FIELD("mstatus", g_mstatus);
	FIELD("mepc", g_mepc);
	FIELD("mcause", g_mcause);
	FIELD("mtval", g_mtval);
	FIELD("sepc", g_sepc);
	FIELD("scause", g_scause);
	FIELD("stval", g_stval);
	FIELD("satp", g_satp);
	FIELD("mip", g_mip);
	FIELD("mie", g_mie);
	FIELD("instret", g_instret);
	FIELD("stimecmp", g_stimecmp);
	FIELD("reservation", g_resv);
	FIELD("wfi", g_wfi);
	return same;
}

/* Compare the VMs' RAM; print the first differing page. */
static bool same_ram(const struct vm *a, const struct vm *b)
{
	for (uint64_t off = 0; off < a->mem.size; off += 4096) {
		if (memcmp(a->mem.hva + off, b->mem.hva + off, 4096)) {
			fprintf(stderr, "  RAM differs in the page at gpa %#" PRIx64 "\n",
				a->mem.base + off);
			return false;
		}
	}
	return true;
}

static int usage(void)
{
	fputs("usage: lockstep --kernel IMAGE [--initrd FILE] [--cmdline STR] [--mem MIB] [--cpu "
	      "NAME] "
	      "[--insns N] [--ram-every N] [--until TEXT] [--inject-fault OP]\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kernel", required_argument, NULL, 'k'},
	    {"initrd", required_argument, NULL, 'i'},
	    {"cmdline", required_argument, NULL, 'c'},
	    {"mem", required_argument, NULL, 'm'},
	    {"insns", required_argument, NULL, 'n'},
	    {"ram-every", required_argument, NULL, 'r'},
	    {"until", required_argument, NULL, 'u'},
	    {"inject-fault", required_argument, NULL, 'f'},
	    {"cpu", required_argument, NULL, 'p'},
	    {0, 0, 0, 0},
	};
	struct vm_config cfg = {.cmdline = "console=ttyS0",
				.mem_size = 256ull << 20,
				.ncpus = 1,
				.deterministic = true};
	uint64_t limit = 200000000, ram_every = 50000000;
	const char *until = NULL, *inject = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': cfg.kernel = optarg; break;
		case 'i': cfg.initrd = optarg; break;
		case 'c': cfg.cmdline = optarg; break;
		case 'm': cfg.mem_size = strtoull(optarg, NULL, 0) << 20; break;
		case 'n': limit = strtoull(optarg, NULL, 0); break;
		case 'r': ram_every = strtoull(optarg, NULL, 0); break;
		case 'u': until = optarg; break;
		case 'f': inject = optarg; break;
		case 'p': cfg.cpu = optarg; break;
		default: return usage();
		}
	}
	if (!cfg.kernel || !ram_every)
		return usage();
	if (!jit_available()) {
		puts("lockstep: this host has no translator back end: nothing to compare");
		return 0;
	}

	static struct vm vms[2];
	static struct sink sinks[2];
	struct vm_config cfgs[2] = {cfg, cfg};
	cfgs[0].accel = VM_ACCEL_JIT;
	cfgs[1].accel = VM_ACCEL_INTERP;
	for (unsigned v = 0; v < 2; v++) {
		char err[512] = "";
		sinks[v].chr.write = sink_write;
		sinks[v].chr.read = sink_read;
		if (vm_create(&vms[v], &cfgs[v], &sinks[v].chr, err, sizeof(err))) {
			fprintf(stderr, "lockstep: %s\n", err);
			return 2;
		}
	}
	struct hart *a = &vms[0].harts[0], *b = &vms[1].harts[0];
	if (inject) {
		unsigned op = 1;
		while (op < OP_COUNT && strcasecmp(insn_op_name(op), inject))
			op++;
		if (op == OP_COUNT) {
			fprintf(stderr, "lockstep: --inject-fault %s: no such op\n", inject);
			return 2;
		}
		jit_inject_fault(a, op);
	}

	uint64_t retired = 0, blocks = 0, next_ram = ram_every;
	bool ok = true;
	const char *why = "instruction limit";
	while (retired < limit) {
		bool wa = between_blocks(&vms[0], a), wb = between_blocks(&vms[1], b);
		if (!wa || !wb) {
			why = "the hart waits with no timer armed";
			break;
		}
		if (!same_state(a, b, false)) {
			fprintf(stderr,
				"lockstep: the harts differ after interrupt delivery at %" PRIu64
				" instructions\n",
				retired);
			same_state(a, b, true);
			ok = false;
			break;
		}
		if (a->wfi)
			continue;
		uint64_t pc = a->pc;
		uint64_t k = jit_run_budget(a, 1);
		uint64_t kb = hart_run_budget(b, (int32_t)(k ? k : 1));
		blocks++;
		retired += k;
		if (k != kb || !same_state(a, b, false)) {
			fprintf(stderr,
				"lockstep: the block at pc %#" PRIx64 " (privilege %u, %" PRIu64
				" instructions on the translator, %" PRIu64 " on the interpreter) "
				"ends differently, after %" PRIu64 " instructions (%" PRIu64
				" blocks):\n",
				pc, a->priv, k, kb, retired, blocks);
			same_state(a, b, true);
			ok = false;
			break;
		}
		if (retired >= next_ram) {
			next_ram += ram_every;
			if (!same_ram(&vms[0], &vms[1])) {
				fprintf(stderr,
					"lockstep: RAM differs after %" PRIu64 " instructions\n",
					retired);
				ok = false;
				break;
			}
		}
		int status_a, status_b;
		pthread_mutex_lock(&vms[0].lock);
		status_a = vms[0].status;
		pthread_mutex_unlock(&vms[0].lock);
		pthread_mutex_lock(&vms[1].lock);
		status_b = vms[1].status;
		pthread_mutex_unlock(&vms[1].lock);
		if (status_a != status_b) {
			fprintf(stderr, "lockstep: the VMs ended differently (%d, %d)\n", status_a,
				status_b);
			ok = false;
			break;
		}
		if (status_a != VM_STATUS_RUNNING) {
			why = "the guest ended";
			break;
		}
		if (until && sinks[0].buf && strstr(sinks[0].buf, until)) {
			why = "the console printed the text asked for";
			break;
		}
	}
	if (ok && !same_ram(&vms[0], &vms[1])) {
		fprintf(stderr, "lockstep: RAM differs at the end\n");
		ok = false;
	}
	if (ok && (sinks[0].len != sinks[1].len ||
		   (sinks[0].len && memcmp(sinks[0].buf, sinks[1].buf, sinks[0].len)))) {
		fprintf(stderr, "lockstep: the consoles differ (%zu and %zu bytes)\n", sinks[0].len,
			sinks[1].len);
		ok = false;
	}
	struct jit_stats st = jit_get_stats(a);
	printf("lockstep: %s after %" PRIu64 " instructions in %" PRIu64 " blocks (%" PRIu64
	       " translated, %" PRIu64 " cache flushes), %zu console bytes: %s\n",
	       ok ? why : "stopped at the first difference", retired, blocks, st.blocks, st.flushes,
	       sinks[0].len, ok ? "translator and interpreter agree" : "DIFFERENT");
	if (sinks[0].len) {
		const char *tail =
		    sinks[0].len > 600 ? sinks[0].buf + sinks[0].len - 600 : sinks[0].buf;
		printf("--- console (last bytes) ---\n%s\n", tail);
	}
	for (unsigned v = 0; v < 2; v++)
		vm_destroy(&vms[v]);
	return ok ? 0 : 1;
}
