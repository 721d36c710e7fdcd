#!/usr/bin/python3
"""PyTorch reference values for tests/test_reference.c (run once; the output is committed).

    build/tests/test_reference --write-inputs /tmp/inputs.h5
    /usr/bin/python3 tests/tools/torch_reference.py /tmp/inputs.h5 tests/data/resnet8_reference.h5

The ResNet (scripts/revive_torch.py, shared with revive_torch.load) is written from open_lth's
description (models/cifar_resnet.py), not from revive's source, so the test checks revive's
wiring as well as its arithmetic:

    stem:  conv3x3(in_c -> 16w, pad 1, no bias) - BN - ReLU
    block: out = ReLU( BN2(conv2(ReLU(BN1(conv1(x))))) + shortcut(x) )
           conv1 3x3 with stride 2 in the first block of segments 2 and 3, conv2 3x3 stride 1;
           shortcut = identity, or conv1x1(stride 2, no bias) - BN when the shape changes
    3 segments of (depth-2)/6 blocks, widths 16w, 32w, 64w; global average pool; Linear + bias.

Everything runs in float64. One train-mode forward (BN with batch statistics, biased variance,
eps 1e-5; running statistics updated with momentum 0.1 and the unbiased variance), mean
cross-entropy, backward; then one eval-mode forward with the updated running statistics.

Written: train/logits, train/loss, eval/logits, running_mean/<unit>, running_var/<unit> as
float64; grads/<revive name> as int16 q with attribute scale = max|g|/32767 (g ~ q*scale to
within scale/2; keeps the file small); fingerprints/<name> = [sum v, sum (i+1) v] of each weight
tensor and of x, so the test can tell that it starts from the same values; y.
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from revive_torch import ResNet  # noqa: E402  (the one PyTorch rebuild of revive's network)


def fingerprint(v):
    v = np.asarray(v, dtype=np.float64).ravel()
    return np.array([v.sum(), (np.arange(1, v.size + 1, dtype=np.float64) * v).sum()])


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    torch.set_default_dtype(torch.float64)
    src = h5py.File(argv[1], "r")
    a = {k: int(v) for k, v in src.attrs.items()}
    # PyTorch's defaults (eps 1e-5, momentum 0.1 as doubles), as the committed reference was made
    model = ResNet(a["depth"], a["width"], a["in_c"], a["classes"], eps=1e-5, momentum=0.1)
    units = [u for u in src["units"][()].decode().split("\n") if u]

    # Every revive parameter lands on one torch parameter of the same shape, and none is left over.
    names = list(src["params"])
    used = set()
    with torch.no_grad():
        for name in names:
            t = model.param(name)
            v = src["params"][name][()]
            assert tuple(t.shape) == v.shape, (name, tuple(t.shape), v.shape)
            t.copy_(torch.from_numpy(v.astype(np.float64)))
            used.add(id(t))
    left = [n for n, p in model.named_parameters() if id(p) not in used]
    assert not left, f"torch parameters with no revive counterpart: {left}"
    assert len(units) == sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())

    x = torch.from_numpy(src["x"][()].astype(np.float64))
    y = torch.from_numpy(src["y"][()].astype(np.int64))

    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    model.zero_grad()
    loss.backward()
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)

    # libver="latest": compact object headers keep the ~80 small datasets under 200 KB.
    with h5py.File(argv[2], "w", libver="latest") as out:
        for k, v in a.items():
            out.attrs[k] = v
        out.attrs["generator"] = f"tests/tools/torch_reference.py, torch {torch.__version__}, float64"
        out["train/logits"] = logits.detach().numpy()
        out["train/loss"] = np.array([loss.item()])
        out["eval/logits"] = eval_logits.numpy()
        out["y"] = src["y"][()]
        out["fingerprints/x"] = fingerprint(src["x"][()])
        for name in names:
            out["fingerprints/" + name] = fingerprint(src["params"][name][()])
            g = model.param(name).grad.numpy()
            scale = float(np.abs(g).max()) / 32767 or 1.0
            q = np.rint(g / scale).astype(np.int16)
            out["grads/" + name] = q
            out["grads/" + name].attrs["scale"] = scale
        for u in units:
            _, bn = model.unit(u)
            out["running_mean/" + u] = bn.running_mean.numpy()
            out["running_var/" + u] = bn.running_var.numpy()
    print(f"loss {loss.item():.6f}; wrote {argv[2]}")


if __name__ == "__main__":
    main(sys.argv)
