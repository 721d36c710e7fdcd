#!/bin/sh
# Issue 22's experiment, "Without pretraining: a random perceptual loss" (docs/RESULTS.md):
# x2 super-resolution of Fashion-MNIST by the SRResNet generator of configs/superres.ini (AdamW,
# bicubic skip, ICNR) with the pixel loss alone, + a random VGG-11-BN loss network (liu,
# kaiming, normal sigma = 0.01 inits; a fresh network per seed) and + a trained one
# (configs/superres-vgg-half.ini), 3 seeds each; the judge of configs/superres-judge.ini.
# Resumable: a cell whose results.json exists is skipped (rerun the same command).
#   sh scripts/superres_experiment.sh PIPELINE OUT JUDGE.h5 VGG.h5
# Sizing (one shared core, nice -n 10): 4,000 training images of the second half (from image
# 30,000), 2 epochs, 2,000 test images, lambda = 0.05, taps group1.conv1, group2.conv1,
# group3.conv1 (the VGG up to group3.conv1: 4x the generator's cost a step).
# CELLS and SEEDS (environment) choose the cells (default all five) and seeds (1 2 3); the run of
# docs/RESULTS.md left vgg-normal out for time and ran two streams (docs/RESULTS.md).
set -u
P=$1 OUT=$2 JUDGE=$3 VGG=$4
CELLS=${CELLS:-pixel vgg-liu vgg-kaiming vgg-normal vgg-trained}
export OMP_NUM_THREADS=1
COMMON="--set run.threads=1 --set data.train_limit=4000 --set superres.train_skip=30000
 --set data.test_limit=2000 --set train.epochs=2 --set superres.judge_checkpoint=$JUDGE"
for seed in ${SEEDS:-1 2 3}; do
    for cell in $CELLS; do
        dir=$OUT/$cell/seed-$seed
        [ -f "$dir/results.json" ] && continue
        case $cell in
        pixel) extra="--set superres.perceptual_weight=0" ;;
        vgg-liu) extra="--set superres.lossnet_init=liu" ;;
        vgg-kaiming) extra="--set superres.lossnet_init=kaiming" ;;
        vgg-normal) extra="--set superres.lossnet_init=normal --set superres.lossnet_init_scale=0.01" ;;
        vgg-trained) extra="--set superres.lossnet_checkpoint=$VGG" ;;
        esac
        mkdir -p "$dir"
        start=$(date -u +%FT%TZ)
        # shellcheck disable=SC2086
        nice -n 10 "$P" superres configs/superres.ini --out "$dir" --set run.seed=$seed $COMMON \
            --set "superres.lossnet_taps=group1.conv1, group2.conv1, group3.conv1" $extra \
            >"$dir/log.txt" 2>&1
        echo "$cell seed $seed: exit $? $start $(date -u +%FT%TZ)"
    done
done
