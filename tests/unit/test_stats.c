/* Tests of stats.c against values worked out by hand (each case says how).
 * Tolerances: exact p-values are ratios of small integers computed in
 * doubles, so 1e-12; the normal approximation is checked against the same
 * formula evaluated by hand (to 6 significant digits, so 1e-6 relative). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "analysis/stats.h"
#include "common/mb_rng.h"

/* cmocka 1.1.5's assert_float_equal compares floats; these are doubles. */
#define assert_close(got, want, tol)                                                            \
    do {                                                                                        \
        double g_ = (got), w_ = (want);                                                         \
        if (!(fabs(g_ - w_) <= (tol)))                                                          \
            fail_msg("%s = %.17g, want %.17g (tolerance %g)", #got, g_, w_, (double)(tol));    \
    } while (0)

static void test_median(void **state)
{
    (void)state;
    double odd[] = {3, 1, 2}, even[] = {4, 1, 3, 2};
    assert_close(mb_median(odd, 3), 2.0, 0.0);
    assert_close(mb_median(even, 4), 2.5, 0.0);
    assert_close(odd[0], 3.0, 0.0); /* not reordered */
    assert_true(isnan(mb_median(odd, 0)));
}

/* n = m = 3: the number of arrangements with U = u is the number of
 * partitions of u into at most 3 parts of at most 3, C(6, 3) = 20 in all:
 * u = 0..9 -> 1 1 2 3 3 3 3 2 1 1. */
static void test_pmf_3_3(void **state)
{
    (void)state;
    static const double count[10] = {1, 1, 2, 3, 3, 3, 3, 2, 1, 1};
    double pmf[10];
    assert_int_equal(stats_mwu_pmf(3, 3, pmf, NULL), 0);
    for (int u = 0; u < 10; u++)
        assert_close(pmf[u], count[u] / 20.0, 1e-12);
}

/* Any (n, m): sums to 1, symmetric about n*m/2, same for (m, n), and the
 * extremes are 1 / C(n+m, n) (n = 7, m = 4: C(11, 4) = 330). */
static void test_pmf_properties(void **state)
{
    (void)state;
    double a[29], b[29], sum = 0.0;
    assert_int_equal(stats_mwu_pmf(7, 4, a, NULL), 0);
    assert_int_equal(stats_mwu_pmf(4, 7, b, NULL), 0);
    for (int u = 0; u <= 28; u++) {
        sum += a[u];
        assert_close(a[u], a[28 - u], 1e-12);
        assert_close(a[u], b[u], 1e-12);
    }
    assert_close(sum, 1.0, 1e-12);
    assert_close(a[0], 1.0 / 330.0, 1e-12);
    mb_error_t err;
    double big[2];
    assert_int_equal(stats_mwu_pmf(51, 50, big, &err), -1); /* 2550 > STATS_MWU_EXACT_MAX_NM */
}

/* x all below y: U_x = 0, U_y = 9; exact two-sided p = 2 * P(U <= 0) = 2/20. */
static void test_mwu_separated(void **state)
{
    (void)state;
    double x[] = {1, 2, 3}, y[] = {4, 5, 6};
    stats_mwu_t r;
    assert_int_equal(stats_mann_whitney(x, 3, y, 3, &r, NULL), 0);
    assert_close(r.u_x, 0.0, 0.0);
    assert_close(r.u_y, 9.0, 0.0);
    assert_int_equal(r.method, STATS_MWU_EXACT);
    assert_false(r.ties);
    assert_close(r.p, 0.1, 1e-12);
    /* swapping the samples swaps U and keeps p */
    assert_int_equal(stats_mann_whitney(y, 3, x, 3, &r, NULL), 0);
    assert_close(r.u_x, 9.0, 0.0);
    assert_close(r.p, 0.1, 1e-12);
}

/* x = {1, 2, 4}, y = {3, 5, 6}: only 4 > 3, so U_x = 1;
 * p = 2 * P(U <= 1) = 2 * (1 + 1) / 20 = 0.2. */
static void test_mwu_overlap(void **state)
{
    (void)state;
    double x[] = {4, 1, 2}, y[] = {6, 3, 5};
    stats_mwu_t r;
    assert_int_equal(stats_mann_whitney(x, 3, y, 3, &r, NULL), 0);
    assert_close(r.u_x, 1.0, 0.0);
    assert_close(r.p, 0.2, 1e-12);
    /* x = {1.1, 3.3, 5.5, 7.7}, y = {2.2, 4.4, 6.6}: U_x = 0+1+2+3 = 6 = n*m/2: p = 1 */
    double a[] = {1.1, 3.3, 5.5, 7.7}, b[] = {2.2, 4.4, 6.6};
    assert_int_equal(stats_mann_whitney(a, 4, b, 3, &r, NULL), 0);
    assert_close(r.u_x, 6.0, 0.0);
    assert_close(r.p, 1.0, 1e-12);
}

/* Ties, small: x = {1, 2, 2}, y = {2, 3, 4}. Pooled midranks 1, 3, 3, 3, 5, 6;
 * R_x = 1 + 3 + 3 = 7, U_x = 7 - 6 = 1 (each 2 of x ties the 2 of y: 1/2 each).
 * Of the 20 equally likely choices of 3 ranks, those with |R - 10.5| >= 3.5
 * are {1,3,3} (3 ways, R = 7) and {3,5,6} (3 ways, R = 14): p = 6/20. */
static void test_mwu_ties_exact(void **state)
{
    (void)state;
    double x[] = {1, 2, 2}, y[] = {2, 3, 4};
    stats_mwu_t r;
    assert_int_equal(stats_mann_whitney(x, 3, y, 3, &r, NULL), 0);
    assert_true(r.ties);
    assert_int_equal(r.method, STATS_MWU_EXACT_TIES);
    assert_close(r.u_x, 1.0, 0.0);
    assert_close(r.p, 0.3, 1e-12);
    /* all values equal: no evidence at all */
    double c[] = {5, 5, 5}, d[] = {5, 5};
    assert_int_equal(stats_mann_whitney(c, 3, d, 2, &r, NULL), 0);
    assert_close(r.p, 1.0, 0.0);
}

/* Ties, larger (C(24, 12) = 2704156 splits: normal approximation).
 * x = {1,1,2,2,3,3,4,4,5,5,6,6}, y = {4,4,5,5,6,6,7,7,8,8,9,9}. Midranks:
 * 1 -> 1.5, 2 -> 3.5, 3 -> 5.5, 4 -> 8.5, 5 -> 12.5, 6 -> 16.5 (7..9 only in y);
 * R_x = 2 * 48 = 96, U_x = 96 - 78 = 18, mu = 72. Tie term: six pairs
 * (6 each) + three quadruples (60 each) = 216; var = 144/12 * (25 - 216/552)
 * = 295.304348; z = -(54 - 0.5)/sqrt(var) = -3.113285; p = erfc(|z|/sqrt 2)
 * = 0.00185017. */
static void test_mwu_ties_normal(void **state)
{
    (void)state;
    double x[] = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6};
    double y[] = {4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9};
    stats_mwu_t r;
    assert_int_equal(stats_mann_whitney(x, 12, y, 12, &r, NULL), 0);
    assert_int_equal(r.method, STATS_MWU_NORMAL);
    assert_close(r.u_x, 18.0, 0.0);
    assert_close(r.z, -3.113285, 1e-6);
    assert_close(r.p, 0.00185017, 0.00185017 * 1e-5);
}

