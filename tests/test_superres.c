/* Super-resolution's parts (issue 22): pixel shuffle (PyTorch's channel order, its backward),
 * the pixel losses (mean squared, L1), the SRResNet family and its scale-1 denoiser srresnet_x1
 * (parameters, multiply-adds, gradients), BatchNorm's evaluation-mode backward, and the frozen
 * loss network with its perceptual loss (lossnet.h): the gradient of the whole chain, generator
 * → loss network, against central differences, for both generators. Denoising's noise (paired
 * on test images, fresh per seed and epoch in training) and its Gaussian-blur baseline
 * (denoise.h). */
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

#include "denoise.h"
#include "image.h"
#include "loss.h"
#include "lossnet.h"
#include "model.h"
#include "models.h"
#include "rng.h"
#include "upsample.h"

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

/* A generator's parameter and input gradients under the MSE loss against central differences. */
static void check_generator_gradients(const struct model_spec *s)
{
    struct image_net t;
    image_net_setup(&t, s, 3);
    struct rv_error err;
    assert_int_equal(loss_mse(&t.loss, &t.m, NULL, &err), 0);
    assert_true(image_net_check(&t) <= 1);
    image_net_free(&t);
}

static void test_srresnet_gradients(void **state)
{
    (void)state;
    struct model_spec s = {.arch = ARCH_SRRESNET, .depth = 1, .width = 1, .in_c = 1, .in_h = 3,
                           .in_w = 3, .classes = 36, .input_grad = true};
    check_generator_gradients(&s);
}

