/* oracle_load: reads a moebench model file into the oracle's double-precision
 * model (see oracle.h). Written from README.md "Model files": an 8-byte
 * little-endian header length, a JSON header (dtype, shape, data_offsets of
 * every tensor, the config as strings in __metadata__), then the raw data.
 * Tensor names and the config keys are listed in README.md too. */
#include "tests/oracle/oracle_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 31, f = h & 1023;
    double v = e == 0 ? ldexp(f, -24) : e == 31 ? (f ? NAN : INFINITY) : ldexp(f + 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

static int read_file(const char *path, unsigned char **buf, size_t *len, mb_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mb_fail(err, "oracle: %s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = n > 0 ? malloc((size_t)n) : NULL;
    int ok = *buf && fread(*buf, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    if (!ok) {
        free(*buf);
        return mb_fail(err, "oracle: %s: cannot read", path);
    }
    *len = (size_t)n;
    return 0;
}

/* ---- the tensors of the header ---- */

static int read_tensors(orc_model_t *m, const cJSON *root, const unsigned char *data, size_t data_len,
                        const char *path, mb_error_t *err)
{
    int n = 0;
    for (const cJSON *e = root->child; e; e = e->next)
        n += strcmp(e->string, "__metadata__") != 0;
    m->tensor = calloc((size_t)n, sizeof *m->tensor);
    if (!m->tensor)
        return mb_fail(err, "oracle: out of memory");
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__"))
            continue;
        orc_tensor_t *t = &m->tensor[m->n_tensors++];
        snprintf(t->name, sizeof t->name, "%s", e->string);
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > 2 || !cJSON_IsArray(of) ||
            cJSON_GetArraySize(of) != 2)
            return mb_fail(err, "oracle: %s: tensor '%s' has a malformed header entry", path, t->name);
        int esz = !strcmp(dt->valuestring, "F32") ? 4 : !strcmp(dt->valuestring, "BF16") ? 2
                  : !strcmp(dt->valuestring, "F16") ? 3 : 0;
        if (!esz)
            return mb_fail(err, "oracle: %s: tensor '%s' has dtype %s", path, t->name, dt->valuestring);
        t->ndim = cJSON_GetArraySize(sh);
        t->n = 1;
        for (int i = 0; i < t->ndim; i++) {
            t->shape[i] = (long)cJSON_GetArrayItem(sh, i)->valuedouble;
            t->n *= t->shape[i];
        }
        double a = cJSON_GetArrayItem(of, 0)->valuedouble, b = cJSON_GetArrayItem(of, 1)->valuedouble;
        size_t bytes = (size_t)t->n * (esz == 4 ? 4 : 2);
        if (a < 0 || b > (double)data_len || (size_t)(b - a) != bytes)
            return mb_fail(err, "oracle: %s: tensor '%s' has offsets [%.0f, %.0f] that do not hold it", path,
                           t->name, a, b);
        const unsigned char *p = data + (size_t)a;
        t->data = malloc(sizeof(double) * (size_t)(t->n ? t->n : 1));
        if (!t->data)
            return mb_fail(err, "oracle: out of memory");
        for (long i = 0; i < t->n; i++) {
            if (esz == 4) {
                uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                             (uint32_t)p[4 * i + 3] << 24;
                float f;
                memcpy(&f, &u, 4);
                t->data[i] = f;
            } else {
                uint16_t u = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
                if (esz == 2) {
                    uint32_t w = (uint32_t)u << 16;
                    float f;
                    memcpy(&f, &w, 4);
                    t->data[i] = f;
                } else
                    t->data[i] = half_to_double(u);
            }
        }
    }
    return 0;
}

const orc_tensor_t *orc_tensor(const orc_model_t *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensor[i].name, name))
            return &m->tensor[i];
    return NULL;
}

