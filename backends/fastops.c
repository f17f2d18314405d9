/* fastops: the vectorised ops of fastops.h. The kernels live in
 * fastops_kernels.inc, included here once per instruction set inside a
 * `#pragma GCC target` region; the public functions pick one at run time. */
#include "backends/fastops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define FASTOPS_X86 1
#endif

#ifdef FASTOPS_X86
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl")
#define FO(name) name##_avx512
#define FO_V 16
#include "backends/fastops_kernels.inc"
#undef FO
#undef FO_V
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2")
#define FO(name) name##_avx2
#define FO_V 8
#include "backends/fastops_kernels.inc"
#undef FO
#undef FO_V
#pragma GCC pop_options
#endif

#define FO(name) name##_base
#define FO_V 4
#include "backends/fastops_kernels.inc"
#undef FO
#undef FO_V

typedef enum { ISA_BASE, ISA_AVX2, ISA_AVX512 } isa_t;
static const char *const isa_names[] = {"sse2", "avx2", "avx512"}; /* by isa_t; MOEBENCH_ISA's values */

static isa_t cpu_isa(void)
{
#ifdef FASTOPS_X86
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return ISA_AVX512;
    if (__builtin_cpu_supports("avx2"))
        return ISA_AVX2;
#endif
    return ISA_BASE;
}

/* MOEBENCH_ISA's level, -1 when unset, -2 when not one of the names. */
static int env_isa(void)
{
    const char *v = getenv(FASTOPS_ISA_ENV);
    if (!v || !*v)
        return -1;
    for (int i = ISA_BASE; i <= ISA_AVX512; i++)
        if (!strcmp(v, isa_names[i]))
            return i;
    return -2;
}

/* The CPU's best, held down by MOEBENCH_ISA (a value the CPU cannot run, or
 * no name, leaves it: fastops_isa_check refuses those when a backend opens). */
static isa_t isa(void)
{
    static int cached = -1; /* threads may race to fill it: each computes the same value */
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        int cpu = (int)cpu_isa(), cap = env_isa();
        v = cap >= 0 && cap < cpu ? cap : cpu;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return (isa_t)v;
}

int fastops_isa_check(mb_error_t *err)
{
    int cap = env_isa(), cpu = (int)cpu_isa();
    if (cap == -2 || cap > cpu)
        return mb_fail(err, "%s=%s: %s; use %s%s%s, or unset it", FASTOPS_ISA_ENV, getenv(FASTOPS_ISA_ENV),
                       cap == -2 ? "not an instruction set moebench has kernels for" : "this CPU cannot run it",
                       isa_names[ISA_BASE], cpu >= ISA_AVX2 ? ", avx2" : "", cpu >= ISA_AVX512 ? ", avx512" : "");
    return 0;
}

