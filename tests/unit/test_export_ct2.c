/* The CTranslate2 export (models/export_ct2), without CTranslate2: model.bin
 * is read back by a reader written here from the format's description, and
 *  - a dense model's variables carry its weights where CTranslate2 looks for
 *    them (fused Q/K/V and cross K/V as stacked rows, the interleaved sin/cos
 *    position table moebench uses, the flags and head count as scalars), and
 *    config.json and the vocabulary name moebench's special ids;
 *  - a tied model writes its table once and aliases the other uses;
 *  - a task sub-network's fixed MoE layers, merged into one FFN, compute the
 *    same as the weighted sum of the experts, checked in double precision
 *    against docs/routing.md's formula (tolerance below);
 *  - token- and sentence-routed models, a full task-moe model and a
 *    sub-network with a token-routed encoder are refused, leaving no folder;
 *    existing non-empty folders, files and missing parents are refused, and
 *    an existing empty folder is filled;
 *  - token strings with quotes, backslashes, control bytes and UTF-8 come
 *    back unchanged from the JSON files (parsed with cJSON).
 * tests/e2e/ct2.sh runs the real CTranslate2 on the export when it is installed. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/export_ct2.h"
#include "models/extract.h"
#include "models/layers.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mb_ct2_XXXXXX");
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
    static char p[4][160];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

/* ---- an independent model.bin reader ---- */

typedef struct rvar {
    char name[128];
    int rank, dtype;
    uint32_t dims[4];
    uint32_t bytes;
    const uint8_t *data;
} rvar_t;

typedef struct rmodel {
    uint8_t *buf;
    size_t len, at;
    uint32_t version, revision;
    char spec[64];
    int n, n_alias;
    rvar_t v[512];
    char alias[8][2][128];
} rmodel_t;

static uint32_t rd(rmodel_t *r, int n)
{
    assert_true(r->at + (size_t)n <= r->len);
    uint32_t x = 0;
    for (int i = 0; i < n; i++)
        x |= (uint32_t)r->buf[r->at + (size_t)i] << (8 * i);
    r->at += (size_t)n;
    return x;
}

static void rd_str(rmodel_t *r, char *out, size_t cap)
{
    uint32_t n = rd(r, 2);
    assert_true(n >= 1 && n <= cap && r->at + n <= r->len);
    memcpy(out, r->buf + r->at, n);
    assert_int_equal(out[n - 1], '\0'); /* the length counts the NUL */
    r->at += n;
}

static void read_model(const char *file, rmodel_t *r)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(file, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    r->len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    r->buf = malloc(r->len);
    assert_int_equal(fread(r->buf, 1, r->len, f), r->len);
    fclose(f);
    r->version = rd(r, 4);
    rd_str(r, r->spec, sizeof r->spec);
    r->revision = rd(r, 4);
    r->n = (int)rd(r, 4);
    assert_true(r->n > 0 && r->n <= 512);
    for (int i = 0; i < r->n; i++) {
        rvar_t *v = &r->v[i];
        rd_str(r, v->name, sizeof v->name);
        v->rank = (int)rd(r, 1);
        assert_true(v->rank <= 4);
        for (int k = 0; k < v->rank; k++)
            v->dims[k] = rd(r, 4);
        v->dtype = (int)rd(r, 1);
        v->bytes = rd(r, 4);
        assert_true(r->at + v->bytes <= r->len);
        v->data = r->buf + r->at;
        r->at += v->bytes;
    }
    r->n_alias = (int)rd(r, 4);
    assert_true(r->n_alias <= 8);
    for (int i = 0; i < r->n_alias; i++) {
        rd_str(r, r->alias[i][0], 128);
        rd_str(r, r->alias[i][1], 128);
    }
    assert_int_equal(r->at, r->len); /* nothing after the aliases */
}

static const rvar_t *find(const rmodel_t *r, const char *name)
{
    for (int i = 0; i < r->n_alias; i++)
        if (!strcmp(r->alias[i][0], name))
            name = r->alias[i][1];
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->v[i].name, name))
            return &r->v[i];
    fail_msg("model.bin has no variable '%s'", name);
    return NULL;
}

