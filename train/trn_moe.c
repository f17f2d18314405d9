/* trn_moe: training forward/backward of a mixture-of-experts layer (see trn_moe.h). */
#include "train/trn_moe.h"

#include <limits.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "train/trn_ops.h"

#define G_ROW(grp, t) ((grp) ? (grp)[t] : (t))

int trn_moe_reserve(trn_moe_act_t *a, const trn_moe_cfg_t *c, int T, int G, uint64_t *bytes, mb_error_t *err)
{
    const size_t k = (size_t)c->k, E = (size_t)c->E;
    int A = T * c->k; /* every assignment kept at most */
    int ok = 0;
    if (G > a->cap_g || bytes)
        ok |= trn_buf(&a->probs, (size_t)G * E, sizeof(float), bytes) ||
              trn_buf(&a->chosen, (size_t)G * k, sizeof(int), bytes) ||
              trn_buf(&a->cw, (size_t)G * k, sizeof(float), bytes);
    if (T > a->cap_t || bytes)
        ok |= trn_buf(&a->slot, (size_t)T * k, sizeof(int), bytes) ||
              trn_buf(&a->start, E + 1, sizeof(int), bytes) || trn_buf(&a->frac, E, sizeof(float), bytes) ||
              trn_buf(&a->fill, E, sizeof(int), bytes) ||
              trn_buf(&a->rows, (size_t)A, sizeof(int), bytes) ||
              trn_buf(&a->xg, (size_t)A * c->d, sizeof(float), bytes) ||
              trn_buf(&a->hg, (size_t)A * c->d_ff, sizeof(float), bytes) ||
              trn_buf(&a->yg, (size_t)A * c->d, sizeof(float), bytes);
    if (ok)
        return mb_fail(err, "out of memory for a MoE layer's training activations (%d tokens)", T);
    if (!bytes) {
        a->cap_g = G > a->cap_g ? G : a->cap_g;
        a->cap_t = T > a->cap_t ? T : a->cap_t;
    }
    return 0;
}

void trn_moe_act_free(trn_moe_act_t *a)
{
    void *p[] = {a->probs, a->chosen, a->cw, a->slot, a->start, a->rows, a->xg, a->hg, a->yg, a->frac, a->fill};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
    memset(a, 0, sizeof *a);
}

int trn_moe_scratch_reserve(trn_moe_scratch_t *s, const trn_moe_cfg_t *c, int T, int G, uint64_t *bytes,
                            mb_error_t *err)
{
    int A = T * c->k;
    int ok = 0;
    if (A > s->cap_a || bytes)
        ok |= trn_buf(&s->dyg, (size_t)A * c->d, sizeof(float), bytes) ||
              trn_buf(&s->dhg, (size_t)A * c->d_ff, sizeof(float), bytes) ||
              trn_buf(&s->dxg, (size_t)A * c->d, sizeof(float), bytes);
    if (G > s->cap_g || bytes)
        ok |= trn_buf(&s->dprobs, (size_t)G * c->E, sizeof(float), bytes) ||
              trn_buf(&s->dcw, (size_t)G * c->k, sizeof(float), bytes);
    if (ok)
        return mb_fail(err, "out of memory for the MoE backward scratch (%d tokens)", T);
    if (!bytes) {
        s->cap_a = A > s->cap_a ? A : s->cap_a;
        s->cap_g = G > s->cap_g ? G : s->cap_g;
    }
    return 0;
}

void trn_moe_scratch_free(trn_moe_scratch_t *s)
{
    free(s->dyg);
    free(s->dhg);
    free(s->dxg);
    free(s->dprobs);
    free(s->dcw);
    memset(s, 0, sizeof *s);
}

int trn_moe_capacity(float cf, int k, int S, int E)
{
    if (!(cf > 0.0f))
        return INT_MAX;
    /* Lingvo's rounding: up to a multiple of 4, at least 4 */
    int c = (int)ceil((double)cf * k * S / E);
    c = 4 * ((c + 3) / 4);
    return c < 4 ? 4 : c;
}

