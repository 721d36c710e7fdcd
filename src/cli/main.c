/* pipeline: the command line of revive.
 *
 *   pipeline run CONFIG [--set section.key=value]... [--out DIR]
 *   pipeline resume CHECKPOINT [--set section.key=value]... [--out DIR]
 *   pipeline eval CHECKPOINT [--clamp-gamma T] [--recalibrate K] [--test-limit N] [--data PATH]
 *   pipeline export --seed-only CHECKPOINT OUT.h5
 *   pipeline inspect CHECKPOINT|RUN_DIR [--layers] [--format table|csv|json] [--stage K]
 *   pipeline params [--arch A] [--depth D] [--width W] [--input CxHxW] [--classes K] [--stem S]
 *                   [--norm N] [--head H]
 *   pipeline help-config [--markdown]
 */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "blas_kernels.h"
#include "checkpoint.h"
#include "comm.h"
#include "config.h"
#include "inspect.h"
#include "params.h"
#include "metrics_log.h"
#include "model.h"
#include "models.h"
#include "pipeline.h"
#include "run.h"
#include "stages.h"
#include "stop.h"

static const char usage[] =
    "usage: pipeline COMMAND ...\n"
    "  run CONFIG [--set section.key=value]... [--out DIR]   train as CONFIG says\n"
    "      (run and resume also take --stop-after-steps N: save last.h5 and stop)\n"
    "  resume CHECKPOINT [--set section.key=value]... [--out DIR]\n"
    "                                                        continue where CHECKPOINT stood\n"
    "  eval CHECKPOINT [--clamp-gamma T] [--recalibrate K] [--test-limit N] [--data PATH]\n"
    "                                                        test accuracy of a saved model (and after\n"
    "                                                        BatchNorm recalibration on K batches; N = 0:\n"
    "                                                        all test images; PATH: another copy of the data)\n"
    "  export --seed-only CHECKPOINT OUT.h5                  a BN-only checkpoint as seed + BN\n"
    "  inspect CHECKPOINT|RUN_DIR [--layers] [--format table|csv|json] [--stage K]\n"
    "                                                        filter-revival statistics per stage\n"
    "  params [--arch resnet] [--depth 20] [--width 1] [--input 3x32x32] [--classes 10]\n"
    "         [--stem auto] [--norm batchnorm] [--head auto]\n"
    "                                                        parameter counts of a model\n"
    "  help-config [--markdown]                              every config key\n"
    "Run under mpirun for data-parallel training: mpirun -np 2 ./pipeline run CONFIG\n";

/* Reports an error once (rank 0) and returns the exit code. */
static int fail(const struct comm *c, const struct rv_error *err)
{
    if (c->rank == 0)
        fprintf(stderr, "pipeline: %s\n", err->msg);
    return 1;
}

static int parse_stop(const char *v, long *stop, struct rv_error *err)
{
    char *end;
    *stop = strtol(v, &end, 10);
    if (*end || *stop < 1)
        return rv_fail(err, "--stop-after-steps '%s' must be a whole number of steps >= 1", v);
    return 0;
}

/* Reads CONFIG and the --set overrides that follow; every rank does the same, so every rank
 * reaches the same verdict. */
static int parse_run_args(struct config *cfg, char **out_dir, long *stop, int argc, char **argv, struct rv_error *err)
{
    if (argc < 1)
        return rv_fail(err, "run needs a config file: pipeline run configs/demo.ini");
    config_defaults(cfg);
    if (config_load(cfg, argv[0], err))
        return -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
            if (config_set(cfg, argv[++i], err))
                return -1;
        } else if (strncmp(argv[i], "--set=", 6) == 0) {
            if (config_set(cfg, argv[i] + 6, err))
                return -1;
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            *out_dir = argv[++i];
        } else if (strcmp(argv[i], "--stop-after-steps") == 0 && i + 1 < argc) {
            if (parse_stop(argv[++i], stop, err))
                return -1;
        } else {
            return rv_fail(err, "run: unexpected argument '%s' (expected --set section.key=value, --out DIR or --stop-after-steps N)", argv[i]);
        }
    }
    if (*out_dir && run_dir_check(*out_dir, "--out", err))
        return -1;
    return config_validate(cfg, err);
}

