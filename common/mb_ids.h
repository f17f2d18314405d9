/* mb_ids: one line of token ids ("5 17 9"): whitespace-separated whole
 * numbers (decimal digits only) below a limit. The one parser for every
 * reader of ids: `translate --ids`, the trainer's token-id corpora and the
 * distillation cache, so all of them accept the same lines. It owns only
 * the parsing (so it can be tested and fuzzed alone); each caller words its
 * own error from what it returns. */
#ifndef MB_IDS_H
#define MB_IDS_H

#include <stddef.h>

enum {
    MB_IDS_OK = 0,
    MB_IDS_BAD = 1, /* a word that is not an id below the limit */
    MB_IDS_NUL = 2, /* a NUL byte: the ids after it would be lost without a word */
};

/* Appends the ids of buf[0, len) (a trailing '\n' or "\r\n" is white space)
 * to *ids, which holds *n of *cap (grown with mb_grow_cap). Each id is below
 * `limit`, or below 2^31 when limit <= 0. Never reads past len. Returns
 * MB_IDS_OK, MB_IDS_BAD or MB_IDS_NUL with the offending bytes at
 * buf[*bad, *bad + *bad_len) (the ids before them are appended), or -1 when
 * out of memory. */
int mb_ids_parse(const char *buf, size_t len, int limit, int **ids, size_t *cap, size_t *n, size_t *bad,
                 size_t *bad_len);

#endif
