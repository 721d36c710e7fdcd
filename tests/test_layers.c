/* Layer tests: every backward against central differences, conv2d against a direct double
 * convolution, accumulation, thread-count invariance, synchronized BatchNorm over two "ranks".
 *
 * Gradient checks use the scalar loss L = Σ out·R (R fixed normal numbers, so dL/dout = R),
 * evaluated with the float forward and summed in double, at x ± h with h = 1e-2:
 *     num = (L(x + h) − L(x − h)) / ((x + h) − (x − h)),  the denominator taken from the
 *     floats actually stored, so rounding x ± h costs nothing.
 * Error budget: conv, linear and avgpool are linear in each input, so the central difference
 * has no truncation error; for BN and softmax it is h²/6·L''' ≈ 2e-5 relative. The rest is the
 * float forward's rounding: only the outputs that depend on x change, each by ~1e-7 relative,
 * so L moves by ~1e-6 of noise, ~1e-4 after dividing by 2h. Hence
 *     |num − ana| <= 2e-3·max(|num|, |ana|) + 1e-3,
 * well above the noise and far below any wrong term (a missing or mis-indexed contribution is
 * O(1) on gradients of magnitude 1..30).
 */
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

#include "error.h"
#include "config.h"
#include "layers.h"
#include "rng.h"

#define SEED 20240611u
#define FD_H 1e-2f
#define FD_RTOL 2e-3
#define FD_ATOL 1e-3

static void fill_normal(float *a, size_t n, uint64_t tag, float scale, float offset)
{
    uint64_t s = rng_stream(RNG_TEST, tag, 0, 0);
    for (size_t i = 0; i < n; i++)
        a[i] = rng_normal(SEED, s, i) * scale + offset;
}

static double dot(const float *a, const float *r, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * r[i];
    return s;
}

static float *falloc(size_t n) { return rv_calloc(n, sizeof(float)); }

static void free_list(void **p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i]);
}
#define FREE_ALL(...) \
    free_list((void *[]){__VA_ARGS__}, sizeof((void *[]){__VA_ARGS__}) / sizeof(void *))

/* Compares ana against central differences of loss() at up to max_points entries of x (all
 * when there are fewer); entries with |x| < skip_below are skipped (ReLU's kink). Returns the
 * number of failures. */
static int check_grad(const char *what, float *x, size_t count, const float *ana,
                      double (*loss)(void *), void *ctx, size_t max_points, float skip_below)
{
    int bad = 0, checked = 0;
    double worst = 0.0;
    uint64_t pick = rng_stream(RNG_TEST, 999, count, 0);
    size_t points = count < max_points ? count : max_points;
    for (size_t k = 0; k < points; k++) {
        size_t i = count <= max_points ? k : rng_below(SEED, pick, k, (uint32_t)count);
        float x0 = x[i];
        if (fabsf(x0) < skip_below)
            continue;
        float xp = x0 + FD_H, xm = x0 - FD_H;
        x[i] = xp;
        double lp = loss(ctx);
        x[i] = xm;
        double lm = loss(ctx);
        x[i] = x0;
        double num = (lp - lm) / ((double)xp - (double)xm);
        double err = fabs(num - ana[i]);
        double tol = FD_RTOL * fmax(fabs(num), fabs(ana[i])) + FD_ATOL;
        worst = fmax(worst, err / tol);
        checked++;
        if (err > tol && bad++ < 5)
            print_error("%s[%zu]: numeric %.7g analytic %.7g\n", what, i, num, (double)ana[i]);
    }
#ifdef FD_VERBOSE
    print_message("%-28s %4d points, worst error/tolerance %.3g\n", what, checked, worst);
#endif
    if (checked == 0)
        bad++;
    return bad;
}

/* ---- conv2d ----------------------------------------------------------------------------- */

struct conv_case {
    struct conv2d l;
    int n;
    float *in, *w, *out, *r;
    struct conv2d_workspace *ws;
};

static double conv_loss(void *p)
{
    struct conv_case *c = p;
    conv2d_forward(c->out, c->in, c->w, &c->l, c->n, c->ws);
    return dot(c->out, c->r, (size_t)c->n * c->l.out_c * c->l.out_h * c->l.out_w);
}

static size_t in_count(const struct conv_case *c)
{
    return (size_t)c->n * c->l.in_c * c->l.in_h * c->l.in_w;
}

static size_t out_count(const struct conv_case *c)
{
    return (size_t)c->n * c->l.out_c * c->l.out_h * c->l.out_w;
}

static void conv_case_make(struct conv_case *c, int in_c, int out_c, int k, int s, int p, int hw,
                           int n, uint64_t tag, struct conv2d_workspace *ws)
{
    conv2d_init(&c->l, in_c, out_c, k, s, p, hw, hw);
    c->n = n;
    c->ws = ws;
    conv2d_workspace_reserve(ws, &c->l, n, 2);
    c->in = falloc(in_count(c));
    c->w = falloc(conv2d_weight_count(&c->l));
    c->out = falloc(out_count(c));
    c->r = falloc(out_count(c));
    fill_normal(c->in, in_count(c), tag, 1.0f, 0.2f);
    fill_normal(c->w, conv2d_weight_count(&c->l), tag + 1, 1.0f / sqrtf((float)(in_c * k * k)), 0.0f);
    fill_normal(c->r, out_count(c), tag + 2, 1.0f, 0.0f);
}

static void conv_case_free(struct conv_case *c)
{
    FREE_ALL(c->in, c->w, c->out, c->r);
}

/* The definition, in double: 7 loops, and their transpose for din and dw with dout = R.
 * Each a* array receives Σ|terms|, the scale of float rounding in the same sum. */
static void naive_conv(double *out, double *aout, double *din, double *adin, double *dw,
                       double *adw, const struct conv_case *c)
{
    const struct conv2d *l = &c->l;
    memset(din, 0, in_count(c) * sizeof(double));
    memset(adin, 0, in_count(c) * sizeof(double));
    memset(dw, 0, conv2d_weight_count(l) * sizeof(double));
    memset(adw, 0, conv2d_weight_count(l) * sizeof(double));
    for (int b = 0; b < c->n; b++)
        for (int o = 0; o < l->out_c; o++)
            for (int oh = 0; oh < l->out_h; oh++)
                for (int ow = 0; ow < l->out_w; ow++) {
                    size_t yi = (((size_t)b * l->out_c + o) * l->out_h + oh) * l->out_w + ow;
                    double g = c->r[yi], s = 0.0, a = 0.0;
                    for (int ci = 0; ci < l->in_c; ci++)
                        for (int ki = 0; ki < l->k; ki++)
                            for (int kj = 0; kj < l->k; kj++) {
                                int ih = oh * l->stride - l->pad + ki;
                                int iw = ow * l->stride - l->pad + kj;
                                if (ih < 0 || ih >= l->in_h || iw < 0 || iw >= l->in_w)
                                    continue;
                                size_t wi = ((size_t)(o * l->in_c + ci) * l->k + ki) * l->k + kj;
                                size_t xi = (((size_t)b * l->in_c + ci) * l->in_h + ih) * l->in_w + iw;
                                double wv = c->w[wi], xv = c->in[xi];
                                s += wv * xv;
                                a += fabs(wv * xv);
                                din[xi] += wv * g;
                                adin[xi] += fabs(wv * g);
                                dw[wi] += xv * g;
                                adw[wi] += fabs(xv * g);
                            }
                    out[yi] = s;
                    aout[yi] = a;
                }
}

/* |a − ref| <= rel·Σ|terms|: float summation's error bound, up to a small factor. */
static void assert_near_ref(const char *what, const float *a, const double *ref, const double *abs,
                            size_t n, double rel)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i] - ref[i]) > rel * abs[i]) {
            if (bad++ < 5)
                print_error("%s[%zu]: %.9g, reference %.9g (scale %.3g)\n", what, i, (double)a[i],
                            ref[i], abs[i]);
        }
    assert_int_equal(bad, 0);
}

static void conv_check_against_naive(struct conv_case *c)
{
    size_t ni = in_count(c), no = out_count(c), nw = conv2d_weight_count(&c->l);
    double *ref = rv_malloc((2 * no + 2 * ni + 2 * nw) * sizeof(double));
    double *aref = ref + no, *din = aref + no, *adin = din + ni, *dw = adin + ni, *adw = dw + nw;
    naive_conv(ref, aref, din, adin, dw, adw, c);
    float *gdin = falloc(ni), *gdw = falloc(nw);
    conv2d_forward(c->out, c->in, c->w, &c->l, c->n, c->ws);
    conv2d_backward(gdin, gdw, c->r, c->in, c->w, &c->l, c->n, c->ws);
    assert_near_ref("conv out", c->out, ref, aref, no, 1e-5);
    assert_near_ref("conv din", gdin, din, adin, ni, 1e-5);
    assert_near_ref("conv dw", gdw, dw, adw, nw, 1e-5);
    FREE_ALL(ref, gdin, gdw);
}

