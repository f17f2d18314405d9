/* trn_data: corpora, direction sampling and length-bucketed batches (see trn_data.h). */
#include "train/trn_data.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/mb_ids.h"
#include "common/mb_mem.h"
#include "common/mb_rng.h"

/* The vocabulary module is written in parallel (vocab/vocab.h); until it is
 * in the tree, text corpora are refused and token-id files still work. */
#if defined(__has_include)
#if __has_include("vocab/vocab.h")
#include "vocab/vocab.h"
#define TRN_HAVE_VOCAB 1
#endif
#endif

#define LINE_MAX_BYTES (1 << 20)
#define CHUNK_BATCHES 64 /* batches drawn, sorted by length and shuffled together */

/* ---- corpus ---- */

static int push(int **a, size_t *cap, size_t n, int v)
{
    if (n >= *cap) {
        size_t c = *cap ? *cap * 2 : 4096;
        if (mb_grow((void **)a, c, sizeof(int)))
            return -1;
        *cap = c;
    }
    (*a)[n] = v;
    return 0;
}

static void expand(const char *pattern, const char *lang, char *out, size_t len)
{
    const char *p = strstr(pattern, "{lang}");
    if (!p)
        snprintf(out, len, "%s", pattern);
    else
        snprintf(out, len, "%.*s%s%s", (int)(p - pattern), pattern, lang, p + 6);
}

int trn_vocab_tag(const char *vocab_path, const char *lang, int *tag, int *size_out, mb_error_t *err)
{
#ifdef TRN_HAVE_VOCAB
    vocab_t *v;
    if (vocab_load(vocab_path, &v, err) != 0)
        return -1;
    *tag = vocab_tag_id(v, lang);
    *size_out = vocab_size(v);
    vocab_free(v);
    if (*tag < 0)
        return mb_fail(err, "%s: the vocabulary has no <2%s> tag; build it with every language of the data", vocab_path,
                       lang);
    return 0;
#else
    (void)lang;
    (void)tag;
    (void)size_out;
    return mb_fail(err, "%s: this moebench was built without the vocabulary module (vocab/); give token-id files "
                        "with --ids instead", vocab_path);
#endif
}

/* One language's file into c->off[li], c->ids[li]. */
static int load_file(trn_corpus_t *c, int li, const char *path, void *vocab, int V, int max_lines, mb_error_t *err)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return mb_fail(err, "%s: cannot open (%s); check the --train/--valid pattern and its {lang}", path,
                       strerror(errno ? errno : ENOENT));
    char *line = malloc(LINE_MAX_BYTES);
    size_t cap_ids = 0, cap_off = 0, n_ids = 0;
    int n = 0, rc = -1;
    if (!line || push(&c->off[li], &cap_off, 0, 0))
        goto oom;
    while ((max_lines <= 0 || n < max_lines) && gzgets(f, line, LINE_MAX_BYTES)) {
        size_t len = strlen(line);
        if (len == LINE_MAX_BYTES - 1 && line[len - 1] != '\n') {
            mb_fail(err, "%s:%d: line longer than %d bytes", path, n + 1, LINE_MAX_BYTES);
            goto done;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (!vocab) {
            size_t bad = 0, bad_len = 0;
            int rc = mb_ids_parse(line, len, V, &c->ids[li], &cap_ids, &n_ids, &bad, &bad_len);
            if (rc < 0)
                goto oom;
            if (rc != MB_IDS_OK) {
                mb_fail(err, "%s:%d: '%.*s' is not a token id below %d; token-id files hold whole numbers "
                             "separated by spaces", path, n + 1, (int)(bad_len < 20 ? bad_len : 20), line + bad, V);
                goto done;
            }
        } else {
#ifdef TRN_HAVE_VOCAB
            int *ids = NULL, k = 0;
            if (vocab_encode((const vocab_t *)vocab, line, len, &ids, &k, err) != 0) {
                mb_prefix(err, "%s:%d: ", path, n + 1);
                goto done;
            }
            for (int j = 0; j < k; j++)
                if (push(&c->ids[li], &cap_ids, n_ids++, ids[j])) {
                    free(ids);
                    goto oom;
                }
            free(ids);
#endif
        }
        if (push(&c->off[li], &cap_off, (size_t)++n, (int)n_ids))
            goto oom;
    }
    c->n_lines = n; /* checked against the other languages by the caller */
    rc = 0;
    goto done;
oom:
    mb_fail(err, "%s: out of memory reading the corpus", path);
done:
    free(line);
    gzclose(f);
    return rc;
}

