/* cmd_compare_run: `moebench compare --run BASE_BINARY NEW_BINARY SCENARIO.ini`:
 * an A/B comparison in one job, the way careful performance CI does it. The
 * two builds run alternately on this machine, in fresh processes, in the
 * order BASE NEW | NEW BASE | BASE NEW ... (ABBA: a linear drift of the
 * machine's speed hits both sides alike), each round running its share of
 * the scenario's repetitions; then the two concatenated files are judged
 * with the run as the unit (compare --unit run): one value per round, the
 * median of its repetitions, so the test sees the shifts between runs that
 * back-to-back repetitions hide. Owns running the rounds and building the
 * files; the verdicts are cmd_compare.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/mb_parse.h"
#include "harness/scenario.h"

/* Exact Mann-Whitney with 8 per side reaches p = 2/12870 = 1.6e-4, so 8 rounds
 * can pass Holm's first step (alpha/m) for m <= 64 tests at alpha 0.01:
 * ci-regression.ini has 4 configurations x 2 metrics = 8, which 7 rounds
 * would need (6 rounds: 2.2e-3 x 8 > 0.01). */
#define ROUNDS_DEFAULT 8

/* The compare options that take a value: passed through, and their value
 * must not be taken for a positional argument. */
static int takes_value(const char *opt)
{
    static const char *const v[] = {"--metric", "--threshold", "--ins-threshold", "--alpha", "--format",
                                    "--ignore-key", "--unit", "--min-rep-time"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!strcmp(opt, v[i]))
            return 1;
    return 0;
}

static int fail2(const char *fmt, const char *a, const char *b)
{
    fputs("moebench: compare --run: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 2;
}

/* SCENARIO with [measure] repetitions = reps (and min_time_s divided by the
 * rounds), written to path; every other line is kept as it is. */
static int write_round_scenario(const char *src, const char *path, int reps, int rounds, const scn_t *s)
{
    FILE *in = fopen(src, "r"), *out = in ? fopen(path, "w") : NULL;
    if (!in || !out) {
        if (in)
            fclose(in);
        return -1;
    }
    char line[4096], section[64] = "";
    int done = 0;
    while (fgets(line, sizeof line, in)) {
        const char *p = line + strspn(line, " \t");
        if (*p == '[') {
            if (!strcmp(section, "measure") && !done) {
                fprintf(out, "repetitions = %d\n", reps);
                done = 1;
            }
            snprintf(section, sizeof section, "%.*s", (int)strcspn(p + 1, "]"), p + 1);
        } else if (!strcmp(section, "measure") && !strncmp(p, "repetitions", 11) &&
                   strchr(" \t=", p[11])) {
            fprintf(out, "; compare --run: %d rounds share the scenario's %d repetitions\nrepetitions = %d\n",
                    rounds, s->repetitions, reps);
            done = 1;
            continue;
        } else if (!strcmp(section, "measure") && !strncmp(p, "min_time_s", 10) && strchr(" \t=", p[10])) {
            fprintf(out, "min_time_s = %g\n", s->min_time_s / rounds);
            continue;
        }
        fputs(line, out);
    }
    if (!done)
        fprintf(out, "%s\nrepetitions = %d\n", strcmp(section, "measure") ? "\n[measure]" : "", reps);
    fclose(in);
    return fclose(out) == 0 ? 0 : -1;
}

/* Runs `bin run scenario -o csv [--count-instructions]` with its output in
 * log; 0 when it exited 0. */
static int run_one(const char *bin, const char *scn, const char *csv, const char *log, int count, double *secs)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *l = freopen(log, "w", stderr);
        if (!l || dup2(2, 1) < 0)
            _exit(126);
        char *args[] = {(char *)bin, "run", (char *)scn, "-o", (char *)csv, count ? "--count-instructions" : NULL,
                        NULL};
        execv(bin, args);
        fprintf(stderr, "moebench: compare --run: cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The last non-empty line of a file, for an error message. */
static void last_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    char line[512];
    buf[0] = '\0';
    while (f && fgets(line, sizeof line, f))
        if (line[0] != '\n') {
            line[strcspn(line, "\n")] = '\0';
            snprintf(buf, len, "%s", line);
        }
    if (f)
        fclose(f);
}

/* Appends csv to out: all of it for the first file, without the header after. */
static int append_csv(FILE *out, const char *csv, int first)
{
    FILE *f = fopen(csv, "r");
    if (!f)
        return -1;
    char buf[8192];
    int skipping = !first;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        size_t i = 0;
        if (skipping) {
            while (i < n && buf[i] != '\n')
                i++;
            if (i == n)
                continue;
            i++;
            skipping = 0;
        }
        fwrite(buf + i, 1, n - i, out);
    }
    fclose(f);
    return 0;
}

