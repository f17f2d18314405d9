/* onednn_int8: int8 linear layers on oneDNN's int8 matmul (scheme in onednn_int8.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/fastops.h"
#include "backends/onednn_int8.h"

#define ROW_BLOCK 512          /* most rows one primitive computes (as onednn.c, same reason) */
#define CACHE_CAP 1024         /* primitive slots; emptied when 3/4 full */
#define QMAX_W 127             /* weights: s8 in [-127, 127] */
#define QMAX_X 127             /* activations: u8 in [0, 127] (7 bits, see the header) */

#define MAX_FORMATS 16         /* distinct packed weight layouts (a model has a handful of shapes) */

typedef struct dn8_entry {
    int used, ok;
    int M, N, K, fmt;          /* fmt: the weights' layout, an index into c->fmt, -1 plain [N, K] */
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst;  /* made with no buffer; handles set per call */
} dn8_entry_t;

struct dn8_cache {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dn8_entry_t *tab;
    int n_used;
    uint8_t *xq;               /* the quantised input [M, K] */
    size_t xq_cap;
    float *sx;                 /* its scale per row [M] */
    size_t sx_cap;
    int32_t *zp;               /* its zero point per row [M] */
    size_t zp_cap;
    int32_t *acc;              /* s32 sums [ROW_BLOCK, N] */
    size_t acc_cap;
    dnnl_memory_desc_t fmt[MAX_FORMATS]; /* the packed layouts in use */
    int n_fmt;
};

static void md2(dnnl_memory_desc_t *md, int rows, int cols, int rs, int cs, dnnl_data_type_t dt)
{
    dnnl_dims_t dims = {rows, cols}, strides = {rs, cs};
    dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

static void entry_free(dn8_entry_t *e)
{
    if (e->prim)
        dnnl_primitive_destroy(e->prim);
    dnnl_memory_t mems[] = {e->src, e->wei, e->dst};
    for (int i = 0; i < 3; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    memset(e, 0, sizeof *e);
}

/* The primitive descriptor of the scheme for M x N x K with weights in layout `w` (NULL: the
 * plain [N, K] of dn8_weight_make); NULL when oneDNN has none. */
static dnnl_primitive_desc_t make_pd(dnnl_engine_t eng, int M, int N, int K, const dnnl_memory_desc_t *w)
{
    dnnl_memory_desc_t src, wei, dst;
    md2(&src, M, K, K, 1, dnnl_u8);
    if (w)
        wei = *w;
    else
        md2(&wei, K, N, 1, K, dnnl_s8); /* q is [N, K] row-major: as K x N its strides are (1, K) */
    md2(&dst, M, N, N, 1, dnnl_s32);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &src, &wei, NULL, &dst) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &desc, NULL, eng, NULL) != dnnl_success)
        pd = NULL;
    return pd;
}

static int entry_make(dn8_cache_t *c, dn8_entry_t *e)
{
    dnnl_primitive_desc_t pd = make_pd(c->eng, e->M, e->N, e->K, e->fmt >= 0 ? &c->fmt[e->fmt] : NULL);
    if (!pd)
        return -1;
    int rc = dnnl_primitive_create(&e->prim, pd) == dnnl_success &&
                     dnnl_memory_create(&e->src, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), c->eng,
                                        DNNL_MEMORY_NONE) == dnnl_success &&
                     dnnl_memory_create(&e->wei, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), c->eng,
                                        DNNL_MEMORY_NONE) == dnnl_success &&
                     dnnl_memory_create(&e->dst, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), c->eng,
                                        DNNL_MEMORY_NONE) == dnnl_success
                 ? 0
                 : -1;
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

static void cache_clear(dn8_cache_t *c)
{
    for (int i = 0; i < CACHE_CAP; i++)
        if (c->tab[i].used)
            entry_free(&c->tab[i]);
    c->n_used = 0;
}

/* The entry for M x N x K with weights in layout fmt, made on first use; NULL when oneDNN cannot
 * do it (remembered). */
