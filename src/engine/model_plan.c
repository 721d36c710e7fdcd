/* The buffer plan, derived from the layer list: every per-batch buffer carved from one arena.
 *
 * Values. What backward reads keeps its own buffer (a tensor's `kept`): a conv's input (for the
 * weight gradient), a BatchNorm's input and, when it fuses a ReLU, its output (the ReLU mask),
 * a ReLU's output, an add-with-ReLU's output, a linear layer's (and a token Dense's) input, a
 * LayerNorm's and a GELU's input, every tap and the logits.
 * Every other tensor lives from its producer to its last consumer and shares a few buffers
 * (slots) of the largest activation's size with tensors whose lives do not overlap.
 *
 * Gradients. A tensor's gradient lives in backward from its last consumer (which writes it
 * first) down to its producer (which reads it): the interval [producer, last consumer] of layer
 * indices. Intervals that do not touch share a slot (greedy by start, optimal for intervals).
 * Two more kinds of scratch: a BatchNorm with a fused ReLU needs the gradient before the ReLU
 * ([layer, layer]); an add with a fused ReLU writes the gradient after the ReLU, and an input
 * that only this add reads takes that buffer as its own gradient (so a residual block's two
 * paths read one buffer, no copy). A tap's (and the logits') gradient is written before backward
 * starts: its interval runs to the end.
 *
 * Contributions: the last consumer of a tensor writes its gradient (=), the others add (+=) —
 * all add for a tap, whose gradient a loss wrote. Where a layer has no `=` form (a conv's or a
 * linear layer's input gradient, the pools'), the planned write is a zeroing then an add.
 */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

struct arena {
    char *base;
    size_t used;
};

/* Pieces are 64-byte aligned, so no two threads' data share a cache line. */
static void *carve(struct arena *a, size_t bytes)
{
    size_t at = (a->used + 63) & ~(size_t)63;
    a->used = at + bytes;
    return a->base ? a->base + at : NULL;
}
#define CARVE(a, type, count) ((type *)carve((a), (size_t)(count) * sizeof(type)))

static size_t tensor_floats(const struct model *m, int t)
{
    const struct tensor *x = &m->tensors[t];
    return (size_t)m->max_batch * x->c * x->h * x->w;
}

static int final_tensor(const struct model *m)
{
    return m->layers[m->nlayers - 1].out;
}

/* The tensors backward reads (file comment), taps and the logits. */
static void mark_kept(struct model *m)
{
    for (int t = 0; t < m->ntensors; t++)
        m->tensors[t].kept = m->tensors[t].tap;
    m->tensors[final_tensor(m)].kept = true;
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *l = &m->layers[i];
        switch (l->op) {
        case LAYER_CONV:
        case LAYER_LINEAR:
        case LAYER_TOKEN_DENSE:
        case LAYER_LAYERNORM:
        case LAYER_GELU:
            m->tensors[l->in].kept = true;
            break;
        case LAYER_BN:
            m->tensors[l->in].kept = true;
            m->tensors[l->out].kept |= l->relu;
            break;
        case LAYER_RELU:
            m->tensors[l->out].kept = true;
            break;
        case LAYER_ADD:
            m->tensors[l->out].kept |= l->relu;
            break;
        case LAYER_MAXPOOL:
        case LAYER_AVGPOOL:
        case LAYER_PIXEL_SHUFFLE:
            break;
        }
    }
}

/* An input of an add with ReLU that only this add reads: its gradient is the add's scratch. */
static bool aliased(const struct model *m, const struct layer *l, int t)
{
    return l->op == LAYER_ADD && l->relu && t > 0 && m->tensors[t].consumers == 1 &&
           !m->tensors[t].tap;
}

/* A buffer to be shared: live over layer indices [lo, hi]; gets slot *slot. */
struct item {
    int lo, hi;
    float **dst;
};

/* Interval colouring: items by decreasing hi (backward order: the first to become live first);
 * an item takes the first slot whose occupant died above its hi. Returns the slots used. */
