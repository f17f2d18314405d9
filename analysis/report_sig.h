/* report_sig: significance in a report (issue 14): reads the CSV rows of
 * `moebench bleu --paired-bs --csv` (columns in README.md, "BLEU"; told
 * apart by their `baseline`, `delta_lo` and `p_value` columns) and writes
 * the "Significance" section of REPORT.md: every comparison with its
 * difference, 95% interval and p-value, and which of the paper's claims it
 * tests (task-moe vs token-moe, task-subnet vs task-moe, student and
 * token-moe vs dense, found by the system names given with --names).
 * Never prints; report.c and report_md.c call in here. */
#ifndef REPORT_SIG_H
#define REPORT_SIG_H

#include <stdio.h>

#include "analysis/csvin.h"
#include "analysis/report.h"
#include "common/mb_error.h"

typedef struct report_sig {
    const char *source, *label, *metric, *system, *baseline; /* interned */
    double score, delta, lo, hi, p;
    int identical;       /* 1 / 0; -1 when the column is absent */
    int resamples;       /* 0 when absent */
} report_sig_t;

/* 1 when the header is a paired-bootstrap CSV's. */
int report_sig_is_boot(const csvin_t *t);
/* Adds the comparisons of table t (the baseline's own rows are skipped);
 * `intern` pools strings in the report. Errors name FILE:LINE. */
int report_sig_read(report_t *r, const csvin_t *t, const char *path,
                    const char *(*intern)(report_t *, const char *), mb_error_t *err);
void report_sig_free(report_t *r);
/* The "Significance" section (nothing without bootstrap rows). */
void report_sig_section(FILE *f, const report_t *r);

#endif
