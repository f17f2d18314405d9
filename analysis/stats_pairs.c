/* stats_pairs: selection among pairwise differences (see stats_pairs.h). */
#include "analysis/stats_pairs.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"

/* Doubles as unsigned keys in the same order (finite values only). */
static uint64_t key_of(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u >> 63 ? ~u : u | (1ull << 63);
}

static double value_of(uint64_t k)
{
    uint64_t u = k >> 63 ? k & ~(1ull << 63) : ~k;
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* How many y[j] - x[i] are <= t. For a fixed j the difference falls as x[i]
 * grows (floating-point subtraction is monotone in each operand), and the
 * first i that qualifies only moves right as y[j] grows: one pass. */
static size_t count_le(const double *x, size_t n, const double *y, size_t m, double t)
{
    size_t count = 0, p = 0;
    for (size_t j = 0; j < m; j++) {
        while (p < n && y[j] - x[p] > t)
            p++;
        count += n - p;
    }
    return count;
}

double stats_pairs_kth(const double *x, size_t n, const double *y, size_t m, size_t k)
{
    /* the smallest t with count_le(t) > k is the k-th difference: the count
     * only steps up at values that are differences */
    uint64_t lo = key_of(y[0] - x[n - 1]), hi = key_of(y[m - 1] - x[0]);
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (count_le(x, n, y, m, value_of(mid)) > k)
            hi = mid;
        else
            lo = mid + 1;
    }
    return value_of(lo);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int stats_ratio_ci_pairs(const double *base, size_t n, const double *new_, size_t m, double confidence,
                         double *est, double *lo, double *hi)
{
    double *lx = malloc(n * sizeof *lx), *ly = malloc(m * sizeof *ly);
    if (!lx || !ly) {
        free(lx);
        free(ly);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        lx[i] = log(base[i]);
    for (size_t j = 0; j < m; j++)
        ly[j] = log(new_[j]);
    qsort(lx, n, sizeof *lx, cmp_double);
    qsort(ly, m, sizeof *ly, cmp_double);
    size_t nm = n * m;
    double med = nm % 2 ? stats_pairs_kth(lx, n, ly, m, nm / 2)
                        : 0.5 * (stats_pairs_kth(lx, n, ly, m, nm / 2 - 1) + stats_pairs_kth(lx, n, ly, m, nm / 2));
    *est = exp(med);
    double tail = (1.0 - confidence) / 2.0;
    double mu = (double)nm / 2.0;
    double sd = sqrt((double)nm * (double)(n + m + 1) / 12.0);
    double kf = floor(mu - 0.5 - stats_normal_quantile(1.0 - tail) * sd);
    int rc = 0;
    if (kf < 0) {
        *lo = 0.0;
        *hi = INFINITY;
        rc = 1;
    } else {
        size_t k = (size_t)kf;
        *lo = exp(stats_pairs_kth(lx, n, ly, m, k));
        *hi = exp(stats_pairs_kth(lx, n, ly, m, nm - 1 - k));
    }
    free(lx);
    free(ly);
    return rc;
}
