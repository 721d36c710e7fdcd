#!/bin/sh
# Issue 22's experiment, "Without pretraining: a random perceptual loss" (docs/RESULTS.md):
# x2 super-resolution of Fashion-MNIST by the SRResNet generator of configs/superres.ini (AdamW,
# bicubic skip, ICNR) with the pixel loss alone, + a random loss network (a fresh one per seed)
# or a trained one, 3 seeds each; the judge of configs/superres-judge.ini. TASK=denoise: the
# second task, heavy denoising (configs/denoise.ini: noise sigma 0.5, the scale-1 generator, the
# noisy input as skip), the same cells and sizes.
# Resumable: a cell whose results.json exists is skipped, one stopped by a signal (its state.h5)
# continues with --resume (rerun the same command).
#   sh scripts/superres_experiment.sh PIPELINE OUT JUDGE.h5 VGG.h5 [RESNET.h5]
# Cells (CELLS, default all of them):
#   pixel                              the pixel loss (MSE) alone
#   vgg-liu, vgg-kaiming, vgg-xavier,  + a random VGG-11-BN: Liu et al.'s init, Kaiming-normal,
#   vgg-normal, vgg-normal0.1,         Xavier-normal, N(0, 0.01²), N(0, 0.1²), U[-0.01, 0.01]
#   vgg-uniform                        (Liu et al.'s table's inits); taps group1.conv1,
#                                      group2.conv1, group3.conv1
#   vgg-trained                        + VGG.h5 (configs/superres-vgg-half.ini)
#   resnet-liu, resnet-kaiming         + a random CIFAR ResNet-RESNET_DEPTH (default 20); taps
#                                      seg1.block0, seg2.block0, seg3.block0 (each segment's first
#                                      block's output)
#   resnet-trained                     + RESNET.h5 (configs/superres-resnet-half.ini; skipped,
#                                      with a line saying so, when RESNET.h5 is not given)
# LAMBDAS (default 0.05): the perceptual weights λ each loss-network cell runs at; the cell at
# λ = 0.05 is OUT/<cell>, any other OUT/<cell>-l<λ> (scripts/superres_report.py reads both).
# SEEDS (default 1 2 3). EXTRA: more --set options after all others (a tiny test run's sizes).
# NICE (default 10): the runs' niceness. TASK (default x2): x2 or denoise (the config file).
# Sizing (one shared core, nice -n 10): 4,000 training images of the second half (from image
# 30,000), 2 epochs, 2,000 test images (the VGG up to group3.conv1: 4x the generator's cost a
# step). Session 13's full run (docs/RESULTS.md) added EXTRA="--set data.test_limit=10000": a VGG
# cell then takes about 80 s of a quiet core, the 48 runs about an hour of both.
set -u
P=$1 OUT=$2 JUDGE=$3 VGG=$4 RESNET=${5:-}
CELLS=${CELLS:-pixel vgg-liu vgg-kaiming vgg-xavier vgg-normal vgg-normal0.1 vgg-uniform vgg-trained resnet-liu resnet-kaiming resnet-trained}
LAMBDAS=${LAMBDAS:-0.05}
RESNET_DEPTH=${RESNET_DEPTH:-20}
NICE=${NICE:-10}
case ${TASK:-x2} in
x2) INI=configs/superres.ini ;;
denoise) INI=configs/denoise.ini ;;
*) echo "superres_experiment.sh: TASK=$TASK: give x2 or denoise" >&2; exit 2 ;;
esac
export OMP_NUM_THREADS=1
COMMON="--set run.threads=1 --set data.train_limit=4000 --set superres.train_skip=30000
 --set data.test_limit=2000 --set train.epochs=2 --set superres.judge_checkpoint=$JUDGE"
for seed in ${SEEDS:-1 2 3}; do
    for cell in $CELLS; do
        # the loss network: its family's keys and taps, then the cell's init or checkpoint
        case $cell in
        pixel) net="" ;;
        vgg-*) net="--set superres.lossnet_arch=vgg --set superres.lossnet_depth=11" ;;
        resnet-*) net="--set superres.lossnet_arch=resnet --set superres.lossnet_depth=$RESNET_DEPTH" ;;
        *) echo "superres_experiment.sh: unknown cell '$cell' (see the list at the top)" >&2; exit 2 ;;
        esac
        case $cell in
        vgg-*) taps="group1.conv1, group2.conv1, group3.conv1" ;;
        resnet-*) taps="seg1.block0, seg2.block0, seg3.block0" ;;
        esac
        case $cell in
        pixel) init="--set superres.perceptual_weight=0" ;;
        *-liu) init="--set superres.lossnet_init=liu" ;;
        *-kaiming) init="--set superres.lossnet_init=kaiming" ;;
        *-xavier) init="--set superres.lossnet_init=xavier" ;;
        *-normal) init="--set superres.lossnet_init=normal --set superres.lossnet_init_scale=0.01" ;;
        *-normal0.1) init="--set superres.lossnet_init=normal --set superres.lossnet_init_scale=0.1" ;;
        *-uniform) init="--set superres.lossnet_init=uniform --set superres.lossnet_init_scale=0.01" ;;
        vgg-trained) init="--set superres.lossnet_checkpoint=$VGG" ;;
        resnet-trained)
            if [ -z "$RESNET" ]; then
                echo "$cell seed $seed: skipped (no RESNET.h5 given)"
                continue
            fi
            init="--set superres.lossnet_checkpoint=$RESNET" ;;
        *) echo "superres_experiment.sh: unknown cell '$cell' (see the list at the top)" >&2; exit 2 ;;
        esac
        for lambda in $LAMBDAS; do
            [ "$cell" = pixel ] && lambda=0
            dir=$OUT/$cell/seed-$seed
            [ "$cell" != pixel ] && [ "$lambda" != 0.05 ] && dir=$OUT/$cell-l$lambda/seed-$seed
            if [ ! -f "$dir/results.json" ]; then
                mkdir -p "$dir"
                start=$(date -u +%FT%TZ)
                # a run stopped by a signal left state.h5: continue it (bit for bit), its log appended
                resume="" log="$dir/log.txt"
                if [ -f "$dir/state.h5" ]; then
                    resume=--resume
                    echo "--- resumed $start" >>"$log"
                else
                    : >"$log"
                fi
                if [ "$cell" = pixel ]; then
                    # shellcheck disable=SC2086
                    nice -n "$NICE" "$P" superres "$INI" --out "$dir" $resume --set run.seed=$seed \
                        $COMMON $init ${EXTRA:-} >>"$log" 2>&1
                else
                    # shellcheck disable=SC2086
                    nice -n "$NICE" "$P" superres "$INI" --out "$dir" $resume --set run.seed=$seed \
                        $COMMON $net --set "superres.lossnet_taps=$taps" $init \
                        --set superres.perceptual_weight=$lambda ${EXTRA:-} >>"$log" 2>&1
                fi
                echo "$cell λ $lambda seed $seed: exit $?${resume:+ (resumed)} $start $(date -u +%FT%TZ)"
            fi
            [ "$cell" = pixel ] && break
        done
    done
done
