/* pipeline params: the parameter counts of a network, as the paper's source table gives them (total;
 * BatchNorm γ and β, shortcut BNs included; the output layer; the shortcut 1×1 convs' weights; each
 * also as a share of the total), from the model's own parameter table (a count-only build).
 *
 *   pipeline params --arch imagenet_resnet --depth 50 --input 3x224x224 --classes 1000
 *   pipeline params --arch vgg --depth 16 --norm none --input 1x28x28 --classes 10
 *   pipeline params --arch mixer --input 1x28x28        Mixer-pico (the [model] defaults) */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "models.h"
#include "cli.h"

/* Depth when --depth is left out: the family's usual first network. */
static int default_depth(enum arch_kind a)
{
    return a == ARCH_IMAGENET_RESNET ? 18 : a == ARCH_VGG ? 16 : 20;
}

static void row(const char *name, size_t n, size_t total)
{
    printf("  %-10s %12zu  %6.2f%%\n", name, n, 100.0 * (double)n / (double)total);
}

static const struct cli_option opt_arch = {"--arch", "A", CLI_STRING,
    .help = "network family: resnet (CIFAR), imagenet_resnet, vgg or mixer (default resnet)"};
static const struct cli_option opt_depth = {"--depth", "D", CLI_LONG, 1, 866,
    .valid = "a depth such as 20 (resnet), 18 (imagenet_resnet) or 16 (vgg)",
    .help = "layers (default: the family's first network: 20, 18 or 16)"};
static const struct cli_option opt_width = {"--width", "W", CLI_LONG, 1, 64,
    .valid = "a channel multiplier from 1 to 64", .help = "channel multiplier (default 1)"};
static const struct cli_option opt_input = {"--input", "CxHxW", CLI_STRING,
    .help = "input shape (default 3x32x32)"};
static const struct cli_option opt_classes = {"--classes", "K", CLI_LONG, 2, 100000,
    .valid = "a number of classes from 2 to 100000", .help = "output classes (default 10)"};
static const struct cli_option opt_stem = {"--stem", "S", CLI_STRING,
    .help = "imagenet_resnet's stem: auto, imagenet or cifar"};
static const struct cli_option opt_norm = {"--norm", "N", CLI_STRING,
    .help = "vgg's normalization: batchnorm or none"};
static const struct cli_option opt_head = {"--head", "H", CLI_STRING,
    .help = "vgg's classifier: auto, pool or torchvision"};
static const struct cli_option opt_patch = {"--patch", "P", CLI_LONG, 1, 64,
    .valid = "a patch size from 1 to 64", .help = "mixer's patch size (default model.patch's)"};
static const struct cli_option opt_hidden = {"--hidden", "C", CLI_LONG, 1, 4096,
    .valid = "a channel count from 1 to 4096", .help = "mixer's hidden channels (default model.hidden's)"};
static const struct cli_option opt_tokens_mlp = {"--tokens-mlp", "DS", CLI_LONG, 1, 4096,
    .valid = "a width from 1 to 4096", .help = "mixer's token-mixing MLP width (default model.tokens_mlp's)"};
static const struct cli_option opt_channels_mlp = {"--channels-mlp", "DC", CLI_LONG, 1, 16384,
    .valid = "a width from 1 to 16384", .help = "mixer's channel-mixing MLP width (default model.channels_mlp's)"};
static const struct cli_option opt_blocks = {"--blocks", "N", CLI_LONG, 1, 64,
    .valid = "a block count from 1 to 64", .help = "mixer's blocks (default model.blocks's)"};
static const struct cli_option *const params_options[] = {
    &opt_arch, &opt_depth, &opt_width, &opt_input, &opt_classes, &opt_stem, &opt_norm, &opt_head,
    &opt_patch, &opt_hidden, &opt_tokens_mlp, &opt_channels_mlp, &opt_blocks, NULL};

/* The index of the value given for o among names (count of them), or def; -1 after printing the
 * one-line error for a name not among them. */
static int choice(const struct cli_args *a, const struct cli_option *o, const char *const *names,
                  int count, int def)
{
    const char *v = cli_string(a, o, NULL);
    if (!v)
        return def;
    for (int i = 0; i < count; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    fprintf(stderr, "pipeline params: %s '%s' is not one of", o->name, v);
    for (int i = 0; i < count; i++)
        fprintf(stderr, "%s %s", i ? "," : "", names[i]);
    fprintf(stderr, "\n");
    return -1;
}

static int params_run(const struct cli_args *a)
{
    struct model_spec s = {.arch = ARCH_RESNET, .width = 1, .in_c = 3, .in_h = 32, .in_w = 32,
                           .classes = 10};
    int arch = choice(a, &opt_arch, arch_names, ARCH_COUNT, ARCH_RESNET);
    int stem = choice(a, &opt_stem, stem_names, STEM_COUNT, 0);
    int norm = choice(a, &opt_norm, norm_names, NORM_COUNT, 0);
    int head = choice(a, &opt_head, head_names, HEAD_COUNT, 0);
    if (arch < 0 || stem < 0 || norm < 0 || head < 0)
        return CLI_EXIT_USAGE;
    s.arch = (enum arch_kind)arch;
    s.stem = (enum model_stem)stem;
    s.norm = (enum model_norm)norm;
    s.head = (enum model_head)head;
    s.depth = (int)cli_number(a, &opt_depth, 0);
    s.width = (int)cli_number(a, &opt_width, 1);
    s.classes = (int)cli_number(a, &opt_classes, 10);
    struct config d; /* the Mixer's sizes default to the config table's */
    config_defaults(&d);
    s.mixer = (struct model_mixer){
        .patch = (int)cli_number(a, &opt_patch, d.mixer_patch),
        .hidden = (int)cli_number(a, &opt_hidden, d.mixer_hidden),
        .tokens_mlp = (int)cli_number(a, &opt_tokens_mlp, d.mixer_tokens_mlp),
        .channels_mlp = (int)cli_number(a, &opt_channels_mlp, d.mixer_channels_mlp),
        .blocks = (int)cli_number(a, &opt_blocks, d.mixer_blocks)};
    const char *in = cli_string(a, &opt_input, NULL);
    char tail;
    if (in && (sscanf(in, "%dx%dx%d%c", &s.in_c, &s.in_h, &s.in_w, &tail) != 3 || s.in_c < 1 ||
               s.in_c > 3 || s.in_h < 1 || s.in_h > 1024 || s.in_w < 1 || s.in_w > 1024)) {
        fprintf(stderr, "pipeline params: --input '%s' is not CxHxW with 1 to 3 channels and sides up "
                "to 1024, e.g. --input 3x224x224\n", in);
        return CLI_EXIT_USAGE;
    }
    if (!s.depth)
        s.depth = default_depth(s.arch);
    struct model m;
    struct rv_error err;
    if (model_build(&m, &s, -1, 1, &err)) { /* -1: count only, allocate no parameter blocks */
        fprintf(stderr, "pipeline params: %s\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    struct param_counts c = model_count(&m);
    char what[96];
    model_families[s.arch].describe(what, sizeof what, &s);
    printf("%s, input %dx%dx%d, %d classes\n", what, s.in_c, s.in_h, s.in_w, s.classes);
    row("total", c.total, c.total);
    row(s.arch == ARCH_MIXER ? "layernorm" : "batchnorm", c.bn, c.total);
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

const struct cli_command params_command = {
    "params", .options = params_options, .help = "parameter counts of a model, as the paper's table gives them",
    .main = params_run,
};
