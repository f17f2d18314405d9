/* decode: batched greedy and beam search over the KV-cached decoder (see decode.h). */
#include "models/decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/mb_mem.h"
#include "models/layers.h"
#include "models/transformer.h"

typedef struct cand {
    float score;               /* beam log-probability + token log-probability */
    float logp;                /* the token's own log-probability (tie-break) */
    int row, token;
} cand_t;

typedef struct fin {
    int len, finished;
    float logprob, score;
} fin_t;

struct decode_ctx {
    const model_t *m;
    be_t *be;
    decode_opts_t opt;
    tf_ws_t ws;
    tf_cache_t cache;
    int cap_n, cap_src, cap_len;
    int *src_offset, *src_ids, *src_key, *limit;     /* per batch */
    int *forced;                                     /* [n] EOS masked until the limit */
    float *enc_out;                                  /* [src tokens, d] */
    float *logits;                                   /* [slots, vocab] */
    int *tok, *pos, *seq, *slot, *from, *to;         /* [slots] rows of a step */
    int *next_tok, *next_seq;                        /* [slots] rows of the next step */
    int *hist, *hist_tmp;                            /* [slots, cap_len] tokens so far */
    float *beam_lp, *beam_lp_tmp;                    /* [slots] */
    int *n_fin;                                      /* [n] beam: final hypotheses */
    int *g_len, *g_finished;                         /* [n] greedy results */
    float *g_lp;                                     /* [n] */
    fin_t *fin;                                      /* [n, 2 * beam] */
    int *fin_ids;                                    /* [n, 2 * beam, cap_len] */
    cand_t *cand;                                    /* [2 * beam] */
    int *row_top;                                    /* [slots, 2 * beam] each row's best tokens */
    decode_stats_t stats;
};

void decode_opts_default(decode_opts_t *o)
{
    *o = (decode_opts_t){0}; /* fields added later start at zero */
    o->beam = 1;
    o->force_beam = 0;
    o->scores = 1;
    o->len_penalty = 0.6f;
    o->max_len = 256;
    o->max_len_a = 2.0f;
    o->max_len_b = 10;
    o->capacity_factor = 0.0;
}

int decode_ctx_create(const model_t *m, be_t *be, const decode_opts_t *opt, decode_ctx_t **out, mb_error_t *err)
{
    *out = NULL;
    if (opt->beam < 1 || opt->beam > 64)
        return mb_fail(err, "beam size %d is out of range [1, 64]", opt->beam);
    if (opt->max_len < 0 || opt->max_len > 4096)
        return mb_fail(err, "max length %d is out of range [0, 4096]", opt->max_len);
    if (!(opt->capacity_factor >= 0.0 && opt->capacity_factor <= 1000.0))
        return mb_fail(err, "capacity factor %g is out of range [0, 1000] (0 = unlimited)", opt->capacity_factor);
    decode_ctx_t *c = calloc(1, sizeof *c);
    if (!c)
        return mb_fail(err, "out of memory");
    c->m = m;
    c->be = be;
    c->opt = *opt;
    c->ws.capacity_factor = opt->capacity_factor;
    *out = c;
    return 0;
}

void decode_ctx_free(decode_ctx_t *c)
{
    if (!c)
        return;
    tf_ws_free(&c->ws);
    tf_cache_free(&c->cache);
    void *bufs[] = {c->src_offset, c->src_ids, c->src_key, c->limit, c->forced, c->enc_out, c->logits, c->tok, c->pos,
                    c->seq, c->slot, c->from, c->to, c->hist, c->hist_tmp, c->beam_lp, c->beam_lp_tmp,
                    c->n_fin, c->fin, c->fin_ids, c->cand, c->next_tok, c->next_seq, c->g_len, c->g_finished, c->g_lp,
                    c->row_top};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(c);
}

const decode_stats_t *decode_get_stats(const decode_ctx_t *c)
{
    return &c->stats;
}

