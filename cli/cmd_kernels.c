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
#include "backends/registry.h"
#include "cli/cli.h"
#include "cli/kernels.h"
#include "common/mb_file.h"
#include "harness/csvout.h"
#include "harness/sysinfo.h"
#include "models/config.h"
#include "models/decode.h"
#include "models/model.h"
#include "models/transformer.h"
#include "common/mb_clock.h"
#include "common/mb_stats.h"
#include "common/mb_schema.h"


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
           "  --goal-sentences N sentences of the offline goals (default 32; ref is slow)\n"
           "  --skip-unsupported when this machine or build cannot run the backend and precision (e.g.\n"
           "                     bf16 on a CPU without AVX-512 bf16), say why on stderr, write the reason\n"
           "                     as one `skipped` row of the --csv file and exit 0 (what `make demo` uses)\n\n"
           "Exit status: 0 ok (or skipped with --skip-unsupported), 1 runtime error, 2 bad usage.\n",
           PREFILL_SENTENCES, PREFILL_LEN);
}

/* ---- timing ---- */

timing_t kern_time_fn(void (*fn)(void *), void *arg, double min_s, int min_reps)
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

/* The header line, from the one list of the kernels CSV's columns. */
#define KERN_COL_NAME(name) #name,
static const char *const kern_cols[] = {MB_KERNELS_COLUMNS(KERN_COL_NAME) NULL};

static void csv_header(FILE *f)
{
    for (int i = 0; kern_cols[i]; i++)
        fprintf(f, "%s%s", i ? "," : "", kern_cols[i]);
    fputc('\n', f);
}

/* The last columns, cpu_model .. backend_version, after the (empty or written) skipped cell. */
static void csv_row_end(FILE *f, const char *version, const char *run_id, const char *timestamp)
{
    fputc(',', f);
    csvout_field(f, sys_cpu_model());
    fprintf(f, ",%d,", sys_cores());
    csvout_field(f, sys_git_rev());
    fputc(',', f);
    csvout_field(f, run_id);
    fputc(',', f);
    csvout_field(f, timestamp);
    fputc(',', f);
    csvout_field(f, version ? version : "");
    fputc('\n', f);
}

/* One CSV row; numbers < 0 are left empty. */
void kern_csv_row(const kern_out_t *r, const char *kind, const char *name, int m, int n, int k, double flops,
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
        fprintf(f, ",%.6g,", r->triad);
    } else {
        fputs(",,,,,", f);
    }
    csv_row_end(f, r->version, r->run_id, r->timestamp);
}

/* --skip-unsupported: the one row of a configuration this machine cannot
 * run, so that the CSV (and the report made from it) says why it has no
 * figures instead of the demo failing or the reason living only on stderr. */
