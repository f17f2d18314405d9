/* bleu: sacreBLEU-compatible BLEU and chrF statistics, scores, signatures
 * (see bleu.h). N-grams are counted in an open-addressing hash table whose
 * keys point into the line's own text, so a line costs O(tokens * order). */
#include "quality/bleu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- units: the tokens (BLEU, chrF words) or characters (chrF) of a text ---- */

typedef struct units {
    const uint32_t *cp;     /* the text the spans point into */
    size_t *off, *len;      /* span of each unit in cp */
    uint64_t *hash;         /* hash of each unit's code points */
    size_t n, cap;
} units_t;

static void units_free(units_t *u)
{
    free(u->off);
    free(u->len);
    free(u->hash);
    memset(u, 0, sizeof *u);
}

static uint64_t mix64(uint64_t x) /* splitmix64's finaliser: spreads all bits */
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int units_push(units_t *u, size_t off, size_t len, mb_error_t *err)
{
    if (u->n == u->cap) {
        size_t cap = u->cap ? 2 * u->cap : 64;
        size_t *o = realloc(u->off, cap * sizeof *o);
        if (o)
            u->off = o;
        size_t *l = o ? realloc(u->len, cap * sizeof *l) : NULL;
        if (l)
            u->len = l;
        uint64_t *h = l ? realloc(u->hash, cap * sizeof *h) : NULL;
        if (!h)
            return mb_fail(err, "out of memory for n-gram units");
        u->hash = h;
        u->cap = cap;
    }
    uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a over code points */
    for (size_t i = 0; i < len; i++)
        h = (h ^ u->cp[off + i]) * 0x100000001B3ull;
    u->off[u->n] = off;
    u->len[u->n] = len;
    u->hash[u->n] = mix64(h);
    u->n++;
    return 0;
}

/* Python's str.split(): maximal runs of non-white-space. */
static int units_words(units_t *u, const bleu_text_t *t, mb_error_t *err)
{
    u->cp = t->cp;
    u->n = 0;
    for (size_t i = 0; i < t->n;) {
        while (i < t->n && bleu_is_space(t->cp[i]))
            i++;
        size_t s = i;
        while (i < t->n && !bleu_is_space(t->cp[i]))
            i++;
        if (i > s && units_push(u, s, i - s, err))
            return -1;
    }
    return 0;
}

/* chrF's characters: every code point, or (sacreBLEU's default) every code
 * point but white space, as ''.join(line.split()) leaves them. */
static int units_chars(units_t *u, const bleu_text_t *t, int keep_space, mb_error_t *err)
{
    u->cp = t->cp;
    u->n = 0;
    for (size_t i = 0; i < t->n; i++)
        if ((keep_space || !bleu_is_space(t->cp[i])) && units_push(u, i, 1, err))
            return -1;
    return 0;
}

static int is_ascii_punct(uint32_t c) /* Python's string.punctuation */
{
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
}

/* chrF++'s words: white-space words with one punctuation mark split off the
 * end or else the start (sacreBLEU's _remove_punctuation; "(hi)" gives "(hi" ")"). */
static int units_chrf_words(units_t *u, const bleu_text_t *t, mb_error_t *err)
{
    units_t w = {0};
    int rc = units_words(&w, t, err);
    u->cp = t->cp;
    u->n = 0;
    for (size_t k = 0; !rc && k < w.n; k++) {
        size_t o = w.off[k], l = w.len[k];
        if (l > 1 && is_ascii_punct(t->cp[o + l - 1]))
            rc = units_push(u, o, l - 1, err) || units_push(u, o + l - 1, 1, err);
        else if (l > 1 && is_ascii_punct(t->cp[o]))
            rc = units_push(u, o, 1, err) || units_push(u, o + 1, l - 1, err);
        else
            rc = units_push(u, o, l, err);
    }
    units_free(&w);
    return rc ? -1 : 0;
}

