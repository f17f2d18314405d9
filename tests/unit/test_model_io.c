/* Model files: a save/load round trip is bit-exact and translates the same;
 * a memory-mapped load (model_load_mapped) gives the same weights bit for bit,
 * the same translations and the same extracted sub-networks as a read one,
 * maps only what can be used in place (fp32, float-aligned) and reads the
 * rest, and refuses the same bad files;
 * BF16/F16 weights load; files whose tensors do not match their own config
 * (missing, extra, wrong shape, wrong dtype, bad metadata) are refused with a
 * message naming the file and the tensor; and models too big for the
 * memory limit are refused before anything is allocated. */
#include "testutil.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/mb_mem.h"
#include "models/decode.h"
#include "models/extract.h"
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


/* ---- memory-mapped loading ---- */

#define MAP_SENT 4
#define MAP_MAX_LEN 12

/* Greedy translations (ids, lengths and log-probabilities, with scores) of
 * fixed sentences for task 0 with backend `be_name`; out: [MAP_SENT] each. */
static void map_translate(const model_t *m, const char *be_name, int ids[MAP_SENT][MAP_MAX_LEN], int *len,
                          float *logprob)
{
    be_t be;
    be_options_t o = {1, BE_PRECISION_FP32};
    mb_error_t err;
    if (be_open(be_name, &o, &be, &err) != 0)
        fail_msg("%s: %s", be_name, err.msg);
    decode_opts_t opt;
    decode_opts_default(&opt);
    opt.max_len = MAP_MAX_LEN;
    decode_ctx_t *dc;
    if (model_prepare((model_t *)m, &be, &err) || decode_ctx_create(m, &be, &opt, &dc, &err))
        fail_msg("%s", err.msg);
    static const int src[MAP_SENT][5] = {{11, 12, 13, 14, 15}, {20, 21, 22, 0, 0}, {30, 31, 0, 0, 0},
                                         {40, 41, 42, 43, 0}};
    static const int src_len[MAP_SENT] = {5, 3, 2, 4};
    decode_request_t req[MAP_SENT];
    decode_result_t res[MAP_SENT];
    for (int i = 0; i < MAP_SENT; i++)
        req[i] = (decode_request_t){0, src[i], src_len[i], 0};
    if (decode_batch(dc, req, MAP_SENT, res, &err))
        fail_msg("%s", err.msg);
    memset(ids, 0, sizeof(int) * MAP_SENT * MAP_MAX_LEN);
    for (int i = 0; i < MAP_SENT; i++) {
        len[i] = res[i].len;
        logprob[i] = res[i].logprob;
        memcpy(ids[i], res[i].ids, sizeof(int) * (size_t)res[i].len);
    }
    decode_ctx_free(dc);
    model_release((model_t *)m, &be);
    be_close(&be);
}

/* Bit-identical: the same weights through the same code give the same bits
 * (no tolerance), for every backend this build has that uses fp32 weights. */
static void expect_same_translations(const model_t *a, const model_t *b)
{
    static const char *const backends[] = {"ref", "openblas", "onednn"};
    for (int k = 0; k < 3; k++) {
        if (strcmp(backends[k], "ref") && (!strcmp(backends[k], "openblas") ? !MB_WITH_OPENBLAS : !MB_WITH_ONEDNN))
            continue;
        int ia[MAP_SENT][MAP_MAX_LEN], ib[MAP_SENT][MAP_MAX_LEN], la[MAP_SENT], lb[MAP_SENT];
        float pa[MAP_SENT], pb[MAP_SENT];
        map_translate(a, backends[k], ia, la, pa);
        map_translate(b, backends[k], ib, lb, pb);
        assert_memory_equal(la, lb, sizeof la);
        assert_memory_equal(ia, ib, sizeof ia);
        assert_memory_equal(pa, pb, sizeof pa); /* the float bits */
        assert_true(la[0] > 0);
    }
}

