/* The trainer's threading (issue 13): a training step and an AdamW update at
 * 2 threads against 1 thread, and two 2-thread runs against each other.
 *
 * trn_ops.c splits only independent work (rows, columns of a column sum,
 * sequences of attention, fixed blocks of the gradient norm), each output
 * computed by one thread in the serial order, so with a backend whose GEMMs
 * do not thread (ref) 2 threads must give the 1-thread step BIT FOR BIT:
 * the loss, every gradient and every parameter after the update; that
 * includes the GEMMs the team splits into row or column blocks (trn_gemm;
 * test_gemm_split checks each transpose case alone). With OpenBLAS a block's
 * GEMM may take another kernel path than the whole one, so 1 vs 2 threads is
 * held to fp32 rounding (objective within 1e-4
 * relative, gradients within 2e-3 of the largest, as test_backends_agree),
 * while two 2-thread runs must again be identical (resume reproduces a curve
 * at the same thread count).
 *
 * The batch is big enough (about 500 + 500 tokens of the tiny model) that
 * every threaded loop is above TRN_PAR_MIN and really forks. */
#include "testutil.h"

#include <omp.h>

#include "common/mb_rng.h"
#include "train/trn_model.h"
#include "train/trn_ops.h"
#include "train/trn_optim.h"

#define NPAIRS 48
#define MAXTOK (NPAIRS * 16)

typedef struct pairs {
    int src_off[NPAIRS + 1], tgt_off[NPAIRS + 1], key[NPAIRS];
    int src[MAXTOK], tin[MAXTOK], tout[MAXTOK];
} pairs_t;

