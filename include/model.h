/* ResNet for CIFAR (He et al. 2016; open_lth's `cifar_resnet_D_W`): named parameters in one block.
 *
 *   struct model_spec spec = {.depth = 20, .width = 1, .in_c = 1, .in_h = 28, .in_w = 28, .classes = 10};
 *   struct model m;
 *   model_build(&m, &spec, batch, threads);   plans every buffer; batch 0 = parameters only
 *   model_init(&m, seed);                     Kaiming-normal conv/linear, γ ~ U[0,1) (or 1), β = 0
 *   model_forward(&m, x, n, true, &reducer);  logits in m.logits (n, classes)
 *   model_zero_grad(&m);
 *   model_backward(&m, dlogits, n, &reducer); gradients in m.grads, where m.mask is non-zero
 *   model_free(&m);
 *
 * Memory: values, grads, momentum and mask are each one block of m.total floats, carved by the
 * parameter table m.params[]; running statistics are one block of m.running_total floats. So SGD
 * is one loop, the gradient allreduce one call, and a checkpoint a handful of datasets.
 *
 * A *unit* is a convolution and the BatchNorm that follows it; a unit's output channel c with
 * γ_c, β_c is a *filter*, the thing that is disabled, re-initialized and revived.
 */
#ifndef REVIVE_MODEL_H
#define REVIVE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "layers.h"

enum param_kind {
    PARAM_CONV,     /* (out_c, in_c, k, k) */
    PARAM_GAMMA,    /* (C) */
    PARAM_BETA,     /* (C) */
    PARAM_OUTPUT_W, /* (classes, features) */
    PARAM_OUTPUT_B, /* (classes) */
};

struct param {
    char name[64];        /* e.g. "seg2.block0.shortcut.conv" */
    enum param_kind kind;
    int ndim;
    int dims[4];
    size_t offset, count; /* into values/grads/momentum/mask */
    size_t trainable;     /* non-zero mask entries; kept by model_mask_changed */
    int unit;             /* the unit it belongs to; -1 for the output layer */
};

struct unit {
    char name[48];        /* "stem", "seg1.block0.conv1", "seg2.block0.shortcut" */
    struct conv2d conv;
    struct batchnorm bn;
    bool shortcut;        /* a projection shortcut (1×1 conv + BN) */
    bool relu;            /* followed by ReLU inside the unit (stem and conv1 of each block) */
    int w, gamma, beta;   /* indices into params[] */
    size_t running;       /* running mean at running_stats[running], var at [running + C] */
    /* activations, each (max_batch, out_c, out_h, out_w); conv_out and (when relu) bn_out are
     * the unit's own, the others shared with other units (model_build.c: carve_buffers) */
    float *conv_out, *bn_out;  /* bn_out holds ReLU(bn) when relu (fused into BN) */
    float *d_conv_out, *d_bn_out;
    float *d_act;              /* gradient w.r.t. ReLU(bn) when relu, else NULL */
    float *save_mean, *save_invstd; /* (out_c) */
    double *bn_sums;           /* (2·out_c + 1): BatchNorm's reduction buffer */
    /* Derived from the conv weights or their mask, kept across steps (model.c says when each
     * is refreshed): */
    float *wt;                 /* Winograd transform of the weights, (16, out_c, in_c), or NULL */
    float *wt_of;              /* (out_c, in_c, k, k): the weights wt was made from */
    bool wt_ok;                /* wt and wt_of hold something */
    unsigned *dw_idx;          /* (out_c·in_c·k·k): trainable weight indices, for dw_sparse */
    unsigned char *dw_rows;    /* (in_c·k·k) */
    struct conv2d_dw_sparse dw_sparse;
    bool sparse_dw;            /* few trainable weights: compute only those (model_mask_changed) */
};

