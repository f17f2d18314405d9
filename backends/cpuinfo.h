/* cpuinfo: what this machine can do at most, measured rather than assumed:
 * usable cores, vector ISA (cpuid), the real clock under load (a timed chain
 * of dependent integer adds: one per cycle on every x86 core since the P6),
 * fp32 FMA and bf16 dot-product throughput per cycle (timed independent
 * chains of the widest instruction the CPU has), and a STREAM-style triad
 * for memory bandwidth. `moebench kernels` prints backend figures beside
 * these limits. This module owns no backend and no output format. */
#ifndef CPUINFO_H
#define CPUINFO_H

#include <stddef.h>

typedef struct cpuinfo {
    char model[128];           /* /proc/cpuinfo "model name" */
    int cores;                 /* CPUs this process may run on */
    int avx2, fma, avx512f, avx512bf16;
    int vector_bits;           /* widest float vector: 512, 256 or 128 */
    double nominal_mhz;        /* /proc/cpuinfo "cpu MHz" (0 when absent) */
    double clock_ghz;          /* measured on all `threads` cores at once */
    double fp32_flop_cycle;    /* measured per core: fp32 FLOP per cycle */
    double bf16_flop_cycle;    /* measured per core (0 without avx512_bf16) */
    /* The clock the FMA (and bf16 dot-product) chains ran at: their FLOP/s over FLOP/cycle, at
     * most clock_ghz. Lower where wide vector code runs at a lower clock (AVX-512 on Intel:
     * 3.44 against 3.93 GHz on the Sapphire Rapids-class machine of issue 18). */
    double fp32_clock_ghz, bf16_clock_ghz;
} cpuinfo_t;

/* Detects the ISA and measures clock and per-cycle throughput with
 * `threads` threads busy at once (0: all cores); takes about 0.3 s. */
void cpuinfo_detect(cpuinfo_t *ci, int threads);

/* Peak GFLOP/s of `threads` cores (0: all): cores x FLOP/cycle x the clock the chains ran at. */
double cpuinfo_peak_gflops(const cpuinfo_t *ci, int threads, int bf16);

/* STREAM-style triad a[i] = b[i] + s * c[i] over three arrays of `n` floats
 * on `threads` threads; the median GB/s (STREAM's count: 12 bytes per
 * element; a pass lasts from the first thread's start to the last one's
 * end) of passes lasting at least min_s in all. Returns 0 on
 * success, -1 when the arrays cannot be allocated. */
int cpuinfo_triad(size_t n, int threads, double min_s, double *gbytes_s);

#endif
