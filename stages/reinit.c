/* The transition between stages: re-initialize the disabled filters.
 *
 * Filter c of a unit is row c of its conv weight (in_c·k·k values) with γ_c, β_c. Its new conv
 * weights come from the initial distribution, N(0, 2/fan_in), but under a stream keyed by
 * (stage, param, filter): fresh weights, the same on any number of ranks and after a resume.
 * γ_c and β_c return to the values they were initialized with (their init stream, index c). */
#include <math.h>

#include "rng.h"
#include "stages.h"

int reinit_filters(struct model *m, uint64_t seed, int stage, const uint8_t *which)
{
    int f = 0, count = 0;
    for (int u = 0; u < m->nunits; u++) {
        const struct unit *un = &m->units[u];
        const struct param *w = &m->params[un->w];
        size_t fan_in = w->count / (size_t)w->dims[0];
        double std = sqrt(2.0 / (double)fan_in);
        int channels = un->conv.out_c;
        for (int c = 0; c < channels; c++, f++) {
            if (!which[f])
                continue;
            count++;
            uint64_t stream = rng_stream(RNG_REINIT, (uint64_t)stage, (uint64_t)un->w, (uint64_t)c);
            size_t row = w->offset + (size_t)c * fan_in;
            for (size_t i = 0; i < fan_in; i++) {
                m->values[row + i] = rng_normal(seed, stream, i) * (float)std;
                m->momentum[row + i] = 0.0f;
            }
            size_t g = m->params[un->gamma].offset + (size_t)c, b = m->params[un->beta].offset + (size_t)c;
            m->values[g] = model_init_value(m, seed, un->gamma, (size_t)c);
            m->values[b] = model_init_value(m, seed, un->beta, (size_t)c);
            m->momentum[g] = m->momentum[b] = 0.0f;
            m->running_stats[un->running + (size_t)c] = 0.0f;
            m->running_stats[un->running + (size_t)channels + (size_t)c] = 1.0f;
        }
    }
    return count;
}

void reinit_fresh_gamma(struct model *m, uint64_t seed, int stage, const uint8_t *which)
{
    int f = 0;
    for (int u = 0; u < m->nunits; u++) {
        const struct unit *un = &m->units[u];
        for (int c = 0; c < un->conv.out_c; c++, f++) {
            if (!which[f] || m->spec.gamma_one)
                continue;
            uint64_t stream = rng_stream(RNG_REINIT, (uint64_t)stage, (uint64_t)un->gamma, (uint64_t)c);
            m->values[m->params[un->gamma].offset + (size_t)c] = rng_uniform(seed, stream, 0);
        }
    }
}
