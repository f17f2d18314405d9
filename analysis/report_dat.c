/* report_dat: the small data files that the gnuplot scripts in plots/ draw
 * (formats in plots/README.md), and the list of figures to draw (report.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "analysis/report.h"
#include "analysis/report_train.h"
#include "common/version.h"


/* ---------------------------------------------------------------- helpers */

/* A number for a data file: gnuplot reads "-" as missing (set datafile missing). */
static void dat(FILE *f, double v)
{
    if (isnan(v))
        fputs(" -", f);
    else
        fprintf(f, " %.6g", v);
}

static int scenario_groups(const report_t *r, const char *scenario)
{
    int n = 0;
    for (int g = 0; g < r->n_groups; g++)
        n += r->groups[g].scenario == scenario;
    return n;
}

/* File-name-safe text: letters, digits, '.', '_' and '-'; others become '-'. */
static void slugify(char *out, size_t n, const char *in)
{
    size_t k = 0;
    for (; *in && k + 1 < n; in++)
        out[k++] = (char)((*in >= 'a' && *in <= 'z') || (*in >= 'A' && *in <= 'Z') || (*in >= '0' && *in <= '9') ||
                                  *in == '.' || *in == '_' || *in == '-'
                              ? *in
                              : '-');
    out[k] = '\0';
}

/* The base name of a group's files: the scenario, plus the configuration when
 * the scenario was run in several. */
static void group_slug(const report_t *r, int g, char *out, size_t n)
{
    const report_group_t *gr = &r->groups[g];
    char raw[400];
    if (scenario_groups(r, gr->scenario) > 1)
        snprintf(raw, sizeof raw, "%s-%s-%s-%dt-%s", gr->scenario, gr->backend, gr->precision, gr->threads,
                 gr->decode);
    else
        snprintf(raw, sizeof raw, "%s", gr->scenario);
    slugify(out, n, raw);
}

void report_group_machine(const report_t *r, int g, char *out, size_t n)
{
    const report_group_t *gr = &r->groups[g];
    for (size_t i = 0; i < r->n_rows; i++) {
        const report_row_t *w = &r->rows[i];
        if (w->scenario == gr->scenario && w->backend == gr->backend && w->precision == gr->precision &&
            w->threads == gr->threads && w->decode == gr->decode) {
            if (w->cores > 0)
                snprintf(out, n, "%s (%d cores)", *w->cpu_model ? w->cpu_model : "unknown CPU", w->cores);
            else
                snprintf(out, n, "%s", *w->cpu_model ? w->cpu_model : "unknown CPU");
            return;
        }
    }
    snprintf(out, n, "unknown machine");
}

void report_group_config(const report_group_t *g, char *out, size_t n)
{
    snprintf(out, n, "%s %s, %d thread%s, %s", g->backend, g->precision, g->threads, g->threads == 1 ? "" : "s",
             g->decode);
}

/* ---------------------------------------------------------------- data files */

typedef struct writer {
    const char *dir;
    mb_error_t *err;
} writer_t;

static FILE *open_dat(const writer_t *w, char *path, size_t n, const char *name, const char *what)
{
    if ((size_t)snprintf(path, n, "%s/%s", w->dir, name) >= n) {
        mb_fail(w->err, "%s/%s: path too long", w->dir, name);
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        mb_fail(w->err, "%s: cannot write: %s", path, strerror(errno));
        return NULL;
    }
    fprintf(f, "# moebench report (moebench %s): %s\n", MOEBENCH_VERSION, what);
    return f;
}

static int close_dat(const writer_t *w, FILE *f, const char *path)
{
    int bad = ferror(f);
    if (fclose(f) || bad)
        return mb_fail(w->err, "%s: cannot write: %s", path, strerror(errno ? errno : EIO));
    return 0;
}

