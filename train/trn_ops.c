/* trn_ops: forward and backward of the Transformer building blocks for
 * training (see trn_ops.h). */
#include "train/trn_ops.h"

#include <math.h>
#include <string.h>

#include "common/mb_mem.h"
#include "models/layers.h"

int trn_buf(void *pp, size_t n, size_t elem, uint64_t *bytes)
{
    if (bytes) {
        *bytes += (uint64_t)n * elem;
        return 0;
    }
    return mb_grow((void **)pp, n ? n : 1, elem);
}

/* y[i,:] += b, and with relu also y = max(y, 0): one pass over y. The
 * elementwise loops in this file carry `omp simd` because the project builds
 * at -O2, where GCC does not vectorise them on its own; as written (no
 * branches, no reassociated sums unless stated) they give the same values
 * vectorised or not. */
static void bias_act(float *y, const float *b, int M, int n_out, int relu)
{
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
        } else if (relu) {
#pragma omp simd
            for (int o = 0; o < n_out; o++)
                r[o] = r[o] > 0.0f ? r[o] : 0.0f;
        }
    }
}

void trn_linear_fwd(be_t *be, const float *W, const float *b, const float *x, int M, int n_in, int n_out,
                    float *y)
{
    be_gemm(be, 0, 1, M, n_out, n_in, 1.0f, x, n_in, W, n_in, 0.0f, y, n_out);
    bias_act(y, b, M, n_out, 0);
}

void trn_linear_relu_fwd(be_t *be, const float *W, const float *b, const float *x, int M, int n_in, int n_out,
                         float *y)
{
    be_gemm(be, 0, 1, M, n_out, n_in, 1.0f, x, n_in, W, n_in, 0.0f, y, n_out);
    bias_act(y, b, M, n_out, 1);
}

void trn_linear_bwd(be_t *be, const float *W, const float *x, const float *dy, int M, int n_in, int n_out,
                    float *dx, float dx_beta, float *dW, float *db)
{
    if (M == 0)
        return;
    be_gemm(be, 1, 0, n_out, n_in, M, 1.0f, dy, n_out, x, n_in, 1.0f, dW, n_in);
    if (db)
        for (int i = 0; i < M; i++) {
            const float *r = dy + (size_t)i * n_out;
#pragma omp simd
            for (int o = 0; o < n_out; o++)
                db[o] += r[o];
        }
    if (dx)
        be_gemm(be, 0, 0, M, n_in, n_out, 1.0f, dy, n_out, W, n_in, dx_beta, dx, n_in);
}

/* The row sums below are vectorised reductions (omp simd reduction): their
 * order differs from a serial loop's, so values can differ from it in the
 * last bits; they are the same on every run. */
void trn_ln_fwd(const float *x, const float *g, const float *b, int M, int D, float *y, float *xhat, float *rstd)
{
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
    for (int i = 0; i < M; i++) {
        const float *dyi = dy + (size_t)i * D, *hi = xhat + (size_t)i * D;
        float *dxi = dx + (size_t)i * D;
        /* dxhat = dy * g; dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) */
        float m1 = 0.0f, m2 = 0.0f;
#pragma omp simd reduction(+ : m1, m2)
        for (int j = 0; j < D; j++) {
            float dh = dyi[j] * g[j];
            m1 += dh;
            m2 += dh * hi[j];
            dg[j] += dyi[j] * hi[j];
            db[j] += dyi[j];
        }
        m1 /= (float)D;
        m2 /= (float)D;
        const float r = rstd[i];
#pragma omp simd
        for (int j = 0; j < D; j++)
            dxi[j] += r * (dyi[j] * g[j] - m1 - hi[j] * m2);
    }
}

void trn_embed_bwd(float *dtable, int d, const int *ids, int n, float scale, const float *dout)
{
    for (int i = 0; i < n; i++) {
        float *row = dtable + (size_t)ids[i] * d;
        const float *g = dout + (size_t)i * d;
        for (int j = 0; j < d; j++)
            row[j] += scale * g[j];
    }
}

void trn_relu_fwd(float *x, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void trn_relu_bwd(const float *y, float *dx, size_t n)
{
    /* a select, not a branch: the sign of y is a coin toss, and a branch on
     * it was mispredicted often enough to cost 3% of a training step */
#pragma omp simd
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
    /* four 16-bit draws per 64-bit number: p is resolved to 1/65536 */
    const uint32_t thresh = (uint32_t)(p * 65536.0f);
    const float keep = 1.0f / (1.0f - p);
    uint64_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if ((i & 3) == 0)
            r = splitmix(state);
        uint32_t u = (uint32_t)(r & 0xffff);
        r >>= 16;
        mask[i] = u >= thresh;
        x[i] = mask[i] ? x[i] * keep : 0.0f;
    }
}

void trn_dropout_bwd(float *dx, size_t n, float p, const uint8_t *mask)
{
    if (p <= 0.0f)
        return;
    const float keep = 1.0f / (1.0f - p);
#pragma omp simd
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

double trn_xent(float *logits, const int *labels, int T, int V, float eps, float grad_scale, double *nll,
                int *correct)
{
    enum { BLOCK = 512 }; /* float partial sums over blocks, added up in double */
    double loss = 0.0, nl = 0.0;
    int hits = 0;
    const float off = eps / (float)V;
    for (int t = 0; t < T; t++) {
        float *r = logits + (size_t)t * V;
        const int y = labels[t], best = layer_argmax(r, V); /* the first maximum */
        const float mx = r[best];
        hits += best == y;
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
        loss += -(1.0 - eps) * lp_y - eps * mean_lp;
        nl += -lp_y;
        const float inv = (float)(1.0 / sum);
#pragma omp simd
        for (int j = 0; j < V; j++)
            r[j] = (r[j] * inv - off) * grad_scale;
        r[y] -= (1.0f - eps) * grad_scale;
    }
    if (nll)
        *nll = nl;
    if (correct)
        *correct = hits;
    return loss;
}
