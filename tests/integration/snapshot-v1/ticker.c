/* A tiny S-mode guest for the snapshot format test: it prints "tick N" through the SBI
 * console every 0.1 s of guest time (the 10 MHz timebase), forever. Loaded as the kernel at
 * 0x80200000 with rvisor's built-in SBI; make.sh builds it and takes the snapshot that
 * test_snapshot.py restores. */
#include <stdint.h>

static void putchar_sbi(char c)
{
	register long a0 __asm__("a0") = c;
	register long a7 __asm__("a7") = 1; /* legacy console putchar */
	__asm__ volatile("ecall" : "+r"(a0) : "r"(a7) : "a1", "memory");
}

static uint64_t rdtime(void)
{
	uint64_t t;
	__asm__ volatile("rdtime %0" : "=r"(t));
	return t;
}

static void print_tick(unsigned long n)
{
	char digits[24];
	int k = 0;
	do
		digits[k++] = (char)('0' + n % 10);
	while ((n /= 10));
	for (const char *s = "tick "; *s; s++)
		putchar_sbi(*s);
	while (k)
		putchar_sbi(digits[--k]);
	putchar_sbi('\n');
}

void ticker_main(void);

void ticker_main(void)
{
	uint64_t next = rdtime();
	for (unsigned long n = 0;; n++) {
		print_tick(n);
		next += 1000000;
		while (rdtime() < next)
			;
	}
}

__asm__(".section .text.init\n"
	".global _start\n"
	"_start:\n"
	"	la sp, stack_top\n"
	"	call ticker_main\n"
	"1:	j 1b\n"
	".bss\n"
	".balign 16\n"
	"	.space 4096\n"
	"stack_top:\n");
