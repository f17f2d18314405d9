/* vendor: the server-mode rate search against a fake server whose p99 meets
 * the bound exactly up to a known rate (so every probe and the answer are
 * known without timing anything: rates are compared exactly, they are sums
 * and halvings of small powers of two), and the system description's file
 * name. The prefill/decode split is checked end to end (tests/e2e/vendor.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/vendor.h"

typedef struct fake {
    double limit;   /* the highest rate whose p99 meets the bound */
    int calls;
    double asked[64];
} fake_t;

static int fake_probe(void *ctx, double qps, int *meets, mb_error_t *err)
{
    (void)err;
    fake_t *f = ctx;
    if (f->calls < 64)
        f->asked[f->calls] = qps;
    f->calls++;
    *meets = qps <= f->limit;
    return 0;
}

/* Doubling from 1: 1, 2, 4, 8 pass, 16 fails; then 4 bisections of
 * [8, 16]: 12 (fail), 10 (pass), 11 (fail), 10.5 (pass) -> 10.5, within
 * (16 - 8) / 2^4 = 0.5 below the true limit 10.9. */
static void test_search_brackets_then_bisects(void **state)
{
    (void)state;
    fake_t f = {10.9, 0, {0}};
    vend_search_t s = {1, 1000, 4};
    double best;
    int probes;
    mb_error_t err = {""};
    assert_int_equal(vend_search_max_qps(&s, fake_probe, &f, &best, &probes, &err), 0);
    assert_int_equal(probes, 9);
    assert_int_equal(f.calls, 9);
    const double want[9] = {1, 2, 4, 8, 16, 12, 10, 11, 10.5};
    for (int i = 0; i < 9; i++)
        assert_true(f.asked[i] == want[i]);
    assert_true(best == 10.5);
    assert_true(best <= f.limit && f.limit - best <= 0.5);
}

/* Everything passes: stops at max_qps without bisecting. */
static void test_search_capped(void **state)
{
    (void)state;
    fake_t f = {1e9, 0, {0}};
    vend_search_t s = {10, 50, 3};
    double best;
    int probes;
    mb_error_t err = {""};
    assert_int_equal(vend_search_max_qps(&s, fake_probe, &f, &best, &probes, &err), 0);
    assert_true(best == 50);
    assert_int_equal(probes, 4); /* 10, 20, 40, then 50 (not 80) */
}

/* Even the first rate fails: bisect between 0 and it. */
static void test_search_below_start(void **state)
{
    (void)state;
    fake_t f = {3, 0, {0}};
    vend_search_t s = {8, 100, 3};
    double best;
    int probes;
    mb_error_t err = {""};
    assert_int_equal(vend_search_max_qps(&s, fake_probe, &f, &best, &probes, &err), 0);
    assert_true(best == 3); /* 8 fails; 4 fails, 2 passes, 3 passes */
    assert_int_equal(probes, 4);
    fake_t none = {0, 0, {0}};
    assert_int_equal(vend_search_max_qps(&s, fake_probe, &none, &best, &probes, &err), 0);
    assert_true(best == 0);
}

static void test_search_bad_input(void **state)
{
    (void)state;
    fake_t f = {3, 0, {0}};
    vend_search_t s = {8, 4, 3};
    double best;
    int probes;
    mb_error_t err = {""};
    assert_int_equal(vend_search_max_qps(&s, fake_probe, &f, &best, &probes, &err), -1);
    assert_non_null(strstr(err.msg, "start rate < max rate"));
    assert_int_equal(f.calls, 0);
}

static void test_system_path(void **state)
{
    (void)state;
    char p[256];
    mb_schema_system_path("results/demo/demo.csv", p, sizeof p);
    assert_string_equal(p, "results/demo/demo.system.txt");
    mb_schema_system_path("out.data", p, sizeof p);
    assert_string_equal(p, "out.data.system.txt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_brackets_then_bisects),
        cmocka_unit_test(test_search_capped),
        cmocka_unit_test(test_search_below_start),
        cmocka_unit_test(test_search_bad_input),
        cmocka_unit_test(test_system_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