static report_figure_t *new_fig(report_figure_t *figs, int max, int *n, int kind, int g, const char *script,
                                const char *dir, const char *name, const char *caption, const char *title,
                                const char *subtitle)
{
    if (*n >= max)
        return NULL;
    report_figure_t *f = &figs[(*n)++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->group = g;
    snprintf(f->script, sizeof f->script, "%s", script);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->caption, sizeof f->caption, "%s", caption);
    snprintf(f->args[0], sizeof f->args[0], "%s/%s", dir, name);
    snprintf(f->args[1], sizeof f->args[1], "%s", title);
    snprintf(f->args[2], sizeof f->args[2], "%s", subtitle);
    f->n_args = 3;
    return f;
}

static void fig_arg(report_figure_t *f, const char *v)
{
    if (f->n_args < REPORT_FIG_ARGS)
        snprintf(f->args[f->n_args++], sizeof f->args[0], "%s", v);
}

/* Figures 1-4 and 6 for one group. */
/* Where each variant's peak label goes (y, in tokens/s): at its peak, but
 * labels at the same batch size kept at least 4.5% of the largest value
 * apart (about a line of text in the figure), placed highest first, each
 * under the last, so that none is drawn over another. */
static void peak_labels(const report_series_t *s, int n, double *y)
{
    double top = 0;
    for (int i = 0; i < n; i++) {
        y[i] = s[i].peak_tok_s;
        if (s[i].peak_max > top || s[i].peak_tok_s > top)
            top = s[i].peak_max > s[i].peak_tok_s ? s[i].peak_max : s[i].peak_tok_s;
    }
    const double gap = 0.045 * top;
    int done[64] = {0};
    for (int k = 0; k < n; k++) { /* take the highest unplaced peak, place it under those of its batch size */
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!done[i] && !isnan(s[i].peak_tok_s) && (best < 0 || s[i].peak_tok_s > s[best].peak_tok_s))
                best = i;
        if (best < 0)
            break;
        double lowest = NAN; /* labels already placed at this batch size descend; go under the last */
        for (int i = 0; i < n; i++)
            if (done[i] && s[i].peak_batch == s[best].peak_batch && (isnan(lowest) || y[i] < lowest))
                lowest = y[i];
        if (!isnan(lowest) && y[best] > lowest - gap)
            y[best] = lowest - gap;
        done[best] = 1;
    }
}

