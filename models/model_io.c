/* model_io: a model to and from a safetensors file: the config travels in
 * __metadata__, every tensor is checked against the layout the config
 * implies (names, shapes, dtypes) before it is read. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "models/model.h"
#include "models/safetensors.h"

void model_weight_tensors(const model_t *m, st_out_tensor_t *t)
{
    /* in arena order, so that a stacked view's parts are adjacent in the file
     * too and a mapped load can use them in place (map_tensors) */
    for (int j = 0; j < m->n_tensors; j++) {
        const int i = m->arena_order[j];
        t[j].name = m->specs[i].name;
        t[j].dtype = ST_F32;
        t[j].ndim = m->specs[i].ndim;
        t[j].shape[0] = m->specs[i].shape[0];
        t[j].shape[1] = m->specs[i].shape[1];
        t[j].data = m->tensor[i];
    }
}

int model_save(const model_t *m, const char *path, mb_error_t *err)
{
    model_meta_t meta;
    model_config_to_meta(&m->cfg, &meta);
    const char *keys[MODEL_META_MAX + 1], *values[MODEL_META_MAX + 1];
    for (int i = 0; i < meta.n; i++) {
        keys[i] = meta.key[i];
        values[i] = meta.value[i];
    }
    char crc[16];
    int n_meta = meta.n;
    if (m->vocab_blob) { /* the vocabulary's own format cannot tell every corruption (its normaliser is a
                          * binary table), so the file vouches for the bytes */
        snprintf(crc, sizeof crc, "%08lx", crc32(0L, m->vocab_blob, (uInt)m->vocab_len));
        keys[n_meta] = MODEL_VOCAB_CRC_KEY;
        values[n_meta++] = crc;
    }
    st_out_tensor_t *t = calloc((size_t)m->n_tensors + 1, sizeof *t);
    if (!t)
        return mb_fail(err, "%s: out of memory", path);
    model_weight_tensors(m, t);
    int n = m->n_tensors;
    if (m->vocab_blob) /* opaque bytes after the weights: readers that only want weights skip it */
        t[n++] = (st_out_tensor_t){.name = MODEL_VOCAB_TENSOR, .dtype = ST_U8, .ndim = 1,
                                   .shape = {(int64_t)m->vocab_len}, .data = m->vocab_blob};
    int rc = st_write(path, keys, values, n_meta, t, n, err);
    free(t);
    return rc;
}

static const char *meta_get(void *ctx, const char *key)
{
    return st_meta((const st_file_t *)ctx, key);
}

