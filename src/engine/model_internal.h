/* Between the engine's files: the buffer plan (model_plan.c) that model_build and model_bytes
 * run. */
#ifndef REVIVE_MODEL_INTERNAL_H
#define REVIVE_MODEL_INTERNAL_H

#include "model.h"

/* Plans every per-batch buffer of m's layer list and carves them from one arena. */
void model_plan_alloc(struct model *m);

#endif
