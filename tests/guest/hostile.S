/* A hostile guest: the machine must survive it and keep its contract. Loads, stores and jumps
 * into holes of the physical address space (access faults with the address in mtval, priv
 * spec 3.1.16) and across the end of RAM; random words executed in U-mode inside a paged
 * sandbox, every run ending in a trap or the watchdog timer; random reads and writes of random
 * sizes to the UART, PLIC and CLINT registers; a write the test finisher must ignore; and a
 * 1 MiB flood of console output. It passes if it gets to the end. */
#include "common.h"

DEFINE_TEST("hostile")

#define RAM_END (RAM_BASE + 64 * 1024 * 1024) /* run with --mem 64M */
#define HOLE_LOW 0x0			      /* nothing at 0 on either board */
#define HOLE_MID 0x08000000		      /* between the CLINT and the PLIC */

#define FUZZ_RUNS 20000
#define MMIO_ACCESSES 20000
#define FLOOD_LINES 16384 /* of 64 bytes: 1 MiB */

/* xorshift64 step on register r (clobbers t6) */
#define XORSHIFT(r)                                                                                \
	slli t6, r, 13;                                                                            \
	xor r, r, t6;                                                                              \
	srli t6, r, 7;                                                                             \
	xor r, r, t6;                                                                              \
	slli t6, r, 17;                                                                            \
	xor r, r, t6

/* Run the access; it must raise cause with mtval = addr_reg. */
#define EXPECT_ACCESS_FAULT(cause, addr_reg, ...)                                                  \
	EXPECT_TRAP(19960f);                                                                       \
	19961:;                                                                                    \
	__VA_ARGS__;                                                                               \
	FAIL_HERE();                                                                               \
	19960:;                                                                                    \
	CHECK_TRAP_CAUSE(cause);                                                                   \
	CHECK_TRAP_EPC(19961b);                                                                    \
	TRAP_FIELD(TI_TVAL);                                                                       \
	CHECK_REG(t5, addr_reg)

	.text
	.globl test_main
test_main:
	addi sp, sp, -16
	sd ra, 8(sp)
	call holes
	SAY("access faults in holes and past the end of RAM")
	call fuzz
	SAY("random instructions in a U-mode sandbox")
	call mmio_storm
	SAY("random accesses to UART, PLIC and CLINT registers")
	call flood
	SAY("1 MiB of console output")
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* ---- holes ---- */

/* Every width of load and store at address s2 faults with mtval = s2. */
fault_all_widths:
	EXPECT_ACCESS_FAULT(CAUSE_LOAD_ACCESS, s2, lb s1, 0(s2))
	EXPECT_ACCESS_FAULT(CAUSE_LOAD_ACCESS, s2, lhu s1, 0(s2))
	EXPECT_ACCESS_FAULT(CAUSE_LOAD_ACCESS, s2, lw s1, 0(s2))
	EXPECT_ACCESS_FAULT(CAUSE_LOAD_ACCESS, s2, ld s1, 0(s2))
	EXPECT_ACCESS_FAULT(CAUSE_STORE_ACCESS, s2, sb s1, 0(s2))
	EXPECT_ACCESS_FAULT(CAUSE_STORE_ACCESS, s2, sh s1, 0(s2))
	EXPECT_ACCESS_FAULT(CAUSE_STORE_ACCESS, s2, sw s1, 0(s2))
	EXPECT_ACCESS_FAULT(CAUSE_STORE_ACCESS, s2, sd s1, 0(s2))
	EXPECT_ACCESS_FAULT(CAUSE_LOAD_ACCESS, s2, lr.d s1, (s2))
	/* an AMO: a store/AMO access fault (rv64a checks the cause strictly) or a load one */
	EXPECT_TRAP(1f)
	amoadd.w s1, s1, (s2)
	FAIL_HERE()
1:	TRAP_FIELD(TI_CAUSE)
	li t0, CAUSE_LOAD_ACCESS
	beq t5, t0, 2f
	CHECK(t5, CAUSE_STORE_ACCESS)
