/* Physical Memory Protection (privileged spec 3.7): M-mode programs entries and runs single
 * accesses in S- and U-mode (and M-mode with MPRV), checking each succeeds or takes the right
 * access fault (instruction 1, load 5, store/AMO 7) with mtval the address. Covered: the CSRs'
 * WARL fields and the implemented entry count; TOR (entry 0 from address 0, and between two
 * pmpaddr), NA4, NAPOT of 8 bytes, 4 KiB and 64 KiB; R, W and X each denied and allowed; an
 * access matching only part of an entry fails; the lowest-numbered matching entry decides; an
 * S access no entry matches fails while an entry is enabled; MPRV; page-table walks checked as
 * S-mode accesses (a walk through a denied page table is an access fault of the access's own
 * type); fetches from a page executed before a PMP change and from a page PMP allows only in
 * part; and, last (they hold until reset), locked entries binding M-mode and ignoring writes,
 * the pmpaddr below a locked TOR entry included.
 *
 * The machine's choices: 16 entries, granularity 4 bytes. Entry 15 gives everything to S and U (NAPOT over the whole
 * address space) below the entries a check uses. */
#include "common.h"

DEFINE_TEST("pmp")

#define A_TOR 0x08
#define A_NA4 0x10
#define A_NAPOT 0x18
#define PMP_L 0x80
#define RWX (PMP_R | PMP_W | PMP_X)

/* Set the pmpcfg byte of entry n (0-7 in pmpcfg0, 8-15 in pmpcfg2) to v. Clobbers t0. */
#define CFG(n, v)                                                                                  \
	li t0, 0xff << (8 * ((n) % 8));                                                            \
	.if (n) < 8;                                                                               \
	csrc pmpcfg0, t0;                                                                          \
	.else;                                                                                     \
	csrc pmpcfg2, t0;                                                                          \
	.endif;                                                                                    \
	li t0, (v) << (8 * ((n) % 8));                                                             \
	.if (n) < 8;                                                                               \
	csrs pmpcfg0, t0;                                                                          \
	.else;                                                                                     \
	csrs pmpcfg2, t0;                                                                          \
	.endif

/* pmpaddrN = (area + off) >> 2, ORed with ones: ones = size / 8 - 1 for a NAPOT range of size
 * bytes, 0 otherwise. Clobbers t0, t1. */
#define ADDR(csr, off, ones)                                                                       \
	la t0, pmp_area;                                                                           \
	li t1, off;                                                                                \
	add t0, t0, t1;                                                                            \
	srli t0, t0, 2;                                                                            \
	li t1, ones;                                                                               \
	or t0, t0, t1;                                                                             \
	csrw csr, t0

/* s2 = area + off: the address a snippet uses. */
#define AT(off)                                                                                    \
	la s2, pmp_area;                                                                           \
	li t0, off;                                                                                \
	add s2, s2, t0

/* Run snippet fn in privilege prv; then the outcome: it ran (OK) or took the access fault
 * cause with mtval = s2 (+ d). */
#define RUN(fn, prv)                                                                               \
	la a0, fn;                                                                                 \
	li a1, prv;                                                                                \
	call run_in
#define OK() CHECK(a0, -1)
#define FAULT(cause)                                                                               \
	CHECK(a0, cause);                                                                          \
	CHECK_REG(a1, s2)
#define FAULT_AT(cause, d)                                                                         \
	CHECK(a0, cause);                                                                          \
	addi t2, s2, d;                                                                            \
	CHECK_REG(a1, t2)

/* The end of a snippet: back to M-mode, reporting that it ran. */
#define S_END                                                                                      \
	TO_M_MODE();                                                                               \
	j run_ok

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call csrs
	SAY("pmpcfg and pmpaddr: 16 entries, WARL fields")
	call base
	call all_off
	SAY("every entry OFF: S and U reach nothing, M everything")
	call tor
	SAY("TOR from 0 (entry 0) and between two pmpaddr")
	call na4
	SAY("NA4, and accesses matching part of an entry")
	call napot
	SAY("NAPOT of 8 bytes, 4 KiB and 64 KiB; R, W, X")
	call priority
	SAY("the lowest-numbered matching entry decides")
	call nomatch
	SAY("S and U accesses no entry matches fail; M ones succeed")
	call fetch
	SAY("fetch from a page run before the change, and from a page allowed in part")
	call mprv
	SAY("MPRV: loads and stores checked at MPP")
	call walk
	SAY("page-table walks are S-mode accesses: access faults of the access's type")
	call locked
	SAY("locked entries bind M-mode and ignore writes")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Run the code at a0 in privilege a1 (PRV_S or PRV_U), from M-mode. The code ends with S_END.
 * Returns a0 = -1 when it got there, else a0 = mcause and a1 = mtval of the trap it took
 * (resumed in M-mode). */
