/* export_ct2: the CTranslate2 model directory (see export_ct2.h). */
#include "models/export_ct2.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mb_file.h"
#include "models/layers.h"

/* model.bin as CTranslate2 4.x reads it (learned from its converter's
 * specs/model_spec.py): u32 format version, string spec name, u32 spec
 * revision, u32 variable count; per variable: string name, u8 rank, u32 per
 * dimension, u8 dtype, u32 byte count, the bytes (row-major); then u32 alias
 * count and per alias: string alias, string name it repeats. A string is a
 * u16 length that counts its NUL, the bytes, the NUL. Little-endian. */
#define CT2_BINARY_VERSION 6
#define CT2_SPEC_NAME "TransformerSpec"
#define CT2_SPEC_REVISION 7
enum { CT2_FLOAT32 = 0, CT2_INT8 = 1, CT2_INT16 = 2 };
enum { CT2_ACT_RELU = 0, CT2_MERGE_CONCAT = 0 };

#define MAX_SEG 3

typedef struct seg {
    const void *p;
    size_t bytes;
} seg_t;

typedef struct var {
    char name[128];
    int dtype, rank;
    uint32_t dims[2];
    seg_t seg[MAX_SEG];        /* the data: these byte ranges one after another */
    int n_seg;                 /* 0: a scalar, its value in `scalar` */
    uint8_t scalar[2];
    int alias;                 /* sorted index of the variable with the same data, or -1 */
} var_t;

typedef struct vars {
    var_t *v;
    int n, cap;
    void **owned;              /* buffers made here (fused or merged weights, positions) */
    int n_owned, cap_owned;
    int oom;
} vars_t;

static var_t *var_add(vars_t *vs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static var_t *var_add(vars_t *vs, const char *fmt, ...)
{
    if (vs->oom)
        return NULL;
    if (vs->n == vs->cap) {
        int cap = vs->cap ? 2 * vs->cap : 256;
        var_t *v = realloc(vs->v, sizeof *v * (size_t)cap);
        if (!v) {
            vs->oom = 1;
            return NULL;
        }
        vs->v = v;
        vs->cap = cap;
    }
    var_t *x = &vs->v[vs->n++];
    memset(x, 0, sizeof *x);
    x->alias = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->name, sizeof x->name, fmt, ap);
    va_end(ap);
    return x;
}

static float *owned(vars_t *vs, size_t n)
{
    if (vs->oom)
        return NULL;
    if (vs->n_owned == vs->cap_owned) {
        int cap = vs->cap_owned ? 2 * vs->cap_owned : 64;
        void **o = realloc(vs->owned, sizeof *o * (size_t)cap);
        if (!o) {
            vs->oom = 1;
            return NULL;
        }
        vs->owned = o;
        vs->cap_owned = cap;
    }
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p) {
        vs->oom = 1;
        return NULL;
    }
    vs->owned[vs->n_owned++] = p;
    return p;
}

static void vars_free(vars_t *vs)
{
    for (int i = 0; i < vs->n_owned; i++)
        free(vs->owned[i]);
    free(vs->owned);
    free(vs->v);
}

/* A float32 tensor [d0] or [d0, d1] made of n_seg equal parts. */
static void add_f32(vars_t *vs, const char *name, int rank, uint32_t d0, uint32_t d1, int n_seg,
                    const float *const *parts)
{
    var_t *x = var_add(vs, "%s", name);
    if (!x)
        return;
    x->dtype = CT2_FLOAT32;
    x->rank = rank;
    x->dims[0] = d0;
    x->dims[1] = rank == 2 ? d1 : 0;
    size_t total = sizeof(float) * (size_t)d0 * (rank == 2 ? (size_t)d1 : 1);
    x->n_seg = n_seg;
    for (int i = 0; i < n_seg; i++)
        x->seg[i] = (seg_t){parts[i], total / (size_t)n_seg};
}

static void add_scalar(vars_t *vs, const char *name, int dtype, int value)
{
    var_t *x = var_add(vs, "%s", name);
    if (!x)
        return;
    x->dtype = dtype;
    x->scalar[0] = (uint8_t)(value & 0xff);
    x->scalar[1] = (uint8_t)((value >> 8) & 0xff); /* int16: little-endian */
}

