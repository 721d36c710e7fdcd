/* ResNet forward and backward over the planned buffers.
 *
 * Block:  in ──conv1─BN1─ReLU──conv2─BN2──(+)──ReLU──▶ out
 *          └──────── identity, or 1×1 conv─BN ─┘
 * The add's backward hands the same gradient to both paths; ReLU backward uses the stored
 * output (ReLU(x) > 0 exactly when x > 0), so ReLU runs in place on the BN output.
 *
 * What is derived from parameters and kept across steps, and when it is refreshed:
 * - u->wt, the Winograd transform of a conv's weights, is valid for the weights in u->wt_of.
 *   Every use compares the current weights with u->wt_of (memcmp over the layer's weights, a
 *   small fraction of the step's memory traffic; it stops at the first difference when the
 *   weights train) and transforms anew when they differ. So frozen weights are transformed once
 *   per stage, trained ones once per step, and nothing that writes m->values (SGD, stages/
 *   reinit.c, a checkpoint load, γ clamping, tests) has to remember to invalidate anything.
 * - u->dw_sparse, the trainable entries of a conv's weights, is rebuilt by model_mask_changed,
 *   which every writer of m->mask already calls (it also refreshes the trainable counts).
 */
#include <string.h>

#include "model.h"

static size_t unit_size(const struct unit *u, int n)
{
    return (size_t)n * u->conv.out_c * u->conv.out_h * u->conv.out_w;
}

/* The unit's Winograd weights, made from the current weights if they changed (file comment);
 * NULL when the unit runs im2col or has no cache (a model built without buffers). */
static const float *unit_wt(struct model *m, struct unit *u)
{
    if (!u->wt)
        return NULL;
    const float *w = m->values + m->params[u->w].offset;
    size_t bytes = conv2d_weight_count(&u->conv) * sizeof(float);
    if (!u->wt_ok || memcmp(u->wt_of, w, bytes) != 0) {
        conv2d_winograd_weights(u->wt, w, &u->conv);
        memcpy(u->wt_of, w, bytes);
        u->wt_ok = true;
    }
    return u->wt;
}

static void unit_forward(struct model *m, struct unit *u, const float *in, int n, bool train,
                         const struct bn_reducer *r)
{
    const float *v = m->values;
    conv2d_forward_x(u->conv_out, in, v + m->params[u->w].offset, unit_wt(m, u), &u->conv, n,
                     &m->ws);
    const float *gamma = v + m->params[u->gamma].offset, *beta = v + m->params[u->beta].offset;
    float *rmean = m->running_stats + u->running, *rvar = rmean + u->conv.out_c;
    if (train)
        batchnorm_forward_train(u->bn_out, u->save_mean, u->save_invstd, rmean, rvar, u->conv_out,
                                gamma, beta, &u->bn, n, r, u->bn_sums);
    else
        batchnorm_forward_eval(u->bn_out, u->conv_out, gamma, beta, rmean, rvar, &u->bn, n);
    /* a unit's ReLU is fused into its BatchNorm (u->bn.relu) */
}

void model_forward(struct model *m, const float *x, int n, bool train, const struct bn_reducer *r)
{
    REVIVE_ASSERT(n >= 0 && n <= m->max_batch);
    m->x = x;
    struct unit *stem = &m->units[0];
    unit_forward(m, stem, x, n, train, r);
    const float *in = stem->bn_out;
    for (int b = 0; b < m->nblocks; b++) {
        struct block *bl = &m->blocks[b];
        struct unit *c1 = &m->units[bl->conv1], *c2 = &m->units[bl->conv2];
        unit_forward(m, c1, in, n, train, r);
        unit_forward(m, c2, c1->bn_out, n, train, r);
        const float *skip = in;
        if (bl->shortcut >= 0) {
            struct unit *sc = &m->units[bl->shortcut];
            unit_forward(m, sc, in, n, train, r);
            skip = sc->bn_out;
        }
        size_t sz = unit_size(c2, n);
        add_relu_forward(bl->out, c2->bn_out, skip, sz);
        in = bl->out;
    }
    const struct block *last = &m->blocks[m->nblocks - 1];
    avgpool_forward(m->pooled, in, n, m->features, last->out_h * last->out_w);
    linear_forward(m->logits, m->pooled, m->values + m->params[m->fc_w].offset,
                   m->values + m->params[m->fc_b].offset, &m->fc, n);
}

static float *grad_of(struct model *m, int p)
{
    return m->params[p].trainable ? m->grads + m->params[p].offset : NULL;
}

static bool unit_trains(const struct model *m, const struct unit *u)
{
    return m->params[u->w].trainable || m->params[u->gamma].trainable || m->params[u->beta].trainable;
}

