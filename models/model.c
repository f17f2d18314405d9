/* model: tensor layout, counting, allocation and random initialisation of a
 * model's weights (see model.h). The layout is written once, in walk(), and
 * everything else (counts, allocation, wiring, file I/O) follows from it. */
#include "models/model.h"

#define MODEL_POS_TABLE_ROWS 1024 /* positions past this are computed on the fly */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/mb_mem.h"
#include "common/mb_rng.h"
#include "models/layers.h"

/* ---- the layout ---- */

typedef struct walker {
    void (*visit)(struct walker *w, const model_tensor_spec_t *s, const float **slot);
    model_part_t part;
    int expert, task_layer, gate;
    /* visitor state */
    model_counts_t *counts;
    int top_k;                 /* counting: experts below top_k stand for those a token uses */
    model_t *m;                /* wiring: the model, next tensor index and arena offset */
    int index;
    uint64_t offset;
    int64_t at;                /* >= 0: the arena offset of the next tensor (out of order) */
} walker_t;

static void emit(walker_t *w, const float **slot, int ndim, int64_t d0, int64_t d1, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void emit(walker_t *w, const float **slot, int ndim, int64_t d0, int64_t d1, const char *fmt, ...)
{
    model_tensor_spec_t s;
    memset(&s, 0, sizeof s);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s.name, sizeof s.name, fmt, ap);
    va_end(ap);
    s.ndim = ndim;
    s.shape[0] = d0;
    s.shape[1] = d1;
    s.n = (uint64_t)d0 * (uint64_t)(ndim == 2 ? d1 : 1);
    s.part = w->part;
    s.expert = w->expert;
    s.task_layer = w->task_layer;
    s.gate = w->gate;
    w->visit(w, &s, slot);
}

/* at_w, at_b: arena offsets of the weight and the bias, or -1 for the next free place */
static void emit_linear_at(walker_t *w, be_weight_t *lw, int n_out, int n_in, int bias, const char *prefix,
                           int64_t at_w, int64_t at_b)
{
    w->at = at_w;
    emit(w, lw ? &lw->w : NULL, 2, n_out, n_in, "%s.w", prefix);
    w->at = at_b;
    if (bias)
        emit(w, lw ? &lw->b : NULL, 1, n_out, 0, "%s.b", prefix);
    w->at = -1;
    if (lw) {
        lw->n_out = n_out;
        lw->n_in = n_in;
    }
}

static void emit_linear(walker_t *w, be_weight_t *lw, int n_out, int n_in, int bias, const char *prefix)
{
    emit_linear_at(w, lw, n_out, n_in, bias, prefix, -1, -1);
}

static void emit_ln(walker_t *w, model_ln_t *ln, int d, const char *prefix)
{
    emit(w, ln ? &ln->g : NULL, 1, d, 0, "%s.g", prefix);
    emit(w, ln ? &ln->b : NULL, 1, d, 0, "%s.b", prefix);
}

static void emit_attn(walker_t *w, model_attn_t *a, int d, const char *prefix)
{
    char name[96]; /* prefix (< 64) + suffix */
    const char *part[4] = {"q", "k", "v", "o"};
    be_weight_t *lw[4] = {a ? &a->q : NULL, a ? &a->k : NULL, a ? &a->v : NULL, a ? &a->o : NULL};
    /* Tensor order (names, files) stays q.w q.b k.w k.b ...; in the arena the
     * block is q.w k.w v.w q.b k.b v.b o.w o.b, so that q, k, v are one
     * [3d, d] matrix with one [3d] bias (model_layer_t.self_qkv) and k, v one
     * [2d, d] (cross_kv) without a copy. */
    const int64_t dd = (int64_t)d * d, base = (int64_t)w->offset;
    const int64_t at_w[4] = {0, dd, 2 * dd, 3 * dd + 3 * (int64_t)d};
    const int64_t at_b[4] = {3 * dd, 3 * dd + d, 3 * dd + 2 * (int64_t)d, 4 * dd + 3 * (int64_t)d};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, part[i]);
        emit_linear_at(w, lw[i], d, d, 1, name, base + at_w[i], base + at_b[i]);
    }
    w->offset = (uint64_t)(base + 4 * dd + 4 * (int64_t)d);
}

