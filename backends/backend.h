/* backend: the one interface between the model code and compute libraries.
 *
 * A backend is a const table of function pointers (be_ops_t). Only `gemm` is
 * required; every other op is an optional override, and when a backend leaves
 * it NULL the portable C version in backends/portable.c runs instead. Model
 * code calls the be_* dispatch functions below and never includes a BLAS or
 * oneDNN header, so it does not know which backend runs it.
 *
 * Weights are be_weight_t: a float32 matrix [n_out, n_in] (row-major, the
 * PyTorch Linear layout) plus a bias, and a slot `prepared` where a backend
 * may keep its own copy (bf16, reordered blocks) made once by weight_prepare.
 * This module does not own weights; the model does. */
#ifndef BACKEND_H
#define BACKEND_H

#include <stddef.h>

#include "common/mb_error.h"

typedef enum be_precision {
    BE_PRECISION_FP32 = 0,
    BE_PRECISION_BF16 = 1,
    /* int8 weights and activations, fp32 outputs (onednn): "int8" keeps the
     * output projection (BE_WEIGHT_OUT_PROJ) in fp32, since its argmax over
     * the whole vocabulary picks the token and is where quantisation error
     * flips outputs most directly; "int8all" quantises it too (faster at large
     * batch, where it is the biggest GEMM of a decode step). A precision
     * rather than a flag so that rows, scenarios and kernels tell them apart. */
    BE_PRECISION_INT8 = 2,
    BE_PRECISION_INT8_ALL = 3,
} be_precision_t;

typedef struct be_options {
    int threads;               /* 0 = the backend's default */
    be_precision_t precision;
} be_options_t;

/* int8 or int8all */
#define BE_PRECISION_IS_INT8(p) ((p) == BE_PRECISION_INT8 || (p) == BE_PRECISION_INT8_ALL)

/* What a weight is for, so that a backend may treat one kind apart (int8
 * keeps the output projection in fp32; onednn lays out fp32 weights by how
 * many rows a call brings). The model sets it. BE_WEIGHT_SENTENCE: applied
 * to whole sentences at once, hundreds of rows a call (the encoder's layers,
 * the decoder's cross-attention K/V); BE_WEIGHT_LAYER: any other layer (the
 * decoder's, a few rows per sentence and step; MoE experts, whose share of
 * a batch's tokens is ~100-400 rows a call, where onednn's panel kernels
 * measured as fast as its brgemm or faster: `kernels`, prefill.expert_*). */
enum { BE_WEIGHT_LAYER = 0, BE_WEIGHT_OUT_PROJ = 1, BE_WEIGHT_SENTENCE = 2 };

typedef struct be_weight {
    const float *w;            /* [n_out, n_in] */
    const float *b;            /* [n_out] or NULL */
    int n_out, n_in;
    void *prepared;            /* backend-owned; NULL until weight_prepare */
    int role;                  /* BE_WEIGHT_LAYER, _OUT_PROJ or _SENTENCE */
} be_weight_t;

typedef struct be be_t;

