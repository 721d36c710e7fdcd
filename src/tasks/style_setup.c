/* The shared set-up of `pipeline style` and `pipeline style-stats` (include/style_task.h): the
 * images as the [style] keys prepare them, the frozen network (random, or a checkpoint's weights)
 * with its taps, and one style term per tap with its targets. */
#include <cblas.h>
#include <ctype.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "lossnet.h"
#include "models.h"
#include "style_task.h"

/* torchvision's ImageNet normalization; a gray network takes the means of the three */
static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

int style_split_names(char names[][48], int max, const char *list, const char *key,
                      struct rv_error *err)
{
    int n = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t len = (size_t)(e - p);
        while (len && isspace((unsigned char)p[len - 1]))
            len--;
        if (n == max)
            return rv_fail(err, "%s: more than %d layer names in \"%s\"", key, max, list);
        if (len >= 48)
            return rv_fail(err, "%s: layer name \"%.*s\" is too long", key, (int)len, p);
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        n++;
        p = e;
    }
    return n;
}

/* Mean over k×k blocks (the bottom and right remainders dropped), then the central crop. */
static void prepare(struct image *im, int k, int crop)
{
    if (k > 1) {
        struct image d;
        image_alloc(&d, im->c, im->h / k, im->w / k);
        for (int c = 0; c < d.c; c++)
            for (int y = 0; y < d.h; y++)
                for (int x = 0; x < d.w; x++) {
                    double s = 0.0;
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j < k; j++)
                            s += im->v[((size_t)c * im->h + y * k + i) * im->w + x * k + j];
                    d.v[((size_t)c * d.h + y) * d.w + x] = (float)(s / (k * k));
                }
        image_free(im);
        *im = d;
    }
    if (crop > 0 && (crop < im->h || crop < im->w)) {
        int ch = crop < im->h ? crop : im->h, cw = crop < im->w ? crop : im->w;
        int y0 = (im->h - ch) / 2, x0 = (im->w - cw) / 2;
        struct image d;
        image_alloc(&d, im->c, ch, cw);
        for (int c = 0; c < d.c; c++)
            for (int y = 0; y < ch; y++)
                memcpy(d.v + ((size_t)c * ch + y) * cw, im->v + ((size_t)c * im->h + y0 + y) * im->w + x0,
                       (size_t)cw * sizeof(float));
        image_free(im);
        *im = d;
    }
}

static int read_image(struct image *im, const char *path, const char *key, int c,
                      const struct config *cfg, struct rv_error *err)
{
    if (!path[0])
        return rv_fail(err, "style.%s is empty: set it to a PNG file (e.g. "
                       "/usr/lib/python3/dist-packages/skimage/data/brick.png)", key);
    struct rv_error e;
    if (image_read_png(im, path, c, &e))
        return rv_fail(err, "style.%s: %s", key, e.msg);
    int k = cfg->style_downsample;
    if (im->h / k < 1 || im->w / k < 1)
        return rv_fail(err, "style.%s: %s is %dx%d, smaller than style.downsample = %d", key, path,
                       im->h, im->w, k);
    prepare(im, k, cfg->style_crop);
    return 0;
}

/* The input shape and classes of a checkpoint's network, from its data set (as run_open gets
 * them: Fashion-MNIST 1x28x28, CIFAR-10 3x32x32, synthetic from its keys). */
static void data_shape(const struct config *c, int *in_c, int *classes)
{
    *in_c = c->dataset == DATASET_CIFAR10 ? 3 : c->dataset == DATASET_SYNTHETIC ? c->synthetic_channels : 1;
    *classes = c->dataset == DATASET_SYNTHETIC ? c->synthetic_classes : 10;
}