int trn_corpus_load(trn_corpus_t *c, const char *pattern, const char (*langs)[MODEL_NAME_LEN], int n,
                    const char *vocab_path, int vocab, int max_lines, mb_error_t *err)
{
    memset(c, 0, sizeof *c);
    if (n < 2 || n > TRN_MAX_LANGS)
        return mb_fail(err, "corpus: %d languages; a translation corpus needs 2 to %d", n, TRN_MAX_LANGS);
    void *v = NULL;
    if (vocab_path) {
#ifdef TRN_HAVE_VOCAB
        vocab_t *vv;
        if (vocab_load(vocab_path, &vv, err) != 0)
            return -1;
        v = vv;
#else
        return mb_fail(err, "%s: this moebench was built without the vocabulary module (vocab/); give token-id "
                            "files with --ids instead", vocab_path);
#endif
    }
    int lines = -1, rc = 0;
    char path[4096], first[4096] = "";
    for (int i = 0; i < n && rc == 0; i++) {
        snprintf(c->langs[i], MODEL_NAME_LEN, "%s", langs[i]);
        expand(pattern, langs[i], path, sizeof path);
        rc = load_file(c, i, path, v, vocab, max_lines, err);
        if (rc == 0 && lines >= 0 && c->n_lines != lines)
            rc = mb_fail(err, "%s: %d lines, but %s has %d; a multi-way corpus is aligned line by line", path,
                         c->n_lines, first, lines);
        if (lines < 0)
            snprintf(first, sizeof first, "%s", path);
        lines = c->n_lines;
    }
    c->n_langs = c->n_cols = n;
#ifdef TRN_HAVE_VOCAB
    if (v)
        vocab_free((vocab_t *)v);
#endif
    if (rc != 0)
        trn_corpus_free(c);
    return rc;
}

void trn_corpus_free(trn_corpus_t *c)
{
    for (int i = 0; i < TRN_MAX_COLS; i++) {
        free(c->off[i]);
        free(c->ids[i]);
    }
    memset(c, 0, sizeof *c);
}

int trn_corpus_add_column(trn_corpus_t *c, const char *direction, int *off, int *ids, mb_error_t *err)
{
    if (c->n_cols >= TRN_MAX_COLS || strlen(direction) >= MODEL_NAME_LEN) {
        free(off), free(ids);
        return mb_fail(err, "corpus: no room for the targets of %s (at most %d columns)", direction, TRN_MAX_COLS);
    }
    for (int i = 0; i < c->n_cols; i++)
        if (!strcmp(c->langs[i], direction)) {
            free(off), free(ids);
            return mb_fail(err, "corpus: %s already has its own targets", direction);
        }
    int k = c->n_cols++;
    snprintf(c->langs[k], MODEL_NAME_LEN, "%s", direction);
    c->off[k] = off;
    c->ids[k] = ids;
    return 0;
}

/* ---- directions and batches ---- */

static int lang_index(const trn_corpus_t *c, const char *name, int len)
{
    for (int i = 0; i < c->n_langs; i++)
        if ((int)strlen(c->langs[i]) == len && !strncmp(c->langs[i], name, (size_t)len))
            return i;
    return -1;
}

static int line_len(const trn_corpus_t *c, int lang, int line)
{
    return c->off[lang][line + 1] - c->off[lang][line];
}

static int usable(const trn_sampler_t *s, const trn_direction_t *d, int line)
{
    int ls = line_len(s->c, d->src, line), lt = line_len(s->c, d->tgt, line);
    return ls > 0 && lt > 0 && ls + 2 <= s->max_len && lt + 1 <= s->max_len;
}

/* source (tag, words, EOS) + target (words, EOS: the labels) tokens of a pair */
static int pair_tokens(const trn_sampler_t *s, int dir, int line)
{
    const trn_direction_t *d = &s->dir[dir];
    return line_len(s->c, d->src, line) + 2 + line_len(s->c, d->tgt, line) + 1;
}

static int ex_tokens(const trn_sampler_t *s, int i)
{
    return pair_tokens(s, s->ex_dir[i], s->ex_line[i]);
}

