/* config: a model's shape, its routing and its tasks; the presets; and the
 * vocabulary layout every model shares (special ids, one <2xx> tag per
 * language). Pure data: nothing here allocates weights.
 *
 * Variants (README.md, "Models and variants"): dense, token-moe, sentence-moe, task-moe,
 * task-subnet (a task-moe model cut down to one task's experts by extract),
 * student (dense by shape; differs in how it is trained). */
#ifndef MODEL_CONFIG_H
#define MODEL_CONFIG_H

#include <stdint.h>

#include "common/mb_error.h"

#define MODEL_MAX_TASKS 64
#define MODEL_MAX_LANGS 16
#define MODEL_NAME_LEN 16

/* Special token ids; language tags follow them, then ordinary tokens. */
enum { MODEL_PAD = 0, MODEL_BOS = 1, MODEL_EOS = 2, MODEL_UNK = 3, MODEL_FIRST_TAG = 4 };

typedef enum model_route {
    MODEL_ROUTE_DENSE = 0,     /* no MoE layers in this stack */
    MODEL_ROUTE_TOKEN,         /* the gate sees each token */
    MODEL_ROUTE_SENTENCE,      /* the gate sees the sentence's mean representation */
    MODEL_ROUTE_TASK,          /* the gate sees a learned embedding of the task key */
} model_route_t;

typedef enum model_key {
    MODEL_KEY_TARGET = 0,      /* task = target language (the paper's best decoder) */
    MODEL_KEY_PAIR,            /* task = language pair */
    MODEL_KEY_SOURCE,          /* task = source language */
} model_key_t;

typedef enum model_stack { MODEL_ENCODER = 0, MODEL_DECODER = 1 } model_stack_t;

typedef struct model_config {
    char preset[24];
    char variant[24];
    int enc_layers, dec_layers;
    int d_model, d_ff, n_heads, vocab;
    int n_experts, top_k;
    int moe_every;             /* FFN i of a stack is MoE when i % moe_every == moe_every - 1 */
    float capacity_factor;     /* the factor the model was trained with (docs/routing.md), 0 =
                                  unlimited; a record: inference applies decode_opts's */
    model_route_t routing[2];  /* per stack */
    model_key_t task_key;
    int tie_embed;             /* one [vocab, d_model] table ("embed") serves as source and target
                                  embedding and output projection */
    int n_tasks;
    char tasks[MODEL_MAX_TASKS][MODEL_NAME_LEN];  /* "en-de" */
    /* derived by model_config_finish: */
    int n_langs;
    char langs[MODEL_MAX_LANGS][MODEL_NAME_LEN];  /* sorted */
    int n_keys;
    char keys[MODEL_MAX_TASKS][MODEL_NAME_LEN];   /* values of the task key, e.g. "de" */
    /* task-subnet: the key this model serves (index into keys), else -1 */
    int subnet_key;
    /* provenance, not shape: "TEACHER.safetensors (crc32 XXXXXXXX)" for a student that
       `moebench distill` trained on that teacher's translations, else "" */
    char distilled_from[160];
} model_config_t;

/* Fills cfg from a preset (tiny, small, train-small, wmt-dense, wmt32e, web128e) and a
 * variant (common/mb_variant.h: the table of variants and their routing).
 * The default tasks are Multi30k's six English-centric directions. */
int model_preset(const char *preset, const char *variant, model_config_t *cfg, mb_error_t *err);
/* Names of the presets, NULL-terminated, for help texts. */
extern const char *const model_preset_names[];
/* Replaces the task list with a comma-separated one ("en-de,de-en"). */
int model_config_set_tasks(model_config_t *cfg, const char *list, mb_error_t *err);
/* Checks every field and derives langs/keys; call after any change. */
int model_config_finish(model_config_t *cfg, mb_error_t *err);

int model_route_parse(const char *text, model_route_t *out, mb_error_t *err);
const char *model_route_name(model_route_t r);
int model_key_parse(const char *text, model_key_t *out, mb_error_t *err);
const char *model_key_name(model_key_t k);

/* Is FFN `layer` of `stack` a mixture-of-experts layer? */
int model_layer_is_moe(const model_config_t *cfg, model_stack_t stack, int layer);
/* Experts stored in that layer: E, or top_k in a task-subnet's task-routed layers. */
int model_layer_experts(const model_config_t *cfg, model_stack_t stack, int layer);
/* Is the layer's routing fixed (a task-subnet's task-routed layer)? */
int model_layer_is_fixed(const model_config_t *cfg, model_stack_t stack, int layer);
int model_uses_task_embedding(const model_config_t *cfg, model_stack_t stack);

/* Index of task "en-de", or -1. */
int model_find_task(const model_config_t *cfg, const char *name);
/* Index of a key value ("de" for target routing), or of the key of a task
 * name ("en-de"); -1 if none. */
int model_find_key(const model_config_t *cfg, const char *name);
int model_task_key_index(const model_config_t *cfg, int task);
/* Token id of the <2xx> tag that starts a source sentence of this task. */
int model_task_tag(const model_config_t *cfg, int task);
/* Can this model translate `task`? A task-subnet serves only its key's tasks. */
int model_serves_task(const model_config_t *cfg, int task);

/* Metadata: the config as string pairs (safetensors __metadata__). */
#define MODEL_META_MAX 24
typedef struct model_meta {
    int n;
    char key[MODEL_META_MAX][32];
    char value[MODEL_META_MAX][MODEL_MAX_TASKS * MODEL_NAME_LEN];
} model_meta_t;
void model_config_to_meta(const model_config_t *cfg, model_meta_t *meta);
/* get(key) returns the value or NULL; `where` names the file for messages. */
int model_config_from_meta(model_config_t *cfg, const char *(*get)(void *ctx, const char *key),
                           void *ctx, const char *where, mb_error_t *err);

#endif
