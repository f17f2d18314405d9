/* config: presets, validation, task keys and metadata of a model (see config.h). */
#include "models/config.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mb_variant.h"

const char *const model_preset_names[] = {"tiny", "small", "train-small", "wmt-dense", "wmt32e", "web128e", NULL};

#define DEFAULT_TASKS "en-de,en-fr,en-cs,de-en,fr-en,cs-en"

typedef struct preset {
    const char *name;
    int layers, d_model, d_ff, heads, vocab, experts, tie;
} preset_t;

/* Shapes: tiny and small are ours (sized for 2 CPU cores); the wmt and web
 * shapes are the paper's (Transformer-Base with a 64k shared vocabulary;
 * Transformer-Big with 128 experts). */
static const preset_t presets[] = {
    {"tiny", 2, 64, 128, 4, 512, 8, 0},
    {"small", 4, 256, 1024, 4, 8000, 16, 0},
    /* what `moebench train` trains on 2 cores (issue 13's reference model,
     * 3+3 layers, tied embeddings; the vocabulary comes from the data) */
    {"train-small", 3, 256, 1024, 4, 8000, 8, 1},
    {"wmt-dense", 6, 512, 2048, 8, 64000, 32, 0},
    {"wmt32e", 6, 512, 2048, 8, 64000, 32, 0},
    {"web128e", 6, 1024, 8192, 16, 64000, 128, 0},
};

static const char *const route_names[] = {"dense", "token", "sentence", "task"};
static const char *const key_names[] = {"target", "pair", "source"};

const char *model_route_name(model_route_t r)
{
    return (unsigned)r < 4 ? route_names[r] : "?";
}

const char *model_key_name(model_key_t k)
{
    return (unsigned)k < 3 ? key_names[k] : "?";
}

int model_route_parse(const char *text, model_route_t *out, mb_error_t *err)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(text, route_names[i])) {
            *out = (model_route_t)i;
            return 0;
        }
    return mb_fail(err, "unknown routing '%s'; use dense, token, sentence or task", text);
}

int model_key_parse(const char *text, model_key_t *out, mb_error_t *err)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(text, key_names[i])) {
            *out = (model_key_t)i;
            return 0;
        }
    return mb_fail(err, "unknown task key '%s'; use target, pair or source", text);
}

static int set_variant(model_config_t *c, const char *variant, mb_error_t *err)
{
    model_route_t enc = MODEL_ROUTE_DENSE, dec = MODEL_ROUTE_DENSE;
    const mb_variant_t *v = mb_variant_find(variant);
    if (!v)
        return mb_fail(err, "unknown variant '%s'; use %s", variant, mb_variant_list());
    if (model_route_parse(v->enc_routing, &enc, err) || model_route_parse(v->dec_routing, &dec, err))
        return -1;
    snprintf(c->variant, sizeof c->variant, "%s", variant);
    c->routing[MODEL_ENCODER] = enc;
    c->routing[MODEL_DECODER] = dec;
    c->task_key = MODEL_KEY_TARGET;
    return 0;
}

int model_preset(const char *preset, const char *variant, model_config_t *cfg, mb_error_t *err)
{
    const preset_t *p = NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(presets[i].name, preset))
            p = &presets[i];
    if (!p)
        return mb_fail(err, "unknown preset '%s'; use tiny, small, train-small, wmt-dense, wmt32e or web128e",
                       preset);
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->preset, sizeof cfg->preset, "%s", p->name);
    cfg->enc_layers = cfg->dec_layers = p->layers;
    cfg->d_model = p->d_model;
    cfg->d_ff = p->d_ff;
    cfg->n_heads = p->heads;
    cfg->vocab = p->vocab;
    cfg->n_experts = p->experts;
    cfg->tie_embed = p->tie;
    cfg->top_k = 2;
    cfg->moe_every = 2;
    cfg->capacity_factor = 0.0f; /* unlimited (docs/routing.md) */
    cfg->subnet_key = -1;
    if (set_variant(cfg, variant, err) != 0)
        return -1;
    if (model_config_set_tasks(cfg, DEFAULT_TASKS, err) != 0)
        return -1;
    return model_config_finish(cfg, err);
}

static int valid_lang(const char *s, size_t n)
{
    if (n < 2 || n > 8)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]))
            return 0;
    return 1;
}

