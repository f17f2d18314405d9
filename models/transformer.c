/* transformer: encoder, teacher-forced decoder and KV-cached decoder step of
 * the pre-LN Transformer (see transformer.h). Read top to bottom: each
 * sublayer is norm -> compute -> residual add. */
#include "models/transformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mb_mem.h"
#include "models/layers.h"

#define LN_EPS 1e-5f

static int max_experts(const model_t *m)
{
    int e = 1;
    for (int s = 0; s < 2; s++) {
        const model_layer_t *L = s ? m->dec : m->enc;
        int n = s ? m->cfg.dec_layers : m->cfg.enc_layers;
        for (int i = 0; i < n; i++)
            if (L[i].is_moe && L[i].moe.n_experts > e)
                e = L[i].moe.n_experts;
    }
    return e;
}

int tf_ws_reserve(tf_ws_t *ws, const model_t *m, int tokens, int src_tokens, int max_len, mb_error_t *err)
{
    const model_config_t *c = &m->cfg;
    int scratch = tokens > src_tokens ? tokens : src_tokens;
    scratch = scratch > max_len ? scratch : max_len;
    /* MoE gate rows: tokens, sentences or task keys, whichever is more */
    int gate_rows = tokens > c->n_keys ? tokens : c->n_keys;
    const int E = max_experts(m);
    if (moe_ws_reserve(&ws->moe, gate_rows, c->d_model, c->d_ff, E, c->top_k, err) != 0)
        return -1;
    if (tokens > ws->cap_tokens || E > ws->cap_experts) {
        tokens = tokens > ws->cap_tokens ? tokens : ws->cap_tokens;
        size_t td = (size_t)tokens * (size_t)c->d_model;
        float **bufs[] = {&ws->x, &ws->h, &ws->k, &ws->v, &ws->att, &ws->y, &ws->gate_in};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            if (mb_grow((void **)bufs[i], td, sizeof(float)))
                goto oom;
        if (mb_grow((void **)&ws->q, 3 * td, sizeof(float)) || mb_grow((void **)&ws->row_k, (size_t)tokens, sizeof(float *)) ||
            mb_grow((void **)&ws->row_v, (size_t)tokens, sizeof(float *)) ||
            mb_grow((void **)&ws->row_nk, (size_t)tokens, sizeof(int)))
            goto oom;
        if (mb_grow((void **)&ws->ff, (size_t)tokens * (size_t)c->d_ff, sizeof(float)) ||
            mb_grow((void **)&ws->pos, (size_t)tokens, sizeof(int)) ||
            mb_grow((void **)&ws->group, (size_t)tokens, sizeof(int)) ||
            mb_grow((void **)&ws->cap, (size_t)tokens, sizeof(int)) ||
            mb_grow((void **)&ws->counter, (size_t)tokens, sizeof(int)) ||
            mb_grow((void **)&ws->counts, (size_t)tokens * (size_t)E, sizeof(int)) ||
            mb_grow((void **)&ws->acc, (size_t)c->d_model, sizeof(double)))
            goto oom;
        ws->cap_tokens = tokens;
        ws->cap_experts = E;
    }
    if (src_tokens > ws->cap_src) {
        size_t sd = (size_t)src_tokens * (size_t)c->d_model;
        if (mb_grow((void **)&ws->ck, 2 * sd, sizeof(float)))
            goto oom;
        ws->cap_src = src_tokens;
    }
    if (scratch > ws->cap_scratch) {
        if (mb_grow((void **)&ws->scratch, (size_t)scratch, sizeof(float)))
            goto oom;
        ws->cap_scratch = scratch;
    }
    return 0;
oom:
    return mb_fail(err, "out of memory for the forward-pass workspace (%d tokens)", tokens);
}

void tf_ws_free(tf_ws_t *ws)
{
    void *bufs[] = {ws->x,   ws->h,  ws->q,       ws->k,   ws->v,     ws->att, ws->y,       ws->ff,
                    ws->gate_in, ws->acc, ws->ck, ws->scratch, ws->pos, ws->group, ws->cap, ws->counter,
                    ws->counts, (void *)ws->row_k, (void *)ws->row_v, ws->row_nk};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    moe_ws_free(&ws->moe);
    memset(ws, 0, sizeof *ws);
}

/* ---- sublayers shared by all entry points ---- */

