/* ref: the reference backend, plain portable C and single-threaded. It is the
 * correctness oracle every other backend is compared with, so it favours
 * obvious loops over speed; it overrides nothing but the required gemm. */
#include "backends/backend.h"
#include "backends/registry.h"

static void ref_gemm(be_t *be, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    (void)be;
    for (int i = 0; i < M; i++) {
        float *ci = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            if (!ta && tb) { /* the linear-layer case: two contiguous rows */
                const float *a = A + (size_t)i * lda, *b = B + (size_t)j * ldb;
                for (int p = 0; p < K; p++)
                    acc += a[p] * b[p];
            } else {
                for (int p = 0; p < K; p++) {
                    float a = ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                    float b = tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                    acc += a * b;
                }
            }
            ci[j] = alpha * acc + (beta == 0.0f ? 0.0f : beta * ci[j]);
        }
    }
}

static int ref_init(be_t *be, mb_error_t *err)
{
    if (be->opt.precision != BE_PRECISION_FP32)
        return mb_fail(err, "backend ref: precision %s is not supported; ref computes in fp32 only "
                            "(use --precision fp32)", be_precision_name(be->opt.precision));
    if (be->opt.threads > 1)
        return mb_fail(err, "backend ref: runs on one thread only; use --threads 1 or another backend");
    return 0;
}

static const char *ref_version(be_t *be)
{
    (void)be;
    return "built in, no library";
}

const be_ops_t be_ref_ops = {
    .name = "ref",
    .summary = "plain portable C, one thread: the correctness oracle",
    .init = ref_init,
    .version = ref_version,
    .gemm = ref_gemm,
    .gemm_concurrent = 1, /* plain loops over the caller's arrays */
};
