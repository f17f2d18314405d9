/* workload: the requests of a scenario, per task: source token ids, the
 * output length to generate, and the reference text when the data has one.
 *
 * Data is synthetic (sentence lengths drawn from a log-normal fitted to the
 * English side of WMT newstest2013: log-mean 2.75, log-sd 0.64, i.e. median
 * 16 and mean 19 words; uniformly random word ids) or real line-aligned
 * files read in place (plain or gzip). For models without a vocabulary,
 * real sentences are split into words and punctuation and each word is
 * hashed to an id: lengths and repetitions are real, meanings are not. The
 * source text is kept, so a model with a vocabulary can encode it itself
 * (quality_run.c). */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <stdint.h>

#include "common/mb_error.h"
#include "harness/scenario.h"

typedef struct wl_task {
    char name[16];             /* "en-de" */
    int n;                     /* sentences */
    int **src;                 /* [n] token ids */
    int *src_len;              /* [n] */
    int *out_len;              /* [n] forced output length, 0 = the model decides */
    char **ref;                /* [n] reference text, or NULL (synthetic) */
    char **src_text;           /* [n] source text, or NULL (synthetic): encoded again by models
                                  that carry a vocabulary (quality_run.c) */
} wl_task_t;

typedef struct wl {
    int n_tasks;
    wl_task_t task[64];
    char source[SCN_TEXT];     /* what the data was, for messages */
} wl_t;

/* Builds the workload of s for a model of `vocab` ids whose ordinary words
 * start at `first_word`. Missing data files are an error that names the
 * file and how to point moebench at the data. */
int wl_build(const scn_t *s, int vocab, int first_word, wl_t *out, mb_error_t *err);
void wl_free(wl_t *w);
/* Resolves the file of `lang` for s->data (a set name or a path template). */
int wl_data_path(const scn_t *s, const char *lang, char *out, int len, mb_error_t *err);
/* Splits text into words and punctuation and hashes each to an id in
 * [first_word, vocab); returns the count (at most max). */
int wl_hash_tokens(const char *text, int vocab, int first_word, int *ids, int max);

/* Arrival times (seconds from 0) of n requests of a Poisson process at
 * `qps`: exponential gaps from the stream `stream` of `seed`. */
void wl_arrivals(uint64_t seed, const char *stream, double qps, int n, double *out);

#endif
