/* mb_rng: the deterministic random numbers of moebench (splitmix64).
 *
 * Everything random in a run (weights, synthetic workloads, arrival times)
 * comes from here, seeded explicitly, so the same seed gives the same bits on
 * every machine. A stream per named object (mb_rng_for) keeps results
 * independent of the order in which objects are initialised. */
#ifndef MB_RNG_H
#define MB_RNG_H

#include <stdint.h>

typedef struct mb_rng {
    uint64_t state;
} mb_rng_t;

void mb_rng_seed(mb_rng_t *r, uint64_t seed);
/* A stream for one named object: seed mixed with a hash of name. */
void mb_rng_for(mb_rng_t *r, uint64_t seed, const char *name);
uint64_t mb_rng_u64(mb_rng_t *r);
/* Uniform in [0, 1). */
double mb_rng_uniform(mb_rng_t *r);
/* Standard normal (Box-Muller). */
double mb_rng_normal(mb_rng_t *r);

#endif
