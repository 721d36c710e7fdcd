/* The training loop of one stage: shuffled global batches split over ranks, synchronized
 * BatchNorm, one gradient allreduce per step, masked SGD, an evaluation and a line per epoch. */
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

static void reduce_over_ranks(double *buf, int n, void *ctx)
{
    comm_sum_doubles(ctx, buf, (size_t)n);
}

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

int run_train_stage(struct run *r, const struct stage_plan *plan, struct rv_error *err)
{
    struct model *m = &r->model;
    const struct config *c = &r->cfg;
    const struct dataset *d = &r->train;
    struct comm *comm = r->comm;
    const int B = c->batch_size;
    const long steps_per_epoch = (d->n + B - 1) / B;
    const struct lr_schedule sched = lr_schedule_from_config(c, plan->epochs);
    const struct sgd opt = {.momentum = c->momentum, .weight_decay = c->weight_decay, .nesterov = c->nesterov};
    struct bn_reducer reducer = {.sum = reduce_over_ranks, .ctx = comm};
    const struct bn_reducer *red = (c->sync_bn && comm->size > 1) ? &reducer : NULL;
    const struct augment aug = {.crop_pad = c->augment_crop, .flip = c->augment_flip};
    size_t image = (size_t)d->c * d->h * d->w;
    float *x = rv_malloc((size_t)r->local_batch_max * image * sizeof(float));
    int *y = rv_malloc((size_t)r->local_batch_max * sizeof(int));
    int *order = rv_malloc((size_t)d->n * sizeof(int));
    double stage_started = run_now(), last_progress = 0.0;
    int epochs_at_start = r->epoch;
    int rc = 0;

    while (r->epoch < plan->epochs) {
        int key = epoch_key(r->stage, r->epoch);
        data_epoch_order(order, d->n, (uint64_t)c->seed, key);
        double epoch_started = run_now();
        long first = r->step - (long)r->epoch * steps_per_epoch;
        double lr = 0.0;
        for (long s = first; s < steps_per_epoch; s++) {
            int start = (int)(s * B), count = d->n - start < B ? d->n - start : B;
            /* This rank's share of the global batch: contiguous, sizes differ by at most one. */
            int lo = start + (int)((long)count * comm->rank / comm->size);
            int hi = start + (int)((long)count * (comm->rank + 1) / comm->size);
            int n = hi - lo;
            data_make_batch(x, y, d, order + lo, n, &aug, (uint64_t)c->seed, key);
            lr = lr_at(&sched, r->step, steps_per_epoch);
            /* loss, correct and the stop flags, then their sums over all ranks */
            double sums[STEP_SUMS] = {[STEP_SIGNAL] = stop_signal_pending() != 0};
            step_train(m, x, y, n, count, red, comm, (float)lr, &opt, sums);
            if ((rc = stop_check_step(r, sums, s, err)))
                goto done;
            r->step++;
            r->epoch_loss_sum += sums[STEP_LOSS];
            r->epoch_correct += sums[STEP_CORRECT];
            r->epoch_seen += count;
            if (r->progress) {
                double now = run_now();
                if (now - last_progress > 0.5 || s + 1 == steps_per_epoch) {
                    last_progress = now;
                    printf("\r  epoch %d/%d  step %ld/%ld  loss %.4f  train %.2f%%  %.0f img/s   ",
                           r->epoch + 1, plan->epochs, s + 1, steps_per_epoch,
                           r->epoch_loss_sum / r->epoch_seen, 100.0 * r->epoch_correct / r->epoch_seen,
                           (double)(s + 1 - first) * B / (now - epoch_started));
                    fflush(stdout);
                }
            }
            r->steps_this_process++;
            if (stop_now(r) && s + 1 < steps_per_epoch) {
                char path[RUN_PATH_MAX];
                run_path(r, "last.h5", path);
                rc = checkpoint_save(r, path, err);
                r->stopped = rc == 0;
                goto done;
            }
            if (c->checkpoint_every_steps > 0 && r->step % c->checkpoint_every_steps == 0 &&
                s + 1 < steps_per_epoch) {
                char path[RUN_PATH_MAX];
                run_path(r, "last.h5", path);
                if ((rc = checkpoint_save(r, path, err)))
                    goto done;
            }
        }
        /* Per-rank running statistics (train.sync_bn = false) differ; rank 0's are the model's. */
        comm_broadcast(comm, m->running_stats, m->running_total * sizeof(float), 0);
        double test_acc, test_loss;
        run_evaluate(r, &test_acc, &test_loss);
        double now = run_now();
        struct history_row row = {
            .stage = r->stage, .epoch = r->epoch + 1, .lr = lr,
            .train_loss = r->epoch_loss_sum / r->epoch_seen, .train_acc = r->epoch_correct / r->epoch_seen,
            .test_loss = test_loss, .test_acc = test_acc, .seconds = now - epoch_started,
        };
        stats_gamma_summary(m, stats_threshold_of(c), &row.gamma_below_tau, row.abs_gamma_q);
        /* The share below τ is printed when it differs from the previous epoch's (any stage). */
        double prev_below = r->nhistory > 0 ? r->history[r->nhistory - 1].gamma_below_tau : NAN;
        push_history(r, &row);
        r->epoch++;
        r->epoch_loss_sum = r->epoch_correct = r->epoch_seen = 0.0;
        if (r->verbose) {
            char el[32], eta[32];
            double per_epoch = (now - stage_started) / (r->epoch - epochs_at_start);
            format_duration(el, sizeof el, now - r->started);
            format_duration(eta, sizeof eta, per_epoch * (plan->epochs - r->epoch));
            printf("%sepoch %3d/%d  lr %.4g  loss %.4f  train %6.2f%%  test %6.2f%%  %6.0f img/s  "
                   "elapsed %s  eta %s",
                   r->progress ? "\r" : "", row.epoch, plan->epochs, lr, row.train_loss,
                   100.0 * row.train_acc, 100.0 * row.test_acc,
                   (double)d->n / (now - epoch_started), el, eta);
            if (!(row.gamma_below_tau == prev_below)) {
                char tau[48];
                stats_threshold_text(tau, sizeof tau, stats_threshold_of(c));
                printf("  |γ|<%s %.2f%%", tau, 100.0 * row.gamma_below_tau);
            }
            printf("\n");
            fflush(stdout);
        }
        if ((rc = metrics_log_append(r, &row, err)))
            goto done;
        char path[RUN_PATH_MAX];
        run_path(r, "last.h5", path);
        if ((rc = checkpoint_save(r, path, err)))
            goto done;
        /* Also at a stage's last epoch: the stage end (statistics, stage-KK.h5) then happens
         * when the run is resumed from last.h5. */
        if (stop_now(r)) {
            r->stopped = true;
            goto done;
        }
    }
done:
    free(x);
    free(y);
    free(order);
    return rc;
}
