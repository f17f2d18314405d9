/* trn_bench: the speed of training steps (`moebench train --bench`): tokens
 * per CPU-second and per second, model FLOP/s, and the backend's own GEMM
 * rate at the shapes of the step's linear layers (forward and backward), so
 * the figure says how much of the GEMM rate the whole step keeps. Times with
 * the process CPU clock and the monotonic clock; owns nothing. */
#ifndef TRAIN_TRN_BENCH_H
#define TRAIN_TRN_BENCH_H

#include "backends/backend.h"
#include "train/trn_model.h"
#include "train/trn_optim.h"

typedef struct trn_bench_result {
    int steps, src_tokens, tgt_tokens;
    double wall_s, cpu_s;          /* per step, including the optimizer update */
    double tok_per_cpu_s, tok_per_s;
    double model_gflop_per_step, model_gflops; /* per CPU-second: robust when other jobs share the cores */
    double gemm_gflops;            /* the backend's rate at the step's GEMM shapes, per CPU-second */
} trn_bench_result_t;

/* One warm-up step, then `steps` timed steps (forward, backward, AdamW) on b. */
int trn_bench(trn_t *t, model_t *m, be_t *be, const trn_batch_t *b, int steps, trn_bench_result_t *r,
              mb_error_t *err);

#endif
