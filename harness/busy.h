/* busy: was the machine busy while a region was measured? A wall-clock
 * number from a starved run measures the other load, not the code, so each
 * row records how much CPU the region got and the verdict `starved`:
 *
 *   cpu_util      task CPU time / wall time / threads (1.0: every thread ran
 *                 all the time). Informative only: parts of a decode run on
 *                 one thread and a server waits for arrivals, so a low value
 *                 alone does not mean starved.
 *   cpu_wait      share of the threads' time spent runnable but waiting for a
 *                 CPU (run_delay of /proc/self/task/<tid>/schedstat, summed
 *                 over threads, / (wall time * threads)): the direct measure
 *                 of competition for the cores.
 *   steal         share of all CPUs' time the hypervisor gave to other
 *                 guests (/proc/stat "steal").
 *   load1         the 1-minute load average at the end (/proc/loadavg);
 *                 informative (it lags by a minute).
 *
 * starved: cpu_wait > BUSY_WAIT_MAX or steal > BUSY_STEAL_MAX; where the
 * kernel has no schedstat, cpu_util < BUSY_UTIL_MIN instead (not in server
 * mode, which idles by design). docs/ci.md explains the thresholds.
 * Owns only reading /proc and the rule; printing is the caller's. */
#ifndef BUSY_H
#define BUSY_H

#define BUSY_WAIT_MAX 0.10
#define BUSY_STEAL_MAX 0.05
#define BUSY_UTIL_MIN 0.50

typedef struct busy_mark {
    int have_sched;            /* schedstat readable at both ends */
    double wait0, wait_s;      /* run-queue wait of all threads, seconds */
    int have_stat;
    unsigned long long steal0, total0, steal, total; /* /proc/stat jiffies, all CPUs */
} busy_mark_t;

void busy_begin(busy_mark_t *b);
void busy_end(busy_mark_t *b);

typedef struct busy {
    double cpu_util;           /* NAN when unknown */
    double cpu_wait;           /* fraction; NAN when schedstat is missing */
    double steal;              /* fraction; NAN when /proc/stat is missing */
    double load1;              /* NAN when missing */
    int starved;
    char why[160];             /* "" unless starved: which measure, how much */
} busy_t;

/* Judges a region of wall_s seconds in which the process used cpu_s CPU
 * seconds with `threads` compute threads; idles_by_design: server mode. */
void busy_judge(const busy_mark_t *b, double wall_s, double cpu_s, int threads, int idles_by_design,
                busy_t *out);

#endif
