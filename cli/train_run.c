/* train_run: the training run shared by `moebench train` and `moebench
 * distill` (see train_run.h): options, checkpoints, --resume, validation,
 * the curve CSV, progress on stderr, and the loop. */
#include "cli/train_run.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/mb_parse.h"
#include "common/mb_mem.h"
#include "common/mb_rng.h"
#include "cli/cli.h"
#include "train/train_bleu.h"
#include "train/trn_bench.h"
#include "train/trn_ckpt.h"
#include "train/trn_init.h"
#include "train/trn_model.h"
#include "train/trn_optim.h"
#include "vocab/vocab.h"

const char TRAIN_OPTS_HELP[] =
    "Data:\n"
    "  --train PATTERN       training files, {lang} standing for each language\n"
    "                        (e.g. ../shared/data/multi30k/train.{lang}.gz)\n"
    "  --valid PATTERN       validation files (loss every --valid-every steps, best weights kept)\n"
    "  --ids                 the files hold token ids (whole numbers separated by spaces)\n"
    "  --vocab-file FILE     the files hold text, tokenized by this vocabulary (vocab/)\n"
    "  --directions LIST     e.g. en-de,de-en, or 'all' (every ordered pair of --langs);\n"
    "                        default: the model's tasks\n"
    "  --langs LIST          languages for --directions all (e.g. en,de,fr,cs)\n"
    "  --temperature T       direction sampling p ~ n^(1/T) (default 5)\n"
    "  --sampling shuffle|replace  a direction's lines in passes over a random order,\n"
    "                        each once per pass (default), or drawn independently\n"
    "  --batch-tokens N      source + target tokens per batch (default 4096)\n"
    "  --max-len N           skip sentences longer than N tokens (default 128)\n"
    "  --max-lines N         read at most N lines of each file (default all)\n"
    "  --valid-lines N       validation lines per direction (default 200)\n"
    "  --bleu-lines N        greedy validation BLEU over the first N lines of each direction\n"
    "                        at every validation (default 100; 0 = none)\n"
    "Optimisation:\n"
    "  --steps N             updates in all (default 1000)\n"
    "  --lr F --warmup N     peak learning rate after N linear warm-up steps, then\n"
    "                        inverse-square-root decay (default 1.5e-3, 150)\n"
    "  --decay inv-sqrt|none after warm-up: lr * sqrt(warmup / step) (default), or lr\n"
    "  --clip F              global gradient-norm limit, 0 = none (default 1)\n"
    "  --weight-decay F      AdamW decay of matrices (default 0)\n"
    "  --dropout F --label-smoothing F --aux-weight F (defaults 0.1, 0.1, 0.01)\n"
    "  --train-capacity-factor F  expert capacity while training (default 1; 0 = unlimited)\n"
    "  --seed N              weights, data order and dropout (default 1)\n"
    "  --backend B --threads N  compute backend (default openblas when built, else onednn, else ref; 1 thread)\n"
    "Records:\n"
    "  -o, --output FILE     final weights; FILE's .ckpt and .best siblings hold the\n"
    "                        checkpoint and the best-on-validation weights\n"
    "  --checkpoint-minutes M  checkpoint every M minutes (default 10), at the end and on\n"
    "                        SIGINT/SIGTERM\n"
    "  --resume CKPT         continue a run from its checkpoint (same curve as without the stop);\n"
    "                        its settings and --steps come from the checkpoint (--steps N extends)\n"
    "  --stop-after N        stop after N steps of this run as if interrupted (for tests)\n"
    "  --curve CSV           the curve (default results/train-VARIANT.csv)\n"
    "  --log-every N --valid-every N  (defaults 10, 200)\n";

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    g_stop = sig;
}

