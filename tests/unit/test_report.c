/* report: aggregation of results CSVs against values computed by hand from
 * the fixtures in tests/data/report/ (wmt.csv: 48 rows, see the comments at
 * each check for the repetitions behind a number), the data files for the
 * figures, and the expected rows of REPORT.md.
 *
 * Tolerance: 1e-9 on every aggregated number. The fixture's numbers are exact
 * decimals with few digits, and aggregation only sorts, averages two or a few
 * of them, or divides once, so the only error is the last-bit rounding of one
 * or two double operations, many orders below 1e-9. */
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "analysis/report.h"
#include "analysis/summary.h"

#define TOL 1e-9
#define WMT "data/report/wmt.csv"
#define DEMO "data/report/demo.csv"
#define KERNELS "data/report/kernels.csv"
#define SCN "fixture-wmt32e"

static void near(double got, double want, const char *what)
{
    if (!(fabs(got - want) <= TOL))
        fail_msg("%s: got %.12g, want %.12g", what, got, want);
}

static report_t *load(const char *const *paths, int n)
{
    report_t *r = report_create();
    mb_error_t err = {""};
    assert_non_null(r);
    for (int i = 0; i < n; i++)
        if (report_read_csv(r, paths[i], &err))
            fail_msg("read %s: %s", paths[i], err.msg);
    if (report_aggregate(r, &err))
        fail_msg("aggregate: %s", err.msg);
    return r;
}