static int group_data(const report_t *r, int g, const writer_t *w, report_figure_t *figs, int max, int *nf)
{
    const report_group_t *gr = &r->groups[g];
    char slug[200], name[260], path[REPORT_ARG_MAX], path2[REPORT_ARG_MAX], mach[300], cfg[200], title[700];
    group_slug(r, g, slug, sizeof slug);
    report_group_machine(r, g, mach, sizeof mach);
    report_group_config(gr, cfg, sizeof cfg);
    char sub[520];
    snprintf(sub, sizeof sub, "%s; %s", mach, cfg);
    const report_series_t *s0 = &r->series[gr->first];
    int any_offline = 0, any_ss = 0, any_server = 0, any_bleu_speed = 0, any_params = 0;
    for (int i = 0; i < gr->n; i++) {
        const report_series_t *s = &s0[i];
        any_offline |= s->n_batches > 0;
        any_ss |= !isnan(s->p50);
        any_bleu_speed |= !isnan(s->bleu) && !isnan(s->peak_tok_s);
        any_params |= !isnan(s->params_total) || !isnan(s->params_served) || !isnan(s->params_active);
    }
    for (size_t i = 0; i < r->n_configs; i++) {
        const report_config_t *c = &r->configs[i];
        any_server |= c->scenario == gr->scenario && c->backend == gr->backend && c->precision == gr->precision &&
                      c->threads == gr->threads && c->decode == gr->decode && !strcmp(c->mode, "server");
    }
    FILE *f;
    report_figure_t *fig;

    /* 1: throughput against batch size */
    snprintf(name, sizeof name, "%s-throughput", slug);
    snprintf(title, sizeof title, "%s: offline throughput against batch size", gr->scenario);
    fig = new_fig(figs, max, nf, REPORT_FIG_THROUGHPUT, g, "throughput.gp", w->dir, name,
                  "Offline throughput (target tokens/s, median of the repetitions, bars: min-max) against batch "
                  "size; the peak of each variant is marked.",
                  title, sub);
    if (!any_offline) {
        snprintf(fig->skipped, sizeof fig->skipped, "no offline rows");
    } else {
        snprintf(name, sizeof name, "%s-throughput.dat", slug);
        if (!(f = open_dat(w, path, sizeof path, name, "offline throughput (target tokens/s) against batch size;\n"
                           "# one block per variant (gnuplot index), first line its name;\n"
                           "# columns: batch_size median_tok_s min_tok_s max_tok_s reps")))
            return -1;
        char vlist[REPORT_ARG_MAX] = "";
        for (int i = 0; i < gr->n; i++) {
            if (!s0[i].n_batches)
                continue;
            size_t l = strlen(vlist);
            snprintf(vlist + l, sizeof vlist - l, "%s%s", l ? " " : "", s0[i].variant);
            fprintf(f, "\n\n\"%s\"\n", s0[i].variant);
            for (int k = 0; k < s0[i].n_batches; k++) {
                const report_point_t *p = &s0[i].sweep[k];
                fprintf(f, "%d", p->batch_size);
                dat(f, p->tok_s);
                dat(f, p->min);
                dat(f, p->max);
                fprintf(f, " %d\n", p->reps);
            }
        }
        if (close_dat(w, f, path))
            return -1;
        fig_arg(fig, path);
        snprintf(name, sizeof name, "%s-throughput-peak.dat", slug);
        if (!(f = open_dat(w, path2, sizeof path2, name, "peak of each variant over the batch sweep, one row per "
                           "block of the throughput file;\n# columns: variant batch_size peak_tok_s label_y "
                           "(where its label goes: labels at one batch size spread apart)")))
            return -1;
        double label_y[64];
        peak_labels(s0, gr->n < 64 ? gr->n : 64, label_y);
        for (int i = 0; i < gr->n; i++) {
            if (!s0[i].n_batches)
                continue;
            fprintf(f, "\"%s\" %d", s0[i].variant, s0[i].peak_batch);
            dat(f, s0[i].peak_tok_s);
            dat(f, i < 64 ? label_y[i] : s0[i].peak_tok_s);
            fputc('\n', f);
        }
        if (close_dat(w, f, path2))
            return -1;
        fig_arg(fig, path2);
        fig_arg(fig, vlist);
    }

    /* 2: latency percentiles (single-stream) and against offered load (server) */
    snprintf(name, sizeof name, "%s-latency", slug);
    snprintf(title, sizeof title, "%s: latency per sentence", gr->scenario);
    fig = new_fig(figs, max, nf, REPORT_FIG_LATENCY, g, "latency.gp", w->dir, name,
                  any_ss && any_server ? "Latency per sentence: p50/p90/p99 in single-stream mode (left) and p50/p99 "
                                         "against offered load in server mode with the p99 bound (right)."
                  : any_server ? "Latency per sentence in server mode: p50 (dashed) and p99 (solid) against offered "
                                 "load, with the p99 bound (dotted)."
                               : "Latency per sentence in single-stream mode (batch 1): p50, p90 and p99 per variant.",
                  title, sub);
    if (!any_ss && !any_server) {
        snprintf(fig->skipped, sizeof fig->skipped, "no single-stream or server rows");
    } else {
        path[0] = path2[0] = '\0';
        if (any_ss) {
            snprintf(name, sizeof name, "%s-latency-single-stream.dat", slug);
            if (!(f = open_dat(w, path, sizeof path, name, "single-stream latency (ms), median of the repetitions, "
                               "mean over tasks;\n# columns: variant p50_ms p90_ms p99_ms")))
                return -1;
            for (int i = 0; i < gr->n; i++) {
                if (isnan(s0[i].p50))
                    continue;
                fprintf(f, "\"%s\"", s0[i].variant);
                dat(f, s0[i].p50);
                dat(f, s0[i].p90);
                dat(f, s0[i].p99);
                fputc('\n', f);
            }
            if (close_dat(w, f, path))
                return -1;
        }
        if (any_server) {
            snprintf(name, sizeof name, "%s-latency-server.dat", slug);
            if (!(f = open_dat(w, path2, sizeof path2, name, "server-mode latency (ms) against offered load;\n"
                               "# one block per variant (gnuplot index), first line its name;\n"
                               "# columns: target_qps p50_ms p90_ms p99_ms reps (medians of the repetitions)")))
                return -1;
            const char *last = NULL, *last_task = NULL, *one_task = NULL;
            char vlist[REPORT_ARG_MAX] = "", bound[32] = "";
            for (size_t k = 0; k < r->n_rows && !bound[0]; k++) { /* the scenario's p99 bound, for the figure */
                const report_row_t *x = &r->rows[k];
                if (x->scenario == gr->scenario && !strcmp(x->mode, "server") && x->bound_ms > 0)
                    snprintf(bound, sizeof bound, "%g", x->bound_ms);
            }
            int multi_task = 0; /* name the task in the legend only when it varies */
            for (size_t k = 0; k < r->n_configs; k++) {
                const report_config_t *c = &r->configs[k];
                if (c->scenario == gr->scenario && c->backend == gr->backend && c->precision == gr->precision &&
                    c->threads == gr->threads && c->decode == gr->decode && !strcmp(c->mode, "server")) {
                    multi_task |= one_task && one_task != c->task;
                    one_task = c->task;
                }
            }
            for (size_t k = 0; k < r->n_configs; k++) {
                const report_config_t *c = &r->configs[k];
                if (c->scenario != gr->scenario || c->backend != gr->backend || c->precision != gr->precision ||
                    c->threads != gr->threads || c->decode != gr->decode || strcmp(c->mode, "server") ||
                    isnan(c->target_qps))
                    continue;
                if (c->variant != last || c->task != last_task) {
                    size_t l = strlen(vlist);
                    snprintf(vlist + l, sizeof vlist - l, "%s%s", l ? " " : "", c->variant);
                    if (!multi_task)
                        fprintf(f, "\n\n\"%s\"\n", c->variant);
                    else
                        fprintf(f, "\n\n\"%s (%s)\"\n", c->variant, c->task);
                }
                last = c->variant;
                last_task = c->task;
                fprintf(f, "%.6g", c->target_qps);
                dat(f, c->p50.median);
                dat(f, c->p90.median);
                dat(f, c->p99.median);
                fprintf(f, " %d\n", c->reps);
            }
            if (close_dat(w, f, path2))
                return -1;
            fig_arg(fig, path);
            fig_arg(fig, path2);
            fig_arg(fig, vlist);
            fig_arg(fig, bound);
        } else {
            fig_arg(fig, path);
            fig_arg(fig, path2);
        }
    }

    /* 3: BLEU against peak throughput */
    snprintf(name, sizeof name, "%s-bleu-throughput", slug);
    snprintf(title, sizeof title, "%s: quality against speed", gr->scenario);
    fig = new_fig(figs, max, nf, REPORT_FIG_BLEU_SPEED, g, "bleu_throughput.gp", w->dir, name,
                  "BLEU against peak offline throughput, one point per variant (up and right is better).", title,
                  sub);
    if (!any_bleu_speed) {
        snprintf(fig->skipped, sizeof fig->skipped, "no variant has both BLEU and offline throughput");
    } else {
        snprintf(name, sizeof name, "%s-bleu-throughput.dat", slug);
        if (!(f = open_dat(w, path, sizeof path, name, "BLEU against peak throughput;\n"
                           "# columns: variant peak_tok_s bleu")))
            return -1;
        char vlist[REPORT_ARG_MAX] = "";
        for (int i = 0; i < gr->n; i++)
            if (!isnan(s0[i].bleu) && !isnan(s0[i].peak_tok_s)) {
                fprintf(f, "\"%s\" %.6g %.6g\n", s0[i].variant, s0[i].peak_tok_s, s0[i].bleu);
                size_t l = strlen(vlist);
                snprintf(vlist + l, sizeof vlist - l, "%s%s", l ? " " : "", s0[i].variant);
            }
        if (close_dat(w, f, path))
            return -1;
        fig_arg(fig, path);
        fig_arg(fig, vlist);
    }

    /* 4: parameters */
    snprintf(name, sizeof name, "%s-params", slug);
    snprintf(title, sizeof title, "%s: model size per variant", gr->scenario);
    fig = new_fig(figs, max, nf, REPORT_FIG_PARAMS, g, "params.gp", w->dir, name,
                  "Parameters per variant: total, loaded to serve one task, and active per token.", title, mach);
    if (!any_params) {
        snprintf(fig->skipped, sizeof fig->skipped, "no parameter counts");
    } else {
        snprintf(name, sizeof name, "%s-params.dat", slug);
        if (!(f = open_dat(w, path, sizeof path, name, "parameters in millions;\n"
                           "# columns: variant total served_per_task active_per_token")))
            return -1;
        double lo = NAN, hi = NAN;
        for (int i = 0; i < gr->n; i++) {
            fprintf(f, "\"%s\"", s0[i].variant);
            dat(f, s0[i].params_total / 1e6);
            dat(f, s0[i].params_served / 1e6);
            dat(f, s0[i].params_active / 1e6);
            fputc('\n', f);
            double v[3] = {s0[i].params_total, s0[i].params_served, s0[i].params_active};
            for (int k = 0; k < 3; k++) {
                if (!(v[k] > 0))
                    continue;
                lo = isnan(lo) || v[k] < lo ? v[k] : lo;
                hi = isnan(hi) || v[k] > hi ? v[k] : hi;
            }
        }
        if (close_dat(w, f, path))
            return -1;
        fig_arg(fig, path);
        fig_arg(fig, hi > 50 * lo ? "log" : "linear"); /* small bars stay visible beside 13B */
    }

    /* 6: BLEU per task */
    snprintf(name, sizeof name, "%s-task-bleu", slug);
    snprintf(title, sizeof title, "%s: BLEU per task", gr->scenario);
    fig = new_fig(figs, max, nf, REPORT_FIG_TASK_BLEU, g, "task_bleu.gp", w->dir, name,
                  "BLEU per task (language pair), one bar per variant.", title, sub);
    if (gr->n_tasks < 2) {
        snprintf(fig->skipped, sizeof fig->skipped, "fewer than two tasks with BLEU");
    } else {
        snprintf(name, sizeof name, "%s-task-bleu.dat", slug);
        if (!(f = open_dat(w, path, sizeof path, name, "BLEU per task (median of the repetitions);\n"
                           "# one row per task, one column per variant (header row), '-' = not measured")))
            return -1;
        char vlist[REPORT_ARG_MAX] = "";
        fprintf(f, "task");
        for (int i = 0; i < gr->n; i++) {
            fprintf(f, " \"%s\"", s0[i].variant);
            size_t l = strlen(vlist);
            snprintf(vlist + l, sizeof vlist - l, "%s%s", l ? " " : "", s0[i].variant);
        }
        fputc('\n', f);
        for (int t = 0; t < gr->n_tasks; t++) {
            fprintf(f, "\"%s\"", gr->tasks[t]);
            for (int i = 0; i < gr->n; i++)
                dat(f, report_series_task_bleu(r, &s0[i], gr->tasks[t]));
            fputc('\n', f);
        }
        if (close_dat(w, f, path))
            return -1;
        fig_arg(fig, path);
        char nv[16];
        snprintf(nv, sizeof nv, "%d", gr->n);
        fig_arg(fig, nv);
        fig_arg(fig, vlist);
    }
    return 0;
}

