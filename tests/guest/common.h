/* Shared definitions for the bare-metal guest tests: the board's addresses, CSR bit names from
 * the privileged spec, and the macros every test uses (checks that report their line number,
 * console output, expected traps). Included by common.S and by each test's .S file.
 *
 * Conventions:
 * - A test names itself with DEFINE_TEST("name") and defines test_main, called in M-mode with
 *   a stack; returning from it reports pass. A failed check reports fail at once.
 * - t5 and t6 are scratch for the macros: a test never keeps a value in them across a macro.
 *   The console macros (PUTS, PUTHEX, SAY) also clobber a0-a3 and ra.
 * - Expected traps: EXPECT_TRAP(label) arms the M-mode handler so that the next trap resumes
 *   at label in the privilege mode that trapped; EXPECT_TRAP_M(label) resumes in M-mode. The
 *   handler records mcause, mepc, mtval, mstatus and the previous privilege in trap_info
 *   (TI_*), which the CHECK_TRAP_* macros read. The S-mode handler (stvec) does the same with
 *   EXPECT_STRAP* and strap_info for traps delegated to S. There is one armed label per
 *   handler: arming again replaces it.
 * - ecall with a7 = SVC_* asks the M-mode handler for a service (see below); a test's own
 *   ecalls set a7 to 0 first when a7 may hold a service number.
 * - Every trap handler preserves all registers of the trapped code.
 * - Console: each test prints "name: ..." lines and "name: PASS" last; run.sh compares them
 *   with NAME.expected. Lines starting with "# " are notes that may differ between machines.
 *   A behaviour of a reference machine that departs from the specification is accepted only
 *   on a "name: deviation: ..." line, which only that machine's expected output contains. */
#ifndef GUEST_COMMON_H
#define GUEST_COMMON_H

/* ---- the board (rvisor's virt board; QEMU virt has the same addresses) ---- */
#define RAM_BASE 0x80000000
#define FINISHER_BASE 0x100000 /* sifive,test / syscon: 32-bit writes */
#define FINISHER_PASS 0x5555
#define FINISHER_FAIL 0x3333 /* | code << 16 */
#define CLINT_BASE 0x2000000
#define CLINT_MSIP (CLINT_BASE + 0x0)	     /* hart 0, 32 bits */
#define CLINT_MTIMECMP (CLINT_BASE + 0x4000) /* hart 0, 64 bits */
#define CLINT_MTIME (CLINT_BASE + 0xbff8)    /* 64 bits, 10 MHz */
#define PLIC_BASE 0xc000000
#define UART_BASE 0x10000000
#define UART_THR 0 /* transmit holding register (write, DLAB = 0) */
#define UART_IER 1
#define UART_FCR 2 /* FIFO control (write) */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define TIMEBASE_HZ 10000000

/* ---- exit codes reported to the test finisher ---- */
#define FAIL_CHECK 1	/* a CHECK macro failed */
#define FAIL_TRAP 2	/* a trap nobody expected */
#define FAIL_NESTED 3	/* a trap inside a trap handler */

/* ---- CSR fields (privileged spec 3.1, 4.1) ---- */
#define MSTATUS_SIE (1 << 1)
#define MSTATUS_MIE (1 << 3)
#define MSTATUS_SPIE (1 << 5)
#define MSTATUS_MPIE (1 << 7)
#define MSTATUS_SPP (1 << 8)
#define MSTATUS_MPP (3 << 11)
#define MSTATUS_MPP_S (1 << 11)
#define MSTATUS_FS (3 << 13)
#define MSTATUS_FS_INITIAL (1 << 13)
#define MSTATUS_FS_DIRTY (3 << 13)
#define MSTATUS_MPRV (1 << 17)
#define MSTATUS_SUM (1 << 18)
#define MSTATUS_MXR (1 << 19)
#define MSTATUS_TVM (1 << 20)
#define MSTATUS_TW (1 << 21)
#define MSTATUS_TSR (1 << 22)