static void conv_fd_case(int in_c, int out_c, int k, int s, int p, int hw, int n, uint64_t tag)
{
    struct conv2d_workspace ws = {0};
    struct conv_case c;
    conv_case_make(&c, in_c, out_c, k, s, p, hw, n, tag, &ws);
    size_t ni = in_count(&c), nw = conv2d_weight_count(&c.l);
    float *din = falloc(ni), *dw = falloc(nw);
    conv2d_backward(din, dw, c.r, c.in, c.w, &c.l, n, &ws);
    char name[64];
    snprintf(name, sizeof name, "conv%dx%d/s%d/p%d din", k, k, s, p);
    assert_int_equal(check_grad(name, c.in, ni, din, conv_loss, &c, 2000, 0.0f), 0);
    snprintf(name, sizeof name, "conv%dx%d/s%d/p%d dw", k, k, s, p);
    assert_int_equal(check_grad(name, c.w, nw, dw, conv_loss, &c, 2000, 0.0f), 0);
    conv_check_against_naive(&c);

    /* din == NULL and dw == NULL each compute exactly the other gradient */
    float *din2 = falloc(ni), *dw2 = falloc(nw);
    conv2d_backward(din2, NULL, c.r, c.in, c.w, &c.l, n, &ws);
    assert_memory_equal(din2, din, ni * sizeof(float));
    conv2d_backward(NULL, dw2, c.r, c.in, c.w, &c.l, n, &ws);
    assert_memory_equal(dw2, dw, nw * sizeof(float));
    conv2d_backward(NULL, NULL, c.r, c.in, c.w, &c.l, n, &ws); /* a no-op */

    /* backward accumulates: twice gives 2×; dw's one += per call makes that exact */
    conv2d_backward(din2, dw2, c.r, c.in, c.w, &c.l, n, &ws);
    for (size_t i = 0; i < nw; i++)
        assert_true(dw2[i] == 2.0f * dw[i]);
    for (size_t i = 0; i < ni; i++)
        assert_true(fabsf(din2[i] - 2.0f * din[i]) <= 1e-6f * (1.0f + fabsf(din[i])));
    FREE_ALL(din, dw, din2, dw2);
    conv_case_free(&c);
    conv2d_workspace_free(&ws);
}

/* Odd sizes and n = 5 or 11: groups of 0, 1 and 2 images, edge columns in every stride. */
static void test_conv_3x3_s1(void **state) { conv_fd_case(3, 4, 3, 1, 1, 7, 5, 10); }
static void test_conv_3x3_s2(void **state) { conv_fd_case(3, 4, 3, 2, 1, 9, 11, 20); }
static void test_conv_1x1_s2(void **state) { conv_fd_case(4, 6, 1, 2, 0, 9, 5, 30); }
static void test_conv_1x1_s1(void **state) { conv_fd_case(4, 3, 1, 1, 0, 6, 5, 40); }

static void test_conv_shapes(void **state)
{
    struct conv2d l;
    conv2d_init(&l, 16, 32, 3, 2, 1, 32, 32);
    assert_int_equal(l.out_h, 16);
    assert_int_equal(l.out_w, 16);
    assert_int_equal(conv2d_weight_count(&l), 32 * 16 * 9);
    conv2d_init(&l, 16, 32, 1, 2, 0, 9, 9);
    assert_int_equal(l.out_h, 5);
    conv2d_init(&l, 3, 16, 3, 1, 1, 32, 32);
    assert_int_equal(l.out_w, 32);

    /* one workspace grows to serve the larger of two layers, and never shrinks */
    struct conv2d_workspace ws = {0};
    struct conv2d big, small;
    conv2d_init(&big, 64, 64, 3, 1, 1, 8, 8);
    conv2d_init(&small, 3, 16, 3, 1, 1, 32, 32);
    conv2d_workspace_reserve(&ws, &big, 128, 2);
    size_t cf = ws.col_floats;
    conv2d_workspace_reserve(&ws, &small, 128, 1);
    assert_true(ws.col_floats >= cf);
    assert_int_equal(ws.threads, 2);
    assert_int_equal(ws.dw_floats, 64 * 64 * 9);
    /* a chunk's columns stay within ~1 MiB (plus its output), yet hold at least one image */
    assert_true(ws.col_floats * sizeof(float) <= 2u << 20);
    conv2d_workspace_free(&ws);
    assert_null(ws.col);
}

/* Multi-image chunks (B = 2 here: 108·1024 floats of columns per image) split unevenly by the
 * groups (sizes 2 and 3), against the direct convolution; and the same bits on 1 and 2 threads. */
static void test_conv_chunks_and_threads(void **state)
{
    struct conv2d_workspace ws = {0};
    struct conv_case c;
    conv_case_make(&c, 12, 4, 3, 1, 1, 32, 19, 50, &ws);
    conv_check_against_naive(&c);

    size_t ni = in_count(&c), no = out_count(&c), nw = conv2d_weight_count(&c.l);
    float *out[2], *din[2], *dw[2];
    int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        out[t] = falloc(no);
        din[t] = falloc(ni);
        dw[t] = falloc(nw);
        conv2d_forward(out[t], c.in, c.w, &c.l, c.n, &ws);
        conv2d_backward(din[t], dw[t], c.r, c.in, c.w, &c.l, c.n, &ws);
    }
    omp_set_num_threads(saved);
    assert_memory_equal(out[0], out[1], no * sizeof(float));
    assert_memory_equal(din[0], din[1], ni * sizeof(float));
    assert_memory_equal(dw[0], dw[1], nw * sizeof(float));
    for (int t = 0; t < 2; t++) {
        FREE_ALL(out[t], din[t], dw[t]);
    }
    conv_case_free(&c);
    conv2d_workspace_free(&ws);
}

/* A 1×1 stride-1 conv whose image alone fills a chunk takes the no-im2col path. */
static void test_conv_pointwise_direct(void **state)
{
    struct conv2d_workspace ws = {0};
    struct conv_case c;
    conv_case_make(&c, 64, 8, 1, 1, 0, 48, 3, 60, &ws);
    conv_check_against_naive(&c);
    conv_case_free(&c);
    conv2d_workspace_free(&ws);
}

/* ---- conv2d: Winograd and the masked weight gradient -------------------------------------- */

/* Largest |a − ref| / Σ|terms| over n values: the error in units of the sum's own scale. */
static double worst_rel(const float *a, const double *ref, const double *abs, size_t n)
{
    double w = 0.0;
    for (size_t i = 0; i < n; i++)
        if (abs[i] > 0.0 && fabs(a[i] - ref[i]) / abs[i] > w)
            w = fabs(a[i] - ref[i]) / abs[i];
    return w;
}

/* Winograd's forward and input gradient against the double definition and the im2col path.
 * Measured on these shapes (float32, -O3 -march=native, OpenBLAS 0.3.21), worst |err|/Σ|terms|:
 *     im2col ~1e-7,  Winograd F(2×2,3×3) ~3e-7 (out) and ~3e-7 (din)
 * (the transforms add and halve a few values per term, ~4 roundings more). The budget is
 * 2e-6·Σ|terms|, 20× im2col's 1e-7 scale and well below any wrong term (O(1) of the scale). */
#define WINOGRAD_REL 2e-6
static void winograd_case(int in_c, int out_c, int hw, int n, uint64_t tag, double *worst)
{
    struct conv2d_workspace ws = {0};
    struct conv_case c;
    conv_case_make(&c, in_c, out_c, 3, 1, 1, hw, n, tag, &ws);
    struct conv2d wl = c.l;
    conv2d_set_algo(&wl, CONV_ALGO_WINOGRAD, CONV_AUTO_RULE_CURRENT);
    assert_int_equal(wl.winograd, 1);
    conv2d_workspace_reserve(&ws, &wl, n, 2);
    size_t ni = in_count(&c), no = out_count(&c), nw = conv2d_weight_count(&c.l);
    double *ref = rv_malloc((2 * no + 2 * ni + 2 * nw) * sizeof(double));
    double *aref = ref + no, *din = aref + no, *adin = din + ni, *dw = adin + ni, *adw = dw + nw;
    naive_conv(ref, aref, din, adin, dw, adw, &c);
    float *o1 = falloc(no), *o2 = falloc(no), *d1 = falloc(ni), *d2 = falloc(ni);
    float *dw1 = falloc(nw), *dw2 = falloc(nw);
    conv2d_forward(o1, c.in, c.w, &c.l, n, &ws);
    conv2d_backward(d1, dw1, c.r, c.in, c.w, &c.l, n, &ws);
    conv2d_forward(o2, c.in, c.w, &wl, n, &ws);
    conv2d_backward(d2, dw2, c.r, c.in, c.w, &wl, n, &ws);
    worst[0] = fmax(worst[0], worst_rel(o1, ref, aref, no));
    worst[1] = fmax(worst[1], worst_rel(o2, ref, aref, no));
    worst[2] = fmax(worst[2], worst_rel(d2, din, adin, ni));
    assert_near_ref("winograd out", o2, ref, aref, no, WINOGRAD_REL);
    assert_near_ref("winograd din", d2, din, adin, ni, WINOGRAD_REL);
    /* the weight gradient stays im2col's: the same bits */
    assert_memory_equal(dw1, dw2, nw * sizeof(float));
    /* a cached transform gives the same bits as one made in the call */
    float *u = falloc(conv2d_winograd_weight_count(&wl)), *o3 = falloc(no), *d3 = falloc(ni);
    conv2d_winograd_weights(u, c.w, &wl);
    conv2d_forward_x(o3, c.in, c.w, u, &wl, n, &ws);
    conv2d_backward_x(d3, NULL, c.r, c.in, c.w, u, NULL, &wl, n, &ws);
    assert_memory_equal(o3, o2, no * sizeof(float));
    assert_memory_equal(d3, d2, ni * sizeof(float));
    /* din accumulates */
    conv2d_backward(d3, NULL, c.r, c.in, c.w, &wl, n, &ws);
    for (size_t i = 0; i < ni; i++)
        assert_true(fabsf(d3[i] - 2.0f * d2[i]) <= 1e-6f * (1.0f + fabsf(d2[i])));
    FREE_ALL(ref, o1, o2, d1, d2, dw1, dw2, u, o3, d3);
    conv_case_free(&c);
    conv2d_workspace_free(&ws);
}