/* Builds the schedule, prints it (rank 0), and trains from wherever r stands. */
static int train_schedule(struct comm *comm, struct run *r, struct rv_error *err)
{
    struct schedule sched;
    int rc = schedule_for_run(&sched, r, err);
    if (comm_agree(comm, rc, err))
        return -1;
    if (r->nrecords == r->stage + 1 && r->stage + 1 >= sched.n) {
        if (r->verbose)
            printf("%s: the run has finished its last stage (%d); nothing left to train\n",
                   r->cfg.source, r->stage);
        return 0;
    }
    if (rc == 0 && comm->rank == 0 && (rc = make_dirs(r->dir, err)) == 0)
        stop_remove_stale_tmp(r->dir, r->verbose);
    if (comm_agree(comm, rc, err))
        return -1;
    /* metrics.csv holds the history as it stands (a resumed run's from its checkpoint), then
     * grows by a row an epoch */
    if (metrics_log_start(r, err))
        return -1;
    if (r->verbose) {
        char net[96];
        model_families[r->model.spec.arch].describe(net, sizeof net, &r->model.spec);
        printf("revive: %s  %s on %s (%d train, %d test, %dx%dx%d)  %d rank%s x %d thread%s  -> %s\n",
               r->cfg.name, net, CHOICE_NAME(dataset_names, r->cfg.dataset), r->train.n, r->test.n,
               r->train.c, r->train.h, r->train.w, comm->size, comm->size > 1 ? "s" : "",
               r->model.threads, r->model.threads > 1 ? "s" : "", r->dir);
        /* schedule_print changes the mask; a resumed run keeps the one it loaded */
        float *mask = rv_malloc(r->model.total * sizeof(float));
        memcpy(mask, r->model.mask, r->model.total * sizeof(float));
        schedule_print(&sched, &r->model, &r->cfg, stdout);
        conv_algos_print(&r->model, &r->cfg, stdout);
        memcpy(r->model.mask, mask, r->model.total * sizeof(float));
        model_mask_changed(&r->model);
        free(mask);
    }
    if (pipeline_continue(r, &sched, err))
        return -1;
    stop_report(r);
    return 0;
}

static int command_run(struct comm *comm, int argc, char **argv)
{
    struct config cfg;
    struct rv_error err = {{0}};
    char *out = NULL;
    long stop = 0;
    int rc = parse_run_args(&cfg, &out, &stop, argc, argv, &err);
    if (comm_agree(comm, rc, &err))
        return fail(comm, &err);
    stop_install(comm->rank == 0);
    struct run r;
    rc = run_open(&r, &cfg, comm, &err);
    r.stop_after_steps = stop;
    if (rc == 0)
        run_add_provenance(&r, argc + 2, argv - 2); /* argv is main's argv + 2 */
    if (rc == 0 && out)
        rc = run_set_dir(&r, out, "--out", &err);
    if (rc == 0)
        rc = train_schedule(comm, &r, &err);
    int code = stop_exit_code(&r);
    run_close(&r);
    return rc ? fail(comm, &err) : code;
}

/* pipeline resume FILE [--set k=v]... [--out DIR]: continue exactly where FILE stood. With
 * overrides the run is a branch and must go to a new directory. */
