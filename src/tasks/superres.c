/* pipeline superres CONFIG: ×2 super-resolution (issue 22). The input is each image average-pooled
 * 2×2 (28×28 → 14×14), the target the image itself, both in [0, 1] pixel units. An SRResNet ×2
 * generator (src/models/srresnet.c; [superres] blocks, width) trains on
 *     loss = pixel (mse or l1, loss.h) + λ · perceptual (a frozen loss network: lossnet.h)
 * with the classification pipeline's optimizer (SGD or AdamW) and learning-rate schedule
 * ([train] optimizer, lr, momentum, weight_decay, beta1, beta2, eps, lr_schedule, epochs,
 * batch_size; BatchNorm in training mode, one rank). superres.skip = nearest or bicubic adds that
 * upsampling of the input to the generator's output (whose output conv then starts at zero);
 * superres.icnr initializes up.conv by ICNR (upsample.h). Then, on the test images (outputs
 * clamped to [0, 1]): PSNR and SSIM (7×7 window) per image, averaged, the share of spectral
 * energy above the low-resolution Nyquist frequency (image.h), the same for nearest-neighbour
 * and bicubic upsampling of the input (PIL's bicubic, upsample.h, clamped) as baselines; with
 * superres.judge_checkpoint, a classifier's accuracy on the targets, outputs, bicubic and
 * nearest images ("recognizable?"); a PNG grid of the first test images (input upsampled by
 * nearest neighbour, bicubic, output, target). Writes into run.out_dir/run.name (or --out):
 * results.json (the config, one row per epoch, the test metrics), grid.png and generator.h5
 * (the trained generator: a state file as below, at the run's last step). --stop-after-steps N
 * (or a signal) stops after step N with DIR/state.h5 (the generator's parameters, optimizer state
 * and running statistics, the step, the loss sums: checkpoint.h's struct sr_state, written at
 * every epoch's end too) and exit status EXIT_STOPPED; --resume continues from it, bit for bit as
 * if never stopped.
 *
 * superres.task = denoise (issue 22's second task, heavy denoising): the input is the image plus
 * Gaussian noise of superres.noise_sigma (include/denoise.h: the same noisy test images for every
 * run, fresh training noise per seed, epoch and image), the target the image; the generator
 * srresnet_x1 (SRResNet without the up-block, scale 1); superres.skip = input adds the noisy
 * input to its output. The baselines are the noisy input itself and a Gaussian blur of it whose
 * width is chosen on training images (denoise_choose_blur), in the places of nearest and
 * bicubic: the same metrics, judge and grid columns.
 *
 * No allocation in a training step: every buffer is made before the first. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h" /* make_dirs */
#include "cli.h"
#include "config.h"
#include "data.h"
#include "denoise.h"
#include "h5io.h"
#include "image.h"
#include "json.h"
#include "loss.h"
#include "lossnet.h"
#include "models.h"
#include "optim.h"
#include "rng.h"
#include "stop.h"
#include "run.h" /* run_dir_check, run_now, RUN_PATH_MAX, run_model_spec */
#include "upsample.h"

#define SSIM_WINDOW 7
/* The loss network's input normalization holds every channel an image can have. */
_Static_assert(DATA_MAX_CHANNELS <= LOSSNET_MAX_CHANNELS, "lossnet_spec's mean and std too small");

/* The mid-run state file in the run directory (checkpoint_save_sr_state). */
#define STATE_FILE "state.h5"

/* The two baselines of each task, as results.json and the log name them: x2, the input upsampled
 * by nearest neighbour and bicubic; denoise, the noisy input itself and its Gaussian blur. */
enum { BASE_COUNT = 2 };
static const char *const base_names[SR_TASK_COUNT][BASE_COUNT] = {
    [SR_TASK_X2] = {"nearest", "bicubic"}, [SR_TASK_DENOISE] = {"noisy", "blur"}};

struct test_metrics {
    int n;
    double psnr, ssim, share_out, share_target;
    double base_psnr[BASE_COUNT], base_ssim[BASE_COUNT], base_share[BASE_COUNT];
    /* the judge's accuracy ("recognizable?") on the targets, outputs and baselines */
    double acc_target, acc_output, acc_base[BASE_COUNT];
};

struct superres {
    struct config cfg;
    char dir[RUN_DIR_MAX];
    struct dataset train, test;
    int c, h, w, lh, lw;           /* target and input sizes */
    struct model g;
    struct loss pixel;
    bool perceptual;
    struct lossnet ln;
    float *x, *target;             /* a batch: inputs, targets */
    float *skip;                   /* a batch: the inputs upsampled by superres.skip */
    float *base[BASE_COUNT];       /* a batch: the baselines (base_names), clamped to [0, 1] */
    float *tmp;                    /* upsample_bicubic2's or denoise_blur's scratch, 2·h·w floats */
    double blur_sigma, blur_psnr;  /* denoise: the blur's width, chosen on training images */
    struct sgd opt;
    bool judging;                  /* superres.judge_checkpoint: a classifier */
    struct model judge;
    float judge_mean[LOSSNET_MAX_CHANNELS], judge_std[LOSSNET_MAX_CHANNELS];
    float *jx;                     /* a batch normalized for the judge */
    int *order;
    struct sr_epoch *rows;         /* one per epoch (checkpoint.h) */
    struct test_metrics test_m;
    long stop_after;               /* --stop-after-steps (0: none) */
    struct sr_state start;         /* --resume: the step resumed from, that epoch's sums so far */
    bool stopped;                  /* stopped as asked: state.h5 written, exit EXIT_STOPPED */
};

/* ---- the [superres] keys across each other --------------------------------------------------- */

