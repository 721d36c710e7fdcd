/* The checkpoint layout table (see checkpoint_layout.h) and the typed, range-checked access
 * every read and write of a checkpoint goes through. */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "checkpoint.h"
#include "checkpoint_layout.h"
#include "h5io.h"
#include "model.h"
#include "pipeline.h"
#include "provenance.h"

/* Limits a file's values are checked against, each the program's own: */
#define MAX_STAGE (SCHEDULE_MAX_STAGES - 1)        /* a schedule's last stage index */
#define MAX_EPOCHS 100000                          /* train.epochs and pipeline.epochs */
#define MAX_COUNT 9007199254740992.0               /* 2^53: counts kept in doubles stay exact */
#define MAX_UNIT_FILTERS 4096                      /* 64 · model.width's largest value */
#define MAX_UNITS 867                              /* the units of model.depth's largest, 866 */
#define MAX_FILTERS (MAX_UNITS * MAX_UNIT_FILTERS)
#define MAX_STARTS 100000                          /* process starts (run, resumes) of one run */
/* The longest text a provenance field holds: struct provenance's array, less its NUL. */
#define REVIVE_STR_(x) #x
#define REVIVE_STR(x) REVIVE_STR_(x)
#define PROV_LEN(field) ((double)sizeof(((struct provenance *)0)->field) - 1)

/* CONV_AUTO_RULE_CURRENT (an enum, which the preprocessor cannot spell) for the row's text. */
#define CHECKPOINT_CONV_AUTO_RULE 2
_Static_assert(CHECKPOINT_CONV_AUTO_RULE == CONV_AUTO_RULE_CURRENT,
               "a new conv_algo = auto rule: update the conv_auto_rule row's text");

/* A row: A(…) an attribute, D(…) a dataset; the optional last argument is the row's home, e.g.
 * RUN(stage): struct run's member `stage` holds the value (checkpoint_layout.h). */
#define A(obj, nm, ty, fl, lo, hi, mean, ...) {obj, nm, ty, (fl) | CK_ATTR, "scalar", lo, hi, mean, __VA_ARGS__}
#define D(obj, nm, ty, fl, shape, lo, hi, mean, ...) {obj, nm, ty, fl, shape, lo, hi, mean, __VA_ARGS__}
#define CTYPE(x) _Generic((x), int: CK_C_INT, long: CK_C_LONG, bool: CK_C_BOOL, double: CK_C_DOUBLE, \
                          size_t: CK_C_SIZE, char *: CK_C_TEXT)
#define HOME(home, type, mem, absent) home, offsetof(type, mem), sizeof(((type *)0)->mem), \
    CTYPE(((type *)0)->mem), #mem, absent
#define RUN(mem) HOME(CK_IN_RUN, struct run, mem, 0)
#define SPEC(mem) HOME(CK_IN_SPEC, struct model_spec, mem, 0)
#define REC(mem) HOME(CK_IN_RECORD, struct stage_record, mem, 0)
#define UNIT(mem) HOME(CK_IN_UNIT, struct ck_unit, mem, 0)
#define PROV(mem) HOME(CK_IN_PROV, struct provenance, mem, 0)
/* A dataset row's home, accessor (checkpoint_arrays.c) and, for the document, where in memory. */
#define ARR(home, acc, mem) home, 0, 0, CK_C_INT, mem, 0, &acc
#define ARR_OPT(home, acc, mem, absent) home, 0, 0, CK_C_INT, mem, absent, &acc
/* An optional row's member and the value it reads as when the file lacks it. */
#define RUN_OPT(mem, absent) HOME(CK_IN_RUN, struct run, mem, absent)
#define REC_OPT(mem, absent) HOME(CK_IN_RECORD, struct stage_record, mem, absent)
#define SR(mem) HOME(CK_IN_SR, struct sr_state, mem, 0)
#define B CK_BOUNDED
#define C CK_CHECKSUMMED
/* In a task's state file too (S), or only there (SO). */
#define S CK_STATE
#define SO CK_STATE_ONLY
/* The network description: optional (files written before it lack it); a unit-KK group's rows
 * are there exactly when /model nunits is. */
#define NET (CK_OPTIONAL | CK_ADDED_NET)
#define NET_UNIT CK_ADDED_NET

const char *const ck_wiring_names[CK_NWIRINGS] = {
    [ARCH_RESNET] = "resnet-cifar", [ARCH_IMAGENET_RESNET] = "imagenet-resnet", [ARCH_VGG] = "vgg",
    [ARCH_SRRESNET] = "srresnet", [ARCH_MIXER] = "mlp-mixer",
    [ARCH_SRRESNET_X1] = "srresnet-x1"};
_Static_assert(CK_NWIRINGS == ARCH_COUNT, "a new family: name its wiring in ck_wiring_names");

