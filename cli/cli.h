/* cli: what the subcommands of the moebench program share: the table of
 * subcommands, option parsing helpers and the error printing convention.
 * Each subcommand lives in its own harness/cmd_*.c and is listed in main.c. */
#ifndef CLI_H
#define CLI_H

#include "common/mb_error.h"

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} cli_command_t;

/* The exit-status paragraph every subcommand's --help ends with. */
#define CLI_EXIT_HELP                                                                                       \
    "Exit status: 0 ok, 1 runtime error (a file that cannot be read or written, a failed computation),\n"  \
    "2 bad usage (unknown option, bad option value, missing or extra argument).\n"

/* Prints "moebench: <msg>" on stderr and returns the exit status 1. */
int cli_error(const mb_error_t *err);
/* printf-style variant for errors found by the command line itself. */
int cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for usage errors (a bad option value, a missing argument, an
 * unknown name): exit status 2, as for an unknown option. Runtime errors
 * (a file that cannot be read, a failed measurement) use cli_error: 1. */
int cli_usage(const mb_error_t *err);
int cli_usagef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* getopt_long's '?' or ':' (optstring starts with ':' and opterr = 0) as one
 * line naming the option and pointing at --help; returns exit status 2. */
int cli_bad_option(const char *cmd, int c, char **argv, int optind, int optopt);

/* Subcommands (one file each). */
int cmd_init(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_translate(int argc, char **argv);
int cmd_backends(int argc, char **argv);
int cmd_kernels(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bleu(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_compare_run(int argc, char **argv); /* compare --run */
int cmd_report(int argc, char **argv);
int cmd_vocab(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_distill(int argc, char **argv);

#endif