static int find_name(char names[][48], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* The network: the [model] keys (random: style.init's scheme from lossnet.h) or the checkpoint's
 * config (trained), built for s->c × h × w with the taps, initialized or loaded, frozen. The
 * features are convolutional, so a 28×28 classifier reads a 128×128 texture. */
static int open_network(struct style_setup *s, const char *const *taps, int ntaps,
                        struct rv_error *err)
{
    const struct config *cfg = s->cfg;
    struct config ck;
    const struct config *mc = cfg;
    int classes = 10;
    bool trained = cfg->style_checkpoint[0] != '\0';
    struct ck_input_norm ck_norm = {0};
    if (trained) {
        struct rv_error e;
        if (checkpoint_read_config(&ck, cfg->style_checkpoint, &e))
            return rv_fail(err, "style.checkpoint: %s", e.msg);
        mc = &ck;
        data_shape(&ck, &s->c, &classes);
    }
    struct rv_error e;
    if (lossnet_check_arch(mc->arch, "model.arch", &e))
        return trained ? rv_fail(err, "style.checkpoint = %s: its %s", cfg->style_checkpoint, e.msg)
                       : rv_fail(err, "%s", e.msg);
    struct model_spec spec = {
        .arch = mc->arch, .stem = mc->stem, .norm = mc->norm, .head = mc->head,
        .depth = mc->depth, .width = mc->width, .in_c = s->c, .in_h = s->h, .in_w = s->w,
        .classes = classes, .gamma_one = trained && mc->gamma_init == GAMMA_INIT_ONE,
        .no_skip = !mc->skip,
        .input_grad = true, .taps = taps, .ntaps = ntaps, .conv_algo = cfg->conv_algo,
    };
    int threads = cfg->threads > 0 ? cfg->threads : omp_get_max_threads();
    omp_set_num_threads(threads);
    openblas_set_num_threads(1);
    model_families[spec.arch].describe(s->describe, sizeof s->describe, &spec);
    /* the table alone first, to name the key of a tap that is not a layer */
    struct model_spec probe_spec = spec;
    probe_spec.taps = NULL;
    probe_spec.ntaps = 0;
    struct model probe;
    if (model_build(&probe, &probe_spec, -1, 1, &e))
        return rv_fail(err, "%s%s", trained ? "style.checkpoint: " : "", e.msg);
    for (int i = 0; i < ntaps; i++)
        if (model_find_layer(&probe, taps[i]) < 0) {
            model_free(&probe);
            return rv_fail(err, "style.%s: '%s' is not a layer of this %s (layer names as "
                           "src/models/ gives them, e.g. layer3.1)", s->has_style[i] ? "style_taps" : "content_taps",
                           taps[i], s->describe[0] ? s->describe : "network");
        }
    model_free(&probe);
    if (model_build(&s->m, &spec, 1, threads, &e))
        return rv_fail(err, "%s%s", trained ? "style.checkpoint: " : "", e.msg);
    if (trained) {
        if (checkpoint_load_model(&s->m, cfg->style_checkpoint, &ck_norm, &e))
            return rv_fail(err, "style.checkpoint: %s", e.msg);
        size_t used = strlen(s->describe);
        snprintf(s->describe + used, sizeof s->describe - used, ", weights of %s", cfg->style_checkpoint);
    } else {
        /* lossnet.h's schemes: one place for a frozen network's random weights (γ 1, β 0,
         * running mean 0 and variance 1) */
        lossnet_init_weights(&s->m, cfg->style_init, cfg->style_init_scale, (uint64_t)cfg->seed);
        size_t used = strlen(s->describe);
        snprintf(s->describe + used, sizeof s->describe - used, ", random %s weights (seed %d)",
                 lossnet_init_names[cfg->style_init], cfg->seed);
    }
    memset(s->m.mask, 0, s->m.total * sizeof(float));
    model_mask_changed(&s->m);
    for (int k = 0; k < s->c; k++) {
        switch (cfg->style_normalize) {
        case STYLE_NORMALIZE_IMAGENET:
            s->mean[k] = s->c == 3 ? imagenet_mean[k] : (imagenet_mean[0] + imagenet_mean[1] + imagenet_mean[2]) / 3;
            s->std[k] = s->c == 3 ? imagenet_std[k] : (imagenet_std[0] + imagenet_std[1] + imagenet_std[2]) / 3;
            break;
        case STYLE_NORMALIZE_DATA:
            if (!trained || ck_norm.c == 0)
                return rv_fail(err, "style.normalize = data needs a style.checkpoint that stores its "
                               "input normalization (/model/input_mean); use imagenet or none");
            s->mean[k] = ck_norm.mean[k];
            s->std[k] = ck_norm.std[k];
            break;
        case STYLE_NORMALIZE_NONE:
        case STYLE_NORMALIZE_COUNT:
            s->mean[k] = 0.0f;
            s->std[k] = 1.0f;
            break;
        }
    }
    return 0;
}

void style_normalize_image(const struct style_setup *s, float *x, const float *pixels)
{
    size_t hw = (size_t)s->h * s->w;
    for (int c = 0; c < s->c; c++)
        for (size_t i = 0; i < hw; i++)
            x[c * hw + i] = (pixels[c * hw + i] - s->mean[c]) / s->std[c];
}

void style_pixels(const struct style_setup *s, float *pixels, const float *x)
{
    size_t hw = (size_t)s->h * s->w;
    for (int c = 0; c < s->c; c++)
        for (size_t i = 0; i < hw; i++) {
            float p = x[c * hw + i] * s->std[c] + s->mean[c];
            pixels[c * hw + i] = p < 0.0f ? 0.0f : p > 1.0f ? 1.0f : p;
        }
}

static void forward(struct style_setup *s, const struct image *im)
{
    float *x = rv_malloc((size_t)s->c * s->h * s->w * sizeof(float));
    style_normalize_image(s, x, im->v);
    model_forward(&s->m, x, 1, false, NULL);
    s->m.x = NULL; /* x goes now; nothing reads it before the next forward */
    free(x);
}

int style_setup_open(struct style_setup *s, const struct config *cfg, struct rv_error *err)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    bool transfer = cfg->style_mode == STYLE_TRANSFER;
    char style_names[STYLE_MAX_TAPS][48], content_names[STYLE_MAX_TAPS][48], swag_names_[STYLE_MAX_TAPS][48];
    int ns = style_split_names(style_names, STYLE_MAX_TAPS, cfg->style_taps, "style.style_taps", err);
    int nc = transfer ? style_split_names(content_names, STYLE_MAX_TAPS, cfg->content_taps,
                                          "style.content_taps", err) : 0;
    int nw = style_split_names(swag_names_, STYLE_MAX_TAPS, cfg->swag_taps, "style.swag_taps", err);
    if (ns < 0 || nc < 0 || nw < 0)
        return -1;
    if (ns == 0)
        return rv_fail(err, "style.style_taps is empty: name the layers whose Gram matrices to "
                       "match (e.g. \"stem, layer1.1, layer2.1\")");
    if (transfer && nc == 0)
        return rv_fail(err, "style.content_taps is empty: name a layer for the content loss "
                       "(e.g. \"layer3.1\") or set style.mode = texture");
    /* the taps: the style taps, then the content taps not among them */
    for (int i = 0; i < ns + nc; i++) {
        const char *name = i < ns ? style_names[i] : content_names[i - ns];
        int at = find_name(s->tap_name, s->nterms, name);
        if (at < 0) {
            if (s->nterms == STYLE_MAX_TAPS)
                return rv_fail(err, "style: more than %d taps in style_taps and content_taps",
                               STYLE_MAX_TAPS);
            at = s->nterms++;
            snprintf(s->tap_name[at], sizeof s->tap_name[at], "%.47s", name);
        }
        if (i < ns)
            s->has_style[at] = true;
        else
            s->has_content[at] = true;
    }
    for (int i = 0; i < nw; i++)
        if (find_name(s->tap_name, s->nterms, swag_names_[i]) < 0)
            return rv_fail(err, "style.swag_taps: '%s' is not one of style_taps%s", swag_names_[i],
                           transfer ? " or content_taps" : "");

    /* the images, as the network's channels: a checkpoint's, or style.channels */
    s->c = cfg->style_channels;
    if (cfg->style_checkpoint[0]) {
        struct config ck;
        int classes;
        struct rv_error e;
        if (checkpoint_read_config(&ck, cfg->style_checkpoint, &e))
            return rv_fail(err, "style.checkpoint: %s", e.msg);
        data_shape(&ck, &s->c, &classes);
    }
    if (read_image(&s->style, cfg->style_image, "style_image", s->c, cfg, err))
        return -1;
    if (transfer) {
        if (read_image(&s->content, cfg->content_image, "content_image", s->c, cfg, err))
            return -1;
        if (s->content.h != s->style.h || s->content.w != s->style.w)
            return rv_fail(err, "style: style_image is %dx%d (width x height) and content_image "
                           "%dx%d after style.downsample and style.crop; they must match (set "
                           "style.crop)", s->style.w, s->style.h, s->content.w, s->content.h);
    }
    s->h = s->style.h;
    s->w = s->style.w;

    const char *taps[STYLE_MAX_TAPS];
    for (int i = 0; i < s->nterms; i++)
        taps[i] = s->tap_name[i];
    if (open_network(s, taps, s->nterms, err))
        return -1;
    for (int i = 0; i < s->nterms; i++) {
        bool swag = find_name(swag_names_, nw, s->tap_name[i]) >= 0;
        struct rv_error e;
        if (style_term_init(&s->term[i], &s->m, s->tap_name[i], swag ? cfg->swag : SWAG_NONE,
                            (float)cfg->swag_alpha, &e))
            return rv_fail(err, "style.%s: %s", s->has_style[i] ? "style_taps" : "content_taps", e.msg);
        s->term[i].style_weight = s->has_style[i] ? cfg->style_weight : 0.0;
        s->term[i].content_weight = s->has_content[i] ? cfg->content_weight : 0.0;
        loss_style(&s->loss[i], &s->term[i]);
    }
    /* the targets */
    forward(s, &s->style);
    for (int i = 0; i < s->nterms; i++)
        if (s->has_style[i])
            style_term_capture_gram(&s->term[i], &s->m);
    if (transfer) {
        forward(s, &s->content);
        for (int i = 0; i < s->nterms; i++)
            if (s->has_content[i])
                style_term_capture_content(&s->term[i], &s->m, 1);
    }
    return 0;
}

void style_setup_close(struct style_setup *s)
{
    for (int i = 0; i < s->nterms; i++)
        style_term_free(&s->term[i]);
    if (s->m.params)
        model_free(&s->m);
    image_free(&s->style);
    image_free(&s->content);
}

double style_evaluate(struct style_setup *s, const float *x, float *grad)
{
    struct model *m = &s->m;
    model_zero_grad(m);
    memset(m->d_logits, 0, (size_t)m->spec.classes * sizeof(float));
    model_forward(m, x, 1, false, NULL);
    double loss = 0.0;
    for (int i = 0; i < s->nterms; i++)
        loss += s->loss[i].apply(&s->loss[i], m, 1, 1, &s->term[i]);
    if (grad) {
        model_backward(m, 1, NULL);
        memcpy(grad, m->d_x, (size_t)s->c * s->h * s->w * sizeof(float));
    }
    s->evaluations++;
    return loss;
}

int style_load_config(struct config *cfg, const struct cli_args *a, struct rv_error *err)
{
    config_defaults(cfg);
    if (config_load(cfg, a->operand[0], err))
        return -1;
    for (int i = 0; i < a->ngiven; i++)
        if (a->given[i].opt == &cli_set && config_set(cfg, a->given[i].text, err))
            return -1;
    return config_validate(cfg, err);
}

int style_out_dir(char *dir, size_t size, const struct config *cfg, const struct cli_args *a,
                  struct rv_error *err)
{
    const char *out = cli_string(a, &cli_out, NULL);
    int n = out ? snprintf(dir, size, "%s", out)
                : snprintf(dir, size, "%s/%s", cfg->out_dir, cfg->name);
    if (n < 0 || (size_t)n >= size)
        return rv_fail(err, "style: the output directory %s/%s is too long", cfg->out_dir, cfg->name);
    return make_dirs(dir, err);
}

int style_command_open(struct config *cfg, struct style_setup *s, char *dir, size_t size,
                       const struct cli_args *a)
{
    struct rv_error err = {{0}};
    memset(s, 0, sizeof *s);
    if (style_load_config(cfg, a, &err) || style_setup_open(s, cfg, &err) ||
        style_out_dir(dir, size, cfg, a, &err)) {
        fprintf(stderr, "pipeline: %s\n", err.msg);
        style_setup_close(s);
        return -1;
    }
    return 0;
}