const struct ck_row ck_layout[CK_NFIELDS] = {
    [CK_FORMAT] = A("/", "format", CK_T_STRING, C | S, 0, 0,
                    "`\"" CHECKPOINT_FORMAT "\"`; in a state file `\"" CHECKPOINT_SR_STATE_FORMAT "\"`"),
    [CK_FORMAT_VERSION] = A("/", "format_version", CK_T_INT, B | C | S, 1, CHECKPOINT_VERSION,
                            "the layout version; revive reads every version up to its own"),
    [CK_CHECKSUM] = A("/", "checksum", CK_T_INT, B | CK_SINCE_V2 | S, 0, 4294967295.0,
                      "CRC-32 (zlib) over every attribute and string marked ✓, in this table's order "
                      "(the stage-KK rows once per finished stage); HDF5's Fletcher-32 covers the datasets"),
    [CK_SEED] = A("/", "seed", CK_T_INT, B | C | S, 0, 2147483647,
                  "`run.seed`: the seed of every random stream (init, re-init, shuffling, "
                  "augmentation, masks)"),
    [CK_STAGE] = A("/", "stage", CK_T_INT, B | C, 0, MAX_STAGE,
                   "index of the stage in progress, or of the stage just finished (0-based)",
            RUN(stage)),
    [CK_EPOCH] = A("/", "epoch", CK_T_INT, B | C, 0, MAX_EPOCHS,
                   "epochs completed in that stage; a stage file has the stage's `epochs` here",
            RUN(epoch)),
    [CK_STEP] = A("/", "step", CK_T_INT, B | C, 0, MAX_COUNT,
                  "optimizer steps completed in that stage (restarts at 0 every stage)",
            RUN(step)),
    [CK_EPOCH_LOSS_SUM] = A("/", "epoch_loss_sum", CK_T_DOUBLE, B | C, 0, HUGE_VAL,
                            "sum of per-image training losses over the epoch in progress (0 at an "
                            "epoch boundary); a mid-epoch resume continues the sums, so the epoch's "
                            "line comes out the same",
            RUN(epoch_loss_sum)),
    [CK_EPOCH_CORRECT] = A("/", "epoch_correct", CK_T_DOUBLE, B | C, 0, MAX_COUNT,
                           "correctly classified training images in the epoch in progress",
            RUN(epoch_correct)),
    [CK_EPOCH_SEEN] = A("/", "epoch_seen", CK_T_DOUBLE, B | C, 0, MAX_COUNT,
                        "training images seen in the epoch in progress",
            RUN(epoch_seen)),
    [CK_ACC_START] = A("/", "acc_start", CK_T_DOUBLE, B | C, -1, 1,
                       "test accuracy (0…1) right after the re-initialization before this stage; "
                       "−1 for stage 0",
            RUN(acc_start)),
    [CK_ACC_START_RECAL] = A("/", "acc_start_recal", CK_T_DOUBLE, B | C | CK_OPTIONAL, -1, 1,
                             "the same after BatchNorm recalibration (`pipeline.recalibrate_batches`); "
                             "−1 for stage 0 and when recalibration is off. Files written before it "
                             "existed lack it (read as −1)",
            RUN_OPT(acc_start_recal, -1)),
    [CK_SEED_ONLY] = A("/", "seed_only", CK_T_INT, B | C, 0, 1,
                       "0 = full checkpoint; 1 = seed-only export (see below)"),
    [CK_CONFIG] = D("/", "config", CK_T_STRING, C | S, "scalar", 0, 0,
                    "the effective config as INI text: every key, defaults included"),
    [CK_MODEL_DEPTH] = A("model", "depth", CK_T_INT, B | C, 8, 866, "`model.depth` (6n+2)",
            SPEC(depth)),
    [CK_MODEL_WIDTH] = A("model", "width", CK_T_INT, B | C, 1, 64, "`model.width`: channel multiplier W",
            SPEC(width)),
    [CK_MODEL_IN_C] = A("model", "in_c", CK_T_INT, B | C, 1, 3, "input channels",
            SPEC(in_c)),
    [CK_MODEL_IN_H] = A("model", "in_h", CK_T_INT, B | C, 4, 64, "input height",
            SPEC(in_h)),
    [CK_MODEL_IN_W] = A("model", "in_w", CK_T_INT, B | C, 4, 64, "input width",
            SPEC(in_w)),
    [CK_MODEL_CLASSES] = A("model", "classes", CK_T_INT, B | C, 2, 100, "classes",
            SPEC(classes)),
    [CK_MODEL_GAMMA_ONE] = A("model", "gamma_one", CK_T_INT, B | C, 0, 1,
                             "1 when `model.gamma_init = one` (γ starts at 1), 0 for U[0,1)",
            SPEC(gamma_one)),
    [CK_MODEL_ARCH] = A("model", "arch", CK_T_STRING, B | NET, 1, 31,
                        "`model.arch`: the network family (`resnet`, `imagenet_resnet`, `vgg`, `mixer`); "
                        "must be the family the file's /config builds"),
    [CK_MODEL_STEM] = A("model", "stem", CK_T_STRING, B | NET, 1, 31,
                        "`model.stem` as the config sets it (`auto`, `imagenet`, `cifar`); must be "
                        "the config's"),
    [CK_MODEL_NORM] = A("model", "norm", CK_T_STRING, B | NET, 1, 31,
                        "`model.norm` (`batchnorm`, `none`); must be the config's"),
    [CK_MODEL_HEAD] = A("model", "head", CK_T_STRING, B | NET, 1, 31,
                        "`model.head` as the config sets it (`auto`, `pool`, `torchvision`); must be "
                        "the config's"),
    [CK_MODEL_WIRING] = A("model", "wiring", CK_T_STRING, CK_OPTIONAL | CK_ADDED, 0, 0,
                          "the family's wiring: `\"resnet-cifar\"` (the network described in \"The "
                          "network, exactly\"), `\"imagenet-resnet\"`, `\"vgg\"`, `\"srresnet\"`, "
                          "`\"srresnet-x1\"` or `\"mlp-mixer\"` (include/models.h "
                          "and src/models/); one other than the wiring of the family the file's /config "
                          "builds is refused; assumed to be that one when missing. (Files written "
                          "before the network description, without `arch`, say `resnet-cifar` "
                          "whatever their family; there it is accepted.)"),
    [CK_MODEL_WIRING_VERSION] = A("model", "wiring_version", CK_T_INT, B | CK_OPTIONAL | CK_ADDED, 1,
                                  2147483647,
                                  "this revive builds version " REVIVE_STR(CHECKPOINT_WIRING_VERSION)
                                  "; a revive that changes the wiring raises it, and refuses versions "
                                  "it does not build (\"use the revive that wrote it\"); assumed 1 "
                                  "when missing"),
    [CK_MODEL_BN_EPS] = A("model", "bn_eps", CK_T_DOUBLE, B | CK_OPTIONAL | CK_ADDED, 0, 1,
                          "ε of every BatchNorm as the layers use it: the float32 `1e-5f`, i.e. "
                          "9.99999974737875e-06; another value is refused; this value when missing"),
    [CK_MODEL_BN_MOMENTUM] = A("model", "bn_momentum", CK_T_DOUBLE, B | CK_OPTIONAL | CK_ADDED, 0, 1,
                               "momentum of the running estimates: the float32 `0.1f`, i.e. "
                               "0.100000001490116; another value is refused; this value when missing"),
    [CK_MODEL_CONV_AUTO_RULE] = A("model", "conv_auto_rule", CK_T_INT, B | CK_OPTIONAL | CK_ADDED_V3, 1,
                                  2147483647,
                                  "the rule `train.conv_algo = auto` follows in this run (`enum "
                                  "conv_auto_rule`, include/layers.h): the one the run started "
                                  "under, kept by every resume, so a resumed run picks each conv's "
                                  "algorithm as the run straight through did. 1: Winograd for 3×3 "
                                  "stride-1 convs with ≥ 8 input channels, im2col for the others. "
                                  "2: as 1, but oneDNN for every 3×3 conv with ≥ 8 input channels "
                                  "(any stride) where oneDNN's kernels are AVX-512 (resolved on the "
                                  "machine that runs). This revive starts runs under rule "
                                  REVIVE_STR(CHECKPOINT_CONV_AUTO_RULE) " and refuses a higher one "
                                  "(\"upgrade revive\"). When missing (files written before it): 1 in a "
                                  "format 1 or 2 file, 2 in a format 3 file (oneDNN came before "
                                  "format 3)"),
    [CK_MODEL_INPUT_MEAN] = D("model", "input_mean", CK_T_F32, B | CK_OPTIONAL | CK_ADDED, "(in_c,)", 0, 1,
                              "per-channel mean m_c of the input normalization, in [0, 1] pixel units "
                              "(\"Normalization\" below); when missing (with input_std), computed from "
                              "the training data at load",
            ARR(CK_IN_RUN, ck_acc_input_norm, "norm_mean")),
    [CK_MODEL_INPUT_STD] = D("model", "input_std", CK_T_F32, B | CK_ABOVE_LO | CK_OPTIONAL | CK_ADDED,
                             "(in_c,)", 0, 1,
                             "per-channel standard deviation s_c, same units; present exactly when "
                             "input_mean is",
            ARR(CK_IN_RUN, ck_acc_input_norm, "norm_std")),
    [CK_MODEL_NUNITS] = A("model", "nunits", CK_T_INT, B | NET, 0, MAX_UNITS,
                          "units in the unit table: one group `unit-KK` each, in model order (KK = "
                          "0, 1, …; three digits from 100); must be the units of the model the "
                          "file's /config builds"),
    [CK_UNIT_NAME] = A("model/unit-KK", "name", CK_T_STRING, B | NET_UNIT, 1, 47,
                       "the unit's name, as in /running and /stats units",
            UNIT(name)),
    [CK_UNIT_CHANNELS] = A("model/unit-KK", "channels", CK_T_INT, B | NET_UNIT, 1, MAX_UNIT_FILTERS,
                           "its channels: γ, β, the running statistics and the filters",
            UNIT(channels)),
    [CK_UNIT_FILTER] = A("model/unit-KK", "filter", CK_T_STRING, B | NET_UNIT, 0, 63,
                         "the weight parameter (in /params) whose row c is channel c's filter "
                         "(out_c first); empty for a unit without one",
            UNIT(filter)),
    [CK_PARAMS] = D("params", "<name>", CK_T_F32, S, "the parameter's", 0, 0,
                    "parameter values (a seed-only export keeps γ, β and a trained output layer)",
            ARR(CK_IN_MODEL, ck_acc_param, "values")),
    [CK_MOMENTUM] = D("momentum", "<name>", CK_T_F32, CK_FULL_ONLY | S, "the parameter's", 0, 0,
                      "SGD momentum buffer; with `train.optimizer = adamw` AdamW's first moment "
                      "(torch's `exp_avg`)",
            ARR(CK_IN_MODEL, ck_acc_param, "momentum")),
    [CK_MASK] = D("mask", "<name>", CK_T_U8, B | CK_FULL_ONLY, "the parameter's", 0, 1,
                  "1 = trained in the stage in `stage`, 0 = frozen",
            ARR(CK_IN_MODEL, ck_acc_param, "mask")),
    [CK_MOMENT2] = D("moment2", "<name>", CK_T_F32, CK_FULL_ONLY | S, "the parameter's", 0, 0,
                     "AdamW's second moment (torch's `exp_avg_sq`), in files of runs with "
                     "`train.optimizer = adamw` only (its step count, for the bias correction, is "
                     "`step`: the state restarts with every stage; in a state file, `/superres step`)",
            ARR(CK_IN_MODEL, ck_acc_param, "moment2")),
    [CK_RUNNING_MEAN] = D("running", "<unit>/mean", CK_T_F32, S, "(out_c,)", 0, 0,
                          "BatchNorm running mean (a BatchNorm unit's; a Mixer's LayerNorm units "
                          "have no running statistics and no /running group)",
            ARR(CK_IN_MODEL, ck_acc_running, "running_stats")),
    [CK_RUNNING_VAR] = D("running", "<unit>/var", CK_T_F32, S, "(out_c,)", 0, 0,
                         "BatchNorm running variance",
            ARR(CK_IN_MODEL, ck_acc_running, "running_stats")),
    [CK_HIST_STAGE] = D("history", "stage", CK_T_F64, B | CK_WHOLE, "(epochs so far,)", 0, MAX_STAGE,
                        "one row per finished epoch over the whole run: the stage index",
            ARR(CK_IN_RUN, ck_acc_history, "history")),
    [CK_HIST_EPOCH] = D("history", "epoch", CK_T_F64, B | CK_WHOLE, "(epochs so far,)", 1, MAX_EPOCHS,
                        "epoch number within the stage, 1-based",
            ARR(CK_IN_RUN, ck_acc_history, "history")),
    [CK_HIST_LR] = D("history", "lr", CK_T_F64, 0, "(epochs so far,)", 0, 0,
                     "learning rate at the epoch's last step",
            ARR(CK_IN_RUN, ck_acc_history, "history")),
    [CK_HIST_TRAIN_LOSS] = D("history", "train_loss", CK_T_F64, 0, "(epochs so far,)", 0, 0,
                             "mean training cross-entropy over the epoch "
                             "(`epoch_loss_sum / epoch_seen`)",
            ARR(CK_IN_RUN, ck_acc_history, "history")),
    [CK_HIST_TRAIN_ACC] = D("history", "train_acc", CK_T_F64, 0, "(epochs so far,)", 0, 0,
                            "training accuracy over the epoch, 0…1 (augmented batches, "
                            "training-mode BN)",
            ARR(CK_IN_RUN, ck_acc_history, "history")),
    [CK_HIST_TEST_LOSS] = D("history", "test_loss", CK_T_F64, 0, "(epochs so far,)", 0, 0,
                            "test-set mean loss after the epoch, with running statistics",
            ARR(CK_IN_RUN, ck_acc_history, "history")),
    [CK_HIST_TEST_ACC] = D("history", "test_acc", CK_T_F64, 0, "(epochs so far,)", 0, 0,
                           "test-set accuracy after the epoch, with running statistics",
            ARR(CK_IN_RUN, ck_acc_history, "history")),
    [CK_HIST_SECONDS] = D("history", "seconds", CK_T_F64, 0, "(epochs so far,)", 0, 0,
                          "wall time of the epoch (for information only)",
            ARR(CK_IN_RUN, ck_acc_history, "history")),
    [CK_HIST_GAMMA_BELOW_TAU] = D("history", "gamma_below_tau", CK_T_F64, CK_OPTIONAL, "(epochs so far,)", 0, 0,
                                   "share of all filters with |γ| < τ (`pipeline.threshold`) after the "
                                   "epoch, 0…1; NaN in rows of files written before it existed",
            ARR_OPT(CK_IN_RUN, ck_acc_history, "history", NAN)),
    [CK_HIST_ABS_GAMMA_P10] = D("history", "abs_gamma_p10", CK_T_F64, CK_OPTIONAL, "(epochs so far,)", 0, 0,
                                 "10 % quantile of |γ| over all filters after the epoch (NaN when unknown)",
            ARR_OPT(CK_IN_RUN, ck_acc_history, "history", NAN)),
    [CK_HIST_ABS_GAMMA_P50] = D("history", "abs_gamma_p50", CK_T_F64, CK_OPTIONAL, "(epochs so far,)", 0, 0,
                                 "median of |γ| over all filters after the epoch (NaN when unknown)",
            ARR_OPT(CK_IN_RUN, ck_acc_history, "history", NAN)),
    [CK_HIST_ABS_GAMMA_P90] = D("history", "abs_gamma_p90", CK_T_F64, CK_OPTIONAL, "(epochs so far,)", 0, 0,
                                 "90 % quantile of |γ| over all filters after the epoch (NaN when unknown)",
            ARR_OPT(CK_IN_RUN, ck_acc_history, "history", NAN)),
    [CK_PROV_COUNT] = A("provenance", "count", CK_T_INT, B | CK_OPTIONAL | CK_ADDED, 0, MAX_STARTS,
                        "process starts that trained the run (the `run`, then every `resume`, oldest "
                        "first), one group `start-KK` each; at most the members of `/provenance`. A "
                        "file without `/provenance` has none"),
    [CK_PROV_RANKS] = A("provenance/start-KK", "ranks", CK_T_INT, B | CK_ADDED, 1, 2147483647, "MPI ranks",
            PROV(ranks)),
    [CK_PROV_THREADS] = A("provenance/start-KK", "threads", CK_T_INT, B | CK_ADDED, 1, 2147483647,
                          "OpenMP threads per rank",
            PROV(threads)),
    [CK_PROV_REVIVE_VERSION] = A("provenance/start-KK", "revive_version", CK_T_STRING, B | CK_ADDED, 0,
                                 PROV_LEN(version),
                                 "revive's version (`REVIVE_VERSION`, include/provenance.h)",
            PROV(version)),
    [CK_PROV_COMMIT] = A("provenance/start-KK", "commit", CK_T_STRING, B | CK_ADDED, 0, PROV_LEN(commit),
                         "`git describe --always --dirty` of the build; `unknown` when built outside "
                         "a git checkout",
            PROV(commit)),
    [CK_PROV_OPENBLAS_CORE] = A("provenance/start-KK", "openblas_core", CK_T_STRING, B | CK_ADDED, 0,
                                PROV_LEN(openblas_core),
                                "`openblas_get_corename()`: the kernel OpenBLAS chose for this CPU, "
                                "e.g. `Haswell`",
            PROV(openblas_core)),
    [CK_PROV_OPENBLAS_CONFIG] = A("provenance/start-KK", "openblas_config", CK_T_STRING, B | CK_ADDED, 0,
                                  PROV_LEN(openblas_config),
                                  "`openblas_get_config()`: OpenBLAS version and build options",
            PROV(openblas_config)),
    [CK_PROV_HDF5_VERSION] = A("provenance/start-KK", "hdf5_version", CK_T_STRING, B | CK_ADDED, 0,
                               PROV_LEN(hdf5_version), "`H5get_libversion`, e.g. `1.10.8`",
            PROV(hdf5_version)),
    [CK_PROV_MPI_VERSION] = A("provenance/start-KK", "mpi_version", CK_T_STRING, B | CK_ADDED, 0,
                              PROV_LEN(mpi_version), "`MPI_Get_library_version`, on one line",
            PROV(mpi_version)),
    [CK_PROV_HOST] = A("provenance/start-KK", "host", CK_T_STRING, B | CK_ADDED, 0, PROV_LEN(host),
                       "host name of rank 0",
            PROV(host)),
    [CK_PROV_STARTED] = A("provenance/start-KK", "started", CK_T_STRING, B | CK_ADDED, 0,
                          PROV_LEN(started),
                          "start of the process, UTC, ISO 8601: `2026-12-01T08:30:00Z`",
            PROV(started)),
    [CK_PROV_COMMAND] = A("provenance/start-KK", "command", CK_T_STRING, B | CK_ADDED, 0,
                          PROV_LEN(command), "the command line, arguments joined by single spaces",
            PROV(command)),
    [CK_NSTAGES] = A("stats", "nstages", CK_T_INT, B | C, 0, SCHEDULE_MAX_STAGES,
                     "finished stages recorded: `stage-00` … `stage-{nstages−1}`"),
    [CK_UNITS] = D("stats", "units", CK_T_STRING, C, "scalar", 0, 0,
                   "unit names in model order, each followed by `\"\\n\"` (the text ends "
                   "with a newline)"),
    [CK_FILTERS_PER_UNIT] = D("stats", "filters_per_unit", CK_T_I64, B, "(nunits,)", 1, MAX_UNIT_FILTERS,
                              "out_c of each unit, same order; must be the model's",
            ARR(CK_IN_MODEL, ck_acc_filters_per_unit, "units[].channels")),
    [CK_REC_KIND] = A("stats/stage-KK", "kind", CK_T_STRING, C, 0, 0,
                      "stage kind (`stages.h`). Pipeline stages: `bn` (fraction 0), "
                      "`conv_fraction` (0 < fraction < 1), `all` (fraction 1). Single-stage runs: "
                      "`train.trainable` (`all`, `bn`, `bn_output`, `output`, `per_channel`, "
                      "`conv_fraction`). Any other name is refused",
            REC(kind)),
    [CK_REC_FRACTION] = A("stats/stage-KK", "fraction", CK_T_DOUBLE, B | C, 0, 1,
                          "share of conv weights trained: in a pipeline 0 for `bn`, strictly between "
                          "0 and 1 for `conv_fraction`, 1 for `all`; in a single-stage run "
                          "`train.conv_fraction` for `conv_fraction`, 1 for `all`, 0 otherwise. "
                          "Checked against `kind` and the file's `/config` from format 2 on (older "
                          "single-stage files recorded `train.conv_fraction` whatever the kind)",
            REC(fraction)),
    [CK_REC_TRAINABLE] = A("stats/stage-KK", "trainable", CK_T_INT, B | C, 0, MAX_COUNT,
                           "number of trainable parameter elements (non-zero mask entries) in the stage; "
                           "at most the model's parameter count",
            REC(trainable)),
    [CK_REC_THRESHOLD] = A("stats/stage-KK", "threshold", CK_T_DOUBLE, B | C, 0, 10, "τ",
            REC(threshold)),
    [CK_REC_ACC_START] = A("stats/stage-KK", "acc_start", CK_T_DOUBLE, B | C, -1, 1,
                           "test accuracy right after the re-initialization before the stage; "
                           "−1 for stage 0",
            REC(acc_start)),
    [CK_REC_ACC_START_RECAL] = A("stats/stage-KK", "acc_start_recal", CK_T_DOUBLE, B | C | CK_OPTIONAL,
                                 -1, 1,
                                 "the same after recalibrating every BatchNorm's running statistics "
                                 "on `pipeline.recalibrate_batches` training batches "
                                 "(`src/pipeline/recalibrate.c`); −1 for stage 0 and when recalibration is "
                                 "off. Absent in files written before it existed (read as −1)",
            REC_OPT(acc_start_recal, -1)),
    [CK_REC_REINIT_APPLIED] = A("stats/stage-KK", "reinit_applied", CK_T_INT, B | C | CK_OPTIONAL, 0,
                                MAX_FILTERS,
                                "filters whose parameters were actually re-initialized before this "
                                "stage: the count of `reinit` flags, or 0 with `pipeline.reinit = "
                                "false` (the control); at most the model's filters. Absent in older "
                                "files, which re-initialized every flagged filter (read as the flag "
                                "count)",
            REC_OPT(reinit_applied, -1)),
    [CK_REC_ACC_END] = A("stats/stage-KK", "acc_end", CK_T_DOUBLE, B | C, -1, 1,
                         "test accuracy at the stage end (−1: not measured)",
            REC(acc_end)),
    [CK_REC_ACC_CLAMPED] = A("stats/stage-KK", "acc_clamped", CK_T_DOUBLE, B | C, -1, 1,
                             "test accuracy at the stage end with every \\|γ\\| < τ set to 0 (the "
                             "filters switched off; the model itself is not changed); −1: not measured",
            REC(acc_clamped)),
    [CK_REC_GAMMA] = D("stats/stage-KK", "gamma", CK_T_F32, 0, "(nfilters,)", 0, 0,
                       "γ of each filter at the stage end",
            ARR(CK_IN_RECORD, ck_acc_record, "gamma")),
    [CK_REC_DISABLED] = D("stats/stage-KK", "disabled", CK_T_U8, B, "(nfilters,)", 0, 1,
                          "\\|γ\\| < τ at the stage end (d)",
            ARR(CK_IN_RECORD, ck_acc_record, "disabled")),
    [CK_REC_REINIT] = D("stats/stage-KK", "reinit", CK_T_U8, B, "(nfilters,)", 0, 1,
                        "flagged at the transition before this stage (r): \\|γ\\| < τ at the "
                        "previous stage's end, with the τ in force at the transition (in a "
                        "straight run, the previous stage's `disabled`); all 0 for stage 0. "
                        "Flagged filters are re-initialized, except in the control "
                        "(`pipeline.reinit = false`, `reinit_applied` = 0), where the flags mark "
                        "the filters that would have been, so that revived / died_again read "
                        "\"recovered without help\" / \"stayed disabled\"",
            ARR(CK_IN_RECORD, ck_acc_record, "reinit")),
    [CK_REC_REVIVED] = D("stats/stage-KK", "revived", CK_T_U8, B, "(nfilters,)", 0, 1,
                         "r ∧ ¬d: re-initialized, and alive now",
            ARR(CK_IN_RECORD, ck_acc_record, "(derived)")),
    [CK_REC_DIED_AGAIN] = D("stats/stage-KK", "died_again", CK_T_U8, B, "(nfilters,)", 0, 1,
                            "r ∧ d: re-initialized, and disabled again",
            ARR(CK_IN_RECORD, ck_acc_record, "(derived)")),
    [CK_REC_NEWLY_DISABLED] = D("stats/stage-KK", "newly_disabled", CK_T_U8, B, "(nfilters,)", 0, 1,
                                "¬r ∧ d: alive at the stage start, disabled now",
            ARR(CK_IN_RECORD, ck_acc_record, "(derived)")),
    [CK_SR_STEP] = A("superres", "step", CK_T_INT, B | C | SO, 0, MAX_COUNT,
                     "`pipeline superres`: optimizer steps completed over the run; the epoch "
                     "(step / steps per epoch), the data order, the learning rate and AdamW's "
                     "bias correction follow from it, `/seed` and `/config`",
            SR(step)),
    [CK_SR_PIXEL_SUM] = A("superres", "pixel_sum", CK_T_DOUBLE, B | C | SO, 0, HUGE_VAL,
                          "sum of per-image pixel losses over the epoch in progress (0 at an epoch "
                          "boundary), so a resumed epoch's line comes out the same",
            SR(pixel_sum)),
    [CK_SR_PERCEPTUAL_SUM] = A("superres", "perceptual_sum", CK_T_DOUBLE, B | C | SO, 0, HUGE_VAL,
                               "the same for λ · the perceptual loss",
            SR(perceptual_sum)),
    [CK_SR_EPOCH_LR] = D("superres/epochs", "lr", CK_T_F64, B | SO, "(train.epochs,)", 0, HUGE_VAL,
                         "one row per epoch of the run (0 for those not begun): the learning rate "
                         "at the epoch's last step",
            ARR(CK_IN_SR, ck_acc_sr_epochs, "rows[].lr")),
    [CK_SR_EPOCH_PIXEL] = D("superres/epochs", "pixel", CK_T_F64, B | SO, "(train.epochs,)", 0, HUGE_VAL,
                            "mean pixel loss per image over the epoch",
            ARR(CK_IN_SR, ck_acc_sr_epochs, "rows[].pixel")),
    [CK_SR_EPOCH_PERCEPTUAL] = D("superres/epochs", "perceptual", CK_T_F64, B | SO, "(train.epochs,)",
                                 0, HUGE_VAL, "mean λ · perceptual loss per image over the epoch",
            ARR(CK_IN_SR, ck_acc_sr_epochs, "rows[].perceptual")),
    [CK_SR_EPOCH_SECONDS] = D("superres/epochs", "seconds", CK_T_F64, B | SO, "(train.epochs,)", 0,
                              HUGE_VAL, "wall time of the epoch; of the one in progress, so far",
            ARR(CK_IN_SR, ck_acc_sr_epochs, "rows[].seconds")),
};

