/* transformer: the forward pass of the pre-layer-norm encoder-decoder
 * Transformer (sinusoidal positions, ReLU FFN or MoE, untied embeddings).
 *
 * Sequences are packed one after another with no padding (tf_seqs_t), so
 * nothing is ever computed for a pad token and "the sentence's real tokens"
 * is simply its range. Three entry points:
 *   tf_encode       the encoder over packed source sentences;
 *   tf_decode_full  the decoder over whole target prefixes (teacher forcing:
 *                   training, and the oracle that KV-cached decoding is
 *                   tested against);
 *   tf_decode_step  one incremental step for a set of rows, with a KV cache.
 * The two decoders route and admit identically (docs/routing.md), so
 * teacher-forced scoring reproduces what incremental decoding computed.
 * Buffers are reserved once per batch shape; the step allocates nothing. */
#ifndef MODEL_TRANSFORMER_H
#define MODEL_TRANSFORMER_H

#include "backends/backend.h"
#include "models/model.h"
#include "models/moe.h"

typedef struct tf_seqs {
    int n;                     /* sequences */
    const int *offset;         /* [n + 1] token offsets into ids */
    const int *ids;            /* [offset[n]] token ids */
    const int *key;            /* [n] task-key index of each sequence */
} tf_seqs_t;

typedef struct tf_ws {
    /* The expert capacity factor the MoE layers apply (docs/routing.md,
     * Capacity): 0 (a zeroed workspace) = unlimited, the inference default.
     * A run-time setting, not the model file's recorded training value. */
    double capacity_factor;
    int cap_tokens, cap_src, cap_scratch, cap_experts;
    float *x, *h, *k, *v, *att, *y;  /* [tokens, d_model] */
    float *q;                  /* [tokens, 3 d_model]: q, or q|k|v of the fused projection */
    const float **row_k, **row_v; /* [tokens] a decoder step's keys/values per row */
    int *row_nk;               /* [tokens] how many */
    float *ff;                 /* [tokens, d_ff] */
    float *gate_in;            /* [tokens, d_model] routing inputs */
    double *acc;               /* [d_model] sums for sentence means */
    float *ck;                 /* [src tokens, 2 d_model] cross keys and values (layout: tf_cache_t.ck) */
    float *scratch;            /* [cap_scratch] attention scores */
    int *pos, *group;          /* [tokens] */
    int *cap, *counter;        /* [tokens] capacity and counter row of each token's sequence */
    int *counts;               /* [tokens, E] per-sequence admissions (encoder, teacher forcing) */
    moe_ws_t moe;
} tf_ws_t;

/* Makes ws hold `tokens` rows per call, `src_tokens` encoder rows, and
 * attention over up to `max_len` keys. Grows only. */
int tf_ws_reserve(tf_ws_t *ws, const model_t *m, int tokens, int src_tokens, int max_len, mb_error_t *err);
void tf_ws_free(tf_ws_t *ws);

/* enc_out: [src->offset[n], d_model] (after the final layer norm) */
void tf_encode(const model_t *m, be_t *be, tf_ws_t *ws, const tf_seqs_t *src, float *enc_out,
               moe_stats_t *stats);

/* Decoder inputs tgt (each sequence starts with BOS) against the encoder
 * output of the same-indexed source sequences; logits: [tgt tokens, vocab]. */
void tf_decode_full(const model_t *m, be_t *be, tf_ws_t *ws, const tf_seqs_t *src, const float *enc_out,
                    const tf_seqs_t *tgt, float *logits, moe_stats_t *stats);

/* The state of incremental decoding: per decoder layer a key/value cache
 * per slot and, in token-routed MoE layers, each hypothesis's admissions per
 * expert (capacity is counted per hypothesis, causally); the cross-attention
 * keys/values and the mean encoder output (sentence routing) of the batch's
 * source sentences. */
typedef struct tf_cache {
    int n_layers, d, n_experts, cap_slots, cap_len, cap_src, cap_seq;
    float **k, **v;            /* [layer] -> [slots, cap_len, d] */
    int **count;               /* [layer] -> [slots, n_experts] or NULL */
    /* [layer] -> cross-attention keys and values [src tokens, 2d]: fused,
     * rows k|v (kv_ld = 2d, v_off = d); MOEBENCH_DECODE_OFF=fuse: all keys
     * [S, d] then all values (kv_ld = d, v_off = S d) */
    float **ck;
    int kv_ld;
    size_t v_off;
    float *tmp;                /* [slots, cap_len, d] for slot copies */
    int *ctmp;                 /* [slots, n_experts] for slot copies */
    int n_seq;
    int *src_offset;           /* [n_seq + 1] */
    int *src_key;              /* [n_seq] */
    float *src_mean;           /* [n_seq, d] mean encoder output of each source sentence */
    double *acc;               /* [d] sums for those means */
} tf_cache_t;

int tf_cache_reserve(tf_cache_t *c, const model_t *m, int slots, int max_len, int src_tokens, int n_seq,
                     mb_error_t *err);
void tf_cache_free(tf_cache_t *c);
/* Computes the cross-attention keys/values and the sentence means of a
 * batch (once per batch). */
void tf_cache_begin(tf_cache_t *c, const model_t *m, be_t *be, const tf_seqs_t *src, const float *enc_out);
/* Clears the expert counters of slots (a new hypothesis starts there). */
void tf_cache_clear(tf_cache_t *c, int n, const int *slots);
/* Copies the state of slot from[i] to slot to[i] for positions [0, len)
 * (and its expert counters);
 * from and to may overlap (beam search reorders in place). */
void tf_cache_copy(tf_cache_t *c, int n, const int *from, const int *to, int len);

/* One step: row r feeds token tok[r] at position pos[r] of source sequence
 * seq[r], keeping its state in cache slot slot[r]; logits: [n, vocab]. */
void tf_decode_step(const model_t *m, be_t *be, tf_ws_t *ws, tf_cache_t *c, int n, const int *tok,
                    const int *pos, const int *seq, const int *slot, float *logits, moe_stats_t *stats);

#endif
