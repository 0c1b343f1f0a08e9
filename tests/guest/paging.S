/* Virtual memory (privileged spec 4.3-4.6): Sv39, Sv48 and Sv57 (each skipped if satp does not
 * accept its mode), with one set of page tables: an identity map of the program in 4 KiB pages,
 * MMIO in a 1 GiB page, 2 MiB and 1 GiB pages, 512 GiB / 256 TiB pages in Sv48 / Sv57, a
 * negative (higher-half) address, and a remapped region whose pages each test one rule: R/W/X
 * permissions, MXR, U with SUM, fetch from U pages, invalid and reserved encodings, a pointer
 * at the last level, misaligned superpages, non-canonical addresses, A and D (set by hardware,
 * or a page fault after which software sets them), sfence.vma after a PTE change, page faults
 * delegated to S, U-mode accesses, and MPRV. Each fault's cause, epc and tval are checked. */
#include "common.h"

DEFINE_TEST("paging")

/* Virtual addresses (all modes). */
#define REMAP_BASE 0x80400000 /* L1[2]: the 4 KiB pages of l0_remap */
#define REMAP_RW (REMAP_BASE + 0x0000)	  /* page_a, RW */
#define REMAP_RO (REMAP_BASE + 0x1000)	  /* page_a, R */
#define REMAP_XO (REMAP_BASE + 0x2000)	  /* page_a, X only */
#define REMAP_U (REMAP_BASE + 0x3000)	  /* page_a, U RW */
#define REMAP_INV (REMAP_BASE + 0x4000)	  /* V = 0 */
#define REMAP_NOA (REMAP_BASE + 0x5000)	  /* page_b, RW, A = 0, D = 0 */
#define REMAP_NOD (REMAP_BASE + 0x6000)	  /* page_b, RW, A = 1, D = 0 */
#define REMAP_UCODE (REMAP_BASE + 0x7000) /* user_page, U RX */
#define REMAP_NX (REMAP_BASE + 0x8000)	  /* page_c, RW, not executable */
#define REMAP_WO (REMAP_BASE + 0x9000)	  /* page_a, W without R: reserved */
#define REMAP_SCODE (REMAP_BASE + 0xa000) /* user_page, RX, not U */
#define REMAP_L0PTR (REMAP_BASE + 0xb000) /* a pointer PTE at level 0 */
#define MEGA_VA 0x80200000		  /* 2 MiB page, identity, RW */
#define MISALIGNED_MEGA_VA 0x80600000	  /* 2 MiB leaf with a PPN not 2 MiB aligned */
#define GIGA_VA 0xc0000000		  /* 1 GiB page -> 0x80000000 */
#define MISALIGNED_GIGA_VA 0x100000000	  /* 1 GiB leaf -> 0x80200000: misaligned */
#define HI_VA 0xffffffc000000000	  /* 1 GiB page -> 0x80000000 (root index 256) */
#define TERA_VA 0x8000000000		  /* Sv48/57: 512 GiB page -> 0 */
#define PETA_VA 0x1000000000000		  /* Sv57: 256 TiB page -> 0 */

#define PAGE_A_VALUE 0x1111aaaa2222aaaa
#define PAGE_B_VALUE 0x3333bbbb4444bbbb
#define MEGA_VALUE 0x5555cccc6666cccc
#define RET_INSN 0x00008067

#define LEAF_RW (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define LEAF_RWX (LEAF_RW | PTE_X)

/* t0 = a PTE for physical address in register pa with flags (clobbers t0 only). */
#define MAKE_PTE(pa, flags)                                                                        \
	srli t0, pa, 12;                                                                           \
	slli t0, t0, PTE_PPN_SHIFT;                                                                \
	ori t0, t0, flags
/* table[index] = PTE for the physical address of symbol sym (clobbers t0, t1, t2). */
#define SET_PTE_SYM(table, index, sym, flags)                                                      \
	la t1, sym;                                                                                \
	MAKE_PTE(t1, flags);                                                                       \
	la t2, table + (index) * 8;                                                                \
	sd t0, 0(t2)
/* table[index] = PTE for the constant physical address pa. */
#define SET_PTE_PA(table, index, pa, flags)                                                        \
	li t1, pa;                                                                                 \
	MAKE_PTE(t1, flags);                                                                       \
	la t2, table + (index) * 8;                                                                \
	sd t0, 0(t2)

