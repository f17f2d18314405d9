/* trn_ckpt: checkpoints (see trn_ckpt.h). */
#include "train/trn_ckpt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/safetensors.h"

void trn_ckpt_set(trn_ckpt_meta_t *t, const char *key, const char *fmt, ...)
{
    int i = 0;
    while (i < t->n && strcmp(t->key[i], key))
        i++;
    if (i == TRN_CKPT_MAX)
        return; /* the callers' key set is fixed and smaller */
    if (i == t->n) {
        snprintf(t->key[i], sizeof t->key[i], "%s", key);
        t->n++;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->value[i], sizeof t->value[i], fmt, ap);
    va_end(ap);
}

const char *trn_ckpt_get(const trn_ckpt_meta_t *t, const char *key)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->key[i], key))
            return t->value[i];
    return NULL;
}

/* Adam's moments live in the arena's layout, which need not be the tensors'
 * order (attention blocks keep q, k, v adjacent: model.c's emit_attn); the
 * file holds them in tensor order, each tensor's slice after the one
 * before, so that a checkpoint does not depend on the arena's layout (files
 * written when the two orders were the same read unchanged). to_file: arena
 * -> file order; else back. */
static void moments_order(const model_t *m, const float *src, float *dst, int to_file)
{
    uint64_t pos = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const uint64_t off = (uint64_t)(m->tensor[i] - m->arena), n = m->specs[i].n;
        if (to_file)
            memcpy(dst + pos, src + off, sizeof(float) * n);
        else
            memcpy(dst + off, src + pos, sizeof(float) * n);
        pos += n;
    }
}

int trn_ckpt_save(const char *path, const model_t *m, const trn_adam_t *a, const trn_ckpt_meta_t *t,
                  mb_error_t *err)
{
    model_meta_t meta;
    model_config_to_meta(&m->cfg, &meta);
    enum { MAXK = MODEL_META_MAX + TRN_CKPT_MAX };
    const char *keys[MAXK], *values[MAXK];
    char tkeys[TRN_CKPT_MAX][40];
    int nk = 0;
    for (int i = 0; i < meta.n; i++) {
        keys[nk] = meta.key[i];
        values[nk++] = meta.value[i];
    }
    for (int i = 0; i < t->n; i++) {
        snprintf(tkeys[i], sizeof tkeys[i], "train.%s", t->key[i]);
        keys[nk] = tkeys[i];
        values[nk++] = t->value[i];
    }
    st_out_tensor_t *ts = calloc((size_t)m->n_tensors + 2, sizeof *ts);
    float *ordered = malloc(sizeof(float) * 2 * (size_t)(a->n ? a->n : 1));
    if (!ts || !ordered) {
        free(ts), free(ordered);
        return mb_fail(err, "%s: out of memory", path);
    }
    model_weight_tensors(m, ts);
    moments_order(m, a->m, ordered, 1);
    moments_order(m, a->v, ordered + a->n, 1);
    const char *names[2] = {"optim.m", "optim.v"};
    const float *data[2] = {ordered, ordered + a->n};
    for (int j = 0; j < 2; j++) {
        st_out_tensor_t *o = &ts[m->n_tensors + j];
        o->name = names[j];
        o->dtype = ST_F32;
        o->ndim = 1;
        o->shape[0] = (int64_t)a->n;
        o->data = data[j];
    }
    int rc = st_write(path, keys, values, nk, ts, m->n_tensors + 2, err);
    free(ts);
    free(ordered);
    return rc;
}

static const char *meta_get(void *ctx, const char *key)
{
    return st_meta((const st_file_t *)ctx, key);
}

int trn_ckpt_load(const char *path, model_t **out, trn_adam_t *a, trn_ckpt_meta_t *t, mb_error_t *err)
{
    *out = NULL;
    memset(t, 0, sizeof *t);
    st_file_t *f;
    if (st_open(path, &f, err) != 0)
        return -1;
    model_config_t cfg;
    model_t *m = NULL;
    if (model_config_from_meta(&cfg, meta_get, f, path, err) != 0 || model_create(&cfg, &m, err) != 0)
        goto fail;
    for (int i = 0; i < m->n_tensors; i++) {
        const st_tensor_t *s = st_find(f, m->specs[i].name);
        if (!s || s->n_elems != m->specs[i].n) {
            mb_fail(err, "%s: tensor '%s' is missing or misshapen; not a checkpoint of this model", path,
                    m->specs[i].name);
            goto fail;
        }
        if (st_read_f32(f, s, m->tensor[i], m->specs[i].n, err) != 0)
            goto fail;
    }
    trn_adam_opts_t o;
    trn_adam_defaults(&o);
    if (trn_adam_create(a, m, &o, err) != 0)
        goto fail;
    const char *names[2] = {"optim.m", "optim.v"};
    float *dst[2] = {a->m, a->v};
    for (int j = 0; j < 2; j++) {
        const st_tensor_t *s = st_find(f, names[j]);
        if (!s || s->n_elems != m->n_params) {
            mb_fail(err, "%s: no optimizer state '%s' for %llu parameters; not a training checkpoint (a model "
                         "file starts a new run: pass it with --init instead)", path, names[j],
                    (unsigned long long)m->n_params);
            trn_adam_free(a);
            goto fail;
        }
        if (st_read_f32(f, s, dst[j], m->n_params, err) != 0) {
            trn_adam_free(a);
            goto fail;
        }
    }
    float *arena_order = malloc(sizeof(float) * (size_t)(m->n_params ? m->n_params : 1));
    if (!arena_order) {
        mb_fail(err, "%s: out of memory", path);
        trn_adam_free(a);
        goto fail;
    }
    for (int j = 0; j < 2; j++) {
        moments_order(m, dst[j], arena_order, 0);
        memcpy(dst[j], arena_order, sizeof(float) * m->n_params);
    }
    free(arena_order);
    for (int i = 0; i < st_meta_count(f); i++) {
        const char *k = st_meta_key_at(f, i);
        if (!strncmp(k, "train.", 6))
            trn_ckpt_set(t, k + 6, "%s", st_meta(f, k));
    }
    st_close(f);
    *out = m;
    return 0;
fail:
    model_free(m);
    st_close(f);
    return -1;
}
