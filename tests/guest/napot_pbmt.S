/* Svnapot and Svpbmt (privileged spec chapters "Svnapot" and "Svpbmt"), under Sv39, through
 * loads and stores M-mode makes with MPRV at S privilege:
 * - a 64 KiB NAPOT mapping (N = 1, PPN[3:0] = 1000, the same PTE in all 16 slots): each 4 KiB
 *   page of the range reaches its own physical page, the low PPN bits coming from the
 *   virtual address; a store lands there too;
 * - reserved encodings are page faults: N with PPN[3:0] other than 1000, N or PBMT on a
 *   pointer (non-leaf) PTE, PBMT = 3, a PBMT type while menvcfg.PBMTE = 0, reserved bit 60;
 * - menvcfg.PBMTE is writable; with it set, NC (1) and IO (2) leaves translate as PMA ones.
 * Each fault's cause, epc and tval are checked. */
#include "common.h"

DEFINE_TEST("napot_pbmt")

#define VA_NAPOT 0x40000000	   /* l0[0..15]: the NAPOT range */
#define VA_BAD_NAPOT 0x40010000	   /* l0[16]: N with PPN[3:0] = 0000 */
#define VA_NC 0x40011000	   /* l0[17]: PBMT = NC */
#define VA_PBMT3 0x40012000	   /* l0[18]: PBMT = 3 (reserved) */
#define VA_BIT60 0x40013000	   /* l0[19]: reserved bit 60 */
#define VA_IO 0x40014000	   /* l0[20]: PBMT = IO */
#define VA_PTR_PBMT 0x40200000	   /* l1[1]: a pointer PTE with PBMT = NC */
#define VA_PTR_N 0x40400000	   /* l1[2]: a pointer PTE with N */
#define PTE_N (1 << 63)
#define PTE_PBMT_NC (1 << 61)
#define PTE_PBMT_IO (2 << 61)
#define PTE_PBMT_3 (3 << 61)
#define PTE_BIT60 (1 << 60)
#define MENVCFG_PBMTE (1 << 62)
#define LEAF_RW (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define PLAIN_VALUE 0x7070aaaa0707bbbb

/* t0 = a PTE for the physical address in pa with flags (a register: they may not fit an
 * immediate); clobbers t0 only. */
#define MAKE_PTE(pa, flags)                                                                        \
	srli t0, pa, 12;                                                                           \
	slli t0, t0, PTE_PPN_SHIFT;                                                                \
	or t0, t0, flags
/* table[index] = PTE for symbol sym with the flags in register fl (clobbers t0-t2). */
#define SET_PTE(table, index, sym, fl)                                                             \
	la t1, sym;                                                                                \
	MAKE_PTE(t1, fl);                                                                          \
	la t2, table + (index) * 8;                                                                \
	sd t0, 0(t2)

/* MPRV on at S privilege / off again (no memory access in between but the one meant). */
#define MPRV_S_ON                                                                                  \
	li t0, MSTATUS_MPP;                                                                        \
	csrc mstatus, t0;                                                                          \
	li t0, MSTATUS_MPP_S | MSTATUS_MPRV;                                                       \
	csrs mstatus, t0
#define MPRV_OFF                                                                                   \
	li t0, MSTATUS_MPRV;                                                                       \
	csrc mstatus, t0

/* dst = the doubleword at the virtual address in va (at S privilege). */
#define LOAD_S(dst, va)                                                                            \
	MPRV_S_ON;                                                                                 \
	ld dst, 0(va);                                                                             \
	MPRV_OFF
/* A load at S privilege from va must be a load page fault with mtval = va. */
#define EXPECT_LOAD_PF(va)                                                                         \
	EXPECT_TRAP(19980f);                                                                       \
	MPRV_S_ON;                                                                                 \
	19981:;                                                                                    \
	ld a4, 0(va);                                                                              \
	MPRV_OFF;                                                                                  \
	FAIL_HERE();                                                                               \
	19980:;                                                                                    \
	MPRV_OFF; /* an mret to M-mode keeps MPRV */                                               \
	CHECK_TRAP_CAUSE(CAUSE_LOAD_PAGE_FAULT);                                                   \
	CHECK_TRAP_EPC(19981b);                                                                    \
	TRAP_FIELD(TI_TVAL);                                                                       \
	CHECK_REG(t5, va)

/* The same, where a reference machine is known to translate instead: then a deviation line
 * with the text why (see common.h) rather than a failure. */
#define EXPECT_LOAD_PF_OR(va, why)                                                                 \
	EXPECT_TRAP(19982f);                                                                       \
	MPRV_S_ON;                                                                                 \
	19983:;                                                                                    \
	ld a4, 0(va);                                                                              \
	MPRV_OFF;                                                                                  \
	EXPECT_NO_TRAP();                                                                          \
	SAY("deviation: " why);                                                                    \
	j 19984f;                                                                                  \
	19982:;                                                                                    \
	MPRV_OFF;                                                                                  \
	CHECK_TRAP_CAUSE(CAUSE_LOAD_PAGE_FAULT);                                                   \
	CHECK_TRAP_EPC(19983b);                                                                    \
	TRAP_FIELD(TI_TVAL);                                                                       \
	CHECK_REG(t5, va);                                                                         \
	19984:

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call build
	csrw menvcfg, zero
	la t0, root
	srli t0, t0, 12
	li t1, SATP_MODE_SV39 << SATP_MODE_SHIFT
	or t0, t0, t1
	csrw satp, t0
	sfence.vma

	/* ---- Svnapot ---- */
	li s1, VA_NAPOT
	li s2, 0x1000 /* the marker of page 0 */
	li s3, 16
