#!/usr/bin/python3
"""Issue 22's experiment report (scripts/superres_experiment.sh's cells): the records, the paired
comparisons against the pixel loss alone, and the picture grid.

    python3 scripts/superres_report.py CELLS_DIR DATA_DIR FIGURE.png

CELLS_DIR/<cell>/seed-<s>/results.json (pipeline superres). A cell is `pixel`, or a loss
network `<family>-<init>` (family vgg or resnet; init one of INITS below, or trained) at
λ = 0.05, or `<family>-<init>-l<λ>` at another λ (the λ sweep). Writes DATA_DIR/runs.csv (one
row per run), DATA_DIR/summary.json (per cell: its family, init, λ, and the mean and sample std
over seeds; per comparison of a loss-network cell with the pixel loss: the paired differences,
their mean, std, a paired t-test's p-value and its Holm-corrected value over all comparisons
made, and the issue's criterion: mean difference > 2 x the seed spread; per random cell, the
share of the trained network's gain (same family and λ) it recovers, null where the trained
network's mean gain is not positive) and FIGURE.png: a row per
test image (the first 6), columns input (nearest), bicubic, pixel loss, each λ = 0.05 loss
network cell there is (random VGG liu, kaiming, trained VGG, random ResNet liu, trained ResNet),
target, from the seed-1 runs' grid.png.

Either task of pipeline superres (superres.task): the runs' results.json name their baselines
("baselines": x2's nearest and bicubic, denoise's noisy input and Gaussian blur; files without
the key are x2's), and the table's baseline rows and the grid's first two columns are those.
"""
import csv
import json
import os
import re
import sys

import numpy as np
from PIL import Image
from scipy import stats

FAMILIES = ["vgg", "resnet"]
INITS = ["liu", "kaiming", "xavier", "normal", "normal0.1", "uniform", "trained"]
DEFAULT_LAMBDA = 0.05   # scripts/superres_experiment.sh: the cell at this λ has no -l suffix
FAMILY_NAMES = {"vgg": "VGG-%d-BN", "resnet": "ResNet-%d"}   # % superres.lossnet_depth
INIT_NAMES = {"liu": "random, Liu et al.'s init", "kaiming": "random, Kaiming-normal",
              "xavier": "random, Xavier-normal", "normal": "random, N(0, 0.01²)",
              "normal0.1": "random, N(0, 0.1²)", "uniform": "random, U[-0.01, 0.01]",
              "trained": "trained (other half)"}
METRICS = ["psnr", "ssim", "accuracy_output", "spectral_share_output"]
X2_BASELINES = ["nearest", "bicubic"]   # results.json without "baselines" (before denoising)
BASELINE_NAMES = {"nearest": "nearest-neighbour", "bicubic": "bicubic (PIL)",
                  "noisy": "noisy input", "blur": "Gaussian blur"}


def base_keys(names):
    """The baselines' columns of runs.csv (x2's in the order they always had)."""
    a, b = names
    return ["psnr_" + a, "ssim_" + a, "psnr_" + b, "ssim_" + b, "accuracy_target", "accuracy_" + b,
            "accuracy_" + a, "spectral_share_target", "spectral_share_" + b, "spectral_share_" + a]


def baseline_label(name, cell):
    """A baseline's row label; the blur's names its width (the first run's)."""
    if name == "blur" and cell.get("blur_sigma") is not None:
        return "Gaussian blur (σ = %g px, chosen on training images)" % cell["blur_sigma"]
    return BASELINE_NAMES.get(name, name)


def parse_cell(name):
    """(family, init, λ) of a cell directory's name; pixel is (None, None, 0); None: not a cell."""
    if name == "pixel":
        return (None, None, 0.0)
    m = re.fullmatch(r"(\w+)-([\w.]+?)(?:-l(\d[\d.e-]*))?", name)
    if not m or m.group(1) not in FAMILIES or m.group(2) not in INITS:
        return None
    return (m.group(1), m.group(2), float(m.group(3)) if m.group(3) else DEFAULT_LAMBDA)


def cell_order(name):
    f, i, lam = parse_cell(name)
    return (-1, 0, 0.0) if f is None else (FAMILIES.index(f), INITS.index(i), lam)


