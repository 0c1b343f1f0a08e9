/* Snapshots of a whole VM: its state file (the configuration, every hart and device, as
 * sections of the state stream, src/state/stream.h) and its memory file (guest RAM, sparse:
 * pages that hold only zeroes are holes). A snapshot is taken from a paused VM and restored
 * into a new VM in this or another process, on any host ISA (the state is little-endian
 * fields, never host structs).
 *
 * State file: the magic "RVISORVM", u32 format version (SNAPSHOT_FORMAT), u32 reserved (0),
 * the sections "info" (rvisor version, host ISA), "config" (what vm_create needs), "vm" (the
 * guest's clock, in timebase ticks), one "hart" per hart, the devices' sections
 * (vm_devices_state_save), and last a CRC-32 (zlib's) of every byte before it. Both files
 * are written owner-only (0600) under temporary names and renamed into place, so a failed
 * snapshot leaves an older one as it was. */
#ifndef RVISOR_VMM_SNAPSHOT_H
#define RVISOR_VMM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/vm.h"

#define SNAPSHOT_FORMAT    1
#define SNAPSHOT_STATE_MAX (64u << 20) /* bytes: a larger state file is refused */

/* Save paused vm: its state to state_path, its RAM to mem_path. Devices finish the requests
 * they hold first (vm_devices_quiesce). Returns 0, or -errno with one sentence in err naming
 * what failed (a file that cannot be written, a device that cannot be saved). */
int vm_snapshot_save(struct vm *vm, const char *state_path, const char *mem_path, char *err,
		     size_t errlen);

/* A state file read and checked (magic, format, CRC), its configuration parsed. */
struct vm_snapshot {
	uint8_t *buf; /* the whole file */
	size_t len;
	struct vm_config cfg; /* its strings point into strings */
	char *strings;        /* malloc'd */
	size_t body;          /* offset of the "vm" section */
	uint64_t guest_ticks; /* the guest's clock when saved */
};

/* Read state_path and fill s->cfg for vm_create, with mem_path as the memory file (restore
 * mode: nothing is loaded into RAM). Returns 0, or -errno with one sentence in err: no such
 * file, not a snapshot, another format version, a damaged file (CRC), a bad configuration. */
int vm_snapshot_open(struct vm_snapshot *s, const char *state_path, const char *mem_path, char *err,
		     size_t errlen);
/* Load the harts and devices of s into vm, created by vm_create(&s->cfg) and not run yet;
 * the guest's clock goes on from the saved time. Returns 0, or -EINVAL with one sentence in
 * err naming the section and the problem (the VM is then unusable: destroy it). */
int vm_snapshot_load(struct vm *vm, struct vm_snapshot *s, char *err, size_t errlen);
/* Free what vm_snapshot_open allocated (after vm_destroy: the VM's configuration points
 * into it). */
void vm_snapshot_close(struct vm_snapshot *s);

#endif
