/* Building a ResNet: the parameter table, the units and blocks, and every buffer, planned once. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "rng.h"

static int add_param(struct model *m, const char *name, enum param_kind kind, int unit,
                     int ndim, int d0, int d1, int d2, int d3)
{
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

/* A conv (k×k, stride, padding k/2) followed by BN. */
static int add_unit(struct model *m, const char *name, int in_c, int out_c, int k, int stride,
                    int in_h, int in_w, bool relu, bool shortcut)
{
    int ui = m->nunits++;
    struct unit *u = &m->units[ui];
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
static void carve_buffers(struct model *m, struct arena *a)
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
        struct unit *u = &m->units[i];
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
        struct block *bl = &m->blocks[i];
        size_t sz = b * (size_t)bl->out_c * bl->out_h * bl->out_w;
        bl->out = CARVE(a, float, sz);
        bl->d_out = g_block[i & 1]; /* block i − 1's is the other; the stem's d_act is [1] */
    }
    m->pooled = CARVE(a, float, b * m->features);
    m->d_pooled = CARVE(a, float, b * m->features);
    m->logits = CARVE(a, float, b * m->spec.classes);
    m->d_logits = CARVE(a, float, b * m->spec.classes);
}

static void alloc_activations(struct model *m)
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

size_t model_bytes(struct model *m, int max_batch)
{
    /* The arena by the same carving that allocates it (counting only: m's buffer pointers are
     * left unusable, as they are in a count-only build), plus the parameter blocks and the
     * per-group weight-gradient partials of the widest conv. */
    int keep = m->max_batch;
    m->max_batch = max_batch > 0 ? max_batch : 0;
    struct arena a = {0};
    carve_buffers(m, &a);
    m->max_batch = keep;
    size_t widest = 0;
    for (int i = 0; i < m->nunits; i++) {
        size_t wc = conv2d_weight_count(&m->units[i].conv);
        widest = wc > widest ? wc : widest;
    }
    return a.used + (4 * m->total + m->running_total + (size_t)CONV2D_DW_GROUPS * widest) * sizeof(float);
}

int model_build(struct model *m, const struct model_spec *spec, int max_batch, int threads,
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
            struct block *bl = &m->blocks[m->nblocks++];
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

void model_free(struct model *m)
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

float model_init_value(const struct model *m, uint64_t seed, int p, size_t i)
{
    const struct param *pa = &m->params[p];
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
    }
    return 0.0f;
}

void model_init(struct model *m, uint64_t seed)
{
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        float *v = m->values + pa->offset;
        for (size_t i = 0; i < pa->count; i++)
            v[i] = model_init_value(m, seed, p, i);
    }
    for (int i = 0; i < m->nunits; i++) {
        const struct unit *u = &m->units[i];
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
    model_mask_changed(m);
}

void model_mask_changed(struct model *m)
{
    for (int p = 0; p < m->nparams; p++) {
        struct param *pa = &m->params[p];
        size_t n = 0;
        for (size_t i = 0; i < pa->count; i++)
            n += m->mask[pa->offset + i] != 0.0f;
        pa->trainable = n;
    }
    /* A conv with few trainable weights gets the list of them: its backward then computes those
     * entries of the weight gradient only (layers.h, struct conv2d_dw_sparse). */
    for (int i = 0; i < m->nunits; i++) {
        struct unit *u = &m->units[i];
        const struct param *pa = &m->params[u->w];
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

struct param_counts model_count(const struct model *m)
{
    struct param_counts c = {0};
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        c.total += pa->count;
        switch (pa->kind) {
        case PARAM_CONV:
            c.conv += pa->count;
            if (m->units[pa->unit].shortcut)
                c.shortcut += pa->count;
            break;
        case PARAM_GAMMA:
        case PARAM_BETA:
            c.bn += pa->count;
            break;
        case PARAM_OUTPUT_W:
        case PARAM_OUTPUT_B:
            c.output += pa->count;
            break;
        }
    }
    return c;
}

size_t model_trainable(const struct model *m)
{
    size_t n = 0;
    for (int p = 0; p < m->nparams; p++)
        n += m->params[p].trainable;
    return n;
}

int model_find_param(const struct model *m, const char *name)
{
    for (int p = 0; p < m->nparams; p++)
        if (strcmp(m->params[p].name, name) == 0)
            return p;
    return -1;
}
