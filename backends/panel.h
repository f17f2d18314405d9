/* panel: fp32 linear layers y[M, N] = x[M, K] W^T + b over weights packed
 * once into panels of PNL_COLS outputs, with moebench's own register-tiled
 * kernels (AVX-512: 6 rows x 64 outputs; AVX2+FMA: 6 rows x 16 outputs).
 *
 * Why it exists: in a decoding step the weights stream from memory once per
 * step for a few dozen rows (the batch-64 output projection reads 131 MB of
 * weights for 64 rows). oneDNN 2.6's brgemm reached 52-57% of the fp32 peak
 * on that shape; these kernels walk each panel in blocks of PNL_KC inputs
 * that stay in L1 while every row of the call passes over them, and
 * prefetch the next block meanwhile (docs/backends.md has the figures).
 *
 * Layout: panel p holds outputs [64p, 64p + 64) as K rows of 64 floats
 * (P[(p * K + k) * 64 + j] = W[64p + j, k]); the last panel is padded with
 * zeros. Each output is one fp32 sum over k in increasing order (FMA), then
 * the bias: results do not depend on the thread count or on M. */
#ifndef PANEL_H
#define PANEL_H

#include <stddef.h>

#define PNL_COLS 64

/* Instruction sets the kernels exist for; pnl_linear refuses one the CPU lacks. */
typedef enum { PNL_NONE = 0, PNL_AVX2 = 1, PNL_AVX512 = 2 } pnl_isa_t;

/* The best instruction set this CPU runs the kernels with (PNL_NONE: none). */
pnl_isa_t pnl_best_isa(void);
const char *pnl_isa_name(pnl_isa_t isa);
/* Floats the packed copy of an N x K weight takes. */
size_t pnl_packed_floats(int N, int K);
/* W: [N, K] row-major -> P (pnl_packed_floats(N, K) floats, 64-byte aligned);
 * large weights on OpenMP's default team. */
void pnl_pack(const float *W, int N, int K, float *P);
/* Floats of the scratch pnl_linear needs for M rows of K inputs (a copy of
 * x in the kernels' order). */
size_t pnl_scratch_floats(int M, int K);
/* y[M, N] (rows N apart) = x[M, K] (rows K apart) W^T + b (b may be NULL),
 * on up to `threads` OpenMP threads; scratch: pnl_scratch_floats(M, K)
 * floats. Returns -1 without touching y when the CPU lacks `isa` (or isa is
 * PNL_NONE), else 0. */
int pnl_linear(pnl_isa_t isa, const float *P, int N, int K, const float *x, int M, const float *b, float *y,
               int threads, float *scratch);

#endif
