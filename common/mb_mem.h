/* mb_mem: size arithmetic that cannot overflow, and the memory guard that
 * refuses an allocation this machine cannot hold before it is attempted.
 *
 * The limit is the machine's physical memory (MemTotal) or, when set, the
 * environment variable MOEBENCH_MEM_LIMIT (bytes, with optional K/M/G suffix),
 * which tests use to exercise the refusal without huge models. */
#ifndef MB_MEM_H
#define MB_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "common/mb_error.h"

/* *out = a * b; returns 0, or -1 when the product overflows size_t. */
int mb_mul_size(size_t a, size_t b, size_t *out);
/* Resizes *p to n elements of `elem` bytes (realloc; n may be 0); 0 or -1. */
int mb_grow(void **p, size_t n, size_t elem);
/* Geometric growth for append loops: makes *p (of *cap elements) hold at
 * least `need` elements, doubling from 16; -1 on overflow or ENOMEM (*p and
 * *cap unchanged). */
int mb_grow_cap(void **p, size_t *cap, size_t need, size_t elem);
/* Bytes this process may use for one large object (see above). */
uint64_t mb_mem_limit(void);
/* 0 when `bytes` fits under the limit; else -1 with a message naming `what`,
 * the size, the limit and `fix`. */
int mb_mem_check(uint64_t bytes, const char *what, const char *fix, mb_error_t *err);
/* "1.23 GiB"-style rendering into buf. */
const char *mb_human_bytes(uint64_t bytes, char *buf, size_t len);
/* Peak resident set size of this process in bytes (0 when unknown). */
uint64_t mb_peak_rss(void);

#endif
