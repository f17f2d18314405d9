/* auto: `--backend auto`, the backend that measures fastest on this machine.
 *
 * A short micro-benchmark (about a second) times every compiled-in
 * backend that accepts the precision, except the oracle ref, on a few
 * representative linear-layer shapes (prefill, batched decode, batch-1
 * decode, at wmt-dense sizes), each backend in its own forked process so
 * that OpenMP and OpenBLAS thread pools never compete; each shape's time is
 * weighed by its share of a translation, and the lowest total wins. The
 * choice is cached in $XDG_CACHE_HOME/moebench/backend-choice (or
 * ~/.cache/moebench/backend-choice), one line per key, the key being the
 * CPU model, moebench's version, the method, the libraries' versions, the
 * thread count and the precision, so a new machine, library, release or
 * method measures again.
 * This module owns the benchmark and the cache file; registry.c owns the
 * list of backends and calls be_auto_choose when asked for "auto". */
#ifndef BE_AUTO_H
#define BE_AUTO_H

#include "backends/backend.h"

#define BE_AUTO_MAX 4
#define BE_AUTO_SHAPES 5       /* the shapes of one pass (auto.c) */

typedef struct be_auto_choice {
    char backend[32];          /* the chosen backend's name */
    int cached;                /* 1: read from the cache file, 0: measured now */
    char cache_path[512];      /* "" when no cache file could be used */
    /* the figures: a translation's GEMM seconds modelled from the shapes, per candidate */
    int n;
    char name[BE_AUTO_MAX][32];
    double seconds[BE_AUTO_MAX];
    /* per shape (median seconds), when known: 0 for a cache line written before they were kept */
    int has_shapes;
    double shape_s[BE_AUTO_MAX][BE_AUTO_SHAPES];
} be_auto_choice_t;

/* Chooses for `threads` (0 = the backends' default) and `precision`, from
 * the cache or by measuring (then caching). Fails when no backend but ref
 * accepts the precision and ref does not either. */
int be_auto_choose(int threads, be_precision_t precision, be_auto_choice_t *out, mb_error_t *err);

/* "onednn (0.0123 s) < openblas (0.0150 s); measured now" for messages. */
void be_auto_describe(const be_auto_choice_t *c, char *buf, size_t len);

/* Whether choosing per shape class would pay: the fastest backend of each shape and the time of
 * one pass if each shape ran on its own fastest, against the chosen backend's pass, e.g.
 * "per shape, fastest: prefill-ffn onednn (1.595 ms), ...; onednn is fastest on every shape, so
 * choosing per shape class would not pay here". Empty when the figures per shape are not known. */
void be_auto_describe_shapes(const be_auto_choice_t *c, char *buf, size_t len);

#endif
