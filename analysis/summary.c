/* summary: the one-page vendor summary (see summary.h). */
#include "analysis/summary.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/version.h"
#include "common/mb_schema.h"

void summary_row_valid(const report_row_t *w, const summary_opts_t *o, char *why, size_t n)
{
    size_t at = 0;
    why[0] = '\0';
    /* a server probe that missed the bound was stopped early on purpose (more
     * than 1% of its queries late): short, and still a valid "too fast" */
    int missed = w->mode && !strcmp(w->mode, "server") && w->latency_ok == 0.0;
    if (!missed && !(w->wall_s >= o->min_duration_s))
        at += (size_t)snprintf(why + at, at < n ? n - at : 0, "%sran %.2f s < %g s", at ? "; " : "", w->wall_s,
                               o->min_duration_s);
    if (!missed && !isnan(w->sentences) && w->sentences < o->min_queries && at < n)
        at += (size_t)snprintf(why + at, n - at, "%s%.0f queries < %d", at ? "; " : "", w->sentences, o->min_queries);
    /* Starved: the runner's own verdict (its threads waited for a CPU, or
     * the hypervisor stole time: column starved) where the row has one. A
     * low CPU share by itself is normal in server mode (idle between
     * arrivals) and where parts of a step run on one thread, so it decides
     * only for rows without that verdict, outside server mode. */
    if (w->starved == 1.0 && at < n) {
        snprintf(why + at, n - at, "%sstarved: its threads waited for a CPU (column starved)", at ? "; " : "");
    } else if (isnan(w->starved) && !(w->mode && !strcmp(w->mode, "server")) && !isnan(w->task_clock_ms) &&
               w->wall_s > 0 && w->threads > 0 && at < n) {
        double share = w->task_clock_ms / 1e3 / (w->wall_s * w->threads);
        if (share < o->min_cpu_share)
            snprintf(why + at, n - at, "%sstarved: CPU time %.0f%% of %d thread%s x wall", at ? "; " : "",
                     100 * share, w->threads, w->threads == 1 ? "" : "s");
    }
}

static double median_of(double *v, int n)
{
    return n ? report_median(v, n) : NAN;
}

static const char *num(char *b, size_t n, const char *f, double v)
{
    if (isnan(v))
        snprintf(b, n, "-");
    else
        snprintf(b, n, f, v);
    return b;
}

/* The rows of series s's group and variant. */
static int in_series(const report_t *r, const report_row_t *w, const report_series_t *s)
{
    const report_group_t *g = &r->groups[s->group];
    return w->scenario == g->scenario && w->backend == g->backend && w->precision == g->precision &&
           w->threads == g->threads && w->decode == g->decode && w->variant == s->variant;
}

static void system_section(FILE *f, const report_t *r)
{
    fprintf(f, "## System\n\n");
    int shown = 0;
    for (int i = 0; i < r->n_sources; i++) {
        if (r->sources[i].kind != 'r')
            continue;
        char path[1100], line[1024];
        mb_schema_system_path(r->sources[i].path, path, sizeof path);
        FILE *s = fopen(path, "r");
        if (!s)
            continue;
        fprintf(f, "Recorded by `moebench run` beside `%s` (`%s`):\n\n```text\n", r->sources[i].path, path);
        while (fgets(line, sizeof line, s))
            if (line[0] != '#')
                fputs(line, f);
        fprintf(f, "```\n\n");
        fclose(s);
        shown++;
    }
    if (!shown) {
        fprintf(f, "No system description beside the results CSV%s (`moebench run` writes `NAME.system.txt` beside "
                   "`NAME.csv`; run again to have one). From the rows: ",
                r->n_sources == 1 ? "" : "s");
        for (int i = 0; i < r->n_cpu_models; i++)
            fprintf(f, "%s%s (%d logical CPUs)", i ? "; " : "", r->cpu_models[i], r->cores[i]);
        fprintf(f, "%s.\n\n", r->n_cpu_models ? "" : "CPU not recorded");
    }
}

