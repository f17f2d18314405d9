/* trn_moe: the training forward and backward of one mixture-of-experts FFN
 * layer, for every routing kind, per docs/routing.md: softmax gate over E
 * experts, top-k (ties: lower index), weights renormalised for k >= 2 (p
 * itself for k = 1), capacity per sequence (token-routed layers only),
 * grouped expert GEMMs (one GEMM pair per expert over its gathered rows), and
 * GShard's auxiliary load-balancing loss. Written for the trainer on its own
 * rather than on models/moe.c's internals; its forward must agree with the
 * inference engine (a test checks it).
 *
 * What the gate sees is the caller's business: gate_in rows [G, d] and a
 * token -> row map (token routing: the tokens' own h; sentence: sentence
 * means; task: the task embedding). The backward returns the gradient of
 * gate_in, which the caller sends on (to h, through the mean, to the task
 * embedding). Buffers come from the caller (trn_moe_reserve); nothing is
 * allocated per call. */
#ifndef TRAIN_TRN_MOE_H
#define TRAIN_TRN_MOE_H

#include <stdint.h>

#include "backends/backend.h"
#include "common/mb_error.h"
#include "models/model.h"

typedef struct trn_moe_cfg {
    int d, d_ff, E, k;
    model_route_t routing;     /* capacity applies to MODEL_ROUTE_TOKEN only */
    float capacity_factor;     /* 0: unlimited */
    int causal;                /* decoder: admission token by token (else rank-major) */
} trn_moe_cfg_t;

/* What one layer's forward keeps for its backward. */
typedef struct trn_moe_act {
    int cap_t, cap_g, cap_a;   /* capacities (rows) */
    int T, G, A;               /* this call: tokens, gate rows, kept assignments */
    float *probs;              /* [G, E] gate probabilities */
    int *chosen;               /* [G, k] experts in rank order */
    float *cw;                 /* [G, k] their weights (renormalised when k >= 2) */
    int *slot;                 /* [T, k] gathered row of each assignment, -1 when dropped */
    int *start;                /* [E + 1] first gathered row of each expert */
    int *fill;                 /* [E] rows placed so far (gathering) */
    int *rows;                 /* [A] token of each gathered row */
    float *xg, *hg, *yg;       /* [A, d], [A, d_ff] (after ReLU), [A, d] */
    float *frac;               /* [E] share of tokens whose first choice is e */
    double aux;                /* E * sum_e frac[e] * mean_t probs[t, e] */
    uint64_t assignments, dropped_assignments, dropped_tokens;
} trn_moe_act_t;

/* Backward scratch shared by all layers. */
typedef struct trn_moe_scratch {
    int cap_a, cap_g;
    float *dyg, *dhg, *dxg;    /* [A, d], [A, d_ff], [A, d] */
    float *dprobs, *dcw;       /* [G, E], [G, k] */
} trn_moe_scratch_t;

/* Grow-only reservation for T tokens and G gate rows. *bytes (when not NULL)
 * only sums what would be allocated, allocating nothing: the trainer checks
 * a batch against the memory limit before it allocates. */
int trn_moe_reserve(trn_moe_act_t *a, const trn_moe_cfg_t *c, int T, int G, uint64_t *bytes, mb_error_t *err);
void trn_moe_act_free(trn_moe_act_t *a);
int trn_moe_scratch_reserve(trn_moe_scratch_t *s, const trn_moe_cfg_t *c, int T, int G, uint64_t *bytes,
                            mb_error_t *err);
void trn_moe_scratch_free(trn_moe_scratch_t *s);

/* Per-expert capacity of a sequence whose source has S tokens (docs/routing.md). */
int trn_moe_capacity(float cf, int k, int S, int E);

/* y[T,d] = MoE(h[T,d]). gate_in [G,d]; grp[t] its row for token t (NULL:
 * row t). Sequences (capacity groups): tokens seq_off[s]..seq_off[s+1]-1,
 * whose source sentence has src_len[s] tokens. */
void trn_moe_fwd(be_t *be, const trn_moe_cfg_t *c, const model_moe_t *w, const float *h, int T,
                 const float *gate_in, int G, const int *grp, int nseq, const int *seq_off, const int *src_len,
                 trn_moe_act_t *a, float *y);

/* Given dy [T,d]: gw (the layer's gradient views) +=, dh [T,d] += the expert
 * path's input gradient, dgate_in [G,d] += the gate path's (token routing:
 * pass dh). aux_weight scales the auxiliary loss's gradient. */
void trn_moe_bwd(be_t *be, const trn_moe_cfg_t *c, const model_moe_t *w, const model_moe_t *gw, const float *h,
                 const float *gate_in, const int *grp, const trn_moe_act_t *a, const float *dy, float aux_weight,
                 trn_moe_scratch_t *s, float *dh, float *dgate_in);

#endif
