/* BatchNorm only: γ and β train, every conv and the output layer stay at their random values
 * (the paper's central experiment). */
#include "stages.h"

static void set_trainable(struct model *m, const struct stage_args *a)
{
    (void)a;
    mask_clear(m);
    mask_kind(m, PARAM_GAMMA);
    mask_kind(m, PARAM_BETA);
    model_mask_changed(m);
}

const struct stage_kind stage_bn = {"BatchNorm γ and β only", set_trainable};
