/* The CIFAR ResNet engine as it was before the layer list (src/engine/model.c and model_build.c
 * at 282ff26), renamed old_*: tests/test_bits.c builds both from one spec and asserts that the
 * layer-list engine gives the same bits. Frozen here on purpose; do not "fix" it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "rng.h"

struct old_param {
    char name[64];
    enum param_kind kind;
    int ndim;
    int dims[4];
    size_t offset, count;
    size_t trainable;
    int unit;
};

struct old_unit {
    char name[48];
    struct conv2d conv;
    struct batchnorm bn;
    bool shortcut;
    bool relu;
    int w, gamma, beta;
    size_t running;
    float *conv_out, *bn_out;
    float *d_conv_out, *d_bn_out;
    float *d_act;
    float *save_mean, *save_invstd;
    double *bn_sums;
    float *wt;
    float *wt_of;
    bool wt_ok;
    unsigned *dw_idx;
    unsigned char *dw_rows;
    struct conv2d_dw_sparse dw_sparse;
    bool sparse_dw;
};

struct old_block {
    int conv1, conv2, shortcut;
    int in_c, out_c, in_h, in_w, out_h, out_w;
    float *out, *d_out;
};

struct old_model;
static void old_model_mask_changed(struct old_model *m);

struct old_model {
    struct model_spec spec;
    int nparams, nunits, nblocks;
    struct old_param *params;
    struct old_unit *units;
    struct old_block *blocks;
    struct linear fc;
    int fc_w, fc_b;
    int features;
    size_t total;
    float *values, *grads, *momentum, *mask;
    size_t running_total;
    float *running_stats;
    int max_batch, threads;
    float *pooled, *d_pooled;
    float *logits, *d_logits;
    const float *x;
    struct conv2d_workspace ws;
    void *arena;
    size_t arena_bytes;
};


static size_t unit_size(const struct old_unit *u, int n)
{
    return (size_t)n * u->conv.out_c * u->conv.out_h * u->conv.out_w;
}

/* The unit's Winograd weights, made from the current weights if they changed (file comment);
 * NULL when the unit runs im2col or has no cache (a model built without buffers). */
static const float *unit_wt(struct old_model *m, struct old_unit *u)
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

