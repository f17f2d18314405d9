/* The optimiser against a double-precision re-implementation written here
 * from the textbook AdamW (Loshchilov & Hutter; decay on matrices only):
 * three updates of a tiny model with clipping active, the schedule's shape
 * (linear warm-up, then lr * sqrt(warmup / step)), and the global norm.
 * Tolerance: float32 parameters after three updates of size ~lr = 1e-2
 * agree with the double version to 1e-6 absolute. Also: a checkpoint keeps
 * the moments in tensor-index order whatever the arena's layout, and
 * reads them back exactly. */
#include "testutil.h"

#include <unistd.h>

#include "models/safetensors.h"
#include "train/trn_ckpt.h"
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

/* The arena keeps an attention block's q, k, v adjacent (not the tensors'
 * order); the file's optim.m / optim.v hold each tensor's slice in tensor-
 * index order, and a load puts every value back where it was. */
static void test_checkpoint_moments_order(void **state)
{
    (void)state;
    mb_error_t err;
    model_config_t c;
    model_t *m, *m2;
    assert_int_equal(model_preset("tiny", "dense", &c, &err), 0);
    assert_int_equal(model_config_finish(&c, &err), 0);
    assert_int_equal(model_create(&c, &m, &err), 0);
    trn_adam_opts_t o;
    trn_adam_defaults(&o);
    trn_adam_t a, a2;
    assert_int_equal(trn_adam_create(&a, m, &o, &err), 0);
    for (uint64_t k = 0; k < a.n; k++)
        a.m[k] = (float)k, a.v[k] = -(float)k;
    int reordered = 0;
    for (int i = 1; i < m->n_tensors; i++)
        reordered |= m->tensor[i] < m->tensor[i - 1];
    assert_true(reordered); /* the case this guards */
    trn_ckpt_meta_t meta = {0}, back;
    trn_ckpt_set(&meta, "step", "%d", 3);
    char path[] = "/tmp/moebench-ckpt-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(trn_ckpt_save(path, m, &a, &meta, &err), 0);
    st_file_t *f;
    assert_int_equal(st_open(path, &f, &err), 0);
    float *fm = malloc(sizeof(float) * a.n);
    assert_int_equal(st_read_f32(f, st_find(f, "optim.m"), fm, a.n, &err), 0);
    uint64_t pos = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const uint64_t off = (uint64_t)(m->tensor[i] - m->arena);
        for (uint64_t j = 0; j < m->specs[i].n; j++)
            assert_true(fm[pos + j] == (float)(off + j));
        pos += m->specs[i].n;
    }
    assert_int_equal(pos, a.n);
    st_close(f);
    free(fm);
    assert_int_equal(trn_ckpt_load(path, &m2, &a2, &back, &err), 0);
    assert_memory_equal(a2.m, a.m, sizeof(float) * a.n);
    assert_memory_equal(a2.v, a.v, sizeof(float) * a.n);
    assert_string_equal(trn_ckpt_get(&back, "step"), "3");
    unlink(path);
    trn_adam_free(&a), trn_adam_free(&a2);
    model_free(m), model_free(m2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_adamw_matches_double),
        cmocka_unit_test(test_checkpoint_moments_order),
    };
    return cmocka_run_group_tests_name("train_optim", tests, NULL, NULL);
}
