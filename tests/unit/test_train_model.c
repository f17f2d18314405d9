/* The trainer on whole tiny models: the gradient of every routing variant
 * against central finite differences on sampled parameters; the training
 * forward against the inference engine; a tiny model overfitting 16 pairs;
 * every backend's training step against ref; determinism of a step.
 *
 * Finite differences run in float32 (the model's precision) with loss sums
 * in double, step 2e-3: the loss (~6) carries about 1e-6 of rounding noise,
 * i.e. ~3e-4 in a difference quotient. Each tensor is probed at its largest
 * analytic gradient (so a relative check is meaningful: 5% of it, plus
 * 5e-4) and at one random element (absolute 1e-3). The aux-loss weight is
 * 1 here (not 0.01) so that an error in its gradient could not hide. */
#include "testutil.h"

#include "common/mb_rng.h"
#include "models/transformer.h"
#include "train/trn_model.h"
#include "train/trn_optim.h"

typedef struct pairs {
    int n, src_off[20], tgt_off[20], key[16];
    int src[256], tin[256], tout[256];
} pairs_t;

/* n random pairs over vocabulary V: source <2xx> w.. EOS, target BOS w.. / w.. EOS. */
static void make_pairs(pairs_t *p, const model_config_t *c, int n, uint64_t seed)
{
    mb_rng_t r;
    mb_rng_seed(&r, seed);
    p->n = n;
    p->src_off[0] = p->tgt_off[0] = 0;
    for (int i = 0; i < n; i++) {
        int task = (int)(mb_rng_u64(&r) % (uint64_t)c->n_tasks);
        int ls = 3 + (int)(mb_rng_u64(&r) % 6), lt = 2 + (int)(mb_rng_u64(&r) % 6);
        int *s = p->src + p->src_off[i];
        s[0] = model_task_tag(c, task);
        for (int j = 1; j < ls - 1; j++)
            s[j] = 20 + (int)(mb_rng_u64(&r) % (uint64_t)(c->vocab - 20));
        s[ls - 1] = MODEL_EOS;
        int *ti = p->tin + p->tgt_off[i], *to = p->tout + p->tgt_off[i];
        ti[0] = MODEL_BOS;
        for (int j = 0; j < lt; j++) {
            int w = j == lt - 1 ? MODEL_EOS : 20 + (int)(mb_rng_u64(&r) % (uint64_t)(c->vocab - 20));
            to[j] = w;
            if (j + 1 < lt)
                ti[j + 1] = w;
        }
        p->key[i] = model_task_key_index(c, task);
        p->src_off[i + 1] = p->src_off[i] + ls;
        p->tgt_off[i + 1] = p->tgt_off[i] + lt;
    }
}

static trn_batch_t batch_of(const pairs_t *p)
{
    trn_batch_t b = {p->n, p->src_off, p->src, p->tgt_off, p->tin, p->tout, p->key};
    return b;
}

static double objective(trn_t *t, const trn_batch_t *b)
{
    trn_stats_t st;
    mb_error_t err;
    if (trn_step(t, b, 0, 0, &st, NULL, &err) != 0)
        fail_msg("%s", err.msg);
    return st.objective;
}

static model_t *tied_model(const char *variant, uint64_t seed)
{
    model_config_t c;
    mb_error_t err;
    model_t *m;
    if (model_preset("tiny", variant, &c, &err) != 0)
        fail_msg("preset: %s", err.msg);
    c.tie_embed = 1;
    if (model_config_finish(&c, &err) || model_create(&c, &m, &err))
        fail_msg("model: %s", err.msg);
    model_init_random(m, seed);
    return m;
}

