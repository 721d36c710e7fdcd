/* Switching filters off by their γ: the one clamp, used by `pipeline eval --clamp-gamma` and the
 * stage-end measurement "accuracy with the disabled γ set to 0". What "disabled" means (absolute
 * or relative threshold) is decided in one place, stats_model_disabled. */
#include <stdlib.h>

#include "stages.h"

int gamma_clamp(struct model *m, struct stats_threshold t)
{
    uint8_t *off = rv_malloc((size_t)stats_nfilters(m) + 1);
    int count = stats_model_disabled(off, m, t);
    for (int u = 0, f = 0; u < m->nunits; u++) {
        int n = m->units[u].channels;
        float *g = m->values + m->params[m->units[u].gamma].offset;
        for (int c = 0; c < n; c++, f++)
            if (off[f])
                g[c] = 0.0f;
    }
    free(off);
    return count;
}