2:	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s2)
	ret

holes:
	addi sp, sp, -16
	sd ra, 8(sp)
	li s2, HOLE_LOW
	call fault_all_widths
	li s2, HOLE_MID
	call fault_all_widths
	li s2, RAM_END
	call fault_all_widths
	li s2, RAM_END + 0x100000
	call fault_all_widths
	/* the last doubleword of RAM is fine */
	li s2, RAM_END - 8
	ld s1, 0(s2)
	sd s1, 0(s2)
	/* a misaligned doubleword across the end of RAM: it must not succeed; the machine may call
	 * it misaligned or an access fault, at the start or at the first missing byte */
	li s2, RAM_END - 4
	EXPECT_TRAP(1f)
	ld s1, 0(s2)
	FAIL_HERE()
1:	TRAP_FIELD(TI_CAUSE)
	li t0, CAUSE_MISALIGNED_LOAD
	beq t5, t0, 2f
	CHECK(t5, CAUSE_LOAD_ACCESS)
2:	TRAP_FIELD(TI_TVAL)
	sltu t0, t5, s2
	CHECK(t0, 0)
	li t0, RAM_END
	sltu t0, t0, t5
	CHECK(t0, 0)
	/* jumps into holes: instruction access fault, mepc = mtval = the target */
	li s2, HOLE_MID
	call fetch_fault
	li s2, RAM_END
	call fetch_fault
	li s2, HOLE_LOW + 0x40
	call fetch_fault
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

fetch_fault:
	mv s3, ra
	EXPECT_TRAP(1f)
	jalr ra, 0(s2)
	FAIL_HERE()
1:	CHECK_TRAP_CAUSE(CAUSE_FETCH_ACCESS)
	TRAP_FIELD(TI_EPC)
	CHECK_REG(t5, s2)
	TRAP_FIELD(TI_TVAL)
	CHECK_REG(t5, s2)
	mv ra, s3
	ret

/* ---- random instructions in U-mode ----
 * The sandbox is two pages (code, data) mapped U RWX at their own addresses by Sv39 tables that
 * map nothing else, so U-mode can touch nothing of the test (PMP entry 0 of common.S gives U all
 * of memory: the page tables are the sandbox). Each
 * run starts at a random word with random registers (a few pointing into the sandbox); any
 * trap, or the watchdog timer, ends it in fuzz_vector, which counts it by cause. */
fuzz:
	addi sp, sp, -64
	sd ra, 56(sp)
	sd s0, 48(sp)
	sd s1, 40(sp)
	sd s11, 32(sp)
	/* page tables: root[2] -> l1; l1[0] -> l0; l0[sandbox pages] -> themselves, U RWX */
	la t1, fuzz_l1
	srli t0, t1, 12
	slli t0, t0, PTE_PPN_SHIFT
	ori t0, t0, PTE_V
	la t2, fuzz_root + 2 * 8
	sd t0, 0(t2)
	la t1, fuzz_l0
	srli t0, t1, 12
	slli t0, t0, PTE_PPN_SHIFT
	ori t0, t0, PTE_V
	la t2, fuzz_l1
	la t3, sandbox
	srli t4, t3, 21
	andi t4, t4, 511
	slli t4, t4, 3
	add t2, t2, t4
	sd t0, 0(t2)
	li t5, 2
	mv t1, t3
