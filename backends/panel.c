/* panel: fp32 linear layers over weights packed into 64-output panels, with
 * own register-tiled kernels (see panel.h for the layout and why).
 *
 * Blocking: the rows of a call are first copied into the tiles' order
 * (pack_x), then cut into chunks of at most PNL_MC rows and PNL_X_BYTES of
 * x (so a chunk of x stays in L2; at least 48 rows even when K is huge), each panel into blocks of PNL_KC inputs
 * (32 KB of weights: L1). For one chunk, panel and k-block, every group of
 * PNL_MR rows runs the tile kernel over the block while the block stays in
 * L1, and each call prefetches its share of the next block into L2 (the
 * next k-block of the panel, or the next panel's first: the packed copy is
 * one contiguous stream; into L1 the prefetches evicted the block in use).
 * Work items are (chunk, panel) pairs, split in contiguous ranges between
 * the OpenMP threads. PNL_KC, PNL_PF_HINT and PNL_X_BYTES may be set with
 * -D for experiments; the values here were measured best on the machine
 * this was written on (docs/backends.md). */
#include "backends/panel.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "backends/fastops.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define PNL_X86 1
#endif

#define PNL_MR 6     /* rows per tile: 6 x 4 accumulators of 16 floats fill 24 of the 32 zmm registers */
#ifndef PNL_KC
#define PNL_KC 128   /* inputs per k-block: 128 x 64 floats = 32 KB */
#endif
#ifndef PNL_PF_HINT
#define PNL_PF_HINT _MM_HINT_T1
#endif
#define PNL_MC 240   /* most rows per chunk (a multiple of PNL_MR) */
#ifndef PNL_X_BYTES
#define PNL_X_BYTES (2048 * 1024) /* a chunk's rows of x stay in L2: fewer rows when K is large */
#endif

/* One call of a tile kernel: rows [0, mr) of x against one k-block of one panel. */
typedef struct pnl_tile {
    const float *x;    /* the row group, packed: input k of row r at x[k * PNL_MR + r] */
    const float *w;    /* the block: kc rows of PNL_COLS */
    int kc;
    float *y;          /* row 0 at the panel's first output; rows ldy apart */
    int ldy;
    int ncols;         /* outputs of this panel that exist (the last panel may have fewer than 64) */
    int first, last;   /* first block: start from zero; last: add the bias */
    const float *b;    /* the panel's bias, or NULL */
    const char *pf;    /* prefetch pf_lines cache lines from here, one per input */
    int pf_lines;
} pnl_tile_t;

#ifdef PNL_X86
/* AVX-512: mr rows x 64 outputs, 24 accumulators. The four weight vectors
 * of an input are forced into registers: left to itself, GCC reloads them
 * from memory in every FMA, and two loads a cycle then cap the FMAs at 80%. */
