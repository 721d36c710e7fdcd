/* A network: a list of layers over tensors, built by one function per family (src/models/),
 * with named parameters in one block and the units the pipeline trains, disables and revives.
 *
 *   struct model_spec spec = {.arch = ARCH_RESNET, .depth = 20, .width = 1,
 *                             .in_c = 1, .in_h = 28, .in_w = 28, .classes = 10};
 *   struct model m;
 *   model_build(&m, &spec, batch, threads, &err); the family's layers, then every buffer planned;
 *                                                  batch 0 = parameters only, −1 = the table only
 *   model_init(&m, seed);                     Kaiming-normal conv/linear, γ ~ U[0,1) (or 1), β = 0
 *   model_forward(&m, x, n, true, &reducer);  logits in m.logits (n, classes)
 *   model_zero_grad(&m);
 *   model_backward(&m, n, &reducer);          from m.d_logits (and the taps' gradients) into
 *                                             m.grads where m.mask is non-zero (and m.d_x when
 *                                             spec.input_grad)
 *   model_free(&m);
 *
 * Memory: values, grads, momentum and mask are each one block of m.total floats, carved by the
 * parameter table m.params[]; running statistics are one block of m.running_total floats. So SGD
 * is one loop, the gradient allreduce one call, and a checkpoint a handful of datasets.
 *
 * The layer list: layer i reads tensor in (and in2, for an add) and writes tensor out; tensor 0
 * is the input image. A family's builder (src/models/<family>.c) appends layers with the model_add_*
 * functions below and declares its units; forward runs the list, backward runs it in reverse,
 * and the buffers are planned from it (src/engine/model_plan.c). No family writes a pass.
 *
 * A *unit* is a normalization channel set (γ, β, running statistics) and the weights that feed
 * each channel, its *filter*: a BatchNorm and the convolution before it (an MLP-Mixer's: a
 * LayerNorm, without running statistics, and the columns of the 1×1 conv after it that read
 * its channels: model_unit_filter_columns). Channel c of a unit
 * with γ_c, β_c and its filter is the thing that is disabled, re-initialized and revived.
 */
#ifndef REVIVE_MODEL_H
#define REVIVE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "layers.h"

/* Network families, in the registry's order (src/models/registry.c: names and builders).
 * The names are model.arch's choices: arch_names. */
struct model;

/* ARCH_SRRESNET_X1 (the scale-1 generator for denoising) comes last so the others keep their
 * numbers. */
enum arch_kind { ARCH_RESNET, ARCH_IMAGENET_RESNET, ARCH_VGG, ARCH_SRRESNET, ARCH_MIXER,
                 ARCH_SRRESNET_X1, ARCH_COUNT };
extern const char *const arch_names[ARCH_COUNT];
/* The first layers: the family's own (AUTO), torchvision's ImageNet stem (7×7/2 conv, BN, ReLU,
 * 3×3/2 max-pool) or the CIFAR stem (3×3/1 conv, BN, ReLU, no pool). model.stem. */
enum model_stem { STEM_AUTO, STEM_IMAGENET, STEM_CIFAR, STEM_COUNT };
extern const char *const stem_names[STEM_COUNT];
/* Normalization after each convolution: BatchNorm (a unit per conv), or none (VGG only). */
enum model_norm { NORM_BATCH, NORM_NONE, NORM_COUNT };
extern const char *const norm_names[NORM_COUNT];
/* VGG's classifier: AUTO = TORCHVISION where the features end at 7×7 (a 224×224 input), else
 * POOL; POOL = global average pool and one linear layer; TORCHVISION = flatten 512·7·7 and
 * linear 4096, ReLU, 4096, ReLU, classes (torchvision's, without dropout). model.head. */
enum model_head { HEAD_AUTO, HEAD_POOL, HEAD_TORCHVISION, HEAD_COUNT };
extern const char *const head_names[HEAD_COUNT];

