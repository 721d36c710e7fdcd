#!/usr/bin/python3
"""How far from exact are Winograd F(2x2,3x3) and F(4x4,3x3) in float32? A numpy simulation.

    /usr/bin/python3 tests/tools/winograd_error.py

Every transform, the per-point products and their channel sums are rounded to float32 (numpy
einsum in float32, so its summation order, not revive's), on random layers shaped like
ResNet-20's (16 channels at 26x26, 64 at 14x14; weights with std 1/sqrt(9C)). Prints the worst
and the median over outputs of |y - y64| / sum|w·x|, the measure tests/test_layers.c applies to
revive's kernels. docs/ARCHITECTURE.md quotes the output: why revive has F(2x2,3x3) and not
F(4x4,3x3) (Lavin & Gray 2016's matrices, whose entries up to 8 and 1/24 cost precision).
"""
import numpy as np

F32 = np.float32
F2 = (np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float),
      np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]]),
      np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float), 2)
F4 = (np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], float),
      np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]),
      np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                [0, 1, -1, 8, -8, 1]], float), 4)


def winograd(bt, g_mat, at, m, d, g):
    """Valid 3x3 correlation of d (C, H, W) with g (O, C, 3, 3), in m x m output tiles."""
    bt, g_mat, at = bt.astype(F32), g_mat.astype(F32), at.astype(F32)
    a = m + 2
    u = np.einsum('ij,ocjk,lk->ocil', g_mat, g, g_mat).astype(F32)
    tiles = (d.shape[1] - 2) // m
    out = np.zeros((g.shape[0], tiles * m, tiles * m), F32)
    for ty in range(tiles):
        for tx in range(tiles):
            t = d[:, ty * m:ty * m + a, tx * m:tx * m + a]
            v = np.einsum('ij,cjk,lk->cil', bt, t, bt).astype(F32)
            mm = np.einsum('ocil,cil->oil', u, v).astype(F32)
            out[:, ty * m:ty * m + m, tx * m:tx * m + m] = np.einsum('ij,ojk,lk->oil', at, mm, at)
    return out


def direct(d, g, size):
    """The same in float64, and sum|w·x| of every output."""
    d, g = d.astype(np.float64), g.astype(np.float64)
    ref = np.zeros((g.shape[0], size, size))
    scale = np.zeros_like(ref)
    for ki in range(3):
        for kj in range(3):
            x = d[:, ki:ki + size, kj:kj + size]
            ref += np.einsum('oc,chw->ohw', g[:, :, ki, kj], x)
            scale += np.einsum('oc,chw->ohw', np.abs(g[:, :, ki, kj]), np.abs(x))
    return ref, scale


def main():
    rng = np.random.default_rng(1)
    for c, h in ((16, 26), (64, 14)):
        d = rng.standard_normal((c, h, h)).astype(F32)
        g = (rng.standard_normal((c, c, 3, 3)) / np.sqrt(9 * c)).astype(F32)
        for name, (bt, g_mat, at, m) in (("F(2x2,3x3)", F2), ("F(4x4,3x3)", F4)):
            y = winograd(bt, g_mat, at, m, d, g)
            ref, scale = direct(d, g, y.shape[1])
            rel = np.abs(y - ref) / scale
            print(f"{c:3d} channels {h}x{h}  {name}  worst {rel.max():.2g}  median {np.median(rel):.2g}")


if __name__ == "__main__":
    main()
