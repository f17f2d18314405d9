/* trn_optim: the optimiser of the trainer: AdamW (decoupled weight decay on
 * matrices only) with a linear warm-up then inverse-square-root decay (the
 * paper's schedule shape), and gradient clipping by global norm. Parameters,
 * gradients and the two moments are flat arrays of the model arena's layout;
 * this module owns the moments and the step count. */
#ifndef TRAIN_TRN_OPTIM_H
#define TRAIN_TRN_OPTIM_H

#include <stdint.h>

#include "models/model.h"

enum { TRN_DECAY_INV_SQRT = 0, TRN_DECAY_NONE = 1 };

typedef struct trn_adam_opts {
    float lr;                  /* peak learning rate (reached at the end of warm-up) */
    int warmup;                /* steps of linear warm-up; then lr * sqrt(warmup / step) */
    int decay;                 /* after warm-up: TRN_DECAY_INV_SQRT (default) or TRN_DECAY_NONE (lr) */
    float beta1, beta2, eps;
    float weight_decay;        /* decoupled (AdamW); 2-D tensors only */
    float clip;                /* global gradient-norm limit; 0 = none */
} trn_adam_opts_t;

typedef struct trn_adam {
    trn_adam_opts_t o;
    uint64_t n;                /* parameters */
    float *m, *v;              /* [n] first and second moments */
    long step;                 /* updates done */
} trn_adam_t;

void trn_adam_defaults(trn_adam_opts_t *o);
int trn_adam_create(trn_adam_t *a, const model_t *m, const trn_adam_opts_t *o, mb_error_t *err);
void trn_adam_free(trn_adam_t *a);
/* Learning rate of update number `step` (1-based). */
float trn_adam_lr(const trn_adam_opts_t *o, long step);
/* One update of m's parameters from gradient g (same config); g is clipped
 * in place. Returns the gradient's global norm before clipping. */
double trn_adam_update(trn_adam_t *a, model_t *m, model_t *g);

#endif
