/* mb_text: untrusted text (cells of a CSV, names from a file) made safe to
 * show: for a terminal (control characters as visible escapes, so a cell
 * cannot move the cursor, clear the screen or split a line) and for a
 * Markdown table cell (the same, and '|' escaped so a cell cannot split the
 * row). Owns only the escaping; callers decide where text is shown. */
#ifndef MB_TEXT_H
#define MB_TEXT_H

#include <stddef.h>

/* Writes s into dst (size n, always NUL-terminated; long text is cut with
 * "..."): '\n' -> "\n", '\r' -> "\r", '\t' -> "\t", other bytes below 0x20
 * and 0x7f -> "\xNN". UTF-8 above 0x7f is kept. With markdown, '|' -> "\|"
 * too. Returns dst. */
char *mb_text_escape(char *dst, size_t n, const char *s, int markdown);

/* The same into one of a few rotating static buffers (512 bytes), for use
 * inside one printf call: at most 8 results are valid at a time. Not
 * thread-safe: for printing reports from one thread. */
const char *mb_term(const char *s);
const char *mb_md(const char *s);

/* 1 when s holds a byte that mb_text_escape would change (markdown or not). */
int mb_text_needs_escape(const char *s, int markdown);

#endif
