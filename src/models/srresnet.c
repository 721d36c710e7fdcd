/* SRResNet ×2 (Ledig et al. 2017, in the small: ReLU for PReLU, 3×3 for 9×9), an image-to-image
 * network: (C, H, W) → (C, 2H, 2W). A 3×3 conv with bias + ReLU ("head"); model.depth residual
 * blocks of conv-BN-ReLU, conv-BN and an add without ReLU ("block<b>", units "block<b>.conv1",
 * "block<b>.conv2"); a conv-BN ("body") added to the head's output ("body.add"); a 3×3 conv with
 * bias to 4× the channels, PyTorch's PixelShuffle(2) and ReLU ("up.conv", "up.shuffle", "up");
 * a 3×3 conv with bias to C channels ("output"). Channels 32·model.width. At the defaults
 * (depth 3, width 1) on 1×14×14: 18.7 M multiply-adds per image.
 *
 * srresnet_x1, the scale-1 generator of heavy denoising (issue 22's second task): the same
 * head, blocks and body, no up-block, the output conv straight on body.add: (C, H, W) →
 * (C, H, W). At the defaults on 1×28×28: 51.0 M multiply-adds per image (every conv at
 * 28×28).
 * A family of its own, so srresnet's layer list, parameters and checkpoints stay as they were.
 *
 * An image network in struct model: its output is the last layer's, m->logits, read as
 * (n, C, sH, sW), and spec.classes is its size per image, C·sH·sW (model_build checks that the
 * last layer's output has that many values). It has no output linear layer (m->fc_w = −1), so
 * it trains with the losses on images (loss_mse, loss_l1, the perceptual loss of lossnet.h),
 * not with the classification pipeline. */
#include <stdio.h>

#include "models.h"

static int scale(const struct model_spec *s)
{
    return s->arch == ARCH_SRRESNET_X1 ? 1 : 2;
}

int srresnet_classes(const struct model_spec *s)
{
    return s->in_c * scale(s) * s->in_h * scale(s) * s->in_w;
}

int srresnet_check(const struct model_spec *s, struct rv_error *err)
{
    const char *fam = arch_names[s->arch];
    if (s->depth < 0 || s->depth > 64)
        return rv_fail(err, "model.depth = %d: %s takes 0 to 64 residual blocks", s->depth, fam);
    if (model_check_common(s, false, false, false, err))
        return -1;
    if (s->in_h && s->classes != srresnet_classes(s))
        return rv_fail(err, "model.arch = %s is an image-to-image network (%dx%dx%d → "
                       "%dx%dx%d): train it with `pipeline superres`, not as a classifier", fam,
                       s->in_c, s->in_h, s->in_w, s->in_c, scale(s) * s->in_h, scale(s) * s->in_w);
    return 0;
}

void srresnet_describe(char *buf, size_t size, const struct model_spec *s)
{
    snprintf(buf, size, "SRResNet x%d, %d residual blocks of %d channels", scale(s), s->depth,
             32 * s->width);
}

/* head, blocks, body: returns body.add's tensor (c channels, the input's size). */
static int body(struct model *m, int c)
{
    int x = model_add_conv(m, "head.conv", 0, c, 3, 1, 1, true);
    int head = x = model_add_relu(m, "head", x);
    for (int b = 0; b < m->spec.depth; b++) {
        char name[48];
        snprintf(name, sizeof name, "block%d.conv1", b);
        int y = model_add_conv_bn(m, name, x, c, 3, 1, true, false);
        snprintf(name, sizeof name, "block%d.conv2", b);
        y = model_add_conv_bn(m, name, y, c, 3, 1, false, false);
        snprintf(name, sizeof name, "block%d", b);
        x = model_add_add(m, name, y, x, false);
    }
    x = model_add_conv_bn(m, "body", x, c, 3, 1, false, false);
    return model_add_add(m, "body.add", x, head, false);
}

void srresnet_build(struct model *m)
{
    int c = 32 * m->spec.width;
    int x = body(m, c);
    x = model_add_conv(m, "up.conv", x, 4 * c, 3, 1, 1, true);
    x = model_add_pixel_shuffle(m, "up.shuffle", x, 2);
    x = model_add_relu(m, "up", x);
    model_add_conv(m, "output", x, m->spec.in_c, 3, 1, 1, true);
}

void srresnet_x1_build(struct model *m)
{
    int x = body(m, 32 * m->spec.width);
    model_add_conv(m, "output", x, m->spec.in_c, 3, 1, 1, true);
}
