/* mb_stats: sorting, median, nearest-rank percentile (see mb_stats.h). */
#include "common/mb_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int mb_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void mb_sort(double *x, size_t n)
{
    if (n > 1)
        qsort(x, n, sizeof *x, mb_cmp_double);
}

double mb_median_sorted(const double *s, size_t n)
{
    if (n == 0)
        return NAN;
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

double mb_median(const double *x, size_t n)
{
    if (n == 0)
        return NAN;
    double *c = malloc(n * sizeof *c);
    if (!c)
        return NAN;
    memcpy(c, x, n * sizeof *c);
    mb_sort(c, n);
    double m = mb_median_sorted(c, n);
    free(c);
    return m;
}

double mb_percentile_sorted(const double *s, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double rank = ceil(p / 100.0 * (double)n);
    size_t i = rank < 1 ? 0 : rank > (double)n ? n - 1 : (size_t)rank - 1;
    return s[i];
}
