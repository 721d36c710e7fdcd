/* pipeline style-judge CONFIG IMAGE.png [--set section.key=value]... [--judge-seed N]
 * [--format text|json]: how close a result of `pipeline style` is to its target, by judges the
 * optimization did not use (issue 23):
 *   gram_distance     the Gram distance Σ_taps mean_ij (G − A)² (style_loss.h's style loss with
 *                     weight 1, no SWAG) under the judge network: a random VGG-19-BN (Kaiming
 *                     weights, BatchNorm at its initial statistics) drawn from --judge-seed,
 *                     not from the run's seed, on Gatys et al.'s taps conv1_1 … conv5_1
 *                     (group1.conv1 … group5.conv1); per tap as well
 *   content_distance  transfer mode: the judge's content loss (weight 1) on conv4_2
 *                     (group4.conv2) against the content image, so trade-offs compare at matched
 *                     content
 *   spectrum_distance image_spectrum_distance of the radially averaged power spectra (image.h),
 *                     min(h, w)/2 bins, of the gray target and result
 *   w1_gray           image_w1_gray of their gray levels, 256 levels
 * The target is the style image as CONFIG (and its --set values) prepares it for the run
 * (style.downsample, style.crop); IMAGE must have its size. The judge takes CONFIG's [style]
 * images, channels and normalization and replaces everything that chooses the network. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "style_task.h"

/* The judge network: one place. Applied after CONFIG and its --set values. */
static const char *const judge_keys[] = {
    "model.arch=vgg", "model.depth=19", "model.width=1", "model.skip=true", "model.stem=auto",
    "model.norm=batchnorm", "model.head=auto", "style.checkpoint=\"\"", "style.init=kaiming",
    "style.swag=none", "style.swag_taps=\"\"",
    "style.style_taps=\"group1.conv1, group2.conv1, group3.conv1, group4.conv1, group5.conv1\"",
    "style.content_taps=\"group4.conv2\"", "style.style_weight=1", "style.content_weight=1",
};
#define JUDGE_SEED_DEFAULT 1000

static const char *const formats[] = {"text", "json", NULL};
static const struct cli_option opt_format = {
    "--format", "text|json", CLI_CHOICE, .choices = formats,
    .help = "json: {config, image, judge, judge_seed, gram_distance, taps, content_distance, "
            "spectrum_bins, spectrum_distance, w1_levels, w1_gray}"};
static const struct cli_option opt_judge_seed = {"--judge-seed", "N", CLI_LONG, 0, 2147483647,
    .valid = "a seed from 0 to 2147483647",
    .help = "the judge VGG's random weights (default 1000: none of the runs' seeds)"};
static const struct cli_option *const judge_options[] = {&cli_set, &opt_judge_seed, &opt_format, NULL};

struct judgement {
    double gram, content, spectrum, w1;
    int bins;
};

/* The spectral and gray-level judges of result against target (both s->c channels, gray
 * taken as the reader does). */
static void image_judges(struct judgement *j, const struct image *target, const struct image *result)
{
    struct image ga = {0}, gb = {0};
    const struct image *a = target, *b = result;
    if (target->c != 1) {
        image_convert(&ga, target, 1);
        image_convert(&gb, result, 1);
        a = &ga;
        b = &gb;
    }
    int h = a->h, w = a->w;
    j->bins = (h < w ? h : w) / 2 > 0 ? (h < w ? h : w) / 2 : 1;
    double *pa = rv_malloc(sizeof(double) * 2 * (size_t)j->bins), *pb = pa + j->bins;
    image_radial_spectrum(pa, j->bins, a->v, h, w);
    image_radial_spectrum(pb, j->bins, b->v, h, w);
    j->spectrum = image_spectrum_distance(pa, pb, j->bins);
    j->w1 = image_w1_gray(a->v, (size_t)h * w, b->v, (size_t)h * w, 256);
    free(pa);
    image_free(&ga);
    image_free(&gb);
}