static int units_equal(const units_t *a, size_t i, const units_t *b, size_t j, int n)
{
    for (int k = 0; k < n; k++) {
        size_t la = a->len[i + k];
        if (la != b->len[j + k] || a->hash[i + k] != b->hash[j + k] ||
            memcmp(a->cp + a->off[i + k], b->cp + b->off[j + k], la * sizeof(uint32_t)))
            return 0;
    }
    return 1;
}

/* ---- n-gram table ---- */

typedef struct ngram {
    uint64_t hash;
    const units_t *u;       /* the key: units u->[start, start + n) */
    size_t start;
    uint32_t gen;           /* slot is in use when gen == table's gen */
    int n, kind;            /* kind separates chrF character and word n-grams */
    int last_ref, cur;      /* count in the reference being read */
    int max_ref;            /* BLEU: max count over references */
    int hyp;                /* occurrences in the hypothesis so far */
} ngram_t;

typedef struct ngtab {
    ngram_t *e;
    size_t cap;
    uint32_t gen;
} ngtab_t;

/* Empties the table for up to `need` n-grams. Bumping the generation empties
 * it without touching memory; it is reallocated only when too small. */
static int ngtab_begin(ngtab_t *t, size_t need, mb_error_t *err)
{
    if (need > SIZE_MAX / 4 / sizeof(ngram_t))
        return mb_fail(err, "line too long for the n-gram table");
    size_t cap = 256;
    while (cap < 2 * need)
        cap *= 2;
    if (cap > t->cap) {
        free(t->e);
        t->e = calloc(cap, sizeof *t->e);
        if (!t->e) {
            t->cap = 0;
            return mb_fail(err, "out of memory for %zu n-grams", need);
        }
        t->cap = cap;
        t->gen = 0;
    }
    if (++t->gen == 0) { /* wrapped: stale slots could look live */
        memset(t->e, 0, t->cap * sizeof *t->e);
        t->gen = 1;
    }
    return 0;
}

static ngram_t *ngtab_get(ngtab_t *t, const units_t *u, size_t start, int n, int kind, uint64_t h)
{
    size_t mask = t->cap - 1, i = h & mask;
    for (;; i = (i + 1) & mask) {
        ngram_t *e = &t->e[i];
        if (e->gen != t->gen) {
            *e = (ngram_t){.hash = h, .u = u, .start = start, .gen = t->gen, .n = n, .kind = kind,
                           .last_ref = -1};
            return e;
        }
        if (e->hash == h && e->n == n && e->kind == kind && units_equal(e->u, e->start, u, start, n))
            return e;
    }
}

static uint64_t ngram_seed(int kind) { return kind ? 0x9E3779B97F4A7C15ull : 0x2545F4914F6CDD1Dull; }
static uint64_t ngram_extend(uint64_t h, uint64_t unit) { return mix64(h + unit); }

/* n-grams of orders 1..max_n in u (max(0, len - n + 1) of each). */
static size_t ngram_count(size_t len, int max_n)
{
    size_t c = 0;
    for (int n = 1; n <= max_n && (size_t)n <= len; n++)
        c += len - (size_t)n + 1;
    return c;
}

/* ---- shared helpers ---- */

static int check_inputs(const char *const *hyps, const char *const *const *refs, int n_refs,
                        int n_lines, mb_error_t *err)
{
    if (n_lines <= 0)
        return mb_fail(err, "no lines to score");
    if (n_refs <= 0 || !refs)
        return mb_fail(err, "no references given");
    if (!hyps)
        return mb_fail(err, "no hypotheses given");
    for (int r = 0; r < n_refs; r++)
        if (!refs[r])
            return mb_fail(err, "reference stream %d is missing", r + 1);
    return 0;
}

/* sacreBLEU's nrefs: the references per line when all lines have the same
 * number, else -1 ("var"). A line without any reference is an error. */
static int count_refs(const char *const *const *refs, int n_refs, int n_lines, int *nrefs,
                      mb_error_t *err)
{
    int common = -2;
    for (int i = 0; i < n_lines; i++) {
        int c = 0;
        for (int r = 0; r < n_refs; r++)
            c += refs[r][i] != NULL;
        if (!c)
            return mb_fail(err, "line %d has no reference", i + 1);
        common = common == -2 || common == c ? c : -1;
    }
    *nrefs = common;
    return 0;
}

