/* The harness: scenario parsing (a good file, and a table of bad ones with
 * their expected "FILE:LINE: message"), latency statistics against
 * hand-computed values, the server mode's arrival process, and a real run
 * whose CSV is re-read with libcsv and checked column by column. */
#include "common/mb_stats.h"
#include "testutil.h"

#include <csv.h>
#include <unistd.h>

#include "harness/csvout.h"
#include "harness/measure.h"
#include "harness/runner.h"
#include "harness/scenario.h"
#include "harness/workload.h"

/* ---- scenario files ---- */

static void test_scenario_good(void **state)
{
    (void)state;
    const char *text = "; a comment\n"
                       "[scenario]\nname = s-1\nseed = 7\nmodes = offline, server\nbatch_sizes = 1,4, 16\n"
                       "target_qps = 2.5, 10\nmax_batch = 4\nbatch_timeout_ms = 3\nlatency_bound_ms = 250\n"
                       "[model]\npreset = small\nvariants = token-moe, task-subnet\ncapacity_factor = 0\n"
                       "experts = 4\n"
                       "[workload]\ntasks = en-de, de-en\nsentences = 5\ndecode = beam:4\nmax_len = 20\n"
                       "output_length = source\n"
                       "[measure]\nbackends = ref\nthreads = 1, 2\nwarmup = 0\nrepetitions = 4\n"
                       "min_time_s = 0.5\ncounters = none\n";
    scn_t s;
    mb_error_t err;
    if (scn_load_string(text, "good.ini", &s, &err))
        fail_msg("%s", err.msg);
    assert_string_equal(s.name, "s-1");
    assert_int_equal(s.seed, 7);
    assert_int_equal(s.n_modes, 2);
    assert_int_equal(s.modes[1], SCN_SERVER);
    assert_int_equal(s.n_batch_sizes, 3);
    assert_int_equal(s.batch_sizes[2], 16);
    assert_true(s.target_qps[0] == 2.5 && s.n_qps == 2);
    assert_int_equal(s.max_batch, 4);
    assert_string_equal(s.preset, "small");
    assert_int_equal(s.n_variants, 2);
    assert_string_equal(s.variants[1], "task-subnet");
    assert_true(s.capacity_factor == 0.0);
    assert_int_equal(s.experts, 4);
    assert_int_equal(s.beam, 4);
    assert_int_equal(s.output_length, SCN_OUT_SOURCE);
    assert_int_equal(s.n_threads, 2);
    assert_int_equal(s.repetitions, 4);
    assert_int_equal(s.n_counters, 0);
    assert_null(scn_file_for(&s, "token-moe"));
    assert_int_equal(scn_load_string("[model]\nfiles = token-moe:/a/b.safetensors, dense:c.st\n", "f.ini", &s, &err), 0);
    assert_string_equal(scn_file_for(&s, "token-moe"), "/a/b.safetensors");
    assert_string_equal(scn_file_for(&s, "dense"), "c.st");
    /* defaults where nothing is said */
    assert_string_equal(s.data, "synthetic");
    assert_int_equal(s.n_precisions, 1);
    assert_int_equal(s.n_backends, 1);
    assert_string_equal(s.backends[0], "auto"); /* the fastest here; rows record which (plan.c) */
    /* all four precisions in one list */
    assert_int_equal(scn_load_string("[measure]\nprecisions = fp32, bf16, int8, int8all\n", "p.ini", &s, &err), 0);
    assert_int_equal(s.n_precisions, 4);
    assert_string_equal(s.precisions[3], "int8all");
}