/* Figure 5, machine-wide: kernels against the machine's limits, one figure
 * per backend and precision (a fixed-size figure stays readable: about 20
 * kernels each, where all of them in one grew to 3,000 px and clipped). */
static int kernel_data(const report_t *r, const writer_t *w, report_figure_t *figs, int max, int *nf)
{
    char path[REPORT_ARG_MAX], title[700], sub[300], name[200], slug[160];
    snprintf(sub, sizeof sub, "%s%s", r->n_cpu_models ? r->cpu_models[0] : "unknown CPU",
             r->n_cpu_models > 1 ? " (and others)" : "");
    const char *caption = "Kernels: achieved GFLOP/s as a share of peak compute (blue) and bandwidth as a share of "
                          "peak bandwidth (orange); the bar labels give the rates and the limits.";
    if (!r->n_kernels) {
        report_figure_t *fig = new_fig(figs, max, nf, REPORT_FIG_KERNELS, -1, "kernels.gp", w->dir, "kernels",
                                       caption, "compute kernels", sub);
        snprintf(fig->skipped, sizeof fig->skipped, "no kernels CSV given (moebench kernels --csv FILE)");
        return 0;
    }
    for (size_t first = 0; first < r->n_kernels; first++) {
        const report_kernel_t *k0 = &r->kernels[first];
        int seen_before = 0;
        for (size_t j = 0; j < first && !seen_before; j++)
            seen_before = r->kernels[j].backend == k0->backend && r->kernels[j].precision == k0->precision;
        if (seen_before)
            continue;
        if (*nf >= max)
            return mb_fail(w->err, "report: room for %d figures, more needed for the kernels", max);
        snprintf(name, sizeof name, "kernels-%s-%s", k0->backend, k0->precision);
        slugify(slug, sizeof slug, name);
        snprintf(title, sizeof title, "compute kernels, %s %s: achieved share of the machine's limits", k0->backend,
                 k0->precision);
        report_figure_t *fig = new_fig(figs, max, nf, REPORT_FIG_KERNELS, -1, "kernels.gp", w->dir, slug, caption,
                                       title, sub);
        snprintf(name, sizeof name, "%s.dat", slug);
        FILE *f = open_dat(w, path, sizeof path, name,
                           "kernels against the machine's limits (medians of the repetitions);\n"
                           "# columns: row label gflops peak_gflops fraction_of_peak gbs peak_gbs "
                           "fraction_of_bandwidth reps\n# ('-' = not measured; fractions are 0..1)");
        if (!f)
            return -1;
        int rows = 0;
        for (size_t i = first; i < r->n_kernels; i++) {
            const report_kernel_t *k = &r->kernels[i];
            if (k->backend != k0->backend || k->precision != k0->precision || (isnan(k->frac_peak) && isnan(k->frac_bw)))
                continue;
            fprintf(f, "%d \"%s%s%s, %dt\"", rows++, k->kernel, *k->shape ? " " : "", k->shape, k->threads);
            dat(f, k->gflops);
            dat(f, k->peak_gflops);
            dat(f, k->frac_peak);
            dat(f, k->bw_gbs);
            dat(f, k->peak_bw_gbs);
            dat(f, k->frac_bw);
            fprintf(f, " %d\n", k->reps);
        }
        if (close_dat(w, f, path))
            return -1;
        if (!rows)
            snprintf(fig->skipped, sizeof fig->skipped, "the kernels CSV has no rate with a limit to compare with");
        fig_arg(fig, path);
    }
    return 0;
}

int report_write_data(const report_t *r, const char *dir, report_figure_t *figs, int max, int *n, mb_error_t *err)
{
    writer_t w = {dir, err};
    *n = 0;
    if (max < r->n_groups * (REPORT_FIG_KINDS - 1) + 1)
        return mb_fail(err, "report: room for %d figures, at least %d needed", max,
                       r->n_groups * (REPORT_FIG_KINDS - 1) + 1);
    for (int g = 0; g < r->n_groups; g++)
        if (group_data(r, g, &w, figs, max, n))
            return -1;
    if (kernel_data(r, &w, figs, max, n))
        return -1;
    return report_train_data(r, dir, figs, max, n, err);
}
