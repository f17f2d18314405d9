/* report_md: REPORT.md from an aggregated report (see report.h): machine and
 * software, one table per scenario in the paper's layout, the paper's
 * published figures beside ours, the figures, and the commands that made it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/report.h"
#include "analysis/report_sig.h"
#include "analysis/report_train.h"
#include "common/version.h"

static const char *fmt(char *b, size_t n, const char *f, double v)
{
    if (isnan(v))
        return "-";
    snprintf(b, n, f, v);
    return b;
}

static const char *fmt_params(char *b, size_t n, double v)
{
    if (isnan(v))
        return "-";
    if (v >= 1e9)
        snprintf(b, n, "%.2fB", v / 1e9);
    else if (v >= 1e6)
        snprintf(b, n, "%.1fM", v / 1e6);
    else
        snprintf(b, n, "%.0fk", v / 1e3);
    return b;
}

/* What a `student` row built from random weights is called. */
#define STUDENT_UNTRAINED "student: dense-shaped, untrained (= dense)"

static const report_series_t *group_series(const report_t *r, int g, const char *variant)
{
    const report_group_t *gr = &r->groups[g];
    for (int i = gr->first; i < gr->first + gr->n; i++)
        if (!strcmp(r->series[i].variant, variant))
            return &r->series[i];
    return NULL;
}

/* Whether group g's BLEU speaks for a quality claim. Single-stream runs
 * translate a prefix of the test set one sentence at a time (the latency
 * scenario): their BLEU is over fewer sentences, so when any group has BLEU
 * from an offline sweep, only such groups do. */
static int bleu_group(const report_t *r, int g)
{
    int offline_bleu = 0;
    for (int h = 0; h < r->n_groups && !offline_bleu; h++) {
        const report_group_t *gr = &r->groups[h];
        for (int i = gr->first; i < gr->first + gr->n && !offline_bleu; i++)
            offline_bleu = r->series[i].n_batches > 0 && !isnan(r->series[i].bleu);
    }
    if (!offline_bleu)
        return 1;
    const report_group_t *gr = &r->groups[g];
    for (int i = gr->first; i < gr->first + gr->n; i++)
        if (r->series[i].n_batches > 0 && !isnan(r->series[i].bleu))
            return 1;
    return 0;
}

/* The A/A control a scenario carries for free: dense and the untrained
 * dense-shaped student compute the same work (same shapes, random weights),
 * so the difference of their peaks, in percent of dense's, is what the
 * machine's drift between variants measured one after another amounts to
 * (the intervals cover only the spread of one variant's repetitions). NAN
 * when the group lacks either. */
static double drift_pct(const report_t *r, int g)
{
    const report_series_t *d = group_series(r, g, "dense"), *s = group_series(r, g, "student");
    if (!d || !s || !s->untrained_student || isnan(d->peak_tok_s) || isnan(s->peak_tok_s) || d->peak_tok_s <= 0 ||
        d->params_total != s->params_total)
        return NAN;
    return 100 * (s->peak_tok_s / d->peak_tok_s - 1);
}

/* A path for a Markdown link: spaces and parentheses escaped. */
static void md_link(FILE *f, const char *dir, const char *name, const char *ext)
{
    char buf[1400];
    snprintf(buf, sizeof buf, "%s%s%s.%s", dir, *dir ? "/" : "", name, ext);
    for (const char *p = buf; *p; p++) {
        if (*p == ' ' || *p == '(' || *p == ')')
            fprintf(f, "%%%02X", (unsigned char)*p);
        else
            fputc(*p, f);
    }
}

/* ---------------------------------------------------------------- sections */

