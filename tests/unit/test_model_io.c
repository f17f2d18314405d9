/* Model files: a save/load round trip is bit-exact and translates the same;
 * BF16/F16 weights load; files whose tensors do not match their own config
 * (missing, extra, wrong shape, wrong dtype, bad metadata) are refused with a
 * message naming the file and the tensor; and models too big for the
 * memory limit are refused before anything is allocated. */
#include "testutil.h"

#include <unistd.h>

#include "common/mb_mem.h"
#include "models/safetensors.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mb_model_io_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path(const char *name)
{
    static char p[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

static void test_round_trip_bit_exact(void **state)
{
    (void)state;
    mb_error_t err;
    model_t *m = test_model("task-moe", 7, 2.0f), *back;
    assert_int_equal(model_save(m, path("a.safetensors"), &err), 0);
    assert_int_equal(model_load(path("a.safetensors"), &back, &err), 0);
    assert_int_equal(back->n_params, m->n_params);
    assert_int_equal(back->n_tensors, m->n_tensors);
    assert_memory_equal(back->arena, m->arena, sizeof(float) * m->n_params);
    assert_string_equal(back->cfg.variant, "task-moe");
    assert_int_equal(back->cfg.routing[MODEL_DECODER], MODEL_ROUTE_TASK);
    assert_true(back->cfg.capacity_factor == m->cfg.capacity_factor);
    assert_int_equal(back->cfg.n_tasks, m->cfg.n_tasks);
    model_free(back);
    model_free(m);
}

/* The file as save would write it, with tensor `drop` removed, tensor
 * `reshape` given another shape, or tensors written in `dtype`. */
static void write_variant(const model_t *m, const char *file, const char *drop, const char *reshape,
                          st_dtype_t dtype, const char *extra, const char *meta_key, const char *meta_value)
{
    model_meta_t meta;
    model_config_to_meta(&m->cfg, &meta);
    const char *keys[MODEL_META_MAX], *values[MODEL_META_MAX];
    int nm = 0;
    for (int i = 0; i < meta.n; i++) {
        keys[nm] = meta.key[i];
        values[nm] = meta_key && !strcmp(meta_key, meta.key[i]) ? meta_value : meta.value[i];
        if (values[nm])
            nm++;
    }
    int found = 0;
    for (int i = 0; meta_key && i < meta.n; i++)
        found |= !strcmp(meta.key[i], meta_key);
    if (meta_key && meta_value && !found) {
        keys[nm] = meta_key;
        values[nm++] = meta_value;
    }
    st_out_tensor_t *t = calloc((size_t)m->n_tensors + 1, sizeof *t);
    int n = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        if (drop && !strcmp(drop, m->specs[i].name))
            continue;
        t[n] = (st_out_tensor_t){m->specs[i].name, dtype, m->specs[i].ndim, {m->specs[i].shape[0], m->specs[i].shape[1]},
                                 m->tensor[i]};
        if (reshape && !strcmp(reshape, m->specs[i].name)) {
            t[n].ndim = 2;
            t[n].shape[0] = (int64_t)m->specs[i].n / 2;
            t[n].shape[1] = 2;
        }
        n++;
    }
    if (extra)
        t[n++] = (st_out_tensor_t){extra, ST_F32, 1, {4, 0}, m->tensor[0]};
    mb_error_t err;
    if (st_write(file, keys, values, nm, t, n, &err) != 0)
        fail_msg("%s", err.msg);
    free(t);
}

static void expect_refused(const char *file, const char *needle)
{
    mb_error_t err;
    model_t *m = (model_t *)1;
    if (model_load(file, &m, &err) != -1)
        fail_msg("%s was loaded", file);
    assert_null(m);
    if (!strstr(err.msg, needle) || strncmp(err.msg, file, strlen(file)))
        fail_msg("message '%s' lacks '%s' or the file name", err.msg, needle);
}

static void test_mismatched_files_refused(void **state)
{
    (void)state;
    model_t *m = test_model("token-moe", 3, 2.0f);
    write_variant(m, path("missing.st"), "dec.1.moe.3.fc2.w", NULL, ST_F32, NULL, NULL, NULL);
    expect_refused(path("missing.st"), "tensor 'dec.1.moe.3.fc2.w' is missing");
    write_variant(m, path("shape.st"), NULL, "enc.0.self.q.w", ST_F32, NULL, NULL, NULL);
    expect_refused(path("shape.st"), "tensor 'enc.0.self.q.w' has shape [2048, 2] but the config needs [64, 64]");
    write_variant(m, path("extra.st"), NULL, NULL, ST_F32, "enc.0.bogus", NULL, NULL);
    expect_refused(path("extra.st"), "unexpected tensor 'enc.0.bogus'");
    write_variant(m, path("nofmt.st"), NULL, NULL, ST_F32, NULL, "format", NULL);
    expect_refused(path("nofmt.st"), "not a moebench model file");
    write_variant(m, path("experts.st"), NULL, NULL, ST_F32, NULL, "experts", "4");
    expect_refused(path("experts.st"), "tensor 'enc.1.moe.gate' has shape [8, 64] but the config needs [4, 64]");
    write_variant(m, path("dmodel.st"), NULL, NULL, ST_F32, NULL, "d_model", "sixty");
    expect_refused(path("dmodel.st"), "\"d_model\" is \"sixty\"");
    write_variant(m, path("heads.st"), NULL, NULL, ST_F32, NULL, "heads", "5");
    expect_refused(path("heads.st"), "not a multiple of heads 5");
    write_variant(m, path("route.st"), NULL, NULL, ST_F32, NULL, "dec_routing", "expert-choice");
    expect_refused(path("route.st"), "unknown routing 'expert-choice'");
    write_variant(m, path("tasks.st"), NULL, NULL, ST_F32, NULL, "tasks", "en-de,EN");
    expect_refused(path("tasks.st"), "'EN' is not a language pair");
    write_variant(m, path("sub.st"), NULL, NULL, ST_F32, NULL, "subnet_key", "xx");
    expect_refused(path("sub.st"), "subnet_key \"xx\"");
    /* an integer tensor where a weight belongs (written by hand: 16 header bytes) */
    FILE *f = fopen(path("i32.st"), "wb");
    const char *hdr = "{\"__metadata__\":{\"format\":\"moebench-1\"},\"x\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    uint64_t len = strlen(hdr);
    fwrite(&len, 8, 1, f), fwrite(hdr, 1, len, f), fwrite("\0\0\0\0", 1, 4, f), fclose(f);
    expect_refused(path("i32.st"), "__metadata__");
    /* a truncated model file */
    model_save(m, path("full.st"), NULL);
    assert_int_equal(truncate(path("full.st"), 5000), 0);
    expect_refused(path("full.st"), "full.st");
    expect_refused(path("does-not-exist.st"), "does-not-exist.st");
    model_free(m);
}

static void test_low_precision_weights_load(void **state)
{
    (void)state;
    model_t *m = test_model("dense", 4, 2.0f), *b, *h;
    write_variant(m, path("bf16.st"), NULL, NULL, ST_BF16, NULL, NULL, NULL);
    write_variant(m, path("f16.st"), NULL, NULL, ST_F16, NULL, NULL, NULL);
    mb_error_t err;
    assert_int_equal(model_load(path("bf16.st"), &b, &err), 0);
    assert_int_equal(model_load(path("f16.st"), &h, &err), 0);
    /* relative rounding: bf16 keeps 8 significant bits (2^-9), f16 11 (2^-12) for |x| in f16's normal range */
    for (uint64_t i = 0; i < m->n_params; i++) {
        float x = m->arena[i];
        assert_true(fabsf(b->arena[i] - x) <= fabsf(x) * 0x1p-8f);
        if (fabsf(x) > 1e-4f)
            assert_true(fabsf(h->arena[i] - x) <= fabsf(x) * 0x1p-11f);
    }
    model_free(b), model_free(h), model_free(m);
}

static void test_memory_guard_refuses_before_allocating(void **state)
{
    (void)state;
    model_config_t c;
    mb_error_t err;
    model_t *m = (model_t *)1;
    assert_int_equal(model_preset("web128e", "token-moe", &c, &err), 0);
    setenv("MOEBENCH_MEM_LIMIT", "16G", 1); /* the same verdict on any machine */
    assert_int_equal(model_create(&c, &m, &err), -1);
    assert_null(m);
    assert_non_null(strstr(err.msg, "needs 49.42 GiB"));
    assert_non_null(strstr(err.msg, "allows 16.00 GiB"));
    /* the limit applies to small models too, and to loading */
    model_t *tiny = test_model("dense", 1, 0.0f);
    assert_int_equal(model_save(tiny, path("tiny.st"), &err), 0);
    setenv("MOEBENCH_MEM_LIMIT", "100K", 1);
    assert_int_equal(model_preset("tiny", "dense", &c, &err), 0);
    assert_int_equal(model_create(&c, &m, &err), -1);
    expect_refused(path("tiny.st"), "allows 100.00 KiB (MOEBENCH_MEM_LIMIT)");
    unsetenv("MOEBENCH_MEM_LIMIT");
    model_free(tiny);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_bit_exact),
        cmocka_unit_test(test_mismatched_files_refused),
        cmocka_unit_test(test_low_precision_weights_load),
        cmocka_unit_test(test_memory_guard_refuses_before_allocating),
    };
    return cmocka_run_group_tests_name("model_io", tests, setup, teardown);
}
