/* virtio-fs on a vhost-user back end (virtio 1.2 section 5.11; vhost-user.rst), with rvisor
 * relaying ring indexes between the guest and the daemon:
 *
 * - kick (a vCPU notifying): each head the guest made available is taken from its avail ring
 *   (without parsing the chain: the daemon does) and published in the shadow avail ring, then
 *   the daemon's kick eventfd is written;
 * - call (the daemon's eventfd, on this device's thread): each element the daemon put in the
 *   shadow used ring is checked (a head it holds) and completed into the guest's used ring,
 *   with the interrupt the guest asked for;
 * - the daemon gone (its socket closed, a message failed, a bad used element): every request
 *   it held is completed with a FUSE reply of error EIO, and so is every later one.
 *
 * Lock order: the transport's lock, then fs->lock (fs_reset runs under the first); the relay
 * takes them one at a time. */
#include "virtio/fs.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host/seccomp.h"
#include "virtio/transport.h"

/* The shadow rings of queue q at FS_RING_SIZE * q in the shared memfd: avail first, used at
 * FS_USED_OFF (room for VIRTQ_MAX_SIZE entries each). Guest-physical addresses above any RAM
 * name them in the memory table; only their user addresses are ever handed out. */
#define FS_RING_SIZE  0x4000
#define FS_USED_OFF   0x1000
#define FS_SHADOW_GPA (1ull << 52)
#define FS_SHM_SIZE   (VIRTIO_FS_QUEUES * FS_RING_SIZE)

/* Split ring fields (2.7.6, 2.7.8). */
#define RING_IDX  2
#define RING_ELEM 4

/* FUSE (include/uapi/linux/fuse.h): the headers of a request and of its reply, and the
 * requests that get no reply. */
#define FUSE_FORGET       2
#define FUSE_BATCH_FORGET 42
struct fuse_in_head {
	uint32_t len, opcode;
	uint64_t unique;
};
struct fuse_out_head {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};

static uint32_t fs_config_read(void *opaque, uint32_t off, unsigned size)
{
	struct virtio_fs *fs = opaque;
	uint8_t cfg[VIRTIO_FS_TAG_MAX + 4] = {0};
	memcpy(cfg, fs->tag, VIRTIO_FS_TAG_MAX);
	cfg[VIRTIO_FS_TAG_MAX] = 1; /* num_request_queues, le32 */
	uint32_t v = 0;
	memcpy(&v, cfg + off, size); /* off + size within config_size: the transport checked */
	return v;
}

/* ---- the daemon's end ---- */

/* Answer one request the daemon will never answer: a FUSE reply with error EIO (none for the
 * forget requests, which get no reply), completed into the guest's ring. */
static void fail_request(struct virtio_transport *t, unsigned q, uint32_t epoch, uint16_t head,
			 struct virtq_req *req)
{
	uint32_t len = 0;
	if (virtio_chain(t, q, epoch, head, req) == 0) {
		struct fuse_in_head in = {0};
		virtq_read(req, 0, &in, sizeof(in));
		uint32_t op = le32toh(in.opcode);
		if (op != FUSE_FORGET && op != FUSE_BATCH_FORGET && req->in_len >= 16) {
			struct fuse_out_head out = {htole32(16), (int32_t)htole32((uint32_t)-EIO),
						    in.unique};
			len = (uint32_t)virtq_write(req, 0, &out, sizeof(out));
		}
	}
	/* A chain that cannot be parsed is returned empty: the guest set it up wrong. */
	virtio_complete(t, q, epoch, head, len);
}

static void report_gone(const struct virtio_fs *fs, const char *why)
{
	fprintf(
	    stderr,
	    "rvisor: virtio-fs '%.*s': the vhost-user daemon %s; its requests now fail with EIO "
	    "(restart the VM with the daemon running)\n",
	    VIRTIO_FS_TAG_MAX, fs->tag, why);
}

