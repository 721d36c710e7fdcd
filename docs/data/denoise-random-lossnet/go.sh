#!/bin/sh
# Issue 22's second task (heavy denoising), session 14: binary 33d8a3c (branch denoise), configs and
# scripts frozen in /work/runs/dn. One stream, one thread a run, nice 0. Rerunnable: finished
# cells (results.json) are skipped, a stopped one resumes from its state.h5.
cd /work/runs/dn
P=/work/runs/pipeline-33d8a3c; J=/work/runs/sr2/exp/judge/stage-00.h5
V=/work/runs/sr3/vgg-half/stage-00.h5; R=/work/runs/sr3/resnet-half/stage-00.h5
export EXTRA="--set data.test_limit=10000" NICE=0 TASK=denoise
(
  date -u +"%FT%TZ start"
  CELLS="pixel vgg-liu vgg-kaiming vgg-normal0.1 vgg-trained resnet-liu resnet-trained" LAMBDAS=0.05 sh superres_experiment.sh $P cells $J $V $R
  CELLS="vgg-liu vgg-trained" LAMBDAS=0.2 sh superres_experiment.sh $P cells $J $V $R
  date -u +"%FT%TZ end"
) >> stream.log 2>&1
