#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "optim.h"

void optim_alloc_state(struct model *m, enum optimizer_kind kind)
{
    free(m->moment2);
    m->moment2 = kind == OPT_ADAMW ? rv_calloc(m->total ? m->total : 1, sizeof(float)) : NULL;
}

size_t optim_step(struct model *m, float lr, const struct sgd *opt)
{
    if (opt->kind == OPT_ADAMW) {
        REVIVE_ASSERT(m->moment2 && opt->t >= 1);
        return adamw_step(m->values, m->momentum, m->moment2, m->grads, m->mask, m->total, lr, opt);
    }
    return sgd_step(m->values, m->momentum, m->grads, m->mask, m->total, lr, opt);
}

size_t adamw_step(float *values, float *m1, float *m2, const float *grads, const float *mask,
                  size_t n, float lr, const struct sgd *opt)
{
    /* The scalars in double, as torch computes them in Python, then float for the element loop. */
    const double t = (double)opt->t;
    const float decay = (float)(1.0 - (double)lr * opt->weight_decay);
    const float b1 = (float)opt->beta1, b2 = (float)opt->beta2;
    const float c1 = (float)(1.0 - opt->beta1), c2 = (float)(1.0 - opt->beta2);
    const float step_size = (float)((double)lr / (1.0 - pow(opt->beta1, t)));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(opt->beta2, t));
    const float eps = (float)opt->eps;
    size_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad)
    for (size_t i = 0; i < n; i++) {
        if (mask[i] == 0.0f)
            continue;
        float g = grads[i];
        float w = values[i] * decay;
        float a = b1 * m1[i] + c1 * g;
        float v = b2 * m2[i] + c2 * g * g;
        m1[i] = a;
        m2[i] = v;
        w -= step_size * (a / (sqrtf(v) / bc2_sqrt + eps));
        values[i] = w;
        bad += !isfinite(w);
    }
    return bad;
}

size_t sgd_step(float *values, float *momentum, const float *grads, const float *mask, size_t n,
                float lr, const struct sgd *opt)
{
    const float mu = (float)opt->momentum, wd = (float)opt->weight_decay;
    const bool nesterov = opt->nesterov;
    size_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad)
    for (size_t i = 0; i < n; i++) {
        if (mask[i] == 0.0f)
            continue;
        float d = grads[i] + wd * values[i];
        float v = mu * momentum[i] + d;
        momentum[i] = v;
        float w = values[i] - lr * (nesterov ? d + mu * v : v);
        values[i] = w;
        bad += !isfinite(w);
    }
    return bad;
}
