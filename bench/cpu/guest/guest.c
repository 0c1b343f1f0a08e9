/* The guest side of a benchmark program: console output on the ns16550a UART (polling LSR.THRE)
 * and the entry called by start.S, which runs the workload named by BENCH_WORKLOAD (set when
 * compiling, one program per workload) in the arena the linker script leaves after the image. */
#include "bench.h"

#define UART_BASE       0x10000000ul
#define UART_THR        0
#define UART_LSR        5
#define UART_LSR_THRE   0x20
#define GUEST_FAIL_TRAP 4 /* test finisher code for an unexpected trap */

#ifndef BENCH_WORKLOAD
#error "compile with -DBENCH_WORKLOAD='\"name\"'"
#endif

int guest_main(void);
int guest_trap(uint64_t mcause, uint64_t mepc, uint64_t mtval);

extern char __arena_start[], __arena_end[];

void platform_putc(int c)
{
	volatile uint8_t *uart = (volatile uint8_t *)UART_BASE;

	while (!(uart[UART_LSR] & UART_LSR_THRE))
		;
	uart[UART_THR] = (uint8_t)c;
}

/* Runs the workload; returns 0 on success or a BENCH_FAIL_* code. Also prints the number of
 * instructions retired (minstret), which is the same wherever the program runs. */
int guest_main(void)
{
	uint64_t instret;
	int status =
	    bench_main(BENCH_WORKLOAD, __arena_start, (size_t)(__arena_end - __arena_start));

	__asm__ volatile("csrr %0, minstret" : "=r"(instret));
	bench_puts("instret ");
	bench_putdec(instret);
	bench_puts("\n");
	return status;
}

/* Reports an unexpected trap (the arguments are the M-mode trap CSRs); returns the status. */
int guest_trap(uint64_t mcause, uint64_t mepc, uint64_t mtval)
{
	bench_puts(BENCH_WORKLOAD ": FAIL trap: mcause ");
	bench_puthex(mcause);
	bench_puts(" mepc ");
	bench_puthex(mepc);
	bench_puts(" mtval ");
	bench_puthex(mtval);
	bench_puts("\n");
	return GUEST_FAIL_TRAP;
}