int model_config_set_tasks(model_config_t *cfg, const char *list, mb_error_t *err)
{
    int n = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t') /* "en-de, de-en" reads as written */
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        const char *dash = memchr(p, '-', len);
        if (!dash || !valid_lang(p, (size_t)(dash - p)) ||
            !valid_lang(dash + 1, len - (size_t)(dash - p) - 1))
            return mb_fail(err, "tasks: '%.*s' is not a language pair like en-de (lower-case codes)",
                           (int)len, p);
        if (!strncmp(p, dash + 1, (size_t)(dash - p)) && (size_t)(dash - p) == len - (size_t)(dash - p) - 1)
            return mb_fail(err, "tasks: '%.*s' translates a language into itself", (int)len, p);
        if (n == MODEL_MAX_TASKS)
            return mb_fail(err, "tasks: more than %d tasks", MODEL_MAX_TASKS);
        snprintf(cfg->tasks[n], MODEL_NAME_LEN, "%.*s", (int)len, p);
        for (int i = 0; i < n; i++)
            if (!strcmp(cfg->tasks[i], cfg->tasks[n]))
                return mb_fail(err, "tasks: '%s' is listed twice", cfg->tasks[n]);
        n++;
        p = end ? end + 1 : p + strlen(p);
        if (end && !*p)
            return mb_fail(err, "tasks: the list ends with a comma");
    }
    if (n == 0)
        return mb_fail(err, "tasks: the list is empty; give pairs like en-de,de-en");
    cfg->n_tasks = n;
    return 0;
}

/* Splits "en-de" into its source or target language. */
static void task_lang(const char *task, int target, char *out)
{
    const char *dash = strchr(task, '-');
    if (target)
        snprintf(out, MODEL_NAME_LEN, "%s", dash + 1);
    else
        snprintf(out, MODEL_NAME_LEN, "%.*s", (int)(dash - task), task);
}

static int add_unique(char (*list)[MODEL_NAME_LEN], int *n, int max, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(list[i], name))
            return 0;
    if (*n == max)
        return -1;
    snprintf(list[(*n)++], MODEL_NAME_LEN, "%s", name);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int model_task_key_index(const model_config_t *cfg, int task)
{
    char key[MODEL_NAME_LEN];
    if (cfg->task_key == MODEL_KEY_PAIR)
        snprintf(key, sizeof key, "%s", cfg->tasks[task]);
    else
        task_lang(cfg->tasks[task], cfg->task_key == MODEL_KEY_TARGET, key);
    for (int i = 0; i < cfg->n_keys; i++)
        if (!strcmp(cfg->keys[i], key))
            return i;
    return -1;
}

int model_config_finish(model_config_t *c, mb_error_t *err)
{
    struct { const char *name; int v, lo, hi; } ints[] = {
        {"enc_layers", c->enc_layers, 0, 64},  {"dec_layers", c->dec_layers, 1, 64},
        {"d_model", c->d_model, 2, 65536},     {"d_ff", c->d_ff, 1, 1 << 20},
        {"heads", c->n_heads, 1, 1024},        {"vocab", c->vocab, 5, 1 << 24},
        {"experts", c->n_experts, 1, 4096},    {"top_k", c->top_k, 1, 4096},
        {"moe_every", c->moe_every, 1, 64},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].v < ints[i].lo || ints[i].v > ints[i].hi)
            return mb_fail(err, "config: %s = %d is out of range [%d, %d]", ints[i].name, ints[i].v,
                           ints[i].lo, ints[i].hi);
    if (c->d_model % c->n_heads)
        return mb_fail(err, "config: d_model %d is not a multiple of heads %d", c->d_model, c->n_heads);
    if (c->top_k > c->n_experts)
        return mb_fail(err, "config: top_k %d exceeds the %d experts", c->top_k, c->n_experts);
    if (!(c->capacity_factor >= 0.0f) || !isfinite(c->capacity_factor))
        return mb_fail(err, "config: capacity_factor must be >= 0 (0 = unlimited)");
    for (int s = 0; s < 2; s++)
        if ((unsigned)c->routing[s] > MODEL_ROUTE_TASK)
            return mb_fail(err, "config: bad routing for the %s", s ? "decoder" : "encoder");
    if (c->enc_layers == 0 && c->routing[MODEL_ENCODER] != MODEL_ROUTE_DENSE)
        return mb_fail(err, "config: an encoder with no layers cannot route");

    c->n_langs = 0;
    c->n_keys = 0;
    for (int t = 0; t < c->n_tasks; t++) {
        char a[MODEL_NAME_LEN], b[MODEL_NAME_LEN];
        task_lang(c->tasks[t], 0, a);
        task_lang(c->tasks[t], 1, b);
        if (add_unique(c->langs, &c->n_langs, MODEL_MAX_LANGS, a) ||
            add_unique(c->langs, &c->n_langs, MODEL_MAX_LANGS, b))
            return mb_fail(err, "tasks: more than %d languages", MODEL_MAX_LANGS);
        const char *key = c->task_key == MODEL_KEY_PAIR ? c->tasks[t]
                          : c->task_key == MODEL_KEY_TARGET ? b : a;
        add_unique(c->keys, &c->n_keys, MODEL_MAX_TASKS, key);
    }
    if (c->n_tasks == 0)
        return mb_fail(err, "config: no tasks");
    qsort(c->langs, (size_t)c->n_langs, MODEL_NAME_LEN, cmp_name);
    qsort(c->keys, (size_t)c->n_keys, MODEL_NAME_LEN, cmp_name);
    if (c->vocab < MODEL_FIRST_TAG + c->n_langs + 1)
        return mb_fail(err, "config: vocab %d cannot hold 4 special ids, %d language tags and a word",
                       c->vocab, c->n_langs);
    if (c->subnet_key >= c->n_keys)
        return mb_fail(err, "config: subnet key index %d out of range", c->subnet_key);
    if (c->subnet_key >= 0 && c->routing[MODEL_ENCODER] != MODEL_ROUTE_TASK &&
        c->routing[MODEL_DECODER] != MODEL_ROUTE_TASK)
        return mb_fail(err, "config: a task sub-network needs a task-routed stack");
    return 0;
}