static dn8_entry_t *lookup(dn8_cache_t *c, int M, int N, int K, int fmt)
{
    uint64_t h = ((uint64_t)(unsigned)M * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)(unsigned)N * 0xc2b2ae3d27d4eb4full) ^
                 ((uint64_t)(unsigned)K * 0x165667b19e3779f9ull) ^ ((uint64_t)(unsigned)(fmt + 1) * 0x27d4eb2f165667c5ull);
    for (int probe = 0; probe < CACHE_CAP; probe++) {
        dn8_entry_t *e = &c->tab[(h + (uint64_t)probe) % CACHE_CAP];
        if (e->used && e->M == M && e->N == N && e->K == K && e->fmt == fmt)
            return e->ok ? e : NULL;
        if (!e->used) {
            if (c->n_used >= CACHE_CAP * 3 / 4) {
                cache_clear(c);
                return lookup(c, M, N, K, fmt);
            }
            c->n_used++;
            e->used = 1;
            e->M = M, e->N = N, e->K = K, e->fmt = fmt;
            if (entry_make(c, e) != 0) {
                entry_free(e);
                e->used = 1;
                e->M = M, e->N = N, e->K = K, e->fmt = fmt;
                return NULL;
            }
            e->ok = 1;
            return e;
        }
    }
    return NULL;
}

int dn8_cache_create(dnnl_engine_t eng, dnnl_stream_t stream, dn8_cache_t **out, mb_error_t *err)
{
    dn8_cache_t *c = calloc(1, sizeof *c);
    if (!c || !(c->tab = calloc(CACHE_CAP, sizeof *c->tab))) {
        free(c);
        return mb_fail(err, "backend onednn: out of memory");
    }
    c->eng = eng;
    c->stream = stream;
    *out = c;
    return 0;
}

void dn8_cache_free(dn8_cache_t *c)
{
    if (!c)
        return;
    cache_clear(c);
    free(c->tab);
    free(c->xq);
    free(c->sx);
    free(c->zp);
    free(c->acc);
    free(c);
}

const char *dn8_probe(dnnl_engine_t eng, char *buf, size_t len)
{
    dnnl_primitive_desc_t pd = make_pd(eng, 64, 64, 64, NULL);
    const char *impl = NULL;
    if (!pd)
        return NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(buf, len, "%s", impl);
    else
        snprintf(buf, len, "?");
    dnnl_primitive_desc_destroy(pd);
    return buf;
}

int dn8_weight_make(const float *w, int N, int K, dn8_weight_t **out, mb_error_t *err)
{
    dn8_weight_t *qw = calloc(1, sizeof *qw);
    if (qw) {
        qw->q = malloc((size_t)N * (size_t)K);
        qw->scale = malloc(sizeof(float) * (size_t)N);
        qw->qsum = malloc(sizeof(int32_t) * (size_t)N);
    }
    if (!qw || !qw->q || !qw->scale || !qw->qsum) {
        dn8_weight_free(qw);
        return mb_fail(err, "backend onednn: out of memory for an int8 copy of a %dx%d weight", N, K);
    }
    qw->n_out = N;
    qw->n_in = K;
    qw->fmt = -1;
    for (int n = 0; n < N; n++) {
        const float *wr = w + (size_t)n * K;
        int8_t *qr = qw->q + (size_t)n * K;
        float amax = 0.0f;
        int32_t sum = 0;
        for (int k = 0; k < K; k++)
            amax = fabsf(wr[k]) > amax ? fabsf(wr[k]) : amax;
        /* an all-zero row keeps scale 1 so that no 0/0 reaches the output */
        float s = amax > 0.0f ? amax / QMAX_W : 1.0f, inv = 1.0f / s;
        for (int k = 0; k < K; k++) {
            long v = lrintf(wr[k] * inv);
            qr[k] = (int8_t)(v > QMAX_W ? QMAX_W : v < -QMAX_W ? -QMAX_W : v);
            sum += qr[k];
        }
        qw->scale[n] = s;
        qw->qsum[n] = sum;
    }
    *out = qw;
    return 0;
}

