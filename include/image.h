/* Images in and out (PNG, with libpng) and the measurements that compare them.
 *
 *   struct image im;
 *   struct rv_error err;
 *   if (image_read_png(&im, "brick.png", 1, &err)) { fprintf(stderr, "%s\n", err.msg); ... }
 *   ... im.v is (c = 1, h, w) floats in [0, 1] ...
 *   image_write_png(&im, "out.png", &err);             8-bit gray (c = 1) or RGB (c = 3)
 *   struct image cells[6] = {...};                     same c, h, w each; row-major
 *   image_write_grid_png("grid.png", cells, 2, 3, 2, &err);
 *   double p = image_psnr(a.v, b.v, (size_t)a.c * a.h * a.w, 1.0);
 *   double s = image_ssim(a.v, b.v, a.h, a.w, 7, 1.0);  one channel (h, w)
 *   image_free(&im);
 *
 * Reading: 1, 2, 4, 8 and 16-bit gray, gray + alpha, RGB, RGBA and palette PNGs, interlaced or
 * not. Values are the stored samples divided by 2^bits − 1 (no gamma or colour-profile
 * correction, as skimage.io / imageio read them); a palette entry becomes its RGB triple, a tRNS
 * transparency an alpha channel. want_c:
 *   0  as stored: gray 1, gray + alpha 2, RGB and palette 3, RGBA (or palette / RGB / gray with
 *      tRNS) 4 channels, alpha last;
 *   1  gray: from RGB by skimage.color.rgb2gray's weights, Y = 0.2125 R + 0.7154 G + 0.0721 B
 *      (ITU-R BT.709 luma, linear in the stored values; computed in double, rounded once to
 *      float), alpha dropped;
 *   3  RGB: gray replicated to three channels, alpha dropped.
 * Alpha is dropped, not composited: rgb2gray ignores it too.
 *
 * Bounds: each side at most IMAGE_MAX_SIDE and h·w at most IMAGE_MAX_PIXELS (16.7 M pixels,
 * 4096 × 4096: 256 MB of floats at 4 channels), checked from the header before any pixel is
 * decoded. Bad input (a missing or unreadable file, not a PNG, truncated or damaged data, too
 * large, a want_c other than 0, 1, 3) returns -1 with a one-line error in err naming the file and
 * the fix, and leaves *im empty (image_free on it is harmless). libpng's errors are caught
 * (setjmp), never fatal.
 *
 * Writing: 8-bit, gray for c = 1, RGB for c = 3 (any other c is an error); a value v becomes
 * round(255 · clamp(v, 0, 1)), NaN becomes 0. The file is written to PATH.tmp and renamed, so
 * PATH is either the old file or the whole new one.
 */
#ifndef REVIVE_IMAGE_H
#define REVIVE_IMAGE_H

#include <stddef.h>

#include "error.h"

#define IMAGE_MAX_SIDE 16384
#define IMAGE_MAX_PIXELS (4096L * 4096L)

struct image {
    int c, h, w;
    float *v; /* (c, h, w) planar, values in [0, 1]; owned, freed by image_free */
};

/* Reads the PNG at path into *im (allocated here) as want_c channels (0, 1 or 3, above). 0 on
 * success; -1 with a one-line error naming path. */
int image_read_png(struct image *im, const char *path, int want_c, struct rv_error *err);

/* The same from a PNG held in memory (data, n bytes); name stands for the file in errors. */
int image_read_png_mem(struct image *im, const void *data, size_t n, const char *name, int want_c,
                       struct rv_error *err);

/* Writes im (c = 1 or 3) as an 8-bit PNG at path. 0, or -1 with a one-line error. */
int image_write_png(const struct image *im, const char *path, struct rv_error *err);

/* Writes rows × cols cells (row-major in cells[]) as one 8-bit PNG: pad white pixels (value 1)
 * between the cells and around the edge. Every cell has the same c (1 or 3), h and w; a cell
 * whose v is NULL is left white (its c, h, w are not looked at). 0, or -1 with a one-line error
 * (sizes that differ, no cell with pixels, a grid over the bounds, an unwritable path). */
int image_write_grid_png(const char *path, const struct image *cells, int rows, int cols, int pad,
                         struct rv_error *err);

/* Allocates im as c × h × w zeros (the sizes must be positive and within the bounds: a bug
 * otherwise). image_free releases the pixels and zeroes *im; a zeroed image is fine to free. */
void image_alloc(struct image *im, int c, int h, int w);
void image_free(struct image *im);

/* ---- measurements (src/image/metrics.c) ---- */

/* Peak signal-to-noise ratio, 10 log10(data_range² / MSE), over n values (MSE in double); +inf
 * when a and b are equal, as skimage.metrics.peak_signal_noise_ratio gives. */
double image_psnr(const float *a, const float *b, size_t n, double data_range);

/* Structural similarity of two one-channel (h, w) images exactly as
 * skimage.metrics.structural_similarity(a, b, win_size=win, data_range=data_range) computes it
 * (gaussian_weights=False): local means, variances and covariance over a uniform win × win window
 * (sample covariance: the variances scaled by N/(N−1), N = win²), K1 = 0.01, K2 = 0.03,
 * C1 = (K1·data_range)², C2 = (K2·data_range)², and the mean of the SSIM map over the pixels at
 * least (win − 1)/2 from every edge. win is odd, 3 ≤ win ≤ min(h, w) (a bug otherwise). */
double image_ssim(const float *a, const float *b, int h, int w, int win, double data_range);

#endif
