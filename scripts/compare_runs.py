#!/usr/bin/python3
"""Compare staged runs stage by stage: accuracy, clamped accuracy, disabled filters, training time,
and, against the first run, how many filters changed fate and how far the parameters moved apart.

    scripts/compare_runs.py RUN_DIR RUN_DIR... [--names a,b,...] [--format markdown|csv]

Each RUN_DIR holds stage-KK.h5 files (a run's output directory). A stage is compared while every
run has it. Printed per stage and run:
    acc      test accuracy at the stage end
    clamped  the same with every |γ| < τ set to 0
    off      filters with |γ| < τ (disabled)
    minutes  wall time of the stage's epochs, evaluation included (/history/seconds)
and for every run after the first, against the first:
    flags≠   filters whose disabled flag differs
    Δparam   max over tensors of max|a − b| / max|a|, the measure of tests/tools/compare_params.py
then, per run (last, so the columns before keep their places):
    re-init  test accuracy right after the transition into the stage ("-" for stage 0)
    recal    the same after BatchNorm recalibration (pipeline.recalibrate_batches; "-" when off)
Made for docs/RESULTS.md: e.g. one process against mpirun -np 2, or two seeds, or a branch.

Before the table, a warning on stderr names what differs between the runs among the things that
decide whether two runs can be bit-identical (README "Reproducibility"): the revive commit, the
MPI rank count, the OpenBLAS kernel (core) and the OpenBLAS build (config: version and options),
over every process start recorded in each run's /provenance (a resumed run has several). A run
written before revive recorded provenance gets a warning that this cannot be checked.
"""
import os
import signal
import sys

import h5py
import numpy as np

from revive_h5 import provenance_starts, stage_file, text


def fail(msg):
    sys.stderr.write(f"compare_runs.py: {msg}\n")
    sys.exit(2)


def model_of(f):
    return {name: f["params"][name].shape for name in f["params"]}


def param_difference(a, b):
    worst, where = 0.0, ""
    for name in a["params"]:
        x, y = a["params"][name][()], b["params"][name][()]
        d = float(np.abs(x.astype(np.float64) - y).max()) / max(float(np.abs(x).max()), 1e-12)
        if d > worst:
            worst, where = d, name
    return worst, where


# Provenance attributes that decide bit-identity (docs/checkpoint-format.md, /provenance).
IDENTITY = (("commit", "commit"), ("ranks", "rank count"), ("openblas_core", "OpenBLAS core"),
            ("openblas_config", "OpenBLAS build"))


def provenance(f):
    """{attribute: sorted values over the file's process starts}, or None without /provenance."""
    starts = provenance_starts(f)
    if not starts:
        return None
    out = {}
    for key, _ in IDENTITY:
        vals = {text(v) for v in (a.get(key) for a in starts) if v is not None}
        out[key] = sorted(vals)
    return out


def identity_warnings(names, files):
    """Lines saying how the runs differ in what decides bit-identity (empty when they do not)."""
    provs = [provenance(f) for f in files]
    lines = [f"{n}: no /provenance (written by an older revive): cannot tell whether it can be "
             "bit-identical to the others" for n, p in zip(names, provs) if p is None]
    known = [(n, p) for n, p in zip(names, provs) if p is not None]
    for key, label in IDENTITY:
        values = {n: " / ".join(p[key]) or "?" for n, p in known}
        if len(set(values.values())) > 1 or any(len(p[key]) > 1 for _, p in known):
            lines.append(f"{label} differs: " + "; ".join(f"{n} {v}" for n, v in values.items()))
    return lines


def stage_row(files, k):
    key = f"stage-{k:02d}"
    first = files[0]
    row = {"stage": k, "kind": text(first["stats"][key].attrs["kind"])}
    flags0 = first["stats"][key]["disabled"][()]
    for i, f in enumerate(files):
        g = f["stats"][key]
        h = f["history"]
        sel = h["stage"][()] == k
        row[f"acc{i}"] = 100.0 * g.attrs["acc_end"]
        row[f"clamped{i}"] = 100.0 * g.attrs["acc_clamped"]
        flags = g["disabled"][()]
        row[f"off{i}"] = int(flags.sum())
        row[f"minutes{i}"] = float(h["seconds"][()][sel].sum()) / 60.0
        row[f"start{i}"] = 100.0 * g.attrs["acc_start"]
        row[f"recal{i}"] = 100.0 * g.attrs.get("acc_start_recal", -1.0)  # older files: none
        if i > 0:
            row[f"flags{i}"] = int((flags != flags0).sum())
            row[f"dparam{i}"], row[f"where{i}"] = param_difference(first, f)
    return row


