/* The engine's invariants (README.md, docs/routing.md), on tiny random models and the ref
 * backend:
 *  - same seed -> same weights and outputs; batch composition does not
 *    change a sentence's translation (capacity off);
 *  - token-moe with one expert and top-1 == dense with the same weights;
 *  - an extracted task sub-network == the full task-moe model for its task
 *    (identical tokens, greedy and beam; logits within 1e-5), and its size is
 *    what the config's "served per task" count says;
 *  - KV-cached decoding == recomputing the whole prefix; beam 1 == greedy;
 *  - with capacity on (docs/routing.md), the above still hold: drops are
 *    per sequence, so batching does not matter and teacher forcing admits
 *    what incremental decoding admitted. */
#include "testutil.h"

#include "models/decode.h"
#include "models/extract.h"
#include "models/transformer.h"

#define MAXLEN 40

typedef struct outs {
    int n;
    int len[16], finished[16];
    int ids[16][MAXLEN + 1];
    float logprob[16];
} outs_t;

/* A fixed batch: sentences of different lengths over several tasks. */
static int batch_reqs(const model_t *m, int task_override, decode_request_t *req)
{
    static int src[6][12] = {{10, 11, 12, 13, 14}, {40, 41}, {7, 8, 9, 10, 11, 12, 13, 14, 15},
                             {100, 200, 300},      {},       {55, 66, 77, 88, 99, 111, 122}};
    static const int len[6] = {5, 2, 9, 3, 0, 7};
    memset(req, 0, sizeof(decode_request_t) * 6);
    for (int i = 0; i < 6; i++) {
        req[i].task = task_override >= 0 ? task_override : i % m->cfg.n_tasks;
        req[i].src = src[i];
        req[i].src_len = len[i];
    }
    return 6;
}

/* The capacity factor run() and full_logits() apply (0 = unlimited), and
 * the statistics of run()'s last decode. */
static double run_cf = 0.0;
static decode_stats_t run_stats;

/* Longer sentences (3 to 30 tokens) so that per-sentence capacity bites. */
static int long_reqs(const model_t *m, decode_request_t *req)
{
    static int src[6][30];
    static const int len[6] = {24, 3, 17, 30, 9, 12};
    memset(req, 0, sizeof(decode_request_t) * 6);
    for (int i = 0; i < 6; i++) {
        for (int t = 0; t < len[i]; t++)
            src[i][t] = 30 + (i * 37 + t * 11) % 200;
        req[i].task = i % m->cfg.n_tasks;
        req[i].src = src[i];
        req[i].src_len = len[i];
    }
    return 6;
}

/* beam 0 = beam search with beam 1 (the beam code path, not greedy's);
 * beam -1 = greedy without scores */
static void run(const model_t *m, int beam, const decode_request_t *req, int n, outs_t *o)
{
    be_t be = test_ref_backend();
    decode_opts_t opt;
    decode_opts_default(&opt);
    opt.capacity_factor = run_cf;
    opt.beam = beam > 0 ? beam : 1;
    opt.force_beam = beam == 0;
    opt.scores = beam != -1;
    opt.max_len = MAXLEN - 8; /* random models rarely stop: keep runs short */
    decode_ctx_t *dc;
    decode_result_t res[16];
    mb_error_t err;
    if (decode_ctx_create(m, &be, &opt, &dc, &err) || decode_batch(dc, req, n, res, &err))
        fail_msg("decode: %s", err.msg);
    o->n = n;
    for (int i = 0; i < n; i++) {
        o->len[i] = res[i].len;
        o->finished[i] = res[i].finished;
        o->logprob[i] = res[i].logprob;
        memcpy(o->ids[i], res[i].ids, sizeof(int) * (size_t)res[i].len);
    }
    run_stats = *decode_get_stats(dc);
    decode_ctx_free(dc);
}

static void assert_same_tokens(const outs_t *a, const outs_t *b)
{
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        assert_int_equal(a->len[i], b->len[i]);
        assert_memory_equal(a->ids[i], b->ids[i], sizeof(int) * (size_t)a->len[i]);
        assert_int_equal(a->finished[i], b->finished[i]);
    }
}

/* Teacher-forced logits of the decoder over tgt = [BOS, out...] for one
 * request; returns a malloc'ed [len+1, vocab] array. */
