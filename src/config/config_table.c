/* Every configuration key in one row, and the one parser every value goes through: INI files,
 * --set, the defaults in the table and config_validate's re-check of a struct all use
 * config_parse_value, so a value is valid iff its INI text parses. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_table.h"
#include "layers.h"

#define K(sec, key, type, field, lo, hi, def, unused, help)                                   \
    { sec, key, type, offsetof(struct config, field), sizeof(((struct config *)0)->field), lo, \
      hi, false, def, NULL, 0, help }
/* A choice: the field holds an enum whose names are `table` (declared with its size). */
#define KC(sec, key, field, def, table, help)                                                  \
    { sec, key, CFG_CHOICE, offsetof(struct config, field),                                    \
      sizeof(((struct config *)0)->field), 0, 0, false, def, table,                            \
      (int)(sizeof table / sizeof table[0]), help }
/* A list of whole numbers (epoch counts). */
#define KW(sec, key, field, lo, hi, help)                                                      \
    { sec, key, CFG_LIST, offsetof(struct config, field), sizeof(((struct config *)0)->field), \
      lo, hi, true, "", NULL, 0, help }

/* The name tables of the choices, in enum order (config.h). */
const char *const dataset_names[DATASET_COUNT] = {
    [DATASET_FASHION_MNIST] = "fashion_mnist", [DATASET_CIFAR10] = "cifar10",
    [DATASET_SYNTHETIC] = "synthetic",
};
const char *const gamma_init_names[GAMMA_INIT_COUNT] = {
    [GAMMA_INIT_UNIFORM] = "uniform", [GAMMA_INIT_ONE] = "one",
};
const char *const stage_kind_names[STAGE_KIND_COUNT] = {
    [STAGE_ALL] = "all", [STAGE_BN] = "bn", [STAGE_BN_OUTPUT] = "bn_output",
    [STAGE_OUTPUT] = "output", [STAGE_PER_CHANNEL] = "per_channel",
    [STAGE_CONV_FRACTION] = "conv_fraction",
};
const char *const lr_kind_names[LR_KIND_COUNT] = {
    [LR_CONSTANT] = "constant", [LR_STEP] = "step", [LR_COSINE] = "cosine",
    [LR_WARMUP_COSINE] = "warmup_cosine",
};
const char *const optimizer_names[OPT_COUNT] = {[OPT_SGD] = "sgd", [OPT_ADAMW] = "adamw"};
const char *const select_names[SELECT_COUNT] = {
    [SELECT_RANDOM] = "random", [SELECT_REINIT_FIRST] = "reinit_first",
};
const char *const reinit_gamma_names[REINIT_GAMMA_COUNT] = {
    [REINIT_GAMMA_INITIAL] = "initial", [REINIT_GAMMA_FRESH] = "fresh",
    [REINIT_GAMMA_ZERO] = "zero", [REINIT_GAMMA_VALUE] = "value", [REINIT_GAMMA_MEDIAN] = "median",
};
const char *const reinit_beta_names[REINIT_BETA_COUNT] = {
    [REINIT_BETA_INITIAL] = "initial", [REINIT_BETA_KEEP] = "keep",
};
const char *const reinit_weights_names[REINIT_WEIGHTS_COUNT] = {
    [REINIT_WEIGHTS_FRESH] = "fresh", [REINIT_WEIGHTS_KEEP] = "keep",
    [REINIT_WEIGHTS_ORTHOGONAL] = "orthogonal",
};
const char *const threshold_mode_names[THRESHOLD_MODE_COUNT] = {
    [THRESHOLD_ABSOLUTE] = "absolute", [THRESHOLD_RELATIVE] = "relative",
};
const char *const conv_algo_names[CONV_ALGO_COUNT] = {
    [CONV_ALGO_AUTO] = "auto", [CONV_ALGO_IM2COL] = "im2col", [CONV_ALGO_WINOGRAD] = "winograd",
    [CONV_ALGO_ONEDNN] = "onednn",
};

const char *const pixel_loss_names[PIXEL_LOSS_COUNT] = {
    [PIXEL_LOSS_MSE] = "mse", [PIXEL_LOSS_L1] = "l1",
};
const char *const sr_skip_names[SR_SKIP_COUNT] = {
    [SR_SKIP_NONE] = "none", [SR_SKIP_NEAREST] = "nearest", [SR_SKIP_BICUBIC] = "bicubic",
    [SR_SKIP_INPUT] = "input",
};
const char *const sr_task_names[SR_TASK_COUNT] = {
    [SR_TASK_X2] = "x2", [SR_TASK_DENOISE] = "denoise",
};
const char *const style_mode_names[STYLE_MODE_COUNT] = {
    [STYLE_TEXTURE] = "texture", [STYLE_TRANSFER] = "transfer",
};
const char *const style_normalize_names[STYLE_NORMALIZE_COUNT] = {
    [STYLE_NORMALIZE_IMAGENET] = "imagenet", [STYLE_NORMALIZE_DATA] = "data",
    [STYLE_NORMALIZE_NONE] = "none",
};
const char *const style_optimizer_names[STYLE_OPTIMIZER_COUNT] = {
    [STYLE_LBFGS] = "lbfgs", [STYLE_ADAM] = "adam",
};

