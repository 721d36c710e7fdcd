/* Stopping a run early: signal handlers, the per-step divergence and signal check agreed by all
 * ranks, and the removal of temporary files left by killed runs. See stop.h. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "stop.h"

/* The one piece of global mutable state in revive: a signal handler can reach nothing else.
 * It is read once per step and agreed over ranks, so the run never acts on it alone. */
static volatile sig_atomic_t pending_signal;
static volatile sig_atomic_t announce_signals;
/* The file a stop saves ("last.h5", superres's "state.h5"), for the handler's message: set once,
 * before the handlers are installed, to a string that lives as long as the process. */
static const char *saving_file = RUN_LAST_FILE;
/* When the pending signal arrived; touched only by the handler, which blocks the other stop
 * signals while it runs, so it is never written twice at once. */
static struct timespec pending_since;

/* A repeat of the pending signal this soon is the same request delivered twice, not a second
 * one: `pkill -f` that matches the ranks signals each rank directly and mpirun forwards it. */
#define SAME_REQUEST_SECONDS 1.0

static void say(const char *s)
{
    /* write(2) is async-signal-safe; stdio is not. */
    ssize_t ignored = write(STDERR_FILENO, s, strlen(s));
    (void)ignored;
}

static const char *signal_name(int signo)
{
    switch (signo) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "a signal";
    }
}

static double seconds_between(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
}

static void on_signal(int signo)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now); /* async-signal-safe */
    if (pending_signal == signo && seconds_between(pending_since, now) < SAME_REQUEST_SECONDS) {
        if (announce_signals) {
            say("pipeline: ");
            say(signal_name(signo));
            say(" again within a second: taken as the same request (to stop at once without "
                "saving, send another a second later)\n");
        }
        return;
    }
    if (pending_signal) {
        if (announce_signals) {
            say("pipeline: ");
            say(signal_name(signo));
            say(" again: stopping at once without saving; the last checkpoint written stays\n");
        }
        _exit(128 + signo);
    }
    pending_since = now;
    pending_signal = signo;
    if (announce_signals) {
        say("pipeline: ");
        say(signal_name(signo));
        say(": finishing this step, then saving ");
        say(saving_file);
        say(" (another signal a second later stops at once)\n");
    }
}

void stop_install(bool announce, const char *saves)
{
    announce_signals = announce;
    saving_file = saves;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    const int signals[] = {SIGINT, SIGTERM, SIGUSR1};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        sigaddset(&sa.sa_mask, signals[i]); /* the handler never interrupts itself */
    sa.sa_flags = SA_RESTART; /* file and MPI calls in progress continue */
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        /* A signal ignored on entry stays ignored, as shells expect: `pipeline run ... &` in a
         * script ignores SIGINT, so Ctrl-C at the terminal is not meant for it. */
        struct sigaction old;
        if (sigaction(signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(signals[i], &sa, NULL);
    }
}

void stop_quiet(void)
{
    announce_signals = 0;
}

int stop_signal_pending(void)
{
    return pending_signal;
}

/* The first parameter with a value that is not finite: the update changed only trainable ones. */
static int first_nonfinite_param(const struct model *m, float *value)
{
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        if (pa->trainable == 0)
            continue;
        for (size_t i = 0; i < pa->count; i++)
            if (!isfinite(m->values[pa->offset + i])) {
                *value = m->values[pa->offset + i];
                return p;
            }
    }
    return -1;
}

/* What the divergence errors say of the newest checkpoint kept. */
static const char *kept(const struct run *r)
{
    return r->good[0] ? r->good : "none (nothing was saved yet)";
}