/* probs = softmax(gate_in W^T); chosen/cw: top-k (descending p, lower index first). */
static void gate(be_t *be, const trn_moe_cfg_t *c, const float *W, const float *gate_in, int G, trn_moe_act_t *a)
{
    const int E = c->E, k = c->k;
    be_gemm(be, 0, 1, G, E, c->d, 1.0f, gate_in, c->d, W, c->d, 0.0f, a->probs, E);
    for (int g = 0; g < G; g++) {
        float *p = a->probs + (size_t)g * E;
        float mx = -INFINITY, sum = 0.0f;
        for (int e = 0; e < E; e++)
            mx = p[e] > mx ? p[e] : mx;
        for (int e = 0; e < E; e++) {
            p[e] = expf(p[e] - mx);
            sum += p[e];
        }
        for (int e = 0; e < E; e++)
            p[e] /= sum;
        int *ch = a->chosen + (size_t)g * k;
        float *w = a->cw + (size_t)g * k, tot = 0.0f;
        for (int r = 0; r < k; r++) {
            int best = -1;
            for (int e = 0; e < E; e++) {
                int taken = 0;
                for (int q = 0; q < r; q++)
                    taken |= ch[q] == e;
                if (!taken && (best < 0 || p[e] > p[best]))
                    best = e;
            }
            ch[r] = best;
            w[r] = p[best];
            tot += p[best];
        }
        if (k >= 2)
            for (int r = 0; r < k; r++)
                w[r] /= tot;
    }
}