1:	srli t0, t1, 12
	slli t0, t0, PTE_PPN_SHIFT
	ori t0, t0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D
	srli t4, t1, 12
	andi t4, t4, 511
	slli t4, t4, 3
	la t2, fuzz_l0
	add t2, t2, t4
	sd t0, 0(t2)
	li t0, 4096
	add t1, t1, t0
	addi t5, t5, -1
	bnez t5, 1b
	la t0, fuzz_root
	srli t0, t0, 12
	li t1, SATP_MODE_SV39 << SATP_MODE_SHIFT
	or t0, t0, t1
	csrw satp, t0
	sfence.vma
	/* FP on, so random FP instructions run; counters stay off for U */
	li t0, MSTATUS_FS_INITIAL
	csrs mstatus, t0
	csrw mcounteren, zero
	csrr t0, mtvec
	la t1, saved_mtvec
	sd t0, 0(t1)
	la t0, fuzz_vector
	csrw mtvec, t0
	li t0, MIP_MTIP
	csrw mie, t0
	la t0, fuzz_sp
	sd sp, 0(t0)
	li s11, 0x9e3779b97f4a7c15 /* PRNG state */
	li s0, 0 /* runs done */

fuzz_next:
	/* new random code every 256 runs */
	andi t0, s0, 255
	bnez t0, 3f
	la t1, sandbox
	li t2, 1024
2:	XORSHIFT(s11)
	sw s11, 0(t1)
	addi t1, t1, 4
	addi t2, t2, -1
	bnez t2, 2b
	fence.i
3:	/* random registers x1..x31; x5..x7 point into the sandbox, x2 at the top of its data */
	la t1, fuzz_regs
	li t2, 31
4:	XORSHIFT(s11)
	sd s11, 0(t1)
	addi t1, t1, 8
	addi t2, t2, -1
	bnez t2, 4b
	la t1, fuzz_regs
	la t2, sandbox
	li t3, 8192
	add t3, t3, t2
	sd t3, 1 * 8(t1) /* x2 */
	li t4, 0xff8
	and t4, t4, s11
	add t4, t4, t2
	sd t4, 4 * 8(t1) /* x5: a code word */
	li t0, 4096
	add t4, t4, t0
	sd t4, 5 * 8(t1) /* x6: a data word */
	sd t2, 6 * 8(t1) /* x7: the sandbox */
	/* entry: a random word of the code page */
	XORSHIFT(s11)
	li t0, 0xffc
	and t0, t0, s11
	add t0, t0, t2
	csrw mepc, t0
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	/* the watchdog: 1 ms */
	li t0, CLINT_MTIME
	ld t1, 0(t0)
	li t0, TIMEBASE_HZ / 1000
	add t1, t1, t0
	li t0, CLINT_MTIMECMP
	sd t1, 0(t0)
	/* the loop state lives in memory while U-mode runs */
	sd s0, 0(sp)
	sd s11, 8(sp)
	la x31, fuzz_regs
	ld x1, 0 * 8(x31)
	ld x2, 1 * 8(x31)
	ld x3, 2 * 8(x31)
	ld x4, 3 * 8(x31)
	ld x5, 4 * 8(x31)
	ld x6, 5 * 8(x31)
	ld x7, 6 * 8(x31)
	ld x8, 7 * 8(x31)
	ld x9, 8 * 8(x31)
	ld x10, 9 * 8(x31)
	ld x11, 10 * 8(x31)
	ld x12, 11 * 8(x31)
	ld x13, 12 * 8(x31)
	ld x14, 13 * 8(x31)
	ld x15, 14 * 8(x31)
	ld x16, 15 * 8(x31)
	ld x17, 16 * 8(x31)
	ld x18, 17 * 8(x31)
	ld x19, 18 * 8(x31)
	ld x20, 19 * 8(x31)
	ld x21, 20 * 8(x31)
	ld x22, 21 * 8(x31)
	ld x23, 22 * 8(x31)
	ld x24, 23 * 8(x31)
	ld x25, 24 * 8(x31)
	ld x26, 25 * 8(x31)
	ld x27, 26 * 8(x31)
	ld x28, 27 * 8(x31)
	ld x29, 28 * 8(x31)
	ld x30, 29 * 8(x31)
	ld x31, 30 * 8(x31)
	mret

/* The trap vector while U-mode runs random code: every register is the sandbox's, so start
 * from memory. A trap from M-mode here is a bug of this harness: report it. */
	.balign 4
