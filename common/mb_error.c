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
    char head[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s%s", head, old);
    return -1;
}
