/* rvisor's command line: parse arguments into a vm_config, create the VM, run it, and turn
 * its end into the process exit status. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu/isa.h"
#include "host/chr.h"
#include "host/landlock.h"
#include "host/sched.h"
#include "host/seccomp.h"
#include "jit/jit.h"
#include "vmm/api.h"
#include "vmm/gdbstub.h"
#include "vmm/migrate.h"
#include "vmm/sandbox.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

#define MIN_MEM         (16ull << 20)
#define DEFAULT_MEM     (512ull << 20)
#define DEFAULT_CMDLINE "console=ttyS0"

static void usage_main(FILE *f)
{
	fputs("usage: rvisor COMMAND [OPTIONS]\n"
	      "       rvisor --api-sock PATH [--config-file FILE]\n"
	      "       rvisor --config-file FILE --no-api\n"
	      "\n"
	      "rvisor runs 64-bit RISC-V (RV64GC) guests, such as unmodified riscv64 Linux, on\n"
	      "this host by software emulation.\n"
	      "\n"
	      "commands:\n"
	      "  run       boot a virtual machine (see 'rvisor run --help')\n"
	      "  restore   run a virtual machine from a snapshot (see 'rvisor restore --help')\n"
	      "  rebase    make a Diff snapshot's memory file whole (see 'rvisor rebase --help')\n"
	      "  receive   run a virtual machine migrating from another rvisor (see 'rvisor\n"
	      "            receive --help')\n"
	      "  help      show this text\n"
	      "\n"
	      "control plane (Firecracker's API and configuration file):\n"
	      "  --api-sock PATH     serve the API on the Unix socket PATH; the guest starts on\n"
	      "                      PUT /actions {\"action_type\": \"InstanceStart\"}\n"
	      "  --config-file FILE  configure from FILE (boot-source, machine-config, drives,\n"
	      "                      network-interfaces) and start the guest at once\n"
	      "  --no-api            with --config-file: serve no API\n"
	      "  --seccomp-level N   system call filters on every thread: 0 none, 1 call\n"
	      "                      numbers, 2 numbers and arguments (default 2); also for\n"
	      "                      run and restore\n"
	      "  --no-seccomp        the same as --seccomp-level 0\n"
	      "  --landlock-rule PATH[:ro|:rw]\n"
	      "                      with the API (and restore, receive): restrict rvisor's file\n"
	      "                      access with Landlock to the API socket's directory and\n"
	      "                      each such PATH (read-write unless :ro), where the files\n"
	      "                      the API will name must lie (repeatable); without it the\n"
	      "                      API's rvisor is not restricted\n"
	      "  --no-landlock       no Landlock restriction\n"
	      "\n"
	      "options:\n"
	      "  -h, --help     show this text\n"
	      "  -V, --version  show the version\n",
	      f);
}

static void usage_run(FILE *f)
{
	fputs("usage: rvisor run --kernel FILE [OPTIONS]\n"
	      "       rvisor run --firmware FILE [OPTIONS]\n"
	      "\n"
	      "Boot a virtual machine with the console on this terminal.\n"
	      "\n"
	      "  -k, --kernel FILE    kernel to boot in S-mode: a RISC-V Linux Image, an ELF or a\n"
	      "                       raw binary (loaded at RAM + 2 MiB)\n"
	      "  -i, --initrd FILE    initial ramdisk, placed in RAM and named in the device tree\n"
	      "  -c, --cmdline STR    kernel command line (default \"" DEFAULT_CMDLINE "\")\n"
	      "  -m, --mem SIZE       guest RAM; suffix K, M, G (default 512M, at least 16M)\n"
	      "  -s, --cpus N         number of harts, 1 to 64 (default 1)\n"
	      "  --drive path=FILE[,readonly=on][,id=NAME][,lock=off][,transport=mmio|pci]\n"
	      "                       a virtio-blk disk on a raw image or block device; the\n"
	      "                       first is /dev/vda (repeat for more, at most 8); locked\n"
	      "                       against other VMs (QEMU's locks) unless lock=off; an\n"
	      "                       image in another format (qcow2, vmdk, vdi, vhdx, vpc, qed)\n"
	      "                       is refused unless format=raw\n"
	      "  --net user[,hostfwd=tcp:127.0.0.1:2222-:22][,restrict=on][,mac=MAC]\n"
	      "                       a virtio-net card on user-mode networking (NAT, DHCP, DNS,\n"
	      "                       forwarded host ports; no privileges needed)\n"
	      "  --net tap=IFNAME[,mac=MAC]\n"
	      "                       a virtio-net card on a host TAP interface\n"
	      "  --fs tag=NAME,socket=PATH[,transport=mmio|pci]\n"
	      "                       share a host directory through virtio-fs, served by the\n"
	      "                       vhost-user daemon on PATH (virtiofsd); on PCI by default;\n"
	      "                       the guest mounts it with mount -t virtiofs NAME DIR\n"
	      "  --vsock cid=N,uds=PATH\n"
	      "                       a virtio-vsock: the guest's connections to port P reach\n"
	      "                       PATH_P; host programs connect to PATH (CONNECT P)\n"
	      "  --balloon MIB[,deflate_on_oom=on]\n"
	      "                       a virtio-balloon asking the guest to give MIB MiB back\n"
	      "  --transport mmio|pci  where virtio devices go unless their option says: a\n"
	      "                       virtio-mmio slot (default) or the PCI bus (virtio-pci)\n"
	      "  --console serial|virtio\n"
	      "                       the terminal is the UART (ttyS0, default) or a\n"
	      "                       virtio-console (hvc0: use console=hvc0)\n"
	      "  --accel jit|interp   run guest code as translated host code (jit, the default\n"
	      "                       where this host has a translator) or interpreted\n"
	      "  --jit-cache SIZE     translated-code cache per hart, 1M to 1G (default 64M)\n"
	      "  --cpu max|rv64gc     the harts' ISA: every extension rvisor implements (Zba,\n"
	      "                       Zbb, Zbs, Zicond, Zcb, Zicboz, Zfa..., the default) or\n"
	      "                       plain RV64GC\n"
	      "  --cpu-affinity LIST  run the vCPU threads only on these host CPUs, e.g. 0-3,6\n"
	      "  --cpu-weight N       host CPU share, 1 to 10000 (default 100), as cgroup v2\n"
	      "                       cpu.weight where the host allows it, else as a nice value\n"
	      "  -f, --firmware FILE  start this M-mode firmware at 0x80000000 instead of serving\n"
	      "                       the SBI from rvisor (e.g. OpenSBI fw_dynamic.bin); without\n"
	      "                       --kernel it runs a bare-metal program\n"
	      "  --gdb tcp:HOST:PORT  serve GDB's remote protocol on HOST:PORT (HOST defaults to\n"
	      "                       127.0.0.1, e.g. tcp::1234; port 0 picks a free one, named\n"
	      "                       on stderr): one client at a time; connecting stops the\n"
	      "                       guest, detaching lets it go on. Use gdb-multiarch with\n"
	      "                       'target remote HOST:PORT'\n"
	      "  --gdb-wait           with --gdb: start with every hart stopped until the\n"
	      "                       debugger continues\n"
	      "  --seccomp-level N    system call filters on every thread: 0 none, 1 call\n"
	      "                       numbers, 2 numbers and arguments (default)\n"
	      "  --no-seccomp         no filters (--seccomp-level 0)\n"
	      "  --landlock-rule PATH[:ro|:rw]\n"
	      "                       also allow PATH (read-write unless :ro): rvisor keeps,\n"
	      "                       through Landlock, access only to the files given above\n"
	      "                       and these (repeatable)\n"
	      "  --no-landlock        no Landlock restriction\n"
	      "  -h, --help           show this text\n"
	      "\n"
	      "Console: when stdin is a terminal it is switched to raw mode; type Ctrl-A x to\n"
	      "quit, Ctrl-A Ctrl-A to send Ctrl-A. Pipes work too.\n"
	      "\n"
	      "Exit status: 0 the guest powered off (or a test passed), 1 bad usage or input,\n"
	      "2 the guest reported failure, 3 the guest asked for a reboot, 4 the guest crashed\n"
	      "beyond recovery, 5 quit from the console, 6 a thread made a system call its\n"
	      "seccomp filter forbids, 128+N stopped by signal N.\n",
	      f);
}

static int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("rvisor: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return VM_STATUS_ERROR;
}

/* Parse SIZE (bytes, or with a K/M/G/T suffix). Returns false if malformed or overflowing. */
static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 0: break;
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	default: return false;
	}
	if (*end && end[1] && !(toupper((unsigned char)end[1]) == 'B' && !end[2]) &&
	    !(toupper((unsigned char)end[1]) == 'I' && toupper((unsigned char)end[2]) == 'B' &&
	      !end[3]))
		return false;
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