static double now(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "dir/model.safetensors" -> "dir/model.WHAT.safetensors" */
static void sibling(const char *out, const char *what, char *buf, size_t len)
{
    const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    if (dot && (!slash || dot > slash))
        snprintf(buf, len, "%.*s.%s%s", (int)(dot - out), out, what, dot);
    else
        snprintf(buf, len, "%s.%s", out, what);
}

/* ---- the settings a checkpoint carries ---- */

/* --decay's names (checkpoints store them too); -1 for another */
static int decay_parse(const char *s)
{
    return !strcmp(s, "none") ? TRN_DECAY_NONE : !strcmp(s, "inv-sqrt") ? TRN_DECAY_INV_SQRT : -1;
}

/* --sampling's names (checkpoints store them too); -1 for another */
static int sampling_parse(const char *s)
{
    return !strcmp(s, "shuffle") ? TRN_SAMPLE_SHUFFLE : !strcmp(s, "replace") ? TRN_SAMPLE_REPLACE : -1;
}

static void save_settings(trn_ckpt_meta_t *k, const targs_t *a)
{
    trn_ckpt_set(k, "seed", "%ld", a->seed);
    trn_ckpt_set(k, "steps", "%ld", a->steps);
    trn_ckpt_set(k, "lr", "%.9g", a->lr);
    trn_ckpt_set(k, "warmup", "%ld", a->warmup);
    trn_ckpt_set(k, "decay", "%s", a->decay == TRN_DECAY_NONE ? "none" : "inv-sqrt"); /* decay_parse's names */
    trn_ckpt_set(k, "clip", "%.9g", a->clip);
    trn_ckpt_set(k, "weight_decay", "%.9g", a->wd);
    trn_ckpt_set(k, "dropout", "%.9g", a->dropout);
    trn_ckpt_set(k, "label_smoothing", "%.9g", a->ls);
    trn_ckpt_set(k, "aux_weight", "%.9g", a->aux);
    trn_ckpt_set(k, "capacity_factor", "%.9g", a->cf);
    trn_ckpt_set(k, "temperature", "%.9g", a->temperature);
    trn_ckpt_set(k, "sampling", "%s", a->sampling == TRN_SAMPLE_REPLACE ? "replace" : "shuffle"); /* sampling_parse's */
    trn_ckpt_set(k, "batch_tokens", "%ld", a->batch_tokens);
    trn_ckpt_set(k, "max_len", "%ld", a->max_len);
}

static int load_settings(const trn_ckpt_meta_t *k, targs_t *a, const char *path, mb_error_t *err)
{
    struct { const char *key; double *d; long *l; } f[] = {
        {"seed", NULL, &a->seed},           {"lr", &a->lr, NULL},
        {"warmup", NULL, &a->warmup},       {"clip", &a->clip, NULL},
        {"weight_decay", &a->wd, NULL},     {"dropout", &a->dropout, NULL},
        {"label_smoothing", &a->ls, NULL},  {"aux_weight", &a->aux, NULL},
        {"capacity_factor", &a->cf, NULL},  {"temperature", &a->temperature, NULL},
        {"batch_tokens", NULL, &a->batch_tokens}, {"max_len", NULL, &a->max_len},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        const char *v = trn_ckpt_get(k, f[i].key);
        char *end;
        if (!v)
            return mb_fail(err, "%s: checkpoint lacks train.%s; not a 'moebench train' checkpoint", path, f[i].key);
        if (f[i].d)
            *f[i].d = strtod(v, &end);
        else
            *f[i].l = strtol(v, &end, 10);
        if (end == v || *end)
            return mb_fail(err, "%s: train.%s is '%s', not a number", path, f[i].key, v);
    }
    /* written since --decay exists; older checkpoints decayed by the inverse square root */
    const char *dv = trn_ckpt_get(k, "decay");
    a->decay = dv ? decay_parse(dv) : TRN_DECAY_INV_SQRT;
    if (a->decay < 0)
        return mb_fail(err, "%s: train.decay is '%s', not 'inv-sqrt' or 'none'", path, dv);
    /* the run's length: the checkpoint's unless --steps says otherwise (to extend a run) */
    const char *st = trn_ckpt_get(k, "steps");
    char *end;
    if (!a->steps_given && st && ((a->steps = strtol(st, &end, 10)) < 1 || end == st || *end))
        return mb_fail(err, "%s: train.steps is '%s', not a positive number", path, st);
    /* written since --sampling exists; older checkpoints drew lines independently */
    const char *sv = trn_ckpt_get(k, "sampling");
    a->sampling = sv ? sampling_parse(sv) : TRN_SAMPLE_REPLACE;
    if (a->sampling < 0)
        return mb_fail(err, "%s: train.sampling is '%s', not 'shuffle' or 'replace'", path, sv);
    return 0;
}

/* ---- the curve ---- */

static const char CURVE_HEADER[] =
    "step,tokens,cpu_s,wall_s,lr,loss,nll,aux,dropped_share,grad_norm,valid_loss,valid_nll,valid_bleu\n";

/* Opens the curve for appending; a resumed run first drops rows past its
 * checkpoint (written after the last checkpoint by the interrupted run). */
static FILE *curve_open(const char *path, long keep_until, mb_error_t *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        mkdir(dir, 0777); /* results/ may not exist yet; fopen reports the real failure */
    }
    if (keep_until < 0) {
        FILE *f = fopen(path, "w");
        if (!f)
            return mb_fail(err, "%s: cannot write the curve (%s)", path, strerror(errno)), NULL;
        fputs(CURVE_HEADER, f);
        return f;
    }
    FILE *in = fopen(path, "r");
    char tmp[4200], line[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        if (in)
            fclose(in);
        return mb_fail(err, "%s: cannot write the curve (%s)", tmp, strerror(errno)), NULL;
    }
    fputs(CURVE_HEADER, out);
    while (in && fgets(line, sizeof line, in))
        if (line[0] >= '0' && line[0] <= '9' && atol(line) <= keep_until)
            fputs(line, out);
    if (in)
        fclose(in);
    fclose(out);
    if (rename(tmp, path) != 0)
        return mb_fail(err, "%s: cannot replace the curve (%s)", path, strerror(errno)), NULL;
    FILE *f = fopen(path, "a");
    if (!f)
        mb_fail(err, "%s: cannot append to the curve (%s)", path, strerror(errno));
    return f;
}