int config_choice_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

const char *config_choice_name(const char *const *names, int n, int v)
{
    return v >= 0 && v < n ? names[v] : "?";
}

/* "a|b|c": a choice's names, for the range column and messages. */
static void join_names(const struct config_key *k, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < k->nnames && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "|" : "", k->names[i]);
}

const struct config_key config_keys[] = {
    K("run", "name", CFG_STRING, name, 0, 0, "\"run\"", NULL,
      "run name: checkpoints and logs go to out_dir/name/"),
    K("run", "out_dir", CFG_STRING, out_dir, 0, 0, "\"checkpoints\"", NULL,
      "directory holding one subdirectory per run"),
    K("run", "seed", CFG_INT, seed, 0, 2147483647, "1", NULL,
      "seed of every random stream: init, shuffling, augmentation, masks"),
    K("run", "threads", CFG_INT, threads, 0, 256, "0", NULL,
      "OpenMP threads per MPI rank; 0 = OMP_NUM_THREADS or all cores"),

    KC("data", "dataset", dataset, "fashion_mnist", dataset_names, "which data set to train and test on"),
    K("data", "path", CFG_STRING, data_path, 0, 0, "\"\"", NULL,
      "data directory; empty = /usr/share/datasets/fashion-mnist (fashion_mnist) or "
      "data/cifar-10-batches-bin (cifar10)"),
    K("data", "train_limit", CFG_INT, train_limit, 0, 10000000, "0", NULL,
      "use only the first N training images; 0 = all"),
    K("data", "test_limit", CFG_INT, test_limit, 0, 10000000, "0", NULL,
      "use only the first N test images; 0 = all"),
    K("data", "augment_crop", CFG_INT, augment_crop, 0, 16, "4", NULL,
      "random crop after zero-padding this many pixels per side; 0 = no crop"),
    K("data", "augment_flip", CFG_BOOL, augment_flip, 0, 0, "true", NULL,
      "random horizontal flip of training images"),
    K("data", "synthetic_train", CFG_INT, synthetic_train, 1, 1000000, "512", NULL,
      "synthetic data set: training images"),
    K("data", "synthetic_test", CFG_INT, synthetic_test, 1, 1000000, "256", NULL,
      "synthetic data set: test images"),
    K("data", "synthetic_size", CFG_INT, synthetic_size, 4, 64, "8", NULL,
      "synthetic data set: image height and width"),
    K("data", "synthetic_channels", CFG_INT, synthetic_channels, 1, 3, "1", NULL,
      "synthetic data set: channels"),
    K("data", "synthetic_classes", CFG_INT, synthetic_classes, 2, 100, "4", NULL,
      "synthetic data set: classes"),
    K("data", "label_noise", CFG_DOUBLE, label_noise, 0, 1, "0", NULL,
      "share of TRAINING labels replaced, once at load: exactly round(p*n) images chosen by seed, "
      "each given a label drawn uniformly from the other classes; test labels untouched"),

    KC("model", "arch", arch, "resnet", arch_names,
      "network family (src/models/): resnet, the CIFAR ResNet of He et al. (3 stages of basic "
      "blocks); imagenet_resnet, torchvision's ResNets; vgg, VGG with max-pools; mixer, MLP-Mixer "
      "(model.patch, hidden, tokens_mlp, channels_mlp, blocks)"),
    K("model", "depth", CFG_INT, depth, 8, 866, "20", NULL,
      "layers: resnet 6n+2 (20, 32, 44, 56, 110, ...: n basic blocks per stage); "
      "imagenet_resnet 18, 34, 50, 101, 152, 200; vgg 11, 13, 16, 19"),
    K("model", "width", CFG_INT, width, 1, 64, "1", NULL,
      "channel multiplier: resnet's stages have 16w, 32w and 64w channels, imagenet_resnet's "
      "64w to 512w (times 4 for a bottleneck), vgg's 64w to 512w"),
    KC("model", "stem", stem, "auto", stem_names,
      "imagenet_resnet's first layers: imagenet (7x7/2 conv, BN, ReLU, 3x3/2 max-pool; auto) or "
      "cifar (3x3/1 conv, BN, ReLU: for 28x28 and 32x32 images); other families: auto"),
    KC("model", "norm", norm, "batchnorm", norm_names,
      "vgg's normalization after each conv: batchnorm (each conv and its BN a unit) or none "
      "(no units); other families: batchnorm"),
    KC("model", "head", head, "auto", head_names,
      "vgg's classifier: pool (global average pool, linear), torchvision (flatten 512x7x7, "
      "4096, 4096, linear; needs a 224x224 input) or auto (torchvision where the features end "
      "at 7x7, else pool); other families: auto"),
    KC("model", "gamma_init", gamma_init, "uniform", gamma_init_names,
      "BatchNorm gamma at init: uniform on [0,1) or all one; beta starts at 0"),
    K("model", "skip", CFG_BOOL, skip, 0, 0, "true", NULL,
      "imagenet_resnet's residual connections; false removes each block's add and downsample "
      "projection (the plain network of the same depth and width); other families: true"),
    K("model", "patch", CFG_INT, mixer_patch, 1, 64, "4", NULL,
      "mixer: patch size P (the embedding is a PxP conv of stride P; P divides the image size)"),
    K("model", "hidden", CFG_INT, mixer_hidden, 1, 4096, "64", NULL,
      "mixer: hidden channels C of every token"),
    K("model", "tokens_mlp", CFG_INT, mixer_tokens_mlp, 1, 4096, "32", NULL,
      "mixer: token-mixing MLP width D_S"),
    K("model", "channels_mlp", CFG_INT, mixer_channels_mlp, 1, 16384, "256", NULL,
      "mixer: channel-mixing MLP width D_C"),
    K("model", "blocks", CFG_INT, mixer_blocks, 1, 64, "6", NULL,
      "mixer: Mixer blocks (the defaults are Mixer-pico: 221,232 parameters on 28x28)"),

    KC("train", "trainable", trainable, "all", stage_kind_names,
      "what trains in a single-stage run (stages.h): all, BatchNorm only, BN and output, "
      "output only, k conv weights per channel, BN and a fraction of conv weights"),
    K("train", "per_channel_k", CFG_INT, per_channel_k, 1, 4096, "2", NULL,
      "per_channel: random conv weights trained per output channel (2 matches BN's count)"),
    K("train", "conv_fraction", CFG_DOUBLE, conv_fraction, 0, 1, "0.01", NULL,
      "conv_fraction: fraction of all conv weights that train, besides BatchNorm"),
    K("train", "epochs", CFG_INT, epochs, 1, 100000, "10", NULL,
      "epochs of a single-stage run, and of each stage when pipeline.epochs is empty"),
    K("train", "batch_size", CFG_INT, batch_size, 1, 65536, "128", NULL,
      "training mini-batch size (over all ranks)"),
    K("train", "eval_batch_size", CFG_INT, eval_batch_size, 1, 65536, "500", NULL,
      "mini-batch size when evaluating on the test set"),
    K("train", "lr", CFG_DOUBLE, lr, 1e-12, 10, "0.1", NULL,
      "base learning rate, before schedule and warmup"),
    K("train", "momentum", CFG_DOUBLE, momentum, 0, 0.999, "0.9", NULL, "SGD momentum"),
    K("train", "nesterov", CFG_BOOL, nesterov, 0, 0, "false", NULL, "Nesterov momentum"),
    K("train", "weight_decay", CFG_DOUBLE, weight_decay, 0, 1, "1e-4", NULL,
      "sgd: L2 penalty coefficient added to the gradient of trainable parameters; adamw: "
      "decoupled decay, each step w -= lr * weight_decay * w (torch.optim.AdamW's weight_decay)"),
    KC("train", "optimizer", optimizer, "sgd", optimizer_names,
      "sgd (momentum, nesterov, L2 weight_decay) or adamw (torch.optim.AdamW: beta1, beta2, eps, "
      "bias correction, decoupled weight_decay; its state restarts with every stage)"),
    K("train", "beta1", CFG_DOUBLE, beta1, 0, 0.999999, "0.9", NULL,
      "adamw: decay of the first moment (running mean of the gradient)"),
    K("train", "beta2", CFG_DOUBLE, beta2, 0, 0.999999, "0.999", NULL,
      "adamw: decay of the second moment (running mean of the squared gradient)"),
    K("train", "eps", CFG_DOUBLE, adam_eps, 1e-30, 1, "1e-8", NULL,
      "adamw: added to the square root of the bias-corrected second moment"),
    KC("train", "lr_schedule", lr_schedule, "step", lr_kind_names,
      "learning-rate schedule within a stage: constant; step (milestones); cosine (half a cosine "
      "from lr to lr_min over the stage, times the warm-up ramp); warmup_cosine (linear warm-up "
      "to lr, then half a cosine from lr to lr_min over the rest of the stage)"),
    K("train", "milestones", CFG_LIST, milestones, 0, 100000, "", NULL,
      "step: epochs (increasing) at which lr is multiplied by lr_factor"),
    K("train", "milestone_fractions", CFG_LIST, milestone_fractions, 0, 1, "", NULL,
      "step: milestones as fractions (increasing) of each stage's epochs, instead of milestones; "
      "0.5, 0.75 = the paper's schedule whatever the training length"),
    K("train", "lr_factor", CFG_DOUBLE, lr_factor, 0, 1, "0.1", NULL,
      "step: factor applied to lr at each milestone"),
    K("train", "warmup_epochs", CFG_DOUBLE, warmup_epochs, 0, 100000, "0", NULL,
      "linear lr warmup over this many epochs at the start of each stage; 0 = none"),
    K("train", "warmup_steps", CFG_INT, warmup_steps, 0, 1000000000, "0", NULL,
      "the warm-up in optimizer steps instead of warmup_epochs (give one of them); 0 = none"),
    K("train", "lr_min", CFG_DOUBLE, lr_min, 0, 10, "0", NULL,
      "cosine and warmup_cosine: the learning rate at the stage's end (torch's eta_min); "
      "below lr"),
    K("train", "label_smoothing", CFG_DOUBLE, label_smoothing, 0, 1, "0", NULL,
      "epsilon of the training cross-entropy: targets (1 - eps) one-hot + eps / classes, as "
      "torch's CrossEntropyLoss(label_smoothing); the test loss stays plain cross-entropy"),
    K("train", "sync_bn", CFG_BOOL, sync_bn, 0, 0, "true", NULL,
      "BatchNorm batch statistics over all ranks (one global batch), not per rank"),
    K("train", "checkpoint_every_steps", CFG_INT, checkpoint_every_steps, 0, 100000000, "0",
      NULL, "also checkpoint every this many steps; 0 = only at epoch ends"),
    KC("train", "conv_algo", conv_algo, "auto", conv_algo_names,
      "convolutions: im2col; Winograd F(2x2,3x3) for 3x3 stride-1 (float32 error a few times "
      "im2col's); onednn (libdnnl's kernels, every conv; masked weight gradients stay im2col); "
      "or auto = for 3x3 convs with 8+ input channels, onednn where its kernels are AVX-512, "
      "else Winograd (stride 1); im2col for the stem and 1x1 (measured fastest so); a resumed "
      "run keeps the auto rule it started under (checkpoint /model conv_auto_rule)"),

    K("pipeline", "enabled", CFG_BOOL, pipeline, 0, 0, "false", NULL,
      "run the staged pipeline instead of one stage of [train] trainable"),
    K("pipeline", "n", CFG_DOUBLE, pipeline_n, 1e-9, 1, "0.01", NULL,
      "first partial stage's conv fraction N; stages are 0, N, sN, s^2 N, ... while < 1, then 1"),
    K("pipeline", "s", CFG_DOUBLE, pipeline_s, 1.000001, 1000, "4", NULL,
      "growth factor s between successive stage fractions"),
    K("pipeline", "fractions", CFG_LIST, fractions, 0, 1, "", NULL,
      "explicit stage fractions instead of n and s: first 0 (BatchNorm only); more leading "
      "zeros are BatchNorm-only rounds with the transition (re-initialization) between them; "
      "then strictly increasing, 1 = all parameters (0, 0, 0 = three BN-only rounds; 0, 0.01, "
      "0.1, 1 = the pipeline)"),
    KW("pipeline", "epochs", stage_epochs, 1, 100000,
       "epochs per stage: empty = train.epochs, one value for all stages, or one per stage"),
    K("pipeline", "lr", CFG_LIST, stage_lr, 1e-12, 10, "", NULL,
      "base learning rate per stage (train.lr_schedule runs from it within each stage): empty = "
      "train.lr, one value for all stages, or one per stage (e.g. 0.01, 0.01, 0.002: the "
      "norm-only stages higher than the all-parameters one)"),
    K("pipeline", "threshold", CFG_DOUBLE, threshold, 0, 10, "0.01", NULL,
      "tau: a filter whose |gamma| < tau counts as disabled (threshold_mode = absolute)"),
    KC("pipeline", "threshold_mode", threshold_mode, "absolute", threshold_mode_names,
      "what |gamma| is compared with: tau (absolute), or tau times the largest |gamma| of the "
      "filter's unit (relative, as Neural Rejuvenation); drives the flags, statistics, clamp and "
      "re-initialization alike"),
    KC("pipeline", "select", select, "random", select_names,
      "which conv weights a stage adds: random, or those of disabled filters first"),
    K("pipeline", "train_output", CFG_BOOL, train_output, 0, 0, "false", NULL,
      "the output layer also trains in the partial stages"),
    KC("pipeline", "reinit_gamma", reinit_gamma, "initial", reinit_gamma_names,
      "gamma of a re-initialized filter: its initial value, a fresh draw from the same distribution, "
      "0 (with reinit_beta = keep the network's output is unchanged at the transition), "
      "reinit_gamma_value, or median = the unit's median |gamma| at the transition with the old "
      "gamma's sign (with reinit_weights = keep and reinit_beta = keep: Channel Regeneration)"),
    K("pipeline", "reinit_gamma_value", CFG_DOUBLE, reinit_gamma_value, -100, 100, "1", NULL,
      "reinit_gamma = value: the gamma every re-initialized filter gets"),
    KC("pipeline", "reinit_beta", reinit_beta, "initial", reinit_beta_names,
      "beta of a re-initialized filter: its initial value (0), or keep its trained value"),
    KC("pipeline", "reinit_weights", reinit_weights, "fresh", reinit_weights_names,
      "conv weights of a re-initialized filter: a fresh draw from the initial distribution, keep "
      "the trained ones (and the BN running statistics), or orthogonal = the fresh draw made "
      "orthogonal to the unit's live filters, rescaled to the draw's norm (as RePr)"),
    K("pipeline", "reinit_weight_scale", CFG_DOUBLE, reinit_weight_scale, 0, 1000, "1", NULL,
      "factor on the fresh conv weights of a re-initialized filter (1 = the initial distribution); "
      "reinit_weights = fresh or orthogonal"),
    K("pipeline", "reinit", CFG_BOOL, reinit, 0, 0, "true", NULL,
      "re-initialize disabled filters between stages; false = the control: same schedule, nothing "
      "re-initialized, the statistics still flag the filters that would have been"),
    K("pipeline", "recalibrate_batches", CFG_INT, recalibrate_batches, 0, 1000000, "0", NULL,
      "after each transition, recompute every BatchNorm running mean/var as the average over this "
      "many training batches (train-mode forward, no update); 0 = off"),

    KC("superres", "task", sr_task, "x2", sr_task_names,
      "pipeline superres's task: x2 (super-resolution: the image average-pooled 2x2 in; generator "
      "srresnet) or denoise (the image plus Gaussian noise of noise_sigma in; generator "
      "srresnet_x1, src/models/srresnet.c); the target is the image"),
    K("superres", "noise_sigma", CFG_DOUBLE, sr_noise_sigma, 0, 10, "0", NULL,
      "task = denoise: the standard deviation of the additive Gaussian noise in [0, 1] pixel "
      "units (> 0; fresh per seed, epoch and image in training, the same for every run on the "
      "test images); task = x2: 0"),
    K("superres", "blocks", CFG_INT, sr_blocks, 0, 64, "3", NULL,
      "pipeline superres: the generator's residual blocks (SRResNet, src/models/srresnet.c)"),
    K("superres", "width", CFG_INT, sr_width, 1, 16, "1", NULL,
      "the generator's channel multiplier: 32w channels (w = 1, 3 blocks: 18.7 M multiply-adds "
      "per 14x14 image for x2, 51.0 M per 28x28 image for denoise)"),
    KC("superres", "pixel_loss", sr_pixel_loss, "mse", pixel_loss_names,
      "the pixel loss against the target: mse (mean squared error) or l1 (mean absolute error)"),
    K("superres", "perceptual_weight", CFG_DOUBLE, sr_perceptual_weight, 0, 1e6, "0", NULL,
      "lambda: loss = pixel + lambda * perceptual (the loss network's features); 0 = pixel loss "
      "alone, no loss network"),
    KC("superres", "lossnet_arch", sr_lossnet_arch, "vgg", arch_names,
      "the frozen loss network's family (resnet, imagenet_resnet, vgg; include/lossnet.h)"),
    K("superres", "lossnet_depth", CFG_INT, sr_lossnet_depth, 8, 866, "11", NULL,
      "the loss network's depth, as model.depth"),
    K("superres", "lossnet_width", CFG_INT, sr_lossnet_width, 1, 64, "1", NULL,
      "the loss network's channel multiplier, as model.width"),
    KC("superres", "lossnet_stem", sr_lossnet_stem, "auto", stem_names,
      "the loss network's stem, as model.stem (imagenet_resnet: cifar for 28x28 images)"),
    KC("superres", "lossnet_norm", sr_lossnet_norm, "batchnorm", norm_names,
      "the loss network's normalization, as model.norm (vgg: batchnorm or none)"),
    K("superres", "lossnet_taps", CFG_STRING, sr_lossnet_taps, 0, 0,
      "\"group1.conv1, group2.conv1, group3.conv2\"", NULL,
      "comma-separated layer names whose outputs the perceptual loss compares (at most 8; "
      "`pipeline inspect --layers` of a checkpoint lists a network's layers)"),
    K("superres", "lossnet_tap_weights", CFG_LIST, sr_lossnet_tap_weights, 0, 1e6, "", NULL,
      "one weight per tap (the perceptual loss is their weighted sum); empty = all 1"),
    KC("superres", "lossnet_init", sr_lossnet_init, "liu", lossnet_init_names,
      "random loss network weights: normal N(0, s^2), uniform U[-s, s] (s = lossnet_init_scale), "
      "xavier (normal), kaiming (normal, fan-in), liu (Kaiming scaled by depth: "
      "sqrt(2 / (l k^2 c_in)) for the l-th conv)"),
    K("superres", "lossnet_init_scale", CFG_DOUBLE, sr_lossnet_init_scale, 0, 100, "0.01", NULL,
      "lossnet_init = normal: sigma; uniform: a; ignored by the others"),
    K("superres", "lossnet_seed", CFG_INT, sr_lossnet_seed, 0, 2147483647, "0", NULL,
      "seed of the random loss network's weights; 0 = run.seed"),
    K("superres", "lossnet_checkpoint", CFG_STRING, sr_lossnet_checkpoint, 0, 0, "\"\"", NULL,
      "a revive checkpoint of the same network (lossnet_* keys) whose weights the loss network "
      "takes instead of random ones; empty = random"),
    K("superres", "grid_images", CFG_INT, sr_grid_images, 1, 64, "8", NULL,
      "rows of grid.png (the first test images): low-resolution input, output, target"),
    K("superres", "train_skip", CFG_INT, sr_train_skip, 0, 10000000, "0", NULL,
      "the generator trains on the training images after the first N (a classifier loss network "
      "trained on the first N with data.train_limit = N: disjoint halves); data.train_limit then "
      "counts from there"),
    KC("superres", "skip", sr_skip, "none", sr_skip_names,
      "the output is the generator's plus this upsampling of the input (a global skip: the "
      "generator learns the residual, its output conv zeroed at the start so it starts as the "
      "upsampling itself): none, nearest or bicubic (include/upsample.h) for task = x2; none or "
      "input (the noisy input itself) for task = denoise"),
    K("superres", "icnr", CFG_BOOL, sr_icnr, 0, 0, "false", NULL,
      "initialize up.conv (before the pixel shuffle) by ICNR (Aitken et al. 2017): the four "
      "sub-pixel filters of each output channel equal, so the first shuffle has no checkerboard"),
    K("superres", "judge_checkpoint", CFG_STRING, sr_judge_checkpoint, 0, 0, "\"\"", NULL,
      "a revive classifier checkpoint of the same images (e.g. pipeline run on the full training "
      "set): its test accuracy on the targets, the outputs, bicubic and nearest (\"recognizable?\"); "
      "empty = not measured"),

    KC("style", "mode", style_mode, "texture", style_mode_names,
      "pipeline style: texture (style loss only, from noise) or transfer (content + style, from "
      "the content image)"),
    K("style", "style_image", CFG_STRING, style_image, 0, 0, "\"\"", NULL,
      "PNG whose Gram matrices are the target (texture or style)"),
    K("style", "content_image", CFG_STRING, content_image, 0, 0, "\"\"", NULL,
      "PNG whose features are the content target (mode = transfer); the result has its size"),
    K("style", "downsample", CFG_INT, style_downsample, 1, 16, "1", NULL,
      "average each image over k x k blocks first (512x512 by 4: 128x128)"),
    K("style", "crop", CFG_INT, style_crop, 0, 4096, "0", NULL,
      "then keep the central crop x crop pixels; 0 = the whole image"),
    K("style", "channels", CFG_INT, style_channels, 1, 3, "3", NULL,
      "input channels of a random network (1 gray or 3 RGB; images are converted); a checkpoint's "
      "network takes its own"),
    KC("style", "normalize", style_normalize, "imagenet", style_normalize_names,
      "the network's input from a pixel p in [0,1]: imagenet (p - mean) / std with torchvision's "
      "ImageNet values (gray: their channel means), data (a checkpoint's own data statistics), "
      "none (p)"),
    K("style", "checkpoint", CFG_STRING, style_checkpoint, 0, 0, "\"\"", NULL,
      "a revive checkpoint whose weights and running statistics the frozen network takes (at any "
      "input size); empty = random weights (style.init, run.seed) for the [model] keys, BatchNorm "
      "at its initial statistics"),
    KC("style", "init", style_init, "kaiming", lossnet_init_names,
      "random weights (lossnet.h): kaiming N(0, 2/fan_in), xavier, liu (Kaiming over the conv's "
      "index), normal N(0, init_scale^2), uniform U[-init_scale, init_scale]; gamma 1, beta 0"),
    K("style", "init_scale", CFG_DOUBLE, style_init_scale, 0, 1e6, "0.01", NULL,
      "init = normal: sigma; init = uniform: the bound"),
    K("style", "style_taps", CFG_STRING, style_taps, 0, 0,
      "\"stem, layer1.1, layer2.1, layer3.1, layer4.1\"", NULL,
      "comma-separated layer names whose Gram matrices the style loss compares (each weighted 1)"),
    K("style", "content_taps", CFG_STRING, content_taps, 0, 0, "\"layer3.1\"", NULL,
      "comma-separated layer names whose features the content loss compares (mode = transfer)"),
    KC("style", "swag", swag, "none", swag_names,
      "SWAG transform of the swag_taps' features before the Gram and content losses: "
      "softmax_all (one softmax over the tap's C*H*W entries: the paper's), softmax_channels "
      "(over channels at each position: the first code release), scale (times swag_alpha: the "
      "current code), none"),
    K("style", "swag_taps", CFG_STRING, swag_taps, 0, 0, "\"layer3.1, layer4.1\"", NULL,
      "comma-separated taps the SWAG transform applies to (the reference: the deeper stages)"),
    K("style", "swag_alpha", CFG_DOUBLE, swag_alpha, 0, 1e6, "0.001", NULL,
      "the factor of swag = scale"),
    K("style", "style_weight", CFG_DOUBLE, style_weight, 0, 1e30, "1e6", NULL,
      "weight of each style tap's mean squared Gram difference"),
    K("style", "content_weight", CFG_DOUBLE, content_weight, 0, 1e30, "1", NULL,
      "weight of each content tap's mean squared feature difference (mode = transfer)"),
    KC("style", "optimizer", style_optimizer, "lbfgs", style_optimizer_names,
      "lbfgs (torch.optim.LBFGS: no line search, tolerances 1e-7 and 1e-9) or adam on the image"),
    K("style", "evaluations", CFG_INT, style_evaluations, 1, 10000000, "1000", NULL,
      "loss and gradient evaluations at most (the reference: 1000); adam: its steps"),
    K("style", "lr", CFG_DOUBLE, style_lr, 0, 1e6, "0", NULL,
      "step size; 0 = the optimizer's default (lbfgs 1, adam 0.02)"),
    K("style", "history", CFG_INT, style_history, 1, 1000, "100", NULL,
      "lbfgs: (s, y) pairs kept"),
    K("style", "max_iter", CFG_INT, style_max_iter, 1, 100000, "20", NULL,
      "lbfgs: iterations per optimizer step (torch's max_iter)"),
    K("style", "seed", CFG_INT, style_seed, 0, 2147483647, "1", NULL,
      "seed of the texture's starting noise, uniform on [0,1) per pixel"),
    K("style", "log_every", CFG_INT, style_log_every, 1, 10000000, "50", NULL,
      "a row of the loss history (and a progress line) every this many evaluations"),
};
const int config_nkeys = (int)(sizeof config_keys / sizeof config_keys[0]);