static report_t *load_all(void)
{
    const char *p[] = {WMT, DEMO, KERNELS};
    return load(p, 3);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void contains(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("missing from the output: %s", want);
}

/* r's data files and DIR/REPORT.md, written as `moebench report` writes
 * them (command line `cmd`, gnuplot `gnuplot`); the Markdown, to free(). */
static char *markdown_of(report_t *r, const char *dir, const char *cmd, const char *gnuplot)
{
    report_figure_t figs[16];
    int n;
    mb_error_t err = {""};
    char path[160];
    if (report_write_data(r, dir, figs, 16, &n, &err))
        fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "%s/REPORT.md", dir);
    report_md_opts_t o = {cmd, "figures", gnuplot, figs, n, NULL, 0};
    if (report_write_markdown(r, &o, path, &err))
        fail_msg("%s", err.msg);
    return slurp(path);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---------------------------------------------------------------- statistics */

static void test_median_percentile(void **state)
{
    (void)state;
    double odd[] = {5, 1, 3}, even[] = {4, 1, 3, 2}, with_nan[] = {NAN, 7, NAN, 1};
    near(report_median(odd, 3), 3, "median of 3");
    near(report_median(even, 4), 2.5, "median of 4: mean of the middle two");
    near(report_median(with_nan, 4), 4, "NAN (not measured) is left out");
    double none[] = {NAN, NAN};
    assert_true(isnan(report_median(none, 2)));
    /* nearest rank on 1..10: the smallest value with at least p% at or below it */
    double v[10];
    double want[][2] = {{50, 5}, {90, 9}, {99, 10}, {10, 1}, {11, 2}, {100, 10}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        for (int i = 0; i < 10; i++)
            v[i] = 10 - i;
        near(report_percentile(v, 10, want[k][0]), want[k][1], "nearest-rank percentile");
    }
    assert_true(isnan(report_percentile(v, 10, 0)));
    report_stat_t s = report_stat_of(with_nan, 4);
    assert_int_equal(s.n, 2);
    near(s.min, 1, "min");
    near(s.max, 7, "max");
    near(s.median, 4, "median");
}

/* ---------------------------------------------------------------- configurations */

static void test_configs(void **state)
{
    (void)state;
    report_t *r = load_all();
    /* token-moe, batch 64: 600, 560, 640 -> median 600, spread 560..640 */
    const report_config_t *c = report_find_config(r, SCN, "offline", "token-moe", "mixed", 64, NAN);
    assert_non_null(c);
    assert_int_equal(c->reps, 3);
    near(c->tok_s.median, 600, "token-moe b64 median");
    near(c->tok_s.min, 560, "token-moe b64 min");
    near(c->tok_s.max, 640, "token-moe b64 max");
    /* dense, batch 1: 200, 210 -> 205 (even count) */
    c = report_find_config(r, SCN, "offline", "dense", "mixed", 1, NAN);
    assert_non_null(c);
    near(c->tok_s.median, 205, "dense b1 median of two");
    /* single-stream token-moe en-fr: p99 35, 45 -> 40; BLEU 33 both */
    c = report_find_config(r, SCN, "single-stream", "token-moe", "en-fr", 1, NAN);
    assert_non_null(c);
    near(c->p99.median, 40, "token-moe en-fr p99");
    near(c->bleu.median, 33, "token-moe en-fr BLEU");
    /* server mode: one config per offered load */
    c = report_find_config(r, SCN, "server", "task-moe", "mixed", 16, 4);
    assert_non_null(c);
    near(c->p99.median, 70, "task-moe server 4/s p99");
    assert_null(report_find_config(r, SCN, "server", "task-moe", "mixed", 16, 3));
    /* 48 rows of wmt.csv: 11 offline + 8 single-stream + 4 server configurations; demo.csv: 2 */
    assert_int_equal(r->n_configs, 25);
    assert_int_equal(r->n_rows, 50);
    report_free(r);
}

/* ---------------------------------------------------------------- series */

static void test_series(void **state)
{
    (void)state;
    report_t *r = load_all();
    assert_int_equal(r->n_groups, 2); /* demo (onednn bf16 1t), fixture-wmt32e (ref fp32 2t) */
    const report_series_t *tok = report_find_series(r, SCN, "token-moe"), *task = report_find_series(r, SCN, "task-moe"),
                          *dense = report_find_series(r, SCN, "dense"), *stu = report_find_series(r, SCN, "student");
    assert_non_null(tok);
    assert_non_null(task);
    assert_non_null(dense);
    assert_non_null(stu);
    /* peaks over the sweep 1, 8, 64: medians 100/400/600 and 150/700/1100 */
    near(tok->peak_tok_s, 600, "token-moe peak");
    assert_int_equal(tok->peak_batch, 64);
    assert_int_equal(tok->n_batches, 3);
    near(task->peak_tok_s, 1100, "task-moe peak");
    near(task->peak_min, 1000, "task-moe peak min");
    near(task->peak_max, 1150, "task-moe peak max");
    /* dense: 205 (b1), 950 (b8), 825 (b64): the peak is not at the largest batch */
    near(dense->peak_tok_s, 950, "dense peak");
    assert_int_equal(dense->peak_batch, 8);
    /* student: b8 = 1200, 1000 -> 1100 */
    near(stu->peak_tok_s, 1100, "student peak");
    assert_int_equal(stu->peak_batch, 8);
    assert_int_equal(stu->peak_reps, 2);
    /* speed-ups over token-moe's 600 */
    near(tok->speedup, 1.0, "token-moe speed-up");
    near(task->speedup, 1100.0 / 600.0, "task-moe speed-up");
    near(dense->speedup, 950.0 / 600.0, "dense speed-up");
    /* single-stream latency: per task median over 2 reps, then mean over tasks:
     * token-moe p50: en-de (10+12)/2 = 11, en-fr (14+16)/2 = 15 -> 13;
     *           p99: en-de 25, en-fr 40 -> 32.5;  task-moe p50 (8 + 10)/2 = 9, p99 (16 + 19)/2 = 17.5 */
    near(tok->p50, 13, "token-moe p50");
    near(tok->p99, 32.5, "token-moe p99");
    near(task->p50, 9, "task-moe p50");
    near(task->p99, 17.5, "task-moe p99");
    /* BLEU: mean over tasks: dense (20+30)/2, token (23+33)/2, task (24.5+33.5)/2, student (20.9+31)/2 */
    near(dense->bleu, 25, "dense BLEU");
    near(tok->bleu, 28, "token-moe BLEU");
    near(task->bleu, 29, "task-moe BLEU");
    near(stu->bleu, 25.95, "student BLEU");
    near(report_series_task_bleu(r, task, "en-de"), 24.5, "task-moe en-de BLEU");
    assert_true(isnan(report_series_task_bleu(r, task, "en-ro")));
    near(task->params_total, 533e6, "params total");
    near(task->params_served, 200e6, "params served");
    near(task->params_active, 180e6, "params active");
    assert_int_equal(tok->reps_min, 1); /* server configs have one repetition */
    assert_int_equal(tok->reps_max, 3);
    const report_group_t *g = &r->groups[task->group];
    assert_int_equal(g->n_tasks, 2);
    assert_string_equal(g->tasks[0], "en-de");
    assert_string_equal(g->tasks[1], "en-fr");
    /* series come in the paper's order */
    assert_string_equal(r->series[g->first].variant, "dense");
    assert_string_equal(r->series[g->first + 3].variant, "student");
    /* the demo group: speed-up 6000 / 5000, no latency, no BLEU */
    const report_series_t *d = report_find_series(r, "demo", "task-moe");
    assert_non_null(d);
    near(d->speedup, 1.2, "demo speed-up");
    assert_true(isnan(d->p50));
    assert_true(isnan(d->bleu));
    report_free(r);
}

/* Several tasks at one batch size combine as sum(tokens) / sum(time). */
static void test_tasks_combine(void **state)
{
    (void)state;
    char dir[] = "/tmp/moebench-test-report-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tasks.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "scenario,mode,variant,backend,precision,threads,task,batch_size,decode,target_qps,rep,"
               "tgt_tokens,wall_s,tgt_tok_per_s\n");
    /* en-de: 1000 tokens at 100/s (10 s); en-fr: 3000 tokens at 300/s (10 s) -> 4000 / 20 s = 200/s */
    fprintf(f, "s,offline,task-subnet,ref,fp32,1,en-de,8,greedy,,1,1000,10,100\n"
               "s,offline,task-subnet,ref,fp32,1,en-fr,8,greedy,,1,3000,10,300\n"
               "s,offline,task-subnet,ref,fp32,1,en-de,2,greedy,,1,1000,20,\n"); /* tok/s from tokens / wall */
    fclose(f);
    const char *p[] = {path};
    report_t *r = load(p, 1);
    const report_series_t *s = report_find_series(r, "s", "task-subnet");
    assert_non_null(s);
    assert_int_equal(s->n_batches, 2);
    assert_int_equal(s->sweep[0].batch_size, 2);
    near(s->sweep[0].tok_s, 50, "tok/s derived from tgt_tokens / wall_s");
    near(s->peak_tok_s, 200, "two tasks at batch 8");
    assert_int_equal(s->peak_batch, 8);
    assert_true(isnan(s->speedup)); /* no token-moe in this group */
    report_free(r);
    rm_tree(dir);
}

