/* trn_bench: timing training steps against the backend's GEMM rate (see trn_bench.h). */
#include "train/trn_bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train/trn_ops.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP per CPU-second of the trainer's GEMM (trn_gemm: the backend's, split
 * over the team where the trainer does that) over the linear layers' shapes with M rows: forward
 * (x W^T), weight gradient (dy^T x) and input gradient (dy W). */
static double gemm_rate(be_t *be, int M, int d, int dff, mb_error_t *err)
{
    int shapes[3][2] = {{d, d}, {d, dff}, {dff, d}}; /* {n_in, n_out} */
    size_t big = (size_t)M * (size_t)dff + (size_t)dff * (size_t)d;
    float *x = calloc(big, sizeof(float)), *w = calloc(big, sizeof(float)), *y = calloc(big, sizeof(float));
    if (!x || !w || !y) {
        free(x), free(w), free(y);
        mb_fail(err, "out of memory timing GEMMs");
        return -1;
    }
    for (size_t i = 0; i < big; i++)
        x[i] = w[i] = 0.001f * (float)(i % 997);
    double flops = 0, t0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int rep = 0; rep < 3; rep++)
        for (int s = 0; s < 3; s++) {
            int ni = shapes[s][0], no = shapes[s][1];
            trn_gemm(be, 0, 1, M, no, ni, 1.0f, x, ni, w, ni, 0.0f, y, no);
            trn_gemm(be, 1, 0, no, ni, M, 1.0f, x, no, w, ni, 1.0f, y, ni);
            trn_gemm(be, 0, 0, M, ni, no, 1.0f, x, no, w, ni, 0.0f, y, ni);
            flops += 3.0 * 2.0 * M * ni * no;
        }
    double dt = clock_s(CLOCK_PROCESS_CPUTIME_ID) - t0;
    free(x), free(w), free(y);
    return flops / dt / 1e9;
}

int trn_bench(trn_t *t, model_t *m, be_t *be, const trn_batch_t *b, int steps, trn_bench_result_t *r,
              mb_error_t *err)
{
    memset(r, 0, sizeof *r);
    trn_adam_opts_t ao;
    trn_adam_defaults(&ao);
    trn_adam_t adam;
    if (trn_adam_create(&adam, m, &ao, err) != 0)
        return -1;
    trn_stats_t st;
    int rc = trn_step(t, b, 1, 0, &st, NULL, err); /* warm-up: buffers, backend primitives */
    if (rc == 0)
        trn_adam_update(&adam, m, trn_grad(t));
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
    for (int i = 0; rc == 0 && i < steps; i++) {
        rc = trn_step(t, b, 1, (uint64_t)i + 1, &st, NULL, err);
        if (rc == 0)
            trn_adam_update(&adam, m, trn_grad(t));
    }
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = clock_s(CLOCK_MONOTONIC) - w0;
    trn_adam_free(&adam);
    if (rc != 0)
        return -1;
    r->steps = steps;
    r->src_tokens = st.src_tokens;
    r->tgt_tokens = st.tgt_tokens;
    r->wall_s = wall / steps;
    r->cpu_s = cpu / steps;
    double tok = (double)st.src_tokens + st.tgt_tokens;
    r->tok_per_cpu_s = tok / r->cpu_s;
    r->tok_per_s = tok / r->wall_s;
    r->model_gflop_per_step = trn_step_flops(t, b, 1) / 1e9;
    r->model_gflops = r->model_gflop_per_step / r->cpu_s;
    r->gemm_gflops = gemm_rate(be, st.tgt_tokens, m->cfg.d_model, m->cfg.d_ff, err);
    return r->gemm_gflops < 0 ? -1 : 0;
}
