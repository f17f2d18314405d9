/* Each building block of the forward pass against a second, naive
 * computation written here in double precision (llm.c style): linear,
 * layer norm, attention (plain and causal), embedding + positions,
 * log-softmax, and the MoE layer for every routing kind.
 * Tolerance: float32 sums of at most a few hundred O(1) terms differ from
 * the double result by well under 1e-4 absolute; 1e-4 is used throughout. */
#include "testutil.h"

#include "models/layers.h"
#include "models/moe.h"

#define TOL 1e-4f

static void naive_linear(const float *W, const float *b, int n_out, int n_in, const float *x, int M, float *y)
{
    for (int i = 0; i < M; i++)
        for (int o = 0; o < n_out; o++) {
            double acc = b ? b[o] : 0.0;
            for (int k = 0; k < n_in; k++)
                acc += (double)x[i * n_in + k] * W[o * n_in + k];
            y[i * n_out + o] = (float)acc;
        }
}

static void test_gemm_all_transposes(void **state)
{
    (void)state;
    be_t be = test_ref_backend();
    enum { M = 7, N = 5, K = 9 };
    float A[M * K], B[K * N], At[K * M], Bt[N * K], C[M * N], want[M * N];
    test_fill(A, M * K, 1);
    test_fill(B, K * N, 2);
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            At[k * M + i] = A[i * K + k];
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++)
            Bt[j * K + k] = B[k * N + j];
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            test_fill(C, M * N, 3);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double acc = 0;
                    for (int k = 0; k < K; k++)
                        acc += (double)A[i * K + k] * B[k * N + j];
                    want[i * N + j] = (float)(0.5 * acc + 2.0 * C[i * N + j]);
                }
            be_gemm(&be, ta, tb, M, N, K, 0.5f, ta ? At : A, ta ? M : K, tb ? Bt : B, tb ? K : N, 2.0f, C, N);
            assert_true(test_max_abs_diff(C, want, M * N) < TOL);
        }
}

static void test_linear(void **state)
{
    (void)state;
    be_t be = test_ref_backend();
    enum { M = 6, IN = 33, OUT = 17 };
    float W[OUT * IN], b[OUT], x[M * IN], y[M * OUT], want[M * OUT];
    test_fill(W, sizeof W / 4, 4);
    test_fill(b, OUT, 5);
    test_fill(x, sizeof x / 4, 6);
    be_weight_t w = {W, b, OUT, IN, NULL, BE_WEIGHT_LAYER};
    be_linear(&be, &w, x, M, y);
    naive_linear(W, b, OUT, IN, x, M, want);
    assert_true(test_max_abs_diff(y, want, M * OUT) < TOL);
    w.b = NULL;
    be_linear(&be, &w, x, M, y);
    naive_linear(W, NULL, OUT, IN, x, M, want);
    assert_true(test_max_abs_diff(y, want, M * OUT) < TOL);
}

static void test_layernorm(void **state)
{
    (void)state;
    be_t be = test_ref_backend();
    enum { M = 5, D = 48 };
    float x[M * D], g[D], b[D], y[M * D], want[M * D];
    test_fill(x, M * D, 7);
    test_fill(g, D, 8);
    test_fill(b, D, 9);
    for (int i = 0; i < M; i++) {
        double mean = 0, var = 0;
        for (int j = 0; j < D; j++)
            mean += x[i * D + j];
        mean /= D;
        for (int j = 0; j < D; j++)
            var += (x[i * D + j] - mean) * (x[i * D + j] - mean);
        var /= D;
        for (int j = 0; j < D; j++)
            want[i * D + j] = (float)((x[i * D + j] - mean) / sqrt(var + 1e-5) * g[j] + b[j]);
    }
    be_layernorm(&be, x, g, b, M, D, 1e-5f, y);
    assert_true(test_max_abs_diff(y, want, M * D) < TOL);
    be_layernorm(&be, x, g, b, M, D, 1e-5f, x); /* in place */
    assert_true(test_max_abs_diff(x, want, M * D) < TOL);
}