static int write_skip_csv(const char *path, const char *backend, const char *precision, long threads,
                          const char *preset, const char *why, mb_error_t *err)
{
    char run_id[40], timestamp[40];
    sys_run_id(run_id, sizeof run_id);
    sys_timestamp(timestamp, sizeof timestamp);
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return mb_fail(err, "kernels: %s: path too long; use a shorter --csv path", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return mb_fail(err, "kernels: %s: cannot write: %s; check the folder exists and is writable", tmp,
                       strerror(errno));
    csv_header(f);
    csvout_field(f, backend);
    fputc(',', f);
    csvout_field(f, precision);
    fprintf(f, ",%ld,", threads);
    csvout_field(f, preset);
    fputs(",skipped", f);
    for (int i = 0; i < 24; i++) /* name .. peak_bandwidth_gbs (23 columns) stay empty, then skipped */
        fputc(',', f);
    csvout_field(f, why);
    csv_row_end(f, NULL, run_id, timestamp);
    int bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return mb_fail(err, "kernels: %s: write failed: %s", path, strerror(e));
    }
    return 0;
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
void kern_prefill_offsets(int n, int *off)
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
int kern_time_linear(be_t *be, int M, int N, int K, int role, double min_s, timing_t *out, double *w_bytes,
                       mb_error_t *err)
{
    const int bias = role != BE_WEIGHT_OUT_PROJ;
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
        w[prepared] = (be_weight_t){W + wn * (size_t)prepared, bias ? b : NULL, N, K, NULL, role};
        if (be_weight_prepare(be, &w[prepared], err) != 0)
            goto out;
    }
    lin_arg_t a = {be, w, copies, 0, M, x, y};
    *out = kern_time_fn(run_linear, &a, min_s, 3);
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
            /* roles as the model gives them: the encoder's layers see whole sentences */
            int out_proj = strstr(kn->name, "out_proj") != NULL;
            int role = out_proj                                                           ? BE_WEIGHT_OUT_PROJ
                       : !strncmp(kn->name, "prefill.", 8) && !strstr(kn->name, "expert") ? BE_WEIGHT_SENTENCE
                                                                                          : BE_WEIGHT_LAYER;
            if (kern_time_linear(be, kn->M, kn->N, kn->K, role, min_s, &t, &wb, err))
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
            t = kern_time_fn(run_gemm, &a, min_s, 3);
            free(A), free(B), free(C);
            flops = 2.0 * kn->M * kn->N * kn->K;
            bytes = 4.0 * ((double)kn->M * kn->K + (double)kn->N * kn->K + (double)kn->M * kn->N);
        } else {
            int off[PREFILL_SENTENCES + 1];
            kern_prefill_offsets(PREFILL_SENTENCES, off);
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
                t = kern_time_fn(run_attention, &a, min_s, 3);
                double sq = 0;
                for (int s = 0; s < PREFILL_SENTENCES; s++)
                    sq += (double)(off[s + 1] - off[s]) * (off[s + 1] - off[s]);
                flops = 4.0 * sq * d; /* q k^T and p v */
                bytes = 4.0 * 4 * n;
            } else {
                ln_arg_t a = {be, T, d, q, q + 3 * n, q + 3 * n + d, o};
                t = kern_time_fn(run_layernorm, &a, min_s, 3);
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
            kern_csv_row(r, "kernel", kn->name, kn->M, kn->N, -1, flops, bytes, t.reps, t.median, gbs, unit, triad,
                    gbs / triad, "memory", -1, NULL);
            continue;
        }
        printf("%-20s %6d %6d %6d %10.1f %6.1f %10.1f %6.1f %-7s %7.3f ms\n", kn->name, kn->M, kn->N, kn->K, gflops,
               100 * gflops / peak, roof, 100 * gflops / roof, bound, med_ms);
        kern_csv_row(r, "kernel", kn->name, kn->M, kn->N, kn->K, flops, bytes, t.reps, t.median, gflops, unit, roof,
                gflops / roof, bound, -1, NULL);
    }
    printf("\n(attention: N = heads, K = d_model, FLOPs of q.k and p.v; layernorm: GB/s read + written)\n");
    return 0;
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
        {"skip-unsupported", no_argument, 0, 'S'},
        {0, 0, 0, 0}};
    const char *backend = be_find("onednn") ? "onednn" : be_at(be_count() - 1)->name;
    const char *preset = "wmt-dense", *csv_path = NULL;
    be_options_t bo = {0, BE_PRECISION_FP32};
    long threads = 0, sentences = 32;
    double peak_override = 0, min_s = 0.3;
    int goals = 0, skip_unsupported = 0, c;
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
        case 'S': skip_unsupported = 1; break;
        case 's': bad = mb_parse_long("--goal-sentences", optarg, 1, 4096, &sentences, &err); break;
        case 'h': help(); return 0;
        default: return cli_bad_option("kernels", c, argv, optind, optopt);
        }
        if (bad)
            return cli_usage(&err);
    }
    if (optind != argc)
        return cli_usagef("kernels: unexpected argument '%s'; see 'moebench kernels --help'", argv[optind]);
    model_config_t cfg;
    if (model_preset(preset, "token-moe", &cfg, &err) != 0)
        return cli_usage(&err);
    bo.threads = (int)threads;
    be_t be;
    if (!be_is_known(backend)) { /* a typo is bad usage, never "unsupported" */
        be_open(backend, &bo, &be, &err);
        return cli_usage(&err);
    }
    if (be_open(backend, &bo, &be, &err) != 0) {
        if (!skip_unsupported)
            return cli_error(&err);
        mb_error_t werr;
        fprintf(stderr, "moebench: kernels: skipped: %s\n", err.msg);
        if (csv_path && write_skip_csv(csv_path, backend, be_precision_name(bo.precision), threads,
                                       goals ? "wmt-dense" : preset, err.msg, &werr) != 0)
            return cli_error(&werr);
        return 0;
    }
    backend = be.ops->name; /* --backend auto: rows name the backend it chose */
    const int bf16 = bo.precision == BE_PRECISION_BF16;
    int eff_threads = threads > 0 ? (int)threads : !strcmp(backend, "ref") ? 1 : 0;

    kern_out_t r = {NULL, backend, be_precision_name(bo.precision), goals ? "wmt-dense" : preset, 0, 0, 0, 0,
                    be.ops->version ? be.ops->version(&be) : NULL, "", ""};
    sys_run_id(r.run_id, sizeof r.run_id);
    sys_timestamp(r.timestamp, sizeof r.timestamp);
    char *tmp = NULL;
    if (csv_path && mb_output_check(csv_path, "kernels CSV", &err)) {
        be_close(&be);
        return cli_error(&err);
    }
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
        csv_header(r.csv);
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
    printf("peak fp32: %d %s x %.0f FLOP/cycle x %.2f GHz%s = %.1f GFLOP/s\n", n_threads, cores, ci.fp32_flop_cycle,
           ci.fp32_clock_ghz, ci.fp32_clock_ghz < 0.97 * ci.clock_ghz ? " (the clock its FMA chains ran at)" : "",
           cpuinfo_peak_gflops(&ci, n_threads, 0));
    if (ci.bf16_flop_cycle > 0)
        printf("peak bf16: %d %s x %.0f FLOP/cycle x %.2f GHz%s = %.1f GFLOP/s\n", n_threads, cores,
               ci.bf16_flop_cycle, ci.bf16_clock_ghz,
               ci.bf16_clock_ghz < 0.97 * ci.clock_ghz ? " (the clock its dot-product chains ran at)" : "",
               cpuinfo_peak_gflops(&ci, n_threads, 1));
    if (peak_override > 0)
        printf("peak used below: %.1f GFLOP/s (--peak-gflops)\n", peak_override);
    printf("memory: triad %.1f GB/s (3 arrays of %zu MiB, %d thread%s; STREAM's byte count)\n", triad,
           TRIAD_FLOATS * sizeof(float) >> 20, n_threads, n_threads == 1 ? "" : "s");
    kern_csv_row(&r, "triad", "triad", -1, -1, -1, -1, 3.0 * sizeof(float) * (double)TRIAD_FLOATS, -1, -1, triad, "GB/s",
            -1, -1, "memory", -1, NULL);

    int rc = goals ? kern_model_goals(&be, &r, triad, bf16, min_s, (int)sentences, &err)
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
            mb_fail(&err, "kernels: cannot rename %s to %s: %s; the measurements are kept in %s", tmp, csv_path,
                    strerror(errno), tmp);
            rc = -2; /* keep tmp */
        }
        if (rc == -1)
            remove(tmp);
    }
    free(tmp);
    if (rc != 0)
        return cli_error(&err);
    fflush(stdout);
    return 0;
}
