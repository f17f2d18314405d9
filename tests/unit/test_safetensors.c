/* test_safetensors: round trips, exact F16/BF16 conversions, a table of corrupt files that
 * st_open must refuse with a clear message, and the atomic-write guarantees of st_write.
 * Every file is made by the test itself in a fresh mkdtemp directory under /tmp. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <float.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/safetensors.h"

static char g_dir[64]; /* the temp directory of this run */

static const char *tmp_path(const char *name)
{
    static char buf[8][256]; /* a few live at once in one test */
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", g_dir, name);
    return p;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/moebench_st_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull; /* fixed seed: failures reproduce */
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static uint8_t *read_bytes(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* Writes a safetensors file by hand: length (or `declared` when >= 0), header, data_len bytes of
 * data, the whole cut to `cut_to` bytes when >= 0. */
static void make_raw(const char *path, const char *header, int64_t declared, const void *data, size_t data_len,
                     int64_t cut_to)
{
    size_t hlen = strlen(header), total = 8 + hlen + data_len;
    uint64_t n = declared >= 0 ? (uint64_t)declared : hlen;
    uint8_t *buf = malloc(total);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(n >> (8 * i));
    memcpy(buf + 8, header, hlen);
    for (size_t i = 0; i < data_len; i++)
        buf[8 + hlen + i] = data ? ((const uint8_t *)data)[i] : (uint8_t)i;
    write_bytes(path, buf, cut_to >= 0 && (size_t)cut_to < total ? (size_t)cut_to : total);
    free(buf);
}

/* The message must start with "PATH: " and contain `expect`. */
static void assert_msg(const mb_error_t *err, const char *path, const char *expect)
{
    size_t len = strlen(path);
    if (strncmp(err->msg, path, len) != 0 || strncmp(err->msg + len, ": ", 2) != 0 ||
        !strstr(err->msg, expect))
        fail_msg("message \"%s\" should start with \"%s: \" and contain \"%s\"", err->msg, path, expect);
}

static int count_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* ---- round trips ---- */

static void test_f32_round_trip(void **state)
{
    (void)state;
    float scalar[1] = {3.5f};
    float vec[8] = {-0.0f, FLT_TRUE_MIN, 1e-40f, 1e30f, -FLT_MAX, INFINITY, -INFINITY, bitsf(0x7fc12345u)};
    float mat[12], cube[12];
    for (int i = 0; i < 12; i++) {
        mat[i] = (float)((int64_t)(rng_next() % 2000001) - 1000000) / 1024.0f;
        cube[i] = bitsf((uint32_t)rng_next() & 0xbf7fffffu); /* random finite values, both signs */
    }
    const st_out_tensor_t ts[] = {
        {"enc.scalar", ST_F32, 0, {0}, scalar},
        {"enc.vec", ST_F32, 1, {8}, vec},
        {"dec.mat", ST_F32, 2, {3, 4}, mat},
        {"dec.cube", ST_F32, 3, {2, 3, 2}, cube},
        {"dec.empty", ST_F32, 2, {0, 5}, NULL},
    };
    const char *keys[] = {"format", "moebench.note"}, *vals[] = {"pt", "gr\xc3\xbc\xc3\x9f \"quoted\""};
    const char *path = tmp_path("round.safetensors"), *path2 = tmp_path("round2.safetensors");
    mb_error_t err = {{0}};
    assert_int_equal(st_write(path, keys, vals, 2, ts, 5, &err), 0);
    assert_int_equal(st_write(path2, keys, vals, 2, ts, 5, &err), 0);

    size_t len1, len2;
    uint8_t *b1 = read_bytes(path, &len1), *b2 = read_bytes(path2, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(b1, b2, len1);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | b1[i];
    assert_int_equal((8 + hlen) % 8, 0);
    const char *start = "{\"__metadata__\":{\"format\":\"pt\",";
    assert_memory_equal(b1 + 8, start, strlen(start));
    assert_int_equal(len1, 8 + hlen + 4 * (1 + 8 + 12 + 12));
    free(b1);
    free(b2);

    st_file_t *f;
    assert_int_equal(st_open(path, &f, &err), 0);
    assert_int_equal(st_count(f), 5);
    assert_int_equal(st_meta_count(f), 2);
    assert_string_equal(st_meta_key_at(f, 0), "format");
    assert_string_equal(st_meta_key_at(f, 1), "moebench.note");
    assert_null(st_meta_key_at(f, 2));
    assert_string_equal(st_meta(f, "moebench.note"), vals[1]);
    assert_null(st_meta(f, "absent"));
    assert_null(st_find(f, "absent"));
    assert_null(st_tensor_at(f, 5));
    assert_null(st_tensor_at(f, -1));
    uint64_t expect_begin = 0;
    for (int i = 0; i < 5; i++) {
        const st_tensor_t *t = st_tensor_at(f, i);
        assert_non_null(t);
        assert_ptr_equal(st_find(f, ts[i].name), t);
        assert_string_equal(t->name, ts[i].name);
        assert_int_equal(t->dtype, ST_F32);
        assert_int_equal(t->ndim, ts[i].ndim);
        uint64_t n = 1;
        for (int d = 0; d < t->ndim; d++) {
            assert_int_equal(t->shape[d], ts[i].shape[d]);
            n *= (uint64_t)ts[i].shape[d];
        }
        assert_int_equal(t->n_elems, n);
        assert_int_equal(t->begin, expect_begin);
        assert_int_equal(t->end, expect_begin + 4 * n);
        expect_begin = t->end;
        float got[12];
        assert_int_equal(st_read_f32(f, t, got, n, &err), 0);
        if (n > 0)
            assert_memory_equal(got, ts[i].data, 4 * n); /* bit-exact, NaN payload included */
    }
    /* a wrong destination size is refused */
    float got[12];
    assert_int_equal(st_read_f32(f, st_find(f, "dec.mat"), got, 11, &err), -1);
    assert_msg(&err, path, "has 12 elements but the destination holds 11");
    st_close(f);
}

static void test_f16_known_values(void **state)
{
    (void)state;
    static const struct {
        float in;
        uint16_t bits;
        float back;
    } cases[] = {
        {1.0f, 0x3c00, 1.0f},
        {-2.5f, 0xc100, -2.5f},
        {65504.0f, 0x7bff, 65504.0f},
        {65519.996f, 0x7bff, 65504.0f},         /* just under the halfway point to inf */
        {65520.0f, 0x7c00, INFINITY},           /* halfway: ties to even, which is inf */
        {0x1p-24f, 0x0001, 0x1p-24f},           /* smallest subnormal */
        {1023 * 0x1p-24f, 0x03ff, 1023 * 0x1p-24f}, /* largest subnormal */
        {0x1p-14f, 0x0400, 0x1p-14f},           /* smallest normal */
        {0x1p-25f, 0x0000, 0.0f},               /* tie between 0 and 2^-24: even is 0 */
        {0x1.8p-25f, 0x0001, 0x1p-24f},         /* above the tie */
        {3 * 0x1p-25f, 0x0002, 0x1p-23f},       /* tie between 1 and 2 (x 2^-24): 2 */
        {5 * 0x1p-25f, 0x0002, 0x1p-23f},       /* tie between 2 and 3: 2 */
        {0x1.002p0f, 0x3c00, 1.0f},             /* 1 + 2^-11: tie, rounds to even 1.0 */
        {0x1.006p0f, 0x3c02, 0x1.008p0f},       /* 1 + 3*2^-11: tie, rounds up to even */
        {0.1f, 0x2e66, 0.0999755859375f},
        {-0.0f, 0x8000, -0.0f},
        {1e-8f, 0x0000, 0.0f},
        {-INFINITY, 0xfc00, -INFINITY},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    float in[N];
    for (int i = 0; i < N; i++)
        in[i] = cases[i].in;
    const st_out_tensor_t t = {"h", ST_F16, 1, {N}, in};
    const char *path = tmp_path("f16.safetensors");
    mb_error_t err = {{0}};
    assert_int_equal(st_write(path, NULL, NULL, 0, &t, 1, &err), 0);
    st_file_t *f;
    assert_int_equal(st_open(path, &f, &err), 0);
    const st_tensor_t *h = st_find(f, "h");
    assert_non_null(h);
    assert_int_equal(h->dtype, ST_F16);
    assert_int_equal(h->end - h->begin, 2 * N);
    uint8_t raw[2 * N];
    float back[N];
    assert_int_equal(st_read_raw(f, h, raw, sizeof raw, &err), 0);
    assert_int_equal(st_read_f32(f, h, back, N, &err), 0);
    for (int i = 0; i < N; i++) {
        if (le16(raw + 2 * i) != cases[i].bits || fbits(back[i]) != fbits(cases[i].back))
            fail_msg("case %d (%a): bits 0x%04x (want 0x%04x), back %a (want %a)", i, (double)cases[i].in,
                     le16(raw + 2 * i), cases[i].bits, (double)back[i], (double)cases[i].back);
    }
    st_close(f);
}

static void test_bf16_known_values(void **state)
{
    (void)state;
    static const struct {
        uint32_t in;
        uint16_t bits;
    } cases[] = {
        {0x3f800000u, 0x3f80}, /* 1.0 */
        {0xc0200000u, 0xc020}, /* -2.5 */
        {0x3f808000u, 0x3f80}, /* tie: rounds down to even */
        {0x3f818000u, 0x3f82}, /* tie: rounds up to even */
        {0x3f808001u, 0x3f81}, /* just above the tie */
        {0x3f80ffffu, 0x3f81},
        {0x3dcccccdu, 0x3dcd}, /* 0.1f */
        {0x7f7fffffu, 0x7f80}, /* FLT_MAX rounds to inf */
        {0xff7fffffu, 0xff80},
        {0x7f7f7fffu, 0x7f7f}, /* just below the tie with inf */
        {0x000116c2u, 0x0001}, /* a float subnormal */
        {0x80000000u, 0x8000}, /* -0 */
        {0x7f800000u, 0x7f80}, /* inf */
    };
    enum { N = sizeof cases / sizeof cases[0] + 1 };
    float in[N];
    for (int i = 0; i < N - 1; i++)
        in[i] = bitsf(cases[i].in);
    in[N - 1] = bitsf(0x7f800001u); /* a NaN whose payload lies entirely in the dropped bits */
    const st_out_tensor_t t = {"b", ST_BF16, 2, {1, N}, in};
    const char *path = tmp_path("bf16.safetensors");
    mb_error_t err = {{0}};
    assert_int_equal(st_write(path, NULL, NULL, 0, &t, 1, &err), 0);
    st_file_t *f;
    assert_int_equal(st_open(path, &f, &err), 0);
    const st_tensor_t *b = st_tensor_at(f, 0);
    assert_int_equal(b->dtype, ST_BF16);
    uint8_t raw[2 * N];
    float back[N];
    assert_int_equal(st_read_raw(f, b, raw, sizeof raw, &err), 0);
    assert_int_equal(st_read_f32(f, b, back, N, &err), 0);
    for (int i = 0; i < N - 1; i++) {
        if (le16(raw + 2 * i) != cases[i].bits || fbits(back[i]) != (uint32_t)cases[i].bits << 16)
            fail_msg("case %d (0x%08x): bits 0x%04x (want 0x%04x), back 0x%08x", i, cases[i].in,
                     le16(raw + 2 * i), cases[i].bits, fbits(back[i]));
    }
    assert_true(isnan(back[N - 1]));
    st_close(f);
}

/* Reference decoding of a half by arithmetic, independent of the module's bit manipulation. */
static double f16_ref(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 31 ? (m ? NAN : INFINITY) : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

/* Writes all 65536 patterns of a 16-bit dtype by hand, reads them as float32, checks `decode`,
 * then writes the floats back with st_write and checks every non-NaN pattern comes back. */
static void check_all_16bit(const char *dtype, st_dtype_t d)
{
    enum { N = 65536 };
    uint8_t *raw = malloc(2 * N), *again = malloc(2 * N);
    float *vals = malloc(4 * N);
    assert_true(raw && again && vals);
    for (int i = 0; i < N; i++) {
        raw[2 * i] = (uint8_t)i;
        raw[2 * i + 1] = (uint8_t)(i >> 8);
    }
    char header[160];
    snprintf(header, sizeof header, "{\"all\":{\"dtype\":\"%s\",\"shape\":[256,256],\"data_offsets\":[0,%d]}}", dtype,
             2 * N);
    const char *path = tmp_path("all16.safetensors"), *path2 = tmp_path("all16_again.safetensors");
    make_raw(path, header, -1, raw, 2 * N, -1);
    mb_error_t err = {{0}};
    st_file_t *f;
    assert_int_equal(st_open(path, &f, &err), 0);
    assert_int_equal(st_read_f32(f, st_find(f, "all"), vals, N, &err), 0);
    st_close(f);
    for (int i = 0; i < N; i++) {
        uint32_t got = fbits(vals[i]);
        if (d == ST_BF16) { /* BF16 is the top half of a float, NaN payloads included */
            if (got != (uint32_t)i << 16)
                fail_msg("BF16 0x%04x read as 0x%08x", i, got);
        } else {
            double ref = f16_ref((uint16_t)i);
            int ok = isnan(ref) ? isnan(vals[i]) && ((got >> 13) & 0x3ff) == (uint32_t)(i & 0x3ff)
                                : (double)vals[i] == ref && !signbit(vals[i]) == !signbit(ref);
            if (!ok)
                fail_msg("F16 0x%04x read as %a (0x%08x), want %a", i, (double)vals[i], got, ref);
        }
    }
    const st_out_tensor_t t = {"all", d, 1, {N}, vals};
    assert_int_equal(st_write(path2, NULL, NULL, 0, &t, 1, &err), 0);
    assert_int_equal(st_open(path2, &f, &err), 0);
    assert_int_equal(st_read_raw(f, st_tensor_at(f, 0), again, 2 * N, &err), 0);
    st_close(f);
    for (int i = 0; i < N; i++) {
        uint16_t back = le16(again + 2 * i);
        if (isnan(vals[i]) ? (back & 0x7fff) <= (d == ST_F16 ? 0x7c00 : 0x7f80) : back != i)
            fail_msg("%s 0x%04x written back as 0x%04x", dtype, i, back);
    }
    free(raw);
    free(again);
    free(vals);
}

static void test_f16_all_values(void **state)
{
    (void)state;
    check_all_16bit("F16", ST_F16);
}

static void test_bf16_all_values(void **state)
{
    (void)state;
    check_all_16bit("BF16", ST_BF16);
}

/* Floats that probe rounding: every halfway point between adjacent 16-bit values (and one float
 * ulp either side), then random bit patterns concentrated in the interesting exponent range. */
static float *rounding_probes(st_dtype_t d, size_t *n_out)
{
    size_t n = 0, cap = 3 * 65536 + 400000;
    float *v = malloc(cap * sizeof *v);
    assert_non_null(v);
    for (uint32_t h = 0; h < 0x8000; h++) {
        float lo = d == ST_BF16 ? bitsf(h << 16) : (float)f16_ref((uint16_t)h);
        float hi = d == ST_BF16 ? bitsf((h + 1) << 16) : (float)f16_ref((uint16_t)(h + 1));
        if (isnan(lo) || isinf(lo) || isnan(hi))
            continue;
        if (isinf(hi)) /* the halfway point past the largest finite value */
            hi = d == ST_BF16 ? (float)ldexp(1, 128) : 65536.0f;
        float mid = isinf(hi) ? bitsf(0x7f7f8000u) : (float)(((double)lo + (double)hi) / 2); /* exact */
        uint32_t mb = fbits(mid);
        for (uint32_t k = mb - 1; k <= mb + 1 && n + 2 <= cap; k++) {
            v[n++] = bitsf(k);
            v[n++] = -bitsf(k);
        }
    }
    while (n < cap) {
        uint32_t r = (uint32_t)rng_next();
        uint32_t lo_exp = d == ST_BF16 ? 0 : 100, span = d == ST_BF16 ? 255 : 46; /* F16: 2^-27..2^18 */
        uint32_t e = lo_exp + (r >> 23 & 0xff) % span;
        v[n++] = bitsf((r & 0x807fffffu) | e << 23);
    }
    *n_out = n;
    return v;
}

/* Reference BF16 rounding by comparing distances in double (exact for these magnitudes). */
static uint16_t bf16_ref(float x)
{
    uint32_t u = fbits(x);
    uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1);
    double dlo = fabs((double)bitsf((uint32_t)lo << 16));
    double dhi = (hi & 0x7fff) == 0x7f80 ? ldexp(1, 128) : fabs((double)bitsf((uint32_t)hi << 16));
    double ax = fabs((double)x), below = ax - dlo, above = dhi - ax;
    if (below < above || (below == above && !(lo & 1)))
        return lo;
    return hi;
}

static void check_rounding(st_dtype_t d)
{
    size_t n;
    float *v = rounding_probes(d, &n);
    const st_out_tensor_t t = {"r", d, 1, {(int64_t)n}, v};
    const char *path = tmp_path("rounding.safetensors");
    mb_error_t err = {{0}};
    assert_int_equal(st_write(path, NULL, NULL, 0, &t, 1, &err), 0);
    st_file_t *f;
    assert_int_equal(st_open(path, &f, &err), 0);
    uint8_t *raw = malloc(2 * n);
    assert_non_null(raw);
    assert_int_equal(st_read_raw(f, st_tensor_at(f, 0), raw, 2 * n, &err), 0);
    st_close(f);
    for (size_t i = 0; i < n; i++) {
        uint16_t want;
        if (d == ST_BF16) {
            want = bf16_ref(v[i]);
        } else {
#ifdef __FLT16_MAX__
            _Float16 h = (_Float16)v[i]; /* the compiler's conversion rounds to nearest even */
            memcpy(&want, &h, sizeof want);
#else
            want = 0;
#endif
        }
        if (le16(raw + 2 * i) != want)
            fail_msg("%s of %a (0x%08x): got 0x%04x, want 0x%04x", st_dtype_name(d), (double)v[i], fbits(v[i]),
                     le16(raw + 2 * i), want);
    }
    free(raw);
    free(v);
}

static void test_f16_rounding(void **state)
{
    (void)state;
#ifdef __FLT16_MAX__
    check_rounding(ST_F16);
#else
    skip(); /* no _Float16 in this compiler to compare against */
#endif
}

static void test_bf16_rounding(void **state)
{
    (void)state;
    check_rounding(ST_BF16);
}

/* ---- opening: what must be accepted, what must be refused ---- */

static void test_open_accepts_valid_variants(void **state)
{
    (void)state;
    /* trailing-space padding, unknown extra fields, a gap, empty tensors anywhere, other dtypes,
     * names not in sorted order */
    const char *header = "{\"z\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1},"
                         "\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[12,15]},"
                         "\"e\":{\"dtype\":\"F16\",\"shape\":[4,0],\"data_offsets\":[13,13]},"
                         "\"m\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[16,24]}}     ";
    uint8_t data[24];
    for (int i = 0; i < 24; i++)
        data[i] = (uint8_t)(0xa0 + i);
    const char *path = tmp_path("variants.safetensors");
    make_raw(path, header, -1, data, sizeof data, -1);
    mb_error_t err = {{0}};
    st_file_t *f;
    if (st_open(path, &f, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(st_count(f), 4);
    assert_int_equal(st_meta_count(f), 0);
    assert_string_equal(st_tensor_at(f, 0)->name, "z");
    assert_string_equal(st_tensor_at(f, 3)->name, "m");
    const st_tensor_t *m = st_find(f, "m"), *e = st_find(f, "e"), *a = st_find(f, "a");
    assert_int_equal(m->ndim, 0);
    assert_int_equal(m->n_elems, 1);
    assert_int_equal(e->n_elems, 0);
    assert_int_equal(st_dtype_size(m->dtype), 8);
    assert_string_equal(st_dtype_name(a->dtype), "U8");
    uint8_t got[8];
    assert_int_equal(st_read_raw(f, a, got, 3, &err), 0);
    assert_memory_equal(got, data + 12, 3);
    assert_int_equal(st_read_raw(f, m, got, 8, &err), 0);
    assert_memory_equal(got, data + 16, 8);
    assert_int_equal(st_read_raw(f, m, got, 7, &err), -1);
    assert_msg(&err, path, "holds 8 bytes but the destination holds 7");
    float none[1];
    assert_int_equal(st_read_f32(f, e, none, 0, &err), 0);
    st_close(f);

    make_raw(path, "{}", -1, NULL, 0, -1); /* no tensors at all */
    assert_int_equal(st_open(path, &f, &err), 0);
    assert_int_equal(st_count(f), 0);
    assert_null(st_find(f, "x"));
    st_close(f);
}

typedef struct bad_file {
    const char *name;   /* test name and file name */
    const char *header; /* JSON text */
    int64_t declared;   /* header length to write; -1: the real one */
    size_t data_len;    /* data bytes after the header */
    int64_t cut_to;     /* truncate the file to this many bytes; -1: keep it whole */
    int at_read;        /* the failure comes from st_read_f32 of the first tensor, not st_open */
    const char *expect; /* substring of the message */
} bad_file_t;

#define T4 "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}"
static const bad_file_t bad_files[] = {
    {"bad_shorter_than_8", "{}", -1, 0, 5, 0, "shorter than 8 bytes"},
    {"bad_cut_in_header", T4, -1, 16, 20, 0, "runs past the end of the file"},
    {"bad_cut_in_data", T4, -1, 16, 8 + sizeof T4 - 1 + 10, 0,
     "data_offsets [0, 16] extend past the data (10 bytes); the file is truncated"},
    {"bad_header_len_lies", "{}", 1000, 8, -1, 0, "header length 1000 runs past the end of the file (18 bytes)"},
    {"bad_header_len_over_cap", "{}", 200000000, 0, -1, 0, "exceeds the 100000000-byte limit"},
    {"bad_header_len_zero", "{}", 0, 0, -1, 0, "header length is 0"},
    {"bad_invalid_json", "{\"a\": {\"dtype\": \"F32\",", -1, 0, -1, 0, "header is not valid JSON"},
    {"bad_text_after_json", "{}  x", -1, 0, -1, 0, "unexpected text after the JSON header at byte 4"},
    {"bad_not_object", "[1, 2]", -1, 0, -1, 0, "header is not a JSON object"},
    {"bad_entry_not_object", "{\"a\": 3}", -1, 0, -1, 0, "tensor 'a': header entry is not an object"},
    {"bad_missing_dtype", "{\"a\":{\"shape\":[4],\"data_offsets\":[0,16]}}", -1, 16, -1, 0,
     "tensor 'a': missing \"dtype\""},
    {"bad_missing_shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", -1, 16, -1, 0,
     "tensor 'a': missing \"shape\""},
    {"bad_missing_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", -1, 16, -1, 0,
     "tensor 'a': missing \"data_offsets\""},
    {"bad_dtype_not_string", "{\"a\":{\"dtype\":4,\"shape\":[4],\"data_offsets\":[0,16]}}", -1, 16, -1, 0,
     "\"dtype\" is not a string"},
    {"bad_unknown_dtype", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", -1, 4, -1, 0,
     "tensor 'a': unknown dtype 'F8_E4M3'"},
    {"bad_shape_not_array", "{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", -1, 16, -1, 0,
     "\"shape\" is not an array"},
    {"bad_negative_shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", -1, 0, -1, 0,
     "shape[0] is -1; dimensions must be non-negative integers"},
    {"bad_fractional_shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,1.5],\"data_offsets\":[0,12]}}", -1, 12, -1, 0,
     "shape[1] is 1.5"},
    {"bad_string_shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"4\"],\"data_offsets\":[0,16]}}", -1, 16, -1, 0,
     "shape[0] is not a number"},
    {"bad_shape_above_2p53", "{\"a\":{\"dtype\":\"U8\",\"shape\":[9007199254740994],\"data_offsets\":[0,1]}}", -1, 1,
     -1, 0, "shape[0] is 9007199254740994"},
    {"bad_too_many_dims", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", -1, 1,
     -1, 0, "shape has more than 8 dimensions"},
    {"bad_shape_product_overflow",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,8]}}", -1, 8, -1, 0,
     "element count of its shape overflows"},
    {"bad_byte_size_overflow",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,1073741824],\"data_offsets\":[0,8]}}", -1, 8, -1, 0,
     "byte size of shape [4294967296, 1073741824] of F32 overflows"},
    {"bad_offsets_not_pair", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", -1, 16, -1, 0,
     "\"data_offsets\" must be an array of two integers"},
    {"bad_offsets_negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[-8,0]}}", -1, 16, -1, 0,
     "data_offsets[0] is -8"},
    {"bad_offsets_reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", -1, 16, -1, 0,
     "data_offsets [8, 0] have begin > end"},
    {"bad_offsets_out_of_range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[1000,1016]}}", -1, 16,
     -1, 0, "data_offsets [1000, 1016] extend past the data (16 bytes)"},
    {"bad_offsets_size_mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}", -1, 16, -1, 0,
     "data_offsets [0, 8] hold 8 bytes but shape [4] of F32 needs 16"},
    {"bad_overlap",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]},"
     "\"c\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
     -1, 28, -1, 0, "tensors 'a' [0, 16] and 'c' [8, 16] overlap"},
    {"bad_duplicate_name",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
     -1, 16, -1, 0, "tensor name 'a' appears twice"},
    {"bad_metadata_not_object", "{\"__metadata__\":\"pt\"}", -1, 0, -1, 0, "\"__metadata__\" is not an object"},
    {"bad_metadata_value_not_string", "{\"__metadata__\":{\"format\":\"pt\",\"layers\":6}}", -1, 0, -1, 0,
     "\"__metadata__\" value of 'layers' is not a string"},
    {"bad_metadata_duplicate_key", "{\"__metadata__\":{\"k\":\"1\",\"j\":\"2\",\"k\":\"3\"}}", -1, 0, -1, 0,
     "\"__metadata__\" key 'k' appears twice"},
    {"bad_read_i32_as_f32", "{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8, -1, 1,
     "tensor 'a' has dtype I32; only F32, F16 and BF16 read as float32"},
};
enum { N_BAD = sizeof bad_files / sizeof bad_files[0] };

