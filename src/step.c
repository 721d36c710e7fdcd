/* One training step (include/step.h). */
#include <math.h>

#include "step.h"

int step_train(struct model *m, const float *x, const int *y, int n, int global_n,
               const struct bn_reducer *red, struct comm *comm, float lr, const struct sgd *opt,
               double sums[2])
{
    sums[0] = sums[1] = 0.0; /* loss, correct: this rank's, then everyone's */
    model_zero_grad(m);
    /* An empty share still joins the synchronized-BN reductions; with per-rank statistics it
     * simply sits the step out. */
    if (n > 0 || red) {
        model_forward(m, x, n, true, red);
        int correct = 0;
        sums[0] = softmax_ce_forward_backward(m->d_logits, &correct, m->logits, y, n,
                                              m->spec.classes, global_n);
        sums[1] = correct;
        model_backward(m, n, red);
    }
    comm_sum_floats(comm, m->grads, m->total);
    comm_sum_doubles(comm, sums, 2);
    if (!isfinite(sums[0]))
        return -1;
    sgd_step(m->values, m->momentum, m->grads, m->mask, m->total, lr, opt);
    return 0;
}