#define MIP_SSIP (1 << 1)
#define MIP_MSIP (1 << 3)
#define MIP_STIP (1 << 5)
#define MIP_MTIP (1 << 7)
#define MIP_SEIP (1 << 9)
#define MIP_MEIP (1 << 11)

#define SATP_MODE_SHIFT 60
#define SATP_MODE_SV39 8
#define SATP_MODE_SV48 9
#define SATP_MODE_SV57 10

/* Page-table entry bits (privileged spec 4.3.1). */
#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)
#define PTE_PPN_SHIFT 10

/* PMP configuration bits (privileged spec 3.7). */
#define PMP_R 0x01
#define PMP_W 0x02
#define PMP_X 0x04
#define PMP_NAPOT 0x18

/* Exception codes (mcause with the interrupt bit clear, privileged spec 3.1.15). */
#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL_INSTRUCTION 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_USER_ECALL 8
#define CAUSE_SUPERVISOR_ECALL 9
#define CAUSE_MACHINE_ECALL 11
#define CAUSE_FETCH_PAGE_FAULT 12
#define CAUSE_LOAD_PAGE_FAULT 13
#define CAUSE_STORE_PAGE_FAULT 15
/* Interrupt codes; mcause = INTERRUPT_BIT | code. */
#define IRQ_S_SOFT 1
#define IRQ_M_SOFT 3
#define IRQ_S_TIMER 5
#define IRQ_M_TIMER 7
#define IRQ_S_EXT 9
#define IRQ_M_EXT 11
#define INTERRUPT_BIT (1 << 63)

/* Privilege levels as they appear in mstatus.MPP / TI_PRIV. */
#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

/* ---- services of the M-mode trap handler, requested by ecall with a7 = SVC_* ---- */
#define SVC_TO_M 0x52560001  /* continue after the ecall in M-mode (where VA = PA) */
#define SVC_FAIL 0x52560002  /* a check failed: a0 = line, a1 = got, a2 = expected */
#define SVC_STRAP 0x52560003 /* unexpected S-mode trap: a0-a3 = scause, sepc, stval, SPP */

/* ---- trap records (struct trap_info in common.S; one for M, one for S) ---- */
#define TI_CAUSE 0	/* xcause of the last trap */
#define TI_EPC 8	/* xepc of the last trap */
#define TI_TVAL 16	/* xtval of the last trap */
#define TI_COUNT 24	/* traps taken so far */
#define TI_PRIV 32	/* privilege the last trap came from (PRV_*) */
#define TI_RESUME 40	/* armed resume address, or 0 */
#define TI_RESUME_UP 48 /* nonzero: resume in the handler's own mode (M or S) */
#define TI_HOOK 56	/* optional hook, see common.S */
#define TI_STATUS 64	/* xstatus on entry to the handler (after the trap updated it) */
#define TI_SIZE 72

/* Trap frame layout used by hooks: saved register xN at FRAME_X(N)(a3). */
#define FRAME_X(n) ((n) * 8)
#define FRAME_SIZE 256

/* ---- macros for tests ---- */

/* Name the test; its console lines start with this name. */
#define DEFINE_TEST(name)                                                                          \
	.pushsection .rodata;                                                                      \
	.globl test_name;                                                                          \
	test_name:;                                                                                \
	.asciz name;                                                                               \
	.popsection

/* Fail unless register r holds the constant v (any 64-bit value). */
#define CHECK(r, v)                                                                                \
	li t6, v;                                                                                  \
	beq r, t6, 19990f;                                                                         \
	mv a1, r;                                                                                  \
	mv a2, t6;                                                                                 \
	li a0, __LINE__;                                                                           \
	j check_fail;                                                                              \
	19990:

/* Fail unless registers r and s are equal (neither may be t6). */
#define CHECK_REG(r, s)                                                                            \
	beq r, s, 19991f;                                                                          \
	mv a1, r;                                                                                  \
	mv a2, s;                                                                                  \
	li a0, __LINE__;                                                                           \
	j check_fail;                                                                              \
	19991:

/* Fail unless the doubleword at label sym equals v. */
#define CHECK_MEM(sym, v)                                                                          \
	la t5, sym;                                                                                \
	ld t5, 0(t5);                                                                              \
	CHECK(t5, v)

/* Fail unless register r is nonzero (the "got" value shown is r, "expected" is 1). */
#define CHECK_NZ(r)                                                                                \
	bnez r, 19992f;                                                                            \
	mv a1, r;                                                                                  \
	li a2, 1;                                                                                  \
	li a0, __LINE__;                                                                           \
	j check_fail;                                                                              \
	19992:

/* Fail unconditionally (e.g. an instruction that should have trapped did not). */
#define FAIL_HERE()                                                                                \
	li a1, 0;                                                                                  \
	li a2, 0;                                                                                  \
	li a0, __LINE__;                                                                           \
	j check_fail

/* Fail unless the CSR csr (a name) reads as v. */
#define CHECK_CSR(csr, v)                                                                          \
	csrr t5, csr;                                                                              \
	CHECK(t5, v)

/* Read field off of M-mode trap record into t5. */
#define TRAP_FIELD(off)                                                                            \
	la t5, trap_info;                                                                          \
	ld t5, off(t5)
#define STRAP_FIELD(off)                                                                           \
	la t5, strap_info;                                                                         \
	ld t5, off(t5)

/* Checks on the last trap recorded by the M-mode handler (CHECK_TRAP_*) or the S-mode handler
 * (CHECK_STRAP_*): its cause, epc (a label), tval (a constant) and previous privilege. */
#define CHECK_TRAP_CAUSE(cause)                                                                    \
	TRAP_FIELD(TI_CAUSE);                                                                      \
	CHECK(t5, cause)
#define CHECK_TRAP_EPC(label)                                                                      \
	TRAP_FIELD(TI_EPC);                                                                        \
	la t6, label;                                                                              \
	CHECK_REG(t5, t6)
#define CHECK_TRAP_TVAL(v)                                                                         \
	TRAP_FIELD(TI_TVAL);                                                                       \
	CHECK(t5, v)
#define CHECK_TRAP_PRIV(p)                                                                         \
	TRAP_FIELD(TI_PRIV);                                                                       \
	CHECK(t5, p)
/* The field of xstatus (shift, mask) recorded at the last trap equals v. */
#define CHECK_TRAP_STATUS(shift, mask, v)                                                          \
	TRAP_FIELD(TI_STATUS);                                                                     \
	srli t5, t5, shift;                                                                        \
	andi t5, t5, mask;                                                                         \
	CHECK(t5, v)
#define CHECK_STRAP_STATUS(shift, mask, v)                                                         \
	STRAP_FIELD(TI_STATUS);                                                                    \
	srli t5, t5, shift;                                                                        \
	andi t5, t5, mask;                                                                         \
	CHECK(t5, v)
#define CHECK_STRAP_CAUSE(cause)                                                                   \
	STRAP_FIELD(TI_CAUSE);                                                                     \
	CHECK(t5, cause)
#define CHECK_STRAP_EPC(label)                                                                     \
	STRAP_FIELD(TI_EPC);                                                                       \
	la t6, label;                                                                              \
	CHECK_REG(t5, t6)
#define CHECK_STRAP_TVAL(v)                                                                        \
	STRAP_FIELD(TI_TVAL);                                                                      \
	CHECK(t5, v)
#define CHECK_STRAP_PRIV(p)                                                                        \
	STRAP_FIELD(TI_PRIV);                                                                      \
	CHECK(t5, p)
/* The last M-mode (S-mode) trap was an illegal instruction at label, with mtval (stval) either
 * 0 or the instruction's bits (privileged spec 3.1.16). Clobbers a0, a1, t0, ra. */
