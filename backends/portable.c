/* portable: plain C versions of every optional backend op, and the dispatch
 * that picks a backend's override or these. Written for clarity first: they
 * are what `ref` runs, and `ref` is the correctness oracle. */
#include <math.h>
#include <string.h>

#include "backends/backend.h"

void portable_linear(be_t *be, const be_weight_t *w, const float *x, int M, float *y)
{
    if (w->b) {
        for (int i = 0; i < M; i++)
            memcpy(y + (size_t)i * w->n_out, w->b, sizeof(float) * (size_t)w->n_out);
    }
    be_gemm(be, 0, 1, M, w->n_out, w->n_in, 1.0f, x, w->n_in, w->w, w->n_in, w->b ? 1.0f : 0.0f, y,
            w->n_out);
}

void portable_layernorm(be_t *be, const float *x, const float *g, const float *b, int M, int D,
                        float eps, float *y)
{
    (void)be;
    for (int i = 0; i < M; i++) {
        const float *xi = x + (size_t)i * D;
        float *yi = y + (size_t)i * D;
        float mean = 0.0f, var = 0.0f;
        for (int j = 0; j < D; j++)
            mean += xi[j];
        mean /= (float)D;
        for (int j = 0; j < D; j++) {
            float d = xi[j] - mean;
            var += d * d;
        }
        var /= (float)D;
        float rstd = 1.0f / sqrtf(var + eps);
        for (int j = 0; j < D; j++)
            yi[j] = (xi[j] - mean) * rstd * g[j] + b[j];
    }
}

void portable_relu(be_t *be, float *x, size_t n)
{
    (void)be;
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void portable_attention(be_t *be, const float *q, int ldq, const float *k, int ldk, const float *v,
                        int ldv, int nq, int nk, int n_heads, int d_head, int causal, int q_pos0,
                        float *out, int ldo, float *scratch)
{
    (void)be;
    const float scale = 1.0f / sqrtf((float)d_head);
    for (int i = 0; i < nq; i++) {
        int n_see = causal ? q_pos0 + i + 1 : nk;
        if (n_see > nk)
            n_see = nk;
        for (int h = 0; h < n_heads; h++) {
            const float *qi = q + (size_t)i * ldq + (size_t)h * d_head;
            float *oi = out + (size_t)i * ldo + (size_t)h * d_head;
            float mx = -INFINITY;
            for (int j = 0; j < n_see; j++) {
                const float *kj = k + (size_t)j * ldk + (size_t)h * d_head;
                float s = 0.0f;
                for (int c = 0; c < d_head; c++)
                    s += qi[c] * kj[c];
                s *= scale;
                scratch[j] = s;
                if (s > mx)
                    mx = s;
            }
            float sum = 0.0f;
            for (int j = 0; j < n_see; j++) {
                scratch[j] = expf(scratch[j] - mx);
                sum += scratch[j];
            }
            float inv = n_see > 0 ? 1.0f / sum : 0.0f;
            memset(oi, 0, sizeof(float) * (size_t)d_head);
            for (int j = 0; j < n_see; j++) {
                const float *vj = v + (size_t)j * ldv + (size_t)h * d_head;
                float p = scratch[j] * inv;
                for (int c = 0; c < d_head; c++)
                    oi[c] += p * vj[c];
            }
        }
    }
}

void portable_log_softmax(be_t *be, float *x, int M, int N)
{
    (void)be;
    for (int i = 0; i < M; i++) {
        float *r = x + (size_t)i * N, mx = r[0];
        for (int j = 1; j < N; j++)
            mx = r[j] > mx ? r[j] : mx;
        double sum = 0.0; /* a double sum: the oracle should not lose small terms */
        for (int j = 0; j < N; j++)
            sum += exp((double)(r[j] - mx));
        float lse = mx + (float)log(sum);
        for (int j = 0; j < N; j++)
            r[j] -= lse;
    }
}

void portable_attention_rows(be_t *be, int n, const float *q, int ldq, const float *const *k, const float *const *v,
                             int ldkv, const int *nk, int n_heads, int d_head, float *out, int ldo, float *scratch)
{
    for (int r = 0; r < n; r++)
        be_attention(be, q + (size_t)r * ldq, ldq, k[r], ldkv, v[r], ldkv, 1, nk[r], n_heads, d_head, 0, 0,
                     out + (size_t)r * ldo, ldo, scratch);
}

/* ---- dispatch ---- */

int be_weight_prepare(be_t *be, be_weight_t *w, mb_error_t *err)
{
    return be->ops->weight_prepare ? be->ops->weight_prepare(be, w, err) : 0;
}

void be_weight_release(be_t *be, be_weight_t *w)
{
    if (be->ops->weight_release && w->prepared)
        be->ops->weight_release(be, w);
    w->prepared = NULL;
}

#ifdef MOEBENCH_EXTRA_WORK_PCT
/* A planted slowdown for validating CI verdicts (`make EXTRA_WORK_PCT=5`,
 * scripts/ci-validate.sh): real work, not a sleep, so that wall clock and
 * instruction counts both see it. Each call adds pct% of its multiply-adds
 * to a debt; whenever the debt covers a whole call, the call is computed once
 * more (linear overwrites y, so the result does not change). Over the
 * thousands of calls of a repetition the linear layers do pct% more work. */
static _Thread_local double extra_owed;
#endif

void be_linear(be_t *be, const be_weight_t *w, const float *x, int M, float *y)
{
    if (M <= 0)
        return;
    (be->ops->linear ? be->ops->linear : portable_linear)(be, w, x, M, y);
#ifdef MOEBENCH_EXTRA_WORK_PCT
    double macs = (double)M * w->n_out * w->n_in;
    extra_owed += macs * (MOEBENCH_EXTRA_WORK_PCT) / 100.0;
    for (; macs > 0 && extra_owed >= macs; extra_owed -= macs)
        (be->ops->linear ? be->ops->linear : portable_linear)(be, w, x, M, y);
#endif
}

void be_layernorm(be_t *be, const float *x, const float *g, const float *b, int M, int D, float eps,
                  float *y)
{
    (be->ops->layernorm ? be->ops->layernorm : portable_layernorm)(be, x, g, b, M, D, eps, y);
}

void be_relu(be_t *be, float *x, size_t n)
{
    (be->ops->relu ? be->ops->relu : portable_relu)(be, x, n);
}

void be_attention(be_t *be, const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                  int nq, int nk, int n_heads, int d_head, int causal, int q_pos0, float *out, int ldo,
                  float *scratch)
{
    (be->ops->attention ? be->ops->attention : portable_attention)(
        be, q, ldq, k, ldk, v, ldv, nq, nk, n_heads, d_head, causal, q_pos0, out, ldo, scratch);
}

void be_log_softmax(be_t *be, float *x, int M, int N)
{
    (be->ops->log_softmax ? be->ops->log_softmax : portable_log_softmax)(be, x, M, N);
}

void be_attention_rows(be_t *be, int n, const float *q, int ldq, const float *const *k, const float *const *v,
                       int ldkv, const int *nk, int n_heads, int d_head, float *out, int ldo, float *scratch)
{
    if (n > 0)
        (be->ops->attention_rows ? be->ops->attention_rows : portable_attention_rows)(
            be, n, q, ldq, k, v, ldkv, nk, n_heads, d_head, out, ldo, scratch);
}
