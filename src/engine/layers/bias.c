/* A per-channel bias on NCHW tensors (a conv's): out[n][c][·] += b[c]; db[c] += Σ dout[·][c][·],
 * each channel's sum in double in one fixed order, so the bits do not depend on threads. */
#include "layers.h"

void bias_forward(float *out, const float *b, int n, int c, int hw)
{
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < n; i++) {
            float *y = out + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++)
                y[j] += b[ch];
        }
}

void bias_backward(float *db, const float *dout, int n, int c, int hw)
{
    if (!db)
        return;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0;
        for (int i = 0; i < n; i++) {
            const float *d = dout + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++)
                s += d[j];
        }
        db[ch] += (float)s;
    }
}
