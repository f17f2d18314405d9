/* cmd_info: `moebench info`: a model's config, parameter counts and memory,
 * from a file's header or from a preset, without allocating any weights.
 * Beside our counts it prints the paper's where the shape is the paper's. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mb_mem.h"
#include "cli/cli.h"
#include "harness/model_args.h"
#include "models/model.h"
#include "vocab/vocab.h"

/* Published figures (Kudugunta et al. 2021), in parameters; 0 = not given. */
typedef struct paper_row {
    const char *preset, *variant;
    double total, encoder, decoder, served_decoder;
} paper_row_t;

static const paper_row_t paper[] = {
    {"wmt-dense", "dense", 142e6, 19e6, 25e6, 0},
    {"wmt-dense", "student", 142e6, 19e6, 25e6, 0},
    {"wmt32e", "token-moe", 533e6, 214e6, 221e6, 0},
    {"wmt32e", "task-moe", 533e6, 214e6, 221e6, 0},
    {"web128e", "token-moe", 13e9, 0, 6.5e9, 0},
    {"web128e", "task-moe", 13e9, 0, 6.5e9, 201e6},
    {"web128e", "task-subnet", 0, 0, 0, 201e6},
};

static const paper_row_t *paper_for(const model_config_t *c)
{
    for (size_t i = 0; i < sizeof paper / sizeof paper[0]; i++)
        if (!strcmp(paper[i].preset, c->preset) && !strcmp(paper[i].variant, c->variant))
            return &paper[i];
    return NULL;
}

static void help(void)
{
    printf("usage: moebench info MODEL.safetensors [--json]\n"
           "       moebench info --preset P --variant V [options] [--json]\n\n"
           "Prints the config, parameter counts and memory of a model file (read from its header only)\n"
           "or of a preset (nothing is allocated, so even presets too big for this machine can be counted).\n"
           "Counting: every weight, bias and layer-norm parameter; the vocabulary is counted three times\n"
           "(source embedding, target embedding, output projection, untied as in the paper's 142M); served\n"
           "per task keeps only the top-k experts of each task-routed layer; active per token counts top-k\n"
           "experts per MoE layer.\n\n"
           "%s"
           "  --json                one JSON object: params_total, params_encoder, params_decoder,\n"
           "                        params_embedding, params_per_task_served (+ _encoder, _decoder),\n"
           "                        params_active_per_token, bytes (fp32), bytes_bf16, fits_in_memory,\n"
           "                        memory_limit, and the config\n\n%s",
           MODEL_ARGS_HELP, CLI_EXIT_HELP);
}

static void row(const char *name, uint64_t ours, double theirs, const char *note)
{
    char p[24] = "-", o[24];
    if (theirs > 0)
        snprintf(p, sizeof p, theirs >= 1e9 ? "%.3gB" : "%.3gM", theirs >= 1e9 ? theirs / 1e9 : theirs / 1e6);
    if (ours >= 1000000000u)
        snprintf(o, sizeof o, "%.2fB", (double)ours / 1e9);
    else
        snprintf(o, sizeof o, "%.2fM", (double)ours / 1e6);
    printf("  %-18s %10s %8s  %s\n", name, o, p, note);
}

static void print_human(const model_config_t *c, const model_counts_t *k, const char *source)
{
    const paper_row_t *p = paper_for(c);
    printf("model      %s / %s (%s)\n", c->preset, c->variant, source);
    printf("shape      %d+%d layers, d_model %d, d_ff %d, %d heads, vocab %d\n", c->enc_layers, c->dec_layers,
           c->d_model, c->d_ff, c->n_heads, c->vocab);
    if (k->moe_layers[0] + k->moe_layers[1])
        printf("moe        %d experts, top-%d, 1 FFN in %d: %d encoder + %d decoder MoE layers, "
               "trained with capacity factor %g%s\n", c->n_experts, c->top_k, c->moe_every, k->moe_layers[0],
               k->moe_layers[1], (double)c->capacity_factor, c->capacity_factor == 0 ? " (unlimited)" : "");
    printf("routing    encoder %s, decoder %s; task key %s\n", model_route_name(c->routing[0]),
           model_route_name(c->routing[1]), model_key_name(c->task_key));
    printf("tasks      ");
    for (int t = 0; t < c->n_tasks; t++)
        printf("%s%s", t ? "," : "", c->tasks[t]);
    if (c->subnet_key >= 0)
        printf("  (sub-network: serves %s %s only)", model_key_name(c->task_key), c->keys[c->subnet_key]);
    printf("\n\nparameters                 ours    paper\n");
    row("total", k->total, p ? p->total : 0, "");
    row("embeddings", k->embedding, 0,
        c->tie_embed ? "vocab x d_model: one table, tied (source, target, output projection)"
                     : "3 x vocab x d_model: source, target, output projection");
    row("encoder", k->encoder, p ? p->encoder : 0, "");
    row("decoder", k->decoder, p ? p->decoder : 0, "");
    row("served per task", k->served_total, 0, "what serving one task loads");
    row("  of it decoder", k->served_decoder, p ? p->served_decoder : 0, "");
    row("active per token", k->active_per_token, 0, "top-k experts per MoE layer");
    char a[32], b[32], l[32];
    uint64_t limit = mb_mem_limit();
    printf("\nmemory     weights %s in fp32, %s in bf16; this machine allows %s: %s\n",
           mb_human_bytes(k->total * 4, a, sizeof a), mb_human_bytes(k->total * 2, b, sizeof b),
           mb_human_bytes(limit, l, sizeof l), k->total * 4 <= limit ? "fits" : "does NOT fit (init/load refuse)");
}