run_in:
	addi sp, sp, -16
	sd ra, 8(sp)
	mv t0, a0
	EXPECT_TRAP_M(run_trapped)
	li t6, MSTATUS_MPP
	csrc mstatus, t6
	slli t6, a1, 11
	csrs mstatus, t6
	csrw mepc, t0
	mret
run_ok:
	EXPECT_NO_TRAP()
	li a0, -1
	li a1, 0
	j 1f
run_trapped:
	TRAP_FIELD(TI_CAUSE)
	mv a0, t5
	TRAP_FIELD(TI_TVAL)
	mv a1, t5
1:	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* ---- snippets: one access at s2 (value s3), then S_END ---- */
s_ld:
	ld t0, 0(s2)
	S_END
s_lw:
	lw t0, 0(s2)
	S_END
s_sd:
	sd s3, 0(s2)
	S_END
s_sw:
	sw s3, 0(s2)
	S_END
s_amo:
	amoadd.d t0, zero, (s2)
	S_END
s_jr:
	jr s2

/* Every entry OFF, then entry 15 over everything for S and U. */
base:
	csrw pmpcfg0, zero
	csrw pmpcfg2, zero
	li t0, -1
	csrw pmpaddr15, t0
	CFG(15, A_NAPOT | RWX)
	ret

/* csr (of an entry not implemented) reads zero after a write of ones. All 64 entries' CSRs
 * exist when any PMP entry does (privileged spec 3.7.1). */