static void nrefs_text(int nrefs, char *buf, size_t len)
{
    if (nrefs < 0)
        snprintf(buf, len, "var");
    else
        snprintf(buf, len, "%d", nrefs);
}

static void swap_text(bleu_text_t *a, bleu_text_t *b)
{
    bleu_text_t t = *a;
    *a = *b;
    *b = t;
}

/* ---- BLEU ---- */

void bleu_opts_init(bleu_opts_t *o)
{
    *o = (bleu_opts_t){.tokenize = BLEU_TOK_13A, .smooth = BLEU_SMOOTH_EXP, .smooth_value = -1,
                       .max_order = 4};
}

int bleu_smooth_parse(const char *text, bleu_opts_t *o, mb_error_t *err)
{
    static const struct { const char *name; bleu_smooth_t m; } names[] = {
        {"exp", BLEU_SMOOTH_EXP}, {"floor", BLEU_SMOOTH_FLOOR},
        {"add-k", BLEU_SMOOTH_ADD_K}, {"none", BLEU_SMOOTH_NONE}};
    const char *colon = strchr(text, ':');
    size_t len = colon ? (size_t)(colon - text) : strlen(text);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) != len || strncmp(text, names[i].name, len))
            continue;
        double v = -1;
        if (colon) {
            char *end;
            if (names[i].m == BLEU_SMOOTH_EXP || names[i].m == BLEU_SMOOTH_NONE)
                return mb_fail(err, "smoothing '%s' takes no value", names[i].name);
            v = strtod(colon + 1, &end);
            if (end == colon + 1 || *end || !isfinite(v) || v < 0)
                return mb_fail(err, "smoothing value '%s' is not a number >= 0", colon + 1);
        }
        o->smooth = names[i].m;
        o->smooth_value = v;
        return 0;
    }
    return mb_fail(err, "unknown smoothing '%s'; use exp, floor[:V], add-k[:V] or none", text);
}

static int check_bleu_opts(const bleu_opts_t *o, mb_error_t *err)
{
    if (o->max_order < 1 || o->max_order > BLEU_MAX_ORDER)
        return mb_fail(err, "BLEU max order %d is not in [1, %d]", o->max_order, BLEU_MAX_ORDER);
    if (o->smooth < BLEU_SMOOTH_EXP || o->smooth > BLEU_SMOOTH_NONE)
        return mb_fail(err, "unknown smoothing method %d", (int)o->smooth);
    return 0;
}

/* The working state of one corpus: a tokenized text and its units per
 * reference stream and for the hypothesis (index n_refs). */
typedef struct bleu_ctx {
    int n_refs;
    bleu_text_t *text, scratch;
    units_t *units;
    ngtab_t tab;
} bleu_ctx_t;

static void ctx_free(bleu_ctx_t *c)
{
    for (int r = 0; c->text && r <= c->n_refs; r++) {
        bleu_text_free(&c->text[r]);
        units_free(&c->units[r]);
    }
    free(c->text);
    free(c->units);
    bleu_text_free(&c->scratch);
    free(c->tab.e);
}

static int ctx_init(bleu_ctx_t *c, int n_refs, mb_error_t *err)
{
    memset(c, 0, sizeof *c);
    c->n_refs = n_refs;
    c->text = calloc((size_t)n_refs + 1, sizeof *c->text);
    c->units = calloc((size_t)n_refs + 1, sizeof *c->units);
    if (!c->text || !c->units) {
        ctx_free(c);
        return mb_fail(err, "out of memory");
    }
    return 0;
}