static void test_bad_file(void **state)
{
    const bad_file_t *b = *state;
    const char *path = tmp_path(b->name);
    make_raw(path, b->header, b->declared, NULL, b->data_len, b->cut_to);
    mb_error_t err = {{0}};
    st_file_t *f = (st_file_t *)&err; /* must be reset to NULL on failure */
    int rc = st_open(path, &f, &err);
    if (b->at_read) {
        if (rc != 0)
            fail_msg("st_open failed: %s", err.msg);
        float dst[64];
        const st_tensor_t *t = st_tensor_at(f, 0);
        assert_int_equal(st_read_f32(f, t, dst, t->n_elems, &err), -1);
        st_close(f);
    } else {
        if (rc == 0)
            fail_msg("st_open accepted %s", b->name);
        assert_int_equal(rc, -1);
        assert_null(f);
    }
    assert_msg(&err, path, b->expect);
}

static void test_open_system_errors(void **state)
{
    (void)state;
    mb_error_t err = {{0}};
    st_file_t *f;
    const char *missing = tmp_path("does_not_exist.safetensors");
    assert_int_equal(st_open(missing, &f, &err), -1);
    assert_msg(&err, missing, "cannot open: No such file or directory");
    assert_int_equal(st_open(g_dir, &f, &err), -1);
    assert_msg(&err, g_dir, "is a directory; give a safetensors model file");
}