void trn_moe_fwd(be_t *be, const trn_moe_cfg_t *c, const model_moe_t *w, const float *h, int T,
                 const float *gate_in, int G, const int *grp, int nseq, const int *seq_off, const int *src_len,
                 trn_moe_act_t *a, float *y)
{
    const int E = c->E, k = c->k, d = c->d, dff = c->d_ff;
    a->T = T;
    a->G = G;
    gate(be, c, w->gate, gate_in, G, a);

    /* admission, per sequence: slot = 0 kept, -1 dropped (rows assigned below) */
    int *count = a->start; /* [E], reused before the prefix sums */
    for (int s = 0; s < nseq; s++) {
        int t0 = seq_off[s], t1 = seq_off[s + 1];
        int C = c->routing == MODEL_ROUTE_TOKEN ? trn_moe_capacity(c->capacity_factor, k, src_len[s], E) : INT_MAX;
        memset(count, 0, sizeof(int) * (size_t)E);
        for (int outer = 0; outer < (c->causal ? t1 - t0 : k); outer++)
            for (int inner = 0; inner < (c->causal ? k : t1 - t0); inner++) {
                int t = c->causal ? t0 + outer : t0 + inner, r = c->causal ? inner : outer;
                int e = a->chosen[(size_t)G_ROW(grp, t) * k + r];
                a->slot[(size_t)t * k + r] = count[e] < C ? (count[e]++, 0) : -1;
            }
    }
    /* gather: rows of expert e in token order */
    memset(a->start, 0, sizeof(int) * (size_t)(E + 1));
    a->assignments = (uint64_t)T * k;
    a->dropped_assignments = a->dropped_tokens = 0;
    for (int t = 0; t < T; t++) {
        int kept = 0;
        for (int r = 0; r < k; r++)
            if (a->slot[(size_t)t * k + r] == 0) {
                a->start[a->chosen[(size_t)G_ROW(grp, t) * k + r] + 1]++;
                kept++;
            }
        a->dropped_assignments += (uint64_t)(k - kept);
        a->dropped_tokens += kept == 0;
    }
    for (int e = 0; e < E; e++)
        a->start[e + 1] += a->start[e];
    a->A = a->start[E];
    /* counting sort: each expert's rows in token order */
    memset(a->fill, 0, sizeof(int) * (size_t)E);
    for (int t = 0; t < T; t++)
        for (int r = 0; r < k; r++)
            if (a->slot[(size_t)t * k + r] >= 0) {
                int e = a->chosen[(size_t)G_ROW(grp, t) * k + r], row = a->start[e] + a->fill[e]++;
                a->slot[(size_t)t * k + r] = row;
                a->rows[row] = t;
            }
    /* rows are independent copies: threads split them (trn_ops.c: threading) */
#pragma omp parallel for schedule(static) if ((size_t)a->A * d > 16384)
    for (int row = 0; row < a->A; row++)
        memcpy(a->xg + (size_t)row * d, h + (size_t)a->rows[row] * d, sizeof(float) * (size_t)d);
    /* one GEMM pair per expert over its gathered rows */
    for (int e = 0; e < E; e++) {
        int r0 = a->start[e], n = a->start[e + 1] - r0;
        if (n == 0)
            continue;
        const model_ffn_t *f = &w->experts[e];
        float *hg = a->hg + (size_t)r0 * dff;
        trn_linear_relu_fwd(be, f->fc1.w, f->fc1.b, a->xg + (size_t)r0 * d, n, d, dff, hg);
        trn_linear_fwd(be, f->fc2.w, f->fc2.b, hg, n, dff, d, a->yg + (size_t)r0 * d);
    }
    /* combine in rank order */
    memset(y, 0, sizeof(float) * (size_t)T * d);
#pragma omp parallel for schedule(static) if ((size_t)T * d > 16384)
    for (int t = 0; t < T; t++)
        for (int r = 0; r < k; r++) {
            int row = a->slot[(size_t)t * k + r];
            if (row < 0)
                continue;
            float wt = a->cw[(size_t)G_ROW(grp, t) * k + r];
            const float *yr = a->yg + (size_t)row * d;
            float *yt = y + (size_t)t * d;
            for (int j = 0; j < d; j++)
                yt[j] += wt * yr[j];
        }
    /* GShard aux: E * sum_e (share of first choices) * (mean probability) */
    memset(a->frac, 0, sizeof(float) * (size_t)E);
    for (int t = 0; t < T; t++)
        a->frac[a->chosen[(size_t)G_ROW(grp, t) * k]] += 1.0f / (float)T;
    double aux = 0.0;
    for (int e = 0; e < E; e++) {
        double mp = 0.0;
        for (int t = 0; t < T; t++)
            mp += a->probs[(size_t)G_ROW(grp, t) * E + e];
        aux += (double)a->frac[e] * mp / (T ? T : 1);
    }
    a->aux = T ? E * aux : 0.0;
}