/* srresnet_x1, the denoiser: srresnet without the up-block, (C, H, W) → (C, H, W). */
static void test_srresnet_x1_shape_and_counts(void **state)
{
    (void)state;
    struct model_spec s = {.arch = ARCH_SRRESNET_X1, .depth = 3, .width = 1, .in_c = 1, .in_h = 28,
                           .in_w = 28, .classes = 784};
    assert_int_equal(srresnet_classes(&s), 784);
    struct model m;
    struct rv_error err;
    if (model_build(&m, &s, -1, 1, &err))
        fail_msg("%s", err.msg);
    /* head 1·32·9 + 32; blocks 3·2·(32·32·9 + 64); body 32·32·9 + 64; output 32·9 + 1 */
    size_t want = 320 + 3 * 2 * (9216 + 64) + 9216 + 64 + 289;
    assert_int_equal(model_count(&m).total, want);
    const struct tensor *o = &m.tensors[m.layers[m.nlayers - 1].out];
    assert_int_equal(o->c, 1);
    assert_int_equal(o->h, 28);
    assert_int_equal(o->w, 28);
    /* 7 convs 32→32 and two 1↔32, all at 28×28 */
    assert_int_equal(multiply_adds(&m), (size_t)784 * (7 * 9216 + 2 * 288));
    assert_int_equal(model_find_param(&m, "up.conv"), -1);
    /* the same layer names as srresnet's up to body.add, then output */
    struct model x2;
    struct model_spec s2 = s;
    s2.arch = ARCH_SRRESNET;
    s2.in_h = s2.in_w = 14;
    if (model_build(&x2, &s2, -1, 1, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(x2.nparams, m.nparams + 2); /* up.conv and its bias */
    for (int p = 0; p < m.nparams - 2; p++)
        assert_string_equal(m.params[p].name, x2.params[p].name);
    assert_string_equal(m.params[m.nparams - 2].name, "output");
    model_free(&x2);
    char desc[96];
    model_families[ARCH_SRRESNET_X1].describe(desc, sizeof desc, &s);
    assert_string_equal(desc, "SRResNet x1, 3 residual blocks of 32 channels");
    model_free(&m);
    /* as a classifier: one line naming the fix */
    s.classes = 10;
    assert_int_equal(model_build(&m, &s, 1, 1, &err), -1);
    assert_non_null(strstr(err.msg, "model.arch = srresnet_x1 is an image-to-image network"));
    assert_non_null(strstr(err.msg, "pipeline superres"));
    /* not a loss network */
    assert_int_equal(lossnet_check_arch(ARCH_SRRESNET_X1, "superres.lossnet_arch", &err), -1);
    assert_non_null(strstr(err.msg, "superres.lossnet_arch = srresnet_x1 is the generator"));
}

static void test_srresnet_x1_gradients(void **state)
{
    (void)state;
    struct model_spec s = {.arch = ARCH_SRRESNET_X1, .depth = 2, .width = 1, .in_c = 1, .in_h = 4,
                           .in_w = 4, .classes = 16, .input_grad = true};
    check_generator_gradients(&s);
}

/* ---- denoising's noise and blur (denoise.h) ------------------------------------------------- */

/* The noise of a test image is a function of the image index and pixel only (the same for every
 * run, seed and cell: paired comparisons); a training image's changes with the seed, the epoch
 * and the image; the blur-choice images' with neither seed nor epoch. N(0, σ²) per pixel. */
static void test_denoise_noise_streams(void **state)
{
    (void)state;
    enum { N = 784 };
    static float t[N], a[N], b[N];
    for (int i = 0; i < N; i++)
        t[i] = (float)(i % 29) / 28.0f;
    /* test images: the seed is ignored, the image index is not */
    denoise_noisy(a, t, N, 0.5, 1, DENOISE_TEST, 17);
    denoise_noisy(b, t, N, 0.5, 2, DENOISE_TEST, 17);
    assert_memory_equal(a, b, sizeof a);
    denoise_noisy(b, t, N, 0.5, 1, DENOISE_TEST, 18);
    assert_memory_not_equal(a, b, sizeof a);
    /* the choice images: neither seed nor epoch; not the test images' noise */
    denoise_noisy(b, t, N, 0.5, 3, DENOISE_CHOICE, 17);
    assert_memory_not_equal(a, b, sizeof a);
    denoise_noisy(a, t, N, 0.5, 4, DENOISE_CHOICE, 17);
    assert_memory_equal(a, b, sizeof a);
    /* training: deterministic; fresh per seed, epoch and image; none equal to the test noise */
    float c[N];
    denoise_noisy(a, t, N, 0.5, 1, 0, 17);
    denoise_noisy(c, t, N, 0.5, 1, 0, 17);
    assert_memory_equal(a, c, sizeof a);
    const int other[][3] = {{2, 0, 17}, {1, 1, 17}, {1, 0, 16}};
    for (int k = 0; k < 3; k++) {
        denoise_noisy(b, t, N, 0.5, (uint64_t)other[k][0], other[k][1], other[k][2]);
        assert_memory_not_equal(a, b, sizeof a);
    }
    denoise_noisy(b, t, N, 0.5, 0, DENOISE_TEST, 17);
    assert_memory_not_equal(a, b, sizeof a);
    /* x − t is σ·N(0, 1): mean and standard deviation over 100 images' pixels */
    double sum = 0.0, sq = 0.0;
    for (int img = 0; img < 100; img++) {
        denoise_noisy(a, t, N, 0.5, 7, 3, img);
        for (int i = 0; i < N; i++) {
            double d = (double)a[i] - t[i];
            sum += d;
            sq += d * d;
        }
    }
    double n = 100.0 * N, mean = sum / n, sd = sqrt(sq / n - mean * mean);
    assert_true(fabs(mean) < 0.005 && fabs(sd - 0.5) < 0.005);
}

/* The blur against a direct 2-D sum of the truncated, renormalized Gaussian (separable: the 2-D
 * kernel of a pixel is the product of its row's and column's taps); a constant stays constant. */
static void test_denoise_blur(void **state)
{
    (void)state;
    enum { H = 7, W = 11 };
    float in[H * W], out[H * W], tmp[H * W];
    for (int i = 0; i < H * W; i++)
        in[i] = (float)((i * 7) % 13) / 13.0f;
    const double sigmas[] = {0.25, 1.0, 3.0};
    for (int k = 0; k < 3; k++) {
        double sg = sigmas[k];
        int r = (int)ceil(3.0 * sg);
        denoise_blur(out, in, H, W, sg, tmp);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double num = 0.0, den = 0.0;
                for (int v = y - r; v <= y + r; v++)
                    for (int u = x - r; u <= x + r; u++) {
                        if (v < 0 || v >= H || u < 0 || u >= W)
                            continue;
                        double g = exp(-((v - y) * (v - y) + (u - x) * (u - x)) / (2.0 * sg * sg));
                        num += g * in[v * W + u];
                        den += g;
                    }
                assert_true(fabs(out[y * W + x] - num / den) < 1e-5);
            }
    }
    for (int i = 0; i < H * W; i++)
        in[i] = 0.375f;
    denoise_blur(out, in, H, W, 2.0, tmp);
    for (int i = 0; i < H * W; i++)
        assert_true(fabs(out[i] - 0.375f) < 1e-6);
}

/* The blur width is chosen by PSNR on the images given: flat images under heavy noise take the
 * widest blur of the grid, a pixel checkerboard under faint noise the narrowest. */
static void test_denoise_choose_blur(void **state)
{
    (void)state;
    enum { N = 4, S = 16, P = S * S };
    static float clean[N * P], noisy[N * P], tmp[2 * P];
    const double widths[] = DENOISE_BLUR_WIDTHS;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < P; j++)
                clean[i * P + j] = pass == 0 ? 0.5f : (float)(((j / S) + (j % S)) % 2);
            denoise_noisy(noisy + i * P, clean + i * P, P, pass == 0 ? 0.3 : 0.01, 0,
                          DENOISE_CHOICE, i);
        }
        double psnr, b = denoise_choose_blur(noisy, clean, N, 1, S, S, tmp, &psnr);
        assert_true(b == (pass == 0 ? widths[DENOISE_BLUR_NWIDTHS - 1] : widths[0]));
        /* the PSNR returned is that width's, measured as evaluation does (clamped) */
        double sum = 0.0;
        for (int i = 0; i < N; i++) {
            denoise_blur(tmp, noisy + i * P, S, S, b, tmp + P);
            for (int j = 0; j < P; j++)
                tmp[j] = tmp[j] < 0.0f ? 0.0f : tmp[j] > 1.0f ? 1.0f : tmp[j];
            sum += image_psnr(tmp, clean + i * P, P, 1.0);
        }
        assert_true(fabs(psnr - sum / N) < 1e-9);
    }
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

