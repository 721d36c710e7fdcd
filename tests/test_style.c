/* The style loss (include/style_loss.h): the Gram and content losses and the three SWAG forms
 * against central differences on a tap, the whole chain to the input image through an
 * eval-mode network (BatchNorm's eval backward included), and PyTorch (tests/tools/torch_style.py)
 * where /usr/bin/python3 has torch. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loss.h"
#include "lossnet.h"
#include "model.h"
#include "rng.h"
#include "style_loss.h"
#include "style_task.h"
#include "support.h"

/* conv 3×3 (3 → 5) + BN + ReLU "b1", conv 3×3 (5 → 4) + BN "b2", add-free; avgpool, linear. */
static void build_tiny(struct model *m)
{
    int x = model_add_conv_bn(m, "b1", 0, 5, 3, 1, true, false);
    x = model_add_conv_bn(m, "b2", x, 4, 3, 1, false, false);
    x = model_add_avgpool(m, "avgpool", x);
    model_add_linear(m, "output", x, m->spec.classes, PARAM_OUTPUT_W, PARAM_OUTPUT_B);
}

static const char *tiny_taps[] = {"b1", "b2"};

static void tiny_model(struct model *m, int n, bool frozen)
{
    struct model_spec s = {.width = 1, .in_c = 3, .in_h = 6, .in_w = 5, .classes = 2,
                           .build = build_tiny, .input_grad = true, .taps = tiny_taps, .ntaps = 2};
    struct rv_error err;
    if (model_build(m, &s, n, 1, &err))
        fail_msg("%s", err.msg);
    model_init(m, 3);
    /* running statistics and β away from their defaults, so eval mode is a real affine map */
    for (int u = 0; u < m->nunits; u++) {
        const struct unit *un = &m->units[u];
        for (int c = 0; c < un->channels; c++) {
            m->running_stats[un->running + c] = 0.3f * rng_normal(1, rng_stream(RNG_TEST, 20, u, 0), c);
            m->running_stats[un->running + un->channels + c] =
                0.5f + rng_uniform(1, rng_stream(RNG_TEST, 21, u, 0), c);
            m->values[m->params[un->beta].offset + c] = 0.2f * rng_normal(1, rng_stream(RNG_TEST, 22, u, 0), c);
        }
    }
    if (frozen) {
        memset(m->mask, 0, m->total * sizeof(float));
        model_mask_changed(m);
    }
}

static void fill(float *v, size_t n, uint64_t stream, float scale)
{
    for (size_t i = 0; i < n; i++)
        v[i] = scale * rng_normal(2, rng_stream(RNG_TEST, 23, stream, 0), i);
}

/* The loss (both parts) of the tap's current values. */
static double tap_loss(struct loss *l, struct model *m, int n, const struct style_term *t)
{
    return l->apply(l, m, n, n, t);
}

/* Central differences on the tap itself, for one form and one mix of the parts: the gradient
 * the loss writes against (L(x + h) − L(x − h)) / 2h, within 1 % of the largest entry. */