static void add_ln(vars_t *vs, const char *scope, const model_ln_t *ln, int d)
{
    char name[128];
    snprintf(name, sizeof name, "%s/gamma", scope);
    add_f32(vs, name, 1, (uint32_t)d, 0, 1, &ln->g);
    snprintf(name, sizeof name, "%s/beta", scope);
    add_f32(vs, name, 1, (uint32_t)d, 0, 1, &ln->b);
}

/* n linear layers of the same shape as one: their rows stacked (y = x W' + b
 * for all of them at once), CTranslate2's fused QKV and KV layout. */
static void add_linear(vars_t *vs, const char *scope, const be_weight_t *const *w, int n)
{
    char name[128];
    const float *wp[MAX_SEG], *bp[MAX_SEG];
    for (int i = 0; i < n; i++) {
        wp[i] = w[i]->w;
        bp[i] = w[i]->b;
    }
    snprintf(name, sizeof name, "%s/weight", scope);
    add_f32(vs, name, 2, (uint32_t)(n * w[0]->n_out), (uint32_t)w[0]->n_in, n, wp);
    snprintf(name, sizeof name, "%s/bias", scope);
    add_f32(vs, name, 1, (uint32_t)(n * w[0]->n_out), 0, n, bp);
}

static void add_attention(vars_t *vs, const char *scope, const model_ln_t *ln, const model_attn_t *a, int d,
                          int cross)
{
    char name[96];
    snprintf(name, sizeof name, "%s/layer_norm", scope);
    add_ln(vs, name, ln, d);
    const be_weight_t *qkv[3] = {&a->q, &a->k, &a->v}, *o = &a->o;
    if (!cross) { /* linear_0: Q, K, V fused; linear_1: output */
        snprintf(name, sizeof name, "%s/linear_0", scope);
        add_linear(vs, name, qkv, 3);
        snprintf(name, sizeof name, "%s/linear_1", scope);
        add_linear(vs, name, &o, 1);
    } else { /* linear_0: Q of the decoder state; linear_1: K, V of the encoder output fused; linear_2: output */
        snprintf(name, sizeof name, "%s/linear_0", scope);
        add_linear(vs, name, qkv, 1);
        snprintf(name, sizeof name, "%s/linear_1", scope);
        add_linear(vs, name, qkv + 1, 2);
        snprintf(name, sizeof name, "%s/linear_2", scope);
        add_linear(vs, name, &o, 1);
    }
}

/* A fixed MoE layer (task sub-network) as one FFN of k * d_ff (export_ct2.h). */
static void add_merged_ffn(vars_t *vs, const char *scope, const model_moe_t *moe, int d)
{
    const int k = moe->n_experts, f = moe->experts[0].fc1.n_out;
    const size_t kf = (size_t)k * (size_t)f;
    float *w1 = owned(vs, kf * (size_t)d), *b1 = owned(vs, kf), *w2 = owned(vs, (size_t)d * kf),
          *b2 = owned(vs, (size_t)d);
    if (!w1 || !b1 || !w2 || !b2)
        return;
    for (int r = 0; r < k; r++) {
        const model_ffn_t *e = &moe->experts[r];
        const float g = moe->fixed_weight[r];
        memcpy(w1 + (size_t)r * f * (size_t)d, e->fc1.w, sizeof(float) * (size_t)f * (size_t)d);
        memcpy(b1 + (size_t)r * f, e->fc1.b, sizeof(float) * (size_t)f);
        for (int o = 0; o < d; o++)
            for (int j = 0; j < f; j++) /* w2: [d, k * f], column block r is expert r's, scaled */
                w2[(size_t)o * kf + (size_t)r * f + (size_t)j] = g * e->fc2.w[(size_t)o * f + (size_t)j];
    }
    for (int o = 0; o < d; o++) { /* in rank order, as moebench combines the experts */
        float s = 0.0f;
        for (int r = 0; r < k; r++)
            s += moe->fixed_weight[r] * moe->experts[r].fc2.b[o];
        b2[o] = s;
    }
    char name[128];
    const float *part[4] = {w1, b1, w2, b2};
    snprintf(name, sizeof name, "%s/linear_0/weight", scope);
    add_f32(vs, name, 2, (uint32_t)kf, (uint32_t)d, 1, &part[0]);
    snprintf(name, sizeof name, "%s/linear_0/bias", scope);
    add_f32(vs, name, 1, (uint32_t)kf, 0, 1, &part[1]);
    snprintf(name, sizeof name, "%s/linear_1/weight", scope);
    add_f32(vs, name, 2, (uint32_t)d, (uint32_t)kf, 1, &part[2]);
    snprintf(name, sizeof name, "%s/linear_1/bias", scope);
    add_f32(vs, name, 1, (uint32_t)d, 0, 1, &part[3]);
}

