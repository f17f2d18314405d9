/* runner: executes a scenario: builds each variant's model, opens each
 * backend configuration, runs every mode over every task of the workload
 * with warm-up and repetitions, and writes one CSV row per measured
 * repetition. Stops cleanly on SIGINT (complete rows kept, status 130). */
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
} run_opts_t;

/* 0: done; 130: interrupted (the rows so far are in the file); -1: error. */
int runner_run(const scn_t *s, const run_opts_t *o, char *csv_path, int len, mb_error_t *err);

#endif
