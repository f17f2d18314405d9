/* cmd_compare: `moebench compare BASE.csv NEW.csv`: reads two results files
 * (csvin.c), judges them (compare.c) and prints the verdicts as a text table,
 * markdown (for a pull-request comment) or JSON; the exit status is the CI
 * verdict: 0 no regression, 1 a regression, 2 could not judge or bad input.
 * `compare --run` (interleaved runs of two builds) is cmd_compare_run.c's. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/mb_parse.h"
#include "cli/cli.h"
#include "common/mb_text.h"
#include "analysis/compare.h"
#include "analysis/csvin.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: moebench compare BASE.csv NEW.csv [options]\n"
"       moebench compare --run BASE_BINARY NEW_BINARY SCENARIO.ini [--rounds N] [options]\n"
"\n"
"Compares two results files written by `moebench run` (see results/README.md).\n"
"Rows are matched by configuration (scenario, mode, variant, backend, precision,\n"
"threads, task, batch_size, decode, target_qps); the rows of a configuration are\n"
"its repetitions. For each configuration in both files and each metric: the\n"
"medians, their ratio NEW/BASE with a 1-alpha interval (Hodges-Lehmann on log\n"
"values), a two-sided Mann-Whitney U test (exact for small samples), and a verdict:\n"
"  regressed     worse by more than the threshold, and significant (p <= alpha)\n"
"  improved      better by more than the threshold, and significant\n"
"  unchanged     not beyond the threshold\n"
"  inconclusive  could not judge: too few repetitions for p <= alpha ever to happen\n"
"                (the note says how many are needed), beyond the threshold but not\n"
"                significant, repetitions too short to time (--min-rep-time),\n"
"                too few left after leaving out starved ones (column starved:\n"
"                the machine was busy), or BASE and NEW ran different kernels\n"
"  not measured  the metric's cells are empty in that configuration\n"
"Instruction counts (papi_tot_ins, callgrind_ir; judged by default when both\n"
"files have values) are deterministic: regressed when the median grew by more\n"
"than --ins-threshold, no test. Configurations in only one file are listed.\n"
"The p-values of one comparison are Holm-corrected over all its tests (every\n"
"metric of every configuration whose samples can reach alpha), so that an\n"
"unchanged build is called regressed or improved anywhere with probability at\n"
"most alpha, not alpha per test; more tests need more repetitions (the note\n"
"of an inconclusive verdict says how many).\n"
"Wall-clock metrics leave out repetitions marked starved. Notes say when the\n"
"files come from different machines, library builds, compilers or scenarios.\n"
"\n"
"--run: runs the two builds alternately on this machine, BASE NEW NEW BASE BASE\n"
"NEW ... (fresh processes; each round runs ceil(repetitions / N) of the\n"
"scenario's repetitions of every configuration), keeps the files in --out DIR\n"
"(base.csv, new.csv, one .log per process) and judges them with the run as the\n"
"unit (--unit run). Under --count-instructions every process runs under\n"
"callgrind and only instruction counts are judged unless --metric says more.\n"
"  --rounds N             rounds (default 8: enough for up to 64 tests under\n"
"                         Holm's correction at alpha 0.01;\n"
"                         1 with --count-instructions: counts do not vary)\n"
"  --out DIR              where the files go (default compare-run)\n"
"  --count-instructions   run both under callgrind (moebench run's option)\n"
"\n"
"options:\n"
"  --metric M[,M...]      columns to judge (default: tgt_tok_per_s,latency_p99_ms\n"
"                         and the instruction counts; only callgrind_ir when\n"
"                         both files have it: those rows were timed under\n"
"                         valgrind). Higher is better for\n"
"                         throughputs (*_per_s), bleu, chrf, latency_ok; lower for\n"
"                         latencies, wall_s, peak_rss_mb, papi_*, callgrind_ir,\n"
"                         task_clock_ms, page_faults, dropped_*, params_*,\n"
"                         model_bytes; any other numeric column is taken as\n"
"                         lower-is-better, with a note\n"
"  --threshold P          change that matters, in percent (default 5%%)\n"
"  --ins-threshold P      the same for instruction counts (default 1%%)\n"
"  --alpha A              significance level of the test (default 0.01)\n"
"  --unit rep|run         what one sample is: a repetition (default) or a run\n"
"                         (the median of the rows sharing a run_id); --run\n"
"                         uses run\n"
"  --min-rep-time S       wall-clock metrics are not judged when the median\n"
"                         repetition lasts less than S seconds (default 0.05)\n"
"  --ignore-key K[,K...]  leave key columns out of matching, e.g. `threads` to\n"
"                         compare a 2-thread run with a 1-thread run\n"
"  --format F             text (default; a table for people, may change),\n"
"                         markdown (a summary line and a table for a pull\n"
"                         request), json (stable, below)\n"
"  -h, --help             this text\n"
"\n"
"exit status: 0 no regression (every metric judged: unchanged, improved or not\n"
"measured), 1 at least one regression, 2 bad input (unreadable file, missing\n"
"column, a cell that is not a number, bad option) or could not judge (an\n"
"inconclusive verdict and no regression, or no configuration in both files). The\n"
"last line of the text output and the first of the markdown say which.\n"
"\n"
"JSON (stable keys), one object:\n"
"  base, new (the paths); threshold, ins_threshold, alpha (fractions);\n"
"  holm_family (tests in Holm's correction);\n"
"  ignored_keys [names]; unit (\"rep\" | \"run\"); min_rep_time (s);\n"
"  regression (true when any verdict is regressed); exit_status (0 | 1 | 2, as\n"
"  above); result (\"no_regression\" | \"regression\" | \"could_not_judge\");\n"
"  starved_base, starved_new (rows marked starved);\n"
"  summary {regressed, improved, unchanged, inconclusive, not_measured,\n"
"    only_in_base, only_in_new} (counts);\n"
"  comparisons [{config {key column: value, for each matched key column},\n"
"    metric, direction (\"higher_is_better\" | \"lower_is_better\"),\n"
"    direction_known, kind (\"test\" | \"count\"), n_base, n_new (non-empty\n"
"    cells), median_base, median_new, ratio (median_new / median_base),\n"
"    change (ratio - 1), confidence (1 - alpha), ci_low, ci_high (bounds of the\n"
"    ratio; ci_high null when the samples are too small to bound it), hl_ratio\n"
"    (Hodges-Lehmann estimate), p, p_holm (p as is and Holm-corrected), test (\"exact\" | \"exact-ties\" | \"normal\";\n"
"    null for counts), verdict (\"regressed\" | \"improved\" | \"unchanged\" |\n"
"    \"inconclusive\" | \"not_measured\"), reps_needed (repetitions needed in\n"
"    each file; 0 unless too few), noise (standard deviation of log(value)\n"
"    within each file: how much one repetition varies), detectable_change\n"
"    (the relative change these sample sizes detect 9 times in 10 at this\n"
"    test's Holm level; docs/ci.md), note (\"\" or why)}];\n"
"  only_in_base, only_in_new [config objects]; notes [strings].\n"
"  Numbers that do not exist (no test, no interval) are null.\n");
}

/* ---- options ---- */

