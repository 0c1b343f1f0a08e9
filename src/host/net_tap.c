/* The TAP network backend: a /dev/net/tun descriptor in IFF_TAP | IFF_NO_PI mode, so each
 * read or write is one plain Ethernet frame, and a reader thread that hands frames to the
 * attached device. IFF_VNET_HDR is not used: the device offers no segmentation offload and
 * completes and checks checksums itself, so a kernel-side virtio_net_hdr would carry
 * nothing, and without TUNSETOFFLOAD the kernel gives only whole, checksummed frames. */
#include "host/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/net.h"
#include "host/seccomp.h"

#define TUN_PATH "/dev/net/tun"

struct net_tap {
	struct net_backend nb; /* first: the struct net_backend * handed out points here */
	int fd;
	int wake_fd; /* an eventfd: tells the reader to stop */
	char ifname[IFNAMSIZ];

	pthread_mutex_t lock; /* guards receive: held while a frame is delivered */
	net_receive_fn receive;
	void *receive_opaque;

	pthread_t reader;
	bool reader_started;
	uint8_t *buf; /* reader-only: NET_FRAME_MAX + 1 bytes, so a longer frame shows */
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static void *reader_main(void *opaque)
{
	struct net_tap *t = opaque;
	seccomp_enter(SECCOMP_DEVICE);

	for (;;) {
		struct pollfd p[2] = {{.fd = t->fd, .events = POLLIN},
				      {.fd = t->wake_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			fprintf(stderr, "rvisor: net: TAP %s failed: no more frames from it\n",
				t->ifname);
			break;
		}
		ssize_t n = read(t->fd, t->buf, NET_FRAME_MAX + 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0) {
			fprintf(stderr, "rvisor: net: reading TAP %s: %s: no more frames from it\n",
				t->ifname, strerror(errno));
			break;
		}
		if (n < NET_ETH_HLEN || n > NET_FRAME_MAX)
			continue; /* runt, or longer than any frame the guest can take */
		pthread_mutex_lock(&t->lock);
		if (t->receive)
			t->receive(t->receive_opaque, t->buf, (size_t)n);
		pthread_mutex_unlock(&t->lock);
	}
	return NULL;
}

static int tap_send(struct net_backend *nb, const void *frame, size_t len)
{
	struct net_tap *t = (struct net_tap *)nb;
	if (len < NET_ETH_HLEN || len > NET_FRAME_MAX)
		return -EMSGSIZE;
	for (;;) {
		int fd = __atomic_load_n(&t->fd, __ATOMIC_ACQUIRE); /* -1 while handed over */
		if (fd < 0)
			return -ENOTCONN;
		ssize_t n = write(fd, frame, len);
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0)
			return -EIO; /* a TAP takes a frame whole or not at all */
		if (errno != EINTR)
			return -errno; /* EAGAIN: the host is not keeping up, drop */
	}
}

static void tap_attach(struct net_backend *nb, net_receive_fn receive, void *opaque)
{
	struct net_tap *t = (struct net_tap *)nb;
	pthread_mutex_lock(&t->lock);
	t->receive = receive;
	t->receive_opaque = receive ? opaque : NULL;
	pthread_mutex_unlock(&t->lock);
}

/* Stop the reader thread (if it runs) and empty its wake-up eventfd. */
static void stop_reader(struct net_tap *t)
{
	if (!t->reader_started)
		return;
	/* Adding 1 to an eventfd that only ever gets 1 cannot fail. */
	uint64_t one = 1;
	ssize_t n = write(t->wake_fd, &one, sizeof(one));
	pthread_join(t->reader, NULL);
	t->reader_started = false;
	n = read(t->wake_fd, &one, sizeof(one));
	(void)n;
}

/* Start the reader thread, which takes no signals (the VMM waits for them on its own
 * thread). Returns 0 or -errno. */
static int start_reader(struct net_tap *t)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = -pthread_create(&t->reader, NULL, reader_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	t->reader_started = !rc;
	return rc;
}

static void tap_close(struct net_backend *nb)
{
	struct net_tap *t = (struct net_tap *)nb;
	if (!t)
		return;
	stop_reader(t);
	if (t->wake_fd >= 0)
		close(t->wake_fd);
	if (t->fd >= 0)
		close(t->fd);
	pthread_mutex_destroy(&t->lock);
	free(t->buf);
	free(t);
}

const char *net_tap_ifname(const struct net_backend *nb)
{
	return ((const struct net_tap *)nb)->ifname;
}

/* Open /dev/net/tun and bind it to the interface; errors as net_tap_open. */
static int tap_bind(struct net_tap *t, const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;

	t->fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		int e = errno;
		if (e == ENOENT || e == ENXIO || e == ENODEV)
			return fail(err, errlen, -ENOENT,
				    "%s is missing: load the tun module (modprobe tun) or use user "
				    "networking",
				    TUN_PATH);
		if (e == EACCES || e == EPERM)
			return fail(err, errlen, -e,
				    "%s cannot be opened (%s): run with access to it (root, or a "
				    "group allowed to open it) or use user networking",
				    TUN_PATH, strerror(e));
		return fail(err, errlen, -e, "%s cannot be opened (%s)", TUN_PATH, strerror(e));
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		const char *shown = *name ? name : "(new)";
		if (e == EPERM || e == EACCES)
			return fail(err, errlen, -e,
				    "TAP interface %s cannot be created or used without "
				    "CAP_NET_ADMIN: create it first with `ip tuntap add dev NAME "
				    "mode tap user $USER` and name it, or run as root",
				    shown);
		if (e == EBUSY)
			return fail(err, errlen, -e,
				    "interface %s is busy or is not a TAP (it may be in use by "
				    "another program, or a TUN): pick another name",
				    shown);
		return fail(err, errlen, -e, "TAP interface %s cannot be attached (%s)", shown,
			    strerror(e));
	}
	memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ - 1);
	return 0;
}

