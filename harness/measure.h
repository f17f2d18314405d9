/* measure: what a measured region records: the monotonic clock, latency
 * statistics (nearest-rank percentiles), hardware counters through PAPI
 * (optional at run time: where the machine has none, the cells stay empty
 * and a note says why), and process-wide CPU time, page faults and peak
 * memory from getrusage (these include the backend's worker threads, which
 * a per-thread PAPI event set would miss). */
#ifndef MEASURE_H
#define MEASURE_H

#include <stdint.h>

#include "harness/busy.h"

typedef struct meas_summary {
    int n;
    double mean, std;          /* std: sample standard deviation (0 for n < 2) */
    double p50, p90, p99;      /* nearest rank: the ceil(p/100 * n)-th smallest */
    double min, max;
} meas_summary_t;

/* Sorts x in place and summarises it. */
void meas_summarize(double *x, int n, meas_summary_t *out);

#define MEAS_MAX_COUNTERS 8

typedef struct meas_counters {
    int n;                                 /* requested */
    char name[MEAS_MAX_COUNTERS][32];
    int ok[MEAS_MAX_COUNTERS];             /* counting this one */
    int event_set;                         /* PAPI event set, or -1 */
    char note[256];                        /* why some are not counted; empty if all are */
} meas_counters_t;

/* Sets up the named PAPI events; never fails: what cannot be counted is
 * left out and explained in c->note. */
void meas_counters_open(meas_counters_t *c, char names[][32], int n);
void meas_counters_close(meas_counters_t *c);

typedef struct meas_region {
    double t0, wall_s;
    double cpu0, cpu_s;                    /* user + system CPU seconds, all threads */
    long faults0, faults;
    long long values[MEAS_MAX_COUNTERS];   /* valid where c->ok[i] */
    busy_mark_t busy;                      /* CPU competition (busy.h), read outside the timed span */
} meas_region_t;

void meas_begin(meas_counters_t *c, meas_region_t *r);
void meas_end(meas_counters_t *c, meas_region_t *r);

/* Peak memory of one configuration alone: meas_rss_reset() returns freed
 * heap memory to the system (malloc_trim) and sets the
 * kernel's high-water mark (VmHWM) back to the current RSS by writing "5" to
 * /proc/self/clear_refs (Linux >= 4.0); meas_rss_peak() reads VmHWM. Returns
 * 0, or -1 where that cannot be done (then only the process-wide peak from
 * getrusage is known). */
int meas_rss_reset(void);
/* Bytes; 0 when unknown. */
uint64_t meas_rss_peak(void);

#endif