typedef struct list {
    char **item;
    size_t n;
} list_t;

static void list_free(list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->item[i]);
    free(l->item);
}

/* Appends the comma-separated names of `text`; empty names are an error. */
static int list_add(list_t *l, const char *opt, const char *text, mb_error_t *err)
{
    const char *s = text;
    for (;;) {
        size_t len = strcspn(s, ",");
        if (len == 0)
            return mb_fail(err, "compare: %s: empty name in '%s'", opt, text);
        char **it = realloc(l->item, (l->n + 1) * sizeof *it);
        if (!it)
            return mb_fail(err, "compare: out of memory");
        l->item = it;
        if (!(it[l->n] = strndup(s, len)))
            return mb_fail(err, "compare: out of memory");
        l->n++;
        if (!s[len])
            return 0;
        s += len + 1;
    }
}

/* "5%", "5" or "0.5%": a percentage, returned as a fraction. */
static int parse_percent(const char *opt, const char *text, double *out, mb_error_t *err)
{
    char buf[64];
    size_t len = strlen(text);
    if (len >= sizeof buf)
        return mb_fail(err, "compare: %s: '%s' is not a percentage", opt, text);
    memcpy(buf, text, len + 1);
    if (len && buf[len - 1] == '%')
        buf[len - 1] = '\0';
    if (mb_parse_double(opt, buf, 0.0, 1000.0, out, err))
        return mb_fail(err, "compare: %s: '%s' is not a percentage in [0%%, 1000%%]", opt, text);
    *out /= 100.0;
    return 0;
}

/* ---- formatting helpers ---- */

