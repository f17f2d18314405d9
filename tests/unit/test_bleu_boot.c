/* Paired bootstrap resampling (quality/bleu_boot.h) against an independent
 * implementation written here with plain loops: BLEU from hand-made counts,
 * the resample indices from the documented draw, sacreBLEU's mean/CI and
 * p-value formulas; plus the properties the report relies on: the full
 * sample's score is `moebench bleu`'s, a system identical to the baseline
 * gets difference 0 and p = 1, a perfect system against a poor one is
 * significant, and the seed alone decides the result.
 *
 * Tolerances: scores of the same counts computed here in a different order
 * of operations agree to 1e-9 (BLEU <= 100, a few double roundings); a
 * p-value counts resamples, so it may differ by one count, 1 / (R + 1),
 * where a resampled difference lies within rounding of the threshold;
 * full-sample scores against bleu.h's own are compared exactly, because
 * the same integers go through the same function. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/mb_rng.h"
#include "quality/bleu.h"
#include "quality/bleu_boot.h"

#define TOL 1e-9

/* ---- a small corpus made from a seed ---- */

static const char *WORDS[] = {"a", "man", "woman", "dog", "runs", "sits", "on", "the", "red", "blue",
                              "bench", "street", "with", "ball", "and", "child", "plays", "near", "water", "."};
#define N_WORDS (int)(sizeof WORDS / sizeof WORDS[0])
#define N_LINES 40

typedef struct corpus {
    char *ref[N_LINES], *good[N_LINES], *poor[N_LINES];
} corpus_t;

/* References of 6-14 words; `good` keeps each word with probability 0.9,
 * `poor` with 0.3 (others replaced by a random word). */
static void corpus_make(corpus_t *c, uint64_t seed)
{
    mb_rng_t r;
    mb_rng_seed(&r, seed);
    for (int i = 0; i < N_LINES; i++) {
        int len = 6 + (int)(mb_rng_u64(&r) % 9);
        c->ref[i] = calloc(256, 1);
        c->good[i] = calloc(256, 1);
        c->poor[i] = calloc(256, 1);
        for (int k = 0; k < len; k++) {
            const char *w = WORDS[mb_rng_u64(&r) % N_WORDS];
            const char *x = WORDS[mb_rng_u64(&r) % N_WORDS];
            double u = mb_rng_uniform(&r);
            strcat(strcat(c->ref[i], k ? " " : ""), w);
            strcat(strcat(c->good[i], k ? " " : ""), u < 0.9 ? w : x);
            strcat(strcat(c->poor[i], k ? " " : ""), u < 0.3 ? w : x);
        }
    }
}

static void corpus_free(corpus_t *c)
{
    for (int i = 0; i < N_LINES; i++) {
        free(c->ref[i]);
        free(c->good[i]);
        free(c->poor[i]);
    }
}

static void stats_of(char **hyp, char **ref, bleu_stats_t *per, int *nrefs)
{
    bleu_opts_t o;
    bleu_opts_init(&o);
    const char *const *refs[] = {(const char *const *)ref};
    bleu_stats_t sum;
    mb_error_t err;
    if (bleu_corpus_stats((const char *const *)hyp, refs, 1, N_LINES, &o, per, &sum, nrefs, &err))
        fail_msg("bleu_corpus_stats: %s", err.msg);
}

/* ---- the independent implementation ---- */

/* BLEU with sacreBLEU's defaults (order 4, exp smoothing) from counts. */
static double my_bleu(const int64_t *correct, const int64_t *total, int64_t hyp_len, int64_t ref_len)
{
    int any = 0;
    for (int n = 0; n < 4; n++)
        any |= correct[n] > 0;
    if (!any)
        return 0.0;
    double log_sum = 0, smooth = 1;
    for (int n = 0; n < 4; n++) {
        double p;
        if (total[n] == 0)
            return 0.0; /* not reached by the cases below: every order has n-grams */
        if (correct[n] == 0) {
            smooth *= 2;
            p = 100.0 / (smooth * (double)total[n]);
        } else {
            p = 100.0 * (double)correct[n] / (double)total[n];
        }
        log_sum += log(p);
    }
    double bp = hyp_len < ref_len ? exp(1.0 - (double)ref_len / (double)hyp_len) : 1.0;
    return bp * exp(log_sum / 4);
}

