/* cmd_report: `moebench report RESULTS.csv... [-o REPORT.md] [--figures DIR]`:
 * reads results and kernel CSVs, aggregates them (report.c), writes the data
 * files the gnuplot scripts draw (report_dat.c), runs gnuplot when it is
 * installed, and writes REPORT.md (report_md.c). Without gnuplot the tables
 * are still written and stderr says which figures were skipped. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/mb_file.h"
#include "analysis/report.h"
#include "analysis/report_train.h"
#include "analysis/summary.h"
#include "common/mb_parse.h"

extern char **environ;

static void help(void)
{
    printf("usage: moebench report RESULTS.csv... [-o REPORT.md] [--figures DIR] [--plots DIR]\n\n"
           "Aggregates results CSVs of `moebench run` (and kernel CSVs of `moebench kernels --csv`, told apart\n"
           "by their header) into REPORT.md: machine and software, one table per scenario in the TaskMoE\n"
           "paper's layout (parameters, peak tokens/s over the offline batch sweep, speed-up over token-moe,\n"
           "single-stream latency p50/p99, BLEU), the paper's published figures beside ours, the figures, and\n"
           "the commands that made it. Repetitions of a configuration are summarised by their median and\n"
           "their spread (min-max).\n\n"
           "  -o, --output FILE   the report (default REPORT.md); written to FILE.tmp, then renamed\n"
           "  --figures DIR       where the figures (PNG and SVG) and their data files go\n"
           "                      (default: figures/ beside the report); created when missing\n"
           "  --plots DIR         the gnuplot scripts (default: $MOEBENCH_PLOTS, else plots/ beside the\n"
           "                      moebench program's folder, else ../share/moebench/plots from it (as\n"
           "                      `make install` puts them), else ./plots)\n"
           "  --summary           instead of the full report, the one-page vendor summary (default\n"
           "                      SUMMARY.md): the system description recorded beside each results CSV,\n"
           "                      the precisions measured and those the machine cannot run (and why),\n"
           "                      per backend and precision one headline table (peak tokens/s, time to\n"
           "                      first token, decode per token and tokens/s, the highest server rate\n"
           "                      meeting the p99 bound, peak RSS, weights, a validity verdict) and\n"
           "                      the throughput and latency figures\n"
           "  --min-duration S    summary: a row is valid when it ran at least S seconds (default 1)\n"
           "  --min-queries N     summary: ... and served at least N sentences (default 32), except a\n"
           "                      server probe that missed the bound (stopped early); no row may be\n"
           "                      starved (column starved; in older CSVs, outside server mode, less\n"
           "                      than half of threads x wall-clock in CPU time)\n"
           "  -h, --help          this text\n\n"
           "gnuplot is looked up on PATH; when it is missing the tables and data files are still written and\n"
           "the figures are listed as skipped. Exit status: 0 ok, 1 error (or a figure that gnuplot failed\n"
           "to draw; the report is still written), 2 bad usage.\n");
}

/* ---------------------------------------------------------------- paths */

static int mkdir_p(const char *dir, mb_error_t *err)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s", dir) >= sizeof p)
        return mb_fail(err, "%s: path too long", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) && errno != EEXIST)
            return mb_fail(err, "%s: cannot create: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0777) && errno != EEXIST)
        return mb_fail(err, "%s: cannot create: %s", p, strerror(errno));
    struct stat st;
    if (stat(p, &st) || !S_ISDIR(st.st_mode))
        return mb_fail(err, "%s: not a folder", p);
    return 0;
}

static void dirname_of(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, n, ".");
    else if (slash == path)
        snprintf(out, n, "/");
    else
        snprintf(out, n, "%.*s", (int)(slash - path), path);
}

static int split_path(char *p, char **parts, int max)
{
    int n = 0;
    char *save;
    for (char *t = strtok_r(p, "/", &save); t && n < max; t = strtok_r(NULL, "/", &save))
        parts[n++] = t;
    return n;
}

