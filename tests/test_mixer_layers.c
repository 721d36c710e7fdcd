/* MLP-Mixer's layers against central differences: LayerNorm over channels (input, γ, β), GELU
 * (tanh form) and the token-mixing Dense (input, weights, bias), each through the loss
 * L = Σ out·r for a fixed random r, so backward's dout is r. Whole Mixer blocks and the family
 * are checked in test_families.c. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "layers.h"
#include "rng.h"

static void fill(float *v, size_t n, uint64_t key, float scale)
{
    for (size_t i = 0; i < n; i++)
        v[i] = scale * rng_normal(3, rng_stream(RNG_TEST, 40, key, 0), i);
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* The layer under test: out from the current inputs. */
typedef void (*forward_fn)(void *ctx, float *out);

/* Central differences of L = Σ out·r in every entry of v against the analytic g. */
static void check(void *ctx, forward_fn f, float *out, size_t nout, const float *r, float *v,
                  const float *g, size_t n, const char *what)
{
    const float h = 1e-2f;
    for (size_t i = 0; i < n; i++) {
        float keep = v[i];
        v[i] = keep + h;
        float up_at = v[i];
        f(ctx, out);
        double up = dot(out, r, nout);
        v[i] = keep - h;
        float down_at = v[i];
        f(ctx, out);
        double down = dot(out, r, nout);
        v[i] = keep;
        double num = (up - down) / ((double)up_at - (double)down_at);
        if (fabs(num - g[i]) > 2e-3 + 2e-2 * fmax(fabs(num), fabs(g[i])))
            fail_msg("%s[%zu]: numeric %g analytic %g", what, i, num, (double)g[i]);
    }
}

/* ---- LayerNorm ------------------------------------------------------------------------------ */

struct ln {
    int n, c, s;
    float *x, *gamma, *beta, *mean, *inv;
};

static void ln_forward(void *ctx, float *out)
{
    struct ln *l = ctx;
    layernorm_forward(out, l->mean, l->inv, l->x, l->gamma, l->beta, l->n, l->c, l->s);
}

static void test_layernorm(void **state)
{
    (void)state;
    struct ln l = {.n = 3, .c = 5, .s = 7};
    size_t nx = (size_t)l.n * l.c * l.s, ns = (size_t)l.n * l.s;
    float *x = malloc(nx * sizeof(float)), *out = malloc(nx * sizeof(float));
    float *r = malloc(nx * sizeof(float)), *dx = calloc(nx, sizeof(float));
    float gamma[5], beta[5], dgamma[5] = {0}, dbeta[5] = {0};
    float *mean = malloc(ns * sizeof(float)), *inv = malloc(ns * sizeof(float));
    float *sums = malloc(2 * ns * sizeof(float));
    fill(x, nx, 1, 2.0f);
    fill(r, nx, 2, 1.0f);
    fill(gamma, 5, 3, 1.0f);
    fill(beta, 5, 4, 1.0f);
    l.x = x, l.gamma = gamma, l.beta = beta, l.mean = mean, l.inv = inv;
    ln_forward(&l, out);
    /* each position's channels: mean β̄-free x̂ has mean 0 and (biased) variance 1 − ε-ish */
    for (int i = 0; i < l.n; i++)
        for (int j = 0; j < l.s; j++) {
            double m = 0.0, v = 0.0;
            for (int ch = 0; ch < l.c; ch++) {
                double xh = (out[((size_t)i * l.c + ch) * l.s + j] - beta[ch]) / gamma[ch];
                m += xh;
                v += xh * xh;
            }
            assert_true(fabs(m / l.c) < 1e-5);
            assert_true(fabs(v / l.c - 1.0) < 1e-4);
        }
    layernorm_backward(dx, dgamma, dbeta, r, x, mean, inv, gamma, sums, l.n, l.c, l.s);
    check(&l, ln_forward, out, nx, r, x, dx, nx, "x");
    check(&l, ln_forward, out, nx, r, gamma, dgamma, 5, "gamma");
    check(&l, ln_forward, out, nx, r, beta, dbeta, 5, "beta");
    /* backward accumulates: a second call doubles every gradient */
    float *dx1 = malloc(nx * sizeof(float));
    memcpy(dx1, dx, nx * sizeof(float));
    layernorm_backward(dx, NULL, NULL, r, x, mean, inv, gamma, sums, l.n, l.c, l.s);
    for (size_t i = 0; i < nx; i++)
        assert_true(dx[i] == 2.0f * dx1[i]);
    free(x), free(out), free(r), free(dx), free(dx1), free(mean), free(inv), free(sums);
}

