/* The engine against the independent double-precision reference
 * (tests/oracle/, written from README.md and docs/routing.md), on tiny
 * random models written to .safetensors and read back by both:
 *  - every variant: dense, token-moe (top-2 and top-1), sentence-moe,
 *    task-moe with task key target, pair and source, an extracted task
 *    sub-network (and which experts extract kept); capacity off (cf 0) and
 *    on (cf 0.25, where the oracle must see drops), always set explicitly;
 *  - greedy search on each case's model; greedy and beam 4 on an EOS-biased
 *    copy of it (the output row of EOS a scaled copy of the row of the token
 *    the model emits most), so finished hypotheses, the length penalty and
 *    early stop run (asserted);
 *  - at batch sizes 1, 3 and 8 and at 8 in reversed order: a sentence's
 *    output must not depend on its batch (the oracle translates each
 *    sentence alone): identical tokens and finished flags, log-probability
 *    and score within LP_TOL relative to 1 + |value|;
 *  - encoder outputs and teacher-forced logits at the engine's outputs, in
 *    the same batches, within LOGIT_TOL.
 *
 * Tolerance: float32 engine vs float64 oracle. The engine's encoder outputs
 * and logits differ from the oracle's by float32 rounding (unit roundoff
 * 6e-8) amplified through 2+2 layers: observed at most 8e-7 of the largest
 * |value| of the sentence. LOGIT_TOL = 1e-5 of that scale leaves more than
 * 10x headroom, and is still 8x below what changing ONE weight element by
 * 1e-3 does (8e-5): test_oracle_detects_a_small_change checks both sides.
 *
 * A token disagreement is excused only where the oracle saw a near-tie
 * (a gate probability or search log-probability gap below NEAR_TIE), which
 * float32 may legitimately resolve the other way; such cases are printed. */
#include "testutil.h"

#include <unistd.h>

#include "models/decode.h"
#include "models/extract.h"
#include "models/transformer.h"
#include "tests/oracle/oracle.h"

#define LOGIT_TOL 1e-5
#define LP_TOL 1e-4
#define NEAR_TIE 1e-4
#define MAX_LEN 8
#define N_SENT 8
#define CF_DROPS 0.25
#define EOS_SCALE 1.1f

typedef struct ocase {
    const char *name;
    const char *variant;
    int task_key;              /* model_key_t, or -1 for the variant's default */
    int top_k;                 /* 0: the preset's */
    const char *extract;       /* extract this key's sub-network and test that */
    double cf;
    uint64_t seed;             /* of the random weights */
} ocase_t;

/* Sentences of several lengths (0 to 20 words), ids above the tags. */
static const int sent_len[N_SENT] = {5, 1, 9, 3, 0, 12, 7, 20};
static int sent_ids[N_SENT][20];

static void make_sentences(void)
{
    for (int s = 0; s < N_SENT; s++)
        for (int i = 0; i < sent_len[s]; i++)
            sent_ids[s][i] = 16 + (int)((s * 131u + i * 37u + (unsigned)(i * i) * 11u) % 480u);
}

typedef struct pair {
    model_t *eng;
    orc_model_t *orc;
    int task[N_SENT];          /* task index of each sentence */
} pair_t;

static void save_and_load(model_t *m, const char *dir, const char *name, model_t **eng, orc_model_t **orc)
{
    char path[256];
    mb_error_t err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (model_save(m, path, &err) || model_load(path, eng, &err))
        fail_msg("model file: %s", err.msg);
    if (orc_load(path, orc, &err))
        fail_msg("%s", err.msg);
    unlink(path);
}

/* The one place the test tells the engine its capacity factor (explicitly,
 * whatever the engine's default): if the engine takes it from somewhere
 * else than the model's config, change this function only. */
/* The engine takes capacity as a run-time setting (decode_opts_t and
 * tf_ws_t); the test keeps it in the model's config, the record of it, and
 * hands it to both entry points from there. */
static void engine_set_capacity(model_t *m, double cf)
{
    m->cfg.capacity_factor = (float)cf;
}

/* The engine under test: OpenBLAS on one thread where compiled in (ten
 * times faster than ref here; both are tested against each other in
 * test_backends), else ref. */