static int colour(struct item *it, int n, int *slot_of)
{
    int *order = rv_malloc((size_t)(n ? n : 1) * sizeof(int));
    int *slot_lo = rv_malloc((size_t)(n ? n : 1) * sizeof(int));
    for (int i = 0; i < n; i++)
        order[i] = i;
    /* insertion sort by hi descending, stable: build time, a few hundred items */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && it[order[j]].hi > it[order[j - 1]].hi; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    int slots = 0;
    for (int k = 0; k < n; k++) {
        const struct item *x = &it[order[k]];
        int s = 0;
        while (s < slots && slot_lo[s] <= x->hi)
            s++;
        if (s == slots)
            slots++;
        slot_lo[s] = x->lo;
        slot_of[order[k]] = s;
    }
    free(order);
    free(slot_lo);
    return slots;
}

static void carve_shared(struct arena *a, struct item *it, int n, size_t big)
{
    int *slot_of = rv_malloc((size_t)(n ? n : 1) * sizeof(int));
    int slots = colour(it, n, slot_of);
    float **base = rv_malloc((size_t)(slots ? slots : 1) * sizeof(float *));
    for (int s = 0; s < slots; s++)
        base[s] = CARVE(a, float, big);
    for (int i = 0; i < n; i++) {
        *it[i].dst = base[slot_of[i]];
    }
    free(base);
    free(slot_of);
}

/* Forward values (file comment). */
static void plan_values(struct model *m, struct arena *a)
{
    struct item *it = rv_malloc((size_t)m->ntensors * sizeof *it);
    int n = 0;
    size_t big = 0;
    for (int t = 1; t < m->ntensors; t++) {
        struct tensor *x = &m->tensors[t];
        if (x->kept) {
            x->v = CARVE(a, float, tensor_floats(m, t));
            continue;
        }
        /* The colouring runs by decreasing hi; with the interval [producer, last consumer]
         * mirrored (−last consumer, −producer) it colours forward lifetimes the same way. */
        it[n++] = (struct item){.lo = -x->last_consumer, .hi = -x->producer, .dst = &x->v};
        size_t f = tensor_floats(m, t);
        big = f > big ? f : big;
    }
    carve_shared(a, it, n, big);
    free(it);
}

/* Gradients and backward scratch (file comment). */
static void plan_grads(struct model *m, struct arena *a)
{
    int fin = final_tensor(m);
    struct item *it = rv_malloc((size_t)(m->ntensors + 2 * m->nlayers) * sizeof *it);
    int n = 0;
    size_t big = 0;
    m->d_x = NULL;
    m->tensors[0].g = NULL;
    if (m->spec.input_grad)
        m->d_x = m->tensors[0].g = CARVE(a, float, tensor_floats(m, 0));
    for (int i = 0; i < m->nlayers; i++) {
        struct layer *l = &m->layers[i];
        size_t f = tensor_floats(m, l->out);
        if (l->op == LAYER_BN && l->relu)
            it[n++] = (struct item){.lo = i, .hi = i, .dst = &l->scratch};
        if (l->op == LAYER_ADD && l->relu) {
            /* the aliased inputs' gradients are this buffer from their producers up */
            int lo = i;
            for (int k = 0; k < 2; k++) {
                int t = k ? l->in2 : l->in;
                if (aliased(m, l, t) && m->tensors[t].producer < lo)
                    lo = m->tensors[t].producer;
            }
            it[n++] = (struct item){.lo = lo, .hi = i, .dst = &l->scratch};
        }
        big = f > big ? f : big;
    }
    for (int t = 1; t < m->ntensors; t++) {
        struct tensor *x = &m->tensors[t];
        REVIVE_ASSERT(x->consumers > 0 || x->tap || t == fin); /* no dead ends */
        const struct layer *c = x->last_consumer >= 0 ? &m->layers[x->last_consumer] : NULL;
        if (c && x->consumers == 1 && aliased(m, c, t))
            continue;
        int hi = x->tap || t == fin ? m->nlayers : x->last_consumer;
        it[n++] = (struct item){.lo = x->producer, .hi = hi, .dst = &x->g};
        size_t f = tensor_floats(m, t);
        big = f > big ? f : big;
    }
    carve_shared(a, it, n, big);
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *l = &m->layers[i];
        if (aliased(m, l, l->in))
            m->tensors[l->in].g = l->scratch;
        if (aliased(m, l, l->in2))
            m->tensors[l->in2].g = l->scratch;
    }
    free(it);
}

