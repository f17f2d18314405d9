/* Tests of csvin.c (reading results CSVs with libcsv) and compare.c
 * (matching configurations, verdicts), and the power / false-alarm rates of
 * the verdict on simulated samples (seeded, so the rates are fixed numbers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mb_rng.h"
#include "analysis/compare.h"
#include "analysis/csvin.h"

#define assert_close(got, want, tol)                                                            \
    do {                                                                                        \
        double g_ = (got), w_ = (want);                                                         \
        if (!(fabs(g_ - w_) <= (tol)))                                                          \
            fail_msg("%s = %.17g, want %.17g (tolerance %g)", #got, g_, w_, (double)(tol));    \
    } while (0)

#define assert_contains(hay, needle)                                                            \
    do {                                                                                        \
        if (!strstr((hay), (needle)))                                                           \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));                            \
    } while (0)

static csvin_t *parse(const char *name, const char *text)
{
    csvin_t *t;
    mb_error_t err;
    if (csvin_parse(name, text, strlen(text), &t, &err))
        fail_msg("%s", err.msg);
    return t;
}

static int parse_fails(const char *text, char *msg)
{
    csvin_t *t;
    mb_error_t err;
    if (csvin_parse("f.csv", text, strlen(text), &t, &err) == 0) {
        csvin_free(t);
        return 0;
    }
    strcpy(msg, err.msg);
    return 1;
}

/* ---- csvin ---- */

static void test_csvin_basic(void **state)
{
    (void)state;
    /* quoted comma, quoted newline (the row ends on line 4), CRLF, a blank line */
    csvin_t *t = parse("t.csv", "a,b,c\r\n1,\"x,y\",\n\"multi\nline\",2,3\n\n4,5,6");
    assert_int_equal(t->ncols, 3);
    assert_int_equal(t->nrows, 3);
    assert_int_equal(csvin_col(t, "b"), 1);
    assert_int_equal(csvin_col(t, "z"), -1);
    assert_string_equal(csvin_get(t, 0, 1), "x,y");
    assert_string_equal(csvin_get(t, 0, 2), "");
    assert_string_equal(csvin_get(t, 1, 0), "multi\nline");
    assert_int_equal(t->line[0], 2);
    assert_int_equal(t->line[1], 4);
    assert_int_equal(t->line[2], 6);
    csvin_free(t);
    /* a UTF-8 byte-order mark does not stick to the first column's name */
    t = parse("bom.csv", "\xEF\xBB\xBFscenario,x\nq,1\n");
    assert_int_equal(csvin_col(t, "scenario"), 0);
    csvin_free(t);
}

static void test_csvin_errors(void **state)
{
    (void)state;
    char msg[600];
    assert_true(parse_fails("a,b\n1,2\n3\n", msg));
    assert_string_equal(msg, "f.csv:3: row has 1 fields, the header has 2 (a ragged row)");
    assert_true(parse_fails("a,b,a\n", msg));
    assert_contains(msg, "f.csv:1: column 'a' appears twice");
    assert_true(parse_fails("", msg));
    assert_string_equal(msg, "f.csv: empty file: no header row");
    assert_true(parse_fails("a,b\n1,\"2\n", msg));
    assert_contains(msg, "quoted field is not closed");
    assert_true(parse_fails("a,b\n1,\"2\"x\n", msg));
    assert_contains(msg, "f.csv:2: malformed CSV");

    csvin_t *t;
    mb_error_t err;
    assert_int_equal(csvin_read("no/such/file.csv", &t, &err), -1);
    assert_string_equal(err.msg, "no/such/file.csv: cannot open: No such file or directory");
    assert_int_equal(csvin_read(".", &t, &err), -1); /* tests run in tests/: a folder */
    assert_string_equal(err.msg, ".: is a directory; give a results CSV");
}