static be_t engine_backend(void)
{
    be_t be;
    be_options_t o = {1, BE_PRECISION_FP32};
    mb_error_t err;
    if (be_open("openblas", &o, &be, &err) == 0)
        return be;
    return test_ref_backend();
}

/* The case's model from `seed` through a file into both; eos_like >= 0
 * makes it an EOS-biased copy: the output row of EOS becomes EOS_SCALE times
 * the row of token eos_like, so EOS wins where that token would have. */
static void build(const ocase_t *oc, uint64_t seed, int eos_like, pair_t *p)
{
    model_config_t c;
    mb_error_t err;
    model_t *m;
    char dir[] = "/tmp/mb_oracle_XXXXXX";
    assert_non_null(mkdtemp(dir));
    if (model_preset("tiny", oc->variant, &c, &err))
        fail_msg("%s", err.msg);
    if (oc->task_key >= 0)
        c.task_key = (model_key_t)oc->task_key;
    if (oc->top_k > 0)
        c.top_k = oc->top_k;
    if (model_config_finish(&c, &err) || model_create(&c, &m, &err))
        fail_msg("%s", err.msg);
    model_init_random(m, seed);
    if (eos_like >= 0) {
        float *w = (float *)m->out_proj.w;
        for (int j = 0; j < c.d_model; j++)
            w[(size_t)MODEL_EOS * c.d_model + j] = EOS_SCALE * w[(size_t)eos_like * c.d_model + j];
    }
    if (oc->extract) {
        be_t be = test_ref_backend();
        model_t *sub, *full_eng;
        orc_model_t *full_orc;
        if (model_extract(m, &be, oc->extract, &sub, &err))
            fail_msg("%s", err.msg);
        save_and_load(m, dir, "full.safetensors", &full_eng, &full_orc);
        save_and_load(sub, dir, "sub.safetensors", &p->eng, &p->orc);
        /* which experts extract kept: the full model's task gate decides */
        if (orc_check_subnet(full_orc, p->orc, oc->extract, &err))
            fail_msg("%s", err.msg);
        model_free(sub);
        model_free(full_eng);
        orc_free(full_orc);
    } else
        save_and_load(m, dir, "m.safetensors", &p->eng, &p->orc);
    model_free(m);
    rmdir(dir);
    engine_set_capacity(p->eng, oc->cf);
    int served[MODEL_MAX_TASKS], n = 0;
    for (int t = 0; t < p->eng->cfg.n_tasks; t++)
        if (model_serves_task(&p->eng->cfg, t))
            served[n++] = t;
    for (int s = 0; s < N_SENT; s++)
        p->task[s] = served[s % n];
}

static void unbuild(pair_t *p)
{
    model_free(p->eng);
    orc_free(p->orc);
}

/* ---- the engine ---- */

typedef struct eres {
    int len, finished;
    int ids[MAX_LEN + 1];
    double logprob, score;
} eres_t;

/* Sentence at position i of the batch sequence: forward, or reversed when
 * the batch size is given as negative. */
static int order_of(int batch, int i)
{
    return batch < 0 ? N_SENT - 1 - i : i;
}

static void engine_translate(const pair_t *p, int beam, int batch, eres_t *out)
{
    be_t be = engine_backend();
    decode_opts_t opt;
    decode_opts_default(&opt);
    opt.beam = beam;
    opt.scores = 1;
    opt.len_penalty = 0.6f;
    opt.max_len = MAX_LEN;
    opt.max_len_a = 2.0f;
    opt.max_len_b = 10;
    opt.capacity_factor = p->eng->cfg.capacity_factor;
    decode_ctx_t *dc;
    mb_error_t err;
    if (decode_ctx_create(p->eng, &be, &opt, &dc, &err))
        fail_msg("%s", err.msg);
    const int size = abs(batch);
    for (int s0 = 0; s0 < N_SENT; s0 += size) {
        int n = N_SENT - s0 < size ? N_SENT - s0 : size;
        decode_request_t req[N_SENT];
        decode_result_t res[N_SENT];
        memset(req, 0, sizeof req);
        for (int i = 0; i < n; i++) {
            int s = order_of(batch, s0 + i);
            req[i].task = p->task[s];
            req[i].src = sent_ids[s];
            req[i].src_len = sent_len[s];
        }
        if (decode_batch(dc, req, n, res, &err))
            fail_msg("%s", err.msg);
        for (int i = 0; i < n; i++) {
            eres_t *o = &out[order_of(batch, s0 + i)];
            assert_true(res[i].len <= MAX_LEN);
            o->len = res[i].len;
            o->finished = res[i].finished;
            o->logprob = res[i].logprob;
            o->score = res[i].score;
            memcpy(o->ids, res[i].ids, sizeof(int) * (size_t)res[i].len);
        }
    }
    decode_ctx_free(dc);
    be_close(&be);
}