/* y[T,d] = FFN or MoE of h[T,d]; the caller has set up the routing input. */
static void ffn_sublayer(const model_t *m, be_t *be, tf_ws_t *ws, const model_layer_t *L, const float *h,
                         int T, const moe_route_in_t *rt, float *y, moe_stats_t *stats)
{
    const model_config_t *c = &m->cfg;
    if (L->is_moe) {
        moe_forward(be, &L->moe, c->d_model, c->top_k, h, T, rt, y, &ws->moe, stats);
        return;
    }
    be_linear(be, &L->ffn.fc1, h, T, ws->ff);
    be_relu(be, ws->ff, (size_t)T * c->d_ff);
    be_linear(be, &L->ffn.fc2, ws->ff, T, y);
}

/* out[d] = the mean of rows x[n, d], summed in double in row order: the
 * encoder, the teacher-forced decoder and the decoder step all compute a
 * sentence's mean with this one function, so they agree to the bit. */
static void mean_rows(const float *x, int n, int d, double *acc, float *out)
{
    for (int j = 0; j < d; j++)
        acc[j] = 0.0;
    for (int t = 0; t < n; t++)
        for (int j = 0; j < d; j++)
            acc[j] += x[(size_t)t * d + j];
    for (int j = 0; j < d; j++)
        out[j] = n > 0 ? (float)(acc[j] / n) : 0.0f;
}

static int is_token_routed(const model_layer_t *L)
{
    return L->is_moe && !L->moe.fixed && L->moe.routing == MODEL_ROUTE_TOKEN;
}

/* Routing input and capacity of a MoE layer over packed sequences `seqs`,
 * whose sequence s belongs to source sentence s of `src` (the encoder passes
 * the same sequences twice). Sentence routing gates on the mean over source
 * sentence s of `mean_of` (encoder: this layer's h; decoder: the encoder
 * output). Capacity groups are the sequences, sized by their source length;
 * `causal` (decoder) admits token by token instead of rank-major. */
static void route_packed(const model_t *m, tf_ws_t *ws, const model_layer_t *L, const float *task_embed,
                         const tf_seqs_t *seqs, const int *keys, const float *h, const tf_seqs_t *src,
                         const float *mean_of, int causal, moe_route_in_t *rt)
{
    const int d = m->cfg.d_model, T = seqs->offset[seqs->n];
    memset(rt, 0, sizeof *rt);
    rt->gate_in = h;
    rt->G = T;
    if (!L->is_moe || L->moe.fixed)
        return;
    if (L->moe.routing == MODEL_ROUTE_TASK) {
        for (int s = 0; s < seqs->n; s++)
            for (int t = seqs->offset[s]; t < seqs->offset[s + 1]; t++)
                ws->group[t] = keys[s];
        rt->gate_in = task_embed;
        rt->G = m->cfg.n_keys;
        rt->group = ws->group;
    } else if (L->moe.routing == MODEL_ROUTE_SENTENCE) {
        for (int s = 0; s < seqs->n; s++) {
            mean_rows(mean_of + (size_t)src->offset[s] * d, src->offset[s + 1] - src->offset[s], d, ws->acc,
                      ws->gate_in + (size_t)s * d);
            for (int t = seqs->offset[s]; t < seqs->offset[s + 1]; t++)
                ws->group[t] = s;
        }
        rt->gate_in = ws->gate_in;
        rt->G = seqs->n;
        rt->group = ws->group;
    } else if (ws->capacity_factor > 0.0) {
        const int E = L->moe.n_experts;
        for (int s = 0; s < seqs->n; s++) {
            int C = moe_capacity(ws->capacity_factor, m->cfg.top_k, src->offset[s + 1] - src->offset[s], E);
            for (int t = seqs->offset[s]; t < seqs->offset[s + 1]; t++) {
                ws->cap[t] = C;
                ws->counter[t] = s;
            }
        }
        memset(ws->counts, 0, sizeof(int) * (size_t)seqs->n * (size_t)E);
        rt->cap = ws->cap;
        rt->counter = ws->counter;
        rt->counts = ws->counts;
        rt->rank_major = !causal;
    }
}

static void positions(const tf_seqs_t *seqs, int *pos)
{
    for (int s = 0; s < seqs->n; s++)
        for (int t = seqs->offset[s]; t < seqs->offset[s + 1]; t++)
            pos[t] = t - seqs->offset[s];
}

/* Queries, keys and values of h[T, d] for self-attention: fused, one GEMM
 * against the stacked [3d, d] weight into ws->q (rows q|k|v); otherwise
 * (MOEBENCH_DECODE_OFF=fuse) three, into ws->q, ws->k, ws->v. Returns the
 * row stride of all three. */
