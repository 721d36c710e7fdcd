/* BatchNorm recalibration (src/pipeline/recalibrate.c) and the re-initialization transition measured in
 * the eval-mode network:
 *   - recalibration changes the running statistics and nothing else;
 *   - the result is the plain average of the K batches' statistics (momentum 1/(k+1));
 *   - pipeline.reinit_gamma = zero with reinit_beta = keep leaves the logits unchanged when the
 *     re-initialized filters' γ was 0 (the general case differs by the old |γ| < τ only). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "run.h"
#include "stages.h"
#include "stats.h"

static void open_tiny(struct run *r, struct comm *comm)
{
    struct config c;
    config_defaults(&c);
    c.dataset = DATASET_SYNTHETIC;
    c.depth = 8;
    c.batch_size = 32;
    c.synthetic_train = 100; /* 4 batches: 32, 32, 32, 4 */
    c.synthetic_test = 64;
    c.threads = 1;
    c.seed = 3;
    struct rv_error err = {{0}};
    if (run_open(r, &c, comm, &err))
        fail_msg("%s", err.msg);
    /* Something other than the initial statistics and parameters, so changes show. */
    struct model *m = &r->model;
    for (size_t i = 0; i < m->running_total; i++)
        m->running_stats[i] = 0.5f + 0.001f * (float)(i % 97);
    for (size_t i = 0; i < m->total; i++)
        m->momentum[i] = 0.01f * (float)(i % 13);
}

static float *dup_floats(const float *a, size_t n)
{
    float *b = malloc(n * sizeof *b);
    assert_non_null(b);
    memcpy(b, a, n * sizeof *b);
    return b;
}

static void test_changes_only_running_stats(void **state)
{
    (void)state;
    struct comm comm = COMM_SELF_INIT;
    struct run r;
    open_tiny(&r, &comm);
    struct model *m = &r.model;
    float *values = dup_floats(m->values, m->total), *momentum = dup_floats(m->momentum, m->total),
          *mask = dup_floats(m->mask, m->total), *running = dup_floats(m->running_stats, m->running_total);
    assert_int_equal(run_recalibrate(&r, 3, 1), 3);
    assert_memory_equal(values, m->values, m->total * sizeof(float));
    assert_memory_equal(momentum, m->momentum, m->total * sizeof(float));
    assert_memory_equal(mask, m->mask, m->total * sizeof(float));
    size_t changed = 0;
    for (size_t i = 0; i < m->running_total; i++)
        changed += m->running_stats[i] != running[i];
    assert_true(changed > m->running_total * 9 / 10);
    for (int u = 0; u < m->nunits; u++)
        assert_true(m->units[u].bn.momentum == 0.1f); /* restored */
    /* Same call, same bits; more batches than the data holds: one pass (4 batches). */
    float *once = dup_floats(m->running_stats, m->running_total);
    assert_int_equal(run_recalibrate(&r, 3, 1), 3);
    assert_memory_equal(once, m->running_stats, m->running_total * sizeof(float));
    assert_int_equal(run_recalibrate(&r, 50, 1), 4);
    free(values);
    free(momentum);
    free(mask);
    free(running);
    free(once);
    run_close(&r);
}