#define ZERO_CSR(csr)                                                                              \
	EXPECT_TRAP(19996f);                                                                       \
	li t0, -1;                                                                                 \
	csrw csr, t0;                                                                              \
	csrr t1, csr;                                                                              \
	EXPECT_NO_TRAP();                                                                          \
	CHECK(t1, 0);                                                                              \
	j 19997f;                                                                                  \
	19996 : SAY("deviation: " #csr " does not exist");                                         \
	19997:

csrs:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* pmpaddr holds bits 55:2 (54 bits); all 16 entries are there, 16-63 read zero. */
	li t0, -1
	csrw pmpaddr1, t0
	csrr t1, pmpaddr1
	bne t1, t0, 1f
	SAY("deviation: pmpaddr bits 63:54 read back as written")
	j 2f
1:	CHECK(t1, 0x3fffffffffffff)
2:	li t0, -1
	csrw pmpaddr15, t0
	csrr t1, pmpaddr15
	CHECK_NZ(t1)
	ZERO_CSR(pmpaddr16)
	ZERO_CSR(pmpaddr63)
	ZERO_CSR(pmpcfg4)
	ZERO_CSR(pmpcfg14)
	/* Each cfg byte keeps R, W, X, A and L (bits 5-6 read zero); entries OFF here. */
	li t0, 0x6707050403010000
	csrw pmpcfg2, t0
	csrr t1, pmpcfg2
	bne t1, t0, 1f
	SAY("deviation: pmpcfg bits 5-6 read back as written")
	j 2f
1:	CHECK(t1, 0x0707050403010000)
2:	/* The reserved R = 0, W = 1 (entry 8: W, entry 9: W and X): W is dropped. */
	li t0, 0x0602
	csrw pmpcfg2, t0
	csrr t1, pmpcfg2
	bne t1, t0, 3f
	SAY("deviation: pmpcfg keeps the reserved W without R")
	j 4f
3:	CHECK(t1, 0x0400)
4:
	csrw pmpcfg2, zero
	csrw pmpaddr1, zero
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

all_off:
	addi sp, sp, -16
	sd ra, 8(sp)
	csrw pmpcfg0, zero
	csrw pmpcfg2, zero
	la s2, s_ld /* S and U cannot even fetch */
	RUN(s_ld, PRV_S)
	li t0, CAUSE_ILLEGAL_INSTRUCTION
	bne a0, t0, 1f
	SAY("deviation: mret to S or U with every PMP entry OFF is illegal")
	j 2f
1:	FAULT(CAUSE_FETCH_ACCESS)
	RUN(s_ld, PRV_U)
	FAULT(CAUSE_FETCH_ACCESS)
2:
	AT(0) /* M-mode matches no entry: allowed */
	ld t0, 0(s2)
	call base
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

tor:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* Entry 0 TOR: [0, area), read and execute: the code runs, stores below area fail. */
	ADDR(pmpaddr0, 0, 0)
	CFG(0, A_TOR | PMP_R | PMP_X)
	la s2, below_area
	RUN(s_ld, PRV_S)
	OK()
	RUN(s_sd, PRV_S)
	FAULT(CAUSE_STORE_ACCESS)
	RUN(s_amo, PRV_S)
	FAULT(CAUSE_STORE_ACCESS)
	RUN(s_sw, PRV_U)
	FAULT(CAUSE_STORE_ACCESS)
	AT(0) /* the first byte above: entry 15 */
	RUN(s_sd, PRV_S)
	OK()
	/* Entry 2 TOR between pmpaddr1 and pmpaddr2: [area + 0x100, area + 0x200), read only. */
	ADDR(pmpaddr1, 0x100, 0)
	ADDR(pmpaddr2, 0x200, 0)
	CFG(2, A_TOR | PMP_R)
	AT(0x100)
	RUN(s_ld, PRV_S)
	OK()
	RUN(s_sd, PRV_S)
	FAULT(CAUSE_STORE_ACCESS)
	AT(0x1f8)
	RUN(s_sd, PRV_U)
	FAULT(CAUSE_STORE_ACCESS)
	AT(0xf8)
	RUN(s_sd, PRV_S)
	OK()
	AT(0x200)
	RUN(s_sd, PRV_S)
	OK()
	/* Entry 1 itself is OFF: its pmpaddr only bounds entry 2. Bounds reversed: no match. */
	ADDR(pmpaddr1, 0x300, 0)
	AT(0x100)
	RUN(s_sd, PRV_S)
	li t0, CAUSE_STORE_ACCESS
	bne a0, t0, 1f
	SAY("deviation: a TOR entry keeps its range when the pmpaddr below it changes")
	j 2f
1:	OK()
2:	call base
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

na4:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* Entry 3 NA4 at area + 0x308, no access. */
	ADDR(pmpaddr3, 0x308, 0)
	CFG(3, A_NA4)
	AT(0x308)
	RUN(s_lw, PRV_S)
	FAULT(CAUSE_LOAD_ACCESS)
	RUN(s_sw, PRV_U)
	FAULT(CAUSE_STORE_ACCESS)
	AT(0x30c)
	RUN(s_lw, PRV_S)
	OK()
	AT(0x304)
	RUN(s_sw, PRV_S)
	OK()
	/* Readable now; a doubleword at area + 0x308 covers it and 4 bytes more: entry 3 matches
	 * only part of the access, which fails though entry 3 and entry 15 both allow reads. */
	CFG(3, A_NA4 | PMP_R)
	AT(0x308)
	RUN(s_lw, PRV_S)
	OK()
	RUN(s_ld, PRV_S)
	FAULT(CAUSE_LOAD_ACCESS)
	AT(0x300) /* the doubleword below it: no byte of entry 3 */
	RUN(s_ld, PRV_S)
	OK()
	/* M-mode is not bound by an unlocked entry's R, W, X, but matching only part of it
	 * fails there too. */
	CFG(3, A_NA4)
	AT(0x308)
	lw t0, 0(s2)
	sw zero, 0(s2)
	EXPECT_TRAP(1f)
m_part_ld:
	ld t0, 0(s2)
	FAIL_HERE()
1:	CHECK_TRAP_CAUSE(CAUSE_LOAD_ACCESS)
	CHECK_TRAP_EPC(m_part_ld)
	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s2)
	call base
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

