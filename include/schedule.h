/* The stage schedule: which stages a config makes, each with its kind, conv fraction and epochs;
 * and the learning rate within a stage (lr_at), which restarts with every stage.
 * The one place the schedule is computed: config validation (its limits), the pipeline (what it
 * trains, and what a resumed branch trains after its finished stages), `pipeline plan` (and
 * through its JSON, scripts/study_records.py) all ask this module.
 *
 *   struct schedule s;
 *   if (schedule_build(&s, &cfg, &err)) ...       [pipeline] stages, or one stage from [train]
 *   s.stage[k].kind, .fraction, .epochs, .train_output
 *
 * Fractions: pipeline.fractions when given; otherwise 0, N, sN, s²N, … while below 1, then 1
 * (each the previous times s, in double, so a resumed run continues with the same doubles).
 * Fraction 0 is the BN-only stage, 1 the stage that trains all parameters, any other a
 * conv_fraction stage (with the output layer when pipeline.train_output).
 */
#ifndef REVIVE_SCHEDULE_H
#define REVIVE_SCHEDULE_H

#include <stdbool.h>

#include "config.h"

#define SCHEDULE_MAX_STAGES CONFIG_MAX_STAGES

/* One stage of training: which parameters train and for how long. */
struct stage_plan {
    enum stage_kind_id kind;   /* stages.h */
    double fraction;           /* the share of conv weights the stage trains (0 for bn, 1 for all) */
    int epochs;
    double lr;                 /* base learning rate: pipeline.lr's value for the stage, else train.lr */
    bool train_output;         /* conv_fraction: the output layer trains too */
};

struct schedule {
    int n;
    struct stage_plan stage[SCHEDULE_MAX_STAGES];
};

/* The schedule c makes: the [pipeline] stages when pipeline.enabled, else one stage from [train]
 * (train.trainable, train.conv_fraction, train.epochs). Errors (too many stages, a
 * pipeline.epochs list of the wrong length) name c->source and the keys to change. */
int schedule_build(struct schedule *s, const struct config *c, struct rv_error *err);
/* The [pipeline] stages of c whether or not pipeline.enabled is set (config_validate checks
 * them either way). */
int schedule_pipeline(struct schedule *s, const struct config *c, struct rv_error *err);
/* The single stage of a run without [pipeline]. */
struct stage_plan schedule_single_stage(const struct config *c);
/* A branch from a stage end: s->stage[0 .. done) hold the finished stages (as a checkpoint
 * recorded them); appends the stages c makes after the last finished fraction (none without
 * pipeline.enabled), so --set pipeline.s=2 from the 4 % stage continues 8 %, 16 %, … */
int schedule_continue(struct schedule *s, int done, const struct config *c, struct rv_error *err);

/* The learning rate within a stage of `epochs` epochs (train.lr_schedule and its keys). With
 * step s (0-based), S steps an epoch, e = s / S, T = epochs·S, W the warm-up in steps
 * (warmup_steps, or warmup_epochs·S) and c(p) = ½(1 + cos πp):
 *   constant       lr
 *   step           lr · factor^(milestones ≤ e)
 *   cosine         lr_min + (lr − lr_min) · c(min(e / epochs, 1))
 *   (these three times the ramp (s + 1) / W while s < W)
 *   warmup_cosine  lr · (s + 1) / W while s < W, then lr_min + (lr − lr_min) · c((s − W) / (T − W))
 * (torch: LinearLR(start_factor = 1/W, total_iters = W − 1), then CosineAnnealingLR(T_max = T − W,
 * eta_min = lr_min), stepped once per step). */
struct lr_schedule {
    enum lr_kind kind;
    double base, min;             /* train.lr, train.lr_min */
    int epochs;                   /* length of the stage, for cosine */
    struct config_list milestones; /* in epochs, for step */
    double factor;
    double warmup_epochs;         /* linear ramp from base/W to base over W steps … */
    long warmup_steps;            /* … W = warmup_steps when > 0, else warmup_epochs · S */
};

/* The schedule of a stage of `epochs` epochs from base learning rate `base` (a stage's plan->lr). */
struct lr_schedule lr_schedule_from_config(const struct config *c, int epochs, double base);
/* Learning rate for global step `step` (0-based) of a stage with steps_per_epoch steps. */
double lr_at(const struct lr_schedule *s, long step, long steps_per_epoch);

#endif
