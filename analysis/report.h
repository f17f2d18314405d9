/* report: turns results CSVs (`moebench run`) and kernel CSVs (`moebench
 * kernels --csv`) into the numbers of a report: repetitions grouped by
 * configuration (median and spread), the peak over the offline batch sweep,
 * single-stream latency, BLEU, parameters and speed-ups over token-moe.
 * report_md.c writes those numbers as REPORT.md and as the small data files
 * that the gnuplot scripts in plots/ draw. This module reads files and computes; it never runs
 * gnuplot (cmd_report.c does) and never prints.
 *
 * "Not measured" is NAN throughout (an empty CSV cell is never zero). */
#ifndef REPORT_H
#define REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "common/mb_error.h"

/* ---- statistics over repetitions (NAN values are ignored) ---- */

typedef struct report_stat {
    int n;                   /* values that were measured; 0: all NAN below */
    double median, min, max; /* median: mean of the two middle values when n is even */
} report_stat_t;

report_stat_t report_stat_of(const double *v, int n);
/* Median of v[0..n) (sorts v in place, measured values first, NANs after);
 * NAN when nothing was measured. */
double report_median(double *v, int n);
/* Nearest-rank percentile, pct in (0, 100]: the smallest value with at least
 * pct% of the values at or below it (sorts v in place; NAN when empty). */
double report_percentile(double *v, int n, double pct);

/* ---- results rows ---- */

/* One measured repetition. Strings are interned in the report (compare by
 * pointer within one report). */
typedef struct report_row {
    const char *scenario, *mode, *variant, *preset, *backend, *precision, *task, *decode;
    const char *cpu_model, *git_rev, *run_id, *timestamp, *source; /* source: the CSV file */
    int threads, batch_size, rep, cores;
    double target_qps; /* NAN outside server mode */
    double tgt_tokens, wall_s, tgt_tok_per_s;
    double p50, p90, p99, bound_ms, latency_ok;
    double rss_mb, params_total, params_served, params_active, bleu;
    const char *weights;       /* `random`, or where a model file came from ("" in older files: random) */
    /* for the vendor summary (summary.c); NAN when the CSV predates them */
    double sentences, task_clock_ms, model_bytes, prefill_ms, decode_ms_per_token, decode_tok_per_s;
    double starved;    /* 1: the machine was busy (harness/busy.h); NAN: not recorded */
    /* expert assignments routed and dropped for capacity (schema 1 files:
     * their dropped_tokens counted assignments; dropped_assignments absent) */
    double routed, dropped_asg;
} report_row_t;

/* A configuration (results/README.md: scenario, mode, variant, backend,
 * precision, threads, task, batch_size, decode, target_qps) and its
 * repetitions' statistics. */
typedef struct report_config {
    const char *scenario, *mode, *variant, *preset, *backend, *precision, *task, *decode;
    int threads, batch_size;
    double target_qps;
    int reps;
    report_stat_t tok_s, tgt_tokens, p50, p90, p99, bleu, rss_mb;
    double params_total, params_served, params_active; /* largest value seen */
    double routed, dropped_asg; /* summed over the repetitions */
    const char *weights;
} report_config_t;

/* One table of the report: a scenario on one backend, precision, thread
 * count and search. Its variants are series[first .. first + n). */
typedef struct report_group {
    const char *scenario, *backend, *precision, *decode;
    int threads;
    int first, n;
    int token_moe;    /* index into series of this group's token-moe, or -1 */
    int n_tasks;      /* distinct tasks (not `mixed`) with BLEU in this group, sorted */
    const char **tasks;
} report_group_t;

/* One point of the offline batch sweep (target tokens/s). */
typedef struct report_point {
    int batch_size, reps;     /* reps: fewest repetitions among the tasks at this size */
    double tok_s, min, max;   /* median; min and max of the repetitions */
} report_point_t;

#define REPORT_SPEEDUP_CONFIDENCE 0.95

