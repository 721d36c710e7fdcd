/* The ResNet: parameter counts against the paper's table, initialization, whole-model gradients
 * against central differences, frozen-part skipping, and determinism. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <omp.h>

#include "model.h"
#include "rng.h"
#include "stages.h"

static struct param_counts counts(int depth, int width)
{
    struct model_spec s = {.depth = depth, .width = width, .in_c = 3, .in_h = 32, .in_w = 32, .classes = 10};
    struct model m;
    assert_int_equal(model_build(&m, &s, 0, 1, NULL), 0);
    struct param_counts c = model_count(&m);
    model_free(&m);
    return c;
}

/* The paper's table (Frankle et al. 2021) prints three significant digits, rounded or cut
 * (WRN-14-2 has 696,618 parameters, printed 696K): so within one unit of the last digit. */
static void within(size_t got, double want, double unit)
{
    if (fabs((double)got - want) >= unit)
        fail_msg("count %zu, paper says %.0f (to %.0f)", got, want, unit);
}

static void test_paper_parameter_counts(void **state)
{
    (void)state;
    struct param_counts c = counts(14, 1);
    within(c.total, 175e3, 1e3);
    assert_int_equal(c.bn, 1120);
    assert_int_equal(c.output, 650);
    assert_int_equal(c.shortcut, 2560);
    c = counts(32, 1);
    within(c.total, 467e3, 1e3);
    within(c.bn, 2.46e3, 10);
    c = counts(56, 1);
    within(c.total, 856e3, 1e3);
    within(c.bn, 4.26e3, 10);
    c = counts(110, 1);
    within(c.total, 1.73e6, 1e4);
    within(c.bn, 8.29e3, 10);
    c = counts(14, 2);
    within(c.total, 696e3, 1e3);
    within(c.bn, 2.24e3, 10);
    within(c.output, 1.29e3, 10);
    within(c.shortcut, 10.2e3, 100);
    c = counts(14, 8);
    within(c.total, 11.1e6, 1e5);
    within(c.bn, 8.96e3, 10);
    within(c.output, 5.13e3, 10);
    within(c.shortcut, 164e3, 1e3);
    c = counts(20, 1); /* the usual ResNet-20: 272,474 */
    assert_int_equal(c.total, 272474);
}

static void test_bad_depth_is_an_error(void **state)
{
    (void)state;
    struct model_spec s = {.depth = 21, .width = 1, .in_c = 1, .in_h = 28, .in_w = 28, .classes = 10};
    struct model m;
    struct rv_error err;
    assert_int_equal(model_build(&m, &s, 0, 1, &err), -1);
    assert_non_null(strstr(err.msg, "6n+2"));
}

static void tiny_algo(struct model *m, int batch, enum conv_algo algo)
{
    struct model_spec s = {.depth = 8, .width = 1, .in_c = 2, .in_h = 8, .in_w = 8, .classes = 3,
                           .conv_algo = algo};
    assert_int_equal(model_build(m, &s, batch, 2, NULL), 0);
    model_init(m, 7);
}

static void tiny(struct model *m, int batch) { tiny_algo(m, batch, CONV_ALGO_AUTO); }

static void test_init_statistics(void **state)
{
    (void)state;
    struct model_spec s = {.depth = 20, .width = 1, .in_c = 3, .in_h = 32, .in_w = 32, .classes = 10};
    struct model m;
    assert_int_equal(model_build(&m, &s, 0, 1, NULL), 0);
    model_init(&m, 1);
    int p = model_find_param(&m, "seg3.block0.conv2.conv"); /* 64·64·9 weights, fan-in 576 */
    assert_true(p >= 0);
    const struct param *pa = &m.params[p];
    double sum = 0, sq = 0;
    for (size_t i = 0; i < pa->count; i++) {
        sum += m.values[pa->offset + i];
        sq += (double)m.values[pa->offset + i] * m.values[pa->offset + i];
    }
    double mean = sum / pa->count, sd = sqrt(sq / pa->count - mean * mean);
    assert_true(fabs(mean) < 0.01);
    assert_true(fabs(sd - sqrt(2.0 / 576)) < 0.02 * sqrt(2.0 / 576));
    const struct param *g = &m.params[model_find_param(&m, "stem.gamma")];
    for (size_t i = 0; i < g->count; i++) {
        float v = m.values[g->offset + i];
        assert_true(v >= 0.0f && v < 1.0f);
    }
    const struct param *b = &m.params[model_find_param(&m, "stem.beta")];
    for (size_t i = 0; i < b->count; i++)
        assert_true(m.values[b->offset + i] == 0.0f);
    /* Same seed, same bits; the value function agrees with what init wrote. */
    assert_true(model_init_value(&m, 1, p, 5) == m.values[pa->offset + 5]);
    model_free(&m);
}

