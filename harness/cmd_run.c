/* cmd_run: `moebench run`: a scenario file in, a results CSV out. */
#include <getopt.h>
#include <stdio.h>

#include "harness/cli.h"
#include "harness/runner.h"
#include "harness/scenario.h"

static void help(void)
{
    printf("usage: moebench run SCENARIO.ini [options]\n\n"
           "Runs every variant x backend x precision x threads x task x mode of the scenario and writes\n"
           "one CSV row per measured repetition to DIR/<scenario name>.csv (see results/README.md).\n"
           "Progress goes to stderr. Ctrl-C stops after keeping the complete rows (exit status 130).\n\n"
           "  --backend B           run only backend B (overrides [measure] backends)\n"
           "  --threads N           run only with N threads (overrides [measure] threads)\n"
           "  --out DIR             folder for the CSV (default results)\n"
           "  -o, --output FILE     write exactly this CSV file\n"
           "  --quick               at most 8 sentences per task, no warm-up, one repetition\n"
           "Scenario keys: scenarios/README.md.\n");
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"backend", required_argument, 0, 'b'}, {"threads", required_argument, 0, 't'},
                                         {"out", required_argument, 0, 'd'},     {"output", required_argument, 0, 'o'},
                                         {"quick", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    run_opts_t ro = {0};
    mb_error_t err;
    long threads;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': ro.backend = optarg; break;
        case 't':
            if (cli_int("--threads", optarg, 1, 1024, &threads, &err))
                return cli_error(&err);
            ro.threads = (int)threads;
            break;
        case 'd': ro.out_dir = optarg; break;
        case 'o': ro.out_file = optarg; break;
        case 'q': ro.quick = 1; break;
        case 'h': help(); return 0;
        default: return cli_bad_option("run", c, argv, optind, optopt);
        }
    }
    if (optind != argc - 1)
        return cli_errorf("run: give exactly one scenario file; see 'moebench run --help'");
    scn_t s;
    if (scn_load(argv[optind], &s, &err))
        return cli_error(&err);
    char csv[1024];
    int rc = runner_run(&s, &ro, csv, sizeof csv, &err);
    if (rc < 0)
        return cli_error(&err);
    fprintf(stderr, "moebench: %s results in %s\n", rc == 130 ? "interrupted; the complete" : "wrote", csv);
    return rc;
}
