/* cmd_translate: `moebench translate`: decode sentences from stdin with a
 * model file on a chosen backend; text in and out when the model carries a
 * vocabulary, token ids in and out with --ids. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mb_clock.h"
#include "common/mb_ids.h"
#include "common/mb_mem.h"
#include "common/mb_parse.h"
#include "cli/cli.h"
#include "models/decode.h"
#include "models/model.h"
#include "vocab/vocab.h"

static void help(void)
{
    printf("usage: moebench translate MODEL.safetensors --task T [--ids] [options] < SRC > HYP\n\n"
           "Reads one source sentence per line and writes one translation per line, in order: raw\n"
           "UTF-8 text in and detokenized text out with the model's own vocabulary (a model made with\n"
           "'moebench init --vocab'), or token ids with --ids. The target-language tag (<2xx>) and\n"
           "EOS are added to each source by moebench.\n\n"
           "  --task T              task to translate (en-de), or a task-key value (de); may be left out\n"
           "                        when the model serves a single key\n"
           "  --ids                 lines are whitespace-separated token ids, in and out (needed for a\n"
           "                        model without a vocabulary)\n"
           "  --backend B           compute backend (default auto: the fastest here, measured once and cached;\n"
           "                        ref: the portable oracle; see 'moebench backends')\n"
           "  --threads N           threads for the backend (default: the backend's)\n"
           "  --precision P         fp32 | bf16 | int8 | int8all (default fp32; int8: onednn, output\n"
           "                        projection fp32; int8all: it too)\n"
           "  --beam K              beam size; 1 = greedy (default 1)\n"
           "  --len-penalty A       GNMT length penalty alpha for beam search (default 0.6)\n"
           "  --max-len N           at most N output tokens, and at most 2 * source + 10 (default 256)\n"
           "  --batch N             sentences per batch (default 32)\n"
           "  --capacity-factor F   expert capacity factor per sequence (docs/routing.md); default 0 =\n"
           "                        unlimited, whatever the model file records from training\n"
           "  --scores              append a tab and the hypothesis log-probability to each line\n"
           "  --stats               print to stderr the tokens, routing statistics (dropped assignments\n"
           "                        and tokens), start-up time, and the translating time and speed\n"
           "  --no-check-finite     load the model even when a weight is NaN or infinite (refused by\n"
           "                        default: such a model decodes garbage)\n\n%s",
           CLI_EXIT_HELP);
}

typedef struct lines {
    int n, cap;
    int **ids;
    int *len;
} lines_t;

static void lines_free(lines_t *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->ids[i]);
    free(l->ids);
    free(l->len);
}

/* Reads every line of f as token ids. */
static int read_ids(FILE *f, lines_t *l, mb_error_t *err)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    memset(l, 0, sizeof *l);
    while ((got = getline(&buf, &cap, f)) >= 0) {
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 256;
            int **ids = realloc(l->ids, sizeof *ids * (size_t)l->cap);
            int *len = realloc(l->len, sizeof *len * (size_t)l->cap);
            if (ids)
                l->ids = ids;
            if (len)
                l->len = len;
            if (!ids || !len)
                goto oom;
        }
        /* room for one id even on an empty line: rows are never NULL */
        int *row = NULL;
        size_t room = 0, n = 0, bad = 0, bad_len = 0;
        int rc = mb_grow_cap((void **)&row, &room, 1, sizeof *row);
        if (rc == 0)
            rc = mb_ids_parse(buf, (size_t)got, 0, &row, &room, &n, &bad, &bad_len);
        l->ids[l->n] = row;
        l->len[l->n++] = (int)n;
        if (rc < 0)
            goto oom;
        if (rc == MB_IDS_NUL) {
            free(buf);
            return mb_fail(err, "stdin:%d: contains a NUL byte (at byte %zu); with --ids each line holds "
                                "whitespace-separated non-negative integers", l->n, bad + 1);
        }
        if (rc == MB_IDS_BAD) {
            mb_fail(err, "stdin:%d: '%.*s' is not a token id; with --ids each line holds "
                         "whitespace-separated non-negative integers",
                    l->n, (int)(bad_len < 20 ? bad_len : 20), buf + bad);
            free(buf);
            return -1;
        }
    }
    free(buf);
    return 0;
oom:
    free(buf);
    return mb_fail(err, "stdin: out of memory after %d lines", l->n);
}

