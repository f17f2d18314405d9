/* report: reading results and kernel CSVs into rows, and the statistics over
 * repetitions (see report.h); report_agg.c aggregates the rows. */
#include "analysis/report.h"

#include "common/mb_text.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/csvin.h"
#include "analysis/report_sig.h"
#include "analysis/report_train.h"
#include "common/mb_mem.h"
#include "common/mb_schema.h"
#include "common/mb_stats.h"

/* ---------------------------------------------------------------- statistics */

/* Moves the measured (non-NAN) values to the front, sorted, and NANs after
 * them; returns the count of measured values. */
static int sort_measured(double *v, int n)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i]))
            v[m++] = v[i];
    for (int i = m; i < n; i++)
        v[i] = NAN;
    mb_sort(v, (size_t)m);
    return m;
}

double report_median(double *v, int n)
{
    int m = sort_measured(v, n);
    return mb_median_sorted(v, (size_t)m);
}

double report_percentile(double *v, int n, double pct)
{
    int m = sort_measured(v, n);
    if (!(pct > 0) || pct > 100)
        return NAN;
    return mb_percentile_sorted(v, (size_t)m, pct);
}

report_stat_t report_stat_of(const double *v, int n)
{
    report_stat_t s = {0, NAN, NAN, NAN};
    double *c = n > 0 ? malloc((size_t)n * sizeof *c) : NULL;
    if (!c)
        return s;
    memcpy(c, v, (size_t)n * sizeof *c);
    s.n = sort_measured(c, n);
    if (s.n) {
        s.min = c[0];
        s.max = c[s.n - 1];
        s.median = report_median(c, s.n);
    }
    free(c);
    return s;
}

/* ---------------------------------------------------------------- lifetime */

report_t *report_create(void)
{
    return calloc(1, sizeof(report_t));
}

void report_free(report_t *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_strings; i++)
        free(r->strings[i]);
    free(r->strings);
    free(r->rows);
    free(r->kernels);
    free(r->skips);
    free(r->sources);
    report_train_free(r);
    report_sig_free(r);
    free(r->configs);
    for (int g = 0; g < r->n_groups; g++)
        free(r->groups[g].tasks);
    free(r->groups);
    for (int i = 0; i < r->n_series; i++)
        free(r->series[i].sweep);
    free(r->series);
    free(r);
}

/* The pooled copy of s (the same pointer for equal strings); NULL on ENOMEM.
 * Every string of the report (cells, paths) comes through here and goes into
 * Markdown tables and onto terminals: control characters and '|' are stored
 * escaped (mb_text), so a cell can neither split a table row nor a line. */
static const char *intern_raw(report_t *r, const char *s);

static const char *intern(report_t *r, const char *s)
{
    if (!mb_text_needs_escape(s, 1))
        return intern_raw(r, s);
    size_t n = 4 * strlen(s) + 8; /* "\xNN" is the longest escape of one byte */
    char *safe = malloc(n);
    if (!safe)
        return NULL;
    const char *p = intern_raw(r, mb_text_escape(safe, n, s, 1));
    free(safe);
    return p;
}

static const char *intern_raw(report_t *r, const char *s)
{
    for (int i = r->n_strings - 1; i >= 0; i--)
        if (!strcmp(r->strings[i], s))
            return r->strings[i];
    size_t cap = (size_t)r->cap_strings;
    if (mb_grow_cap((void **)&r->strings, &cap, (size_t)r->n_strings + 1, sizeof *r->strings))
        return NULL;
    r->cap_strings = (int)cap;
    char *c = strdup(s);
    if (!c)
        return NULL;
    r->strings[r->n_strings++] = c;
    return c;
}

static void seen(const char **list, int *n, int *more, const char *v)
{
    if (!v || !*v)
        return;
    for (int i = 0; i < *n; i++)
        if (list[i] == v)
            return;
    if (*n < REPORT_MAX_SEEN)
        list[(*n)++] = v;
    else
        *more = 1;
}

