/* A tiny ResNet against PyTorch (as llm.c checks GPT-2): the same weights and inputs, then the
 * train-mode logits and mean cross-entropy, every parameter's gradient, the BN running statistics
 * after that forward, and the eval-mode logits with those running statistics.
 *
 * The reference comes from tests/tools/torch_reference.py (float64 PyTorch, an open_lth-style
 * ResNet written there independently of src/engine/model.c) and is committed, so CI needs no PyTorch:
 *
 *   build/tests/test_reference --write-inputs /tmp/inputs.h5      weights, x, y (model_init)
 *   /usr/bin/python3 tests/tools/torch_reference.py /tmp/inputs.h5 tests/data/resnet8_reference.h5
 *   build/tests/test_reference                                      compares, from the repo root
 * (REVIVE_REFERENCE=FILE points the comparison at another reference file).
 *
 * The weights are not stored in the reference (they would triple its size): it keeps a
 * fingerprint of each (Σv, Σ(i+1)·v) and the test first checks that model_init and rng still
 * produce them. Gradients are stored as int16 q with a per-tensor scale s = ‖g‖∞/32767, so the
 * stored value q·s is within s/2 = ‖g‖∞/65534 of PyTorch's; everything else is float64.
 *
 * Tolerance, float32 against the float64 reference b, element-wise for every tensor:
 *     |a − b| ≤ 1e-3·|b| + 1e-4·‖b‖∞
 * (the second term absorbs the gradient quantization, 1.5e-5·‖b‖∞, and float32 rounding of
 * elements much smaller than their tensor's largest).
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

#include "h5io.h"
#include "layers.h"
#include "model.h"
#include "rng.h"

#define DEFAULT_REFERENCE "tests/data/resnet8_reference.h5"
#define BATCH 4
#define SEED 7
#define RTOL 1e-3
#define ATOL 1e-4 /* times the tensor's ‖b‖∞ */

static const struct model_spec SPEC = {
    .depth = 8, .width = 1, .in_c = 2, .in_h = 8, .in_w = 8, .classes = 3, .gamma_one = false};

struct ref_case {
    const char *path;
    struct h5in *ref;
    struct model m;
    float x[BATCH * 2 * 8 * 8]; /* (BATCH, in_c, in_h, in_w) */
    int y[BATCH];
    float train_logits[BATCH * 3]; /* (BATCH, classes) */
    double loss;                   /* mean over the batch */
    float eval_logits[BATCH * 3];
};

/* The model and batch both modes use: model_init(SEED); x_i = rng_normal(3, stream(TEST, 9), i),
 * y_i = i mod classes. */
static void build_case(struct model *m, float *x, int *y)
{
    REVIVE_ASSERT(model_build(m, &SPEC, BATCH, 1, NULL) == 0);
    model_init(m, SEED);
    size_t nx = (size_t)BATCH * SPEC.in_c * SPEC.in_h * SPEC.in_w;
    uint64_t stream = rng_stream(RNG_TEST, 9, 0, 0);
    for (size_t i = 0; i < nx; i++)
        x[i] = rng_normal(3, stream, i);
    for (int i = 0; i < BATCH; i++)
        y[i] = i % SPEC.classes;
}

static void param_dims(const struct param *p, size_t *dims)
{
    for (int d = 0; d < p->ndim; d++)
        dims[d] = (size_t)p->dims[d];
}

/* --write-inputs: everything torch_reference.py needs, named as revive names it. */
static int write_inputs(const char *path)
{
    struct model m;
    float x[BATCH * 2 * 8 * 8];
    int y[BATCH];
    build_case(&m, x, y);
    struct rv_error err = {{0}};
    struct h5out *f = h5out_create(path, &err);
    int rc = f ? 0 : -1;
    const char *attrs[] = {"depth", "width", "in_c", "in_h", "in_w", "classes"};
    const int values[] = {SPEC.depth, SPEC.width, SPEC.in_c, SPEC.in_h, SPEC.in_w, SPEC.classes};
    for (int i = 0; rc == 0 && i < 6; i++)
        rc = h5out_attr_int(f, "/", attrs[i], values[i], &err);
    for (int p = 0; rc == 0 && p < m.nparams; p++) {
        const struct param *pa = &m.params[p];
        char name[96];
        size_t dims[4];
        snprintf(name, sizeof name, "params/%s", pa->name);
        param_dims(pa, dims);
        rc = h5out_floats(f, name, m.values + pa->offset, pa->ndim, dims, &err);
    }
    /* Units in model order, so the script knows whose running statistics to report. */
    char units[1024] = "";
    for (int u = 0; u < m.nunits; u++) {
        strncat(units, m.units[u].name, sizeof units - strlen(units) - 2);
        strncat(units, "\n", sizeof units - strlen(units) - 1);
    }
    if (rc == 0)
        rc = h5out_string(f, "units", units, &err);
    size_t xd[4] = {BATCH, (size_t)SPEC.in_c, (size_t)SPEC.in_h, (size_t)SPEC.in_w}, yd[1] = {BATCH};
    int64_t y64[BATCH];
    for (int i = 0; i < BATCH; i++)
        y64[i] = y[i];
    if (rc == 0)
        rc = h5out_floats(f, "x", x, 4, xd, &err);
    if (rc == 0)
        rc = h5out_int64s(f, "y", y64, 1, yd, &err);
    if (rc == 0)
        rc = h5out_commit(f, &err);
    else if (f)
        h5out_discard(f);
    model_free(&m);
    if (rc)
        fprintf(stderr, "test_reference: %s\n", err.msg);
    return rc ? 1 : 0;
}

