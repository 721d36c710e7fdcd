/* Mask helpers shared by the stage kinds, and the table of kinds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "stages.h"

static const struct stage_kind *const kinds[] = {
    &stage_all, &stage_bn, &stage_bn_output, &stage_output, &stage_per_channel, &stage_conv_fraction,
};

const struct stage_kind *stage_find(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

void mask_clear(struct model *m)
{
    memset(m->mask, 0, m->total * sizeof(float));
}

void mask_kind(struct model *m, enum param_kind kind)
{
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        if (pa->kind == kind)
            for (size_t i = 0; i < pa->count; i++)
                m->mask[pa->offset + i] = 1.0f;
    }
}

struct scored {
    double score;
    size_t offset;
};

static int by_score(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

size_t mask_conv_count(const struct model *m, double f)
{
    return (size_t)llround(f * (double)model_count(m).conv);
}

void mask_conv_fraction(struct model *m, uint64_t seed, double f)
{
    size_t total = model_count(m).conv, k = mask_conv_count(m, f);
    if (k == 0)
        return;
    struct scored *s = rv_malloc(total * sizeof *s);
    size_t j = 0;
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        if (pa->kind != PARAM_CONV)
            continue;
        uint64_t stream = rng_stream(RNG_MASK, (uint64_t)p, 0, 0);
        for (size_t i = 0; i < pa->count; i++)
            s[j++] = (struct scored){rng_uniform_double(seed, stream, i), pa->offset + i};
    }
    qsort(s, total, sizeof *s, by_score);
    for (size_t i = 0; i < k; i++)
        m->mask[s[i].offset] = 1.0f;
    free(s);
}
