/* cpuinfo: ISA detection and timed micro-kernels for the machine's limits
 * (see cpuinfo.h). The micro-kernels run on every requested core at once,
 * behind a barrier, so the clock is the all-core clock a GEMM really gets,
 * not a one-core turbo figure. */
#include "backends/cpuinfo.h"
#include "common/mb_clock.h"
#include "common/mb_stats.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPUINFO_X86 1
#endif

/* CPU time of the calling thread: the micro-kernels time themselves with it,
 * so that another process sharing the core does not make the clock look
 * slower (time spent descheduled is not counted). */
static double thread_now(void)
{
    return mb_thread_cpu_s();
}

static int usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void read_proc_cpuinfo(cpuinfo_t *ci)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *val = colon + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        val[strcspn(val, "\n")] = 0;
        if (!ci->model[0] && !strncmp(line, "model name", 10))
            snprintf(ci->model, sizeof ci->model, "%s", val);
        else if (ci->nominal_mhz == 0 && !strncmp(line, "cpu MHz", 7))
            ci->nominal_mhz = atof(val);
    }
    fclose(f);
}

/* A start gate: threads created one by one wait here until all exist, so
 * that a failed pthread_create can send the others home (a thread blocked in
 * a barrier cannot be cancelled). */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;                 /* 0 wait, 1 go, -1 abort */
} gate_t;

static int gate_wait(gate_t *g)
{
    pthread_mutex_lock(&g->mu);
    while (g->state == 0)
        pthread_cond_wait(&g->cv, &g->mu);
    int go = g->state > 0;
    pthread_mutex_unlock(&g->mu);
    return go;
}

static void gate_open(gate_t *g, int go)
{
    pthread_mutex_lock(&g->mu);
    g->state = go ? 1 : -1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Runs fn(args + i * size) for i in [0, n) on n threads, the caller being
 * thread 0, all released together. Returns 0, or -1 (having run nothing)
 * when the threads could not be created. */
typedef struct gated {
    gate_t *g;
    void *(*fn)(void *);
    void *arg;
} gated_t;

static void *gated_main(void *p)
{
    gated_t *x = p;
    if (gate_wait(x->g))
        x->fn(x->arg);
    return NULL;
}

static int run_threads(int n, void *(*fn)(void *), void *args, size_t size)
{
    gate_t g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    pthread_t *tid = calloc((size_t)n, sizeof *tid);
    gated_t *gx = calloc((size_t)n, sizeof *gx);
    int started = 1;
    if (tid && gx)
        for (int i = 1; i < n && started == i; i++) {
            gx[i] = (gated_t){&g, fn, (char *)args + (size_t)i * size};
            if (pthread_create(&tid[i], NULL, gated_main, &gx[i]) == 0)
                started++;
        }
    int ok = tid && gx && started == n;
    gate_open(&g, ok);
    if (ok)
        fn(args);
    for (int i = 1; i < started; i++)
        pthread_join(tid[i], NULL);
    free(tid);
    free(gx);
    return ok ? 0 : -1;
}

/* ---- timed micro-kernels: each returns the seconds it ran ---- */

/* 16 dependent one-cycle adds per iteration: cycles = 16 * iterations. The
 * adds take a register, not an immediate: Intel's Golden Cove cores (Sapphire
 * Rapids, Alder Lake P-cores) fold chains of add-immediate in the renamer,
 * and such a chain measured a 21 GHz clock there, 8 times the real one. */
static double clock_chain(long iters)
{
#ifdef CPUINFO_X86
    uint64_t v = 0, one = 1;
    double t0 = thread_now();
    for (long i = 0; i < iters; i++)
        __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                         "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                         "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                         "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                         : "+r"(v)
                         : "r"(one));
    return thread_now() - t0;
#else
    (void)iters;
    return 0.0;
#endif
}

#ifdef CPUINFO_X86
/* 12 independent FMA chains: enough to cover a 4-cycle latency on two pipes. */
#define FMA_CHAINS(T, SET1, FMA, ADD, STORE, lanes)                                        \
    T a0 = SET1(1.0f), a1 = SET1(1.1f), a2 = SET1(1.2f), a3 = SET1(1.3f), a4 = SET1(1.4f); \
    T a5 = SET1(1.5f), a6 = SET1(1.6f), a7 = SET1(1.7f), a8 = SET1(1.8f), a9 = SET1(1.9f); \
    T a10 = SET1(2.0f), a11 = SET1(2.1f), m = SET1(0.999999f), c = SET1(1e-6f);           \
    double t0 = thread_now();                                                             \
    for (long i = 0; i < iters; i++) {                                                     \
        a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);   \
        a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);   \
        a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c); \
    }                                                                                      \
    double t = thread_now() - t0;                                                         \
    a0 = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                \
    a0 = ADD(a0, ADD(ADD(a8, a9), ADD(a10, a11)));                                         \
    float out[lanes];                                                                      \
    STORE(out, a0);                                                                        \
    sink += out[0];                                                                        \
    return t;

