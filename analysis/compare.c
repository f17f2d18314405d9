/* compare: matching configurations of two results tables and judging their
 * metrics (see compare.h). */
#include "analysis/compare.h"

#include "common/mb_text.h"
#include "analysis/cmp_samples.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMP_KEY_NAME(name) #name,
const char *const cmp_key_columns[CMP_NKEYS] = {MB_SCHEMA_KEY_COLUMNS(CMP_KEY_NAME)};
#undef CMP_KEY_NAME

const char *cmp_verdict_id(cmp_verdict_t v)
{
    switch (v) {
    case CMP_UNCHANGED: return "unchanged";
    case CMP_IMPROVED: return "improved";
    case CMP_REGRESSED: return "regressed";
    case CMP_INCONCLUSIVE: return "inconclusive";
    case CMP_NOT_MEASURED: return "not_measured";
    }
    return "?";
}

/* The documented metric columns of results/README.md and which way is better. */
static const struct {
    const char *name;
    cmp_direction_t dir;
} known_metrics[] = {
    {"tgt_tok_per_s", CMP_HIGHER_IS_BETTER},  {"src_tok_per_s", CMP_HIGHER_IS_BETTER},
    {"sent_per_s", CMP_HIGHER_IS_BETTER},     {"bleu", CMP_HIGHER_IS_BETTER},
    {"chrf", CMP_HIGHER_IS_BETTER},           {"latency_ok", CMP_HIGHER_IS_BETTER},
    {"wall_s", CMP_LOWER_IS_BETTER},          {"latency_mean_ms", CMP_LOWER_IS_BETTER},
    {"latency_std_ms", CMP_LOWER_IS_BETTER},  {"latency_p50_ms", CMP_LOWER_IS_BETTER},
    {"latency_p90_ms", CMP_LOWER_IS_BETTER},  {"latency_p99_ms", CMP_LOWER_IS_BETTER},
    {"peak_rss_mb", CMP_LOWER_IS_BETTER},     {"callgrind_ir", CMP_LOWER_IS_BETTER},
    {"task_clock_ms", CMP_LOWER_IS_BETTER},   {"page_faults", CMP_LOWER_IS_BETTER},
    {"dropped_tokens", CMP_LOWER_IS_BETTER},  {"model_bytes", CMP_LOWER_IS_BETTER},
    {"params_total", CMP_LOWER_IS_BETTER},    {"params_served", CMP_LOWER_IS_BETTER},
    {"params_active", CMP_LOWER_IS_BETTER},   {"dropped_assignments", CMP_LOWER_IS_BETTER},
    {"load_s", CMP_LOWER_IS_BETTER}, /* start-up; `--metric load_s` judges it (issue 18) */
};

int cmp_metric_direction(const char *column, cmp_direction_t *dir)
{
    for (size_t i = 0; i < sizeof known_metrics / sizeof known_metrics[0]; i++)
        if (!strcmp(column, known_metrics[i].name)) {
            *dir = known_metrics[i].dir;
            return 1;
        }
    *dir = CMP_LOWER_IS_BETTER;
    return !strncmp(column, "papi_", 5); /* every PAPI counter: fewer is better */
}

int cmp_metric_is_count(const char *column)
{
    return !strcmp(column, "papi_tot_ins") || !strcmp(column, "callgrind_ir");
}

void cmp_options_default(cmp_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->threshold = 0.05;
    o->ins_threshold = 0.01;
    o->alpha = 0.01;
    o->min_rep_s = 0.05;
}

int cmp_exit_status(const cmp_report_t *r)
{
    if (r->count[CMP_REGRESSED])
        return 1;
    return !r->nentries || r->count[CMP_INCONCLUSIVE] ? 2 : 0;
}

