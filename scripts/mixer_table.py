#!/usr/bin/python3
"""The "Without convolution" tables (docs/RESULTS.md, issue 21) from study result records.

    scripts/mixer_table.py docs/data/study-mixer-long [--runs /work/runs/study-mixer-long] \\
        [--plot docs/figures/mixer-vs-resnet20.png] > docs/data/study-mixer-long/summary.md

RECORDS is a study's results_dir (scripts/study.py): VARIANT/seed-S.json, the variants named
NET-SET (mixer-norm, resnet20-bn, ...). Prints two markdown tables:

1. per network and trainable set: final test accuracy per seed, mean ± sd, clamped − final, the
   share of unit γ with |γ| < 0.01 after the first and the last epoch and its largest over
   training (the history's gamma_below_tau: for the Mixer its LayerNorm units, the norm before
   each channel MLP; for ResNet-20 every BN), and minutes (wall, else the epochs' time, which
   counts a session cut's pause). With --runs (the study's run directories), also the share of
   *every* γ below 0.01 in the final stage file (the Mixer's token-mixing and final LayerNorms
   too), read with h5py. The shares are kept in RECORDS/all-gamma.csv (variant, seed, percent):
   a run whose stage file is gone (a session's machine that did not survive) keeps the share
   measured while it was there; --runs adds or updates the rows of the runs it finds.
2. Mixer − ResNet-20 per trainable set, paired by seed (the seeds both finished), with two-sided
   95 % t-intervals Bonferroni-corrected for the sets compared (study_report.paired, as the
   study reports compute theirs); a difference is a finding only where the interval excludes 0.

With --plot PNG, also a figure of the first table: per trainable set, a bar for each network at
its mean final test accuracy, each seed a dot on it.
"""
import argparse
import glob
import json
import os
import signal
import sys

from study_report import mean_std, paired

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


GAMMA_CSV = "all-gamma.csv"


