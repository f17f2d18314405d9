/* Every compiled-in backend against `ref`, the oracle: gemm (all four
 * transposes, alpha/beta, odd shapes, padded leading dimensions, more rows
 * than a oneDNN primitive takes at once), linear (with and without bias,
 * prepared weights) at the presets' real shapes, and every op a backend
 * overrides (layer norm, ReLU, attention, log-softmax); greedy decoding of tiny and small
 * models token for token; and the errors for what a backend cannot do.
 *
 * Tolerances. fp32: normalised mean squared error
 *   NMSE = sum (got - want)^2 / sum want^2  <= 1e-7.
 * Backends differ from ref only in the order of float32 additions; for sums
 * of up to a few thousand O(1) terms that gives NMSE near 1e-13, so 1e-7 is
 * loose for rounding but tight for any real mistake (a dropped term, a
 * wrong transpose or bias gives NMSE ~1e-3 or more).
 * bf16 (onednn --precision bf16): inputs and weights rounded to bf16 (8-bit
 * mantissa, relative error up to 2^-9 each) with fp32 accumulation: each
 * product is off by up to ~2^-8 relative, randomly signed, so NMSE is about
 * 1e-5; the bound is 1e-4 (1% rms error). */
#include "testutil.h"

#include "backends/registry.h"
#include "models/decode.h"

#define NMSE_FP32 1e-7
#define NMSE_BF16 1e-4

static double nmse(const float *got, const float *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    if (num != num) /* NaN anywhere fails */
        return INFINITY;
    return den > 0 ? num / den : num;
}

#define assert_nmse(got, want, n, bound, what)                                                              \
    do {                                                                                                     \
        double e_ = nmse(got, want, n);                                                                     \
        if (!(e_ <= (bound)))                                                                                \
            fail_msg("%s: NMSE %.3g > %.1g (%s)", be_name, e_, (double)(bound), what);                     \
    } while (0)

/* The fast backends compiled in (every one but ref), opened in fp32. */
static int fast_backends(be_t *out, int max, int threads)
{
    int n = 0;
    for (int i = 0; i < be_count() && n < max; i++) {
        const be_ops_t *ops = be_at(i);
        if (!strcmp(ops->name, "ref"))
            continue;
        be_options_t o = {threads, BE_PRECISION_FP32};
        mb_error_t err;
        if (be_open(ops->name, &o, &out[n], &err) != 0)
            fail_msg("backend %s: %s", ops->name, err.msg);
        n++;
    }
    return n;
}

static float *rnd(size_t n, uint64_t seed)
{
    float *x = malloc(n * sizeof *x + 4);
    assert_non_null(x);
    test_fill(x, n, seed);
    return x;
}

/* ---- gemm ---- */

static void check_gemm(be_t *be, be_t *ref, int ta, int tb, int M, int N, int K, int pad, float alpha, float beta)
{
    const char *be_name = be->ops->name;
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = rnd(na, 11), *B = rnd(nb, 12), *C = rnd(nc, 13), *W = malloc(nc * sizeof *W + 4);
    assert_non_null(W);
    memcpy(W, C, nc * sizeof *C);
    if (beta == 0.0f) /* BLAS: beta = 0 means C is not read, so NaN there must vanish */
        for (size_t i = 0; i < nc; i += 7)
            C[i] = W[i] = NAN;
    be_gemm(ref, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, W, ldc);
    be_gemm(be, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    char what[96];
    snprintf(what, sizeof what, "gemm ta=%d tb=%d %dx%dx%d pad %d alpha %g beta %g", ta, tb, M, N, K, pad,
             (double)alpha, (double)beta);
    if (beta == 0.0f) /* compare the matrix itself, and the padding must be untouched */
        for (size_t i = 0; i < nc; i += 7)
            if ((i % (size_t)ldc) >= (size_t)N) {
                assert_true(C[i] != C[i]);
                C[i] = W[i] = 0.0f;
            }
    assert_nmse(C, W, nc, NMSE_FP32, what);
    free(A);
    free(B);
    free(C);
    free(W);
}

static void test_gemm_vs_ref(void **state)
{
    (void)state;
    be_t ref = test_ref_backend(), be[4];
    int nb = fast_backends(be, 4, 2);
    static const int shapes[][3] = {{7, 5, 9}, {1, 33, 17}, {65, 130, 67}, {600, 24, 40}, {3, 1, 1}};
    static const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 2.0f}, {-1.0f, 1.0f}};
    for (int b = 0; b < nb; b++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++)
                    for (size_t k = 0; k < sizeof ab / sizeof ab[0]; k++)
                        check_gemm(&be[b], &ref, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2],
                                   (int)(s + k) % 3 * 3, ab[k][0], ab[k][1]);
        /* the MoE gate's call: [G, d] x [E, d]^T */
        check_gemm(&be[b], &ref, 0, 1, 64, 32, 512, 0, 1.0f, 0.0f);
        be_close(&be[b]);
    }
    be_close(&ref);
}