static void test_csvin_number(void **state)
{
    (void)state;
    double v = 0;
    assert_int_equal(csvin_number("12.5", &v), 0);
    assert_close(v, 12.5, 0.0);
    assert_int_equal(csvin_number(" 3e2 ", &v), 0);
    assert_close(v, 300.0, 0.0);
    assert_int_equal(csvin_number("", &v), 1);
    assert_int_equal(csvin_number("  ", &v), 1);
    assert_int_equal(csvin_number("abc", &v), -1);
    assert_int_equal(csvin_number("1,5", &v), -1);
    assert_int_equal(csvin_number("inf", &v), -1);
    assert_int_equal(csvin_number("nan", &v), -1);
}

/* ---- verdicts of one metric ---- */

static cmp_options_t opts(void)
{
    cmp_options_t o;
    cmp_options_default(&o);
    return o;
}

static void test_directions(void **state)
{
    (void)state;
    cmp_direction_t d;
    assert_int_equal(cmp_metric_direction("tgt_tok_per_s", &d), 1);
    assert_int_equal(d, CMP_HIGHER_IS_BETTER);
    assert_int_equal(cmp_metric_direction("bleu", &d), 1);
    assert_int_equal(d, CMP_HIGHER_IS_BETTER);
    assert_int_equal(cmp_metric_direction("latency_p99_ms", &d), 1);
    assert_int_equal(d, CMP_LOWER_IS_BETTER);
    assert_int_equal(cmp_metric_direction("papi_l3_tcm", &d), 1);
    assert_int_equal(d, CMP_LOWER_IS_BETTER);
    d = CMP_HIGHER_IS_BETTER;
    assert_int_equal(cmp_metric_direction("load_s", &d), 1);
    assert_int_equal(d, CMP_LOWER_IS_BETTER);
    assert_int_equal(cmp_metric_direction("frobs", &d), 0);
    assert_int_equal(d, CMP_LOWER_IS_BETTER);
    assert_true(cmp_metric_is_count("callgrind_ir"));
    assert_true(cmp_metric_is_count("papi_tot_ins"));
    assert_false(cmp_metric_is_count("papi_tot_cyc"));
}

/* Five repetitions each, fully separated: exact p = 2/252 = 0.0079 <= 0.01. */
static void test_judge_regressed_improved(void **state)
{
    (void)state;
    cmp_options_t o = opts();
    cmp_stat_t s;
    double base[] = {100, 102, 98, 101, 99}, slow[] = {90, 91, 89, 92, 88};
    assert_int_equal(cmp_judge(base, 5, slow, 5, CMP_HIGHER_IS_BETTER, 0, &o, &s, NULL), 0);
    assert_int_equal(s.verdict, CMP_REGRESSED);
    assert_close(s.ratio, 0.9, 1e-12);
    assert_close(s.p, 2.0 / 252.0, 1e-12);
    assert_close(s.ci_lo, 88.0 / 102.0, 1e-12);
    /* the same numbers as latencies (lower is better): an improvement */
    assert_int_equal(cmp_judge(base, 5, slow, 5, CMP_LOWER_IS_BETTER, 0, &o, &s, NULL), 0);
    assert_int_equal(s.verdict, CMP_IMPROVED);
    /* significant but within a 15% threshold: unchanged, with a note */
    o.threshold = 0.15;
    assert_int_equal(cmp_judge(base, 5, slow, 5, CMP_HIGHER_IS_BETTER, 0, &o, &s, NULL), 0);
    assert_int_equal(s.verdict, CMP_UNCHANGED);
    assert_contains(s.note, "within the threshold");
}