def read_gamma_csv(path):
    """{(variant, seed): percent} from RECORDS/all-gamma.csv ({} when there is none)."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if n == 1 or not line.strip():
                continue
            try:
                v, seed, pct = line.strip().split(",")
                out[(v, int(seed))] = float(pct)
            except ValueError:
                sys.exit(f"mixer_table.py: {path}:{n}: not 'variant,seed,percent'; fix the line or delete the file and give --runs")
    return out


def write_gamma_csv(path, shares):
    with open(path, "w") as f:
        f.write("variant,seed,all_gamma_below_0.01_percent\n")
        for (v, seed), pct in sorted(shares.items()):
            f.write(f"{v},{seed},{pct:.2f}\n")


def load(records, v):
    out = []
    for p in sorted(glob.glob(os.path.join(records, v, "seed-*.json"))):
        try:
            r = json.load(open(p))
            _ = (r["seed"], r["final"], r["stages"][-1]["acc_end"], r["stages"][-1]["acc_clamped"], r["hist"])
        except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
            sys.exit(f"mixer_table.py: {p}: not a study result record ({e}); rewrite it with scripts/study.py --record")
        out.append(r)
    return sorted(out, key=lambda r: r["seed"])


def minutes(r):
    if r.get("wall_minutes") is not None:
        return r["wall_minutes"], ""
    return sum(r["hist"].get("seconds", [])) / 60, "*"


def fmt_ms(v):
    m, s, n = mean_std(v)
    return f"{m:.2f}" + (f" ± {s:.2f}" if n > 1 else "")


def plot(cells, path):
    """Grouped bars: per trainable set, each network's mean final test accuracy, its seeds as dots."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=120)
    width = 0.38
    for j, (net, nlabel) in enumerate(NETS):
        for i, (key, _) in enumerate(SETS):
            acc = [100 * r["stages"][-1]["acc_end"] for r in cells[(net, key)]]
            if not acc:
                continue
            x = i + (j - 0.5) * width
            ax.bar(x, mean_std(acc)[0], width * 0.92, color=f"C{j}", label=nlabel if i == 0 else None)
            ax.plot([x] * len(acc), acc, "o", color="black", markersize=3)
            ax.text(x, max(acc) + 1.5, f"{mean_std(acc)[0]:.1f}", ha="center", fontsize=7)
    ax.set_xticks(range(len(SETS)), [label for _, label in SETS], fontsize=8)
    ax.set_ylabel("final test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Fashion-MNIST, 10 epochs: bars the mean, dots the seeds", fontsize=9)
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as e:
        sys.exit(f"mixer_table.py: --plot {path}: cannot write it ({e.strerror}); give a writable path")


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("records")
    ap.add_argument("--runs")
    ap.add_argument("--plot", metavar="PNG")
    a = ap.parse_args()
    if not os.path.isdir(a.records):
        sys.exit(f"mixer_table.py: {a.records}: no such directory; give a study's results_dir")
    cells = {(net, key): load(a.records, variant(net, key)) for key, _ in SETS for net, _ in NETS}
    if a.plot:
        plot(cells, a.plot)
    print("| network | trains | seeds | final test acc. per seed (%) | mean ± sd (%) | clamped − final (points) | "
          "unit \\|γ\\| < 0.01, epoch 1 → last (largest) (%) | all γ < 0.01 at the end (%) | minutes / run |")
    print("|---|---|---|---|---:|---|---|---:|---:|")
    starred = False
    gamma_csv = os.path.join(a.records, GAMMA_CSV)
    shares, computed = read_gamma_csv(gamma_csv), False
    for key, label in SETS:
        for net, nlabel in NETS:
            recs = cells[(net, key)]
            if not recs:
                print(f"| {nlabel} | {label} | — | no record yet | | | | | |")
                continue
            acc = [100 * r["stages"][-1]["acc_end"] for r in recs]
            clamp = [100 * (r["stages"][-1]["acc_clamped"] - r["stages"][-1]["acc_end"]) for r in recs]
            below = []
            for r in recs:
                g = [100 * x for x in r["hist"].get("gamma_below_tau", [])]
                below.append(f"{g[0]:.1f} → {g[-1]:.1f} ({max(g):.1f})" if g else "—")
            v = variant(net, key)
            for r in recs:
                path = os.path.join(a.runs, v, f"seed-{r['seed']}", r["final"]) if a.runs else ""
                if path and os.path.exists(path):
                    shares[(v, r["seed"])] = 100 * all_gamma_share(path)[0]
                    computed = True
            known = [(v, r["seed"]) in shares for r in recs]
            share = "/".join(f"{shares[(v, r['seed'])]:.1f}" if k else "—" for r, k in zip(recs, known)) if any(known) else "—"
            mins = [minutes(r) for r in recs]
            starred |= any(m[1] for m in mins)
            print(f"| {nlabel} | {label} | {', '.join(str(r['seed']) for r in recs)} | "
                  f"{', '.join(f'{x:.2f}' for x in acc)} | {fmt_ms(acc)} | "
                  f"{', '.join(f'{x:+.2f}' for x in clamp)} | {'; '.join(below)} | {share} | "
                  f"{', '.join(f'{m:.0f}{star}' for m, star in mins)} |")
    if computed:
        write_gamma_csv(gamma_csv, shares)
    if starred:
        print("\n\\* no wall time recorded (the run was cut at a session's end and resumed): the time in "
              "its epochs, which counts the pause of a cut.")
    pairs = [(key, label) for key, label in SETS
             if len({r["seed"] for r in cells[("mixer", key)]} & {r["seed"] for r in cells[("resnet20", key)]}) > 1]
    print(f"\nMixer-pico − ResNet-20, final test accuracy (points), paired by seed; two-sided 95 % t-intervals "
          f"Bonferroni-corrected for {len(pairs)} comparison{'' if len(pairs) == 1 else 's'} (one a trainable "
          f"set; sets with fewer than 2 shared seeds are left out). A finding only where the interval "
          f"excludes 0.\n")
    print("| trains | seeds | Δ per seed | mean Δ ± sd | corrected 95 % interval | finding |")
    print("|---|---|---|---:|---:|---|")
    for key, label in pairs:
        p = paired(cells[("resnet20", key)], cells[("mixer", key)], len(pairs))
        print(f"| {label} | {', '.join(str(s) for s in p['seeds'])} | {', '.join(f'{x:+.2f}' for x in p['diffs'])} | "
              f"{p['mean']:+.2f} ± {p['std']:.2f} | [{p['lo']:+.2f}, {p['hi']:+.2f}] | "
              f"{'yes' if p['finding'] else 'no'} |")


if __name__ == "__main__":
    main()