/* Run insn (a load or store through va_reg); it must raise cause with mtval = va_reg. */
#define EXPECT_FAULT(cause, va_reg, ...)                                                           \
	EXPECT_TRAP(19970f);                                                                       \
	19971:;                                                                                    \
	__VA_ARGS__;                                                                               \
	FAIL_HERE();                                                                               \
	19970:;                                                                                    \
	CHECK_TRAP_CAUSE(cause);                                                                   \
	CHECK_TRAP_EPC(19971b);                                                                    \
	TRAP_FIELD(TI_TVAL);                                                                       \
	CHECK_REG(t5, va_reg)
/* Jump to va_reg; the fetch must raise an instruction page fault with mepc = mtval = va_reg. */
#define EXPECT_FETCH_FAULT(va_reg)                                                                 \
	EXPECT_TRAP(19972f);                                                                       \
	jalr ra, 0(va_reg);                                                                        \
	FAIL_HERE();                                                                               \
	19972:;                                                                                    \
	CHECK_TRAP_CAUSE(CAUSE_FETCH_PAGE_FAULT);                                                  \
	TRAP_FIELD(TI_EPC);                                                                        \
	CHECK_REG(t5, va_reg);                                                                     \
	TRAP_FIELD(TI_TVAL);                                                                       \
	CHECK_REG(t5, va_reg)

/* reg = the address of symbol sym (in user_page) seen through the mapping at base. */
#define ALIAS(reg, base, sym)                                                                      \
	la reg, sym;                                                                               \
	la t0, user_page;                                                                          \
	sub reg, reg, t0;                                                                          \
	li t0, base;                                                                               \
	add reg, reg, t0

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call satp_warl
	li s10, SATP_MODE_SV39
1:	call one_mode
	addi s10, s10, 1
	li t0, SATP_MODE_SV57
	ble s10, t0, 1b
	/* how A and D were handled is the machine's choice: a note, not compared */
	PUTS("# A/D bits: ")
	la t0, ad_faults
	ld a0, 0(t0)
	call uart_putdec
	PUTS(" page faults (0: updated by hardware)\n")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* satp is WARL: a write with an unsupported MODE has no effect at all (spec 4.1.11). */
satp_warl:
	csrw satp, zero
	li t0, 7 << SATP_MODE_SHIFT | 0x1234
	csrw satp, t0
	CHECK_CSR(satp, 0)
	ret

/* One paging mode (s10): probe it, build the tables, run the S, U and M checks. */
one_mode:
	addi sp, sp, -16
	sd ra, 8(sp)
	slli t0, s10, SATP_MODE_SHIFT
	csrw satp, t0
	csrr t1, satp
	csrw satp, zero
	beq t0, t1, 1f
	li t0, SATP_MODE_SV39
	bne s10, t0, 2f
	FAIL_HERE() /* Sv39 is required: the board advertises S-mode with paging */
2:	la a0, mode_names
	addi t0, s10, -SATP_MODE_SV39
	slli t0, t0, 3
	add a0, a0, t0
	call uart_puts_prefixed
	PUTS(" not supported (skipped)\n")
	j 9f
1:	call build_tables
	/* satp = MODE | PPN of the root for this mode */
	la t1, root39
	li t0, SATP_MODE_SV48
	bne s10, t0, 3f
	la t1, root48
3:	li t0, SATP_MODE_SV57
	bne s10, t0, 4f
	la t1, root57
4:	srli t1, t1, 12
	slli t0, s10, SATP_MODE_SHIFT
	or t0, t0, t1
	csrw satp, t0
	csrr t1, satp
	CHECK_REG(t1, t0)
	sfence.vma

	MRET_TO(PRV_S, s_checks)
s_checks_done:
	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	call delegated_fault
	call user_checks
	call mprv_checks
	csrw satp, zero
	sfence.vma
	la a0, mode_names
	addi t0, s10, -SATP_MODE_SV39
	slli t0, t0, 3
	add a0, a0, t0
	call uart_puts_prefixed
	PUTS(" ok\n")
