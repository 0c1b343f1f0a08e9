/* Strings and hashing: format 64 Ki decimal keys, insert them into an open-addressing hash table
 * (FNV-1a hash, linear probing, byte-wise key comparison), then look every key up, plus as many
 * keys that are absent. Checks that every present key is found with its value and no absent
 * key is. */
#include "bench.h"

#define STRHASH_KEYS    (64 * 1024)
#define STRHASH_KEY_MAX 16
#define STRHASH_SLOTS   (2 * STRHASH_KEYS) /* a power of two */
#define STRHASH_ROUNDS  10

struct strhash_slot {
	uint32_t key; /* index into keys + 1; 0 = empty */
	uint32_t value;
};

struct strhash_mem {
	char keys[STRHASH_KEYS][STRHASH_KEY_MAX];
	struct strhash_slot slots[STRHASH_SLOTS];
};

/* Writes prefix and then v in decimal at s, NUL-terminated; returns the length. */
static size_t strhash_format(char *s, char prefix, uint32_t v)
{
	char digits[10];
	size_t n = 0, len = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	s[len++] = prefix;
	while (n)
		s[len++] = digits[--n];
	s[len] = 0;
	return len;
}

static uint32_t strhash_fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static int strhash_equal(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* The slot holding key s, or the empty slot where it would go. */
static struct strhash_slot *strhash_find(struct strhash_mem *m, const char *s)
{
	uint32_t i = strhash_fnv1a(s) & (STRHASH_SLOTS - 1);

	while (m->slots[i].key && !strhash_equal(m->keys[m->slots[i].key - 1], s))
		i = (i + 1) & (STRHASH_SLOTS - 1);
	return &m->slots[i];
}

static int strhash_run(void *mem, uint64_t *checksum)
{
	struct strhash_mem *m = mem;
	uint64_t h = 0;
	char probe[STRHASH_KEY_MAX];

	for (uint32_t round = 0; round < STRHASH_ROUNDS; round++) {
		uint32_t found = 0;
		uint64_t sum = 0;

		for (uint32_t i = 0; i < STRHASH_SLOTS; i++)
			m->slots[i].key = 0;
		for (uint32_t i = 0; i < STRHASH_KEYS; i++) {
			/* Distinct keys: the multiplier is odd, so i -> i * k is one-to-one. */
			struct strhash_slot *slot;

			strhash_format(m->keys[i], 'k', (i + round) * 2654435761u);
			slot = strhash_find(m, m->keys[i]);
			if (slot->key)
				return BENCH_FAIL_SELFCHECK;
			slot->key = i + 1;
			slot->value = i ^ round;
		}
		for (uint32_t i = 0; i < STRHASH_KEYS; i++) {
			struct strhash_slot *slot;

			strhash_format(probe, 'k', (i + round) * 2654435761u);
			slot = strhash_find(m, probe);
			if (!slot->key || slot->value != (i ^ round))
				return BENCH_FAIL_SELFCHECK;
			sum += slot->value;
			strhash_format(probe, 'q', (i + round) * 2654435761u);
			found += strhash_find(m, probe)->key != 0;
		}
		if (found)
			return BENCH_FAIL_SELFCHECK;
		h = bench_mix(h, sum);
		h = bench_mix(h, strhash_fnv1a(m->keys[round]));
	}
	*checksum = h;
	return BENCH_OK;
}

const struct workload strhash_workload = {
    .name = "strhash",
    .mem_size = sizeof(struct strhash_mem),
    .run = strhash_run,
    .expected = 0xb831857d22c1303bull,
};
