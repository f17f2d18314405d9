/* kernels_goals: `moebench kernels --model-goals`: the backends' whole-model
 * performance goals (docs/backends.md) measured as ratios: prefill against the
 * backend's own GEMM rate, a decode step against memory bandwidth, a small
 * model's offline throughput, bf16 against fp32. Split from cmd_kernels.c,
 * whose timing helper and CSV rows it uses (cli/kernels.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/cpuinfo.h"
#include "cli/kernels.h"
#include "common/mb_clock.h"
#include "common/mb_stats.h"
#include "models/config.h"
#include "models/decode.h"
#include "models/model.h"
#include "models/transformer.h"

/* ---- model goals ---- */

static model_t *goal_model(const char *preset, const char *variant, be_t *be, mb_error_t *err)
{
    model_config_t c;
    model_t *m = NULL;
    if (model_preset(preset, variant, &c, err) != 0)
        return NULL;
    c.capacity_factor = 0.0f; /* nothing dropped: every backend does the same work */
    if (model_config_finish(&c, err) || model_create(&c, &m, err))
        return NULL;
    fprintf(stderr, "moebench: kernels: initialising %s %s and preparing its weights\n", preset, variant);
    model_init_random(m, 1);
    if (be && model_prepare(m, be, err) != 0) {
        model_free(m);
        return NULL;
    }
    return m;
}

typedef struct enc_arg {
    const model_t *m;
    be_t *be;
    tf_ws_t *ws;
    const tf_seqs_t *src;
    float *out;
} enc_arg_t;

static void run_encode(void *p)
{
    enc_arg_t *a = p;
    tf_encode(a->m, a->be, a->ws, a->src, a->out, NULL);
}

static void print_goal(const kern_out_t *r, const char *id, const char *what, double value, const char *unit,
                       double limit, double ratio, double target)
{
    int met = ratio >= target;
    printf("goal %-26s %s: %.4g %s vs %.4g %s = %.2f%s (target >= %g%s): %s", id, what, value, unit, limit, unit,
           target < 2 ? ratio * 100 : ratio, target < 2 ? "%" : "x", target < 2 ? target * 100 : target,
           target < 2 ? "%" : "x", met ? "MET" : "NOT MET");
    if (!met)
        printf(" (short by %.1f%s)", target < 2 ? (target - ratio) * 100 : target - ratio, target < 2 ? " points" : "x");
    printf("\n");
    kern_csv_row(r, "goal", id, -1, -1, -1, -1, -1, -1, -1, value, unit, limit, ratio, NULL, target, met ? "yes" : "no");
}

