/* trn_distill: teacher translations for distillation, cached (see trn_distill.h). */
#include "train/trn_distill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/mb_ids.h"
#include "common/mb_mem.h"
#include "models/decode.h"

void trn_distill_opts_default(trn_distill_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->beam = 4;
    o->len_penalty = 0.6f;
    o->max_out = 256;
    o->batch = 32;
    snprintf(o->vocab_id, sizeof o->vocab_id, "ids");
}

typedef struct out_lines {
    int n;
    int **ids;                 /* [n] NULL until translated (an empty output is a 1-int allocation) */
    int *len;                  /* [n] */
} out_lines_t;

static void out_free(out_lines_t *o)
{
    for (int i = 0; o->ids && i < o->n; i++)
        free(o->ids[i]);
    free(o->ids);
    free(o->len);
}

static int out_set(out_lines_t *o, int line, const int *ids, int len)
{
    int *p = malloc(sizeof(int) * (size_t)(len ? len : 1));
    if (!p)
        return -1;
    if (len)
        memcpy(p, ids, sizeof(int) * (size_t)len);
    free(o->ids[line]);
    o->ids[line] = p;
    o->len[line] = len;
    return 0;
}

/* Token ids of one cache line ("5 17 9\n", each below vocab); -1 when
 * anything else is there. */
static int parse_ids(const char *s, size_t len, int vocab, int **ids, int *n)
{
    int *a = NULL;
    size_t cap = 0, k = 0, bad, bad_len;
    if (mb_grow_cap((void **)&a, &cap, 1, sizeof *a) || mb_ids_parse(s, len, vocab, &a, &cap, &k, &bad, &bad_len)) {
        free(a);
        return -1;
    }
    *ids = a;
    *n = (int)k;
    return 0;
}

/* The first line of a cache or partial file: "#KEY\n" with this key. */
static int is_key_line(const char *line, ssize_t got, const char *key)
{
    size_t k = strlen(key);
    return got > 0 && line[0] == '#' && !strncmp(line + 1, key, k) && line[1 + k] == '\n';
}

/* Reads a complete cache file; 1 = valid and matching (o filled), 0 = not. */
static int read_cache(const char *path, const char *key, int vocab, out_lines_t *o)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got = getline(&line, &cap, f);
    int ok = is_key_line(line, got, key);
    int i = 0;
    while (ok && (got = getline(&line, &cap, f)) >= 0) {
        int *ids, n;
        if (i >= o->n || line[got - 1] != '\n' || parse_ids(line, (size_t)got, vocab, &ids, &n) != 0) {
            ok = 0;
            break;
        }
        free(o->ids[i]);
        o->ids[i] = ids;
        o->len[i++] = n;
    }
    ok = ok && i == o->n;
    free(line);
    fclose(f);
    return ok;
}

/* Lines a partial file already holds ("LINE\tids"); the torn last line of an
 * interrupted write is ignored. Returns how many were taken. */
static int read_partial(const char *path, const char *key, int vocab, out_lines_t *o)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got = getline(&line, &cap, f);
    int taken = 0;
    if (is_key_line(line, got, key))
        while ((got = getline(&line, &cap, f)) > 0 && line[got - 1] == '\n') {
            char *tab;
            long li = strtol(line, &tab, 10);
            int *ids, n;
            if (*tab != '\t' || li < 0 || li >= o->n ||
                parse_ids(tab + 1, (size_t)(line + got - (tab + 1)), vocab, &ids, &n) != 0)
                break;
            if (!o->ids[li])
                taken++;
            free(o->ids[li]);
            o->ids[li] = ids;
            o->len[li] = n;
        }
    free(line);
    fclose(f);
    return taken;
}

static void write_ids(FILE *f, const int *ids, int n)
{
    for (int j = 0; j < n; j++)
        fprintf(f, j ? " %d" : "%d", ids[j]);
    fputc('\n', f);
}

static int write_cache(const char *path, const char *key, const out_lines_t *o, mb_error_t *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return mb_fail(err, "%s: cannot write the teacher's translations (%s); check --cache", tmp, strerror(errno));
    fprintf(f, "#%s\n", key);
    for (int i = 0; i < o->n; i++)
        write_ids(f, o->ids[i], o->len[i]);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return mb_fail(err, "%s: cannot write the teacher's translations (%s); check the disk space", path,
                       strerror(e ? e : EIO));
    }
    return 0;
}