/* Reads every line of f as UTF-8 text and encodes it with v. */
static int read_text(FILE *f, const vocab_t *v, lines_t *l, mb_error_t *err)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    memset(l, 0, sizeof *l);
    while ((got = getline(&buf, &cap, f)) >= 0) {
        while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
            buf[--got] = '\0';
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 256;
            int **ids = realloc(l->ids, sizeof *ids * (size_t)l->cap);
            int *len = realloc(l->len, sizeof *len * (size_t)l->cap);
            if (ids)
                l->ids = ids;
            if (len)
                l->len = len;
            if (!ids || !len) {
                free(buf);
                return mb_fail(err, "stdin: out of memory after %d lines", l->n);
            }
        }
        if (vocab_encode(v, buf, (size_t)got, &l->ids[l->n], &l->len[l->n], err) != 0) {
            free(buf);
            return mb_prefix(err, "stdin:%d: ", l->n + 1);
        }
        l->n++;
    }
    free(buf);
    return 0;
}

/* A task name, or a key value meaning its first task. */
static int resolve_task(const model_config_t *c, const char *name)
{
    if (!name) {
        if (c->subnet_key >= 0 || c->n_keys == 1 || c->n_tasks == 1)
            for (int t = 0; t < c->n_tasks; t++)
                if (model_serves_task(c, t))
                    return t;
        return -2;
    }
    int t = model_find_task(c, name);
    if (t >= 0)
        return t;
    int key = model_find_key(c, name);
    for (t = 0; key >= 0 && t < c->n_tasks; t++)
        if (model_task_key_index(c, t) == key)
            return t;
    return -1;
}

