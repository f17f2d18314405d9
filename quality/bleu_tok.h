/* bleu_tok: the text side of sacreBLEU-compatible scoring: strict UTF-8
 * decoding into Unicode code points, Python's str.lower() and str.isspace()
 * (which sacreBLEU relies on), and sacreBLEU's tokenizers 13a, none and intl.
 * It owns no n-gram counting or scoring: that is bleu.h.
 *
 * Everything works on code points, not bytes, because sacreBLEU's regular
 * expressions and Python's split() do. Unicode data: punctuation/symbol/number
 * categories (for intl) follow the `regex` module 2026.5.9 (Unicode 17.0);
 * lower-casing and white space follow Python 3.11's str (Unicode 14.0). */
#ifndef BLEU_TOK_H
#define BLEU_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "common/mb_error.h"

typedef enum bleu_tok {
    BLEU_TOK_13A,  /* sacreBLEU's default: mteval-v13a.pl for plain text */
    BLEU_TOK_NONE, /* no tokenization: split on white space only */
    BLEU_TOK_INTL, /* mteval-v14 international: Unicode punctuation and symbols */
} bleu_tok_t;

/* A growable array of code points; zero-initialise, release with bleu_text_free. */
typedef struct bleu_text {
    uint32_t *cp;
    size_t n, cap;
} bleu_text_t;

/* "13a", "none" or "intl" -> tokenizer; -1 with a message listing them otherwise. */
int bleu_tok_from_name(const char *name, bleu_tok_t *out, mb_error_t *err);
/* The name sacreBLEU's signature uses ("13a", "none", "intl"). */
const char *bleu_tok_name(bleu_tok_t tok);

void bleu_text_free(bleu_text_t *t);
/* Makes room for `extra` more code points after t->n; -1 on overflow or no memory. */
int bleu_text_reserve(bleu_text_t *t, size_t extra, mb_error_t *err);

/* Strict UTF-8 (as Python's 'utf-8' codec: no overlongs, surrogates or
 * values past U+10FFFF) of s[0..len) into out (replacing its contents). */
int bleu_utf8_decode(const char *s, size_t len, bleu_text_t *out, mb_error_t *err);
/* Byte offset of the first invalid UTF-8 sequence in s[0..len), or -1 when valid. */
long bleu_utf8_invalid_at(const char *s, size_t len);
/* UTF-8 of cp[0..n) as a malloc'd NUL-terminated string (caller frees). */
int bleu_utf8_encode(const uint32_t *cp, size_t n, char **out, mb_error_t *err);

/* Python's str.isspace(): the set str.split() and str.rstrip() use
 * (ASCII \t\n\v\f\r and space, U+001C..U+001F, U+0085, U+00A0, U+1680,
 * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000). */
int bleu_is_space(uint32_t c);
/* Unicode general category tests used by intl: P*, S*, N*. */
int bleu_is_punct(uint32_t c);
int bleu_is_symbol(uint32_t c);
int bleu_is_number(uint32_t c);

/* Python's str.lower() of in into out (out != in): full lower-case mapping
 * (U+0130 becomes two code points) and the Final_Sigma rule for U+03A3. */
int bleu_lower(const bleu_text_t *in, bleu_text_t *out, mb_error_t *err);

/* One segment as sacreBLEU's BLEU sees it: optional lower(), rstrip(), then
 * the tokenizer. Result in out (tokens separated by white space; for 13a and
 * intl exactly one space, as sacreBLEU returns them). scratch is workspace. */
int bleu_tok_segment(const char *line, size_t len, bleu_tok_t tok, int lowercase,
                     bleu_text_t *out, bleu_text_t *scratch, mb_error_t *err);

/* Convenience for tests and debugging: the tokenized segment as a malloc'd
 * UTF-8 string, exactly what sacreBLEU's tokenizer returns for that line. */
int bleu_tokenize(const char *line, bleu_tok_t tok, int lowercase, char **out, mb_error_t *err);

#endif