const char *const ck_file_format[CK_NFILES] = {[CK_FILE_CHECKPOINT] = CHECKPOINT_FORMAT,
                                               [CK_FILE_STATE] = CHECKPOINT_SR_STATE_FORMAT};
const char *const ck_file_noun[CK_NFILES] = {[CK_FILE_CHECKPOINT] = "revive checkpoint",
                                             [CK_FILE_STATE] = "pipeline superres state file"};
const char *const ck_file_use[CK_NFILES] = {
    [CK_FILE_CHECKPOINT] = "pipeline resume, eval or inspect read it",
    [CK_FILE_STATE] = "continue its run with pipeline superres CONFIG --resume"};

bool ck_in_file(const struct ck_row *row, enum ck_file file)
{
    return file == CK_FILE_CHECKPOINT ? !(row->flags & CK_STATE_ONLY)
                                      : (row->flags & (CK_STATE | CK_STATE_ONLY)) != 0;
}

#undef A
#undef D
#undef CTYPE
#undef HOME
#undef RUN
#undef SPEC
#undef REC
#undef PROV
#undef ARR
#undef ARR_OPT
#undef RUN_OPT
#undef REC_OPT
#undef SR
#undef B
#undef C
#undef S
#undef SO

void ck_object(char *buf, size_t cap, enum ck_field id, int k)
{
    const char *o = ck_layout[id].object, *kk = strstr(o, "KK");
    if (!kk) {
        snprintf(buf, cap, "%s", o);
        return;
    }
    snprintf(buf, cap, "%.*s%02d%s", (int)(kk - o), o, k, kk + 2);
}