/* --seccomp-level N: 0, 1 or 2. Returns false (with the error line printed) otherwise. */
static bool parse_seccomp_level(const char *arg, int *level)
{
	if (arg[0] >= '0' && arg[0] <= '2' && !arg[1]) {
		*level = arg[0] - '0';
		return true;
	}
	error("--seccomp-level '%s' is not one of: 0 (no filters), 1 (system call numbers), 2 "
	      "(numbers and arguments)",
	      arg);
	return false;
}

/* Compile the threads' filters before any thread exists. */
static int setup_seccomp(int level)
{
	char err[256];
	if (seccomp_setup(level, err, sizeof(err)))
		return error("%s (--no-seccomp runs without filters)", err);
	return 0;
}

/* Landlock in the API's modes (see sandbox_enter_api), unless --no-landlock. */
static int api_landlock(struct landlock_rules *ll, bool on, const char *sock,
			const char *const *files, int nfiles)
{
	char err[512];
	if (on && sandbox_enter_api(ll, sock, files, nfiles, err, sizeof(err)))
		return error("%s", err);
	return 0;
}

/* --landlock-rule ARG into ll; false (the error printed) when malformed. */
static bool parse_landlock_rule(struct landlock_rules *ll, const char *arg)
{
	char err[256];
	if (landlock_add_option(ll, arg, err, sizeof(err))) {
		error("%s", err);
		return false;
	}
	return true;
}

