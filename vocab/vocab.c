/* vocab: moebench's view of a SentencePiece model (see vocab.h). */
#include "vocab/vocab.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/model.h"
#include "vocab/spm_shim.h"

#define VOCAB_MAX_BLOB (256u << 20) /* a 256k-piece model is ~5 MB; anything near this is not a vocabulary */

struct vocab {
    spm_t *spm;
    void *blob;
    size_t len;
    int size;
    int type;                  /* TrainerSpec.model_type: 1 unigram, 2 bpe, 3 word, 4 char */
    int byte_fallback;
    int n_tags;
    char tags[MODEL_MAX_LANGS][MODEL_NAME_LEN];
};

/* ---- the protobuf wire format, only as far as checking the framing ----
 * libprotobuf accepts some truncations (one cut at a field boundary parses
 * as a smaller model), so the top level is walked here first: every field
 * must be complete and the trainer and normalizer specs present. */

static int pb_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return -1;
        uint8_t b = p[(*pos)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* Steps over one field; *field and the payload of a length-delimited one. */
static int pb_field(const uint8_t *p, size_t len, size_t *pos, int *field, int *wire, uint64_t *value,
                    const uint8_t **sub, size_t *sub_len)
{
    uint64_t key;
    if (pb_varint(p, len, pos, &key) != 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
        return -1;
    *field = (int)(key >> 3);
    *wire = (int)(key & 7);
    *sub = NULL;
    *sub_len = 0;
    switch (*wire) {
    case 0: return pb_varint(p, len, pos, value);
    case 1: if (len - *pos < 8) return -1; *pos += 8; return 0;
    case 5: if (len - *pos < 4) return -1; *pos += 4; return 0;
    case 2:
        if (pb_varint(p, len, pos, value) != 0 || *value > len - *pos)
            return -1;
        *sub = p + *pos;
        *sub_len = (size_t)*value;
        *pos += (size_t)*value;
        return 0;
    default: return -1; /* groups are not used by ModelProto */
    }
}

/* ModelProto: 1 pieces, 2 trainer_spec (3 model_type, 35 byte_fallback), 3 normalizer_spec. */
static int check_framing(const uint8_t *p, size_t len, int *pieces, int *type, int *byte_fallback)
{
    size_t pos = 0;
    int have_trainer = 0, have_normalizer = 0;
    *pieces = 0;
    *type = 1; /* proto default: UNIGRAM */
    *byte_fallback = 0;
    while (pos < len) {
        int field, wire;
        uint64_t v;
        const uint8_t *sub;
        size_t sub_len;
        if (pb_field(p, len, &pos, &field, &wire, &v, &sub, &sub_len) != 0)
            return -1;
        if (field == 1 && wire == 2) { /* a piece: its text (field 1) must be UTF-8, as every piece's is */
            (*pieces)++;
            for (size_t q = 0; q < sub_len;) {
                int f2, w2;
                uint64_t v2;
                const uint8_t *s2;
                size_t l2, bad;
                if (pb_field(sub, sub_len, &q, &f2, &w2, &v2, &s2, &l2) != 0 ||
                    (f2 == 1 && (w2 != 2 || l2 == 0 || vocab_utf8_check((const char *)s2, l2, &bad) != 0)))
                    return -1;
            }
        }
        else if (field == 3 && wire == 2)
            have_normalizer = 1;
        else if (field == 2 && wire == 2) {
            have_trainer = 1;
            for (size_t q = 0; q < sub_len;) {
                int f2, w2;
                uint64_t v2;
                const uint8_t *s2;
                size_t l2;
                if (pb_field(sub, sub_len, &q, &f2, &w2, &v2, &s2, &l2) != 0)
                    return -1;
                if (f2 == 3 && w2 == 0)
                    *type = (int)v2;
                if (f2 == 35 && w2 == 0)
                    *byte_fallback = v2 != 0;
            }
        }
    }
    return have_trainer && have_normalizer && *pieces > 0 ? 0 : -1;
}

/* "<2de>" -> "de"; 0 when the piece is a language tag. */
static int tag_lang(const char *piece, char *lang)
{
    size_t n = strlen(piece);
    if (n < 5 || n >= MODEL_NAME_LEN + 3 || strncmp(piece, "<2", 2) != 0 || piece[n - 1] != '>')
        return -1;
    for (size_t i = 2; i < n - 1; i++)
        if (piece[i] == '<' || piece[i] == '>' || piece[i] == ' ')
            return -1;
    snprintf(lang, MODEL_NAME_LEN, "%.*s", (int)(n - 3), piece + 2);
    return 0;
}

int vocab_from_blob(const void *data, size_t len, vocab_t **out, mb_error_t *err)
{
    *out = NULL;
    int pieces, type, bf;
    if (len == 0)
        return mb_fail(err, "the vocabulary is empty (0 bytes); train one with 'moebench vocab train'");
    if (len > VOCAB_MAX_BLOB)
        return mb_fail(err, "the vocabulary is %zu bytes, more than any SentencePiece model has; the file is "
                            "corrupt", len);
    if (check_framing(data, len, &pieces, &type, &bf) != 0)
        return mb_fail(err, "the vocabulary (%zu bytes) is not a complete SentencePiece model; it is corrupt or "
                            "truncated: train or copy it again", len);
    vocab_t *v = calloc(1, sizeof *v);
    if (!v || !(v->blob = malloc(len))) {
        free(v);
        return mb_fail(err, "out of memory for the vocabulary");
    }
    memcpy(v->blob, data, len);
    v->len = len;
    v->type = type;
    v->byte_fallback = bf;
    char msg[400];
    if (spm_load(data, len, &v->spm, msg, sizeof msg) != 0) {
        vocab_free(v);
        return mb_fail(err, "the vocabulary (%zu bytes) does not load as a SentencePiece model (%.200s); it is "
                            "corrupt or truncated", len, msg);
    }
    v->size = spm_size(v->spm);
    static const char *const names[4] = {"pad", "BOS", "EOS", "UNK"};
    for (int id = 0; id < 4; id++) {
        int want = id == MODEL_UNK ? SPM_UNKNOWN : SPM_CONTROL;
        if (id >= v->size || spm_kind(v->spm, id) != want) {
            int rc = mb_fail(err, "the vocabulary's id %d is '%s', not the %s moebench expects there (pad 0, BOS 1, "
                                  "EOS 2, UNK 3); train it with 'moebench vocab train' (or spm_train --pad_id=0 "
                                  "--bos_id=1 --eos_id=2 --unk_id=3)", id, spm_piece(v->spm, id), names[id]);
            vocab_free(v);
            return rc;
        }
    }
    /* the tags: consecutive <2xx> pieces from MODEL_FIRST_TAG */
    for (int id = MODEL_FIRST_TAG; id < v->size && v->n_tags < MODEL_MAX_LANGS; id++) {
        if (tag_lang(spm_piece(v->spm, id), v->tags[v->n_tags]) != 0)
            break;
        v->n_tags++;
    }
    *out = v;
    return 0;
}

int vocab_load(const char *path, vocab_t **out, mb_error_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mb_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *grown = cap < VOCAB_MAX_BLOB ? realloc(buf, cap * 2) : NULL;
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return mb_fail(err, "%s: cannot read%s", path, buf ? "" : " (too large or out of memory)");
    }
    int rc = vocab_from_blob(buf, len, out, err);
    free(buf);
    return rc ? mb_prefix(err, "%s: ", path) : 0;
}

void vocab_free(vocab_t *v)
{
    if (!v)
        return;
    spm_free(v->spm);
    free(v->blob);
    free(v);
}

int vocab_size(const vocab_t *v)
{
    return v->size;
}

const char *vocab_type(const vocab_t *v)
{
    static const char *const names[] = {"?", "unigram", "bpe", "word", "char"};
    return v->type >= 1 && v->type <= 4 ? names[v->type] : "?";
}

int vocab_n_tags(const vocab_t *v)
{
    return v->n_tags;
}

const char *vocab_tag_lang(const vocab_t *v, int i)
{
    return i >= 0 && i < v->n_tags ? v->tags[i] : "";
}

int vocab_byte_fallback(const vocab_t *v)
{
    return v->byte_fallback;
}

const char *vocab_piece(const vocab_t *v, int id)
{
    return spm_piece(v->spm, id);
}

void vocab_blob(const vocab_t *v, const void **data, size_t *len)
{
    *data = v->blob;
    *len = v->len;
}

int vocab_tag_id(const vocab_t *v, const char *lang)
{
    for (int i = 0; i < v->n_tags; i++)
        if (!strcmp(v->tags[i], lang))
            return MODEL_FIRST_TAG + i;
    return -1;
}

int vocab_utf8_check(const char *text, size_t len, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (n == 0 || c == 0xc0 || c == 0xc1 || c > 0xf4 || len - i < n) {
            *bad = i;
            return -1;
        }
        for (size_t k = 1; k < n; k++)
            if ((s[i + k] & 0xc0) != 0x80) {
                *bad = i;
                return -1;
            }
        /* overlong 3- and 4-byte forms, surrogates, above U+10FFFF */
        if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0) || (c == 0xf0 && s[i + 1] < 0x90) ||
            (c == 0xf4 && s[i + 1] >= 0x90)) {
            *bad = i;
            return -1;
        }
        i += n;
    }
    return 0;
}

