/* Every width (1, 2, 4, 8 bytes) at every byte offset of the first 0x200 bytes (the registers
 * and the start of the configuration space) of every virtio-mmio slot, loads and then stores
 * of all-ones and zero, with every device the test attaches present. Registers take only
 * aligned 32-bit accesses (virtio 1.2 4.2.2): rvisor ignores the others (loads read 0), and
 * nothing may stop the machine. An access that faults (an empty slot, a misaligned access)
 * is skipped. Afterwards every device still identifies itself and virtio-rng works. */
#include "hostile.h"

void case_main(void)
{
	uint64_t ids[VIRTIO_SLOTS];
	for (unsigned n = 0; n < VIRTIO_SLOTS; n++)
		ids[n] = vslot_id(n);
	uint64_t rng = vfind(VIRTIO_ID_RNG);
	CHECK(rng);
	/* Defined by rvisor: a register load of a size other than 4 reads 0. */
	CHECK_EQ(rd8(rng + VM_MAGIC), 0);
	CHECK_EQ(rd16(rng + VM_MAGIC), 0);
	skip_faults = true;
	for (unsigned n = 0; n < VIRTIO_SLOTS; n++) {
		uint64_t base = VIRTIO_BASE + n * VIRTIO_SLOT_SIZE;
		for (unsigned size = 1; size <= 8; size *= 2)
			for (unsigned off = 0; off < 0x200; off++)
				(void)rd_size(base + off, size);
		for (unsigned pass = 0; pass < 2; pass++)
			for (unsigned size = 1; size <= 8; size *= 2)
				for (unsigned off = 0; off < 0x200; off++)
					wr_size(base + off, size, pass ? 0 : ~0ull);
		wr32(base + VM_STATUS, 0);
	}
	skip_faults = false;
	for (unsigned n = 0; n < VIRTIO_SLOTS; n++)
		CHECK_EQ(vslot_id(n), ids[n]);
	say("# faults skipped: ");
	putdec(faults_skipped);
	puts_("\n");
	rng_sanity(rng);
}
