/* layers: plain elementwise and row functions of the forward pass (see layers.h). */
#include "models/layers.h"

#include <math.h>
#include <string.h>

void layer_position(int pos, int d, float *out)
{
    for (int i = 0; i < d; i += 2) {
        double angle = (double)pos / pow(10000.0, (double)i / (double)d);
        out[i] = (float)sin(angle);
        if (i + 1 < d)
            out[i + 1] = (float)cos(angle);
    }
}

void layer_position_table(int rows, int d, float *pos_table)
{
    for (int p = 0; p < rows; p++)
        layer_position(p, d, pos_table + (size_t)p * d);
}

void layer_embed(const float *table, int d, const int *ids, const int *pos, int n, float scale,
                 const float *pos_table, int pos_rows, float *out)
{
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * d;
        const float *row = table + (size_t)ids[i] * d;
        if (pos[i] < pos_rows) /* sin/cos/pow per element cost more than the rest of embedding */
            memcpy(o, pos_table + (size_t)pos[i] * d, sizeof(float) * (size_t)d);
        else
            layer_position(pos[i], d, o);
        for (int j = 0; j < d; j++)
            o[j] += row[j] * scale;
    }
}

void layer_add(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

int layer_argmax(const float *x, int n)
{
    /* Blocks of 16 with independent running maxima (the compiler vectorises
     * this), then the first index holding the maximum: a scan over a 64k
     * vocabulary per token is otherwise a visible share of decoding. */
    float lane[16];
    for (int j = 0; j < 16; j++)
        lane[j] = -INFINITY;
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
    float mx = -INFINITY;
    for (int j = 0; j < 16; j++)
        mx = lane[j] > mx ? lane[j] : mx;
    for (; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    for (i = 0; i < n; i++)
        if (x[i] == mx)
            return i;
    return 0; /* all NaN or -inf */
}
