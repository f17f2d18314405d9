/* Tests of issue 17's library pieces, each against an independent
 * implementation: pairwise-difference selection against sorting all the
 * differences (exact: the same doubles must come out, tolerance 0), the
 * large-sample ratio interval against the sorted one on sizes both handle
 * (exact, same reason), the O(n log n) duplicate-column check against the
 * pairwise scan it replaced, text escaping, the --ids line parser, the
 * input/output path checks and the finite-weights check. */
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/csvin.h"
#include "analysis/stats.h"
#include "analysis/stats_pairs.h"
#include "common/mb_file.h"
#include "common/mb_ids.h"
#include "common/mb_text.h"
#include "models/safetensors.h"

static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* every k of small random samples, ties included, against the sorted list */
static void test_pairs_kth(void **state)
{
    (void)state;
    for (int trial = 0; trial < 40; trial++) {
        size_t n = 1 + (size_t)(urand() * 30), m = 1 + (size_t)(urand() * 30);
        double x[32], y[32], *all = malloc(n * m * sizeof *all);
        for (size_t i = 0; i < n; i++)
            x[i] = trial % 3 ? log(1 + floor(urand() * 5)) : urand() * 10 - 5; /* many ties / none */
        for (size_t j = 0; j < m; j++)
            y[j] = trial % 3 ? log(1 + floor(urand() * 5)) : urand() * 10 - 5;
        qsort(x, n, sizeof *x, cmp_d);
        qsort(y, m, sizeof *y, cmp_d);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m; j++)
                all[i * m + j] = y[j] - x[i];
        qsort(all, n * m, sizeof *all, cmp_d);
        for (size_t k = 0; k < n * m; k++)
            if (stats_pairs_kth(x, n, y, m, k) != all[k])
                fail_msg("trial %d n %zu m %zu k %zu: %.17g, sorted %.17g", trial, n, m, k,
                         stats_pairs_kth(x, n, y, m, k), all[k]);
        free(all);
    }
}

/* 100 x 150 = 15000 ratios: both paths apply (normal ranks either way) and
 * must give the same doubles */
static void test_ratio_ci_pairs_matches_sorted(void **state)
{
    (void)state;
    size_t n = 100, m = 150;
    double *b = malloc(n * sizeof *b), *x = malloc(m * sizeof *x);
    for (size_t i = 0; i < n; i++)
        b[i] = 100 + urand() * 10;
    for (size_t j = 0; j < m; j++)
        x[j] = 95 + urand() * 10 + (j % 7 == 0 ? 3 : 0);
    double e1, l1, h1, e2, l2, h2;
    mb_error_t err;
    assert_int_equal(stats_ratio_ci(b, n, x, m, 0.99, &e1, &l1, &h1, &err), 0);
    assert_int_equal(stats_ratio_ci_pairs(b, n, x, m, 0.99, &e2, &l2, &h2), 0);
    assert_true(e1 == e2);
    assert_true(l1 == l2);
    assert_true(h1 == h2);
    free(b);
    free(x);
}

/* 5000 x 5000 (over the sorted path's 2^24): an interval, around the shift */
static void test_ratio_ci_large(void **state)
{
    (void)state;
    size_t n = 5000;
    double *b = malloc(n * sizeof *b), *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        b[i] = 100 * (1 + 0.01 * urand());
        x[i] = 90 * (1 + 0.01 * urand());
    }
    double e, lo, hi;
    mb_error_t err;
    assert_int_equal(stats_ratio_ci(b, n, x, n, 0.99, &e, &lo, &hi, &err), 0);
    /* both spread uniformly over 1%: the ratio is 0.9 to within that */
    assert_true(lo <= e && e <= hi);
    assert_true(fabs(e - 0.9) < 0.001);
    assert_true(hi - lo < 0.001);
    free(b);
    free(x);
}