static int command_resume(struct comm *comm, int argc, char **argv)
{
    struct rv_error err = {{0}};
    struct config cfg;
    const char *file = NULL;
    char *out = NULL;
    long stop = 0;
    int nsets = 0, rc = 0;
    for (int i = 0; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--stop-after-steps") == 0 && i + 1 < argc)
            rc = parse_stop(argv[++i], &stop, &err);
        else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc)
            nsets++, i++;
        else if (strncmp(argv[i], "--set=", 6) == 0)
            nsets++;
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else
            rc = rv_fail(&err, "resume: unexpected argument '%s' (usage: resume CHECKPOINT [--set section.key=value]... [--out DIR])", argv[i]);
    }
    if (rc == 0 && !file)
        rc = rv_fail(&err, "resume needs a checkpoint: pipeline resume checkpoints/RUN/stage-02.h5");
    if (rc == 0)
        rc = checkpoint_read_config(&cfg, file, &err);
    for (int i = 0; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "--set") == 0 && i + 1 < argc)
            rc = config_set(&cfg, argv[++i], &err);
        else if (strncmp(argv[i], "--set=", 6) == 0)
            rc = config_set(&cfg, argv[i] + 6, &err);
        else if (strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "--stop-after-steps") == 0)
            i++;
    }
    if (rc == 0 && out)
        rc = run_dir_check(out, "--out", &err);
    if (rc == 0 && nsets > 0 && !out)
        rc = rv_fail(&err, "resume with --set makes a branch: give it its own directory with --out DIR "
                     "(the original run is never overwritten)");
    if (rc == 0)
        rc = config_validate(&cfg, &err);
    if (comm_agree(comm, rc, &err))
        return fail(comm, &err);
    snprintf(cfg.source, sizeof cfg.source, "%s", file);
    stop_install(comm->rank == 0);
    struct run r;
    rc = run_open(&r, &cfg, comm, &err);
    r.stop_after_steps = stop;
    if (rc == 0)
        rc = checkpoint_load(&r, file, &err);
    if (rc == 0)
        run_add_provenance(&r, argc + 2, argv - 2); /* argv is main's argv + 2 */
    if (rc == 0) {
        if (out) {
            rc = run_set_dir(&r, out, "--out", &err);
        } else {
            /* the directory the checkpoint is in */
            char *dir = rv_malloc(strlen(file) + 2);
            strcpy(dir, file);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
            else
                strcpy(dir, ".");
            rc = run_set_dir(&r, dir, "the directory of the checkpoint", &err);
            free(dir);
        }
        /* A mid-stage checkpoint continues the stage in progress exactly; changing its config
         * (batch size, data, threshold, …) halfway would make a run that is neither. */
        if (rc == 0 && nsets > 0 && r.nrecords != r.stage + 1)
            rc = rv_fail(&err, "%s: --set needs a stage-end checkpoint (stage-KK.h5); this one is in "
                         "the middle of stage %d, which continues only as it was", file, r.stage);
        if (rc == 0 && r.verbose)
            printf("resuming %s: stage %d, epoch %d, step %ld\n", file, r.stage, r.epoch, r.step);
    }
    if (rc == 0) {
        rc = train_schedule(comm, &r, &err);
    }
    int code = stop_exit_code(&r);
    run_close(&r);
    return rc ? fail(comm, &err) : code;
}

/* pipeline eval CHECKPOINT [--clamp-gamma T] [--recalibrate K] [--test-limit N] [--data PATH]:
 * test accuracy, optionally with every |γ| < T set to 0 (filters switched off), and with K > 0
 * also after recalibrating the BatchNorm running statistics on K training batches
 * (src/pipeline/recalibrate.c), in memory only: the file is never written. On the first N test images
 * (0 = all; default: the run's data.test_limit), of the data set at PATH (default: the run's). */
static int command_eval(struct comm *comm, int argc, char **argv)
{
    struct rv_error err = {{0}};
    const char *file = NULL, *data = NULL;
    double clamp = 0.0;
    long test_limit = -1; /* −1: as the run had it */
    long recal = 0;
    int rc = 0;
    for (int i = 0; i < argc && rc == 0; i++) {
        char *end;
        if (strcmp(argv[i], "--clamp-gamma") == 0 && i + 1 < argc) {
            clamp = strtod(argv[++i], &end);
            if (*end || clamp <= 0.0)
                rc = rv_fail(&err, "eval: --clamp-gamma '%s' must be a positive number such as 0.01", argv[i]);
        } else if (strcmp(argv[i], "--test-limit") == 0 && i + 1 < argc) {
            test_limit = strtol(argv[++i], &end, 10);
            if (*end || argv[i][0] == '\0' || test_limit < 0 || test_limit > 10000000)
                rc = rv_fail(&err, "eval: --test-limit '%s' must be a whole number of test images, "
                             "0 for all", argv[i]);
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            data = argv[++i];
        } else if (strcmp(argv[i], "--recalibrate") == 0 && i + 1 < argc) {
            recal = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || recal < 1 || recal > 1000000)
                rc = rv_fail(&err, "eval: --recalibrate '%s' must be a number of batches from 1 to 1000000", argv[i]);
        } else if (!file && argv[i][0] != '-') {
            file = argv[i];
        } else {
            rc = rv_fail(&err, "eval: unexpected argument '%s' (usage: eval CHECKPOINT [--clamp-gamma T] "
                         "[--recalibrate K] [--test-limit N] [--data PATH])", argv[i]);
        }
    }
    if (rc == 0 && !file)
        rc = rv_fail(&err, "eval needs a checkpoint: pipeline eval checkpoints/RUN/stage-00.h5");
    struct config cfg;
    if (rc == 0)
        rc = checkpoint_read_config(&cfg, file, &err);
    if (rc == 0 && test_limit >= 0)
        cfg.test_limit = (int)test_limit;
    if (rc == 0 && data) {
        if (strlen(data) >= sizeof cfg.data_path)
            rc = rv_fail(&err, "eval: --data path is longer than %zu characters", sizeof cfg.data_path - 1);
        else
            snprintf(cfg.data_path, sizeof cfg.data_path, "%s", data);
    }
    if (comm_agree(comm, rc, &err))
        return fail(comm, &err);
    struct run r;
    rc = run_open(&r, &cfg, comm, &err);
    if (rc == 0)
        rc = checkpoint_load(&r, file, &err);
    if (rc) {
        run_close(&r);
        return fail(comm, &err);
    }
    int clamped = 0;
    if (clamp > 0.0) {
        struct model *m = &r.model;
        for (int p = 0; p < m->nparams; p++)
            if (m->params[p].kind == PARAM_GAMMA)
                for (size_t i = 0; i < m->params[p].count; i++)
                    if (fabsf(m->values[m->params[p].offset + i]) < clamp) {
                        m->values[m->params[p].offset + i] = 0.0f;
                        clamped++;
                    }
    }
    double acc, loss;
    run_evaluate(&r, &acc, &loss);
    if (r.verbose) {
        printf("%s: test accuracy %.2f%% (%d images), loss %.4f", file, 100.0 * acc, r.test.n, loss);
        if (clamp > 0.0)
            printf(", with %d γ of |γ| < %g set to 0", clamped, clamp);
        printf("\n");
    }
    if (recal > 0) {
        int used = run_recalibrate(&r, (int)recal, r.stage);
        run_evaluate(&r, &acc, &loss);
        if (r.verbose)
            printf("%s: after recalibrating BatchNorm on %d training batch%s: test accuracy %.2f%%, "
                   "loss %.4f (the file is unchanged)\n", file, used, used == 1 ? "" : "es", 100.0 * acc, loss);
    }
    run_close(&r);
    return 0;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* pipeline export --seed-only IN OUT */
