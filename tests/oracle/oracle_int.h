/* oracle_int: the oracle's model in memory, shared by its three files
 * (oracle_load.c reads it, oracle.c runs it, oracle_search.c decodes with
 * it). Every weight is a double array in the file's layout: linear weights
 * [n_out, n_in] with y = x W^T + b. */
#ifndef ORACLE_INT_H
#define ORACLE_INT_H

#include "tests/oracle/oracle.h"

#define ORC_NAME 16
#define ORC_MAX_TASKS 64

enum { ORC_DENSE = 0, ORC_TOKEN, ORC_SENTENCE, ORC_TASK };
enum { ORC_KEY_TARGET = 0, ORC_KEY_PAIR, ORC_KEY_SOURCE };

typedef struct orc_lin {
    const double *w;           /* [n_out, n_in] */
    const double *b;           /* [n_out] or NULL */
    int n_out, n_in;
} orc_lin_t;

typedef struct orc_ffn {
    orc_lin_t fc1, fc2;        /* [d_ff, d], [d, d_ff] */
} orc_ffn_t;

typedef struct orc_layer {
    const double *ln_self_g, *ln_self_b, *ln_cross_g, *ln_cross_b, *ln_ffn_g, *ln_ffn_b; /* [d] */
    orc_lin_t q, k, v, o;      /* self-attention */
    orc_lin_t cq, ck, cv, co;  /* cross-attention (decoder) */
    int moe;                   /* 0: dense FFN */
    orc_ffn_t ffn;
    int n_exp;                 /* stored experts */
    int fixed;                 /* task sub-network layer: experts 0..k-1, fixed weights */
    const double *gate;        /* [E, d] */
    const double *fixed_w;     /* [k] */
    orc_ffn_t *experts;        /* [n_exp] */
} orc_layer_t;

typedef struct orc_tensor {
    char name[64];
    int ndim;
    long shape[2];
    long n;
    double *data;
} orc_tensor_t;

struct orc_model {
    int layers[2], d, d_ff, heads, vocab, E, k, moe_every;
    int route[2], key_kind;
    int n_tasks;
    char tasks[ORC_MAX_TASKS][ORC_NAME];
    int n_langs;
    char langs[ORC_MAX_TASKS][ORC_NAME];   /* sorted: tag of langs[i] is 4 + i */
    int n_keys;
    char keys[ORC_MAX_TASKS][ORC_NAME];    /* sorted: row i of a task embedding */
    int subnet_key;                        /* index into keys, or -1 */
    const double *embed[2];                /* [vocab, d] */
    const double *task_embed[2];           /* [n_keys, d] or NULL */
    const double *ln_g[2], *ln_b[2];       /* final layer norms */
    const double *out_proj;                /* [vocab, d] */
    orc_layer_t *layer[2];
    int n_tensors;
    orc_tensor_t *tensor;
};

/* Zeroed memory for n items of `size` bytes. Test-only code: running out of
 * memory in a unit test aborts it rather than threading a status through
 * every arithmetic helper. */
void *orc_alloc(size_t n, size_t size);

/* Task -> index of its key value in keys; task -> tag token id. */
int orc_task_key(const orc_model_t *m, int task);
int orc_task_tag(const orc_model_t *m, int task);
const orc_tensor_t *orc_tensor(const orc_model_t *m, const char *name);
/* A gate's top-k experts and weights for gate input g ([d]); diag may be NULL. */
void orc_gate_topk(const orc_model_t *m, const double *gate, const double *g, int *choice, double *weight,
                   orc_diag_t *diag);
/* What the decoder takes from a source sentence, computed once per
 * sentence: every layer's cross-attention keys and values, and the mean of
 * the encoder output (the decoder's sentence-routing input). */
typedef struct orc_src {
    int S;
    double *ck, *cv;           /* [dec layers, S, d] */
    double *mean;              /* [d] */
} orc_src_t;
void orc_src_begin(const orc_model_t *m, const double *enc, int S, orc_src_t *src);
void orc_src_end(orc_src_t *src);
/* The decoder's logits at the last position of tgt only ([vocab]), for the search. */
void orc_decode_last(const orc_model_t *m, int task, const orc_src_t *src, const int *tgt, int T, double cf,
                     double *logits, orc_diag_t *diag);

#endif
