/* Character backend: the host side of a console (stdio, a pipe, later a socket). Devices (the
 * UART, the SBI console) reach the host only through this table. */
#ifndef RVISOR_HOST_CHR_H
#define RVISOR_HOST_CHR_H

#include <stddef.h>

struct chr {
	/* Write len bytes of guest output to the host. Never waits for the host side: output
	 * that cannot be taken (a reader that does not read, or is gone) is dropped. Thread-safe.
	 */
	void (*write)(struct chr *c, const void *buf, size_t len);
	/* Copy up to len bytes of pending host input into buf; returns the count (0: none).
	 * Never blocks. Thread-safe. */
	size_t (*read)(struct chr *c, void *buf, size_t len);
	/* The size of the host terminal behind the backend, in character cells: 0 with *cols and
	 * *rows set, or -1 when there is none (a pipe, a file). NULL: never one. Thread-safe. */
	int (*size)(struct chr *c, unsigned *cols, unsigned *rows);
	/* Set by the frontend device: called (on a backend thread) when input becomes available. */
	void (*notify)(void *opaque);
	void *notify_opaque;
	/* Set by the VMM: called once when the user types the quit escape (Ctrl-A x). */
	void (*quit)(void *opaque);
	void *quit_opaque;
};

/* Open the stdio backend: output to stdout through a 64 KiB ring and a writer thread (a full
 * ring drops output, reported on stderr), input from stdin through a reader thread. When
 * stdin is a terminal it is put in raw mode (restored by chr_stdio_close and at exit) and
 * Ctrl-A x quits, Ctrl-A Ctrl-A sends a Ctrl-A. A pipe or /dev/null on stdin works too (EOF
 * simply ends input). Returns the backend or NULL with errno set. */
struct chr *chr_stdio_open(void);
/* Stop the reader thread, restore the terminal and free the backend. */
void chr_stdio_close(struct chr *c);

#endif