int dn8_weight_pack(dn8_cache_t *c, dn8_weight_t *qw)
{
    const int N = qw->n_out, K = qw->n_in;
    if (qw->fmt >= 0 || N <= 0 || K <= 0)
        return 0;
    /* the layout a matmul with weights "any" asks for, with a typical row count (64, as onednn.c
     * asks for fp32); every row count's primitive is then made for that layout */
    dnnl_memory_desc_t any, plain;
    dnnl_dims_t wdims = {K, N};
    dnnl_memory_desc_init_by_tag(&any, 2, wdims, dnnl_s8, dnnl_format_tag_any);
    md2(&plain, K, N, 1, K, dnnl_s8);
    dnnl_primitive_desc_t pd = make_pd(c->eng, 64, N, K, &any), rpd = NULL;
    if (!pd)
        return -1;
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    int f = 0, rc = -1;
    while (f < c->n_fmt && !dnnl_memory_desc_equal(&c->fmt[f], want))
        f++;
    void *to = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t m_from = NULL, m_to = NULL;
    size_t bytes = dnnl_memory_desc_get_size(want);
    if (dnnl_memory_desc_equal(want, &plain)) {
        rc = 0; /* already the layout oneDNN reads */
        goto out;
    }
    if (f == c->n_fmt && f == MAX_FORMATS)
        goto out; /* too many layouts: stays plain */
    if (f == c->n_fmt)
        c->fmt[c->n_fmt++] = *want;
    to = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!to || dnnl_reorder_primitive_desc_create(&rpd, &plain, c->eng, want, c->eng, NULL) != dnnl_success ||
        dnnl_primitive_create(&reorder, rpd) != dnnl_success ||
        dnnl_memory_create(&m_from, &plain, c->eng, qw->q) != dnnl_success ||
        dnnl_memory_create(&m_to, want, c->eng, to) != dnnl_success)
        goto out;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, m_from}, {DNNL_ARG_TO, m_to}};
    if (dnnl_primitive_execute(reorder, c->stream, 2, args) != dnnl_success || dnnl_stream_wait(c->stream) != dnnl_success)
        goto out;
    free(qw->q); /* the packed copy replaces the plain one */
    qw->q = to;
    qw->fmt = f;
    to = NULL;
    rc = 0;
out:
    free(to);
    if (m_from)
        dnnl_memory_destroy(m_from);
    if (m_to)
        dnnl_memory_destroy(m_to);
    if (reorder)
        dnnl_primitive_destroy(reorder);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

void dn8_weight_free(dn8_weight_t *qw)
{
    if (!qw)
        return;
    free(qw->q);
    free(qw->scale);
    free(qw->qsum);
    free(qw);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    void *q = realloc(*p, need * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = need;
    return 0;
}

int dn8_linear(dn8_cache_t *c, const dn8_weight_t *qw, const float *x, int M, const float *b, float *y)
{
    const int N = qw->n_out, K = qw->n_in;
    size_t nx = (size_t)M * (size_t)K;
    int rb = M < ROW_BLOCK ? M : ROW_BLOCK;
    if (M <= 0 || N <= 0)
        return 0;
    if (grow((void **)&c->xq, &c->xq_cap, nx ? nx : 1, 1) || grow((void **)&c->sx, &c->sx_cap, (size_t)M, sizeof(float)) ||
        grow((void **)&c->zp, &c->zp_cap, (size_t)M, sizeof(int32_t)) ||
        grow((void **)&c->acc, &c->acc_cap, (size_t)rb * N, sizeof(int32_t)))
        return -1;
    int bad = 0; /* an inf or a NaN: not representable in int8 */
#pragma omp parallel for schedule(static) reduction(| : bad) if (nx >= 65536)
    for (int m = 0; m < M; m++)
        bad |= fastops_quantise_u8(x + (size_t)m * K, K, QMAX_X, c->xq + (size_t)m * K, &c->sx[m], &c->zp[m]) != 0;
    if (bad)
        return -1;
    for (int m0 = 0; m0 < M; m0 += ROW_BLOCK) {
        int mc = M - m0 < ROW_BLOCK ? M - m0 : ROW_BLOCK;
        dn8_entry_t *e = lookup(c, mc, N, K, qw->fmt);
        if (!e)
            return -1;
        dnnl_memory_set_data_handle(e->src, c->xq + (size_t)m0 * K);
        dnnl_memory_set_data_handle(e->wei, qw->q);
        dnnl_memory_set_data_handle(e->dst, c->acc);
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei}, {DNNL_ARG_DST, e->dst}};
        if (dnnl_primitive_execute(e->prim, c->stream, 3, args) != dnnl_success ||
            dnnl_stream_wait(c->stream) != dnnl_success)
            return -1;
        /* y = sx * sw * (sum_k (qx - zp) qw) + b = sx * sw * (acc - zp * sum_k qw) + b */
#pragma omp parallel for schedule(static) if ((size_t)mc * N >= 65536)
        for (int i = 0; i < mc; i++)
            fastops_dequant_row(c->acc + (size_t)i * N, N, c->sx[m0 + i], c->zp[m0 + i], qw->scale, qw->qsum, b,
                                y + (size_t)(m0 + i) * N);
    }
    return 0;
}
