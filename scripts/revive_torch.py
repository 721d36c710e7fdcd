#!/usr/bin/python3
"""revive checkpoints in PyTorch, and back (docs/checkpoint-format.md, "The network, exactly").

    import sys; sys.path.insert(0, "scripts")
    import revive_torch
    model = revive_torch.load("checkpoints/RUN/stage-00.h5")    # eval mode, running statistics
    logits = model(images)          # images: float N x C x H x W in [0, 1] (pixel / 255);
                                    # the stored input normalization is applied inside
    sd = revive_torch.state_dict("checkpoints/RUN/stage-00.h5") # PyTorch names: conv.weight,
                                    # bn.weight, blocks.0.conv1.weight, …, fc.weight, fc.bias
    revive_torch.save(model, "mine.h5", like="checkpoints/RUN/stage-00.h5")
                                    # revive can `eval` and `resume` mine.h5

The network is the one /model names (arch, stem, norm, head; in files written before it did,
the config's): revive's CIFAR ResNet (src/models/resnet.c; for model.arch = imagenet_resnet,
ImageNetResNet below, torchvision's own modules; for vgg, VGG below, with torchvision's names;
for mixer, Mixer below, written from the reference's models_mixer.py), the CIFAR one written here from its
description (open_lth's cifar_resnet), so that tests/tools/torch_reference.py checks revive's
wiring against it as well as its arithmetic:

    stem:  conv3x3(in_c -> 16w, pad 1, no bias) - BN - ReLU
    block: out = ReLU( BN2(conv2(ReLU(BN1(conv1(x))))) + shortcut(x) )
           conv1 3x3 with stride 2 in the first block of segments 2 and 3, conv2 3x3 stride 1;
           shortcut = identity, or conv1x1(stride 2, no bias) - BN when the shape changes
    3 segments of (depth-2)/6 blocks, widths 16w, 32w, 64w; global average pool; Linear + bias.

Module names follow open_lth: `conv`, `bn` (the stem), `blocks.<i>.conv1/bn1/conv2/bn2`,
`blocks.<i>.shortcut.0/1`, `fc`; block i is segment i // n + 1, block i % n of revive's names
(`param_name` maps one to the other). The buffers `input_mean` and `input_std` (C,) hold the
normalization. Needs /usr/bin/python3 with python3-torch, python3-h5py and numpy.
"""
import os
import shutil
import sys
import tempfile

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import revive_h5

FORMAT, FORMAT_VERSION = revive_h5.FORMAT, revive_h5.FORMAT_VERSION   # the newest layout known
WIRING = ("resnet-cifar", 1)
BN_EPS = float(np.float32(1e-5))      # what revive's layers use when a file does not say
BN_MOMENTUM = float(np.float32(0.1))
LN_EPS = float(np.float32(1e-6))      # the Mixer's LayerNorm (include/layers.h LAYERNORM_EPS)


class Normalized(nn.Module):
    """What every network here does first: x = (image − mean) / std per channel, images in
    [0, 1], with the buffers `input_mean` and `input_std` (C,); mean None: the inputs come
    normalized (`normalize` False). A network module subclasses it and calls `normalized(x)`."""

    def __init__(self, in_c, mean=None, std=None):
        super().__init__()
        self.normalize = mean is not None
        self.register_buffer("input_mean", torch.as_tensor(
            np.zeros(in_c) if mean is None else np.asarray(mean), dtype=torch.float32))
        self.register_buffer("input_std", torch.as_tensor(
            np.ones(in_c) if std is None else np.asarray(std), dtype=torch.float32))

    def normalized(self, x):
        if not self.normalize:
            return x
        return (x - self.input_mean.view(1, -1, 1, 1).to(x.dtype)) / self.input_std.view(1, -1, 1, 1).to(x.dtype)


