#!/usr/bin/python3
"""Checks what tests/test_torch_imagenet.c wrote (revive's ImageNet ResNet-18: parameters,
images, labels, logits, mean cross-entropy and input gradient, in training mode) against
torchvision.models.resnet18 with the same weights. Prints the worst errors; exit 1 if any is
beyond the float32 budget.

usage: torch_imagenet.py DIR N C H CLASSES
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from revive_torch import torchvision_name  # noqa: E402


def main(argv):
    d, n, c, h, classes = argv[1], *map(int, argv[2:6])
    rd = lambda name: np.fromfile(os.path.join(d, name), dtype=np.float32)
    values = rd("values.bin")
    model = torchvision.models.resnet18(num_classes=classes)
    sd = model.state_dict()
    seen = set()
    with open(os.path.join(d, "params.txt")) as f:
        for line in f:
            name, off, count = line.split()
            key = torchvision_name(name)
            t = sd[key]
            assert t.numel() == int(count), (name, key, t.shape, count)
            t.copy_(torch.from_numpy(values[int(off):int(off) + int(count)].reshape(t.shape)))
            seen.add(key)
    missing = [k for k in sd if k not in seen and not k.endswith(("running_mean", "running_var",
                                                                   "num_batches_tracked"))]
    if missing:
        print("torch_imagenet: no revive parameter for", missing)
        return 1
    model.load_state_dict(sd, strict=True)
    model.train()
    torch.set_num_threads(1)
    x = torch.from_numpy(rd("x.bin").reshape(n, c, h, h)).requires_grad_(True)
    y = torch.from_numpy(rd("y.bin").astype(np.int64))
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    bad = 0

    def compare(what, got, want, rtol):
        nonlocal bad
        got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
        scale = max(np.abs(want).max(), 1e-30)
        err = np.abs(got - want).max() / scale
        print(f"torch_imagenet: {what}: worst |revive - torch| / max|torch| = {err:.2e} (budget {rtol:g})")
        bad += err > rtol

    # float32 budget: ~20 layers of sums of up to 4608 products and BN normalizations, each a
    # few ulps (6e-8) of relative error, amplified by BN's division by the batch deviation
    # (measured at 4 images of 64x64: logits 5e-6, loss 1e-7, input gradient 5e-6; at 2 images
    # of 32x32, where layer 4's BN sees 2 values per channel, 100x more).
    compare("logits", rd("logits.bin"), logits.detach().numpy().ravel(), 1e-4)
    compare("loss", rd("loss.bin"), [loss.item()], 1e-5)
    compare("d loss / d input", rd("dx.bin"), x.grad.numpy().ravel(), 1e-4)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
