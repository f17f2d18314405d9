/* trn_ops: forward and backward of the Transformer building blocks for
 * training (see trn_ops.h). */
#include "train/trn_ops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/mb_mem.h"
#include "models/layers.h"

/* Threading (issue 13): the OpenMP team is the calling thread's
 * (omp_set_num_threads, set by trn_create from --threads). Every loop below
 * splits only independent work: rows (tokens), columns of a column sum, or
 * elements, and each output is computed by one thread in the serial order,
 * so the results are the same bit for bit at every thread count; only the
 * GEMMs (the backend's) may depend on it. Regions below TRN_PAR_MIN floats
 * of work stay serial: a fork-join costs a few microseconds.
 *
 * Vectorising: the elementwise loops carry `omp simd` because the project
 * builds at -O2, where GCC leaves them scalar; written without branches and
 * without reassociated sums (except the row reductions marked so), they
 * give the same values vectorised or not. */
#define TRN_PAR_MIN 16384

int trn_buf(void *pp, size_t n, size_t elem, uint64_t *bytes)
{
    if (bytes) {
        *bytes += (uint64_t)n * elem;
        return 0;
    }
    return mb_grow((void **)pp, n ? n : 1, elem);
}

/* C[M,N] = alpha op(A) op(B) + beta C through the backend. With a team of
 * several threads (outside any parallel region) and a backend that runs on
 * one thread and may be called from several at once (gemm_concurrent), the
 * team splits C into row blocks (or column blocks when C is wide and short),
 * one single-threaded GEMM each: one pool of threads for the whole step, not
 * OpenBLAS's pthreads and libgomp's team fighting over the cores (tried on
 * branch tromp: slower). Each element of C is still one GEMM's dot product
 * over the same K, so the split changes no value on ref and, in practice,
 * none on OpenBLAS (whose K blocking does not depend on M or N). */
