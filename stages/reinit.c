/* The transition between stages: re-initialize the disabled filters.
 *
 * Filter c of a unit is row c of its conv weight (in_c·k·k values) with γ_c, β_c. Its new conv
 * weights come from the initial distribution, N(0, 2/fan_in) (times pipeline.reinit_weight_scale),
 * under a stream keyed by (stage, param, filter): fresh weights, the same on any number of ranks
 * and after a resume. γ_c follows pipeline.reinit_gamma, β_c pipeline.reinit_beta (their initial
 * values come from their init stream, index c). */
#include <math.h>
#include <string.h>

#include "rng.h"
#include "stages.h"

const struct reinit_options reinit_defaults = {
    .gamma = REINIT_GAMMA_INITIAL, .gamma_value = 0.0, .beta = REINIT_BETA_INITIAL, .weight_scale = 1.0,
};

static float new_gamma(const struct model *m, uint64_t seed, int stage, const struct unit *un, int c,
                       const struct reinit_options *o)
{
    switch (o->gamma) {
    case REINIT_GAMMA_FRESH:
        /* γ = 1 has no distribution to draw from again: fresh is initial there. */
        if (!m->spec.gamma_one) {
            uint64_t stream = rng_stream(RNG_REINIT, (uint64_t)stage, (uint64_t)un->gamma, (uint64_t)c);
            return rng_uniform(seed, stream, 0);
        }
        break;
    case REINIT_GAMMA_ZERO: return 0.0f;
    case REINIT_GAMMA_VALUE: return (float)o->gamma_value;
    case REINIT_GAMMA_INITIAL:
    case REINIT_GAMMA_COUNT: break;
    }
    return model_init_value(m, seed, un->gamma, (size_t)c);
}

int reinit_filters(struct model *m, uint64_t seed, int stage, const uint8_t *which,
                   const struct reinit_options *o)
{
    int f = 0, count = 0;
    for (int u = 0; u < m->nunits; u++) {
        const struct unit *un = &m->units[u];
        const struct param *w = &m->params[un->w];
        size_t fan_in = w->count / (size_t)w->dims[0];
        double std = sqrt(2.0 / (double)fan_in);
        int channels = un->channels;
        for (int c = 0; c < channels; c++, f++) {
            if (!which[f])
                continue;
            count++;
            uint64_t stream = rng_stream(RNG_REINIT, (uint64_t)stage, (uint64_t)un->w, (uint64_t)c);
            size_t row = w->offset + (size_t)c * fan_in;
            for (size_t i = 0; i < fan_in; i++) {
                /* scale 1 leaves the draw's bits exactly as before the factor existed */
                float v = rng_normal(seed, stream, i) * (float)std;
                m->values[row + i] = o->weight_scale == 1.0 ? v : (float)(v * o->weight_scale);
                m->momentum[row + i] = 0.0f;
            }
            size_t g = m->params[un->gamma].offset + (size_t)c, b = m->params[un->beta].offset + (size_t)c;
            m->values[g] = new_gamma(m, seed, stage, un, c, o);
            if (o->beta == REINIT_BETA_INITIAL)
                m->values[b] = model_init_value(m, seed, un->beta, (size_t)c);
            m->momentum[g] = m->momentum[b] = 0.0f;
            m->running_stats[un->running + (size_t)c] = 0.0f;
            m->running_stats[un->running + (size_t)channels + (size_t)c] = 1.0f;
        }
    }
    return count;
}
