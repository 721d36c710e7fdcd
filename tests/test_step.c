/* The training step (src/engine/step.c): no allocation once running, and a non-finite loss leaves the
 * parameters alone; AdamW (src/engine/optim.c) against its closed form, and, through
 * `test_step --adamw-trace` and tests/optim.test.sh, against torch.optim.AdamW.
 *
 * Allocation is counted by replacing malloc, calloc and realloc in this executable: the dynamic
 * linker then sends every caller to them, OpenBLAS and libgomp included, not only revive's own
 * code (what -Wl,--wrap=malloc would catch). They forward to glibc's __libc_* entry points. A
 * sanitizer build brings its own allocator, so there the test only runs the steps.
 */
#include <malloc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "comm.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "stages.h"
#include "step.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COUNTING 0
#endif
#endif
#ifndef COUNTING
#define COUNTING 1
#endif

static int counting;          /* set only by the main thread, between steps */
static unsigned long allocations;

#if COUNTING
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

void *malloc(size_t n)
{
    if (__atomic_load_n(&counting, __ATOMIC_RELAXED))
        __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED);
    return __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
    if (__atomic_load_n(&counting, __ATOMIC_RELAXED))
        __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED);
    return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
    if (__atomic_load_n(&counting, __ATOMIC_RELAXED))
        __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED);
    return __libc_realloc(p, n);
}

#endif

#define N 6
#define IMAGE (2 * 8 * 8)

static void batch(float *x, int *y)
{
    for (size_t i = 0; i < (size_t)N * IMAGE; i++)
        x[i] = rng_normal(3, rng_stream(RNG_TEST, 1, 0, 0), i);
    for (int i = 0; i < N; i++)
        y[i] = i % 3;
}

static void build(struct model *m, enum conv_algo algo)
{
    struct model_spec s = {.depth = 8, .width = 1, .in_c = 2, .in_h = 8, .in_w = 8, .classes = 3,
                           .conv_algo = algo};
    assert_int_equal(model_build(m, &s, N, 2, NULL), 0);
    model_init(m, 7);
}

/* From the second step on, a training step and an evaluation forward allocate nothing: for
 * every algorithm, every kind of weight gradient (dense, masked, none), 1 and 2 threads.
 * The one exception is oneDNN's dnnl_primitive_execute, which puts its arguments in a
 * std::unordered_map (a node per argument and a bucket array) and frees it before returning:
 * with train.conv_algo = onednn the steps allocate, but every allocation is freed within the
 * step: the heap holds as many bytes after the steps as before (glibc's mallinfo2). */
static void test_steady_state_step_allocates_nothing(void **state)
{
    (void)state;
    const struct stage_kind *kinds[] = {&stage_all, &stage_bn, &stage_conv_fraction};
#if COUNTING
    {   /* the counter sees an allocation inside the library: BatchNorm without its scratch */
        struct batchnorm l;
        batchnorm_init(&l, 1, 1, 2);
        float in[2] = {1, 2}, out[2], mean, invstd, rm = 0, rv = 1, g = 1, b = 0;
        allocations = 0;
        counting = 1;
        batchnorm_forward_train(out, &mean, &invstd, &rm, &rv, in, &g, &b, &l, 1, NULL, NULL);
        counting = 0;
        assert_true(allocations >= 1);
    }
#endif
    float x[N * IMAGE];
    int y[N];
    batch(x, y);
    struct comm self = COMM_SELF_INIT;
    struct sgd opt = {.momentum = 0.9, .weight_decay = 1e-4};
    int saved = omp_get_max_threads();
    for (int algo = CONV_ALGO_AUTO; algo < CONV_ALGO_COUNT; algo++)
        for (int k = 0; k < 3; k++)
            for (int t = 1; t <= 2; t++) {
                omp_set_num_threads(t);
                struct model m;
                build(&m, (enum conv_algo)algo);
                struct stage_args a = {.seed = 1, .conv_fraction = 0.05};
                kinds[k]->set_trainable(&m, &a);
                double sums[STEP_SUMS] = {0};
                assert_int_equal(step_train(&m, x, y, N, N, NULL, &self, 0.05f, &opt, sums), 0);
                model_forward(&m, x, N, false, NULL);
                struct mallinfo2 before = mallinfo2();
                allocations = 0;
                counting = 1;
                for (int s = 0; s < 3; s++) {
                    step_train(&m, x, y, N, N, NULL, &self, 0.05f, &opt, sums);
                    model_forward(&m, x, N, false, NULL);
                }
                counting = 0;
                struct mallinfo2 after = mallinfo2();
                int dnnl = 0; /* AUTO may mean oneDNN (on AVX-512) */
                for (int i = 0; i < m.nunits; i++)
                    dnnl |= model_unit_conv(&m, i)->onednn;
                if (dnnl) {
                    if (algo == CONV_ALGO_ONEDNN && k == 0 && t == 1)
                        print_message("onednn: %lu allocations, all freed, in 3 steps\n",
                                      allocations);
                    assert_int_equal(after.uordblks + after.hblkhd, before.uordblks + before.hblkhd);
                } else {
                    if (allocations)
                        print_error("algo %d, stage %s, %d threads: %lu allocations in 3 steps\n",
                                    algo, kinds[k]->help, t, allocations);
                    assert_int_equal(allocations, 0);
                }
                model_free(&m);
            }
    omp_set_num_threads(saved);
}