/* The daemon is gone: say so once, and fail every request it held. */
static void daemon_gone(struct virtio_fs *fs, const char *why)
{
	struct {
		unsigned q;
		uint32_t epoch;
		uint16_t head;
	} *held = malloc(sizeof(*held) * VIRTIO_FS_QUEUES * VIRTQ_MAX_SIZE);
	unsigned n = 0;
	pthread_mutex_lock(&fs->lock);
	bool first = !fs->gone;
	fs->gone = true;
	struct virtio_transport *t = fs->t;
	for (unsigned q = 0; q < VIRTIO_FS_QUEUES; q++) {
		struct virtio_fs_ring *r = &fs->ring[q];
		for (unsigned h = 0; h < VIRTQ_MAX_SIZE && r->ninflight; h++) {
			if (!r->inflight[h])
				continue;
			r->inflight[h] = false;
			r->ninflight--;
			if (held)
				held[n++] = (__typeof__(*held)){q, r->epoch, (uint16_t)h};
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (first)
		report_gone(fs, why);
	struct virtq_req *req = n ? malloc(sizeof(*req)) : NULL;
	for (unsigned i = 0; i < n && t; i++) {
		if (req)
			fail_request(t, held[i].q, held[i].epoch, held[i].head, req);
		else
			virtio_complete(t, held[i].q, held[i].epoch, held[i].head, 0);
	}
	free(req);
	free(held);
}

/* ---- kick: the guest's new requests to the daemon ---- */

/* Hand ring q to the daemon: features first (once per driver start), then the ring, its
 * shadow avail and used rings emptied. With the transport's lock and then fs->lock held. */
static int start_ring(struct virtio_fs *fs, struct virtio_transport *t, unsigned q)
{
	const struct virtq v = t->vq[q];
	struct virtio_fs_ring *r = &fs->ring[q];
	if (!v.ready)
		return 0;
	/* The transport checked the layout lies in RAM when the driver enabled the queue. */
	void *desc = guest_mem_ptr(fs->mem, v.desc_gpa, 16ull * v.num);
	if (!desc)
		return -EFAULT;
	int rc = 0;
	if (!fs->features_sent) {
		/* The shadow rings use neither event index nor interrupt suppression: the daemon
		 * notifies for every batch, and rvisor applies the guest's wishes. */
		uint64_t f = t->driver_features &
			     ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC));
		rc = vhost_user_set_features(&fs->vu, f);
	}
	fs->features_sent = !rc;
	memset(fs->shm + FS_RING_SIZE * q, 0, FS_RING_SIZE);
	r->avail = fs->shm + FS_RING_SIZE * q;
	r->used = r->avail + FS_USED_OFF;
	r->num = v.num;
	r->avail_idx = r->used_seen = 0;
	r->epoch = v.epoch;
	memset(r->inflight, 0, sizeof(r->inflight));
	r->ninflight = 0;
	struct vhost_user_vring vr = {.index = q,
				      .num = v.num,
				      .desc = (uint64_t)(uintptr_t)desc,
				      .avail = (uint64_t)(uintptr_t)r->avail,
				      .used = (uint64_t)(uintptr_t)r->used,
				      .kick_fd = fs->kick[q],
				      .call_fd = fs->call[q]};
	if (!rc)
		rc = vhost_user_start_vring(&fs->vu, &vr);
	r->started = !rc;
	return rc;
}

/* Publish head (taken from the guest in epoch) to the daemon. Returns false when it cannot
 * be: the daemon is gone (the caller fails it), or the queue moved on (it is dropped). */
static bool publish(struct virtio_fs *fs, unsigned q, uint32_t epoch, uint16_t head, bool *fail)
{
	struct virtio_fs_ring *r = &fs->ring[q];
	*fail = false;
	pthread_mutex_lock(&fs->lock);
	bool ok = false;
	if (fs->gone) {
		*fail = true;
	} else if (r->started && r->epoch == epoch && head < r->num && !r->inflight[head]) {
		uint16_t slot = r->avail_idx & (r->num - 1);
		uint16_t le = htole16(head);
		memcpy(r->avail + RING_ELEM + 2u * slot, &le, 2);
		r->avail_idx++;
		le = htole16(r->avail_idx);
		__atomic_store((uint16_t *)(void *)(r->avail + RING_IDX), &le, __ATOMIC_RELEASE);
		r->inflight[head] = true;
		r->ninflight++;
		ok = true;
	}
	/* Else the queue was reset since the head was taken (or the guest made one head
	 * available twice): it belongs to no request the daemon could finish. */
	pthread_mutex_unlock(&fs->lock);
	return ok;
}