static int check_tensor(const model_tensor_spec_t *s, const st_tensor_t *t, const char *path, mb_error_t *err)
{
    if (!t)
        return mb_fail(err, "%s: tensor '%s' is missing; the file does not match the config in its "
                            "__metadata__", path, s->name);
    if (t->dtype != ST_F32 && t->dtype != ST_BF16 && t->dtype != ST_F16)
        return mb_fail(err, "%s: tensor '%s' has dtype %s; weights must be F32, BF16 or F16", path, s->name,
                       st_dtype_name(t->dtype));
    int same = t->ndim == s->ndim;
    for (int d = 0; same && d < s->ndim; d++)
        same = t->shape[d] == s->shape[d];
    if (!same) {
        char want[48], got[96] = "";
        snprintf(want, sizeof want, s->ndim == 2 ? "[%lld, %lld]" : "[%lld]", (long long)s->shape[0],
                 (long long)s->shape[1]);
        for (int d = 0; d < t->ndim && d < 4; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        return mb_fail(err, "%s: tensor '%s' has shape [%s] but the config needs %s", path, s->name, got, want);
    }
    return 0;
}

/* The vocabulary tensor's bytes, unread by anything here; none is fine. */
static int read_vocab(st_file_t *f, const char *path, uint8_t **blob, size_t *len, mb_error_t *err)
{
    *blob = NULL;
    *len = 0;
    const st_tensor_t *t = st_find(f, MODEL_VOCAB_TENSOR);
    if (!t)
        return 0;
    if (t->dtype != ST_U8 || t->ndim != 1)
        return mb_fail(err, "%s: tensor '%s' must be U8 bytes of one dimension (a serialized SentencePiece "
                            "model), not %s of %d dimensions", path, MODEL_VOCAB_TENSOR, st_dtype_name(t->dtype),
                       t->ndim);
    if (t->n_elems == 0 || t->n_elems > MODEL_VOCAB_MAX_BYTES)
        return mb_fail(err, "%s: tensor '%s' holds %llu bytes; a vocabulary has 1 to %u", path, MODEL_VOCAB_TENSOR,
                       (unsigned long long)t->n_elems, MODEL_VOCAB_MAX_BYTES);
    if (!(*blob = malloc((size_t)t->n_elems)))
        return mb_fail(err, "%s: out of memory for the vocabulary", path);
    if (st_read_raw(f, t, *blob, t->n_elems, err) != 0) {
        free(*blob);
        *blob = NULL;
        return -1;
    }
    const char *want = st_meta(f, MODEL_VOCAB_CRC_KEY);
    char got[16];
    snprintf(got, sizeof got, "%08lx", crc32(0L, *blob, (uInt)t->n_elems));
    if (want && strcmp(want, got) != 0) {
        free(*blob);
        *blob = NULL;
        return mb_fail(err, "%s: tensor '%s' does not match its checksum (%s %s, the bytes %s); the file is "
                            "corrupt: copy or make it again", path, MODEL_VOCAB_TENSOR, MODEL_VOCAB_CRC_KEY, want,
                       got);
    }
    *len = (size_t)t->n_elems;
    return 0;
}

int model_check_finite(const model_t *m, const char *where, mb_error_t *err)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const float *x = m->tensor[i];
        for (uint64_t j = 0; j < m->specs[i].n; j++)
            if (!isfinite(x[j]))
                return mb_fail(err, "%s: tensor '%s' has %s at index %llu (of %llu); the weights are not finite "
                                    "(a diverged training run?); use a good checkpoint, or --no-check-finite to "
                                    "load it anyway", where, m->specs[i].name, isnan(x[j]) ? "NaN" : x[j] > 0 ? "+Inf" : "-Inf",
                               (unsigned long long)j, (unsigned long long)m->specs[i].n);
    }
    return 0;
}

int model_load(const char *path, model_t **out, mb_error_t *err)
{
    return model_load_checked(path, 1, out, err);
}

/* Points m's fp32 tensors into a read-only mapping of f where they can be
 * used as they lie; returns how many. The others keep their arena memory
 * and are read by the caller. Nothing is mapped when mapping is off or
 * fails: reading is always correct, mapping only saves the copy. */