static void naive_attention(const float *q, const float *k, const float *v, int nq, int nk, int H, int dh,
                            int causal, int q_pos0, float *out)
{
    int d = H * dh;
    for (int i = 0; i < nq; i++)
        for (int h = 0; h < H; h++) {
            double s[64], mx = -1e300, sum = 0;
            int see = causal ? q_pos0 + i + 1 : nk;
            for (int j = 0; j < see; j++) {
                double acc = 0;
                for (int c = 0; c < dh; c++)
                    acc += (double)q[i * d + h * dh + c] * k[j * d + h * dh + c];
                s[j] = acc / sqrt((double)dh);
                mx = s[j] > mx ? s[j] : mx;
            }
            for (int j = 0; j < see; j++)
                sum += (s[j] = exp(s[j] - mx));
            for (int c = 0; c < dh; c++) {
                double acc = 0;
                for (int j = 0; j < see; j++)
                    acc += s[j] / sum * v[j * d + h * dh + c];
                out[i * d + h * dh + c] = (float)acc;
            }
        }
}

static void test_attention(void **state)
{
    (void)state;
    be_t be = test_ref_backend();
    enum { NQ = 6, NK = 9, H = 4, DH = 8, D = H * DH };
    float q[NQ * D], k[NK * D], v[NK * D], out[NQ * D], want[NQ * D], scratch[NK];
    test_fill(q, sizeof q / 4, 10);
    test_fill(k, sizeof k / 4, 11);
    test_fill(v, sizeof v / 4, 12);
    be_attention(&be, q, D, k, D, v, D, NQ, NK, H, DH, 0, 0, out, D, scratch);
    naive_attention(q, k, v, NQ, NK, H, DH, 0, 0, want);
    assert_true(test_max_abs_diff(out, want, NQ * D) < TOL);
    /* causal: queries at positions 3..8 of a 9-token prefix */
    be_attention(&be, q, D, k, D, v, D, NQ, NK, H, DH, 1, 3, out, D, scratch);
    naive_attention(q, k, v, NQ, NK, H, DH, 1, 3, want);
    assert_true(test_max_abs_diff(out, want, NQ * D) < TOL);
}

static void test_embed_and_positions(void **state)
{
    (void)state;
    enum { V = 10, D = 6, N = 3 };
    float table[V * D], out[N * D];
    test_fill(table, V * D, 13);
    int ids[N] = {4, 0, 9}, pos[N] = {0, 5, 17};
    float pos_table[8 * D];
    layer_position_table(8, D, pos_table);
    /* rows 0 and 5 from the table, 17 computed: the same formula either way */
    for (int use_table = 0; use_table < 2; use_table++) {
        layer_embed(table, D, ids, pos, N, 2.0f, pos_table, use_table ? 8 : 0, out);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < D; j++) {
                double angle = pos[i] / pow(10000.0, (double)(j - j % 2) / D);
                double pe = j % 2 ? cos(angle) : sin(angle);
                assert_true(fabs(out[i * D + j] - (2.0 * table[ids[i] * D + j] + pe)) < 1e-5);
            }
    }
}

static void test_log_softmax_and_argmax(void **state)
{
    (void)state;
    float x[5] = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f}, want[5];
    double lse = log(exp(1.0) + 2 * exp(3.0) + exp(-2.0) + exp(0.5));
    for (int i = 0; i < 5; i++)
        want[i] = (float)(x[i] - lse);
    be_t be = test_ref_backend();
    be_log_softmax(&be, x, 1, 5);
    assert_true(test_max_abs_diff(x, want, 5) < 1e-6f);
    assert_int_equal(layer_argmax(x, 5), 1); /* first of the tied maxima */
    /* past the blocks of 16, and the first of ties across blocks */
    float big[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = (float)(i % 97);
    assert_int_equal(layer_argmax(big, 1000), 96);
    big[999] = 500.0f;
    assert_int_equal(layer_argmax(big, 1000), 999);
    big[17] = 500.0f;
    assert_int_equal(layer_argmax(big, 1000), 17);
}

/* ---- MoE ---- */

typedef struct moe_fixture {
    int E, k, d, dff;
    float *gate, *w1, *b1, *w2, *b2;
    model_ffn_t *experts;
    model_moe_t moe;
} moe_fixture_t;

static void moe_make(moe_fixture_t *f, int E, int k, int d, int dff, model_route_t routing, uint64_t seed)
{
    f->E = E, f->k = k, f->d = d, f->dff = dff;
    f->gate = malloc(sizeof(float) * E * d);
    f->w1 = malloc(sizeof(float) * E * dff * d);
    f->b1 = malloc(sizeof(float) * E * dff);
    f->w2 = malloc(sizeof(float) * E * d * dff);
    f->b2 = malloc(sizeof(float) * E * d);
    test_fill(f->gate, (size_t)E * d, seed);
    test_fill(f->w1, (size_t)E * dff * d, seed + 1);
    test_fill(f->b1, (size_t)E * dff, seed + 2);
    test_fill(f->w2, (size_t)E * d * dff, seed + 3);
    test_fill(f->b2, (size_t)E * d, seed + 4);
    f->experts = calloc((size_t)E, sizeof *f->experts);
    for (int e = 0; e < E; e++) {
        f->experts[e].fc1 = (be_weight_t){f->w1 + (size_t)e * dff * d, f->b1 + (size_t)e * dff, dff, d, NULL, BE_WEIGHT_LAYER};
        f->experts[e].fc2 = (be_weight_t){f->w2 + (size_t)e * d * dff, f->b2 + (size_t)e * d, d, dff, NULL, BE_WEIGHT_LAYER};
    }
    f->moe = (model_moe_t){routing, E, 0, f->gate, NULL, f->experts};
}

