/* Global average pooling: out[n][c] = Σ_hw in[n][c][·] / hw, so din[n][c][·] += dout[n][c] / hw. */
#include "layers.h"

void avgpool_forward(float *out, const float *in, int n, int c, int hw)
{
    size_t planes = (size_t)n * c;
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * hw;
        double s = 0.0; /* a fixed-order double sum: exact enough that hw's order never shows */
        for (int j = 0; j < hw; j++)
            s += x[j];
        out[p] = (float)(s / hw);
    }
}

void avgpool_backward(float *din, const float *dout, int n, int c, int hw)
{
    if (!din)
        return;
    size_t planes = (size_t)n * c;
    for (size_t p = 0; p < planes; p++) {
        float g = dout[p] / (float)hw;
        float *d = din + p * hw;
        for (int j = 0; j < hw; j++)
            d[j] += g;
    }
}
