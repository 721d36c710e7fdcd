/* L-BFGS (include/lbfgs.h): a quadratic solved to its minimum, the Rosenbrock function from
 * (−1.5, 2) to (1, 1), the stopping rules, and the iterates against torch.optim.LBFGS
 * (tests/tools/torch_lbfgs.py) where /usr/bin/python3 has torch. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lbfgs.h"

enum { QN = 12 };

/* ½ xᵀAx − bᵀx, A tridiagonal (2.5, −1), b_i = 1 + i mod 3 (torch_lbfgs.py's). */
static double quadratic(void *ctx, const float *x, float *g)
{
    int *evals = ctx;
    ++*evals;
    double f = 0.0;
    for (int i = 0; i < QN; i++) {
        double ax = 2.5 * x[i] - (i ? x[i - 1] : 0.0) - (i < QN - 1 ? x[i + 1] : 0.0);
        double b = 1.0 + i % 3;
        f += 0.5 * x[i] * ax - b * x[i];
        g[i] = (float)(ax - b);
    }
    return f;
}

static void quadratic_minimum(double *x)
{
    /* the tridiagonal system A x = b by the Thomas algorithm */
    double c[QN], d[QN];
    for (int i = 0; i < QN; i++) {
        double m = 2.5 - (i ? -1.0 * c[i - 1] : 0.0);
        c[i] = -1.0 / m;
        d[i] = (1.0 + i % 3 + (i ? d[i - 1] : 0.0)) / m;
    }
    for (int i = QN - 1; i >= 0; i--)
        x[i] = d[i] - c[i] * (i < QN - 1 ? x[i + 1] : 0.0);
}

static void test_quadratic(void **state)
{
    (void)state;
    float x[QN] = {0};
    double want[QN];
    quadratic_minimum(want);
    struct lbfgs o;
    struct lbfgs_options opt = lbfgs_defaults();
    lbfgs_init(&o, QN, &opt);
    int evals = 0;
    for (int k = 0; k < 10 && !o.converged; k++)
        lbfgs_step(&o, x, quadratic, &evals);
    assert_true(o.converged);
    assert_int_equal(evals, o.func_evals);
    for (int i = 0; i < QN; i++)
        assert_float_equal(x[i], want[i], 1e-4);
    lbfgs_free(&o);
}

/* max_iter 4 and history 3: the ring of pairs wraps; torch's iterates after each step. */
static void test_quadratic_against_torch(void **state)
{
    (void)state;
    if (system("/usr/bin/python3 -c 'import torch' 2>/dev/null") != 0) {
        print_message("SKIP: /usr/bin/python3 has no torch: L-BFGS not compared\n");
        skip();
    }
    enum { STEPS = 3 };
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/tools/torch_lbfgs.py %d %d 4 3", QN, STEPS);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    double want[STEPS][QN];
    for (int k = 0; k < STEPS; k++)
        for (int i = 0; i < QN; i++)
            assert_int_equal(fscanf(p, "%lf", &want[k][i]), 1);
    assert_int_equal(pclose(p), 0);
    float x[QN] = {0};
    struct lbfgs o;
    struct lbfgs_options opt = lbfgs_defaults();
    opt.max_iter = 4;
    opt.history = 3;
    lbfgs_init(&o, QN, &opt);
    int evals = 0;
    for (int k = 0; k < STEPS; k++) {
        lbfgs_step(&o, x, quadratic, &evals);
        for (int i = 0; i < QN; i++)
            assert_float_equal(x[i], want[k][i], 1e-4);
    }
    assert_int_equal(o.n_iter, 3 * 4);
    lbfgs_free(&o);
}

static double rosenbrock(void *ctx, const float *x, float *g)
{
    (void)ctx;
    double a = 1.0 - x[0], b = x[1] - (double)x[0] * x[0];
    g[0] = (float)(-2.0 * a - 400.0 * x[0] * b);
    g[1] = (float)(200.0 * b);
    return a * a + 100.0 * b * b;
}

/* torch 1.13's LBFGS (defaults) from (−1.5, 2): after its first step (20 iterations) x is
 * (−0.78114, 0.61317) in float32 and (−0.78112, 0.61314) in float64; both reach (1, 1). */
static void test_rosenbrock(void **state)
{
    (void)state;
    float x[2] = {-1.5f, 2.0f};
    struct lbfgs o;
    struct lbfgs_options opt = lbfgs_defaults();
    lbfgs_init(&o, 2, &opt);
    lbfgs_step(&o, x, rosenbrock, NULL);
    assert_int_equal(o.n_iter, 20);
    assert_float_equal(x[0], -0.78113, 1e-3);
    assert_float_equal(x[1], 0.61315, 1e-3);
    for (int k = 0; k < 30 && !o.converged; k++)
        lbfgs_step(&o, x, rosenbrock, NULL);
    assert_true(o.converged);
    assert_float_equal(x[0], 1.0, 1e-3);
    assert_float_equal(x[1], 1.0, 1e-3);
    lbfgs_free(&o);
}

/* A start at the minimum: one evaluation, no move, converged. */
static void test_stops_at_a_minimum(void **state)
{
    (void)state;
    float x[2] = {1.0f, 1.0f};
    struct lbfgs o;
    struct lbfgs_options opt = lbfgs_defaults();
    lbfgs_init(&o, 2, &opt);
    assert_float_equal(lbfgs_step(&o, x, rosenbrock, NULL), 0.0, 0.0);
    assert_true(o.converged);
    assert_int_equal(o.func_evals, 1);
    assert_int_equal(o.n_iter, 0);
    assert_true(x[0] == 1.0f && x[1] == 1.0f);
    lbfgs_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quadratic),
        cmocka_unit_test(test_quadratic_against_torch),
        cmocka_unit_test(test_rosenbrock),
        cmocka_unit_test(test_stops_at_a_minimum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
