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

/* The naive MoE: per token, the gate over its gate input, top-k; weights
 * renormalised for k >= 2 (GShard), the probability itself for k = 1 (Switch). */
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
            naive_expert(f, chosen[r], x + (size_t)t * f->d, p[chosen[r]] / (f->k >= 2 ? wsum : sum), out);
        for (int c = 0; c < f->d; c++)
            y[(size_t)t * f->d + c] = (float)out[c];
    }
}

static void run_moe_case(model_route_t routing, int K)
{
    be_t be = test_ref_backend();
    enum { E = 6, D = 16, DFF = 24, T = 11, S = 3 };
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
    moe_route_in_t rt = {.gate_in = gate_in, .G = G, .group = grp};
    moe_forward(&be, &f.moe, D, K, x, T, &rt, y, &ws, &st);
    naive_moe(&f, x, T, gate_in, grp, want);
    assert_true(test_max_abs_diff(y, want, T * D) < TOL);
    assert_int_equal(st.assignments, T * K);
    assert_int_equal(st.dropped_assignments, 0);
    assert_int_equal(st.dropped_tokens, 0);
    if (routing != MODEL_ROUTE_TOKEN) /* tokens sharing a gate row share experts */
        for (int t = 1; t < T; t++)
            if (grp[t] == grp[t - 1])
                assert_memory_equal(ws.choice + t * K, ws.choice + (t - 1) * K, sizeof(int) * K);
    moe_ws_free(&ws);
    moe_free(&f);
}

static void test_moe_token(void **state) { (void)state; run_moe_case(MODEL_ROUTE_TOKEN, 2); }
static void test_moe_sentence(void **state) { (void)state; run_moe_case(MODEL_ROUTE_SENTENCE, 2); }
static void test_moe_task(void **state) { (void)state; run_moe_case(MODEL_ROUTE_TASK, 2); }
/* top-1: the weight is p, not 1 (the naive version computes p from the softmax) */
static void test_moe_top1_weight_is_p(void **state) { (void)state; run_moe_case(MODEL_ROUTE_TOKEN, 1); }

/* Capacity values worked by hand from max(4, 4 * ceil(ceil(cf * k * S / E) / 4)). */
static void test_moe_capacity_formula(void **state)
{
    (void)state;
    assert_int_equal(moe_capacity(0.0, 2, 10, 4), 0);     /* unlimited */
    assert_int_equal(moe_capacity(0.5, 2, 10, 4), 4);     /* ceil(2.5) = 3 -> 4 */
    assert_int_equal(moe_capacity(1.0, 2, 37, 4), 20);    /* ceil(18.5) = 19 -> 20 */
    assert_int_equal(moe_capacity(2.0, 2, 100, 32), 16);  /* ceil(12.5) = 13 -> 16 */
    assert_int_equal(moe_capacity(1.0, 1, 3, 128), 4);    /* ceil(0.023) = 1 -> the minimum 4 */
    assert_int_equal(moe_capacity(1.25, 2, 64, 8), 20);   /* exactly 20 stays 20 */
}

/* Capacity scenario with hand-worked admissions. E = 4 experts, k = 2, one
 * sequence of T = 10 tokens, C = 4 slots per expert. The gate is the
 * identity on the first 4 input columns, so a gate row (a, b, 0, 0, ...)
 * gives logits (a, b, 0, 0): tokens 0-4 get (1, 2) -> experts 1 then 0,
 * tokens 5-9 get (2, 1) -> experts 0 then 1. Weights from the closed form
 * p = e^a / (e^2 + e^1 + 2):
 *  - rank-major (encoder): first choices t0-3 -> e1, t4 dropped; t5-8 -> e0,
 *    t9 dropped; every second choice finds its expert full. Kept: t0-3 {e1},
 *    t5-8 {e0}; t4 and t9 lose everything (2 dropped tokens, 12 assignments).
 *  - token order (decoder): t0-3 keep both experts, t4-9 lose both
 *    (6 dropped tokens, 12 assignments). */
enum { CE = 4, CK = 2, CD = 8, CDFF = 8, CT = 10 };

