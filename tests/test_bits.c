/* The layer-list engine against the engine it replaced (tests/old_resnet.c, a frozen copy):
 * for the CIFAR ResNet, the same parameter table and units, and bit-identical (memcmp) logits,
 * gradients, running statistics and parameters after a few SGD steps, for ResNet-20 and a
 * WRN, under every trainable set the stages use, every conv_algo, and 1 and 2 threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <omp.h>

#include "model.h"
#include "optim.h"
#include "rng.h"

#include "old_resnet.c"

enum mask_kind { MASK_ALL, MASK_BN, MASK_OUTPUT, MASK_SPARSE, MASK_UPPER, MASK_KINDS };

/* The same mask on both: all; γ, β; output only; γ, β and 5 % of conv weights (sparse weight
 * gradients); everything from the middle unit up (backward stops below it). */
static float mask_value(const struct model *m, enum mask_kind k, int p, size_t i)
{
    const struct param *pa = &m->params[p];
    switch (k) {
    case MASK_ALL: return 1.0f;
    case MASK_BN: return pa->kind == PARAM_GAMMA || pa->kind == PARAM_BETA;
    case MASK_OUTPUT: return pa->kind == PARAM_OUTPUT_W || pa->kind == PARAM_OUTPUT_B;
    case MASK_SPARSE:
        if (pa->kind == PARAM_CONV)
            return rng_uniform(7, rng_stream(RNG_INIT, 99, (uint64_t)p, 0), i) < 0.05f;
        return pa->kind == PARAM_GAMMA || pa->kind == PARAM_BETA;
    case MASK_UPPER: return pa->unit < 0 || pa->unit >= m->nunits / 2;
    case MASK_KINDS: break;
    }
    return 0.0f;
}

static void run(int depth, int width, enum conv_algo algo, int threads, enum mask_kind mk)
{
    omp_set_num_threads(threads);
    const int n = 6, steps = 2;
    struct model_spec s = {.depth = depth, .width = width, .in_c = 3, .in_h = 12, .in_w = 12,
                           .classes = 5, .conv_algo = algo};
    struct model a;
    struct old_model b;
    assert_int_equal(model_build(&a, &s, n, threads, NULL), 0);
    assert_int_equal(old_model_build(&b, &s, n, threads, NULL), 0);
    assert_int_equal(a.nparams, b.nparams);
    assert_int_equal(a.nunits, b.nunits);
    assert_int_equal(a.total, b.total);
    assert_int_equal(a.running_total, b.running_total);
    for (int p = 0; p < a.nparams; p++) {
        assert_string_equal(a.params[p].name, b.params[p].name);
        assert_int_equal(a.params[p].offset, b.params[p].offset);
        assert_int_equal(a.params[p].kind, b.params[p].kind);
        assert_int_equal(a.params[p].unit, b.params[p].unit);
    }
    for (int u = 0; u < a.nunits; u++) {
        assert_string_equal(a.units[u].name, b.units[u].name);
        assert_int_equal(a.units[u].w, b.units[u].w);
        assert_int_equal(a.units[u].running, b.units[u].running);
        assert_int_equal(a.units[u].channels, b.units[u].conv.out_c);
        assert_int_equal(a.units[u].shortcut, b.units[u].shortcut);
        assert_int_equal(model_unit_conv(&a, u)->winograd, b.units[u].conv.winograd);
        assert_int_equal(model_unit_conv(&a, u)->onednn, b.units[u].conv.onednn);
    }
    model_init(&a, 11);
    old_model_init(&b, 11);
    assert_memory_equal(a.values, b.values, a.total * sizeof(float));
    for (int p = 0; p < a.nparams; p++)
        for (size_t i = 0; i < a.params[p].count; i++)
            a.mask[a.params[p].offset + i] = b.mask[a.params[p].offset + i] = mask_value(&a, mk, p, i);
    model_mask_changed(&a);
    old_model_mask_changed(&b);

    size_t image = 3 * 12 * 12;
    float *x = malloc(n * image * sizeof(float));
    int y[6];
    struct sgd opt = {.momentum = 0.9, .weight_decay = 5e-4, .nesterov = false};
    for (int step = 0; step < steps; step++) {
        for (size_t i = 0; i < n * image; i++)
            x[i] = rng_normal(5, rng_stream(RNG_INIT, 77, (uint64_t)step, 0), i);
        for (int i = 0; i < n; i++)
            y[i] = (i + step) % 5;
        model_zero_grad(&a);
        old_model_zero_grad(&b);
        model_forward(&a, x, n, true, NULL);
        old_model_forward(&b, x, n, true, NULL);
        assert_memory_equal(a.logits, b.logits, (size_t)n * 5 * sizeof(float));
        softmax_ce_forward_backward(a.d_logits, NULL, a.logits, y, n, 5, n);
        softmax_ce_forward_backward(b.d_logits, NULL, b.logits, y, n, 5, n);
        model_backward(&a, n, NULL);
        old_model_backward(&b, n, NULL);
        assert_memory_equal(a.grads, b.grads, a.total * sizeof(float));
        assert_memory_equal(a.running_stats, b.running_stats, a.running_total * sizeof(float));
        sgd_step(a.values, a.momentum, a.grads, a.mask, a.total, 0.1f, &opt);
        sgd_step(b.values, b.momentum, b.grads, b.mask, b.total, 0.1f, &opt);
        assert_memory_equal(a.values, b.values, a.total * sizeof(float));
    }
    model_forward(&a, x, n, false, NULL);
    old_model_forward(&b, x, n, false, NULL);
    assert_memory_equal(a.logits, b.logits, (size_t)n * 5 * sizeof(float));
    free(x);
    model_free(&a);
    old_model_free(&b);
}

/* Every algorithm at 1 and 2 threads training everything; every trainable set at 2 threads
 * under AUTO and IM2COL (the sets change which work runs, not how). */
static void check_all(int depth, int width)
{
    for (int algo = CONV_ALGO_AUTO; algo < CONV_ALGO_COUNT; algo++)
        for (int threads = 1; threads <= 2; threads++)
            run(depth, width, (enum conv_algo)algo, threads, MASK_ALL);
    for (int mk = 1; mk < MASK_KINDS; mk++) {
        run(depth, width, CONV_ALGO_AUTO, 2, (enum mask_kind)mk);
        if (depth == 20) /* the WRN has the same code paths */
            run(depth, width, CONV_ALGO_IM2COL, 2, (enum mask_kind)mk);
    }
}

static void test_resnet20_bits(void **state)
{
    (void)state;
    check_all(20, 1);
}

static void test_wrn_bits(void **state)
{
    (void)state;
    check_all(14, 2);
}

/* The new plan needs no more memory than the old one (ResNet-20, 1×28×28, batch 128). */
static void test_memory_not_more(void **state)
{
    (void)state;
    struct model_spec s = {.depth = 20, .width = 1, .in_c = 1, .in_h = 28, .in_w = 28, .classes = 10};
    struct model a;
    struct old_model b;
    assert_int_equal(model_build(&a, &s, 128, 1, NULL), 0);
    assert_int_equal(old_model_build(&b, &s, 128, 1, NULL), 0);
    print_message("arena: layer list %.1f MB, old engine %.1f MB; model_bytes %.1f MB\n",
                  a.arena_bytes / 1e6, b.arena_bytes / 1e6, model_bytes(&a, 128) / 1e6);
    assert_true(a.arena_bytes <= b.arena_bytes);
    model_free(&a);
    old_model_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resnet20_bits),
        cmocka_unit_test(test_wrn_bits),
        cmocka_unit_test(test_memory_not_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
