/* Stopping a run early and cleanly: on a signal, on divergence, or as asked.
 *
 *   stop_install(rank == 0, RUN_LAST_FILE);        SIGINT, SIGTERM, SIGUSR1: finish the step
 *   double sums[STEP_SUMS] = {[STEP_SIGNAL] = stop_signal_pending() != 0};
 *   step_train(..., sums);                         step.h: the flags ride on its allreduce
 *   if (stop_check_step(r, sums, s, err)) ...      diverged: an error before anything is saved
 *   if (stop_check_evaluation(r, loss, s, "...", err)) ...   a non-finite test loss: the same
 *   if (stop_now(r)) ...                           a signal or --stop-after-steps: save last.h5
 *   exit(stop_exit_code(r));                       EXIT_STOPPED, or 0
 *
 * A first signal only sets a flag: the step in progress finishes, every rank learns of the
 * flag through the step's allreduce, last.h5 is written (atomically, as always) and the run ends
 * with 128 + the signal's number and a line saying how to resume. A second signal ends the
 * process at once, without saving (the previous checkpoints are whole: files are renamed into
 * place), unless it is the same signal within a second: that is one request delivered twice
 * (a `pkill -f` matching the ranks reaches each rank directly and again through mpirun). A first
 * signal that comes after the final stage's last step has read the flag is too late: the run
 * finishes, exits 0 and stop_report says so. */
#ifndef REVIVE_STOP_H
#define REVIVE_STOP_H

#include <stdbool.h>

#include "run.h"
#include "step.h"

/* Installs the handlers for SIGINT, SIGTERM and SIGUSR1; announce: this process prints (rank 0)
 * that it finishes the step and then saves `saves` (a file name that lives as long as the
 * process: RUN_LAST_FILE, or a task's own). */
void stop_install(bool announce, const char *saves);
/* The command's work is done (the process only finalizes MPI and exits): a signal from now on
 * is noted silently, as there is no step left to finish nor file to save. Without it, the signal
 * mpirun sends the ranks still finalizing when another rank has exited with an error made rank 0
 * announce a save that never comes, after the run's one-line error. */
void stop_quiet(void);
/* The number of the first signal received, or 0. */
int stop_signal_pending(void);
/* After the step's allreduce: -1 with a message naming the stage, step and parameter when the
 * loss or a parameter is not finite; records an agreed stop signal in r->signal. */
int stop_check_step(struct run *r, const double *sums, long step_in_epoch, struct rv_error *err);
/* After an evaluation of the state as it stands (the epoch's end, or `when` a checkpoint is to
 * be written): -1 with a message naming the step and the newest checkpoint of a state that
 * evaluated finite (r->good) when the test loss is not finite. No checkpoint is written of a
 * state whose evaluation is not finite. */
int stop_check_evaluation(struct run *r, double loss, long step_in_epoch, const char *when,
                          struct rv_error *err);
/* A stop signal was agreed, or --stop-after-steps is reached: save last.h5 and stop. */
bool stop_now(const struct run *r);
/* Collective, after the last stage: rank 0 of a stopped run says why and how to resume; of a run
 * that finished although a stop signal came (after the final stage's last step had read the
 * flag, so too late to act on), that the run finished before the stop could take effect. */
void stop_report(const struct run *r);
/* The exit status of a run that stopped as asked (a signal, or --stop-after-steps) with last.h5
 * saved: one value whatever the cause, outside 1-127 (user errors, 2 a bad command line) and
 * 128 + N (a process a signal ended without saving: a second signal). Scripts (study.py) tell a
 * requested stop by it. */
#define EXIT_STOPPED 200
/* EXIT_STOPPED when r stopped as asked, else 0. */
int stop_exit_code(const struct run *r);
/* Removes dir's temporary checkpoint files ("*.tmp-PID") whose process no longer exists (a run
 * killed while writing); a living process's file is left alone. Returns the count removed. */
int stop_remove_stale_tmp(const char *dir, bool verbose);

#endif