9:	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Print "<test name>: " then the string at a0. */
uart_puts_prefixed:
	addi sp, sp, -16
	sd ra, 8(sp)
	sd a0, 0(sp)
	la a0, test_name
	call uart_puts
	PUTS(": ")
	ld a0, 0(sp)
	call uart_puts
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Page tables and page contents, rebuilt for each mode (A and D bits change). */
build_tables:
	addi sp, sp, -16
	sd ra, 8(sp)
	la a0, root39
	li a1, 6 * 4096 /* root39, root48, root57, l1, l0_low, l0_remap */
	call zero_range
	/* root39: MMIO gigapage, the 2 GiB region's L1 table, gigapages, higher half */
	SET_PTE_PA(root39, 0, 0, LEAF_RW)
	SET_PTE_SYM(root39, 2, l1, PTE_V)
	SET_PTE_PA(root39, 3, 0x80000000, LEAF_RW)
	SET_PTE_PA(root39, 4, 0x80200000, LEAF_RW)
	SET_PTE_PA(root39, 256, 0x80000000, LEAF_RW)
	/* l1: the program in 4 KiB pages, a megapage, the remapped pages, a misaligned megapage */
	SET_PTE_SYM(l1, 0, l0_low, PTE_V)
	SET_PTE_PA(l1, 1, 0x80200000, LEAF_RW)
	SET_PTE_SYM(l1, 2, l0_remap, PTE_V)
	SET_PTE_PA(l1, 3, 0x80201000, LEAF_RW)
	/* l0_low: identity, RWX */
	la t2, l0_low
	li t1, 0x80000000
	li t3, 512
1:	MAKE_PTE(t1, LEAF_RWX)
	sd t0, 0(t2)
	addi t2, t2, 8
	li t0, 4096
	add t1, t1, t0
	addi t3, t3, -1
	bnez t3, 1b
	/* l0_remap */
	SET_PTE_SYM(l0_remap, 0, page_a, LEAF_RW)
	SET_PTE_SYM(l0_remap, 1, page_a, PTE_V | PTE_R | PTE_A)
	SET_PTE_SYM(l0_remap, 2, page_a, PTE_V | PTE_X | PTE_A)
	SET_PTE_SYM(l0_remap, 3, page_a, LEAF_RW | PTE_U)
	SET_PTE_SYM(l0_remap, 4, page_a, LEAF_RW & ~PTE_V)
	SET_PTE_SYM(l0_remap, 5, page_b, PTE_V | PTE_R | PTE_W)
	SET_PTE_SYM(l0_remap, 6, page_b, PTE_V | PTE_R | PTE_W | PTE_A)
	SET_PTE_SYM(l0_remap, 7, user_page, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A)
	SET_PTE_SYM(l0_remap, 8, page_c, LEAF_RW)
	SET_PTE_SYM(l0_remap, 9, page_a, PTE_V | PTE_W | PTE_A | PTE_D)
	SET_PTE_SYM(l0_remap, 10, user_page, PTE_V | PTE_R | PTE_X | PTE_A)
	SET_PTE_SYM(l0_remap, 11, page_a, PTE_V)
	/* root48 / root57: the lower tables at index 0, the top of the address space at 511, and a
	 * 512 GiB / 256 TiB page of the physical space from 0 at index 1 */
	SET_PTE_SYM(root48, 0, root39, PTE_V)
	SET_PTE_SYM(root48, 511, root39, PTE_V)
	SET_PTE_PA(root48, 1, 0, LEAF_RW)
	SET_PTE_SYM(root57, 0, root48, PTE_V)
	SET_PTE_SYM(root57, 511, root48, PTE_V)
	SET_PTE_PA(root57, 1, 0, LEAF_RW)
	/* contents */
	la t0, page_a
	li t1, PAGE_A_VALUE
	sd t1, 0(t0)
	la t0, page_b
	li t1, PAGE_B_VALUE
	sd t1, 0(t0)
	la t0, page_c
	li t1, RET_INSN
	sw t1, 0(t0)
	li t0, MEGA_VA + 0x1000
	li t1, MEGA_VALUE
	sd t1, 0(t0)
	fence.i
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Zero a1 bytes (a multiple of 8) from a0. */
zero_range:
	add a1, a1, a0
1:	sd zero, 0(a0)
	addi a0, a0, 8
	bltu a0, a1, 1b
	ret

