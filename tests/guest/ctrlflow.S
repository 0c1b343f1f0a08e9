/* Control flow to places code cannot run from, and jumps to unusual targets. Each fault is
 * checked for its cause, mepc and mtval (privileged spec 3.1.15-3.1.16, 4.3.2): a jump into
 * the UART's registers (instruction access fault: device memory is not executable), into a
 * hole of the physical address space and straight-line execution off the end of RAM (access
 * faults); under Sv39 a jump into an invalid
 * page and into a page without X, execution falling through the end of an executable page into
 * such pages, a 32-bit instruction whose first half is the last halfword of an executable page
 * (instruction page fault: mepc = the instruction, mtval = the start of the next page, the part
 * that faulted), a compressed instruction in that halfword (it runs; the fault is at the next
 * page), such instructions completing once the next page is mapped to a page that does not
 * follow in physical memory, among them the branch of a hot loop (under a 2 s watchdog), a page mapping the UART with X (access fault at the virtual address), code that
 * takes X away from its own page (PTE store, sfence.vma: its next fetch faults); jalr to odd
 * targets (bit 0 of the target is cleared: unprivileged spec 2.5), and a jump into the middle
 * of a 32-bit instruction whose upper half is itself a compressed instruction. */
#include "common.h"

DEFINE_TEST("ctrlflow")

#define RAM_END (RAM_BASE + 64 * 1024 * 1024) /* run with --mem 64M */
#define HOLE 0x08000000			      /* nothing here on either board */

/* Encodings (unprivileged spec listings). a0 = x10. */
#define ADDI_A0_1 0x00150513 /* addi a0, a0, 1 */
#define ADDI_A0_1_LO 0x0513  /* its first halfword */
#define C_ADDI_A0_1 0x0505   /* c.addi a0, 1 */
#define ADDI_A0_2 0x00250513 /* addi a0, a0, 2 */
#define C_ADDI_A1_M1 0x15fd  /* c.addi a1, -1 */
#define BNE_A1_BACK4 0xfe059ee3 /* bne a1, zero, . - 4 */
#define BNE_A1_FWD 0x00059ee3	/* its first half with another second half: a forward branch */
#define RET 0x00008067
#define C_RET 0x8082
#define C_J_14 0xa039 /* c.j . + 14 */
/* addi a0, s10, 0x451: its upper halfword 0x451d is c.li a0, 7 */
#define ADDI_A0_S10_451 0x451d0513

/* Sv39 layout: root[0] MMIO gigapage (RW, no X), root[2] the RAM at its own address (RWX),
 * root[1] -> l1 -> l0 for these 4 KiB pages: */
#define VA_A 0x40000000	     /* page_a, RX */
#define VA_INVALID 0x40001000 /* V = 0 */
#define VA_B 0x40002000	     /* page_b, RX */
#define VA_NX 0x40003000     /* page_c, RW, not executable */
#define VA_UART_X 0x40004000 /* the UART's page, RWX: X is refused by the PMA */
#define VA_SELF 0x40005000   /* self_unmap_page, RX, until its own code takes X away */

#define LEAF (PTE_V | PTE_A | PTE_D)

#define MAKE_PTE(pa, flags)                                                                        \
	srli t0, pa, 12;                                                                           \
	slli t0, t0, PTE_PPN_SHIFT;                                                                \
	ori t0, t0, flags

/* Enter the code at register target with a0 = 0 (jalr, link in ra); the first fetch fault
 * must come with mcause = cause, mepc = register epc, mtval = register tval; a0 must then
 * be n (instructions that ran before the fault). */
