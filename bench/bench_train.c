/* Training and evaluation throughput of a network (ResNet-20 unless --arch/--depth say), one process: images/s, useful GFLOP/s
 * and peak resident memory, for the modes bench/torch_resnet.py runs in PyTorch.
 *
 *   build/bench/bench_train                         every mode on ResNet-20, 1x28x28, batch 128
 *   build/bench/bench_train --mode conv_fraction --fraction 0.04 --input 3x32x32 --steps 16
 *   make bench                                      revive and PyTorch side by side (bench/compare.py)
 *
 * Modes (the stage kinds of stages/): all (every parameter), bn (γ and β only), conv_fraction
 * (γ, β and --fraction of all conv weights, stage_conv_fraction), eval (running statistics, no
 * gradient). Every mode starts from a fresh model_init(seed 1), as a fresh PyTorch process does.
 * Training steps are the engine's step_train (src/engine/step.c), as in `pipeline run`; --conv-algo
 * chooses the 3×3 convolution algorithm (train.conv_algo, default auto).
 * SGD lr 0.01, momentum 0.9, weight decay 1e-4 (the config defaults). Random inputs, labels
 * i % classes: this measures the engine, not data loading. Threads: --threads, else
 * OMP_NUM_THREADS, else all cores. Peak RSS (getrusage) covers the whole process, so compare.py
 * runs one mode per process.
 *
 * Prints a human line and one `RESULT key=value ...` line per mode (read by bench/compare.py).
 */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "blas_kernels.h"
#include "config.h"
#include "layers.h"
#include "model.h"
#include "models.h"
#include "optim.h"
#include "rng.h"
#include "run.h"
#include "stages.h"
#include "step.h"

enum bench_mode { MODE_ALL, MODE_BN, MODE_CONV_FRACTION, MODE_EVAL, MODE_COUNT };
static const char *const mode_names[MODE_COUNT] = {"all", "bn", "conv_fraction", "eval"};

struct options {
    int mode;              /* -1: every mode, conv_fraction at 1 % and 4 % */
    double fraction;
    struct model_spec spec;
    int batch, steps, warmup, threads;
    const char *conv_algo; /* its name, as given */
};

static const char usage[] =
    "usage: bench_train [--mode all|bn|conv_fraction|eval] [--fraction F] [--input CxHxW]\n"
    "                   [--depth D] [--width W] [--classes K] [--batch B] [--steps N]\n"
    "                   [--warmup N] [--threads T] [--conv-algo auto|im2col|winograd|onednn]\n"
    "                   [--arch resnet|imagenet_resnet|vgg|mixer] [--stem auto|imagenet|cifar]\n"
    "                   [--norm batchnorm|none] [--head auto|pool|torchvision]\n";

/* Multiply-adds ×2 of layer i (a conv, a linear layer or a Mixer's token Dense, which runs on
 * every channel; 0 for the others), one image. */
static double layer_flops(const struct model *m, int i)
{
    const struct layer *l = &m->layers[i];
    if (l->op == LAYER_TOKEN_DENSE)
        return 2.0 * m->tensors[l->in].c * l->fc.in_f * l->fc.out_f;
    if (l->op == LAYER_CONV)
        return 2.0 * l->conv.out_c * l->conv.out_h * l->conv.out_w * (double)l->conv.in_c *
               l->conv.k * l->conv.k;
    return l->op == LAYER_LINEAR ? 2.0 * l->fc.in_f * l->fc.out_f : 0.0;
}

/* ... of every conv and linear layer, for one image forward. */
static double forward_flops(const struct model *m)
{
    double f = 0;
    for (int i = 0; i < m->nlayers; i++)
        f += layer_flops(m, i);
    return f;
}

/* Useful training FLOPs per image: forward, input gradients (not for the first layer), and the
 * share `weights` of the conv weight gradients that trains (1 all, 0 BN-only, f conv_fraction). */
