/* The frozen loss network and the perceptual loss (include/lossnet.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "loss.h"
#include "lossnet.h"
#include "rng.h"

const char *const lossnet_init_names[LOSSNET_INIT_COUNT] = {
    [LOSSNET_INIT_NORMAL] = "normal",   [LOSSNET_INIT_UNIFORM] = "uniform",
    [LOSSNET_INIT_XAVIER] = "xavier",   [LOSSNET_INIT_KAIMING] = "kaiming",
    [LOSSNET_INIT_LIU] = "liu",
};

int lossnet_check_arch(enum arch_kind arch, const char *key, struct rv_error *err)
{
    if (arch == ARCH_SRRESNET || arch == ARCH_SRRESNET_X1)
        return rv_fail(err, "%s = %s is the generator's family; the loss network is a "
                       "classifier: resnet, imagenet_resnet or vgg", key, arch_names[arch]);
    if (arch == ARCH_MIXER)
        return rv_fail(err, "%s = mixer cannot be a loss network: its token-mixing layers are tied "
                       "to one image size and its features are patch tokens, not a convolutional "
                       "map; use resnet, imagenet_resnet or vgg", key);
    return 0;
}

static bool is_weight(enum param_kind k)
{
    return k == PARAM_CONV || k == PARAM_DENSE_W || k == PARAM_OUTPUT_W;
}

float lossnet_init_value(const struct model *m, enum lossnet_init init, double init_scale,
                         uint64_t seed, int p, int l, size_t i)
{
    const struct param *pa = &m->params[p];
    uint64_t stream = rng_stream(RNG_LOSSNET, (uint64_t)p, 0, 0);
    if (pa->kind == PARAM_GAMMA)
        return 1.0f;
    if (!is_weight(pa->kind))
        return 0.0f;
    /* a conv (out, in, k, k): receptive field k²; a linear layer (out, in): 1 */
    double field = pa->ndim == 4 ? (double)pa->dims[2] * pa->dims[3] : 1.0;
    double fan_in = (double)pa->dims[1] * field, fan_out = (double)pa->dims[0] * field, std = 0.0;
    switch (init) {
    case LOSSNET_INIT_UNIFORM:
        return (float)((2.0 * rng_uniform_double(seed, stream, i) - 1.0) * init_scale);
    case LOSSNET_INIT_NORMAL:
        std = init_scale;
        break;
    case LOSSNET_INIT_XAVIER:
        std = sqrt(2.0 / (fan_in + fan_out));
        break;
    case LOSSNET_INIT_KAIMING:
        std = sqrt(2.0 / fan_in);
        break;
    case LOSSNET_INIT_LIU:
    case LOSSNET_INIT_COUNT:
        std = sqrt(2.0 / ((double)l * fan_in));
        break;
    }
    return rng_normal(seed, stream, i) * (float)std;
}

void lossnet_init_weights(struct model *m, enum lossnet_init init, double init_scale, uint64_t seed)
{
    int l = 0;
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        int lp = is_weight(pa->kind) ? ++l : 0;
        for (size_t i = 0; i < pa->count; i++)
            m->values[pa->offset + i] = lossnet_init_value(m, init, init_scale, seed, p, lp, i);
    }
    for (int u = 0; u < m->nunits; u++) {
        const struct unit *un = &m->units[u];
        if (un->layernorm)
            continue; /* a Mixer's LayerNorm unit: no running statistics (model.h) */
        for (int j = 0; j < un->channels; j++) {
            m->running_stats[un->running + j] = 0.0f;
            m->running_stats[un->running + un->channels + j] = 1.0f;
        }
    }
}

static void freeze(struct model *m)
{
    memset(m->mask, 0, m->total * sizeof(float));
    memset(m->grads, 0, m->total * sizeof(float));
    model_mask_changed(m);
}

/* Nothing after the last tap needs to run, provided that everything before it is consumed by
 * then (a tap inside a residual block, whose input the block's add reads later, is not: there
 * the add would be the first to write that input's gradient). Else the whole network runs. */
static void stop_at_last_tap(struct model *m, const struct lossnet_spec *s)
{
    int last = 0;
    for (int j = 0; j < s->ntaps; j++) {
        int l = model_find_layer(m, s->taps[j]);
        last = l > last ? l : last;
    }
    for (int t = 0; t < m->ntensors; t++)
        if (m->tensors[t].producer < last && m->tensors[t].last_consumer > last)
            return;
    m->run_layers = last + 1;
}

