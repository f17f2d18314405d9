/* model: the weights of one encoder-decoder Transformer in memory: their
 * names and shapes (derived from the config alone, so parameters can be
 * counted without allocating), allocation under the memory guard,
 * deterministic random initialisation, and safetensors save/load.
 *
 * All weights live in one float32 arena; the structs below point into it,
 * except in a model loaded with model_load_mapped, whose fp32 tensors may
 * point into a read-only mapping of its file instead (never write them).
 * Linear weights are be_weight_t ([n_out, n_in], PyTorch layout) so a backend
 * can prepare its own copy. The forward pass is in transformer.c. */
#ifndef MODEL_MODEL_H
#define MODEL_MODEL_H

#include <stdint.h>

#include "backends/backend.h"
#include "models/config.h"

typedef struct model_ln {
    const float *g, *b;        /* [d_model] */
} model_ln_t;

typedef struct model_attn {
    be_weight_t q, k, v, o;    /* [d_model, d_model] */
} model_attn_t;

typedef struct model_ffn {
    be_weight_t fc1;           /* [d_ff, d_model] */
    be_weight_t fc2;           /* [d_model, d_ff] */
} model_ffn_t;

typedef struct model_moe {
    model_route_t routing;
    int n_experts;             /* stored experts: E, or top_k when fixed */
    int fixed;                 /* task-subnet: experts and weights chosen at extraction */
    const float *gate;         /* [E, d_model] (NULL when fixed) */
    const float *fixed_weight; /* [top_k] gate weights, in rank order (fixed only) */
    model_ffn_t *experts;      /* [n_experts] */
} model_moe_t;

typedef struct model_layer {
    model_ln_t ln_self, ln_cross, ln_ffn;
    model_attn_t self, cross;  /* cross: decoder only */
    /* Views of the same arena memory as one matrix (issue 18: one GEMM
     * instead of three): the arena keeps q, k, v of an attention block
     * adjacent, weights then biases, so no copy exists.
     * self_qkv: [3 d_model, d_model] = self.q, self.k, self.v stacked;
     * cross_kv: [2 d_model, d_model] = cross.k, cross.v (decoder only). */
    be_weight_t self_qkv, cross_kv;
    int is_moe;
    model_ffn_t ffn;           /* dense FFN */
    model_moe_t moe;
} model_layer_t;

typedef enum model_part { MODEL_PART_EMBED = 0, MODEL_PART_ENCODER, MODEL_PART_DECODER } model_part_t;

typedef struct model_tensor_spec {
    char name[64];
    int ndim;
    int64_t shape[2];
    uint64_t n;                /* elements */
    model_part_t part;
    int expert;                /* index within its MoE layer, else -1 */
    int task_layer;            /* part of a (non-fixed) task-routed MoE layer */
    int gate;                  /* a gate matrix or task embedding */
} model_tensor_spec_t;

typedef struct model_counts {
    uint64_t total, embedding, encoder, decoder;
    /* What serving one task needs: in task-routed layers only its top_k
     * experts (and fixed gate weights instead of gates and task embeddings). */
    uint64_t served_total, served_encoder, served_decoder;
    /* Touched per token: everything but the experts, plus top_k per MoE layer. */
    uint64_t active_per_token;
    int moe_layers[2];
    int n_tensors;
} model_counts_t;

typedef struct model {
    model_config_t cfg;
    float *arena;
    uint64_t n_params;
    int n_tensors;
    model_tensor_spec_t *specs;    /* [n_tensors] */
    float **tensor;                /* [n_tensors] -> into arena, or into map (read-only) */
    int *arena_order;              /* [n_tensors] tensor indices in arena order: files store their
                                    * data so, which keeps each stacked view's parts adjacent */
    const float *enc_embed, *dec_embed; /* [vocab, d_model] */
    const float *enc_task_embed, *dec_task_embed; /* [n_keys, d_model] or NULL */
    be_weight_t out_proj;          /* [vocab, d_model], no bias */
    model_layer_t *enc, *dec;
    model_ln_t enc_ln, dec_ln;     /* final layer norms */
    float *pos_table;              /* [pos_rows, d_model] sinusoids, made once */
    int pos_rows;
    /* The tokenizer travelling with the weights: a serialized SentencePiece
     * model, kept outside the float arena and never interpreted here (vocab/
     * parses it); NULL when the model has none. */
    uint8_t *vocab_blob;           /* [vocab_len] */
    size_t vocab_len;
    /* Decode-step optimisations turned off (MODEL_OPT_* bits), from the
     * environment variable MOEBENCH_DECODE_OFF at model_create: the old path
     * stays runnable so that one binary can time old against new
     * (scripts/bench-decode.sh) and tests can check that both agree. */
    int opt_off;
    /* model_load_mapped: the file mapped read-only (MAP_PRIVATE, PROT_READ)
     * and how many tensors point into it; model_free unmaps it. A write to a
     * mapped tensor faults, so whatever writes weights (the trainer, random
     * initialisation) uses a model from model_create or model_load. arena is
     * NULL when every tensor is mapped. */
    void *map;
    size_t map_len;
    int n_mapped;
} model_t;

