/* mb_clock: the clocks moebench measures with, in seconds as doubles:
 * monotonic wall time, the calling thread's CPU time (what a micro-kernel
 * that must not count time spent descheduled uses) and the process's CPU
 * time (all threads, from the scheduler's exact accounting). */
#ifndef COMMON_MB_CLOCK_H
#define COMMON_MB_CLOCK_H
double mb_now(void);
double mb_thread_cpu_s(void);
double mb_process_cpu_s(void);
#endif
