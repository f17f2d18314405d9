/* cmd_run: `moebench run`: a scenario file in, a results CSV out. */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "backends/libinfo.h"
#include "common/mb_parse.h"
#include "cli/cli.h"
#include "harness/runner.h"
#include "harness/scenario.h"

static void help(void)
{
    printf("usage: moebench run SCENARIO.ini [options]\n\n"
           "Runs every variant x backend x precision x threads x task x mode of the scenario and writes\n"
           "one CSV row per measured repetition to DIR/<scenario name>.csv (see results/README.md).\n"
           "Progress goes to stderr. Ctrl-C, SIGTERM or SIGHUP stops after keeping the complete rows\n"
           "(exit status 128 + the signal: 130, 143, 129).\n\n"
           "  --backend B           run only backend B (overrides [measure] backends); auto: the one measured\n"
           "                        fastest here, recorded under its own name\n"
           "  --threads N           run only with N threads (overrides [measure] threads)\n"
           "  --variants LIST       run only these of the scenario's variants, e.g. task-subnet,student\n"
           "                        (to finish or repeat part of a long scenario)\n"
           "  --out DIR             folder for the CSV (default results)\n"
           "  -o, --output FILE     write exactly this CSV file\n"
           "  --quick               fewer sentences per task (8, or the largest batch size when larger,\n"
           "                        so every batch size stays a different workload), no warm-up, one\n"
           "                        repetition\n"
           "  --list                print the plan (every run, in order, with a rough time estimate)\n"
           "                        and what was left out and why; measure nothing\n"
           "  --keep-hypotheses DIR write the translations of each configuration (models with a vocabulary\n"
           "                        on real data) to DIR/<scenario>.<variant>.<backend>.<precision>.t<N>.\n"
           "                        <task>.<mode>.b<batch>.txt, one line per sentence\n"
           "  --count-instructions  run under valgrind's callgrind, counting the instructions of each\n"
           "                        measured region exactly (column callgrind_ir); for CI on machines\n"
           "                        without hardware counters. About 50x slower: use a small scenario\n"
           "                        such as scenarios/ci-regression.ini\n"
           "  --no-check-finite     load model files ([model] files) even when a weight is NaN or\n"
           "                        infinite (refused by default: such a model decodes garbage)\n"
           
           "Scenario keys: scenarios/README.md.\n\n"
           "Exit status: 0 ok, 1 runtime error (unreadable scenario or data, a failed measurement; the\n"
           "complete rows are kept), 2 bad usage (unknown option, bad option value), 128 + N stopped by\n"
           "signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP; the complete rows are kept).\n");
}

/* --count-instructions: this same command again, inside callgrind with
 * collection off (the runner switches it on around measured regions). */
