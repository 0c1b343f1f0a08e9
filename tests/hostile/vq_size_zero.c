/* A queue size zero on virtio-rng, then QueueReady = 1: a split queue's size is a
 * power of 2 no larger than QueueNumMax (virtio 1.2 2.7, 4.2.2). rvisor refuses the queue
 * (QueueReady reads 0), sets DEVICE_NEEDS_RESET, never uses the rings, and works after a
 * reset. */
#include "hostile.h"

void case_main(void)
{
	vq_bad_size(0);
}