static float *full_logits(const model_t *m, const decode_request_t *r, const int *out, int len)
{
    be_t be = test_ref_backend();
    const model_config_t *c = &m->cfg;
    int sids[64], tids[MAXLEN + 2], so[2] = {0, r->src_len + 2}, to[2] = {0, len + 1};
    int key = model_task_key_index(c, r->task);
    sids[0] = model_task_tag(c, r->task);
    memcpy(sids + 1, r->src, sizeof(int) * (size_t)r->src_len);
    sids[r->src_len + 1] = MODEL_EOS;
    tids[0] = MODEL_BOS;
    memcpy(tids + 1, out, sizeof(int) * (size_t)len);
    tf_seqs_t src = {1, so, sids, &key}, tgt = {1, to, tids, &key};
    tf_ws_t ws = {0};
    ws.capacity_factor = run_cf;
    mb_error_t err;
    if (tf_ws_reserve(&ws, m, len + 1 > so[1] ? len + 1 : so[1], so[1], len + 1, &err))
        fail_msg("%s", err.msg);
    float *enc = malloc(sizeof(float) * (size_t)so[1] * c->d_model);
    float *logits = malloc(sizeof(float) * (size_t)(len + 1) * c->vocab);
    tf_encode(m, &be, &ws, &src, enc, NULL);
    tf_decode_full(m, &be, &ws, &src, enc, &tgt, logits, NULL);
    tf_ws_free(&ws);
    free(enc);
    return logits;
}

/* A tiny model with E experts (many experts make capacity drops likely). */
static model_t *model_with_experts(const char *variant, uint64_t seed, int E)
{
    model_config_t c;
    mb_error_t err;
    model_t *m;
    if (model_preset("tiny", variant, &c, &err) != 0)
        fail_msg("preset: %s", err.msg);
    c.n_experts = E;
    if (model_config_finish(&c, &err) || model_create(&c, &m, &err))
        fail_msg("model: %s", err.msg);
    model_init_random(m, seed);
    return m;
}

/* ---- cancel: a flag read at every decoder step ---- */

/* A backend that is ref with a counting gemm: after cancel_after calls it sets
 * the cancel flag and notes how many decoder steps had run by then. */
static void (*cancel_ref_gemm)(be_t *, int, int, int, int, int, float, const float *, int, const float *, int, float,
                               float *, int);
static volatile sig_atomic_t cancel_flag;
static long cancel_calls, cancel_after;
static const decode_ctx_t *cancel_dc;
static uint64_t cancel_steps_at_flag;

