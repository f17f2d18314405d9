/* report_train: training curves in a report (see report_train.h). */
#include "analysis/report_train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mb_mem.h"
#include "common/version.h"

static const char *const curve_cols[CURVE_NCOLS] = {
    "step", "tokens", "cpu_s", "wall_s", "lr", "loss", "nll", "aux", "dropped_share", "grad_norm",
    "valid_loss", "valid_nll", "valid_bleu"};
/* Without these the section or the figure has nothing to say. */
static const int curve_required[] = {CURVE_STEP, CURVE_TOKENS, CURVE_CPU_S, CURVE_LOSS, CURVE_VALID_BLEU};

int report_train_is_curve(const csvin_t *t)
{
    return csvin_col(t, "step") >= 0 && csvin_col(t, "loss") >= 0;
}

static void curve_free(report_curve_t *c)
{
    free(c->v);
    c->v = NULL;
}

void report_train_free(report_t *r)
{
    for (int i = 0; i < r->n_curves; i++)
        curve_free(&r->curves[i]);
    free(r->curves);
    r->curves = NULL;
    r->n_curves = r->cap_curves = 0;
}

/* "results/train-dense.csv" -> "train-dense" */
static void curve_name(const char *path, char *out, size_t n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 4 && !strcmp(base + len - 4, ".csv"))
        len -= 4;
    snprintf(out, n, "%.*s", (int)len, base);
}

static void summarise(report_curve_t *c)
{
    const double *last = c->v + (c->n - 1) * CURVE_NCOLS;
    c->last_step = last[CURVE_STEP];
    c->tokens = last[CURVE_TOKENS];
    c->cpu_s = last[CURVE_CPU_S];
    c->wall_s = last[CURVE_WALL_S];
    c->tok_per_cpu_s = c->cpu_s > 0 ? c->tokens / c->cpu_s : NAN;
    c->tail_n = c->n < REPORT_CURVE_TAIL ? (int)c->n : REPORT_CURVE_TAIL;
    double sum = 0;
    for (size_t i = c->n - (size_t)c->tail_n; i < c->n; i++)
        sum += c->v[i * CURVE_NCOLS + CURVE_LOSS];
    c->loss_tail = sum / c->tail_n;
    c->n_valid = 0;
    c->vbleu_last = c->vbleu_last_step = c->vbleu_best = c->vbleu_best_step = c->vloss_last = NAN;
    for (size_t i = 0; i < c->n; i++) {
        const double *row = c->v + i * CURVE_NCOLS;
        if (isnan(row[CURVE_VALID_BLEU]))
            continue;
        c->n_valid++;
        c->vbleu_last = row[CURVE_VALID_BLEU];
        c->vbleu_last_step = row[CURVE_STEP];
        c->vloss_last = row[CURVE_VALID_LOSS];
        if (!(row[CURVE_VALID_BLEU] <= c->vbleu_best)) { /* the first of equal bests, NAN-safe */
            c->vbleu_best = row[CURVE_VALID_BLEU];
            c->vbleu_best_step = row[CURVE_STEP];
        }
    }
}

