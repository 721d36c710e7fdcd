/* The parameter table's services: initial values, masks, counts, look-ups. */
#include <math.h>
#include <string.h>

#include "model.h"
#include "rng.h"

/* LeCun normal truncated to ±2σ (flax's lecun_normal: jax's truncated_normal(−2, 2) times
 * √(1/fan_in)/0.87962566103423978, the std of a unit normal truncated there). Counter-based
 * rejection: attempt k of element i is the normal drawn at index i + k·2^40 (indices of one
 * parameter stay far below 2^40), so an element is a function of (seed, stream, i) alone. */
static float lecun_truncated(uint64_t seed, uint64_t stream, size_t fan_in, size_t i)
{
    float z = rng_normal(seed, stream, i);
    for (uint64_t k = 1; fabsf(z) > 2.0f; k++)
        z = rng_normal(seed, stream, (uint64_t)i + (k << 40));
    return z * (float)(sqrt(1.0 / (double)fan_in) / 0.87962566103423978);
}

float model_init_draw(const struct model *m, uint64_t seed, uint64_t stream, int p, size_t fan_in,
                      size_t i)
{
    if (m->params[p].init == INIT_LECUN)
        return lecun_truncated(seed, stream, fan_in, i);
    /* Kaiming normal, fan-in mode, ReLU gain: std = √(2 / fan_in). */
    return rng_normal(seed, stream, i) * (float)sqrt(2.0 / (double)fan_in);
}

float model_init_value(const struct model *m, uint64_t seed, int p, size_t i)
{
    const struct param *pa = &m->params[p];
    uint64_t stream = rng_stream(RNG_INIT, (uint64_t)p, 0, 0);
    switch (pa->init) {
    case INIT_ONE: return 1.0f;
    case INIT_ZERO: return 0.0f;
    case INIT_LECUN: return lecun_truncated(seed, stream, pa->count / (size_t)pa->dims[0], i);
    case INIT_DEFAULT: break;
    }
    switch (pa->kind) {
    case PARAM_CONV:
    case PARAM_OUTPUT_W:
    case PARAM_DENSE_W: {
        /* Kaiming normal, fan-in mode, ReLU gain: std = √(2 / fan_in). */
        size_t fan_in = pa->count / (size_t)pa->dims[0];
        return rng_normal(seed, stream, i) * (float)sqrt(2.0 / (double)fan_in);
    }
    case PARAM_GAMMA:
        return m->spec.gamma_one ? 1.0f : rng_uniform(seed, stream, i);
    case PARAM_BETA:
    case PARAM_OUTPUT_B:
    case PARAM_DENSE_B:
    case PARAM_CONV_B:
        return 0.0f;
    }
    return 0.0f;
}

void model_init(struct model *m, uint64_t seed)
{
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        float *v = m->values + pa->offset;
        for (size_t i = 0; i < pa->count; i++)
            v[i] = model_init_value(m, seed, p, i);
    }
    for (int i = 0; i < m->nunits; i++) {
        const struct unit *u = &m->units[i];
        int c = u->channels;
        if (u->layernorm)
            continue; /* no running statistics */
        for (int j = 0; j < c; j++) {
            m->running_stats[u->running + j] = 0.0f;
            m->running_stats[u->running + c + j] = 1.0f;
        }
    }
    memset(m->grads, 0, m->total * sizeof(float));
    memset(m->momentum, 0, m->total * sizeof(float));
    if (m->moment2)
        memset(m->moment2, 0, m->total * sizeof(float));
    for (size_t i = 0; i < m->total; i++)
        m->mask[i] = 1.0f;
    model_mask_changed(m);
}

void model_mask_changed(struct model *m)
{
    for (int p = 0; p < m->nparams; p++) {
        struct param *pa = &m->params[p];
        size_t n = 0;
        for (size_t i = 0; i < pa->count; i++)
            n += m->mask[pa->offset + i] != 0.0f;
        pa->trainable = n;
    }
    /* A conv with few trainable weights gets the list of them: its backward then computes those
     * entries of the weight gradient only (layers.h, struct conv2d_dw_sparse). */
    for (int i = 0; i < m->nlayers; i++) {
        struct layer *l = &m->layers[i];
        if (l->op != LAYER_CONV)
            continue;
        const struct param *pa = &m->params[l->w];
        l->sparse_dw = l->dw_idx && pa->trainable > 0 &&
                       (double)pa->trainable < CONV2D_SPARSE_DW_DENSITY * (double)pa->count;
        if (!l->sparse_dw)
            continue;
        size_t kr = pa->count / (size_t)l->conv.out_c, n = 0;
        memset(l->dw_rows, 0, kr);
        for (size_t j = 0; j < pa->count; j++)
            if (m->mask[pa->offset + j] != 0.0f) {
                l->dw_idx[n++] = (unsigned)j;
                l->dw_rows[j % kr] = 1;
            }
        l->dw_sparse = (struct conv2d_dw_sparse){.count = n, .idx = l->dw_idx, .rows = l->dw_rows};
    }
}

struct param_counts model_count(const struct model *m)
{
    struct param_counts c = {0};
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        c.total += pa->count;
        switch (pa->kind) {
        case PARAM_CONV:
            c.conv += pa->count;
            if (pa->unit >= 0 && m->units[pa->unit].shortcut)
                c.shortcut += pa->count;
            break;
        case PARAM_GAMMA:
        case PARAM_BETA:
            c.bn += pa->count;
            break;
        case PARAM_OUTPUT_W:
        case PARAM_OUTPUT_B:
            c.output += pa->count;
            break;
        case PARAM_DENSE_W:
        case PARAM_DENSE_B:
            c.dense += pa->count;
            break;
        case PARAM_CONV_B:
            c.conv_bias += pa->count;
            break;
        }
    }
    return c;
}

size_t model_trainable(const struct model *m)
{
    size_t n = 0;
    for (int p = 0; p < m->nparams; p++)
        n += m->params[p].trainable;
    return n;
}

int model_find_param(const struct model *m, const char *name)
{
    for (int p = 0; p < m->nparams; p++)
        if (strcmp(m->params[p].name, name) == 0)
            return p;
    return -1;
}