static void fill_batch(float *x, int *y, int n, size_t image)
{
    for (size_t i = 0; i < (size_t)n * image; i++)
        x[i] = rng_normal(3, rng_stream(RNG_TEST, 1, 0, 0), i);
    for (int i = 0; i < n; i++)
        y[i] = i % 3;
}

/* The mean cross-entropy of the batch, in training mode (batch statistics). */
static double loss_of(struct model *m, const float *x, const int *y, int n)
{
    model_forward(m, x, n, true, NULL);
    return softmax_ce_forward_backward(m->d_logits, NULL, m->logits, y, n, m->spec.classes, n) / n;
}

static void test_whole_model_gradient(void **state)
{
    (void)state;
    struct model m;
    tiny(&m, 4);
    const int n = 4;
    size_t image = 2 * 8 * 8;
    float x[4 * 2 * 8 * 8];
    int y[4];
    fill_batch(x, y, n, image);
    float *running = malloc(m.running_total * sizeof(float));
    memcpy(running, m.running_stats, m.running_total * sizeof(float));
    loss_of(&m, x, y, n);
    model_zero_grad(&m);
    model_backward(&m, n, NULL);
    float *grads = malloc(m.total * sizeof(float));
    memcpy(grads, m.grads, m.total * sizeof(float));
    /* A few entries of every parameter, by central differences (h = 1e-2, loss in double). The
     * network is piecewise smooth; a ReLU kink inside ±h can spoil one estimate, so we allow
     * 2 misses in all the checked entries. */
    int checked = 0, misses = 0;
    for (int p = 0; p < m.nparams; p++) {
        const struct param *pa = &m.params[p];
        for (int k = 0; k < 3; k++) {
            size_t i = rng_below(5, rng_stream(RNG_TEST, 2, (uint64_t)p, 0), (uint64_t)k, (uint32_t)pa->count);
            float *v = &m.values[pa->offset + i], keep = *v;
            const float h = 1e-3f;
            *v = keep + h;
            double up = loss_of(&m, x, y, n);
            *v = keep - h;
            double down = loss_of(&m, x, y, n);
            *v = keep;
            double num = (up - down) / (2.0 * h), ana = grads[pa->offset + i];
            checked++;
            if (fabs(num - ana) > 2e-3 + 3e-2 * fmax(fabs(num), fabs(ana))) {
                misses++;
                print_message("%s[%zu]: numeric %g analytic %g\n", pa->name, i, num, ana);
            }
        }
    }
    assert_true(checked > 40);
    assert_true(misses <= 2);
    free(grads);
    free(running);
    model_free(&m);
}

static void test_frozen_network_skips_backward(void **state)
{
    (void)state;
    /* Output-only: the output layer's gradient equals the full backward's, and nothing else gets
     * a gradient. */
    struct model m;
    tiny(&m, 4);
    float x[4 * 2 * 8 * 8];
    int y[4];
    fill_batch(x, y, 4, 128);
    loss_of(&m, x, y, 4);
    model_zero_grad(&m);
    model_backward(&m, 4, NULL);
    const struct param *w = &m.params[m.fc_w];
    float *full = malloc(w->count * sizeof(float));
    memcpy(full, m.grads + w->offset, w->count * sizeof(float));
    struct stage_args a = {.seed = 1};
    stage_output.set_trainable(&m, &a);
    loss_of(&m, x, y, 4);
    model_zero_grad(&m);
    model_backward(&m, 4, NULL);
    assert_memory_equal(full, m.grads + w->offset, w->count * sizeof(float));
    for (size_t i = 0; i < m.params[m.fc_w].offset; i++)
        assert_true(m.grads[i] == 0.0f);
    free(full);
    model_free(&m);
}

