/* model_args: parsing of the model-describing options (see model_args.h). */
#include "harness/model_args.h"

#include <stdio.h>
#include <string.h>

#include "common/mb_parse.h"

const char MODEL_ARGS_HELP[] =
    "  --preset P            tiny | small | train-small | wmt-dense | wmt32e | web128e (default tiny)\n"
    "  --variant V           dense | token-moe | sentence-moe | task-moe | task-subnet | student\n"
    "                        (default dense; task-subnet is made by 'extract', info can count it)\n"
    "  --tasks LIST          language pairs, e.g. en-de,de-en (default en-de,en-fr,en-cs,de-en,fr-en,cs-en)\n"
    "  --enc-routing R       override the encoder's routing: dense | token | sentence | task\n"
    "  --dec-routing R       override the decoder's routing\n"
    "  --task-key K          what task routing keys on: target | pair | source (default target)\n"
    "  --experts N --top-k N --moe-every N\n"
    "  --capacity-factor F   the training capacity factor to record (default 0 = unlimited;\n"
    "                        inference applies translate's/run's own, default 0)\n"
    "  --enc-layers N --dec-layers N --d-model N --d-ff N --heads N --vocab N\n"
    "                        shape overrides (e.g. a smaller student)\n"
    "  --tie-embeddings yes|no  one table for source, target and output embeddings (train-small: yes)\n";

void model_args_init(model_args_t *a)
{
    a->preset = "tiny";
    a->variant = "dense";
    a->tasks = a->enc_routing = a->dec_routing = a->task_key = NULL;
    a->enc_layers = a->dec_layers = a->d_model = a->d_ff = a->heads = a->vocab = -1;
    a->experts = a->top_k = a->moe_every = -1;
    a->capacity_factor = -1.0;
    a->tie_embed = -1;
}

int model_args_parse(model_args_t *a, int c, const char *arg, mb_error_t *err)
{
    long *ints[] = {&a->enc_layers, &a->dec_layers, &a->d_model, &a->d_ff, &a->heads,
                    &a->vocab,      &a->experts,    &a->top_k,   &a->moe_every};
    static const char *const int_names[] = {"--enc-layers", "--dec-layers", "--d-model", "--d-ff", "--heads",
                                            "--vocab",      "--experts",    "--top-k",   "--moe-every"};
    switch (c) {
    case 1000: a->preset = arg; return 1;
    case 1001: a->variant = arg; return 1;
    case 1002: a->tasks = arg; return 1;
    case 1003: a->enc_routing = arg; return 1;
    case 1004: a->dec_routing = arg; return 1;
    case 1005: a->task_key = arg; return 1;
    case 1015: return mb_parse_double("--capacity-factor", arg, 0.0, 1000.0, &a->capacity_factor, err) ? -1 : 1;
    case 1016:
        if (strcmp(arg, "yes") && strcmp(arg, "no"))
            return mb_fail(err, "--tie-embeddings: '%s' is not yes or no", arg);
        a->tie_embed = !strcmp(arg, "yes");
        return 1;
    default:
        if (c >= 1006 && c <= 1014)
            return mb_parse_long(int_names[c - 1006], arg, 0, 1L << 24, ints[c - 1006], err) ? -1 : 1;
        return 0;
    }
}

int model_args_config(const model_args_t *a, model_config_t *cfg, mb_error_t *err)
{
    if (model_preset(a->preset, a->variant, cfg, err) != 0)
        return -1;
    int *dst[] = {&cfg->enc_layers, &cfg->dec_layers, &cfg->d_model, &cfg->d_ff, &cfg->n_heads,
                  &cfg->vocab,      &cfg->n_experts,  &cfg->top_k,   &cfg->moe_every};
    const long src[] = {a->enc_layers, a->dec_layers, a->d_model, a->d_ff, a->heads,
                        a->vocab,      a->experts,    a->top_k,   a->moe_every};
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
        if (src[i] >= 0)
            *dst[i] = (int)src[i];
    if (a->capacity_factor >= 0)
        cfg->capacity_factor = (float)a->capacity_factor;
    if (a->tie_embed >= 0)
        cfg->tie_embed = a->tie_embed;
    if (a->tasks && model_config_set_tasks(cfg, a->tasks, err) != 0)
        return mb_prefix(err, "--");
    if (a->enc_routing && model_route_parse(a->enc_routing, &cfg->routing[MODEL_ENCODER], err) != 0)
        return mb_prefix(err, "--enc-routing: ");
    if (a->dec_routing && model_route_parse(a->dec_routing, &cfg->routing[MODEL_DECODER], err) != 0)
        return mb_prefix(err, "--dec-routing: ");
    if (a->task_key && model_key_parse(a->task_key, &cfg->task_key, err) != 0)
        return mb_prefix(err, "--task-key: ");
    if (model_config_finish(cfg, err) != 0)
        return -1;
    if (!strcmp(cfg->variant, "task-subnet")) {
        /* counts of the first key's sub-network: every key's has the same size */
        cfg->subnet_key = 0;
        return model_config_finish(cfg, err);
    }
    return 0;
}