/* Splits "a, b,c" into names (trimmed, in buf); the count, or -1 (empty name, too many). */
static int split_taps(const char *text, char *buf, size_t cap, const char **names, int max)
{
    snprintf(buf, cap, "%s", text);
    int n = 0;
    for (char *p = buf; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        char *end = strchr(p, ',');
        char *stop = end ? end : p + strlen(p);
        char *last = stop;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        if (last == p || n == max)
            return -1;
        *last = '\0';
        names[n++] = p;
        if (!end)
            break;
        p = end + 1;
        if (!*p)
            return -1; /* a trailing comma: an empty name */
    }
    return n;
}

/* superres.task across noise_sigma, skip and icnr. */
static int check_task(const struct config *c, struct rv_error *err)
{
    if (c->sr_task == SR_TASK_DENOISE) {
        if (c->sr_noise_sigma <= 0.0)
            return rv_fail(err, "superres.task = denoise needs superres.noise_sigma > 0 (the "
                           "noise's standard deviation in [0, 1] pixel units: configs/denoise.ini "
                           "has 0.5)");
        if (c->sr_skip == SR_SKIP_NEAREST || c->sr_skip == SR_SKIP_BICUBIC)
            return rv_fail(err, "superres.skip = %s upsamples a x2 input; superres.task = denoise "
                           "takes skip = input (the noisy input added to the output) or none",
                           sr_skip_names[c->sr_skip]);
        if (c->sr_icnr)
            return rv_fail(err, "superres.icnr = true initializes the x2 generator's up-block; "
                           "superres.task = denoise's generator (srresnet_x1) has none: set "
                           "superres.icnr = false");
        return 0;
    }
    if (c->sr_noise_sigma != 0.0)
        return rv_fail(err, "superres.noise_sigma = %g is for superres.task = denoise; task = x2 "
                       "adds no noise: set superres.noise_sigma = 0", c->sr_noise_sigma);
    if (c->sr_skip == SR_SKIP_INPUT)
        return rv_fail(err, "superres.skip = input is for superres.task = denoise (an input of "
                       "the output's size); task = x2 takes skip = none, nearest or bicubic");
    return 0;
}

static int check_keys(const struct config *c, struct rv_error *err)
{
    if (check_task(c, err))
        return -1;
    if (c->sr_perceptual_weight == 0.0)
        return 0;
    if (lossnet_check_arch(c->sr_lossnet_arch, "superres.lossnet_arch", err))
        return -1;
    char buf[CONFIG_MAX_STRING];
    const char *names[LOSSNET_MAX_TAPS];
    int n = split_taps(c->sr_lossnet_taps, buf, sizeof buf, names, LOSSNET_MAX_TAPS);
    if (n < 1)
        return rv_fail(err, "superres.lossnet_taps = \"%s\": give 1 to %d comma-separated layer "
                       "names, e.g. \"group1.conv1, group2.conv1\"", c->sr_lossnet_taps,
                       LOSSNET_MAX_TAPS);
    if (c->sr_lossnet_tap_weights.n && c->sr_lossnet_tap_weights.n != n)
        return rv_fail(err, "superres.lossnet_tap_weights has %d values for %d taps "
                       "(superres.lossnet_taps): give one per tap, or none for all 1",
                       c->sr_lossnet_tap_weights.n, n);
    struct model_spec s = {.arch = c->sr_lossnet_arch, .depth = c->sr_lossnet_depth,
                           .width = c->sr_lossnet_width, .stem = c->sr_lossnet_stem,
                           .norm = c->sr_lossnet_norm};
    if (model_check_spec(&s, err)) { /* its message names model.KEY: name ours */
        char inner[sizeof err->msg], *o = inner;
        const char *p = err->msg;
        while (*p && o < inner + sizeof inner - 24) {
            if (strncmp(p, "model.", 6) == 0) {
                o += sprintf(o, "superres.lossnet_");
                p += 6;
            } else {
                *o++ = *p++;
            }
        }
        *o = '\0';
        return rv_fail(err, "%s", inner);
    }
    return 0;
}

/* ---- data ------------------------------------------------------------------------------------ */

static int load(struct superres *s, struct rv_error *err)
{
    const struct config *c = &s->cfg;
    if (c->dataset == DATASET_SYNTHETIC)
        data_synthetic(&s->train, &s->test, c->synthetic_train, c->synthetic_test,
                       c->synthetic_channels, c->synthetic_size, c->synthetic_classes,
                       (uint64_t)c->seed);
    else if (data_load(&s->train, &s->test, c->dataset, config_data_dir(c), err))
        return -1;
    if (c->sr_train_skip >= s->train.n)
        return rv_fail(err, "superres.train_skip = %d leaves none of the %d training images",
                       c->sr_train_skip, s->train.n);
    if (c->sr_train_skip > 0) { /* drop the first images: the rest moves to the front */
        struct dataset *d = &s->train;
        size_t per = (size_t)d->c * d->h * d->w, k = (size_t)c->sr_train_skip;
        memmove(d->pixels, d->pixels + k * per, ((size_t)d->n - k) * per);
        memmove(d->labels, d->labels + k, (size_t)d->n - k);
        d->n -= (int)k;
    }
    dataset_truncate(&s->train, c->train_limit);
    dataset_truncate(&s->test, c->test_limit);
    s->c = s->train.c;
    s->h = s->train.h;
    s->w = s->train.w;
    bool x2 = c->sr_task == SR_TASK_X2;
    if (x2 && (s->h % 2 || s->w % 2))
        return rv_fail(err, "superres: the images are %dx%d; x2 super-resolution needs even sides",
                       s->h, s->w);
    if (s->h < SSIM_WINDOW || s->w < SSIM_WINDOW)
        return rv_fail(err, "superres: the images are %dx%d; SSIM's %dx%d window needs %d pixels "
                       "a side (data.synthetic_size >= 8)", s->h, s->w, SSIM_WINDOW, SSIM_WINDOW,
                       SSIM_WINDOW + 1);
    if (s->train.n < 2 || s->test.n < 1)
        return rv_fail(err, "superres: %d training and %d test images; need 2 and 1 at least "
                       "(data.train_limit, data.test_limit)", s->train.n, s->test.n);
    s->lh = x2 ? s->h / 2 : s->h;
    s->lw = x2 ? s->w / 2 : s->w;
    return 0;
}

