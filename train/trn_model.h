/* trn_model: the training forward and backward of a whole encoder-decoder
 * model (the same pre-LN Transformer as models/transformer.c, plus dropout),
 * for every routing variant, over a batch of packed sentence pairs.
 *
 * Parameters are the model_t's float arena. The gradient is a second model_t
 * of the same config (trn_grad): its arena has the same layout and its
 * structs point at the gradient of each weight, so tied or shared tensors
 * (which alias in the layout) sum their gradients by construction, and the
 * optimiser treats parameters, gradients and moments as flat arrays.
 * Activations for the backward are kept per sublayer, reserved once per batch
 * shape (grow-only) after a dry run checks them against the memory limit.
 * This module owns the activations and the gradient; not the model, the
 * backend, the data or the optimiser. */
#ifndef TRAIN_TRN_MODEL_H
#define TRAIN_TRN_MODEL_H

#include <stdint.h>

#include "backends/backend.h"
#include "models/model.h"

typedef struct trn_opts {
    float dropout;             /* on embeddings and every sublayer output; 0.1 */
    float label_smoothing;     /* 0.1 */
    float aux_weight;          /* GShard load-balancing loss per gated layer; 0.01 */
    float capacity_factor;     /* training capacity (docs/routing.md); 1.0 = GShard's 2N/E for top-2 */
    int threads;               /* the trainer's OpenMP team; 0: the backend's thread count. On a
                                  backend opened with 1 thread whose GEMM may run on several
                                  threads at once, the team also splits the GEMMs (trn_gemm) */
} trn_opts_t;

void trn_opts_default(trn_opts_t *o);

/* Sentence pairs, packed without padding. Source i: src[src_off[i] ..
 * src_off[i+1]) (tag, words, EOS). Target i: decoder inputs tgt_in (BOS,
 * words) and labels tgt_out (words, EOS), both at tgt_off. */
typedef struct trn_batch {
    int n;
    const int *src_off, *src;
    const int *tgt_off, *tgt_in, *tgt_out;
    const int *key;            /* [n] task-key index (model_task_key_index) */
} trn_batch_t;

typedef struct trn_stats {
    double loss;               /* label-smoothed cross-entropy, mean per target token */
    double nll;                /* plain negative log-likelihood, mean per target token */
    double aux;                /* sum of the aux losses of the gated layers (unweighted) */
    double objective;          /* loss + aux_weight * aux: what the gradient is of */
    int src_tokens, tgt_tokens, correct;
    uint64_t assignments, dropped_assignments, dropped_tokens;
} trn_stats_t;

typedef struct trn trn_t;

/* A trainer for model m on backend be (both stay the caller's). */
int trn_create(model_t *m, be_t *be, const trn_opts_t *o, trn_t **out, mb_error_t *err);
void trn_free(trn_t *t);
/* The gradient, as a model whose arena holds d objective / d parameter. */
model_t *trn_grad(trn_t *t);
const trn_opts_t *trn_get_opts(const trn_t *t);
void trn_set_opts(trn_t *t, const trn_opts_t *o);

/* Checks that a batch is well formed and that its activations fit, then
 * reserves them. Called by trn_step; public for tests and --bench. */
int trn_reserve(trn_t *t, const trn_batch_t *b, mb_error_t *err);

/* train = 1: forward with dropout (masks drawn from dropout_seed), then the
 * backward into trn_grad (overwritten, not accumulated). train = 0: forward
 * only, no dropout (validation). logits_out ([tgt tokens, vocab], may be
 * NULL) receives the logits before the loss. */
int trn_step(trn_t *t, const trn_batch_t *b, int train, uint64_t dropout_seed, trn_stats_t *st,
             float *logits_out, mb_error_t *err);

/* Model FLOPs of one training step on b (forward + backward = 3x forward
 * GEMM work, counting the experts actually computed), for --bench. */
double trn_step_flops(const trn_t *t, const trn_batch_t *b, int train);

#endif
