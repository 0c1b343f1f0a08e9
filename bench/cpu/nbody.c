/* Floating point: a gravitational n-body simulation in double precision (one heavy body and 15
 * light ones, softened potential, symplectic Euler steps): multiplies, adds, divides and square
 * roots. Checks that energy and momentum are conserved to within the integrator's error. */
#include "bench.h"

#define NBODY_N          16
#define NBODY_STEPS      75000
#define NBODY_DT         0.0005
#define NBODY_SOFTENING2 0.0025 /* squared softening length: no singular close encounters */

struct nbody_body {
	double x, y, z, vx, vy, vz, mass;
};

static double nbody_abs(double v)
{
	return v < 0 ? -v : v;
}

/* A pseudo-random double in [lo, hi). */
static double nbody_uniform(uint64_t *seed, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(bench_rand(seed) >> 11) * 0x1p-53);
}

static void nbody_advance(struct nbody_body *b)
{
	for (int i = 0; i < NBODY_N; i++) {
		for (int j = i + 1; j < NBODY_N; j++) {
			double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
			double d2 = dx * dx + dy * dy + dz * dz + NBODY_SOFTENING2;
			double mag = NBODY_DT / (d2 * __builtin_sqrt(d2));
			double mi = b[i].mass * mag, mj = b[j].mass * mag;

			b[i].vx -= dx * mj;
			b[i].vy -= dy * mj;
			b[i].vz -= dz * mj;
			b[j].vx += dx * mi;
			b[j].vy += dy * mi;
			b[j].vz += dz * mi;
		}
	}
	for (int i = 0; i < NBODY_N; i++) {
		b[i].x += NBODY_DT * b[i].vx;
		b[i].y += NBODY_DT * b[i].vy;
		b[i].z += NBODY_DT * b[i].vz;
	}
}

static double nbody_energy(const struct nbody_body *b)
{
	double e = 0;

	for (int i = 0; i < NBODY_N; i++) {
		e += 0.5 * b[i].mass * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
		for (int j = i + 1; j < NBODY_N; j++) {
			double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;

			e -= b[i].mass * b[j].mass /
			     __builtin_sqrt(dx * dx + dy * dy + dz * dz + NBODY_SOFTENING2);
		}
	}
	return e;
}

/* The largest component of the total momentum, in absolute value. */
static double nbody_momentum(const struct nbody_body *b)
{
	double px = 0, py = 0, pz = 0;

	for (int i = 0; i < NBODY_N; i++) {
		px += b[i].mass * b[i].vx;
		py += b[i].mass * b[i].vy;
		pz += b[i].mass * b[i].vz;
	}
	px = nbody_abs(px);
	py = nbody_abs(py);
	pz = nbody_abs(pz);
	return px > py ? (px > pz ? px : pz) : (py > pz ? py : pz);
}

static int nbody_run(void *mem, uint64_t *checksum)
{
	struct nbody_body *b = mem;
	uint64_t seed = 5, h = 0;
	double e0, e1;

	/* A heavy body at rest at the origin, light ones around it in roughly circular orbits. */
	b[0] = (struct nbody_body){.mass = 1.0};
	for (int i = 1; i < NBODY_N; i++) {
		double r = nbody_uniform(&seed, 0.5, 3.0), speed = 1.0 / __builtin_sqrt(r);
		double c = nbody_uniform(&seed, -1.0, 1.0), s = __builtin_sqrt(1.0 - c * c);

		b[i] = (struct nbody_body){
		    .x = r * c,
		    .y = r * s,
		    .z = nbody_uniform(&seed, -0.05, 0.05),
		    .vx = -speed * s,
		    .vy = speed * c,
		    .vz = nbody_uniform(&seed, -0.01, 0.01),
		    .mass = nbody_uniform(&seed, 1e-4, 1e-3),
		};
	}
	/* Give the heavy body the opposite of the others' momentum: the total is zero. */
	for (int i = 1; i < NBODY_N; i++) {
		b[0].vx -= b[i].mass * b[i].vx;
		b[0].vy -= b[i].mass * b[i].vy;
		b[0].vz -= b[i].mass * b[i].vz;
	}

	e0 = nbody_energy(b);
	for (int step = 0; step < NBODY_STEPS; step++)
		nbody_advance(b);
	e1 = nbody_energy(b);
	if (!(nbody_abs(e1 - e0) <= 1e-3 * nbody_abs(e0)) || !(nbody_momentum(b) < 1e-12))
		return BENCH_FAIL_SELFCHECK;

	for (int i = 0; i < NBODY_N; i++) {
		union {
			double d;
			uint64_t u;
		} bits = {.d = b[i].x + b[i].y + b[i].z};

		h = bench_mix(h, bits.u);
	}
	*checksum = h;
	return BENCH_OK;
}

const struct workload nbody_workload = {
    .name = "nbody",
    .mem_size = NBODY_N * sizeof(struct nbody_body),
    .run = nbody_run,
    .expected = 0x89fa919aa5799dfdull,
};
