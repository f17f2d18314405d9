/* fastops: vectorised versions of the portable element-wise ops, for the
 * fast backends (openblas, onednn) to install as their overrides: layer
 * norm, ReLU, multi-head attention, and fp32 -> bf16 conversion. Each is
 * compiled for AVX-512, AVX2 and baseline x86-64 (SSE2) and picks the best
 * the CPU has at run time, so one binary runs everywhere. Log-softmax too.
 *
 * Numerics follow backends/portable.c step for step; only the order of the
 * additions in a dot product or a row sum differs (vector lanes), so results
 * agree with `ref` to float32 rounding. Signatures are those of be_ops_t. */
#ifndef FASTOPS_H
#define FASTOPS_H

#include <stddef.h>
#include <stdint.h>

#include "backends/backend.h"

void fastops_layernorm(be_t *be, const float *x, const float *g, const float *b, int M, int D, float eps,
                       float *y);
void fastops_relu(be_t *be, float *x, size_t n);
void fastops_attention(be_t *be, const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                       int nq, int nk, int n_heads, int d_head, int causal, int q_pos0, float *out, int ldo,
                       float *scratch);
/* The same for heads [h0, h1) only (scratch: nk floats), so that a backend
 * can split the heads between its threads. */
void fastops_attention_heads(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv, int nq,
                             int nk, int h0, int h1, int d_head, int causal, int q_pos0, float *out, int ldo,
                             float *scratch);
/* Attention with the heads split between `threads` OpenMP threads when
 * the call is big enough to pay for waking them (an encoder sentence is;
 * one decoding step is not). A team owns per-thread score buffers, grown
 * on first use of a longer key sequence; zero-initialise, then set threads. */
typedef struct fastops_team {
    int threads;
    float *att;                /* [threads, att_cap] */
    int att_cap;
} fastops_team_t;
void fastops_attention_team(fastops_team_t *team, const float *q, int ldq, const float *k, int ldk, const float *v,
                            int ldv, int nq, int nk, int n_heads, int d_head, int causal, int q_pos0, float *out,
                            int ldo, float *scratch);
void fastops_team_free(fastops_team_t *team);
/* be_ops_t.attention_rows over a team: the n * n_heads (row, head) pairs in
 * one OpenMP parallel loop, contiguous shares per thread, when the step is
 * big enough to pay for waking the team (else on the calling thread). Each
 * pair runs fastops_attention_heads for that one head, so results equal
 * fastops_attention's to the bit whatever the split. */
void fastops_attention_rows(fastops_team_t *team, int n, const float *q, int ldq, const float *const *k,
                            const float *const *v, int ldkv, const int *nk, int n_heads, int d_head, float *out,
                            int ldo, float *scratch);
/* x[M,N] -> x - logsumexp(x) per row: a vectorised exp (polynomial, error
 * below 1e-7 relative) summed in double as portable.c does. */
void fastops_log_softmax(be_t *be, float *x, int M, int N);
/* y[n] = W[n,:] . x + b[n] for rows n in [n0, n1) of W: [N, K] (b may be
 * NULL): a linear layer over one input row, on the calling thread; callers
 * split the rows between threads. */
void fastops_gemv(const float *W, const float *x, const float *b, int K, int n0, int n1, float *y);
/* y[M, N] = x[M, K] * W^T + b for 1 <= M <= 4 rows, bf16 inputs, fp32
 * accumulation and output (vdpbf16ps), on weights in the blocked layout
 * oneDNN's bf16 matmul uses ("BA16a64b2a": tiles of 32 k x 64 n, inside a
 * tile k-pairs of 64 outputs x 2; tile (kb, nb) at kb * stride_k + nb *
 * stride_n elements; K padded to 32 and N to 64 with zeros). x rows are
 * ldx apart and hold K padded to a multiple of 32 with zeros. Computes the
 * column blocks [nb0, nb1) of 64 outputs (callers split them between
 * threads). A memory-bound kernel for batch-1 decoding and MoE experts with
 * a few tokens. Returns -1 (and does nothing) without AVX512-BF16 or for
 * other M. */
int fastops_bf16_rows(const uint16_t *W, int N, int K, long stride_k, long stride_n, const uint16_t *x, int ldx,
                      int M, const float *b, float *y, int ldy, int nb0, int nb1);
int fastops_has_bf16_rows(void);
/* dst[n] = bf16(src[n]), round to nearest even (NaN stays NaN). */
void fastops_to_bf16(const float *src, uint16_t *dst, size_t n);
/* int8 (onednn_int8.c). One row of activations to u8 in [0, qmax] with its own scale and zero
 * point: x ~ sx * (q - zp), the range widened to hold 0; -1 (q untouched) when the row has an
 * inf or a NaN. Rounding is to nearest, ties to even (lrintf's), on every instruction set. */
int fastops_quantise_u8(const float *x, int K, int qmax, uint8_t *q, float *sx, int32_t *zp);
/* y[n] = sx * scale[n] * (a[n] - zp * qsum[n]) + b[n] (b may be NULL): one row of s32 sums back
 * to fp32, each output the same arithmetic on every instruction set (no FMA). */
void fastops_dequant_row(const int32_t *a, int N, float sx, int32_t zp, const float *scale, const int32_t *qsum,
                         const float *b, float *y);
/* Name of the instruction set the ops run with: "avx512", "avx2" or "sse2":
 * the best the CPU has, or lower where the environment variable MOEBENCH_ISA
 * (sse2, avx2, avx512) says so: a stand-in for an older CPU, and a way to
 * test every path on one machine. panel.c's kernels follow it too. */
const char *fastops_isa(void);
#define FASTOPS_ISA_ENV "MOEBENCH_ISA"
/* 0 sse2, 1 avx2, 2 avx512 */
int fastops_isa_level(void);
/* -1 with a one-line message when MOEBENCH_ISA is not a name or above what
 * the CPU can run; be_open calls it before opening any backend. */
int fastops_isa_check(mb_error_t *err);

#endif