const char *const config_sections[] = {"run", "data", "model", "train", "pipeline", "superres",
                                       "style"};
const int config_nsections = (int)(sizeof config_sections / sizeof config_sections[0]);

const struct config_key *config_key_find(const char *section, const char *name)
{
    for (int i = 0; i < config_nkeys; i++)
        if (strcmp(config_keys[i].section, section) == 0 && strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

bool config_section_known(const char *section)
{
    for (int i = 0; i < config_nsections; i++)
        if (strcmp(config_sections[i], section) == 0)
            return true;
    return false;
}

void config_format_double(double x, char *buf, size_t size)
{
    /* Whole numbers print without an exponent (100000, not 1e+05); otherwise the fewest
     * significant digits that read back exactly: 0.1, not 0.10000000000000001. */
    if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(buf, size, "%.0f", x);
        return;
    }
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

const char *config_type_name(const struct config_key *k)
{
    switch (k->type) {
    case CFG_INT: return "int";
    case CFG_DOUBLE: return "double";
    case CFG_BOOL: return "bool";
    case CFG_STRING: return "string";
    case CFG_CHOICE: return "choice";
    case CFG_LIST: return k->whole ? "int list" : "list";
    }
    return "?";
}

static void bounds(const struct config_key *k, char *buf, size_t size)
{
    char lo[40], hi[40];
    config_format_double(k->min, lo, sizeof lo);
    config_format_double(k->max, hi, sizeof hi);
    snprintf(buf, size, "%s..%s", lo, hi);
}

void config_format_range(const struct config_key *k, char *buf, size_t size)
{
    char b[100];
    bounds(k, b, sizeof b);
    switch (k->type) {
    case CFG_INT:
    case CFG_DOUBLE: snprintf(buf, size, "%s", b); break;
    case CFG_LIST: snprintf(buf, size, "each %s, at most %d", b, CONFIG_MAX_LIST); break;
    case CFG_CHOICE: join_names(k, buf, size); break;
    default: snprintf(buf, size, "%s", ""); break;
    }
}

static const char *prefix(const char *where) { return where ? where : ""; }
static const char *colon(const char *where) { return where ? ": " : ""; }

#define FAIL(fmt, ...)                                                                        \
    rv_fail(err, "%s%s%s.%s = " fmt, prefix(where), colon(where), k->section, k->name,      \
            __VA_ARGS__)

static int out_of_range(const struct config_key *k, const char *text, const char *where,
                        struct rv_error *err)
{
    char b[100];
    bounds(k, b, sizeof b);
    return FAIL("%s is out of range %s", text, b);
}

static int parse_int(const struct config_key *k, const char *s, int *out, const char *where,
                     struct rv_error *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end)
        return FAIL("'%s' is not an integer", s);
    if (errno == ERANGE || v < k->min || v > k->max)
        return out_of_range(k, s, where, err);
    *out = (int)v;
    return 0;
}

/* One number, alone or as a list element; text is what the message quotes. */
static int parse_number(const struct config_key *k, const char *s, const char *text, double *out,
                        const char *where, struct rv_error *err)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end)
        return k->type == CFG_LIST ? FAIL("'%s': '%s' is not a number", text, s)
                                   : FAIL("'%s' is not a number", s);
    if (!isfinite(v))
        return k->type == CFG_LIST ? FAIL("'%s': '%s' is not a finite number", text, s)
                                   : FAIL("'%s' is not a finite number", s);
    if (k->type == CFG_LIST && k->whole && v != floor(v))
        return FAIL("'%s': %s is not a whole number", text, s);
    if (v < k->min || v > k->max) {
        if (k->type != CFG_LIST)
            return out_of_range(k, s, where, err);
        char b[100];
        bounds(k, b, sizeof b);
        return FAIL("'%s': %s is out of range %s", text, s, b);
    }
    *out = v;
    return 0;
}