/* Engine encoder outputs and teacher-forced logits over the packed batch of
 * sentences idx[0..n) with targets BOS + out[s].ids; malloc'ed buffers. */
static void engine_forced(const pair_t *p, const int *idx, int n, const eres_t *out, float **enc, float **logits,
                          int *src_off, int *tgt_off)
{
    const model_config_t *c = &p->eng->cfg;
    int sids[N_SENT * 24], tids[N_SENT * (MAX_LEN + 1)], key[N_SENT];
    src_off[0] = tgt_off[0] = 0;
    for (int i = 0; i < n; i++) {
        int s = idx[i], o = src_off[i], t = tgt_off[i];
        key[i] = model_task_key_index(c, p->task[s]);
        sids[o] = model_task_tag(c, p->task[s]);
        memcpy(sids + o + 1, sent_ids[s], sizeof(int) * (size_t)sent_len[s]);
        sids[o + 1 + sent_len[s]] = MODEL_EOS;
        src_off[i + 1] = o + sent_len[s] + 2;
        tids[t] = MODEL_BOS;
        memcpy(tids + t + 1, out[s].ids, sizeof(int) * (size_t)out[s].len);
        tgt_off[i + 1] = t + out[s].len + 1;
    }
    be_t be = engine_backend();
    tf_seqs_t src = {n, src_off, sids, key}, tgt = {n, tgt_off, tids, key};
    tf_ws_t ws = {0};
    ws.capacity_factor = p->eng->cfg.capacity_factor;
    mb_error_t err;
    int S = src_off[n], T = tgt_off[n];
    if (tf_ws_reserve(&ws, p->eng, S > T ? S : T, S, S > T ? S : T, &err))
        fail_msg("%s", err.msg);
    *enc = malloc(sizeof(float) * (size_t)S * c->d_model);
    *logits = malloc(sizeof(float) * (size_t)T * c->vocab);
    tf_encode(p->eng, &be, &ws, &src, *enc, NULL);
    tf_decode_full(p->eng, &be, &ws, &src, *enc, &tgt, *logits, NULL);
    tf_ws_free(&ws);
    be_close(&be);
}

/* ---- comparing ---- */

typedef struct tally {
    int compared, excused;     /* sentences compared (forced passes and searches), excused near-ties */
    long finished;             /* hypotheses that ended with EOS (oracle) */
    double worst_logit;        /* largest relative logit difference seen */
    orc_counts_t counts[2];    /* oracle's routing counts over the forced passes */
} tally_t;

/* Max |engine - oracle| over n values, relative to max(1, max |oracle|). */
static double rel_diff(const float *a, const double *b, size_t n)
{
    double scale = 1.0, diff = 0.0;
    for (size_t i = 0; i < n; i++) {
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= diff))
            diff = d;
    }
    return diff / scale;
}

/* The oracle's side of a forced pass, kept per sentence: its encoder output
 * and the logits for the last target it was asked for (the engine's output
 * is normally the same at every batch size, so each is computed once). */
typedef struct oforced {
    double *enc;               /* [S, d] or NULL */
    orc_diag_t enc_dg;
    double *logits;            /* [len + 1, vocab] or NULL */
    int len, ids[MAX_LEN + 1];
    orc_diag_t dec_dg;
} oforced_t;

static void oforced_free(oforced_t *c)
{
    for (int s = 0; s < N_SENT; s++) {
        free(c[s].enc);
        free(c[s].logits);
    }
    memset(c, 0, sizeof(oforced_t) * N_SENT);
}

static void add_counts(tally_t *ty, const orc_diag_t *dg)
{
    for (int st = 0; st < 2; st++) {
        ty->counts[st].tokens += dg->counts[st].tokens;
        ty->counts[st].dropped_assignments += dg->counts[st].dropped_assignments;
        ty->counts[st].dropped_tokens += dg->counts[st].dropped_tokens;
    }
}