static int command_style_judge(const struct cli_args *a)
{
    struct rv_error err = {{0}};
    struct config cfg;
    struct style_setup s;
    struct image result = {0};
    memset(&s, 0, sizeof s);
    const char *path = a->operand[1];
    long seed = (long)cli_number(a, &opt_judge_seed, JUDGE_SEED_DEFAULT);
    char seed_key[48];
    snprintf(seed_key, sizeof seed_key, "run.seed=%ld", seed);
    int rc = style_load_config(&cfg, a, &err);
    for (size_t i = 0; rc == 0 && i < sizeof judge_keys / sizeof judge_keys[0]; i++)
        rc = config_set(&cfg, judge_keys[i], &err);
    if (rc == 0)
        rc = config_set(&cfg, seed_key, &err) || config_validate(&cfg, &err) ? -1 : 0;
    if (rc == 0)
        rc = style_setup_open(&s, &cfg, &err);
    if (rc == 0 && image_read_png(&result, path, s.c, &err) == 0 &&
        (result.h != s.h || result.w != s.w))
        rc = rv_fail(&err, "%s is %dx%d, the target %s is %dx%d after style.downsample and "
                     "style.crop; judge the result of this config (or set the same keys)",
                     path, result.w, result.h, cfg.style_image, s.w, s.h);
    else if (rc == 0 && result.v == NULL)
        rc = -1;
    if (rc) {
        fprintf(stderr, "pipeline: style-judge: %s\n", err.msg);
        image_free(&result);
        style_setup_close(&s);
        return 1;
    }
    size_t n = (size_t)s.c * s.h * s.w;
    float *x = rv_malloc(n * sizeof(float));
    style_normalize_image(&s, x, result.v);
    style_evaluate(&s, x, NULL);
    free(x);
    struct judgement j = {0};
    for (int i = 0; i < s.nterms; i++) {
        j.gram += s.term[i].parts[0];
        j.content += s.term[i].parts[1];
    }
    image_judges(&j, &s.style, &result);
    bool transfer = cfg.style_mode == STYLE_TRANSFER;
    if (cli_number(a, &opt_format, 0) == 1) {
        struct json_object o = json_begin(stdout);
        json_put_string(&o, "command", "style-judge");
        json_put_string(&o, "config", a->operand[0]);
        json_put_string(&o, "image", path);
        json_put_string(&o, "target", cfg.style_image);
        json_put_string(&o, "judge", s.describe);
        json_put_int(&o, "judge_seed", seed);
        json_put_number(&o, "gram_distance", j.gram);
        json_key(&o, "taps");
        struct json_object taps = json_begin(stdout);
        for (int i = 0; i < s.nterms; i++)
            if (s.has_style[i])
                json_put_number(&taps, s.tap_name[i], s.term[i].parts[0]);
        json_end(&taps);
        json_put_number(&o, "content_distance", transfer ? j.content : NAN); /* null: no content */
        json_put_int(&o, "spectrum_bins", j.bins);
        json_put_number(&o, "spectrum_distance", j.spectrum);
        json_put_int(&o, "w1_levels", 256);
        json_put_number(&o, "w1_gray", j.w1);
        json_end(&o);
        printf("\n");
    } else {
        printf("%s against %s (%dx%dx%d), judge %s\n", path, cfg.style_image, s.c, s.h, s.w, s.describe);
        printf("  %-28s %.6g\n", "Gram distance", j.gram);
        for (int i = 0; i < s.nterms; i++)
            if (s.has_style[i])
                printf("    %-26s %.6g\n", s.tap_name[i], s.term[i].parts[0]);
        if (transfer)
            printf("  %-28s %.6g (to %s)\n", "content distance", j.content, cfg.content_image);
        printf("  %-28s %.6f (decades, %d bins)\n", "radial power spectrum distance", j.spectrum, j.bins);
        printf("  %-28s %.6f (256 levels)\n", "gray-level W1", j.w1);
    }
    image_free(&result);
    style_setup_close(&s);
    return 0;
}

const struct cli_command style_judge_command = {
    "style-judge", "CONFIG IMAGE.png", 2, 2,
    "a style config and a result: pipeline style-judge configs/style-texture.ini runs/style-texture/style.png",
    judge_options, "judges of a style result the optimization did not use: Gram distance under a "
    "separately seeded random VGG-19, power spectrum distance, gray-level W1 (content distance "
    "for transfer)", .main = command_style_judge};