/* Image idx of d as a target (c, h, w) in [0, 1] and the input: x2, its 2×2 average pool (c,
 * h/2, w/2); denoise, itself plus the noise of `key` (denoise.h: DENOISE_TEST, DENOISE_CHOICE or
 * the epoch). */
static void make_pair(const struct superres *s, const struct dataset *d, int idx, int key,
                      float *x, float *t)
{
    size_t hw = (size_t)s->h * s->w;
    const uint8_t *p = d->pixels + (size_t)idx * s->c * hw;
    for (size_t i = 0; i < (size_t)s->c * hw; i++)
        t[i] = (float)p[i] / 255.0f;
    if (s->cfg.sr_task == SR_TASK_DENOISE) {
        denoise_noisy(x, t, (size_t)s->c * hw, s->cfg.sr_noise_sigma, (uint64_t)s->cfg.seed, key,
                      idx);
        return;
    }
    for (int ch = 0; ch < s->c; ch++)
        for (int y = 0; y < s->lh; y++)
            for (int xx = 0; xx < s->lw; xx++) {
                const float *q = t + ch * hw + (size_t)(2 * y) * s->w + 2 * xx;
                x[((size_t)ch * s->lh + y) * s->lw + xx] =
                    0.25f * ((q[0] + q[1]) + (q[s->w] + q[s->w + 1]));
            }
}

/* key: the noise of denoising (make_pair); x2 ignores it. */
static void make_batch(struct superres *s, const struct dataset *d, const int *idx, int n, int key)
{
    size_t xs = (size_t)s->c * s->lh * s->lw, ts = (size_t)s->c * s->h * s->w;
    for (int i = 0; i < n; i++)
        make_pair(s, d, idx[i], key, s->x + i * xs, s->target + i * ts);
}

/* Denoising's blur width (denoise_choose_blur) on the first DENOISE_CHOICE_IMAGES training images
 * with their own noise (seed 0: the same for every run). Before training; allocates. */
#define DENOISE_CHOICE_IMAGES 1000
static void choose_blur(struct superres *s)
{
    int n = s->train.n < DENOISE_CHOICE_IMAGES ? s->train.n : DENOISE_CHOICE_IMAGES;
    size_t ts = (size_t)s->c * s->h * s->w;
    float *noisy = rv_malloc((size_t)n * ts * sizeof(float));
    float *clean = rv_malloc((size_t)n * ts * sizeof(float));
    float *tmp = rv_malloc(2 * ts * sizeof(float));
    for (int i = 0; i < n; i++)
        make_pair(s, &s->train, i, DENOISE_CHOICE, noisy + i * ts, clean + i * ts);
    s->blur_sigma = denoise_choose_blur(noisy, clean, n, s->c, s->h, s->w, tmp, &s->blur_psnr);
    free(noisy);
    free(clean);
    free(tmp);
}

/* ---- the networks ----------------------------------------------------------------------------- */

/* The judge (superres.judge_checkpoint): the classifier the checkpoint's config describes, its
 * weights and the input normalization it trained with (/model/input_mean, input_std). */
static int open_judge(struct superres *s, int batch, int threads, struct rv_error *err)
{
    const char *path = s->cfg.sr_judge_checkpoint;
    struct config *ck = rv_malloc(sizeof *ck);
    struct rv_error e;
    int rc = checkpoint_read_config(ck, path, &e);
    if (rc == 0) {
        struct model_spec spec = run_model_spec(ck, &s->test);
        if (spec.arch == ARCH_SRRESNET || spec.arch == ARCH_SRRESNET_X1)
            rc = rv_fail(&e, "%s is a %s generator, not a classifier", path,
                         spec.arch == ARCH_SRRESNET ? "super-resolution" : "denoising");
        else
            rc = model_build(&s->judge, &spec, batch, threads, &e);
    }
    free(ck);
    struct ck_input_norm norm;
    if (rc == 0) {
        s->judging = true;
        rc = checkpoint_load_model(&s->judge, path, &norm, &e);
    }
    if (rc == 0 && norm.c != s->c)
        rc = rv_fail(&e, "%s stores no input normalization (/model/input_mean)", path);
    if (rc == 0) {
        memcpy(s->judge_mean, norm.mean, (size_t)s->c * sizeof *s->judge_mean);
        memcpy(s->judge_std, norm.std, (size_t)s->c * sizeof *s->judge_std);
    }
    if (rc)
        return rv_fail(err, "superres.judge_checkpoint: %s (give a classifier checkpoint of "
                       "these images, from pipeline run)", e.msg);
    return 0;
}

