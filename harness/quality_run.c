/* quality_run: BLEU and chrF of `moebench run` (see quality_run.h). */
#include "harness/quality_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quality/bleu.h"
#include "vocab/vocab.h"

typedef struct qr_task {
    int n;
    int **src, *src_len, *out_len; /* [n] */
} qr_task_t;

struct qr {
    vocab_t *v;
    int n_tasks;
    qr_task_t task[64];
    int cur;                  /* task being collected */
    int max_out, max_n;
    int *hyp;                 /* [max_n, max_out] output ids */
    int *hyp_len;             /* [max_n] */
    int overflow;             /* an output was longer than max_out: never score a cut hypothesis */
};

void qr_free(qr_t *q)
{
    if (!q)
        return;
    for (int t = 0; t < q->n_tasks; t++) {
        for (int i = 0; i < q->task[t].n; i++)
            free(q->task[t].src[i]);
        free(q->task[t].src);
        free(q->task[t].src_len);
        free(q->task[t].out_len);
    }
    free(q->hyp);
    free(q->hyp_len);
    vocab_free(q->v);
    free(q);
}

int qr_open(const model_t *m, const char *where, const wl_t *wl, scn_outlen_t outlen, qr_t **out, mb_error_t *err)
{
    *out = NULL;
    if (!m->vocab_blob || wl->n_tasks == 0 || !wl->task[0].src_text)
        return 0;
    qr_t *q = calloc(1, sizeof *q);
    if (!q)
        return mb_fail(err, "out of memory");
    if (vocab_for_config(m->vocab_blob, m->vocab_len, &m->cfg, where, &q->v, err)) {
        free(q);
        return -1;
    }
    int rc = 0;
    for (int t = 0; t < wl->n_tasks && rc == 0; t++) {
        const wl_task_t *wt = &wl->task[t];
        qr_task_t *qt = &q->task[q->n_tasks++];
        qt->n = wt->n;
        qt->src = calloc((size_t)wt->n, sizeof *qt->src);
        qt->src_len = calloc((size_t)wt->n, sizeof *qt->src_len);
        qt->out_len = calloc((size_t)wt->n, sizeof *qt->out_len);
        if (!qt->src || !qt->src_len || !qt->out_len) {
            rc = mb_fail(err, "out of memory");
            break;
        }
        if (wt->n > q->max_n)
            q->max_n = wt->n;
        for (int i = 0; i < wt->n && rc == 0; i++) {
            const char *text = wt->src_text[i];
            if (vocab_encode(q->v, text, strlen(text), &qt->src[i], &qt->src_len[i], err) != 0) {
                rc = mb_prefix(err, "%s: task %s, source line %d: ", wl->source, wt->name, i + 1);
                break;
            }
            int ref_len = 0;
            if (outlen == SCN_OUT_REFERENCE && wt->ref) {
                int *ids;
                if (vocab_encode(q->v, wt->ref[i], strlen(wt->ref[i]), &ids, &ref_len, err) != 0) {
                    rc = mb_prefix(err, "%s: task %s, reference line %d: ", wl->source, wt->name, i + 1);
                    break;
                }
                free(ids);
            }
            qt->out_len[i] = outlen == SCN_OUT_SOURCE      ? (qt->src_len[i] ? qt->src_len[i] : 1)
                             : outlen == SCN_OUT_REFERENCE ? (ref_len ? ref_len : 1)
                                                           : 0;
            /* the decoder's own cap (decode_opts_default: 2 x source + 10, at most 256 or max_len) bounds
             * outputs; 4096 is the most any decode option allows */
            int cap = qt->out_len[i] > 0 ? qt->out_len[i] : 2 * qt->src_len[i] + 10;
            if (cap > q->max_out)
                q->max_out = cap;
        }
    }
    if (q->max_out > 4096)
        q->max_out = 4096;
    if (rc == 0 && !(q->hyp = malloc(sizeof(int) * (size_t)q->max_n * (size_t)(q->max_out + 1))))
        rc = mb_fail(err, "out of memory for hypotheses");
    if (rc == 0 && !(q->hyp_len = calloc((size_t)q->max_n, sizeof *q->hyp_len)))
        rc = mb_fail(err, "out of memory for hypotheses");
    if (rc) {
        qr_free(q);
        return -1;
    }
    *out = q;
    return 0;
}

decode_request_t qr_request(const qr_t *q, int t, int i, int task)
{
    const qr_task_t *qt = &q->task[t];
    return (decode_request_t){task, qt->src[i], qt->src_len[i], qt->out_len[i]};
}

void qr_begin(qr_t *q, int t)
{
    q->cur = t;
    q->overflow = 0;
    memset(q->hyp_len, 0, sizeof(int) * (size_t)q->max_n);
}

void qr_collect(qr_t *q, int first, const decode_result_t *res, int n)
{
    for (int i = 0; i < n && first + i < q->max_n; i++) {
        int len = res[i].len < q->max_out ? res[i].len : q->max_out;
        q->overflow |= res[i].len > q->max_out;
        memcpy(q->hyp + (size_t)(first + i) * (size_t)(q->max_out + 1), res[i].ids, sizeof(int) * (size_t)len);
        q->hyp_len[first + i] = len;
    }
}

int qr_score(qr_t *q, const wl_task_t *wt, csvout_row_t *row, const char *keep_path, mb_error_t *err)
{
    if (q->overflow)
        return mb_fail(err, "task %s: an output was longer than the %d tokens kept for scoring; lower [workload] "
                            "max_len", wt->name, q->max_out);
    char **hyp = calloc((size_t)wt->n, sizeof *hyp);
    if (!hyp)
        return mb_fail(err, "out of memory");
    int rc = 0;
    for (int i = 0; i < wt->n && rc == 0; i++)
        if (vocab_decode(q->v, q->hyp + (size_t)i * (size_t)(q->max_out + 1), q->hyp_len[i], &hyp[i], err) != 0)
            rc = mb_prefix(err, "task %s, sentence %d: ", wt->name, i + 1);
    const char *const *refs[1] = {(const char *const *)wt->ref};
    bleu_opts_t bo;
    bleu_chrf_opts_t co;
    bleu_result_t br;
    bleu_chrf_result_t cr;
    bleu_opts_init(&bo);
    bleu_chrf_opts_init(&co);
    if (rc == 0 && (bleu_corpus((const char *const *)hyp, refs, 1, wt->n, &bo, &br, err) != 0 ||
                    bleu_chrf_corpus((const char *const *)hyp, refs, 1, wt->n, &co, &cr, err) != 0))
        rc = -1;
    if (rc == 0) {
        csvout_set(row, CSV_bleu, "%.4f", br.score);
        csvout_set(row, CSV_chrf, "%.4f", cr.score);
        csvout_set(row, CSV_bleu_signature, "%s", br.signature);
    }
    if (rc == 0 && keep_path) {
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", keep_path, (long)getpid());
        FILE *f = fopen(tmp, "w");
        if (!f)
            rc = mb_fail(err, "%s: cannot create: %s", tmp, strerror(errno));
        for (int i = 0; f && i < wt->n; i++)
            fprintf(f, "%s\n", hyp[i]);
        if (f && (fclose(f) != 0 || rename(tmp, keep_path) != 0)) {
            rc = mb_fail(err, "%s: cannot write: %s", keep_path, strerror(errno));
            remove(tmp);
        }
    }
    for (int i = 0; i < wt->n; i++)
        free(hyp[i]);
    free(hyp);
    return rc;
}
