/* Training and evaluation throughput of ResNet-20 on 1×28×28 images (Fashion-MNIST's shape),
 * batch 128: images/s for all parameters, BN-only, and evaluation, with effective GFLOP/s.
 *
 *   make bench            or   build/bench/bench_train [depth] [batch] [seconds per figure]
 *
 * Data loading is left out (random inputs): this measures the engine. Threads: OMP_NUM_THREADS
 * (default: all cores). The PyTorch 1.13 reference on the 2-core machine of docs/BENCHMARKS.md is
 * ~600 img/s (all), 750–850 (BN-only), 1450–1700 (eval).
 */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "run.h"
#include "stages.h"

/* Multiply-adds ×2 of every conv and the output layer, for one image forward. */
static double forward_flops(const struct model *m)
{
    double f = 0;
    for (int i = 0; i < m->nunits; i++) {
        const struct conv2d *c = &m->units[i].conv;
        f += 2.0 * c->out_c * c->out_h * c->out_w * (double)c->in_c * c->k * c->k;
    }
    return f + 2.0 * m->features * m->spec.classes;
}

/* Training FLOPs per image: forward, input gradients (not for the stem), weight gradients (only
 * where weights train). */
static double train_flops(const struct model *m, bool weights)
{
    double fwd = forward_flops(m), stem = 0;
    const struct conv2d *c = &m->units[0].conv;
    stem = 2.0 * c->out_c * c->out_h * c->out_w * (double)c->in_c * c->k * c->k;
    return fwd + (fwd - stem) + (weights ? fwd : 0.0);
}

static double measure(struct model *m, const float *x, const int *y, int n, int mode, double seconds)
{
    struct sgd opt = {.momentum = 0.9, .weight_decay = 1e-4};
    int iters = 0;
    double start = run_now(), now = start;
    /* one warm-up step, then as many as fit in `seconds` */
    for (int warm = 1; warm >= 0; warm--) {
        do {
            if (mode == 2) {
                model_forward(m, x, n, false, NULL);
            } else {
                model_forward(m, x, n, true, NULL);
                softmax_ce_forward_backward(m->d_logits, NULL, m->logits, y, n, m->spec.classes, n);
                model_zero_grad(m);
                model_backward(m, n, NULL);
                sgd_step(m->values, m->momentum, m->grads, m->mask, m->total, 0.01f, &opt);
            }
            iters++;
            now = run_now();
        } while (!warm && now - start < seconds);
        if (warm) {
            iters = 0;
            start = run_now();
        }
    }
    return iters * (double)n / (now - start);
}

int main(int argc, char **argv)
{
    int depth = argc > 1 ? atoi(argv[1]) : 20, batch = argc > 2 ? atoi(argv[2]) : 128;
    double seconds = argc > 3 ? atof(argv[3]) : 8.0;
    int threads = omp_get_max_threads();
    openblas_set_num_threads(1);
    struct model_spec spec = {.depth = depth, .width = 1, .in_c = 1, .in_h = 28, .in_w = 28, .classes = 10};
    struct model m;
    struct rv_error err;
    if (model_build(&m, &spec, batch, threads, &err)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    model_init(&m, 1);
    float *x = malloc((size_t)batch * 784 * sizeof(float));
    int *y = malloc((size_t)batch * sizeof(int));
    for (size_t i = 0; i < (size_t)batch * 784; i++)
        x[i] = rng_normal(1, 1, i);
    for (int i = 0; i < batch; i++)
        y[i] = i % 10;
    printf("bench_train: ResNet-%d, 1x28x28, batch %d, %d thread%s\n", depth, batch, threads,
           threads > 1 ? "s" : "");
    struct stage_args a = {.seed = 1};
    stage_all.set_trainable(&m, &a);
    double all = measure(&m, x, y, batch, 0, seconds);
    printf("  train all parameters  %8.1f img/s  %6.1f GFLOP/s  (PyTorch 1.13 ref ~600 img/s: %.2fx)\n",
           all, all * train_flops(&m, true) * 1e-9, all / 600.0);
    stage_bn.set_trainable(&m, &a);
    double bn = measure(&m, x, y, batch, 1, seconds);
    printf("  train BN only         %8.1f img/s  %6.1f GFLOP/s  (ref 750-850 img/s: %.2fx of 800)\n",
           bn, bn * train_flops(&m, false) * 1e-9, bn / 800.0);
    double ev = measure(&m, x, y, batch, 2, seconds);
    printf("  evaluate              %8.1f img/s  %6.1f GFLOP/s  (ref 1450-1700 img/s: %.2fx of 1575)\n",
           ev, ev * forward_flops(&m) * 1e-9, ev / 1575.0);
    model_free(&m);
    free(x);
    free(y);
    return 0;
}
