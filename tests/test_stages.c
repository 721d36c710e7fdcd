/* Stage kinds (what trains), masked SGD (frozen stays frozen) and learning-rate schedules. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model.h"
#include "optim.h"
#include "stages.h"

static void build(struct model *m)
{
    struct model_spec s = {.depth = 20, .width = 1, .in_c = 1, .in_h = 28, .in_w = 28, .classes = 10};
    assert_int_equal(model_build(m, &s, 0, 1, NULL), 0);
    model_init(m, 1);
}

static size_t count_kind(const struct model *m, enum param_kind kind)
{
    size_t n = 0;
    for (int p = 0; p < m->nparams; p++)
        if (m->params[p].kind == kind)
            n += m->params[p].trainable;
    return n;
}

static void test_kinds_train_what_they_say(void **state)
{
    (void)state;
    struct model m;
    build(&m);
    struct param_counts c = model_count(&m);
    struct stage_args a = {.seed = 1, .per_channel_k = 2, .conv_fraction = 0.1};
    stage_find(STAGE_ALL)->set_trainable(&m, &a);
    assert_int_equal(model_trainable(&m), c.total);
    stage_find(STAGE_BN)->set_trainable(&m, &a);
    assert_int_equal(model_trainable(&m), c.bn);
    assert_int_equal(count_kind(&m, PARAM_GAMMA) + count_kind(&m, PARAM_BETA), c.bn);
    stage_find(STAGE_BN_OUTPUT)->set_trainable(&m, &a);
    assert_int_equal(model_trainable(&m), c.bn + c.output);
    stage_find(STAGE_OUTPUT)->set_trainable(&m, &a);
    assert_int_equal(model_trainable(&m), c.output);
    assert_int_equal(count_kind(&m, PARAM_OUTPUT_W), 640);
    stage_find(STAGE_PER_CHANNEL)->set_trainable(&m, &a);
    /* Two per output channel of every conv: as many as γ and β together. */
    assert_int_equal(model_trainable(&m), c.bn);
    assert_int_equal(count_kind(&m, PARAM_CONV), c.bn);
    stage_find(STAGE_CONV_FRACTION)->set_trainable(&m, &a);
    assert_int_equal(count_kind(&m, PARAM_CONV), (size_t)llround(0.1 * c.conv));
    assert_int_equal(model_trainable(&m), c.bn + (size_t)llround(0.1 * c.conv));
    assert_int_equal(CHOICE_INDEX(stage_kind_names, "nonsense"), -1);
    assert_int_equal(CHOICE_INDEX(stage_kind_names, "conv_fraction"), STAGE_CONV_FRACTION);
    model_free(&m);
}

static void test_per_channel_rows(void **state)
{
    (void)state;
    struct model m;
    build(&m);
    struct stage_args a = {.seed = 3, .per_channel_k = 5};
    stage_per_channel.set_trainable(&m, &a);
    for (int p = 0; p < m.nparams; p++) {
        const struct param *pa = &m.params[p];
        if (pa->kind != PARAM_CONV)
            continue;
        size_t fan_in = pa->count / pa->dims[0];
        size_t want = fan_in < 5 ? fan_in : 5;
        for (int ch = 0; ch < pa->dims[0]; ch++) {
            size_t n = 0;
            for (size_t i = 0; i < fan_in; i++)
                n += m.mask[pa->offset + ch * fan_in + i] != 0.0f;
            assert_int_equal(n, want);
        }
    }
    model_free(&m);
}