/* Appends " text" to a verdict's note (or sets it). */
static void note_add(cmp_stat_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_add(cmp_stat_t *s, const char *fmt, ...)
{
    size_t at = strlen(s->note);
    if (at && at + 2 < sizeof s->note) {
        memcpy(s->note + at, "; ", 3);
        at += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->note + at, sizeof s->note - at, fmt, ap);
    va_end(ap);
}

/* The rules of cmp_samples.h and kernel identity, applied to a verdict. */
static void adjust(cmp_stat_t *s, const cmp_options_t *o, int timing, const cmp_sample_info_t *ib,
                   const cmp_sample_info_t *in, const char *kb, const char *kn)
{
    s->starved_base = ib->starved;
    s->starved_new = in->starved;
    s->in_family = 0;
    if (strcmp(kb, kn)) {
        s->verdict = CMP_INCONCLUSIVE;
        snprintf(s->note, sizeof s->note, "different kernels (BASE '%s', NEW '%s'): the runs took different "
                 "code paths; pin them alike (OPENBLAS_CORETYPE, ONEDNN_MAX_CPU_ISA; docs/ci.md)", kb, kn);
        return;
    }
    s->in_family = s->tested && stats_mwu_min_p(s->n_base, s->n_new) <= o->alpha;
    if (!timing)
        return;
    size_t starved = ib->starved + in->starved;
    if (starved && (s->verdict == CMP_NOT_MEASURED || s->reps_needed)) {
        s->verdict = CMP_INCONCLUSIVE;
        snprintf(s->note, sizeof s->note, "%zu BASE and %zu NEW repetitions ran starved (column starved) "
                 "and are left out; too few remain to judge: rerun on a quieter machine, or compare "
                 "instruction counts", ib->starved, in->starved);
        return;
    }
    double rep = isnan(ib->rep_s) ? in->rep_s : isnan(in->rep_s) ? ib->rep_s
                 : ib->rep_s < in->rep_s ? ib->rep_s : in->rep_s;
    if (s->verdict != CMP_NOT_MEASURED && !isnan(rep) && rep < o->min_rep_s) {
        s->in_family = 0;
        s->verdict = CMP_INCONCLUSIVE;
        snprintf(s->note, sizeof s->note, "repetitions too short to time (median %.1f ms < --min-rep-time "
                 "%.0f ms): raise [measure] passes or [workload] sentences", 1e3 * rep, 1e3 * o->min_rep_s);
        return;
    }
    if (starved)
        note_add(s, "%zu BASE and %zu NEW repetitions ran starved and are left out", ib->starved,
                 in->starved);
}

/* Relative changes within this of the threshold count as equal to it, so that
 * 1.05 / 1.00 - 1 (0.0500000000000000444) is not "more than 5%". */
#define CMP_EPS 1e-9

static int all_positive(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] > 0.0))
            return 0;
    return 1;
}

/* The verdict of a tested metric from its p-value corrected for a family of
 * `family` tests (Holm; p_adj = p for one), its change and the threshold. */
