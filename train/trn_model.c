/* trn_model: training forward and backward of the whole model (see trn_model.h).
 * Read top to bottom: reservation, the three sublayer kinds (attention,
 * FFN/MoE) each with its forward and backward, then the model. */
#include "train/trn_model.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mb_mem.h"
#include "models/layers.h"
#include "train/trn_moe.h"
#include "train/trn_ops.h"

/* One pre-LN sublayer's saved activations: x += dropout(F(LN(x))). */
typedef struct trn_sub {
    int cap_q, cap_k, cap_p, cap_n;
    float *xhat, *rstd, *h;    /* LN: [Tq,d], [Tq], [Tq,d] */
    uint8_t *mask;             /* dropout of the output [Tq,d] */
    float *q, *k, *v, *att;    /* attention: [Tq,d], [Tk,d], [Tk,d], [Tq,d] */
    float *P;                  /* attention probabilities, per sequence [H, nq, nk] */
    float *ff;                 /* dense FFN hidden after ReLU [Tq, d_ff] */
    float *gate_in;            /* sentence routing (encoder): sentence means [n, d] */
    trn_moe_act_t moe;
    trn_moe_cfg_t mc;
} trn_sub_t;

enum { SUB_SELF = 0, SUB_CROSS, SUB_FFN };

struct trn {
    model_t *m, *g;
    be_t *be;
    trn_opts_t o;
    int d, dff, H, dhead, V;
    int nt;                    /* OpenMP threads (--threads; trn_ops.c says what they split) */
    trn_sub_t *enc, *dec;      /* [enc_layers * 2], [dec_layers * 3] */
    int cap_s, cap_t, cap_n, cap_scr, cap_g;
    float *xe, *xd, *enc_out, *fe_xhat, *fe_rstd, *fd_xhat, *fd_rstd, *hd, *logits, *enc_mean;
    uint8_t *mask_e, *mask_d;
    int *pos_s, *pos_t, *seq_s, *seq_t, *key_s, *key_t, *len_s;
    float *dx, *dh, *dq, *dk, *dv, *datt, *dy, *y, *dff_buf, *d_enc, *d_mean, *dgate, *scratch;
    size_t *poff;              /* [n + 1] each sequence's offset into a sublayer's P */
    trn_moe_scratch_t ms;
};

void trn_opts_default(trn_opts_t *o)
{
    o->dropout = 0.1f;
    o->label_smoothing = 0.1f;
    o->aux_weight = 0.01f;
    o->capacity_factor = 1.0f;
    o->threads = 0;
}

/* ---- creation and reservation ---- */

int trn_create(model_t *m, be_t *be, const trn_opts_t *o, trn_t **out, mb_error_t *err)
{
    *out = NULL;
    const model_config_t *c = &m->cfg;
    if (c->subnet_key >= 0)
        return mb_fail(err, "train: a task-subnet's routing is fixed by extraction; train the task-moe model "
                            "and extract afterwards");
    if (c->d_model % c->n_heads)
        return mb_fail(err, "train: d_model %d is not a multiple of the %d heads", c->d_model, c->n_heads);
    if (c->enc_layers < 1)
        return mb_fail(err, "train: the model has no encoder; training needs an encoder-decoder model");
    trn_t *t = calloc(1, sizeof *t);
    if (!t)
        return mb_fail(err, "out of memory creating a trainer");
    if (model_create(c, &t->g, err) != 0) {
        free(t);
        return mb_prefix(err, "gradient: ");
    }
    t->m = m;
    t->be = be;
    t->o = *o;
    t->d = c->d_model;
    t->dff = c->d_ff;
    t->H = c->n_heads;
    t->dhead = c->d_model / c->n_heads;
    t->V = c->vocab;
    /* the team: opts.threads (train --threads), else the backend's count, else the default team;
     * trn_gemm splits GEMMs over it when the backend runs on one thread */
    t->nt = o->threads > 0 ? o->threads : be->opt.threads > 0 ? be->opt.threads : omp_get_max_threads();
    omp_set_num_threads(t->nt);
    t->enc = calloc((size_t)c->enc_layers * 2, sizeof *t->enc);
    t->dec = calloc((size_t)c->dec_layers * 3, sizeof *t->dec);
    if (!t->enc || !t->dec) {
        trn_free(t);
        return mb_fail(err, "out of memory creating a trainer");
    }
    for (int st = 0; st < 2; st++) {
        int n = st ? c->dec_layers : c->enc_layers;
        const model_layer_t *L = st ? m->dec : m->enc;
        for (int i = 0; i < n; i++) {
            trn_sub_t *s = st ? &t->dec[i * 3 + SUB_FFN] : &t->enc[i * 2 + 1];
            if (!L[i].is_moe)
                continue;
            s->mc.d = c->d_model;
            s->mc.d_ff = c->d_ff;
            s->mc.E = L[i].moe.n_experts;
            s->mc.k = c->top_k;
            s->mc.routing = L[i].moe.routing;
            s->mc.capacity_factor = o->capacity_factor;
            s->mc.causal = st == MODEL_DECODER;
        }
    }
    *out = t;
    return 0;
}

