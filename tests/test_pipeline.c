/* The staged pipeline without training: the schedule built from [pipeline], the nested trainable
 * sets of successive stages (random and reinit_first), the re-initialization of disabled filters,
 * and the revival statistics of stats.c. Runs are filled by hand (no data set): the pieces under
 * test touch only r->cfg and r->model. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pipeline.h"
#include "rng.h"
#include "stages.h"
#include "stats.h"

/* ---------------------------------------------------------------- helpers */

/* The smallest ResNet: depth 8 (one block per segment), 8×8 single-channel images, 4 classes.
 * Units: stem(16) seg1.conv1(16) seg1.conv2(16) seg2.conv1(32) seg2.conv2(32) seg2.shortcut(32)
 * seg3.conv1(64) seg3.conv2(64) seg3.shortcut(64): 336 filters, 76432 conv weights. */
static void tiny_model(struct model *m, uint64_t seed)
{
    struct model_spec s = {.depth = 8, .width = 1, .in_c = 1, .in_h = 8, .in_w = 8, .classes = 4};
    struct rv_error err = {{0}};
    assert_int_equal(model_build(m, &s, 0, 1, &err), 0);
    model_init(m, seed);
}

static void fake_run(struct run *r, const char *select, bool train_output, int seed)
{
    memset(r, 0, sizeof *r);
    config_defaults(&r->cfg);
    r->cfg.pipeline = true;
    r->cfg.depth = 8;
    r->cfg.seed = seed;
    r->cfg.train_output = train_output;
    r->cfg.select = (enum select_mode)CHOICE_INDEX(select_names, select);
    assert_true((int)r->cfg.select >= 0);
    tiny_model(&r->model, (uint64_t)seed);
}

static int unit_named(const struct model *m, const char *name)
{
    for (int u = 0; u < m->nunits; u++)
        if (strcmp(m->units[u].name, name) == 0)
            return u;
    fail_msg("no unit %s", name);
    return -1;
}

static size_t fan_in_of(const struct model *m, int u)
{
    const struct param *w = &m->params[m->units[u].w];
    return w->count / (size_t)w->dims[0];
}

/* Flags filter c of the named unit in a per-filter array. */
static void flag(uint8_t *flags, const struct model *m, const char *unit, int c)
{
    int u = unit_named(m, unit);
    assert_true(c < m->units[u].channels);
    flags[stats_unit_offset(m, u) + c] = 1;
}

/* conv_flags[i] = 1 for every conv weight (offset into m->mask) that belongs to a flagged filter. */
static uint8_t *conv_weights_of(const struct model *m, const uint8_t *filters)
{
    uint8_t *in = calloc(m->total, 1);
    assert_non_null(in);
    for (int u = 0; u < m->nunits; u++) {
        const struct param *w = &m->params[m->units[u].w];
        size_t fan = fan_in_of(m, u);
        int first = stats_unit_offset(m, u);
        for (int c = 0; c < m->units[u].channels; c++)
            if (filters[first + c])
                memset(in + w->offset + (size_t)c * fan, 1, fan);
    }
    return in;
}

/* 1 for every conv weight of m. */
static uint8_t *conv_map(const struct model *m)
{
    uint8_t *all = malloc((size_t)stats_nfilters(m));
    assert_non_null(all);
    memset(all, 1, (size_t)stats_nfilters(m));
    uint8_t *map = conv_weights_of(m, all);
    free(all);
    return map;
}

static size_t conv_total(const struct model *m)
{
    return model_count(m).conv;
}

static size_t kind_on(const struct model *m, enum param_kind kind, size_t *count)
{
    size_t on = 0, n = 0;
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        if (pa->kind != kind)
            continue;
        for (size_t i = 0; i < pa->count; i++) {
            float v = m->mask[pa->offset + i];
            assert_true(v == 0.0f || v == 1.0f);
            on += v != 0.0f;
        }
        n += pa->count;
    }
    if (count)
        *count = n;
    return on;
}

static void set_list(struct config_list *l, int n, const double *v)
{
    l->n = n;
    for (int i = 0; i < n; i++)
        l->v[i] = v[i];
}

/* ---------------------------------------------------------------- schedule_build */

static void pipeline_config(struct config *c)
{
    config_defaults(c);
    c->pipeline = true;
    c->pipeline_n = 0.01;
    c->pipeline_s = 4.0;
    c->epochs = 7;
    snprintf(c->source, sizeof c->source, "test.ini");
}

static void test_schedule_from_n_and_s(void **state)
{
    (void)state;
    struct config c;
    pipeline_config(&c);
    struct schedule s;
    struct rv_error err = {{0}};
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    /* 0.01·4^k is exact in binary up to rounding of 0.01 itself (×4 only moves the exponent), so
     * the fractions compare equal to the literals. */
    const double f[] = {0.0, 0.01, 0.04, 0.16, 0.64, 1.0};
    const char *kinds[] = {"bn", "conv_fraction", "conv_fraction", "conv_fraction", "conv_fraction", "all"};
    assert_int_equal(s.n, 6);
    for (int k = 0; k < 6; k++) {
        assert_true(s.stage[k].fraction == f[k]);
        assert_string_equal(CHOICE_NAME(stage_kind_names, s.stage[k].kind), kinds[k]);
        assert_int_equal(s.stage[k].epochs, 7); /* train.epochs when pipeline.epochs is empty */
        assert_false(s.stage[k].train_output);
    }

    /* train_output applies to the partial stages only: "bn" and "all" keep their meaning. */
    c.train_output = true;
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    for (int k = 0; k < 6; k++)
        assert_int_equal(s.stage[k].train_output, k >= 1 && k <= 4);

    /* The rule is "while < 1": N = 0.25, s = 2 reaches exactly 1 and must not add a stage 1 twice. */
    c.pipeline_n = 0.25;
    c.pipeline_s = 2.0;
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    assert_int_equal(s.n, 4);
    assert_true(s.stage[1].fraction == 0.25 && s.stage[2].fraction == 0.5 && s.stage[3].fraction == 1.0);
    assert_int_equal(s.stage[3].kind, STAGE_ALL);
}

static void test_schedule_epochs(void **state)
{
    (void)state;
    struct config c;
    pipeline_config(&c);
    struct schedule s;
    struct rv_error err = {{0}};

    const double one[] = {3};
    set_list(&c.stage_epochs, 1, one);
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    for (int k = 0; k < s.n; k++)
        assert_int_equal(s.stage[k].epochs, 3);

    const double each[] = {1, 2, 3, 4, 5, 6};
    set_list(&c.stage_epochs, 6, each);
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    assert_int_equal(s.n, 6);
    for (int k = 0; k < 6; k++)
        assert_int_equal(s.stage[k].epochs, k + 1);

    const double short_list[] = {1, 2};
    set_list(&c.stage_epochs, 2, short_list);
    err.msg[0] = '\0';
    assert_int_equal(schedule_build(&s, &c, &err), -1);
    assert_non_null(strstr(err.msg, "test.ini"));
    assert_non_null(strstr(err.msg, "pipeline.epochs has 2 values"));
    assert_non_null(strstr(err.msg, "6 stages"));
}

/* pipeline.lr: the base learning rate per stage, as pipeline.epochs (empty = train.lr for every
 * stage, one value for all, or one a stage; another length names the key), and indexed over the
 * whole schedule when a branch continues (a Mixer's norm-only stages want a higher lr than its
 * all-parameters stage). */
