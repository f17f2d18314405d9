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

void layer_embed(const float *table, int d, const int *ids, const int *pos, int n, float scale, float *out)
{
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * d;
        const float *row = table + (size_t)ids[i] * d;
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

void layer_running_mean(float *sum, const float *x, int d, int count, float *mean)
{
    float inv = 1.0f / (float)count;
    for (int j = 0; j < d; j++) {
        sum[j] += x[j];
        mean[j] = sum[j] * inv;
    }
}

int layer_argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}
