/* What a VM's configuration lets rvisor touch on the host, as Landlock rules
 * (host/landlock.h): the files and devices it was given, nothing else. */
#ifndef RVISOR_VMM_SANDBOX_H
#define RVISOR_VMM_SANDBOX_H

#include <stddef.h>

#include "host/landlock.h"
#include "vmm/vm.h"

/* Add to r the paths of cfg: kernel, initrd and firmware read-only; each drive read-write
 * (read-only with readonly=on); /dev/net/tun for a TAP card; the directory of the vsock's
 * Unix socket, read-write (rvisor makes the socket there). Returns 0, or -1 with err set. */
int sandbox_add_config(struct landlock_rules *r, const struct vm_config *cfg, char *err,
		       size_t errlen);

/* Apply r with the C library's lazily opened files added (landlock_add_system). A kernel
 * without Landlock is not an error: one line on stderr says rvisor runs without it. Returns
 * 0, or -1 with err set. */
int sandbox_enter(struct landlock_rules *r, char *err, size_t errlen);

/* Landlock in the API's modes, on only when r holds rules (--landlock-rule: the files the API
 * will name are not known before): r, the API socket's directory (sock; read-write),
 * files[0..nfiles) (read-only; NULL entries skipped) and /dev/net/tun (for TAP cards), then
 * sandbox_enter. Returns 0 (also when r is empty: nothing done), or -1 with err set. */
int sandbox_enter_api(struct landlock_rules *r, const char *sock, const char *const *files,
		      int nfiles, char *err, size_t errlen);

#endif