static const char *verdict_text(cmp_verdict_t v)
{
    return v == CMP_NOT_MEASURED ? "not measured" : cmp_verdict_id(v);
}

static void fmt_value(char *b, size_t n, double v)
{
    if (isnan(v))
        snprintf(b, n, "-");
    else if (fabs(v) >= 1e4 || (v == floor(v) && fabs(v) < 1e15))
        snprintf(b, n, "%.0f", v);
    else
        snprintf(b, n, "%.4g", v);
}

static void fmt_change(char *b, size_t n, const cmp_stat_t *s)
{
    if (isnan(s->ratio))
        snprintf(b, n, "-");
    else if (isinf(s->ratio))
        snprintf(b, n, "%s", s->ratio > 0 ? "+inf" : "-inf");
    else
        snprintf(b, n, s->is_count ? "%+.2f%%" : "%+.1f%%", 100.0 * (s->ratio - 1.0));
}

static void fmt_interval(char *b, size_t n, const cmp_stat_t *s)
{
    if (isnan(s->ci_lo))
        snprintf(b, n, "-");
    else if (isinf(s->ci_hi))
        snprintf(b, n, "unbounded");
    else
        snprintf(b, n, "[%+.1f%%, %+.1f%%]", 100.0 * (s->ci_lo - 1.0), 100.0 * (s->ci_hi - 1.0));
}

static void fmt_p(char *b, size_t n, const cmp_stat_t *s)
{
    if (!s->tested)
        snprintf(b, n, "-");
    else if (s->p_adj < 0.0001)
        snprintf(b, n, "<0.0001");
    else
        snprintf(b, n, "%.3g", s->p_adj);
}

/* The cells of one comparison row. note_no: 1-based number of its note, 0 none. */
#define CELL 256
enum { C_CONFIG, C_METRIC, C_N, C_BASE, C_NEW, C_CHANGE, C_CI, C_P, C_VERDICT, C_COLS };

static void row_cells(const cmp_report_t *r, const cmp_entry_t *e, int show_config, int note_no,
                      char cell[C_COLS][CELL])
{
    const cmp_stat_t *s = &e->s;
    snprintf(cell[C_CONFIG], CELL, "%s", show_config ? r->configs[e->config].label : "");
    snprintf(cell[C_METRIC], CELL, "%s", mb_term(r->metrics[e->metric].name));
    snprintf(cell[C_N], CELL, "%zu/%zu", s->n_base, s->n_new);
    fmt_value(cell[C_BASE], CELL, s->med_base);
    fmt_value(cell[C_NEW], CELL, s->med_new);
    fmt_change(cell[C_CHANGE], CELL, s);
    fmt_interval(cell[C_CI], CELL, s);
    fmt_p(cell[C_P], CELL, s);
    if (note_no)
        snprintf(cell[C_VERDICT], CELL, "%s [%d]", verdict_text(s->verdict), note_no);
    else
        snprintf(cell[C_VERDICT], CELL, "%s", verdict_text(s->verdict));
}

/* How the p column is corrected: ", p Holm-corrected over 8 tests" or "". */
static const char *holm_text(const cmp_report_t *r)
{
    static char b[80];
    if (r->family <= 1)
        return "";
    snprintf(b, sizeof b, ", p Holm-corrected over %zu tests", r->family);
    return b;
}

static void header_cells(const cmp_report_t *r, char cell[C_COLS][CELL])
{
    static const char *const names[C_COLS] = {"configuration", "metric", "n", "base", "new",
                                              "change", "", "p", "verdict"};
    for (int c = 0; c < C_COLS; c++)
        snprintf(cell[c], CELL, "%s", names[c]);
    snprintf(cell[C_CI], CELL, "%g%% interval", 100.0 * (1.0 - r->alpha));
}

static size_t configs_in(const cmp_report_t *r, int is_new)
{
    size_t k = 0;
    for (size_t c = 0; c < r->nconfigs; c++)
        k += is_new ? r->configs[c].n_new > 0 : r->configs[c].n_base > 0;
    return k;
}

static void summary_counts(const cmp_report_t *r, FILE *f)
{
    fprintf(f, "%zu regressed, %zu improved, %zu unchanged, %zu inconclusive, %zu not measured",
            r->count[CMP_REGRESSED], r->count[CMP_IMPROVED], r->count[CMP_UNCHANGED],
            r->count[CMP_INCONCLUSIVE], r->count[CMP_NOT_MEASURED]);
}

