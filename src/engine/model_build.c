/* Building a network: the builder's vocabulary (model_add_*), which appends layers, tensors,
 * parameters and units; model_build runs the family's builder (src/models/registry.c) and
 * plans the buffers (model_plan.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_internal.h"
#include "models.h"

/* Room for one more entry of an array the builder grows (build time only). */
static void *grow(void *a, int n, int *cap, size_t size)
{
    if (n < *cap)
        return a;
    *cap = *cap ? 2 * *cap : 16;
    void *b = rv_calloc((size_t)*cap, size);
    if (n)
        memcpy(b, a, (size_t)n * size);
    free(a);
    return b;
}

static int add_param(struct model *m, const char *name, enum param_kind kind, int unit,
                     int ndim, int d0, int d1, int d2, int d3)
{
    m->params = grow(m->params, m->nparams, &m->cap_params, sizeof *m->params);
    struct param *p = &m->params[m->nparams];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    p->unit = unit;
    p->ndim = ndim;
    int d[4] = {d0, d1, d2, d3};
    p->count = 1;
    for (int i = 0; i < ndim; i++) {
        p->dims[i] = d[i];
        p->count *= (size_t)d[i];
    }
    p->offset = m->total;
    m->total += p->count;
    return m->nparams++;
}

static int add_tensor(struct model *m, int producer, int c, int h, int w)
{
    m->tensors = grow(m->tensors, m->ntensors, &m->cap_tensors, sizeof *m->tensors);
    m->tensors[m->ntensors] = (struct tensor){.c = c, .h = h, .w = w, .producer = producer,
                                              .last_consumer = -1};
    return m->ntensors++;
}

static void consume(struct model *m, int t, int layer)
{
    REVIVE_ASSERT(t >= 0 && t < m->ntensors);
    m->tensors[t].consumers++;
    m->tensors[t].last_consumer = layer;
}

/* A new layer reading in (and in2), writing a new tensor of shape (c, h, w). */
static struct layer *add_layer(struct model *m, const char *name, enum layer_op op, int in, int in2,
                               int c, int h, int w)
{
    m->layers = grow(m->layers, m->nlayers, &m->cap_layers, sizeof *m->layers);
    int i = m->nlayers++;
    struct layer *l = &m->layers[i];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", name);
    l->op = op;
    l->in = in;
    l->in2 = in2;
    l->w = l->b = l->unit = -1;
    consume(m, in, i);
    if (in2 >= 0)
        consume(m, in2, i);
    l->out = add_tensor(m, i, c, h, w);
    return l;
}

int model_add_conv(struct model *m, const char *name, int in, int out_c, int k, int stride, int pad,
                   bool bias)
{
    const struct tensor t = m->tensors[in];
    struct conv2d conv;
    conv2d_init(&conv, t.c, out_c, k, stride, pad, t.h, t.w);
    conv2d_set_algo(&conv, m->spec.conv_algo, m->spec.conv_auto_rule);
    struct layer *l = add_layer(m, name, LAYER_CONV, in, -1, out_c, conv.out_h, conv.out_w);
    l->conv = conv;
    l->w = add_param(m, name, PARAM_CONV, -1, 4, out_c, t.c, k, k);
    if (bias) {
        char bname[sizeof m->params[0].name];
        snprintf(bname, sizeof bname, "%s.bias", name);
        l->b = add_param(m, bname, PARAM_CONV_B, -1, 1, out_c, 0, 0, 0);
    }
    return l->out;
}

int model_add_bn(struct model *m, const char *name, int in, bool relu, bool shortcut)
{
    const struct tensor t = m->tensors[in];
    m->units = grow(m->units, m->nunits, &m->cap_units, sizeof *m->units);
    int ui = m->nunits++;
    struct unit *u = &m->units[ui];
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", name);
    u->channels = t.c;
    batchnorm_init(&u->bn, t.c, t.h, t.w);
    u->bn.relu = relu; /* fused */
    u->relu = relu;
    u->shortcut = shortcut;
    u->w = -1;
    int from = t.producer;
    if (from >= 0 && m->layers[from].op == LAYER_CONV) {
        const struct param *w = &m->params[m->layers[from].w];
        u->w = m->layers[from].w;
        m->params[u->w].unit = ui;
        u->row_stride = u->filter_len = w->count / (size_t)w->dims[0];
        u->elem_stride = 1;
    }
    char pname[sizeof m->params[0].name];
    snprintf(pname, sizeof pname, "%s.gamma", name);
    u->gamma = add_param(m, pname, PARAM_GAMMA, ui, 1, t.c, 0, 0, 0);
    snprintf(pname, sizeof pname, "%s.beta", name);
    u->beta = add_param(m, pname, PARAM_BETA, ui, 1, t.c, 0, 0, 0);
    u->running = m->running_total;
    m->running_total += 2 * (size_t)t.c;
    struct layer *l = add_layer(m, name, LAYER_BN, in, -1, t.c, t.h, t.w);
    l->unit = ui;
    l->relu = relu;
    l->w = u->gamma;
    l->b = u->beta;
    m->units[ui].layer = m->nlayers - 1;
    return l->out;
}

