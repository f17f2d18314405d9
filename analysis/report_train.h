/* report_train: the training curves of `moebench train --curve` in a report
 * (issue 13): reads curve CSVs (columns in docs/training.md; told apart from
 * results and kernels CSVs by their `step` and `loss` columns), checks them,
 * summarises each (final and best validation BLEU, loss, tokens, CPU time),
 * writes the data files plots/train_curve.gp draws, and the "Training"
 * section of REPORT.md. report.c calls in here; this module never runs
 * gnuplot and never prints. */
#ifndef REPORT_TRAIN_H
#define REPORT_TRAIN_H

#include <stddef.h>
#include <stdio.h>

#include "analysis/csvin.h"
#include "analysis/report.h"
#include "common/mb_error.h"

/* The curve's columns, in the trainer's order (docs/training.md). */
enum { CURVE_STEP, CURVE_TOKENS, CURVE_CPU_S, CURVE_WALL_S, CURVE_LR, CURVE_LOSS, CURVE_NLL, CURVE_AUX,
       CURVE_DROPPED, CURVE_GRAD_NORM, CURVE_VALID_LOSS, CURVE_VALID_NLL, CURVE_VALID_BLEU, CURVE_NCOLS };

/* Training loss in the table: the mean over the last steps, as one step's
 * batch loss is noisy. */
#define REPORT_CURVE_TAIL 10
/* Curves per figure (train_curve.gp takes them as ARG3..) and figures. */
#define REPORT_CURVES_PER_FIG 6
#define REPORT_MAX_TRAIN_FIGS 4
#define REPORT_MAX_CURVES (REPORT_CURVES_PER_FIG * REPORT_MAX_TRAIN_FIGS)
/* figure kind and group of the training figures (report_figure_t) */
#define REPORT_FIG_TRAIN (REPORT_FIG_KINDS + 1)
#define REPORT_TRAIN_GROUP (-2)

typedef struct report_curve {
    const char *path;    /* as given (interned in the report) */
    char name[128];      /* file name without folder and .csv: the label in the figure */
    double *v;           /* [n][CURVE_NCOLS]; NAN = empty cell or column absent */
    size_t n;
    /* summary (NAN when there is nothing to summarise) */
    double last_step, tokens, cpu_s, wall_s, tok_per_cpu_s;
    double loss_tail;    /* mean training loss over the last tail_n rows */
    int tail_n;
    int n_valid;         /* rows with a validation BLEU */
    double vbleu_last, vbleu_last_step, vbleu_best, vbleu_best_step, vloss_last;
} report_curve_t;

/* 1 when the header is a training curve's (has `step` and `loss`). */
int report_train_is_curve(const csvin_t *t);
/* Checks and adds the curve of table t (read from path): a missing required
 * column, a cell that is not a number, a step that does not increase or a
 * total (tokens, CPU time) that decreases is an error naming FILE:LINE. */
int report_train_read(report_t *r, const csvin_t *t, const char *path, mb_error_t *err);
void report_train_free(report_t *r);

/* Writes each curve's data file (its columns in the trainer's order) into
 * dir and adds the figures (REPORT_CURVES_PER_FIG curves each). */
int report_train_data(const report_t *r, const char *dir, report_figure_t *figs, int max, int *n, mb_error_t *err);
/* The "Training" section of REPORT.md (nothing without curves). */
void report_train_section(FILE *f, const report_t *r, const report_md_opts_t *o);

#endif