static void test_conv_winograd_against_reference(void **state)
{
    double worst[3] = {0, 0, 0};
    winograd_case(3, 4, 7, 5, 70, worst);     /* odd size: clipped last tiles */
    winograd_case(16, 16, 28, 3, 71, worst);  /* ResNet-20's first segment on 28×28 */
    winograd_case(64, 64, 7, 9, 72, worst);   /* its last segment: several images per chunk */
    winograd_case(32, 32, 16, 4, 73, worst);  /* CIFAR's middle segment */
    winograd_case(1, 16, 6, 2, 74, worst);    /* one input channel, as the Fashion-MNIST stem */
    print_message("worst |err|/sum|terms|: im2col out %.2g, winograd out %.2g, winograd din %.2g\n",
                  worst[0], worst[1], worst[2]);
}

/* Central differences through the Winograd forward, for its input gradient. */
static double conv_loss_winograd(void *p)
{
    struct conv_case *c = p;
    struct conv2d wl = c->l;
    conv2d_set_algo(&wl, CONV_ALGO_WINOGRAD, CONV_AUTO_RULE_CURRENT);
    conv2d_forward(c->out, c->in, c->w, &wl, c->n, c->ws);
    return dot(c->out, c->r, (size_t)c->n * c->l.out_c * c->l.out_h * c->l.out_w);
}

static void test_conv_winograd_gradients(void **state)
{
    struct conv2d_workspace ws = {0};
    struct conv_case c;
    conv_case_make(&c, 3, 5, 3, 1, 1, 9, 4, 80, &ws);
    struct conv2d wl = c.l;
    conv2d_set_algo(&wl, CONV_ALGO_WINOGRAD, CONV_AUTO_RULE_CURRENT);
    conv2d_workspace_reserve(&ws, &wl, c.n, 2);
    size_t ni = in_count(&c), nw = conv2d_weight_count(&c.l);
    float *din = falloc(ni), *dw = falloc(nw);
    conv2d_backward(din, dw, c.r, c.in, c.w, &wl, c.n, &ws);
    assert_int_equal(check_grad("winograd din", c.in, ni, din, conv_loss_winograd, &c, 2000, 0.0f), 0);
    assert_int_equal(check_grad("winograd dw", c.w, nw, dw, conv_loss_winograd, &c, 2000, 0.0f), 0);
    FREE_ALL(din, dw);
    conv_case_free(&c);
    conv2d_workspace_free(&ws);
}

/* Only the 3×3 stride-1 pad-1 shape takes Winograd; AUTO under rule 2 means, on 3×3 layers with
 * 8 or more input channels, oneDNN (any stride) where its kernels are AVX-512, else Winograd
 * (stride 1); under rule 1, Winograd (stride 1) on every CPU; ONEDNN takes every shape; the names
 * table round-trips. */
static void test_conv_algo_choice(void **state)
{
    int dn = conv2d_onednn_preferred();
    struct conv2d l;
    conv2d_init(&l, 4, 4, 3, 2, 1, 8, 8);
    conv2d_set_algo(&l, CONV_ALGO_WINOGRAD, CONV_AUTO_RULE_CURRENT);
    assert_int_equal(l.winograd, 0);
    assert_int_equal(l.onednn, 0);
    conv2d_init(&l, 8, 4, 3, 2, 1, 8, 8); /* AUTO, stride 2: oneDNN or im2col */
    conv2d_set_algo(&l, CONV_ALGO_AUTO, CONV_AUTO_RULE_ONEDNN);
    assert_int_equal(l.winograd, 0);
    assert_int_equal(l.onednn, dn);
    conv2d_set_algo(&l, CONV_ALGO_AUTO, CONV_AUTO_RULE_WINOGRAD); /* rule 1: im2col */
    assert_int_equal(l.winograd, 0);
    assert_int_equal(l.onednn, 0);
    conv2d_init(&l, 16, 4, 1, 1, 0, 8, 8); /* AUTO, 1×1: im2col */
    conv2d_set_algo(&l, CONV_ALGO_AUTO, CONV_AUTO_RULE_ONEDNN);
    assert_int_equal(l.winograd, 0);
    assert_int_equal(l.onednn, 0);
    conv2d_init(&l, 4, 4, 3, 1, 1, 8, 8); /* AUTO: too few input channels to pay */
    conv2d_set_algo(&l, CONV_ALGO_AUTO, CONV_AUTO_RULE_ONEDNN);
    assert_int_equal(l.winograd, 0);
    assert_int_equal(l.onednn, 0);
    conv2d_set_algo(&l, CONV_ALGO_WINOGRAD, CONV_AUTO_RULE_CURRENT);
    assert_int_equal(l.winograd, 1);
    conv2d_init(&l, 8, 4, 3, 1, 1, 8, 8);
    conv2d_set_algo(&l, CONV_ALGO_AUTO, CONV_AUTO_RULE_ONEDNN);
    assert_int_equal(l.winograd, !dn);
    assert_int_equal(l.onednn, dn);
    conv2d_set_algo(&l, CONV_ALGO_AUTO, CONV_AUTO_RULE_WINOGRAD); /* rule 1: Winograd on any CPU */
    assert_int_equal(l.winograd, 1);
    assert_int_equal(l.onednn, 0);
    conv2d_set_algo(&l, CONV_ALGO_IM2COL, CONV_AUTO_RULE_CURRENT);
    assert_int_equal(l.winograd, 0);
    assert_int_equal(l.onednn, 0);
    conv2d_set_algo(&l, CONV_ALGO_ONEDNN, CONV_AUTO_RULE_CURRENT); /* every shape; never Winograd */
    assert_int_equal(l.onednn, 1);
    assert_int_equal(l.winograd, 0);
    assert_int_equal(CHOICE_INDEX(conv_algo_names, "auto"), CONV_ALGO_AUTO);
    assert_int_equal(CHOICE_INDEX(conv_algo_names, "im2col"), CONV_ALGO_IM2COL);
    assert_int_equal(CHOICE_INDEX(conv_algo_names, "winograd"), CONV_ALGO_WINOGRAD);
    assert_int_equal(CHOICE_INDEX(conv_algo_names, "onednn"), CONV_ALGO_ONEDNN);
    assert_int_equal(CHOICE_INDEX(conv_algo_names, "wino"), -1);
    assert_int_equal(CHOICE_INDEX(conv_algo_names, ""), -1);
}

/* A masked weight gradient: the listed entries as the dense one (to float rounding: a dot
 * product sums in another order than the GEMM), every other entry untouched; the same bits on
 * 1 and 2 threads; with and without the input gradient. */
