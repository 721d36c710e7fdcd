/* The batches of a pass over a data set, as this rank sees them (see batches.h). */
#include <stdlib.h>
#include <string.h>

#include "batches.h"
#include "error.h"

void batches_share(int count, int rank, int ranks, int *lo, int *hi)
{
    *lo = (int)((long)count * rank / ranks);
    *hi = (int)((long)count * (rank + 1) / ranks);
}

static void open_common(struct batches *b, const struct dataset *d, int B, int rank, int ranks, int cap)
{
    REVIVE_ASSERT(B > 0 && ranks > 0 && rank >= 0 && rank < ranks);
    memset(b, 0, sizeof *b);
    b->d = d;
    b->size = B;
    b->rank = rank;
    b->ranks = ranks;
    b->cap = cap > 0 ? cap : 1;
    b->order = rv_malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof(int));
    for (int i = 0; i < d->n; i++)
        b->order[i] = i;
    b->x = rv_malloc((size_t)b->cap * d->c * d->h * d->w * sizeof(float));
    b->y = rv_malloc((size_t)b->cap * sizeof(int));
}

void batches_open(struct batches *b, const struct dataset *d, int B, int rank, int ranks,
                  const struct augment *aug, uint64_t seed)
{
    /* the largest share of a global batch */
    open_common(b, d, B, rank, ranks, (B + ranks - 1) / ranks);
    b->lo = 0;
    b->hi = d->n;
    b->count = ((long)d->n + B - 1) / B;
    b->augment = aug != NULL;
    if (aug)
        b->aug = *aug;
    b->seed = seed;
}

void batches_open_shard(struct batches *b, const struct dataset *d, int B, int rank, int ranks)
{
    open_common(b, d, B, rank, ranks, B);
    b->shard = true;
    batches_share(d->n, rank, ranks, &b->lo, &b->hi);
    b->count = ((long)(b->hi - b->lo) + B - 1) / B;
}

void batches_order(struct batches *b, int key)
{
    REVIVE_ASSERT(!b->shard);
    b->key = key;
    data_epoch_order(b->order, b->d->n, b->seed, key);
}

void batches_load(struct batches *b, long j)
{
    REVIVE_ASSERT(j >= 0 && j < b->count);
    int start = b->lo + (int)(j * b->size), count = b->hi - start < b->size ? b->hi - start : b->size;
    int lo = start, hi = start + count;
    if (!b->shard) {
        batches_share(count, b->rank, b->ranks, &lo, &hi);
        lo += start;
        hi += start;
    }
    b->n = hi - lo;
    b->global = count;
    REVIVE_ASSERT(b->n <= b->cap);
    data_make_batch(b->x, b->y, b->d, b->order + lo, b->n, b->augment ? &b->aug : NULL, b->seed, b->key);
}

void batches_close(struct batches *b)
{
    free(b->order);
    free(b->x);
    free(b->y);
    memset(b, 0, sizeof *b);
}