static void decide(cmp_stat_t *s, const cmp_options_t *o, size_t family)
{
    double t = o->threshold + CMP_EPS, worse = s->worse;
    double min_p = stats_mwu_min_p(s->n_base, s->n_new);
    int significant = s->p_adj <= o->alpha;
    s->note[0] = '\0';
    s->reps_needed = 0;
    /* Holm's first step asks p <= alpha / family: samples that cannot reach it cannot decide */
    double level = o->alpha / (double)(family > 1 ? family : 1);
    s->detectable = stats_detectable_change(s->noise, s->n_base, s->n_new, level, 0.9);
    if (!significant && min_p > level) {
        size_t k = stats_mwu_reps_needed(level);
        s->verdict = CMP_INCONCLUSIVE;
        s->reps_needed = k;
        if (family > 1)
            snprintf(s->note, sizeof s->note,
                     "too few repetitions (%zu and %zu) for %zu tests: Holm's correction asks p <= "
                     "alpha/%zu = %.3g of the first, and the smallest p-value they allow is %.3g; "
                     "needs >= %zu in each file",
                     s->n_base, s->n_new, family, family, level, min_p, k);
        else
            snprintf(s->note, sizeof s->note,
                     "too few repetitions (%zu and %zu): the smallest p-value they allow is %.3g > "
                     "alpha %g; needs >= %zu in each file (exact Mann-Whitney with n = m = %zu "
                     "gives minimum p = %.3g)",
                     s->n_base, s->n_new, min_p, o->alpha, k, k, stats_mwu_min_p(k, k));
    } else if (significant && worse > t) {
        s->verdict = CMP_REGRESSED;
    } else if (significant && worse < -t) {
        s->verdict = CMP_IMPROVED;
    } else if (fabs(worse) > t) {
        s->verdict = CMP_INCONCLUSIVE;
        int at = snprintf(s->note, sizeof s->note, "%s by %.1f%% but not significant (p = %.3g > alpha %g%s): ",
                          worse > 0 ? "worse" : "better", 100.0 * fabs(worse), s->p_adj, o->alpha,
                          family > 1 ? ", Holm-corrected" : "");
        char *rest = s->note + (at > 0 && (size_t)at < sizeof s->note ? (size_t)at : strlen(s->note));
        const size_t left = sizeof s->note - (size_t)(rest - s->note);
        size_t reps = stats_reps_for_change(s->noise, o->threshold, level, 0.9);
        if (!isnan(s->detectable) && reps)
            /* say how far this runner is from deciding: what these samples can
             * resolve, and what the threshold would take (issue 15) */
            snprintf(rest, left,
                     "one repetition varies by %.1f%% here, so %zu and %zu detect changes of about %.0f%%; "
                     "%g%% needs about %zu in each file, or compare instruction counts",
                     100.0 * s->noise, s->n_base, s->n_new, 100.0 * s->detectable, 100.0 * o->threshold, reps);
        else
            snprintf(rest, left, "too noisy to decide; more repetitions may");
    } else {
        s->verdict = CMP_UNCHANGED;
        if (significant && worse != 0.0)
            snprintf(s->note, sizeof s->note,
                     "a significant change (p = %.3g) within the threshold", s->p_adj);
    }
}

int cmp_judge(const double *base, size_t nb, const double *new_, size_t nn, cmp_direction_t dir,
              int is_count, const cmp_options_t *o, cmp_stat_t *out, mb_error_t *err)
{
    memset(out, 0, sizeof *out);
    out->n_base = nb;
    out->n_new = nn;
    out->is_count = is_count;
    out->med_base = out->med_new = out->ratio = NAN;
    out->ci_lo = out->ci_hi = out->est = out->p = out->p_adj = NAN;
    out->noise = out->detectable = NAN;
    if (nb == 0 || nn == 0) {
        out->verdict = CMP_NOT_MEASURED;
        snprintf(out->note, sizeof out->note, "not measured in %s",
                 nb == 0 && nn == 0 ? "either file" : nb == 0 ? "BASE" : "NEW");
        return 0;
    }
    out->med_base = mb_median(base, nb);
    out->med_new = mb_median(new_, nn);
    if (isnan(out->med_base) || isnan(out->med_new))
        return mb_fail(err, "compare: out of memory");
    if (out->med_base != 0.0)
        out->ratio = out->med_new / out->med_base;
    else
        out->ratio = out->med_new == 0.0 ? 1.0 : out->med_new > 0.0 ? INFINITY : -INFINITY;
    out->worse = dir == CMP_LOWER_IS_BETTER ? out->ratio - 1.0 : 1.0 - out->ratio;

    if (is_count) {
        /* Deterministic counts: any real change shows, no test needed. */
        double t = o->ins_threshold + CMP_EPS;
        out->verdict = out->worse > t ? CMP_REGRESSED : out->worse < -t ? CMP_IMPROVED : CMP_UNCHANGED;
        return 0;
    }

    stats_mwu_t u;
    if (stats_mann_whitney(base, nb, new_, nn, &u, err))
        return -1;
    out->tested = 1;
    out->p = out->p_adj = u.p;
    out->noise = stats_log_spread(base, nb, new_, nn);
    out->method = u.method;
    if (all_positive(base, nb) && all_positive(new_, nn) &&
        stats_ratio_ci(base, nb, new_, nn, 1.0 - o->alpha, &out->est, &out->ci_lo, &out->ci_hi,
                       err) < 0)
        return -1;
    decide(out, o, 1);
    return 0;
}