#define EXPECT_FETCH(cause, target, epc, tval, n)                                                  \
	EXPECT_TRAP(19980f);                                                                       \
	li a0, 0;                                                                                  \
	jalr ra, 0(target);                                                                        \
	FAIL_HERE();                                                                               \
	19980:;                                                                                    \
	CHECK(a0, n);                                                                              \
	CHECK_TRAP_CAUSE(cause);                                                                   \
	TRAP_FIELD(TI_EPC);                                                                        \
	CHECK_REG(t5, epc);                                                                        \
	TRAP_FIELD(TI_TVAL);                                                                       \
	CHECK_REG(t5, tval)

/* The same for a jump to MMIO at register target: an instruction access fault. QEMU 7.2's
 * virt board executes device registers instead (the UART reads as 0x0000, an illegal
 * instruction); the platform's PMAs say whether a region is executable (privileged spec 3.6.2),
 * so that is accepted as a deviation line, which only the QEMU expected output holds. */
#define EXPECT_FETCH_MMIO(target, what)                                                            \
	EXPECT_TRAP(19981f);                                                                       \
	li a0, 0;                                                                                  \
	jalr ra, 0(target);                                                                        \
	FAIL_HERE();                                                                               \
	19981:;                                                                                    \
	CHECK(a0, 0);                                                                              \
	TRAP_FIELD(TI_EPC);                                                                        \
	CHECK_REG(t5, target);                                                                     \
	TRAP_FIELD(TI_CAUSE);                                                                      \
	li t6, CAUSE_ILLEGAL_INSTRUCTION;                                                          \
	bne t5, t6, 19982f;                                                                        \
	SAY("deviation: " what " ran the device's registers as code");                             \
	j 19983f;                                                                                  \
	19982:;                                                                                    \
	CHECK(t5, CAUSE_FETCH_ACCESS);                                                             \
	TRAP_FIELD(TI_TVAL);                                                                       \
	CHECK_REG(t5, target);                                                                     \
	19983:

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call mmio_and_holes
	SAY("jump into the UART, into a hole, off the end of RAM: access faults")
	call odd_targets
	SAY("jalr to odd targets, a jump into the middle of an instruction")
	call sv39
	SAY("sv39: invalid and non-executable pages, page-straddling instructions, X on MMIO")
	SAY("sv39: code taking X away from its own page faults at its next instruction")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* ---- M-mode, physical addresses ---- */
mmio_and_holes:
	mv s11, ra
	/* the UART's registers */
	li s2, UART_BASE
	EXPECT_FETCH_MMIO(s2, "a jump to the UART")
	/* a hole */
	li s2, HOLE + 0x40
	EXPECT_FETCH(CAUSE_FETCH_ACCESS, s2, s2, s2, 0)
	/* two instructions in the last 8 bytes of RAM, then off the end */
	li s2, RAM_END - 8
	li t0, ADDI_A0_1
	sw t0, 0(s2)
	sw t0, 4(s2)
	fence.i
	li s3, RAM_END
	EXPECT_FETCH(CAUSE_FETCH_ACCESS, s2, s3, s3, 2)
	/* Not here: a 32-bit instruction straddling the end of RAM. QEMU 7.2 aborts on it (an
	 * assertion in its translator), so the page-straddling rule is checked under Sv39 below. */
	mv ra, s11
	ret

/* jalr clears bit 0 of rs1 + imm; the link is the jalr's address + 4. */
odd_targets:
	mv s11, ra
	la s2, ret_seven
	li a0, 0
	jalr ra, 1(s2)
1:	CHECK(a0, 7)
	la t0, 1b
	CHECK_REG(ra, t0)
	addi s3, s2, 1
	li a0, 0
	jalr ra, 0(s3)
	CHECK(a0, 7)
	/* -1 + (target + 2): odd */
	addi s3, s2, 2
	li a0, 0
	jalr ra, -1(s3)
	CHECK(a0, 7)
	/* rd = rs1: the target comes from rs1 before the link is written */
	la t1, ret_seven_t1
	addi t1, t1, 1
	li a0, 0
	jalr t1, 0(t1)
