/* Live migration of a VM to another rvisor process, over a Unix or TCP stream socket, by
 * pre-copy: guest RAM is sent while the guest runs, then again the pages its dirty log shows
 * written, round after round, until few are left; then the VM is paused, the last pages and
 * the state (a snapshot state file's bytes, snapshot.h) are sent, the disks handed over (their
 * image locks dropped here, taken there), and the destination resumes the guest.
 *
 * The stream: a header "RVISORMG", u32 version (MIGRATE_VERSION), u32 0, u64 RAM bytes; then
 * records of u32 type, u32 CRC-32 (zlib's) of the bytes that follow the record (0 when none;
 * a mismatch is refused), u64 a, u64 b: MIGRATE_PAGES (a: first 4 KiB page from the start
 * of RAM, b: count; count * 4096 bytes follow), MIGRATE_STATE (a: bytes of state that
 * follow), MIGRATE_GO, MIGRATE_ABORT. After the state the destination answers u32 status
 * (0: it holds the VM, paused, disks locked) and u32 length plus that many bytes of message;
 * the source then sends MIGRATE_GO (the destination runs the guest, the source never again)
 * or, on a refusal, takes its disks back and resumes. A destination that refuses the stream
 * before the state (damaged, malformed) sends the same answer and closes. All fields
 * little-endian. */
#ifndef RVISOR_VMM_MIGRATE_H
#define RVISOR_VMM_MIGRATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/vm.h"

#define MIGRATE_VERSION 2 /* 2: records carry the CRC-32 of their bytes */

enum migrate_record {
	MIGRATE_PAGES = 1,
	MIGRATE_STATE = 2,
	MIGRATE_GO = 3,
	MIGRATE_ABORT = 4,
};

/* What a migration did, for the log and the benchmark. */
struct migrate_stats {
	unsigned rounds;       /* passes over RAM while the guest ran, the first included */
	uint64_t pages_sent;   /* 4 KiB pages, all rounds and the last one */
	uint64_t last_pages;   /* pages sent while the VM was paused */
	uint64_t total_ns;     /* from the call to the destination's taking over */
	uint64_t downtime_ns;  /* from the pause to MIGRATE_GO */
	uint64_t state_bytes;  /* size of the state */
	unsigned throttle_pct; /* auto-converge: the share of time the harts last slept (0: the
				* dirty rounds shrank without it) */
	uint64_t throttled_ns; /* the time the harts slept for it, summed over the harts */
};

/* Where a migration stands. */
enum migrate_stage {
	MIGRATE_IDLE = 0,   /* none started */
	MIGRATE_CONNECTING, /* checking the VM can go, reaching the destination */
	MIGRATE_PRECOPY,    /* sending RAM, round after round, while the guest runs */
	MIGRATE_STOP_COPY,  /* the guest paused: the last dirty pages and the state */
	MIGRATE_HANDOVER,   /* waiting for the destination to take the VM */
	MIGRATE_COMPLETED,  /* the destination runs the guest */
	MIGRATE_FAILED,     /* the guest runs here still (or stays paused, as it was) */
	MIGRATE_CANCELLED,  /* given up on request: the guest runs here still */
};

/* A migration's progress, written by the thread that runs vm_migrate_send and read by any
 * other (GET /migration) while it runs: each field is current on its own, not all of them at
 * one instant. Zero it before the call. */
struct migrate_progress {
	_Atomic unsigned stage;       /* enum migrate_stage */
	_Atomic unsigned rounds;      /* passes over RAM begun while the guest runs */
	_Atomic uint64_t start_ns;    /* CLOCK_MONOTONIC when it began */
	_Atomic uint64_t bytes_sent;  /* page and state bytes sent (record headers aside) */
	_Atomic uint64_t pages_sent;  /* 4 KiB pages sent, every round */
	_Atomic uint64_t dirty_pages; /* pages the last dirty-log take found (this round's) */
	_Atomic uint64_t dirty_rate;  /* pages per second the guest wrote in the last round */
	_Atomic uint64_t bandwidth;   /* bytes per second sent in the last round */
	_Atomic uint64_t expected_downtime_ns; /* dirty_pages at bandwidth: the guest's stop if
						* it stopped now */
	_Atomic unsigned throttle_pct; /* auto-converge: the share of time the harts sleep */
	_Atomic bool cancel;           /* set by another thread: give up at the next record
					* (before the state goes; after it, too late) */
};

/* Migrate vm (running or paused) to the rvisor listening at url ("unix:PATH" or
 * "tcp:HOST:PORT"), sending at most max_bandwidth bytes per second while the guest runs (0:
 * no cap; the last pass, with the guest stopped, is never capped). Turns the VM's dirty log on
 * if it was off. When two dirty rounds in a row do not shrink by a tenth, the harts are slowed
 * (each sleeps 20% of its time, then 40%, up to 80%) until the rounds converge; they run at
 * full speed again when the migration ends either way. prog (or NULL) is kept up to date as it
 * goes, and its cancel flag is obeyed. On success the destination runs the guest and vm stays
 * paused for good, its disks unlocked: the caller ends it. On failure vm is as before (running
 * again if it was), with one sentence in err: a URL that does not parse, a destination that
 * cannot be reached or went away, its refusal and reason, a device that cannot be saved, a
 * cancellation (-ECANCELED). Returns 0 or -errno. */
int vm_migrate_send(struct vm *vm, const char *url, uint64_t max_bandwidth,
		    struct migrate_progress *prog, struct migrate_stats *st, char *err,
		    size_t errlen);

/* The receiving side's connection and what came over it. */
struct migrate_in {
	int fd;     /* the connection, or -1 */
	int mem_fd; /* memfd holding the received RAM (for vm_config.restore_mem_fd) */
	uint64_t mem_size;
	uint8_t *state; /* the state file's bytes (malloc'd), for vm_snapshot_parse */
	size_t state_len;
};

/* Listen at url, take one migration: RAM into a new memfd, then the state. Every field from
 * the wire is checked (sizes, page ranges, record types). Returns 0 with in filled, or -errno
 * with one sentence in err (a URL that does not parse or cannot be listened at, a stream that
 * is not a migration or is cut short, a source that gave up). */
int vm_migrate_receive(const char *url, struct migrate_in *in, char *err, size_t errlen);
/* The same in two steps, for a caller that waits for the source itself (the API): listen at
 * url (a socket that accepts at once, or -errno with one sentence in err); then, once the
 * socket is readable, take the migration from it (closes lfd, removes a Unix socket's path;
 * what vm_migrate_receive returns). */
int vm_migrate_listen(const char *url, char *err, size_t errlen);
int vm_migrate_accept(int lfd, const char *url, struct migrate_in *in, char *err, size_t errlen);
/* Take a migration from the connected stream fd (in owns it from here): what
 * vm_migrate_accept does after accepting; url only names the source in messages. */
int vm_migrate_read(int fd, const char *url, struct migrate_in *in, char *err, size_t errlen);
/* Answer the source: ok (the VM was made from what came and is ready, paused) or the reason it
 * was not (msg). With ok, waits for MIGRATE_GO: returns 0 when it came (run the guest), -1 when
 * the source gave up or went away (the source keeps the guest: do not run it). */
int vm_migrate_answer(struct migrate_in *in, bool ok, const char *msg);
/* Close the connection and free what is left (the memfd unless a VM took it: set mem_fd to
 * -1 then). */
void vm_migrate_in_free(struct migrate_in *in);

#endif
