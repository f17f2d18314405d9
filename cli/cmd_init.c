/* cmd_init: `moebench init`: a model file from a preset with random weights. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/mb_parse.h"
#include "common/mb_mem.h"
#include "cli/cli.h"
#include "common/mb_file.h"
#include "harness/model_args.h"
#include "models/model.h"
#include "vocab/vocab.h"

static void help(void)
{
    printf("usage: moebench init --preset P --variant V [options] -o MODEL.safetensors\n\n"
           "Creates a model with deterministic random weights (the same --seed gives the same file).\n\n"
           "%s"
           "  --vocab FILE.model    a SentencePiece vocabulary ('moebench vocab train'): the model's vocabulary\n"
           "                        size becomes its size and the file carries it (text in and out); it must\n"
           "                        tag every language of --tasks. (--vocab N only sets the size.)\n"
           "  --seed N              random seed (default 1)\n"
           "  -o, --output FILE     where to write the model (written to a temporary file, then renamed)\n\n%s",
           MODEL_ARGS_HELP, CLI_EXIT_HELP);
}

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        MODEL_ARGS_LONGOPTS, {"seed", required_argument, 0, 's'}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    model_args_t a;
    model_args_init(&a);
    const char *out = NULL;
    long seed = 1;
    mb_error_t err;
    int c;
    opterr = 0;
    optind = 1;
    const char *vocab_file = NULL;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        /* --vocab is a size for every model option user; here it may also be a file */
        if (c == MODEL_ARGS_BASE + 11 && optarg[strspn(optarg, "0123456789")] != '\0') {
            vocab_file = optarg;
            continue;
        }
        int r = model_args_parse(&a, c, optarg, &err);
        if (r < 0)
            return cli_usage(&err);
        if (r > 0)
            continue;
        switch (c) {
        case 's':
            if (mb_parse_long("--seed", optarg, 0, 0x7fffffffL, &seed, &err))
                return cli_usage(&err);
            break;
        case 'o': out = optarg; break;
        case 'h': help(); return 0;
        default: return cli_bad_option("init", c, argv, optind, optopt);
        }
    }
    if (optind < argc)
        return cli_usagef("init: unexpected argument '%s'; see 'moebench init --help'", argv[optind]);
    if (!out)
        return cli_usagef("init: no output file; add -o MODEL.safetensors");
    if (!strcmp(a.variant, "task-subnet"))
        return cli_usagef("init: a task-subnet is cut from a task-moe model: run 'moebench init --variant "
                          "task-moe ...' then 'moebench extract MODEL --task T -o SUB'");
    if (mb_output_check(out, "model file", &err))
        return cli_error(&err);
    model_config_t cfg;
    model_t *m;
    vocab_t *voc = NULL;
    if (vocab_file) {
        if (vocab_load(vocab_file, &voc, &err))
            return cli_error(&err);
        a.vocab = vocab_size(voc);
    }
    if (model_args_config(&a, &cfg, &err)) { /* an unknown preset, a bad shape: the options are wrong */
        vocab_free(voc);
        return cli_usage(&err);
    }
    if ((voc && vocab_check_config(voc, &cfg, vocab_file, &err)) || model_create(&cfg, &m, &err)) {
        vocab_free(voc);
        return cli_error(&err);
    }
    model_init_random(m, (uint64_t)seed);
    if (voc) {
        const void *blob;
        size_t len;
        vocab_blob(voc, &blob, &len);
        int bad = model_set_vocab(m, blob, len, &err);
        vocab_free(voc);
        if (bad) {
            model_free(m);
            return cli_error(&err);
        }
    }
    int rc = model_save(m, out, &err);
    if (rc == 0) {
        char size[32];
        fprintf(stderr, "moebench: wrote %s (%s/%s, %.2f M parameters, %s%s%s)\n", out, cfg.preset, cfg.variant,
                (double)m->n_params / 1e6, mb_human_bytes(m->n_params * 4, size, sizeof size),
                vocab_file ? ", vocabulary " : "", vocab_file ? vocab_file : "");
    }
    model_free(m);
    return rc ? cli_error(&err) : 0;
}