/* One variant in one group: the row of the scenario table. */
typedef struct report_series {
    int group;
    const char *variant, *preset;
    /* Offline: peak over the batch sweep of the throughput (target tokens/s,
     * median over repetitions; several tasks at one batch size combine as
     * sum(tokens) / sum(time), i.e. serving them one after another). */
    report_point_t *sweep;  /* [n_batches], by batch size */
    int n_batches;
    double peak_tok_s, peak_min, peak_max; /* min/max over the peak's repetitions */
    int peak_batch, peak_reps;
    double speedup;      /* peak_tok_s / token-moe's peak_tok_s; NAN without one */
    /* Interval on the speed-up at REPORT_SPEEDUP_CONFIDENCE: Hodges-Lehmann
     * for the ratio of the two series' per-repetition throughputs at their
     * peaks (tasks combined per repetition); NAN when the repetitions are
     * too few for that confidence. speedup_reps: the fewer of the two. */
    double speedup_lo, speedup_hi;
    int speedup_reps;
    /* Single-stream latency (ms): median over repetitions, mean over tasks. */
    double p50, p90, p99;
    /* BLEU: mean over tasks of the per-task median (the paper averages over
     * pairs); the median of `mixed` rows when no per-task BLEU exists. */
    double bleu;
    double params_total, params_served, params_active;
    int reps_min, reps_max; /* repetitions per configuration of this variant */
    /* A `student` from random weights: a dense-shaped model nobody distilled,
     * so the report labels it as such and never reports its speed-up or
     * BLEU as a student's. */
    int untrained_student;
    /* share of the expert assignments the capacity dropped, over all the
     * variant's rows in this table; NAN for models without experts */
    double dropped_share;
} report_series_t;

/* One kernel measurement of `moebench kernels` (plots/README.md), medians
 * over repetitions. */
typedef struct report_kernel {
    const char *backend, *precision, *kernel, *shape;
    int threads, reps;
    double gflops, peak_gflops, frac_peak;    /* frac: of peak_gflops */
    double bw_gbs, peak_bw_gbs, frac_bw;      /* frac: of peak_bw_gbs */
} report_kernel_t;

/* A configuration that a CSV says was not measured (its `skipped` column:
 * e.g. bf16 on a CPU without bf16 kernels), listed by the report. */
typedef struct report_skip {
    const char *source, *what, *backend, *precision, *reason; /* what: scenario, or "kernels" */
    int threads;
} report_skip_t;

typedef struct report_source {
    const char *path;
    char kind;   /* 'r': results, 'k': kernels, 't': a training curve (report_train.h),
                  * 'b': paired-bootstrap comparisons (report_sig.h) */
    size_t rows;
    const char *args;   /* kernels: the options that made it ("--backend onednn ..."), or NULL */
} report_source_t;

/* Interned string pool and everything read and computed. */
typedef struct report {
    char **strings;
    int n_strings, cap_strings;

    report_row_t *rows;
    size_t n_rows, cap_rows;
    report_kernel_t *kernels; /* one per measurement row until aggregated */
    size_t n_kernels, cap_kernels;
    report_skip_t *skips;     /* configurations not measured, with the reason */
    size_t n_skips, cap_skips;
    report_source_t *sources; /* files read, in order */
    int n_sources, cap_sources;
    struct report_curve *curves; /* training curves (report_train.h) */
    int n_curves, cap_curves;
    struct report_sig *sigs;     /* paired-bootstrap comparisons (report_sig.h) */
    int n_sigs, cap_sigs;

    report_config_t *configs;
    size_t n_configs;
    report_group_t *groups;
    int n_groups;
    report_series_t *series;
    int n_series;

    /* Machine(s) and build(s) seen, distinct values in order of appearance
     * (the first REPORT_MAX_SEEN of each; `more_*` says there were more). */
#define REPORT_MAX_SEEN 8
    const char *cpu_models[REPORT_MAX_SEEN], *git_revs[REPORT_MAX_SEEN], *run_ids[REPORT_MAX_SEEN];
    int cores[REPORT_MAX_SEEN]; /* beside cpu_models; 0 = not given */
    int n_cpu_models, n_git_revs, n_run_ids, more_cpu_models, more_git_revs, more_run_ids;
    const char *first_timestamp, *last_timestamp;
    size_t n_starved;  /* result rows marked starved */
} report_t;

report_t *report_create(void);
void report_free(report_t *r);