int model_layer_is_moe(const model_config_t *cfg, model_stack_t stack, int layer)
{
    return cfg->routing[stack] != MODEL_ROUTE_DENSE && layer % cfg->moe_every == cfg->moe_every - 1;
}

int model_layer_is_fixed(const model_config_t *cfg, model_stack_t stack, int layer)
{
    return cfg->subnet_key >= 0 && cfg->routing[stack] == MODEL_ROUTE_TASK &&
           model_layer_is_moe(cfg, stack, layer);
}

int model_layer_experts(const model_config_t *cfg, model_stack_t stack, int layer)
{
    if (!model_layer_is_moe(cfg, stack, layer))
        return 0;
    return model_layer_is_fixed(cfg, stack, layer) ? cfg->top_k : cfg->n_experts;
}

int model_uses_task_embedding(const model_config_t *cfg, model_stack_t stack)
{
    int layers = stack == MODEL_ENCODER ? cfg->enc_layers : cfg->dec_layers;
    return cfg->routing[stack] == MODEL_ROUTE_TASK && cfg->subnet_key < 0 && layers >= cfg->moe_every;
}

int model_find_task(const model_config_t *cfg, const char *name)
{
    for (int t = 0; t < cfg->n_tasks; t++)
        if (!strcmp(cfg->tasks[t], name))
            return t;
    return -1;
}

int model_find_key(const model_config_t *cfg, const char *name)
{
    int t = model_find_task(cfg, name);
    if (t >= 0)
        return model_task_key_index(cfg, t);
    for (int k = 0; k < cfg->n_keys; k++)
        if (!strcmp(cfg->keys[k], name))
            return k;
    return -1;
}

int model_task_tag(const model_config_t *cfg, int task)
{
    char tgt[MODEL_NAME_LEN];
    task_lang(cfg->tasks[task], 1, tgt);
    for (int i = 0; i < cfg->n_langs; i++)
        if (!strcmp(cfg->langs[i], tgt))
            return MODEL_FIRST_TAG + i;
    return MODEL_UNK; /* unreachable for a finished config */
}

int model_serves_task(const model_config_t *cfg, int task)
{
    return task >= 0 && task < cfg->n_tasks &&
           (cfg->subnet_key < 0 || model_task_key_index(cfg, task) == cfg->subnet_key);
}

/* ---- metadata ---- */

