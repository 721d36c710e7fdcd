/* A run's configuration: INI files read with libinih, checked against one table of keys.
 *
 *   struct config cfg;
 *   config_defaults(&cfg);
 *   if (config_load(&cfg, "configs/demo.ini", &err)) ...        unknown key / bad value: file:line
 *   if (config_set(&cfg, "train.epochs=2", &err)) ...            a --set override
 *   if (config_validate(&cfg, &err)) ...                         checks across keys
 *   char *ini = config_to_ini(&cfg);                             the effective config, as INI; free()
 *
 * Every key lives in one row of the table in src/config.c: section, name, type, bounds,
 * default and help. The parser, the validator, `pipeline help-config` and docs/config.md all
 * come from that table.
 */
#ifndef REVIVE_CONFIG_H
#define REVIVE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "error.h"

#define CONFIG_MAX_LIST 32
#define CONFIG_MAX_STRING 256

struct config_list {
    int n;
    double v[CONFIG_MAX_LIST];
};

struct config {
    /* [run] */
    char name[CONFIG_MAX_STRING];     /* checkpoints go to out_dir/name/ */
    char out_dir[CONFIG_MAX_STRING];
    int seed;
    int threads;                      /* OpenMP threads per rank; 0 = OMP_NUM_THREADS or all cores */
    /* [data] */
    char dataset[CONFIG_MAX_STRING];  /* fashion_mnist | cifar10 | synthetic */
    char data_path[CONFIG_MAX_STRING];/* "" = the data set's default directory */
    int train_limit, test_limit;      /* 0 = all */
    int augment_crop;                 /* zero-padding of the random crop; 0 = none */
    bool augment_flip;
    int synthetic_train, synthetic_test, synthetic_size, synthetic_channels, synthetic_classes;
    /* [model] */
    char arch[CONFIG_MAX_STRING];     /* resnet */
    int depth, width;
    char gamma_init[CONFIG_MAX_STRING]; /* uniform | one */
    /* [train] */
    char trainable[CONFIG_MAX_STRING];  /* all | bn | bn_output | output | per_channel | conv_fraction */
    int per_channel_k;
    double conv_fraction;
    int epochs;
    int batch_size, eval_batch_size;
    double lr, momentum, weight_decay;
    bool nesterov;
    char lr_schedule[CONFIG_MAX_STRING]; /* constant | step | cosine */
    struct config_list milestones;       /* epochs at which step multiplies lr by lr_factor */
    struct config_list milestone_fractions; /* the same as fractions of the stage's epochs */
    double lr_factor;
    double warmup_epochs;
    bool sync_bn;
    int checkpoint_every_steps;          /* 0 = only at epoch ends */
    char conv_algo[CONFIG_MAX_STRING];   /* CONV_ALGO_NAMES (layers.h): auto | im2col | winograd */
    /* [pipeline] */
    bool pipeline;                       /* key pipeline.enabled */
    double pipeline_n, pipeline_s;       /* fractions N, sN, s²N, … while < 1 */
    struct config_list fractions;        /* explicit list instead of N and s */
    struct config_list stage_epochs;     /* one value for all stages, or one per stage; empty = train.epochs */
    double threshold;                    /* τ: a filter is disabled when |γ| < τ */
    char select[CONFIG_MAX_STRING];      /* random | reinit_first */
    bool train_output;                   /* output layer trains in the partial stages */
    char reinit_gamma[CONFIG_MAX_STRING]; /* initial | fresh | zero | value: γ of a re-initialized filter */
    double reinit_gamma_value;           /* reinit_gamma = value */
    char reinit_beta[CONFIG_MAX_STRING]; /* initial | keep */
    double reinit_weight_scale;          /* factor on a re-initialized filter's fresh conv weights */
    bool reinit;                         /* false: the control, nothing is re-initialized */
    int recalibrate_batches;             /* BN running statistics from K batches after a transition */

    char source[CONFIG_MAX_STRING];      /* the file it was read from, for messages */
};

void config_defaults(struct config *c);
/* Reads an INI file over the current values. Errors name path:line and the key. */
int config_load(struct config *c, const char *path, struct rv_error *err);
/* Same from text (e.g. the config stored in a checkpoint); origin names it in messages. */
int config_load_string(struct config *c, const char *text, const char *origin, struct rv_error *err);
/* "section.key=value". */
int config_set(struct config *c, const char *assignment, struct rv_error *err);
/* Checks across keys (depth = 6n+2, fractions increasing, …). */
int config_validate(const struct config *c, struct rv_error *err);
/* The effective configuration as INI text (every key, in table order); caller frees. */
char *config_to_ini(const struct config *c);
/* `pipeline help-config`: every key with type, bounds, default and help. */
void config_print_help(FILE *f);
/* docs/config.md, generated from the table. */
void config_write_markdown(FILE *f);
/* The data directory to use: data_path, or the data set's default. */
const char *config_data_dir(const struct config *c);

#endif