/* Teacher-forced comparison of the batch of sentences idx[0..n) at the
 * engine's outputs. */
static void compare_forced(const ocase_t *oc, const pair_t *p, const int *idx, int n, const eres_t *out,
                           oforced_t *oc_cache, tally_t *ty)
{
    const int d = p->eng->cfg.d_model, V = p->eng->cfg.vocab;
    float *enc, *logits;
    int so[N_SENT + 1], to[N_SENT + 1];
    engine_forced(p, idx, n, out, &enc, &logits, so, to);
    for (int i = 0; i < n; i++) {
        int s = idx[i], src[24], tgt[MAX_LEN + 1], T = out[s].len + 1;
        int S = orc_source(p->orc, p->task[s], sent_ids[s], sent_len[s], src);
        oforced_t *c = &oc_cache[s];
        if (!c->enc) {
            c->enc = malloc(sizeof(double) * (size_t)S * d);
            orc_diag_init(&c->enc_dg);
            orc_encode(p->orc, p->task[s], src, S, oc->cf, c->enc, &c->enc_dg);
            add_counts(ty, &c->enc_dg);
        }
        if (!c->logits || c->len != out[s].len || memcmp(c->ids, out[s].ids, sizeof(int) * (size_t)out[s].len)) {
            tgt[0] = MODEL_BOS;
            memcpy(tgt + 1, out[s].ids, sizeof(int) * (size_t)out[s].len);
            free(c->logits);
            c->logits = malloc(sizeof(double) * (size_t)T * V);
            c->len = out[s].len;
            memcpy(c->ids, out[s].ids, sizeof(int) * (size_t)out[s].len);
            orc_diag_init(&c->dec_dg);
            orc_decode(p->orc, p->task[s], c->enc, S, tgt, T, oc->cf, c->logits, &c->dec_dg);
            add_counts(ty, &c->dec_dg);
        }
        double gate = c->enc_dg.gate < c->dec_dg.gate ? c->enc_dg.gate : c->dec_dg.gate;
        double de = rel_diff(enc + (size_t)so[i] * d, c->enc, (size_t)S * d);
        double dl = rel_diff(logits + (size_t)to[i] * V, c->logits, (size_t)T * V);
        if (de > LOGIT_TOL && c->enc_dg.gate >= NEAR_TIE)
            fail_msg("%s: sentence %d (batch of %d): encoder output differs by %.3g of its scale (tolerance "
                     "%.0e)", oc->name, s, n, de, LOGIT_TOL);
        if ((de > LOGIT_TOL || dl > LOGIT_TOL) && gate < NEAR_TIE) {
            print_message("# %s: sentence %d: forced pass differs (%.2g) at a gate near-tie (%.2g); excused\n",
                          oc->name, s, dl, gate);
            ty->excused++;
        } else {
            if (de > LOGIT_TOL || dl > LOGIT_TOL)
                fail_msg("%s: sentence %d (batch of %d): encoder output agrees (%.2g) but teacher-forced "
                         "logits differ by %.3g of their scale (tolerance %.0e)", oc->name, s, n, de, dl,
                         LOGIT_TOL);
            ty->worst_logit = dl > ty->worst_logit ? dl : ty->worst_logit;
        }
        ty->compared++;
    }
    free(enc);
    free(logits);
}

static void compare_search(const ocase_t *oc, int beam, int batch, const orc_result_t *want, const orc_diag_t *dg,
                           const eres_t *got, tally_t *ty)
{
    for (int s = 0; s < N_SENT; s++) {
        const orc_result_t *w = &want[s];
        const eres_t *g = &got[s];
        int same = w->len == g->len && w->finished == g->finished &&
                   !memcmp(w->ids, g->ids, sizeof(int) * (size_t)w->len);
        if (!same && (dg[s].gate < NEAR_TIE || dg[s].search < NEAR_TIE)) {
            print_message("# %s: beam %d batch %d sentence %d differs at a near-tie (gate %.2g, search %.2g); "
                          "excused\n", oc->name, beam, batch, s, dg[s].gate, dg[s].search);
            ty->excused++;
            continue;
        }
        if (!same) {
            char a[256] = "", b[256] = "";
            for (int i = 0; i < w->len; i++)
                snprintf(a + strlen(a), sizeof a - strlen(a), " %d", w->ids[i]);
            for (int i = 0; i < g->len; i++)
                snprintf(b + strlen(b), sizeof b - strlen(b), " %d", g->ids[i]);
            fail_msg("%s: beam %d, batch %d, sentence %d: oracle [%s ]%s, engine [%s ]%s", oc->name, beam, batch,
                     s, a, w->finished ? " EOS" : "", b, g->finished ? " EOS" : "");
        }
        if (fabs(w->logprob - g->logprob) > LP_TOL * (1 + fabs(w->logprob)) ||
            fabs(w->score - g->score) > LP_TOL * (1 + fabs(w->score)))
            fail_msg("%s: beam %d, batch %d, sentence %d: log-probability %.6f / score %.6f, oracle %.6f / %.6f",
                     oc->name, beam, batch, s, g->logprob, g->score, w->logprob, w->score);
        ty->compared++;
    }
}

