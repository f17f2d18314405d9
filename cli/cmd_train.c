/* cmd_train: `moebench train`: trains a model of any variant on a multi-way
 * corpus (train/), with checkpoints, --resume, validation, a curve CSV and
 * progress on stderr; `--bench` measures training speed instead. The run
 * itself is cli/train_run.c, which `moebench distill` shares. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/train_run.h"
#include "harness/model_args.h"

static void help(void)
{
    printf("usage: moebench train [model options] --train PATTERN [options] -o MODEL.safetensors\n"
           "       moebench train --resume MODEL.ckpt.safetensors --train PATTERN [options] -o MODEL.safetensors\n"
           "       moebench train --bench [model options] [--batch-tokens N] [--backend B]\n\n"
           "Trains a model (any variant of 'init') on a multi-way corpus: one file per language,\n"
           "aligned line by line, plain or gzip. docs/training.md describes it all.\n\n"
           "Model (ignored with --resume; default --preset train-small --variant dense):\n%s\n%s"
           "  --init-from MODEL     start from MODEL's weights where they fit (docs/training.md:\n"
           "                        non-expert weights copied, an MoE layer's FFN the mean of its experts)\n"
           "  --bench               measure tokens per CPU-second and model FLOP/s against the\n"
           "                        backend's GEMM rate at the same shapes; --bench-steps N (default 5)\n",
           MODEL_ARGS_HELP, TRAIN_OPTS_HELP);
}

static int parse(int argc, char **argv, model_args_t *ma, targs_t *a, mb_error_t *err)
{
    static const struct option opts[] = {
        MODEL_ARGS_LONGOPTS, TRAIN_LONGOPTS, {"init-from", 1, 0, O_INITFROM}, {"bench", 0, 0, O_BENCH},
        {"bench-steps", 1, 0, O_BSTEPS}, {"output", 1, 0, 'o'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        int r = model_args_parse(ma, c, optarg, err);
        if (r == 0)
            r = train_parse_opt(a, c, optarg, err);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        switch (c) {
        case 'o': a->out = optarg; break;
        case 'h': help(); return 1;
        default: cli_bad_option("train", c, argv, optind, optopt); return 2; /* it printed the message */
        }
    }
    if (optind < argc)
        return mb_fail(err, "train: unexpected argument '%s'; see 'moebench train --help'", argv[optind]);
    return 0;
}

int cmd_train(int argc, char **argv)
{
    model_args_t ma;
    model_args_init(&ma);
    ma.preset = "train-small";
    targs_t a;
    train_defaults(&a);
    mb_error_t err;
    int r = parse(argc, argv, &ma, &a, &err);
    if (r == 1)
        return 0; /* --help */
    if (r == 2)
        return 2;
    if (r < 0)
        return cli_error(&err);
    if (a.init_from && a.resume)
        return cli_usagef("train: --init-from starts a new run; a --resume continues from its checkpoint's weights");
    int rc = train_run(&ma, &a, NULL, &err);
    if (rc < 0)
        return cli_error(&err);
    return rc;
}