static void sub_free(trn_sub_t *s)
{
    void *p[] = {s->xhat, s->rstd, s->h, s->mask, s->q, s->k, s->v, s->att, s->P, s->ff, s->gate_in};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
    trn_moe_act_free(&s->moe);
}

void trn_free(trn_t *t)
{
    if (!t)
        return;
    for (int i = 0; t->enc && i < t->m->cfg.enc_layers * 2; i++)
        sub_free(&t->enc[i]);
    for (int i = 0; t->dec && i < t->m->cfg.dec_layers * 3; i++)
        sub_free(&t->dec[i]);
    free(t->enc);
    free(t->dec);
    void *p[] = {t->xe,    t->xd,    t->enc_out, t->fe_xhat, t->fe_rstd, t->fd_xhat, t->fd_rstd, t->hd,
                 t->logits, t->enc_mean, t->mask_e, t->mask_d, t->pos_s, t->pos_t,  t->seq_s,   t->seq_t,
                 t->key_s, t->key_t, t->len_s, t->dx,     t->dh,      t->dq,      t->dk,      t->dv,
                 t->datt,  t->dy,    t->y,       t->dff_buf, t->d_enc, t->d_mean, t->dgate,  t->scratch,
                 t->poff};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
    trn_moe_scratch_free(&t->ms);
    model_free(t->g);
    free(t);
}

model_t *trn_grad(trn_t *t)
{
    return t->g;
}

const trn_opts_t *trn_get_opts(const trn_t *t)
{
    return &t->o;
}