/* The token the oracle's greedy outputs use most (the lowest id on ties). */
static int most_frequent(const orc_result_t *r)
{
    static int count[1 << 16];
    int best = 16;
    memset(count, 0, sizeof count);
    for (int s = 0; s < N_SENT; s++)
        for (int i = 0; i < r[s].len; i++)
            count[r[s].ids[i]]++;
    for (int v = 0; v < (1 << 16); v++)
        best = count[v] > count[best] ? v : best;
    return best;
}

/* One case: its seed's model (greedy), then an EOS-biased copy of it
 * (greedy and beam 4); batch 1, 3 and 8. */
static void run_case(void **state)
{
    const ocase_t *oc = *state;
    tally_t ty;
    memset(&ty, 0, sizeof ty);
    make_sentences();
    int eos_like = -1;
    for (int biased = 0; biased < 2; biased++) {
        pair_t p;
        build(oc, oc->seed, eos_like, &p);
        /* first the encoder and the first decoder step alone (empty outputs),
         * so a failure says which stack disagrees */
        eres_t none[N_SENT];
        oforced_t cache[N_SENT];
        memset(none, 0, sizeof none);
        memset(cache, 0, sizeof cache);
        static const int all[N_SENT] = {0, 1, 2, 3, 4, 5, 6, 7};
        compare_forced(oc, &p, all, N_SENT, none, cache, &ty);
        /* greedy on both models; beam search (the costly part of the oracle,
         * which recomputes every prefix) on the EOS-biased copy, where some
         * hypotheses finish and others run to the length limit */
        for (int beam = 1; beam <= 4; beam += 3) {
            if (beam > 1 && !biased)
                continue;
            orc_result_t want[N_SENT];
            orc_diag_t dg[N_SENT];
            orc_search_t so = {beam, 0, 0.6, MAX_LEN, 2.0, 10, oc->cf};
            mb_error_t err;
            for (int s = 0; s < N_SENT; s++) {
                orc_diag_init(&dg[s]);
                if (orc_translate(p.orc, p.task[s], sent_ids[s], sent_len[s], &so, &want[s], &dg[s], &err))
                    fail_msg("%s", err.msg);
                ty.finished += beam == 1 ? want[s].finished : want[s].n_finished_hyps;
            }
            if (beam == 1 && !biased)
                eos_like = most_frequent(want);
            static const int batches[] = {1, 3, 8, -8}; /* -8: batch 8, reversed order */
            for (int b = 0; b < 4; b++) {
                eres_t got[N_SENT];
                engine_translate(&p, beam, batches[b], got);
                compare_search(oc, beam, batches[b], want, dg, got, &ty);
                for (int s0 = 0, size = abs(batches[b]); s0 < N_SENT; s0 += size) {
                    int idx[N_SENT], n = N_SENT - s0 < size ? N_SENT - s0 : size;
                    for (int i = 0; i < n; i++)
                        idx[i] = order_of(batches[b], s0 + i);
                    compare_forced(oc, &p, idx, n, got, cache, &ty);
                }
            }
        }
        oforced_free(cache);
        unbuild(&p);
    }
    print_message("# %s: %d comparisons, worst logit difference %.2g of scale, %ld finished hypotheses, "
                  "dropped assignments enc %ld dec %ld, excused %d\n", oc->name, ty.compared, ty.worst_logit,
                  ty.finished, ty.counts[0].dropped_assignments, ty.counts[1].dropped_assignments, ty.excused);
    assert_true(ty.finished > 0); /* EOS-biased seeds: finished hypotheses really ran */
    assert_true(ty.excused * 10 <= ty.compared);
    /* capacity: drops where docs/routing.md says, none elsewhere */
    for (int st = 0; st < 2; st++) {
        model_config_t c;
        mb_error_t err;
        model_preset("tiny", oc->variant, &c, &err);
        int token_routed = c.routing[st] == MODEL_ROUTE_TOKEN;
        if (oc->cf > 0 && token_routed)
            assert_true(ty.counts[st].dropped_assignments > 0);
        else
            assert_int_equal(ty.counts[st].dropped_assignments, 0);
    }
}