/* The isolation options every mode takes (--seccomp-level, --no-seccomp, --landlock-rule,
 * --no-landlock), as getopt_long entries and as parsed. */
// clang-format off
#define SANDBOX_OPTIONS                                      \
	{"seccomp-level", required_argument, NULL, 'L'},     \
	{"no-seccomp", no_argument, NULL, 'S'},              \
	{"landlock-rule", required_argument, NULL, 'R'},     \
	{"no-landlock", no_argument, NULL, 'X'}
// clang-format on
struct sandbox_opts {
	int seccomp;               /* the filters' level (enum seccomp_level) */
	bool landlock;             /* false with --no-landlock */
	struct landlock_rules *ll; /* the --landlock-rule paths */
};

/* Take getopt_long's option c (its argument arg) if it is one of SANDBOX_OPTIONS: 1 taken, 0
 * not one of them, -1 malformed (the error printed). */
static int sandbox_option(struct sandbox_opts *s, int c, const char *arg)
{
	switch (c) {
	case 'L': return parse_seccomp_level(arg, &s->seccomp) ? 1 : -1;
	case 'S': s->seccomp = SECCOMP_LEVEL_NONE; return 1;
	case 'R': return parse_landlock_rule(s->ll, arg) ? 1 : -1;
	case 'X': s->landlock = false; return 1;
	default: return 0;
	}
}