static void sparse_case(int in_c, int out_c, int k, int s, int p, int hw, int n, double density,
                        uint64_t tag)
{
    struct conv2d_workspace ws = {0};
    struct conv_case c;
    conv_case_make(&c, in_c, out_c, k, s, p, hw, n, tag, &ws);
    size_t ni = in_count(&c), no = out_count(&c), nw = conv2d_weight_count(&c.l);
    size_t kr = (size_t)in_c * k * k;
    unsigned *idx = rv_malloc(nw * sizeof *idx);
    unsigned char *rows = rv_calloc(kr, 1);
    uint64_t st = rng_stream(RNG_TEST, tag, 7, 0);
    size_t cnt = 0;
    for (size_t i = 0; i < nw; i++)
        if (rng_uniform(SEED, st, i) < density) {
            idx[cnt++] = (unsigned)i;
            rows[i % kr] = 1;
        }
    struct conv2d_dw_sparse sp = {.count = cnt, .idx = idx, .rows = rows};
    double *ref = rv_malloc((2 * no + 2 * ni + 2 * nw) * sizeof(double));
    double *aref = ref + no, *din = aref + no, *adin = din + ni, *dw = adin + ni, *adw = dw + nw;
    naive_conv(ref, aref, din, adin, dw, adw, &c);
    float *dense = falloc(nw), *d0 = falloc(ni);
    conv2d_backward(d0, dense, c.r, c.in, c.w, &c.l, n, &ws);
    float *sw[2], *sd[2];
    int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        sw[t] = falloc(nw);
        sd[t] = falloc(ni);
        for (size_t i = 0; i < nw; i++)
            sw[t][i] = 5.0f; /* untouched entries keep this */
        conv2d_backward_x(sd[t], sw[t], c.r, c.in, c.w, NULL, &sp, &c.l, n, &ws);
    }
    omp_set_num_threads(saved);
    assert_memory_equal(sw[0], sw[1], nw * sizeof(float));
    assert_memory_equal(sd[0], sd[1], ni * sizeof(float));
    assert_memory_equal(sd[0], d0, ni * sizeof(float)); /* din is the dense path's */
    size_t e = 0;
    int bad = 0;
    for (size_t i = 0; i < nw; i++) {
        if (e < cnt && idx[e] == i) {
            e++;
            double got = (double)sw[0][i] - 5.0;
            /* + 5 then − 5 costs up to 2^-21·5 absolute */
            bad += fabs(got - dw[i]) > 1e-5 * adw[i] + 5e-6;
        } else {
            bad += sw[0][i] != 5.0f;
        }
    }
    assert_int_equal(bad, 0);
    /* dw alone */
    float *only = falloc(nw);
    conv2d_backward_x(NULL, only, c.r, c.in, c.w, NULL, &sp, &c.l, n, &ws);
    for (size_t i = 0; i < cnt; i++)
        assert_true(fabsf(only[idx[i]] - dense[idx[i]]) <= 1e-5f * (1.0f + fabsf(dense[idx[i]])));
    FREE_ALL(idx, rows, ref, dense, d0, sw[0], sw[1], sd[0], sd[1], only);
    conv_case_free(&c);
    conv2d_workspace_free(&ws);
}

static void test_conv_sparse_dw(void **state)
{
    sparse_case(3, 4, 3, 1, 1, 7, 5, 0.2, 90);
    sparse_case(12, 4, 3, 1, 1, 32, 19, 0.05, 91); /* multi-image chunks */
    sparse_case(4, 6, 1, 2, 0, 9, 5, 0.3, 92);
    sparse_case(5, 6, 3, 2, 1, 9, 4, 0.15, 94);    /* stride 2: edge rows and columns */
    sparse_case(16, 8, 3, 2, 1, 14, 6, 0.0, 93);   /* nothing trains: dw untouched */
}

/* ---- conv2d: oneDNN ---------------------------------------------------------------------- */

/* oneDNN's forward, input gradient and weight gradient against the double definition and the
 * im2col path, on ResNet-20's layer shapes (Fashion-MNIST and CIFAR stems included), with
 * batches that leave single images after the chunks. Measured (float32, libdnnl 2.6.3,
 * jit:avx512_core), worst |err|/Σ|terms|: out 2.7e-7 (im2col's 2.7e-7 too), din 3.4e-7, dw
 * 1.9e-7; the budget is Winograd's, 2e-6·Σ|terms|. */
#define ONEDNN_REL 2e-6
static void onednn_case(int in_c, int out_c, int k, int s, int p, int hw, int n, uint64_t tag,
                        double worst[4])
{
    struct conv2d_workspace ws = {0};
    struct conv_case c;
    conv_case_make(&c, in_c, out_c, k, s, p, hw, n, tag, &ws);
    struct conv2d dl = c.l;
    conv2d_set_algo(&dl, CONV_ALGO_ONEDNN, CONV_AUTO_RULE_CURRENT);
    assert_int_equal(dl.onednn, 1);
    assert_int_equal(dl.winograd, 0);
    conv2d_workspace_reserve(&ws, &dl, n, 2);
    size_t ni = in_count(&c), no = out_count(&c), nw = conv2d_weight_count(&c.l);
    double *ref = rv_malloc((2 * no + 2 * ni + 2 * nw) * sizeof(double));
    double *aref = ref + no, *din = aref + no, *adin = din + ni, *dw = adin + ni, *adw = dw + nw;
    naive_conv(ref, aref, din, adin, dw, adw, &c);
    float *o1 = falloc(no), *o2 = falloc(no), *d1 = falloc(ni), *d2 = falloc(ni);
    float *dw1 = falloc(nw), *dw2 = falloc(nw);
    conv2d_forward(o1, c.in, c.w, &c.l, n, &ws);
    conv2d_backward(d1, dw1, c.r, c.in, c.w, &c.l, n, &ws);
    conv2d_forward(o2, c.in, c.w, &dl, n, &ws);
    conv2d_backward(d2, dw2, c.r, c.in, c.w, &dl, n, &ws);
    worst[0] = fmax(worst[0], worst_rel(o1, ref, aref, no));
    worst[1] = fmax(worst[1], worst_rel(o2, ref, aref, no));
    worst[2] = fmax(worst[2], worst_rel(d2, din, adin, ni));
    worst[3] = fmax(worst[3], worst_rel(dw2, dw, adw, nw));
    assert_near_ref("onednn out", o2, ref, aref, no, ONEDNN_REL);
    assert_near_ref("onednn din", d2, din, adin, ni, ONEDNN_REL);
    assert_near_ref("onednn dw", dw2, dw, adw, nw, ONEDNN_REL);
    /* against im2col: both within the budget of the reference, so within twice of each other */
    int bad = 0;
    for (size_t i = 0; i < no; i++)
        bad += fabs((double)o2[i] - o1[i]) > 2 * ONEDNN_REL * aref[i];
    for (size_t i = 0; i < ni; i++)
        bad += fabs((double)d2[i] - d1[i]) > 2 * ONEDNN_REL * adin[i];
    for (size_t i = 0; i < nw; i++)
        bad += fabs((double)dw2[i] - dw1[i]) > 2 * ONEDNN_REL * adw[i];
    assert_int_equal(bad, 0);
    /* din == NULL and dw == NULL each compute exactly the other gradient */
    float *d3 = falloc(ni), *dw3 = falloc(nw);
    conv2d_backward(d3, NULL, c.r, c.in, c.w, &dl, n, &ws);
    assert_memory_equal(d3, d2, ni * sizeof(float));
    conv2d_backward(NULL, dw3, c.r, c.in, c.w, &dl, n, &ws);
    assert_memory_equal(dw3, dw2, nw * sizeof(float));
    /* backward accumulates: twice gives 2× (dw exactly: one += per call) */
    conv2d_backward(d3, dw3, c.r, c.in, c.w, &dl, n, &ws);
    for (size_t i = 0; i < nw; i++)
        assert_true(dw3[i] == 2.0f * dw2[i]);
    for (size_t i = 0; i < ni; i++)
        assert_true(fabsf(d3[i] - 2.0f * d2[i]) <= 1e-6f * (1.0f + fabsf(d2[i])));
    FREE_ALL(ref, o1, o2, d1, d2, dw1, dw2, d3, dw3);
    conv2d_release(&dl);
    assert_null(dl.dnnl);
    conv_case_free(&c);
    conv2d_workspace_free(&ws);
}

static void test_conv_onednn_against_reference(void **state)
{
    double worst[4] = {0, 0, 0, 0};
    onednn_case(1, 16, 3, 1, 1, 28, 3, 100, worst);   /* Fashion-MNIST stem */
    onednn_case(16, 16, 3, 1, 1, 28, 11, 101, worst); /* a chunk of 8, then 3 single images */
    onednn_case(16, 32, 3, 2, 1, 28, 3, 102, worst);  /* first conv of the second segment */
    onednn_case(16, 32, 1, 2, 0, 28, 3, 103, worst);  /* its 1×1 shortcut */
    onednn_case(32, 32, 3, 1, 1, 14, 5, 104, worst);
    onednn_case(32, 64, 3, 2, 1, 14, 3, 105, worst);
    onednn_case(64, 64, 3, 1, 1, 7, 35, 106, worst);  /* a chunk of 32, then 3 */
    onednn_case(3, 16, 3, 1, 1, 32, 2, 107, worst);   /* CIFAR stem */
    onednn_case(3, 4, 3, 1, 1, 7, 5, 108, worst);     /* odd sizes, channels not a multiple of 8 */
    onednn_case(5, 6, 3, 2, 1, 9, 4, 109, worst);
    print_message("worst |err|/sum|terms|: im2col out %.2g, onednn out %.2g, din %.2g, dw %.2g\n",
                  worst[0], worst[1], worst[2], worst[3]);
}

/* The same bits on 1 and 2 threads: forward, input and weight gradient, chunks and single
 * images (19 = 2 chunks of 8 + 3). And a masked weight gradient is im2col's, bit for bit. */
