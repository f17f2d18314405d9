/* cmd_kernels: `moebench kernels`: how fast one backend runs the kernels a
 * preset really uses, each figure beside this machine's limit (compute peak
 * from cores x measured FLOP/cycle x measured clock, and the memory roofline
 * from a STREAM-style triad); and, with --model-goals, the whole-model
 * performance goals of the backends as measured ratios (docs/backends.md).
 *
 * Every figure is the median of repetitions that together last at least
 * --min-time, after a warm-up call. Weights are rotated over enough copies to
 * overflow the last-level cache, so a batch-1 GEMV reads its weights from
 * memory as it does inside a model. Table on stdout, progress on stderr,
 * --csv FILE written to FILE.tmp and renamed. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mb_parse.h"
#include "backends/backend.h"
#include "backends/cpuinfo.h"
#include "cli/cli.h"
#include "harness/csvout.h"
#include "models/config.h"
#include "models/decode.h"
#include "models/model.h"
#include "models/transformer.h"
#include "common/mb_clock.h"
#include "common/mb_stats.h"

#define PREFILL_SENTENCES 64
#define PREFILL_LEN 25         /* average source length, tag and EOS included */
#define TRIAD_FLOATS ((size_t)32 << 20) /* 128 MiB per array */

static void help(void)
{
    printf("usage: moebench kernels [options]\n\n"
           "Times the backend on the GEMMs and ops of a preset's forward pass (encoder prefill of %d\n"
           "sentences x %d tokens, one decode step at batch 1 and 64, expert GEMMs with the few tokens each\n"
           "expert gets, the output projection) and prints each GFLOP/s beside this machine's limits.\n\n"
           "  --backend B        backend to time (default onednn; auto: the fastest here, see 'moebench backends')\n"
           "  --threads N        threads (default: all cores; ref runs on one)\n"
           "  --preset P         tiny | small | wmt-dense | wmt32e | web128e (default wmt-dense)\n"
           "  --precision P      fp32 | bf16 | int8 | int8all (default fp32; int8: onednn only, output\n"
           "                     projection fp32; int8all: it too; %%peak stays the fp32 peak)\n"
           "  --peak-gflops X    use X as the compute peak instead of the measured one\n"
           "  --min-time S       seconds of repetitions per figure (default 0.3)\n"
           "  --csv FILE         also write the figures as CSV (columns in docs/backends.md)\n"
           "  --model-goals      instead of the kernel table, measure the performance goals on whole\n"
           "                     models (wmt-dense prefill and decode, small offline vs ref, and for\n"
           "                     onednn wmt32e bf16 vs fp32); about a minute on 2 cores\n"
           "  --goal-sentences N sentences of the offline goals (default 32; ref is slow)\n",
           PREFILL_SENTENCES, PREFILL_LEN);
}

/* ---- timing ---- */

typedef struct timing {
    int reps;
    double median;
} timing_t;

/* One warm-up call, then calls until min_s have passed and min_reps were made. */
static timing_t time_fn(void (*fn)(void *), void *arg, double min_s, int min_reps)
{
    enum { MAX_REPS = 20000 };
    static double t[MAX_REPS];
    fn(arg);
    int n = 0;
    double total = 0;
    while (n < MAX_REPS && (total < min_s || n < min_reps)) {
        double t0 = mb_now();
        fn(arg);
        t[n] = mb_now() - t0;
        total += t[n++];
    }
    mb_sort(t, (size_t)n);
    return (timing_t){n, t[n / 2]};
}

static void fill(float *x, size_t n, uint64_t seed, float scale)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = ((float)(s >> 40) / (float)(1u << 24) - 0.5f) * scale;
    }
}

static size_t llc_bytes(void)
{
    long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (v <= 0)
        v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return v > 0 ? (size_t)v : (size_t)32 << 20;
}

/* ---- the report: table rows and CSV rows ---- */

typedef struct kern_out {
    FILE *csv;
    const char *backend, *precision, *preset;
    int threads;
    double clock_ghz, peak, triad;
} kern_out_t;

static const char CSV_HEADER[] = "backend,precision,threads,preset,kind,name,m,n,k,flops,bytes,reps,median_s,"
                                 "value,unit,limit,ratio,bound,target,met,clock_ghz,peak_gflops,triad_gbytes_s,"
                                 "kernel,shape,gflops,bandwidth_gbs,peak_bandwidth_gbs\n";