/* vdpbf16ps and vcvtneps2bf16: AVX-512 BF16, unless MOEBENCH_ISA holds the ops lower */
static int has_bf16(void)
{
#ifdef FASTOPS_X86
    return isa() == ISA_AVX512 && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

int fastops_isa_level(void)
{
    return (int)isa();
}

const char *fastops_isa(void)
{
    return isa_names[isa()];
}

void fastops_layernorm(be_t *be, const float *x, const float *g, const float *b, int M, int D, float eps,
                       float *y)
{
    (void)be;
    switch (isa()) {
#ifdef FASTOPS_X86
    case ISA_AVX512: layernorm_avx512(x, g, b, M, D, eps, y); return;
    case ISA_AVX2: layernorm_avx2(x, g, b, M, D, eps, y); return;
#endif
    default: layernorm_base(x, g, b, M, D, eps, y); return;
    }
}

void fastops_relu(be_t *be, float *x, size_t n)
{
    (void)be;
    switch (isa()) {
#ifdef FASTOPS_X86
    case ISA_AVX512: relu_avx512(x, n); return;
    case ISA_AVX2: relu_avx2(x, n); return;
#endif
    default: relu_base(x, n); return;
    }
}

void fastops_attention_heads(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv, int nq,
                             int nk, int h0, int h1, int d_head, int causal, int q_pos0, float *out, int ldo,
                             float *scratch)
{
    switch (isa()) {
#ifdef FASTOPS_X86
    case ISA_AVX512:
        attention_avx512(q, ldq, k, ldk, v, ldv, nq, nk, h0, h1, d_head, causal, q_pos0, out, ldo, scratch);
        return;
    case ISA_AVX2:
        attention_avx2(q, ldq, k, ldk, v, ldv, nq, nk, h0, h1, d_head, causal, q_pos0, out, ldo, scratch);
        return;
#endif
    default:
        attention_base(q, ldq, k, ldk, v, ldv, nq, nk, h0, h1, d_head, causal, q_pos0, out, ldo, scratch);
        return;
    }
}

void fastops_attention_team(fastops_team_t *team, const float *q, int ldq, const float *k, int ldk, const float *v,
                            int ldv, int nq, int nk, int n_heads, int d_head, int causal, int q_pos0, float *out,
                            int ldo, float *scratch)
{
    const double work = (double)nq * nk * n_heads * d_head;
    int nt = team->threads < n_heads ? team->threads : n_heads;
    if (nt > 1 && work >= 16384 && nk > team->att_cap) {
        /* a row per team member, not per head: fastops_attention_rows shares the buffer */
        float *p = realloc(team->att, sizeof(float) * (size_t)nk * (size_t)team->threads);
        if (p) {
            team->att = p;
            team->att_cap = nk;
        }
    }
    if (nt < 2 || work < 16384 || nk > team->att_cap) { /* small: waking a team costs more than it saves */
        fastops_attention_heads(q, ldq, k, ldk, v, ldv, nq, nk, 0, n_heads, d_head, causal, q_pos0, out, ldo,
                                scratch);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int h0 = n_heads * t / T, h1 = n_heads * (t + 1) / T;
        fastops_attention_heads(q, ldq, k, ldk, v, ldv, nq, nk, h0, h1, d_head, causal, q_pos0, out, ldo,
                                team->att + (size_t)t * team->att_cap);
    }
}

void fastops_attention_rows(fastops_team_t *team, int n, const float *q, int ldq, const float *const *k,
                            const float *const *v, int ldkv, const int *nk, int n_heads, int d_head, float *out,
                            int ldo, float *scratch)
{
    double work = 0;
    int max_nk = 0;
    for (int r = 0; r < n; r++) {
        work += (double)nk[r] * n_heads * d_head;
        max_nk = nk[r] > max_nk ? nk[r] : max_nk;
    }
    const int pairs = n * n_heads;
    int nt = team->threads < pairs ? team->threads : pairs;
    if (nt > 1 && work >= 16384 && max_nk > team->att_cap) {
        float *p = realloc(team->att, sizeof(float) * (size_t)max_nk * (size_t)team->threads);
        if (p) {
            team->att = p;
            team->att_cap = max_nk;
        }
    }
    if (nt < 2 || work < 16384 || max_nk > team->att_cap) { /* small (batch 1): waking a team costs more */
        for (int r = 0; r < n; r++)
            fastops_attention_heads(q + (size_t)r * ldq, ldq, k[r], ldkv, v[r], ldkv, 1, nk[r], 0, n_heads, d_head,
                                    0, 0, out + (size_t)r * ldo, ldo, scratch);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        /* contiguous shares of the (row, head) pairs: rows differ in length,
         * but a share spans many rows at the batch sizes that get here */
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int p0 = (int)((long)pairs * t / T), p1 = (int)((long)pairs * (t + 1) / T);
        float *att = team->att + (size_t)t * team->att_cap;
        for (int p = p0; p < p1;) {
            int r = p / n_heads, h0 = p % n_heads, h1 = p1 - r * n_heads < n_heads ? p1 - r * n_heads : n_heads;
            fastops_attention_heads(q + (size_t)r * ldq, ldq, k[r], ldkv, v[r], ldkv, 1, nk[r], h0, h1, d_head, 0,
                                    0, out + (size_t)r * ldo, ldo, att);
            p = r * n_heads + h1;
        }
    }
}

void fastops_team_free(fastops_team_t *team)
{
    free(team->att);
    team->att = NULL;
    team->att_cap = 0;
}

void fastops_attention(be_t *be, const float *q, int ldq, const float *k, int ldk, const float *v, int ldv,
                       int nq, int nk, int n_heads, int d_head, int causal, int q_pos0, float *out, int ldo,
                       float *scratch)
{
    (void)be;
    fastops_attention_heads(q, ldq, k, ldk, v, ldv, nq, nk, 0, n_heads, d_head, causal, q_pos0, out, ldo, scratch);
}

void fastops_log_softmax(be_t *be, float *x, int M, int N)
{
    (void)be;
    switch (isa()) {
#ifdef FASTOPS_X86
    case ISA_AVX512: log_softmax_avx512(x, M, N); return;
    case ISA_AVX2: log_softmax_avx2(x, M, N); return;
#endif
    default: log_softmax_base(x, M, N); return;
    }
}

void fastops_gemv(const float *W, const float *x, const float *b, int K, int n0, int n1, float *y)
{
    switch (isa()) {
#ifdef FASTOPS_X86
    case ISA_AVX512: gemv_avx512(W, x, b, K, n0, n1, y); return;
    case ISA_AVX2: gemv_avx2(W, x, b, K, n0, n1, y); return;
#endif
    default: gemv_base(W, x, b, K, n0, n1, y); return;
    }
}

int fastops_quantise_u8(const float *x, int K, int qmax, uint8_t *q, float *sx, int32_t *zp)
{
    switch (isa()) {
#ifdef FASTOPS_X86
    case ISA_AVX512: return quantise_u8_avx512(x, K, qmax, q, sx, zp);
    case ISA_AVX2: return quantise_u8_avx2(x, K, qmax, q, sx, zp);
#endif
    default: return quantise_u8_base(x, K, qmax, q, sx, zp);
    }
}

void fastops_dequant_row(const int32_t *a, int N, float sx, int32_t zp, const float *scale, const int32_t *qsum,
                         const float *b, float *y)
{
    switch (isa()) {
#ifdef FASTOPS_X86
    case ISA_AVX512: dequant_row_avx512(a, N, sx, zp, scale, qsum, b, y); return;
    case ISA_AVX2: dequant_row_avx2(a, N, sx, zp, scale, qsum, b, y); return;
#endif
    default: dequant_row_base(a, N, sx, zp, scale, qsum, b, y); return;
    }
}

/* ---- fp32 -> bf16 ---- */

static inline uint16_t to_bf16_one(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it a (quiet) NaN */
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

#ifdef FASTOPS_X86
__attribute__((target("avx512f,avx512bf16"))) static void to_bf16_avx512bf16(const float *src, uint16_t *dst,
                                                                             size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)h);
    }
    for (; i < n; i++)
        dst[i] = to_bf16_one(src[i]);
}
#endif