static void test_judge_inconclusive(void **state)
{
    (void)state;
    cmp_options_t o = opts();
    cmp_stat_t s;
    /* 3 and 3 repetitions: min p = 2/20 = 0.1 > 0.01, whatever the data */
    double a[] = {100, 101, 102}, b[] = {50, 51, 52};
    assert_int_equal(cmp_judge(a, 3, b, 3, CMP_HIGHER_IS_BETTER, 0, &o, &s, NULL), 0);
    assert_int_equal(s.verdict, CMP_INCONCLUSIVE);
    assert_int_equal(s.reps_needed, 5);
    assert_contains(s.note, "needs >= 5 in each file");
    assert_contains(s.note, "minimum p = 0.00794");
    assert_true(isinf(s.ci_hi)); /* no 99% bound from 3 and 3 */
    /* enough repetitions but overlapping: 10% worse in the median, p = 0.42 */
    double c[] = {100, 80, 120, 90, 110}, d[] = {90, 70, 110, 80, 130};
    assert_int_equal(cmp_judge(c, 5, d, 5, CMP_HIGHER_IS_BETTER, 0, &o, &s, NULL), 0);
    assert_int_equal(s.verdict, CMP_INCONCLUSIVE);
    assert_int_equal(s.reps_needed, 0);
    assert_contains(s.note, "worse by 10.0% but not significant");
}

static void test_judge_not_measured_and_counts(void **state)
{
    (void)state;
    cmp_options_t o = opts();
    cmp_stat_t s;
    double a[] = {1e9, 1e9}, grew[] = {1.015e9}, same[] = {1.005e9}, fell[] = {0.98e9};
    assert_int_equal(cmp_judge(a, 0, a, 0, CMP_LOWER_IS_BETTER, 0, &o, &s, NULL), 0);
    assert_int_equal(s.verdict, CMP_NOT_MEASURED);
    assert_string_equal(s.note, "not measured in either file");
    assert_int_equal(cmp_judge(a, 2, a, 0, CMP_LOWER_IS_BETTER, 0, &o, &s, NULL), 0);
    assert_string_equal(s.note, "not measured in NEW");
    /* instruction counts: no test, 1% threshold, even from one repetition */
    assert_int_equal(cmp_judge(a, 2, grew, 1, CMP_LOWER_IS_BETTER, 1, &o, &s, NULL), 0);
    assert_int_equal(s.verdict, CMP_REGRESSED);
    assert_false(s.tested);
    assert_true(isnan(s.p));
    assert_int_equal(cmp_judge(a, 2, same, 1, CMP_LOWER_IS_BETTER, 1, &o, &s, NULL), 0);
    assert_int_equal(s.verdict, CMP_UNCHANGED);
    assert_int_equal(cmp_judge(a, 2, fell, 1, CMP_LOWER_IS_BETTER, 1, &o, &s, NULL), 0);
    assert_int_equal(s.verdict, CMP_IMPROVED);
    /* exactly at the threshold is not "more than" it */
    double b[] = {100}, at[] = {101};
    assert_int_equal(cmp_judge(b, 1, at, 1, CMP_LOWER_IS_BETTER, 1, &o, &s, NULL), 0);
    assert_int_equal(s.verdict, CMP_UNCHANGED);
    /* a zero baseline (dropped_tokens 0 -> 3): infinitely worse, and significant */
    double z[] = {0, 0, 0, 0, 0}, t[] = {3, 3, 3, 3, 3};
    assert_int_equal(cmp_judge(z, 5, t, 5, CMP_LOWER_IS_BETTER, 0, &o, &s, NULL), 0);
    assert_true(isinf(s.ratio));
    assert_int_equal(s.verdict, CMP_REGRESSED);
    assert_true(isnan(s.ci_lo)); /* no ratio interval for values <= 0 */
}

/* 200 trials of 10 repetitions per file, each value = true mean x (1 + 0.02 Z).
 * A planted 5% slowdown (throughput x 0.95) must be flagged regressed in at
 * least 95% of trials, and identical distributions in at most 1%. The verdict
 * threshold is 2%, below the planted 5%: with the threshold equal to the
 * effect, the median ratio would exceed it about half the time by
 * construction. alpha is the default 0.01. Seeded: the counts are fixed. */