/* One CSV row; numbers < 0 are left empty. */
static void csv_row(const kern_out_t *r, const char *kind, const char *name, int m, int n, int k, double flops,
                    double bytes, int reps, double median, double value, const char *unit, double limit,
                    double ratio, const char *bound, double target, const char *met)
{
    if (!r->csv)
        return;
    FILE *f = r->csv;
    const char *strs[] = {r->backend, r->precision};
    for (int i = 0; i < 2; i++) {
        csvout_field(f, strs[i]);
        fputc(',', f);
    }
    fprintf(f, "%d,", r->threads);
    csvout_field(f, r->preset);
    fprintf(f, ",%s,", kind);
    csvout_field(f, name);
    fputc(',', f);
    double nums[] = {m, n, k, flops, bytes, reps, median, value};
    const char *fmts[] = {"%.0f", "%.0f", "%.0f", "%.0f", "%.0f", "%.0f", "%.6g", "%.6g"};
    for (int i = 0; i < 8; i++) {
        if (nums[i] >= 0)
            fprintf(f, fmts[i], nums[i]);
        fputc(',', f);
    }
    fprintf(f, "%s,", unit);
    if (limit >= 0)
        fprintf(f, "%.6g", limit);
    fputc(',', f);
    if (ratio >= 0)
        fprintf(f, "%.4f", ratio);
    fprintf(f, ",%s,", bound ? bound : "");
    if (target >= 0)
        fprintf(f, "%g", target);
    fprintf(f, ",%s,%.4g,%.6g,%.6g,", met ? met : "", r->clock_ghz, r->peak, r->triad);
    /* the columns `moebench report` reads for its kernels figure (plots/README.md); empty for goals */
    int is_kernel = !strcmp(kind, "kernel"), is_triad = !strcmp(kind, "triad");
    if (is_kernel || is_triad) {
        csvout_field(f, name);
        fputc(',', f);
        if (m >= 0)
            fprintf(f, k >= 0 ? "%dx%dx%d" : "%dx%d", m, n, k);
        fputc(',', f);
        if (is_kernel && flops > 0 && median > 0)
            fprintf(f, "%.6g", flops / median * 1e-9);
        fputc(',', f);
        if (is_triad)
            fprintf(f, "%.6g", value);
        else if (bytes > 0 && median > 0)
            fprintf(f, "%.6g", bytes / median * 1e-9);
        fprintf(f, ",%.6g\n", r->triad);
    } else {
        fputs(",,,,\n", f);
    }
}

/* ---- kernels ---- */

typedef enum { K_LINEAR, K_GEMM, K_ATTENTION, K_LAYERNORM } kind_t;

typedef struct kernel {
    const char *name;
    kind_t kind;
    int M, N, K;               /* linear: N = n_out, K = n_in; attention: M tokens, N heads, K d_model */
} kernel_t;

typedef struct lin_arg {
    be_t *be;
    be_weight_t *w;
    int n_w, next, M;
    const float *x;
    float *y;
} lin_arg_t;

static void run_linear(void *p)
{
    lin_arg_t *a = p;
    be_linear(a->be, &a->w[a->next], a->x, a->M, a->y);
    a->next = (a->next + 1) % a->n_w;
}

typedef struct gemm_arg {
    be_t *be;
    int M, N, K;
    const float *A, *B;
    float *C;
} gemm_arg_t;

static void run_gemm(void *p)
{
    gemm_arg_t *a = p;
    be_gemm(a->be, 0, 1, a->M, a->N, a->K, 1.0f, a->A, a->K, a->B, a->K, 0.0f, a->C, a->N);
}

typedef struct att_arg {
    be_t *be;
    int n_seq, d, heads;
    const int *off;
    const float *q, *k, *v;
    float *out, *scratch;
} att_arg_t;

static void run_attention(void *p)
{
    att_arg_t *a = p;
    for (int s = 0; s < a->n_seq; s++) {
        size_t o = (size_t)a->off[s] * a->d;
        int len = a->off[s + 1] - a->off[s];
        be_attention(a->be, a->q + o, a->d, a->k + o, a->d, a->v + o, a->d, len, len, a->heads, a->d / a->heads, 0,
                     0, a->out + o, a->d, a->scratch);
    }
}

typedef struct ln_arg {
    be_t *be;
    int M, D;
    const float *x, *g, *b;
    float *y;
} ln_arg_t;

static void run_layernorm(void *p)
{
    ln_arg_t *a = p;
    be_layernorm(a->be, a->x, a->g, a->b, a->M, a->D, 1e-5f, a->y);
}