/* ---- linear at the presets' shapes ---- */

static void check_linear(be_t *be, be_t *ref, int n_out, int n_in, int M, int bias, int role, double bound)
{
    const char *be_name = be->ops->name;
    float *W = rnd((size_t)n_out * n_in, 21), *b = rnd((size_t)n_out, 22), *x = rnd((size_t)M * n_in, 23);
    float *y = malloc((size_t)M * n_out * sizeof *y), *want = malloc((size_t)M * n_out * sizeof *want);
    assert_non_null(y);
    assert_non_null(want);
    for (size_t i = 0; i < (size_t)n_out * n_in; i++) /* keep dot products O(1) */
        W[i] /= sqrtf((float)n_in);
    be_weight_t w = {W, bias ? b : NULL, n_out, n_in, NULL, role};
    mb_error_t err;
    be_linear(ref, &w, x, M, want);
    if (be_weight_prepare(be, &w, &err) != 0)
        fail_msg("%s: weight_prepare: %s", be_name, err.msg);
    be_linear(be, &w, x, M, y);
    char what[96];
    snprintf(what, sizeof what, "linear %dx%d, %d rows, %s bias, %s, role %d", n_out, n_in, M,
             bias ? "with" : "no", be_precision_name(be->opt.precision), role);
    assert_nmse(y, want, (size_t)M * n_out, bound, what);
    be_weight_release(be, &w);
    assert_null(w.prepared);
    free(W);
    free(b);
    free(x);
    free(y);
    free(want);
}

/* [n_out, n_in] of every linear weight in a preset, and the row counts the
 * model feeds them (decode rows, expert blocks, prefill). */
static const struct {
    int n_out, n_in, rows[4];
} linear_shapes[] = {
    /* tiny: d 64, ff 128, vocab 512 */
    {64, 64, {1, 6, 130, 600}}, {128, 64, {1, 7, 130, 0}}, {64, 128, {2, 9, 130, 0}}, {512, 64, {1, 6, 64, 0}},
    /* small: d 256, ff 1024, vocab 8000 */
    {256, 256, {1, 5, 100, 0}}, {1024, 256, {1, 3, 64, 0}}, {256, 1024, {1, 3, 64, 0}}, {8000, 256, {1, 4, 0, 0}},
    /* wmt-dense: d 512, ff 2048 (the 64000-word output projection costs ref too long) */
    {512, 512, {1, 4, 64, 0}}, {2048, 512, {1, 4, 0, 0}}, {512, 2048, {1, 4, 0, 0}},
    /* N not a multiple of 64: the panel kernels' last panel is partial */
    {100, 64, {2, 7, 0, 0}},
};

static void test_linear_vs_ref(void **state)
{
    (void)state;
    be_t ref = test_ref_backend(), be[4];
    int nb = fast_backends(be, 4, 2);
    for (int b = 0; b < nb; b++) {
        /* both fp32 paths of onednn: own panel kernels (decoder-side roles) and oneDNN's matmul (whole sentences) */
        for (int role = 0; role < 2; role++)
            for (size_t s = 0; s < sizeof linear_shapes / sizeof linear_shapes[0]; s++)
                for (int r = 0; r < 4 && linear_shapes[s].rows[r]; r++)
                    check_linear(&be[b], &ref, linear_shapes[s].n_out, linear_shapes[s].n_in,
                                 linear_shapes[s].rows[r], (int)(s + r) % 2,
                                 role ? BE_WEIGHT_SENTENCE : BE_WEIGHT_LAYER, NMSE_FP32);
        be_close(&be[b]);
    }
    be_close(&ref);
}