/* Recomputed by hand: each batch's statistics alone (momentum 1), averaged in double. */
static void test_average_of_batches(void **state)
{
    (void)state;
    struct comm comm = COMM_SELF_INIT;
    struct run r;
    open_tiny(&r, &comm);
    struct model *m = &r.model;
    const int K = 3, stage = 2, B = r.cfg.batch_size, key = -1 - stage; /* the documented key */
    const struct dataset *d = &r.train;
    double *sum = calloc(m->running_total, sizeof *sum);
    int *order = malloc((size_t)d->n * sizeof *order);
    float *x = malloc((size_t)B * d->c * d->h * d->w * sizeof *x);
    int *y = malloc((size_t)B * sizeof *y);
    const struct augment aug = {.crop_pad = r.cfg.augment_crop, .flip = r.cfg.augment_flip};
    data_epoch_order(order, d->n, (uint64_t)r.cfg.seed, key);
    for (int u = 0; u < m->nunits; u++)
        m->units[u].bn.momentum = 1.0f;
    for (int j = 0; j < K; j++) {
        data_make_batch(x, y, d, order + j * B, B, &aug, (uint64_t)r.cfg.seed, key);
        model_forward(m, x, B, true, NULL);
        for (size_t i = 0; i < m->running_total; i++)
            sum[i] += m->running_stats[i];
    }
    for (int u = 0; u < m->nunits; u++)
        m->units[u].bn.momentum = 0.1f;
    assert_int_equal(run_recalibrate(&r, K, stage), K);
    for (size_t i = 0; i < m->running_total; i++) {
        double want = sum[i] / K, got = m->running_stats[i];
        if (fabs(got - want) > 1e-5 * fabs(want) + 1e-6)
            fail_msg("running statistic %zu: %.9g, the average of the batches is %.9g", i, got, want);
    }
    free(sum);
    free(order);
    free(x);
    free(y);
    run_close(&r);
}

/* Eval-mode logits of the first test images. */
static float *logits(struct run *r, int n)
{
    struct model *m = &r->model;
    const struct dataset *d = &r->test;
    float *x = malloc((size_t)n * d->c * d->h * d->w * sizeof *x);
    int *y = malloc((size_t)n * sizeof *y), *idx = malloc((size_t)n * sizeof *idx);
    for (int i = 0; i < n; i++)
        idx[i] = i;
    data_make_batch(x, y, d, idx, n, NULL, 0, 0);
    model_forward(m, x, n, false, NULL);
    float *out = dup_floats(m->logits, (size_t)n * m->spec.classes);
    free(x);
    free(y);
    free(idx);
    return out;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst;
}

static void test_zero_keeps_the_function(void **state)
{
    (void)state;
    struct comm comm = COMM_SELF_INIT;
    struct run r;
    open_tiny(&r, &comm);
    struct model *m = &r.model;
    const int n = 32;
    size_t nl = (size_t)n * m->spec.classes;
    /* A "trained" state: β away from 0, and some filters switched off (γ = 0). */
    int nf = stats_nfilters(m);
    uint8_t *which = calloc((size_t)nf, 1);
    for (int u = 0; u < m->nunits; u++) {
        const struct unit *un = &m->units[u];
        for (int c = 0; c < un->channels; c++) {
            m->values[m->params[un->beta].offset + (size_t)c] = 0.05f * (float)((c % 7) - 3);
            if ((c + u) % 5 == 0) {
                m->values[m->params[un->gamma].offset + (size_t)c] = 0.0f;
                which[stats_unit_offset(m, u) + c] = 1;
            }
        }
    }
    float *saved = dup_floats(m->values, m->total), *saved_run = dup_floats(m->running_stats, m->running_total);
    float *before = logits(&r, n);

    const struct reinit_options zero = {.gamma = REINIT_GAMMA_ZERO, .beta = REINIT_BETA_KEEP, .weight_scale = 1.0};
    assert_true(reinit_filters(m, 9, 1, which, &zero, NULL) > 10);
    assert_true(memcmp(saved, m->values, m->total * sizeof(float)) != 0); /* fresh conv weights */
    float *after = logits(&r, n);
    double scale = 0.0;
    for (size_t i = 0; i < nl; i++)
        scale = fmax(scale, fabs((double)before[i]));
    assert_true(max_abs_diff(before, after, nl) <= 1e-6 * scale);

    /* The default (γ back to its initial draw, β to 0) does change them: the check can fail. */
    memcpy(m->values, saved, m->total * sizeof(float));
    memcpy(m->running_stats, saved_run, m->running_total * sizeof(float));
    reinit_filters(m, 9, 1, which, &reinit_defaults, NULL);
    float *initial = logits(&r, n);
    assert_true(max_abs_diff(before, initial, nl) > 1e-3 * scale);
    free(which);
    free(saved);
    free(saved_run);
    free(before);
    free(after);
    free(initial);
    run_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changes_only_running_stats),
        cmocka_unit_test(test_average_of_batches),
        cmocka_unit_test(test_zero_keeps_the_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