/* Source lengths of the prefill batch: 20..30 tokens, PREFILL_LEN on average
 * (exactly n * PREFILL_LEN in all); off: [n + 1]. */
static void prefill_offsets(int n, int *off)
{
    off[0] = 0;
    for (int s = 0; s < n; s++) {
        int len = PREFILL_LEN + (s % 11) - 5;
        if (s == n - 1)
            len = n * PREFILL_LEN - off[s];
        off[s + 1] = off[s] + len;
    }
}

/* Times one linear layer shape with prepared weights; rows fed from x. */
static int time_linear(be_t *be, int M, int N, int K, int bias, double min_s, timing_t *out, double *w_bytes,
                       mb_error_t *err)
{
    size_t wn = (size_t)N * K, per = wn * sizeof(float);
    int copies = (int)((2 * llc_bytes() + per - 1) / per); /* enough to overflow the cache */
    copies = copies < 1 ? 1 : copies > 64 ? 64 : copies;
    float *W = malloc(per * (size_t)copies), *b = malloc(sizeof(float) * (size_t)N);
    float *x = malloc(sizeof(float) * (size_t)M * K), *y = malloc(sizeof(float) * (size_t)M * N);
    be_weight_t *w = calloc((size_t)copies, sizeof *w);
    int rc = -1, prepared = 0;
    if (!W || !b || !x || !y || !w) {
        mb_fail(err, "kernels: out of memory for a %dx%d linear layer", N, K);
        goto out;
    }
    fill(W, wn * (size_t)copies, 1, 2.0f / sqrtf((float)K));
    fill(b, (size_t)N, 2, 0.2f);
    fill(x, (size_t)M * K, 3, 2.0f);
    for (; prepared < copies; prepared++) {
        /* only the output projection has no bias; int8 keeps it fp32 as a model does */
        w[prepared] = (be_weight_t){W + wn * (size_t)prepared, bias ? b : NULL, N, K, NULL,
                                    bias ? BE_WEIGHT_LAYER : BE_WEIGHT_OUT_PROJ};
        if (be_weight_prepare(be, &w[prepared], err) != 0)
            goto out;
    }
    lin_arg_t a = {be, w, copies, 0, M, x, y};
    *out = time_fn(run_linear, &a, min_s, 3);
    *w_bytes = 0;
    rc = 0;
out:
    for (int i = 0; i < prepared; i++)
        be_weight_release(be, &w[i]);
    free(W);
    free(b);
    free(x);
    free(y);
    free(w);
    return rc;
}

/* Bytes a linear layer moves at least: weights (es bytes each, in the
 * precision the backend stores them), input rows, output rows, bias. */
static double linear_bytes(int M, int N, int K, int es)
{
    return (double)N * K * es + 4.0 * ((double)M * K + (double)M * N + N);
}

/* Bytes per weight element as the backend stores a layer at precision p
 * ("int8" keeps the output projection fp32). */
static int weight_elem_bytes(be_precision_t p, int out_proj)
{
    return p == BE_PRECISION_BF16 ? 2 : p == BE_PRECISION_INT8_ALL || (p == BE_PRECISION_INT8 && !out_proj) ? 1 : 4;
}

