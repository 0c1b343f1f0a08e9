/* User-mode networking with libslirp: the guest sits behind a NAT on 10.0.2.0/24 with the
 * host at 10.0.2.2 (its 127.0.0.1 too), a DNS forwarder at 10.0.2.3, DHCP handing out
 * 10.0.2.15 onwards, and IPv6 on fec0::/64; host ports may be forwarded into the guest. No
 * privileges needed. A net_backend (host/net.h). */
#ifndef RVISOR_HOST_NET_SLIRP_H
#define RVISOR_HOST_NET_SLIRP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_backend;

#define NET_SLIRP_MAX_HOSTFWD 16

/* The slirp link's MTU and MRU (net_backend.mtu). Large, so that the guest's stack, run by
 * the interpreter, handles a few big packets rather than many small ones; libslirp accepts
 * up to 65521 (IF_MTU_MAX, IF_MRU_MAX), and 65520 is the largest multiple of 8, the unit
 * of IP fragment offsets. Its TCP segments to the guest are no larger than the MSS the
 * guest announces, so a guest at a smaller MTU still works. */
#define NET_SLIRP_MTU 65520

/* A host port forwarded into the guest: connections (TCP) or datagrams (UDP) to
 * host_addr:host_port on the host reach guest_addr:guest_port in the guest. */
struct net_slirp_hostfwd {
	bool udp;
	struct in_addr host_addr, guest_addr; /* network byte order */
	uint16_t host_port, guest_port;       /* host byte order, 1..65535 */
};

struct net_slirp_config {
	/* Isolate the guest: it gets its address by DHCP and answers on forwarded ports, but
	 * reaches nothing beyond (no outgoing connections, no DNS). */
	bool restricted;
	struct net_slirp_hostfwd hostfwd[NET_SLIRP_MAX_HOSTFWD];
	unsigned nhostfwd;
};

/* Parse a forwarding rule "[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport", e.g.
 * "tcp:127.0.0.1:2222-:22". The protocol defaults to tcp; an empty host address means
 * 127.0.0.1 (reachable from this machine only; write 0.0.0.0 to accept connections from
 * anywhere); an empty guest address means 10.0.2.15, the first DHCP address. The guest
 * address must be a guest's on 10.0.2.0/24. Returns 0, or -EINVAL with one sentence in err
 * (errlen bytes). */
int net_slirp_parse_hostfwd(const char *spec, struct net_slirp_hostfwd *fwd, char *err,
			    size_t errlen);

/* Start a slirp network with cfg (NULL: no forwarding, not restricted) and its poll thread;
 * *out is the backend. Returns 0, or -errno with one sentence in err (errlen bytes) naming
 * the fix: -EADDRINUSE for a forwarded host port already taken, -EACCES for one below 1024
 * without privilege, -EADDRNOTAVAIL for a host address that is not this machine's, -EINVAL
 * for an invalid rule, -ENOMEM. */
int net_slirp_open(struct net_backend **out, const struct net_slirp_config *cfg, char *err,
		   size_t errlen);

#endif
