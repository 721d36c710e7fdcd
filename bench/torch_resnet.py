#!/usr/bin/python3
"""PyTorch's side of `make bench`: revive's ResNet, trained the way a PyTorch user would.

    bench/torch_resnet.py --mode all --input 1x28x28 --steps 16 --warmup 3
    bench/torch_resnet.py --count          parameters and forward FLOPs only (checked by compare.py)

The model is exactly revive's (src/engine/model_build.c, src/engine/model.c): CIFAR ResNet 6n+2 of width w;
stem 3×3 conv → BN → ReLU; blocks conv1 → BN → ReLU → conv2 → BN, plus the shortcut (identity, or
1×1 conv + BN where the stride or width changes), then add → ReLU; global average pool; linear
with bias. Convolutions have no bias and padding k//2. BN eps 1e-5, momentum 0.1. Init:
Kaiming normal (fan in, ReLU gain) for conv and linear weights, output bias 0, γ ~ U[0,1), β = 0.

Modes, as in bench/bench_train.c:
  all            every parameter trains
  bn             γ and β only (requires_grad False on conv and linear)
  conv_fraction  γ, β and a fixed random --fraction of all conv weights: the dense gradient,
                 then weight decay and a multiply by the mask before the SGD step (what a PyTorch
                 user writes; the frozen weights stay put like revive's, since their masked
                 gradient and so their momentum stays zero)
  eval           model.eval() under torch.no_grad()
SGD lr 0.01, momentum 0.9, weight decay 1e-4 (revive's default train.weight_decay, as bench_train).
Random inputs and labels i % classes: this measures the engine, not data loading.

With --arch mixer the model is revive's MLP-Mixer instead (scripts/revive_torch.py's Mixer, from
the reference's models_mixer.py: nn.Conv2d stem, nn.LayerNorm, nn.Linear over tokens and
channels, GELU tanh; sizes --patch, --hidden, --tokens-mlp, --channels-mlp, --blocks), PyTorch's
default init; mode bn then trains the LayerNorm γ and β alone.

Prints a human line and one `RESULT key=value ...` line that bench/compare.py reads.
"""
import argparse
import resource
import sys
import time


def parse_shape(text):
    try:
        c, h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"input '{text}' is not CxHxW (e.g. 1x28x28)")
    if min(c, h, w) < 1:
        raise argparse.ArgumentTypeError(f"input '{text}' has a zero or negative size")
    return c, h, w


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def build(torch, depth, width, in_c, classes):
    nn = torch.nn

    class Unit(nn.Module):
        """A convolution and the BatchNorm after it (revive's `unit`)."""

        def __init__(self, cin, cout, k, stride):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
            self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)

        def forward(self, x):
            return self.bn(self.conv(x))

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = Unit(cin, cout, 3, stride)
            self.conv2 = Unit(cout, cout, 3, 1)
            self.shortcut = Unit(cin, cout, 1, stride) if stride != 1 or cin != cout else None

        def forward(self, x):
            y = self.conv2(torch.relu(self.conv1(x)))
            return torch.relu(y + (self.shortcut(x) if self.shortcut is not None else x))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            if depth < 8 or (depth - 2) % 6:
                raise SystemExit(f"torch_resnet.py: depth {depth} is not 6n+2 (14, 20, 32, ...)")
            per_segment = (depth - 2) // 6
            c = 16 * width
            self.stem = Unit(in_c, c, 3, 1)
            blocks = []
            for seg in range(3):
                out_c = (16 << seg) * width
                for b in range(per_segment):
                    blocks.append(Block(c, out_c, 2 if seg > 0 and b == 0 else 1))
                    c = out_c
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(c, classes)

        def forward(self, x):
            x = self.blocks(torch.relu(self.stem(x)))
            return self.fc(x.mean(dim=(2, 3)))

    model = ResNet()
    for mod in model.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="relu")
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.uniform_(mod.weight, 0.0, 1.0)
            nn.init.zeros_(mod.bias)
    return model