static void test_schedule_lr(void **state)
{
    (void)state;
    struct config c;
    pipeline_config(&c);
    c.lr = 0.3;
    struct schedule s;
    struct rv_error err = {{0}};
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    for (int k = 0; k < s.n; k++)
        assert_true(s.stage[k].lr == 0.3);
    const double one[] = {0.02};
    set_list(&c.stage_lr, 1, one);
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    for (int k = 0; k < s.n; k++)
        assert_true(s.stage[k].lr == 0.02);
    const double each[] = {0.6, 0.5, 0.4, 0.3, 0.2, 0.1};
    set_list(&c.stage_lr, 6, each);
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    assert_int_equal(s.n, 6);
    for (int k = 0; k < 6; k++)
        assert_true(s.stage[k].lr == each[k]);
    struct lr_schedule l = lr_schedule_from_config(&c, s.stage[4].epochs, s.stage[4].lr);
    assert_true(l.base == 0.2);
    assert_int_equal(schedule_continue(&s, 2, &c, &err), 0); /* a branch after stage 1 */
    assert_true(s.stage[1].lr == 0.5 && s.stage[2].lr == 0.4 && s.stage[5].lr == 0.1);
    const double short_list[] = {0.1, 0.2};
    set_list(&c.stage_lr, 2, short_list);
    assert_int_equal(schedule_build(&s, &c, &err), -1);
    assert_non_null(strstr(err.msg, "test.ini"));
    assert_non_null(strstr(err.msg, "pipeline.lr has 2 values but the pipeline has 6 stages"));
    c.pipeline = false; /* a single stage runs at train.lr */
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    assert_true(s.stage[0].lr == 0.3);
}

/* One value too many is as wrong as one too few: the seventh value would be silently dropped. */
static void test_schedule_epochs_list_too_long(void **state)
{
    (void)state;
    struct config c;
    pipeline_config(&c);
    struct schedule s;
    struct rv_error err = {{0}};
    const double seven[] = {1, 2, 3, 4, 5, 6, 7};
    set_list(&c.stage_epochs, 7, seven);
    assert_int_equal(schedule_build(&s, &c, &err), -1);
    assert_non_null(strstr(err.msg, "pipeline.epochs has 7 values"));
}

static void test_schedule_explicit_list(void **state)
{
    (void)state;
    struct config c;
    pipeline_config(&c);
    c.train_output = true;
    const double f[] = {0.0, 0.1, 0.5, 1.0};
    set_list(&c.fractions, 4, f); /* overrides n and s */
    const double ep[] = {2, 4, 6, 8};
    set_list(&c.stage_epochs, 4, ep);
    struct schedule s;
    struct rv_error err = {{0}};
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    assert_int_equal(s.n, 4);
    const char *kinds[] = {"bn", "conv_fraction", "conv_fraction", "all"};
    for (int k = 0; k < 4; k++) {
        assert_true(s.stage[k].fraction == f[k]);
        assert_string_equal(CHOICE_NAME(stage_kind_names, s.stage[k].kind), kinds[k]);
        assert_int_equal(s.stage[k].epochs, 2 * (k + 1));
        assert_int_equal(s.stage[k].train_output, k == 1 || k == 2);
    }
}

static void test_schedule_too_many_stages(void **state)
{
    (void)state;
    struct config c;
    pipeline_config(&c);
    c.pipeline_n = 1e-6;
    c.pipeline_s = 1.5; /* 1e-6 · 1.5^k < 1 for k ≤ 34: more than SCHEDULE_MAX_STAGES */
    struct schedule s;
    struct rv_error err = {{0}};
    assert_int_equal(schedule_build(&s, &c, &err), -1);
    assert_non_null(strstr(err.msg, "pipeline.s"));
}

static void test_schedule_single_stage(void **state)
{
    (void)state;
    struct config c;
    pipeline_config(&c);
    c.pipeline = false;
    c.trainable = STAGE_PER_CHANNEL;
    c.conv_fraction = 0.25;
    c.epochs = 9;
    c.train_output = true; /* a [pipeline] key: no effect on a single stage */
    const double ep[] = {1, 2, 3};
    set_list(&c.stage_epochs, 3, ep);
    struct schedule s;
    struct rv_error err = {{0}};
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.stage[0].kind, STAGE_PER_CHANNEL);
    assert_true(s.stage[0].fraction == 0.0); /* the share of conv weights the stage trains */
    assert_int_equal(s.stage[0].epochs, 9);
    assert_false(s.stage[0].train_output);
    c.trainable = STAGE_CONV_FRACTION;
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    assert_true(s.stage[0].fraction == 0.25);
    c.trainable = STAGE_ALL;
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    assert_true(s.stage[0].fraction == 1.0);
}

/* One schedule module (issue 19): config_validate's verdict on the stages is the schedule's own
 * message, so the checks cannot drift apart again. */
static void test_schedule_validate_agree(void **state)
{
    (void)state;
    struct config c;
    pipeline_config(&c);
    const double short_list[] = {1, 2};
    set_list(&c.stage_epochs, 2, short_list);
    struct schedule s;
    struct rv_error a = {{0}}, b = {{0}};
    assert_int_equal(schedule_build(&s, &c, &a), -1);
    assert_int_equal(config_validate(&c, &b), -1);
    assert_string_equal(a.msg, b.msg);
    assert_string_equal(a.msg, "test.ini: pipeline.epochs has 2 values but the pipeline has 6 stages "
                               "(fractions 0, 0.01, 0.04, 0.16, 0.64, 1); give one value per stage, "
                               "or one for all");
    c.stage_epochs.n = 0;
    c.pipeline_n = 1e-6;
    c.pipeline_s = 1.5;
    assert_int_equal(schedule_build(&s, &c, &a), -1);
    assert_int_equal(config_validate(&c, &b), -1);
    assert_string_equal(a.msg, b.msg);
}

/* A branch from a stage end: the finished stages, then the config's stages after the last
 * finished fraction, with pipeline.epochs indexed over the whole schedule. */
static void test_schedule_continue(void **state)
{
    (void)state;
    struct config c;
    pipeline_config(&c);
    struct schedule s;
    struct rv_error err = {{0}};
    memset(&s, 0, sizeof s);
    s.stage[0] = (struct stage_plan){.kind = STAGE_BN, .fraction = 0.0, .epochs = 3};
    s.stage[1] = (struct stage_plan){.kind = STAGE_CONV_FRACTION, .fraction = 0.04, .epochs = 3};
    c.pipeline_s = 2.0; /* 0.04 then 0.08, 0.16, 0.32, 0.64, 1 */
    const double ep[] = {1, 2, 3, 4, 5, 6, 7};
    set_list(&c.stage_epochs, 7, ep);
    assert_int_equal(schedule_continue(&s, 2, &c, &err), 0);
    assert_int_equal(s.n, 7);
    assert_true(s.stage[2].fraction == 0.04 * 2.0 && s.stage[5].fraction == 0.04 * 2.0 * 2.0 * 2.0 * 2.0);
    assert_int_equal(s.stage[6].kind, STAGE_ALL);
    assert_int_equal(s.stage[1].epochs, 3); /* as recorded */
    assert_int_equal(s.stage[2].epochs, 3);
    assert_int_equal(s.stage[6].epochs, 7);
    const double f[] = {0.0, 0.1, 1.0};
    set_list(&c.fractions, 3, f);
    c.stage_epochs.n = 0;
    assert_int_equal(schedule_continue(&s, 2, &c, &err), 0); /* after 0.04: 0.1 and 1 */
    assert_int_equal(s.n, 4);
    assert_true(s.stage[2].fraction == 0.1 && s.stage[3].fraction == 1.0);
    c.pipeline = false; /* a single-stage run continues nothing */
    assert_int_equal(schedule_continue(&s, 2, &c, &err), 0);
    assert_int_equal(s.n, 2);
}

/* Leading zeros in pipeline.fractions are BN-only rounds (issue 20's track A: re-draw the
 * switched-off random features, train BN only again): a fresh schedule runs each of them, and a
 * branch from a BN-only stage end runs only the rounds not yet run, then the larger fractions. */