typedef struct be_ops {
    const char *name;
    const char *summary;
    /* The backend's threads are an OpenMP team (onednn): model code may run
     * its own OpenMP loops on be->opt.threads threads. Not so next to
     * OpenBLAS's pthreads, where libgomp's spinning team and OpenBLAS's
     * pool fight over the cores (docs/backends.md). */
    int openmp;
    /* Sets up be->state; fails (with a message) when the precision or thread
     * count cannot be honoured. Optional. */
    int (*init)(be_t *be, mb_error_t *err);
    void (*shutdown)(be_t *be);
    /* Library and version, e.g. "OpenBLAS 0.3.21 (Haswell)". Optional. */
    const char *(*version)(be_t *be);

    /* C[M,N] = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T.
     * A: [M,K] (lda) or, transposed, [K,M]; B: [K,N] (ldb) or, transposed, [N,K]. */
    void (*gemm)(be_t *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

    /* ---- optional overrides ---- */
    int (*weight_prepare)(be_t *be, be_weight_t *w, mb_error_t *err);
    void (*weight_release)(be_t *be, be_weight_t *w);
    /* y[M, n_out] = x[M, n_in] * W^T + b */
    void (*linear)(be_t *be, const be_weight_t *w, const float *x, int M, float *y);
    /* y[M,D] = (x - mean) / sqrt(var + eps) * g + b, per row; y may equal x */
    void (*layernorm)(be_t *be, const float *x, const float *g, const float *b, int M, int D,
                      float eps, float *y);
    /* x[n] = max(x, 0) */
    void (*relu)(be_t *be, float *x, size_t n);
    /* Multi-head scaled dot-product attention of nq queries over nk keys.
     * q: [nq, H*dh] (row stride ldq), k, v: [nk, H*dh] (ldk, ldv), out: [nq, H*dh] (ldo).
     * Query i sits at position q_pos0 + i and, when causal, sees keys 0..q_pos0+i.
     * scratch holds at least nk floats. */
    void (*attention)(be_t *be, const float *q, int ldq, const float *k, int ldk, const float *v,
                      int ldv, int nq, int nk, int n_heads, int d_head, int causal, int q_pos0,
                      float *out, int ldo, float *scratch);
    /* x[M,N] -> x - logsumexp(x) per row, in place (the decoder's output
     * distribution over the vocabulary). */
    void (*log_softmax)(be_t *be, float *x, int M, int N);
    /* The attention of one decoder step: n rows, each one query over its own
     * keys (not causal). Row r: query q + r*ldq [H*dh], keys k[r] and values
     * v[r] (nk[r] rows, ldkv apart), output out + r*ldo. Each (row, head) is
     * computed as attention() computes it, so the result does not depend on
     * how rows and heads are split between threads. scratch holds the
     * largest nk[r] floats (for a serial version). */
    void (*attention_rows)(be_t *be, int n, const float *q, int ldq, const float *const *k,
                           const float *const *v, int ldkv, const int *nk, int n_heads, int d_head,
                           float *out, int ldo, float *scratch);
    /* 1 when gemm may run on several threads of the caller at once (no
     * shared state per call): the trainer then gives each thread of its
     * OpenMP team its own small GEMMs (attention per sequence). 0: one call
     * at a time (onednn keeps a primitive cache and memory objects). */
    int gemm_concurrent;
} be_ops_t;

struct be {
    const be_ops_t *ops;
    be_options_t opt;
    void *state;               /* backend-private */
};

/* Backends compiled in (registry.c). */
int be_count(void);
const be_ops_t *be_at(int i);
const be_ops_t *be_find(const char *name);
/* Opens backend `name`; unknown names and unsupported options are errors that
 * list what is available. */
int be_open(const char *name, const be_options_t *opt, be_t *be, mb_error_t *err);
void be_close(be_t *be);
const char *be_precision_name(be_precision_t p);
int be_precision_parse(const char *text, be_precision_t *out, mb_error_t *err);

/* ---- dispatch: the backend's override or the portable version ---- */
static inline void be_gemm(be_t *be, int ta, int tb, int M, int N, int K, float alpha,
                           const float *A, int lda, const float *B, int ldb, float beta,
                           float *C, int ldc)
{
    be->ops->gemm(be, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
int be_weight_prepare(be_t *be, be_weight_t *w, mb_error_t *err);
void be_weight_release(be_t *be, be_weight_t *w);
void be_linear(be_t *be, const be_weight_t *w, const float *x, int M, float *y);
void be_layernorm(be_t *be, const float *x, const float *g, const float *b, int M, int D, float eps,
                  float *y);
void be_relu(be_t *be, float *x, size_t n);
void be_attention(be_t *be, const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                  int nq, int nk, int n_heads, int d_head, int causal, int q_pos0, float *out, int ldo,
                  float *scratch);
void be_log_softmax(be_t *be, float *x, int M, int N);
void be_attention_rows(be_t *be, int n, const float *q, int ldq, const float *const *k, const float *const *v,
                       int ldkv, const int *nk, int n_heads, int d_head, float *out, int ldo, float *scratch);

/* The portable versions themselves (portable.c), for backends that wrap them
 * and for tests that compare against them. */
void portable_linear(be_t *be, const be_weight_t *w, const float *x, int M, float *y);
void portable_layernorm(be_t *be, const float *x, const float *g, const float *b, int M, int D,
                        float eps, float *y);
void portable_relu(be_t *be, float *x, size_t n);
void portable_attention(be_t *be, const float *q, int ldq, const float *k, int ldk, const float *v,
                        int ldv, int nq, int nk, int n_heads, int d_head, int causal, int q_pos0,
                        float *out, int ldo, float *scratch);
void portable_log_softmax(be_t *be, float *x, int M, int N);
/* One be_attention call per row, in order, on the calling thread. */
void portable_attention_rows(be_t *be, int n, const float *q, int ldq, const float *const *k, const float *const *v,
                             int ldkv, const int *nk, int n_heads, int d_head, float *out, int ldo, float *scratch);

#endif