enum param_kind {
    PARAM_CONV,     /* (out_c, in_c, k, k); also a Mixer's token-mixing kernel (out_f, in_f):
                       the feature weights stages mask and re-initialize ("conv weights") */
    PARAM_GAMMA,    /* (C) */
    PARAM_BETA,     /* (C) */
    PARAM_OUTPUT_W, /* (classes, features) */
    PARAM_OUTPUT_B, /* (classes) */
    PARAM_DENSE_W,  /* (out_f, in_f): a hidden linear layer (VGG's classifier) */
    PARAM_DENSE_B,  /* (out_f) */
    PARAM_CONV_B,   /* (out_c): a conv's bias (VGG's, as torchvision's) */
};

/* How a parameter is drawn at init (and a re-initialized filter again): DEFAULT by its kind
 * (Kaiming-normal conv and linear weights, γ from U[0,1) or 1, zero β and biases); the rest as
 * named, which a family's builder sets (the Mixer's reference init). LECUN: truncated normal
 * on [−2σ, 2σ] with σ = √(1/fan_in)/0.8796 (variance 1/fan_in after truncation: flax's
 * lecun_normal). */
enum param_init { INIT_DEFAULT, INIT_LECUN, INIT_ONE, INIT_ZERO };

struct param {
    char name[64];        /* e.g. "seg2.block0.shortcut.conv" */
    enum param_kind kind;
    enum param_init init;
    int ndim;
    int dims[4];
    size_t offset, count; /* into values/grads/momentum/mask */
    size_t trainable;     /* non-zero mask entries; kept by model_mask_changed */
    int unit;             /* the unit it belongs to (a conv: the unit it feeds); -1 for none */
};

struct unit {
    char name[48];        /* "stem", "seg1.block0.conv1", "seg2.block0.shortcut" */
    int channels;         /* C: γ, β, the running statistics and the filters */
    struct batchnorm bn;  /* eps, momentum (recalibration sets it), fused ReLU: its BN layer's */
    bool shortcut;        /* a projection shortcut (1×1 conv + BN) */
    bool relu;            /* followed by ReLU (fused into the BN) */
    int w, gamma, beta;   /* indices into params[]; w = -1: no filter weights */
    size_t running;       /* running mean at running_stats[running], var at [running + C] */
    /* The filter of channel c: values[params[w].offset + c·row_stride + j·elem_stride], j <
     * filter_len (a conv: row c of (out_c, in_c·k·k), so stride 1 and length in_c·k·k). */
    size_t row_stride, elem_stride, filter_len;
    int layer;            /* the BN layer (a LayerNorm unit: its LayerNorm layer) */
    /* A LayerNorm unit (MLP-Mixer's): γ, β and a filter, but no running statistics (LayerNorm
     * normalizes each position by its own channels, the same in training and eval): `running`
     * and `bn` are unused, nothing recalibrates it and checkpoints hold no /running for it. */
    bool layernorm;
};

enum layer_op {
    LAYER_CONV,    /* conv2d: weights w, bias b (-1: none) */
    LAYER_BN,      /* BatchNorm of unit `unit` (γ = w, β = b), ReLU fused when relu */
    LAYER_RELU,
    LAYER_ADD,     /* out = in + in2, ReLU fused when relu */
    LAYER_MAXPOOL,
    LAYER_AVGPOOL, /* global: (C, H, W) → (C, 1, 1) */
    LAYER_LINEAR,  /* reads its input as (N, C·H·W): flatten is free in NCHW */
    LAYER_PIXEL_SHUFFLE, /* PyTorch's PixelShuffle(r): (C·r², H, W) → (C, H·r, W·r) */
    LAYER_LAYERNORM, /* over channels at each position (γ = w, β = b); unit `unit` or -1 */
    LAYER_GELU,      /* tanh form */
    LAYER_TOKEN_DENSE, /* a linear layer over each channel's H·W tokens (fc: in_f = H·W) */
};