/* No ties but n*m = 3600 > 2500: normal. x = 1..60, y = 30.5..89.5: x_i beats
 * y_j when j <= i - 30, so U_x = 1 + ... + 30 = 465; mu = 1800,
 * var = 3600 * 121 / 12 = 36300, z = -1334.5 / 190.526 = -7.004308,
 * p = 2.48209e-12. */
static void test_mwu_large_normal(void **state)
{
    (void)state;
    double x[60], y[60];
    for (int i = 0; i < 60; i++) {
        x[i] = i + 1;
        y[i] = i + 30.5;
    }
    stats_mwu_t r;
    assert_int_equal(stats_mann_whitney(x, 60, y, 60, &r, NULL), 0);
    assert_int_equal(r.method, STATS_MWU_NORMAL);
    assert_close(r.u_x, 465.0, 0.0);
    assert_close(r.z, -7.004308, 1e-6);
    assert_close(r.p, 2.48209e-12, 2.48209e-12 * 1e-5);
}

static void test_mwu_bad_input(void **state)
{
    (void)state;
    double x[] = {1, NAN}, y[] = {2};
    stats_mwu_t r;
    mb_error_t err;
    assert_int_equal(stats_mann_whitney(x, 2, y, 1, &r, &err), -1);
    assert_int_equal(stats_mann_whitney(x, 0, y, 1, &r, &err), -1);
}