static void test_scenario_bad_files(void **state)
{
    (void)state;
    static const struct { const char *text, *want; } bad[] = {
        {"[measure]\nrepetitons = 3\n", "bad.ini:2: unknown key 'repetitons' in [measure]"},
        {"[measures]\nrepetitions = 3\n", "bad.ini:2: unknown section [measures]"},
        {"[scenario]\nmodes = offline, batch\n", "bad.ini:2: modes: unknown mode 'batch'"},
        {"[scenario]\nbatch_sizes = 8, 0\n", "bad.ini:2: batch_sizes: '0' is not a whole number in [1, 4096]"},
        {"[scenario]\nseed = 1\nseed = 2\n", "bad.ini:3: key 'seed' in [scenario] is set twice"},
        {"[workload]\ndecode = beam:0\n", "bad.ini:2: decode: decode 'beam:0' is not greedy or beam:K"},
        {"[model]\npreset = huge\n", "bad.ini:2: preset: unknown preset 'huge'"},
        {"[model]\nvariants = dense, mixture\n", "bad.ini:2: variants: 'mixture' is not one of"},
        {"[measure]\nbackends = ref, cuda\n", "bad.ini:2: backends: 'cuda' is not one of: ref, openblas, onednn"},
        {"[scenario]\nthis line has no equals sign\n", "bad.ini:2: not a 'key = value' line"},
        {"[scenario]\nname = my run\n", "bad.ini:2: name: name 'my run' may hold only"},
        {"[workload]\ntasks = en-de, EN-fr\n", "bad.ini:2: tasks: 'EN-fr' is not a language pair"},
        {"[workload]\nsentences = lots\n", "bad.ini:2: sentences: 'lots' is not a whole number"},
        {"[measure]\nthreads = 1,,2\n", "bad.ini:2: threads: the list '1,,2' has an empty item"},
        {"[scenario]\ntarget_qps = -1\n", "bad.ini:2: target_qps: '-1' is not a number"},
        {"[model]\ntasks = en-de\n[workload]\ntasks = de-en\n", "bad.ini: [workload] task de-en is not among [model] tasks"},
        {"[workload]\noutput_length = reference\n", "bad.ini: [workload] output_length = reference needs real data"},
        {"[model]\nfiles = tokenmoe:/m.safetensors\n", "bad.ini:2: files: 'tokenmoe' in 'tokenmoe:/m.safetensors' is not a variant"},
        {"[model]\nfiles = token-moe\n", "bad.ini:2: files: 'token-moe' is not variant:path"},
        {"[workload]\ntasks = all\n", "bad.ini: [workload] tasks = all needs real data"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        scn_t s;
        mb_error_t err;
        assert_int_equal(scn_load_string(bad[i].text, "bad.ini", &s, &err), -1);
        if (strncmp(err.msg, bad[i].want, strlen(bad[i].want)))
            fail_msg("case %zu: got '%s', want '%s...'", i, err.msg, bad[i].want);
    }
    scn_t s;
    mb_error_t err;
    assert_int_equal(scn_load("/nonexistent/x.ini", &s, &err), -1);
    /* the system's reason and a way out, not only "cannot open" */
    assert_string_equal(err.msg, "/nonexistent/x.ini: cannot open: No such file or directory; check the path "
                                 "(the shipped scenarios are in scenarios/, keys in scenarios/README.md)");
}

/* tasks = all: every ordered pair of the languages the data set has */
static void test_scenario_all_tasks(void **state)
{
    (void)state;
    const char *data = getenv("MOEBENCH_DATA");
    char text[512], probe[512];
    snprintf(probe, sizeof probe, "%s/wmt/newstest2013.ru", data ? data : "");
    if (!data || access(probe, R_OK) != 0) {
        printf("# skip: no data at %s (set MOEBENCH_DATA)\n", data ? data : "(MOEBENCH_DATA unset)");
        skip();
    }
    snprintf(text, sizeof text, "[workload]\ndata = newstest2013\ndata_dir = %s\ntasks = all\n", data);
    scn_t s;
    mb_error_t err;
    if (scn_load_string(text, "all.ini", &s, &err))
        fail_msg("%s", err.msg);
    model_config_t c;
    assert_int_equal(model_config_set_tasks(&c, s.tasks, &err), 0);
    assert_int_equal(c.n_tasks, 30); /* 6 languages: cs de en es fr ru */
    assert_string_equal(c.tasks[0], "cs-de");
    snprintf(text, sizeof text, "[workload]\ndata = multi30k-test\ndata_dir = %s\ntasks = all\n", data);
    assert_int_equal(scn_load_string(text, "all.ini", &s, &err), 0);
    assert_int_equal(model_config_set_tasks(&c, s.tasks, &err), 0);
    assert_int_equal(c.n_tasks, 12); /* Multi30k: cs de en fr */
}

static void test_shipped_scenarios_parse(void **state)
{
    (void)state;
    const char *files[] = {"../scenarios/quick.ini", "../scenarios/demo.ini", "../scenarios/paper-wmt32e.ini",
                           "../scenarios/vendor-eval.ini", "../scenarios/ci-regression.ini"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        scn_t s;
        mb_error_t err;
        if (scn_load(files[i], &s, &err))
            fail_msg("%s", err.msg);
    }
}

/* ---- statistics ---- */

static void test_summary_hand_computed(void **state)
{
    (void)state;
    double x[5] = {5, 1, 4, 2, 3};
    meas_summary_t s;
    meas_summarize(x, 5, &s);
    /* mean 3; sample variance (4+1+0+1+4)/4 = 2.5; nearest rank: p50 -> 3rd of 5, p90 and p99 -> 5th */
    assert_true(s.mean == 3.0);
    assert_true(fabs(s.std - sqrt(2.5)) < 1e-12);
    assert_true(s.p50 == 3.0 && s.p90 == 5.0 && s.p99 == 5.0 && s.min == 1.0 && s.max == 5.0);
    double y[100];
    for (int i = 0; i < 100; i++)
        y[i] = 100 - i; /* 100..1, unsorted */
    meas_summarize(y, 100, &s);
    assert_true(s.p50 == 50.0 && s.p90 == 90.0 && s.p99 == 99.0);
    double one = 7;
    meas_summarize(&one, 1, &s);
    assert_true(s.p50 == 7 && s.p99 == 7 && s.std == 0);
    assert_true(mb_percentile_sorted(y, 100, 0.5) == 1.0); /* rank rounds up to 1 */
}

/* A Poisson process at rate q has exponential gaps: mean 1/q and standard
 * deviation 1/q. With 20000 gaps the sample mean's relative error has
 * sd 1/sqrt(20000) = 0.7%; 3% is over 4 sd. */
static void test_server_arrivals_rate(void **state)
{
    (void)state;
    enum { N = 20000 };
    static double t[N];
    const double q = 20.0;
    wl_arrivals(42, "test", q, N, t);
    double mean = t[N - 1] / N, ss = 0, prev = 0;
    for (int i = 0; i < N; i++) {
        double gap = t[i] - prev;
        assert_true(gap >= 0);
        ss += (gap - mean) * (gap - mean);
        prev = t[i];
    }
    assert_true(fabs(mean * q - 1.0) < 0.03);
    assert_true(fabs(sqrt(ss / (N - 1)) * q - 1.0) < 0.05);
    static double u[N];
    wl_arrivals(42, "test", q, N, u); /* seeded: the same again */
    assert_memory_equal(t, u, sizeof t);
}

/* ---- a real run, re-read with libcsv ---- */

typedef struct table {
    int rows, cols, cap;
    char **cell;               /* [rows * CSV_NCOLS] */
    int bad_width;
} table_t;

static void on_field(void *s, size_t len, void *data)
{
    table_t *t = data;
    if (t->cols >= CSV_NCOLS) {
        t->bad_width = 1;
        return;
    }
    if ((t->rows + 1) * CSV_NCOLS > t->cap) {
        t->cap = (t->rows + 16) * CSV_NCOLS;
        t->cell = realloc(t->cell, sizeof(char *) * (size_t)t->cap);
    }
    char *c = malloc(len + 1);
    memcpy(c, s, len);
    c[len] = '\0';
    t->cell[t->rows * CSV_NCOLS + t->cols++] = c;
}

static void on_row(int ch, void *data)
{
    (void)ch;
    table_t *t = data;
    if (t->cols != CSV_NCOLS)
        t->bad_width = 1;
    t->rows++;
    t->cols = 0;
}

static const char *cell(const table_t *t, int row, int col)
{
    return t->cell[row * CSV_NCOLS + col];
}

static void test_run_csv_column_by_column(void **state)
{
    (void)state;
    char dir[] = "/tmp/mb_harness_XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *text = "[scenario]\nname = t\nmodes = offline, single-stream, server\nbatch_sizes = 2, 4\n"
                       "target_qps = 500\nmax_batch = 4\nlatency_bound_ms = 10000\n"
                       "[model]\npreset = tiny\nvariants = token-moe, task-subnet\n"
                       "[workload]\ntasks = en-de, fr-en\nsentences = 5\n"
                       "[measure]\nbackends = ref\nwarmup = 0\nrepetitions = 2\n";
    scn_t s;
    mb_error_t err;
    assert_int_equal(scn_load_string(text, "t.ini", &s, &err), 0);
    run_opts_t o = {0};
    o.out_dir = dir;
    char path[1024];
    if (runner_run(&s, &o, path, sizeof path, &err) != 0)
        fail_msg("run: %s", err.msg);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed, nothing left behind */

    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct csv_parser p;
    assert_int_equal(csv_init(&p, CSV_STRICT | CSV_APPEND_NULL), 0);
    table_t t = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        assert_int_equal(csv_parse(&p, buf, n, on_field, on_row, &t), n);
    csv_fini(&p, on_field, on_row, &t);
    csv_free(&p);
    fclose(f);
    assert_false(t.bad_width);
    /* header, then 2 variants x 2 tasks x (2 batch sizes + single-stream + 1 rate) x 2 reps */
    assert_int_equal(t.rows, 1 + 2 * 2 * 4 * 2);
    for (int c = 0; c < CSV_NCOLS; c++)
        assert_string_equal(cell(&t, 0, c), csvout_names[c]);
    for (int r = 1; r < t.rows; r++) {
        assert_string_equal(cell(&t, r, CSV_schema_version), "2");
        /* identity and busy-machine cells */
        assert_string_equal(cell(&t, r, CSV_kernel), "ref portable C");
        assert_int_equal(strlen(cell(&t, r, CSV_machine_id)), 16);
        assert_true(!strcmp(cell(&t, r, CSV_starved), "0") || !strcmp(cell(&t, r, CSV_starved), "1"));
        assert_int_equal(cell(&t, r, CSV_starved_note)[0] != '\0', cell(&t, r, CSV_starved)[0] == '1');
        assert_true(cell(&t, r, CSV_cpu_util)[0] != '\0');
        assert_int_equal(atoll(cell(&t, r, CSV_model_bytes)), 4 * atoll(cell(&t, r, CSV_params_total)));
        assert_string_equal(cell(&t, r, CSV_run_id), cell(&t, 1, CSV_run_id));
        assert_string_equal(cell(&t, r, CSV_scenario), "t");
        assert_string_equal(cell(&t, r, CSV_backend), "ref");
        assert_string_equal(cell(&t, r, CSV_sentences), "5");
        double wall = atof(cell(&t, r, CSV_wall_s)), tgt = atof(cell(&t, r, CSV_tgt_tokens));
        assert_true(wall > 0);
        assert_true(fabs(atof(cell(&t, r, CSV_tgt_tok_per_s)) - tgt / wall) <= 1e-3 * tgt / wall + 1e-3);
        double p50 = atof(cell(&t, r, CSV_latency_p50_ms)), p90 = atof(cell(&t, r, CSV_latency_p90_ms)),
               p99 = atof(cell(&t, r, CSV_latency_p99_ms));
        assert_true(p50 > 0 && p50 <= p90 && p90 <= p99);
        const char *mode = cell(&t, r, CSV_mode);
        int server = !strcmp(mode, "server");
        assert_int_equal(cell(&t, r, CSV_target_qps)[0] != '\0', server);
        assert_int_equal(cell(&t, r, CSV_latency_ok)[0] != '\0', server);
        if (!strcmp(mode, "single-stream"))
            assert_string_equal(cell(&t, r, CSV_batch_size), "1");
        /* synthetic data, output_length auto: exactly the source length, so
         * target tokens = source tokens - 2 (tag and EOS) per sentence */
        assert_true(tgt == atof(cell(&t, r, CSV_src_tokens)) - 2 * 5);
        /* parameters: the sub-network serves with fewer */
        long long total = atoll(cell(&t, r, CSV_params_total)), served = atoll(cell(&t, r, CSV_params_served));
        if (!strcmp(cell(&t, r, CSV_variant), "task-subnet"))
            assert_true(total == served);
        else
            assert_true(served == total && atoll(cell(&t, r, CSV_params_active)) < total);
        assert_true(atoll(cell(&t, r, CSV_routed_assignments)) > 0);
        /* no vocabulary: no BLEU, never a made-up number */
        assert_string_equal(cell(&t, r, CSV_bleu), "");
        assert_non_null(strstr(cell(&t, r, CSV_quality_note), "no references"));
        /* counters: a value, or an empty cell and a note saying why */
        if (cell(&t, r, CSV_papi_tot_ins)[0] == '\0')
            assert_true(strlen(cell(&t, r, CSV_counters_note)) > 0);
        assert_true(atof(cell(&t, r, CSV_peak_rss_mb)) > 0);
        assert_true(cell(&t, r, CSV_task_clock_ms)[0] != '\0');
        /* start-up: measured, and one value for the two repetitions of a configuration (rows in pairs) */
        assert_true(atof(cell(&t, r, CSV_load_s)) > 0);
        if (!strcmp(cell(&t, r, CSV_rep), "2"))
            assert_string_equal(cell(&t, r, CSV_load_s), cell(&t, r - 1, CSV_load_s));
    }
    for (int i = 0; i < t.rows * CSV_NCOLS; i++)
        free(t.cell[i]);
    free(t.cell);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenario_good),
        cmocka_unit_test(test_scenario_bad_files),
        cmocka_unit_test(test_scenario_all_tasks),
        cmocka_unit_test(test_shipped_scenarios_parse),
        cmocka_unit_test(test_summary_hand_computed),
        cmocka_unit_test(test_server_arrivals_rate),
        cmocka_unit_test(test_run_csv_column_by_column),
    };
    return cmocka_run_group_tests_name("harness", tests, NULL, NULL);
}