static void check_gradient(const char *variant, int tie)
{
    be_t be = test_ref_backend();
    model_t *m = tie ? tied_model(variant, 7) : test_model(variant, 7, 0.0f);
    if (tie) /* one table, three uses: its gradient must sum all three */
        assert_true(m->enc_embed == m->dec_embed && m->out_proj.w == m->enc_embed &&
                    model_tensor_index(m, "enc.embed") < 0 && model_tensor_index(m, "embed") >= 0);
    pairs_t p;
    make_pairs(&p, &m->cfg, 4, 11);
    trn_batch_t b = batch_of(&p);
    trn_opts_t o;
    trn_opts_default(&o);
    o.dropout = 0.0f;
    o.aux_weight = 1.0f;
    trn_t *t;
    mb_error_t err;
    assert_int_equal(trn_create(m, &be, &o, &t, &err), 0);
    trn_stats_t st;
    assert_int_equal(trn_step(t, &b, 1, 0, &st, NULL, &err), 0);
    if (strcmp(variant, "dense"))
        assert_true(st.aux > 0.0);
    print_message("# %s: %llu of %llu assignments dropped for capacity\n", variant,
                  (unsigned long long)st.dropped_assignments, (unsigned long long)st.assignments);
    if (!strcmp(variant, "token-moe")) /* the gradient is checked through capacity drops too */
        assert_true(st.dropped_assignments > 0);
    float *grad = malloc(sizeof(float) * m->n_params);
    memcpy(grad, trn_grad(t)->arena, sizeof(float) * m->n_params);
    const float h = 2e-3f;
    int checked = 0, bad = 0, kinks = 0;
    const double f0 = objective(t, &b);
    mb_rng_t r;
    mb_rng_seed(&r, 3);
    for (int ti = 0; ti < m->n_tensors; ti++) {
        float *w = m->tensor[ti];
        uint64_t off = (uint64_t)(w - m->arena), n = m->specs[ti].n, imax = 0;
        for (uint64_t i = 1; i < n; i++)
            if (fabsf(grad[off + i]) > fabsf(grad[off + imax]))
                imax = i;
        uint64_t probe[2] = {imax, mb_rng_u64(&r) % n};
        for (int k = 0; k < 2; k++) {
            uint64_t i = probe[k];
            float keep = w[i];
            w[i] = keep + h;
            double up = objective(t, &b);
            w[i] = keep - h;
            double down = objective(t, &b);
            w[i] = keep;
            double fd = (up - down) / (2.0 * h), an = grad[off + i];
            /* a routing decision (top-k, capacity) or a ReLU that flips inside
             * [-h, h] makes the loss jump: the one-sided slopes then disagree */
            double s1 = (up - f0) / h, s2 = (f0 - down) / h;
            if (fabs(s1 - s2) > 0.5 * fmax(fabs(s1), fabs(s2)) + 2e-2) {
                kinks++;
                continue;
            }
            double tol = k == 0 ? 0.05 * fabs(an) + 5e-4 : 1e-3;
            checked++;
            if (fabs(fd - an) > tol) {
                bad++;
                print_message("# %s: %s[%llu]: analytic %.6g, finite difference %.6g\n", variant,
                              m->specs[ti].name, (unsigned long long)i, an, fd);
            }
        }
    }
    print_message("# %s: %d probes, %d off, %d skipped at a kink\n", variant, checked, bad, kinks);
    assert_int_equal(bad, 0);
    assert_true(kinks <= 3);
    free(grad);
    trn_free(t);
    model_free(m);
}

static void test_grad_dense(void **state)
{
    (void)state;
    check_gradient("dense", 0);
}
static void test_grad_tied(void **state)
{
    (void)state;
    check_gradient("task-moe", 1);
}
static void test_grad_token(void **state)
{
    (void)state;
    check_gradient("token-moe", 0);
}
static void test_grad_sentence(void **state)
{
    (void)state;
    check_gradient("sentence-moe", 0);
}
static void test_grad_task(void **state)
{
    (void)state;
    check_gradient("task-moe", 0);
}

/* With dropout off and nothing dropped for capacity, the training forward
 * computes what the inference engine computes (tolerance 2e-4 on logits of
 * size ~3: float sums in a different order). Sentence routing is left out:
 * its decoder gate input changed in docs/routing.md (the source's mean
 * encoder output) and the engine follows it in a parallel change. */
