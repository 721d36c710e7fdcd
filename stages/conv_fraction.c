/* γ, β and a fraction f of all conv weights, chosen at random by seed; optionally the output
 * layer. The chosen weights are those with the smallest scores, so a larger f contains a smaller. */
#include "stages.h"

static void set_trainable(struct model *m, const struct stage_args *a)
{
    mask_clear(m);
    mask_kind(m, PARAM_GAMMA);
    mask_kind(m, PARAM_BETA);
    if (a->train_output) {
        mask_kind(m, PARAM_OUTPUT_W);
        mask_kind(m, PARAM_OUTPUT_B);
    }
    mask_conv_fraction(m, a->seed, a->conv_fraction);
    model_mask_changed(m);
}

const struct stage_kind stage_conv_fraction = {
    "γ, β and a fraction of all conv weights (train.conv_fraction)", set_trainable};