/* Sizes every buffer for n sentences, src_tokens source tokens and outputs
 * of up to max_out tokens. Called once per batch, before any compute. */
static int reserve(decode_ctx_t *c, int n, int src_tokens, int max_out, mb_error_t *err)
{
    const model_config_t *cfg = &c->m->cfg;
    const int K = c->opt.beam, len = max_out + 1;
    const size_t slots = (size_t)n * K, V = (size_t)cfg->vocab;
    if (tf_ws_reserve(&c->ws, c->m, (int)slots > src_tokens ? (int)slots : src_tokens, src_tokens, len, err) ||
        tf_cache_reserve(&c->cache, c->m, (int)slots, len, src_tokens, n, err))
        return -1;
    int fail = 0;
    if (n > c->cap_n || len > c->cap_len) {
        int cn = n > c->cap_n ? n : c->cap_n, cl = len > c->cap_len ? len : c->cap_len;
        size_t cs = (size_t)cn * K;
        fail |= mb_grow((void **)&c->src_offset, (size_t)cn + 1, sizeof(int)) ||
                mb_grow((void **)&c->src_key, (size_t)cn, sizeof(int)) || mb_grow((void **)&c->limit, (size_t)cn, sizeof(int)) ||
                mb_grow((void **)&c->forced, (size_t)cn, sizeof(int)) ||
                mb_grow((void **)&c->logits, cs * V, sizeof(float)) || mb_grow((void **)&c->tok, cs, sizeof(int)) ||
                mb_grow((void **)&c->pos, cs, sizeof(int)) || mb_grow((void **)&c->seq, cs, sizeof(int)) ||
                mb_grow((void **)&c->slot, cs, sizeof(int)) || mb_grow((void **)&c->from, cs, sizeof(int)) ||
                mb_grow((void **)&c->to, cs, sizeof(int)) || mb_grow((void **)&c->hist, cs * cl, sizeof(int)) ||
                mb_grow((void **)&c->hist_tmp, cs * cl, sizeof(int)) || mb_grow((void **)&c->beam_lp, cs, sizeof(float)) ||
                mb_grow((void **)&c->beam_lp_tmp, cs, sizeof(float)) || mb_grow((void **)&c->n_fin, (size_t)cn, sizeof(int)) ||
                mb_grow((void **)&c->fin, (size_t)cn * 2 * K, sizeof(fin_t)) ||
                mb_grow((void **)&c->fin_ids, (size_t)cn * 2 * K * cl, sizeof(int)) ||
                mb_grow((void **)&c->cand, (size_t)2 * K, sizeof(cand_t)) ||
                mb_grow((void **)&c->row_top, cs * 2 * K, sizeof(int)) ||
                mb_grow((void **)&c->next_tok, cs, sizeof(int)) || mb_grow((void **)&c->next_seq, cs, sizeof(int)) ||
                mb_grow((void **)&c->g_len, (size_t)cn, sizeof(int)) || mb_grow((void **)&c->g_finished, (size_t)cn, sizeof(int)) ||
                mb_grow((void **)&c->g_lp, (size_t)cn, sizeof(float));
        if (!fail) {
            c->cap_n = cn;
            c->cap_len = cl;
        }
    }
    if (!fail && src_tokens > c->cap_src) {
        fail |= mb_grow((void **)&c->src_ids, (size_t)src_tokens, sizeof(int)) ||
                mb_grow((void **)&c->enc_out, (size_t)src_tokens * cfg->d_model, sizeof(float));
        if (!fail)
            c->cap_src = src_tokens;
    }
    if (fail)
        return mb_fail(err, "out of memory for a batch of %d sentences (beam %d, %d output tokens)", n, K, max_out);
    return 0;
}

static int *hist_of(decode_ctx_t *c, int slot)
{
    return c->hist + (size_t)slot * c->cap_len;
}

/* The caller asked to stop (decode_opts_t.cancel): the search ends at the
 * next step and decode_batch fails with "interrupted". */
static int cancelled(const decode_ctx_t *c)
{
    return c->opt.cancel && *c->opt.cancel;
}