static void cap_fixture(moe_fixture_t *f, float *gate_in, float *x)
{
    moe_make(f, CE, CK, CD, CDFF, MODEL_ROUTE_TOKEN, 40);
    memset(f->gate, 0, sizeof(float) * CE * CD);
    for (int e = 0; e < CE; e++)
        f->gate[e * CD + e] = 1.0f;
    memset(gate_in, 0, sizeof(float) * CT * CD);
    for (int t = 0; t < CT; t++) {
        gate_in[t * CD + 0] = t < 5 ? 1.0f : 2.0f;
        gate_in[t * CD + 1] = t < 5 ? 2.0f : 1.0f;
    }
    test_fill(x, CT * CD, 41);
}

/* want[t] from the admissions: keep[t][r] says whether rank r survived */
static void cap_expected(const moe_fixture_t *f, const float *x, int k, int keep[CT][CK], float *want)
{
    const double z = exp(2.0) + exp(1.0) + 2.0, p1 = exp(2.0) / z, p2 = exp(1.0) / z;
    const double w[2] = {k == 1 ? p1 : p1 / (p1 + p2), p2 / (p1 + p2)};
    for (int t = 0; t < CT; t++) {
        double out[CD] = {0};
        int first = t < 5 ? 1 : 0, second = 1 - first;
        if (keep[t][0])
            naive_expert(f, first, x + t * CD, w[0], out);
        if (k > 1 && keep[t][1])
            naive_expert(f, second, x + t * CD, w[1], out);
        for (int c = 0; c < CD; c++)
            want[t * CD + c] = (float)out[c];
    }
}

static void test_moe_capacity_drops_predicted(void **state)
{
    (void)state;
    be_t be = test_ref_backend();
    moe_fixture_t f;
    float gate_in[CT * CD], x[CT * CD], y[CT * CD], want[CT * CD];
    cap_fixture(&f, gate_in, x);
    moe_ws_t ws = {0};
    mb_error_t err;
    assert_int_equal(moe_ws_reserve(&ws, CT, CD, CDFF, CE, CK, &err), 0);
    const int C = moe_capacity(0.5, CK, CT, CE);
    assert_int_equal(C, 4);
    int cap[CT], counter[CT] = {0}, counts[CE];
    for (int t = 0; t < CT; t++)
        cap[t] = C;

    /* rank-major */
    memset(counts, 0, sizeof counts);
    moe_route_in_t rt = {gate_in, CT, NULL, cap, counter, counts, 1};
    moe_stats_t st = {0};
    moe_forward(&be, &f.moe, CD, CK, x, CT, &rt, y, &ws, &st);
    int rank_keep[CT][CK] = {{1, 0}, {1, 0}, {1, 0}, {1, 0}, {0, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}, {0, 0}};
    cap_expected(&f, x, CK, rank_keep, want);
    assert_true(test_max_abs_diff(y, want, CT * CD) < TOL);
    assert_int_equal(st.assignments, CT * CK);
    assert_int_equal(st.dropped_assignments, 12);
    assert_int_equal(st.dropped_tokens, 2);
    assert_int_equal(counts[0], 4), assert_int_equal(counts[1], 4);

    /* token order, the same rows in one call */
    int tok_keep[CT][CK] = {{1, 1}, {1, 1}, {1, 1}, {1, 1}};
    cap_expected(&f, x, CK, tok_keep, want);
    memset(counts, 0, sizeof counts);
    rt.rank_major = 0;
    st = (moe_stats_t){0};
    moe_forward(&be, &f.moe, CD, CK, x, CT, &rt, y, &ws, &st);
    assert_true(test_max_abs_diff(y, want, CT * CD) < TOL);
    assert_int_equal(st.dropped_assignments, 12);
    assert_int_equal(st.dropped_tokens, 6);

    /* token order, one token per call (decoder steps): the counters carry
     * admissions across calls, so the result is the same */
    memset(counts, 0, sizeof counts);
    st = (moe_stats_t){0};
    for (int t = 0; t < CT; t++) {
        moe_route_in_t one = {gate_in + t * CD, 1, NULL, cap, counter, counts, 0};
        moe_forward(&be, &f.moe, CD, CK, x + t * CD, 1, &one, y + t * CD, &ws, &st);
    }
    assert_true(test_max_abs_diff(y, want, CT * CD) < TOL);
    assert_int_equal(st.dropped_tokens, 6);

    /* two sequences in one call with their own counters do not interact:
     * a second copy of the sequence (counter row 1) is admitted exactly as
     * the first */
    {
        float x2[2 * CT * CD], g2[2 * CT * CD], y2[2 * CT * CD];
        int cap2[2 * CT], ctr2[2 * CT], counts2[2 * CE] = {0};
        memcpy(x2, x, sizeof x), memcpy(x2 + CT * CD, x, sizeof x);
        memcpy(g2, gate_in, sizeof gate_in), memcpy(g2 + CT * CD, gate_in, sizeof gate_in);
        for (int t = 0; t < 2 * CT; t++)
            cap2[t] = C, ctr2[t] = t / CT;
        assert_int_equal(moe_ws_reserve(&ws, 2 * CT, CD, CDFF, CE, CK, &err), 0);
        moe_route_in_t two = {g2, 2 * CT, NULL, cap2, ctr2, counts2, 1};
        st = (moe_stats_t){0};
        moe_forward(&be, &f.moe, CD, CK, x2, 2 * CT, &two, y2, &ws, &st);
        cap_expected(&f, x, CK, rank_keep, want);
        assert_true(test_max_abs_diff(y2, want, CT * CD) < TOL);
        assert_true(test_max_abs_diff(y2 + CT * CD, want, CT * CD) < TOL);
        assert_int_equal(st.dropped_tokens, 4);
    }

    /* no capacity (cap NULL) drops nothing */
    int all_keep[CT][CK];
    for (int t = 0; t < CT; t++)
        all_keep[t][0] = all_keep[t][1] = 1;
    cap_expected(&f, x, CK, all_keep, want);
    moe_route_in_t none = {gate_in, CT, NULL, NULL, NULL, NULL, 1};
    st = (moe_stats_t){0};
    moe_forward(&be, &f.moe, CD, CK, x, CT, &none, y, &ws, &st);
    assert_true(test_max_abs_diff(y, want, CT * CD) < TOL);
    assert_int_equal(st.dropped_assignments, 0);

    /* sentence- and task-routed layers are never capacity-limited, even when
     * every token of the sequence goes to the same two experts */
    for (int routing = MODEL_ROUTE_SENTENCE; routing <= MODEL_ROUTE_TASK; routing++) {
        f.moe.routing = (model_route_t)routing;
        int group[CT] = {0};
        memset(counts, 0, sizeof counts);
        moe_route_in_t one_row = {gate_in, 1, group, cap, counter, counts, 1};
        st = (moe_stats_t){0};
        moe_forward(&be, &f.moe, CD, CK, x, CT, &one_row, y, &ws, &st);
        assert_int_equal(st.dropped_assignments, 0);
        assert_int_equal(st.dropped_tokens, 0);
    }
    moe_ws_free(&ws);
    moe_free(&f);
}