/* ---- S-mode, with paging on ---- */
s_checks:
	/* identity-mapped data */
	la s0, page_a
	ld s1, 0(s0)
	CHECK(s1, PAGE_A_VALUE)
	/* remapped 4 KiB page: loads and stores reach page_a */
	li s2, REMAP_RW
	ld s1, 0(s2)
	CHECK(s1, PAGE_A_VALUE)
	li t1, 0x0123456789abcdef
	sd t1, 8(s2)
	ld s1, 8(s0)
	CHECK(s1, 0x0123456789abcdef)
	/* megapage and gigapages */
	li s2, MEGA_VA + 0x1000
	ld s1, 0(s2)
	CHECK(s1, MEGA_VALUE)
	li t1, GIGA_VA - 0x80000000
	add s2, s0, t1
	ld s1, 0(s2)
	CHECK(s1, PAGE_A_VALUE)
	li t1, HI_VA - 0x80000000
	add s2, s0, t1
	ld s1, 0(s2)
	CHECK(s1, PAGE_A_VALUE)
	/* the 512 GiB page exists from Sv48 on; in Sv39 its address is not canonical */
	li s2, TERA_VA
	add s2, s2, s0
	li t0, SATP_MODE_SV39
	bne s10, t0, 1f
	EXPECT_FAULT(CAUSE_LOAD_PAGE_FAULT, s2, ld s1, 0(s2))
	j 2f
1:	ld s1, 0(s2)
	CHECK(s1, PAGE_A_VALUE)
2:	li s2, PETA_VA
	add s2, s2, s0
	li t0, SATP_MODE_SV57
	beq s10, t0, 3f
	EXPECT_FAULT(CAUSE_STORE_PAGE_FAULT, s2, sd zero, 0(s2))
	j 4f
3:	ld s1, 0(s2)
	CHECK(s1, PAGE_A_VALUE)
4:
	/* misaligned superpages */
	li s2, MISALIGNED_MEGA_VA
	EXPECT_FAULT(CAUSE_LOAD_PAGE_FAULT, s2, ld s1, 0(s2))
	li s2, MISALIGNED_GIGA_VA + 8
	EXPECT_FAULT(CAUSE_LOAD_PAGE_FAULT, s2, ld s1, 0(s2))
	/* read-only page */
	li s2, REMAP_RO
	ld s1, 0(s2)
	CHECK(s1, PAGE_A_VALUE)
	EXPECT_FAULT(CAUSE_STORE_PAGE_FAULT, s2, sd zero, 0(s2))
	/* execute-only page: readable only with MXR */
	li s2, REMAP_XO + 16
	EXPECT_FAULT(CAUSE_LOAD_PAGE_FAULT, s2, ld s1, 0(s2))
	li t0, MSTATUS_MXR
	csrs sstatus, t0
	ld s1, -16(s2)
	CHECK(s1, PAGE_A_VALUE)
	EXPECT_FAULT(CAUSE_STORE_PAGE_FAULT, s2, sd zero, 0(s2))
	li t0, MSTATUS_MXR
	csrc sstatus, t0
	/* U page: S may access it only with SUM, and never execute from it */
	li s2, REMAP_U
	EXPECT_FAULT(CAUSE_LOAD_PAGE_FAULT, s2, ld s1, 0(s2))
	EXPECT_FAULT(CAUSE_STORE_PAGE_FAULT, s2, sd zero, 0(s2))
	li t0, MSTATUS_SUM
	csrs sstatus, t0
	ld s1, 0(s2)
	CHECK(s1, PAGE_A_VALUE)
	li s2, REMAP_UCODE
	EXPECT_FETCH_FAULT(s2)
	li t0, MSTATUS_SUM
	csrc sstatus, t0
	/* invalid, reserved (W without R), pointer at the last level */
	li s2, REMAP_INV + 0x10
	EXPECT_FAULT(CAUSE_LOAD_PAGE_FAULT, s2, lw s1, 0(s2))
	EXPECT_FAULT(CAUSE_STORE_PAGE_FAULT, s2, sw zero, 0(s2))
	EXPECT_FETCH_FAULT(s2)
	li s2, REMAP_WO
	EXPECT_FAULT(CAUSE_LOAD_PAGE_FAULT, s2, ld s1, 0(s2))
	EXPECT_FAULT(CAUSE_STORE_PAGE_FAULT, s2, sd zero, 0(s2))
	li s2, REMAP_L0PTR
	EXPECT_FAULT(CAUSE_LOAD_PAGE_FAULT, s2, ld s1, 0(s2))
	/* fetch: not from a non-executable page; yes from an executable remapped one */
	li s2, REMAP_NX
	EXPECT_FETCH_FAULT(s2)
	ALIAS(s2, REMAP_SCODE, s_remote)
	li a0, 0
	jalr ra, 0(s2)
	CHECK(a0, 0x5c0de)
	/* A and D */
	call ad_bits
	/* sfence.vma after changing a PTE: REMAP_RW now maps page_b, then page_a again */
	li s2, REMAP_RW
	ld s1, 0(s2)
	CHECK(s1, PAGE_A_VALUE)
	la t1, page_b
	MAKE_PTE(t1, LEAF_RW)
	la t2, l0_remap
	sd t0, 0(t2)
	sfence.vma zero, zero
	ld s1, 0(s2)
	CHECK(s1, PAGE_B_VALUE)
	la t1, page_a
	MAKE_PTE(t1, LEAF_RW)
	sd t0, 0(t2)
	sfence.vma s2, zero
	ld s1, 0(s2)
	CHECK(s1, PAGE_A_VALUE)
	/* and after removing it */
	sd zero, 0(t2)
	sfence.vma s2
	EXPECT_FAULT(CAUSE_LOAD_PAGE_FAULT, s2, ld s1, 0(s2))
	la t1, page_a
	MAKE_PTE(t1, LEAF_RW)
	sd t0, 0(t2)
	sfence.vma
	EXPECT_TRAP_M(s_checks_done)
	li a7, 0 /* a plain ecall, not a service request */
	ecall