static void on_quit(void *opaque)
{
	vm_request_exit(opaque, VM_STATUS_QUIT);
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kernel", required_argument, NULL, 'k'},
	    {"initrd", required_argument, NULL, 'i'},
	    {"cmdline", required_argument, NULL, 'c'},
	    {"append", required_argument, NULL, 'c'},
	    {"mem", required_argument, NULL, 'm'},
	    {"cpus", required_argument, NULL, 's'},
	    {"firmware", required_argument, NULL, 'f'},
	    {"cpu-affinity", required_argument, NULL, 'A'},
	    {"cpu-weight", required_argument, NULL, 'W'},
	    {"drive", required_argument, NULL, 'D'},
	    {"net", required_argument, NULL, 'N'},
	    {"fs", required_argument, NULL, 'F'},
	    {"balloon", required_argument, NULL, 'B'},
	    {"vsock", required_argument, NULL, 'K'},
	    {"console", required_argument, NULL, 'C'},
	    {"transport", required_argument, NULL, 'T'},
	    {"accel", required_argument, NULL, 'a'},
	    {"cpu", required_argument, NULL, 'P'},
	    {"jit-cache", required_argument, NULL, 'J'},
	    {"gdb", required_argument, NULL, 'G'},
	    {"gdb-wait", no_argument, NULL, 'w'},
	    SANDBOX_OPTIONS,
	    {"help", no_argument, NULL, 'h'},
	    {0, 0, 0, 0},
	};
	struct vm_config cfg = {.mem_size = DEFAULT_MEM, .ncpus = 1, .cmdline = DEFAULT_CMDLINE};
	const char *mem_arg = "512M";
	const char *affinity = NULL;
	const char *gdb = NULL;
	bool gdb_wait = false;
	unsigned weight = 0;
	static struct landlock_rules ll; /* large: not on the stack */
	struct sandbox_opts sb = {SECCOMP_LEVEL_DEFAULT, true, &ll};
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":k:i:c:m:s:f:h", opts, NULL)) != -1) {
		int taken = sandbox_option(&sb, c, optarg);
		if (taken < 0)
			return VM_STATUS_ERROR;
		if (taken)
			continue;
		switch (c) {
		case 'k': cfg.kernel = optarg; break;
		case 'i': cfg.initrd = optarg; break;
		case 'c': cfg.cmdline = optarg; break;
		case 'f': cfg.firmware = optarg; break;
		case 'm':
			mem_arg = optarg;
			if (!parse_size(optarg, &cfg.mem_size))
				return error("--mem '%s' is not a size: use e.g. 512M or 2G",
					     optarg);
			break;
		case 's': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > VM_MAX_HARTS)
				return error("--cpus '%s' is not a number from 1 to %d", optarg,
					     VM_MAX_HARTS);
			cfg.ncpus = (unsigned)n;
			break;
		}
		case 'A': affinity = optarg; break;
		case 'G': gdb = optarg; break;
		case 'w': gdb_wait = true; break;
		case 'a':
			if (!strcmp(optarg, "jit")) {
				if (!jit_available())
					return error(
					    "--accel jit: this host has no translator back end "
					    "(x86-64 only): use --accel interp");
				cfg.accel = VM_ACCEL_JIT;
			} else if (!strcmp(optarg, "interp")) {
				cfg.accel = VM_ACCEL_INTERP;
			} else {
				return error("--accel '%s' is not one of: jit, interp", optarg);
			}
			break;
		case 'P':
			if (!isa_cpu_find(optarg))
				return error("--cpu '%s' is not one of: %s", optarg,
					     ISA_CPU_CHOICES);
			cfg.cpu = optarg;
			break;
		case 'J': {
			uint64_t v;
			if (!parse_size(optarg, &v) || v < JIT_CACHE_MIN || v > JIT_CACHE_MAX)
				return error(
				    "--jit-cache '%s' is not a size from 1M to 1G: use e.g. "
				    "64M",
				    optarg);
			cfg.jit_cache = (size_t)v;
			break;
		}
		case 'N': {
			char nerr[256];
			if (cfg.nnets == VM_MAX_NETS)
				return error("too many --net options: at most %d", VM_MAX_NETS);
			if (config_parse_net(optarg, &cfg.nets[cfg.nnets], nerr, sizeof(nerr)))
				return error("%s", nerr);
			cfg.nnets++;
			break;
		}
		case 'F': {
			char ferr[256];
			if (cfg.nfs == VM_MAX_FS)
				return error("too many --fs options: at most %d", VM_MAX_FS);
			if (config_parse_fs(optarg, &cfg.fs[cfg.nfs], ferr, sizeof(ferr)))
				return error("%s", ferr);
			cfg.nfs++;
			break;
		}
		case 'K': {
			unsigned long long cid;
			int used = 0;
			if (sscanf(optarg, "cid=%llu,uds=%n", &cid, &used) != 1 || !used ||
			    !optarg[used])
				return error("--vsock '%s' is not cid=N,uds=PATH", optarg);
			cfg.vsock_cid = cid;
			cfg.vsock_uds = optarg + used;
			break;
		}
		case 'B': {
			char *end;
			unsigned long mib = strtoul(optarg, &end, 10);
			if (end == optarg || mib > (1ul << 20) ||
			    (*end && strcmp(end, ",deflate_on_oom=on")))
				return error("--balloon '%s' is not MIB[,deflate_on_oom=on]",
					     optarg);
			cfg.balloon = true;
			cfg.balloon_mib = (uint32_t)mib;
			cfg.balloon_deflate_on_oom = *end != 0;
			break;
		}
		case 'T':
			if (config_parse_transport(optarg, &cfg.transport))
				return error("--transport '%s' is not mmio or pci", optarg);
			break;
		case 'C':
			if (!strcmp(optarg, "virtio"))
				cfg.virtio_console = true;
			else if (strcmp(optarg, "serial"))
				return error("--console '%s' is not serial or virtio", optarg);
			break;
		case 'D': {
			char derr[256];
			if (cfg.ndrives == VM_MAX_DRIVES)
				return error("too many --drive options: at most %d", VM_MAX_DRIVES);
			if (config_parse_drive(optarg, &cfg.drives[cfg.ndrives], derr,
					       sizeof(derr)))
				return error("%s", derr);
			cfg.ndrives++;
			break;
		}
		case 'W': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < SCHED_WEIGHT_MIN || n > SCHED_WEIGHT_MAX)
				return error("--cpu-weight '%s' is not a number from %d to %d",
					     optarg, SCHED_WEIGHT_MIN, SCHED_WEIGHT_MAX);
			weight = (unsigned)n;
			break;
		}
		case 'h': usage_run(stdout); return 0;
		case ':':
			return error("option '%s' needs a value (see 'rvisor run --help')",
				     argv[optind - 1]);
		default:
			return error("unknown option '%s' (see 'rvisor run --help')",
				     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return error("unexpected argument '%s' (see 'rvisor run --help')", argv[optind]);
	if (!cfg.kernel && !cfg.firmware)
		return error("no kernel given: use --kernel FILE (see 'rvisor run --help')");
	if (gdb_wait && !gdb)
		return error("--gdb-wait needs --gdb tcp:HOST:PORT (e.g. --gdb tcp::1234)");

	uint64_t host_mem = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	if (cfg.mem_size < MIN_MEM)
		return error("--mem %s is too small: rvisor needs at least 16M", mem_arg);
	if (cfg.mem_size > host_mem || cfg.mem_size > (1ull << 40))
		return error("--mem %s is more than this host's %" PRIu64
			     " MiB of memory: use a smaller --mem",
			     mem_arg, host_mem >> 20);
	if (cfg.mem_size & 0x1fffff)
		return error("--mem %s is not a multiple of 2M: round it, e.g. %" PRIu64 "M",
			     mem_arg, (uint64_t)(((cfg.mem_size + 0x1fffff) >> 20) & ~1ull));

	if (setup_seccomp(sb.seccomp))
		return VM_STATUS_ERROR;

	/* Placement first: every thread created from here on inherits it. */
	struct sched_group group = {0};
	if (affinity) {
		cpu_set_t set;
		if (sched_parse_cpulist(affinity, &set))
			return error("--cpu-affinity '%s' is not a CPU list: use e.g. 0-3,6",
				     affinity);
		if (sched_set_affinity(&set))
			return error("--cpu-affinity '%s' names no CPU this process may use: see "
				     "nproc --all and the process's allowed CPUs",
				     affinity);
	}
	if (weight) {
		char werr[256];
		if (sched_set_weight(weight, &group, werr, sizeof(werr)))
			return error("%s", werr);
	}

	/* The debugger's socket: a bad address or a port in use is the user's to fix. */
	int gdb_fd = -1;
	char err[512] = "", where[128] = "";
	if (gdb && gdb_listen(gdb, &gdb_fd, where, sizeof(where), err, sizeof(err))) {
		sched_release(&group);
		return error("%s", err);
	}

	/* From here on rvisor keeps only the files it was given (and those already open). */
	if (sb.landlock &&
	    (sandbox_add_config(&ll, &cfg, err, sizeof(err)) ||
	     (group.path[0] &&
	      (landlock_add(&ll, group.parent_procs, LANDLOCK_RW, err, sizeof(err)) ||
	       landlock_add_dir_of(&ll, group.path, LANDLOCK_RMDIR, err, sizeof(err)))) ||
	     sandbox_enter(&ll, err, sizeof(err)))) {
		if (gdb_fd >= 0)
			close(gdb_fd);
		sched_release(&group);
		return error("%s", err);
	}

	struct chr *console = chr_stdio_open();
	if (!console) {
		if (gdb_fd >= 0)
			close(gdb_fd);
		sched_release(&group);
		return error("cannot open the console on stdin/stdout: %s", strerror(errno));
	}

	struct vm vm;
	struct gdb_server *gdb_srv = NULL;
	int rc = vm_create(&vm, &cfg, console, err, sizeof(err));
	if (!rc && gdb_fd >= 0) {
		if (gdb_wait)
			vm_start_paused(&vm); /* until the debugger continues */
		gdb_srv = gdb_server_start(&vm, gdb_fd, err, sizeof(err));
		gdb_fd = -1; /* the server's now, or closed */
		rc = gdb_srv ? 0 : -1;
		if (gdb_srv)
			fprintf(stderr, "rvisor: gdb stub listening on tcp:%s%s\n", where,
				gdb_wait ? ", the guest waits for the debugger" : "");
	}
	if (rc) {
		chr_stdio_close(console); /* first: its input thread may call into devices */
		if (gdb_fd >= 0)
			close(gdb_fd);
		vm_destroy(&vm);
		sched_release(&group);
		return error("%s", err);
	}
	console->quit_opaque = &vm;
	__atomic_store_n(&console->quit, on_quit, __ATOMIC_RELEASE);

	int status = vm_run(&vm);
	uint32_t code = vm.fail_code;
	gdb_server_stop(gdb_srv, status); /* before the harts go */
	chr_stdio_close(console);
	vm_destroy(&vm);
	sched_release(&group);
	switch (status) {
	case VM_STATUS_FAIL:
		fprintf(stderr, "rvisor: the guest reported failure (code %u)\n", code);
		break;
	case VM_STATUS_REBOOT: fprintf(stderr, "rvisor: the guest asked for a reboot\n"); break;
	case VM_STATUS_QUIT: fprintf(stderr, "rvisor: quit from the console\n"); break;
	default: break;
	}
	return status;
}

