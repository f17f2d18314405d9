/* main: the moebench program: finds the subcommand and runs it.
 * Subcommands live one per file (cli/cmd_*.c); this file only lists them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/mb_text.h"
#include "common/version.h"

static const cli_command_t commands[] = {
    {"init", "create a model file from a preset with random weights", cmd_init},
    {"info", "parameter counts and memory of a model file or preset", cmd_info},
    {"extract", "cut a task's sub-network out of a task-moe model", cmd_extract},
    {"export", "write a model as a CTranslate2 model directory (same weights, same outputs)", cmd_export},
    {"translate", "translate sentences (text, or token ids) with a model", cmd_translate},
    {"vocab", "train a SentencePiece vocabulary; text <-> pieces or ids", cmd_vocab},
    {"backends", "list the compute backends compiled in", cmd_backends},
    {"kernels", "time a backend's kernels against this machine's limits", cmd_kernels},
    {"run", "run a scenario file and write its results CSV", cmd_run},
    {"bleu", "BLEU and chrF of hypotheses against references (sacreBLEU-compatible)", cmd_bleu},
    {"compare", "compare two results CSVs: regression verdicts for CI", cmd_compare},
    {"report", "REPORT.md and figures from results CSVs (tables in the paper's layout)", cmd_report},
    {"train", "train a model of any variant on a multi-way corpus (or --bench its speed)", cmd_train},
    {"distill", "distil a teacher into a dense student (its beam translations as targets)", cmd_distill},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: moebench SUBCOMMAND [options]   (moebench SUBCOMMAND --help for details)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n  --version  print the version\n  --help     this text\n\n"
               "Errors are one line on stderr, `moebench: WHERE: what is wrong; how to fix`. Exit status:\n"
               "0 ok, 1 runtime error (a file that cannot be read or written, a failed computation),\n"
               "2 bad usage (unknown subcommand or option, bad option value); `compare` returns 1 for a\n"
               "regression and 2 for any error; `run` returns 130 when interrupted.\n");
}

/* Every command's output must have reached its destination: a full disk or
 * a closed pipe behind stdout would otherwise end in exit status 0 with a
 * short or empty result. Checked once here, after the command returns. */
static int stdout_written(const char *cmd, int rc)
{
    errno = 0;
    int bad = fflush(stdout) != 0;
    int e = errno;
    bad |= ferror(stdout) != 0;
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad)
        return rc;
    if (rc == 0) /* a command that already failed has said why */
        fprintf(stderr, "moebench: %s: cannot write the output to standard output: %s; check the disk space or "
                        "where the output is redirected\n", cmd, e ? strerror(e) : "write error");
    return rc ? rc : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "moebench: no subcommand given; see 'moebench --help' for the list\n");
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return stdout_written("--help", 0);
    }
    if (!strcmp(argv[1], "--version")) {
        printf("moebench %s\n", MOEBENCH_VERSION);
        return stdout_written("--version", 0);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return stdout_written(commands[i].name, commands[i].run(argc - 1, argv + 1));
    fprintf(stderr, "moebench: unknown subcommand '%s'; see 'moebench --help'\n", mb_term(argv[1]));
    return 2;
}
