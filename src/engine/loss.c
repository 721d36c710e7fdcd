/* Losses on taps (include/loss.h). */
#include <math.h>
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

/* Per image: mean over the tap's C·H·W values of (y − t)² (squared) or |y − t|; the gradient
 * 2(y − t) or sign(y − t), divided by C·H·W·scale_n; the sums in double. */
static double pixel_apply(const struct loss *l, struct model *m, int n, int scale_n,
                          const void *target, bool squared)
{
    const struct tensor *t = &m->tensors[l->tap[0]];
    const float *y = t->v, *want = target;
    size_t per = (size_t)t->c * t->h * t->w, count = (size_t)n * per;
    double sum = 0.0, inv = 1.0 / ((double)per * scale_n);
    for (size_t i = 0; i < count; i++) {
        double d = (double)y[i] - (double)want[i];
        sum += squared ? d * d : fabs(d);
        if (t->g)
            t->g[i] = (float)((squared ? 2.0 * d : (double)((d > 0) - (d < 0))) * inv);
    }
    return sum / (double)per;
}

static double mse_apply(const struct loss *l, struct model *m, int n, int scale_n, const void *target)
{
    return pixel_apply(l, m, n, scale_n, target, true);
}

static double l1_apply(const struct loss *l, struct model *m, int n, int scale_n, const void *target)
{
    return pixel_apply(l, m, n, scale_n, target, false);
}

static int pixel_loss(struct loss *l, const struct model *m, const char *layer,
                      double (*apply)(const struct loss *, struct model *, int, int, const void *),
                      struct rv_error *err)
{
    int t = layer ? model_tap(m, layer) : m->layers[m->nlayers - 1].out;
    if (t < 0)
        return rv_fail(err, "loss: '%s' is not a tap of this network (list it in spec.taps)", layer);
    *l = (struct loss){.apply = apply, .ntaps = 1, .tap = {t}};
    return 0;
}

int loss_mse(struct loss *l, const struct model *m, const char *layer, struct rv_error *err)
{
    return pixel_loss(l, m, layer, mse_apply, err);
}

int loss_l1(struct loss *l, const struct model *m, const char *layer, struct rv_error *err)
{
    return pixel_loss(l, m, layer, l1_apply, err);
}
