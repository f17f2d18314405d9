/* moe: one mixture-of-experts FFN layer at inference (docs/routing.md).
 *
 * The routing variants differ only in what the gate sees, which the caller
 * passes as `gate_in` rows and a token -> row map: the token itself (token
 * routing), its sentence's mean representation (sentence routing), or a task
 * embedding (task routing). This module then runs four stages:
 *   route    each token's top-k experts and weights, and the expert capacity
 *            (admission per sequence, counters owned by the caller);
 *   dispatch each expert's admitted tokens gathered into one block;
 *   compute  one FFN (two GEMMs) per expert over its block;
 *   combine  each token's expert outputs summed in rank order.
 * Dispatch and combine sit behind moe_xfer_t so that expert parallelism can
 * replace the in-memory gather/scatter with an all-to-all exchange without
 * touching routing or expert compute. It owns the routing statistics. */
#ifndef MODEL_MOE_H
#define MODEL_MOE_H

#include <stdint.h>

#include "backends/backend.h"
#include "models/model.h"

typedef struct moe_stats {
    uint64_t calls;                /* MoE layer evaluations */
    uint64_t tokens;               /* token rows routed */
    uint64_t assignments;          /* token-expert pairs chosen by the gates (k per token) */
    uint64_t dropped_assignments;  /* of those, refused because the expert was full */
    uint64_t dropped_tokens;       /* tokens whose every assignment was refused (FFN output 0) */
} moe_stats_t;

/* Buffers for one layer call, sized once per batch shape (moe_ws_reserve);
 * `tokens` must cover both the tokens and the gate rows of a call. */
typedef struct moe_ws {
    int cap_tokens, cap_experts, d, d_ff, top_k;
    float *probs;              /* [gate rows, E] gate probabilities */
    int *gate_choice;          /* [gate rows, k] */
    float *gate_weight;        /* [gate rows, k] */
    int *choice;               /* [tokens, k] expert of each rank (-1: dropped) */
    float *weight;             /* [tokens, k] gate weight (docs/routing.md, Gate) */
    int *slot;                 /* [tokens, k] row of the assignment in the gathered block */
    int *count;                /* [E] tokens per expert */
    int *start;                /* [E+1] first gathered row of each expert */
    int *rows;                 /* [tokens * k] token of each gathered row */
    float *xg;                 /* [tokens * k, d] gathered inputs */
    float *hg;                 /* [tokens * k, d_ff] expert hidden */
    float *yg;                 /* [tokens * k, d] expert outputs */
} moe_ws_t;

int moe_ws_reserve(moe_ws_t *ws, int tokens, int d, int d_ff, int n_experts, int top_k, mb_error_t *err);
void moe_ws_free(moe_ws_t *ws);

/* Capacity of every expert for one sequence whose source sentence has S
 * tokens: max(4, 4 * ceil(ceil(cf * k * S / E) / 4)) (Lingvo's rounding);
 * 0 (unlimited) when cf <= 0. */
int moe_capacity(double capacity_factor, int top_k, int S, int n_experts);

/* The gate: probs[G,E] = softmax(in[G,d] * gate^T); choice/weight [G,k] the
 * top-k experts in descending probability (lower index first on ties) and
 * their weights: for k >= 2 the k probabilities renormalised to sum to 1
 * (GShard), for k = 1 the probability itself (Switch Transformer). */
void moe_gate_topk(be_t *be, const float *gate, int n_experts, int d, const float *in, int G, int top_k,
                   float *probs, int *choice, float *weight);

/* What the caller tells a layer call about routing and capacity. */
typedef struct moe_route_in {
    const float *gate_in;      /* [G, d] gate inputs (ignored by fixed layers) */
    int G;
    const int *group;          /* [T] gate_in row of each token; NULL: row t */
    /* Capacity, applied to token-routed layers only; cap == NULL: none.
     * Each token belongs to one sequence (the capacity group) whose counters
     * are the row counter[t] of counts [rows, E]; the caller zeroes them when
     * the sequence starts, so admissions can span calls (decoder steps). */
    const int *cap;            /* [T] the capacity of the token's sequence (moe_capacity) */
    const int *counter;        /* [T] row of counts */
    int *counts;               /* [rows, E] assignments admitted so far per sequence and expert */
    int rank_major;            /* 1: all first choices, then all second choices, ... (encoder);
                                  0: token by token, each in rank order (causal decoder) */
} moe_route_in_t;

/* Dispatch moves each admitted assignment's input row to its expert's block
 * (ws->xg at ws->start[e]); combine sums the expert outputs (ws->yg) back
 * into y[T,d] in rank order, weighted. Both read the plan that routing left
 * in ws (choice, weight, count). */
typedef struct moe_xfer {
    void (*dispatch)(moe_ws_t *ws, int E, int k, const float *x, int T, int d);
    void (*combine)(moe_ws_t *ws, int k, int T, int d, float *y);
} moe_xfer_t;
/* In one process: memory copies. */
extern const moe_xfer_t moe_xfer_local;

/* y[T,d] = sum over each token's kept assignments, in rank order, of
 * weight * expert(x). Fixed layers (task-subnet) use their stored experts
 * and weights and ignore the gate. */
void moe_forward(be_t *be, const model_moe_t *moe, int d, int top_k, const float *x, int T,
                 const moe_route_in_t *rt, float *y, moe_ws_t *ws, moe_stats_t *stats);

#endif