static void test_schedule_bn_rounds(void **state)
{
    (void)state;
    struct config c;
    pipeline_config(&c);
    struct rv_error err = {{0}};
    const double f[] = {0.0, 0.0, 0.0, 0.5, 1.0};
    set_list(&c.fractions, 5, f);
    assert_int_equal(config_validate(&c, &err), 0);
    struct schedule s;
    assert_int_equal(schedule_build(&s, &c, &err), 0);
    assert_int_equal(s.n, 5);
    for (int k = 0; k < 3; k++)
        assert_int_equal(s.stage[k].kind, STAGE_BN);
    assert_int_equal(s.stage[3].kind, STAGE_CONV_FRACTION);
    /* After one finished BN-only stage (a branch point): two rounds, then 0.5 and 1. */
    memset(&s, 0, sizeof s);
    s.stage[0] = (struct stage_plan){.kind = STAGE_BN, .fraction = 0.0, .epochs = 3};
    assert_int_equal(schedule_continue(&s, 1, &c, &err), 0);
    assert_int_equal(s.n, 5);
    assert_true(s.stage[1].kind == STAGE_BN && s.stage[2].kind == STAGE_BN);
    assert_true(s.stage[3].fraction == 0.5 && s.stage[4].fraction == 1.0);
    /* After all three rounds: only the larger fractions. */
    s.stage[1] = s.stage[2] = s.stage[0];
    assert_int_equal(schedule_continue(&s, 3, &c, &err), 0);
    assert_int_equal(s.n, 5);
    assert_true(s.stage[3].fraction == 0.5 && s.stage[4].fraction == 1.0);
    /* Rounds only, no larger fraction: the pipeline ends BN only. */
    const double g[] = {0.0, 0.0, 0.0};
    set_list(&c.fractions, 3, g);
    assert_int_equal(config_validate(&c, &err), 0);
    memset(&s, 0, sizeof s);
    s.stage[0] = (struct stage_plan){.kind = STAGE_BN, .fraction = 0.0, .epochs = 3};
    assert_int_equal(schedule_continue(&s, 1, &c, &err), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.stage[2].kind, STAGE_BN);
    /* A zero after a larger fraction is still refused. */
    const double h[] = {0.0, 0.5, 0.0};
    set_list(&c.fractions, 3, h);
    assert_int_equal(config_validate(&c, &err), -1);
    assert_string_equal(err.msg, "pipeline.fractions must increase strictly, but 0 follows 0.5; list "
                                 "them in order, once each");
}

/* A stage kind read back from a checkpoint is parsed where it is read: an unknown one is an
 * error naming it (issue 11 item 1: it reached stage_find, whose NULL crashed resume). */
static void test_schedule_for_run_refuses_unknown_kind(void **state)
{
    (void)state;
    const char *const bad[] = {"bogus", "", "BN"};
    for (int i = 0; i < 3; i++) {
        struct run r;
        fake_run(&r, "random", false, 1);
        r.stage = 0;
        r.nrecords = 1;
        snprintf(r.records[0].kind, sizeof r.records[0].kind, "%s", bad[i]);
        struct schedule s;
        struct rv_error err = {{0}};
        assert_int_equal(schedule_for_run(&s, &r, &err), -1);
        char want[64];
        snprintf(want, sizeof want, "has kind '%s', which is not a stage kind", bad[i]);
        assert_non_null(strstr(err.msg, want));
        model_free(&r.model);
    }
}

/* ---------------------------------------------------------------- nested trainable sets */

/* Checks stage k's mask against the previous stage's conv choice `prev` (a copy of m->mask). */
static void check_stage_mask(struct run *r, const struct schedule *s, int k, size_t got,
                             const float *prev)
{
    const struct model *m = &r->model;
    const struct stage_plan *plan = &s->stage[k];
    size_t nconv = 0, ngamma = 0, nbeta = 0, nw = 0, nb = 0;
    size_t conv_on = kind_on(m, PARAM_CONV, &nconv);
    assert_int_equal(conv_on, (size_t)llround(plan->fraction * (double)conv_total(m)));
    size_t gamma_on = kind_on(m, PARAM_GAMMA, &ngamma), beta_on = kind_on(m, PARAM_BETA, &nbeta);
    size_t w_on = kind_on(m, PARAM_OUTPUT_W, &nw), b_on = kind_on(m, PARAM_OUTPUT_B, &nb);
    assert_int_equal(gamma_on, ngamma);
    assert_int_equal(beta_on, nbeta);
    assert_int_equal(w_on, plan->train_output ? nw : 0);
    assert_int_equal(b_on, plan->train_output ? nb : 0);
    assert_int_equal(got, conv_on + ngamma + nbeta + (plan->train_output ? nw + nb : 0));
    assert_int_equal(got, model_trainable(m));
    /* model_mask_changed was called: the per-parameter counts agree with the mask. */
    for (int p = 0; p < m->nparams; p++) {
        size_t n = 0;
        for (size_t i = 0; i < m->params[p].count; i++)
            n += m->mask[m->params[p].offset + i] != 0.0f;
        assert_int_equal(m->params[p].trainable, n);
    }
    if (prev) {
        uint8_t *conv = conv_map(m);
        for (size_t i = 0; i < m->total; i++)
            if (prev[i] != 0.0f && conv[i])
                assert_true(m->mask[i] != 0.0f);
        free(conv);
    }
}

static void test_nested_random(void **state)
{
    (void)state;
    struct run r;
    fake_run(&r, "random", true, 5);
    struct schedule s;
    struct rv_error err = {{0}};
    assert_int_equal(schedule_build(&s, &r.cfg, &err), 0);
    assert_int_equal(s.n, 6);
    struct model ref;
    tiny_model(&ref, 5);
    size_t bytes = r.model.total * sizeof(float);
    float *prev = malloc(bytes);
    assert_non_null(prev);
    /* Flags are ignored with select = random. */
    uint8_t *flags = calloc((size_t)stats_nfilters(&r.model), 1);
    flag(flags, &r.model, "seg3.block0.conv2", 3);

    size_t got = pipeline_set_trainable(&r, &s, 0, NULL);
    assert_int_equal(got, model_count(&r.model).bn);
    for (int k = 1; k <= 4; k++) {
        memcpy(prev, r.model.mask, bytes);
        got = pipeline_set_trainable(&r, &s, k, flags);
        check_stage_mask(&r, &s, k, got, k > 1 ? prev : NULL);
        /* The grown set is exactly the fresh random choice of that fraction. */
        mask_conv_fraction(&ref, 5, s.stage[k].fraction);
        for (int p = 0; p < ref.nparams; p++)
            if (ref.params[p].kind == PARAM_CONV)
                assert_memory_equal(r.model.mask + ref.params[p].offset,
                                    ref.mask + ref.params[p].offset,
                                    ref.params[p].count * sizeof(float));
    }
    got = pipeline_set_trainable(&r, &s, 5, NULL);
    assert_int_equal(got, r.model.total);
    free(flags);
    free(prev);
    model_free(&ref);
    run_close(&r);
}