/* Prints one line per tensor and returns whether every element is within tolerance. */
static bool compare(const char *what, const float *a, const double *b, size_t n)
{
    double bmax = 0.0;
    for (size_t i = 0; i < n; i++)
        bmax = fmax(bmax, fabs(b[i]));
    double worst_abs = 0.0, worst_ratio = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        double ratio = d / (RTOL * fabs(b[i]) + ATOL * bmax + 1e-300);
        worst_abs = fmax(worst_abs, d);
        if (ratio > worst_ratio || isnan(d)) {
            worst_ratio = isnan(d) ? INFINITY : ratio;
            at = i;
        }
    }
    bool ok = worst_ratio <= 1.0;
    printf("  %-36s max|a-b| %.2e  rel %.2e  of tol %5.3f%s\n", what, worst_abs,
           bmax > 0 ? worst_abs / bmax : worst_abs, worst_ratio, ok ? "" : "  FAIL");
    if (!ok)
        printf("    worst at [%zu]: revive %.9g, torch %.9g\n", at, (double)a[at], b[at]);
    fflush(stdout); /* cmocka reports on stderr: keep the lines in order */
    return ok;
}

static double *read_doubles(struct ref_case *c, const char *name, int ndim, const size_t *dims)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= dims[d];
    double *b = rv_malloc((n ? n : 1) * sizeof *b);
    struct rv_error err = {{0}};
    if (h5in_doubles(c->ref, name, b, ndim, dims, &err))
        fail_msg("%s", err.msg);
    return b;
}

static int setup(void **state)
{
    struct ref_case *c = rv_calloc(1, sizeof *c);
    c->path = getenv("REVIVE_REFERENCE") ? getenv("REVIVE_REFERENCE") : DEFAULT_REFERENCE;
    struct rv_error err = {{0}};
    c->ref = h5in_open(c->path, &err);
    if (!c->ref) {
        fprintf(stderr, "test_reference: %s (run from the repository root)\n", err.msg);
        free(c);
        return -1;
    }
    build_case(&c->m, c->x, c->y);
    struct model *m = &c->m;
    model_forward(m, c->x, BATCH, true, NULL);
    memcpy(c->train_logits, m->logits, sizeof c->train_logits);
    c->loss = softmax_ce_forward_backward(m->d_logits, NULL, m->logits, c->y, BATCH,
                                          SPEC.classes, BATCH) / BATCH;
    model_zero_grad(m);
    model_backward(m, BATCH, NULL);
    model_forward(m, c->x, BATCH, false, NULL);
    memcpy(c->eval_logits, m->logits, sizeof c->eval_logits);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ref_case *c = *state;
    if (!c) /* setup failed */
        return 0;
    h5in_close(c->ref);
    model_free(&c->m);
    free(c);
    return 0;
}

/* Σv and Σ(i+1)·v in double: the weights and batch the reference was computed from. */
static void fingerprint(double fp[2], const float *v, size_t n)
{
    fp[0] = fp[1] = 0.0;
    for (size_t i = 0; i < n; i++) {
        fp[0] += v[i];
        fp[1] += (double)(i + 1) * v[i];
    }
}