int cmd_compare_run(int argc, char **argv)
{
    const char *pos[3] = {NULL, NULL, NULL}, *out_dir = "compare-run";
    long rounds = -1;
    int npos = 0, count = 0, has_metric = 0;
    char **pass = calloc((size_t)argc + 8, sizeof *pass);
    int np = 0;
    if (!pass)
        return fail2("out of memory%s%s", "", "");
    pass[np++] = argv[0];
    mb_error_t err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--run"))
            continue;
        if (!strcmp(a, "--rounds") || !strcmp(a, "--out")) {
            if (i + 1 >= argc) {
                free(pass);
                return fail2("option '%s' needs a value%s", a, "");
            }
            if (!strcmp(a, "--out"))
                out_dir = argv[++i];
            else if (mb_parse_long("--rounds", argv[++i], 1, 1000, &rounds, &err)) {
                free(pass);
                fprintf(stderr, "moebench: compare --run: %s\n", err.msg);
                return 2;
            }
        } else if (!strcmp(a, "--count-instructions")) {
            count = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            free(pass);
            char *h[] = {argv[0], "--help", NULL};
            return cmd_compare(2, h);
        } else if (a[0] == '-' && a[1]) {
            has_metric |= !strcmp(a, "--metric") || !strncmp(a, "--metric=", 9);
            pass[np++] = argv[i];
            if (takes_value(a) && i + 1 < argc)
                pass[np++] = argv[++i];
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            free(pass);
            return fail2("one argument too many: '%s'; give BASE_BINARY NEW_BINARY SCENARIO.ini%s", a, "");
        }
    }
    if (npos != 3) {
        free(pass);
        return fail2("needs BASE_BINARY NEW_BINARY SCENARIO.ini%s%s; see 'moebench compare --help'", "", "");
    }
    for (int i = 0; i < 2; i++)
        if (access(pos[i], X_OK) != 0) {
            int e = errno;
            free(pass);
            return fail2("%s: %s; give the path of a built moebench program", pos[i], strerror(e));
        }
    if (rounds < 0) /* instruction counts are the same every run: one round says it all */
        rounds = count ? 1 : ROUNDS_DEFAULT;
    scn_t s;
    if (scn_load(pos[2], &s, &err)) {
        free(pass);
        fprintf(stderr, "moebench: %s\n", err.msg);
        return 2;
    }
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        int e = errno;
        free(pass);
        return fail2("%s: cannot create the folder: %s", out_dir, strerror(e));
    }
    int reps = count ? 1 : (int)((s.repetitions + rounds - 1) / rounds);
    char scn[1100], csv[1100], log[1100], side_csv[2][1100], msg[512];
    snprintf(scn, sizeof scn, "%s/scenario.ini", out_dir);
    if (write_round_scenario(pos[2], scn, reps, (int)rounds, &s)) {
        free(pass);
        return fail2("%s: cannot write the scenario of a round: %s", scn, strerror(errno));
    }
    static const char *const side[2] = {"base", "new"};
    FILE *merged[2] = {NULL, NULL};
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        snprintf(side_csv[k], sizeof side_csv[k], "%s/%s.csv", out_dir, side[k]);
        if (!(merged[k] = fopen(side_csv[k], "w")))
            rc = fail2("%s: cannot create: %s", side_csv[k], strerror(errno));
    }
    fprintf(stderr, "moebench: compare --run: %ld rounds of %s, %d repetition%s per configuration each%s; "
                    "files in %s\n", rounds, pos[2], reps, reps == 1 ? "" : "s",
            count ? ", instruction counts (callgrind)" : "", out_dir);
    for (long r = 1; r <= rounds && !rc; r++) {
        double secs[2] = {0, 0};
        for (int j = 0; j < 2 && !rc; j++) {
            int k = (r % 2 == 1) ? j : 1 - j; /* ABBA: BASE first in odd rounds */
            snprintf(csv, sizeof csv, "%s/%s-r%02ld.csv", out_dir, side[k], r);
            snprintf(log, sizeof log, "%s/%s-r%02ld.log", out_dir, side[k], r);
            if (run_one(pos[k], scn, csv, log, count, &secs[k]) != 0) {
                last_line(log, msg, sizeof msg);
                fprintf(stderr, "moebench: compare --run: round %ld: %s failed (%s): %s\n", r, side[k], log,
                        msg[0] ? msg : "no output");
                rc = 2;
            } else if (append_csv(merged[k], csv, r == 1) != 0) {
                rc = fail2("%s: cannot read: %s", csv, strerror(errno));
            }
        }
        if (!rc)
            fprintf(stderr, "moebench: compare --run: round %ld/%ld done (BASE %.1f s, NEW %.1f s)\n", r, rounds,
                    secs[0], secs[1]);
    }
    for (int k = 0; k < 2; k++)
        if (merged[k] && fclose(merged[k]) != 0 && !rc)
            rc = fail2("%s: write failed: %s", side_csv[k], strerror(errno));
    if (rc) {
        free(pass);
        return rc;
    }
    pass[np++] = "--unit";
    pass[np++] = "run";
    if (count && !has_metric) { /* wall-clock under valgrind means little */
        pass[np++] = "--metric";
        pass[np++] = "callgrind_ir";
    }
    pass[np++] = side_csv[0];
    pass[np++] = side_csv[1];
    pass[np] = NULL;
    rc = cmd_compare(np, pass);
    free(pass);
    return rc;
}