#define CHECK_ILLEGAL_AT(label)                                                                    \
	la a0, trap_info;                                                                          \
	la a1, label;                                                                              \
	call check_illegal_trap
#define CHECK_SILLEGAL_AT(label)                                                                   \
	la a0, strap_info;                                                                         \
	la a1, label;                                                                              \
	call check_illegal_trap

/* Arm the M-mode handler: the next trap resumes at label (in the trapping mode). */
#define EXPECT_TRAP(label)                                                                         \
	la t6, trap_info;                                                                          \
	la t5, label;                                                                              \
	sd t5, TI_RESUME(t6);                                                                      \
	sd zero, TI_RESUME_UP(t6)
/* Arm the M-mode handler: the next trap resumes at label in M-mode, with mstatus.MIE = 0. */
#define EXPECT_TRAP_M(label)                                                                       \
	la t6, trap_info;                                                                          \
	la t5, label;                                                                              \
	sd t5, TI_RESUME(t6);                                                                      \
	sd t6, TI_RESUME_UP(t6)
/* The same for the S-mode handler (traps delegated with medeleg/mideleg). */
#define EXPECT_STRAP(label)                                                                        \
	la t6, strap_info;                                                                         \
	la t5, label;                                                                              \
	sd t5, TI_RESUME(t6);                                                                      \
	sd zero, TI_RESUME_UP(t6)
#define EXPECT_STRAP_S(label)                                                                      \
	la t6, strap_info;                                                                         \
	la t5, label;                                                                              \
	sd t5, TI_RESUME(t6);                                                                      \
	sd t6, TI_RESUME_UP(t6)
/* Disarm (after an instruction that was allowed, but not required, to trap). */
#define EXPECT_NO_TRAP()                                                                           \
	la t6, trap_info;                                                                          \
	sd zero, TI_RESUME(t6)

/* Install fn as the M-mode (SET_HOOK) or S-mode (SET_SHOOK) hook, or remove it with 0. */
#define SET_HOOK(fn)                                                                               \
	la t6, trap_info;                                                                          \
	la t5, fn;                                                                                 \
	sd t5, TI_HOOK(t6)
#define CLEAR_HOOK()                                                                               \
	la t6, trap_info;                                                                          \
	sd zero, TI_HOOK(t6)
#define SET_SHOOK(fn)                                                                              \
	la t6, strap_info;                                                                         \
	la t5, fn;                                                                                 \
	sd t5, TI_HOOK(t6)
#define CLEAR_SHOOK()                                                                              \
	la t6, strap_info;                                                                         \
	sd zero, TI_HOOK(t6)

/* From S- or U-mode, return to M-mode: the next instruction runs in M. Only where the code's
 * virtual and physical addresses are equal (bare mode or an identity mapping). */
#define TO_M_MODE()                                                                                \
	li a7, SVC_TO_M;                                                                           \
	ecall

/* Enter privilege mode prv (PRV_S or PRV_U) at label with mret, from M-mode. Clobbers t5/t6. */
#define MRET_TO(prv, label)                                                                        \
	li t6, MSTATUS_MPP;                                                                        \
	csrc mstatus, t6;                                                                          \
	li t6, (prv) << 11;                                                                        \
	csrs mstatus, t6;                                                                          \
	la t6, label;                                                                              \
	csrw mepc, t6;                                                                             \
	mret

/* Print a string literal / a register in hex (M-mode, or S/U with the UART mapped). */
#define PUTS(s)                                                                                    \
	.pushsection .rodata;                                                                      \
	19993:;                                                                                    \
	.asciz s;                                                                                  \
	.popsection;                                                                               \
	la a0, 19993b;                                                                             \
	call uart_puts
#define PUTHEX(r)                                                                                  \
	mv a0, r;                                                                                  \
	call uart_puthex
/* Print "<test name>: s\n". */
#define SAY(s)                                                                                     \
	la a0, test_name;                                                                          \
	call uart_puts;                                                                            \
	PUTS(": " s "\n")

#endif