static void test_linear_bf16(void **state)
{
    (void)state;
    be_t ref = test_ref_backend(), be;
    be_options_t o = {2, BE_PRECISION_BF16};
    mb_error_t err;
    if (be_open("onednn", &o, &be, &err) != 0) {
        be_close(&ref);
        skip(); /* not compiled in, or this CPU has no bf16 kernel; the error is tested below */
    }
    for (size_t s = 0; s < sizeof linear_shapes / sizeof linear_shapes[0]; s++)
        for (int r = 0; r < 4 && linear_shapes[s].rows[r]; r++)
            check_linear(&be, &ref, linear_shapes[s].n_out, linear_shapes[s].n_in, linear_shapes[s].rows[r],
                         (int)(s + r) % 2, BE_WEIGHT_LAYER, NMSE_BF16);
    /* gemm stays fp32 at bf16 precision (the MoE gate decides routing with it) */
    check_gemm(&be, &ref, 0, 1, 64, 32, 256, 0, 1.0f, 0.0f);
    be_close(&be);
    be_close(&ref);
}

/* ---- element-wise overrides ---- */

static void test_ops_vs_ref(void **state)
{
    (void)state;
    be_t ref = test_ref_backend(), be[4];
    int nb = fast_backends(be, 4, 2);
    for (int b = 0; b < nb; b++) {
        const char *be_name = be[b].ops->name;
        /* layer norm at d = 64, 256, 512 and an odd width, in place too */
        static const int dims[] = {64, 256, 512, 37};
        for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
            int M = 33, D = dims[i];
            float *x = rnd((size_t)M * D, 31), *g = rnd((size_t)D, 32), *bb = rnd((size_t)D, 33);
            float *y = malloc((size_t)M * D * sizeof *y), *want = malloc((size_t)M * D * sizeof *want);
            for (int j = 0; j < M * D; j++)
                x[j] = x[j] * 3.0f + 0.5f;
            be_layernorm(&ref, x, g, bb, M, D, 1e-5f, want);
            be_layernorm(&be[b], x, g, bb, M, D, 1e-5f, y);
            assert_nmse(y, want, (size_t)M * D, NMSE_FP32, "layernorm");
            be_layernorm(&be[b], x, g, bb, M, D, 1e-5f, x);
            assert_nmse(x, want, (size_t)M * D, NMSE_FP32, "layernorm in place");
            free(x);
            free(g);
            free(bb);
            free(y);
            free(want);
        }
        /* ReLU: exact */
        {
            size_t n = 1000 + 3;
            float *x = rnd(n, 34), *want = malloc(n * sizeof *want);
            x[5] = -0.0f;
            x[6] = NAN;
            memcpy(want, x, n * sizeof *x);
            be_relu(&ref, want, n);
            be_relu(&be[b], x, n);
            assert_memory_equal(x, want, n * sizeof *x);
            free(x);
            free(want);
        }
        /* attention: encoder (plain), decoder prefix (causal), one decode step
         * (q_pos0), cross-attention (nq != nk), with row strides as the model
         * uses them (q/k/v inside [tokens, d] arrays) and wider ones */
        static const struct {
            int nq, nk, heads, dh, causal, q_pos0, pad;
        } at[] = {{25, 25, 8, 64, 0, 0, 0}, {17, 17, 4, 16, 1, 0, 0}, {1, 31, 8, 64, 0, 30, 0},
                  {1, 40, 4, 64, 1, 39, 5},  {9, 23, 4, 64, 0, 0, 3},  {6, 6, 2, 13, 1, 0, 1}};
        for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
            int d = at[i].heads * at[i].dh, ld = d + at[i].pad, nq = at[i].nq, nk = at[i].nk;
            float *q = rnd((size_t)nq * ld, 41), *k = rnd((size_t)nk * ld, 42), *v = rnd((size_t)nk * ld, 43);
            float *o = calloc((size_t)nq * ld, sizeof *o), *want = calloc((size_t)nq * ld, sizeof *want);
            float *scratch = malloc((size_t)nk * sizeof *scratch);
            for (int j = 0; j < nq * ld; j++)
                q[j] *= 4.0f; /* peaked softmax as well as flat ones */
            be_attention(&ref, q, ld, k, ld, v, ld, nq, nk, at[i].heads, at[i].dh, at[i].causal, at[i].q_pos0, want,
                         ld, scratch);
            be_attention(&be[b], q, ld, k, ld, v, ld, nq, nk, at[i].heads, at[i].dh, at[i].causal, at[i].q_pos0, o,
                         ld, scratch);
            char what[64];
            snprintf(what, sizeof what, "attention case %zu", i);
            assert_nmse(o, want, (size_t)nq * ld, NMSE_FP32, what);
            free(q);
            free(k);
            free(v);
            free(o);
            free(want);
            free(scratch);
        }
        /* log-softmax over the vocabularies of the presets (and an odd width),
         * logits spread like a model's, plus one row with a huge range */
        static const int vocab[] = {64000, 8000, 512, 37};
        for (size_t i = 0; i < sizeof vocab / sizeof vocab[0]; i++) {
            int M = 3, N = vocab[i];
            float *x = rnd((size_t)M * N, 51), *want = malloc((size_t)M * N * sizeof *want);
            for (int j = 0; j < M * N; j++)
                x[j] *= j < N ? 8.0f : j < 2 * N ? 1.0f : 200.0f;
            memcpy(want, x, (size_t)M * N * sizeof *x);
            be_log_softmax(&ref, want, M, N);
            be_log_softmax(&be[b], x, M, N);
            char what[64];
            snprintf(what, sizeof what, "log_softmax width %d", N);
            assert_nmse(x, want, (size_t)M * N, NMSE_FP32, what);
            free(x);
            free(want);
        }
        be_close(&be[b]);
    }
    be_close(&ref);
}

