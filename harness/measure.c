/* measure: clock, statistics, PAPI counters and rusage (see measure.h). */
#include "harness/measure.h"
#include "common/mb_clock.h"
#include "common/mb_stats.h"

#include <malloc.h>
#include <math.h>
#include <papi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>


void meas_summarize(double *x, int n, meas_summary_t *o)
{
    memset(o, 0, sizeof *o);
    o->n = n;
    if (n <= 0) {
        o->mean = o->std = o->p50 = o->p90 = o->p99 = o->min = o->max = NAN;
        return;
    }
    mb_sort(x, (size_t)n);
    double sum = 0, ss = 0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    o->mean = sum / n;
    for (int i = 0; i < n; i++)
        ss += (x[i] - o->mean) * (x[i] - o->mean);
    o->std = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
    o->p50 = mb_percentile_sorted(x, (size_t)n, 50);
    o->p90 = mb_percentile_sorted(x, (size_t)n, 90);
    o->p99 = mb_percentile_sorted(x, (size_t)n, 99);
    o->min = x[0];
    o->max = x[n - 1];
}

/* ---- counters ---- */

void meas_counters_open(meas_counters_t *c, char names[][32], int n)
{
    memset(c, 0, sizeof *c);
    c->event_set = PAPI_NULL;
    c->n = n < MEAS_MAX_COUNTERS ? n : MEAS_MAX_COUNTERS;
    for (int i = 0; i < c->n; i++)
        snprintf(c->name[i], sizeof c->name[i], "%s", names[i]);
    if (c->n == 0)
        return;
    int rc = (int)PAPI_VER_CURRENT;
    if (!PAPI_is_initialized())
        rc = PAPI_library_init(PAPI_VER_CURRENT);
    if (rc != (int)PAPI_VER_CURRENT) {
        snprintf(c->note, sizeof c->note, "PAPI could not start (%s)", PAPI_strerror(rc));
        return;
    }
    if (PAPI_create_eventset(&c->event_set) != PAPI_OK) {
        c->event_set = PAPI_NULL;
        snprintf(c->note, sizeof c->note, "PAPI could not create an event set");
        return;
    }
    int counting = 0, missing = 0;
    for (int i = 0; i < c->n; i++) {
        rc = PAPI_add_named_event(c->event_set, c->name[i]);
        c->ok[i] = rc == PAPI_OK;
        counting += c->ok[i];
        missing += rc == PAPI_ENOEVNT;
        if (rc != PAPI_OK) {
            size_t len = strlen(c->note);
            snprintf(c->note + len, sizeof c->note - len, "%s%s: %s", len ? "; " : "", c->name[i],
                     rc == PAPI_ENOEVNT ? "not available" : PAPI_strerror(rc));
        }
    }
    if (missing == c->n) /* the usual case in a VM: one short note for all */
        snprintf(c->note, sizeof c->note, "no hardware counters: PAPI has none of %d requested events "
                 "(PAPI_ENOEVNT: no PMU as in most VMs)", c->n);
    if (counting == 0) {
        PAPI_cleanup_eventset(c->event_set);
        PAPI_destroy_eventset(&c->event_set);
        c->event_set = PAPI_NULL;
    }
}

void meas_counters_close(meas_counters_t *c)
{
    if (c->event_set != PAPI_NULL) {
        PAPI_cleanup_eventset(c->event_set);
        PAPI_destroy_eventset(&c->event_set);
    }
    c->event_set = PAPI_NULL;
}

/* CPU time of all threads from the scheduler's exact accounting (getrusage's
 * times are sampled at clock ticks), page faults from getrusage. */
static void usage_now(double *cpu, long *faults)
{
    struct rusage ru;
    *cpu = mb_process_cpu_s();
    getrusage(RUSAGE_SELF, &ru);
    *faults = ru.ru_minflt + ru.ru_majflt;
}

void meas_begin(meas_counters_t *c, meas_region_t *r)
{
    memset(r, 0, sizeof *r);
    busy_begin(&r->busy);
    usage_now(&r->cpu0, &r->faults0);
    if (c && c->event_set != PAPI_NULL && PAPI_start(c->event_set) != PAPI_OK) {
        snprintf(c->note, sizeof c->note, "PAPI_start failed; counters off");
        meas_counters_close(c);
    }
    r->t0 = mb_now();
}

void meas_end(meas_counters_t *c, meas_region_t *r)
{
    r->wall_s = mb_now() - r->t0;
    if (c && c->event_set != PAPI_NULL) {
        long long v[MEAS_MAX_COUNTERS] = {0};
        if (PAPI_stop(c->event_set, v) == PAPI_OK) {
            /* values come back in the order the events were added (ok ones only) */
            for (int i = 0, j = 0; i < c->n; i++)
                if (c->ok[i])
                    r->values[i] = v[j++];
        }
    }
    double cpu;
    long faults;
    usage_now(&cpu, &faults);
    r->cpu_s = cpu - r->cpu0;
    r->faults = faults - r->faults0;
    busy_end(&r->busy);
}

int meas_rss_reset(void)
{
#ifdef __GLIBC__
    /* memory freed by what ran before (another variant's model, its
     * workspaces) stays resident in malloc's heap and would count in the
     * next configuration's peak, so the figures would depend on the order
     * of the plan: give it back first */
    malloc_trim(0);
#endif
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

uint64_t meas_rss_peak(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (uint64_t)kb * 1024u;
}