static void test_nested_reinit_first(void **state)
{
    (void)state;
    struct run r;
    fake_run(&r, "reinit_first", false, 9);
    struct schedule s;
    struct rv_error err = {{0}};
    assert_int_equal(schedule_build(&s, &r.cfg, &err), 0);
    const struct model *m = &r.model;
    int nf = stats_nfilters(m);
    assert_int_equal(nf, 336);
    assert_int_equal(conv_total(m), 76432);

    /* One flag set per transition; chosen so that the flagged rows hold fewer weights than the
     * stage adds at k = 1, 3 (all of them must be taken) and more at k = 2, 4 (only they may be). */
    uint8_t *flags[5];
    for (int k = 1; k <= 4; k++)
        flags[k] = calloc((size_t)nf, 1);
    flag(flags[1], m, "seg3.block0.conv2", 0);          /* 576 weights; stage 1 adds 764 */
    for (int c = 10; c < 18; c++)
        flag(flags[2], m, "seg3.block0.conv2", c);      /* 4608; stage 2 adds 2293 */
    flag(flags[3], m, "stem", 3);                        /* 9 */
    flag(flags[3], m, "seg2.block0.shortcut", 5);        /* 16 */
    flag(flags[3], m, "seg1.block0.conv2", 15);          /* 144; stage 3 adds 9172 */
    for (int c = 0; c < 64; c++) {                       /* 55296, stage 4 adds 36687 */
        flag(flags[4], m, "seg3.block0.conv1", c);
        flag(flags[4], m, "seg3.block0.conv2", c);
    }
    const bool expect_all_in[5] = {false, true, false, true, false};

    size_t bytes = m->total * sizeof(float);
    float *prev = malloc(bytes);
    assert_non_null(prev);
    uint8_t *conv = conv_map(m);
    pipeline_set_trainable(&r, &s, 0, NULL);
    for (int k = 1; k <= 4; k++) {
        memcpy(prev, m->mask, bytes);
        size_t got = pipeline_set_trainable(&r, &s, k, flags[k]);
        check_stage_mask(&r, &s, k, got, k > 1 ? prev : NULL);
        uint8_t *in_rows = conv_weights_of(m, flags[k]);
        size_t avail = 0, added = 0, added_in_rows = 0, rows_now = 0;
        for (size_t i = 0; i < m->total; i++) {
            bool was = k > 1 && prev[i] != 0.0f && conv[i];
            bool now = m->mask[i] != 0.0f && conv[i];
            if (in_rows[i] && !was)
                avail++;
            if (now && !was) {
                added++;
                added_in_rows += in_rows[i];
            }
            if (in_rows[i] && now)
                rows_now++;
        }
        assert_int_equal(added, (size_t)llround(s.stage[k].fraction * 76432.0) -
                                    (k > 1 ? (size_t)llround(s.stage[k - 1].fraction * 76432.0) : 0));
        assert_int_equal(added >= avail, expect_all_in[k]);
        if (added >= avail) {
            size_t rows = 0;
            for (size_t i = 0; i < m->total; i++)
                rows += in_rows[i];
            assert_int_equal(rows_now, rows);         /* every weight of the flagged rows */
            assert_int_equal(added_in_rows, avail);
        } else {
            assert_int_equal(added_in_rows, added);   /* nothing outside them */
        }
        free(in_rows);
    }
    for (int k = 1; k <= 4; k++)
        free(flags[k]);
    free(conv);
    free(prev);
    run_close(&r);
}

/* ---------------------------------------------------------------- reinit_filters */

/* Every value, momentum and running statistic set to something model_init would never give. */
static void scramble(struct model *m)
{
    uint64_t st = rng_stream(RNG_TEST, 41, 0, 0);
    for (size_t i = 0; i < m->total; i++) {
        m->values[i] = 3.0f + rng_uniform(7, st, i);
        m->momentum[i] = -1.0f - rng_uniform(7, st, m->total + i);
        m->grads[i] = rng_uniform(7, st, 2 * m->total + i);
    }
    for (size_t i = 0; i < m->running_total; i++)
        m->running_stats[i] = 5.0f + rng_uniform(7, st, 3 * m->total + i);
}

static void copy_state(struct model *dst, const struct model *src)
{
    size_t fb = src->total * sizeof(float);
    memcpy(dst->values, src->values, fb);
    memcpy(dst->momentum, src->momentum, fb);
    memcpy(dst->grads, src->grads, fb);
    memcpy(dst->mask, src->mask, fb);
    memcpy(dst->running_stats, src->running_stats, src->running_total * sizeof(float));
}

static void assert_same_state(const struct model *a, const struct model *b)
{
    size_t fb = a->total * sizeof(float);
    assert_memory_equal(a->values, b->values, fb);
    assert_memory_equal(a->momentum, b->momentum, fb);
    assert_memory_equal(a->grads, b->grads, fb);
    assert_memory_equal(a->mask, b->mask, fb);
    assert_memory_equal(a->running_stats, b->running_stats, a->running_total * sizeof(float));
}

static void test_reinit_filters(void **state)
{
    (void)state;
    const uint64_t seed = 11;
    const int stage = 2;
    struct model m, want, again, other, orig;
    tiny_model(&m, seed);
    scramble(&m);
    tiny_model(&orig, seed);
    copy_state(&orig, &m);
    int nf = stats_nfilters(&m);
    uint8_t *which = calloc((size_t)nf, 1);
    flag(which, &m, "stem", 0);
    flag(which, &m, "seg1.block0.conv1", 7);
    flag(which, &m, "seg2.block0.shortcut", 31);
    flag(which, &m, "seg3.block0.conv2", 40);
    flag(which, &m, "seg3.block0.shortcut", 63); /* the very last filter */

    tiny_model(&want, seed);
    tiny_model(&again, seed);
    tiny_model(&other, seed);
    copy_state(&want, &m);
    copy_state(&again, &m);
    copy_state(&other, &m);
    float *values = want.values, *momentum = want.momentum, *running = want.running_stats;

    assert_int_equal(reinit_filters(&m, seed, stage, which, &reinit_defaults, NULL), 5);

    /* Expected: the old blocks with exactly the flagged filters' entries replaced. */
    for (int u = 0; u < m.nunits; u++) {
        const struct unit *un = &m.units[u];
        const struct param *w = &m.params[un->w];
        size_t fan = fan_in_of(&m, u);
        int first = stats_unit_offset(&m, u), C = un->channels;
        float std = (float)sqrt(2.0 / (double)fan);
        for (int c = 0; c < C; c++) {
            if (!which[first + c])
                continue;
            size_t row = w->offset + (size_t)c * fan;
            uint64_t st = rng_stream(RNG_REINIT, (uint64_t)stage, (uint64_t)un->w, (uint64_t)c);
            for (size_t i = 0; i < fan; i++) {
                values[row + i] = rng_normal(seed, st, i) * std;
                momentum[row + i] = 0.0f;
            }
            size_t g = m.params[un->gamma].offset + (size_t)c, b = m.params[un->beta].offset + (size_t)c;
            values[g] = model_init_value(&m, seed, un->gamma, (size_t)c);
            assert_true(values[g] >= 0.0f && values[g] < 1.0f); /* γ ~ U[0, 1) */
            values[b] = 0.0f;
            momentum[g] = momentum[b] = 0.0f;
            running[un->running + (size_t)c] = 0.0f;
            running[un->running + (size_t)C + (size_t)c] = 1.0f;
        }
    }
    assert_same_state(&m, &want);

    /* Same (seed, stage) on a copy: the same bits. */
    assert_int_equal(reinit_filters(&again, seed, stage, which, &reinit_defaults, NULL), 5);
    assert_same_state(&again, &m);

    /* Another stage: fresh conv rows (every weight differs), the same γ and β. */
    assert_int_equal(reinit_filters(&other, seed, stage + 1, which, &reinit_defaults, NULL), 5);
    for (int u = 0; u < m.nunits; u++) {
        const struct unit *un = &m.units[u];
        size_t fan = fan_in_of(&m, u);
        int first = stats_unit_offset(&m, u);
        for (int c = 0; c < un->channels; c++) {
            if (!which[first + c])
                continue;
            size_t row = m.params[un->w].offset + (size_t)c * fan;
            for (size_t i = 0; i < fan; i++)
                assert_true(other.values[row + i] != m.values[row + i]);
            size_t g = m.params[un->gamma].offset + (size_t)c;
            assert_true(other.values[g] == m.values[g]);
        }
    }

    /* pipeline.reinit_gamma = fresh: a flagged filter's γ is a new draw in [0, 1), different from
     * its initial value and the same on every call; nothing else moves. */
    struct reinit_options fresh = reinit_defaults;
    fresh.gamma = REINIT_GAMMA_FRESH;
    copy_state(&want, &orig);
    copy_state(&other, &orig);
    assert_int_equal(reinit_filters(&want, seed, stage + 1, which, &reinit_defaults, NULL), 5);
    assert_int_equal(reinit_filters(&other, seed, stage + 1, which, &fresh, NULL), 5);
    for (int u = 0; u < m.nunits; u++) {
        const struct unit *un = &m.units[u];
        int first = stats_unit_offset(&m, u);
        for (int c = 0; c < un->channels; c++) {
            size_t g = m.params[un->gamma].offset + (size_t)c;
            if (which[first + c]) {
                assert_true(other.values[g] != want.values[g]);
                assert_true(other.values[g] >= 0.0f && other.values[g] < 1.0f);
                other.values[g] = want.values[g]; /* so the rest can be compared whole */
            }
        }
    }
    assert_same_state(&other, &want);

    /* No flags: nothing changes. */
    memset(which, 0, (size_t)nf);
    copy_state(&want, &m);
    assert_int_equal(reinit_filters(&m, seed, stage, which, &reinit_defaults, NULL), 0);
    assert_same_state(&m, &want);

    free(which);
    model_free(&m);
    model_free(&want);
    model_free(&again);
    model_free(&other);
    model_free(&orig);
}