/* rvisor --api-sock PATH [--config-file FILE] | --config-file FILE --no-api */
static int cmd_api(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"api-sock", required_argument, NULL, 's'},
	    {"config-file", required_argument, NULL, 'c'},
	    {"no-api", no_argument, NULL, 'n'},
	    SANDBOX_OPTIONS,
	    {0, 0, 0, 0},
	};
	const char *sock = NULL, *config = NULL;
	bool no_api = false;
	static struct landlock_rules ll; /* large: not on the stack */
	struct sandbox_opts sb = {SECCOMP_LEVEL_DEFAULT, true, &ll};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		int taken = sandbox_option(&sb, c, optarg);
		if (taken < 0)
			return VM_STATUS_ERROR;
		if (taken)
			continue;
		switch (c) {
		case 's': sock = optarg; break;
		case 'c': config = optarg; break;
		case 'n': no_api = true; break;
		case ':':
			return error("option '%s' needs a value (see 'rvisor --help')",
				     argv[optind - 1]);
		default:
			return error("unknown option '%s' (see 'rvisor --help')", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return error("unexpected argument '%s' (see 'rvisor --help')", argv[optind]);
	if (no_api && sock)
		return error("--no-api and --api-sock exclude each other: give one");
	if (no_api && !config)
		return error(
		    "--no-api needs --config-file FILE: without the API nothing would start "
		    "the guest");
	if (!no_api && !sock)
		return error(
		    "--config-file without --no-api needs --api-sock PATH (or add --no-api)");
	if (setup_seccomp(sb.seccomp))
		return VM_STATUS_ERROR;
	const char *files[] = {config};
	if (api_landlock(&ll, sb.landlock, sock, files, 1))
		return VM_STATUS_ERROR;
	return api_main(sock, config, NULL);
}

/* rvisor restore --snapshot FILE --mem-file FILE [--paused] [--api-sock PATH] */
static int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"snapshot", required_argument, NULL, 's'},
	    {"mem-file", required_argument, NULL, 'm'},
	    {"paused", no_argument, NULL, 'p'},
	    {"api-sock", required_argument, NULL, 'a'},
	    {"track-dirty-pages", no_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    SANDBOX_OPTIONS,
	    {0, 0, 0, 0},
	};
	struct api_restore r = {0};
	const char *sock = NULL;
	static struct landlock_rules ll; /* large: not on the stack */
	struct sandbox_opts sb = {SECCOMP_LEVEL_DEFAULT, true, &ll};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		int taken = sandbox_option(&sb, c, optarg);
		if (taken < 0)
			return VM_STATUS_ERROR;
		if (taken)
			continue;
		switch (c) {
		case 's': r.snapshot = optarg; break;
		case 'm': r.mem_file = optarg; break;
		case 'p': r.paused = true; break;
		case 'a': sock = optarg; break;
		case 't': r.track_dirty_pages = true; break;
		case 'h':
			fputs(
			    "usage: rvisor restore --snapshot FILE --mem-file FILE [--paused] "
			    "[--api-sock PATH]\n"
			    "       [--track-dirty-pages] [--seccomp-level 0|1|2 | --no-seccomp]\n"
			    "\n"
			    "Restore a VM from a snapshot taken with the API's PUT "
			    "/snapshot/create\n"
			    "and run it (--paused: wait for PATCH /vm {\"state\": \"Resumed\"}\n"
			    "on --api-sock; --track-dirty-pages: keep a dirty log, so that a\n"
			    "Diff snapshot of the restored VM holds only the pages written "
			    "since).\n"
			    "A Diff snapshot's memory file is first made whole with 'rvisor "
			    "rebase'.\n",
			    stdout);
			return 0;
		case ':':
			return error("option '%s' needs a value (see 'rvisor restore --help')",
				     argv[optind - 1]);
		default:
			return error("unknown option '%s' (see 'rvisor restore --help')",
				     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return error("unexpected argument '%s' (see 'rvisor restore --help')",
			     argv[optind]);
	if (!r.snapshot || !r.mem_file)
		return error("restore needs --snapshot FILE and --mem-file FILE (the two files "
			     "PUT /snapshot/create wrote)");
	if (r.paused && !sock)
		return error("--paused needs --api-sock PATH: nothing else could resume the VM");
	if (setup_seccomp(sb.seccomp))
		return VM_STATUS_ERROR;
	const char *files[] = {r.snapshot, r.mem_file};
	if (api_landlock(&ll, sb.landlock, sock, files, 2))
		return VM_STATUS_ERROR;
	return api_main(sock, NULL, &r);
}

/* rvisor receive --listen URL [--paused --api-sock PATH] [--track-dirty-pages] */
static int cmd_receive(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"paused", no_argument, NULL, 'p'},
	    {"api-sock", required_argument, NULL, 'a'},
	    {"track-dirty-pages", no_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    SANDBOX_OPTIONS,
	    {0, 0, 0, 0},
	};
	const char *url = NULL, *sock = NULL;
	struct api_restore r = {0};
	static struct landlock_rules ll; /* large: not on the stack */
	struct sandbox_opts sb = {SECCOMP_LEVEL_DEFAULT, true, &ll};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		int taken = sandbox_option(&sb, c, optarg);
		if (taken < 0)
			return VM_STATUS_ERROR;
		if (taken)
			continue;
		switch (c) {
		case 'l': url = optarg; break;
		case 'p': r.paused = true; break;
		case 'a': sock = optarg; break;
		case 't': r.track_dirty_pages = true; break;
		case 'h':
			fputs(
			    "usage: rvisor receive --listen unix:PATH|tcp:HOST:PORT [--paused "
			    "--api-sock PATH]\n"
			    "       [--track-dirty-pages] [--seccomp-level 0|1|2 | --no-seccomp]\n"
			    "\n"
			    "Wait at the address for one VM migrating from another rvisor (its "
			    "API's\n"
			    "PUT /migration/send {\"destination_url\": ADDRESS}), then run it "
			    "here.\n"
			    "The disks must be at the same paths on this host (shared storage).\n",
			    stdout);
			return 0;
		case ':':
			return error("option '%s' needs a value (see 'rvisor receive --help')",
				     argv[optind - 1]);
		default:
			return error("unknown option '%s' (see 'rvisor receive --help')",
				     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return error("unexpected argument '%s' (see 'rvisor receive --help')",
			     argv[optind]);
	if (!url)
		return error("receive needs --listen unix:PATH or --listen tcp:HOST:PORT");
	if (r.paused && !sock)
		return error("--paused needs --api-sock PATH: nothing else could resume the VM");
	if (setup_seccomp(sb.seccomp))
		return VM_STATUS_ERROR;
	struct migrate_in in;
	char err[512];
	if (vm_migrate_receive(url, &in, err, sizeof(err))) {
		vm_migrate_in_free(&in);
		return error("%s", err);
	}
	r.migration = &in;
	if (ll.n && !strncmp(url, "unix:", 5) &&
	    landlock_add_dir_of(&ll, url + 5, LANDLOCK_RW, err, sizeof(err))) {
		vm_migrate_in_free(&in);
		return error("%s", err);
	}
	if (api_landlock(&ll, sb.landlock, sock, NULL, 0)) {
		vm_migrate_in_free(&in);
		return VM_STATUS_ERROR;
	}
	int status = api_main(sock, NULL, &r);
	vm_migrate_in_free(&in);
	return status;
}

/* rvisor rebase --snapshot FILE --diff-file FILE --base-file FILE */
static int cmd_rebase(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"snapshot", required_argument, NULL, 's'},
	    {"diff-file", required_argument, NULL, 'd'},
	    {"base-file", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {0, 0, 0, 0},
	};
	const char *state = NULL, *diff = NULL, *base = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'd': diff = optarg; break;
		case 'b': base = optarg; break;
		case 'h':
			fputs(
			    "usage: rvisor rebase --snapshot FILE --diff-file FILE --base-file "
			    "FILE\n"
			    "\n"
			    "Make a Diff snapshot's memory file whole: copy the pages the "
			    "snapshot\n"
			    "(--snapshot, its state file) lists from its memory file "
			    "(--diff-file)\n"
			    "onto the memory file of the snapshot taken just before it\n"
			    "(--base-file: a Full one, or a Diff one rebased already), in place.\n"
			    "--base-file is then the memory file to restore --snapshot with.\n"
			    "A chain of Diff snapshots is rebased in the order they were taken.\n",
			    stdout);
			return 0;
		case ':':
			return error("option '%s' needs a value (see 'rvisor rebase --help')",
				     argv[optind - 1]);
		default:
			return error("unknown option '%s' (see 'rvisor rebase --help')",
				     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return error("unexpected argument '%s' (see 'rvisor rebase --help')", argv[optind]);
	if (!state || !diff || !base)
		return error("rebase needs --snapshot FILE, --diff-file FILE and --base-file FILE");
	struct vm_snapshot s;
	char err[512];
	int rc = vm_snapshot_open(&s, state, NULL, err, sizeof(err));
	if (!rc)
		rc = vm_snapshot_rebase(&s, diff, base, err, sizeof(err));
	vm_snapshot_close(&s);
	if (rc)
		return error("%s", err);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return VM_STATUS_ERROR;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "restore"))
		return cmd_restore(argc - 1, argv + 1);
	if (!strcmp(cmd, "rebase"))
		return cmd_rebase(argc - 1, argv + 1);
	if (!strcmp(cmd, "receive"))
		return cmd_receive(argc - 1, argv + 1);
	if (!strncmp(cmd, "--api-sock", 10) || !strncmp(cmd, "--config-file", 13) ||
	    !strcmp(cmd, "--no-api"))
		return cmd_api(argc, argv);
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage_main(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		puts("rvisor 0.1");
		return 0;
	}
	return error("unknown command '%s' (see 'rvisor --help')", cmd);
}
