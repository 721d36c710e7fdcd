/* pipeline: the command line of revive. The commands and their options are tables (cli.h);
 * `pipeline --help` prints them:
 *
 *   pipeline run CONFIG [--set section.key=value]... [--out DIR] [--stop-after-steps N]
 *   pipeline resume CHECKPOINT [--set section.key=value]... [--out DIR] [--stop-after-steps N]
 *   pipeline eval CHECKPOINT [--clamp-gamma T] [--recalibrate K] [--test-limit N] [--data PATH] [--format json]
 *   pipeline plan CONFIG|CHECKPOINT [--set section.key=value]... [--format text|json]
 *   pipeline export --seed-only CHECKPOINT OUT.h5
 *   pipeline inspect FILE|RUN_DIR [--layers] [--format table|csv|json] [--stage K]
 *   pipeline params [--arch A] [--depth D] [--width W] [--input CxHxW] [--classes K] [--stem S]
 *                   [--norm N] [--head H]
 *   pipeline help-config [--markdown] [--format text|json|markdown]
 *   pipeline superres CONFIG [--set section.key=value]... [--out DIR]
 *   pipeline style CONFIG [--set section.key=value]... [--out DIR]
 *   pipeline style-stats CONFIG [--set section.key=value]... [--out DIR]
 *   pipeline style-judge CONFIG IMAGE.png [--set section.key=value]... [--judge-seed N] [--format json]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blas_kernels.h"
#include "checkpoint.h"
#include "cli.h"
#include "comm.h"
#include "config.h"
#include "inspect.h"
#include "json.h"
#include "metrics_log.h"
#include "model.h"
#include "models.h"
#include "pipeline.h"
#include "run.h"
#include "stages.h"
#include "stop.h"

/* Reports an error once (rank 0) and returns the exit code. */
static int fail(const struct comm *c, const struct rv_error *err)
{
    if (c->rank == 0)
        fprintf(stderr, "pipeline: %s\n", err->msg);
    return 1;
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
        char net[128]; /* the family's own words: "ResNet-20 width 1", "MLP-Mixer patch 4, …" */
        model_families[r->model.spec.arch].describe(net, sizeof net, &r->model.spec);
        printf("revive: %s  %s on %s (%d train, %d test, %dx%dx%d)  %d rank%s x %d thread%s  -> %s\n",
               r->cfg.name, net, CHOICE_NAME(dataset_names, r->cfg.dataset), r->train.n, r->test.n,
               r->train.c, r->train.h, r->train.w, comm->size, comm->size > 1 ? "s" : "",
               r->model.threads, r->model.threads > 1 ? "s" : "", r->dir);
        size_t trainable[SCHEDULE_MAX_STAGES], total;
        struct rv_error unused;
        /* Rank 0 alone: it cannot fail, the run's model was built from this spec. */
        int counted = schedule_trainable(trainable, &total, &sched, &r->model.spec, &r->cfg, &unused);
        REVIVE_ASSERT(counted == 0);
        schedule_print(&sched, trainable, total, &r->cfg, stdout);
        conv_algos_print(&r->model, &r->cfg, stdout);
    }
    if (pipeline_continue(r, &sched, err))
        return -1;
    stop_report(r);
    return 0;
}

/* Applies the --set values of a, in the order given, over cfg. */
static int apply_sets(struct config *cfg, const struct cli_args *a, struct rv_error *err)
{
    for (int i = 0; i < a->ngiven; i++)
        if (a->given[i].opt == &cli_set && config_set(cfg, a->given[i].text, err))
            return -1;
    return 0;
}

static int count_sets(const struct cli_args *a)
{
    int n = 0;
    for (int i = 0; i < a->ngiven; i++)
        n += a->given[i].opt == &cli_set;
    return n;
}

/* pipeline run CONFIG [--set k=v]... [--out DIR] [--stop-after-steps N]. Every rank reads the
 * config and reaches the same verdict. */