static int rerun_under_callgrind(int argc, char **argv)
{
    char dir[] = "/tmp/moebench-callgrind-XXXXXX", out[64], self[4096];
    if (!mkdtemp(dir))
        return cli_errorf("run: cannot make a folder for callgrind's files: %s", strerror(errno));
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return cli_errorf("run: cannot find this program's path: %s", strerror(errno));
    self[n] = '\0';
    snprintf(out, sizeof out, "--callgrind-out-file=%s/cg.out", dir);
    char **args = calloc((size_t)argc + 8, sizeof *args);
    int k = 0;
    args[k++] = "valgrind";
    args[k++] = "--tool=callgrind";
    args[k++] = "--collect-atstart=no";
    args[k++] = "-q";
    args[k++] = out;
    args[k++] = self;
    for (int i = 0; i < argc; i++) /* argv[0] is "run" */
        args[k++] = argv[i];
    setenv("MOEBENCH_CALLGRIND_DIR", dir, 1);
    /* valgrind shows OpenBLAS another CPU (it picks Haswell on a Zen): pin the
     * core chosen here so that the counted code is the timed code */
    const char *core = libinfo_callgrind_core();
    if (core) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        fprintf(stderr, "moebench: OPENBLAS_CORETYPE=%s (the core OpenBLAS chose natively)\n", core);
    }
    fprintf(stderr, "moebench: counting instructions under callgrind (slow)\n");
    pid_t pid = fork();
    if (pid == 0) {
        execvp("valgrind", args);
        fprintf(stderr, "moebench: run: --count-instructions needs valgrind (Debian package valgrind): %s\n",
                strerror(errno));
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        status = 1 << 8;
    free(args);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "moebench: could not remove %s\n", dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* --variants: keeps the scenario's variants named in `list` (comma-separated),
 * in the scenario's order; a name the scenario lacks is a usage error. */
static int keep_variants(scn_t *s, const char *path, const char *list)
{
    int keep[8] = {0};
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *it = strtok_r(buf, ", ", &save); it; it = strtok_r(NULL, ", ", &save)) {
        int found = 0;
        for (int i = 0; i < s->n_variants; i++)
            if (!strcmp(s->variants[i], it))
                keep[i] = found = 1;
        if (!found) {
            char have[200] = "";
            for (int i = 0; i < s->n_variants; i++)
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", i ? ", " : "", s->variants[i]);
            cli_usagef("run: --variants: '%s' is not a variant of %s (it has: %s); name some of those", it, path,
                       have);
            return -1;
        }
    }
    int n = 0;
    for (int i = 0; i < s->n_variants; i++)
        if (keep[i])
            memmove(s->variants[n++], s->variants[i], sizeof s->variants[i]);
    if (!n) {
        cli_usagef("run: --variants: the list is empty; name some of the scenario's variants");
        return -1;
    }
    s->n_variants = n;
    return 0;
}

static const char *sig_name(int sig)
{
    return sig == SIGINT ? "SIGINT (Ctrl-C)" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "a signal";
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"backend", required_argument, 0, 'b'}, {"threads", required_argument, 0, 't'},
                                         {"out", required_argument, 0, 'd'},     {"output", required_argument, 0, 'o'},
                                         {"quick", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
                                         {"count-instructions", no_argument, 0, 'I'}, {"list", no_argument, 0, 'L'},
                                         {"dry-run", no_argument, 0, 'L'},
                                         {"keep-hypotheses", required_argument, 0, 'k'},
                                         {"no-check-finite", no_argument, 0, 'F'},
                                         {"variants", required_argument, 0, 'V'}, {0, 0, 0, 0}};
    const char *only = NULL;
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
            if (mb_parse_long("--threads", optarg, 1, 1024, &threads, &err))
                return cli_usage(&err);
            ro.threads = (int)threads;
            break;
        case 'd': ro.out_dir = optarg; break;
        case 'o': ro.out_file = optarg; break;
        case 'q': ro.quick = 1; break;
        case 'I': ro.count_instructions = 1; break;
        case 'L': ro.list = 1; break;
        case 'k': ro.keep_hyps = optarg; break;
        case 'F': ro.no_check_finite = 1; break;
        case 'V': only = optarg; break;
        case 'h': help(); return 0;
        default: return cli_bad_option("run", c, argv, optind, optopt);
        }
    }
    if (optind != argc - 1)
        return cli_usagef("run: give exactly one scenario file; see 'moebench run --help'");
    scn_t s;
    if (scn_load(argv[optind], &s, &err))
        return cli_error(&err);
    if (only && keep_variants(&s, argv[optind], only))
        return 2;
    if (ro.keep_hyps && mkdir(ro.keep_hyps, 0777) != 0 && errno != EEXIST)
        return cli_errorf("run: --keep-hypotheses %s: cannot create the folder: %s", ro.keep_hyps, strerror(errno));
    if (ro.count_instructions && !ro.list && !RUNNING_ON_VALGRIND)
        return rerun_under_callgrind(argc, argv);
    char csv[1024];
    int rc = runner_run(&s, &ro, csv, sizeof csv, &err);
    if (rc < 0)
        return cli_error(&err);
    if (ro.list)
        return 0;
    if (rc > 128)
        fprintf(stderr, "moebench: run: stopped by %s; the complete results are in %s\n", sig_name(rc - 128), csv);
    else
        fprintf(stderr, "moebench: wrote results in %s\n", csv);
    return rc;
}