static int self_qkv(const model_t *m, be_t *be, tf_ws_t *ws, const model_layer_t *L, int T, const float **q,
                    const float **k, const float **v)
{
    const int d = m->cfg.d_model;
    if (m->opt_off & MODEL_OPT_FUSE) {
        be_linear(be, &L->self.q, ws->h, T, ws->q);
        be_linear(be, &L->self.k, ws->h, T, ws->k);
        be_linear(be, &L->self.v, ws->h, T, ws->v);
        *q = ws->q, *k = ws->k, *v = ws->v;
        return d;
    }
    be_linear(be, &L->self_qkv, ws->h, T, ws->q);
    *q = ws->q, *k = ws->q + d, *v = ws->q + 2 * d;
    return 3 * d;
}

/* Cross-attention keys and values of the encoder output enc[S, d] into
 * kv[S, 2d]: fused, one GEMM (rows k|v); otherwise two, k then v as [S, d]
 * each. Sets *v_off (v = kv + *v_off) and returns the row stride. */
static int cross_kv(const model_t *m, be_t *be, const model_layer_t *L, const float *enc, int S, float *kv,
                    size_t *v_off)
{
    const int d = m->cfg.d_model;
    if (m->opt_off & MODEL_OPT_FUSE) {
        be_linear(be, &L->cross.k, enc, S, kv);
        be_linear(be, &L->cross.v, enc, S, kv + (size_t)S * d);
        *v_off = (size_t)S * d;
        return d;
    }
    be_linear(be, &L->cross_kv, enc, S, kv);
    *v_off = (size_t)d;
    return 2 * d;
}

/* Self-attention sublayer over packed sequences: x += O(attn(LN(x))). */
static void self_attn_packed(const model_t *m, be_t *be, tf_ws_t *ws, const model_layer_t *L,
                             const tf_seqs_t *seqs, int causal)
{
    const model_config_t *c = &m->cfg;
    const int d = c->d_model, T = seqs->offset[seqs->n], dh = d / c->n_heads;
    be_layernorm(be, ws->x, L->ln_self.g, L->ln_self.b, T, d, LN_EPS, ws->h);
    const float *q, *k, *v;
    const int ld = self_qkv(m, be, ws, L, T, &q, &k, &v);
    for (int s = 0; s < seqs->n; s++) {
        size_t o = (size_t)seqs->offset[s] * ld;
        int len = seqs->offset[s + 1] - seqs->offset[s];
        be_attention(be, q + o, ld, k + o, ld, v + o, ld, len, len, c->n_heads, dh, causal, 0,
                     ws->att + (size_t)seqs->offset[s] * d, d, ws->scratch);
    }
    be_linear(be, &L->self.o, ws->att, T, ws->y);
    layer_add(ws->x, ws->y, (size_t)T * d);
}

/* FFN sublayer over packed sequences: x += FFN(LN(x)). src/mean_of: as in
 * route_packed (NULL: the encoder, whose own h is averaged). */
static void ffn_packed(const model_t *m, be_t *be, tf_ws_t *ws, const model_layer_t *L, const float *task_embed,
                       const tf_seqs_t *seqs, const int *keys, const tf_seqs_t *src, const float *mean_of,
                       int causal, moe_stats_t *stats)
{
    const int d = m->cfg.d_model, T = seqs->offset[seqs->n];
    moe_route_in_t rt;
    be_layernorm(be, ws->x, L->ln_ffn.g, L->ln_ffn.b, T, d, LN_EPS, ws->h);
    route_packed(m, ws, L, task_embed, seqs, keys, ws->h, src ? src : seqs, mean_of ? mean_of : ws->h, causal,
                 &rt);
    ffn_sublayer(m, be, ws, L, ws->h, T, &rt, ws->y, stats);
    layer_add(ws->x, ws->y, (size_t)T * d);
}

/* ---- encoder ---- */

void tf_encode(const model_t *m, be_t *be, tf_ws_t *ws, const tf_seqs_t *src, float *enc_out,
               moe_stats_t *stats)
{
    const model_config_t *c = &m->cfg;
    const int d = c->d_model, T = src->offset[src->n];
    positions(src, ws->pos);
    layer_embed(m->enc_embed, d, src->ids, ws->pos, T, sqrtf((float)d), m->pos_table, m->pos_rows, ws->x);
    for (int i = 0; i < c->enc_layers; i++) {
        const model_layer_t *L = &m->enc[i];
        self_attn_packed(m, be, ws, L, src, 0);
        ffn_packed(m, be, ws, L, m->enc_task_embed, src, src->key, NULL, NULL, 0, stats);
    }
    be_layernorm(be, ws->x, m->enc_ln.g, m->enc_ln.b, T, d, LN_EPS, enc_out);
}

