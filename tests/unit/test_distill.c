/* Distillation's two library halves: the student's start from its teacher
 * (train/trn_init.c: non-expert tensors copied bit for bit, an MoE layer's
 * FFN the mean of its experts, recomputed here from the layer structs, not
 * from tensor names; shape rules) and the teacher's cached translations
 * (train/trn_distill.c: equal to decoding the same sources directly with
 * the same beam, reused while the key holds, regenerated when the teacher
 * changes, resumed from a partial file). */
#include "testutil.h"

#include <sys/stat.h>
#include <unistd.h>

#include "models/decode.h"
#include "train/trn_distill.h"
#include "train/trn_init.h"

static model_t *student_of(const model_t *t, int d_ff, int layers, uint64_t seed)
{
    model_config_t c;
    mb_error_t err;
    model_t *m;
    assert_int_equal(trn_student_config(&t->cfg, &c, &err), 0);
    if (d_ff > 0)
        c.d_ff = d_ff;
    if (layers > 0)
        c.enc_layers = c.dec_layers = layers;
    assert_int_equal(model_config_finish(&c, &err), 0);
    if (model_create(&c, &m, &err) != 0)
        fail_msg("%s", err.msg);
    model_init_random(m, seed);
    return m;
}

/* mean over experts of one FFN linear, element by element, in double */
static void expect_mean(const be_weight_t *s, const model_moe_t *moe, int fc, int bias)
{
    int n = s->n_out * (bias ? 1 : s->n_in);
    for (int j = 0; j < n; j++) {
        double sum = 0;
        for (int e = 0; e < moe->n_experts; e++) {
            const be_weight_t *w = fc == 1 ? &moe->experts[e].fc1 : &moe->experts[e].fc2;
            sum += (double)(bias ? w->b : w->w)[j];
        }
        float want = (float)(sum / moe->n_experts), got = (bias ? s->b : s->w)[j];
        /* the same sum in the same order: equal to within one float rounding */
        assert_true(fabsf(got - want) <= 1e-6f * fmaxf(1.0f, fabsf(want)));
    }
}

static void test_init_from_token_moe(void **state)
{
    (void)state;
    model_t *t = test_model("token-moe", 5, 0.0f), *s = student_of(t, 0, 0, 9);
    assert_string_equal(s->cfg.variant, "student");
    assert_int_equal(s->cfg.routing[MODEL_ENCODER], MODEL_ROUTE_DENSE);
    assert_int_equal(s->cfg.routing[MODEL_DECODER], MODEL_ROUTE_DENSE);
    trn_init_report_t r;
    mb_error_t err;
    assert_int_equal(trn_init_from(s, t, &r, &err), 0);
    /* every student tensor the teacher has by name: bit for bit */
    int copied = 0;
    for (int i = 0; i < s->n_tensors; i++) {
        int ti = model_tensor_index(t, s->specs[i].name);
        if (ti < 0)
            continue;
        assert_int_equal(t->specs[ti].n, s->specs[i].n);
        assert_memory_equal(s->tensor[i], t->tensor[ti], sizeof(float) * s->specs[i].n);
        copied++;
    }
    assert_int_equal(r.copied, copied);
    /* the MoE layers (every other FFN in tiny: layer 1 of each stack): the experts' mean */
    int moe_layers = 0;
    for (int st = 0; st < 2; st++)
        for (int l = 0; l < t->cfg.enc_layers; l++) {
            const model_layer_t *tl = st ? &t->dec[l] : &t->enc[l], *sl = st ? &s->dec[l] : &s->enc[l];
            if (!tl->is_moe)
                continue;
            moe_layers++;
            assert_int_equal(sl->is_moe, 0);
            assert_int_equal(tl->moe.n_experts, 8);
            expect_mean(&sl->ffn.fc1, &tl->moe, 1, 0);
            expect_mean(&sl->ffn.fc1, &tl->moe, 1, 1);
            expect_mean(&sl->ffn.fc2, &tl->moe, 2, 0);
            expect_mean(&sl->ffn.fc2, &tl->moe, 2, 1);
            /* and not just any expert */
            assert_true(memcmp(sl->ffn.fc1.w, tl->moe.experts[0].fc1.w, sizeof(float) * 64) != 0);
        }
    assert_int_equal(moe_layers, 2);
    assert_int_equal(r.averaged, 4 * moe_layers);
    assert_int_equal(r.fresh, 0);
    assert_int_equal(r.copied + r.averaged, s->n_tensors);
    assert_true(r.dropped >= moe_layers); /* the gates */
    model_free(s);
    model_free(t);
}