/* ---- the comparison can fail ---- */

/* A change of 1e-3 in one FFN output bias, in the engine's copy only, is
 * caught by the logit tolerance. */
static void test_oracle_detects_a_small_change(void **state)
{
    (void)state;
    make_sentences();
    ocase_t oc = {"token-moe perturbed", "token-moe", -1, 0, NULL, 0.0, 1};
    pair_t p;
    build(&oc, 1, 0, &p);
    eres_t out[N_SENT];
    engine_translate(&p, 1, N_SENT, out);
    float *enc, *logits;
    int so[N_SENT + 1], to[N_SENT + 1];
    int idx = model_tensor_index(p.eng, "dec.0.ffn.fc2.b");
    assert_true(idx >= 0);
    double worst[2];
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            p.eng->tensor[idx][0] += 1e-3f; /* one element: a change to all would cancel in layer norm */
        static const int all[N_SENT] = {0, 1, 2, 3, 4, 5, 6, 7};
        engine_forced(&p, all, N_SENT, out, &enc, &logits, so, to);
        worst[pass] = 0;
        for (int s = 0; s < N_SENT; s++) {
            int src[24], tgt[MAX_LEN + 1], S, T = out[s].len + 1, V = p.eng->cfg.vocab;
            S = orc_source(p.orc, p.task[s], sent_ids[s], sent_len[s], src);
            tgt[0] = MODEL_BOS;
            memcpy(tgt + 1, out[s].ids, sizeof(int) * (size_t)out[s].len);
            double *oenc = malloc(sizeof(double) * (size_t)S * p.eng->cfg.d_model);
            double *olog = malloc(sizeof(double) * (size_t)T * V);
            orc_encode(p.orc, p.task[s], src, S, 0.0, oenc, NULL);
            orc_decode(p.orc, p.task[s], oenc, S, tgt, T, 0.0, olog, NULL);
            double dl = rel_diff(logits + (size_t)to[s] * V, olog, (size_t)T * V);
            worst[pass] = dl > worst[pass] ? dl : worst[pass];
            free(oenc);
            free(olog);
        }
        free(enc);
        free(logits);
    }
    print_message("# unperturbed %.2g, perturbed %.2g (tolerance %.0e)\n", worst[0], worst[1], LOGIT_TOL);
    assert_true(worst[0] <= LOGIT_TOL);
    assert_true(worst[1] > LOGIT_TOL);
    unbuild(&p);
}

/* The oracle's own rules, where the engine cannot check them yet: the
 * capacity formula of docs/routing.md by hand, and causal admission in the
 * decoder (capacity never lets a later token change an earlier one's
 * experts, so a prefix's logits are the same whatever follows it). */
