/* Losses on taps (include/loss.h). */
#include <string.h>

#include "loss.h"

int model_tap(const struct model *m, const char *name)
{
    int l = model_find_layer(m, name);
    if (l < 0)
        return -1;
    int t = m->layers[l].out;
    return m->tensors[t].tap || l == m->nlayers - 1 ? t : -1;
}

static double ce_apply(const struct loss *l, struct model *m, int n, int scale_n, const void *target)
{
    const struct tensor *t = &m->tensors[l->tap[0]];
    return softmax_ce_forward_backward(t->g, NULL, t->v, target, n, t->c * t->h * t->w, scale_n);
}

void loss_softmax_ce(struct loss *l, const struct model *m)
{
    *l = (struct loss){.apply = ce_apply, .ntaps = 1, .tap = {m->layers[m->nlayers - 1].out}};
}

/* L = ½ Σ (y − t)², dL/dy = (y − t) / scale_n; the sum in double. */
static double l2_apply(const struct loss *l, struct model *m, int n, int scale_n, const void *target)
{
    const struct tensor *t = &m->tensors[l->tap[0]];
    const float *y = t->v, *want = target;
    size_t count = (size_t)n * t->c * t->h * t->w;
    double sum = 0.0, inv = 1.0 / scale_n;
    for (size_t i = 0; i < count; i++) {
        double d = (double)y[i] - (double)want[i];
        sum += 0.5 * d * d;
        if (t->g)
            t->g[i] = (float)(d * inv);
    }
    return sum;
}

int loss_l2(struct loss *l, const struct model *m, const char *layer, struct rv_error *err)
{
    int t = model_tap(m, layer);
    if (t < 0)
        return rv_fail(err, "loss: '%s' is not a tap of this network (list it in spec.taps)", layer);
    *l = (struct loss){.apply = l2_apply, .ntaps = 1, .tap = {t}};
    return 0;
}
