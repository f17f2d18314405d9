/* The int8 linear layers (onednn --precision int8 / int8all) against an exact
 * product computed here in double, element by element, within the error bound
 * of the quantisation scheme (backends/onednn_int8.h):
 *
 *   weights   w^ = s_n q,  s_n = max_k |w[n,k]| / 127,   |w - w^| <= s_n / 2
 *   inputs    x^ = s_m (q - zp),  s_m = (max(x_m, 0) - min(x_m, 0)) / 127,
 *             |x - x^| <= s_m (half a step from rounding, up to a whole one
 *             where the rounded zero point pushes the row's extreme to the clamp)
 *   x w - x^ w^ = x (w - w^) + w^ (x - x^), so per output
 *   |y - y^| <= s_n / 2 * sum_k |x_k| + s_m * sum_k (|w_k| + s_n / 2)
 *
 * plus 1e-5 relative to sum |x||w| for the float32 arithmetic of the
 * dequantisation. The bound is what the scheme promises, not a fitted figure:
 * a wrong scale, zero point or transpose breaks it by orders of magnitude.
 * The tests also check that int8 really ran (the error is not that of fp32),
 * that 7-bit inputs at the worst case for 16-bit pair sums do not saturate,
 * that the output projection stays fp32 under "int8" and not under
 * "int8all", and that backends without int8 refuse it in one line. */
#include "testutil.h"

#include "backends/fastops.h"
#include "backends/registry.h"

static int open_int8(be_t *be, be_precision_t p)
{
    be_options_t o = {2, p};
    mb_error_t err;
    if (!be_find("onednn"))
        return -1;
    if (be_open("onednn", &o, be, &err) != 0)
        fail_msg("onednn int8: %s", err.msg); /* the probe said this CPU has int8 matmul (tested in CI) */
    return 0;
}

/* Runs the linear and checks every output against the bound; returns the
 * NMSE against the exact product. */
static double check_bound(be_t *be, const float *W, const float *b, const float *x, int N, int K, int M, int role)
{
    be_weight_t w = {W, b, N, K, NULL, role};
    mb_error_t err;
    float *y = malloc(sizeof(float) * (size_t)M * N);
    assert_non_null(y);
    if (be_weight_prepare(be, &w, &err) != 0)
        fail_msg("weight_prepare: %s", err.msg);
    be_linear(be, &w, x, M, y);
    double num = 0, den = 0, worst = 0;
    for (int m = 0; m < M; m++) {
        const float *xm = x + (size_t)m * K;
        double lo = 0, hi = 0, sum_ax = 0;
        for (int k = 0; k < K; k++) {
            lo = xm[k] < lo ? xm[k] : lo;
            hi = xm[k] > hi ? xm[k] : hi;
            sum_ax += fabs(xm[k]);
        }
        double sx = (hi - lo) / 127.0;
        for (int n = 0; n < N; n++) {
            const float *wn = W + (size_t)n * K;
            double exact = b ? b[n] : 0.0, amax = 0, sum_aw = 0, sum_axw = 0;
            for (int k = 0; k < K; k++) {
                exact += (double)xm[k] * wn[k];
                amax = fabs(wn[k]) > amax ? fabs(wn[k]) : amax;
                sum_aw += fabs(wn[k]);
                sum_axw += fabs((double)xm[k] * wn[k]);
            }
            double sw = amax / 127.0;
            double bound = sw / 2 * sum_ax + sx * (sum_aw + K * sw / 2) + 1e-5 * sum_axw + 1e-6;
            double d = fabs(y[(size_t)m * N + n] - exact);
            if (!(d <= bound))
                fail_msg("int8 linear %dx%d, %d rows: y[%d,%d] = %g, exact %g, error %g > bound %g", N, K, M, m, n,
                         (double)y[(size_t)m * N + n], exact, d, bound);
            worst = d / bound > worst ? d / bound : worst;
            num += d * d;
            den += exact * exact;
        }
    }
    be_weight_release(be, &w);
    free(y);
    return den > 0 ? num / den : num;
}