static void test_conv_fraction_nested_and_seeded(void **state)
{
    (void)state;
    struct model m;
    build(&m);
    float *small = malloc(m.total * sizeof(float)), *other = malloc(m.total * sizeof(float));
    struct stage_args a = {.seed = 9, .conv_fraction = 0.04};
    stage_conv_fraction.set_trainable(&m, &a);
    memcpy(small, m.mask, m.total * sizeof(float));
    a.conv_fraction = 0.16;
    stage_conv_fraction.set_trainable(&m, &a);
    size_t inside = 0;
    for (size_t i = 0; i < m.total; i++) {
        if (small[i] != 0.0f)
            assert_true(m.mask[i] != 0.0f);
        inside += m.mask[i] != 0.0f;
    }
    assert_true(inside > 0);
    a.seed = 10;
    stage_conv_fraction.set_trainable(&m, &a);
    memcpy(other, m.mask, m.total * sizeof(float));
    a.seed = 9;
    stage_conv_fraction.set_trainable(&m, &a);
    assert_memory_not_equal(other, m.mask, m.total * sizeof(float));
    /* train_output adds exactly the output layer. */
    size_t before = model_trainable(&m);
    a.train_output = true;
    stage_conv_fraction.set_trainable(&m, &a);
    assert_int_equal(model_trainable(&m), before + model_count(&m).output);
    free(small);
    free(other);
    model_free(&m);
}

static void test_frozen_entries_never_move(void **state)
{
    (void)state;
    enum { N = 64 };
    float w[N], v[N], g[N], mask[N], w0[N], v0[N];
    for (int i = 0; i < N; i++) {
        w[i] = w0[i] = 0.5f + i;
        v[i] = v0[i] = 0.25f * i; /* momentum left from an earlier stage */
        g[i] = 1.0f - 0.03f * i;
        mask[i] = (i % 3 == 0) ? 1.0f : 0.0f;
    }
    struct sgd opt = {.momentum = 0.9, .weight_decay = 0.1, .nesterov = false};
    for (int step = 0; step < 5; step++)
        sgd_step(w, v, g, mask, N, 0.1f, &opt);
    for (int i = 0; i < N; i++) {
        if (mask[i] == 0.0f) {
            assert_true(w[i] == w0[i]);
            assert_true(v[i] == v0[i]);
        } else {
            assert_true(w[i] != w0[i]);
        }
    }
}

static void test_sgd_matches_pytorch_formula(void **state)
{
    (void)state;
    float w = 1.0f, v = 0.0f, g = 0.5f, mask = 1.0f;
    struct sgd opt = {.momentum = 0.9, .weight_decay = 0.01, .nesterov = false};
    sgd_step(&w, &v, &g, &mask, 1, 0.1f, &opt);
    /* d = 0.5 + 0.01·1 = 0.51; v = 0.51; w = 1 − 0.051 */
    assert_float_equal(v, 0.51f, 1e-7);
    assert_float_equal(w, 0.949f, 1e-7);
    sgd_step(&w, &v, &g, &mask, 1, 0.1f, &opt);
    float d = 0.5f + 0.01f * 0.949f, v2 = 0.9f * 0.51f + d;
    assert_float_equal(v, v2, 1e-6);
    assert_float_equal(w, 0.949f - 0.1f * v2, 1e-6);
    float wn = 1.0f, vn = 0.0f;
    opt.nesterov = true;
    sgd_step(&wn, &vn, &g, &mask, 1, 0.1f, &opt);
    /* nesterov: w −= lr·(d + μ·v) with v = d */
    assert_float_equal(wn, 1.0f - 0.1f * (0.51f + 0.9f * 0.51f), 1e-6);
}

/* The update reports the values it made non-finite (issue 11 item 5: a diverged step must
 * not be saved), counting only trainable entries: a frozen inf is not this step's doing. */
static void test_sgd_counts_nonfinite_updates(void **state)
{
    (void)state;
    float w[4] = {1.0f, 3e38f, 1.0f, INFINITY}, v[4] = {0}, g[4] = {0.5f, -3e38f, NAN, 0.0f};
    float mask[4] = {1.0f, 1.0f, 1.0f, 0.0f};
    struct sgd opt = {.momentum = 0.0, .weight_decay = 0.0, .nesterov = false};
    assert_int_equal(sgd_step(w, v, g, mask, 4, 10.0f, &opt), 2); /* overflow and NaN */
    assert_true(isinf(w[1]) && isnan(w[2]) && w[0] == -4.0f);
    float ok[2] = {1.0f, 2.0f}, vo[2] = {0}, go[2] = {0.1f, 0.2f}, mo[2] = {1.0f, 1.0f};
    assert_int_equal(sgd_step(ok, vo, go, mo, 2, 0.1f, &opt), 0);
}