static void simulate(double factor, uint64_t seed, int *regressed, int *improved)
{
    cmp_options_t o = opts();
    o.threshold = 0.02;
    mb_rng_t rng;
    mb_rng_seed(&rng, seed);
    *regressed = *improved = 0;
    for (int trial = 0; trial < 200; trial++) {
        double base[10], new_[10];
        for (int i = 0; i < 10; i++) {
            base[i] = 1000.0 * (1.0 + 0.02 * mb_rng_normal(&rng));
            new_[i] = 1000.0 * factor * (1.0 + 0.02 * mb_rng_normal(&rng));
        }
        cmp_stat_t s;
        assert_int_equal(cmp_judge(base, 10, new_, 10, CMP_HIGHER_IS_BETTER, 0, &o, &s, NULL), 0);
        *regressed += s.verdict == CMP_REGRESSED;
        *improved += s.verdict == CMP_IMPROVED;
    }
}

static void test_power(void **state)
{
    (void)state;
    int reg, imp;
    simulate(0.95, 7, &reg, &imp);
    print_message("# planted 5%% slowdown: %d of 200 flagged regressed\n", reg);
    assert_true(reg >= 190);
    assert_int_equal(imp, 0);
}

static void test_false_alarms(void **state)
{
    (void)state;
    int reg, imp;
    simulate(1.0, 11, &reg, &imp);
    print_message("# identical distributions: %d of 200 regressed, %d improved\n", reg, imp);
    assert_true(reg <= 2); /* flagged = regressed; improvements do not fail a CI job */
}

/* ---- matching two tables ---- */

#define KEYS "scenario,mode,variant,backend,precision,threads,task,batch_size,decode,target_qps"
#define CFG(th) "quick,offline,dense,ref,fp32," #th ",en-de,8,greedy,"

static const char *base_csv =
    KEYS ",rep,tgt_tok_per_s,latency_p99_ms,bleu,papi_tot_ins\n"
    CFG(2) ",1,100,10.0,,5000\n" CFG(2) ",2,102,10.2,,5000\n" CFG(2) ",3,98,9.8,,5000\n"
    CFG(2) ",4,101,10.1,,5000\n" CFG(2) ",5,99,9.9,,5000\n" CFG(2) ",6,100.5,10.05,,5000\n"
    "quick,offline,student,ref,fp32,2,en-de,8,greedy,,1,300,3,,100\n";

static void test_tables_self(void **state)
{
    (void)state;
    csvin_t *b = parse("base.csv", base_csv);
    cmp_options_t o = opts();
    cmp_report_t *r;
    mb_error_t err;
    assert_int_equal(cmp_tables(b, b, &o, &r, &err), 0);
    assert_int_equal(r->nconfigs, 2);
    assert_int_equal(r->nmetrics, 3); /* two defaults + papi_tot_ins, which both files have */
    assert_string_equal(r->metrics[2].name, "papi_tot_ins");
    assert_int_equal(r->nentries, 6);
    assert_int_equal(r->count[CMP_REGRESSED], 0);
    assert_int_equal(r->count[CMP_IMPROVED], 0);
    assert_int_equal(r->count[CMP_UNCHANGED], 3 + 1); /* dense: 2 tested + count; student: count */
    assert_int_equal(r->count[CMP_INCONCLUSIVE], 2);  /* student: 1 repetition */
    assert_string_equal(r->configs[0].label, "quick offline dense ref fp32 threads=2 en-de batch=8 greedy");
    cmp_report_free(r);
    csvin_free(b);
}