typedef struct by_len { int len, line; } by_len_t;

static int cmp_len(const void *a, const void *b)
{
    const by_len_t *x = a, *y = b;
    return x->len != y->len ? (x->len < y->len ? -1 : 1) : (x->line > y->line) - (x->line < y->line);
}

/* Decodes the lines not yet in o, shortest sources first, appending each batch to the partial file. */
static int translate(const model_t *t, be_t *be, const trn_corpus_t *c, int src, int task, const trn_distill_opts_t *o,
                     out_lines_t *out, FILE *partial, const char *direction, int resumed,
                     trn_distill_progress_fn progress, void *ctx, mb_error_t *err)
{
    decode_opts_t dopt;
    decode_opts_default(&dopt);
    dopt.beam = o->beam;
    dopt.len_penalty = o->len_penalty;
    dopt.max_len = o->max_out;
    dopt.scores = 0;
    decode_ctx_t *dc = NULL;
    by_len_t *todo = malloc(sizeof *todo * (size_t)(c->n_lines ? c->n_lines : 1));
    decode_request_t *req = calloc((size_t)o->batch, sizeof *req);
    decode_result_t *res = calloc((size_t)o->batch, sizeof *res);
    int *lines = calloc((size_t)o->batch, sizeof *lines), n_todo = 0, done = 0, rc = -1;
    if (!todo || !req || !res || !lines) {
        mb_fail(err, "out of memory translating %s", direction);
        goto out;
    }
    if (decode_ctx_create(t, be, &dopt, &dc, err) != 0)
        goto out;
    for (int i = 0; i < c->n_lines; i++) {
        int len = c->off[src][i + 1] - c->off[src][i];
        if (out->ids[i]) {
            done++;
        } else if (len == 0 || (o->max_src > 0 && len > o->max_src)) { /* nothing a student could learn from */
            if (out_set(out, i, NULL, 0) != 0)
                goto oom;
            done++;
        } else {
            todo[n_todo++] = (by_len_t){len, i};
        }
    }
    qsort(todo, (size_t)n_todo, sizeof *todo, cmp_len);
    for (int k = 0; k < n_todo; k += o->batch) {
        int n = n_todo - k < o->batch ? n_todo - k : o->batch;
        for (int j = 0; j < n; j++) {
            int li = todo[k + j].line;
            lines[j] = li;
            req[j] = (decode_request_t){task, c->ids[src] + c->off[src][li], todo[k + j].len, 0};
        }
        if (decode_batch(dc, req, n, res, err) != 0) {
            mb_prefix(err, "teacher translating %s: ", direction);
            goto out;
        }
        for (int j = 0; j < n; j++) {
            if (out_set(out, lines[j], res[j].ids, res[j].len) != 0)
                goto oom;
            if (partial) {
                fprintf(partial, "%d\t", lines[j]);
                write_ids(partial, res[j].ids, res[j].len);
            }
        }
        if (partial)
            fflush(partial); /* a failure here only costs the resume; the final file is checked */
        done += n;
        if (progress)
            progress(ctx, direction, done, c->n_lines, resumed);
    }
    rc = 0;
    goto out;
oom:
    mb_fail(err, "out of memory keeping the translations of %s", direction);
out:
    decode_ctx_free(dc);
    free(todo), free(req), free(res), free(lines);
    return rc;
}