napot:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* Entry 4: 8 bytes at area + 0x400, no access. */
	ADDR(pmpaddr4, 0x400, 0)
	CFG(4, A_NAPOT)
	AT(0x404)
	RUN(s_lw, PRV_S)
	FAULT(CAUSE_LOAD_ACCESS)
	AT(0x400)
	RUN(s_lw, PRV_U)
	FAULT(CAUSE_LOAD_ACCESS)
	AT(0x408)
	RUN(s_ld, PRV_S)
	OK()
	AT(0x3f8)
	RUN(s_ld, PRV_S)
	OK()
	/* Entry 5: 4 KiB at area + 0x1000, read only. */
	ADDR(pmpaddr5, 0x1000, 0x1ff)
	CFG(5, A_NAPOT | PMP_R)
	AT(0x1000)
	RUN(s_ld, PRV_S)
	OK()
	RUN(s_sd, PRV_S)
	FAULT(CAUSE_STORE_ACCESS)
	AT(0x1ff8)
	RUN(s_sd, PRV_U)
	FAULT(CAUSE_STORE_ACCESS)
	RUN(s_jr, PRV_S) /* no X: the jump's target faults */
	FAULT(CAUSE_FETCH_ACCESS)
	AT(0x2000)
	RUN(s_sd, PRV_S)
	OK()
	AT(0xff8)
	RUN(s_sd, PRV_S)
	OK()
	/* Write only is reserved (no access); read and write. */
	CFG(5, A_NAPOT | PMP_W)
	AT(0x1000)
	RUN(s_ld, PRV_S)
	FAULT(CAUSE_LOAD_ACCESS)
	CFG(5, A_NAPOT | PMP_R | PMP_W)
	RUN(s_sd, PRV_S)
	OK()
	RUN(s_amo, PRV_U)
	OK()
	/* Entry 6: 64 KiB at area + 0x10000, read and write, no execute. */
	ADDR(pmpaddr6, 0x10000, 0x1fff)
	CFG(6, A_NAPOT | PMP_R | PMP_W)
	AT(0x10000)
	RUN(s_sd, PRV_S)
	OK()
	AT(0x1fff8)
	RUN(s_ld, PRV_U)
	OK()
	RUN(s_jr, PRV_S)
	FAULT(CAUSE_FETCH_ACCESS)
	CFG(6, A_NAPOT | PMP_X)
	AT(0x18000)
	RUN(s_ld, PRV_S)
	FAULT(CAUSE_LOAD_ACCESS)
	call base
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

priority:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* Entry 3: the 4 KiB at area + 0x11000, no access; entry 4: its 64 KiB, read-write. */
	ADDR(pmpaddr3, 0x11000, 0x1ff)
	CFG(3, A_NAPOT)
	ADDR(pmpaddr4, 0x10000, 0x1fff)
	CFG(4, A_NAPOT | PMP_R | PMP_W)
	AT(0x11008)
	RUN(s_ld, PRV_S)
	FAULT(CAUSE_LOAD_ACCESS)
	AT(0x12000)
	RUN(s_ld, PRV_S)
	OK()
	/* The other way round: entry 3 read-write, entry 4 nothing. */
	CFG(3, A_NAPOT | PMP_R | PMP_W)
	CFG(4, A_NAPOT)
	AT(0x11008)
	RUN(s_sd, PRV_S)
	OK()
	AT(0x12000)
	RUN(s_ld, PRV_U)
	FAULT(CAUSE_LOAD_ACCESS)
	call base
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

nomatch:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* Entry 15 over RAM only (2 GiB at 0x80000000): the UART matches no entry. */
	li t0, (0x80000000 >> 2) | ((0x80000000 / 8) - 1)
	csrw pmpaddr15, t0
	li s2, UART_BASE + UART_LSR
	RUN(s_lw, PRV_S)
	FAULT(CAUSE_LOAD_ACCESS)
	RUN(s_sw, PRV_U)
	FAULT(CAUSE_STORE_ACCESS)
	lbu t0, 0(s2) /* M-mode: no match, allowed */
	AT(0)
	RUN(s_ld, PRV_S)
	OK()
	call base
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

fetch:
	addi sp, sp, -16
	sd ra, 8(sp)
	la s2, xpage
	RUN(s_jr, PRV_S)
	OK()
	RUN(s_jr, PRV_S) /* again: by now the page may be cached and translated */
	OK()
	call xpage_m
	CHECK(a0, 0x77)
	/* Entry 7: the page, read only: no longer executable in S or U. */
	la t0, xpage
	srli t0, t0, 2
	ori t0, t0, 0x1ff
	csrw pmpaddr7, t0
	CFG(7, A_NAPOT | PMP_R)
	RUN(s_jr, PRV_S)
	FAULT(CAUSE_FETCH_ACCESS)
	RUN(s_jr, PRV_U)
	FAULT(CAUSE_FETCH_ACCESS)
	call xpage_m /* M-mode: unlocked entries do not bind it */
	CHECK(a0, 0x77)
	CFG(7, A_NAPOT | PMP_R | PMP_X)
	RUN(s_jr, PRV_S)
	OK()
	/* Entry 6: NA4 over the page's second instruction, not executable; the first runs. */
	la t0, xpage + 4
	srli t0, t0, 2
	csrw pmpaddr6, t0
	CFG(6, A_NA4)
	RUN(s_jr, PRV_S)
	li t0, -1
	bne a0, t0, 1f
	SAY("deviation: an instruction PMP denies ran after an allowed one of its page")
	j 2f