static int command_export(int argc, char **argv)
{
    struct rv_error err = {{0}};
    if (argc != 3 || strcmp(argv[0], "--seed-only") != 0) {
        fprintf(stderr, "pipeline export: usage: export --seed-only CHECKPOINT OUT.h5\n");
        return 2;
    }
    /* The export replaces OUT by rename: were OUT the input itself (under any spelling or
     * link), the full checkpoint would be gone. */
    struct stat in, out;
    if (stat(argv[1], &in) == 0 && stat(argv[2], &out) == 0 && in.st_dev == out.st_dev &&
        in.st_ino == out.st_ino) {
        fprintf(stderr, "pipeline: export: %s and %s are the same file; write the seed-only "
                "export to another path, e.g. %s\n", argv[1], argv[2], "small.h5");
        return 1;
    }
    if (checkpoint_export_seed_only(argv[1], argv[2], &err)) {
        fprintf(stderr, "pipeline: %s\n", err.msg);
        return 1;
    }
    long a = file_size(argv[1]), b = file_size(argv[2]);
    printf("%s: %ld bytes\n%s: %ld bytes (seed-only, %.1f%% of the full file)\n", argv[1], a, argv[2],
           b, a > 0 ? 100.0 * b / a : 0.0);
    return 0;
}

int main(int argc, char **argv)
{
    blas_kernels_reexec(argv); /* before anything else: it may start the program again */
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "params") == 0)
        return params_main(argc - 2, argv + 2);
    if (strcmp(cmd, "inspect") == 0)
        return inspect_main(argc - 2, argv + 2);
    if (strcmp(cmd, "export") == 0)
        return command_export(argc - 2, argv + 2);
    if (strcmp(cmd, "help-config") == 0) {
        if (argc > 2 && strcmp(argv[2], "--markdown") == 0)
            config_write_markdown(stdout);
        else
            config_print_help(stdout);
        return 0;
    }
    int (*command)(struct comm *, int, char **) =
        strcmp(cmd, "run") == 0      ? command_run
        : strcmp(cmd, "resume") == 0 ? command_resume
        : strcmp(cmd, "eval") == 0   ? command_eval
                                     : NULL;
    if (!command) {
        fprintf(stderr, "pipeline: unknown command '%s'; commands: run resume eval inspect export params help-config (see pipeline --help)\n", cmd);
        return 2;
    }
    struct comm comm;
    comm_init(&comm, &argc, &argv);
    int rc = command(&comm, argc - 2, argv + 2);
    comm_finalize(&comm);
    return rc;
}
