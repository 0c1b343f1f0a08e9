/* Sv39 page tables in MMIO: satp's root in the UART's registers, then a root in RAM whose
 * non-leaf entry points into the PLIC. A table walk reads PTEs only from RAM; one that would
 * read MMIO raises the access fault of the original access (privileged spec 4.3.2 step 2):
 * S-mode fetch -> fetch access fault, load and store (M-mode with MPRV, MPP = S) -> load and
 * store access faults, each with the address in mtval. The UART is left as it was. */
#include "hostile.h"

#define SATP_SV39 (8ull << 60)

static void s_code(uint64_t arg)
{
	(void)arg;
}

static void mprv_load(uint64_t va)
{
	csr_set(mstatus, (1ull << 17) | (1ull << 11)); /* MPRV, MPP = S */
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
	uint8_t lcr = rd8(UART_BASE + 3);
	/* The root in the UART. */
	csr_write(satp, SATP_SV39 | (UART_BASE >> 12));
	__asm__ volatile("sfence.vma");
	CHECK_EQ(try_call(s_code, 0, true), 1);
	expect(CAUSE_FETCH_ACCESS, (uint64_t)s_code);
	CHECK_EQ(try_call(mprv_load, 0x5000, false), 1);
	expect(CAUSE_LOAD_ACCESS, 0x5000);
	CHECK_EQ(try_call(mprv_store, 0x6000, false), 1);
	expect(CAUSE_STORE_ACCESS, 0x6000);
	/* A root in RAM: RAM mapped by a gigapage (so S-mode code runs), VA 0-1 GiB through a
	 * table in the PLIC. */
	uint64_t *root = alloc(4096, 4096);
	root[2] = ((RAM_BASE >> 12) << 10) | 0xcf; /* V R W X A D */
	root[0] = ((PLIC_BASE >> 12) << 10) | 1;   /* non-leaf */
	csr_write(satp, SATP_SV39 | ((uint64_t)root >> 12));
	__asm__ volatile("sfence.vma");
	CHECK_EQ(try_call(s_code, 0, true), 0); /* the mapping works */
	CHECK_EQ(try_call(mprv_load, 0x5000, false), 1);
	expect(CAUSE_LOAD_ACCESS, 0x5000);
	CHECK_EQ(try_call(mprv_store, 0x6008, false), 1);
	expect(CAUSE_STORE_ACCESS, 0x6008);
	CHECK_EQ(try_call((void (*)(uint64_t))0x7000, 0, true), 1);
	expect(CAUSE_FETCH_ACCESS, 0x7000);
	csr_write(satp, 0);
	__asm__ volatile("sfence.vma");
	CHECK_EQ(rd8(UART_BASE + 3), lcr);
	CHECK_EQ(rd32(PLIC_BASE + 0x200004), 0);
}
