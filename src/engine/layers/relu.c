/* ReLU. Elementwise, so any split over threads gives the same bits. */
#include "layers.h"

/* Below this many values a parallel region costs more than it saves. */
#define RELU_PARALLEL_MIN 65536

void relu_forward(float *out, const float *in, size_t count)
{
    /* `x < 0 ? 0 : x` rather than `x > 0 ? x : 0`: a NaN passes through, so the training
     * loop's NaN check still sees it. */
#pragma omp parallel for simd schedule(static) if (count >= RELU_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++)
        out[i] = in[i] < 0.0f ? 0.0f : in[i];
}

void relu_backward(float *din, const float *dout, const float *out, size_t count)
{
    if (!din)
        return;
#pragma omp parallel for simd schedule(static) if (count >= RELU_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++)
        din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void relu_backward_to(float *din, const float *dout, const float *out, size_t count)
{
#pragma omp parallel for simd schedule(static) if (count >= RELU_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++)
        din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}
