/* cmp_samples: what `compare` judges a metric on, from the rows of one
 * configuration in one file. Three rules live here:
 *   - starved repetitions (column `starved` = 1, harness/busy.h) are left
 *     out of wall-clock metrics: they measured the other load;
 *   - with the run as the unit (compare --run, --unit run), the rows of each
 *     run (`run_id`) become one value, their median, so the test sees the
 *     shifts between runs and not only the noise within one;
 *   - the median measured time of a repetition (`wall_s`) is reported, so
 *     that repetitions too short to time do not decide.
 * Older files without these columns are read as before. Owns no verdicts
 * (compare.c) and no statistics (stats.c). */
#ifndef CMP_SAMPLES_H
#define CMP_SAMPLES_H

#include <stddef.h>

#include "analysis/csvin.h"

/* Optional columns of a file; -1 when absent. */
typedef struct cmp_cols {
    long run_id, starved, wall_s, kernel;
} cmp_cols_t;

void cmp_cols_find(const csvin_t *t, cmp_cols_t *c);

/* 1 for metrics measured with the clock (throughputs, latencies, wall_s,
 * task_clock_ms, latency_ok): the ones a busy machine distorts. */
int cmp_metric_is_timing(const char *column);

typedef struct cmp_sample_info {
    size_t starved;      /* rows left out as starved (timing metrics only) */
    size_t runs;         /* distinct run_id values among the rows used */
    double rep_s;        /* median wall_s of the rows used (NAN: unknown) */
} cmp_sample_info_t;

/* The sample of one metric: v[i] is the metric's value in row i of t (NAN:
 * empty cell), rows[0..n) the configuration's rows. Writes at most n values
 * to x and their number to *k. Returns -1 only when out of memory. */
int cmp_collect(const csvin_t *t, const cmp_cols_t *c, const size_t *rows, size_t n, const double *v,
                int timing, int per_run, double *x, size_t *k, cmp_sample_info_t *info);

/* The kernels (column `kernel`) of a configuration's rows in a file, joined
 * with " + " in order of appearance, into buf; "" when the column is absent. */
void cmp_kernels(const csvin_t *t, const cmp_cols_t *c, const size_t *rows, size_t n, char *buf,
                 size_t len);

#endif