static void check_tap(enum swag_form swag, double ws, double wc)
{
    enum { N = 2 };
    struct model m;
    tiny_model(&m, N, true);
    struct rv_error err;
    struct style_term t;
    assert_int_equal(style_term_init(&t, &m, "b2", swag, 0.5f, &err), 0);
    t.style_weight = ws;
    t.content_weight = wc;
    struct tensor *x = &m.tensors[t.tap];
    size_t per = (size_t)t.c * t.hw;
    /* targets from other features (a style image, a content image) */
    fill(x->v, N * per, 1, 1.0f);
    style_term_capture_gram(&t, &m);
    style_term_capture_content(&t, &m, N);
    fill(x->v, N * per, 2, 1.0f);
    struct loss l;
    loss_style(&l, &t);
    double base = tap_loss(&l, &m, N, &t);
    assert_true(base > 0.0);
    float *ana = malloc(N * per * sizeof(float));
    memcpy(ana, x->g, N * per * sizeof(float));
    double amax = 0.0;
    for (size_t i = 0; i < N * per; i++)
        amax = fmax(amax, fabs(ana[i]));
    assert_true(amax > 0.0);
    int bad = 0;
    for (size_t i = 0; i < N * per; i += 3) {
        float keep = x->v[i], h = 1e-2f;
        x->v[i] = keep + h;
        double up = tap_loss(&l, &m, N, &t);
        x->v[i] = keep - h;
        double down = tap_loss(&l, &m, N, &t);
        x->v[i] = keep;
        /* the loss is the sum over images; the gradient is the mean's (scale_n = N) */
        double num = (up - down) / (2.0 * h) / N;
        if (fabs(num - ana[i]) > 1e-2 * amax + 1e-3 * fabs(num)) {
            print_message("%s ws %g wc %g [%zu]: numeric %g analytic %g (max %g)\n",
                          swag_names[swag], ws, wc, i, num, ana[i], amax);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    free(ana);
    style_term_free(&t);
    model_free(&m);
}

static void test_tap_gradients(void **state)
{
    (void)state;
    /* weights that put each form's loss near 1 (a softmax over 120 entries is ~1/120) */
    for (int f = 0; f < SWAG_COUNT; f++) {
        double ws = f == SWAG_SOFTMAX_ALL ? 1e8 : f == SWAG_SOFTMAX_CHANNELS ? 10.0 : 1.0;
        double wc = f == SWAG_SOFTMAX_ALL ? 1e4 : 1.0;
        check_tap((enum swag_form)f, ws, 0.0);
        check_tap((enum swag_form)f, 0.0, wc);
        check_tap((enum swag_form)f, ws, wc);
    }
}

/* The definitions, by hand on a 2×3 tap: G = F Fᵀ / 6, the loss a mean over the 4 entries. */
static void test_gram_by_hand(void **state)
{
    (void)state;
    const float x[6] = {1, 2, 3, 0, -1, 2};
    float g[4], f[6];
    style_gram(g, x, 2, 3);
    assert_float_equal(g[0], 14.0f / 6, 1e-6);
    assert_float_equal(g[1], 4.0f / 6, 1e-6);
    assert_float_equal(g[2], 4.0f / 6, 1e-6);
    assert_float_equal(g[3], 5.0f / 6, 1e-6);
    style_transform(f, x, 2, 3, SWAG_SOFTMAX_CHANNELS, 0);
    for (int p = 0; p < 3; p++)
        assert_float_equal(f[p] + f[3 + p], 1.0f, 1e-6);
    assert_float_equal(f[0], 1.0 / (1.0 + exp(-1.0)), 1e-6);
    style_transform(f, x, 2, 3, SWAG_SOFTMAX_ALL, 0);
    double s = 0.0;
    for (int i = 0; i < 6; i++)
        s += f[i];
    assert_float_equal(s, 1.0, 1e-6);
    assert_float_equal(f[2] / f[3], exp(3.0), 1e-4);
    style_transform(f, x, 2, 3, SWAG_SCALE, 0.001f);
    assert_float_equal(f[1], 0.002f, 1e-9);
}

/* The chain: style losses on two taps (softmax over all entries on b1, scale + content on b2)
 * of an eval-mode network, d(loss)/d(image) against central differences; and, with every
 * parameter trainable, the eval-mode BatchNorm's dγ and dβ too. */
static double image_loss(struct model *m, struct loss *l, struct style_term *t, const float *x,
                         int n, bool backward)
{
    model_zero_grad(m);
    memset(m->d_logits, 0, (size_t)n * m->spec.classes * sizeof(float));
    model_forward(m, x, n, false, NULL);
    double s = 0.0;
    for (int k = 0; k < 2; k++)
        s += l[k].apply(&l[k], m, n, n, &t[k]);
    if (backward)
        model_backward(m, n, NULL);
    return s / n;
}

static void test_image_gradient(void **state)
{
    (void)state;
    enum { N = 2 };
    for (int frozen = 1; frozen >= 0; frozen--) {
        struct model m;
        tiny_model(&m, N, frozen);
        struct rv_error err;
        struct style_term t[2];
        struct loss l[2];
        assert_int_equal(style_term_init(&t[0], &m, "b1", SWAG_SOFTMAX_ALL, 0, &err), 0);
        assert_int_equal(style_term_init(&t[1], &m, "b2", SWAG_SCALE, 0.5f, &err), 0);
        t[0].style_weight = 1e9;
        t[1].style_weight = 1.0;
        t[1].content_weight = 1.0;
        size_t xn = (size_t)N * 3 * 6 * 5;
        float *x = malloc(xn * sizeof(float));
        fill(x, xn, 5, 1.0f);
        model_forward(&m, x, N, false, NULL);
        style_term_capture_gram(&t[0], &m);
        style_term_capture_gram(&t[1], &m);
        style_term_capture_content(&t[1], &m, N);
        fill(x, xn, 6, 1.0f);
        for (int k = 0; k < 2; k++)
            loss_style(&l[k], &t[k]);
        image_loss(&m, l, t, x, N, true);
        float *dx = malloc(xn * sizeof(float)), *grads = malloc(m.total * sizeof(float));
        memcpy(dx, m.d_x, xn * sizeof(float));
        memcpy(grads, m.grads, m.total * sizeof(float));
        double amax = 0.0;
        for (size_t i = 0; i < xn; i++)
            amax = fmax(amax, fabs(dx[i]));
        assert_true(amax > 0.0);
        int bad = 0, checked = 0;
        for (size_t i = 0; i < xn; i += 7, checked++) {
            float keep = x[i], h = 1e-2f;
            x[i] = keep + h;
            double up = image_loss(&m, l, t, x, N, false);
            x[i] = keep - h;
            double down = image_loss(&m, l, t, x, N, false);
            x[i] = keep;
            double num = (up - down) / (2.0 * h);
            if (fabs(num - dx[i]) > 2e-2 * amax + 1e-2 * fabs(num)) {
                print_message("input[%zu]: numeric %g analytic %g (max %g)\n", i, num, dx[i], amax);
                bad++;
            }
        }
        /* γ and β of both units: the eval-mode BatchNorm's parameter gradients */
        for (int p = 0; !frozen && p < m.nparams; p++) {
            if (m.params[p].kind != PARAM_GAMMA && m.params[p].kind != PARAM_BETA)
                continue;
            for (size_t i = 0; i < m.params[p].count; i++, checked++) {
                /* a β moves a whole channel: a ReLU kink may fall inside the larger step, so
                 * either of two steps may agree */
                float *v = &m.values[m.params[p].offset + i], keep = *v;
                double ana = grads[m.params[p].offset + i], num = 0.0;
                bool ok = false;
                for (float h = 1e-2f; h > 1e-4f && !ok; h /= 10) {
                    *v = keep + h;
                    double up = image_loss(&m, l, t, x, N, false);
                    *v = keep - h;
                    double down = image_loss(&m, l, t, x, N, false);
                    *v = keep;
                    num = (up - down) / (2.0 * h);
                    ok = fabs(num - ana) <= 2e-2 * fmax(fabs(num), 1e-3) + 1e-4;
                }
                if (!ok) {
                    print_message("%s[%zu]: numeric %g analytic %g\n", m.params[p].name, i, num, ana);
                    bad++;
                }
            }
        }
        assert_true(checked >= 10);
        assert_int_equal(bad, 0);
        free(x);
        free(dx);
        free(grads);
        for (int k = 0; k < 2; k++)
            style_term_free(&t[k]);
        model_free(&m);
    }
}

static void test_not_a_tap(void **state)
{
    (void)state;
    struct model m;
    tiny_model(&m, 1, true);
    struct style_term t;
    struct rv_error err;
    assert_int_equal(style_term_init(&t, &m, "b1.conv", SWAG_NONE, 0, &err), -1);
    assert_non_null(strstr(err.msg, "'b1.conv' is not a tap"));
    model_free(&m);
}

/* style-stats' measurements by hand: a flat map has entropy ratio 1, a map with one non-zero
 * entry 0; its Gram likewise; scale multiplies the max and leaves the ratios. */
static void test_tap_stats(void **state)
{
    (void)state;
    float flat[8], peak[8] = {0, 0, 0, 5, 0, 0, 0, 0}, f[8], g[4];
    for (int i = 0; i < 8; i++)
        flat[i] = 2.0f;
    struct tap_stats st, sc;
    style_tap_stats(&st, flat, 2, 4, SWAG_NONE, 0, f, g);
    assert_float_equal(st.max, 2.0, 0);
    assert_float_equal(st.entropy, log(8.0), 1e-12);
    assert_float_equal(st.entropy_ratio, 1.0, 1e-12);
    assert_float_equal(st.gram_entropy_ratio, 1.0, 1e-12);
    style_tap_stats(&st, peak, 2, 4, SWAG_NONE, 0, f, g);
    assert_float_equal(st.entropy, 0.0, 0);
    assert_float_equal(st.gram_entropy, 0.0, 0);
    style_tap_stats(&sc, peak, 2, 4, SWAG_SCALE, 0.5f, f, g);
    assert_float_equal(sc.max, 2.5, 0);
    assert_float_equal(sc.entropy_ratio, st.entropy_ratio, 0);
    /* a softmax of the flat map is flat */
    style_tap_stats(&st, flat, 2, 4, SWAG_SOFTMAX_ALL, 0, f, g);
    assert_float_equal(st.max, 0.125, 1e-7);
    assert_float_equal(st.entropy_ratio, 1.0, 1e-6);
}

/* Each form, style and content together, against the reference's definitions in PyTorch. */
static void test_against_torch(void **state)
{
    (void)state;
    support_need_python("torch", "the style loss not compared");
    enum { N = 2 };
    struct support_ref r;
    support_ref_open(&r, "revive-torch-style");
    for (int form = 0; form < SWAG_COUNT; form++) {
        struct model m;
        tiny_model(&m, N, true);
        struct rv_error err;
        struct style_term t;
        assert_int_equal(style_term_init(&t, &m, "b2", (enum swag_form)form, 0.001f, &err), 0);
        t.style_weight = form == SWAG_SOFTMAX_ALL ? 1e8 : form == SWAG_SCALE ? 1e12 : 10.0;
        t.content_weight = form == SWAG_SOFTMAX_ALL ? 1e4 : form == SWAG_SCALE ? 1e6 : 1.0;
        struct tensor *x = &m.tensors[t.tap];
        size_t per = (size_t)t.c * t.hw;
        fill(x->v, N * per, 7, 1.0f);
        style_term_capture_gram(&t, &m);
        support_ref_floats(&r, "s.bin", x->v, per);
        fill(x->v, N * per, 8, 1.0f);
        style_term_capture_content(&t, &m, N);
        support_ref_floats(&r, "p.bin", x->v, N * per);
        fill(x->v, N * per, 9, 1.0f);
        support_ref_floats(&r, "x.bin", x->v, N * per);
        struct loss l;
        loss_style(&l, &t);
        float loss = (float)(l.apply(&l, &m, N, N, &t) / N);
        support_ref_floats(&r, "loss.bin", &loss, 1);
        support_ref_floats(&r, "dx.bin", x->g, N * per);
        assert_int_equal(support_ref_run(&r, "torch_style.py", "%s %d %d %d %d 0.001 %.17g %.17g",
                                         swag_names[form], N, t.c, x->h, x->w, t.style_weight,
                                         t.content_weight), 0);
        style_term_free(&t);
        model_free(&m);
    }
    support_ref_close(&r);
}

/* The whole chain against PyTorch: a random ImageNet ResNet-18 (Kaiming weights from lossnet.h,
 * β and the running statistics moved off their defaults), frozen, eval mode; Gram losses on the
 * stem and the four stages' last blocks (each weighted to contribute 1), each SWAG form on
 * layer3.1 and layer4.1; the loss and
 * d(loss)/d(image) against torchvision's resnet18 with the same values in float64
 * (tests/tools/torch_style_net.py). */
static void test_network_against_torch(void **state)
{
    (void)state;
    support_need_python("torch, torchvision", "the image gradient not compared");
    enum { C = 3, H = 32, NT = 5 };
    static const char *const taps[NT] = {"stem", "layer1.1", "layer2.1", "layer3.1", "layer4.1"};
    struct support_ref r;
    support_ref_open(&r, "revive-torch-style-net");
    for (int form = 0; form < SWAG_COUNT; form++) {
        struct model_spec spec = {.arch = ARCH_IMAGENET_RESNET, .depth = 18, .width = 1, .in_c = C,
                                  .in_h = H, .in_w = H, .classes = 10, .input_grad = true,
                                  .taps = taps, .ntaps = NT, .conv_algo = CONV_ALGO_IM2COL};
        struct model m;
        struct rv_error err;
        assert_int_equal(model_build(&m, &spec, 1, 1, &err), 0);
        lossnet_init_weights(&m, LOSSNET_INIT_KAIMING, 0, 4);
        for (int u = 0; u < m.nunits; u++) {
            const struct unit *un = &m.units[u];
            for (int c = 0; c < un->channels; c++) {
                m.running_stats[un->running + c] = 0.2f * rng_normal(3, rng_stream(RNG_TEST, 30, u, 0), c);
                m.running_stats[un->running + un->channels + c] =
                    0.5f + rng_uniform(3, rng_stream(RNG_TEST, 31, u, 0), c);
                m.values[m.params[un->beta].offset + c] = 0.1f * rng_normal(3, rng_stream(RNG_TEST, 32, u, 0), c);
            }
        }
        memset(m.mask, 0, m.total * sizeof(float));
        model_mask_changed(&m);
        size_t xn = (size_t)C * H * H;
        float *style = malloc(xn * sizeof(float)), *x = malloc(xn * sizeof(float));
        fill(style, xn, 40, 1.0f);
        fill(x, xn, 41, 1.0f);
        struct style_term t[NT];
        struct loss l[NT];
        model_forward(&m, style, 1, false, NULL);
        for (int k = 0; k < NT; k++) {
            assert_int_equal(style_term_init(&t[k], &m, taps[k], k >= 3 ? (enum swag_form)form : SWAG_NONE,
                                             0.001f, &err), 0);
            t[k].style_weight = 1.0;
            style_term_capture_gram(&t[k], &m);
            loss_style(&l[k], &t[k]);
        }
        /* each tap weighted to contribute 1 at x (a SWAG tap's Gram is orders of magnitude
         * smaller), so every form's gradient counts in the comparison */
        model_forward(&m, x, 1, false, NULL);
        double weights[NT];
        for (int k = 0; k < NT; k++) {
            weights[k] = 1.0 / l[k].apply(&l[k], &m, 1, 1, &t[k]);
            t[k].style_weight = weights[k];
        }
        model_zero_grad(&m);
        memset(m.d_logits, 0, 10 * sizeof(float));
        model_forward(&m, x, 1, false, NULL);
        double sum = 0.0;
        for (int k = 0; k < NT; k++)
            sum += l[k].apply(&l[k], &m, 1, 1, &t[k]);
        model_backward(&m, 1, NULL);
        float loss = (float)sum;
        support_ref_floats(&r, "values.bin", m.values, m.total);
        support_ref_floats(&r, "running.bin", m.running_stats, m.running_total);
        support_ref_floats(&r, "style.bin", style, xn);
        support_ref_floats(&r, "x.bin", x, xn);
        support_ref_floats(&r, "loss.bin", &loss, 1);
        support_ref_floats(&r, "dx.bin", m.d_x, xn);
        support_ref_params(&r, &m);
        support_ref_doubles(&r, "weights.bin", weights, NT);
        support_ref_units(&r, &m);
        int rc = support_ref_run(&r, "torch_style_net.py", "%s %d %d 0.001", swag_names[form], C, H);
        for (int k = 0; k < NT; k++)
            style_term_free(&t[k]);
        free(style);
        free(x);
        model_free(&m);
        assert_int_equal(rc, 0);
    }
    support_ref_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gram_by_hand),
        cmocka_unit_test(test_tap_gradients),
        cmocka_unit_test(test_image_gradient),
        cmocka_unit_test(test_not_a_tap),
        cmocka_unit_test(test_tap_stats),
        cmocka_unit_test(test_against_torch),
        cmocka_unit_test(test_network_against_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