static void emit_ffn(walker_t *w, model_ffn_t *f, const model_config_t *c, const char *prefix)
{
    char name[96]; /* prefix (< 64) + suffix */
    snprintf(name, sizeof name, "%s.fc1", prefix);
    emit_linear(w, f ? &f->fc1 : NULL, c->d_ff, c->d_model, 1, name);
    snprintf(name, sizeof name, "%s.fc2", prefix);
    emit_linear(w, f ? &f->fc2 : NULL, c->d_model, c->d_ff, 1, name);
}

static void walk_stack(walker_t *w, const model_config_t *c, model_t *m, model_stack_t st)
{
    const char *sn = st == MODEL_ENCODER ? "enc" : "dec";
    int n_layers = st == MODEL_ENCODER ? c->enc_layers : c->dec_layers;
    int d = c->d_model;
    char name[64];

    w->part = MODEL_PART_EMBED;
    w->expert = -1;
    w->task_layer = w->gate = 0;
    if (!c->tie_embed)
        emit(w, m ? (st == MODEL_ENCODER ? &m->enc_embed : &m->dec_embed) : NULL, 2, c->vocab, d, "%s.embed", sn);
    w->part = st == MODEL_ENCODER ? MODEL_PART_ENCODER : MODEL_PART_DECODER;
    if (model_uses_task_embedding(c, st)) {
        w->gate = w->task_layer = 1;
        emit(w, m ? (st == MODEL_ENCODER ? &m->enc_task_embed : &m->dec_task_embed) : NULL, 2, c->n_keys, d,
             "%s.task_embed", sn);
        w->gate = w->task_layer = 0;
    }
    for (int i = 0; i < n_layers; i++) {
        model_layer_t *L = m ? (st == MODEL_ENCODER ? &m->enc[i] : &m->dec[i]) : NULL;
        snprintf(name, sizeof name, "%s.%d.ln_self", sn, i);
        emit_ln(w, L ? &L->ln_self : NULL, d, name);
        snprintf(name, sizeof name, "%s.%d.self", sn, i);
        emit_attn(w, L ? &L->self : NULL, d, name);
        if (st == MODEL_DECODER) {
            snprintf(name, sizeof name, "%s.%d.ln_cross", sn, i);
            emit_ln(w, L ? &L->ln_cross : NULL, d, name);
            snprintf(name, sizeof name, "%s.%d.cross", sn, i);
            emit_attn(w, L ? &L->cross : NULL, d, name);
        }
        snprintf(name, sizeof name, "%s.%d.ln_ffn", sn, i);
        emit_ln(w, L ? &L->ln_ffn : NULL, d, name);
        if (!model_layer_is_moe(c, st, i)) {
            snprintf(name, sizeof name, "%s.%d.ffn", sn, i);
            emit_ffn(w, L ? &L->ffn : NULL, c, name);
            continue;
        }
        int fixed = model_layer_is_fixed(c, st, i);
        int n_exp = model_layer_experts(c, st, i);
        if (L) {
            L->is_moe = 1;
            L->moe.routing = c->routing[st];
            L->moe.fixed = fixed;
            L->moe.n_experts = n_exp;
        }
        w->task_layer = c->routing[st] == MODEL_ROUTE_TASK && !fixed;
        if (fixed) {
            emit(w, L ? &L->moe.fixed_weight : NULL, 1, c->top_k, 0, "%s.%d.moe.fixed_weight", sn, i);
        } else {
            w->gate = 1;
            emit(w, L ? &L->moe.gate : NULL, 2, c->n_experts, d, "%s.%d.moe.gate", sn, i);
            w->gate = 0;
        }
        for (int e = 0; e < n_exp; e++) {
            w->expert = e;
            snprintf(name, sizeof name, "%s.%d.moe.%d", sn, i, e);
            emit_ffn(w, L ? &L->moe.experts[e] : NULL, c, name);
        }
        w->expert = -1;
        w->task_layer = 0;
    }
    snprintf(name, sizeof name, "%s.ln", sn);
    emit_ln(w, m ? (st == MODEL_ENCODER ? &m->enc_ln : &m->dec_ln) : NULL, d, name);
}