static void precision_section(FILE *f, const report_t *r)
{
    fprintf(f, "## Precisions\n\n| backend | precision | on this machine |\n|---|---|---|\n");
    for (int g = 0; g < r->n_groups; g++) {
        int dup = 0;
        for (int h = 0; h < g && !dup; h++)
            dup = r->groups[h].backend == r->groups[g].backend && r->groups[h].precision == r->groups[g].precision;
        if (!dup)
            fprintf(f, "| %s | %s | supported: measured below |\n", r->groups[g].backend, r->groups[g].precision);
    }
    for (size_t i = 0; i < r->n_skips; i++) {
        const report_skip_t *k = &r->skips[i];
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = r->skips[j].backend == k->backend && r->skips[j].precision == k->precision;
        for (int g = 0; g < r->n_groups && !dup; g++)
            dup = r->groups[g].backend == k->backend && r->groups[g].precision == k->precision;
        if (!dup)
            fprintf(f, "| %s | %s | **not supported**: %s |\n", k->backend, k->precision, k->reason);
    }
    fprintf(f, "\n");
}

static void headline(FILE *f, const report_t *r, int g, const summary_opts_t *o, int *invalid_rows, int *rows_seen)
{
    const report_group_t *gr = &r->groups[g];
    char cfg[200], a[32], b[32], c[32], d[32], e[32], h[32];
    report_group_config(gr, cfg, sizeof cfg);
    double bound = NAN;
    for (size_t k = 0; k < r->n_rows && isnan(bound); k++)
        if (r->rows[k].scenario == gr->scenario && !strcmp(r->rows[k].mode, "server") && r->rows[k].bound_ms > 0)
            bound = r->rows[k].bound_ms;
    fprintf(f, "## `%s`: %s\n\n", gr->scenario, cfg);
    char srv[96];
    if (isnan(bound))
        snprintf(srv, sizeof srv, "server: highest rate meeting the p99 bound (1/s)");
    else
        snprintf(srv, sizeof srv, "server: highest rate with p99 <= %g ms (1/s)", bound);
    fprintf(f, "| variant | peak tokens/s (batch) | vs token-moe | time to first token, batch 1 (ms) | decode per "
               "token, batch 1 (ms) | decode tokens/s at the peak batch | %s | peak RSS (MiB) | weights (MiB) "
               "| valid |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n",
            srv);
    size_t cap = r->n_rows ? r->n_rows : 1;
    double *v1 = malloc(sizeof *v1 * cap), *v2 = malloc(sizeof *v2 * cap), *v3 = malloc(sizeof *v3 * cap);
    if (!v1 || !v2 || !v3) {
        free(v1);
        free(v2);
        free(v3);
        return;
    }
    for (int i = gr->first; i < gr->first + gr->n; i++) {
        const report_series_t *s = &r->series[i];
        int n1 = 0, n2 = 0, n3 = 0, bad = 0, rows = 0, servers = 0;
        double best_qps = NAN, rss = NAN, weights = NAN;
        char why[200] = "", first_why[200] = "";
        for (size_t k = 0; k < r->n_rows; k++) {
            const report_row_t *w = &r->rows[k];
            if (!in_series(r, w, s))
                continue;
            rows++;
            int ss = !strcmp(w->mode, "single-stream") || (!strcmp(w->mode, "offline") && w->batch_size == 1);
            if (ss && !isnan(w->prefill_ms))
                v1[n1++] = w->prefill_ms;
            if (ss && !isnan(w->decode_ms_per_token))
                v2[n2++] = w->decode_ms_per_token;
            if (!strcmp(w->mode, "offline") && w->batch_size == s->peak_batch && !isnan(w->decode_tok_per_s))
                v3[n3++] = w->decode_tok_per_s;
            if (!strcmp(w->mode, "server")) {
                servers++;
                if (w->latency_ok == 1 && (isnan(best_qps) || w->target_qps > best_qps))
                    best_qps = w->target_qps;
            }
            if (!isnan(w->rss_mb) && (isnan(rss) || w->rss_mb > rss))
                rss = w->rss_mb;
            if (!isnan(w->model_bytes) && (isnan(weights) || w->model_bytes > weights))
                weights = w->model_bytes;
            summary_row_valid(w, o, why, sizeof why);
            if (why[0] && !bad++)
                snprintf(first_why, sizeof first_why, "%s", why);
        }
        *invalid_rows += bad;
        *rows_seen += rows;
        char peak[48], qps[48];
        if (isnan(s->peak_tok_s))
            snprintf(peak, sizeof peak, "-");
        else
            snprintf(peak, sizeof peak, "%.1f (%d)", s->peak_tok_s, s->peak_batch);
        if (servers && isnan(best_qps))
            snprintf(qps, sizeof qps, "none met it");
        else
            num(qps, sizeof qps, "%.3g", best_qps);
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | ", s->variant, peak,
                num(a, sizeof a, "%.2fx", s->speedup), num(b, sizeof b, "%.2f", median_of(v1, n1)),
                num(c, sizeof c, "%.2f", median_of(v2, n2)), num(d, sizeof d, "%.1f", median_of(v3, n3)), qps,
                num(e, sizeof e, "%.0f", rss), num(h, sizeof h, "%.0f", weights / 1048576.0));
        if (!bad)
            fprintf(f, "yes (%d rows) |\n", rows);
        else
            fprintf(f, "**no**: %d of %d rows (e.g. %s) |\n", bad, rows, first_why);
    }
    free(v1);
    free(v2);
    free(v3);
    fprintf(f, "\n");
}

