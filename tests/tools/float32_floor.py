#!/usr/bin/python3
"""How precisely can float32 compute one step's BatchNorm gradients of a ResNet? PyTorch's answer.

    /usr/bin/python3 tests/tools/float32_floor.py [depth] [batch]

Builds the CIFAR ResNet of torch_reference.py (PyTorch's default init), takes the first `batch`
Fashion-MNIST training images, and computes the gradient of every BN γ and β three times: in
float64 (the reference), in float32, and in float32 with the batch permuted (same mathematics,
another summation order). Prints, per kind, the worst over tensors of max|g − g64| / max|g64|,
the measure tests/tools/compare_params.py applies to parameters (β starts at 0, so after one
SGD step β's relative difference is its gradient's). docs/RESULTS.md quotes the output.
"""
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import ResNet  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def load(batch):
    with gzip.open(f"{DATA}/train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)[: batch * 784]
    with gzip.open(f"{DATA}/train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:batch]
    x = x.reshape(batch, 1, 28, 28).astype(np.float64) / 255.0
    return (x - 0.2860) / 0.3530, y.astype(np.int64)


def bn_grads(model, x, y, dtype):
    m = model.to(dtype)
    m.zero_grad()
    F.cross_entropy(m(torch.from_numpy(x).to(dtype)), torch.from_numpy(y)).backward()
    out = {}
    for name, mod in m.named_modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            out[name + ".gamma"] = mod.weight.grad.double().numpy().copy()
            out[name + ".beta"] = mod.bias.grad.double().numpy().copy()
    return out


def worst(g, ref, kind):
    return max(np.abs(g[k] - ref[k]).max() / max(np.abs(ref[k]).max(), 1e-30)
               for k in ref if k.endswith(kind))


def main(argv):
    depth = int(argv[1]) if len(argv) > 1 else 20
    batch = int(argv[2]) if len(argv) > 2 else 128
    torch.manual_seed(1)
    model = ResNet(depth, 1, 1, 10).train()
    x, y = load(batch)
    perm = np.random.default_rng(1).permutation(batch)
    g64 = bn_grads(model, x, y, torch.float64)
    g32 = bn_grads(model, x, y, torch.float32)
    g32p = bn_grads(model, x[perm], y[perm], torch.float32)
    print(f"ResNet-{depth}, batch {batch}, torch {torch.__version__}: worst relative gradient error")
    for kind in ("gamma", "beta"):
        print(f"  {kind:5s}  float32 vs float64 {worst(g32, g64, kind):.2e}   "
              f"float32 permuted vs float32 {worst(g32p, g32, kind):.2e}")


if __name__ == "__main__":
    main(sys.argv)
