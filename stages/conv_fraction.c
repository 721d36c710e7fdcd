/* γ, β and a fraction f of all conv weights, chosen at random by seed; optionally the output
 * layer. The chosen weights are those with the smallest scores, so a larger f contains a smaller.
 * The one builder of conv_fraction masks: a single stage, and the pipeline's nested stages
 * (a->nested keeps the previous stage's conv weights; a->prefer chooses re-initialized filters
 * first, pipeline.select = reinit_first). */
#include "stages.h"

static void set_trainable(struct model *m, const struct stage_args *a)
{
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        if (pa->kind != PARAM_CONV || !a->nested)
            for (size_t i = 0; i < pa->count; i++)
                m->mask[pa->offset + i] = 0.0f;
    }
    mask_kind(m, PARAM_GAMMA);
    mask_kind(m, PARAM_BETA);
    mask_kind_set(m, PARAM_OUTPUT_W, a->train_output);
    mask_kind_set(m, PARAM_OUTPUT_B, a->train_output);
    mask_conv_grow(m, a->seed, a->conv_fraction, a->prefer);
    model_mask_changed(m);
}

const struct stage_kind stage_conv_fraction = {
    "γ, β and a fraction of all conv weights (train.conv_fraction)", set_trainable};