int trn_distill_direction(const model_t *teacher, be_t *be, const trn_corpus_t *c, int src, const char *direction,
                          const trn_distill_opts_t *o, const char *cache_dir, trn_distill_progress_fn progress,
                          void *ctx, int **off_out, int **ids_out, trn_distill_result_t *res, mb_error_t *err)
{
    *off_out = *ids_out = NULL;
    memset(res, 0, sizeof *res);
    int task = model_find_task(&teacher->cfg, direction);
    if (task < 0 || !model_serves_task(&teacher->cfg, task))
        return mb_fail(err, "the teacher does not translate %s; distil only directions among its tasks", direction);
    if (src < 0 || src >= c->n_langs)
        return mb_fail(err, "%s: no source language in the corpus", direction);
    if (o->batch < 1 || o->beam < 1)
        return mb_fail(err, "distill: batch and beam must be at least 1");
    if (mkdir(cache_dir, 0777) != 0 && errno != EEXIST)
        return mb_fail(err, "%s: cannot create the cache folder (%s); give a writable --cache", cache_dir,
                       strerror(errno));
    uLong scrc = crc32(0L, Z_NULL, 0);
    scrc = crc32(scrc, (const Bytef *)c->off[src], (uInt)(sizeof(int) * ((size_t)c->n_lines + 1)));
    scrc = crc32(scrc, (const Bytef *)c->ids[src], (uInt)(sizeof(int) * (size_t)c->off[src][c->n_lines]));
    char key[512];
    snprintf(key, sizeof key,
             "moebench-distill-cache 1 teacher_crc32=%08x direction=%s tag=%d beam=%d len_penalty=%.9g max_out=%d "
             "max_src=%d lines=%d source_crc32=%08lx vocab=%s", (unsigned)o->teacher_crc, direction,
             model_task_tag(&teacher->cfg, task), o->beam, (double)o->len_penalty, o->max_out, o->max_src,
             c->n_lines, (unsigned long)scrc, o->vocab_id);
    snprintf(res->path, sizeof res->path, "%s/%s.ids", cache_dir, direction);
    char part[4200];
    snprintf(part, sizeof part, "%s.partial", res->path);
    out_lines_t out = {c->n_lines, calloc((size_t)(c->n_lines ? c->n_lines : 1), sizeof(int *)),
                       calloc((size_t)(c->n_lines ? c->n_lines : 1), sizeof(int))};
    FILE *pf = NULL;
    int rc = -1;
    if (!out.ids || !out.len) {
        mb_fail(err, "out of memory for the translations of %s", direction);
        goto done;
    }
    struct stat st;
    if (read_cache(res->path, key, teacher->cfg.vocab, &out)) {
        res->reused = 1;
    } else {
        snprintf(res->why, sizeof res->why, "%s", stat(res->path, &st) == 0
                                                       ? "the teacher, data or options changed (key differs)"
                                                       : "no cache file yet");
        for (int i = 0; i < out.n; i++) { /* a stale file may have filled some */
            free(out.ids[i]);
            out.ids[i] = NULL;
        }
        res->resumed = read_partial(part, key, teacher->cfg.vocab, &out);
        /* the partial file is rewritten with what it held, then appended to */
        if (!(pf = fopen(part, "w"))) {
            mb_fail(err, "%s: cannot write (%s); give a writable --cache", part, strerror(errno));
            goto done;
        }
        fprintf(pf, "#%s\n", key);
        for (int i = 0; i < out.n; i++)
            if (out.ids[i]) {
                fprintf(pf, "%d\t", i);
                write_ids(pf, out.ids[i], out.len[i]);
            }
        fflush(pf);
        if (translate(teacher, be, c, src, task, o, &out, pf, direction, res->resumed, progress, ctx, err) != 0)
            goto done;
        fclose(pf);
        pf = NULL;
        if (write_cache(res->path, key, &out, err) != 0)
            goto done;
        unlink(part);
    }
    /* the column the sampler reads */
    long total = 0;
    for (int i = 0; i < out.n; i++)
        total += out.len[i];
    int *off = malloc(sizeof(int) * ((size_t)out.n + 1)), *ids = malloc(sizeof(int) * (size_t)(total ? total : 1));
    if (!off || !ids) {
        free(off), free(ids);
        mb_fail(err, "out of memory for the translations of %s", direction);
        goto done;
    }
    off[0] = 0;
    for (int i = 0; i < out.n; i++) {
        if (out.len[i])
            memcpy(ids + off[i], out.ids[i], sizeof(int) * (size_t)out.len[i]);
        off[i + 1] = off[i] + out.len[i];
    }
    *off_out = off;
    *ids_out = ids;
    rc = 0;
done:
    if (pf)
        fclose(pf);
    out_free(&out);
    return rc;
}
