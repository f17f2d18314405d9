/* oracle_search: greedy and beam search of the reference model, one sentence
 * at a time, recomputing the decoder over the whole prefix at every step
 * (see oracle.h). The rules are README.md "Decoding". */
#include "tests/oracle/oracle_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BOS = 1, EOS = 2 };

static void log_softmax(double *x, int n)
{
    double mx = -INFINITY, sum = 0.0;
    for (int i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++)
        sum += exp(x[i] - mx);
    double lse = mx + log(sum);
    for (int i = 0; i < n; i++)
        x[i] -= lse;
}

static void lower(double *margin, double gap)
{
    if (gap < *margin)
        *margin = gap;
}

/* At most min(max_len, (int)(a * words + b)) output tokens (EOS not counted). */
static int out_limit(const orc_search_t *o, int words)
{
    double lim = o->a * words + o->b;
    int l = lim < o->max_len ? (lim > 0 ? (int)lim : 0) : o->max_len;
    return l < ORC_MAX_OUT ? l : ORC_MAX_OUT;
}

typedef struct ctx {
    const orc_model_t *m;
    int task;
    const orc_src_t *src;
    double cf;
    orc_diag_t *diag;          /* margins only */
} ctx_t;

/* Log-probabilities of the next token after tgt[0..T). */
static void next_logprobs(const ctx_t *c, const int *tgt, int T, double *lp)
{
    orc_diag_t local;
    orc_diag_init(&local);
    orc_decode_last(c->m, c->task, c->src, tgt, T, c->cf, lp, &local);
    lower(&c->diag->gate, local.gate);
    log_softmax(lp, c->m->vocab);
}

/* Greedy: the arg-max (first on ties) until EOS or the limit. */
static void greedy(const ctx_t *c, int limit, orc_result_t *res)
{
    const int V = c->m->vocab;
    double *lp = orc_alloc((size_t)V, sizeof(double));
    int *tgt = orc_alloc((size_t)limit + 1, sizeof(int));
    tgt[0] = BOS;
    for (int t = 0; t < limit; t++) {
        next_logprobs(c, tgt, t + 1, lp);
        int best = 0;
        for (int v = 1; v < V; v++)
            best = lp[v] > lp[best] ? v : best;
        double second = -INFINITY;
        for (int v = 0; v < V; v++)
            if (v != best && lp[v] > second)
                second = lp[v];
        lower(&c->diag->search, lp[best] - second);
        res->logprob += lp[best];
        if (best == EOS) {
            res->finished = 1;
            break;
        }
        res->ids[res->len++] = best;
        tgt[t + 1] = best;
    }
    res->score = res->logprob;
    free(lp);
    free(tgt);
}

/* ---- beam search ---- */

typedef struct cand {
    double score, logp;        /* beam log-probability + token's; the token's own */
    int hyp, token;
} cand_t;

/* Candidate order: higher score, then higher own log-probability, then the
 * earlier hypothesis, then the lower token id. */
static int before(const cand_t *a, const cand_t *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->logp != b->logp)
        return a->logp > b->logp;
    if (a->hyp != b->hyp)
        return a->hyp < b->hyp;
    return a->token < b->token;
}

typedef struct final {
    int ids[ORC_MAX_OUT];
    int len, finished;
    double logprob, score;
} final_t;

static double penalty(double alpha, int len)
{
    return pow((5.0 + len) / 6.0, alpha);
}