static double train_flops(const struct model *m, double weights)
{
    double fwd = forward_flops(m);
    return fwd + (fwd - layer_flops(m, 0)) + weights * fwd;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

/* One training step: the engine's step_train (src/engine/step.c), the one run_train_stage takes, on
 * one rank (its allreduces are then no-ops). */
static void bench_step(struct model *m, const float *x, const int *y, int n, const struct sgd *opt)
{
    struct comm self = COMM_SELF_INIT;
    double sums[STEP_SUMS] = {0}; /* no stop signal */
    if (step_train(m, x, y, n, n, NULL, &self, 0.01f, opt, sums)) {
        fprintf(stderr, "bench_train: the loss became %g: the benchmark diverged\n", sums[STEP_LOSS]);
        exit(1);
    }
}

/* Images per second over `steps` timed steps after `warmup` untimed ones. */
static double measure(struct model *m, const float *x, const int *y, int n, int mode,
                      const struct options *o)
{
    const struct sgd opt = {.momentum = 0.9, .weight_decay = 1e-4};
    double start = 0.0;
    for (int i = 0; i < o->warmup + o->steps; i++) {
        if (i == o->warmup)
            start = run_now();
        if (mode == MODE_EVAL)
            model_forward(m, x, n, false, NULL);
        else
            bench_step(m, x, y, n, &opt);
    }
    return o->steps * (double)n / (run_now() - start);
}

static void run_mode(struct model *m, const float *x, const int *y, int mode, double fraction,
                     const struct options *o)
{
    model_init(m, 1);
    struct stage_args a = {.seed = 1, .conv_fraction = fraction};
    double weights = 0.0;
    switch (mode) {
    case MODE_ALL:
        stage_all.set_trainable(m, &a);
        weights = 1.0;
        break;
    case MODE_BN:
    case MODE_EVAL:
        stage_bn.set_trainable(m, &a);
        break;
    case MODE_CONV_FRACTION:
        stage_conv_fraction.set_trainable(m, &a);
        weights = fraction;
        break;
    }
    double img_s = measure(m, x, y, o->batch, mode, o);
    double gflop = img_s * (mode == MODE_EVAL ? forward_flops(m) : train_flops(m, weights)) * 1e-9;
    char what[48];
    if (mode == MODE_CONV_FRACTION)
        snprintf(what, sizeof what, "conv_fraction %g", fraction);
    else
        snprintf(what, sizeof what, "%s", mode_names[mode]);
    const struct model_spec *s = &o->spec;
    printf("  %-20s %8.1f img/s  %6.1f useful GFLOP/s  peak RSS %.0f MiB\n", what, img_s, gflop,
           peak_rss_mib());
    printf("RESULT tool=revive mode=%s fraction=%g input=%dx%dx%d batch=%d threads=%d steps=%d "
           "warmup=%d conv_algo=%s img_s=%.2f peak_rss_mib=%.1f params=%zu flops=%.0f\n",
           mode_names[mode], fraction, s->in_c, s->in_h, s->in_w, o->batch, o->threads, o->steps,
           o->warmup, o->conv_algo, img_s, peak_rss_mib(), model_count(m).total, forward_flops(m));
    fflush(stdout);
}

/* A positive int, or exit with a one-line error naming the flag. */
static int int_arg(const char *flag, const char *v, int min)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < min || x > 1000000) {
        fprintf(stderr, "bench_train: %s '%s' must be a whole number of at least %d\n", flag, v, min);
        exit(2);
    }
    return (int)x;
}

static int choice(const char *flag, const char *v, const char *const *names, int n)
{
    int k = config_choice_index(names, n, v);
    if (k < 0) {
        fprintf(stderr, "bench_train: %s '%s' is not one of its names (pipeline params --help)\n", flag, v);
        exit(2);
    }
    return k;
}

