/* oracle: the forward pass of the reference model in double precision (see
 * oracle.h): pre-layer-norm encoder and decoder, sinusoidal positions, ReLU
 * FFNs and mixture-of-experts layers routed per docs/routing.md. Plain loops,
 * one sequence at a time, nothing cached: clarity over speed. */
#include "tests/oracle/oracle_int.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LN_EPS 1e-5

void orc_diag_init(orc_diag_t *d)
{
    memset(d, 0, sizeof *d);
    d->gate = DBL_MAX;
    d->search = DBL_MAX;
}

void *orc_alloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

static double *dalloc(size_t n)
{
    return orc_alloc(n, sizeof(double));
}

/* sum of a[i] * b[i]; four partial sums, so the loop pipelines (double
 * precision makes the changed summation order immaterial here) */
static double dot(const double *a, const double *b, int n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* y[T, n_out] = x[T, n_in] W^T + b */
static void linear(const orc_lin_t *l, const double *x, int T, double *y)
{
    for (int t = 0; t < T; t++)
        for (int o = 0; o < l->n_out; o++)
            y[(size_t)t * l->n_out + o] =
                (l->b ? l->b[o] : 0.0) + dot(x + (size_t)t * l->n_in, l->w + (size_t)o * l->n_in, l->n_in);
}

/* y = (x - mean) / sqrt(var + 1e-5) * g + b per row; var is the biased (1/d) variance */
static void layernorm(const double *x, const double *g, const double *b, int T, int d, double *y)
{
    for (int t = 0; t < T; t++) {
        const double *r = x + (size_t)t * d;
        double mean = 0.0, var = 0.0;
        for (int j = 0; j < d; j++)
            mean += r[j];
        mean /= d;
        for (int j = 0; j < d; j++)
            var += (r[j] - mean) * (r[j] - mean);
        var /= d;
        double inv = 1.0 / sqrt(var + LN_EPS);
        for (int j = 0; j < d; j++)
            y[(size_t)t * d + j] = (r[j] - mean) * inv * g[j] + b[j];
    }
}

/* Multi-head attention: head h uses columns [h*dh, (h+1)*dh) of q, k, v;
 * scores scaled by 1/sqrt(dh); causal: query i sees keys 0..i. */
static void attention(const orc_model_t *m, const double *q, int Tq, const double *k, const double *v, int Tk,
                      int causal, double *out)
{
    const int d = m->d, H = m->heads, dh = d / H;
    double *p = dalloc((size_t)Tk);
    for (int i = 0; i < Tq; i++)
        for (int h = 0; h < H; h++) {
            int n = causal ? i + 1 : Tk;
            double mx = -INFINITY, sum = 0.0;
            for (int j = 0; j < n; j++) {
                p[j] = dot(q + (size_t)i * d + h * dh, k + (size_t)j * d + h * dh, dh) / sqrt((double)dh);
                mx = p[j] > mx ? p[j] : mx;
            }
            for (int j = 0; j < n; j++)
                sum += p[j] = exp(p[j] - mx);
            for (int c = 0; c < dh; c++) {
                double o = 0.0;
                for (int j = 0; j < n; j++)
                    o += p[j] / sum * v[(size_t)j * d + h * dh + c];
                out[(size_t)i * d + h * dh + c] = o;
            }
        }
    free(p);
}

/* x = sqrt(d) * embedding + sinusoid: element 2i of position t is
 * sin(t / 10000^(2i/d)), element 2i+1 is cos of the same angle; positions
 * count from 0 in every sequence (the source tag, the decoder's BOS). */
static void embed(const orc_model_t *m, int s, const int *ids, int T, double *x)
{
    const int d = m->d;
    for (int t = 0; t < T; t++)
        for (int j = 0; j < d; j++) {
            double angle = t / pow(10000.0, (double)(j - j % 2) / d);
            x[(size_t)t * d + j] = sqrt((double)d) * m->embed[s][(size_t)ids[t] * d + j] +
                                   (j % 2 ? cos(angle) : sin(angle));
        }
}

static void ffn(const orc_ffn_t *f, const double *h, int d_ff, double *hid, double *y)
{
    linear(&f->fc1, h, 1, hid);
    for (int i = 0; i < d_ff; i++)
        hid[i] = hid[i] > 0.0 ? hid[i] : 0.0;
    linear(&f->fc2, hid, 1, y);
}

/* The top-k of a gate: p = softmax(g W_g^T); experts by descending p, the
 * lower index first on ties; weights renormalised for k >= 2, p itself for
 * k = 1 (Switch). Lowers diag->gate to the smallest gap between consecutive
 * ranks 0..k (the order decides admission, the k-th gap the choice). */
void orc_gate_topk(const orc_model_t *m, const double *gate, const double *g, int *choice, double *weight,
                      orc_diag_t *diag)
{
    const int E = m->E, k = m->k, d = m->d;
    double *p = dalloc((size_t)E), mx = -INFINITY, sum = 0.0;
    int *order = orc_alloc((size_t)E, sizeof(int));
    for (int e = 0; e < E; e++) {
        double z = dot(g, gate + (size_t)e * d, d);
        p[e] = z;
        mx = z > mx ? z : mx;
    }
    for (int e = 0; e < E; e++)
        sum += p[e] = exp(p[e] - mx);
    for (int e = 0; e < E; e++) {
        p[e] /= sum;
        order[e] = e;
    }
    for (int i = 0; i < E; i++) /* selection sort: (p desc, index asc) */
        for (int j = i + 1; j < E; j++)
            if (p[order[j]] > p[order[i]] || (p[order[j]] == p[order[i]] && order[j] < order[i])) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    double wsum = 0.0;
    for (int r = 0; r < k; r++) {
        choice[r] = order[r];
        weight[r] = p[order[r]];
        wsum += weight[r];
        if (diag && r + 1 < E && p[order[r]] - p[order[r + 1]] < diag->gate)
            diag->gate = p[order[r]] - p[order[r + 1]];
    }
    if (k >= 2)
        for (int r = 0; r < k; r++)
            weight[r] /= wsum;
    free(p);
    free(order);
}

/* Capacity of every expert for one sequence whose source has S tokens:
 * max(4, 4 * ceil(ceil(cf * k * S / E) / 4)); 0 = unlimited. */
int orc_capacity(const orc_model_t *m, double cf, int S)
{
    if (cf <= 0.0)
        return 0;
    int c = (int)ceil(cf * m->k * S / m->E);
    c = 4 * ((c + 3) / 4);
    return c < 4 ? 4 : c;
}

/* One MoE layer over one sequence: y[T, d] from h[T, d]. sent: the sentence
 * routing input ([d]); key: the task key's index; S: the source length;
 * rank_major: the encoder's admission order (else token by token). */
static void moe(const orc_model_t *m, const orc_layer_t *l, int s, const double *h, int T, const double *sent,
                int key, int S, double cf, int rank_major, double *y, orc_diag_t *diag)
{
    const int d = m->d, k = m->k, route = m->route[s];
    int *choice = orc_alloc((size_t)T * k, sizeof(int)), *keep = orc_alloc((size_t)T * k, sizeof(int));
    double *weight = dalloc((size_t)T * k), *hid = dalloc((size_t)m->d_ff), *out = dalloc((size_t)d);
    for (int t = 0; t < T; t++) {
        int *c = choice + (size_t)t * k;
        double *w = weight + (size_t)t * k;
        if (l->fixed) {
            for (int r = 0; r < k; r++) {
                c[r] = r;
                w[r] = l->fixed_w[r];
            }
            continue;
        }
        const double *g = route == ORC_TOKEN ? h + (size_t)t * d
                          : route == ORC_SENTENCE ? sent : m->task_embed[s] + (size_t)key * d;
        /* sentence and task gates give every token the same answer; one
         * evaluation per token keeps this code simple */
        orc_gate_topk(m, l->gate, g, c, w, t == 0 || route == ORC_TOKEN ? diag : NULL);
    }
    /* capacity: token-routed layers only, per sequence */
    int C = route == ORC_TOKEN && !l->fixed ? orc_capacity(m, cf, S) : 0;
    int *count = orc_alloc((size_t)m->E, sizeof(int));
    for (int i = 0; i < T * k; i++) {
        int t = rank_major ? i % T : i / k, r = rank_major ? i / T : i % k;
        int e = choice[(size_t)t * k + r];
        keep[(size_t)t * k + r] = !C || count[e] < C;
        count[e] += keep[(size_t)t * k + r];
    }
    for (int t = 0; t < T; t++) {
        double *yt = y + (size_t)t * d;
        int kept = 0;
        memset(yt, 0, sizeof(double) * (size_t)d);
        for (int r = 0; r < k; r++) {
            if (!keep[(size_t)t * k + r])
                continue;
            kept++;
            ffn(&l->experts[choice[(size_t)t * k + r]], h + (size_t)t * d, m->d_ff, hid, out);
            for (int j = 0; j < d; j++)
                yt[j] += weight[(size_t)t * k + r] * out[j];
        }
        if (diag) {
            orc_counts_t *n = &diag->counts[s];
            n->tokens++;
            n->assignments += k;
            n->dropped_assignments += k - kept;
            n->dropped_tokens += kept == 0;
        }
    }
    free(count);
    free(choice);
    free(keep);
    free(weight);
    free(hid);
    free(out);
}

/* The FFN sublayer of layer l: x += FFN(LN(x)) or MoE(LN(x)). */
static void ffn_sublayer(const orc_model_t *m, const orc_layer_t *l, int s, double *x, int T, const double *sent,
                         int key, int S, double cf, orc_diag_t *diag)
{
    const int d = m->d;
    double *h = dalloc((size_t)T * d), *y = dalloc((size_t)T * d), *hid = dalloc((size_t)m->d_ff);
    layernorm(x, l->ln_ffn_g, l->ln_ffn_b, T, d, h);
    double *mean = NULL;
    if (l->moe && s == ORC_ENCODER && m->route[s] == ORC_SENTENCE) {
        /* encoder sentence routing: the mean of this layer's h over the sentence */
        mean = dalloc((size_t)d);
        for (int t = 0; t < T; t++)
            for (int j = 0; j < d; j++)
                mean[j] += h[(size_t)t * d + j] / T;
        sent = mean;
    }
    if (l->moe)
        moe(m, l, s, h, T, sent, key, S, cf, s == ORC_ENCODER, y, diag);
    else
        for (int t = 0; t < T; t++)
            ffn(&l->ffn, h + (size_t)t * d, m->d_ff, hid, y + (size_t)t * d);
    for (size_t i = 0; i < (size_t)T * d; i++)
        x[i] += y[i];
    free(mean);
    free(h);
    free(y);
    free(hid);
}

/* x += O(attention(Q(LN(x)), K, V)); k, v NULL: self-attention (from LN(x)),
 * else the cross-attention keys and values of the source ([Tk, d]). */
static void attn_sublayer(const orc_model_t *m, double *x, int T, const double *g, const double *b,
                          const orc_lin_t *wq, const orc_lin_t *wk, const orc_lin_t *wv, const orc_lin_t *wo,
                          const double *k_in, const double *v_in, int Tk, int causal)
{
    const int d = m->d;
    double *h = dalloc((size_t)T * d), *q = dalloc((size_t)T * d), *a = dalloc((size_t)T * d);
    double *k = NULL, *v = NULL, *y = dalloc((size_t)T * d);
    layernorm(x, g, b, T, d, h);
    linear(wq, h, T, q);
    if (!k_in) {
        k = dalloc((size_t)Tk * d);
        v = dalloc((size_t)Tk * d);
        linear(wk, h, Tk, k);
        linear(wv, h, Tk, v);
    }
    attention(m, q, T, k_in ? k_in : k, v_in ? v_in : v, Tk, causal, a);
    linear(wo, a, T, y);
    for (size_t i = 0; i < (size_t)T * d; i++)
        x[i] += y[i];
    free(h), free(q), free(a), free(k), free(v), free(y);
}

void orc_src_begin(const orc_model_t *m, const double *enc, int S, orc_src_t *src)
{
    const int d = m->d, L = m->layers[ORC_DECODER];
    src->S = S;
    src->ck = dalloc((size_t)L * S * d);
    src->cv = dalloc((size_t)L * S * d);
    src->mean = dalloc((size_t)d);
    for (int i = 0; i < L; i++) {
        linear(&m->layer[ORC_DECODER][i].ck, enc, S, src->ck + (size_t)i * S * d);
        linear(&m->layer[ORC_DECODER][i].cv, enc, S, src->cv + (size_t)i * S * d);
    }
    /* decoder sentence routing: the mean of the encoder output over the source */
    for (int t = 0; t < S; t++)
        for (int j = 0; j < d; j++)
            src->mean[j] += enc[(size_t)t * d + j] / S;
}

void orc_src_end(orc_src_t *src)
{
    free(src->ck);
    free(src->cv);
    free(src->mean);
}

void orc_encode(const orc_model_t *m, int task, const int *src, int S, double cf, double *enc, orc_diag_t *diag)
{
    const int d = m->d, key = orc_task_key(m, task);
    double *x = dalloc((size_t)S * d);
    embed(m, ORC_ENCODER, src, S, x);
    for (int i = 0; i < m->layers[ORC_ENCODER]; i++) {
        const orc_layer_t *l = &m->layer[ORC_ENCODER][i];
        attn_sublayer(m, x, S, l->ln_self_g, l->ln_self_b, &l->q, &l->k, &l->v, &l->o, NULL, NULL, S, 0);
        ffn_sublayer(m, l, ORC_ENCODER, x, S, NULL, key, S, cf, diag);
    }
    layernorm(x, m->ln_g[ORC_ENCODER], m->ln_b[ORC_ENCODER], S, d, enc);
    free(x);
}

/* The decoder; logits for the last `n_out` positions only ([n_out, vocab]). */
static void decode(const orc_model_t *m, int task, const orc_src_t *src, const int *tgt, int T, double cf,
                   int n_out, double *logits, orc_diag_t *diag)
{
    const int d = m->d, key = orc_task_key(m, task), S = src->S;
    double *x = dalloc((size_t)T * d), *h = dalloc((size_t)n_out * d);
    embed(m, ORC_DECODER, tgt, T, x);
    for (int i = 0; i < m->layers[ORC_DECODER]; i++) {
        const orc_layer_t *l = &m->layer[ORC_DECODER][i];
        attn_sublayer(m, x, T, l->ln_self_g, l->ln_self_b, &l->q, &l->k, &l->v, &l->o, NULL, NULL, T, 1);
        attn_sublayer(m, x, T, l->ln_cross_g, l->ln_cross_b, &l->cq, &l->ck, &l->cv, &l->co,
                      src->ck + (size_t)i * S * d, src->cv + (size_t)i * S * d, S, 0);
        ffn_sublayer(m, l, ORC_DECODER, x, T, src->mean, key, S, cf, diag);
    }
    layernorm(x + (size_t)(T - n_out) * d, m->ln_g[ORC_DECODER], m->ln_b[ORC_DECODER], n_out, d, h);
    orc_lin_t out = {m->out_proj, NULL, m->vocab, d};
    linear(&out, h, n_out, logits);
    free(x);
    free(h);
}

void orc_decode(const orc_model_t *m, int task, const double *enc, int S, const int *tgt, int T, double cf,
                double *logits, orc_diag_t *diag)
{
    orc_src_t src;
    orc_src_begin(m, enc, S, &src);
    decode(m, task, &src, tgt, T, cf, T, logits, diag);
    orc_src_end(&src);
}

void orc_decode_last(const orc_model_t *m, int task, const orc_src_t *src, const int *tgt, int T, double cf,
                     double *logits, orc_diag_t *diag)
{
    decode(m, task, src, tgt, T, cf, 1, logits, diag);
}
