/* Sv39 page tables pointing outside RAM: satp's root past RAM's end, a non-leaf entry to a
 * table at 8 GiB (nothing there), and a leaf mapping a page in the hole at 0x3000_0000 + 64
 * GiB. A walk that would read outside RAM raises the access fault of the original access
 * (privileged spec 4.3.2 step 2); an access through a leaf to nothing raises it too. */
#include "hostile.h"

#define SATP_SV39 (8ull << 60)

static void s_code(uint64_t arg)
{
	(void)arg;
}

static void mprv_load(uint64_t va)
{
	csr_set(mstatus, (1ull << 17) | (1ull << 11));
	(void)rd64(va);
	csr_clear(mstatus, (1ull << 17) | (3ull << 11));
}

static void mprv_store(uint64_t va)
{
	csr_set(mstatus, (1ull << 17) | (1ull << 11));
	wr64(va, 0x1234);
	csr_clear(mstatus, (1ull << 17) | (3ull << 11));
}

static void expect(uint64_t cause, uint64_t tval)
{
	CHECK_EQ(last_trap.cause, cause);
	CHECK_EQ(last_trap.tval, tval);
	csr_clear(mstatus, (1ull << 17) | (3ull << 11));
}

void case_main(void)
{
	csr_write(satp, SATP_SV39 | (RAM_END >> 12));
	__asm__ volatile("sfence.vma");
	CHECK_EQ(try_call(s_code, 0, true), 1);
	expect(CAUSE_FETCH_ACCESS, (uint64_t)s_code);
	CHECK_EQ(try_call(mprv_load, 0x1000, false), 1);
	expect(CAUSE_LOAD_ACCESS, 0x1000);
	/* The largest PPN satp can name. */
	csr_write(satp, SATP_SV39 | ((1ull << 44) - 1));
	__asm__ volatile("sfence.vma");
	CHECK_EQ(try_call(mprv_store, 0x2000, false), 1);
	expect(CAUSE_STORE_ACCESS, 0x2000);

	uint64_t *root = alloc(4096, 4096), *l1 = alloc(4096, 4096);
	root[2] = ((RAM_BASE >> 12) << 10) | 0xcf;
	root[0] = ((0x200000000ull >> 12) << 10) | 1; /* non-leaf at 8 GiB */
	root[1] = ((uint64_t)l1 >> 12) << 10 | 1;
	/* VA 0x40000000: a 2 MiB leaf at 64 GiB + 0x30000000, far past anything. */
	l1[0] = (((0x1000000000ull + 0x30000000ull) >> 12) << 10) | 0xcf;
	/* VA 0x40200000: a non-leaf whose PPN has every bit set. */
	l1[1] = (((1ull << 44) - 1) << 10) | 1;
	csr_write(satp, SATP_SV39 | ((uint64_t)root >> 12));
	__asm__ volatile("sfence.vma");
	CHECK_EQ(try_call(s_code, 0, true), 0);
	CHECK_EQ(try_call(mprv_load, 0x3000, false), 1);
	expect(CAUSE_LOAD_ACCESS, 0x3000);
	CHECK_EQ(try_call(mprv_store, 0x40000010, false), 1);
	expect(CAUSE_STORE_ACCESS, 0x40000010);
	CHECK_EQ(try_call(mprv_load, 0x40000020, false), 1);
	expect(CAUSE_LOAD_ACCESS, 0x40000020);
	CHECK_EQ(try_call(mprv_load, 0x40200000, false), 1);
	expect(CAUSE_LOAD_ACCESS, 0x40200000);
	CHECK_EQ(try_call((void (*)(uint64_t))0x40000000, 0, true), 1);
	expect(CAUSE_FETCH_ACCESS, 0x40000000);
	CHECK_EQ(try_call((void (*)(uint64_t))0x8000, 0, true), 1);
	expect(CAUSE_FETCH_ACCESS, 0x8000);
	csr_write(satp, 0);
	__asm__ volatile("sfence.vma");
}
