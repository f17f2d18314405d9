/* bleu: corpus and sentence BLEU and chrF exactly as sacreBLEU 2.6.0 computes
 * them, with its signature strings and its human-readable score lines.
 *
 * Owns n-gram statistics (hash-table counting, clipping, closest reference
 * length), smoothing, effective order, brevity penalty, chrF's F-beta with
 * its best-reference choice, and formatting. Text handling (UTF-8, lower-casing,
 * tokenizers) is bleu_tok.h; reading files and printing is cmd_bleu.c.
 *
 * References come as streams, as in sacreBLEU's API: refs[r][i] is reference
 * r of line i. A NULL entry means "no such reference for this line" (the
 * signature then says nrefs:var); an empty string is an empty reference. */
#ifndef BLEU_H
#define BLEU_H

#include <stddef.h>
#include <stdint.h>

#include "common/mb_error.h"
#include "quality/bleu_tok.h"

/* The sacreBLEU release whose behaviour (and signature) is matched. */
#define BLEU_SACREBLEU_VERSION "2.6.0"
/* Largest n-gram order accepted (BLEU max order, chrF char + word orders). */
#define BLEU_MAX_ORDER 16

typedef enum bleu_smooth {
    BLEU_SMOOTH_EXP,   /* sacreBLEU's default (NIST / mteval-v13a) */
    BLEU_SMOOTH_FLOOR, /* zero counts become smooth_value */
    BLEU_SMOOTH_ADD_K, /* add smooth_value to counts and totals of orders >= 2 */
    BLEU_SMOOTH_NONE,
} bleu_smooth_t;

typedef struct bleu_opts {
    bleu_tok_t tokenize;    /* BLEU_TOK_13A */
    int lowercase;          /* 0; 1 = case-insensitive ("case:lc") */
    bleu_smooth_t smooth;   /* BLEU_SMOOTH_EXP */
    double smooth_value;    /* for floor and add-k; < 0 means sacreBLEU's default (0.1 / 1) */
    int max_order;          /* 4; 1..BLEU_MAX_ORDER */
    int effective_order;    /* 0; 1 drops orders with no n-grams (sentence BLEU) */
} bleu_opts_t;

/* BLEU's sufficient statistics; for a corpus, the sum over its lines. */
typedef struct bleu_stats {
    int64_t hyp_len, ref_len;             /* tokens; ref_len = closest reference */
    int64_t correct[BLEU_MAX_ORDER];      /* clipped matches per order */
    int64_t total[BLEU_MAX_ORDER];        /* hypothesis n-grams per order */
} bleu_stats_t;

typedef struct bleu_result {
    double score;                         /* 0..100 */
    double precisions[BLEU_MAX_ORDER];    /* percent, max_order entries, after smoothing */
    double bp, ratio;                     /* brevity penalty; hyp_len / ref_len */
    bleu_stats_t stats;
    int max_order;
    int nrefs;                            /* references per line; -1 when it varies */
    char signature[160];                  /* nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 */
} bleu_result_t;

void bleu_opts_init(bleu_opts_t *o);
/* "exp", "none", "floor", "floor:V", "add-k", "add-k:V" into o->smooth/smooth_value. */
int bleu_smooth_parse(const char *text, bleu_opts_t *o, mb_error_t *err);

/* Corpus BLEU of n_lines hypotheses against n_refs reference streams. */
int bleu_corpus(const char *const *hyps, const char *const *const *refs, int n_refs, int n_lines,
                const bleu_opts_t *opts, bleu_result_t *out, mb_error_t *err);
/* BLEU of one sentence against its references (sacreBLEU's sentence_score:
 * set opts->effective_order for the usual sentence BLEU). */
int bleu_sentence(const char *hyp, const char *const *refs, int n_refs, const bleu_opts_t *opts,
                  bleu_result_t *out, mb_error_t *err);
/* The statistics alone: per_line (n_lines entries, may be NULL), their sum
 * and the nrefs value of the signature. For callers that score subsets or
 * every line without tokenizing twice. */
int bleu_corpus_stats(const char *const *hyps, const char *const *const *refs, int n_refs,
                      int n_lines, const bleu_opts_t *opts, bleu_stats_t *per_line,
                      bleu_stats_t *sum, int *nrefs, mb_error_t *err);
/* sacreBLEU's compute_bleu: the score of (summed) statistics. */
int bleu_score_stats(const bleu_stats_t *st, int nrefs, const bleu_opts_t *opts, bleu_result_t *out,
                     mb_error_t *err);
/* "BLEU[|signature] = 45.07 70.6/42.9/36.4/37.5 (BP = 1.000 ratio = 1.000
 * hyp_len = 17 ref_len = 17)" with the score to `width` decimals (sacreBLEU's
 * API prints 2). Returns the length snprintf would write. */
int bleu_format(const bleu_result_t *r, int width, int with_signature, char *buf, size_t len);

/* ---- chrF ---- */

typedef struct bleu_chrf_opts {
    int char_order;     /* 6 */
    int word_order;     /* 0 (2 = chrF++) */
    int beta;           /* 2 */
    int lowercase;      /* 0 */
    int whitespace;     /* 0: white space is removed before character n-grams */
    int eps_smoothing;  /* 0: sacreBLEU 2.x default, average over orders that have n-grams */
} bleu_chrf_opts_t;

/* Per order (character orders first, then word orders): hypothesis n-grams,
 * reference n-grams, matches. Summed over the corpus like BLEU's. */
typedef struct bleu_chrf_stats {
    int64_t hyp[BLEU_MAX_ORDER], ref[BLEU_MAX_ORDER], match[BLEU_MAX_ORDER];
} bleu_chrf_stats_t;

typedef struct bleu_chrf_result {
    double score;       /* 0..100 */
    char name[32];      /* "chrF2", "chrF2++" */
    bleu_chrf_stats_t stats;
    int nrefs;
    char signature[160]; /* nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0 */
} bleu_chrf_result_t;

void bleu_chrf_opts_init(bleu_chrf_opts_t *o);
int bleu_chrf_corpus(const char *const *hyps, const char *const *const *refs, int n_refs,
                     int n_lines, const bleu_chrf_opts_t *opts, bleu_chrf_result_t *out,
                     mb_error_t *err);
int bleu_chrf_sentence(const char *hyp, const char *const *refs, int n_refs,
                       const bleu_chrf_opts_t *opts, bleu_chrf_result_t *out, mb_error_t *err);
/* Per line, each line's statistics are those of its best reference (highest F). */
int bleu_chrf_corpus_stats(const char *const *hyps, const char *const *const *refs, int n_refs,
                           int n_lines, const bleu_chrf_opts_t *opts, bleu_chrf_stats_t *per_line,
                           bleu_chrf_stats_t *sum, int *nrefs, mb_error_t *err);
int bleu_chrf_score_stats(const bleu_chrf_stats_t *st, int nrefs, const bleu_chrf_opts_t *opts,
                          bleu_chrf_result_t *out, mb_error_t *err);
/* "chrF2[|signature] = 59.73". Returns the length snprintf would write. */
int bleu_chrf_format(const bleu_chrf_result_t *r, int width, int with_signature, char *buf,
                     size_t len);

#endif
