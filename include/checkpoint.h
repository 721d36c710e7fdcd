/* Checkpoints: everything a run needs to continue, in one HDF5 file (docs/checkpoint-format.md).
 *
 *   checkpoint_save(&run, "checkpoints/demo/stage-00.h5", &err);   rank 0 writes, atomically;
 *                                                                 collective: all ranks agree
 *   checkpoint_load(&run, path, &err);                             every rank reads
 */
#ifndef REVIVE_CHECKPOINT_H
#define REVIVE_CHECKPOINT_H

#include "run.h"

#define CHECKPOINT_FORMAT "revive-checkpoint"
/* The format text of pipeline superres's mid-run state file (checkpoint_save_sr_state). */
#define CHECKPOINT_SR_STATE_FORMAT "revive-superres-state"
/* 2: datasets chunked with HDF5's Fletcher-32 filter, and the root attribute `checksum` (CRC-32)
 * over the attributes and strings. 3: every string fixed-length (no HDF5 global heap), and a
 * variable-length one refused unread. Versions 1 and 2 (variable-length strings) are still read. */
#define CHECKPOINT_VERSION 3
/* The first version whose strings are all fixed-length. */
#define CHECKPOINT_FIXED_STRINGS 3
/* The first version written only by revives whose train.conv_algo = auto followed rule 2 (oneDNN
 * came before format 3): the rule a file without /model conv_auto_rule ran is 1 below it, 2 from it. */
#define CHECKPOINT_FIRST_RULE_2 3

/* Collective. Rank 0 writes path (via a temporary file and rename); returns the agreed result. */
int checkpoint_save(struct run *r, const char *path, struct rv_error *err);
/* Reads the config stored in path into *cfg (to build a run before loading the rest), with the
 * rule train.conv_algo = auto follows in that run (cfg->conv_auto_rule; rule 1 when the file
 * does not say, refused when newer than this build's). */
int checkpoint_read_config(struct config *cfg, const char *path, struct rv_error *err);
/* Loads parameters, statistics, masks, optimizer state, position and history into an opened run
 * whose model was built from the checkpoint's config. */
int checkpoint_load(struct run *r, const char *path, struct rv_error *err);
/* The run a checkpoint holds, read without opening a run (no data set is loaded): config, model,
 * position, history and stage records, for tools that only look (`pipeline plan`); r->comm =
 * self. Free it with checkpoint_free_file_run (also after a failure). */
int checkpoint_load_file_run(struct run *r, struct comm *self, const char *path, struct rv_error *err);
void checkpoint_free_file_run(struct run *r);
/* Writes out a copy of the checkpoint in without the conv weights (and without the output layer
 * if it was never trained), which loading regenerates from the seed. Refuses a checkpoint whose
 * conv weights differ from their seed-generated values. Such a file evaluates, and resumes from
 * its stage end (a new stage needs no optimizer state); it cannot resume mid-stage. */
int checkpoint_export_seed_only(const char *in, const char *out, struct rv_error *err);
/* The input normalization a network was trained with: c = 0 when the file does not say. */
struct ck_input_norm {
    int c;
    float mean[DATA_MAX_CHANNELS], std[DATA_MAX_CHANNELS];
};
/* A frozen network's weights (lossnet.h, style_task.h): reads the parameter values and running
 * statistics of the checkpoint at path into m, whose network must be the file's /model except for
 * the input's height and width (convolutional features read any size; each parameter's shape is
 * still checked). A seed-only export's absent parameters take their values from its seed. The
 * file's input normalization into *norm unless norm is NULL. Nothing else is read. */
int checkpoint_load_model(struct model *m, const char *path, struct ck_input_norm *norm,
                          struct rv_error *err);
/* pipeline superres's mid-run state file (DIR/state.h5, written at every epoch's end and when
 * stopped): the generator's parameters, its optimizer state (SGD's momentum; AdamW's two
 * moments) and running statistics, and where the run stands: the step (the data order, the
 * learning rate and AdamW's bias correction follow from it, the seed and the config), the loss
 * sums of the epoch in progress and one row per epoch. Rows of the checkpoint layout table marked
 * as state rows (checkpoint_layout.c), written and read by the same code as a checkpoint, with
 * its checksum, its atomic write and its checked reading.
 *
 *   struct sr_state st = {.step = done, .pixel_sum = pix, ..., .epochs = E, .rows = rows};
 *   checkpoint_save_sr_state("runs/sr/state.h5", &cfg, &generator, &st, &err);
 *   checkpoint_load_sr_state("runs/sr/state.h5", &cfg, &generator, &st, &err);  st.rows: E rows
 */
struct sr_epoch {
    double lr, pixel, perceptual, seconds; /* lr at the epoch's last step; mean losses per image */
};
struct sr_state {
    long step;                      /* optimizer steps completed over the run */
    double pixel_sum, perceptual_sum; /* the epoch in progress's loss sums (0 at its start) */
    int epochs;                     /* train.epochs: the rows */
    struct sr_epoch *rows;          /* finished epochs; the one in progress's seconds so far */
};
int checkpoint_save_sr_state(const char *path, const struct config *cfg, const struct model *g,
                             const struct sr_state *st, struct rv_error *err);
/* Into the opened run's generator g (built from cfg) and *st (rows: st->epochs of them): the file
 * must be a state file of this config (the same INI text), each value within its row's bounds. */
int checkpoint_load_sr_state(const char *path, const struct config *cfg, struct model *g,
                             struct sr_state *st, struct rv_error *err);
struct h5in;
/* That f is a revive checkpoint of a format version this build reads (a clear error if not). */
int checkpoint_check_format(struct h5in *f, struct rv_error *err);
/* Makes dir and its parents (like mkdir -p). */
int make_dirs(const char *dir, struct rv_error *err);

#endif
