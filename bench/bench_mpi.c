/* Data-parallel throughput: ResNet-20 on 1×28×28, global batch 128 split over the MPI ranks,
 * synchronized BatchNorm and one gradient allreduce per step, as `pipeline run` trains.
 *
 *   mpirun -np 2 -x OMP_NUM_THREADS=1 build/bench/bench_mpi [seconds per figure, default 8]
 *   (bench/scaling.sh runs both layouts of a 2-core machine)
 *
 * Prints images/s for all parameters and BN-only, and the bytes each rank sends per step, and a
 * `RESULT key=value ...` line that bench/compare.py reads.
 */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "blas_kernels.h"
#include "comm.h"
#include "layers.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "run.h"
#include "stages.h"
#include "step.h"

static void reduce(double *buf, int n, void *ctx)
{
    comm_sum_doubles(ctx, buf, (size_t)n);
}

static double measure(struct model *m, struct comm *c, const float *x, const int *y, int n,
                      int global, double seconds, double *bytes_per_step)
{
    struct sgd opt = {.momentum = 0.9, .weight_decay = 1e-4};
    struct bn_reducer red = {reduce, c};
    const struct bn_reducer *r = c->size > 1 ? &red : NULL;
    long steps = 0;
    size_t bytes0 = 0;
    double start = 0;
    for (int warm = 1; warm >= 0; warm--) {
        int go = 1;
        while (go) {
            double sums[STEP_SUMS] = {0}; /* no stop signal */
            /* the engine's training step, as `pipeline run` takes it */
            if (step_train(m, x, y, n, global, r, c, 0.01f, &opt, sums)) {
                if (c->rank == 0)
                    fprintf(stderr, "bench_mpi: the loss became %g: the benchmark diverged\n", sums[STEP_LOSS]);
                comm_abort(1);
            }
            steps++;
            /* rank 0 decides when to stop, so every rank runs the same number of steps */
            double elapsed = run_now() - start;
            go = !warm && elapsed < seconds;
            comm_broadcast(c, &go, sizeof go, 0);
        }
        if (warm) {
            comm_barrier(c);
            steps = 0;
            bytes0 = c->bytes_sent;
            start = run_now();
        }
    }
    double elapsed = run_now() - start;
    *bytes_per_step = (double)(c->bytes_sent - bytes0) / (double)steps;
    return steps * (double)global / elapsed;
}

int main(int argc, char **argv)
{
    blas_kernels_reexec(argv); /* before anything else: it may start the program again */
    struct comm c;
    comm_init(&c, &argc, &argv);
    const int global = 128;
    int n = (int)((long)global * (c.rank + 1) / c.size - (long)global * c.rank / c.size);
    double seconds = argc > 1 ? atof(argv[1]) : 8.0;
    if (!(seconds > 0.0 && seconds < 1e6)) {
        if (c.rank == 0)
            fprintf(stderr, "bench_mpi: seconds per figure '%s' must be a positive number\n", argv[1]);
        comm_finalize(&c);
        return 2;
    }
    int threads = omp_get_max_threads();
    openblas_set_num_threads(1);
    struct model_spec spec = {.depth = 20, .width = 1, .in_c = 1, .in_h = 28, .in_w = 28, .classes = 10};
    struct model m;
    struct rv_error err;
    if (model_build(&m, &spec, n, threads, &err)) {
        fprintf(stderr, "bench_mpi: %s\n", err.msg);
        comm_abort(1);
    }
    model_init(&m, 1);
    float *x = malloc((size_t)n * 784 * sizeof(float));
    int *y = malloc((size_t)n * sizeof(int));
    for (size_t i = 0; i < (size_t)n * 784; i++)
        x[i] = rng_normal(1, (uint64_t)c.rank, i);
    for (int i = 0; i < n; i++)
        y[i] = i % 10;
    struct stage_args a = {.seed = 1};
    double bytes_all, bytes_bn;
    stage_all.set_trainable(&m, &a);
    double all = measure(&m, &c, x, y, n, global, seconds, &bytes_all);
    stage_bn.set_trainable(&m, &a);
    double bn = measure(&m, &c, x, y, n, global, seconds, &bytes_bn);
    if (c.rank == 0) {
        printf("bench_mpi: ResNet-20, 1x28x28, global batch %d, %d rank%s x %d thread%s\n", global,
               c.size, c.size > 1 ? "s" : "", threads, threads > 1 ? "s" : "");
        printf("  train all parameters  %8.1f img/s   %9.0f bytes sent per rank per step\n", all, bytes_all);
        printf("  train BN only         %8.1f img/s   %9.0f bytes sent per rank per step\n", bn, bytes_bn);
        printf("RESULT tool=revive_mpi ranks=%d threads=%d all_img_s=%.2f bn_img_s=%.2f "
               "bytes_all=%.0f bytes_bn=%.0f\n", c.size, threads, all, bn, bytes_all, bytes_bn);
    }
    model_free(&m);
    free(x);
    free(y);
    comm_finalize(&c);
    return 0;
}
