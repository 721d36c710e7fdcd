/* The output layer only: a linear probe on random features (the paper's baseline). */
#include "stages.h"

static void set_trainable(struct model *m, const struct stage_args *a)
{
    (void)a;
    mask_clear(m);
    mask_kind(m, PARAM_OUTPUT_W);
    mask_kind(m, PARAM_OUTPUT_B);
    model_mask_changed(m);
}

const struct stage_kind stage_output = {"the output layer only", set_trainable};