void trn_gemm(be_t *be, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc)
{
    const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nt < 2 || !be->ops->gemm_concurrent || be->opt.threads != 1 || (double)M * N * K < 262144.0) {
        be_gemm(be, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int by_rows = M >= N;
    const int len = by_rows ? M : N;
    /* blocks in multiples of 16 (the kernels' register tiles), as even as that allows */
    const int chunk = ((len + nt - 1) / nt + 15) / 16 * 16;
#pragma omp parallel for schedule(static, 1) num_threads(nt)
    for (int b = 0; b < nt; b++) {
        const int lo = b * chunk, hi = lo + chunk < len ? lo + chunk : len;
        if (lo >= hi)
            continue;
        if (by_rows)
            be_gemm(be, ta, tb, hi - lo, N, K, alpha, ta ? A + lo : A + (size_t)lo * lda, lda, B, ldb, beta,
                    C + (size_t)lo * ldc, ldc);
        else
            be_gemm(be, ta, tb, M, hi - lo, K, alpha, A, lda, tb ? B + (size_t)lo * ldb : B + lo, ldb, beta, C + lo,
                    ldc);
    }
}

/* acc[c] += sum_i x[i, c] over rows in order, columns split among threads:
 * the serial result at any thread count. */
static void trn_colsum(const float *x, int M, int N, float *acc)
{
    const int nb = (N + 63) / 64; /* slices of 64 columns: a cache line of acc per slice */
#pragma omp parallel for schedule(static) if ((size_t)M * N > TRN_PAR_MIN)
    for (int blk = 0; blk < nb; blk++) {
        const int c0 = blk * 64, c1 = c0 + 64 < N ? c0 + 64 : N;
        for (int i = 0; i < M; i++) {
            const float *r = x + (size_t)i * N;
#pragma omp simd
            for (int c = c0; c < c1; c++)
                acc[c] += r[c];
        }
    }
}

/* y[i,:] += b, and with relu also y = max(y, 0): one pass over y */
static void bias_act(float *y, const float *b, int M, int n_out, int relu)
{
    if (!b && !relu)
        return;
#pragma omp parallel for schedule(static) if ((size_t)M * n_out > TRN_PAR_MIN)
    for (int i = 0; i < M; i++) {
        float *r = y + (size_t)i * n_out;
        if (b && relu) {
#pragma omp simd
            for (int o = 0; o < n_out; o++) {
                float v = r[o] + b[o];
                r[o] = v > 0.0f ? v : 0.0f;
            }
        } else if (b) {
#pragma omp simd
            for (int o = 0; o < n_out; o++)
                r[o] += b[o];
        } else {
#pragma omp simd
            for (int o = 0; o < n_out; o++)
                r[o] = r[o] > 0.0f ? r[o] : 0.0f;
        }
    }
}

void trn_linear_fwd(be_t *be, const float *W, const float *b, const float *x, int M, int n_in, int n_out,
                    float *y)
{
    trn_gemm(be, 0, 1, M, n_out, n_in, 1.0f, x, n_in, W, n_in, 0.0f, y, n_out);
    bias_act(y, b, M, n_out, 0);
}

void trn_linear_relu_fwd(be_t *be, const float *W, const float *b, const float *x, int M, int n_in, int n_out,
                         float *y)
{
    trn_gemm(be, 0, 1, M, n_out, n_in, 1.0f, x, n_in, W, n_in, 0.0f, y, n_out);
    bias_act(y, b, M, n_out, 1);
}

void trn_linear_bwd(be_t *be, const float *W, const float *x, const float *dy, int M, int n_in, int n_out,
                    float *dx, float dx_beta, float *dW, float *db)
{
    if (M == 0)
        return;
    trn_gemm(be, 1, 0, n_out, n_in, M, 1.0f, dy, n_out, x, n_in, 1.0f, dW, n_in);
    if (db) /* column sums: each thread owns a slice of columns, rows in order */
        trn_colsum(dy, M, n_out, db);
    if (dx)
        trn_gemm(be, 0, 0, M, n_in, n_out, 1.0f, dy, n_out, W, n_in, dx_beta, dx, n_in);
}

/* The row sums of layer norm are vectorised reductions (omp simd
 * reduction): their order differs from a serial loop's, so values can differ
 * from one in the last bits; they are the same on every run and at every
 * thread count. */
void trn_ln_fwd(const float *x, const float *g, const float *b, int M, int D, float *y, float *xhat, float *rstd)
{
#pragma omp parallel for schedule(static) if ((size_t)M * D > TRN_PAR_MIN)
    for (int i = 0; i < M; i++) {
        const float *xi = x + (size_t)i * D;
        float *yi = y + (size_t)i * D, *hi = xhat + (size_t)i * D;
        float mean = 0.0f, var = 0.0f;
#pragma omp simd reduction(+ : mean)
        for (int j = 0; j < D; j++)
            mean += xi[j];
        mean /= (float)D;
#pragma omp simd reduction(+ : var)
        for (int j = 0; j < D; j++) {
            float c = xi[j] - mean;
            var += c * c;
        }
        float r = 1.0f / sqrtf(var / (float)D + TRN_LN_EPS);
        rstd[i] = r;
#pragma omp simd
        for (int j = 0; j < D; j++) {
            hi[j] = (xi[j] - mean) * r;
            yi[j] = hi[j] * g[j] + b[j];
        }
    }
}

void trn_ln_bwd(const float *dy, const float *xhat, const float *rstd, const float *g, int M, int D, float *dx,
                float *dg, float *db)
{
    const int nb = (D + 63) / 64;
#pragma omp parallel if ((size_t)M * D > TRN_PAR_MIN)
    {
        /* dx: rows. dxhat = dy * g; dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) */
#pragma omp for schedule(static)
        for (int i = 0; i < M; i++) {
            const float *dyi = dy + (size_t)i * D, *hi = xhat + (size_t)i * D;
            float *dxi = dx + (size_t)i * D;
            float m1 = 0.0f, m2 = 0.0f;
#pragma omp simd reduction(+ : m1, m2)
            for (int j = 0; j < D; j++) {
                float dh = dyi[j] * g[j];
                m1 += dh;
                m2 += dh * hi[j];
            }
            m1 /= (float)D;
            m2 /= (float)D;
            const float r = rstd[i];
#pragma omp simd
            for (int j = 0; j < D; j++)
                dxi[j] += r * (dyi[j] * g[j] - m1 - hi[j] * m2);
        }
        /* dg, db: column sums over the rows in order, columns split */
#pragma omp for schedule(static)
        for (int blk = 0; blk < nb; blk++) {
            const int c0 = blk * 64, c1 = c0 + 64 < D ? c0 + 64 : D;
            for (int i = 0; i < M; i++) {
                const float *dyi = dy + (size_t)i * D, *hi = xhat + (size_t)i * D;
#pragma omp simd
                for (int j = c0; j < c1; j++) {
                    dg[j] += dyi[j] * hi[j];
                    db[j] += dyi[j];
                }
            }
        }
    }
}

void trn_embed_bwd(float *dtable, int d, const int *ids, int n, float scale, const float *dout)
{
    /* a token id repeats across rows: split the columns, not the rows */
    const int nb = (d + 63) / 64;
#pragma omp parallel for schedule(static) if ((size_t)n * d > TRN_PAR_MIN)
    for (int blk = 0; blk < nb; blk++) {
        const int c0 = blk * 64, c1 = c0 + 64 < d ? c0 + 64 : d;
        for (int i = 0; i < n; i++) {
            float *row = dtable + (size_t)ids[i] * d;
            const float *g = dout + (size_t)i * d;
#pragma omp simd
            for (int j = c0; j < c1; j++)
                row[j] += scale * g[j];
        }
    }
}

void trn_relu_fwd(float *x, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n > TRN_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void trn_relu_bwd(const float *y, float *dx, size_t n)
{
    /* a select, not a branch: the sign of y is a coin toss, and a branch on
     * it was mispredicted often enough to cost 3% of a training step */
#pragma omp parallel for simd schedule(static) if (n > TRN_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] > 0.0f ? dx[i] : 0.0f;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void trn_dropout_fwd(float *x, size_t n, float p, uint64_t *state, uint8_t *mask)
{
    if (p <= 0.0f) {
        memset(mask, 1, n);
        return;
    }
    /* four 16-bit draws per 64-bit number: p is resolved to 1/65536. splitmix64
     * is a counter (draw q uses state + (q + 1) * gamma), so groups of four
     * elements are independent and threads split them without changing a mask. */
    const uint32_t thresh = (uint32_t)(p * 65536.0f);
    const float keep = 1.0f / (1.0f - p);
    const uint64_t s0 = *state;
    const size_t groups = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > TRN_PAR_MIN)
    for (size_t q = 0; q < groups; q++) {
        uint64_t s = s0 + q * 0x9e3779b97f4a7c15ull;
        uint64_t r = splitmix(&s);
        const size_t e = q * 4 + 4 < n ? q * 4 + 4 : n;
        for (size_t i = q * 4; i < e; i++) {
            uint32_t u = (uint32_t)(r & 0xffff);
            r >>= 16;
            mask[i] = u >= thresh;
            x[i] = mask[i] ? x[i] * keep : 0.0f;
        }
    }
    *state = s0 + groups * 0x9e3779b97f4a7c15ull;
}

void trn_dropout_bwd(float *dx, size_t n, float p, const uint8_t *mask)
{
    if (p <= 0.0f)
        return;
    const float keep = 1.0f / (1.0f - p);
#pragma omp parallel for simd schedule(static) if (n > TRN_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float m = mask[i];
        dx[i] = m != 0.0f ? dx[i] * keep : 0.0f;
    }
}

/* Row softmax of scores [nq, nk] in place; causal rows see keys 0..i. */
static void softmax_rows(float *s, int nq, int nk, int causal)
{
    for (int i = 0; i < nq; i++) {
        float *r = s + (size_t)i * nk;
        int n = causal ? (i + 1 < nk ? i + 1 : nk) : nk;
        float mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < n; j++)
            mx = r[j] > mx ? r[j] : mx;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < n; j++) {
            r[j] = trn_expf(r[j] - mx);
            sum += r[j];
        }
        float inv = n > 0 ? 1.0f / sum : 0.0f;
#pragma omp simd
        for (int j = 0; j < n; j++)
            r[j] *= inv;
        for (int j = n; j < nk; j++)
            r[j] = 0.0f;
    }
}