static void fs_queue_notify(void *opaque, struct virtio_transport *t, unsigned q)
{
	struct virtio_fs *fs = opaque;
	if (q >= VIRTIO_FS_QUEUES)
		return;
	pthread_mutex_lock(&t->lock);
	pthread_mutex_lock(&fs->lock);
	fs->t = t;
	int rc = 0;
	if (!fs->gone && !fs->ring[q].started)
		rc = start_ring(fs, t, q);
	pthread_mutex_unlock(&fs->lock);
	pthread_mutex_unlock(&t->lock);
	if (rc)
		daemon_gone(fs, "refused a ring or stopped answering");

	struct virtq_req *req = NULL;
	bool kick = false;
	uint16_t head;
	uint32_t epoch;
	while (virtio_take_head(t, q, &head, &epoch) == 1) {
		bool fail;
		if (publish(fs, q, epoch, head, &fail)) {
			kick = true;
			continue;
		}
		if (!fail)
			continue;
		if (!req && !(req = malloc(sizeof(*req))))
			virtio_complete(t, q, epoch, head, 0);
		else
			fail_request(t, q, epoch, head, req);
	}
	free(req);
	uint64_t one = 1;
	if (kick && write(fs->kick[q], &one, sizeof(one)) < 0) {
		/* Fails only when the counter is full: the daemon has been kicked already. */
	}
}

/* Driver reset: take the rings back from the daemon (GET_VRING_BASE stops each); what it held
 * belongs to no ring now. Runs with the transport lock held. */
static void fs_reset(void *opaque)
{
	struct virtio_fs *fs = opaque;
	pthread_mutex_lock(&fs->lock);
	bool failed = false;
	for (unsigned q = 0; q < VIRTIO_FS_QUEUES; q++) {
		struct virtio_fs_ring *r = &fs->ring[q];
		if (r->started && !fs->gone && vhost_user_stop_vring(&fs->vu, q))
			failed = true;
		r->started = false;
		r->ninflight = 0;
		memset(r->inflight, 0, sizeof(r->inflight));
	}
	fs->features_sent = false;
	bool first = failed && !fs->gone;
	fs->gone |= failed; /* nothing is in flight after a reset: nothing to fail */
	pthread_mutex_unlock(&fs->lock);
	if (first)
		report_gone(fs, "did not give a ring back on reset");
}

/* ---- call: what the daemon used, to the guest ---- */

/* Relay the daemon's new used elements of ring q. Returns false if it broke the ring. */
static bool relay_used(struct virtio_fs *fs, unsigned q)
{
	struct virtq_used_elem elems[64];
	bool ok = true, more = true;
	while (ok && more) {
		unsigned n = 0;
		uint32_t epoch = 0;
		pthread_mutex_lock(&fs->lock);
		struct virtio_fs_ring *r = &fs->ring[q];
		struct virtio_transport *t = fs->t;
		if (r->started && !fs->gone && t) {
			uint16_t idx;
			__atomic_load((uint16_t *)(void *)(r->used + RING_IDX), &idx,
				      __ATOMIC_ACQUIRE);
			idx = le16toh(idx);
			uint16_t pending = (uint16_t)(idx - r->used_seen);
			ok = pending <= r->ninflight;
			while (ok && n < 64 && r->used_seen != idx) {
				uint16_t slot = r->used_seen & (r->num - 1);
				uint32_t id, len;
				memcpy(&id, r->used + RING_ELEM + 8u * slot, 4);
				memcpy(&len, r->used + RING_ELEM + 8u * slot + 4, 4);
				id = le32toh(id);
				ok = id < r->num && r->inflight[id];
				if (!ok)
					break;
				r->inflight[id] = false;
				r->ninflight--;
				r->used_seen++;
				elems[n++] = (struct virtq_used_elem){(uint16_t)id, le32toh(len)};
			}
			epoch = r->epoch;
			more = ok && r->used_seen != idx;
		} else {
			more = false;
		}
		pthread_mutex_unlock(&fs->lock);
		if (n)
			virtio_complete_batch(t, q, epoch, elems, n);
	}
	return ok;
}