/* The speed-up interval: 5 repetitions each at the peak, so 25 ratios
 * task/token; the 95% Hodges-Lehmann interval for n = m = 5 runs from the 3rd
 * to the 23rd smallest ratio (the two-sided 5% critical value of the
 * Mann-Whitney U for 5 and 5 is 2, from the published tables, so the
 * interval's ends are the (2+1)-th smallest and largest). Two tasks combine
 * per repetition as sum(tokens) / sum(time). */
static void test_speedup_interval(void **state)
{
    (void)state;
    char dir[] = "/tmp/moebench-test-report-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ci.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "scenario,mode,variant,backend,precision,threads,task,batch_size,decode,target_qps,rep,"
               "tgt_tokens,wall_s,tgt_tok_per_s\n");
    /* per repetition k: en-de 1000 tokens in a_k s, en-fr 1000 tokens in 10 s */
    const double tok_s[5] = {10, 11, 9, 12, 10.5}, task_s[5] = {8, 8.5, 7, 9, 7.5};
    double tok_v[5], task_v[5];
    for (int k = 0; k < 5; k++) {
        fprintf(f, "c,offline,token-moe,ref,fp32,1,en-de,16,greedy,,%d,1000,%g,\n", k + 1, tok_s[k]);
        fprintf(f, "c,offline,token-moe,ref,fp32,1,en-fr,16,greedy,,%d,1000,10,\n", k + 1);
        fprintf(f, "c,offline,task-moe,ref,fp32,1,en-de,16,greedy,,%d,1000,%g,\n", k + 1, task_s[k]);
        fprintf(f, "c,offline,task-moe,ref,fp32,1,en-fr,16,greedy,,%d,1000,10,\n", k + 1);
        tok_v[k] = 2000 / (tok_s[k] + 10);
        task_v[k] = 2000 / (task_s[k] + 10);
    }
    /* a smaller batch with fewer tokens/s, not the peak: ignored by the interval */
    fprintf(f, "c,offline,token-moe,ref,fp32,1,en-de,1,greedy,,1,1000,100,\n"
               "c,offline,token-moe,ref,fp32,1,en-fr,1,greedy,,1,1000,100,\n");
    fclose(f);
    double ratios[25];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            ratios[i * 5 + j] = task_v[j] / tok_v[i];
    for (int i = 1; i < 25; i++) /* insertion sort */
        for (int j = i; j > 0 && ratios[j - 1] > ratios[j]; j--) {
            double t = ratios[j];
            ratios[j] = ratios[j - 1];
            ratios[j - 1] = t;
        }
    const char *p[] = {path};
    report_t *r = load(p, 1);
    const report_series_t *task = report_find_series(r, "c", "task-moe"), *tok = report_find_series(r, "c", "token-moe");
    assert_non_null(task);
    assert_non_null(tok);
    assert_int_equal(task->peak_batch, 16);
    assert_int_equal(task->speedup_reps, 5);
    near(task->speedup_lo, ratios[2], "interval low end: 3rd smallest ratio");
    near(task->speedup_hi, ratios[22], "interval high end: 23rd smallest ratio");
    assert_true(task->speedup_lo < task->speedup && task->speedup < task->speedup_hi);
    assert_true(isnan(tok->speedup_lo)); /* token-moe against itself: no interval */
    report_free(r);
    rm_tree(dir);
}