/* The verdict of the whole comparison, in words (cmp_exit_status's). */
static const char *result_text(const cmp_report_t *r)
{
    static char buf[160];
    switch (cmp_exit_status(r)) {
    case 1: return "REGRESSION";
    case 0: return "no regression";
    default:
        if (!r->nentries)
            return "could not judge: no configuration is in both files";
        snprintf(buf, sizeof buf, "could not judge: %zu inconclusive verdict%s (see the notes)",
                 r->count[CMP_INCONCLUSIVE], r->count[CMP_INCONCLUSIVE] == 1 ? "" : "s");
        return buf;
    }
}

static const char *result_id(const cmp_report_t *r)
{
    int s = cmp_exit_status(r);
    return s == 1 ? "regression" : s == 0 ? "no_regression" : "could_not_judge";
}

static void header_extra(const cmp_report_t *r, FILE *f)
{
    if (r->per_run)
        fputs("the unit is the run: each run's rows give one value, their median\n", f);
    if (r->starved_base || r->starved_new)
        fprintf(f, "starved rows (the machine was busy; left out of wall-clock metrics): %zu in BASE, "
                   "%zu in NEW\n", r->starved_base, r->starved_new);
}

/* ---- text ---- */

static void print_cells(FILE *f, char cell[C_COLS][CELL], const size_t w[C_COLS])
{
    static const int right[C_COLS] = {0, 0, 1, 1, 1, 1, 0, 1, 0};
    for (int c = 0; c < C_COLS; c++) {
        if (c)
            fputs("  ", f);
        if (c == C_COLS - 1)
            fputs(cell[c], f);
        else
            fprintf(f, right[c] ? "%*s" : "%-*s", (int)w[c], cell[c]);
    }
    fputc('\n', f);
}

/* Numbers the distinct entry notes 1, 2, ... in order of first use (identical
 * notes share a number); num[i] is 0 for an entry without a note. */
static int *note_numbers(const cmp_report_t *r)
{
    int *num = calloc(r->nentries ? r->nentries : 1, sizeof *num);
    int next = 0;
    for (size_t i = 0; num && i < r->nentries; i++) {
        if (!r->entries[i].s.note[0])
            continue;
        for (size_t j = 0; j < i && !num[i]; j++)
            if (!strcmp(r->entries[j].s.note, r->entries[i].s.note))
                num[i] = num[j];
        if (!num[i])
            num[i] = ++next;
    }
    return num;
}

static void print_lists(const cmp_report_t *r, const int *num, FILE *f, const char *item,
                        const char *code)
{
    for (int is_new = 0; is_new < 2; is_new++) {
        size_t k = is_new ? r->n_only_new : r->n_only_base;
        if (!k)
            continue;
        fprintf(f, "\nonly in %s (%s), not compared:\n", is_new ? "NEW" : "BASE",
                mb_term(is_new ? r->new_name : r->base_name));
        for (size_t c = 0; c < r->nconfigs; c++) {
            const cmp_config_t *cf = &r->configs[c];
            if (is_new ? cf->n_new && !cf->n_base : cf->n_base && !cf->n_new)
                fprintf(f, "%s%s%s%s\n", item, code, cf->label, code);
        }
    }
    int printed = 0, any = 0;
    for (size_t i = 0; i < r->nentries; i++) {
        if (num[i] <= printed)
            continue;
        if (!any++)
            fputs("\nnotes:\n", f);
        fprintf(f, "%s[%d] %s\n", item, num[i], r->entries[i].s.note);
        printed = num[i];
    }
    for (size_t i = 0; i < r->nnotes; i++) {
        if (!any++)
            fputs("\nnotes:\n", f);
        fprintf(f, "%s%s\n", item, mb_term(r->notes[i]));
    }
}

