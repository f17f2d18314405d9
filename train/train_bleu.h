/* train_bleu: validation BLEU of a model during training: greedy decoding
 * (models/decode.c) of the first lines of each direction of a validation
 * corpus, scored with harness/bleu.c against the corpus's own targets. With
 * token-id corpora the score is over token ids (subword BLEU, white-space
 * tokenization: comparable between runs on the same ids, not with
 * sacreBLEU); with a vocabulary (vocab/) hypotheses and references are
 * decoded to text and scored as sacreBLEU does (13a). Owns nothing. */
#ifndef TRAIN_BLEU_H
#define TRAIN_BLEU_H

#include "backends/backend.h"
#include "models/model.h"
#include "train/trn_data.h"

/* *avg: mean BLEU over v's directions; per[d] (may be NULL): each one's. */
int train_bleu(model_t *m, be_t *be, const trn_sampler_t *v, int lines, const char *vocab_file, double *avg,
               double *per, mb_error_t *err);

#endif
