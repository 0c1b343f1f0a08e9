/* TAP networking: the guest's frames go to and come from a host TAP interface
 * (/dev/net/tun, IFF_TAP | IFF_NO_PI), which the host bridges or routes as it likes. A
 * net_backend (host/net.h) whose MTU is the interface's when opened (SIOCGIFMTU; 1500 if it
 * cannot be read): set the interface's MTU before starting the VM. */
#ifndef RVISOR_HOST_NET_TAP_H
#define RVISOR_HOST_NET_TAP_H

#include <stdbool.h>
#include <stddef.h>

struct net_backend;

/* Attach to the TAP interface ifname, creating it if it does not exist (which needs
 * CAP_NET_ADMIN; an interface made beforehand with `ip tuntap add dev NAME mode tap user
 * USER` does not). NULL or "" lets the kernel pick a name (tap0, tap1...). A name may hold
 * one %d for the kernel to number. Starts the reader thread; *out is the backend. Returns 0,
 * or -errno with one sentence in err (errlen bytes) naming the fix: -ENOENT when the host
 * has no /dev/net/tun, -EPERM/-EACCES without the right to it or to the interface, -EBUSY
 * when the interface is in use or not a TAP, -EINVAL for a name of IFNAMSIZ bytes or more,
 * -ENOMEM. */
int net_tap_open(struct net_backend **out, const char *ifname, char *err, size_t errlen);
/* The interface's name, as the kernel completed it. */
const char *net_tap_ifname(const struct net_backend *nb);
/* A live migration on one host (only one process can be attached to a TAP interface):
 * release stops the reader thread and detaches from the interface (frames sent meanwhile
 * are dropped with -ENOTCONN), so that the destination can attach; !release attaches again
 * (the migration failed). Returns 0 or -errno with one sentence in err (errlen bytes), as
 * net_tap_open (e.g. -EBUSY: another process took the interface meanwhile). */
int net_tap_hand_over(struct net_backend *nb, bool release, char *err, size_t errlen);

#endif
