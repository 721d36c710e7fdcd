/* Heavy denoising's data and classical baseline (issue 22's second task: pipeline superres with
 * superres.task = denoise).
 *
 *   denoise_noisy(x, t, 784, 0.5, 0, DENOISE_TEST, 17);      x = t + 0.5·N(0, 1), test image 17
 *   denoise_noisy(x, t, 784, 0.5, seed, epoch, idx);        a training image's, fresh per epoch
 *   denoise_blur(out, x, 28, 28, 1.0, tmp);                 Gaussian blur, σ = 1 pixel
 *   double b = denoise_choose_blur(noisy, clean, n, 1, 28, 28, tmp, &psnr);  the best of the grid
 *
 * The noise is additive Gaussian in [0, 1] pixel units, not clamped (the generator sees the
 * values as drawn), one normal per pixel: pixel i of image `image` takes rng_normal(seed,
 * rng_stream(RNG_NOISE, k, image, 0), i), with k = 0 for a test image (seed 0: every run, cell and
 * seed measures on the same noisy test images, so comparisons are paired), k = 1 for the
 * training images the blur width is chosen on (seed 0: the same baseline for every run) and
 * k = 2 + epoch in training (seed run.seed: fresh noise per seed, epoch and image). A pure
 * function of those numbers, so a resumed run draws the same noise.
 *
 * The blur is separable, kernel exp(−d²/(2σ²)) for |d| ≤ ⌈3σ⌉, the taps outside the image
 * dropped and the rest renormalized to sum 1 (as upsample.h's bicubic at the edges), horizontal
 * pass then vertical, sums in double. */
#ifndef REVIVE_DENOISE_H
#define REVIVE_DENOISE_H

#include <stddef.h>
#include <stdint.h>

/* denoise_noisy's key for a test image and for the blur-choice images; an epoch (≥ 0) else. */
enum { DENOISE_TEST = -1, DENOISE_CHOICE = -2 };
/* The blur widths (σ in pixels) denoise_choose_blur tries, smallest first. */
#define DENOISE_BLUR_WIDTHS {0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0}
#define DENOISE_BLUR_NWIDTHS 10
/* The largest kernel radius: ⌈3σ⌉ of the widest. */
#define DENOISE_BLUR_MAX_RADIUS 9

/* x = t + σ·noise over count values (one image, all channels) for key (DENOISE_TEST,
 * DENOISE_CHOICE or an epoch) and image index; seed is run.seed for an epoch, ignored (0) else. */
void denoise_noisy(float *x, const float *t, size_t count, double sigma, uint64_t seed, int key,
                   int image);
/* out (h, w) = in (h, w) blurred by a Gaussian of width sigma (0 < sigma ≤ 3); tmp: h·w floats. */
void denoise_blur(float *out, const float *in, int h, int w, double sigma, float *tmp);
/* The width of DENOISE_BLUR_WIDTHS whose blur of the n noisy images (n, c, h, w; each channel
 * blurred alone), clamped to [0, 1], has the highest mean PSNR (per image over c·h·w) against
 * the clean ones; that PSNR in *psnr. tmp: 2·c·h·w floats. Ties go to the smaller width. */
double denoise_choose_blur(const float *noisy, const float *clean, int n, int c, int h, int w,
                           float *tmp, double *psnr);

#endif
