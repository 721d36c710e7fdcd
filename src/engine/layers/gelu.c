/* GELU in its tanh form (flax's nn.gelu default, PyTorch's GELU(approximate='tanh')):
 *   y = ½x(1 + tanh u),  u = √(2/π)(x + 0.044715x³)
 *   dy/dx = ½(1 + tanh u) + ½x(1 − tanh² u)·√(2/π)(1 + 3·0.044715x²).
 * Elementwise, so any split over threads gives the same bits. */
#include <math.h>

#include "layers.h"

#define GELU_PARALLEL_MIN 65536
#define GELU_K 0.7978845608028654f /* √(2/π) */
#define GELU_A 0.044715f

void gelu_forward(float *out, const float *in, size_t count)
{
#pragma omp parallel for schedule(static) if (count >= GELU_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++) {
        float x = in[i];
        out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + GELU_A * x * x * x)));
    }
}

void gelu_backward(float *din, const float *dout, const float *in, size_t count, int add)
{
#pragma omp parallel for schedule(static) if (count >= GELU_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++) {
        float x = in[i], t = tanhf(GELU_K * (x + GELU_A * x * x * x));
        float d = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_A * x * x);
        din[i] = (add ? din[i] : 0.0f) + dout[i] * d;
    }
}