static int open_networks(struct superres *s, int batch, int threads, struct rv_error *err)
{
    const struct config *c = &s->cfg;
    /* the generator follows the task: srresnet (×2) or srresnet_x1 (denoise, scale 1) */
    enum arch_kind arch = c->sr_task == SR_TASK_DENOISE ? ARCH_SRRESNET_X1 : ARCH_SRRESNET;
    struct model_spec g = {.arch = arch, .depth = c->sr_blocks, .width = c->sr_width,
                           .in_c = s->c, .in_h = s->lh, .in_w = s->lw,
                           .gamma_one = c->gamma_init == GAMMA_INIT_ONE, .conv_algo = c->conv_algo,
                           .conv_auto_rule = c->conv_auto_rule};
    g.classes = srresnet_classes(&g);
    if (model_build(&s->g, &g, batch, threads, err))
        return -1;
    model_init(&s->g, (uint64_t)c->seed);
    if (c->sr_icnr)
        upsample_icnr(&s->g, "up.conv");
    if (c->sr_skip != SR_SKIP_NONE) /* start as the skip itself: the residual at 0 */
        for (int p = 0; p < s->g.nparams; p++)
            if (strcmp(s->g.params[p].name, "output") == 0 ||
                strcmp(s->g.params[p].name, "output.bias") == 0)
                memset(s->g.values + s->g.params[p].offset, 0, s->g.params[p].count * sizeof(float));
    s->opt = (struct sgd){.momentum = c->momentum, .weight_decay = c->weight_decay,
                          .nesterov = c->nesterov, .kind = c->optimizer, .beta1 = c->beta1,
                          .beta2 = c->beta2, .eps = c->adam_eps};
    if (c->optimizer == OPT_ADAMW)
        optim_alloc_state(&s->g, OPT_ADAMW);
    if (c->sr_pixel_loss == PIXEL_LOSS_L1 ? loss_l1(&s->pixel, &s->g, NULL, err)
                                          : loss_mse(&s->pixel, &s->g, NULL, err))
        return -1;
    s->perceptual = c->sr_perceptual_weight > 0.0;
    if (!s->perceptual)
        return 0;
    struct lossnet_spec ls = {
        .net = {.arch = c->sr_lossnet_arch, .depth = c->sr_lossnet_depth,
                .width = c->sr_lossnet_width, .stem = c->sr_lossnet_stem,
                .norm = c->sr_lossnet_norm, .in_c = s->c, .in_h = s->h, .in_w = s->w,
                .classes = s->train.classes, .conv_algo = c->conv_algo,
                .conv_auto_rule = c->conv_auto_rule},
        .init = c->sr_lossnet_init, .init_scale = c->sr_lossnet_init_scale,
        .seed = (uint64_t)(c->sr_lossnet_seed ? c->sr_lossnet_seed : c->seed),
        .checkpoint = c->sr_lossnet_checkpoint};
    char buf[CONFIG_MAX_STRING];
    ls.ntaps = split_taps(c->sr_lossnet_taps, buf, sizeof buf, ls.taps, LOSSNET_MAX_TAPS);
    for (int j = 0; j < ls.ntaps; j++)
        ls.tap_weight[j] = c->sr_lossnet_tap_weights.n ? c->sr_lossnet_tap_weights.v[j] : 1.0;
    for (int ch = 0; ch < s->c && ch < DATA_MAX_CHANNELS; ch++) {
        ls.mean[ch] = s->train.mean[ch];
        ls.std[ch] = s->train.std[ch];
    }
    if (lossnet_open(&s->ln, &ls, batch, threads, err)) {
        char inner[sizeof err->msg];
        snprintf(inner, sizeof inner, "%s", err->msg);
        return rv_fail(err, "superres loss network: %s (superres.lossnet_*)", inner);
    }
    return 0;
}

/* ---- training ---------------------------------------------------------------------------------- */

/* The generator on the first n images of the batch: m->logits = G(x) + skip(x). The skip adds a
 * constant to the output, so the gradient into m->d_logits is the generator's. */
static void generate(struct superres *s, int n, bool training)
{
    struct model *m = &s->g;
    model_forward(m, s->x, n, training, NULL);
    if (s->cfg.sr_skip == SR_SKIP_NONE)
        return;
    if (s->cfg.sr_skip == SR_SKIP_INPUT) { /* denoise: the input has the output's size */
        size_t all = (size_t)n * s->c * s->h * s->w;
        for (size_t j = 0; j < all; j++)
            m->logits[j] += s->x[j];
        return;
    }
    size_t ls = (size_t)s->lh * s->lw, hs = (size_t)s->h * s->w;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < s->c; ch++) {
            const float *x = s->x + ((size_t)i * s->c + ch) * ls;
            float *u = s->skip + ((size_t)i * s->c + ch) * hs, *y = m->logits + ((size_t)i * s->c + ch) * hs;
            if (s->cfg.sr_skip == SR_SKIP_NEAREST)
                upsample_nearest2(u, x, s->lh, s->lw);
            else
                upsample_bicubic2(u, x, s->lh, s->lw, s->tmp);
            for (size_t j = 0; j < hs; j++)
                y[j] += u[j];
        }
}

/* ---- mid-run state: DIR/state.h5, and --resume ------------------------------------------------ */

/* Everything the rest of the run depends on after `step` steps (checkpoint.h, struct sr_state):
 * the generator, its optimizer state and running statistics, the step, the epochs' rows and the
 * current epoch's loss sums, and the config (which fixes the data, its order, the loss network
 * and the schedule). Written at each epoch's end and when stopped, atomically. */
static int save_state(const struct superres *s, const char *file, long step, double pix,
                      double perc, struct rv_error *err)
{
    char path[RUN_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s->dir, file);
    const struct sr_state st = {.step = step, .pixel_sum = pix, .perceptual_sum = perc,
                                .epochs = s->cfg.epochs, .rows = s->rows};
    return checkpoint_save_sr_state(path, &s->cfg, &s->g, &st, err);
}

/* --resume: DIR/state.h5 into the opened run; its config must be this one, its step inside the
 * run. */
