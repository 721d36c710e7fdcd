/* Heavy denoising's noise and Gaussian-blur baseline (include/denoise.h). */
#include <math.h>

#include "denoise.h"
#include "error.h"
#include "image.h"
#include "rng.h"

void denoise_noisy(float *x, const float *t, size_t count, double sigma, uint64_t seed, int key,
                   int image)
{
    REVIVE_ASSERT(key >= DENOISE_CHOICE && image >= 0);
    uint64_t k = key == DENOISE_TEST ? 0 : key == DENOISE_CHOICE ? 1 : 2 + (uint64_t)key;
    if (key < 0)
        seed = 0;
    uint64_t stream = rng_stream(RNG_NOISE, k, (uint64_t)image, 0);
    float s = (float)sigma;
    for (size_t i = 0; i < count; i++)
        x[i] = t[i] + s * rng_normal(seed, stream, i);
}

/* The normalized taps of output pixel i of n along one axis: weights k[0 .. hi−lo), first
 * index *lo. */
static int taps(int i, int n, const double *g, int r, double *k, int *lo)
{
    int a = i - r < 0 ? 0 : i - r, b = i + r + 1 > n ? n : i + r + 1;
    double sum = 0.0;
    for (int j = a; j < b; j++)
        sum += k[j - a] = g[j - i < 0 ? i - j : j - i];
    for (int j = a; j < b; j++)
        k[j - a] /= sum;
    *lo = a;
    return b - a;
}

void denoise_blur(float *out, const float *in, int h, int w, double sigma, float *tmp)
{
    REVIVE_ASSERT(sigma > 0.0);
    int r = (int)ceil(3.0 * sigma);
    REVIVE_ASSERT(r <= DENOISE_BLUR_MAX_RADIUS);
    double g[DENOISE_BLUR_MAX_RADIUS + 1], k[2 * DENOISE_BLUR_MAX_RADIUS + 1];
    for (int d = 0; d <= r; d++)
        g[d] = exp(-(double)d * d / (2.0 * sigma * sigma));
    for (int x = 0; x < w; x++) { /* horizontal: in → tmp */
        int lo, cnt = taps(x, w, g, r, k, &lo);
        for (int y = 0; y < h; y++) {
            double s = 0.0;
            for (int j = 0; j < cnt; j++)
                s += k[j] * in[(size_t)y * w + lo + j];
            tmp[(size_t)y * w + x] = (float)s;
        }
    }
    for (int y = 0; y < h; y++) { /* vertical: tmp → out */
        int lo, cnt = taps(y, h, g, r, k, &lo);
        for (int x = 0; x < w; x++) {
            double s = 0.0;
            for (int j = 0; j < cnt; j++)
                s += k[j] * tmp[(size_t)(lo + j) * w + x];
            out[(size_t)y * w + x] = (float)s;
        }
    }
}

double denoise_choose_blur(const float *noisy, const float *clean, int n, int c, int h, int w,
                           float *tmp, double *psnr)
{
    static const double widths[DENOISE_BLUR_NWIDTHS] = DENOISE_BLUR_WIDTHS;
    size_t hw = (size_t)h * w, per = (size_t)c * hw;
    float *out = tmp, *scratch = tmp + per;
    double best = 0.0, best_psnr = -INFINITY;
    for (int b = 0; b < DENOISE_BLUR_NWIDTHS; b++) {
        double sum = 0.0;
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                float *o = out + ch * hw;
                denoise_blur(o, noisy + i * per + ch * hw, h, w, widths[b], scratch);
                for (size_t j = 0; j < hw; j++) /* clamped, as every measured image (NaN → 0) */
                    o[j] = o[j] > 0.0f ? (o[j] < 1.0f ? o[j] : 1.0f) : 0.0f;
            }
            sum += image_psnr(out, clean + i * per, per, 1.0);
        }
        if (sum / n > best_psnr) {
            best_psnr = sum / n;
            best = widths[b];
        }
    }
    *psnr = best_psnr;
    return best;
}
