/* Every training building block's backward against central finite
 * differences of its forward: linear, layer norm, attention (causal self and
 * cross), embedding, ReLU, dropout, label-smoothed cross-entropy, and the MoE
 * layer (gate through the top-k renormalisation for k = 2 and k = 1, capacity
 * drops, a task/sentence-style gate over shared rows, and the aux loss alone).
 *
 * The loss is a fixed random projection of the output, L = sum r * y,
 * accumulated in double; the layers compute in float32 on O(1) values, so a
 * difference quotient with step 1e-3 carries about 5e-4 of rounding error
 * (and O(h^2) ~ 1e-6 of truncation): the tolerance is 2e-3 + 1e-2 |grad|.
 * (A step of 1e-2 made some expert ReLUs flip inside the interval.)
 * The label-smoothed loss is also checked against its definition. */
#include "testutil.h"

#include "common/mb_rng.h"
#include "models/layers.h"
#include "train/trn_moe.h"
#include "train/trn_ops.h"

#define H_STEP 1e-3f

typedef double (*loss_fn)(void *ctx);

static double proj(const float *y, const float *r, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * r[i];
    return s;
}

/* Compares grad[n] with central differences of f with respect to p[n]. */
static void check_fd(const char *what, loss_fn f, void *ctx, float *p, const float *grad, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = p[i];
        p[i] = keep + H_STEP;
        double up = f(ctx);
        p[i] = keep - H_STEP;
        double down = f(ctx);
        p[i] = keep;
        double fd = (up - down) / (2.0 * H_STEP);
        if (fabs(fd - grad[i]) > 2e-3 + 1e-2 * fabs(grad[i])) {
            if (bad++ < 5)
                print_message("# %s[%zu]: analytic %.6g, finite difference %.6g\n", what, i, (double)grad[i], fd);
        }
    }
    assert_int_equal(bad, 0);
}

/* ---- linear ---- */
enum { LM = 4, LI = 5, LO = 3 };
typedef struct { be_t be; float x[LM * LI], W[LO * LI], b[LO], y[LM * LO], r[LM * LO]; } lin_ctx;
static double lin_loss(void *c)
{
    lin_ctx *k = c;
    trn_linear_fwd(&k->be, k->W, k->b, k->x, LM, LI, LO, k->y);
    return proj(k->y, k->r, LM * LO);
}
/* a ref backend and x, W, b from seeds seed, seed + 1, seed + 2 */
static void lin_setup(lin_ctx *k, uint64_t seed)
{
    k->be = test_ref_backend();
    test_fill(k->x, LM * LI, seed);
    test_fill(k->W, LO * LI, seed + 1);
    test_fill(k->b, LO, seed + 2);
}
static void test_linear(void **state)
{
    (void)state;
    lin_ctx k;
    lin_setup(&k, 1);
    test_fill(k.r, LM * LO, 4);
    float dx[LM * LI], dW[LO * LI] = {0}, db[LO] = {0};
    trn_linear_bwd(&k.be, k.W, k.x, k.r, LM, LI, LO, dx, 0.0f, dW, db);
    check_fd("linear dx", lin_loss, &k, k.x, dx, LM * LI);
    check_fd("linear dW", lin_loss, &k, k.W, dW, LO * LI);
    check_fd("linear db", lin_loss, &k, k.b, db, LO);
}

/* the fused bias + ReLU forward against the definition in double */
static void test_linear_relu(void **state)
{
    (void)state;
    lin_ctx k;
    lin_setup(&k, 5);
    trn_linear_relu_fwd(&k.be, k.W, k.b, k.x, LM, LI, LO, k.y);
    int zeros = 0;
    for (int i = 0; i < LM; i++)
        for (int o = 0; o < LO; o++) {
            double v = k.b[o];
            for (int j = 0; j < LI; j++)
                v += (double)k.x[i * LI + j] * k.W[o * LI + j];
            v = v > 0 ? v : 0;
            zeros += v == 0;
            assert_true(fabs(k.y[i * LO + o] - v) < 1e-5);
        }
    assert_true(zeros > 0 && zeros < LM * LO); /* both sides of the kink were tested */
}

