/* mb_ids: token ids from one line (see mb_ids.h). */
#include "common/mb_ids.h"

#include <string.h>

#include "common/mb_mem.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int mb_ids_parse(const char *buf, size_t len, int limit, int **ids, size_t *cap, size_t *n, size_t *bad,
                 size_t *bad_len)
{
    const long max = limit > 0 ? (long)limit - 1 : 0x7fffffffL;
    const char *nul = memchr(buf, '\0', len);
    size_t end_of_line = nul ? (size_t)(nul - buf) : len;
    size_t p = 0;
    for (;;) {
        while (p < end_of_line && is_space(buf[p]))
            p++;
        if (p == end_of_line)
            break;
        size_t w = 0;
        while (p + w < end_of_line && !is_space(buf[p + w]))
            w++;
        /* digits only, accumulated with a bound check: no sign, no base
         * prefix, no strtol reading past the line */
        long v = 0;
        int ok = 1;
        for (size_t i = 0; i < w && ok; i++) {
            char c = buf[p + i];
            ok = c >= '0' && c <= '9' && c - '0' <= max && v <= (max - (c - '0')) / 10;
            v = v * 10 + (c - '0');
        }
        if (!ok) {
            *bad = p, *bad_len = w;
            return MB_IDS_BAD;
        }
        if (mb_grow_cap((void **)ids, cap, *n + 1, sizeof **ids))
            return -1;
        (*ids)[(*n)++] = (int)v;
        p += w;
    }
    if (nul) {
        *bad = end_of_line, *bad_len = 1;
        return MB_IDS_NUL;
    }
    return MB_IDS_OK;
}
