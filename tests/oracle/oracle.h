/* oracle: an independent reference implementation of moebench's translation
 * model, in double precision, for the test suite only (it is never linked into
 * the program). It was written from README.md ("Routing details", "Decoding",
 * "Model files", "Models and variants") and docs/routing.md, and shares no
 * code with models/ or backends/: it reads a model .safetensors file itself
 * (cJSON for the header), keeps every weight as a double, and computes the
 * encoder, the decoder (recomputing the whole target prefix at every step;
 * no key/value cache), every routing kind with per-sequence capacity, and
 * greedy and beam search.
 *
 * It owns its model (orc_load / orc_free); everything else is a pure function
 * of the model and its arguments. A sentence is always translated alone: by
 * docs/routing.md its translation cannot depend on any other sentence.
 *
 * Besides results it reports the smallest margin of every discrete decision
 * it took (gate top-k order, argmax, beam candidate order, best final), so a
 * test can tell a real disagreement from a float32 near-tie. */
#ifndef ORACLE_H
#define ORACLE_H

#include <stddef.h>

#include "common/mb_error.h"

#define ORC_MAX_OUT 1024

typedef struct orc_model orc_model_t;

enum { ORC_ENCODER = 0, ORC_DECODER = 1 };

/* What MoE layers did, per stack (docs/routing.md "Counting"). */
typedef struct orc_counts {
    long tokens;               /* token-rows routed */
    long assignments;          /* k per token */
    long dropped_assignments;  /* refused for capacity */
    long dropped_tokens;       /* every assignment refused */
} orc_counts_t;

/* The smallest margins of discrete decisions; start them at a large value
 * (orc_diag_init) and every call lowers them. */
typedef struct orc_diag {
    double gate;               /* gate probabilities: between consecutive ranks up to k+1 */
    double search;             /* log-probability gaps that chose tokens, beams or the result */
    orc_counts_t counts[2];    /* by stack; filled by orc_encode / orc_decode only */
} orc_diag_t;

void orc_diag_init(orc_diag_t *d);

int orc_load(const char *path, orc_model_t **out, mb_error_t *err);
void orc_free(orc_model_t *m);

int orc_vocab(const orc_model_t *m);
int orc_d_model(const orc_model_t *m);
/* Index of task "en-de" among the model's tasks, or -1. */
int orc_find_task(const orc_model_t *m, const char *task);
/* Builds the source sequence <2xx> words EOS into out (room for n + 2);
 * returns its length S. */
int orc_source(const orc_model_t *m, int task, const int *words, int n, int *out);

/* Encoder over one source sequence; enc: [S, d_model] after the final layer
 * norm. cf: capacity factor (0 = unlimited). diag may be NULL. */
void orc_encode(const orc_model_t *m, int task, const int *src, int S, double cf, double *enc,
                orc_diag_t *diag);

/* Decoder over a whole target prefix tgt[0..T) (tgt[0] = BOS) against that
 * sentence's encoder output; logits: [T, vocab]. */
void orc_decode(const orc_model_t *m, int task, const double *enc, int S, const int *tgt, int T, double cf,
                double *logits, orc_diag_t *diag);

/* Expert capacity for one sequence whose source has S tokens (0 = unlimited). */
int orc_capacity(const orc_model_t *m, double cf, int S);

typedef struct orc_search {
    int beam;                  /* 1 = greedy */
    int force_beam;            /* run beam search even for beam 1 */
    double alpha;              /* GNMT length penalty exponent */
    int max_len;               /* output limit: min(max_len, (int)(a * words + b)) */
    double a;
    int b;
    double cf;                 /* capacity factor */
} orc_search_t;

typedef struct orc_result {
    int ids[ORC_MAX_OUT];      /* without BOS and EOS */
    int len;
    int finished;              /* ended with EOS */
    double logprob;            /* sum of token log-probabilities, EOS included */
    double score;              /* greedy: logprob; beam: logprob / length penalty */
    int n_finished_hyps;       /* beam: finished (EOS) hypotheses among the finals */
} orc_result_t;

/* Translates one sentence of `task` (words without tag or EOS). */
int orc_translate(const orc_model_t *m, int task, const int *words, int n, const orc_search_t *opt,
                  orc_result_t *res, orc_diag_t *diag, mb_error_t *err);

/* Checks that `sub` (a task sub-network of `full` for task-key value `key`,
 * e.g. "de") holds, in every task-routed layer, exactly the experts the full
 * model's task gate ranks first, in rank order, with their gate weights
 * (within 1e-6), and every other tensor unchanged. */
int orc_check_subnet(const orc_model_t *full, const orc_model_t *sub, const char *key, mb_error_t *err);

#endif
