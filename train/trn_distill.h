/* trn_distill: the teacher's side of sequence-level knowledge distillation
 * (Kim & Rush 2016, as "Beyond Distillation" used it): the teacher
 * translates every training source of a direction with beam search
 * (models/decode.c, batched, sources sorted by length), and the student is
 * trained on (source, teacher output) pairs (trn_corpus_add_column).
 *
 * Translations are cached, one file per direction, DIR/DIRECTION.ids: a
 * first line "#KEY", then one line of token ids per source line (empty for
 * an empty or overlong source). KEY holds everything the translations depend
 * on: the teacher's CRC-32 (weights and config, trn_model_crc), the
 * direction and its tag, the decoding options, the line count and a CRC-32 of
 * the source token ids (so the data, --max-lines and the vocabulary are in
 * it), and the vocabulary's identity. A file whose key matches is reused; any
 * other is regenerated. The file is written to a temporary name and renamed;
 * while a direction is translated, DIR/DIRECTION.ids.partial collects the
 * finished batches (flushed after each), so an interrupted run resumes where
 * it stopped. This module never prints: progress goes to a callback. */
#ifndef TRAIN_TRN_DISTILL_H
#define TRAIN_TRN_DISTILL_H

#include <stdint.h>

#include "backends/backend.h"
#include "models/model.h"
#include "train/trn_data.h"

typedef struct trn_distill_opts {
    int beam;                  /* 4 */
    float len_penalty;         /* GNMT alpha, 0.6 (translate's) */
    int max_out;               /* cap on output tokens, 256 (translate's --max-len) */
    int max_src;               /* sources longer than this many tokens are not translated (they
                                  could not be trained on); 0 = no limit */
    int batch;                 /* sentences per decode batch, 32 (translate's) */
    uint32_t teacher_crc;      /* trn_model_crc(teacher) */
    char vocab_id[48];         /* "crc32:XXXXXXXX" of the vocabulary, or "ids" */
} trn_distill_opts_t;

void trn_distill_opts_default(trn_distill_opts_t *o);

/* Called after every decoded batch: done of total lines; `from_cache` lines
 * of them came from a partial file. */
typedef void (*trn_distill_progress_fn)(void *ctx, const char *direction, int done, int total, int from_cache);

typedef struct trn_distill_result {
    int reused;                /* 1: the cache file was valid and read; 0: (re)generated */
    int resumed;               /* lines taken from a partial file */
    char path[4096];           /* the cache file */
    char why[128];             /* why it was regenerated ("no cache file", "the teacher or options changed") */
} trn_distill_result_t;

/* The teacher's translations of corpus language `src` (a column index) for
 * `direction` (one of the teacher's tasks), through the cache in cache_dir
 * (created if missing). teacher must be prepared for be (model_prepare).
 * *off [n_lines + 1] and *ids are malloc'ed, ready for trn_corpus_add_column. */
int trn_distill_direction(const model_t *teacher, be_t *be, const trn_corpus_t *c, int src, const char *direction,
                          const trn_distill_opts_t *o, const char *cache_dir, trn_distill_progress_fn progress,
                          void *ctx, int **off, int **ids, trn_distill_result_t *res, mb_error_t *err);

#endif