static volatile float sink;

__attribute__((target("avx512f"))) static double fma_avx512(long iters)
{
    FMA_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps, 16)
}

__attribute__((target("avx2,fma"))) static double fma_avx2(long iters)
{
    FMA_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps, 8)
}

static inline __m128 mul_add_sse(__m128 a, __m128 b, __m128 c)
{
    return _mm_add_ps(_mm_mul_ps(a, b), c);
}

static double mul_add_sse_k(long iters)
{
    FMA_CHAINS(__m128, _mm_set1_ps, mul_add_sse, _mm_add_ps, _mm_storeu_ps, 4)
}

/* vdpbf16ps: 16 lanes x 2 products, i.e. 64 FLOP per instruction. */
__attribute__((target("avx512f,avx512bf16"))) static inline __m512 dpbf16(__m512 acc, __m512bh a, __m512bh b)
{
    return _mm512_dpbf16_ps(acc, a, b);
}

__attribute__((target("avx512f,avx512bf16"))) static double bf16_avx512(long iters)
{
    /* distinct starting values, or the compiler merges identical chains */
    __m512 a0 = _mm512_set1_ps(0.0f), a1 = _mm512_set1_ps(0.1f), a2 = _mm512_set1_ps(0.2f);
    __m512 a3 = _mm512_set1_ps(0.3f), a4 = _mm512_set1_ps(0.4f), a5 = _mm512_set1_ps(0.5f);
    __m512 a6 = _mm512_set1_ps(0.6f), a7 = _mm512_set1_ps(0.7f), a8 = _mm512_set1_ps(0.8f);
    __m512 a9 = _mm512_set1_ps(0.9f), a10 = _mm512_set1_ps(1.0f), a11 = _mm512_set1_ps(1.1f);
    __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
    __m512bh y = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(3e-3f));
    double t0 = thread_now();
    for (long i = 0; i < iters; i++) {
        a0 = dpbf16(a0, x, y); a1 = dpbf16(a1, x, y); a2 = dpbf16(a2, x, y); a3 = dpbf16(a3, x, y);
        a4 = dpbf16(a4, x, y); a5 = dpbf16(a5, x, y); a6 = dpbf16(a6, x, y); a7 = dpbf16(a7, x, y);
        a8 = dpbf16(a8, x, y); a9 = dpbf16(a9, x, y); a10 = dpbf16(a10, x, y); a11 = dpbf16(a11, x, y);
    }
    double t = thread_now() - t0;
    a0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                       _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    a0 = _mm512_add_ps(a0, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    sink += _mm512_reduce_add_ps(a0);
    return t;
}
#endif

/* ---- running the micro-kernels on all threads at once ---- */

typedef struct probe {
    pthread_barrier_t *bar;
    const cpuinfo_t *ci;
    double clock_ghz, fp32_fps, bf16_fps; /* the clock; FLOP per second of each chain */
} probe_t;

/* Iterations/s of `k`: calibrated to bursts of about burst_s, the best of
 * `bursts` (another process taking the core can only make a burst slower). */
static double rate(double (*k)(long), double burst_s, int bursts)
{
    long iters = 1000;
    double t = k(iters);
    while (t < burst_s / 8 && iters < (1L << 40)) {
        iters *= 4;
        t = k(iters);
    }
    if (t <= 0)
        return 0;
    long want = (long)((double)iters * burst_s / t) + 1;
    double best = 0;
    for (int b = 0; b < bursts; b++) {
        t = k(want);
        if (t > 0 && (double)want / t > best)
            best = (double)want / t;
    }
    return best;
}

static void *probe_main(void *arg)
{
    probe_t *p = arg;
    const cpuinfo_t *ci = p->ci;
    pthread_barrier_wait(p->bar);
    double hz = 16.0 * rate(clock_chain, 0.01, 8);
    p->clock_ghz = hz * 1e-9;
    pthread_barrier_wait(p->bar);
#ifdef CPUINFO_X86
    double flops = 0;
    if (ci->avx512f)
        flops = 12.0 * 16 * 2 * rate(fma_avx512, 0.01, 6);
    else if (ci->avx2 && ci->fma)
        flops = 12.0 * 8 * 2 * rate(fma_avx2, 0.01, 6);
    else
        flops = 12.0 * 4 * 2 * rate(mul_add_sse_k, 0.01, 6);
    p->fp32_fps = flops;
    pthread_barrier_wait(p->bar);
    if (ci->avx512bf16)
        p->bf16_fps = 12.0 * 64 * rate(bf16_avx512, 0.01, 6);
#else
    (void)ci;
    pthread_barrier_wait(p->bar);
#endif
    return NULL;
}

