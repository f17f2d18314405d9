/* onednn: the oneDNN backend (Debian's libdnnl 2.6, OpenMP threading; the
 * 2.x C API: dnnl_matmul_desc_init, then dnnl_primitive_desc_create).
 *
 * Linear layers run oneDNN's matmul on a copy of each weight made once by
 * weight_prepare, in the blocked layout oneDNN's own kernel asks for (and in
 * bf16 with --precision bf16: activations are rounded to bf16 on the way
 * in, accumulation and outputs stay fp32). `gemm` is always fp32. In fp32,
 * weights that see a few rows per call (all but BE_WEIGHT_SENTENCE: the
 * decoder's layers, experts, the output projection) are instead packed for
 * panel.c's own kernels, measured faster there on AVX-512 and AVX2 CPUs
 * (docs/backends.md); where oneDNN's own fp32 matmul is no AVX-512 kernel
 * (AVX2 CPUs), every fp32 weight is. MOEBENCH_PANEL=off keeps them on oneDNN (A/B timing),
 * MOEBENCH_PANEL=avx2 runs the AVX2 tiles on an AVX-512 CPU (tests, and a
 * stand-in for AVX2 machines).
 *
 * Primitives are created once per shape and kept in a hash table. oneDNN
 * 2.6's fast kernel (brgemm) needs M fixed when the primitive is made (with
 * DNNL_RUNTIME_DIM_VAL it falls back to a slower one), so M is part of the
 * key; to keep the number of shapes bounded, rows are cut into blocks of at
 * most ROW_BLOCK, so a layer has at most ROW_BLOCK primitives whatever the
 * batch. One input row in fp32 and 1-4 rows in bf16 go to fastops kernels
 * instead (measured faster here: docs/backends.md). With --precision int8 the
 * linear layers run oneDNN's int8 matmul (onednn_int8.c; the output
 * projection stays fp32 unless int8all). Layer norm, ReLU,
 * attention (heads split over the OpenMP team) and log-softmax use the
 * vectorised fastops. One handle is for one thread at a time. */
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/fastops.h"
#include "backends/onednn_int8.h"
#include "backends/panel.h"
#include "backends/registry.h"
#include "common/mb_mem.h"

#define ROW_BLOCK 512          /* most rows one primitive computes */
#define TABLE_CAP 4096         /* primitive table slots; emptied when 3/4 full */
#define MAX_FORMATS 64         /* distinct weight layouts */
/* A matmul with fewer multiply-adds than this, on weights smaller than
 * SMALL_BYTES, runs on one thread: a fork and join of the thread team costs
 * about as much as the work, and when another process holds a core a thread
 * team waits a whole scheduler time slice for its last member. */
#define SMALL_MACS (256.0 * 1024)
#define SMALL_BYTES (256 * 1024)
/* bf16 linear layers over at most this many rows use fastops_bf16_rows: on
 * the machine this was written on it read weights from memory 10-30% faster
 * than oneDNN's kernel for 1-4 rows, and no faster for 5-16 */
#define ROWS_BF16_MAX 4

enum { OP_LINEAR = 1, OP_GEMM = 2 };

/* Everything a primitive depends on; ints only, so hashing the bytes is safe. */
typedef struct dn_key {
    int op, M, N, K;
    int ta, tb, lda, ldb, ldc;  /* gemm */
    int bf16, bias, fmt;        /* linear: fmt = weight layout index, -1 = plain fp32 [N, K] */
    uint32_t alpha, beta;       /* bit patterns (gemm) */
} dn_key_t;

typedef struct dn_entry {
    int used;
    dn_key_t key;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bias, dst;  /* made with no buffer; handles set per call */
    int single;                /* made and run with one thread */
} dn_entry_t;

/* How weights of one shape are prepared: their layout and the reorder into
 * it, made once per shape (a model has a handful of shapes). */
typedef struct dn_prep {
    int N, K, bf16, fmt;
    int rows_ok;               /* the layout fastops_bf16_rows reads */
    long stride_k, stride_n;
    dnnl_primitive_t reorder;
    dnnl_memory_t from, to;    /* handles set per weight */
} dn_prep_t;