/* Attribute row id, which must be of type t, and its object (instance k) into obj[64]. */
static const struct ck_row *attr_row(enum ck_field id, enum ck_type t, int k, char *obj)
{
    REVIVE_ASSERT(id >= 0 && id < CK_NFIELDS);
    const struct ck_row *row = &ck_layout[id];
    REVIVE_ASSERT((row->flags & CK_ATTR) && row->type == t);
    ck_object(obj, 64, id, k);
    return row;
}

int ck_put_int(struct h5out *f, enum ck_field id, int k, int64_t v, struct rv_error *err)
{
    char obj[64];
    const struct ck_row *row = attr_row(id, CK_T_INT, k, obj);
    return h5out_attr_int(f, obj, row->name, v, err);
}

int ck_put_double(struct h5out *f, enum ck_field id, int k, double v, struct rv_error *err)
{
    char obj[64];
    const struct ck_row *row = attr_row(id, CK_T_DOUBLE, k, obj);
    return h5out_attr_double(f, obj, row->name, v, err);
}

int ck_put_string(struct h5out *f, enum ck_field id, int k, const char *v, struct rv_error *err)
{
    char obj[64];
    const struct ck_row *row = attr_row(id, CK_T_STRING, k, obj);
    return h5out_attr_string(f, obj, row->name, v, err);
}