/* One decoder step for the current rows, all at position t; logits in c->logits. */
static void step(decode_ctx_t *c, int rows, int t)
{
    for (int r = 0; r < rows; r++)
        c->pos[r] = t;
    tf_decode_step(c->m, c->be, &c->ws, &c->cache, rows, c->tok, c->pos, c->seq, c->slot, c->logits,
                   &c->stats.moe_decoder);
    c->stats.steps++;
}

/* ---- greedy search ---- */

static void greedy(decode_ctx_t *c, int n, int *out_len, float *out_lp, int *finished)
{
    const int V = c->m->cfg.vocab;
    int rows = 0;
    for (int s = 0; s < n; s++) {
        out_len[s] = 0;
        out_lp[s] = 0.0f;
        finished[s] = 0;
        if (c->limit[s] > 0) {
            c->seq[rows] = c->slot[rows] = s;
            c->tok[rows++] = MODEL_BOS;
        }
    }
    tf_cache_clear(&c->cache, rows, c->slot);
    for (int t = 0; rows > 0 && !cancelled(c); t++) {
        step(c, rows, t);
        if (c->opt.scores)
            be_log_softmax(c->be, c->logits, rows, V);
        int kept = 0;
        for (int r = 0; r < rows; r++) {
            int s = c->seq[r];
            float *lp = c->logits + (size_t)r * V;
            if (c->forced[s])
                lp[MODEL_EOS] = -INFINITY;
            int next = layer_argmax(lp, V);
            if (c->opt.scores)
                out_lp[s] += lp[next];
            if (next == MODEL_EOS) {
                finished[s] = 1;
                continue; /* leaves the batch */
            }
            hist_of(c, s)[out_len[s]++] = next;
            if (out_len[s] >= c->limit[s])
                continue;
            c->seq[kept] = c->slot[kept] = s;
            c->tok[kept++] = next;
        }
        rows = kept;
    }
}

/* ---- beam search ---- */

/* Is a ranked before b? Higher score, then higher own log-probability (so
 * that beam 1 picks what greedy's argmax picks), then lower row and token. */
static int cand_before(const cand_t *a, const cand_t *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->logp != b->logp)
        return a->logp > b->logp;
    if (a->row != b->row)
        return a->row < b->row;
    return a->token < b->token;
}

/* Inserts x into cand[0..*have), kept best first and at most m long; 0 when
 * x ranks below all m already there (nothing changes). */
static int cand_insert(cand_t *cand, int *have, int m, const cand_t *x)
{
    if (*have == m && !cand_before(x, &cand[m - 1]))
        return 0;
    int i = *have < m ? (*have)++ : m - 1;
    while (i > 0 && cand_before(x, &cand[i - 1])) {
        cand[i] = cand[i - 1];
        i--;
    }
    cand[i] = *x;
    return 1;
}

/* The best m candidates over rows [r0, r1) into c->cand, best first. */
static int top_candidates(decode_ctx_t *c, int r0, int r1, int m)
{
    const int V = c->m->cfg.vocab;
    int have = 0;
    for (int r = r0; r < r1; r++) {
        const float *lp = c->logits + (size_t)r * V;
        float base = c->beam_lp[c->slot[r]];
        for (int v = 0; v < V; v++) {
            cand_t x = {base + lp[v], lp[v], r, v};
            cand_insert(c->cand, &have, m, &x);
        }
    }
    return have;
}

/* The m best tokens of one row of log-probabilities lp[V] into top[m],
 * best first: higher lp, then lower token. Within a row the base score is
 * one number, so this is the order cand_before gives the row's candidates
 * (base + lp is monotone in lp, and equal sums fall back to lp, then token);
 * any candidate among a sentence's best m is among its row's best m. Blocks
 * whose maximum cannot enter are skipped after one vectorisable pass. */