typedef struct dn_state {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dn_entry_t *tab;
    int n_used;
    dnnl_memory_desc_t fmt[MAX_FORMATS];
    int n_fmt;
    dn_prep_t prep[MAX_FORMATS];
    int n_prep;
    uint16_t *xbf;             /* bf16 copy of a linear's input */
    size_t xbf_cap;
    fastops_team_t team;       /* threads and scratch of the multi-threaded ops */
    dn8_cache_t *q8;           /* int8 matmuls (--precision int8 only) */
    int warned;
    int threads;               /* the team size of this handle */
    pnl_isa_t pnl;             /* fp32 linear layers on panel.c's kernels (PNL_NONE: on oneDNN's) */
    int pnl_sentence;          /* the whole-sentence weights too: oneDNN's fp32 matmul here is no AVX-512 kernel */
    float *pscratch;           /* pnl_linear's scratch */
    size_t pscratch_cap;
    char version[256];
} dn_state_t;

/* A weight prepared by this backend: its copy in layout fmt. */
typedef struct dn_weight {
    void *data;
    int fmt;
    int bf16;
    int rows_ok;               /* see dn_prep_t */
    long stride_k, stride_n;
    dn8_weight_t *q8;          /* int8 copy; then data is NULL */
    float *panel;              /* fp32 copy in panel.h's layout; then data is NULL */
} dn_weight_t;

static int default_threads;    /* OpenMP's count before any handle changed it */

static dn_state_t *state_of(be_t *be)
{
    return be->state;
}

/* ---- the primitive table ---- */

static uint64_t key_hash(const dn_key_t *k)
{
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof *k; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void entry_free(dn_entry_t *e)
{
    if (e->prim)
        dnnl_primitive_destroy(e->prim);
    dnnl_memory_t *mems[] = {&e->src, &e->wei, &e->bias, &e->dst};
    for (int i = 0; i < 4; i++)
        if (*mems[i])
            dnnl_memory_destroy(*mems[i]);
    memset(e, 0, sizeof *e);
}

static void table_clear(dn_state_t *st)
{
    for (int i = 0; i < TABLE_CAP; i++)
        if (st->tab[i].used)
            entry_free(&st->tab[i]);
    st->n_used = 0;
}

static void md_by_strides(dnnl_memory_desc_t *md, int rows, int cols, int rs, int cs, dnnl_data_type_t dt)
{
    dnnl_dims_t dims = {rows, cols}, strides = {rs, cs};
    dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

/* Makes the matmul of key k; 0 on success. */
static int entry_make(dn_state_t *st, const dn_key_t *k, dn_entry_t *e)
{
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_data_type_t in_dt = k->bf16 ? dnnl_bf16 : dnnl_f32;
    if (k->op == OP_GEMM) {
        md_by_strides(&src, k->M, k->K, k->ta ? 1 : k->lda, k->ta ? k->lda : 1, dnnl_f32);
        md_by_strides(&wei, k->K, k->N, k->tb ? 1 : k->ldb, k->tb ? k->ldb : 1, dnnl_f32);
        md_by_strides(&dst, k->M, k->N, k->ldc, 1, dnnl_f32);
    } else {
        md_by_strides(&src, k->M, k->K, k->K, 1, in_dt);
        if (k->fmt >= 0)
            wei = st->fmt[k->fmt];
        else /* W is [N, K] row-major: as a K x N matrix its strides are (1, K) */
            md_by_strides(&wei, k->K, k->N, 1, k->K, dnnl_f32);
        md_by_strides(&dst, k->M, k->N, k->N, 1, dnnl_f32);
        md_by_strides(&bias, 1, k->N, k->N, 1, dnnl_f32);
    }
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    float alpha, beta;
    memcpy(&alpha, &k->alpha, sizeof alpha);
    memcpy(&beta, &k->beta, sizeof beta);
    if (k->op == OP_GEMM && (alpha != 1.0f || beta != 0.0f)) {
        if (dnnl_primitive_attr_create(&attr) != dnnl_success)
            return -1;
        if (alpha != 1.0f)
            dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha);
        if (beta != 0.0f && dnnl_post_ops_create(&po) == dnnl_success) {
            dnnl_post_ops_append_sum(po, beta); /* dst = beta * dst + alpha * A B */
            dnnl_primitive_attr_set_post_ops(attr, po);
            dnnl_post_ops_destroy(po);
        }
    }
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    int rc = -1;
    e->single = (double)k->M * k->N * k->K < SMALL_MACS && (double)k->N * k->K * (k->bf16 ? 2 : 4) < SMALL_BYTES;
    if (e->single) /* oneDNN sizes its work split by the team it sees now */
        omp_set_num_threads(1);
    if (dnnl_matmul_desc_init(&desc, &src, &wei, k->op == OP_LINEAR && k->bias ? &bias : NULL, &dst) ==
            dnnl_success &&
        dnnl_primitive_desc_create(&pd, &desc, attr, st->eng, NULL) == dnnl_success &&
        dnnl_primitive_create(&e->prim, pd) == dnnl_success &&
        dnnl_memory_create(&e->src, &src, st->eng, DNNL_MEMORY_NONE) == dnnl_success &&
        dnnl_memory_create(&e->wei, &wei, st->eng, DNNL_MEMORY_NONE) == dnnl_success &&
        dnnl_memory_create(&e->dst, &dst, st->eng, DNNL_MEMORY_NONE) == dnnl_success &&
        (k->op != OP_LINEAR || !k->bias ||
         dnnl_memory_create(&e->bias, &bias, st->eng, DNNL_MEMORY_NONE) == dnnl_success))
        rc = 0;
    if (e->single)
        omp_set_num_threads(st->threads);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* The entry for k, made on first use; NULL when oneDNN cannot do it. */
static dn_entry_t *lookup(dn_state_t *st, const dn_key_t *k)
{
    uint64_t h = key_hash(k);
    for (int probe = 0; probe < TABLE_CAP; probe++) {
        dn_entry_t *e = &st->tab[(h + (uint64_t)probe) % TABLE_CAP];
        if (e->used && !memcmp(&e->key, k, sizeof *k))
            return e->prim ? e : NULL; /* a failed shape is remembered as such */
        if (!e->used) {
            if (st->n_used >= TABLE_CAP * 3 / 4) {
                table_clear(st);
                return lookup(st, k);
            }
            e->used = 1;
            e->key = *k;
            st->n_used++;
            if (entry_make(st, k, e) != 0) {
                dn_key_t keep = *k;
                entry_free(e);
                e->used = 1;
                e->key = keep;
                return NULL;
            }
            return e;
        }
    }
    return NULL;
}

static int run(dn_state_t *st, dn_entry_t *e, const void *src, const void *wei, const float *bias, float *dst)
{
    dnnl_memory_set_data_handle(e->src, (void *)src);
    dnnl_memory_set_data_handle(e->wei, (void *)wei);
    dnnl_memory_set_data_handle(e->dst, dst);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei}, {DNNL_ARG_DST, e->dst}};
    int nargs = 3;
    if (e->bias) {
        dnnl_memory_set_data_handle(e->bias, (void *)bias);
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, e->bias};
    }
    if (e->single)
        omp_set_num_threads(1);
    int rc = dnnl_primitive_execute(e->prim, st->stream, nargs, args) == dnnl_success &&
                     dnnl_stream_wait(st->stream) == dnnl_success
                 ? 0
                 : -1;
    if (e->single)
        omp_set_num_threads(st->threads);
    return rc;
}