/* ---- greedy decoding, token for token ---- */

static model_t *make_model(const char *preset, const char *variant, uint64_t seed)
{
    model_config_t c;
    mb_error_t err;
    model_t *m;
    if (model_preset(preset, variant, &c, &err) != 0)
        fail_msg("preset: %s", err.msg);
    c.capacity_factor = 0.0f; /* no dropped tokens: routing must not depend on batch order */
    if (model_config_finish(&c, &err) || model_create(&c, &m, &err))
        fail_msg("model: %s", err.msg);
    model_init_random(m, seed);
    return m;
}

typedef struct hyps {
    int n, len[8], ids[8][64];
} hyps_t;

static void decode_all(model_t *m, be_t *be, int n, int max_len, hyps_t *out)
{
    mb_error_t err;
    decode_opts_t o;
    decode_opts_default(&o);
    o.max_len = max_len;
    decode_ctx_t *dc;
    if (model_prepare(m, be, &err) || decode_ctx_create(m, be, &o, &dc, &err))
        fail_msg("%s: %s", be->ops->name, err.msg);
    decode_request_t req[8];
    int src[8][24];
    for (int s = 0; s < n; s++) {
        int len = 5 + (s * 7) % 17;
        for (int t = 0; t < len; t++)
            src[s][t] = 30 + (int)((uint64_t)(s * 131 + t * 17 + 7) * 2654435761u % (uint64_t)(m->cfg.vocab - 30));
        req[s] = (decode_request_t){.task = s % m->cfg.n_tasks, .src = src[s], .src_len = len};
    }
    decode_result_t res[8];
    if (decode_batch(dc, req, n, res, &err) != 0)
        fail_msg("%s: decode: %s", be->ops->name, err.msg);
    out->n = n;
    for (int s = 0; s < n; s++) {
        out->len[s] = res[s].len;
        memcpy(out->ids[s], res[s].ids, sizeof(int) * (size_t)res[s].len);
    }
    decode_ctx_free(dc);
    model_release(m, be);
}

/* Thread counts: tiny on two threads (the thread split must not change a
 * token), small on one (its many small GEMMs with a thread team each are slow
 * when other processes share the cores; gemm and linear cover two threads). */