static int map_tensors(model_t *m, st_file_t *f, uint8_t *mapped)
{
    const char *env = getenv("MOEBENCH_MMAP");
    if ((env && !strcmp(env, "0")) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
        return 0; /* a big-endian host must byte-swap: read */
    st_map_t map;
    mb_error_t ignore;
    if (st_map(f, &map, &ignore) != 0)
        return 0;
    int n = 0;
    const float **at = calloc((size_t)m->n_tensors + 1, sizeof *at);
    int n_groups = model_view_groups(m, NULL, 0);
    model_view_group_t *g = calloc((size_t)n_groups + 1, sizeof *g);
    if (!at || !g) {
        free(at), free(g);
        st_unmap(&map);
        return 0;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const st_tensor_t *t = st_find(f, m->specs[i].name);
        at[i] = (const float *)(const void *)(map.data + t->begin);
        /* the kernels load floats one by one (unaligned vector loads), so float alignment is
         * enough; moebench's own files align every tensor (data at a multiple of 8, fp32 sizes) */
        mapped[i] = t->dtype == ST_F32 && (uintptr_t)at[i] % _Alignof(float) == 0;
    }
    /* a stacked view (Q/K/V, cross K/V) is one matrix: its parts are used in
     * place only when the file has them adjacent (moebench's own files since
     * they are written in arena order), else all are read into the arena */
    model_view_groups(m, g, n_groups);
    for (int k = 0; k < n_groups; k++) {
        int ok = 1;
        for (int j = 0; j < g[k].n; j++)
            ok &= mapped[g[k].idx[j]] &&
                  (j == 0 || at[g[k].idx[j]] == at[g[k].idx[j - 1]] + m->specs[g[k].idx[j - 1]].n);
        for (int j = 0; !ok && j < g[k].n; j++)
            mapped[g[k].idx[j]] = 0;
    }
    for (int i = 0; i < m->n_tensors; i++)
        if (mapped[i]) {
            m->tensor[i] = (float *)(uintptr_t)at[i]; /* read-only: see model_t.map */
            n++;
        }
    free(at), free(g);
    if (n == 0) {
        st_unmap(&map);
        return 0;
    }
    m->map = map.base;
    m->map_len = map.len;
    m->n_mapped = n;
    model_rewire(m);
    return n;
}

static int load(const char *path, int check_finite, int map, model_t **out, mb_error_t *err)
{
    *out = NULL;
    st_file_t *f;
    if (st_open(path, &f, err) != 0)
        return -1;
    model_config_t cfg;
    model_t *m = NULL;
    if (model_config_from_meta(&cfg, meta_get, f, path, err) != 0)
        goto fail;
    /* a small file whose metadata claims a big model fails here, before the
     * weights are allocated, so time and memory stay bounded by the file's
     * size; a near miss goes on to name the missing tensor below */
    model_counts_t need;
    uint64_t have = 0;
    for (int i = 0; i < st_count(f); i++)
        have += st_tensor_at(f, i)->n_elems;
    if (model_count(&cfg, &need, err) != 0) {
        mb_prefix(err, "%s: ", path);
        goto fail;
    }
    if (need.total > have && need.total - have > ((uint64_t)1 << 22)) {
        mb_fail(err, "%s: its __metadata__ describes a model of %llu parameters but its tensors hold %llu values; "
                     "the file is truncated or does not match its metadata", path, (unsigned long long)need.total,
                (unsigned long long)have);
        goto fail;
    }
    if (model_create(&cfg, &m, err) != 0) {
        mb_prefix(err, "%s: ", path);
        goto fail;
    }
    /* every tensor present and well-shaped before any is read */
    for (int i = 0; i < m->n_tensors; i++)
        if (check_tensor(&m->specs[i], st_find(f, m->specs[i].name), path, err) != 0)
            goto fail;
    for (int i = 0; i < st_count(f); i++) {
        const st_tensor_t *t = st_tensor_at(f, i);
        if (model_tensor_index(m, t->name) < 0 && strcmp(t->name, MODEL_VOCAB_TENSOR) != 0) {
            mb_fail(err, "%s: unexpected tensor '%s' for a %s model; the file does not match its __metadata__",
                    path, t->name, cfg.variant);
            goto fail;
        }
    }
    uint8_t *mapped = calloc((size_t)m->n_tensors + 1, 1);
    if (!mapped) {
        mb_fail(err, "%s: out of memory", path);
        goto fail;
    }
    if (map && map_tensors(m, f, mapped) == m->n_tensors) {
        free(m->arena); /* every weight lies in the mapping */
        m->arena = NULL;
    }
    for (int i = 0; i < m->n_tensors; i++)
        if (!mapped[i] && st_read_f32(f, st_find(f, m->specs[i].name), m->tensor[i], m->specs[i].n, err) != 0) {
            free(mapped);
            goto fail;
        }
    free(mapped);
    if (read_vocab(f, path, &m->vocab_blob, &m->vocab_len, err) != 0 ||
        (check_finite && model_check_finite(m, path, err) != 0))
        goto fail;
    st_close(f);
    *out = m;
    return 0;
fail:
    model_free(m);
    st_close(f);
    return -1;
}

int model_load_checked(const char *path, int check_finite, model_t **out, mb_error_t *err)
{
    return load(path, check_finite, 0, out, err);
}

int model_load_mapped(const char *path, int check_finite, model_t **out, mb_error_t *err)
{
    return load(path, check_finite, 1, out, err);
}

int model_load_config(const char *path, model_config_t *cfg, mb_error_t *err)
{
    st_file_t *f;
    if (st_open(path, &f, err) != 0)
        return -1;
    int rc = model_config_from_meta(cfg, meta_get, f, path, err);
    st_close(f);
    return rc;
}

int model_load_vocab(const char *path, uint8_t **blob, size_t *len, mb_error_t *err)
{
    *blob = NULL;
    *len = 0;
    st_file_t *f;
    if (st_open(path, &f, err) != 0)
        return -1;
    int rc = read_vocab(f, path, blob, len, err);
    st_close(f);
    return rc;
}