/* MOEBENCH_DECODE_OFF=fuse,attn,topk (or all): the fused Q/K/V and cross
 * K/V projections, the one parallel attention call per decoder step, the
 * parallel per-row top-k of beam search. */
enum { MODEL_OPT_FUSE = 1, MODEL_OPT_ATTN_ROWS = 2, MODEL_OPT_TOPK = 4 };
#define MODEL_DECODE_OFF_ENV "MOEBENCH_DECODE_OFF"
/* Parses a MOEBENCH_DECODE_OFF value (NULL or "" = none) into MODEL_OPT_* bits. */
int model_parse_opt_off(const char *text, int *bits, mb_error_t *err);

/* The U8 tensor that carries the vocabulary in a model file. */
#define MODEL_VOCAB_TENSOR "vocab.sentencepiece"
/* __metadata__ key: CRC-32 (zlib's, 8 hex digits) of those bytes, checked on load. */
#define MODEL_VOCAB_CRC_KEY "vocab_crc32"
#define MODEL_VOCAB_MAX_BYTES (256u << 20)

/* Counts parameters of a config without allocating anything. */
int model_count(const model_config_t *cfg, model_counts_t *out, mb_error_t *err);
/* Allocates a zeroed model (layer norms at gain 1), after checking that its
 * weights fit in memory; *out is NULL on failure. */
int model_create(const model_config_t *cfg, model_t **out, mb_error_t *err);
void model_free(model_t *m);
/* Deterministic random weights: each tensor from its own stream of `seed`
 * (so a tensor's values do not depend on which other tensors exist). */
void model_init_random(model_t *m, uint64_t seed);
/* Replaces the vocabulary bytes with a copy of data[0..len) (len 0: none). */
int model_set_vocab(model_t *m, const void *data, size_t len, mb_error_t *err);
/* Tensor index by name, or -1. */
int model_tensor_index(const model_t *m, const char *name);

/* safetensors I/O (model_io.c). save writes to a temporary file and renames. */
int model_save(const model_t *m, const char *path, mb_error_t *err);
/* The float32 weights as safetensors output entries, t[0 .. n_tensors), in
 * layout order: what model_save and the trainer's checkpoints write. */
struct st_out_tensor;
void model_weight_tensors(const model_t *m, struct st_out_tensor *t);
/* Refuses NaN and infinite weights, naming the tensor and its first bad
 * index: a model with them decodes garbage (pad tokens, score nan) that would
 * otherwise be timed and reported as if it were a result. */
int model_load(const char *path, model_t **out, mb_error_t *err);
/* The same; check_finite = 0 skips the finite check (--no-check-finite). */
int model_load_checked(const char *path, int check_finite, model_t **out, mb_error_t *err);
/* The first NaN or infinite weight: 0 when there is none, else -1 and
 * "WHERE: tensor 'NAME' has VALUE at index I (of N); ..." in err. */
int model_check_finite(const model_t *m, const char *where, mb_error_t *err);
/* Like model_load_checked, but the weights that the file stores as they are
 * used (fp32, little-endian host, float-aligned offsets) are not copied:
 * m->tensor points into a read-only private mapping of the file (see
 * model_t.map), so loading costs no copy and the pages are shared with the
 * page cache. Other tensors (BF16, F16, misaligned, and the parts of a
 * stacked attention view that the file does not hold adjacent) are read and converted
 * into the arena as before; when the file cannot be mapped (mmap fails, not
 * a regular file) every tensor is read. MOEBENCH_MMAP=0 in the environment
 * turns mapping off (to measure what it saves). Backends that repack (bf16,
 * int8, oneDNN's blocked layouts) still make their own copy in
 * model_prepare. The file must not be changed in place while the model
 * lives (moebench's own writers replace files by renaming). */
int model_load_mapped(const char *path, int check_finite, model_t **out, mb_error_t *err);
/* Points every weight slot (layers, embeddings, out_proj) at m->tensor[i]
 * again, after tensors were moved; model_load_mapped uses it. */
void model_rewire(model_t *m);
/* The tensors whose slots must stay adjacent for a stacked view (self_qkv,
 * cross_kv; the mapped loader reads them unless the file has them so): each
 * view's weights, and its biases, as tensor indices in arena order (n of
 * them, 2 or 3). Fills at most max groups; returns how many there are. */
typedef struct model_view_group { int idx[3], n; } model_view_group_t;
int model_view_groups(const model_t *m, model_view_group_t *g, int max);
/* Only the config of a model file (its header), allocating no weights. */
int model_load_config(const char *path, model_config_t *cfg, mb_error_t *err);
/* Only the vocabulary bytes of a model file (*blob malloc'ed; NULL and 0
 * when the file has none), reading no weights. */
int model_load_vocab(const char *path, uint8_t **blob, size_t *len, mb_error_t *err);

/* Lets backend `be` prepare its own copy of every linear weight (and
 * releases them); call once after load and before freeing. */
int model_prepare(model_t *m, be_t *be, mb_error_t *err);
void model_release(model_t *m, be_t *be);

#endif