static int parse_bool(const struct config_key *k, const char *s, bool *out, const char *where,
                      struct rv_error *err)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = true; return 0; }
        if (strcasecmp(s, no[i]) == 0) { *out = false; return 0; }
    }
    return FAIL("'%s' is not a bool; use true or false (or yes/no, on/off, 1/0)", s);
}

/* Strings and choices may be written in double quotes: `path = ""`, `name = " a b "`. The
 * outer pair is removed. What an INI line cannot carry is refused, so that config_to_ini's
 * output always reads back: control characters, and a ';' after a blank (libinih cuts an
 * inline comment there). */
static int parse_text(const struct config_key *k, const char *s, char *out, const char *where,
                      struct rv_error *err)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    } else if (n >= 1 && s[0] == '"') {
        return FAIL("'%s' opens a quote it does not close", s);
    }
    for (size_t i = 0; i < n; i++) {
        if (iscntrl((unsigned char)s[i]))
            return FAIL("'%.*s' contains a control character", (int)n, s);
        if (s[i] == ';' && i > 0 && isspace((unsigned char)s[i - 1]))
            return FAIL("'%.*s' contains ' ;', which starts an INI comment", (int)n, s);
    }
    if (n > CONFIG_MAX_STRING - 1)
        return FAIL("'%.40s...' is %zu characters long; at most %d fit", s, n,
                    CONFIG_MAX_STRING - 1);
    char text[CONFIG_MAX_STRING];
    memcpy(text, s, n);
    text[n] = '\0';
    if (k->type == CFG_CHOICE) {
        int v = config_choice_index(k->names, k->nnames, text);
        if (v < 0) {
            char names[200];
            join_names(k, names, sizeof names);
            return FAIL("'%s' is not one of %s", text, names);
        }
        *(int *)out = v;
        return 0;
    }
    /* Zero the tail too, so equal configs are equal byte for byte. */
    memset(out, 0, CONFIG_MAX_STRING);
    memcpy(out, text, n);
    return 0;
}

