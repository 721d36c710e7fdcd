/* Pixel shuffle, PyTorch's PixelShuffle(r): (N, C·r², H, W) → (N, C, H·r, W·r) with
 *     out[n][c][h·r + i][w·r + j] = in[n][c·r² + i·r + j][h][w],
 * a permutation, so the backward pass is its inverse (an add into din). */
#include "layers.h"

void pixel_shuffle_init(struct pixel_shuffle *l, int in_c, int r, int in_h, int in_w)
{
    *l = (struct pixel_shuffle){.r = r, .c = in_c / (r * r), .in_h = in_h, .in_w = in_w};
}

void pixel_shuffle_forward(float *out, const float *in, const struct pixel_shuffle *l, int n)
{
    int r = l->r, h = l->in_h, w = l->in_w, ow = w * r;
    size_t plane = (size_t)h * w;
    for (int b = 0; b < n; b++)
        for (int c = 0; c < l->c; c++) {
            float *o = out + ((size_t)b * l->c + c) * plane * r * r;
            for (int i = 0; i < r; i++)
                for (int j = 0; j < r; j++) {
                    const float *x = in + ((size_t)b * l->c * r * r + (size_t)c * r * r +
                                           (size_t)i * r + j) * plane;
                    for (int y = 0; y < h; y++)
                        for (int xx = 0; xx < w; xx++)
                            o[(size_t)(y * r + i) * ow + xx * r + j] = x[(size_t)y * w + xx];
                }
        }
}

void pixel_shuffle_backward(float *din, const float *dout, const struct pixel_shuffle *l, int n)
{
    if (!din)
        return;
    int r = l->r, h = l->in_h, w = l->in_w, ow = w * r;
    size_t plane = (size_t)h * w;
    for (int b = 0; b < n; b++)
        for (int c = 0; c < l->c; c++) {
            const float *g = dout + ((size_t)b * l->c + c) * plane * r * r;
            for (int i = 0; i < r; i++)
                for (int j = 0; j < r; j++) {
                    float *d = din + ((size_t)b * l->c * r * r + (size_t)c * r * r +
                                      (size_t)i * r + j) * plane;
                    for (int y = 0; y < h; y++)
                        for (int xx = 0; xx < w; xx++)
                            d[(size_t)y * w + xx] += g[(size_t)(y * r + i) * ow + xx * r + j];
                }
        }
}
