/* pipeline params (include/params.h). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "models.h"
#include "params.h"

static int parse_int(const char *v, int *out)
{
    char tail;
    return sscanf(v, "%d%c", out, &tail) == 1;
}

/* Depth when --depth is left out: the family's usual first network. */
static int default_depth(enum arch_kind a)
{
    return a == ARCH_IMAGENET_RESNET ? 18 : a == ARCH_VGG ? 16 : 20;
}

static void row(const char *name, size_t n, size_t total)
{
    printf("  %-10s %12zu  %6.2f%%\n", name, n, 100.0 * (double)n / (double)total);
}

int params_main(int argc, char **argv)
{
    struct model_spec s = {.arch = ARCH_RESNET, .width = 1, .in_c = 3, .in_h = 32, .in_w = 32,
                           .classes = 10};
    for (int i = 0; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "pipeline params: %s needs a value; see pipeline --help\n", a);
            return 2;
        }
        int ok = 1, k;
        char tail;
        if (strcmp(a, "--arch") == 0)
            ok = (k = CHOICE_INDEX(arch_names, v)) >= 0 && ((s.arch = (enum arch_kind)k), 1);
        else if (strcmp(a, "--stem") == 0)
            ok = (k = CHOICE_INDEX(stem_names, v)) >= 0 && ((s.stem = (enum model_stem)k), 1);
        else if (strcmp(a, "--norm") == 0)
            ok = (k = CHOICE_INDEX(norm_names, v)) >= 0 && ((s.norm = (enum model_norm)k), 1);
        else if (strcmp(a, "--head") == 0)
            ok = (k = CHOICE_INDEX(head_names, v)) >= 0 && ((s.head = (enum model_head)k), 1);
        else if (strcmp(a, "--depth") == 0)
            ok = parse_int(v, &s.depth);
        else if (strcmp(a, "--width") == 0)
            ok = parse_int(v, &s.width);
        else if (strcmp(a, "--input") == 0)
            ok = sscanf(v, "%dx%dx%d%c", &s.in_c, &s.in_h, &s.in_w, &tail) == 3;
        else if (strcmp(a, "--classes") == 0)
            ok = parse_int(v, &s.classes);
        else {
            fprintf(stderr, "pipeline params: unknown option %s; options: --arch --depth --width "
                    "--input --classes --stem --norm --head\n", a);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "pipeline params: bad value '%s' for %s (e.g. --input 3x32x32, --arch "
                    "resnet|imagenet_resnet|vgg, --stem auto|imagenet|cifar, --norm "
                    "batchnorm|none, --head auto|pool|torchvision)\n", v, a);
            return 2;
        }
    }
    if (!s.depth)
        s.depth = default_depth(s.arch);
    if (s.width < 1 || s.width > 64 || s.depth < 1 || s.depth > 866 || s.in_c < 1 || s.in_c > 3 ||
        s.in_h < 1 || s.in_h > 1024 || s.in_w < 1 || s.in_w > 1024 || s.classes < 2 ||
        s.classes > 100000) {
        fprintf(stderr, "pipeline params: out of range (depth up to 866, width 1..64, input up to "
                "3x1024x1024, classes 2..100000)\n");
        return 2;
    }
    struct model m;
    struct rv_error err;
    if (model_build(&m, &s, -1, 1, &err)) { /* -1: count only, allocate no parameter blocks */
        fprintf(stderr, "pipeline params: %s\n", err.msg);
        return 2;
    }
    struct param_counts c = model_count(&m);
    char what[96];
    model_families[s.arch].describe(what, sizeof what, &s);
    printf("%s, input %dx%dx%d, %d classes\n", what, s.in_c, s.in_h, s.in_w, s.classes);
    row("total", c.total, c.total);
    row("batchnorm", c.bn, c.total);
    row("output", c.output, c.total);
    row("shortcut", c.shortcut, c.total);
    row("conv", c.conv, c.total);
    if (c.dense)
        row("dense", c.dense, c.total);
    if (c.conv_bias)
        row("conv_bias", c.conv_bias, c.total);
    model_free(&m);
    return 0;
}
