/* Switching filters off by their γ: the one clamp, used by `pipeline eval --clamp-gamma` and the
 * stage-end measurement "accuracy with |γ| < τ set to 0". */
#include <math.h>

#include "stages.h"

int gamma_clamp(struct model *m, double tau)
{
    int clamped = 0;
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        if (pa->kind != PARAM_GAMMA)
            continue;
        float *g = m->values + pa->offset;
        for (size_t i = 0; i < pa->count; i++)
            if (fabsf(g[i]) < tau) {
                g[i] = 0.0f;
                clamped++;
            }
    }
    return clamped;
}
