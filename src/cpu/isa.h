/* The ISA extensions beyond RV64GC a hart may implement (RVA23U64's scalar ones, and the
 * privileged Svinval, Svnapot and Svpbmt), as a bitmask kept in struct hart (isa_ext): the
 * decoder's users, the interpreter and the translator check it, so that a hart configured as plain
 * RV64GC takes an illegal-instruction exception on every encoding these extensions define, and the
 * device tree advertises exactly what the mask holds. Names as the ratified specifications spell
 * them. */
#ifndef RVISOR_CPU_ISA_H
#define RVISOR_CPU_ISA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X(name, bit): one extension each; name lower-case as in ISA strings. */
// clang-format off
#define ISA_EXTS(X)                                                                            \
	X(zba, 0) X(zbb, 1) X(zbs, 2) X(zicond, 3) X(zcb, 4) X(zimop, 5) X(zcmop, 6)          \
	X(zihintpause, 7) X(zihintntl, 8) X(zawrs, 9) X(zicbom, 10) X(zicbop, 11)             \
	X(zicboz, 12) X(zkt, 13) X(zfa, 14) X(zfhmin, 15) X(svinval, 16)          \
	X(svnapot, 17) X(svpbmt, 18)
// clang-format on

/* ISA_EXT_<name>: the bit of each extension. */
enum isa_ext_bit {
#define ISA_EXT_ENUM(name, bit) ISA_EXT_BIT_##name = bit,
	ISA_EXTS(ISA_EXT_ENUM)
#undef ISA_EXT_ENUM
};
#define ISA_EXT(name) (1ull << ISA_EXT_BIT_##name)

/* Every extension this build implements (the `--cpu max` set). */
#define ISA_EXT_ALL                                                                            \
	(ISA_EXT(zba) | ISA_EXT(zbb) | ISA_EXT(zbs) | ISA_EXT(zicond) | ISA_EXT(zcb) |         \
	 ISA_EXT(zimop) | ISA_EXT(zcmop) | ISA_EXT(zihintpause) | ISA_EXT(zihintntl) |         \
	 ISA_EXT(zawrs) | ISA_EXT(zicbom) | ISA_EXT(zicbop) | ISA_EXT(zicboz) | ISA_EXT(zkt) | \
	 ISA_EXT(zfa) | ISA_EXT(zfhmin) | ISA_EXT(svinval) | ISA_EXT(svnapot) | ISA_EXT(svpbmt))
/* Plain RV64GC (with what rvisor always had: Zicntr, Zicsr, Zifencei, Sstc): none. */
#define ISA_EXT_RV64GC 0ull

/* The cache-block size of Zicbom, Zicbop and Zicboz, in bytes (the device tree's
 * riscv,cbo*-block-size). */
#define ISA_CBO_BLOCK 64

/* A named CPU model (--cpu NAME): its name and extension set. */
struct isa_cpu {
	const char *name;
	uint64_t ext;
};

/* The CPU models, in the order the help lists them; NULL-named entry last. */
extern const struct isa_cpu isa_cpus[];

/* The model a VM gets without --cpu: everything (the integration suite passes with it). */
#define ISA_CPU_DEFAULT "max"
/* The choices, for messages. */
#define ISA_CPU_CHOICES "rv64gc, max"

/* The model called name, or NULL. */
const struct isa_cpu *isa_cpu_find(const char *name);

/* The extensions a hart with extension set ext has, in the ISA string's canonical order
 * (unprivileged spec, "ISA Extension Naming Conventions"): the single letters i, m, a, f, d, c,
 * then the multi-letter ones, those of RV64GC included (zicntr, zicsr, zifencei, sstc). Fills
 * names[0..max) and returns how many there are (at most ISA_MAX_NAMES). */
#define ISA_MAX_NAMES 32
unsigned isa_names(uint64_t ext, const char **names, unsigned max);

/* Write the `riscv,isa` string for ext (e.g. "rv64imafdc_zicntr_..._zba") into buf (size
 * bytes, NUL-terminated, truncated if too small). Returns the length it needs (without the
 * NUL), as snprintf does. */
size_t isa_string(uint64_t ext, char *buf, size_t size);

#endif