class Block(nn.Module):
    def __init__(self, f_in, f_out, downsample, eps=BN_EPS, momentum=BN_MOMENTUM):
        super().__init__()
        stride = 2 if downsample else 1
        self.conv1 = nn.Conv2d(f_in, f_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(f_out, eps=eps, momentum=momentum)
        self.conv2 = nn.Conv2d(f_out, f_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(f_out, eps=eps, momentum=momentum)
        if downsample or f_in != f_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(f_in, f_out, 1, stride=stride, bias=False),
                nn.BatchNorm2d(f_out, eps=eps, momentum=momentum))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(Normalized):
    """revive's ResNet. forward takes normalized inputs; set `normalize` to give it [0, 1] images."""

    def __init__(self, depth, width, in_c, classes, eps=BN_EPS, momentum=BN_MOMENTUM,
                 mean=None, std=None):
        super().__init__(in_c, mean, std)
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth {depth} is not 6n+2 (8, 14, 20, …)")
        self.per_segment = (depth - 2) // 6
        c = 16 * width
        self.conv = nn.Conv2d(in_c, c, 3, stride=1, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c, eps=eps, momentum=momentum)
        blocks = []
        for seg in range(3):
            out_c = (16 << seg) * width
            for b in range(self.per_segment):
                blocks.append(Block(c, out_c, seg > 0 and b == 0, eps, momentum))
                c = out_c
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.normalized(x)
        out = F.relu(self.bn(self.conv(x)))
        out = self.blocks(out)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.fc(out)

    def unit(self, name):
        """(conv, bn) modules of the revive unit called name, e.g. 'seg2.block0.shortcut'."""
        if name == "stem":
            return self.conv, self.bn
        seg, block, part = name.split(".")
        blk = self.blocks[(int(seg[3:]) - 1) * self.per_segment + int(block[5:])]
        if part == "shortcut":
            return blk.shortcut[0], blk.shortcut[1]
        return {"conv1": (blk.conv1, blk.bn1), "conv2": (blk.conv2, blk.bn2)}[part]

    def param(self, name):
        """The torch tensor for revive's parameter name ('stem.conv', 'output.weight', …)."""
        if name == "output.weight":
            return self.fc.weight
        if name == "output.bias":
            return self.fc.bias
        unit, kind = name.rsplit(".", 1)
        conv, bn = self.unit(unit)
        return {"conv": conv.weight, "gamma": bn.weight, "beta": bn.bias}[kind]

    def units(self):
        """revive's unit names in model order."""
        names = ["stem"]
        for seg in range(3):
            for b in range(self.per_segment):
                names += [f"seg{seg + 1}.block{b}.conv1", f"seg{seg + 1}.block{b}.conv2"]
                if len(self.blocks[seg * self.per_segment + b].shortcut):
                    names.append(f"seg{seg + 1}.block{b}.shortcut")
        return names


class ImageNetResNet(Normalized):
    """revive's ImageNet ResNet (src/models/imagenet_resnet.c): torchvision's ResNet as `net`,
    with the CIFAR stem (3x3/1 conv, no max-pool) when the run's model.stem = cifar, and the input
    normalization as in ResNet above. `net.state_dict()` has torchvision's names, so
    torchvision.models.resnetD(num_classes=...) loads it strictly (ImageNet stem, 3 channels)."""

    BLOCKS = {18: (False, [2, 2, 2, 2]), 34: (False, [3, 4, 6, 3]), 50: (True, [3, 4, 6, 3]),
              101: (True, [3, 4, 23, 3]), 152: (True, [3, 8, 36, 3]), 200: (True, [3, 24, 36, 3])}

    def __init__(self, depth, width, in_c, classes, stem="imagenet", eps=BN_EPS,
                 momentum=BN_MOMENTUM, mean=None, std=None):
        super().__init__(in_c, mean, std)
        import torchvision
        if depth not in self.BLOCKS or width != 1:
            raise ValueError(f"ImageNet ResNet-{depth} width {width}: this module builds depths "
                             f"{sorted(self.BLOCKS)} at width 1")
        bottleneck, layers = self.BLOCKS[depth]
        block = torchvision.models.resnet.Bottleneck if bottleneck else torchvision.models.resnet.BasicBlock
        self.net = torchvision.models.resnet.ResNet(block, layers, num_classes=classes)
        if stem == "cifar":
            self.net.conv1 = nn.Conv2d(in_c, 64, 3, stride=1, padding=1, bias=False)
            self.net.maxpool = nn.Identity()
        elif in_c != 3:
            self.net.conv1 = nn.Conv2d(in_c, 64, 7, stride=2, padding=3, bias=False)
        for mod in self.net.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.eps, mod.momentum = eps, momentum

    def forward(self, x):
        x = self.normalized(x)
        return self.net(x)

    def param(self, name):
        return dict(self.net.named_parameters())[torchvision_name(name)]

    def unit(self, name):
        conv = torchvision_name(name + ".conv").rsplit(".", 1)[0]
        bn = torchvision_name(name + ".gamma").rsplit(".", 1)[0]
        mods = dict(self.net.named_modules())
        return mods[conv], mods[bn]

    def units(self):
        """revive's unit names in model order (torchvision registers its BNs in that order)."""
        names = []
        for n, mod in self.net.named_modules():
            if isinstance(mod, nn.BatchNorm2d):
                if n == "bn1":
                    names.append("stem")
                elif n.endswith("downsample.1"):
                    names.append(n[:-len(".1")])
                else:
                    block, part = n.rsplit(".", 1)
                    names.append(f"{block}.conv{part[2:]}")
        return names


class VGG(Normalized):
    """revive's VGG (src/models/vgg.c) with torchvision's module names: `features` (3x3 convs with
    bias, BN when model.norm = batchnorm, ReLU, a ceil-mode 2x2/2 max-pool after each group),
    `avgpool`, `classifier`. Head "torchvision": classifier.0/3/6 = Linear 4096, 4096, classes (the
    dropouts, which revive does not use, are identities), so torchvision.models.vggD_bn loads its
    state_dict strictly; head "pool": global average pool and classifier.0 = Linear classes.
    The input normalization as in ResNet above."""

    CONVS = {11: [1, 1, 2, 2, 2], 13: [2, 2, 2, 2, 2], 16: [2, 2, 3, 3, 3], 19: [2, 2, 4, 4, 4]}

    def __init__(self, depth, width, in_c, in_h, in_w, classes, norm="batchnorm", head="auto",
                 eps=BN_EPS, momentum=BN_MOMENTUM, mean=None, std=None):
        super().__init__(in_c, mean, std)
        if depth not in self.CONVS:
            raise ValueError(f"VGG-{depth}: this module builds depths {sorted(self.CONVS)}")
        h, w = in_h, in_w
        for _ in range(5):
            h, w = (h + 1) // 2, (w + 1) // 2
        if head == "auto":
            head = "torchvision" if (h, w) == (7, 7) else "pool"
        layers, c, self.names = [], in_c, {}   # revive name -> (module index, kind)
        for g, n in enumerate(self.CONVS[depth]):
            out = (64 << g if g < 3 else 512) * width
            for j in range(n):
                unit = f"group{g + 1}.conv{j + 1}"
                self.names[unit + ".conv"] = (len(layers), "weight")
                self.names[unit + ".conv.bias"] = (len(layers), "bias")
                layers.append(nn.Conv2d(c, out, 3, padding=1))
                if norm == "batchnorm":
                    self.names[unit + ".gamma"] = (len(layers), "weight")
                    self.names[unit + ".beta"] = (len(layers), "bias")
                    layers.append(nn.BatchNorm2d(out, eps=eps, momentum=momentum))
                layers.append(nn.ReLU(inplace=True))
                c = out
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        if head == "torchvision":
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(nn.Linear(c * 49, 4096), nn.ReLU(True), nn.Identity(),
                                            nn.Linear(4096, 4096), nn.ReLU(True), nn.Identity(),
                                            nn.Linear(4096, classes))
            fc = {"classifier.fc1": 0, "classifier.fc2": 3, "output": 6}
        else:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Linear(c, classes))
            fc = {"output": 0}
        for name, i in fc.items():
            self.names[name + ".weight"] = (-1 - i, "weight")
            self.names[name + ".bias"] = (-1 - i, "bias")
        self.bn = norm == "batchnorm"

    def forward(self, x):
        x = self.normalized(x)
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    def param(self, name):
        i, kind = self.names[name]
        mod = self.features[i] if i >= 0 else self.classifier[-1 - i]
        return getattr(mod, kind)

    def unit(self, name):
        i, _ = self.names[name + ".conv"]
        return self.features[i], self.features[i + 1]

    def units(self):
        return [n[:-len(".gamma")] for n in self.names if n.endswith(".gamma")]