/* trn_expf against exp in double over the whole clamped range */
static void test_expf(void **state)
{
    (void)state;
    double worst = 0;
    for (int i = 0; i <= 400000; i++) {
        float x = -87.0f + 175.0f * (float)i / 400000.0f;
        double e = exp((double)x), r = fabs(trn_expf(x) - e) / e;
        worst = r > worst ? r : worst;
    }
    if (worst >= 2e-7)
        fail_msg("trn_expf: worst relative error %g (bound 2e-7)", worst);
    assert_true(trn_expf(0.0f) == 1.0f);
    assert_true(trn_expf(-1000.0f) > 0 && trn_expf(-1000.0f) < 2e-38f); /* clamped, not 0 or NaN */
}

/* ---- layer norm ---- */
enum { NM = 3, ND = 8 };
typedef struct { float x[NM * ND], g[ND], b[ND], y[NM * ND], xh[NM * ND], rs[NM], r[NM * ND]; } ln_ctx;
static double ln_loss(void *c)
{
    ln_ctx *k = c;
    trn_ln_fwd(k->x, k->g, k->b, NM, ND, k->y, k->xh, k->rs);
    return proj(k->y, k->r, NM * ND);
}
static void test_layernorm(void **state)
{
    (void)state;
    ln_ctx k;
    test_fill(k.x, NM * ND, 5);
    test_fill(k.g, ND, 6);
    test_fill(k.b, ND, 7);
    test_fill(k.r, NM * ND, 8);
    for (int j = 0; j < ND; j++)
        k.g[j] += 1.0f;
    ln_loss(&k);
    float dx[NM * ND] = {0}, dg[ND] = {0}, db[ND] = {0};
    trn_ln_bwd(k.r, k.xh, k.rs, k.g, NM, ND, dx, dg, db);
    check_fd("layernorm dx", ln_loss, &k, k.x, dx, NM * ND);
    check_fd("layernorm dg", ln_loss, &k, k.g, dg, ND);
    check_fd("layernorm db", ln_loss, &k, k.b, db, ND);
}

/* ---- attention ---- */
enum { AQ = 4, AK = 6, AH = 2, ADH = 3, AD = AH * ADH };
typedef struct {
    be_t be;
    int causal, nk;
    float q[AQ * AD], k[AK * AD], v[AK * AD], P[AH * AQ * AK], out[AQ * AD], r[AQ * AD];
} att_ctx;
static double att_loss(void *c)
{
    att_ctx *k = c;
    trn_attn_fwd(&k->be, k->q, k->k, k->v, AD, AQ, k->nk, AH, ADH, k->causal, k->P, k->out);
    return proj(k->out, k->r, AQ * AD);
}
static void check_attention(int causal)
{
    att_ctx k;
    k.be = test_ref_backend();
    k.causal = causal;
    k.nk = causal ? AQ : AK; /* causal self-attention: as many keys as queries */
    test_fill(k.q, AQ * AD, 9);
    test_fill(k.k, AK * AD, 10);
    test_fill(k.v, AK * AD, 11);
    test_fill(k.r, AQ * AD, 12);
    att_loss(&k);
    float dq[AQ * AD] = {0}, dk[AK * AD] = {0}, dv[AK * AD] = {0}, scratch[AQ * AK];
    trn_attn_bwd(&k.be, k.q, k.k, k.v, AD, AQ, k.nk, AH, ADH, k.P, k.r, dq, dk, dv, scratch);
    check_fd("attention dq", att_loss, &k, k.q, dq, AQ * AD);
    check_fd("attention dk", att_loss, &k, k.k, dk, (size_t)k.nk * AD);
    check_fd("attention dv", att_loss, &k, k.v, dv, (size_t)k.nk * AD);
    if (causal) /* the first query sees only the first key */
        for (int h = 0; h < AH; h++)
            assert_true(k.P[h * AQ * k.nk + 0] == 1.0f && k.P[h * AQ * k.nk + 1] == 0.0f);
}
static void test_attention_causal(void **state)
{
    (void)state;
    check_attention(1);
}
static void test_attention_cross(void **state)
{
    (void)state;
    check_attention(0);
}

