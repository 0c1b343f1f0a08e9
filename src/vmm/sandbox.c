/* Landlock rules from a VM's configuration (see sandbox.h). */
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "vmm/sandbox.h"

int sandbox_add_config(struct landlock_rules *r, const struct vm_config *cfg, char *err,
		       size_t errlen)
{
	const char *ro[] = {cfg->kernel, cfg->initrd, cfg->firmware};
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
		if (ro[i] && landlock_add(r, ro[i], LANDLOCK_RO, err, errlen))
			return -1;
	for (unsigned i = 0; i < cfg->ndrives; i++)
		if (landlock_add(r, cfg->drives[i].path,
				 cfg->drives[i].readonly ? LANDLOCK_RO : LANDLOCK_RW, err, errlen))
			return -1;
	bool tap = false;
	for (unsigned i = 0; i < cfg->nnets; i++)
		tap |= cfg->nets[i].type == VM_NET_TAP;
	if (tap && landlock_add(r, "/dev/net/tun", LANDLOCK_RW, err, errlen))
		return -1;
	if (cfg->vsock_uds && landlock_add_dir_of(r, cfg->vsock_uds, LANDLOCK_RW, err, errlen))
		return -1;
	return 0;
}

int sandbox_enter_api(struct landlock_rules *r, const char *sock, const char *const *files,
		      int nfiles, char *err, size_t errlen)
{
	if (!r->n)
		return 0;
	if (sock && landlock_add_dir_of(r, sock, LANDLOCK_RW, err, errlen))
		return -1;
	for (int i = 0; i < nfiles; i++)
		if (files[i] && landlock_add(r, files[i], LANDLOCK_RO, err, errlen))
			return -1;
	if (!access("/dev/net/tun", F_OK) &&
	    landlock_add(r, "/dev/net/tun", LANDLOCK_RW, err, errlen))
		return -1;
	return sandbox_enter(r, err, errlen);
}

int sandbox_enter(struct landlock_rules *r, char *err, size_t errlen)
{
	if (landlock_add_system(r, err, errlen))
		return -1;
	int rc = landlock_apply(r, err, errlen);
	if (rc == 1)
		fputs("rvisor: this kernel has no Landlock: file access is not restricted\n",
		      stderr);
	return rc < 0 ? -1 : 0;
}