/* sacreBLEU's closest reference length: smallest |hyp - ref|, ties to the shorter. */
static int64_t closest_ref_len(int64_t hyp_len, const int64_t *lens, int n)
{
    int64_t best_diff = -1, best = -1;
    for (int i = 0; i < n; i++) {
        int64_t d = hyp_len > lens[i] ? hyp_len - lens[i] : lens[i] - hyp_len;
        if (best_diff < 0 || d < best_diff) {
            best_diff = d;
            best = lens[i];
        } else if (d == best_diff && lens[i] < best) {
            best = lens[i];
        }
    }
    return best;
}

static int bleu_line(bleu_ctx_t *c, int line, const char *hyp, const char *const *const *refs,
                     const bleu_opts_t *o, bleu_stats_t *st, mb_error_t *err)
{
    int N = o->max_order, nr = 0;
    int64_t lens[64]; /* reference lengths; heap only for many references */
    int64_t *ref_lens = c->n_refs <= 64 ? lens : malloc((size_t)c->n_refs * sizeof *ref_lens);
    if (!ref_lens)
        return mb_fail(err, "out of memory");
    size_t need = 0;
    int rc = 0;
    /* Tokenize every reference and the hypothesis first: the table's keys point into them. */
    for (int r = 0; r <= c->n_refs && !rc; r++) {
        const char *s = r < c->n_refs ? refs[r][line] : hyp;
        if (!s)
            continue;
        if (bleu_tok_segment(s, strlen(s), o->tokenize, o->lowercase, &c->text[r], &c->scratch, err) ||
            units_words(&c->units[r], &c->text[r], err)) {
            rc = r < c->n_refs ? mb_prefix(err, "reference %d, line %d: ", r + 1, line + 1)
                               : mb_prefix(err, "hypothesis line %d: ", line + 1);
            break;
        }
        need += ngram_count(c->units[r].n, N);
        if (r < c->n_refs)
            ref_lens[nr++] = (int64_t)c->units[r].n;
    }
    if (!rc)
        rc = ngtab_begin(&c->tab, need, err);
    for (int r = 0; r < c->n_refs && !rc; r++) {
        if (!refs[r][line])
            continue;
        const units_t *u = &c->units[r];
        for (size_t i = 0; i < u->n; i++) {
            uint64_t h = ngram_seed(0);
            for (int n = 1; n <= N && i + (size_t)n <= u->n; n++) {
                h = ngram_extend(h, u->hash[i + (size_t)n - 1]);
                ngram_t *e = ngtab_get(&c->tab, u, i, n, 0, h);
                if (e->last_ref != r) {
                    e->last_ref = r;
                    e->cur = 0;
                }
                if (++e->cur > e->max_ref)
                    e->max_ref = e->cur;
            }
        }
    }
    if (!rc) {
        /* A hypothesis n-gram matches while its count stays within the
         * references' maximum: that is min(count, max_ref) in total. */
        const units_t *u = &c->units[c->n_refs];
        memset(st, 0, sizeof *st);
        for (size_t i = 0; i < u->n; i++) {
            uint64_t h = ngram_seed(0);
            for (int n = 1; n <= N && i + (size_t)n <= u->n; n++) {
                h = ngram_extend(h, u->hash[i + (size_t)n - 1]);
                ngram_t *e = ngtab_get(&c->tab, u, i, n, 0, h);
                st->total[n - 1]++;
                if (++e->hyp <= e->max_ref)
                    st->correct[n - 1]++;
            }
        }
        st->hyp_len = (int64_t)u->n;
        st->ref_len = closest_ref_len(st->hyp_len, ref_lens, nr);
    }
    if (ref_lens != lens)
        free(ref_lens);
    return rc;
}