struct block {
    int conv1, conv2, shortcut; /* unit indices; shortcut -1 = identity */
    int in_c, out_c, in_h, in_w, out_h, out_w;
    float *out, *d_out;         /* ReLU(bn2 + shortcut), (max_batch, out_c, out_h, out_w); d_out shared */
};

struct model_spec {
    int depth, width;           /* depth = 6n + 2 */
    int in_c, in_h, in_w, classes;
    bool gamma_one;             /* γ = 1 instead of U[0,1) */
    enum conv_algo conv_algo;   /* how 3×3 stride-1 convs run (train.conv_algo); 0 = AUTO */
    enum conv_auto_rule conv_auto_rule; /* the rule AUTO follows; 0 = CONV_AUTO_RULE_CURRENT
                                           (model_build writes the number it used here) */
};

struct model {
    struct model_spec spec;
    int nparams, nunits, nblocks;
    struct param *params;
    struct unit *units;
    struct block *blocks;
    struct linear fc;
    int fc_w, fc_b;             /* param indices */
    int features;               /* 64·width */

    size_t total;               /* floats in each of the four blocks below */
    float *values, *grads, *momentum, *mask;
    size_t running_total;
    float *running_stats;

    int max_batch, threads;
    float *pooled, *d_pooled;   /* (max_batch, features) */
    float *logits, *d_logits;   /* (max_batch, classes) */
    const float *x;             /* the input of the last forward, (n, in_c, in_h, in_w), not owned */
    struct conv2d_workspace ws;
    void *arena;                /* every per-batch buffer above, carved at build (model_build.c) */
    size_t arena_bytes;
};

/* Plans and allocates everything for batches of up to max_batch images (0: parameters only;
 * −1: the parameter table only, for counting).
 * Returns -1 and fills err for an impossible spec. */
int model_build(struct model *m, const struct model_spec *spec, int max_batch, int threads, struct rv_error *err);
void model_free(struct model *m);
/* The bytes model_build allocates for m's table and batches of max_batch images (parameter,
 * gradient, momentum and mask blocks, running statistics, activations; not the convolutions'
 * im2col scratch of ~1 MiB per thread). m may be a count-only build (max_batch −1), so a run can
 * refuse a model too large for the machine before allocating it. */
size_t model_bytes(struct model *m, int max_batch);

/* Kaiming-normal conv and linear weights (std √(2/fan_in)), output bias 0, γ from U[0,1) or 1,
 * β = 0, running mean 0 and var 1, mask all ones. Value i of parameter p is drawn from
 * rng_stream(RNG_INIT, p, 0, 0) at index i. */
void model_init(struct model *m, uint64_t seed);
/* The initial value of element i of parameter p (what model_init writes there). */
float model_init_value(const struct model *m, uint64_t seed, int p, size_t i);

/* x: (n, in_c, in_h, in_w), kept by pointer until backward. train: batch statistics (reduced
 * through r when r is not NULL) and running-stat updates; otherwise running statistics. */
void model_forward(struct model *m, const float *x, int n, bool train, const struct bn_reducer *r);
/* dlogits (n, classes) in m->d_logits. Accumulates into m->grads; gradients of parameters whose
 * mask is all zero are skipped, and the backward pass stops below the first trainable unit. */
void model_backward(struct model *m, int n, const struct bn_reducer *r);
void model_zero_grad(struct model *m);

/* Call after writing m->mask: refreshes each parameter's trainable count, which backward uses
 * to skip frozen work, and each conv's list of trainable entries (a masked weight gradient
 * below CONV2D_SPARSE_DW_DENSITY). Writing m->values needs no call: what is derived from the
 * weights is checked against them at every use (model.c). */
void model_mask_changed(struct model *m);

/* Counts for `pipeline params`. */
struct param_counts {
    size_t total, bn, output, shortcut, conv;
};
struct param_counts model_count(const struct model *m);
/* Number of non-zero mask entries. */
size_t model_trainable(const struct model *m);
int model_find_param(const struct model *m, const char *name);

#endif
