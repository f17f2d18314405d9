/* model_args: the command-line options that describe a model config
 * (--preset, --variant, --tasks, routing and shape overrides), shared by
 * `init` and `info` (and later by the scenario parser's [model] section). */
#ifndef MODEL_ARGS_H
#define MODEL_ARGS_H

#include <getopt.h>

#include "models/config.h"

typedef struct model_args {
    const char *preset, *variant, *tasks, *enc_routing, *dec_routing, *task_key;
    long enc_layers, dec_layers, d_model, d_ff, heads, vocab, experts, top_k, moe_every; /* -1: preset's */
    double capacity_factor;                                                               /* -1: preset's */
    int tie_embed;                                                                        /* -1: preset's */
} model_args_t;

/* getopt_long entries; their codes start at MODEL_ARGS_BASE. */
#define MODEL_ARGS_BASE 1000
#define MODEL_ARGS_LONGOPTS                                                                          \
    {"preset", required_argument, 0, 1000}, {"variant", required_argument, 0, 1001},                   \
    {"tasks", required_argument, 0, 1002}, {"enc-routing", required_argument, 0, 1003},                \
    {"dec-routing", required_argument, 0, 1004}, {"task-key", required_argument, 0, 1005},             \
    {"enc-layers", required_argument, 0, 1006}, {"dec-layers", required_argument, 0, 1007},            \
    {"d-model", required_argument, 0, 1008}, {"d-ff", required_argument, 0, 1009},                     \
    {"heads", required_argument, 0, 1010}, {"vocab", required_argument, 0, 1011},                      \
    {"experts", required_argument, 0, 1012}, {"top-k", required_argument, 0, 1013},                    \
    {"moe-every", required_argument, 0, 1014}, {"capacity-factor", required_argument, 0, 1015},        \
    {"tie-embeddings", required_argument, 0, 1016}

extern const char MODEL_ARGS_HELP[];

void model_args_init(model_args_t *a);
/* 1 when option code c was one of ours (and parsed), 0 when not ours, -1 on a bad value. */
int model_args_parse(model_args_t *a, int c, const char *arg, mb_error_t *err);
/* The config: preset + variant, then the overrides; checked. */
int model_args_config(const model_args_t *a, model_config_t *cfg, mb_error_t *err);

#endif
