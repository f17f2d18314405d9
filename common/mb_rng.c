/* mb_rng: splitmix64 generator and helpers (see mb_rng.h). */
#include "common/mb_rng.h"

#include <math.h>

void mb_rng_seed(mb_rng_t *r, uint64_t seed)
{
    r->state = seed;
}

void mb_rng_for(mb_rng_t *r, uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    r->state = seed ^ h;
    (void)mb_rng_u64(r);
}

uint64_t mb_rng_u64(mb_rng_t *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double mb_rng_uniform(mb_rng_t *r)
{
    return (double)(mb_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

double mb_rng_normal(mb_rng_t *r)
{
    double u1 = mb_rng_uniform(r), u2 = mb_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
