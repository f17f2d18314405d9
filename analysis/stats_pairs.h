/* stats_pairs: order statistics of the n*m pairwise differences y_j - x_i of
 * two samples without forming them, so that the Hodges-Lehmann ratio interval
 * of stats_ratio_ci works for samples of any size in O((n + m) log) time and
 * O(n + m) memory (forming them took n*m doubles: 8 TB for 1e6 rows a side).
 * Owns only the selection; stats.c owns what the order statistics mean. */
#ifndef STATS_PAIRS_H
#define STATS_PAIRS_H

#include <stddef.h>

/* The k-th smallest (0-based, k < n*m) of {y[j] - x[i]} for x[n] and y[m]
 * sorted ascending and finite: exactly the value that sorting all the
 * differences (each computed as y[j] - x[i]) would put at index k. */
double stats_pairs_kth(const double *x, size_t n, const double *y, size_t m, size_t k);

/* stats_ratio_ci for large samples (n*m beyond what is worth sorting): the
 * same result, from the log values selected with stats_pairs_kth and the
 * normal approximation of the U distribution. Same return values. */
int stats_ratio_ci_pairs(const double *base, size_t n, const double *new_, size_t m, double confidence,
                         double *est, double *lo, double *hi);

#endif
