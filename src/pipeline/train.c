/* The training loop of one stage, and the hooks around it (STYLE.md rule 12).
 *
 * The loop walks the stage's epochs, each a pass of global batches in the epoch's shuffle
 * (batches.h), and takes one step a batch: synchronized BatchNorm, one gradient allreduce,
 * masked SGD, then the agreed divergence and stop-signal check (stop.h). After every step the
 * hooks run in this order, each with one job:
 *
 *   progress     rank 0 on a terminal: the progress line within the epoch
 *   epoch        at the epoch's last step: evaluation, the history row, the epoch line,
 *                metrics.csv
 *   checkpoint   last.h5 at every epoch end, every train.checkpoint_every_steps steps, and when a
 *                stop is due: the one place that writes last.h5
 *   stop         a stop signal agreed by the ranks, or --stop-after-steps: end the loop
 *
 * A stop within an epoch therefore saves last.h5 there; one due at an epoch's last step waits
 * for the epoch's evaluation and row, so last.h5 is then an epoch end (at a stage's last epoch
 * the stage end follows when the run is resumed).
 *
 * No checkpoint is written of a state whose test evaluation is not finite (a diverged state can
 * keep finite parameters, up to 1e19 and more, while the eval-mode network computes NaN). The
 * epoch end is evaluated anyway; a save within an epoch evaluates the state first (one pass over
 * the test set, forward only, which changes nothing the run goes on with). At an epoch end, or
 * when a stop is due, a non-finite test loss is divergence, like a non-finite training loss: the
 * run ends with one line naming the newest checkpoint of a state that evaluated finite (run.h,
 * good). Within an epoch (train.checkpoint_every_steps) the save is skipped and training goes
 * on: the epoch's end decides, unless a step diverges first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "layers.h"
#include "metrics_log.h"
#include "optim.h"
#include "run.h"
#include "step.h"
#include "stop.h"

/* What a hook tells the loop: go on, end the stage here (stopped as asked), or -1: an error. */
enum { LOOP_GO = 0, LOOP_END = 1 };

/* A stage's training as it goes: what the step and the hooks share. */
struct stage_loop {
    struct run *r;
    const struct stage_plan *plan;
    struct batches train;       /* the epoch's global batches, this rank's share */
    struct batches test;        /* this rank's shard of the test set, for the evaluations */
    struct lr_schedule sched;
    struct sgd opt;
    struct bn_reducer reducer;
    const struct bn_reducer *red;
    long steps_per_epoch;
    long first;                 /* the first step of the epoch this process takes */
    long s;                     /* the step just taken, in its epoch (0-based) */
    bool epoch_end;             /* it was the epoch's last */
    double lr;                  /* its learning rate */
    bool evaluated;             /* the state after step s has been evaluated, finite */
    bool skipped;               /* a save was skipped in this epoch (said once an epoch) */
    double stage_started, epoch_started, last_progress;
    int epochs_at_start;
};

static void format_duration(char *out, size_t cap, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(out, cap, "%lds", t);
}

static void push_history(struct run *r, const struct history_row *row)
{
    if (r->nhistory == r->history_cap) {
        r->history_cap = r->history_cap ? 2 * r->history_cap : 64;
        struct history_row *h = realloc(r->history, (size_t)r->history_cap * sizeof *h);
        REVIVE_ASSERT(h != NULL);
        r->history = h;
    }
    r->history[r->nhistory++] = *row;
}

/* The shuffle and augmentation key of an epoch: distinct for every (stage, epoch). */
static int epoch_key(int stage, int epoch)
{
    return stage * 100000 + epoch;
}

/* The test accuracy and loss of the state as it stands. */
static void evaluate(struct stage_loop *l, double *acc, double *loss)
{
    struct run *r = l->r;
    struct model *m = &r->model;
    /* Per-rank running statistics (train.sync_bn = false) differ; rank 0's are the model's
     * (rank 0's own never change by this, so neither does what the run goes on with). */
    comm_broadcast(r->comm, m->running_stats, m->running_total * sizeof(float), 0);
    run_evaluate_on(r, &l->test, acc, loss);
    l->evaluated = isfinite(*loss);
}