/* `to` relative to the folder `from` (both existing folders): "" when equal. */
static int relative_path(const char *from, const char *to, char *out, size_t n, mb_error_t *err)
{
    char a[PATH_MAX], b[PATH_MAX], *pa[256], *pb[256];
    if (!realpath(from, a))
        return mb_fail(err, "%s: %s", from, strerror(errno));
    if (!realpath(to, b))
        return mb_fail(err, "%s: %s", to, strerror(errno));
    int na = split_path(a, pa, 256), nb = split_path(b, pb, 256), k = 0;
    while (k < na && k < nb && !strcmp(pa[k], pb[k]))
        k++;
    size_t len = 0;
    out[0] = '\0';
    for (int i = k; i < na; i++)
        len += (size_t)snprintf(out + (len < n ? len : n), len < n ? n - len : 0, "%s..", len ? "/" : "");
    for (int i = k; i < nb; i++)
        len += (size_t)snprintf(out + (len < n ? len : n), len < n ? n - len : 0, "%s%s", len ? "/" : "", pb[i]);
    if (len >= n)
        return mb_fail(err, "%s: path too long", to);
    return 0;
}

/* The gnuplot scripts' folder: --plots, $MOEBENCH_PLOTS, <program>/../plots, ./plots. */
static void find_plots(const char *opt, char *out, size_t n)
{
    struct stat st;
    char exe[PATH_MAX], cand[PATH_MAX + 16];
    if (opt) {
        snprintf(out, n, "%s", opt);
        return;
    }
    const char *env = getenv("MOEBENCH_PLOTS");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return;
    }
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char real[PATH_MAX];
            char cwd[PATH_MAX];
            /* beside a build (build/../plots) or an installation (bin/../share/moebench/plots) */
            static const char *const rel[] = {"../plots", "../share/moebench/plots"};
            for (int i = 0; i < 2; i++) {
                if ((size_t)snprintf(cand, sizeof cand, "%s/%s/throughput.gp", exe, rel[i]) >= sizeof cand ||
                    stat(cand, &st) || (size_t)snprintf(cand, sizeof cand, "%s/%s", exe, rel[i]) >= sizeof cand)
                    continue;
                const char *p = realpath(cand, real) ? real : cand;
                size_t lc = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
                /* relative when under the current folder, so REPORT.md names no machine's paths */
                if (lc && !strncmp(p, cwd, lc) && p[lc] == '/')
                    p += lc + 1;
                if ((size_t)snprintf(out, n, "%s", p) < n)
                    return;
            }
        }
    }
    snprintf(out, n, "plots");
}

/* gnuplot's full path from PATH, or 0 when it is not there. */
static int find_gnuplot(char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len)
            snprintf(out, n, "%.*s/gnuplot", (int)len, path);
        else
            snprintf(out, n, "./gnuplot");
        struct stat st;
        if (!stat(out, &st) && S_ISREG(st.st_mode) && !access(out, X_OK))
            return 1;
        path += len + (end ? 1 : 0);
    }
    return 0;
}

/* ---------------------------------------------------------------- gnuplot */

/* Runs argv with stdout and stderr to `log` ("" = /dev/null); returns the exit status or -1. */
static int run_logged(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, *log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0666);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* "gnuplot 5.4 patchlevel 4", or NULL when it cannot be asked. */
static const char *gnuplot_version(const char *gp, const char *dir, char *out, size_t n)
{
    char log[PATH_MAX + 32];
    snprintf(log, sizeof log, "%s/.gnuplot-version.txt", dir);
    char *argv[] = {(char *)gp, "--version", NULL};
    const char *v = NULL;
    if (run_logged(argv, log) == 0) {
        FILE *f = fopen(log, "r");
        if (f && fgets(out, (int)n, f)) {
            out[strcspn(out, "\r\n")] = '\0';
            v = out;
        }
        if (f)
            fclose(f);
    }
    remove(log);
    return v;
}