1:	FAULT_AT(CAUSE_FETCH_ACCESS, 4)
2:
	CFG(6, A_NA4 | PMP_X) /* executable: the page, allowed in part by each entry, runs */
	RUN(s_jr, PRV_S)
	OK()
	call base
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

mprv:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* Entry 5: 4 KiB at area + 0x1000, read only. */
	ADDR(pmpaddr5, 0x1000, 0x1ff)
	CFG(5, A_NAPOT | PMP_R)
	AT(0x1000)
	/* MPRV with MPP = S: M's loads and stores are S's; its fetches stay M's. */
	EXPECT_TRAP(1f)
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, MSTATUS_MPRV | MSTATUS_MPP_S
	csrs mstatus, t0
	ld t1, 0(s2)
m_sd:
	sd zero, 0(s2)
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	FAIL_HERE()
1:	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	CHECK_TRAP_CAUSE(CAUSE_STORE_ACCESS)
	CHECK_TRAP_EPC(m_sd)
	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s2)
	/* MPP = U: the same. */
	EXPECT_TRAP(2f)
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, MSTATUS_MPRV
	csrs mstatus, t0
m_amo:
	amoor.d t1, zero, (s2)
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	FAIL_HERE()
2:	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	CHECK_TRAP_CAUSE(CAUSE_STORE_ACCESS)
	CHECK_TRAP_EPC(m_amo)
	/* MPP = M: M-mode's own rights. */
	li t0, MSTATUS_MPP | MSTATUS_MPRV
	csrs mstatus, t0
	sd zero, 0(s2)
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	call base
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Sv39 tables in the area: root (+0x2000) maps the gigapage at 0x80000000 to itself (the
 * code) and points, for VA 0x40000000, to a level-1 table (+0x3000), which points to a level-0
 * table (+0x4000), whose first entry maps the data page (+0x5000), accessed but not dirty. */
#define VA_DATA 0x40000000
walk:
	addi sp, sp, -16
	sd ra, 8(sp)
	la t2, pmp_area
	li t0, 0x2000
	add a2, t2, t0 /* root */
	li t0, 0x3000
	add a3, t2, t0 /* level 1 */
	li t0, 0x4000
	add a4, t2, t0 /* level 0 */
	li t0, 0x5000
	add a5, t2, t0 /* data */
	srli t0, a3, 12
	slli t0, t0, PTE_PPN_SHIFT
	ori t0, t0, PTE_V
	sd t0, 8(a2) /* root[1] -> level 1 */
	li t0, (0x80000000 >> 12) << PTE_PPN_SHIFT | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
	sd t0, 16(a2) /* root[2]: gigapage */
	srli t0, a4, 12
	slli t0, t0, PTE_PPN_SHIFT
	ori t0, t0, PTE_V
	sd t0, 0(a3) /* level 1 [0] -> level 0 */
	srli t0, a5, 12
	slli t0, t0, PTE_PPN_SHIFT
	ori t0, t0, PTE_V | PTE_R | PTE_W | PTE_A
	sd t0, 0(a4) /* level 0 [0] -> data, not dirty */
	srli t0, a2, 12
	li t1, SATP_MODE_SV39 << SATP_MODE_SHIFT
	or t0, t0, t1
	csrw satp, t0
	sfence.vma
	li s2, VA_DATA
	RUN(s_ld, PRV_S)
	OK()
	/* Entry 3: the level-1 table, no access: loads and stores through it fault as loads and
	 * stores (access faults, not page faults), with the virtual address. */
	ADDR(pmpaddr3, 0x3000, 0x1ff)
	CFG(3, A_NAPOT)
	RUN(s_ld, PRV_S)
	FAULT(CAUSE_LOAD_ACCESS)
	RUN(s_sd, PRV_S)
	FAULT(CAUSE_STORE_ACCESS)
	/* The data page itself is allowed all along: M-mode reaches it. */
	ld t0, 0(a5)
	/* The root: a fetch through it faults as a fetch, at the pc. */
	ADDR(pmpaddr3, 0x2000, 0x1ff)
	la s2, s_ld
	RUN(s_ld, PRV_S)
	FAULT(CAUSE_FETCH_ACCESS)
	/* The level-0 table read only: a load walks it; a store must set D in the PTE, a write
	 * PMP denies. */
	ADDR(pmpaddr3, 0x4000, 0x1ff)
	CFG(3, A_NAPOT | PMP_R)
	li s2, VA_DATA
	RUN(s_ld, PRV_S)
	OK()
	RUN(s_sd, PRV_S)
	li t0, -1
	bne a0, t0, 1f
	SAY("deviation: the walker set D in a PTE PMP does not let it write")
	j 2f
