/* layers: the small plain functions the forward pass is built from, each over
 * flat float arrays with sizes passed in (llm.c style), so that a backward
 * pass can later sit beside each one. Heavy ops (GEMM, layer norm,
 * attention) go through the backend (backends/backend.h), not here. */
#ifndef MODEL_LAYERS_H
#define MODEL_LAYERS_H

#include <stddef.h>

/* out[i,:] = table[ids[i],:] * scale + sinusoid(pos[i])
 * table: [vocab, d]; ids, pos: [n]; out: [n, d]; positions below pos_rows
 * come from pos_table [pos_rows, d] (made by layer_position_table), the
 * others are computed (the same values). */
void layer_embed(const float *table, int d, const int *ids, const int *pos, int n, float scale,
                 const float *pos_table, int pos_rows, float *out);
/* pos_table[p, :] = sinusoid(p) for p < rows. */
void layer_position_table(int rows, int d, float *pos_table);
/* The sinusoidal position code of Vaswani et al.: out[2i] = sin(p / 10000^(2i/d)),
 * out[2i+1] = cos(same); out: [d] */
void layer_position(int pos, int d, float *out);
/* x[n] += y[n] */
void layer_add(float *x, const float *y, size_t n);
/* Index of the largest value (the first one on ties; NaN never wins). */
int layer_argmax(const float *x, int n);

#endif