int model_add_conv_bn(struct model *m, const char *name, int in, int out_c, int k, int stride,
                      bool relu, bool shortcut)
{
    char cname[sizeof m->params[0].name];
    snprintf(cname, sizeof cname, "%s.conv", name);
    int t = model_add_conv(m, cname, in, out_c, k, stride, k / 2, false);
    return model_add_bn(m, name, t, relu, shortcut);
}

int model_add_relu(struct model *m, const char *name, int in)
{
    const struct tensor t = m->tensors[in];
    return add_layer(m, name, LAYER_RELU, in, -1, t.c, t.h, t.w)->out;
}

int model_add_add(struct model *m, const char *name, int a, int b, bool relu)
{
    const struct tensor t = m->tensors[a], u = m->tensors[b];
    REVIVE_ASSERT(t.c == u.c && t.h == u.h && t.w == u.w);
    struct layer *l = add_layer(m, name, LAYER_ADD, a, b, t.c, t.h, t.w);
    l->relu = relu;
    return l->out;
}

int model_add_maxpool(struct model *m, const char *name, int in, int k, int stride, int pad,
                      bool ceil_mode)
{
    const struct tensor t = m->tensors[in];
    struct maxpool2d p;
    maxpool2d_init(&p, t.c, k, stride, pad, t.h, t.w, ceil_mode);
    struct layer *l = add_layer(m, name, LAYER_MAXPOOL, in, -1, t.c, p.out_h, p.out_w);
    l->pool = p;
    return l->out;
}

int model_add_avgpool(struct model *m, const char *name, int in)
{
    return add_layer(m, name, LAYER_AVGPOOL, in, -1, m->tensors[in].c, 1, 1)->out;
}

int model_add_pixel_shuffle(struct model *m, const char *name, int in, int r)
{
    const struct tensor t = m->tensors[in];
    REVIVE_ASSERT(r >= 1 && t.c % (r * r) == 0);
    struct layer *l = add_layer(m, name, LAYER_PIXEL_SHUFFLE, in, -1, t.c / (r * r), t.h * r, t.w * r);
    pixel_shuffle_init(&l->shuffle, t.c, r, t.h, t.w);
    return l->out;
}

int model_add_layernorm(struct model *m, const char *name, int in, bool unit)
{
    const struct tensor t = m->tensors[in];
    int ui = -1;
    if (unit) {
        m->units = grow(m->units, m->nunits, &m->cap_units, sizeof *m->units);
        ui = m->nunits++;
        struct unit *u = &m->units[ui];
        memset(u, 0, sizeof *u);
        snprintf(u->name, sizeof u->name, "%s", name);
        u->channels = t.c;
        batchnorm_init(&u->bn, t.c, t.h, t.w); /* unused: a LayerNorm unit has no BatchNorm */
        u->layernorm = true;
        u->w = -1;
    }
    char pname[sizeof m->params[0].name];
    snprintf(pname, sizeof pname, "%s.gamma", name);
    int g = add_param(m, pname, PARAM_GAMMA, ui, 1, t.c, 0, 0, 0);
    snprintf(pname, sizeof pname, "%s.beta", name);
    int b = add_param(m, pname, PARAM_BETA, ui, 1, t.c, 0, 0, 0);
    struct layer *l = add_layer(m, name, LAYER_LAYERNORM, in, -1, t.c, t.h, t.w);
    l->unit = ui;
    l->w = g;
    l->b = b;
    if (unit) {
        m->units[ui].gamma = g;
        m->units[ui].beta = b;
        m->units[ui].layer = m->nlayers - 1;
    }
    return l->out;
}

int model_add_gelu(struct model *m, const char *name, int in)
{
    const struct tensor t = m->tensors[in];
    return add_layer(m, name, LAYER_GELU, in, -1, t.c, t.h, t.w)->out;
}

int model_add_token_dense(struct model *m, const char *name, int in, int out_h, int out_w)
{
    const struct tensor t = m->tensors[in];
    int in_f = t.h * t.w, out_f = out_h * out_w;
    struct layer *l = add_layer(m, name, LAYER_TOKEN_DENSE, in, -1, t.c, out_h, out_w);
    linear_init(&l->fc, in_f, out_f);
    char pname[sizeof m->params[0].name];
    snprintf(pname, sizeof pname, "%s.weight", name);
    int w = add_param(m, pname, PARAM_CONV, -1, 2, out_f, in_f, 0, 0);
    snprintf(pname, sizeof pname, "%s.bias", name);
    int b = add_param(m, pname, PARAM_CONV_B, -1, 1, out_f, 0, 0, 0);
    l = &m->layers[m->nlayers - 1];
    l->w = w;
    l->b = b;
    return l->out;
}

