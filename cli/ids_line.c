/* ids_line: token ids from one input line (see ids_line.h). */
#include "cli/ids_line.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ids_parse_line(const char *buf, size_t len, const char *where, long line, int *row, int *n, mb_error_t *err)
{
    *n = 0;
    /* the parser below stops at a NUL: the ids after one would be dropped
     * without a word, so a NUL is an error */
    const char *nul = memchr(buf, '\0', len);
    if (nul)
        return mb_fail(err, "%s:%ld: contains a NUL byte (at byte %zu); with --ids each line holds "
                            "whitespace-separated non-negative integers", where, line, (size_t)(nul - buf) + 1);
    const char *p = buf, *end_of_line = buf + len;
    while (p < end_of_line) {
        while (p < end_of_line && isspace((unsigned char)*p))
            p++;
        if (p == end_of_line)
            break;
        /* the digits of one word, copied so that strtol cannot read past the line */
        size_t w = 0;
        while (p + w < end_of_line && !isspace((unsigned char)p[w]))
            w++;
        char word[24];
        int ok = w < sizeof word;
        long v = -1;
        if (ok) {
            memcpy(word, p, w);
            word[w] = '\0';
            char *end;
            errno = 0;
            v = strtol(word, &end, 10);
            ok = end != word && !*end && !errno && v >= 0 && v <= 0x7fffffff && isdigit((unsigned char)word[0]);
        }
        if (!ok)
            return mb_fail(err, "%s:%ld: '%.*s' is not a token id; with --ids each line holds "
                                "whitespace-separated non-negative integers", where, line, (int)(w < 20 ? w : 20), p);
        row[(*n)++] = (int)v;
        p += w;
    }
    return 0;
}
