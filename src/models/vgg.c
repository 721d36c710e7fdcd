/* VGG-11/13/16/19 (Simonyan and Zisserman 2015; torchvision's vgg.py, configurations A, B, D,
 * E): groups of 3×3 convs, each followed by BN + ReLU (or ReLU alone, model.norm = none), a
 * 2×2/2 max-pool after each group, then the classifier. Channels 64·w, 128·w, 256·w, 512·w,
 * 512·w (model.width). The convs have biases, as torchvision's (also before a BN, where they
 * change nothing but the count).
 *
 * Small inputs: the pools run in ceil mode (PyTorch's MaxPool2d(2, 2, ceil_mode=True)), so a
 * 28×28 image goes 28 → 14 → 7 → 4 → 2 → 1 through five pools instead of vanishing; on even
 * sizes (224 → 7) ceil mode changes nothing. The classifier (model.head): POOL, global average
 * pool and one linear layer; TORCHVISION, torchvision's flatten of the 512·7·7 features and
 * linear 4096, ReLU, 4096, ReLU, classes (no dropout: revive's steps are deterministic, and
 * dropout is the identity at evaluation). AUTO takes TORCHVISION where the features end at
 * 7×7 (a 224×224 input), else POOL. */
#include <stdio.h>

#include "models.h"

/* Convs per group. */
static const struct {
    int depth, convs[5];
} table[] = {
    {11, {1, 1, 2, 2, 2}}, {13, {2, 2, 2, 2, 2}}, {16, {2, 2, 3, 3, 3}}, {19, {2, 2, 4, 4, 4}},
};
#define NDEPTHS (int)(sizeof table / sizeof table[0])

static int find(int depth)
{
    for (int i = 0; i < NDEPTHS; i++)
        if (table[i].depth == depth)
            return i;
    return -1;
}

/* Size after n ceil-mode 2×2/2 pools. */
static int pooled(int size, int n)
{
    while (n-- > 0)
        size = (size + 1) / 2;
    return size;
}

static enum model_head head_of(const struct model_spec *s)
{
    if (s->head != HEAD_AUTO)
        return s->head;
    return pooled(s->in_h, 5) == 7 && pooled(s->in_w, 5) == 7 ? HEAD_TORCHVISION : HEAD_POOL;
}

int vgg_check(const struct model_spec *s, struct rv_error *err)
{
    if (find(s->depth) < 0)
        return rv_fail(err, "model.depth = %d is not a VGG depth (11, 13, 16, 19)", s->depth);
    if (model_check_common(s, false, true, true, err))
        return -1;
    if (s->in_h && head_of(s) == HEAD_TORCHVISION &&
        (pooled(s->in_h, 5) != 7 || pooled(s->in_w, 5) != 7))
        return rv_fail(err, "model.head = torchvision needs features of 7x7 (a 224x224 input); "
                       "input %dx%dx%d ends at %dx%d: use model.head = pool", s->in_c, s->in_h,
                       s->in_w, pooled(s->in_h, 5), pooled(s->in_w, 5));
    return 0;
}

void vgg_describe(char *buf, size_t size, const struct model_spec *s)
{
    snprintf(buf, size, "VGG-%d%s width %d, %s head", s->depth, s->norm == NORM_BATCH ? "-BN" : "",
             s->width, head_names[head_of(s)]);
}

int vgg_features(struct model *m, int x, const int convs[5], const int channels[5],
                 enum model_norm norm)
{
    for (int g = 0; g < 5; g++) {
        char name[48], cname[64];
        for (int j = 0; j < convs[g]; j++) {
            snprintf(name, sizeof name, "group%d.conv%d", g + 1, j + 1);
            snprintf(cname, sizeof cname, "%s.conv", name);
            x = model_add_conv(m, cname, x, channels[g], 3, 1, 1, true);
            if (norm == NORM_BATCH)
                x = model_add_bn(m, name, x, true, false);
            else
                x = model_add_relu(m, name, x);
        }
        snprintf(name, sizeof name, "group%d.pool", g + 1);
        x = model_add_maxpool(m, name, x, 2, 2, 0, true);
    }
    return x;
}

int vgg_classifier(struct model *m, int x, enum model_head head, int hidden, int classes)
{
    if (head == HEAD_POOL) {
        x = model_add_avgpool(m, "avgpool", x);
    } else {
        x = model_add_linear(m, "classifier.fc1", x, hidden, PARAM_DENSE_W, PARAM_DENSE_B);
        x = model_add_relu(m, "classifier.relu1", x);
        x = model_add_linear(m, "classifier.fc2", x, hidden, PARAM_DENSE_W, PARAM_DENSE_B);
        x = model_add_relu(m, "classifier.relu2", x);
    }
    return model_add_linear(m, "output", x, classes, PARAM_OUTPUT_W, PARAM_OUTPUT_B);
}

void vgg_build(struct model *m)
{
    const struct model_spec *s = &m->spec;
    int i = find(s->depth), channels[5];
    for (int g = 0; g < 5; g++)
        channels[g] = (g < 3 ? 64 << g : 512) * s->width;
    int x = vgg_features(m, 0, table[i].convs, channels, s->norm);
    vgg_classifier(m, x, head_of(s), 4096, s->classes);
}