/* ---- validation ---- */

static int validate(trn_t *t, trn_sampler_t *v, double *loss, double *nll, mb_error_t *err)
{
    double l = 0, n = 0, tok = 0;
    int wrapped = 0;
    while (!wrapped) {
        trn_batch_t b;
        trn_stats_t st;
        if (trn_sampler_next(v, &b, &wrapped, err) != 0 || trn_step(t, &b, 0, 0, &st, NULL, err) != 0)
            return -1;
        l += st.loss * st.tgt_tokens;
        n += st.nll * st.tgt_tokens;
        tok += st.tgt_tokens;
    }
    *loss = l / tok;
    *nll = n / tok;
    return 0;
}

/* ---- options ---- */

int train_parse_opt(targs_t *a, int c, const char *arg, mb_error_t *err)
{
    struct { int code; const char *name; long lo, hi; long *dst; } ints[] = {
        {O_BATCH, "--batch-tokens", 16, 1 << 24, &a->batch_tokens}, {O_MAXLEN, "--max-len", 3, 1024, &a->max_len},
        {O_MAXLINES, "--max-lines", 0, 1L << 30, &a->max_lines}, {O_VLINES, "--valid-lines", 1, 1L << 30, &a->valid_lines},
        {O_STEPS, "--steps", 1, 1L << 40, &a->steps}, {O_WARMUP, "--warmup", 0, 1L << 30, &a->warmup},
        {O_SEED, "--seed", 0, 0x7fffffffL, &a->seed}, {O_THREADS, "--threads", 0, 1024, &a->threads},
        {O_STOP, "--stop-after", 1, 1L << 40, &a->stop_after}, {O_LOG, "--log-every", 1, 1L << 30, &a->log_every},
        {O_VEVERY, "--valid-every", 1, 1L << 30, &a->valid_every}, {O_BSTEPS, "--bench-steps", 1, 10000, &a->bench_steps},
        {O_BLEU, "--bleu-lines", 0, 1L << 30, &a->bleu_lines},
    };
    struct { int code; const char *name; double lo, hi; double *dst; } fls[] = {
        {O_TEMP, "--temperature", 0.01, 1000, &a->temperature}, {O_LR, "--lr", 0, 10, &a->lr},
        {O_CLIP, "--clip", 0, 1e9, &a->clip}, {O_WD, "--weight-decay", 0, 10, &a->wd},
        {O_DROP, "--dropout", 0, 0.95, &a->dropout}, {O_LS, "--label-smoothing", 0, 0.99, &a->ls},
        {O_AUX, "--aux-weight", 0, 1000, &a->aux}, {O_CF, "--train-capacity-factor", 0, 1000, &a->cf},
        {O_CKPTMIN, "--checkpoint-minutes", 0.001, 1e6, &a->ckpt_minutes},
    };
    a->steps_given |= c == O_STEPS;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].code == c)
            return mb_parse_long(ints[i].name, arg, ints[i].lo, ints[i].hi, ints[i].dst, err) ? -1 : 1;
    for (size_t i = 0; i < sizeof fls / sizeof fls[0]; i++)
        if (fls[i].code == c)
            return mb_parse_double(fls[i].name, arg, fls[i].lo, fls[i].hi, fls[i].dst, err) ? -1 : 1;
    switch (c) {
    case O_TRAIN: a->train = arg; return 1;
    case O_VALID: a->valid = arg; return 1;
    case O_IDS: a->ids = 1; return 1;
    case O_VOCABF: a->vocab_file = arg; return 1;
    case O_DIRS: a->directions = arg; return 1;
    case O_LANGS: a->langs = arg; return 1;
    case O_BACKEND: a->backend = arg; return 1;
    case O_RESUME: a->resume = arg; return 1;
    case O_CURVE: a->curve = arg; return 1;
    case O_BENCH: a->bench = 1; return 1;
    case O_INITFROM: a->init_from = arg; return 1;
    case O_DECAY:
        if ((a->decay = decay_parse(arg)) >= 0)
            return 1;
        mb_fail(err, "--decay: '%s' is not 'inv-sqrt' or 'none'", arg);
        return -1;
    case O_SAMPLING:
        if ((a->sampling = sampling_parse(arg)) >= 0)
            return 1;
        mb_fail(err, "--sampling: '%s' is not 'shuffle' or 'replace'", arg);
        return -1;
    default: return 0;
    }
}