static void moe_free(moe_fixture_t *f)
{
    free(f->gate), free(f->w1), free(f->b1), free(f->w2), free(f->b2), free(f->experts);
}

/* out[d] += w * expert_e(x) in double */
static void naive_expert(const moe_fixture_t *f, int e, const float *x, double w, double *out)
{
    double h[256];
    for (int j = 0; j < f->dff; j++) {
        double acc = f->b1[e * f->dff + j];
        for (int c = 0; c < f->d; c++)
            acc += (double)f->w1[((size_t)e * f->dff + j) * f->d + c] * x[c];
        h[j] = acc > 0 ? acc : 0;
    }
    for (int c = 0; c < f->d; c++) {
        double acc = f->b2[e * f->d + c];
        for (int j = 0; j < f->dff; j++)
            acc += (double)f->w2[((size_t)e * f->d + c) * f->dff + j] * h[j];
        out[c] += w * acc;
    }
}

/* The naive MoE: per token, the gate over its gate input, top-k, renormalised. */
static void naive_moe(const moe_fixture_t *f, const float *x, int T, const float *gate_in, const int *group,
                      float *y)
{
    for (int t = 0; t < T; t++) {
        const float *g = gate_in + (size_t)(group ? group[t] : t) * f->d;
        double p[64], mx = -1e300, sum = 0, out[256] = {0};
        for (int e = 0; e < f->E; e++) {
            double acc = 0;
            for (int c = 0; c < f->d; c++)
                acc += (double)g[c] * f->gate[e * f->d + c];
            p[e] = acc;
            mx = acc > mx ? acc : mx;
        }
        for (int e = 0; e < f->E; e++)
            sum += (p[e] = exp(p[e] - mx));
        int chosen[8];
        double wsum = 0;
        for (int r = 0; r < f->k; r++) {
            int best = -1;
            for (int e = 0; e < f->E; e++) {
                int used = 0;
                for (int q = 0; q < r; q++)
                    used |= chosen[q] == e;
                if (!used && (best < 0 || p[e] > p[best]))
                    best = e;
            }
            chosen[r] = best;
            wsum += p[best];
        }
        for (int r = 0; r < f->k; r++)
            naive_expert(f, chosen[r], x + (size_t)t * f->d, p[chosen[r]] / wsum, out);
        for (int c = 0; c < f->d; c++)
            y[(size_t)t * f->d + c] = (float)out[c];
    }
}

static void run_moe_case(model_route_t routing)
{
    be_t be = test_ref_backend();
    enum { E = 6, K = 2, D = 16, DFF = 24, T = 11, S = 3 };
    moe_fixture_t f;
    moe_make(&f, E, K, D, DFF, routing, 20 + routing);
    float x[T * D], y[T * D], want[T * D], gate_in[T * D];
    int group[T], seq_off[S + 1] = {0, 4, 9, T};
    test_fill(x, T * D, 30);
    int G = T;
    const int *grp = NULL;
    if (routing == MODEL_ROUTE_SENTENCE) { /* gate sees each sentence's mean */
        memset(gate_in, 0, sizeof gate_in);
        for (int s = 0; s < S; s++)
            for (int t = seq_off[s]; t < seq_off[s + 1]; t++) {
                group[t] = s;
                for (int c = 0; c < D; c++)
                    gate_in[s * D + c] += x[t * D + c] / (seq_off[s + 1] - seq_off[s]);
            }
        G = S, grp = group;
    } else if (routing == MODEL_ROUTE_TASK) { /* gate sees one of 2 task embeddings */
        test_fill(gate_in, 2 * D, 31);
        for (int t = 0; t < T; t++)
            group[t] = t % 2;
        G = 2, grp = group;
    } else {
        memcpy(gate_in, x, sizeof x);
    }
    moe_ws_t ws = {0};
    mb_error_t err;
    assert_int_equal(moe_ws_reserve(&ws, T, D, DFF, E, K, &err), 0);
    moe_stats_t st = {0};
    moe_forward(&be, &f.moe, D, DFF, K, 0.0f, x, T, gate_in, G, grp, y, &ws, &st);
    naive_moe(&f, x, T, gate_in, grp, want);
    assert_true(test_max_abs_diff(y, want, T * D) < TOL);
    assert_int_equal(st.assignments, T * K);
    assert_int_equal(st.dropped, 0);
    if (routing != MODEL_ROUTE_TOKEN) /* tokens sharing a gate row share experts */
        for (int t = 1; t < T; t++)
            if (grp[t] == grp[t - 1])
                assert_memory_equal(ws.choice + t * K, ws.choice + (t - 1) * K, sizeof(int) * K);
    moe_ws_free(&ws);
    moe_free(&f);
}

