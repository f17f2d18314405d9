/* train_bleu: greedy validation BLEU (see train_bleu.h). */
#include "train/train_bleu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality/bleu.h"
#include "models/decode.h"

#if defined(__has_include)
#if __has_include("vocab/vocab.h")
#include "vocab/vocab.h"
#define TBLEU_HAVE_VOCAB 1
#endif
#endif

#define BATCH 32

/* ids -> "12 7 431" (or text through the vocabulary); malloc'd. */
static char *render(const int *ids, int n, const void *vocab, mb_error_t *err)
{
#ifdef TBLEU_HAVE_VOCAB
    if (vocab) {
        char *text = NULL;
        if (vocab_decode((const vocab_t *)vocab, ids, n, &text, err) != 0)
            return NULL;
        return text;
    }
#else
    (void)vocab;
#endif
    char *s = malloc((size_t)n * 12 + 1), *p = s;
    if (!s) {
        mb_fail(err, "out of memory rendering a translation");
        return NULL;
    }
    *p = 0;
    for (int i = 0; i < n; i++)
        p += sprintf(p, i ? " %d" : "%d", ids[i]);
    return s;
}

int train_bleu(model_t *m, be_t *be, const trn_sampler_t *v, int lines, const char *vocab_file, double *avg,
               double *per, mb_error_t *err)
{
    const trn_corpus_t *c = v->c;
    void *vocab = NULL;
#ifdef TBLEU_HAVE_VOCAB
    if (vocab_file) {
        vocab_t *vv;
        if (vocab_load(vocab_file, &vv, err) != 0)
            return -1;
        vocab = vv;
    }
#else
    (void)vocab_file;
#endif
    if (lines <= 0 || lines > c->n_lines)
        lines = c->n_lines;
    decode_opts_t o;
    decode_opts_default(&o);
    o.scores = 0;
    o.max_len = 128;
    decode_ctx_t *ctx = NULL;
    char **hyps = calloc((size_t)lines, sizeof *hyps), **refs = calloc((size_t)lines, sizeof *refs);
    decode_request_t *req = calloc(BATCH, sizeof *req);
    decode_result_t *res = calloc(BATCH, sizeof *res);
    int rc = -1, prepared = 0;
    if (!hyps || !refs || !req || !res) {
        mb_fail(err, "out of memory for validation BLEU");
        goto out;
    }
    /* weights changed since any earlier preparation: the backend copies them again */
    if (model_prepare(m, be, err) != 0)
        goto out;
    prepared = 1;
    if (decode_ctx_create(m, be, &o, &ctx, err) != 0)
        goto out;
    double sum = 0;
    for (int d = 0; d < v->n_dir; d++) {
        const trn_direction_t *dir = &v->dir[d];
        int n = 0;
        for (int i = 0; i < lines;) {
            int k = 0;
            for (; i < lines && k < BATCH; i++) {
                int ls = c->off[dir->src][i + 1] - c->off[dir->src][i], lt = c->off[dir->tgt][i + 1] - c->off[dir->tgt][i];
                if (ls == 0 || lt == 0)
                    continue;
                req[k].task = d; /* the sampler's directions are the model's tasks, in order */
                req[k].src = c->ids[dir->src] + c->off[dir->src][i];
                req[k].src_len = ls;
                req[k].out_len = 0;
                if (!(refs[n + k] = render(c->ids[dir->tgt] + c->off[dir->tgt][i], lt, vocab, err)))
                    goto out;
                k++;
            }
            if (k == 0)
                continue;
            if (decode_batch(ctx, req, k, res, err) != 0)
                goto out;
            for (int j = 0; j < k; j++)
                if (!(hyps[n + j] = render(res[j].ids, res[j].len, vocab, err)))
                    goto out;
            n += k;
        }
        bleu_opts_t bo;
        bleu_opts_init(&bo);
        bo.tokenize = vocab ? BLEU_TOK_13A : BLEU_TOK_NONE;
        bleu_result_t br;
        const char *const *rs = (const char *const *)refs;
        if (bleu_corpus((const char *const *)hyps, &rs, 1, n, &bo, &br, err) != 0)
            goto out;
        if (per)
            per[d] = br.score;
        sum += br.score;
        for (int j = 0; j < n; j++) {
            free(hyps[j]);
            free(refs[j]);
            hyps[j] = refs[j] = NULL;
        }
    }
    *avg = sum / (v->n_dir ? v->n_dir : 1);
    rc = 0;
out:
    for (int j = 0; hyps && refs && j < lines; j++) {
        free(hyps[j]);
        free(refs[j]);
    }
    free(hyps);
    free(refs);
    free(req);
    free(res);
    decode_ctx_free(ctx);
    if (prepared)
        model_release(m, be);
#ifdef TBLEU_HAVE_VOCAB
    if (vocab)
        vocab_free((vocab_t *)vocab);
#endif
    return rc;
}
