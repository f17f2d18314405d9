/* cmd_extract: `moebench extract`: a task's sub-network as a stand-alone model file. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "common/mb_file.h"
#include "models/extract.h"
#include "vocab/vocab.h"

static void help(void)
{
    printf("usage: moebench extract MODEL.safetensors --task T -o SUB.safetensors\n\n"
           "Keeps, in each task-routed MoE layer, only the top-k experts task T routes to, with their\n"
           "gate weights fixed; other layers are copied. T is a task (en-de) or a task-key value (de).\n"
           "The sub-network refuses tasks with another key. The gate is evaluated by the ref backend.\n\n"
           "  --task T              the task to serve\n"
           "  -o, --output FILE     where to write the sub-network\n\n"
           "%s",
           CLI_EXIT_HELP);
}

int cmd_extract(int argc, char **argv)
{
    static const struct option opts[] = {{"task", required_argument, 0, 't'},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *task = NULL, *out = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":t:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': task = optarg; break;
        case 'o': out = optarg; break;
        case 'h': help(); return 0;
        default: return cli_bad_option("extract", c, argv, optind, optopt);
        }
    }
    if (optind != argc - 1)
        return cli_usagef("extract: give exactly one model file; see 'moebench extract --help'");
    if (!task || !out)
        return cli_usagef("extract: both --task T and -o SUB.safetensors are needed");
    mb_error_t err;
    if (mb_output_check(out, "model file", &err))
        return cli_error(&err);
    model_t *full, *sub;
    be_t be;
    be_options_t bo = {1, BE_PRECISION_FP32};
    if (model_load(argv[optind], &full, &err))
        return cli_error(&err);
    vocab_t *voc = NULL; /* checked, so a bad vocabulary is not copied into a new file */
    if (full->vocab_blob &&
        vocab_for_config(full->vocab_blob, full->vocab_len, &full->cfg, argv[optind], &voc, &err)) {
        model_free(full);
        return cli_error(&err);
    }
    vocab_free(voc);
    if (be_open("ref", &bo, &be, &err) || model_extract(full, &be, task, &sub, &err)) {
        model_free(full);
        return cli_error(&err);
    }
    int rc = model_save(sub, out, &err);
    if (rc == 0)
        fprintf(stderr, "moebench: wrote %s (sub-network for %s %s: %.2f M of %.2f M parameters)\n", out,
                model_key_name(sub->cfg.task_key), sub->cfg.keys[sub->cfg.subnet_key],
                (double)sub->n_params / 1e6, (double)full->n_params / 1e6);
    be_close(&be);
    model_free(sub);
    model_free(full);
    return rc ? cli_error(&err) : 0;
}