static int command_run(const struct cli_args *a)
{
    struct comm *comm = a->comm;
    struct config cfg;
    struct rv_error err = {{0}};
    const char *out = cli_string(a, &cli_out, NULL);
    config_defaults(&cfg);
    int rc = config_load(&cfg, a->operand[0], &err);
    if (rc == 0)
        rc = apply_sets(&cfg, a, &err);
    if (rc == 0 && out)
        rc = run_dir_check(out, "--out", &err);
    if (rc == 0)
        rc = config_validate(&cfg, &err);
    if (comm_agree(comm, rc, &err))
        return fail(comm, &err);
    stop_install(comm->rank == 0, RUN_LAST_FILE);
    struct run r;
    rc = run_open(&r, &cfg, comm, &err);
    r.stop_after_steps = (long)cli_number(a, &cli_stop_after_steps, 0);
    if (rc == 0)
        run_add_provenance(&r, a->argc, a->argv);
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
static int command_resume(const struct cli_args *a)
{
    struct comm *comm = a->comm;
    struct rv_error err = {{0}};
    struct config cfg;
    const char *file = a->operand[0], *out = cli_string(a, &cli_out, NULL);
    int nsets = count_sets(a);
    int rc = checkpoint_read_config(&cfg, file, &err);
    if (rc == 0)
        rc = apply_sets(&cfg, a, &err);
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
    stop_install(comm->rank == 0, RUN_LAST_FILE);
    struct run r;
    rc = run_open(&r, &cfg, comm, &err);
    r.stop_after_steps = (long)cli_number(a, &cli_stop_after_steps, 0);
    if (rc == 0)
        rc = checkpoint_load(&r, file, &err);
    if (rc == 0)
        run_add_provenance(&r, a->argc, a->argv);
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
    if (rc == 0)
        rc = train_schedule(comm, &r, &err);
    int code = stop_exit_code(&r);
    run_close(&r);
    return rc ? fail(comm, &err) : code;
}

static const struct cli_option opt_clamp_gamma = {
    "--clamp-gamma", "T", CLI_DOUBLE, 0, 1e30, .valid = "a positive number such as 0.01",
    .help = "set every |γ| < T to 0 first (switch those filters off)"};
static const struct cli_option opt_recalibrate = {
    "--recalibrate", "K", CLI_LONG, 1, 1000000, .valid = "a number of batches from 1 to 1000000",
    .help = "also after recalibrating BatchNorm on K training batches (in memory)"};
static const struct cli_option opt_test_limit = {
    "--test-limit", "N", CLI_LONG, 0, 10000000, .valid = "a whole number of test images, 0 for all",
    .help = "the first N test images (0: all; default: the run's data.test_limit)"};
static const struct cli_option opt_data = {"--data", "PATH", CLI_STRING,
                                           .help = "another copy of the run's data set"};
static const char *const eval_formats[] = {"text", "json", NULL};
static const struct cli_option opt_eval_format = {
    "--format", "text|json", CLI_CHOICE, .choices = eval_formats,
    .help = "json: one object with the file, images, accuracy and loss, and the clamp and "
            "recalibration figures (null when not asked)"};

/* pipeline eval CHECKPOINT [--clamp-gamma T] [--recalibrate K] [--test-limit N] [--data PATH]:
 * test accuracy, optionally with every disabled γ set to 0 (|γ| < T, or T × the unit's largest
 * |γ| when the run's pipeline.threshold_mode is relative: filters switched off), and with K > 0
 * also after recalibrating the BatchNorm running statistics on K training batches
 * (src/pipeline/recalibrate.c), in memory only: the file is never written. On the first N test images
 * (0 = all; default: the run's data.test_limit), of the data set at PATH (default: the run's). */
static int command_eval(const struct cli_args *a)
{
    struct comm *comm = a->comm;
    struct rv_error err = {{0}};
    const char *file = a->operand[0], *data = cli_string(a, &opt_data, NULL);
    double clamp = cli_number(a, &opt_clamp_gamma, 0.0);
    long test_limit = (long)cli_number(a, &opt_test_limit, -1); /* −1: as the run had it */
    long recal = (long)cli_number(a, &opt_recalibrate, 0);
    bool json = (int)cli_number(a, &opt_eval_format, 0) == 1;
    struct config cfg;
    int rc = checkpoint_read_config(&cfg, file, &err);
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
    /* T replaces τ; "disabled" keeps the run's pipeline.threshold_mode, so --clamp-gamma τ
     * reproduces a stage's acc_clamped. */
    struct stats_threshold t = {.tau = clamp, .mode = r.cfg.threshold_mode};
    int clamped = clamp > 0.0 ? gamma_clamp(&r.model, t) : 0;
    double acc, loss, recal_acc = 0.0, recal_loss = 0.0;
    run_evaluate(&r, &acc, &loss);
    int used = recal > 0 ? run_recalibrate(&r, (int)recal, r.stage) : 0;
    if (recal > 0)
        run_evaluate(&r, &recal_acc, &recal_loss);
    char tau[48];
    stats_threshold_text(tau, sizeof tau, t);
    if (r.verbose && json) {
        printf("{\"file\": ");
        json_string(stdout, file);
        printf(", \"images\": %d, \"accuracy\": ", r.test.n);
        json_number(stdout, acc);
        printf(", \"loss\": ");
        json_number(stdout, loss);
        printf(", \"clamp\": ");
        if (clamp > 0.0) {
            printf("{\"threshold\": ");
            json_number(stdout, clamp);
            printf(", \"mode\": ");
            json_string(stdout, CHOICE_NAME(threshold_mode_names, t.mode));
            printf(", \"clamped\": %d}", clamped);
        } else
            printf("null");
        printf(", \"recalibrated\": ");
        if (recal > 0) {
            printf("{\"batches\": %d, \"accuracy\": ", used);
            json_number(stdout, recal_acc);
            printf(", \"loss\": ");
            json_number(stdout, recal_loss);
            printf("}");
        } else
            printf("null");
        printf("}\n");
    } else if (r.verbose) {
        printf("%s: test accuracy %.2f%% (%d images), loss %.4f", file, 100.0 * acc, r.test.n, loss);
        if (clamp > 0.0)
            printf(", with %d γ of |γ| < %s set to 0", clamped, tau);
        printf("\n");
        if (recal > 0)
            printf("%s: after recalibrating BatchNorm on %d training batch%s: test accuracy %.2f%%, "
                   "loss %.4f (the file is unchanged)\n", file, used, used == 1 ? "" : "es",
                   100.0 * recal_acc, recal_loss);
    }
    run_close(&r);
    return 0;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static const struct cli_option opt_seed_only = {
    "--seed-only", NULL, CLI_FLAG, .help = "the parameters as the seed and BN (required: the one export)"};

/* pipeline export --seed-only IN OUT */
static int command_export(const struct cli_args *a)
{
    struct rv_error err = {{0}};
    const char *in_path = a->operand[0], *out_path = a->operand[1];
    if (!cli_flag(a, &opt_seed_only)) {
        fprintf(stderr, "pipeline: export: --seed-only is missing (the one kind of export): "
                "pipeline export --seed-only CHECKPOINT OUT.h5\n");
        return CLI_EXIT_USAGE;
    }
    /* The export replaces OUT by rename: were OUT the input itself (under any spelling or
     * link), the full checkpoint would be gone. */
    struct stat in, out;
    if (stat(in_path, &in) == 0 && stat(out_path, &out) == 0 && in.st_dev == out.st_dev &&
        in.st_ino == out.st_ino) {
        fprintf(stderr, "pipeline: export: %s and %s are the same file; write the seed-only "
                "export to another path, e.g. %s\n", in_path, out_path, "small.h5");
        return 1;
    }
    if (checkpoint_export_seed_only(in_path, out_path, &err)) {
        fprintf(stderr, "pipeline: %s\n", err.msg);
        return 1;
    }
    long x = file_size(in_path), y = file_size(out_path);
    printf("%s: %ld bytes\n%s: %ld bytes (seed-only, %.1f%% of the full file)\n", in_path, x, out_path,
           y, x > 0 ? 100.0 * y / x : 0.0);
    return 0;
}

static const char *const help_formats[] = {"text", "json", "markdown", NULL};
static const struct cli_option opt_help_format = {
    "--format", "text|json|markdown", CLI_CHOICE, .choices = help_formats,
    .help = "json: every key's section, name, type, default, bounds or choices and help"};
static const struct cli_option opt_markdown = {"--markdown", NULL, CLI_FLAG,
                                               .help = "docs/config.md (the same as --format markdown)"};

static int command_help_config(const struct cli_args *a)
{
    int format = (int)cli_number(a, &opt_help_format, 0);
    if (cli_flag(a, &opt_markdown) || format == 2)
        config_write_markdown(stdout);
    else if (format == 1) {
        /* What scripts need from the binary: its keys, and its exit statuses (study.py tells a
         * run stopped as asked by its status). */
        printf("{\"exit_status\": {\"error\": 1, \"usage\": %d, \"stopped\": %d},\n\"keys\": ", CLI_EXIT_USAGE,
               EXIT_STOPPED);
        config_write_json(stdout);
        printf("}\n");
    }
    else
        config_print_help(stdout);
    return 0;
}

/* ---- the command table ---- */

static const struct cli_option *const run_options[] = {&cli_set, &cli_out, &cli_stop_after_steps, NULL};
static const struct cli_option *const eval_options[] = {&opt_clamp_gamma, &opt_recalibrate,
                                                        &opt_test_limit, &opt_data, &opt_eval_format, NULL};
static const struct cli_option *const export_options[] = {&opt_seed_only, NULL};
static const struct cli_option *const help_config_options[] = {&opt_markdown, &opt_help_format, NULL};

static const struct cli_command cmd_run = {
    "run", "CONFIG", 1, 1, "a config file: pipeline run configs/demo.ini", run_options,
    "train as CONFIG says", .mpi = true, .main = command_run};
static const struct cli_command cmd_resume = {
    "resume", "CHECKPOINT", 1, 1, "a checkpoint: pipeline resume checkpoints/RUN/stage-02.h5",
    run_options, "continue where CHECKPOINT stood (with --set: a branch, in --out DIR)", .mpi = true,
    .main = command_resume};
static const struct cli_command cmd_eval = {
    "eval", "CHECKPOINT", 1, 1, "a checkpoint: pipeline eval checkpoints/RUN/stage-00.h5",
    eval_options, "test accuracy of a saved model (the file is never written)", .mpi = true,
    .main = command_eval};
static const struct cli_command cmd_export = {
    "export", "CHECKPOINT OUT.h5", 2, 2, "a checkpoint and the file to write: pipeline export "
    "--seed-only CHECKPOINT OUT.h5", export_options, "a BN-only checkpoint as seed + BN",
    .main = command_export};
static const struct cli_command cmd_help_config = {
    "help-config", "", 0, 0, "", help_config_options, "every config key", .main = command_help_config};

static const struct cli_command *const commands[] = {
    &cmd_run, &cmd_resume, &cmd_eval, &plan_command, &cmd_export, &inspect_command_row, &params_command,
    &cmd_help_config, &image_metrics_command, &superres_command, &style_command,
    &style_stats_command, &style_judge_command, NULL};

int main(int argc, char **argv)
{
    blas_kernels_reexec(argv); /* before anything else: it may start the program again */
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_usage(argc < 2 ? stderr : stdout, commands);
        return argc < 2 ? CLI_EXIT_USAGE : 0;
    }
    const struct cli_command *cmd = NULL;
    for (int i = 0; commands[i] && !cmd; i++)
        if (strcmp(argv[1], commands[i]->name) == 0)
            cmd = commands[i];
    if (!cmd) {
        char names[256] = "";
        size_t used = 0;
        for (int i = 0; commands[i] && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? " " : "", commands[i]->name);
        fprintf(stderr, "pipeline: unknown command '%s'; commands: %s (see pipeline --help)\n", argv[1], names);
        return CLI_EXIT_USAGE;
    }
    struct comm comm = COMM_SELF_INIT;
    if (cmd->mpi)
        comm_init(&comm, &argc, &argv);
    struct cli_args a;
    struct rv_error err = {{0}};
    int rc;
    if (cli_parse(&a, cmd, argc - 2, argv + 2, &err)) {
        if (comm.rank == 0)
            fprintf(stderr, "pipeline: %s\n", err.msg);
        rc = CLI_EXIT_USAGE;
    } else if (a.help) {
        if (comm.rank == 0)
            cli_command_usage(stdout, cmd);
        rc = 0;
    } else {
        a.comm = &comm;
        a.argc = argc;
        a.argv = argv;
        rc = cmd->main(&a);
    }
    stop_quiet();
    /* Tests (tests/stop.test.sh): the SIGTERM mpirun sends a rank still in MPI_Finalize when
     * another rank has exited with an error, at the one moment it can come. Meant for the
     * commands that install the stop handlers; any other ends by the signal's default action. */
    if (getenv("REVIVE_TEST_SIGTERM_AT_FINALIZE"))
        raise(SIGTERM);
    comm_finalize(&comm);
    return rc;
}
