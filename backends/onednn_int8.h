/* onednn_int8: the int8 linear layers of the onednn backend (--precision int8).
 *
 * Weights are quantised once, symmetric per output row: q[n,k] = round(w[n,k] / s[n]) in
 * [-127, 127] with s[n] = max_k |w[n,k]| / 127. Activations are quantised per call, per tensor
 * row, asymmetric: u8 in [0, 127] with a zero point, so a row after a ReLU uses the whole range
 * and one row's outliers do not coarsen the others. Only 7 bits of u8: on CPUs without VNNI (AVX2) the int8 GEMM pairs
 * products with vpmaddubsw, whose 16-bit sums saturate at 32767; 127 * 127 * 2 = 32258 cannot,
 * 255 * 127 * 2 could, and does with Debian's oneDNN 2.6 on Zen 3 (tests/unit/test_int8.c's
 * worst case gave -777 for -1536 with 8-bit inputs); PyTorch's "reduce_range" does the same. oneDNN's matmul sums u8 x s8
 * in s32; this module dequantises: y = s_x[m] * s[n] * (acc - zp[m] * sum_k q[n,k]) + b[n] (oneDNN
 * 2.6's matmul takes output scales per column only, so per-row input scales are applied here).
 *
 * This module owns the quantised copies and a cache of int8 matmul primitives per (M, N, K); the
 * onednn backend (onednn.c) owns the engine and stream and decides which weights are int8. */
#ifndef ONEDNN_INT8_H
#define ONEDNN_INT8_H

#include <oneapi/dnnl/dnnl.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mb_error.h"

typedef struct dn8_cache dn8_cache_t;

/* A weight quantised by dn8_weight_make: q [N, K] s8 row-major (fmt -1) or, after
 * dn8_weight_pack, the same values in the blocked layout oneDNN's int8 matmul reads (fmt >= 0: a
 * layout of the cache's); scale [N], qsum [N] = sum_k q. */
typedef struct dn8_weight {
    int8_t *q;
    float *scale;
    int32_t *qsum;
    int n_out, n_in;
    int fmt;
} dn8_weight_t;

int dn8_cache_create(dnnl_engine_t eng, dnnl_stream_t stream, dn8_cache_t **out, mb_error_t *err);
void dn8_cache_free(dn8_cache_t *c);

/* The kernel oneDNN picks for a 64x64x64 int8 matmul of this scheme ("gemm:jit"), or NULL when
 * this CPU or build has none. */
const char *dn8_probe(dnnl_engine_t eng, char *buf, size_t len);

/* w: [N, K] fp32 -> *out, quantised per row as above. */
int dn8_weight_make(const float *w, int N, int K, dn8_weight_t **out, mb_error_t *err);
/* Reorders qw->q once into the layout oneDNN's matmul asks for (then oneDNN does not repack the
 * weights at every call). 0 when packed or already in that layout; -1 when it could not be done:
 * qw is then unchanged, and dn8_linear runs it plain. */
int dn8_weight_pack(dn8_cache_t *c, dn8_weight_t *qw);
void dn8_weight_free(dn8_weight_t *qw);

/* y[M, N] = dequant(quant(x[M, K]) * qw^T) + b[N] (b may be NULL); 0 on success, -1 when oneDNN
 * refused the shape or memory ran out (y is then undefined and the caller computes it otherwise). */
int dn8_linear(dn8_cache_t *c, const dn8_weight_t *qw, const float *x, int M, const float *b, float *y);

#endif
