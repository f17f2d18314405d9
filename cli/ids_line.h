/* ids_line: one line of `moebench translate --ids` input as token ids:
 * whitespace-separated non-negative integers below 2^31. Owns only the
 * parsing of a line (so it can be tested and fuzzed alone); reading stdin
 * and decoding are cmd_translate.c's. */
#ifndef IDS_LINE_H
#define IDS_LINE_H

#include <stddef.h>

#include "common/mb_error.h"

/* Parses buf[0, len) (the line, its '\n' optional) into row, which must hold
 * len / 2 + 1 ids; *n is the count. A NUL byte anywhere in the line, or a
 * word that is not an id, fails with "WHERE:LINE: ..." in err. */
int ids_parse_line(const char *buf, size_t len, const char *where, long line, int *row, int *n, mb_error_t *err);

#endif