2:	CHECK(a0, 7)
	la t0, 2b
	CHECK_REG(t1, t0)
	/* the same bytes entered at +0 (a 32-bit addi) and at +2 (its upper half, a c.li) */
	la s2, mid_insn
	li a0, 0
	li s10, 0x1000
	jalr ra, 0(s2)
	CHECK(a0, 0x1451)
	li a0, 0
	jalr ra, 2(s2)
	CHECK(a0, 7)
	addi s3, s2, 3 /* odd: +2 after clearing bit 0 */
	li a0, 0
	jalr ra, 0(s3)
	CHECK(a0, 7)
	mv ra, s11
	ret

	.balign 4
ret_seven:
	li a0, 7
	ret

/* the same, returning through t1 */
ret_seven_t1:
	li a0, 7
	jalr zero, 0(t1)

	.balign 4
mid_insn:
	.word ADDI_A0_S10_451
	.half C_RET
	.half 0

/* ---- Sv39, S-mode ---- */
sv39:
	addi sp, sp, -16
	sd ra, 8(sp)
	la t2, root
	li t1, 0
	MAKE_PTE(t1, LEAF | PTE_R | PTE_W)
	sd t0, 0(t2)
	la t1, l1
	MAKE_PTE(t1, PTE_V)
	sd t0, 8(t2)
	li t1, RAM_BASE
	MAKE_PTE(t1, LEAF | PTE_R | PTE_W | PTE_X)
	sd t0, 16(t2)
	la t1, l0
	MAKE_PTE(t1, PTE_V)
	la t2, l1
	sd t0, 0(t2)
	la t2, l0
	la t1, page_a
	MAKE_PTE(t1, LEAF | PTE_R | PTE_X)
	sd t0, 0(t2)
	la t1, page_b
	MAKE_PTE(t1, LEAF | PTE_R | PTE_X)
	sd t0, 16(t2)
	la t1, page_c
	MAKE_PTE(t1, LEAF | PTE_R | PTE_W)
	sd t0, 24(t2)
	li t1, UART_BASE
	MAKE_PTE(t1, LEAF | PTE_R | PTE_W | PTE_X)
	sd t0, 32(t2)
	la t1, self_unmap_page
	MAKE_PTE(t1, LEAF | PTE_R | PTE_X)
	sd t0, 40(t2)
	/* page_c holds a ret: if it ran, the fault checks would fail */
	la t1, page_c
	li t0, RET
	sw t0, 0(t1)
	fence.i
	la t0, root
	srli t0, t0, 12
	li t1, SATP_MODE_SV39 << SATP_MODE_SHIFT
	or t0, t0, t1
	csrw satp, t0
	sfence.vma
	SET_HOOK(watchdog_hook)
	li t0, CLINT_MTIMECMP /* no timer interrupt until the watchdog is armed */
	li t1, -1
	sd t1, 0(t0)
	li t0, MIP_MTIP
	csrw mie, t0
	MRET_TO(PRV_S, s_sv39)
s_sv39_done:
	csrw mie, zero
	CLEAR_HOOK()
	CHECK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
	csrw satp, zero
	sfence.vma
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* Hook: the watchdog (M timer interrupt) fails the test; other traps go on as usual. */
watchdog_hook:
	li t0, INTERRUPT_BIT | IRQ_M_TIMER
	bne a0, t0, 1f
	/* got: a1, the pc the loop was at */
	li a2, 0
	li a0, __LINE__
	j check_fail
1:	li a0, 1
	ret

/* Write the halfword h at physical address sym + off (through the identity gigapage). */
#define PUT16(sym, off, h)                                                                         \
	la t1, sym + (off);                                                                        \
	li t0, h;                                                                                  \
	sh t0, 0(t1)

