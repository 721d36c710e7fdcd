#!/usr/bin/python3
"""Compare the parameters of two revive checkpoints: prints the largest difference relative to
the parameter tensor's scale, max_t |a−b|_∞ / max(|a|_∞, 1e-12), and exits 1 above --tol.

    compare_params.py A.h5 B.h5 [--tol 1e-5] [--group params]
"""
import sys

import h5py
import numpy as np


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    opts = dict(zip(argv[1:], argv[2:]))
    tol = float(opts.get("--tol", "1e-5"))
    group = opts.get("--group", "params")
    a, b = h5py.File(args[0], "r"), h5py.File(args[1], "r")
    worst, where = 0.0, ""
    for name in a[group]:
        x, y = a[group][name][()], b[group][name][()]
        if isinstance(x, h5py.Dataset) or hasattr(x, "keys"):
            continue
        scale = max(float(np.abs(x).max()), 1e-12)
        d = float(np.abs(x.astype(np.float64) - y).max()) / scale
        if d > worst:
            worst, where = d, name
    print(f"largest relative difference in /{group}: {worst:.3g} ({where})")
    return 0 if worst <= tol else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
