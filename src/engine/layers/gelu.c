/* GELU in its tanh form (flax's nn.gelu default, PyTorch's GELU(approximate='tanh')):
 *   y = ½x(1 + tanh u),  u = √(2/π)(x + 0.044715x³)
 *   dy/dx = ½(1 + tanh u) + ½x(1 − tanh² u)·√(2/π)(1 + 3·0.044715x²).
 *
 * tanh is revive's own (gelu_tanh_inline), not libm's: glibc's tanhf is scalar (through expm1f)
 * and took about 60 % of a Mixer step. It is plain float arithmetic, no libm call, so GCC
 * vectorizes the loops below, and since the build is ISO C (-std=c11: no FMA contraction) a
 * vector lane and the scalar remainder give the same bits: the result depends neither on the
 * vector width nor on the split over threads. With a = |u|:
 *   a < 0.625   u + u·s·P(s), s = u², P a degree-4 minimax fit of (tanh u − u)/u³
 *   a ≥ 0.625   ±(1 − 2/(e^{2a} + 1)), a clamped to 9.5 (tanh 9.5 rounds to 1 in float),
 *               e^z = 2^n·(1 + r + r²Q(r)), n = round(z/ln 2), |r| ≤ ln2/2 (Cody–Waite), Q degree 4.
 * Worst error against tanh in double over every float of [0, 12]: 1.34 ulp (glibc's tanhf: 2.16);
 * ±0, tiny, huge and ±∞ as tanh. tests/test_mixer_layers.c checks it (a dense grid, the special
 * values), GELU and GELU' against double, and that a lane gives the scalar bits. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "layers.h"

#define GELU_PARALLEL_MIN 65536
#define GELU_K 0.7978845608028654f /* √(2/π) */
#define GELU_A 0.044715f
/* |x| beyond which tanh u is ±1 exactly (u ≥ 43 there), so 1 − tanh² u = 0: the derivative's
 * second term reads x clamped to it, which changes nothing below and keeps x² finite above. */
#define GELU_X_FLAT 10.0f

static inline float exp_small(float z) /* e^z for z in [0, 19] */
{
    const float shift = 12582912.0f; /* 1.5·2^23: t's low mantissa bits hold round(z/ln 2) */
    float t = z * 1.44269504f + shift, n = t - shift;
    float r = z - n * 0.693359375f;  /* ln 2's high part: n·it is exact */
    r = r - n * -2.12194440e-4f;     /* ... and its low part */
    float q = (((0.00138146128f * r + 0.00836871006f) * r + 0.041668389f) * r + 0.166665211f) * r +
              0.49999994f;
    float p = 1.0f + r + r * r * q;
    int32_t ti, si;
    memcpy(&ti, &t, sizeof ti);
    si = (ti - 0x4B400000 + 127) * (1 << 23); /* 2^n */
    float s;
    memcpy(&s, &si, sizeof s);
    return p * s;
}

static inline float gelu_tanh_inline(float u)
{
    float a = fabsf(u), s = a * a;
    float small = a + a * s * ((((-0.005704986397176981f * s + 0.02063908614218235f) * s -
                                 0.05373971536755562f) * s + 0.13331441581249237f) * s -
                               0.3333328068256378f);
    float ac = a > 9.5f ? 9.5f : a; /* NaN stays NaN */
    float big = 1.0f - 2.0f / (exp_small(ac + ac) + 1.0f);
    return copysignf(a < 0.625f ? small : big, u); /* odd, tanh(−0) = −0 */
}

float gelu_tanh(float u)
{
    return gelu_tanh_inline(u);
}

void gelu_forward(float *out, const float *in, size_t count)
{
#pragma omp parallel for schedule(static) if (count >= GELU_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++) {
        float x = in[i];
        out[i] = 0.5f * x * (1.0f + gelu_tanh_inline(GELU_K * (x + GELU_A * x * x * x)));
    }
}

void gelu_backward(float *din, const float *dout, const float *in, size_t count, int add)
{
#pragma omp parallel for schedule(static) if (count >= GELU_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++) {
        float x = in[i], t = gelu_tanh_inline(GELU_K * (x + GELU_A * x * x * x));
        float xc = x > GELU_X_FLAT ? GELU_X_FLAT : x < -GELU_X_FLAT ? -GELU_X_FLAT : x;
        float d = 0.5f * (1.0f + t) + 0.5f * xc * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_A * xc * xc);
        din[i] = (add ? din[i] : 0.0f) + dout[i] * d;
    }
}