void cpuinfo_detect(cpuinfo_t *ci, int threads)
{
    memset(ci, 0, sizeof *ci);
    ci->cores = usable_cores();
    read_proc_cpuinfo(ci);
#ifdef CPUINFO_X86
    __builtin_cpu_init();
    ci->avx2 = __builtin_cpu_supports("avx2") != 0;
    ci->fma = __builtin_cpu_supports("fma") != 0;
    ci->avx512f = __builtin_cpu_supports("avx512f") != 0;
    ci->avx512bf16 = ci->avx512f && __builtin_cpu_supports("avx512bf16") != 0;
    ci->vector_bits = ci->avx512f ? 512 : __builtin_cpu_supports("avx") ? 256 : 128;
#else
    ci->vector_bits = 128;
#endif
    int n = threads > 0 ? threads : ci->cores;
    if (n > ci->cores)
        n = ci->cores;
    probe_t *p = calloc((size_t)n, sizeof *p);
    pthread_barrier_t bar;
    if (!p) {
        ci->clock_ghz = ci->nominal_mhz * 1e-3;
        return;
    }
    for (int tries = 0; tries < 2; tries++, n = 1) { /* all cores, else this one alone */
        if (pthread_barrier_init(&bar, NULL, (unsigned)n) != 0)
            continue;
        for (int i = 0; i < n; i++)
            p[i] = (probe_t){&bar, ci, 0, 0, 0};
        int rc = run_threads(n, probe_main, p, sizeof *p);
        pthread_barrier_destroy(&bar);
        if (rc == 0)
            break;
    }
    /* best over threads: a thread that shared its core with another process
     * measured less than the hardware does */
    double clk = 0, f32 = 0, b16 = 0;
    for (int i = 0; i < n; i++) {
        clk = p[i].clock_ghz > clk ? p[i].clock_ghz : clk;
        f32 = p[i].fp32_fps > f32 ? p[i].fp32_fps : f32;
        b16 = p[i].bf16_fps > b16 ? p[i].bf16_fps : b16;
    }
    ci->clock_ghz = clk > 0 ? clk : ci->nominal_mhz * 1e-3;
    /* throughput per cycle is a small power of two: rounding takes off timer noise and a lower
     * vector clock (a 13% lower AVX-512 clock still rounds to the same power); the clock the
     * chains really ran at is then what is left */
    double hz = ci->clock_ghz * 1e9;
    ci->fp32_flop_cycle = f32 > 0 && hz > 0 ? exp2(round(log2(f32 / hz))) : 0;
    ci->bf16_flop_cycle = b16 > 0 && hz > 0 ? exp2(round(log2(b16 / hz))) : 0;
    ci->fp32_clock_ghz = ci->fp32_flop_cycle > 0 ? fmin(f32 / ci->fp32_flop_cycle * 1e-9, ci->clock_ghz) : ci->clock_ghz;
    ci->bf16_clock_ghz = ci->bf16_flop_cycle > 0 ? fmin(b16 / ci->bf16_flop_cycle * 1e-9, ci->clock_ghz) : ci->clock_ghz;
    free(p);
}

double cpuinfo_peak_gflops(const cpuinfo_t *ci, int threads, int bf16)
{
    int n = threads > 0 && threads < ci->cores ? threads : ci->cores;
    return n * (bf16 ? ci->bf16_flop_cycle * ci->bf16_clock_ghz : ci->fp32_flop_cycle * ci->fp32_clock_ghz);
}

/* ---- triad ---- */

#define TRIAD_MAX_REPS 200

typedef struct triad_shared {
    float *a, *b, *c;
    size_t n;
    int nt;
    pthread_barrier_t bar;
    double min_s, sum;
    double times[TRIAD_MAX_REPS];
    double *start, *end;       /* [nt] this pass's start and end on each thread */
    int nrep, stop;
} triad_shared_t;

typedef struct triad_arg {
    triad_shared_t *sh;
    int id;
} triad_arg_t;

/* a[i] = b[i] + s * c[i] over [lo, hi): written with intrinsics because the
 * -O2 build does not vectorise it, and a scalar loop cannot load memory at
 * the rate the bus delivers. Ordinary stores, as STREAM does. */
#ifdef CPUINFO_X86
__attribute__((target("avx512f"))) static void triad_avx512(float *a, const float *b, const float *c, float s,
                                                           size_t lo, size_t hi)
{
    __m512 vs = _mm512_set1_ps(s);
    size_t i = lo;
    for (; i + 16 <= hi; i += 16)
        _mm512_storeu_ps(a + i, _mm512_add_ps(_mm512_loadu_ps(b + i), _mm512_mul_ps(vs, _mm512_loadu_ps(c + i))));
    for (; i < hi; i++)
        a[i] = b[i] + s * c[i];
}