static void warn_once(dn_state_t *st, const char *what, int M, int N, int K)
{
    if (st->warned++)
        return;
    fprintf(stderr, "moebench: backend onednn: oneDNN has no matmul for %s %dx%dx%d; computing it in plain C "
                    "(timings of this run are not oneDNN's)\n", what, M, N, K);
}

/* ---- gemm ---- */

static void plain_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                       int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int p = 0; p < K; p++)
                acc += (ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]) *
                       (tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j]);
            float *c = &C[(size_t)i * ldc + j];
            *c = alpha * acc + (beta == 0.0f ? 0.0f : beta * *c);
        }
}

static void dn_gemm(be_t *be, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc)
{
    dn_state_t *st = state_of(be);
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        plain_gemm(ta, tb, M, N, 0, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    for (int m0 = 0; m0 < M; m0 += ROW_BLOCK) {
        int mc = M - m0 < ROW_BLOCK ? M - m0 : ROW_BLOCK;
        const float *a = ta ? A + m0 : A + (size_t)m0 * lda;
        float *c = C + (size_t)m0 * ldc;
        dn_key_t k;
        memset(&k, 0, sizeof k);
        k.op = OP_GEMM;
        k.M = mc;
        k.N = N;
        k.K = K;
        k.ta = ta != 0;
        k.tb = tb != 0;
        k.lda = lda;
        k.ldb = ldb;
        k.ldc = ldc;
        k.fmt = -1;
        memcpy(&k.alpha, &alpha, sizeof alpha);
        memcpy(&k.beta, &beta, sizeof beta);
        dn_entry_t *e = lookup(st, &k);
        if (!e || run(st, e, a, B, NULL, c) != 0) {
            warn_once(st, "gemm", mc, N, K);
            plain_gemm(ta, tb, mc, N, K, alpha, a, lda, B, ldb, beta, c, ldc);
        }
    }
}

/* ---- linear ---- */

static int rows_bf16(dn_state_t *st, const be_weight_t *w, const float *x, int M, float *y);

/* One input row against fp32 weights [N, K] as they are: a matrix-vector
 * product, bound by reading the weights. oneDNN's brgemm streams them at
 * about 25 GB/s on the machine this was written on, this loop at 32-45
 * (docs/backends.md), so batch-1 decoding uses it. Rows are split between
 * the OpenMP team oneDNN itself uses; each row is summed by one thread, so
 * the result does not depend on the thread count. */
static void gemv(dn_state_t *st, const be_weight_t *w, const float *x, float *y)
{
    const int N = w->n_out, K = w->n_in;
    const int nt = (double)N * K * sizeof(float) < SMALL_BYTES ? 1 : st->threads;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int per = ((N + T - 1) / T + 15) / 16 * 16; /* whole cache lines of y per thread */
        int n0 = t * per, n1 = n0 + per < N ? n0 + per : N;
        if (n0 < n1)
            fastops_gemv(w->w, x, w->b, K, n0, n1, y);
    }
}