static void walk(walker_t *w, const model_config_t *c, model_t *m)
{
    if (c->tie_embed) { /* one table; model_create points the other two uses at it */
        w->part = MODEL_PART_EMBED;
        w->expert = -1;
        w->task_layer = w->gate = 0;
        emit(w, m ? &m->enc_embed : NULL, 2, c->vocab, c->d_model, "embed");
    }
    if (c->enc_layers > 0)
        walk_stack(w, c, m, MODEL_ENCODER);
    walk_stack(w, c, m, MODEL_DECODER);
    w->part = MODEL_PART_EMBED;
    w->expert = -1;
    w->task_layer = w->gate = 0;
    if (!c->tie_embed)
        emit_linear(w, m ? &m->out_proj : NULL, c->vocab, c->d_model, 0, "out.proj");
    else if (m) {
        m->dec_embed = m->out_proj.w = m->enc_embed;
        m->out_proj.n_out = c->vocab;
        m->out_proj.n_in = c->d_model;
    }
}

/* ---- counting ---- */

static void count_visit(walker_t *w, const model_tensor_spec_t *s, const float **slot)
{
    (void)slot;
    model_counts_t *k = w->counts;
    k->n_tensors++;
    k->total += s->n;
    uint64_t *stack = s->part == MODEL_PART_EMBED ? &k->embedding
                      : s->part == MODEL_PART_ENCODER ? &k->encoder : &k->decoder;
    *stack += s->n;
    /* served: a task keeps top_k experts of a task-routed layer, not its gate */
    int served = !(s->task_layer && (s->gate || s->expert >= w->top_k));
    if (served) {
        k->served_total += s->n;
        if (s->part == MODEL_PART_ENCODER)
            k->served_encoder += s->n;
        else if (s->part == MODEL_PART_DECODER)
            k->served_decoder += s->n;
    }
    if (s->expert < w->top_k)
        k->active_per_token += s->n;
}

int model_count(const model_config_t *cfg, model_counts_t *out, mb_error_t *err)
{
    (void)err;
    memset(out, 0, sizeof *out);
    walker_t w;
    memset(&w, 0, sizeof w);
    w.at = -1;
    w.visit = count_visit;
    w.counts = out;
    w.top_k = cfg->top_k;
    walk(&w, cfg, NULL);
    for (int s = 0; s < 2; s++) {
        int n = s ? cfg->dec_layers : cfg->enc_layers;
        for (int i = 0; i < n; i++)
            out->moe_layers[s] += model_layer_is_moe(cfg, (model_stack_t)s, i);
    }
    /* fixed gate weights replace the gates of task-routed layers in a sub-network */
    for (int s = 0; s < 2; s++)
        if (cfg->routing[s] == MODEL_ROUTE_TASK && cfg->subnet_key < 0) {
            uint64_t fw = (uint64_t)out->moe_layers[s] * (uint64_t)cfg->top_k;
            out->served_total += fw;
            *(s ? &out->served_decoder : &out->served_encoder) += fw;
        }
    return 0;
}

/* ---- allocation and wiring ---- */

static void wire_visit(walker_t *w, const model_tensor_spec_t *s, const float **slot)
{
    model_t *m = w->m;
    uint64_t off = w->at >= 0 ? (uint64_t)w->at : w->offset;
    m->specs[w->index] = *s;
    m->tensor[w->index] = m->arena + off;
    if (slot)
        *slot = m->arena + off;
    if (w->at < 0)
        w->offset += s->n;
    w->index++;
}

/* The stacked views of model_layer_t (see emit_attn for the arena order). */
static be_weight_t stacked(const be_weight_t *first, int parts)
{
    return (be_weight_t){.w = first->w, .b = first->b, .n_out = parts * first->n_out, .n_in = first->n_in};
}

static void wire_fused(model_t *m)
{
    for (int s = 0; s < 2; s++) {
        model_layer_t *layers = s ? m->dec : m->enc;
        int n = s ? m->cfg.dec_layers : m->cfg.enc_layers;
        for (int i = 0; i < n; i++) {
            layers[i].self_qkv = stacked(&layers[i].self.q, 3);
            if (s)
                layers[i].cross_kv = stacked(&layers[i].cross.k, 2);
        }
    }
}

