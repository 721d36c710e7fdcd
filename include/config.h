/* A run's configuration: INI files read with libinih, checked against one table of keys.
 *
 *   struct config cfg;
 *   config_defaults(&cfg);
 *   if (config_load(&cfg, "configs/demo.ini", &err)) ...        unknown key / bad value: file:line
 *   if (config_set(&cfg, "train.epochs=2", &err)) ...            a --set override
 *   if (config_validate(&cfg, &err)) ...                         checks across keys
 *   char *ini = config_to_ini(&cfg);                             the effective config, as INI; free()
 *
 * Every key lives in one row of the table in src/config/config.c: section, name, type, bounds,
 * default and help. The parser, the validator, `pipeline help-config` and docs/config.md all
 * come from that table.
 */
#ifndef REVIVE_CONFIG_H
#define REVIVE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "error.h"
#include "layers.h" /* enum conv_algo */
#include "lossnet.h" /* enum lossnet_init and its names */
#include "model.h"  /* enum arch_kind, model_stem, model_norm, model_head and their names */
#include "style_loss.h" /* enum swag_form and swag_names */

/* The most stages a pipeline has: the one limit shared by the config's checks (the values of
 * pipeline.fractions and pipeline.epochs, the stages pipeline.n and s make), the schedule
 * (pipeline.h), a run's stage records (run.h) and the checkpoint reader. */
#define CONFIG_MAX_STAGES 32
/* A list holds at most one value per stage. */
#define CONFIG_MAX_LIST CONFIG_MAX_STAGES
#define CONFIG_MAX_STRING 256

/* Every choice is an enum with one name table (names in enum order, defined in
 * src/config/config_table.c): the config stores the enum, its parser, help and docs/config.md take the
 * names from the table, and a name read back from a file goes through config_choice_index. */
enum dataset_kind { DATASET_FASHION_MNIST, DATASET_CIFAR10, DATASET_SYNTHETIC, DATASET_COUNT };
enum gamma_init { GAMMA_INIT_UNIFORM, GAMMA_INIT_ONE, GAMMA_INIT_COUNT };
/* What a stage trains (stages.h has one file per kind). */
enum stage_kind_id { STAGE_ALL, STAGE_BN, STAGE_BN_OUTPUT, STAGE_OUTPUT, STAGE_PER_CHANNEL,
                     STAGE_CONV_FRACTION, STAGE_KIND_COUNT };
enum lr_kind { LR_CONSTANT, LR_STEP, LR_COSINE, LR_WARMUP_COSINE, LR_KIND_COUNT };
/* The optimizer (optim.h): SGD with momentum, or AdamW (decoupled weight decay). */
enum optimizer_kind { OPT_SGD, OPT_ADAMW, OPT_COUNT };
enum select_mode { SELECT_RANDOM, SELECT_REINIT_FIRST, SELECT_COUNT };
/* What a re-initialized filter's γ and β become (stages.h, struct reinit_options). */
enum reinit_gamma { REINIT_GAMMA_INITIAL, REINIT_GAMMA_FRESH, REINIT_GAMMA_ZERO, REINIT_GAMMA_VALUE,
                    REINIT_GAMMA_MEDIAN, REINIT_GAMMA_COUNT };
enum reinit_beta { REINIT_BETA_INITIAL, REINIT_BETA_KEEP, REINIT_BETA_COUNT };
/* What a re-initialized filter's conv weights become. */
enum reinit_weights { REINIT_WEIGHTS_FRESH, REINIT_WEIGHTS_KEEP, REINIT_WEIGHTS_ORTHOGONAL,
                      REINIT_WEIGHTS_COUNT };
/* What "disabled" compares |γ| with (stats.h, stats_disabled): τ, or τ × the unit's largest |γ|. */
enum threshold_mode { THRESHOLD_ABSOLUTE, THRESHOLD_RELATIVE, THRESHOLD_MODE_COUNT };
enum pixel_loss_kind { PIXEL_LOSS_MSE, PIXEL_LOSS_L1, PIXEL_LOSS_COUNT };
/* superres.skip: what the generator's output is added to (src/tasks/superres.c). */
enum sr_skip_kind { SR_SKIP_NONE, SR_SKIP_NEAREST, SR_SKIP_BICUBIC, SR_SKIP_INPUT, SR_SKIP_COUNT };
/* superres.task: what the generator restores (src/tasks/superres.c). */
enum sr_task { SR_TASK_X2, SR_TASK_DENOISE, SR_TASK_COUNT };