static void expect_same_weights(const model_t *a, const model_t *b)
{
    assert_int_equal(a->n_tensors, b->n_tensors);
    for (int i = 0; i < a->n_tensors; i++) {
        assert_string_equal(a->specs[i].name, b->specs[i].name);
        assert_memory_equal(a->tensor[i], b->tensor[i], sizeof(float) * (size_t)a->specs[i].n);
    }
    /* the layers use what the tensor table says (model_rewire) */
    assert_memory_equal(a->dec[0].self.q.w, b->dec[0].self.q.w, sizeof(float) * 64 * 64);
    assert_memory_equal(a->out_proj.w, b->out_proj.w, sizeof(float) * (size_t)a->cfg.vocab * 64);
}

static int in_map(const model_t *m, const float *p)
{
    return m->map && (const char *)p >= (const char *)m->map && (const char *)p < (const char *)m->map + m->map_len;
}

/* The permissions of the mapping that holds p, from /proc/self/maps ("r--p": read-only,
 * private, so a stray write faults instead of changing the weights or the file). */
static void mapping_perms(const void *p, char perms[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    strcpy(perms, "none");
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char pm[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, pm) == 3 && (uintptr_t)p >= lo && (uintptr_t)p < hi) {
            memcpy(perms, pm, 5);
            break;
        }
    }
    if (f)
        fclose(f);
}

static void test_mapped_load_same_as_read(void **state)
{
    (void)state;
    mb_error_t err;
    model_t *m = test_model("task-moe", 8, 2.0f), *rd, *mp;
    assert_int_equal(model_save(m, path("map.st"), &err), 0);
    assert_int_equal(model_load(path("map.st"), &rd, &err), 0);
    if (model_load_mapped(path("map.st"), 1, &mp, &err) != 0)
        fail_msg("%s", err.msg);
    assert_null(rd->map);
    assert_int_equal(rd->n_mapped, 0);
    /* a file moebench wrote is all fp32 and aligned: every tensor in the mapping, no arena */
    assert_int_equal(mp->n_mapped, mp->n_tensors);
    assert_null(mp->arena);
    for (int i = 0; i < mp->n_tensors; i++)
        assert_true(in_map(mp, mp->tensor[i]));
    assert_true(in_map(mp, mp->dec[1].moe.experts[2].fc2.b));
    assert_true(in_map(mp, mp->enc_embed) && in_map(mp, mp->dec_ln.g));
    /* the file is in arena order, so the stacked Q/K/V and cross K/V views are used in place too */
    assert_true(in_map(mp, mp->enc[0].self_qkv.w) && in_map(mp, mp->dec[1].cross_kv.b));
    assert_true(mp->enc[0].self_qkv.w == mp->enc[0].self.q.w && mp->enc[0].self.k.w == mp->enc[0].self.q.w +
                (size_t)mp->cfg.d_model * mp->cfg.d_model);
    char perms[5];
    mapping_perms(mp->tensor[0], perms);
    assert_string_equal(perms, "r--p");
    expect_same_weights(rd, mp);
    expect_same_translations(rd, mp);
    expect_same_translations(m, mp);
    /* a sub-network cut from a mapped task-moe model is the one cut from a read one */
    be_t ref = test_ref_backend();
    model_t *sr, *sm;
    assert_int_equal(model_extract(rd, &ref, "en-de", &sr, &err), 0);
    assert_int_equal(model_extract(mp, &ref, "en-de", &sm, &err), 0);
    assert_null(sm->map);
    assert_int_equal(sr->n_params, sm->n_params);
    assert_memory_equal(sr->arena, sm->arena, sizeof(float) * sr->n_params);
    be_close(&ref);
    model_free(sr), model_free(sm);
    /* the mapping is private: replacing the file (as every moebench writer does, by rename)
     * leaves the loaded weights as they were */
    model_t *other = test_model("task-moe", 9, 2.0f);
    assert_int_equal(model_save(other, path("map.st"), &err), 0);
    expect_same_weights(rd, mp);
    model_free(other);
    model_free(rd), model_free(mp), model_free(m);
}

