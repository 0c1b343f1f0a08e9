/* A target for the debugger tests (tests/integration/test_gdb.py, rvisor run --gdb): a loop
 * that counts into memory, with global labels to break on and a doubleword to read. It runs
 * to PASS on its own, with or without a debugger attached; every instruction is 4 bytes. */
#include "common.h"

DEFINE_TEST("gdbstub")

#define COUNT 200

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	la t0, gdb_counter
	li s0, 0
	li s1, COUNT
	.globl gdb_loop
gdb_loop:
	addi s0, s0, 1
	/* The debugger breaks here, steps over the store, and watches gdb_counter. */
	.globl gdb_break_here
gdb_break_here:
	sd s0, 0(t0)
	blt s0, s1, gdb_loop
	CHECK_MEM(gdb_counter, COUNT)
	CHECK_MEM(gdb_magic, 0x1122334455667788)
	SAY("counted to 200")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

	.data
	.align 3
	.globl gdb_magic
gdb_magic:
	.dword 0x1122334455667788
	.globl gdb_counter
gdb_counter:
	.dword 0