__attribute__((target("avx512f"), always_inline)) static inline void tile_avx512(const int mr, const int full,
                                                                                 const pnl_tile_t *t)
{
    __m512 acc[PNL_MR][4];
    __mmask16 mk[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        int n = t->ncols - 16 * j;
        mk[j] = n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
    }
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            acc[r][j] = t->first ? _mm512_setzero_ps()
                        : full   ? _mm512_loadu_ps(t->y + (size_t)r * t->ldy + 16 * j)
                                 : _mm512_maskz_loadu_ps(mk[j], t->y + (size_t)r * t->ldy + 16 * j);
    const float *x = t->x, *w = t->w;
    for (int k = 0; k < t->kc; k++) {
        if (k < t->pf_lines)
            _mm_prefetch(t->pf + 64 * (size_t)k, PNL_PF_HINT);
        __m512 w0 = _mm512_load_ps(w), w1 = _mm512_load_ps(w + 16), w2 = _mm512_load_ps(w + 32),
               w3 = _mm512_load_ps(w + 48);
        __asm__("" : "+v"(w0), "+v"(w1), "+v"(w2), "+v"(w3));
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            __m512 a = _mm512_set1_ps(x[r]);
            acc[r][0] = _mm512_fmadd_ps(a, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, w1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(a, w2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(a, w3, acc[r][3]);
        }
        w += PNL_COLS;
        x += PNL_MR;
    }
    if (t->last && t->b) {
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            __m512 bj = full ? _mm512_loadu_ps(t->b + 16 * j) : _mm512_maskz_loadu_ps(mk[j], t->b + 16 * j);
#pragma GCC unroll 6
            for (int r = 0; r < mr; r++)
                acc[r][j] = _mm512_add_ps(acc[r][j], bj);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            if (full)
                _mm512_storeu_ps(t->y + (size_t)r * t->ldy + 16 * j, acc[r][j]);
            else
                _mm512_mask_storeu_ps(t->y + (size_t)r * t->ldy + 16 * j, mk[j], acc[r][j]);
}

__attribute__((target("avx512f"))) static void tile_avx512_any(int mr, const pnl_tile_t *t)
{
    if (t->ncols == PNL_COLS) {
        switch (mr) {
        case 6: tile_avx512(6, 1, t); break;
        case 5: tile_avx512(5, 1, t); break;
        case 4: tile_avx512(4, 1, t); break;
        case 3: tile_avx512(3, 1, t); break;
        case 2: tile_avx512(2, 1, t); break;
        default: tile_avx512(1, 1, t); break;
        }
    } else {
        switch (mr) {
        case 6: tile_avx512(6, 0, t); break;
        case 5: tile_avx512(5, 0, t); break;
        case 4: tile_avx512(4, 0, t); break;
        case 3: tile_avx512(3, 0, t); break;
        case 2: tile_avx512(2, 0, t); break;
        default: tile_avx512(1, 0, t); break;
        }
    }
}

/* AVX2: mr rows x 16 outputs (columns [c0, c0 + 16) of the panel), 12
 * accumulators of the 16 ymm registers; a panel takes four calls. */
__attribute__((target("avx2,fma"), always_inline)) static inline void tile_avx2(const int mr, const int full,
                                                                               const pnl_tile_t *t, int c0)
{
    __m256 acc[PNL_MR][2];
    __m256i mk[2];
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++) {
        int n = t->ncols - c0 - 8 * j;
        n = n < 0 ? 0 : n > 8 ? 8 : n;
        mk[j] = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++)
            acc[r][j] = t->first ? _mm256_setzero_ps()
                        : full   ? _mm256_loadu_ps(t->y + (size_t)r * t->ldy + c0 + 8 * j)
                                 : _mm256_maskload_ps(t->y + (size_t)r * t->ldy + c0 + 8 * j, mk[j]);
    const float *x = t->x, *w = t->w + c0;
    for (int k = 0; k < t->kc; k++) {
        if (k < t->pf_lines)
            _mm_prefetch(t->pf + 64 * (size_t)k, PNL_PF_HINT);
        __m256 w0 = _mm256_load_ps(w), w1 = _mm256_load_ps(w + 8);
        __asm__("" : "+x"(w0), "+x"(w1));
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            __m256 a = _mm256_broadcast_ss(x + r);
            acc[r][0] = _mm256_fmadd_ps(a, w0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, w1, acc[r][1]);
        }
        w += PNL_COLS;
        x += PNL_MR;
    }
    if (t->last && t->b) {
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
            __m256 bj = full ? _mm256_loadu_ps(t->b + c0 + 8 * j) : _mm256_maskload_ps(t->b + c0 + 8 * j, mk[j]);
#pragma GCC unroll 6
            for (int r = 0; r < mr; r++)
                acc[r][j] = _mm256_add_ps(acc[r][j], bj);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++)
            if (full)
                _mm256_storeu_ps(t->y + (size_t)r * t->ldy + c0 + 8 * j, acc[r][j]);
            else
                _mm256_maskstore_ps(t->y + (size_t)r * t->ldy + c0 + 8 * j, mk[j], acc[r][j]);
}