static int parse_list(const struct config_key *k, const char *s, struct config_list *out,
                      const char *where, struct rv_error *err)
{
    struct config_list list;
    memset(&list, 0, sizeof list);
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        while (len && isspace((unsigned char)*p))
            p++, len--;
        while (len && isspace((unsigned char)p[len - 1]))
            len--;
        if (len == 0)
            return FAIL("'%s': an element between commas is empty", s);
        if (len >= sizeof item)
            return FAIL("'%s': '%.20s...' is not a number", s, p);
        if (list.n == CONFIG_MAX_LIST)
            return FAIL("'%s' has more than %d values", s, CONFIG_MAX_LIST);
        memcpy(item, p, len);
        item[len] = '\0';
        if (parse_number(k, item, s, &list.v[list.n], where, err))
            return -1;
        list.n++;
        if (!comma)
            break;
        p = comma + 1;
        if (!*p)
            return FAIL("'%s': an element between commas is empty", s);
    }
    *out = list;
    return 0;
}

int config_parse_value(struct config *c, const struct config_key *k, const char *value,
                       const char *where, struct rv_error *err)
{
    void *field = (char *)c + k->offset;
    switch (k->type) {
    case CFG_INT: return parse_int(k, value, field, where, err);
    case CFG_DOUBLE: return parse_number(k, value, value, field, where, err);
    case CFG_BOOL: return parse_bool(k, value, field, where, err);
    case CFG_STRING:
    case CFG_CHOICE: return parse_text(k, value, field, where, err);
    case CFG_LIST: return parse_list(k, value, field, where, err);
    }
    return rv_fail(err, "%s.%s: key of unknown type", k->section, k->name);
}

