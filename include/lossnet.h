/* A frozen loss network and the perceptual loss on its features (issue 22; also issue 23's).
 *
 *   struct lossnet_spec s = {.net = {.arch = ARCH_VGG, .depth = 11, .width = 1, .in_c = 1,
 *                                    .in_h = 28, .in_w = 28, .classes = 10},
 *                            .ntaps = 2, .taps = {"group1.conv1", "group2.conv1"},
 *                            .tap_weight = {1, 1}, .init = LOSSNET_INIT_LIU, .seed = 1,
 *                            .mean = {0.286f}, .std = {0.353f}};
 *   struct lossnet ln;
 *   lossnet_open(&ln, &s, batch, threads, &err);   built with the taps and spec.input_grad,
 *                                                  weights drawn (or read from s.checkpoint)
 *   lossnet_set_target(&ln, target, n);            the targets' features, kept
 *   double p = lossnet_loss(&ln, y, n, n, lambda, dy);   dy += λ·∂(perceptual)/∂y / scale_n
 *   lossnet_close(&ln);
 *
 * The network is any family model_build makes (VGG, ResNets: model.h), never trained: its mask
 * is all zero (no weight gradient is computed), it runs in evaluation mode (BatchNorm with its
 * running statistics, also in backward: model.h), and only up to its last tap (m.run_layers). Images enter in [0, 1] pixel units and are
 * normalized per channel, x = (p − mean) / std, as the classifiers are trained.
 *
 * The perceptual loss of an image y against its target t: Σ_j w_j · ‖φ_j(y) − φ_j(t)‖² /
 * (C_j·H_j·W_j) over the taps j (φ_j: tap j's output, C_j×H_j×W_j), the squared L2 distance per
 * tap normalized by its size (Johnson et al. 2016's feature reconstruction loss), weighted and
 * summed. lossnet_loss returns the sum over the n images (without λ); its gradient flows through
 * the frozen network (the input gradient) into dy.
 *
 * Weights (lossnet_init_weights): conv and linear weights by the chosen scheme, each value i of
 * parameter p drawn from rng_stream(RNG_LOSSNET, p, 0, 0) at index i with the given seed (so the
 * network is fixed by its seed and never shares numbers with a generator's RNG_INIT streams);
 * biases and β 0, γ 1, running mean 0 and variance 1. Or a revive checkpoint of the same network
 * (its /model must match s.net): every parameter and running statistic from the file. */
#ifndef REVIVE_LOSSNET_H
#define REVIVE_LOSSNET_H

#include <stdint.h>

#include "model.h"

#define LOSSNET_MAX_TAPS 8
#define LOSSNET_MAX_CHANNELS 4

/* fan_in = c_in·k² (a linear layer: in_f), fan_out = c_out·k². */
enum lossnet_init {
    LOSSNET_INIT_NORMAL,  /* N(0, σ²), σ = init_scale */
    LOSSNET_INIT_UNIFORM, /* U[−a, a], a = init_scale */
    LOSSNET_INIT_XAVIER,  /* Xavier-normal (Glorot): N(0, 2 / (fan_in + fan_out)) */
    LOSSNET_INIT_KAIMING, /* Kaiming-normal, fan-in, ReLU gain: N(0, 2 / fan_in) (model_init's) */
    /* Liu et al. CVPR 2021 (Generic Perceptual Loss), Kaiming scaled by depth: N(0, σ²) with
     * σ = √(2 / (l·k²·c_in)) for the l-th conv (l = 1, 2, … in layer order; linear layers
     * continue the count with k = 1). The formula as issue 22 states it; the paper's section on
     * it could not be read here (docs/ARCHITECTURE.md). */
    LOSSNET_INIT_LIU,
    LOSSNET_INIT_COUNT
};
extern const char *const lossnet_init_names[LOSSNET_INIT_COUNT]; /* normal uniform xavier kaiming liu */

struct lossnet_spec {
    struct model_spec net;      /* the family, its keys, the input shape, classes (taps and
                                   input_grad are lossnet_open's) */
    int ntaps;
    const char *taps[LOSSNET_MAX_TAPS];
    double tap_weight[LOSSNET_MAX_TAPS];
    enum lossnet_init init;
    double init_scale;          /* NORMAL: σ; UNIFORM: a */
    uint64_t seed;
    const char *checkpoint;     /* non-empty: the weights of this revive checkpoint, not init */
    float mean[LOSSNET_MAX_CHANNELS], std[LOSSNET_MAX_CHANNELS]; /* input normalization */
};

struct lossnet {
    struct model m;
    int ntaps;
    int tap[LOSSNET_MAX_TAPS];  /* tensor ids */
    double weight[LOSSNET_MAX_TAPS];
    float *feat[LOSSNET_MAX_TAPS]; /* the targets' features, (max_batch, C_j, H_j, W_j) */
    float *xn;                  /* the normalized input, (max_batch, C, H, W) */
    float mean[LOSSNET_MAX_CHANNELS], inv_std[LOSSNET_MAX_CHANNELS];
};

/* 0 when family arch can be a loss network (style's or superres's), else -1 and a one-line error
 * naming `key` (the config key that chose it) and the families that can: a convolutional
 * classifier (resnet, imagenet_resnet, vgg). Not srresnet or srresnet_x1 (the generators, an
 * image-to-image network) and not mixer: its token-mixing layers are tied to the image size it
 * was built for (a trained Mixer cannot read another size) and its features are patch tokens. */
int lossnet_check_arch(enum arch_kind arch, const char *key, struct rv_error *err);
/* Builds, initializes (or loads) and freezes the network; -1 and a one-line error for a tap that
 * is not a layer, a bad spec, an unreadable or mismatched checkpoint. */
int lossnet_open(struct lossnet *ln, const struct lossnet_spec *s, int max_batch, int threads,
                 struct rv_error *err);
void lossnet_close(struct lossnet *ln);
/* Writes the random weights of scheme init into m (every parameter, the running statistics) and
 * freezes it (mask all zero). */
void lossnet_init_weights(struct model *m, enum lossnet_init init, double init_scale, uint64_t seed);
/* The value lossnet_init_weights gives element i of parameter p (l: the 1-based index of p among
 * the conv and linear weights, 0 for other parameters). */
float lossnet_init_value(const struct model *m, enum lossnet_init init, double init_scale,
                         uint64_t seed, int p, int l, size_t i);
/* Runs the network on the n targets (n, C, H, W) in pixel units and keeps their tap features. */
void lossnet_set_target(struct lossnet *ln, const float *target, int n);
/* The perceptual loss of the n images y against the targets last set (file comment): returns
 * the sum over the images; when dy is not NULL, adds λ·∂/∂y divided by scale_n (the global
 * batch) into dy (n, C, H, W). */
double lossnet_loss(struct lossnet *ln, const float *y, int n, int scale_n, double lambda, float *dy);

#endif
