/* vhost-user front end: message framing (a 12-byte header: request, flags with version 1,
 * payload size; file descriptors as SCM_RIGHTS ancillary data) and the requests a device
 * with its rings in a back end needs (QEMU's docs/interop/vhost-user.rst, "Front-end message
 * types"). Every reply is checked for its request code, the reply flag and its size. */
#include "virtio/vhost_user.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

enum {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_SET_VRING_ENABLE = 18,
};

#define VHOST_USER_VERSION   0x1
#define VHOST_USER_REPLY     0x4
#define VHOST_USER_TIMEOUT_S 5 /* seconds a back end may take to take or answer a message */

struct msg_header {
	uint32_t request, flags, size;
};

struct vring_state {
	uint32_t index, num;
};

struct vring_addr {
	uint32_t index, flags;
	uint64_t desc, used, avail, log;
};

struct mem_region {
	uint64_t guest_addr, size, user_addr, mmap_offset;
};

struct mem_table {
	uint32_t nregions, padding;
	struct mem_region region[VHOST_USER_MAX_REGIONS];
};

/* Send request with size bytes of payload and nfds file descriptors. */
static int send_msg(struct vhost_user *vu, uint32_t request, const void *payload, uint32_t size,
		    const int *fds, unsigned nfds)
{
	struct msg_header h = {request, VHOST_USER_VERSION, size};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, size}};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_REGIONS)];
	} control;
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};
	if (nfds) {
		memset(&control, 0, sizeof(control));
		m.msg_control = control.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	size_t want = sizeof(h) + size;
	ssize_t n;
	do
		n = sendmsg(vu->sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == want ? 0 : -EIO; /* a stream socket takes small messages whole */
}

static int recv_all(int sock, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = recv(sock, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Receive the reply to request into payload, which must be exactly size bytes. */
static int recv_reply(struct vhost_user *vu, uint32_t request, void *payload, uint32_t size)
{
	struct msg_header h;
	int rc = recv_all(vu->sock, &h, sizeof(h));
	if (rc)
		return rc;
	if (h.request != request || !(h.flags & VHOST_USER_REPLY) || h.size != size)
		return -EPROTO;
	return recv_all(vu->sock, payload, size);
}

/* One request (and its reply when reply != NULL) under the lock; a failure marks the back
 * end broken, and a broken one gets no more messages. */
static int transact_fds(struct vhost_user *vu, uint32_t request, const void *payload, uint32_t size,
			const int *fds, unsigned nfds, void *reply, uint32_t reply_size)
{
	pthread_mutex_lock(&vu->lock);
	int rc = vu->broken || vu->sock < 0 ? -ENOTCONN : 0;
	if (!rc)
		rc = send_msg(vu, request, payload, size, fds, nfds);
	if (!rc && reply)
		rc = recv_reply(vu, request, reply, reply_size);
	if (rc)
		vu->broken = true;
	pthread_mutex_unlock(&vu->lock);
	return rc;
}

static int transact(struct vhost_user *vu, uint32_t request, const void *payload, uint32_t size,
		    int fd, void *reply, uint32_t reply_size)
{
	return transact_fds(vu, request, payload, size, &fd, fd >= 0, reply, reply_size);
}

static int get_u64(struct vhost_user *vu, uint32_t request, uint64_t *v)
{
	return transact(vu, request, NULL, 0, -1, v, sizeof(*v));
}

static int set_u64(struct vhost_user *vu, uint32_t request, uint64_t v, int fd)
{
	return transact(vu, request, &v, sizeof(v), fd, NULL, 0);
}

static int set_state(struct vhost_user *vu, uint32_t request, unsigned index, unsigned num)
{
	struct vring_state s = {index, num};
	return transact(vu, request, &s, sizeof(s), -1, NULL, 0);
}

int vhost_user_connect(struct vhost_user *vu, const char *path,
		       const struct vhost_user_region *regions, unsigned n, char *err,
		       size_t errlen)
{
	memset(vu, 0, sizeof(*vu));
	vu->sock = -1;
	int rc = -pthread_mutex_init(&vu->lock, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot set up the vhost-user connection (%s)",
			 strerror(-rc));
		return rc;
	}
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "vhost-user socket path '%s' is longer than %zu bytes", path,
			 sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	vu->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (vu->sock < 0 || connect(vu->sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = -errno;
		snprintf(err, errlen,
			 "cannot connect to the vhost-user socket '%s' (%s): start the daemon "
			 "(e.g. virtiofsd --socket-path=%s) first",
			 path, strerror(-rc), path);
		vhost_user_close(vu);
		return rc;
	}
	struct timeval tv = {.tv_sec = VHOST_USER_TIMEOUT_S};
	setsockopt(vu->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(vu->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	uint64_t protocol = 0;
	rc = transact(vu, VHOST_USER_SET_OWNER, NULL, 0, -1, NULL, 0);
	if (!rc)
		rc = get_u64(vu, VHOST_USER_GET_FEATURES, &vu->features);
	vu->protocol = vu->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
	if (!rc && vu->protocol)
		rc = get_u64(vu, VHOST_USER_GET_PROTOCOL_FEATURES, &protocol);
	if (!rc && vu->protocol)
		rc = set_u64(vu, VHOST_USER_SET_PROTOCOL_FEATURES, 0, -1);
	if (!rc && (n == 0 || n > VHOST_USER_MAX_REGIONS))
		rc = -EINVAL;
	if (!rc) {
		struct mem_table t = {.nregions = n};
		int fds[VHOST_USER_MAX_REGIONS];
		for (unsigned i = 0; i < n; i++) {
			t.region[i] =
			    (struct mem_region){.guest_addr = regions[i].gpa,
						.size = regions[i].size,
						.user_addr = (uint64_t)(uintptr_t)regions[i].hva,
						.mmap_offset = 0};
			fds[i] = regions[i].fd;
		}
		size_t len = offsetof(struct mem_table, region) + n * sizeof(t.region[0]);
		rc = transact_fds(vu, VHOST_USER_SET_MEM_TABLE, &t, (uint32_t)len, fds, n, NULL, 0);
	}
	if (rc) {
		snprintf(err, errlen,
			 "the vhost-user daemon on '%s' failed the set-up (%s): is it a vhost-user "
			 "back end of this device type?",
			 path, strerror(-rc));
		vhost_user_close(vu);
		return rc;
	}
	return 0;
}

int vhost_user_set_features(struct vhost_user *vu, uint64_t features)
{
	if (vu->protocol)
		features |= 1ull << VHOST_USER_F_PROTOCOL_FEATURES;
	return set_u64(vu, VHOST_USER_SET_FEATURES, features, -1);
}

int vhost_user_start_vring(struct vhost_user *vu, const struct vhost_user_vring *r)
{
	struct vring_addr a = {
	    .index = r->index, .desc = r->desc, .used = r->used, .avail = r->avail};
	int rc = set_state(vu, VHOST_USER_SET_VRING_NUM, r->index, r->num);
	if (!rc)
		rc = set_state(vu, VHOST_USER_SET_VRING_BASE, r->index, 0);
	if (!rc)
		rc = transact(vu, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), -1, NULL, 0);
	if (!rc)
		rc = set_u64(vu, VHOST_USER_SET_VRING_KICK, r->index, r->kick_fd);
	if (!rc)
		rc = set_u64(vu, VHOST_USER_SET_VRING_CALL, r->index, r->call_fd);
	/* With protocol features rings start disabled (vhost-user.rst, "Ring states"). */
	if (!rc && vu->protocol)
		rc = set_state(vu, VHOST_USER_SET_VRING_ENABLE, r->index, 1);
	return rc;
}

int vhost_user_stop_vring(struct vhost_user *vu, unsigned index)
{
	struct vring_state s = {index, 0}, reply;
	return transact(vu, VHOST_USER_GET_VRING_BASE, &s, sizeof(s), -1, &reply, sizeof(reply));
}

void vhost_user_close(struct vhost_user *vu)
{
	if (vu->sock >= 0)
		close(vu->sock);
	vu->sock = -1;
}