static bool fingerprint_ok(struct ref_case *c, const char *name, const float *v, size_t n)
{
    double fp[2];
    fingerprint(fp, v, n);
    size_t d2[1] = {2};
    double *b = read_doubles(c, name, 1, d2);
    bool ok = true;
    for (int k = 0; k < 2; k++)
        ok = ok && fabs(fp[k] - b[k]) <= 1e-9 * (fabs(b[k]) + 1.0);
    if (!ok)
        printf("  %s: fingerprint (%.12g, %.12g), reference (%.12g, %.12g)\n", name, fp[0],
               fp[1], b[0], b[1]);
    fflush(stdout);
    free(b);
    return ok;
}

static void test_inputs_are_the_references(void **state)
{
    struct ref_case *c = *state;
    struct rv_error err = {{0}};
    bool ok = true;
    for (int p = 0; p < c->m.nparams; p++) {
        const struct param *pa = &c->m.params[p];
        char name[96];
        snprintf(name, sizeof name, "fingerprints/%s", pa->name);
        ok = fingerprint_ok(c, name, c->m.values + pa->offset, pa->count) && ok;
    }
    ok = fingerprint_ok(c, "fingerprints/x", c->x, sizeof c->x / sizeof c->x[0]) && ok;
    int64_t y[BATCH];
    size_t yd[1] = {BATCH};
    if (h5in_int64s(c->ref, "y", y, 1, yd, &err))
        fail_msg("%s", err.msg);
    for (int i = 0; i < BATCH; i++)
        ok = ok && y[i] == c->y[i];
    if (!ok)
        fail_msg("model_init, rng or the test batch changed since %s was made: regenerate it "
                 "(tests/data/README.md)", c->path);
}

static void test_train_logits_and_loss(void **state)
{
    struct ref_case *c = *state;
    size_t ld[2] = {BATCH, (size_t)SPEC.classes}, one[1] = {1};
    double *b = read_doubles(c, "train/logits", 2, ld);
    bool ok = compare("train logits", c->train_logits, b, BATCH * 3);
    free(b);
    b = read_doubles(c, "train/loss", 1, one);
    float loss = (float)c->loss;
    ok = compare("loss (mean cross-entropy)", &loss, b, 1) && ok;
    free(b);
    assert_true(ok);
}

static void test_every_gradient(void **state)
{
    struct ref_case *c = *state;
    struct rv_error err = {{0}};
    bool ok = true;
    for (int p = 0; p < c->m.nparams; p++) {
        const struct param *pa = &c->m.params[p];
        char name[96];
        size_t dims[4];
        snprintf(name, sizeof name, "grads/%s", pa->name);
        param_dims(pa, dims);
        int64_t *q = rv_malloc(pa->count * sizeof *q);
        double scale, *b = rv_malloc(pa->count * sizeof *b);
        if (h5in_int64s(c->ref, name, q, pa->ndim, dims, &err) ||
            h5in_attr_double(c->ref, name, "scale", &scale, &err))
            fail_msg("%s", err.msg);
        for (size_t i = 0; i < pa->count; i++)
            b[i] = (double)q[i] * scale;
        ok = compare(name, c->m.grads + pa->offset, b, pa->count) && ok;
        free(q);
        free(b);
    }
    assert_true(ok);
}

static void test_running_statistics(void **state)
{
    struct ref_case *c = *state;
    bool ok = true;
    for (int u = 0; u < c->m.nunits; u++) {
        const struct unit *un = &c->m.units[u];
        size_t d[1] = {(size_t)un->channels};
        const float *mean = c->m.running_stats + un->running, *var = mean + un->channels;
        char name[96];
        snprintf(name, sizeof name, "running_mean/%s", un->name);
        double *b = read_doubles(c, name, 1, d);
        ok = compare(name, mean, b, d[0]) && ok;
        free(b);
        snprintf(name, sizeof name, "running_var/%s", un->name);
        b = read_doubles(c, name, 1, d);
        ok = compare(name, var, b, d[0]) && ok;
        free(b);
    }
    assert_true(ok);
}

static void test_eval_logits(void **state)
{
    struct ref_case *c = *state;
    size_t ld[2] = {BATCH, (size_t)SPEC.classes};
    double *b = read_doubles(c, "eval/logits", 2, ld);
    bool ok = compare("eval logits (running statistics)", c->eval_logits, b, BATCH * 3);
    free(b);
    assert_true(ok);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-inputs") == 0)
        return write_inputs(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--write-inputs FILE.h5]\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inputs_are_the_references),
        cmocka_unit_test(test_train_logits_and_loss),
        cmocka_unit_test(test_every_gradient),
        cmocka_unit_test(test_running_statistics),
        cmocka_unit_test(test_eval_logits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