def cell_label(name, depth):
    f, i, lam = parse_cell(name)
    if f is None:
        return "pixel loss (MSE) alone"
    return "+ %g x %s %s" % (lam, INIT_NAMES[i], FAMILY_NAMES[f] % depth)


def cells_in(cells_dir):
    names = [n for n in os.listdir(cells_dir)
             if os.path.isdir(os.path.join(cells_dir, n)) and parse_cell(n) is not None]
    return sorted(names, key=cell_order)


def load(cells_dir):
    """The runs, and the baselines' names (all runs must agree: one task)."""
    runs, baselines = [], None
    for cell in cells_in(cells_dir):
        d = os.path.join(cells_dir, cell)
        for s in sorted(os.listdir(d)):
            f = os.path.join(d, s, "results.json")
            if not os.path.exists(f):
                continue
            r = json.load(open(f))
            names = r.get("baselines", X2_BASELINES)
            if baselines is None:
                baselines = names
            elif names != baselines:
                sys.exit("superres_report.py: %s has baselines %s, the other runs %s: one task "
                         "(superres.task) a directory" % (f, names, baselines))
            row = {"cell": cell, "seed": int(s.split("-")[1]), "seconds": r["seconds"],
                   "train_images": r["train_images"], "test_images": r["test"]["images"]}
            for k in METRICS + base_keys(names):
                row[k] = r["test"].get(k)
            for k in ("noise_sigma", "blur_sigma"):  # denoise's
                if k in r["test"]:
                    row[k] = r["test"][k]
            depth = re.search(r"^lossnet_depth = (\d+)$", r["config"], re.M)
            row["lossnet_depth"] = int(depth.group(1)) if depth else None
            row["pixel_last_epoch"] = r["epochs"][-1]["pixel"]
            row["perceptual_last_epoch"] = r["epochs"][-1]["perceptual"]
            runs.append(row)
    return runs, baselines or X2_BASELINES


def holm(ps):
    order = np.argsort(ps)
    m = len(ps)
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