/* ---- GELU ----------------------------------------------------------------------------------- */

struct gelu {
    float *x;
    size_t n;
};

static void gelu_fwd(void *ctx, float *out)
{
    struct gelu *g = ctx;
    gelu_forward(out, g->x, g->n);
}

static void test_gelu(void **state)
{
    (void)state;
    enum { N = 64 };
    float x[N], out[N], r[N], dx[N];
    fill(x, N, 5, 3.0f);
    fill(r, N, 6, 1.0f);
    struct gelu g = {x, N};
    gelu_fwd(&g, out);
    /* the tanh form at a few points, in double (Python's math module) */
    const float at[] = {-3.0f, -1.0f, 0.0f, 0.5f, 2.0f};
    const double want[] = {-0.0036373920817729943, -0.15880800939172324, 0.0, 0.34571400982514394,
                           1.954597694087775};
    float y[5];
    gelu_forward(y, at, 5);
    for (int i = 0; i < 5; i++)
        assert_true(fabs(y[i] - want[i]) < 1e-6);
    gelu_backward(dx, r, x, N, 0);
    check(&g, gelu_fwd, out, N, r, x, dx, N, "x");
    float dx2[N];
    memcpy(dx2, dx, sizeof dx);
    gelu_backward(dx2, r, x, N, 1);
    for (int i = 0; i < N; i++)
        assert_true(dx2[i] == dx[i] + dx[i]);
}

/* revive's tanh (gelu.c) against tanh in double, in ulps of the float nearest the true value:
 * every 127th float in [0, 12] (past 9.01 tanh rounds to 1), every float near the switch between
 * its two forms (0.625) and near the clamp (9.5), oddness, and the special values. Over every float
 * in [0, 12] the worst is 1.34 ulp (at 0.6279; glibc's tanhf: 2.16 ulp): the bound is 1.5. */
static double ulp_at(double v)
{
    float f = fabsf((float)v);
    if (f < FLT_MIN)
        return ldexp(1.0, -149);
    int e;
    frexpf(f, &e);
    return ldexp(1.0, e - 24);
}

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static double tanh_err(float u, double worst)
{
    float t = gelu_tanh(u);
    if (gelu_tanh(-u) != -t)
        fail_msg("tanh(-%.9g) = %.9g is not -tanh(%.9g) = %.9g", u, gelu_tanh(-u), u, -t);
    double ref = tanh((double)u), e = fabs((double)t - ref) / ulp_at(ref);
    if (e > 1.5)
        fail_msg("tanh(%.9g) = %.9g, in double %.17g: %.2f ulp", u, t, ref, e);
    return fmax(worst, e);
}

static void test_gelu_tanh(void **state)
{
    (void)state;
    double worst = 0.0;
    for (uint32_t b = 0; b <= to_bits(12.0f); b += 127)
        worst = tanh_err(from_bits(b), worst);
    const float edges[] = {0.625f, 9.5f};
    for (int k = 0; k < 2; k++)
        for (uint32_t b = to_bits(edges[k]) - 20000; b <= to_bits(edges[k]) + 20000; b++)
            worst = tanh_err(from_bits(b), worst);
    print_message("gelu_tanh: worst %.2f ulp on the grid\n", worst);
    /* ±0 keep their sign, tiny values are exact, huge ones and ±∞ give ±1, NaN stays NaN */
    assert_true(gelu_tanh(0.0f) == 0.0f && !signbit(gelu_tanh(0.0f)));
    assert_true(gelu_tanh(-0.0f) == 0.0f && signbit(gelu_tanh(-0.0f)));
    const float tiny[] = {1e-45f, 1e-38f, 1e-20f, 1e-10f, 1e-5f};
    for (int i = 0; i < 5; i++)
        assert_true(gelu_tanh(tiny[i]) == tiny[i] && gelu_tanh(-tiny[i]) == -tiny[i]);
    const float huge[] = {12.0f, 1e3f, 1e30f, FLT_MAX, INFINITY};
    for (int i = 0; i < 5; i++)
        assert_true(gelu_tanh(huge[i]) == 1.0f && gelu_tanh(-huge[i]) == -1.0f);
    assert_true(isnan(gelu_tanh(NAN)));
}

/* GELU and its derivative against the tanh form in double, on every 97th float of ±[0, 30]:
 * y within 2 units of ulp(y) + |x|·2⁻²⁵ (the 1 in 1 + tanh u costs ½|x|·ulp(1)/2; measured 1.33,
 * glibc's tanhf 1.62), GELU' within 1e-6 absolute (measured 5.6e-7, the same with glibc's: the
 * rounding of 1 − tanh² u). Huge |x| give GELU' 1 or 0, not NaN. */
