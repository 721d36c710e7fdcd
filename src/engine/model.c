/* Forward and backward over the layer list and the planned buffers (model_plan.c).
 *
 * Forward runs the list in order. Backward runs it in reverse, and only where a gradient is
 * needed: a tensor needs one when something upstream of it trains (or it is the input and
 * spec.input_grad asks). So a frozen conv skips its weight GEMM, the first conv skips its input
 * gradient, backward stops below the first trainable layer, and an output-only stage runs the
 * last layer alone. The choice depends on the model and its mask only, the same on every rank,
 * as BatchNorm's collective reductions require.
 *
 * A residual block, as the CIFAR builder lists it (src/models/resnet.c):
 *     in ──conv1─BN1+ReLU──conv2─BN2──(+ReLU)──▶ out
 *      └──────── identity, or 1×1 conv─BN ──┘
 * Backward from the top: the add's ReLU into one buffer that BN2 and the shortcut's BN both read
 * as their output gradient (an identity shortcut gets a copy: the first contribution to the
 * block input's gradient), the shortcut unit (its conv adds into the block input's gradient),
 * conv2's unit, conv1's ReLU and unit (adding into the block input's gradient).
 *
 * What is derived from parameters and kept across steps, and when it is refreshed:
 * - l->wt, the Winograd transform of a conv's weights, is valid for the weights in l->wt_of.
 *   Every use compares the current weights with l->wt_of (memcmp over the layer's weights, a
 *   small fraction of the step's memory traffic; it stops at the first difference when the
 *   weights train) and transforms anew when they differ. So frozen weights are transformed once
 *   per stage, trained ones once per step, and nothing that writes m->values (SGD, stages/
 *   reinit.c, a checkpoint load, γ clamping, tests) has to remember to invalidate anything.
 * - l->dw_sparse, the trainable entries of a conv's weights, is rebuilt by model_mask_changed,
 *   which every writer of m->mask already calls (it also refreshes the trainable counts).
 */
#include <string.h>

#include "model.h"

static size_t tensor_size(const struct model *m, int t, int n)
{
    const struct tensor *x = &m->tensors[t];
    return (size_t)n * x->c * x->h * x->w;
}

static const float *val(const struct model *m, int t)
{
    return t == 0 ? m->x : m->tensors[t].v;
}

static const float *param(const struct model *m, int p)
{
    return m->values + m->params[p].offset;
}

/* The conv's Winograd weights, made from the current weights if they changed (file comment);
 * NULL when the conv runs im2col or has no cache (a model built without buffers). */
static const float *conv_wt(struct model *m, struct layer *l)
{
    if (!l->wt)
        return NULL;
    const float *w = param(m, l->w);
    size_t bytes = conv2d_weight_count(&l->conv) * sizeof(float);
    if (!l->wt_ok || memcmp(l->wt_of, w, bytes) != 0) {
        conv2d_winograd_weights(l->wt, w, &l->conv);
        memcpy(l->wt_of, w, bytes);
        l->wt_ok = true;
    }
    return l->wt;
}

