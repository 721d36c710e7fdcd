/* data.label_noise: a fixed share of the training labels replaced, a function of the seed (see
 * data.h). A counter-based draw per image index, not a walk through a generator: the labels are
 * the same on any rank count and whatever order the images are read in. */
#include <math.h>
#include <stdlib.h>

#include "data.h"
#include "rng.h"

struct scored {
    double u;
    int i;
};

static int by_score(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->u != y->u)
        return x->u < y->u ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int data_label_noise(struct dataset *d, double p, uint64_t seed)
{
    int k = (int)floor(p * d->n + 0.5);
    if (k <= 0)
        return 0;
    REVIVE_ASSERT(d->classes >= 2 && k <= d->n);
    struct scored *s = rv_malloc((size_t)d->n * sizeof *s);
    uint64_t pick = rng_stream(RNG_LABEL_NOISE, 0, 0, 0), label = rng_stream(RNG_LABEL_NOISE, 1, 0, 0);
    for (int i = 0; i < d->n; i++)
        s[i] = (struct scored){rng_uniform_double(seed, pick, (uint64_t)i), i};
    qsort(s, (size_t)d->n, sizeof *s, by_score);
    for (int j = 0; j < k; j++) {
        int i = s[j].i;
        uint32_t step = 1 + rng_below(seed, label, (uint64_t)i, (uint32_t)(d->classes - 1));
        d->labels[i] = (uint8_t)((d->labels[i] + step) % (uint32_t)d->classes);
    }
    free(s);
    return k;
}
