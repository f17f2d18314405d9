/* compare: the regression verdicts of `moebench compare`. Matches the rows of
 * two results tables (csvin_t, schema of results/README.md) by configuration,
 * treats the rows of a configuration as repetitions, and judges each metric:
 * ratio of medians, its interval, a Mann-Whitney U test, and a verdict
 * (regressed, improved, unchanged, inconclusive, not measured). A report
 * judges many metrics x configurations at once and fails a CI job when any
 * one regressed, so its p-values are Holm-corrected over all of them: the
 * chance that an unchanged build shows any significant change stays alpha. Instruction
 * counts (papi_tot_ins, callgrind_ir) are deterministic: judged on the ratio
 * of medians alone against a tighter threshold.
 *
 * Owns matching and judging; the statistics are stats.c's, reading files is
 * csvin.c's, and printing (text, markdown, JSON) is cmd_compare.c's. */
#ifndef COMPARE_H
#define COMPARE_H

#include <stddef.h>

#include "common/mb_error.h"
#include "common/mb_schema.h"
#include "analysis/csvin.h"
#include "analysis/stats.h"

/* The columns that identify a configuration, in results/README.md's order. */
#define CMP_KEY_COUNT(name) +1
#define CMP_NKEYS (0 MB_SCHEMA_KEY_COLUMNS(CMP_KEY_COUNT))
extern const char *const cmp_key_columns[CMP_NKEYS];

typedef enum cmp_direction {
    CMP_LOWER_IS_BETTER,
    CMP_HIGHER_IS_BETTER
} cmp_direction_t;

typedef enum cmp_verdict {
    CMP_UNCHANGED,
    CMP_IMPROVED,
    CMP_REGRESSED,
    CMP_INCONCLUSIVE,
    CMP_NOT_MEASURED
} cmp_verdict_t;
#define CMP_NVERDICTS 5

/* "unchanged", "improved", "regressed", "inconclusive", "not_measured". */
const char *cmp_verdict_id(cmp_verdict_t v);

/* Direction of a metric column: returns 1 for a documented column, 0 for an
 * unknown one (then *dir = CMP_LOWER_IS_BETTER, the assumption). */
int cmp_metric_direction(const char *column, cmp_direction_t *dir);
/* 1 for the deterministic instruction counts: papi_tot_ins, callgrind_ir. */
int cmp_metric_is_count(const char *column);

typedef struct cmp_options {
    double threshold;     /* relative change that matters (0.05 = 5%) */
    double ins_threshold; /* the same for instruction counts (0.01) */
    double alpha;         /* significance level of the U test (0.01) */
    const char *const *metrics; /* columns to judge; NULL: tgt_tok_per_s, latency_p99_ms
                                 * and any instruction count both files have */
    size_t nmetrics;
    const char *const *ignore;  /* key columns left out of matching (e.g. "threads") */
    size_t nignore;
    int per_run;          /* the unit of a sample is the run (run_id): the median of
                           * each run's rows, not each repetition (cmp_samples.h) */
    double min_rep_s;     /* wall-clock metrics of configurations whose repetitions
                           * last less than this (median wall_s) are not judged */
} cmp_options_t;

void cmp_options_default(cmp_options_t *o);

typedef struct cmp_report cmp_report_t;

/* The CI verdict of a whole report, which is also the exit status of
 * `moebench compare`: 1 when any verdict is regressed; else 2 when nothing
 * was compared or any verdict is inconclusive (it could not judge); else 0. */
int cmp_exit_status(const cmp_report_t *r);

/* One metric of one configuration. */
typedef struct cmp_stat {
    size_t n_base, n_new;    /* non-empty cells */
    double med_base, med_new;
    double ratio;            /* med_new / med_base (1 when both are 0) */
    double ci_lo, ci_hi;     /* 1 - alpha interval for the ratio; NAN when there
                              * is none (counts, values <= 0), 0 and INFINITY
                              * when the samples are too small to bound it */
    double est;              /* Hodges-Lehmann ratio estimate (NAN when no interval) */
    double p;                /* two-sided U test p-value; NAN when not tested */
    double p_adj;            /* p after Holm's correction over the report's family of
                              * tests (cmp_report_t.family); = p alone (cmp_judge) */
    double worse;            /* ratio - 1 in the direction of worse (> 0: worse) */
    int tested;              /* p and method are set */
    int in_family;           /* counted in the report's Holm family: tested, judged on
                              * its statistics, and with samples that can reach alpha */
    size_t starved_base, starved_new; /* repetitions left out as starved */
    stats_mwu_method_t method;
    int is_count;            /* judged without statistics */
    cmp_verdict_t verdict;
    size_t reps_needed;      /* inconclusive for lack of repetitions: needed in each file */
    double noise;            /* how much one repetition varies: the pooled standard deviation
                              * of log(value) within each file (stats_log_spread); NAN when
                              * not tested or under 2 values a file */
    double detectable;       /* the relative change these sample sizes detect 9 times in 10 at
                              * the (Holm) level of this test, from noise; NAN when unknown */
    char note[360];          /* why, for anything but a plain verdict; "" otherwise */
} cmp_stat_t;

/* Judges one metric from its two samples (either may be empty), as the only
 * test (no correction for others). Fails only when out of memory. */
int cmp_judge(const double *base, size_t nb, const double *new_, size_t nn, cmp_direction_t dir,
              int is_count, const cmp_options_t *o, cmp_stat_t *out, mb_error_t *err);

typedef struct cmp_metric {
    char *name;
    cmp_direction_t dir;
    int known;    /* a documented column (else lower-is-better was assumed) */
    int is_count;
} cmp_metric_t;

typedef struct cmp_config {
    char *key[CMP_NKEYS]; /* the key values; NULL for an ignored key column */
    char *label;          /* for people: "quick offline dense openblas fp32 threads=2 ..." */
    size_t *rows_base, n_base; /* row indices in each file */
    size_t *rows_new, n_new;
} cmp_config_t;

typedef struct cmp_entry {
    size_t config, metric; /* indices into configs and metrics */
    cmp_stat_t s;
} cmp_entry_t;

struct cmp_report {
    char *base_name, *new_name;
    size_t base_rows, new_rows;
    double threshold, ins_threshold, alpha;
    int per_run;
    double min_rep_s;
    size_t family;         /* tests in Holm's correction (entries with in_family) */
    size_t starved_base, starved_new; /* rows marked starved in each file */
    int key_used[CMP_NKEYS];
    cmp_metric_t *metrics;
    size_t nmetrics;
    cmp_config_t *configs; /* BASE's in order of first appearance, then NEW-only ones */
    size_t nconfigs;
    cmp_entry_t *entries;  /* configurations in both files x metrics */
    size_t nentries;
    size_t n_only_base, n_only_new;
    size_t count[CMP_NVERDICTS];
    char **notes;          /* general notes, e.g. an assumed direction */
    size_t nnotes;
};

/* Compares two tables. Fails (-1, "FILE: ..." or "FILE:LINE: ...") when a
 * key column or a metric column is missing, a metric cell is not a number,
 * an option names a key column as a metric, or out of memory. */
int cmp_tables(const csvin_t *base, const csvin_t *new_, const cmp_options_t *o,
               cmp_report_t **out, mb_error_t *err);
void cmp_report_free(cmp_report_t *r);

/* When no configuration is in both files: the key column (index into
 * cmp_key_columns) that alone keeps some configuration of BASE from matching
 * one of NEW, e.g. threads; -1 when there is none. For the error message. */
int cmp_suggest_ignore(const cmp_report_t *r);

#endif
