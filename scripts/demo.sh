#!/bin/sh
# `make demo`: the short staged demo on Fashion-MNIST (configs/demo.ini) under mpirun with two
# ranks of one thread each, then `pipeline inspect` on its last checkpoint.
set -eu
cd "$(dirname "$0")/.."
# Open MPI refuses to start as root unless told that is intended (containers, CI).
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
RANKS=${RANKS:-2}
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} mpirun -q -np "$RANKS" --oversubscribe -x OMP_NUM_THREADS \
    ./pipeline run configs/demo.ini "$@"
./pipeline inspect checkpoints/demo/stage-02.h5