/* A word for a shell: as is when plain, else in single quotes. */
static size_t shell_word(char *out, size_t n, const char *w)
{
    int plain = *w != '\0';
    for (const char *p = w; *p; p++)
        plain &= !!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%", *p);
    if (plain)
        return (size_t)snprintf(out, n, "%s", w);
    size_t len = 0;
    len += (size_t)snprintf(out, n, "'");
    for (const char *p = w; *p; p++)
        len += (size_t)snprintf(out + (len < n ? len : n), len < n ? n - len : 0, *p == '\'' ? "'\\''" : "%c",
                                *p);
    len += (size_t)snprintf(out + (len < n ? len : n), len < n ? n - len : 0, "'");
    return len;
}

static char *shell_line(char *const *argv, int argc)
{
    size_t n = 64;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) * 4 + 3;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++) {
        if (i)
            *p++ = ' ';
        p += shell_word(p, n - (size_t)(p - s), argv[i]);
    }
    *p = '\0';
    return s;
}

static int nonempty(const char *base, const char *ext)
{
    char p[REPORT_ARG_MAX + 8];
    snprintf(p, sizeof p, "%s.%s", base, ext);
    struct stat st;
    return !stat(p, &st) && st.st_size > 0;
}

/* Draws one figure; on failure sets fig->skipped from gnuplot's first message. */
static int draw(const char *gp, const char *plots, report_figure_t *fig, char **cmd_out)
{
    char script[PATH_MAX + 40], log[REPORT_ARG_MAX + 8];
    snprintf(script, sizeof script, "%s/%s", plots, fig->script);
    snprintf(log, sizeof log, "%s.log", fig->args[0]);
    char *argv[REPORT_FIG_ARGS + 4];
    int argc = 0;
    argv[argc++] = (char *)gp;
    argv[argc++] = "-c";
    argv[argc++] = script;
    for (int i = 0; i < fig->n_args; i++)
        argv[argc++] = fig->args[i];
    argv[argc] = NULL;
    argv[0] = "gnuplot";
    *cmd_out = shell_line(argv, argc);
    argv[0] = (char *)gp;
    int rc = run_logged(argv, log);
    if (rc == 0 && nonempty(fig->args[0], "png") && nonempty(fig->args[0], "svg")) {
        remove(log);
        return 0;
    }
    char first[160] = "";
    FILE *f = fopen(log, "r");
    while (f && fgets(first, sizeof first, f)) { /* the last non-blank line names the error */
        first[strcspn(first, "\r\n")] = '\0';
        if (strstr(first, "line") || strstr(first, "rror"))
            break;
    }
    if (f)
        fclose(f);
    snprintf(fig->skipped, sizeof fig->skipped, "gnuplot failed (status %d%s%.100s; see %.60s.log)", rc,
             *first ? ": " : "", first, fig->name);
    return -1;
}

