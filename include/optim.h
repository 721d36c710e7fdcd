/* SGD with momentum and weight decay, and AdamW, over a masked parameter block, and
 * the learning-rate schedule (which lives with the stage schedule, schedule.h; included here
 * for the callers of lr_at).
 *
 *   struct sgd opt = {.momentum = 0.9, .weight_decay = 1e-4, .nesterov = false};
 *   float lr = lr_at(&sched, step, steps_per_epoch);
 *   sgd_step(m.values, m.momentum, m.grads, m.mask, m.total, lr, &opt);
 *
 *   struct sgd adam = {.kind = OPT_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
 *                      .weight_decay = 0.01};
 *   optim_alloc_state(&m, adam.kind);                  m.moment2, once, at build
 *   adam.t = step + 1;                                  this update's number in the stage
 *   optim_step(&m, lr, &adam);                          either optimizer, over m's blocks
 *
 * Entries whose mask is 0 are frozen: not moved by the gradient, weight decay or momentum, and
 * their optimizer state stays as it is.
 */
#ifndef REVIVE_OPTIM_H
#define REVIVE_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "schedule.h" /* lr_at */

/* The optimizer and its settings (the name is SGD's, which came first; zero-initialized it is
 * SGD without momentum). */
struct sgd {
    double momentum, weight_decay;
    bool nesterov;
    enum optimizer_kind kind;     /* OPT_SGD or OPT_ADAMW */
    double beta1, beta2, eps;     /* AdamW */
    long t;                       /* AdamW: this update's number since its state was zeroed,
                                     1-based (the bias correction); the caller sets it */
    double label_smoothing;       /* not the optimizer's but the step's: ε of step_train's
                                     softmax cross-entropy (train.label_smoothing) */
};

struct model;
/* The state opt's kind needs beyond m->momentum: AdamW's second moment (m->moment2, zeroed).
 * Call once after model_build; nothing is allocated per step. */
void optim_alloc_state(struct model *m, enum optimizer_kind kind);
/* One update of every trainable value of m by its gradient, with opt's kind; returns the number
 * of updated values that are not finite afterwards. */
size_t optim_step(struct model *m, float lr, const struct sgd *opt);
/* torch.optim.AdamW (one parameter group, amsgrad off), entry by entry with t = opt->t:
 *   w ← w·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;
 *   w ← w − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε).
 * m is exp_avg (kept in the momentum block), v exp_avg_sq. Same return as sgd_step. */
size_t adamw_step(float *values, float *m1, float *m2, const float *grads, const float *mask,
                  size_t n, float lr, const struct sgd *opt);

/* PyTorch's SGD: d = g + wd·w; v = μ·v + d; w −= lr·(nesterov ? d + μ·v : v). Returns the
 * number of updated values that are not finite afterwards (a diverged step), counted in the
 * same pass. */
size_t sgd_step(float *values, float *momentum, const float *grads, const float *mask, size_t n,
              float lr, const struct sgd *opt);


#endif