/* Given d_bn_out (gradient w.r.t. the BN output, before any ReLU), adds the input gradient
 * into d_in (NULL: not needed) and the parameter gradients into m->grads. */
static void unit_backward(struct model *m, struct unit *u, const float *d_bn_out, const float *in,
                          float *d_in, int n, const struct bn_reducer *r)
{
    const float *v = m->values;
    float *dw = grad_of(m, u->w);
    /* BN's input gradient is the conv's output gradient: wanted only if the conv has work. The
     * choice is the same on every rank (it depends on the model only), as the collective in
     * batchnorm_backward requires. */
    float *d_conv_out = d_in || dw ? u->d_conv_out : NULL;
    batchnorm_backward_to(d_conv_out, grad_of(m, u->gamma), grad_of(m, u->beta), d_bn_out,
                          u->conv_out, u->save_mean, u->save_invstd, v + m->params[u->gamma].offset,
                          &u->bn, n, r, u->bn_sums);
    if (!d_conv_out)
        return;
    conv2d_backward_x(d_in, dw, u->d_conv_out, in, v + m->params[u->w].offset,
                      d_in ? unit_wt(m, u) : NULL, u->sparse_dw ? &u->dw_sparse : NULL, &u->conv,
                      n, &m->ws);
}

/* For a unit followed by ReLU: from d_act (w.r.t. the ReLU output) to d_bn_out. */
static void unit_relu_backward(struct unit *u, int n)
{
    relu_backward_to(u->d_bn_out, u->d_act, u->bn_out, unit_size(u, n));
}

void model_backward(struct model *m, int n, const struct bn_reducer *r)
{
    /* Backward stops at the first unit (in forward order) that has something to train: below it,
     * no gradient is needed. first_unit = nunits means only the output layer trains. */
    int first_unit = m->nunits;
    for (int i = 0; i < m->nunits; i++)
        if (unit_trains(m, &m->units[i])) {
            first_unit = i;
            break;
        }
    const struct block *last = &m->blocks[m->nblocks - 1];
    int hw = last->out_h * last->out_w;
    bool need_features = first_unit < m->nunits;
    if (need_features)
        memset(m->d_pooled, 0, (size_t)n * m->features * sizeof(float));
    linear_backward(need_features ? m->d_pooled : NULL, grad_of(m, m->fc_w), grad_of(m, m->fc_b),
                    m->d_logits, m->pooled, m->values + m->params[m->fc_w].offset, &m->fc, n);
    if (!need_features)
        return;

    struct block *top = &m->blocks[m->nblocks - 1];
    memset(top->d_out, 0, (size_t)n * top->out_c * hw * sizeof(float));
    avgpool_backward(top->d_out, m->d_pooled, n, m->features, hw);

    struct unit *stem = &m->units[0];
    for (int b = m->nblocks - 1; b >= 0; b--) {
        struct block *bl = &m->blocks[b];
        struct unit *c1 = &m->units[bl->conv1], *c2 = &m->units[bl->conv2];
        int lowest = bl->conv1 < bl->conv2 ? bl->conv1 : bl->conv2;
        const float *in = b > 0 ? m->blocks[b - 1].out : stem->bn_out;
        /* The block's input gradient is wanted only if something below this block trains. */
        float *d_in = NULL;
        size_t in_sz = (size_t)n * bl->in_c * bl->in_h * bl->in_w;
        if (first_unit < lowest)
            d_in = b > 0 ? m->blocks[b - 1].d_out : stem->d_act;
        size_t sz = unit_size(c2, n);
        relu_backward_to(c2->d_bn_out, bl->d_out, bl->out, sz);
        /* The add hands c2->d_bn_out to both paths: the shortcut's BN reads it as its own. */
        if (bl->shortcut >= 0) {
            struct unit *sc = &m->units[bl->shortcut];
            if (d_in)
                memset(d_in, 0, in_sz * sizeof(float)); /* the convs add into it */
            unit_backward(m, sc, c2->d_bn_out, in, d_in, n, r);
        } else if (d_in) {
            memcpy(d_in, c2->d_bn_out, sz * sizeof(float)); /* identity: the first contribution */
        }
        memset(c1->d_act, 0, unit_size(c1, n) * sizeof(float));
        unit_backward(m, c2, c2->d_bn_out, c1->bn_out, c1->d_act, n, r);
        unit_relu_backward(c1, n);
        unit_backward(m, c1, c1->d_bn_out, in, d_in, n, r);
        if (first_unit >= lowest)
            return;
    }
    unit_relu_backward(stem, n);
    unit_backward(m, stem, stem->d_bn_out, m->x, NULL, n, r);
}

void model_zero_grad(struct model *m)
{
    memset(m->grads, 0, m->total * sizeof(float));
}