/* "%.17g" of a bound, or "2^53" where that reads better. */
static void format_bound(char *buf, size_t cap, double x)
{
    if (x == MAX_COUNT)
        snprintf(buf, cap, "2^53");
    else if (isinf(x))
        snprintf(buf, cap, "%s∞", x < 0 ? "−" : "");
    else
        snprintf(buf, cap, "%.17g", x);
}

static int out_of_range(struct h5in *f, const struct ck_row *row, const char *where, double x,
                        struct rv_error *err)
{
    char lo[32], hi[32];
    format_bound(lo, sizeof lo, row->lo);
    format_bound(hi, sizeof hi, row->hi);
    return rv_fail(err, "%s: %s = %.17g is outside %s…%s%s; the checkpoint is damaged or was not "
                   "written by revive", h5in_path(f), where, x, lo, hi,
                   row->flags & CK_WHOLE ? " (whole numbers)" : row->flags & CK_ABOVE_LO ? ", and not "
                   "the lower bound" : "");
}

/* NaN fails every comparison, so it is out of range too. */
static int in_range(const struct ck_row *row, double x)
{
    if (!(row->flags & CK_BOUNDED))
        return 1;
    if (!(x >= row->lo && x <= row->hi) || isinf(x)) /* an "∞" bound means any finite value */
        return 0;
    if ((row->flags & CK_ABOVE_LO) && x == row->lo)
        return 0;
    return !(row->flags & CK_WHOLE) || x == floor(x);
}

