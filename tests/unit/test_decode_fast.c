/* The decode-step changes of issue 18 (docs/backends.md, "Decode-step
 * efficiency"): the fused Q/K/V and cross K/V weights are views of the
 * parts, with no copy; the parallel attention call and the partial top-k
 * of beam search give the same ids and scores, bit for bit, as the paths
 * they replace (MOEBENCH_DECODE_OFF), on every compiled backend, also when
 * tokens tie; fusing changes nothing on ref (each output is its own dot
 * product there). */
#include "testutil.h"

#include "models/decode.h"

static void test_parse_opt_off(void **state)
{
    (void)state;
    int bits = -1;
    mb_error_t err;
    assert_int_equal(model_parse_opt_off(NULL, &bits, &err), 0);
    assert_int_equal(bits, 0);
    assert_int_equal(model_parse_opt_off("", &bits, &err), 0);
    assert_int_equal(bits, 0);
    assert_int_equal(model_parse_opt_off("fuse,topk", &bits, &err), 0);
    assert_int_equal(bits, MODEL_OPT_FUSE | MODEL_OPT_TOPK);
    assert_int_equal(model_parse_opt_off("all", &bits, &err), 0);
    assert_int_equal(bits, MODEL_OPT_FUSE | MODEL_OPT_ATTN_ROWS | MODEL_OPT_TOPK);
    assert_int_not_equal(model_parse_opt_off("attn,fused", &bits, &err), 0);
    assert_non_null(strstr(err.msg, "'fused' is not a decode optimisation"));
}

/* The stacked views are the parts themselves, adjacent in the arena. */
static void test_fused_views(void **state)
{
    (void)state;
    model_t *m = test_model("dense", 3, 0.0f);
    const size_t d = (size_t)m->cfg.d_model;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < (s ? m->cfg.dec_layers : m->cfg.enc_layers); i++) {
            const model_layer_t *L = s ? &m->dec[i] : &m->enc[i];
            assert_ptr_equal(L->self_qkv.w, L->self.q.w);
            assert_ptr_equal(L->self.k.w, L->self.q.w + d * d);
            assert_ptr_equal(L->self.v.w, L->self.q.w + 2 * d * d);
            assert_ptr_equal(L->self.k.b, L->self.q.b + d);
            assert_ptr_equal(L->self.v.b, L->self.q.b + 2 * d);
            assert_int_equal(L->self_qkv.n_out, 3 * (int)d);
            assert_int_equal(L->self_qkv.n_in, (int)d);
            if (s) {
                assert_ptr_equal(L->cross_kv.w, L->cross.k.w);
                assert_ptr_equal(L->cross.v.w, L->cross.k.w + d * d);
                assert_ptr_equal(L->cross.v.b, L->cross.k.b + d);
                assert_int_equal(L->cross_kv.n_out, 2 * (int)d);
            }
        }
    model_free(m);
}

#define N_SRC 12
#define MAX_OUT 64

typedef struct run {
    int ids[N_SRC][MAX_OUT], len[N_SRC];
    float score[N_SRC];
} run_t;

static void decode_all(model_t *m, be_t *be, int off, int beam, run_t *r)
{
    int src[N_SRC][24];
    decode_request_t req[N_SRC];
    for (int s = 0; s < N_SRC; s++) {
        req[s] = (decode_request_t){.task = 0, .src = src[s], .src_len = 3 + (s * 5) % 19};
        for (int t = 0; t < req[s].src_len; t++)
            src[s][t] = 10 + (s * 37 + t * 11) % (m->cfg.vocab - 10);
    }
    decode_opts_t o;
    decode_opts_default(&o);
    o.beam = beam;
    o.max_len = 20;
    mb_error_t err;
    decode_ctx_t *dc = NULL;
    decode_result_t res[N_SRC];
    m->opt_off = off;
    assert_int_equal(model_prepare(m, be, &err), 0);
    if (decode_ctx_create(m, be, &o, &dc, &err) || decode_batch(dc, req, N_SRC, res, &err))
        fail_msg("decode: %s", err.msg);
    for (int s = 0; s < N_SRC; s++) {
        assert_true(res[s].len <= MAX_OUT);
        r->len[s] = res[s].len;
        r->score[s] = res[s].score;
        memcpy(r->ids[s], res[s].ids, sizeof(int) * (size_t)res[s].len);
    }
    decode_ctx_free(dc);
    model_release(m, be);
    m->opt_off = 0;
}

static void assert_same(const run_t *a, const run_t *b, const char *what)
{
    for (int s = 0; s < N_SRC; s++) {
        if (a->len[s] != b->len[s] || memcmp(a->ids[s], b->ids[s], sizeof(int) * (size_t)a->len[s]) ||
            memcmp(&a->score[s], &b->score[s], sizeof(float)))
            fail_msg("%s: sentence %d differs (len %d vs %d, score %.9g vs %.9g)", what, s, a->len[s], b->len[s],
                     (double)a->score[s], (double)b->score[s]);
    }
}

/* out_proj rows [V/2, V) copy rows [0, V/2): every token has a twin with the
 * same logit, so beam candidates tie all the time and the tie-break (lower
 * token first) decides. */
static void make_ties(model_t *m)
{
    const int V = m->cfg.vocab, d = m->cfg.d_model;
    float *w = (float *)m->out_proj.w;
    for (int v = V / 2; v < V; v++)
        memcpy(w + (size_t)v * d, w + (size_t)(v - V / 2) * d, sizeof(float) * (size_t)d);
}

static void check_backend(const char *name, model_t *m)
{
    be_t be;
    be_options_t o = {2, BE_PRECISION_FP32};
    mb_error_t err;
    if (!strcmp(name, "ref"))
        o.threads = 1;
    if (be_open(name, &o, &be, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    static run_t a, b;
    char what[96];
    for (int beam = 1; beam <= 4; beam += 3) {
        /* the parallel attention and top-k: exact on every backend */
        decode_all(m, &be, 0, beam, &a);
        decode_all(m, &be, MODEL_OPT_ATTN_ROWS | MODEL_OPT_TOPK, beam, &b);
        snprintf(what, sizeof what, "%s beam %d, attn+topk vs per-row and full scan", name, beam);
        assert_same(&a, &b, what);
        if (!strcmp(name, "ref")) { /* fusing too: one dot product per output either way */
            decode_all(m, &be, MODEL_OPT_FUSE | MODEL_OPT_ATTN_ROWS | MODEL_OPT_TOPK, beam, &b);
            snprintf(what, sizeof what, "%s beam %d, all vs none", name, beam);
            assert_same(&a, &b, what);
        }
    }
    be_close(&be);
}

static void test_same_outputs(void **state)
{
    (void)state;
    const char *variants[] = {"dense", "token-moe"};
    for (int v = 0; v < 2; v++)
        for (int ties = 0; ties < 2; ties++) {
            model_t *m = test_model(variants[v], 7 + (uint64_t)v, 0.0f);
            if (ties)
                make_ties(m);
            for (int i = 0; i < be_count(); i++)
                check_backend(be_at(i)->name, m);
            model_free(m);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_opt_off),
        cmocka_unit_test(test_fused_views),
        cmocka_unit_test(test_same_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