class MixerBlock(nn.Module):
    """One block of MLP-Mixer on tokens (N, S, C), as google-research/vision_transformer's
    models_mixer.py: x += TokenMLP(LN(x)ᵀ)ᵀ; x += ChannelMLP(LN(x)), GELU in its tanh form."""

    def __init__(self, tokens, c, tokens_mlp, channels_mlp):
        super().__init__()
        self.norm1 = nn.LayerNorm(c, eps=LN_EPS)
        self.token_fc1, self.token_fc2 = nn.Linear(tokens, tokens_mlp), nn.Linear(tokens_mlp, tokens)
        self.norm2 = nn.LayerNorm(c, eps=LN_EPS)
        self.channel_fc1, self.channel_fc2 = nn.Linear(c, channels_mlp), nn.Linear(channels_mlp, c)

    def forward(self, x):
        y = self.norm1(x).transpose(1, 2)                       # (N, C, S)
        y = self.token_fc2(F.gelu(self.token_fc1(y), approximate="tanh")).transpose(1, 2)
        x = x + y
        y = self.channel_fc2(F.gelu(self.channel_fc1(self.norm2(x)), approximate="tanh"))
        return x + y


class Mixer(Normalized):
    """revive's MLP-Mixer (src/models/mixer.c): a PxP stride-P conv `stem` to C channels, the
    tokens (N, S, C) in row-major patch order, `blocks`, LayerNorm `norm`, mean over tokens,
    Linear `head`. revive keeps NCHW, so its channel-MLP kernels are 1x1 convs (D_C, C, 1, 1)
    where these are Linear weights (D_C, C): revive_shape gives the file's shape. LayerNorm has
    no running statistics; the units (each block's norm2 with its channel_fc1) have none to
    load. The input normalization as in ResNet above."""

    def __init__(self, in_c, in_h, in_w, classes, patch, hidden, tokens_mlp, channels_mlp, blocks,
                 mean=None, std=None):
        super().__init__(in_c, mean, std)
        if in_h % patch or in_w % patch:
            raise ValueError(f"patch {patch} does not divide the {in_h}x{in_w} input")
        tokens = (in_h // patch) * (in_w // patch)
        self.stem = nn.Conv2d(in_c, hidden, patch, stride=patch)
        self.blocks = nn.Sequential(*[MixerBlock(tokens, hidden, tokens_mlp, channels_mlp)
                                      for _ in range(blocks)])
        self.norm = nn.LayerNorm(hidden, eps=LN_EPS)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        x = self.normalized(x)
        x = self.stem(x).flatten(2).transpose(1, 2)            # (N, S, C)
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=1))

    def _module(self, name):
        """(module, attribute) of revive's parameter name ('block0.mlp_channels.fc1.bias', …)."""
        if name in ("stem", "stem.bias"):
            return self.stem, "bias" if name.endswith(".bias") else "weight"
        if name.startswith(("norm.", "head.")):
            mod, kind = name.split(".")
            return getattr(self, mod), kind
        parts = name.split(".")
        blk = self.blocks[int(parts[0][len("block"):])]
        if parts[1] in ("norm1", "norm2"):
            return getattr(blk, parts[1]), {"gamma": "weight", "beta": "bias"}[parts[2]]
        prefix = "token_" if parts[1] == "mlp_tokens" else "channel_"
        # revive names a conv's kernel by the layer ('block0.mlp_channels.fc1'), a Dense's
        # '<layer>.weight'
        return getattr(blk, prefix + parts[2]), parts[3] if len(parts) > 3 else "weight"

    def param(self, name):
        if name.startswith("norm."):
            return getattr(self.norm, {"gamma": "weight", "beta": "bias"}[name.split(".")[1]])
        mod, kind = self._module(name)
        return getattr(mod, kind)

    def revive_shape(self, name):
        t = self.param(name)
        if ".mlp_channels." in name and not name.endswith(".bias"):
            return tuple(t.shape) + (1, 1)
        return tuple(t.shape)

    def unit(self, name):
        blk = self.blocks[int(name.split(".")[0][len("block"):])]
        return blk.channel_fc1, blk.norm2

    def units(self):
        return [f"block{b}.norm2" for b in range(len(self.blocks))]


