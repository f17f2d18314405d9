/* report_agg: the aggregation half of report (see report.h): repetitions
 * grouped into configurations, configurations into series per scenario and
 * variant (peak over the offline batch sweep, latency, BLEU, parameters),
 * the speed-up over token-moe with its interval, and the kernel rows.
 * report.c reads the CSVs into rows; this file only computes from them. */
#include "analysis/report.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"
#include "common/mb_mem.h"
#include "common/mb_variant.h"

int report_variant_rank(const char *v)
{
    return mb_variant_rank(v);
}

static int mode_rank(const char *m)
{
    return !strcmp(m, "offline") ? 0 : !strcmp(m, "single-stream") ? 1 : 2;
}

/* `mixed` before the named tasks, those alphabetically. */
static int cmp_task(const char *a, const char *b)
{
    int ma = !strcmp(a, "mixed"), mb = !strcmp(b, "mixed");
    return ma != mb ? mb - ma : strcmp(a, b);
}

static int same_qps(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static int same_group(const report_config_t *a, const report_config_t *b)
{
    return a->scenario == b->scenario && a->backend == b->backend && a->precision == b->precision &&
           a->threads == b->threads && a->decode == b->decode;
}

static int cmp_config(const void *pa, const void *pb)
{
    const report_config_t *a = pa, *b = pb;
    int d;
    if ((d = strcmp(a->scenario, b->scenario)) || (d = strcmp(a->backend, b->backend)) ||
        (d = strcmp(a->precision, b->precision)) || (d = a->threads - b->threads) ||
        (d = strcmp(a->decode, b->decode)) ||
        (d = report_variant_rank(a->variant) - report_variant_rank(b->variant)) ||
        (d = strcmp(a->variant, b->variant)) || (d = mode_rank(a->mode) - mode_rank(b->mode)) ||
        (d = cmp_task(a->task, b->task)) || (d = a->batch_size - b->batch_size))
        return d;
    double x = isnan(a->target_qps) ? -1 : a->target_qps, y = isnan(b->target_qps) ? -1 : b->target_qps;
    return (x > y) - (x < y);
}

static int row_in_config(const report_row_t *w, const report_config_t *c)
{
    return w->scenario == c->scenario && w->mode == c->mode && w->variant == c->variant &&
           w->backend == c->backend && w->precision == c->precision && w->threads == c->threads &&
           w->task == c->task && w->batch_size == c->batch_size && w->decode == c->decode &&
           same_qps(w->target_qps, c->target_qps);
}

static double max_measured(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : a > b ? a : b;
}

/* Configurations: one per distinct key, each with its repetitions' statistics. */
static int build_configs(report_t *r, mb_error_t *err)
{
    size_t n = 0, cap = 0;
    double *buf = malloc((r->n_rows ? r->n_rows : 1) * 7 * sizeof *buf);
    if (!buf)
        return mb_fail(err, "report: out of memory");
    for (size_t i = 0; i < r->n_rows; i++) {
        const report_row_t *w = &r->rows[i];
        size_t k = 0;
        while (k < n && !row_in_config(w, &r->configs[k]))
            k++;
        if (k < n)
            continue;
        if (mb_grow_cap((void **)&r->configs, &cap, n + 1, sizeof *r->configs)) {
            free(buf);
            return mb_fail(err, "report: out of memory");
        }
        r->configs[n++] = (report_config_t){.scenario = w->scenario, .mode = w->mode, .variant = w->variant,
                                            .preset = w->preset, .backend = w->backend, .precision = w->precision,
                                            .task = w->task, .decode = w->decode, .threads = w->threads,
                                            .batch_size = w->batch_size, .target_qps = w->target_qps,
                                            .weights = w->weights};
    }
    r->n_configs = n;
    size_t nr = r->n_rows;
    for (size_t k = 0; k < n; k++) {
        report_config_t *c = &r->configs[k];
        int m = 0;
        c->params_total = c->params_served = c->params_active = NAN;
        c->routed = c->dropped_asg = 0;
        for (size_t i = 0; i < nr; i++) {
            const report_row_t *w = &r->rows[i];
            if (!row_in_config(w, c))
                continue;
            buf[m] = w->tgt_tok_per_s;
            buf[nr + m] = w->tgt_tokens;
            buf[2 * nr + m] = w->p50;
            buf[3 * nr + m] = w->p90;
            buf[4 * nr + m] = w->p99;
            buf[5 * nr + m] = w->bleu;
            buf[6 * nr + m] = w->rss_mb;
            m++;
            c->params_total = max_measured(c->params_total, w->params_total);
            c->params_served = max_measured(c->params_served, w->params_served);
            c->params_active = max_measured(c->params_active, w->params_active);
            if (!isnan(w->routed) && !isnan(w->dropped_asg)) {
                c->routed += w->routed;
                c->dropped_asg += w->dropped_asg;
            }
            if (!*c->preset)
                c->preset = w->preset;
        }
        c->reps = m;
        c->tok_s = report_stat_of(buf, m);
        c->tgt_tokens = report_stat_of(buf + nr, m);
        c->p50 = report_stat_of(buf + 2 * nr, m);
        c->p90 = report_stat_of(buf + 3 * nr, m);
        c->p99 = report_stat_of(buf + 4 * nr, m);
        c->bleu = report_stat_of(buf + 5 * nr, m);
        c->rss_mb = report_stat_of(buf + 6 * nr, m);
    }
    free(buf);
    if (n)
        qsort(r->configs, n, sizeof *r->configs, cmp_config);
    return 0;
}

static int row_in_series(const report_t *r, const report_row_t *w, const report_series_t *s)
{
    const report_group_t *g = &r->groups[s->group];
    return w->scenario == g->scenario && w->backend == g->backend && w->precision == g->precision &&
           w->threads == g->threads && w->decode == g->decode && w->variant == s->variant;
}

double report_series_task_bleu(const report_t *r, const report_series_t *s, const char *task)
{
    double *v = malloc((r->n_rows ? r->n_rows : 1) * sizeof *v);
    if (!v)
        return NAN;
    int m = 0;
    for (size_t i = 0; i < r->n_rows; i++)
        if (row_in_series(r, &r->rows[i], s) && !strcmp(r->rows[i].task, task))
            v[m++] = r->rows[i].bleu;
    double med = report_median(v, m);
    free(v);
    return med;
}

/* Offline throughput of the configs c[0..n) of one series at one batch size:
 * one task: its median; several: sum(tokens) / sum(time), with `which` picking
 * the median (0), min (-1) or max (1) throughput of each. */
static double combine_tok_s(const report_config_t *const *c, size_t n, int which)
{
    double tokens = 0, seconds = 0;
    for (size_t i = 0; i < n; i++) {
        double t = which == 0 ? c[i]->tok_s.median : which < 0 ? c[i]->tok_s.min : c[i]->tok_s.max;
        if (n == 1)
            return t;
        double k = c[i]->tgt_tokens.median;
        if (isnan(t) || isnan(k) || t <= 0)
            return NAN;
        tokens += k;
        seconds += k / t;
    }
    return seconds > 0 ? tokens / seconds : NAN;
}

static int offline_at(const report_config_t *c, int batch)
{
    return !strcmp(c->mode, "offline") && c->tok_s.n && c->batch_size == batch;
}

static int cmp_point(const void *a, const void *b)
{
    return ((const report_point_t *)a)->batch_size - ((const report_point_t *)b)->batch_size;
}

/* The batch sweep of the series' offline configs [first, last), and its peak. */
static int fill_peak(report_series_t *s, const report_config_t *cfg, size_t first, size_t last)
{
    const report_config_t **at = malloc((last - first + 1) * sizeof *at);
    s->sweep = malloc((last - first + 1) * sizeof *s->sweep);
    if (!at || !s->sweep) {
        free(at);
        return -1;
    }
    for (size_t i = first; i < last; i++) {
        const report_config_t *c = &cfg[i];
        int dup = 0; /* each batch size once: its configs (one per task) are not adjacent */
        for (size_t j = first; j < i && !dup; j++)
            dup = offline_at(&cfg[j], c->batch_size);
        if (dup || !offline_at(c, c->batch_size))
            continue;
        size_t n = 0;
        int reps = INT32_MAX;
        for (size_t j = i; j < last; j++)
            if (offline_at(&cfg[j], c->batch_size)) {
                at[n++] = &cfg[j];
                if (cfg[j].reps < reps)
                    reps = cfg[j].reps;
            }
        s->sweep[s->n_batches++] = (report_point_t){c->batch_size, reps, combine_tok_s(at, n, 0),
                                                    combine_tok_s(at, n, -1), combine_tok_s(at, n, 1)};
    }
    free(at);
    qsort(s->sweep, (size_t)s->n_batches, sizeof *s->sweep, cmp_point);
    for (int i = 0; i < s->n_batches; i++) { /* ties go to the smaller batch */
        const report_point_t *p = &s->sweep[i];
        if (!isnan(p->tok_s) && (isnan(s->peak_tok_s) || p->tok_s > s->peak_tok_s)) {
            s->peak_tok_s = p->tok_s;
            s->peak_min = p->min;
            s->peak_max = p->max;
            s->peak_batch = p->batch_size;
            s->peak_reps = p->reps;
        }
    }
    return 0;
}

/* Fills one series from its configs [first, last) (sorted: mode, task, batch). */
static int fill_series(report_series_t *s, const report_config_t *cfg, size_t first, size_t last)
{
    s->peak_tok_s = s->peak_min = s->peak_max = s->p50 = s->p90 = s->p99 = s->bleu = NAN;
    s->params_total = s->params_served = s->params_active = s->speedup = NAN;
    s->reps_min = INT32_MAX;
    int n_ss = 0;
    double routed = 0, dropped = 0;
    for (size_t i = first; i < last; i++) {
        const report_config_t *c = &cfg[i];
        routed += c->routed;
        dropped += c->dropped_asg;
        s->params_total = max_measured(s->params_total, c->params_total);
        s->params_served = max_measured(s->params_served, c->params_served);
        s->params_active = max_measured(s->params_active, c->params_active);
        if (!*s->preset)
            s->preset = c->preset;
        if (c->reps < s->reps_min)
            s->reps_min = c->reps;
        if (c->reps > s->reps_max)
            s->reps_max = c->reps;
        if (!strcmp(c->mode, "single-stream") && c->p50.n) {
            s->p50 = (n_ss ? s->p50 : 0) + c->p50.median;
            s->p90 = (n_ss ? s->p90 : 0) + c->p90.median;
            s->p99 = (n_ss ? s->p99 : 0) + c->p99.median;
            n_ss++;
        }
        /* the median of `mixed` rows; build_series prefers the per-task mean */
        if (!strcmp(c->task, "mixed") && c->bleu.n && isnan(s->bleu))
            s->bleu = c->bleu.median;
    }
    if (n_ss) {
        s->p50 /= n_ss;
        s->p90 /= n_ss;
        s->p99 /= n_ss;
    }
    if (s->reps_min == INT32_MAX)
        s->reps_min = 0;
    s->dropped_share = routed > 0 ? dropped / routed : NAN;
    return fill_peak(s, cfg, first, last);
}

/* The offline throughput of each repetition at the series' peak batch size:
 * repetition k of every task combined as sum(tokens) / sum(time), a
 * repetition counting only when every task has it. Returns how many values
 * went to out (malloc'd, NULL when none); -1 when out of memory. These are
 * the samples of the speed-up interval. */
static int peak_rep_values(const report_t *r, const report_series_t *s, double **out)
{
    *out = NULL;
    if (isnan(s->peak_tok_s))
        return 0;
    int max_rep = 0, n_tasks = 0;
    const char *tasks[64];
    for (size_t i = 0; i < r->n_rows; i++) {
        const report_row_t *w = &r->rows[i];
        if (!row_in_series(r, w, s) || strcmp(w->mode, "offline") || w->batch_size != s->peak_batch)
            continue;
        max_rep = w->rep > max_rep ? w->rep : max_rep;
        int seen = 0;
        for (int t = 0; t < n_tasks && !seen; t++)
            seen = tasks[t] == w->task;
        if (!seen && n_tasks < 64)
            tasks[n_tasks++] = w->task;
    }
    if (max_rep < 1 || n_tasks < 1)
        return 0;
    double *tok = calloc((size_t)max_rep * 3, sizeof *tok);
    if (!tok)
        return -1;
    double *sec = tok + max_rep, *cnt = sec + max_rep;
    for (size_t i = 0; i < r->n_rows; i++) {
        const report_row_t *w = &r->rows[i];
        if (!row_in_series(r, w, s) || strcmp(w->mode, "offline") || w->batch_size != s->peak_batch || w->rep < 1 ||
            isnan(w->tgt_tokens) || !(w->wall_s > 0))
            continue;
        tok[w->rep - 1] += w->tgt_tokens;
        sec[w->rep - 1] += w->wall_s;
        cnt[w->rep - 1] += 1;
    }
    int n = 0;
    for (int k = 0; k < max_rep; k++)
        if (cnt[k] == n_tasks && tok[k] > 0)
            tok[n++] = tok[k] / sec[k];
    if (!n) {
        free(tok);
        return 0;
    }
    *out = tok;
    return n;
}

/* speedup_lo/hi/est of s against the token-moe series t: the Hodges-Lehmann
 * interval of the ratio of their per-repetition peak throughputs (the
 * interval `compare` gives), at REPORT_SPEEDUP_CONFIDENCE. */
static int fill_speedup_ci(const report_t *r, report_series_t *s, const report_series_t *t)
{
    double *a = NULL, *b = NULL;
    int n = peak_rep_values(r, t, &a), m = peak_rep_values(r, s, &b);
    int rc = n < 0 || m < 0 ? -1 : 0;
    if (n > 0 && m > 0) {
        double est, lo, hi;
        mb_error_t e;
        if (stats_ratio_ci(a, (size_t)n, b, (size_t)m, REPORT_SPEEDUP_CONFIDENCE, &est, &lo, &hi, &e) == 0) {
            s->speedup_lo = lo;
            s->speedup_hi = hi;
            s->speedup_reps = n < m ? n : m;
        }
    }
    free(a);
    free(b);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return cmp_task(*(const char *const *)a, *(const char *const *)b);
}

/* The tasks (not `mixed`) with BLEU in a group, sorted. */
static int group_tasks(report_t *r, report_group_t *g)
{
    g->tasks = malloc(((size_t)r->n_strings + 1) * sizeof *g->tasks);
    if (!g->tasks)
        return -1;
    for (size_t i = 0; i < r->n_rows; i++) {
        const report_row_t *w = &r->rows[i];
        if (w->scenario != g->scenario || w->backend != g->backend || w->precision != g->precision ||
            w->threads != g->threads || w->decode != g->decode || isnan(w->bleu) || !strcmp(w->task, "mixed"))
            continue;
        int k = 0;
        while (k < g->n_tasks && g->tasks[k] != w->task)
            k++;
        if (k == g->n_tasks)
            g->tasks[g->n_tasks++] = w->task;
    }
    qsort(g->tasks, (size_t)g->n_tasks, sizeof *g->tasks, cmp_str);
    return 0;
}

static int build_series(report_t *r, mb_error_t *err)
{
    size_t n = r->n_configs;
    r->groups = calloc(n ? n : 1, sizeof *r->groups);
    r->series = calloc(n ? n : 1, sizeof *r->series);
    if (!r->groups || !r->series)
        return mb_fail(err, "report: out of memory");
    for (size_t i = 0; i < n;) {
        const report_config_t *c = &r->configs[i];
        if (!r->n_groups || !same_group(&r->configs[i - 1], c)) {
            report_group_t *g = &r->groups[r->n_groups++];
            *g = (report_group_t){c->scenario, c->backend, c->precision, c->decode, c->threads, r->n_series, 0,
                                  -1, 0, NULL};
            if (group_tasks(r, g))
                return mb_fail(err, "report: out of memory");
        }
        size_t j = i;
        while (j < n && same_group(&r->configs[j], c) && r->configs[j].variant == c->variant)
            j++;
        report_group_t *g = &r->groups[r->n_groups - 1];
        report_series_t *s = &r->series[r->n_series];
        *s = (report_series_t){.group = r->n_groups - 1, .variant = c->variant, .preset = ""};
        const mb_variant_t *vi = mb_variant_find(c->variant);
        s->untrained_student = vi && vi->student_shape && (!c->weights || !*c->weights || !strcmp(c->weights, "random"));
        if (fill_series(s, r->configs, i, j))
            return mb_fail(err, "report: out of memory");
        if (g->n_tasks) {
            double sum = 0;
            int k = 0;
            for (int t = 0; t < g->n_tasks; t++) {
                double b = report_series_task_bleu(r, s, g->tasks[t]);
                if (!isnan(b)) {
                    sum += b;
                    k++;
                }
            }
            if (k)
                s->bleu = sum / k;
        }
        if (!strcmp(s->variant, "token-moe"))
            g->token_moe = r->n_series;
        g->n++;
        r->n_series++;
        i = j;
    }
    for (int k = 0; k < r->n_series; k++) {
        report_series_t *s = &r->series[k];
        int t = r->groups[s->group].token_moe;
        s->speedup_lo = s->speedup_hi = NAN;
        s->speedup_reps = 0;
        if (t >= 0 && r->series[t].peak_tok_s > 0 && !isnan(s->peak_tok_s)) {
            s->speedup = s->peak_tok_s / r->series[t].peak_tok_s;
            if (k != t && fill_speedup_ci(r, s, &r->series[t]))
                return mb_fail(err, "report: out of memory");
        }
    }
    return 0;
}

static int same_kernel(const report_kernel_t *a, const report_kernel_t *b)
{
    return a->backend == b->backend && a->precision == b->precision && a->threads == b->threads &&
           a->kernel == b->kernel && a->shape == b->shape;
}

/* Kernel measurements: medians over the repetitions of each (backend,
 * precision, threads, kernel, shape), in the order first seen. */
static int build_kernels(report_t *r, mb_error_t *err)
{
    size_t n = r->n_kernels, out = 0;
    double *v = malloc((n ? n : 1) * 6 * sizeof *v);
    char *used = calloc(n ? n : 1, 1);
    if (!v || !used) {
        free(v);
        free(used);
        return mb_fail(err, "report: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (used[i])
            continue;
        report_kernel_t k = r->kernels[i];
        int m = 0;
        for (size_t j = i; j < n; j++) {
            if (used[j] || !same_kernel(&r->kernels[j], &k))
                continue;
            const report_kernel_t *x = &r->kernels[j];
            double vals[6] = {x->gflops, x->peak_gflops, x->frac_peak, x->bw_gbs, x->peak_bw_gbs, x->frac_bw};
            for (int f = 0; f < 6; f++)
                v[(size_t)f * n + (size_t)m] = vals[f];
            used[j] = 1;
            m++;
        }
        k.reps = m;
        double *fields[6] = {&k.gflops, &k.peak_gflops, &k.frac_peak, &k.bw_gbs, &k.peak_bw_gbs, &k.frac_bw};
        for (int f = 0; f < 6; f++)
            *fields[f] = report_median(v + (size_t)f * n, m);
        r->kernels[out++] = k; /* out <= i: never overwrites a row still to read */
    }
    r->n_kernels = out;
    free(v);
    free(used);
    return 0;
}

int report_aggregate(report_t *r, mb_error_t *err)
{
    if (r->n_rows == 0 && r->n_kernels == 0 && r->n_skips == 0 && r->n_curves == 0 && r->n_sigs == 0)
        return mb_fail(err, "report: the CSV files hold no rows");
    if (build_configs(r, err) || build_series(r, err) || build_kernels(r, err))
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- lookups */

const report_config_t *report_find_config(const report_t *r, const char *scenario, const char *mode,
                                          const char *variant, const char *task, int batch_size,
                                          double target_qps)
{
    for (size_t i = 0; i < r->n_configs; i++) {
        const report_config_t *c = &r->configs[i];
        if (!strcmp(c->scenario, scenario) && !strcmp(c->mode, mode) && !strcmp(c->variant, variant) &&
            !strcmp(c->task, task) && c->batch_size == batch_size && same_qps(c->target_qps, target_qps))
            return c;
    }
    return NULL;
}

const report_series_t *report_find_series(const report_t *r, const char *scenario, const char *variant)
{
    for (int i = 0; i < r->n_series; i++)
        if (!strcmp(r->groups[r->series[i].group].scenario, scenario) && !strcmp(r->series[i].variant, variant))
            return &r->series[i];
    return NULL;
}