static void parse(struct options *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_train: '%s' needs a value (or is unknown); see bench_train --help\n", f);
            exit(2);
        }
        const char *v = argv[++i];
        if (strcmp(f, "--mode") == 0) {
            o->mode = -1;
            for (int k = 0; k < MODE_COUNT; k++)
                if (strcmp(v, mode_names[k]) == 0)
                    o->mode = k;
            if (o->mode < 0) {
                fprintf(stderr, "bench_train: --mode '%s' is not all, bn, conv_fraction or eval\n", v);
                exit(2);
            }
        } else if (strcmp(f, "--fraction") == 0) {
            char *end;
            o->fraction = strtod(v, &end);
            if (*v == '\0' || *end != '\0' || !(o->fraction >= 0.0 && o->fraction <= 1.0)) {
                fprintf(stderr, "bench_train: --fraction '%s' must be a number from 0 to 1\n", v);
                exit(2);
            }
        } else if (strcmp(f, "--input") == 0) {
            char tail;
            if (sscanf(v, "%dx%dx%d%c", &o->spec.in_c, &o->spec.in_h, &o->spec.in_w, &tail) != 3) {
                fprintf(stderr, "bench_train: --input '%s' is not CxHxW (e.g. 3x32x32)\n", v);
                exit(2);
            }
        } else if (strcmp(f, "--arch") == 0) {
            o->spec.arch = (enum arch_kind)choice(f, v, arch_names, ARCH_COUNT);
        } else if (strcmp(f, "--stem") == 0) {
            o->spec.stem = (enum model_stem)choice(f, v, stem_names, STEM_COUNT);
        } else if (strcmp(f, "--norm") == 0) {
            o->spec.norm = (enum model_norm)choice(f, v, norm_names, NORM_COUNT);
        } else if (strcmp(f, "--head") == 0) {
            o->spec.head = (enum model_head)choice(f, v, head_names, HEAD_COUNT);
        } else if (strcmp(f, "--depth") == 0) {
            o->spec.depth = int_arg(f, v, 1);
        } else if (strcmp(f, "--width") == 0) {
            o->spec.width = int_arg(f, v, 1);
        } else if (strcmp(f, "--classes") == 0) {
            o->spec.classes = int_arg(f, v, 2);
        } else if (strcmp(f, "--batch") == 0) {
            o->batch = int_arg(f, v, 1);
        } else if (strcmp(f, "--steps") == 0) {
            o->steps = int_arg(f, v, 1);
        } else if (strcmp(f, "--warmup") == 0) {
            o->warmup = int_arg(f, v, 0);
        } else if (strcmp(f, "--threads") == 0) {
            o->threads = int_arg(f, v, 1);
        } else if (strcmp(f, "--conv-algo") == 0) {
            int algo = -1;
            for (int k = 0; k < CONV_ALGO_COUNT; k++) /* train.conv_algo's one name table */
                if (strcmp(v, conv_algo_names[k]) == 0)
                    algo = k;
            if (algo < 0) {
                fprintf(stderr, "bench_train: --conv-algo '%s' is not auto, im2col, winograd or onednn\n", v);
                exit(2);
            }
            o->spec.conv_algo = (enum conv_algo)algo;
            o->conv_algo = v;
        } else {
            fprintf(stderr, "bench_train: unknown option '%s'; see bench_train --help\n", f);
            exit(2);
        }
    }
}

int main(int argc, char **argv)
{
    blas_kernels_reexec(argv); /* before anything else: it may start the program again */
    struct options o = {
        .mode = -1,
        .fraction = 0.01,
        .spec = {.depth = 20, .width = 1, .in_c = 1, .in_h = 28, .in_w = 28, .classes = 10},
        .batch = 128,
        .steps = 16,
        .warmup = 3,
        .conv_algo = "auto",
    };
    struct config defaults; /* the Mixer's sizes: Mixer-pico, the config table's defaults */
    config_defaults(&defaults);
    o.spec.mixer = run_mixer_spec(&defaults);
    o.spec.mixer.zero_head = false; /* a head that trains from a zero start, in mode all, or a
                                       frozen one: drawn either way, as PyTorch's bench does */
    parse(&o, argc, argv);
    if (o.threads > 0)
        omp_set_num_threads(o.threads);
    o.threads = omp_get_max_threads();
    openblas_set_num_threads(1);
    struct model m;
    struct rv_error err;
    if (model_build(&m, &o.spec, o.batch, o.threads, &err)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 2;
    }
    size_t image = (size_t)o.spec.in_c * o.spec.in_h * o.spec.in_w;
    float *x = malloc((size_t)o.batch * image * sizeof(float));
    int *y = malloc((size_t)o.batch * sizeof(int));
    for (size_t i = 0; i < (size_t)o.batch * image; i++)
        x[i] = rng_normal(1, 1, i);
    for (int i = 0; i < o.batch; i++)
        y[i] = i % o.spec.classes;
    char net[96];
    model_families[o.spec.arch].describe(net, sizeof net, &o.spec);
    printf("bench_train: %s, %dx%dx%d, batch %d, %d thread%s, conv_algo %s, "
           "%d steps after %d warm-up\n", net, o.spec.in_c, o.spec.in_h,
           o.spec.in_w, o.batch, o.threads, o.threads > 1 ? "s" : "", o.conv_algo, o.steps, o.warmup);
    if (o.mode >= 0) {
        run_mode(&m, x, y, o.mode, o.fraction, &o);
    } else {
        run_mode(&m, x, y, MODE_ALL, 0.0, &o);
        run_mode(&m, x, y, MODE_BN, 0.0, &o);
        run_mode(&m, x, y, MODE_CONV_FRACTION, 0.01, &o);
        run_mode(&m, x, y, MODE_CONV_FRACTION, 0.04, &o);
        run_mode(&m, x, y, MODE_EVAL, 0.0, &o);
    }
    model_free(&m);
    free(x);
    free(y);
    return 0;
}