/* ---------------------------------------------------------------- kernels */

static void test_kernels(void **state)
{
    (void)state;
    const char *p[] = {KERNELS};
    report_t *r = load(p, 1);
    assert_int_equal(r->n_kernels, 6);
    const report_kernel_t *k = &r->kernels[1]; /* openblas fp32 gemm: 205, 209, 207 */
    assert_string_equal(k->backend, "openblas");
    assert_int_equal(k->reps, 3);
    near(k->gflops, 207, "openblas GFLOP/s median");
    near(k->frac_peak, 0.9, "openblas fraction of peak");
    k = &r->kernels[5]; /* ref triad: 25, 26 GB/s */
    assert_string_equal(k->kernel, "triad");
    near(k->bw_gbs, 25.5, "triad GB/s median");
    assert_int_equal(r->n_groups, 0);
    report_free(r);
}

/* ---------------------------------------------------------------- errors */

static void expect_error(const char *csv, const char *want)
{
    char dir[] = "/tmp/moebench-test-report-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(csv, f);
    fclose(f);
    report_t *r = report_create();
    mb_error_t err = {""};
    assert_int_equal(report_read_csv(r, path, &err), -1);
    if (!strstr(err.msg, want) || strncmp(err.msg, path, strlen(path)))
        fail_msg("error '%s' does not start with the file and contain '%s'", err.msg, want);
    report_free(r);
    rm_tree(dir);
}

static void test_errors(void **state)
{
    (void)state;
    static const char head[] = "scenario,mode,variant,backend,precision,threads,task,batch_size,decode,target_qps,"
                               "rep,tgt_tok_per_s,wall_s\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%ss,offline,dense,ref,fp32,1,mixed,8,greedy,,1,100,abc\n", head);
    expect_error(buf, ":2: column 'wall_s': 'abc' is not a number");
    snprintf(buf, sizeof buf, "%ss,offline,dense,ref,fp32,1,mixed,8,greedy,,1,100,1\n"
                              "s,warm,dense,ref,fp32,1,mixed,8,greedy,,1,100,1\n", head);
    expect_error(buf, ":3: column 'mode': 'warm' is not offline, single-stream or server");
    snprintf(buf, sizeof buf, "%ss,offline,dense,ref,fp32,,mixed,8,greedy,,1,100,1\n", head);
    expect_error(buf, "column 'threads': '' is empty");
    expect_error("a,b\n1,2\n", "neither a results CSV");
    expect_error("scenario,variant,tgt_tok_per_s\ns,dense,1\n", "no column 'mode'");
    expect_error("kernel,gflops,backend\ngemm,1,ref\n", "no column 'precision'");
    /* nothing read: aggregate refuses */
    report_t *r = report_create();
    mb_error_t err;
    assert_int_equal(report_aggregate(r, &err), -1);
    report_free(r);
}

/* ---------------------------------------------------------------- output */

