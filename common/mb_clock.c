/* mb_clock: monotonic and CPU-time clocks (see mb_clock.h). */
#include "common/mb_clock.h"

#include <time.h>

static double read_clock(clockid_t id)
{
    struct timespec t;
    if (clock_gettime(id, &t) != 0 && clock_gettime(CLOCK_MONOTONIC, &t) != 0)
        return 0;
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double mb_now(void)
{
    return read_clock(CLOCK_MONOTONIC);
}

double mb_thread_cpu_s(void)
{
    return read_clock(CLOCK_THREAD_CPUTIME_ID);
}

double mb_process_cpu_s(void)
{
    return read_clock(CLOCK_PROCESS_CPUTIME_ID);
}