static void test_init_shapes(void **state)
{
    (void)state;
    mb_error_t err;
    trn_init_report_t r;
    model_t *t = test_model("task-moe", 5, 0.0f);
    /* another d_ff: the FFNs keep their fresh values (but for fc2's bias, [d_model] whatever
     * d_ff is: copied in dense layers, the experts' mean in MoE layers), the rest is copied */
    model_t *s = student_of(t, 96, 0, 9), *fresh = student_of(t, 96, 0, 9);
    assert_int_equal(trn_init_from(s, t, &r, &err), 0);
    assert_int_equal(r.averaged, 2);
    assert_int_equal(r.fresh, 4 * 3); /* four FFNs (2 + 2 layers): fc1 weight and bias, fc2 weight */
    assert_non_null(strstr(r.fresh_names, "enc.0.ffn.fc1.w"));
    for (int i = 0; i < s->n_tensors; i++)
        if (strstr(s->specs[i].name, ".ffn.") && !strstr(s->specs[i].name, "fc2.b"))
            assert_memory_equal(s->tensor[i], fresh->tensor[i], sizeof(float) * s->specs[i].n);
    assert_memory_equal(s->enc[0].ffn.fc2.b, t->enc[0].ffn.fc2.b, sizeof(float) * 64);
    assert_memory_equal(s->enc_embed, t->enc_embed, sizeof(float) * 512 * 64);
    model_free(s);
    model_free(fresh);
    /* fewer layers: the teacher's first */
    s = student_of(t, 0, 1, 9);
    assert_int_equal(trn_init_from(s, t, &r, &err), 0);
    assert_memory_equal(s->dec[0].self.q.w, t->dec[0].self.q.w, sizeof(float) * 64 * 64);
    assert_memory_equal(s->dec_ln.g, t->dec_ln.g, sizeof(float) * 64);
    assert_int_equal(r.fresh, 0);
    model_free(s);
    /* refused: another d_model, heads, or more layers */
    model_config_t c;
    assert_int_equal(trn_student_config(&t->cfg, &c, &err), 0);
    c.d_model = 32;
    assert_int_equal(trn_init_check(&t->cfg, &c, &err), -1);
    assert_non_null(strstr(err.msg, "d_model is 32 but the teacher's is 64"));
    assert_int_equal(trn_student_config(&t->cfg, &c, &err), 0);
    c.n_heads = 2;
    assert_int_equal(trn_init_check(&t->cfg, &c, &err), -1);
    assert_int_equal(trn_student_config(&t->cfg, &c, &err), 0);
    c.enc_layers = 3;
    assert_int_equal(trn_init_check(&t->cfg, &c, &err), -1);
    assert_non_null(strstr(err.msg, "layers"));
    model_free(t);
}

static void test_crc_and_provenance(void **state)
{
    (void)state;
    mb_error_t err;
    model_t *t = test_model("token-moe", 5, 0.0f), *u = test_model("token-moe", 5, 0.0f);
    uint32_t a = trn_model_crc(t);
    assert_int_equal(a, trn_model_crc(u));
    snprintf(u->cfg.distilled_from, sizeof u->cfg.distilled_from, "x.safetensors (crc32 00000000)");
    assert_int_equal(a, trn_model_crc(u)); /* provenance is not identity */
    u->tensor[3][7] += 1e-3f;
    assert_true(a != trn_model_crc(u));
    /* the provenance travels in the file */
    char path[] = "/tmp/moebench-distill-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(model_save(u, path, &err), 0);
    model_t *v;
    assert_int_equal(model_load(path, &v, &err), 0);
    assert_string_equal(v->cfg.distilled_from, "x.safetensors (crc32 00000000)");
    model_free(v);
    assert_int_equal(model_save(t, path, &err), 0);
    assert_int_equal(model_load(path, &v, &err), 0);
    assert_string_equal(v->cfg.distilled_from, "");
    model_free(v);
    unlink(path);
    model_free(t);
    model_free(u);
}

/* a 40-line corpus of two languages as token ids, in memory */
static void corpus(trn_corpus_t *c)
{
    memset(c, 0, sizeof *c);
    c->n_langs = c->n_cols = 2;
    c->n_lines = 40;
    snprintf(c->langs[0], MODEL_NAME_LEN, "de");
    snprintf(c->langs[1], MODEL_NAME_LEN, "en");
    for (int l = 0; l < 2; l++) {
        c->off[l] = malloc(sizeof(int) * 41);
        c->ids[l] = malloc(sizeof(int) * 40 * 12);
        c->off[l][0] = 0;
        for (int i = 0; i < 40; i++) {
            int n = i == 7 ? 0 : 1 + (i * 5 + l) % 11; /* line 7 empty */
            for (int j = 0; j < n; j++)
                c->ids[l][c->off[l][i] + j] = 20 + (i * 31 + j * 7 + l) % 400;
            c->off[l][i + 1] = c->off[l][i] + n;
        }
    }
}

static int calls;
static void count_progress(void *ctx, const char *d, int done, int total, int from_cache)
{
    (void)ctx, (void)d, (void)done, (void)total, (void)from_cache;
    calls++;
}

