#!/usr/bin/python3
"""Checks what tests/test_torch_mixer.c wrote (revive's MLP-Mixer: parameters, images, labels,
logits, mean cross-entropy, its gradients with respect to every parameter and the input) against
scripts/revive_torch.py's Mixer with the same weights. Prints the worst errors; exit 1 if any is
beyond the float32 budget.

usage: torch_mixer.py DIR N C H CLASSES PATCH HIDDEN TOKENS_MLP CHANNELS_MLP BLOCKS
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from revive_torch import Mixer  # noqa: E402


def main(argv):
    d = argv[1]
    n, c, h, classes, patch, hidden, tokens_mlp, channels_mlp, blocks = map(int, argv[2:11])
    rd = lambda name: np.fromfile(os.path.join(d, name), dtype=np.float32)  # noqa: E731
    values, grads = rd("values.bin"), rd("grads.bin")
    model = Mixer(c, h, h, classes, patch, hidden, tokens_mlp, channels_mlp, blocks)
    names, seen = [], set()
    with open(os.path.join(d, "params.txt")) as f, torch.no_grad():
        for line in f:
            name, off, count = line.split()
            t = model.param(name)
            assert t.numel() == int(count), (name, t.shape, count)
            t.copy_(torch.from_numpy(values[int(off):int(off) + int(count)]).reshape(t.shape))
            names.append((name, int(off), int(count)))
            seen.add(id(t))
    missing = [k for k, p in model.named_parameters() if id(p) not in seen]
    if missing:
        print("torch_mixer: no revive parameter for", missing)
        return 1
    model.train()
    torch.set_num_threads(1)
    x = torch.from_numpy(rd("x.bin").reshape(n, c, h, h)).requires_grad_(True)
    y = torch.from_numpy(rd("y.bin").astype(np.int64))
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    bad = 0

    def compare(what, got, want, rtol, floor=1e-30):
        nonlocal bad
        got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
        scale = max(np.abs(want).max(), floor)
        err = np.abs(got - want).max() / scale
        if err > rtol or what in ("logits", "loss", "d loss / d input"):
            print(f"torch_mixer: {what}: worst |revive - torch| / max|torch| = {err:.2e} (budget {rtol:g})")
        bad += err > rtol

    # float32 budget: a dozen layers of sums of up to 48 products and LayerNorms over 16
    # channels, each a few ulps (6e-8) of relative error
    compare("logits", rd("logits.bin"), logits.detach().numpy().ravel(), 1e-4)
    compare("loss", rd("loss.bin"), [loss.item()], 1e-5)
    compare("d loss / d input", rd("dx.bin"), x.grad.numpy().ravel(), 1e-4)
    # The token MLP's second bias adds b_s to every channel of position s, a shift LayerNorm
    # (which every path from there meets: the next block's, the final one) removes exactly: its
    # gradient is zero but for rounding, in revive and in torch alike. So each gradient is
    # measured against the largest parameter gradient's scale as well as its own.
    top = max(np.abs(model.param(name).grad.numpy()).max() for name, _, _ in names)
    for name, off, count in names:
        want = model.param(name).grad.numpy().ravel()
        compare(f"d loss / d {name}", grads[off:off + count], want, 1e-4, 1e-3 * top)
        if name.endswith("mlp_tokens.fc2.bias") and np.abs(want).max() > 1e-5 * top:
            print(f"torch_mixer: d loss / d {name} is {np.abs(want).max():.2e}, not zero")
            bad += 1
    print(f"torch_mixer: {len(names)} parameter gradients compared")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
