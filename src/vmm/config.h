/* Parsing of device options given on the command line, e.g. --drive, into the plain structs
 * a VM configuration holds. Errors name the option and the fix. */
#ifndef RVISOR_VMM_CONFIG_H
#define RVISOR_VMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define VM_MAX_DRIVES 8
#define DRIVE_ID_MAX  20 /* bytes of a virtio-blk serial (GET_ID) */

/* A virtio-blk disk: --drive path=FILE[,readonly=on|off][,id=NAME]. */
struct vm_drive {
	const char *path; /* image file or host block device (points into the option text) */
	bool readonly;
	char id[DRIVE_ID_MAX + 1]; /* serial reported to the guest; "" when not given */
};

/* Parse the text of one --drive option into *d. spec is modified in place (split at commas)
 * and must outlive *d. Returns 0, or -EINVAL with one sentence in err (errlen bytes). */
int config_parse_drive(char *spec, struct vm_drive *d, char *err, size_t errlen);

#endif