/* --directions all over --langs: every ordered pair. */
int train_all_pairs(const char *langs, char *out, size_t len, mb_error_t *err)
{
    if (!langs)
        return mb_fail(err, "train: --directions all needs --langs (e.g. --langs en,de,fr,cs)");
    char l[MODEL_MAX_LANGS][MODEL_NAME_LEN];
    int n = 0;
    for (const char *p = langs; *p && n < MODEL_MAX_LANGS;) {
        size_t k = strcspn(p, ",");
        snprintf(l[n++], MODEL_NAME_LEN, "%.*s", (int)k, p);
        p += k + (p[k] == ',');
    }
    out[0] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j)
                snprintf(out + strlen(out), len - strlen(out), "%s%s-%s", out[0] ? "," : "", l[i], l[j]);
    return 0;
}

void train_defaults(targs_t *a)
{
    memset(a, 0, sizeof *a);
    a->steps = 1000;
    a->warmup = 150;
    a->lr = 1.5e-3;
    a->clip = 1.0;
    a->dropout = 0.1;
    a->ls = 0.1;
    a->aux = 0.01;
    a->cf = 1.0;
    a->temperature = 5;
    a->batch_tokens = 4096;
    a->max_len = 128;
    a->valid_lines = 200;
    a->seed = 1;
    a->threads = 1;
    a->log_every = 10;
    a->valid_every = 200;
    a->ckpt_minutes = 10;
    a->bench_steps = 5;
    a->bleu_lines = 100;
    /* OpenBLAS where the build has it (the fastest for training's shapes
     * here); else oneDNN; else the portable ref */
    a->backend = be_find("openblas") ? "openblas" : be_find("onednn") ? "onednn" : "ref";
}


/* A synthetic batch for --bench without data: pairs of 8..20 words (about
 * Multi30k's captions) filling the token budget, from the seed. */
typedef struct synth {
    int *src_off, *src, *tgt_off, *tin, *tout, *key;
} synth_t;

static int synth_batch(const model_config_t *c, long budget, uint64_t seed, synth_t *s, trn_batch_t *b)
{
    size_t cap = (size_t)budget + 64;
    s->src_off = calloc(cap, sizeof(int)), s->tgt_off = calloc(cap, sizeof(int)), s->key = calloc(cap, sizeof(int));
    s->src = calloc(cap, sizeof(int)), s->tin = calloc(cap, sizeof(int)), s->tout = calloc(cap, sizeof(int));
    if (!s->src_off || !s->tgt_off || !s->key || !s->src || !s->tin || !s->tout)
        return -1;
    mb_rng_t r;
    mb_rng_seed(&r, seed);
    int n = 0;
    long used = 0;
    for (;;) {
        int ls = 8 + (int)(mb_rng_u64(&r) % 13), lt = 8 + (int)(mb_rng_u64(&r) % 13);
        if (used + ls + 2 + lt + 1 > budget && n > 0)
            break;
        int task = (int)(mb_rng_u64(&r) % (uint64_t)c->n_tasks), so = s->src_off[n], to = s->tgt_off[n];
        s->src[so] = model_task_tag(c, task);
        for (int j = 1; j <= ls; j++)
            s->src[so + j] = 100 + (int)(mb_rng_u64(&r) % (uint64_t)(c->vocab - 100));
        s->src[so + ls + 1] = MODEL_EOS;
        s->tin[to] = MODEL_BOS;
        for (int j = 0; j <= lt; j++) {
            int w = j == lt ? MODEL_EOS : 100 + (int)(mb_rng_u64(&r) % (uint64_t)(c->vocab - 100));
            s->tout[to + j] = w;
            if (j < lt)
                s->tin[to + j + 1] = w;
        }
        s->key[n] = model_task_key_index(c, task) < 0 ? 0 : model_task_key_index(c, task);
        s->src_off[n + 1] = so + ls + 2;
        s->tgt_off[n + 1] = to + lt + 1;
        used += ls + 2 + lt + 1;
        n++;
    }
    trn_batch_t out = {n, s->src_off, s->src, s->tgt_off, s->tin, s->tout, s->key};
    *b = out;
    return 0;
}