static int setup(trn_sampler_t *s, const trn_corpus_t *c, const model_config_t *cfg, const int *tag_of_lang,
                 int budget, int max_len, mb_error_t *err)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->budget = budget;
    s->max_len = max_len;
    s->n_dir = cfg->n_tasks;
    for (int t = 0; t < cfg->n_tasks; t++) {
        trn_direction_t *d = &s->dir[t];
        const char *name = cfg->tasks[t], *dash = strchr(name, '-');
        d->src = lang_index(c, name, (int)(dash - name));
        d->tgt = lang_index(c, dash + 1, (int)strlen(dash + 1));
        if (d->src < 0 || d->tgt < 0)
            return mb_fail(err, "direction %s: the corpus has no %s side; give --langs covering every direction",
                           name, d->src < 0 ? "source" : "target");
        d->tag = tag_of_lang ? tag_of_lang[d->tgt] : model_task_tag(cfg, t);
        for (int k = c->n_langs; k < c->n_cols; k++) /* the direction's own targets, when it has them */
            if (!strcmp(c->langs[k], name))
                d->tgt = k;
        d->key = model_task_key_index(cfg, t);
        if (d->key < 0)
            d->key = 0; /* no task key in use (no task routing): any valid index */
    }
    return 0;
}

int trn_sampler_init(trn_sampler_t *s, const trn_corpus_t *c, const model_config_t *cfg, const int *tag_of_lang,
                     double temperature, int sampling, uint64_t seed, int budget, int max_len, mb_error_t *err)
{
    if (setup(s, c, cfg, tag_of_lang, budget, max_len, err) != 0)
        return -1;
    s->seed = seed;
    s->sampling = sampling;
    s->chunk_batches = CHUNK_BATCHES;
    double tot = 0;
    for (int t = 0; t < s->n_dir; t++) {
        trn_direction_t *d = &s->dir[t];
        s->pass_of[t] = -1;
        if (!(s->lines[t] = malloc(sizeof(int) * (size_t)(c->n_lines ? c->n_lines : 1))) ||
            (sampling == TRN_SAMPLE_SHUFFLE &&
             !(s->pass_order[t] = malloc(sizeof(int) * (size_t)(c->n_lines ? c->n_lines : 1)))))
            return mb_fail(err, "out of memory indexing the corpus");
        /* a line is drawn among its direction's usable lines, so that empty
         * or overlong lines do not shift the directions' shares */
        for (int i = 0; i < c->n_lines; i++)
            if (usable(s, d, i))
                s->lines[t][d->n++] = i;
        d->p = d->n > 0 ? pow((double)d->n, 1.0 / temperature) : 0.0;
        tot += d->p;
    }
    if (tot <= 0)
        return mb_fail(err, "corpus: no usable sentence pair (all empty or longer than --max-len %d)", max_len);
    for (int t = 0; t < s->n_dir; t++)
        s->dir[t].p /= tot;
    s->chunk = -1;
    return 0;
}

typedef struct { int tokens, idx; } ex_key_t;