static int print_text(const cmp_report_t *r, FILE *f)
{
    fprintf(f, "BASE %s: %zu rows, %zu configurations\n", mb_term(r->base_name), r->base_rows,
            configs_in(r, 0));
    fprintf(f, "NEW  %s: %zu rows, %zu configurations\n", mb_term(r->new_name), r->new_rows,
            configs_in(r, 1));
    fprintf(f, "threshold %g%%, alpha %g (Mann-Whitney U%s), instruction counts %g%%, min rep time %g ms\n",
            100.0 * r->threshold, r->alpha, holm_text(r), 100.0 * r->ins_threshold, 1e3 * r->min_rep_s);
    header_extra(r, f);
    fputc('\n', f);
    int *num = note_numbers(r);
    if (!num)
        return -1;
    if (!r->nentries) {
        fputs("no configuration is in both files: nothing compared\n", f);
    } else {
        size_t rows = r->nentries + 1;
        char(*cells)[C_COLS][CELL] = malloc(rows * sizeof *cells);
        if (!cells) {
            free(num);
            return -1;
        }
        header_cells(r, cells[0]);
        for (size_t i = 0; i < r->nentries; i++) {
            const cmp_entry_t *e = &r->entries[i];
            int first = i == 0 || r->entries[i - 1].config != e->config;
            row_cells(r, e, first, num[i], cells[i + 1]);
        }
        size_t w[C_COLS] = {0};
        for (size_t i = 0; i < rows; i++)
            for (int c = 0; c < C_COLS; c++)
                if (strlen(cells[i][c]) > w[c])
                    w[c] = strlen(cells[i][c]);
        for (size_t i = 0; i < rows; i++)
            print_cells(f, cells[i], w);
        free(cells);
    }
    print_lists(r, num, f, "  ", "");
    free(num);
    fputc('\n', f);
    summary_counts(r, f);
    fprintf(f, "; %zu configurations only in BASE, %zu only in NEW\n", r->n_only_base,
            r->n_only_new);
    fprintf(f, "result: %s\n", result_text(r));
    return 0;
}

/* ---- markdown ---- */

static void md_cell(FILE *f, const char *s)
{
    char safe[CELL * 2];
    fprintf(f, " %s |", mb_text_escape(safe, sizeof safe, s, 1)); /* '|' and control characters */
}

static int print_markdown(const cmp_report_t *r, FILE *f)
{
    int *num = note_numbers(r);
    if (!num)
        return -1;
    size_t reg = r->count[CMP_REGRESSED];
    if (reg)
        fprintf(f, "**moebench compare: %zu regression%s** — ", reg, reg == 1 ? "" : "s");
    else
        fprintf(f, "**moebench compare: %s** — ", result_text(r));
    summary_counts(r, f);
    fprintf(f, " (`%s` → `%s`; threshold %g%%, alpha %g%s, instruction counts %g%%)\n\n",
            mb_term(r->base_name), mb_term(r->new_name), 100.0 * r->threshold, r->alpha, holm_text(r),
            100.0 * r->ins_threshold);
    header_extra(r, f);
    fputc('\n', f);
    if (!r->nentries) {
        fputs("No configuration is in both files: nothing compared.\n", f);
    } else {
        char cells[C_COLS][CELL];
        header_cells(r, cells);
        fputs("|", f);
        for (int c = 0; c < C_COLS; c++)
            md_cell(f, cells[c]);
        fputs("\n|---|---|--:|--:|--:|--:|---|--:|---|\n", f);
        for (size_t i = 0; i < r->nentries; i++) {
            const cmp_entry_t *e = &r->entries[i];
            int first = i == 0 || r->entries[i - 1].config != e->config;
            row_cells(r, e, first, num[i], cells);
            if (e->s.verdict == CMP_REGRESSED)
                snprintf(cells[C_VERDICT], CELL, "**regressed**");
            fputs("|", f);
            for (int c = 0; c < C_COLS; c++)
                md_cell(f, cells[c]);
            fputc('\n', f);
        }
    }
    print_lists(r, num, f, "- ", "`");
    free(num);
    return 0;
}

/* ---- json ---- */

static void json_num(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *json_config(const cmp_report_t *r, const cmp_config_t *cf)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < CMP_NKEYS; k++)
        if (r->key_used[k])
            cJSON_AddStringToObject(o, cmp_key_columns[k], cf->key[k]);
    return o;
}