/* A NaN in the batch makes the loss NaN: the step says so and moves nothing. */
static void test_nonfinite_loss_leaves_parameters(void **state)
{
    (void)state;
    struct model m;
    build(&m, CONV_ALGO_AUTO);
    float x[N * IMAGE];
    int y[N];
    batch(x, y);
    x[5] = NAN;
    float *before = malloc(m.total * sizeof(float));
    memcpy(before, m.values, m.total * sizeof(float));
    struct comm self = COMM_SELF_INIT;
    struct sgd opt = {.momentum = 0.9};
    double sums[STEP_SUMS] = {0};
    assert_int_equal(step_train(&m, x, y, N, N, NULL, &self, 0.05f, &opt, sums), -1);
    assert_false(isfinite(sums[STEP_LOSS]));
    assert_memory_equal(before, m.values, m.total * sizeof(float));
    x[5] = 0.0f; /* and a finite batch moves them */
    assert_int_equal(step_train(&m, x, y, N, N, NULL, &self, 0.05f, &opt, sums), 0);
    assert_true(memcmp(before, m.values, m.total * sizeof(float)) != 0);
    free(before);
    model_free(&m);
}

/* An update that overflows while the loss is still finite (issue 11 item 5: such a step was
 * saved to last.h5): the step fails, and counts the values it made non-finite. */
static void test_overflowing_update_fails(void **state)
{
    (void)state;
    struct model m;
    build(&m, CONV_ALGO_AUTO);
    float x[N * IMAGE];
    int y[N];
    batch(x, y);
    struct comm self = COMM_SELF_INIT;
    /* An output bias near float's largest value leaves the loss finite (it is computed in
     * double); weight decay then pushes it past the largest float in the update. */
    m.values[m.params[m.fc_b].offset] = 3e38f;
    struct sgd opt = {.momentum = 0.0, .weight_decay = 1.0};
    double sums[STEP_SUMS] = {0};
    assert_int_equal(step_train(&m, x, y, N, N, NULL, &self, 10.0f, &opt, sums), -1);
    assert_true(isfinite(sums[STEP_LOSS]));
    assert_true(sums[STEP_NONFINITE] > 0);
    model_free(&m);
}

/* AdamW's steady-state step_train allocates nothing either (its state is allocated once, by
 * optim_alloc_state). */
static void test_adamw_step_allocates_nothing(void **state)
{
    (void)state;
    float x[N * IMAGE];
    int y[N];
    batch(x, y);
    struct comm self = COMM_SELF_INIT;
    struct sgd opt = {.kind = OPT_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01};
    struct model m;
    build(&m, CONV_ALGO_IM2COL);
    optim_alloc_state(&m, OPT_ADAMW);
    double sums[STEP_SUMS] = {0};
    opt.t = 1;
    assert_int_equal(step_train(&m, x, y, N, N, NULL, &self, 1e-3f, &opt, sums), 0);
    allocations = 0;
    counting = 1;
    for (opt.t = 2; opt.t <= 4; opt.t++)
        assert_int_equal(step_train(&m, x, y, N, N, NULL, &self, 1e-3f, &opt, sums), 0);
    counting = 0;
    assert_int_equal(allocations, 0);
    model_free(&m);
}