static void synth_free(synth_t *s)
{
    free(s->src_off), free(s->src), free(s->tgt_off), free(s->tin), free(s->tout), free(s->key);
}

static int run_bench(model_t *m, be_t *be, trn_t *t, const targs_t *a, const char *what, mb_error_t *err)
{
    synth_t s;
    memset(&s, 0, sizeof s);
    trn_batch_t b;
    if (synth_batch(&m->cfg, a->batch_tokens, (uint64_t)a->seed, &s, &b) != 0) {
        synth_free(&s);
        return mb_fail(err, "out of memory making a benchmark batch");
    }
    trn_bench_result_t r;
    int rc = trn_bench(t, m, be, &b, (int)a->bench_steps, &r, err);
    synth_free(&s);
    if (rc != 0)
        return -1;
    printf("moebench train --bench: %s, %.2f M parameters, backend %s, %ld thread(s)\n", what,
           (double)m->n_params / 1e6, a->backend, a->threads);
    printf("  batch                    %d source + %d target tokens (synthetic, 8-20 words a sentence)\n",
           r.src_tokens, r.tgt_tokens);
    printf("  step (fwd+bwd+AdamW)     %.3f s wall, %.3f s CPU (mean of %d)\n", r.wall_s, r.cpu_s, r.steps);
    printf("  tokens per CPU-second    %.0f\n", r.tok_per_cpu_s);
    printf("  tokens per second        %.0f\n", r.tok_per_s);
    printf("  model FLOPs              %.1f GFLOP per CPU-second (%.1f GFLOP a step)\n", r.model_gflops,
           r.model_gflop_per_step);
    printf("  backend GEMM rate        %.1f GFLOP per CPU-second at the step's linear-layer shapes (%.0f%% kept "
           "by the step)\n",
           r.gemm_gflops, 100.0 * r.model_gflops / r.gemm_gflops);
    return 0;
}

static int checkpoint(const char *path, const model_t *m, const trn_adam_t *adam, trn_ckpt_meta_t *k,
                      const targs_t *a, long step, const trn_sampler_t *s, double cpu, double wall, double best,
                      long tokens, mb_error_t *err)
{
    save_settings(k, a);
    trn_ckpt_set(k, "step", "%ld", step);
    trn_ckpt_set(k, "data_chunk", "%ld", s->chunk);
    trn_ckpt_set(k, "data_batch", "%d", s->batch);
    trn_ckpt_set(k, "cpu_s", "%.6f", cpu);
    trn_ckpt_set(k, "wall_s", "%.6f", wall);
    trn_ckpt_set(k, "best_valid", "%.9g", best);
    trn_ckpt_set(k, "tokens", "%ld", tokens);
    return trn_ckpt_save(path, m, adam, k, err);
}

int train_init_from(model_t *m, const model_t *from, const char *name, mb_error_t *err)
{
    trn_init_report_t r;
    if (trn_init_from(m, from, &r, err) != 0)
        return mb_prefix(err, "%s: ", name);
    fprintf(stderr, "moebench: started from %s: %d tensors copied (%.2f M), %d MoE FFN tensors the mean of their "
                    "experts (%.2f M), %d fresh (%.2f M)%s%s%s\n", name, r.copied, (double)r.copied_params / 1e6,
            r.averaged, (double)r.averaged_params / 1e6, r.fresh, (double)r.fresh_params / 1e6,
            r.fresh ? ": " : "", r.fresh_names, r.dropped ? "; gates, task embeddings and deeper layers dropped" : "");
    return 0;
}