static void test_lr_schedules(void **state)
{
    (void)state;
    struct lr_schedule s = {.kind = LR_STEP, .base = 0.1, .epochs = 10, .factor = 0.1};
    s.milestones.n = 2;
    s.milestones.v[0] = 5;
    s.milestones.v[1] = 8;
    assert_float_equal(lr_at(&s, 0, 100), 0.1, 1e-12);
    assert_float_equal(lr_at(&s, 499, 100), 0.1, 1e-12);
    assert_float_equal(lr_at(&s, 500, 100), 0.01, 1e-12);
    assert_float_equal(lr_at(&s, 800, 100), 0.001, 1e-12);
    s.kind = LR_COSINE;
    assert_float_equal(lr_at(&s, 0, 100), 0.1, 1e-12);
    assert_float_equal(lr_at(&s, 500, 100), 0.05, 1e-12);
    assert_float_equal(lr_at(&s, 1000, 100), 0.0, 1e-12);
    s.kind = LR_CONSTANT;
    s.warmup_epochs = 2;
    assert_float_equal(lr_at(&s, 0, 100), 0.1 / 200, 1e-12);
    assert_float_equal(lr_at(&s, 99, 100), 0.05, 1e-12);
    assert_float_equal(lr_at(&s, 200, 100), 0.1, 1e-12);
}

/* warmup_cosine against its closed form (schedule.h): 10 epochs of 100 steps, W = 150 steps,
 * lr 0.1 to lr_min 0.001; the warm-up in epochs gives the same W; cosine with lr_min ends there
 * and with lr_min = 0 keeps lr · c(t) exactly (the bits of runs from before lr_min). */
static void test_warmup_cosine(void **state)
{
    (void)state;
    struct lr_schedule s = {.kind = LR_WARMUP_COSINE, .base = 0.1, .min = 0.001, .epochs = 10,
                            .warmup_steps = 150};
    const double pi = 3.14159265358979323846;
    for (long k = 0; k <= 1000; k += 7) {
        double want = k < 150 ? 0.1 * (k + 1) / 150.0
                              : 0.001 + 0.099 * 0.5 * (1 + cos(pi * (k - 150) / 850.0));
        assert_float_equal(lr_at(&s, k, 100), want, 1e-15);
    }
    assert_float_equal(lr_at(&s, 149, 100), 0.1, 1e-15);  /* the warm-up ends at lr */
    assert_float_equal(lr_at(&s, 150, 100), 0.1, 1e-15);  /* where the cosine starts */
    assert_float_equal(lr_at(&s, 1000, 100), 0.001, 1e-15); /* and ends at the floor */
    struct lr_schedule e = s;
    e.warmup_steps = 0;
    e.warmup_epochs = 1.5;
    for (long k = 0; k <= 1000; k += 13)
        assert_true(lr_at(&e, k, 100) == lr_at(&s, k, 100));
    struct lr_schedule c = {.kind = LR_COSINE, .base = 0.1, .min = 0.001, .epochs = 10};
    assert_float_equal(lr_at(&c, 1000, 100), 0.001, 1e-15);
    assert_float_equal(lr_at(&c, 500, 100), 0.0505, 1e-15);
    c.min = 0;
    for (long k = 0; k <= 1000; k += 11)
        assert_true(lr_at(&c, k, 100) == 0.1 * (0.5 * (1.0 + cos(pi * ((double)k / 100 / 10)))));
}

/* `test_stages --lr-trace`: warmup_cosine's learning rate at every step of a 4-epoch stage of 25
 * steps (W = 12, lr 0.2, lr_min 0.01), one per line; tests/optim.test.sh compares it with torch's
 * LinearLR + CosineAnnealingLR under SequentialLR. */
static int lr_trace(void)
{
    struct lr_schedule s = {.kind = LR_WARMUP_COSINE, .base = 0.2, .min = 0.01, .epochs = 4,
                            .warmup_steps = 12};
    for (long k = 0; k < 100; k++)
        printf("%.17g\n", lr_at(&s, k, 25));
    return 0;
}