static void test_cache(void **state)
{
    (void)state;
    mb_error_t err;
    be_t be = test_ref_backend();
    model_config_t cfg;
    model_t *t;
    assert_int_equal(model_preset("tiny", "token-moe", &cfg, &err), 0);
    assert_int_equal(model_config_set_tasks(&cfg, "en-de,de-en", &err), 0);
    assert_int_equal(model_config_finish(&cfg, &err), 0);
    assert_int_equal(model_create(&cfg, &t, &err), 0);
    model_init_random(t, 4);
    assert_int_equal(model_prepare(t, &be, &err), 0);
    trn_corpus_t c;
    corpus(&c);
    char dir[] = "/tmp/moebench-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    trn_distill_opts_t o;
    trn_distill_opts_default(&o);
    o.beam = 3;
    o.batch = 5;
    o.max_out = 12;
    o.teacher_crc = trn_model_crc(t);
    trn_distill_result_t r;
    int *off, *ids, *off2, *ids2;
    calls = 0;
    assert_int_equal(trn_distill_direction(t, &be, &c, 1, "en-de", &o, dir, count_progress, NULL, &off, &ids, &r, &err), 0);
    assert_int_equal(r.reused, 0);
    assert_true(calls >= 8); /* 39 lines to decode, 5 a batch */
    /* the same as decoding each source alone, with the same beam */
    decode_opts_t d;
    decode_opts_default(&d);
    d.beam = 3;
    d.max_len = 12;
    decode_ctx_t *dc;
    assert_int_equal(decode_ctx_create(t, &be, &d, &dc, &err), 0);
    for (int i = 0; i < c.n_lines; i++) {
        int ls = c.off[1][i + 1] - c.off[1][i];
        if (ls == 0) {
            assert_int_equal(off[i + 1] - off[i], 0);
            continue;
        }
        decode_request_t q = {0, c.ids[1] + c.off[1][i], ls, 0};
        decode_result_t res;
        assert_int_equal(decode_batch(dc, &q, 1, &res, &err), 0);
        assert_int_equal(off[i + 1] - off[i], res.len);
        assert_memory_equal(ids + off[i], res.ids, sizeof(int) * (size_t)res.len);
    }
    decode_ctx_free(dc);
    /* the second time from the cache: same column, nothing decoded */
    char path[256];
    snprintf(path, sizeof path, "%s/en-de.ids", dir);
    struct stat st1, st2;
    assert_int_equal(stat(path, &st1), 0);
    calls = 0;
    assert_int_equal(trn_distill_direction(t, &be, &c, 1, "en-de", &o, dir, count_progress, NULL, &off2, &ids2, &r, &err), 0);
    assert_int_equal(r.reused, 1);
    assert_int_equal(calls, 0);
    assert_memory_equal(off, off2, sizeof(int) * 41);
    assert_memory_equal(ids, ids2, sizeof(int) * (size_t)off[40]);
    assert_int_equal(stat(path, &st2), 0);
    assert_true(st1.st_mtim.tv_sec == st2.st_mtim.tv_sec && st1.st_mtim.tv_nsec == st2.st_mtim.tv_nsec);
    free(off2), free(ids2);
    /* a partial file from an interrupted run: its lines are kept, the rest decoded */
    FILE *in = fopen(path, "r"), *pf;
    char part[300], line[4096];
    snprintf(part, sizeof part, "%s.partial", path);
    pf = fopen(part, "w");
    assert_non_null(fgets(line, sizeof line, in)); /* the key */
    fputs(line, pf);
    for (int i = 0; i < 10 && fgets(line, sizeof line, in); i++)
        fprintf(pf, "%d\t%s", i, line);
    fputs("11\t5 6", pf); /* torn: no newline, ignored */
    fclose(pf);
    fclose(in);
    unlink(path);
    assert_int_equal(trn_distill_direction(t, &be, &c, 1, "en-de", &o, dir, NULL, NULL, &off2, &ids2, &r, &err), 0);
    assert_int_equal(r.reused, 0);
    assert_int_equal(r.resumed, 10);
    assert_memory_equal(off, off2, sizeof(int) * 41);
    assert_memory_equal(ids, ids2, sizeof(int) * (size_t)off[40]);
    assert_int_equal(access(part, F_OK), -1); /* removed once complete */
    free(off2), free(ids2);
    /* another teacher: regenerated */
    model_release(t, &be);
    t->tensor[5][0] += 0.5f;
    assert_int_equal(model_prepare(t, &be, &err), 0);
    o.teacher_crc = trn_model_crc(t);
    assert_int_equal(trn_distill_direction(t, &be, &c, 1, "en-de", &o, dir, NULL, NULL, &off2, &ids2, &r, &err), 0);
    assert_int_equal(r.reused, 0);
    assert_non_null(strstr(r.why, "changed"));
    free(off2), free(ids2);
    /* a direction the teacher does not have */
    assert_int_equal(trn_distill_direction(t, &be, &c, 1, "en-fr", &o, dir, NULL, NULL, &off2, &ids2, &r, &err), -1);
    assert_non_null(strstr(err.msg, "does not translate en-fr"));
    unlink(path);
    rmdir(dir);
    free(off), free(ids);
    trn_corpus_free(&c);
    model_release(t, &be);
    model_free(t);
    be_close(&be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_from_token_moe),
        cmocka_unit_test(test_init_shapes),
        cmocka_unit_test(test_crc_and_provenance),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests_name("distill", tests, NULL, NULL);
}