static void row_top(const float *lp, int V, int m, int *top)
{
    int have = 0;
    float worst = -INFINITY; /* lp of top[m - 1] once full */
    for (int v0 = 0; v0 < V; v0 += 64) {
        const int v1 = v0 + 64 < V ? v0 + 64 : V;
        if (have == m) {
            float mx = -INFINITY;
            for (int v = v0; v < v1; v++)
                mx = lp[v] > mx ? lp[v] : mx;
            if (!(mx > worst))
                continue;
        }
        for (int v = v0; v < v1; v++) {
            const float x = lp[v];
            if (have == m && !(x > worst)) /* ties go to the earlier (lower) token */
                continue;
            int i = have < m ? have++ : m - 1;
            while (i > 0 && x > lp[top[i - 1]]) {
                top[i] = top[i - 1];
                i--;
            }
            top[i] = v;
            if (have == m)
                worst = lp[top[m - 1]];
        }
    }
    for (int i = have; i < m; i++)
        top[i] = -1;
}

/* Every row's best m tokens (row_top), rows split between the backend's
 * threads when they are an OpenMP team (be_ops_t.openmp): the scan over the
 * vocabulary is otherwise a serial part of each beam step. */
static void rows_top(decode_ctx_t *c, int rows, int m)
{
    const int V = c->m->cfg.vocab;
    int nt = c->be->opt.threads > 0 ? c->be->opt.threads : 1;
#ifdef _OPENMP
    if (c->be->opt.threads <= 0)
        nt = omp_get_max_threads();
#endif
    if (!c->be->ops->openmp)
        nt = 1;
    nt = (double)rows * V < 262144.0 ? 1 : nt < rows ? nt : rows; /* small: not worth waking threads */
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int r = 0; r < rows; r++)
        row_top(c->logits + (size_t)r * V, V, m, c->row_top + (size_t)r * m);
}

/* top_candidates from the rows' own best m (rows_top has run): the same
 * candidates in the same order, from m per row instead of V. */
static int merge_candidates(decode_ctx_t *c, int r0, int r1, int m)
{
    const int V = c->m->cfg.vocab;
    int have = 0;
    for (int r = r0; r < r1; r++) {
        const float *lp = c->logits + (size_t)r * V;
        const int *top = c->row_top + (size_t)r * m;
        float base = c->beam_lp[c->slot[r]];
        for (int j = 0; j < m && top[j] >= 0; j++) {
            int v = top[j];
            cand_t x = {base + lp[v], lp[v], r, v};
            if (!cand_insert(c->cand, &have, m, &x))
                break; /* the row's later tokens rank lower still */
        }
    }
    return have;
}

static float length_penalty(float alpha, int len)
{
    return powf((5.0f + (float)len) / 6.0f, alpha);
}

static void add_final(decode_ctx_t *c, int s, const int *ids, int len, int last, float logprob, int finished)
{
    const int K = c->opt.beam;
    int i = c->n_fin[s]++;
    fin_t *f = &c->fin[(size_t)s * 2 * K + i];
    int *dst = c->fin_ids + ((size_t)s * 2 * K + i) * c->cap_len;
    memcpy(dst, ids, sizeof(int) * (size_t)len);
    int n = len;
    if (last >= 0)
        dst[n++] = last;
    f->len = n;
    f->finished = finished;
    f->logprob = logprob;
    f->score = logprob / length_penalty(c->opt.len_penalty, n + finished);
}