static void test_read_after_truncation(void **state)
{
    (void)state;
    /* large enough that stdio's read-ahead at open cannot hold the tail of the data */
    enum { N = 1 << 20 };
    float *v = calloc(N, sizeof *v);
    assert_non_null(v);
    const st_out_tensor_t t = {"v", ST_F32, 1, {N}, v};
    const char *path = tmp_path("shrinks.safetensors");
    mb_error_t err = {{0}};
    assert_int_equal(st_write(path, NULL, NULL, 0, &t, 1, &err), 0);
    st_file_t *f;
    assert_int_equal(st_open(path, &f, &err), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size - 100), 0); /* changed behind the reader's back */
    assert_int_equal(st_read_f32(f, st_tensor_at(f, 0), v, N, &err), -1);
    assert_msg(&err, path, "tensor 'v': cannot read its data: unexpected end of file");
    st_tensor_t foreign = *st_tensor_at(f, 0);
    assert_int_equal(st_read_raw(f, &foreign, v, 4 * N, &err), -1);
    assert_msg(&err, path, "does not belong to this file");
    st_close(f);
    free(v);
}

/* ---- writing ---- */

static void test_write_to_missing_dir(void **state)
{
    (void)state;
    float v[2] = {1, 2};
    const st_out_tensor_t t = {"v", ST_F32, 1, {2}, v};
    const char *dir = tmp_path("no_such_dir"), *path = tmp_path("no_such_dir/out.safetensors");
    mb_error_t err = {{0}};
    int before = count_dir_entries(g_dir);
    assert_int_equal(st_write(path, NULL, NULL, 0, &t, 1, &err), -1);
    assert_msg(&err, path, "No such file or directory");
    struct stat sb;
    assert_int_equal(stat(path, &sb), -1);
    assert_int_equal(stat(dir, &sb), -1);
    assert_int_equal(count_dir_entries(g_dir), before);
}

