/* BatchNorm and the output layer: the paper's "BN + output" variant. */
#include "stages.h"

static void set_trainable(struct model *m, const struct stage_args *a)
{
    (void)a;
    mask_clear(m);
    mask_kind(m, PARAM_GAMMA);
    mask_kind(m, PARAM_BETA);
    mask_kind(m, PARAM_OUTPUT_W);
    mask_kind(m, PARAM_OUTPUT_B);
    model_mask_changed(m);
}

const struct stage_kind stage_bn_output = {"BatchNorm γ, β and the output layer",
                                           set_trainable};