static void *fs_thread(void *arg)
{
	struct virtio_fs *fs = arg;
	seccomp_enter(SECCOMP_DEVICE);
	struct pollfd p[VIRTIO_FS_QUEUES + 2];
	for (unsigned q = 0; q < VIRTIO_FS_QUEUES; q++)
		p[q] = (struct pollfd){.fd = fs->call[q], .events = POLLIN};
	p[VIRTIO_FS_QUEUES] = (struct pollfd){.fd = fs->stop, .events = POLLIN};
	p[VIRTIO_FS_QUEUES + 1] = (struct pollfd){.fd = fs->vu.sock, .events = POLLRDHUP};
	for (;;) {
		if (poll(p, VIRTIO_FS_QUEUES + 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[VIRTIO_FS_QUEUES].revents)
			break;
		for (unsigned q = 0; q < VIRTIO_FS_QUEUES; q++) {
			uint64_t n;
			if ((p[q].revents & POLLIN) && read(fs->call[q], &n, sizeof(n)) > 0 &&
			    !relay_used(fs, q))
				daemon_gone(fs, "returned a request it did not hold");
		}
		if (p[VIRTIO_FS_QUEUES + 1].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
			/* What it finished before it went is the guest's: relay that first. */
			for (unsigned q = 0; q < VIRTIO_FS_QUEUES; q++)
				relay_used(fs, q);
			daemon_gone(fs, "closed its socket");
			p[VIRTIO_FS_QUEUES + 1].fd = -1; /* poll ignores it from now on */
		}
	}
	return NULL;
}

/* ---- set-up ---- */

int virtio_fs_init(struct virtio_fs *fs, const char *tag, const char *socket, struct guest_mem *mem,
		   struct virtio_dev *dev, char *err, size_t errlen)
{
	memset(fs, 0, sizeof(*fs));
	fs->vu.sock = fs->stop = fs->shm_fd = -1;
	for (unsigned q = 0; q < VIRTIO_FS_QUEUES; q++)
		fs->kick[q] = fs->call[q] = -1;
	size_t len = strlen(tag);
	if (len == 0 || len >= VIRTIO_FS_TAG_MAX) {
		snprintf(err, errlen, "--fs: tag '%s' must be 1 to %d bytes", tag,
			 VIRTIO_FS_TAG_MAX - 1);
		return -EINVAL;
	}
	memcpy(fs->tag, tag, len);
	fs->mem = mem;
	int rc = -pthread_mutex_init(&fs->lock, NULL);
	for (unsigned q = 0; q < VIRTIO_FS_QUEUES && !rc; q++) {
		fs->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		fs->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fs->kick[q] < 0 || fs->call[q] < 0)
			rc = -errno;
	}
	if (!rc && (fs->stop = eventfd(0, EFD_CLOEXEC)) < 0)
		rc = -errno;
	if (!rc && ((fs->shm_fd = memfd_create("rvisor-virtio-fs", MFD_CLOEXEC)) < 0 ||
		    ftruncate(fs->shm_fd, FS_SHM_SIZE) < 0))
		rc = -errno;
	if (!rc) {
		void *p =
		    mmap(NULL, FS_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fs->shm_fd, 0);
		if (p == MAP_FAILED)
			rc = -errno;
		else
			fs->shm = p;
	}
	if (rc) {
		snprintf(err, errlen, "cannot create the virtio-fs device (%s)", strerror(-rc));
		virtio_fs_destroy(fs);
		return rc;
	}
	const struct vhost_user_region regions[] = {
	    {mem->base, mem->size, mem->hva, mem->fd},
	    {FS_SHADOW_GPA, FS_SHM_SIZE, fs->shm, fs->shm_fd},
	};
	rc = vhost_user_connect(&fs->vu, socket, regions, 2, err, errlen);
	if (rc) {
		virtio_fs_destroy(fs);
		return rc;
	}
	rc = -pthread_create(&fs->thread, NULL, fs_thread, fs);
	if (rc) {
		snprintf(err, errlen, "cannot start the virtio-fs thread (%s)", strerror(-rc));
		virtio_fs_destroy(fs);
		return rc;
	}
	fs->thread_up = true;
	*dev = (struct virtio_dev){.device_id = VIRTIO_ID_FS,
				   .features = fs->vu.features & (1ull << VIRTIO_F_INDIRECT_DESC),
				   .external_chains = true,
				   .num_queues = VIRTIO_FS_QUEUES,
				   .config_size = VIRTIO_FS_TAG_MAX + 4,
				   .opaque = fs,
				   .config_read = fs_config_read,
				   .queue_notify = fs_queue_notify,
				   .reset = fs_reset};
	return 0;
}

void virtio_fs_destroy(struct virtio_fs *fs)
{
	if (fs->thread_up) {
		uint64_t one = 1;
		if (write(fs->stop, &one, sizeof(one)) == sizeof(one))
			pthread_join(fs->thread, NULL);
		fs->thread_up = false;
	}
	vhost_user_close(&fs->vu);
	for (unsigned q = 0; q < VIRTIO_FS_QUEUES; q++) {
		if (fs->kick[q] >= 0)
			close(fs->kick[q]);
		if (fs->call[q] >= 0)
			close(fs->call[q]);
		fs->kick[q] = fs->call[q] = -1;
	}
	if (fs->stop >= 0)
		close(fs->stop);
	fs->stop = -1;
	if (fs->shm)
		munmap(fs->shm, FS_SHM_SIZE);
	fs->shm = NULL;
	if (fs->shm_fd >= 0)
		close(fs->shm_fd);
	fs->shm_fd = -1;
}
