"""The style loss in PyTorch as the reference code writes it (peiwang062/swag: gram_matrix,
get_features and its transforms of a tap), for tests/tools/torch_style.py,
tests/tools/torch_style_net.py and bench/torch_style.py: the one PyTorch counterpart of
src/tasks/style.c.

    import sys; sys.path.insert(0, "scripts")
    from style_torch import gram, style_features
    taps = style_features(torchvision.models.resnet18().eval(), image, "softmax_all")
    loss = sum(w * torch.mean((gram(f) - t) ** 2) for w, f, t in zip(weights, taps, targets))

Needs torch only (dtype-agnostic: float32 for the benchmark, float64 for the tests).
"""
import torch


def swag(x, form, alpha):
    """A tap x (N, C, H, W) transformed by SWAG form: none; scale (alpha * x); softmax_all (the
    reference's softmax3d: one softmax over the whole tap); softmax_channels (nn.Softmax2d: a
    softmax over the channels at each position)."""
    if form == "none":
        return x
    if form == "scale":
        return alpha * x
    if form == "softmax_all":
        return torch.softmax(x.reshape(1, -1), dim=1).reshape(x.shape)
    if form == "softmax_channels":
        return torch.nn.Softmax2d()(x)
    raise ValueError(f"unknown SWAG form {form!r}")


def gram(f):
    """Gram = F Fᵀ / (N·C·H·W) of f (N, C, H, W), F its (N·C, H·W) matrix."""
    a, b, c, d = f.shape
    g = f.reshape(a * b, c * d)
    return g @ g.t() / (a * b * c * d)


def style_features(net, x, form="none", alpha=0.001):
    """The taps of a torchvision ResNet (net) on x: after the stem's ReLU and after each of the
    four stages' last block, SWAG form applied on layer3's and layer4's (as the reference does)."""
    x = net.relu(net.bn1(net.conv1(x)))
    out = [x]
    x = net.maxpool(x)
    for i, layer in enumerate([net.layer1, net.layer2, net.layer3, net.layer4]):
        x = layer(x)
        out.append(swag(x, form, alpha) if i >= 2 else x)
    return out
