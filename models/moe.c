/* moe: GShard top-k routing with capacity, grouped expert GEMMs (see moe.h). */
#include "models/moe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mb_mem.h"

int moe_ws_reserve(moe_ws_t *ws, int tokens, int d, int d_ff, int n_experts, int top_k, mb_error_t *err)
{
    if (tokens <= ws->cap_tokens && n_experts <= ws->cap_experts && d == ws->d && d_ff == ws->d_ff &&
        top_k <= ws->top_k)
        return 0;
    if (tokens < ws->cap_tokens)
        tokens = ws->cap_tokens;
    if (n_experts < ws->cap_experts)
        n_experts = ws->cap_experts;
    if (top_k < ws->top_k)
        top_k = ws->top_k;
    size_t tk = (size_t)tokens * (size_t)top_k;
    if (mb_grow((void **)&ws->probs, (size_t)tokens * (size_t)n_experts, sizeof(float)) ||
        mb_grow((void **)&ws->choice, tk, sizeof(int)) || mb_grow((void **)&ws->weight, tk, sizeof(float)) ||
        mb_grow((void **)&ws->gate_choice, tk, sizeof(int)) || mb_grow((void **)&ws->gate_weight, tk, sizeof(float)) ||
        mb_grow((void **)&ws->slot, tk, sizeof(int)) || mb_grow((void **)&ws->count, (size_t)n_experts, sizeof(int)) ||
        mb_grow((void **)&ws->start, (size_t)n_experts + 1, sizeof(int)) || mb_grow((void **)&ws->rows, tk, sizeof(int)) ||
        mb_grow((void **)&ws->xg, tk * (size_t)d, sizeof(float)) || mb_grow((void **)&ws->hg, tk * (size_t)d_ff, sizeof(float)) ||
        mb_grow((void **)&ws->yg, tk * (size_t)d, sizeof(float)))
        return mb_fail(err, "out of memory for the MoE workspace (%d tokens, %d experts)", tokens, n_experts);
    ws->cap_tokens = tokens;
    ws->cap_experts = n_experts;
    ws->d = d;
    ws->d_ff = d_ff;
    ws->top_k = top_k;
    return 0;
}

void moe_ws_free(moe_ws_t *ws)
{
    free(ws->probs);
    free(ws->choice);
    free(ws->weight);
    free(ws->gate_choice);
    free(ws->gate_weight);
    free(ws->slot);
    free(ws->count);
    free(ws->start);
    free(ws->rows);
    free(ws->xg);
    free(ws->hg);
    free(ws->yg);
    memset(ws, 0, sizeof *ws);
}

int moe_capacity(double capacity_factor, int top_k, int S, int n_experts)
{
    if (!(capacity_factor > 0.0))
        return 0;
    double slots = ceil(capacity_factor * top_k * S / n_experts);
    double c = 4.0 * ceil(slots / 4.0);
    if (c < 4.0)
        c = 4.0;
    return c > 1e9 ? 1000000000 : (int)c; /* more than any sequence can send */
}

void moe_gate_topk(be_t *be, const float *gate, int n_experts, int d, const float *in, int G, int top_k,
                   float *probs, int *choice, float *weight)
{
    be_gemm(be, 0, 1, G, n_experts, d, 1.0f, in, d, gate, d, 0.0f, probs, n_experts);
    for (int g = 0; g < G; g++) {
        float *p = probs + (size_t)g * n_experts;
        float mx = p[0], sum = 0.0f;
        for (int e = 1; e < n_experts; e++)
            mx = p[e] > mx ? p[e] : mx;
        for (int e = 0; e < n_experts; e++) {
            p[e] = expf(p[e] - mx);
            sum += p[e];
        }
        for (int e = 0; e < n_experts; e++)
            p[e] /= sum;
        int *c = choice + (size_t)g * top_k;
        float *w = weight + (size_t)g * top_k, wsum = 0.0f;
        for (int r = 0; r < top_k; r++) { /* k is small: selection by repeated scans */
            int best = -1;
            for (int e = 0; e < n_experts; e++) {
                int taken = 0;
                for (int q = 0; q < r; q++)
                    taken |= c[q] == e;
                if (!taken && (best < 0 || p[e] > p[best]))
                    best = e;
            }
            c[r] = best;
            w[r] = p[best];
            wsum += p[best];
        }
        if (top_k >= 2) /* GShard; top-1 keeps p (Switch: p * E(x)) */
            for (int r = 0; r < top_k; r++)
                w[r] /= wsum;
    }
}

static void expert_ffn(be_t *be, const model_ffn_t *f, const float *x, int m, float *h, float *y)
{
    be_linear(be, &f->fc1, x, m, h);
    be_relu(be, h, (size_t)m * f->fc1.n_out);
    be_linear(be, &f->fc2, h, m, y);
}

/* ---- route: choices, weights, capacity ---- */

/* Fills ws->choice/weight [T,k] (-1: dropped) and ws->count [E] (admitted
 * rows per expert); returns the dropped assignments, *dropped_tokens the
 * tokens that lost all of theirs. */