static void dn_linear(be_t *be, const be_weight_t *w, const float *x, int M, float *y)
{
    dn_state_t *st = state_of(be);
    const int N = w->n_out, K = w->n_in;
    const dn_weight_t *pw = w->prepared;
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                y[(size_t)i * N + j] = w->b ? w->b[j] : 0.0f;
        return;
    }
    if (pw && pw->q8) {
        if (dn8_linear(st->q8, pw->q8, x, M, w->b, y) == 0)
            return;
        warn_once(st, "int8 linear", M, N, K);
        be_weight_t plain = *w;
        plain.prepared = NULL;
        portable_linear(be, &plain, x, M, y);
        return;
    }
    int bf16 = pw && pw->bf16;
    if (M == 1 && !bf16) {
        gemv(st, w, x, y);
        return;
    }
    if (pw && pw->panel) {
        int nt = (double)M * N * K < SMALL_MACS && (double)N * K * sizeof(float) < SMALL_BYTES ? 1 : st->threads;
        if (mb_grow_cap((void **)&st->pscratch, &st->pscratch_cap, pnl_scratch_floats(M, K), sizeof(float)) == 0 &&
            pnl_linear(st->pnl, pw->panel, N, K, x, M, w->b, y, nt, st->pscratch) == 0)
            return;
        warn_once(st, "panel linear (out of memory for its scratch)", M, N, K);
        pw = NULL; /* oneDNN's matmul on the plain weights (the CPU was checked at packing) */
    }
    if (bf16 && M <= ROWS_BF16_MAX && pw->rows_ok && rows_bf16(st, w, x, M, y) == 0)
        return;
    if (bf16) { /* round the input to bf16 once for the whole call */
        size_t need = (size_t)M * (size_t)K;
        if (need > st->xbf_cap) {
            uint16_t *p = realloc(st->xbf, need * sizeof *p);
            if (p) {
                st->xbf = p;
                st->xbf_cap = need;
            }
        }
        if (need <= st->xbf_cap)
            fastops_to_bf16(x, st->xbf, need);
        else
            bf16 = 0, pw = NULL; /* out of memory: the fp32 path on the original weights */
    }
    for (int m0 = 0; m0 < M; m0 += ROW_BLOCK) {
        int mc = M - m0 < ROW_BLOCK ? M - m0 : ROW_BLOCK;
        dn_key_t k;
        memset(&k, 0, sizeof k);
        k.op = OP_LINEAR;
        k.M = mc;
        k.N = N;
        k.K = K;
        k.bf16 = bf16;
        k.bias = w->b != NULL;
        k.fmt = pw ? pw->fmt : -1;
        const void *src = bf16 ? (const void *)(st->xbf + (size_t)m0 * K) : (const void *)(x + (size_t)m0 * K);
        float *dst = y + (size_t)m0 * N;
        dn_entry_t *e = lookup(st, &k);
        if (e && run(st, e, src, pw ? pw->data : w->w, w->b, dst) == 0)
            continue;
        if (pw) { /* the prepared layout was refused at this M: the fp32 weights as they are */
            k.bf16 = 0;
            k.fmt = -1;
            e = lookup(st, &k);
            if (e && run(st, e, x + (size_t)m0 * K, w->w, w->b, dst) == 0)
                continue;
        }
        warn_once(st, "linear", mc, N, K);
        be_weight_t plain = *w;
        plain.prepared = NULL;
        portable_linear(be, &plain, x + (size_t)m0 * K, mc, dst);
    }
}