/* ---- decoder over whole prefixes ---- */

void tf_decode_full(const model_t *m, be_t *be, tf_ws_t *ws, const tf_seqs_t *src, const float *enc_out,
                    const tf_seqs_t *tgt, float *logits, moe_stats_t *stats)
{
    const model_config_t *c = &m->cfg;
    const int d = c->d_model, T = tgt->offset[tgt->n], S = src->offset[src->n], dh = d / c->n_heads;
    positions(tgt, ws->pos);
    layer_embed(m->dec_embed, d, tgt->ids, ws->pos, T, sqrtf((float)d), m->pos_table, m->pos_rows, ws->x);
    for (int i = 0; i < c->dec_layers; i++) {
        const model_layer_t *L = &m->dec[i];
        self_attn_packed(m, be, ws, L, tgt, 1);
        /* cross-attention: queries from the target, keys/values from the source */
        be_layernorm(be, ws->x, L->ln_cross.g, L->ln_cross.b, T, d, LN_EPS, ws->h);
        be_linear(be, &L->cross.q, ws->h, T, ws->q);
        size_t v_off;
        const int ldkv = cross_kv(m, be, L, enc_out, S, ws->ck, &v_off);
        for (int s = 0; s < tgt->n; s++) {
            size_t qo = (size_t)tgt->offset[s] * d, ko = (size_t)src->offset[s] * ldkv;
            be_attention(be, ws->q + qo, d, ws->ck + ko, ldkv, ws->ck + v_off + ko, ldkv,
                         tgt->offset[s + 1] - tgt->offset[s], src->offset[s + 1] - src->offset[s], c->n_heads, dh,
                         0, 0, ws->att + qo, d, ws->scratch);
        }
        be_linear(be, &L->cross.o, ws->att, T, ws->y);
        layer_add(ws->x, ws->y, (size_t)T * d);
        ffn_packed(m, be, ws, L, m->dec_task_embed, tgt, tgt->key, src, enc_out, 1, stats);
    }
    be_layernorm(be, ws->x, m->dec_ln.g, m->dec_ln.b, T, d, LN_EPS, ws->h);
    be_linear(be, &m->out_proj, ws->h, T, logits);
}

/* ---- incremental decoding ---- */

int tf_cache_reserve(tf_cache_t *c, const model_t *m, int slots, int max_len, int src_tokens, int n_seq,
                     mb_error_t *err)
{
    const model_config_t *cfg = &m->cfg;
    const int L = cfg->dec_layers, d = cfg->d_model;
    if (!c->k) {
        c->n_layers = L;
        c->d = d;
        c->n_experts = max_experts(m);
        if (!(c->k = calloc((size_t)L, sizeof *c->k)) || !(c->v = calloc((size_t)L, sizeof *c->v)) ||
            !(c->count = calloc((size_t)L, sizeof *c->count)) || !(c->ck = calloc((size_t)L, sizeof *c->ck)) ||
            !(c->acc = calloc((size_t)d, sizeof *c->acc)))
            goto oom;
    }
    if (slots > c->cap_slots || max_len > c->cap_len) {
        slots = slots > c->cap_slots ? slots : c->cap_slots;
        max_len = max_len > c->cap_len ? max_len : c->cap_len;
        size_t n = (size_t)slots * (size_t)max_len * (size_t)d;
        for (int i = 0; i < L; i++) {
            if (mb_grow((void **)&c->k[i], n, sizeof(float)) || mb_grow((void **)&c->v[i], n, sizeof(float)))
                goto oom;
            if (is_token_routed(&m->dec[i]) &&
                mb_grow((void **)&c->count[i], (size_t)slots * (size_t)c->n_experts, sizeof(int)))
                goto oom;
        }
        if (mb_grow((void **)&c->tmp, n, sizeof(float)) ||
            mb_grow((void **)&c->ctmp, (size_t)slots * (size_t)c->n_experts, sizeof(int)))
            goto oom;
        c->cap_slots = slots;
        c->cap_len = max_len;
    }
    if (src_tokens > c->cap_src) {
        for (int i = 0; i < L; i++)
            if (mb_grow((void **)&c->ck[i], (size_t)src_tokens * 2 * d, sizeof(float)))
                goto oom;
        c->cap_src = src_tokens;
    }
    if (n_seq > c->cap_seq) {
        if (mb_grow((void **)&c->src_offset, (size_t)n_seq + 1, sizeof(int)) ||
            mb_grow((void **)&c->src_key, (size_t)n_seq, sizeof(int)) ||
            mb_grow((void **)&c->src_mean, (size_t)n_seq * (size_t)d, sizeof(float)))
            goto oom;
        c->cap_seq = n_seq;
    }
    return 0;
oom:
    return mb_fail(err, "out of memory for the decoder's key/value cache (%d slots x %d positions)", slots,
                   max_len);
}