int bleu_corpus_stats(const char *const *hyps, const char *const *const *refs, int n_refs,
                      int n_lines, const bleu_opts_t *opts, bleu_stats_t *per_line,
                      bleu_stats_t *sum, int *nrefs, mb_error_t *err)
{
    if (check_bleu_opts(opts, err) || check_inputs(hyps, refs, n_refs, n_lines, err) ||
        count_refs(refs, n_refs, n_lines, nrefs, err))
        return -1;
    bleu_ctx_t c;
    if (ctx_init(&c, n_refs, err))
        return -1;
    memset(sum, 0, sizeof *sum);
    int rc = 0;
    for (int i = 0; i < n_lines && !rc; i++) {
        bleu_stats_t st = {0};
        if (!hyps[i]) {
            rc = mb_fail(err, "hypothesis line %d is missing", i + 1);
            break;
        }
        rc = bleu_line(&c, i, hyps[i], refs, opts, &st, err);
        if (rc)
            break;
        if (per_line)
            per_line[i] = st;
        sum->hyp_len += st.hyp_len;
        sum->ref_len += st.ref_len;
        for (int n = 0; n < opts->max_order; n++) {
            sum->correct[n] += st.correct[n];
            sum->total[n] += st.total[n];
        }
    }
    ctx_free(&c);
    return rc;
}

/* sacreBLEU's my_log: log(0) is a very negative number, not -inf. */
static double floor_log(double x) { return x == 0.0 ? -9999999999.0 : log(x); }

int bleu_score_stats(const bleu_stats_t *st, int nrefs, const bleu_opts_t *o, bleu_result_t *out,
                     mb_error_t *err)
{
    if (check_bleu_opts(o, err))
        return -1;
    int N = o->max_order;
    memset(out, 0, sizeof *out);
    out->stats = *st;
    out->max_order = N;
    out->nrefs = nrefs;
    double sv = o->smooth_value;
    if (sv < 0)
        sv = o->smooth == BLEU_SMOOTH_FLOOR ? 0.1 : 1.0;

    char nr[16], smooth[32];
    nrefs_text(nrefs, nr, sizeof nr);
    switch (o->smooth) {
    case BLEU_SMOOTH_FLOOR: snprintf(smooth, sizeof smooth, "floor[%.2f]", sv); break;
    case BLEU_SMOOTH_ADD_K: snprintf(smooth, sizeof smooth, "add-k[%.2f]", sv); break;
    case BLEU_SMOOTH_NONE: snprintf(smooth, sizeof smooth, "none"); break;
    default: snprintf(smooth, sizeof smooth, "exp"); break;
    }
    snprintf(out->signature, sizeof out->signature,
             "nrefs:%s|case:%s|eff:%s|tok:%s|smooth:%s|version:%s", nr,
             o->lowercase ? "lc" : "mixed", o->effective_order ? "yes" : "no",
             bleu_tok_name(o->tokenize), smooth, BLEU_SACREBLEU_VERSION);

    double sys_len = (double)st->hyp_len, ref_len = (double)st->ref_len;
    out->ratio = st->ref_len ? sys_len / ref_len : 0.0;
    out->bp = 1.0;
    if (st->hyp_len < st->ref_len)
        out->bp = st->hyp_len > 0 ? exp(1.0 - ref_len / sys_len) : 0.0;

    int any = 0;
    for (int n = 0; n < N; n++)
        any |= st->correct[n] != 0;
    if (!any)
        return 0; /* score 0, precisions 0 (sacreBLEU's early stop) */

    /* The order of operations follows sacreBLEU so that results agree to the last bits. */
    double smooth_mteval = 1.0;
    int eff_order = N;
    for (int n = 1; n <= N; n++) {
        double correct = (double)st->correct[n - 1], total = (double)st->total[n - 1];
        if (o->smooth == BLEU_SMOOTH_ADD_K && n > 1) {
            correct += sv;
            total += sv;
        }
        if (total == 0)
            break;
        if (o->effective_order)
            eff_order = n;
        if (correct == 0) {
            if (o->smooth == BLEU_SMOOTH_EXP) {
                smooth_mteval *= 2;
                out->precisions[n - 1] = 100.0 / (smooth_mteval * total);
            } else if (o->smooth == BLEU_SMOOTH_FLOOR) {
                out->precisions[n - 1] = 100.0 * sv / total;
            }
        } else {
            out->precisions[n - 1] = 100.0 * correct / total;
        }
    }
    double sum = 0.0;
    for (int n = 0; n < eff_order; n++)
        sum += floor_log(out->precisions[n]);
    out->score = out->bp * exp(sum / eff_order);
    return 0;
}