static void check_greedy(const char *preset, int n, int max_len, int threads)
{
    static const char *const variants[] = {"dense", "token-moe", "task-moe"};
    be_t ref = test_ref_backend(), be[4];
    int nb = fast_backends(be, 4, threads);
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        model_t *m = make_model(preset, variants[v], 100 + v);
        hyps_t want, got;
        decode_all(m, &ref, n, max_len, &want);
        for (int b = 0; b < nb; b++) {
            decode_all(m, &be[b], n, max_len, &got);
            for (int s = 0; s < n; s++) {
                if (got.len[s] != want.len[s] || memcmp(got.ids[s], want.ids[s], sizeof(int) * (size_t)got.len[s]))
                    fail_msg("%s %s on %s: sentence %d differs from ref (lengths %d vs %d)", preset, variants[v],
                             be[b].ops->name, s, got.len[s], want.len[s]);
            }
        }
        model_free(m);
    }
    for (int b = 0; b < nb; b++)
        be_close(&be[b]);
    be_close(&ref);
}

static void test_greedy_tiny(void **state)
{
    (void)state;
    check_greedy("tiny", 8, 40, 2);
}

static void test_greedy_small(void **state)
{
    (void)state;
    check_greedy("small", 6, 12, 1);
}

/* ---- what cannot be done ---- */

static void test_errors(void **state)
{
    (void)state;
    be_t be;
    mb_error_t err;
    be_options_t bf = {0, BE_PRECISION_BF16}, many = {100000, BE_PRECISION_FP32};
    if (be_find("openblas")) {
        assert_int_not_equal(be_open("openblas", &bf, &be, &err), 0);
        assert_non_null(strstr(err.msg, "bf16"));
        assert_null(strchr(err.msg, '\n'));
        assert_int_not_equal(be_open("openblas", &many, &be, &err), 0);
        assert_non_null(strstr(err.msg, "threads"));
    }
    assert_int_not_equal(be_open("ref", &bf, &be, &err), 0);
    be_options_t fp = {1, BE_PRECISION_FP32};
    assert_int_not_equal(be_open("cublas", &fp, &be, &err), 0);
    assert_non_null(strstr(err.msg, "unknown backend 'cublas'"));
    for (int i = 0; i < be_count(); i++) /* the message lists what is compiled in */
        assert_non_null(strstr(err.msg, be_at(i)->name));
    /* a known backend this build left out says how to get it */
    for (int i = 0; i < be_known_count(); i++) /* ("auto" is known but chooses, it is never left out) */
        if (be_missing_reason(be_known_name(i))) {
            assert_int_not_equal(be_open(be_known_name(i), &fp, &be, &err), 0);
            assert_non_null(strstr(err.msg, "rebuild with make WITH_"));
        }
    /* onednn with bf16 either opens or says why in one line */
    if (be_open("onednn", &bf, &be, &err) == 0)
        be_close(&be);
    else
        assert_null(strchr(err.msg, '\n'));
}

static void test_versions(void **state)
{
    (void)state;
    static const struct {
        const char *name, *lib;
    } want[] = {{"openblas", "OpenBLAS"}, {"onednn", "oneDNN"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        be_t be;
        be_options_t o = {1, BE_PRECISION_FP32};
        mb_error_t err;
        if (!be_find(want[i].name) && be_missing_reason(want[i].name))
            continue; /* left out of this build (make WITH_...=0) */
        if (be_open(want[i].name, &o, &be, &err) != 0)
            fail_msg("%s: %s", want[i].name, err.msg);
        assert_non_null(be.ops->version);
        const char *v = be.ops->version(&be);
        if (!strstr(v, want[i].lib))
            fail_msg("%s: version '%s' does not name %s", want[i].name, v, want[i].lib);
        be_close(&be);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_vs_ref),  cmocka_unit_test(test_linear_vs_ref),
        cmocka_unit_test(test_linear_bf16),  cmocka_unit_test(test_ops_vs_ref),
        cmocka_unit_test(test_greedy_tiny),  cmocka_unit_test(test_greedy_small),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