static void figures(FILE *f, const report_md_opts_t *mo, int g)
{
    for (int i = 0; i < mo->n_figs; i++) {
        const report_figure_t *x = &mo->figs[i];
        if (x->group != g || x->skipped[0] || (x->kind != REPORT_FIG_THROUGHPUT && x->kind != REPORT_FIG_LATENCY))
            continue;
        fprintf(f, "![%s](%s%s%s.png)\n\n*%s*\n\n", x->caption, mo->figures_rel, *mo->figures_rel ? "/" : "",
                x->name, x->caption);
    }
}

int summary_write_markdown(const report_t *r, const report_md_opts_t *mo, const summary_opts_t *o,
                           const char *path, mb_error_t *err)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return mb_fail(err, "%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return mb_fail(err, "%s: cannot write: %s", tmp, strerror(errno));
    fprintf(f, "# moebench vendor summary: %s\n\n", r->n_cpu_models ? r->cpu_models[0] : "unknown CPU");
    fprintf(f, "One page from `%s` (moebench %s): the MoE translation workload's throughput, latency, memory and "
               "server capacity on this machine, per backend and precision. Medians over repetitions.\n\n",
            mo->command ? mo->command : "moebench report --summary", MOEBENCH_VERSION);
    system_section(f, r);
    precision_section(f, r);
    int invalid = 0, rows = 0;
    for (int g = 0; g < r->n_groups; g++) {
        headline(f, r, g, o, &invalid, &rows);
        figures(f, mo, g);
    }
    fprintf(f, "**How to read it.** Peak tokens/s: the highest offline throughput over the batch sweep. Time to "
               "first token: encoder plus the first decoder step of a sentence at batch 1; decode per token: each "
               "decoder step after the first; decode tokens/s: tokens after each sentence's first, per second of "
               "decoding, at the peak batch (prefill and decode timed apart, as llama-bench's pp/tg). Server: "
               "Poisson arrivals; the highest offered rate whose p99 latency met the bound (with `server_search = "
               "yes`, found by doubling and bisection; a rate is stopped early once more than 1%% of its queries are "
               "late). Peak RSS: the process's peak resident memory while this variant ran; weights: its parameters "
               "in memory. Valid: every row ran at least %g s and %d queries and was not starved (column "
               "`starved`: its threads waited for a CPU more than 10%% of the time, or the hypervisor stole more "
               "than 5%%; for rows without that column, outside server mode: the process got less than %.0f%% of "
               "threads x wall-clock in CPU time), which means other jobs took the cores and the numbers are "
               "low. %d of %d rows are not valid%s.\n",
            o->min_duration_s, o->min_queries, 100 * o->min_cpu_share, invalid, rows,
            invalid ? ": rerun them on an idle machine, or longer (more sentences, `min_time_s`), before publishing"
                    : "");
    int bad = ferror(f);
    if (fclose(f) || bad) {
        int e = errno ? errno : EIO;
        remove(tmp);
        return mb_fail(err, "%s: cannot write: %s", tmp, strerror(e));
    }
    if (rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        return mb_fail(err, "%s: cannot rename to %s: %s", tmp, path, strerror(e));
    }
    return 0;
}
