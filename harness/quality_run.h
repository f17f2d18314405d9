/* quality_run: BLEU and chrF inside `moebench run`, for models that carry a
 * vocabulary and workloads that have references.
 *
 * Owns encoding each task's source text with the model's vocabulary (the
 * requests the model then sees), keeping the hypotheses of a repetition,
 * decoding them to text and scoring them with moebench's sacreBLEU-exact
 * scorer (bleu.h: 13a tokenization, exponential smoothing) against the raw
 * reference lines, and writing them out under --keep-hypotheses. Does not
 * own measuring or the CSV file: runner.c calls in and fills its rows. */
#ifndef QUALITY_RUN_H
#define QUALITY_RUN_H

#include "common/mb_error.h"
#include "harness/csvout.h"
#include "harness/scenario.h"
#include "harness/workload.h"
#include "models/decode.h"
#include "models/model.h"

typedef struct qr qr_t;

/* *out is NULL (and 0 is returned) when the model has no vocabulary or the
 * workload no text; otherwise every task's sources are encoded now, outside
 * any measured region. output_length `auto` lets the model decide where to
 * stop (it is measured for quality); `source` and `reference` count tokens
 * of this vocabulary. `where` names the model file for messages. */
int qr_open(const model_t *m, const char *where, const wl_t *wl, scn_outlen_t outlen, qr_t **out, mb_error_t *err);
void qr_free(qr_t *q);
/* The request for sentence i of workload task t, for model task index `task`. */
decode_request_t qr_request(const qr_t *q, int t, int i, int task);
/* Starts collecting the hypotheses of workload task t (one repetition). */
void qr_begin(qr_t *q, int t);
/* Copies the outputs of sentences first .. first + n - 1 (decode results are
 * only valid until the next batch). Allocation-free: buffers are sized by
 * qr_open, so this costs a copy inside the measured region, nothing more. */
void qr_collect(qr_t *q, int first, const decode_result_t *res, int n);
/* Scores what was collected for the current task and sets the bleu, chrf
 * and bleu_signature cells of row; writes the hypotheses, one line per
 * sentence, to keep_path when it is not NULL. */
int qr_score(qr_t *q, const wl_task_t *wt, csvout_row_t *row, const char *keep_path, mb_error_t *err);

#endif