/* ---------------------------------------------------------------- reading */

/* One CSV being read: the table, which file, which row. */
typedef struct cursor {
    const csvin_t *t;
    const char *path;
    size_t row;
    mb_error_t *err;
} cursor_t;

/* The cell of the current row; "" for a missing optional column (col < 0). */
static const char *cell(const cursor_t *c, int col)
{
    return col < 0 ? "" : csvin_get(c->t, c->row, (size_t)col);
}

static int cell_fail(const cursor_t *c, int col, const char *what)
{
    return mb_fail(c->err, "%s:%zu: column '%s': '%s' %s", c->path, c->t->line[c->row], c->t->header[col],
                   cell(c, col), what);
}

/* A number cell: empty (or a missing optional column) reads as NAN. */
static int get_num(const cursor_t *c, int col, double *out)
{
    int rc = csvin_number(cell(c, col), out);
    if (rc < 0)
        return cell_fail(c, col, "is not a number");
    if (rc > 0)
        *out = NAN;
    return 0;
}

/* A whole-number cell; `required` rejects an empty cell. */
static int get_int(const cursor_t *c, int col, int required, int *out)
{
    double v;
    if (get_num(c, col, &v))
        return -1;
    if (isnan(v)) {
        if (required)
            return cell_fail(c, col, "is empty; a whole number is needed");
        *out = 0;
        return 0;
    }
    if (v != floor(v) || v < 0 || v > 1e9)
        return cell_fail(c, col, "is not a whole number");
    *out = (int)v;
    return 0;
}

static int get_str(report_t *r, const cursor_t *c, int col, int required, const char **out)
{
    const char *s = cell(c, col);
    if (required && !*s)
        return cell_fail(c, col, "is empty");
    if (!(*out = intern(r, s)))
        return mb_fail(c->err, "%s: out of memory", c->path);
    return 0;
}

/* Column indexes of the named columns; a missing required one is an error. */
static int find_cols(const csvin_t *t, const char *path, const char *const *names, int n_required, int *idx,
                     const char *what, mb_error_t *err)
{
    for (int i = 0; names[i]; i++) {
        idx[i] = (int)csvin_col(t, names[i]);
        if (idx[i] < 0 && i < n_required)
            return mb_fail(err, "%s: no column '%s' in the header (is this a %s?)", path, names[i], what);
    }
    return 0;
}

enum { R_SCENARIO, R_MODE, R_VARIANT, R_BACKEND, R_PRECISION, R_THREADS, R_TASK, R_BATCH, R_DECODE, R_QPS, R_REP,
       R_TOKS, R_N_REQUIRED = R_TOKS + 1, R_PRESET = R_N_REQUIRED, R_CPU, R_CORES, R_GIT, R_RUN, R_TIME,
       R_TGT, R_WALL, R_P50, R_P90, R_P99, R_BOUND, R_OK, R_RSS, R_PTOTAL, R_PSERVED, R_PACTIVE, R_BLEU, R_WEIGHTS, R_SKIP, R_SENT, R_CLOCK, R_MBYTES,
       R_PREFILL, R_DECODE_MS, R_DECODE_TS, R_STARVED, R_ROUTED, R_DROP_ASG, R_DROP_TOK, R_N };
/* The configuration key comes first, in the schema's order (the enum above
 * names the same columns in the same order). */
#define R_KEY_NAME(name) #name,
#define R_KEY_COUNT(name) +1
_Static_assert(R_REP == 0 MB_SCHEMA_KEY_COLUMNS(R_KEY_COUNT), "the key columns of common/mb_schema.h");
static const char *const results_cols[R_N + 1] = {
    MB_SCHEMA_KEY_COLUMNS(R_KEY_NAME)
    "rep", "tgt_tok_per_s", "preset", "cpu_model", "cores", "git_rev", "run_id", "timestamp", "tgt_tokens", "wall_s",
    "latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_bound_ms", "latency_ok", "peak_rss_mb",
    "params_total", "params_served", "params_active", "bleu", "weights", "skipped", "sentences", "task_clock_ms",
    "model_bytes", "prefill_ms", "decode_ms_per_token", "decode_tok_per_s", "starved", "routed_assignments", "dropped_assignments",
    "dropped_tokens", NULL};

