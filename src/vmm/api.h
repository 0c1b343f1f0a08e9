/* The control plane: Firecracker's REST API on a Unix socket (its OpenAPI description,
 * firecracker.yaml, is the reference for paths, methods, bodies, status codes and the error
 * body {"fault_message": ...}), and its JSON configuration file. Before the guest starts the
 * API builds the VM's configuration (boot source, machine configuration, drives, network
 * interfaces); InstanceStart boots it; afterwards it reports the instance and pauses and
 * resumes it. HTTP is libmicrohttpd's, JSON jansson's. */
#ifndef RVISOR_VMM_API_H
#define RVISOR_VMM_API_H

#include <stdbool.h>
#include <stddef.h>

/* `rvisor restore`: start from a snapshot (vmm/snapshot.h) instead of a configuration. */
struct api_restore {
	const char *snapshot;   /* the state file */
	const char *mem_file;   /* the memory file, mapped copy-on-write */
	bool paused;            /* stay paused until PATCH /vm {"state": "Resumed"} */
	bool track_dirty_pages; /* keep a dirty log, for diff snapshots of the restored VM */
	/* Instead of the two files: a migration received (vm_migrate_receive), answered once
	 * the VM is made; the VM runs when the source says go. */
	struct migrate_in *migration;
};

/* Run a VM under the control plane: serve the API on the Unix socket sock_path (NULL: no
 * API), and when config_file is given apply it and start the guest at once (else wait for
 * InstanceStart); with restore, restore that snapshot at once. Returns when the guest ends (its
 * enum vm_status, the process's exit code), or 1 after printing one line naming the problem (a
 * socket path in use, a bad configuration file, a guest that cannot start from a configuration
 * file). */
int api_main(const char *sock_path, const char *config_file, const struct api_restore *restore);

struct api;
/* A control plane that serves requests but cannot start a guest (InstanceStart answers 400):
 * for the request fuzzer and tests. NULL when out of memory. Free with api_free. */
struct api *api_new(void);
/* Serve one request: method ("GET", "PUT", "PATCH"), url (the path, e.g. "/drives/rootfs"),
 * body (len bytes, JSON; len 0 for none). Returns the HTTP status (200, 204 or 400) and
 * sets *reply to the JSON response body (malloc'd, for free()), or NULL for none. */
unsigned api_request(struct api *a, const char *method, const char *url, const char *body,
		     size_t len, char **reply);
/* Close what a's requests opened (metrics and log sinks) and free it. */
void api_free(struct api *a);

#endif
