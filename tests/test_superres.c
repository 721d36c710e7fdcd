/* Super-resolution's parts (issue 22): pixel shuffle (PyTorch's channel order, its backward),
 * the pixel losses (mean squared, L1), the SRResNet family (parameters, multiply-adds,
 * gradients), BatchNorm's evaluation-mode backward, and the frozen loss network with its
 * perceptual loss (lossnet.h): the gradient of the whole chain, generator → loss network,
 * against central differences. */
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <omp.h>

#include "loss.h"
#include "lossnet.h"
#include "model.h"
#include "models.h"
#include "rng.h"

/* ---- central differences over any loss ----------------------------------------------------- */

/* The mean loss at the current values; with backward, the analytic gradients are left in the
 * models' blocks (and d_x). */
typedef double (*loss_fn)(void *ctx, bool backward);

static double numeric(loss_fn f, void *ctx, float *v, float h)
{
    float keep = *v;
    *v = keep + h;
    float up_at = *v;
    double up = f(ctx, false);
    *v = keep - h;
    float down_at = *v;
    double down = f(ctx, false);
    *v = keep;
    return (up - down) / ((double)up_at - (double)down_at);
}

static bool within(double num, double ana)
{
    return fabs(num - ana) <= 2e-3 + 3e-2 * fmax(fabs(num), fabs(ana));
}

/* k entries of vals (count of them) against the analytic gradient ana; returns the misses
 * (an entry is retried at h = 1e-4 for a ReLU kink inside ±h). */
static int fd_entries(loss_fn f, void *ctx, float *vals, const float *ana, size_t count, int k,
                      const char *what, uint64_t key)
{
    int misses = 0;
    for (int j = 0; j < k; j++) {
        size_t i = rng_below(5, rng_stream(RNG_TEST, 30, key, 0), (uint64_t)j, (uint32_t)count);
        double num = numeric(f, ctx, &vals[i], 1e-3f);
        if (within(num, ana[i]) || within(numeric(f, ctx, &vals[i], 1e-4f), ana[i]))
            continue;
        print_message("%s[%zu]: numeric %g analytic %g\n", what, i, num, ana[i]);
        misses++;
    }
    return misses;
}

static void fill_normal(float *v, size_t n, uint64_t key, float scale)
{
    for (size_t i = 0; i < n; i++)
        v[i] = scale * rng_normal(4, rng_stream(RNG_TEST, 31, key, 0), i);
}

/* Biases and β off 0 (a dead ReLU's kink otherwise). */
static void shift_biases(struct model *m)
{
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        if (pa->kind == PARAM_BETA || pa->kind == PARAM_CONV_B)
            fill_normal(m->values + pa->offset, pa->count, 100 + (uint64_t)p, 0.1f);
    }
}

static size_t input_size(const struct model *m, int n)
{
    return (size_t)n * m->spec.in_c * m->spec.in_h * m->spec.in_w;
}

/* ---- pixel shuffle ------------------------------------------------------------------------ */

static void test_pixel_shuffle_order(void **state)
{
    (void)state;
    /* torch.nn.PixelShuffle(2)(torch.arange(48.).reshape(1, 8, 2, 3)).flatten() */
    static const int want[48] = {0,  6,  1,  7,  2,  8,  12, 18, 13, 19, 14, 20, 3,  9,  4,  10,
                                 5,  11, 15, 21, 16, 22, 17, 23, 24, 30, 25, 31, 26, 32, 36, 42,
                                 37, 43, 38, 44, 27, 33, 28, 34, 29, 35, 39, 45, 40, 46, 41, 47};
    struct pixel_shuffle ps;
    pixel_shuffle_init(&ps, 8, 2, 2, 3);
    float in[48], out[48], back[48] = {0};
    for (int i = 0; i < 48; i++)
        in[i] = (float)i;
    pixel_shuffle_forward(out, in, &ps, 1);
    for (int i = 0; i < 48; i++)
        assert_true(out[i] == (float)want[i]);
    pixel_shuffle_backward(back, out, &ps, 1); /* the inverse permutation, added */
    pixel_shuffle_backward(back, out, &ps, 1);
    for (int i = 0; i < 48; i++)
        assert_true(back[i] == 2.0f * in[i]);
}

/* ---- pixel losses and the image networks' gradients --------------------------------------- */

