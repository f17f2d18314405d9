/* vendor: what a hardware vendor's evaluation adds to a run (scenarios/
 * vendor-eval.ini): the system description written beside the results CSV,
 * and the server-mode search for the highest arrival rate whose p99 latency
 * meets the bound (MLPerf Inference's Server scenario). The search here is
 * the pure bisection logic; the runner supplies the measurement of one rate
 * as a callback, so the search is tested without timing anything.
 * Owns no measurement and no CSV rows (runner.c does). */
#ifndef VENDOR_H
#define VENDOR_H

#include "common/mb_error.h"
#include "common/mb_schema.h"
#include "models/decode.h"

/* The system description file of a results CSV: "DIR/NAME.csv" ->
 * "DIR/NAME.system.txt" (any other name: NAME.system.txt appended). */


/* Writes sys_describe()'s lines, then one "backend: ..." line per entry of
 * `backends` (each backend's version and the kernels it chose), to
 * mb_schema_system_path(csv_path), through a temporary file renamed into place. */
int vend_write_system(const char *csv_path, const char *const *backends, int n_backends, mb_error_t *err);

/* One probe of the search: run the server at `qps` and say whether its p99
 * met the bound (*meets = 1) or not (0). Returns 0, or -1 with err set. */
typedef int (*vend_probe_fn)(void *ctx, double qps, int *meets, mb_error_t *err);

typedef struct vend_search {
    double start_qps;   /* first rate tried (> 0) */
    double max_qps;     /* never probe above this (> start_qps) */
    int steps;          /* bisection steps after the bracket is found (>= 1) */
} vend_search_t;

/* The highest rate that met the bound: doubling from start_qps until a rate
 * fails (or max_qps), then `steps` bisections between the last pass and the
 * first failure. *best = 0 when even start_qps failed; *probes counts the
 * rates measured. Every probe is a separate measurement (the runner writes
 * each as a row), so the search can be followed in the CSV. */
int vend_search_max_qps(const vend_search_t *s, vend_probe_fn probe, void *ctx, double *best, int *probes,
                        mb_error_t *err);

/* Prefill and decode apart (llama-bench's pp/tg, MLPerf's time to first
 * token): the batches a repetition ran, timed again with every request cut
 * to one output token (encoder + first decoder step = time to first token).
 * batches: first request and size of each; full_s: each batch's full time
 * (measured before), steps: its decoder steps (longest output).
 * Out: prefill_ms (median time to first token of a batch), decode_ms
 * (per decoder step after the first, over all batches) and decode_tok_s
 * (tokens after each sentence's first, per second of decoding). NAN where
 * there is nothing to divide. */
typedef struct vend_phases {
    double prefill_ms, decode_ms_per_step, decode_tok_s;
} vend_phases_t;

int vend_phases(decode_ctx_t *dc, const decode_request_t *req, const int *first, const int *n, const double *full_s,
                const int *steps, int n_batches, long tgt_tokens, vend_phases_t *out, mb_error_t *err);

#endif