/* ---- embedding, ReLU, dropout ---- */
enum { EV = 10, ED = 4, EN = 6 };
typedef struct { float table[EV * ED], pos[8 * ED], out[EN * ED], r[EN * ED]; int ids[EN], p[EN]; } emb_ctx;
static double emb_loss(void *c)
{
    emb_ctx *k = c;
    layer_embed(k->table, ED, k->ids, k->p, EN, 2.0f, k->pos, 8, k->out);
    return proj(k->out, k->r, EN * ED);
}
static void test_embedding(void **state)
{
    (void)state;
    emb_ctx k;
    int ids[EN] = {3, 7, 3, 0, 9, 3}; /* repeats sum */
    memcpy(k.ids, ids, sizeof ids);
    for (int i = 0; i < EN; i++)
        k.p[i] = i;
    test_fill(k.table, EV * ED, 13);
    test_fill(k.r, EN * ED, 14);
    layer_position_table(8, ED, k.pos);
    float dt[EV * ED] = {0};
    trn_embed_bwd(dt, ED, k.ids, EN, 2.0f, k.r);
    check_fd("embedding", emb_loss, &k, k.table, dt, EV * ED);
}

typedef struct { float x[32], y[32], r[32]; uint8_t mask[32]; float p; } rd_ctx;
static double relu_drop_loss(void *c)
{
    rd_ctx *k = c;
    memcpy(k->y, k->x, sizeof k->x);
    trn_relu_fwd(k->y, 32);
    for (int i = 0; i < 32; i++) /* dropout with the mask kept from the first draw */
        k->y[i] = k->mask[i] ? k->y[i] / (1.0f - k->p) : 0.0f;
    return proj(k->y, k->r, 32);
}
static void test_relu_dropout(void **state)
{
    (void)state;
    rd_ctx k;
    k.p = 0.25f;
    test_fill(k.x, 32, 15);
    test_fill(k.r, 32, 16);
    for (int i = 0; i < 32; i++) /* keep away from the kink at 0 */
        if (fabsf(k.x[i]) < 0.05f)
            k.x[i] = 0.3f;
    float tmp[32];
    memcpy(tmp, k.x, sizeof tmp);
    uint64_t s = 5;
    trn_relu_fwd(tmp, 32);
    float y[32];
    memcpy(y, tmp, sizeof y);
    trn_dropout_fwd(tmp, 32, k.p, &s, k.mask);
    float dx[32];
    memcpy(dx, k.r, sizeof dx);
    trn_dropout_bwd(dx, 32, k.p, k.mask);
    trn_relu_bwd(y, dx, 32);
    check_fd("relu+dropout", relu_drop_loss, &k, k.x, dx, 32);
    /* the share dropped is near p over many draws */
    static uint8_t big[100000];
    static float ones[100000];
    for (int i = 0; i < 100000; i++)
        ones[i] = 1.0f;
    trn_dropout_fwd(ones, 100000, k.p, &s, big);
    int kept = 0;
    for (int i = 0; i < 100000; i++)
        kept += big[i];
    assert_true(fabs(kept / 100000.0 - 0.75) < 0.01);
}

