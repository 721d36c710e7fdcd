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
 *      (IMAGE_GRAY_R/G/B: ITU-R BT.709 luma, linear in the stored values; computed in double from
 *      the stored samples, rounded once to float), alpha dropped;
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

/* rgb2gray's weights (ITU-R BT.709 luma), used by the reader and image_convert. */
#define IMAGE_GRAY_R 0.2125
#define IMAGE_GRAY_G 0.7154
#define IMAGE_GRAY_B 0.0721

/* *out (allocated here) = in as want_c channels (1 or 3; in has 1 to 4), as the reader converts:
 * gray from RGB by the weights above, gray replicated, alpha dropped. */
void image_convert(struct image *out, const struct image *in, int want_c);

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

/* The share of x's spectral energy above cutoff (cycles per pixel, 0 ≤ cutoff ≤ 1/2): the sum of
 * |F|² over the frequencies (fy, fx) with max(|fy|, |fx|) > cutoff, over the sum at all
 * frequencies; x is one (h, w) channel, its mean removed first (the DC term is not energy of any
 * band), no window (the image is taken as periodic). The square band max(|fy|, |fx|) ≤ c is what
 * an image subsampled by 1/(2c) in each direction can hold: for ×2 super-resolution, cutoff 1/4
 * (IMAGE_NYQUIST_X2), the low-resolution Nyquist frequency in high-resolution pixels. 0 for a
 * constant image. */
#define IMAGE_NYQUIST_X2 0.25
double image_spectral_share_above(const float *x, int h, int w, double cutoff);

/* The radially averaged power spectrum of one (h, w) channel, its mean removed: power[b] is the
 * mean of |F(fy, fx)|² / (h·w) over the frequencies whose radius r = sqrt(fy² + fx²) (cycles per
 * pixel) has b ≤ 2·nbins·r < b + 1, b = 0 … nbins − 1 (the DC term excluded, radii ≥ 1/2 — the
 * corners — dropped; an empty bin is 0: give nbins ≤ min(h, w)/2 to have none). */
void image_radial_spectrum(double *power, int nbins, const float *x, int h, int w);

/* The distance between two radially averaged power spectra: the mean over the bins of
 * |log10(pa + ε) − log10(pb + ε)|, ε = IMAGE_SPECTRUM_FLOOR (decades of power, on average). */
#define IMAGE_SPECTRUM_FLOOR 1e-10
double image_spectrum_distance(const double *pa, const double *pb, int nbins);

/* The Wasserstein-1 (earth mover's) distance between the gray-level histograms of a (na values)
 * and b (nb values): each value clamped to [0, 1] and rounded to one of `levels` levels
 * k / (levels − 1); W1 = Σ_k |CDF_a(k) − CDF_b(k)| / (levels − 1), in units of the value range.
 * For 8-bit images and levels = 256 it equals scipy.stats.wasserstein_distance(a, b). */
double image_w1_gray(const float *a, size_t na, const float *b, size_t nb, int levels);

#endif