static void note_machine(report_t *r, const char *cpu, int cores, const char *git, const char *run, const char *ts)
{
    int before = r->n_cpu_models;
    seen(r->cpu_models, &r->n_cpu_models, &r->more_cpu_models, cpu);
    if (r->n_cpu_models > before)
        r->cores[before] = cores;
    seen(r->git_revs, &r->n_git_revs, &r->more_git_revs, git);
    seen(r->run_ids, &r->n_run_ids, &r->more_run_ids, run);
    if (ts && *ts) { /* ISO 8601 UTC sorts as text */
        if (!r->first_timestamp || strcmp(ts, r->first_timestamp) < 0)
            r->first_timestamp = ts;
        if (!r->last_timestamp || strcmp(ts, r->last_timestamp) > 0)
            r->last_timestamp = ts;
    }
}

/* A row whose `skipped` cell says why the configuration was not measured. */
static int read_skip_row(report_t *r, const cursor_t *c, int what_col, int backend_col, int precision_col,
                         int threads_col, int skip_col, const char *src, const char *what)
{
    report_skip_t k = {.source = src};
    if (what_col < 0 && !(k.what = intern(r, what)))
        return mb_fail(c->err, "%s: out of memory", c->path);
    if ((what_col >= 0 && get_str(r, c, what_col, 0, &k.what)) || get_str(r, c, backend_col, 0, &k.backend) ||
        get_str(r, c, precision_col, 0, &k.precision) || get_int(c, threads_col, 0, &k.threads) ||
        get_str(r, c, skip_col, 1, &k.reason))
        return -1;
    if (mb_grow_cap((void **)&r->skips, &r->cap_skips, r->n_skips + 1, sizeof *r->skips))
        return mb_fail(c->err, "%s: out of memory", c->path);
    r->skips[r->n_skips++] = k;
    return 0;
}

