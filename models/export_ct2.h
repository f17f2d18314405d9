/* export_ct2: a model as a CTranslate2 model directory, so that CTranslate2
 * (the usual CPU server for translation models) can run the same weights on
 * the same inputs and be compared with moebench (docs/ctranslate2.md).
 *
 * Owns the CTranslate2 side only: the model.bin binary layout (format 6,
 * TransformerSpec revision 7, variable names of the spec), config.json, the
 * vocabulary file, and writing the folder atomically (a temporary folder
 * beside it, renamed when complete; nothing is left behind on failure).
 * Does not own token strings: the caller passes one per id (vocab/ knows
 * SentencePiece pieces; models/ never reads them). Never prints.
 *
 * What is written computes what moebench computes (README.md, "The
 * arithmetic, exactly"): pre-norm layers with biases, layer-norm epsilon
 * 1e-5, ReLU FFNs, embeddings scaled by sqrt(d_model), moebench's own
 * interleaved sin/cos position table (CTranslate2's built-in one is laid out
 * differently), final layer norms, an output projection without bias, and
 * tied tables written once and aliased. Q, K, V (and the cross-attention's
 * K, V) are fused by concatenating rows, which is CTranslate2's layout.
 * A task sub-network's fixed MoE layers become one dense FFN of k * d_ff:
 * sum_r g_r (relu(h W1_r' + b1_r) W2_r' + b2_r) equals relu(h W1' + b1) W2'
 * + b2 with W1, b1 the experts' rows stacked, W2's column block r scaled by
 * g_r, and b2 = sum_r g_r b2_r. Token- and sentence-routed layers choose
 * experts per token or sentence, which CTranslate2's Transformer cannot
 * express; such models are refused (ct2_exportable says why). */
#ifndef MODEL_EXPORT_CT2_H
#define MODEL_EXPORT_CT2_H

#include <stddef.h>

#include "common/mb_error.h"
#include "models/model.h"

#define CT2_DEFAULT_POSITIONS 1024
#define CT2_MAX_POSITIONS 65536

typedef struct ct2_export_opts {
    const char *const *tokens; /* [cfg.vocab]: the string of each id, in id order; all different */
    const char *vocab_kind;    /* "sentencepiece" or "ids", recorded in moebench.json */
    const void *spm;           /* serialized SentencePiece model, copied as sentencepiece.model; or NULL */
    size_t spm_len;
    int max_positions;         /* rows of the position table; CTranslate2 refuses longer sequences.
                                  0 = CT2_DEFAULT_POSITIONS */
    const char *source;        /* the model file's name, recorded in moebench.json (may be NULL) */
} ct2_export_opts_t;

/* 0 when every part of m can be written exactly; else -1 and, in err, the
 * first part that cannot and why (a token- or sentence-routed MoE layer, a
 * model without an encoder). */
int ct2_exportable(const model_t *m, mb_error_t *err);

/* Checks that DIR can be made: the name is not empty, DIR is absent or an
 * empty folder (a model directory is never overwritten), and its parent
 * folder exists and is writable. Run it before loading anything. */
int ct2_output_check(const char *dir, mb_error_t *err);

/* Writes DIR: model.bin, config.json, shared_vocabulary.json,
 * moebench.json (ids of the special tokens and language tags, the source
 * model) and sentencepiece.model when o->spm is given. Everything goes to
 * a temporary folder DIR.tmp-XXXXXX first, renamed to DIR when complete;
 * on any failure the temporary folder is removed and DIR is untouched. */
int ct2_export(const model_t *m, const ct2_export_opts_t *o, const char *dir, mb_error_t *err);

#endif
