/* SBI calls with garbage: 20000 random extension ids (not one rvisor implements) with random
 * function ids and arguments, and unknown function ids of every implemented extension. Each
 * is answered SBI_ERR_NOT_SUPPORTED (SBI spec 2.0 3.2), nothing else changes, and
 * probe_extension says 0 for every garbage id and 1 for the implemented ones. */
#include "hostile.h"

static const long known[] = {0x00,     0x01,       0x02,     0x08,       0x10,      0x54494d45,
			     0x735049, 0x52464e43, 0x48534d, 0x53525354, 0x4442434e};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

static bool is_known(long eid)
{
	for (unsigned i = 0; i < NKNOWN; i++)
		if (known[i] == eid)
			return true;
	return false;
}

void case_main(void)
{
	for (unsigned i = 0; i < 20000; i++) {
		long eid = (long)rnd();
		switch (i % 4) {
		case 0: eid &= 0xff; break;       /* the legacy range and a little above */
		case 1: eid &= 0xffffffff; break; /* 32-bit ids */
		case 2: eid |= 1l << 63; break;   /* "negative" */
		default: break;
		}
		if (is_known(eid))
			continue;
		struct sbiret r = sbi_call(eid, (long)rnd(), (long)rnd(), (long)rnd(), (long)rnd(),
					   (long)rnd(), (long)rnd(), (long)rnd());
		if (r.error != SBI_ERR_NOT_SUPPORTED)
			fail_at(__LINE__, "garbage eid", (uint64_t)eid, (uint64_t)r.error);
		r = sbi_call(0x10, 3, eid, 0, 0, 0, 0, 0);
		CHECK_EQ(r.error, SBI_SUCCESS);
		CHECK_EQ(r.value, 0);
	}
	for (unsigned i = 4; i < NKNOWN; i++) { /* the SBI v0.2+ extensions */
		CHECK_EQ(sbi_call(0x10, 3, known[i], 0, 0, 0, 0, 0).value, 1);
		static const long bad_fid[] = {0x1000, 0x7fffffff, -1, 0x80000000l};
		for (unsigned j = 0; j < 4; j++) {
			struct sbiret r = sbi_call(known[i], bad_fid[j], 0, 0, 0, 0, 0, 0);
			if (r.error != SBI_ERR_NOT_SUPPORTED)
				fail_at(__LINE__, "bad fid", (uint64_t)known[i], (uint64_t)r.error);
		}
	}
	/* Low unknown function ids of the small extensions. */
	CHECK_EQ(sbi_call(0x10, 7, 0, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
	CHECK_EQ(sbi_call(0x54494d45, 1, 0, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
	CHECK_EQ(sbi_call(0x735049, 1, 0, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
	CHECK_EQ(sbi_call(0x48534d, 4, 0, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
	CHECK_EQ(sbi_call(0x4442434e, 3, 0, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
	CHECK_EQ(sbi_call(0x53525354, 1, 0, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
}