/* Who adds and who writes (file comment). */
static void plan_contributions(struct model *m)
{
    for (int i = 0; i < m->nlayers; i++) {
        struct layer *l = &m->layers[i];
        const struct tensor *a = &m->tensors[l->in];
        l->add_in = a->tap || a->last_consumer != i;
        if (l->in2 >= 0) {
            const struct tensor *b = &m->tensors[l->in2];
            l->add_in2 = b->tap || b->last_consumer != i || l->in2 == l->in;
        }
    }
}

static void plan_layers(struct model *m, struct arena *a)
{
    for (int i = 0; i < m->nlayers; i++) {
        struct layer *l = &m->layers[i];
        if (l->op == LAYER_BN) {
            int c = m->units[l->unit].channels;
            l->save_mean = CARVE(a, float, c);
            l->save_invstd = CARVE(a, float, c);
            l->bn_sums = CARVE(a, double, 2 * (size_t)c + 1);
        } else if (l->op == LAYER_LAYERNORM) {
            const struct tensor *t = &m->tensors[l->in];
            size_t s = (size_t)m->max_batch * t->h * t->w;
            l->save_mean = CARVE(a, float, s);
            l->save_invstd = CARVE(a, float, s);
            l->ln_sums = CARVE(a, float, 2 * s);
        } else if (l->op == LAYER_MAXPOOL) {
            l->argmax = CARVE(a, int32_t, tensor_floats(m, l->out));
        } else if (l->op == LAYER_CONV) {
            size_t wc = conv2d_weight_count(&l->conv), kr = wc / (size_t)l->conv.out_c;
            l->wt = l->conv.winograd ? CARVE(a, float, conv2d_winograd_weight_count(&l->conv)) : NULL;
            l->wt_of = l->conv.winograd ? CARVE(a, float, wc) : NULL;
            l->dw_idx = CARVE(a, unsigned, wc);
            l->dw_rows = CARVE(a, unsigned char, kr);
        }
    }
}

static void plan(struct model *m, struct arena *a)
{
    mark_kept(m);
    plan_contributions(m);
    plan_values(m, a);
    plan_grads(m, a);
    plan_layers(m, a);
    int fin = final_tensor(m);
    m->logits = m->tensors[fin].v;
    m->d_logits = m->tensors[fin].g;
}

void model_plan_alloc(struct model *m)
{
    struct arena a = {0};
    plan(m, &a); /* count */
    m->arena_bytes = a.used;
    char *raw = rv_malloc(a.used + 64);
    memset(raw, 0, a.used + 64); /* touches every page now, not during the first steps */
    m->arena = raw;
    a.base = raw + (64 - (uintptr_t)raw % 64) % 64;
    a.used = 0;
    plan(m, &a);
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].op == LAYER_CONV)
            conv2d_workspace_reserve(&m->ws, &m->layers[i].conv, m->max_batch, m->threads);
}

size_t model_bytes(struct model *m, int max_batch)
{
    /* The arena by the same plan that allocates it (counting only: m's buffer pointers are
     * left unusable, as they are in a count-only build), plus the parameter blocks and the
     * per-group weight-gradient partials of the widest conv. */
    int keep = m->max_batch;
    m->max_batch = max_batch > 0 ? max_batch : 0;
    struct arena a = {0};
    plan(m, &a);
    m->max_batch = keep;
    size_t widest = 0;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].op == LAYER_CONV) {
            size_t wc = conv2d_weight_count(&m->layers[i].conv);
            widest = wc > widest ? wc : widest;
        }
    return a.used + (4 * m->total + m->running_total + (size_t)CONV2D_DW_GROUPS * widest) * sizeof(float);
}