1:	FAULT(CAUSE_STORE_ACCESS)
	ld t0, 0(a4)
	andi t0, t0, PTE_D
	CHECK(t0, 0)
2:	csrw satp, zero
	sfence.vma
	call base
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Last: locked entries hold until reset. */
locked:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* Entry 8: 4 KiB at area + 0x6000, locked read only: M-mode may no longer write it. */
	ADDR(pmpaddr8, 0x6000, 0x1ff)
	CFG(8, PMP_L | A_NAPOT | PMP_R)
	AT(0x6000)
	ld t0, 0(s2)
	EXPECT_TRAP(1f)
m_locked_sd:
	sd zero, 0(s2)
	FAIL_HERE()
1:	CHECK_TRAP_CAUSE(CAUSE_STORE_ACCESS)
	CHECK_TRAP_EPC(m_locked_sd)
	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s2)
	RUN(s_sd, PRV_S)
	FAULT(CAUSE_STORE_ACCESS)
	/* Its cfg byte and pmpaddr ignore writes. */
	li t0, 0xff
	csrc pmpcfg2, t0
	csrr t1, pmpcfg2
	andi t1, t1, 0xff
	CHECK(t1, PMP_L | A_NAPOT | PMP_R)
	csrr t2, pmpaddr8
	csrw pmpaddr8, zero
	csrr t1, pmpaddr8
	CHECK_REG(t1, t2)
	/* Entry 10: TOR [area + 0x7000, area + 0x7800), locked read only. pmpaddr9, its base, is
	 * locked with it; entry 9's cfg byte is not. */
	ADDR(pmpaddr9, 0x7000, 0)
	ADDR(pmpaddr10, 0x7800, 0)
	CFG(10, PMP_L | A_TOR | PMP_R)
	csrr t2, pmpaddr9
	csrw pmpaddr9, zero
	csrr t1, pmpaddr9
	CHECK_REG(t1, t2)
	CFG(9, A_NA4 | PMP_R)
	csrr t1, pmpcfg2
	srli t1, t1, 8
	andi t1, t1, 0xff
	CHECK(t1, A_NA4 | PMP_R)
	CFG(9, 0)
	AT(0x7000)
	ld t0, 0(s2)
	EXPECT_TRAP(2f)
m_tor_sd:
	sd zero, 0(s2)
	FAIL_HERE()
2:	CHECK_TRAP_CAUSE(CAUSE_STORE_ACCESS)
	CHECK_TRAP_EPC(m_tor_sd)
	AT(0x77f8)
	RUN(s_sd, PRV_U)
	FAULT(CAUSE_STORE_ACCESS)
	AT(0x7800)
	sd zero, 0(s2)
	RUN(s_sd, PRV_S)
	OK()
	/* Entry 11: the code page, locked without X: M-mode may no longer run it. */
	la t0, xpage
	srli t0, t0, 2
	ori t0, t0, 0x1ff
	csrw pmpaddr11, t0
	CFG(11, PMP_L | A_NAPOT | PMP_R)
	la s2, xpage_m
	EXPECT_TRAP(3f)
	call xpage_m
	FAIL_HERE()
3:	CHECK_TRAP_CAUSE(CAUSE_FETCH_ACCESS)
	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s2)
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* ---- code in a page of its own (.text.user: page-aligned, nothing else in it here) ---- */
	.section .text.user, "ax"
	.balign 4096
xpage:
	nop
	nop
	S_END
/* M-mode: returns a0 = 0x77. */
xpage_m:
	li a0, 0x77
	ret

	.data
	.balign 8
below_area: /* the test's own data, below the area */
	.dword 0

	.bss
	.balign 65536
pmp_area:
	.space 0x20000
