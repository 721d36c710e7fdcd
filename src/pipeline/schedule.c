/* The stage schedule, computed in one place (see schedule.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "schedule.h"

/* "FILE: " before a message, or nothing for a config made in code. */
#define SOURCE(c) (c)->source, (c)->source[0] ? ": " : ""

static int too_many_stages(const struct config *c, int done, struct rv_error *err)
{
    char n[40], s[40];
    config_format_double(c->pipeline_n, n, sizeof n);
    config_format_double(c->pipeline_s, s, sizeof s);
    if (c->fractions.n > 0) /* only after finished stages: a list alone holds at most the limit */
        return rv_fail(err, "%s%sthe %d finished stages and pipeline.fractions make more than %d "
                       "stages; give fewer fractions", SOURCE(c), done, SCHEDULE_MAX_STAGES);
    if (done > 0)
        return rv_fail(err, "%s%sthe %d finished stages and pipeline.n = %s, pipeline.s = %s make more "
                       "than %d stages; raise s or n, or list pipeline.fractions", SOURCE(c), done, n,
                       s, SCHEDULE_MAX_STAGES);
    return rv_fail(err, "%s%spipeline.n = %s and pipeline.s = %s make more than %d stages; raise s or "
                   "n, or list pipeline.fractions", SOURCE(c), n, s, SCHEDULE_MAX_STAGES);
}

/* The fractions after the finished stages, whose last fraction is `last` and of which
 * `zeros_done` were BN-only: the explicit list's BN-only rounds not yet run (its leading zeros
 * beyond zeros_done, when last is 0) and its entries larger than last; or last·s, last·s², …
 * (N after the BN-only stage) while < 1, then 1. Returns the count written to f (at most cap;
 * more is an error; cap may be 0 when a resumed run has finished every stage a schedule can hold). */
static int fractions_after(double *f, int cap, double last, int zeros_done, const struct config *c,
                           int done, struct rv_error *err)
{
    int n = 0;
    if (c->fractions.n > 0) {
        int zeros = 0;
        while (zeros < c->fractions.n && c->fractions.v[zeros] == 0.0)
            zeros++;
        for (int i = 0; last <= 0.0 && i < zeros - zeros_done; i++) {
            if (n >= cap)
                return too_many_stages(c, done, err);
            f[n++] = 0.0;
        }
        for (int i = 0; i < c->fractions.n; i++)
            if (c->fractions.v[i] > last) {
                if (n >= cap)
                    return too_many_stages(c, done, err);
                f[n++] = c->fractions.v[i];
            }
        return n;
    }
    if (last >= 1.0)
        return 0;
    /* x *= s from N, as for a fresh schedule, so a resumed run continues with the same doubles. */
    for (double x = last <= 0.0 ? c->pipeline_n : last * c->pipeline_s; x < 1.0; x *= c->pipeline_s) {
        if (n >= cap - 1) /* room for x and the final 1 */
            return too_many_stages(c, done, err);
        f[n++] = x;
    }
    if (n >= cap)
        return too_many_stages(c, done, err);
    f[n++] = 1.0;
    return n;
}

static void set_kind(struct stage_plan *p, double f, const struct config *c)
{
    p->fraction = f;
    p->train_output = false;
    if (f <= 0.0) {
        p->kind = STAGE_BN;
    } else if (f >= 1.0) {
        p->kind = STAGE_ALL;
    } else {
        p->kind = STAGE_CONV_FRACTION;
        p->train_output = c->train_output;
    }
}

/* A per-stage list (pipeline.epochs, pipeline.lr) fits the schedule: empty, one value, or one a
 * stage. */
static int check_per_stage(const struct schedule *s, int from, const struct config_list *e,
                           const char *key, const struct config *c, struct rv_error *err)
{
    if (from >= s->n || e->n <= 1 || e->n == s->n)
        return 0;
    char list[SCHEDULE_MAX_STAGES * 26] = "";
    size_t used = 0;
    for (int k = 0; k < s->n && used < sizeof list; k++) {
        char x[40];
        config_format_double(s->stage[k].fraction, x, sizeof x);
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", x);
    }
    return rv_fail(err, "%s%spipeline.%s has %d values but the pipeline has %d stages (fractions %s); "
                   "give one value per stage, or one for all", SOURCE(c), key, e->n, s->n, list);
}

/* Stage k's value of a per-stage list, or `fallback` when the list is empty. (check_per_stage
 * makes k < e->n for the stages to train; a finished stage beyond a shorter list, shown by `pipeline
 * plan`, gets the last value.) */
static double per_stage(const struct config_list *e, int k, double fallback)
{
    return e->n == 0 ? fallback : e->v[k < e->n ? k : e->n - 1];
}

/* Epochs and base learning rate of stages from .. s->n − 1: train.epochs and train.lr, one
 * pipeline.epochs / pipeline.lr value, or the k-th. */
static int set_lengths(struct schedule *s, int from, const struct config *c, struct rv_error *err)
{
    if (check_per_stage(s, from, &c->stage_epochs, "epochs", c, err) ||
        check_per_stage(s, from, &c->stage_lr, "lr", c, err))
        return -1;
    for (int k = from; k < s->n; k++) {
        s->stage[k].epochs = (int)per_stage(&c->stage_epochs, k, c->epochs);
        s->stage[k].lr = c->pipeline ? per_stage(&c->stage_lr, k, c->lr) : c->lr;
    }
    return 0;
}