/* The vocabulary line(s) of a model file. */
static void print_vocab(const vocab_t *v)
{
    if (!v) {
        printf("vocabulary none: token ids in and out (make one with 'moebench vocab train', then "
               "'moebench init --vocab')\n");
        return;
    }
    printf("vocabulary SentencePiece %s, %d pieces%s; tags", vocab_type(v), vocab_size(v),
           vocab_byte_fallback(v) ? " (byte fallback)" : "");
    for (int i = 0; i < vocab_n_tags(v); i++)
        printf(" <2%s> %d", vocab_tag_lang(v, i), MODEL_FIRST_TAG + i);
    printf("\n");
}

static void print_json(const model_config_t *c, const model_counts_t *k, const vocab_t *v)
{
    cJSON *o = cJSON_CreateObject(), *cfg = cJSON_CreateObject();
    if (v) {
        cJSON *vj = cJSON_AddObjectToObject(o, "vocabulary"), *tags = cJSON_AddArrayToObject(vj, "tags");
        cJSON_AddStringToObject(vj, "type", vocab_type(v));
        cJSON_AddNumberToObject(vj, "size", vocab_size(v));
        for (int i = 0; i < vocab_n_tags(v); i++)
            cJSON_AddItemToArray(tags, cJSON_CreateString(vocab_tag_lang(v, i)));
    }
    cJSON_AddNumberToObject(o, "params_total", (double)k->total);
    cJSON_AddNumberToObject(o, "params_embedding", (double)k->embedding);
    cJSON_AddNumberToObject(o, "params_encoder", (double)k->encoder);
    cJSON_AddNumberToObject(o, "params_decoder", (double)k->decoder);
    cJSON_AddNumberToObject(o, "params_per_task_served", (double)k->served_total);
    cJSON_AddNumberToObject(o, "params_per_task_served_encoder", (double)k->served_encoder);
    cJSON_AddNumberToObject(o, "params_per_task_served_decoder", (double)k->served_decoder);
    cJSON_AddNumberToObject(o, "params_active_per_token", (double)k->active_per_token);
    cJSON_AddNumberToObject(o, "bytes", (double)k->total * 4);
    cJSON_AddNumberToObject(o, "bytes_bf16", (double)k->total * 2);
    cJSON_AddNumberToObject(o, "memory_limit", (double)mb_mem_limit());
    cJSON_AddBoolToObject(o, "fits_in_memory", k->total * 4 <= mb_mem_limit());
    model_meta_t meta;
    model_config_to_meta(c, &meta);
    for (int i = 0; i < meta.n; i++)
        cJSON_AddStringToObject(cfg, meta.key[i], meta.value[i]);
    cJSON_AddItemToObject(o, "config", cfg);
    char *s = cJSON_PrintUnformatted(o);
    printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {MODEL_ARGS_LONGOPTS, {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    model_args_t a;
    model_args_init(&a);
    int json = 0, described = 0, c;
    mb_error_t err;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int r = model_args_parse(&a, c, optarg, &err);
        if (r < 0)
            return cli_usage(&err);
        if (r > 0) {
            described = 1;
            continue;
        }
        switch (c) {
        case 'j': json = 1; break;
        case 'h': help(); return 0;
        default: return cli_bad_option("info", c, argv, optind, optopt);
        }
    }
    model_config_t cfg;
    const char *source = "preset";
    vocab_t *voc = NULL;
    if (optind < argc) {
        if (described || optind != argc - 1)
            return cli_usagef("info: give either one model file or --preset/--variant, not both");
        source = argv[optind];
        uint8_t *blob = NULL;
        size_t len = 0;
        if (model_load_config(source, &cfg, &err) || model_load_vocab(source, &blob, &len, &err) ||
            (blob && vocab_for_config(blob, len, &cfg, source, &voc, &err))) {
            free(blob);
            return cli_error(&err);
        }
        free(blob);
    } else if (model_args_config(&a, &cfg, &err)) {
        return cli_usage(&err);
    }
    model_counts_t k;
    if (model_count(&cfg, &k, &err)) {
        vocab_free(voc);
        return cli_error(&err);
    }
    if (json)
        print_json(&cfg, &k, voc);
    else
        print_human(&cfg, &k, source);
    if (!json && strcmp(source, "preset"))
        print_vocab(voc);
    vocab_free(voc);
    return 0;
}