void trn_set_opts(trn_t *t, const trn_opts_t *o)
{
    t->o = *o;
    for (int i = 0; i < t->m->cfg.enc_layers * 2; i++)
        t->enc[i].mc.capacity_factor = o->capacity_factor;
    for (int i = 0; i < t->m->cfg.dec_layers * 3; i++)
        t->dec[i].mc.capacity_factor = o->capacity_factor;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

/* Grows a sublayer's buffers to Tq query rows, Tk key rows, P attention
 * probabilities, n sentences (or only counts them into *bytes). */
static int sub_reserve(trn_t *t, trn_sub_t *s, int kind, int is_moe, int Tq, int Tk, int P, int n, int G,
                       uint64_t *bytes, mb_error_t *err)
{
    const size_t d = (size_t)t->d;
    if (!bytes && Tq <= s->cap_q && Tk <= s->cap_k && P <= s->cap_p && n <= s->cap_n && !is_moe)
        return 0;
    int q = bytes ? Tq : imax(Tq, s->cap_q), k = bytes ? Tk : imax(Tk, s->cap_k);
    int p = bytes ? P : imax(P, s->cap_p), nn = bytes ? n : imax(n, s->cap_n);
    int fail = 0;
    if (bytes || q > s->cap_q)
        fail |= trn_buf(&s->xhat, (size_t)q * d, sizeof(float), bytes) ||
                trn_buf(&s->rstd, (size_t)q, sizeof(float), bytes) ||
                trn_buf(&s->h, (size_t)q * d, sizeof(float), bytes) ||
                trn_buf(&s->mask, (size_t)q * d, 1, bytes);
    if (kind != SUB_FFN) {
        if (bytes || q > s->cap_q)
            fail |= trn_buf(&s->q, (size_t)q * d, sizeof(float), bytes) ||
                    trn_buf(&s->att, (size_t)q * d, sizeof(float), bytes);
        if (bytes || k > s->cap_k)
            fail |= trn_buf(&s->k, (size_t)k * d, sizeof(float), bytes) ||
                    trn_buf(&s->v, (size_t)k * d, sizeof(float), bytes);
        if (bytes || p > s->cap_p)
            fail |= trn_buf(&s->P, (size_t)p, sizeof(float), bytes);
    } else if (!is_moe) {
        if (bytes || q > s->cap_q)
            fail |= trn_buf(&s->ff, (size_t)q * t->dff, sizeof(float), bytes);
    } else {
        if (bytes || nn > s->cap_n)
            fail |= trn_buf(&s->gate_in, (size_t)nn * d, sizeof(float), bytes);
        if (!fail && trn_moe_reserve(&s->moe, &s->mc, Tq, G, bytes, err) != 0)
            return -1;
    }
    if (fail)
        return mb_fail(err, "out of memory for training activations (%d tokens)", Tq);
    if (!bytes) {
        s->cap_q = q;
        s->cap_k = k;
        s->cap_p = p;
        s->cap_n = nn;
    }
    return 0;
}

static int reserve_all(trn_t *t, int S, int T, int n, int pe, int pd, int pc, int scr, uint64_t *bytes,
                       mb_error_t *err)
{
    const model_config_t *c = &t->m->cfg;
    const size_t d = (size_t)t->d;
    int R = imax(S, T), G = imax(imax(n, c->n_keys), R);
    for (int i = 0; i < c->enc_layers; i++)
        if (sub_reserve(t, &t->enc[i * 2], SUB_SELF, 0, S, S, pe, n, 0, bytes, err) ||
            sub_reserve(t, &t->enc[i * 2 + 1], SUB_FFN, t->m->enc[i].is_moe, S, 0, 0, n, G, bytes, err))
            return -1;
    for (int i = 0; i < c->dec_layers; i++)
        if (sub_reserve(t, &t->dec[i * 3], SUB_SELF, 0, T, T, pd, n, 0, bytes, err) ||
            sub_reserve(t, &t->dec[i * 3 + 1], SUB_CROSS, 0, T, S, pc, n, 0, bytes, err) ||
            sub_reserve(t, &t->dec[i * 3 + 2], SUB_FFN, t->m->dec[i].is_moe, T, 0, 0, n, G, bytes, err))
            return -1;
    trn_moe_cfg_t mc = {t->d, t->dff, 1, c->top_k, MODEL_ROUTE_TOKEN, 0.0f, 0};
    mc.E = c->n_experts;
    if (trn_moe_scratch_reserve(&t->ms, &mc, R, G, bytes, err) != 0)
        return -1;
    int fail = 0;
    if (bytes || S > t->cap_s)
        fail |= trn_buf(&t->xe, S * d, 4, bytes) || trn_buf(&t->enc_out, S * d, 4, bytes) ||
                trn_buf(&t->fe_xhat, S * d, 4, bytes) || trn_buf(&t->fe_rstd, (size_t)S, 4, bytes) ||
                trn_buf(&t->mask_e, S * d, 1, bytes) || trn_buf(&t->pos_s, (size_t)S, 4, bytes) ||
                trn_buf(&t->seq_s, (size_t)S, 4, bytes) || trn_buf(&t->key_s, (size_t)S, 4, bytes) ||
                trn_buf(&t->d_enc, S * d, 4, bytes);
    if (bytes || T > t->cap_t)
        fail |= trn_buf(&t->xd, T * d, 4, bytes) || trn_buf(&t->fd_xhat, T * d, 4, bytes) ||
                trn_buf(&t->fd_rstd, (size_t)T, 4, bytes) || trn_buf(&t->hd, T * d, 4, bytes) ||
                trn_buf(&t->mask_d, T * d, 1, bytes) || trn_buf(&t->pos_t, (size_t)T, 4, bytes) ||
                trn_buf(&t->seq_t, (size_t)T, 4, bytes) || trn_buf(&t->key_t, (size_t)T, 4, bytes) ||
                trn_buf(&t->logits, (size_t)T * t->V, 4, bytes);
    if (bytes || R > imax(t->cap_s, t->cap_t)) {
        float **rb[] = {&t->dx, &t->dh, &t->dq, &t->dk, &t->dv, &t->datt, &t->dy, &t->y};
        for (size_t i = 0; i < sizeof rb / sizeof rb[0]; i++)
            fail |= trn_buf(rb[i], R * d, 4, bytes);
        fail |= trn_buf(&t->dff_buf, (size_t)R * t->dff, 4, bytes);
    }
    if (bytes || n > t->cap_n)
        fail |= trn_buf(&t->enc_mean, n * d, 4, bytes) || trn_buf(&t->d_mean, n * d, 4, bytes) ||
                trn_buf(&t->len_s, (size_t)n, 4, bytes) || trn_buf(&t->poff, (size_t)n + 1, sizeof(size_t), bytes);
    if (bytes || G > t->cap_g)
        fail |= trn_buf(&t->dgate, (size_t)G * d, 4, bytes);
    if (bytes || scr > t->cap_scr)
        fail |= trn_buf(&t->scratch, (size_t)scr, 4, bytes);
    if (fail)
        return mb_fail(err, "out of memory for training activations (%d + %d tokens)", S, T);
    if (!bytes) {
        t->cap_s = imax(S, t->cap_s);
        t->cap_t = imax(T, t->cap_t);
        t->cap_n = imax(n, t->cap_n);
        t->cap_g = imax(G, t->cap_g);
        t->cap_scr = imax(scr, t->cap_scr);
    }
    return 0;
}

int trn_reserve(trn_t *t, const trn_batch_t *b, mb_error_t *err)
{
    const model_config_t *c = &t->m->cfg;
    if (b->n < 1)
        return mb_fail(err, "train: empty batch");
    if (b->src_off[0] != 0 || b->tgt_off[0] != 0)
        return mb_fail(err, "train: batch offsets must start at 0");
    long pe = 0, pd = 0, pc = 0, scr = 1;
    for (int i = 0; i < b->n; i++) {
        long ls = b->src_off[i + 1] - b->src_off[i], lt = b->tgt_off[i + 1] - b->tgt_off[i];
        if (ls < 1 || lt < 1)
            return mb_fail(err, "train: sentence pair %d has an empty source or target", i);
        if (b->key[i] < 0 || b->key[i] >= (c->n_keys > 0 ? c->n_keys : 1))
            return mb_fail(err, "train: sentence pair %d has task key %d; the model has %d", i, b->key[i],
                           c->n_keys);
        pe += ls * ls;
        pd += lt * lt;
        pc += lt * ls;
        long m = ls > lt ? ls : lt;
        scr = m * m > scr ? m * m : scr;
    }
    scr *= t->nt; /* one attention-backward scratch per thread */
    const int S = b->src_off[b->n], T = b->tgt_off[b->n];
    for (int i = 0; i < S; i++)
        if (b->src[i] < 0 || b->src[i] >= t->V)
            return mb_fail(err, "train: source token id %d is outside the vocabulary (%d)", b->src[i], t->V);
    for (int i = 0; i < T; i++)
        if (b->tgt_in[i] < 0 || b->tgt_in[i] >= t->V || b->tgt_out[i] < 0 || b->tgt_out[i] >= t->V)
            return mb_fail(err, "train: target token id outside the vocabulary (%d) at %d", t->V, i);
    pe *= t->H;
    pd *= t->H;
    pc *= t->H;
    if (pe > 1L << 30 || pd > 1L << 30 || pc > 1L << 30)
        return mb_fail(err, "train: batch too large (attention of %ld values); lower the token budget", pd);
    uint64_t bytes = 0;
    if (reserve_all(t, S, T, b->n, (int)pe, (int)pd, (int)pc, (int)scr, &bytes, err) != 0)
        return -1;
    char what[96];
    snprintf(what, sizeof what, "training activations for a batch of %d + %d tokens", S, T);
    if (mb_mem_check(bytes, what, "lower the token budget (--batch-tokens)", err) != 0)
        return -1;
    return reserve_all(t, S, T, b->n, (int)pe, (int)pd, (int)pc, (int)scr, NULL, err);
}

/* ---- sublayers ---- */

static void lin_fwd(trn_t *t, const be_weight_t *w, const float *x, int M, float *y)
{
    trn_linear_fwd(t->be, w->w, w->b, x, M, w->n_in, w->n_out, y);
}

static void lin_bwd(trn_t *t, const be_weight_t *w, const be_weight_t *gw, const float *x, const float *dy, int M,
                    float *dx, float beta)
{
    trn_linear_bwd(t->be, w->w, x, dy, M, w->n_in, w->n_out, dx, beta, (float *)gw->w, (float *)gw->b);
}

/* poff[i]: where sequence i's probabilities [H, nq, nk] start in a sublayer's P */
static void attn_offsets(trn_t *t, int n, const int *qoff, const int *koff)
{
    t->poff[0] = 0;
    for (int i = 0; i < n; i++)
        t->poff[i + 1] = t->poff[i] + (size_t)t->H * (size_t)(qoff[i + 1] - qoff[i]) * (size_t)(koff[i + 1] - koff[i]);
}

static void residual_out(trn_t *t, trn_sub_t *s, float *x, int Tq, int train, uint64_t *rng)
{
    size_t n = (size_t)Tq * t->d;
    trn_dropout_fwd(t->y, n, train ? t->o.dropout : 0.0f, rng, s->mask);
#pragma omp parallel for simd schedule(static) if (n > 16384 && t->nt > 1)
    for (size_t i = 0; i < n; i++)
        x[i] += t->y[i];
}

/* x[Tq,d] += dropout(attention(LN(x)) Wo); keys/values from kv ([Tk,d]; NULL: self). */
static void attn_fwd(trn_t *t, trn_sub_t *s, const model_ln_t *ln, const model_attn_t *a, float *x, int Tq,
                     const float *kv, int Tk, int n, const int *qoff, const int *koff, int causal, int train,
                     uint64_t *rng)
{
    const int d = t->d;
    trn_ln_fwd(x, ln->g, ln->b, Tq, d, s->h, s->xhat, s->rstd);
    lin_fwd(t, &a->q, s->h, Tq, s->q);
    lin_fwd(t, &a->k, kv ? kv : s->h, Tk, s->k);
    lin_fwd(t, &a->v, kv ? kv : s->h, Tk, s->v);
    attn_offsets(t, n, qoff, koff);
    /* sequences are independent (their own rows of q, k, v, att and P): one
     * thread each, so the schedule cannot change a result; dynamic since
     * lengths differ. Only on a backend whose GEMM may run on several threads
     * at once (gemm_concurrent); the GEMMs are small enough that OpenBLAS
     * runs them on the calling thread. */
#pragma omp parallel for schedule(dynamic, 1) if (n > 1 && t->nt > 1 && t->be->ops->gemm_concurrent)
    for (int i = 0; i < n; i++) {
        int nq = qoff[i + 1] - qoff[i], nk = koff[i + 1] - koff[i];
        size_t qo = (size_t)qoff[i] * d, ko = (size_t)koff[i] * d;
        trn_attn_fwd(t->be, s->q + qo, s->k + ko, s->v + ko, d, nq, nk, t->H, t->dhead, causal, s->P + t->poff[i],
                     s->att + qo);
    }
    lin_fwd(t, &a->o, s->att, Tq, t->y);
    residual_out(t, s, x, Tq, train, rng);
}

/* dx[Tq,d]: in, the gradient of the sublayer's output stream; out, of its
 * input stream. dkv ([Tk,d], +=) receives the key/value source's gradient
 * (cross-attention); self-attention sends it into its own LN input. */
static void attn_bwd(trn_t *t, trn_sub_t *s, const model_ln_t *ln, const model_ln_t *gln, const model_attn_t *a,
                     const model_attn_t *ga, int Tq, const float *kv, int Tk, int n, const int *qoff, const int *koff,
                     float *dx, float *dkv, float p_drop)
{
    const int d = t->d;
    memcpy(t->dy, dx, sizeof(float) * (size_t)Tq * d);
    trn_dropout_bwd(t->dy, (size_t)Tq * d, p_drop, s->mask);
    lin_bwd(t, &a->o, &ga->o, s->att, t->dy, Tq, t->datt, 0.0f);
    memset(t->dq, 0, sizeof(float) * (size_t)Tq * d);
    memset(t->dk, 0, sizeof(float) * (size_t)Tk * d);
    memset(t->dv, 0, sizeof(float) * (size_t)Tk * d);
    attn_offsets(t, n, qoff, koff);
    const size_t scr = (size_t)t->cap_scr / (size_t)t->nt;
#pragma omp parallel for schedule(dynamic, 1) if (n > 1 && t->nt > 1 && t->be->ops->gemm_concurrent)
    for (int i = 0; i < n; i++) {
        int nq = qoff[i + 1] - qoff[i], nk = koff[i + 1] - koff[i];
        size_t qo = (size_t)qoff[i] * d, ko = (size_t)koff[i] * d;
        trn_attn_bwd(t->be, s->q + qo, s->k + ko, s->v + ko, d, nq, nk, t->H, t->dhead, s->P + t->poff[i],
                     t->datt + qo, t->dq + qo, t->dk + ko, t->dv + ko, t->scratch + scr * (size_t)omp_get_thread_num());
    }
    lin_bwd(t, &a->q, &ga->q, s->h, t->dq, Tq, t->dh, 0.0f);
    if (kv) {
        lin_bwd(t, &a->k, &ga->k, kv, t->dk, Tk, dkv, 1.0f);
        lin_bwd(t, &a->v, &ga->v, kv, t->dv, Tk, dkv, 1.0f);
    } else {
        lin_bwd(t, &a->k, &ga->k, s->h, t->dk, Tk, t->dh, 1.0f);
        lin_bwd(t, &a->v, &ga->v, s->h, t->dv, Tk, t->dh, 1.0f);
    }
    trn_ln_bwd(t->dh, s->xhat, s->rstd, ln->g, Tq, d, dx, (float *)gln->g, (float *)gln->b);
}

/* Routing input of a MoE sublayer: rows, their count and the token -> row map. */
static const float *route(trn_t *t, trn_sub_t *s, model_stack_t st, int Tq, int n, const int *off, int *G,
                          const int **grp)
{
    const int d = t->d;
    const int *seq = st == MODEL_DECODER ? t->seq_t : t->seq_s;
    switch (s->mc.routing) {
    case MODEL_ROUTE_SENTENCE:
        *G = n;
        *grp = seq;
        if (st == MODEL_DECODER)
            return t->enc_mean; /* docs/routing.md: the source sentence's encoder output */
        for (int i = 0; i < n; i++) {
            float *row = s->gate_in + (size_t)i * d;
            memset(row, 0, sizeof(float) * (size_t)d);
            for (int r = off[i]; r < off[i + 1]; r++)
                layer_add(row, s->h + (size_t)r * d, (size_t)d);
            float inv = 1.0f / (float)(off[i + 1] - off[i]);
            for (int j = 0; j < d; j++)
                row[j] *= inv;
        }
        return s->gate_in;
    case MODEL_ROUTE_TASK:
        *G = t->m->cfg.n_keys;
        *grp = st == MODEL_DECODER ? t->key_t : t->key_s;
        return st == MODEL_DECODER ? t->m->dec_task_embed : t->m->enc_task_embed;
    default:
        *G = Tq;
        *grp = NULL;
        return s->h;
    }
}

static void ffn_fwd(trn_t *t, trn_sub_t *s, const model_layer_t *L, model_stack_t st, float *x, int Tq, int n,
                    const int *off, int train, uint64_t *rng)
{
    const int d = t->d;
    trn_ln_fwd(x, L->ln_ffn.g, L->ln_ffn.b, Tq, d, s->h, s->xhat, s->rstd);
    if (!L->is_moe) {
        trn_linear_relu_fwd(t->be, L->ffn.fc1.w, L->ffn.fc1.b, s->h, Tq, L->ffn.fc1.n_in, L->ffn.fc1.n_out, s->ff);
        lin_fwd(t, &L->ffn.fc2, s->ff, Tq, t->y);
    } else {
        int G;
        const int *grp;
        const float *gin = route(t, s, st, Tq, n, off, &G, &grp);
        trn_moe_fwd(t->be, &s->mc, &L->moe, s->h, Tq, gin, G, grp, n, off, t->len_s, &s->moe, t->y);
    }
    residual_out(t, s, x, Tq, train, rng);
}

static void ffn_bwd(trn_t *t, trn_sub_t *s, const model_layer_t *L, const model_layer_t *GL, model_stack_t st,
                    int Tq, int n, const int *off, float *dx, float p_drop)
{
    const int d = t->d;
    memcpy(t->dy, dx, sizeof(float) * (size_t)Tq * d);
    trn_dropout_bwd(t->dy, (size_t)Tq * d, p_drop, s->mask);
    if (!L->is_moe) {
        lin_bwd(t, &L->ffn.fc2, &GL->ffn.fc2, s->ff, t->dy, Tq, t->dff_buf, 0.0f);
        trn_relu_bwd(s->ff, t->dff_buf, (size_t)Tq * t->dff);
        lin_bwd(t, &L->ffn.fc1, &GL->ffn.fc1, s->h, t->dff_buf, Tq, t->dh, 0.0f);
    } else {
        int G;
        const int *grp;
        memset(t->dh, 0, sizeof(float) * (size_t)Tq * d);
        /* the gate input: recomputing route() restores the same rows (h is kept) */
        const float *gin = route(t, s, st, Tq, n, off, &G, &grp);
        float *dgin = t->dh;
        if (s->mc.routing == MODEL_ROUTE_SENTENCE) {
            dgin = st == MODEL_DECODER ? t->d_mean : t->dgate;
            if (st == MODEL_ENCODER)
                memset(t->dgate, 0, sizeof(float) * (size_t)n * d);
        } else if (s->mc.routing == MODEL_ROUTE_TASK) {
            dgin = (float *)(st == MODEL_DECODER ? t->g->dec_task_embed : t->g->enc_task_embed);
        }
        trn_moe_bwd(t->be, &s->mc, &L->moe, &GL->moe, s->h, gin, grp, &s->moe, t->dy, t->o.aux_weight, &t->ms,
                    t->dh, dgin);
        if (s->mc.routing == MODEL_ROUTE_SENTENCE && st == MODEL_ENCODER)
            for (int i = 0; i < n; i++) {
                float inv = 1.0f / (float)(off[i + 1] - off[i]);
                const float *gr = t->dgate + (size_t)i * d;
                for (int r = off[i]; r < off[i + 1]; r++)
                    for (int j = 0; j < d; j++)
                        t->dh[(size_t)r * d + j] += gr[j] * inv;
            }
    }
    trn_ln_bwd(t->dh, s->xhat, s->rstd, L->ln_ffn.g, Tq, d, dx, (float *)GL->ln_ffn.g, (float *)GL->ln_ffn.b);
}

/* ---- the model ---- */

static void moe_stats_add(trn_stats_t *st, const trn_sub_t *s, const model_layer_t *L)
{
    if (!L->is_moe)
        return;
    st->aux += s->moe.aux;
    st->assignments += s->moe.assignments;
    st->dropped_assignments += s->moe.dropped_assignments;
    st->dropped_tokens += s->moe.dropped_tokens;
}

int trn_step(trn_t *t, const trn_batch_t *b, int train, uint64_t dropout_seed, trn_stats_t *st,
             float *logits_out, mb_error_t *err)
{
    if (trn_reserve(t, b, err) != 0)
        return -1;
    const model_t *m = t->m;
    const model_config_t *c = &m->cfg;
    const int d = t->d, n = b->n, S = b->src_off[n], T = b->tgt_off[n];
    const float p = train ? t->o.dropout : 0.0f, scale = sqrtf((float)d);
    uint64_t rng = dropout_seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    memset(st, 0, sizeof *st);
    st->src_tokens = S;
    st->tgt_tokens = T;
    for (int i = 0; i < n; i++) {
        t->len_s[i] = b->src_off[i + 1] - b->src_off[i];
        for (int r = b->src_off[i]; r < b->src_off[i + 1]; r++) {
            t->pos_s[r] = r - b->src_off[i];
            t->seq_s[r] = i;
            t->key_s[r] = b->key[i];
        }
        for (int r = b->tgt_off[i]; r < b->tgt_off[i + 1]; r++) {
            t->pos_t[r] = r - b->tgt_off[i];
            t->seq_t[r] = i;
            t->key_t[r] = b->key[i];
        }
    }

    /* encoder */
    layer_embed(m->enc_embed, d, b->src, t->pos_s, S, scale, m->pos_table, m->pos_rows, t->xe);
    trn_dropout_fwd(t->xe, (size_t)S * d, p, &rng, t->mask_e);
    for (int i = 0; i < c->enc_layers; i++) {
        attn_fwd(t, &t->enc[i * 2], &m->enc[i].ln_self, &m->enc[i].self, t->xe, S, NULL, S, n, b->src_off,
                 b->src_off, 0, train, &rng);
        ffn_fwd(t, &t->enc[i * 2 + 1], &m->enc[i], MODEL_ENCODER, t->xe, S, n, b->src_off, train, &rng);
        moe_stats_add(st, &t->enc[i * 2 + 1], &m->enc[i]);
    }
    trn_ln_fwd(t->xe, m->enc_ln.g, m->enc_ln.b, S, d, t->enc_out, t->fe_xhat, t->fe_rstd);
    for (int i = 0; i < n; i++) { /* sentence routing in the decoder: the source's mean encoder output */
        float *row = t->enc_mean + (size_t)i * d;
        memset(row, 0, sizeof(float) * (size_t)d);
        for (int r = b->src_off[i]; r < b->src_off[i + 1]; r++)
            layer_add(row, t->enc_out + (size_t)r * d, (size_t)d);
        for (int j = 0; j < d; j++)
            row[j] /= (float)t->len_s[i];
    }

    /* decoder */
    layer_embed(m->dec_embed, d, b->tgt_in, t->pos_t, T, scale, m->pos_table, m->pos_rows, t->xd);
    trn_dropout_fwd(t->xd, (size_t)T * d, p, &rng, t->mask_d);
    for (int i = 0; i < c->dec_layers; i++) {
        const model_layer_t *L = &m->dec[i];
        attn_fwd(t, &t->dec[i * 3], &L->ln_self, &L->self, t->xd, T, NULL, T, n, b->tgt_off, b->tgt_off, 1, train,
                 &rng);
        attn_fwd(t, &t->dec[i * 3 + 1], &L->ln_cross, &L->cross, t->xd, T, t->enc_out, S, n, b->tgt_off,
                 b->src_off, 0, train, &rng);
        ffn_fwd(t, &t->dec[i * 3 + 2], L, MODEL_DECODER, t->xd, T, n, b->tgt_off, train, &rng);
        moe_stats_add(st, &t->dec[i * 3 + 2], L);
    }
    trn_ln_fwd(t->xd, m->dec_ln.g, m->dec_ln.b, T, d, t->hd, t->fd_xhat, t->fd_rstd);
    trn_linear_fwd(t->be, m->out_proj.w, NULL, t->hd, T, d, t->V, t->logits);
    if (logits_out)
        memcpy(logits_out, t->logits, sizeof(float) * (size_t)T * t->V);
    double nll;
    double loss = trn_xent(t->logits, b->tgt_out, T, t->V, t->o.label_smoothing, 1.0f / (float)T, &nll, &st->correct);
    st->loss = loss / T;
    st->nll = nll / T;
    st->objective = st->loss + t->o.aux_weight * st->aux;
    if (!train)
        return 0;

    /* backward: decoder */
    model_t *g = t->g;
    memset(g->arena, 0, sizeof(float) * (size_t)g->n_params);
    trn_linear_bwd(t->be, m->out_proj.w, t->hd, t->logits, T, d, t->V, t->dh, 0.0f, (float *)g->out_proj.w, NULL);
    memset(t->dx, 0, sizeof(float) * (size_t)T * d);
    trn_ln_bwd(t->dh, t->fd_xhat, t->fd_rstd, m->dec_ln.g, T, d, t->dx, (float *)g->dec_ln.g, (float *)g->dec_ln.b);
    memset(t->d_enc, 0, sizeof(float) * (size_t)S * d);
    memset(t->d_mean, 0, sizeof(float) * (size_t)n * d);
    for (int i = c->dec_layers - 1; i >= 0; i--) {
        const model_layer_t *L = &m->dec[i], *GL = &g->dec[i];
        ffn_bwd(t, &t->dec[i * 3 + 2], L, GL, MODEL_DECODER, T, n, b->tgt_off, t->dx, p);
        attn_bwd(t, &t->dec[i * 3 + 1], &L->ln_cross, &GL->ln_cross, &L->cross, &GL->cross, T, t->enc_out, S, n,
                 b->tgt_off, b->src_off, t->dx, t->d_enc, p);
        attn_bwd(t, &t->dec[i * 3], &L->ln_self, &GL->ln_self, &L->self, &GL->self, T, NULL, T, n, b->tgt_off,
                 b->tgt_off, t->dx, NULL, p);
    }
    trn_dropout_bwd(t->dx, (size_t)T * d, p, t->mask_d);
    trn_embed_bwd((float *)g->dec_embed, d, b->tgt_in, T, scale, t->dx);

    /* encoder */
    for (int i = 0; i < n; i++)
        for (int r = b->src_off[i]; r < b->src_off[i + 1]; r++)
            for (int j = 0; j < d; j++)
                t->d_enc[(size_t)r * d + j] += t->d_mean[(size_t)i * d + j] / (float)t->len_s[i];
    memset(t->dx, 0, sizeof(float) * (size_t)S * d);
    trn_ln_bwd(t->d_enc, t->fe_xhat, t->fe_rstd, m->enc_ln.g, S, d, t->dx, (float *)g->enc_ln.g, (float *)g->enc_ln.b);
    for (int i = c->enc_layers - 1; i >= 0; i--) {
        ffn_bwd(t, &t->enc[i * 2 + 1], &m->enc[i], &g->enc[i], MODEL_ENCODER, S, n, b->src_off, t->dx, p);
        attn_bwd(t, &t->enc[i * 2], &m->enc[i].ln_self, &g->enc[i].ln_self, &m->enc[i].self, &g->enc[i].self, S,
                 NULL, S, n, b->src_off, b->src_off, t->dx, NULL, p);
    }
    trn_dropout_bwd(t->dx, (size_t)S * d, p, t->mask_e);
    trn_embed_bwd((float *)g->enc_embed, d, b->src, S, scale, t->dx);
    return 0;
}

double trn_step_flops(const trn_t *t, const trn_batch_t *b, int train)
{
    const model_config_t *c = &t->m->cfg;
    const double d = t->d, dff = t->dff;
    const double S = b->src_off[b->n], T = b->tgt_off[b->n];
    double att_e = 0, att_d = 0, att_c = 0;
    for (int i = 0; i < b->n; i++) {
        double ls = b->src_off[i + 1] - b->src_off[i], lt = b->tgt_off[i + 1] - b->tgt_off[i];
        att_e += ls * ls;
        att_d += lt * lt;
        att_c += lt * ls;
    }
    double f = 0; /* forward GEMM FLOPs: linear layers, attention scores and sums, experts run */
    for (int i = 0; i < c->enc_layers; i++) {
        f += 2 * S * d * d * 4 + 4 * att_e * d;
        f += 4 * S * d * dff * (t->m->enc[i].is_moe ? c->top_k : 1);
    }
    for (int i = 0; i < c->dec_layers; i++) {
        f += 2 * T * d * d * 4 + 4 * att_d * d;
        f += 2 * T * d * d * 2 + 2 * S * d * d * 2 + 4 * att_c * d;
        f += 4 * T * d * dff * (t->m->dec[i].is_moe ? c->top_k : 1);
    }
    f += 2 * T * d * t->V;
    return train ? 3 * f : f;
}
