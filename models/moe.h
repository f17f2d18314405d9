/* moe: one mixture-of-experts FFN layer at inference (GShard top-k gating).
 *
 * The routing variants differ only in what the gate sees, which the caller
 * passes as `gate_in` rows and a token -> row map: the token itself (token
 * routing), its sentence's mean representation (sentence routing), or a task
 * embedding (task routing). This module then picks each row's top-k experts,
 * renormalises their weights, applies the expert capacity, gathers each
 * expert's tokens into one block, runs one GEMM pair per expert, and
 * combines the outputs in rank order. It owns the routing statistics. */
#ifndef MODEL_MOE_H
#define MODEL_MOE_H

#include <stdint.h>

#include "backends/backend.h"
#include "models/model.h"

typedef struct moe_stats {
    uint64_t calls;            /* MoE layer evaluations */
    uint64_t tokens;           /* tokens routed */
    uint64_t assignments;      /* token-expert pairs chosen by the gates */
    uint64_t dropped;          /* of those, skipped because the expert was full */
} moe_stats_t;

/* Buffers for one layer call, sized once per batch shape (moe_ws_reserve);
 * `tokens` must cover both the tokens and the gate rows of a call. */
typedef struct moe_ws {
    int cap_tokens, cap_experts, d, d_ff, top_k;
    float *probs;              /* [gate rows, E] gate probabilities */
    int *gate_choice;          /* [gate rows, k] */
    float *gate_weight;        /* [gate rows, k] */
    int *choice;               /* [tokens, k] expert of each rank (-1: dropped) */
    float *weight;             /* [tokens, k] renormalised gate weight */
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

/* Expert capacity for `tokens` tokens: ceil(cf * k * tokens / E); 0 = unlimited. */
int moe_capacity(float capacity_factor, int top_k, int tokens, int n_experts);

/* The gate: probs[G,E] = softmax(in[G,d] * gate^T); choice/weight [G,k] the
 * top-k experts in descending probability (lower index first on ties) and
 * their probabilities renormalised to sum to 1. */
void moe_gate_topk(be_t *be, const float *gate, int n_experts, int d, const float *in, int G, int top_k,
                   float *probs, int *choice, float *weight);

/* y[T,d] = sum over each token's kept assignments, in rank order, of
 * weight * expert(x). gate_in: [G,d]; group[t] is the gate_in row of token t
 * (NULL: row t). Fixed layers ignore gate_in. Capacity applies to token- and
 * sentence-routed layers only: a task's tokens all go to its experts. */
void moe_forward(be_t *be, const model_moe_t *moe, int d, int d_ff, int top_k, float capacity_factor,
                 const float *x, int T, const float *gate_in, int G, const int *group, float *y,
                 moe_ws_t *ws, moe_stats_t *stats);

#endif