static void test_moe_token(void **state) { (void)state; run_moe_case(MODEL_ROUTE_TOKEN); }
static void test_moe_sentence(void **state) { (void)state; run_moe_case(MODEL_ROUTE_SENTENCE); }
static void test_moe_task(void **state) { (void)state; run_moe_case(MODEL_ROUTE_TASK); }

/* A batch built to overflow one expert: every token's first choice is
 * expert 0 and second choice expert 1, so with capacity C = ceil(cf*k*T/E)
 * exactly T - C first and T - C second choices are dropped, and they are the
 * last tokens in batch order. */
static void test_moe_capacity_drops_predicted(void **state)
{
    (void)state;
    be_t be = test_ref_backend();
    enum { E = 4, K = 2, D = 8, DFF = 8, T = 10 };
    moe_fixture_t f;
    moe_make(&f, E, K, D, DFF, MODEL_ROUTE_TOKEN, 40);
    for (int e = 0; e < E; e++) /* gate: logit = (3 - e) * sum(x); x > 0 -> order 0,1,2,3 */
        for (int c = 0; c < D; c++)
            f.gate[e * D + c] = (float)(3 - e);
    float x[T * D], y[T * D];
    for (int i = 0; i < T * D; i++)
        x[i] = 0.05f + 0.01f * (float)(i % 7);
    moe_ws_t ws = {0};
    mb_error_t err;
    assert_int_equal(moe_ws_reserve(&ws, T, D, DFF, E, K, &err), 0);
    const float cf = 1.0f;
    int cap = moe_capacity(cf, K, T, E);
    assert_int_equal(cap, 5); /* ceil(1 * 2 * 10 / 4) */
    moe_stats_t st = {0};
    moe_forward(&be, &f.moe, D, DFF, K, cf, x, T, x, T, NULL, y, &ws, &st);
    assert_int_equal(st.dropped, 2 * (T - cap));
    assert_int_equal(st.assignments, T * K);
    for (int t = 0; t < T; t++) {
        /* the first `cap` tokens keep both experts; the rest ride the residual (y = 0) */
        double want[D] = {0};
        if (t < cap) {
            naive_expert(&f, 0, x + t * D, ws.weight[t * K], want);
            naive_expert(&f, 1, x + t * D, ws.weight[t * K + 1], want);
        }
        for (int c = 0; c < D; c++)
            assert_true(fabs(y[t * D + c] - want[c]) < TOL);
    }
    /* unlimited capacity drops nothing */
    st = (moe_stats_t){0};
    moe_forward(&be, &f.moe, D, DFF, K, 0.0f, x, T, x, T, NULL, y, &ws, &st);
    assert_int_equal(st.dropped, 0);
    /* task-routed layers are never capacity-limited: a task's tokens all go to its experts */
    f.moe.routing = MODEL_ROUTE_TASK;
    int group[T] = {0};
    st = (moe_stats_t){0};
    moe_forward(&be, &f.moe, D, DFF, K, cf, x, T, x, 1, group, y, &ws, &st);
    assert_int_equal(st.dropped, 0);
    moe_ws_free(&ws);
    moe_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_all_transposes), cmocka_unit_test(test_linear),
        cmocka_unit_test(test_layernorm),           cmocka_unit_test(test_attention),
        cmocka_unit_test(test_embed_and_positions), cmocka_unit_test(test_log_softmax_and_argmax),
        cmocka_unit_test(test_moe_token),           cmocka_unit_test(test_moe_sentence),
        cmocka_unit_test(test_moe_task),            cmocka_unit_test(test_moe_capacity_drops_predicted),
    };
    return cmocka_run_group_tests_name("layers", tests, NULL, NULL);
}