void tf_cache_free(tf_cache_t *c)
{
    for (int i = 0; c->k && i < c->n_layers; i++) {
        free(c->k[i]);
        free(c->v[i]);
        free(c->count[i]);
        free(c->ck[i]);
    }
    free(c->k);
    free(c->v);
    free(c->count);
    free(c->ck);
    free(c->tmp);
    free(c->ctmp);
    free(c->acc);
    free(c->src_mean);
    free(c->src_offset);
    free(c->src_key);
    memset(c, 0, sizeof *c);
}

void tf_cache_begin(tf_cache_t *c, const model_t *m, be_t *be, const tf_seqs_t *src, const float *enc_out)
{
    const int S = src->offset[src->n];
    for (int i = 0; i < c->n_layers; i++)
        c->kv_ld = cross_kv(m, be, &m->dec[i], enc_out, S, c->ck[i], &c->v_off);
    c->n_seq = src->n;
    memcpy(c->src_offset, src->offset, sizeof(int) * ((size_t)src->n + 1));
    for (int s = 0; s < src->n; s++) {
        c->src_key[s] = src->key ? src->key[s] : 0;
        mean_rows(enc_out + (size_t)src->offset[s] * c->d, src->offset[s + 1] - src->offset[s], c->d, c->acc,
                  c->src_mean + (size_t)s * c->d);
    }
}

void tf_cache_clear(tf_cache_t *c, int n, const int *slots)
{
    const size_t E = (size_t)c->n_experts;
    for (int i = 0; i < c->n_layers; i++)
        for (int r = 0; c->count[i] && r < n; r++)
            memset(c->count[i] + (size_t)slots[r] * E, 0, sizeof(int) * E);
}

void tf_cache_copy(tf_cache_t *c, int n, const int *from, const int *to, int len)
{
    const size_t d = (size_t)c->d, slot = (size_t)c->cap_len * d, bytes = (size_t)len * d * sizeof(float);
    for (int i = 0; i < c->n_layers; i++) {
        float *bufs[2] = {c->k[i], c->v[i]};
        for (int b = 0; b < 2; b++) {
            for (int r = 0; r < n; r++)
                memcpy(c->tmp + (size_t)r * slot, bufs[b] + (size_t)from[r] * slot, bytes);
            for (int r = 0; r < n; r++)
                memcpy(bufs[b] + (size_t)to[r] * slot, c->tmp + (size_t)r * slot, bytes);
        }
        if (c->count[i]) {
            const size_t E = (size_t)c->n_experts;
            for (int r = 0; r < n; r++)
                memcpy(c->ctmp + (size_t)r * E, c->count[i] + (size_t)from[r] * E, E * sizeof(int));
            for (int r = 0; r < n; r++)
                memcpy(c->count[i] + (size_t)to[r] * E, c->ctmp + (size_t)r * E, E * sizeof(int));
        }
    }
}

/* The attention of a decoder step: row r's query q + r*ldq over its keys
 * and values ws->row_k[r], ws->row_v[r] (ws->row_nk[r] rows, ldkv apart)
 * into ws->att. One call for all rows, which a backend may split between
 * its threads; MOEBENCH_DECODE_OFF=attn: one call per row, as before. */
static void step_attention(const model_t *m, be_t *be, tf_ws_t *ws, int n, const float *q, int ldq, int ldkv)
{
    const int d = m->cfg.d_model, H = m->cfg.n_heads;
    if (!(m->opt_off & MODEL_OPT_ATTN_ROWS)) {
        be_attention_rows(be, n, q, ldq, ws->row_k, ws->row_v, ldkv, ws->row_nk, H, d / H, ws->att, d,
                          ws->scratch);
        return;
    }
    for (int r = 0; r < n; r++)
        be_attention(be, q + (size_t)r * ldq, ldq, ws->row_k[r], ldkv, ws->row_v[r], ldkv, 1, ws->row_nk[r], H,
                     d / H, 0, 0, ws->att + (size_t)r * d, d, ws->scratch);
}

