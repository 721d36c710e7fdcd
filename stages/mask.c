/* Mask helpers shared by the stage kinds, and the table of kinds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "stages.h"

static const struct stage_kind *const kinds[STAGE_KIND_COUNT] = {
    [STAGE_ALL] = &stage_all, [STAGE_BN] = &stage_bn, [STAGE_BN_OUTPUT] = &stage_bn_output,
    [STAGE_OUTPUT] = &stage_output, [STAGE_PER_CHANNEL] = &stage_per_channel,
    [STAGE_CONV_FRACTION] = &stage_conv_fraction,
};

const struct stage_kind *stage_find(enum stage_kind_id id)
{
    REVIVE_ASSERT((int)id >= 0 && id < STAGE_KIND_COUNT); /* names are parsed where they are read */
    return kinds[id];
}

void mask_clear(struct model *m)
{
    memset(m->mask, 0, m->total * sizeof(float));
}

void mask_kind_set(struct model *m, enum param_kind kind, bool on)
{
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        if (pa->kind == kind)
            for (size_t i = 0; i < pa->count; i++)
                m->mask[pa->offset + i] = on ? 1.0f : 0.0f;
    }
}

void mask_kind(struct model *m, enum param_kind kind)
{
    mask_kind_set(m, kind, true);
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

/* The filter (model order) that conv weight `index` of parameter p belongs to. */
static int filter_of(const struct model *m, int p, size_t index, int unit_offset)
{
    const struct param *pa = &m->params[p];
    return unit_offset + (int)(index / (pa->count / (size_t)pa->dims[0]));
}

void mask_conv_grow(struct model *m, uint64_t seed, double f, const uint8_t *prefer)
{
    size_t total = model_count(m).conv, want = mask_conv_count(m, f), have = 0;
    struct scored *s = rv_malloc((total ? total : 1) * sizeof *s);
    size_t j = 0;
    int unit_offset = 0;
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        if (pa->kind != PARAM_CONV)
            continue;
        uint64_t stream = rng_stream(RNG_MASK, (uint64_t)p, 0, 0);
        for (size_t i = 0; i < pa->count; i++) {
            if (m->mask[pa->offset + i] != 0.0f) {
                have++;
                continue;
            }
            /* Scores lie in [0, 1): adding 1 puts every non-preferred weight after the preferred. */
            double score = rng_uniform_double(seed, stream, i);
            if (prefer && !prefer[filter_of(m, p, i, unit_offset)])
                score += 1.0;
            s[j++] = (struct scored){score, pa->offset + i};
        }
        unit_offset += pa->dims[0];
    }
    if (want > have) {
        size_t add = want - have < j ? want - have : j;
        qsort(s, j, sizeof *s, by_score);
        for (size_t i = 0; i < add; i++)
            m->mask[s[i].offset] = 1.0f;
    }
    free(s);
}

void mask_conv_fraction(struct model *m, uint64_t seed, double f)
{
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        if (pa->kind == PARAM_CONV)
            for (size_t i = 0; i < pa->count; i++)
                m->mask[pa->offset + i] = 0.0f;
    }
    mask_conv_grow(m, seed, f, NULL);
}