int bleu_corpus(const char *const *hyps, const char *const *const *refs, int n_refs, int n_lines,
                const bleu_opts_t *opts, bleu_result_t *out, mb_error_t *err)
{
    bleu_stats_t sum;
    int nrefs = 0;
    if (bleu_corpus_stats(hyps, refs, n_refs, n_lines, opts, NULL, &sum, &nrefs, err))
        return -1;
    return bleu_score_stats(&sum, nrefs, opts, out, err);
}

/* One line's references as n_refs one-line streams. */
static const char *const **sentence_streams(const char *const *refs, int n_refs, mb_error_t *err)
{
    if (n_refs <= 0 || !refs) {
        mb_fail(err, "no references given");
        return NULL;
    }
    const char *const **s = malloc((size_t)n_refs * sizeof *s);
    if (!s) {
        mb_fail(err, "out of memory");
        return NULL;
    }
    for (int r = 0; r < n_refs; r++)
        s[r] = &refs[r];
    return s;
}

int bleu_sentence(const char *hyp, const char *const *refs, int n_refs, const bleu_opts_t *opts,
                  bleu_result_t *out, mb_error_t *err)
{
    const char *const **s = sentence_streams(refs, n_refs, err);
    if (!s)
        return -1;
    int rc = bleu_corpus(&hyp, s, n_refs, 1, opts, out, err);
    free(s);
    return rc;
}

int bleu_format(const bleu_result_t *r, int width, int with_signature, char *buf, size_t len)
{
    char prec[BLEU_MAX_ORDER * 8 + 1] = "";
    size_t k = 0;
    for (int n = 0; n < r->max_order; n++)
        k += (size_t)snprintf(prec + k, sizeof prec - k, "%s%.1f", n ? "/" : "", r->precisions[n]);
    return snprintf(buf, len,
                    "BLEU%s%s = %.*f %s (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)",
                    with_signature ? "|" : "", with_signature ? r->signature : "", width, r->score,
                    prec, r->bp, r->ratio, (long long)r->stats.hyp_len, (long long)r->stats.ref_len);
}

/* ---- chrF ---- */

void bleu_chrf_opts_init(bleu_chrf_opts_t *o)
{
    *o = (bleu_chrf_opts_t){.char_order = 6, .word_order = 0, .beta = 2};
}

static int check_chrf_opts(const bleu_chrf_opts_t *o, mb_error_t *err)
{
    if (o->char_order < 0 || o->word_order < 0 || o->char_order + o->word_order < 1 ||
        o->char_order + o->word_order > BLEU_MAX_ORDER)
        return mb_fail(err, "chrF orders (character %d, word %d) must add up to 1..%d",
                       o->char_order, o->word_order, BLEU_MAX_ORDER);
    if (o->beta < 0 || o->beta > 1000)
        return mb_fail(err, "chrF beta %d is not in [0, 1000]", o->beta);
    return 0;
}

/* sacreBLEU's _compute_f_score over the orders of one line or the corpus. */
static double chrf_f(const bleu_chrf_stats_t *s, const bleu_chrf_opts_t *o)
{
    const double eps = 1e-16, factor = (double)o->beta * o->beta;
    int order = o->char_order + o->word_order, eff = 0;
    double score = 0.0, avg_prec = 0.0, avg_rec = 0.0;
    for (int i = 0; i < order; i++) {
        double prec = s->hyp[i] > 0 ? (double)s->match[i] / (double)s->hyp[i] : eps;
        double rec = s->ref[i] > 0 ? (double)s->match[i] / (double)s->ref[i] : eps;
        double denom = factor * prec + rec;
        score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
        if (s->hyp[i] > 0 && s->ref[i] > 0) {
            avg_prec += prec;
            avg_rec += rec;
            eff++;
        }
    }
    if (o->eps_smoothing)
        return 100 * score / order;
    if (eff == 0) {
        avg_prec = avg_rec = 0.0;
    } else {
        avg_prec /= eff;
        avg_rec /= eff;
    }
    if (avg_prec + avg_rec == 0)
        return 0.0;
    score = (1 + factor) * avg_prec * avg_rec;
    score /= factor * avg_prec + avg_rec;
    return 100 * score;
}

