#!/usr/bin/python3
"""The switch-off table of issue 20: per finished run of one or more studies, the share of γ below
τ after each epoch, the share under the relative threshold (|γ| < τ × the unit's largest |γ|), and
the final model's test accuracy as trained, after recalibrating BatchNorm, and with every
|γ| < τ set to zero.

    scripts/switchoff_table.py STUDY.ini [STUDY.ini ...] [--pipeline P] [--recalibrate K]
                               [--json OUT.json] [--markdown OUT.md]

Reads each study's runs as study.py finds them (its --out override is the study's out_dir unless
given as STUDY.ini=DIR); a run must be finished (its final stage file present). The shares per
epoch come from the run's history, the relative share from its final file's γ (one dataset per
unit), and the accuracies from `pipeline eval FILE --recalibrate K --format json` and `pipeline
eval FILE --clamp-gamma τ --format json` (the clamped figure equals the stage's acc_clamped). The
JSON output records the pipeline binary's commit, the command and the UTC times; the markdown is
the table docs/RESULTS.md shows.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import study  # noqa: E402  (load_study, grid, help_config, config_keys)
from study_records import StudyError, marked_final  # noqa: E402


def eval_json(pipeline, path, *args):
    out = subprocess.run([pipeline, "eval", path, "--format", "json", *args], check=True,
                         capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    return json.loads(out.stdout)


def final_gamma(path):
    """{unit: |γ|} of the final stage file, and its threshold τ (the stage's)."""
    with h5py.File(path, "r") as f:
        params = f["params"]
        gam = {k[:-len(".gamma")]: np.abs(params[k][()].astype(np.float64)) for k in params if k.endswith(".gamma")}
        stages = sorted(k for k in f["stats"] if k.startswith("stage-"))
        tau = float(f["stats"][stages[-1]].attrs["threshold"])
        hist = {k: f["history"][k][()] for k in f["history"]}
    return gam, tau, hist


def run_row(pipeline, r, recal):
    path = marked_final(r)
    if not path:
        return None
    gam, tau, hist = final_gamma(path)
    allg = np.concatenate(list(gam.values()))
    rel = sum(int((g < tau * g.max()).sum()) for g in gam.values())
    plain = eval_json(pipeline, path, "--recalibrate", str(recal))
    clamped = eval_json(pipeline, path, "--clamp-gamma", repr(tau))
    return {
        "run": r["name"], "variant": r["variant"], "seed": r["seed"], "file": path, "threshold": tau,
        "filters": int(allg.size), "below_abs": int((allg < tau).sum()), "below_rel": rel,
        "epochs": [int(e) for e in hist["epoch"]],
        "gamma_below_tau": [float(x) for x in hist["gamma_below_tau"]],
        "test_acc_per_epoch": [float(x) for x in hist["test_acc"]],
        "acc": plain["accuracy"], "acc_recal": plain["recalibrated"]["accuracy"],
        "recal_batches": plain["recalibrated"]["batches"], "acc_clamped": clamped["accuracy"],
        "clamped": clamped["clamp"]["clamped"], "resolved": r["resolved"],
    }


def markdown(rows):
    most = max(len(x["gamma_below_tau"]) for x in rows)
    cols = [e for e in (1, 2, 3, 5, 10, 20, 30, 40) if e <= most]
    head = ("| run | " + " | ".join(f"ep {e}" for e in cols) + " | final: abs | rel | acc | recal | clamped | Δ clamp |")
    out = [head, "|" + "---|" * (len(cols) + 7)]
    for x in rows:
        share = []
        for e in cols:
            i = x["epochs"].index(e) if e in x["epochs"] else None
            share.append(f"{100 * x['gamma_below_tau'][i]:.1f}" if i is not None else "")
        n = x["filters"]
        out.append(f"| {x['run']} | " + " | ".join(share) +
                   f" | {100 * x['below_abs'] / n:.1f} | {100 * x['below_rel'] / n:.1f} | "
                   f"{100 * x['acc']:.2f} | {100 * x['acc_recal']:.2f} | {100 * x['acc_clamped']:.2f} | "
                   f"{100 * (x['acc_clamped'] - x['acc']):+.2f} |")
    return "\n".join(out) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("studies", nargs="+", help="STUDY.ini or STUDY.ini=OUT_DIR")
    ap.add_argument("--pipeline", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
    ap.add_argument("--recalibrate", type=int, default=20)
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    a = ap.parse_args(argv[1:])
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        known = study.config_keys(a.pipeline, study.help_config(a.pipeline))
        rows = []
        for spec in a.studies:
            path, _, out = spec.partition("=")
            s = study.load_study(path, known, out or None)
            for r in study.grid(s):
                row = run_row(a.pipeline, r, a.recalibrate)
                if row is None:
                    print(f"switchoff_table.py: {r['name']} of {path} is not finished; left out", file=sys.stderr)
                    continue
                row["study"] = path
                rows.append(row)
    except (StudyError, subprocess.CalledProcessError, OSError, KeyError) as e:
        sys.stderr.write(f"switchoff_table.py: {e}\n")
        return 2
    if not rows:
        sys.stderr.write("switchoff_table.py: no finished run\n")
        return 2
    md = markdown(rows)
    sys.stdout.write(md)
    if a.markdown:
        with open(a.markdown, "w", encoding="utf-8") as f:
            f.write(md)
    if a.json:
        meta = {"command": " ".join(argv), "started": started,
                "ended": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "pipeline": os.path.abspath(a.pipeline), "runs": rows}
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