int stop_check_step(struct run *r, const double *sums, long step_in_epoch, struct rv_error *err)
{
    const struct config *c = &r->cfg;
    if (!isfinite(sums[STEP_LOSS]) || sums[STEP_NONFINITE] > 0) {
        char what[160];
        float v = 0.0f;
        int p = sums[STEP_NONFINITE] > 0 ? first_nonfinite_param(&r->model, &v) : -1;
        if (!isfinite(sums[STEP_LOSS]))
            snprintf(what, sizeof what, "the loss became %g", sums[STEP_LOSS]);
        else if (p >= 0)
            snprintf(what, sizeof what, "parameter %s became %g in the update",
                     r->model.params[p].name, (double)v);
        else /* all ranks hold the same parameters; another rank saw it */
            snprintf(what, sizeof what, "a parameter became non-finite in the update");
        return rv_fail(err, "%s: %s at stage %d, epoch %d, step %ld; training diverged, nothing of "
                       "this step was saved; the newest checkpoint of a state that evaluated finite "
                       "is %s: lower train.lr (now %g) or add train.warmup_epochs", c->source, what,
                       r->stage, r->epoch + 1, step_in_epoch + 1, kept(r), c->lr);
    }
    if (sums[STEP_SIGNAL] > 0 && !r->signal) {
        /* A rank that received no signal itself (mpirun signals every rank; a scheduler may
         * signal one) reports SIGTERM's code. */
        int own = stop_signal_pending();
        r->signal = own ? own : SIGTERM;
    }
    return 0;
}

int stop_check_evaluation(struct run *r, double loss, long step_in_epoch, const char *when,
                          struct rv_error *err)
{
    if (isfinite(loss))
        return 0;
    const struct config *c = &r->cfg;
    return rv_fail(err, "%s: the test loss became %g at stage %d, epoch %d, step %ld (evaluated %s); "
                   "training diverged, nothing of this state was saved; the newest checkpoint of a "
                   "state that evaluated finite is %s: lower train.lr (now %g) or add "
                   "train.warmup_epochs", c->source, loss, r->stage, r->epoch + 1, step_in_epoch + 1,
                   when, kept(r), c->lr);
}

bool stop_now(const struct run *r)
{
    return r->signal != 0 ||
           (r->stop_after_steps > 0 && r->steps_this_process >= r->stop_after_steps);
}

void stop_report(const struct run *r)
{
    if (!r->stopped) {
        /* A signal that came after the final stage's last step had read the flag: announced,
         * never acted on. Every rank calls this, so every rank's flag counts. */
        double pending = stop_signal_pending() != 0;
        comm_sum_doubles(r->comm, &pending, 1);
        if (r->verbose && pending > 0) {
            int own = stop_signal_pending();
            fprintf(stderr, "pipeline: %s came after the last step: the run finished before the "
                    "stop could take effect; nothing to resume\n", signal_name(own ? own : SIGTERM));
            fflush(stderr);
        }
        return;
    }
    if (!r->verbose)
        return;
    if (r->signal) {
        fprintf(stderr, "pipeline: stopped by %s at stage %d, epoch %d, step %ld; saved %s/" RUN_LAST_FILE
                "; continue with: pipeline resume %s/" RUN_LAST_FILE "\n", signal_name(r->signal), r->stage,
                r->epoch, r->step, r->dir, r->dir);
        fflush(stderr);
    } else {
        printf("stopped after %ld steps as asked; continue with: pipeline resume %s/" RUN_LAST_FILE "\n",
               r->steps_this_process, r->dir);
    }
}

int stop_exit_code(const struct run *r)
{
    return r->stopped ? EXIT_STOPPED : 0;
}

/* "NAME.tmp-PID": the PID, or 0 when name is not such a file. */
static long tmp_owner(const char *name)
{
    const char *t = strstr(name, ".tmp-");
    if (!t)
        return 0;
    char *end;
    errno = 0;
    long pid = strtol(t + 5, &end, 10);
    return *end || end == t + 5 || errno || pid <= 0 ? 0 : pid;
}

int stop_remove_stale_tmp(const char *dir, bool verbose)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        long pid = tmp_owner(e->d_name);
        /* Only the writer's own files; kill(pid, 0) fails with ESRCH when no such process
         * exists (EPERM means it exists under another user). PIDs are those of this machine:
         * a run writes its directory from one node (rank 0). */
        if (pid <= 0 || pid == (long)getpid() || (pid_t)pid != pid || kill((pid_t)pid, 0) == 0 ||
            errno != ESRCH)
            continue;
        char path[RUN_PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) == 0) {
            removed++;
            if (verbose)
                printf("removed %s, left by process %ld, which no longer runs\n", path, pid);
        }
    }
    closedir(d);
    return removed;
}