static void add_ffn(vars_t *vs, const char *scope, const model_layer_t *L, int d)
{
    char name[96];
    snprintf(name, sizeof name, "%s/layer_norm", scope);
    add_ln(vs, name, &L->ln_ffn, d);
    if (L->is_moe) {
        add_merged_ffn(vs, scope, &L->moe, d);
        return;
    }
    const be_weight_t *w = &L->ffn.fc1;
    snprintf(name, sizeof name, "%s/linear_0", scope);
    add_linear(vs, name, &w, 1);
    w = &L->ffn.fc2;
    snprintf(name, sizeof name, "%s/linear_1", scope);
    add_linear(vs, name, &w, 1);
}

/* The variables of TransformerSpec (its specs/transformer_spec.py) with the
 * flags moebench's architecture needs; pos: the position table [P, d]. */
static void build(vars_t *vs, const model_t *m, const float *pos, int P)
{
    const model_config_t *c = &m->cfg;
    const int d = c->d_model;
    char name[64];
    for (int st = 0; st < 2; st++) {
        const char *sn = st ? "decoder" : "encoder";
        const int n_layers = st ? c->dec_layers : c->enc_layers;
        const model_layer_t *layers = st ? m->dec : m->enc;
        const float *embed = st ? m->dec_embed : m->enc_embed;
        snprintf(name, sizeof name, st ? "%s/embeddings/weight" : "%s/embeddings_0/weight", sn);
        add_f32(vs, name, 2, (uint32_t)c->vocab, (uint32_t)d, 1, &embed);
        snprintf(name, sizeof name, "%s/position_encodings/encodings", sn);
        add_f32(vs, name, 2, (uint32_t)P, (uint32_t)d, 1, &pos);
        snprintf(name, sizeof name, "%s/layer_norm", sn);
        add_ln(vs, name, st ? &m->dec_ln : &m->enc_ln, d);
        static const char *const flags[] = {"scale_embeddings", "pre_norm"};
        for (int i = 0; i < 2; i++) {
            snprintf(name, sizeof name, "%s/%s", sn, flags[i]);
            add_scalar(vs, name, CT2_INT8, 1);
        }
        snprintf(name, sizeof name, "%s/num_heads", sn);
        add_scalar(vs, name, CT2_INT16, c->n_heads);
        snprintf(name, sizeof name, "%s/activation", sn);
        add_scalar(vs, name, CT2_INT8, CT2_ACT_RELU);
        if (!st) {
            add_scalar(vs, "encoder/embeddings_merge", CT2_INT8, CT2_MERGE_CONCAT);
            add_scalar(vs, "encoder/multi_query_attention", CT2_INT8, 0);
        } else {
            static const char *const off[] = {"alibi", "alibi_use_positive_positions", "scale_alibi",
                                              "start_from_zero_embedding"};
            for (int i = 0; i < 4; i++) {
                snprintf(name, sizeof name, "decoder/%s", off[i]);
                add_scalar(vs, name, CT2_INT8, 0);
            }
            add_scalar(vs, "decoder/alignment_layer", CT2_INT16, -1);
            add_scalar(vs, "decoder/alignment_heads", CT2_INT16, 1);
            const float *proj = m->out_proj.w;
            add_f32(vs, "decoder/projection/weight", 2, (uint32_t)c->vocab, (uint32_t)d, 1, &proj);
        }
        for (int i = 0; i < n_layers; i++) {
            const model_layer_t *L = &layers[i];
            snprintf(name, sizeof name, "%s/layer_%d/self_attention", sn, i);
            add_attention(vs, name, &L->ln_self, &L->self, d, 0);
            if (st) {
                snprintf(name, sizeof name, "%s/layer_%d/attention", sn, i);
                add_attention(vs, name, &L->ln_cross, &L->cross, d, 1);
            }
            snprintf(name, sizeof name, "%s/layer_%d/ffn", sn, i);
            add_ffn(vs, name, L, d);
        }
    }
}