static void test_tables_match(void **state)
{
    (void)state;
    const char *new_csv =
        KEYS ",rep,tgt_tok_per_s,latency_p99_ms,bleu,papi_tot_ins,frobs\n"
        CFG(1) ",1,50,20,,5000,1\n" CFG(1) ",2,51,20.4,,5000,1\n" CFG(1) ",3,49,19.6,,5000,1\n"
        CFG(1) ",4,50.5,20.2,,5000,1\n" CFG(1) ",5,49.5,19.8,,5000,1\n" CFG(1) ",6,50.2,20.1,,5000,1\n"
        "quick,offline,task-moe,ref,fp32,1,en-de,8,greedy,,1,300,3,,100,1\n";
    csvin_t *b = parse("base.csv", base_csv), *n = parse("new.csv", new_csv);
    cmp_options_t o = opts();
    cmp_report_t *r;
    mb_error_t err;

    /* threads differ: nothing in common */
    assert_int_equal(cmp_tables(b, n, &o, &r, &err), 0);
    assert_int_equal(r->nentries, 0);
    assert_int_equal(r->n_only_base, 2);
    assert_int_equal(r->n_only_new, 2);
    cmp_report_free(r);

    /* without threads in the key: dense matches and halved throughput regresses */
    const char *ignore[] = {"threads"};
    o.ignore = ignore;
    o.nignore = 1;
    assert_int_equal(cmp_tables(b, n, &o, &r, &err), 0);
    assert_int_equal(r->n_only_base, 1); /* student */
    assert_int_equal(r->n_only_new, 1);  /* task-moe */
    assert_int_equal(r->nentries, 3);
    assert_int_equal(r->entries[0].s.verdict, CMP_REGRESSED); /* tgt_tok_per_s */
    assert_int_equal(r->entries[1].s.verdict, CMP_REGRESSED); /* latency_p99_ms doubled */
    assert_int_equal(r->entries[2].s.verdict, CMP_UNCHANGED); /* papi_tot_ins */
    assert_null(r->configs[0].key[5]);
    assert_contains(r->notes[0], "matched without threads");
    cmp_report_free(r);

    /* named metrics: an empty column is "not measured"; an unknown one gets a note */
    const char *metrics[] = {"bleu", "frobs", "bleu"};
    o.metrics = metrics;
    o.nmetrics = 3;
    const char *ignore2[] = {"threads"};
    o.ignore = ignore2;
    assert_int_equal(cmp_tables(n, n, &o, &r, &err), 0);
    assert_int_equal(r->nmetrics, 2); /* bleu named twice */
    assert_int_equal(r->entries[0].s.verdict, CMP_NOT_MEASURED);
    assert_int_equal(r->count[CMP_REGRESSED], 0);
    assert_contains(r->notes[1], "'frobs' is not a documented column");
    cmp_report_free(r);
    csvin_free(b);
    csvin_free(n);
}

static void test_tables_errors(void **state)
{
    (void)state;
    csvin_t *b = parse("base.csv", base_csv);
    csvin_t *nokey = parse("nokey.csv", "scenario,mode\nq,offline\n");
    csvin_t *nolat = parse("nolat.csv", KEYS ",tgt_tok_per_s\n" CFG(2) ",100\n");
    csvin_t *text = parse("text.csv", KEYS ",tgt_tok_per_s,latency_p99_ms\n" CFG(2) ",fast,1\n");
    cmp_options_t o = opts();
    cmp_report_t *r;
    mb_error_t err;
    assert_int_equal(cmp_tables(b, nokey, &o, &r, &err), -1);
    assert_contains(err.msg, "nokey.csv: no column 'variant'");
    assert_int_equal(cmp_tables(nolat, b, &o, &r, &err), -1);
    assert_string_equal(err.msg, "nolat.csv: no column 'latency_p99_ms' (a default metric; "
                                 "name others with --metric)");
    assert_int_equal(cmp_tables(b, text, &o, &r, &err), -1);
    assert_string_equal(err.msg, "text.csv:2: column 'tgt_tok_per_s': 'fast' is not a number");
    const char *m[] = {"threads"};
    o.metrics = m;
    o.nmetrics = 1;
    assert_int_equal(cmp_tables(b, b, &o, &r, &err), -1);
    assert_contains(err.msg, "'threads' identifies configurations");
    const char *m2[] = {"nonesuch"};
    o.metrics = m2;
    assert_int_equal(cmp_tables(b, b, &o, &r, &err), -1);
    assert_string_equal(err.msg, "base.csv: no column 'nonesuch' (named by --metric)");
    o.metrics = NULL;
    o.nmetrics = 0;
    const char *ig[] = {"rep"};
    o.ignore = ig;
    o.nignore = 1;
    assert_int_equal(cmp_tables(b, b, &o, &r, &err), -1);
    assert_contains(err.msg, "--ignore-key: 'rep' is not a configuration column");
    csvin_free(b);
    csvin_free(nokey);
    csvin_free(nolat);
    csvin_free(text);
}