/* ---- label-smoothed cross-entropy ---- */
enum { XT = 3, XV = 7 };
typedef struct { float logits[XT * XV], work[XT * XV]; int labels[XT]; } xe_ctx;
static double xe_loss(void *c)
{
    xe_ctx *k = c;
    memcpy(k->work, k->logits, sizeof k->logits);
    return trn_xent(k->work, k->labels, XT, XV, 0.1f, 1.0f, NULL, NULL);
}
static void test_cross_entropy(void **state)
{
    (void)state;
    xe_ctx k;
    int labels[XT] = {2, 6, 0};
    memcpy(k.labels, labels, sizeof labels);
    test_fill(k.logits, XT * XV, 17);
    for (int i = 0; i < XT * XV; i++)
        k.logits[i] *= 3.0f;
    /* the definition: -sum_j q_j log softmax_j, q = 0.9 onehot + 0.1 / V */
    double want = 0;
    for (int t = 0; t < XT; t++) {
        double z = 0;
        for (int j = 0; j < XV; j++)
            z += exp((double)k.logits[t * XV + j]);
        for (int j = 0; j < XV; j++) {
            double q = (j == labels[t] ? 0.9 : 0.0) + 0.1 / XV;
            want -= q * ((double)k.logits[t * XV + j] - log(z));
        }
    }
    double nll;
    memcpy(k.work, k.logits, sizeof k.logits);
    double got = trn_xent(k.work, k.labels, XT, XV, 0.1f, 1.0f, &nll, NULL);
    assert_true(fabs(got - want) < 1e-5);
    assert_true(nll < got + 1.0 && nll > 0);
    float grad[XT * XV];
    memcpy(grad, k.work, sizeof grad);
    check_fd("cross-entropy", xe_loss, &k, k.logits, grad, XT * XV);
}

/* a vocabulary over several of trn_xent's summation blocks (512) */
static void test_cross_entropy_wide(void **state)
{
    (void)state;
    enum { WT = 2, WV = 1300 };
    static float logits[WT * WV], work[WT * WV];
    int labels[WT] = {5, 1299};
    test_fill(logits, WT * WV, 23);
    for (int i = 0; i < WT * WV; i++)
        logits[i] *= 4.0f;
    logits[1 * WV + 700] = 9.0f; /* a clear maximum in row 1, past the first block */
    memcpy(work, logits, sizeof work);
    int hits = -1;
    double got = trn_xent(work, labels, WT, WV, 0.1f, 0.5f, NULL, &hits);
    double want = 0;
    int want_hits = 0;
    for (int t = 0; t < WT; t++) {
        const float *r = logits + t * WV;
        double mx = r[0], z = 0;
        int best = 0;
        for (int j = 1; j < WV; j++)
            if (r[j] > mx) {
                mx = r[j];
                best = j;
            }
        want_hits += best == labels[t];
        for (int j = 0; j < WV; j++)
            z += exp((double)r[j] - mx);
        for (int j = 0; j < WV; j++) {
            double q = (j == labels[t] ? 0.9 : 0.0) + 0.1 / WV, sm = exp((double)r[j] - mx) / z;
            want -= q * ((double)r[j] - mx - log(z));
            double g = (sm - q) * 0.5;
            if (fabs(work[t * WV + j] - g) > 1e-7 + 1e-5 * fabs(g))
                fail_msg("xent gradient [%d,%d]: %g, want %g", t, j, work[t * WV + j], g);
        }
    }
    assert_true(fabs(got - want) < 1e-5 * want);
    assert_int_equal(hits, want_hits);
}

/* ---- MoE ---- */
enum { MT = 12, MD = 6, MF = 5, ME = 4, MG = 3 };
typedef struct {
    be_t be;
    trn_moe_cfg_t c;
    model_moe_t w, gw;
    model_ffn_t ex[ME], gex[ME];
    float gate[ME * MD], w1[ME][MF * MD], b1[ME][MF], w2[ME][MD * MF], b2[ME][MD];
    float ggate[ME * MD], gw1[ME][MF * MD], gb1[ME][MF], gw2[ME][MD * MF], gb2[ME][MD];
    float h[MT * MD], rows[MG * MD], y[MT * MD], r[MT * MD];
    int grp[MT], use_rows, seq_off[2], src_len[1];
    float aux_w, proj_w;
    trn_moe_act_t a;
    trn_moe_scratch_t s;
} moe_ctx;

static double moe_loss(void *c)
{
    moe_ctx *k = c;
    const float *gin = k->use_rows ? k->rows : k->h;
    trn_moe_fwd(&k->be, &k->c, &k->w, k->h, MT, gin, k->use_rows ? MG : MT, k->use_rows ? k->grp : NULL, 1,
                k->seq_off, k->src_len, &k->a, k->y);
    return k->proj_w * proj(k->y, k->r, MT * MD) + k->aux_w * k->a.aux;
}