static const struct {
    int N, K, rows[3];
} shapes[] = {
    {64, 64, {1, 6, 600}},      /* tiny; 600 rows: two primitives (blocks of 512) */
    {128, 64, {1, 7, 130}}, {64, 128, {2, 9, 130}}, {512, 64, {1, 6, 64}},
    {1024, 256, {1, 3, 64}}, {256, 1024, {1, 3, 64}}, /* small */
    {512, 2048, {1, 4, 33}},                          /* wmt-dense ffn_out */
};

static void test_int8_linear_bound(void **state)
{
    (void)state;
    be_t be;
    if (open_int8(&be, BE_PRECISION_INT8) != 0)
        skip(); /* built without oneDNN */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int r = 0; r < 3; r++) {
            int N = shapes[s].N, K = shapes[s].K, M = shapes[s].rows[r];
            float *W = malloc(sizeof(float) * (size_t)N * K), *b = malloc(sizeof(float) * (size_t)N);
            float *x = malloc(sizeof(float) * (size_t)M * K);
            test_fill(W, (size_t)N * K, 31 + s);
            test_fill(b, (size_t)N, 32 + s);
            test_fill(x, (size_t)M * K, 33 + s + (size_t)r);
            for (size_t i = 0; i < (size_t)N * K; i++)
                W[i] /= sqrtf((float)K);
            for (int m = 0; m < M; m++) /* rows of very different sizes: the scales are per row */
                for (int k = 0; k < K; k++)
                    x[(size_t)m * K + k] *= (float)(1 + m % 5) * (m % 3 == 1 ? 0.01f : 1.0f);
            if (s % 2) /* post-ReLU inputs (the FFN's second layer): all >= 0 */
                for (size_t i = 0; i < (size_t)M * K; i++)
                    x[i] = x[i] > 0 ? x[i] : 0;
            double e = check_bound(&be, W, r % 2 ? NULL : b, x, N, K, M, BE_WEIGHT_LAYER);
            /* 7-bit inputs and 8-bit weights on U(-1,1) data: NMSE ~1e-4; above 1e-9 means the
             * int8 path ran (fp32 gives ~1e-13), below 1e-2 that it is not grossly off */
            if (!(e > 1e-9 && e < 1e-2))
                fail_msg("int8 linear %dx%d, %d rows: NMSE %g outside (1e-9, 1e-2)", N, K, M, e);
            free(W), free(b), free(x);
        }
    be_close(&be);
}

/* Weights packed into oneDNN's blocked int8 layout (the default) give the same outputs as the plain
 * [N, K] layout (MOEBENCH_INT8_PLAIN), bit for bit: the sums are exact s32 and the dequantisation
 * is the same code, so any difference is a packing error (a transposed or shifted block). Row
 * counts cover one row, an odd count, a typical batch and more than one 512-row block. */
static void test_int8_packed_equals_plain(void **state)
{
    (void)state;
    be_t be;
    if (open_int8(&be, BE_PRECISION_INT8_ALL) != 0)
        skip(); /* built without oneDNN */
    const int N = 200, K = 96, rows[] = {1, 7, 64, 530};
    float *W = malloc(sizeof(float) * (size_t)N * K), *b = malloc(sizeof(float) * (size_t)N);
    float *x = malloc(sizeof(float) * (size_t)530 * K), *y0 = malloc(sizeof(float) * (size_t)530 * N),
          *y1 = malloc(sizeof(float) * (size_t)530 * N);
    assert_true(W && b && x && y0 && y1);
    test_fill(W, (size_t)N * K, 41);
    test_fill(b, (size_t)N, 42);
    test_fill(x, (size_t)530 * K, 43);
    mb_error_t err;
    be_weight_t plain = {W, b, N, K, NULL, BE_WEIGHT_LAYER}, packed = plain;
    setenv("MOEBENCH_INT8_PLAIN", "1", 1);
    int rc = be_weight_prepare(&be, &plain, &err);
    unsetenv("MOEBENCH_INT8_PLAIN");
    if (rc != 0 || be_weight_prepare(&be, &packed, &err) != 0)
        fail_msg("weight_prepare: %s", err.msg);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        be_linear(&be, &plain, x, rows[r], y0);
        be_linear(&be, &packed, x, rows[r], y1);
        if (memcmp(y0, y1, sizeof(float) * (size_t)rows[r] * N) != 0)
            fail_msg("int8 %dx%d, %d rows: packed weights differ from plain", N, K, rows[r]);
    }
    be_weight_release(&be, &plain);
    be_weight_release(&be, &packed);
    be_close(&be);
    free(W), free(b), free(x), free(y0), free(y1);
}