def forward_flops(torch, model, shape):
    """Multiply-adds ×2 of every conv and the linear layer for one image (revive's formula)."""
    nn = torch.nn
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1]
            total[0] += 2 * out.shape[1] * out.shape[2] * out.shape[3] * mod.in_channels * k
        else:  # a Linear runs once per row: per token for a Mixer's, once for a classifier
            rows = out.numel() // out.shape[0] // mod.out_features
            total[0] += 2 * mod.in_features * mod.out_features * rows

    hooks = [m.register_forward_hook(hook) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    for h in hooks:
        h.remove()
    return total[0]


def main():
    ap = argparse.ArgumentParser(description="PyTorch throughput of revive's ResNet")
    ap.add_argument("--mode", choices=["all", "bn", "conv_fraction", "eval"], default="all")
    ap.add_argument("--fraction", type=float, default=0.01, help="conv_fraction: share of conv weights")
    ap.add_argument("--input", type=parse_shape, default=(1, 28, 28), metavar="CxHxW")
    ap.add_argument("--arch", choices=["resnet", "mixer"], default="resnet")
    ap.add_argument("--depth", type=int, default=20)
    for k in ("patch", "hidden", "tokens-mlp", "channels-mlp", "blocks"):
        ap.add_argument(f"--{k}", type=int, default=0, help="mixer's size (compare.py passes the config defaults)")
    ap.add_argument("--width", type=int, default=1)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=16, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", action="store_true", help="print parameters and FLOPs, then exit")
    a = ap.parse_args()
    if a.steps < 1 or a.warmup < 0 or a.batch < 1 or a.threads < 1:
        ap.error("--steps, --batch and --threads must be at least 1, --warmup at least 0")
    if not 0.0 <= a.fraction <= 1.0:
        ap.error(f"--fraction {a.fraction} is not between 0 and 1")
    try:
        import torch
    except ImportError:
        sys.exit("torch_resnet.py: PyTorch is not installed for /usr/bin/python3: "
                 "apt-get install python3-torch")
    import torch.nn.functional as F

    # Debian's PyTorch runs one intra-op thread unless told; revive's bench uses 2.
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rss_base = rss_mib()
    if a.arch == "mixer":
        import os
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
        from revive_torch import Mixer
        sizes = (a.patch, a.hidden, a.tokens_mlp, a.channels_mlp, a.blocks)
        if min(sizes) < 1:
            ap.error("--arch mixer needs --patch, --hidden, --tokens-mlp, --channels-mlp and --blocks")
        model = Mixer(a.input[0], a.input[1], a.input[2], a.classes, *sizes)
        name = f"Mixer p{a.patch} C{a.hidden} DS{a.tokens_mlp} DC{a.channels_mlp} x{a.blocks}"
    else:
        model = build(torch, a.depth, a.width, a.input[0], a.classes)
        name = f"ResNet-{a.depth} w{a.width}"
    params = sum(p.numel() for p in model.parameters())
    flops = forward_flops(torch, model, a.input)
    if a.count:
        # the categories of `pipeline params`
        n = {"bn": 0, "output": 0, "shortcut": 0, "conv": 0}
        for name, p in model.named_parameters():
            kind = ("output" if name.startswith("fc.") else "bn" if ".bn." in name or
                    name.startswith("stem.bn") else "conv")
            n[kind] += p.numel()
            if kind == "conv" and ".shortcut." in name:
                n["shortcut"] += p.numel()
        print(f"RESULT tool=pytorch params={params} flops={flops} "
              + " ".join(f"{k}={v}" for k, v in n.items()))
        return

    x = torch.randn(a.batch, *a.input)
    y = torch.arange(a.batch) % a.classes
    convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    norm_kinds = (torch.nn.BatchNorm2d, torch.nn.LayerNorm)
    bn = [p for m in model.modules() if isinstance(m, norm_kinds) for p in (m.weight, m.bias)]
    # everything but the norms' γ and β (a Mixer's MLPs and biases too)
    linear = [p for p in model.parameters() if all(p is not q for q in bn + convs)]
    if a.arch == "mixer" and a.mode == "conv_fraction":
        ap.error("--arch mixer: modes all, bn and eval")
    wd = 1e-4
    masks = []
    if a.mode == "all":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=wd)
    elif a.mode == "bn":
        for p in convs + linear:
            p.requires_grad_(False)
        opt = torch.optim.SGD(bn, lr=0.01, momentum=0.9, weight_decay=wd)
    elif a.mode == "conv_fraction":
        for p in linear:
            p.requires_grad_(False)
        # exactly round(f · conv weights) of them, at random over all conv weights (as revive)
        sizes = [p.numel() for p in convs]
        total = sum(sizes)
        flat = torch.zeros(total)
        flat[torch.randperm(total)[: round(a.fraction * total)]] = 1.0
        masks = [(p, m.view_as(p)) for p, m in zip(convs, torch.split(flat, sizes))]
        # decay joins the conv gradient before the mask, so frozen weights do not decay
        opt = torch.optim.SGD([{"params": bn, "weight_decay": wd},
                               {"params": convs, "weight_decay": 0.0}], lr=0.01, momentum=0.9)

    def step():
        if a.mode == "eval":
            with torch.no_grad():
                model(x)
            return
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        with torch.no_grad():
            for p, m in masks:
                p.grad.add_(p, alpha=wd).mul_(m)
        opt.step()

    model.train(a.mode != "eval")
    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    elapsed = time.perf_counter() - start
    img_s = a.steps * a.batch / elapsed
    shape = "x".join(str(v) for v in a.input)
    what = f"{a.mode} {a.fraction:g}" if a.mode == "conv_fraction" else a.mode
    print(f"torch_resnet: {name} {shape} batch {a.batch}, {a.threads} threads, "
          f"{what}: {img_s:.1f} img/s ({a.steps} steps after {a.warmup}), peak RSS {rss_mib():.0f} MiB "
          f"({rss_base:.0f} MiB after import)")
    print(f"RESULT tool=pytorch mode={a.mode} fraction={a.fraction:g} input={shape} batch={a.batch} "
          f"threads={a.threads} steps={a.steps} warmup={a.warmup} img_s={img_s:.2f} "
          f"peak_rss_mib={rss_mib():.1f} base_rss_mib={rss_base:.1f} params={params} flops={flops}")


if __name__ == "__main__":
    main()