static int cmp_var(const void *a, const void *b)
{
    return strcmp(((const var_t *)a)->name, ((const var_t *)b)->name);
}

/* Tied tables (one pointer behind the embeddings and the projection) and the
 * one position table are written once; the later names alias the first, as
 * CTranslate2's own converter does for equal variables. */
static void find_aliases(vars_t *vs)
{
    for (int i = 0; i < vs->n; i++) {
        var_t *x = &vs->v[i];
        if (x->n_seg != 1)
            continue;
        for (int j = 0; j < i; j++) {
            const var_t *y = &vs->v[j];
            if (y->alias < 0 && y->n_seg == 1 && y->seg[0].p == x->seg[0].p && y->seg[0].bytes == x->seg[0].bytes &&
                y->rank == x->rank && y->dims[0] == x->dims[0] && y->dims[1] == x->dims[1]) {
                x->alias = j;
                break;
            }
        }
    }
}

/* ---- writing ---- */

typedef struct out {
    FILE *f;
    int err;                   /* first errno, 0 while all is well */
} out_t;

static void put(out_t *o, const void *p, size_t n)
{
    if (o->err || n == 0)
        return;
    errno = 0;
    if (fwrite(p, 1, n, o->f) != n)
        o->err = errno ? errno : EIO;
}

static void put_u8(out_t *o, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(o, &b, 1);
}

static void put_u16(out_t *o, unsigned v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(o, b, 2);
}

static void put_u32(out_t *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(o, b, 4);
}

static void put_str(out_t *o, const char *s)
{
    size_t n = strlen(s) + 1;
    put_u16(o, (unsigned)n);
    put(o, s, n);
}

/* A JSON string: quotes, backslashes and control bytes escaped; UTF-8 as is. */
static void put_json(out_t *o, const char *s)
{
    char buf[16];
    put(o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            buf[0] = '\\';
            buf[1] = (char)*p;
            put(o, buf, 2);
        } else if (*p < 0x20) {
            snprintf(buf, sizeof buf, "\\u%04x", *p);
            put(o, buf, 6);
        } else {
            put(o, p, 1);
        }
    }
    put(o, "\"", 1);
}