static void beam(decode_ctx_t *c, int n)
{
    const int K = c->opt.beam, V = c->m->cfg.vocab;
    int rows = 0;
    for (int s = 0; s < n; s++) {
        c->n_fin[s] = 0;
        if (c->limit[s] > 0) { /* the first step expands one beam, not K copies */
            c->seq[rows] = s;
            c->slot[rows] = s * K;
            c->beam_lp[s * K] = 0.0f;
            c->tok[rows++] = MODEL_BOS;
        }
    }
    tf_cache_clear(&c->cache, rows, c->slot);
    for (int t = 0; rows > 0 && !cancelled(c); t++) {
        step(c, rows, t);
        be_log_softmax(c->be, c->logits, rows, V);
        for (int r = 0; r < rows; r++)
            if (c->forced[c->seq[r]])
                c->logits[(size_t)r * V + MODEL_EOS] = -INFINITY;
        const int fast = !(c->m->opt_off & MODEL_OPT_TOPK);
        if (fast)
            rows_top(c, rows, 2 * K);
        int next_rows = 0, moves = 0;
        for (int r0 = 0; r0 < rows;) {
            int s = c->seq[r0], r1 = r0;
            while (r1 < rows && c->seq[r1] == s)
                r1++;
            int nc = fast ? merge_candidates(c, r0, r1, 2 * K) : top_candidates(c, r0, r1, 2 * K), n_new = 0;
            int first_new = next_rows;
            for (int i = 0; i < nc && n_new < K; i++) {
                const cand_t *x = &c->cand[i];
                const int *h = hist_of(c, c->slot[x->row]);
                if (x->token == MODEL_EOS) {
                    if (i < K && c->n_fin[s] < K)
                        add_final(c, s, h, t, -1, x->score, 1);
                    continue;
                }
                /* a new beam: slot s*K + n_new, grown from the candidate's row */
                int dst = s * K + n_new++;
                int *ht = c->hist_tmp + (size_t)dst * c->cap_len;
                memcpy(ht, h, sizeof(int) * (size_t)t);
                ht[t] = x->token;
                c->beam_lp_tmp[dst] = x->score;
                c->from[moves] = c->slot[x->row];
                c->to[moves++] = dst;
                c->next_seq[next_rows] = s;
                c->next_tok[next_rows++] = x->token;
            }
            if (c->n_fin[s] >= K || t + 1 >= c->limit[s]) {
                /* done: at the length limit the open beams become final too */
                for (int j = first_new; c->n_fin[s] < K && j < next_rows; j++) {
                    int dst = s * K + (j - first_new);
                    add_final(c, s, c->hist_tmp + (size_t)dst * c->cap_len, t + 1, -1, c->beam_lp_tmp[dst], 0);
                }
                moves -= next_rows - first_new;
                next_rows = first_new;
            }
            r0 = r1;
        }
        /* reorder: beams take their parents' cache and history */
        int copies = 0;
        for (int i = 0; i < moves; i++)
            if (c->from[i] != c->to[i]) {
                c->from[copies] = c->from[i];
                c->to[copies++] = c->to[i];
            }
        tf_cache_copy(&c->cache, copies, c->from, c->to, t + 1);
        /* the new rows of sentence s sit in slots s*K + j, in order */
        for (int r = 0, prev = -1, j = 0; r < next_rows; r++) {
            j = c->next_seq[r] == prev ? j + 1 : 0;
            prev = c->next_seq[r];
            int dst = prev * K + j;
            c->seq[r] = prev;
            c->tok[r] = c->next_tok[r];
            c->slot[r] = dst;
            memcpy(hist_of(c, dst), c->hist_tmp + (size_t)dst * c->cap_len, sizeof(int) * (size_t)(t + 1));
            c->beam_lp[dst] = c->beam_lp_tmp[dst];
        }
        rows = next_rows;
    }
}

/* ---- the batch ---- */

/* Most output tokens of a request: its forced length, or min(max_len, a * src + b). */
static int output_limit(const decode_opts_t *o, const decode_request_t *r)
{
    if (r->out_len > 0)
        return r->out_len < o->max_len ? r->out_len : o->max_len;
    double lim = (double)o->max_len_a * r->src_len + o->max_len_b;
    return lim < o->max_len ? (lim > 0 ? (int)lim : 0) : o->max_len;
}