int cmd_translate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"task", required_argument, 0, 't'},      {"ids", no_argument, 0, 'i'},
        {"backend", required_argument, 0, 'b'},   {"threads", required_argument, 0, 'T'},
        {"precision", required_argument, 0, 'p'}, {"beam", required_argument, 0, 'k'},
        {"len-penalty", required_argument, 0, 'a'}, {"max-len", required_argument, 0, 'm'},
        {"batch", required_argument, 0, 'B'},     {"capacity-factor", required_argument, 0, 'c'},
        {"scores", no_argument, 0, 's'},          {"stats", no_argument, 0, 'S'},
        {"no-check-finite", no_argument, 0, 'F'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *task_name = NULL, *backend = "auto";
    int ids = 0, scores = 0, stats = 0, check_finite = 1, c;
    long threads = 0, batch = 32, v;
    double f;
    be_options_t bo = {0, BE_PRECISION_FP32};
    decode_opts_t dopt;
    decode_opts_default(&dopt);
    mb_error_t err;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 't': task_name = optarg; break;
        case 'i': ids = 1; break;
        case 'b': backend = optarg; break;
        case 'T': bad = mb_parse_long("--threads", optarg, 1, 1024, &threads, &err); break;
        case 'p': bad = be_precision_parse(optarg, &bo.precision, &err); break;
        case 'k': bad = mb_parse_long("--beam", optarg, 1, 64, &v, &err); dopt.beam = (int)v; break;
        case 'a': bad = mb_parse_double("--len-penalty", optarg, 0, 10, &f, &err); dopt.len_penalty = (float)f; break;
        case 'm': bad = mb_parse_long("--max-len", optarg, 0, 4096, &v, &err); dopt.max_len = (int)v; break;
        case 'B': bad = mb_parse_long("--batch", optarg, 1, 4096, &batch, &err); break;
        case 'c': bad = mb_parse_double("--capacity-factor", optarg, 0, 1000, &dopt.capacity_factor, &err); break;
        case 's': scores = 1; break;
        case 'S': stats = 1; break;
        case 'F': check_finite = 0; break;
        case 'h': help(); return 0;
        default: return cli_bad_option("translate", c, argv, optind, optopt);
        }
        if (bad)
            return cli_usage(&err);
    }
    if (optind != argc - 1)
        return cli_usagef("translate: give exactly one model file; see 'moebench translate --help'");
    bo.threads = (int)threads;
    const double t_start = mb_now(); /* --stats: start-up apart from translating */
    double t_ready = 0, cpu_ready = 0;
    model_t *m;
    if (model_load_mapped(argv[optind], check_finite, &m, &err)) /* translating only reads the weights */
        return cli_error(&err);
    vocab_t *voc = NULL;
    if (!ids && !m->vocab_blob) {
        model_free(m);
        return cli_errorf("translate: %s carries no vocabulary; pass token ids with --ids, or make the model "
                          "with 'moebench init --vocab FILE.model'", argv[optind]);
    }
    if (m->vocab_blob && vocab_for_config(m->vocab_blob, m->vocab_len, &m->cfg, argv[optind], &voc, &err)) {
        model_free(m);
        return cli_error(&err);
    }
    int task = resolve_task(&m->cfg, task_name);
    if (task < 0 || !model_serves_task(&m->cfg, task)) {
        if (task == -2)
            cli_errorf("translate: %s serves several tasks; choose one with --task", argv[optind]);
        else if (task == -1)
            cli_errorf("translate: %s has no task or task key '%s'", argv[optind], task_name);
        else
            cli_errorf("translate: %s is a sub-network for %s %s and does not serve %s; extract one for it",
                       argv[optind], model_key_name(m->cfg.task_key), m->cfg.keys[m->cfg.subnet_key],
                       m->cfg.tasks[task]);
        model_free(m);
        vocab_free(voc);
        return 2; /* the --task given (or not given) does not fit the model: bad usage */
    }
    be_t be;
    decode_ctx_t *dc = NULL;
    lines_t in = {0};
    int rc = 1;
    if (be_open(backend, &bo, &be, &err)) {
        model_free(m);
        vocab_free(voc);
        return cli_error(&err);
    }
    /* the vocabulary-wide log-softmax only when asked for (beam search computes it anyway):
     * greedy takes the argmax of the logits, so translate times the decoder `run` times */
    dopt.scores = scores;
    if (model_prepare(m, &be, &err) || decode_ctx_create(m, &be, &dopt, &dc, &err) ||
        (ids ? read_ids(stdin, &in, &err) : read_text(stdin, voc, &in, &err)))
        goto out;
    t_ready = mb_now();
    cpu_ready = mb_process_cpu_s();
    decode_request_t *req = calloc((size_t)batch, sizeof *req);
    decode_result_t *res = calloc((size_t)batch, sizeof *res);
    int tty = isatty(2);
    for (int s0 = 0; req && res && s0 < in.n; s0 += (int)batch) {
        int n = in.n - s0 < batch ? in.n - s0 : (int)batch;
        for (int i = 0; i < n; i++)
            req[i] = (decode_request_t){task, in.ids[s0 + i], in.len[s0 + i], 0};
        if (decode_batch(dc, req, n, res, &err)) {
            mb_prefix(&err, "stdin:%d+: ", s0 + 1);
            free(req);
            free(res);
            goto out;
        }
        for (int i = 0; i < n; i++) {
            if (!ids) {
                char *text;
                if (vocab_decode(voc, res[i].ids, res[i].len, &text, &err)) {
                    mb_prefix(&err, "stdin:%d: ", s0 + i + 1);
                    free(req);
                    free(res);
                    goto out;
                }
                fputs(text, stdout);
                free(text);
            }
            for (int j = 0; ids && j < res[i].len; j++)
                printf(j ? " %d" : "%d", res[i].ids[j]);
            if (scores)
                printf("\t%.6f", (double)res[i].logprob);
            putchar('\n');
        }
        if (tty)
            fprintf(stderr, "\rmoebench: translated %d/%d sentences", s0 + n, in.n);
    }
    if (tty && in.n)
        fputc('\n', stderr);
    if (!req || !res) {
        mb_fail(&err, "out of memory for batches of %ld", batch);
        free(req);
        free(res);
        goto out;
    }
    free(req);
    free(res);
    if (stats) {
        const decode_stats_t *st = decode_get_stats(dc);
        const double wall = mb_now() - t_ready, cpu = mb_process_cpu_s() - cpu_ready;
        char nthreads[24];
        snprintf(nthreads, sizeof nthreads, bo.threads > 0 ? "%d" : "default", bo.threads);
        fprintf(stderr, "moebench: %llu sentences, %llu source tokens, %llu output tokens, %llu decoder steps\n",
                (unsigned long long)st->sentences, (unsigned long long)st->src_tokens,
                (unsigned long long)st->out_tokens, (unsigned long long)st->steps);
        /* the figures a user compares engines by: start-up (load, backend, prepared weights, input
         * read) apart from translating (every batch, output written) */
        fprintf(stderr, "moebench: start-up %.3f s; translating %.3f s wall, %.3f s CPU (%.2f cores): "
                        "%.1f output tokens/s (%s %s, threads %s, batch %ld)\n",
                t_ready - t_start, wall, cpu, wall > 0 ? cpu / wall : 0.0,
                wall > 0 ? (double)st->out_tokens / wall : 0.0, be.ops->name,
                be_precision_name(bo.precision), nthreads, batch);
        const moe_stats_t *ms[2] = {&st->moe_encoder, &st->moe_decoder};
        for (int s = 0; s < 2; s++)
            fprintf(stderr, "moebench: %s MoE: %llu token routings, %llu expert assignments, "
                            "%llu dropped assignments, %llu dropped tokens (capacity factor %g)\n",
                    s ? "decoder" : "encoder", (unsigned long long)ms[s]->tokens,
                    (unsigned long long)ms[s]->assignments, (unsigned long long)ms[s]->dropped_assignments,
                    (unsigned long long)ms[s]->dropped_tokens, dopt.capacity_factor);
    }
    if (fflush(stdout) == 0)
        rc = 0;
    else
        mb_fail(&err, "translate: writing stdout failed");
out:
    if (rc)
        cli_error(&err);
    decode_ctx_free(dc);
    lines_free(&in);
    model_release(m, &be);
    be_close(&be);
    model_free(m);
    vocab_free(voc);
    return rc;
}