/* ---- bf16 GEMM for a few rows on oneDNN's blocked weights ---- */

#ifdef FASTOPS_X86
/* Column blocks [nb0, nb1) of 64 outputs for exactly M rows (a constant
 * after inlining, so the 4 x M accumulators stay in registers); see
 * fastops.h for the layout. */
__attribute__((target("avx512f,avx512bf16"), always_inline)) static inline void
bf16_rows_m(const uint16_t *W, int N, int K, long stride_k, long stride_n, const uint16_t *x, int ldx, const int M,
            const float *b, float *y, int ldy, int nb0, int nb1)
{
    const int KB = (K + 31) / 32;
    for (int nb = nb0; nb < nb1; nb++) {
        __m512 acc[4][4];
#pragma GCC unroll 4
        for (int m = 0; m < M; m++)
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                acc[m][j] = _mm512_setzero_ps();
        const uint16_t *col = W + (size_t)nb * stride_n;
        for (int kb = 0; kb < KB; kb++) {
            const uint16_t *tile = col + (size_t)kb * stride_k;
            const uint16_t *xk = x + kb * 32;
            for (int kp = 0; kp < 16; kp++) { /* a pair of k per step: 64 outputs x 2 */
                const uint16_t *w = tile + kp * 128;
                __m512bh w0 = (__m512bh)_mm512_loadu_si512(w), w1 = (__m512bh)_mm512_loadu_si512(w + 32);
                __m512bh w2 = (__m512bh)_mm512_loadu_si512(w + 64), w3 = (__m512bh)_mm512_loadu_si512(w + 96);
#pragma GCC unroll 4
                for (int m = 0; m < M; m++) {
                    int32_t pair;
                    memcpy(&pair, xk + (size_t)m * ldx + kp * 2, sizeof pair);
                    __m512bh xb = (__m512bh)_mm512_set1_epi32(pair);
                    acc[m][0] = _mm512_dpbf16_ps(acc[m][0], xb, w0);
                    acc[m][1] = _mm512_dpbf16_ps(acc[m][1], xb, w1);
                    acc[m][2] = _mm512_dpbf16_ps(acc[m][2], xb, w2);
                    acc[m][3] = _mm512_dpbf16_ps(acc[m][3], xb, w3);
                }
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            int n0 = nb * 64 + j * 16;
            if (n0 >= N)
                break;
            __mmask16 keep = N - n0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (N - n0)) - 1);
            __m512 bias = b ? _mm512_maskz_loadu_ps(keep, b + n0) : _mm512_setzero_ps();
#pragma GCC unroll 4
            for (int m = 0; m < M; m++)
                _mm512_mask_storeu_ps(y + (size_t)m * ldy + n0, keep, _mm512_add_ps(acc[m][j], bias));
        }
    }
}

