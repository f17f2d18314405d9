/* vocab_train: one joint SentencePiece vocabulary over several languages
 * (see vocab.h), with the languages sampled by temperature as in the paper
 * (T = 5 for its 64k vocabulary): p_l = q_l^(1/T) / sum_k q_k^(1/T) with
 * q_l = n_l / N, so small languages are seen more often than their share. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/mb_rng.h"
#include "vocab/spm_shim.h"
#include "vocab/vocab.h"

typedef struct text {
    long n, cap;
    char **line;
} text_t;

static void text_free(text_t *t)
{
    for (long i = 0; i < t->n; i++)
        free(t->line[i]);
    free(t->line);
    memset(t, 0, sizeof *t);
}

/* Appends the non-empty lines of a plain or gzip file; a line that is not
 * UTF-8 is an error naming it, since SentencePiece would silently skip it. */
static int read_file(const char *path, text_t *t, mb_error_t *err)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return mb_fail(err, "%s: cannot open; give readable text files (plain or gzip)", path);
    char *buf = malloc(1 << 20);
    long lineno = 0;
    int rc = buf ? 0 : mb_fail(err, "%s: out of memory", path);
    while (rc == 0 && gzgets(f, buf, 1 << 20)) {
        lineno++;
        size_t len = strcspn(buf, "\r\n");
        if (buf[len] == '\0' && len == (1 << 20) - 1) {
            rc = mb_fail(err, "%s:%ld: the line is longer than 1 MB; is this a text file with one sentence per "
                              "line?", path, lineno);
            break;
        }
        buf[len] = '\0';
        size_t bad;
        if (vocab_utf8_check(buf, len, &bad) != 0) {
            rc = mb_fail(err, "%s:%ld: invalid UTF-8 at byte %zu; convert the file to UTF-8 (iconv -t UTF-8)", path,
                         lineno, bad + 1);
            break;
        }
        if (len == 0)
            continue;
        if (t->n == t->cap) {
            long cap = t->cap ? 2 * t->cap : 4096;
            char **grown = realloc(t->line, sizeof *grown * (size_t)cap);
            if (!grown) {
                rc = mb_fail(err, "%s: out of memory after %ld lines", path, t->n);
                break;
            }
            t->line = grown;
            t->cap = cap;
        }
        if (!(t->line[t->n] = strdup(buf))) {
            rc = mb_fail(err, "%s: out of memory after %ld lines", path, t->n);
            break;
        }
        t->n++;
    }
    int gzerr = 0;
    const char *gzmsg = rc == 0 ? gzerror(f, &gzerr) : NULL;
    if (rc == 0 && gzerr != Z_OK && gzerr != Z_STREAM_END)
        rc = mb_fail(err, "%s: cannot read: %s (a damaged gzip file?)", path, gzmsg);
    gzclose(f);
    free(buf);
    return rc;
}

/* m lines of t, each line at most once when m <= n (a partial Fisher-Yates
 * shuffle), else every line floor(m / n) times plus a sample of the rest. */
static int sample(const text_t *t, long m, mb_rng_t *r, const char **out)
{
    long *idx = malloc(sizeof(long) * (size_t)t->n), k = 0;
    if (!idx)
        return -1;
    for (long i = 0; i < t->n; i++)
        idx[i] = i;
    for (long rep = 0; rep < m / t->n; rep++)
        for (long i = 0; i < t->n; i++)
            out[k++] = t->line[i];
    long rest = m % t->n;
    for (long i = 0; i < rest; i++) {
        long j = i + (long)(mb_rng_u64(r) % (uint64_t)(t->n - i));
        long tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
        out[k++] = t->line[idx[i]];
    }
    free(idx);
    return 0;
}