struct image_net {
    struct model m;
    struct loss loss;
    int n;
    float *x, *target;
};

static double image_net_loss(void *ctx, bool backward)
{
    struct image_net *t = ctx;
    model_zero_grad(&t->m);
    model_forward(&t->m, t->x, t->n, true, NULL);
    double sum = t->loss.apply(&t->loss, &t->m, t->n, t->n, t->target);
    if (backward)
        model_backward(&t->m, t->n, NULL);
    return sum / t->n;
}

static void image_net_setup(struct image_net *t, const struct model_spec *s, int n)
{
    struct rv_error err;
    if (model_build(&t->m, s, n, 1, &err))
        fail_msg("%s", err.msg);
    model_init(&t->m, 9);
    shift_biases(&t->m);
    t->n = n;
    t->x = malloc(input_size(&t->m, n) * sizeof(float));
    t->target = malloc((size_t)n * s->classes * sizeof(float));
    fill_normal(t->x, input_size(&t->m, n), 1, 1.0f);
    fill_normal(t->target, (size_t)n * s->classes, 2, 1.0f);
}

static void image_net_free(struct image_net *t)
{
    free(t->x);
    free(t->target);
    model_free(&t->m);
}

/* Every parameter (two entries each) and eight input entries. */
static int image_net_check(struct image_net *t)
{
    image_net_loss(t, true);
    size_t xn = input_size(&t->m, t->n);
    float *grads = malloc(t->m.total * sizeof(float)), *dx = malloc(xn * sizeof(float));
    memcpy(grads, t->m.grads, t->m.total * sizeof(float));
    memcpy(dx, t->m.d_x, xn * sizeof(float));
    int misses = 0;
    for (int p = 0; p < t->m.nparams; p++) {
        const struct param *pa = &t->m.params[p];
        misses += fd_entries(image_net_loss, t, t->m.values + pa->offset, grads + pa->offset,
                             pa->count, 2, pa->name, (uint64_t)p);
    }
    misses += fd_entries(image_net_loss, t, t->x, dx, xn, 8, "input", 999);
    free(grads);
    free(dx);
    return misses;
}

/* conv → pixel shuffle ×2 → ReLU → conv: a small image network. */
static void build_shuffle_net(struct model *m)
{
    int x = model_add_conv(m, "up.conv", 0, 8, 3, 1, 1, true);
    x = model_add_pixel_shuffle(m, "up.shuffle", x, 2);
    x = model_add_relu(m, "up", x);
    model_add_conv(m, "output", x, 1, 3, 1, 1, true);
}

static void test_pixel_losses_and_shuffle_gradients(void **state)
{
    (void)state;
    struct model_spec s = {.width = 1, .in_c = 1, .in_h = 3, .in_w = 4, .classes = 1 * 6 * 8,
                           .build = build_shuffle_net, .input_grad = true};
    struct rv_error err;
    for (int k = 0; k < 2; k++) {
        struct image_net t;
        image_net_setup(&t, &s, 3);
        assert_int_equal(t.m.fc_w, -1);
        if (k == 0)
            assert_int_equal(loss_mse(&t.loss, &t.m, NULL, &err), 0);
        else
            assert_int_equal(loss_l1(&t.loss, &t.m, "output", &err), 0);
        assert_int_equal(image_net_check(&t), 0);
        /* the value: per image the mean over C·H·W */
        double got = image_net_loss(&t, false), want = 0.0;
        for (size_t i = 0; i < (size_t)3 * s.classes; i++) {
            double d = (double)t.m.logits[i] - (double)t.target[i];
            want += k == 0 ? d * d : fabs(d);
        }
        assert_true(fabs(got - want / (3.0 * s.classes)) < 1e-9);
        /* not a tap: one-line error */
        assert_int_equal(loss_mse(&t.loss, &t.m, "up.conv", &err), -1);
        assert_non_null(strstr(err.msg, "'up.conv' is not a tap"));
        image_net_free(&t);
    }
}

/* ---- SRResNet ----------------------------------------------------------------------------- */

static size_t multiply_adds(const struct model *m)
{
    size_t macs = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const struct conv2d *c = &m->layers[i].conv;
        if (m->layers[i].op == LAYER_CONV)
            macs += (size_t)c->out_c * c->in_c * c->k * c->k * c->out_h * c->out_w;
    }
    return macs;
}

