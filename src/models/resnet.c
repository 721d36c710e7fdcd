/* The CIFAR ResNet of He et al. 2016 (open_lth's `cifar_resnet_D_W`; WRN by width): a 3×3
 * stem, three segments of n = (depth − 2)/6 basic blocks with 16w, 32w and 64w channels (the
 * first block of segments 2 and 3 halves the size), global average pool, linear classifier.
 * Projection shortcuts (1×1 conv + BN) where the shape changes.
 *
 * The list is in the order the engine has always run it, so every existing config gives the
 * same bits: parameters (stem, then per block conv1, conv2, shortcut: conv, γ, β each; then the
 * output layer), units and running statistics in that order (tests/test_bits.c). */
#include <stdio.h>

#include "models.h"

int resnet_check(const struct model_spec *s, struct rv_error *err)
{
    if (s->depth < 8 || (s->depth - 2) % 6 != 0)
        return rv_fail(err, "model.depth = %d is not 6n+2 (14, 20, 32, 44, 56, 110, …)", s->depth);
    if (model_check_common(s, false, false, false, err))
        return -1;
    if (s->in_h && (s->in_h < 4 || s->in_w < 4))
        return rv_fail(err, "input %dx%dx%d is too small for a CIFAR ResNet (4x4 at least)",
                       s->in_c, s->in_h, s->in_w);
    return 0;
}

void resnet_describe(char *buf, size_t size, const struct model_spec *s)
{
    snprintf(buf, size, "ResNet-%d width %d", s->depth, s->width);
}

void resnet_build(struct model *m)
{
    const struct model_spec *s = &m->spec;
    int per_segment = (s->depth - 2) / 6;
    int x = model_add_conv_bn(m, "stem", 0, 16 * s->width, 3, 1, true, false);
    for (int seg = 0; seg < 3; seg++) {
        int out_c = (16 << seg) * s->width;
        for (int b = 0; b < per_segment; b++) {
            int stride = (seg > 0 && b == 0) ? 2 : 1;
            char name[48];
            snprintf(name, sizeof name, "seg%d.block%d.conv1", seg + 1, b);
            int y = model_add_conv_bn(m, name, x, out_c, 3, stride, true, false);
            snprintf(name, sizeof name, "seg%d.block%d.conv2", seg + 1, b);
            y = model_add_conv_bn(m, name, y, out_c, 3, 1, false, false);
            int skip = x;
            if (stride != 1 || m->tensors[x].c != out_c) {
                snprintf(name, sizeof name, "seg%d.block%d.shortcut", seg + 1, b);
                skip = model_add_conv_bn(m, name, x, out_c, 1, stride, false, true);
            }
            snprintf(name, sizeof name, "seg%d.block%d", seg + 1, b);
            x = model_add_add(m, name, y, skip, true);
        }
    }
    x = model_add_avgpool(m, "pool", x);
    model_add_linear(m, "output", x, s->classes, PARAM_OUTPUT_W, PARAM_OUTPUT_B);
}
