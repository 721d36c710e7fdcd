#!/usr/bin/python3
"""Paired differences between cells of an experiment's runs.csv, Holm-corrected over the pairs and
metrics asked for: a secondary family of comparisons beside the one the report made.

    scripts/paired_cells.py RUNS.csv A:B [A:B ...] [--metrics ssim,accuracy_output,psnr]

RUNS.csv has a row per run with the columns cell and seed and one column per metric (as
scripts/superres_report.py writes it). For every A:B and metric: the differences A − B over the
seeds both cells have, their mean and sample std, a paired t-test's p-value and its Holm-corrected
value over all the comparisons printed. Prints JSON (a list, one object per comparison) on stdout.
Made for docs/RESULTS.md's issue-22 section: the loss network's family (VGG against ResNet) at the
same init, random against trained.
"""
import csv
import json
import sys

import numpy as np
from scipy import stats

from superres_report import holm


def usage(msg):
    sys.exit("paired_cells.py: %s (usage: paired_cells.py RUNS.csv A:B [A:B ...] "
             "[--metrics m1,m2])" % msg)


def main(argv):
    metrics = ["ssim", "accuracy_output", "psnr"]
    args = []
    it = iter(argv)
    for a in it:
        if a == "--metrics":
            metrics = next(it, "").split(",")
            if not all(metrics):
                usage("--metrics needs a comma-separated list of runs.csv columns")
        else:
            args.append(a)
    if len(args) < 2:
        usage("a runs.csv and at least one pair A:B are needed")
    path, pairs = args[0], args[1:]
    try:
        rows = list(csv.DictReader(open(path)))
    except OSError as e:
        usage("%s: %s" % (path, e.strerror))
    by = {}
    for r in rows:
        by.setdefault(r["cell"], {})[int(r["seed"])] = r
    comps = []
    for pair in pairs:
        a, sep, b = pair.partition(":")
        if not sep or a not in by or b not in by:
            usage("%s: pair '%s' must be A:B with both cells in the file (cells: %s)"
                  % (path, pair, ", ".join(sorted(by))))
        seeds = sorted(set(by[a]) & set(by[b]))
        if len(seeds) < 2:
            usage("%s: %s and %s share %d seeds; a paired test needs 2" % (path, a, b, len(seeds)))
        for k in metrics:
            if k not in rows[0]:
                usage("%s: no column '%s'" % (path, k))
            x = np.array([float(by[a][s][k]) for s in seeds])
            y = np.array([float(by[b][s][k]) for s in seeds])
            d = x - y
            comps.append({"cell": a, "vs": b, "metric": k, "seeds": seeds,
                          "differences": d.tolist(), "mean": float(d.mean()),
                          "std": float(d.std(ddof=1)), "p": float(stats.ttest_rel(x, y).pvalue),
                          "beyond_2x_spread": bool(abs(d.mean()) > 2 * d.std(ddof=1))})
    for c, p in zip(comps, holm([c["p"] for c in comps])):
        c["p_holm"] = p
        c["holm_over"] = len(comps)
    json.dump(comps, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
