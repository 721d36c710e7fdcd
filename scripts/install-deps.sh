#!/bin/sh
# Installs exactly the Debian packages revive needs that are missing; does nothing when all are there.
# Usage: sh scripts/install-deps.sh     (as root, or with sudo available)
# python3-h5py, python3-numpy and python3-matplotlib serve the tests, scripts/plot.py and h5py users;
# clang, libclang-rt-14-dev (libFuzzer) and libomp-dev serve `make fuzz` and its short run in make check.
# libdnnl-dev is oneDNN: the convolutions of train.conv_algo = onednn (and of auto on AVX-512 CPUs).
# libpng-dev reads and writes images (src/image/png.c), libfftw3-dev (single precision) gives the
# spectra of src/image/metrics.c; python3-skimage ships the test images of
# issue 23 in its data/ folder and is the reference the image metrics are checked against.
set -eu
PKGS="build-essential pkg-config libopenblas-dev libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools \
libcmocka-dev zlib1g-dev libinih-dev libdnnl-dev libpng-dev libfftw3-dev python3-skimage dataset-fashion-mnist python3-h5py python3-numpy python3-matplotlib \
clang libclang-rt-14-dev libomp-dev"
missing=""
for p in $PKGS; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: need root (or sudo) to install:$missing" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