static void test_oracle_capacity_rules(void **state)
{
    (void)state;
    make_sentences();
    ocase_t oc = {"token-moe capacity", "token-moe", -1, 0, NULL, CF_DROPS, 5};
    pair_t p;
    build(&oc, oc.seed, -1, &p);
    /* tiny: E = 8, k = 2; S = 22: ceil(cf * 2 * 22 / 8) = ceil(5.5 cf), then
     * up to a multiple of 4, at least 4 */
    static const struct { double cf; int want; } caps[] = {
        {0.0, 0}, {1e-9, 4}, {0.25, 4}, {0.75, 8}, {1.0, 8}, {2.0, 12}, {3.0, 20}, {16.0 / 5.5, 16},
    };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        assert_int_equal(orc_capacity(p.orc, caps[i].cf, 22), caps[i].want);
    assert_int_equal(orc_capacity(p.orc, 0.25, 2), 4);
    /* the 20-word sentence with a long target: drops happen in both stacks */
    int src[24], tgt[24], S, T = 20, V = p.eng->cfg.vocab, d = p.eng->cfg.d_model;
    S = orc_source(p.orc, p.task[7], sent_ids[7], sent_len[7], src);
    tgt[0] = MODEL_BOS;
    for (int t = 1; t < T; t++)
        tgt[t] = 100 + 7 * t;
    double *enc = malloc(sizeof(double) * (size_t)S * d), *full = malloc(sizeof(double) * (size_t)T * V);
    double *pre = malloc(sizeof(double) * (size_t)T * V);
    orc_diag_t dg;
    orc_diag_init(&dg);
    orc_encode(p.orc, p.task[7], src, S, CF_DROPS, enc, &dg);
    orc_decode(p.orc, p.task[7], enc, S, tgt, T, CF_DROPS, full, &dg);
    assert_true(dg.counts[ORC_ENCODER].dropped_assignments >= 2 * S - 4 * 8); /* at most 4 per expert */
    assert_true(dg.counts[ORC_DECODER].dropped_assignments > 0);
    for (int len = 1; len < T; len += 6) {
        orc_decode(p.orc, p.task[7], enc, S, tgt, len, CF_DROPS, pre, NULL);
        assert_memory_equal(pre, full, sizeof(double) * (size_t)len * V);
    }
    free(enc), free(full), free(pre);
    unbuild(&p);
}

/* The oracle refuses what it cannot read, with a message. */
static void test_oracle_load_refusals(void **state)
{
    (void)state;
    char dir[] = "/tmp/mb_oracle_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("\xff\x00\x00\x00\x00\x00\x00\x00{}", 1, 10, f);
    fclose(f);
    orc_model_t *m;
    mb_error_t err;
    assert_int_equal(orc_load(path, &m, &err), -1);
    assert_non_null(strstr(err.msg, "header length"));
    assert_int_equal(orc_load("/nonexistent/x.safetensors", &m, &err), -1);
    unlink(path);
    rmdir(dir);
}

#define CASE(n, v, key, k, ex, cf, seed)                                                                    \
    {                                                                                                       \
        n, run_case, NULL, NULL, &(ocase_t){n, v, key, k, ex, cf, seed}                                     \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE("dense", "dense", -1, 0, NULL, 0.0, 3),
        CASE("token_moe", "token-moe", -1, 0, NULL, 0.0, 7),
        CASE("token_moe_cf_drops", "token-moe", -1, 0, NULL, CF_DROPS, 9),
        CASE("token_moe_top1", "token-moe", -1, 1, NULL, 0.0, 11),
        CASE("token_moe_top1_cf_drops", "token-moe", -1, 1, NULL, CF_DROPS, 13),
        CASE("sentence_moe", "sentence-moe", -1, 0, NULL, 0.0, 15),
        CASE("sentence_moe_cf", "sentence-moe", -1, 0, NULL, CF_DROPS, 17),
        CASE("task_moe_target", "task-moe", MODEL_KEY_TARGET, 0, NULL, 0.0, 19),
        CASE("task_moe_target_cf_drops", "task-moe", MODEL_KEY_TARGET, 0, NULL, CF_DROPS, 21),
        CASE("task_moe_pair", "task-moe", MODEL_KEY_PAIR, 0, NULL, 0.0, 23),
        CASE("task_moe_source", "task-moe", MODEL_KEY_SOURCE, 0, NULL, 0.0, 25),
        CASE("task_subnet_en", "task-moe", MODEL_KEY_TARGET, 0, "en", 0.0, 27),
        CASE("task_subnet_en_cf_drops", "task-moe", MODEL_KEY_TARGET, 0, "en", CF_DROPS, 29),
        CASE("task_subnet_pair_fr_en", "task-moe", MODEL_KEY_PAIR, 0, "fr-en", 0.0, 31),
        cmocka_unit_test(test_oracle_detects_a_small_change),
        cmocka_unit_test(test_oracle_capacity_rules),
        cmocka_unit_test(test_oracle_load_refusals),
    };
    /* one case while working on it: MOEBENCH_TEST_FILTER='token_moe*' */
    if (getenv("MOEBENCH_TEST_FILTER"))
        cmocka_set_test_filter(getenv("MOEBENCH_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
