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
 * training, each split over ranks as in src/pipeline/train.c: the same images on any rank count. At most
 * one pass over the data: K is capped at ceil(n / batch_size). */
#include <stdlib.h>
#include <string.h>

#include "run.h"

static void reduce_over_ranks(double *buf, int n, void *ctx)
{
    comm_sum_doubles(ctx, buf, (size_t)n);
}

int run_recalibrate(struct run *r, int batches, int stage)
{
    struct model *m = &r->model;
    const struct config *c = &r->cfg;
    const struct dataset *d = &r->train;
    struct comm *comm = r->comm;
    const int B = c->batch_size;
    const long per_epoch = (d->n + B - 1) / B;
    const int K = batches < per_epoch ? batches : (int)per_epoch;
    if (K <= 0)
        return 0;
    struct bn_reducer reducer = {.sum = reduce_over_ranks, .ctx = comm};
    const struct bn_reducer *red = (c->sync_bn && comm->size > 1) ? &reducer : NULL;
    const struct augment aug = {.crop_pad = c->augment_crop, .flip = c->augment_flip};
    const int key = -1 - stage;
    size_t image = (size_t)d->c * d->h * d->w;
    float *x = rv_malloc((size_t)r->local_batch_max * image * sizeof(float));
    int *y = rv_malloc((size_t)r->local_batch_max * sizeof(int));
    int *order = rv_malloc((size_t)d->n * sizeof(int));
    float *saved = rv_malloc((size_t)(m->nunits ? m->nunits : 1) * sizeof(float));
    data_epoch_order(order, d->n, (uint64_t)c->seed, key);
    for (int u = 0; u < m->nunits; u++) {
        const struct unit *un = &m->units[u];
        int C = un->channels;
        saved[u] = un->bn.momentum;
        for (int ch = 0; ch < C; ch++) {
            m->running_stats[un->running + (size_t)ch] = 0.0f;
            m->running_stats[un->running + (size_t)C + (size_t)ch] = 1.0f;
        }
    }
    for (int j = 0; j < K; j++) {
        int start = j * B, count = d->n - start < B ? d->n - start : B;
        int lo = start + (int)((long)count * comm->rank / comm->size);
        int hi = start + (int)((long)count * (comm->rank + 1) / comm->size);
        int n = hi - lo;
        for (int u = 0; u < m->nunits; u++)
            m->units[u].bn.momentum = (float)(1.0 / (j + 1));
        data_make_batch(x, y, d, order + lo, n, &aug, (uint64_t)c->seed, key);
        /* An empty share still joins the synchronized-BN reductions. */
        if (n > 0 || red)
            model_forward(m, x, n, true, red);
    }
    for (int u = 0; u < m->nunits; u++)
        m->units[u].bn.momentum = saved[u];
    /* Per-rank statistics (train.sync_bn = false) differ; rank 0's are the model's, as in training. */
    comm_broadcast(comm, m->running_stats, m->running_total * sizeof(float), 0);
    free(saved);
    free(x);
    free(y);
    free(order);
    return K;
}
