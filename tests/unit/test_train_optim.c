/* The optimiser against a double-precision re-implementation written here
 * from the textbook AdamW (Loshchilov & Hutter; decay on matrices only):
 * three updates of a tiny model with clipping active, the schedule's shape
 * (linear warm-up, then lr * sqrt(warmup / step)), and the global norm.
 * Tolerance: float32 parameters after three updates of size ~lr = 1e-2
 * agree with the double version to 1e-6 absolute. */
#include "testutil.h"

#include "train/trn_optim.h"

static void test_schedule(void **state)
{
    (void)state;
    trn_adam_opts_t o;
    trn_adam_defaults(&o);
    o.lr = 2e-3f;
    o.warmup = 100;
    assert_true(fabsf(trn_adam_lr(&o, 1) - 2e-5f) < 1e-9f);
    assert_true(fabsf(trn_adam_lr(&o, 50) - 1e-3f) < 1e-9f);
    assert_true(fabsf(trn_adam_lr(&o, 100) - 2e-3f) < 1e-9f);
    assert_true(fabsf(trn_adam_lr(&o, 400) - 1e-3f) < 1e-9f); /* sqrt(100 / 400) = 1/2 */
    o.decay = TRN_DECAY_NONE; /* --decay none: the peak after warm-up */
    assert_true(fabsf(trn_adam_lr(&o, 50) - 1e-3f) < 1e-9f);
    assert_true(trn_adam_lr(&o, 400) == 2e-3f);
    o.decay = TRN_DECAY_INV_SQRT;
    o.warmup = 0;
    assert_true(trn_adam_lr(&o, 7) == 2e-3f);
}

static void test_adamw_matches_double(void **state)
{
    (void)state;
    model_t *m = test_model("token-moe", 2, 0.0f), *g = test_model("token-moe", 3, 0.0f);
    mb_error_t err;
    trn_adam_opts_t o;
    trn_adam_defaults(&o);
    o.lr = 1e-2f;
    o.warmup = 2;
    o.weight_decay = 0.1f;
    o.clip = 0.5f;
    trn_adam_t a;
    assert_int_equal(trn_adam_create(&a, m, &o, &err), 0);
    const uint64_t n = m->n_params;
    double *p = malloc(sizeof(double) * n), *mm = calloc(n, sizeof(double)), *vv = calloc(n, sizeof(double));
    unsigned char *decay = calloc(n, 1);
    for (uint64_t i = 0; i < n; i++)
        p[i] = m->arena[i];
    for (int t = 0; t < m->n_tensors; t++)
        if (m->specs[t].ndim == 2)
            memset(decay + (m->tensor[t] - m->arena), 1, m->specs[t].n);
    for (int step = 1; step <= 3; step++) {
        test_fill(g->arena, n, (uint64_t)step + 10); /* a gradient with a norm far above the clip */
        double sq = 0;
        for (uint64_t i = 0; i < n; i++)
            sq += (double)g->arena[i] * g->arena[i];
        double norm = sqrt(sq), scale = norm > o.clip ? o.clip / norm : 1.0;
        double lr = step <= o.warmup ? o.lr * (double)step / o.warmup : o.lr * sqrt((double)o.warmup / step);
        for (uint64_t i = 0; i < n; i++) {
            double gi = g->arena[i] * scale;
            mm[i] = 0.9 * mm[i] + 0.1 * gi;
            vv[i] = 0.98 * vv[i] + 0.02 * gi * gi;
            double mh = mm[i] / (1 - pow(0.9, step)), vh = vv[i] / (1 - pow(0.98, step));
            p[i] -= lr * (mh / (sqrt(vh) + 1e-9) + (decay[i] ? 0.1 * p[i] : 0.0));
        }
        double got = trn_adam_update(&a, m, g);
        assert_true(fabs(got - norm) < 1e-6 * norm);
    }
    double worst = 0;
    for (uint64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(p[i] - m->arena[i]));
    print_message("# max |float - double| after 3 updates: %g\n", worst);
    assert_true(worst < 1e-6);
    free(p), free(mm), free(vv), free(decay);
    trn_adam_free(&a);
    model_free(m);
    model_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_adamw_matches_double),
    };
    return cmocka_run_group_tests_name("train_optim", tests, NULL, NULL);
}
