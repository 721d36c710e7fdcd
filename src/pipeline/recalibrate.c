/* BatchNorm recalibration: after re-initialization a filter's running statistics (reset to 0 and
 * 1) do not describe what its fresh weights compute, and the filters after it see inputs of a new
 * scale too, so the eval-mode network is judged with stale statistics. Recalibration recomputes
 * every unit's running mean and variance from K training batches:
 *
 *   for j = 0 … K−1:  running ← (1 − m_j) · running + m_j · (batch statistics of batch j),
 *                     m_j = 1/(j+1)
 *
 * so running_mean = (1/K) Σ_j μ_j and running_var = (1/K) Σ_j s²_j (s² the unbiased batch
 * variance): the plain average of the K batch estimates, as PyTorch's BatchNorm with momentum=None
 * (up to float32 rounding of m_j and of each update). The forward pass is in train mode (batch
 * statistics, synchronized over ranks like training), nothing else changes: no gradient, no
 * parameter or momentum update.
 *
 * The batches are global batches of train.batch_size from the training set in the shuffle keyed
 * −1 − stage (training epochs use keys ≥ 0, so these draws are their own), augmented like
 * training, each split over ranks by the iterator training walks (batches.h): the same images on
 * any rank count. At most one pass over the data: K is capped at ceil(n / batch_size).
 *
 * A LayerNorm unit (MLP-Mixer's) has no running statistics: nothing to recalibrate. A network
 * with no BatchNorm unit is not recalibrated at all (0 batches: the measurement after
 * re-initialization already is the network's). */
#include <stdlib.h>

#include "run.h"

/* Sets unit u's BatchNorm momentum (the weight of a batch in its running statistics) to v and
 * returns the previous value: the one place recalibration touches it. */
static float swap_momentum(struct model *m, int u, float v)
{
    float old = m->units[u].bn.momentum;
    m->units[u].bn.momentum = v;
    return old;
}

int run_recalibrate(struct run *r, int batches, int stage)
{
    struct model *m = &r->model;
    struct batches b;
    run_train_batches(r, &b);
    int bn_units = 0;
    for (int u = 0; u < m->nunits; u++)
        bn_units += !m->units[u].layernorm;
    const int K = !bn_units ? 0 : batches < b.count ? batches : (int)b.count;
    if (K <= 0) {
        batches_close(&b);
        return 0;
    }
    struct bn_reducer reducer;
    const struct bn_reducer *red = run_bn_reducer(r, &reducer);
    batches_order(&b, -1 - stage);
    float *saved = rv_malloc((size_t)(m->nunits ? m->nunits : 1) * sizeof(float));
    for (int u = 0; u < m->nunits; u++) {
        const struct unit *un = &m->units[u];
        int C = un->channels;
        for (int ch = 0; ch < C && !un->layernorm; ch++) {
            m->running_stats[un->running + (size_t)ch] = 0.0f;
            m->running_stats[un->running + (size_t)C + (size_t)ch] = 1.0f;
        }
    }
    for (int j = 0; j < K; j++) {
        for (int u = 0; u < m->nunits; u++) {
            float old = swap_momentum(m, u, (float)(1.0 / (j + 1)));
            if (j == 0)
                saved[u] = old;
        }
        batches_load(&b, j);
        /* An empty share still joins the synchronized-BN reductions. */
        if (b.n > 0 || red)
            model_forward(m, b.x, b.n, true, red);
    }
    for (int u = 0; u < m->nunits; u++)
        swap_momentum(m, u, saved[u]);
    /* Per-rank statistics (train.sync_bn = false) differ; rank 0's are the model's, as in training. */
    comm_broadcast(r->comm, m->running_stats, m->running_total * sizeof(float), 0);
    free(saved);
    batches_close(&b);
    return K;
}