/* NPAIRS random pairs: source <2xx> w.. EOS (5-16 tokens), target BOS w.. / w.. EOS (4-15). */
static void make_batch(pairs_t *p, const model_config_t *c, uint64_t seed, trn_batch_t *b)
{
    mb_rng_t r;
    mb_rng_seed(&r, seed);
    p->src_off[0] = p->tgt_off[0] = 0;
    for (int i = 0; i < NPAIRS; i++) {
        int task = (int)(mb_rng_u64(&r) % (uint64_t)c->n_tasks);
        int ls = 5 + (int)(mb_rng_u64(&r) % 12), lt = 4 + (int)(mb_rng_u64(&r) % 12);
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
    trn_batch_t bb = {NPAIRS, p->src_off, p->src, p->tgt_off, p->tin, p->tout, p->key};
    *b = bb;
}

typedef struct run {
    double objective, loss, nll, grad_norm;
    float *grad, *params; /* [n_params] after the step / after the update */
} run_t;

/* Two steps with an AdamW update after each (dropout on), from the same
 * random model, on `threads` threads of backend `name`; the second step's
 * numbers and gradient, the parameters after its update. */
static int run_steps(const char *name, int threads, const char *variant, run_t *out)
{
    be_t be;
    /* as `moebench train --threads N` runs: the backend on one thread, the
     * trainer's team of N splitting the GEMMs (trn_gemm) and its own loops */
    be_options_t bo = {1, BE_PRECISION_FP32};
    mb_error_t err;
    if (!strcmp(name, "ref")) {
        be = test_ref_backend();
        be.opt.threads = 1;
    } else if (be_open(name, &bo, &be, &err) != 0) {
        print_message("# skip: backend %s does not open here: %s\n", name, err.msg);
        return -1;
    }
    model_t *m = test_model(variant, 21, 1.0f);
    pairs_t p;
    trn_batch_t b;
    make_batch(&p, &m->cfg, 5, &b);
    trn_opts_t o;
    trn_opts_default(&o);
    o.threads = threads;
    trn_t *t;
    assert_int_equal(trn_create(m, &be, &o, &t, &err), 0);
    assert_int_equal(omp_get_max_threads(), threads);
    trn_adam_opts_t ao;
    trn_adam_defaults(&ao);
    ao.warmup = 1;
    ao.clip = 0.5f; /* the random model's norm is above it: clipping runs */
    trn_adam_t adam;
    assert_int_equal(trn_adam_create(&adam, m, &ao, &err), 0);
    trn_stats_t st;
    for (int step = 1; step <= 2; step++) {
        if (trn_step(t, &b, 1, (uint64_t)step, &st, NULL, &err) != 0)
            fail_msg("step: %s", err.msg);
        if (step == 2) {
            out->grad = malloc(sizeof(float) * m->n_params);
            memcpy(out->grad, trn_grad(t)->arena, sizeof(float) * m->n_params);
        }
        out->grad_norm = trn_adam_update(&adam, m, trn_grad(t));
    }
    out->objective = st.objective;
    out->loss = st.loss;
    out->nll = st.nll;
    out->params = malloc(sizeof(float) * m->n_params);
    memcpy(out->params, m->arena, sizeof(float) * m->n_params);
    uint64_t n = m->n_params;
    trn_adam_free(&adam);
    trn_free(t);
    model_free(m);
    be_close(&be);
    return (int)(n > 0x7fffffff ? 0x7fffffff : n);
}

static void run_free(run_t *r)
{
    free(r->grad);
    free(r->params);
}

static void assert_identical(const run_t *a, const run_t *b, int n)
{
    assert_true(a->objective == b->objective);
    assert_true(a->nll == b->nll);
    assert_true(a->grad_norm == b->grad_norm);
    assert_memory_equal(a->grad, b->grad, sizeof(float) * (size_t)n);
    assert_memory_equal(a->params, b->params, sizeof(float) * (size_t)n);
}

/* ref: 2 threads = 1 thread exactly, for each routing kind's code path */
static void check_exact(const char *variant)
{
    run_t one, two;
    int n = run_steps("ref", 1, variant, &one);
    assert_int_equal(run_steps("ref", 2, variant, &two), n);
    print_message("# %s, ref: objective %.9f at 1 thread, %.9f at 2\n", variant, one.objective, two.objective);
    assert_true(one.objective > 1.0); /* a real loss (log 512 ~ 6.2), not an empty batch */
    assert_identical(&one, &two, n);
    run_free(&one);
    run_free(&two);
}

static void test_exact_dense(void **state)
{
    (void)state;
    check_exact("dense");
}

static void test_exact_token(void **state)
{
    (void)state;
    check_exact("token-moe");
}

static void test_exact_sentence(void **state)
{
    (void)state;
    check_exact("sentence-moe");
}

static void test_exact_task(void **state)
{
    (void)state;
    check_exact("task-moe");
}

/* openblas: 1 vs 2 threads within fp32 rounding; two 2-thread runs identical */
static void check_openblas(const char *variant)
{
    run_t one, two, again;
    int n = run_steps("openblas", 1, variant, &one);
    if (n < 0)
        skip();
    assert_int_equal(run_steps("openblas", 2, variant, &two), n);
    assert_int_equal(run_steps("openblas", 2, variant, &again), n);
    float gmax = 0;
    for (int i = 0; i < n; i++)
        gmax = fabsf(one.grad[i]) > gmax ? fabsf(one.grad[i]) : gmax;
    float diff = test_max_abs_diff(one.grad, two.grad, (size_t)n);
    print_message("# %s, openblas: objective %.9f at 1 thread, %.9f at 2; max gradient difference %.3g of max %.3g\n",
                  variant, one.objective, two.objective, diff, gmax);
    assert_true(fabs(one.objective - two.objective) <= 1e-4 * fabs(one.objective));
    assert_true(diff <= 2e-3f * gmax);
    assert_identical(&two, &again, n);
    run_free(&one);
    run_free(&two);
    run_free(&again);
}

static void test_openblas_dense(void **state)
{
    (void)state;
    check_openblas("dense");
}

static void test_openblas_token(void **state)
{
    (void)state;
    check_openblas("token-moe");
}

/* trn_gemm split over a team of 2 equals one be_gemm bit for bit on ref,
 * for every transpose case, split by rows (tall C) and by columns (wide C),
 * with beta = 1 (accumulating, as the weight gradients do) */
static void test_gemm_split(void **state)
{
    (void)state;
    be_t be = test_ref_backend();
    be.opt.threads = 1;
    omp_set_num_threads(2);
    const int shapes[2][3] = {{70, 40, 100}, {20, 300, 50}}; /* M, N, K: both above the split threshold */
    for (int s = 0; s < 2; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
                float *A = malloc(sizeof(float) * (size_t)(ta ? K : M) * lda);
                float *B = malloc(sizeof(float) * (size_t)(tb ? N : K) * ldb);
                float *C1 = malloc(sizeof(float) * (size_t)M * ldc), *C2 = malloc(sizeof(float) * (size_t)M * ldc);
                test_fill(A, (size_t)(ta ? K : M) * lda, 40 + s);
                test_fill(B, (size_t)(tb ? N : K) * ldb, 50 + s);
                test_fill(C1, (size_t)M * ldc, 60 + s);
                memcpy(C2, C1, sizeof(float) * (size_t)M * ldc);
                be_gemm(&be, ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 1.0f, C1, ldc);
                trn_gemm(&be, ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 1.0f, C2, ldc);
                if (memcmp(C1, C2, sizeof(float) * (size_t)M * ldc) != 0)
                    fail_msg("trn_gemm M=%d N=%d K=%d ta=%d tb=%d differs from be_gemm", M, N, K, ta, tb);
                free(A), free(B), free(C1), free(C2);
            }
    omp_set_num_threads(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_dense),    cmocka_unit_test(test_exact_token),
        cmocka_unit_test(test_exact_sentence), cmocka_unit_test(test_exact_task),
        cmocka_unit_test(test_openblas_dense), cmocka_unit_test(test_openblas_token),
        cmocka_unit_test(test_gemm_split),
    };
    return cmocka_run_group_tests_name("train_threads", tests, NULL, NULL);
}