static void test_bn_only_gradients_match_full(void **state)
{
    (void)state;
    /* BN-only skips every conv weight gradient but must give the same γ/β gradients. */
    struct model m;
    tiny(&m, 4);
    float x[4 * 2 * 8 * 8];
    int y[4];
    fill_batch(x, y, 4, 128);
    loss_of(&m, x, y, 4);
    model_zero_grad(&m);
    model_backward(&m, 4, NULL);
    float *full = malloc(m.total * sizeof(float));
    memcpy(full, m.grads, m.total * sizeof(float));
    struct stage_args a = {.seed = 1};
    stage_bn.set_trainable(&m, &a);
    loss_of(&m, x, y, 4);
    model_zero_grad(&m);
    model_backward(&m, 4, NULL);
    for (int p = 0; p < m.nparams; p++) {
        const struct param *pa = &m.params[p];
        for (size_t i = 0; i < pa->count; i++) {
            float g = m.grads[pa->offset + i];
            if (pa->kind == PARAM_GAMMA || pa->kind == PARAM_BETA)
                assert_true(g == full[pa->offset + i]);
            else
                assert_true(g == 0.0f);
        }
    }
    free(full);
    model_free(&m);
}

/* Every algorithm and every kind of stage (dense, masked and no weight gradients): the same
 * bits on 1 and 2 threads. */
static void test_forward_is_deterministic_across_threads(void **state)
{
    (void)state;
    const struct stage_kind *kinds[] = {&stage_all, &stage_bn, &stage_conv_fraction};
    for (int algo = CONV_ALGO_AUTO; algo < CONV_ALGO_COUNT; algo++)
        for (int k = 0; k < 3; k++) {
            struct model m;
            tiny_algo(&m, 5, (enum conv_algo)algo);
            struct stage_args a = {.seed = 1, .conv_fraction = 0.05};
            kinds[k]->set_trainable(&m, &a);
            float x[5 * 128];
            int y[5];
            fill_batch(x, y, 5, 128);
            omp_set_num_threads(1);
            loss_of(&m, x, y, 5);
            model_zero_grad(&m);
            model_backward(&m, 5, NULL);
            float *one = malloc(m.total * sizeof(float));
            memcpy(one, m.grads, m.total * sizeof(float));
            omp_set_num_threads(2);
            loss_of(&m, x, y, 5);
            model_zero_grad(&m);
            model_backward(&m, 5, NULL);
            assert_memory_equal(one, m.grads, m.total * sizeof(float));
            free(one);
            model_free(&m);
        }
}

/* The whole network with Winograd, and with oneDNN, against im2col: logits and gradients agree
 * to float rounding (layers.h states the per-layer budget; through 8 layers, BN's
 * renormalization and the loss, 1e-4 relative to each tensor's largest entry is ample and far
 * below any wrong term). */
static void test_conv_algos_agree(void **state)
{
    (void)state;
    const enum conv_algo algos[] = {CONV_ALGO_WINOGRAD, CONV_ALGO_ONEDNN};
    for (int j = 0; j < 2; j++) {
        struct model a, b;
        tiny_algo(&a, 4, CONV_ALGO_IM2COL);
        tiny_algo(&b, 4, algos[j]);
        int taken = 0;
        for (int i = 0; i < b.nunits; i++)
            taken += model_unit_conv(&b, i)->winograd + model_unit_conv(&b, i)->onednn;
        assert_true(taken >= (algos[j] == CONV_ALGO_ONEDNN ? b.nunits : 4));
        float x[4 * 128];
        int y[4];
        fill_batch(x, y, 4, 128);
        struct model *ms[2] = {&a, &b};
        for (int k = 0; k < 2; k++) {
            loss_of(ms[k], x, y, 4);
            model_zero_grad(ms[k]);
            model_backward(ms[k], 4, NULL);
        }
        for (int i = 0; i < 4 * 3; i++)
            assert_true(fabsf(a.logits[i] - b.logits[i]) <= 1e-4f * (1.0f + fabsf(a.logits[i])));
        for (int p = 0; p < a.nparams; p++) {
            const struct param *pa = &a.params[p];
            float big = 0.0f;
            for (size_t i = 0; i < pa->count; i++)
                big = fmaxf(big, fabsf(a.grads[pa->offset + i]));
            for (size_t i = 0; i < pa->count; i++)
                assert_true(fabsf(a.grads[pa->offset + i] - b.grads[pa->offset + i]) <=
                            1e-4f * big + 1e-7f);
        }
        model_free(&a);
        model_free(&b);
    }
}