static void test_srresnet_shape_and_counts(void **state)
{
    (void)state;
    struct model_spec s = {.arch = ARCH_SRRESNET, .depth = 3, .width = 1, .in_c = 1, .in_h = 14,
                           .in_w = 14, .classes = 784};
    assert_int_equal(srresnet_classes(&s), 784);
    struct model m;
    struct rv_error err;
    if (model_build(&m, &s, -1, 1, &err))
        fail_msg("%s", err.msg);
    /* head 1·32·9 + 32; blocks 3·2·(32·32·9 + 64); body 32·32·9 + 64; up 32·128·9 + 128;
     * output 32·9 + 1 */
    size_t want = 320 + 3 * 2 * (9216 + 64) + 9216 + 64 + 36864 + 128 + 289;
    assert_int_equal(model_count(&m).total, want);
    const struct tensor *o = &m.tensors[m.layers[m.nlayers - 1].out];
    assert_int_equal(o->c, 1);
    assert_int_equal(o->h, 28);
    assert_int_equal(o->w, 28);
    size_t macs = multiply_adds(&m);
    assert_true(macs > 15000000 && macs < 25000000); /* "about 20 M" (issue 22): 18.7 M */
    model_free(&m);
    /* as a classifier: one line naming the fix */
    s.classes = 10;
    assert_int_equal(model_build(&m, &s, 1, 1, &err), -1);
    assert_non_null(strstr(err.msg, "pipeline superres"));
    s.classes = 784;
    s.depth = -1;
    assert_int_equal(model_check_spec(&s, &err), -1);
    assert_non_null(strstr(err.msg, "model.depth = -1"));
}

static void test_srresnet_gradients(void **state)
{
    (void)state;
    struct model_spec s = {.arch = ARCH_SRRESNET, .depth = 1, .width = 1, .in_c = 1, .in_h = 3,
                           .in_w = 3, .classes = 36, .input_grad = true};
    struct image_net t;
    image_net_setup(&t, &s, 3);
    struct rv_error err;
    assert_int_equal(loss_mse(&t.loss, &t.m, NULL, &err), 0);
    assert_true(image_net_check(&t) <= 1);
    image_net_free(&t);
}

/* ---- BatchNorm in evaluation mode: the frozen network's input gradient ---------------------- */

static double eval_loss(void *ctx, bool backward)
{
    struct image_net *t = ctx;
    model_zero_grad(&t->m);
    model_forward(&t->m, t->x, t->n, false, NULL);
    double sum = t->loss.apply(&t->loss, &t->m, t->n, t->n, t->target);
    if (backward)
        model_backward(&t->m, t->n, NULL);
    return sum / t->n;
}

static void test_eval_batchnorm_gradients(void **state)
{
    (void)state;
    struct model_spec s = {.arch = ARCH_SRRESNET, .depth = 1, .width = 1, .in_c = 1, .in_h = 3,
                           .in_w = 3, .classes = 36, .input_grad = true};
    struct image_net t;
    image_net_setup(&t, &s, 2);
    /* running statistics away from (0, 1), so the eval map is not the identity */
    for (int u = 0; u < t.m.nunits; u++) {
        float *rs = t.m.running_stats + t.m.units[u].running;
        int c = t.m.units[u].channels;
        for (int j = 0; j < c; j++) {
            rs[j] = 0.3f * rng_normal(4, rng_stream(RNG_TEST, 32, (uint64_t)u, 0), (uint64_t)j);
            rs[c + j] = 0.5f + rng_uniform(4, rng_stream(RNG_TEST, 33, (uint64_t)u, 0), (uint64_t)j);
        }
    }
    struct rv_error err;
    assert_int_equal(loss_mse(&t.loss, &t.m, NULL, &err), 0);
    eval_loss(&t, true);
    size_t xn = input_size(&t.m, t.n);
    float *grads = malloc(t.m.total * sizeof(float)), *dx = malloc(xn * sizeof(float));
    memcpy(grads, t.m.grads, t.m.total * sizeof(float));
    memcpy(dx, t.m.d_x, xn * sizeof(float));
    int misses = fd_entries(eval_loss, &t, t.x, dx, xn, 8, "input", 1);
    for (int p = 0; p < t.m.nparams; p++) {
        const struct param *pa = &t.m.params[p];
        misses += fd_entries(eval_loss, &t, t.m.values + pa->offset, grads + pa->offset,
                             pa->count, 2, pa->name, (uint64_t)p);
    }
    assert_true(misses <= 1);
    free(grads);
    free(dx);
    image_net_free(&t);
}