/* (a) encoder prefill on wmt-dense at batch 64: model GEMM rate / best standalone rate. */
static int goal_prefill(be_t *be, model_t *m, const kern_out_t *r, double min_s, mb_error_t *err)
{
    const model_config_t *c = &m->cfg;
    const int n = PREFILL_SENTENCES, T = n * PREFILL_LEN, d = c->d_model, ff = c->d_ff, L = c->enc_layers;
    int off[PREFILL_SENTENCES + 1], key[PREFILL_SENTENCES];
    int *ids = malloc(sizeof(int) * (size_t)T);
    float *out = malloc(sizeof(float) * (size_t)T * d);
    tf_ws_t ws;
    memset(&ws, 0, sizeof ws);
    int rc = -1;
    if (!ids || !out) {
        mb_fail(err, "kernels: out of memory");
        goto done;
    }
    kern_prefill_offsets(n, off);
    for (int s = 0; s < n; s++)
        key[s] = s % c->n_keys;
    for (int t = 0; t < T; t++)
        ids[t] = 30 + (int)((uint64_t)t * 2654435761u % (uint64_t)(c->vocab - 30));
    if (tf_ws_reserve(&ws, m, T, T, PREFILL_LEN + 8, err) != 0)
        goto done;
    tf_seqs_t src = {n, off, ids, key};
    fprintf(stderr, "moebench: kernels: goal (a): timing tf_encode on %d tokens\n", T);
    enc_arg_t a = {m, be, &ws, &src, out};
    timing_t te = kern_time_fn(run_encode, &a, min_s * 4, 3);
    double gemm_flops = 2.0 * L * T * (4.0 * d * d + 2.0 * d * ff);
    double model_rate = gemm_flops / te.median * 1e-9;
    /* the same shapes alone */
    const int shapes[3][2] = {{d, d}, {ff, d}, {d, ff}};
    const int per_layer[3] = {4, 1, 1};
    const char *names[3] = {"attn_proj", "ffn_in", "ffn_out"};
    double best = 0, sum_t = 0;
    printf("goal (a) inputs: tf_encode of %d sentences (%d tokens) on %s %s, %d layers: median %.1f ms over %d runs;\n"
           "                 linear-layer FLOPs %.3g -> %.1f GFLOP/s whole model\n",
           n, T, c->preset, c->variant, L, te.median * 1e3, te.reps, gemm_flops, model_rate);
    for (int i = 0; i < 3; i++) {
        timing_t t;
        double wb;
        if (kern_time_linear(be, T, shapes[i][0], shapes[i][1], BE_WEIGHT_SENTENCE, min_s, &t, &wb, err) != 0)
            goto done;
        double rate = 2.0 * T * shapes[i][0] * shapes[i][1] / t.median * 1e-9;
        printf("                 standalone %-9s %dx%dx%d: %.1f GFLOP/s (%.3f ms, x%d per layer)\n", names[i], T,
               shapes[i][0], shapes[i][1], rate, t.median * 1e3, per_layer[i]);
        best = rate > best ? rate : best;
        sum_t += per_layer[i] * t.median;
    }
    double mix = gemm_flops / (L * sum_t) * 1e-9;
    printf("                 the same GEMMs alone take %.1f ms of the %.1f ms (%.1f GFLOP/s at this mix); the rest\n"
           "                 (attention, layer norms, embedding, residual adds) %.1f ms\n",
           L * sum_t * 1e3, te.median * 1e3, mix, (te.median - L * sum_t) * 1e3);
    print_goal(r, "a.prefill_gemm_rate", "wmt-dense prefill GEMM rate vs best standalone", model_rate, "GFLOP/s",
               best, model_rate / best, 0.8);
    rc = 0;
done:
    tf_ws_free(&ws);
    free(ids);
    free(out);
    return rc;
}