int vocab_encode(const vocab_t *v, const char *text, size_t len, int **ids, int *n, mb_error_t *err)
{
    size_t bad;
    *ids = NULL;
    *n = 0;
    if (vocab_utf8_check(text, len, &bad) != 0)
        return mb_fail(err, "invalid UTF-8 at byte %zu; convert the text to UTF-8 (e.g. iconv -t UTF-8)", bad + 1);
    char msg[400];
    if (spm_encode_ids(v->spm, text, len, ids, n, msg, sizeof msg) != 0)
        return mb_fail(err, "encoding failed: %.400s", msg);
    return 0;
}

int vocab_encode_pieces(const vocab_t *v, const char *text, size_t len, char ***pieces, int *n, mb_error_t *err)
{
    size_t bad;
    *pieces = NULL;
    *n = 0;
    if (vocab_utf8_check(text, len, &bad) != 0)
        return mb_fail(err, "invalid UTF-8 at byte %zu; convert the text to UTF-8 (e.g. iconv -t UTF-8)", bad + 1);
    char msg[400];
    if (spm_encode_pieces(v->spm, text, len, pieces, n, msg, sizeof msg) != 0)
        return mb_fail(err, "encoding failed: %.400s", msg);
    return 0;
}

void vocab_pieces_free(char **pieces, int n)
{
    for (int i = 0; pieces && i < n; i++)
        free(pieces[i]);
    free(pieces);
}