class CheckpointError(Exception):
    """A file this module cannot use; the message names it and says what to do."""


def _open(path):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise CheckpointError(f"{path}: cannot open as HDF5 ({e})") from None
    if revive_h5.text(f.attrs.get("format")) != FORMAT:
        f.close()
        raise CheckpointError(f"{path}: not a revive checkpoint (root attribute format is not '{FORMAT}')")
    if int(f.attrs.get("format_version", 0)) > FORMAT_VERSION:
        f.close()
        raise CheckpointError(f"{path}: checkpoint format version {f.attrs['format_version']} is newer "
                              f"than this module knows ({FORMAT_VERSION}); update revive")
    return f


def _build(f, path):
    m = f["model"]
    a = m.attrs
    config = revive_h5.text(f["config"][()]) if "config" in f else ""
    # the network /model describes (its config's, in files written before it did)
    key = lambda k, default: revive_h5.text(a.get(k), "") or revive_h5.config_value(config, "model", k) or default  # noqa: E731
    arch = key("arch", "resnet")
    dims = lambda *ks: [int(a[k]) for k in ks]  # noqa: E731
    bn = dict(eps=float(a.get("bn_eps", BN_EPS)), momentum=float(a.get("bn_momentum", BN_MOMENTUM)))
    # the Mixer's sizes are the config's keys (the network description names the family only)
    size = lambda k: int(revive_h5.config_value(config, "model", k))  # noqa: E731
    families = {  # called once mean and std are read below
        "resnet": lambda: ResNet(*dims("depth", "width", "in_c", "classes"), **bn, mean=mean, std=std),
        "imagenet_resnet": lambda: ImageNetResNet(*dims("depth", "width", "in_c", "classes"),
                                                  stem=key("stem", "auto"), **bn, mean=mean, std=std),
        "vgg": lambda: VGG(*dims("depth", "width", "in_c", "in_h", "in_w", "classes"),
                           norm=key("norm", "batchnorm"), head=key("head", "auto"), **bn,
                           mean=mean, std=std),
        "mixer": lambda: Mixer(*dims("in_c", "in_h", "in_w", "classes"),
                               *[size(k) for k in ("patch", "hidden", "tokens_mlp", "channels_mlp", "blocks")],
                               mean=mean, std=std),
    }
    if arch not in families:
        raise CheckpointError(f"{path}: model.arch = {arch}: this module builds "
                              f"{', '.join(families)}")
    wiring = (revive_h5.text(a.get("wiring"), WIRING[0]), int(a.get("wiring_version", WIRING[1])))
    if arch == "resnet" and wiring != WIRING:
        raise CheckpointError(f"{path}: network wiring {wiring} is not {WIRING}, the one this module builds")
    if "input_mean" in m:
        mean, std = m["input_mean"][()], m["input_std"][()]
    else:
        raise CheckpointError(f"{path}: no /model/input_mean: written by a revive that did not store "
                              "its input normalization; re-save it with `pipeline resume` or pass "
                              "normalized inputs to ResNet yourself")
    try:
        return families[arch]()
    except ValueError as e:
        raise CheckpointError(f"{path}: {e}") from None