typedef struct holm_item {
    double p;
    size_t entry;
} holm_item_t;

/* p ascending; ties in report order */
static int by_p(const void *a, const void *b)
{
    const holm_item_t *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

/* Holm's step-down correction over the family (entries with in_family): the
 * k-th smallest p (k from 0) becomes max over j <= k of min(1, (m - j) p_j),
 * and each verdict is decided again on it. A CI job fails when any metric of
 * any configuration regressed; uncorrected, m tests at alpha each would fail
 * an unchanged build with probability up to m alpha. Tests whose samples
 * cannot reach alpha even alone are not in the family: they cannot reject,
 * and which they are follows from the sample sizes, not the values. */
static int holm(cmp_report_t *r, const cmp_options_t *o, mb_error_t *err)
{
    size_t m = 0;
    for (size_t i = 0; i < r->nentries; i++)
        m += r->entries[i].s.in_family;
    r->family = m;
    if (m <= 1)
        return 0;
    holm_item_t *ix = malloc(m * sizeof *ix);
    if (!ix)
        return mb_fail(err, "compare: out of memory");
    for (size_t i = 0, k = 0; i < r->nentries; i++)
        if (r->entries[i].s.in_family)
            ix[k++] = (holm_item_t){r->entries[i].s.p, i};
    qsort(ix, m, sizeof *ix, by_p);
    double run = 0.0;
    for (size_t k = 0; k < m; k++) {
        cmp_stat_t *s = &r->entries[ix[k].entry].s;
        double a = (double)(m - k) * s->p;
        if (a > 1.0)
            a = 1.0;
        if (a > run)
            run = a;
        s->p_adj = run;
        r->count[s->verdict]--;
        decide(s, o, m);
        if (s->starved_base + s->starved_new)
            note_add(s, "%zu BASE and %zu NEW repetitions ran starved and are left out", s->starved_base,
                     s->starved_new);
        r->count[s->verdict]++;
    }
    free(ix);
    return 0;
}

/* ---- matching ---- */

static int add_note(cmp_report_t *r, mb_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int add_note(cmp_report_t *r, mb_error_t *err, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **n = realloc(r->notes, (r->nnotes + 1) * sizeof *n);
    if (!n)
        return mb_fail(err, "compare: out of memory");
    r->notes = n;
    if (!(n[r->nnotes] = strdup(buf)))
        return mb_fail(err, "compare: out of memory");
    r->nnotes++;
    return 0;
}

static int is_key_column(const char *name)
{
    for (int k = 0; k < CMP_NKEYS; k++)
        if (!strcmp(name, cmp_key_columns[k]))
            return 1;
    return 0;
}

static int col_has_value(const csvin_t *t, long col)
{
    for (size_t i = 0; i < t->nrows; i++)
        if (csvin_get(t, i, (size_t)col)[0])
            return 1;
    return 0;
}

static int add_metric(cmp_report_t *r, const char *name, mb_error_t *err)
{
    for (size_t i = 0; i < r->nmetrics; i++)
        if (!strcmp(r->metrics[i].name, name))
            return 0; /* named twice */
    cmp_metric_t *m = realloc(r->metrics, (r->nmetrics + 1) * sizeof *m);
    if (!m)
        return mb_fail(err, "compare: out of memory");
    r->metrics = m;
    m += r->nmetrics;
    memset(m, 0, sizeof *m);
    if (!(m->name = strdup(name)))
        return mb_fail(err, "compare: out of memory");
    r->nmetrics++;
    m->known = cmp_metric_direction(name, &m->dir);
    m->is_count = cmp_metric_is_count(name);
    if (!m->known)
        return add_note(r, err, "'%s' is not a documented column: lower is assumed to be better",
                        name);
    return 0;
}

/* The metrics to judge, each checked to exist in both files. */
static int choose_metrics(cmp_report_t *r, const csvin_t *b, const csvin_t *n,
                          const cmp_options_t *o, mb_error_t *err)
{
    static const char *const defaults[] = {"tgt_tok_per_s", "latency_p99_ms"};
    static const char *const counts[] = {"papi_tot_ins", "callgrind_ir"};
    const char *const *names = o->metrics ? o->metrics : defaults;
    size_t count = o->metrics ? o->nmetrics : 2;
    if (!o->metrics) {
        /* Rows from `run --count-instructions` were timed under valgrind:
         * their wall clock means little, so by default only the counts are
         * judged (--metric names others). */
        long cb = csvin_col(b, "callgrind_ir"), cn = csvin_col(n, "callgrind_ir");
        if (cb >= 0 && cn >= 0 && col_has_value(b, cb) && col_has_value(n, cn)) {
            if (add_note(r, err, "instruction counts (callgrind_ir) are judged, not the wall-clock columns "
                                 "measured under valgrind; name those with --metric"))
                return -1;
            count = 0;
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (is_key_column(names[i]))
            return mb_fail(err, "compare: --metric: '%s' identifies configurations; it is not a "
                                "metric", names[i]);
        for (int f = 0; f < 2; f++)
            if (csvin_col(f ? n : b, names[i]) < 0)
                return mb_fail(err, "%s: no column '%s' (%s)", (f ? n : b)->name, names[i],
                               o->metrics ? "named by --metric"
                                          : "a default metric; name others with --metric");
        if (add_metric(r, names[i], err))
            return -1;
    }
    if (!o->metrics)
        for (size_t i = 0; i < 2; i++) {
            long cb = csvin_col(b, counts[i]), cn = csvin_col(n, counts[i]);
            if (cb >= 0 && cn >= 0 && col_has_value(b, cb) && col_has_value(n, cn) &&
                add_metric(r, counts[i], err))
                return -1;
        }
    return 0;
}

/* Every metric cell of a file as a number (NAN: empty), metric-major. */
static int read_values(const csvin_t *t, const cmp_report_t *r, double **out, mb_error_t *err)
{
    *out = NULL;
    if (t->nrows == 0)
        return 0;
    double *v = malloc(r->nmetrics * t->nrows * sizeof *v);
    if (!v)
        return mb_fail(err, "compare: out of memory");
    for (size_t m = 0; m < r->nmetrics; m++) {
        size_t col = (size_t)csvin_col(t, r->metrics[m].name);
        for (size_t i = 0; i < t->nrows; i++) {
            const char *cell = csvin_get(t, i, col);
            double x = NAN;
            if (csvin_number(cell, &x) < 0) {
                free(v);
                return mb_fail(err, "%s:%zu: column '%s': '%s' is not a number", t->name,
                               t->line[i], r->metrics[m].name, cell);
            }
            v[m * t->nrows + i] = x;
        }
    }
    *out = v;
    return 0;
}

static char *make_label(const cmp_config_t *c)
{
    char buf[600];
    size_t at = 0;
    buf[0] = '\0';
    for (int k = 0; k < CMP_NKEYS; k++) {
        const char *v = c->key[k];
        if (!v || !v[0])
            continue;
        const char *pre = !strcmp(cmp_key_columns[k], "threads")      ? "threads="
                          : !strcmp(cmp_key_columns[k], "batch_size") ? "batch="
                          : !strcmp(cmp_key_columns[k], "target_qps") ? "qps="
                                                                       : "";
        int w = snprintf(buf + at, sizeof buf - at, "%s%s%s", at ? " " : "", pre, v);
        if (w < 0 || (size_t)w >= sizeof buf - at)
            break;
        at += (size_t)w;
    }
    /* cells are shown on terminals and in Markdown: a newline or an escape
     * sequence in one must not split a row or drive the terminal */
    char safe[sizeof buf * 2];
    return strdup(at ? mb_text_escape(safe, sizeof safe, buf, 0) : "(all rows)");
}

static int push_row(size_t **rows, size_t *n, size_t row)
{
    size_t *r = realloc(*rows, (*n + 1) * sizeof *r);
    if (!r)
        return -1;
    r[(*n)++] = row;
    *rows = r;
    return 0;
}

/* Files every row of t under its configuration, creating configurations as
 * they first appear. */
static int file_rows(cmp_report_t *r, const csvin_t *t, int is_new, mb_error_t *err)
{
    long col[CMP_NKEYS];
    for (int k = 0; k < CMP_NKEYS; k++)
        col[k] = r->key_used[k] ? csvin_col(t, cmp_key_columns[k]) : -1;
    long skip = csvin_col(t, "skipped");
    for (size_t i = 0; i < t->nrows; i++) {
        if (skip >= 0 && csvin_get(t, i, (size_t)skip)[0])
            continue; /* a configuration this machine could not run: nothing to compare */
        size_t c = 0;
        for (; c < r->nconfigs; c++) {
            int k = 0;
            for (; k < CMP_NKEYS; k++)
                if (col[k] >= 0 && strcmp(r->configs[c].key[k], csvin_get(t, i, (size_t)col[k])))
                    break;
            if (k == CMP_NKEYS)
                break;
        }
        if (c == r->nconfigs) {
            cmp_config_t *cs = realloc(r->configs, (r->nconfigs + 1) * sizeof *cs);
            if (!cs)
                return mb_fail(err, "compare: out of memory");
            r->configs = cs;
            cmp_config_t *cf = &cs[r->nconfigs++];
            memset(cf, 0, sizeof *cf);
            for (int k = 0; k < CMP_NKEYS; k++)
                if (col[k] >= 0 && !(cf->key[k] = strdup(csvin_get(t, i, (size_t)col[k]))))
                    return mb_fail(err, "compare: out of memory");
            if (!(cf->label = make_label(cf)))
                return mb_fail(err, "compare: out of memory");
        }
        cmp_config_t *cf = &r->configs[c];
        if (is_new ? push_row(&cf->rows_new, &cf->n_new, i) : push_row(&cf->rows_base, &cf->n_base, i))
            return mb_fail(err, "compare: out of memory");
    }
    return 0;
}

static int judge_all(cmp_report_t *r, const csvin_t *b, const csvin_t *n, const double *vb,
                     const double *vn, const cmp_options_t *o, mb_error_t *err)
{
    size_t both = 0, most = 1;
    for (size_t c = 0; c < r->nconfigs; c++) {
        const cmp_config_t *cf = &r->configs[c];
        both += cf->n_base && cf->n_new;
        r->n_only_base += cf->n_base && !cf->n_new;
        r->n_only_new += !cf->n_base && cf->n_new;
        if (cf->n_base > most)
            most = cf->n_base;
        if (cf->n_new > most)
            most = cf->n_new;
    }
    if (both && !(r->entries = calloc(both * (r->nmetrics ? r->nmetrics : 1), sizeof *r->entries)))
        return mb_fail(err, "compare: out of memory");
    double *xb = malloc(most * sizeof *xb), *xn = malloc(most * sizeof *xn);
    if (!xb || !xn) {
        free(xb);
        free(xn);
        return mb_fail(err, "compare: out of memory");
    }
    int rc = 0;
    cmp_cols_t cb, cn;
    cmp_cols_find(b, &cb);
    cmp_cols_find(n, &cn);
    for (size_t i = 0; cb.starved >= 0 && i < b->nrows; i++)
        r->starved_base += !strcmp(csvin_get(b, i, (size_t)cb.starved), "1");
    for (size_t i = 0; cn.starved >= 0 && i < n->nrows; i++)
        r->starved_new += !strcmp(csvin_get(n, i, (size_t)cn.starved), "1");
    for (size_t c = 0; c < r->nconfigs && !rc; c++) {
        const cmp_config_t *cf = &r->configs[c];
        if (!cf->n_base || !cf->n_new)
            continue;
        char kern_b[200], kern_n[200];
        cmp_kernels(b, &cb, cf->rows_base, cf->n_base, kern_b, sizeof kern_b);
        cmp_kernels(n, &cn, cf->rows_new, cf->n_new, kern_n, sizeof kern_n);
        if (cb.kernel < 0 || cn.kernel < 0) /* an older file: nothing to check */
            kern_b[0] = kern_n[0] = '\0';
        for (size_t m = 0; m < r->nmetrics && !rc; m++) {
            size_t kb = 0, kn = 0;
            int timing = cmp_metric_is_timing(r->metrics[m].name);
            cmp_sample_info_t ib, in;
            if (cmp_collect(b, &cb, cf->rows_base, cf->n_base, vb + m * b->nrows, timing, o->per_run, xb, &kb,
                            &ib) ||
                cmp_collect(n, &cn, cf->rows_new, cf->n_new, vn + m * n->nrows, timing, o->per_run, xn, &kn,
                            &in)) {
                rc = mb_fail(err, "compare: out of memory");
                break;
            }
            cmp_entry_t *e = &r->entries[r->nentries++];
            e->config = c;
            e->metric = m;
            rc = cmp_judge(xb, kb, xn, kn, r->metrics[m].dir, r->metrics[m].is_count, o, &e->s, err);
            if (!rc) {
                adjust(&e->s, o, timing && !r->metrics[m].is_count, &ib, &in, kern_b, kern_n);
                r->count[e->s.verdict]++;
            }
        }
    }
    free(xb);
    free(xn);
    return rc;
}

/* Wall-clock metrics from two different machines compare the machines as
 * much as the code: say so when cpu_model or cores differ between the files. */
static int machine_notes(cmp_report_t *r, const csvin_t *b, const csvin_t *n, mb_error_t *err)
{
    /* identity columns of schema 2 (harness/runid.c): what each difference means */
    static const struct {
        const char *col, *what;
    } ids[] = {
        {"machine_id", "different machines (CPU vendor, family, model, stepping, ISA flags, cores or memory "
                       "differ): wall-clock metrics compare the machines as well as the code"},
        {"openblas_config", "different OpenBLAS builds or kernels"},
        {"onednn_version", "different oneDNN builds or ISA"},
        {"kernel_pins", "different kernel pins in the environment"},
        {"compiler", "different compilers"},
        {"cflags", "different compiler flags"},
        {"scenario_hash", "different scenario files (the same name, other contents)"},
    };
    int machine_differs = 0;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        long cb = csvin_col(b, ids[i].col), cn = csvin_col(n, ids[i].col);
        if (cb < 0 || cn < 0 || !b->nrows || !n->nrows)
            continue;
        const char *vb = csvin_get(b, 0, (size_t)cb);
        for (size_t j = 0; j < n->nrows; j++) {
            const char *vn = csvin_get(n, j, (size_t)cn);
            if (strcmp(vb, vn)) {
                if (add_note(r, err, "%s: %s '%s' in BASE, '%s' in NEW", ids[i].what, ids[i].col, vb, vn))
                    return -1;
                machine_differs |= i == 0;
                break;
            }
        }
    }
    if (machine_differs)
        return 0; /* said already, more precisely than cpu_model */
    static const char *const cols[] = {"cpu_model", "cores"};
    for (int i = 0; i < 2; i++) {
        long cb = csvin_col(b, cols[i]), cn = csvin_col(n, cols[i]);
        if (cb < 0 || cn < 0 || !b->nrows || !n->nrows)
            continue;
        const char *vb = csvin_get(b, 0, (size_t)cb);
        for (size_t j = 0; j < n->nrows; j++) {
            const char *vn = csvin_get(n, j, (size_t)cn);
            if (strcmp(vb, vn)) {
                char sb[200], sn[200];
                vb = mb_text_escape(sb, sizeof sb, vb, 0);
                vn = mb_text_escape(sn, sizeof sn, vn, 0);
                return add_note(r, err, "the files come from different machines (%s '%s' in "
                                        "BASE, '%s' in NEW): wall-clock metrics compare the "
                                        "machines as well as the code", cols[i], vb, vn);
            }
        }
    }
    return 0;
}

int cmp_tables(const csvin_t *b, const csvin_t *n, const cmp_options_t *o, cmp_report_t **out,
               mb_error_t *err)
{
    *out = NULL;
    cmp_report_t *r = calloc(1, sizeof *r);
    if (!r || !(r->base_name = strdup(b->name)) || !(r->new_name = strdup(n->name))) {
        cmp_report_free(r);
        return mb_fail(err, "compare: out of memory");
    }
    r->base_rows = b->nrows;
    r->new_rows = n->nrows;
    r->threshold = o->threshold;
    r->ins_threshold = o->ins_threshold;
    r->alpha = o->alpha;
    r->per_run = o->per_run;
    r->min_rep_s = o->min_rep_s;
    double *vb = NULL, *vn = NULL;
    int rc = -1;

    for (int k = 0; k < CMP_NKEYS; k++)
        r->key_used[k] = 1;
    for (size_t i = 0; i < o->nignore; i++) {
        int k = 0;
        while (k < CMP_NKEYS && strcmp(o->ignore[i], cmp_key_columns[k]))
            k++;
        if (k == CMP_NKEYS) {
            mb_fail(err, "compare: --ignore-key: '%s' is not a configuration column (scenario, "
                         "mode, variant, backend, precision, threads, task, batch_size, decode, "
                         "target_qps)", o->ignore[i]);
            goto done;
        }
        r->key_used[k] = 0;
    }
    for (int k = 0; k < CMP_NKEYS; k++)
        for (int f = 0; f < 2 && r->key_used[k]; f++)
            if (csvin_col(f ? n : b, cmp_key_columns[k]) < 0) {
                mb_fail(err, "%s: no column '%s' (one of the columns that identify a "
                             "configuration; see results/README.md)", (f ? n : b)->name,
                        cmp_key_columns[k]);
                goto done;
            }
    if (o->nignore) {
        char list[200] = "";
        for (int k = 0, at = 0; k < CMP_NKEYS; k++)
            if (!r->key_used[k])
                at += snprintf(list + at, sizeof list - (size_t)at, "%s%s", at ? ", " : "",
                               cmp_key_columns[k]);
        if (add_note(r, err, "configurations matched without %s: rows that differ only there "
                             "are compared as one", list))
            goto done;
    }
    if (machine_notes(r, b, n, err) || choose_metrics(r, b, n, o, err) ||
        read_values(b, r, &vb, err) ||
        read_values(n, r, &vn, err) || file_rows(r, b, 0, err) || file_rows(r, n, 1, err) ||
        judge_all(r, b, n, vb, vn, o, err) || holm(r, o, err))
        goto done;
    rc = 0;
done:
    free(vb);
    free(vn);
    if (rc)
        cmp_report_free(r);
    else
        *out = r;
    return rc;
}

void cmp_report_free(cmp_report_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nmetrics; i++)
        free(r->metrics[i].name);
    for (size_t c = 0; c < r->nconfigs; c++) {
        for (int k = 0; k < CMP_NKEYS; k++)
            free(r->configs[c].key[k]);
        free(r->configs[c].label);
        free(r->configs[c].rows_base);
        free(r->configs[c].rows_new);
    }
    for (size_t i = 0; i < r->nnotes; i++)
        free(r->notes[i]);
    free(r->notes);
    free(r->metrics);
    free(r->configs);
    free(r->entries);
    free(r->base_name);
    free(r->new_name);
    free(r);
}

int cmp_suggest_ignore(const cmp_report_t *r)
{
    for (size_t a = 0; a < r->nconfigs; a++) {
        if (!r->configs[a].n_base)
            continue;
        for (size_t b = 0; b < r->nconfigs; b++) {
            if (!r->configs[b].n_new || a == b)
                continue;
            int differ = -1, count = 0;
            for (int k = 0; k < CMP_NKEYS; k++)
                if (r->key_used[k] && strcmp(r->configs[a].key[k], r->configs[b].key[k])) {
                    differ = k;
                    count++;
                }
            if (count == 1)
                return differ;
        }
    }
    return -1;
}