static void test_write_replaces_atomically(void **state)
{
    (void)state;
    char sub[256];
    snprintf(sub, sizeof sub, "%s", tmp_path("replace"));
    assert_int_equal(mkdir(sub, 0700), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/model.safetensors", sub);
    float one[3] = {1, 1, 1}, two[5] = {2, 2, 2, 2, 2};
    const st_out_tensor_t t1 = {"w", ST_F32, 1, {3}, one}, t2 = {"w", ST_BF16, 1, {5}, two};
    mb_error_t err = {{0}};
    assert_int_equal(st_write(path, NULL, NULL, 0, &t1, 1, &err), 0);
    st_file_t *old;
    assert_int_equal(st_open(path, &old, &err), 0);
    assert_int_equal(st_write(path, NULL, NULL, 0, &t2, 1, &err), 0);
    assert_int_equal(count_dir_entries(sub), 1); /* no temp file left behind */

    /* the rename swapped whole files: the open handle still sees the old one, a new open the new */
    float got[5];
    assert_int_equal(st_read_f32(old, st_find(old, "w"), got, 3, &err), 0);
    assert_memory_equal(got, one, sizeof one);
    st_close(old);
    st_file_t *f;
    assert_int_equal(st_open(path, &f, &err), 0);
    assert_int_equal(st_tensor_at(f, 0)->dtype, ST_BF16);
    assert_int_equal(st_read_f32(f, st_find(f, "w"), got, 5, &err), 0);
    assert_memory_equal(got, two, sizeof two);
    st_close(f);
}

static void test_write_failure_keeps_old_file(void **state)
{
    (void)state;
    char sub[256];
    snprintf(sub, sizeof sub, "%s", tmp_path("efbig"));
    assert_int_equal(mkdir(sub, 0700), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/model.safetensors", sub);
    float small[2] = {7, 8};
    const st_out_tensor_t t1 = {"w", ST_F32, 1, {2}, small};
    mb_error_t err = {{0}};
    assert_int_equal(st_write(path, NULL, NULL, 0, &t1, 1, &err), 0);
    size_t len_before;
    uint8_t *before = read_bytes(path, &len_before);

    /* make the write itself fail part-way: cap the file size below what the tensor needs */
    enum { N = 1 << 18 };
    float *big = calloc(N, sizeof *big);
    assert_non_null(big);
    const st_out_tensor_t t2 = {"w", ST_F32, 1, {N}, big};
    struct rlimit saved, cap;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    cap = saved;
    cap.rlim_cur = 64 * 1024;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &cap), 0);
    int rc = st_write(path, NULL, NULL, 0, &t2, 1, &err);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, old_handler);
    free(big);
    assert_int_equal(rc, -1);
    assert_msg(&err, path, "File too large");
    assert_int_equal(count_dir_entries(sub), 1); /* the temp file is gone */
    size_t len_after;
    uint8_t *after = read_bytes(path, &len_after);
    assert_int_equal(len_after, len_before);
    assert_memory_equal(after, before, len_before);
    free(before);
    free(after);
}