__attribute__((target("avx"))) static void triad_avx(float *a, const float *b, const float *c, float s, size_t lo,
                                                    size_t hi)
{
    __m256 vs = _mm256_set1_ps(s);
    size_t i = lo;
    for (; i + 8 <= hi; i += 8)
        _mm256_storeu_ps(a + i, _mm256_add_ps(_mm256_loadu_ps(b + i), _mm256_mul_ps(vs, _mm256_loadu_ps(c + i))));
    for (; i < hi; i++)
        a[i] = b[i] + s * c[i];
}
#endif

static void triad_kernel(float *a, const float *b, const float *c, float s, size_t lo, size_t hi)
{
#ifdef CPUINFO_X86
    if (__builtin_cpu_supports("avx512f")) {
        triad_avx512(a, b, c, s, lo, hi);
        return;
    }
    if (__builtin_cpu_supports("avx")) {
        triad_avx(a, b, c, s, lo, hi);
        return;
    }
#endif
    for (size_t i = lo; i < hi; i++)
        a[i] = b[i] + s * c[i];
}

static void *triad_main(void *arg)
{
    triad_arg_t *ta = arg;
    triad_shared_t *sh = ta->sh;
    size_t lo = sh->n * (size_t)ta->id / (size_t)sh->nt, hi = sh->n * (size_t)(ta->id + 1) / (size_t)sh->nt;
    float *a = sh->a, *b = sh->b, *c = sh->c;
    const float s = 3.0f;
    for (size_t i = lo; i < hi; i++) { /* first touch: pages land near their thread */
        a[i] = 0.0f;
        b[i] = 1.0f;
        c[i] = 2.0f;
    }
    for (int r = 0;; r++) {
        pthread_barrier_wait(&sh->bar);
        if (sh->stop) /* written by thread 0 before the barrier above */
            break;
        sh->start[ta->id] = mb_now();
        triad_kernel(a, b, c, s, lo, hi);
        sh->end[ta->id] = mb_now();
        pthread_barrier_wait(&sh->bar);
        if (ta->id == 0 && r > 0) { /* pass 0 is the warm-up */
            /* from the first thread's start to the last one's end: a thread
             * that was late to start must not shorten the pass */
            double t0 = sh->start[0], t1 = sh->end[0];
            for (int i = 1; i < sh->nt; i++) {
                t0 = sh->start[i] < t0 ? sh->start[i] : t0;
                t1 = sh->end[i] > t1 ? sh->end[i] : t1;
            }
            double t = t1 - t0;
            sh->times[sh->nrep++] = t;
            sh->sum += t;
            if ((sh->sum >= sh->min_s && sh->nrep >= 5) || sh->nrep == TRIAD_MAX_REPS)
                sh->stop = 1;
        }
    }
    return NULL;
}

int cpuinfo_triad(size_t n, int threads, double min_s, double *gbytes_s)
{
    int nt = threads > 0 ? threads : usable_cores();
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    triad_shared_t *sh = calloc(1, sizeof *sh);
    triad_arg_t *ta = calloc((size_t)nt, sizeof *ta);
    int rc = -1;
    if (!sh || !ta)
        goto out;
    sh->a = aligned_alloc(64, bytes);
    sh->b = aligned_alloc(64, bytes);
    sh->c = aligned_alloc(64, bytes);
    sh->n = n;
    sh->nt = nt;
    sh->min_s = min_s;
    sh->start = calloc((size_t)nt, sizeof(double));
    sh->end = calloc((size_t)nt, sizeof(double));
    if (!sh->a || !sh->b || !sh->c || !sh->start || !sh->end || pthread_barrier_init(&sh->bar, NULL, (unsigned)nt) != 0)
        goto out;
    for (int i = 0; i < nt; i++)
        ta[i] = (triad_arg_t){sh, i};
    rc = run_threads(nt, triad_main, ta, sizeof *ta);
    pthread_barrier_destroy(&sh->bar);
    if (rc == 0 && sh->nrep > 0) {
        mb_sort(sh->times, (size_t)sh->nrep);
        double med = sh->times[sh->nrep / 2];
        *gbytes_s = med > 0 ? 3.0 * sizeof(float) * (double)n / med * 1e-9 : 0;
    } else
        rc = -1;
out:
    if (sh) {
        free(sh->a);
        free(sh->b);
        free(sh->c);
        free(sh->start);
        free(sh->end);
    }
    free(sh);
    free(ta);
    return rc;
}