static int load_state(struct superres *s, long steps_per_epoch, struct rv_error *err)
{
    char path[RUN_PATH_MAX];
    snprintf(path, sizeof path, "%s/" STATE_FILE, s->dir);
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return rv_fail(err, "superres --resume: %s cannot be read (a run stopped by "
                       "--stop-after-steps or a signal leaves it; run without --resume to start)",
                       path);
    fclose(probe);
    s->start = (struct sr_state){.epochs = s->cfg.epochs, .rows = s->rows};
    if (checkpoint_load_sr_state(path, &s->cfg, &s->g, &s->start, err)) {
        char inner[sizeof err->msg];
        snprintf(inner, sizeof inner, "%s", err->msg);
        return rv_fail(err, "superres --resume: %s (or start the run over without --resume)", inner);
    }
    long total = steps_per_epoch * s->cfg.epochs; /* a finished run's state stands at total */
    if (s->start.step > total)
        return rv_fail(err, "superres --resume: %s: /superres step = %ld, past this run's %ld "
                       "steps; the file is damaged: start the run over without --resume", path,
                       s->start.step, total);
    return 0;
}

/* Full batches only: BatchNorm's statistics need a few images. */
static long steps_per_epoch(const struct superres *s)
{
    int n = s->train.n, bs = s->cfg.batch_size < n ? s->cfg.batch_size : n;
    return n / bs;
}

static int train(struct superres *s, struct rv_error *err)
{
    const struct config *c = &s->cfg;
    struct model *m = &s->g;
    int n = s->train.n, bs = c->batch_size < n ? c->batch_size : n;
    long steps = steps_per_epoch(s);
    struct lr_schedule sched = lr_schedule_from_config(c, c->epochs, c->lr);
    double lambda = c->sr_perceptual_weight;
    int e0 = (int)(s->start.step / steps);
    for (int e = e0; e < c->epochs; e++) {
        double t0 = run_now(), pix = 0.0, perc = 0.0, lr = 0.0;
        long k0 = 0;
        if (e == e0 && s->start.step > 0) { /* resumed: the epoch's sums so far */
            k0 = s->start.step - (long)e * steps;
            pix = s->start.pixel_sum;
            perc = s->start.perceptual_sum;
            t0 -= s->rows[e].seconds; /* the time spent before the stop */
        }
        data_epoch_order(s->order, n, (uint64_t)c->seed, e);
        for (long k = k0; k < steps; k++) {
            make_batch(s, &s->train, s->order + k * bs, bs, e);
            model_zero_grad(m);
            generate(s, bs, true);
            pix += s->pixel.apply(&s->pixel, m, bs, bs, s->target);
            if (s->perceptual) {
                lossnet_set_target(&s->ln, s->target, bs);
                perc += lossnet_loss(&s->ln, m->logits, bs, bs, lambda, m->d_logits);
            }
            model_backward(m, bs, NULL);
            lr = lr_at(&sched, (long)e * steps + k, steps);
            s->opt.t = (long)e * steps + k + 1;
            if (optim_step(m, (float)lr, &s->opt))
                return rv_fail(err, "superres: the generator diverged in epoch %d (non-finite "
                               "weights); lower train.lr (%g) or superres.perceptual_weight (%g)",
                               e + 1, c->lr, lambda);
            long done = (long)e * steps + k + 1;
            if (k + 1 < steps && ((s->stop_after && done >= s->stop_after) || stop_signal_pending())) {
                s->rows[e].seconds = run_now() - t0;
                if (save_state(s, STATE_FILE, done, pix, perc, err))
                    return -1;
                printf("superres: stopped after step %ld (epoch %d, step %ld of %ld); wrote "
                       "%s/" STATE_FILE ": continue with the same command and --resume\n", done, e + 1,
                       k + 1, steps, s->dir);
                s->stopped = true;
                return 0;
            }
        }
        double seen = (double)steps * bs;
        s->rows[e] = (struct sr_epoch){lr, pix / seen, perc / seen, run_now() - t0};
        printf("epoch %d/%d  lr %.4g  pixel %.6g  perceptual %.6g  (%.1f s)\n", e + 1, c->epochs,
               lr, pix / seen, perc / seen, s->rows[e].seconds);
        fflush(stdout);
        long done = (long)(e + 1) * steps;
        if (save_state(s, STATE_FILE, done, 0.0, 0.0, err))
            return -1;
        if (e + 1 < c->epochs && ((s->stop_after && done >= s->stop_after) || stop_signal_pending())) {
            printf("superres: stopped after step %ld (the end of epoch %d); wrote %s/" STATE_FILE ": "
                   "continue with the same command and --resume\n", done, e + 1, s->dir);
            s->stopped = true;
            return 0;
        }
    }
    return 0;
}

/* ---- evaluation ------------------------------------------------------------------------------- */

static float clamp01(float v)
{
    return v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f; /* NaN → 0 */
}

/* The baselines of the first n inputs of the batch, each clamped to [0, 1] as the outputs are:
 * x2, s->base[0] nearest and s->base[1] bicubic upsampling; denoise, the noisy input itself and
 * its Gaussian blur (s->blur_sigma). */
static void baselines(struct superres *s, int n)
{
    size_t ls = (size_t)s->lh * s->lw, hs = (size_t)s->h * s->w;
    bool x2 = s->cfg.sr_task == SR_TASK_X2;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < s->c; ch++) {
            size_t at = (size_t)i * s->c + ch;
            float *b0 = s->base[0] + at * hs, *b1 = s->base[1] + at * hs;
            const float *x = s->x + at * ls;
            if (x2) {
                upsample_bicubic2(b1, x, s->lh, s->lw, s->tmp);
                upsample_nearest2(b0, x, s->lh, s->lw);
            } else {
                denoise_blur(b1, x, s->h, s->w, s->blur_sigma, s->tmp);
                for (size_t j = 0; j < hs; j++)
                    b0[j] = clamp01(x[j]);
            }
            for (size_t j = 0; j < hs; j++)
                b1[j] = clamp01(b1[j]);
        }
}

