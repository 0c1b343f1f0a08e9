/* virtio-balloon (virtio 1.2 section 5.5): the host asks the guest to give back memory (the
 * target, num_pages) and the guest hands over page frames on the inflate queue, which rvisor
 * returns to the host (the memfd's pages are punched out); deflating gives them back to the
 * guest, which finds them zeroed. Also the statistics queue (the guest's memory figures, asked
 * for every stats interval), deflate-on-oom, and free page reporting (the guest reports free
 * blocks, which are returned to the host the same way). */
#ifndef RVISOR_VIRTIO_BALLOON_H
#define RVISOR_VIRTIO_BALLOON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/virtq.h"

struct state_in;
struct state_out;
struct virtio_dev;
struct virtio_transport;

#define VIRTIO_ID_BALLOON 5 /* 5.5.1 */

/* Feature bits (5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ       1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_PAGE_REPORTING 5

/* Queues, as a driver numbers them with the features offered here (5.5.2). */
#define BALLOON_Q_INFLATE   0
#define BALLOON_Q_DEFLATE   1
#define BALLOON_Q_STATS     2
#define BALLOON_Q_REPORTING 3

/* Statistics tags (5.5.6.3); VIRTIO_BALLOON_S_NR is one past the last. */
#define VIRTIO_BALLOON_S_NR 16

/* The guest's last statistics: value[tag], valid when have[tag]. */
struct virtio_balloon_stats {
	uint64_t value[VIRTIO_BALLOON_S_NR];
	bool have[VIRTIO_BALLOON_S_NR];
};

struct virtio_balloon {
	struct guest_mem *mem;
	pthread_mutex_t lock;       /* everything below */
	struct virtio_transport *t; /* known from the first notification */
	uint32_t target_pages;      /* num_pages: what the host asks the guest to give */
	uint32_t actual_pages;      /* actual: what the guest says it gave */
	bool deflate_on_oom;
	uint64_t inflated; /* 4 KiB pages returned to the host by inflation */
	uint64_t reported; /* 4 KiB pages returned to the host by free page reporting */
	/* The statistics request the device holds until it wants new figures (5.5.6.3). */
	bool have_stats_req;
	struct virtq_req stats_req;
	struct virtio_balloon_stats stats;
	uint64_t stats_updates; /* figures received */
	struct virtq_req req;   /* scratch for inflate, deflate and reporting requests */
};

/* Set up the device for guest RAM mem and fill dev for a transport's init: target
 * amount_mib MiB (4 KiB pages), deflate_on_oom offered as given, with the statistics and
 * free page reporting queues. Returns 0 or -errno. */
int virtio_balloon_init(struct virtio_balloon *b, struct guest_mem *mem, uint32_t amount_mib,
			bool deflate_on_oom, struct virtio_dev *dev);
void virtio_balloon_destroy(struct virtio_balloon *b);
/* A new target in MiB: the guest is told by a configuration change (once its driver runs). */
void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t amount_mib);
/* The balloon's target and actual size in MiB, and the pages returned to the host. */
void virtio_balloon_size(struct virtio_balloon *b, uint32_t *target_mib, uint32_t *actual_mib,
			 uint64_t *returned_pages);
/* Ask the guest for fresh statistics (returning the held request), and copy the last ones
 * received into out. Returns the number of updates received so far. */
uint64_t virtio_balloon_stats(struct virtio_balloon *b, bool refresh,
			      struct virtio_balloon_stats *out);
/* Snapshots (see transport.h). Section "virtio-balloon", version 1: u32 num_pages (the
 * target), u32 actual, u64 pages returned by inflation, u64 pages returned by free page
 * reporting, u64 statistics updates received, then for each of the VIRTIO_BALLOON_S_NR tags
 * bool have and u64 value, then bool a statistics request is held and u16 its chain head (0
 * when none). Inflation, deflation and reports complete within their notification.
 * deflate_on_oom is configuration: the offer the transport's load checks the driver features
 * against. */
void virtio_balloon_state_save(struct virtio_balloon *b, struct state_out *o);
int virtio_balloon_state_load(struct virtio_balloon *b, struct state_in *in);

#endif
