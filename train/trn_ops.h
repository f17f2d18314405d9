/* trn_ops: the training forward and backward of each Transformer building
 * block, as plain functions over flat float arrays (llm.c style): each
 * forward keeps what its backward needs, and each backward sits beside its
 * forward. GEMMs go through the backend interface (be_gemm with
 * transposes), so any backend trains; the MoE layer is in trn_moe.h and the
 * whole model in trn_model.h. This module owns no memory: callers pass every
 * buffer. Backward functions ACCUMULATE (+=) into parameter gradients and,
 * where documented, into input gradients, so that a tensor used twice (tied
 * embeddings, the encoder output read by every decoder layer) sums its
 * gradients without extra copies. Loops run on the calling thread's OpenMP
 * team (trn_create sets its size from --threads) and split only independent
 * rows, columns or elements, so results do not depend on the team's size
 * (trn_ops.c says how). */
#ifndef TRAIN_TRN_OPS_H
#define TRAIN_TRN_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "backends/backend.h"

#define TRN_LN_EPS 1e-5f /* the same epsilon as the inference engine (transformer.c) */

/* e^x for softmaxes, written so that a loop over it vectorises with the
 * baseline instruction set (no libm call): Cody-Waite reduction x = n ln2 + r,
 * |r| <= ln2/2, a degree-7 polynomial for e^r (Cephes' expf coefficients) and
 * 2^n built in the exponent bits. Relative error under 3e-7 (a few ulp;
 * tests/unit/test_train_layers.c checks it against exp in double); x is
 * clamped to [-87, 88], so e^-1000 gives about 1.6e-38 instead of 0. */
static inline float trn_expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* round x log2(e) to an integer by adding 1.5 * 2^23 (round-to-nearest) */
    const float shift = 12582912.0f;
    float t = x * 1.44269504088896341f + shift;
    float n = t - shift;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } two_n;
    two_n.i = ((int32_t)n + 127) << 23;
    return p * two_n.f;
}

/* Reallocates *(void **)pp to n elements of elem bytes; with bytes != NULL
 * only adds n * elem to *bytes (the dry run that checks memory before any
 * allocation). 0 or -1 (out of memory). */
int trn_buf(void *pp, size_t n, size_t elem, uint64_t *bytes);

/* be_gemm, split over the caller's OpenMP team when the backend runs on one
 * thread and allows concurrent calls (trn_ops.c says why and how) */
void trn_gemm(be_t *be, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);

/* y[M,n_out] = x[M,n_in] W[n_out,n_in]^T + b[n_out] (b may be NULL) */
void trn_linear_fwd(be_t *be, const float *W, const float *b, const float *x, int M, int n_in, int n_out,
                    float *y);
/* the same followed by y = max(y, 0), in the bias pass (an FFN's first layer) */
void trn_linear_relu_fwd(be_t *be, const float *W, const float *b, const float *x, int M, int n_in, int n_out,
                         float *y);
/* dW[n_out,n_in] += dy^T x; db[n_out] += colsum(dy) (db may be NULL);
 * dx[M,n_in] = dy W + dx_beta * dx (dx may be NULL: no input gradient). */
void trn_linear_bwd(be_t *be, const float *W, const float *x, const float *dy, int M, int n_in, int n_out,
                    float *dx, float dx_beta, float *dW, float *db);

/* y[M,D] = xhat * g + b with xhat = (x - mean) * rstd; keeps xhat [M,D] and rstd [M]. */
void trn_ln_fwd(const float *x, const float *g, const float *b, int M, int D, float *y, float *xhat, float *rstd);
/* dx[M,D] += LN backward of dy; dg, db [D] += */
void trn_ln_bwd(const float *dy, const float *xhat, const float *rstd, const float *g, int M, int D, float *dx,
                float *dg, float *db);

/* out[n,d] = table[ids] * scale + sinusoid(pos) (layer_embed). Positions have
 * no parameters, so the backward is only: dtable[ids[i],:] += scale * dout[i,:]. */
void trn_embed_bwd(float *dtable, int d, const int *ids, int n, float scale, const float *dout);

/* x[n] = max(x, 0) in place; backward: dx[i] = 0 where y[i] <= 0 (y: the
 * forward's output, in place on dx). */
void trn_relu_fwd(float *x, size_t n);
void trn_relu_bwd(const float *y, float *dx, size_t n);

/* Inverted dropout with keep probability 1 - p: x *= mask / (1 - p). mask[n]
 * (1 keep, 0 drop) is drawn from `*state` (a splitmix64 state that advances),
 * so a step's masks are a function of the seed and the step. p == 0 leaves x
 * alone and writes all-ones. */
void trn_dropout_fwd(float *x, size_t n, float p, uint64_t *state, uint8_t *mask);
void trn_dropout_bwd(float *dx, size_t n, float p, const uint8_t *mask);

/* Multi-head scaled dot-product attention of one sequence: q [nq, H*dh],
 * k, v [nk, H*dh] (row stride ld each, the model's d), out [nq, H*dh] (ld).
 * Causal: query i sees keys 0..i. Keeps P [H, nq, nk] (masked entries 0). */
void trn_attn_fwd(be_t *be, const float *q, const float *k, const float *v, int ld, int nq, int nk, int H, int dh,
                  int causal, float *P, float *out);
/* dq [nq, ld], dk, dv [nk, ld] += the gradients; scratch holds nq*nk floats. */
void trn_attn_bwd(be_t *be, const float *q, const float *k, const float *v, int ld, int nq, int nk, int H, int dh,
                  const float *P, const float *dout, float *dq, float *dk, float *dv, float *scratch);

/* Label-smoothed cross-entropy over T real target tokens (PyTorch's
 * definition: q = (1 - eps) onehot(label) + eps / V), summed. logits [T,V]
 * are replaced by dLoss/dlogits * grad_scale (pass 1/N for a mean over N
 * tokens). Returns the smoothed loss sum; *nll gets the plain negative
 * log-likelihood sum (for perplexity); *correct the argmax hits (may be NULL). */
double trn_xent(float *logits, const int *labels, int T, int V, float eps, float grad_scale, double *nll,
                int *correct);

#endif