void model_unit_filter_columns(struct model *m, int u, int p)
{
    struct unit *un = &m->units[u];
    struct param *w = &m->params[p];
    REVIVE_ASSERT(w->kind == PARAM_CONV && w->ndim == 4 && w->dims[1] == un->channels &&
                  w->dims[2] == 1 && w->dims[3] == 1);
    un->w = p;
    w->unit = u;
    un->row_stride = 1;
    un->elem_stride = (size_t)w->dims[1];
    un->filter_len = (size_t)w->dims[0];
}

int model_add_linear(struct model *m, const char *name, int in, int out_f, enum param_kind kw,
                     enum param_kind kb)
{
    const struct tensor t = m->tensors[in];
    int in_f = t.c * t.h * t.w;
    struct layer *l = add_layer(m, name, LAYER_LINEAR, in, -1, out_f, 1, 1);
    linear_init(&l->fc, in_f, out_f);
    char pname[sizeof m->params[0].name];
    snprintf(pname, sizeof pname, "%s.weight", name);
    int w = add_param(m, pname, kw, -1, 2, out_f, in_f, 0, 0);
    snprintf(pname, sizeof pname, "%s.bias", name);
    int b = add_param(m, pname, kb, -1, 1, out_f, 0, 0, 0);
    l = &m->layers[m->nlayers - 1]; /* add_param does not move layers; keep it obvious */
    l->w = w;
    l->b = b;
    if (kw == PARAM_OUTPUT_W) {
        m->fc_w = w;
        m->fc_b = b;
        m->features = in_f;
    }
    return l->out;
}

static float *alloc_floats(size_t n)
{
    return rv_calloc(n ? n : 1, sizeof(float));
}

int model_build(struct model *m, const struct model_spec *spec, int max_batch, int threads,
                struct rv_error *err)
{
    memset(m, 0, sizeof *m);
    if ((int)spec->arch < 0 || spec->arch >= ARCH_COUNT)
        return rv_fail(err, "model.arch %d is not a network family", (int)spec->arch);
    if (spec->in_h < 1 || spec->in_w < 1 || spec->in_c < 1 || spec->classes < 2)
        return rv_fail(err, "input %dx%dx%d with %d classes: a network needs an image and two classes",
                       spec->in_c, spec->in_h, spec->in_w, spec->classes);
    const struct model_family *f = &model_families[spec->arch];
    if (!spec->build && f->check(spec, err))
        return -1;
    m->spec = *spec;
    if (!m->spec.conv_auto_rule)
        m->spec.conv_auto_rule = CONV_AUTO_RULE_CURRENT;
    m->max_batch = max_batch > 0 ? max_batch : 0;
    m->threads = threads < 1 ? 1 : threads;
    m->fc_w = m->fc_b = -1;
    add_tensor(m, -1, spec->in_c, spec->in_h, spec->in_w); /* tensor 0: the input */
    if (spec->build)
        spec->build(m);
    else
        f->build(m);
    REVIVE_ASSERT(m->nlayers > 0);
    { /* the output: a classifier's logits, or an image network's image (srresnet.c) */
        const struct tensor *o = &m->tensors[m->layers[m->nlayers - 1].out];
        REVIVE_ASSERT(o->c * o->h * o->w == spec->classes);
    }
    for (int i = 0; i < spec->ntaps; i++) {
        int l = model_find_layer(m, spec->taps[i]);
        if (l < 0) {
            model_free(m);
            return rv_fail(err, "tap '%s' is not a layer of this %s network", spec->taps[i],
                           arch_names[spec->arch]);
        }
        m->tensors[m->layers[l].out].tap = true;
    }
    if (max_batch < 0) /* count only (pipeline params): the table, no blocks */
        return 0;
    m->values = alloc_floats(m->total);
    m->grads = alloc_floats(m->total);
    m->momentum = alloc_floats(m->total);
    m->mask = alloc_floats(m->total);
    m->running_stats = alloc_floats(m->running_total);
    if (max_batch > 0)
        model_plan_alloc(m);
    return 0;
}

void model_free(struct model *m)
{
    free(m->arena);
    free(m->values);
    free(m->grads);
    free(m->momentum);
    free(m->moment2);
    free(m->mask);
    free(m->running_stats);
    for (int i = 0; m->layers && i < m->nlayers; i++)
        if (m->layers[i].op == LAYER_CONV)
            conv2d_release(&m->layers[i].conv);
    free(m->layers);
    free(m->tensors);
    free(m->units);
    free(m->params);
    conv2d_workspace_free(&m->ws);
    memset(m, 0, sizeof *m);
}

int model_find_layer(const struct model *m, const char *name)
{
    for (int i = 0; i < m->nlayers; i++)
        if (strcmp(m->layers[i].name, name) == 0)
            return i;
    return -1;
}

const struct conv2d *model_unit_conv(const struct model *m, int u)
{
    /* the conv whose weights hold the unit's filters: for a BatchNorm, the conv before it; for
     * a Mixer's LayerNorm unit, the channel-mixing conv after it */
    for (int i = 0; m->units[u].w >= 0 && i < m->nlayers; i++)
        if (m->layers[i].op == LAYER_CONV && m->layers[i].w == m->units[u].w)
            return &m->layers[i].conv;
    return NULL;
}