/* The chain for generator arch (srresnet on 3×3 inputs or srresnet_x1 on 6×6: 6×6 outputs
 * either way); dumped for PyTorch to the file named by the environment variable `dump`. */
static void perceptual_chain(enum arch_kind arch, const char *dump)
{
    struct chain c = {.lambda = 0.7};
    int side = arch == ARCH_SRRESNET_X1 ? 6 : 3;
    struct model_spec gs = {.arch = arch, .depth = 1, .width = 1, .in_c = 1, .in_h = side,
                            .in_w = side, .classes = 36, .input_grad = true};
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
    if (getenv(dump)) /* tests/superres_torch.test.sh compares this with PyTorch */
        dump_chain(getenv(dump), &c, value);
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

static void test_perceptual_chain_gradients(void **state)
{
    (void)state;
    perceptual_chain(ARCH_SRRESNET, "SR_TORCH_DUMP");
}

/* The denoiser's chain: the same through srresnet_x1 (skip = input adds a constant to the
 * output, so the generator's gradients are these). */
static void test_denoise_chain_gradients(void **state)
{
    (void)state;
    perceptual_chain(ARCH_SRRESNET_X1, "SR_TORCH_DUMP_X1");
}

/* ---- ×2 upsampling (upsample.h) -------------------------------------------------------------- */

/* Bicubic against Pillow 9.4 (Debian's python3-pil): a 5×7 float image x[y][x] = ((7y + 3x) mod 11)
 * / 10 resized to 14×10 by
 *     Image.fromarray(x.astype(np.float32), mode="F").resize((14, 10), Image.BICUBIC)
 * (a = −0.5, pixel centres aligned, edge taps dropped and renormalized: upsample.h), printed
 * with %.9g. Odd, unequal sides catch a swapped h and w and every edge case of the taps.
 * Nearest: each pixel 2×2. */
static void test_upsample_against_pil(void **state)
{
    (void)state;
    static const float pil[10 * 14] = { /* row-major, 7 values a half row */
        -0.0882352889f, -0.0135251191f, 0.144544244f, 0.332950413f, 0.540579081f, 0.745174646f, 0.946737111f,
        0.76486671f, 0.199563414f, 0.0487821773f, 0.312522978f, 0.528985202f, 0.687054515f, 0.761764705f,
        0.115135245f, 0.197069645f, 0.370580047f, 0.468744308f, 0.479362488f, 0.593168378f, 0.810161948f,
        0.733964384f, 0.364575744f, 0.206643492f, 0.260167658f, 0.379784942f, 0.553295314f, 0.635229707f,
        0.546048462f, 0.643294156f, 0.849530876f, 0.756422937f, 0.349469215f, 0.270980448f, 0.520956576f,
        0.668726146f, 0.714289129f, 0.541072309f, 0.149075612f, 0.0634461865f, 0.269682944f, 0.366928637f,
        0.622817099f, 0.727708757f, 0.950149059f, 0.866235375f, 0.460327148f, 0.278326422f, 0.320233136f,
        0.475000024f, 0.742626965f, 0.66583252f, 0.244616702f, 0.144924849f, 0.352184087f, 0.449908108f,
        0.315142453f, 0.41893819f, 0.638758361f, 0.777954102f, 0.82106936f, 0.63786006f, 0.22832641f,
        0.157373056f, 0.425000012f, 0.557409644f, 0.554602027f, 0.646463513f, 0.820740163f, 0.903033078f,
        0.418956786f, 0.424247265f, 0.435281515f, 0.575000048f, 0.842626929f, 0.77167356f, 0.36213991f,
        0.17893067f, 0.222045884f, 0.346801758f, 0.553198218f, 0.749606371f, 0.923779666f, 1.00608909f,
        0.93426013f, 0.743635952f, 0.339718521f, 0.257373065f, 0.524999976f, 0.679766834f, 0.721673608f,
        0.539672852f, 0.133764639f, 0.0340087898f, 0.240405291f, 0.454353541f, 0.661302447f, 0.759076297f,
        1.01531208f, 0.838351786f, 0.463521957f, 0.285710871f, 0.331273854f, 0.479043424f, 0.729019582f,
        0.650530756f, 0.243577048f, 0.142652676f, 0.347757638f, 0.46059671f, 0.479818374f, 0.488953799f,
        0.685315609f, 0.716932178f, 0.784147799f, 0.635424256f, 0.266035587f, 0.189838052f, 0.406831652f,
        0.520637572f, 0.531255722f, 0.637910604f, 0.840602219f, 0.748119473f, 0.385928929f, 0.214984983f,
        0.529671311f, 0.659703732f, 0.935496211f, 0.800436556f, 0.23513326f, 0.0532628745f, 0.254825354f,
        0.459420949f, 0.667049646f, 0.871645212f, 1.07320774f, 0.883789837f, 0.341519982f, 0.0855536386f,
    };
    enum { H = 5, W = 7 };
    float x[H * W], up[4 * H * W], tmp[2 * H * W];
    for (int y = 0; y < H; y++)
        for (int xx = 0; xx < W; xx++)
            x[y * W + xx] = (float)((double)((y * 7 + xx * 3) % 11) / 10.0);
    upsample_bicubic2(up, x, H, W, tmp);
    double worst = 0.0;
    for (int i = 0; i < 4 * H * W; i++)
        worst = fmax(worst, fabs((double)up[i] - (double)pil[i]));
    if (worst > 0.0)
        print_message("bicubic: largest difference from PIL %g\n", worst);
    assert_true(worst == 0.0); /* bit for bit: %.9g round-trips a float */
    upsample_nearest2(up, x, H, W);
    for (int i = 0; i < 4 * H * W; i++)
        assert_true(up[i] == x[(i / (2 * W)) / 2 * W + (i % (2 * W)) / 2]);
}

/* ICNR: after upsample_icnr on up.conv, the pixel shuffle's output is constant on every 2×2
 * block (no checkerboard at the start), and model_init's output is not (the test has teeth). */
static void test_icnr_no_checkerboard(void **state)
{
    (void)state;
    struct model_spec s = {.arch = ARCH_SRRESNET, .depth = 1, .width = 1, .in_c = 1, .in_h = 6,
                           .in_w = 6, .classes = 144, .taps = (const char *[]){"up.shuffle"},
                           .ntaps = 1};
    struct model m;
    struct rv_error err;
    if (model_build(&m, &s, 2, 1, &err))
        fail_msg("%s", err.msg);
    float x[2 * 36];
    for (int i = 0; i < 72; i++)
        x[i] = (float)((i * 7) % 13) / 13.0f;
    const struct tensor *t = &m.tensors[model_tap(&m, "up.shuffle")];
    for (int pass = 0; pass < 2; pass++) {
        model_init(&m, 3);
        if (pass)
            upsample_icnr(&m, "up.conv");
        model_forward(&m, x, 2, false, NULL);
        double worst = 0.0;
        for (size_t plane = 0; plane < (size_t)2 * t->c; plane++)
            for (int y = 0; y < t->h; y++)
                for (int xx = 0; xx < t->w; xx++) {
                    const float *v = t->v + plane * t->h * t->w;
                    worst = fmax(worst, fabs(v[y * t->w + xx] - v[(y & ~1) * t->w + (xx & ~1)]));
                }
        if (pass)
            assert_true(worst == 0.0);
        else
            assert_true(worst > 1e-3);
    }
    model_free(&m);
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
        cmocka_unit_test(test_srresnet_x1_shape_and_counts),
        cmocka_unit_test(test_srresnet_x1_gradients),
        cmocka_unit_test(test_denoise_noise_streams),
        cmocka_unit_test(test_denoise_blur),
        cmocka_unit_test(test_denoise_choose_blur),
        cmocka_unit_test(test_eval_batchnorm_gradients),
        cmocka_unit_test(test_lossnet_init_schemes),
        cmocka_unit_test(test_perceptual_chain_gradients),
        cmocka_unit_test(test_denoise_chain_gradients),
        cmocka_unit_test(test_lossnet_stops_at_last_tap),
        cmocka_unit_test(test_upsample_against_pil),
        cmocka_unit_test(test_icnr_no_checkerboard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