/* How many of the n images the judge classifies as their labels. */
static int judge_correct(struct superres *s, const float *images, const int *idx, int n)
{
    struct model *m = &s->judge;
    size_t hs = (size_t)s->h * s->w;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < s->c; ch++) {
            size_t at = ((size_t)i * s->c + ch) * hs;
            for (size_t j = 0; j < hs; j++)
                s->jx[at + j] = (images[at + j] - s->judge_mean[ch]) / s->judge_std[ch];
        }
    model_forward(m, s->jx, n, false, NULL);
    int classes = m->spec.classes, right = 0;
    for (int i = 0; i < n; i++) {
        const float *l = m->logits + (size_t)i * classes;
        int best = 0;
        for (int k = 1; k < classes; k++)
            if (l[k] > l[best])
                best = k;
        right += best == (int)s->test.labels[idx[i]];
    }
    return right;
}

/* PSNR, SSIM and spectral share of one image against its target, averaged over channels. */
static void measure(const struct superres *s, const float *y, const float *t, double *psnr,
                    double *ssim, double *share)
{
    size_t hw = (size_t)s->h * s->w;
    *psnr = image_psnr(y, t, (size_t)s->c * hw, 1.0);
    *ssim = *share = 0.0;
    for (int ch = 0; ch < s->c; ch++) {
        *ssim += image_ssim(y + ch * hw, t + ch * hw, s->h, s->w, SSIM_WINDOW, 1.0) / s->c;
        *share += image_spectral_share_above(y + ch * hw, s->h, s->w, IMAGE_NYQUIST_X2) / s->c;
    }
}

static void evaluate(struct superres *s)
{
    const struct config *c = &s->cfg;
    struct model *m = &s->g;
    int bs = m->max_batch, n = s->test.n;
    size_t ts = (size_t)s->c * s->h * s->w;
    struct test_metrics *r = &s->test_m;
    memset(r, 0, sizeof *r);
    r->n = n;
    for (int start = 0; start < n; start += bs) {
        int k = n - start < bs ? n - start : bs;
        for (int i = 0; i < k; i++)
            s->order[i] = start + i;
        make_batch(s, &s->test, s->order, k, DENOISE_TEST);
        generate(s, k, false);
        baselines(s, k);
        for (int i = 0; i < k; i++) {
            float *y = m->logits + i * ts, *t = s->target + i * ts;
            for (size_t j = 0; j < ts; j++)
                y[j] = clamp01(y[j]);
            double p, q, sh;
            measure(s, y, t, &p, &q, &sh);
            r->psnr += p;
            r->ssim += q;
            r->share_out += sh;
            r->share_target += image_spectral_share_above(t, s->h, s->w, IMAGE_NYQUIST_X2);
            for (int b = 0; b < BASE_COUNT; b++) {
                measure(s, s->base[b] + i * ts, t, &p, &q, &sh);
                r->base_psnr[b] += p;
                r->base_ssim[b] += q;
                r->base_share[b] += sh;
            }
        }
        if (s->judging) {
            r->acc_target += judge_correct(s, s->target, s->order, k);
            for (int b = 0; b < BASE_COUNT; b++)
                r->acc_base[b] += judge_correct(s, s->base[b], s->order, k);
            r->acc_output += judge_correct(s, m->logits, s->order, k);
        }
    }
    r->psnr /= n;
    r->ssim /= n;
    r->share_out /= n;
    r->share_target /= n;
    for (int b = 0; b < BASE_COUNT; b++) {
        r->base_psnr[b] /= n;
        r->base_ssim[b] /= n;
        r->base_share[b] /= n;
        r->acc_base[b] /= n;
    }
    r->acc_target /= n;
    r->acc_output /= n;
    const char *const *name = base_names[c->sr_task];
    printf("test (%d images): PSNR %.3f dB  SSIM %.4f  spectral share above Nyquist/2 %.4f "
           "(target %.4f); %s: PSNR %.3f dB  SSIM %.4f; %s: PSNR %.3f dB  SSIM %.4f\n",
           n, r->psnr, r->ssim, r->share_out, r->share_target, name[0], r->base_psnr[0],
           r->base_ssim[0], name[1], r->base_psnr[1], r->base_ssim[1]);
    if (s->judging)
        printf("recognizable? the judge's accuracy: targets %.4f  outputs %.4f  %s %.4f  "
               "%s %.4f\n", r->acc_target, r->acc_output, name[1], r->acc_base[1], name[0],
               r->acc_base[0]);
}

/* grid.png: a row per test image (the first grid_images): the baselines (x2: input by nearest
 * neighbour, bicubic; denoise: noisy input, blur), output, target. */
static int write_grid(struct superres *s, struct rv_error *err)
{
    struct model *m = &s->g;
    int rows = s->cfg.sr_grid_images;
    if (rows > s->test.n)
        rows = s->test.n;
    if (rows > m->max_batch)
        rows = m->max_batch;
    size_t ts = (size_t)s->c * s->h * s->w;
    for (int i = 0; i < rows; i++)
        s->order[i] = i;
    make_batch(s, &s->test, s->order, rows, DENOISE_TEST);
    generate(s, rows, false);
    baselines(s, rows);
    enum { COLS = 4 };
    struct image *cells = rv_calloc((size_t)rows * COLS, sizeof *cells);
    for (int i = 0; i < rows; i++) {
        float *y = m->logits + i * ts;
        for (size_t j = 0; j < ts; j++)
            y[j] = clamp01(y[j]);
        float *v[COLS] = {s->base[0] + i * ts, s->base[1] + i * ts, y, s->target + i * ts};
        for (int k = 0; k < COLS; k++)
            cells[i * COLS + k] = (struct image){.c = s->c, .h = s->h, .w = s->w, .v = v[k]};
    }
    char path[RUN_PATH_MAX];
    snprintf(path, sizeof path, "%s/grid.png", s->dir);
    int rc = image_write_grid_png(path, cells, rows, COLS, 2, err);
    free(cells);
    return rc;
}

