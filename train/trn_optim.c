/* trn_optim: AdamW, the learning-rate schedule and clipping (see trn_optim.h). */
#include "train/trn_optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mb_mem.h"

void trn_adam_defaults(trn_adam_opts_t *o)
{
    o->lr = 1.5e-3f; /* the reference run's peak (issue 13) */
    o->warmup = 150;
    o->decay = TRN_DECAY_INV_SQRT;
    o->beta1 = 0.9f;
    o->beta2 = 0.98f; /* Vaswani et al.'s Transformer setting */
    o->eps = 1e-9f;
    o->weight_decay = 0.0f;
    o->clip = 1.0f;
}

int trn_adam_create(trn_adam_t *a, const model_t *m, const trn_adam_opts_t *o, mb_error_t *err)
{
    memset(a, 0, sizeof *a);
    a->o = *o;
    a->n = m->n_params;
    if (mb_mem_check(2 * a->n * sizeof(float), "Adam moments", "pick a smaller model", err) != 0)
        return -1;
    a->m = calloc((size_t)a->n, sizeof(float));
    a->v = calloc((size_t)a->n, sizeof(float));
    if (!a->m || !a->v) {
        trn_adam_free(a);
        return mb_fail(err, "out of memory for Adam moments (%llu parameters)", (unsigned long long)m->n_params);
    }
    return 0;
}

void trn_adam_free(trn_adam_t *a)
{
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

float trn_adam_lr(const trn_adam_opts_t *o, long step)
{
    if (step < 1)
        step = 1;
    if (o->warmup <= 0)
        return o->lr;
    if (step <= o->warmup)
        return o->lr * (float)step / (float)o->warmup;
    if (o->decay == TRN_DECAY_NONE)
        return o->lr;
    return o->lr * sqrtf((float)o->warmup / (float)step);
}

/* The gradient's squared norm in blocks of a fixed size (not one per thread),
 * each summed in order, then the blocks in order: the same double at every
 * thread count. */
#define NORM_BLOCK 16384

/* block b's squared sum, vectorised in a fixed order */
static double block_sq(const float *g, uint64_t n, uint64_t b)
{
    double p = 0.0;
    const uint64_t end = (b + 1) * NORM_BLOCK < n ? (b + 1) * NORM_BLOCK : n;
#pragma omp simd reduction(+ : p)
    for (uint64_t i = b * NORM_BLOCK; i < end; i++)
        p += (double)g[i] * g[i];
    return p;
}

/* groups of blocks summed in parallel into a buffer on the stack, then in
 * block order: no allocation per update */
static double sq_norm(const float *g, uint64_t n)
{
    enum { GROUP = 256 };
    const uint64_t nb = (n + NORM_BLOCK - 1) / NORM_BLOCK;
    double part[GROUP], sq = 0.0;
    for (uint64_t b0 = 0; b0 < nb; b0 += GROUP) {
        const int cnt = nb - b0 < GROUP ? (int)(nb - b0) : GROUP;
#pragma omp parallel for schedule(static) if (cnt > 1)
        for (int j = 0; j < cnt; j++)
            part[j] = block_sq(g, n, b0 + (uint64_t)j);
        for (int j = 0; j < cnt; j++)
            sq += part[j];
    }
    return sq;
}

double trn_adam_update(trn_adam_t *a, model_t *m, model_t *g)
{
    const uint64_t n = a->n;
    float *gr = g->arena;
    double norm = sqrt(sq_norm(gr, n));
    if (a->o.clip > 0.0f && norm > a->o.clip) {
        const float s = (float)(a->o.clip / norm);
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (uint64_t i = 0; i < n; i++)
            gr[i] *= s;
    }
    a->step++;
    const float lr = trn_adam_lr(&a->o, a->step), b1 = a->o.beta1, b2 = a->o.beta2;
    const float c1 = 1.0f / (1.0f - powf(b1, (float)a->step)), c2 = 1.0f / (1.0f - powf(b2, (float)a->step));
    /* element-wise, so threads split each tensor without changing a value */
    for (int t = 0; t < m->n_tensors; t++) {
        const uint64_t off = (uint64_t)(m->tensor[t] - m->arena), len = m->specs[t].n;
        const float wd = m->specs[t].ndim == 2 ? a->o.weight_decay : 0.0f;
        float *p = m->arena + off, *mm = a->m + off, *vv = a->v + off;
        const float *gg = gr + off, eps = a->o.eps;
#pragma omp parallel for simd schedule(static) if (len > 65536)
        for (uint64_t i = 0; i < len; i++) {
            mm[i] = b1 * mm[i] + (1.0f - b1) * gg[i];
            vv[i] = b2 * vv[i] + (1.0f - b2) * gg[i] * gg[i];
            p[i] -= lr * (mm[i] * c1 / (sqrtf(vv[i] * c2) + eps) + wd * p[i]);
        }
    }
    return norm;
}