int ck_get_int(struct h5in *f, enum ck_field id, int k, int64_t *v, struct rv_error *err)
{
    char obj[64], where[128];
    const struct ck_row *row = attr_row(id, CK_T_INT, k, obj);
    if (h5in_attr_int(f, obj, row->name, v, err))
        return -1;
    /* Compare as integers: int64 values beyond 2^53 would round in a double. */
    if ((row->flags & CK_BOUNDED) && ((double)*v < row->lo || (double)*v > row->hi ||
                                      *v < (int64_t)row->lo || *v > (int64_t)row->hi)) {
        snprintf(where, sizeof where, "attribute '%s' of '%s'", row->name, obj);
        return out_of_range(f, row, where, (double)*v, err);
    }
    return 0;
}

int ck_get_double(struct h5in *f, enum ck_field id, int k, double *v, struct rv_error *err)
{
    char obj[64], where[128];
    const struct ck_row *row = attr_row(id, CK_T_DOUBLE, k, obj);
    if (h5in_attr_double(f, obj, row->name, v, err))
        return -1;
    if (!in_range(row, *v)) {
        snprintf(where, sizeof where, "attribute '%s' of '%s'", row->name, obj);
        return out_of_range(f, row, where, *v, err);
    }
    return 0;
}

int ck_get_string(struct h5in *f, enum ck_field id, int k, char **v, struct rv_error *err)
{
    char obj[64];
    const struct ck_row *row = attr_row(id, CK_T_STRING, k, obj);
    if (h5in_attr_string(f, obj, row->name, v, err))
        return -1;
    size_t n = strlen(*v);
    if ((row->flags & CK_BOUNDED) && ((double)n < row->lo || (double)n > row->hi)) {
        free(*v);
        *v = NULL;
        return rv_fail(err, "%s: attribute '%s' of '%s' is %zu bytes long, outside %.0f…%.0f; the "
                       "checkpoint is damaged or was not written by revive", h5in_path(f), row->name,
                       obj, n, row->lo, row->hi);
    }
    return 0;
}

/* Whether optional attribute row id (instance k) is in the file. */
static bool optional_present(struct h5in *f, enum ck_field id, int k)
{
    char obj[64];
    REVIVE_ASSERT(ck_layout[id].flags & CK_OPTIONAL);
    ck_object(obj, sizeof obj, id, k);
    return h5in_attr_exists(f, obj, ck_layout[id].name);
}

int ck_get_string_opt(struct h5in *f, enum ck_field id, int k, char **v, struct rv_error *err)
{
    *v = NULL;
    return optional_present(f, id, k) ? ck_get_string(f, id, k, v, err) : 0;
}

int ck_get_int_opt(struct h5in *f, enum ck_field id, int k, int64_t *v, int64_t absent,
                   struct rv_error *err)
{
    *v = absent;
    return optional_present(f, id, k) ? ck_get_int(f, id, k, v, err) : 0;
}

int ck_get_double_opt(struct h5in *f, enum ck_field id, int k, double *v, double absent,
                      struct rv_error *err)
{
    *v = absent;
    return optional_present(f, id, k) ? ck_get_double(f, id, k, v, err) : 0;
}

double ck_value_at(enum ck_type t, const void *x, size_t j)
{
    switch (t) {
    case CK_T_F32: return ((const float *)x)[j];
    case CK_T_F64: return ((const double *)x)[j];
    case CK_T_I64: return (double)((const int64_t *)x)[j];
    default: return ((const uint8_t *)x)[j]; /* CK_T_U8 */
    }
}

int ck_check_values(struct h5in *f, enum ck_field id, const char *path, const void *x, size_t n,
                    struct rv_error *err)
{
    const struct ck_row *row = &ck_layout[id];
    for (size_t j = 0; j < n && (row->flags & CK_BOUNDED); j++) {
        double v = ck_value_at(row->type, x, j);
        if (in_range(row, v))
            continue;
        char where[256];
        snprintf(where, sizeof where, "%s[%zu]", path, j);
        return out_of_range(f, row, where, v, err);
    }
    return 0;
}