static void check_matches_engine(const char *variant)
{
    be_t be = test_ref_backend();
    model_t *m = test_model(variant, 5, 0.0f);
    pairs_t p;
    make_pairs(&p, &m->cfg, 5, 21);
    trn_batch_t b = batch_of(&p);
    trn_opts_t o;
    trn_opts_default(&o);
    o.capacity_factor = 0.0f;
    trn_t *t;
    mb_error_t err;
    assert_int_equal(trn_create(m, &be, &o, &t, &err), 0);
    const int S = p.src_off[p.n], T = p.tgt_off[p.n], V = m->cfg.vocab, d = m->cfg.d_model;
    float *a = malloc(sizeof(float) * T * V), *want = malloc(sizeof(float) * T * V);
    float *enc = malloc(sizeof(float) * S * d);
    trn_stats_t st;
    assert_int_equal(trn_step(t, &b, 0, 0, &st, a, &err), 0);
    assert_int_equal((int)st.dropped_assignments, 0);
    tf_ws_t ws;
    memset(&ws, 0, sizeof ws);
    assert_int_equal(tf_ws_reserve(&ws, m, S > T ? S : T, S, 64, &err), 0);
    tf_seqs_t src = {p.n, p.src_off, p.src, p.key}, tgt = {p.n, p.tgt_off, p.tin, p.key};
    tf_encode(m, &be, &ws, &src, enc, NULL);
    tf_decode_full(m, &be, &ws, &src, enc, &tgt, want, NULL);
    float diff = test_max_abs_diff(a, want, (size_t)T * V);
    print_message("# %s: max |train - engine| logit = %g\n", variant, diff);
    assert_true(diff < 2e-4f);
    tf_ws_free(&ws);
    free(a);
    free(want);
    free(enc);
    trn_free(t);
    model_free(m);
}

static void test_forward_matches_engine(void **state)
{
    (void)state;
    check_matches_engine("dense");
    check_matches_engine("token-moe");
    check_matches_engine("task-moe");
}

/* The same seed gives the same step, bit for bit, dropout included; another
 * dropout seed gives another loss. */
static void test_deterministic(void **state)
{
    (void)state;
    be_t be = test_ref_backend();
    model_t *m = test_model("token-moe", 9, 0.0f);
    pairs_t p;
    make_pairs(&p, &m->cfg, 6, 5);
    trn_batch_t b = batch_of(&p);
    trn_opts_t o;
    trn_opts_default(&o);
    trn_t *t;
    mb_error_t err;
    assert_int_equal(trn_create(m, &be, &o, &t, &err), 0);
    trn_stats_t s1, s2, s3;
    assert_int_equal(trn_step(t, &b, 1, 42, &s1, NULL, &err), 0);
    float *g1 = malloc(sizeof(float) * m->n_params);
    memcpy(g1, trn_grad(t)->arena, sizeof(float) * m->n_params);
    assert_int_equal(trn_step(t, &b, 1, 42, &s2, NULL, &err), 0);
    assert_true(s1.objective == s2.objective);
    assert_memory_equal(g1, trn_grad(t)->arena, sizeof(float) * m->n_params);
    assert_int_equal(trn_step(t, &b, 1, 43, &s3, NULL, &err), 0);
    assert_true(s3.objective != s1.objective);
    free(g1);
    trn_free(t);
    model_free(m);
}

/* A tiny model memorises 16 sentence pairs: plain NLL under 0.05 nats per
 * token within 300 full-batch Adam steps (no dropout, no smoothing), from
 * about 6.2 (log 512) at the start. */