void config_format_value(const struct config *c, const struct config_key *k, char *buf,
                         size_t size)
{
    const void *field = (const char *)c + k->offset;
    switch (k->type) {
    case CFG_INT: snprintf(buf, size, "%d", *(const int *)field); return;
    case CFG_DOUBLE: config_format_double(*(const double *)field, buf, size); return;
    case CFG_BOOL: snprintf(buf, size, "%s", *(const bool *)field ? "true" : "false"); return;
    case CFG_STRING: snprintf(buf, size, "\"%s\"", (const char *)field); return;
    case CFG_CHOICE: snprintf(buf, size, "%s", config_choice_name(k->names, k->nnames, *(const int *)field)); return;
    case CFG_LIST: {
        const struct config_list *l = field;
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; i < l->n && i < CONFIG_MAX_LIST && used < size; i++) {
            char num[40];
            config_format_double(l->v[i], num, sizeof num);
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", num);
        }
        return;
    }
    }
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < config_nkeys; i++) {
        const struct config_key *k = &config_keys[i];
        size_t want = k->type == CFG_INT      ? sizeof(int)
                      : k->type == CFG_DOUBLE ? sizeof(double)
                      : k->type == CFG_BOOL   ? sizeof(bool)
                      : k->type == CFG_LIST   ? sizeof(struct config_list)
                      : k->type == CFG_CHOICE ? sizeof(int)
                                              : (size_t)CONFIG_MAX_STRING;
        REVIVE_ASSERT(k->size == want);
        struct rv_error err;
        int rc = config_parse_value(c, k, k->def, "config table default", &err);
        if (rc)
            fprintf(stderr, "%s\n", err.msg);
        REVIVE_ASSERT(rc == 0);
    }
    c->conv_auto_rule = CONV_AUTO_RULE_CURRENT;
    snprintf(c->source, sizeof c->source, "%s", "(defaults)");
}

const char *config_data_dir(const struct config *c)
{
    if (c->data_path[0])
        return c->data_path;
    switch (c->dataset) {
    case DATASET_FASHION_MNIST: return "/usr/share/datasets/fashion-mnist";
    case DATASET_CIFAR10: return "data/cifar-10-batches-bin";
    default: return c->data_path;
    }
}