__attribute__((target("avx512f,avx512bf16"))) static void bf16_rows_avx512(const uint16_t *W, int N, int K,
                                                                          long stride_k, long stride_n,
                                                                          const uint16_t *x, int ldx, int M,
                                                                          const float *b, float *y, int ldy,
                                                                          int nb0, int nb1)
{
    switch (M) {
    case 1: bf16_rows_m(W, N, K, stride_k, stride_n, x, ldx, 1, b, y, ldy, nb0, nb1); break;
    case 2: bf16_rows_m(W, N, K, stride_k, stride_n, x, ldx, 2, b, y, ldy, nb0, nb1); break;
    case 3: bf16_rows_m(W, N, K, stride_k, stride_n, x, ldx, 3, b, y, ldy, nb0, nb1); break;
    default: bf16_rows_m(W, N, K, stride_k, stride_n, x, ldx, 4, b, y, ldy, nb0, nb1); break;
    }
}
#endif

int fastops_bf16_rows(const uint16_t *W, int N, int K, long stride_k, long stride_n, const uint16_t *x, int ldx,
                      int M, const float *b, float *y, int ldy, int nb0, int nb1)
{
#ifdef FASTOPS_X86
    if (M >= 1 && M <= 4 && has_bf16()) {
        bf16_rows_avx512(W, N, K, stride_k, stride_n, x, ldx, M, b, y, ldy, nb0, nb1);
        return 0;
    }
#endif
    (void)W, (void)N, (void)K, (void)stride_k, (void)stride_n, (void)x, (void)ldx, (void)M, (void)b, (void)y;
    (void)ldy, (void)nb0, (void)nb1;
    return -1;
}

int fastops_has_bf16_rows(void)
{
#ifdef FASTOPS_X86
    return has_bf16() != 0;
#else
    return 0;
#endif
}

void fastops_to_bf16(const float *src, uint16_t *dst, size_t n)
{
#ifdef FASTOPS_X86
    if (has_bf16()) {
        to_bf16_avx512bf16(src, dst, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        dst[i] = to_bf16_one(src[i]);
}