fuzz_vector:
	la t0, fuzz_sp
	ld sp, 0(t0)
	csrr t0, mstatus
	li t1, MSTATUS_MPP
	and t0, t0, t1
	beqz t0, 1f
	csrr a0, mcause
	csrr a1, mepc
	csrr a2, mtval
	li a3, PRV_M
	la a4, str_fuzz
	j report_trap
1:	li t0, CLINT_MTIMECMP
	li t1, -1
	sd t1, 0(t0)
	csrr t0, mcause
	li t1, 16 /* interrupts (the watchdog) are counted in slot 16, exceptions by cause */
	bltz t0, 2f
	mv t1, t0
	li t2, 16
	bltu t1, t2, 2f
	li t1, 17 /* a cause that should not exist */
2:	slli t1, t1, 3
	la t2, fuzz_causes
	add t2, t2, t1
	ld t3, 0(t2)
	addi t3, t3, 1
	sd t3, 0(t2)
	ld s0, 0(sp)
	ld s11, 8(sp)
	addi s0, s0, 1
	li t0, FUZZ_RUNS
	bltu s0, t0, fuzz_next

	/* done: restore the machine */
	csrw mie, zero
	csrw satp, zero
	sfence.vma
	la t0, saved_mtvec
	ld t0, 0(t0)
	csrw mtvec, t0
	li t0, MSTATUS_FS
	csrc mstatus, t0
	fence.i
	/* every run ended in a trap; some were illegal instructions, some faults */
	la s1, fuzz_causes
	ld t0, 17 * 8(s1)
	CHECK(t0, 0)
	ld t0, CAUSE_ILLEGAL_INSTRUCTION * 8(s1)
	CHECK_NZ(t0)
	ld t0, CAUSE_LOAD_PAGE_FAULT * 8(s1)
	ld t1, CAUSE_STORE_PAGE_FAULT * 8(s1)
	add t0, t0, t1
	ld t1, CAUSE_FETCH_PAGE_FAULT * 8(s1)
	add t0, t0, t1
	CHECK_NZ(t0)
	li t2, 0
	li t3, 18
3:	ld t1, 0(s1)
	add t2, t2, t1
	addi s1, s1, 8
	addi t3, t3, -1
	bnez t3, 3b
	CHECK(t2, FUZZ_RUNS)
	/* the counts depend on the machine: a note */
	PUTS("# sandbox runs by cause 0..15, interrupt:")
	la s1, fuzz_causes
	li s0, 17
4:	PUTS(" ")
	ld a0, 0(s1)
	call uart_putdec
	addi s1, s1, 8
	addi s0, s0, -1
	bnez s0, 4b
	PUTS("\n")
	ld ra, 56(sp)
	ld s0, 48(sp)
	ld s1, 40(sp)
	ld s11, 32(sp)
	addi sp, sp, 64
	ret

/* ---- random MMIO ----
 * Random register, size and value in the UART (8 registers), the PLIC (its first 4 MiB: priorities,
 * pending, enables, context 0-1 threshold/claim) and the CLINT. A machine may reject some
 * (an access fault, or misaligned): mmio_hook skips the instruction. Afterwards the UART is
 * put back in a known state so the console keeps working. */
mmio_storm:
	addi sp, sp, -16
	sd ra, 8(sp)
	SET_HOOK(mmio_hook)
	li s11, 0x2545f4914f6cdd1d
	li s0, MMIO_ACCESSES
1:	XORSHIFT(s11)
	/* region: bits 0-1 (0, 1: UART; 2: PLIC; 3: CLINT) */
	andi t0, s11, 3
	srli t1, s11, 8 /* offset bits */
	li t2, 1
	bgt t0, t2, 2f
	andi t1, t1, 7
	li t2, UART_BASE
	j 4f
2:	li t2, 2
	bne t0, t2, 3f
	li t2, 0x3fffff
	and t1, t1, t2
	li t2, PLIC_BASE
	j 4f
3:	li t2, 0xffff
	and t1, t1, t2
	li t2, CLINT_BASE
