/* decode: turning source sentences into translations with a model: batched
 * greedy search and beam search (GNMT length penalty) over the KV-cached
 * decoder step. Sentences that finish leave the batch, so later steps only
 * compute the rows still running.
 *
 * A source sentence is given as token ids; decode adds the target-language
 * tag in front (<2de>, as in the paper) and EOS at the end. Outputs exclude
 * BOS and EOS. This module owns its buffers, sized per batch shape and reused;
 * the step loop allocates nothing. */
#ifndef MODEL_DECODE_H
#define MODEL_DECODE_H

#include <signal.h>

#include "backends/backend.h"
#include "models/model.h"
#include "models/moe.h"

typedef struct decode_opts {
    int beam;                  /* 1 = greedy search */
    int force_beam;            /* run the beam-search code even for beam 1 (tests) */
    int scores;                /* greedy: compute log-probabilities (a log-softmax over the
                                  vocabulary per token); off, greedy takes the argmax of the
                                  logits and reports logprob 0 */
    float len_penalty;         /* GNMT alpha: score / ((5 + len) / 6)^alpha */
    int max_len;               /* cap on output tokens */
    float max_len_a;           /* per sentence: at most a * source length + b */
    int max_len_b;
    double capacity_factor;    /* expert capacity (docs/routing.md); 0 = unlimited, the
                                  default whatever the model file records */
    const volatile sig_atomic_t *cancel; /* NULL, or a flag (set by a signal handler) read at
                                  every decoder step: when nonzero the batch stops within a
                                  step and decode_batch fails with "interrupted" */
} decode_opts_t;

/* greedy (beam 1) with scores, alpha 0.6, max_len 256, a 2.0, b 10,
 * capacity factor 0 */
void decode_opts_default(decode_opts_t *o);

typedef struct decode_request {
    int task;                  /* index into the model's tasks */
    const int *src;            /* [src_len] token ids, without tag or EOS */
    int src_len;
    int out_len;               /* > 0: generate exactly this many tokens (EOS is never
                                  chosen earlier), to measure random-weight models at a
                                  realistic output length; 0: the model decides */
} decode_request_t;

typedef struct decode_result {
    const int *ids;            /* [len], valid until the next decode_batch */
    int len;
    int finished;              /* ended with EOS (not cut at the length limit) */
    float logprob;             /* sum of the log-probabilities of its tokens (and EOS) */
    float score;               /* what the search ranked by: logprob for greedy,
                                  logprob / length penalty for beam */
} decode_result_t;

typedef struct decode_ctx decode_ctx_t;

int decode_ctx_create(const model_t *m, be_t *be, const decode_opts_t *opt, decode_ctx_t **out,
                      mb_error_t *err);
void decode_ctx_free(decode_ctx_t *c);
/* Translates n requests as one batch; out: [n]. Fails (before any compute)
 * on a task the model does not serve or a token id outside the vocabulary. */
int decode_batch(decode_ctx_t *c, const decode_request_t *req, int n, decode_result_t *out, mb_error_t *err);
/* Counters accumulated over every batch since creation. */
typedef struct decode_stats {
    moe_stats_t moe_encoder, moe_decoder;
    uint64_t sentences, src_tokens, out_tokens, steps;
} decode_stats_t;
const decode_stats_t *decode_get_stats(const decode_ctx_t *c);

#endif
