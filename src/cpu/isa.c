/* The CPU models of --cpu and the names of the ISA extensions a hart has, in the canonical
 * order of ISA strings (unprivileged spec, "ISA Extension Naming Conventions"). */
#include <stdio.h>
#include <string.h>

#include "cpu/isa.h"

const struct isa_cpu isa_cpus[] = {
    {"rv64gc", ISA_EXT_RV64GC},
    {"max", ISA_EXT_ALL},
    {NULL, 0},
};

const struct isa_cpu *isa_cpu_find(const char *name)
{
	for (const struct isa_cpu *c = isa_cpus; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* Every name in canonical order: single letters, then Z extensions by the category letter
 * that follows the Z (in the order I M A F D Q L C B K J T P V H), alphabetically within a
 * category, then S extensions. bit < 0: every hart has it. */
static const struct {
	const char *name;
	int bit;
} order[] = {
    {"i", -1},
    {"m", -1},
    {"a", -1},
    {"f", -1},
    {"d", -1},
    {"c", -1},
    {"zicbom", ISA_EXT_BIT_zicbom},
    {"zicbop", ISA_EXT_BIT_zicbop},
    {"zicboz", ISA_EXT_BIT_zicboz},
    {"zicntr", -1},
    {"zicond", ISA_EXT_BIT_zicond},
    {"zicsr", -1},
    {"zifencei", -1},
    {"zihintntl", ISA_EXT_BIT_zihintntl},
    {"zihintpause", ISA_EXT_BIT_zihintpause},
    {"zimop", ISA_EXT_BIT_zimop},
    {"zawrs", ISA_EXT_BIT_zawrs},
    {"zfa", ISA_EXT_BIT_zfa},
    {"zfhmin", ISA_EXT_BIT_zfhmin},
    {"zcb", ISA_EXT_BIT_zcb},
    {"zcmop", ISA_EXT_BIT_zcmop},
    {"zba", ISA_EXT_BIT_zba},
    {"zbb", ISA_EXT_BIT_zbb},
    {"zbs", ISA_EXT_BIT_zbs},
    {"zkt", ISA_EXT_BIT_zkt},
    {"sstc", -1},
    {"svinval", ISA_EXT_BIT_svinval},
    {"svnapot", ISA_EXT_BIT_svnapot},
    {"svpbmt", ISA_EXT_BIT_svpbmt},
};
_Static_assert(sizeof(order) / sizeof(order[0]) <= ISA_MAX_NAMES, "ISA_MAX_NAMES");

unsigned isa_names(uint64_t ext, const char **names, unsigned max)
{
	unsigned n = 0;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (order[i].bit >= 0 && !((ext >> order[i].bit) & 1))
			continue;
		if (n < max)
			names[n] = order[i].name;
		n++;
	}
	return n;
}

size_t isa_string(uint64_t ext, char *buf, size_t size)
{
	const char *names[ISA_MAX_NAMES];
	unsigned n = isa_names(ext, names, ISA_MAX_NAMES);
	int w = snprintf(buf, size, "rv64");
	size_t len = (size_t)w;
	for (unsigned i = 0; i < n; i++) {
		bool multi = strlen(names[i]) > 1; /* multi-letter names follow an underscore */
		w = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, "%s%s",
			     multi ? "_" : "", names[i]);
		len += (size_t)w;
	}
	return len;
}