static void test_conv_onednn_threads_and_sparse(void **state)
{
    struct conv2d_workspace ws = {0};
    struct conv_case c;
    conv_case_make(&c, 16, 16, 3, 1, 1, 28, 19, 110, &ws);
    struct conv2d dl = c.l;
    conv2d_set_algo(&dl, CONV_ALGO_ONEDNN, CONV_AUTO_RULE_CURRENT);
    conv2d_workspace_reserve(&ws, &dl, c.n, 2);
    size_t ni = in_count(&c), no = out_count(&c), nw = conv2d_weight_count(&c.l);
    float *out[2], *din[2], *dw[2];
    int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        out[t] = falloc(no);
        din[t] = falloc(ni);
        dw[t] = falloc(nw);
        conv2d_forward(out[t], c.in, c.w, &dl, c.n, &ws);
        conv2d_backward(din[t], dw[t], c.r, c.in, c.w, &dl, c.n, &ws);
    }
    omp_set_num_threads(saved);
    assert_memory_equal(out[0], out[1], no * sizeof(float));
    assert_memory_equal(din[0], din[1], ni * sizeof(float));
    assert_memory_equal(dw[0], dw[1], nw * sizeof(float));

    size_t kr = (size_t)c.l.in_c * 9, cnt = 0;
    unsigned *idx = rv_malloc(nw * sizeof *idx);
    unsigned char *rows = rv_calloc(kr, 1);
    for (size_t i = 0; i < nw; i += 7) {
        idx[cnt++] = (unsigned)i;
        rows[i % kr] = 1;
    }
    struct conv2d_dw_sparse sp = {.count = cnt, .idx = idx, .rows = rows};
    float *sw[2] = {falloc(nw), falloc(nw)}, *sd = falloc(ni);
    conv2d_backward_x(NULL, sw[0], c.r, c.in, c.w, NULL, &sp, &c.l, c.n, &ws);
    conv2d_backward_x(sd, sw[1], c.r, c.in, c.w, NULL, &sp, &dl, c.n, &ws);
    assert_memory_equal(sw[0], sw[1], nw * sizeof(float));
    assert_memory_equal(sd, din[0], ni * sizeof(float)); /* din is the dense call's */
    for (int t = 0; t < 2; t++) {
        FREE_ALL(out[t], din[t], dw[t], sw[t]);
    }
    FREE_ALL(idx, rows, sd);
    conv2d_release(&dl);
    conv_case_free(&c);
    conv2d_workspace_free(&ws);
}

/* ---- batchnorm ------------------------------------------------------------------------- */

struct bn_case {
    struct batchnorm l;
    int n;
    float *in, *out, *r, *gamma, *beta, *mean, *invstd, *rmean, *rvar;
};

static size_t bn_count(const struct bn_case *b) { return (size_t)b->n * b->l.c * b->l.h * b->l.w; }

static double bn_loss(void *p)
{
    struct bn_case *b = p;
    batchnorm_forward_train(b->out, b->mean, b->invstd, b->rmean, b->rvar, b->in, b->gamma,
                            b->beta, &b->l, b->n, NULL, NULL);
    return dot(b->out, b->r, bn_count(b));
}

static void bn_case_make(struct bn_case *b, int n, int c, int h, int w, uint64_t tag)
{
    batchnorm_init(&b->l, c, h, w);
    b->n = n;
    size_t cnt = bn_count(b);
    b->in = falloc(cnt);
    b->out = falloc(cnt);
    b->r = falloc(cnt);
    b->gamma = falloc(c);
    b->beta = falloc(c);
    b->mean = falloc(c);
    b->invstd = falloc(c);
    b->rmean = falloc(c);
    b->rvar = falloc(c);
    fill_normal(b->in, cnt, tag, 2.0f, 1.0f);
    fill_normal(b->r, cnt, tag + 1, 1.0f, 0.0f);
    fill_normal(b->gamma, c, tag + 2, 0.5f, 1.0f);
    fill_normal(b->beta, c, tag + 3, 0.5f, 0.0f);
}

static void bn_case_free(struct bn_case *b)
{
    FREE_ALL(b->in, b->out, b->r, b->gamma, b->beta, b->mean, b->invstd, b->rmean, b->rvar);
}

static void test_bn_gradients(void **state)
{
    struct bn_case b;
    bn_case_make(&b, 3, 2, 3, 3, 100);
    size_t cnt = bn_count(&b);
    float *din = falloc(cnt), *dg = falloc(2), *db = falloc(2);
    bn_loss(&b); /* saves the batch mean and invstd */
    batchnorm_backward(din, dg, db, b.r, b.in, b.mean, b.invstd, b.gamma, &b.l, b.n, NULL, NULL);
    assert_int_equal(check_grad("bn dx", b.in, cnt, din, bn_loss, &b, 1000, 0.0f), 0);
    assert_int_equal(check_grad("bn dgamma", b.gamma, 2, dg, bn_loss, &b, 10, 0.0f), 0);
    assert_int_equal(check_grad("bn dbeta", b.beta, 2, db, bn_loss, &b, 10, 0.0f), 0);

    /* accumulation: one += per element and call, so exactly twice */
    float *din2 = falloc(cnt), *dg2 = falloc(2), *db2 = falloc(2);
    bn_loss(&b);
    for (int k = 0; k < 2; k++)
        batchnorm_backward(din2, dg2, db2, b.r, b.in, b.mean, b.invstd, b.gamma, &b.l, b.n, NULL, NULL);
    for (size_t i = 0; i < cnt; i++)
        assert_true(din2[i] == 2.0f * din[i]);
    for (int c = 0; c < 2; c++) {
        assert_true(dg2[c] == 2.0f * dg[c]);
        assert_true(db2[c] == 2.0f * db[c]);
    }
    FREE_ALL(din, dg, db, din2, dg2, db2);
    bn_case_free(&b);
}

static void test_bn_train_hand(void **state)
{
    /* one channel, x = 1, 2, 3, 4: mean 2.5, biased var 1.25, unbiased 5/3 */
    struct batchnorm l;
    batchnorm_init(&l, 1, 1, 1);
    assert_true(l.eps == 1e-5f && l.momentum == 0.1f);
    float in[4] = {1, 2, 3, 4}, out[4], g = 2.0f, bt = 0.5f, mean, invstd, rm = 0.0f, rv = 1.0f;
    batchnorm_forward_train(out, &mean, &invstd, &rm, &rv, in, &g, &bt, &l, 4, NULL, NULL);
    double is = 1.0 / sqrt(1.25 + 1e-5);
    assert_true(mean == 2.5f);
    assert_true(fabs(invstd - is) <= 1e-6 * is);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(out[i] - (2.0 * (in[i] - 2.5) * is + 0.5)) <= 1e-6);
    assert_true(fabs(rm - 0.25) <= 1e-7);
    assert_true(fabs(rv - (0.9 + 0.1 * 5.0 / 3.0)) <= 1e-6);
}

static void test_bn_eval_hand(void **state)
{
    struct batchnorm l;
    batchnorm_init(&l, 2, 1, 2);
    float in[4] = {3, 1, -2, 0}; /* (1, 2, 1, 2) */
    float rm[2] = {1, -2}, rv[2] = {4, 0.25f}, g[2] = {2, -1}, bt[2] = {0.5f, 0}, out[4];
    batchnorm_forward_eval(out, in, g, bt, rm, rv, &l, 1);
    double want[4] = {2.0 * 2.0 / sqrt(4 + 1e-5) + 0.5, 0.5, 0.0, -1.0 * 2.0 / sqrt(0.25 + 1e-5)};
    for (int i = 0; i < 4; i++)
        assert_true(fabs(out[i] - want[i]) <= 1e-6 * (1.0 + fabs(want[i])));
    assert_true(rm[0] == 1.0f && rv[1] == 0.25f); /* eval leaves running stats alone */
}

/* A stand-in for the MPI sum: records this rank's buffer, adds the other rank's. */
struct fake_ranks {
    double *captured;    /* or NULL */
    const double *other; /* or NULL */
    int calls, n;
};

static void fake_sum(double *buf, int n, void *ctx)
{
    struct fake_ranks *f = ctx;
    f->calls++;
    f->n = n;
    if (f->captured)
        memcpy(f->captured, buf, (size_t)n * sizeof(double));
    if (f->other)
        for (int i = 0; i < n; i++)
            buf[i] += f->other[i];
}

static void assert_close(const float *a, const float *b, size_t n, float tol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(a[i] - b[i]) <= tol * (1.0f + fabsf(b[i]))))
            fail_msg("[%zu]: %.9g vs %.9g", i, (double)a[i], (double)b[i]);
}