/* ---------------------------------------------------------------- command */

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"figures", required_argument, 0, 'F'},
                                         {"plots", required_argument, 0, 'P'},
                                         {"help", no_argument, 0, 'h'},
                                         {"summary", no_argument, 0, 'S'},
                                         {"min-duration", required_argument, 0, 'D'},
                                         {"min-queries", required_argument, 0, 'Q'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *figdir = NULL, *plots_opt = NULL;
    int c, summary = 0;
    summary_opts_t so = {1.0, 32, 0.5};
    long minq;
    mb_error_t perr;
    /* The command line as given (getopt_long reorders argv), for the report's
     * "how it was made". */
    char *given = argc > 0 ? shell_line(argv + 1, argc - 1) : NULL;
    char *line = given ? malloc(strlen(given) + 20) : NULL;
    if (line)
        sprintf(line, "moebench report%s%s", *given ? " " : "", given);
    free(given);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'F': figdir = optarg; break;
        case 'P': plots_opt = optarg; break;
        case 'S': summary = 1; break;
        case 'D':
            if (mb_parse_double("--min-duration", optarg, 0, 86400, &so.min_duration_s, &perr)) {
                free(line);
                return cli_usage(&perr);
            }
            break;
        case 'Q':
            if (mb_parse_long("--min-queries", optarg, 0, 100000000, &minq, &perr)) {
                free(line);
                return cli_usage(&perr);
            }
            so.min_queries = (int)minq;
            break;
        case 'h': free(line); help(); return 0;
        default: free(line); return cli_bad_option("report", c, argv, optind, optopt);
        }
    }
    if (!out)
        out = summary ? "SUMMARY.md" : "REPORT.md";
    if (optind >= argc) {
        free(line);
        fprintf(stderr, "moebench: report: give at least one results CSV; see 'moebench report --help'\n");
        return 2;
    }
    mb_error_t err;
    /* before any reading or drawing: a directory or device at -o is refused */
    if (mb_output_check(out, "report", &err)) {
        free(line);
        return cli_error(&err);
    }
    char outdir[PATH_MAX], figs_path[PATH_MAX], rel[PATH_MAX], plots[PATH_MAX], gp[PATH_MAX], ver[128];
    dirname_of(out, outdir, sizeof outdir);
    if ((size_t)snprintf(figs_path, sizeof figs_path, "%s%s", figdir ? figdir : outdir,
                         figdir ? "" : "/figures") >= sizeof figs_path) {
        free(line);
        return cli_errorf("%s: path too long", figdir ? figdir : out);
    }

    report_t *r = report_create();
    if (!r) {
        free(line);
        return cli_errorf("report: out of memory");
    }
    int status = 1, n_figs = 0, n_cmds = 0;
    report_figure_t *figs = NULL;
    char **cmds = NULL;
    for (int i = optind; i < argc; i++)
        if (report_read_csv(r, argv[i], &err))
            goto fail;
    if (report_aggregate(r, &err) || mkdir_p(figs_path, &err))
        goto fail;
    struct stat st;
    if (stat(outdir, &st) || !S_ISDIR(st.st_mode)) {
        mb_fail(&err, "%s: cannot write: the folder %s does not exist", out, outdir);
        goto fail;
    }
    if (relative_path(outdir, figs_path, rel, sizeof rel, &err))
        goto fail;
    int max = r->n_groups * REPORT_FIG_KINDS + REPORT_MAX_KERNEL_FIGS + REPORT_MAX_TRAIN_FIGS;
    figs = calloc((size_t)max, sizeof *figs);
    cmds = calloc((size_t)max, sizeof *cmds);
    if (!figs || !cmds) {
        mb_fail(&err, "report: out of memory");
        goto fail;
    }
    if (report_write_data(r, figs_path, figs, max, &n_figs, &err))
        goto fail;

    int have_gp = find_gnuplot(gp, sizeof gp), failed = 0, drawn = 0;
    const char *version = have_gp ? gnuplot_version(gp, figs_path, ver, sizeof ver) : NULL;
    find_plots(plots_opt, plots, sizeof plots);
    char missing[2048] = "";
    size_t ml = 0;
    for (int i = 0; i < n_figs; i++) {
        report_figure_t *f = &figs[i];
        if (f->skipped[0])
            continue;
        if (!have_gp) {
            snprintf(f->skipped, sizeof f->skipped, "gnuplot not found on PATH (its data files are written)");
            if (ml < sizeof missing)
                ml += (size_t)snprintf(missing + ml, sizeof missing - ml, "%s%s", ml ? ", " : "", f->name);
            continue;
        }
        if (draw(gp, plots, f, &cmds[n_cmds++])) {
            fprintf(stderr, "moebench: report: %s: %s\n", f->name, f->skipped);
            failed++;
        } else {
            drawn++;
        }
    }
    report_md_opts_t o = {line, rel, version, figs, n_figs, (const char **)cmds, n_cmds};
    if (summary ? summary_write_markdown(r, &o, &so, out, &err) : report_write_markdown(r, &o, out, &err))
        goto fail;
    if (!have_gp)
        fprintf(stderr, "moebench: report: gnuplot not found on PATH: wrote the tables to %s; skipped figures: %s\n",
                out, ml ? missing : "none");
    else
        fprintf(stderr, "moebench: report: wrote %s with %d figure%s in %s\n", out, drawn, drawn == 1 ? "" : "s",
                figs_path);
    status = failed ? 1 : 0;
    goto done;
fail:
    cli_error(&err);
done:
    free(line);
    for (int i = 0; i < n_cmds; i++)
        free(cmds[i]);
    free(cmds);
    free(figs);
    report_free(r);
    return status;
}
