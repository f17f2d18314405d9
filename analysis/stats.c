/* stats: medians, Mann-Whitney U, and the Hodges-Lehmann ratio interval (see stats.h). */
#include "analysis/stats.h"
#include "common/mb_stats.h"
#include "analysis/stats_pairs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


const char *stats_mwu_method_name(stats_mwu_method_t m)
{
    switch (m) {
    case STATS_MWU_EXACT: return "exact";
    case STATS_MWU_EXACT_TIES: return "exact-ties";
    case STATS_MWU_NORMAL: return "normal";
    }
    return "?";
}

double stats_normal_sf(double z)
{
    return 0.5 * erfc(z / sqrt(2.0));
}

double stats_normal_quantile(double p)
{
    if (!(p > 0.0))
        return -INFINITY;
    if (!(p < 1.0))
        return INFINITY;
    /* Bisection on the CDF: slow in theory, 200 halvings of [-40, 40] are
     * far below double precision and this is called a few times per run. */
    double lo = -40.0, hi = 40.0;
    for (int i = 0; i < 200 && hi - lo > 1e-15; i++) {
        double mid = 0.5 * (lo + hi);
        if (1.0 - stats_normal_sf(mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Student's t quantile from the normal one (Cornish-Fisher, two terms; within
 * 1% of the table from 10 degrees of freedom at the tails used here) */
static double t_quantile(double p, double df)
{
    double z = stats_normal_quantile(p), z3 = z * z * z, z5 = z3 * z * z;
    return z + (z3 + z) / (4.0 * df) + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df);
}

/* t_{1 - level/2} + t_{power} with df degrees of freedom, scaled by the U
 * test's efficiency: the t quantiles, not the normal ones, because the
 * spread is estimated from the same few values (with z the formula promised
 * 0.90 where a simulation of 20 + 20 values at level 0.00125 gave 0.85) */
static double power_k(double level, double power, double df)
{
    return (t_quantile(1.0 - level / 2.0, df) + t_quantile(power, df)) * sqrt(M_PI / 3.0);
}

double stats_detectable_change(double sd, size_t n, size_t m, double level, double power)
{
    if (!(sd >= 0.0) || n < 2 || m < 2 || !(level > 0.0 && level < 1.0) || !(power > 0.0 && power < 1.0))
        return NAN;
    return expm1(power_k(level, power, (double)(n + m - 2)) * sd * sqrt(1.0 / (double)n + 1.0 / (double)m));
}

size_t stats_reps_for_change(double sd, double change, double level, double power)
{
    if (!(sd >= 0.0) || !(change > 0.0) || !(level > 0.0 && level < 1.0) || !(power > 0.0 && power < 1.0))
        return 0;
    const double d = log1p(change);
    double n = 2.0;
    for (int it = 0; it < 20; it++) { /* n's degrees of freedom 2n - 2 move the quantiles: iterate */
        double k = power_k(level, power, 2.0 * n - 2.0 > 1.0 ? 2.0 * n - 2.0 : 1.0);
        double next = ceil(2.0 * k * k * sd * sd / (d * d));
        next = next < 2.0 ? 2.0 : next > 1e9 ? 1e9 : next;
        if (next == n)
            break;
        n = next;
    }
    return (size_t)n;
}

static double log_ss(const double *x, size_t n)
{
    double mean = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += log(x[i]);
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (log(x[i]) - mean) * (log(x[i]) - mean);
    return ss;
}

double stats_log_spread(const double *x, size_t n, const double *y, size_t m)
{
    if (n < 2 || m < 2)
        return NAN;
    for (size_t i = 0; i < n; i++)
        if (!(x[i] > 0.0) || isinf(x[i]))
            return NAN;
    for (size_t i = 0; i < m; i++)
        if (!(y[i] > 0.0) || isinf(y[i]))
            return NAN;
    return sqrt((log_ss(x, n) + log_ss(y, m)) / (double)(n + m - 2));
}

/* The number of ways C(n+m, n), as a double (exact up to 2^53). */
static double choose(size_t n, size_t m)
{
    double c = 1.0;
    for (size_t i = 1; i <= n; i++)
        c = c * (double)(m + i) / (double)i;
    return c;
}

double stats_mwu_min_p(size_t n, size_t m)
{
    if (n == 0 || m == 0)
        return 1.0;
    double p = 2.0 / choose(n, m);
    return p < 1.0 ? p : 1.0;
}

size_t stats_mwu_reps_needed(double alpha)
{
    if (!(alpha > 0.0 && alpha < 1.0))
        return 0;
    size_t k = 1;
    while (stats_mwu_min_p(k, k) > alpha)
        k++; /* 2/C(2k, k) falls about 4x per step: a few dozen steps at most */
    return k;
}

int stats_mwu_pmf(size_t n, size_t m, double *pmf, mb_error_t *err)
{
    if (n == 0 || m == 0)
        return mb_fail(err, "Mann-Whitney: empty sample");
    if (n > STATS_MWU_EXACT_MAX_NM / m)
        return mb_fail(err, "Mann-Whitney: %zu x %zu is too large for the exact distribution", n, m);
    if (n > m) { /* the distribution depends only on {n, m}; fewer rows */
        size_t t = n;
        n = m;
        m = t;
    }
    size_t w = n * m + 1;
    /* f[i][u]: arrangements of i values of x and j values of y (j is the loop
     * below) with U = u. The largest of the i + j values is either an x (it
     * beats all j values of y: f(i-1, j, u-j)) or a y (f(i, j-1, u)). */
    double *f = calloc((n + 1) * w, sizeof *f);
    if (!f)
        return mb_fail(err, "Mann-Whitney: out of memory");
    for (size_t i = 0; i <= n; i++)
        f[i * w] = 1.0; /* j = 0 */
    for (size_t j = 1; j <= m; j++)
        for (size_t i = 1; i <= n; i++)
            for (size_t u = j; u <= i * j; u++)
                f[i * w + u] += f[(i - 1) * w + u - j];
    double total = 0.0;
    for (size_t u = 0; u < w; u++)
        total += f[n * w + u];
    for (size_t u = 0; u < w; u++)
        pmf[u] = f[n * w + u] / total;
    free(f);
    return 0;
}

/* Exact two-sided p with ties: every way of choosing k of the N pooled
 * midranks is equally likely under the null; count those whose U is at
 * least as far from n*m/2 as the observed one. */
static double p_enumerate(const double *rank, size_t N, size_t k, double mu, double dist_obs)
{
    size_t idx[64];
    double hits = 0.0, total = 0.0;
    for (size_t i = 0; i < k; i++)
        idx[i] = i;
    double base = (double)k * (double)(k + 1) / 2.0;
    for (;;) {
        double r = 0.0;
        for (size_t i = 0; i < k; i++)
            r += rank[idx[i]];
        total += 1.0;
        if (fabs(r - base - mu) >= dist_obs - 1e-9)
            hits += 1.0;
        size_t i = k;
        while (i > 0 && idx[i - 1] == N - k + i - 1)
            i--;
        if (i == 0)
            break;
        idx[i - 1]++;
        for (size_t j = i; j < k; j++)
            idx[j] = idx[j - 1] + 1;
    }
    return hits / total;
}

typedef struct tagged {
    double v;
    int from_x;
} tagged_t;

static int cmp_tagged(const void *a, const void *b)
{
    return mb_cmp_double(&((const tagged_t *)a)->v, &((const tagged_t *)b)->v);
}

int stats_mann_whitney(const double *x, size_t n, const double *y, size_t m, stats_mwu_t *out,
                       mb_error_t *err)
{
    if (n == 0 || m == 0)
        return mb_fail(err, "Mann-Whitney: empty sample (%zu and %zu values)", n, m);
    size_t N = n + m;
    tagged_t *t = malloc(N * sizeof *t);
    double *rank = malloc(N * sizeof *rank);
    if (!t || !rank) {
        free(t);
        free(rank);
        return mb_fail(err, "Mann-Whitney: out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < N; i++) {
        t[i].v = i < n ? x[i] : y[i - n];
        t[i].from_x = i < n;
        if (!isfinite(t[i].v)) {
            rc = mb_fail(err, "Mann-Whitney: value %g is not finite", t[i].v);
            goto done;
        }
    }
    qsort(t, N, sizeof *t, cmp_tagged);

    /* Midranks (1-based) and the tie term sum(t^3 - t) over groups of equal values. */
    double rx = 0.0, tie_term = 0.0;
    for (size_t i = 0; i < N;) {
        size_t j = i;
        while (j + 1 < N && t[j + 1].v == t[i].v)
            j++;
        double r = 0.5 * (double)(i + j + 2), g = (double)(j - i + 1);
        tie_term += g * g * g - g;
        for (size_t k = i; k <= j; k++) {
            rank[k] = r;
            if (t[k].from_x)
                rx += r;
        }
        i = j + 1;
    }
    double nm = (double)n * (double)m, mu = nm / 2.0;
    out->u_x = rx - (double)n * (double)(n + 1) / 2.0;
    out->u_y = nm - out->u_x;
    out->ties = tie_term > 0.0;

    double var = nm / 12.0 * ((double)(N + 1) - tie_term / ((double)N * (double)(N - 1)));
    double d = fabs(out->u_x - mu);
    if (var > 0.0) {
        double dc = d > 0.5 ? d - 0.5 : 0.0; /* continuity correction */
        out->z = (out->u_x >= mu ? dc : -dc) / sqrt(var);
    } else {
        out->z = 0.0;
    }

    if (!out->ties && n <= STATS_MWU_EXACT_MAX_NM / m) {
        double *pmf = malloc(((size_t)nm + 1) * sizeof *pmf);
        if (!pmf || stats_mwu_pmf(n, m, pmf, err)) {
            free(pmf);
            rc = pmf ? -1 : mb_fail(err, "Mann-Whitney: out of memory");
            goto done;
        }
        double umin = out->u_x < out->u_y ? out->u_x : out->u_y, tail = 0.0;
        for (size_t u = 0; (double)u <= umin + 1e-9; u++)
            tail += pmf[u];
        free(pmf);
        out->p = 2.0 * tail;
        out->method = STATS_MWU_EXACT;
    } else if (out->ties && (n < m ? n : m) <= 64 && choose(n, m) <= STATS_MWU_ENUM_MAX) {
        /* Enumerate subsets of the smaller sample's size: |U - mu| is the
         * same for either sample. */
        size_t k = n < m ? n : m;
        out->p = var > 0.0 ? p_enumerate(rank, N, k, mu, d) : 1.0;
        out->method = STATS_MWU_EXACT_TIES;
    } else {
        out->p = var > 0.0 ? 2.0 * stats_normal_sf(fabs(out->z)) : 1.0;
        out->method = STATS_MWU_NORMAL;
    }
    if (out->p > 1.0)
        out->p = 1.0;
done:
    free(t);
    free(rank);
    return rc;
}

int stats_ratio_ci(const double *base, size_t n, const double *new_, size_t m, double confidence,
                   double *est, double *lo, double *hi, mb_error_t *err)
{
    if (n == 0 || m == 0)
        return mb_fail(err, "ratio interval: empty sample (%zu and %zu values)", n, m);
    if (!(confidence > 0.0 && confidence < 1.0))
        return mb_fail(err, "ratio interval: confidence %g is not in (0, 1)", confidence);
    for (size_t i = 0; i < n + m; i++) {
        double v = i < n ? base[i] : new_[i - n];
        if (!(v > 0.0 && isfinite(v)))
            return mb_fail(err, "ratio interval: value %g is not positive and finite", v);
    }
    if (n > ((size_t)1 << 24) / m) { /* too many ratios to sort: select them */
        int rc = stats_ratio_ci_pairs(base, n, new_, m, confidence, est, lo, hi);
        return rc < 0 ? mb_fail(err, "ratio interval: out of memory for %zu and %zu values", n, m) : rc;
    }
    size_t nm = n * m;
    double *d = malloc(nm * sizeof *d);
    if (!d)
        return mb_fail(err, "ratio interval: out of memory");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++)
            d[i * m + j] = log(new_[j]) - log(base[i]);
    mb_sort(d, nm);
    *est = exp(mb_median_sorted(d, nm));

    /* k: the largest count with P(U <= k) <= (1 - confidence) / 2; the
     * interval is [d_(k+1), d_(nm-k)] (1-based order statistics). */
    double tail = (1.0 - confidence) / 2.0;
    long k = -1;
    if (nm <= STATS_MWU_EXACT_MAX_NM) {
        double *pmf = malloc((nm + 1) * sizeof *pmf);
        if (!pmf || stats_mwu_pmf(n, m, pmf, err)) {
            int had = pmf != NULL;
            free(pmf);
            free(d);
            return had ? -1 : mb_fail(err, "ratio interval: out of memory");
        }
        double cdf = 0.0;
        for (size_t u = 0; u <= nm / 2; u++) {
            cdf += pmf[u];
            if (cdf > tail * (1.0 + 1e-12))
                break;
            k = (long)u;
        }
        free(pmf);
    } else {
        double mu = (double)nm / 2.0;
        double sd = sqrt((double)nm * (double)(n + m + 1) / 12.0);
        k = (long)floor(mu - 0.5 - stats_normal_quantile(1.0 - tail) * sd);
    }
    int rc = 0;
    if (k < 0) {
        *lo = 0.0;
        *hi = INFINITY;
        rc = 1;
    } else {
        *lo = exp(d[k]);
        *hi = exp(d[nm - 1 - (size_t)k]);
    }
    free(d);
    return rc;
}