/* ---- the frozen loss network -------------------------------------------------------------- */

static void test_lossnet_init_schemes(void **state)
{
    (void)state;
    struct model_spec net = {.arch = ARCH_RESNET, .depth = 8, .width = 1, .in_c = 1, .in_h = 8,
                             .in_w = 8, .classes = 10};
    struct lossnet_spec s = {.net = net, .ntaps = 1, .taps = {"seg2.block0"}, .tap_weight = {1},
                             .seed = 3, .mean = {0.5f}, .std = {0.25f}};
    struct rv_error err;
    for (int init = 0; init < LOSSNET_INIT_COUNT; init++) {
        s.init = (enum lossnet_init)init;
        s.init_scale = init == LOSSNET_INIT_UNIFORM ? 0.01 : 0.1;
        struct lossnet ln;
        if (lossnet_open(&ln, &s, 2, 1, &err))
            fail_msg("%s", err.msg);
        struct model *m = &ln.m;
        assert_int_equal(model_trainable(m), 0); /* frozen */
        int l = 0;
        for (int p = 0; p < m->nparams; p++) {
            const struct param *pa = &m->params[p];
            const float *v = m->values + pa->offset;
            if (pa->kind == PARAM_GAMMA || pa->kind == PARAM_BETA || pa->kind == PARAM_OUTPUT_B) {
                for (size_t i = 0; i < pa->count; i++)
                    assert_true(v[i] == (pa->kind == PARAM_GAMMA ? 1.0f : 0.0f));
                continue;
            }
            l++;
            double field = pa->ndim == 4 ? (double)pa->dims[2] * pa->dims[3] : 1.0;
            double fan_in = pa->dims[1] * field, fan_out = pa->dims[0] * field, want = 0.0;
            switch (s.init) {
            case LOSSNET_INIT_NORMAL: want = 0.1; break;
            case LOSSNET_INIT_UNIFORM: want = 0.01 / sqrt(3.0); break;
            case LOSSNET_INIT_XAVIER: want = sqrt(2.0 / (fan_in + fan_out)); break;
            case LOSSNET_INIT_KAIMING: want = sqrt(2.0 / fan_in); break;
            default: want = sqrt(2.0 / (l * fan_in)); break;
            }
            double ss = 0.0, most = 0.0;
            for (size_t i = 0; i < pa->count; i++) {
                ss += (double)v[i] * v[i];
                most = fmax(most, fabs(v[i]));
            }
            double sd = sqrt(ss / pa->count);
            if (pa->count >= 5000) /* a few per cent at these counts */
                assert_true(fabs(sd / want - 1.0) < 0.05);
            if (s.init == LOSSNET_INIT_UNIFORM)
                assert_true(most <= 0.01);
            assert_true(v[0] == lossnet_init_value(m, s.init, s.init_scale, 3, p, l, 0));
        }
        assert_int_equal(l, 10); /* 7 convs, 2 shortcut convs and the output layer */
        /* the seed fixes the network; another seed gives another */
        assert_true(m->values[0] != lossnet_init_value(m, s.init, s.init_scale, 4, 0, 1, 0));
        lossnet_close(&ln);
    }
    /* a tap that is not a layer: one line */
    s.taps[0] = "seg9.block0";
    struct lossnet ln;
    assert_int_equal(lossnet_open(&ln, &s, 2, 1, &err), -1);
    assert_non_null(strstr(err.msg, "tap 'seg9.block0' is not a layer"));
}

/* The loss network runs up to its last tap only, unless something before it is read after it
 * (a tap inside a residual block); either way the loss and its gradient are those of the whole
 * network, bit for bit. */
