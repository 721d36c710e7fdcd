/* ×2 nearest-neighbour and bicubic upsampling (include/upsample.h). */
#include <math.h>
#include <stddef.h>

#include <stdio.h>
#include <string.h>

#include "model.h"
#include "upsample.h"

void upsample_nearest2(float *up, const float *x, int h, int w)
{
    for (int y = 0; y < 2 * h; y++)
        for (int xx = 0; xx < 2 * w; xx++)
            up[(size_t)y * 2 * w + xx] = x[(size_t)(y / 2) * w + xx / 2];
}

static double cubic(double d)
{
    const double a = UPSAMPLE_BICUBIC_A;
    d = fabs(d);
    if (d < 1.0)
        return ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0;
    if (d < 2.0)
        return (((d - 5.0) * d + 8.0) * d - 4.0) * a;
    return 0.0;
}

/* The taps of output pixel i of a ×2 upsampling of n pixels: first input index, count (≤ 4) and
 * normalized weights, as PIL's precompute_coeffs (support 2, scale 1/2, centre (i + 0.5)/2). */
static int taps(int i, int n, double *k)
{
    double centre = (i + 0.5) * 0.5;
    int lo = (int)(centre - 2.0 + 0.5), hi = (int)(centre + 2.0 + 0.5); /* truncation, as PIL */
    if (lo < 0)
        lo = 0;
    if (hi > n)
        hi = n;
    double sum = 0.0;
    for (int j = lo; j < hi; j++)
        sum += k[j - lo] = cubic(j - centre + 0.5);
    for (int j = lo; j < hi; j++)
        k[j - lo] = sum != 0.0 ? k[j - lo] / sum : 0.0;
    return lo * 8 + (hi - lo); /* packed: first index, count */
}

void upsample_bicubic2(float *up, const float *x, int h, int w, float *tmp)
{
    double k[8];
    for (int xx = 0; xx < 2 * w; xx++) { /* horizontal: (h, w) → tmp (h, 2w) */
        int t = taps(xx, w, k), lo = t / 8, cnt = t % 8;
        for (int y = 0; y < h; y++) {
            double s = 0.0;
            for (int j = 0; j < cnt; j++)
                s += k[j] * x[(size_t)y * w + lo + j];
            tmp[(size_t)y * 2 * w + xx] = (float)s;
        }
    }
    for (int y = 0; y < 2 * h; y++) { /* vertical: tmp (h, 2w) → up (2h, 2w) */
        int t = taps(y, h, k), lo = t / 8, cnt = t % 8;
        for (int xx = 0; xx < 2 * w; xx++) {
            double s = 0.0;
            for (int j = 0; j < cnt; j++)
                s += k[j] * tmp[(size_t)(lo + j) * 2 * w + xx];
            up[(size_t)y * 2 * w + xx] = (float)s;
        }
    }
}

/* ICNR (Aitken et al. 2017, "Checkerboard artifact free sub-pixel convolution"): the conv's
 * weights and bias as if it had a quarter of its output channels, each repeated for the four
 * sub-pixels PixelShuffle(2) makes of it (output channel 4c + k goes to sub-pixel k of channel
 * c: model.h's pixel shuffle, PyTorch's order), so the shuffled output starts as a
 * nearest-neighbour upsampling of one convolution. The kept draw is sub-pixel 0's: model_init's
 * values of channels 4c. */
void upsample_icnr(struct model *m, const char *conv)
{
    char name[96]; /* a conv's weight is the parameter named as the layer (model_build.c) */
    int w = model_find_param(m, conv);
    snprintf(name, sizeof name, "%s.bias", conv);
    int b = model_find_param(m, name);
    REVIVE_ASSERT(w >= 0 && b >= 0 && m->params[w].dims[0] % 4 == 0);
    const struct param *pw = &m->params[w], *pb = &m->params[b];
    size_t per = pw->count / (size_t)pw->dims[0]; /* c_in·3·3 */
    for (int o = 0; o < pw->dims[0]; o++) {
        int from = o - o % 4;
        memcpy(m->values + pw->offset + (size_t)o * per, m->values + pw->offset + (size_t)from * per,
               per * sizeof(float));
        m->values[pb->offset + o] = m->values[pb->offset + from];
    }
}