void model_forward(struct model *m, const float *x, int n, bool train, const struct bn_reducer *r)
{
    REVIVE_ASSERT(n >= 0 && n <= m->max_batch);
    m->x = x;
    m->train = train;
    int layers = m->run_layers > 0 ? m->run_layers : m->nlayers;
    for (int i = 0; i < layers; i++) {
        struct layer *l = &m->layers[i];
        float *out = m->tensors[l->out].v;
        const float *in = val(m, l->in);
        size_t count = tensor_size(m, l->out, n);
        switch (l->op) {
        case LAYER_CONV:
            conv2d_forward_x(out, in, param(m, l->w), conv_wt(m, l), &l->conv, n, &m->ws);
            if (l->b >= 0)
                bias_forward(out, param(m, l->b), n, l->conv.out_c, l->conv.out_h * l->conv.out_w);
            break;
        case LAYER_BN: {
            struct unit *u = &m->units[l->unit];
            float *rmean = m->running_stats + u->running, *rvar = rmean + u->channels;
            if (train)
                batchnorm_forward_train(out, l->save_mean, l->save_invstd, rmean, rvar, in,
                                        param(m, l->w), param(m, l->b), &u->bn, n, r, l->bn_sums);
            else
                batchnorm_forward_eval(out, in, param(m, l->w), param(m, l->b), rmean, rvar,
                                       &u->bn, n);
            break; /* the ReLU is fused into the BatchNorm (u->bn.relu) */
        }
        case LAYER_RELU:
            relu_forward(out, in, count);
            break;
        case LAYER_ADD:
            if (l->relu)
                add_relu_forward(out, in, val(m, l->in2), count);
            else
                add_forward(out, in, val(m, l->in2), count);
            break;
        case LAYER_MAXPOOL:
            maxpool2d_forward(out, l->argmax, in, &l->pool, n);
            break;
        case LAYER_AVGPOOL: {
            const struct tensor *t = &m->tensors[l->in];
            avgpool_forward(out, in, n, t->c, t->h * t->w);
            break;
        }
        case LAYER_LINEAR:
            linear_forward(out, in, param(m, l->w), param(m, l->b), &l->fc, n);
            break;
        case LAYER_PIXEL_SHUFFLE:
            pixel_shuffle_forward(out, in, &l->shuffle, n);
            break;
        case LAYER_LAYERNORM: {
            const struct tensor *t = &m->tensors[l->in];
            layernorm_forward(out, l->save_mean, l->save_invstd, in, param(m, l->w),
                              param(m, l->b), n, t->c, t->h * t->w);
            break;
        }
        case LAYER_GELU:
            gelu_forward(out, in, count);
            break;
        case LAYER_TOKEN_DENSE:
            token_dense_forward(out, in, param(m, l->w), param(m, l->b), &l->fc, n,
                                m->tensors[l->in].c);
            break;
        }
    }
}

static float *grad_of(struct model *m, int p)
{
    return p >= 0 && m->params[p].trainable ? m->grads + m->params[p].offset : NULL;
}

static bool layer_trains(const struct model *m, const struct layer *l)
{
    return (l->w >= 0 && m->params[l->w].trainable) || (l->b >= 0 && m->params[l->b].trainable);
}

/* The input gradient a layer writes into, or NULL when none is needed; zeroed first when the
 * layer's only form adds and it is the first contribution (model_plan.c). */
static float *din_zeroed(struct model *m, int t, bool add, int n)
{
    if (!m->tensors[t].need_grad)
        return NULL;
    float *d = m->tensors[t].g;
    if (!add)
        memset(d, 0, tensor_size(m, t, n) * sizeof(float));
    return d;
}

/* The add's output gradient s handed to input t: nothing when t's gradient is s itself (the
 * plan aliased it), else a copy (first contribution) or a sum. */
static void add_pass(struct model *m, int t, bool add, const float *s, int n)
{
    struct tensor *x = &m->tensors[t];
    if (!x->need_grad || x->g == s)
        return;
    size_t count = tensor_size(m, t, n);
    if (add)
        add_forward(x->g, x->g, s, count);
    else
        memcpy(x->g, s, count * sizeof(float));
}