int model_parse_opt_off(const char *text, int *bits, mb_error_t *err)
{
    static const struct { const char *name; int bit; } parts[] = {
        {"fuse", MODEL_OPT_FUSE}, {"attn", MODEL_OPT_ATTN_ROWS}, {"topk", MODEL_OPT_TOPK},
        {"all", MODEL_OPT_FUSE | MODEL_OPT_ATTN_ROWS | MODEL_OPT_TOPK}};
    *bits = 0;
    for (const char *p = text ? text : ""; *p;) {
        size_t len = strcspn(p, ",");
        size_t i = 0;
        while (i < sizeof parts / sizeof parts[0] && (strlen(parts[i].name) != len || strncmp(p, parts[i].name, len)))
            i++;
        if (len && i == sizeof parts / sizeof parts[0])
            return mb_fail(err, "%s: '%.*s' is not a decode optimisation; use a comma list of fuse, attn, topk "
                                "or all (or unset it)", MODEL_DECODE_OFF_ENV, (int)len, p);
        if (len)
            *bits |= parts[i].bit;
        p += len + (p[len] == ',');
    }
    return 0;
}

static void rewire_visit(walker_t *w, const model_tensor_spec_t *s, const float **slot)
{
    (void)s;
    if (slot)
        *slot = w->m->tensor[w->index];
    w->index++;
}

void model_rewire(model_t *m)
{
    walker_t w;
    memset(&w, 0, sizeof w);
    w.visit = rewire_visit;
    w.m = m;
    walk(&w, &m->cfg, m);
    wire_fused(m); /* the loader keeps each view's parts adjacent (model_view_groups) */
}

static int tensor_at(const model_t *m, const float *p)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensor[i] == p)
            return i;
    return -1;
}

/* A view's weight group (bias = 0) or bias group from the arena pointers of
 * a freshly created model (model_create: every tensor in the arena). */
static void view_group(const model_t *m, const be_weight_t *v, int parts, int bias, model_view_group_t *g)
{
    const size_t step = bias ? (size_t)v->n_out / parts : (size_t)v->n_out / parts * v->n_in;
    g->n = parts;
    for (int j = 0; j < parts; j++)
        g->idx[j] = tensor_at(m, (bias ? v->b : v->w) + j * step);
}

int model_view_groups(const model_t *m, model_view_group_t *g, int max)
{
    int n = 0;
    for (int s = 0; s < 2; s++) {
        const model_layer_t *layers = s ? m->dec : m->enc;
        int nl = s ? m->cfg.dec_layers : m->cfg.enc_layers;
        for (int i = 0; i < nl; i++)
            for (int v = 0; v < (s ? 2 : 1); v++)
                for (int bias = 0; bias < 2; bias++, n++)
                    if (n < max)
                        view_group(m, v ? &layers[i].cross_kv : &layers[i].self_qkv, v ? 2 : 3, bias, &g[n]);
    }
    return n;
}