/* The tensor `name` with the given shape (d1 = 0 for a vector). */
static const double *need(const orc_model_t *m, long d0, long d1, mb_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static const double *need(const orc_model_t *m, long d0, long d1, mb_error_t *err, const char *fmt, ...)
{
    char name[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const orc_tensor_t *t = orc_tensor(m, name);
    if (!t) {
        mb_fail(err, "oracle: tensor '%s' is missing", name);
        return NULL;
    }
    if (t->ndim != (d1 ? 2 : 1) || t->shape[0] != d0 || (d1 && t->shape[1] != d1)) {
        mb_fail(err, "oracle: tensor '%s' has the wrong shape", name);
        return NULL;
    }
    return t->data;
}

static int lin(const orc_model_t *m, orc_lin_t *l, int n_out, int n_in, int bias, mb_error_t *err,
               const char *prefix)
{
    l->n_out = n_out;
    l->n_in = n_in;
    l->w = need(m, n_out, n_in, err, "%s.w", prefix);
    l->b = bias ? need(m, n_out, 0, err, "%s.b", prefix) : NULL;
    return l->w && (!bias || l->b) ? 0 : -1;
}

static int ffn(const orc_model_t *m, orc_ffn_t *f, const char *prefix, mb_error_t *err)
{
    char a[96], b[96];
    snprintf(a, sizeof a, "%s.fc1", prefix);
    snprintf(b, sizeof b, "%s.fc2", prefix);
    return lin(m, &f->fc1, m->d_ff, m->d, 1, err, a) || lin(m, &f->fc2, m->d, m->d_ff, 1, err, b) ? -1 : 0;
}

static int attn(const orc_model_t *m, orc_lin_t *q, orc_lin_t *k, orc_lin_t *v, orc_lin_t *o, const char *prefix,
                mb_error_t *err)
{
    orc_lin_t *ls[4] = {q, k, v, o};
    const char *nm = "qkvo";
    for (int i = 0; i < 4; i++) {
        char p[96];
        snprintf(p, sizeof p, "%s.%c", prefix, nm[i]);
        if (lin(m, ls[i], m->d, m->d, 1, err, p))
            return -1;
    }
    return 0;
}

static int wire_stack(orc_model_t *m, int s, mb_error_t *err)
{
    const char *sn = s ? "dec" : "enc";
    const int d = m->d, L = m->layers[s];
    char p[96];
    m->layer[s] = calloc((size_t)L + 1, sizeof(orc_layer_t));
    if (!m->layer[s])
        return mb_fail(err, "oracle: out of memory");
    if (!(m->embed[s] = need(m, m->vocab, d, err, "%s.embed", sn)))
        return -1;
    int fixed_stack = m->subnet_key >= 0 && m->route[s] == ORC_TASK;
    int any_moe = m->route[s] != ORC_DENSE && L >= m->moe_every;
    if (m->route[s] == ORC_TASK && !fixed_stack && any_moe &&
        !(m->task_embed[s] = need(m, m->n_keys, d, err, "%s.task_embed", sn)))
        return -1;
    for (int i = 0; i < L; i++) {
        orc_layer_t *l = &m->layer[s][i];
        if (!(l->ln_self_g = need(m, d, 0, err, "%s.%d.ln_self.g", sn, i)) ||
            !(l->ln_self_b = need(m, d, 0, err, "%s.%d.ln_self.b", sn, i)) ||
            !(l->ln_ffn_g = need(m, d, 0, err, "%s.%d.ln_ffn.g", sn, i)) ||
            !(l->ln_ffn_b = need(m, d, 0, err, "%s.%d.ln_ffn.b", sn, i)))
            return -1;
        snprintf(p, sizeof p, "%s.%d.self", sn, i);
        if (attn(m, &l->q, &l->k, &l->v, &l->o, p, err))
            return -1;
        if (s == ORC_DECODER) {
            if (!(l->ln_cross_g = need(m, d, 0, err, "%s.%d.ln_cross.g", sn, i)) ||
                !(l->ln_cross_b = need(m, d, 0, err, "%s.%d.ln_cross.b", sn, i)))
                return -1;
            snprintf(p, sizeof p, "%s.%d.cross", sn, i);
            if (attn(m, &l->cq, &l->ck, &l->cv, &l->co, p, err))
                return -1;
        }
        l->moe = m->route[s] != ORC_DENSE && i % m->moe_every == m->moe_every - 1;
        if (!l->moe) {
            snprintf(p, sizeof p, "%s.%d.ffn", sn, i);
            if (ffn(m, &l->ffn, p, err))
                return -1;
            continue;
        }
        l->fixed = fixed_stack;
        l->n_exp = l->fixed ? m->k : m->E;
        if (l->fixed ? !(l->fixed_w = need(m, m->k, 0, err, "%s.%d.moe.fixed_weight", sn, i))
                     : !(l->gate = need(m, m->E, d, err, "%s.%d.moe.gate", sn, i)))
            return -1;
        l->experts = calloc((size_t)l->n_exp, sizeof(orc_ffn_t));
        if (!l->experts)
            return mb_fail(err, "oracle: out of memory");
        for (int e = 0; e < l->n_exp; e++) {
            snprintf(p, sizeof p, "%s.%d.moe.%d", sn, i, e);
            if (ffn(m, &l->experts[e], p, err))
                return -1;
        }
    }
    if (!(m->ln_g[s] = need(m, d, 0, err, "%s.ln.g", sn)) || !(m->ln_b[s] = need(m, d, 0, err, "%s.ln.b", sn)))
        return -1;
    return 0;
}

/* ---- the config in __metadata__ ---- */

static int meta_int(const cJSON *meta, const char *key, int *out, mb_error_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, key);
    char *end;
    if (!cJSON_IsString(v) || (*out = (int)strtol(v->valuestring, &end, 10), *end) || end == v->valuestring)
        return mb_fail(err, "oracle: __metadata__ \"%s\" is missing or not a number", key);
    return 0;
}

static const char *meta_str(const cJSON *meta, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int route_of(const char *s)
{
    static const char *const names[] = {"dense", "token", "sentence", "task"};
    for (int i = 0; s && i < 4; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

static void add_sorted(char (*list)[ORC_NAME], int *n, const char *name)
{
    int i = 0;
    while (i < *n && strcmp(list[i], name) < 0)
        i++;
    if (i < *n && !strcmp(list[i], name))
        return;
    memmove(list[i + 1], list[i], (size_t)(*n - i) * ORC_NAME);
    snprintf(list[i], ORC_NAME, "%s", name);
    (*n)++;
}

/* "en-de" -> the source (side 0) or target (side 1) language */
static void lang_of(const char *task, int side, char *out)
{
    const char *dash = strchr(task, '-');
    if (side)
        snprintf(out, ORC_NAME, "%s", dash + 1);
    else
        snprintf(out, ORC_NAME, "%.*s", (int)(dash - task), task);
}

static void key_of(const orc_model_t *m, int task, char *out)
{
    if (m->key_kind == ORC_KEY_PAIR)
        snprintf(out, ORC_NAME, "%s", m->tasks[task]);
    else
        lang_of(m->tasks[task], m->key_kind == ORC_KEY_TARGET, out);
}

static int read_config(orc_model_t *m, const cJSON *meta, mb_error_t *err)
{
    if (!cJSON_IsObject(meta))
        return mb_fail(err, "oracle: the header has no __metadata__");
    if (meta_int(meta, "enc_layers", &m->layers[0], err) || meta_int(meta, "dec_layers", &m->layers[1], err) ||
        meta_int(meta, "d_model", &m->d, err) || meta_int(meta, "d_ff", &m->d_ff, err) ||
        meta_int(meta, "heads", &m->heads, err) || meta_int(meta, "vocab", &m->vocab, err) ||
        meta_int(meta, "experts", &m->E, err) || meta_int(meta, "top_k", &m->k, err) ||
        meta_int(meta, "moe_every", &m->moe_every, err))
        return -1;
    if (m->d % m->heads || m->k < 1 || m->k > m->E || m->moe_every < 1)
        return mb_fail(err, "oracle: inconsistent config");
    m->route[0] = route_of(meta_str(meta, "enc_routing"));
    m->route[1] = route_of(meta_str(meta, "dec_routing"));
    const char *key = meta_str(meta, "task_key"), *tasks = meta_str(meta, "tasks");
    m->key_kind = !key ? -1 : !strcmp(key, "target") ? ORC_KEY_TARGET : !strcmp(key, "pair") ? ORC_KEY_PAIR
                                                                    : !strcmp(key, "source") ? ORC_KEY_SOURCE : -1;
    if (m->route[0] < 0 || m->route[1] < 0 || m->key_kind < 0 || !tasks)
        return mb_fail(err, "oracle: __metadata__ routing, task_key or tasks missing or unknown");
    for (const char *p = tasks; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (m->n_tasks == ORC_MAX_TASKS || len >= ORC_NAME || !memchr(p, '-', len))
            return mb_fail(err, "oracle: __metadata__ tasks '%s' unreadable", tasks);
        snprintf(m->tasks[m->n_tasks++], ORC_NAME, "%.*s", (int)len, p);
        p = end ? end + 1 : p + len;
    }
    for (int t = 0; t < m->n_tasks; t++) {
        char a[ORC_NAME];
        for (int side = 0; side < 2; side++) {
            lang_of(m->tasks[t], side, a);
            add_sorted(m->langs, &m->n_langs, a);
        }
        key_of(m, t, a);
        add_sorted(m->keys, &m->n_keys, a);
    }
    m->subnet_key = -1;
    const char *sub = meta_str(meta, "subnet_key");
    for (int i = 0; sub && i < m->n_keys; i++)
        if (!strcmp(m->keys[i], sub))
            m->subnet_key = i;
    if (sub && m->subnet_key < 0)
        return mb_fail(err, "oracle: __metadata__ subnet_key '%s' is not a key", sub);
    return 0;
}

int orc_load(const char *path, orc_model_t **out, mb_error_t *err)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (read_file(path, &buf, &len, err))
        return -1;
    uint64_t hlen = 0;
    for (int i = 7; len >= 8 && i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    if (len < 8 || hlen > len - 8) {
        free(buf);
        return mb_fail(err, "oracle: %s: bad header length", path);
    }
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    orc_model_t *m = calloc(1, sizeof *m);
    int rc = !root || !m ? mb_fail(err, "oracle: %s: header is not JSON", path) : 0;
    if (!rc)
        rc = read_config(m, cJSON_GetObjectItemCaseSensitive(root, "__metadata__"), err);
    if (!rc && m->layers[ORC_ENCODER] == 0)
        rc = mb_fail(err, "oracle: %s: a model without encoder layers is not supported", path);
    if (!rc)
        rc = read_tensors(m, root, buf + 8 + hlen, len - 8 - (size_t)hlen, path, err);
    for (int s = 0; !rc && s < 2; s++)
        if (m->layers[s] > 0 || s == ORC_DECODER)
            rc = wire_stack(m, s, err);
    if (!rc && !(m->out_proj = need(m, m->vocab, m->d, err, "out.proj.w")))
        rc = -1;
    cJSON_Delete(root);
    free(buf);
    if (rc) {
        orc_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void orc_free(orc_model_t *m)
{
    if (!m)
        return;
    for (int s = 0; s < 2; s++) {
        for (int i = 0; m->layer[s] && i < m->layers[s]; i++)
            free(m->layer[s][i].experts);
        free(m->layer[s]);
    }
    for (int i = 0; i < m->n_tensors; i++)
        free(m->tensor[i].data);
    free(m->tensor);
    free(m);
}

/* ---- tasks ---- */

int orc_vocab(const orc_model_t *m)
{
    return m->vocab;
}

int orc_d_model(const orc_model_t *m)
{
    return m->d;
}

int orc_find_task(const orc_model_t *m, const char *task)
{
    for (int t = 0; t < m->n_tasks; t++)
        if (!strcmp(m->tasks[t], task))
            return t;
    return -1;
}

int orc_task_key(const orc_model_t *m, int task)
{
    char k[ORC_NAME];
    key_of(m, task, k);
    for (int i = 0; i < m->n_keys; i++)
        if (!strcmp(m->keys[i], k))
            return i;
    return -1;
}

int orc_task_tag(const orc_model_t *m, int task)
{
    char tgt[ORC_NAME];
    lang_of(m->tasks[task], 1, tgt);
    for (int i = 0; i < m->n_langs; i++)
        if (!strcmp(m->langs[i], tgt))
            return 4 + i;
    return 3;
}

int orc_source(const orc_model_t *m, int task, const int *words, int n, int *out)
{
    out[0] = orc_task_tag(m, task);
    memcpy(out + 1, words, sizeof(int) * (size_t)n);
    out[n + 1] = 2; /* EOS */
    return n + 2;
}
