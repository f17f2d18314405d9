/* bleu_boot: paired bootstrap resampling of corpus BLEU and chrF, as
 * sacreBLEU's `--paired-bs` defines it (sacrebleu/significance.py,
 * _paired_bs_test, estimate_ci and _compute_p_value, sacreBLEU 2.x).
 *
 * Owns the resampling over per-line sufficient statistics (bleu.h's
 * bleu_stats_t and bleu_chrf_stats_t: a resample sums the statistics of the
 * drawn lines and scores the sum; no text is tokenized again), the interval
 * and the p-value. Reading files, names and printing are cli/cmd_bleu_boot.c.
 *
 * The numbers, for S systems scored on the same n lines (system 0 is the
 * baseline), R resamples:
 *  - each resample draws n line indices uniformly with replacement; the same
 *    indices serve every system and metric (that is what makes it paired);
 *  - score: corpus score of all lines (what `moebench bleu` prints);
 *  - mean, ci: sacreBLEU's "mu" and "± 95% CI": the mean of the R resampled
 *    scores and half the distance between the sorted scores at 0-based
 *    positions R/40 and R - R/40 - 1 (the 2.5th and 97.5th percentiles);
 *  - delta_lo, delta_hi: (ours; sacreBLEU prints no interval of the
 *    difference) the same two positions of the sorted paired differences
 *    system - baseline over the resamples;
 *  - p: sacreBLEU's p-value of the two-sided test: with D = |score - baseline
 *    score| and d_r = |s_r - b_r| per resample, c = #{r : d_r - mean(d) > D}
 *    and p = (c + 1) / (R + 1). One departure: when the system's per-line
 *    statistics equal the baseline's on every line (the same translations,
 *    as an extracted sub-network's must be), p = 1 and `identical` is set;
 *    sacreBLEU's formula gives 1 / (R + 1) there, which would call a system
 *    significantly different from itself.
 * A system is significant at p < 0.05, as sacreBLEU marks it with '*'.
 *
 * The random numbers are mb_rng's (splitmix64) from the seed, not numpy's,
 * so the resamples differ from sacreBLEU's and the mean, intervals and p
 * agree with it only up to bootstrap noise; the full-sample scores agree
 * exactly. */
#ifndef BLEU_BOOT_H
#define BLEU_BOOT_H

#include <stdint.h>

#include "common/mb_error.h"
#include "common/mb_rng.h"
#include "quality/bleu.h"

/* sacreBLEU's defaults: 1,000 resamples, seed 12345 (its SACREBLEU_SEED). */
#define BLEU_BOOT_RESAMPLES 1000
#define BLEU_BOOT_SEED 12345
#define BLEU_BOOT_MAX_RESAMPLES 1000000
#define BLEU_BOOT_MAX_SYSTEMS 64

/* One system's result for one metric. */
typedef struct bleu_boot_sys {
    double score;              /* full-sample corpus score */
    double mean, ci;           /* sacreBLEU's mean and ± 95% CI of the resampled scores */
    double delta;              /* score - the baseline's score (0 for the baseline) */
    double delta_lo, delta_hi; /* 95% interval of the paired difference; NAN for the baseline */
    double p;                  /* p-value against the baseline; NAN for the baseline */
    int identical;             /* the same statistics as the baseline on every line (not for the baseline) */
} bleu_boot_sys_t;

/* n draws uniform on [0, n) (unbiased), the next resample of rng. */
void bleu_boot_draw(mb_rng_t *rng, int n, int *idx);

/* Corpus score of the lines idx[0..n) (idx NULL: lines 0..n-1), from the
 * per-line statistics: the resample's score, or with idx NULL the score
 * `moebench bleu` prints. */
int bleu_boot_bleu_score(const bleu_stats_t *per_line, const int *idx, int n, int nrefs, const bleu_opts_t *o,
                         double *score, mb_error_t *err);
int bleu_boot_chrf_score(const bleu_chrf_stats_t *per_line, const int *idx, int n, int nrefs,
                         const bleu_chrf_opts_t *o, double *score, mb_error_t *err);

/* The paired test over n_sys systems (per_line[s]: n_lines statistics each;
 * system 0 the baseline): fills out[0..n_sys). Deterministic from seed. */
int bleu_boot_paired_bleu(const bleu_stats_t *const *per_line, int n_sys, int n_lines, int nrefs,
                          const bleu_opts_t *o, int resamples, uint64_t seed, bleu_boot_sys_t *out,
                          mb_error_t *err);
int bleu_boot_paired_chrf(const bleu_chrf_stats_t *const *per_line, int n_sys, int n_lines, int nrefs,
                          const bleu_chrf_opts_t *o, int resamples, uint64_t seed, bleu_boot_sys_t *out,
                          mb_error_t *err);

#endif
