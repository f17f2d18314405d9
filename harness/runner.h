/* runner: executes a scenario: builds each variant's model, opens each
 * backend configuration, runs every mode over every task of the workload
 * with warm-up and repetitions, and writes one CSV row per measured
 * repetition. Stops cleanly on SIGINT, SIGTERM or SIGHUP (complete rows
 * kept, status 128 + the signal). */
#ifndef RUNNER_H
#define RUNNER_H

#include "common/mb_error.h"
#include "harness/scenario.h"

typedef struct run_opts {
    const char *out_dir;       /* where <scenario name>.csv goes (default "results") */
    const char *out_file;      /* or exactly this file */
    const char *backend;       /* overrides [measure] backends when set */
    int threads;               /* overrides [measure] threads when > 0 */
    int quick;                 /* a fast pass: few sentences (at least the largest batch), no warm-up,
                                  one repetition */
    int count_instructions;    /* measured regions are bracketed for callgrind */
    int list;                  /* print the plan (runs, estimates) to stdout and measure nothing */
    const char *keep_hyps;     /* folder for the hypotheses of each configuration (vocabulary models), or NULL */
    int no_check_finite;       /* load model files without refusing NaN/Inf weights */
} run_opts_t;

/* 0: done; 128 + the signal (130 SIGINT, 143 SIGTERM, 129 SIGHUP): stopped by
 * it (the complete rows so far are in the file); -1: error. */
int runner_run(const scn_t *s, const run_opts_t *o, char *csv_path, int len, mb_error_t *err);

#endif