static int read_results_row(report_t *r, const cursor_t *c, const int *col, const char *src)
{
    report_row_t w = {.source = src};
    if (*cell(c, col[R_SKIP]))
        return read_skip_row(r, c, col[R_SCENARIO], col[R_BACKEND], col[R_PRECISION], col[R_THREADS], col[R_SKIP],
                             src, NULL);
    const char **str[] = {&w.scenario, &w.mode, &w.variant, &w.backend, &w.precision, &w.task, &w.decode};
    const int str_col[] = {R_SCENARIO, R_MODE, R_VARIANT, R_BACKEND, R_PRECISION, R_TASK, R_DECODE};
    for (size_t i = 0; i < sizeof str / sizeof str[0]; i++)
        if (get_str(r, c, col[str_col[i]], 1, str[i]))
            return -1;
    if (strcmp(w.mode, "offline") && strcmp(w.mode, "single-stream") && strcmp(w.mode, "server"))
        return cell_fail(c, col[R_MODE], "is not offline, single-stream or server");
    if (get_str(r, c, col[R_PRESET], 0, &w.preset) || get_str(r, c, col[R_CPU], 0, &w.cpu_model) ||
        get_str(r, c, col[R_GIT], 0, &w.git_rev) || get_str(r, c, col[R_RUN], 0, &w.run_id) ||
        get_str(r, c, col[R_TIME], 0, &w.timestamp) || get_str(r, c, col[R_WEIGHTS], 0, &w.weights))
        return -1;
    if (get_int(c, col[R_THREADS], 1, &w.threads) || get_int(c, col[R_BATCH], 1, &w.batch_size) ||
        get_int(c, col[R_REP], 1, &w.rep) || get_int(c, col[R_CORES], 0, &w.cores))
        return -1;
    double *num[] = {&w.target_qps, &w.tgt_tok_per_s, &w.tgt_tokens, &w.wall_s, &w.p50, &w.p90, &w.p99,
                     &w.bound_ms, &w.latency_ok, &w.rss_mb, &w.params_total, &w.params_served, &w.params_active,
                     &w.bleu, &w.sentences, &w.task_clock_ms, &w.model_bytes, &w.prefill_ms, &w.decode_ms_per_token,
                     &w.decode_tok_per_s, &w.starved, &w.routed, &w.dropped_asg};
    const int num_col[] = {R_QPS, R_TOKS, R_TGT, R_WALL, R_P50, R_P90, R_P99, R_BOUND, R_OK, R_RSS, R_PTOTAL,
                           R_PSERVED, R_PACTIVE, R_BLEU, R_SENT, R_CLOCK, R_MBYTES, R_PREFILL, R_DECODE_MS,
                           R_DECODE_TS, R_STARVED, R_ROUTED, R_DROP_ASG};
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
        if (get_num(c, col[num_col[i]], num[i]))
            return -1;
    if (isnan(w.tgt_tok_per_s) && w.wall_s > 0 && !isnan(w.tgt_tokens))
        w.tgt_tok_per_s = w.tgt_tokens / w.wall_s;
    if (mb_grow_cap((void **)&r->rows, &r->cap_rows, r->n_rows + 1, sizeof *r->rows))
        return mb_fail(c->err, "%s: out of memory", c->path);
    if (col[R_DROP_ASG] < 0 && get_num(c, col[R_DROP_TOK], &w.dropped_asg)) /* schema 1: counted assignments */
        return -1;
    r->rows[r->n_rows++] = w;
    r->n_starved += w.starved == 1.0;
    note_machine(r, w.cpu_model, w.cores, w.git_rev, w.run_id, w.timestamp);
    return 0;
}

enum { K_BACKEND, K_PRECISION, K_THREADS, K_KERNEL, K_SHAPE, K_GFLOPS, K_PEAK, K_BW, K_PEAK_BW, K_N_REQUIRED,
       K_FRAC = K_N_REQUIRED, K_FRAC_BW, K_CPU, K_CORES, K_GIT, K_RUN, K_TIME, K_SKIP, K_N };
static const char *const kernel_cols[K_N + 1] = {
    "backend", "precision", "threads", "kernel", "shape", "gflops", "peak_gflops", "bandwidth_gbs",
    "peak_bandwidth_gbs", "fraction_of_peak", "fraction_of_bandwidth", "cpu_model", "cores", "git_rev", "run_id",
    "timestamp", "skipped", NULL};

static int read_kernel_row(report_t *r, const cursor_t *c, const int *col, const char *src)
{
    if (*cell(c, col[K_SKIP]))
        return read_skip_row(r, c, -1, col[K_BACKEND], col[K_PRECISION], col[K_THREADS], col[K_SKIP], src,
                             "kernels");
    report_kernel_t k = {.reps = 1};
    const char *cpu, *git, *run, *ts;
    int cores;
    if (!*cell(c, col[K_KERNEL])) /* a row that is not a kernel (e.g. a goal of `kernels --model-goals`) */
        return 0;
    if (get_str(r, c, col[K_BACKEND], 1, &k.backend) || get_str(r, c, col[K_PRECISION], 1, &k.precision) ||
        get_str(r, c, col[K_KERNEL], 1, &k.kernel) || get_str(r, c, col[K_SHAPE], 0, &k.shape) ||
        get_int(c, col[K_THREADS], 1, &k.threads) || get_num(c, col[K_GFLOPS], &k.gflops) ||
        get_num(c, col[K_PEAK], &k.peak_gflops) || get_num(c, col[K_BW], &k.bw_gbs) ||
        get_num(c, col[K_PEAK_BW], &k.peak_bw_gbs) || get_num(c, col[K_FRAC], &k.frac_peak) ||
        get_num(c, col[K_FRAC_BW], &k.frac_bw) || get_str(r, c, col[K_CPU], 0, &cpu) ||
        get_int(c, col[K_CORES], 0, &cores) || get_str(r, c, col[K_GIT], 0, &git) ||
        get_str(r, c, col[K_RUN], 0, &run) || get_str(r, c, col[K_TIME], 0, &ts))
        return -1;
    /* The fractions are what figure 5 draws: derive them where not written. */
    if (isnan(k.frac_peak) && k.peak_gflops > 0)
        k.frac_peak = k.gflops / k.peak_gflops;
    if (isnan(k.frac_bw) && k.peak_bw_gbs > 0)
        k.frac_bw = k.bw_gbs / k.peak_bw_gbs;
    if (mb_grow_cap((void **)&r->kernels, &r->cap_kernels, r->n_kernels + 1, sizeof *r->kernels))
        return mb_fail(c->err, "%s: out of memory", c->path);
    r->kernels[r->n_kernels++] = k;
    note_machine(r, cpu, cores, git, run, ts);
    return 0;
}