static void putf(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(out_t *o, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(o, buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void write_model_bin(out_t *o, const vars_t *vs)
{
    uint32_t n_vars = 0, n_alias = 0;
    for (int i = 0; i < vs->n; i++) {
        if (vs->v[i].alias < 0)
            n_vars++;
        else
            n_alias++;
    }
    put_u32(o, CT2_BINARY_VERSION);
    put_str(o, CT2_SPEC_NAME);
    put_u32(o, CT2_SPEC_REVISION);
    put_u32(o, n_vars);
    for (int i = 0; i < vs->n; i++) {
        const var_t *x = &vs->v[i];
        if (x->alias >= 0)
            continue;
        put_str(o, x->name);
        put_u8(o, (unsigned)x->rank);
        for (int r = 0; r < x->rank; r++)
            put_u32(o, x->dims[r]);
        put_u8(o, (unsigned)x->dtype);
        if (x->n_seg == 0) {
            unsigned size = x->dtype == CT2_INT16 ? 2 : 1;
            put_u32(o, size);
            put(o, x->scalar, size);
            continue;
        }
        size_t bytes = 0;
        for (int s = 0; s < x->n_seg; s++)
            bytes += x->seg[s].bytes;
        put_u32(o, (uint32_t)bytes); /* checked against 2^32 by ct2_export */
        for (int s = 0; s < x->n_seg; s++)
            put(o, x->seg[s].p, x->seg[s].bytes);
    }
    put_u32(o, n_alias);
    for (int i = 0; i < vs->n; i++)
        if (vs->v[i].alias >= 0) {
            put_str(o, vs->v[i].name);
            put_str(o, vs->v[vs->v[i].alias].name);
        }
}

static void write_config(out_t *o, const char *const *tok)
{
    /* moebench adds the tag and EOS to a source itself, so CTranslate2 must
     * add nothing; the decoder starts from BOS, as moebench's does */
    putf(o, "{\n  \"add_source_bos\": false,\n  \"add_source_eos\": false,\n  \"bos_token\": ");
    put_json(o, tok[MODEL_BOS]);
    putf(o, ",\n  \"decoder_start_token\": ");
    put_json(o, tok[MODEL_BOS]);
    putf(o, ",\n  \"eos_token\": ");
    put_json(o, tok[MODEL_EOS]);
    putf(o, ",\n  \"layer_norm_epsilon\": 1e-05,\n  \"multi_query_attention\": false,\n  \"unk_token\": ");
    put_json(o, tok[MODEL_UNK]);
    putf(o, "\n}\n");
}

static void write_vocab(out_t *o, const char *const *tok, int n)
{
    put(o, "[\n", 2);
    for (int i = 0; i < n; i++) {
        put(o, "  ", 2);
        put_json(o, tok[i]);
        put(o, i + 1 < n ? ",\n" : "\n", i + 1 < n ? 2 : 1);
    }
    put(o, "]\n", 2);
}

/* What the peer script (scripts/ct2-peer.py) and a user need beside the model:
 * which token starts a source of each task, and where the weights came from. */
static void write_moebench_json(out_t *o, const model_t *m, const ct2_export_opts_t *opt, int P)
{
    const model_config_t *c = &m->cfg;
    putf(o, "{\n  \"format\": \"moebench-ct2-1\",\n  \"source\": ");
    put_json(o, opt->source ? opt->source : "");
    putf(o, ",\n  \"variant\": ");
    put_json(o, c->variant);
    putf(o, ",\n  \"preset\": ");
    put_json(o, c->preset);
    putf(o, ",\n  \"subnet_key\": ");
    put_json(o, c->subnet_key >= 0 ? c->keys[c->subnet_key] : "");
    putf(o, ",\n  \"vocabulary\": ");
    put_json(o, opt->vocab_kind ? opt->vocab_kind : "");
    putf(o, ",\n  \"vocab_size\": %d,\n  \"max_positions\": %d,\n  \"pad_id\": %d,\n  \"bos_id\": %d,\n"
            "  \"eos_id\": %d,\n  \"unk_id\": %d,\n  \"task_tag_token\": {",
         c->vocab, P, MODEL_PAD, MODEL_BOS, MODEL_EOS, MODEL_UNK);
    int first = 1;
    for (int t = 0; t < c->n_tasks; t++) {
        if (!model_serves_task(c, t))
            continue;
        putf(o, "%s\n    ", first ? "" : ",");
        put_json(o, c->tasks[t]);
        put(o, ": ", 2);
        put_json(o, opt->tokens[model_task_tag(c, t)]);
        first = 0;
    }
    putf(o, "\n  }\n}\n");
}

static const char *const FILES[] = {"model.bin", "config.json", "shared_vocabulary.json", "moebench.json",
                                    "sentencepiece.model"};
enum { F_MODEL, F_CONFIG, F_VOCAB, F_MOEBENCH, F_SPM, N_FILES };

typedef struct job {
    const model_t *m;
    const ct2_export_opts_t *o;
    const vars_t *vs;
    int P;
} job_t;

static int write_file(const char *tmpdir, int which, const job_t *j, mb_error_t *err)
{
    char path[4300]; /* tmpdir (< 4200) + / + a file name */
    snprintf(path, sizeof path, "%s/%s", tmpdir, FILES[which]);
    out_t o = {fopen(path, "wb"), 0};
    if (!o.f)
        return mb_fail(err, "%s: cannot create it: %s", path, strerror(errno));
    switch (which) {
    case F_MODEL: write_model_bin(&o, j->vs); break;
    case F_CONFIG: write_config(&o, j->o->tokens); break;
    case F_VOCAB: write_vocab(&o, j->o->tokens, j->m->cfg.vocab); break;
    case F_MOEBENCH: write_moebench_json(&o, j->m, j->o, j->P); break;
    default: put(&o, j->o->spm, j->o->spm_len); break;
    }
    if (!o.err && fflush(o.f) != 0)
        o.err = errno ? errno : EIO;
    /* on disk before the rename makes the folder visible */
    if (!o.err && fsync(fileno(o.f)) != 0 && errno != EINVAL && errno != EROFS)
        o.err = errno;
    if (fclose(o.f) != 0 && !o.err)
        o.err = errno ? errno : EIO;
    if (o.err)
        return mb_fail(err, "%s: cannot write it: %s", path, strerror(o.err));
    return 0;
}

/* ---- checks ---- */

int ct2_exportable(const model_t *m, mb_error_t *err)
{
    const model_config_t *c = &m->cfg;
    if (c->enc_layers < 1 || c->dec_layers < 1)
        return mb_fail(err, "ctranslate2 export: the model has %d encoder and %d decoder layers; CTranslate2's "
                            "TransformerSpec needs an encoder-decoder model", c->enc_layers, c->dec_layers);
    if (c->n_heads < 1 || c->n_heads > 32767 || c->d_model % c->n_heads != 0)
        return mb_fail(err, "ctranslate2 export: %d heads do not divide d_model %d", c->n_heads, c->d_model);
    for (int st = 0; st < 2; st++) {
        const model_layer_t *layers = st ? m->dec : m->enc;
        for (int i = 0; i < (st ? c->dec_layers : c->enc_layers); i++) {
            const model_layer_t *L = &layers[i];
            if (!L->is_moe || L->moe.fixed)
                continue;
            const char *where = st ? "decoder" : "encoder";
            if (L->moe.routing == MODEL_ROUTE_TASK)
                return mb_fail(err, "ctranslate2 export: %s layer %d of this %s model is task-routed, choosing "
                                    "its experts at run time from the task; export one task's sub-network "
                                    "instead ('moebench extract MODEL --task T -o SUB.safetensors')",
                               where, i, c->variant);
            return mb_fail(err, "ctranslate2 export: %s layer %d of this %s model is a %s-routed MoE layer, whose "
                                "gate chooses experts per %s; CTranslate2's Transformer has no such layer, so "
                                "only dense models (dense, student) and task sub-networks whose every MoE layer "
                                "is task-routed (extracted from a model made with --enc-routing task) convert",
                           where, i, c->variant, model_route_name(L->moe.routing),
                           L->moe.routing == MODEL_ROUTE_TOKEN ? "token" : "sentence");
        }
    }
    return 0;
}

/* dir without trailing slashes ("/" stays "/") into out[n]. */
static int strip_dir(const char *dir, char *out, size_t n, mb_error_t *err)
{
    size_t l = strlen(dir);
    while (l > 1 && dir[l - 1] == '/')
        l--;
    if (l + 32 >= n)
        return mb_fail(err, "%s: the path is too long", dir);
    memcpy(out, dir, l);
    out[l] = '\0';
    return 0;
}

static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    return empty;
}

int ct2_output_check(const char *dir, mb_error_t *err)
{
    if (!dir || !dir[0])
        return mb_fail(err, "the output folder name is empty; give a folder for the CTranslate2 model (-o DIR)");
    char path[4096];
    if (strip_dir(dir, path, sizeof path, err) != 0)
        return -1;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return mb_fail(err, "%s: is %s; give the name of a new folder for the CTranslate2 model", dir,
                           mb_file_kind(st.st_mode));
        if (!dir_is_empty(path))
            return mb_fail(err, "%s: exists and is not empty; remove it or give a new folder name (a model "
                                "directory is never overwritten)", dir);
    } else if (errno != ENOENT) {
        return mb_fail(err, "%s: cannot use it for the CTranslate2 model: %s", dir, strerror(errno));
    }
    /* its parent: the model is written beside it as a temporary and renamed */
    return mb_output_folder_check(path, "CTranslate2 model", err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int check_tokens(const char *const *tok, int n, mb_error_t *err)
{
    if (!tok)
        return mb_fail(err, "ctranslate2 export: no token strings given");
    const char **s = malloc(sizeof *s * (size_t)n);
    if (!s)
        return mb_fail(err, "ctranslate2 export: out of memory");
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        s[i] = tok[i];
        if (!tok[i] || !tok[i][0])
            rc = mb_fail(err, "ctranslate2 export: token id %d has an empty string; CTranslate2 looks tokens up "
                              "by their strings", i);
    }
    if (rc == 0) { /* CTranslate2 maps a repeated string to its first id: outputs would change */
        qsort(s, (size_t)n, sizeof *s, cmp_str);
        for (int i = 1; i < n && rc == 0; i++)
            if (strcmp(s[i - 1], s[i]) == 0)
                rc = mb_fail(err, "ctranslate2 export: the token '%s' appears twice in the vocabulary; "
                                  "CTranslate2 would read both as one id", s[i]);
    }
    free(s);
    return rc;
}

/* ---- the export ---- */

static void remove_tmp(const char *tmpdir)
{
    char path[4300]; /* tmpdir (< 4200) + / + a file name */
    for (int i = 0; i < N_FILES; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, FILES[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

int ct2_export(const model_t *m, const ct2_export_opts_t *o, const char *dir, mb_error_t *err)
{
    const model_config_t *c = &m->cfg;
    const int P = o->max_positions ? o->max_positions : CT2_DEFAULT_POSITIONS;
    if (P < 1 || P > CT2_MAX_POSITIONS)
        return mb_fail(err, "ctranslate2 export: %d positions is outside 1..%d", P, CT2_MAX_POSITIONS);
    if (ct2_exportable(m, err) != 0 || ct2_output_check(dir, err) != 0 ||
        check_tokens(o->tokens, c->vocab, err) != 0)
        return -1;
    /* CTranslate2 stores a variable's byte count in 32 bits */
    const uint64_t big = (uint64_t)c->vocab * (uint64_t)c->d_model * 4u;
    uint64_t ffn = 0;
    for (int st = 0; st < 2; st++)
        for (int i = 0; i < (st ? c->dec_layers : c->enc_layers); i++) {
            const model_layer_t *L = st ? &m->dec[i] : &m->enc[i];
            uint64_t f = L->is_moe ? (uint64_t)L->moe.n_experts * (uint64_t)L->moe.experts[0].fc1.n_out
                                   : (uint64_t)L->ffn.fc1.n_out;
            ffn = f > ffn ? f : ffn;
        }
    if (big > UINT32_MAX || ffn * (uint64_t)c->d_model * 4u > UINT32_MAX || (uint64_t)P * c->d_model * 4u > UINT32_MAX)
        return mb_fail(err, "ctranslate2 export: a weight of this model has more than 4 GiB, which CTranslate2's "
                            "model.bin cannot hold");

    vars_t vs = {0};
    char path[4096], tmpdir[4200];
    int rc = -1, made = 0;
    float *pos = owned(&vs, (size_t)P * (size_t)c->d_model);
    if (pos) /* the very function moebench's embedding uses: the same bits */
        layer_position_table(P, c->d_model, pos);
    build(&vs, m, pos, P);
    if (vs.oom) {
        mb_fail(err, "ctranslate2 export: out of memory building the variables");
        goto done;
    }
    qsort(vs.v, (size_t)vs.n, sizeof *vs.v, cmp_var);
    find_aliases(&vs);

    if (strip_dir(dir, path, sizeof path, err) != 0)
        goto done;
    snprintf(tmpdir, sizeof tmpdir, "%s.tmp-XXXXXX", path);
    if (!mkdtemp(tmpdir)) {
        mb_fail(err, "%s: cannot create the temporary folder %s: %s", dir, tmpdir, strerror(errno));
        goto done;
    }
    made = 1;
    /* mkdtemp makes it private (0700); the finished folder gets what mkdir would give it */
    mode_t mask = umask(0);
    umask(mask);
    if (chmod(tmpdir, 0777 & ~mask) != 0) {
        mb_fail(err, "%s: cannot set the permissions of %s: %s", dir, tmpdir, strerror(errno));
        goto done;
    }
    job_t j = {m, o, &vs, P};
    for (int f = 0; f < N_FILES; f++) {
        if (f == F_SPM && !o->spm)
            continue;
        if (write_file(tmpdir, f, &j, err) != 0) {
            mb_prefix(err, "%s: ", dir);
            goto done;
        }
    }
    /* an empty folder at DIR is replaced; anything else appeared since the check */
    if (rename(tmpdir, path) != 0) {
        mb_fail(err, "%s: cannot rename the finished folder %s to it: %s", dir, tmpdir, strerror(errno));
        goto done;
    }
    made = 0;
    rc = 0;
done:
    if (made)
        remove_tmp(tmpdir);
    vars_free(&vs);
    return rc;
}