/* Seconds of decode_batch for n requests of forced output length out_len (median of reps). */
static double time_decode(decode_ctx_t *dc, const decode_request_t *base, int n, int out_len, int reps,
                          uint64_t *tokens, mb_error_t *err)
{
    decode_request_t *req = malloc(sizeof *req * (size_t)n);
    decode_result_t *res = malloc(sizeof *res * (size_t)n);
    double t[16];
    int done = 0;
    if (!req || !res || reps > 16) {
        free(req);
        free(res);
        mb_fail(err, "kernels: out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        req[i] = base[i];
        req[i].out_len = out_len;
    }
    *tokens = 0;
    for (; done < reps; done++) {
        double t0 = mb_now();
        if (decode_batch(dc, req, n, res, err) != 0)
            break;
        t[done] = mb_now() - t0;
        if (done == 0)
            for (int i = 0; i < n; i++)
                *tokens += (uint64_t)res[i].len;
    }
    free(req);
    free(res);
    if (done < reps)
        return -1;
    mb_sort(t, (size_t)reps);
    return t[reps / 2];
}

/* Requests: n sources of 10..28 tokens, tasks in turn; src: [n * 32] ids. */
static void make_requests(const model_config_t *c, int n, int *src, decode_request_t *req)
{
    for (int s = 0; s < n; s++) {
        int len = 10 + (s * 7) % 19;
        for (int t = 0; t < len; t++)
            src[s * 32 + t] = 30 + (int)((uint64_t)(s * 977 + t * 131 + 5) * 2654435761u % (uint64_t)(c->vocab - 30));
        req[s] = (decode_request_t){.task = s % c->n_tasks, .src = src + s * 32, .src_len = len};
    }
}

/* Bytes of linear weights (and biases) one decode step reads per row at batch 1. */
static double step_weight_bytes(const model_t *m, int bf16)
{
    const int es = bf16 ? 2 : 4;
    double b = 0;
    const be_weight_t *ws[8];
    for (int i = 0; i < m->cfg.dec_layers; i++) {
        const model_layer_t *L = &m->dec[i];
        int n = 0;
        ws[n++] = &L->self.q, ws[n++] = &L->self.k, ws[n++] = &L->self.v, ws[n++] = &L->self.o;
        ws[n++] = &L->cross.q, ws[n++] = &L->cross.o;
        for (int j = 0; j < n; j++)
            b += (double)ws[j]->n_out * ws[j]->n_in * es + (ws[j]->b ? 4.0 * ws[j]->n_out : 0);
        int experts = L->is_moe ? m->cfg.top_k : 1;
        const model_ffn_t *f = L->is_moe ? &L->moe.experts[0] : &L->ffn;
        b += experts * ((double)f->fc1.n_out * f->fc1.n_in * es + (double)f->fc2.n_out * f->fc2.n_in * es +
                        4.0 * (f->fc1.n_out + f->fc2.n_out));
        if (L->is_moe && L->moe.gate)
            b += 4.0 * L->moe.n_experts * m->cfg.d_model;
    }
    b += (double)m->out_proj.n_out * m->out_proj.n_in * es;
    return b;
}

/* (b) greedy decode at batch 1 on wmt-dense: weight bytes per token / time per token vs triad. */
static int goal_decode(be_t *be, model_t *m, const kern_out_t *r, double triad, int bf16, mb_error_t *err)
{
    decode_opts_t o;
    decode_opts_default(&o);
    o.max_len = 64;
    decode_ctx_t *dc = NULL;
    int src[32];
    decode_request_t req;
    make_requests(&m->cfg, 1, src, &req);
    req.src_len = PREFILL_LEN - 2;
    if (decode_ctx_create(m, be, &o, &dc, err) != 0)
        return -1;
    fprintf(stderr, "moebench: kernels: goal (b): timing greedy decode at batch 1\n");
    uint64_t tok_long = 0, tok_short = 0;
    /* the machine's bandwidth drifts (other tenants of the memory bus): the
     * triad is measured again just before and just after the decoding */
    double tr0 = 0, tr1 = 0;
    double t_long = time_decode(dc, &req, 1, 33, 3, &tok_long, err); /* warm-up */
    if (cpuinfo_triad(TRIAD_FLOATS, r->threads, 0.3, &tr0) != 0)
        tr0 = triad;
    t_long = t_long < 0 ? -1 : time_decode(dc, &req, 1, 33, 5, &tok_long, err);
    double t_short = t_long < 0 ? -1 : time_decode(dc, &req, 1, 1, 5, &tok_short, err);
    if (cpuinfo_triad(TRIAD_FLOATS, r->threads, 0.3, &tr1) != 0)
        tr1 = triad;
    decode_ctx_free(dc);
    if (t_long < 0 || t_short < 0)
        return -1;
    triad = (tr0 + tr1) / 2;
    double per_tok = (t_long - t_short) / (double)(tok_long - tok_short);
    double bytes = step_weight_bytes(m, bf16);
    double gbs = bytes / per_tok * 1e-9;
    printf("goal (b) inputs: decode_batch of one %d-token source on %s %s: %llu tokens %.1f ms, %llu token %.1f ms\n"
           "                 -> %.2f ms per generated token; weights read per token %.1f MB (%s) -> %.1f GB/s;\n"
           "                 triad just before %.1f GB/s, just after %.1f GB/s, mean %.1f GB/s\n",
           PREFILL_LEN, m->cfg.preset, m->cfg.variant, (unsigned long long)tok_long, t_long * 1e3,
           (unsigned long long)tok_short, t_short * 1e3, per_tok * 1e3, bytes * 1e-6, bf16 ? "bf16" : "fp32", gbs,
           tr0, tr1, triad);
    print_goal(r, "b.decode_bandwidth", "wmt-dense batch-1 decode weight bandwidth vs triad", gbs, "GB/s", triad,
               gbs / triad, 0.6);
    return 0;
}

/* Target tokens/s of an offline batch (n sentences, out_len tokens each) on be. */
static double offline_rate(model_t *m, be_t *be, int n, int out_len, int reps, mb_error_t *err)
{
    decode_opts_t o;
    decode_opts_default(&o);
    decode_ctx_t *dc = NULL;
    int *src = malloc(sizeof(int) * (size_t)n * 32);
    decode_request_t *req = malloc(sizeof *req * (size_t)n);
    double rate = -1;
    uint64_t tokens;
    if (!src || !req) {
        mb_fail(err, "kernels: out of memory");
        goto out;
    }
    make_requests(&m->cfg, n, src, req);
    if (decode_ctx_create(m, be, &o, &dc, err) != 0)
        goto out;
    double t = time_decode(dc, req, n, out_len, reps, &tokens, err);
    if (t > 0)
        rate = (double)tokens / t;
out:
    decode_ctx_free(dc);
    free(src);
    free(req);
    return rate;
}

/* (c) offline throughput on small vs ref. */
static int goal_small(be_t *be, const kern_out_t *r, int n, mb_error_t *err)
{
    const int out_len = 16;
    be_t ref;
    be_options_t ro = {1, BE_PRECISION_FP32};
    if (be_open("ref", &ro, &ref, err) != 0)
        return -1;
    model_t *m = goal_model("small", "dense", NULL, err);
    if (!m) {
        be_close(&ref);
        return -1;
    }
    fprintf(stderr, "moebench: kernels: goal (c): %d sentences on ref (slow)\n", n);
    double rref = offline_rate(m, &ref, n, out_len, 1, err);
    be_close(&ref);
    double rbe = -1;
    if (rref > 0) {
        fprintf(stderr, "moebench: kernels: goal (c): %d sentences on %s\n", n, be->ops->name);
        if (model_prepare(m, be, err) == 0) {
            rbe = offline_rate(m, be, n, out_len, 3, err);
            model_release(m, be);
        }
    }
    model_free(m);
    if (rref <= 0 || rbe <= 0)
        return -1;
    printf("goal (c) inputs: small dense, %d sentences of 10-28 source tokens, %d target tokens each, one batch:\n"
           "                 ref %.1f tokens/s (1 run), %s %.1f tokens/s (median of 3)\n",
           n, out_len, rref, be->ops->name, rbe);
    kern_out_t rs = *r;
    rs.preset = "small";
    print_goal(&rs, "c.small_offline_vs_ref", "small offline throughput vs ref", rbe, "tokens/s", rref, rbe / rref, 10);
    return 0;
}

/* (d) onednn bf16 vs fp32 on the wmt32e offline workload (token-moe, batch 64). */
static int goal_bf16(const kern_out_t *r, int threads, mb_error_t *err)
{
    const int n = 64, out_len = 16;
    double rate[2];
    model_t *m = goal_model("wmt32e", "token-moe", NULL, err);
    if (!m)
        return -1;
    for (int p = 0; p < 2; p++) {
        be_t be;
        be_options_t o = {threads, p ? BE_PRECISION_BF16 : BE_PRECISION_FP32};
        if (be_open("onednn", &o, &be, err) != 0 || model_prepare(m, &be, err) != 0) {
            model_free(m);
            return -1;
        }
        fprintf(stderr, "moebench: kernels: goal (d): wmt32e token-moe offline, %s\n", p ? "bf16" : "fp32");
        rate[p] = offline_rate(m, &be, n, out_len, 3, err);
        model_release(m, &be);
        be_close(&be);
        if (rate[p] <= 0) {
            model_free(m);
            return -1;
        }
    }
    model_free(m);
    printf("goal (d) inputs: wmt32e token-moe, %d sentences of 10-28 source tokens, %d target tokens each, one "
           "batch on onednn:\n                 fp32 %.1f tokens/s, bf16 %.1f tokens/s (medians of 3)\n",
           n, out_len, rate[0], rate[1]);
    kern_out_t rw = *r;
    rw.preset = "wmt32e";
    rw.precision = "bf16";
    print_goal(&rw, "d.wmt32e_bf16_vs_fp32", "wmt32e offline onednn bf16 vs fp32", rate[1], "tokens/s", rate[0],
               rate[1] / rate[0], 1.5);
    return 0;
}

int kern_model_goals(be_t *be, const kern_out_t *r, double triad, int bf16, double min_s, int sentences,
                       mb_error_t *err)
{
    printf("\n");
    model_t *m = goal_model("wmt-dense", "dense", be, err);
    if (!m)
        return -1;
    int rc = goal_prefill(be, m, r, min_s, err);
    if (rc == 0)
        rc = goal_decode(be, m, r, triad, bf16, err);
    model_release(m, be);
    model_free(m);
    if (rc == 0 && !bf16)
        rc = goal_small(be, r, sentences, err);
    if (rc == 0 && !strcmp(be->ops->name, "onednn"))
        rc = goal_bf16(r, be->opt.threads, err);
    return rc;
}