/* The worst case for u8 x s8 pair sums in 16 bits (vpmaddubsw on AVX2): every
 * input at the top of its range and every weight at +-127 with the same sign
 * as its neighbour. 127 * 127 * 2 = 32258 fits; 8-bit inputs (255) would not. */
static void test_int8_no_saturation(void **state)
{
    (void)state;
    be_t be;
    if (open_int8(&be, BE_PRECISION_INT8) != 0)
        skip();
    enum { N = 64, K = 1024, M = 8 };
    float *W = malloc(sizeof(float) * N * K), *x = malloc(sizeof(float) * M * K);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            W[n * K + k] = n % 2 ? 0.5f : -0.5f;
    for (int i = 0; i < M * K; i++)
        x[i] = 3.0f;                    /* zero point 0, every input 127 */
    check_bound(&be, W, NULL, x, N, K, M, BE_WEIGHT_LAYER);
    free(W), free(x);
    be_close(&be);
}

/* "int8" keeps the output projection fp32; "int8all" quantises it. */
static void test_int8_out_proj(void **state)
{
    (void)state;
    enum { N = 512, K = 64, M = 5 };
    float *W = malloc(sizeof(float) * N * K), *x = malloc(sizeof(float) * M * K);
    test_fill(W, N * K, 41);
    test_fill(x, M * K, 42);
    be_precision_t ps[2] = {BE_PRECISION_INT8, BE_PRECISION_INT8_ALL};
    for (int p = 0; p < 2; p++) {
        be_t be;
        if (open_int8(&be, ps[p]) != 0)
            skip();
        double e = check_bound(&be, W, NULL, x, N, K, M, BE_WEIGHT_OUT_PROJ);
        if (p == 0 && !(e < 1e-10))
            fail_msg("int8: the output projection should be fp32, NMSE %g", e);
        if (p == 1 && !(e > 1e-9))
            fail_msg("int8all: the output projection should be int8, NMSE %g", e);
        be_close(&be);
    }
    free(W), free(x);
}

/* Zero inputs and all-zero weight rows give exactly the bias. */
static void test_int8_zeros(void **state)
{
    (void)state;
    be_t be;
    if (open_int8(&be, BE_PRECISION_INT8) != 0)
        skip();
    enum { N = 16, K = 32, M = 3 };
    float W[N * K], b[N], x[M * K], y[M * N];
    test_fill(W, N * K, 51);
    test_fill(b, N, 52);
    test_fill(x, M * K, 53);
    for (int i = 0; i < 4 * K; i++) /* rows 0-3 of the weights */
        W[i] = 0.0f;
    memset(x + K, 0, sizeof(float) * K);  /* input row 1 */
    be_weight_t w = {W, b, N, K, NULL, BE_WEIGHT_LAYER};
    mb_error_t err;
    assert_int_equal(be_weight_prepare(&be, &w, &err), 0);
    be_linear(&be, &w, x, M, y);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
            if ((m == 1 || n < 4) && y[m * N + n] != b[n])
                fail_msg("y[%d,%d] = %g, want the bias %g exactly", m, n, (double)y[m * N + n], (double)b[n]);
    be_weight_release(&be, &w);
    be_close(&be);
}

static void test_int8_refused(void **state)
{
    (void)state;
    be_precision_t p;
    mb_error_t err;
    assert_int_equal(be_precision_parse("int8", &p, &err), 0);
    assert_int_equal(p, BE_PRECISION_INT8);
    assert_string_equal(be_precision_name(p), "int8");
    assert_int_equal(be_precision_parse("int8all", &p, &err), 0);
    assert_string_equal(be_precision_name(p), "int8all");
    assert_int_not_equal(be_precision_parse("int4", &p, &err), 0);
    assert_non_null(strstr(err.msg, "int8"));
    const char *names[] = {"ref", "openblas"};
    for (int i = 0; i < 2; i++) {
        if (!be_find(names[i]))
            continue;
        be_t be;
        be_options_t o = {1, BE_PRECISION_INT8};
        assert_int_not_equal(be_open(names[i], &o, &be, &err), 0);
        assert_non_null(strstr(err.msg, "int8"));
        assert_null(strchr(err.msg, '\n'));
    }
}

