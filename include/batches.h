/* The batches of one pass over a data set, as this rank sees them: what training, BatchNorm
 * recalibration and evaluation walk (src/pipeline/train.c, recalibrate.c, run.c).
 *
 *   struct batches b;
 *   batches_open(&b, &r->train, B, comm->rank, comm->size, &aug, seed);    buffers, once
 *   batches_order(&b, key);                       the pass's shuffle (and augmentation) key
 *   for (long j = 0; j < b.count; j++) {
 *       batches_load(&b, j);                      b.x (b.n, C, H, W), b.y (b.n) of b.global images
 *       model_forward(m, b.x, b.n, ...);
 *   }
 *   batches_close(&b);
 *
 * Two ways to cut a pass, one owner each:
 *  - global batches (training, recalibration; batches_open): batch j is positions
 *    [jB, min(n, (j+1)B)) of the pass's order (data_epoch_order keyed by the pass), and this rank
 *    takes a contiguous share of it, sizes differing by at most one: the same images on any
 *    number of ranks make a batch, and a rank whose share is empty still joins its reductions.
 *  - a shard (evaluation; batches_open_shard): this rank takes a contiguous shard of the set in
 *    its order, cut into chunks of at most B images; the ranks' chunk counts may differ, so a
 *    pass over a shard makes no collective call.
 * Augmentation (when aug is not NULL) of image i in the pass keyed k is a function of
 * (seed, k, i) (data.h). Nothing is allocated after batches_open.
 */
#ifndef REVIVE_BATCHES_H
#define REVIVE_BATCHES_H

#include <stdbool.h>
#include <stdint.h>

#include "data.h"

struct batches {
    const struct dataset *d;
    int size;                /* B: the global batch, or a shard's chunk */
    int rank, ranks;
    bool shard;              /* evaluation: a contiguous shard of the set, in order */
    bool augment;
    struct augment aug;
    uint64_t seed;
    int key;                 /* the pass's shuffle and augmentation key (batches_order) */
    int lo, hi;              /* the positions of the order this rank walks (a shard; else all) */
    long count;              /* batches in the pass (this rank's chunks for a shard) */
    int *order;              /* (d->n) the pass's order of the images */
    int cap;                 /* images a load holds at most */
    float *x;                /* (cap, C, H, W) this rank's images of the batch loaded */
    int *y;                  /* (cap) their labels */
    int n;                   /* set by batches_load: this rank's images of the batch */
    int global;              /* the whole batch's images over all ranks (a shard: n) */
};

/* Global batches of B images of d, split over ranks; aug NULL: none. The order is the identity
 * until batches_order. */
void batches_open(struct batches *b, const struct dataset *d, int B, int rank, int ranks,
                  const struct augment *aug, uint64_t seed);
/* This rank's contiguous shard of d (in order, no augmentation) in chunks of at most B. */
void batches_open_shard(struct batches *b, const struct dataset *d, int B, int rank, int ranks);
/* The order of the pass keyed key: data_epoch_order(seed, key); the key also keys augmentation. */
void batches_order(struct batches *b, int key);
/* Loads batch j (0 ≤ j < b->count) of the pass into b->x, b->y; sets b->n and b->global. */
void batches_load(struct batches *b, long j);
/* [lo, hi): rank's contiguous share of count items split over ranks, sizes differing by ≤ 1. */
void batches_share(int count, int rank, int ranks, int *lo, int *hi);
void batches_close(struct batches *b);

#endif
