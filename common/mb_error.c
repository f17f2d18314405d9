/* mb_error: formatting of one-line error messages (see mb_error.h). */
#include "common/mb_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mb_fail(mb_error_t *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int mb_prefix(mb_error_t *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char head[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    size_t h = strlen(head), old = strnlen(err->msg, sizeof err->msg - 1);
    if (old > sizeof err->msg - 1 - h)
        old = sizeof err->msg - 1 - h; /* the tail of a long message is what gets cut */
    memmove(err->msg + h, err->msg, old);
    memcpy(err->msg, head, h);
    err->msg[h + old] = '\0';
    return -1;
}