/* 2 / C(n+m, n): C(10, 5) = 252, C(8, 4) = 70, C(6, 3) = 20, C(4, 2) = 6. */
static void test_min_p(void **state)
{
    (void)state;
    assert_close(stats_mwu_min_p(5, 5), 2.0 / 252.0, 1e-15);
    assert_close(stats_mwu_min_p(4, 4), 2.0 / 70.0, 1e-15);
    assert_close(stats_mwu_min_p(2, 2), 2.0 / 6.0, 1e-15);
    assert_close(stats_mwu_min_p(1, 1), 1.0, 0.0);
    assert_close(stats_mwu_min_p(0, 7), 1.0, 0.0);
    assert_int_equal(stats_mwu_reps_needed(0.01), 5);  /* 0.0079 <= 0.01 < 0.0286 */
    assert_int_equal(stats_mwu_reps_needed(0.05), 4);  /* 0.0286 <= 0.05 < 0.1 */
    assert_int_equal(stats_mwu_reps_needed(0.001), 7); /* 2/3432 = 0.00058; 2/924 = 0.0022 */
    assert_int_equal(stats_mwu_reps_needed(0.0), 0);
}

static void test_normal(void **state)
{
    (void)state;
    assert_close(stats_normal_sf(0.0), 0.5, 1e-15);
    assert_close(stats_normal_quantile(0.975), 1.959963985, 1e-8);
    assert_close(stats_normal_quantile(0.005), -2.575829304, 1e-8);
}

/* base = {100, 102, 98, 101, 99}, new = {90, 91, 89, 92, 88}: the 25 ratios
 * new_j / base_i. n = m = 5: P(U <= 0) = 1/252 = 0.0040, P(U <= 1) = 2/252
 * = 0.0079, P(U <= 2) = 4/252 = 0.0159, P(U <= 3) = 7/252 = 0.0278.
 * 99%: tail 0.005 -> k = 0 -> [smallest, largest] = [88/102, 92/98].
 * 95%: tail 0.025 -> k = 2 -> 3rd smallest 89/102, 3rd largest 91/98.
 * Hodges-Lehmann estimate: the 13th of the 25 ratios, 0.9 (= 90/100). */
static void test_ratio_ci(void **state)
{
    (void)state;
    double base[] = {100, 102, 98, 101, 99}, new_[] = {90, 91, 89, 92, 88};
    double est, lo, hi;
    assert_int_equal(stats_ratio_ci(base, 5, new_, 5, 0.99, &est, &lo, &hi, NULL), 0);
    assert_close(est, 0.9, 1e-12);
    assert_close(lo, 88.0 / 102.0, 1e-12);
    assert_close(hi, 92.0 / 98.0, 1e-12);
    assert_int_equal(stats_ratio_ci(base, 5, new_, 5, 0.95, &est, &lo, &hi, NULL), 0);
    assert_close(lo, 89.0 / 102.0, 1e-12);
    assert_close(hi, 91.0 / 98.0, 1e-12);
    /* ratio of medians on the same data: 90 / 100 */
    assert_close(mb_median(new_, 5) / mb_median(base, 5), 0.9, 1e-15);
}

static void test_ratio_ci_limits(void **state)
{
    (void)state;
    double base[] = {10, 11}, new_[] = {20, 21};
    double est, lo, hi;
    mb_error_t err;
    /* n = m = 2: P(U <= 0) = 1/6 > 0.005: no 99% bound exists */
    assert_int_equal(stats_ratio_ci(base, 2, new_, 2, 0.99, &est, &lo, &hi, NULL), 1);
    assert_close(lo, 0.0, 0.0);
    assert_true(isinf(hi));
    double zero[] = {0, 1};
    assert_int_equal(stats_ratio_ci(zero, 2, new_, 2, 0.9, &est, &lo, &hi, &err), -1);
    /* large samples (normal critical value): the interval brackets a pure
     * 10% scaling and is narrow: x_i = 100 + i, y_i = 1.1 x_i, 60 each */
    double x[60], y[60];
    for (int i = 0; i < 60; i++) {
        x[i] = 100 + i;
        y[i] = 1.1 * x[i];
    }
    assert_int_equal(stats_ratio_ci(x, 60, y, 60, 0.99, &est, &lo, &hi, NULL), 0);
    assert_true(lo < 1.1 && 1.1 < hi);
    assert_close(est, 1.1, 1e-9);
    assert_true(hi / lo < 1.25);
}

