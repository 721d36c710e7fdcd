#!/usr/bin/python3
"""The "Without convolution" tables (docs/RESULTS.md, issue 21) from study records.

    scripts/mixer_table.py docs/data/study-mixer [--runs /work/runs/study-mixer] > docs/data/study-mixer/summary.md

Per network and trainable set: final test accuracy per seed, mean and spread, clamped − final,
the share of unit γ with |γ| < 0.01 after each epoch (the history's gamma_below_tau: for the
Mixer its LayerNorm units, the norm before each channel MLP; for ResNet-20 every BN), and wall
minutes. With --runs (the study's run directories), also the share of *every* γ below 0.01 in the
final stage file (the Mixer's token-mixing and final LayerNorms too), read with h5py."""
import argparse
import glob
import json
import os
import statistics

SETS = [("all", "all parameters"), ("norm", "norm only"), ("norm-output", "norm + output"),
        ("output", "output only"), ("per-channel", "k = 2 per channel")]
NETS = [("mixer", "Mixer-pico"), ("resnet20", "ResNet-20")]
RESNET_NAME = {"norm": "bn", "norm-output": "bn-output"}


def variant(net, key):
    return f"{net}-{RESNET_NAME.get(key, key) if net == 'resnet20' else key}"


def all_gamma_share(path, tau=0.01):
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        g = np.concatenate([np.abs(f["params"][k][()]).ravel() for k in f["params"] if k.endswith(".gamma")])
    return float((g < tau).mean()), g.size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("records")
    ap.add_argument("--runs")
    a = ap.parse_args()
    rows = []
    print("| network | trains | seeds | final test acc. per seed (%) | mean (%) | spread (points) | "
          "clamped − final (points) | unit \\|γ\\| < 0.01 after each epoch (%) | all γ < 0.01 at the end (%) | wall min / run |")
    print("|---|---|---:|---|---:|---:|---:|---|---:|---:|")
    for key, label in SETS:
        for net, nlabel in NETS:
            v = variant(net, key)
            recs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(a.records, v, "seed-*.json")))]
            if not recs:
                print(f"| {nlabel} | {label} | 0 | not run | | | | | | |")
                continue
            acc = [100 * r["stages"][-1]["acc_end"] for r in recs]
            clamp = [100 * (r["stages"][-1]["acc_clamped"] - r["stages"][-1]["acc_end"]) for r in recs]
            below = ["/".join(f"{100 * x:.1f}" for x in r["hist"]["gamma_below_tau"]) for r in recs]
            share = "—"
            if a.runs:
                s = []
                for r in recs:
                    p = os.path.join(a.runs, v, f"seed-{r['seed']}", r["final"])
                    if os.path.exists(p):
                        s.append(100 * all_gamma_share(p)[0])
                if s:
                    share = "/".join(f"{x:.1f}" for x in s)
            wall = statistics.mean(r["wall_minutes"] for r in recs)
            print(f"| {nlabel} | {label} | {len(recs)} | {', '.join(f'{x:.2f}' for x in acc)} | "
                  f"{statistics.mean(acc):.2f} | {max(acc) - min(acc):.2f} | "
                  f"{', '.join(f'{x:+.2f}' for x in clamp)} | {'; '.join(below)} | {share} | {wall:.1f} |")
            rows.append((nlabel, label, acc))


if __name__ == "__main__":
    main()