static int kernel_table(be_t *be, const model_config_t *c, const kern_out_t *r, double peak, double triad,
                        double min_s, mb_error_t *err)
{
    const int d = c->d_model, ff = c->d_ff, V = c->vocab, E = c->n_experts, k = c->top_k, H = c->n_heads;
    const int T = PREFILL_SENTENCES * PREFILL_LEN;
    const int te = (T * k + E - 1) / E, de = (64 * k + E - 1) / E;
    const kernel_t ks[] = {
        {"prefill.attn_proj", K_LINEAR, T, d, d},    {"prefill.ffn_in", K_LINEAR, T, ff, d},
        {"prefill.ffn_out", K_LINEAR, T, d, ff},     {"prefill.gate", K_GEMM, T, E, d},
        {"prefill.expert_in", K_LINEAR, te, ff, d},  {"prefill.expert_out", K_LINEAR, te, d, ff},
        {"prefill.attention", K_ATTENTION, T, H, d}, {"prefill.layernorm", K_LAYERNORM, T, d, d},
        {"decode1.attn_proj", K_LINEAR, 1, d, d},    {"decode1.ffn_in", K_LINEAR, 1, ff, d},
        {"decode1.ffn_out", K_LINEAR, 1, d, ff},     {"decode1.out_proj", K_LINEAR, 1, V, d},
        {"decode64.attn_proj", K_LINEAR, 64, d, d},  {"decode64.ffn_in", K_LINEAR, 64, ff, d},
        {"decode64.ffn_out", K_LINEAR, 64, d, ff},   {"decode64.expert_in", K_LINEAR, de, ff, d},
        {"decode64.expert_out", K_LINEAR, de, d, ff}, {"decode64.out_proj", K_LINEAR, 64, V, d},
    };
    const int nk = (int)(sizeof ks / sizeof ks[0]);
    printf("\n%-20s %6s %6s %6s %10s %6s %10s %6s %-7s %10s\n", "kernel", "M", "N", "K", "GFLOP/s", "%peak",
           "roofline", "%roof", "bound", "median");
    for (int i = 0; i < nk; i++) {
        const kernel_t *kn = &ks[i];
        fprintf(stderr, "moebench: kernels: [%d/%d] %s\n", i + 1, nk, kn->name);
        timing_t t = {0, 0};
        double flops = 0, bytes = 0, wb;
        const char *unit = "GFLOP/s";
        if (kn->kind == K_LINEAR) {
            int out_proj = strstr(kn->name, "out_proj") != NULL;
            if (time_linear(be, kn->M, kn->N, kn->K, !out_proj, min_s, &t, &wb, err))
                return -1;
            flops = 2.0 * kn->M * kn->N * kn->K;
            bytes = linear_bytes(kn->M, kn->N, kn->K, weight_elem_bytes(be->opt.precision, out_proj));
        } else if (kn->kind == K_GEMM) {
            if (E < 2)
                continue; /* a dense preset has no gate */
            float *A = malloc(sizeof(float) * (size_t)kn->M * kn->K), *B = malloc(sizeof(float) * (size_t)kn->N * kn->K);
            float *C = malloc(sizeof(float) * (size_t)kn->M * kn->N);
            if (!A || !B || !C) {
                free(A), free(B), free(C);
                return mb_fail(err, "kernels: out of memory");
            }
            fill(A, (size_t)kn->M * kn->K, 4, 1.0f);
            fill(B, (size_t)kn->N * kn->K, 5, 1.0f);
            gemm_arg_t a = {be, kn->M, kn->N, kn->K, A, B, C};
            t = time_fn(run_gemm, &a, min_s, 3);
            free(A), free(B), free(C);
            flops = 2.0 * kn->M * kn->N * kn->K;
            bytes = 4.0 * ((double)kn->M * kn->K + (double)kn->N * kn->K + (double)kn->M * kn->N);
        } else {
            int off[PREFILL_SENTENCES + 1];
            prefill_offsets(PREFILL_SENTENCES, off);
            size_t n = (size_t)T * d;
            float *q = malloc(sizeof(float) * n * 4), *o = malloc(sizeof(float) * n);
            float *scratch = malloc(sizeof(float) * (size_t)T);
            if (!q || !o || !scratch) {
                free(q), free(o), free(scratch);
                return mb_fail(err, "kernels: out of memory");
            }
            fill(q, n * 4, 6, 2.0f);
            if (kn->kind == K_ATTENTION) {
                att_arg_t a = {be, PREFILL_SENTENCES, d, H, off, q, q + n, q + 2 * n, o, scratch};
                t = time_fn(run_attention, &a, min_s, 3);
                double sq = 0;
                for (int s = 0; s < PREFILL_SENTENCES; s++)
                    sq += (double)(off[s + 1] - off[s]) * (off[s + 1] - off[s]);
                flops = 4.0 * sq * d; /* q k^T and p v */
                bytes = 4.0 * 4 * n;
            } else {
                ln_arg_t a = {be, T, d, q, q + 3 * n, q + 3 * n + d, o};
                t = time_fn(run_layernorm, &a, min_s, 3);
                flops = 8.0 * n; /* about 8 operations per element; a memory-bound op */
                bytes = 4.0 * 2 * n;
                unit = "GB/s";
            }
            free(q), free(o), free(scratch);
        }
        double gflops = flops / t.median * 1e-9, gbs = bytes / t.median * 1e-9;
        double ai = flops / bytes, roof = ai * triad < peak ? ai * triad : peak;
        const char *bound = ai * triad < peak ? "memory" : "compute";
        double med_ms = t.median * 1e3;
        if (kn->kind == K_LAYERNORM) {
            printf("%-20s %6d %6d %6s %7.1f GB/s %5s %7.1f GB/s %5.0f%% %-7s %7.3f ms\n", kn->name, kn->M, kn->N, "-",
                   gbs, "-", triad, 100 * gbs / triad, "memory", med_ms);
            csv_row(r, "kernel", kn->name, kn->M, kn->N, -1, flops, bytes, t.reps, t.median, gbs, unit, triad,
                    gbs / triad, "memory", -1, NULL);
            continue;
        }
        printf("%-20s %6d %6d %6d %10.1f %6.1f %10.1f %6.1f %-7s %7.3f ms\n", kn->name, kn->M, kn->N, kn->K, gflops,
               100 * gflops / peak, roof, 100 * gflops / roof, bound, med_ms);
        csv_row(r, "kernel", kn->name, kn->M, kn->N, kn->K, flops, bytes, t.reps, t.median, gflops, unit, roof,
                gflops / roof, bound, -1, NULL);
    }
    printf("\n(attention: N = heads, K = d_model, FLOPs of q.k and p.v; layernorm: GB/s read + written)\n");
    return 0;
}

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
    csv_row(r, "goal", id, -1, -1, -1, -1, -1, -1, -1, value, unit, limit, ratio, NULL, target, met ? "yes" : "no");
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
    prefill_offsets(n, off);
    for (int s = 0; s < n; s++)
        key[s] = s % c->n_keys;
    for (int t = 0; t < T; t++)
        ids[t] = 30 + (int)((uint64_t)t * 2654435761u % (uint64_t)(c->vocab - 30));
    if (tf_ws_reserve(&ws, m, T, T, PREFILL_LEN + 8, err) != 0)
        goto done;
    tf_seqs_t src = {n, off, ids, key};
    fprintf(stderr, "moebench: kernels: goal (a): timing tf_encode on %d tokens\n", T);
    enc_arg_t a = {m, be, &ws, &src, out};
    timing_t te = time_fn(run_encode, &a, min_s * 4, 3);
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
        if (time_linear(be, T, shapes[i][0], shapes[i][1], 1, min_s, &t, &wb, err) != 0)
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