__attribute__((target("avx2,fma"))) static void tile_avx2_any(int mr, const pnl_tile_t *t)
{
    for (int c0 = 0; c0 < t->ncols; c0 += 16) {
        pnl_tile_t q = *t;
        if (c0) /* the block's prefetches go with the first quarter */
            q.pf_lines = 0;
        if (t->ncols - c0 >= 16) {
            switch (mr) {
            case 6: tile_avx2(6, 1, &q, c0); break;
            case 5: tile_avx2(5, 1, &q, c0); break;
            case 4: tile_avx2(4, 1, &q, c0); break;
            case 3: tile_avx2(3, 1, &q, c0); break;
            case 2: tile_avx2(2, 1, &q, c0); break;
            default: tile_avx2(1, 1, &q, c0); break;
            }
        } else {
            switch (mr) {
            case 6: tile_avx2(6, 0, &q, c0); break;
            case 5: tile_avx2(5, 0, &q, c0); break;
            case 4: tile_avx2(4, 0, &q, c0); break;
            case 3: tile_avx2(3, 0, &q, c0); break;
            case 2: tile_avx2(2, 0, &q, c0); break;
            default: tile_avx2(1, 0, &q, c0); break;
            }
        }
    }
}
#endif

pnl_isa_t pnl_best_isa(void)
{
#ifdef PNL_X86
    const int cap = fastops_isa_level(); /* MOEBENCH_ISA holds the panels down with the other ops */
    if (cap >= 2 && __builtin_cpu_supports("avx512f"))
        return PNL_AVX512;
    if (cap >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return PNL_AVX2;
#endif
    return PNL_NONE;
}

const char *pnl_isa_name(pnl_isa_t isa)
{
    return isa == PNL_AVX512 ? "avx512" : isa == PNL_AVX2 ? "avx2" : "none";
}

size_t pnl_packed_floats(int N, int K)
{
    if (N <= 0 || K <= 0)
        return 0;
    return (size_t)((N + PNL_COLS - 1) / PNL_COLS) * (size_t)K * PNL_COLS;
}

void pnl_pack(const float *W, int N, int K, float *P)
{
    const int NP = (N + PNL_COLS - 1) / PNL_COLS;
    /* on OpenMP's default team (the backend has set its thread count): wmt-dense's start-up
     * took 0.46-0.49 s packing on one thread, 0.39 on two (oneDNN's own layout: 0.34) */
#pragma omp parallel for schedule(static) if ((size_t)N * (size_t)K >= ((size_t)1 << 20))
    for (int p = 0; p < NP; p++) {
        float *panel = P + (size_t)p * K * PNL_COLS;
        int nc = N - p * PNL_COLS < PNL_COLS ? N - p * PNL_COLS : PNL_COLS;
        if (nc < PNL_COLS)
            memset(panel, 0, sizeof(float) * (size_t)K * PNL_COLS);
        for (int j = 0; j < nc; j++) { /* row by row of W: reads stay sequential */
            const float *wr = W + (size_t)(p * PNL_COLS + j) * K;
            for (int k = 0; k < K; k++)
                panel[(size_t)k * PNL_COLS + j] = wr[k];
        }
    }
}

typedef void (*pnl_tile_fn)(int mr, const pnl_tile_t *t);

/* Rows [m0, m1) against panel p: every k-block, every group of PNL_MR rows. */
static void run_item(pnl_tile_fn tile, const float *P, int N, int K, const float *xp, int m0, int m1, int p,
                     const float *b, float *y)
{
    const float *panel = P + (size_t)p * K * PNL_COLS;
    const int groups = (m1 - m0 + PNL_MR - 1) / PNL_MR;
    pnl_tile_t t;
    t.ldy = N;
    t.ncols = N - p * PNL_COLS < PNL_COLS ? N - p * PNL_COLS : PNL_COLS;
    t.b = b ? b + (size_t)p * PNL_COLS : NULL;
    for (int k0 = 0; k0 < K; k0 += PNL_KC) {
        t.kc = K - k0 < PNL_KC ? K - k0 : PNL_KC;
        t.w = panel + (size_t)k0 * PNL_COLS;
        t.first = k0 == 0;
        t.last = k0 + t.kc == K;
        /* the next block follows this one in memory (the last panel's last block has none): its
         * lines, shared out between the groups */
        const int has_next = k0 + t.kc < K || (p + 1) * PNL_COLS < N;
        const char *next = has_next ? (const char *)(t.w + (size_t)t.kc * PNL_COLS) : (const char *)t.w;
        const int lines = has_next ? t.kc * PNL_COLS * (int)sizeof(float) / 64 : 0,
                  per = (lines + groups - 1) / groups;
        int done = 0;
        for (int m = m0; m < m1; m += PNL_MR) {
            int mr = m1 - m < PNL_MR ? m1 - m : PNL_MR;
            t.x = xp + ((size_t)(m / PNL_MR) * K + k0) * PNL_MR;
            t.y = y + (size_t)m * N + (size_t)p * PNL_COLS;
            t.pf = next + 64 * (size_t)done;
            t.pf_lines = lines - done < per ? lines - done : per; /* at most one per input: the rest */
            if (t.pf_lines > t.kc)                               /* is left to the hardware prefetcher */
                t.pf_lines = t.kc;
            done += t.pf_lines;
            tile(mr, &t);
        }
    }
}

size_t pnl_scratch_floats(int M, int K)
{
    if (M <= 0 || K <= 0)
        return 0;
    return (size_t)((M + PNL_MR - 1) / PNL_MR) * (size_t)K * PNL_MR;
}

/* Row groups [g0, g1) of x into the tiles' order: group g, input k, row r at
 * xp[(g * K + k) * PNL_MR + r]; rows past M are zero. The broadcasts of a
 * tile then read 24 consecutive bytes per input instead of six rows K * 4
 * bytes apart, which share two L1 sets when K is a multiple of 512. */
static void pack_x(const float *x, int M, int K, int g0, int g1, float *xp)
{
    for (int g = g0; g < g1; g++) {
        float *dst = xp + (size_t)g * K * PNL_MR;
        const float *src = x + (size_t)g * PNL_MR * K;
        if ((g + 1) * PNL_MR <= M) { /* a whole group: six reads streams, one write stream */
            for (int k = 0; k < K; k++, dst += PNL_MR)
                for (int r = 0; r < PNL_MR; r++)
                    dst[r] = src[(size_t)r * K + k];
        } else {
            const int rows = M - g * PNL_MR;
            for (int k = 0; k < K; k++, dst += PNL_MR)
                for (int r = 0; r < PNL_MR; r++)
                    dst[r] = r < rows ? src[(size_t)r * K + k] : 0.0f;
        }
    }
}

int pnl_linear(pnl_isa_t isa, const float *P, int N, int K, const float *x, int M, const float *b, float *y,
               int threads, float *scratch)
{
    pnl_tile_fn tile = NULL;
    (void)isa; /* no kernels off x86-64 */
#ifdef PNL_X86
    if (isa == PNL_AVX512 && __builtin_cpu_supports("avx512f"))
        tile = tile_avx512_any;
    else if (isa == PNL_AVX2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        tile = tile_avx2_any;
#endif
    if (!tile)
        return -1;
    if (M <= 0 || N <= 0)
        return 0;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                y[(size_t)i * N + j] = b ? b[j] : 0.0f;
        return 0;
    }
    int mc = (int)(PNL_X_BYTES / ((size_t)K * sizeof(float))) / PNL_MR * PNL_MR;
    mc = mc < 8 * PNL_MR ? 8 * PNL_MR : mc > PNL_MC ? PNL_MC : mc;
    const int NP = (N + PNL_COLS - 1) / PNL_COLS, chunks = (M + mc - 1) / mc, groups = (M + PNL_MR - 1) / PNL_MR;
    mc = ((M + chunks - 1) / chunks + PNL_MR - 1) / PNL_MR * PNL_MR; /* even chunks: no short last one */
    const long items = (long)chunks * NP;
    int nt = threads < 1 ? 1 : threads;
    if (nt > items)
        nt = (int)items;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        pack_x(x, M, K, groups * t / T, groups * (t + 1) / T, scratch);
#pragma omp barrier
        long i0 = items * t / T, i1 = items * (t + 1) / T;
        for (long i = i0; i < i1; i++) {
            int c = (int)(i / NP), p = (int)(i % NP);
            int m0 = c * mc, m1 = m0 + mc < M ? m0 + mc : M;
            run_item(tile, P, N, K, scratch, m0, m1, p, b, y);
        }
    }
    return 0;
}
