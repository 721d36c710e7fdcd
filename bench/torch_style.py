#!/usr/bin/python3
"""PyTorch's side of the style benchmark (bench/bench_style.c): one loss-and-gradient evaluation
of image-space style transfer through a frozen random torchvision ResNet-18 in eval mode, as a
PyTorch user writes it (the reference code's get_features and gram_matrix, peiwang062/swag):
features after the stem's ReLU and after each stage's last block, Gram = F Fᵀ / (C·H·W), the
mean squared Gram difference times 1e6 per tap, backward to the image, a plain gradient step.

    bench/torch_style.py --input 3x128x128 --swag none --steps 10 --warmup 2 --threads 2

Prints a human line and one `RESULT key=value ...` line that bench/compare.py reads.
"""
import argparse
import os
import resource
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", default="3x128x128")
    ap.add_argument("--swag", default="none", choices=["none", "softmax_all", "softmax_channels", "scale"])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import torch
    import torchvision
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
    from style_torch import gram, style_features
    torch.set_num_threads(a.threads)
    c, h, w = (int(v) for v in a.input.split("x"))
    torch.manual_seed(1)
    net = torchvision.models.resnet18()
    if c != 3:
        net.conv1 = torch.nn.Conv2d(c, 64, 7, 2, 3, bias=False)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)

    with torch.no_grad():
        target = [gram(f) for f in style_features(net, torch.randn(1, c, h, w), a.swag)]
    x = torch.randn(1, c, h, w).requires_grad_(True)
    t0 = 0.0
    for s in range(a.warmup + a.steps):
        if s == a.warmup:
            t0 = time.perf_counter()
        x.grad = None
        loss = sum(1e6 * torch.mean((gram(f) - t) ** 2)
                   for f, t in zip(style_features(net, x, a.swag), target))
        loss.backward()
        with torch.no_grad():
            x -= 1e-3 * x.grad
    sec = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch_style: ResNet-18 random, {a.input}, swag {a.swag}, {a.threads} threads: "
          f"{1e3 * sec / a.steps:.1f} ms per evaluation (loss {float(loss):.4g})")
    print(f"RESULT evals_s={a.steps / sec:.4f} ms={1e3 * sec / a.steps:.3f} rss_mib={rss:.1f} "
          f"threads={a.threads}")


if __name__ == "__main__":
    main()
