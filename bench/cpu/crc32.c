/* CRC-32 (the IEEE 802.3 / zlib polynomial, reflected, 0xedb88320) computed a byte at a time
 * through a 256-entry table, over a pseudo-random 256 KiB buffer, as a checksumming loop in real
 * code does: a load, a table lookup and a few logical operations per byte. */
#include "bench.h"

#define CRC32_BUF_SIZE (256 * 1024)
#define CRC32_ROUNDS   240

struct crc32_mem {
	uint32_t table[256];
	uint8_t buf[CRC32_BUF_SIZE];
};

static void crc32_make_table(uint32_t table[256])
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
}

static uint32_t crc32_update(const uint32_t table[256], uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static int crc32_run(void *mem, uint64_t *checksum)
{
	static const uint8_t check_input[9] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
	struct crc32_mem *m = mem;
	uint64_t seed = 1;
	uint32_t crc = 0;

	crc32_make_table(m->table);
	/* The standard check value of CRC-32 for the ASCII digits "123456789". */
	if (crc32_update(m->table, 0, check_input, sizeof(check_input)) != 0xcbf43926u)
		return BENCH_FAIL_SELFCHECK;

	for (size_t i = 0; i < CRC32_BUF_SIZE; i += 8) {
		uint64_t r = bench_rand(&seed);

		for (int k = 0; k < 8; k++)
			m->buf[i + k] = (uint8_t)(r >> (8 * k));
	}
	for (int round = 0; round < CRC32_ROUNDS; round++) {
		crc = crc32_update(m->table, crc, m->buf, CRC32_BUF_SIZE);
		/* Change the data between rounds so no round repeats another. */
		m->buf[(crc >> 3) % CRC32_BUF_SIZE] ^= (uint8_t)crc;
	}
	*checksum = crc;
	return BENCH_OK;
}

const struct workload crc32_workload = {
    .name = "crc32",
    .mem_size = sizeof(struct crc32_mem),
    .run = crc32_run,
    .expected = 0x000000008132ac6aull,
};
