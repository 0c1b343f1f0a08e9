/* Jumps outside RAM: address 0, holes in the address space, the first byte past RAM's end
 * and a page further, the last word of a 39-, 48- and 56-bit address space, 2^63 and the top
 * of the 64-bit one, from M-mode and from S-mode (bare). Each raises a fetch access fault
 * with mtval and mepc the target (privileged spec 3.1.15-3.1.16). */
#include "hostile.h"

void case_main(void)
{
	static const uint64_t targets[] = {
	    0,
	    0x1000,
	    0x3000000,
	    0x20000000,
	    RAM_END,
	    RAM_END + 0x1000,
	    0x7ffffffffcull,
	    0xfffffffffffcull,
	    0xfffffffffffffcull,
	    0x8000000000000000ull,
	    0xfffffffffffffffcull,
	};
	for (unsigned smode = 0; smode < 2; smode++)
		for (unsigned i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
			CHECK_EQ(try_call((void (*)(uint64_t))targets[i], 0, smode), 1);
			CHECK_EQ(last_trap.cause, CAUSE_FETCH_ACCESS);
			CHECK_EQ(last_trap.tval, targets[i]);
			CHECK_EQ(last_trap.epc, targets[i]);
		}
}
