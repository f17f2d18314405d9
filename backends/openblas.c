/* openblas: the OpenBLAS backend (Debian's libopenblas, pthreads build).
 * GEMMs go to cblas_sgemm, a linear layer over one row to cblas_sgemv (a
 * GEMM with M = 1 is a matrix-vector product, and OpenBLAS's GEMM does not
 * notice); layer norm, ReLU, attention and log-softmax use the vectorised
 * fastops, on the calling thread only: OpenMP threads for attention made
 * the two thread pools (OpenBLAS's pthreads, libgomp's spinning team) fight
 * over the cores and cost more than they gained (docs/backends.md).
 * fp32 only: Debian's OpenBLAS declares cblas_sbgemm but does not export it.
 * The thread count is process-wide in OpenBLAS (openblas_set_num_threads),
 * so two open handles with different counts share the last one set. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/fastops.h"
#include "backends/registry.h"

typedef struct ob_state {
    char version[320];
} ob_state_t;

/* OpenBLAS's own thread count before any handle changed it (what
 * OPENBLAS_NUM_THREADS or the core count gave): --threads 0 returns to it. */
static int default_threads;

static int max_threads(void)
{
    const char *cfg = openblas_get_config();
    const char *p = cfg ? strstr(cfg, "MAX_THREADS=") : NULL;
    return p ? atoi(p + strlen("MAX_THREADS=")) : 0;
}

static int ob_init(be_t *be, mb_error_t *err)
{
    if (be->opt.precision != BE_PRECISION_FP32)
        return mb_fail(err, "backend openblas: precision %s is not supported: Debian's OpenBLAS has no working "
                            "bf16 GEMM (cblas_sbgemm is not exported) and moebench no int8 path on it; use --precision "
                            "fp32, or --backend onednn for %s", be_precision_name(be->opt.precision),
                       be_precision_name(be->opt.precision));
    int cap = max_threads();
    if (be->opt.threads < 0 || (cap > 0 && be->opt.threads > cap))
        return mb_fail(err, "backend openblas: --threads %d is out of range: this OpenBLAS was built for at most "
                            "%d threads", be->opt.threads, cap);
    ob_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return mb_fail(err, "backend openblas: out of memory");
    if (!default_threads)
        default_threads = openblas_get_num_threads();
    int n = be->opt.threads > 0 ? be->opt.threads : default_threads;
    openblas_set_num_threads(n);
    const char *cfg = openblas_get_config();
    snprintf(st->version, sizeof st->version, "%s, %d thread%s; other ops %s", cfg ? cfg : "OpenBLAS", n,
             n == 1 ? "" : "s", fastops_isa());
    be->state = st;
    return 0;
}

static void ob_shutdown(be_t *be)
{
    free(be->state);
    be->state = NULL;
}

static const char *ob_version(be_t *be)
{
    return be->state ? ((ob_state_t *)be->state)->version : openblas_get_config();
}

static void ob_gemm(be_t *be, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc)
{
    (void)be;
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) { /* C = beta * C, with beta = 0 meaning "do not read C" as in BLAS */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                lda, B, ldb, beta, C, ldc);
}

/* y[M, n_out] = x[M, n_in] * W^T + b */
static void ob_linear(be_t *be, const be_weight_t *w, const float *x, int M, float *y)
{
    (void)be;
    const int N = w->n_out, K = w->n_in;
    if (M <= 0 || N <= 0)
        return;
    if (w->b)
        for (int i = 0; i < M; i++)
            memcpy(y + (size_t)i * N, w->b, sizeof(float) * (size_t)N);
    float beta = w->b ? 1.0f : 0.0f;
    if (K <= 0) {
        if (!w->b)
            memset(y, 0, sizeof(float) * (size_t)M * (size_t)N);
        return;
    }
    if (M == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w->w, K, x, 1, beta, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w->w, K, beta, y, N);
}

const be_ops_t be_openblas_ops = {
    .name = "openblas",
    .summary = "OpenBLAS sgemm/sgemv (fp32), vectorised element-wise ops",
    .init = ob_init,
    .shutdown = ob_shutdown,
    .version = ob_version,
    .gemm = ob_gemm,
    .linear = ob_linear,
    .layernorm = fastops_layernorm,
    .relu = fastops_relu,
    .attention = fastops_attention,
    .log_softmax = fastops_log_softmax,
    /* OpenBLAS 0.3.x serialises its threaded paths itself; small GEMMs run on the caller */
    .gemm_concurrent = 1,
};