/* ---- Holm's correction over a report ---- */

/* A table of `ncfg` configurations (batch sizes 1..ncfg) x `reps` rows of
 * tgt_tok_per_s: value(c, i). */
static csvin_t *table(const char *name, int ncfg, int reps, double (*value)(int c, int i, void *), void *arg)
{
    size_t cap = 256 + (size_t)ncfg * (size_t)reps * 96, at = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    at += (size_t)snprintf(text + at, cap - at, KEYS ",rep,tgt_tok_per_s\n");
    for (int c = 0; c < ncfg; c++)
        for (int i = 0; i < reps; i++)
            at += (size_t)snprintf(text + at, cap - at, "quick,offline,dense,ref,fp32,1,en-de,%d,greedy,,%d,%.9g\n",
                                   c + 1, i + 1, value(c, i, arg));
    csvin_t *t = parse(name, text);
    free(text);
    return t;
}

/* BASE 100 + i; NEW the same, or 10% slower (90 + i: every NEW below every BASE) in the first
 * `*(int *)arg` configurations */
static double v_base(int c, int i, void *arg) { (void)c; (void)arg; return 100.0 + i; }
static double v_new(int c, int i, void *arg) { return c < *(int *)arg ? 90.0 + 0.1 * i : 100.0 + i; }

static void test_holm(void **state)
{
    (void)state;
    const char *metric[] = {"tgt_tok_per_s"};
    cmp_options_t o = opts();
    o.metrics = metric;
    o.nmetrics = 1;
    cmp_report_t *r;
    mb_error_t err;
    /* Complete separation with 6 per side: exact two-sided p = 2 / C(12, 6) = 2/924. */
    const double p6 = 2.0 / 924.0;

    /* 3 configurations, 2 slower: family 3; Holm: p(1) x 3, max(p(1) x 3, p(2) x 2) = 3 p6 = 0.0065,
     * both regressed; the third p = 1 stays 1. */
    int slow = 2;
    csvin_t *b = table("b.csv", 3, 6, v_base, NULL), *n = table("n.csv", 3, 6, v_new, &slow);
    assert_int_equal(cmp_tables(b, n, &o, &r, &err), 0);
    assert_int_equal(r->family, 3);
    assert_close(r->entries[0].s.p, p6, 1e-12);
    assert_close(r->entries[0].s.p_adj, 3.0 * p6, 1e-12);
    assert_close(r->entries[1].s.p_adj, 3.0 * p6, 1e-12);
    assert_close(r->entries[2].s.p_adj, 1.0, 1e-12);
    assert_int_equal(r->count[CMP_REGRESSED], 2);
    assert_int_equal(r->count[CMP_UNCHANGED], 1);
    cmp_report_free(r);
    csvin_free(b);
    csvin_free(n);

    /* 5 configurations: the first step asks p <= 0.01/5 = 0.002 < 2/924, which 6 per side cannot
     * reach: every verdict inconclusive, with the repetitions 5 tests need (7: 2/3432 x 5 <= 0.01) */
    b = table("b.csv", 5, 6, v_base, NULL);
    n = table("n.csv", 5, 6, v_new, &slow);
    assert_int_equal(cmp_tables(b, n, &o, &r, &err), 0);
    assert_int_equal(r->family, 5);
    assert_int_equal(r->count[CMP_REGRESSED], 0);
    assert_int_equal(r->count[CMP_INCONCLUSIVE], 5);
    assert_int_equal(r->entries[0].s.reps_needed, 7);
    assert_contains(r->entries[0].s.note, "too few repetitions (6 and 6) for 5 tests");
    /* ... each test alone would have called the first two regressed */
    assert_close(r->entries[0].s.p, p6, 1e-12);
    cmp_report_free(r);
    csvin_free(b);
    csvin_free(n);

    /* 7 per side: 5 x 2/3432 = 0.0029, the two slower ones regressed again */
    b = table("b.csv", 5, 7, v_base, NULL);
    n = table("n.csv", 5, 7, v_new, &slow);
    assert_int_equal(cmp_tables(b, n, &o, &r, &err), 0);
    assert_close(r->entries[0].s.p_adj, 5.0 * 2.0 / 3432.0, 1e-12);
    assert_int_equal(r->count[CMP_REGRESSED], 2);
    cmp_report_free(r);
    csvin_free(b);
    csvin_free(n);
}