void tf_decode_step(const model_t *m, be_t *be, tf_ws_t *ws, tf_cache_t *c, int n, const int *tok,
                    const int *pos, const int *seq, const int *slot, float *logits, moe_stats_t *stats)
{
    const model_config_t *cfg = &m->cfg;
    const int d = cfg->d_model;
    const size_t slot_stride = (size_t)c->cap_len * d;
    layer_embed(m->dec_embed, d, tok, pos, n, sqrtf((float)d), m->pos_table, m->pos_rows, ws->x);
    for (int i = 0; i < cfg->dec_layers; i++) {
        const model_layer_t *L = &m->dec[i];
        /* self-attention over the cached prefix */
        be_layernorm(be, ws->x, L->ln_self.g, L->ln_self.b, n, d, LN_EPS, ws->h);
        const float *q, *k, *v;
        const int ld = self_qkv(m, be, ws, L, n, &q, &k, &v);
        for (int r = 0; r < n; r++) {
            float *kc = c->k[i] + (size_t)slot[r] * slot_stride, *vc = c->v[i] + (size_t)slot[r] * slot_stride;
            memcpy(kc + (size_t)pos[r] * d, k + (size_t)r * ld, sizeof(float) * (size_t)d);
            memcpy(vc + (size_t)pos[r] * d, v + (size_t)r * ld, sizeof(float) * (size_t)d);
            ws->row_k[r] = kc;
            ws->row_v[r] = vc;
            ws->row_nk[r] = pos[r] + 1;
        }
        step_attention(m, be, ws, n, q, ld, d);
        be_linear(be, &L->self.o, ws->att, n, ws->y);
        layer_add(ws->x, ws->y, (size_t)n * d);
        /* cross-attention over the sentence's encoder output */
        be_layernorm(be, ws->x, L->ln_cross.g, L->ln_cross.b, n, d, LN_EPS, ws->h);
        be_linear(be, &L->cross.q, ws->h, n, ws->q);
        for (int r = 0; r < n; r++) {
            int a = c->src_offset[seq[r]], b = c->src_offset[seq[r] + 1];
            ws->row_k[r] = c->ck[i] + (size_t)a * c->kv_ld;
            ws->row_v[r] = c->ck[i] + c->v_off + (size_t)a * c->kv_ld;
            ws->row_nk[r] = b - a;
        }
        step_attention(m, be, ws, n, ws->q, d, c->kv_ld);
        be_linear(be, &L->cross.o, ws->att, n, ws->y);
        layer_add(ws->x, ws->y, (size_t)n * d);
        /* FFN or MoE; routing input per row */
        be_layernorm(be, ws->x, L->ln_ffn.g, L->ln_ffn.b, n, d, LN_EPS, ws->h);
        moe_route_in_t rt = {.gate_in = ws->h, .G = n};
        if (L->is_moe && !L->moe.fixed && L->moe.routing == MODEL_ROUTE_SENTENCE) {
            rt.gate_in = c->src_mean; /* fixed for the sentence: what tf_decode_full uses */
            rt.G = c->n_seq;
            rt.group = seq;
        } else if (L->is_moe && !L->moe.fixed && L->moe.routing == MODEL_ROUTE_TASK) {
            for (int r = 0; r < n; r++)
                ws->group[r] = c->src_key[seq[r]];
            rt.gate_in = m->dec_task_embed;
            rt.G = cfg->n_keys;
            rt.group = ws->group;
        } else if (is_token_routed(L) && ws->capacity_factor > 0.0) {
            /* each hypothesis's counters live in its cache slot, so admission
             * continues causally across steps and never pools hypotheses */
            for (int r = 0; r < n; r++)
                ws->cap[r] = moe_capacity(ws->capacity_factor, cfg->top_k,
                                          c->src_offset[seq[r] + 1] - c->src_offset[seq[r]], L->moe.n_experts);
            rt.cap = ws->cap;
            rt.counter = slot;
            rt.counts = c->count[i];
        }
        ffn_sublayer(m, be, ws, L, ws->h, n, &rt, ws->y, stats);
        layer_add(ws->x, ws->y, (size_t)n * d);
    }
    be_layernorm(be, ws->x, m->dec_ln.g, m->dec_ln.b, n, d, LN_EPS, ws->h);
    be_linear(be, &m->out_proj, ws->h, n, logits);
}
