/* kernels: what `moebench kernels` (cmd_kernels.c) shares with its model-level
 * goals (kernels_goals.c): the timing helper, the output record and its CSV
 * rows, and the prefill batch both use. Internal to cli/. */
#ifndef CLI_KERNELS_H
#define CLI_KERNELS_H
#include <stdio.h>

#include "backends/backend.h"
#include "common/mb_error.h"

#define PREFILL_SENTENCES 64
#define PREFILL_LEN 25         /* average source length, tag and EOS included */
#define TRIAD_FLOATS ((size_t)32 << 20) /* 128 MiB per array */

typedef struct timing {
    int reps;
    double median;
} timing_t;

typedef struct kern_out {
    FILE *csv;
    const char *backend, *precision, *preset;
    int threads;
    double clock_ghz, peak, triad;
    /* the machine and build, the same on every row: what `moebench report` notes per source */
    const char *version;       /* the backend's own description (NULL: empty) */
    char run_id[40], timestamp[40];
} kern_out_t;

/* One warm-up call, then calls until min_s have passed and min_reps were made;
 * the median time. */
timing_t kern_time_fn(void (*fn)(void *), void *arg, double min_s, int min_reps);
/* One CSV row; numbers < 0 are left empty. */
void kern_csv_row(const kern_out_t *r, const char *kind, const char *name, int m, int n, int k, double flops,
                  double bytes, int reps, double median, double value, const char *unit, double limit,
                  double ratio, const char *bound, double target, const char *met);
/* Source lengths of the prefill batch (PREFILL_LEN on average); off: [n + 1]. */
void kern_prefill_offsets(int n, int *off);
/* Times a linear layer [M,K] x [N,K]^T (+ bias, except for role
 * BE_WEIGHT_OUT_PROJ) on be, its weights prepared as the model's of that role. */
int kern_time_linear(be_t *be, int M, int N, int K, int role, double min_s, timing_t *out, double *w_bytes,
                     mb_error_t *err);
/* --model-goals: the whole-model performance goals as measured ratios (docs/backends.md). */
int kern_model_goals(be_t *be, const kern_out_t *r, double triad, int bf16, double min_s, int sentences,
                     mb_error_t *err);
#endif
