/* Interpreter handlers, one per op of INSN_OPS (exec.c for the integer, privileged and atomic
 * ops; fpu.c for F and D), and the table that binds decoded ops to them. */
#ifndef RVISOR_CPU_EXEC_H
#define RVISOR_CPU_EXEC_H

#include "cpu/hart.h"
#include "cpu/insn.h"

#define EXEC_DECLARE(name) void exec_##name(struct hart *h, const struct insn *in);
INSN_OPS(EXEC_DECLARE)
#undef EXEC_DECLARE

/* Build the interpreter's compact form of a decoded instruction. */
void exec_compact(const struct insn_fields *f, struct insn *out);

/* Execute the compact instruction in (whose op is op) alone, without chaining to the next
 * one, and retire it. For instructions that live outside the decoded-instruction cache. */
void exec_single(struct hart *h, const struct insn *in, unsigned op);

/* Raise an illegal-instruction exception for the instruction being executed (mtval = 0). */
void exec_illegal(struct hart *h);

#endif