static void counting_gemm(be_t *be, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc)
{
    cancel_ref_gemm(be, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (++cancel_calls == cancel_after) {
        cancel_flag = 1;
        cancel_steps_at_flag = decode_get_stats(cancel_dc)->steps;
    }
}

/* Decodes 4 sentences of the tiny token-moe with the flag set after `after`
 * gemm calls (0: never); returns decode_batch's status, the steps run and the
 * gemm calls made. */
static int decode_cancelled(long after, uint64_t *steps, long *calls, char *msg)
{
    model_t *m = test_model("token-moe", 7, 0);
    be_t be = test_ref_backend();
    static be_ops_t ops;
    ops = *be.ops;
    cancel_ref_gemm = ops.gemm;
    ops.gemm = counting_gemm;
    be.ops = &ops;
    decode_opts_t opt;
    decode_opts_default(&opt);
    opt.max_len = 40;
    opt.cancel = &cancel_flag;
    cancel_flag = 0;
    cancel_calls = 0;
    cancel_after = after;
    decode_ctx_t *dc;
    mb_error_t err = {""};
    assert_int_equal(decode_ctx_create(m, &be, &opt, &dc, &err), 0);
    cancel_dc = dc;
    int src[4][6] = {{5, 6, 7, 8, 9, 10}, {11, 12, 13, 14, 15, 16}, {17, 18, 19, 20, 21, 22}, {23, 24, 25, 26, 27, 28}};
    decode_request_t req[4];
    for (int i = 0; i < 4; i++)
        req[i] = (decode_request_t){0, src[i], 6, 30};
    decode_result_t res[4];
    int rc = decode_batch(dc, req, 4, res, &err);
    *steps = decode_get_stats(dc)->steps;
    *calls = cancel_calls;
    snprintf(msg, 256, "%s", err.msg);
    decode_ctx_free(dc);
    be_close(&be);
    model_free(m);
    return rc;
}

/* The search stops at the step after the flag is set, and decode_batch fails
 * with "interrupted"; without the flag the same batch runs all 30 steps. */
static void test_cancel_stops_within_a_step(void **state)
{
    (void)state;
    uint64_t full_steps, steps;
    long full_calls, calls;
    char msg[256];
    assert_int_equal(decode_cancelled(0, &full_steps, &full_calls, msg), 0);
    assert_int_equal(full_steps, 30);
    assert_int_equal(decode_cancelled(full_calls / 3, &steps, &calls, msg), -1);
    assert_non_null(strstr(msg, "interrupted"));
    assert_true(cancel_steps_at_flag > 0 && cancel_steps_at_flag < 29);
    assert_true(steps <= cancel_steps_at_flag + 1); /* the step under way may finish, no more */
    assert_true(calls < full_calls / 2);
}

/* ---- determinism ---- */

/* model_prepare gives each weight the role backend.h describes: a wrong one
 * changes no output (onednn's two fp32 paths agree), only which kernels run,
 * so it is checked here directly. */
static void test_prepare_sets_roles(void **state)
{
    (void)state;
    model_t *m = test_model("token-moe", 1, 2.0f);
    be_t be = test_ref_backend();
    mb_error_t err;
    if (model_prepare(m, &be, &err) != 0)
        fail_msg("model_prepare: %s", err.msg);
    int experts = 0;
    for (int s = 0; s < 2; s++) {
        model_layer_t *layers = s ? m->dec : m->enc;
        int n = s ? m->cfg.dec_layers : m->cfg.enc_layers;
        const int whole = s ? BE_WEIGHT_LAYER : BE_WEIGHT_SENTENCE; /* self-attention and FFN */
        for (int i = 0; i < n; i++) {
            model_layer_t *L = &layers[i];
            assert_int_equal(L->self_qkv.role, whole);
            assert_int_equal(L->self.q.role, whole);
            assert_int_equal(L->self.o.role, whole);
            assert_int_equal(L->ffn.fc1.role, whole);
            assert_int_equal(L->ffn.fc2.role, whole);
            if (s) { /* cross-attention: K/V over the encoder's output (whole sentences), Q/O per step */
                assert_int_equal(L->cross_kv.role, BE_WEIGHT_SENTENCE);
                assert_int_equal(L->cross.k.role, BE_WEIGHT_SENTENCE);
                assert_int_equal(L->cross.v.role, BE_WEIGHT_SENTENCE);
                assert_int_equal(L->cross.q.role, BE_WEIGHT_LAYER);
                assert_int_equal(L->cross.o.role, BE_WEIGHT_LAYER);
            }
            for (int e = 0; L->is_moe && e < L->moe.n_experts; e++, experts++) {
                assert_int_equal(L->moe.experts[e].fc1.role, BE_WEIGHT_LAYER);
                assert_int_equal(L->moe.experts[e].fc2.role, BE_WEIGHT_LAYER);
            }
        }
    }
    assert_true(experts > 0); /* the model has MoE layers, so the loop above checked some */
    assert_int_equal(m->out_proj.role, BE_WEIGHT_OUT_PROJ);
    model_release(m, &be);
    be_close(&be);
    model_free(m);
}

static void test_same_seed_same_model_and_output(void **state)
{
    (void)state;
    model_t *a = test_model("token-moe", 5, 2.0f), *b = test_model("token-moe", 5, 2.0f),
            *c = test_model("token-moe", 6, 2.0f);
    assert_int_equal(a->n_params, b->n_params);
    assert_memory_equal(a->arena, b->arena, sizeof(float) * a->n_params);
    assert_true(memcmp(a->arena, c->arena, sizeof(float) * a->n_params) != 0);
    decode_request_t req[6];
    int n = batch_reqs(a, -1, req);
    outs_t o1, o2;
    run(a, 1, req, n, &o1);
    run(a, 1, req, n, &o2);
    assert_same_tokens(&o1, &o2);
    for (int i = 0; i < n; i++)
        assert_true(o1.logprob[i] == o2.logprob[i]);
    model_free(a), model_free(b), model_free(c);
}

/* With capacity off, sentences do not interact: a batch translates each
 * sentence as it would alone (packing, masks and leaving the batch). */
static void test_batch_equals_one_by_one(void **state)
{
    (void)state;
    const char *variants[] = {"dense", "token-moe", "sentence-moe", "task-moe"};
    for (int v = 0; v < 4; v++) {
        model_t *m = test_model(variants[v], 11, 0.0f);
        decode_request_t req[6];
        int n = batch_reqs(m, -1, req);
        for (int beam = 1; beam <= 3; beam += 2) {
            outs_t all, one;
            run(m, beam, req, n, &all);
            for (int i = 0; i < n; i++) {
                run(m, beam, &req[i], 1, &one);
                assert_int_equal(one.len[0], all.len[i]);
                assert_memory_equal(one.ids[0], all.ids[i], sizeof(int) * (size_t)one.len[0]);
                assert_true(fabsf(one.logprob[0] - all.logprob[i]) <= 1e-4f);
            }
        }
        model_free(m);
    }
}

/* ---- token-moe with one expert == dense ---- */

static void test_one_expert_top1_equals_dense(void **state)
{
    (void)state;
    model_t *dense = test_model("dense", 21, 0.0f), *moe;
    model_config_t c;
    mb_error_t err;
    assert_int_equal(model_preset("tiny", "token-moe", &c, &err), 0);
    c.n_experts = 1;
    c.top_k = 1;
    c.capacity_factor = 1.0f; /* capacity = T: nothing can drop */
    assert_int_equal(model_config_finish(&c, &err), 0);
    assert_int_equal(model_create(&c, &moe, &err), 0);
    model_init_random(moe, 99); /* the gate stays random: with one expert it cannot matter */
    for (int i = 0; i < moe->n_tensors; i++) {
        char name[64];
        const char *s = moe->specs[i].name, *p = strstr(s, ".moe.0.");
        if (p)
            snprintf(name, sizeof name, "%.*s.ffn.%s", (int)(p - s), s, p + 7);
        else
            snprintf(name, sizeof name, "%s", s);
        int j = model_tensor_index(dense, name);
        if (strstr(s, ".moe.gate"))
            continue;
        assert_true(j >= 0);
        memcpy(moe->tensor[i], dense->tensor[j], sizeof(float) * moe->specs[i].n);
    }
    decode_request_t req[6];
    int n = batch_reqs(dense, -1, req);
    outs_t a, b;
    run(dense, 1, req, n, &a);
    run(moe, 1, req, n, &b);
    assert_same_tokens(&a, &b);
    run(dense, 3, req, n, &a);
    run(moe, 3, req, n, &b);
    assert_same_tokens(&a, &b);
    /* the logits are bit-identical: gate weight 1.0, the same rows through the same GEMM */
    float *la = full_logits(dense, &req[2], a.ids[2], a.len[2]), *lb = full_logits(moe, &req[2], a.ids[2], a.len[2]);
    assert_memory_equal(la, lb, sizeof(float) * (size_t)(a.len[2] + 1) * c.vocab);
    free(la), free(lb);
    model_free(dense), model_free(moe);
}

/* ---- task sub-network == full task-moe ---- */

/* The experts a sub-network keeps: in each task-routed layer, the top-k of
 * softmax(task embedding . gate^T) computed here in double, in rank order,
 * with weights renormalised (k >= 2) or p (k = 1), as docs/routing.md says. */
static void check_kept_experts(const model_t *full, const model_t *sub, int key)
{
    const model_config_t *c = &full->cfg;
    const int d = c->d_model, E = c->n_experts, k = c->top_k;
    int checked = 0;
    for (int st = 0; st < 2; st++) {
        if (c->routing[st] != MODEL_ROUTE_TASK)
            continue;
        const char *sn = st ? "dec" : "enc";
        char name[64];
        snprintf(name, sizeof name, "%s.task_embed", sn);
        const float *emb = full->tensor[model_tensor_index(full, name)] + (size_t)key * d;
        for (int i = 0; i < (st ? c->dec_layers : c->enc_layers); i++) {
            snprintf(name, sizeof name, "%s.%d.moe.gate", sn, i);
            int gi = model_tensor_index(full, name);
            if (gi < 0)
                continue; /* a dense layer */
            const float *gate = full->tensor[gi];
            double p[256], mx = -1e300, sum = 0;
            for (int e = 0; e < E; e++) {
                double a = 0;
                for (int j = 0; j < d; j++)
                    a += (double)emb[j] * gate[(size_t)e * d + j];
                p[e] = a;
                mx = a > mx ? a : mx;
            }
            for (int e = 0; e < E; e++)
                sum += (p[e] = exp(p[e] - mx));
            int chosen[8];
            double wsum = 0;
            for (int r = 0; r < k; r++) {
                chosen[r] = -1;
                for (int e = 0; e < E; e++) {
                    int used = 0;
                    for (int q = 0; q < r; q++)
                        used |= chosen[q] == e;
                    if (!used && (chosen[r] < 0 || p[e] > p[chosen[r]]))
                        chosen[r] = e;
                }
                wsum += p[chosen[r]];
            }
            snprintf(name, sizeof name, "%s.%d.moe.fixed_weight", sn, i);
            const float *fw = sub->tensor[model_tensor_index(sub, name)];
            for (int r = 0; r < k; r++) {
                double want = p[chosen[r]] / (k >= 2 ? wsum : sum);
                assert_true(fabs(fw[r] - want) <= 1e-6); /* float32 softmax vs double */
                static const char *const parts[] = {"fc1.w", "fc1.b", "fc2.w", "fc2.b"};
                for (int q = 0; q < 4; q++) {
                    char fn[64], sname[64];
                    snprintf(fn, sizeof fn, "%s.%d.moe.%d.%s", sn, i, chosen[r], parts[q]);
                    snprintf(sname, sizeof sname, "%s.%d.moe.%d.%s", sn, i, r, parts[q]);
                    int a = model_tensor_index(full, fn), b = model_tensor_index(sub, sname);
                    assert_true(a >= 0 && b >= 0);
                    assert_int_equal(full->specs[a].n, sub->specs[b].n);
                    assert_memory_equal(full->tensor[a], sub->tensor[b], sizeof(float) * full->specs[a].n);
                }
            }
            checked++;
        }
    }
    assert_true(checked > 0);
}

static void check_subnet(model_t *full, const char *key_name)
{
    be_t be = test_ref_backend();
    mb_error_t err;
    model_t *sub;
    assert_int_equal(model_extract(full, &be, key_name, &sub, &err), 0);
    check_kept_experts(full, sub, model_find_key(&full->cfg, key_name));
    /* its size is what the config says serving one task costs */
    model_counts_t k;
    model_count(&full->cfg, &k, &err);
    assert_int_equal(sub->n_params, k.served_total);
    assert_true(sub->n_params < full->n_params);
    int key = model_find_key(&full->cfg, key_name);
    for (int t = 0; t < full->cfg.n_tasks; t++) {
        if (model_task_key_index(&full->cfg, t) != key) {
            /* other tasks are refused with a message naming the fix */
            decode_request_t r = {t, NULL, 0, 0};
            decode_opts_t opt;
            decode_opts_default(&opt);
            decode_ctx_t *dc;
            decode_result_t res;
            assert_int_equal(decode_ctx_create(sub, &be, &opt, &dc, &err), 0);
            assert_int_equal(decode_batch(dc, &r, 1, &res, &err), -1);
            assert_non_null(strstr(err.msg, "extract"));
            decode_ctx_free(dc);
            continue;
        }
        decode_request_t req[6];
        int n = batch_reqs(full, t, req);
        for (int beam = 1; beam <= 4; beam += 3) {
            outs_t a, b;
            run(full, beam, req, n, &a);
            run(sub, beam, req, n, &b);
            assert_same_tokens(&a, &b);
            for (int i = 0; i < n; i++) {
                assert_true(fabsf(a.logprob[i] - b.logprob[i]) <= 1e-5f);
                float *la = full_logits(full, &req[i], a.ids[i], a.len[i]);
                float *lb = full_logits(sub, &req[i], a.ids[i], a.len[i]);
                assert_true(test_max_abs_diff(la, lb, (size_t)(a.len[i] + 1) * full->cfg.vocab) <= 1e-5f);
                free(la), free(lb);
            }
        }
    }
    model_free(sub);
}

static void test_subnet_equals_full_target_routing(void **state)
{
    (void)state;
    model_t *full = test_model("task-moe", 31, 0.0f); /* token encoder, target-routed decoder */
    check_subnet(full, "de");
    check_subnet(full, "en");
    run_cf = 0.5; /* capacity on in the token-routed encoder: the same in both */
    check_subnet(full, "fr");
    run_cf = 0.0;
    model_free(full);
}

static void test_subnet_equals_full_pair_routing_both_stacks(void **state)
{
    (void)state;
    model_config_t c;
    mb_error_t err;
    model_t *full;
    assert_int_equal(model_preset("tiny", "task-moe", &c, &err), 0);
    c.routing[MODEL_ENCODER] = c.routing[MODEL_DECODER] = MODEL_ROUTE_TASK;
    c.task_key = MODEL_KEY_PAIR;
    assert_int_equal(model_config_finish(&c, &err), 0);
    assert_int_equal(model_create(&c, &full, &err), 0);
    model_init_random(full, 32);
    check_subnet(full, "fr-en");
    model_free(full);
    /* top-1: the kept expert's weight is p, not 1 */
    assert_int_equal(model_preset("tiny", "task-moe", &c, &err), 0);
    c.top_k = 1;
    assert_int_equal(model_config_finish(&c, &err), 0);
    assert_int_equal(model_create(&c, &full, &err), 0);
    model_init_random(full, 33);
    check_subnet(full, "de");
    model_free(full);
}

static void test_extract_refusals(void **state)
{
    (void)state;
    be_t be = test_ref_backend();
    mb_error_t err;
    model_t *tok = test_model("token-moe", 1, 2.0f), *task = test_model("task-moe", 1, 2.0f), *sub;
    assert_int_equal(model_extract(tok, &be, "de", &sub, &err), -1);
    assert_non_null(strstr(err.msg, "no task-routed layers"));
    assert_int_equal(model_extract(task, &be, "xx", &sub, &err), -1);
    assert_non_null(strstr(err.msg, "keys: cs, de, en, fr"));
    assert_int_equal(model_extract(task, &be, "en-de", &sub, &err), 0);
    model_t *again;
    assert_int_equal(model_extract(sub, &be, "de", &again, &err), -1);
    assert_non_null(strstr(err.msg, "already a sub-network"));
    model_free(sub), model_free(tok), model_free(task);
}

/* ---- KV cache == recompute; beam 1 == greedy ---- */

/* Greedy's choice at every step is the argmax of the recomputed (teacher-
 * forced) logits; for greedy and beam, the reported log-probability of the
 * output is the recomputed one (relative tolerance 1e-4: float32 sums over
 * up to 33 steps of log-softmax, computed by two different code paths). */
static void check_cached_equals_recompute(const model_t *m, int beam, int longer)
{
    decode_request_t req[6];
    int n = longer ? long_reqs(m, req) : batch_reqs(m, -1, req);
    outs_t o;
    run(m, beam, req, n, &o);
    for (int i = 0; i < n; i++) {
        float *lg = full_logits(m, &req[i], o.ids[i], o.len[i]);
        double lp = 0;
        for (int t = 0; t <= o.len[i]; t++) {
            float *row = lg + (size_t)t * m->cfg.vocab;
            int want = t < o.len[i] ? o.ids[i][t] : MODEL_EOS;
            if (t == o.len[i] && !o.finished[i])
                break;
            float mx = row[0];
            int arg = 0;
            for (int j = 1; j < m->cfg.vocab; j++)
                if (row[j] > mx)
                    mx = row[j], arg = j;
            if (beam == 1)
                assert_int_equal(arg, want);
            double sum = 0;
            for (int j = 0; j < m->cfg.vocab; j++)
                sum += exp((double)row[j] - mx);
            lp += row[want] - mx - log(sum);
        }
        assert_true(fabs(lp - o.logprob[i]) <= 1e-4 * (1 + fabs(lp)));
        free(lg);
    }
}

static void test_kv_cache_equals_recompute(void **state)
{
    (void)state;
    const char *variants[] = {"dense", "token-moe", "sentence-moe", "task-moe"};
    for (int v = 0; v < 4; v++) {
        model_t *m = test_model(variants[v], 41 + v, 0.0f);
        for (int beam = 1; beam <= 3; beam += 2)
            check_cached_equals_recompute(m, beam, 0);
        model_free(m);
    }
}

/* With capacity on and 32 experts, drops really happen in the decoder (each
 * hypothesis has C = 4 slots per expert), and teacher forcing still scores
 * what greedy and beam search decoded: the expert counters are causal and
 * follow each hypothesis through beam reordering. */
static void test_capacity_cached_equals_recompute(void **state)
{
    (void)state;
    const char *variants[] = {"token-moe", "task-moe"};
    for (int v = 0; v < 2; v++) {
        model_t *m = model_with_experts(variants[v], 45 + v, 32);
        run_cf = 0.5;
        for (int beam = 1; beam <= 4; beam += 3) {
            check_cached_equals_recompute(m, beam, 1);
            if (v == 0)
                assert_true(run_stats.moe_decoder.dropped_assignments > 0);
            assert_true(run_stats.moe_encoder.dropped_assignments > 0);
        }
        run_cf = 0.0;
        model_free(m);
    }
}

/* With capacity on, a sentence's translation still does not depend on its
 * batch: alone, in a batch, in reversed order; greedy and beam. */
static void test_capacity_batch_independent(void **state)
{
    (void)state;
    const char *variants[] = {"token-moe", "sentence-moe", "task-moe"};
    for (int v = 0; v < 3; v++) {
        model_t *m = model_with_experts(variants[v], 81 + v, 32);
        decode_request_t req[6], rev[6];
        int n = long_reqs(m, req);
        for (int i = 0; i < n; i++)
            rev[i] = req[n - 1 - i];
        run_cf = 0.5;
        for (int beam = 1; beam <= 4; beam += 3) {
            outs_t all, back, one;
            run(m, beam, req, n, &all);
            if (v != 1) /* sentence routing is never capacity-limited */
                assert_true(run_stats.moe_encoder.dropped_assignments > 0);
            else
                assert_int_equal(run_stats.moe_encoder.dropped_assignments + run_stats.moe_decoder.dropped_assignments, 0);
            run(m, beam, rev, n, &back);
            for (int i = 0; i < n; i++) {
                run(m, beam, &req[i], 1, &one);
                assert_int_equal(one.len[0], all.len[i]);
                assert_memory_equal(one.ids[0], all.ids[i], sizeof(int) * (size_t)one.len[0]);
                assert_int_equal(back.len[n - 1 - i], all.len[i]);
                assert_memory_equal(back.ids[n - 1 - i], all.ids[i], sizeof(int) * (size_t)all.len[i]);
            }
        }
        run_cf = 0.0;
        model_free(m);
    }
}

/* The step's logits themselves, fed a fixed target, against the full pass. */
static void test_step_logits_equal_full_logits(void **state)
{
    (void)state;
    const char *variants[] = {"dense", "token-moe", "sentence-moe", "task-moe", "token-moe", "task-moe"};
    for (int v = 0; v < 6; v++) {
        /* the last two: 32 experts, capacity on (tolerance 1e-5: the same
         * float32 arithmetic over different row counts) */
        model_t *m = v < 4 ? test_model(variants[v], 51 + v, 0.0f) : model_with_experts(variants[v], 51 + v, 32);
        be_t be = test_ref_backend();
        const model_config_t *c = &m->cfg;
        enum { L = 30 };
        int tgt[L] = {MODEL_BOS};
        for (int t = 1; t < L; t++)
            tgt[t] = 30 + t % 6;
        int src_ids[5] = {model_task_tag(c, 1), 9, 8, 7, MODEL_EOS};
        int key = model_task_key_index(c, 1), so[2] = {0, 5}, to[2] = {0, L};
        tf_seqs_t src = {1, so, src_ids, &key}, tg = {1, to, tgt, &key};
        tf_ws_t ws = {0};
        tf_cache_t cache = {0};
        mb_error_t err;
        moe_stats_t st = {0};
        ws.capacity_factor = v < 4 ? 0.0 : 0.25;
        assert_int_equal(tf_ws_reserve(&ws, m, L, 5, L, &err), 0);
        assert_int_equal(tf_cache_reserve(&cache, m, 2, L, 5, 1, &err), 0);
        float *enc = malloc(sizeof(float) * 5 * c->d_model);
        float *full = malloc(sizeof(float) * L * c->vocab), *step = malloc(sizeof(float) * c->vocab);
        tf_encode(m, &be, &ws, &src, enc, NULL);
        tf_decode_full(m, &be, &ws, &src, enc, &tg, full, NULL);
        tf_cache_begin(&cache, m, &be, &src, enc);
        int slot = 1, seq = 0;
        tf_cache_clear(&cache, 1, &slot);
        for (int t = 0; t < L; t++) {
            tf_decode_step(m, &be, &ws, &cache, 1, &tgt[t], &t, &seq, &slot, step, &st);
            assert_true(test_max_abs_diff(step, full + (size_t)t * c->vocab, c->vocab) <= 1e-5f);
        }
        if (v == 4) /* the token-routed decoder really dropped (C = 4 per expert, 60 assignments) */
            assert_true(st.dropped_assignments > 0);
        free(enc), free(full), free(step);
        tf_ws_free(&ws);
        tf_cache_free(&cache);
        model_free(m);
    }
}

static void test_beam1_equals_greedy(void **state)
{
    (void)state;
    const char *variants[] = {"dense", "token-moe", "sentence-moe", "task-moe"};
    for (int v = 0; v < 4; v++) {
        model_t *m = test_model(variants[v], 61 + v, 2.0f);
        decode_request_t req[6];
        int n = batch_reqs(m, -1, req);
        outs_t g, b;
        run(m, 1, req, n, &g);
        run(m, 0, req, n, &b);
        assert_same_tokens(&g, &b);
        for (int i = 0; i < n; i++) /* the same tokens, so the same log-probability */
            assert_true(fabsf(g.logprob[i] - b.logprob[i]) <= 1e-5f * (1 + fabsf(g.logprob[i])));
        run(m, -1, req, n, &b); /* greedy without scores: the argmax of the raw logits */
        assert_same_tokens(&g, &b);
        model_free(m);
    }
}

/* Makes EOS likely: its output row becomes a scaled copy of token 30's, so
 * random-weight models stop early and the EOS paths really run. */
static void bias_eos(model_t *m, float scale)
{
    int w = model_tensor_index(m, "out.proj.w");
    assert_true(w >= 0);
    float *rows = m->tensor[w];
    const int d = m->cfg.d_model;
    for (int j = 0; j < d; j++)
        rows[(size_t)MODEL_EOS * d + j] = scale * rows[(size_t)30 * d + j];
}

/* A forced output length is met exactly, by greedy and beam search alike,
 * without EOS; and for greedy it is the same translation as far as the
 * unforced one went before its EOS (masking EOS changes nothing else). The
 * model is EOS-biased so that the unforced translations do stop early. */
static void test_forced_output_length(void **state)
{
    (void)state;
    model_t *m = test_model("token-moe", 71, 0.0f);
    bias_eos(m, 4.0f);
    decode_request_t req[6];
    int n = batch_reqs(m, -1, req);
    outs_t free_run;
    run(m, 1, req, n, &free_run);
    int stopped_early = 0;
    for (int i = 0; i < n; i++)
        stopped_early += free_run.finished[i] && free_run.len[i] < 3 + 2 * i;
    assert_true(stopped_early >= 2);
    for (int i = 0; i < n; i++)
        req[i].out_len = 3 + 2 * i;
    for (int beam = 1; beam <= 3; beam += 2) {
        outs_t o;
        run(m, beam, req, n, &o);
        for (int i = 0; i < n; i++) {
            assert_int_equal(o.len[i], 3 + 2 * i);
            assert_int_equal(o.finished[i], 0);
            for (int j = 0; j < o.len[i]; j++)
                assert_int_not_equal(o.ids[i][j], MODEL_EOS);
            if (beam == 1) {
                int common = free_run.len[i] < o.len[i] ? free_run.len[i] : o.len[i];
                assert_memory_equal(o.ids[i], free_run.ids[i], sizeof(int) * (size_t)common);
            }
        }
    }
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepare_sets_roles),
        cmocka_unit_test(test_same_seed_same_model_and_output),
        cmocka_unit_test(test_batch_equals_one_by_one),
        cmocka_unit_test(test_one_expert_top1_equals_dense),
        cmocka_unit_test(test_subnet_equals_full_target_routing),
        cmocka_unit_test(test_subnet_equals_full_pair_routing_both_stacks),
        cmocka_unit_test(test_extract_refusals),
        cmocka_unit_test(test_kv_cache_equals_recompute),
        cmocka_unit_test(test_capacity_cached_equals_recompute),
        cmocka_unit_test(test_capacity_batch_independent),
        cmocka_unit_test(test_step_logits_equal_full_logits),
        cmocka_unit_test(test_beam1_equals_greedy),
        cmocka_unit_test(test_forced_output_length),
        cmocka_unit_test(test_cancel_stops_within_a_step),
    };
    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