static void unit_forward(struct old_model *m, struct old_unit *u, const float *in, int n, bool train,
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

static void old_model_forward(struct old_model *m, const float *x, int n, bool train, const struct bn_reducer *r)
{
    REVIVE_ASSERT(n >= 0 && n <= m->max_batch);
    m->x = x;
    struct old_unit *stem = &m->units[0];
    unit_forward(m, stem, x, n, train, r);
    const float *in = stem->bn_out;
    for (int b = 0; b < m->nblocks; b++) {
        struct old_block *bl = &m->blocks[b];
        struct old_unit *c1 = &m->units[bl->conv1], *c2 = &m->units[bl->conv2];
        unit_forward(m, c1, in, n, train, r);
        unit_forward(m, c2, c1->bn_out, n, train, r);
        const float *skip = in;
        if (bl->shortcut >= 0) {
            struct old_unit *sc = &m->units[bl->shortcut];
            unit_forward(m, sc, in, n, train, r);
            skip = sc->bn_out;
        }
        size_t sz = unit_size(c2, n);
        add_relu_forward(bl->out, c2->bn_out, skip, sz);
        in = bl->out;
    }
    const struct old_block *last = &m->blocks[m->nblocks - 1];
    avgpool_forward(m->pooled, in, n, m->features, last->out_h * last->out_w);
    linear_forward(m->logits, m->pooled, m->values + m->params[m->fc_w].offset,
                   m->values + m->params[m->fc_b].offset, &m->fc, n);
}

static float *grad_of(struct old_model *m, int p)
{
    return m->params[p].trainable ? m->grads + m->params[p].offset : NULL;
}

static bool unit_trains(const struct old_model *m, const struct old_unit *u)
{
    return m->params[u->w].trainable || m->params[u->gamma].trainable || m->params[u->beta].trainable;
}

/* Given d_bn_out (gradient w.r.t. the BN output, before any ReLU), adds the input gradient
 * into d_in (NULL: not needed) and the parameter gradients into m->grads. */
static void unit_backward(struct old_model *m, struct old_unit *u, const float *d_bn_out, const float *in,
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
static void unit_relu_backward(struct old_unit *u, int n)
{
    relu_backward_to(u->d_bn_out, u->d_act, u->bn_out, unit_size(u, n));
}

static void old_model_backward(struct old_model *m, int n, const struct bn_reducer *r)
{
    /* Backward stops at the first unit (in forward order) that has something to train: below it,
     * no gradient is needed. first_unit = nunits means only the output layer trains. */
    int first_unit = m->nunits;
    for (int i = 0; i < m->nunits; i++)
        if (unit_trains(m, &m->units[i])) {
            first_unit = i;
            break;
        }
    const struct old_block *last = &m->blocks[m->nblocks - 1];
    int hw = last->out_h * last->out_w;
    bool need_features = first_unit < m->nunits;
    if (need_features)
        memset(m->d_pooled, 0, (size_t)n * m->features * sizeof(float));
    linear_backward(need_features ? m->d_pooled : NULL, grad_of(m, m->fc_w), grad_of(m, m->fc_b),
                    m->d_logits, m->pooled, m->values + m->params[m->fc_w].offset, &m->fc, n);
    if (!need_features)
        return;

    struct old_block *top = &m->blocks[m->nblocks - 1];
    memset(top->d_out, 0, (size_t)n * top->out_c * hw * sizeof(float));
    avgpool_backward(top->d_out, m->d_pooled, n, m->features, hw);

    struct old_unit *stem = &m->units[0];
    for (int b = m->nblocks - 1; b >= 0; b--) {
        struct old_block *bl = &m->blocks[b];
        struct old_unit *c1 = &m->units[bl->conv1], *c2 = &m->units[bl->conv2];
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
            struct old_unit *sc = &m->units[bl->shortcut];
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

static void old_model_zero_grad(struct old_model *m)
{
    memset(m->grads, 0, m->total * sizeof(float));
}

static int add_param(struct old_model *m, const char *name, enum param_kind kind, int unit,
                     int ndim, int d0, int d1, int d2, int d3)
{
    struct old_param *p = &m->params[m->nparams];
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

/* A conv (k×k, stride, padding k/2) followed by BN. */
static int add_unit(struct old_model *m, const char *name, int in_c, int out_c, int k, int stride,
                    int in_h, int in_w, bool relu, bool shortcut)
{
    int ui = m->nunits++;
    struct old_unit *u = &m->units[ui];
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", name);
    conv2d_init(&u->conv, in_c, out_c, k, stride, k / 2, in_h, in_w);
    conv2d_set_algo(&u->conv, m->spec.conv_algo, m->spec.conv_auto_rule);
    batchnorm_init(&u->bn, out_c, u->conv.out_h, u->conv.out_w);
    u->bn.relu = relu; /* fused */
    u->relu = relu;
    u->shortcut = shortcut;
    char pname[sizeof m->params[0].name];
    snprintf(pname, sizeof pname, "%s.conv", name);
    u->w = add_param(m, pname, PARAM_CONV, ui, 4, out_c, in_c, k, k);
    snprintf(pname, sizeof pname, "%s.gamma", name);
    u->gamma = add_param(m, pname, PARAM_GAMMA, ui, 1, out_c, 0, 0, 0);
    snprintf(pname, sizeof pname, "%s.beta", name);
    u->beta = add_param(m, pname, PARAM_BETA, ui, 1, out_c, 0, 0, 0);
    u->running = m->running_total;
    m->running_total += 2 * (size_t)out_c;
    return ui;
}

static float *alloc_floats(size_t n)
{
    return rv_calloc(n, sizeof(float));
}

/* One arena for everything a step touches besides the parameter blocks: planned by running the
 * same carving twice, first only counting (base NULL), then handing out pieces of one block.
 * Pieces are 64-byte aligned, so no two threads' data share a cache line. */
struct arena {
    char *base;
    size_t used;
};

static void *carve(struct arena *a, size_t bytes)
{
    size_t at = (a->used + 63) & ~(size_t)63;
    a->used = at + bytes;
    return a->base ? a->base + at : NULL;
}
#define CARVE(a, type, count) ((type *)carve((a), (size_t)(count) * sizeof(type)))

/* What lives from the forward pass to the backward pass has its own buffer: each unit's conv
 * output (BatchNorm's input), the ReLU output of units with one (the next conv's input and the
 * ReLU mask), each block's output. Everything else lives within one layer's work and shares a
 * few buffers of the largest activation's size:
 *   forward:  a block's conv2 and shortcut BN outputs (read by the add),
 *   backward: two block-output gradients in turn (block b writes its input gradient into the
 *             other one, which block b − 1 reads), the gradient at conv2's BN output (shared by
 *             the shortcut, which reads the same), at a BN input (= conv output), at conv1's ReLU
 *             output, and at its BN output (conv2's is dead by then).
 * model.c's backward order is what makes this safe; the whole-model tests check its results. */
static void carve_buffers(struct old_model *m, struct arena *a)
{
    size_t b = (size_t)m->max_batch, big = 0;
    for (int i = 0; i < m->nunits; i++) {
        const struct conv2d *c = &m->units[i].conv;
        size_t sz = b * (size_t)c->out_c * c->out_h * c->out_w;
        big = sz > big ? sz : big;
    }
    float *fwd_c2 = CARVE(a, float, big), *fwd_sc = CARVE(a, float, big);
    float *g_block[2] = {CARVE(a, float, big), CARVE(a, float, big)};
    float *g_bn2 = CARVE(a, float, big), *g_conv = CARVE(a, float, big);
    float *g_act = CARVE(a, float, big), *g_bn1 = CARVE(a, float, big);
    for (int i = 0; i < m->nunits; i++) {
        struct old_unit *u = &m->units[i];
        size_t sz = b * (size_t)u->conv.out_c * u->conv.out_h * u->conv.out_w;
        size_t wc = conv2d_weight_count(&u->conv), kr = wc / (size_t)u->conv.out_c;
        u->conv_out = CARVE(a, float, sz);
        u->bn_out = u->relu ? CARVE(a, float, sz) : u->shortcut ? fwd_sc : fwd_c2;
        u->d_conv_out = g_conv;
        u->d_bn_out = u->relu ? g_bn1 : g_bn2;
        u->d_act = u->relu ? (i == 0 ? g_block[1] : g_act) : NULL;
        u->save_mean = CARVE(a, float, u->conv.out_c);
        u->save_invstd = CARVE(a, float, u->conv.out_c);
        u->bn_sums = CARVE(a, double, 2 * (size_t)u->conv.out_c + 1);
        u->wt = u->conv.winograd ? CARVE(a, float, conv2d_winograd_weight_count(&u->conv)) : NULL;
        u->wt_of = u->conv.winograd ? CARVE(a, float, wc) : NULL;
        u->dw_idx = CARVE(a, unsigned, wc);
        u->dw_rows = CARVE(a, unsigned char, kr);
    }
    for (int i = 0; i < m->nblocks; i++) {
        struct old_block *bl = &m->blocks[i];
        size_t sz = b * (size_t)bl->out_c * bl->out_h * bl->out_w;
        bl->out = CARVE(a, float, sz);
        bl->d_out = g_block[i & 1]; /* block i − 1's is the other; the stem's d_act is [1] */
    }
    m->pooled = CARVE(a, float, b * m->features);
    m->d_pooled = CARVE(a, float, b * m->features);
    m->logits = CARVE(a, float, b * m->spec.classes);
    m->d_logits = CARVE(a, float, b * m->spec.classes);
}

static void alloc_activations(struct old_model *m)
{
    struct arena a = {0};
    carve_buffers(m, &a); /* count */
    m->arena_bytes = a.used;
    char *raw = rv_malloc(a.used + 64);
    memset(raw, 0, a.used + 64); /* touches every page now, not during the first steps */
    m->arena = raw;
    a.base = raw + (64 - (uintptr_t)raw % 64) % 64;
    a.used = 0;
    carve_buffers(m, &a);
    for (int i = 0; i < m->nunits; i++)
        conv2d_workspace_reserve(&m->ws, &m->units[i].conv, m->max_batch, m->threads);
}


static int old_model_build(struct old_model *m, const struct model_spec *spec, int max_batch, int threads,
                struct rv_error *err)
{
    memset(m, 0, sizeof *m);
    if (spec->depth < 8 || (spec->depth - 2) % 6 != 0)
        return rv_fail(err, "model depth %d is not 6n+2 (14, 20, 32, 44, 56, 110, …)", spec->depth);
    if (spec->width < 1)
        return rv_fail(err, "model width %d must be at least 1", spec->width);
    if (spec->in_h < 4 || spec->in_w < 4 || spec->in_c < 1 || spec->classes < 2)
        return rv_fail(err, "input %dx%dx%d with %d classes is too small for a ResNet",
                       spec->in_c, spec->in_h, spec->in_w, spec->classes);
    m->spec = *spec;
    if (!m->spec.conv_auto_rule)
        m->spec.conv_auto_rule = CONV_AUTO_RULE_CURRENT;
    m->max_batch = max_batch > 0 ? max_batch : 0;
    m->threads = threads < 1 ? 1 : threads;
    int per_segment = (spec->depth - 2) / 6;
    int max_units = 1 + 3 * per_segment * 3;
    m->units = rv_calloc((size_t)max_units, sizeof *m->units);
    m->params = rv_calloc((size_t)max_units * 3 + 2, sizeof *m->params);
    m->blocks = rv_calloc((size_t)per_segment * 3, sizeof *m->blocks);

    int c = 16 * spec->width, h = spec->in_h, w = spec->in_w;
    add_unit(m, "stem", spec->in_c, c, 3, 1, h, w, true, false);
    for (int seg = 0; seg < 3; seg++) {
        int out_c = (16 << seg) * spec->width;
        for (int b = 0; b < per_segment; b++) {
            int stride = (seg > 0 && b == 0) ? 2 : 1;
            struct old_block *bl = &m->blocks[m->nblocks++];
            char name[48];
            bl->in_c = c;
            bl->out_c = out_c;
            bl->in_h = h;
            bl->in_w = w;
            snprintf(name, sizeof name, "seg%d.block%d.conv1", seg + 1, b);
            bl->conv1 = add_unit(m, name, c, out_c, 3, stride, h, w, true, false);
            int oh = m->units[bl->conv1].conv.out_h, ow = m->units[bl->conv1].conv.out_w;
            snprintf(name, sizeof name, "seg%d.block%d.conv2", seg + 1, b);
            bl->conv2 = add_unit(m, name, out_c, out_c, 3, 1, oh, ow, false, false);
            bl->shortcut = -1;
            if (stride != 1 || c != out_c) {
                snprintf(name, sizeof name, "seg%d.block%d.shortcut", seg + 1, b);
                bl->shortcut = add_unit(m, name, c, out_c, 1, stride, h, w, false, true);
            }
            bl->out_h = oh;
            bl->out_w = ow;
            c = out_c;
            h = oh;
            w = ow;
        }
    }
    m->features = c;
    linear_init(&m->fc, c, spec->classes);
    m->fc_w = add_param(m, "output.weight", PARAM_OUTPUT_W, -1, 2, spec->classes, c, 0, 0);
    m->fc_b = add_param(m, "output.bias", PARAM_OUTPUT_B, -1, 1, spec->classes, 0, 0, 0);

    if (max_batch < 0) /* count only (pipeline params): the table, no blocks */
        return 0;
    m->values = alloc_floats(m->total);
    m->grads = alloc_floats(m->total);
    m->momentum = alloc_floats(m->total);
    m->mask = alloc_floats(m->total);
    m->running_stats = alloc_floats(m->running_total);
    if (max_batch > 0)
        alloc_activations(m);
    return 0;
}

static void old_model_free(struct old_model *m)
{
    free(m->arena);
    free(m->values);
    free(m->grads);
    free(m->momentum);
    free(m->mask);
    free(m->running_stats);
    for (int i = 0; m->units && i < m->nunits; i++)
        conv2d_release(&m->units[i].conv);
    free(m->units);
    free(m->params);
    free(m->blocks);
    conv2d_workspace_free(&m->ws);
    memset(m, 0, sizeof *m);
}

static float old_model_init_value(const struct old_model *m, uint64_t seed, int p, size_t i)
{
    const struct old_param *pa = &m->params[p];
    uint64_t stream = rng_stream(RNG_INIT, (uint64_t)p, 0, 0);
    switch (pa->kind) {
    case PARAM_CONV:
    case PARAM_OUTPUT_W: {
        /* Kaiming normal, fan-in mode, ReLU gain: std = √(2 / fan_in). */
        size_t fan_in = pa->count / (size_t)pa->dims[0];
        return rng_normal(seed, stream, i) * (float)sqrt(2.0 / (double)fan_in);
    }
    case PARAM_GAMMA:
        return m->spec.gamma_one ? 1.0f : rng_uniform(seed, stream, i);
    case PARAM_BETA:
    case PARAM_OUTPUT_B:
        return 0.0f;
    default: /* kinds the old engine did not have */
        break;
    }
    return 0.0f;
}

static void old_model_init(struct old_model *m, uint64_t seed)
{
    for (int p = 0; p < m->nparams; p++) {
        const struct old_param *pa = &m->params[p];
        float *v = m->values + pa->offset;
        for (size_t i = 0; i < pa->count; i++)
            v[i] = old_model_init_value(m, seed, p, i);
    }
    for (int i = 0; i < m->nunits; i++) {
        const struct old_unit *u = &m->units[i];
        int c = u->conv.out_c;
        for (int j = 0; j < c; j++) {
            m->running_stats[u->running + j] = 0.0f;
            m->running_stats[u->running + c + j] = 1.0f;
        }
    }
    memset(m->grads, 0, m->total * sizeof(float));
    memset(m->momentum, 0, m->total * sizeof(float));
    for (size_t i = 0; i < m->total; i++)
        m->mask[i] = 1.0f;
    old_model_mask_changed(m);
}

static void old_model_mask_changed(struct old_model *m)
{
    for (int p = 0; p < m->nparams; p++) {
        struct old_param *pa = &m->params[p];
        size_t n = 0;
        for (size_t i = 0; i < pa->count; i++)
            n += m->mask[pa->offset + i] != 0.0f;
        pa->trainable = n;
    }
    /* A conv with few trainable weights gets the list of them: its backward then computes those
     * entries of the weight gradient only (layers.h, struct conv2d_dw_sparse). */
    for (int i = 0; i < m->nunits; i++) {
        struct old_unit *u = &m->units[i];
        const struct old_param *pa = &m->params[u->w];
        u->sparse_dw = u->dw_idx && pa->trainable > 0 &&
                       (double)pa->trainable < CONV2D_SPARSE_DW_DENSITY * (double)pa->count;
        if (!u->sparse_dw)
            continue;
        size_t kr = pa->count / (size_t)u->conv.out_c, n = 0;
        memset(u->dw_rows, 0, kr);
        for (size_t j = 0; j < pa->count; j++)
            if (m->mask[pa->offset + j] != 0.0f) {
                u->dw_idx[n++] = (unsigned)j;
                u->dw_rows[j % kr] = 1;
            }
        u->dw_sparse = (struct conv2d_dw_sparse){.count = n, .idx = u->dw_idx, .rows = u->dw_rows};
    }
}



