/* cli: shared command-line helpers (see cli.h). */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/mb_text.h"

/* Messages quote file names and cells from files: control characters in
 * them are shown escaped, so an error is always one line on the terminal. */
int cli_error(const mb_error_t *err)
{
    char safe[2048];
    fprintf(stderr, "moebench: %s\n", mb_text_escape(safe, sizeof safe, err->msg, 0));
    return 1;
}

int cli_errorf(const char *fmt, ...)
{
    mb_error_t e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    return cli_error(&e);
}

int cli_usage(const mb_error_t *err)
{
    fprintf(stderr, "moebench: %s\n", err->msg);
    return 2;
}

int cli_usagef(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("moebench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

int cli_bad_option(const char *cmd, int c, char **argv, int optind, int optopt)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        fprintf(stderr, "moebench: %s: option '%s' needs a value; see 'moebench %s --help'\n", cmd, arg, cmd);
    else if (optopt)
        fprintf(stderr, "moebench: %s: unknown option '-%c'; see 'moebench %s --help'\n", cmd, optopt, cmd);
    else
        fprintf(stderr, "moebench: %s: unknown option '%s'; see 'moebench %s --help'\n", cmd, arg, cmd);
    return 2;
}