static void moe_setup(moe_ctx *k, int top_k, model_route_t routing, float cf, int use_rows)
{
    memset(k, 0, sizeof *k);
    k->be = test_ref_backend();
    trn_moe_cfg_t c = {MD, MF, ME, top_k, routing, cf, 0};
    k->c = c;
    test_fill(k->gate, ME * MD, 20);
    for (int e = 0; e < ME; e++) {
        test_fill(k->w1[e], MF * MD, 21 + e);
        test_fill(k->b1[e], MF, 31 + e);
        test_fill(k->w2[e], MD * MF, 41 + e);
        test_fill(k->b2[e], MD, 51 + e);
        be_weight_t f1 = {k->w1[e], k->b1[e], MF, MD, NULL, BE_WEIGHT_LAYER},
                    f2 = {k->w2[e], k->b2[e], MD, MF, NULL, BE_WEIGHT_LAYER};
        be_weight_t g1 = {k->gw1[e], k->gb1[e], MF, MD, NULL, BE_WEIGHT_LAYER},
                    g2 = {k->gw2[e], k->gb2[e], MD, MF, NULL, BE_WEIGHT_LAYER};
        k->ex[e].fc1 = f1;
        k->ex[e].fc2 = f2;
        k->gex[e].fc1 = g1;
        k->gex[e].fc2 = g2;
    }
    for (int i = 0; i < ME * MD; i++)
        k->gate[i] *= 3.0f; /* spread the gate so that top-k is far from ties */
    k->w.routing = k->gw.routing = routing;
    k->w.n_experts = k->gw.n_experts = ME;
    k->w.gate = k->gate;
    k->gw.gate = k->ggate;
    k->w.experts = k->ex;
    k->gw.experts = k->gex;
    test_fill(k->h, MT * MD, 60);
    test_fill(k->rows, MG * MD, 61);
    test_fill(k->r, MT * MD, 62);
    for (int t = 0; t < MT; t++)
        k->grp[t] = t % MG;
    k->use_rows = use_rows;
    k->seq_off[1] = MT;
    k->src_len[0] = MT;
    k->aux_w = 0.5f;
    k->proj_w = 1.0f;
    mb_error_t err;
    assert_int_equal(trn_moe_reserve(&k->a, &k->c, MT, MT, NULL, &err), 0);
    assert_int_equal(trn_moe_scratch_reserve(&k->s, &k->c, MT, MT, NULL, &err), 0);
}

static void moe_check(moe_ctx *k, const char *what)
{
    char name[64];
    moe_loss(k);
    float dh[MT * MD] = {0}, drows[MG * MD] = {0}, dy[MT * MD];
    for (int i = 0; i < MT * MD; i++)
        dy[i] = k->proj_w * k->r[i];
    trn_moe_bwd(&k->be, &k->c, &k->w, &k->gw, k->h, k->use_rows ? k->rows : k->h, k->use_rows ? k->grp : NULL,
                &k->a, dy, k->aux_w, &k->s, dh, k->use_rows ? drows : dh);
    snprintf(name, sizeof name, "%s dh", what);
    check_fd(name, moe_loss, k, k->h, dh, MT * MD);
    snprintf(name, sizeof name, "%s dgate", what);
    check_fd(name, moe_loss, k, k->gate, k->ggate, ME * MD);
    if (k->use_rows) {
        snprintf(name, sizeof name, "%s dgate_in", what);
        check_fd(name, moe_loss, k, k->rows, drows, MG * MD);
    }
    for (int e = 0; e < ME; e++) {
        snprintf(name, sizeof name, "%s expert %d fc1", what, e);
        check_fd(name, moe_loss, k, k->w1[e], k->gw1[e], MF * MD);
        snprintf(name, sizeof name, "%s expert %d fc2.b", what, e);
        check_fd(name, moe_loss, k, k->b2[e], k->gb2[e], MD);
    }
    trn_moe_act_free(&k->a);
    trn_moe_scratch_free(&k->s);
}

