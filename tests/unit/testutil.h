/* testutil: what the unit tests share: cmocka's includes, a ref backend, and
 * building small random models. Header-only so each test stays one file. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "models/config.h"
#include "models/model.h"

static inline be_t test_ref_backend(void)
{
    be_t be;
    be_options_t o = {1, BE_PRECISION_FP32};
    mb_error_t err;
    if (be_open("ref", &o, &be, &err) != 0)
        fail_msg("ref backend: %s", err.msg);
    return be;
}

/* A tiny model of `variant`, random weights from `seed`; capacity factor cf. */
static inline model_t *test_model(const char *variant, uint64_t seed, float cf)
{
    model_config_t c;
    mb_error_t err;
    model_t *m;
    if (model_preset("tiny", variant, &c, &err) != 0)
        fail_msg("preset: %s", err.msg);
    c.capacity_factor = cf;
    if (model_config_finish(&c, &err) || model_create(&c, &m, &err))
        fail_msg("model: %s", err.msg);
    model_init_random(m, seed);
    return m;
}

static inline void test_fill(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
}

static inline float test_max_abs_diff(const float *a, const float *b, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m))
            m = d; /* NaN propagates as a failure */
    }
    return m;
}

#endif