/* A = 0: an access either sets A (hardware) or page-faults (the hook sets A and retries).
 * D = 0: the same for a store and D. A load never sets D. */
ad_bits:
	mv s4, ra
	SET_HOOK(ad_hook)
	li s2, REMAP_NOA
	ld s1, 0(s2)
	CHECK(s1, PAGE_B_VALUE)
	la t2, l0_remap
	ld t1, 5 * 8(t2)
	andi t0, t1, PTE_A
	CHECK(t0, PTE_A)
	andi t0, t1, PTE_D
	CHECK(t0, 0)
	li s2, REMAP_NOD
	li t1, 0x77
	sd t1, 16(s2)
	la t2, page_b
	ld s1, 16(t2)
	CHECK(s1, 0x77)
	la t2, l0_remap
	ld t1, 6 * 8(t2)
	andi t0, t1, PTE_A | PTE_D
	CHECK(t0, PTE_A | PTE_D)
	CLEAR_HOOK()
	mv ra, s4
	ret

/* M-mode hook: a page fault on REMAP_NOA / REMAP_NOD sets A (and D for a store) in the PTE. */
ad_hook:
	srli t1, a2, 12
	slli t1, t1, 12
	li t0, REMAP_NOA
	beq t1, t0, 1f
	li t0, REMAP_NOD
	beq t1, t0, 1f
	li a0, 1
	ret
1:	li t0, CAUSE_LOAD_PAGE_FAULT
	li t2, PTE_A
	beq a0, t0, 2f
	li t0, CAUSE_STORE_PAGE_FAULT
	li t2, PTE_A | PTE_D
	beq a0, t0, 2f
	li a0, 1
	ret
2:	li t0, REMAP_BASE
	sub t1, t1, t0
	srli t1, t1, 9 /* page index * 8 */
	la t0, l0_remap
	add t1, t1, t0
	ld t0, 0(t1)
	or t0, t0, t2
	sd t0, 0(t1)
	sfence.vma
	la t1, ad_faults
	ld t0, 0(t1)
	addi t0, t0, 1
	sd t0, 0(t1)
	li a0, 0
	ret

/* ---- M-mode checks with paging on ---- */

/* Page faults delegated to S: taken by the S-mode handler with scause/sepc/stval. */
delegated_fault:
	addi sp, sp, -16
	sd ra, 8(sp)
	li t0, (1 << CAUSE_LOAD_PAGE_FAULT) | (1 << CAUSE_STORE_PAGE_FAULT) |                      \
		(1 << CAUSE_FETCH_PAGE_FAULT)
	csrw medeleg, t0
	EXPECT_TRAP_M(2f)
	MRET_TO(PRV_S, s_delegated)