static void test_write_rejects_bad_input(void **state)
{
    (void)state;
    float v[4] = {0};
    const struct {
        st_out_tensor_t t[2];
        int n;
        const char *expect;
    } cases[] = {
        {{{"a", ST_I32, 1, {4}, v}}, 1, "can only write F32, F16, BF16 or U8, not I32"},
        {{{"a", ST_F32, 1, {4}, v}, {"a", ST_F16, 1, {4}, v}}, 2, "tensor name 'a' is given twice"},
        {{{"__metadata__", ST_F32, 1, {4}, v}}, 1, "'__metadata__' is reserved"},
        {{{"a", ST_F32, 1, {-4}, v}}, 1, "shape[0] is -4"},
        {{{"a", ST_F32, 9, {1}, v}}, 1, "ndim 9 is outside 0..8"},
        {{{"a", ST_F32, 2, {INT64_C(1) << 40, INT64_C(1) << 40}, v}}, 1, "overflows 64 bits"},
        {{{"a", ST_F32, 1, {4}, NULL}}, 1, "data is NULL"},
        {{{NULL, ST_F32, 1, {4}, v}}, 1, "has no name"},
    };
    const char *path = tmp_path("rejected.safetensors");
    mb_error_t err = {{0}};
    int before = count_dir_entries(g_dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(st_write(path, NULL, NULL, 0, cases[i].t, cases[i].n, &err), -1);
        assert_msg(&err, path, cases[i].expect);
    }
    const char *keys[] = {"k", "k"}, *vals[] = {"1", "2"};
    const st_out_tensor_t ok = {"a", ST_F32, 1, {4}, v};
    assert_int_equal(st_write(path, keys, vals, 2, &ok, 1, &err), -1);
    assert_msg(&err, path, "metadata key 'k' is given twice");
    assert_int_equal(count_dir_entries(g_dir), before);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_f32_round_trip),
        cmocka_unit_test(test_f16_known_values),
        cmocka_unit_test(test_bf16_known_values),
        cmocka_unit_test(test_f16_all_values),
        cmocka_unit_test(test_bf16_all_values),
        cmocka_unit_test(test_f16_rounding),
        cmocka_unit_test(test_bf16_rounding),
        cmocka_unit_test(test_open_accepts_valid_variants),
        cmocka_unit_test(test_open_system_errors),
        cmocka_unit_test(test_read_after_truncation),
        cmocka_unit_test(test_write_to_missing_dir),
        cmocka_unit_test(test_write_replaces_atomically),
        cmocka_unit_test(test_write_failure_keeps_old_file),
        cmocka_unit_test(test_write_rejects_bad_input),
    };
    enum { N_FIXED = sizeof fixed / sizeof fixed[0] };
    /* one test per bad file, so each reports under its own name */
    struct CMUnitTest tests[N_FIXED + N_BAD];
    memcpy(tests, fixed, sizeof fixed);
    for (int i = 0; i < N_BAD; i++)
        tests[N_FIXED + i] = (struct CMUnitTest){.name = bad_files[i].name, .test_func = test_bad_file,
                                                 .initial_state = (void *)&bad_files[i]};
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