/* A few rows against bf16 weights (batch-1 decoding; MoE experts in batched
 * decoding get ~4 rows each): fastops_bf16_rows reads the blocked weights
 * once, column blocks split between the team. */
static int rows_bf16(dn_state_t *st, const be_weight_t *w, const float *x, int M, float *y)
{
    const dn_weight_t *pw = w->prepared;
    const int N = w->n_out, K = w->n_in, Kp = (K + 31) / 32 * 32, NB = (N + 63) / 64;
    size_t need = (size_t)M * Kp;
    if (need > st->xbf_cap) {
        uint16_t *p = realloc(st->xbf, need * sizeof *p);
        if (!p)
            return -1;
        st->xbf = p;
        st->xbf_cap = need;
    }
    for (int m = 0; m < M; m++) { /* zero padding: the weights' padding is zero, x's must be finite */
        fastops_to_bf16(x + (size_t)m * K, st->xbf + (size_t)m * Kp, (size_t)K);
        memset(st->xbf + (size_t)m * Kp + K, 0, sizeof(uint16_t) * (size_t)(Kp - K));
    }
    const int nt = (double)N * K * 2 < SMALL_BYTES ? 1 : st->threads < NB ? st->threads : NB;
    int rc = 0;
#pragma omp parallel num_threads(nt) reduction(| : rc)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int nb0 = NB * t / T, nb1 = NB * (t + 1) / T;
        if (nb0 < nb1)
            rc |= fastops_bf16_rows(pw->data, N, K, pw->stride_k, pw->stride_n, st->xbf, Kp, M, w->b, y, N, nb0,
                                    nb1);
    }
    return rc ? -1 : 0;
}

/* ---- attention: heads split between the OpenMP team ---- */

static void dn_attention(be_t *be, const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                         int nq, int nk, int n_heads, int d_head, int causal, int q_pos0, float *out, int ldo,
                         float *scratch)
{
    fastops_attention_team(&state_of(be)->team, q, ldq, k, ldk, v, ldv, nq, nk, n_heads, d_head, causal, q_pos0,
                           out, ldo, scratch);
}

/* a decoder step's rows and heads in one parallel loop over the team */
static void dn_attention_rows(be_t *be, int n, const float *q, int ldq, const float *const *k, const float *const *v,
                              int ldkv, const int *nk, int n_heads, int d_head, float *out, int ldo, float *scratch)
{
    fastops_attention_rows(&state_of(be)->team, n, q, ldq, k, v, ldkv, nk, n_heads, d_head, out, ldo, scratch);
}

/* ---- weights ---- */

/* The preparation of N x K weights: found, or made (layout asked of a matmul
 * with a typical row count, and the reorder from [N, K] fp32 into it). */
