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
/* Writes out a copy of the checkpoint in without the conv weights (and without the output layer
 * if it was never trained), which loading regenerates from the seed. Refuses a checkpoint whose
 * conv weights differ from their seed-generated values. Such a file evaluates, and resumes from
 * its stage end (a new stage needs no optimizer state); it cannot resume mid-stage. */
int checkpoint_export_seed_only(const char *in, const char *out, struct rv_error *err);
/* Reads the parameter values and running statistics of the checkpoint at path into m, whose
 * network must be the file's /model (a frozen loss network: lossnet.h); nothing else. */
int checkpoint_load_model(struct model *m, const char *path, struct rv_error *err);
struct h5in;
/* That f is a revive checkpoint of a format version this build reads (a clear error if not). */
int checkpoint_check_format(struct h5in *f, struct rv_error *err);
/* Makes dir and its parents (like mkdir -p). */
int make_dirs(const char *dir, struct rv_error *err);

#endif