void trn_attn_fwd(be_t *be, const float *q, const float *k, const float *v, int ld, int nq, int nk, int H, int dh,
                  int causal, float *P, float *out)
{
    const float scale = 1.0f / sqrtf((float)dh);
    for (int h = 0; h < H; h++) {
        float *Ph = P + (size_t)h * nq * nk;
        const size_t c = (size_t)h * dh;
        be_gemm(be, 0, 1, nq, nk, dh, scale, q + c, ld, k + c, ld, 0.0f, Ph, nk);
        softmax_rows(Ph, nq, nk, causal);
        be_gemm(be, 0, 0, nq, dh, nk, 1.0f, Ph, nk, v + c, ld, 0.0f, out + c, ld);
    }
}

void trn_attn_bwd(be_t *be, const float *q, const float *k, const float *v, int ld, int nq, int nk, int H, int dh,
                  const float *P, const float *dout, float *dq, float *dk, float *dv, float *scratch)
{
    const float scale = 1.0f / sqrtf((float)dh);
    for (int h = 0; h < H; h++) {
        const float *Ph = P + (size_t)h * nq * nk;
        const size_t c = (size_t)h * dh;
        /* dP = dout_h v_h^T; dv_h += P^T dout_h */
        be_gemm(be, 0, 1, nq, nk, dh, 1.0f, dout + c, ld, v + c, ld, 0.0f, scratch, nk);
        be_gemm(be, 1, 0, nk, dh, nq, 1.0f, Ph, nk, dout + c, ld, 1.0f, dv + c, ld);
        /* softmax backward: dS = P * (dP - sum_j P dP) * scale (masked P = 0 gives dS = 0) */
        for (int i = 0; i < nq; i++) {
            float *r = scratch + (size_t)i * nk;
            const float *p = Ph + (size_t)i * nk;
            float dot = 0.0f;
            for (int j = 0; j < nk; j++)
                dot += p[j] * r[j];
            for (int j = 0; j < nk; j++)
                r[j] = p[j] * (r[j] - dot) * scale;
        }
        be_gemm(be, 0, 0, nq, dh, nk, 1.0f, scratch, nk, k + c, ld, 1.0f, dq + c, ld);
        be_gemm(be, 1, 0, nk, dh, nq, 1.0f, scratch, nk, q + c, ld, 1.0f, dk + c, ld);
    }
}