/* The file as save would write it, except: the vocabulary-bytes tensor of 5
 * bytes first (so every fp32 tensor after it lies at an offset of 1 mod 4),
 * and/or the one-dimensional tensors (biases, layer norms) in BF16, and/or
 * the tensors in name (index) order rather than arena order, as files were
 * written before the arena kept an attention block's q, k, v adjacent. */
static void save_as(const model_t *m, const char *file, int odd_first, int bf16_vectors, int name_order)
{
    model_meta_t meta;
    model_config_to_meta(&m->cfg, &meta);
    const char *keys[MODEL_META_MAX], *values[MODEL_META_MAX];
    for (int i = 0; i < meta.n; i++)
        keys[i] = meta.key[i], values[i] = meta.value[i];
    st_out_tensor_t *t = calloc((size_t)m->n_tensors + 1, sizeof *t);
    static const uint8_t five[5] = {1, 2, 3, 4, 5};
    int n = 0;
    if (odd_first)
        t[n++] = (st_out_tensor_t){.name = MODEL_VOCAB_TENSOR, .dtype = ST_U8, .ndim = 1, .shape = {5}, .data = five};
    model_weight_tensors(m, t + n);
    for (int i = 0; name_order && i < m->n_tensors; i++)
        t[n + i] = (st_out_tensor_t){.name = m->specs[i].name, .dtype = ST_F32, .ndim = m->specs[i].ndim,
                                     .shape = {m->specs[i].shape[0], m->specs[i].shape[1]}, .data = m->tensor[i]};
    for (int i = 0; bf16_vectors && i < m->n_tensors; i++)
        if (t[n + i].ndim == 1)
            t[n + i].dtype = ST_BF16;
    mb_error_t err;
    if (st_write(file, keys, values, meta.n, t, n + m->n_tensors, &err) != 0)
        fail_msg("%s", err.msg);
    free(t);
}

/* A file whose tensors are in name order (as files were written before the
 * arena kept Q, K and V adjacent): the parts of each stacked view are read
 * into the arena (adjacent there), everything else is mapped, and the
 * model computes what a read one does. */
static void test_mapped_load_old_order(void **state)
{
    (void)state;
    mb_error_t err;
    model_t *m = test_model("token-moe", 12, 2.0f), *rd, *mp;
    save_as(m, path("order.st"), 0, 0, 1);
    assert_int_equal(model_load(path("order.st"), &rd, &err), 0);
    assert_int_equal(model_load_mapped(path("order.st"), 1, &mp, &err), 0);
    int views = 0, groups = model_view_groups(mp, NULL, 0);
    model_view_group_t g[64];
    assert_true(groups > 0 && groups <= 64);
    model_view_groups(mp, g, groups);
    for (int k = 0; k < groups; k++)
        views += g[k].n;
    assert_int_equal(mp->n_mapped, mp->n_tensors - views);
    assert_non_null(mp->arena);
    assert_true(!in_map(mp, mp->enc[0].self_qkv.w) && !in_map(mp, mp->dec[0].cross_kv.b));
    assert_true(in_map(mp, mp->enc[0].self.o.w) && in_map(mp, mp->enc_embed));
    expect_same_weights(rd, mp);
    expect_same_translations(rd, mp);
    model_free(rd), model_free(mp), model_free(m);
}