static int print_json(const cmp_report_t *r, FILE *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "base", r->base_name);
    cJSON_AddStringToObject(o, "new", r->new_name);
    json_num(o, "threshold", r->threshold);
    json_num(o, "ins_threshold", r->ins_threshold);
    json_num(o, "alpha", r->alpha);
    cJSON_AddNumberToObject(o, "holm_family", (double)r->family);
    cJSON *ign = cJSON_AddArrayToObject(o, "ignored_keys");
    for (int k = 0; k < CMP_NKEYS; k++)
        if (!r->key_used[k])
            cJSON_AddItemToArray(ign, cJSON_CreateString(cmp_key_columns[k]));
    cJSON_AddStringToObject(o, "unit", r->per_run ? "run" : "rep");
    json_num(o, "min_rep_time", r->min_rep_s);
    cJSON_AddBoolToObject(o, "regression", r->count[CMP_REGRESSED] > 0);
    cJSON_AddNumberToObject(o, "exit_status", cmp_exit_status(r));
    cJSON_AddStringToObject(o, "result", result_id(r));
    cJSON_AddNumberToObject(o, "starved_base", (double)r->starved_base);
    cJSON_AddNumberToObject(o, "starved_new", (double)r->starved_new);
    cJSON *sum = cJSON_AddObjectToObject(o, "summary");
    for (int v = 0; v < CMP_NVERDICTS; v++)
        cJSON_AddNumberToObject(sum, cmp_verdict_id((cmp_verdict_t)v), (double)r->count[v]);
    cJSON_AddNumberToObject(sum, "only_in_base", (double)r->n_only_base);
    cJSON_AddNumberToObject(sum, "only_in_new", (double)r->n_only_new);
    cJSON *arr = cJSON_AddArrayToObject(o, "comparisons");
    for (size_t i = 0; i < r->nentries; i++) {
        const cmp_entry_t *e = &r->entries[i];
        const cmp_stat_t *s = &e->s;
        const cmp_metric_t *m = &r->metrics[e->metric];
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToObject(c, "config", json_config(r, &r->configs[e->config]));
        cJSON_AddStringToObject(c, "metric", m->name);
        cJSON_AddStringToObject(c, "direction", m->dir == CMP_HIGHER_IS_BETTER
                                                    ? "higher_is_better" : "lower_is_better");
        cJSON_AddBoolToObject(c, "direction_known", m->known);
        cJSON_AddStringToObject(c, "kind", s->is_count ? "count" : "test");
        cJSON_AddNumberToObject(c, "n_base", (double)s->n_base);
        cJSON_AddNumberToObject(c, "n_new", (double)s->n_new);
        json_num(c, "median_base", s->med_base);
        json_num(c, "median_new", s->med_new);
        json_num(c, "ratio", s->ratio);
        json_num(c, "change", s->ratio - 1.0);
        json_num(c, "confidence", 1.0 - r->alpha);
        json_num(c, "ci_low", s->ci_lo);
        json_num(c, "ci_high", s->ci_hi);
        json_num(c, "hl_ratio", s->est);
        json_num(c, "p", s->tested ? s->p : NAN);
        json_num(c, "p_holm", s->tested ? s->p_adj : NAN);
        if (s->tested)
            cJSON_AddStringToObject(c, "test", stats_mwu_method_name(s->method));
        else
            cJSON_AddNullToObject(c, "test");
        cJSON_AddStringToObject(c, "verdict", cmp_verdict_id(s->verdict));
        cJSON_AddNumberToObject(c, "reps_needed", (double)s->reps_needed);
        json_num(c, "noise", s->tested ? s->noise : NAN);
        json_num(c, "detectable_change", s->tested ? s->detectable : NAN);
        cJSON_AddStringToObject(c, "note", s->note);
        cJSON_AddItemToArray(arr, c);
    }
    for (int is_new = 0; is_new < 2; is_new++) {
        cJSON *only = cJSON_AddArrayToObject(o, is_new ? "only_in_new" : "only_in_base");
        for (size_t c = 0; c < r->nconfigs; c++) {
            const cmp_config_t *cf = &r->configs[c];
            if (is_new ? cf->n_new && !cf->n_base : cf->n_base && !cf->n_new)
                cJSON_AddItemToArray(only, json_config(r, cf));
        }
    }
    cJSON *notes = cJSON_AddArrayToObject(o, "notes");
    for (size_t i = 0; i < r->nnotes; i++)
        cJSON_AddItemToArray(notes, cJSON_CreateString(r->notes[i]));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return -1;
    fprintf(f, "%s\n", text);
    cJSON_free(text);
    return 0;
}

/* ---- the subcommand ---- */