/* Reads one CSV: a results file (has `tgt_tok_per_s` and `variant`), a
 * kernels file (has `gflops` and `kernel`), a training curve (has `step`
 * and `loss`: report_train.h) or the rows of `moebench bleu --paired-bs
 * --csv` (report_sig.h), told apart by the header. Errors
 * name the file (and line): "FILE:LINE: column 'wall_s': 'x' is not a number". */
int report_read_csv(report_t *r, const char *path, mb_error_t *err);

/* Groups what was read into configs, groups, series and kernel medians.
 * Call once, after the last report_read_csv. Fails when nothing was read. */
int report_aggregate(report_t *r, mb_error_t *err);

/* Lookups for callers and tests (NULL/-1 when absent). */
const report_config_t *report_find_config(const report_t *r, const char *scenario, const char *mode,
                                          const char *variant, const char *task, int batch_size,
                                          double target_qps);
const report_series_t *report_find_series(const report_t *r, const char *scenario, const char *variant);
/* Median BLEU of one task of a series (NAN when not measured). */
double report_series_task_bleu(const report_t *r, const report_series_t *s, const char *task);

/* Variant names in the paper's order (dense, token-moe, sentence-moe,
 * task-moe, task-subnet, student; others after); used to sort series. */
int report_variant_rank(const char *variant);

/* ---- output (report_dat.c: data files for plots/; report_md.c: REPORT.md) ---- */

enum { REPORT_FIG_THROUGHPUT, REPORT_FIG_LATENCY, REPORT_FIG_BLEU_SPEED, REPORT_FIG_PARAMS,
       REPORT_FIG_KERNELS, REPORT_FIG_TASK_BLEU, REPORT_FIG_KINDS };

/* One figure to draw: `gnuplot -c plots/<script> ARG1 .. ARGn`. */
typedef struct report_figure {
    int kind;
    int group;            /* index into groups; -1 for the machine-wide kernels figure */
    char script[32];      /* e.g. "throughput.gp" */
    char name[160];       /* output base name in the figures folder, no extension */
    char caption[200];
#define REPORT_FIG_ARGS 8
#define REPORT_ARG_MAX 1024
    char args[REPORT_FIG_ARGS][REPORT_ARG_MAX]; /* ARG1 output base (path, no extension), ARG2 title,
                                                  ARG3 subtitle (machine, configuration), ARG4.. data
                                                  files ("" = none) and counts; plots/README.md */
    int n_args;
    char skipped[200];    /* why it was not drawn ("" = drawn or to draw) */
} report_figure_t;

typedef struct report_md_opts {
    const char *command;       /* the `moebench report ...` line that ran, shell-quoted */
    const char *figures_rel;   /* figures folder relative to REPORT.md's folder ("" = same) */
    const char *gnuplot_version; /* e.g. "gnuplot 5.4 patchlevel 4"; NULL when absent */
    const report_figure_t *figs;
    int n_figs;
    const char **gnuplot_cmds; /* the gnuplot command lines run, one per drawn figure */
    int n_gnuplot_cmds;
} report_md_opts_t;

/* A group's machine as "CPU (N cores)", and its configuration as
 * "backend precision, N threads, decode". */
void report_group_machine(const report_t *r, int g, char *out, size_t n);
void report_group_config(const report_group_t *g, char *out, size_t n);

/* Writes the aggregated data files into `dir` (which must exist) and fills
 * figs[0..*n) with what to draw; figures without data get `skipped` set.
 * `max` bounds the array: REPORT_FIG_KINDS per group, plus one kernels
 * figure per backend and precision (REPORT_MAX_KERNEL_FIGS leaves room). */
#define REPORT_MAX_KERNEL_FIGS 8
int report_write_data(const report_t *r, const char *dir, report_figure_t *figs, int max, int *n,
                      mb_error_t *err);

/* The links (or "not drawn" lines) of the figures of group g (-1: kernels,
 * -2: training) for REPORT.md. */
void report_md_figure_links(FILE *f, const report_md_opts_t *o, int g);

/* Writes REPORT.md to `path` (through `path.tmp`, renamed when complete). */
int report_write_markdown(const report_t *r, const report_md_opts_t *o, const char *path, mb_error_t *err);

#endif