/* A tensor's per-image shape and, after model_build, its buffers (max_batch images each). */
struct tensor {
    int c, h, w;
    int producer;         /* layer index; -1 for the input */
    int consumers;        /* layers that read it */
    int last_consumer;    /* the highest such layer index; -1 for none */
    bool kept;            /* backward reads its values: an own buffer (model_plan.c) */
    bool tap;             /* a loss may read it: kept, its gradient seeded (model_add_tap) */
    bool need_grad;       /* set by model_backward: something trainable upstream */
    float *v, *g;         /* values; gradient (NULL: never needed) */
};

struct layer {
    char name[48];
    enum layer_op op;
    int in, in2, out;     /* tensor ids; in2 = -1 unless an add */
    int w, b;             /* params: conv weight; BN γ, β; linear weight, bias (-1: none) */
    int unit;             /* BN: its unit; -1 otherwise */
    bool relu;            /* BN, ADD: ReLU fused into the output */
    struct conv2d conv;
    struct linear fc;
    struct maxpool2d pool;
    struct pixel_shuffle shuffle;
    /* Planned by model_plan.c: */
    bool add_in, add_in2; /* a contribution to the input gradient that adds (another consumer
                             wrote first, or the input is a tap); else it writes */
    float *scratch;       /* BN with ReLU: the gradient before the ReLU; ADD: after it */
    float *save_mean, *save_invstd; /* BN: (C); LAYERNORM: (max_batch, H·W) */
    float *ln_sums;       /* LAYERNORM: (max_batch, 2·H·W) backward scratch */
    double *bn_sums;      /* BN: (2C + 1) */
    int32_t *argmax;      /* MAXPOOL: (max_batch, C, out_h, out_w) */
    /* A conv's data derived from its weights or their mask, kept across steps (model.c): */
    float *wt;            /* Winograd transform of the weights, (16, out_c, in_c), or NULL */
    float *wt_of;         /* (out_c, in_c, k, k): the weights wt was made from */
    bool wt_ok;
    unsigned *dw_idx;     /* (out_c·in_c·k·k): trainable weight indices, for dw_sparse */
    unsigned char *dw_rows; /* (in_c·k·k) */
    struct conv2d_dw_sparse dw_sparse;
    bool sparse_dw;       /* few trainable weights: compute only those (model_mask_changed) */
};

struct model_spec {
    enum arch_kind arch;        /* 0 = ARCH_RESNET */
    int depth, width;           /* the family's depth (resnet: 6n + 2) and channel multiplier */
    int in_c, in_h, in_w, classes;
    enum model_stem stem;       /* ImageNet ResNet only; 0 = the family's own */
    enum model_norm norm;       /* VGG only; 0 = BatchNorm */
    enum model_head head;       /* VGG only; 0 = auto */
    bool gamma_one;             /* γ = 1 instead of U[0,1) */
    bool no_skip;               /* ImageNet ResNet only: blocks without their residual path
                                   (model.skip = false); 0 = the family's own */
    /* MLP-Mixer only (model.patch, hidden, tokens_mlp, channels_mlp, blocks); zero_head: the
     * head starts at zero (the reference's) because it trains from the first step; a head that
     * stays frozen is drawn like the other kernels (run_model_spec decides). */
    struct model_mixer {
        int patch, hidden, tokens_mlp, channels_mlp, blocks;
        bool zero_head;
    } mixer;
    bool input_grad;            /* model_backward also writes d(loss)/d(input) into m->d_x */
    void (*build)(struct model *m); /* a network no family lists (tests), built instead of
                                       arch's, with model_add_*; NULL: the family's */
    const char *const *taps;    /* layer names whose outputs a loss reads (model_add_tap), or NULL */
    int ntaps;
    enum conv_algo conv_algo;   /* how 3×3 stride-1 convs run (train.conv_algo); 0 = AUTO */
    enum conv_auto_rule conv_auto_rule; /* the rule AUTO follows; 0 = CONV_AUTO_RULE_CURRENT
                                           (model_build writes the number it used here) */
};

