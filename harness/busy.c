/* busy: CPU competition during a measured region (see busy.h). */
#include "harness/busy.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sum of run_delay (ns, the second field) over this process's threads;
 * -1 when schedstat is unavailable (kernel without CONFIG_SCHEDSTATS). */
static double sched_wait_s(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    double sum = 0;
    int any = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long run, wait;
        if (!f)
            continue; /* the thread ended meanwhile */
        if (fscanf(f, "%llu %llu", &run, &wait) == 2) {
            sum += (double)wait * 1e-9;
            any = 1;
        }
        fclose(f);
    }
    closedir(d);
    return any ? sum : -1;
}

static int proc_stat(unsigned long long *steal, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[10] = {0};
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9])
              : 0;
    if (f)
        fclose(f);
    if (n < 8)
        return -1;
    /* user nice system idle iowait irq softirq steal [guest guest_nice]:
     * guest time is already inside user, so the total is the first eight. */
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += v[i];
    *steal = v[7];
    return 0;
}

void busy_begin(busy_mark_t *b)
{
    memset(b, 0, sizeof *b);
    b->wait0 = sched_wait_s();
    b->have_stat = proc_stat(&b->steal0, &b->total0) == 0;
}

void busy_end(busy_mark_t *b)
{
    double w = sched_wait_s();
    b->have_sched = b->wait0 >= 0 && w >= 0;
    /* threads that ended inside the region take their wait with them: never below 0 */
    b->wait_s = b->have_sched && w > b->wait0 ? w - b->wait0 : 0;
    if (b->have_stat && proc_stat(&b->steal, &b->total) == 0) {
        b->steal -= b->steal0 < b->steal ? b->steal0 : b->steal;
        b->total -= b->total0 < b->total ? b->total0 : b->total;
    } else {
        b->have_stat = 0;
    }
}

static double load1(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double x = NAN;
    if (f && fscanf(f, "%lf", &x) != 1)
        x = NAN;
    if (f)
        fclose(f);
    return x;
}

void busy_judge(const busy_mark_t *b, double wall_s, double cpu_s, int threads, int idles_by_design,
                busy_t *o)
{
    memset(o, 0, sizeof *o);
    if (threads < 1)
        threads = 1;
    o->cpu_util = wall_s > 0 ? cpu_s / wall_s / threads : NAN;
    o->cpu_wait = b->have_sched && wall_s > 0 ? b->wait_s / (wall_s * threads) : NAN;
    /* /proc/stat counts in clock ticks (usually 10 ms): a region shorter than
     * a few ticks has no meaningful steal share */
    o->steal = b->have_stat && b->total >= 10 ? (double)b->steal / (double)b->total : NAN;
    o->load1 = load1();
    if (!isnan(o->cpu_wait) && o->cpu_wait > BUSY_WAIT_MAX)
        snprintf(o->why, sizeof o->why, "threads waited for a CPU %.0f%% of the time (> %.0f%%)",
                 100 * o->cpu_wait, 100 * BUSY_WAIT_MAX);
    else if (!isnan(o->steal) && o->steal > BUSY_STEAL_MAX)
        snprintf(o->why, sizeof o->why, "the hypervisor stole %.0f%% of CPU time (> %.0f%%)",
                 100 * o->steal, 100 * BUSY_STEAL_MAX);
    else if (isnan(o->cpu_wait) && !idles_by_design && !isnan(o->cpu_util) && o->cpu_util < BUSY_UTIL_MIN)
        snprintf(o->why, sizeof o->why, "CPU utilisation %.2f per thread (< %.2f; no schedstat)",
                 o->cpu_util, BUSY_UTIL_MIN);
    o->starved = o->why[0] != '\0';
}
