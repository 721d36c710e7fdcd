/* ×2 upsampling of one-channel images, the trivial baselines of super-resolution (issue 22) and
 * the generator's skip connection (superres.skip).
 *
 *   upsample_nearest2(up, x, h, w);    x (h, w) → up (2h, 2w): each pixel repeated 2×2
 *   upsample_bicubic2(up, x, h, w, tmp); x (h, w) → up (2h, 2w): bicubic, PIL's convention
 *   upsample_icnr(&generator, "up.conv"); the conv before a pixel shuffle, ICNR-initialized
 *
 * Bicubic is PIL's Image.resize((2w, 2h), Image.BICUBIC) on a mode "F" (float) image, the
 * convention of Pillow's src/libImaging/Resample.c: Keys' cubic kernel with a = −0.5
 *     k(d) = (a+2)|d|³ − (a+3)|d|² + 1 for |d| ≤ 1,  a|d|³ − 5a|d|² + 8a|d| − 4a for 1 < |d| < 2,
 * separable, pixel centres aligned (align_corners = False: output pixel i sits at input
 * coordinate (i + 0.5)/2 − 0.5), and at the edges the taps outside the image dropped and the
 * remaining weights renormalized to sum 1 (PIL's; not torch's index clamping, which with
 * a = −0.75 gives torch.nn.functional.interpolate(mode="bicubic", align_corners=False)).
 * Horizontal pass first (into a (h, 2w) float buffer), then vertical; sums and weights in double as
 * PIL computes them. The output is not clamped (cubic overshoots by a few %). h, w ≥ 1. */
#ifndef REVIVE_UPSAMPLE_H
#define REVIVE_UPSAMPLE_H

#define UPSAMPLE_BICUBIC_A (-0.5)

void upsample_nearest2(float *up, const float *x, int h, int w);
/* tmp: 2·h·w floats of scratch (no allocation here): the horizontal pass rounded to float, as
 * PIL keeps it in a mode "F" image. */
void upsample_bicubic2(float *up, const float *x, int h, int w, float *tmp);

struct model;
/* ICNR (Aitken et al. 2017) for the conv named conv (with bias) before a PixelShuffle(2): its
 * output channels 4c+1, 4c+2, 4c+3 (weights and bias) set to channel 4c's, so the shuffled
 * output starts as the nearest-neighbour upsampling of one convolution: no checkerboard. The
 * generator's up.conv under superres.icnr = true. */
void upsample_icnr(struct model *m, const char *conv);

#endif
