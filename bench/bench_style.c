/* One optimization step of image-space style transfer, one process: the loss and its gradient
 * with respect to the image (forward in eval mode, the Gram style loss on five taps, backward to
 * the input) through a frozen random ImageNet ResNet-18, as `pipeline style` evaluates it
 * (src/tasks/style_setup.c). bench/torch_style.py does the same in PyTorch; bench/compare.py
 * runs them interleaved.
 *
 *   build/bench/bench_style [--input 3x128x128] [--swag none|softmax_all|softmax_channels|scale]
 *                           [--steps N] [--warmup N] [--threads T]
 *
 * Prints a human line and one `RESULT key=value ...` line (evaluations/s, ms each, peak RSS). */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "blas_kernels.h"
#include "lossnet.h"
#include "model.h"
#include "rng.h"
#include "style_loss.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    blas_kernels_reexec(argv);
    int c = 3, h = 128, w = 128, steps = 10, warmup = 2, threads = 0;
    enum swag_form swag = SWAG_NONE;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--input") && sscanf(v, "%dx%dx%d", &c, &h, &w) == 3)
            i++;
        else if (!strcmp(argv[i], "--steps") && (steps = atoi(v)) > 0)
            i++;
        else if (!strcmp(argv[i], "--warmup") && (warmup = atoi(v)) >= 0)
            i++;
        else if (!strcmp(argv[i], "--threads") && (threads = atoi(v)) > 0)
            i++;
        else if (!strcmp(argv[i], "--swag")) {
            int k = 0;
            while (k < SWAG_COUNT && strcmp(swag_names[k], v))
                k++;
            if (k == SWAG_COUNT) {
                fprintf(stderr, "bench_style: --swag '%s' is not none, softmax_all, softmax_channels, scale\n", v);
                return 2;
            }
            swag = (enum swag_form)k;
            i++;
        } else {
            fprintf(stderr, "usage: bench_style [--input CxHxW] [--swag FORM] [--steps N] "
                            "[--warmup N] [--threads T]\n");
            return 2;
        }
    }
    if (threads > 0)
        omp_set_num_threads(threads);
    threads = omp_get_max_threads();
    openblas_set_num_threads(1);
    static const char *const taps[] = {"stem", "layer1.1", "layer2.1", "layer3.1", "layer4.1"};
    enum { NT = 5 };
    struct model_spec spec = {.arch = ARCH_IMAGENET_RESNET, .depth = 18, .width = 1, .in_c = c,
                              .in_h = h, .in_w = w, .classes = 1000, .input_grad = true,
                              .taps = taps, .ntaps = NT};
    struct model m;
    struct rv_error err;
    if (model_build(&m, &spec, 1, threads, &err)) {
        fprintf(stderr, "bench_style: %s\n", err.msg);
        return 1;
    }
    lossnet_init_weights(&m, LOSSNET_INIT_KAIMING, 0, 1);
    memset(m.mask, 0, m.total * sizeof(float));
    model_mask_changed(&m);
    size_t n = (size_t)c * h * w;
    float *x = malloc(n * sizeof(float)), *grad = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = rng_normal(1, rng_stream(RNG_TEST, 1, 0, 0), i);
    struct style_term t[NT];
    struct loss l[NT];
    model_forward(&m, x, 1, false, NULL); /* the target: another image's Grams */
    for (int k = 0; k < NT; k++) {
        if (style_term_init(&t[k], &m, taps[k], k >= 3 ? swag : SWAG_NONE, 0.001f, &err)) {
            fprintf(stderr, "bench_style: %s\n", err.msg);
            return 1;
        }
        t[k].style_weight = 1e6;
        style_term_capture_gram(&t[k], &m);
        loss_style(&l[k], &t[k]);
    }
    for (size_t i = 0; i < n; i++)
        x[i] = rng_normal(1, rng_stream(RNG_TEST, 2, 0, 0), i);
    double loss = 0.0, t0 = 0.0;
    for (int s = 0; s < warmup + steps; s++) {
        if (s == warmup)
            t0 = now();
        model_zero_grad(&m);
        memset(m.d_logits, 0, (size_t)spec.classes * sizeof(float));
        model_forward(&m, x, 1, false, NULL);
        loss = 0.0;
        for (int k = 0; k < NT; k++)
            loss += l[k].apply(&l[k], &m, 1, 1, &t[k]);
        model_backward(&m, 1, NULL);
        memcpy(grad, m.d_x, n * sizeof(float));
        for (size_t i = 0; i < n; i++) /* a plain gradient step, so every evaluation differs */
            x[i] -= 1e-3f * grad[i];
    }
    double sec = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("bench_style: ResNet-18 random, %dx%dx%d, swag %s on layer3.1 and layer4.1, %d threads: "
           "%.1f ms per evaluation (loss %.4g)\n", c, h, w, swag_names[swag], threads,
           1e3 * sec / steps, loss);
    printf("RESULT evals_s=%.4f ms=%.3f rss_mib=%.1f threads=%d\n", steps / sec, 1e3 * sec / steps,
           ru.ru_maxrss / 1024.0, threads);
    for (int k = 0; k < NT; k++)
        style_term_free(&t[k]);
    free(x);
    free(grad);
    model_free(&m);
    return 0;
}
