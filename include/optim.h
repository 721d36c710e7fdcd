/* SGD with momentum and weight decay over a masked parameter block, and learning-rate schedules.
 *
 *   struct sgd opt = {.momentum = 0.9, .weight_decay = 1e-4, .nesterov = false};
 *   float lr = lr_at(&sched, step, steps_per_epoch);
 *   sgd_step(m.values, m.momentum, m.grads, m.mask, m.total, lr, &opt);
 *
 * Entries whose mask is 0 are frozen: not moved by the gradient, weight decay or momentum, and
 * their momentum stays as it is.
 */
#ifndef REVIVE_OPTIM_H
#define REVIVE_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct sgd {
    double momentum, weight_decay;
    bool nesterov;
};

/* PyTorch's SGD: d = g + wd·w; v = μ·v + d; w −= lr·(nesterov ? d + μ·v : v). Returns the
 * number of updated values that are not finite afterwards (a diverged step), counted in the
 * same pass. */
size_t sgd_step(float *values, float *momentum, const float *grads, const float *mask, size_t n,
              float lr, const struct sgd *opt);

struct lr_schedule {
    enum lr_kind kind;
    double base;
    int epochs;                   /* length of the stage, for cosine */
    struct config_list milestones; /* in epochs, for step */
    double factor;
    double warmup_epochs;         /* linear ramp from base/steps to base */
};

struct lr_schedule lr_schedule_from_config(const struct config *c, int epochs);
/* Learning rate for global step `step` (0-based) of a stage with steps_per_epoch steps. */
double lr_at(const struct lr_schedule *s, long step, long steps_per_epoch);

#endif