static dn_prep_t *prep_for(dn_state_t *st, int N, int K, int bf16, mb_error_t *err)
{
    for (int i = 0; i < st->n_prep; i++)
        if (st->prep[i].N == N && st->prep[i].K == K && st->prep[i].bf16 == bf16)
            return &st->prep[i];
    if (st->n_prep == MAX_FORMATS) { /* more shapes than expected: forget them all */
        for (int i = 0; i < st->n_prep; i++) {
            dnnl_primitive_destroy(st->prep[i].reorder);
            dnnl_memory_destroy(st->prep[i].from);
            dnnl_memory_destroy(st->prep[i].to);
        }
        st->n_prep = 0;
    }
    dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src, wei, dst, plain;
    dnnl_dims_t wdims = {K, N};
    md_by_strides(&src, 64, K, K, 1, dt);
    dnnl_memory_desc_init_by_tag(&wei, 2, wdims, dt, dnnl_format_tag_any);
    md_by_strides(&dst, 64, N, N, 1, dnnl_f32);
    md_by_strides(&plain, K, N, 1, K, dnnl_f32);
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dn_prep_t p = {N, K, bf16, -1, 0, 0, 0, NULL, NULL, NULL};
    dn_prep_t *out = NULL;
    if (dnnl_matmul_desc_init(&desc, &src, &wei, NULL, &dst) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &desc, NULL, st->eng, NULL) != dnnl_success) {
        mb_fail(err, "backend onednn: no %s matmul for a %dx%d weight on this CPU", bf16 ? "bf16" : "fp32", N, K);
        goto out;
    }
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    int f = 0;
    while (f < st->n_fmt && !dnnl_memory_desc_equal(&st->fmt[f], want))
        f++;
    if (f == st->n_fmt) {
        if (st->n_fmt == MAX_FORMATS) {
            mb_fail(err, "backend onednn: more than %d weight layouts", MAX_FORMATS);
            goto out;
        }
        st->fmt[st->n_fmt++] = *want;
    }
    p.fmt = f;
    const dnnl_blocking_desc_t *bd = &want->format_desc.blocking;
    p.rows_ok = bf16 && fastops_has_bf16_rows() && want->format_kind == dnnl_blocked && want->ndims == 2 &&
                bd->inner_nblks == 3 && bd->inner_blks[0] == 16 && bd->inner_idxs[0] == 0 &&
                bd->inner_blks[1] == 64 && bd->inner_idxs[1] == 1 && bd->inner_blks[2] == 2 &&
                bd->inner_idxs[2] == 0 && bd->strides[0] == 32 * 64;
    p.stride_k = (long)bd->strides[0];
    p.stride_n = (long)bd->strides[1];
    if (dnnl_reorder_primitive_desc_create(&rpd, &plain, st->eng, want, st->eng, NULL) != dnnl_success ||
        dnnl_primitive_create(&p.reorder, rpd) != dnnl_success ||
        dnnl_memory_create(&p.from, &plain, st->eng, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&p.to, want, st->eng, DNNL_MEMORY_NONE) != dnnl_success) {
        mb_fail(err, "backend onednn: cannot reorder a %dx%d weight into oneDNN's layout", N, K);
        goto out;
    }
    st->prep[st->n_prep] = p;
    out = &st->prep[st->n_prep++];
out:
    if (!out) {
        if (p.reorder)
            dnnl_primitive_destroy(p.reorder);
        if (p.from)
            dnnl_memory_destroy(p.from);
        if (p.to)
            dnnl_memory_destroy(p.to);
    }
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    return out;
}

static int dn_weight_prepare(be_t *be, be_weight_t *w, mb_error_t *err)
{
    dn_state_t *st = state_of(be);
    const int N = w->n_out, K = w->n_in, bf16 = be->opt.precision == BE_PRECISION_BF16;
    if (w->prepared || N <= 0 || K <= 0)
        return 0;
    if (BE_PRECISION_IS_INT8(be->opt.precision) &&
        (w->role != BE_WEIGHT_OUT_PROJ || be->opt.precision == BE_PRECISION_INT8_ALL)) {
        dn_weight_t *qw = calloc(1, sizeof *qw);
        if (!qw)
            return mb_fail(err, "backend onednn: out of memory");
        qw->fmt = -1;
        if (dn8_weight_make(w->w, N, K, &qw->q8, err) != 0) {
            free(qw);
            return -1;
        }
        if (!getenv("MOEBENCH_INT8_PLAIN")) /* A/B timing switch: the plain [N, K] layout */
            (void)dn8_weight_pack(st->q8, qw->q8); /* on failure it stays plain, which runs too */
        w->prepared = qw;
        return 0;
    }
    if (!bf16 && st->pnl != PNL_NONE && (w->role != BE_WEIGHT_SENTENCE || st->pnl_sentence)) {
        dn_weight_t *pw = calloc(1, sizeof *pw);
        size_t n = pnl_packed_floats(N, K);
        if (pw)
            pw->panel = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
        if (!pw || !pw->panel) {
            free(pw);
            return mb_fail(err, "backend onednn: out of memory for a copy of a %dx%d weight (%zu bytes)", N, K,
                           n * sizeof(float));
        }
        pw->fmt = -1;
        pnl_pack(w->w, N, K, pw->panel);
        w->prepared = pw;
        return 0;
    }
    dn_prep_t *p = prep_for(st, N, K, bf16, err);
    if (!p)
        return -1;
    size_t bytes = dnnl_memory_desc_get_size(&st->fmt[p->fmt]);
    dn_weight_t *pw = calloc(1, sizeof *pw);
    if (pw)
        pw->data = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!pw || !pw->data) {
        free(pw);
        return mb_fail(err, "backend onednn: out of memory for a copy of a %dx%d weight (%zu bytes)", N, K, bytes);
    }
    pw->fmt = p->fmt;
    pw->bf16 = bf16;
    pw->rows_ok = p->rows_ok;
    pw->stride_k = p->stride_k;
    pw->stride_n = p->stride_n;
    dnnl_memory_set_data_handle(p->from, (void *)w->w);
    dnnl_memory_set_data_handle(p->to, pw->data);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, p->from}, {DNNL_ARG_TO, p->to}};
    if (dnnl_primitive_execute(p->reorder, st->stream, 2, args) != dnnl_success ||
        dnnl_stream_wait(st->stream) != dnnl_success) {
        free(pw->data);
        free(pw);
        return mb_fail(err, "backend onednn: reordering a %dx%d weight failed", N, K);
    }
    w->prepared = pw;
    return 0;
}

