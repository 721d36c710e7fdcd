/* pipeline plan CONFIG|CHECKPOINT [--set section.key=value]... [--format text|json]: the stages a
 * config makes (schedule.h), each with its kind, fraction, epochs, trainable count and learning-
 * rate schedule, without data or training; for a checkpoint, the schedule its resume follows and
 * how many of its stages are finished. scripts/study_records.py reads the JSON. */
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "json.h"
#include "optim.h"
#include "pipeline.h"

static const char *const plan_formats[] = {"text", "json", NULL};
static const struct cli_option opt_plan_format = {
    "--format", "text|json", CLI_CHOICE, .choices = plan_formats,
    .help = "json: {config, pipeline, parameters, finished, stages: [{stage, kind, fraction, epochs, ...}]}"};

/* The model a run of c builds, from the input shape its data set has (as its loader gives it:
 * src/data/fashion_mnist.c 1x28x28, src/data/cifar10.c 3x32x32, 10 classes each; synthetic from
 * the [data] keys), without reading the data: only in_c and classes change a count. */
static struct model_spec plan_spec(const struct config *c)
{
    struct dataset shape = {.c = 1, .h = 28, .w = 28, .classes = 10};
    if (c->dataset == DATASET_CIFAR10)
        shape = (struct dataset){.c = 3, .h = 32, .w = 32, .classes = 10};
    else if (c->dataset == DATASET_SYNTHETIC)
        shape = (struct dataset){.c = c->synthetic_channels, .h = c->synthetic_size,
                                 .w = c->synthetic_size, .classes = c->synthetic_classes};
    return run_model_spec(c, &shape);
}

static bool is_checkpoint(const char *path)
{
    size_t n = strlen(path);
    return n >= 3 && strcmp(path + n - 3, ".h5") == 0;
}

static void write_lr(FILE *f, const struct lr_schedule *lr)
{
    fputs("{\"schedule\": ", f);
    json_string(f, CHOICE_NAME(lr_kind_names, lr->kind));
    fputs(", \"base\": ", f);
    json_number(f, lr->base);
    fputs(", \"milestones\": [", f);
    for (int i = 0; lr->kind == LR_STEP && i < lr->milestones.n; i++) {
        fputs(i ? ", " : "", f);
        json_number(f, lr->milestones.v[i]);
    }
    fputs("], \"factor\": ", f);
    json_number(f, lr->factor);
    fputs(", \"warmup_epochs\": ", f);
    json_number(f, lr->warmup_epochs);
    fprintf(f, ", \"warmup_steps\": %ld, \"min\": ", lr->warmup_steps);
    json_number(f, lr->min);
    fputs("}", f);
}

static void write_json(FILE *f, const char *source, const struct schedule *s, int finished,
                       const size_t *trainable, size_t total, const struct config *c)
{
    fputs("{\"config\": ", f);
    json_string(f, source);
    fprintf(f, ", \"pipeline\": %s, \"parameters\": %zu, \"finished\": %d, \"stages\": [",
            c->pipeline ? "true" : "false", total, finished);
    for (int k = 0; k < s->n; k++) {
        const struct stage_plan *p = &s->stage[k];
        char what[320];
        schedule_describe(what, sizeof what, p, c);
        fprintf(f, "%s\n  {\"stage\": %d, \"kind\": ", k ? "," : "", k);
        json_string(f, CHOICE_NAME(stage_kind_names, p->kind));
        fputs(", \"fraction\": ", f);
        json_number(f, p->fraction);
        fprintf(f, ", \"epochs\": %d, \"train_output\": %s, \"trainable\": %zu, \"describe\": ", p->epochs,
                p->train_output ? "true" : "false", trainable[k]);
        json_string(f, what);
        fputs(", \"lr\": ", f);
        const struct lr_schedule lr = lr_schedule_from_config(c, p->epochs, p->lr);
        write_lr(f, &lr);
        fputs("}", f);
    }
    fputs("\n]}\n", f);
}