static void layer_backward(struct model *m, struct layer *l, int n, const struct bn_reducer *r)
{
    const float *g = m->tensors[l->out].g, *in = val(m, l->in), *out = m->tensors[l->out].v;
    size_t count = tensor_size(m, l->out, n);
    switch (l->op) {
    case LAYER_CONV: {
        float *dw = grad_of(m, l->w);
        float *din = din_zeroed(m, l->in, l->add_in, n);
        bias_backward(grad_of(m, l->b), g, n, l->conv.out_c, l->conv.out_h * l->conv.out_w);
        if (!din && !dw)
            return;
        conv2d_backward_x(din, dw, g, in, param(m, l->w), din ? conv_wt(m, l) : NULL,
                          l->sparse_dw ? &l->dw_sparse : NULL, &l->conv, n, &m->ws);
        return;
    }
    case LAYER_BN: {
        struct unit *u = &m->units[l->unit];
        if (l->relu) {
            relu_backward_to(l->scratch, g, out, count);
            g = l->scratch;
        }
        float *din = m->tensors[l->in].need_grad ? m->tensors[l->in].g : NULL;
        if (!m->train) {
            const float *rmean = m->running_stats + u->running;
            batchnorm_backward_eval(din, l->add_in, grad_of(m, l->w), grad_of(m, l->b), g, in,
                                    param(m, l->w), rmean, rmean + u->channels, &u->bn, n);
        } else if (l->add_in)
            batchnorm_backward(din, grad_of(m, l->w), grad_of(m, l->b), g, in, l->save_mean,
                               l->save_invstd, param(m, l->w), &u->bn, n, r, l->bn_sums);
        else
            batchnorm_backward_to(din, grad_of(m, l->w), grad_of(m, l->b), g, in, l->save_mean,
                                  l->save_invstd, param(m, l->w), &u->bn, n, r, l->bn_sums);
        return;
    }
    case LAYER_RELU:
        if (!m->tensors[l->in].need_grad)
            return;
        if (l->add_in)
            relu_backward(m->tensors[l->in].g, g, out, count);
        else
            relu_backward_to(m->tensors[l->in].g, g, out, count);
        return;
    case LAYER_ADD: {
        const float *s = g;
        if (l->relu) {
            relu_backward_to(l->scratch, g, out, count);
            s = l->scratch;
        }
        add_pass(m, l->in, l->add_in, s, n);
        add_pass(m, l->in2, l->add_in2, s, n);
        return;
    }
    case LAYER_MAXPOOL:
        maxpool2d_backward(din_zeroed(m, l->in, l->add_in, n), g, l->argmax, &l->pool, n);
        return;
    case LAYER_AVGPOOL: {
        const struct tensor *t = &m->tensors[l->in];
        avgpool_backward(din_zeroed(m, l->in, l->add_in, n), g, n, t->c, t->h * t->w);
        return;
    }
    case LAYER_LINEAR:
        linear_backward(din_zeroed(m, l->in, l->add_in, n), grad_of(m, l->w), grad_of(m, l->b), g,
                        in, param(m, l->w), &l->fc, n);
        return;
    case LAYER_PIXEL_SHUFFLE:
        pixel_shuffle_backward(din_zeroed(m, l->in, l->add_in, n), g, &l->shuffle, n);
        return;
    case LAYER_LAYERNORM: {
        const struct tensor *t = &m->tensors[l->in];
        layernorm_backward(din_zeroed(m, l->in, l->add_in, n), grad_of(m, l->w), grad_of(m, l->b),
                           g, in, l->save_mean, l->save_invstd, param(m, l->w), l->ln_sums, n,
                           t->c, t->h * t->w);
        return;
    }
    case LAYER_GELU:
        if (m->tensors[l->in].need_grad)
            gelu_backward(m->tensors[l->in].g, g, in, count, l->add_in);
        return;
    case LAYER_TOKEN_DENSE:
        token_dense_backward(din_zeroed(m, l->in, l->add_in, n), grad_of(m, l->w),
                             grad_of(m, l->b), g, in, param(m, l->w), &l->fc, n,
                             m->tensors[l->in].c);
        return;
    }
}

void model_backward(struct model *m, int n, const struct bn_reducer *r)
{
    m->tensors[0].need_grad = m->spec.input_grad;
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *l = &m->layers[i];
        m->tensors[l->out].need_grad = layer_trains(m, l) || m->tensors[l->in].need_grad ||
                                       (l->in2 >= 0 && m->tensors[l->in2].need_grad);
    }
    int layers = m->run_layers > 0 ? m->run_layers : m->nlayers;
    for (int i = layers - 1; i >= 0; i--)
        if (m->tensors[m->layers[i].out].need_grad)
            layer_backward(m, &m->layers[i], n, r);
}

void model_zero_grad(struct model *m)
{
    memset(m->grads, 0, m->total * sizeof(float));
    /* the taps' gradients, which a loss may leave alone (loss.h); not the logits': callers
     * write m->d_logits before or after this call */
    for (int t = 1; t < m->ntensors; t++)
        if (m->tensors[t].tap && m->tensors[t].g)
            memset(m->tensors[t].g, 0, tensor_size(m, t, m->max_batch) * sizeof(float));
}
