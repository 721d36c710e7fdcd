/* The staged pipeline: BN only → re-initialize → BN + N % → re-initialize → … → all parameters.
 *
 *   struct schedule s;
 *   schedule_build(&s, &cfg, &err);          schedule.h: from [pipeline] (or one stage from [train])
 *   schedule_trainable(counts, &total, &s, &run.model.spec, &cfg, &err);
 *   schedule_print(&s, counts, total, &cfg, stdout);  with the trainable count of every stage
 *   pipeline_continue(&run, &s, &err);       from wherever run stands: a fresh run, the middle of
 *                                           a stage (last.h5), or the end of a stage (stage-KK.h5)
 *
 * At every stage end: statistics (stats.h), then checkpoints/<run>/stage-KK.h5, then (except
 * after the last stage) every filter with |γ| < τ is re-initialized and the next stage begins.
 */
#ifndef REVIVE_PIPELINE_H
#define REVIVE_PIPELINE_H

#include <stdio.h>

#include "run.h"
#include "schedule.h"

/* The schedule of a run loaded from a checkpoint: at a stage end, the finished stages as recorded
 * and then the config's stages after the last finished fraction (so a branch resumed with
 * --set pipeline.s=2 from the 4 % stage continues 8 %, 16 %, …); otherwise schedule_build. */
int schedule_for_run(struct schedule *s, const struct run *r, struct rv_error *err);
/* The trainable count of every stage of s for a model of spec (built here, parameters only, so
 * no run's mask changes), and the model's parameter count. */
int schedule_trainable(size_t *trainable, size_t *total, const struct schedule *s,
                       const struct model_spec *spec, const struct config *c, struct rv_error *err);
/* Prints one line per stage with its trainable count (from schedule_trainable). */
void schedule_print(const struct schedule *s, const size_t *trainable, size_t total,
                    const struct config *c, FILE *f);
/* "BN + 4% of conv + output", "BN only", "per_channel (k = 2)", "all": a stage for people. */
void schedule_describe(char *out, size_t cap, const struct stage_plan *p, const struct config *c);
/* One line: the algorithm each kind of conv of m runs under c's train.conv_algo (for auto, with
 * m's rule), and how many convs of the kind, so a user sees what auto chose on this machine:
 *   convolutions (train.conv_algo = auto, rule 2): stem im2col, 3x3 stride 1 onednn (4), ... */
void conv_algos_print(const struct model *m, const struct config *c, FILE *f);

/* Trains from r's position to the end of the schedule. */
int pipeline_continue(struct run *r, const struct schedule *s, struct rv_error *err);

/* Sets the trainable mask of stage k: for conv_fraction stages, the previous stage's conv weights
 * plus new ones (nested), chosen by score or, with select = reinit_first, from the filters
 * re-initialized before stage k first. reinit: per filter flags of that transition (or NULL). */
size_t pipeline_set_trainable(struct run *r, const struct schedule *s, int k, const uint8_t *reinit);

#endif
