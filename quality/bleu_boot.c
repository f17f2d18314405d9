/* bleu_boot: paired bootstrap resampling over per-line statistics (see
 * bleu_boot.h for the definitions and where they come from). Both metrics
 * go through one core that sees a line's statistics as a row of integers
 * and the metric as a function from their sum to a score. */
#include "quality/bleu_boot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bleu_boot_draw(mb_rng_t *rng, int n, int *idx)
{
    /* Lemire's multiply-shift with rejection: exactly uniform on [0, n). */
    uint32_t un = (uint32_t)n, threshold = (uint32_t)(-un) % un;
    for (int i = 0; i < n; i++) {
        uint64_t m;
        do
            m = (mb_rng_u64(rng) >> 32) * un;
        while ((uint32_t)m < threshold);
        idx[i] = (int)(m >> 32);
    }
}

/* ---- the metrics as functions of summed statistics ---- */

typedef int (*score_fn)(const int64_t *sum, const void *ctx, double *score, mb_error_t *err);

typedef struct bleu_ctx {
    const bleu_opts_t *o;
    int nrefs;
} bleu_ctx_t;

typedef struct chrf_ctx {
    const bleu_chrf_opts_t *o;
    int nrefs;
} chrf_ctx_t;

/* BLEU's row: hyp_len, ref_len, correct[N], total[N]. */
static int bleu_width(const bleu_opts_t *o) { return 2 + 2 * o->max_order; }

static void bleu_row(const bleu_stats_t *s, int N, int64_t *row)
{
    row[0] = s->hyp_len;
    row[1] = s->ref_len;
    for (int n = 0; n < N; n++) {
        row[2 + n] = s->correct[n];
        row[2 + N + n] = s->total[n];
    }
}

static int bleu_of_sum(const int64_t *sum, const void *ctx, double *score, mb_error_t *err)
{
    const bleu_ctx_t *c = ctx;
    int N = c->o->max_order;
    bleu_stats_t st;
    memset(&st, 0, sizeof st);
    st.hyp_len = sum[0];
    st.ref_len = sum[1];
    for (int n = 0; n < N; n++) {
        st.correct[n] = sum[2 + n];
        st.total[n] = sum[2 + N + n];
    }
    bleu_result_t r;
    if (bleu_score_stats(&st, c->nrefs, c->o, &r, err))
        return -1;
    *score = r.score;
    return 0;
}

/* chrF's row: hyp[K], ref[K], match[K] over its K orders. */
static int chrf_orders(const bleu_chrf_opts_t *o) { return o->char_order + o->word_order; }

static void chrf_row(const bleu_chrf_stats_t *s, int K, int64_t *row)
{
    for (int k = 0; k < K; k++) {
        row[k] = s->hyp[k];
        row[K + k] = s->ref[k];
        row[2 * K + k] = s->match[k];
    }
}

static int chrf_of_sum(const int64_t *sum, const void *ctx, double *score, mb_error_t *err)
{
    const chrf_ctx_t *c = ctx;
    int K = chrf_orders(c->o);
    bleu_chrf_stats_t st;
    memset(&st, 0, sizeof st);
    for (int k = 0; k < K; k++) {
        st.hyp[k] = sum[k];
        st.ref[k] = sum[K + k];
        st.match[k] = sum[2 * K + k];
    }
    bleu_chrf_result_t r;
    if (bleu_chrf_score_stats(&st, c->nrefs, c->o, &r, err))
        return -1;
    *score = r.score;
    return 0;
}

/* ---- the core ---- */

