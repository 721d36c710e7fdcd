#!/usr/bin/python3
"""bench/bench_superres.c's step in PyTorch 1.13: SRResNet x2 (3 residual blocks, 32 channels,
ReLU, BN in training mode) on 1x14x14, MSE against 1x28x28 targets, plus lambda times the
perceptual loss through a frozen VGG-11-BN (width 1; evaluation mode; requires_grad off;
features up to the last tap only, as a PyTorch user slices vgg.features) at the outputs of
group1.conv1, group2.conv1 and group3.conv2 (after their ReLUs), each the squared L2 distance
divided by C*H*W; SGD lr 0.01, momentum 0.9. Prints one `RESULT key=value ...` line.

    bench/torch_superres.py [--batch 64] [--steps 10] [--warmup 2] [--threads 2] [--lambda 0.05]
                            [--task x2|denoise]

--task denoise: bench_superres.c's denoising step: the scale-1 generator (the same without the
up-block) on 1x28x28 inputs (the targets plus Gaussian noise of sigma 0.5), its output plus the
input (superres.skip = input), the same losses.
"""
import argparse
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(c)
        self.c2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(c)

    def forward(self, x):
        return self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + x


class SRResNet(nn.Module):
    def __init__(self, c=32, blocks=3, scale=2):
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(1, c, 3, padding=1)
        self.blocks = nn.Sequential(*[Block(c) for _ in range(blocks)])
        self.body = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.body_bn = nn.BatchNorm2d(c)
        if scale == 2:
            self.up = nn.Conv2d(c, 4 * c, 3, padding=1)
        self.out = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, x):
        h = F.relu(self.head(x))
        y = self.body_bn(self.body(self.blocks(h))) + h
        if self.scale == 1:  # srresnet_x1 with superres.skip = input
            return self.out(y) + x
        return self.out(F.relu(F.pixel_shuffle(self.up(y), 2)))


def vgg11_taps():
    """VGG-11-BN's features up to group3.conv2, split after each tap."""
    def conv(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
    pool = [nn.MaxPool2d(2, 2, ceil_mode=True)]
    parts = [nn.Sequential(*conv(1, 64)),                       # group1.conv1
             nn.Sequential(*pool, *conv(64, 128)),              # group2.conv1
             nn.Sequential(*pool, *conv(128, 256), *conv(256, 256))]  # group3.conv2
    net = nn.ModuleList(parts).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def features(net, x):
    out = []
    for part in net:
        x = part(x)
        out.append(x)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.05)
    ap.add_argument("--task", choices=["x2", "denoise"], default="x2")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    denoise = a.task == "denoise"
    g, vgg = SRResNet(scale=1 if denoise else 2), vgg11_taps()
    opt = torch.optim.SGD(g.parameters(), lr=0.01, momentum=0.9)
    t = torch.rand(a.batch, 1, 28, 28)
    x = t + 0.5 * torch.randn_like(t) if denoise else F.avg_pool2d(t, 2)
    mean, std = 0.286, 0.353
    start = 0.0
    for k in range(a.warmup + a.steps):
        if k == a.warmup:
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        y = g(x)
        loss = F.mse_loss(y, t)
        with torch.no_grad():
            ft = features(vgg, (t - mean) / std)
        fy = features(vgg, (y - mean) / std)
        loss = loss + a.lam * sum(F.mse_loss(p, q) for p, q in zip(fy, ft))
        loss.backward()
        opt.step()
    secs = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    params = sum(p.numel() for p in g.parameters())
    print(f"RESULT tool=pytorch task={'denoise' if denoise else 'superres'} batch={a.batch} threads={a.threads} steps={a.steps} "
          f"img_s={a.steps * a.batch / secs:.2f} peak_rss_mib={rss:.1f} params={params}")


if __name__ == "__main__":
    main()