/* The other variants against the default: each changes exactly what it says. */
static void test_reinit_variants(void **state)
{
    (void)state;
    const uint64_t seed = 5;
    const int stage = 1;
    struct model orig, base, var;
    tiny_model(&orig, seed);
    scramble(&orig);
    tiny_model(&base, seed);
    tiny_model(&var, seed);
    int nf = stats_nfilters(&orig);
    uint8_t *which = calloc((size_t)nf, 1);
    flag(which, &orig, "stem", 3);
    flag(which, &orig, "seg2.block0.conv2", 30);
    flag(which, &orig, "seg3.block0.shortcut", 0);
    copy_state(&base, &orig);
    assert_int_equal(reinit_filters(&base, seed, stage, which, &reinit_defaults, NULL), 3);

    const struct reinit_options zero = {.gamma = REINIT_GAMMA_ZERO, .beta = REINIT_BETA_KEEP, .weight_scale = 1.0},
                                value = {.gamma = REINIT_GAMMA_VALUE, .gamma_value = 0.25, .weight_scale = 1.0},
                                scaled = {.gamma = REINIT_GAMMA_INITIAL, .weight_scale = 2.0};
    const struct reinit_options *opts[3] = {&zero, &value, &scaled};
    for (int v = 0; v < 3; v++) {
        copy_state(&var, &orig);
        assert_int_equal(reinit_filters(&var, seed, stage, which, opts[v], NULL), 3);
        for (int u = 0; u < orig.nunits; u++) {
            const struct unit *un = &orig.units[u];
            size_t fan = fan_in_of(&orig, u);
            int first = stats_unit_offset(&orig, u);
            for (int c = 0; c < un->channels; c++) {
                if (!which[first + c])
                    continue;
                size_t row = orig.params[un->w].offset + (size_t)c * fan;
                size_t g = orig.params[un->gamma].offset + (size_t)c, b = orig.params[un->beta].offset + (size_t)c;
                float want_scale = opts[v]->weight_scale == 2.0 ? 2.0f : 1.0f;
                for (size_t i = 0; i < fan; i++) {
                    assert_true(var.values[row + i] == want_scale * base.values[row + i]); /* ×2 is exact */
                    var.values[row + i] = base.values[row + i];
                }
                float want_g = v == 0 ? 0.0f : v == 1 ? 0.25f : base.values[g];
                assert_true(var.values[g] == want_g);
                var.values[g] = base.values[g];
                /* keep: the trained β (scrambled, ≥ 3), not the initial 0 */
                assert_true(var.values[b] == (v == 0 ? orig.values[b] : 0.0f));
                assert_true(orig.values[b] >= 3.0f);
                var.values[b] = base.values[b];
            }
        }
        assert_same_state(&var, &base);
    }
    free(which);
    model_free(&orig);
    model_free(&base);
    model_free(&var);
}

/* Channel Regeneration (reinit_gamma = median, weights and β kept): conv weights, β and running
 * statistics untouched; γ = the unit's median |γ| before the transition, with the old sign. */
static void test_reinit_median_keep(void **state)
{
    (void)state;
    const uint64_t seed = 5;
    struct model orig, var;
    tiny_model(&orig, seed);
    scramble(&orig);
    tiny_model(&var, seed);
    int u = unit_named(&orig, "seg1.block0.conv2"), C = orig.units[u].channels; /* 16 filters */
    float *g = orig.values + orig.params[orig.units[u].gamma].offset;
    /* |γ| = 0.1 · (c + 1), sorted 0.1 … 1.6: median (0.8 + 0.9) / 2, with a few γ negative. */
    for (int c = 0; c < C; c++)
        g[c] = (float)((c % 3 == 1 ? -0.1 : 0.1) * (c + 1));
    g[0] = -0.0f; /* no sign: +median */
    int nf = stats_nfilters(&orig);
    uint8_t *which = calloc((size_t)nf, 1);
    flag(which, &orig, "seg1.block0.conv2", 0);
    flag(which, &orig, "seg1.block0.conv2", 4);  /* γ = −0.5 */
    flag(which, &orig, "seg1.block0.conv2", 15); /* the largest |γ|: raised is lowered, too */
    flag(which, &orig, "stem", 2);
    float stem_med;
    {
        const float *sg = orig.values + orig.params[orig.units[0].gamma].offset;
        float a[16];
        for (int c = 0; c < 16; c++)
            a[c] = fabsf(sg[c]);
        for (int i = 0; i < 16; i++) /* insertion sort */
            for (int j = i; j > 0 && a[j - 1] > a[j]; j--) {
                float t = a[j]; a[j] = a[j - 1]; a[j - 1] = t;
            }
        stem_med = (float)(0.5 * ((double)a[7] + (double)a[8]));
    }
    copy_state(&var, &orig);
    const struct reinit_options cr = {.gamma = REINIT_GAMMA_MEDIAN, .beta = REINIT_BETA_KEEP,
                                      .weights = REINIT_WEIGHTS_KEEP, .weight_scale = 1.0};
    assert_int_equal(reinit_filters(&var, seed, 1, which, &cr, NULL), 4);
    /* every filter of the unit counts, at the transition: sorted |γ| 0, 0.2, 0.3, …, 1.6, the
     * middle two 0.8 and 0.9 */
    const float med = (float)(0.5 * ((double)0.8f + (double)0.9f));
    float *vg = var.values + var.params[var.units[u].gamma].offset;
    assert_true(vg[0] == med);
    assert_true(vg[4] == -med);
    assert_true(vg[15] == med);
    assert_true(var.values[var.params[var.units[0].gamma].offset + 2] ==
                (orig.values[orig.params[orig.units[0].gamma].offset + 2] < 0 ? -stem_med : stem_med));
    /* everything else as it was but momentum of the flagged filters (cleared) */
    vg[0] = g[0];
    vg[4] = g[4];
    vg[15] = g[15];
    var.values[var.params[var.units[0].gamma].offset + 2] = orig.values[orig.params[orig.units[0].gamma].offset + 2];
    assert_memory_equal(var.values, orig.values, orig.total * sizeof(float));
    assert_memory_equal(var.running_stats, orig.running_stats, orig.running_total * sizeof(float));
    const struct unit *un = &orig.units[u];
    size_t row = orig.params[un->w].offset + 15 * fan_in_of(&orig, u);
    assert_true(var.momentum[row] == 0.0f && orig.momentum[row] != 0.0f);

    /* median with fresh weights: the weights are the default's fresh draw, bit for bit */
    struct model base;
    tiny_model(&base, seed);
    copy_state(&base, &orig);
    copy_state(&var, &orig);
    assert_int_equal(reinit_filters(&base, seed, 1, which, &reinit_defaults, NULL), 4);
    const struct reinit_options mf = {.gamma = REINIT_GAMMA_MEDIAN, .weights = REINIT_WEIGHTS_FRESH,
                                      .weight_scale = 1.0};
    assert_int_equal(reinit_filters(&var, seed, 1, which, &mf, NULL), 4);
    assert_memory_equal(var.values + var.params[un->w].offset, base.values + base.params[un->w].offset,
                        var.params[un->w].count * sizeof(float));
    assert_memory_equal(var.running_stats, base.running_stats, base.running_total * sizeof(float));
    assert_true(var.values[var.params[un->gamma].offset + 4] == -med);
    free(which);
    model_free(&orig);
    model_free(&var);
    model_free(&base);
}