int model_create(const model_config_t *cfg, model_t **out, mb_error_t *err)
{
    *out = NULL;
    model_counts_t k;
    if (model_count(cfg, &k, err) != 0)
        return -1;
    char what[96];
    snprintf(what, sizeof what, "model %s/%s (%.3g M parameters, fp32)", cfg->preset, cfg->variant,
             (double)k.total / 1e6);
    if (k.total > (uint64_t)SIZE_MAX / sizeof(float) ||
        mb_mem_check(k.total * sizeof(float), what,
                     "pick a smaller preset or fewer experts (--experts), or raise MOEBENCH_MEM_LIMIT", err))
        return -1;

    model_t *m = calloc(1, sizeof *m);
    if (!m)
        return mb_fail(err, "out of memory allocating a model");
    m->cfg = *cfg;
    m->n_params = k.total;
    m->n_tensors = k.n_tensors;
    m->arena = calloc((size_t)k.total, sizeof(float));
    m->specs = calloc((size_t)k.n_tensors, sizeof *m->specs);
    m->tensor = calloc((size_t)k.n_tensors, sizeof *m->tensor);
    m->arena_order = calloc((size_t)k.n_tensors + 1, sizeof *m->arena_order);
    m->pos_rows = MODEL_POS_TABLE_ROWS;
    m->pos_table = malloc(sizeof(float) * (size_t)m->pos_rows * (size_t)cfg->d_model);
    m->enc = calloc((size_t)cfg->enc_layers + 1, sizeof *m->enc);
    m->dec = calloc((size_t)cfg->dec_layers + 1, sizeof *m->dec);
    int ok = m->arena && m->specs && m->tensor && m->arena_order && m->enc && m->dec && m->pos_table;
    for (int s = 0; ok && s < 2; s++) {
        int n = s ? cfg->dec_layers : cfg->enc_layers;
        model_layer_t *layers = s ? m->dec : m->enc;
        for (int i = 0; ok && i < n; i++) {
            int e = model_layer_experts(cfg, (model_stack_t)s, i);
            if (e) {
                layers[i].moe.experts = calloc((size_t)e, sizeof(model_ffn_t));
                ok = layers[i].moe.experts != NULL;
            }
        }
    }
    if (!ok) {
        model_free(m);
        return mb_fail(err, "out of memory allocating %s", what);
    }
    layer_position_table(m->pos_rows, cfg->d_model, m->pos_table);
    walker_t w;
    memset(&w, 0, sizeof w);
    w.visit = wire_visit;
    w.m = m;
    w.at = -1;
    walk(&w, cfg, m);
    wire_fused(m);
    /* arena order: insertion sort of the indices by offset (a few hundred tensors, nearly in order) */
    for (int i = 0; i < m->n_tensors; i++) {
        int j = i;
        for (; j > 0 && m->tensor[m->arena_order[j - 1]] > m->tensor[i]; j--)
            m->arena_order[j] = m->arena_order[j - 1];
        m->arena_order[j] = i;
    }
    if (model_parse_opt_off(getenv(MODEL_DECODE_OFF_ENV), &m->opt_off, err) != 0) {
        model_free(m);
        return -1;
    }
    /* layer norms start as the identity */
    for (int i = 0; i < m->n_tensors; i++) {
        size_t len = strlen(m->specs[i].name);
        if (len > 5 && !strcmp(m->specs[i].name + len - 2, ".g") && strstr(m->specs[i].name, "ln"))
            for (uint64_t j = 0; j < m->specs[i].n; j++)
                m->tensor[i][j] = 1.0f;
    }
    *out = m;
    return 0;
}

void model_free(model_t *m)
{
    if (!m)
        return;
    for (int s = 0; s < 2; s++) {
        model_layer_t *layers = s ? m->dec : m->enc;
        int n = s ? m->cfg.dec_layers : m->cfg.enc_layers;
        for (int i = 0; layers && i < n; i++)
            free(layers[i].moe.experts);
    }
    free(m->enc);
    free(m->dec);
    free(m->specs);
    free(m->tensor);
    free(m->arena_order);
    free(m->arena);
    if (m->map)
        munmap(m->map, m->map_len);
    free(m->pos_table);
    free(m->vocab_blob);
    free(m);
}

int model_set_vocab(model_t *m, const void *data, size_t len, mb_error_t *err)
{
    uint8_t *copy = NULL;
    if (len > MODEL_VOCAB_MAX_BYTES)
        return mb_fail(err, "a vocabulary of %zu bytes is larger than any tokenizer (limit %u)", len,
                       MODEL_VOCAB_MAX_BYTES);
    if (len > 0) {
        if (!(copy = malloc(len)))
            return mb_fail(err, "out of memory for the vocabulary");
        memcpy(copy, data, len);
    }
    free(m->vocab_blob);
    m->vocab_blob = copy;
    m->vocab_len = len;
    return 0;
}

int model_tensor_index(const model_t *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->specs[i].name, name))
            return i;
    return -1;
}

/* ---- random initialisation ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

void model_init_random(model_t *m, uint64_t seed)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const model_tensor_spec_t *s = &m->specs[i];
        float *t = m->tensor[i];
        mb_rng_t r;
        mb_rng_for(&r, seed, s->name);
        if (ends_with(s->name, "embed")) {
            /* unit-variance rows: the sqrt(d_model) input scaling is applied on top */
            double sd = ends_with(s->name, "task_embed") ? 1.0 : 1.0 / sqrt((double)m->cfg.d_model);
            for (uint64_t j = 0; j < s->n; j++)
                t[j] = (float)(sd * mb_rng_normal(&r));
        } else if (ends_with(s->name, ".fixed_weight")) {
            for (uint64_t j = 0; j < s->n; j++)
                t[j] = 1.0f / (float)s->n;
        } else if (s->ndim == 2) {
            /* Xavier-uniform for layers; gate and output projection get
             * variance 1/d_model so routing and logits are not all ties */
            int64_t fan_out = s->shape[0], fan_in = s->shape[1];
            double a = (s->gate || !strcmp(s->name, "out.proj.w")) ? sqrt(3.0 / (double)fan_in)
                                                                    : sqrt(6.0 / (double)(fan_in + fan_out));
            for (uint64_t j = 0; j < s->n; j++)
                t[j] = (float)(a * (2.0 * mb_rng_uniform(&r) - 1.0));
        } else {
            /* biases and layer-norm parameters: small random values (not the
             * usual zeros/ones) so that tests exercise every term */
            float base = ends_with(s->name, ".g") ? 1.0f : 0.0f;
            for (uint64_t j = 0; j < s->n; j++)
                t[j] = base + (float)(0.1 * (2.0 * mb_rng_uniform(&r) - 1.0));
        }
    }
}