def load(path):
    """The checkpoint's network as a torch.nn.Module in eval mode (float32), with its running
    statistics; it takes images in [0, 1], N x C x H x W, and normalizes them itself."""
    with _open(path) as f:
        if int(f.attrs.get("seed_only", 0)):
            raise CheckpointError(f"{path}: a seed-only export stores no conv weights (only revive can "
                                  "regenerate them); load the full checkpoint it came from")
        model = _build(f, path)
        with torch.no_grad():
            used = set()
            for name in f["params"]:
                t = model.param(name)
                v = f["params"][name][()]
                want = model.revive_shape(name) if hasattr(model, "revive_shape") else tuple(t.shape)
                if want != v.shape:
                    raise CheckpointError(f"{path}: /params/{name} has shape {v.shape}, the network "
                                          f"needs {want}")
                t.copy_(torch.from_numpy(v).reshape(t.shape))
                used.add(id(t))
            left = [n for n, p in model.named_parameters() if id(p) not in used]
            if left:
                raise CheckpointError(f"{path}: /params lacks the tensors for {left}")
            for u in model.units():
                _, bn = model.unit(u)
                if not isinstance(bn, nn.BatchNorm2d):
                    continue  # a Mixer's LayerNorm: no running statistics
                bn.running_mean.copy_(torch.from_numpy(f[f"running/{u}/mean"][()]))
                bn.running_var.copy_(torch.from_numpy(f[f"running/{u}/var"][()]))
    return model.eval()