int report_train_read(report_t *r, const csvin_t *t, const char *path, mb_error_t *err)
{
    int col[CURVE_NCOLS];
    for (int k = 0; k < CURVE_NCOLS; k++)
        col[k] = (int)csvin_col(t, curve_cols[k]);
    for (size_t k = 0; k < sizeof curve_required / sizeof curve_required[0]; k++)
        if (col[curve_required[k]] < 0)
            return mb_fail(err, "%s: no column '%s' in the header (is this a training curve of `moebench train "
                                "--curve`? columns: docs/training.md)", path, curve_cols[curve_required[k]]);
    if (t->nrows == 0)
        return mb_fail(err, "%s: a training curve without rows; train for at least one step", path);
    if (r->n_curves >= REPORT_MAX_CURVES)
        return mb_fail(err, "%s: more than %d training curves in one report; give fewer", path, REPORT_MAX_CURVES);
    size_t cap = (size_t)r->cap_curves;
    if (mb_grow_cap((void **)&r->curves, &cap, (size_t)r->n_curves + 1, sizeof *r->curves))
        return mb_fail(err, "%s: out of memory", path);
    r->cap_curves = (int)cap;
    report_curve_t c;
    memset(&c, 0, sizeof c);
    c.path = path;
    curve_name(path, c.name, sizeof c.name);
    c.n = t->nrows;
    c.v = malloc(c.n * CURVE_NCOLS * sizeof *c.v);
    if (!c.v)
        return mb_fail(err, "%s: out of memory for %zu rows", path, c.n);
    for (size_t i = 0; i < c.n; i++) {
        double *row = c.v + i * CURVE_NCOLS;
        const double *prev = i ? row - CURVE_NCOLS : NULL;
        size_t line = t->line[i];
        for (int k = 0; k < CURVE_NCOLS; k++) {
            const char *cell = col[k] < 0 ? "" : csvin_get(t, i, (size_t)col[k]);
            int rc = csvin_number(cell, &row[k]);
            if (rc < 0) {
                curve_free(&c);
                return mb_fail(err, "%s:%zu: column '%s': '%s' is not a number", path, line, curve_cols[k], cell);
            }
            if (rc > 0)
                row[k] = NAN;
            int required = k == CURVE_STEP || k == CURVE_TOKENS || k == CURVE_CPU_S || k == CURVE_LOSS;
            if (required && rc > 0) {
                curve_free(&c);
                return mb_fail(err, "%s:%zu: column '%s' is empty; every row of a curve has it", path, line,
                               curve_cols[k]);
            }
        }
        const char *bad = NULL;
        if (row[CURVE_STEP] < 1 || row[CURVE_STEP] != floor(row[CURVE_STEP]))
            bad = "step is not a whole number >= 1";
        else if (prev && row[CURVE_STEP] <= prev[CURVE_STEP])
            bad = "step does not increase (rows out of order, or two runs in one file?)";
        else if (row[CURVE_TOKENS] < 0 || row[CURVE_CPU_S] < 0)
            bad = "tokens and cpu_s cannot be negative";
        else if (prev && (row[CURVE_TOKENS] < prev[CURVE_TOKENS] || row[CURVE_CPU_S] < prev[CURVE_CPU_S]))
            bad = "tokens or cpu_s decrease; they are totals since the start of the run";
        if (bad) {
            curve_free(&c);
            return mb_fail(err, "%s:%zu: %s", path, line, bad);
        }
    }
    summarise(&c);
    r->curves[r->n_curves++] = c;
    return 0;
}

/* ---------------------------------------------------------------- data files and figures */

/* File-name-safe text: letters, digits, '.', '_' and '-'; others become '-'. */
static void slug(char *out, size_t n, const char *in)
{
    size_t k = 0;
    for (; *in && k + 1 < n; in++) {
        char ch = *in;
        int keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                   ch == '_' || ch == '-';
        out[k++] = keep ? ch : '-';
    }
    out[k] = '\0';
}

/* The data file of curve i: NAME.csv in dir, NAME-2.csv ... when an earlier
 * curve has the same name. */
static void data_path(const report_t *r, int i, const char *dir, char *out, size_t n)
{
    char s[160];
    slug(s, sizeof s, r->curves[i].name);
    int same = 0;
    for (int j = 0; j < i; j++)
        same += !strcmp(r->curves[j].name, r->curves[i].name);
    if (same)
        snprintf(out, n, "%s/%s-%d.csv", dir, s, same + 1);
    else
        snprintf(out, n, "%s/%s.csv", dir, s);
}

static int write_curve(const report_curve_t *c, const char *path, mb_error_t *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return mb_fail(err, "%s: cannot write: %s", path, strerror(errno));
    for (int k = 0; k < CURVE_NCOLS; k++)
        fprintf(f, "%s%s", k ? "," : "", curve_cols[k]);
    fputc('\n', f);
    for (size_t i = 0; i < c->n; i++) {
        const double *row = c->v + i * CURVE_NCOLS;
        for (int k = 0; k < CURVE_NCOLS; k++) {
            if (k)
                fputc(',', f);
            if (!isnan(row[k]))
                fprintf(f, "%.10g", row[k]);
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) || bad)
        return mb_fail(err, "%s: cannot write: %s", path, strerror(errno ? errno : EIO));
    return 0;
}

