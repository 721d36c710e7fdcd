/* The network families: a name (model.arch's choice) and a builder each, in enum arch_kind's
 * order. Adding a family is one file in src/models/ and one line here (include/models.h). */
#include "models.h"

const char *const arch_names[ARCH_COUNT] = {
    [ARCH_RESNET] = "resnet",
    [ARCH_IMAGENET_RESNET] = "imagenet_resnet",
    [ARCH_VGG] = "vgg",
    [ARCH_SRRESNET] = "srresnet",
    [ARCH_MIXER] = "mixer",
    [ARCH_SRRESNET_X1] = "srresnet_x1",
};

const struct model_family model_families[ARCH_COUNT] = {
    [ARCH_RESNET] = {resnet_check, resnet_build, resnet_describe},
    [ARCH_IMAGENET_RESNET] = {imagenet_resnet_check, imagenet_resnet_build, imagenet_resnet_describe},
    [ARCH_VGG] = {vgg_check, vgg_build, vgg_describe},
    [ARCH_SRRESNET] = {srresnet_check, srresnet_build, srresnet_describe},
    [ARCH_MIXER] = {mixer_check, mixer_build, mixer_describe},
    [ARCH_SRRESNET_X1] = {srresnet_check, srresnet_x1_build, srresnet_describe},
};

const char *const stem_names[STEM_COUNT] = {
    [STEM_AUTO] = "auto", [STEM_IMAGENET] = "imagenet", [STEM_CIFAR] = "cifar"};
const char *const norm_names[NORM_COUNT] = {[NORM_BATCH] = "batchnorm", [NORM_NONE] = "none"};
const char *const head_names[HEAD_COUNT] = {
    [HEAD_AUTO] = "auto", [HEAD_POOL] = "pool", [HEAD_TORCHVISION] = "torchvision"};

/* Keys that only some families read must keep their defaults elsewhere, so a config says what
 * it builds. */
int model_check_common(const struct model_spec *s, bool stem, bool norm, bool head,
                       struct rv_error *err)
{
    const char *fam = arch_names[s->arch];
    if (s->width < 1)
        return rv_fail(err, "model.width = %d must be at least 1", s->width);
    if (!stem && s->stem != STEM_AUTO)
        return rv_fail(err, "model.stem = %s is for imagenet_resnet; model.arch = %s takes its own "
                       "(set model.stem = auto)", stem_names[s->stem], fam);
    if (!norm && s->norm != NORM_BATCH)
        return rv_fail(err, "model.norm = %s is for vgg; model.arch = %s needs batchnorm",
                       norm_names[s->norm], fam);
    if (s->no_skip && s->arch != ARCH_IMAGENET_RESNET)
        return rv_fail(err, "model.skip = false is for imagenet_resnet; model.arch = %s keeps its "
                       "own (set model.skip = true)", fam);
    if (!head && s->head != HEAD_AUTO)
        return rv_fail(err, "model.head = %s is for vgg; model.arch = %s has its own (set "
                       "model.head = auto)", head_names[s->head], fam);
    return 0;
}

int model_check_spec(const struct model_spec *s, struct rv_error *err)
{
    if ((int)s->arch < 0 || s->arch >= ARCH_COUNT)
        return rv_fail(err, "model.arch %d is not a network family", (int)s->arch);
    return model_families[s->arch].check(s, err);
}