/* A line's text for chrF: code points, optionally lower-cased (no tokenizer). */
static int chrf_text(const char *s, int lowercase, bleu_text_t *t, bleu_text_t *scratch,
                     mb_error_t *err)
{
    if (bleu_utf8_decode(s, strlen(s), t, err))
        return -1;
    if (lowercase) {
        if (bleu_lower(t, scratch, err))
            return -1;
        swap_text(t, scratch);
    }
    return 0;
}

/* Counts the reference's n-grams of one kind, then matches the hypothesis's. */
static void chrf_match(ngtab_t *tab, const units_t *ref, const units_t *hyp, int kind, int max_n,
                       int64_t *hyp_n, int64_t *ref_n, int64_t *match)
{
    for (size_t i = 0; i < ref->n; i++) {
        uint64_t h = ngram_seed(kind);
        for (int n = 1; n <= max_n && i + (size_t)n <= ref->n; n++) {
            h = ngram_extend(h, ref->hash[i + (size_t)n - 1]);
            ngtab_get(tab, ref, i, n, kind, h)->cur++;
        }
    }
    for (size_t i = 0; i < hyp->n; i++) {
        uint64_t h = ngram_seed(kind);
        for (int n = 1; n <= max_n && i + (size_t)n <= hyp->n; n++) {
            h = ngram_extend(h, hyp->hash[i + (size_t)n - 1]);
            ngram_t *e = ngtab_get(tab, hyp, i, n, kind, h);
            if (++e->hyp <= e->cur)
                match[n - 1]++;
        }
    }
    for (int n = 1; n <= max_n; n++) {
        int64_t hn = hyp->n >= (size_t)n ? (int64_t)(hyp->n - (size_t)n + 1) : 0;
        int64_t rn = ref->n >= (size_t)n ? (int64_t)(ref->n - (size_t)n + 1) : 0;
        hyp_n[n - 1] = rn ? hn : 0; /* sacreBLEU counts no hypothesis n-grams an empty order cannot match */
        ref_n[n - 1] = rn;
    }
}

typedef struct chrf_seg {
    bleu_text_t text;
    units_t chars, words;
} chrf_seg_t;

static void chrf_seg_free(chrf_seg_t *s)
{
    bleu_text_free(&s->text);
    units_free(&s->chars);
    units_free(&s->words);
}

static int chrf_seg_load(chrf_seg_t *s, const char *line, const bleu_chrf_opts_t *o,
                         bleu_text_t *scratch, mb_error_t *err)
{
    if (chrf_text(line, o->lowercase, &s->text, scratch, err) ||
        units_chars(&s->chars, &s->text, o->whitespace, err))
        return -1;
    s->words.n = 0;
    return o->word_order > 0 ? units_chrf_words(&s->words, &s->text, err) : 0;
}

