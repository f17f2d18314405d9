/* mb_error: the one error-reporting convention of moebench.
 *
 * Functions that can fail return an int status (0 = ok, -1 = failed) and write
 * one line into a caller-supplied mb_error_t: "where: what is wrong; how to fix".
 * The command line prints it as "moebench: <msg>" and exits non-zero.
 * This module owns only the message buffer; it never prints or exits. */
#ifndef MB_ERROR_H
#define MB_ERROR_H

#include <stddef.h>

typedef struct mb_error {
    char msg[512];
} mb_error_t;

/* Formats the message into err (when err is not NULL) and returns -1, so a
 * failing path reads `return mb_fail(err, "...", ...);`. */
int mb_fail(mb_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes an existing message with context ("file.safetensors: "), keeping
 * the original text; returns -1 like mb_fail. */
int mb_prefix(mb_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