/* the first duplicate in file order, as the old pairwise scan found it */
static void test_duplicate_columns(void **state)
{
    (void)state;
    for (int trial = 0; trial < 200; trial++) {
        int n = 2 + (int)(urand() * 40);
        char text[4096] = "", names[64][16];
        for (int i = 0; i < n; i++) {
            int v = (int)(urand() * (trial % 2 ? 60 : 20));
            if (v < 2)
                names[i][0] = '\0'; /* empty names never count as duplicates */
            else
                snprintf(names[i], sizeof names[i], "c%d", v);
            strcat(text, names[i]);
            strcat(text, i + 1 < n ? "," : "\n");
        }
        int want_i = -1, want_j = -1;
        for (int i = 0; i < n && want_i < 0; i++)
            for (int j = 0; j < i; j++)
                if (names[i][0] && !strcmp(names[i], names[j])) {
                    want_i = i;
                    want_j = j;
                    break;
                }
        csvin_t *t;
        mb_error_t err;
        int rc = csvin_parse("h.csv", text, strlen(text), &t, &err);
        if (want_i < 0) {
            if (rc != 0)
                fail_msg("trial %d: '%s' refused: %s", trial, text, err.msg);
            csvin_free(t);
        } else {
            char want[200];
            snprintf(want, sizeof want, "h.csv:1: column '%s' appears twice in the header (columns %d and %d)",
                     names[want_i], want_j + 1, want_i + 1);
            assert_int_equal(rc, -1);
            assert_string_equal(err.msg, want);
        }
    }
}

static void test_column_cap(void **state)
{
    (void)state;
    size_t len = 0, cap = (CSVIN_MAX_COLS + 10) * 8;
    char *text = malloc(cap);
    for (int i = 0; i <= CSVIN_MAX_COLS; i++)
        len += (size_t)snprintf(text + len, cap - len, "c%d%s", i, i < CSVIN_MAX_COLS ? "," : "\n");
    csvin_t *t;
    mb_error_t err;
    assert_int_equal(csvin_parse("w.csv", text, len, &t, &err), -1);
    assert_non_null(strstr(err.msg, "w.csv:1: more than 4096 fields in one row, the limit"));
    /* exactly the cap is fine */
    len = 0;
    for (int i = 0; i < CSVIN_MAX_COLS; i++)
        len += (size_t)snprintf(text + len, cap - len, "c%d%s", i, i + 1 < CSVIN_MAX_COLS ? "," : "\n");
    assert_int_equal(csvin_parse("w.csv", text, len, &t, &err), 0);
    assert_int_equal(t->ncols, CSVIN_MAX_COLS);
    csvin_free(t);
    free(text);
}

static void test_text_escape(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(mb_text_escape(b, sizeof b, "plain äö", 1), "plain äö");
    assert_string_equal(mb_text_escape(b, sizeof b, "a|b\nc\td\r\x1b[2J\x7f", 1), "a\\|b\\nc\\td\\r\\x1b[2J\\x7f");
    assert_string_equal(mb_text_escape(b, sizeof b, "a|b\n", 0), "a|b\\n");
    assert_true(mb_text_needs_escape("a|b", 1));
    assert_false(mb_text_needs_escape("a|b", 0));
    /* cut with "..." and always terminated */
    char s[8];
    assert_string_equal(mb_text_escape(s, sizeof s, "abcdefghij", 0), "abcd...");
    assert_string_equal(mb_text_escape(s, sizeof s, "abc", 0), "abc");
    assert_string_equal(mb_md("x|y"), "x\\|y");
    assert_string_equal(mb_term("x\ny"), "x\\ny");
}

/* parses s (its first len bytes) from empty; returns mb_ids_parse's value */
static int ids_of(const char *s, size_t len, int limit, int **row, size_t *n, size_t *bad, size_t *bad_len)
{
    size_t cap = 0;
    free(*row);
    *row = NULL;
    *n = 0;
    return mb_ids_parse(s, len, limit, row, &cap, n, bad, bad_len);
}

