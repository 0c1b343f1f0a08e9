/* Command-line device options (see config.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config.h"

#define DRIVE_SYNTAX   \
	"use --drive " \
	"path=FILE[,readonly=on][,id=NAME][,lock=off][,transport=mmio|pci][,format=raw]"

int config_parse_transport(const char *text, enum vm_transport *t)
{
	if (!strcmp(text, "mmio"))
		*t = VM_TRANSPORT_MMIO;
	else if (!strcmp(text, "pci"))
		*t = VM_TRANSPORT_PCI;
	else
		return -EINVAL;
	return 0;
}

int config_parse_drive(char *spec, struct vm_drive *d, char *err, size_t errlen)
{
	char *save = NULL;
	memset(d, 0, sizeof(*d));
	d->lock = true;
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
		} else if (!strcmp(kv, "readonly") || !strcmp(kv, "lock")) {
			bool *flag = kv[0] == 'r' ? &d->readonly : &d->lock;
			if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "1"))
				*flag = true;
			else if (!strcmp(val, "off") || !strcmp(val, "false") || !strcmp(val, "0"))
				*flag = false;
			else {
				snprintf(err, errlen, "--drive: %s='%s' must be on or off", kv,
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
		} else if (!strcmp(kv, "format")) {
			if (strcmp(val, "raw")) {
				snprintf(
				    err, errlen,
				    "--drive: format=%s: rvisor reads raw images only; convert "
				    "it with qemu-img convert -O raw",
				    val);
				return -EINVAL;
			}
			d->format_raw = true;
		} else if (!strcmp(kv, "transport")) {
			if (config_parse_transport(val, &d->transport)) {
				snprintf(err, errlen, "--drive: transport=%s must be mmio or pci",
					 val);
				return -EINVAL;
			}
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

#define NET_SYNTAX                                                                               \
	"use --net user[,hostfwd=tcp:127.0.0.1:2222-:22][,restrict=on][,mac=52:54:00:12:34:56] " \
	"or --net tap=IFNAME[,mac=...] (either with [,transport=mmio|pci])"

static int parse_mac(const char *text, uint8_t mac[6])
{
	unsigned b[6];
	char tail;
	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return (mac[0] & 1) ? -EINVAL : 0; /* a card's address is unicast */
}

int config_parse_net(char *spec, struct vm_net *n, char *err, size_t errlen)
{
	char *save = NULL;
	bool first = true;
	memset(n, 0, sizeof(*n));
	for (char *kv = strtok_r(spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *val = strchr(kv, '=');
		if (val)
			*val++ = 0;
		if (first) {
			first = false;
			if (!strcmp(kv, "user") && !val) {
				n->type = VM_NET_USER;
				continue;
			}
			if (!strcmp(kv, "tap") && val && *val && strlen(val) < sizeof(n->tap)) {
				n->type = VM_NET_TAP;
				strcpy(n->tap, val);
				continue;
			}
			snprintf(err, errlen, "--net: '%s' is not a network type: " NET_SYNTAX, kv);
			return -EINVAL;
		}
		if (!val) {
			snprintf(err, errlen, "--net: '%s' is not key=value: " NET_SYNTAX, kv);
			return -EINVAL;
		}
		if (!strcmp(kv, "mac")) {
			if (parse_mac(val, n->mac)) {
				snprintf(err, errlen,
					 "--net: mac=%s is not a unicast MAC address like "
					 "52:54:00:12:34:56",
					 val);
				return -EINVAL;
			}
			n->has_mac = true;
		} else if (n->type == VM_NET_USER && !strcmp(kv, "hostfwd")) {
			if (n->slirp.nhostfwd == NET_SLIRP_MAX_HOSTFWD) {
				snprintf(err, errlen, "--net: more than %d hostfwd rules",
					 NET_SLIRP_MAX_HOSTFWD);
				return -EINVAL;
			}
			if (net_slirp_parse_hostfwd(val, &n->slirp.hostfwd[n->slirp.nhostfwd], err,
						    errlen))
				return -EINVAL;
			n->slirp.nhostfwd++;
		} else if (n->type == VM_NET_USER && !strcmp(kv, "restrict")) {
			if (strcmp(val, "on") && strcmp(val, "off")) {
				snprintf(err, errlen, "--net: restrict=%s must be on or off", val);
				return -EINVAL;
			}
			n->slirp.restricted = !strcmp(val, "on");
		} else if (!strcmp(kv, "transport")) {
			if (config_parse_transport(val, &n->transport)) {
				snprintf(err, errlen, "--net: transport=%s must be mmio or pci",
					 val);
				return -EINVAL;
			}
		} else {
			snprintf(err, errlen, "--net: unknown key '%s': " NET_SYNTAX, kv);
			return -EINVAL;
		}
	}
	if (first) {
		snprintf(err, errlen, "--net: empty option: " NET_SYNTAX);
		return -EINVAL;
	}
	return 0;
}

#define FS_SYNTAX "use --fs tag=NAME,socket=PATH[,transport=mmio|pci]"

int config_parse_fs(char *spec, struct vm_fs *f, char *err, size_t errlen)
{
	char *save = NULL;
	memset(f, 0, sizeof(*f));
	f->transport = VM_TRANSPORT_PCI;
	for (char *kv = strtok_r(spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *val = strchr(kv, '=');
		if (!val || !val[1]) {
			snprintf(err, errlen, "--fs: '%s' is not key=value: " FS_SYNTAX, kv);
			return -EINVAL;
		}
		*val++ = 0;
		if (!strcmp(kv, "tag")) {
			if (strlen(val) > 35) {
				snprintf(err, errlen, "--fs: tag '%s' is longer than 35 bytes",
					 val);
				return -EINVAL;
			}
			f->tag = val;
		} else if (!strcmp(kv, "socket")) {
			f->socket = val;
		} else if (!strcmp(kv, "transport")) {
			if (config_parse_transport(val, &f->transport)) {
				snprintf(err, errlen, "--fs: transport=%s must be mmio or pci",
					 val);
				return -EINVAL;
			}
		} else {
			snprintf(err, errlen, "--fs: unknown key '%s': " FS_SYNTAX, kv);
			return -EINVAL;
		}
	}
	if (!f->tag || !f->socket) {
		snprintf(err, errlen, "--fs: %s missing: " FS_SYNTAX, f->tag ? "socket=" : "tag=");
		return -EINVAL;
	}
	return 0;
}