static void test_mapped_load_reads_what_it_cannot_map(void **state)
{
    (void)state;
    mb_error_t err;
    model_t *m = test_model("token-moe", 10, 2.0f), *rd, *mp;
    /* misaligned fp32: nothing can be used in place, all of it is read */
    save_as(m, path("odd.st"), 1, 0, 0);
    assert_int_equal(model_load(path("odd.st"), &rd, &err), 0);
    assert_int_equal(model_load_mapped(path("odd.st"), 1, &mp, &err), 0);
    assert_int_equal(mp->n_mapped, 0);
    assert_null(mp->map);
    assert_non_null(mp->arena);
    assert_int_equal(mp->vocab_len, 5);
    expect_same_weights(rd, mp);
    expect_same_weights(m, mp);
    model_free(rd), model_free(mp);
    /* mixed: the fp32 matrices mapped, the BF16 vectors converted into the arena */
    save_as(m, path("mixed.st"), 0, 1, 0);
    assert_int_equal(model_load(path("mixed.st"), &rd, &err), 0);
    assert_int_equal(model_load_mapped(path("mixed.st"), 1, &mp, &err), 0);
    assert_true(mp->n_mapped > 0 && mp->n_mapped < mp->n_tensors);
    assert_non_null(mp->arena);
    int q = model_tensor_index(mp, "enc.0.self.q.w"), b = model_tensor_index(mp, "enc.0.self.q.b");
    assert_true(in_map(mp, mp->tensor[q]) && mp->enc[0].self.q.w == mp->tensor[q]);
    assert_true(!in_map(mp, mp->tensor[b]) && mp->enc[0].self.q.b == mp->tensor[b]);
    expect_same_weights(rd, mp);
    expect_same_translations(rd, mp);
    model_free(rd), model_free(mp);
    /* MOEBENCH_MMAP=0: reading, as model_load */
    model_save(m, path("plain.st"), NULL);
    setenv("MOEBENCH_MMAP", "0", 1);
    assert_int_equal(model_load_mapped(path("plain.st"), 1, &mp, &err), 0);
    unsetenv("MOEBENCH_MMAP");
    assert_int_equal(mp->n_mapped, 0);
    assert_null(mp->map);
    expect_same_weights(m, mp);
    model_free(mp), model_free(m);
}

/* Bad files are refused by a mapped load with the message a read load gives;
 * the finite check still looks at the mapped weights. */
static void test_mapped_load_refuses_bad_files(void **state)
{
    (void)state;
    mb_error_t e1, e2;
    model_t *m = test_model("dense", 11, 2.0f), *x = (model_t *)1;
    int k = model_tensor_index(m, "dec.1.ffn.fc2.w");
    m->tensor[k][7] = NAN;
    model_save(m, path("nan.st"), NULL);
    assert_int_equal(model_load_mapped(path("nan.st"), 1, &x, &e1), -1);
    assert_null(x);
    assert_int_equal(model_load(path("nan.st"), &x, &e2), -1);
    assert_string_equal(e1.msg, e2.msg);
    assert_non_null(strstr(e1.msg, "tensor 'dec.1.ffn.fc2.w' has NaN at index 7"));
    /* --no-check-finite: loads, and the NaN is there, in the mapping */
    assert_int_equal(model_load_mapped(path("nan.st"), 0, &x, &e1), 0);
    assert_true(in_map(x, x->tensor[k]) && isnan(x->tensor[k][7]));
    model_free(x);
    m->tensor[k][7] = 0.5f;
    model_save(m, path("cut.st"), NULL);
    struct stat sb;
    assert_int_equal(stat(path("cut.st"), &sb), 0);
    assert_int_equal(truncate(path("cut.st"), sb.st_size - 4), 0); /* one float short */
    assert_int_equal(model_load_mapped(path("cut.st"), 1, &x, &e1), -1);
    assert_int_equal(model_load(path("cut.st"), &x, &e2), -1);
    assert_string_equal(e1.msg, e2.msg);
    assert_null(strchr(e1.msg, '\n'));
    assert_non_null(strstr(e1.msg, "truncated or corrupt"));
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_bit_exact),
        cmocka_unit_test(test_mismatched_files_refused),
        cmocka_unit_test(test_low_precision_weights_load),
        cmocka_unit_test(test_memory_guard_refuses_before_allocating),
        cmocka_unit_test(test_mapped_load_same_as_read),
        cmocka_unit_test(test_mapped_load_reads_what_it_cannot_map),
        cmocka_unit_test(test_mapped_load_old_order),
        cmocka_unit_test(test_mapped_load_refuses_bad_files),
    };
    return cmocka_run_group_tests_name("model_io", tests, setup, teardown);
}