s_delegated:
	li s2, REMAP_INV
	EXPECT_STRAP_S(1f)
s_delegated_load:
	ld s1, 0(s2)
	FAIL_HERE()
1:	CHECK_STRAP_CAUSE(CAUSE_LOAD_PAGE_FAULT)
	CHECK_STRAP_EPC(s_delegated_load)
	STRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s2)
	csrr t0, stval
	CHECK_REG(t0, s2)
	li a7, 0
	ecall
2:	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	csrw medeleg, zero
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* U-mode code runs from user_page through REMAP_UCODE. */
user_checks:
	addi sp, sp, -16
	sd ra, 8(sp)
	/* a U page: load and store */
	li a0, REMAP_U
	EXPECT_TRAP_M(1f)
	ALIAS(t1, REMAP_UCODE, u_load)
	csrw mepc, t1
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	mret
1:	CHECK_TRAP_CAUSE(CAUSE_USER_ECALL)
	CHECK(a1, PAGE_A_VALUE)
	li a0, REMAP_U + 24
	li a2, 0x4242
	EXPECT_TRAP_M(2f)
	ALIAS(t1, REMAP_UCODE, u_store)
	csrw mepc, t1
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	mret
2:	CHECK_TRAP_CAUSE(CAUSE_USER_ECALL)
	la t0, page_a
	ld t1, 24(t0)
	CHECK(t1, 0x4242)
	/* a supervisor page: U cannot load from it */
	li a0, REMAP_RW + 8
	EXPECT_TRAP_M(3f)
	ALIAS(s3, REMAP_UCODE, u_load)
	csrw mepc, s3
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	mret
3:	CHECK_TRAP_CAUSE(CAUSE_LOAD_PAGE_FAULT)
	CHECK_TRAP_PRIV(PRV_U)
	TRAP_FIELD(TI_EPC)
	CHECK_REG(t5, s3)
	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, a0)
	/* nor execute from it */
	EXPECT_TRAP_M(4f)
	ALIAS(s3, REMAP_SCODE, s_remote)
	csrw mepc, s3
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	mret
4:	CHECK_TRAP_CAUSE(CAUSE_FETCH_PAGE_FAULT)
	TRAP_FIELD(TI_EPC)
	CHECK_REG(t5, s3)
	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s3)
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* MPRV: M-mode loads and stores translated with the privilege in MPP. */
mprv_checks:
	li s2, REMAP_RW
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, MSTATUS_MPP_S | MSTATUS_MPRV
	csrs mstatus, t0
	ld s1, 0(s2)
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	CHECK(s1, PAGE_A_VALUE)
	/* with MPP = U, a supervisor page faults; the trap is taken in M-mode */
	EXPECT_TRAP(1f)
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, MSTATUS_MPRV
	csrs mstatus, t0
mprv_load:
	ld s1, 0(s2)
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	FAIL_HERE()
1:	li t0, MSTATUS_MPRV /* still set: mret to M-mode keeps it */
	csrc mstatus, t0
	CHECK_TRAP_CAUSE(CAUSE_LOAD_PAGE_FAULT)
	CHECK_TRAP_PRIV(PRV_M)
	CHECK_TRAP_EPC(mprv_load)
	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s2)
	ret

	.section .rodata
	.balign 8
mode_names:
	.asciz "sv39"
	.balign 8
	.asciz "sv48"
	.balign 8
	.asciz "sv57"

/* Code reached only through other mappings: position-independent, no checks. */
	.section .text.user, "ax"
	.balign 4096
user_page:
/* a1 = *a0, then ecall */
u_load:
	ld a1, 0(a0)
	ecall
/* *a0 = a2, then ecall */
u_store:
	sd a2, 0(a0)
	ecall
/* Called from S through REMAP_SCODE. */
s_remote:
	li a0, 0x5c0de
	ret

	.data
	.balign 8
ad_faults:
	.dword 0

	.bss
	.balign 4096
root39:
	.zero 4096
root48:
	.zero 4096
root57:
	.zero 4096
l1:
	.zero 4096
l0_low:
	.zero 4096
l0_remap:
	.zero 4096
page_a:
	.zero 4096
page_b:
	.zero 4096
page_c:
	.zero 4096
