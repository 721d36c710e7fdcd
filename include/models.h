/* The network families: one builder per family (src/models/<family>.c), one registry line each
 * (src/models/registry.c). A builder appends layers with model_add_* (model.h) and declares its
 * units through model_add_bn; it writes no forward or backward pass and no buffer code.
 *
 * Adding a family: a value in enum arch_kind (model.h), a file src/models/<family>.c with its
 * check and build functions, and its line in registry.c (name and functions). */
#ifndef REVIVE_MODELS_H
#define REVIVE_MODELS_H

#include "model.h"

struct model_family {
    /* A user's impossible spec: -1 and a one-line message naming the config key and the fix. */
    int (*check)(const struct model_spec *s, struct rv_error *err);
    /* Appends the family's layers to m (m->spec holds the checked spec; tensor 0 is the input). */
    void (*build)(struct model *m);
    /* "ResNet-20 width 1", for `pipeline params` and logs. */
    void (*describe)(char *buf, size_t size, const struct model_spec *s);
};
extern const struct model_family model_families[ARCH_COUNT];

/* The family's check of s (in_h = 0: the input is not known yet; only the keys are checked),
 * for config validation and model_build. */
int model_check_spec(const struct model_spec *s, struct rv_error *err);
/* For the families' checks: width, and the keys the family does not read left at default. */
int model_check_common(const struct model_spec *s, bool stem, bool norm, bool head,
                       struct rv_error *err);

int resnet_check(const struct model_spec *s, struct rv_error *err);
void resnet_build(struct model *m);
void resnet_describe(char *buf, size_t size, const struct model_spec *s);
int imagenet_resnet_check(const struct model_spec *s, struct rv_error *err);
void imagenet_resnet_build(struct model *m);
void imagenet_resnet_describe(char *buf, size_t size, const struct model_spec *s);
/* Its parts, for tests and other families: a BasicBlock (or Bottleneck v1.5) named `name`
 * ("layer2.0") on tensor x, with a type-B shortcut where the shape changes; the stem. */
int imagenet_resnet_block(struct model *m, const char *name, int x, int planes, int stride,
                          bool bottleneck);
int imagenet_resnet_stem(struct model *m, int x, int c, enum model_stem stem);
int vgg_check(const struct model_spec *s, struct rv_error *err);
void vgg_build(struct model *m);
/* Its parts: five groups of convs[g] 3×3 convs of channels[g] (with BN or not), each group
 * ending in a ceil-mode 2×2/2 max-pool; the classifier (POOL or TORCHVISION with `hidden`
 * units, TORCHVISION's being 4096). */
int vgg_features(struct model *m, int x, const int convs[5], const int channels[5],
                 enum model_norm norm);
int vgg_classifier(struct model *m, int x, enum model_head head, int hidden, int classes);
void vgg_describe(char *buf, size_t size, const struct model_spec *s);
/* srresnet (×2) and srresnet_x1 (scale 1, the denoiser: the same body without the up-block)
 * share the check and the description. */
int srresnet_check(const struct model_spec *s, struct rv_error *err);
void srresnet_build(struct model *m);
void srresnet_x1_build(struct model *m);
void srresnet_describe(char *buf, size_t size, const struct model_spec *s);
/* The generator's spec.classes: its output's size per image, in_c·2·in_h·2·in_w (srresnet) or
 * in_c·in_h·in_w (srresnet_x1). */
int srresnet_classes(const struct model_spec *s);
int mixer_check(const struct model_spec *s, struct rv_error *err);
void mixer_build(struct model *m);
void mixer_describe(char *buf, size_t size, const struct model_spec *s);
/* One Mixer block named `name` ("block0") on x (C, H, W): its LayerNorm unit "<name>.norm2". */
int mixer_block(struct model *m, const char *name, int x, int tokens_mlp, int channels_mlp);

#endif