static void dn_weight_release(be_t *be, be_weight_t *w)
{
    (void)be;
    dn_weight_t *pw = w->prepared;
    if (pw) {
        free(pw->data);
        free(pw->panel);
        dn8_weight_free(pw->q8);
        free(pw);
    }
    w->prepared = NULL;
}

/* ---- life cycle ---- */

/* The kernel oneDNN picks for a 64x64x64 matmul in `dt`, or NULL if none. */
static const char *probe_kernel(dnnl_engine_t eng, dnnl_data_type_t dt, char *buf, size_t len)
{
    dnnl_memory_desc_t src, wei, dst;
    md_by_strides(&src, 64, 64, 64, 1, dt);
    md_by_strides(&wei, 64, 64, 1, 64, dt);
    md_by_strides(&dst, 64, 64, 64, 1, dnnl_f32);
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd;
    const char *impl = NULL;
    if (dnnl_matmul_desc_init(&desc, &src, &wei, NULL, &dst) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &desc, NULL, eng, NULL) != dnnl_success)
        return NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(buf, len, "%s", impl);
    else
        snprintf(buf, len, "?");
    dnnl_primitive_desc_destroy(pd);
    return buf;
}

static void dn_shutdown(be_t *be)
{
    dn_state_t *st = state_of(be);
    if (!st)
        return;
    if (st->tab) {
        table_clear(st);
        free(st->tab);
    }
    for (int i = 0; i < st->n_prep; i++) {
        dnnl_primitive_destroy(st->prep[i].reorder);
        dnnl_memory_destroy(st->prep[i].from);
        dnnl_memory_destroy(st->prep[i].to);
    }
    if (st->stream)
        dnnl_stream_destroy(st->stream);
    if (st->eng)
        dnnl_engine_destroy(st->eng);
    free(st->xbf);
    free(st->pscratch);
    dn8_cache_free(st->q8);
    fastops_team_free(&st->team);
    free(st);
    be->state = NULL;
}