/* ---- backend-prepared weights ---- */

static int for_each_linear(model_t *m, int all, int (*fn)(be_t *, be_weight_t *, mb_error_t *), be_t *be,
                           mb_error_t *err)
{
    for (int s = 0; s < 2; s++) {
        model_layer_t *layers = s ? m->dec : m->enc;
        int n = s ? m->cfg.dec_layers : m->cfg.enc_layers;
        for (int i = 0; i < n; i++) {
            model_layer_t *L = &layers[i];
            /* fused: the stacked views instead of their parts, so that a
             * backend's prepared copy (oneDNN's blocked layout) exists once;
             * release (all) visits both */
            be_weight_t *ws[14] = {&L->self.o};
            int nw = 1;
            if (all || !(m->opt_off & MODEL_OPT_FUSE))
                ws[nw++] = &L->self_qkv;
            if (all || (m->opt_off & MODEL_OPT_FUSE)) {
                ws[nw++] = &L->self.q;
                ws[nw++] = &L->self.k;
                ws[nw++] = &L->self.v;
            }
            if (s) {
                ws[nw++] = &L->cross.q;
                ws[nw++] = &L->cross.o;
                if (all || !(m->opt_off & MODEL_OPT_FUSE))
                    ws[nw++] = &L->cross_kv;
                if (all || (m->opt_off & MODEL_OPT_FUSE)) {
                    ws[nw++] = &L->cross.k;
                    ws[nw++] = &L->cross.v;
                }
            }
            if (!L->is_moe) {
                ws[nw++] = &L->ffn.fc1;
                ws[nw++] = &L->ffn.fc2;
            }
            for (int j = 0; j < nw; j++)
                if (fn(be, ws[j], err))
                    return -1;
            for (int e = 0; L->is_moe && e < L->moe.n_experts; e++)
                if (fn(be, &L->moe.experts[e].fc1, err) || fn(be, &L->moe.experts[e].fc2, err))
                    return -1;
        }
    }
    return fn(be, &m->out_proj, err);
}

static int release_one(be_t *be, be_weight_t *w, mb_error_t *err)
{
    (void)err;
    be_weight_release(be, w);
    return 0;
}

/* Roles (backend.h): what sees whole sentences, and the output projection. */
static void set_roles(model_t *m)
{
    for (int i = 0; i < m->cfg.enc_layers; i++) {
        model_layer_t *L = &m->enc[i];
        be_weight_t *ws[] = {&L->self.q, &L->self.k, &L->self.v, &L->self.o, &L->self_qkv, &L->ffn.fc1, &L->ffn.fc2};
        for (size_t j = 0; j < sizeof ws / sizeof ws[0]; j++)
            ws[j]->role = BE_WEIGHT_SENTENCE;
    }
    for (int i = 0; i < m->cfg.dec_layers; i++) {
        model_layer_t *L = &m->dec[i];
        L->cross_kv.role = L->cross.k.role = L->cross.v.role = BE_WEIGHT_SENTENCE;
    }
    m->out_proj.role = BE_WEIGHT_OUT_PROJ; /* int8 keeps it fp32 unless asked */
}

int model_prepare(model_t *m, be_t *be, mb_error_t *err)
{
    set_roles(m);
    if (for_each_linear(m, 0, be_weight_prepare, be, err) != 0) {
        model_release(m, be);
        return -1;
    }
    return 0;
}

void model_release(model_t *m, be_t *be)
{
    for_each_linear(m, 1, release_one, be, NULL);
}
