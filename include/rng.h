/* Counter-based random numbers: every value is a pure function of (seed, stream, index).
 *
 *   uint64_t s = rng_stream(RNG_INIT, param_index, 0, 0);   what the numbers are for
 *   float w = rng_normal(seed, s, i) * std;                  the i-th number of that stream
 *
 * There is no generator state to save or advance, so initial weights, re-initialized filters,
 * masks, shuffles and augmentations are the same on any number of ranks and after a resume.
 */
#ifndef REVIVE_RNG_H
#define REVIVE_RNG_H

#include <stdint.h>

/* What a stream is for; the first word of every stream key. */
enum rng_purpose {
    RNG_INIT = 1,      /* (param index): initial parameter values */
    RNG_REINIT = 2,    /* (stage, param index, filter): re-initialized filters */
    RNG_MASK = 3,      /* (param index): scores that choose trainable conv weights */
    RNG_SHUFFLE = 4,   /* (epoch): order of the training set */
    RNG_AUGMENT = 5,   /* (epoch, sample): crop offsets and flips */
    RNG_SYNTHETIC = 6, /* (split): the synthetic data set */
    RNG_TEST = 7,      /* tests only */
    RNG_LABEL_NOISE = 8, /* (0): which training labels are replaced; (1): their new labels */
    RNG_LOSSNET = 9,   /* (param index): a frozen loss network's random weights (lossnet.h) */
    RNG_STYLE = 10,    /* (0): the starting noise of texture synthesis (pipeline style) */
    RNG_NOISE = 11,    /* (0, image): a test image's noise, seed 0; (1, image): a blur-choice
                          image's, seed 0; (2 + epoch, image): a training image's, seed run.seed
                          (pipeline superres, task = denoise: denoise.h) */
};

/* A stream key from a purpose and up to three numbers. */
uint64_t rng_stream(enum rng_purpose purpose, uint64_t a, uint64_t b, uint64_t c);

/* 64 random bits. */
uint64_t rng_u64(uint64_t seed, uint64_t stream, uint64_t index);
/* Uniform in [0, 1), 24 bits of precision (every value exactly representable as float). */
float rng_uniform(uint64_t seed, uint64_t stream, uint64_t index);
/* Uniform in [0, 1) with 53 bits, for Box-Muller and sorting keys. */
double rng_uniform_double(uint64_t seed, uint64_t stream, uint64_t index);
/* Standard normal (Box-Muller on two uniforms drawn at 2*index and 2*index+1). */
float rng_normal(uint64_t seed, uint64_t stream, uint64_t index);
/* Uniform integer in [0, bound), bound > 0 (unbiased for the bounds used here: < 2^32). */
uint32_t rng_below(uint64_t seed, uint64_t stream, uint64_t index, uint32_t bound);

#endif