static void machine_section(FILE *f, const report_t *r, const report_md_opts_t *o)
{
    fprintf(f, "## Machine and software\n\n| | |\n|---|---|\n");
    fprintf(f, "| CPU | ");
    if (!r->n_cpu_models)
        fprintf(f, "not recorded");
    for (int i = 0; i < r->n_cpu_models; i++) {
        fprintf(f, "%s%s", i ? "; " : "", r->cpu_models[i]);
        if (r->cores[i] > 0)
            fprintf(f, ", %d cores", r->cores[i]);
    }
    fprintf(f, "%s |\n", r->more_cpu_models ? "; and more" : "");
    fprintf(f, "| moebench build | ");
    if (!r->n_git_revs)
        fprintf(f, "git revision not recorded");
    for (int i = 0; i < r->n_git_revs; i++)
        fprintf(f, "%s`%s`", i ? ", " : "git ", r->git_revs[i]);
    fprintf(f, "%s (this report: moebench %s) |\n", r->more_git_revs ? ", and more" : "", MOEBENCH_VERSION);
    fprintf(f, "| gnuplot | %s |\n", o->gnuplot_version ? o->gnuplot_version : "not found: figures not drawn");
    fprintf(f, "| configurations | ");
    for (int g = 0; g < r->n_groups; g++) {
        int dup = 0;
        for (int h = 0; h < g && !dup; h++)
            dup = r->groups[h].backend == r->groups[g].backend &&
                  r->groups[h].precision == r->groups[g].precision && r->groups[h].threads == r->groups[g].threads;
        if (!dup)
            fprintf(f, "%s%s %s, %d thread%s", g ? "; " : "", r->groups[g].backend, r->groups[g].precision,
                    r->groups[g].threads, r->groups[g].threads == 1 ? "" : "s");
    }
    fprintf(f, "%s |\n", r->n_groups ? "" : "-");
    fprintf(f, "| input | ");
    for (int i = 0; i < r->n_sources; i++)
        fprintf(f, "%s`%s` (%zu %s rows)", i ? ", " : "", r->sources[i].path, r->sources[i].rows,
                r->sources[i].kind == 'k' ? "kernel" : r->sources[i].kind == 't' ? "training curve"
                                            : r->sources[i].kind == 'b' ? "bootstrap" : "result");
    fprintf(f, " |\n");
    if (r->n_run_ids) {
        fprintf(f, "| runs | ");
        for (int i = 0; i < r->n_run_ids; i++)
            fprintf(f, "%s`%s`", i ? ", " : "", r->run_ids[i]);
        if (r->more_run_ids)
            fprintf(f, ", and more");
        if (r->first_timestamp)
            fprintf(f, "; %s to %s", r->first_timestamp, r->last_timestamp);
        fprintf(f, " |\n");
    }
    if (r->n_cpu_models > 1)
        fprintf(f, "\nThese results come from **different machines**: compare rows of one machine only.\n");
    if (r->n_starved)
        fprintf(f, "\n**Warning: %zu of %zu result rows ran starved** (column `starved`: the machine was busy, "
                   "see `starved_note`); their throughput and latency measure the other load as much as "
                   "moebench. Rerun on a quiet machine.\n", r->n_starved, r->n_rows);
    fprintf(f, "\n");
}

/* What the expert capacity dropped, under a table whose variants route to
 * experts: a throughput ratio between variants that skipped different shares
 * of their expert work is not like for like (docs/routing.md, Capacity). */
static void drop_note(FILE *f, const report_t *r, const report_group_t *gr)
{
    double lo = INFINITY, hi = -INFINITY;
    int any = 0;
    for (int i = gr->first; i < gr->first + gr->n; i++) {
        double d = r->series[i].dropped_share;
        if (isnan(d))
            continue;
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        any = 1;
    }
    if (!any || hi <= 0)
        return;
    fprintf(f, "\nExpert assignments dropped for capacity:");
    for (int i = gr->first, k = 0; i < gr->first + gr->n; i++)
        if (!isnan(r->series[i].dropped_share))
            fprintf(f, "%s %s %.1f%%", k++ ? "," : "", r->series[i].variant, 100 * r->series[i].dropped_share);
    fprintf(f, ".");
    if (hi - lo > 0.01)
        fprintf(f, " **These variants did different amounts of expert work**, so their throughput ratios are not "
                   "like for like (docs/routing.md, Capacity; since results schema 2 capacity is off unless a "
                   "scenario sets `capacity_factor`).");
    fprintf(f, "\n");
}

/* "1.08x" or, with an interval, "1.08x [1.05, 1.11]". */
static const char *fmt_speedup(char *out, size_t n, const report_series_t *s)
{
    if (isnan(s->speedup))
        snprintf(out, n, "-");
    else if (isnan(s->speedup_lo) || isinf(s->speedup_hi))
        snprintf(out, n, "%.2fx", s->speedup);
    else
        snprintf(out, n, "%.2fx [%.2f, %.2f]", s->speedup, s->speedup_lo, s->speedup_hi);
    return out;
}