void trn_moe_bwd(be_t *be, const trn_moe_cfg_t *c, const model_moe_t *w, const model_moe_t *gw, const float *h,
                 const float *gate_in, const int *grp, const trn_moe_act_t *a, const float *dy, float aux_weight,
                 trn_moe_scratch_t *s, float *dh, float *dgate_in)
{
    (void)h;
    const int E = c->E, k = c->k, d = c->d, dff = c->d_ff, T = a->T, G = a->G;
    memset(s->dcw, 0, sizeof(float) * (size_t)G * k);
    memset(s->dprobs, 0, sizeof(float) * (size_t)G * E);
    /* combine backward: dyg = w * dy; dw = dy . yg. Tokens in parallel only
     * when each has its own gate row (token routing): shared rows (sentence,
     * task) sum dw over tokens, and that sum stays in token order. */
#pragma omp parallel for schedule(static) if (!grp && (size_t)T * d > 16384)
    for (int t = 0; t < T; t++)
        for (int r = 0; r < k; r++) {
            int row = a->slot[(size_t)t * k + r];
            if (row < 0)
                continue;
            size_t gi = (size_t)G_ROW(grp, t) * k + r;
            float wt = a->cw[gi], dot = 0.0f;
            const float *dyt = dy + (size_t)t * d, *yr = a->yg + (size_t)row * d;
            float *dr = s->dyg + (size_t)row * d;
            for (int j = 0; j < d; j++) {
                dr[j] = wt * dyt[j];
                dot += dyt[j] * yr[j];
            }
            s->dcw[gi] += dot;
        }
    /* experts */
    for (int e = 0; e < E; e++) {
        int r0 = a->start[e], n = a->start[e + 1] - r0;
        if (n == 0)
            continue;
        const model_ffn_t *f = &w->experts[e], *gf = &gw->experts[e];
        float *dhg = s->dhg + (size_t)r0 * dff;
        trn_linear_bwd(be, f->fc2.w, a->hg + (size_t)r0 * dff, s->dyg + (size_t)r0 * d, n, dff, d, dhg, 0.0f,
                       (float *)gf->fc2.w, (float *)gf->fc2.b);
        trn_relu_bwd(a->hg + (size_t)r0 * dff, dhg, (size_t)n * dff);
        trn_linear_bwd(be, f->fc1.w, a->xg + (size_t)r0 * d, dhg, n, d, dff, s->dxg + (size_t)r0 * d, 0.0f,
                       (float *)gf->fc1.w, (float *)gf->fc1.b);
    }
    /* scatter back per token (its rows in rank order), so no two threads
     * write one token's row */
#pragma omp parallel for schedule(static) if ((size_t)T * d > 16384)
    for (int t = 0; t < T; t++)
        for (int r = 0; r < k; r++) {
            int row = a->slot[(size_t)t * k + r];
            if (row < 0)
                continue;
            float *dt = dh + (size_t)t * d;
            const float *dr = s->dxg + (size_t)row * d;
            for (int j = 0; j < d; j++)
                dt[j] += dr[j];
        }
    /* through the renormalisation w_r = p_r / sum_j p_j (k >= 2) or w = p (k = 1) */
    for (int g = 0; g < G; g++) {
        const int *ch = a->chosen + (size_t)g * k;
        const float *p = a->probs + (size_t)g * E, *dw = s->dcw + (size_t)g * k;
        float *dp = s->dprobs + (size_t)g * E;
        if (k == 1) {
            dp[ch[0]] += dw[0];
            continue;
        }
        float sum = 0.0f, dot = 0.0f;
        for (int r = 0; r < k; r++) {
            sum += p[ch[r]];
            dot += dw[r] * p[ch[r]];
        }
        for (int r = 0; r < k; r++)
            dp[ch[r]] += dw[r] / sum - dot / (sum * sum);
    }
    /* aux: d/dp[t,e] of E * sum_e frac_e * mean_t p[t,e] (frac is a count: no gradient) */
    if (aux_weight != 0.0f && T > 0)
        for (int t = 0; t < T; t++) {
            float *dp = s->dprobs + (size_t)G_ROW(grp, t) * E;
            for (int e = 0; e < E; e++)
                dp[e] += aux_weight * (float)E * a->frac[e] / (float)T;
        }
    /* softmax backward: dz = p * (dp - sum p dp), in place */
    for (int g = 0; g < G; g++) {
        const float *p = a->probs + (size_t)g * E;
        float *dp = s->dprobs + (size_t)g * E, dot = 0.0f;
        for (int e = 0; e < E; e++)
            dot += p[e] * dp[e];
        for (int e = 0; e < E; e++)
            dp[e] = p[e] * (dp[e] - dot);
    }
    /* z = gate_in W^T */
    be_gemm(be, 1, 0, E, d, G, 1.0f, s->dprobs, E, gate_in, d, 1.0f, (float *)gw->gate, d);
    be_gemm(be, 0, 0, G, d, E, 1.0f, s->dprobs, E, w->gate, d, 1.0f, dgate_in, d);
}