static int dn_init(be_t *be, mb_error_t *err)
{
    const int bf16 = be->opt.precision == BE_PRECISION_BF16;
    if (be->opt.threads < 0)
        return mb_fail(err, "backend onednn: --threads %d is out of range", be->opt.threads);
    dn_state_t *st = calloc(1, sizeof *st);
    if (!st || !(st->tab = calloc(TABLE_CAP, sizeof *st->tab))) {
        free(st);
        return mb_fail(err, "backend onednn: out of memory");
    }
    be->state = st;
    if (dnnl_engine_create(&st->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&st->stream, st->eng, dnnl_stream_default_flags) != dnnl_success) {
        dn_shutdown(be);
        return mb_fail(err, "backend onednn: cannot create a CPU engine");
    }
    if (!default_threads)
        default_threads = omp_get_max_threads();
    int n = be->opt.threads > 0 ? be->opt.threads : default_threads;
    omp_set_num_threads(n);
    st->threads = n;
    st->team.threads = n;
    st->pnl = pnl_best_isa();
    const char *want = getenv("MOEBENCH_PANEL");
    if (want && *want) { /* checked in every precision, used in fp32 and int8 (its output projection) */
        pnl_isa_t asked = !strcmp(want, "off")      ? PNL_NONE
                          : !strcmp(want, "avx2")   ? PNL_AVX2
                          : !strcmp(want, "avx512") ? PNL_AVX512
                                                    : (pnl_isa_t)-1;
        const pnl_isa_t best = st->pnl;
        if ((int)asked < 0 || asked > best) {
            dn_shutdown(be); /* frees st */
            return mb_fail(err, "backend onednn: MOEBENCH_PANEL=%s: %s; use off%s%s, or unset it", want,
                           (int)asked < 0 ? "not a choice" : "this CPU (or MOEBENCH_ISA) does not allow those kernels",
                           best >= PNL_AVX2 ? ", avx2" : "", best >= PNL_AVX512 ? ", avx512" : "");
        }
        st->pnl = asked;
    }
    if (bf16 || be->opt.precision == BE_PRECISION_INT8_ALL) /* no fp32 weight to pack */
        st->pnl = PNL_NONE;
    char kern[96], kern8[64] = "";
    if (!probe_kernel(st->eng, bf16 ? dnnl_bf16 : dnnl_f32, kern, sizeof kern)) {
        dn_shutdown(be);
        return mb_fail(err, "backend onednn: no %s matmul kernel on this CPU%s", bf16 ? "bf16" : "fp32",
                       bf16 ? " (bf16 needs AVX-512 or AMX); use --precision fp32" : "");
    }
    /* Without AVX-512, oneDNN 2.6's fp32 matmul is its AVX2 sgemm (gemm:jit), which reached
     * 59-71% of the fp32 peak on prefill GEMMs where the AVX2 panels reach 78-86% (AMD Zen 4 held
     * to AVX2, docs/backends.md): there the panels take every fp32 weight. */
    st->pnl_sentence = st->pnl != PNL_NONE && !strstr(kern, "avx512") && !strstr(kern, "amx");
    if (BE_PRECISION_IS_INT8(be->opt.precision)) {
        if (!dn8_probe(st->eng, kern8, sizeof kern8)) {
            dn_shutdown(be);
            return mb_fail(err, "backend onednn: this oneDNN has no int8 matmul (u8 x s8) on this CPU; use "
                                "--precision fp32");
        }
        if (dn8_cache_create(st->eng, st->stream, &st->q8, err) != 0) {
            dn_shutdown(be);
            return -1;
        }
    }
    const dnnl_version_t *v = dnnl_version();
    char pnl[80] = "";
    if (st->pnl != PNL_NONE)
        snprintf(pnl, sizeof pnl, "fp32 linear own panel kernels %s%s; ", pnl_isa_name(st->pnl),
                 st->pnl_sentence ? " (every fp32 weight)" : "");
    snprintf(st->version, sizeof st->version, "oneDNN %d.%d.%d (%s, %d thread%s; %s%s matmul %s%s%s%s; other ops %s)",
             v->major, v->minor, v->patch,
             v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB" : "threads",
             n, n == 1 ? "" : "s", pnl, bf16 ? "bf16" : "fp32", kern, kern8[0] ? ", int8 matmul " : "", kern8,
             kern8[0] ? (be->opt.precision == BE_PRECISION_INT8_ALL ? " (output projection int8)" : " (output projection fp32)") : "",
             fastops_isa());
    return 0;
}

static const char *dn_version(be_t *be)
{
    return be->state ? state_of(be)->version : "oneDNN";
}

const be_ops_t be_onednn_ops = {
    .name = "onednn",
    .summary = "oneDNN matmul (fp32, bf16, int8) on prepacked weights; own kernels for fp32 decode-step GEMMs "
               "(AVX-512/AVX2 panels), one fp32 row, 1-4 bf16 rows, and element-wise ops",
    .init = dn_init,
    .shutdown = dn_shutdown,
    .version = dn_version,
    .gemm = dn_gemm,
    .weight_prepare = dn_weight_prepare,
    .weight_release = dn_weight_release,
    .linear = dn_linear,
    .layernorm = fastops_layernorm,
    .relu = fastops_relu,
    .attention = dn_attention,
    .attention_rows = dn_attention_rows,
    .openmp = 1,
    .log_softmax = fastops_log_softmax,
};