/* variable `name` is the float32 [d0, d1] (d1 0: [d0]) made of the n parts, each n_part floats */
static void expect_f32(const rmodel_t *r, const char *name, uint32_t d0, uint32_t d1, int n, const float *const *part,
                       size_t n_part)
{
    const rvar_t *v = find(r, name);
    assert_int_equal(v->dtype, 0);
    assert_int_equal(v->rank, d1 ? 2 : 1);
    assert_int_equal(v->dims[0], d0);
    if (d1)
        assert_int_equal(v->dims[1], d1);
    assert_int_equal(v->bytes, sizeof(float) * n_part * (size_t)n);
    for (int i = 0; i < n; i++)
        if (memcmp(v->data + sizeof(float) * n_part * (size_t)i, part[i], sizeof(float) * n_part) != 0)
            fail_msg("%s: part %d differs from the model's weights", name, i);
}

static int scalar(const rmodel_t *r, const char *name, int dtype)
{
    const rvar_t *v = find(r, name);
    assert_int_equal(v->rank, 0);
    assert_int_equal(v->dtype, dtype);
    if (dtype == 2) {
        assert_int_equal(v->bytes, 2);
        return (int16_t)(v->data[0] | v->data[1] << 8);
    }
    assert_int_equal(v->bytes, 1);
    return (int8_t)v->data[0];
}

/* a variable's floats, copied: model.bin does not align them */
static float *floats(const rvar_t *v)
{
    float *x = malloc(v->bytes ? v->bytes : 1);
    assert_non_null(x);
    memcpy(x, v->data, v->bytes);
    return x;
}