/* A batch of 4 on one rank equals 2 + 2 on two ranks joined by the reducer. */
static void test_bn_two_ranks(void **state)
{
    enum { C = 3 };
    struct bn_case b;
    bn_case_make(&b, 4, C, 4, 4, 200);
    size_t cnt = bn_count(&b), half = cnt / 2;
    for (int c = 0; c < C; c++)
        b.rvar[c] = 1.0f;
    float rm0[C], rv0[C];
    memcpy(rm0, b.rmean, sizeof rm0);
    memcpy(rv0, b.rvar, sizeof rv0);
    bn_loss(&b); /* the whole batch on one rank */

    double cap[2][2 * C + 1];
    float *out = falloc(cnt), mean[2][C], invstd[2][C], rm[2][C], rv[2][C];
    for (int pass = 0; pass < 2; pass++) /* 0: each rank's own sums; 1: the real run */
        for (int k = 0; k < 2; k++) {
            struct fake_ranks f = {pass ? NULL : cap[k], pass ? cap[1 - k] : NULL, 0, 0};
            struct bn_reducer red = {fake_sum, &f};
            memcpy(rm[k], rm0, sizeof rm0);
            memcpy(rv[k], rv0, sizeof rv0);
            batchnorm_forward_train(out + k * half, mean[k], invstd[k], rm[k], rv[k],
                                    b.in + k * half, b.gamma, b.beta, &b.l, 2, &red, NULL);
            assert_int_equal(f.calls, 1);
            assert_int_equal(f.n, 2 * C + 1);
        }
    assert_close(out, b.out, cnt, 1e-5f);
    for (int k = 0; k < 2; k++) {
        assert_close(mean[k], b.mean, C, 1e-6f);
        assert_close(invstd[k], b.invstd, C, 1e-5f);
        assert_close(rm[k], b.rmean, C, 1e-6f);
        assert_close(rv[k], b.rvar, C, 1e-6f);
    }

    float *din = falloc(cnt), dg[C] = {0}, db[C] = {0};
    batchnorm_backward(din, dg, db, b.r, b.in, b.mean, b.invstd, b.gamma, &b.l, 4, NULL, NULL);
    float *dinr = falloc(cnt), dgr[2][C], dbr[2][C];
    double sums[2 * C + 1]; /* the caller's scratch here, allocated inside elsewhere: the same bits */
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < 2; k++) {
            struct fake_ranks f = {pass ? NULL : cap[k], pass ? cap[1 - k] : NULL, 0, 0};
            struct bn_reducer red = {fake_sum, &f};
            memset(dinr + k * half, 0, half * sizeof(float));
            memset(dgr[k], 0, sizeof dgr[k]);
            memset(dbr[k], 0, sizeof dbr[k]);
            batchnorm_backward(dinr + k * half, dgr[k], dbr[k], b.r + k * half, b.in + k * half,
                               mean[k], invstd[k], b.gamma, &b.l, 2, &red, sums);
            assert_int_equal(f.calls, 1);
        }
    assert_close(dinr, din, cnt, 1e-5f);
    for (int c = 0; c < C; c++) {
        /* dγ, dβ are each rank's own share; the ranks' shares add to the whole */
        float sg = dgr[0][c] + dgr[1][c], sb = dbr[0][c] + dbr[1][c];
        assert_close(&sg, &dg[c], 1, 1e-5f);
        assert_close(&sb, &db[c], 1, 1e-5f);
        assert_true(fabsf(dgr[0][c] - dg[c]) > 1e-3f);
    }
    FREE_ALL(out, din, dinr);
    bn_case_free(&b);
}

/* A rank whose share of the last global batch is empty (n = 0) still joins the reductions and
 * keeps the same running statistics; conv and linear do nothing. (Regression: conv asserted n ≥ 1
 * and aborted a 3-rank run whose last batch had one image.) */
static void test_empty_share(void **state)
{
    enum { C = 3 };
    struct bn_case b;
    bn_case_make(&b, 4, C, 4, 4, 300);
    size_t cnt = bn_count(&b);
    for (int c = 0; c < C; c++)
        b.rvar[c] = 1.0f;
    float rm0[C], rv0[C];
    memcpy(rm0, b.rmean, sizeof rm0);
    memcpy(rv0, b.rvar, sizeof rv0);
    bn_loss(&b);
    double cap[2][2 * C + 1] = {{0}}; /* the empty rank's sums are all zero */
    float *out = falloc(cnt), mean[2][C], invstd[2][C], rm[2][C], rv[2][C];
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < (pass ? 2 : 1); k++) {
            /* pass 0 captures rank 0's sums; pass 1 runs both ranks joined */
            struct fake_ranks f = {pass ? NULL : cap[0], pass ? cap[1 - k] : cap[1], 0, 0};
            struct bn_reducer red = {fake_sum, &f};
            memcpy(rm[k], rm0, sizeof rm0);
            memcpy(rv[k], rv0, sizeof rv0);
            batchnorm_forward_train(out, mean[k], invstd[k], rm[k], rv[k], b.in, b.gamma, b.beta,
                                    &b.l, k == 0 ? 4 : 0, &red, NULL);
            assert_int_equal(f.calls, 1);
        }
    for (int k = 0; k < 2; k++) {
        assert_close(rm[k], b.rmean, C, 1e-6f);
        assert_close(rv[k], b.rvar, C, 1e-6f);
    }
    struct conv2d conv;
    conv2d_init(&conv, 2, 3, 3, 1, 1, 5, 5);
    struct conv2d_workspace ws = {0};
    conv2d_workspace_reserve(&ws, &conv, 1, 1);
    float w[3 * 2 * 9] = {0}, dw[3 * 2 * 9] = {0}, x[1] = {0};
    conv2d_forward(x, x, w, &conv, 0, &ws);
    conv2d_backward(x, dw, x, x, w, &conv, 0, &ws);
    for (size_t i = 0; i < sizeof dw / sizeof dw[0]; i++)
        assert_true(dw[i] == 0.0f);
    struct linear lin;
    linear_init(&lin, 4, 2);
    linear_forward(x, x, w, NULL, &lin, 0);
    linear_backward(x, dw, NULL, x, x, w, &lin, 0);
    conv2d_workspace_free(&ws);
    FREE_ALL(out);
    bn_case_free(&b);
}

/* ---- relu, add, avgpool ---------------------------------------------------------------- */

struct simple_case {
    float *in, *out, *r;
    size_t count, out_count;
    int n, c, hw;
};

static double relu_loss(void *p)
{
    struct simple_case *s = p;
    relu_forward(s->out, s->in, s->count);
    return dot(s->out, s->r, s->count);
}

static void test_relu(void **state)
{
    float x[5] = {-1.0f, 0.0f, 2.5f, -0.0f, NAN}, y[5];
    relu_forward(y, x, 5);
    assert_true(y[0] == 0.0f && y[1] == 0.0f && y[2] == 2.5f && y[3] == 0.0f && isnan(y[4]));
    float dy[5] = {1, 2, 3, 4, 5}, dx[5] = {10, 10, 10, 10, 10};
    relu_backward(dx, dy, y, 4);
    assert_true(dx[0] == 10 && dx[1] == 10 && dx[2] == 13 && dx[3] == 10);
    relu_forward(x, x, 5); /* in place */
    assert_true(x[0] == 0.0f && x[2] == 2.5f);

    struct simple_case s = {.count = 300};
    s.in = falloc(s.count);
    s.out = falloc(s.count);
    s.r = falloc(s.count);
    float *din = falloc(s.count);
    fill_normal(s.in, s.count, 300, 1.0f, 0.0f);
    fill_normal(s.r, s.count, 301, 1.0f, 0.0f);
    relu_loss(&s);
    relu_backward(din, s.r, s.out, s.count);
    assert_int_equal(check_grad("relu", s.in, s.count, din, relu_loss, &s, 1000, 2 * FD_H), 0);
    FREE_ALL(s.in, s.out, s.r, din);
}

static void test_add(void **state)
{
    float a[3] = {1, 2, 3}, b[3] = {0.5f, -2, 4}, out[3];
    add_forward(out, a, b, 3);
    assert_true(out[0] == 1.5f && out[1] == 0.0f && out[2] == 7.0f);
    add_forward(a, a, b, 3); /* in place */
    assert_true(a[2] == 7.0f);
}

static double pool_loss(void *p)
{
    struct simple_case *s = p;
    avgpool_forward(s->out, s->in, s->n, s->c, s->hw);
    return dot(s->out, s->r, s->out_count);
}

static void test_avgpool(void **state)
{
    float x[8] = {1, 2, 3, 4, 0, 0, 0, -8}, y[2];
    avgpool_forward(y, x, 1, 2, 4);
    assert_true(y[0] == 2.5f && y[1] == -2.0f);
    float dy[2] = {2, -4}, dx[8] = {0};
    dx[0] = 1.0f;
    avgpool_backward(dx, dy, 1, 2, 4);
    assert_true(dx[0] == 1.5f && dx[3] == 0.5f && dx[4] == -1.0f && dx[7] == -1.0f);

    struct simple_case s = {.n = 3, .c = 4, .hw = 9};
    s.count = (size_t)s.n * s.c * s.hw;
    s.out_count = (size_t)s.n * s.c;
    s.in = falloc(s.count);
    s.out = falloc(s.out_count);
    s.r = falloc(s.out_count);
    float *din = falloc(s.count);
    fill_normal(s.in, s.count, 400, 1.0f, 0.0f);
    fill_normal(s.r, s.out_count, 401, 1.0f, 0.0f);
    avgpool_backward(din, s.r, s.n, s.c, s.hw);
    assert_int_equal(check_grad("avgpool", s.in, s.count, din, pool_loss, &s, 1000, 0.0f), 0);
    FREE_ALL(s.in, s.out, s.r, din);
}