static double row_dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* reinit_weights = orthogonal (RePr): a new row is orthogonal to every live row of its unit, has
 * the norm of the fresh draw it came from, depends only on (seed, stage, filter) and the live
 * rows, and where the live rows span the whole input (the stem: 9 weights, 15 live filters) it
 * is the fresh draw itself, counted. */
static void test_reinit_orthogonal(void **state)
{
    (void)state;
    const uint64_t seed = 3;
    const int stage = 2;
    struct model orig, base, var, again;
    tiny_model(&orig, seed);
    tiny_model(&base, seed);
    tiny_model(&var, seed);
    tiny_model(&again, seed);
    int nf = stats_nfilters(&orig);
    uint8_t *which = calloc((size_t)nf, 1);
    flag(which, &orig, "stem", 5);
    flag(which, &orig, "seg1.block0.conv1", 2);
    flag(which, &orig, "seg1.block0.conv1", 9);
    flag(which, &orig, "seg3.block0.conv2", 63);
    flag(which, &orig, "seg3.block0.shortcut", 7); /* 32 inputs, 63 live filters: spanned */
    copy_state(&base, &orig);
    assert_int_equal(reinit_filters(&base, seed, stage, which, &reinit_defaults, NULL), 5);
    const struct reinit_options o = {.weights = REINIT_WEIGHTS_ORTHOGONAL, .weight_scale = 1.0};
    copy_state(&var, &orig);
    int spanned = -1;
    assert_int_equal(reinit_filters(&var, seed, stage, which, &o, &spanned), 5);
    assert_int_equal(spanned, 2);
    int changed = 0;
    for (int u = 0; u < orig.nunits; u++) {
        const struct unit *un = &orig.units[u];
        size_t n = fan_in_of(&orig, u), w = orig.params[un->w].offset;
        int first = stats_unit_offset(&orig, u), C = un->channels;
        bool spans = (size_t)(C - 1) >= n; /* one flagged filter a unit here */
        for (int c = 0; c < C; c++) {
            if (!which[first + c])
                continue;
            const float *nw = var.values + w + (size_t)c * n, *fresh = base.values + w + (size_t)c * n;
            if (spans) {
                assert_memory_equal(nw, fresh, n * sizeof(float));
                continue;
            }
            changed++;
            double norm = sqrt(row_dot(nw, nw, n)), fnorm = sqrt(row_dot(fresh, fresh, n));
            assert_true(fabs(norm - fnorm) < 1e-5 * fnorm);
            /* not just the fresh draw: it had a component along the live rows */
            assert_true(fabs(row_dot(nw, fresh, n)) < 0.9999 * norm * fnorm);
            for (int l = 0; l < C; l++) {
                if (which[first + l])
                    continue;
                const float *live = var.values + w + (size_t)l * n;
                double cosine = row_dot(nw, live, n) / (norm * sqrt(row_dot(live, live, n)));
                assert_true(fabs(cosine) < 1e-5);
            }
        }
    }
    assert_int_equal(changed, 3);
    /* γ, β, running statistics, momentum and every other weight: as the fresh variant */
    for (int u = 0; u < orig.nunits; u++) {
        const struct param *w = &orig.params[orig.units[u].w];
        memcpy(var.values + w->offset, base.values + w->offset, w->count * sizeof(float));
    }
    assert_same_state(&var, &base);

    /* The flagged filters' old weights do not matter, the live ones do; and the same again */
    copy_state(&again, &orig);
    int u1 = unit_named(&orig, "seg1.block0.conv1");
    size_t n1 = fan_in_of(&orig, u1), w1 = orig.params[orig.units[u1].w].offset;
    for (size_t i = 0; i < n1; i++)
        again.values[w1 + 9 * n1 + i] = 7.0f; /* flagged filter 9's old row */
    copy_state(&var, &orig);
    assert_int_equal(reinit_filters(&var, seed, stage, which, &o, NULL), 5);
    assert_int_equal(reinit_filters(&again, seed, stage, which, &o, NULL), 5);
    assert_memory_equal(again.values, var.values, orig.total * sizeof(float));
    copy_state(&again, &orig);
    again.values[w1 + 0 * n1 + 3] += 0.5f; /* a live row */
    assert_int_equal(reinit_filters(&again, seed, stage, which, &o, NULL), 5);
    assert_memory_not_equal(again.values + w1 + 2 * n1, var.values + w1 + 2 * n1, n1 * sizeof(float));
    free(which);
    model_free(&orig);
    model_free(&base);
    model_free(&var);
    model_free(&again);
}

/* The enum name tables of stages/reinit.c hold exactly the choices of the config keys, in order:
 * the config's error message lists the choices. */
static void test_reinit_names_match_config(void **state)
{
    (void)state;
    struct config c;
    struct rv_error err;
    config_defaults(&c);
    const struct { const char *key; const char *const *names; int n; } keys[] = {
        {"pipeline.reinit_gamma", reinit_gamma_names, REINIT_GAMMA_COUNT},
        {"pipeline.reinit_beta", reinit_beta_names, REINIT_BETA_COUNT},
        {"pipeline.reinit_weights", reinit_weights_names, REINIT_WEIGHTS_COUNT},
        {"pipeline.threshold_mode", threshold_mode_names, THRESHOLD_MODE_COUNT},
    };
    for (int k = 0; k < 4; k++) {
        char set[128], joined[128] = "";
        for (int i = 0; i < keys[k].n; i++) {
            snprintf(set, sizeof set, "%s=%s", keys[k].key, keys[k].names[i]);
            assert_int_equal(config_set(&c, set, &err), 0);
            strcat(joined, i ? "|" : "");
            strcat(joined, keys[k].names[i]);
        }
        snprintf(set, sizeof set, "%s=nonesuch", keys[k].key);
        assert_int_equal(config_set(&c, set, &err), -1);
        const char *tail = strstr(err.msg, "is not one of ");
        assert_non_null(tail);
        assert_string_equal(tail + strlen("is not one of "), joined);
    }
    /* the config holds the enum itself */
    assert_int_equal(config_set(&c, "pipeline.reinit_gamma=zero", &err), 0);
    assert_int_equal(c.reinit_gamma, REINIT_GAMMA_ZERO);
    assert_int_equal(config_set(&c, "pipeline.reinit_beta=keep", &err), 0);
    assert_int_equal(c.reinit_beta, REINIT_BETA_KEEP);
    assert_int_equal(config_set(&c, "pipeline.reinit_gamma=half", &err), -1);
    assert_string_equal(err.msg, "--set pipeline.reinit_gamma=half: pipeline.reinit_gamma = 'half' is not one of initial|fresh|zero|value|median");
}