static void test_data_files(void **state)
{
    (void)state;
    report_t *r = load_all();
    char dir[] = "/tmp/moebench-test-report-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    report_figure_t figs[16];
    int n;
    mb_error_t err = {""};
    if (report_write_data(r, dir, figs, 16, &n, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(n, 2 * 5 + 4); /* five per scenario group, one per kernels backend and precision */
    int drawable = 0;
    for (int i = 0; i < n; i++)
        drawable += figs[i].skipped[0] == '\0';
    assert_int_equal(drawable, 2 + 5 + 4); /* demo: throughput and params; wmt: all five; kernels */
    const report_figure_t *tp = NULL;
    for (int i = 0; i < n; i++)
        if (figs[i].kind == REPORT_FIG_THROUGHPUT && figs[i].group == r->series[2].group)
            tp = &figs[i];
    assert_non_null(tp);
    assert_string_equal(tp->name, "fixture-wmt32e-throughput");
    assert_string_equal(tp->script, "throughput.gp");
    assert_int_equal(tp->n_args, 6);
    /* the variants of the blocks, in order: what gives each its colour (plots/variants.gp) */
    assert_string_equal(tp->args[5], "dense token-moe task-moe student");
    contains(tp->args[1], "fixture-wmt32e");
    contains(tp->args[2], "Fixture CPU 9000 @ 3.6GHz (2 cores); ref fp32, 2 threads, greedy");
    char *peak = slurp(tp->args[4]);
    /* columns: variant batch peak label_y; no two labels at one batch size are close here */
    contains(peak, "\"dense\" 8 950 950\n\"token-moe\" 64 600 600\n\"task-moe\" 64 1100 1100\n"
                   "\"student\" 8 1100 1100\n");
    free(peak);
    char *sweep = slurp(tp->args[3]);
    contains(sweep, "\"token-moe\"\n1 100 90 110 3\n8 400 380 420 3\n64 600 560 640 3\n");
    free(sweep);
    snprintf(path, sizeof path, "%s/fixture-wmt32e-task-bleu.dat", dir);
    char *tb = slurp(path);
    contains(tb, "task \"dense\" \"token-moe\" \"task-moe\" \"student\"\n\"en-de\" 20 23 24.5 20.9\n");
    free(tb);
    snprintf(path, sizeof path, "%s/demo-latency", dir);
    for (int i = 0; i < n; i++)
        if (!strcmp(figs[i].args[0], path))
            assert_string_equal(figs[i].skipped, "no single-stream or server rows");
    report_free(r);
    rm_tree(dir);
}

/* Peak labels at one batch size are spread at least 4.5% of the largest
 * value apart, highest first; a skipped row is listed, not measured. Values
 * by hand: peaks 1000, 990, 700 at batch 8 (one repetition each), gap 45:
 * labels 1000, min(990, 1000 - 45) = 955, 700 (already far below). */
static void test_peak_labels_and_skips(void **state)
{
    (void)state;
    char dir[] = "/tmp/moebench-test-report-XXXXXX", csv[128], path[160];
    assert_non_null(mkdtemp(dir));
    snprintf(csv, sizeof csv, "%s/p.csv", dir);
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs("scenario,mode,variant,backend,precision,threads,task,batch_size,decode,target_qps,rep,tgt_tok_per_s,"
          "skipped\n", f);
    fputs("p,offline,dense,ref,fp32,1,en-de,8,greedy,,1,1000,\n", f);
    fputs("p,offline,token-moe,ref,fp32,1,en-de,8,greedy,,1,990,\n", f);
    fputs("p,offline,task-moe,ref,fp32,1,en-de,8,greedy,,1,700,\n", f);
    fputs("p,offline,task-moe,ref,fp32,1,en-de,1,greedy,,1,300,\n", f);
    fputs("p,,,onednn,bf16,1,,,,,,,no bf16 matmul kernel on this CPU\n", f);
    fclose(f);
    const char *paths[] = {csv};
    report_t *r = load(paths, 1);
    assert_int_equal(r->n_rows, 4);
    assert_int_equal((int)r->n_skips, 1);
    assert_string_equal(r->skips[0].backend, "onednn");
    assert_string_equal(r->skips[0].precision, "bf16");
    assert_string_equal(r->skips[0].reason, "no bf16 matmul kernel on this CPU");
    report_figure_t figs[16];
    int n;
    mb_error_t err = {""};
    if (report_write_data(r, dir, figs, 16, &n, &err))
        fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "%s/p-throughput-peak.dat", dir);
    char *peak = slurp(path);
    contains(peak, "\"dense\" 8 1000 1000\n\"token-moe\" 8 990 955\n\"task-moe\" 8 700 700\n");
    free(peak);
    report_free(r);
    rm_tree(dir);
}

/* The summary's validity rules, one at a time and together: 2 threads for
 * 2 s is 4 CPU-seconds available; 1.5 s of CPU time is 37.5% (starved at a
 * 50% minimum), 2.5 s is 62.5% (fine). The CPU share decides only for rows
 * without the runner's `starved` verdict, and never in server mode. */
static void test_validity(void **state)
{
    (void)state;
    summary_opts_t o = {1.0, 32, 0.5};
    report_row_t w = {0};
    char why[200];
    w.mode = "offline";
    w.threads = 2;
    w.wall_s = 2;
    w.sentences = 64;
    w.task_clock_ms = 2500;
    w.starved = NAN; /* a CSV without the column */
    summary_row_valid(&w, &o, why, sizeof why);
    assert_string_equal(why, "");
    w.task_clock_ms = 1500;
    summary_row_valid(&w, &o, why, sizeof why);
    assert_string_equal(why, "starved: CPU time 38% of 2 threads x wall");
    w.mode = "server"; /* idle between arrivals: a low share is normal */
    summary_row_valid(&w, &o, why, sizeof why);
    assert_string_equal(why, "");
    w.mode = "offline";
    w.starved = 0; /* the runner saw no waiting: the share says nothing more */
    summary_row_valid(&w, &o, why, sizeof why);
    assert_string_equal(why, "");
    w.starved = 1;
    w.task_clock_ms = 3900;
    summary_row_valid(&w, &o, why, sizeof why);
    assert_string_equal(why, "starved: its threads waited for a CPU (column starved)");
    w.starved = 0;
    w.task_clock_ms = NAN; /* not recorded: not judged */
    w.sentences = 8;
    w.wall_s = 0.5;
    summary_row_valid(&w, &o, why, sizeof why);
    assert_string_equal(why, "ran 0.50 s < 1 s; 8 queries < 32");
    w.mode = "server"; /* a probe that met the bound is judged like any row ... */
    w.latency_ok = 1;
    summary_row_valid(&w, &o, why, sizeof why);
    assert_string_equal(why, "ran 0.50 s < 1 s; 8 queries < 32");
    w.latency_ok = 0; /* ... one that missed it stopped early on purpose */
    summary_row_valid(&w, &o, why, sizeof why);
    assert_string_equal(why, "");
    w.starved = 1; /* but starvation still counts */
    summary_row_valid(&w, &o, why, sizeof why);
    assert_string_equal(why, "starved: its threads waited for a CPU (column starved)");
}

static void test_markdown(void **state)
{
    (void)state;
    report_t *r = load_all();
    char dir[] = "/tmp/moebench-test-report-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    char *md = markdown_of(r, dir, "moebench report " WMT " " DEMO " " KERNELS, "gnuplot 5.4 patchlevel 4");
    contains(md, "| CPU | Fixture CPU 9000 @ 3.6GHz, 2 cores |");
    contains(md, "| moebench build | git `v0.1.0-fixture`");
    contains(md, "| gnuplot | gnuplot 5.4 patchlevel 4 |");
    contains(md, "## Scenario `fixture-wmt32e`: ref fp32, 2 threads, greedy");
    contains(md, "| dense | wmt-dense | 142.0M | 142.0M | 142.0M | 950.0 (8) | 900.0–1000.0 | 1.58x | 6.00 | 10.00 "
                 "| 25.00 |");
    contains(md, "| token-moe | wmt32e | 533.0M | 533.0M | 180.0M | 600.0 (64) | 560.0–640.0 | 1.00x | 13.00 | 32.50 "
                 "| 28.00 |");
    contains(md, "| task-moe | wmt32e | 533.0M | 200.0M | 180.0M | 1100.0 (64) | 1000.0–1150.0 | 1.83x | 9.00 | "
                 "17.50 | 29.00 |");
    contains(md, "| student | wmt-dense | 142.0M | 142.0M | 142.0M | 1100.0 (8) | 1000.0–1200.0 | 1.83x | 6.00 | "
                 "8.00 | 25.95 |");
    contains(md, "| task-moe | tiny | 1.0M | 500k | 400k | 6000.0 (4) | 6000.0–6000.0 | 1.20x | - | - | - |");
    contains(md, "| task-moe | mixed | 4 | 16 | 30.00 | 50.00 | 70.00 | 1 |");
    contains(md, "| +1.0 | +1.00 (`fixture-wmt32e`, ref fp32, 2 threads, greedy) |");
    contains(md, "| 1.87x | 1.83x (`fixture-wmt32e`, ref fp32, 2 threads, greedy) |");
    contains(md, "| 2.6x | not measured |");
    contains(md, "| 32% | 31.7% (`fixture-wmt32e`");
    contains(md, "| 533M vs 142M | 533.0M vs 142.0M (`fixture-wmt32e`");
    contains(md, "no all-to-all communication");
    contains(md, "| openblas | fp32 | 2 | gemm | 1024x1024x1024 | 207.0 | 90.0% | 1.2 | 4.3% | 3 |");
    contains(md, "![Offline throughput");
    contains(md, "](figures/fixture-wmt32e-throughput.png)");
    contains(md, "([SVG](figures/fixture-wmt32e-throughput.svg))");
    contains(md, "*latency.gp* not drawn: no single-stream or server rows.");
    contains(md, "moebench run scenarios/fixture-wmt32e.ini    # wrote " WMT "\n");
    contains(md, "moebench kernels --backend ref --precision fp32 --threads 2 --csv " KERNELS "\n");
    contains(md, "moebench report " WMT " " DEMO " " KERNELS "\n");
    free(md);
    snprintf(path, sizeof path, "%s/REPORT.md.tmp", dir);
    assert_int_not_equal(access(path, F_OK), 0); /* renamed, not left behind */
    report_free(r);
    rm_tree(dir);
}

/* A latency-only scenario (single-stream over a prefix of the test set, as
 * `make paper`'s paper-small-latency) must not speak for the BLEU claims
 * when another scenario has BLEU from an offline sweep: here it is
 * fixture-wmt32e's single-stream rows under another scenario name. */
static void test_bleu_claims_skip_latency_runs(void **state)
{
    (void)state;
    char dir[] = "/tmp/moebench-test-report-XXXXXX", lat[128];
    assert_non_null(mkdtemp(dir));
    snprintf(lat, sizeof lat, "%s/latency.csv", dir);
    FILE *in = fopen(WMT, "r"), *out = fopen(lat, "w");
    assert_non_null(in);
    assert_non_null(out);
    char line[4096];
    int n_lat = 0;
    for (int i = 0; fgets(line, sizeof line, in); i++) {
        char *at = strstr(line, "," SCN ",single-stream,");
        if (i == 0) {
            fputs(line, out);
        } else if (at) {
            fprintf(out, "%.*s,fixture-latency%s", (int)(at - line), line, at + strlen("," SCN));
            n_lat++;
        }
    }
    fclose(in);
    fclose(out);
    assert_true(n_lat >= 8);
    const char *p[] = {WMT, lat};
    report_t *r = load(p, 2);
    char *md = markdown_of(r, dir, "moebench report", "gnuplot 5.4");
    /* the latency scenario is in the report, with BLEU in its own table ... */
    contains(md, "## Scenario `fixture-latency`");
    /* ... but the BLEU claims name only the offline scenario (no "; ..." after it) */
    contains(md, "| +1.0 | +1.00 (`fixture-wmt32e`, ref fp32, 2 threads, greedy) |");
    contains(md, "| 32% | 31.7% (`fixture-wmt32e`, ref fp32, 2 threads, greedy) |");
    free(md);
    report_free(r);
    rm_tree(dir);
}

/* Caption-trained models on news score near 0 BLEU: differences and shares of
 * such scores are noise, so the claims say "not meaningful" instead of a
 * number. The fixture with every BLEU cell divided by 100 (best below 1). */
static void test_bleu_claims_untranslated(void **state)
{
    (void)state;
    char dir[] = "/tmp/moebench-test-report-XXXXXX", low[128];
    assert_non_null(mkdtemp(dir));
    snprintf(low, sizeof low, "%s/low.csv", dir);
    FILE *in = fopen(WMT, "r"), *out = fopen(low, "w");
    assert_non_null(in);
    assert_non_null(out);
    char line[4096];
    int col = -1, scaled = 0;
    for (int i = 0; fgets(line, sizeof line, in); i++) {
        int c = 0;
        for (char *p = line, *end; ; p = end + 1, c++) { /* the fixture has no quoted cells */
            end = p + strcspn(p, ",\n");
            if (i == 0 && end - p == 4 && !strncmp(p, "bleu", 4))
                col = c;
            if (i > 0 && c == col && end > p) {
                fprintf(out, "%g", strtod(p, NULL) / 100.0);
                scaled++;
            } else {
                fwrite(p, 1, (size_t)(end - p), out);
            }
            if (*end != ',')
                break;
            fputc(',', out);
        }
        fputc('\n', out);
    }
    fclose(in);
    fclose(out);
    assert_true(col >= 0 && scaled >= 8);
    const char *p[] = {low};
    report_t *r = load(p, 1);
    char *md = markdown_of(r, dir, "moebench report", "gnuplot 5.4");
    contains(md, "| +1.0 | not meaningful: no variant reaches 1 BLEU on this test set (best 0.");
    contains(md, "| 32% | not meaningful: no variant reaches 1 BLEU");
    free(md);
    report_free(r);
    /* the fixture as it is (BLEU in the tens) keeps its numbers */
    const char *q[] = {WMT};
    r = load(q, 1);
    md = markdown_of(r, dir, "moebench report", "gnuplot 5.4");
    assert_null(strstr(md, "not meaningful"));
    free(md);
    report_free(r);
    rm_tree(dir);
}

/* The A/A control: dense and an untrained dense-shaped student of the same
 * shape, medians 101 and 110 tokens/s (+8.9%), token-moe 90: the scenario
 * note and the speed-up claim say how far apart two identical workloads were
 * measured. A trained student (weights from a file) is no control. */
static void test_drift_control(void **state)
{
    (void)state;
    char dir[] = "/tmp/moebench-test-report-XXXXXX", csv[128];
    assert_non_null(mkdtemp(dir));
    for (int trained = 0; trained < 2; trained++) {
        snprintf(csv, sizeof csv, "%s/aa.csv", dir);
        FILE *f = fopen(csv, "w");
        assert_non_null(f);
        fprintf(f, "scenario,mode,variant,backend,precision,threads,task,batch_size,decode,target_qps,rep,"
                   "tgt_tok_per_s,preset,params_total,weights\n");
        static const struct { const char *v, *preset; double tok[3], params; } rows[] = {
            {"dense", "wmt32e", {100, 102, 101}, 142e6},
            {"token-moe", "wmt32e", {90, 91, 89}, 533e6},
            {"task-moe", "wmt32e", {95, 96, 94}, 533e6},
            {"student", "wmt32e", {110, 111, 109}, 142e6},
        };
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < 3; k++)
                fprintf(f, "aa,offline,%s,ref,fp32,2,en-de,8,greedy,,%d,%g,%s,%g,%s\n", rows[i].v, k + 1,
                        rows[i].tok[k], rows[i].preset, rows[i].params,
                        trained && i == 3 ? "file:student.safetensors" : "random");
        fclose(f);
        const char *p[] = {csv};
        report_t *r = load(p, 1);
        char *md = markdown_of(r, dir, "moebench report", "gnuplot 5.4");
        if (!trained) {
            contains(md, "their peaks differ by +8.9% (110.0 against 101.0 tokens/s)");
            contains(md, "ratios between variants within about 9% of 1 are not resolved");
            contains(md, "1.06x (A/A control: dense vs dense-shaped student +8.9%)");
        } else if (strstr(md, "A/A control") || strstr(md, "**Control.**")) {
            fail_msg("a trained student is taken for an A/A control");
        }
        free(md);
        report_free(r);
    }
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median_percentile),
        cmocka_unit_test(test_configs),
        cmocka_unit_test(test_series),
        cmocka_unit_test(test_tasks_combine),
        cmocka_unit_test(test_speedup_interval),
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_peak_labels_and_skips),
        cmocka_unit_test(test_validity),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_data_files),
        cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_bleu_claims_skip_latency_runs),
        cmocka_unit_test(test_drift_control),
        cmocka_unit_test(test_bleu_claims_untranslated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
