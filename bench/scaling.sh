#!/bin/sh
# The two layouts of a 2-core machine: 1 rank x 2 OpenBLAS/OpenMP threads, and 2 ranks x 1 thread.
#   sh bench/scaling.sh [seconds per figure, default 8]     (BENCH_BIN_DIR: default build/bench)
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-8}
bin=${BENCH_BIN_DIR:-build/bench}
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# --bind-to none: for np <= 2 Open MPI binds each rank to one core, which would put both threads
# of the single rank on one core and halve its speed.
OMP_NUM_THREADS=2 mpirun -np 1 -x OMP_NUM_THREADS --bind-to none "$bin/bench_mpi" "$seconds"
OMP_NUM_THREADS=1 mpirun -np 2 -x OMP_NUM_THREADS --bind-to none "$bin/bench_mpi" "$seconds"