/* The interface's MTU (SIOCGIFMTU), or NET_MTU_DEFAULT when it cannot be read or is outside
 * NET_MTU_MIN..NET_MTU_MAX. Read once: a later `ip link set mtu` is not followed. */
static unsigned tap_mtu(const struct net_tap *t)
{
	struct ifreq ifr;
	unsigned mtu = NET_MTU_DEFAULT;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return mtu;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->ifname, sizeof(t->ifname) - 1);
	if (ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= NET_MTU_MIN &&
	    ifr.ifr_mtu <= NET_MTU_MAX)
		mtu = (unsigned)ifr.ifr_mtu;
	close(s);
	return mtu;
}

int net_tap_open(struct net_backend **out, const char *ifname, char *err, size_t errlen)
{
	const char *name = ifname ? ifname : "";
	int rc;

	*out = NULL;
	if (strlen(name) >= IFNAMSIZ)
		return fail(err, errlen, -EINVAL,
			    "TAP interface name '%s' is too long: use at most %d characters", name,
			    IFNAMSIZ - 1);
	struct net_tap *t = calloc(1, sizeof(*t));
	if (!t)
		return fail(err, errlen, -ENOMEM, "out of memory opening a TAP interface");
	t->nb = (struct net_backend){tap_send, tap_attach, tap_close, NET_MTU_DEFAULT};
	t->fd = t->wake_fd = -1;
	rc = -pthread_mutex_init(&t->lock, NULL);
	if (rc) {
		free(t);
		return fail(err, errlen, rc, "cannot open a TAP interface (%s)", strerror(-rc));
	}
	t->buf = malloc(NET_FRAME_MAX + 1);
	if (!t->buf) {
		tap_close(&t->nb);
		return fail(err, errlen, -ENOMEM, "out of memory opening a TAP interface");
	}
	rc = tap_bind(t, name, err, errlen);
	if (rc) {
		tap_close(&t->nb);
		return rc;
	}
	t->nb.mtu = tap_mtu(t);
	t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->wake_fd < 0) {
		rc = -errno;
		tap_close(&t->nb);
		return fail(err, errlen, rc, "cannot open TAP interface (%s)", strerror(-rc));
	}

	rc = start_reader(t);
	if (rc) {
		tap_close(&t->nb);
		return fail(err, errlen, rc, "cannot start the TAP reader thread (%s)",
			    strerror(-rc));
	}
	*out = &t->nb;
	return 0;
}

/* Close the interface's descriptor (if open); sends from now on are dropped. */
static void detach(struct net_tap *t)
{
	int fd = t->fd;
	__atomic_store_n(&t->fd, -1, __ATOMIC_RELEASE);
	if (fd >= 0)
		close(fd);
}

int net_tap_hand_over(struct net_backend *nb, bool release, char *err, size_t errlen)
{
	/* Called with the VM paused and its devices quiesced: no send is under way (a send
	 * racing the close could write to a reused descriptor number). */
	struct net_tap *t = (struct net_tap *)nb;
	if (release) {
		if (t->fd >= 0) {
			stop_reader(t);
			detach(t);
		}
		return 0;
	}
	if (t->fd >= 0)
		return 0;
	char name[IFNAMSIZ];
	memcpy(name, t->ifname, sizeof(name));
	int rc = tap_bind(t, name, err, errlen);
	if (!rc && (rc = start_reader(t)))
		fail(err, errlen, rc, "cannot restart the TAP reader thread (%s)", strerror(-rc));
	if (rc)
		detach(t);
	return rc;
}
