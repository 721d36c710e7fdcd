/* Normalization, epoch order, batches and augmentation, and the data_load dispatch.
 *
 * Augmentation of sample i (its index in the data set) in epoch e uses the stream
 * s = rng_stream(RNG_AUGMENT, e, i, 0):
 *     dy   = rng_below(seed, s, 0, 2*pad + 1)      crop offsets into the zero-padded image
 *     dx   = rng_below(seed, s, 1, 2*pad + 1)
 *     flip = rng_uniform(seed, s, 2) < 0.5
 * These three draws are made whatever the augment settings are, so turning one part off does
 * not change the other. As torchvision's RandomCrop(padding) then RandomHorizontalFlip then
 * Normalize: padding is zero in pixel space, and
 *     out[ch][y][x] = norm(img[ch][y + dy - pad][x' + dx - pad]),  x' = flip ? w-1-x : x,
 * with norm(p) = (p/255 - mean[ch]) / std[ch], and p = 0 outside the image.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "rng.h"

int data_load(struct dataset *train, struct dataset *test, enum dataset_kind kind, const char *dir,
              struct rv_error *err)
{
    if (kind == DATASET_FASHION_MNIST)
        return data_load_fashion_mnist(train, test, dir, err);
    if (kind == DATASET_CIFAR10)
        return data_load_cifar10(train, test, dir, err);
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    return rv_fail(err, "data.dataset: data set '%s' is not loaded from files; use "
                        "fashion_mnist or cifar10 (synthetic is generated, not loaded)",
                   CHOICE_NAME(dataset_names, kind));
}

void data_set_normalization(struct dataset *train, struct dataset *test)
{
    REVIVE_ASSERT(train->c >= 1 && train->c <= DATA_MAX_CHANNELS);
    size_t plane = (size_t)train->h * train->w;
    for (int ch = 0; ch < DATA_MAX_CHANNELS; ch++) {
        train->mean[ch] = 0.0f;
        train->std[ch] = 1.0f;
    }
    for (int ch = 0; ch < train->c; ch++) {
        /* Integer sums are exact (60000*784*255^2 < 2^63); only the final division rounds.
         * mean = S1 / (255 N), var = S2 / (255^2 N) - mean^2 (population variance, in [0,1]
         * units), as the usual per-channel statistics computed over the whole training set. */
        uint64_t s1 = 0, s2 = 0;
        #pragma omp parallel for reduction(+ : s1, s2) schedule(static) if (train->n > 1000)
        for (int i = 0; i < train->n; i++) {
            const uint8_t *p = train->pixels + ((size_t)i * train->c + ch) * plane;
            uint64_t a = 0, b = 0;
            for (size_t k = 0; k < plane; k++) {
                a += p[k];
                b += (uint64_t)p[k] * p[k];
            }
            s1 += a;
            s2 += b;
        }
        double count = (double)train->n * (double)plane;
        if (count == 0.0)
            continue;
        double mean = (double)s1 / (255.0 * count);
        double var = (double)s2 / (255.0 * 255.0 * count) - mean * mean;
        /* A constant channel has no spread; dividing by 1 keeps the batch finite. */
        double std = var > 1e-12 ? sqrt(var) : 1.0;
        train->mean[ch] = (float)mean;
        train->std[ch] = (float)std;
    }
    if (test) {
        memcpy(test->mean, train->mean, sizeof test->mean);
        memcpy(test->std, train->std, sizeof test->std);
    }
}

void dataset_truncate(struct dataset *d, int n)
{
    if (n <= 0 || n >= d->n)
        return;
    size_t chw = (size_t)d->c * d->h * d->w;
    d->n = n;
    /* Give the tail back; a failed shrink just keeps the larger block. */
    uint8_t *p = realloc(d->pixels, (size_t)n * chw);
    if (p)
        d->pixels = p;
    uint8_t *l = realloc(d->labels, (size_t)n);
    if (l)
        d->labels = l;
}

void dataset_free(struct dataset *d)
{
    free(d->pixels);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

void data_epoch_order(int *order, int n, uint64_t seed, int epoch)
{
    uint64_t s = rng_stream(RNG_SHUFFLE, (uint64_t)epoch, 0, 0);
    for (int i = 0; i < n; i++)
        order[i] = i;
    /* Fisher–Yates: position i takes a uniform pick from the i+1 not yet placed. */
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(seed, s, (uint64_t)i, (uint32_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

void data_make_batch(float *x, int *y, const struct dataset *d, const int *indices, int count,
                     const struct augment *aug, uint64_t seed, int epoch)
{
    REVIVE_ASSERT(d->c >= 1 && d->c <= DATA_MAX_CHANNELS);
    const int c = d->c, h = d->h, w = d->w;
    const size_t plane = (size_t)h * w, chw = (size_t)c * plane;
    const int pad = aug ? aug->crop_pad : 0;
    const bool flip_on = aug && aug->flip;
    REVIVE_ASSERT(pad >= 0);

    /* norm(p) for every byte value, so each output is one table look-up. */
    float table[DATA_MAX_CHANNELS][256];
    for (int ch = 0; ch < c; ch++)
        for (int v = 0; v < 256; v++)
            table[ch][v] = (float)(((double)v / 255.0 - (double)d->mean[ch]) / (double)d->std[ch]);

    #pragma omp parallel for schedule(static) if ((size_t)count * chw > (1u << 15))
    for (int b = 0; b < count; b++) {
        const int i = indices[b];
        REVIVE_ASSERT(i >= 0 && i < d->n);
        const uint8_t *src = d->pixels + (size_t)i * chw;
        float *dst = x + (size_t)b * chw; /* (c, h, w) */
        y[b] = d->labels[i];
        if (!aug) {
            for (int ch = 0; ch < c; ch++)
                for (size_t k = 0; k < plane; k++)
                    dst[ch * plane + k] = table[ch][src[ch * plane + k]];
            continue;
        }
        const uint64_t s = rng_stream(RNG_AUGMENT, (uint64_t)epoch, (uint64_t)i, 0);
        const int dy = (int)rng_below(seed, s, 0, (uint32_t)(2 * pad + 1)) - pad;
        const int dx = (int)rng_below(seed, s, 1, (uint32_t)(2 * pad + 1)) - pad;
        const bool flip = flip_on && rng_uniform(seed, s, 2) < 0.5f;
        for (int ch = 0; ch < c; ch++) {
            const uint8_t *sp = src + ch * plane;
            float *dp = dst + ch * plane;
            const float zero = table[ch][0];
            for (int oy = 0; oy < h; oy++) {
                const int sy = oy + dy;
                if (sy < 0 || sy >= h) {
                    for (int ox = 0; ox < w; ox++)
                        dp[oy * w + ox] = zero;
                    continue;
                }
                for (int ox = 0; ox < w; ox++) {
                    const int sx = (flip ? w - 1 - ox : ox) + dx;
                    dp[oy * w + ox] = (sx >= 0 && sx < w) ? table[ch][sp[sy * w + sx]] : zero;
                }
            }
        }
    }
}
