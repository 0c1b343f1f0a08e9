/* virtio-fs (virtio 1.2 section 5.11): a host directory shared with the guest, served by a
 * vhost-user back end such as virtiofsd. rvisor keeps the guest's rings and relays only
 * their indexes: the daemon gets shadow avail and used rings (in a memfd of rvisor's) and
 * the guest's own descriptor table, reads the FUSE requests from guest RAM and writes the
 * replies there itself, so file data never passes through rvisor; rvisor sees every request
 * go out and come back, so that when the daemon dies it fails the ones in flight, and every
 * later one, with EIO instead of leaving the guest waiting forever. */
#ifndef RVISOR_VIRTIO_FS_H
#define RVISOR_VIRTIO_FS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/vhost_user.h"
#include "virtio/virtq.h"

struct state_out;
struct virtio_dev;
struct virtio_transport;

#define VIRTIO_ID_FS      26 /* 5.11.1 */
#define VIRTIO_FS_TAG_MAX 36 /* bytes of the tag in the configuration space (5.11.4) */
#define VIRTIO_FS_QUEUES  2  /* the hiprio queue and one request queue */

/* One queue as the daemon sees it: rvisor's shadow avail and used rings. */
struct virtio_fs_ring {
	uint8_t *avail, *used; /* in the shadow memfd */
	uint16_t num;          /* the guest's queue size */
	uint16_t avail_idx;    /* shadow avail entries published */
	uint16_t used_seen;    /* shadow used entries relayed to the guest */
	uint32_t epoch;        /* the guest queue's epoch this ring serves */
	bool started;          /* handed to the daemon */
	unsigned ninflight;
	bool inflight[VIRTQ_MAX_SIZE]; /* heads the daemon holds */
};

/* One shared directory: the connection to its daemon and the relay's state. */
struct virtio_fs {
	struct vhost_user vu;
	char tag[VIRTIO_FS_TAG_MAX]; /* NUL-padded, not necessarily NUL-terminated */
	struct guest_mem *mem;
	int shm_fd;                 /* the shadow rings' memfd */
	uint8_t *shm;               /* its mapping */
	pthread_mutex_t lock;       /* the rings, features_sent, gone, t */
	struct virtio_transport *t; /* known from the first notification */
	struct virtio_fs_ring ring[VIRTIO_FS_QUEUES];
	bool features_sent;
	bool gone; /* the daemon closed its socket, failed a message or broke a ring */
	int kick[VIRTIO_FS_QUEUES], call[VIRTIO_FS_QUEUES]; /* eventfds */
	int stop;                                           /* eventfd that ends the thread */
	pthread_t thread; /* waits on the call eventfds and the socket */
	bool thread_up;
};

/* Connect to the vhost-user daemon on socket (vhost_user_connect, with guest RAM and the
 * shadow rings in the memory table) and fill dev for a transport's init: device ID 26, the
 * daemon's indirect descriptor support, the tag (1 to 35 bytes, what the guest mounts) and
 * one request queue in the configuration space. Starts the thread that relays what the daemon
 * used and watches its socket. Returns 0, or -errno with one sentence in err. */
int virtio_fs_init(struct virtio_fs *fs, const char *tag, const char *socket, struct guest_mem *mem,
		   struct virtio_dev *dev, char *err, size_t errlen);
/* Stop the thread, close the connection, the eventfds and the shadow memory. Call before the
 * transport is destroyed. */
void virtio_fs_destroy(struct virtio_fs *fs);
/* Snapshots (see transport.h): not in this version. Fails the stream with a sentence naming
 * the share and why (its vhost-user daemon holds requests and state of its own). */
void virtio_fs_state_save(struct virtio_fs *fs, struct state_out *o);

#endif
