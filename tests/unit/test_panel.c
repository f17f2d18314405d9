/* The panel kernels (backends/panel.c) against a product computed here in
 * double, output by output, for every instruction set this CPU runs them
 * with: shapes that cut panels, k-blocks, row groups and row chunks in every
 * place (N, K and M around 64, 128, 6 and 240), with and without bias.
 *
 * Tolerance: each output is one fp32 sum of K products, so its error is at
 * most about K * 2^-24 * sum_k |x_k w_k| (plus the bias's rounding); the test
 * allows 4 * K * 2^-24 * (sum |x w| + |b|). A wrong panel, transpose, mask
 * or block boundary is off by the size of a whole term, far beyond that.
 * Also: results are the same to the bit whatever the thread count and
 * whatever rows share the call (the layout's promise in panel.h); an
 * instruction set the CPU lacks is refused with y untouched. */
#include "testutil.h"

#include "backends/panel.h"

static float *rnd(size_t n, uint64_t seed, float scale)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    assert_non_null(p);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        p[i] = scale * ((float)(s >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
    }
    return p;
}

static float *packed(const float *W, int N, int K)
{
    size_t n = pnl_packed_floats(N, K);
    float *P = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    assert_non_null(P);
    pnl_pack(W, N, K, P);
    return P;
}

/* pnl_linear with its scratch */
static int lin(pnl_isa_t isa, const float *P, int N, int K, const float *x, int M, const float *b, float *y, int threads)
{
    size_t n = pnl_scratch_floats(M, K); /* exactly: ASan sees a write past it */
    float *scratch = malloc(sizeof(float) * (n ? n : 1));
    assert_non_null(scratch);
    int rc = pnl_linear(isa, P, N, K, x, M, b, y, threads, scratch);
    free(scratch);
    return rc;
}

static int isas(pnl_isa_t *out)
{
    int n = 0;
    pnl_isa_t best = pnl_best_isa();
    if (best == PNL_AVX512)
        out[n++] = PNL_AVX512;
    if (best >= PNL_AVX2)
        out[n++] = PNL_AVX2;
    return n;
}

static void check_shape(pnl_isa_t isa, int M, int N, int K, int bias, int threads)
{
    float *W = rnd((size_t)N * K, (uint64_t)N * 7 + K, 0.5f), *x = rnd((size_t)M * K, (uint64_t)M * 3 + K, 2.0f);
    float *b = bias ? rnd((size_t)N, (uint64_t)N + 11, 0.3f) : NULL;
    float *P = packed(W, N, K), *y = malloc(sizeof(float) * (size_t)M * N);
    assert_non_null(y);
    assert_int_equal(lin(isa, P, N, K, x, M, b, y, threads), 0);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double exact = b ? b[n] : 0.0, mag = b ? fabs(b[n]) : 0.0;
            for (int k = 0; k < K; k++) {
                exact += (double)x[(size_t)m * K + k] * W[(size_t)n * K + k];
                mag += fabs((double)x[(size_t)m * K + k] * W[(size_t)n * K + k]);
            }
            double got = y[(size_t)m * N + n], tol = 4.0 * (K + 1) * ldexp(1.0, -24) * mag + 1e-30;
            if (!(fabs(got - exact) <= tol))
                fail_msg("%s M=%d N=%d K=%d bias=%d: y[%d,%d] = %.9g, exact %.9g (tolerance %.3g)",
                         pnl_isa_name(isa), M, N, K, bias, m, n, got, exact, tol);
        }
    free(W), free(x), free(b), free(P), free(y);
}