static void beam(const ctx_t *c, int K, double alpha, int limit, orc_result_t *res)
{
    const int V = c->m->vocab, keep = 2 * K + 1;
    int (*tok)[ORC_MAX_OUT + 1] = orc_alloc((size_t)K, sizeof *tok); /* BOS + tokens */
    int (*ntok)[ORC_MAX_OUT + 1] = orc_alloc((size_t)K, sizeof *ntok);
    double *lpsum = orc_alloc((size_t)K, sizeof(double)), *nlpsum = orc_alloc((size_t)K, sizeof(double));
    double *lp = orc_alloc((size_t)V, sizeof(double));
    cand_t *cand = orc_alloc((size_t)keep, sizeof(cand_t));
    final_t *fin = orc_alloc((size_t)K, sizeof(final_t));
    int n_hyp = 1, n_fin = 0;
    tok[0][0] = BOS;
    for (int t = 0; t < limit; t++) {
        /* the best 2K + 1 candidates over every live hypothesis (one more
         * than the search uses, to measure the margin at the cut) */
        int nc = 0;
        for (int h = 0; h < n_hyp; h++) {
            next_logprobs(c, tok[h], t + 1, lp);
            for (int v = 0; v < V; v++) {
                cand_t x = {lpsum[h] + lp[v], lp[v], h, v};
                if (nc == keep && !before(&x, &cand[keep - 1]))
                    continue;
                int i = nc < keep ? nc++ : keep - 1;
                while (i > 0 && before(&x, &cand[i - 1])) {
                    cand[i] = cand[i - 1];
                    i--;
                }
                cand[i] = x;
            }
        }
        for (int i = 0; i + 1 < nc; i++)
            lower(&c->diag->search, cand[i].score - cand[i + 1].score);
        if (nc > 2 * K)
            nc = 2 * K;
        /* walk the candidates: an EOS among the first K finishes a
         * hypothesis (while fewer than K have), other EOS are dropped, the
         * rest grow the next beams until there are K */
        int n_new = 0;
        for (int i = 0; i < nc && n_new < K; i++) {
            const cand_t *x = &cand[i];
            if (x->token == EOS) {
                if (i < K && n_fin < K) {
                    final_t *f = &fin[n_fin++];
                    memcpy(f->ids, tok[x->hyp] + 1, sizeof(int) * (size_t)t);
                    f->len = t;
                    f->finished = 1;
                    f->logprob = x->score;
                    f->score = x->score / penalty(alpha, t + 1); /* EOS counts in the length */
                }
                continue;
            }
            memcpy(ntok[n_new], tok[x->hyp], sizeof(int) * ((size_t)t + 1));
            ntok[n_new][t + 1] = x->token;
            nlpsum[n_new++] = x->score;
        }
        if (n_fin >= K || t + 1 >= limit) {
            /* done; at the length limit the open beams are final too */
            for (int j = 0; j < n_new && n_fin < K; j++) {
                final_t *f = &fin[n_fin++];
                memcpy(f->ids, ntok[j] + 1, sizeof(int) * ((size_t)t + 1));
                f->len = t + 1;
                f->finished = 0;
                f->logprob = nlpsum[j];
                f->score = nlpsum[j] / penalty(alpha, t + 1);
            }
            break;
        }
        n_hyp = n_new;
        memcpy(tok, ntok, sizeof *tok * (size_t)n_new);
        memcpy(lpsum, nlpsum, sizeof(double) * (size_t)n_new);
        if (n_hyp == 0)
            break;
    }
    /* the result: the best score, the earliest final on ties */
    int best = -1;
    for (int i = 0; i < n_fin; i++) {
        res->n_finished_hyps += fin[i].finished;
        if (best < 0 || fin[i].score > fin[best].score)
            best = i;
    }
    for (int i = 0; i < n_fin; i++)
        if (i != best)
            lower(&c->diag->search, fabs(fin[best].score - fin[i].score));
    if (best >= 0) {
        memcpy(res->ids, fin[best].ids, sizeof(int) * (size_t)fin[best].len);
        res->len = fin[best].len;
        res->finished = fin[best].finished;
        res->logprob = fin[best].logprob;
        res->score = fin[best].score;
    }
    free(tok);
    free(ntok);
    free(lpsum);
    free(nlpsum);
    free(lp);
    free(cand);
    free(fin);
}

