#include <math.h>
#include <string.h>

#include "optim.h"

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

struct lr_schedule lr_schedule_from_config(const struct config *c, int epochs)
{
    struct lr_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = c->lr_schedule;
    s.base = c->lr;
    s.epochs = epochs;
    s.milestones = c->milestones;
    /* Fractions of this stage's length: one schedule shape for any number of epochs. */
    for (int i = 0; i < c->milestone_fractions.n; i++)
        s.milestones.v[i] = c->milestone_fractions.v[i] * (double)epochs;
    if (c->milestone_fractions.n > 0)
        s.milestones.n = c->milestone_fractions.n;
    s.factor = c->lr_factor;
    s.warmup_epochs = c->warmup_epochs;
    return s;
}

double lr_at(const struct lr_schedule *s, long step, long steps_per_epoch)
{
    double epoch = (double)step / (double)steps_per_epoch;
    double lr = s->base;
    switch (s->kind) {
    case LR_CONSTANT:
    case LR_KIND_COUNT:
        break;
    case LR_STEP:
        /* A milestone at epoch e takes effect from the first step of epoch e. */
        for (int i = 0; i < s->milestones.n; i++)
            if (epoch + 1e-9 >= s->milestones.v[i])
                lr *= s->factor;
        break;
    case LR_COSINE: {
        double t = s->epochs > 0 ? epoch / (double)s->epochs : 0.0;
        if (t > 1.0)
            t = 1.0;
        lr *= 0.5 * (1.0 + cos(3.14159265358979323846 * t));
        break;
    }
    }
    double warmup_steps = s->warmup_epochs * (double)steps_per_epoch;
    if (warmup_steps > 0 && (double)step < warmup_steps)
        lr *= (double)(step + 1) / warmup_steps;
    return lr;
}