static void print_lr(FILE *f, const struct config *c)
{
    char base[40], factor[40];
    config_format_double(c->lr, base, sizeof base);
    config_format_double(c->lr_factor, factor, sizeof factor);
    if (c->pipeline && c->stage_lr.n > 0)
        snprintf(base, sizeof base, "pipeline.lr");
    fprintf(f, "learning rate per stage: train.lr_schedule = %s from %s", CHOICE_NAME(lr_kind_names, c->lr_schedule), base);
    if (c->lr_schedule == LR_STEP && (c->milestones.n || c->milestone_fractions.n))
        fprintf(f, ", times %s at each of train.%s", factor, c->milestones.n ? "milestones" : "milestone_fractions");
    if ((c->lr_schedule == LR_COSINE || c->lr_schedule == LR_WARMUP_COSINE) && c->lr_min > 0)
        fprintf(f, " down to train.lr_min = %g", c->lr_min);
    if (c->warmup_epochs > 0)
        fprintf(f, ", after %g warm-up epochs", c->warmup_epochs);
    if (c->warmup_steps > 0)
        fprintf(f, ", after %d warm-up steps", c->warmup_steps);
    fputs(" (the schedule restarts with every stage)\n", f);
    if (c->optimizer == OPT_ADAMW)
        fprintf(f, "optimizer: adamw, beta1 %g, beta2 %g, eps %g, decoupled weight decay %g\n",
                c->beta1, c->beta2, c->adam_eps, c->weight_decay);
    if (c->label_smoothing > 0)
        fprintf(f, "training loss: cross-entropy with label smoothing %g\n", c->label_smoothing);
}

static int command_plan(const struct cli_args *a)
{
    struct rv_error err = {{0}};
    const char *file = a->operand[0];
    /* A checkpoint: the schedule `pipeline resume FILE [--set ...]` would follow, its finished
     * stages as recorded, then what the config says comes after them (schedule_for_run). */
    const bool checkpoint = is_checkpoint(file);
    struct comm self = COMM_SELF_INIT;
    struct run *r = rv_calloc(1, sizeof *r);
    struct config cfg;
    config_defaults(&cfg);
    int rc = checkpoint ? checkpoint_load_file_run(r, &self, file, &err) : config_load(&cfg, file, &err);
    if (checkpoint && rc == 0)
        cfg = r->cfg;
    for (int i = 0; i < a->ngiven && rc == 0; i++)
        if (a->given[i].opt == &cli_set)
            rc = config_set(&cfg, a->given[i].text, &err);
    if (rc == 0)
        rc = config_validate(&cfg, &err);
    struct schedule s;
    if (rc == 0 && checkpoint) {
        r->cfg = cfg;
        rc = schedule_for_run(&s, r, &err);
    } else if (rc == 0) {
        rc = schedule_build(&s, &cfg, &err);
    }
    const int finished = checkpoint ? r->nrecords : 0;
    if (checkpoint)
        checkpoint_free_file_run(r);
    free(r);
    size_t trainable[SCHEDULE_MAX_STAGES], total = 0;
    const struct model_spec spec = plan_spec(&cfg);
    if (rc == 0)
        rc = schedule_trainable(trainable, &total, &s, &spec, &cfg, &err);
    if (rc) {
        fprintf(stderr, "pipeline: %s\n", err.msg);
        return 1;
    }
    if ((int)cli_number(a, &opt_plan_format, 0) == 1) {
        write_json(stdout, file, &s, finished, trainable, total, &cfg);
    } else {
        schedule_print(&s, trainable, total, &cfg, stdout);
        if (checkpoint)
            printf("finished: %d of %d stages (pipeline resume %s)\n", finished, s.n,
                   finished >= s.n ? "has nothing left to train" : "continues from there");
        print_lr(stdout, &cfg);
    }
    return 0;
}

static const struct cli_option *const plan_options[] = {&cli_set, &opt_plan_format, NULL};

const struct cli_command plan_command = {
    "plan", "CONFIG|CHECKPOINT", 1, 1, "a config file (or a checkpoint): pipeline plan configs/demo.ini",
    plan_options, "the stages CONFIG makes: kind, fraction, epochs, trainable count, learning rate",
    .main = command_plan};
