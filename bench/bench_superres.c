/* Throughput of one super-resolution training step with the perceptual loss (issue 22), one
 * process, for bench/compare.py against bench/torch_superres.py (the same model and loss in
 * PyTorch):
 *
 *   build/bench/bench_superres [--batch 64] [--steps 10] [--warmup 2] [--threads T] [--lambda 0.05]
 *                              [--task x2|denoise]
 *
 * The step, as `pipeline superres` runs it (src/tasks/superres.c): the SRResNet x2 generator
 * (3 residual blocks, 32 channels) on 1x14x14 inputs in training mode; MSE against the 1x28x28
 * targets; the targets' features and the outputs' through a frozen VGG-11-BN (width 1, pool
 * head, Liu et al.'s init, evaluation mode) at taps group1.conv1, group2.conv1, group3.conv2;
 * the perceptual gradient back through it into the generator; SGD (lr 0.01, momentum 0.9).
 * Random images in [0, 1]: this measures the engine. Prints a human line and one
 * `RESULT key=value ...` line. --task denoise: the denoising step (superres.task = denoise,
 * configs/denoise.ini) instead: the scale-1 generator srresnet_x1 on 1x28x28 inputs (the targets
 * plus noise of σ 0.5, denoise.h), its output plus the input (superres.skip = input), the same
 * losses.
 */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "denoise.h"
#include "loss.h"
#include "lossnet.h"
#include "model.h"
#include "models.h"
#include "optim.h"
#include "rng.h"
#include "run.h" /* run_now */

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static int arg_int(int argc, char **argv, const char *name, int def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return atoi(argv[i + 1]);
    return def;
}

static double arg_double(int argc, char **argv, const char *name, double def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return atof(argv[i + 1]);
    return def;
}

int main(int argc, char **argv)
{
    int batch = arg_int(argc, argv, "--batch", 64), steps = arg_int(argc, argv, "--steps", 10);
    int warmup = arg_int(argc, argv, "--warmup", 2), threads = arg_int(argc, argv, "--threads", 0);
    double lambda = arg_double(argc, argv, "--lambda", 0.05);
    bool denoise = false;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--task") == 0)
            denoise = strcmp(argv[i + 1], "denoise") == 0;
    int side = denoise ? 28 : 14;
    if (threads <= 0)
        threads = omp_get_max_threads();
    omp_set_num_threads(threads);
    openblas_set_num_threads(1);

    struct rv_error err;
    struct model g;
    struct model_spec gs = {.arch = denoise ? ARCH_SRRESNET_X1 : ARCH_SRRESNET, .depth = 3,
                            .width = 1, .in_c = 1, .in_h = side, .in_w = side, .gamma_one = true};
    gs.classes = srresnet_classes(&gs);
    struct loss mse;
    struct lossnet ln;
    struct lossnet_spec ls = {.net = {.arch = ARCH_VGG, .depth = 11, .width = 1, .in_c = 1,
                                      .in_h = 28, .in_w = 28, .classes = 10},
                              .ntaps = 3, .taps = {"group1.conv1", "group2.conv1", "group3.conv2"},
                              .tap_weight = {1, 1, 1}, .init = LOSSNET_INIT_LIU, .seed = 1,
                              .mean = {0.286f}, .std = {0.353f}};
    if (model_build(&g, &gs, batch, threads, &err) || loss_mse(&mse, &g, NULL, &err) ||
        lossnet_open(&ln, &ls, batch, threads, &err)) {
        fprintf(stderr, "bench_superres: %s\n", err.msg);
        return 1;
    }
    model_init(&g, 1);
    size_t xn = (size_t)batch * side * side, tn = (size_t)batch * 28 * 28;
    float *x = malloc(xn * sizeof(float)), *t = malloc(tn * sizeof(float));
    for (size_t i = 0; i < tn; i++)
        t[i] = rng_uniform(1, rng_stream(RNG_TEST, 40, 0, 0), i);
    for (size_t i = 0; i < xn; i++) /* x2: the targets' 2×2 means */
        x[i] = t[(i / 14) * 56 + (i % 14) * 2];
    if (denoise) /* the targets plus noise */
        for (int i = 0; i < batch; i++)
            denoise_noisy(x + (size_t)i * 784, t + (size_t)i * 784, 784, 0.5, 0, DENOISE_TEST, i);
    struct sgd opt = {.momentum = 0.9};
    double start = 0.0;
    for (int k = 0; k < warmup + steps; k++) {
        if (k == warmup)
            start = run_now();
        model_zero_grad(&g);
        model_forward(&g, x, batch, true, NULL);
        if (denoise) /* superres.skip = input */
            for (size_t i = 0; i < tn; i++)
                g.logits[i] += x[i];
        mse.apply(&mse, &g, batch, batch, t);
        lossnet_set_target(&ln, t, batch);
        lossnet_loss(&ln, g.logits, batch, batch, lambda, g.d_logits);
        model_backward(&g, batch, NULL);
        sgd_step(g.values, g.momentum, g.grads, g.mask, g.total, 0.01f, &opt);
    }
    double secs = run_now() - start, img_s = steps * batch / secs;
    printf("revive %s step (SRResNet x%d + VGG-11-BN perceptual): batch %d, %d threads, "
           "%.1f img/s, peak RSS %.0f MiB\n", denoise ? "denoise" : "superres", denoise ? 1 : 2,
           batch, threads, img_s, peak_rss_mib());
    printf("RESULT tool=revive task=%s batch=%d threads=%d steps=%d img_s=%.2f "
           "peak_rss_mib=%.1f params=%zu\n", denoise ? "denoise" : "superres", batch, threads,
           steps, img_s, peak_rss_mib(), g.total);
    lossnet_close(&ln);
    model_free(&g);
    free(x);
    free(t);
    return 0;
}