static char *slurp(const char *file)
{
    FILE *f = fopen(file, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static const char **id_tokens(int V)
{
    static char store[4096][12];
    static const char *tok[4096];
    assert_true(V <= 4096);
    for (int i = 0; i < V; i++) {
        snprintf(store[i], sizeof store[i], "%d", i);
        tok[i] = store[i];
    }
    return tok;
}

static int export(const model_t *m, const char *out, mb_error_t *err)
{
    ct2_export_opts_t o = {.tokens = id_tokens(m->cfg.vocab), .vocab_kind = "ids", .max_positions = 64,
                           .source = "test"};
    return ct2_export(m, &o, out, err);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* no DIR.tmp-* left beside the outputs */
static void no_temporaries(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp-", dir);
    assert_int_not_equal(system(cmd), 0);
}

static void test_dense_layout(void **state)
{
    (void)state;
    model_t *m = test_model("dense", 7, 0.0f);
    const model_config_t *c = &m->cfg;
    const int d = c->d_model, V = c->vocab;
    mb_error_t err;
    if (export(m, path("dense"), &err) != 0)
        fail_msg("%s", err.msg);
    no_temporaries();
    rmodel_t *r = malloc(sizeof *r);
    read_model(path("dense/model.bin"), r);
    assert_int_equal(r->version, 6);
    assert_string_equal(r->spec, "TransformerSpec");
    assert_int_equal(r->revision, 7);
    /* sorted by name, as CTranslate2's converter writes them */
    for (int i = 1; i < r->n; i++)
        assert_true(strcmp(r->v[i - 1].name, r->v[i].name) < 0);
    const size_t dd = (size_t)d * (size_t)d;
    char name[128];
    for (int st = 0; st < 2; st++) {
        const char *sn = st ? "decoder" : "encoder";
        const model_layer_t *layers = st ? m->dec : m->enc;
        assert_int_equal(scalar(r, st ? "decoder/num_heads" : "encoder/num_heads", 2), c->n_heads);
        snprintf(name, sizeof name, "%s/scale_embeddings", sn);
        assert_int_equal(scalar(r, name, 1), 1);
        snprintf(name, sizeof name, "%s/pre_norm", sn);
        assert_int_equal(scalar(r, name, 1), 1);
        snprintf(name, sizeof name, "%s/activation", sn);
        assert_int_equal(scalar(r, name, 1), 0); /* ReLU */
        snprintf(name, sizeof name, "%s/position_encodings/encodings", sn);
        const rvar_t *pe = find(r, name);
        assert_int_equal(pe->dims[0], 64);
        assert_int_equal(pe->dims[1], d);
        float row[1024];
        for (int p = 0; p < 64; p += 9) { /* moebench's interleaved sin/cos, bit for bit */
            layer_position(p, d, row);
            assert_memory_equal(pe->data + sizeof(float) * (size_t)p * (size_t)d, row, sizeof(float) * (size_t)d);
        }
        snprintf(name, sizeof name, "%s/layer_norm/gamma", sn);
        const float *g = st ? m->dec_ln.g : m->enc_ln.g;
        expect_f32(r, name, (uint32_t)d, 0, 1, &g, (size_t)d);
        for (int i = 0; i < (st ? c->dec_layers : c->enc_layers); i++) {
            const model_layer_t *L = &layers[i];
            const float *qkv[3] = {L->self.q.w, L->self.k.w, L->self.v.w};
            const float *qkvb[3] = {L->self.q.b, L->self.k.b, L->self.v.b};
            snprintf(name, sizeof name, "%s/layer_%d/self_attention/linear_0/weight", sn, i);
            expect_f32(r, name, (uint32_t)(3 * d), (uint32_t)d, 3, qkv, dd);
            snprintf(name, sizeof name, "%s/layer_%d/self_attention/linear_0/bias", sn, i);
            expect_f32(r, name, (uint32_t)(3 * d), 0, 3, qkvb, (size_t)d);
            snprintf(name, sizeof name, "%s/layer_%d/self_attention/linear_1/weight", sn, i);
            expect_f32(r, name, (uint32_t)d, (uint32_t)d, 1, &L->self.o.w, dd);
            snprintf(name, sizeof name, "%s/layer_%d/self_attention/layer_norm/beta", sn, i);
            expect_f32(r, name, (uint32_t)d, 0, 1, &L->ln_self.b, (size_t)d);
            if (st) {
                const float *kv[2] = {L->cross.k.w, L->cross.v.w};
                snprintf(name, sizeof name, "decoder/layer_%d/attention/linear_0/weight", i);
                expect_f32(r, name, (uint32_t)d, (uint32_t)d, 1, &L->cross.q.w, dd);
                snprintf(name, sizeof name, "decoder/layer_%d/attention/linear_1/weight", i);
                expect_f32(r, name, (uint32_t)(2 * d), (uint32_t)d, 2, kv, dd);
                snprintf(name, sizeof name, "decoder/layer_%d/attention/linear_2/bias", i);
                expect_f32(r, name, (uint32_t)d, 0, 1, &L->cross.o.b, (size_t)d);
                snprintf(name, sizeof name, "decoder/layer_%d/attention/layer_norm/gamma", i);
                expect_f32(r, name, (uint32_t)d, 0, 1, &L->ln_cross.g, (size_t)d);
            }
            snprintf(name, sizeof name, "%s/layer_%d/ffn/linear_0/weight", sn, i);
            expect_f32(r, name, (uint32_t)c->d_ff, (uint32_t)d, 1, &L->ffn.fc1.w, (size_t)c->d_ff * (size_t)d);
            snprintf(name, sizeof name, "%s/layer_%d/ffn/linear_1/bias", sn, i);
            expect_f32(r, name, (uint32_t)d, 0, 1, &L->ffn.fc2.b, (size_t)d);
        }
    }
    expect_f32(r, "encoder/embeddings_0/weight", (uint32_t)V, (uint32_t)d, 1, &m->enc_embed, (size_t)V * (size_t)d);
    expect_f32(r, "decoder/embeddings/weight", (uint32_t)V, (uint32_t)d, 1, &m->dec_embed, (size_t)V * (size_t)d);
    expect_f32(r, "decoder/projection/weight", (uint32_t)V, (uint32_t)d, 1, &m->out_proj.w, (size_t)V * (size_t)d);
    for (int i = 0; i < r->n; i++) /* the projection has no bias, and nothing else is left over */
        assert_null(strstr(r->v[i].name, "projection/bias"));
    assert_int_equal(r->n_alias, 1); /* the decoder's position table is the encoder's */

    const char *cfg = slurp(path("dense/config.json"));
    assert_non_null(strstr(cfg, "\"bos_token\": \"1\""));
    assert_non_null(strstr(cfg, "\"decoder_start_token\": \"1\""));
    assert_non_null(strstr(cfg, "\"eos_token\": \"2\""));
    assert_non_null(strstr(cfg, "\"unk_token\": \"3\""));
    assert_non_null(strstr(cfg, "\"add_source_eos\": false"));
    assert_non_null(strstr(cfg, "\"layer_norm_epsilon\": 1e-05"));
    const char *voc = slurp(path("dense/shared_vocabulary.json"));
    assert_true(!strncmp(voc, "[\n  \"0\",\n  \"1\",\n  \"2\",\n  \"3\",\n  \"4\",", 35));
    int lines = 0;
    for (const char *p = voc; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, V + 2);
    const char *mj = slurp(path("dense/moebench.json"));
    assert_non_null(strstr(mj, "\"en-de\": \"5\"")); /* <2de>: langs cs, de, en, fr from id 4 */
    assert_false(exists(path("dense/sentencepiece.model")));
    free(r->buf);
    free(r);
    model_free(m);
}

static void test_tied_written_once(void **state)
{
    (void)state;
    model_config_t c;
    mb_error_t err;
    model_t *m;
    assert_int_equal(model_preset("tiny", "dense", &c, &err), 0);
    c.tie_embed = 1;
    assert_int_equal(model_config_finish(&c, &err) || model_create(&c, &m, &err), 0);
    model_init_random(m, 3);
    if (export(m, path("tied"), &err) != 0)
        fail_msg("%s", err.msg);
    rmodel_t *r = malloc(sizeof *r);
    read_model(path("tied/model.bin"), r);
    assert_int_equal(r->n_alias, 3); /* projection and encoder embeddings; the encoder's positions */
    const size_t n = (size_t)c.vocab * (size_t)c.d_model;
    expect_f32(r, "decoder/projection/weight", (uint32_t)c.vocab, (uint32_t)c.d_model, 1, &m->enc_embed, n);
    expect_f32(r, "encoder/embeddings_0/weight", (uint32_t)c.vocab, (uint32_t)c.d_model, 1, &m->enc_embed, n);
    free(r->buf);
    free(r);
    model_free(m);
}

/* A task sub-network with every MoE layer task-routed (both stacks). */
static model_t *task_subnet(int enc_task, model_t **full_out)
{
    model_config_t c;
    mb_error_t err;
    model_t *full, *sub;
    assert_int_equal(model_preset("tiny", "task-moe", &c, &err), 0);
    if (enc_task)
        c.routing[MODEL_ENCODER] = MODEL_ROUTE_TASK;
    assert_int_equal(model_config_finish(&c, &err) || model_create(&c, &full, &err), 0);
    model_init_random(full, 11);
    be_t be = test_ref_backend();
    if (model_extract(full, &be, "de", &sub, &err) != 0)
        fail_msg("extract: %s", err.msg);
    be_close(&be);
    *full_out = full;
    return sub;
}

static void test_fixed_moe_merged(void **state)
{
    (void)state;
    model_t *full, *m = task_subnet(1, &full);
    const model_config_t *c = &m->cfg;
    const int d = c->d_model, f = c->d_ff, k = c->top_k;
    mb_error_t err;
    if (export(m, path("sub"), &err) != 0)
        fail_msg("%s", err.msg);
    rmodel_t *r = malloc(sizeof *r);
    read_model(path("sub/model.bin"), r);
    int checked = 0;
    double h[1024], y_moe[1024], y_ct2[1024];
    for (int st = 0; st < 2; st++)
        for (int i = 0; i < (st ? c->dec_layers : c->enc_layers); i++) {
            const model_layer_t *L = st ? &m->dec[i] : &m->enc[i];
            if (!L->is_moe)
                continue;
            assert_true(L->moe.fixed);
            char name[128];
            const char *sn = st ? "decoder" : "encoder";
            snprintf(name, sizeof name, "%s/layer_%d/ffn/linear_0/weight", sn, i);
            const rvar_t *w1 = find(r, name);
            snprintf(name, sizeof name, "%s/layer_%d/ffn/linear_0/bias", sn, i);
            const rvar_t *b1 = find(r, name);
            snprintf(name, sizeof name, "%s/layer_%d/ffn/linear_1/weight", sn, i);
            const rvar_t *w2 = find(r, name);
            snprintf(name, sizeof name, "%s/layer_%d/ffn/linear_1/bias", sn, i);
            const rvar_t *b2 = find(r, name);
            assert_int_equal(w1->dims[0], k * f);
            assert_int_equal(w1->dims[1], d);
            assert_int_equal(w2->dims[0], d);
            assert_int_equal(w2->dims[1], k * f);
            float *W1 = floats(w1), *B1 = floats(b1), *W2 = floats(w2), *B2 = floats(b2);
            for (int trial = 0; trial < 4; trial++) {
                float hf[1024];
                test_fill(hf, (size_t)d, 100u + (uint64_t)trial);
                for (int j = 0; j < d; j++)
                    h[j] = 2.0 * hf[j];
                /* docs/routing.md: y = sum over ranks of weight * (relu(h W1' + b1) W2' + b2) */
                double ymax = 0.0;
                for (int o = 0; o < d; o++)
                    y_moe[o] = y_ct2[o] = 0.0;
                for (int e = 0; e < k; e++) {
                    const model_ffn_t *E = &L->moe.experts[e];
                    const double g = L->moe.fixed_weight[e];
                    for (int j = 0; j < f; j++) {
                        double a = E->fc1.b[j];
                        for (int x = 0; x < d; x++)
                            a += h[x] * E->fc1.w[(size_t)j * d + x];
                        a = a > 0 ? a : 0;
                        for (int o = 0; o < d; o++)
                            y_moe[o] += g * a * E->fc2.w[(size_t)o * f + j];
                    }
                    for (int o = 0; o < d; o++)
                        y_moe[o] += g * E->fc2.b[o];
                }
                /* what CTranslate2 computes with the merged FFN */
                for (int j = 0; j < k * f; j++) {
                    double a = B1[j];
                    for (int x = 0; x < d; x++)
                        a += h[x] * W1[(size_t)j * d + x];
                    a = a > 0 ? a : 0;
                    for (int o = 0; o < d; o++)
                        y_ct2[o] += a * W2[(size_t)o * k * f + j];
                }
                for (int o = 0; o < d; o++) {
                    y_ct2[o] += B2[o];
                    ymax = fabs(y_moe[o]) > ymax ? fabs(y_moe[o]) : ymax;
                }
                /* the only difference is float rounding of g * w2 and of sum g * b2
                 * (relative 2^-24 each, over k * f + 1 terms): 1e-5 of the largest output */
                for (int o = 0; o < d; o++)
                    if (fabs(y_moe[o] - y_ct2[o]) > 1e-5 * (1.0 + ymax))
                        fail_msg("%s layer %d output %d: experts %.9g, merged %.9g", sn, i, o, y_moe[o], y_ct2[o]);
            }
            free(W1);
            free(B1);
            free(W2);
            free(B2);
            checked++;
        }
    assert_int_equal(checked, 2); /* the MoE layer of each stack */
    free(r->buf);
    free(r);
    model_free(m);
    model_free(full);
}

/* export to out fails naming `pattern`; out is left as it was (absent unless `was_there`) */
static void refused(const model_t *m, const char *out, const char *pattern, int was_there)
{
    mb_error_t err;
    if (export(m, out, &err) == 0)
        fail_msg("export of a %s model succeeded", m->cfg.variant);
    if (!strstr(err.msg, pattern))
        fail_msg("message '%s' lacks '%s'", err.msg, pattern);
    assert_int_equal(exists(out), was_there);
    no_temporaries();
}

static void expect_refused(const model_t *m, const char *out, const char *pattern)
{
    refused(m, out, pattern, 0);
}

static void test_routed_models_refused(void **state)
{
    (void)state;
    model_t *m = test_model("token-moe", 1, 0.0f);
    expect_refused(m, path("tok"), "token-routed MoE layer");
    model_free(m);
    m = test_model("sentence-moe", 1, 0.0f);
    expect_refused(m, path("sent"), "sentence-routed MoE layer");
    model_free(m);
    m = test_model("task-moe", 1, 0.0f); /* encoder token-routed, decoder task-routed */
    expect_refused(m, path("task"), "token-routed");
    model_free(m);
    model_t *full;
    m = task_subnet(0, &full); /* the decoder is fixed, the encoder still token-routed */
    expect_refused(m, path("sub0"), "encoder layer 1");
    model_free(m);
    model_free(full);
    m = task_subnet(1, &full); /* the full model, every MoE layer task-routed: extract first */
    expect_refused(full, path("full"), "moebench extract");
    model_free(m);
    model_free(full);
}

static void test_output_folders(void **state)
{
    (void)state;
    model_t *m = test_model("dense", 2, 0.0f);
    mb_error_t err;
    assert_int_equal(mkdir(path("nonempty"), 0755), 0);
    FILE *f = fopen(path("nonempty/x"), "w");
    assert_non_null(f);
    fclose(f);
    refused(m, path("nonempty"), "not empty", 1);
    assert_true(exists(path("nonempty/x")));
    f = fopen(path("afile"), "w");
    assert_non_null(f);
    fclose(f);
    refused(m, path("afile"), "is a regular file", 1);
    assert_int_not_equal(export(m, path("nothere/sub"), &err), 0);
    assert_non_null(strstr(err.msg, "does not exist"));
    assert_int_not_equal(export(m, "", &err), 0);
    assert_non_null(strstr(err.msg, "empty"));
    /* an empty folder is filled (replaced by the finished one) */
    assert_int_equal(mkdir(path("empty"), 0755), 0);
    if (export(m, path("empty/"), &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(exists(path("empty/model.bin")));
    no_temporaries();
    /* duplicate token strings would make two ids one */
    const char **tok = id_tokens(m->cfg.vocab);
    tok[100] = "99";
    ct2_export_opts_t o = {.tokens = tok, .vocab_kind = "ids"};
    assert_int_not_equal(ct2_export(m, &o, path("dup"), &err), 0);
    assert_non_null(strstr(err.msg, "'99' appears twice"));
    assert_false(exists(path("dup")));
    model_free(m);
}

static cJSON *parse_file(const char *file)
{
    cJSON *j = cJSON_Parse(slurp(file));
    if (!j)
        fail_msg("%s is not valid JSON near '%.20s'", file, cJSON_GetErrorPtr());
    return j;
}

static void test_json_strings(void **state)
{
    (void)state;
    model_t *m = test_model("dense", 4, 0.0f);
    const char **tok = id_tokens(m->cfg.vocab);
    static const char *const odd[] = {"\"quoted\"", "back\\slash", "tab\there\nnewline\x01", "\xe2\x96\x81Zo\xc3\xab",
                                      "</s>"};
    tok[MODEL_EOS] = odd[4];
    for (int i = 0; i < 4; i++)
        tok[100 + i] = odd[i];
    tok[5] = odd[0] + 1; /* the tag of en-de: a string starting with a letter */
    ct2_export_opts_t o = {.tokens = tok, .vocab_kind = "ids", .source = "dir\\with \"quotes\".st"};
    mb_error_t err;
    if (ct2_export(m, &o, path("json"), &err) != 0)
        fail_msg("%s", err.msg);
    cJSON *voc = parse_file(path("json/shared_vocabulary.json"));
    assert_int_equal(cJSON_GetArraySize(voc), m->cfg.vocab);
    for (int i = 0; i < m->cfg.vocab; i++)
        assert_string_equal(cJSON_GetArrayItem(voc, i)->valuestring, tok[i]);
    cJSON_Delete(voc);
    cJSON *cfg = parse_file(path("json/config.json"));
    assert_string_equal(cJSON_GetObjectItem(cfg, "eos_token")->valuestring, "</s>");
    assert_string_equal(cJSON_GetObjectItem(cfg, "bos_token")->valuestring, "1");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cfg, "add_source_eos")));
    assert_true(fabs(cJSON_GetObjectItem(cfg, "layer_norm_epsilon")->valuedouble - 1e-5) < 1e-12);
    cJSON_Delete(cfg);
    cJSON *mj = parse_file(path("json/moebench.json"));
    assert_string_equal(cJSON_GetObjectItem(mj, "source")->valuestring, o.source);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(mj, "task_tag_token"), "en-de")->valuestring, tok[5]);
    assert_int_equal(cJSON_GetObjectItem(mj, "eos_id")->valueint, MODEL_EOS);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(mj, "task_tag_token")), 6);
    cJSON_Delete(mj);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_layout),
        cmocka_unit_test(test_tied_written_once),
        cmocka_unit_test(test_fixed_moe_merged),
        cmocka_unit_test(test_routed_models_refused),
        cmocka_unit_test(test_output_folders),
        cmocka_unit_test(test_json_strings),
    };
    return cmocka_run_group_tests_name("export_ct2", tests, setup, teardown);
}