/* ---- records ---------------------------------------------------------------------------------- */

static int write_results(const struct superres *s, double seconds, struct rv_error *err)
{
    char path[RUN_PATH_MAX], tmp[RUN_PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/results.json", s->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return rv_fail(err, "superres: cannot write %s (is the run directory writable?)", tmp);
    const struct config *c = &s->cfg;
    const struct test_metrics *r = &s->test_m;
    char desc[128];
    model_families[s->g.spec.arch].describe(desc, sizeof desc, &s->g.spec);
    const char *const *name = base_names[c->sr_task];
    struct json_object o = json_begin(f);
    json_put_string(&o, "task", "superres");
    json_put_string(&o, "superres_task", sr_task_names[c->sr_task]);
    /* the baselines' names, in the order of the columns of grid.png (scripts/superres_report.py) */
    json_key(&o, "baselines");
    fprintf(f, "[\"%s\", \"%s\"]", name[0], name[1]);
    json_put_string(&o, "generator", desc);
    json_put_number(&o, "parameters", (double)s->g.total);
    json_put_number(&o, "train_images", s->train.n);
    json_put_number(&o, "seconds", seconds);
    json_key(&o, "epochs");
    fputs("[", f);
    for (int e = 0; e < c->epochs; e++) {
        fputs(e ? ", " : "", f);
        struct json_object row = json_begin(f);
        json_put_int(&row, "epoch", e + 1);
        json_put_number(&row, "lr", s->rows[e].lr);
        json_put_number(&row, "pixel", s->rows[e].pixel);
        json_put_number(&row, "perceptual", s->rows[e].perceptual);
        json_put_number(&row, "seconds", s->rows[e].seconds);
        json_end(&row);
    }
    fputs("]", f);
    json_key(&o, "test");
    struct json_object t = json_begin(f);
    json_put_number(&t, "images", r->n);
    json_put_number(&t, "psnr", r->psnr);
    json_put_number(&t, "ssim", r->ssim);
    json_put_number(&t, "spectral_share_output", r->share_out);
    json_put_number(&t, "spectral_share_target", r->share_target);
    char key[64];
    for (int b = 0; b < BASE_COUNT; b++) {
        snprintf(key, sizeof key, "psnr_%s", name[b]);
        json_put_number(&t, key, r->base_psnr[b]);
        snprintf(key, sizeof key, "ssim_%s", name[b]);
        json_put_number(&t, key, r->base_ssim[b]);
        snprintf(key, sizeof key, "spectral_share_%s", name[b]);
        json_put_number(&t, key, r->base_share[b]);
    }
    if (c->sr_task == SR_TASK_DENOISE) { /* the noise, and the blur's width and how it was chosen */
        json_put_number(&t, "noise_sigma", c->sr_noise_sigma);
        json_put_number(&t, "blur_sigma", s->blur_sigma);
        json_put_number(&t, "blur_choice_images",
                        s->train.n < DENOISE_CHOICE_IMAGES ? s->train.n : DENOISE_CHOICE_IMAGES);
        json_put_number(&t, "blur_choice_psnr", s->blur_psnr);
    }
    if (s->judging) { /* "recognizable?" */
        json_put_number(&t, "accuracy_target", r->acc_target);
        json_put_number(&t, "accuracy_output", r->acc_output);
        for (int b = BASE_COUNT - 1; b >= 0; b--) {
            snprintf(key, sizeof key, "accuracy_%s", name[b]);
            json_put_number(&t, key, r->acc_base[b]);
        }
        json_put_string(&t, "judge", c->sr_judge_checkpoint);
    }
    json_end(&t);
    char *ini = config_to_ini(c);
    json_put_string(&o, "config", ini);
    free(ini);
    json_end(&o);
    fputs("\n", f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return rv_fail(err, "superres: cannot write %s (disk full?)", path);
    }
    return 0;
}

/* ---- the command ------------------------------------------------------------------------------- */

static void superres_free(struct superres *s)
{
    if (s->perceptual)
        lossnet_close(&s->ln);
    model_free(&s->g);
    if (s->judging)
        model_free(&s->judge);
    dataset_free(&s->train);
    dataset_free(&s->test);
    free(s->x);
    free(s->target);
    free(s->skip);
    for (int b = 0; b < BASE_COUNT; b++)
        free(s->base[b]);
    free(s->tmp);
    free(s->jx);
    free(s->order);
    free(s->rows);
}

static const struct cli_option opt_resume = {
    "--resume", NULL, CLI_FLAG,
    .help = "continue from the run directory's " STATE_FILE " (left by --stop-after-steps or a signal), "
            "bit for bit as if never stopped; the same config and --set"};

static int run_superres(struct superres *s, const struct cli_args *a, struct rv_error *err)
{
    struct config *c = &s->cfg;
    config_defaults(c);
    if (config_load(c, a->operand[0], err))
        return -1;
    for (int i = 0; i < a->ngiven; i++)
        if (a->given[i].opt == &cli_set && config_set(c, a->given[i].text, err))
            return -1;
    const char *out = cli_string(a, &cli_out, NULL);
    char dir[RUN_DIR_MAX + 1];
    snprintf(dir, sizeof dir, "%s/%s", c->out_dir, c->name);
    if (!out)
        out = dir;
    if (run_dir_check(out, out == dir ? "run.out_dir/run.name" : "--out", err) ||
        config_validate(c, err) || check_keys(c, err))
        return -1;
    size_t len = strlen(out); /* run_dir_check bounds it */
    REVIVE_ASSERT(len < sizeof s->dir);
    memcpy(s->dir, out, len + 1);
    int threads = c->threads > 0 ? c->threads : omp_get_max_threads();
    omp_set_num_threads(threads);
    openblas_set_num_threads(1);
    double t0 = run_now();
    if (load(s, err))
        return -1;
    int batch = c->batch_size < s->train.n ? c->batch_size : s->train.n;
    int max_batch = batch > c->eval_batch_size ? batch : c->eval_batch_size;
    if (max_batch < c->sr_grid_images)
        max_batch = c->sr_grid_images;
    if (open_networks(s, max_batch, threads, err))
        return -1;
    if (c->sr_judge_checkpoint[0] && open_judge(s, max_batch, threads, err))
        return -1;
    size_t ts = (size_t)s->c * s->h * s->w, bytes = (size_t)max_batch * ts * sizeof(float);
    s->x = rv_malloc((size_t)max_batch * s->c * s->lh * s->lw * sizeof(float));
    s->target = rv_malloc(bytes);
    s->skip = rv_malloc(bytes);
    for (int b = 0; b < BASE_COUNT; b++)
        s->base[b] = rv_malloc(bytes);
    s->jx = rv_malloc(bytes);
    s->tmp = rv_malloc((size_t)2 * s->h * s->w * sizeof(float));
    s->order = rv_malloc((size_t)(s->train.n > max_batch ? s->train.n : max_batch) * sizeof(int));
    s->rows = rv_calloc((size_t)c->epochs, sizeof *s->rows);
    char desc[128];
    model_families[s->g.spec.arch].describe(desc, sizeof desc, &s->g.spec);
    char noise[64] = "";
    if (c->sr_task == SR_TASK_DENOISE) {
        choose_blur(s);
        snprintf(noise, sizeof noise, ", noise sigma %g", c->sr_noise_sigma);
    }
    printf("superres: %s (%zu parameters) on %s (%d train, %d test, %dx%dx%d -> %dx%dx%d%s), "
           "%s loss%s", desc, s->g.total, CHOICE_NAME(dataset_names, c->dataset), s->train.n,
           s->test.n, s->c, s->lh, s->lw, s->c, s->h, s->w, noise,
           CHOICE_NAME(pixel_loss_names, c->sr_pixel_loss), s->perceptual ? "" : "\n");
    if (s->perceptual) {
        char ldesc[128], init[64];
        model_families[c->sr_lossnet_arch].describe(ldesc, sizeof ldesc, &s->ln.m.spec);
        /* the scale of the inits that take one (lossnet_init_scale), so the log names the cell */
        bool scaled = c->sr_lossnet_init == LOSSNET_INIT_NORMAL || c->sr_lossnet_init == LOSSNET_INIT_UNIFORM;
        snprintf(init, sizeof init, scaled ? "%s %g" : "%s",
                 CHOICE_NAME(lossnet_init_names, c->sr_lossnet_init), c->sr_lossnet_init_scale);
        printf(" + %g x perceptual (%s, %s, taps %s)\n", c->sr_perceptual_weight, ldesc,
               c->sr_lossnet_checkpoint[0] ? c->sr_lossnet_checkpoint : init, c->sr_lossnet_taps);
    }
    s->stop_after = (long)cli_number(a, &cli_stop_after_steps, 0);
    stop_install(true, STATE_FILE);
    if (make_dirs(s->dir, err) || (cli_flag(a, &opt_resume) && load_state(s, steps_per_epoch(s), err)) ||
        train(s, err))
        return -1;
    if (s->stopped)
        return 0;
    if (c->sr_task == SR_TASK_DENOISE)
        printf("denoise: the blur baseline's width %g pixels (the best PSNR, %.3f dB, of the grid "
               "on the first %d training images)\n", s->blur_sigma, s->blur_psnr,
               s->train.n < DENOISE_CHOICE_IMAGES ? s->train.n : DENOISE_CHOICE_IMAGES);
    evaluate(s);
    if (write_grid(s, err) ||
        save_state(s, "generator.h5", steps_per_epoch(s) * c->epochs, 0.0, 0.0, err) ||
        write_results(s, run_now() - t0, err))
        return -1;
    printf("superres: wrote %s/results.json, grid.png, generator.h5\n", s->dir);
    return 0;
}

static int command_superres(const struct cli_args *a)
{
    struct superres s;
    memset(&s, 0, sizeof s);
    struct rv_error err = {{0}};
    int rc = run_superres(&s, a, &err);
    if (rc)
        fprintf(stderr, "pipeline: %s\n", err.msg);
    bool stopped = s.stopped;
    superres_free(&s);
    return rc ? 1 : stopped ? EXIT_STOPPED : 0;
}

static const struct cli_option *const superres_options[] = {&cli_set, &cli_out, &cli_stop_after_steps,
                                                            &opt_resume, NULL};

const struct cli_command superres_command = {
    "superres", "CONFIG", 1, 1, "a config file: pipeline superres configs/superres.ini (or "
    "configs/denoise.ini)",
    superres_options, "x2 super-resolution or denoising (superres.task): train a generator with a "
    "pixel (+ perceptual) loss",
    .main = command_superres};