def state_dict(path):
    """The checkpoint as a PyTorch state dict: names of ResNet above (conv.weight, bn.weight,
    bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked, blocks.0.conv1.weight, …,
    fc.weight, fc.bias, input_mean, input_std); for an ImageNet ResNet, torchvision's names
    (conv1.weight, bn1.weight, layer1.0.conv1.weight, …, fc.weight: the normalization stays out,
    so torchvision.models.resnetD(num_classes=...) loads it strictly); for a VGG, VGG's above
    (features.0.weight, …, classifier.6.weight with the torchvision head), without the
    normalization."""
    m = load(path)
    if isinstance(m, ImageNetResNet):
        return m.net.state_dict()
    sd = m.state_dict()
    if isinstance(m, VGG):  # torchvision's vggD_bn has no normalization buffers
        del sd["input_mean"], sd["input_std"]
    return sd


def param_name(model, torch_name):
    """revive's name ('seg1.block0.conv1.gamma') for a parameter name of ResNet ('blocks.0.bn1.weight')."""
    target = dict(model.named_parameters())[torch_name]
    for u in model.units():
        for kind in ("conv", "gamma", "beta"):
            if model.param(f"{u}.{kind}") is target:
                return f"{u}.{kind}"
    return {"fc.weight": "output.weight", "fc.bias": "output.bias"}[torch_name]


def torchvision_name(name):
    """torchvision's name for a parameter of revive's ImageNet ResNet (src/models/imagenet_resnet.c):
    'stem.conv' -> 'conv1.weight', 'layer2.0.conv1.gamma' -> 'layer2.0.bn1.weight',
    'layer2.0.downsample.beta' -> 'layer2.0.downsample.1.bias', 'output.weight' -> 'fc.weight',
    so `torchvision.models.resnetD(num_classes=...)` loads the values strictly."""
    if name.startswith("output."):
        return "fc." + name.split(".", 1)[1]
    unit, kind = name.rsplit(".", 1)
    field = {"conv": "weight", "gamma": "weight", "beta": "bias"}[kind]
    if unit == "stem":
        return ("conv1." if kind == "conv" else "bn1.") + field
    block, part = unit.rsplit(".", 1)
    if part == "downsample":
        return f"{block}.downsample.{0 if kind == 'conv' else 1}.{field}"
    k = part[len("conv"):]
    return f"{block}.{'conv' if kind == 'conv' else 'bn'}{k}.{field}"


def save(model, path, like):
    """Writes model into a copy of the checkpoint `like`: /params, /running and the normalization
    come from model; everything else (config, position, optimizer state, masks, history, stage
    statistics, provenance) is like's, so revive can `eval` and `resume` the file. The stage
    statistics and history still describe like's training. Written to a temporary file in the
    target's directory and renamed over path, so path is never half-written."""
    with _open(like) as f:
        if int(f.attrs.get("seed_only", 0)):
            raise CheckpointError(f"{like}: a seed-only export; give a full checkpoint as like=")
        names = list(f["params"])
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp-", dir=directory)
    os.close(fd)
    try:
        shutil.copyfile(like, tmp)
        with h5py.File(tmp, "r+") as f, torch.no_grad():
            for name in names:
                v = model.param(name).detach().cpu().numpy().astype(np.float32)
                if hasattr(model, "revive_shape"):
                    v = v.reshape(model.revive_shape(name))
                d = f["params"][name]
                if d.shape != v.shape:
                    raise CheckpointError(f"{path}: the module's {name} has shape {v.shape} but "
                                          f"{like} has {d.shape}; save into a checkpoint of the same model")
                d[...] = v
            for u in model.units():
                _, bn = model.unit(u)
                if not isinstance(bn, nn.BatchNorm2d):
                    continue
                f[f"running/{u}/mean"][...] = bn.running_mean.cpu().numpy().astype(np.float32)
                f[f"running/{u}/var"][...] = bn.running_var.cpu().numpy().astype(np.float32)
            if model.normalize and "input_mean" in f["model"]:
                f["model/input_mean"][...] = model.input_mean.cpu().numpy()
                f["model/input_std"][...] = model.input_std.cpu().numpy()
        revive_h5.restamp(tmp)  # the whole-file CRC-32 revive checks, over the new bytes
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _main(argv):
    """revive_torch.py CHECKPOINT: loads it and prints the module and its parameter count."""
    if len(argv) != 2:
        sys.exit(__doc__)
    try:
        model = load(argv[1])
    except CheckpointError as e:
        sys.exit(f"revive_torch.py: {e}")
    print(model)
    print(f"{sum(p.numel() for p in model.parameters())} parameters; normalization mean "
          f"{model.input_mean.tolist()} std {model.input_std.tolist()}")


if __name__ == "__main__":
    _main(sys.argv)
