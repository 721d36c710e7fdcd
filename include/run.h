/* A run: the config, the data, the model and where training stands; what a checkpoint holds.
 *
 *   struct run r;
 *   if (run_open(&r, &cfg, &comm, &err)) ...      loads data, builds and initializes the model
 *   if (run_train_stage(&r, &plan, &err)) ...     epochs of one stage, a line per epoch
 *   run_evaluate(&r, &acc, &loss);                test accuracy with running statistics
 *
 * Training (src/pipeline/train.c), recalibration (recalibrate.c) and evaluation (here) walk the
 * same batch iterator (batches.h): run_train_batches and run_test_batches open it.
 *   run_close(&r);
 */
#ifndef REVIVE_RUN_H
#define REVIVE_RUN_H

#include <stdbool.h>

#include "batches.h"
#include "comm.h"
#include "config.h"
#include "data.h"
#include "model.h"
#include "provenance.h"
#include "schedule.h" /* struct stage_plan */
#include "stats.h"

/* One limit for the paths of a run, derived everywhere: a run's directory (run.out_dir/run.name,
 * or --out, or the directory of a resumed checkpoint) holds at most RUN_DIR_MAX - 1 bytes, which
 * fits out_dir and name at their longest; the files in it ("/stage-KK.h5", "/last.h5", and the
 * writer's ".tmp-PID") fit in RUN_PATH_MAX. A longer directory is an error, never cut short. */
#define RUN_DIR_MAX (2 * CONFIG_MAX_STRING)
/* The file in a run's directory that holds where the run stands (src/pipeline/train.c writes it;
 * `pipeline resume` reads it). */
#define RUN_LAST_FILE "last.h5"
#define RUN_PATH_MAX (RUN_DIR_MAX + 64)

struct history_row {
    int stage, epoch;          /* epoch is 1-based within the stage */
    double lr;                 /* at the epoch's last step */
    double train_loss, train_acc, test_loss, test_acc;
    double seconds;            /* wall time of the epoch (informative only) */
    /* |γ| over all filters after the epoch (stats_gamma_summary); NaN when unknown (rows
     * loaded from a checkpoint written before these columns existed) */
    double gamma_below_tau;    /* share of filters with |γ| < pipeline.threshold, 0…1 */
    double abs_gamma_q[3];     /* 10 %, 50 %, 90 % quantiles of |γ| (STATS_GAMMA_QUANTILES) */
};

struct run {
    struct config cfg;
    struct comm *comm;
    struct dataset train, test;
    struct model model;
    int local_batch_max;       /* this rank's largest share of a global batch */
    /* The input normalization the model is trained and evaluated with, per channel, in [0,1]
     * pixel units: x = (p/255 − mean) / std. Set from the training data at open (data.h), and
     * replaced by the checkpoint's own values when it has them (checkpoint_load), so a checkpoint
     * is evaluated with what it was trained with. norm_c = 0: unknown (not written). */
    int norm_c;
    float norm_mean[DATA_MAX_CHANNELS], norm_std[DATA_MAX_CHANNELS];

    int stage;                 /* index of the stage in progress or last finished */
    int epoch;                 /* epochs completed in that stage */
    long step;                 /* steps completed in that stage */
    /* Sums over the epoch in progress, so a mid-epoch resume reports the same epoch line. */
    double epoch_loss_sum, epoch_correct, epoch_seen;

    int nhistory, history_cap;
    struct history_row *history;

    int nprovenance;           /* process starts that trained this run, oldest first: those */
    struct provenance *provenance; /* stored in the checkpoint, then this process's (run_add_provenance) */

    double acc_start;          /* test accuracy right after this stage's re-initialization */
    double acc_start_recal;    /* the same after BatchNorm recalibration; −1 when not done */
    int nrecords;              /* statistics of the stages finished so far, one per stage */
    struct stage_record records[CONFIG_MAX_STAGES];

    long stop_after_steps;     /* --stop-after-steps: save last.h5 and stop after this many steps
                                  in this process (0 = never); for time-limited jobs and tests */
    long steps_this_process;
    bool stopped;              /* stopped early as asked (or by a signal); not an error */
    int signal;                /* a stop signal agreed by every rank (its number); 0 = none */
    bool seed_only;            /* loaded from a seed-only export: no optimizer state */
    /* The newest checkpoint of a state whose evaluation was finite, and where it stands, as the
     * divergence error names it: the last last.h5 this process wrote (src/pipeline/train.c),
     * else the checkpoint it resumed from; "" when there is none. */
    char good[RUN_PATH_MAX + 96];

    char dir[RUN_DIR_MAX];     /* out_dir/name, or --out: set by run_set_dir */
    bool verbose;              /* rank 0 prints */
    bool progress;             /* rank 0 on a terminal: a progress line within the epoch */
    double started;            /* monotonic seconds at open, for elapsed/ETA */
};

int run_open(struct run *r, const struct config *cfg, struct comm *comm, struct rv_error *err);
void run_close(struct run *r);
/* Trains one stage from where r stands (r->epoch, r->step) to plan->epochs: the loop and its
 * hooks in src/pipeline/train.c, the one writer of last.h5. Returns 0 with r->stopped set when
 * it stopped as asked; -1 with err set on divergence (a non-finite step or test evaluation) or
 * a failed write. */
int run_train_stage(struct run *r, const struct stage_plan *plan, struct rv_error *err);
/* Test-set accuracy and mean loss, sharded over ranks and summed. Collective. */
void run_evaluate(struct run *r, double *accuracy, double *loss);
/* The same over a test iterator from run_test_batches (no allocation: for a loop). */
void run_evaluate_on(struct run *r, struct batches *test, double *accuracy, double *loss);
/* The iterators of a run: global training batches of train.batch_size split over ranks, with
 * the config's augmentation (order them with batches_order); this rank's shard of the test set
 * in chunks of the model's batch. Close with batches_close. */
void run_train_batches(struct run *r, struct batches *b);
void run_test_batches(struct run *r, struct batches *b);
/* The reducer that synchronizes BatchNorm over ranks (train.sync_bn with more than one rank),
 * kept in *buf; NULL when every rank normalizes by its own share. */
const struct bn_reducer *run_bn_reducer(struct run *r, struct bn_reducer *buf);
/* BatchNorm recalibration (src/pipeline/recalibrate.c): every unit's running mean and variance become the
 * average of the batch statistics of up to `batches` global training batches (train-mode forward,
 * no parameter update; see there). stage keys the batches. Returns the batches used. */
int run_recalibrate(struct run *r, int batches, int stage);
/* The model spec for cfg and a data set's shape. */
struct model_spec run_model_spec(const struct config *cfg, const struct dataset *d);
/* The Mixer's keys of cfg; zero_head when the schedule's first stage trains the output layer
 * (the reference's zero head; a frozen head is drawn instead: src/models/mixer.c). */
struct model_mixer run_mixer_spec(const struct config *cfg);
double run_now(void);
/* Appends this process (provenance_current) to r's provenance and, on rank 0, prints it as one
 * line. argc/argv: the full command line as main received it. */
void run_add_provenance(struct run *r, int argc, char **argv);
/* Checks that dir can be a run's directory (not empty, shorter than RUN_DIR_MAX); `what` names
 * where it came from in the message ("--out", "the checkpoint's directory"). */
int run_dir_check(const char *dir, const char *what, struct rv_error *err);
/* Sets r->dir after run_dir_check. */
int run_set_dir(struct run *r, const char *dir, const char *what, struct rv_error *err);
/* buf (RUN_PATH_MAX bytes) = r->dir/file. */
void run_path(const struct run *r, const char *file, char *buf);

#endif
