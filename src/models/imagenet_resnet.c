/* The ImageNet ResNets of He et al. 2016 as torchvision builds them (resnet.py): BasicBlock for
 * 18 and 34, Bottleneck v1.5 (the stride on the 3×3) for 50 to 200, type-B shortcuts (1×1 conv
 * + BN only where the shape changes), 64·w stem channels. The stem is torchvision's (7×7/2 conv,
 * BN, ReLU, 3×3/2 max-pool) or, with model.stem = cifar, a 3×3/1 conv, BN, ReLU and no pool,
 * so the network trains on 28×28 images. With model.skip = false every block loses its residual
 * path (the plain network of the same depth and width; Wang et al. 2021's "no-skip" control).
 * Parameter names follow torchvision's modules
 * ("layer2.0.downsample.conv"), so scripts/revive_torch.py maps them one to one. */
#include <stdio.h>

#include "models.h"

static const struct {
    int depth, bottleneck, blocks[4];
} table[] = {
    {18, 0, {2, 2, 2, 2}},  {34, 0, {3, 4, 6, 3}},   {50, 1, {3, 4, 6, 3}},
    {101, 1, {3, 4, 23, 3}}, {152, 1, {3, 8, 36, 3}}, {200, 1, {3, 24, 36, 3}},
};
#define NDEPTHS (int)(sizeof table / sizeof table[0])

static int find(int depth)
{
    for (int i = 0; i < NDEPTHS; i++)
        if (table[i].depth == depth)
            return i;
    return -1;
}

int imagenet_resnet_check(const struct model_spec *s, struct rv_error *err)
{
    if (find(s->depth) < 0)
        return rv_fail(err, "model.depth = %d is not an ImageNet ResNet depth (18, 34, 50, 101, "
                       "152, 200)", s->depth);
    if (model_check_common(s, true, false, false, err))
        return -1;
    int least = s->stem == STEM_CIFAR ? 8 : 32; /* the last stage at 1×1 at least */
    if (s->in_h && (s->in_h < least || s->in_w < least))
        return rv_fail(err, "input %dx%dx%d is too small for an ImageNet ResNet with the %s stem "
                       "(%dx%d at least; model.stem = cifar for small images)", s->in_c, s->in_h,
                       s->in_w, s->stem == STEM_CIFAR ? "cifar" : "imagenet", least, least);
    return 0;
}

void imagenet_resnet_describe(char *buf, size_t size, const struct model_spec *s)
{
    snprintf(buf, size, "ImageNet ResNet-%d width %d, %s stem%s", s->depth, s->width,
             s->stem == STEM_CIFAR ? "cifar" : "imagenet", s->no_skip ? ", no skip connections" : "");
}

int imagenet_resnet_block(struct model *m, const char *name, int x, int planes, int stride,
                          bool bottleneck)
{
    char n[48];
    int out_c = planes * (bottleneck ? 4 : 1), y = x;
    if (bottleneck) {
        snprintf(n, sizeof n, "%s.conv1", name);
        y = model_add_conv_bn(m, n, y, planes, 1, 1, true, false);
        snprintf(n, sizeof n, "%s.conv2", name);
        y = model_add_conv_bn(m, n, y, planes, 3, stride, true, false);
        snprintf(n, sizeof n, "%s.conv3", name);
        y = model_add_conv_bn(m, n, y, out_c, 1, 1, false, false);
    } else {
        snprintf(n, sizeof n, "%s.conv1", name);
        y = model_add_conv_bn(m, n, y, planes, 3, stride, true, false);
        snprintf(n, sizeof n, "%s.conv2", name);
        y = model_add_conv_bn(m, n, y, out_c, 3, 1, false, false);
    }
    /* model.skip = false: the same block without its residual path (no add, no downsample
     * projection), the ReLU the add carried kept as a layer named as the block, so taps name
     * the same block outputs in both networks */
    if (m->spec.no_skip)
        return model_add_relu(m, name, y);
    int skip = x;
    if (stride != 1 || m->tensors[x].c != out_c) {
        snprintf(n, sizeof n, "%s.downsample", name);
        skip = model_add_conv_bn(m, n, x, out_c, 1, stride, false, true);
    }
    return model_add_add(m, name, y, skip, true);
}

int imagenet_resnet_stem(struct model *m, int x, int c, enum model_stem stem)
{
    if (stem == STEM_CIFAR)
        return model_add_conv_bn(m, "stem", x, c, 3, 1, true, false);
    x = model_add_conv(m, "stem.conv", x, c, 7, 2, 3, false);
    x = model_add_bn(m, "stem", x, true, false);
    return model_add_maxpool(m, "maxpool", x, 3, 2, 1, false);
}

void imagenet_resnet_build(struct model *m)
{
    const struct model_spec *s = &m->spec;
    int i = find(s->depth), c = 64 * s->width;
    int x = imagenet_resnet_stem(m, 0, c, s->stem);
    /* torchvision's `_make_layer`: blocks of `planes` (·4 out for a bottleneck), the first
     * strided (but in layer 1) */
    for (int layer = 0; layer < 4; layer++)
        for (int b = 0; b < table[i].blocks[layer]; b++) {
            char name[48];
            snprintf(name, sizeof name, "layer%d.%d", layer + 1, b);
            x = imagenet_resnet_block(m, name, x, c << layer, layer && !b ? 2 : 1,
                                      table[i].bottleneck);
        }
    x = model_add_avgpool(m, "avgpool", x);
    model_add_linear(m, "output", x, s->classes, PARAM_OUTPUT_W, PARAM_OUTPUT_B);
}