struct model {
    struct model_spec spec;
    int nparams, nunits, nlayers, ntensors;
    struct param *params;
    struct unit *units;
    struct layer *layers;
    struct tensor *tensors;
    int cap_params, cap_units, cap_layers, cap_tensors; /* the builder's array sizes */
    int fc_w, fc_b;             /* the output layer's param indices; −1 for an image network
                                   (srresnet), whose output is its last conv's */
    int features;               /* the output layer's inputs */

    size_t total;               /* floats in each of the four blocks below */
    float *values, *grads, *momentum, *mask;
    float *moment2;             /* AdamW's second moment (m.total floats) when the run's optimizer
                                   is AdamW (optim.h, optim_alloc_state), else NULL */
    size_t running_total;
    float *running_stats;

    int max_batch, threads;
    float *logits, *d_logits;   /* the last layer's output and its gradient, (max_batch, classes) */
    const float *x;             /* the input of the last forward, (n, in_c, in_h, in_w), not owned */
    bool train;                 /* the last forward's mode: backward follows it (BatchNorm's
                                   batch or running statistics) */
    int run_layers;             /* forward and backward run layers [0, run_layers) only; 0: all
                                   (a frozen loss network stops at its last tap: lossnet.h) */
    float *d_x;                 /* (max_batch, in_c, in_h, in_w) when spec.input_grad, else NULL */
    struct conv2d_workspace ws;
    void *arena;                /* every per-batch buffer, carved at build (model_plan.c) */
    size_t arena_bytes;
};

/* Builds the family's layer list (src/models/) and plans and allocates everything for batches
 * of up to max_batch images (0: parameters only; −1: the parameter table only, for counting).
 * Returns -1 and fills err for an impossible spec (naming the config key). */
int model_build(struct model *m, const struct model_spec *spec, int max_batch, int threads, struct rv_error *err);
void model_free(struct model *m);
/* The bytes model_build allocates for m's table and batches of max_batch images (parameter,
 * gradient, momentum and mask blocks, running statistics, activations; not the convolutions'
 * im2col scratch of ~1 MiB per thread). m may be a count-only build (max_batch −1), so a run can
 * refuse a model too large for the machine before allocating it. */
size_t model_bytes(struct model *m, int max_batch);

/* Kaiming-normal conv and linear weights (std √(2/fan_in)), biases 0, γ from U[0,1) or 1,
 * β = 0 (or what the family set in each param's init), running mean 0 and var 1, mask all ones. Value i of parameter p is drawn from
 * rng_stream(RNG_INIT, p, 0, 0) at index i. */
void model_init(struct model *m, uint64_t seed);
/* The initial value of element i of parameter p (what model_init writes there). */
float model_init_value(const struct model *m, uint64_t seed, int p, size_t i);
/* Element i of a draw from weight p's initial distribution on stream `stream` (model_init's
 * is rng_stream(RNG_INIT, p, 0, 0); re-initialization draws filters on its own streams);
 * fan_in is the weights' fan-in. */
float model_init_draw(const struct model *m, uint64_t seed, uint64_t stream, int p, size_t fan_in,
                      size_t i);

/* x: (n, in_c, in_h, in_w), kept by pointer until backward. train: batch statistics (reduced
 * through r when r is not NULL) and running-stat updates; otherwise running statistics. */
void model_forward(struct model *m, const float *x, int n, bool train, const struct bn_reducer *r);
/* From m->d_logits (n, classes) and the taps' gradients, through the last forward's mode (an
 * evaluation-mode forward differentiates BatchNorm's affine map of the running statistics). Accumulates into m->grads; gradients of
 * parameters whose mask is all zero are skipped, and the backward pass stops below the first
 * trainable layer (or at the input, writing m->d_x, when spec.input_grad). */
void model_backward(struct model *m, int n, const struct bn_reducer *r);
/* Zeroes m->grads and the taps' gradients (loss.h); the logits' gradient m->d_logits is the
 * caller's to write, as always. */
void model_zero_grad(struct model *m);