static int model_goals(be_t *be, const kern_out_t *r, double triad, int bf16, double min_s, int sentences,
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

/* ---- the command ---- */

int cmd_kernels(int argc, char **argv)
{
    static const struct option opts[] = {
        {"backend", required_argument, 0, 'b'},     {"threads", required_argument, 0, 'T'},
        {"preset", required_argument, 0, 'P'},      {"precision", required_argument, 0, 'p'},
        {"peak-gflops", required_argument, 0, 'g'}, {"min-time", required_argument, 0, 'm'},
        {"csv", required_argument, 0, 'c'},         {"model-goals", no_argument, 0, 'G'},
        {"goal-sentences", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *backend = be_find("onednn") ? "onednn" : be_at(be_count() - 1)->name;
    const char *preset = "wmt-dense", *csv_path = NULL;
    be_options_t bo = {0, BE_PRECISION_FP32};
    long threads = 0, sentences = 32;
    double peak_override = 0, min_s = 0.3;
    int goals = 0, c;
    mb_error_t err;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'b': backend = optarg; break;
        case 'T': bad = mb_parse_long("--threads", optarg, 1, 1024, &threads, &err); break;
        case 'P': preset = optarg; break;
        case 'p': bad = be_precision_parse(optarg, &bo.precision, &err); break;
        case 'g': bad = mb_parse_double("--peak-gflops", optarg, 1e-3, 1e9, &peak_override, &err); break;
        case 'm': bad = mb_parse_double("--min-time", optarg, 0, 60, &min_s, &err); break;
        case 'c': csv_path = optarg; break;
        case 'G': goals = 1; break;
        case 's': bad = mb_parse_long("--goal-sentences", optarg, 1, 4096, &sentences, &err); break;
        case 'h': help(); return 0;
        default: return cli_bad_option("kernels", c, argv, optind, optopt);
        }
        if (bad)
            return cli_error(&err);
    }
    if (optind != argc)
        return cli_errorf("kernels: unexpected argument '%s'; see 'moebench kernels --help'", argv[optind]);
    model_config_t cfg;
    if (model_preset(preset, "token-moe", &cfg, &err) != 0)
        return cli_error(&err);
    bo.threads = (int)threads;
    be_t be;
    if (be_open(backend, &bo, &be, &err) != 0)
        return cli_error(&err);
    backend = be.ops->name; /* --backend auto: rows name the backend it chose */
    const int bf16 = bo.precision == BE_PRECISION_BF16;
    int eff_threads = threads > 0 ? (int)threads : !strcmp(backend, "ref") ? 1 : 0;

    kern_out_t r = {NULL, backend, be_precision_name(bo.precision), goals ? "wmt-dense" : preset, 0, 0, 0, 0};
    char *tmp = NULL;
    if (csv_path) {
        size_t n = strlen(csv_path) + 5;
        tmp = malloc(n);
        if (!tmp) {
            be_close(&be);
            return cli_errorf("kernels: out of memory");
        }
        snprintf(tmp, n, "%s.tmp", csv_path);
        if (!(r.csv = fopen(tmp, "w"))) {
            be_close(&be);
            cli_errorf("kernels: %s: cannot write: %s", tmp, strerror(errno));
            free(tmp);
            return 1;
        }
        fputs(CSV_HEADER, r.csv);
    }

    fprintf(stderr, "moebench: kernels: measuring clock, FLOP/cycle and memory bandwidth\n");
    cpuinfo_t ci;
    cpuinfo_detect(&ci, eff_threads);
    int n_threads = eff_threads > 0 && eff_threads < ci.cores ? eff_threads : ci.cores;
    double triad = 0;
    if (cpuinfo_triad(TRIAD_FLOATS, n_threads, min_s, &triad) != 0)
        triad = 0;
    double peak = peak_override > 0 ? peak_override : cpuinfo_peak_gflops(&ci, n_threads, bf16);
    r.threads = n_threads;
    r.clock_ghz = ci.clock_ghz;
    r.peak = peak;
    r.triad = triad;

    printf("moebench kernels: backend %s (%s), %s, %d thread%s, preset %s\n", backend,
           be.ops->version ? be.ops->version(&be) : "", r.precision, n_threads, n_threads == 1 ? "" : "s", r.preset);
    printf("machine: %s; %d cores usable; widest vectors %d-bit (%s%s%s)\n", ci.model[0] ? ci.model : "CPU",
           ci.cores, ci.vector_bits, ci.avx512f ? "avx512f" : ci.avx2 ? "avx2" : "sse", ci.fma ? ", fma" : "",
           ci.avx512bf16 ? ", avx512_bf16" : "");
    printf("clock: %.2f GHz measured under load (nominal %.0f MHz)\n", ci.clock_ghz, ci.nominal_mhz);
    const char *cores = n_threads == 1 ? "core" : "cores";
    printf("peak fp32: %d %s x %.0f FLOP/cycle x %.2f GHz = %.1f GFLOP/s\n", n_threads, cores, ci.fp32_flop_cycle,
           ci.clock_ghz, cpuinfo_peak_gflops(&ci, n_threads, 0));
    if (ci.bf16_flop_cycle > 0)
        printf("peak bf16: %d %s x %.0f FLOP/cycle x %.2f GHz = %.1f GFLOP/s\n", n_threads, cores,
               ci.bf16_flop_cycle, ci.clock_ghz, cpuinfo_peak_gflops(&ci, n_threads, 1));
    if (peak_override > 0)
        printf("peak used below: %.1f GFLOP/s (--peak-gflops)\n", peak_override);
    printf("memory: triad %.1f GB/s (3 arrays of %zu MiB, %d thread%s; STREAM's byte count)\n", triad,
           TRIAD_FLOATS * sizeof(float) >> 20, n_threads, n_threads == 1 ? "" : "s");
    csv_row(&r, "triad", "triad", -1, -1, -1, -1, 3.0 * sizeof(float) * (double)TRIAD_FLOATS, -1, -1, triad, "GB/s",
            -1, -1, "memory", -1, NULL);

    int rc = goals ? model_goals(&be, &r, triad, bf16, min_s, (int)sentences, &err)
                   : kernel_table(&be, &cfg, &r, peak, triad, min_s, &err);
    be_close(&be);
    if (r.csv) {
        int bad = ferror(r.csv) != 0;
        bad |= fclose(r.csv) != 0;
        if (rc == 0 && bad) {
            mb_fail(&err, "kernels: %s: write failed", tmp);
            rc = -1;
        }
        if (rc == 0 && rename(tmp, csv_path) != 0) {
            mb_fail(&err, "kernels: cannot rename %s to %s: %s", tmp, csv_path, strerror(errno));
            rc = -1;
        }
        if (rc != 0)
            remove(tmp);
    }
    free(tmp);
    if (rc != 0)
        return cli_error(&err);
    fflush(stdout);
    return 0;
}