/* AdamW's first two steps in closed form (β1 = 0.9, β2 = 0.999, lr 0.1, wd 0.5, ε 1e-8), with
 * gradients g1, g2 given per entry:
 *   t = 1: m̂ = g1, v̂ = g1²,  w1 = w0·(1 − lr·wd) − lr·g1 / (|g1| + ε)
 *   t = 2: m = 0.09 g1 + 0.1 g2 over 1 − 0.81 = 0.19; v = 0.000999 g1² + 0.001 g2² over
 *          1 − 0.998001 = 0.001999;  w2 = w1·(1 − lr·wd) − lr·m̂ / (√v̂ + ε)
 * Without the bias correction the first update would be lr·0.1·g/(√0.001·|g|) ≈ 3.2·lr; with the
 * decay added to the gradient (Adam's L2) instead of decoupled, it would be about lr whatever w0.
 * A masked entry does not move, nor does its state. */
static void test_adamw_closed_form(void **state)
{
    (void)state;
    enum { K = 5 };
    float w[K] = {1.0f, -2.0f, 0.5f, 3.0f, 0.25f}, w0[K];
    const float g1[K] = {0.3f, -0.02f, 4.0f, 0.0f, -1.0f}, g2[K] = {-0.1f, 0.05f, 2.0f, 1.0f, 0.5f};
    const float mask[K] = {1, 1, 1, 1, 0};
    float m1[K] = {0}, m2[K] = {0};
    memcpy(w0, w, sizeof w);
    const double lr = 0.1, wd = 0.5, eps = 1e-8;
    struct sgd opt = {.kind = OPT_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = eps, .weight_decay = wd, .t = 1};
    assert_int_equal(adamw_step(w, m1, m2, g1, mask, K, (float)lr, &opt), 0);
    double w1[K];
    for (int i = 0; i < K - 1; i++) {
        w1[i] = w0[i] * (1 - lr * wd) - lr * g1[i] / (fabs(g1[i]) + eps);
        assert_float_equal(w[i], w1[i], 2e-6);
    }
    opt.t = 2;
    assert_int_equal(adamw_step(w, m1, m2, g2, mask, K, (float)lr, &opt), 0);
    for (int i = 0; i < K - 1; i++) {
        double mh = (0.09 * g1[i] + 0.1 * g2[i]) / 0.19;
        double vh = (0.000999 * (double)g1[i] * g1[i] + 0.001 * (double)g2[i] * g2[i]) / 0.001999;
        double want = w1[i] * (1 - lr * wd) - lr * mh / (sqrt(vh) + eps);
        assert_float_equal(w[i], want, 2e-6);
    }
    assert_true(w[K - 1] == w0[K - 1] && m1[K - 1] == 0.0f && m2[K - 1] == 0.0f);
}

/* `test_step --adamw-trace`: AdamW over 4 tensors' worth of entries for 5 steps, gradients a
 * fixed function of (entry, step), printed as "w m v" per entry with %.9g; tests/optim.test.sh
 * runs torch.optim.AdamW over the same and compares. */
enum { TRACE_N = 12, TRACE_STEPS = 5 };
static float trace_grad(int i, int t)
{
    return (float)(sin(0.7 * i + 1.3 * t) * (1 + i % 3));
}
static int adamw_trace(void)
{
    float w[TRACE_N], m1[TRACE_N] = {0}, m2[TRACE_N] = {0}, g[TRACE_N], mask[TRACE_N];
    for (int i = 0; i < TRACE_N; i++) {
        w[i] = (float)(0.5 * cos(0.3 * i) * (i % 4 + 1));
        mask[i] = 1.0f;
    }
    struct sgd opt = {.kind = OPT_ADAMW, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1};
    for (int t = 1; t <= TRACE_STEPS; t++) {
        for (int i = 0; i < TRACE_N; i++)
            g[i] = trace_grad(i, t);
        opt.t = t;
        adamw_step(w, m1, m2, g, mask, TRACE_N, 0.05f, &opt);
    }
    for (int i = 0; i < TRACE_N; i++)
        printf("%.9g %.9g %.9g\n", w[i], m1[i], m2[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--adamw-trace") == 0)
        return adamw_trace();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_state_step_allocates_nothing),
        cmocka_unit_test(test_nonfinite_loss_leaves_parameters),
        cmocka_unit_test(test_overflowing_update_fails),
        cmocka_unit_test(test_adamw_step_allocates_nothing),
        cmocka_unit_test(test_adamw_closed_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