/* train.milestone_fractions = 0.5, 0.75 (the paper's schedule) scale with the stage's length:
 * ×0.1 from the first step of epoch 80 and of epoch 120 of 160, and of epoch 2 and 3 of 4. */
static void test_milestone_fractions(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    struct rv_error err;
    assert_int_equal(config_set(&c, "train.milestone_fractions=0.5,0.75", &err), 0);
    struct lr_schedule s = lr_schedule_from_config(&c, 160, c.lr);
    assert_int_equal(s.kind, LR_STEP);
    assert_float_equal(lr_at(&s, 79 * 100 + 99, 100), 0.1, 1e-12);
    assert_float_equal(lr_at(&s, 80 * 100, 100), 0.01, 1e-12);
    assert_float_equal(lr_at(&s, 119 * 100 + 99, 100), 0.01, 1e-12);
    assert_float_equal(lr_at(&s, 120 * 100, 100), 0.001, 1e-12);
    s = lr_schedule_from_config(&c, 4, c.lr);
    assert_float_equal(lr_at(&s, 199, 100), 0.1, 1e-12);
    assert_float_equal(lr_at(&s, 200, 100), 0.01, 1e-12);
    assert_float_equal(lr_at(&s, 300, 100), 0.001, 1e-12);
    /* 5 epochs: milestones at 2.5 and 3.75 epochs, mid-epoch */
    s = lr_schedule_from_config(&c, 5, c.lr);
    assert_float_equal(lr_at(&s, 249, 100), 0.1, 1e-12);
    assert_float_equal(lr_at(&s, 250, 100), 0.01, 1e-12);
}

/* The one γ clamp: |γ| < τ becomes 0 (either sign), |γ| = τ stays, nothing else is written. */
static void test_gamma_clamp(void **state)
{
    (void)state;
    struct model m;
    build(&m);
    const struct param *g = &m.params[m.units[0].gamma];
    float *v = m.values + g->offset;
    v[0] = 0.25f;
    v[1] = -0.25f;
    v[2] = 0.5f;
    v[3] = -0.75f;
    float *keep = malloc(m.total * sizeof(float));
    memcpy(keep, m.values, m.total * sizeof(float));
    int below = 0;
    for (int p = 0; p < m.nparams; p++)
        if (m.params[p].kind == PARAM_GAMMA)
            for (size_t i = 0; i < m.params[p].count; i++)
                below += fabsf(m.values[m.params[p].offset + i]) < 0.5f;
    assert_int_equal(gamma_clamp(&m, (struct stats_threshold){.tau = 0.5}), below);
    assert_true(below >= 2);
    assert_true(v[0] == 0.0f && v[1] == 0.0f && v[2] == 0.5f && v[3] == -0.75f);
    for (size_t i = 0; i < m.total; i++)
        if (m.values[i] != keep[i])
            assert_true(keep[i] != 0.0f && fabsf(keep[i]) < 0.5f && m.values[i] == 0.0f);
    for (int p = 0; p < m.nparams; p++) /* only γ */
        if (m.params[p].kind != PARAM_GAMMA)
            assert_memory_equal(m.values + m.params[p].offset, keep + m.params[p].offset,
                                m.params[p].count * sizeof(float));
    free(keep);
    model_free(&m);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--lr-trace") == 0)
        return lr_trace();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warmup_cosine),
        cmocka_unit_test(test_kinds_train_what_they_say),
        cmocka_unit_test(test_per_channel_rows),
        cmocka_unit_test(test_gamma_clamp),
        cmocka_unit_test(test_conv_fraction_nested_and_seeded),
        cmocka_unit_test(test_frozen_entries_never_move),
        cmocka_unit_test(test_sgd_matches_pytorch_formula),
        cmocka_unit_test(test_sgd_counts_nonfinite_updates),
        cmocka_unit_test(test_lr_schedules),
        cmocka_unit_test(test_milestone_fractions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
