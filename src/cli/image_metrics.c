/* pipeline image-metrics A.png B.png [--format text|json] [--win W] [--cutoff F] [--bins N]
 * [--levels L]: how far image B is from image A (include/image.h's measurements).
 *
 * Both are read as RGB when both have colour, else as gray (rgb2gray's weights). PSNR is over
 * every value, SSIM the mean over the channels (as skimage's channel_axis gives it), both with
 * data range 1; the spectral measures and the gray-level W1 are on the gray images. PSNR of equal
 * images is infinite: "inf" in text, null in JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image.h"
#include "json.h"

static const char *const formats[] = {"text", "json", NULL};
static const struct cli_option opt_format = {
    "--format", "text|json", CLI_CHOICE, .choices = formats,
    .help = "json: {a, b, channels, height, width, psnr, ssim, ssim_win, cutoff, share_above_a, "
            "share_above_b, spectrum_bins, spectrum_distance, w1_levels, w1_gray}"};
static const struct cli_option opt_win = {"--win", "W", CLI_LONG, 3, 255,
    .valid = "an odd window side from 3 to 255", .help = "SSIM's window side (default 7)"};
static const struct cli_option opt_cutoff = {"--cutoff", "F", CLI_DOUBLE, 0, 0.5,
    .valid = "a frequency in cycles per pixel, 0 < F <= 0.5",
    .help = "spectral share above F cycles/pixel (default 0.25: x2 super-resolution's low-res Nyquist)"};
static const struct cli_option opt_bins = {"--bins", "N", CLI_LONG, 1, 8192,
    .valid = "a number of radial bins from 1 to 8192",
    .help = "radial spectrum bins (default min(height, width) / 2)"};
static const struct cli_option opt_levels = {"--levels", "L", CLI_LONG, 2, 65536,
    .valid = "a number of gray levels from 2 to 65536", .help = "gray levels of the W1 histograms (default 256)"};
static const struct cli_option *const options[] = {&opt_format, &opt_win, &opt_cutoff, &opt_bins,
                                                   &opt_levels, NULL};

struct measures {
    double psnr, ssim, share_a, share_b, spectrum_distance, w1;
};

static void measure(struct measures *m, const struct image *a, const struct image *b, int win,
                    double cutoff, int bins, int levels)
{
    size_t plane = (size_t)a->h * a->w;
    m->psnr = image_psnr(a->v, b->v, plane * a->c, 1.0);
    m->ssim = 0;
    for (int k = 0; k < a->c; k++)
        m->ssim += image_ssim(a->v + k * plane, b->v + k * plane, a->h, a->w, win, 1.0) / a->c;
    struct image ga = *a, gb = *b;
    if (a->c != 1) {
        image_convert(&ga, a, 1);
        image_convert(&gb, b, 1);
    }
    m->share_a = image_spectral_share_above(ga.v, a->h, a->w, cutoff);
    m->share_b = image_spectral_share_above(gb.v, a->h, a->w, cutoff);
    double *pa = rv_malloc(sizeof(double) * 2 * (size_t)bins), *pb = pa + bins;
    image_radial_spectrum(pa, bins, ga.v, a->h, a->w);
    image_radial_spectrum(pb, bins, gb.v, a->h, a->w);
    m->spectrum_distance = image_spectrum_distance(pa, pb, bins);
    m->w1 = image_w1_gray(ga.v, plane, gb.v, plane, levels);
    free(pa);
    if (a->c != 1) {
        image_free(&ga);
        image_free(&gb);
    }
}

static int image_metrics_run(const struct cli_args *args)
{
    const char *pa = args->operand[0], *pb = args->operand[1];
    int win = (int)cli_number(args, &opt_win, 7), levels = (int)cli_number(args, &opt_levels, 256);
    double cutoff = cli_number(args, &opt_cutoff, IMAGE_NYQUIST_X2);
    bool json = cli_number(args, &opt_format, 0) == 1;
    struct rv_error err = {{0}};
    struct image a = {0}, b = {0};
    int rc = 1;
    if (win % 2 == 0) {
        fprintf(stderr, "pipeline: image-metrics: --win %d: SSIM's window must have an odd side; give e.g. --win 7\n", win);
        return CLI_EXIT_USAGE;
    }
    if (image_read_png(&a, pa, 0, &err) || image_read_png(&b, pb, 0, &err)) {
        fprintf(stderr, "pipeline: image-metrics: %s\n", err.msg);
        goto out;
    }
    if (a.h != b.h || a.w != b.w) {
        fprintf(stderr, "pipeline: image-metrics: %s is %d x %d, %s is %d x %d; give two images of one size\n",
                pa, a.w, a.h, pb, b.w, b.h);
        goto out;
    }
    if (a.h < win || a.w < win) {
        fprintf(stderr, "pipeline: image-metrics: %s is %d x %d, smaller than SSIM's %d x %d window; give "
                        "--win 3 (or larger images)\n", pa, a.w, a.h, win, win);
        goto out;
    }
    int bins = (int)cli_number(args, &opt_bins, (a.h < a.w ? a.h : a.w) / 2 > 0 ? (a.h < a.w ? a.h : a.w) / 2 : 1);
    int c = a.c >= 3 && b.c >= 3 ? 3 : 1;
    struct image *both[2] = {&a, &b};
    for (int i = 0; i < 2; i++)
        if (both[i]->c != c) {
            struct image t;
            image_convert(&t, both[i], c);
            image_free(both[i]);
            *both[i] = t;
        }
    struct measures m;
    measure(&m, &a, &b, win, cutoff, bins, levels);
    if (json) {
        struct json_object o = json_begin(stdout);
        json_put_string(&o, "a", pa);
        json_put_string(&o, "b", pb);
        json_put_int(&o, "channels", c);
        json_put_int(&o, "height", a.h);
        json_put_int(&o, "width", a.w);
        json_put_number(&o, "psnr", m.psnr);
        json_put_number(&o, "ssim", m.ssim);
        json_put_int(&o, "ssim_win", win);
        json_put_number(&o, "cutoff", cutoff);
        json_put_number(&o, "share_above_a", m.share_a);
        json_put_number(&o, "share_above_b", m.share_b);
        json_put_int(&o, "spectrum_bins", bins);
        json_put_number(&o, "spectrum_distance", m.spectrum_distance);
        json_put_int(&o, "w1_levels", levels);
        json_put_number(&o, "w1_gray", m.w1);
        json_end(&o);
        printf("\n");
    } else {
        printf("%s against %s: %d x %d, %s\n", pb, pa, a.w, a.h, c == 3 ? "RGB" : "gray");
        char label[64];
        printf("  %-32s %.4f dB (data range 1)\n", "PSNR", m.psnr);
        snprintf(label, sizeof label, "SSIM (%d x %d window)", win, win);
        printf("  %-32s %.6f\n", label, m.ssim);
        snprintf(label, sizeof label, "spectral energy above %.4g", cutoff);
        printf("  %-32s %.6f (A), %.6f (B)\n", label, m.share_a, m.share_b);
        printf("  %-32s %.6f (decades, %d bins)\n", "radial power spectrum distance", m.spectrum_distance, bins);
        printf("  %-32s %.6f (%d levels)\n", "gray-level W1", m.w1, levels);
    }
    rc = 0;
out:
    image_free(&a);
    image_free(&b);
    return rc;
}

const struct cli_command image_metrics_command = {
    "image-metrics", "A.png B.png", 2, 2, "two images: pipeline image-metrics target.png output.png",
    options, "PSNR, SSIM, spectra and gray-level W1 of image B against image A", .main = image_metrics_run,
};