/* ---------------------------------------------------------------- stats */

static struct stats_threshold absolute(double tau)
{
    return (struct stats_threshold){.tau = tau, .mode = THRESHOLD_ABSOLUTE};
}

static void set_gamma(struct model *m, int unit, int c, float v)
{
    m->values[m->params[m->units[unit].gamma].offset + (size_t)c] = v;
}

static void test_stats_by_hand(void **state)
{
    (void)state;
    struct model m;
    tiny_model(&m, 1);
    const double tau = 0.01;
    int nf = stats_nfilters(&m);
    assert_int_equal(nf, 336);
    assert_int_equal(stats_unit_offset(&m, 0), 0);
    assert_int_equal(stats_unit_offset(&m, 3), 48);
    assert_int_equal(stats_unit_offset(&m, m.nunits), nf);
    for (int u = 0; u < m.nunits; u++)
        for (int c = 0; c < m.units[u].channels; c++)
            set_gamma(&m, u, c, 1.0f);
    uint8_t *prev = calloc((size_t)nf, 1);

    /* Unit 0 (stem), filter by filter:  γ          prev  → disabled reinit revived died newly */
    set_gamma(&m, 0, 0, 0.0f);        prev[0] = 1; /* 1 1 0 1 0 */
    set_gamma(&m, 0, 1, 0.005f);      prev[1] = 0; /* 1 0 0 0 1 */
    set_gamma(&m, 0, 2, -0.005f);     prev[2] = 1; /* 1 1 0 1 0: |γ| counts, not γ */
    set_gamma(&m, 0, 3, -0.5f);       prev[3] = 1; /* 0 1 1 0 0 */
    set_gamma(&m, 0, 4, 0.01f);       prev[4] = 0; /* 1 0 0 0 1: float(0.01) < τ, see below */
    set_gamma(&m, 0, 5, 0.5f);        prev[5] = 1; /* 0 1 1 0 0 */
    set_gamma(&m, 0, 6, 1e-3f);       prev[6] = 0; /* 1 0 0 0 1 */
    set_gamma(&m, 0, 7, -0.02f);      prev[7] = 0; /* 0 0 0 0 0 */
    /* Unit 5 (seg2.block0.shortcut, 32 filters): its first and last filter. */
    assert_string_equal(m.units[5].name, "seg2.block0.shortcut");
    int o5 = stats_unit_offset(&m, 5);
    assert_int_equal(o5, 16 * 3 + 32 * 2);
    set_gamma(&m, 5, 0, 0.0f);        prev[o5] = 0;      /* newly disabled */
    set_gamma(&m, 5, 31, -1e-4f);     prev[o5 + 31] = 1; /* died again */
    prev[o5 + 10] = 1;                                   /* γ = 1: revived */
    /* The last filter of the model. */
    set_gamma(&m, m.nunits - 1, 63, 2e-3f);
    prev[nf - 1] = 1;                                    /* died again */

    /* float(0.01) = 0.0099999997764825820922851562 < 0.01: disabled. A γ exactly at τ in float
     * is what a user sees in their checkpoint, so that is what must count. */
    int f4_disabled = (double)0.01f < tau;
    assert_int_equal(f4_disabled, 1);

    struct stage_record rec;
    stats_record(&rec, &m, 2, absolute(tau), prev);
    assert_int_equal(rec.stage, 2);
    assert_true(rec.threshold == tau);
    assert_int_equal(rec.nfilters, nf);
    const uint8_t want_dis[8] = {1, 1, 1, 0, 1, 0, 1, 0};
    for (int c = 0; c < 8; c++) {
        assert_int_equal(rec.disabled[c], want_dis[c]);
        assert_int_equal(rec.reinit[c], prev[c]);
    }
    for (int f = 0; f < nf; f++) {
        int u = 0;
        while (u + 1 < m.nunits && stats_unit_offset(&m, u + 1) <= f)
            u++;
        int c = f - stats_unit_offset(&m, u);
        float g = m.values[m.params[m.units[u].gamma].offset + (size_t)c];
        assert_memory_equal(&rec.gamma[f], &g, sizeof g);
    }

    struct filter_counts c0 = stats_count(&rec, 0, m.units[0].channels);
    assert_int_equal(c0.filters, 16);
    assert_int_equal(c0.disabled, 5);       /* f0 f1 f2 f4 f6 */
    assert_int_equal(c0.reinit, 4);         /* f0 f2 f3 f5 */
    assert_int_equal(c0.revived, 2);        /* f3 f5 */
    assert_int_equal(c0.died_again, 2);     /* f0 f2 */
    assert_int_equal(c0.newly_disabled, 3); /* f1 f4 f6 */

    struct filter_counts c5 = stats_count(&rec, o5, m.units[5].channels);
    assert_int_equal(c5.filters, 32);
    assert_int_equal(c5.disabled, 2);
    assert_int_equal(c5.reinit, 2);
    assert_int_equal(c5.revived, 1);
    assert_int_equal(c5.died_again, 1);
    assert_int_equal(c5.newly_disabled, 1);

    struct filter_counts all = stats_count(&rec, 0, nf);
    assert_int_equal(all.filters, 336);
    assert_int_equal(all.disabled, 8);
    assert_int_equal(all.reinit, 7);
    assert_int_equal(all.revived, 3);
    assert_int_equal(all.died_again, 4);
    assert_int_equal(all.newly_disabled, 4);
    stats_free(&rec);
    assert_null(rec.gamma);

    /* The first stage: nothing was re-initialized. */
    stats_record(&rec, &m, 0, absolute(tau), NULL);
    all = stats_count(&rec, 0, nf);
    assert_int_equal(all.disabled, 8);
    assert_int_equal(all.reinit, 0);
    assert_int_equal(all.revived, 0);
    assert_int_equal(all.died_again, 0);
    assert_int_equal(all.newly_disabled, 8);
    stats_free(&rec);
    free(prev);
    model_free(&m);
}

/* pipeline.threshold_mode = relative: disabled means |γ| < τ · (the unit's largest |γ|), in the
 * flags of a stage record, the transition flags from a record, the per-epoch share and the
 * clamp alike; absolute is the old rule. */
