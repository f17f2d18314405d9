/* plan: a scenario expanded, before anything is measured, into the ordered
 * list of runs that the runner executes, `run --list` prints and the
 * progress display counts. Order: variant (each model is built or loaded
 * once), then backend configuration (each backend prepares the weights
 * once), then task, mode, batch size or rate. Backend configurations this
 * machine or build cannot run, and tasks a model does not serve, are left
 * out with a note saying why; nothing is cut silently. This module owns the
 * list; it measures nothing. */
#ifndef HARNESS_PLAN_H
#define HARNESS_PLAN_H
#include <stdio.h>

#include "backends/backend.h"
#include "harness/scenario.h"
#include "harness/workload.h"
#include "models/config.h"

typedef struct plan_combo {
    char backend[16];
    be_precision_t precision;
    int threads;
    char version[200];         /* "onednn: oneDNN 2.6.3 ..., matmul ...": for the system description */
} plan_combo_t;

/* A backend configuration of the scenario that this machine or build cannot
 * run (bf16 without bf16 kernels, a backend left out of the build): the
 * runner writes one `skipped` row for it, so the results say why it is missing. */
typedef struct plan_skip {
    plan_combo_t combo;
    char why[160];
} plan_skip_t;

typedef struct plan_run {
    int variant;               /* index into scn_t.variants */
    int combo;                 /* index into plan_t.combos */
    int task;                  /* index into wl_t.task */
    int model_task;            /* the task's index in the variant's model */
    scn_mode_t mode;
    int batch;                 /* offline: batch size; server: max batch; single-stream: 1 */
    double qps;                /* server: target arrival rate (server search: the first rate probed) */
    int search;                /* server search: find the highest rate that meets the latency bound */
    double est_s;              /* rough time for its warm-up and repetitions */
} plan_run_t;

typedef struct plan {
    int n_combos;
    plan_combo_t *combos;
    int n_runs;
    plan_run_t *runs;
    model_config_t *cfg;       /* [n_variants] each variant's model config */
    int units;                 /* progress units: sum of warm-ups + repetitions */
    double est_s;              /* sum of the runs' estimates */
    int n_notes;
    char (*notes)[256];        /* what was left out, and why */
    int n_skipped;
    plan_skip_t *skipped;      /* the configurations among those left out, for `skipped` rows */
} plan_t;

/* The model config of a variant: [model] files give a file's header;
 * otherwise the [model] keys are the command line's model options
 * (model_args), so a scenario and `moebench init` build the same model. */
int plan_variant_config(const scn_t *s, const char *variant, model_config_t *c, mb_error_t *err);

/* backend/threads override [measure] when non-NULL / > 0. */
int plan_build(const scn_t *s, const wl_t *wl, const char *backend, int threads, plan_t *p, mb_error_t *err);
void plan_free(plan_t *p);

/* One line per run with its estimate, then the notes and the total. */
void plan_print(const plan_t *p, const scn_t *s, const wl_t *wl, FILE *f);

/* "token-moe openblas fp32 t2 en-de offline b32" */
void plan_run_name(const plan_t *p, const scn_t *s, const wl_t *wl, const plan_run_t *r, char *buf, int len);
#endif
