/* mb_parse: numbers from text with range checks (see mb_parse.h). */
#include "common/mb_parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int mb_parse_long(const char *what, const char *text, long lo, long hi, long *out, mb_error_t *err)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno == ERANGE || end == text || *end)
        return mb_fail(err, "%s: '%s' is not a whole number; give one in [%ld, %ld]", what, text, lo, hi);
    if (v < lo || v > hi)
        return mb_fail(err, "%s: %ld is out of range; give a whole number in [%ld, %ld]", what, v, lo, hi);
    *out = v;
    return 0;
}

int mb_parse_double(const char *what, const char *text, double lo, double hi, double *out, mb_error_t *err)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno == ERANGE || end == text || *end || !isfinite(v))
        return mb_fail(err, "%s: '%s' is not a finite number; give one in [%g, %g]", what, text, lo, hi);
    if (v < lo || v > hi)
        return mb_fail(err, "%s: %g is out of range; give a number in [%g, %g]", what, v, lo, hi);
    *out = v;
    return 0;
}