int report_read_csv(report_t *r, const char *path, mb_error_t *err)
{
    csvin_t *t;
    if (csvin_read(path, &t, err))
        return -1;
    int results = csvin_col(t, "tgt_tok_per_s") >= 0 && csvin_col(t, "variant") >= 0;
    int kernels = csvin_col(t, "gflops") >= 0 && csvin_col(t, "kernel") >= 0;
    int curve = !results && !kernels && report_train_is_curve(t);
    int boot = !results && !kernels && !curve && report_sig_is_boot(t);
    int rc = 0, col[(int)R_N > (int)K_N ? (int)R_N : (int)K_N];
    const char *src = intern(r, path);
    size_t cap = (size_t)r->cap_sources;
    if (!src || mb_grow_cap((void **)&r->sources, &cap, (size_t)r->n_sources + 1, sizeof *r->sources)) {
        csvin_free(t);
        return mb_fail(err, "%s: out of memory", path);
    }
    r->cap_sources = (int)cap;
    if (results)
        rc = find_cols(t, path, results_cols, R_N_REQUIRED, col, "moebench results CSV", err);
    else if (kernels)
        rc = find_cols(t, path, kernel_cols, K_N_REQUIRED, col, "moebench kernels CSV", err);
    else if (curve)
        rc = report_train_read(r, t, src, err);
    else if (boot)
        rc = report_sig_read(r, t, path, intern, err);
    else
        rc = mb_fail(err, "%s: neither a results CSV (no columns 'variant' and 'tgt_tok_per_s'), a kernels CSV "
                          "(no columns 'kernel' and 'gflops'), a training curve (no columns 'step' and 'loss') nor "
                          "`bleu --paired-bs --csv` rows (no columns 'baseline', 'delta_lo' and 'p_value')", path);
    cursor_t c = {t, path, 0, err};
    for (c.row = 0; rc == 0 && !curve && !boot && c.row < t->nrows; c.row++)
        rc = results ? read_results_row(r, &c, col, src) : read_kernel_row(r, &c, col, src);
    const char *args = NULL;
    if (rc == 0 && kernels && t->nrows > 0) { /* the kernels command line, from its first row */
        char buf[256];
        int pc = csvin_col(t, "preset");
        snprintf(buf, sizeof buf, "--backend %s --precision %s --threads %s%s%s", csvin_get(t, 0, col[K_BACKEND]),
                 csvin_get(t, 0, col[K_PRECISION]), csvin_get(t, 0, col[K_THREADS]), pc >= 0 ? " --preset " : "",
                 pc >= 0 ? csvin_get(t, 0, (size_t)pc) : "");
        args = intern(r, buf);
    }
    if (rc == 0)
        r->sources[r->n_sources++] =
            (report_source_t){src, results ? 'r' : curve ? 't' : boot ? 'b' : 'k', t->nrows, args};
    csvin_free(t);
    return rc;
}