static void test_gelu_accuracy(void **state)
{
    (void)state;
    const uint32_t last = to_bits(30.0f), step = 97;
    size_t n = 2 * (last / step + 1);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *d = malloc(n * sizeof *d),
          *one = malloc(n * sizeof *one);
    assert_non_null(x && y && d && one);
    size_t k = 0;
    for (uint32_t b = 0; b <= last; b += step) {
        x[k++] = from_bits(b);
        x[k++] = -from_bits(b);
    }
    assert_int_equal(k, n);
    for (size_t i = 0; i < n; i++)
        one[i] = 1.0f;
    gelu_forward(y, x, n);
    gelu_backward(d, one, x, n, 0);
    const double kk = 0.79788456080286535588, a = 0.044715;
    double wy = 0.0, wd = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i], t = tanh(kk * (v + a * v * v * v));
        double yr = 0.5 * v * (1.0 + t), dr = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * kk * (1.0 + 3.0 * a * v * v);
        double ey = fabs(y[i] - yr) / (ulp_at(yr) + fabs(v) * ldexp(1.0, -25)), ed = fabs(d[i] - dr);
        if (ey > 2.0 || ed > 1e-6)
            fail_msg("GELU(%.9g) = %.9g (double %.17g), GELU' %.9g (double %.17g)", x[i], y[i], yr, d[i], dr);
        wy = fmax(wy, ey);
        wd = fmax(wd, ed);
    }
    print_message("gelu: worst %.2f units on y, %.2g on GELU'\n", wy, wd);
    /* a vector lane and the scalar remainder loop give the same bits (gelu.c) */
    for (size_t i = 0; i < n; i += 1013) {
        float y1, d1;
        gelu_forward(&y1, &x[i], 1);
        gelu_backward(&d1, &one[i], &x[i], 1, 0);
        if (memcmp(&y1, &y[i], sizeof y1) || memcmp(&d1, &d[i], sizeof d1))
            fail_msg("x = %.9g: alone %.9g / %.9g, in the array %.9g / %.9g", x[i], y1, d1, y[i], d[i]);
    }
    free(x), free(y), free(d), free(one);
    const float big[] = {1e20f, -1e20f, FLT_MAX, -FLT_MAX, INFINITY, -INFINITY};
    float dbig[6], onebig[6] = {1, 1, 1, 1, 1, 1};
    gelu_backward(dbig, onebig, big, 6, 0);
    for (int i = 0; i < 6; i++)
        assert_true(dbig[i] == (big[i] > 0 ? 1.0f : 0.0f));
}

/* ---- the token-mixing Dense ------------------------------------------------------------------- */

struct td {
    struct linear fc;
    int n, c;
    float *x, *w, *b;
};

static void td_forward(void *ctx, float *out)
{
    struct td *t = ctx;
    token_dense_forward(out, t->x, t->w, t->b, &t->fc, t->n, t->c);
}

static void test_token_dense(void **state)
{
    (void)state;
    struct td t = {.n = 2, .c = 3};
    const int s = 6, s2 = 4; /* (N, C, S) → (N, C, S') */
    linear_init(&t.fc, s, s2);
    size_t nx = (size_t)t.n * t.c * s, ny = (size_t)t.n * t.c * s2;
    float x[36], w[24], b[4], out[24], r[24], dx[36] = {0}, dw[24] = {0}, db[4] = {0};
    fill(x, nx, 7, 1.0f);
    fill(w, 24, 8, 1.0f);
    fill(b, 4, 9, 1.0f);
    fill(r, ny, 10, 1.0f);
    t.x = x, t.w = w, t.b = b;
    td_forward(&t, out);
    /* out[n][c][o] = b[o] + Σ_s w[o][s]·x[n][c][s]: the same Dense for every channel */
    for (int i = 0; i < t.n * t.c; i++)
        for (int o = 0; o < s2; o++) {
            double v = b[o];
            for (int j = 0; j < s; j++)
                v += (double)w[o * s + j] * x[i * s + j];
            assert_true(fabs(out[i * s2 + o] - v) < 1e-5);
        }
    token_dense_backward(dx, dw, db, r, x, w, &t.fc, t.n, t.c);
    check(&t, td_forward, out, ny, r, x, dx, nx, "x");
    check(&t, td_forward, out, ny, r, w, dw, 24, "w");
    check(&t, td_forward, out, ny, r, b, db, 4, "b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_gelu_tanh),
        cmocka_unit_test(test_gelu_accuracy),
        cmocka_unit_test(test_token_dense),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