static double my_bleu_of(const bleu_stats_t *per, const int *idx, int n)
{
    int64_t c[4] = {0}, t[4] = {0}, h = 0, r = 0;
    for (int i = 0; i < n; i++) {
        const bleu_stats_t *l = &per[idx ? idx[i] : i];
        for (int k = 0; k < 4; k++) {
            c[k] += l->correct[k];
            t[k] += l->total[k];
        }
        h += l->hyp_len;
        r += l->ref_len;
    }
    return my_bleu(c, t, h, r);
}

/* The documented draw: the high 32 bits of each mb_rng number times n, the
 * high word of the product, numbers whose low word is below 2^32 mod n rejected. */
static void my_draw(mb_rng_t *rng, int n, int *idx)
{
    uint64_t limit = ((uint64_t)1 << 32) % (uint64_t)n;
    for (int i = 0; i < n; i++) {
        for (;;) {
            uint64_t prod = (mb_rng_u64(rng) >> 32) * (uint64_t)n;
            if ((prod & 0xFFFFFFFFu) >= limit) {
                idx[i] = (int)(prod >> 32);
                break;
            }
        }
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* sacreBLEU's numbers for system 1 against system 0, computed the plain way. */
static void my_paired(const bleu_stats_t *base, const bleu_stats_t *sys, int n, int R, uint64_t seed,
                      bleu_boot_sys_t *ob, bleu_boot_sys_t *os)
{
    double *b = malloc((size_t)R * sizeof *b), *s = malloc((size_t)R * sizeof *s), *d = malloc((size_t)R * sizeof *d);
    int *idx = malloc((size_t)n * sizeof *idx);
    mb_rng_t rng;
    mb_rng_seed(&rng, seed);
    for (int r = 0; r < R; r++) {
        my_draw(&rng, n, idx);
        b[r] = my_bleu_of(base, idx, n);
        s[r] = my_bleu_of(sys, idx, n);
    }
    ob->score = my_bleu_of(base, NULL, n);
    os->score = my_bleu_of(sys, NULL, n);
    os->delta = os->score - ob->score;
    double mb = 0, ms = 0, mabs = 0;
    for (int r = 0; r < R; r++) {
        mb += b[r] / R;
        ms += s[r] / R;
        mabs += fabs(s[r] - b[r]) / R;
    }
    ob->mean = mb;
    os->mean = ms;
    int count = 0;
    for (int r = 0; r < R; r++)
        count += fabs(s[r] - b[r]) - mabs > fabs(os->delta);
    os->p = (count + 1.0) / (R + 1.0);
    for (int r = 0; r < R; r++)
        d[r] = s[r] - b[r];
    qsort(b, (size_t)R, sizeof *b, cmp_d);
    qsort(s, (size_t)R, sizeof *s, cmp_d);
    qsort(d, (size_t)R, sizeof *d, cmp_d);
    int lo = R / 40, hi = R - 1 - R / 40;
    ob->ci = (b[hi] - b[lo]) / 2;
    os->ci = (s[hi] - s[lo]) / 2;
    os->delta_lo = d[lo];
    os->delta_hi = d[hi];
    free(b);
    free(s);
    free(d);
    free(idx);
}

static void near(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.12f, want %.12f (tolerance %g)", what, got, want, tol);
}

static void paired(const bleu_stats_t *a, const bleu_stats_t *b, int n, int R, uint64_t seed, bleu_boot_sys_t *out)
{
    bleu_opts_t o;
    bleu_opts_init(&o);
    const bleu_stats_t *per[] = {a, b};
    mb_error_t err;
    if (bleu_boot_paired_bleu(per, 2, n, 1, &o, R, seed, out, &err))
        fail_msg("bleu_boot_paired_bleu: %s", err.msg);
}

/* ---- tests ---- */

static void test_full_sample_is_corpus_bleu(void **state)
{
    (void)state;
    corpus_t c;
    corpus_make(&c, 7);
    bleu_stats_t per[N_LINES];
    int nrefs, idx[N_LINES];
    stats_of(c.good, c.ref, per, &nrefs);
    bleu_opts_t o;
    bleu_opts_init(&o);
    const char *const *refs[] = {(const char *const *)c.ref};
    bleu_result_t want;
    mb_error_t err;
    assert_int_equal(bleu_corpus((const char *const *)c.good, refs, 1, N_LINES, &o, &want, &err), 0);
    double all, ident;
    for (int i = 0; i < N_LINES; i++)
        idx[i] = i;
    assert_int_equal(bleu_boot_bleu_score(per, NULL, N_LINES, nrefs, &o, &all, &err), 0);
    assert_int_equal(bleu_boot_bleu_score(per, idx, N_LINES, nrefs, &o, &ident, &err), 0);
    assert_true(all == want.score);   /* exactly: the same sums through the same function */
    assert_true(ident == want.score);
    assert_true(want.score > 20 && want.score < 100); /* a real, non-trivial score */
    near(all, my_bleu_of(per, NULL, N_LINES), TOL, "independent BLEU of the full sample");

    /* the paired test reports the same full-sample scores */
    bleu_stats_t poor[N_LINES];
    stats_of(c.poor, c.ref, poor, &nrefs);
    bleu_boot_sys_t out[2];
    paired(per, poor, N_LINES, 200, 1, out);
    assert_true(out[0].score == want.score);

    /* chrF likewise */
    bleu_chrf_opts_t co;
    bleu_chrf_opts_init(&co);
    bleu_chrf_stats_t cper[N_LINES], csum;
    bleu_chrf_result_t cwant;
    assert_int_equal(bleu_chrf_corpus_stats((const char *const *)c.good, refs, 1, N_LINES, &co, cper, &csum, &nrefs,
                                            &err), 0);
    assert_int_equal(bleu_chrf_corpus((const char *const *)c.good, refs, 1, N_LINES, &co, &cwant, &err), 0);
    assert_int_equal(bleu_boot_chrf_score(cper, NULL, N_LINES, nrefs, &co, &all, &err), 0);
    assert_true(all == cwant.score);
    corpus_free(&c);
}

static void test_identical_systems(void **state)
{
    (void)state;
    corpus_t c;
    corpus_make(&c, 11);
    bleu_stats_t per[N_LINES];
    int nrefs;
    stats_of(c.good, c.ref, per, &nrefs);
    bleu_boot_sys_t out[2];
    paired(per, per, N_LINES, 500, 3, out);
    assert_true(out[1].identical);
    assert_true(out[1].delta == 0.0 && out[1].delta_lo == 0.0 && out[1].delta_hi == 0.0);
    assert_true(out[1].p == 1.0);
    assert_true(out[1].mean == out[0].mean && out[1].ci == out[0].ci);
    assert_true(out[0].ci > 0); /* the resamples do vary */
    assert_true(isnan(out[0].p) && isnan(out[0].delta_lo) && !out[0].identical);

    /* chrF: the same rule */
    bleu_chrf_opts_t co;
    bleu_chrf_opts_init(&co);
    bleu_chrf_stats_t cper[N_LINES], csum;
    mb_error_t err;
    const char *const *refs[] = {(const char *const *)c.ref};
    assert_int_equal(bleu_chrf_corpus_stats((const char *const *)c.good, refs, 1, N_LINES, &co, cper, &csum, &nrefs,
                                            &err), 0);
    const bleu_chrf_stats_t *cp[] = {cper, cper};
    assert_int_equal(bleu_boot_paired_chrf(cp, 2, N_LINES, nrefs, &co, 300, 3, out, &err), 0);
    assert_true(out[1].identical && out[1].p == 1.0 && out[1].delta == 0.0);
    corpus_free(&c);
}

static void test_perfect_vs_poor_is_significant(void **state)
{
    (void)state;
    corpus_t c;
    corpus_make(&c, 5);
    bleu_stats_t perfect[N_LINES], poor[N_LINES];
    int nrefs;
    stats_of(c.ref, c.ref, perfect, &nrefs);
    stats_of(c.poor, c.ref, poor, &nrefs);
    bleu_boot_sys_t out[2];
    paired(poor, perfect, N_LINES, 1000, 12345, out);
    near(out[1].score, 100.0, 1e-9, "a system equal to the reference");
    assert_true(out[1].delta > 30);
    assert_true(out[1].p < 0.05);
    assert_true(out[1].p == 1.0 / 1001); /* no resample comes near a 30-point gap */
    assert_true(out[1].delta_lo > 0 && out[1].delta_lo <= out[1].delta && out[1].delta <= out[1].delta_hi + 1e-9);
    assert_false(out[1].identical);

    /* and the same system against itself with a little noise is not: good vs good
     * with one line changed */
    bleu_stats_t good[N_LINES], good2[N_LINES];
    stats_of(c.good, c.ref, good, &nrefs);
    memcpy(good2, good, sizeof good);
    good2[0] = poor[0];
    paired(good, good2, N_LINES, 1000, 12345, out);
    assert_false(out[1].identical);
    assert_true(out[1].p > 0.05);
    /* a third of the resamples miss line 0 and differ by exactly 0: the interval reaches 0 */
    assert_true(out[1].delta < 0 && out[1].delta_lo < 0 && out[1].delta_hi == 0.0);
    corpus_free(&c);
}

static void test_against_plain_loops(void **state)
{
    (void)state;
    /* hand-made counts: 12 lines, every order has n-grams, some lines match
     * nothing at order 4 (exercises the smoothing in resamples) */
    enum { N = 12, R = 400 };
    bleu_stats_t a[N], b[N];
    mb_rng_t g;
    mb_rng_seed(&g, 99);
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    for (int i = 0; i < N; i++) {
        bleu_stats_t *s[2] = {&a[i], &b[i]};
        for (int k = 0; k < 2; k++) {
            int64_t len = 5 + (int64_t)(mb_rng_u64(&g) % 10);
            s[k]->hyp_len = len;
            s[k]->ref_len = len + (int64_t)(mb_rng_u64(&g) % 5) - 2;
            for (int n = 0; n < 4; n++) {
                s[k]->total[n] = len - n;
                s[k]->correct[n] = (int64_t)(mb_rng_u64(&g) % (uint64_t)(len - n + 1)) / (n + 1 + k);
            }
        }
    }
    bleu_boot_sys_t got[2], want[2];
    paired(a, b, N, R, 2024, got);
    my_paired(a, b, N, R, 2024, &want[0], &want[1]);
    near(got[0].score, want[0].score, TOL, "baseline score");
    near(got[1].score, want[1].score, TOL, "system score");
    near(got[0].mean, want[0].mean, TOL, "baseline mean");
    near(got[1].mean, want[1].mean, TOL, "system mean");
    near(got[0].ci, want[0].ci, TOL, "baseline CI");
    near(got[1].ci, want[1].ci, TOL, "system CI");
    near(got[1].delta, want[1].delta, TOL, "difference");
    near(got[1].delta_lo, want[1].delta_lo, TOL, "difference 2.5%");
    near(got[1].delta_hi, want[1].delta_hi, TOL, "difference 97.5%");
    near(got[1].p, want[1].p, 1.0 / (R + 1) + 1e-12, "p-value");
    assert_true(want[0].ci > 0 && want[1].p > 1.0 / (R + 1)); /* a case where the numbers are not degenerate */

    /* the draw: uniform indices in range, deterministic */
    int idx[N], idx2[N];
    mb_rng_t r1, r2;
    mb_rng_seed(&r1, 5);
    mb_rng_seed(&r2, 5);
    bleu_boot_draw(&r1, N, idx);
    my_draw(&r2, N, idx2);
    assert_memory_equal(idx, idx2, sizeof idx);
    int hist[7] = {0};
    int big[7000];
    mb_rng_seed(&r1, 6);
    bleu_boot_draw(&r1, 7000, big);
    for (int i = 0; i < 7000; i++) {
        assert_true(big[i] >= 0 && big[i] < 7000);
        hist[big[i] % 7]++;
    }
    for (int k = 0; k < 7; k++) /* 1000 expected per class; 5 sigma is about 150 */
        assert_true(hist[k] > 850 && hist[k] < 1150);
}

static void test_seed_decides(void **state)
{
    (void)state;
    corpus_t c;
    corpus_make(&c, 13);
    bleu_stats_t good[N_LINES], poor[N_LINES];
    int nrefs;
    stats_of(c.good, c.ref, good, &nrefs);
    stats_of(c.poor, c.ref, poor, &nrefs);
    bleu_boot_sys_t x[2], y[2], z[2];
    paired(good, poor, N_LINES, 300, 42, x);
    paired(good, poor, N_LINES, 300, 42, y);
    paired(good, poor, N_LINES, 300, 43, z);
    for (int s = 0; s < 2; s++) { /* field by field (the struct's padding is not part of the result), bit for bit */
        double a[] = {x[s].score, x[s].mean, x[s].ci, x[s].delta, x[s].delta_lo, x[s].delta_hi, x[s].p};
        double b[] = {y[s].score, y[s].mean, y[s].ci, y[s].delta, y[s].delta_lo, y[s].delta_hi, y[s].p};
        assert_memory_equal(a, b, sizeof a);
        assert_int_equal(x[s].identical, y[s].identical);
    }
    assert_true(x[0].score == z[0].score && x[1].score == z[1].score); /* the full sample does not depend on it */
    assert_true(x[0].mean != z[0].mean || x[1].mean != z[1].mean);
    corpus_free(&c);
}

static void test_errors(void **state)
{
    (void)state;
    bleu_stats_t a[2];
    memset(a, 0, sizeof a);
    const bleu_stats_t *per[] = {a, a};
    bleu_boot_sys_t out[2];
    bleu_opts_t o;
    bleu_opts_init(&o);
    mb_error_t err = {""};
    assert_int_equal(bleu_boot_paired_bleu(per, 2, 2, 1, &o, 0, 1, out, &err), -1);
    assert_non_null(strstr(err.msg, "resamples"));
    assert_int_equal(bleu_boot_paired_bleu(per, 0, 2, 1, &o, 10, 1, out, &err), -1);
    assert_non_null(strstr(err.msg, "systems"));
    assert_int_equal(bleu_boot_paired_bleu(per, 2, 0, 1, &o, 10, 1, out, &err), -1);
    assert_non_null(strstr(err.msg, "lines"));
    /* all-zero statistics score 0 without dividing by zero */
    assert_int_equal(bleu_boot_paired_bleu(per, 2, 2, 1, &o, 10, 1, out, &err), 0);
    assert_true(out[0].score == 0.0 && out[1].p == 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_sample_is_corpus_bleu),
        cmocka_unit_test(test_identical_systems),
        cmocka_unit_test(test_perfect_vs_poor_is_significant),
        cmocka_unit_test(test_against_plain_loops),
        cmocka_unit_test(test_seed_decides),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