/* A new run's model: ma's config with random weights (then --init-from). */
static int default_model(model_args_t *ma, targs_t *a, model_t **out, mb_error_t *err)
{
    char dirs[MODEL_MAX_TASKS * MODEL_NAME_LEN];
    model_config_t cfg;
    model_t *m = NULL, *from = NULL;
    const char *given = ma->tasks;
    *out = NULL;
    if (a->directions && !strcmp(a->directions, "all")) {
        if (train_all_pairs(a->langs, dirs, sizeof dirs, err) != 0)
            return -1;
        ma->tasks = dirs;
    } else if (a->directions)
        ma->tasks = a->directions;
    int bad = model_args_config(ma, &cfg, err);
    ma->tasks = given; /* dirs does not outlive this function */
    if (bad)
        return -1;
    if (a->vocab_file) {
        int tag, vsize;
        if (trn_vocab_tag(a->vocab_file, cfg.langs[0], &tag, &vsize, err) != 0)
            return -1;
        cfg.vocab = vsize; /* the vocabulary decides the embedding size */
        if (model_config_finish(&cfg, err) != 0)
            return -1;
    }
    if (model_create(&cfg, &m, err) != 0)
        return -1;
    model_init_random(m, (uint64_t)a->seed);
    if (a->init_from && (model_load(a->init_from, &from, err) != 0 || train_init_from(m, from, a->init_from, err) != 0)) {
        model_free(from);
        model_free(m);
        return -1;
    }
    model_free(from);
    *out = m;
    return 0;
}