/* Identical distributions, 8 configurations x 10 repetitions, 300 trials: how
 * many whole comparisons call anything regressed or improved. Holm keeps it
 * near alpha (0.01: 3 of 300); the same tests uncorrected, each at alpha,
 * would flag up to 8 times as many. Seeded: the counts are fixed. */
static double v_noise(int c, int i, void *arg)
{
    (void)c;
    (void)i;
    return 1000.0 * (1.0 + 0.02 * mb_rng_normal((mb_rng_t *)arg));
}

static void test_holm_family_alarms(void **state)
{
    (void)state;
    const char *metric[] = {"tgt_tok_per_s"};
    cmp_options_t o = opts();
    o.metrics = metric;
    o.nmetrics = 1;
    o.threshold = 0.0; /* every significant difference counts: the test's own error rate */
    mb_rng_t rng;
    mb_rng_seed(&rng, 21);
    int holm_alarms = 0, raw_alarms = 0;
    for (int trial = 0; trial < 300; trial++) {
        csvin_t *b = table("b.csv", 8, 10, v_noise, &rng), *n = table("n.csv", 8, 10, v_noise, &rng);
        cmp_report_t *r;
        mb_error_t err;
        assert_int_equal(cmp_tables(b, n, &o, &r, &err), 0);
        assert_int_equal(r->family, 8);
        holm_alarms += r->count[CMP_REGRESSED] + r->count[CMP_IMPROVED] > 0;
        int raw = 0;
        for (size_t i = 0; i < r->nentries; i++)
            raw |= r->entries[i].s.p <= o.alpha;
        raw_alarms += raw;
        cmp_report_free(r);
        csvin_free(b);
        csvin_free(n);
    }
    print_message("# 300 A/A comparisons of 8 tests: %d flagged with Holm, %d with each test at alpha\n",
                  holm_alarms, raw_alarms);
    assert_true(holm_alarms <= 6); /* 2 x alpha: binomial(300, 0.01) exceeds 6 with probability 3% */
    assert_true(raw_alarms > holm_alarms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csvin_basic),
        cmocka_unit_test(test_csvin_errors),
        cmocka_unit_test(test_csvin_number),
        cmocka_unit_test(test_directions),
        cmocka_unit_test(test_judge_regressed_improved),
        cmocka_unit_test(test_judge_inconclusive),
        cmocka_unit_test(test_judge_not_measured_and_counts),
        cmocka_unit_test(test_power),
        cmocka_unit_test(test_false_alarms),
        cmocka_unit_test(test_tables_self),
        cmocka_unit_test(test_tables_match),
        cmocka_unit_test(test_tables_errors),
        cmocka_unit_test(test_holm),
        cmocka_unit_test(test_holm_family_alarms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
