#!/usr/bin/python3
"""Checks what tests/test_style.c wrote (a tap x (N, C, H, W), a style tap s (1, C, H, W), a
content tap p (N, C, H, W), revive's loss and d(loss)/dx for one SWAG form) against the
reference's definitions in PyTorch (float64): gram_matrix = F Fᵀ / (C·H·W), torch.mean of the
squared Gram and feature differences, and the transforms of peiwang062/swag (softmax3d: one
softmax over the whole tap; nn.Softmax2d: over channels; alpha * x). Exit 1 beyond float32's
budget.

usage: torch_style.py DIR FORM N C H W ALPHA STYLE_WEIGHT CONTENT_WEIGHT
"""
import sys

import numpy as np
import torch

from torch_common import Ref
from style_torch import gram, swag as transform  # noqa: E402  (scripts/, on the path by torch_common)


def main(argv):
    d, form = argv[1], argv[2]
    n, c, h, w = map(int, argv[3:7])
    alpha, ws, wc = map(float, argv[7:10])
    ref = Ref(d, "torch_style")
    rd = lambda name: torch.from_numpy(ref.floats(name).astype(np.float64))  # noqa: E731
    x = rd("x.bin").reshape(n, c, h, w).requires_grad_(True)
    s = rd("s.bin").reshape(1, c, h, w)
    p = rd("p.bin").reshape(n, c, h, w)
    loss_c, dx_c = rd("loss.bin"), rd("dx.bin").reshape(n, c, h, w)
    a = gram(transform(s, form, alpha))
    total = 0
    for i in range(n):  # the reference runs one image; revive's loss is the mean over images
        f = transform(x[i:i + 1], form, alpha)
        total = total + ws * torch.mean((gram(f) - a) ** 2)
        total = total + wc * torch.mean((f - transform(p[i:i + 1], form, alpha)) ** 2)
    total = total / n
    total.backward()
    le = abs(float(total) - float(loss_c[0])) / abs(float(total))
    ge = float((x.grad - dx_c).abs().max() / x.grad.abs().max())
    print(f"{form}: loss {float(total):.6g} rel err {le:.2e}; gradient max err / max {ge:.2e}")
    return 0 if le < 1e-4 and ge < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