/* ---- max pooling ------------------------------------------------------------------------ */

struct maxpool_case {
    struct maxpool2d l;
    int n;
    float *in, *out, *r;
    int32_t *arg;
};

static double maxpool_loss(void *p)
{
    struct maxpool_case *c = p;
    maxpool2d_forward(c->out, c->arg, c->in, &c->l, c->n);
    return dot(c->out, c->r, (size_t)c->n * c->l.c * c->l.out_h * c->l.out_w);
}

/* Overlapping windows with padding (the ImageNet stem's 3×3/2 pad 1) and ceil mode (VGG's 2×2/2
 * on odd sizes): shapes as PyTorch's, and the gradient against central differences. Inputs are
 * spaced apart (a permutation times 0.1), so ±h never changes which value is the maximum. */
static void maxpool_case(int c, int hw, int k, int s, int pad, int ceil_mode, int out_hw)
{
    struct maxpool_case m = {.n = 2};
    maxpool2d_init(&m.l, c, k, s, pad, hw, hw, ceil_mode);
    assert_int_equal(m.l.out_h, out_hw);
    assert_int_equal(m.l.out_w, out_hw);
    size_t in_n = (size_t)m.n * c * hw * hw, out_n = (size_t)m.n * c * out_hw * out_hw;
    m.in = falloc(in_n);
    m.out = falloc(out_n);
    m.r = falloc(out_n);
    m.arg = rv_calloc(out_n, sizeof(int32_t));
    for (size_t i = 0; i < in_n; i++)
        m.in[i] = 0.1f * (float)((i * 7919) % in_n) - 3.0f;
    fill_normal(m.r, out_n, 450, 1.0f, 0.0f);
    float *din = falloc(in_n);
    maxpool_loss(&m);
    maxpool2d_backward(din, m.r, m.arg, &m.l, m.n);
    assert_int_equal(check_grad("maxpool", m.in, in_n, din, maxpool_loss, &m, 2000, 0.0f), 0);
    FREE_ALL(m.in, m.out, m.r, din);
    free(m.arg);
}

static void test_maxpool(void **state)
{
    (void)state;
    maxpool_case(3, 8, 3, 2, 1, 0, 4);  /* ImageNet stem: 112 → 56 the same way */
    maxpool_case(2, 7, 3, 2, 1, 0, 4);
    maxpool_case(2, 7, 2, 2, 0, 1, 4);  /* ceil mode: 7 → 4 (floor would give 3) */
    maxpool_case(2, 1, 2, 2, 0, 1, 1);  /* ceil mode on a 1×1 plane: 1 → 1, as PyTorch */
    maxpool_case(2, 6, 2, 2, 0, 1, 3);  /* even sizes: ceil mode changes nothing */
    /* by hand: the max of each window, its first occurrence, NaN wins */
    struct maxpool2d l;
    maxpool2d_init(&l, 1, 2, 2, 0, 2, 4, 0);
    float x[8] = {1, 5, 2, 2, 5, 0, NAN, 1}, y[2];
    int32_t a[2];
    maxpool2d_forward(y, a, x, &l, 1);
    assert_true(y[0] == 5.0f && a[0] == 1);
    assert_true(isnan(y[1]) && a[1] == 6);
}

/* ---- per-channel bias -------------------------------------------------------------------- */

struct bias_case {
    int n, c, hw;
    float *x, *b, *out, *r;
};

static double bias_loss(void *p)
{
    struct bias_case *c = p;
    size_t count = (size_t)c->n * c->c * c->hw;
    memcpy(c->out, c->x, count * sizeof(float));
    bias_forward(c->out, c->b, c->n, c->c, c->hw);
    return dot(c->out, c->r, count);
}

static void test_bias(void **state)
{
    (void)state;
    struct bias_case c = {.n = 3, .c = 4, .hw = 5};
    size_t count = 60;
    c.x = falloc(count);
    c.b = falloc(4);
    c.out = falloc(count);
    c.r = falloc(count);
    fill_normal(c.x, count, 460, 1.0f, 0.0f);
    fill_normal(c.b, 4, 461, 1.0f, 0.0f);
    fill_normal(c.r, count, 462, 1.0f, 0.0f);
    float *db = falloc(4);
    db[0] = 1.0f; /* accumulates */
    bias_backward(db, c.r, c.n, c.c, c.hw);
    db[0] -= 1.0f;
    assert_int_equal(check_grad("bias", c.b, 4, db, bias_loss, &c, 100, 0.0f), 0);
    FREE_ALL(c.x, c.b, c.out, c.r, db);
}

/* ---- linear ---------------------------------------------------------------------------- */

struct lin_case {
    struct linear l;
    int n;
    float *in, *w, *b, *out, *r;
};

static double lin_loss(void *p)
{
    struct lin_case *c = p;
    linear_forward(c->out, c->in, c->w, c->b, &c->l, c->n);
    return dot(c->out, c->r, (size_t)c->n * c->l.out_f);
}

static void test_linear(void **state)
{
    struct linear l;
    linear_init(&l, 2, 3);
    float in[2] = {1, 2}, w[6] = {1, 0, 0, 1, 1, 1}, b[3] = {0.5f, 0, -1}, out[3];
    linear_forward(out, in, w, b, &l, 1);
    assert_true(out[0] == 1.5f && out[1] == 2.0f && out[2] == 2.0f);

    struct lin_case c = {.n = 5};
    linear_init(&c.l, 7, 4);
    size_t ni = (size_t)c.n * 7, nw = 28, no = (size_t)c.n * 4;
    c.in = falloc(ni);
    c.w = falloc(nw);
    c.b = falloc(4);
    c.out = falloc(no);
    c.r = falloc(no);
    fill_normal(c.in, ni, 500, 1.0f, 0.0f);
    fill_normal(c.w, nw, 501, 0.5f, 0.0f);
    fill_normal(c.b, 4, 502, 1.0f, 0.0f);
    fill_normal(c.r, no, 503, 1.0f, 0.0f);
    float *din = falloc(ni), *dw = falloc(nw), *db = falloc(4);
    linear_backward(din, dw, db, c.r, c.in, c.w, &c.l, c.n);
    assert_int_equal(check_grad("linear dx", c.in, ni, din, lin_loss, &c, 1000, 0.0f), 0);
    assert_int_equal(check_grad("linear dW", c.w, nw, dw, lin_loss, &c, 1000, 0.0f), 0);
    assert_int_equal(check_grad("linear db", c.b, 4, db, lin_loss, &c, 1000, 0.0f), 0);

    /* accumulation; NULL gradients are skipped */
    float *din2 = falloc(ni), *dw2 = falloc(nw), *db2 = falloc(4);
    linear_backward(din2, dw2, db2, c.r, c.in, c.w, &c.l, c.n);
    linear_backward(din2, dw2, db2, c.r, c.in, c.w, &c.l, c.n);
    linear_backward(NULL, NULL, NULL, c.r, c.in, c.w, &c.l, c.n);
    for (size_t i = 0; i < ni; i++)
        assert_true(din2[i] == 2.0f * din[i]);
    for (size_t i = 0; i < nw; i++)
        assert_true(dw2[i] == 2.0f * dw[i]);
    for (int i = 0; i < 4; i++)
        assert_true(db2[i] == 2.0f * db[i]);
    FREE_ALL(din, dw, db, din2, dw2, db2, c.in, c.w, c.b, c.out, c.r);
}

/* ---- softmax cross-entropy ------------------------------------------------------------- */

struct ce_case {
    float *logits;
    const int *labels;
    int n, classes, scale_n;
};

static double ce_loss(void *p)
{
    struct ce_case *c = p;
    return softmax_ce_forward_backward(NULL, NULL, c->logits, c->labels, c->n, c->classes,
                                       c->scale_n) / c->scale_n;
}

