/* workload: synthetic and real-data requests per task (see workload.h). */
#include "harness/workload.h"

#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/mb_rng.h"
#include "models/config.h"

#define MAX_TOKENS 512

int wl_hash_tokens(const char *text, int vocab, int first_word, int *ids, int max)
{
    int n = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p && n < max) {
        if (isspace(*p)) {
            p++;
            continue;
        }
        const unsigned char *start = p;
        if (isalnum(*p) || *p >= 0x80) /* a word: letters, digits and any non-ASCII */
            while (*p && (isalnum(*p) || *p >= 0x80))
                p++;
        else
            p++; /* one punctuation character */
        uint64_t h = 1469598103934665603ull;
        for (const unsigned char *q = start; q < p; q++)
            h = (h ^ *q) * 1099511628211ull;
        ids[n++] = first_word + (int)(h % (uint64_t)(vocab - first_word));
    }
    return n;
}

int wl_data_path(const scn_t *s, const char *lang, char *out, int len, mb_error_t *err)
{
    static const struct { const char *name, *tmpl; } sets[] = {
        {"multi30k-train", "multi30k/train.{lang}.gz"},
        {"multi30k-val", "multi30k/val.{lang}.gz"},
        {"multi30k-test", "multi30k/test_2016_flickr.{lang}.gz"},
    };
    char tmpl[SCN_TEXT];
    snprintf(tmpl, sizeof tmpl, "%s", s->data);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (!strcmp(s->data, sets[i].name))
            snprintf(tmpl, sizeof tmpl, "%s", sets[i].tmpl);
    if (!strncmp(s->data, "newstest", 8) && strlen(s->data) == 12)
        snprintf(tmpl, sizeof tmpl, "wmt/%.12s.{lang}", s->data);
    char *at = strstr(tmpl, "{lang}");
    if (!at)
        return mb_fail(err, "[workload] data '%s' is neither synthetic, a known set (multi30k-train, "
                            "multi30k-val, multi30k-test, newstest2008..newstest2013) nor a path with {lang}", s->data);
    char file[SCN_TEXT * 2];
    snprintf(file, sizeof file, "%.*s%s%s", (int)(at - tmpl), tmpl, lang, at + 6);
    if (file[0] == '/' || !strncmp(file, "./", 2))
        snprintf(out, (size_t)len, "%s", file);
    else
        snprintf(out, (size_t)len, "%s/%s", s->data_dir, file);
    return 0;
}

/* Reads the first n lines of a plain or gzip file. */
static int read_lines(const char *path, int n, char ***out, mb_error_t *err)
{
    if (access(path, R_OK) != 0)
        return mb_fail(err, "%s: cannot read the data file: %s; point [workload] data_dir or MOEBENCH_DATA at "
                            "your copy of the data, or use data = synthetic", path, strerror(errno));
    gzFile f = gzopen(path, "rb");
    if (!f)
        return mb_fail(err, "%s: cannot open: %s; check the file is readable", path,
                       errno ? strerror(errno) : "out of memory");
    char **lines = calloc((size_t)n, sizeof *lines);
    char buf[65536];
    int got = 0;
    while (lines && got < n && gzgets(f, buf, sizeof buf)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!(lines[got] = strdup(buf)))
            break;
        got++;
    }
    gzclose(f);
    if (!lines || got < n) {
        for (int i = 0; lines && i < got; i++)
            free(lines[i]);
        free(lines);
        return lines ? mb_fail(err, "%s: has %d lines; [workload] sentences asks for %d", path, got, n)
                     : mb_fail(err, "%s: out of memory", path);
    }
    *out = lines;
    return 0;
}

static void task_langs(const char *task, char *src, char *tgt)
{
    const char *dash = strchr(task, '-');
    snprintf(src, 16, "%.*s", (int)(dash - task), task);
    snprintf(tgt, 16, "%s", dash + 1);
}

static int alloc_task(wl_task_t *t, int n)
{
    t->n = n;
    t->src = calloc((size_t)n, sizeof *t->src);
    t->src_len = calloc((size_t)n, sizeof *t->src_len);
    t->out_len = calloc((size_t)n, sizeof *t->out_len);
    return t->src && t->src_len && t->out_len ? 0 : -1;
}