/* ---- rows with a home: read and written with their struct ------------------------------ */

/* The member of row at base, widened: integers to int64, doubles as they are. */
static int64_t member_int(const struct ck_row *row, const void *base)
{
    const char *p = (const char *)base + row->offset;
    switch (row->ctype) {
    case CK_C_INT: return *(const int *)p;
    case CK_C_LONG: return *(const long *)p;
    case CK_C_BOOL: return *(const bool *)p;
    case CK_C_SIZE: return (int64_t)*(const size_t *)p;
    default: REVIVE_ASSERT(0 && "not an integer member");
    }
    return 0;
}

/* The row's bounds (and its absent value) must fit the member, or a read would wrap: a table bug. */
static void assert_fits(const struct ck_row *row)
{
    double lo = row->ctype == CK_C_INT ? INT_MIN : row->ctype == CK_C_LONG ? (double)LONG_MIN
                : row->ctype == CK_C_BOOL || row->ctype == CK_C_SIZE ? 0 : -HUGE_VAL;
    double hi = row->ctype == CK_C_INT ? INT_MAX : row->ctype == CK_C_LONG ? (double)LONG_MAX
                : row->ctype == CK_C_BOOL ? 1 : row->ctype == CK_C_SIZE ? (double)SIZE_MAX : HUGE_VAL;
    if (row->type != CK_T_INT)
        return;
    REVIVE_ASSERT((row->flags & CK_BOUNDED) && row->lo >= lo && row->hi <= hi);
    REVIVE_ASSERT(!(row->flags & CK_OPTIONAL) || (row->absent >= lo && row->absent <= hi));
}

static void store_int(const struct ck_row *row, void *base, int64_t v)
{
    char *p = (char *)base + row->offset;
    switch (row->ctype) {
    case CK_C_INT: *(int *)p = (int)v; break;
    case CK_C_LONG: *(long *)p = (long)v; break;
    case CK_C_BOOL: *(bool *)p = v != 0; break;
    case CK_C_SIZE: *(size_t *)p = (size_t)v; break;
    default: REVIVE_ASSERT(0 && "not an integer member");
    }
}

/* The first attribute row from id on whose home is home; CK_NFIELDS when there is none. */
static int next_attr(enum ck_home home, int id)
{
    while (id < CK_NFIELDS && (ck_layout[id].home != home || !(ck_layout[id].flags & CK_ATTR)))
        id++;
    return id;
}

int ck_put_all(struct h5out *f, enum ck_home home, int k, const void *base, struct rv_error *err)
{
    for (int id = next_attr(home, 0); id < CK_NFIELDS; id = next_attr(home, id + 1)) {
        const struct ck_row *row = &ck_layout[id];
        const char *p = (const char *)base + row->offset;
        int rc = row->type == CK_T_INT      ? ck_put_int(f, (enum ck_field)id, k, member_int(row, base), err)
                 : row->type == CK_T_DOUBLE ? ck_put_double(f, (enum ck_field)id, k, *(const double *)p, err)
                                            : ck_put_string(f, (enum ck_field)id, k, p, err);
        if (rc)
            return -1;
    }
    return 0;
}

/* A row's value as read: i for an integer row, d for a double, text (malloc'd) for a string. */
struct row_value {
    int64_t i;
    double d;
    char *text;
};

/* Reads row id into v, its absent value when an optional row is missing (v->text = NULL then). */
static int get_row(struct h5in *f, enum ck_field id, int k, struct row_value *v, struct rv_error *err)
{
    const struct ck_row *row = &ck_layout[id];
    bool opt = row->flags & CK_OPTIONAL;
    *v = (struct row_value){0};
    switch (row->type) {
    case CK_T_INT:
        assert_fits(row);
        return opt ? ck_get_int_opt(f, id, k, &v->i, (int64_t)row->absent, err) : ck_get_int(f, id, k, &v->i, err);
    case CK_T_DOUBLE:
        REVIVE_ASSERT(row->ctype == CK_C_DOUBLE);
        return opt ? ck_get_double_opt(f, id, k, &v->d, row->absent, err) : ck_get_double(f, id, k, &v->d, err);
    default:
        REVIVE_ASSERT(row->type == CK_T_STRING && row->ctype == CK_C_TEXT && !opt);
        if (ck_get_string(f, id, k, &v->text, err))
            return -1;
        if (strlen(v->text) < row->size)
            return 0;
        char obj[64];
        ck_object(obj, sizeof obj, id, k);
        rv_fail(err, "%s: attribute '%s' of '%s' is %zu bytes long, more than the %zu this revive "
                "keeps; the checkpoint is damaged or was not written by revive", h5in_path(f),
                row->name, obj, strlen(v->text), row->size - 1);
        free(v->text);
        v->text = NULL;
        return -1;
    }
}

int ck_get_all(struct h5in *f, enum ck_home home, int k, void *base, struct rv_error *err)
{
    for (int id = next_attr(home, 0); id < CK_NFIELDS; id = next_attr(home, id + 1)) {
        const struct ck_row *row = &ck_layout[id];
        struct row_value v;
        if (get_row(f, (enum ck_field)id, k, &v, err))
            return -1;
        char *p = (char *)base + row->offset;
        if (row->type == CK_T_INT)
            store_int(row, base, v.i);
        else if (row->type == CK_T_DOUBLE)
            *(double *)p = v.d;
        else
            memcpy(p, v.text, strlen(v.text) + 1);
        free(v.text);
    }
    return 0;
}

int ck_match_all(struct h5in *f, enum ck_home home, int k, const void *base, struct rv_error *err)
{
    for (int id = next_attr(home, 0); id < CK_NFIELDS; id = next_attr(home, id + 1)) {
        const struct ck_row *row = &ck_layout[id];
        struct row_value v;
        if (get_row(f, (enum ck_field)id, k, &v, err))
            return -1;
        const char *p = (const char *)base + row->offset;
        int same = row->type == CK_T_INT ? v.i == member_int(row, base)
                   : row->type == CK_T_DOUBLE ? v.d == *(const double *)p : strcmp(v.text, p) == 0;
        free(v.text);
        if (same)
            continue;
        char obj[64];
        ck_object(obj, sizeof obj, (enum ck_field)id, k);
        if (row->type == CK_T_INT)
            return rv_fail(err, "%s: the checkpoint's %s has %s = %lld but the config and data give "
                           "%lld; the checkpoint does not match this config", h5in_path(f), obj,
                           row->name, (long long)v.i,
                           (long long)member_int(row, base));
        return rv_fail(err, "%s: attribute '%s' of '%s' differs from this run's; the checkpoint does "
                       "not match this config", h5in_path(f), row->name, obj);
    }
    return 0;
}