/* One step over batch s of the epoch, the divergence and signal check, the epoch's sums. */
static int take_step(struct stage_loop *l, long s, struct rv_error *err)
{
    struct run *r = l->r;
    struct batches *b = &l->train;
    batches_load(b, s);
    l->lr = lr_at(&l->sched, r->step, l->steps_per_epoch);
    /* loss, correct and the stop flags, then their sums over all ranks */
    double sums[STEP_SUMS] = {[STEP_SIGNAL] = stop_signal_pending() != 0};
    /* The optimizer's state restarts with the stage, as r->step does (stage_start): this is
     * update r->step + 1 since, AdamW's bias-correction count (checkpointed as /step). */
    l->opt.t = r->step + 1;
    step_train(&r->model, b->x, b->y, b->n, b->global, l->red, r->comm, (float)l->lr, &l->opt, sums);
    if (stop_check_step(r, sums, s, err))
        return -1;
    r->step++;
    r->epoch_loss_sum += sums[STEP_LOSS];
    r->epoch_correct += sums[STEP_CORRECT];
    r->epoch_seen += b->global;
    r->steps_this_process++;
    l->s = s;
    l->epoch_end = s + 1 == l->steps_per_epoch;
    l->evaluated = false;
    return 0;
}

static int progress_hook(struct stage_loop *l, struct rv_error *err)
{
    struct run *r = l->r;
    if (!r->progress)
        return LOOP_GO;
    double now = run_now();
    if (now - l->last_progress > 0.5 || l->epoch_end) {
        l->last_progress = now;
        printf("\r  epoch %d/%d  step %ld/%ld  loss %.4f  train %.2f%%  %.0f img/s   ",
               r->epoch + 1, l->plan->epochs, l->s + 1, l->steps_per_epoch,
               r->epoch_loss_sum / r->epoch_seen, 100.0 * r->epoch_correct / r->epoch_seen,
               (double)(l->s + 1 - l->first) * r->cfg.batch_size / (now - l->epoch_started));
        fflush(stdout);
    }
    return LOOP_GO;
}

static int epoch_hook(struct stage_loop *l, struct rv_error *err)
{
    if (!l->epoch_end)
        return LOOP_GO;
    struct run *r = l->r;
    const struct config *c = &r->cfg;
    double test_acc, test_loss;
    evaluate(l, &test_acc, &test_loss);
    if (stop_check_evaluation(r, test_loss, l->s, "at the epoch's end", err))
        return -1;
    double now = run_now();
    struct history_row row = {
        .stage = r->stage, .epoch = r->epoch + 1, .lr = l->lr,
        .train_loss = r->epoch_loss_sum / r->epoch_seen, .train_acc = r->epoch_correct / r->epoch_seen,
        .test_loss = test_loss, .test_acc = test_acc, .seconds = now - l->epoch_started,
    };
    stats_gamma_summary(&r->model, stats_threshold_of(c), &row.gamma_below_tau, row.abs_gamma_q);
    /* The share below τ is printed when it differs from the previous epoch's (any stage). */
    double prev_below = r->nhistory > 0 ? r->history[r->nhistory - 1].gamma_below_tau : NAN;
    push_history(r, &row);
    r->epoch++;
    r->epoch_loss_sum = r->epoch_correct = r->epoch_seen = 0.0;
    if (r->verbose) {
        char el[32], eta[32];
        double per_epoch = (now - l->stage_started) / (r->epoch - l->epochs_at_start);
        format_duration(el, sizeof el, now - r->started);
        format_duration(eta, sizeof eta, per_epoch * (l->plan->epochs - r->epoch));
        printf("%sepoch %3d/%d  lr %.4g  loss %.4f  train %6.2f%%  test %6.2f%%  %6.0f img/s  "
               "elapsed %s  eta %s",
               r->progress ? "\r" : "", row.epoch, l->plan->epochs, l->lr, row.train_loss,
               100.0 * row.train_acc, 100.0 * row.test_acc,
               (double)r->train.n / (now - l->epoch_started), el, eta);
        if (!(row.gamma_below_tau == prev_below)) {
            char tau[48];
            stats_threshold_text(tau, sizeof tau, stats_threshold_of(c));
            printf("  |γ|<%s %.2f%%", tau, 100.0 * row.gamma_below_tau);
        }
        printf("\n");
        fflush(stdout);
    }
    return metrics_log_append(r, &row, err) ? -1 : LOOP_GO;
}

