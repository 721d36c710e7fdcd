/* LayerNorm over the channels at each position (flax's nn.LayerNorm on a (tokens, channels)
 * array, as MLP-Mixer uses it), on NCHW tensors: for image n and position s (of S = H·W),
 *   μ = Σ_c x_c / C,  σ² = Σ_c (x_c − μ)² / C,  x̂_c = (x_c − μ) / √(σ² + ε),  y_c = γ_c x̂_c + β_c
 * with ε = LAYERNORM_EPS (flax's 1e-6) and the biased variance. Backward, with g_c = dy_c·γ_c:
 *   dx_c = (1/√(σ² + ε)) · (g_c − Σ_c g / C − x̂_c · Σ_c g·x̂ / C)
 *   dγ_c += Σ_{n,s} dy·x̂,  dβ_c += Σ_{n,s} dy.
 * In NCHW the C values of one position are S apart, so every loop runs over positions innermost
 * (contiguous, vectorized) with the channel sums kept per position. Work is split over images
 * (the input gradient) or channels (dγ, dβ, summed in double in a fixed order), so the bits do
 * not depend on the thread count. */
#include <math.h>

#include "layers.h"

void layernorm_forward(float *out, float *save_mean, float *save_invstd, const float *in,
                       const float *gamma, const float *beta, int n, int c, int s)
{
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        const float *x = in + (size_t)i * c * s;
        float *y = out + (size_t)i * c * s;
        float *mean = save_mean + (size_t)i * s, *inv = save_invstd + (size_t)i * s;
        for (int j = 0; j < s; j++)
            mean[j] = 0.0f;
        for (int ch = 0; ch < c; ch++)
            for (int j = 0; j < s; j++)
                mean[j] += x[(size_t)ch * s + j];
        for (int j = 0; j < s; j++) {
            mean[j] /= (float)c;
            inv[j] = 0.0f;
        }
        for (int ch = 0; ch < c; ch++)
            for (int j = 0; j < s; j++) {
                float d = x[(size_t)ch * s + j] - mean[j];
                inv[j] += d * d;
            }
        for (int j = 0; j < s; j++)
            inv[j] = 1.0f / sqrtf(inv[j] / (float)c + LAYERNORM_EPS);
        for (int ch = 0; ch < c; ch++) {
            const float *xc = x + (size_t)ch * s;
            float *yc = y + (size_t)ch * s, g = gamma[ch], b = beta[ch];
            for (int j = 0; j < s; j++)
                yc[j] = (xc[j] - mean[j]) * inv[j] * g + b;
        }
    }
}

void layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                        const float *in, const float *save_mean, const float *save_invstd,
                        const float *gamma, float *sums, int n, int c, int s)
{
    if (dgamma || dbeta) {
#pragma omp parallel for schedule(static)
        for (int ch = 0; ch < c; ch++) {
            double sg = 0.0, sb = 0.0;
            for (int i = 0; i < n; i++) {
                const float *x = in + ((size_t)i * c + ch) * s, *d = dout + ((size_t)i * c + ch) * s;
                const float *mean = save_mean + (size_t)i * s, *inv = save_invstd + (size_t)i * s;
                for (int j = 0; j < s; j++) {
                    sg += (double)(d[j] * ((x[j] - mean[j]) * inv[j]));
                    sb += (double)d[j];
                }
            }
            if (dgamma)
                dgamma[ch] += (float)sg;
            if (dbeta)
                dbeta[ch] += (float)sb;
        }
    }
    if (!din)
        return;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        const float *x = in + (size_t)i * c * s, *d = dout + (size_t)i * c * s;
        const float *mean = save_mean + (size_t)i * s, *inv = save_invstd + (size_t)i * s;
        float *dx = din + (size_t)i * c * s;
        float *sg = sums + (size_t)i * 2 * s, *sgx = sg + s; /* Σ_c g, Σ_c g·x̂ per position */
        for (int j = 0; j < s; j++)
            sg[j] = sgx[j] = 0.0f;
        for (int ch = 0; ch < c; ch++) {
            const float *xc = x + (size_t)ch * s, *dc = d + (size_t)ch * s;
            float w = gamma[ch];
            for (int j = 0; j < s; j++) {
                float g = dc[j] * w;
                sg[j] += g;
                sgx[j] += g * ((xc[j] - mean[j]) * inv[j]);
            }
        }
        for (int j = 0; j < s; j++) {
            sg[j] /= (float)c;
            sgx[j] /= (float)c;
        }
        for (int ch = 0; ch < c; ch++) {
            const float *xc = x + (size_t)ch * s, *dc = d + (size_t)ch * s;
            float *dxc = dx + (size_t)ch * s, w = gamma[ch];
            for (int j = 0; j < s; j++) {
                float xh = (xc[j] - mean[j]) * inv[j];
                dxc[j] += inv[j] * (dc[j] * w - sg[j] - xh * sgx[j]);
            }
        }
    }
}