/* ---- checksum --------------------------------------------------------------------------- */

static uint32_t crc_bytes(uint32_t crc, const void *p, size_t n)
{
    return (uint32_t)crc32(crc, p, (uInt)n);
}

/* Every checksummed row's value (stage rows once per stage), in table order, with its object
 * and name, so a value moved to another name changes the sum too. Integers and doubles enter as
 * their 8 little-endian bytes, strings as their bytes and terminating NUL. */
int ck_checksum_in(struct h5in *f, enum ck_file file, int nstages, uint32_t *crc,
                   struct rv_error *err)
{
    uint32_t c = (uint32_t)crc32(0, Z_NULL, 0);
    for (int id = 0; id < CK_NFIELDS; id++) {
        const struct ck_row *row = &ck_layout[id];
        if (!(row->flags & CK_CHECKSUMMED) || !ck_in_file(row, file))
            continue;
        int per_stage = strstr(row->object, "KK") != NULL;
        for (int k = 0; k < (per_stage ? nstages : 1); k++) {
            char obj[64], path[160];
            ck_object(obj, sizeof obj, (enum ck_field)id, k);
            c = crc_bytes(c, obj, strlen(obj) + 1);
            c = crc_bytes(c, row->name, strlen(row->name) + 1);
            unsigned char le[8];
            uint64_t bits = 0;
            int rc = 0;
            if (row->type == CK_T_INT) {
                int64_t v;
                rc = h5in_attr_int(f, obj, row->name, &v, err);
                bits = (uint64_t)v;
            } else if (row->type == CK_T_DOUBLE) {
                double v;
                rc = h5in_attr_double(f, obj, row->name, &v, err);
                memcpy(&bits, &v, sizeof bits);
            } else {
                char *text = NULL;
                snprintf(path, sizeof path, "%s/%s", strcmp(obj, "/") ? obj : "", row->name);
                rc = row->flags & CK_ATTR ? h5in_attr_string(f, obj, row->name, &text, err)
                                          : h5in_string(f, path, &text, err);
                if (!rc)
                    c = crc_bytes(c, text, strlen(text) + 1);
                free(text);
                if (rc)
                    return -1;
                continue;
            }
            if (rc)
                return -1;
            for (int i = 0; i < 8; i++)
                le[i] = (unsigned char)(bits >> (8 * i));
            c = crc_bytes(c, le, sizeof le);
        }
    }
    *crc = c;
    return 0;
}

int ck_checksum_out(struct h5out *f, enum ck_file file, int nstages, uint32_t *crc,
                    struct rv_error *err)
{
    struct h5in *view = h5out_reader(f);
    int rc = ck_checksum_in(view, file, nstages, crc, err);
    h5in_close(view);
    return rc;
}

/* ---- the document ----------------------------------------------------------------------- */

static const char *type_name(enum ck_type t, unsigned flags)
{
    switch (t) {
    case CK_T_INT: return "int";
    case CK_T_DOUBLE: return "double";
    case CK_T_STRING: return flags & CK_ATTR ? "string" : "string dataset";
    case CK_T_F32: return "float32";
    case CK_T_F64: return "float64";
    case CK_T_I64: return "int64";
    case CK_T_U8: return "uint8";
    }
    return "?";
}

void ck_write_markdown(FILE *out)
{
    fprintf(out, "<!-- generated from src/io/checkpoint_layout.c by build/tests/test_checkpoint "
                 "--write-docs; do not edit by hand -->\n\n");
    static const char *const home_name[] = {[CK_NOWHERE] = "", [CK_IN_RUN] = "run",
                                            [CK_IN_SPEC] = "model_spec", [CK_IN_RECORD] = "stage_record",
                                            [CK_IN_PROV] = "provenance",
                                            [CK_IN_UNIT] = "ck_unit", [CK_IN_MODEL] = "model",
                                            [CK_IN_SR] = "sr_state"};
    fprintf(out, "| path | type | shape | bounds | ✓ | in memory | meaning |\n"
                 "|---|---|---|---|---|---|---|\n");
    for (int id = 0; id < CK_NFIELDS; id++) {
        const struct ck_row *r = &ck_layout[id];
        char path[128], bounds[128] = "", lo[32], hi[32];
        int root = strcmp(r->object, "/") == 0;
        if (r->flags & CK_ATTR)
            snprintf(path, sizeof path, "`/%s` attribute `%s`", root ? "" : r->object, r->name);
        else
            snprintf(path, sizeof path, "`/%s%s%s`", root ? "" : r->object, root ? "" : "/", r->name);
        if ((r->flags & CK_BOUNDED) && r->type == CK_T_STRING) {
            snprintf(bounds, sizeof bounds, "≤ %.0f bytes", r->hi);
        } else if (r->flags & CK_BOUNDED) {
            format_bound(lo, sizeof lo, r->lo);
            format_bound(hi, sizeof hi, r->hi);
            if (r->flags & CK_ABOVE_LO)
                snprintf(bounds, sizeof bounds, "%s…%s, not %s", lo, hi, lo);
            else
                snprintf(bounds, sizeof bounds, "%s…%s%s", lo, hi, r->flags & CK_WHOLE ? ", whole" : "");
        }
        const char *note = r->flags & CK_FULL_ONLY ? " Full checkpoints only."
                           : r->flags & CK_SINCE_V2 ? " Format 2 and later."
                           : r->flags & CK_ADDED_NET && r->flags & CK_OPTIONAL
                               ? " Optional (the network description, added in format 3)."
                           : r->flags & CK_ADDED_NET ? " In each `unit-KK` (the network description, "
                                                       "added in format 3)."
                           : r->flags & CK_ADDED_V3 && r->flags & CK_OPTIONAL ? " Optional (added in format 3)."
                           : r->flags & CK_ADDED && r->flags & CK_OPTIONAL ? " Optional (added in format 2)."
                           : r->flags & CK_ADDED ? " In each `start-KK` (added in format 2)."
                           : r->flags & CK_OPTIONAL ? " Optional in format 1."
                           : r->flags & CK_STATE_ONLY ? " In a superres state file only."
                           : "";
        const char *state = r->flags & CK_STATE ? " In a superres state file too." : "";
        char member[64] = "";
        if (r->home != CK_NOWHERE && r->member[0] == '(')
            snprintf(member, sizeof member, "derived");
        else if (r->home != CK_NOWHERE)
            snprintf(member, sizeof member, "`%s.%s`", home_name[r->home], r->member);
        fprintf(out, "| %s | %s | %s | %s | %s | %s | %s.%s%s |\n", path, type_name(r->type, r->flags),
                r->shape, bounds, r->flags & CK_CHECKSUMMED ? "✓" : "", member, r->meaning, note,
                state);
    }
}