static void test_lossnet_stops_at_last_tap(void **state)
{
    (void)state;
    struct lossnet_spec s = {.net = {.arch = ARCH_RESNET, .depth = 8, .width = 1, .in_c = 1,
                                     .in_h = 8, .in_w = 8, .classes = 4},
                             .ntaps = 1, .taps = {"seg2.block0"}, .tap_weight = {1},
                             .init = LOSSNET_INIT_KAIMING, .seed = 2, .mean = {0.5f}, .std = {0.25f}};
    const int n = 2;
    size_t count = (size_t)n * 64;
    float *y = malloc(count * sizeof(float)), *t = malloc(count * sizeof(float));
    float *dy = calloc(count, sizeof(float)), *dy_all = calloc(count, sizeof(float));
    for (size_t i = 0; i < count; i++) {
        y[i] = rng_uniform(4, rng_stream(RNG_TEST, 38, 0, 0), i);
        t[i] = rng_uniform(4, rng_stream(RNG_TEST, 39, 0, 0), i);
    }
    struct rv_error err;
    struct lossnet ln;
    if (lossnet_open(&ln, &s, n, 1, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(ln.m.run_layers, model_find_layer(&ln.m, "seg2.block0") + 1);
    assert_true(ln.m.run_layers < ln.m.nlayers);
    lossnet_set_target(&ln, t, n);
    double v = lossnet_loss(&ln, y, n, n, 0.5, dy);
    ln.m.run_layers = 0; /* the whole network */
    lossnet_set_target(&ln, t, n);
    double v_all = lossnet_loss(&ln, y, n, n, 0.5, dy_all);
    assert_true(v == v_all && v > 0.0);
    assert_memory_equal(dy, dy_all, count * sizeof(float));
    lossnet_close(&ln);
    s.taps[0] = "seg2.block0.conv1"; /* inside a block: its input is read by the block's add */
    if (lossnet_open(&ln, &s, n, 1, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(ln.m.run_layers, 0);
    lossnet_close(&ln);
    free(y);
    free(t);
    free(dy);
    free(dy_all);
}

/* A small loss network: conv-BN-ReLU, max-pool, conv-BN-ReLU, pool, output. */
static void build_tiny_lossnet(struct model *m)
{
    int x = model_add_conv(m, "b1.conv", 0, 4, 3, 1, 1, true);
    x = model_add_bn(m, "b1", x, true, false);
    x = model_add_maxpool(m, "pool", x, 2, 2, 0, true);
    x = model_add_conv(m, "b2.conv", x, 6, 3, 1, 1, false);
    x = model_add_bn(m, "b2", x, true, false);
    x = model_add_avgpool(m, "avgpool", x);
    model_add_linear(m, "output", x, m->spec.classes, PARAM_OUTPUT_W, PARAM_OUTPUT_B);
}

/* generator → pixel MSE + λ·perceptual through the frozen network */
struct chain {
    struct image_net g;
    struct lossnet ln;
    double lambda;
};

static double chain_loss(void *ctx, bool backward)
{
    struct chain *c = ctx;
    struct image_net *t = &c->g;
    model_zero_grad(&t->m);
    model_forward(&t->m, t->x, t->n, true, NULL);
    double sum = t->loss.apply(&t->loss, &t->m, t->n, t->n, t->target);
    lossnet_set_target(&c->ln, t->target, t->n);
    sum += c->lambda * lossnet_loss(&c->ln, t->m.logits, t->n, t->n, c->lambda,
                                    backward ? t->m.d_logits : NULL);
    if (backward)
        model_backward(&t->m, t->n, NULL);
    return sum / t->n;
}

/* Everything PyTorch needs to recompute the chain, as float64: the generator's values and running
 * statistics, the loss network's, x, the targets; then the loss, the generator's gradients, d_x. */
static void dump_doubles(FILE *f, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double d = v[i];
        assert_int_equal(fwrite(&d, sizeof d, 1, f), 1);
    }
}

static void dump_chain(const char *path, const struct chain *c, double value)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    const struct model *g = &c->g.m, *l = &c->ln.m;
    dump_doubles(f, g->values, g->total);
    dump_doubles(f, g->running_stats, g->running_total);
    dump_doubles(f, l->values, l->total);
    dump_doubles(f, l->running_stats, l->running_total);
    dump_doubles(f, c->g.x, input_size(g, c->g.n));
    dump_doubles(f, c->g.target, (size_t)c->g.n * g->spec.classes);
    assert_int_equal(fwrite(&value, sizeof value, 1, f), 1);
    dump_doubles(f, g->grads, g->total);
    dump_doubles(f, g->d_x, input_size(g, c->g.n));
    assert_int_equal(fclose(f), 0);
}

static void test_perceptual_chain_gradients(void **state)
{
    (void)state;
    struct chain c = {.lambda = 0.7};
    struct model_spec gs = {.arch = ARCH_SRRESNET, .depth = 1, .width = 1, .in_c = 1, .in_h = 3,
                            .in_w = 3, .classes = 36, .input_grad = true};
    image_net_setup(&c.g, &gs, 3);
    for (size_t i = 0; i < (size_t)3 * 36; i++) /* targets: images in [0, 1] */
        c.g.target[i] = rng_uniform(4, rng_stream(RNG_TEST, 34, 0, 0), i);
    struct rv_error err;
    assert_int_equal(loss_mse(&c.g.loss, &c.g.m, NULL, &err), 0);
    struct lossnet_spec s = {.net = {.width = 1, .in_c = 1, .in_h = 6, .in_w = 6, .classes = 3,
                                     .build = build_tiny_lossnet},
                             .ntaps = 2, .taps = {"b1", "b2"}, .tap_weight = {1.0, 0.5},
                             .init = LOSSNET_INIT_LIU, .seed = 5, .mean = {0.3f}, .std = {0.5f}};
    if (lossnet_open(&c.ln, &s, 3, 1, &err))
        fail_msg("%s", err.msg);
    /* running statistics and β off (0, 1) and 0: evaluation-mode BatchNorm is differentiated */
    struct model *m = &c.ln.m;
    for (int u = 0; u < m->nunits; u++) {
        float *rs = m->running_stats + m->units[u].running;
        int ch = m->units[u].channels;
        for (int j = 0; j < ch; j++) {
            rs[j] = 0.2f * rng_normal(4, rng_stream(RNG_TEST, 35, (uint64_t)u, 0), (uint64_t)j);
            rs[ch + j] = 0.5f + rng_uniform(4, rng_stream(RNG_TEST, 36, (uint64_t)u, 0), (uint64_t)j);
        }
        fill_normal(m->values + m->params[m->units[u].beta].offset, (size_t)ch, 37 + (uint64_t)u, 0.1f);
    }
    /* the perceptual term is really there and its gradient flows into the generator */
    chain_loss(&c, false);
    lossnet_set_target(&c.ln, c.g.target, 3);
    assert_true(lossnet_loss(&c.ln, c.g.m.logits, 3, 3, 1.0, NULL) > 1e-3);
    double value = chain_loss(&c, true);
    size_t xn = input_size(&c.g.m, 3);
    if (getenv("SR_TORCH_DUMP")) /* tests/superres_torch.test.sh compares this with PyTorch */
        dump_chain(getenv("SR_TORCH_DUMP"), &c, value);
    float *grads = malloc(c.g.m.total * sizeof(float)), *dx = malloc(xn * sizeof(float));
    memcpy(grads, c.g.m.grads, c.g.m.total * sizeof(float));
    memcpy(dx, c.g.m.d_x, xn * sizeof(float));
    int misses = 0;
    for (int p = 0; p < c.g.m.nparams; p++) {
        const struct param *pa = &c.g.m.params[p];
        misses += fd_entries(chain_loss, &c, c.g.m.values + pa->offset, grads + pa->offset,
                             pa->count, 2, pa->name, (uint64_t)p);
    }
    misses += fd_entries(chain_loss, &c, c.g.x, dx, xn, 8, "input", 77);
    /* ReLU kinks within ±h and float noise (the chain's value is checked against PyTorch in
     * float64 to 1e-4: tests/superres_torch.test.sh) */
    assert_true(misses <= 2);
    /* the loss network stayed frozen: no weight gradient anywhere */
    for (size_t i = 0; i < m->total; i++)
        assert_true(m->grads[i] == 0.0f);
    free(grads);
    free(dx);
    lossnet_close(&c.ln);
    image_net_free(&c.g);
}

int main(void)
{
    /* Tiny networks: one thread (OpenMP's idle threads spinning on a loaded machine made this
     * test take a minute instead of a second). */
    omp_set_num_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pixel_shuffle_order),
        cmocka_unit_test(test_pixel_losses_and_shuffle_gradients),
        cmocka_unit_test(test_srresnet_shape_and_counts),
        cmocka_unit_test(test_srresnet_gradients),
        cmocka_unit_test(test_eval_batchnorm_gradients),
        cmocka_unit_test(test_lossnet_init_schemes),
        cmocka_unit_test(test_perceptual_chain_gradients),
        cmocka_unit_test(test_lossnet_stops_at_last_tap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
