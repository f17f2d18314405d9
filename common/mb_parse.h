/* mb_parse: numbers from text (command-line values, scenario values) with
 * range checks and messages that say which rule was broken. Owns nothing;
 * never prints. */
#ifndef COMMON_MB_PARSE_H
#define COMMON_MB_PARSE_H
#include "common/mb_error.h"

/* `what` names the value in the message (an option such as "--threads", or
 * a key). Fails on text that is not a whole number / finite number, and,
 * separately, on a value outside [lo, hi]. */
int mb_parse_long(const char *what, const char *text, long lo, long hi, long *out, mb_error_t *err);
int mb_parse_double(const char *what, const char *text, double lo, double hi, double *out, mb_error_t *err);
#endif
