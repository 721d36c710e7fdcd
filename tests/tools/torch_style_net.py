#!/usr/bin/python3
"""Checks what tests/test_style.c wrote for the whole chain: revive's ImageNet ResNet-18 (frozen,
eval mode, non-trivial running statistics; parameters renamed by scripts/revive_torch.py's
torchvision_name) with the Gram style loss on the stem and the four stages' last blocks, SWAG
form FORM on layer3 and layer4's (as the reference code applies it), targets from a style image:
the loss and d(loss)/d(image) against torchvision.models.resnet18 with the same values, written
as the reference code (peiwang062/swag) computes its features. Exit 1 beyond the float32 budget.

usage: torch_style_net.py DIR FORM C H ALPHA   (the taps' weights in DIR/weights.bin, float64)
"""
import os
import sys

import numpy as np
import torch
import torchvision

from torch_common import Ref
from revive_torch import torchvision_name  # noqa: E402  (scripts/, on the path by torch_common)
from style_torch import gram, style_features  # noqa: E402


def main(argv):
    d, form = argv[1], argv[2]
    c, h = int(argv[3]), int(argv[4])
    alpha = float(argv[5])
    ref = Ref(d, "torch_style_net")
    rd = ref.floats
    running = rd("running.bin")
    model = torchvision.models.resnet18(num_classes=10)
    sd = model.state_dict()
    ref.load_params(rd("values.bin"), lambda name: sd[torchvision_name(name)])
    with open(os.path.join(d, "units.txt")) as f:
        for line in f:
            unit, off, count = line.split()
            off, count = int(off), int(count)
            key = torchvision_name(unit + ".gamma").rsplit(".", 1)[0]
            sd[key + ".running_mean"].copy_(torch.from_numpy(running[off:off + count]))
            sd[key + ".running_var"].copy_(torch.from_numpy(running[off + count:off + 2 * count]))
    model.load_state_dict(sd, strict=True)
    model = model.double().eval()
    torch.set_num_threads(1)

    s = torch.from_numpy(rd("style.bin").astype(np.float64)).reshape(1, c, h, h)
    x = torch.from_numpy(rd("x.bin").astype(np.float64)).reshape(1, c, h, h).requires_grad_(True)
    with torch.no_grad():
        targets = [gram(f) for f in style_features(model, s, form, alpha)]
    ws = np.fromfile(os.path.join(d, "weights.bin"), dtype=np.float64)
    loss = sum(w * torch.mean((gram(f) - t) ** 2)
               for w, f, t in zip(ws, style_features(model, x, form, alpha), targets))
    loss.backward()
    le = abs(float(loss) - float(rd("loss.bin")[0])) / abs(float(loss))
    dx = rd("dx.bin").astype(np.float64).reshape(x.shape)
    ge = float(np.abs(dx - x.grad.numpy()).max() / np.abs(x.grad.numpy()).max())
    # float32 through 17 convolutions and the Gram products: a few 1e-6 of the largest entry
    # (measured 3.5e-6 without SWAG). A softmax turns the features' absolute float32 error
    # (~1e-6 of entries up to ~40 at layer 4) into relative error of its output, e^(x + δ) =
    # e^x (1 + δ): measured 2.7e-4 for softmax_all, so the softmax forms get 1e-3. A wrong
    # derivative would be off by O(1) (the tap-level check, torch_style.py, holds it to 1e-7).
    budget = 1e-3 if form.startswith("softmax") else 1e-4
    print(f"torch_style_net {form}: loss {float(loss):.6g} rel err {le:.2e}; d/dx max err / max "
          f"{ge:.2e} (budget {budget:g})")
    return 0 if le < 1e-4 and ge < budget else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
