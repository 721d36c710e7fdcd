/* Every parameter trains: the ordinary network. */
#include <stddef.h>

#include "stages.h"

static void set_trainable(struct model *m, const struct stage_args *a)
{
    (void)a;
    for (size_t i = 0; i < m->total; i++)
        m->mask[i] = 1.0f;
    model_mask_changed(m);
}

const struct stage_kind stage_all = {"every parameter", set_trainable};