/* fastops_quantise_u8 (vectorised) against the scheme written out here with lrintf, for
 * lengths that exercise every vector tail, rows of one sign, all zeros, and a row with an inf
 * or a NaN (refused, output untouched): the same bytes, scale and zero point. */
static void test_int8_quantise_row(void **state)
{
    (void)state;
    unsigned seed = 11;
    float x[80];
    uint8_t q[80], want[80];
    for (int K = 1; K <= 80; K++)
        for (int kind = 0; kind < 4; kind++) {
            for (int k = 0; k < K; k++) {
                seed = seed * 1664525u + 1013904223u;
                float u = (float)(seed >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
                x[k] = kind == 0 ? u : kind == 1 ? fabsf(u) : kind == 2 ? -fabsf(u) : 0.0f;
            }
            float lo = 0, hi = 0;
            for (int k = 0; k < K; k++) {
                lo = x[k] < lo ? x[k] : lo;
                hi = x[k] > hi ? x[k] : hi;
            }
            float sx = hi > lo ? (hi - lo) / 127 : 1.0f, inv = 1.0f / sx;
            long zpl = lrintf(-lo * inv);
            int32_t zp = (int32_t)(zpl < 0 ? 0 : zpl > 127 ? 127 : zpl);
            for (int k = 0; k < K; k++) {
                long v = lrintf(x[k] * inv) + zp;
                want[k] = (uint8_t)(v < 0 ? 0 : v > 127 ? 127 : v);
            }
            float got_sx = -1;
            int32_t got_zp = -1;
            assert_int_equal(fastops_quantise_u8(x, K, 127, q, &got_sx, &got_zp), 0);
            assert_float_equal(got_sx, sx, 0.0f);
            assert_int_equal(got_zp, zp);
            assert_memory_equal(q, want, (size_t)K);
        }
    for (int K = 1; K <= 40; K += 13)
        for (int at = 0; at < K; at += 5) {
            for (int k = 0; k < K; k++)
                x[k] = 0.5f;
            x[at] = at % 2 ? INFINITY : NAN;
            memset(q, 7, sizeof q);
            float sx = -1;
            int32_t zp = -1;
            assert_int_equal(fastops_quantise_u8(x, K, 127, q, &sx, &zp), -1);
            assert_int_equal(q[0], 7);
        }
}

/* fastops_dequant_row against the formula written out here (float, no FMA): equal bits. */
static void test_int8_dequant_row(void **state)
{
    (void)state;
    enum { N = 77 };
    int32_t a[N], qsum[N];
    float scale[N], b[N], y[N];
    for (int n = 0; n < N; n++) {
        a[n] = (n * 7919) % 20001 - 10000;
        qsum[n] = (n * 104729) % 4001 - 2000;
        scale[n] = 0.001f * (float)(1 + n % 13);
        b[n] = 0.25f * (float)(n % 9) - 1.0f;
    }
    for (int with_b = 0; with_b < 2; with_b++)
        for (int len = 1; len <= N; len += 19) {
            fastops_dequant_row(a, len, 0.037f, 5, scale, qsum, with_b ? b : NULL, y);
            for (int n = 0; n < len; n++) {
                volatile float prod = 0.037f * scale[n]; /* volatile: no FMA in the reference */
                volatile float t = prod * (float)(a[n] - 5 * qsum[n]);
                float want = t + (with_b ? b[n] : 0.0f);
                assert_float_equal(y[n], want, 0.0f);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int8_linear_bound), cmocka_unit_test(test_int8_no_saturation),
        cmocka_unit_test(test_int8_out_proj),     cmocka_unit_test(test_int8_zeros),
        cmocka_unit_test(test_int8_refused),      cmocka_unit_test(test_int8_packed_equals_plain),
        cmocka_unit_test(test_int8_quantise_row), cmocka_unit_test(test_int8_dequant_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
