/* Residual add; its backward is the identity into both inputs (see layers.h). */
#include "layers.h"

#define ADD_PARALLEL_MIN 65536

void add_forward(float *out, const float *a, const float *b, size_t count)
{
#pragma omp parallel for simd schedule(static) if (count >= ADD_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++)
        out[i] = a[i] + b[i];
}

void add_relu_forward(float *out, const float *a, const float *b, size_t count)
{
#pragma omp parallel for simd schedule(static) if (count >= ADD_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++) {
        float v = a[i] + b[i];
        out[i] = v < 0.0f ? 0.0f : v;
    }
}
