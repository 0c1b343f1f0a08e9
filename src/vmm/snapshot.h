/* Snapshots of a whole VM: its state file (the configuration, every hart and device, as
 * sections of the state stream, src/state/stream.h) and its memory file (guest RAM, sparse:
 * pages that hold only zeroes are holes). A snapshot is taken from a paused VM and restored
 * into a new VM in this or another process, on any host ISA (the state is little-endian
 * fields, never host structs).
 *
 * State file: the magic "RVISORVM", u32 format version (SNAPSHOT_FORMAT), u32 reserved (0),
 * the sections "info" (rvisor version, host ISA), "config" (what vm_create needs), "vm" (the
 * guest's clock, in timebase ticks), one "hart" per hart, the devices' sections
 * (vm_devices_state_save), "memory" (what the memory file holds: enum snapshot_type, and a
 * diff's runs of pages; absent in files written before it: full), and last a CRC-32 (zlib's) of
 * every byte before it. Both files are written owner-only (0600) under temporary names and renamed
 * into place, so a failed snapshot leaves an older one as it was. */
#ifndef RVISOR_VMM_SNAPSHOT_H
#define RVISOR_VMM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/vm.h"

#define SNAPSHOT_FORMAT    1
#define SNAPSHOT_STATE_MAX (64u << 20) /* bytes: a larger state file is refused */

/* What a snapshot's memory file holds (Firecracker's snapshot_type). */
enum snapshot_type {
	SNAPSHOT_FULL = 0, /* all of guest RAM; pages of zeroes are holes */
	SNAPSHOT_DIFF = 1, /* only the pages written since the VM's previous snapshot (its dirty
			    * log), at their offsets in a file of RAM's size, the rest holes; it
			    * is made whole by copying those pages onto the previous snapshot's
			    * memory file (vm_snapshot_rebase) */
};

/* Save paused vm: its state to state_path, its RAM to mem_path (type: all of it, or the pages
 * written since the last snapshot, which needs the dirty log, vm_config.track_dirty_pages).
 * Devices finish the requests they hold first (vm_devices_quiesce). With the dirty log on,
 * either type starts it again (the next diff holds what is written after this snapshot);
 * when the snapshot fails, the pages go back into the log. Returns 0, or -errno with one
 * sentence in err naming what failed (a file that cannot be written, a device that cannot
 * be saved, a diff without the log). */
int vm_snapshot_save(struct vm *vm, const char *state_path, const char *mem_path,
		     enum snapshot_type type, char *err, size_t errlen);

/* A run of pages in a diff snapshot's memory file: pages first .. first + count - 1 (4 KiB
 * each, counted from the start of RAM). */
struct snapshot_run {
	uint64_t first, count;
};

/* A state file read and checked (magic, format, CRC), its configuration parsed. */
struct vm_snapshot {
	uint8_t *buf; /* the whole file */
	size_t len;
	struct vm_config cfg;      /* its strings point into strings */
	char *strings;             /* malloc'd */
	size_t body;               /* offset of the "vm" section */
	uint64_t guest_ticks;      /* the guest's clock when saved */
	enum snapshot_type type;   /* what its memory file holds */
	struct snapshot_run *runs; /* a diff's pages, in order (malloc'd) */
	uint64_t nruns;
};

/* Read state_path and fill s->cfg for vm_create, with mem_path as the memory file (restore
 * mode: nothing is loaded into RAM). Returns 0, or -errno with one sentence in err: no such
 * file, not a snapshot, another format version, a damaged file (CRC), a bad configuration. */
int vm_snapshot_open(struct vm_snapshot *s, const char *state_path, const char *mem_path, char *err,
		     size_t errlen);
/* The same for a state already in memory: buf (len bytes, malloc'd; s owns it from here, also
 * on failure), name naming it in messages. Memory file: mem_path. */
int vm_snapshot_parse(struct vm_snapshot *s, uint8_t *buf, size_t len, const char *name,
		      const char *mem_path, char *err, size_t errlen);
/* The state of paused vm (quiesced by the caller) as a state file's bytes, memory section
 * "full", into *buf (malloc'd) and *len: what a migration sends last. Returns 0, or -EINVAL
 * with one sentence in err (a device that cannot be saved). */
int vm_snapshot_state(struct vm *vm, uint8_t **buf, size_t *len, char *err, size_t errlen);
/* 0 when vm's configuration can be saved (no virtio-fs, vsock or deterministic run), else
 * -EINVAL with the sentence naming what cannot. */
int vm_snapshot_supported(struct vm *vm, char *err, size_t errlen);
/* Load the harts and devices of s into vm, created by vm_create(&s->cfg) and not run yet;
 * the guest's clock goes on from the saved time. Returns 0, or -EINVAL with one sentence in
 * err naming the section and the problem (the VM is then unusable: destroy it). */
int vm_snapshot_load(struct vm *vm, struct vm_snapshot *s, char *err, size_t errlen);
/* Make a diff snapshot's memory file whole: copy the pages s lists (s->type SNAPSHOT_DIFF)
 * from diff_path onto base_path, the memory file of the snapshot taken just before s (full,
 * or a diff already rebased), in place, and flush it; base_path is then s's full memory file.
 * Returns 0, or -errno with one sentence in err (not a diff, a file that cannot be opened,
 * read or written, sizes that are not the snapshot's RAM). */
int vm_snapshot_rebase(const struct vm_snapshot *s, const char *diff_path, const char *base_path,
		       char *err, size_t errlen);
/* Free what vm_snapshot_open allocated (after vm_destroy: the VM's configuration points
 * into it). */
void vm_snapshot_close(struct vm_snapshot *s);

#endif
