/* mb_text: escaping untrusted text for terminals and Markdown (see mb_text.h). */
#include "common/mb_text.h"

#include <stdio.h>
#include <string.h>

static int special(unsigned char c, int markdown)
{
    return c < 0x20 || c == 0x7f || (markdown && c == '|');
}

int mb_text_needs_escape(const char *s, int markdown)
{
    for (; *s; s++)
        if (special((unsigned char)*s, markdown))
            return 1;
    return 0;
}

char *mb_text_escape(char *dst, size_t n, const char *s, int markdown)
{
    if (n == 0)
        return dst;
    size_t at = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (!special(c, markdown)) {
            esc[0] = (char)c;
            esc[1] = '\0';
        } else if (c == '|') {
            snprintf(esc, sizeof esc, "\\|");
        } else if (c == '\n') {
            snprintf(esc, sizeof esc, "\\n");
        } else if (c == '\r') {
            snprintf(esc, sizeof esc, "\\r");
        } else if (c == '\t') {
            snprintf(esc, sizeof esc, "\\t");
        } else {
            snprintf(esc, sizeof esc, "\\x%02x", c);
        }
        size_t l = strlen(esc);
        if (at + l + 4 > n) { /* room for "..." and the NUL */
            if (n >= 4) {
                memcpy(dst + (at + 3 < n ? at : n - 4), "...", 3);
                at = (at + 3 < n ? at : n - 4) + 3;
            }
            break;
        }
        memcpy(dst + at, esc, l);
        at += l;
    }
    dst[at < n ? at : n - 1] = '\0';
    return dst;
}

static const char *rotate(const char *s, int markdown)
{
    static char buf[8][512];
    static int next;
    char *b = buf[next];
    next = (next + 1) % 8;
    return mb_text_escape(b, sizeof buf[0], s ? s : "", markdown);
}

const char *mb_term(const char *s)
{
    return rotate(s, 0);
}

const char *mb_md(const char *s)
{
    return rotate(s, 1);
}
