/* pipeline: the command line of revive.
 *
 *   pipeline run CONFIG [--set section.key=value]... [--out DIR]
 *   pipeline eval CHECKPOINT
 *   pipeline params [--depth D] [--width W] [--input CxHxW] [--classes K]
 *   pipeline help-config [--markdown]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "comm.h"
#include "config.h"
#include "model.h"
#include "run.h"
#include "stages.h"

static const char usage[] =
    "usage: pipeline COMMAND ...\n"
    "  run CONFIG [--set section.key=value]... [--out DIR]   train as CONFIG says\n"
    "  eval CHECKPOINT                                       test accuracy of a saved model\n"
    "  params [--arch resnet] [--depth 20] [--width 1] [--input 3x32x32] [--classes 10]\n"
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

static int print_params(int argc, char **argv)
{
    struct model_spec s = {.depth = 20, .width = 1, .in_c = 3, .in_h = 32, .in_w = 32, .classes = 10};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "pipeline params: %s needs a value\n%s", a, usage);
            return 2;
        }
        int ok = 1;
        if (strcmp(a, "--arch") == 0)
            ok = strcmp(v, "resnet") == 0;
        else if (strcmp(a, "--depth") == 0)
            ok = sscanf(v, "%d", &s.depth) == 1;
        else if (strcmp(a, "--width") == 0)
            ok = sscanf(v, "%d", &s.width) == 1;
        else if (strcmp(a, "--input") == 0)
            ok = sscanf(v, "%dx%dx%d", &s.in_c, &s.in_h, &s.in_w) == 3;
        else if (strcmp(a, "--classes") == 0)
            ok = sscanf(v, "%d", &s.classes) == 1;
        else {
            fprintf(stderr, "pipeline params: unknown option %s\n%s", a, usage);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "pipeline params: bad value '%s' for %s (e.g. --input 3x32x32, --arch resnet)\n", v, a);
            return 2;
        }
        i++;
    }
    struct model m;
    struct rv_error err;
    if (model_build(&m, &s, 0, 1, &err)) {
        fprintf(stderr, "pipeline params: %s\n", err.msg);
        return 2;
    }
    struct param_counts c = model_count(&m);
    printf("ResNet-%d width %d, input %dx%dx%d, %d classes\n", s.depth, s.width, s.in_c, s.in_h,
           s.in_w, s.classes);
    printf("  %-10s %12zu\n", "total", c.total);
    printf("  %-10s %12zu  %6.2f%%\n", "batchnorm", c.bn, 100.0 * c.bn / c.total);
    printf("  %-10s %12zu  %6.2f%%\n", "output", c.output, 100.0 * c.output / c.total);
    printf("  %-10s %12zu  %6.2f%%\n", "shortcut", c.shortcut, 100.0 * c.shortcut / c.total);
    printf("  %-10s %12zu  %6.2f%%\n", "conv", c.conv, 100.0 * c.conv / c.total);
    model_free(&m);
    return 0;
}

/* Reads CONFIG and the --set overrides that follow; every rank does the same, so every rank
 * reaches the same verdict. */
static int parse_run_args(struct config *cfg, char **out_dir, int argc, char **argv, struct rv_error *err)
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
        } else {
            return rv_fail(err, "run: unexpected argument '%s' (expected --set section.key=value or --out DIR)", argv[i]);
        }
    }
    return config_validate(cfg, err);
}

static int command_run(struct comm *comm, int argc, char **argv)
{
    struct config cfg;
    struct rv_error err = {{0}};
    char *out = NULL;
    int rc = parse_run_args(&cfg, &out, argc, argv, &err);
    if (comm_agree(comm, rc, &err))
        return fail(comm, &err);
    struct run r;
    rc = run_open(&r, &cfg, comm, &err);
    if (rc == 0 && out)
        snprintf(r.dir, sizeof r.dir, "%s", out);
    if (rc == 0 && comm->rank == 0)
        rc = make_dirs(r.dir, &err);
    if (comm_agree(comm, rc, &err)) {
        run_close(&r);
        return fail(comm, &err);
    }
    struct stage_plan plan = run_single_stage(&cfg);
    size_t trainable = run_set_trainable(&r, &plan);
    if (r.verbose) {
        struct param_counts pc = model_count(&r.model);
        printf("revive: %s  ResNet-%d width %d on %s (%d train, %d test, %dx%dx%d)  %d rank%s x %d thread%s\n",
               cfg.name, cfg.depth, cfg.width, cfg.dataset, r.train.n, r.test.n, r.train.c, r.train.h,
               r.train.w, comm->size, comm->size > 1 ? "s" : "", r.model.threads,
               r.model.threads > 1 ? "s" : "");
        printf("stage 0: %s, %d epochs, %zu of %zu parameters trainable (%.3f%%)\n", plan.kind,
               plan.epochs, trainable, pc.total, 100.0 * trainable / pc.total);
        fflush(stdout);
    }
    rc = run_train_stage(&r, &plan, &err);
    if (rc == 0) {
        char path[700];
        snprintf(path, sizeof path, "%s/stage-%02d.h5", r.dir, r.stage);
        rc = checkpoint_save(&r, path, &err);
        if (rc == 0 && r.verbose) {
            double acc = r.nhistory ? r.history[r.nhistory - 1].test_acc : 0.0;
            printf("stage 0 done: test accuracy %.2f%%, saved %s\n", 100.0 * acc, path);
        }
    }
    run_close(&r);
    return rc ? fail(comm, &err) : 0;
}

static int command_eval(struct comm *comm, int argc, char **argv)
{
    struct rv_error err = {{0}};
    if (argc != 1) {
        if (comm->rank == 0)
            fprintf(stderr, "pipeline eval: expected one checkpoint file\n%s", usage);
        return 2;
    }
    struct config cfg;
    int rc = checkpoint_read_config(&cfg, argv[0], &err);
    if (comm_agree(comm, rc, &err))
        return fail(comm, &err);
    struct run r;
    rc = run_open(&r, &cfg, comm, &err);
    if (rc == 0)
        rc = checkpoint_load(&r, argv[0], &err);
    if (rc) {
        run_close(&r);
        return fail(comm, &err);
    }
    double acc, loss;
    run_evaluate(&r, &acc, &loss);
    if (r.verbose)
        printf("%s: test accuracy %.2f%% (%d images), loss %.4f\n", argv[0], 100.0 * acc, r.test.n, loss);
    run_close(&r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "params") == 0)
        return print_params(argc - 2, argv + 2);
    if (strcmp(cmd, "help-config") == 0) {
        if (argc > 2 && strcmp(argv[2], "--markdown") == 0)
            config_write_markdown(stdout);
        else
            config_print_help(stdout);
        return 0;
    }
    if (strcmp(cmd, "run") != 0 && strcmp(cmd, "eval") != 0) {
        fprintf(stderr, "pipeline: unknown command '%s'\n%s", cmd, usage);
        return 2;
    }
    struct comm comm;
    comm_init(&comm, &argc, &argv);
    int rc = strcmp(cmd, "run") == 0 ? command_run(&comm, argc - 2, argv + 2)
                                     : command_eval(&comm, argc - 2, argv + 2);
    comm_finalize(&comm);
    return rc;
}