def main(argv):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the output quietly
    args, names, fmt = [], None, "markdown"
    it = iter(argv[1:])
    for a in it:
        if a == "--names":
            names = next(it, "").split(",")
        elif a == "--format":
            fmt = next(it, "")
            if fmt not in ("markdown", "csv"):
                fail(f"--format '{fmt}': use markdown or csv")
        elif a.startswith("--"):
            fail(f"unknown option {a}; see the usage at the top of the script")
        else:
            args.append(a)
    if len(args) < 2:
        fail("give two or more run directories: scripts/compare_runs.py RUN_DIR RUN_DIR...")
    names = names or [os.path.basename(os.path.normpath(r)) for r in args]
    if len(names) != len(args):
        fail(f"--names has {len(names)} names for {len(args)} runs")
    for r in args:
        if not os.path.exists(stage_file(r, 0)):
            fail(f"{stage_file(r, 0)}: no such file; give a run's output directory")

    rows = []
    k = 0
    while all(os.path.exists(stage_file(r, k)) for r in args):
        try:
            files = [h5py.File(stage_file(r, k), "r") for r in args]
        except OSError as e:
            fail(f"{e}")
        for r, f in zip(args, files):
            for need in (f"stats/stage-{k:02d}/disabled", "history/seconds", "params"):
                if need not in f:
                    fail(f"{stage_file(r, k)}: no /{need}; give the output directory of a revive run")
            if k == 0 and model_of(f) != model_of(files[0]):
                fail(f"{stage_file(r, k)}: another model (parameter names or shapes) than "
                     f"{stage_file(args[0], k)}; compare runs of one model")
        if k == 0:
            for line in identity_warnings(names, files):
                sys.stderr.write(f"compare_runs.py: warning: {line}; runs can be bit-identical "
                                 "only when these agree\n")
        rows.append(stage_row(files, k))
        for f in files:
            f.close()
        k += 1

    cols = ["stage", "kind"]
    heads = ["stage", "kind"]
    for i, n in enumerate(names):
        cols += [f"acc{i}", f"clamped{i}", f"off{i}", f"minutes{i}"]
        heads += [f"acc {n}", f"clamped {n}", f"off {n}", f"minutes {n}"]
        if i > 0:
            cols += [f"flags{i}", f"dparam{i}"]
            heads += [f"flags≠ {n}", f"Δparam {n}"]
    for i, n in enumerate(names):
        cols += [f"start{i}", f"recal{i}"]
        heads += [f"re-init {n}", f"recal {n}"]

    def cell(row, c, md):
        v = row[c]
        if c.startswith(("start", "recal")):
            return "-" if v < 0 and md else "" if v < 0 else f"{v:.2f} %" if md else f"{v:.2f}"
        if c.startswith(("acc", "clamped")):
            return f"{v:.2f} %" if md else f"{v:.2f}"
        if c.startswith("minutes"):
            return f"{v:.1f}"
        if c.startswith("dparam"):
            return f"{v:.2g} ({row['where' + c[6:]]})" if md else f"{v:.6g}"
        return str(v)

    if fmt == "csv":
        print(",".join(cols))
        for r in rows:
            print(",".join(cell(r, c, False) for c in cols))
    else:
        print("| " + " | ".join(heads) + " |")
        print("|" + "---|" * len(heads))
        for r in rows:
            print("| " + " | ".join(cell(r, c, True) for c in cols) + " |")
        totals = ", ".join(f"{n} {sum(r[f'minutes{i}'] for r in rows):.1f}" for i, n in enumerate(names))
        print(f"\nTraining minutes over these {len(rows)} stages: {totals}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