s_sv39:
	/* jumps into an invalid page and a page without X */
	li s2, VA_INVALID + 0x10
	EXPECT_FETCH(CAUSE_FETCH_PAGE_FAULT, s2, s2, s2, 0)
	li s2, VA_NX
	EXPECT_FETCH(CAUSE_FETCH_PAGE_FAULT, s2, s2, s2, 0)
	/* MMIO through the identity gigapage, which has no X */
	li s2, UART_BASE
	EXPECT_FETCH(CAUSE_FETCH_PAGE_FAULT, s2, s2, s2, 0)
	/* MMIO through a page with X: the translation succeeds, the fetch is refused */
	li s2, VA_UART_X
	EXPECT_FETCH_MMIO(s2, "a jump to the UART through a page with X")

	/* two addi at the end of page_a, then on into the invalid page */
	PUT16(page_a, 0xff8, ADDI_A0_1 & 0xffff)
	PUT16(page_a, 0xffa, ADDI_A0_1 >> 16)
	PUT16(page_a, 0xffc, ADDI_A0_1 & 0xffff)
	PUT16(page_a, 0xffe, ADDI_A0_1 >> 16)
	fence.i
	li s2, VA_A + 0xff8
	li s3, VA_INVALID
	EXPECT_FETCH(CAUSE_FETCH_PAGE_FAULT, s2, s3, s3, 2)
	/* the same into the page without X */
	PUT16(page_b, 0xff8, ADDI_A0_1 & 0xffff)
	PUT16(page_b, 0xffa, ADDI_A0_1 >> 16)
	PUT16(page_b, 0xffc, ADDI_A0_1 & 0xffff)
	PUT16(page_b, 0xffe, ADDI_A0_1 >> 16)
	fence.i
	li s2, VA_B + 0xff8
	li s3, VA_NX
	EXPECT_FETCH(CAUSE_FETCH_PAGE_FAULT, s2, s3, s3, 2)

	/* rewritten: two c.addi, then the first half of a 32-bit addi in the last halfword;
	 * its second half would be on the invalid page */
	PUT16(page_a, 0xffa, C_ADDI_A0_1)
	PUT16(page_a, 0xffc, C_ADDI_A0_1)
	PUT16(page_a, 0xffe, ADDI_A0_1_LO)
	fence.i
	li s2, VA_A + 0xffa
	li s3, VA_A + 0xffe
	li s4, VA_INVALID
	EXPECT_FETCH(CAUSE_FETCH_PAGE_FAULT, s2, s3, s4, 2)
	/* entered at the straddling instruction itself */
	li s2, VA_A + 0xffe
	EXPECT_FETCH(CAUSE_FETCH_PAGE_FAULT, s2, s2, s4, 0)
	/* the same against the page without X */
	PUT16(page_b, 0xffc, C_ADDI_A0_1)
	PUT16(page_b, 0xffe, ADDI_A0_1_LO)
	fence.i
	li s2, VA_B + 0xffc
	li s3, VA_B + 0xffe
	li s4, VA_NX
	EXPECT_FETCH(CAUSE_FETCH_PAGE_FAULT, s2, s3, s4, 1)
	/* a compressed instruction in the last halfword runs; the fault is at the next page */
	PUT16(page_b, 0xffe, C_ADDI_A0_1)
	fence.i
	li s2, VA_B + 0xffc
	EXPECT_FETCH(CAUSE_FETCH_PAGE_FAULT, s2, s4, s4, 2)
	/* and page_a's straddling instruction completes once its second page is mapped: to
	 * page_d, not to page_b, which follows page_a in physical memory and holds other halves
	 * (addi a0, a0, 2 and a bne that would leave the loop below) */
	la t2, l0
	la t1, page_d
	MAKE_PTE(t1, LEAF | PTE_R | PTE_X)
	sd t0, 8(t2)
	sfence.vma
	PUT16(page_d, 0, ADDI_A0_1 >> 16)
	PUT16(page_d, 2, C_RET)
	PUT16(page_b, 0, ADDI_A0_2 >> 16)
	PUT16(page_b, 2, C_RET)
	fence.i
	li s2, VA_A + 0xffa
	li a0, 0
	jalr ra, 0(s2)
	CHECK(a0, 3)
	/* reached by a jump within page_a: from VA_A + 0xff0, c.j to the straddling addi */
	PUT16(page_a, 0xff0, C_J_14)
	fence.i
	li s2, VA_A + 0xff0
	li a0, 0
	jalr ra, 0(s2)
	CHECK(a0, 1)
	li s2, VA_A + 0xffa
	/* a hot loop whose branch straddles the two pages: c.addi a0, 1; c.addi a1, -1;
	 * bne a1, zero, back (its first half at VA_A + 0xffe); then c.ret on page_d */
	PUT16(page_a, 0xffa, C_ADDI_A0_1)
	PUT16(page_a, 0xffc, C_ADDI_A1_M1)
	PUT16(page_a, 0xffe, BNE_A1_BACK4 & 0xffff)
	PUT16(page_d, 0, BNE_A1_BACK4 >> 16)
	PUT16(page_d, 2, C_RET)
	PUT16(page_b, 0, BNE_A1_FWD >> 16)
	fence.i
	/* a machine that loses the branch loops without end: a watchdog interrupt fails the
	 * test after 2 s (M-mode interrupts are taken in S-mode whatever mstatus.MIE says) */
	li t0, CLINT_MTIME
	ld t1, 0(t0)
	li t0, 2 * TIMEBASE_HZ
	add t1, t1, t0
	li t0, CLINT_MTIMECMP
	sd t1, 0(t0)
	li a0, 0
	li a1, 1000
	jalr ra, 0(s2)
	li t0, CLINT_MTIMECMP
	li t1, -1
	sd t1, 0(t0)
	CHECK(a0, 1000)
	CHECK(a1, 0)
	sd zero, 8(t2)
	sfence.vma

	/* code that takes X away from its own page (PTE store, sfence.vma): the next fetch
	 * faults; with X left in the PTE it runs on to its ret */
	la t1, l0 + 40
	la t2, self_unmap_page
	MAKE_PTE(t2, LEAF | PTE_R)
	li s2, VA_SELF
	la s3, self_unmap_next
	la t3, self_unmap_page
	sub s3, s3, t3
	add s3, s3, s2
	/* QEMU 7.2 runs on to the ret: its sfence.vma does not end the translated block, so the
	 * instructions after it run as translated before (spec 4.2.1: after the fence only the
	 * new PTE may be used) */
	EXPECT_TRAP(3f)
	li a0, 0
	jalr ra, 0(s2)
	EXPECT_NO_TRAP()
	CHECK(a0, 1)
	SAY("deviation: code that took X from its own page ran on after sfence.vma")
	j 4f
3:	CHECK(a0, 0)
	CHECK_TRAP_CAUSE(CAUSE_FETCH_PAGE_FAULT)
	TRAP_FIELD(TI_EPC)
	CHECK_REG(t5, s3)
	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s3)
4:	la t1, l0 + 40
	la t2, self_unmap_page
	MAKE_PTE(t2, LEAF | PTE_R | PTE_X)
	sd t0, 0(t1)
	sfence.vma
	li a0, 0
	jalr ra, 0(s2)
	CHECK(a0, 1)
	EXPECT_TRAP_M(s_sv39_done)
	li a7, 0 /* a plain ecall back to M-mode */
	ecall

/* Run through VA_SELF with t0 = a PTE for this page and t1 = the address of its PTE. */
	.section .text.user, "ax"
	.balign 4096
self_unmap_page:
	sd t0, 0(t1)
	sfence.vma
self_unmap_next:
	addi a0, a0, 1
	ret

	.bss
	.balign 4096
root:
	.zero 4096
l1:
	.zero 4096
l0:
	.zero 4096
page_a:
	.zero 4096
page_b:
	.zero 4096
page_c:
	.zero 4096
page_d:
	.zero 4096