static void scenario_table(FILE *f, const report_t *r, int g)
{
    const report_group_t *gr = &r->groups[g];
    char a[64], b[64], c[64], d[64];
    fprintf(f, "| variant | preset | parameters total | parameters served per task | parameters active per token "
               "| peak tokens/s (batch) | spread at peak (min–max) | speed-up vs token-moe | latency p50 (ms) "
               "| latency p99 (ms) | BLEU |\n");
    fprintf(f, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for (int i = gr->first; i < gr->first + gr->n; i++) {
        const report_series_t *s = &r->series[i];
        fprintf(f, "| %s | %s | %s | ", s->untrained_student ? STUDENT_UNTRAINED : s->variant,
                *s->preset ? s->preset : "-", fmt_params(a, sizeof a, s->params_total));
        fprintf(f, "%s | %s | ", fmt_params(a, sizeof a, s->params_served),
                fmt_params(b, sizeof b, s->params_active));
        if (isnan(s->peak_tok_s))
            fprintf(f, "- | - | ");
        else
            fprintf(f, "%.1f (%d) | %s–%s | ", s->peak_tok_s, s->peak_batch, fmt(a, sizeof a, "%.1f", s->peak_min),
                    fmt(b, sizeof b, "%.1f", s->peak_max));
        fprintf(f, "%s | %s | %s | %s |\n", s->untrained_student ? "= dense" : fmt_speedup(a, sizeof a, s),
                fmt(b, sizeof b, "%.2f", s->p50),
                fmt(c, sizeof c, "%.2f", s->p99), fmt(d, sizeof d, "%.2f", s->bleu));
    }
    drop_note(f, r, gr);
    int rmin = 1 << 30, rmax = 0, batches = 0;
    for (int i = gr->first; i < gr->first + gr->n; i++) {
        if (r->series[i].reps_min < rmin)
            rmin = r->series[i].reps_min;
        if (r->series[i].reps_max > rmax)
            rmax = r->series[i].reps_max;
        if (r->series[i].n_batches > batches)
            batches = r->series[i].n_batches;
    }
    fprintf(f, "\nMedians over %d", rmin);
    if (rmax != rmin)
        fprintf(f, "–%d", rmax);
    fprintf(f, " repetition%s per configuration. Peak tokens/s: the highest median target-token throughput over "
               "the offline batch sweep (%d batch size%s; the batch size in brackets); spread: the smallest and "
               "largest repetition at that batch size. Speed-up: peak over token-moe's peak in this table, with its "
               "95%% interval in brackets where the repetitions allow one (Hodges-Lehmann, as `moebench compare`: "
               "the ratios of the two variants' per-repetition throughputs at their peaks, tasks combined per "
               "repetition). "
               "Latency: single-stream, per sentence, mean over tasks. BLEU: sacreBLEU-compatible corpus BLEU, "
               "mean over tasks; `-` = not measured.\n\n",
            rmax == 1 ? "" : "s", batches, batches == 1 ? "" : "s");
    double drift = drift_pct(r, g);
    if (!isnan(drift)) {
        const report_series_t *d = group_series(r, g, "dense"), *s = group_series(r, g, "student");
        fprintf(f, "**Control.** dense and the untrained dense-shaped student compute the same work (same shapes, "
                   "random weights), and their peaks differ by %+.1f%% (%.1f against %.1f tokens/s). The variants "
                   "are measured one after another, so the machine's drift between them is in that figure and not "
                   "in the intervals above: ratios between variants within about %.0f%% of 1 are not resolved by "
                   "this run.\n\n",
                drift, s->peak_tok_s, d->peak_tok_s, fabs(drift) < 1 ? 1.0 : fabs(drift));
    }
}

static void server_table(FILE *f, const report_t *r, int g)
{
    const report_group_t *gr = &r->groups[g];
    int header = 0;
    char a[32], b[32], c[32];
    for (size_t k = 0; k < r->n_configs; k++) {
        const report_config_t *x = &r->configs[k];
        if (x->scenario != gr->scenario || x->backend != gr->backend || x->precision != gr->precision ||
            x->threads != gr->threads || x->decode != gr->decode || strcmp(x->mode, "server"))
            continue;
        if (!header) {
            fprintf(f, "Server mode (latency under load, medians over the repetitions):\n\n"
                       "| variant | task | offered load (1/s) | max batch | latency p50 (ms) | latency p90 (ms) "
                       "| latency p99 (ms) | repetitions |\n|---|---|--:|--:|--:|--:|--:|--:|\n");
            header = 1;
        }
        fprintf(f, "| %s | %s | %s | %d | ", x->variant, x->task, fmt(a, sizeof a, "%g", x->target_qps),
                x->batch_size);
        fprintf(f, "%s | %s | %s | %d |\n", fmt(a, sizeof a, "%.2f", x->p50.median),
                fmt(b, sizeof b, "%.2f", x->p90.median), fmt(c, sizeof c, "%.2f", x->p99.median), x->reps);
    }
    if (header)
        fprintf(f, "\n");
}

void report_md_figure_links(FILE *f, const report_md_opts_t *o, int g)
{
    for (int i = 0; i < o->n_figs; i++) {
        const report_figure_t *x = &o->figs[i];
        if (x->group != g)
            continue;
        if (x->skipped[0]) {
            fprintf(f, "- *%s* not drawn: %s.\n", x->script, x->skipped);
            continue;
        }
        fprintf(f, "\n![%s](", x->caption);
        md_link(f, o->figures_rel, x->name, "png");
        fprintf(f, ")\n\n*%s* ([SVG](", x->caption);
        md_link(f, o->figures_rel, x->name, "svg");
        fprintf(f, "))\n\n");
    }
    fprintf(f, "\n");
}

/* "ours" cells of the paper comparison: one entry per group that has what
 * the claim needs; `pick` returns 1 and fills the text when a group does. */
typedef int (*claim_fn)(const report_t *r, int g, char *out, size_t n);

static void claim_cell(FILE *f, const report_t *r, claim_fn fn)
{
    int any = 0;
    char v[200];
    for (int g = 0; g < r->n_groups; g++) {
        if (!fn(r, g, v, sizeof v))
            continue;
        char cfg[200];
        report_group_config(&r->groups[g], cfg, sizeof cfg);
        fprintf(f, "%s%s (`%s`, %s)", any ? "; " : "", v, r->groups[g].scenario, cfg);
        any = 1;
    }
    if (!any)
        fprintf(f, "not measured");
}

/* BLEU below this for every variant of a group: the models do not translate
 * that test set (e.g. caption-trained models on news), and differences or
 * shares of near-zero scores are noise, not claims. */
#define BLEU_FLOOR 1.0

/* 1 (and out says so) when no variant of group g reaches BLEU_FLOOR. */
static int bleu_untranslated(const report_t *r, int g, char *out, size_t n)
{
    double best = NAN;
    for (int i = 0; i < r->n_series; i++)
        if (r->series[i].group == g && !isnan(r->series[i].bleu) && !(r->series[i].bleu <= best))
            best = r->series[i].bleu;
    if (isnan(best) || best >= BLEU_FLOOR)
        return 0;
    snprintf(out, n, "not meaningful: no variant reaches %.0f BLEU on this test set (best %.2f), so they do not "
             "translate it", BLEU_FLOOR, best);
    return 1;
}

static int claim_bleu_delta(const report_t *r, int g, char *out, size_t n)
{
    const report_series_t *t = group_series(r, g, "task-moe"), *k = group_series(r, g, "token-moe");
    if (!t || !k || isnan(t->bleu) || isnan(k->bleu) || !bleu_group(r, g))
        return 0;
    if (bleu_untranslated(r, g, out, n))
        return 1;
    snprintf(out, n, "%+.2f", t->bleu - k->bleu);
    return 1;
}

static int speedup_for(const report_t *r, int g, char *out, size_t n, const char *preset, int other)
{
    const report_series_t *t = group_series(r, g, "task-moe"), *k = group_series(r, g, "token-moe");
    if (!t || !k || isnan(t->speedup))
        return 0;
    int match = !strcmp(k->preset, preset);
    if (other ? (!strcmp(k->preset, "wmt32e") || !strcmp(k->preset, "web128e")) : !match)
        return 0;
    char ci[192] = "";
    if (!isnan(t->speedup_lo) && !isinf(t->speedup_hi))
        snprintf(ci, sizeof ci, ", 95%% interval %.2f–%.2f over %d repetitions", t->speedup_lo, t->speedup_hi,
                 t->speedup_reps);
    double drift = drift_pct(r, g);
    if (!isnan(drift))
        snprintf(ci + strlen(ci), sizeof ci - strlen(ci), "; A/A control: dense vs dense-shaped student %+.1f%%",
                 drift);
    if (other)
        snprintf(out, n, "%.2fx (preset %s%s)", t->speedup, *k->preset ? k->preset : "unknown", ci);
    else if (*ci)
        snprintf(out, n, "%.2fx (%s)", t->speedup, ci + 2);
    else
        snprintf(out, n, "%.2fx", t->speedup);
    return 1;
}

static int claim_speed32(const report_t *r, int g, char *out, size_t n)
{
    return speedup_for(r, g, out, n, "wmt32e", 0);
}

static int claim_speed128(const report_t *r, int g, char *out, size_t n)
{
    return speedup_for(r, g, out, n, "web128e", 0);
}

static int claim_speed_other(const report_t *r, int g, char *out, size_t n)
{
    return speedup_for(r, g, out, n, "", 1);
}

/* Share of the token-moe's BLEU gain over dense that `variant` keeps. */
static int kept_gain(const report_t *r, int g, char *out, size_t n, const char *variant, const char *teacher)
{
    const report_series_t *s = group_series(r, g, variant), *k = group_series(r, g, teacher),
                          *d = group_series(r, g, "dense");
    if (!s || !k || !d || isnan(s->bleu) || isnan(k->bleu) || isnan(d->bleu) || !bleu_group(r, g))
        return 0;
    if (bleu_untranslated(r, g, out, n))
        return 1;
    double gain = k->bleu - d->bleu;
    if (fabs(gain) < 0.05)
        snprintf(out, n, "undefined: %s and dense BLEU are equal (%.2f)", teacher, k->bleu);
    else
        snprintf(out, n, "%.1f%%", 100 * (s->bleu - d->bleu) / gain);
    return 1;
}

static int claim_student(const report_t *r, int g, char *out, size_t n)
{
    const report_series_t *s = group_series(r, g, "student");
    if (s && s->untrained_student)
        return 0; /* a dense-shaped model nobody distilled says nothing about distillation */
    return kept_gain(r, g, out, n, "student", "token-moe");
}

static int claim_subnet(const report_t *r, int g, char *out, size_t n)
{
    return kept_gain(r, g, out, n, "task-subnet", "task-moe");
}

static int claim_params(const report_t *r, int g, char *out, size_t n)
{
    const report_series_t *k = group_series(r, g, "token-moe"), *d = group_series(r, g, "dense");
    if (!d)
        d = group_series(r, g, "student");
    if (!k || !d || isnan(k->params_total) || isnan(d->params_total))
        return 0;
    char a[32], b[32];
    snprintf(out, n, "%s vs %s", fmt_params(a, sizeof a, k->params_total), fmt_params(b, sizeof b, d->params_total));
    return 1;
}

static void paper_section(FILE *f, const report_t *r)
{
    fprintf(f, "## Beside the paper\n\nKudugunta et al., *Beyond Distillation: Task-level Mixture-of-Experts for "
               "Efficient Inference* (2021, arXiv 2110.03742), measured on TPUs; ours from the tables above.\n\n"
               "| claim | paper | this report |\n|---|---|---|\n");
    fprintf(f, "| BLEU, task-moe minus token-moe (32 experts, mean over 30 WMT pairs) | +1.0 | ");
    claim_cell(f, r, claim_bleu_delta);
    fprintf(f, " |\n| peak throughput, task-moe over token-moe, 32 experts (`wmt32e`) | 1.87x | ");
    claim_cell(f, r, claim_speed32);
    fprintf(f, " |\n| peak throughput, task-moe over token-moe, 128 experts (`web128e`, 200 pairs) | 2.6x | ");
    claim_cell(f, r, claim_speed128);
    fprintf(f, " |\n| peak throughput, task-moe over token-moe, other presets | - | ");
    claim_cell(f, r, claim_speed_other);
    fprintf(f, " |\n| distilled student: share of token-moe's BLEU gain over dense kept | 32%% | ");
    claim_cell(f, r, claim_student);
    fprintf(f, " |\n| task sub-network: share of task-moe's BLEU gain over dense kept | all | ");
    claim_cell(f, r, claim_subnet);
    fprintf(f, " |\n| parameters, token-moe vs dense (`wmt32e` vs `wmt-dense`) | 533M vs 142M | ");
    claim_cell(f, r, claim_params);
    fprintf(f, " |\n\n");
    if (r->n_sigs)
        fprintf(f, "Whether these BLEU differences are more than resampling noise: section *Significance* below "
                   "(paired bootstrap on the test lines).\n\n");

    int cores = 0, bleu_any = 0, bleu_high = 0;
    for (int i = 0; i < r->n_cpu_models; i++)
        cores = r->cores[i] > cores ? r->cores[i] : cores;
    for (int i = 0; i < r->n_series; i++) {
        bleu_any |= !isnan(r->series[i].bleu);
        bleu_high |= r->series[i].bleu >= 1.0;
    }
    fprintf(f, "**What differs on this machine.** The paper served its models on many TPU devices with the "
               "experts spread across them, so every token-routed MoE layer pays two all-to-all exchanges between "
               "devices; routing by task sends all tokens of a task to the same few experts, which removes most of "
               "that traffic and is where task routing saves most. Here the models run on one CPU");
    if (cores)
        fprintf(f, " (%d cores)", cores);
    fprintf(f, " with all experts in one memory: there is no all-to-all communication, so task routing can only "
               "save the gate computation, the per-token dispatch and combine, and the reading of expert weights "
               "that are not needed; smaller speed-ups than the paper's are expected. Our models have random "
               "weights unless they were trained or distilled with moebench, ");
    if (!bleu_any)
        fprintf(f, "and these results have no BLEU: the quality claims are not tested by this report.\n\n");
    else if (!bleu_high)
        fprintf(f, "and every BLEU here is below 1, as random weights give: the BLEU rows and the BLEU-based "
                   "claims say nothing about quality.\n\n");
    else
        fprintf(f, "so BLEU says something about quality only if these variants were trained (and the student "
                   "distilled) on the same data; even then the paper's models are far larger and trained far "
                   "longer: compare the direction of the differences, not their size.\n\n");
}

/* The fp32 group that group g is the same run of in another precision (same scenario, backend,
 * threads and decoding), or -1. */
static int fp32_twin(const report_t *r, int g)
{
    const report_group_t *a = &r->groups[g];
    for (int h = 0; h < r->n_groups; h++) {
        const report_group_t *b = &r->groups[h];
        if (h != g && !strcmp(b->precision, "fp32") && !strcmp(a->scenario, b->scenario) &&
            !strcmp(a->backend, b->backend) && a->threads == b->threads && !strcmp(a->decode, b->decode))
            return h;
    }
    return -1;
}

/* What a lower precision costs and gains against fp32 in the same scenario: BLEU (mean and per
 * task) and peak throughput, one row per variant and precision. Nothing when no scenario has
 * rows in fp32 and another precision. */
static void precision_section(FILE *f, const report_t *r)
{
    int any = 0;
    char a[64], b[64], c[64];
    for (int g = 0; g < r->n_groups; g++) {
        int h = strcmp(r->groups[g].precision, "fp32") ? fp32_twin(r, g) : -1;
        if (h < 0)
            continue;
        const report_group_t *gr = &r->groups[g];
        for (int i = gr->first; i < gr->first + gr->n; i++) {
            const report_series_t *s = &r->series[i], *base = group_series(r, h, s->variant);
            if (!base)
                continue;
            if (!any++)
                fprintf(f, "## Precision against fp32\n\nThe same scenario, backend, threads and decoding in fp32 "
                           "and in a lower precision, variant by variant: what quantisation costs in BLEU (on "
                           "trained models only does the difference mean anything) and what it gains in peak "
                           "offline throughput.\n\n| scenario | backend | variant | precision | BLEU | BLEU "
                           "fp32 | difference | per task (precision − fp32) | peak tokens/s | fp32 | speed-up |\n"
                           "|---|---|---|---|--:|--:|--:|---|--:|--:|--:|\n");
            fprintf(f, "| %s | %s, %d thread%s | %s | %s | %s | %s | %s | ", gr->scenario, gr->backend, gr->threads,
                    gr->threads == 1 ? "" : "s", s->variant, gr->precision, fmt(a, sizeof a, "%.2f", s->bleu),
                    fmt(b, sizeof b, "%.2f", base->bleu),
                    isnan(s->bleu) || isnan(base->bleu) ? "-" : fmt(c, sizeof c, "%+.2f", s->bleu - base->bleu));
            int shown = 0;
            for (int t = 0; t < gr->n_tasks; t++) {
                double x = report_series_task_bleu(r, s, gr->tasks[t]),
                       y = report_series_task_bleu(r, base, gr->tasks[t]);
                if (!isnan(x) && !isnan(y))
                    fprintf(f, "%s%s %+.2f", shown++ ? ", " : "", gr->tasks[t], x - y);
            }
            fprintf(f, "%s | %s | %s | ", shown ? "" : "-", fmt(a, sizeof a, "%.1f", s->peak_tok_s),
                    fmt(b, sizeof b, "%.1f", base->peak_tok_s));
            if (isnan(s->peak_tok_s) || isnan(base->peak_tok_s) || base->peak_tok_s <= 0)
                fprintf(f, "- |\n");
            else
                fprintf(f, "%.2fx |\n", s->peak_tok_s / base->peak_tok_s);
        }
    }
    if (any)
        fprintf(f, "\nBLEU: the mean over the scenario's tasks, as in its table above; peak: the highest median "
                   "throughput over its batch sweep. One repetition's throughput on a shared machine moves by "
                   "about 10%%: a speed-up within that of 1 is not established by one run.\n\n");
}

static void kernel_section(FILE *f, const report_t *r, const report_md_opts_t *o)
{
    if (!r->n_kernels)
        return;
    char a[32], b[32], c[32], d[32];
    fprintf(f, "## Compute kernels\n\nFrom `moebench kernels`: achieved rates against the machine's limits "
               "(medians over the repetitions).\n\n| backend | precision | threads | kernel | shape | GFLOP/s "
               "| of peak | GB/s | of peak bandwidth | repetitions |\n|---|---|--:|---|---|--:|--:|--:|--:|--:|\n");
    for (size_t i = 0; i < r->n_kernels; i++) {
        const report_kernel_t *k = &r->kernels[i];
        fprintf(f, "| %s | %s | %d | %s | %s | %s | %s | ", k->backend, k->precision, k->threads, k->kernel,
                *k->shape ? k->shape : "-", fmt(a, sizeof a, "%.1f", k->gflops),
                fmt(b, sizeof b, "%.1f%%", 100 * k->frac_peak));
        fprintf(f, "%s | %s | %d |\n", fmt(c, sizeof c, "%.1f", k->bw_gbs),
                fmt(d, sizeof d, "%.1f%%", 100 * k->frac_bw), k->reps);
    }
    fprintf(f, "\n");
    report_md_figure_links(f, o, -1);
}

/* What the CSVs say could not run here, and why (a precision the CPU lacks,
 * a backend not compiled in): recorded, not silently missing. */
static void skip_section(FILE *f, const report_t *r)
{
    if (!r->n_skips)
        return;
    fprintf(f, "## Not measured on this machine\n\n| what | backend | precision | threads | why | file |\n"
               "|---|---|---|--:|---|---|\n");
    for (size_t i = 0; i < r->n_skips; i++) {
        const report_skip_t *k = &r->skips[i];
        int dup = 0; /* a scenario writes one row per configuration; kernels one per file */
        for (size_t j = 0; j < i && !dup; j++)
            dup = r->skips[j].what == k->what && r->skips[j].backend == k->backend &&
                  r->skips[j].precision == k->precision && r->skips[j].threads == k->threads &&
                  r->skips[j].reason == k->reason;
        if (dup)
            continue;
        fprintf(f, "| %s | %s | %s | ", k->what, k->backend, k->precision);
        if (k->threads > 0)
            fprintf(f, "%d", k->threads);
        else
            fprintf(f, "all");
        fprintf(f, " | ");
        for (const char *p = k->reason; *p; p++) { /* a '|' would split the table cell */
            if (*p == '|')
                fputc('\\', f);
            fputc(*p, f);
        }
        fprintf(f, " | `%s` |\n", k->source);
    }
    fprintf(f, "\n");
}

static void commands_section(FILE *f, const report_t *r, const report_md_opts_t *o)
{
    fprintf(f, "## How this report was made\n\n```sh\n");
    for (int g = 0; g < r->n_groups; g++) {
        int dup = 0;
        for (int h = 0; h < g && !dup; h++)
            dup = r->groups[h].scenario == r->groups[g].scenario;
        if (dup)
            continue;
        fprintf(f, "moebench run scenarios/%s.ini", r->groups[g].scenario);
        const char *srcs[8];
        int ns = 0;
        for (size_t i = 0; i < r->n_rows && ns < 8; i++) {
            if (r->rows[i].scenario != r->groups[g].scenario)
                continue;
            int seen = 0;
            for (int k = 0; k < ns && !seen; k++)
                seen = srcs[k] == r->rows[i].source;
            if (!seen)
                srcs[ns++] = r->rows[i].source;
        }
        for (int k = 0; k < ns; k++)
            fprintf(f, "%s%s", k ? ", " : "    # wrote ", srcs[k]);
        fprintf(f, "\n");
    }
    for (int i = 0; i < r->n_sources; i++)
        if (r->sources[i].kind == 'k')
            fprintf(f, "moebench kernels %s%s--csv %s\n", r->sources[i].args ? r->sources[i].args : "",
                    r->sources[i].args ? " " : "", r->sources[i].path);
    for (int i = 0; i < r->n_sources; i++)
        if (r->sources[i].kind == 't')
            fprintf(f, "moebench train ... --curve %s    # the run's own options: docs/training.md\n",
                    r->sources[i].path);
    fprintf(f, "%s\n```\n\n", o->command ? o->command : "moebench report");
    if (o->n_gnuplot_cmds) {
        fprintf(f, "<details><summary>gnuplot commands run by <code>moebench report</code></summary>\n\n```sh\n");
        for (int i = 0; i < o->n_gnuplot_cmds; i++)
            fprintf(f, "%s\n", o->gnuplot_cmds[i]);
        fprintf(f, "```\n\n</details>\n");
    }
}

int report_write_markdown(const report_t *r, const report_md_opts_t *o, const char *path, mb_error_t *err)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return mb_fail(err, "%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return mb_fail(err, "%s: cannot write: %s", tmp, strerror(errno));
    fprintf(f, "# moebench report\n\nGenerated by `moebench report` (moebench %s) from %d CSV file%s; how to "
               "make it again is at the end.\n\n",
            MOEBENCH_VERSION, r->n_sources, r->n_sources == 1 ? "" : "s");
    machine_section(f, r, o);
    for (int g = 0; g < r->n_groups; g++) {
        char cfg[200], mach[300];
        report_group_config(&r->groups[g], cfg, sizeof cfg);
        report_group_machine(r, g, mach, sizeof mach);
        fprintf(f, "## Scenario `%s`: %s\n\nOn %s. Run with `moebench run scenarios/%s.ini`.\n\n",
                r->groups[g].scenario, cfg, mach, r->groups[g].scenario);
        scenario_table(f, r, g);
        server_table(f, r, g);
        report_md_figure_links(f, o, g);
    }
    if (r->n_groups)
        paper_section(f, r);
    precision_section(f, r);
    report_sig_section(f, r);
    report_train_section(f, r, o);
    kernel_section(f, r, o);
    skip_section(f, r);
    commands_section(f, r, o);
    int bad = ferror(f);
    if (fclose(f) || bad) {
        int e = errno ? errno : EIO;
        remove(tmp);
        return mb_fail(err, "%s: cannot write: %s", tmp, strerror(e));
    }
    if (rename(tmp, path)) /* the complete report stays where it is */
        return mb_fail(err, "%s: cannot rename to %s: %s; the complete report is kept as %s", tmp, path,
                       strerror(errno), tmp);
    return 0;
}