/* The Winograd weights a frozen conv keeps across steps follow any write to m->values (as
 * stages/reinit.c or a checkpoint load make, with no call to tell the model): after changing
 * frozen weights, a step gives the same bits as a model built afresh with those values. */
static void test_cached_transform_follows_values(void **state)
{
    (void)state;
    struct model a, b;
    tiny_algo(&a, 4, CONV_ALGO_WINOGRAD);
    tiny_algo(&b, 4, CONV_ALGO_WINOGRAD);
    struct stage_args sa = {.seed = 1};
    stage_bn.set_trainable(&a, &sa);
    stage_bn.set_trainable(&b, &sa);
    float x[4 * 128];
    int y[4];
    fill_batch(x, y, 4, 128);
    loss_of(&a, x, y, 4); /* a's caches now hold the initial weights */
    int p = model_find_param(&a, "seg1.block0.conv2.conv");
    assert_true(p >= 0 && model_unit_conv(&a, a.params[p].unit)->winograd);
    for (size_t i = 0; i < a.params[p].count; i += 7) /* re-initialize some of it */
        a.values[a.params[p].offset + i] = b.values[b.params[p].offset + i] *= -0.5f;
    memcpy(a.running_stats, b.running_stats, a.running_total * sizeof(float));
    struct model *ms[2] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        loss_of(ms[k], x, y, 4);
        model_zero_grad(ms[k]);
        model_backward(ms[k], 4, NULL);
    }
    assert_memory_equal(a.logits, b.logits, 4 * 3 * sizeof(float));
    assert_memory_equal(a.grads, b.grads, a.total * sizeof(float));
    model_free(&a);
    model_free(&b);
}

/* conv_fraction: few trainable conv weights take the masked weight gradient; its entries agree
 * with the dense gradient (another summation order: float rounding), all others stay 0. */
static void test_masked_weight_gradient(void **state)
{
    (void)state;
    struct model m;
    tiny(&m, 4);
    float x[4 * 128];
    int y[4];
    fill_batch(x, y, 4, 128);
    loss_of(&m, x, y, 4);
    model_zero_grad(&m);
    model_backward(&m, 4, NULL);
    float *full = malloc(m.total * sizeof(float));
    memcpy(full, m.grads, m.total * sizeof(float));
    struct stage_args a = {.seed = 1, .conv_fraction = 0.05};
    stage_conv_fraction.set_trainable(&m, &a);
    int sparse = 0;
    for (int i = 0; i < m.nlayers; i++)
        sparse += m.layers[i].sparse_dw;
    assert_true(sparse >= m.nunits / 2);
    loss_of(&m, x, y, 4);
    model_zero_grad(&m);
    model_backward(&m, 4, NULL);
    for (int p = 0; p < m.nparams; p++) {
        const struct param *pa = &m.params[p];
        float big = 0.0f;
        for (size_t i = 0; i < pa->count; i++)
            big = fmaxf(big, fabsf(full[pa->offset + i]));
        for (size_t i = 0; i < pa->count; i++) {
            size_t j = pa->offset + i;
            if (m.mask[j] == 0.0f)
                assert_true(m.grads[j] == 0.0f);
            else
                assert_true(fabsf(m.grads[j] - full[j]) <= 1e-5f * big + 1e-7f);
        }
    }
    /* back to everything: the dense path again, the same bits as before */
    stage_all.set_trainable(&m, &a);
    for (int i = 0; i < m.nlayers; i++)
        assert_false(m.layers[i].sparse_dw);
    loss_of(&m, x, y, 4);
    model_zero_grad(&m);
    model_backward(&m, 4, NULL);
    assert_memory_equal(full, m.grads, m.total * sizeof(float));
    free(full);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_parameter_counts),
        cmocka_unit_test(test_bad_depth_is_an_error),
        cmocka_unit_test(test_init_statistics),
        cmocka_unit_test(test_whole_model_gradient),
        cmocka_unit_test(test_frozen_network_skips_backward),
        cmocka_unit_test(test_bn_only_gradients_match_full),
        cmocka_unit_test(test_forward_is_deterministic_across_threads),
        cmocka_unit_test(test_conv_algos_agree),
        cmocka_unit_test(test_cached_transform_follows_values),
        cmocka_unit_test(test_masked_weight_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