static int checkpoint_hook(struct stage_loop *l, struct rv_error *err)
{
    struct run *r = l->r;
    long every = r->cfg.checkpoint_every_steps;
    if (!l->epoch_end && !stop_now(r) && !(every > 0 && r->step % every == 0))
        return LOOP_GO;
    double acc, loss;
    if (!l->evaluated) {
        evaluate(l, &acc, &loss);
        /* A stop due now has no later state to save: the run ends as diverged. */
        if (stop_now(r) && stop_check_evaluation(r, loss, l->s, "before saving " RUN_LAST_FILE " to stop", err))
            return -1;
        if (!l->evaluated) {
            /* Not saved; the epoch's end decides (a non-finite test loss there is divergence). */
            if (r->verbose && !l->skipped)
                printf("%sstage %d, epoch %d, step %ld: the test loss is %g, so " RUN_LAST_FILE " is not "
                       "updated until it is finite again; the newest checkpoint of a finite state "
                       "is %s\n", r->progress ? "\n" : "", r->stage, r->epoch + 1, l->s + 1, loss,
                       r->good[0] ? r->good : "none");
            l->skipped = true;
            return LOOP_GO;
        }
    }
    char path[RUN_PATH_MAX];
    run_path(r, RUN_LAST_FILE, path);
    if (checkpoint_save(r, path, err))
        return -1;
    /* the epoch hook has counted a finished epoch already */
    if (l->epoch_end)
        snprintf(r->good, sizeof r->good, "%s (stage %d, end of epoch %d)", path, r->stage, r->epoch);
    else
        snprintf(r->good, sizeof r->good, "%s (stage %d, epoch %d, step %ld of %ld)", path, r->stage,
                 r->epoch + 1, l->s + 1, l->steps_per_epoch);
    return LOOP_GO;
}

static int stop_hook(struct stage_loop *l, struct rv_error *err)
{
    if (!stop_now(l->r))
        return LOOP_GO;
    l->r->stopped = true;
    return LOOP_END;
}

/* After every step, in this order (see the top of this file). */
static int (*const hooks[])(struct stage_loop *, struct rv_error *) = {
    progress_hook, epoch_hook, checkpoint_hook, stop_hook,
};

int run_train_stage(struct run *r, const struct stage_plan *plan, struct rv_error *err)
{
    const struct config *c = &r->cfg;
    struct stage_loop l = {
        .r = r, .plan = plan,
        .sched = lr_schedule_from_config(c, plan->epochs, plan->lr),
        .opt = {.momentum = c->momentum, .weight_decay = c->weight_decay, .nesterov = c->nesterov,
                .kind = c->optimizer, .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->adam_eps,
                .label_smoothing = c->label_smoothing},
        .stage_started = run_now(), .epochs_at_start = r->epoch,
    };
    l.red = run_bn_reducer(r, &l.reducer);
    run_train_batches(r, &l.train);
    run_test_batches(r, &l.test);
    l.steps_per_epoch = l.train.count;
    /* A run that stands past its start came from a checkpoint (main.c sets cfg.source to it). */
    if (!r->good[0] && (r->stage > 0 || r->step > 0))
        snprintf(r->good, sizeof r->good, "%s (the checkpoint this run resumed from)", c->source);
    int rc = LOOP_GO;
    while (rc == LOOP_GO && r->epoch < plan->epochs) {
        batches_order(&l.train, epoch_key(r->stage, r->epoch));
        l.epoch_started = run_now();
        l.first = r->step - (long)r->epoch * l.steps_per_epoch;
        l.skipped = false;
        for (long s = l.first; rc == LOOP_GO && s < l.steps_per_epoch; s++) {
            rc = take_step(&l, s, err);
            for (size_t h = 0; rc == LOOP_GO && h < sizeof hooks / sizeof hooks[0]; h++)
                rc = hooks[h](&l, err);
        }
    }
    batches_close(&l.train);
    batches_close(&l.test);
    /* After a progress line, an error or a stop's line starts on a line of its own. */
    if (r->progress && (rc < 0 || (rc == LOOP_END && !l.epoch_end))) {
        printf("\n");
        fflush(stdout);
    }
    return rc < 0 ? -1 : 0;
}