static void test_moe_token_top2(void **state)
{
    (void)state;
    moe_ctx *k = malloc(sizeof *k);
    moe_setup(k, 2, MODEL_ROUTE_TOKEN, 0.0f, 0);
    moe_check(k, "token top-2");
    free(k);
}

static void test_moe_token_top1(void **state)
{
    (void)state;
    moe_ctx *k = malloc(sizeof *k);
    moe_setup(k, 1, MODEL_ROUTE_TOKEN, 0.0f, 0);
    moe_check(k, "token top-1");
    free(k);
}

/* cf 0.5, 12 tokens, top-2 over 4 experts: capacity 4 per expert, so at
 * least 24 - 16 = 8 assignments are dropped; dropped shares get no output
 * and no gradient, and the counts say so. */
static void test_moe_capacity(void **state)
{
    (void)state;
    moe_ctx *k = malloc(sizeof *k);
    moe_setup(k, 2, MODEL_ROUTE_TOKEN, 0.5f, 0);
    assert_int_equal(trn_moe_capacity(0.5f, 2, MT, ME), 4);
    assert_int_equal(trn_moe_capacity(1.0f, 2, 30, 8), 8);
    moe_loss(k);
    assert_true(k->a.dropped_assignments >= 8);
    assert_int_equal((int)k->a.assignments, MT * 2);
    for (int t = 0; t < MT; t++) {
        int kept = (k->a.slot[t * 2] >= 0) + (k->a.slot[t * 2 + 1] >= 0), zero = 1;
        for (int j = 0; j < MD; j++)
            zero &= k->y[t * MD + j] == 0.0f;
        assert_int_equal(kept == 0, zero);
    }
    moe_check(k, "token capacity");
    free(k);
}

/* Gate rows shared by several tokens (task embeddings, sentence means). */
static void test_moe_shared_rows(void **state)
{
    (void)state;
    moe_ctx *k = malloc(sizeof *k);
    moe_setup(k, 2, MODEL_ROUTE_TASK, 0.5f, 1);
    moe_loss(k);
    assert_int_equal((int)k->a.dropped_assignments, 0); /* capacity is for token routing only */
    moe_check(k, "shared rows");
    free(k);
}

/* The aux loss alone: E * sum_e frac_e * mean p_e, through the gate. */
static void test_moe_aux_only(void **state)
{
    (void)state;
    moe_ctx *k = malloc(sizeof *k);
    moe_setup(k, 2, MODEL_ROUTE_TOKEN, 0.0f, 0);
    k->proj_w = 0.0f;
    k->aux_w = 1.0f;
    moe_loss(k);
    /* by the definition, from the kept probabilities */
    double aux = 0;
    for (int e = 0; e < ME; e++) {
        double f = 0, p = 0;
        for (int t = 0; t < MT; t++) {
            f += k->a.chosen[t * 2] == e;
            p += k->a.probs[t * ME + e];
        }
        aux += (f / MT) * (p / MT);
    }
    assert_true(fabs(ME * aux - k->a.aux) < 1e-6);
    assert_true(k->a.aux >= 1.0 - 1e-6); /* its minimum, at perfect balance, is 1 */
    moe_check(k, "aux");
    free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),          cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_attention_causal), cmocka_unit_test(test_attention_cross),
        cmocka_unit_test(test_embedding),       cmocka_unit_test(test_relu_dropout),
        cmocka_unit_test(test_cross_entropy),   cmocka_unit_test(test_moe_token_top2),
        cmocka_unit_test(test_linear_relu),     cmocka_unit_test(test_expf),
        cmocka_unit_test(test_cross_entropy_wide),
        cmocka_unit_test(test_moe_token_top1),  cmocka_unit_test(test_moe_capacity),
        cmocka_unit_test(test_moe_shared_rows), cmocka_unit_test(test_moe_aux_only),
    };
    return cmocka_run_group_tests_name("train_layers", tests, NULL, NULL);
}
