/* The control plane: Firecracker's REST API on a Unix socket (its OpenAPI description,
 * firecracker.yaml, is the reference for paths, methods, bodies, status codes and the error
 * body {"fault_message": ...}), and its JSON configuration file. Before the guest starts the
 * API builds the VM's configuration (boot source, machine configuration, drives, network
 * interfaces); InstanceStart boots it; afterwards it reports the instance and pauses and
 * resumes it. HTTP is libmicrohttpd's, JSON jansson's. */
#ifndef RVISOR_VMM_API_H
#define RVISOR_VMM_API_H

#include <stdbool.h>

/* Run a VM under the control plane: serve the API on the Unix socket sock_path (NULL: no
 * API), and when config_file is given apply it and start the guest at once (else wait for
 * InstanceStart). Returns when the guest ends (its enum vm_status, the process's exit code),
 * or 1 after printing one line naming the problem (a socket path in use, a bad
 * configuration file, a guest that cannot start from a configuration file). */
int api_main(const char *sock_path, const char *config_file);

#endif
