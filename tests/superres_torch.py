"""The super-resolution chain of tests/test_superres.c (test_perceptual_chain_gradients) in
PyTorch: SRResNet x2 (depth 1, 32 channels, 3x3 -> 6x6, training-mode BatchNorm), pixel MSE,
and the perceptual loss through a frozen loss network in evaluation mode (conv-BN-ReLU tap,
ceil-mode max-pool, conv-BN-ReLU tap). Reads revive's dump (values, inputs, its loss and
gradients) and checks that PyTorch's loss and gradients agree. With x1, the denoiser's chain
(test_denoise_chain_gradients): srresnet_x1, the same without the up-block, 6x6 -> 6x6.
Usage: superres_torch.py DUMP [x1]"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
X1 = sys.argv[2:3] == ["x1"]
N, C, H, W, WIDTH = 3, 1, 3, 3, 32
SCALE = 1 if X1 else 2
if X1:
    H = W = 6
LAMBDA, TAP_WEIGHT, MEAN, STD = 0.7, (1.0, 0.5), 0.3, 0.5

d = np.fromfile(sys.argv[1], dtype=np.float64)
at = 0


def take(*shape):
    global at
    n = int(np.prod(shape))
    out = torch.tensor(d[at:at + n].reshape(shape))
    at += n
    return out


def conv_shapes(cin, cout, bias):
    return [(cout, cin, 3, 3)] + ([(cout,)] if bias else [])


# The generator's parameters in revive's order (src/models/srresnet.c).
gshapes = conv_shapes(C, WIDTH, True)
for _ in range(2):  # block0.conv1, block0.conv2: conv, gamma, beta
    gshapes += conv_shapes(WIDTH, WIDTH, False) + [(WIDTH,), (WIDTH,)]
gshapes += conv_shapes(WIDTH, WIDTH, False) + [(WIDTH,), (WIDTH,)]  # body
if not X1:
    gshapes += conv_shapes(WIDTH, 4 * WIDTH, True)  # up.conv
gshapes += conv_shapes(WIDTH, C, True)
gp = [take(*s).requires_grad_() for s in gshapes]
take(2 * WIDTH * 3)  # running statistics (training mode: unused)
lshapes = conv_shapes(C, 4, True) + [(4,), (4,)] + conv_shapes(4, 6, False) + [(6,), (6,)] + [(3, 6), (3,)]
lp = [take(*s) for s in lshapes]
lrun = take(2 * 4 + 2 * 6)
x = take(N, C, H, W).requires_grad_()
target = take(N, C, SCALE * H, SCALE * W)
want_loss = take(1).item()
want_grads = [take(*s) for s in gshapes]
want_dx = take(N, C, H, W)
assert at == len(d), (at, len(d))


def bn_train(t, g, b):
    return F.batch_norm(t, None, None, g, b, training=True, eps=1e-5)


def generator(x):
    (hw, hb, c1, g1, b1, c2, g2, b2, cb, gb, bb), (ow, ob) = gp[:11], gp[-2:]
    h = F.relu(F.conv2d(x, hw, hb, padding=1))
    y = F.relu(bn_train(F.conv2d(h, c1, padding=1), g1, b1))
    y = bn_train(F.conv2d(y, c2, padding=1), g2, b2) + h
    y = bn_train(F.conv2d(y, cb, padding=1), gb, bb) + h
    if not X1:
        uw, ub = gp[11:13]
        y = F.relu(F.pixel_shuffle(F.conv2d(y, uw, ub, padding=1), 2))
    return F.conv2d(y, ow, ob, padding=1)


def lossnet(img):
    (w1, bias1, g1, be1, w2, g2, be2, _, _) = lp
    m1, v1, m2, v2 = lrun[0:4], lrun[4:8], lrun[8:14], lrun[14:20]
    z = (img - MEAN) / STD
    t1 = F.relu(F.batch_norm(F.conv2d(z, w1, bias1, padding=1), m1, v1, g1, be1, False, 0.0, 1e-5))
    z = F.max_pool2d(t1, 2, 2, ceil_mode=True)
    t2 = F.relu(F.batch_norm(F.conv2d(z, w2, padding=1), m2, v2, g2, be2, False, 0.0, 1e-5))
    return t1, t2


y = generator(x)
mse = ((y - target) ** 2).flatten(1).mean(1).sum()
perc = sum(w * ((a - b) ** 2).flatten(1).mean(1).sum()
           for w, a, b in zip(TAP_WEIGHT, lossnet(y), lossnet(target)))
loss = (mse + LAMBDA * perc) / N
loss.backward()

bad = []
if abs(loss.item() - want_loss) > 1e-5 * abs(want_loss):
    bad.append("loss %r against revive's %r" % (loss.item(), want_loss))
for i, (p, w) in enumerate(zip(gp + [x], want_grads + [want_dx])):
    err = (p.grad - w).abs().max().item()
    scale = p.grad.abs().max().item()
    if err > 1e-4 * scale + 1e-7:
        bad.append("gradient %d (shape %s): max error %g of %g" % (i, tuple(p.shape), err, scale))
if bad:
    print("; ".join(bad))
    sys.exit(1)
print("PyTorch agrees%s: loss %.9g, %d gradients and d_x" % (
    " (srresnet_x1)" if X1 else "", loss.item(), len(gp)))