int vocab_decode(const vocab_t *v, const int *ids, int n, char **text, mb_error_t *err)
{
    *text = NULL;
    int *keep = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1)), k = 0;
    if (!keep)
        return mb_fail(err, "out of memory decoding %d ids", n);
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= v->size) {
            free(keep);
            return mb_fail(err, "token id %d is outside the vocabulary (0..%d)", ids[i], v->size - 1);
        }
        /* SentencePiece would print a tag as its text; control ids it drops itself */
        if (ids[i] == MODEL_UNK || (ids[i] >= MODEL_FIRST_TAG + v->n_tags && spm_kind(v->spm, ids[i]) != SPM_CONTROL))
            keep[k++] = ids[i];
    }
    char msg[400];
    int rc = spm_decode_ids(v->spm, keep, k, text, msg, sizeof msg);
    free(keep);
    return rc ? mb_fail(err, "decoding failed: %.400s", msg) : 0;
}

int vocab_decode_pieces(const vocab_t *v, const char *const *pieces, int n, char **text, mb_error_t *err)
{
    *text = NULL;
    for (int i = 0; i < n; i++)
        if (spm_piece_id(v->spm, pieces[i]) < 0)
            return mb_fail(err, "'%.64s' is not a piece of the vocabulary", pieces[i]);
    char msg[400];
    if (spm_decode_pieces(v->spm, pieces, n, text, msg, sizeof msg) != 0)
        return mb_fail(err, "decoding failed: %.400s", msg);
    return 0;
}

int vocab_save(const vocab_t *v, const char *path, mb_error_t *err)
{
    size_t tl = strlen(path) + 32;
    char *tmp = malloc(tl);
    if (!tmp)
        return mb_fail(err, "%s: out of memory", path);
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f)
        rc = mb_fail(err, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    else {
        int bad = fwrite(v->blob, 1, v->len, f) != v->len || fflush(f) != 0 || fsync(fileno(f)) != 0;
        bad |= fclose(f) != 0;
        if (bad)
            rc = mb_fail(err, "%s: cannot write %s: %s", path, tmp, strerror(errno));
        else if (rename(tmp, path) != 0)
            rc = mb_fail(err, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
        if (rc)
            remove(tmp);
    }
    free(tmp);
    return rc;
}

int vocab_check_config(const vocab_t *v, const model_config_t *cfg, const char *where, mb_error_t *err)
{
    if (cfg->vocab != v->size)
        return mb_fail(err, "%s: the vocabulary has %d pieces but the model's config says vocab %d; the file is "
                            "inconsistent: make the model again with 'moebench init --vocab FILE.model'",
                       where, v->size, cfg->vocab);
    char have[MODEL_MAX_LANGS * (MODEL_NAME_LEN + 1)] = "";
    for (int i = 0; i < v->n_tags; i++)
        snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", i ? "," : "", v->tags[i]);
    for (int i = 0; i < cfg->n_langs; i++)
        if (vocab_tag_id(v, cfg->langs[i]) < 0)
            return mb_fail(err, "%s: the vocabulary has no tag <2%s> for the model's language %s (it tags %s); train "
                                "the vocabulary with every language of the model's tasks (--langs)",
                           where, cfg->langs[i], cfg->langs[i], v->n_tags ? have : "no language");
    for (int i = 0; i < cfg->n_langs; i++) {
        int id = vocab_tag_id(v, cfg->langs[i]);
        if (id != MODEL_FIRST_TAG + i)
            return mb_fail(err, "%s: the vocabulary tags %s as id %d but the model's languages put <2%s> at id %d "
                                "(the vocabulary tags %s); the model's languages must be the vocabulary's first, in "
                                "sorted order: give the model tasks over all of them, or train the vocabulary with "
                                "--langs the model's languages", where, cfg->langs[i], id, cfg->langs[i],
                           MODEL_FIRST_TAG + i, have);
    }
    return 0;
}

int vocab_for_config(const void *data, size_t len, const model_config_t *cfg, const char *where, vocab_t **out,
                     mb_error_t *err)
{
    if (vocab_from_blob(data, len, out, err) != 0)
        return mb_prefix(err, "%s: tensor '%s': ", where, MODEL_VOCAB_TENSOR);
    if (vocab_check_config(*out, cfg, where, err) != 0) {
        vocab_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}
