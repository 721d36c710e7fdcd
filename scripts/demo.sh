#!/bin/sh
# `make demo`: the short staged demo run on Fashion-MNIST (configs/demo.ini).
set -eu
cd "$(dirname "$0")/.."
./pipeline run configs/demo.ini "$@"