int train_run(model_args_t *ma, targs_t *a, const train_hooks_t *h, mb_error_t *err)
{
    model_t *m = NULL;
    trn_t *t = NULL;
    trn_adam_t adam;
    memset(&adam, 0, sizeof adam);
    trn_ckpt_meta_t k;
    memset(&k, 0, sizeof k);
    trn_corpus_t tc, vc;
    memset(&tc, 0, sizeof tc);
    memset(&vc, 0, sizeof vc);
    trn_sampler_t ts, vs;
    memset(&ts, 0, sizeof ts);
    memset(&vs, 0, sizeof vs);
    be_t be;
    int be_ok = 0, rc = -1;
    FILE *curve = NULL;
    long step0 = 0, tokens = 0, chunk = -1, batch = 0;
    double cpu_prev = 0, wall_prev = 0, best = INFINITY;

    if (a->resume) {
        if (trn_ckpt_load(a->resume, &m, &adam, &k, err) != 0 || load_settings(&k, a, a->resume, err) != 0)
            goto out;
        step0 = atol(trn_ckpt_get(&k, "step") ? trn_ckpt_get(&k, "step") : "0");
        chunk = atol(trn_ckpt_get(&k, "data_chunk") ? trn_ckpt_get(&k, "data_chunk") : "-1");
        batch = atol(trn_ckpt_get(&k, "data_batch") ? trn_ckpt_get(&k, "data_batch") : "0");
        cpu_prev = atof(trn_ckpt_get(&k, "cpu_s") ? trn_ckpt_get(&k, "cpu_s") : "0");
        wall_prev = atof(trn_ckpt_get(&k, "wall_s") ? trn_ckpt_get(&k, "wall_s") : "0");
        best = atof(trn_ckpt_get(&k, "best_valid") ? trn_ckpt_get(&k, "best_valid") : "inf");
        tokens = atol(trn_ckpt_get(&k, "tokens") ? trn_ckpt_get(&k, "tokens") : "0");
    } else if ((h && h->make_model ? h->make_model(h->ctx, ma, a, &m, err) : default_model(ma, a, &m, err)) != 0) {
        goto out;
    }
    m->cfg.capacity_factor = (float)a->cf; /* recorded in the saved files: the cf it was trained with */
    /* one pool of threads: where the backend's GEMM may be called from several
     * threads at once (openblas, ref), it runs on one thread and the
     * trainer's team of --threads splits each GEMM and everything else;
     * otherwise (onednn) the backend threads its GEMMs itself */
    const be_ops_t *bops = be_find(a->backend);
    const int team = bops && bops->gemm_concurrent && a->threads != 1;
    be_options_t bo = {team ? 1 : (int)a->threads, BE_PRECISION_FP32};
    if (be_open(a->backend, &bo, &be, err) != 0)
        goto out;
    be_ok = 1;
    trn_opts_t o = {(float)a->dropout, (float)a->ls, (float)a->aux, (float)a->cf,
                    a->threads > 0 ? (int)a->threads : omp_get_max_threads()};
    if (trn_create(m, &be, &o, &t, err) != 0)
        goto out;
    char what[128];
    snprintf(what, sizeof what, "%s/%s", m->cfg.preset, m->cfg.variant);
    if (a->bench) {
        rc = run_bench(m, &be, t, a, what, err);
        goto out;
    }
    if (!a->train || !a->out) {
        mb_fail(err, "train: %s; see 'moebench train --help'",
                !a->train ? "no training data: give --train PATTERN (with --ids or --vocab-file)"
                          : "no output file: add -o MODEL.safetensors");
        goto out;
    }
    if (!a->ids && !a->vocab_file) {
        mb_fail(err, "train: say what the files hold: --ids (token ids) or --vocab-file FILE (text)");
        goto out;
    }
    /* data: the model's languages, tags from the vocabulary or the model's layout */
    const model_config_t *c = &m->cfg;
    int tags[MODEL_MAX_LANGS];
    for (int i = 0; a->vocab_file && i < c->n_langs; i++) {
        int vsize;
        if (trn_vocab_tag(a->vocab_file, c->langs[i], &tags[i], &vsize, err) != 0)
            goto out;
        if (tags[i] != MODEL_FIRST_TAG + i) { /* decoding (models/decode.c) puts the model's tag in front */
            mb_fail(err, "%s: <2%s> has id %d but the model's layout puts it at %d (tags from %d in sorted "
                         "language order); rebuild the vocabulary so", a->vocab_file, c->langs[i], tags[i],
                    MODEL_FIRST_TAG + i, MODEL_FIRST_TAG);
            goto out;
        }
    }
    if (trn_corpus_load(&tc, a->train, c->langs, c->n_langs, a->ids ? NULL : a->vocab_file, c->vocab,
                        (int)a->max_lines, err) != 0 ||
        (h && h->corpus && h->corpus(h->ctx, &tc, &be, m, a, err) != 0) ||
        trn_sampler_init(&ts, &tc, c, a->vocab_file ? tags : NULL, a->temperature, a->sampling, (uint64_t)a->seed,
                         (int)a->batch_tokens, (int)a->max_len, err) != 0)
        goto out;
    if (chunk >= 0 && trn_sampler_seek(&ts, chunk, (int)batch, err) != 0)
        goto out;
    if (a->valid && (trn_corpus_load(&vc, a->valid, c->langs, c->n_langs, a->ids ? NULL : a->vocab_file, c->vocab,
                                     0, err) != 0 ||
                     trn_sampler_init_valid(&vs, &vc, c, a->vocab_file ? tags : NULL, (int)a->valid_lines,
                                            (int)a->batch_tokens, (int)a->max_len, err) != 0))
        goto out;
    trn_adam_opts_t ao;
    trn_adam_defaults(&ao);
    ao.lr = (float)a->lr;
    ao.warmup = (int)a->warmup;
    ao.decay = a->decay;
    ao.clip = (float)a->clip;
    ao.weight_decay = (float)a->wd;
    if (!a->resume && trn_adam_create(&adam, m, &ao, err) != 0)
        goto out;
    adam.o = ao;
    adam.step = step0;
    if (a->vocab_file && !a->ids) { /* the model files it writes carry their vocabulary (text in, text out) */
        vocab_t *voc;
        const void *blob;
        size_t len;
        if (vocab_load(a->vocab_file, &voc, err) != 0)
            goto out;
        vocab_blob(voc, &blob, &len);
        int bad = model_set_vocab(m, blob, len, err);
        vocab_free(voc);
        if (bad)
            goto out;
    }
    char curve_path[4096], ckpt[4096], bestp[4096];
    if (a->curve)
        snprintf(curve_path, sizeof curve_path, "%s", a->curve);
    else
        snprintf(curve_path, sizeof curve_path, "results/train-%s.csv", c->variant);
    sibling(a->out, "ckpt", ckpt, sizeof ckpt);
    sibling(a->out, "best", bestp, sizeof bestp);
    if (!(curve = curve_open(curve_path, a->resume ? step0 : -1, err)))
        goto out;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fprintf(stderr, "moebench: training %s (%.2f M parameters) on %d directions, %d lines; %ld steps from step %ld\n",
            what, (double)m->n_params / 1e6, ts.n_dir, tc.n_lines, a->steps, step0);
    double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC), last_ckpt = w0;
    long step = step0, ran = 0;
    int stopped = 0;
    while (step < a->steps) {
        trn_batch_t b;
        trn_stats_t st;
        if (trn_sampler_next(&ts, &b, NULL, err) != 0 ||
            trn_step(t, &b, 1, (uint64_t)a->seed * 1000003u + (uint64_t)step, &st, NULL, err) != 0)
            goto out;
        double norm = trn_adam_update(&adam, m, trn_grad(t));
        step++;
        ran++;
        tokens += st.src_tokens + st.tgt_tokens;
        double cpu = cpu_prev + now(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = wall_prev + now(CLOCK_MONOTONIC) - w0;
        double drop = st.assignments ? (double)st.dropped_assignments / (double)st.assignments : 0.0;
        double vl = NAN, vn = NAN, vb = NAN;
        if (a->valid && (step % a->valid_every == 0 || step == a->steps)) {
            if (validate(t, &vs, &vl, &vn, err) != 0)
                goto out;
            if (vl < best) {
                best = vl;
                if (model_save(m, bestp, err) != 0)
                    goto out;
            }
            if (a->bleu_lines > 0 && train_bleu(m, &be, &vs, (int)a->bleu_lines, a->ids ? NULL : a->vocab_file, &vb,
                                                NULL, err) != 0)
                goto out;
            fprintf(stderr, "moebench: step %ld: validation loss %.4f (nll %.4f, best %.4f), greedy BLEU %.2f%s\n", step,
                    vl, vn, best, vb, a->ids ? " (over token ids)" : "");
        }
        fprintf(curve, "%ld,%ld,%.3f,%.3f,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,", step, tokens, cpu, wall,
                (double)trn_adam_lr(&adam.o, step), st.loss, st.nll, st.aux, drop, norm);
        if (isnan(vl))
            fprintf(curve, ",,\n");
        else if (isnan(vb))
            fprintf(curve, "%.9g,%.9g,\n", vl, vn);
        else
            fprintf(curve, "%.9g,%.9g,%.4f\n", vl, vn, vb);
        fflush(curve);
        if (step % a->log_every == 0 || step == a->steps) {
            double el = now(CLOCK_MONOTONIC) - w0;
            double eta = el / (double)ran * (double)(a->steps - step);
            fprintf(stderr, "step %ld/%ld  loss %.4f  aux %.3f  dropped %.2f%%  lr %.3g  %.0f tok/CPU-s  "
                            "%.0f tok/s  ETA %.0f min\n", step, a->steps, st.loss, st.aux, 100.0 * drop,
                    (double)trn_adam_lr(&adam.o, step), tokens / (cpu > 0 ? cpu : 1), (st.src_tokens + st.tgt_tokens) * ran / (el > 0 ? el : 1), eta / 60.0);
        }
        int due = now(CLOCK_MONOTONIC) - last_ckpt >= a->ckpt_minutes * 60.0;
        stopped = g_stop || (a->stop_after && ran >= a->stop_after);
        if (due || stopped || step == a->steps) {
            if (checkpoint(ckpt, m, &adam, &k, a, step, &ts, cpu, wall, best, tokens, err) != 0)
                goto out;
            last_ckpt = now(CLOCK_MONOTONIC);
        }
        if (stopped)
            break;
    }
    if (stopped) {
        fprintf(stderr, "moebench: stopped at step %ld; checkpoint %s; continue with --resume %s\n", step, ckpt,
                ckpt);
        rc = g_stop ? 128 + (int)g_stop : 0;
        goto out;
    }
    if (model_save(m, a->out, err) != 0)
        goto out;
    fprintf(stderr, "moebench: wrote %s (checkpoint %s%s%s), curve %s\n", a->out, ckpt, a->valid ? ", best " : "",
            a->valid ? bestp : "", curve_path);
    rc = 0;
out:
    if (curve)
        fclose(curve);
    trn_free(t);
    if (be_ok)
        be_close(&be);
    trn_adam_free(&adam);
    trn_sampler_free(&ts);
    trn_sampler_free(&vs);
    trn_corpus_free(&tc);
    trn_corpus_free(&vc);
    model_free(m);
    return rc;
}