static void meta_add(model_meta_t *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void meta_add(model_meta_t *m, const char *key, const char *fmt, ...)
{
    va_list ap;
    snprintf(m->key[m->n], sizeof m->key[0], "%s", key);
    va_start(ap, fmt);
    vsnprintf(m->value[m->n], sizeof m->value[0], fmt, ap);
    va_end(ap);
    m->n++;
}

void model_config_to_meta(const model_config_t *c, model_meta_t *m)
{
    char tasks[sizeof m->value[0]] = "";
    for (int t = 0; t < c->n_tasks; t++) {
        if (t)
            strcat(tasks, ",");
        strcat(tasks, c->tasks[t]);
    }
    m->n = 0;
    meta_add(m, "format", "moebench-1");
    meta_add(m, "preset", "%s", c->preset);
    meta_add(m, "variant", "%s", c->variant);
    meta_add(m, "enc_layers", "%d", c->enc_layers);
    meta_add(m, "dec_layers", "%d", c->dec_layers);
    meta_add(m, "d_model", "%d", c->d_model);
    meta_add(m, "d_ff", "%d", c->d_ff);
    meta_add(m, "heads", "%d", c->n_heads);
    meta_add(m, "vocab", "%d", c->vocab);
    meta_add(m, "experts", "%d", c->n_experts);
    meta_add(m, "top_k", "%d", c->top_k);
    meta_add(m, "moe_every", "%d", c->moe_every);
    meta_add(m, "capacity_factor", "%.9g", (double)c->capacity_factor);
    meta_add(m, "enc_routing", "%s", model_route_name(c->routing[0]));
    meta_add(m, "dec_routing", "%s", model_route_name(c->routing[1]));
    meta_add(m, "task_key", "%s", model_key_name(c->task_key));
    meta_add(m, "tasks", "%s", tasks);
    if (c->subnet_key >= 0)
        meta_add(m, "subnet_key", "%s", c->keys[c->subnet_key]);
    if (c->tie_embed) /* absent in untied files, so files written before the option read as before */
        meta_add(m, "tie_embeddings", "1");
    if (c->distilled_from[0])
        meta_add(m, "distilled_from", "%s", c->distilled_from);
}

int model_config_from_meta(model_config_t *c, const char *(*get)(void *ctx, const char *key), void *ctx,
                           const char *where, mb_error_t *err)
{
    memset(c, 0, sizeof *c);
    const char *fmt = get(ctx, "format");
    if (!fmt || strcmp(fmt, "moebench-1"))
        return mb_fail(err, "%s: __metadata__ has no format \"moebench-1\"; not a moebench model file "
                            "(make one with 'moebench init')", where);
    struct { const char *key; int *dst; } ints[] = {
        {"enc_layers", &c->enc_layers}, {"dec_layers", &c->dec_layers}, {"d_model", &c->d_model},
        {"d_ff", &c->d_ff},             {"heads", &c->n_heads},         {"vocab", &c->vocab},
        {"experts", &c->n_experts},     {"top_k", &c->top_k},           {"moe_every", &c->moe_every},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        const char *v = get(ctx, ints[i].key);
        char *end;
        long x = v ? strtol(v, &end, 10) : 0;
        if (!v || end == v || *end || x < 0 || x > (1L << 30))
            return mb_fail(err, "%s: __metadata__ \"%s\" is %s%s%s; expected a whole number", where,
                           ints[i].key, v ? "\"" : "missing", v ? v : "", v ? "\"" : "");
        *ints[i].dst = (int)x;
    }
    const char *v = get(ctx, "capacity_factor");
    char *end;
    c->capacity_factor = v ? strtof(v, &end) : -1.0f;
    if (!v || end == v || *end)
        return mb_fail(err, "%s: __metadata__ \"capacity_factor\" is missing or not a number", where);
    struct { const char *key; char *dst; size_t len; } strs[] = {
        {"preset", c->preset, sizeof c->preset}, {"variant", c->variant, sizeof c->variant}};
    for (size_t i = 0; i < 2; i++) {
        const char *s = get(ctx, strs[i].key);
        snprintf(strs[i].dst, strs[i].len, "%s", s ? s : "custom");
    }
    const char *r;
    if (!(r = get(ctx, "enc_routing")) || model_route_parse(r, &c->routing[0], err) ||
        !(r = get(ctx, "dec_routing")) || model_route_parse(r, &c->routing[1], err) ||
        !(r = get(ctx, "task_key")) || model_key_parse(r, &c->task_key, err) ||
        !(r = get(ctx, "tasks")) || model_config_set_tasks(c, r, err)) {
        if (!r)
            return mb_fail(err, "%s: __metadata__ lacks enc_routing, dec_routing, task_key or tasks", where);
        return mb_prefix(err, "%s: __metadata__: ", where);
    }
    c->subnet_key = -1;
    const char *tie = get(ctx, "tie_embeddings");
    if (tie && strcmp(tie, "0") && strcmp(tie, "1"))
        return mb_fail(err, "%s: __metadata__ \"tie_embeddings\" is \"%s\"; expected 0 or 1", where, tie);
    c->tie_embed = tie && !strcmp(tie, "1");
    if (model_config_finish(c, err) != 0)
        return mb_prefix(err, "%s: __metadata__: ", where);
    const char *from = get(ctx, "distilled_from");
    snprintf(c->distilled_from, sizeof c->distilled_from, "%s", from ? from : "");
    const char *sub = get(ctx, "subnet_key");
    if (sub) {
        for (int k = 0; k < c->n_keys; k++)
            if (!strcmp(c->keys[k], sub))
                c->subnet_key = k;
        if (c->subnet_key < 0)
            return mb_fail(err, "%s: __metadata__ subnet_key \"%s\" is not a key of its tasks", where, sub);
        if (model_config_finish(c, err) != 0)
            return mb_prefix(err, "%s: __metadata__: ", where);
    }
    return 0;
}
