/* stats: the statistics behind `moebench compare`: medians, the Mann-Whitney U
 * test (exact for small samples, normal approximation with tie correction for
 * larger ones), the smallest p-value a sample size can reach, and a confidence
 * interval for the ratio of two samples' typical values (Hodges-Lehmann on
 * log values, whose bounds come from the same U distribution as the test).
 *
 * Owns only arithmetic on arrays of doubles; knows nothing of CSV files,
 * metrics or verdicts (compare.c) and prints nothing. */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>

#include "common/mb_error.h"
#include "common/mb_stats.h"

/* Largest n*m for which the no-ties U distribution is computed exactly. */
#define STATS_MWU_EXACT_MAX_NM 2500
/* Largest C(n+m, n) for which a sample with ties is tested by enumerating
 * every split of the pooled midranks (n = m = 10 is 184756 splits). */
#define STATS_MWU_ENUM_MAX 200000.0


typedef enum stats_mwu_method {
    STATS_MWU_EXACT,      /* no ties: exact distribution of U */
    STATS_MWU_EXACT_TIES, /* ties, small: every split of the midranks enumerated */
    STATS_MWU_NORMAL      /* normal approximation, tie and continuity corrected */
} stats_mwu_method_t;

const char *stats_mwu_method_name(stats_mwu_method_t m); /* "exact", "exact-ties", "normal" */

typedef struct stats_mwu {
    double u_x;  /* pairs (x_i, y_j) with x_i > y_j, ties counted 1/2 (scipy's U1) */
    double u_y;  /* n*m - u_x */
    double z;    /* standardised u_x (tie + continuity corrected; 0 when no spread) */
    double p;    /* two-sided p-value */
    int ties;    /* some value occurs more than once in the pooled sample */
    stats_mwu_method_t method;
} stats_mwu_t;

/* Two-sided Mann-Whitney U test of x[n] against y[m]. Fails (-1, message) on
 * an empty sample, a NaN or infinite value, or out of memory. */
int stats_mann_whitney(const double *x, size_t n, const double *y, size_t m, stats_mwu_t *out,
                       mb_error_t *err);

/* Exact null distribution of U without ties: pmf[u] = P(U = u), u = 0..n*m
 * (pmf has n*m+1 slots). Fails when n or m is 0 or n*m > STATS_MWU_EXACT_MAX_NM. */
int stats_mwu_pmf(size_t n, size_t m, double *pmf, mb_error_t *err);

/* The smallest two-sided p-value that samples of n and m values can give:
 * 2 / C(n+m, n) (all of one sample above all of the other), at most 1. */
double stats_mwu_min_p(size_t n, size_t m);
/* Smallest k such that n = m = k repetitions can reach p <= alpha (e.g. 5 for
 * alpha 0.01, 4 for 0.05); 0 when alpha is not in (0, 1). */
size_t stats_mwu_reps_needed(double alpha);

/* Standard normal: upper tail P(Z > z), and the quantile q with P(Z <= q) = p. */
double stats_normal_sf(double z);
double stats_normal_quantile(double p);

/* Power of the two-sided U test at `level` between samples whose logarithms
 * spread with standard deviation sd (normal approximation, with the U test's
 * asymptotic efficiency 3/pi against the t-test on normal data):
 * stats_detectable_change gives the relative change that n and m values
 * detect with probability `power` (e.g. 0.25 for 25%); stats_reps_for_change
 * the values per sample (n = m) that detect `change` so. NAN / 0 when sd is
 * not a number >= 0 or n, m < 2. */
double stats_detectable_change(double sd, size_t n, size_t m, double level, double power);
size_t stats_reps_for_change(double sd, double change, double level, double power);
/* Pooled within-sample standard deviation of log(x) and log(y) (all values
 * > 0, n, m >= 2; else NAN): how much one repetition varies, as a ratio. */
double stats_log_spread(const double *x, size_t n, const double *y, size_t m);

/* Confidence interval, at level `confidence` (e.g. 0.99), for the ratio
 * new/base under a multiplicative shift: exp of the Hodges-Lehmann interval
 * for the shift of log values, i.e. order statistics of the n*m ratios
 * new_j/base_i, with ranks from the exact U distribution (normal beyond
 * STATS_MWU_EXACT_MAX_NM). *est is the Hodges-Lehmann estimate (median of the
 * n*m ratios). Returns 0 with *lo, *hi set; 1 when the samples are too small
 * for that confidence (then *lo = 0, *hi = INFINITY: no bound); -1 with a
 * message when a value is not positive and finite, a sample is empty, or out
 * of memory. */
int stats_ratio_ci(const double *base, size_t n, const double *new_, size_t m, double confidence,
                   double *est, double *lo, double *hi, mb_error_t *err);

#endif
