/* mb_stats: the order statistics every part of moebench shares: sorting
 * doubles, the median, and the nearest-rank percentile (the definition
 * MLPerf LoadGen reports latency with). Tests of distributions (Mann-Whitney,
 * Hodges-Lehmann) live in analysis/stats. */
#ifndef COMMON_MB_STATS_H
#define COMMON_MB_STATS_H
#include <stddef.h>

/* qsort comparator for doubles, ascending. */
int mb_cmp_double(const void *a, const void *b);
void mb_sort(double *x, size_t n);
/* NAN when n == 0; the mean of the middle two for even n. */
double mb_median_sorted(const double *s, size_t n);
/* The median of an unsorted array (copied; x is not changed). NAN when n == 0 or out of memory. */
double mb_median(const double *x, size_t n);
/* Nearest rank: the smallest value with at least p% of the values at or below it; NAN when n == 0. */
double mb_percentile_sorted(const double *s, size_t n, double p);
#endif