static int cmp_ex(const void *a, const void *b)
{
    const ex_key_t *x = a, *y = b;
    return x->tokens != y->tokens ? (x->tokens < y->tokens ? -1 : 1) : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

/* Sorts the current examples by length and cuts them into budget batches. */
static int cut(trn_sampler_t *s, mb_rng_t *shuffle, mb_error_t *err)
{
    ex_key_t *k = malloc(sizeof *k * (size_t)(s->n_ex ? s->n_ex : 1));
    int *d = malloc(sizeof(int) * (size_t)(s->n_ex ? s->n_ex : 1)), *l = malloc(sizeof(int) * (size_t)(s->n_ex ? s->n_ex : 1));
    if (!k || !d || !l || mb_grow((void **)&s->batch_start, (size_t)s->n_ex + 1, sizeof(int)) ||
        mb_grow((void **)&s->order, (size_t)s->n_ex + 1, sizeof(int))) {
        free(k), free(d), free(l);
        return mb_fail(err, "out of memory batching the corpus");
    }
    for (int i = 0; i < s->n_ex; i++) {
        k[i].tokens = ex_tokens(s, i);
        k[i].idx = i;
    }
    qsort(k, (size_t)s->n_ex, sizeof *k, cmp_ex);
    for (int i = 0; i < s->n_ex; i++) {
        d[i] = s->ex_dir[k[i].idx];
        l[i] = s->ex_line[k[i].idx];
    }
    memcpy(s->ex_dir, d, sizeof(int) * (size_t)s->n_ex);
    memcpy(s->ex_line, l, sizeof(int) * (size_t)s->n_ex);
    s->n_batches = 0;
    for (int i = 0, used = 0; i < s->n_ex; i++) {
        if (i == 0 || used + k[i].tokens > s->budget) {
            s->batch_start[s->n_batches++] = i;
            used = 0;
        }
        used += k[i].tokens;
    }
    s->batch_start[s->n_batches] = s->n_ex;
    for (int b = 0; b < s->n_batches; b++)
        s->order[b] = b;
    for (int b = s->n_batches - 1; shuffle && b > 0; b--) {
        int j = (int)(mb_rng_u64(shuffle) % (uint64_t)(b + 1)), tmp = s->order[b];
        s->order[b] = s->order[j];
        s->order[j] = tmp;
    }
    free(k), free(d), free(l);
    return 0;
}

static int add_example(trn_sampler_t *s, int dir, int line, mb_error_t *err)
{
    if (s->n_ex == s->cap_ex) {
        int c = s->cap_ex ? s->cap_ex * 2 : 1024;
        if (mb_grow((void **)&s->ex_dir, (size_t)c, sizeof(int)) || mb_grow((void **)&s->ex_line, (size_t)c, sizeof(int)))
            return mb_fail(err, "out of memory sampling the corpus");
        s->cap_ex = c;
    }
    s->ex_dir[s->n_ex] = dir;
    s->ex_line[s->n_ex++] = line;
    return 0;
}

/* Line number k (from 0) that direction t gives in shuffle mode: entry
 * k mod n of pass k / n, a Fisher-Yates order of its usable lines from the
 * stream "trn_data pass T P" of the seed (so a pass is a function of the
 * seed alone, and regenerating one costs n draws). */
static int shuffled_line(trn_sampler_t *s, int t, long k)
{
    long n = s->dir[t].n, pass = k / n;
    int *o = s->pass_order[t];
    if (s->pass_of[t] != pass) {
        char name[64];
        snprintf(name, sizeof name, "trn_data pass %d %ld", t, pass);
        mb_rng_t r;
        mb_rng_for(&r, s->seed, name);
        memcpy(o, s->lines[t], sizeof(int) * (size_t)n);
        for (long i = n - 1; i > 0; i--) {
            long j = (long)(mb_rng_u64(&r) % (uint64_t)(i + 1));
            int tmp = o[i];
            o[i] = o[j];
            o[j] = tmp;
        }
        s->pass_of[t] = pass;
    }
    return o[k % n];
}

/* Chunk `chunk` of the training stream: directions drawn from the chunk's
 * own random stream; lines from it too (replace) or from the directions'
 * passes (shuffle, s->drawn[] then holds the count before this chunk).
 * keep = 0 only advances s->drawn[] (seeking). */
static int draw_chunk(trn_sampler_t *s, long chunk, int keep, mb_error_t *err)
{
    char name[48];
    snprintf(name, sizeof name, "trn_data chunk %ld", chunk);
    mb_rng_t r;
    mb_rng_for(&r, s->seed, name);
    s->n_ex = 0;
    long want = (long)s->chunk_batches * s->budget, got = 0, misses = 0;
    while (got < want) {
        double u = mb_rng_uniform(&r), acc = 0;
        int dir = s->n_dir - 1;
        for (int t = 0; t < s->n_dir; t++) {
            acc += s->dir[t].p;
            if (u < acc) {
                dir = t;
                break;
            }
        }
        if (s->dir[dir].n <= 0) {
            if (++misses > 1000000)
                return mb_fail(err, "corpus: almost no usable sentence pairs; check --max-len");
            continue;
        }
        int line = s->sampling == TRN_SAMPLE_SHUFFLE ? shuffled_line(s, dir, s->drawn[dir]++)
                                                     : s->lines[dir][mb_rng_u64(&r) % (uint64_t)s->dir[dir].n];
        got += pair_tokens(s, dir, line);
        if (keep && add_example(s, dir, line, err) != 0)
            return -1;
    }
    if (!keep)
        return 0;
    s->chunk = chunk;
    return cut(s, &r, err);
}

static int make_chunk(trn_sampler_t *s, long chunk, mb_error_t *err)
{
    return draw_chunk(s, chunk, 1, err);
}

int trn_sampler_init_valid(trn_sampler_t *s, const trn_corpus_t *c, const model_config_t *cfg,
                           const int *tag_of_lang, int lines, int budget, int max_len, mb_error_t *err)
{
    if (setup(s, c, cfg, tag_of_lang, budget, max_len, err) != 0)
        return -1;
    s->valid = 1;
    if (lines <= 0 || lines > c->n_lines)
        lines = c->n_lines;
    for (int t = 0; t < s->n_dir; t++)
        for (int i = 0; i < lines; i++)
            if (usable(s, &s->dir[t], i) && add_example(s, t, i, err) != 0)
                return -1;
    if (s->n_ex == 0)
        return mb_fail(err, "validation corpus: no usable sentence pair");
    return cut(s, NULL, err);
}

void trn_sampler_free(trn_sampler_t *s)
{
    void *p[] = {s->ex_dir, s->ex_line, s->batch_start, s->order, s->src_off, s->src, s->tgt_off, s->tin, s->tout, s->key};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
    for (int t = 0; t < MODEL_MAX_TASKS; t++) {
        free(s->lines[t]);
        free(s->pass_order[t]);
    }
    memset(s, 0, sizeof *s);
}

int trn_sampler_batches(const trn_sampler_t *s)
{
    return s->n_batches;
}

int trn_sampler_seek(trn_sampler_t *s, long chunk, int batch, mb_error_t *err)
{
    memset(s->drawn, 0, sizeof s->drawn);
    for (long k = 0; s->sampling == TRN_SAMPLE_SHUFFLE && k < chunk; k++)
        if (draw_chunk(s, k, 0, err) != 0)
            return -1;
    if (make_chunk(s, chunk, err) != 0)
        return -1;
    s->batch = batch;
    return 0;
}

int trn_sampler_next(trn_sampler_t *s, trn_batch_t *b, int *wrapped, mb_error_t *err)
{
    if (wrapped)
        *wrapped = 0;
    if (!s->valid && (s->chunk < 0 || s->batch >= s->n_batches)) {
        if (make_chunk(s, s->chunk + 1, err) != 0)
            return -1;
        s->batch = 0;
    }
    if (s->valid && s->batch >= s->n_batches)
        s->batch = 0;
    int bi = s->order[s->batch++];
    if (s->valid && wrapped && s->batch == s->n_batches)
        *wrapped = 1;
    int e0 = s->batch_start[bi], e1 = s->batch_start[bi + 1], n = e1 - e0, S = 0, T = 0;
    for (int i = e0; i < e1; i++) {
        const trn_direction_t *d = &s->dir[s->ex_dir[i]];
        S += line_len(s->c, d->src, s->ex_line[i]) + 2;
        T += line_len(s->c, d->tgt, s->ex_line[i]) + 1;
    }
    int fail = 0;
    if (S > s->cap_s) {
        fail |= mb_grow((void **)&s->src, (size_t)S, sizeof(int));
        s->cap_s = fail ? 0 : S;
    }
    if (T > s->cap_t) {
        fail |= mb_grow((void **)&s->tin, (size_t)T, sizeof(int)) || mb_grow((void **)&s->tout, (size_t)T, sizeof(int));
        s->cap_t = fail ? 0 : T;
    }
    if (n > s->cap_n) {
        fail |= mb_grow((void **)&s->src_off, (size_t)n + 1, sizeof(int)) ||
                mb_grow((void **)&s->tgt_off, (size_t)n + 1, sizeof(int)) || mb_grow((void **)&s->key, (size_t)n, sizeof(int));
        s->cap_n = fail ? 0 : n;
    }
    if (fail)
        return mb_fail(err, "out of memory building a batch");
    s->src_off[0] = s->tgt_off[0] = 0;
    for (int j = 0; j < n; j++) {
        int i = e0 + j, line = s->ex_line[i];
        const trn_direction_t *d = &s->dir[s->ex_dir[i]];
        int ls = line_len(s->c, d->src, line), lt = line_len(s->c, d->tgt, line);
        const int *ws = s->c->ids[d->src] + s->c->off[d->src][line], *wt = s->c->ids[d->tgt] + s->c->off[d->tgt][line];
        int *src = s->src + s->src_off[j], *ti = s->tin + s->tgt_off[j], *to = s->tout + s->tgt_off[j];
        src[0] = d->tag;
        memcpy(src + 1, ws, sizeof(int) * (size_t)ls);
        src[ls + 1] = MODEL_EOS;
        ti[0] = MODEL_BOS;
        memcpy(ti + 1, wt, sizeof(int) * (size_t)lt);
        memcpy(to, wt, sizeof(int) * (size_t)lt);
        to[lt] = MODEL_EOS;
        s->key[j] = d->key;
        s->src_off[j + 1] = s->src_off[j] + ls + 2;
        s->tgt_off[j + 1] = s->tgt_off[j] + lt + 1;
    }
    trn_batch_t out = {n, s->src_off, s->src, s->tgt_off, s->tin, s->tout, s->key};
    *b = out;
    return 0;
}
