/* vocab: the SentencePiece vocabulary of a model, as moebench uses it.
 *
 * Owns the id layout contract: pad 0, BOS 1, EOS 2, UNK 3 (models/config.h),
 * then one user-defined piece <2xx> per language in sorted order (the ids
 * model_task_tag gives), then ordinary pieces (byte-fallback pieces first
 * when the vocabulary has them). A vocabulary that breaks the contract is
 * refused when it is loaded, and one that does not tag a model's languages
 * with the model's ids is refused by vocab_check_config.
 *
 * Text goes in and out as UTF-8; the C++ library is reached only through
 * spm_shim.h. Training (vocab_train.c) samples languages by temperature.
 * Does not own model files: models/ stores the serialized vocabulary as
 * opaque bytes (model_t.vocab_blob), and this module parses them. */
#ifndef VOCAB_H
#define VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "common/mb_error.h"
#include "models/config.h"

typedef struct vocab vocab_t;

/* A vocabulary from the bytes of a serialized SentencePiece model (what a
 * .model file holds); corrupt or truncated bytes and vocabularies whose
 * special ids are not moebench's are refused. */
int vocab_from_blob(const void *data, size_t len, vocab_t **out, mb_error_t *err);
/* The same from a .model file. */
int vocab_load(const char *path, vocab_t **out, mb_error_t *err);
void vocab_free(vocab_t *v);
int vocab_size(const vocab_t *v);
/* text -> ids, no tag/BOS/EOS added; *ids malloc'ed (never NULL on
 * success), caller frees. Text must be valid UTF-8. */
int vocab_encode(const vocab_t *v, const char *text, size_t len, int **ids, int *n, mb_error_t *err);
/* ids -> detokenized UTF-8 text, malloc'ed, NUL-terminated; pad, BOS, EOS
 * and the language tags are skipped; UNK reads as SentencePiece's " ⁇ ";
 * an id outside the vocabulary is an error. */
int vocab_decode(const vocab_t *v, const int *ids, int n, char **text, mb_error_t *err);
/* id of <2xx>, -1 if the vocab lacks it */
int vocab_tag_id(const vocab_t *v, const char *lang);

/* ---- beyond the core API ---- */

/* "unigram", "bpe", "word" or "char" (the model type it was trained as). */
const char *vocab_type(const vocab_t *v);
/* Language tags in id order: vocab_tag_lang(v, i) is the language of id
 * MODEL_FIRST_TAG + i ("de"). */
int vocab_n_tags(const vocab_t *v);
const char *vocab_tag_lang(const vocab_t *v, int i);
/* Does the vocabulary have byte-fallback pieces (every UTF-8 text round-trips)? */
int vocab_byte_fallback(const vocab_t *v);
/* The piece of an id ("▁the"); "" outside the vocabulary. */
const char *vocab_piece(const vocab_t *v, int id);
/* The serialized model (the bytes vocab_from_blob took), owned by v. */
void vocab_blob(const vocab_t *v, const void **data, size_t *len);
/* Writes the serialized model to path (temporary file, then renamed). */
int vocab_save(const vocab_t *v, const char *path, mb_error_t *err);

/* text -> pieces (malloc'ed array of malloc'ed strings; vocab_pieces_free). */
int vocab_encode_pieces(const vocab_t *v, const char *text, size_t len, char ***pieces, int *n, mb_error_t *err);
void vocab_pieces_free(char **pieces, int n);
/* pieces -> text; a piece the vocabulary lacks is an error. */
int vocab_decode_pieces(const vocab_t *v, const char *const *pieces, int n, char **text, mb_error_t *err);

/* Does the config's vocabulary size match, and does the vocabulary tag each
 * of the config's languages with the id the engine uses for it
 * (MODEL_FIRST_TAG + its index among the config's sorted languages)?
 * `where` names the file for messages. */
int vocab_check_config(const vocab_t *v, const model_config_t *cfg, const char *where, mb_error_t *err);

/* A model's vocabulary: vocab_from_blob, then vocab_check_config, with
 * `where` (the model file) before every message. */
int vocab_for_config(const void *data, size_t len, const model_config_t *cfg, const char *where, vocab_t **out,
                     mb_error_t *err);

/* 0 when text[0..len) is valid UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF); else -1 with the byte offset of the first bad
 * byte in *bad. */
int vocab_utf8_check(const char *text, size_t len, size_t *bad);

/* ---- training (vocab_train.c) ---- */

typedef struct vocab_train_opts {
    int n_langs;
    char langs[MODEL_MAX_LANGS][MODEL_NAME_LEN]; /* sorted, no duplicates */
    int n_files;
    const char *const *files;  /* [n_files] plain or gzip text, one sentence per line */
    const int *file_lang;      /* [n_files] index into langs */
    int size;                  /* vocabulary size, special ids and tags included */
    const char *type;          /* "unigram" or "bpe" */
    double temperature;        /* p_l proportional to (n_l / N)^(1 / T); 1 = proportional */
    uint64_t seed;
    long max_sentences;        /* sampled training sentences (0: as many as the data has) */
    int threads;               /* SentencePiece trainer threads */
    int verbose;               /* SentencePiece's own log on stderr */
} vocab_train_opts_t;

/* What the sampling did, for the caller's report. */
typedef struct vocab_train_report {
    long lines[MODEL_MAX_LANGS];    /* non-empty lines read per language */
    long sampled[MODEL_MAX_LANGS];  /* sentences drawn per language */
    double prob[MODEL_MAX_LANGS];   /* sampling probability per language */
} vocab_train_report_t;

/* One joint vocabulary over every language; deterministic for the same
 * files, options and seed. report may be NULL. */
int vocab_train(const vocab_train_opts_t *o, vocab_t **out, vocab_train_report_t *report, mb_error_t *err);

#endif