/* sum[0..width) = the rows idx[0..n) of stats (all n rows when idx is NULL). */
static void sum_rows(const int64_t *stats, const int *idx, int n, int width, int64_t *sum)
{
    memset(sum, 0, (size_t)width * sizeof *sum);
    for (int i = 0; i < n; i++) {
        const int64_t *row = stats + (size_t)(idx ? idx[i] : i) * (size_t)width;
        for (int k = 0; k < width; k++)
            sum[k] += row[k];
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int check_args(int n_sys, int n_lines, int resamples, mb_error_t *err)
{
    if (n_sys < 1 || n_sys > BLEU_BOOT_MAX_SYSTEMS)
        return mb_fail(err, "%d systems; the paired bootstrap takes 1 to %d", n_sys, BLEU_BOOT_MAX_SYSTEMS);
    if (n_lines < 1)
        return mb_fail(err, "no lines to resample");
    if (resamples < 1 || resamples > BLEU_BOOT_MAX_RESAMPLES)
        return mb_fail(err, "%d resamples; give 1 to %d", resamples, BLEU_BOOT_MAX_RESAMPLES);
    return 0;
}

/* stats[s]: n_lines rows of `width` integers for system s. */
static int boot_core(const int64_t *const *stats, int n_sys, int n_lines, int width, score_fn fn, const void *ctx,
                     int R, uint64_t seed, bleu_boot_sys_t *out, mb_error_t *err)
{
    double *scores = malloc((size_t)n_sys * (size_t)R * sizeof *scores);
    double *tmp = malloc((size_t)R * sizeof *tmp);
    int *idx = malloc((size_t)n_lines * sizeof *idx);
    int64_t *sum = malloc((size_t)width * sizeof *sum);
    int rc = 0;
    if (!scores || !tmp || !idx || !sum) {
        rc = mb_fail(err, "out of memory for %d resamples of %d systems", R, n_sys);
        goto done;
    }
    for (int s = 0; s < n_sys && !rc; s++) {
        sum_rows(stats[s], NULL, n_lines, width, sum);
        rc = fn(sum, ctx, &out[s].score, err);
    }
    mb_rng_t rng;
    mb_rng_seed(&rng, seed);
    for (int r = 0; r < R && !rc; r++) {
        bleu_boot_draw(&rng, n_lines, idx);
        for (int s = 0; s < n_sys && !rc; s++) {
            sum_rows(stats[s], idx, n_lines, width, sum);
            rc = fn(sum, ctx, &scores[(size_t)s * (size_t)R + (size_t)r], err);
        }
    }
    if (rc)
        goto done;
    /* sacreBLEU's estimate_ci: positions R/40 and R - R/40 - 1 of the sorted values */
    int lo = R / 40, hi = R - R / 40 - 1;
    const double *base = scores;
    for (int s = 0; s < n_sys; s++) {
        bleu_boot_sys_t *o = &out[s];
        const double *sc = scores + (size_t)s * (size_t)R;
        double total = 0;
        for (int r = 0; r < R; r++)
            total += tmp[r] = sc[r];
        qsort(tmp, (size_t)R, sizeof *tmp, cmp_double);
        o->mean = total / R;
        o->ci = 0.5 * (tmp[hi] - tmp[lo]);
        o->delta = o->score - out[0].score;
        o->identical = 0;
        if (s == 0) {
            o->delta_lo = o->delta_hi = o->p = NAN;
            continue;
        }
        o->identical = !memcmp(stats[s], stats[0], (size_t)n_lines * (size_t)width * sizeof(int64_t));
        /* sacreBLEU's _paired_bs_test + _compute_p_value: the absolute paired
         * differences, centred on their mean, against the observed |difference|;
         * the +1s keep p > 0 for a finite number of resamples. */
        double mean_abs = 0, observed = fabs(o->delta);
        for (int r = 0; r < R; r++)
            mean_abs += fabs(sc[r] - base[r]);
        mean_abs /= R;
        long c = 0;
        for (int r = 0; r < R; r++) {
            tmp[r] = sc[r] - base[r];
            c += fabs(tmp[r]) - mean_abs > observed;
        }
        o->p = o->identical ? 1.0 : (double)(c + 1) / (double)(R + 1);
        qsort(tmp, (size_t)R, sizeof *tmp, cmp_double);
        o->delta_lo = tmp[lo];
        o->delta_hi = tmp[hi];
    }
done:
    free(scores);
    free(tmp);
    free(idx);
    free(sum);
    return rc;
}

/* The rows of every system, flattened by `row` (one allocation per system). */
static int64_t **rows_alloc(int n_sys, int n_lines, int width, mb_error_t *err)
{
    int64_t **rows = calloc((size_t)n_sys, sizeof *rows);
    for (int s = 0; rows && s < n_sys; s++) {
        rows[s] = malloc((size_t)n_lines * (size_t)width * sizeof **rows);
        if (!rows[s]) {
            for (int t = 0; t < s; t++)
                free(rows[t]);
            free(rows);
            rows = NULL;
        }
    }
    if (!rows)
        mb_fail(err, "out of memory for the statistics of %d systems x %d lines", n_sys, n_lines);
    return rows;
}

static void rows_free(int64_t **rows, int n_sys)
{
    for (int s = 0; rows && s < n_sys; s++)
        free(rows[s]);
    free(rows);
}

/* ---- public ---- */

int bleu_boot_bleu_score(const bleu_stats_t *per_line, const int *idx, int n, int nrefs, const bleu_opts_t *o,
                         double *score, mb_error_t *err)
{
    if (o->max_order < 1 || o->max_order > BLEU_MAX_ORDER)
        return mb_fail(err, "BLEU max order %d is not in [1, %d]", o->max_order, BLEU_MAX_ORDER);
    bleu_stats_t st;
    memset(&st, 0, sizeof st);
    for (int i = 0; i < n; i++) {
        const bleu_stats_t *l = &per_line[idx ? idx[i] : i];
        st.hyp_len += l->hyp_len;
        st.ref_len += l->ref_len;
        for (int k = 0; k < o->max_order; k++) {
            st.correct[k] += l->correct[k];
            st.total[k] += l->total[k];
        }
    }
    bleu_result_t r;
    if (bleu_score_stats(&st, nrefs, o, &r, err))
        return -1;
    *score = r.score;
    return 0;
}

int bleu_boot_chrf_score(const bleu_chrf_stats_t *per_line, const int *idx, int n, int nrefs,
                         const bleu_chrf_opts_t *o, double *score, mb_error_t *err)
{
    int K = chrf_orders(o);
    if (K < 1 || K > BLEU_MAX_ORDER)
        return mb_fail(err, "chrF orders add up to %d, not 1..%d", K, BLEU_MAX_ORDER);
    bleu_chrf_stats_t st;
    memset(&st, 0, sizeof st);
    for (int i = 0; i < n; i++) {
        const bleu_chrf_stats_t *l = &per_line[idx ? idx[i] : i];
        for (int k = 0; k < K; k++) {
            st.hyp[k] += l->hyp[k];
            st.ref[k] += l->ref[k];
            st.match[k] += l->match[k];
        }
    }
    bleu_chrf_result_t r;
    if (bleu_chrf_score_stats(&st, nrefs, o, &r, err))
        return -1;
    *score = r.score;
    return 0;
}

int bleu_boot_paired_bleu(const bleu_stats_t *const *per_line, int n_sys, int n_lines, int nrefs,
                          const bleu_opts_t *o, int resamples, uint64_t seed, bleu_boot_sys_t *out,
                          mb_error_t *err)
{
    if (check_args(n_sys, n_lines, resamples, err))
        return -1;
    if (o->max_order < 1 || o->max_order > BLEU_MAX_ORDER)
        return mb_fail(err, "BLEU max order %d is not in [1, %d]", o->max_order, BLEU_MAX_ORDER);
    int width = bleu_width(o);
    int64_t **rows = rows_alloc(n_sys, n_lines, width, err);
    if (!rows)
        return -1;
    for (int s = 0; s < n_sys; s++)
        for (int i = 0; i < n_lines; i++)
            bleu_row(&per_line[s][i], o->max_order, rows[s] + (size_t)i * (size_t)width);
    bleu_ctx_t ctx = {o, nrefs};
    int rc = boot_core((const int64_t *const *)rows, n_sys, n_lines, width, bleu_of_sum, &ctx, resamples, seed,
                       out, err);
    rows_free(rows, n_sys);
    return rc;
}

int bleu_boot_paired_chrf(const bleu_chrf_stats_t *const *per_line, int n_sys, int n_lines, int nrefs,
                          const bleu_chrf_opts_t *o, int resamples, uint64_t seed, bleu_boot_sys_t *out,
                          mb_error_t *err)
{
    if (check_args(n_sys, n_lines, resamples, err))
        return -1;
    int K = chrf_orders(o);
    if (K < 1 || K > BLEU_MAX_ORDER)
        return mb_fail(err, "chrF orders add up to %d, not 1..%d", K, BLEU_MAX_ORDER);
    int width = 3 * K;
    int64_t **rows = rows_alloc(n_sys, n_lines, width, err);
    if (!rows)
        return -1;
    for (int s = 0; s < n_sys; s++)
        for (int i = 0; i < n_lines; i++)
            chrf_row(&per_line[s][i], K, rows[s] + (size_t)i * (size_t)width);
    chrf_ctx_t ctx = {o, nrefs};
    int rc = boot_core((const int64_t *const *)rows, n_sys, n_lines, width, chrf_of_sum, &ctx, resamples, seed,
                       out, err);
    rows_free(rows, n_sys);
    return rc;
}