/* pipeline style (src/tasks/style.c). */
enum style_mode { STYLE_TEXTURE, STYLE_TRANSFER, STYLE_MODE_COUNT };
enum style_normalize { STYLE_NORMALIZE_IMAGENET, STYLE_NORMALIZE_DATA, STYLE_NORMALIZE_NONE,
                       STYLE_NORMALIZE_COUNT };
enum style_optimizer { STYLE_LBFGS, STYLE_ADAM, STYLE_OPTIMIZER_COUNT };

extern const char *const dataset_names[DATASET_COUNT];       /* "fashion_mnist", … */
extern const char *const gamma_init_names[GAMMA_INIT_COUNT];
extern const char *const stage_kind_names[STAGE_KIND_COUNT]; /* "all", "bn", … */
extern const char *const lr_kind_names[LR_KIND_COUNT];
extern const char *const optimizer_names[OPT_COUNT];
extern const char *const select_names[SELECT_COUNT];
extern const char *const reinit_gamma_names[REINIT_GAMMA_COUNT];
extern const char *const reinit_beta_names[REINIT_BETA_COUNT];
extern const char *const reinit_weights_names[REINIT_WEIGHTS_COUNT];
extern const char *const threshold_mode_names[THRESHOLD_MODE_COUNT];
extern const char *const conv_algo_names[CONV_ALGO_COUNT];
extern const char *const pixel_loss_names[PIXEL_LOSS_COUNT];       /* "mse", "l1" */
extern const char *const sr_skip_names[SR_SKIP_COUNT]; /* "none", "nearest", "bicubic", "input" */
extern const char *const sr_task_names[SR_TASK_COUNT];             /* "x2", "denoise" */
extern const char *const style_mode_names[STYLE_MODE_COUNT];
extern const char *const style_normalize_names[STYLE_NORMALIZE_COUNT];
extern const char *const style_optimizer_names[STYLE_OPTIMIZER_COUNT];