/* Call after writing m->mask: refreshes each parameter's trainable count, which backward uses
 * to skip frozen work, and each conv's list of trainable entries (a masked weight gradient
 * below CONV2D_SPARSE_DW_DENSITY). Writing m->values needs no call: what is derived from the
 * weights is checked against them at every use (model.c). */
void model_mask_changed(struct model *m);

/* Counts for `pipeline params`: total; BN γ and β (all, shortcut BNs included); the output
 * layer; the shortcut convs' weights; all conv weights; hidden linear layers; conv biases. */
struct param_counts {
    size_t total, bn, output, shortcut, conv, dense, conv_bias;
};
struct param_counts model_count(const struct model *m);
/* Number of non-zero mask entries. */
size_t model_trainable(const struct model *m);
int model_find_param(const struct model *m, const char *name);
/* The layer named `name`, or -1. Its output is m->tensors[m->layers[i].out]. */
int model_find_layer(const struct model *m, const char *name);
/* The conv layer that feeds unit u (its filter), or NULL. */
const struct conv2d *model_unit_conv(const struct model *m, int u);

/* ---- the builder's vocabulary (src/models/<family>.c); each returns the output tensor id ---------- */
/* A conv k×k, stride, padding pad: parameter "<name>" of kind PARAM_CONV and, with bias,
 * "<name>.bias" of kind PARAM_CONV_B. */
int model_add_conv(struct model *m, const char *name, int in, int out_c, int k, int stride, int pad,
                   bool bias);
/* A BatchNorm over tensor in, ReLU fused when relu: declares unit `name` with parameters
 * "<name>.gamma", "<name>.beta" and, when in is a conv's output, that conv as its filter. */
int model_add_bn(struct model *m, const char *name, int in, bool relu, bool shortcut);
/* The CIFAR ResNet's unit: conv "<name>.conv" (k×k, padding k/2) then BN: parameters conv,
 * γ, β in that order. */
int model_add_conv_bn(struct model *m, const char *name, int in, int out_c, int k, int stride,
                      bool relu, bool shortcut);
int model_add_relu(struct model *m, const char *name, int in);
int model_add_add(struct model *m, const char *name, int a, int b, bool relu);
/* PyTorch's MaxPool2d(k, stride, pad, ceil_mode). */
int model_add_maxpool(struct model *m, const char *name, int in, int k, int stride, int pad,
                      bool ceil_mode);
int model_add_avgpool(struct model *m, const char *name, int in);
/* PyTorch's PixelShuffle(r): in's channels must be a multiple of r². */
int model_add_pixel_shuffle(struct model *m, const char *name, int in, int r);
/* MLP-Mixer's vocabulary (src/models/mixer.c). A LayerNorm over in's channels at each position:
 * parameters "<name>.gamma", "<name>.beta" (PARAM_GAMMA, PARAM_BETA); with unit, also unit
 * `name` (model_unit_filter_columns names its filter). */
int model_add_layernorm(struct model *m, const char *name, int in, bool unit);
int model_add_gelu(struct model *m, const char *name, int in);
/* A Dense over each channel's H·W tokens to out_h·out_w tokens: "<name>.weight" (PARAM_CONV,
 * (out_h·out_w, H·W)) and "<name>.bias" (PARAM_CONV_B). */
int model_add_token_dense(struct model *m, const char *name, int in, int out_h, int out_w);
/* Unit u's filter: channel c's column of conv weight p (out_c, in_c, 1, 1), the weights that
 * read channel c (row stride 1, element stride in_c, out_c long). */
void model_unit_filter_columns(struct model *m, int u, int p);
/* A linear layer on in read as (N, C·H·W): parameters "<name>.weight", "<name>.bias" of kinds
 * kw and kb (PARAM_OUTPUT_* for the output layer, which also sets m->fc_w, fc_b, features). */
int model_add_linear(struct model *m, const char *name, int in, int out_f, enum param_kind kw,
                     enum param_kind kb);

#endif