/* The power formula against a simulation that shares nothing with it but
 * the U test: lognormal repetitions with the given spread, the new sample
 * slower by the change the formula says is detected 9 times in 10 (or 5 in
 * 10) at Holm's first level for 8 tests; the share of trials the U test
 * rejects must be near that (1,000 trials: binomial sd 0.01-0.016, plus the
 * normal approximation's error at n = 20; bound 0.05). */
static void test_detectable_power(void **state)
{
    (void)state;
    const double sd = 0.12, level = 0.01 / 8;
    const double powers[2] = {0.9, 0.5};
    for (int k = 0; k < 2; k++) {
        double change = stats_detectable_change(sd, 20, 20, level, powers[k]);
        assert_true(change > 0.05 && change < 0.5);
        size_t n = stats_reps_for_change(sd, change, level, powers[k]);
        assert_true(n >= 19 && n <= 21); /* the inverse of the same formula */
        mb_rng_t r;
        mb_rng_seed(&r, 77 + (uint64_t)k);
        int hits = 0;
        for (int t = 0; t < 1000; t++) {
            double x[20], y[20];
            for (int i = 0; i < 20; i++) {
                x[i] = exp(sd * mb_rng_normal(&r));
                y[i] = exp(log1p(change) + sd * mb_rng_normal(&r));
            }
            stats_mwu_t u;
            assert_int_equal(stats_mann_whitney(x, 20, y, 20, &u, NULL), 0);
            hits += u.p <= level;
        }
        print_message("# power %.1f: change %.1f%%, detected in %d of 1000\n", powers[k], 100 * change, hits);
        assert_true(fabs(hits / 1000.0 - powers[k]) <= 0.05);
    }
    /* smaller noise or more values detect less; bad input gives NAN / 0 */
    assert_true(stats_detectable_change(0.06, 20, 20, level, 0.9) < stats_detectable_change(sd, 20, 20, level, 0.9));
    assert_true(stats_detectable_change(sd, 80, 80, level, 0.9) < stats_detectable_change(sd, 20, 20, level, 0.9));
    assert_true(isnan(stats_detectable_change(NAN, 20, 20, level, 0.9)));
    assert_true(isnan(stats_detectable_change(sd, 1, 20, level, 0.9)));
    assert_int_equal(stats_reps_for_change(sd, 0.0, level, 0.9), 0);
}

static void test_log_spread(void **state)
{
    (void)state;
    const double e = exp(1.0);
    double x[2] = {1.0, e}, y[3] = {e, e * e, e * e * e};
    /* logs {0, 1} and {1, 2, 3}: squares about the means 0.5 and 2, over 2 + 3 - 2 */
    assert_close(stats_log_spread(x, 2, y, 3), sqrt(2.5 / 3.0), 1e-12);
    double bad[2] = {1.0, 0.0};
    assert_true(isnan(stats_log_spread(x, 2, bad, 2)));
    assert_true(isnan(stats_log_spread(x, 1, y, 3)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median),
        cmocka_unit_test(test_pmf_3_3),
        cmocka_unit_test(test_pmf_properties),
        cmocka_unit_test(test_mwu_separated),
        cmocka_unit_test(test_mwu_overlap),
        cmocka_unit_test(test_mwu_ties_exact),
        cmocka_unit_test(test_mwu_ties_normal),
        cmocka_unit_test(test_mwu_large_normal),
        cmocka_unit_test(test_mwu_bad_input),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_ratio_ci),
        cmocka_unit_test(test_ratio_ci_limits),
        cmocka_unit_test(test_detectable_power),
        cmocka_unit_test(test_log_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