/* top-1 with capacity: the weight is p (Switch), and the rank-major and
 * token orders agree (one choice each): t0-3 and t5-8 kept. */
static void test_moe_capacity_top1(void **state)
{
    (void)state;
    be_t be = test_ref_backend();
    moe_fixture_t f;
    float gate_in[CT * CD], x[CT * CD], y[CT * CD], want[CT * CD];
    cap_fixture(&f, gate_in, x);
    f.k = 1;
    moe_ws_t ws = {0};
    mb_error_t err;
    assert_int_equal(moe_ws_reserve(&ws, CT, CD, CDFF, CE, 1, &err), 0);
    int cap[CT], counter[CT] = {0}, counts[CE] = {0};
    for (int t = 0; t < CT; t++)
        cap[t] = moe_capacity(1.0, 1, CT, CE); /* ceil(2.5) = 3 -> 4 */
    int keep[CT][CK] = {{1}, {1}, {1}, {1}, {0}, {1}, {1}, {1}, {1}, {0}};
    cap_expected(&f, x, 1, keep, want);
    moe_route_in_t rt = {gate_in, CT, NULL, cap, counter, counts, 0};
    moe_stats_t st = {0};
    moe_forward(&be, &f.moe, CD, 1, x, CT, &rt, y, &ws, &st);
    assert_true(test_max_abs_diff(y, want, CT * CD) < TOL);
    assert_int_equal(st.dropped_assignments, 2);
    assert_int_equal(st.dropped_tokens, 2);
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
        cmocka_unit_test(test_moe_task),            cmocka_unit_test(test_moe_top1_weight_is_p),
        cmocka_unit_test(test_moe_capacity_formula), cmocka_unit_test(test_moe_capacity_drops_predicted),
        cmocka_unit_test(test_moe_capacity_top1),
    };
    return cmocka_run_group_tests_name("layers", tests, NULL, NULL);
}