int orc_translate(const orc_model_t *m, int task, const int *words, int n, const orc_search_t *opt,
                  orc_result_t *res, orc_diag_t *diag, mb_error_t *err)
{
    memset(res, 0, sizeof *res);
    if (task < 0 || task >= m->n_tasks)
        return mb_fail(err, "oracle: task index %d out of range", task);
    if (m->subnet_key >= 0 && orc_task_key(m, task) != m->subnet_key)
        return mb_fail(err, "oracle: the sub-network does not serve task %s", m->tasks[task]);
    if (opt->beam < 1)
        return mb_fail(err, "oracle: beam %d", opt->beam);
    for (int i = 0; i < n; i++)
        if (words[i] < 0 || words[i] >= m->vocab)
            return mb_fail(err, "oracle: token %d outside the vocabulary", words[i]);
    orc_diag_t local;
    if (!diag) {
        orc_diag_init(&local);
        diag = &local;
    }
    int *src = orc_alloc((size_t)n + 2, sizeof(int));
    int S = orc_source(m, task, words, n, src);
    double *enc = orc_alloc((size_t)S * m->d, sizeof(double));
    orc_diag_t enc_diag;
    orc_diag_init(&enc_diag);
    orc_encode(m, task, src, S, opt->cf, enc, &enc_diag);
    lower(&diag->gate, enc_diag.gate);
    orc_src_t os;
    orc_src_begin(m, enc, S, &os);
    ctx_t c = {m, task, &os, opt->cf, diag};
    int limit = out_limit(opt, n);
    if (opt->beam == 1 && !opt->force_beam)
        greedy(&c, limit, res);
    else
        beam(&c, opt->beam, opt->alpha, limit, res);
    orc_src_end(&os);
    free(src);
    free(enc);
    return 0;
}

/* ---- the task sub-network ---- */

int orc_check_subnet(const orc_model_t *full, const orc_model_t *sub, const char *key, mb_error_t *err)
{
    int ki = -1;
    for (int i = 0; i < full->n_keys; i++)
        if (!strcmp(full->keys[i], key))
            ki = i;
    if (ki < 0 || sub->subnet_key < 0 || strcmp(sub->keys[sub->subnet_key], key))
        return mb_fail(err, "oracle: '%s' is not the sub-network's key", key);
    /* every tensor of the sub-network, by name: a fixed layer's expert r and
     * weight come from the full model's rank-r expert; the rest is a copy */
    for (int i = 0; i < sub->n_tensors; i++) {
        const orc_tensor_t *t = &sub->tensor[i];
        char sn[4], rest[64], name[160];
        int layer, e, n_read = 0;
        const orc_tensor_t *src = NULL;
        if (sscanf(t->name, "%3[a-z].%d.moe.%d.%63s%n", sn, &layer, &e, rest, &n_read) == 4 ||
            sscanf(t->name, "%3[a-z].%d.moe.fixed_weigh%1[t]", sn, &layer, rest) == 3) {
            int s = !strcmp(sn, "dec");
            const orc_layer_t *l = &sub->layer[s][layer];
            if (l->fixed) {
                int choice[64];
                double weight[64];
                orc_gate_topk(full, full->layer[s][layer].gate, full->task_embed[s] + (size_t)ki * full->d, choice,
                              weight, NULL);
                if (strstr(t->name, "fixed_weight")) {
                    for (int r = 0; r < full->k; r++)
                        if (fabs(t->data[r] - weight[r]) > 1e-6)
                            return mb_fail(err, "oracle: %s[%d] = %.9g, the task gate says %.9g", t->name, r,
                                           t->data[r], weight[r]);
                    continue;
                }
                snprintf(name, sizeof name, "%s.%d.moe.%d.%s", sn, layer, choice[e], rest);
                src = orc_tensor(full, name);
                if (!src)
                    return mb_fail(err, "oracle: %s has no source %s", t->name, name);
            }
        }
        if (!src)
            src = orc_tensor(full, t->name);
        if (!src || src->n != t->n || memcmp(src->data, t->data, sizeof(double) * (size_t)t->n))
            return mb_fail(err, "oracle: %s of the sub-network is not %s of the full model", t->name,
                           src ? src->name : "any tensor");
    }
    return 0;
}