int bleu_chrf_corpus_stats(const char *const *hyps, const char *const *const *refs, int n_refs,
                           int n_lines, const bleu_chrf_opts_t *opts, bleu_chrf_stats_t *per_line,
                           bleu_chrf_stats_t *sum, int *nrefs, mb_error_t *err)
{
    if (check_chrf_opts(opts, err) || check_inputs(hyps, refs, n_refs, n_lines, err) ||
        count_refs(refs, n_refs, n_lines, nrefs, err))
        return -1;
    int C = opts->char_order, W = opts->word_order, order = C + W, rc = 0;
    chrf_seg_t hyp = {0}, ref = {0};
    bleu_text_t scratch = {0};
    ngtab_t tab = {0};
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < n_lines && !rc; i++) {
        if (!hyps[i]) {
            rc = mb_fail(err, "hypothesis line %d is missing", i + 1);
            break;
        }
        if (chrf_seg_load(&hyp, hyps[i], opts, &scratch, err)) {
            rc = mb_prefix(err, "hypothesis line %d: ", i + 1);
            break;
        }
        bleu_chrf_stats_t best = {0};
        double best_f = -1.0;
        for (int r = 0; r < n_refs && !rc; r++) {
            if (!refs[r][i])
                continue;
            if (chrf_seg_load(&ref, refs[r][i], opts, &scratch, err)) {
                rc = mb_prefix(err, "reference %d, line %d: ", r + 1, i + 1);
                break;
            }
            size_t need = ngram_count(ref.chars.n, C) + ngram_count(hyp.chars.n, C) +
                          ngram_count(ref.words.n, W) + ngram_count(hyp.words.n, W);
            if ((rc = ngtab_begin(&tab, need, err)))
                break;
            bleu_chrf_stats_t st = {0};
            chrf_match(&tab, &ref.chars, &hyp.chars, 0, C, st.hyp, st.ref, st.match);
            if (W)
                chrf_match(&tab, &ref.words, &hyp.words, 1, W, st.hyp + C, st.ref + C, st.match + C);
            double f = chrf_f(&st, opts);
            if (f > best_f) { /* the first of equally good references wins */
                best_f = f;
                best = st;
            }
        }
        if (rc)
            break;
        if (per_line)
            per_line[i] = best;
        for (int n = 0; n < order; n++) {
            sum->hyp[n] += best.hyp[n];
            sum->ref[n] += best.ref[n];
            sum->match[n] += best.match[n];
        }
    }
    chrf_seg_free(&hyp);
    chrf_seg_free(&ref);
    bleu_text_free(&scratch);
    free(tab.e);
    return rc;
}

int bleu_chrf_score_stats(const bleu_chrf_stats_t *st, int nrefs, const bleu_chrf_opts_t *o,
                          bleu_chrf_result_t *out, mb_error_t *err)
{
    if (check_chrf_opts(o, err))
        return -1;
    memset(out, 0, sizeof *out);
    out->stats = *st;
    out->nrefs = nrefs;
    out->score = chrf_f(st, o);
    int k = snprintf(out->name, sizeof out->name, "chrF%d", o->beta);
    for (int i = 0; i < o->word_order && k < (int)sizeof out->name - 1; i++)
        out->name[k++] = '+';
    out->name[k] = '\0';
    char nr[16];
    nrefs_text(nrefs, nr, sizeof nr);
    snprintf(out->signature, sizeof out->signature,
             "nrefs:%s|case:%s|eff:%s|nc:%d|nw:%d|space:%s|version:%s", nr,
             o->lowercase ? "lc" : "mixed", o->eps_smoothing ? "no" : "yes", o->char_order,
             o->word_order, o->whitespace ? "yes" : "no", BLEU_SACREBLEU_VERSION);
    return 0;
}

int bleu_chrf_corpus(const char *const *hyps, const char *const *const *refs, int n_refs,
                     int n_lines, const bleu_chrf_opts_t *opts, bleu_chrf_result_t *out,
                     mb_error_t *err)
{
    bleu_chrf_stats_t sum;
    int nrefs = 0;
    if (bleu_chrf_corpus_stats(hyps, refs, n_refs, n_lines, opts, NULL, &sum, &nrefs, err))
        return -1;
    return bleu_chrf_score_stats(&sum, nrefs, opts, out, err);
}

int bleu_chrf_sentence(const char *hyp, const char *const *refs, int n_refs,
                       const bleu_chrf_opts_t *opts, bleu_chrf_result_t *out, mb_error_t *err)
{
    const char *const **s = sentence_streams(refs, n_refs, err);
    if (!s)
        return -1;
    int rc = bleu_chrf_corpus(&hyp, s, n_refs, 1, opts, out, err);
    free(s);
    return rc;
}

int bleu_chrf_format(const bleu_chrf_result_t *r, int width, int with_signature, char *buf,
                     size_t len)
{
    return snprintf(buf, len, "%s%s%s = %.*f", r->name, with_signature ? "|" : "",
                    with_signature ? r->signature : "", width, r->score);
}
