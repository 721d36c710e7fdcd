/* One training step (include/step.h). */
#include <math.h>

#include "step.h"

int step_train(struct model *m, const float *x, const int *y, int n, int global_n,
               const struct bn_reducer *red, struct comm *comm, float lr, const struct sgd *opt,
               double sums[STEP_SUMS])
{
    sums[STEP_LOSS] = sums[STEP_CORRECT] = sums[STEP_NONFINITE] = 0.0; /* this rank's, then everyone's */
    model_zero_grad(m);
    /* An empty share still joins the synchronized-BN reductions; with per-rank statistics it
     * simply sits the step out. */
    if (n > 0 || red) {
        model_forward(m, x, n, true, red);
        int correct = 0;
        sums[STEP_LOSS] = softmax_ce_smooth_forward_backward(m->d_logits, &correct, m->logits, y,
                                                             n, m->spec.classes, global_n,
                                                             opt->label_smoothing);
        sums[STEP_CORRECT] = correct;
        model_backward(m, n, red);
    }
    comm_sum_floats(comm, m->grads, m->total);
    /* The update goes first and its check rides on the allreduce of the sums: an update that
     * overflows while the loss is still finite is caught in the step that made it. (A rank
     * whose own loss is not finite skips the update; the sum tells every rank.) */
    if (isfinite(sums[STEP_LOSS]))
        sums[STEP_NONFINITE] = (double)optim_step(m, lr, opt);
    comm_sum_doubles(comm, sums, STEP_SUMS);
    return isfinite(sums[STEP_LOSS]) && sums[STEP_NONFINITE] == 0 ? 0 : -1;
}
