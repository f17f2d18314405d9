/* cmd_backends: `moebench backends`: the compute backends compiled in. */
#include <stdio.h>
#include <string.h>

#include "backends/auto.h"
#include "backends/backend.h"
#include "backends/fastops.h"
#include "backends/registry.h"
#include "cli/cli.h"

int cmd_backends(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: moebench backends\n\nLists the compiled-in backends, their library versions and the "
               "precisions each accepts on this CPU, the one --backend auto picks for fp32 (measured once, then\n"
               "cached; backends/auto.h says where) with the figures it went by, then the known backends this\n"
               "build left out and why.\n\n%s",
               CLI_EXIT_HELP);
        return 0;
    }
    if (argc > 1 && argv[1][0] == '-')
        return cli_usagef("backends: unknown option '%s'; see 'moebench backends --help'", argv[1]);
    if (argc > 1)
        return cli_usagef("backends: unexpected argument '%s'; see 'moebench backends --help'", argv[1]);
    mb_error_t env_err;
    if (fastops_isa_check(&env_err) != 0) {
        fprintf(stderr, "moebench: %s\n", env_err.msg);
        return 1;
    }
    printf("%-10s %-25s %s\n", "backend", "precisions", "library / summary");
    for (int i = 0; i < be_count(); i++) {
        const be_ops_t *ops = be_at(i);
        char prec[40] = "";
        be_precision_t ps[] = {BE_PRECISION_FP32, BE_PRECISION_BF16, BE_PRECISION_INT8, BE_PRECISION_INT8_ALL};
        for (int p = 0; p < 4; p++) {
            be_t be;
            be_options_t o = {0, ps[p]};
            if (be_open(ops->name, &o, &be, NULL) == 0) {
                snprintf(prec + strlen(prec), sizeof prec - strlen(prec), "%s%s", prec[0] ? "," : "",
                         be_precision_name(ps[p]));
                be_close(&be);
            }
        }
        be_t be;
        be_options_t o = {0, BE_PRECISION_FP32};
        const char *ver = "";
        mb_error_t oerr;
        if (be_open(ops->name, &o, &be, &oerr) == 0) {
            ver = ops->version ? ops->version(&be) : "";
            printf("%-10s %-25s %s: %s\n", ops->name, prec, ver, ops->summary);
            be_close(&be);
        } else
            printf("%-10s %-25s cannot open here: %s\n", ops->name, "-", oerr.msg);
    }
    /* what --backend auto picks here (fp32, default threads), and the figures it went by */
    be_auto_choice_t ch;
    mb_error_t err;
    char why[600];
    if (be_auto_choose(0, BE_PRECISION_FP32, &ch, &err) == 0) {
        be_auto_describe(&ch, why, sizeof why);
        printf("%-10s %-25s %s\n", "auto", "-", why);
        be_auto_describe_shapes(&ch, why, sizeof why);
        if (why[0])
            printf("%-10s %-25s %s\n", "", "", why);
    } else
        printf("%-10s %-25s %s\n", "auto", "-", err.msg);
    for (int i = 0; i < be_known_count(); i++) {
        const char *why = be_missing_reason(be_known_name(i));
        if (why)
            printf("%-10s %-25s not compiled in: %s\n", be_known_name(i), "-", why);
    }
    return 0;
}
