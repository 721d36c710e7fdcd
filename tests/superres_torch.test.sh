#!/bin/sh
# The super-resolution chain (SRResNet x2 → pixel MSE + λ·perceptual loss through a frozen loss
# network in evaluation mode) against PyTorch: test_superres dumps its values, loss and gradients,
# and tests/superres_torch.py recomputes them in float64; the same for the denoiser's chain
# (srresnet_x1). Skipped (with a message) when python3-torch is not installed.
set -u
. tests/lib.sh
BIN=${REPLAY_DIR:-build/tests}/test_superres
if ! "$PY" -c "import torch" 2>/dev/null; then
    ok "# SKIP python3-torch is not installed for $PY: the super-resolution chain not compared"
    finish superres_torch
    exit 0
fi
if [ ! -x "$BIN" ]; then
    not_ok "$BIN is missing (make $BIN)"
    finish superres_torch
    exit 1
fi
OMP_NUM_THREADS=1 SR_TORCH_DUMP="$TMP/chain.bin" SR_TORCH_DUMP_X1="$TMP/chain-x1.bin" "$BIN" \
    > "$TMP/unit.log" 2>&1 ||
    not_ok "test_superres with SR_TORCH_DUMP: $(tail -n 3 "$TMP/unit.log" | tr '\n' ' ')"
r=$("$PY" tests/superres_torch.py "$TMP/chain.bin" 2>&1) && ok "PyTorch: $r" || not_ok "PyTorch: $r"
r=$("$PY" tests/superres_torch.py "$TMP/chain-x1.bin" x1 2>&1) && ok "PyTorch: $r" || not_ok "PyTorch: $r"
finish superres_torch