1:	LOAD_S(a4, s1)
	CHECK_REG(a4, s2)
	li t0, 4096
	add s1, s1, t0
	addi s2, s2, 1
	addi s3, s3, -1
	bnez s3, 1b
	/* A store through page 5 lands in physical page 5. */
	li s1, VA_NAPOT + 5 * 4096 + 8
	li a5, 0x5a5a5a5a
	MPRV_S_ON
	sd a5, 0(s1)
	MPRV_OFF
	la t1, napot_data + 5 * 4096 + 8
	ld a4, 0(t1)
	CHECK_REG(a4, a5)
	SAY("napot: 16 pages of 64 KiB, each its own")
	li s1, VA_BAD_NAPOT
	EXPECT_LOAD_PF(s1)
	li s1, VA_PTR_N
	EXPECT_LOAD_PF(s1)
	SAY("napot: reserved encodings fault")

	/* ---- Svpbmt ---- */
	li s1, VA_NC
	/* PBMTE = 0: as if Svpbmt were not there, its bits reserved */
	EXPECT_LOAD_PF_OR(s1, "a PBMT type translates with menvcfg.PBMTE = 0")
	li t0, MENVCFG_PBMTE
	csrs menvcfg, t0
	csrr t1, menvcfg
	and t1, t1, t0
	CHECK_REG(t1, t0)
	sfence.vma
	LOAD_S(a4, s1)
	li a5, PLAIN_VALUE
	CHECK_REG(a4, a5)
	li s1, VA_IO
	LOAD_S(a4, s1)
	CHECK_REG(a4, a5)
	SAY("pbmt: NC and IO pages with PBMTE")
	li s1, VA_PBMT3
	EXPECT_LOAD_PF_OR(s1, "PBMT = 3 translates")
	li s1, VA_PTR_PBMT
	EXPECT_LOAD_PF_OR(s1, "a pointer PTE with PBMT translates")
	li s1, VA_BIT60
	EXPECT_LOAD_PF_OR(s1, "reserved bit 60 translates")
	SAY("pbmt: reserved encodings fault")

	csrw satp, zero
	csrw menvcfg, zero
	sfence.vma
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* The page tables and the marked pages. */
build:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* (the tables are in .bss, zeroed at start) Page k of napot_data starts with 0x1000 + k. */
	la t1, napot_data
	li t2, 0x1000
	li t3, 16
1:	sd t2, 0(t1)
	li t0, 4096
	add t1, t1, t0
	addi t2, t2, 1
	addi t3, t3, -1
	bnez t3, 1b
	la t1, plain_page
	li t2, PLAIN_VALUE
	sd t2, 0(t1)

	li s4, PTE_V
	SET_PTE(root, 1, l1, s4)
	SET_PTE(l1, 0, l0, s4)
	li s4, PTE_V | PTE_PBMT_NC
	SET_PTE(l1, 1, l0_spare, s4)
	li s4, PTE_V | PTE_N
	SET_PTE(l1, 2, l0_spare, s4)
	/* The NAPOT PTE: napot_data's PPN with its low 4 bits 1000, in all 16 slots. */
	la t1, napot_data
	srli t1, t1, 12
	ori t1, t1, 8
	slli t1, t1, PTE_PPN_SHIFT
	li t0, PTE_N | LEAF_RW
	or t1, t1, t0
	la t2, l0
	li t3, 16
2:	sd t1, 0(t2)
	addi t2, t2, 8
	addi t3, t3, -1
	bnez t3, 2b
	/* N with PPN[3:0] = 0000. */
	li s4, PTE_N | LEAF_RW
	SET_PTE(l0, 16, napot_data, s4)
	li s4, PTE_PBMT_NC | LEAF_RW
	SET_PTE(l0, 17, plain_page, s4)
	li s4, PTE_PBMT_3 | LEAF_RW
	SET_PTE(l0, 18, plain_page, s4)
	li s4, PTE_BIT60 | LEAF_RW
	SET_PTE(l0, 19, plain_page, s4)
	li s4, PTE_PBMT_IO | LEAF_RW
	SET_PTE(l0, 20, plain_page, s4)
	/* What the faulting pointers point at: a good leaf, so that only the pointer is wrong. */
	li s4, LEAF_RW
	SET_PTE(l0_spare, 0, plain_page, s4)
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

	.bss
	.balign 4096
root:
	.skip 4096
l1:
	.skip 4096
l0:
	.skip 4096
l0_spare:
	.skip 4096
plain_page:
	.skip 4096
	.balign 65536
napot_data:
	.skip 65536