static int build_synthetic(const scn_t *s, wl_task_t *t, int vocab, int first_word, mb_error_t *err)
{
    mb_rng_t r;
    mb_rng_for(&r, s->seed, t->name);
    if (alloc_task(t, s->sentences))
        return mb_fail(err, "out of memory for the workload");
    for (int i = 0; i < t->n; i++) {
        int len = (int)lround(exp(2.75 + 0.64 * mb_rng_normal(&r)));
        len = len < 1 ? 1 : len > 200 ? 200 : len;
        if (!(t->src[i] = malloc(sizeof(int) * (size_t)len)))
            return mb_fail(err, "out of memory for the workload");
        for (int j = 0; j < len; j++)
            t->src[i][j] = first_word + (int)(mb_rng_u64(&r) % (uint64_t)(vocab - first_word));
        t->src_len[i] = len;
        t->out_len[i] = s->output_length == SCN_OUT_MODEL ? 0 : len;
    }
    return 0;
}

static int build_real(const scn_t *s, wl_task_t *t, int vocab, int first_word, mb_error_t *err)
{
    char sl[16], tl[16], path[SCN_TEXT * 2];
    task_langs(t->name, sl, tl);
    char **src = NULL;
    if (wl_data_path(s, sl, path, sizeof path, err) || read_lines(path, s->sentences, &src, err))
        return -1;
    if (wl_data_path(s, tl, path, sizeof path, err) || read_lines(path, s->sentences, &t->ref, err)) {
        for (int i = 0; i < s->sentences; i++)
            free(src[i]);
        free(src);
        return -1;
    }
    int rc = 0, ids[MAX_TOKENS];
    if (alloc_task(t, s->sentences))
        rc = mb_fail(err, "out of memory for the workload");
    for (int i = 0; rc == 0 && i < t->n; i++) {
        int n = wl_hash_tokens(src[i], vocab, first_word, ids, MAX_TOKENS);
        if (!(t->src[i] = malloc(sizeof(int) * (size_t)(n ? n : 1)))) {
            rc = mb_fail(err, "out of memory for the workload");
            break;
        }
        memcpy(t->src[i], ids, sizeof(int) * (size_t)n);
        t->src_len[i] = n;
        int ref_len = wl_hash_tokens(t->ref[i], vocab, first_word, ids, MAX_TOKENS);
        t->out_len[i] = s->output_length == SCN_OUT_MODEL    ? 0
                        : s->output_length == SCN_OUT_SOURCE ? n
                                                             : (ref_len ? ref_len : 1);
    }
    t->src_text = src;
    return rc;
}

int wl_build(const scn_t *s, int vocab, int first_word, wl_t *w, mb_error_t *err)
{
    memset(w, 0, sizeof *w);
    model_config_t c;
    if (model_config_set_tasks(&c, s->tasks, err))
        return mb_prefix(err, "[workload] ");
    if (vocab <= first_word)
        return mb_fail(err, "the model's vocabulary (%d) has no room for words", vocab);
    int synthetic = !strcmp(s->data, "synthetic");
    snprintf(w->source, sizeof w->source, "%s", s->data);
    for (int i = 0; i < c.n_tasks; i++) {
        wl_task_t *t = &w->task[w->n_tasks++];
        snprintf(t->name, sizeof t->name, "%s", c.tasks[i]);
        if ((synthetic ? build_synthetic(s, t, vocab, first_word, err)
                       : build_real(s, t, vocab, first_word, err)) != 0) {
            wl_free(w);
            return -1;
        }
    }
    return 0;
}

void wl_free(wl_t *w)
{
    for (int i = 0; i < w->n_tasks; i++) {
        wl_task_t *t = &w->task[i];
        for (int j = 0; j < t->n; j++) {
            if (t->src)
                free(t->src[j]);
            if (t->ref)
                free(t->ref[j]);
            if (t->src_text)
                free(t->src_text[j]);
        }
        free(t->src_text);
        free(t->src);
        free(t->src_len);
        free(t->out_len);
        free(t->ref);
    }
    memset(w, 0, sizeof *w);
}

void wl_arrivals(uint64_t seed, const char *stream, double qps, int n, double *out)
{
    mb_rng_t r;
    mb_rng_for(&r, seed, stream);
    double t = 0;
    for (int i = 0; i < n; i++) {
        t += -log(1.0 - mb_rng_uniform(&r)) / qps;
        out[i] = t;
    }
}