int vocab_train(const vocab_train_opts_t *o, vocab_t **out, vocab_train_report_t *report, mb_error_t *err)
{
    *out = NULL;
    vocab_train_report_t rep;
    memset(&rep, 0, sizeof rep);
    if (o->n_langs < 1 || o->n_langs > MODEL_MAX_LANGS)
        return mb_fail(err, "vocab train: give 1 to %d languages", MODEL_MAX_LANGS);
    if (strcmp(o->type, "unigram") && strcmp(o->type, "bpe"))
        return mb_fail(err, "vocab train: --type '%s' is not unigram or bpe", o->type);
    int min_size = MODEL_FIRST_TAG + o->n_langs + 256 + 1; /* specials, tags, byte fallback, one piece */
    if (o->size < min_size)
        return mb_fail(err, "vocab train: --size %d leaves no room for pieces: it must be at least %d (4 special "
                            "ids, %d tags, 256 byte pieces)", o->size, min_size, o->n_langs);
    text_t text[MODEL_MAX_LANGS];
    memset(text, 0, sizeof text);
    const char **sent = NULL;
    int rc = 0;
    for (int i = 0; i < o->n_files && rc == 0; i++)
        rc = read_file(o->files[i], &text[o->file_lang[i]], err);
    long total = 0;
    for (int l = 0; l < o->n_langs && rc == 0; l++) {
        if (text[l].n == 0)
            rc = mb_fail(err, "vocab train: no text for language %s; give files whose names end in .%s or .%s.gz",
                         o->langs[l], o->langs[l], o->langs[l]);
        total += text[l].n;
    }
    long want = 0, k = 0;
    if (rc == 0) {
        double z = 0, q[MODEL_MAX_LANGS];
        for (int l = 0; l < o->n_langs; l++)
            z += q[l] = pow((double)text[l].n / (double)total, 1.0 / o->temperature);
        want = o->max_sentences > 0 && o->max_sentences < total ? o->max_sentences : total;
        for (int l = 0; l < o->n_langs; l++) {
            rep.lines[l] = text[l].n;
            rep.prob[l] = q[l] / z;
            rep.sampled[l] = lround(rep.prob[l] * (double)want);
            if (rep.sampled[l] < 1)
                rep.sampled[l] = 1;
            k += rep.sampled[l];
        }
        sent = malloc(sizeof *sent * (size_t)k);
        if (!sent)
            rc = mb_fail(err, "vocab train: out of memory for %ld sentences", k);
    }
    k = 0;
    for (int l = 0; l < o->n_langs && rc == 0; l++) {
        mb_rng_t r; /* one stream per language: adding a language leaves the others' samples alone */
        mb_rng_for(&r, o->seed, o->langs[l]);
        if (sample(&text[l], rep.sampled[l], &r, sent + k) != 0)
            rc = mb_fail(err, "vocab train: out of memory");
        k += rep.sampled[l];
    }
    if (rc == 0) {
        char size[16], tags[MODEL_MAX_LANGS * (MODEL_NAME_LEN + 4)] = "", threads[16], level[4];
        for (int l = 0; l < o->n_langs; l++)
            snprintf(tags + strlen(tags), sizeof tags - strlen(tags), "%s<2%s>", l ? "," : "", o->langs[l]);
        snprintf(size, sizeof size, "%d", o->size);
        snprintf(threads, sizeof threads, "%d", o->threads > 0 ? o->threads : 1);
        snprintf(level, sizeof level, "%d", o->verbose ? 0 : 1);
        /* ids 0-3 are moebench's; the tags, as user-defined pieces, take 4.. in
         * the order given (sorted); byte fallback makes every text encodable, so
         * decode(encode(x)) is x after normalisation; the sample is ours, so
         * SentencePiece neither subsamples nor shuffles it */
        const char *keys[] = {"vocab_size", "model_type", "pad_id", "bos_id", "eos_id", "unk_id",
                              "user_defined_symbols", "byte_fallback", "input_sentence_size",
                              "shuffle_input_sentence", "num_threads", "minloglevel", "character_coverage"};
        const char *values[] = {size, o->type, "0", "1", "2", "3", tags, "true", "0", "false", threads, level,
                                "0.9995"};
        void *blob = NULL;
        size_t len = 0;
        char msg[400];
        if (spm_train(keys, values, (int)(sizeof keys / sizeof keys[0]), sent, (size_t)k, (unsigned)o->seed, &blob,
                      &len, msg, sizeof msg) != 0)
            rc = mb_fail(err, "vocab train: %.400s%s", msg,
                         strstr(msg, "too high") ? "; lower --size or give more text" : "");
        else
            rc = vocab_from_blob(blob, len, out, err);
        free(blob);
    }
    free(sent);
    for (int l = 0; l < MODEL_MAX_LANGS; l++)
        text_free(&text[l]);
    if (report)
        *report = rep;
    return rc;
}