/* The index of name in a name table of n entries, or -1: the one parser of choice names. */
int config_choice_index(const char *const *names, int n, const char *name);
/* names[v], or "?" when v is out of range. */
const char *config_choice_name(const char *const *names, int n, int v);
/* For a table declared with its size: CHOICE_NAME(dataset_names, c->dataset). */
#define CHOICE_NAME(table, v) config_choice_name(table, (int)(sizeof table / sizeof table[0]), (int)(v))
#define CHOICE_INDEX(table, name) config_choice_index(table, (int)(sizeof table / sizeof table[0]), name)

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
    enum dataset_kind dataset;
    char data_path[CONFIG_MAX_STRING];/* "" = the data set's default directory */
    int train_limit, test_limit;      /* 0 = all */
    int augment_crop;                 /* zero-padding of the random crop; 0 = none */
    bool augment_flip;
    int synthetic_train, synthetic_test, synthetic_size, synthetic_channels, synthetic_classes;
    double label_noise;               /* share of training labels replaced (data_label_noise) */
    /* [model] */
    enum arch_kind arch;
    int depth, width;
    enum model_stem stem;
    enum model_norm norm;
    enum model_head head;
    enum gamma_init gamma_init;
    bool skip;                        /* imagenet_resnet: residual connections (false: none) */
    int mixer_patch, mixer_hidden, mixer_tokens_mlp, mixer_channels_mlp, mixer_blocks;
    /* [train] */
    enum stage_kind_id trainable;
    int per_channel_k;
    double conv_fraction;
    int epochs;
    int batch_size, eval_batch_size;
    enum optimizer_kind optimizer;
    double lr, momentum, weight_decay;
    bool nesterov;
    double beta1, beta2, adam_eps;       /* AdamW */
    enum lr_kind lr_schedule;
    struct config_list milestones;       /* epochs at which step multiplies lr by lr_factor */
    struct config_list milestone_fractions; /* the same as fractions of the stage's epochs */
    double lr_factor;
    double warmup_epochs;
    int warmup_steps;                    /* the warm-up in steps instead (0: warmup_epochs) */
    double lr_min;                       /* cosine, warmup_cosine: the floor the cosine ends at */
    double label_smoothing;              /* ε of the training loss (softmax_ce, loss.h) */
    bool sync_bn;
    int checkpoint_every_steps;          /* 0 = only at epoch ends */
    enum conv_algo conv_algo;
    /* [pipeline] */
    bool pipeline;                       /* key pipeline.enabled */
    double pipeline_n, pipeline_s;       /* fractions N, sN, s²N, … while < 1 */
    struct config_list fractions;        /* explicit list instead of N and s */
    struct config_list stage_epochs;     /* one value for all stages, or one per stage; empty = train.epochs */
    struct config_list stage_lr;         /* pipeline.lr: the same shape; empty = train.lr */
    double threshold;                    /* τ: a filter is disabled when |γ| < τ (absolute) */
    enum threshold_mode threshold_mode;  /* … or when |γ| < τ × its unit's largest |γ| (relative) */
    enum select_mode select;
    bool train_output;                   /* output layer trains in the partial stages */
    enum reinit_gamma reinit_gamma;      /* γ of a re-initialized filter */
    double reinit_gamma_value;           /* reinit_gamma = value */
    enum reinit_beta reinit_beta;
    enum reinit_weights reinit_weights;  /* conv weights of a re-initialized filter */
    double reinit_weight_scale;          /* factor on a re-initialized filter's fresh conv weights */
    bool reinit;                         /* false: the control, nothing is re-initialized */
    int recalibrate_batches;             /* BN running statistics from K batches after a transition */
    /* [superres]: `pipeline superres` (src/tasks/superres.c) */
    enum sr_task sr_task;                /* x2 super-resolution or denoising */
    double sr_noise_sigma;               /* denoise: the noise's standard deviation, pixel units */
    int sr_blocks, sr_width;             /* the SRResNet generator: residual blocks, 32·width channels */
    enum pixel_loss_kind sr_pixel_loss;
    double sr_perceptual_weight;         /* λ; 0 = the pixel loss alone (no loss network) */
    enum arch_kind sr_lossnet_arch;
    int sr_lossnet_depth, sr_lossnet_width;
    enum model_stem sr_lossnet_stem;
    enum model_norm sr_lossnet_norm;
    char sr_lossnet_taps[CONFIG_MAX_STRING]; /* comma-separated layer names */
    struct config_list sr_lossnet_tap_weights; /* one per tap; empty = all 1 */
    enum lossnet_init sr_lossnet_init;
    double sr_lossnet_init_scale;        /* normal: σ; uniform: a */
    int sr_lossnet_seed;                 /* 0 = run.seed */
    char sr_lossnet_checkpoint[CONFIG_MAX_STRING]; /* "" = random weights */
    int sr_grid_images;                  /* rows of the PNG grid: the first test images */
    int sr_train_skip;                   /* the training images start after this many */
    enum sr_skip_kind sr_skip;           /* output = generator + this upsampling of the input (x2)
                                            or the input itself (denoise) */
    bool sr_icnr;                        /* ICNR init of up.conv (Aitken et al. 2017) */
    char sr_judge_checkpoint[CONFIG_MAX_STRING]; /* a classifier: accuracy on the outputs */
    /* [style]: pipeline style and style-stats (src/tasks/style.c) */
    enum style_mode style_mode;
    char style_image[CONFIG_MAX_STRING], content_image[CONFIG_MAX_STRING];
    int style_downsample, style_crop;    /* k x k block means, then the central crop (0: all) */
    int style_channels;                  /* a random network's input channels */
    enum style_normalize style_normalize;
    char style_checkpoint[CONFIG_MAX_STRING]; /* "" = random weights */
    enum lossnet_init style_init;        /* random weights: lossnet.h's scheme */
    double style_init_scale;
    char style_taps[CONFIG_MAX_STRING], content_taps[CONFIG_MAX_STRING]; /* "a, b, c" */
    enum swag_form swag;
    char swag_taps[CONFIG_MAX_STRING];
    double swag_alpha, style_weight, content_weight;
    enum style_optimizer style_optimizer;
    int style_evaluations;
    double style_lr;                     /* 0 = the optimizer's default */
    int style_history, style_max_iter, style_seed, style_log_every;

    /* Not keys: */
    enum conv_auto_rule conv_auto_rule;  /* what conv_algo = auto means: CONV_AUTO_RULE_CURRENT,
                                            or the rule of the run a checkpoint continues */
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
/* The keys for `pipeline help-config --format json`, as a JSON array: [{section, name, type,
 * default (the value's text), ini (the default as INI text), min and max (numbers and lists),
 * choices, help}, ...]. */
void config_write_json(FILE *f);
/* The shortest decimal that strtod reads back to exactly x (0.1, not 0.10000000000000001): how
 * config values and schedule fractions are written for people and for INI. */
void config_format_double(double x, char *buf, size_t size);
/* The data directory to use: data_path, or the data set's default. */
const char *config_data_dir(const struct config *c);

#endif
