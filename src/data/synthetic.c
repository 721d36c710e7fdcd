/* A small synthetic classification set that a tiny ResNet learns in a few epochs.
 *
 * Each class has a fixed pattern of c*hw*hw bytes; a sample is its class's pattern plus
 * Gaussian noise, clamped to 0..255. The pattern is a SYNTH_CELLS x SYNTH_CELLS grid of random
 * levels per channel, blown up to hw x hw. Why a coarse grid rather than independent pixels: a
 * ResNet ends in global average pooling, and i.i.d. per-pixel patterns have nearly the same
 * local statistics in every class, so they are hard for it; coarse blocks give each class a
 * different mean level per channel and large, translation-robust structure.
 *
 * Streams: RNG_SYNTHETIC (0, class) draws the patterns, shared by both splits so that test
 * samples come from the same classes; (1) draws the training noise and (2) the test noise.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "rng.h"

#define SYNTH_CELLS 4
/* Noise std in pixel units. Neighbouring cell levels differ by ~85 on average, so a single
 * pixel is ambiguous but a block of them is not: moderate, learnable noise. */
#define SYNTH_NOISE 32.0f

static void make_split(struct dataset *d, const uint8_t *patterns, int n, int c, int hw,
                       int classes, uint64_t seed, uint64_t split)
{
    size_t chw = (size_t)c * hw * hw;
    d->n = n;
    d->c = c;
    d->h = d->w = hw;
    d->classes = classes;
    d->pixels = rv_malloc((size_t)n * chw);
    d->labels = rv_malloc((size_t)n);
    uint64_t s = rng_stream(RNG_SYNTHETIC, split, 0, 0);
    #pragma omp parallel for schedule(static) if ((size_t)n * chw > (1u << 16))
    for (int i = 0; i < n; i++) {
        int label = i % classes;
        const uint8_t *pat = patterns + (size_t)label * chw;
        uint8_t *px = d->pixels + (size_t)i * chw;
        for (size_t k = 0; k < chw; k++) {
            float v = (float)pat[k] + SYNTH_NOISE * rng_normal(seed, s, (uint64_t)i * chw + k);
            v = rintf(v);
            px[k] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
        }
        d->labels[i] = (uint8_t)label;
    }
}

void data_synthetic(struct dataset *train, struct dataset *test, int n_train, int n_test,
                    int c, int hw, int classes, uint64_t seed)
{
    REVIVE_ASSERT(n_train >= 0 && n_test >= 0);
    REVIVE_ASSERT(c >= 1 && c <= DATA_MAX_CHANNELS);
    REVIVE_ASSERT(hw >= 1 && classes >= 1 && classes <= 256);
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);

    size_t chw = (size_t)c * hw * hw;
    uint8_t *patterns = rv_malloc((size_t)classes * chw);
    for (int k = 0; k < classes; k++) {
        uint64_t s = rng_stream(RNG_SYNTHETIC, 0, (uint64_t)k, 0);
        uint8_t *pat = patterns + (size_t)k * chw;
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < hw; y++)
                for (int x = 0; x < hw; x++) {
                    /* Cell (y*CELLS/hw, x*CELLS/hw) splits the image into equal blocks. */
                    int cell = (y * SYNTH_CELLS / hw) * SYNTH_CELLS + x * SYNTH_CELLS / hw;
                    uint64_t idx = (uint64_t)ch * SYNTH_CELLS * SYNTH_CELLS + (uint64_t)cell;
                    pat[((size_t)ch * hw + y) * hw + x] = (uint8_t)rng_below(seed, s, idx, 256);
                }
    }
    make_split(train, patterns, n_train, c, hw, classes, seed, 1);
    make_split(test, patterns, n_test, c, hw, classes, seed, 2);
    free(patterns);
    data_set_normalization(train, test);
}
