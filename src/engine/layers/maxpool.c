/* Max pooling, PyTorch's MaxPool2d. Forward keeps each output's argmax, so backward is a
 * scatter: din[argmax] += dout. Windows may overlap (3×3 stride 2): a plane's adds run in one
 * fixed order, and planes are independent, so the bits do not depend on the thread count. */
#include <math.h>

#include "error.h"
#include "layers.h"

static int pooled_size(int in, int k, int s, int p, int ceil_mode)
{
    int span = in + 2 * p - k;
    int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + p) /* the last window would start in the padding */
        out--;
    return out;
}

void maxpool2d_init(struct maxpool2d *l, int c, int k, int stride, int pad, int in_h, int in_w,
                    int ceil_mode)
{
    REVIVE_ASSERT(c > 0 && k > 0 && stride > 0 && pad >= 0 && 2 * pad <= k);
    /* ceil mode may start a window that ends beyond the input, as PyTorch's does */
    REVIVE_ASSERT(ceil_mode || (in_h + 2 * pad >= k && in_w + 2 * pad >= k));
    *l = (struct maxpool2d){.c = c, .k = k, .stride = stride, .pad = pad, .in_h = in_h, .in_w = in_w};
    l->out_h = pooled_size(in_h, k, stride, pad, ceil_mode);
    l->out_w = pooled_size(in_w, k, stride, pad, ceil_mode);
}

void maxpool2d_forward(float *out, int32_t *argmax, const float *in, const struct maxpool2d *l, int n)
{
    long planes = (long)n * l->c;
    size_t ip = (size_t)l->in_h * l->in_w, op = (size_t)l->out_h * l->out_w;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const float *x = in + (size_t)p * ip;
        float *y = out + (size_t)p * op;
        int32_t *a = argmax + (size_t)p * op;
        for (int oh = 0; oh < l->out_h; oh++)
            for (int ow = 0; ow < l->out_w; ow++) {
                int h0 = oh * l->stride - l->pad, w0 = ow * l->stride - l->pad;
                int h1 = h0 + l->k < l->in_h ? h0 + l->k : l->in_h;
                int w1 = w0 + l->k < l->in_w ? w0 + l->k : l->in_w;
                h0 = h0 < 0 ? 0 : h0;
                w0 = w0 < 0 ? 0 : w0;
                int best = h0 * l->in_w + w0;
                float bv = x[best];
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) {
                        float v = x[h * l->in_w + w];
                        if (v > bv || (isnan(v) && !isnan(bv))) {
                            bv = v;
                            best = h * l->in_w + w;
                        }
                    }
                y[oh * l->out_w + ow] = bv;
                a[oh * l->out_w + ow] = best;
            }
    }
}

void maxpool2d_backward(float *din, const float *dout, const int32_t *argmax,
                        const struct maxpool2d *l, int n)
{
    if (!din)
        return;
    long planes = (long)n * l->c;
    size_t ip = (size_t)l->in_h * l->in_w, op = (size_t)l->out_h * l->out_w;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        float *dx = din + (size_t)p * ip;
        const float *dy = dout + (size_t)p * op;
        const int32_t *a = argmax + (size_t)p * op;
        for (size_t j = 0; j < op; j++)
            dx[a[j]] += dy[j];
    }
}