int decode_batch(decode_ctx_t *c, const decode_request_t *req, int n, decode_result_t *out, mb_error_t *err)
{
    const model_config_t *cfg = &c->m->cfg;
    if (n <= 0)
        return 0;
    int src_tokens = 0, max_out = 0;
    for (int s = 0; s < n; s++) {
        if (req[s].task < 0 || req[s].task >= cfg->n_tasks)
            return mb_fail(err, "sentence %d: task index %d is not one of the model's %d tasks", s + 1,
                           req[s].task, cfg->n_tasks);
        if (!model_serves_task(cfg, req[s].task))
            return mb_fail(err, "task %s: this sub-network serves only %s tasks (%s); extract one for %s "
                                "with 'moebench extract'", cfg->tasks[req[s].task], model_key_name(cfg->task_key),
                           cfg->keys[cfg->subnet_key], cfg->tasks[req[s].task]);
        if (req[s].src_len < 0 || req[s].src_len > 100000)
            return mb_fail(err, "sentence %d: source length %d is out of range", s + 1, req[s].src_len);
        for (int i = 0; i < req[s].src_len; i++)
            if (req[s].src[i] < 0 || req[s].src[i] >= cfg->vocab)
                return mb_fail(err, "sentence %d, token %d: id %d is outside the vocabulary [0, %d)", s + 1,
                               i + 1, req[s].src[i], cfg->vocab);
        if (req[s].out_len < 0)
            return mb_fail(err, "sentence %d: output length %d is negative", s + 1, req[s].out_len);
        src_tokens += req[s].src_len + 2;
        int l = output_limit(&c->opt, &req[s]);
        max_out = l > max_out ? l : max_out;
    }
    if (reserve(c, n, src_tokens, max_out, err) != 0)
        return -1;

    /* pack the sources: <2xx> tag, tokens, EOS */
    int o = 0;
    for (int s = 0; s < n; s++) {
        c->limit[s] = output_limit(&c->opt, &req[s]);
        c->forced[s] = req[s].out_len > 0;
        c->src_offset[s] = o;
        c->src_key[s] = model_task_key_index(cfg, req[s].task);
        c->src_ids[o++] = model_task_tag(cfg, req[s].task);
        memcpy(c->src_ids + o, req[s].src, sizeof(int) * (size_t)req[s].src_len);
        o += req[s].src_len;
        c->src_ids[o++] = MODEL_EOS;
    }
    c->src_offset[n] = o;
    tf_seqs_t src = {n, c->src_offset, c->src_ids, c->src_key};
    tf_encode(c->m, c->be, &c->ws, &src, c->enc_out, &c->stats.moe_encoder);
    tf_cache_begin(&c->cache, c->m, c->be, &src, c->enc_out);

    const int K = c->opt.beam;
    if (cancelled(c))
        return mb_fail(err, "interrupted");
    if (K == 1 && !c->opt.force_beam) {
        int *len = c->g_len, *finished = c->g_finished;
        float *lp = c->g_lp;
        greedy(c, n, len, lp, finished);
        if (cancelled(c))
            return mb_fail(err, "interrupted");
        for (int s = 0; s < n; s++) {
            out[s].ids = hist_of(c, s);
            out[s].len = len[s];
            out[s].finished = finished[s];
            out[s].logprob = out[s].score = lp[s];
        }
    } else {
        beam(c, n);
        if (cancelled(c))
            return mb_fail(err, "interrupted");
        for (int s = 0; s < n; s++) {
            const fin_t *best = NULL;
            int bi = 0;
            for (int i = 0; i < c->n_fin[s]; i++) {
                const fin_t *f = &c->fin[(size_t)s * 2 * K + i];
                if (!best || f->score > best->score) {
                    best = f;
                    bi = i;
                }
            }
            out[s].ids = c->fin_ids + ((size_t)s * 2 * K + bi) * c->cap_len;
            out[s].len = best ? best->len : 0;
            out[s].finished = best ? best->finished : 0;
            out[s].logprob = best ? best->logprob : 0.0f;
            out[s].score = best ? best->score : 0.0f;
        }
    }
    c->stats.sentences += (uint64_t)n;
    c->stats.src_tokens += (uint64_t)o;
    for (int s = 0; s < n; s++)
        c->stats.out_tokens += (uint64_t)out[s].len;
    return 0;
}
