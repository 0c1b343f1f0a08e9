/* Command-line device options (see config.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config.h"

#define DRIVE_SYNTAX "use --drive path=FILE[,readonly=on][,id=NAME]"

int config_parse_drive(char *spec, struct vm_drive *d, char *err, size_t errlen)
{
	char *save = NULL;
	memset(d, 0, sizeof(*d));
	for (char *kv = strtok_r(spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *val = strchr(kv, '=');
		if (!val) {
			snprintf(err, errlen, "--drive: '%s' is not key=value: " DRIVE_SYNTAX, kv);
			return -EINVAL;
		}
		*val++ = 0;
		if (!strcmp(kv, "path") || !strcmp(kv, "file")) {
			if (!*val) {
				snprintf(err, errlen, "--drive: empty path: " DRIVE_SYNTAX);
				return -EINVAL;
			}
			d->path = val;
		} else if (!strcmp(kv, "readonly")) {
			if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "1"))
				d->readonly = true;
			else if (!strcmp(val, "off") || !strcmp(val, "false") || !strcmp(val, "0"))
				d->readonly = false;
			else {
				snprintf(err, errlen, "--drive: readonly='%s' must be on or off",
					 val);
				return -EINVAL;
			}
		} else if (!strcmp(kv, "id")) {
			if (strlen(val) > DRIVE_ID_MAX) {
				snprintf(
				    err, errlen,
				    "--drive: id '%s' is longer than %d characters: shorten it",
				    val, DRIVE_ID_MAX);
				return -EINVAL;
			}
			strcpy(d->id, val);
		} else {
			snprintf(err, errlen, "--drive: unknown key '%s': " DRIVE_SYNTAX, kv);
			return -EINVAL;
		}
	}
	if (!d->path) {
		snprintf(err, errlen, "--drive: no path given: " DRIVE_SYNTAX);
		return -EINVAL;
	}
	return 0;
}