struct stage_plan schedule_single_stage(const struct config *c)
{
    struct stage_plan p;
    memset(&p, 0, sizeof p);
    p.kind = c->trainable;
    /* The share of conv weights the stage trains, as recorded in its statistics. */
    p.fraction = c->trainable == STAGE_CONV_FRACTION ? c->conv_fraction
                 : c->trainable == STAGE_ALL           ? 1.0
                                                       : 0.0;
    p.epochs = c->epochs;
    p.lr = c->lr;
    p.train_output = false;
    return p;
}

int schedule_pipeline(struct schedule *s, const struct config *c, struct rv_error *err)
{
    memset(s, 0, sizeof *s);
    double f[SCHEDULE_MAX_STAGES];
    int n = 0;
    if (c->fractions.n > 0) {
        REVIVE_ASSERT(c->fractions.n <= SCHEDULE_MAX_STAGES); /* a list holds one value a stage */
        for (int i = 0; i < c->fractions.n; i++)
            f[n++] = c->fractions.v[i];
    } else {
        f[0] = 0.0;
        int more = fractions_after(f + 1, SCHEDULE_MAX_STAGES - 1, 0.0, 1, c, 0, err);
        if (more < 0)
            return -1;
        n = 1 + more;
    }
    for (int k = 0; k < n; k++)
        set_kind(&s->stage[k], f[k], c);
    s->n = n;
    return set_lengths(s, 0, c, err);
}

int schedule_build(struct schedule *s, const struct config *c, struct rv_error *err)
{
    if (c->pipeline)
        return schedule_pipeline(s, c, err);
    memset(s, 0, sizeof *s);
    s->n = 1;
    s->stage[0] = schedule_single_stage(c);
    return 0;
}

int schedule_continue(struct schedule *s, int done, const struct config *c, struct rv_error *err)
{
    REVIVE_ASSERT(done >= 1 && done <= SCHEDULE_MAX_STAGES);
    s->n = done;
    for (int k = 0; k < done; k++) /* as the config says now (what they ran with is in the history) */
        s->stage[k].lr = c->pipeline ? per_stage(&c->stage_lr, k, c->lr) : c->lr;
    if (!c->pipeline)
        return 0;
    double f[SCHEDULE_MAX_STAGES];
    int zeros_done = 0;
    for (int k = 0; k < done; k++)
        zeros_done += s->stage[k].fraction <= 0.0;
    int more = fractions_after(f, SCHEDULE_MAX_STAGES - done, s->stage[done - 1].fraction, zeros_done,
                               c, done, err);
    if (more < 0)
        return -1;
    for (int i = 0; i < more; i++)
        set_kind(&s->stage[done + i], f[i], c);
    s->n = done + more;
    return set_lengths(s, done, c, err);
}

/* ---- the learning rate within a stage (schedule.h) ---------------------------------------- */

struct lr_schedule lr_schedule_from_config(const struct config *c, int epochs, double base)
{
    struct lr_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = c->lr_schedule;
    s.base = base;
    s.epochs = epochs;
    s.milestones = c->milestones;
    /* Fractions of this stage's length: one schedule shape for any number of epochs. */
    for (int i = 0; i < c->milestone_fractions.n; i++)
        s.milestones.v[i] = c->milestone_fractions.v[i] * (double)epochs;
    if (c->milestone_fractions.n > 0)
        s.milestones.n = c->milestone_fractions.n;
    s.factor = c->lr_factor;
    s.warmup_epochs = c->warmup_epochs;
    s.warmup_steps = c->warmup_steps;
    s.min = c->lr_min;
    return s;
}

/* ½(1 + cos πp), p clamped to [0, 1]. */
static double half_cosine(double p)
{
    if (p > 1.0)
        p = 1.0;
    return 0.5 * (1.0 + cos(3.14159265358979323846 * p));
}

double lr_at(const struct lr_schedule *s, long step, long steps_per_epoch)
{
    double epoch = (double)step / (double)steps_per_epoch;
    double lr = s->base;
    double warmup_steps = s->warmup_steps > 0 ? (double)s->warmup_steps
                                              : s->warmup_epochs * (double)steps_per_epoch;
    switch (s->kind) {
    case LR_CONSTANT:
    case LR_KIND_COUNT:
        break;
    case LR_WARMUP_COSINE: {
        if ((double)step < warmup_steps)
            return s->base * (double)(step + 1) / warmup_steps;
        double rest = (double)s->epochs * (double)steps_per_epoch - warmup_steps;
        double p = rest > 0 ? ((double)step - warmup_steps) / rest : 1.0;
        return s->min + (s->base - s->min) * half_cosine(p);
    }
    case LR_STEP:
        /* A milestone at epoch e takes effect from the first step of epoch e. */
        for (int i = 0; i < s->milestones.n; i++)
            if (epoch + 1e-9 >= s->milestones.v[i])
                lr *= s->factor;
        break;
    case LR_COSINE: {
        /* With lr_min = 0 this is lr · c(t) to the bit, as before lr_min existed. */
        double t = s->epochs > 0 ? epoch / (double)s->epochs : 0.0;
        lr = s->min + (s->base - s->min) * half_cosine(t);
        break;
    }
    }
    if (warmup_steps > 0 && (double)step < warmup_steps)
        lr *= (double)(step + 1) / warmup_steps;
    return lr;
}