static void test_stats_relative(void **state)
{
    (void)state;
    struct model m;
    tiny_model(&m, 1);
    int nf = stats_nfilters(&m);
    for (int u = 0; u < m.nunits; u++)
        for (int c = 0; c < m.units[u].channels; c++)
            set_gamma(&m, u, c, 1.0f);
    /* stem: largest |γ| 40 (negative), so the cut is 0.4 at τ = 0.01 */
    set_gamma(&m, 0, 0, -40.0f);
    set_gamma(&m, 0, 1, 0.3f);   /* relative: disabled; absolute: not */
    set_gamma(&m, 0, 2, -0.39f); /* relative: disabled */
    set_gamma(&m, 0, 3, 0.5f);   /* neither */
    set_gamma(&m, 0, 4, 0.005f); /* both */
    /* unit 1: largest 0.1, cut 0.001 */
    for (int c = 0; c < 16; c++)
        set_gamma(&m, 1, c, 0.1f);
    set_gamma(&m, 1, 3, 0.005f);  /* absolute: disabled; relative: not */
    set_gamma(&m, 1, 4, 0.0005f); /* both */
    /* unit 2: every γ 0: no scale, nothing disabled relative to it */
    for (int c = 0; c < 16; c++)
        set_gamma(&m, 2, c, 0.0f);
    const struct stats_threshold rel = {.tau = 0.01, .mode = THRESHOLD_RELATIVE};
    uint8_t *want = calloc((size_t)nf, 1), *got = calloc((size_t)nf, 1);
    want[1] = want[2] = want[4] = 1;
    want[16 + 4] = 1;
    assert_int_equal(stats_model_disabled(got, &m, rel), 4);
    assert_memory_equal(got, want, (size_t)nf);
    assert_int_equal(stats_model_disabled(got, &m, absolute(0.01)), 3 + 16);
    assert_true(got[4] && got[16 + 3] && got[16 + 4] && got[32] && !got[1] && !got[2]);

    struct stage_record rec;
    stats_record(&rec, &m, 1, rel, NULL);
    assert_memory_equal(rec.disabled, want, (size_t)nf);
    assert_true(rec.threshold == 0.01);
    memset(got, 9, (size_t)nf);
    stats_record_disabled(got, &rec, &m, rel); /* from the record's γ, not the model's */
    set_gamma(&m, 0, 1, 5.0f);
    assert_memory_equal(got, want, (size_t)nf);
    stats_record_disabled(got, &rec, &m, absolute(0.01));
    assert_true(got[16 + 3] && !got[1]);
    set_gamma(&m, 0, 1, 0.3f);

    double below, q[STATS_GAMMA_NQ];
    stats_gamma_summary(&m, rel, &below, q);
    assert_true(below == 4.0 / nf);
    stats_gamma_summary(&m, absolute(0.01), &below, q);
    assert_true(below == 19.0 / nf);

    assert_int_equal(gamma_clamp(&m, rel), 4);
    const float *g0 = m.values + m.params[m.units[0].gamma].offset;
    assert_true(g0[0] == -40.0f && g0[1] == 0.0f && g0[2] == 0.0f && g0[3] == 0.5f && g0[4] == 0.0f);
    assert_true(m.values[m.params[m.units[1].gamma].offset + 3] == 0.005f);

    char text[48];
    stats_threshold_text(text, sizeof text, rel);
    assert_string_equal(text, "0.01·max");
    stats_threshold_text(text, sizeof text, absolute(0.01));
    assert_string_equal(text, "0.01");
    stats_free(&rec);
    free(want);
    free(got);
    model_free(&m);
}

static void test_stats_histogram(void **state)
{
    (void)state;
    struct model m;
    tiny_model(&m, 1);
    /* Edges −6, −5.5, …, 0.5 and then +∞: bin 0 is log10|γ| ≤ −6, bin 14 is > 0.5. */
    assert_true(stats_hist_edge(0) == -6.0);
    assert_true(stats_hist_edge(6) == -3.0);
    assert_true(stats_hist_edge(STATS_HIST_BINS - 2) == 0.5);
    assert_true(isinf(stats_hist_edge(STATS_HIST_BINS - 1)));

    int u = 6; /* seg3.block0.conv1, 64 filters */
    for (int c = 0; c < 64; c++)
        set_gamma(&m, u, c, 1.0f);
    set_gamma(&m, u, 0, 0.0f);    /* log = −∞     → bin 0 */
    set_gamma(&m, u, 1, 1e-7f);   /* −7           → bin 0 */
    set_gamma(&m, u, 2, -1e-7f);  /* the sign does not matter */
    set_gamma(&m, u, 3, 1e-3f);   /* float(1e-3) = 1.00000005e-3: log just above −3 → (−3, −2.5], bin 7 */
    set_gamma(&m, u, 4, 2e-4f);   /* −3.70        → (−4, −3.5], bin 5 */
    set_gamma(&m, u, 5, -0.05f);  /* −1.30        → (−1.5, −1], bin 10 */
    set_gamma(&m, u, 6, 0.5f);    /* −0.30        → (−0.5, 0], bin 12, with the 56 γ = 1 (log 0) */
    set_gamma(&m, u, 7, 0.2f);    /* −0.70        → (−1, −0.5], bin 11 */
    set_gamma(&m, u, 8, 5.0f);    /* 0.70         → last bin (> 0.5) */
    struct stage_record rec;
    stats_record(&rec, &m, 1, absolute(0.01), NULL);
    int bins[STATS_HIST_BINS];
    int first = stats_unit_offset(&m, u);
    stats_histogram(&rec, first, 64, bins);
    const int want[STATS_HIST_BINS] = {3, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 56, 0, 1};
    assert_memory_equal(bins, want, sizeof want);
    /* Only the range asked for (the other units hold γ ~ U[0,1), spread over many bins). */
    stats_histogram(&rec, first, 3, bins);
    assert_int_equal(bins[0], 3);
    int sum = 0;
    for (int b = 0; b < STATS_HIST_BINS; b++)
        sum += bins[b];
    assert_int_equal(sum, 3);
    stats_free(&rec);
    model_free(&m);
}

/* The per-epoch |γ| summary: share below τ and quantiles (numpy.quantile's linear rule), over
 * all 336 filters of the tiny model, set by hand to known values. */
static void test_gamma_summary(void **state)
{
    (void)state;
    struct model m;
    tiny_model(&m, 1);
    int nf = stats_nfilters(&m), f = 0;
    assert_int_equal(nf, 336);
    /* |γ| = f / 335 for filter f (alternating sign), so the sorted |γ| are 0, 1/335, …, 1 and
     * quantile p is p exactly; the 4 smallest (0, 1/335, 2/335, 3/335 < 0.01) lie below τ. */
    for (int u = 0; u < m.nunits; u++)
        for (int c = 0; c < m.units[u].channels; c++, f++)
            set_gamma(&m, u, c, (float)((f % 2 ? -1.0 : 1.0) * f / 335.0));
    double below, q[STATS_GAMMA_NQ];
    stats_gamma_summary(&m, absolute(0.01), &below, q);
    assert_true(below == 4.0 / 336.0);
    for (int i = 0; i < STATS_GAMMA_NQ; i++)
        assert_true(fabs(q[i] - STATS_GAMMA_QUANTILES[i]) < 1e-6);
    /* Interpolation between order statistics: with one γ raised to 10 (the largest), p90 moves
     * only if position 0.9·335 = 301.5 touches it; it does not. p50 sits between 167 and 168. */
    set_gamma(&m, 0, 0, 10.0f); /* filter 0 had |γ| = 0: now the largest */
    stats_gamma_summary(&m, absolute(0.01), &below, q);
    assert_true(below == 3.0 / 336.0);
    assert_true(fabs(q[1] - (0.5 * (168.0 + 169.0) / 335.0)) < 1e-6);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_from_n_and_s),
        cmocka_unit_test(test_schedule_epochs),
        cmocka_unit_test(test_schedule_epochs_list_too_long),
        cmocka_unit_test(test_schedule_lr),
        cmocka_unit_test(test_schedule_explicit_list),
        cmocka_unit_test(test_schedule_too_many_stages),
        cmocka_unit_test(test_schedule_single_stage),
        cmocka_unit_test(test_schedule_validate_agree),
        cmocka_unit_test(test_schedule_continue),
        cmocka_unit_test(test_schedule_bn_rounds),
        cmocka_unit_test(test_schedule_for_run_refuses_unknown_kind),
        cmocka_unit_test(test_nested_random),
        cmocka_unit_test(test_nested_reinit_first),
        cmocka_unit_test(test_reinit_filters),
        cmocka_unit_test(test_reinit_variants),
        cmocka_unit_test(test_reinit_median_keep),
        cmocka_unit_test(test_reinit_orthogonal),
        cmocka_unit_test(test_reinit_names_match_config),
        cmocka_unit_test(test_stats_by_hand),
        cmocka_unit_test(test_stats_relative),
        cmocka_unit_test(test_stats_histogram),
        cmocka_unit_test(test_gamma_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