static void test_softmax_ce(void **state)
{
    /* uniform logits: loss log(classes) per image, gradient (1/classes − onehot) / scale_n */
    float z[3 * 5] = {0}, d[3 * 5];
    int labels[3] = {0, 4, 2}, correct = -1;
    double loss = softmax_ce_forward_backward(d, &correct, z, labels, 3, 5, 6);
    assert_true(loss == 3.0 * log(5.0));
    assert_int_equal(correct, 1); /* all tie: arg-max is class 0 */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++)
            assert_true(fabsf(d[i * 5 + j] - (float)((0.2 - (j == labels[i])) / 6.0)) <= 1e-7f);

    /* ties go to the lowest index; huge logits stay finite */
    float t[2 * 4] = {1, 3, 3, 0, 1000, 0, -1000, 0};
    int tl[2] = {2, 1};
    loss = softmax_ce_forward_backward(d, &correct, t, tl, 2, 4, 2);
    assert_int_equal(correct, 0);
    double want = (3.0 + log(exp(-2.0) + 2.0 + exp(-3.0)) - 3.0) + 1000.0;
    assert_true(fabs(loss - want) <= 1e-9 * want);
    for (int j = 0; j < 8; j++)
        assert_true(isfinite(d[j]));
    assert_true(fabsf(d[4] - 0.5f) <= 1e-7f && fabsf(d[5] + 0.5f) <= 1e-7f);
    tl[1] = 0;
    softmax_ce_forward_backward(NULL, &correct, t, tl, 2, 4, 2);
    assert_int_equal(correct, 1);

    struct ce_case c = {.n = 4, .classes = 6, .scale_n = 10};
    int lab[4] = {0, 5, 3, 3};
    c.labels = lab;
    c.logits = falloc(24);
    fill_normal(c.logits, 24, 600, 2.0f, 0.0f);
    float *dz = falloc(24);
    softmax_ce_forward_backward(dz, NULL, c.logits, lab, c.n, c.classes, c.scale_n);
    assert_int_equal(check_grad("softmax ce", c.logits, 24, dz, ce_loss, &c, 100, 0.0f), 0);
    FREE_ALL(c.logits, dz);
}

/* Label smoothing ε (torch's CrossEntropyLoss(label_smoothing)): the gradient against central
 * differences; the loss against its definition Σ_j q_j (−log softmax_j), q = (1 − ε) onehot + ε/K;
 * ε = 0 is plain cross-entropy to the bit; ε = 1 makes the target uniform whatever the label. */
struct ce_smooth_case {
    struct ce_case c;
    double eps;
};

static double ce_smooth_loss(void *p)
{
    struct ce_smooth_case *s = p;
    return softmax_ce_smooth_forward_backward(NULL, NULL, s->c.logits, s->c.labels, s->c.n,
                                              s->c.classes, s->c.scale_n, s->eps) / s->c.scale_n;
}

static void test_softmax_ce_label_smoothing(void **state)
{
    struct ce_smooth_case s = {.c = {.n = 4, .classes = 6, .scale_n = 10}, .eps = 0.1};
    int lab[4] = {0, 5, 3, 3};
    s.c.labels = lab;
    s.c.logits = falloc(24);
    fill_normal(s.c.logits, 24, 601, 2.0f, 0.0f);
    float *dz = falloc(24), *d0 = falloc(24), *d1 = falloc(24);
    int correct = -1, correct0 = -2;
    double loss = softmax_ce_smooth_forward_backward(dz, &correct, s.c.logits, lab, 4, 6, 10, 0.1);
    double want = 0.0;
    for (int i = 0; i < 4; i++) {
        const float *z = s.c.logits + i * 6;
        double se = 0.0;
        for (int j = 0; j < 6; j++)
            se += exp((double)z[j]);
        for (int j = 0; j < 6; j++)
            want += ((j == lab[i]) * 0.9 + 0.1 / 6) * (log(se) - z[j]);
    }
    assert_true(fabs(loss - want) <= 1e-12 * fabs(want));
    assert_int_equal(check_grad("softmax ce, label smoothing", s.c.logits, 24, dz, ce_smooth_loss, &s,
                                100, 0.0f), 0);
    double plain = softmax_ce_forward_backward(d0, &correct0, s.c.logits, lab, 4, 6, 10);
    assert_int_equal(correct, correct0);
    assert_true(softmax_ce_smooth_forward_backward(d1, NULL, s.c.logits, lab, 4, 6, 10, 0.0) == plain);
    assert_memory_equal(d0, d1, 24 * sizeof(float));
    int other[4] = {1, 2, 0, 4};
    softmax_ce_smooth_forward_backward(d0, NULL, s.c.logits, lab, 4, 6, 10, 1.0);
    softmax_ce_smooth_forward_backward(d1, NULL, s.c.logits, other, 4, 6, 10, 1.0);
    assert_memory_equal(d0, d1, 24 * sizeof(float));
    FREE_ALL(s.c.logits, dz, d0, d1);
}

/* `test_layers --ce-trace`: the smoothed loss and gradient of fixed logits, printed for
 * tests/optim.test.sh to compare with torch's CrossEntropyLoss(label_smoothing = 0.2). */
static int ce_trace(void)
{
    enum { TN = 3, TK = 5 };
    float z[TN * TK], d[TN * TK];
    const int lab[TN] = {4, 0, 2};
    for (int i = 0; i < TN * TK; i++)
        z[i] = (float)(1.5 * sin(0.9 * i + 0.3));
    double loss = softmax_ce_smooth_forward_backward(d, NULL, z, lab, TN, TK, TN, 0.2);
    printf("%.17g\n", loss / TN);
    for (int i = 0; i < TN * TK; i++)
        printf("%.9g %.9g\n", z[i], d[i]);
    return 0;
}

/* The fused and first-write variants equal the plain layers bit for bit: BN with ReLU fused
 * against BN then relu_forward; batchnorm_backward_to and relu_backward_to into garbage against
 * += into zeros; add_relu_forward against add then ReLU. */
static void test_fused_and_first_write(void **state)
{
    struct bn_case b;
    bn_case_make(&b, 3, 4, 5, 5, 650);
    size_t cnt = bn_count(&b);
    float *o1 = falloc(cnt), *o2 = falloc(cnt), *rm = falloc(4), *rv = falloc(4);
    batchnorm_forward_train(o1, b.mean, b.invstd, rm, rv, b.in, b.gamma, b.beta, &b.l, b.n, NULL, NULL);
    relu_forward(o1, o1, cnt);
    struct batchnorm lr = b.l;
    lr.relu = 1;
    batchnorm_forward_train(o2, b.mean, b.invstd, rm, rv, b.in, b.gamma, b.beta, &lr, b.n, NULL, NULL);
    assert_memory_equal(o1, o2, cnt * sizeof(float));
    batchnorm_forward_eval(o1, b.in, b.gamma, b.beta, rm, rv, &b.l, b.n);
    relu_forward(o1, o1, cnt);
    batchnorm_forward_eval(o2, b.in, b.gamma, b.beta, rm, rv, &lr, b.n);
    assert_memory_equal(o1, o2, cnt * sizeof(float));

    float *d1 = falloc(cnt), *d2 = falloc(cnt), dg1[4] = {0}, dg2[4] = {0}, db1[4] = {0}, db2[4] = {0};
    fill_normal(d2, cnt, 651, 100.0f, 0.0f); /* garbage the first write must ignore */
    batchnorm_backward(d1, dg1, db1, b.r, b.in, b.mean, b.invstd, b.gamma, &b.l, b.n, NULL, NULL);
    batchnorm_backward_to(d2, dg2, db2, b.r, b.in, b.mean, b.invstd, b.gamma, &b.l, b.n, NULL, NULL);
    assert_memory_equal(d1, d2, cnt * sizeof(float));
    assert_memory_equal(dg1, dg2, sizeof dg1);
    assert_memory_equal(db1, db2, sizeof db1);

    memset(d1, 0, cnt * sizeof(float));
    fill_normal(d2, cnt, 652, 100.0f, 0.0f);
    relu_backward(d1, b.r, b.in, cnt);
    relu_backward_to(d2, b.r, b.in, cnt);
    assert_memory_equal(d1, d2, cnt * sizeof(float));

    add_forward(o1, b.in, b.r, cnt);
    relu_forward(o1, o1, cnt);
    add_relu_forward(o2, b.in, b.r, cnt);
    assert_memory_equal(o1, o2, cnt * sizeof(float));
    FREE_ALL(o1, o2, rm, rv, d1, d2);
    bn_case_free(&b);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--ce-trace") == 0)
        return ce_trace();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_ce_label_smoothing),
        cmocka_unit_test(test_conv_shapes),
        cmocka_unit_test(test_conv_3x3_s1),
        cmocka_unit_test(test_conv_3x3_s2),
        cmocka_unit_test(test_conv_1x1_s2),
        cmocka_unit_test(test_conv_1x1_s1),
        cmocka_unit_test(test_conv_chunks_and_threads),
        cmocka_unit_test(test_conv_pointwise_direct),
        cmocka_unit_test(test_conv_winograd_against_reference),
        cmocka_unit_test(test_conv_winograd_gradients),
        cmocka_unit_test(test_conv_algo_choice),
        cmocka_unit_test(test_conv_sparse_dw),
        cmocka_unit_test(test_conv_onednn_against_reference),
        cmocka_unit_test(test_conv_onednn_threads_and_sparse),
        cmocka_unit_test(test_bn_gradients),
        cmocka_unit_test(test_bn_train_hand),
        cmocka_unit_test(test_bn_eval_hand),
        cmocka_unit_test(test_bn_two_ranks),
        cmocka_unit_test(test_empty_share),
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_avgpool),
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_bias),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_softmax_ce),
        cmocka_unit_test(test_fused_and_first_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
