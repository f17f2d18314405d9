/* trn_ckpt: training checkpoints: one safetensors file holding the model's
 * tensors (under their usual names, with the model config in __metadata__),
 * Adam's two moments as flat tensors "optim.m" / "optim.v" of the arena's
 * layout, and the training state as "train.*" metadata strings (step, data
 * position, settings) that the caller chooses. Written atomically
 * (st_write: temporary file, then rename). A checkpoint is not a model file
 * for `translate` (it has extra tensors); `train` also writes plain models. */
#ifndef TRAIN_TRN_CKPT_H
#define TRAIN_TRN_CKPT_H

#include "models/model.h"
#include "train/trn_optim.h"

#define TRN_CKPT_MAX 32

typedef struct trn_ckpt_meta {
    int n;
    char key[TRN_CKPT_MAX][32];
    char value[TRN_CKPT_MAX][256];
} trn_ckpt_meta_t;

/* Adds or replaces key = printf(fmt, ...); keys are stored as "train.KEY". */
void trn_ckpt_set(trn_ckpt_meta_t *t, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *trn_ckpt_get(const trn_ckpt_meta_t *t, const char *key);

int trn_ckpt_save(const char *path, const model_t *m, const trn_adam_t *a, const trn_ckpt_meta_t *t,
                  mb_error_t *err);
/* Loads the model (*m, allocated), the moments into a (created here with
 * its options left to the caller to fill) and the train.* metadata. */
int trn_ckpt_load(const char *path, model_t **m, trn_adam_t *a, trn_ckpt_meta_t *t, mb_error_t *err);

#endif
