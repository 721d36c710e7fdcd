/* One training step, the same for the training loop (src/train.c) and the benchmark.
 *
 *   struct comm self = COMM_SELF_INIT;
 *   struct sgd opt = {.momentum = 0.9, .weight_decay = 1e-4};
 *   double sums[2];
 *   if (step_train(&m, x, y, n, n, NULL, &self, 0.1f, &opt, sums)) ... the loss was not finite
 *
 * Forward (batch statistics, reduced over ranks through red when not NULL), softmax
 * cross-entropy, backward, one allreduce of the gradient block and one of {loss, correct}, then
 * masked SGD. x, y are this rank's n images of a global batch of global_n (the loss gradient is
 * divided by global_n). A rank whose share is empty still joins the reductions.
 */
#ifndef REVIVE_STEP_H
#define REVIVE_STEP_H

#include "comm.h"
#include "layers.h"
#include "model.h"
#include "optim.h"

/* sums receives {Σ loss, Σ correct} over the global batch. Returns 0 after the SGD update, or
 * -1 when the summed loss is not finite: the parameters are then left as they were. */
int step_train(struct model *m, const float *x /* (n, in_c, in_h, in_w) */, const int *y /* (n) */,
               int n, int global_n, const struct bn_reducer *red, struct comm *comm, float lr,
               const struct sgd *opt, double sums[2]);

#endif
