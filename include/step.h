/* One training step, the same for the training loop (src/pipeline/train.c) and the benchmark.
 *
 *   struct comm self = COMM_SELF_INIT;
 *   struct sgd opt = {.momentum = 0.9, .weight_decay = 1e-4};
 *   double sums[STEP_SUMS] = {0};
 *   if (step_train(&m, x, y, n, n, NULL, &self, 0.1f, &opt, sums)) ... diverged: do not save m
 *
 * Forward (batch statistics, reduced over ranks through red when not NULL), softmax
 * cross-entropy, backward, one allreduce of the gradient block, masked SGD, then one allreduce
 * of {loss, correct, non-finite values the update made, stop flag}: so every rank learns of a
 * divergence or a stop signal on any rank in the same step (src/pipeline/stop.c). x, y are this rank's n
 * images of a global batch of global_n (the loss gradient is divided by global_n). A rank whose
 * share is empty still joins the reductions.
 */
#ifndef REVIVE_STEP_H
#define REVIVE_STEP_H

#include "comm.h"
#include "layers.h"
#include "model.h"
#include "optim.h"

/* The doubles summed over ranks once per step. */
enum { STEP_LOSS, STEP_CORRECT, STEP_NONFINITE, STEP_SIGNAL, STEP_SUMS };

/* sums[STEP_SIGNAL] holds this rank's stop flag on entry (0 or 1); on return sums holds the sums
 * over all ranks. Returns 0, or -1 when the summed loss or a parameter after the update is not
 * finite (alike on every rank): the model is then damaged and must not be saved. */
int step_train(struct model *m, const float *x /* (n, in_c, in_h, in_w) */, const int *y /* (n) */,
               int n, int global_n, const struct bn_reducer *red, struct comm *comm, float lr,
               const struct sgd *opt, double sums[STEP_SUMS]);

#endif