int lossnet_open(struct lossnet *ln, const struct lossnet_spec *s, int max_batch, int threads,
                 struct rv_error *err)
{
    memset(ln, 0, sizeof *ln);
    if (s->ntaps < 1 || s->ntaps > LOSSNET_MAX_TAPS)
        return rv_fail(err, "loss network: %d taps; give 1 to %d layer names", s->ntaps,
                       LOSSNET_MAX_TAPS);
    if (s->net.in_c > LOSSNET_MAX_CHANNELS)
        return rv_fail(err, "loss network: %d input channels, at most %d", s->net.in_c,
                       LOSSNET_MAX_CHANNELS);
    struct model_spec spec = s->net;
    spec.taps = s->taps;
    spec.ntaps = s->ntaps;
    spec.input_grad = true;
    spec.gamma_one = true;
    if (model_build(&ln->m, &spec, max_batch, threads, err))
        return -1;
    struct model *m = &ln->m;
    if (s->checkpoint && s->checkpoint[0]) {
        if (checkpoint_load_model(m, s->checkpoint, NULL, err)) {
            model_free(m);
            return -1;
        }
    } else {
        lossnet_init_weights(m, s->init, s->init_scale, s->seed);
    }
    freeze(m);
    ln->ntaps = s->ntaps;
    stop_at_last_tap(m, s);
    for (int j = 0; j < s->ntaps; j++) {
        ln->tap[j] = model_tap(m, s->taps[j]);
        ln->weight[j] = s->tap_weight[j];
        const struct tensor *t = &m->tensors[ln->tap[j]];
        ln->feat[j] = rv_calloc((size_t)max_batch * t->c * t->h * t->w, sizeof(float));
    }
    for (int c = 0; c < s->net.in_c; c++) {
        ln->mean[c] = s->mean[c];
        ln->inv_std[c] = s->std[c] > 0.0f ? 1.0f / s->std[c] : 1.0f;
    }
    ln->xn = rv_calloc((size_t)max_batch * s->net.in_c * s->net.in_h * s->net.in_w, sizeof(float));
    return 0;
}

void lossnet_close(struct lossnet *ln)
{
    for (int j = 0; j < ln->ntaps; j++)
        free(ln->feat[j]);
    free(ln->xn);
    model_free(&ln->m);
    memset(ln, 0, sizeof *ln);
}

static size_t tensor_count(const struct model *m, int t, int n)
{
    const struct tensor *x = &m->tensors[t];
    return (size_t)n * x->c * x->h * x->w;
}

/* Normalizes the n images into ln->xn and runs the network in evaluation mode. */
static void run(struct lossnet *ln, const float *x, int n)
{
    const struct model_spec *s = &ln->m.spec;
    size_t hw = (size_t)s->in_h * s->in_w;
    for (int b = 0; b < n; b++)
        for (int c = 0; c < s->in_c; c++) {
            size_t at = ((size_t)b * s->in_c + c) * hw;
            for (size_t i = 0; i < hw; i++)
                ln->xn[at + i] = (x[at + i] - ln->mean[c]) * ln->inv_std[c];
        }
    model_forward(&ln->m, ln->xn, n, false, NULL);
}

void lossnet_set_target(struct lossnet *ln, const float *target, int n)
{
    run(ln, target, n);
    for (int j = 0; j < ln->ntaps; j++)
        memcpy(ln->feat[j], ln->m.tensors[ln->tap[j]].v,
               tensor_count(&ln->m, ln->tap[j], n) * sizeof(float));
}

double lossnet_loss(struct lossnet *ln, const float *y, int n, int scale_n, double lambda, float *dy)
{
    struct model *m = &ln->m;
    run(ln, y, n);
    double total = 0.0;
    for (int j = 0; j < ln->ntaps; j++) {
        struct tensor *t = &m->tensors[ln->tap[j]];
        size_t per = (size_t)t->c * t->h * t->w, count = per * (size_t)n;
        double sum = 0.0, g = lambda * ln->weight[j] * 2.0 / ((double)per * scale_n);
        for (size_t i = 0; i < count; i++) {
            double d = (double)t->v[i] - (double)ln->feat[j][i];
            sum += d * d;
            if (dy)
                t->g[i] = (float)(g * d);
        }
        total += ln->weight[j] * sum / (double)per;
    }
    if (!dy)
        return total;
    /* No loss reads the logits (loss.h; they are not even computed: m->run_layers); the taps'
     * gradients are all written above. */
    memset(m->d_logits, 0, (size_t)n * m->spec.classes * sizeof(float));
    model_backward(m, n, NULL);
    const struct model_spec *s = &m->spec;
    size_t hw = (size_t)s->in_h * s->in_w;
    for (int b = 0; b < n; b++)
        for (int c = 0; c < s->in_c; c++) {
            size_t at = ((size_t)b * s->in_c + c) * hw;
            for (size_t i = 0; i < hw; i++)
                dy[at + i] += m->d_x[at + i] * ln->inv_std[c];
        }
    return total;
}
