/* trn_data: the trainer's data: multi-way corpora read in place (one file per
 * language, aligned line by line, plain or gzip), tokenized either by the
 * vocabulary (vocab/vocab.h, text files) or already (files of token ids, one
 * sentence per line, so tests need no vocabulary); translation directions
 * sampled with temperature T (p_d ~ n_d^(1/T)); within a direction, lines
 * taken in passes over a fresh random order of its usable lines (each line
 * once per pass, as epochs do) or drawn independently; token-budget batches
 * bucketed by length; all of it a function of the seed and a position
 * (chunk, batch), which is what a checkpoint records.
 *
 * A source gets its direction's <2xx> tag in front and EOS behind; a target
 * is BOS + words as decoder input and words + EOS as labels. This module
 * owns the corpus and the batch buffers; it does not own the model config. */
#ifndef TRAIN_TRN_DATA_H
#define TRAIN_TRN_DATA_H

#include <stdint.h>

#include "common/mb_error.h"
#include "models/config.h"
#include "train/trn_model.h"

#define TRN_MAX_LANGS MODEL_MAX_LANGS
/* columns: the languages, then a direction's own targets (trn_corpus_add_column) */
#define TRN_MAX_COLS (MODEL_MAX_LANGS + MODEL_MAX_TASKS)

typedef struct trn_corpus {
    int n_langs, n_lines;
    int n_cols;                /* n_langs + own target columns */
    char langs[TRN_MAX_COLS][MODEL_NAME_LEN]; /* a language, or a direction ("en-de") for an own column */
    int *off[TRN_MAX_COLS];    /* [n_lines + 1] into ids */
    int *ids[TRN_MAX_COLS];    /* words only (no tag, BOS or EOS) */
} trn_corpus_t;

/* Reads `pattern` with "{lang}" replaced by each of langs[n] (e.g.
 * "../shared/data/multi30k/train.{lang}.gz"), at most max_lines lines (0:
 * all). vocab_path NULL: the files hold token ids (whitespace-separated,
 * each below `vocab`); else text tokenized by that vocabulary. Errors name
 * FILE:LINE. */
int trn_corpus_load(trn_corpus_t *c, const char *pattern, const char (*langs)[MODEL_NAME_LEN], int n,
                    const char *vocab_path, int vocab, int max_lines, mb_error_t *err);
void trn_corpus_free(trn_corpus_t *c);
/* Gives direction `direction` ("en-de") its own targets, line-aligned with
 * the corpus: the sampler then pairs the source language's line i with
 * line i of this column instead of the target language's line i (sequence-
 * level distillation: the teacher's translations of the sources; a direction
 * de-en and en-de each get their own). Takes ownership of off [n_lines + 1]
 * and ids (freed with the corpus, also on failure). */
int trn_corpus_add_column(trn_corpus_t *c, const char *direction, int *off, int *ids, mb_error_t *err);
/* Token ids of a tag and the vocabulary size, when the corpus came from a
 * vocabulary (text); -1 when it did not. */
int trn_vocab_tag(const char *vocab_path, const char *lang, int *tag, int *vocab_size, mb_error_t *err);

typedef struct trn_direction {
    int src, tgt;              /* column indices in the corpus: languages, or tgt the direction's own column */
    int tag;                   /* token id of <2tgt> */
    int key;                   /* task-key index in the model */
    long n;                    /* usable lines */
    double p;                  /* sampling probability */
} trn_direction_t;

/* How a direction's lines are drawn: in passes over a random order of its
 * usable lines (every line once before any repeats), or independently with
 * replacement (what checkpoints written before the choice existed used). */
enum { TRN_SAMPLE_SHUFFLE = 0, TRN_SAMPLE_REPLACE = 1 };

typedef struct trn_sampler {
    const trn_corpus_t *c;
    int n_dir;
    trn_direction_t dir[MODEL_MAX_TASKS];
    int *lines[MODEL_MAX_TASKS]; /* [dir.n] the usable lines of each direction (training) */
    uint64_t seed;
    int sampling;              /* TRN_SAMPLE_* */
    long drawn[MODEL_MAX_TASKS]; /* shuffle: lines taken from each direction by the chunks so far */
    int *pass_order[MODEL_MAX_TASKS]; /* shuffle: the order of pass pass_of[t] over lines[t] */
    long pass_of[MODEL_MAX_TASKS];
    int budget, max_len, chunk_batches;
    int valid;                 /* a fixed, unshuffled list (validation) */
    long chunk;                /* position: chunk and batch within it */
    int batch;
    /* the current chunk */
    int n_ex, cap_ex, n_batches;
    int *ex_dir, *ex_line, *batch_start, *order;
    /* the current batch */
    int cap_s, cap_t, cap_n;
    int *src_off, *src, *tgt_off, *tin, *tout, *key;
} trn_sampler_t;

/* Directions from the model's tasks (cfg->tasks, every language in the
 * corpus); tags from tag_of (NULL: the model's <2xx> ids); sampling with
 * temperature T over line counts, lines by `sampling` (TRN_SAMPLE_*).
 * budget: source + target tokens per batch; sentences longer than max_len
 * tokens are skipped. */
int trn_sampler_init(trn_sampler_t *s, const trn_corpus_t *c, const model_config_t *cfg, const int *tag_of_lang,
                     double temperature, int sampling, uint64_t seed, int budget, int max_len, mb_error_t *err);
/* A validation list instead: every direction over the first `lines` lines,
 * batched by length, in a fixed order; trn_sampler_next cycles through it
 * and *wrapped says when a pass is complete. */
int trn_sampler_init_valid(trn_sampler_t *s, const trn_corpus_t *c, const model_config_t *cfg,
                           const int *tag_of_lang, int lines, int budget, int max_len, mb_error_t *err);
void trn_sampler_free(trn_sampler_t *s);
/* The next batch (valid until the next call). */
int trn_sampler_next(trn_sampler_t *s, trn_batch_t *b, int *wrapped, mb_error_t *err);
/* Moves a training sampler to batch `batch` of chunk `chunk` (a checkpoint's
 * position). With TRN_SAMPLE_SHUFFLE it replays the draws of the chunks
 * before (how many lines each direction has given depends on them): about a
 * millisecond per chunk. */
int trn_sampler_seek(trn_sampler_t *s, long chunk, int batch, mb_error_t *err);
/* Batches in a validation pass. */
int trn_sampler_batches(const trn_sampler_t *s);

#endif
