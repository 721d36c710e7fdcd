/* k random conv weights per output channel of every conv (shortcuts too): the paper's control
 * with as many trainable parameters as BN-only when k = 2 (γ and β are two per channel). */
#include "rng.h"
#include "stages.h"

static void set_trainable(struct model *m, const struct stage_args *a)
{
    mask_clear(m);
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        if (pa->kind != PARAM_CONV)
            continue;
        size_t fan_in = pa->count / (size_t)pa->dims[0];
        size_t k = (size_t)a->per_channel_k < fan_in ? (size_t)a->per_channel_k : fan_in;
        for (int c = 0; c < pa->dims[0]; c++) {
            /* k distinct positions by rejection: k is tiny next to fan_in, so few redraws. */
            uint64_t stream = rng_stream(RNG_MASK, (uint64_t)p, (uint64_t)c + 1, 1);
            float *row = m->mask + pa->offset + (size_t)c * fan_in;
            for (size_t chosen = 0, draw = 0; chosen < k; draw++) {
                uint32_t j = rng_below(a->seed, stream, draw, (uint32_t)fan_in);
                if (row[j] == 0.0f) {
                    row[j] = 1.0f;
                    chosen++;
                }
            }
        }
    }
    model_mask_changed(m);
}

const struct stage_kind stage_per_channel = {
    "k random conv weights per output channel (train.per_channel_k)", set_trainable};
