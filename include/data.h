/* Image classification data sets held in memory as bytes, and batches made from them.
 *
 *   struct dataset train, test;
 *   if (data_load(&train, &test, DATASET_FASHION_MNIST, "/usr/share/datasets/fashion-mnist", &err)) ...
 *   int *order = malloc(train.n * sizeof *order);
 *   data_epoch_order(order, train.n, seed, epoch);                  same on every rank
 *   struct augment aug = {.crop_pad = 4, .flip = true};
 *   data_make_batch(x, y, &train, order + start, count, &aug, seed, epoch);
 *   dataset_free(&train);
 *
 * Batches are normalized per channel with the TRAINING set's mean and std (stored in both
 * datasets by data_load). Augmentation for sample i in epoch e is a function of
 * (seed, e, i) alone, so which rank or which batch position sees a sample does not matter.
 */
#ifndef REVIVE_DATA_H
#define REVIVE_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

#define DATA_MAX_CHANNELS 3

struct dataset {
    int n, c, h, w;
    int classes;
    uint8_t *pixels;  /* (n, c, h, w), 0..255 */
    uint8_t *labels;  /* (n), 0..classes-1 */
    float mean[DATA_MAX_CHANNELS], std[DATA_MAX_CHANNELS]; /* of the training set, in [0,1] units */
};

struct augment {
    int crop_pad; /* random crop after zero padding by this many pixels; 0 = no crop */
    bool flip;    /* random horizontal flip with probability 1/2 */
};

/* kind: "fashion_mnist" (gzip IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
 * t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in dir) or "cifar10" (data_batch_1.bin …
 * data_batch_5.bin and test_batch.bin in dir). Errors name the file and the fix. */
int data_load(struct dataset *train, struct dataset *test, enum dataset_kind kind, const char *dir,
              struct rv_error *err);
int data_load_fashion_mnist(struct dataset *train, struct dataset *test, const char *dir,
                            struct rv_error *err);
int data_load_cifar10(struct dataset *train, struct dataset *test, const char *dir,
                      struct rv_error *err);
/* A small learnable set: each class a fixed random pattern plus noise; a function of seed. */
void data_synthetic(struct dataset *train, struct dataset *test, int n_train, int n_test,
                    int c, int hw, int classes, uint64_t seed);
/* Keeps the first n samples (n <= 0 or n >= d->n: no change). Normalization is unchanged. */
void dataset_truncate(struct dataset *d, int n);
/* Sets train->mean/std from train's pixels and copies them to test. */
void data_set_normalization(struct dataset *train, struct dataset *test);
void dataset_free(struct dataset *d);
/* data.label_noise: replaces exactly round(p·n) labels of d (the training set; halves round up):
 * those of the images with the smallest scores rng_uniform_double(seed, RNG_LABEL_NOISE (0), i),
 * ties by index, so the replaced sets are nested as p grows; image i's new label is
 * (y + 1 + rng_below(seed, RNG_LABEL_NOISE (1), i, classes − 1)) mod classes, uniform over the
 * other classes and the same for every p. Called once at load (run_open), so every epoch sees
 * the same labels. Returns the number replaced. */
int data_label_noise(struct dataset *d, double p, uint64_t seed);

/* A permutation of 0..n-1 for this epoch (Fisher–Yates on RNG_SHUFFLE (epoch)). */
void data_epoch_order(int *order, int n, uint64_t seed, int epoch);

/* Fills x (count, c, h, w) and y (count) with samples indices[0..count), normalized, augmented
 * when aug is not NULL. */
void data_make_batch(float *x, int *y, const struct dataset *d, const int *indices, int count,
                     const struct augment *aug, uint64_t seed, int epoch);

#endif