static void test_ids_line(void **state)
{
    (void)state;
    int *row = NULL;
    size_t n, bad, bad_len;
    const char ok[] = " 5\t6  2147483647 0\r\n";
    assert_int_equal(ids_of(ok, strlen(ok), 0, &row, &n, &bad, &bad_len), MB_IDS_OK);
    assert_int_equal(n, 4);
    assert_int_equal(row[0], 5);
    assert_int_equal(row[2], 2147483647);
    assert_int_equal(row[3], 0);
    /* a NUL: the ids before it are kept, its offset is reported */
    const char nul[] = "5 6\0 7 8\n";
    assert_int_equal(ids_of(nul, sizeof nul - 1, 0, &row, &n, &bad, &bad_len), MB_IDS_NUL);
    assert_int_equal(bad, 3);
    assert_int_equal(n, 2);
    static const char *const not_ids[] = {"-1", "+5", "2147483648", "5x", "x", "99999999999999999999999999",
                                          "0x10", "1.5"};
    for (size_t i = 0; i < sizeof not_ids / sizeof not_ids[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "7 %s 8", not_ids[i]);
        if (ids_of(line, strlen(line), 0, &row, &n, &bad, &bad_len) != MB_IDS_BAD)
            fail_msg("'%s' accepted", not_ids[i]);
        assert_int_equal(bad, 2);
        assert_int_equal(bad_len, strlen(not_ids[i]));
    }
    /* the limit: ids below it only, at every digit count (1, 9, 10, 99, 100) */
    static const struct { const char *id; int limit, ok; } lim[] = {
        {"0", 1, 1},  {"1", 1, 0},  {"5", 1, 0},   {"8", 9, 1},    {"9", 9, 0},     {"9", 10, 1},
        {"10", 10, 0}, {"98", 99, 1}, {"99", 99, 0}, {"99", 100, 1}, {"100", 100, 0}, {"0099", 100, 1},
    };
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if ((ids_of(lim[i].id, strlen(lim[i].id), lim[i].limit, &row, &n, &bad, &bad_len) == MB_IDS_OK) != lim[i].ok)
            fail_msg("'%s' below %d: expected %s", lim[i].id, lim[i].limit, lim[i].ok ? "accepted" : "refused");
    /* no read past the given length: the digits after it are not part of the line */
    const char cut[] = "12 345";
    assert_int_equal(ids_of(cut, 4, 0, &row, &n, &bad, &bad_len), MB_IDS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(row[1], 3);
    /* many ids: the array grows */
    char many[4000];
    size_t at = 0;
    for (int i = 0; i < 900; i++)
        at += (size_t)snprintf(many + at, sizeof many - at, "%d ", i);
    assert_int_equal(ids_of(many, at, 900, &row, &n, &bad, &bad_len), MB_IDS_OK);
    assert_int_equal(n, 900);
    assert_int_equal(row[899], 899);
    free(row);
}

static char dir[64];

static void test_paths(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mb-robust-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char p[128], q[128];
    mb_error_t err;
    FILE *f;
    /* inputs */
    assert_int_equal(mb_input_open(dir, "thing", 0, &f, &err), -1);
    assert_non_null(strstr(err.msg, ": is a directory; give a thing"));
    snprintf(p, sizeof p, "%s/fifo", dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(mb_input_open(p, "thing", 0, &f, &err), -1); /* returns at once: O_NONBLOCK */
    assert_non_null(strstr(err.msg, "is a FIFO (named pipe), not a regular file; give a thing"));
    snprintf(q, sizeof q, "%s/empty", dir);
    fclose(fopen(q, "w"));
    assert_int_equal(mb_input_open(q, "thing", 0, &f, &err), -1);
    assert_non_null(strstr(err.msg, "empty: is empty; give a thing"));
    assert_int_equal(mb_input_open(q, "thing", MB_IN_ALLOW_EMPTY, &f, &err), 0);
    fclose(f);
    char *buf;
    size_t len;
    FILE *w = fopen(q, "w");
    fputs("0123456789", w);
    fclose(w);
    assert_int_equal(mb_input_read(q, "thing", 0, 10, &buf, &len, &err), 0);
    assert_int_equal(len, 10);
    assert_string_equal(buf, "0123456789");
    free(buf);
    assert_int_equal(mb_input_read(q, "thing", 0, 9, &buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "is larger than 9 bytes, the limit for a thing"));
    /* outputs */
    assert_int_equal(mb_output_check("", "report", &err), -1);
    assert_string_equal(err.msg, "the report name is empty; give a file name");
    assert_int_equal(mb_output_check(dir, "report", &err), -1);
    assert_non_null(strstr(err.msg, ": is a directory; give a file name for the report"));
    assert_int_equal(mb_output_check(p, "report", &err), -1);
    assert_non_null(strstr(err.msg, "is a FIFO (named pipe); the report must be a regular file"));
    assert_int_equal(mb_output_check("/dev/null", "report", &err), -1);
    assert_non_null(strstr(err.msg, "/dev/null: is a character device"));
    snprintf(p, sizeof p, "%s/no/such/x.md", dir);
    assert_int_equal(mb_output_check(p, "report", &err), -1);
    assert_non_null(strstr(err.msg, "does not exist"));
    snprintf(p, sizeof p, "%s/new.md", dir);
    assert_int_equal(mb_output_check(p, "report", &err), 0); /* a new file in an existing folder */
    assert_int_equal(mb_output_check(q, "report", &err), 0);  /* an existing regular file */
    char rm[160];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    assert_int_equal(system(rm), 0);
}

static void test_finite_check(void **state)
{
    (void)state;
    model_t *m = test_model("dense", 7, 1.25f);
    mb_error_t err;
    assert_int_equal(model_check_finite(m, "x.st", &err), 0);
    int t = m->n_tensors - 1;
    m->tensor[t][3] = INFINITY;
    m->tensor[t][5] = NAN;
    assert_int_equal(model_check_finite(m, "x.st", &err), -1);
    char want[200];
    snprintf(want, sizeof want, "x.st: tensor '%s' has +Inf at index 3 (of %llu)", m->specs[t].name,
             (unsigned long long)m->specs[t].n);
    assert_non_null(strstr(err.msg, want));
    model_free(m);
}

/* a 1 KB file whose metadata claims wmt32e (hundreds of millions of
 * parameters) is refused from its header, before any weight is allocated */
static void test_small_file_big_claim(void **state)
{
    (void)state;
    model_config_t c;
    mb_error_t err;
    assert_int_equal(model_preset("wmt32e", "token-moe", &c, &err), 0);
    model_meta_t meta;
    model_config_to_meta(&c, &meta);
    const char *keys[MODEL_META_MAX], *values[MODEL_META_MAX];
    for (int i = 0; i < meta.n; i++) {
        keys[i] = meta.key[i];
        values[i] = meta.value[i];
    }
    float x[4] = {0};
    st_out_tensor_t t = {"enc.embed", ST_F32, 1, {4}, x};
    char path[] = "/tmp/mb-claim-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(st_write(path, keys, values, meta.n, &t, 1, &err), 0);
    model_t *m = NULL;
    assert_int_equal(model_load(path, &m, &err), -1);
    assert_null(m);
    assert_non_null(strstr(err.msg, "parameters but its tensors hold 4 values; the file is truncated or does not "
                                    "match its metadata"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs_kth),          cmocka_unit_test(test_ratio_ci_pairs_matches_sorted),
        cmocka_unit_test(test_ratio_ci_large),     cmocka_unit_test(test_duplicate_columns),
        cmocka_unit_test(test_column_cap),         cmocka_unit_test(test_text_escape),
        cmocka_unit_test(test_ids_line),           cmocka_unit_test(test_paths),
        cmocka_unit_test(test_finite_check),       cmocka_unit_test(test_small_file_big_claim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