/* One row of trn_xent: the gradient in place; returns the hit, fills the
 * row's smoothed loss and NLL. */
static int xent_row(float *r, int y, int V, float eps, float grad_scale, double *loss, double *nll)
{
    enum { BLOCK = 512 }; /* float partial sums over blocks, added up in double */
    const float off = eps / (float)V;
    const int best = layer_argmax(r, V); /* the first maximum */
    const float mx = r[best];
    /* one exp per logit, kept for the gradient */
    const float zy = r[y] - mx;
    double sum = 0.0, sum_logit = 0.0;
    for (int j0 = 0; j0 < V; j0 += BLOCK) {
        const int j1 = j0 + BLOCK < V ? j0 + BLOCK : V;
        float s = 0.0f, sl = 0.0f;
#pragma omp simd reduction(+ : s, sl)
        for (int j = j0; j < j1; j++) {
            float z = r[j] - mx;
            sl += z;
            r[j] = trn_expf(z);
            s += r[j];
        }
        sum += s;
        sum_logit += sl;
    }
    double lse = log(sum); /* log-softmax(j) = r[j] - mx - lse */
    double lp_y = (double)zy - lse;
    double mean_lp = sum_logit / V - lse;
    *loss = -(1.0 - eps) * lp_y - eps * mean_lp;
    *nll = -lp_y;
    const float inv = (float)(1.0 / sum);
#pragma omp simd
    for (int j = 0; j < V; j++)
        r[j] = (r[j] * inv - off) * grad_scale;
    r[y] -= (1.0f - eps) * grad_scale;
    return best == y;
}

double trn_xent(float *logits, const int *labels, int T, int V, float eps, float grad_scale, double *nll,
                int *correct)
{
    double loss = 0.0, nl = 0.0;
    int hits = 0;
    /* rows in parallel, their losses summed afterwards in row order (the serial
     * sum); without the buffer (out of memory) the serial loop, same result */
    double *rl = T > 1 ? malloc(sizeof(double) * 2 * (size_t)T) : NULL;
    if (rl) {
#pragma omp parallel for schedule(static) reduction(+ : hits) if ((size_t)T * V > TRN_PAR_MIN)
        for (int t = 0; t < T; t++)
            hits += xent_row(logits + (size_t)t * V, labels[t], V, eps, grad_scale, &rl[2 * t], &rl[2 * t + 1]);
        for (int t = 0; t < T; t++) {
            loss += rl[2 * t];
            nl += rl[2 * t + 1];
        }
        free(rl);
    } else {
        for (int t = 0; t < T; t++) {
            double l, n;
            hits += xent_row(logits + (size_t)t * V, labels[t], V, eps, grad_scale, &l, &n);
            loss += l;
            nl += n;
        }
    }
    if (nll)
        *nll = nl;
    if (correct)
        *correct = hits;
    return loss;
}