def main():
    cells_dir, data_dir, figure = sys.argv[1:4]
    os.makedirs(data_dir, exist_ok=True)
    runs, baselines = load(cells_dir)
    BASE = base_keys(baselines)
    denoise = baselines != X2_BASELINES
    extra = ["noise_sigma", "blur_sigma"] if denoise else []
    keys = ["cell", "seed", "train_images", "test_images", "seconds"] + METRICS + BASE + extra + [
        "lossnet_depth", "pixel_last_epoch", "perceptual_last_epoch"]
    with open(os.path.join(data_dir, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in runs:
            w.writerow(r)
    by = {}
    for r in runs:
        by.setdefault(r["cell"], {})[r["seed"]] = r
    summary = {"task": "denoise" if denoise else "x2", "baselines": baselines, "cells": {},
               "comparisons": []}
    for cell, rs in by.items():
        family, init, lam = parse_cell(cell)
        c = {"family": family, "init": init, "lambda": lam, "seeds": sorted(rs),
             "lossnet_depth": rs[min(rs)]["lossnet_depth"] if family else None}
        for k in METRICS + BASE + ["seconds"]:
            v = np.array([rs[s][k] for s in sorted(rs)], dtype=float)
            c[k] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else None}
        for k in extra:  # the same for every run (the noise, the blur chosen on training images)
            c[k] = rs[min(rs)][k]
        summary["cells"][cell] = c
    comps = []
    cells = sorted(by, key=cell_order)
    for cell in cells:
        if cell == "pixel" or "pixel" not in by:
            continue
        seeds = sorted(set(by[cell]) & set(by["pixel"]))
        if len(seeds) < 2:
            continue
        for k in ["ssim", "accuracy_output", "psnr"]:
            d = np.array([by[cell][s][k] - by["pixel"][s][k] for s in seeds])
            t = stats.ttest_rel([by[cell][s][k] for s in seeds], [by["pixel"][s][k] for s in seeds])
            comps.append({"cell": cell, "vs": "pixel", "metric": k, "seeds": seeds,
                          "differences": d.tolist(), "mean": float(d.mean()),
                          "std": float(d.std(ddof=1)), "p": float(t.pvalue),
                          "beyond_2x_spread": bool(abs(d.mean()) > 2 * d.std(ddof=1))})
    ph = holm([c["p"] for c in comps]) if comps else []
    for c, p in zip(comps, ph):
        c["p_holm"] = p
        c["holm_over"] = len(comps)
    summary["comparisons"] = comps
    # the share of the trained loss network's gain (same family, same λ) a random one recovers
    rec = {}
    cs = summary["cells"]
    for cell in cells:
        family, init, lam = parse_cell(cell)
        if family is None or init == "trained" or "pixel" not in cs:
            continue
        trained = [t for t in cs if parse_cell(t) == (family, "trained", lam)]
        if not trained:
            continue
        for k in ["ssim", "accuracy_output"]:
            gain_t = cs[trained[0]][k]["mean"] - cs["pixel"][k]["mean"]
            gain_r = cs[cell][k]["mean"] - cs["pixel"][k]["mean"]
            # a share of a gain: none where the trained network gained nothing (or lost)
            rec["%s %s" % (cell, k)] = gain_r / gain_t if gain_t > 0 else None
    summary["recovered_share_of_trained_gain"] = rec
    json.dump(summary, open(os.path.join(data_dir, "summary.json"), "w"), indent=1)
    # the grid
    cols = [("pixel", 0), ("pixel", 1), ("pixel", 2)] + [
        (c, 2) for c in ("vgg-liu", "vgg-kaiming", "vgg-trained", "resnet-liu", "resnet-trained")
        if c in by] + [("pixel", 3)]
    grids = {}
    for cell, _ in cols:
        f = os.path.join(cells_dir, cell, "seed-1", "grid.png")
        if os.path.exists(f):
            grids[cell] = np.asarray(Image.open(f).convert("L"))
    if "pixel" in grids:
        rows, side, pad = 6, 28, 2
        out = np.full((pad + rows * (side + pad), pad + len(cols) * (side + pad)), 255, np.uint8)
        for j, (cell, col) in enumerate(cols):
            if cell not in grids:
                continue
            g = grids[cell]
            for i in range(rows):
                y, x = pad + i * (side + pad), pad + col * (side + pad)
                out[pad + i * (side + pad):pad + i * (side + pad) + side,
                    pad + j * (side + pad):pad + j * (side + pad) + side] = g[y:y + side, x:x + side]
        big = Image.fromarray(out).resize((out.shape[1] * 3, out.shape[0] * 3), Image.NEAREST)
        big.save(figure)
    # the markdown table of docs/RESULTS.md
    def ms(cell, k, scale=1.0, digits=2):
        c = summary["cells"][cell][k]
        sd = "" if c["std"] is None else " ± %.*f" % (digits, c["std"] * scale)
        return "%.*f%s" % (digits, c["mean"] * scale, sd)
    print("| output | seeds | PSNR dB | SSIM | judge's accuracy % | spectral share above 1/4 | wall s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    first = next(iter(summary["cells"].values()))
    for b in baselines:
        print("| %s | - | %.2f | %.4f | %.2f | %.4f | - |" % (
            baseline_label(b, first), first["psnr_" + b]["mean"], first["ssim_" + b]["mean"],
            100 * first["accuracy_" + b]["mean"], first["spectral_share_" + b]["mean"]))
    for cell in cells:
        c = summary["cells"][cell]
        print("| %s | %d | %s | %s | %s | %s | %.0f |" % (
            cell_label(cell, c["lossnet_depth"]), len(c["seeds"]), ms(cell, "psnr"), ms(cell, "ssim", digits=4),
            ms(cell, "accuracy_output", 100.0), ms(cell, "spectral_share_output", digits=4),
            c["seconds"]["mean"]))
    print("| target | - | - | - | %.2f | %.4f | - |" % (
        100 * first["accuracy_target"]["mean"], first["spectral_share_target"]["mean"]))
    print()
    for c in comps:
        print("%-12s %-16s mean %+.4f sd %.4f p %.3f holm %.3f %s" % (
            c["cell"], c["metric"], c["mean"], c["std"], c["p"], c["p_holm"],
            "beyond 2x spread" if c["beyond_2x_spread"] else ""))


if __name__ == "__main__":
    main()