int cmd_compare(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--run"))
            return cmd_compare_run(argc, argv);
    enum { O_METRIC = 256, O_THRESHOLD, O_INS, O_ALPHA, O_FORMAT, O_IGNORE, O_UNIT, O_MINREP };
    static const struct option longopts[] = {
        {"metric", required_argument, NULL, O_METRIC},
        {"threshold", required_argument, NULL, O_THRESHOLD},
        {"ins-threshold", required_argument, NULL, O_INS},
        {"alpha", required_argument, NULL, O_ALPHA},
        {"format", required_argument, NULL, O_FORMAT},
        {"ignore-key", required_argument, NULL, O_IGNORE},
        {"unit", required_argument, NULL, O_UNIT},
        {"min-rep-time", required_argument, NULL, O_MINREP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cmp_options_t o;
    cmp_options_default(&o);
    list_t metrics = {0}, ignore = {0};
    enum { F_TEXT, F_MARKDOWN, F_JSON } format = F_TEXT;
    csvin_t *base = NULL, *new_ = NULL;
    cmp_report_t *rep = NULL;
    mb_error_t err;
    int rc = 2, opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            usage(stdout);
            rc = 0;
            goto done;
        case O_METRIC:
            if (list_add(&metrics, "--metric", optarg, &err))
                goto bad;
            break;
        case O_IGNORE:
            if (list_add(&ignore, "--ignore-key", optarg, &err))
                goto bad;
            break;
        case O_THRESHOLD:
            if (parse_percent("--threshold", optarg, &o.threshold, &err))
                goto bad;
            break;
        case O_INS:
            if (parse_percent("--ins-threshold", optarg, &o.ins_threshold, &err))
                goto bad;
            break;
        case O_ALPHA:
            if (mb_parse_double("--alpha", optarg, 1e-12, 0.5, &o.alpha, &err)) {
                mb_prefix(&err, "compare: ");
                goto bad;
            }
            break;
        case O_UNIT:
            if (!strcmp(optarg, "run") || !strcmp(optarg, "rep"))
                o.per_run = !strcmp(optarg, "run");
            else {
                mb_fail(&err, "compare: --unit: '%s' is not rep or run", optarg);
                goto bad;
            }
            break;
        case O_MINREP:
            if (mb_parse_double("--min-rep-time", optarg, 0.0, 3600.0, &o.min_rep_s, &err)) {
                mb_prefix(&err, "compare: ");
                goto bad;
            }
            break;
        case O_FORMAT:
            if (!strcmp(optarg, "text"))
                format = F_TEXT;
            else if (!strcmp(optarg, "markdown") || !strcmp(optarg, "md"))
                format = F_MARKDOWN;
            else if (!strcmp(optarg, "json"))
                format = F_JSON;
            else {
                mb_fail(&err, "compare: --format: '%s' is not text, markdown or json", optarg);
                goto bad;
            }
            break;
        default:
            rc = cli_bad_option("compare", opt, argv, optind, optopt);
            goto done;
        }
    }
    if (argc - optind != 2) {
        mb_fail(&err, "compare: needs two files, BASE.csv and NEW.csv (got %d); see "
                      "'moebench compare --help'", argc - optind);
        goto bad;
    }
    if (metrics.n) {
        o.metrics = (const char *const *)metrics.item;
        o.nmetrics = metrics.n;
    }
    o.ignore = (const char *const *)ignore.item;
    o.nignore = ignore.n;
    if (csvin_read(argv[optind], &base, &err) || csvin_read(argv[optind + 1], &new_, &err) ||
        cmp_tables(base, new_, &o, &rep, &err))
        goto bad;
    if ((format == F_JSON ? print_json(rep, stdout)
         : format == F_MARKDOWN ? print_markdown(rep, stdout)
                                : print_text(rep, stdout))) {
        mb_fail(&err, "compare: out of memory");
        goto bad;
    }
    fflush(stdout);
    if (!rep->nentries && (rep->n_only_base || rep->n_only_new)) {
        int k = cmp_suggest_ignore(rep);
        if (k >= 0)
            mb_fail(&err, "compare: %s and %s have no configuration in common; they differ in "
                          "%s: to compare across it, add --ignore-key %s", rep->base_name,
                    rep->new_name, cmp_key_columns[k], cmp_key_columns[k]);
        else
            mb_fail(&err, "compare: %s and %s have no configuration in common (different "
                          "scenarios? see --ignore-key)", rep->base_name, rep->new_name);
        goto bad;
    }
    rc = cmp_exit_status(rep);
    goto done;
bad:
    cli_error(&err);
    rc = 2;
done:
    cmp_report_free(rep);
    csvin_free(base);
    csvin_free(new_);
    list_free(&metrics);
    list_free(&ignore);
    return rc;
}
