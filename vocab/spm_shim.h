/* spm_shim: the C face of Debian's libsentencepiece (a C++ library).
 *
 * Owns nothing but the translation between C and C++: every function
 * catches every C++ exception and returns an int status (0 = ok) with a
 * message in `msg`. Meaning (which ids are special, tags, the model file)
 * belongs to vocab.c; this file is only compiled with g++. */
#ifndef SPM_SHIM_H
#define SPM_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spm spm_t;

/* What kind of piece an id is (SentencePiece's piece types). */
enum { SPM_NORMAL = 0, SPM_UNKNOWN, SPM_CONTROL, SPM_BYTE, SPM_UNUSED };

/* A processor from a serialized ModelProto (the bytes of a .model file). */
int spm_load(const void *data, size_t len, spm_t **out, char *msg, size_t msglen);
void spm_free(spm_t *s);
int spm_size(const spm_t *s);
/* The piece's id; -1 when the vocabulary has no such piece. */
int spm_piece_id(const spm_t *s, const char *piece);
/* The piece text of an id in [0, size); "" outside. */
const char *spm_piece(const spm_t *s, int id);
int spm_kind(const spm_t *s, int id);
/* text -> ids / pieces (pieces: malloc'ed array of malloc'ed strings). */
int spm_encode_ids(const spm_t *s, const char *text, size_t len, int **ids, int *n, char *msg, size_t msglen);
int spm_encode_pieces(const spm_t *s, const char *text, size_t len, char ***pieces, int *n, char *msg,
                      size_t msglen);
/* ids / pieces -> text, malloc'ed and NUL-terminated. */
int spm_decode_ids(const spm_t *s, const int *ids, int n, char **text, char *msg, size_t msglen);
int spm_decode_pieces(const spm_t *s, const char *const *pieces, int n, char **text, char *msg, size_t msglen);

/* Trains a model on `n` sentences with SentencePiece's trainer options
 * (keys[i] = values[i], e.g. "vocab_size" = "8000"); the serialized model is
 * malloc'ed into *blob. `seed` seeds SentencePiece's random generator. */
int spm_train(const char *const *keys, const char *const *values, int n_opts, const char *const *sentences,
              size_t n, unsigned seed, void **blob, size_t *len, char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif

#endif