static uint64_t route(be_t *be, const model_moe_t *moe, int d, int k, int T, const moe_route_in_t *rt, moe_ws_t *ws,
                      uint64_t *dropped_tokens)
{
    const int E = moe->n_experts;
    if (moe->fixed) {
        for (int t = 0; t < T; t++)
            for (int r = 0; r < k; r++) {
                ws->choice[(size_t)t * k + r] = r;
                ws->weight[(size_t)t * k + r] = moe->fixed_weight[r];
            }
    } else {
        /* gate rows first (G may be fewer than T), then each token takes its row's */
        moe_gate_topk(be, moe->gate, E, d, rt->gate_in, rt->G, k, ws->probs, ws->gate_choice, ws->gate_weight);
        for (int t = 0; t < T; t++) {
            int g = rt->group ? rt->group[t] : t;
            memcpy(ws->choice + (size_t)t * k, ws->gate_choice + (size_t)g * k, sizeof(int) * (size_t)k);
            memcpy(ws->weight + (size_t)t * k, ws->gate_weight + (size_t)g * k, sizeof(float) * (size_t)k);
        }
    }
    uint64_t dropped = 0;
    *dropped_tokens = 0;
    /* capacity: token-routed layers only (sentence and task routing send a
     * whole sequence to the same experts by design); sequences have their
     * own counters, so the order across sequences does not matter */
    if (rt->cap && !moe->fixed && moe->routing == MODEL_ROUTE_TOKEN) {
        const int outer = rt->rank_major ? k : T, inner = rt->rank_major ? T : k;
        for (int i = 0; i < outer; i++)
            for (int j = 0; j < inner; j++) {
                int t = rt->rank_major ? j : i, r = rt->rank_major ? i : j;
                int *c = &ws->choice[(size_t)t * k + r];
                int *n = &rt->counts[(size_t)rt->counter[t] * E + *c];
                if (rt->cap[t] > 0 && *n >= rt->cap[t]) {
                    *c = -1;
                    dropped++;
                } else
                    (*n)++;
            }
        for (int t = 0; dropped && t < T; t++) {
            int kept = 0;
            for (int r = 0; r < k; r++)
                kept |= ws->choice[(size_t)t * k + r] >= 0;
            *dropped_tokens += !kept;
        }
    }
    memset(ws->count, 0, sizeof(int) * (size_t)E);
    for (size_t i = 0; i < (size_t)T * k; i++)
        if (ws->choice[i] >= 0)
            ws->count[ws->choice[i]]++;
    return dropped;
}

/* ---- dispatch and combine in one process ---- */

static void dispatch_local(moe_ws_t *ws, int E, int k, const float *x, int T, int d)
{
    ws->start[0] = 0;
    for (int e = 0; e < E; e++)
        ws->start[e + 1] = ws->start[e] + ws->count[e];
    memset(ws->count, 0, sizeof(int) * (size_t)E);
    for (int t = 0; t < T; t++)
        for (int r = 0; r < k; r++) {
            int e = ws->choice[(size_t)t * k + r];
            if (e < 0)
                continue;
            int row = ws->start[e] + ws->count[e]++;
            ws->slot[(size_t)t * k + r] = row;
            ws->rows[row] = t;
            memcpy(ws->xg + (size_t)row * d, x + (size_t)t * d, sizeof(float) * (size_t)d);
        }
}

/* dropped assignments add nothing: the residual connection carries the
 * token past this layer */
static void combine_local(moe_ws_t *ws, int k, int T, int d, float *y)
{
    memset(y, 0, sizeof(float) * (size_t)T * d);
    for (int t = 0; t < T; t++)
        for (int r = 0; r < k; r++) {
            if (ws->choice[(size_t)t * k + r] < 0)
                continue;
            float w = ws->weight[(size_t)t * k + r];
            const float *src = ws->yg + (size_t)ws->slot[(size_t)t * k + r] * d;
            float *dst = y + (size_t)t * d;
            for (int j = 0; j < d; j++)
                dst[j] += w * src[j];
        }
}

const moe_xfer_t moe_xfer_local = {dispatch_local, combine_local};

void moe_forward(be_t *be, const model_moe_t *moe, int d, int top_k, const float *x, int T,
                 const moe_route_in_t *rt, float *y, moe_ws_t *ws, moe_stats_t *stats)
{
    const int E = moe->n_experts, k = top_k;
    const moe_xfer_t *xfer = &moe_xfer_local;
    uint64_t dropped_tokens;
    uint64_t dropped = route(be, moe, d, k, T, rt, ws, &dropped_tokens);
    xfer->dispatch(ws, E, k, x, T, d);
    /* expert compute: one FFN (two GEMMs) per expert over its block */
    for (int e = 0; e < E; e++) {
        int m = ws->start[e + 1] - ws->start[e];
        if (m > 0)
            expert_ffn(be, &moe->experts[e], ws->xg + (size_t)ws->start[e] * d, m,
                       ws->hg + (size_t)ws->start[e] * moe->experts[e].fc1.n_out,
                       ws->yg + (size_t)ws->start[e] * d);
    }
    xfer->combine(ws, k, T, d, y);
    if (stats) {
        stats->calls++;
        stats->tokens += (uint64_t)T;
        stats->assignments += (uint64_t)T * (uint64_t)k;
        stats->dropped_assignments += dropped;
        stats->dropped_tokens += dropped_tokens;
    }
}