4:	add s2, t2, t1
	XORSHIFT(s11)
	mv s3, s11 /* the value */
	srli t0, s11, 32
	andi t0, t0, 7 /* bit 2: load or store; bits 0-1: size 1, 2, 4, 8 */
	andi t1, t0, 3
	li t2, 1
	sll t2, t2, t1
	addi t2, t2, -1
	not t2, t2
	and s2, s2, t2 /* naturally aligned */
	la t2, mmio_ops
	slli t0, t0, 3
	add t2, t2, t0
	jalr ra, 0(t2)
	addi s0, s0, -1
	bnez s0, 1b
	CLEAR_HOOK()
	/* quiet everything the storm may have started */
	li t0, CLINT_MSIP
	sw zero, 0(t0)
	li t0, CLINT_MTIMECMP
	li t1, -1
	sd t1, 0(t0)
	li t0, PLIC_BASE + 0x2000 /* context 0 and 1 enables */
	sw zero, 0(t0)
	sw zero, 4(t0)
	sw zero, 8(t0)
	sw zero, 12(t0)
	sw zero, 0x80(t0)
	sw zero, 0x84(t0)
	sw zero, 0x88(t0)
	sw zero, 0x8c(t0)
	li t0, UART_BASE
	li t1, 0x03 /* 8N1, DLAB = 0 */
	sb t1, UART_LCR(t0)
	sb zero, UART_IER(t0)
	sb zero, UART_MCR(t0) /* leave loopback */
	li t1, 0x07 /* FIFOs on and cleared */
	sb t1, UART_FCR(t0)
	/* a test finisher write with an unknown command is ignored */
	li t0, FINISHER_BASE
	li t1, 0x1234
	sw t1, 0(t0)
	li t1, 0x12340000
	sw t1, 0(t0)
	csrw mip, zero
	csrw mie, zero
	ld ra, 8(sp)
	addi sp, sp, 16
	ret

/* One access at s2 with value s3, by index: 0-3 store of 1/2/4/8 bytes, 4-7 loads. */
mmio_ops:
	sb s3, 0(s2)
	ret
	sh s3, 0(s2)
	ret
	sw s3, 0(s2)
	ret
	sd s3, 0(s2)
	ret
	lbu s1, 0(s2)
	ret
	lhu s1, 0(s2)
	ret
	lwu s1, 0(s2)
	ret
	ld s1, 0(s2)
	ret

/* Skip an MMIO access that the machine refused (access fault or misaligned). */
mmio_hook:
	bltz a0, 1f
	li t0, CAUSE_MISALIGNED_LOAD
	bltu a0, t0, 1f
	li t0, CAUSE_STORE_ACCESS
	bgtu a0, t0, 1f
	addi a1, a1, 4
	csrw mepc, a1
	li a0, 0
	ret
1:	li a0, 1
	ret

/* ---- 1 MiB of output: lines of 63 characters and a newline ---- */
flood:
	li t0, UART_BASE
	li t1, FLOOD_LINES
1:	li t2, 0
2:	andi t3, t2, 63
	addi t3, t3, '0'
	li t4, 63
	bne t2, t4, 3f
	li t3, '\n'
3:	lbu t4, UART_LSR(t0)
	andi t4, t4, UART_LSR_THRE
	beqz t4, 3b
	sb t3, UART_THR(t0)
	addi t2, t2, 1
	li t4, 64
	bne t2, t4, 2b
	addi t1, t1, -1
	bnez t1, 1b
	ret

	.section .rodata
str_fuzz:
	.asciz "M-mode (sandbox harness)"

	.data
	.balign 8
saved_mtvec:
	.dword 0
fuzz_sp:
	.dword 0
fuzz_causes:
	.zero 18 * 8
fuzz_regs:
	.zero 31 * 8

	.bss
	.balign 4096
fuzz_root:
	.zero 4096
fuzz_l1:
	.zero 4096
fuzz_l0:
	.zero 4096
sandbox:
	.zero 8192