static void test_panel_vs_double(void **state)
{
    (void)state;
    pnl_isa_t is[2];
    int n = isas(is);
    if (!n)
        skip(); /* no AVX2+FMA: the backends do not use these kernels */
    static const int shapes[][3] = {
        /* M, N, K: tails of every block size */
        {1, 1, 1},    {1, 64, 128},  {2, 63, 127},  {5, 65, 129},  {6, 128, 256}, {7, 130, 300},
        {13, 200, 5}, {64, 320, 512}, {64, 64, 513}, {241, 70, 64}, {250, 33, 130}, {480, 129, 40},
        {300, 70, 4100}, /* K so large that a chunk has fewer rows (the L2 budget for x) */
    };
    for (int i = 0; i < n; i++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int bias = 0; bias < 2; bias++)
                check_shape(is[i], shapes[s][0], shapes[s][1], shapes[s][2], bias, 1 + (int)(s % 2));
}

/* Bitwise: 1 vs 3 threads; the whole call vs each row alone (so a row's
 * result does not depend on the group or chunk it falls in). */
static void test_panel_deterministic(void **state)
{
    (void)state;
    pnl_isa_t is[2];
    int n = isas(is);
    if (!n)
        skip();
    const int M = 250, N = 200, K = 300;
    float *W = rnd((size_t)N * K, 5, 0.5f), *x = rnd((size_t)M * K, 6, 2.0f), *b = rnd((size_t)N, 7, 0.3f);
    float *P = packed(W, N, K);
    float *y1 = malloc(sizeof(float) * (size_t)M * N), *y3 = malloc(sizeof(float) * (size_t)M * N);
    float *yr = malloc(sizeof(float) * (size_t)N);
    assert_true(y1 && y3 && yr);
    for (int i = 0; i < n; i++) {
        assert_int_equal(lin(is[i], P, N, K, x, M, b, y1, 1), 0);
        assert_int_equal(lin(is[i], P, N, K, x, M, b, y3, 3), 0);
        assert_memory_equal(y1, y3, sizeof(float) * (size_t)M * N);
        for (int m = 0; m < M; m += 37) {
            assert_int_equal(lin(is[i], P, N, K, x + (size_t)m * K, 1, b, yr, 2), 0);
            assert_memory_equal(yr, y1 + (size_t)m * N, sizeof(float) * (size_t)N);
        }
    }
    free(W), free(x), free(b), free(P), free(y1), free(y3), free(yr);
}

/* The padding of the last panel is zero, and what it computes is never written. */
static void test_panel_edges(void **state)
{
    (void)state;
    const int N = 70, K = 9, M = 3;
    float *W = rnd((size_t)N * K, 9, 1.0f), *x = rnd((size_t)M * K, 10, 1.0f);
    float *P = packed(W, N, K);
    for (int k = 0; k < K; k++)
        for (int j = N - 64; j < 64; j++)
            assert_true(P[((size_t)1 * K + k) * PNL_COLS + j] == 0.0f);
    assert_true(P[(size_t)3 * PNL_COLS + 5] == W[(size_t)5 * K + 3]);
    assert_true(P[((size_t)1 * K + 2) * PNL_COLS + 4] == W[(size_t)68 * K + 2]);
    /* y with a guard after it: nothing past M x N is written */
    float *y = malloc(sizeof(float) * ((size_t)M * N + 16));
    assert_non_null(y);
    pnl_isa_t is[2];
    int n = isas(is);
    for (int i = 0; i < n; i++) {
        for (int g = 0; g < 16; g++)
            y[(size_t)M * N + g] = -7.0f;
        assert_int_equal(lin(is[i], P, N, K, x, M, NULL, y, 2), 0);
        for (int g = 0; g < 16; g++)
            assert_true(y[(size_t)M * N + g] == -7.0f);
    }
    /* refused: no kernels for PNL_NONE; y stays as it was */
    y[0] = 42.0f;
    assert_int_equal(lin(PNL_NONE, P, N, K, x, M, NULL, y, 1), -1);
    assert_true(y[0] == 42.0f);
    free(W), free(x), free(P), free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_panel_vs_double),
        cmocka_unit_test(test_panel_deterministic),
        cmocka_unit_test(test_panel_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