int report_train_data(const report_t *r, const char *dir, report_figure_t *figs, int max, int *n, mb_error_t *err)
{
    char path[REPORT_ARG_MAX];
    for (int i = 0; i < r->n_curves; i++) {
        data_path(r, i, dir, path, sizeof path);
        if (write_curve(&r->curves[i], path, err))
            return -1;
    }
    int n_figs = (r->n_curves + REPORT_CURVES_PER_FIG - 1) / REPORT_CURVES_PER_FIG;
    for (int fi = 0; fi < n_figs; fi++) {
        if (*n >= max)
            return mb_fail(err, "report: no room for the training figures");
        report_figure_t *f = &figs[(*n)++];
        memset(f, 0, sizeof *f);
        f->kind = REPORT_FIG_TRAIN;
        f->group = REPORT_TRAIN_GROUP;
        snprintf(f->script, sizeof f->script, "train_curve.gp");
        int first = fi * REPORT_CURVES_PER_FIG, last = first + REPORT_CURVES_PER_FIG;
        last = last < r->n_curves ? last : r->n_curves;
        char s[160];
        if (r->n_curves == 1) /* one curve: the figure is named after it */
            slug(s, sizeof s, r->curves[0].name);
        else if (fi == 0)
            snprintf(s, sizeof s, "training-curves");
        else
            snprintf(s, sizeof s, "training-curves-%d", fi + 1);
        snprintf(f->name, sizeof f->name, "%s", s);
        snprintf(f->caption, sizeof f->caption,
                 "Training loss and greedy validation BLEU against steps and against CPU seconds%s",
                 n_figs > 1 ? " (one figure per six curves)" : "");
        snprintf(f->args[0], REPORT_ARG_MAX, "%s/%s", dir, s);
        snprintf(f->args[1], REPORT_ARG_MAX, "Training curves: loss (training batches, label-smoothed) and "
                                              "validation BLEU (greedy)");
        f->n_args = 2;
        for (int i = first; i < last; i++)
            data_path(r, i, dir, f->args[f->n_args++], REPORT_ARG_MAX);
    }
    return 0;
}

/* ---------------------------------------------------------------- REPORT.md */

static const char *num(char *b, size_t n, const char *fmt, double v)
{
    if (isnan(v))
        return "-";
    snprintf(b, n, fmt, v);
    return b;
}

void report_train_section(FILE *f, const report_t *r, const report_md_opts_t *o)
{
    if (!r->n_curves)
        return;
    char a[64], b[64], c[64], d[64], e[64];
    fprintf(f, "## Training\n\nCurves of `moebench train --curve` (columns: docs/training.md). Loss: the "
               "label-smoothed cross-entropy of the training batches, the mean of the last %d steps (one batch "
               "is noisy); validation: loss and greedy BLEU on the validation lines at the validation steps. "
               "Tokens are source + target tokens seen; CPU and wall time are totals across resumes.\n\n",
            REPORT_CURVE_TAIL);
    fprintf(f, "| curve | steps | tokens | CPU s | wall s | tokens per CPU-second | training loss | "
               "validation loss (last) | validation BLEU, last (step) | validation BLEU, best (step) |\n"
               "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for (int i = 0; i < r->n_curves; i++) {
        const report_curve_t *x = &r->curves[i];
        fprintf(f, "| `%s` | %s | %s | ", x->path, num(a, sizeof a, "%.0f", x->last_step),
                num(b, sizeof b, "%.0f", x->tokens));
        fprintf(f, "%s | %s | %s | ", num(a, sizeof a, "%.1f", x->cpu_s), num(b, sizeof b, "%.1f", x->wall_s),
                num(c, sizeof c, "%.0f", x->tok_per_cpu_s));
        fprintf(f, "%s | %s | ", num(a, sizeof a, "%.3f", x->loss_tail), num(b, sizeof b, "%.3f", x->vloss_last));
        if (x->n_valid)
            fprintf(f, "%s (%s) | %s (%s) |\n", num(a, sizeof a, "%.2f", x->vbleu_last),
                    num(b, sizeof b, "%.0f", x->vbleu_last_step), num(d, sizeof d, "%.2f", x->vbleu_best),
                    num(e, sizeof e, "%.0f", x->vbleu_best_step));
        else
            fprintf(f, "not validated | not validated |\n");
    }
    fprintf(f, "\n");
    report_md_figure_links(f, o, REPORT_TRAIN_GROUP);
}