static void test_overfit_16_pairs(void **state)
{
    (void)state;
    be_t be;
    be_options_t bo = {1, BE_PRECISION_FP32};
    mb_error_t err;
    if (be_open("openblas", &bo, &be, &err) != 0)
        be = test_ref_backend();
    model_t *m = test_model("token-moe", 1, 0.0f);
    pairs_t p;
    make_pairs(&p, &m->cfg, 16, 77);
    trn_batch_t b = batch_of(&p);
    trn_opts_t o;
    trn_opts_default(&o);
    o.dropout = 0.0f;
    o.label_smoothing = 0.0f;
    trn_t *t;
    assert_int_equal(trn_create(m, &be, &o, &t, &err), 0);
    trn_adam_opts_t ao;
    trn_adam_defaults(&ao);
    ao.lr = 3e-3f;
    ao.warmup = 20;
    trn_adam_t adam;
    assert_int_equal(trn_adam_create(&adam, m, &ao, &err), 0);
    trn_stats_t st;
    double first = 0;
    int step;
    for (step = 0; step < 300; step++) {
        assert_int_equal(trn_step(t, &b, 1, (uint64_t)step, &st, NULL, &err), 0);
        if (step == 0)
            first = st.nll;
        if (st.nll < 0.05)
            break;
        trn_adam_update(&adam, m, trn_grad(t));
    }
    print_message("# overfit: nll %.3f -> %.4f after %d steps\n", first, st.nll, step);
    assert_true(first > 5.0);
    assert_true(st.nll < 0.05);
    trn_adam_free(&adam);
    trn_free(t);
    model_free(m);
    be_close(&be);
}

/* Every backend's gradient of one step agrees with ref's within 2e-3 of the
 * largest gradient (fp32 GEMMs summing in another order and blocking). */
static void test_backends_agree(void **state)
{
    (void)state;
    be_t ref = test_ref_backend();
    model_t *m = test_model("token-moe", 3, 0.0f);
    pairs_t p;
    make_pairs(&p, &m->cfg, 6, 8);
    trn_batch_t b = batch_of(&p);
    trn_opts_t o;
    trn_opts_default(&o);
    trn_t *t;
    mb_error_t err;
    assert_int_equal(trn_create(m, &ref, &o, &t, &err), 0);
    trn_stats_t want, got;
    assert_int_equal(trn_step(t, &b, 1, 4, &want, NULL, &err), 0);
    float *g = malloc(sizeof(float) * m->n_params);
    memcpy(g, trn_grad(t)->arena, sizeof(float) * m->n_params);
    trn_free(t);
    float gmax = 0;
    for (uint64_t i = 0; i < m->n_params; i++)
        gmax = fabsf(g[i]) > gmax ? fabsf(g[i]) : gmax;
    int tried = 0;
    for (int i = 0; i < be_count(); i++) {
        const be_ops_t *ops = be_at(i);
        if (!strcmp(ops->name, "ref"))
            continue;
        be_t be;
        be_options_t bo = {1, BE_PRECISION_FP32};
        if (be_open(ops->name, &bo, &be, &err) != 0) {
            print_message("# skip: backend %s does not open here: %s\n", ops->name, err.msg);
            continue;
        }
        assert_int_equal(trn_create(m, &be, &o, &t, &err), 0);
        assert_int_equal(trn_step(t, &b, 1, 4, &got, NULL, &err), 0);
        float diff = test_max_abs_diff(g, trn_grad(t)->arena, m->n_params);
        print_message("# %s: loss %.6f (ref %.6f), max gradient difference %.3g of max %.3g\n", ops->name,
                      got.objective, want.objective, diff, gmax);
        assert_true(fabs(got.objective - want.objective) < 1e-4);
        assert_true(diff <= 2e-3f * gmax);
        trn_free(t);
        be_close(&be);
        tried++;
    }
    assert_true(tried > 0);
    free(g);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_dense),
        cmocka_unit_test(test_grad_token),
        cmocka_unit_test(test_grad_sentence),
        cmocka_unit_test(test_grad_task),
        cmocka_unit_test(test_grad_tied),
        cmocka_unit_test(test_forward_matches_engine),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_overfit_16_pairs),
        cmocka_unit_test(test_backends_agree),
    };
    return cmocka_run_group_tests_name("train_model", tests, NULL, NULL);
}
